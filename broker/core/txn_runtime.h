/*
 * broker/core/txn_runtime.h — the transaction coordinator's state at run time: one
 * `txn_table` (broker/txn/txn_state.h) per `__transaction_state` partition this broker leads,
 * owned by one thread, the `txn` worker.
 *
 * When this broker becomes the leader of a partition (the replica manager calls
 * txn_runtime_partition_changed(), and txn_runtime_route() checks again) the partition is
 * replayed from its log in chunks (txn_table_load_record(): the last value per transactional id
 * wins, tombstones remove); while it loads, txn_runtime_route() answers
 * COORDINATOR_LOAD_IN_PROGRESS. When it stops leading (or leads at a new epoch) its table is
 * dropped (and reloaded). Records that do not decode are skipped with a warning. A loaded
 * partition is handed to the coordinator (txn_coord_loaded(): markers of prepared
 * transactions); a timer runs the coordinator's passes every
 * transaction.abort.timed.out.transaction.cleanup.interval.ms (txn_coord_abort_pass()) and
 * transaction.remove.expired.transaction.cleanup.interval.ms (txn_coord_expire_pass()).
 *
 * Threads: txn_runtime_new/start/stop/free on the main thread; txn_runtime_partition_changed()
 * and txn_runtime_call() from any thread; the rest on the txn worker only.
 */
#ifndef GREGOR_BROKER_CORE_TXN_RUNTIME_H
#define GREGOR_BROKER_CORE_TXN_RUNTIME_H

#include "broker/txn/txn_state.h"
#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct broker;
struct txn_runtime;

struct txn_runtime *txn_runtime_new(struct broker *b);
bool txn_runtime_start(struct txn_runtime *tr);
/* Drops every table and refuses further calls; waits for the worker's queued jobs. */
void txn_runtime_stop(struct txn_runtime *tr);
void txn_runtime_free(struct txn_runtime *tr);

/* Partition p of `__transaction_state` changed leader or epoch here. Any thread. */
void txn_runtime_partition_changed(struct txn_runtime *tr, int32_t p);

/* Runs fn(tr, arg) on the txn worker; false if it cannot be posted (stopping). */
bool txn_runtime_call(struct txn_runtime *tr, void (*fn)(struct txn_runtime *tr, void *arg),
                      void *arg);

/* The table holding transactional id p[0..len), loading its partition if this broker leads
 * it: NULL with *err = NOT_COORDINATOR (another broker leads), COORDINATOR_LOAD_IN_PROGRESS
 * or COORDINATOR_NOT_AVAILABLE (no such topic yet). Txn worker only. */
struct txn_table *txn_runtime_route(struct txn_runtime *tr, const char *p, size_t len, kerr_t *err);

/* Calls fn(p, table, arg) for every partition p whose table is loaded (fn must not add or
 * remove entries); returns how many partitions are still loading (their tables are skipped).
 * Txn worker only. */
int txn_runtime_foreach_loaded(struct txn_runtime *tr,
                               void (*fn)(int32_t p, struct txn_table *t, void *arg), void *arg);

/* Where transactional id p[0..len) lives: its loaded table, the `__transaction_state` partition
 * and the leader epoch the partition was loaded under (the coordinator epoch of its markers).
 * False with *err as txn_runtime_route(). Txn worker only. */
struct txn_route {
    struct txn_table *table;
    int32_t partition;
    int32_t coord_epoch;
};
bool txn_runtime_locate(struct txn_runtime *tr, const char *p, size_t len, struct txn_route *out,
                        kerr_t *err);

/* Writes the pending transition of m (an entry of rt->table, just returned with write = true
 * by a txn_state.h operation) as a `__transaction_state` record with acks=all, then applies it
 * (txn_apply()) once replicated or abandons it (txn_abandon()) when the append failed, the
 * partition was unloaded or TXN_WRITE_TIMEOUT_MS passed (REQUEST_TIMED_OUT), and calls
 * done(tr, err, entry, arg) from a later job: entry is the entry after that, NULL when it is
 * gone (a Dead id removed, a new id abandoned, the table unloaded). Txn worker only. */
#define TXN_WRITE_TIMEOUT_MS 30000 /* Kafka's request.timeout.ms default */
typedef void (*txn_write_done)(struct txn_runtime *tr, kerr_t err, struct txn_meta *m, void *arg);
void txn_runtime_write(struct txn_runtime *tr, const struct txn_route *rt, struct txn_meta *m,
                       txn_write_done done, void *arg);

/* The marker sender (txn_markers.h), on the txn worker's loop; NULL before start or after
 * stop. Txn worker only. */
struct txn_markers *txn_runtime_markers(struct txn_runtime *tr);
struct broker *txn_runtime_broker(struct txn_runtime *tr);
/* Wall-clock now in ms, the clock of every txn_* call. */
int64_t txn_runtime_now(void);

#endif
