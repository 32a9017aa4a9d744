/*
 * broker/storage/plog_priv.h — the layout of struct plog, shared by the
 * files that implement one partition log: plog.c (append, read,
 * retention, truncation) and cleaner_swap.c (installing cleaned segments).
 * Storage-internal: nothing outside broker/storage/ includes it.
 *
 * Threads: every field is guarded by the owning partition's lock.
 */
#ifndef GREGOR_BROKER_STORAGE_PLOG_PRIV_H
#define GREGOR_BROKER_STORAGE_PLOG_PRIV_H

#include "broker/storage/plog.h"
#include "broker/storage/producer_state.h"
#include "broker/storage/segment.h"
#include "broker/storage/txn_index.h"

struct epoch_cache;

/* Created by plog_open(), freed by plog_close(); guarded by the partition
 * lock. */
struct plog {
    char *dir;              /* owned */
    struct plog_config cfg; /* copy */
    struct segment **segs;  /* owned, sorted by base; nsegs >= 1 once open */
    int nsegs;
    size_t cap;                  /* room in segs (common/vec.h) */
    int64_t start_offset;        /* log start offset */
    int64_t recovery_point;      /* offsets below are fsynced */
    int64_t unflushed;           /* records appended since the last flush */
    uint64_t id;                 /* unique per plog_open() in this process */
    uint64_t truncations;        /* times the log end moved back (a flush plan's guard) */
    int64_t checked_bytes;       /* bytes CRC-checked while opening */
    struct epoch_cache *epochs;  /* owned: leader epoch -> start offset */
    struct pstate_map producers; /* idempotent producers (plog_producers.c) */
    struct txnidx_list aborted;  /* every segment's aborted transactions (txn_index.h) */
    /* Transactions ended by a marker the partition's high watermark may not have passed yet:
     * the LSO stays at their first offset until it has (plog_txn_replicated()), as Kafka's
     * first unstable offset counts them, so a marker a new leader might lack is never read
     * past. Sorted by marker offset (markers are appended in order). */
    struct plog_ended_txn {
        int64_t first;  /* the transaction's first offset */
        int64_t marker; /* its marker's offset */
    } * ended;
    size_t n_ended, cap_ended;
};

/* plog_producers.c. The leader's check of a client append (buf: the
 * batches, offsets not yet assigned): KERR_NONE to append;
 * KERR_DUPLICATE_SEQUENCE_NUMBER with *first / *last the offsets of the
 * original batch; INVALID_PRODUCER_EPOCH or OUT_OF_ORDER_SEQUENCE_NUMBER
 * (producer_state.h). Only a single idempotent data batch is checked. */
kerr_t plog_producers_check(struct plog *log, const uint8_t *buf, size_t len, int64_t *first,
                            int64_t *last);
/* The check of a coordinator's own transactional batch (Kafka's
 * AppendOrigin.Coordinator: TxnOffsetCommit records): only the epoch,
 * INVALID_PRODUCER_EPOCH when older than the producer's; no sequence. */
kerr_t plog_producers_check_epoch(struct plog *log, const uint8_t *buf, size_t len);
/* Records the idempotent batches of buf that are now in the log (base
 * offset below the LEO). */
/* The marker of a control batch (batch: its bytes): *type 0 abort, 1
 * commit; *coordinator_epoch from the value (-1 without one).
 * KERR__CORRUPT when it is not a version-0 marker. */
struct batch_hdr;
kerr_t plog_control_marker(const uint8_t *batch, const struct batch_hdr *h, int *type,
                           int32_t *coordinator_epoch);
/* Loads every segment's `.txnindex` at open; a corrupt one is deleted and
 * the snapshots after its segment's base too, so that the producer rebuild
 * replays (and re-indexes) that segment. */
void plog_txnidx_load(struct plog *log);
/* Forgets the aborted transactions of a removed segment [base, end) and
 * retires its file. */
void plog_txnidx_segment_removed(struct plog *log, int64_t base, int64_t end);
/* plog_txn.c. Records the abort marker at marker_offset of producer_id
 * whose transaction started at first_offset: in the list and in the
 * `.txnindex` of the segment holding the marker (failure logged). */
void plog_txnidx_abort(struct plog *log, int64_t producer_id, int64_t first_offset,
                       int64_t marker_offset);
/* Forgets the entries whose marker is at or after offset (list and files). */
void plog_txnidx_forget_from(struct plog *log, int64_t offset);
void plog_producers_update(struct plog *log, const uint8_t *buf, size_t len);
/* Replays the batch headers at or above from_offset (from the log start:
 * the map is cleared first); from_offset -1: loads the newest usable
 * snapshot at or below the LEO first and replays after it. why is for the
 * log line. */
void plog_producers_rebuild(struct plog *log, int64_t from_offset, const char *why);
/* Writes `<offset>.snapshot` of the current map (failures are logged). */
void plog_producers_snapshot(struct plog *log, int64_t offset);
/* Deletes the snapshots below `below` except the newest one at or below
 * it, and those above `above`. */
void plog_producers_drop_snapshots(struct plog *log, int64_t below, int64_t above);
/* After a truncation to offset: rebuilds when remembered batches went. */
void plog_producers_truncated(struct plog *log, int64_t offset);

#endif
