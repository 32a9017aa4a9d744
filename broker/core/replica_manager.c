/*
 * broker/core/replica_manager.c — applies the controller's requests
 * to this broker and talks back to the controller (see replica_manager.h).
 *
 * LeaderAndIsr: for each partition, make sure the topic is known locally
 * (loading its assignment and configs from ZooKeeper and opening the local
 * log if it is new), apply the state (partition_apply_state), and start or
 * stop its fetcher. UpdateMetadata: build a new metadata-cache snapshot and
 * the live-broker list; topics it no longer has were deleted, and the group
 * coordinator removes the groups' offsets of them. StopReplica: stop
 * fetchers; with delete, drop the topic's local replicas (their directories
 * go when the last reference does) for a topic ZooKeeper shows being
 * deleted or gone, or one partition's replica when ZooKeeper's replicas of
 * it no longer name this broker (a reassignment moved it away).
 * All three are applied only from the controller ZooKeeper names
 * (controller_watch.c) and for this broker's current epoch.
 * ISR: every RM_ISR_CHECK_MS the leader partitions are asked whether their
 * ISR should shrink or expand (partition_isr_proposal); proposals go to
 * the controller in one AlterIsr request, its answers are applied with
 * partition_isr_result.
 * Loop-owned: the admin worker; the main thread polls the controlled
 * shutdown answer under rm->lock.
 */
#include "broker/core/replica_manager.h"
#include "broker/core/admin.h"
#include "broker/core/controller_watch.h"
#include "broker/core/group_runtime.h"
#include "broker/core/txn_runtime.h"
#include "broker/core/metadata_cache.h"
#include "common/loop/worker.h"
#include "broker/replication/fetcher.h"
#include "broker/core/broker.h"
#include "broker/replication/topics.h"
#include "controller/channel.h"
#include "controller/rpc.h"
#include "controller/zk/zk_store.h"
#include "common/base.h"
#include "common/clock.h"
#include "common/say.h"

#include <event2/event.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RM_ISR_CHECK_MS 250
/* one ControlledShutdown attempt: short, so that a controller change (the
 * cache names the new one) is followed quickly */
#define RM_CS_ATTEMPT_MS 3000

struct replica_manager {
    struct event *isr_ev;
    struct channel *ctrl_ch; /* to the active controller, or NULL */
    int32_t ctrl_ch_id;
    pthread_mutex_t lock; /* guards cs_* (controlled shutdown) */
    int cs_state;         /* 0 waiting, 1 done, -1 failed */
    int cs_remaining;
    int cs_remaining_movable; /* remaining partitions with an ISR > 1 */
    _Atomic bool cs_abort;    /* a second signal: stop waiting */
    _Atomic bool stopped;     /* rm_stop() ran on the admin worker: refuse requests */
};

/* --- fencing ------------------------------------------------------------ */

/* A control request is applied only when it comes from the controller
 * ZooKeeper names, at the epoch it names (controller_watch.c), and is meant
 * for this incarnation of this broker. */
static kerr_t fence(struct broker *b, int32_t ctrl_id, int32_t ctrl_epoch, int64_t broker_epoch)
{
    struct replica_manager *rm = b->rm;
    if (rm->stopped)
        return KERR_BROKER_NOT_AVAILABLE; /* shutting down: fetchers are gone */
    kerr_t rc = controller_watch_check(b, ctrl_id, ctrl_epoch);
    if (rc != KERR_NONE)
        return rc;
    /* a controller can reach us between the registration znode's creation
     * and zk_store_register_broker() returning its czxid: wait briefly */
    for (int i = 0; i < 50 && __atomic_load_n(&b->broker_epoch, __ATOMIC_ACQUIRE) == 0; i++)
        usleep(10 * 1000);
    if (broker_epoch != __atomic_load_n(&b->broker_epoch, __ATOMIC_ACQUIRE))
        return KERR_STALE_BROKER_EPOCH; /* meant for another incarnation of this broker */
    return KERR_NONE;
}

/* --- LeaderAndIsr ------------------------------------------------------- */

static const struct rpc_live_leader *find_leader(const struct rpc_leader_and_isr_req *m, int32_t id)
{
    for (int i = 0; i < m->n_live_leaders; i++)
        if (m->live_leaders[i].id == id)
            return &m->live_leaders[i];
    return NULL;
}

static bool names_self(const struct rpc_partition_state *ps, int32_t self)
{
    for (int i = 0; i < ps->n_replicas; i++)
        if (ps->replicas[i] == self)
            return true;
    return false;
}

/* ISR shrinks and expands of partitions this broker leads (/metrics). */
static void count_isr_change(struct broker *b, int delta)
{
    if (delta < 0)
        metrics_add(&b->metrics.isr_shrinks, 1);
    else if (delta > 0)
        metrics_add(&b->metrics.isr_expands, 1);
}

static kerr_t apply_one(struct broker *b, const struct rpc_leader_and_isr_req *m,
                        const struct rpc_partition_state *ps)
{
    struct topic *t = topics_get(b->topics, ps->topic, strlen(ps->topic));
    if (!t || ps->partition >= t->n_parts) { /* new topic, or new partitions */
        topic_unref(t);
        t = admin_ensure_partitions(b, ps->topic, ps->partition + 1);
    }
    if (!t)
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    kerr_t rc = KERR_NONE;
    if (ps->partition >= 0 && ps->partition < t->n_parts && !topic_part(t, ps->partition)->log &&
        names_self(ps, b->id)) { /* a new replica (reassignment): its log starts empty */
        char msg[256];
        rc = partition_make_local(topic_part(t, ps->partition), msg, sizeof(msg));
        if (rc != KERR_NONE) {
            say_error("replica", "cannot create replica topic=%s partition=%d reason=\"%s\"",
                      ps->topic, ps->partition, msg);
            goto out;
        }
        say_info("replica", "replica created topic=%s partition=%d", ps->topic, ps->partition);
    }
    if (ps->partition < 0 || ps->partition >= t->n_parts || !topic_part(t, ps->partition)->log) {
        rc = KERR_UNKNOWN_TOPIC_OR_PARTITION; /* not a local replica */
        goto out;
    }
    struct partition *part = topic_part(t, ps->partition);
    struct partition_state st = {.leader = ps->leader,
                                 .leader_epoch = ps->leader_epoch,
                                 .partition_epoch = ps->partition_epoch,
                                 .n_isr = ps->n_isr,
                                 .isr = ps->isr,
                                 .n_replicas = ps->n_replicas,
                                 .replicas = ps->replicas};
    bool changed = false, was_leader;
    int old_isr = partition_isr_view(part, &was_leader);
    rc = partition_apply_state(part, b->id, &st, clock_mono_ms(), &changed);
    if (rc != KERR_NONE)
        goto out;
    /* Both ISR writers (this and isr_apply()) run on the admin worker, so
     * the ISR read before and after changed only here. */
    KASSERT(worker_is_current(b->admin));
    bool is_leader;
    int new_isr = partition_isr_view(part, &is_leader);
    if (!was_leader && is_leader)
        metrics_add(&b->metrics.leader_elections, 1);
    else if (was_leader && is_leader) /* the controller changed our ISR (a dead follower) */
        count_isr_change(b, new_isr - old_isr);
    if (changed)
        say_info("replica",
                 "partition state topic=%s partition=%d role=%s leader=%d epoch=%d "
                 "isr_size=%d",
                 ps->topic, ps->partition,
                 ps->leader == b->id ? "leader"
                 : ps->leader < 0    ? "offline"
                                     : "follower",
                 ps->leader, ps->leader_epoch, ps->n_isr);
    if (changed && b->groups && t->internal && strcmp(ps->topic, TOPIC_CONSUMER_OFFSETS) == 0)
        group_runtime_partition_changed(b->groups, ps->partition);
    if (changed && b->txns && t->internal && strcmp(ps->topic, TOPIC_TRANSACTION_STATE) == 0)
        txn_runtime_partition_changed(b->txns, ps->partition);
    const struct rpc_live_leader *ll = find_leader(m, ps->leader);
    if (ps->leader == b->id || ps->leader < 0 || !ll)
        fetchers_remove(b->fetchers, ps->topic, ps->partition);
    else
        fetchers_add(b->fetchers, t, ps->partition, ps->leader, ll->host, ll->port,
                     ps->leader_epoch);
out:
    topic_unref(t);
    return rc;
}

void rm_leader_and_isr(struct broker *b, const uint8_t *body, size_t len, struct kbuf *out)
{
    KASSERT(worker_is_current(b->admin));
    struct rpc_leader_and_isr_req m;
    struct rpc_leader_and_isr_resp r = {0};
    struct rpc_partition_error *errs = NULL;
    if (rpc_leader_and_isr_req_decode(body, len, &m) != KERR_NONE) {
        r.error_code = KERR_INVALID_REQUEST;
        goto reply;
    }
    r.error_code = (int16_t)fence(b, m.controller_id, m.controller_epoch, m.broker_epoch);
    if (r.error_code != KERR_NONE)
        goto reply;
    errs = calloc((size_t)(m.n_partitions ? m.n_partitions : 1), sizeof(*errs));
    for (int i = 0; i < m.n_partitions; i++) {
        kerr_t rc = apply_one(b, &m, &m.partitions[i]);
        if (rc != KERR_NONE && errs)
            errs[r.n_partition_errors++] = (struct rpc_partition_error){
                m.partitions[i].topic, m.partitions[i].partition, (int16_t)rc};
    }
    r.partition_errors = errs;
reply:
    (void)rpc_leader_and_isr_resp_encode(&r, out);
    free(errs);
    rpc_leader_and_isr_req_destroy(&m);
}

/* --- UpdateMetadata ----------------------------------------------------- */

static int cmp_ps_topic(const void *a, const void *b)
{
    const struct rpc_partition_state *x = *(const struct rpc_partition_state *const *)a;
    const struct rpc_partition_state *y = *(const struct rpc_partition_state *const *)b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

static bool fill_brokers(struct mc_snapshot *s, const struct rpc_update_metadata_req *m)
{
    s->brokers = calloc((size_t)(m->n_brokers ? m->n_brokers : 1), sizeof(*s->brokers));
    if (!s->brokers)
        return false;
    for (int i = 0; i < m->n_brokers; i++) {
        const struct rpc_live_broker *lb = &m->brokers[i];
        struct broker_info *bi = &s->brokers[s->n_brokers++];
        bi->id = lb->id;
        snprintf(bi->rack, sizeof(bi->rack), "%s", lb->rack ? lb->rack : "");
        bi->n_endpoints = MIN(lb->n_endpoints, CONFIG_MAX_LISTENERS);
        for (int e = 0; e < bi->n_endpoints; e++) {
            snprintf(bi->ep[e].listener, sizeof(bi->ep[e].listener), "%s",
                     lb->endpoints[e].listener);
            snprintf(bi->ep[e].host, sizeof(bi->ep[e].host), "%s", lb->endpoints[e].host);
            bi->ep[e].port = lb->endpoints[e].port;
        }
    }
    return true;
}

static void fill_partition(struct mc_partition *mp, const struct rpc_partition_state *ps)
{
    mp->leader = ps->leader;
    mp->leader_epoch = ps->leader_epoch;
    mp->n_replicas = MIN(ps->n_replicas, MC_MAX_REPLICAS);
    memcpy(mp->replicas, ps->replicas, sizeof(int32_t) * (size_t)mp->n_replicas);
    mp->n_isr = MIN(ps->n_isr, MC_MAX_REPLICAS);
    memcpy(mp->isr, ps->isr, sizeof(int32_t) * (size_t)mp->n_isr);
}

/* Groups the partitions by topic (sorted copy of pointers). */
static bool fill_topics(struct mc_snapshot *s, const struct rpc_update_metadata_req *m)
{
    int n = m->n_partitions;
    const struct rpc_partition_state **v = calloc((size_t)(n ? n : 1), sizeof(*v));
    s->topics = calloc((size_t)(n ? n : 1), sizeof(*s->topics));
    if (!v || !s->topics) {
        free(v);
        return false;
    }
    for (int i = 0; i < n; i++)
        v[i] = &m->partitions[i];
    qsort(v, (size_t)n, sizeof(*v), cmp_ps_topic);
    for (int i = 0; i < n;) {
        int j = i;
        int32_t max_p = -1;
        for (; j < n && strcmp(v[j]->topic, v[i]->topic) == 0; j++)
            max_p = MAX(max_p, v[j]->partition);
        struct mc_topic *t = &s->topics[s->n_topics];
        snprintf(t->name, sizeof(t->name), "%s", v[i]->topic);
        t->parts = calloc((size_t)(max_p + 1 > 0 ? max_p + 1 : 1), sizeof(*t->parts));
        if (!t->parts) {
            free(v);
            return false;
        }
        t->n_parts = max_p + 1;
        s->n_topics++;
        for (int p = 0; p < t->n_parts; p++)
            t->parts[p].leader = -1;
        for (int k = i; k < j; k++)
            if (v[k]->partition >= 0)
                fill_partition(&t->parts[v[k]->partition], v[k]);
        i = j;
    }
    free(v);
    return true;
}

static void set_live(struct broker *b, const struct mc_snapshot *s)
{
    struct broker_info *live = calloc((size_t)(s->n_brokers ? s->n_brokers : 1), sizeof(*live));
    if (!live)
        return;
    memcpy(live, s->brokers, sizeof(*live) * (size_t)s->n_brokers);
    pthread_mutex_lock(&b->brokers_lock);
    free(b->live);
    b->live = live;
    b->n_live = s->n_brokers;
    pthread_mutex_unlock(&b->brokers_lock);
}

static bool has_local_replica(const struct topic *t)
{
    for (int32_t p = 0; p < t->n_parts; p++)
        if (topic_part(t, p)->log)
            return true;
    return false;
}

/* Every broker knows every topic (configs, partition count) even where it
 * holds no replica: load the new ones; forget those gone from the cluster
 * (a replica's files are removed by StopReplica, which the controller sends
 * before the metadata that drops the topic). UpdateMetadata is complete. */
static void reconcile_topics(struct broker *b, const struct mc_snapshot *s)
{
    for (int i = 0; i < s->n_topics; i++) {
        struct topic *t = admin_ensure_partitions(b, s->topics[i].name, s->topics[i].n_parts);
        topic_unref(t);
    }
    int n;
    struct topic **list = topics_list(b->topics, &n);
    for (int i = 0; list && i < n; i++)
        if (!mc_find_topic(s, list[i]->name, strlen(list[i]->name)) && !has_local_replica(list[i]))
            topic_unref(topics_remove(b->topics, list[i]->name));
    topics_list_free(list, n);
}

/* Tells the group coordinator about the topics of old that s no longer
 * has: deleted (UpdateMetadata is complete), so groups' offsets of them go,
 * as Kafka's handleDeletedPartitions does on UpdateMetadata. */
static void report_deleted_topics(struct broker *b, const struct mc_snapshot *old,
                                  const struct mc_snapshot *s)
{
    if (!b->groups || !old)
        return;
    const char **names = calloc((size_t)(old->n_topics ? old->n_topics : 1), sizeof(*names));
    size_t n = 0;
    for (int i = 0; names && i < old->n_topics; i++)
        if (!mc_find_topic(s, old->topics[i].name, strlen(old->topics[i].name)))
            names[n++] = old->topics[i].name;
    if (n > 0)
        group_runtime_topics_deleted(b->groups, names, n);
    free(names);
}

void rm_update_metadata(struct broker *b, const uint8_t *body, size_t len, struct kbuf *out)
{
    KASSERT(worker_is_current(b->admin));
    struct rpc_update_metadata_req m;
    struct rpc_update_metadata_resp r = {0};
    if (rpc_update_metadata_req_decode(body, len, &m) != KERR_NONE) {
        r.error_code = KERR_INVALID_REQUEST;
        goto reply;
    }
    r.error_code = (int16_t)fence(b, m.controller_id, m.controller_epoch, m.broker_epoch);
    if (r.error_code != KERR_NONE)
        goto reply;
    struct mc_snapshot *s = mc_snapshot_new();
    if (!s || !fill_brokers(s, &m) || !fill_topics(s, &m)) {
        if (s)
            mc_put(s);
        r.error_code = KERR_UNKNOWN_SERVER_ERROR;
        goto reply;
    }
    s->controller_id = m.controller_id;
    s->controller_epoch = m.controller_epoch;
    mc_snapshot_sort(s);
    set_live(b, s);
    mc_snapshot_ref(s);
    struct mc_snapshot *old = mc_get(b->mc);
    if (mc_set(b->mc, s)) {
        report_deleted_topics(b, old, s);
        reconcile_topics(b, s);
        broker_controller_heard(b); /* LeaderAndIsr comes first on the same channel */
    } else {
        r.error_code = KERR_STALE_CONTROLLER_EPOCH;
    }
    mc_put(old);
    mc_put(s);
reply:
    (void)rpc_update_metadata_resp_encode(&r, out);
    rpc_update_metadata_req_destroy(&m);
}

/* --- StopReplica -------------------------------------------------------- */

/* What StopReplica with delete may do with this broker's replica of
 * topic's partition p. The controller deletes replicas for a topic
 * deletion, which writes /admin/delete_topics/<topic>, sends StopReplica,
 * then removes the topic's znodes and last the marker (controller.c), and
 * for a reassignment, after writing the partition's new replica set
 * without this broker (ctrl_reassign.c). So: DROP_TOPIC (every local
 * replica of the topic) while the marker exists or once the topic is gone
 * from ZooKeeper; DROP_PARTITION when ZooKeeper's replicas of p do not
 * name this broker; otherwise KERR_INVALID_REQUEST. The marker is read
 * first: a marker gone by then means the topic's znodes were gone before.
 * ZooKeeper unreadable: KERR_UNKNOWN_SERVER_ERROR (nothing deleted).
 * Admin worker. */
enum { DROP_TOPIC = 1, DROP_PARTITION = 2 };
static kerr_t delete_allowed(struct broker *b, const char *topic, int32_t p, int *how)
{
    char **names = NULL;
    int n = 0;
    if (zk_store_delete_requests_list(b->zk, &names, &n) != KERR_NONE)
        return KERR_UNKNOWN_SERVER_ERROR;
    bool marked = false;
    for (int i = 0; i < n && !marked; i++)
        marked = strcmp(names[i], topic) == 0;
    zk_names_free(names, n);
    *how = DROP_TOPIC;
    if (marked)
        return KERR_NONE;
    struct zk_topic zt;
    kerr_t rc = zk_store_topic_get(b->zk, topic, &zt);
    if (rc == KERR_UNKNOWN_TOPIC_OR_PARTITION || rc == KERR__NOENT)
        return KERR_NONE;
    if (rc != KERR_NONE)
        return rc == KERR__ZK ? KERR_UNKNOWN_SERVER_ERROR : KERR_INVALID_REQUEST;
    bool assigned = false;
    for (int r = 0; p >= 0 && p < zt.n_partitions && r < zt.replication_factor && !assigned; r++)
        assigned = zt.replicas[p * zt.replication_factor + r] == b->id;
    zk_topic_destroy(&zt);
    *how = DROP_PARTITION;
    return assigned ? KERR_INVALID_REQUEST : KERR_NONE;
}

/* Drops this broker's replica of topic's partition p (reassigned away). */
static void drop_local_partition(struct broker *b, const char *topic, int32_t p)
{
    struct topic *t = topics_get(b->topics, topic, strlen(topic));
    if (t && p >= 0 && p < t->n_parts) {
        if (partition_drop_local(topic_part(t, p)))
            say_info("replica", "replica deleted topic=%s partition=%d", topic, p);
        else
            say_warn("replica",
                     "replica of a compacted topic kept until the topic goes "
                     "topic=%s partition=%d",
                     topic, p);
    }
    topic_unref(t);
}

/* The index of the first partition of m naming the same topic as i. */
static int first_of_topic(const struct rpc_stop_replica_req *m, int i)
{
    for (int k = 0; k < i; k++)
        if (strcmp(m->partitions[k].topic, m->partitions[i].topic) == 0)
            return k;
    return i;
}

void rm_stop_replica(struct broker *b, const uint8_t *body, size_t len, struct kbuf *out)
{
    KASSERT(worker_is_current(b->admin));
    struct rpc_stop_replica_req m;
    struct rpc_stop_replica_resp r = {0};
    struct rpc_partition_error *errs = NULL;
    kerr_t *verdict = NULL;
    int *how = NULL;
    if (rpc_stop_replica_req_decode(body, len, &m) != KERR_NONE) {
        r.error_code = KERR_INVALID_REQUEST;
        goto reply;
    }
    r.error_code = (int16_t)fence(b, m.controller_id, m.controller_epoch, m.broker_epoch);
    if (r.error_code != KERR_NONE)
        goto reply;
    size_t cap = (size_t)(m.n_partitions ? m.n_partitions : 1);
    errs = calloc(cap, sizeof(*errs));
    verdict = calloc(cap, sizeof(*verdict));
    how = calloc(cap, sizeof(*how));
    if (!errs || !verdict || !how) {
        r.error_code = KERR_UNKNOWN_SERVER_ERROR;
        goto reply;
    }
    for (int i = 0; m.delete_partitions && i < m.n_partitions; i++) {
        verdict[i] = delete_allowed(b, m.partitions[i].topic, m.partitions[i].partition, &how[i]);
        if (verdict[i] != KERR_NONE)
            say_warn("replica", "StopReplica delete refused topic=%s err=%s reason=%s",
                     m.partitions[i].topic, kerr_name(verdict[i]),
                     verdict[i] == KERR_INVALID_REQUEST ? "not_being_deleted"
                                                        : "zookeeper_unreadable");
    }
    for (int i = 0; i < m.n_partitions; i++) {
        if (verdict[i] != KERR_NONE) /* left as it is, fetcher included */
            errs[r.n_partition_errors++] = (struct rpc_partition_error){
                m.partitions[i].topic, m.partitions[i].partition, (int16_t)verdict[i]};
        else
            fetchers_remove(b->fetchers, m.partitions[i].topic, m.partitions[i].partition);
        if (b->groups && strcmp(m.partitions[i].topic, TOPIC_CONSUMER_OFFSETS) == 0)
            group_runtime_partition_changed(b->groups, m.partitions[i].partition);
        if (b->txns && strcmp(m.partitions[i].topic, TOPIC_TRANSACTION_STATE) == 0)
            txn_runtime_partition_changed(b->txns, m.partitions[i].partition);
    }
    for (int i = 0; m.delete_partitions && i < m.n_partitions; i++) {
        if (verdict[i] != KERR_NONE)
            continue;
        if (how[i] == DROP_TOPIC && first_of_topic(&m, i) == i)
            admin_drop_local_topic(b, m.partitions[i].topic);
        else if (how[i] == DROP_PARTITION)
            drop_local_partition(b, m.partitions[i].topic, m.partitions[i].partition);
    }
    r.partition_errors = errs;
reply:
    (void)rpc_stop_replica_resp_encode(&r, out);
    free(errs);
    free(verdict);
    free(how);
    rpc_stop_replica_req_destroy(&m);
}

/* --- the channel to the controller -------------------------------------- */

/* Points rm->ctrl_ch at the active controller of the cache; NULL if none. */
static struct channel *controller_channel(struct broker *b)
{
    KASSERT(worker_is_current(b->admin));
    struct replica_manager *rm = b->rm;
    struct mc_snapshot *s = mc_get(b->mc);
    const char *lname = b->cfg->listener[b->cfg->inter_broker_listener].name;
    const struct broker_endpoint *ep = NULL;
    for (int i = 0; i < s->n_brokers && !ep; i++) {
        if (s->brokers[i].id != s->controller_id)
            continue;
        for (int e = 0; e < s->brokers[i].n_endpoints && !ep; e++)
            if (strcmp(s->brokers[i].ep[e].listener, lname) == 0)
                ep = &s->brokers[i].ep[e];
        if (!ep && s->brokers[i].n_endpoints > 0)
            ep = &s->brokers[i].ep[0];
    }
    if (rm->ctrl_ch && rm->ctrl_ch_id != s->controller_id) {
        channel_free(rm->ctrl_ch); /* callbacks see KERR__CLOSE */
        rm->ctrl_ch = NULL;
    }
    if (!rm->ctrl_ch && ep) {
        rm->ctrl_ch = channel_new(worker_base(b->admin), s->controller_id, ep->host, ep->port);
        rm->ctrl_ch_id = s->controller_id;
    } else if (rm->ctrl_ch && ep) {
        channel_set_endpoint(rm->ctrl_ch, ep->host, ep->port);
    }
    mc_put(s);
    return rm->ctrl_ch;
}

/* --- AlterIsr ----------------------------------------------------------- */

struct isr_batch {
    struct broker *b;
    int n;
    struct rpc_isr_proposal *props;
    char (*names)[TOPIC_NAME_MAX_LEN + 1];
    int32_t (*isrs)[PARTITION_MAX_REPLICAS];
};

static void isr_batch_free(struct isr_batch *ib)
{
    free(ib->props);
    free(ib->names);
    free(ib->isrs);
    free(ib);
}

static void isr_apply(struct broker *b, const char *topic, int32_t p, kerr_t err,
                      int32_t leader_epoch, const int32_t *isr, int n_isr, int32_t pe)
{
    struct topic *t = topics_get(b->topics, topic, strlen(topic));
    if (t && p >= 0 && p < t->n_parts)
        count_isr_change(b,
                         partition_isr_result(topic_part(t, p), err, leader_epoch, isr, n_isr, pe));
    topic_unref(t);
}

static void isr_reply_cb(void *arg, kerr_t err, const uint8_t *body, size_t len)
{
    struct isr_batch *ib = arg;
    KASSERT(worker_is_current(ib->b->admin));
    struct rpc_alter_isr_resp r = {0};
    if (err == KERR_NONE && rpc_alter_isr_resp_decode(body, len, &r) != KERR_NONE)
        err = KERR__CORRUPT;
    if (err == KERR_NONE && r.error_code != KERR_NONE) {
        say_debug("replica", "AlterIsr refused err=%s", kerr_name(r.error_code));
        err = r.error_code;
    }
    for (int i = 0; i < ib->n; i++) {
        const struct rpc_isr_proposal *pp = &ib->props[i];
        const struct rpc_isr_result *res = NULL;
        for (int k = 0; err == KERR_NONE && k < r.n_partitions && !res; k++)
            if (r.partitions[k].partition == pp->partition &&
                strcmp(r.partitions[k].topic, pp->topic) == 0)
                res = &r.partitions[k];
        if (res)
            isr_apply(ib->b, pp->topic, pp->partition, res->error_code, res->leader_epoch, res->isr,
                      res->n_isr, res->partition_epoch);
        else
            isr_apply(ib->b, pp->topic, pp->partition, err ? err : KERR_UNKNOWN_SERVER_ERROR,
                      pp->leader_epoch, NULL, 0, -1);
    }
    rpc_alter_isr_resp_destroy(&r);
    isr_batch_free(ib);
}

static bool isr_batch_add(struct isr_batch *ib, struct topic *t, int32_t p, int cap)
{
    if (ib->n == cap)
        return false;
    int k = ib->n;
    int n_isr = 0;
    int32_t le, pe;
    if (!partition_isr_proposal(topic_part(t, p), clock_mono_ms(),
                                ib->b->cfg->replica_lag_time_max_ms, ib->isrs[k], &n_isr, &le, &pe))
        return true;
    snprintf(ib->names[k], sizeof(ib->names[k]), "%s", t->name);
    ib->props[k] = (struct rpc_isr_proposal){ib->names[k], p, le, n_isr, ib->isrs[k], pe};
    ib->n++;
    return true;
}

static void send_isr_batch(struct broker *b, struct channel *ch, struct isr_batch *ib)
{
    int64_t epoch = __atomic_load_n(&b->broker_epoch, __ATOMIC_ACQUIRE); /* see fence() */
    struct rpc_alter_isr_req m = {
        .broker_id = b->id, .broker_epoch = epoch, .n_partitions = ib->n, .partitions = ib->props};
    struct kbuf body;
    kbuf_init(&body);
    if (rpc_alter_isr_req_encode(&m, &body) == KERR_NONE) {
        for (int i = 0; i < ib->n; i++)
            say_info("replica", "proposing isr topic=%s partition=%d isr_size=%d epoch=%d",
                     ib->props[i].topic, ib->props[i].partition, ib->props[i].n_new_isr,
                     ib->props[i].leader_epoch);
        channel_send(ch, RPC_ALTER_ISR, body.data, body.len, isr_reply_cb, ib);
    } else {
        isr_reply_cb(ib, KERR__NOMEM, NULL, 0);
    }
    kbuf_destroy(&body);
}

static void isr_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct broker *b = arg;
    KASSERT(worker_is_current(b->admin));
    struct channel *ch = controller_channel(b);
    if (!ch)
        return;
    int n_topics;
    struct topic **list = topics_list(b->topics, &n_topics);
    int cap = 0;
    for (int i = 0; list && i < n_topics; i++)
        cap += list[i]->n_parts;
    struct isr_batch *ib = calloc(1, sizeof(*ib));
    if (ib) {
        ib->b = b;
        ib->props = calloc((size_t)(cap ? cap : 1), sizeof(*ib->props));
        ib->names = calloc((size_t)(cap ? cap : 1), sizeof(*ib->names));
        ib->isrs = calloc((size_t)(cap ? cap : 1), sizeof(*ib->isrs));
    }
    if (ib && ib->props && ib->names && ib->isrs) {
        for (int i = 0; i < n_topics; i++)
            for (int32_t p = 0; p < list[i]->n_parts; p++)
                if (topic_part(list[i], p)->log)
                    (void)isr_batch_add(ib, list[i], p, cap);
    }
    topics_list_free(list, n_topics);
    if (ib && ib->n > 0)
        send_isr_batch(b, ch, ib);
    else if (ib)
        isr_batch_free(ib);
}

/* --- controlled shutdown ------------------------------------------------- */

/* How many of the remaining partitions could still move (ISR > 1). */
static int count_movable(struct broker *b, const struct rpc_controlled_shutdown_resp *r)
{
    int movable = 0;
    for (int i = 0; i < r->n_remaining; i++) {
        struct topic *t =
            topics_get(b->topics, r->remaining[i].topic, strlen(r->remaining[i].topic));
        int32_t p = r->remaining[i].partition;
        if (t && p >= 0 && p < t->n_parts) {
            pthread_mutex_lock(&topic_part(t, p)->lock);
            movable += topic_part(t, p)->n_isr > 1;
            pthread_mutex_unlock(&topic_part(t, p)->lock);
        }
        topic_unref(t);
    }
    return movable;
}

static void cs_reply_cb(void *arg, kerr_t err, const uint8_t *body, size_t len)
{
    struct broker *b = arg;
    KASSERT(worker_is_current(b->admin));
    struct replica_manager *rm = b->rm;
    struct rpc_controlled_shutdown_resp r = {0};
    int state = -1, remaining = 0, movable = 0;
    if (err == KERR_NONE && rpc_controlled_shutdown_resp_decode(body, len, &r) == KERR_NONE &&
        r.error_code == KERR_NONE) {
        remaining = r.n_remaining;
        movable = count_movable(b, &r);
        state = 1;
    } else {
        say_warn("broker", "controlled shutdown request failed err=%s",
                 kerr_name(err != KERR_NONE ? err : (kerr_t)r.error_code));
    }
    rpc_controlled_shutdown_resp_destroy(&r);
    pthread_mutex_lock(&rm->lock);
    rm->cs_state = state;
    rm->cs_remaining = remaining;
    rm->cs_remaining_movable = movable;
    pthread_mutex_unlock(&rm->lock);
}

static void cs_send_job(void *arg)
{
    struct broker *b = arg;
    KASSERT(worker_is_current(b->admin));
    struct channel *ch = controller_channel(b);
    if (!ch) {
        cs_reply_cb(b, KERR_NOT_CONTROLLER, NULL, 0);
        return;
    }
    struct rpc_controlled_shutdown_req m = {
        .broker_id = b->id, .broker_epoch = __atomic_load_n(&b->broker_epoch, __ATOMIC_ACQUIRE)};
    struct kbuf body;
    kbuf_init(&body);
    if (rpc_controlled_shutdown_req_encode(&m, &body) == KERR_NONE)
        channel_send(ch, RPC_CONTROLLED_SHUTDOWN, body.data, body.len, cs_reply_cb, b);
    else
        cs_reply_cb(b, KERR__NOMEM, NULL, 0);
    kbuf_destroy(&body);
}

/* One attempt: waits up to timeout_ms. 1 done, 0 retry, -1 give up. */
static int cs_attempt(struct broker *b, int64_t timeout_ms)
{
    struct replica_manager *rm = b->rm;
    pthread_mutex_lock(&rm->lock);
    rm->cs_state = 0;
    pthread_mutex_unlock(&rm->lock);
    if (!worker_post(b->admin, cs_send_job, b))
        return -1;
    int64_t deadline = clock_mono_ms() + timeout_ms;
    pthread_mutex_lock(&rm->lock);
    while (rm->cs_state == 0 && clock_mono_ms() < deadline && !rm->cs_abort) {
        pthread_mutex_unlock(&rm->lock);
        usleep(20 * 1000);
        pthread_mutex_lock(&rm->lock);
    }
    int state = rm->cs_state, remaining = rm->cs_remaining, movable = rm->cs_remaining_movable;
    pthread_mutex_unlock(&rm->lock);
    if (state == 1 && remaining == 0)
        return 1;
    if (state == 1 && movable == 0) {
        say_info("broker",
                 "controlled shutdown: %d partition(s) have no other in-sync replica "
                 "and stay here",
                 remaining);
        return -1;
    }
    return 0;
}

bool rm_controlled_shutdown(struct broker *b, int64_t timeout_ms)
{
    int64_t deadline = clock_mono_ms() + timeout_ms;
    int tries = b->cfg->controlled_shutdown_max_retries + 1;
    for (int i = 0; i < tries && clock_mono_ms() < deadline && !b->rm->cs_abort; i++) {
        int64_t left = deadline - clock_mono_ms();
        int rc = cs_attempt(b, MIN(left, RM_CS_ATTEMPT_MS));
        if (rc == 1) {
            say_info("broker", "controlled shutdown done: no leaderships left");
            return true;
        }
        if (rc < 0)
            return false;
        int64_t backoff = MIN(b->cfg->controlled_shutdown_retry_backoff_ms, 500);
        usleep((useconds_t)MIN(backoff, MAX(deadline - clock_mono_ms(), 0)) * 1000);
    }
    say_warn("broker", "controlled shutdown did not complete; shutting down anyway");
    return false;
}

void rm_controlled_shutdown_abort(struct broker *b)
{
    if (b->rm)
        b->rm->cs_abort = true;
}

/* --- start / stop -------------------------------------------------------- */

static void start_job(void *arg)
{
    struct broker *b = arg;
    KASSERT(worker_is_current(b->admin));
    struct timeval tv = {0, RM_ISR_CHECK_MS * 1000};
    b->rm->isr_ev = event_new(worker_base(b->admin), -1, EV_PERSIST, isr_timer_cb, b);
    if (b->rm->isr_ev)
        event_add(b->rm->isr_ev, &tv);
}

int rm_start(struct broker *b)
{
    const struct broker_config *cfg = b->cfg;
    b->rm = calloc(1, sizeof(*b->rm));
    if (!b->rm)
        return -1;
    pthread_mutex_init(&b->rm->lock, NULL);
    b->rm->ctrl_ch_id = -1;
    struct fetcher_config fc = {.self_id = b->id,
                                .n_threads = cfg->num_replica_fetchers,
                                .max_wait_ms = cfg->replica_fetch_wait_max_ms,
                                .min_bytes = cfg->replica_fetch_min_bytes,
                                .max_bytes = cfg->replica_fetch_max_bytes,
                                .response_max_bytes = cfg->replica_fetch_response_max_bytes,
                                .socket_timeout_ms = cfg->replica_socket_timeout_ms,
                                .backoff_ms = 1000,
                                .dyn = &b->dyn,
                                .quota_window_num = cfg->replication_quota_window_num,
                                .quota_window_ms =
                                    (int64_t)cfg->replication_quota_window_size_seconds * 1000};
    b->fetchers = fetchers_new(&fc);
    if (!b->fetchers) {
        say_error("replica", "cannot start the replica fetchers");
        return -1;
    }
    worker_post(b->admin, start_job, b);
    return 0;
}

static void stop_job(void *arg)
{
    struct broker *b = arg;
    KASSERT(worker_is_current(b->admin));
    struct replica_manager *rm = b->rm;
    if (rm->isr_ev)
        event_free(rm->isr_ev);
    rm->isr_ev = NULL;
    channel_free(rm->ctrl_ch);
    rm->ctrl_ch = NULL;
    rm->stopped = true;
}

void rm_stop(struct broker *b)
{
    if (!b->rm)
        return;
    /* the admin worker must stop using the fetchers before they go */
    if (b->admin && worker_post(b->admin, stop_job, b))
        while (!b->rm->stopped)
            usleep(1000);
    b->rm->stopped = true;
    fetchers_free(b->fetchers);
    b->fetchers = NULL;
}

void rm_free(struct broker *b)
{
    if (!b->rm)
        return;
    pthread_mutex_destroy(&b->rm->lock);
    free(b->rm);
    b->rm = NULL;
}
