/*
 * broker/storage/cleaner.h — log compaction of one partition log, as
 * Kafka's LogCleaner does it (docs/architecture.md §5 "Log cleaner"): one
 * pass keeps, in the closed segments below the first uncleanable offset,
 * only the latest record of each key. Offsets never change (the log gets
 * gaps). cleaner_pool.h runs passes on threads; this file is one pass.
 *
 * A pass:
 *  1. Plans under the partition lock (cleaner_plan()): the cleanable
 *     segments are the closed ones, from the first, that end at or below
 *     the high watermark and the first unstable offset (an open
 *     transaction's first offset: nothing from it on is cleaned) and whose
 *     newest record is older than min.compaction.lag.ms; the first uncleanable offset U is the base of
 *     the first segment that is not. The dirty part is [checkpoint, U)
 *     (checkpoint: the cleaner-offset-checkpoint entry, reset to the log
 *     start when outside [start, LEO]; none when it is past U). Descriptors of the cleanable
 *     segments are dup()ed and the log's aborted transactions copied, so
 *     the pass reads them without the lock.
 *  2. Builds the offset map over the dirty part (keyed records only;
 *     control batches and batches of aborted transactions skipped, so an
 *     aborted record never shadows a committed one), stopping before a batch that would not fit
 *     the map; end = the map's latest offset + 1 is the next checkpoint.
 *  3. Groups the segments that start below end, from the first, while the
 *     group's .log bytes fit segment.bytes, its index bytes fit
 *     segment.index.bytes and its offsets fit 32 bits (Kafka's
 *     groupSegmentsBySize), and rewrites each group into one segment
 *     (cleaner_filter.h decides each record), writes it as
 *     `<base>.log.cleaned` with `.index.cleaned` and `.timeindex.cleaned`,
 *     fsyncs them and installs it under the lock (cleaner_swap.h).
 *
 * Tombstones (Kafka's rule before KIP-534): the delete horizon is the
 * modification time of the last segment starting below the checkpoint
 * (the already-clean part) minus delete.retention.ms; a segment keeps its
 * tombstones while its own modification time is after the horizon, i.e. a
 * tombstone lives at least delete.retention.ms after the clean part grew
 * past it. With no clean part yet every tombstone is kept. A cleaned
 * segment gets the newest modification time of the segments it replaces.
 *
 * Records without a key are removed (they cannot be produced to a
 * compacted topic, but may predate a switch of cleanup.policy to compact).
 * Transactions (Kafka's CleanedTransactionMetadata; rules in
 * cleaner_txn.h): every record of a batch of an aborted transaction is
 * removed; committed transactional batches are filtered like any other. A
 * marker (control batch) is copied unchanged while a batch of its
 * transaction was read in the pass; otherwise, like a tombstone, it is
 * removed once its segment is past the delete horizon (an ABORT marker's
 * entry then leaves the aborted transaction index), unless it is its
 * producer's newest batch and carries a newer epoch than its last data
 * batch. A data batch left empty is dropped, except the last data batch of
 * each producer id in the cleaned part: it stays as an empty batch
 * (producer state). A group that would otherwise be empty keeps an empty
 * placeholder batch, without producer, at the offsets of its last batch (a
 * segment is never empty, so retention and the log start offset are
 * unaffected).
 *
 * Concurrency: appends and reads go on during a pass. The pass holds the
 * partition lock only to plan and to install a group; the group is
 * installed only if the segments it replaces are still in the log,
 * unchanged (same segment, same size); otherwise (retention or truncation
 * ran meanwhile) the pass stops, its files are discarded and nothing is
 * checkpointed. A pass also gives up when asked to (cleaner_lock.cancel).
 *
 * Threads: one pass per log at a time (cleaner_pool.c sees to it); the
 * functions here run on a cleaner thread.
 */
#ifndef GREGOR_BROKER_STORAGE_CLEANER_H
#define GREGOR_BROKER_STORAGE_CLEANER_H

#include <stdatomic.h>

#include "common/base.h"
#include "common/err.h"

struct plog;
struct offset_map;
struct io_throttle;

/* Compaction settings of one log (topic config). Plain value. */
struct cleaner_log_config {
    double min_cleanable_ratio;  /* min.cleanable.dirty.ratio, 0.5 */
    int64_t delete_retention_ms; /* delete.retention.ms, 86400000 */
    int64_t min_lag_ms;          /* min.compaction.lag.ms, 0 */
    int64_t max_lag_ms;          /* max.compaction.lag.ms, INT64_MAX */
};

/* Fills c with Kafka's defaults (above). */
void cleaner_log_config_default(struct cleaner_log_config *c);

/* The owner's partition lock around a plog. Plain value, borrowed. */
struct cleaner_lock {
    void (*lock)(void *arg);
    void (*unlock)(void *arg);
    /* NULL, or true if the calling thread holds the lock (asserted). */
    bool (*held)(void *arg);
    /* NULL (the LEO), or the high watermark; called with the lock held. */
    int64_t (*max_offset)(void *arg);
    void *arg;
    /* NULL, or a flag that, once set, makes the pass give up (aborted) at
     * the next batch: the log is being closed or deleted. */
    const atomic_bool *cancel;
};

/* What cleaner_plan() found. Plain value. */
struct cleaner_plan {
    int64_t start;          /* first segment's base */
    int64_t first_dirty;    /* the checkpoint, clamped into [start, uncleanable] */
    int64_t uncleanable;    /* U: base of the first segment not cleanable */
    int64_t clean_bytes;    /* bytes of cleanable segments below first_dirty */
    int64_t dirty_bytes;    /* bytes of cleanable segments from first_dirty */
    double dirty_ratio;     /* dirty / (clean + dirty); 0 if nothing cleanable */
    int64_t first_dirty_ts; /* the first dirty segment's first record time, -1 */
    int cleanable_segments; /* closed segments below U */
};

/* Plans a pass (step 1 above) without touching files. Lock held. */
void cleaner_plan(struct plog *log, const struct cleaner_log_config *cfg, int64_t checkpoint,
                  int64_t max_offset, int64_t now_ms, struct cleaner_plan *plan);
/* True if the plan is worth a pass: dirty bytes, and the ratio reaches
 * min.cleanable.dirty.ratio or the first dirty record is older than
 * max.compaction.lag.ms. */
bool cleaner_plan_due(const struct cleaner_plan *p, const struct cleaner_log_config *cfg,
                      int64_t now_ms);

/* Counters of one pass. Plain value. */
struct cleaner_result {
    int64_t first_dirty;   /* where the dirty part began */
    int64_t end_offset;    /* the new checkpoint (first_dirty if nothing was done) */
    int64_t bytes_read;    /* segment bytes read (map and rewrite) */
    int64_t bytes_written; /* cleaned segment bytes written */
    int64_t records_kept;
    int64_t records_removed;
    int64_t tombstones_removed;
    int64_t keyless_removed;
    int64_t aborted_removed; /* records of aborted transactions */
    int64_t markers_removed; /* transaction markers */
    int segments_before;     /* segments replaced */
    int segments_after;      /* cleaned segments installed */
    bool aborted;            /* the log changed under the pass; nothing kept */
    double dirty_ratio;      /* of the plan */
};

/* Runs one pass over log (see above). lk: the partition lock (not held on
 * entry). map: the thread's offset map (cleared here). thr: NULL or the
 * shared throttle. checkpoint: the log's cleaner checkpoint (-1: none).
 * KERR_NONE with *res filled (res->aborted when the log changed and the
 * pass gave up; res->end_offset == res->first_dirty when there was
 * nothing to do); KERR__IO / KERR__CORRUPT / KERR__NOMEM (logged; the log
 * is unchanged, or cleaned up to the groups installed before the error). */
kerr_t cleaner_clean(struct plog *log, const struct cleaner_lock *lk,
                     const struct cleaner_log_config *cfg, int64_t checkpoint,
                     struct offset_map *map, struct io_throttle *thr, int64_t now_ms,
                     struct cleaner_result *res);

#endif
