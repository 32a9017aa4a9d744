/*
 * broker/txn/txn_state.h — the transaction coordinator's metadata: one entry per
 * transactional id of the `__transaction_state` partitions this broker leads, and the legal
 * transitions between Kafka's transaction states (TransactionMetadata in apache/kafka).
 *
 * States (enum txn_status) and the states each may be entered from:
 *   Empty              Empty, CompleteCommit, CompleteAbort
 *   Ongoing            Ongoing, Empty, CompleteCommit, CompleteAbort
 *   PrepareCommit      Ongoing
 *   PrepareAbort       Ongoing, PrepareEpochFence
 *   CompleteCommit     PrepareCommit
 *   CompleteAbort      PrepareAbort
 *   Dead               Empty, CompleteCommit, CompleteAbort
 *   PrepareEpochFence  Ongoing
 *
 * Every change is two steps, as in Kafka: an operation (txn_init_pid(), txn_add_partitions(),
 * txn_end(), txn_complete(), txn_fence_timed_out(), txn_expire()) checks the request against
 * the entry and, when something must be written, leaves the entry *pending* with the target
 * `struct txn_transit` it returns; the caller writes that as a `__transaction_state` record
 * (txn_transit_value()) and calls txn_apply() once the record is replicated or txn_abandon()
 * when the write failed. While a transition is pending every other operation on the id gets
 * CONCURRENT_TRANSACTIONS.
 *
 * Errors are Kafka's: CONCURRENT_TRANSACTIONS (retriable), INVALID_TXN_STATE,
 * INVALID_PRODUCER_ID_MAPPING, INVALID_TRANSACTION_TIMEOUT, INVALID_REQUEST, and a fenced
 * producer gets PRODUCER_FENCED when `fenced_ok` (InitProducerId v4+, AddPartitionsToTxn /
 * AddOffsetsToTxn / EndTxn v2+, TxnOffsetCommit v3+) and INVALID_PRODUCER_EPOCH otherwise.
 *
 * Loading: txn_table_load_record() replays the records of a partition in log order (the last
 * value per key wins; a tombstone removes the id). Threads: a table is owned by one thread;
 * time (now_ms) and fresh producer ids are passed in.
 */
#ifndef GREGOR_BROKER_TXN_TXN_STATE_H
#define GREGOR_BROKER_TXN_TXN_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/txn/txn_log_format.h"
#include "broker/txn/txn_stats.h"
#include "common/buf.h"
#include "common/err.h"

/* Epochs at or above this are exhausted: the next bump takes a new producer id. */
#define TXN_EPOCH_EXHAUSTED 32766

struct txn_tp {
    char *topic;
    int32_t partition;
};

/* The content of a transaction's metadata: the current one, or the target of a transition. */
struct txn_transit {
    int64_t producer_id;
    int64_t last_producer_id; /* the id before a rotation; -1 if none */
    int16_t producer_epoch;
    int16_t last_producer_epoch; /* the epoch before the latest bump; -1 if none */
    int32_t timeout_ms;
    enum txn_status state;
    struct txn_tp *parts; /* owned, sorted by (topic, partition), no duplicates */
    size_t nparts;
    int64_t start_ms; /* -1 when no transaction is open */
    int64_t last_update_ms;
};

struct txn_meta {
    char *id; /* NUL-terminated copy */
    size_t id_len;
    struct txn_transit cur;
    bool pending; /* a transition to `to` is being written */
    struct txn_transit to;
    int16_t unowned_epoch; /* the epoch a fence of the open transaction took (no producer holds
                              it; txn_stats.h), -1 if none */
    bool markers_refused;  /* the coordinator's: a partition refused the markers of this
                              prepared transaction (a newer coordinator or producer epoch); not
                              sent again while the entry is loaded. Kept by the coordinator only */
    bool markers_done;     /* the coordinator's: every partition acknowledged the markers of
                              this prepared transaction, so a failed write of its completion is
                              retried alone (Kafka retries the log append, not the markers) */
    struct txn_meta *next; /* hash chain */
};

struct txn_table;

struct txn_table *txn_table_new(void);
void txn_table_free(struct txn_table *t);
size_t txn_table_count(const struct txn_table *t);
struct txn_meta *txn_table_get(const struct txn_table *t, const char *id, size_t id_len);
/* Makes t count into s (txn_stats.h) from now on; t must be empty. NULL: no counting. */
void txn_table_set_stats(struct txn_table *t, struct txn_stats *s);
/* Calls fn for every entry (fn must not add or remove entries). */
void txn_table_foreach(struct txn_table *t, void (*fn)(struct txn_meta *m, void *arg), void *arg);

/* True when Kafka allows moving from `from` to `to` (the table above). */
bool txn_transition_legal(enum txn_status from, enum txn_status to);

/* The error for a fenced producer: PRODUCER_FENCED if the client's version knows it. */
static inline kerr_t txn_fenced_error(bool fenced_ok)
{
    return fenced_ok ? KERR_PRODUCER_FENCED : KERR_INVALID_PRODUCER_EPOCH;
}

/* What an operation decided. err is the answer for the client (after the write when `write`);
 * when `write`, the entry is pending with *to (owned by the entry) as its target. */
struct txn_result {
    kerr_t err;
    bool write;
    const struct txn_transit *to;
    struct txn_meta *meta;
};

/* InitProducerId with a transactional id. expect_pid/expect_epoch are the request's (v3+;
 * -1/-1 when absent). new_pid is a fresh producer id the caller allocated: used for a new id
 * or when the epoch is exhausted (*used_new_pid tells; otherwise the caller may keep it).
 * An open transaction is fenced and aborted: the result writes PrepareAbort with the bumped
 * epoch and answers CONCURRENT_TRANSACTIONS (the client retries once the abort completes). */
struct txn_result txn_init_pid(struct txn_table *t, const char *id, size_t id_len,
                               int32_t timeout_ms, int32_t max_timeout_ms, int64_t expect_pid,
                               int16_t expect_epoch, bool fenced_ok, int64_t new_pid,
                               bool *used_new_pid, int64_t now_ms);

/* AddPartitionsToTxn: parts[n] joins the transaction (Ongoing). */
struct txn_result txn_add_partitions(struct txn_table *t, const char *id, size_t id_len,
                                     int64_t pid, int16_t epoch, const struct txn_tp *parts,
                                     size_t n, bool fenced_ok, int64_t now_ms);

/* EndTxn: PrepareCommit or PrepareAbort (the caller then writes the markers and calls
 * txn_complete()). A retry of a finished end answers NONE without a write. */
struct txn_result txn_end(struct txn_table *t, const char *id, size_t id_len, int64_t pid,
                          int16_t epoch, bool commit, bool fenced_ok, int64_t now_ms);

/* The markers of a PrepareCommit/PrepareAbort transaction are written: CompleteCommit /
 * CompleteAbort with no partitions. INVALID_TXN_STATE in any other state. */
struct txn_result txn_complete(struct txn_table *t, struct txn_meta *m, int64_t now_ms);

/* An Ongoing transaction open longer than its timeout at now_ms: fence (bump the epoch, as
 * Kafka's PrepareEpochFence) and write PrepareAbort; at epoch INT16_MAX, which cannot be
 * bumped, PrepareAbort keeps the epoch (the next InitProducerId rotates the producer id).
 * InitProducerId fencing an open transaction does the same. INVALID_TXN_STATE if it is not
 * Ongoing or has not timed out; CONCURRENT_TRANSACTIONS if a transition is pending. */
struct txn_result txn_fence_timed_out(struct txn_table *t, struct txn_meta *m, int64_t now_ms);

/* A transactional id idle (Empty, CompleteCommit, CompleteAbort) since before
 * now_ms - expiration_ms becomes Dead: the caller writes a tombstone (txn_apply() removes
 * the entry). INVALID_TXN_STATE otherwise. */
struct txn_result txn_expire(struct txn_table *t, struct txn_meta *m, int64_t expiration_ms,
                             int64_t now_ms);

/* The pending transition of m is written: it becomes current (a Dead entry is removed and
 * freed: m is invalid afterwards). */
void txn_apply(struct txn_table *t, struct txn_meta *m);
/* The write failed: the entry stays as it was (a new entry that was never written is removed
 * and freed). */
void txn_abandon(struct txn_table *t, struct txn_meta *m);

/* The record for a transition: key v0 into key; value v0 (v1 when it carries a previous
 * producer id) into value, or nothing for a Dead target (*tombstone = true). */
kerr_t txn_transit_record(const struct txn_meta *m, const struct txn_transit *to, struct kbuf *key,
                          struct kbuf *value, bool *tombstone);

/* Replays one record of `__transaction_state` (value NULL: tombstone). KERR__CORRUPT for
 * bytes that do not decode (the table is unchanged), KERR__NOMEM. */
kerr_t txn_table_load_record(struct txn_table *t, const void *key, size_t key_len,
                             const void *value, size_t value_len);

#endif
