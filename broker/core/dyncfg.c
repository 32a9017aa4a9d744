/*
 * broker/core/dyncfg.c — dynamic broker configs in ZooKeeper: AlterConfigs
 * and IncrementalAlterConfigs on BROKER resources write
 * /config/brokers/<id> or /config/brokers/<default> (a TopicConfig map,
 * controller/zk/zk_store.h) and add a change notification naming
 * "brokers" / <entity>; every broker re-reads its own and the default
 * overrides on such a notification (config_watch.c) and at start, and
 * installs them (broker/config/dynamic.h): the live atomics, the log
 * cleaner's I/O rate, the topic
 * defaults b->topic_defaults, and every topic's effective config (its own
 * overrides over the new defaults).
 *
 * Threads: dyncfg_load() runs on the main thread at start-up (before the
 * workers) and on the admin worker afterwards, the only writer of
 * b->topic_defaults and b->dyn; dyncfg_alter() runs on the admin worker.
 */
#include "broker/core/dyncfg.h"
#include "broker/config/dynamic.h"
#include "broker/core/broker.h"
#include "broker/replication/topics.h"
#include "broker/storage/cleaner_pool.h"
#include "common/loop/worker.h"
#include "common/say.h"
#include "common/vec.h"
#include "controller/zk/zk_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Returns new malloc'd pairs copied from zt's configs (NULL, *n 0 when
 * none or out of memory: *ok false then). */
static char **zt_pairs(const struct zk_topic *zt, int *n, bool *ok)
{
    *n = 0;
    *ok = true;
    if (zt->n_configs <= 0)
        return NULL;
    char **kv = calloc((size_t)(2 * zt->n_configs), sizeof(*kv));
    if (!kv) {
        *ok = false;
        return NULL;
    }
    for (int i = 0; i < zt->n_configs; i++) {
        kv[2 * i] = strdup(zt->config_keys[i]);
        kv[2 * i + 1] = strdup(zt->config_values[i]);
        if (!kv[2 * i] || !kv[2 * i + 1])
            *ok = false;
    }
    if (!*ok) {
        dynamic_kv_free(kv, zt->n_configs);
        return NULL;
    }
    *n = zt->n_configs;
    return kv;
}

/* Reads entity's overrides: new pairs in *kv / *n. */
static kerr_t read_entity(struct broker *b, const char *entity, char ***kv, int *n)
{
    struct zk_topic zt;
    *kv = NULL;
    *n = 0;
    kerr_t rc = zk_store_broker_config_get(b->zk, entity, &zt);
    if (rc != KERR_NONE)
        return rc;
    bool ok;
    *kv = zt_pairs(&zt, n, &ok);
    zk_topic_destroy(&zt);
    return ok ? KERR_NONE : KERR__NOMEM;
}

/* Re-applies every topic's own overrides over the current defaults. */
static void reapply_topics(struct broker *b)
{
    int n = 0;
    struct topic **all = topics_list(b->topics, &n);
    for (int i = 0; all && i < n; i++) {
        int n_kv;
        char **kv = topic_get_config(all[i], &n_kv);
        if (!kv || !topic_set_config(all[i], kv, n_kv, &b->topic_defaults))
            say_warn("kafka", "cannot apply the new broker defaults topic=%s: out of memory",
                     all[i]->name);
        dynamic_kv_free(kv, kv ? n_kv : 0);
    }
    topics_list_free(all, n);
}

void dyncfg_load(struct broker *b)
{
    KASSERT(!b->admin || worker_is_current(b->admin));
    char id[16];
    snprintf(id, sizeof(id), "%d", b->id);
    char **mine = NULL, **def = NULL;
    int n_mine = 0, n_def = 0;
    kerr_t rc = read_entity(b, id, &mine, &n_mine);
    if (rc == KERR_NONE)
        rc = read_entity(b, ZK_BROKER_CONFIG_DEFAULT, &def, &n_def);
    if (rc != KERR_NONE) {
        say_warn("zk", "cannot read the dynamic broker configs err=%s; keeping the current values",
                 kerr_name(rc));
        dynamic_kv_free(mine, n_mine);
        dynamic_kv_free(def, n_def);
        return;
    }
    /* values ZooKeeper holds were checked when written; a key this version
     * does not know (or no longer treats as dynamic) is ignored */
    for (int pass = 0; pass < 2; pass++) {
        char **kv = pass ? def : mine;
        int *cnt = pass ? &n_def : &n_mine;
        for (int i = 0; i < *cnt; i++) {
            char why[256];
            if (dynamic_validate(kv[2 * i], kv[2 * i + 1], why, sizeof(why)))
                continue;
            say_warn("kafka", "ignoring dynamic broker config entity=%s: %s",
                     pass ? ZK_BROKER_CONFIG_DEFAULT : id, why);
            free(kv[2 * i]);
            free(kv[2 * i + 1]);
            kv[2 * i] = kv[2 * (*cnt - 1)];
            kv[2 * i + 1] = kv[2 * (*cnt - 1) + 1];
            (*cnt)--;
            i--;
        }
    }
    struct topic_config tc;
    int nm = n_mine, nd = n_def;
    if (!dynamic_apply(&b->dyn, b->cfg, mine, n_mine, def, n_def, &tc)) {
        say_warn("kafka", "cannot apply the dynamic broker configs: out of memory");
        return;
    }
    if (b->cleaner) /* NULL at start-up: log_manager_start() reads the live rate */
        cleaner_pool_set_io_rate(b->cleaner,
                                 atomic_load(&b->dyn.log_cleaner_io_max_bytes_per_second));
    bool changed = memcmp(&tc, &b->topic_defaults, sizeof(tc)) != 0;
    b->topic_defaults = tc;
    if (changed && b->topics)
        reapply_topics(b);
    say_info("kafka", "dynamic broker configs applied broker=%d default=%d topic_defaults=%s", nm,
             nd, changed ? "changed" : "same");
}

bool dyncfg_concerns(const struct broker *b, const char *entity)
{
    char id[16];
    snprintf(id, sizeof(id), "%d", b->id);
    return strcmp(entity, id) == 0 || strcmp(entity, ZK_BROKER_CONFIG_DEFAULT) == 0;
}

/* Sets (value != NULL) or deletes key in the pairs *kv / *n. */
static bool pairs_set(char ***kv, int *n, size_t *cap, const char *key, const char *value)
{
    for (int i = 0; i < *n; i++) {
        if (strcmp((*kv)[2 * i], key) != 0)
            continue;
        free((*kv)[2 * i + 1]);
        if (value)
            return ((*kv)[2 * i + 1] = strdup(value)) != NULL;
        free((*kv)[2 * i]);
        (*kv)[2 * i] = (*kv)[2 * (*n - 1)];
        (*kv)[2 * i + 1] = (*kv)[2 * (*n - 1) + 1];
        (*n)--;
        return true;
    }
    if (!value)
        return true;
    if (!VEC_RESERVE_AT(*kv, *cap, 2 * (size_t)*n + 2))
        return false;
    (*kv)[2 * *n] = strdup(key);
    (*kv)[2 * *n + 1] = strdup(value);
    (*n)++;
    return (*kv)[2 * *n - 2] && (*kv)[2 * *n - 1];
}

/* The Kafka error for a failed ZooKeeper call (as admin.c answers). */
static kerr_t zk_failure(kerr_t rc, char *msg, size_t n)
{
    if (rc >= 0)
        return rc;
    if (rc == KERR__ZK || rc == KERR__TIMEOUT) {
        snprintf(msg, n, "ZooKeeper is unavailable; retry later");
        return KERR_REQUEST_TIMED_OUT;
    }
    snprintf(msg, n, "cannot store the broker config: %s", kerr_name(rc));
    return KERR_UNKNOWN_SERVER_ERROR;
}

/* Checks that name is "" or a registered broker id; fills entity. */
static kerr_t resolve_entity(struct broker *b, const char *name, char *entity, size_t n, char *msg,
                             size_t msglen)
{
    if (!*name) {
        snprintf(entity, n, "%s", ZK_BROKER_CONFIG_DEFAULT);
        return KERR_NONE;
    }
    char *end;
    long id = strtol(name, &end, 10);
    if (*end || id < 0 || id > INT32_MAX || !(*name >= '0' && *name <= '9')) {
        snprintf(msg, msglen,
                 "broker resource name '%s' is not a broker id (or \"\" for the "
                 "cluster default)",
                 name);
        return KERR_INVALID_REQUEST;
    }
    struct zk_broker_reg *regs = NULL;
    int nr = 0;
    kerr_t rc = zk_store_list_brokers(b->zk, &regs, &nr);
    if (rc != KERR_NONE)
        return zk_failure(rc, msg, msglen);
    bool found = false;
    for (int i = 0; i < nr; i++)
        found |= regs[i].id == (int32_t)id;
    free(regs);
    if (!found) {
        snprintf(msg, msglen, "broker %ld is not registered in the cluster", id);
        return KERR_INVALID_REQUEST;
    }
    snprintf(entity, n, "%ld", id);
    return KERR_NONE;
}

/* One read-modify-write attempt; KERR__EXISTS when another write won. */
static kerr_t alter_once(struct broker *b, const char *entity, const struct dyncfg_op *ops,
                         int n_ops, bool incremental, bool validate_only, char *msg, size_t msglen)
{
    struct zk_topic zt;
    kerr_t rc = zk_store_broker_config_get(b->zk, entity, &zt);
    if (rc != KERR_NONE)
        return zk_failure(rc, msg, msglen);
    int32_t version = zt.config_version;
    char **kv = NULL;
    int n = 0;
    bool ok = true;
    if (incremental)
        kv = zt_pairs(&zt, &n, &ok);
    zk_topic_destroy(&zt);
    size_t cap = 2 * (size_t)n;
    rc = ok ? KERR_NONE : KERR__NOMEM;
    for (int i = 0; rc == KERR_NONE && i < n_ops; i++) {
        const struct dyncfg_op *o = &ops[i];
        if (o->op == 0 && !dynamic_validate(o->key, o->value ? o->value : "", msg, msglen))
            rc = KERR_INVALID_REQUEST;
        else if (o->op == 1 && config_key_find(o->key) < 0) {
            snprintf(msg, msglen, "unknown broker config '%s'", o->key);
            rc = KERR_INVALID_REQUEST;
        } else if (o->op != 0 && o->op != 1) {
            snprintf(msg, msglen, "operation %d is not valid for broker config '%s'", o->op,
                     o->key);
            rc = KERR_INVALID_REQUEST;
        } else if (!pairs_set(&kv, &n, &cap, o->key,
                              o->op == 0 ? (o->value ? o->value : "") : NULL)) {
            rc = KERR__NOMEM;
        }
    }
    if (rc == KERR_NONE && !validate_only) {
        struct zk_topic w = {.n_configs = n, .config_version = version};
        snprintf(w.name, sizeof(w.name), "%s", entity);
        w.config_keys = calloc((size_t)(n ? n : 1), sizeof(*w.config_keys));
        w.config_values = calloc((size_t)(n ? n : 1), sizeof(*w.config_values));
        rc = w.config_keys && w.config_values ? KERR_NONE : KERR__NOMEM;
        for (int i = 0; rc == KERR_NONE && i < n; i++)
            if ((size_t)snprintf(w.config_keys[i], sizeof(w.config_keys[i]), "%s", kv[2 * i]) >=
                    sizeof(w.config_keys[i]) ||
                (size_t)snprintf(w.config_values[i], sizeof(w.config_values[i]), "%s",
                                 kv[2 * i + 1]) >= sizeof(w.config_values[i])) {
                snprintf(msg, msglen, "the value of '%s' is too long", kv[2 * i]);
                rc = KERR_INVALID_REQUEST;
            }
        if (rc == KERR_NONE)
            rc = zk_store_broker_config_set(b->zk, &w);
        free(w.config_keys);
        free(w.config_values);
    }
    dynamic_kv_free(kv, n);
    if (rc == KERR__NOMEM) {
        snprintf(msg, msglen, "out of memory");
        return KERR_UNKNOWN_SERVER_ERROR;
    }
    return rc;
}

kerr_t dyncfg_alter(struct broker *b, const char *name, const struct dyncfg_op *ops, int n_ops,
                    bool incremental, bool validate_only, char *msg, size_t msglen)
{
    KASSERT(worker_is_current(b->admin));
    char entity[32];
    kerr_t rc = resolve_entity(b, name, entity, sizeof(entity), msg, msglen);
    for (int tries = 0; rc == KERR_NONE && tries < 5; tries++) {
        rc = alter_once(b, entity, ops, n_ops, incremental, validate_only, msg, msglen);
        if (rc != KERR__EXISTS)
            break;
    }
    if (rc == KERR__EXISTS) {
        snprintf(msg, msglen, "the broker config kept changing concurrently; retry");
        rc = KERR_REQUEST_TIMED_OUT;
    } else if (rc < 0) {
        rc = zk_failure(rc, msg, msglen);
    }
    if (rc != KERR_NONE || validate_only)
        return rc;
    say_info("kafka", "dynamic broker config changed entity=%s changes=%d", entity, n_ops);
    if (zk_store_config_change_notify(b->zk, "brokers", entity) != KERR_NONE)
        say_warn("zk",
                 "cannot notify the other brokers of the config change of brokers/%s; "
                 "they apply it when they restart",
                 entity);
    if (dyncfg_concerns(b, entity))
        dyncfg_load(b);
    return KERR_NONE;
}
