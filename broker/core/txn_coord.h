/*
 * broker/core/txn_coord.h — the transaction coordinator's operations on the txn worker: the
 * requests (InitProducerId with a transactional id, AddPartitionsToTxn / AddOffsetsToTxn,
 * EndTxn) checked by the state machine (broker/txn/txn_state.h) and written through
 * txn_runtime_write(); after a PrepareCommit / PrepareAbort is written, the markers
 * (txn_markers.h) and then CompleteCommit / CompleteAbort; the periodic passes (timed-out
 * transactions aborted, idle transactional ids removed) and the markers of prepared
 * transactions found when a partition is loaded (failover).
 *
 * Answers: a request is answered once its record is replicated (EndTxn: once PrepareX is,
 * as Kafka). A failed write answers as Kafka's coordinator does: COORDINATOR_NOT_AVAILABLE for
 * UNKNOWN_TOPIC_OR_PARTITION, NOT_ENOUGH_REPLICAS(_AFTER_APPEND), REQUEST_TIMED_OUT and
 * internal errors, NOT_COORDINATOR for NOT_LEADER_OR_FOLLOWER and KAFKA_STORAGE_ERROR,
 * UNKNOWN_SERVER_ERROR otherwise.
 *
 * Threads: every function runs on the txn worker (asserted by txn_runtime).
 */
#ifndef GREGOR_BROKER_CORE_TXN_COORD_H
#define GREGOR_BROKER_CORE_TXN_COORD_H

#include "broker/core/txn_runtime.h"

/* The answer of a request: called once, on the txn worker (maybe inside the call). pid/epoch
 * are the producer's (InitProducerId), -1 otherwise and on errors. */
typedef void (*txn_reply)(void *arg, kerr_t err, int64_t pid, int16_t epoch);

/* InitProducerId with transactional id p[0..len); pid/epoch -1/-1 before v3. */
void txn_coord_init_pid(struct txn_runtime *tr, const char *p, size_t len, int32_t timeout_ms,
                        int64_t pid, int16_t epoch, int16_t version, txn_reply reply, void *arg);
/* AddPartitionsToTxn (parts) or AddOffsetsToTxn (the group's `__consumer_offsets` partition). */
void txn_coord_add_partitions(struct txn_runtime *tr, const char *p, size_t len, int64_t pid,
                              int16_t epoch, const struct txn_tp *parts, size_t n, bool fenced_ok,
                              txn_reply reply, void *arg);
/* EndTxn. */
void txn_coord_end(struct txn_runtime *tr, const char *p, size_t len, int64_t pid, int16_t epoch,
                   bool commit, bool fenced_ok, txn_reply reply, void *arg);

/* Partition `partition` of `__transaction_state` was loaded into t: the markers of every
 * PrepareCommit / PrepareAbort entry are sent (then CompleteX written). */
void txn_coord_loaded(struct txn_runtime *tr, struct txn_table *t, int32_t partition);
/* Every transaction.abort.timed.out.transaction.cleanup.interval.ms: Ongoing transactions
 * past their timeout are fenced and aborted; prepared ones whose markers are not being sent
 * (a failed CompleteX write, refused markers) get them sent again. */
void txn_coord_abort_pass(struct txn_runtime *tr, struct txn_table *t, int32_t partition,
                          int64_t now_ms);
/* Every transaction.remove.expired.transaction.cleanup.interval.ms: ids idle longer than
 * transactional.id.expiration.ms are removed (a tombstone). */
void txn_coord_expire_pass(struct txn_runtime *tr, struct txn_table *t, int32_t partition,
                           int64_t now_ms);
/* The marker sender's callback (txn_markers_done; ctx is the runtime). */
void txn_coord_markers_done(void *ctx, const char *id, size_t id_len, int32_t coord_partition,
                            kerr_t err);

#endif
