/*
 * broker/storage/plog.h — one partition's log (docs/architecture.md §5): a directory
 * `<log.dir>/<topic>-<partition>/` of segments, each a `.log` of record
 * batches plus `.index` and `.timeindex`, named by base offset.
 *
 * Threads: a plog is not thread-safe. Every call needs the owning
 * partition's lock (the caller's), except plog_open() (the plog is not
 * shared yet) and plog_remove_dir() (the directory is no longer open).
 * Calls that fsync or unlink (plog_flush, plog_close, plog_apply_retention,
 * plog_truncate_*) belong on the background loop, not on a network loop.
 * The log cleaner (cleaner.h) takes the same lock to plan a pass and to
 * install each cleaned segment; in between it reads dup()ed descriptors
 * of closed segments, which nothing else writes.
 */
#ifndef GREGOR_BROKER_STORAGE_PLOG_H
#define GREGOR_BROKER_STORAGE_PLOG_H

#include "common/base.h"
#include "common/err.h"

struct plog;

/* Plain value; copied by plog_open(). */
struct plog_config {
    int32_t segment_bytes;           /* roll when the active .log would exceed this */
    int64_t segment_ms;              /* roll when the active segment is older; <= 0: never */
    int32_t index_interval_bytes;    /* bytes between index entries (0: every batch) */
    int32_t index_max_bytes;         /* preallocated size of each index; full -> roll */
    int64_t flush_interval_messages; /* fsync after this many records; <= 0: never */
    /* Offsets below it were fsynced before the process stopped. At open,
     * every segment that may hold offsets >= it is recovered: the headers
     * of its batches below the point are walked from the nearest index
     * entry, the batches ending at or past it are CRC-checked (an empty log
     * or one ending at the point reads none; segment_load()). -1 (clean
     * shutdown): each segment is scanned from its last index entry. 0 (a
     * zeroed config): everything is CRC-checked. */
    int64_t recovery_point;
};

/* Fills cfg with Kafka's defaults: 1 GiB segments, 7-day roll, 4096-byte
 * index interval, 10 MiB indexes, no forced flush, recovery_point -1. */
void plog_config_default(struct plog_config *cfg);

/* A byte range of one segment file to send (with sendfile). fd is a dup()ed
 * descriptor the caller owns and must close (or hand to the sender); it
 * stays valid even if the segment is deleted meanwhile. len 0 <=> fd -1. */
struct file_span {
    int fd;
    int64_t pos;
    int64_t len;
};

/* Opens the log in dir (borrowed; created if missing): loads the segments,
 * CRC-scans each from its last index entry (or, with cfg->recovery_point
 * >= 0, the batches of every segment past that point) to find the log end
 * offset, truncates a torn tail (removing later segments if an earlier one
 * was cut), rebuilds missing or corrupt indexes and logs what it dropped.
 * Shares only say() and fileio's ops table, both safe to use from several
 * threads: different logs may be opened at once.
 * Returns new (free with plog_close()), or NULL with a message in err
 * (errlen bytes). */
struct plog *plog_open(const char *dir, const struct plog_config *cfg, char *err, size_t errlen);
/* fsyncs, trims the active indexes, closes and frees. NULL is a no-op. */
void plog_close(struct plog *log);
/* Replaces the roll/index/flush settings (a topic config changed); they
 * apply from the next append or roll. recovery_point in cfg is ignored. */
void plog_set_config(struct plog *log, const struct plog_config *cfg);
/* Deletes a (closed) partition directory and its files. */
kerr_t plog_remove_dir(const char *dir);
/* Unlinks the files of removed segments (renamed *.deleted by retention and
 * truncation) in a partition directory; returns how many. Needs no lock:
 * call it without holding the partition lock (background worker). */
int plog_sweep_deleted(const char *dir);

/* Returns borrowed: the directory, valid until plog_close(). */
const char *plog_dir(const struct plog *log);
int64_t plog_start_offset(const struct plog *log);
/* LEO: the next offset to assign. */
int64_t plog_end_offset(const struct plog *log);
/* Offsets below this are on disk (fsynced by plog_flush/plog_close). */
int64_t plog_recovery_point(const struct plog *log);
/* Bytes of batches plog_open() CRC-checked (0: nothing past the recovery
 * point, e.g. an empty log or one whose recovery point is its end). */
int64_t plog_open_checked_bytes(const struct plog *log);
/* Total bytes of all segment .log files. */
int64_t plog_size_bytes(const struct plog *log);
int plog_segment_count(const struct plog *log);
/* Base offset of segment i (0 <= i < plog_segment_count()). */
int64_t plog_segment_base(const struct plog *log, int i);

/* Appends one or more validated batches (batches/len borrowed; modified in
 * place: baseOffset and partitionLeaderEpoch written; the CRC does not
 * cover them). Rolls first when the active segment would exceed
 * segment_bytes, is older than segment_ms, or an index is full. Returns the
 * first and last assigned offsets. Disk errors -> KAFKA_STORAGE_ERROR
 * (logged) with the log unchanged (a partial write is truncated back);
 * unparsable input -> CORRUPT_MESSAGE. A leader_epoch newer than the
 * cache's starts at the first offset written; the checkpoint write (one
 * fsync per new epoch) failing is logged and retried, not an error. */
kerr_t plog_append(struct plog *log, uint8_t *batches, size_t len, int32_t leader_epoch,
                   int64_t now_ms, int64_t *first_offset, int64_t *last_offset);
/* plog_append for a coordinator's own batches (the group coordinator's
 * transactional offset commits, Kafka's AppendOrigin.Coordinator): a batch
 * with a producer id is checked for an older epoch only
 * (INVALID_PRODUCER_EPOCH), not for its sequence. */
kerr_t plog_append_coordinator(struct plog *log, uint8_t *batches, size_t len, int32_t leader_epoch,
                               int64_t now_ms, int64_t *first_offset, int64_t *last_offset);
/* Follower append: batches (borrowed, not modified) already carry offsets
 * and leader epochs. The first base offset must be >= LEO and offsets must
 * increase (else KERR__INVALID); CRCs are checked (CORRUPT_MESSAGE), and
 * the records with record_validate.c's stored-batch rules (its error, e.g.
 * INVALID_RECORD, logged with the reason). Nothing is written when any
 * batch fails. A gap before the first batch is kept (a new segment starts
 * at its base). */
kerr_t plog_append_replica(struct plog *log, const uint8_t *batches, size_t len, int64_t now_ms,
                           int64_t *first_offset, int64_t *last_offset);

/* Finds the batch containing `offset` (segment binary search by base offset,
 * index binary search, forward scan of batch headers) and returns in *span
 * whole batches of ONE segment starting at that batch, whose base offsets
 * are < max_offset (exclusive: the high watermark), totalling <= max_bytes,
 * except that when min_one the first batch is returned whole even if
 * larger. offset == LEO (or >= max_offset but <= LEO) -> KERR_NONE with
 * span->len == 0 (and fd -1). offset < log start or > LEO ->
 * KERR_OFFSET_OUT_OF_RANGE. Disk errors -> KAFKA_STORAGE_ERROR. */
kerr_t plog_read(struct plog *log, int64_t offset, int64_t max_offset, int64_t max_bytes,
                 bool min_one, struct file_span *span);

/* ListOffsets by timestamp: first offset whose timestamp >= ts (time index,
 * then batch scan; inside uncompressed batches the exact record, for
 * compressed batches the batch base offset with its maxTimestamp). Returns
 * KERR_NONE with *offset = -1, *found_ts = -1 if none. */
kerr_t plog_offset_for_time(struct plog *log, int64_t ts, int64_t *offset, int64_t *found_ts);
/* ListOffsets MAX_TIMESTAMP (-3): the record with the largest timestamp, or
 * -1/-1 for an empty log. */
kerr_t plog_max_timestamp(struct plog *log, int64_t *offset, int64_t *ts);

/* fsyncs every segment written since the last flush; the recovery point
 * becomes the LEO. Disk errors -> KAFKA_STORAGE_ERROR. */
kerr_t plog_flush(struct plog *log);
/* The same flush with the fsyncs outside the partition lock, so that
 * appends go on while a rolled segment's gigabyte is written back (the
 * background worker's flushes). plog_flush_begin() (lock held) takes
 * duplicates of the descriptors of every segment written since the last
 * flush, which then count as clean; plog_flush_sync() (no lock) fsyncs and
 * closes them; plog_flush_end() (lock held) applies the result to the log
 * it is given if that is still the log of begin: on success the recovery
 * point moves to the end offset of begin (not when the log was truncated
 * meanwhile); on failure every segment counts as written again. */
struct plog_flush_plan {
    int *fds; /* owned (malloc) */
    int n;
    uint64_t log_id, truncations; /* the log and its truncation count at begin */
    int64_t end;                  /* its end offset at begin */
    int64_t unflushed;            /* its unflushed count at begin */
};
kerr_t plog_flush_begin(struct plog *log, struct plog_flush_plan *plan);
kerr_t plog_flush_sync(struct plog_flush_plan *plan);
kerr_t plog_flush_end(struct plog *log, struct plog_flush_plan *plan, kerr_t sync_err);
/* Rolls to a new empty segment at the LEO unless the active one is empty. */
kerr_t plog_roll(struct plog *log, int64_t now_ms);

/* Removes every batch holding an offset >= offset (a batch containing it
 * goes whole; whole segments are deleted); the LEO becomes the end of the
 * last kept batch. For followers truncating to the leader's epoch end. */
kerr_t plog_truncate_to(struct plog *log, int64_t offset);
/* Deletes all data and restarts the log empty at offset (start = LEO =
 * offset). For a follower whose fetch offset is out of the leader's range. */
kerr_t plog_truncate_fully(struct plog *log, int64_t offset);
/* DeleteRecords: moves the log start offset up to offset (<= LEO, else
 * OFFSET_OUT_OF_RANGE); whole segments below it go at the next retention. */
kerr_t plog_advance_start_offset(struct plog *log, int64_t offset);

/* Leader epochs (docs/architecture.md §6): the log keeps a cache of (epoch, start
 * offset) in `leader-epoch-checkpoint` (epoch_cache.h). plog_append starts
 * its leader_epoch at the first offset it writes when that epoch is newer;
 * plog_append_replica takes each batch's partitionLeaderEpoch; truncation
 * and a moving log start trim the cache. */

/* The newest epoch in the cache. */
int32_t plog_latest_epoch(const struct plog *log); /* -1: none */
/* OffsetForLeaderEpoch on this log (Kafka's endOffsetFor): epoch == the
 * latest -> (latest, LEO); otherwise the largest known epoch <= epoch and
 * the start offset of the next higher one; epoch below the first known ->
 * (epoch, first start offset); unknown (newer than the latest, < 0, or an
 * empty cache) -> (-1, -1). Always KERR_NONE. */
kerr_t plog_end_offset_for_epoch(struct plog *log, int32_t epoch, int32_t *end_epoch,
                                 int64_t *end_offset);
/* A new leader starts epoch at the LEO (Kafka's makeLeader), so that
 * OffsetForLeaderEpoch answers for it before anything is appended. No-op
 * unless epoch is newer than the latest. KERR__INVALID for epoch < 0;
 * KAFKA_STORAGE_ERROR if the checkpoint cannot be written (the cache in
 * memory has the epoch anyway and the write is retried). */
kerr_t plog_assign_epoch(struct plog *log, int32_t epoch);

/* Idempotent producers (producer_state.h, docs/storage.md "Producer
 * state"). plog_append checks a single batch carrying a producer id
 * against its producer's state and returns, without writing anything,
 * KERR_DUPLICATE_SEQUENCE_NUMBER with *first_offset / *last_offset set to
 * the original batch's offsets when it repeats one of the producer's last
 * five batches, or INVALID_PRODUCER_EPOCH / OUT_OF_ORDER_SEQUENCE_NUMBER;
 * both appends update the state, truncation and open rebuild it from the
 * log. */
struct pstate_map;
/* The offsets of the `<offset>.snapshot` files in dir, sorted (*offsets
 * returns new; free() it). */
kerr_t plog_list_snapshots(const char *dir, int64_t **offsets, int *n);
/* Transactions (plog_txn.c, docs/storage.md "Transactions"). */
struct aborted_txn;
/* A transaction marker to write (WriteTxnMarkers). Plain value. */
struct plog_marker {
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t coordinator_epoch;
    bool commit; /* else abort */
};
/* Appends m as a control batch after checking it against the producer's
 * state: INVALID_PRODUCER_EPOCH for an older producer epoch,
 * TRANSACTION_COORDINATOR_FENCED for an older coordinator epoch (nothing
 * written); else as plog_append, *offset = the marker's offset. The marker
 * ends the producer's open transaction; an abort is indexed. */
kerr_t plog_append_marker(struct plog *log, const struct plog_marker *m, int32_t leader_epoch,
                          int64_t now_ms, int64_t *offset);
/* The last stable offset: min(first offset of the oldest open transaction, first offset of
 * the oldest transaction whose marker is at or above hw, hw). Forgets the ended transactions
 * whose markers are below hw (plog_txn_replicated()). */
int64_t plog_last_stable_offset(struct plog *log, int64_t hw);
/* The high watermark reached hw: transactions whose markers are below it no longer hold the
 * LSO back. */
void plog_txn_replicated(struct plog *log, int64_t hw);
/* The aborted transactions a read_committed read of [from, upto) reports:
 * marker at or after from, first offset before upto. *out malloc'd (NULL
 * when *n is 0); false on OOM. */
bool plog_aborted_txns(const struct plog *log, int64_t from, int64_t upto, struct aborted_txn **out,
                       int *n);

/* Returns borrowed: the producer map (valid under the partition lock). */
const struct pstate_map *plog_producers(const struct plog *log);
/* Removes producers whose last batch timestamp is older than
 * now_ms - expiration_ms (producer.id.expiration.ms); returns how many. */
int plog_expire_producers(struct plog *log, int64_t now_ms, int64_t expiration_ms);

/* Retention parameters (plain value). */
struct plog_retention {
    int64_t now_ms;          /* wall clock */
    int64_t retention_ms;    /* delete segments whose newest timestamp is older; -1: forever */
    int64_t retention_bytes; /* delete oldest segments while the log exceeds it; -1: no limit */
    int64_t max_offset;      /* never delete offsets >= this (the high watermark) */
};
/* Deletes whole segments oldest first while they are below the log start
 * offset, too old, or the log is too big (rolling the active segment first
 * when all of it is deletable); advances the log start offset.
 * *deleted = segments removed. */
kerr_t plog_apply_retention(struct plog *log, const struct plog_retention *r, int *deleted);

#endif
