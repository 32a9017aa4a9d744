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
 * dropped (and reloaded). Records that do not decode are skipped with a warning.
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

#endif
