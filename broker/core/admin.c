/*
 * broker/core/admin.c — topic creation and deletion requests, topic loading and
 * the live-broker list (see admin.h).
 *
 * Creation: validate (name, counts, replication factor against live
 * brokers, explicit assignment, configs) -> assign replicas round-robin
 * over live brokers -> write /brokers/topics/<t> (+ /config/topics/<t>).
 * The controller sees the new topic, elects leaders and sends LeaderAndIsr;
 * each replica then loads the topic (admin_ensure_topic) and opens its log.
 * Deletion: write /admin/delete_topics/<t>; the controller stops the
 * replicas (StopReplica with delete -> admin_drop_local_topic) and removes
 * the znodes.
 * New partitions (CreatePartitions): validate against the stored topic ->
 * place them (explicit, or the round robin continued from partition 0's
 * leader at the current count) -> rewrite /brokers/topics/<t> conditionally
 * on the version read. The controller's watch on that znode elects their
 * leaders; replicas grow their local topic (admin_ensure_partitions ->
 * topic_grow) on LeaderAndIsr, every broker on UpdateMetadata.
 * Errors: every bound (name, gregor.max.partitions, replication factor) is
 * checked before anything is allocated or written; a lost or timed-out
 * ZooKeeper connection answers REQUEST_TIMED_OUT, which clients retry.
 */
#include "broker/core/admin.h"
#include "broker/core/log_manager.h"
#include "common/loop/worker.h"
#include "broker/core/broker.h"
#include "broker/replication/topics.h"
#include "controller/assign.h"
#include "controller/zk/zk_store.h"
#include "common/base.h"
#include "common/names.h"
#include "common/par.h"
#include "common/say.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* The Kafka error for a failed ZooKeeper call rc (an internal code): a
 * lost or timed-out ZooKeeper connection is retriable, REQUEST_TIMED_OUT
 * (as Kafka's ZooKeeper mode answers), with a message in msg; Kafka codes
 * pass through; anything else is UNKNOWN_SERVER_ERROR. */
static kerr_t zk_failure(kerr_t rc, const char *what, char *msg, size_t n)
{
    if (rc >= 0)
        return rc;
    if (rc == KERR__ZK || rc == KERR__TIMEOUT) {
        snprintf(msg, n, "ZooKeeper is unavailable (%s); retry later", what);
        return KERR_REQUEST_TIMED_OUT;
    }
    snprintf(msg, n, "cannot %s: %s", what, kerr_name(rc));
    return KERR_UNKNOWN_SERVER_ERROR;
}

kerr_t admin_topic_check(struct broker *b, const char *name, char *msg, size_t n)
{
    KASSERT(worker_is_current(b->admin));
    struct zk_topic zt;
    kerr_t rc = zk_store_topic_get(b->zk, name, &zt);
    if (rc == KERR_NONE) {
        zk_topic_destroy(&zt);
        return KERR_NONE;
    }
    if (rc == KERR_UNKNOWN_TOPIC_OR_PARTITION || rc == KERR__NOENT ||
        rc == KERR_INVALID_TOPIC_EXCEPTION) {
        snprintf(msg, n, "topic '%s' does not exist", name);
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    return zk_failure(rc, "read the topic", msg, n);
}

/* Spreads n_parts * rf replicas over the live brokers (controller/assign.c:
 * Kafka's round-robin with shifted followers, rack-aware when every broker
 * has broker.rack). */
static kerr_t assign_live(const struct broker_info *live, int n_live, int32_t n_parts, int16_t rf,
                          int32_t *out, char *msg, size_t n)
{
    struct assign_broker *ab = calloc((size_t)(n_live ? n_live : 1), sizeof(*ab));
    if (!ab)
        return KERR_UNKNOWN_SERVER_ERROR;
    for (int i = 0; i < n_live; i++)
        ab[i] = (struct assign_broker){.id = live[i].id, .rack = live[i].rack};
    kerr_t rc = assign_replicas(ab, n_live, n_parts, rf, 0, -1, -1, out);
    free(ab);
    if (rc == KERR_INVALID_REPLICA_ASSIGNMENT)
        snprintf(msg, n, "some live brokers have broker.rack set and others do not");
    else if (rc != KERR_NONE)
        snprintf(msg, n, "cannot assign replicas: %s", kerr_name(rc));
    return rc;
}

static kerr_t validate_spec(struct broker *b, const struct topic_spec *sp, int32_t n_parts,
                            int16_t rf, int n_live, char *msg, size_t n)
{
    if (!topic_name_legal_z(sp->name)) {
        snprintf(msg, n, "invalid topic name '%s': use 1-249 of [a-zA-Z0-9._-]", sp->name);
        return KERR_INVALID_TOPIC_EXCEPTION;
    }
    if (sp->assignment && (sp->n_parts != -1 || sp->rf != -1)) {
        snprintf(msg, n, "give either an explicit assignment or partitions/replication factor");
        return KERR_INVALID_REQUEST;
    }
    if (n_parts < 1) {
        snprintf(msg, n, "number of partitions must be at least 1");
        return KERR_INVALID_PARTITIONS;
    }
    if (n_parts > b->cfg->gregor_max_partitions) {
        snprintf(msg, n, "number of partitions %d is larger than gregor.max.partitions (%d)",
                 n_parts, b->cfg->gregor_max_partitions);
        return KERR_INVALID_PARTITIONS;
    }
    if (rf < 1) {
        snprintf(msg, n, "replication factor must be at least 1");
        return KERR_INVALID_REPLICATION_FACTOR;
    }
    if (rf > n_live || rf > PARTITION_MAX_REPLICAS) {
        snprintf(msg, n, "replication factor %d is larger than the %d available broker(s)", rf,
                 n_live);
        return KERR_INVALID_REPLICATION_FACTOR;
    }
    for (int i = 0; i < sp->n_config; i++) {
        if (!topic_config_validate(sp->config_kv[2 * i], sp->config_kv[2 * i + 1], msg, n))
            return KERR_INVALID_CONFIG;
    }
    return KERR_NONE;
}

static kerr_t validate_assignment(const struct topic_spec *sp, const struct broker_info *live,
                                  int n_live, char *msg, size_t n)
{
    for (int i = 0; i < sp->n_assigned_parts * sp->assigned_rf; i++) {
        bool known = false;
        for (int k = 0; k < n_live; k++)
            known |= live[k].id == sp->assignment[i];
        for (int j = (i / sp->assigned_rf) * sp->assigned_rf; j < i; j++)
            if (sp->assignment[j] == sp->assignment[i]) {
                snprintf(msg, n, "duplicate broker %d in the assignment of a partition",
                         sp->assignment[i]);
                return KERR_INVALID_REPLICA_ASSIGNMENT;
            }
        if (!known) {
            snprintf(msg, n, "unknown broker %d in the replica assignment", sp->assignment[i]);
            return KERR_INVALID_REPLICA_ASSIGNMENT;
        }
    }
    return KERR_NONE;
}

/* Adds the topic to the local registry, opening the logs of the local
 * replicas; leadership arrives later from the controller (LeaderAndIsr). */
static kerr_t admin_apply_topic(struct broker *b, const char *name, int32_t n_parts, int16_t rf,
                                const int32_t *replicas, char *const *kv, int n_kv, bool startup,
                                char *msg, size_t n)
{
    struct topic *t = topic_create(name, n_parts, rf, replicas, kv, n_kv, &b->topic_defaults,
                                   b->data_dir, b->id, startup ? &b->recovery : NULL, msg, n);
    if (!t)
        return KERR_KAFKA_STORAGE_ERROR;
    for (int32_t p = 0; startup && p < n_parts; p++)
        log_manager_restore(b, topic_part(t, p));
    if (!topics_add(b->topics, t)) {
        topic_unref(t);
        snprintf(msg, n, "topic '%s' already exists", name);
        return KERR_TOPIC_ALREADY_EXISTS;
    }
    say_info("kafka", "topic loaded topic=%s partitions=%d replication_factor=%d", name, n_parts,
             rf);
    return KERR_NONE;
}

/* Fills zt's config arrays (new: free() both, also on failure) with the n
 * "key", "value" pairs of kv. false on OOM. */
static bool zt_set_configs(struct zk_topic *zt, char *const *kv, int n)
{
    zt->n_configs = n;
    zt->config_keys = calloc((size_t)n + 1, sizeof(*zt->config_keys));
    zt->config_values = calloc((size_t)n + 1, sizeof(*zt->config_values));
    if (!zt->config_keys || !zt->config_values)
        return false;
    for (int i = 0; i < n; i++) {
        snprintf(zt->config_keys[i], sizeof(zt->config_keys[i]), "%s", kv[2 * i]);
        snprintf(zt->config_values[i], sizeof(zt->config_values[i]), "%s", kv[2 * i + 1]);
    }
    return true;
}

char **admin_topic_kv(const struct zk_topic *zt)
{
    char **kv = calloc((size_t)(2 * zt->n_configs + 1), sizeof(char *));
    for (int i = 0; kv && i < zt->n_configs; i++) {
        kv[2 * i] = zt->config_keys[i];
        kv[2 * i + 1] = zt->config_values[i];
    }
    return kv;
}

static kerr_t admin_write_topic(struct broker *b, const struct topic_spec *sp, int32_t n_parts,
                                int16_t rf, int32_t *replicas, char *msg, size_t n)
{
    struct zk_topic zt = {.n_partitions = n_parts, .replication_factor = rf, .replicas = replicas};
    snprintf(zt.name, sizeof(zt.name), "%s", sp->name);
    kerr_t rc = KERR_UNKNOWN_SERVER_ERROR;
    if (zt_set_configs(&zt, sp->config_kv, sp->n_config))
        rc = zk_store_topic_create(b->zk, &zt);
    free(zt.config_keys);
    free(zt.config_values);
    if (rc == KERR_TOPIC_ALREADY_EXISTS) {
        snprintf(msg, n, "topic '%s' already exists", sp->name);
    } else if (rc == KERR_NOT_CONTROLLER) {
        snprintf(msg, n, "another controller is being elected; retry");
    } else if (rc != KERR_NONE && rc != KERR_INVALID_TOPIC_EXCEPTION) {
        rc = zk_failure(rc, "store the topic in ZooKeeper", msg, n);
    }
    return rc;
}

kerr_t admin_create_topic(struct broker *b, const struct topic_spec *sp, bool validate_only,
                          char *msg, size_t n)
{
    const struct broker_config *cfg = b->cfg;
    int n_live;
    struct broker_info *live = broker_live_brokers(b, &n_live);
    int32_t n_parts = sp->assignment ? sp->n_assigned_parts
                                     : (sp->n_parts == -1 ? cfg->num_partitions : sp->n_parts);
    int16_t rf = sp->assignment ? (int16_t)sp->assigned_rf
                                : (sp->rf == -1 ? cfg->default_replication_factor : sp->rf);
    int32_t *replicas = NULL;
    kerr_t rc = sp->assignment ? validate_assignment(sp, live, n_live, msg, n) : KERR_NONE;
    if (rc == KERR_NONE)
        rc = validate_spec(b, sp, n_parts, rf, n_live, msg, n);
    if (rc == KERR_NONE) {
        rc = admin_topic_check(b, sp->name, msg, n);
        if (rc == KERR_NONE) {
            snprintf(msg, n, "topic '%s' already exists", sp->name);
            rc = KERR_TOPIC_ALREADY_EXISTS;
        } else if (rc == KERR_UNKNOWN_TOPIC_OR_PARTITION) {
            msg[0] = '\0';
            rc = KERR_NONE;
        }
    }
    if (rc != KERR_NONE || validate_only)
        goto out;
    replicas = malloc(sizeof(int32_t) * (size_t)n_parts * (size_t)rf);
    if (!replicas) {
        rc = KERR_UNKNOWN_SERVER_ERROR;
        goto out;
    }
    if (sp->assignment)
        memcpy(replicas, sp->assignment, sizeof(int32_t) * (size_t)n_parts * (size_t)rf);
    else
        rc = assign_live(live, n_live, n_parts, rf, replicas, msg, n);
    if (rc == KERR_NONE)
        rc = admin_write_topic(b, sp, n_parts, rf, replicas, msg, n);
    if (rc == KERR_NONE)
        say_info("kafka", "topic created topic=%s partitions=%d replication_factor=%d", sp->name,
                 n_parts, rf);
out:
    free(replicas);
    free(live);
    return rc;
}

static kerr_t store_topic_config(struct broker *b, const char *name, char *const *kv, int n_kv)
{
    struct zk_topic zt;
    kerr_t rc = zk_store_topic_get(b->zk, name, &zt);
    if (rc != KERR_NONE)
        return rc;
    struct zk_topic upd = zt;
    rc = zt_set_configs(&upd, kv, n_kv) ? zk_store_topic_config_set(b->zk, &upd) : KERR__NOMEM;
    free(upd.config_keys);
    free(upd.config_values);
    zk_topic_destroy(&zt);
    return rc;
}

kerr_t admin_alter_topic_config(struct broker *b, const char *name, char *const *kv, int n_kv,
                                bool validate_only, char *msg, size_t n)
{
    KASSERT(worker_is_current(b->admin));
    kerr_t rc = admin_topic_check(b, name, msg, n);
    if (rc != KERR_NONE)
        return rc;
    struct topic *t = topics_get(b->topics, name, strlen(name)); /* NULL: no local replica */
    for (int i = 0; i < n_kv && rc == KERR_NONE; i++)
        if (!topic_config_validate(kv[2 * i], kv[2 * i + 1], msg, n))
            rc = KERR_INVALID_CONFIG;
    if (rc == KERR_NONE && !validate_only) {
        rc = store_topic_config(b, name, kv, n_kv);
        if (rc == KERR_UNKNOWN_TOPIC_OR_PARTITION || rc == KERR__NOENT) {
            snprintf(msg, n, "topic '%s' does not exist", name);
            rc = KERR_UNKNOWN_TOPIC_OR_PARTITION;
        } else if (rc != KERR_NONE) {
            rc = zk_failure(rc, "store the topic config in ZooKeeper", msg, n);
        } else if (t && !topic_set_config(t, kv, n_kv, &b->topic_defaults)) {
            snprintf(msg, n, "out of memory");
            rc = KERR_UNKNOWN_SERVER_ERROR;
        } else {
            say_info("kafka", "topic config changed topic=%s overrides=%d", name, n_kv);
            /* other brokers and the controller re-read it (config_watch.c) */
            if (zk_store_config_change_notify(b->zk, "topics", name) != KERR_NONE)
                say_warn("zk",
                         "cannot notify the other brokers of the config change of "
                         "topic=%s; they apply it when they restart",
                         name);
        }
    }
    topic_unref(t);
    return rc;
}

void admin_drop_local_topic(struct broker *b, const char *name)
{
    struct topic *t = topics_remove(b->topics, name);
    if (!t)
        return;
    t->delete_files = true;
    for (int32_t p = 0; p < t->n_parts; p++)
        partition_mark_deleted(topic_part(t, p));
    topic_unref(t);
    say_info("kafka", "topic deleted topic=%s", name);
}

kerr_t admin_delete_topic(struct broker *b, const char *name)
{
    KASSERT(worker_is_current(b->admin));
    if (!b->cfg->delete_topic_enable)
        return KERR_TOPIC_DELETION_DISABLED;
    if (topic_name_internal(name, strlen(name)))
        return KERR_INVALID_TOPIC_EXCEPTION; /* the coordinators' state */
    struct zk_topic zt;
    kerr_t rc = zk_store_topic_get(b->zk, name, &zt);
    if (rc == KERR_UNKNOWN_TOPIC_OR_PARTITION || rc == KERR__NOENT)
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    if (rc == KERR_NONE)
        zk_topic_destroy(&zt);
    if (rc == KERR_NONE)
        rc = zk_store_topic_mark_deleted(b->zk, name);
    if (rc != KERR_NONE && rc != KERR__EXISTS) {
        char msg[128];
        say_error("kafka", "topic deletion failed topic=%s err=%s", name, kerr_name(rc));
        return zk_failure(rc, "request the deletion", msg, sizeof(msg));
    }
    say_info("kafka", "topic deletion requested topic=%s", name);
    return KERR_NONE;
}

struct auto_job {
    struct broker *b;
    char name[TOPIC_NAME_MAX_LEN + 1];
};

static void auto_create_job(void *arg)
{
    struct auto_job *j = arg;
    KASSERT(worker_is_current(j->b->admin));
    struct topic_spec sp = {.n_parts = -1, .rf = -1};
    char msg[256];
    snprintf(sp.name, sizeof(sp.name), "%s", j->name);
    kerr_t rc = admin_create_topic(j->b, &sp, false, msg, sizeof(msg));
    if (rc != KERR_NONE && rc != KERR_TOPIC_ALREADY_EXISTS)
        say_warn("kafka", "auto topic creation failed topic=%s err=%s reason=\"%s\"", j->name,
                 kerr_name(rc), msg);
    free(j);
}

void admin_auto_create_async(struct broker *b, const char *name, size_t len)
{
    struct auto_job *j = calloc(1, sizeof(*j));
    if (!j || len > TOPIC_NAME_MAX_LEN) {
        free(j);
        return;
    }
    j->b = b;
    memcpy(j->name, name, len);
    if (!worker_post(b->admin, auto_create_job, j))
        free(j);
}

static void offsets_topic_job(void *arg)
{
    struct broker *b = arg;
    KASSERT(worker_is_current(b->admin));
    char seg[24];
    snprintf(seg, sizeof(seg), "%d", (int)b->cfg->offsets_topic_segment_bytes);
    char *kv[] = {"cleanup.policy",   "compact", "segment.bytes", seg,
                  "compression.type", "producer"};
    struct topic_spec sp = {.n_parts = b->cfg->offsets_topic_num_partitions,
                            .rf = b->cfg->offsets_topic_replication_factor,
                            .config_kv = kv,
                            .n_config = 3};
    snprintf(sp.name, sizeof(sp.name), "%s", TOPIC_CONSUMER_OFFSETS);
    char msg[256];
    kerr_t rc = admin_create_topic(b, &sp, false, msg, sizeof(msg));
    if (rc == KERR_NONE)
        say_info("group", "created %s partitions=%d replication_factor=%d", TOPIC_CONSUMER_OFFSETS,
                 (int)sp.n_parts, (int)sp.rf);
    else if (rc != KERR_TOPIC_ALREADY_EXISTS)
        say_warn_every(10000, "group", "cannot create %s yet err=%s reason=\"%s\"",
                       TOPIC_CONSUMER_OFFSETS, kerr_name(rc), msg);
    atomic_store(&b->offsets_topic_pending, false);
}

void admin_create_offsets_topic_async(struct broker *b)
{
    if (atomic_exchange(&b->offsets_topic_pending, true))
        return; /* one creation at a time */
    if (!worker_post(b->admin, offsets_topic_job, b))
        atomic_store(&b->offsets_topic_pending, false);
}

static void txn_topic_job(void *arg)
{
    struct broker *b = arg;
    KASSERT(worker_is_current(b->admin));
    char seg[24], isr[24];
    snprintf(seg, sizeof(seg), "%d", (int)b->cfg->transaction_state_log_segment_bytes);
    snprintf(isr, sizeof(isr), "%d", (int)b->cfg->transaction_state_log_min_isr);
    char *kv[] = {"cleanup.policy",
                  "compact",
                  "segment.bytes",
                  seg,
                  "min.insync.replicas",
                  isr,
                  "compression.type",
                  "uncompressed",
                  "unclean.leader.election.enable",
                  "false"};
    struct topic_spec sp = {.n_parts = b->cfg->transaction_state_log_num_partitions,
                            .rf = b->cfg->transaction_state_log_replication_factor,
                            .config_kv = kv,
                            .n_config = 5};
    snprintf(sp.name, sizeof(sp.name), "%s", TOPIC_TRANSACTION_STATE);
    char msg[256];
    kerr_t rc = admin_create_topic(b, &sp, false, msg, sizeof(msg));
    if (rc == KERR_NONE)
        say_info("txn", "created %s partitions=%d replication_factor=%d", TOPIC_TRANSACTION_STATE,
                 (int)sp.n_parts, (int)sp.rf);
    else if (rc != KERR_TOPIC_ALREADY_EXISTS)
        say_warn_every(10000, "txn", "cannot create %s yet err=%s reason=\"%s\"",
                       TOPIC_TRANSACTION_STATE, kerr_name(rc), msg);
    atomic_store(&b->txn_topic_pending, false);
}

void admin_create_txn_topic_async(struct broker *b)
{
    if (atomic_exchange(&b->txn_topic_pending, true))
        return; /* one creation at a time */
    if (!worker_post(b->admin, txn_topic_job, b))
        atomic_store(&b->txn_topic_pending, false);
}

static int load_one_topic(struct broker *b, const char *name)
{
    struct zk_topic zt;
    kerr_t rc = zk_store_topic_get(b->zk, name, &zt);
    if (rc != KERR_NONE) {
        say_error("zk", "cannot read topic topic=%s err=%s", name, kerr_name(rc));
        return -1;
    }
    char **kv = admin_topic_kv(&zt);
    char msg[256];
    rc = kv ? admin_apply_topic(b, name, zt.n_partitions, (int16_t)zt.replication_factor,
                                zt.replicas, kv, zt.n_configs, true, msg, sizeof(msg))
            : KERR__NOMEM;
    free(kv);
    zk_topic_destroy(&zt);
    if (rc != KERR_NONE) {
        say_error("storage", "cannot load topic topic=%s err=%s reason=\"%s\"", name, kerr_name(rc),
                  msg);
        return -1;
    }
    return 0;
}

/* Start-up topic loading: the topic names admin_load_topic_i() reads. */
struct load_ctx {
    struct broker *b;
    char **names;
};

static bool admin_load_topic_i(void *arg, int i)
{
    struct load_ctx *c = arg;
    return load_one_topic(c->b, c->names[i]) == 0;
}

int admin_load_topics(struct broker *b)
{
    struct load_ctx c = {.b = b};
    int n = 0;
    if (zk_store_topic_list(b->zk, &c.names, &n) != KERR_NONE) {
        say_error("zk", "cannot list topics");
        return -1;
    }
    /* num.recovery.threads.per.data.dir threads in all: topics are shared
     * among up to that many, each opening its partitions with the rest
     * (topic_create); b->recovery is read-only while they run. */
    int configured = b->recovery.threads, total = MAX(1, MIN(configured, PAR_MAX_THREADS));
    int outer = MAX(1, MIN(total, n));
    b->recovery.threads = MAX(1, total / outer);
    bool ok = par_for(n, outer, admin_load_topic_i, &c);
    b->recovery.threads = configured;
    zk_names_free(c.names, n);
    return ok ? 0 : -1;
}

void admin_refresh_brokers(struct broker *b)
{
    struct zk_broker_reg *regs = NULL;
    int n = 0;
    if (zk_store_list_brokers(b->zk, &regs, &n) != KERR_NONE) {
        say_warn("zk", "cannot list live brokers");
        return;
    }
    struct broker_info *live = calloc((size_t)(n ? n : 1), sizeof(*live));
    if (!live) {
        free(regs);
        return;
    }
    for (int i = 0; i < n; i++) {
        live[i].id = regs[i].id;
        snprintf(live[i].rack, sizeof(live[i].rack), "%s", regs[i].rack);
        live[i].n_endpoints = MIN(regs[i].n_endpoints, CONFIG_MAX_LISTENERS);
        for (int e = 0; e < live[i].n_endpoints; e++) {
            struct broker_endpoint *ep = &live[i].ep[e];
            snprintf(ep->listener, sizeof(ep->listener), "%s", regs[i].ep[e].listener);
            snprintf(ep->host, sizeof(ep->host), "%s", regs[i].ep[e].host);
            ep->port = regs[i].ep[e].port;
        }
    }
    free(regs);
    pthread_mutex_lock(&b->brokers_lock);
    free(b->live);
    b->live = live;
    b->n_live = n;
    pthread_mutex_unlock(&b->brokers_lock);
}

struct topic *admin_ensure_topic(struct broker *b, const char *name)
{
    KASSERT(worker_is_current(b->admin));
    struct topic *t = topics_get(b->topics, name, strlen(name));
    if (!t && load_one_topic(b, name) == 0)
        t = topics_get(b->topics, name, strlen(name));
    return t;
}

struct topic *admin_ensure_partitions(struct broker *b, const char *name, int32_t n_parts)
{
    KASSERT(worker_is_current(b->admin));
    struct topic *t = admin_ensure_topic(b, name);
    if (!t || t->n_parts >= n_parts)
        return t;
    struct zk_topic zt;
    if (zk_store_topic_get(b->zk, name, &zt) != KERR_NONE)
        return t;
    char msg[256];
    kerr_t rc = KERR_NONE;
    if (zt.n_partitions > t->n_parts)
        rc = topic_grow(t, zt.n_partitions, zt.replicas, zt.replication_factor, b->id, msg,
                        sizeof(msg));
    if (rc != KERR_NONE)
        say_error("storage", "cannot add partitions topic=%s partitions=%d err=%s reason=\"%s\"",
                  name, zt.n_partitions, kerr_name(rc), msg);
    zk_topic_destroy(&zt);
    return t;
}

/* ---- CreatePartitions --------------------------------------------------- */

/* The replication factor new partitions get: partition 0's replica count,
 * as Kafka takes it (rows of zt may differ while or after partitions are
 * reassigned; shorter ones end in ZK_NO_REPLICA). */
static int first_row_len(const struct zk_topic *zt)
{
    int n = 0;
    while (n < zt->replication_factor && zt->replicas[n] != ZK_NO_REPLICA)
        n++;
    return n;
}

/* Checks sp against the topic as stored (zt) and the live brokers. */
static kerr_t validate_partitions(struct broker *b, const struct partitions_spec *sp,
                                  const struct zk_topic *zt, const struct broker_info *live,
                                  int n_live, char *msg, size_t n)
{
    if (sp->count > b->cfg->gregor_max_partitions) {
        snprintf(msg, n, "number of partitions %d is larger than gregor.max.partitions (%d)",
                 sp->count, b->cfg->gregor_max_partitions);
        return KERR_INVALID_PARTITIONS;
    }
    if (sp->count < zt->n_partitions) {
        snprintf(msg, n, "topic currently has %d partitions, more than the requested %d",
                 zt->n_partitions, sp->count);
        return KERR_INVALID_PARTITIONS;
    }
    if (sp->count == zt->n_partitions) {
        snprintf(msg, n, "topic already has %d partitions", zt->n_partitions);
        return KERR_INVALID_PARTITIONS;
    }
    if (!sp->assignment)
        return KERR_NONE;
    int32_t added = sp->count - zt->n_partitions;
    if (sp->n_assigned != added) {
        snprintf(msg, n, "adding %d partitions but %d assignments given", added, sp->n_assigned);
        return KERR_INVALID_REPLICA_ASSIGNMENT;
    }
    if (sp->assigned_rf != first_row_len(zt)) {
        snprintf(msg, n,
                 "every assignment must list %d replicas (the topic's replication "
                 "factor)",
                 first_row_len(zt));
        return KERR_INVALID_REPLICA_ASSIGNMENT;
    }
    struct topic_spec ts = {.assignment = sp->assignment,
                            .n_assigned_parts = sp->n_assigned,
                            .assigned_rf = sp->assigned_rf};
    return validate_assignment(&ts, live, n_live, msg, n);
}

/* Fills rows zt->n_partitions .. count-1 of out (count rows of
 * zt->replication_factor ids, rows below copied from zt, new rows of
 * first_row_len() replicas padded with ZK_NO_REPLICA) from sp's assignment
 * or the round-robin placement continued from the existing partitions. */
static kerr_t place_new_partitions(const struct partitions_spec *sp, const struct zk_topic *zt,
                                   const struct broker_info *live, int n_live, int32_t *out,
                                   char *msg, size_t n)
{
    size_t w = (size_t)zt->replication_factor, rf = (size_t)first_row_len(zt);
    size_t old = (size_t)zt->n_partitions * w;
    memcpy(out, zt->replicas, sizeof(int32_t) * old);
    int32_t added = sp->count - zt->n_partitions;
    int32_t *rows = malloc(sizeof(int32_t) * (size_t)added * rf);
    struct assign_broker *ab = calloc((size_t)(n_live ? n_live : 1), sizeof(*ab));
    kerr_t rc = rows && ab ? KERR_NONE : KERR_UNKNOWN_SERVER_ERROR;
    if (rc == KERR_NONE && sp->assignment) {
        memcpy(rows, sp->assignment, sizeof(int32_t) * (size_t)added * rf);
    } else if (rc == KERR_NONE) {
        for (int i = 0; i < n_live; i++)
            ab[i] = (struct assign_broker){.id = live[i].id, .rack = live[i].rack};
        /* Kafka starts at partition 0's preferred leader and keeps counting */
        int start = zt->n_partitions > 0 ? assign_index_of(ab, n_live, zt->replicas[0]) : -1;
        rc = assign_replicas(ab, n_live, added, (int16_t)rf, zt->n_partitions,
                             start < 0 ? 0 : start, -1, rows);
    }
    for (int32_t p = 0; rc == KERR_NONE && p < added; p++)
        for (size_t r = 0; r < w; r++)
            out[old + (size_t)p * w + r] = r < rf ? rows[(size_t)p * rf + r] : ZK_NO_REPLICA;
    free(rows);
    free(ab);
    if (rc == KERR_INVALID_REPLICATION_FACTOR)
        snprintf(msg, n, "replication factor %zu is larger than the %d available broker(s)", rf,
                 n_live);
    else if (rc == KERR_INVALID_REPLICA_ASSIGNMENT)
        snprintf(msg, n, "some live brokers have broker.rack set and others do not");
    else if (rc != KERR_NONE)
        snprintf(msg, n, "cannot assign replicas: %s", kerr_name(rc));
    return rc;
}

/* Pads a reassignment row array (old rows of width w) to count rows with
 * empty new rows; false on OOM. NULL stays NULL. */
static bool grow_rows(int32_t **rows, int old, int count, int w)
{
    if (!*rows)
        return true;
    int32_t *g = realloc(*rows, sizeof(int32_t) * (size_t)count * (size_t)w);
    if (!g)
        return false;
    for (size_t i = (size_t)old * (size_t)w; i < (size_t)count * (size_t)w; i++)
        g[i] = ZK_NO_REPLICA;
    *rows = g;
    return true;
}

/* One read-validate-write attempt; KERR__EXISTS when the assignment
 * changed since it was read. */
static kerr_t create_partitions_once(struct broker *b, const struct partitions_spec *sp,
                                     bool validate_only, const struct broker_info *live, int n_live,
                                     char *msg, size_t n)
{
    struct zk_topic zt;
    kerr_t rc = zk_store_topic_get(b->zk, sp->name, &zt);
    if (rc == KERR_UNKNOWN_TOPIC_OR_PARTITION || rc == KERR__NOENT ||
        rc == KERR_INVALID_TOPIC_EXCEPTION) {
        snprintf(msg, n, "topic '%s' does not exist", sp->name);
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    if (rc != KERR_NONE)
        return zk_failure(rc, "read the topic from ZooKeeper", msg, n);
    rc = validate_partitions(b, sp, &zt, live, n_live, msg, n);
    int32_t *out = NULL;
    if (rc == KERR_NONE && !validate_only) {
        out = malloc(sizeof(int32_t) * (size_t)sp->count * (size_t)zt.replication_factor);
        rc = out ? place_new_partitions(sp, &zt, live, n_live, out, msg, n)
                 : KERR_UNKNOWN_SERVER_ERROR;
    }
    if (rc == KERR_NONE && !validate_only) {
        int32_t old = zt.n_partitions;
        free(zt.replicas);
        zt.replicas = out; /* zt owns it now */
        out = NULL;
        zt.n_partitions = sp->count;
        /* reassignments in progress stay as they are; new rows have none */
        bool ok = grow_rows(&zt.adding, old, sp->count, zt.replication_factor) &&
                  grow_rows(&zt.removing, old, sp->count, zt.replication_factor);
        rc = ok ? zk_store_topic_assignment_set(b->zk, &zt) : KERR_UNKNOWN_SERVER_ERROR;
        if (rc == KERR_NONE)
            say_info("kafka", "partitions added topic=%s partitions=%d from=%d", sp->name,
                     sp->count, old);
        else if (rc == KERR_UNKNOWN_TOPIC_OR_PARTITION)
            snprintf(msg, n, "topic '%s' was deleted", sp->name);
        else if (rc == KERR_NOT_CONTROLLER)
            snprintf(msg, n, "another controller is being elected; retry");
        else if (rc != KERR__EXISTS)
            rc = zk_failure(rc, "store the assignment in ZooKeeper", msg, n);
    }
    free(out);
    zk_topic_destroy(&zt);
    return rc;
}

kerr_t admin_create_partitions(struct broker *b, const struct partitions_spec *sp,
                               bool validate_only, char *msg, size_t n)
{
    KASSERT(worker_is_current(b->admin));
    int n_live;
    struct broker_info *live = broker_live_brokers(b, &n_live);
    kerr_t rc = KERR__EXISTS;
    for (int attempt = 0; attempt < 5 && rc == KERR__EXISTS; attempt++)
        rc = create_partitions_once(b, sp, validate_only, live, n_live, msg, n);
    if (rc == KERR__EXISTS) {
        snprintf(msg, n, "the topic's assignment kept changing; try again");
        rc = KERR_UNKNOWN_SERVER_ERROR;
    }
    free(live);
    return rc;
}
