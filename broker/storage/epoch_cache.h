/*
 * broker/storage/epoch_cache.h — one partition's leader epoch cache
 * (docs/architecture.md §5/§6), with the semantics of Kafka's LeaderEpochFileCache:
 * an ordered list of (epoch, start_offset) entries, both strictly
 * increasing; entry i says "epoch e_i wrote offsets [start_i, start_{i+1})".
 *
 * Persistence: the file `leader-epoch-checkpoint` in the partition
 * directory, Kafka's text format ("0\n<count>\n<epoch> <start>\n"...),
 * replaced atomically (temp file + rename) but not fsynced: after a machine
 * crash it may be older than the log, empty or missing, and plog's open
 * checks it against the batch headers and rebuilds it (epoch_cache.c says
 * why that is enough). Mutations change the memory copy and mark it dirty;
 * epoch_cache_flush() writes it. A cache with no path is memory-only (flush
 * is a no-op).
 *
 * Threads: not thread-safe; guarded by the owning plog's partition lock.
 */
#ifndef GREGOR_BROKER_STORAGE_EPOCH_CACHE_H
#define GREGOR_BROKER_STORAGE_EPOCH_CACHE_H

#include "broker/storage/logdir.h"
#include "common/base.h"
#include "common/err.h"

#define EPOCH_UNDEFINED (-1)        /* no epoch (Kafka's UNDEFINED_EPOCH) */
#define EPOCH_UNDEFINED_OFFSET (-1) /* no offset (UNDEFINED_EPOCH_OFFSET) */

struct epoch_cache;

/* Returns new (free with epoch_cache_free()), empty; path (borrowed,
 * copied) is the checkpoint file or NULL for memory only. NULL on OOM. */
struct epoch_cache *epoch_cache_new(const char *path);
/* Frees without writing. NULL is a no-op. */
void epoch_cache_free(struct epoch_cache *c);

/* Replaces the contents with the checkpoint file. KERR__NOENT when it is
 * missing, KERR__CORRUPT when it cannot be parsed or its entries are not
 * strictly increasing (logged); the cache is then left empty. Not dirty
 * afterwards. */
kerr_t epoch_cache_load(struct epoch_cache *c);
/* Writes the file if the cache changed since the last successful write.
 * Errors (logged by fileio) leave it dirty for the next flush. */
kerr_t epoch_cache_flush(struct epoch_cache *c);
bool epoch_cache_is_dirty(const struct epoch_cache *c);
/* Forces the next flush to write (e.g. to replace a corrupt file). */
void epoch_cache_mark_dirty(struct epoch_cache *c);

/* Records that epoch starts at start_offset. Ignored when epoch or
 * start_offset is negative, or when epoch <= the latest epoch and
 * start_offset >= the latest start (nothing new). Otherwise entries that
 * would break monotonicity (epoch >= epoch or start >= start_offset) are
 * dropped from the end first, as Kafka does, then the entry is appended.
 * Returns true if the cache changed. */
bool epoch_cache_assign(struct epoch_cache *c, int32_t epoch, int64_t start_offset);
/* Log truncated to end at offset: removes entries with start >= offset. */
bool epoch_cache_truncate_from_end(struct epoch_cache *c, int64_t offset);
/* Log start moved to offset: removes entries wholly below it and raises
 * the start of the one covering it to offset. */
bool epoch_cache_truncate_from_start(struct epoch_cache *c, int64_t offset);
/* Removes every entry. */
bool epoch_cache_clear(struct epoch_cache *c);

/* Newest epoch, or EPOCH_UNDEFINED when empty. */
int32_t epoch_cache_latest_epoch(const struct epoch_cache *c);
int epoch_cache_count(const struct epoch_cache *c);
/* Returns borrowed: entry i (0 <= i < count), valid until the next
 * mutation. */
const struct logdir_epoch_entry *epoch_cache_entry(const struct epoch_cache *c, int i);

/* OffsetForLeaderEpoch on this cache, as Kafka's endOffsetFor(): epoch ==
 * latest -> (latest, leo); epoch undefined (< 0), greater than the latest,
 * or an empty cache -> (-1, -1); below the first epoch -> (epoch, start of
 * the first entry); otherwise (largest epoch <= epoch, start of the next
 * higher epoch). */
void epoch_cache_end_offset_for(const struct epoch_cache *c, int32_t epoch, int64_t leo,
                                int32_t *end_epoch, int64_t *end_offset);

#endif
