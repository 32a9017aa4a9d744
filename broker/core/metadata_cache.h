/*
 * broker/core/metadata_cache.h — what this broker knows of the whole cluster:
 * live brokers, the controller, and every topic's partitions with leader,
 * leader epoch, replicas and ISR, as pushed by the active controller
 * (UpdateMetadata). Client Metadata requests are answered from it.
 *
 * The cache holds an immutable snapshot; readers take a reference
 * (mc_get/mc_put) and never lock while they use it; a new UpdateMetadata
 * builds a new snapshot and swaps it in (mc_set). Any thread.
 */
#ifndef GREGOR_BROKER_CORE_METADATA_CACHE_H
#define GREGOR_BROKER_CORE_METADATA_CACHE_H

#include "broker/core/broker.h"
#include "common/names.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define MC_MAX_REPLICAS 16

struct mc_partition {
    int32_t leader; /* -1 = offline */
    int32_t leader_epoch;
    int n_replicas;
    int32_t replicas[MC_MAX_REPLICAS];
    int n_isr;
    int32_t isr[MC_MAX_REPLICAS];
};

struct mc_topic {
    char name[TOPIC_NAME_MAX_LEN + 1];
    int32_t n_parts;
    struct mc_partition *parts; /* n_parts; owned by the snapshot */
};

struct mc_snapshot {
    _Atomic int refs;
    int32_t controller_id; /* -1 = unknown */
    int32_t controller_epoch;
    struct broker_info *brokers; /* sorted by id; owned */
    int n_brokers;
    struct mc_topic *topics; /* sorted by name; owned */
    int n_topics;
};

struct metadata_cache;

struct metadata_cache *mc_new(void);
void mc_free(struct metadata_cache *mc);
/* Returns a new reference to the current snapshot (never NULL). */
struct mc_snapshot *mc_get(struct metadata_cache *mc);
void mc_put(struct mc_snapshot *s);
/* Takes one more reference to s. */
void mc_snapshot_ref(struct mc_snapshot *s);
/* Installs s (takes the caller's reference); the old snapshot is released
 * when its last reader is done. Refuses (returns false, s released) a
 * snapshot from an older controller epoch than the current one. */
bool mc_set(struct metadata_cache *mc, struct mc_snapshot *s);
/* A new, empty snapshot (refs = 1) to fill; mc_snapshot_sort() before mc_set(). */
struct mc_snapshot *mc_snapshot_new(void);
void mc_snapshot_sort(struct mc_snapshot *s);
/* True when s came from the controller (UpdateMetadata); before the first
 * one a broker's snapshot knows no brokers or topics. */
static inline bool mc_from_controller(const struct mc_snapshot *s) { return s->controller_id >= 0; }
/* Finds a topic in a snapshot (binary search); NULL if absent. */
const struct mc_topic *mc_find_topic(const struct mc_snapshot *s, const char *name, size_t len);

#endif
