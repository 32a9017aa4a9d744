/*
 * controller/ctrl_push.c — what the active controller sends to brokers:
 * UpdateMetadata (every broker: all partitions and live brokers),
 * LeaderAndIsr (each broker: the partitions it replicates, with how to
 * reach their leaders) and StopReplica (topic deletion), over one channel
 * per live broker (channel.c), encoded by rpc.c.
 *
 * After a targeted change (AlterIsr, controlled shutdown, preferred
 * election) ctrl_push_changes() sends LeaderAndIsr only for the changed
 * partitions, to their replicas, and then the full UpdateMetadata.
 *
 * Each request carries the controller epoch (brokers refuse older ones)
 * and the target broker's epoch (the czxid of its registration: a request
 * meant for a previous incarnation of the broker is refused).
 * Loop-owned: the controller's loop only.
 */
#include "controller/channel.h"
#include "controller/controller_int.h"
#include "controller/rpc.h"
#include "common/say.h"

#include <stdlib.h>
#include <string.h>

/* The endpoint of a broker on the inter-broker listener (else its first). */
static const struct zk_endpoint *inter_broker_ep(const struct controller *c,
                                                 const struct zk_broker_reg *reg)
{
    for (int e = 0; e < reg->n_endpoints; e++)
        if (c->env.listener && strcmp(reg->ep[e].listener, c->env.listener) == 0)
            return &reg->ep[e];
    return reg->n_endpoints > 0 ? &reg->ep[0] : NULL;
}

static void reply_cb(void *arg, kerr_t err, const uint8_t *body, size_t len)
{
    const char *what = arg;
    if (err != KERR_NONE)
        say_debug("ctrl", "control request not answered rpc=%s err=%s", what, kerr_name(err));
}

static int count_partitions(const struct controller *c)
{
    int n = 0;
    for (int i = 0; i < c->n_topics; i++)
        n += c->topics[i]->n_parts;
    return n;
}

static struct rpc_partition_state state_of(const struct ctopic *t, int p)
{
    return (struct rpc_partition_state){.topic = t->name,
                                        .partition = p,
                                        .leader = t->st[p].leader,
                                        .leader_epoch = t->st[p].leader_epoch,
                                        .n_isr = t->st[p].n_isr,
                                        .isr = t->st[p].isr,
                                        .n_replicas = ctrl_row_len(t->replicas, t->rf, p),
                                        .replicas = &t->replicas[p * t->rf],
                                        .partition_epoch = t->st[p].version};
}

/* Fills ps[] with every partition (borrowing the controller's arrays). */
static int fill_states(const struct controller *c, struct rpc_partition_state *ps,
                       int32_t only_broker)
{
    int k = 0;
    for (int i = 0; i < c->n_topics; i++) {
        const struct ctopic *t = c->topics[i];
        for (int p = 0; p < t->n_parts; p++) {
            const int32_t *row = &t->replicas[p * t->rf];
            bool member = only_broker < 0;
            for (int r = 0; r < t->rf && !member; r++)
                member = row[r] == only_broker;
            if (!member)
                continue;
            ps[k++] = state_of(t, p);
        }
    }
    return k;
}

static void send_update_metadata(struct controller *c, struct rpc_partition_state *ps, int n_ps)
{
    ctrl_stats_refresh(c); /* every change of the cluster's state ends here */
    struct rpc_live_broker *lb = calloc((size_t)(c->n_brokers ? c->n_brokers : 1), sizeof(*lb));
    struct rpc_endpoint *eps =
        calloc((size_t)(c->n_brokers ? c->n_brokers : 1) * ZK_MAX_ENDPOINTS, sizeof(*eps));
    if (!lb || !eps)
        goto out;
    for (int i = 0; i < c->n_brokers; i++) {
        const struct zk_broker_reg *reg = &c->brokers[i].reg;
        struct rpc_endpoint *e = &eps[i * ZK_MAX_ENDPOINTS];
        for (int k = 0; k < reg->n_endpoints; k++)
            e[k] = (struct rpc_endpoint){reg->ep[k].listener, reg->ep[k].host, reg->ep[k].port,
                                         reg->ep[k].protocol};
        lb[i] = (struct rpc_live_broker){
            .id = reg->id, .rack = reg->rack, .n_endpoints = reg->n_endpoints, .endpoints = e};
    }
    for (int i = 0; i < c->n_brokers; i++) {
        struct cbroker *cb = &c->brokers[i];
        struct rpc_update_metadata_req m = {.controller_id = c->env.broker_id,
                                            .controller_epoch = c->epoch,
                                            .broker_epoch = cb->reg.epoch,
                                            .n_partitions = n_ps,
                                            .partitions = ps,
                                            .n_brokers = c->n_brokers,
                                            .brokers = lb};
        struct kbuf body;
        kbuf_init(&body);
        if (cb->ch && rpc_update_metadata_req_encode(&m, &body) == KERR_NONE)
            channel_send(cb->ch, RPC_UPDATE_METADATA, body.data, body.len, reply_cb,
                         (void *)"UpdateMetadata");
        kbuf_destroy(&body);
    }
out:
    free(lb);
    free(eps);
}

/* Sends cb a LeaderAndIsr with ps[0..n). */
static void send_leader_and_isr_n(struct controller *c, struct cbroker *cb,
                                  const struct rpc_partition_state *ps, int n)
{
    struct rpc_live_leader *ll = calloc((size_t)(c->n_brokers ? c->n_brokers : 1), sizeof(*ll));
    if (!ll)
        return;
    int n_ll = 0;
    for (int i = 0; i < c->n_brokers; i++) {
        const struct zk_endpoint *ep = inter_broker_ep(c, &c->brokers[i].reg);
        if (ep)
            ll[n_ll++] = (struct rpc_live_leader){c->brokers[i].reg.id, ep->host, ep->port};
    }
    struct rpc_leader_and_isr_req m = {.controller_id = c->env.broker_id,
                                       .controller_epoch = c->epoch,
                                       .broker_epoch = cb->reg.epoch,
                                       .n_partitions = n,
                                       .partitions = ps,
                                       .n_live_leaders = n_ll,
                                       .live_leaders = ll};
    struct kbuf body;
    kbuf_init(&body);
    if (cb->ch && rpc_leader_and_isr_req_encode(&m, &body) == KERR_NONE)
        channel_send(cb->ch, RPC_LEADER_AND_ISR, body.data, body.len, reply_cb,
                     (void *)"LeaderAndIsr");
    kbuf_destroy(&body);
    free(ll);
}

static void send_leader_and_isr(struct controller *c, struct cbroker *cb,
                                struct rpc_partition_state *ps)
{
    send_leader_and_isr_n(c, cb, ps, fill_states(c, ps, cb->reg.id));
}

static bool is_replica(const struct ctopic *t, int p, int32_t id)
{
    for (int r = 0; r < t->rf; r++)
        if (t->replicas[p * t->rf + r] == id)
            return true;
    return false;
}

/* Fills ps[] with the changed partitions broker id replicates, once each. */
static int fill_changes(const struct ctrl_changes *ch, int32_t id, struct rpc_partition_state *ps)
{
    int k = 0;
    for (int i = 0; i < ch->n; i++) {
        const struct ctrl_tp *tp = &ch->v[i];
        bool dup = false;
        for (int j = 0; j < i && !dup; j++)
            dup = ch->v[j].t == tp->t && ch->v[j].p == tp->p;
        if (!dup && is_replica(tp->t, tp->p, id))
            ps[k++] = state_of(tp->t, tp->p);
    }
    return k;
}

void ctrl_push_changes(struct controller *c, const struct ctrl_changes *ch)
{
    KASSERT(CTRL_ON_LOOP(c));
    if (ch->n == 0)
        return;
    int total = count_partitions(c);
    int cap = total > ch->n ? total : ch->n;
    struct rpc_partition_state *ps = calloc((size_t)(cap ? cap : 1), sizeof(*ps));
    if (!ps)
        return;
    for (int i = 0; i < c->n_brokers; i++) {
        int n = fill_changes(ch, c->brokers[i].reg.id, ps);
        if (n > 0)
            send_leader_and_isr_n(c, &c->brokers[i], ps, n);
    }
    int n = fill_states(c, ps, -1);
    send_update_metadata(c, ps, n);
    free(ps);
}

void ctrl_push_all(struct controller *c)
{
    KASSERT(CTRL_ON_LOOP(c));
    int total = count_partitions(c);
    struct rpc_partition_state *ps = calloc((size_t)(total ? total : 1), sizeof(*ps));
    if (!ps)
        return;
    /* LeaderAndIsr first, so a broker learns its roles before clients are
     * pointed at it by the new metadata */
    for (int i = 0; i < c->n_brokers; i++)
        send_leader_and_isr(c, &c->brokers[i], ps);
    int n = fill_states(c, ps, -1);
    send_update_metadata(c, ps, n);
    free(ps);
}

/* Sends StopReplica of the n partitions tp (borrowed) to cb, which has a channel. */
static void send_stop_replica(struct controller *c, struct cbroker *cb,
                              struct rpc_topic_partition *tp, int n, bool del)
{
    struct rpc_stop_replica_req m = {.controller_id = c->env.broker_id,
                                     .controller_epoch = c->epoch,
                                     .broker_epoch = cb->reg.epoch,
                                     .delete_partitions = del,
                                     .n_partitions = n,
                                     .partitions = tp};
    struct kbuf body;
    kbuf_init(&body);
    if (rpc_stop_replica_req_encode(&m, &body) == KERR_NONE)
        channel_send(cb->ch, RPC_STOP_REPLICA, body.data, body.len, reply_cb,
                     (void *)"StopReplica");
    kbuf_destroy(&body);
}

void ctrl_push_stop_topic(struct controller *c, const struct ctopic *t)
{
    KASSERT(CTRL_ON_LOOP(c));
    struct rpc_topic_partition *tp = calloc((size_t)(t->n_parts ? t->n_parts : 1), sizeof(*tp));
    if (!tp)
        return;
    for (int i = 0; i < c->n_brokers; i++) {
        struct cbroker *cb = &c->brokers[i];
        int n = 0;
        for (int p = 0; p < t->n_parts; p++)
            for (int r = 0; r < t->rf; r++)
                if (t->replicas[p * t->rf + r] == cb->reg.id)
                    tp[n++] = (struct rpc_topic_partition){t->name, p, t->st[p].leader_epoch};
        if (n == 0 || !cb->ch)
            continue;
        send_stop_replica(c, cb, tp, n, true);
    }
    free(tp);
}

void ctrl_push_stop_partition(struct controller *c, const struct ctopic *t, int p, int32_t id,
                              bool del)
{
    KASSERT(CTRL_ON_LOOP(c));
    struct cbroker *cb = ctrl_find_broker(c, id);
    if (!cb || !cb->ch)
        return; /* a dead broker: its replica goes when it comes back (reconcile) */
    struct rpc_topic_partition tp = {t->name, p, -1};
    send_stop_replica(c, cb, &tp, 1, del);
}

void ctrl_sync_channels(struct controller *c, struct cbroker *old, int n_old)
{
    KASSERT(CTRL_ON_LOOP(c));
    for (int i = 0; i < c->n_brokers; i++) {
        struct cbroker *cb = &c->brokers[i];
        for (int k = 0; k < n_old && !cb->ch; k++) {
            if (old[k].ch && old[k].reg.id == cb->reg.id && old[k].reg.epoch == cb->reg.epoch) {
                cb->ch = old[k].ch;
                old[k].ch = NULL;
            }
        }
        const struct zk_endpoint *ep = inter_broker_ep(c, &cb->reg);
        if (!cb->ch && ep && c->active)
            cb->ch = channel_new(c->env.base, cb->reg.id, ep->host, ep->port);
    }
    for (int k = 0; k < n_old; k++)
        channel_free(old[k].ch);
}

void ctrl_close_channels(struct controller *c)
{
    KASSERT(CTRL_ON_LOOP(c));
    for (int i = 0; i < c->n_brokers; i++) {
        channel_free(c->brokers[i].ch);
        c->brokers[i].ch = NULL;
    }
}
