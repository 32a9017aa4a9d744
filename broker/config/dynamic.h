/*
 * broker/config/dynamic.h — dynamic broker configs (Kafka's
 * DynamicBrokerConfig): the keys an operator may change at run time through
 * AlterConfigs / IncrementalAlterConfigs on a BROKER resource, the override
 * lists as ZooKeeper holds them (/config/brokers/<id> and
 * /config/brokers/<default>, written and read by broker/core/dyncfg.c), and
 * the live values the code reads instead of the static config.
 *
 * Precedence of a key's effective value, as Kafka: this broker's dynamic
 * override > the cluster-wide default override > server.properties (file,
 * environment, --override) > Kafka's default.
 *
 * Threads: one struct broker_dynamic per broker (struct broker's `dyn`),
 * initialised from the static config before any thread starts. The live
 * values are C11 atomics, read by any thread; they are stored only by
 * dynamic_apply() (the admin worker after start). The override lists are
 * guarded by `lock` (written by dynamic_apply(), read by DescribeConfigs on
 * the network workers).
 */
#ifndef GREGOR_BROKER_CONFIG_DYNAMIC_H
#define GREGOR_BROKER_CONFIG_DYNAMIC_H

#include "broker/config/config.h"
#include "broker/config/topic_config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The ZooKeeper entity name of the cluster-wide default (Kafka's). */
#define DYNAMIC_DEFAULT_ENTITY "<default>"

struct broker_dynamic {
    _Atomic int64_t leader_replication_throttled_rate;   /* bytes/s, INT64_MAX = unlimited */
    _Atomic int64_t follower_replication_throttled_rate; /* bytes/s, INT64_MAX = unlimited */
    _Atomic int32_t max_connections;                     /* max.connections */
    _Atomic int32_t max_connections_per_ip;              /* max.connections.per.ip */
    _Atomic double log_cleaner_io_max_bytes_per_second;  /* <= 0: unlimited */

    pthread_mutex_t lock; /* guards the lists below */
    char **broker_kv;     /* this broker's overrides, pairs, owned */
    int n_broker;
    char **default_kv; /* the cluster-wide default overrides, pairs, owned */
    int n_default;
    /* the effective max.connections.per.ip.overrides, parsed (lock) */
    struct config_ip_override ip_override[CONFIG_MAX_IP_OVERRIDES];
    int n_ip_overrides;
    /* called (outside the lock) by dynamic_apply() with the new effective
     * overrides when they changed; NULL: nobody to tell. Set before the
     * first dynamic_apply() (the network layer's net_limits_set_overrides) */
    void (*on_ip_overrides)(const struct config_ip_override *ov, int n);
};

/* Sets the live values from cfg; no overrides. Before threads start. */
void broker_dynamic_init(struct broker_dynamic *d, const struct broker_config *cfg);

/* Loads a live value (readers load on each use, so a change applies at once). */
static inline int64_t dyn_load(_Atomic int64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}
void dynamic_destroy(struct broker_dynamic *d);

/* True if key may be changed at run time. */
bool dynamic_key_is_dynamic(const char *key);
/* The dynamic keys, in a fixed order (docs and tests list them). */
int dynamic_key_count(void);
const char *dynamic_key_name(int i);

/* Checks one override: an unknown key, a key that cannot be updated
 * dynamically, or a value config_load() would refuse is false with a
 * one-line reason in err. Thread-safe. */
bool dynamic_validate(const char *key, const char *value, char *err, size_t errlen);

/*
 * Installs new override lists (takes broker_kv and default_kv, pairs of
 * malloc'd strings; NULL with n 0 = none) and recomputes the live values
 * from cfg under them. Fills *topic_defaults with the topic defaults the
 * effective values give. Returns false on out of memory (nothing changed;
 * the lists are freed). Admin worker (or start-up).
 */
bool dynamic_apply(struct broker_dynamic *d, const struct broker_config *cfg, char **broker_kv,
                   int n_broker, char **default_kv, int n_default,
                   struct topic_config *topic_defaults);

/* Copies key's override of this broker (per_broker) or of the cluster
 * default into buf. false if there is none. Any thread. */
bool dynamic_override(struct broker_dynamic *d, bool per_broker, const char *key, char *buf,
                      size_t n);
/* Returns new pairs (free each string and the array): the default
 * overrides (per_broker false) or this broker's. Any thread. */
char **dynamic_overrides(struct broker_dynamic *d, bool per_broker, int *n);

/* Frees n pairs of kv and kv. */
void dynamic_kv_free(char **kv, int n);

#endif
