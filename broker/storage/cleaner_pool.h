/*
 * broker/storage/cleaner_pool.h — the log cleaner threads (Kafka's
 * LogCleaner + LogCleanerManager): log.cleaner.threads threads that
 * repeatedly pick the dirtiest registered log whose pass is due
 * (cleaner_plan_due(): dirty ratio >= min.cleanable.dirty.ratio, or the
 * oldest dirty record older than max.compaction.lag.ms; logs overdue by
 * max.compaction.lag.ms first), run one pass on it (cleaner.h) and write
 * its new checkpoint to the data dir's cleaner-offset-checkpoint
 * (cleaner_checkpoint.h); with nothing to do they sleep
 * log.cleaner.backoff.ms (at least 10 ms). The threads share one I/O throttle
 * (log.cleaner.io.max.bytes.per.second) and each owns an offset map of
 * log.cleaner.dedupe.buffer.size / threads bytes. A pass that fails puts
 * its log aside for 10 x backoff.
 *
 * The broker registers each log of a compacted topic (cleaner_pool_add)
 * and removes it before closing or deleting the log (cleaner_pool_remove
 * waits for a pass on it to end). Neither may be called with that log's
 * partition lock held: the threads take the pool's mutex, then a
 * partition lock, never the other way round.
 *
 * Threads: every function is safe from any thread.
 */
#ifndef GREGOR_BROKER_STORAGE_CLEANER_POOL_H
#define GREGOR_BROKER_STORAGE_CLEANER_POOL_H

#include "broker/storage/cleaner.h"
#include "common/names.h"

/* Broker-wide settings. Plain value. */
struct cleaner_pool_config {
    int threads;                 /* log.cleaner.threads, 1 */
    int64_t dedupe_buffer_bytes; /* log.cleaner.dedupe.buffer.size, 134217728 */
    double io_max_bytes_per_sec; /* log.cleaner.io.max.bytes.per.second; <= 0: unlimited */
    int64_t backoff_ms;          /* log.cleaner.backoff.ms, 15000 */
};

/* Kafka's defaults (above; the throttle unlimited). */
void cleaner_pool_config_default(struct cleaner_pool_config *c);

/* Counters for /metrics. Plain value (a copy). */
struct cleaner_stats {
    int64_t logs;            /* registered logs */
    int64_t passes;          /* passes that cleaned something */
    int64_t passes_aborted;  /* gave up because the log changed */
    int64_t passes_failed;   /* I/O or corruption errors */
    int64_t bytes_read;      /* segment bytes read */
    int64_t bytes_written;   /* cleaned bytes written */
    int64_t records_removed; /* records removed (all passes) */
    int64_t last_pass_ms;    /* duration of the last pass */
    int64_t throttled_us;    /* time spent sleeping in the throttle */
    double max_dirty_ratio;  /* the largest dirty ratio seen by the last selection */
};

/* One log as registered. Plain value, copied by cleaner_pool_add(). */
struct cleaner_log_desc {
    struct plog *log;                   /* borrowed until cleaner_pool_remove() */
    char topic[TOPIC_NAME_MAX_LEN + 1]; /* for the checkpoint file */
    int32_t partition;
    char data_dir[4096];      /* the log.dir holding the log */
    struct cleaner_lock lock; /* the partition lock */
    struct cleaner_log_config cfg;
};

struct cleaner_pool;
struct cleaner_entry;

/* NULL on allocation failure. Threads start with cleaner_pool_start(). */
struct cleaner_pool *cleaner_pool_new(const struct cleaner_pool_config *cfg);
/* Starts the threads; KERR_NONE or KERR__NOMEM (logged). */
kerr_t cleaner_pool_start(struct cleaner_pool *p);
/* Stops and joins the threads (a pass in progress gives up). */
void cleaner_pool_stop(struct cleaner_pool *p);
/* Stops if needed and frees; entries still registered are freed too. */
void cleaner_pool_free(struct cleaner_pool *p);

/* Registers a log; its checkpoint is read from the data dir's file.
 * Returns the entry (owned by the pool) or NULL (no memory). */
struct cleaner_entry *cleaner_pool_add(struct cleaner_pool *p, const struct cleaner_log_desc *d);
/* Unregisters and frees e; a pass on it gives up at its next batch and is
 * waited for. forget: also drop its checkpoint entry (the log is being
 * deleted). */
void cleaner_pool_remove(struct cleaner_pool *p, struct cleaner_entry *e, bool forget);
/* Replaces a registered log's compaction settings. */
void cleaner_pool_set_log_config(struct cleaner_pool *p, struct cleaner_entry *e,
                                 const struct cleaner_log_config *cfg);
/* The entry's checkpoint (-1: none yet). */
int64_t cleaner_pool_checkpoint(struct cleaner_pool *p, struct cleaner_entry *e);
/* Runs one pass on e now in the calling thread (tests, admin), whatever
 * its dirty ratio; waits for a pass of a pool thread on it first. */
kerr_t cleaner_pool_clean_now(struct cleaner_pool *p, struct cleaner_entry *e, int64_t now_ms,
                              struct cleaner_result *res);
/* Wakes the threads (e.g. a log was rolled). */
void cleaner_pool_wake(struct cleaner_pool *p);
/* Changes the shared I/O rate (bytes/s, <= 0: unlimited); the threads'
 * next reads and writes use it. Any thread. */
void cleaner_pool_set_io_rate(struct cleaner_pool *p, double bytes_per_sec);
void cleaner_pool_stats(struct cleaner_pool *p, struct cleaner_stats *out);

#endif
