/*
 * broker/config/dynamic.h — the broker settings that may change while the
 * broker runs: one struct broker_dynamic (field `dyn` of struct broker),
 * initialised from the static configuration. Writers store, readers load
 * on each use (relaxed atomics), so a change applies at once. Any thread.
 */
#ifndef GREGOR_BROKER_CONFIG_DYNAMIC_H
#define GREGOR_BROKER_CONFIG_DYNAMIC_H

#include <stdatomic.h>
#include <stdint.h>

struct broker_config;

struct broker_dynamic {
    _Atomic int64_t leader_replication_throttled_rate;   /* bytes/s, INT64_MAX = unlimited */
    _Atomic int64_t follower_replication_throttled_rate; /* bytes/s, INT64_MAX = unlimited */
};

/* Sets every field from cfg (start-up, before other threads use d). */
void broker_dynamic_init(struct broker_dynamic *d, const struct broker_config *cfg);

static inline int64_t dyn_load(_Atomic int64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

#endif
