/*
 * broker/replication/topics.h — the registry of topics this broker knows, with their
 * partitions (struct partition) and assignments.
 *
 * Lock-guarded: the registry's map is guarded by an rwlock inside struct
 * topics. A struct topic is reference-counted: lookups return a reference
 * the caller drops with topic_unref(); the last reference frees the
 * partitions (closing logs, and deleting them when the topic was deleted).
 */
#ifndef GREGOR_BROKER_REPLICATION_TOPICS_H
#define GREGOR_BROKER_REPLICATION_TOPICS_H

#include "broker/replication/partition.h"
#include "broker/config/topic_config.h"
#include "common/err.h"
#include "common/names.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

/* Growth (CreatePartitions, topic_grow()): n_parts, parts and replicas are
 * read without locks by handlers, so they are atomic. The grower publishes
 * the bigger arrays first and the count last; a reader that loads the count
 * and then the array (the natural order: `p < t->n_parts`, then
 * `topic_part(t, p)`) always indexes an array at least that long. The arrays
 * are read only through topic_part() and topic_replicas(): GCC compiles
 * `t->parts[p]` of an _Atomic pointer as a plain load, which ThreadSanitizer
 * rightly reports against topic_grow()'s store. Old arrays
 * stay allocated (retired) until the topic is freed; partitions never move
 * or disappear while the topic lives. */
struct topic_retired;

struct topic {
    char name[TOPIC_NAME_MAX_LEN + 1];
    _Atomic int32_t n_parts;           /* only grows */
    int16_t rf;                        /* replication factor */
    int32_t *_Atomic replicas_;        /* >= n_parts * rf, row-major; owned; topic_replicas() */
    struct partition **_Atomic parts_; /* >= n_parts entries; owned; topic_part() */
    struct topic_retired *retired;     /* arrays replaced by topic_grow(); owned */
    pthread_mutex_t config_lock;       /* guards config_kv, n_config and tc */
    char **config_kv;                  /* "key", "value" pairs of overrides; owned */
    int n_config;
    struct topic_config tc; /* effective settings */
    int32_t self_id;        /* this broker (replication throttles); immutable */
    bool internal;
    bool delete_files; /* set by deletion: remove log dirs when freed */
    char *data_dir;    /* owned: the broker's log dir */
    _Atomic int refs;
    /* Kafka's BrokerTopicMetrics, relaxed atomics (any thread): Produce
     * record batch bytes and records appended as leader, and record bytes
     * sent to consumers (not followers) by Fetch. */
    _Atomic uint64_t bytes_in, messages_in, bytes_out;
    struct topic *next; /* hash chain; registry lock */
};

/* Partition p of t, p below a count the caller loaded from t->n_parts. */
static inline struct partition *topic_part(const struct topic *t, int32_t p)
{
    return atomic_load_explicit(&t->parts_, memory_order_acquire)[p];
}

/* t's replica rows (t->rf wide, row-major), at least the n_parts the caller loaded. */
static inline const int32_t *topic_replicas(const struct topic *t)
{
    return atomic_load_explicit(&t->replicas_, memory_order_acquire);
}

struct topics;

struct topics *topics_new(void);
/* Drops the registry's references to every topic; NULL ok. */
void topics_free(struct topics *ts);

/* Returns a new reference to the topic named (name, len), or NULL. */
struct topic *topics_get(struct topics *ts, const char *name, size_t len);
void topic_ref(struct topic *t);
void topic_unref(struct topic *t);
/* Returns new array of new references (sorted by name); *n its length. */
struct topic **topics_list(struct topics *ts, int *n);
void topics_list_free(struct topic **list, int n);
/* Adds t (takes the caller's reference). false if the name exists. */
bool topics_add(struct topics *ts, struct topic *t);
/* Removes the named topic from the registry; returns the registry's
 * reference (caller unrefs), or NULL. */
struct topic *topics_remove(struct topics *ts, const char *name);

/* Where recovery of (topic, partition)'s log starts at open (see
 * partition_new()); a NULL function means 0 (scan everything). */
struct recovery_points {
    int64_t (*lookup)(void *arg, const char *topic, int32_t partition); /* thread-safe */
    void *arg;
    int threads; /* threads opening a topic's local logs (<= 1: the caller's only) */
};

/* Builds a topic with n_parts partitions; opens local logs for partitions
 * whose replica list contains self_id, under data_dir/<name>-<p>,
 * recovering from the points rp gives (NULL = from 0), with rp->threads
 * threads (the caller's included; NULL: the caller's only). Takes nothing;
 * copies replicas and configs. Returns new (refs = 1), or NULL with err
 * (the first failing partition's message). */
struct topic *topic_create(const char *name, int32_t n_parts, int16_t rf, const int32_t *replicas,
                           char *const *config_kv, int n_config,
                           const struct topic_config *defaults, const char *data_dir,
                           int32_t self_id, const struct recovery_points *rp, char *err,
                           size_t errlen);
/* Grows t to new_n partitions in place: replicas holds new_n * src_rf ids
 * (the whole assignment, rows of width src_rf that may end early at a
 * negative id; rows below t->n_parts are ignored; t keeps width t->rf,
 * the replica sets themselves come with LeaderAndIsr). New partitions
 * get their local logs opened (under data_dir/<name>-<p>, recovering from
 * 0) when self_id is among their replicas. Publishes the new arrays before
 * the new count (see struct topic). Borrows replicas. Returns KERR_NONE
 * (also when new_n <= t->n_parts: nothing to do), KERR__NOMEM, or
 * KERR_KAFKA_STORAGE_ERROR with err filled. One grower at a time (the admin
 * worker); takes t->config_lock. */
kerr_t topic_grow(struct topic *t, int32_t new_n, const int32_t *replicas, int src_rf,
                  int32_t self_id, char *err, size_t errlen);
/* Replaces the topic's overrides (copied) and recomputes its effective
 * settings from defaults, pushing them to every partition (with this
 * broker's replication throttles: partition_leader_throttled()). false on OOM
 * (nothing changed). Locks t->config_lock, then each partition's lock. */
bool topic_set_config(struct topic *t, char *const *config_kv, int n_config,
                      const struct topic_config *defaults);
/* Copies the overrides under the config lock: returns new array of 2*n
 * strings (free each, then the array); *n their count. */
char **topic_get_config(struct topic *t, int *n);
/* The effective settings (the ones every partition of t holds), copied
 * under the config lock: one snapshot for all of a request's partitions of
 * t instead of one partition lock each. */
void topic_effective_config(struct topic *t, struct topic_config *tc);

/* Returns the partition directory path of (topic, p) in buf. */
const char *topic_partition_dir(const struct topic *t, int32_t p, char *buf, size_t n);

#endif
