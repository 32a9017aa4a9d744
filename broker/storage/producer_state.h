/*
 * broker/storage/producer_state.h — one partition's idempotent-producer
 * state (Kafka's ProducerStateManager / ProducerAppendInfo rules,
 * docs/storage.md "Producer state"): per producer id the current epoch and
 * the metadata of its last PSTATE_WINDOW batches (first/last sequence, last
 * offset, offset delta, timestamp), kept in an open-addressing hash map
 * keyed by producer id so that the steady state allocates nothing.
 *
 * The rules (pstate_check) are pure functions of an entry and a batch:
 * duplicate of a remembered batch, older epoch, new epoch not starting at
 * sequence 0, sequence gap. Batches without a producer id (-1) never reach
 * this code.
 *
 * Threads: a map is owned by its plog and guarded by the partition lock.
 */
#ifndef GREGOR_BROKER_STORAGE_PRODUCER_STATE_H
#define GREGOR_BROKER_STORAGE_PRODUCER_STATE_H

#include "common/base.h"
#include "common/err.h"

#define PSTATE_WINDOW 5      /* batches remembered per producer (Kafka's NUM_BATCHES_TO_RETAIN) */
#define PSTATE_NO_EPOCH (-1) /* RecordBatch.NO_PRODUCER_EPOCH */

/* Metadata of one appended batch. Plain value. */
struct pstate_batch {
    int32_t first_seq;
    int32_t last_seq;
    int64_t last_offset;
    int32_t offset_delta; /* last offset - first offset */
    int64_t timestamp;    /* the batch's max timestamp */
};

static inline int64_t pstate_batch_first_offset(const struct pstate_batch *b)
{
    return b->last_offset - b->offset_delta;
}

/* One producer. Stored inline in the map's slots; producer_id -1 = free. */
struct pstate_entry {
    int64_t producer_id;
    int16_t epoch;
    uint8_t n;    /* batches held, <= PSTATE_WINDOW */
    uint8_t head; /* index of the oldest batch */
    struct pstate_batch batches[PSTATE_WINDOW];
    int32_t coordinator_epoch; /* -1: none (no transactions yet) */
    int64_t txn_first_offset;  /* -1: no open transaction */
    int64_t last_update_ms;    /* wall clock of the last append, for expiry */
};

/* The newest batch of e (e->n > 0). */
static inline const struct pstate_batch *pstate_last_batch(const struct pstate_entry *e)
{
    return &e->batches[(e->head + e->n - 1) % PSTATE_WINDOW];
}
/* The last sequence of e, -1 when it holds no batch. */
static inline int32_t pstate_last_seq(const struct pstate_entry *e)
{
    return e->n ? pstate_last_batch(e)->last_seq : -1;
}

/* A partition's producers. Embedded by value in its owner; zero-initialised
 * is an empty map. The oldest open transaction is kept as transactions open
 * and end, so that every Fetch (the LSO) reads it without a scan. */
struct pstate_map {
    struct pstate_entry *slots; /* owned; cap slots, linear probing */
    size_t cap;                 /* 0 or a power of two */
    size_t n;                   /* producers held */
    size_t n_open;              /* producers with an open transaction */
    int64_t first_unstable;     /* least txn_first_offset of those; meaningless when n_open = 0 */
};

void pstate_init(struct pstate_map *m);
/* Frees the slots; the map is empty and usable afterwards. */
void pstate_destroy(struct pstate_map *m);
/* Forgets every producer (keeps the slots). */
void pstate_clear(struct pstate_map *m);
/* Returns borrowed (valid until the next update) or NULL. */
const struct pstate_entry *pstate_find(const struct pstate_map *m, int64_t producer_id);
/* The i-th occupied slot for iteration: returns NULL past the end; *pos is
 * the cursor (start at 0). */
const struct pstate_entry *pstate_next(const struct pstate_map *m, size_t *pos);

/* Kafka's DefaultRecordBatch.incrementSequence: base + delta, wrapping past
 * INT32_MAX to 0. */
int32_t pstate_seq_add(int32_t base, int32_t delta);

/* The leader's check of a client batch (first_seq .. last_seq, epoch)
 * against the producer's entry e (NULL: unknown producer). Returns:
 * - KERR_DUPLICATE_SEQUENCE_NUMBER with *dup set: the batch equals one of
 *   the remembered ones (same epoch, first and last sequence); not to be
 *   appended, answered with the original offsets;
 * - KERR_INVALID_PRODUCER_EPOCH: epoch older than the current one;
 * - KERR_OUT_OF_ORDER_SEQUENCE_NUMBER: a newer epoch not starting at 0, or
 *   in the current epoch first_seq != last sequence + 1 (INT32_MAX wraps to 0);
 * - KERR_NONE: append it. An unknown producer is accepted at any sequence
 *   (Kafka >= 2.5: its state may have been removed by retention).
 * *why (may be NULL) gets a static reason for the log. */
kerr_t pstate_check(const struct pstate_entry *e, int16_t epoch, int32_t first_seq,
                    int32_t last_seq, const struct pstate_batch **dup, const char **why);

/* Records an appended batch of producer_id (leader after pstate_check, or
 * follower mirroring the leader without checks): a different epoch resets
 * the window; the oldest of PSTATE_WINDOW batches is dropped. Allocates only
 * when the map grows. KERR__NOMEM leaves the map unchanged. */
kerr_t pstate_update(struct pstate_map *m, int64_t producer_id, int16_t epoch,
                     const struct pstate_batch *b, int64_t now_ms);
/* ---- transactions (Kafka's ProducerAppendInfo.appendEndTxnMarker) ----
 * A transactional data batch of producer_id starting at first_offset opens
 * the producer's transaction unless one is open (txn_first_offset). Call
 * after pstate_update. */
void pstate_txn_data(struct pstate_map *m, int64_t producer_id, int64_t first_offset);
/* The leader's check of a transaction marker (WriteTxnMarkers) against e
 * (NULL: unknown producer, accepted): KERR_INVALID_PRODUCER_EPOCH for an
 * epoch older than the producer's, KERR_TRANSACTION_COORDINATOR_FENCED for
 * a coordinator epoch older than the one recorded. */
kerr_t pstate_check_marker(const struct pstate_entry *e, int16_t epoch, int32_t coordinator_epoch);
/* Records a control batch (commit/abort marker) of producer_id: the epoch
 * (a new one forgets the batch window), the coordinator epoch, and the end
 * of the open transaction. *txn_first (may be NULL) gets the first offset
 * of the transaction it ended, -1 when none was open. */
kerr_t pstate_end_txn(struct pstate_map *m, int64_t producer_id, int16_t epoch,
                      int32_t coordinator_epoch, int64_t now_ms, int64_t *txn_first);
/* The first offset of the oldest open transaction, -1 when none is open
 * (the LSO is min(this, HW)). O(1): kept by pstate_txn_data and
 * pstate_end_txn (ending the oldest one rescans the map once). */
int64_t pstate_first_unstable_offset(const struct pstate_map *m);

/* Inserts or replaces a whole entry (snapshot load). */
kerr_t pstate_put(struct pstate_map *m, const struct pstate_entry *e);

/* Removes producers idle (last_update_ms) longer than expiration_ms at
 * now_ms and without an open transaction; returns how many. */
int pstate_expire(struct pstate_map *m, int64_t now_ms, int64_t expiration_ms);
/* Removes producers whose last offset is below offset (their batches left
 * the log: retention, DeleteRecords); returns how many. */
int pstate_remove_before(struct pstate_map *m, int64_t offset);
/* True when some producer's newest batch ends at or above offset, or a
 * producer has used transactions (a removed marker reopens one): after a
 * truncation to offset the map must be rebuilt from the log. */
bool pstate_truncate_needs_rebuild(const struct pstate_map *m, int64_t offset);

/* ---- snapshot files (Kafka's ProducerStateManager format, version 1) ----
 * `<offset zero-padded to 20>.snapshot`: the state after every batch below
 * offset. Big-endian: version INT16 = 1, crc UINT32 (CRC-32C of every byte
 * after it), count INT32, then count entries of 46 bytes: producer_id INT64,
 * epoch INT16, last_sequence INT32, last_offset INT64, offset_delta INT32,
 * timestamp INT64, coordinator_epoch INT32, current_txn_first_offset INT64
 * (-1: none). Only each producer's LAST batch is kept (as in Kafka), so a
 * map loaded from a snapshot deduplicates a repeat of that batch only. */
#define PSTATE_SNAPSHOT_SUFFIX ".snapshot"
#define PSTATE_SNAPSHOT_VERSION 1
#define PSTATE_SNAPSHOT_ENTRY_SIZE 46
#define PSTATE_SNAPSHOT_HDR_SIZE 10

struct kbuf;
/* Appends the snapshot of m to out (false on OOM). */
bool pstate_snapshot_encode(const struct pstate_map *m, struct kbuf *out);
/* Loads a snapshot (p/len borrowed) into m (cleared first). A bad version,
 * CRC, length or entry -> KERR__CORRUPT with the reason in why (static),
 * m left empty. */
kerr_t pstate_snapshot_decode(const uint8_t *p, size_t len, struct pstate_map *m, const char **why);

#endif
