/*
 * broker/config/dynamic.c — dynamic broker configs: the table of keys that
 * may change at run time, their validation (the start-up rules of
 * config.c), and the recomputation of the live values from the static
 * config under the override lists (dynamic.h).
 *
 * A key is dynamic only where the code that reads it takes the live value:
 * the replication throttle rates, the listener limits and the cleaner's
 * I/O rate read the atomics of struct broker_dynamic; the per-address
 * connection limits (max.connections.per.ip.overrides) go to the network
 * layer through d->on_ip_overrides, which resolves their host names; the topic defaults (log.*, message.max.bytes,
 * min.insync.replicas) reach every topic without an override of its own
 * through the topic defaults broker/core/dyncfg.c re-applies;
 * unclean.leader.election.enable is read by the controller, which re-reads
 * the same znodes itself (controller/ctrl_config.c).
 */
#include "broker/config/dynamic.h"
#include "broker/config/config_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base.h"

static const char *const dynamic_keys[] = {
    "leader.replication.throttled.rate",
    "follower.replication.throttled.rate",
    "max.connections",
    "max.connections.per.ip",
    "max.connections.per.ip.overrides",
    "message.max.bytes",
    "min.insync.replicas",
    "unclean.leader.election.enable",
    "log.retention.ms",
    "log.retention.bytes",
    "log.segment.bytes",
    "log.roll.ms",
    "log.cleanup.policy",
    "log.index.interval.bytes",
    "log.flush.interval.messages",
    "log.flush.interval.ms",
    "log.message.timestamp.type",
    "log.message.timestamp.difference.max.ms",
    "log.cleaner.min.cleanable.ratio",
    "log.cleaner.delete.retention.ms",
    "log.cleaner.min.compaction.lag.ms",
    "log.cleaner.max.compaction.lag.ms",
    "log.cleaner.io.max.bytes.per.second",
};

int dynamic_key_count(void) { return (int)ARRAY_LEN(dynamic_keys); }

const char *dynamic_key_name(int i)
{
    return i >= 0 && i < dynamic_key_count() ? dynamic_keys[i] : NULL;
}

bool dynamic_key_is_dynamic(const char *key)
{
    for (size_t i = 0; i < ARRAY_LEN(dynamic_keys); i++)
        if (strcmp(dynamic_keys[i], key) == 0)
            return true;
    return false;
}

bool dynamic_validate(const char *key, const char *value, char *err, size_t errlen)
{
    int idx = config_key_find(key);
    char why[256] = "";
    if (idx < 0) {
        snprintf(err, errlen, "unknown broker config '%s'", key);
        return false;
    }
    if (!dynamic_key_is_dynamic(key)) {
        snprintf(err, errlen, "broker config '%s' cannot be updated dynamically (read-only)", key);
        return false;
    }
    if (!config_key_check(idx, value, why, sizeof(why))) {
        snprintf(err, errlen, "invalid value '%s' for %s: %s", value, key, why);
        return false;
    }
    return true;
}

static void dynamic_set_live(struct broker_dynamic *d, const struct broker_config *c)
{
    atomic_store(&d->leader_replication_throttled_rate, c->leader_replication_throttled_rate);
    atomic_store(&d->follower_replication_throttled_rate, c->follower_replication_throttled_rate);
    atomic_store(&d->max_connections, c->max_connections);
    atomic_store(&d->max_connections_per_ip, c->max_connections_per_ip);
    /* Kafka's default, Double.MAX_VALUE, means no limit */
    double rate = c->log_cleaner_io_max_bytes_per_second
                      ? strtod(c->log_cleaner_io_max_bytes_per_second, NULL)
                      : -1;
    atomic_store(&d->log_cleaner_io_max_bytes_per_second, rate >= 1e300 ? -1 : rate);
}

/* Keeps c's parsed max.connections.per.ip.overrides in d; true when they
 * differ from those kept before. */
static bool dynamic_set_ip_overrides(struct broker_dynamic *d, const struct broker_config *c)
{
    pthread_mutex_lock(&d->lock);
    bool changed = d->n_ip_overrides != c->n_ip_overrides ||
                   memcmp(d->ip_override, c->ip_override,
                          sizeof(c->ip_override[0]) * (size_t)c->n_ip_overrides) != 0;
    memcpy(d->ip_override, c->ip_override, sizeof(c->ip_override[0]) * (size_t)c->n_ip_overrides);
    d->n_ip_overrides = c->n_ip_overrides;
    pthread_mutex_unlock(&d->lock);
    return changed;
}

void broker_dynamic_init(struct broker_dynamic *d, const struct broker_config *cfg)
{
    memset(d, 0, sizeof(*d));
    pthread_mutex_init(&d->lock, NULL);
    dynamic_set_live(d, cfg);
    (void)dynamic_set_ip_overrides(d, cfg);
}

void dynamic_kv_free(char **kv, int n)
{
    for (int i = 0; kv && i < 2 * n; i++)
        free(kv[i]);
    free(kv);
}

void dynamic_destroy(struct broker_dynamic *d)
{
    dynamic_kv_free(d->broker_kv, d->n_broker);
    dynamic_kv_free(d->default_kv, d->n_default);
    d->broker_kv = d->default_kv = NULL;
    d->n_broker = d->n_default = 0;
    pthread_mutex_destroy(&d->lock);
}

bool dynamic_apply(struct broker_dynamic *d, const struct broker_config *cfg, char **broker_kv,
                   int n_broker, char **default_kv, int n_default,
                   struct topic_config *topic_defaults)
{
    /* default first, then this broker's: later pairs win */
    int n = n_broker + n_default;
    char **all = calloc((size_t)(2 * n + 1), sizeof(*all));
    struct broker_config eff;
    if (!all) {
        dynamic_kv_free(broker_kv, n_broker);
        dynamic_kv_free(default_kv, n_default);
        return false;
    }
    for (int i = 0; i < 2 * n_default; i++)
        all[i] = default_kv[i];
    for (int i = 0; i < 2 * n_broker; i++)
        all[2 * n_default + i] = broker_kv[i];
    bool ok = config_copy_with(cfg, all, n, &eff);
    free(all);
    if (!ok) {
        dynamic_kv_free(broker_kv, n_broker);
        dynamic_kv_free(default_kv, n_default);
        return false;
    }
    dynamic_set_live(d, &eff);
    /* the parsed form follows the text (checked when it was set) */
    char why[256];
    eff.n_ip_overrides = 0;
    if (eff.max_connections_per_ip_overrides &&
        !ip_overrides_parse(eff.max_connections_per_ip_overrides, eff.ip_override,
                            &eff.n_ip_overrides, why, sizeof(why)))
        eff.n_ip_overrides = 0;
    if (dynamic_set_ip_overrides(d, &eff) && d->on_ip_overrides)
        d->on_ip_overrides(eff.ip_override, eff.n_ip_overrides);
    topic_config_defaults(topic_defaults, &eff);
    config_free(&eff);
    pthread_mutex_lock(&d->lock);
    char **ob = d->broker_kv, **od = d->default_kv;
    int nob = d->n_broker, nod = d->n_default;
    d->broker_kv = broker_kv;
    d->n_broker = broker_kv ? n_broker : 0;
    d->default_kv = default_kv;
    d->n_default = default_kv ? n_default : 0;
    pthread_mutex_unlock(&d->lock);
    dynamic_kv_free(ob, nob);
    dynamic_kv_free(od, nod);
    return true;
}

bool dynamic_override(struct broker_dynamic *d, bool per_broker, const char *key, char *buf,
                      size_t n)
{
    bool found = false;
    pthread_mutex_lock(&d->lock);
    char **kv = per_broker ? d->broker_kv : d->default_kv;
    int cnt = per_broker ? d->n_broker : d->n_default;
    for (int i = 0; i < cnt && !found; i++)
        if (strcmp(kv[2 * i], key) == 0) {
            snprintf(buf, n, "%s", kv[2 * i + 1]);
            found = true;
        }
    pthread_mutex_unlock(&d->lock);
    return found;
}

char **dynamic_overrides(struct broker_dynamic *d, bool per_broker, int *n)
{
    pthread_mutex_lock(&d->lock);
    char **kv = per_broker ? d->broker_kv : d->default_kv;
    int cnt = per_broker ? d->n_broker : d->n_default;
    char **out = calloc((size_t)(2 * cnt + 1), sizeof(*out));
    bool ok = out != NULL;
    for (int i = 0; ok && i < 2 * cnt; i++)
        ok = (out[i] = strdup(kv[i])) != NULL;
    pthread_mutex_unlock(&d->lock);
    if (!ok) {
        dynamic_kv_free(out, cnt);
        *n = 0;
        return NULL;
    }
    *n = cnt;
    return out;
}
