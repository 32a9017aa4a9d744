/*
 * broker/admin.c — topic creation and deletion, start-up topic loading and
 * the live-broker list, for the single-broker stage (see admin.h).
 *
 * Creation: validate (name, counts, replication factor against live
 * brokers, explicit assignment, configs) -> assign replicas round-robin
 * over live brokers -> write /brokers/topics/<t> (+ /config/topics/<t>) ->
 * write each partition's state (leader = first replica, epoch 0, ISR = all
 * replicas) -> add the topic to the local registry, opening local logs.
 * Deletion: remove the znodes, then drop the topic from the registry; its
 * log directories are removed when the last reference goes.
 */
#include "broker/admin.h"
#include "broker/log_manager.h"
#include "broker/net/worker.h"
#include "broker/server.h"
#include "broker/topics.h"
#include "controller/assign.h"
#include "controller/zk_store.h"
#include "common/base.h"
#include "common/say.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BROKER_REFRESH_MS 2000

bool admin_topic_name_valid(const char *name, size_t len)
{
    if (!name || len == 0 || len > TOPIC_NAME_MAX)
        return false;
    if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
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
    if (!admin_topic_name_valid(sp->name, strlen(sp->name))) {
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

/* Writes the partition states and adds the topic locally. */
static kerr_t admin_apply_topic(struct broker *b, const char *name, int32_t n_parts, int16_t rf,
                                const int32_t *replicas, char *const *kv, int n_kv, bool startup,
                                char *msg, size_t n)
{
    for (int32_t p = 0; !startup && p < n_parts; p++) {
        struct zk_partition_state st = {.leader = replicas[p * rf], .version = ZK_VERSION_NEW};
        st.n_isr = rf;
        memcpy(st.isr, &replicas[p * rf], sizeof(int32_t) * (size_t)rf);
        kerr_t rc = zk_store_partition_state_set(b->zk, name, p, &st);
        if (rc != KERR_NONE && rc != KERR__EXISTS) {
            snprintf(msg, n, "cannot write partition state: %s", kerr_name(rc));
            return KERR_UNKNOWN_SERVER_ERROR;
        }
    }
    struct topic *t = topic_create(name, n_parts, rf, replicas, kv, n_kv, &b->topic_defaults,
                                   b->data_dir, b->id, startup ? &b->recovery : NULL, msg, n);
    if (!t)
        return KERR_KAFKA_STORAGE_ERROR;
    for (int32_t p = 0; p < n_parts; p++) {
        t->parts[p]->leader = replicas[p * rf];
        t->parts[p]->leader_epoch = 0;
        if (startup)
            log_manager_restore(b, t->parts[p]);
    }
    if (!topics_add(b->topics, t)) {
        topic_unref(t);
        snprintf(msg, n, "topic '%s' already exists", name);
        return KERR_TOPIC_ALREADY_EXISTS;
    }
    say_info("kafka", "topic created topic=%s partitions=%d replication_factor=%d", name, n_parts,
             rf);
    return KERR_NONE;
}

static kerr_t admin_write_topic(struct broker *b, const struct topic_spec *sp, int32_t n_parts,
                                int16_t rf, int32_t *replicas, char *msg, size_t n)
{
    struct zk_topic zt = {.n_partitions = n_parts, .replication_factor = rf, .replicas = replicas};
    snprintf(zt.name, sizeof(zt.name), "%s", sp->name);
    zt.n_configs = sp->n_config;
    zt.config_keys = calloc((size_t)(sp->n_config + 1), sizeof(*zt.config_keys));
    zt.config_values = calloc((size_t)(sp->n_config + 1), sizeof(*zt.config_values));
    kerr_t rc = KERR_UNKNOWN_SERVER_ERROR;
    if (zt.config_keys && zt.config_values) {
        for (int i = 0; i < sp->n_config; i++) {
            snprintf(zt.config_keys[i], sizeof(zt.config_keys[i]), "%s", sp->config_kv[2 * i]);
            snprintf(zt.config_values[i], sizeof(zt.config_values[i]), "%s",
                     sp->config_kv[2 * i + 1]);
        }
        rc = zk_store_topic_create(b->zk, &zt);
    }
    free(zt.config_keys);
    free(zt.config_values);
    if (rc == KERR_TOPIC_ALREADY_EXISTS)
        snprintf(msg, n, "topic '%s' already exists", sp->name);
    else if (rc != KERR_NONE)
        snprintf(msg, n, "cannot store topic in ZooKeeper: %s", kerr_name(rc));
    if (rc != KERR_NONE && rc != KERR_TOPIC_ALREADY_EXISTS && rc != KERR_INVALID_TOPIC_EXCEPTION)
        rc = KERR_UNKNOWN_SERVER_ERROR;
    return rc;
}

kerr_t admin_create_topic(struct broker *b, const struct topic_spec *sp, bool validate_only,
                          char *msg, size_t n)
{
    const struct broker_config *cfg = b->cfg;
    int n_live;
    struct broker_info *live = server_live_brokers(b, &n_live);
    int32_t n_parts = sp->assignment ? sp->n_assigned_parts
                                     : (sp->n_parts == -1 ? cfg->num_partitions : sp->n_parts);
    int16_t rf = sp->assignment ? (int16_t)sp->assigned_rf
                                : (sp->rf == -1 ? cfg->default_replication_factor : sp->rf);
    int32_t *replicas = NULL;
    kerr_t rc = sp->assignment ? validate_assignment(sp, live, n_live, msg, n) : KERR_NONE;
    if (rc == KERR_NONE)
        rc = validate_spec(b, sp, n_parts, rf, n_live, msg, n);
    if (rc == KERR_NONE) {
        struct topic *t = topics_get(b->topics, sp->name, strlen(sp->name));
        if (t) {
            snprintf(msg, n, "topic '%s' already exists", sp->name);
            rc = KERR_TOPIC_ALREADY_EXISTS;
        }
        topic_unref(t);
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
        rc = admin_apply_topic(b, sp->name, n_parts, rf, replicas, sp->config_kv, sp->n_config,
                               false, msg, n);
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
    upd.n_configs = n_kv;
    upd.config_keys = calloc((size_t)n_kv + 1, sizeof(*upd.config_keys));
    upd.config_values = calloc((size_t)n_kv + 1, sizeof(*upd.config_values));
    if (upd.config_keys && upd.config_values) {
        for (int i = 0; i < n_kv; i++) {
            snprintf(upd.config_keys[i], sizeof(upd.config_keys[i]), "%s", kv[2 * i]);
            snprintf(upd.config_values[i], sizeof(upd.config_values[i]), "%s", kv[2 * i + 1]);
        }
        rc = zk_store_topic_config_set(b->zk, &upd);
    } else {
        rc = KERR__NOMEM;
    }
    free(upd.config_keys);
    free(upd.config_values);
    zk_topic_destroy(&zt);
    return rc;
}

kerr_t admin_alter_topic_config(struct broker *b, const char *name, char *const *kv, int n_kv,
                                bool validate_only, char *msg, size_t n)
{
    struct topic *t = topics_get(b->topics, name, strlen(name));
    if (!t) {
        snprintf(msg, n, "topic '%s' does not exist", name);
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    kerr_t rc = KERR_NONE;
    for (int i = 0; i < n_kv && rc == KERR_NONE; i++)
        if (!topic_config_validate(kv[2 * i], kv[2 * i + 1], msg, n))
            rc = KERR_INVALID_CONFIG;
    if (rc == KERR_NONE && !validate_only) {
        rc = store_topic_config(b, name, kv, n_kv);
        if (rc != KERR_NONE) {
            snprintf(msg, n, "cannot store the topic config in ZooKeeper: %s", kerr_name(rc));
            rc = KERR_UNKNOWN_SERVER_ERROR;
        } else if (!topic_set_config(t, kv, n_kv, &b->topic_defaults)) {
            snprintf(msg, n, "out of memory");
            rc = KERR_UNKNOWN_SERVER_ERROR;
        } else {
            say_info("kafka", "topic config changed topic=%s overrides=%d", name, n_kv);
        }
    }
    topic_unref(t);
    return rc;
}

/* Drops a topic from the registry; its log directories are removed when
 * the last reference goes. */
static void remove_local_topic(struct broker *b, const char *name)
{
    struct topic *t = topics_remove(b->topics, name);
    if (!t)
        return;
    t->delete_files = true;
    for (int32_t p = 0; p < t->n_parts; p++)
        partition_mark_deleted(t->parts[p]);
    topic_unref(t);
    say_info("kafka", "topic deleted topic=%s", name);
}

kerr_t admin_delete_topic(struct broker *b, const char *name)
{
    if (!b->cfg->delete_topic_enable)
        return KERR_TOPIC_DELETION_DISABLED;
    struct topic *t = topics_get(b->topics, name, strlen(name));
    if (!t)
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    topic_unref(t);
    kerr_t rc = zk_store_topic_delete(b->zk, name);
    if (rc != KERR_NONE && rc != KERR_UNKNOWN_TOPIC_OR_PARTITION) {
        say_error("kafka", "topic deletion failed topic=%s err=%s", name, kerr_name(rc));
        return KERR_UNKNOWN_SERVER_ERROR;
    }
    remove_local_topic(b, name);
    return KERR_NONE;
}

struct auto_job {
    struct broker *b;
    char name[TOPIC_NAME_MAX + 1];
};

static void auto_create_job(void *arg)
{
    struct auto_job *j = arg;
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
    if (!j || len > TOPIC_NAME_MAX) {
        free(j);
        return;
    }
    j->b = b;
    memcpy(j->name, name, len);
    if (!worker_post(b->admin, auto_create_job, j))
        free(j);
}

static int load_one_topic(struct broker *b, const char *name)
{
    struct zk_topic zt;
    kerr_t rc = zk_store_topic_get(b->zk, name, &zt);
    if (rc != KERR_NONE) {
        say_error("zk", "cannot read topic topic=%s err=%s", name, kerr_name(rc));
        return -1;
    }
    char **kv = calloc((size_t)(2 * zt.n_configs + 1), sizeof(char *));
    for (int i = 0; kv && i < zt.n_configs; i++) {
        kv[2 * i] = zt.config_keys[i];
        kv[2 * i + 1] = zt.config_values[i];
    }
    char msg[256];
    rc = kv ? admin_apply_topic(b, name, zt.n_partitions, (int16_t)zt.replication_factor,
                                zt.replicas, kv, zt.n_configs, true, msg, sizeof(msg))
            : KERR__NOMEM;
    free(kv);
    zk_topic_destroy(&zt);
    if (rc != KERR_NONE) {
        say_error("storage", "cannot load topic topic=%s err=%s reason=\"%s\"", name,
                  kerr_name(rc), msg);
        return -1;
    }
    return 0;
}

int admin_load_topics(struct broker *b)
{
    char **names = NULL;
    int n = 0;
    if (zk_store_topic_list(b->zk, &names, &n) != KERR_NONE) {
        say_error("zk", "cannot list topics");
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++)
        rc = load_one_topic(b, names[i]);
    zk_names_free(names, n);
    return rc;
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

/* Makes the registry follow /brokers/topics: topics created or deleted
 * through other brokers appear and disappear here too. Until the cluster
 * controller pushes metadata (DESIGN.md §4), every broker reads the
 * assignments itself; the leader of a partition is its first replica.
 * Admin worker (the watch is re-armed before the list is read). */
static void sync_topics(struct broker *b)
{
    char **names = NULL;
    int n = 0;
    if (zk_store_watch_children(b->zk, ZK_PATH_TOPICS) != KERR_NONE ||
        zk_store_topic_list(b->zk, &names, &n) != KERR_NONE) {
        say_warn("zk", "cannot list topics");
        return;
    }
    for (int i = 0; i < n; i++) {
        struct topic *t = topics_get(b->topics, names[i], strlen(names[i]));
        if (!t)
            (void)load_one_topic(b, names[i]);
        topic_unref(t);
    }
    int n_local;
    struct topic **local = topics_list(b->topics, &n_local);
    for (int i = 0; local && i < n_local; i++) {
        bool listed = false;
        for (int k = 0; k < n && !listed; k++)
            listed = strcmp(names[k], local[i]->name) == 0;
        if (!listed)
            remove_local_topic(b, local[i]->name);
    }
    topics_list_free(local, n_local);
    zk_names_free(names, n);
}

static void sync_brokers(struct broker *b)
{
    if (zk_store_watch_children(b->zk, ZK_PATH_BROKER_IDS) != KERR_NONE)
        say_warn("zk", "cannot watch live brokers");
    admin_refresh_brokers(b);
}

struct admin_watch {
    struct broker *b;
    char path[256];
};

static void watch_job(void *arg)
{
    struct admin_watch *w = arg;
    if (strcmp(w->path, ZK_PATH_TOPICS) == 0)
        sync_topics(w->b);
    else if (strcmp(w->path, ZK_PATH_BROKER_IDS) == 0)
        sync_brokers(w->b);
    free(w);
}

/* ZooKeeper's completion thread: copy and post only. */
static void watch_cb(void *arg, enum zk_watch_event ev, const char *path)
{
    struct broker *b = arg;
    struct admin_watch *w = calloc(1, sizeof(*w));
    if (!w)
        return;
    w->b = b;
    snprintf(w->path, sizeof(w->path), "%s", path);
    if (!worker_post(b->admin, watch_job, w))
        free(w);
}

static void refresh_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    admin_refresh_brokers(arg);
}

static void admin_start_job(void *arg)
{
    struct broker *b = arg;
    zk_store_set_watch_cb(b->zk, watch_cb, b);
    sync_brokers(b);
    sync_topics(b);
    struct timeval tv = {BROKER_REFRESH_MS / 1000, (BROKER_REFRESH_MS % 1000) * 1000};
    b->refresh_ev = event_new(worker_base(b->admin), -1, EV_PERSIST, refresh_timer_cb, b);
    if (b->refresh_ev)
        event_add(b->refresh_ev, &tv);
}

static void admin_stop_job(void *arg)
{
    struct broker *b = arg;
    zk_store_set_watch_cb(b->zk, NULL, NULL);
    if (b->refresh_ev)
        event_free(b->refresh_ev);
    b->refresh_ev = NULL;
}

void admin_start(struct broker *b)
{
    worker_post(b->admin, admin_start_job, b);
}

void admin_stop(struct broker *b)
{
    worker_post(b->admin, admin_stop_job, b);
}
