/*
 * broker/core/txn_markers.h — the transaction coordinator's marker sender: for a transaction in
 * PrepareCommit / PrepareAbort, WriteTxnMarkers v1 to the leader of every partition of the
 * transaction, on the leader's inter-broker listener (this broker's own partitions included:
 * they go through its own listener the same way).
 *
 * Leaders and endpoints come from the metadata cache. One connection per destination broker,
 * reused by every transaction (requests pipelined, answered in order); a connection error or
 * a request unanswered within TXN_MARKERS_TIMEOUT_MS fails the requests on it. A partition
 * answered NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION, NOT_ENOUGH_REPLICAS(_AFTER_APPEND),
 * REQUEST_TIMED_OUT or KAFKA_STORAGE_ERROR, one whose leader is unknown or offline, and one whose
 * request failed, is sent again after TXN_MARKERS_RETRY_MS to the leader the metadata then
 * names. A partition of a topic the metadata no longer has (deleted) is dropped.
 * INVALID_PRODUCER_EPOCH or TRANSACTION_COORDINATOR_FENCED (a newer coordinator or producer
 * took over) ends the transaction's sending with that error, as Kafka does.
 *
 * Threads: everything runs on the worker given to txn_markers_new() (the txn worker), on its
 * event base; the callback too. The public functions assert it.
 */
#ifndef GREGOR_BROKER_CORE_TXN_MARKERS_H
#define GREGOR_BROKER_CORE_TXN_MARKERS_H

#include "broker/txn/txn_state.h"
#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct broker;
struct txn_markers;
struct worker;

#define TXN_MARKERS_RETRY_MS 200
#define TXN_MARKERS_TIMEOUT_MS 30000

/* The end of one transaction's markers: err KERR_NONE when every partition has its marker
 * (or was dropped), else the fencing error. id is id_len bytes (NUL-terminated, but it may hold
 * NUL bytes itself: a Kafka string). */
typedef void (*txn_markers_done)(void *ctx, const char *id, size_t id_len, int32_t coord_partition,
                                 kerr_t err);

/* One transaction's markers to send (copied by txn_markers_send()). */
struct txn_markers_txn {
    const char *id;
    size_t id_len;
    int32_t coord_partition; /* the `__transaction_state` partition of id */
    int32_t coord_epoch;     /* its leader epoch: the markers' coordinator_epoch */
    int64_t producer_id;
    int16_t producer_epoch;
    bool commit;
    const struct txn_tp *parts;
    size_t n_parts;
};

struct txn_markers *txn_markers_new(struct broker *b, struct worker *w, txn_markers_done done,
                                    void *ctx);
/* Drops every connection and transaction without calling back. On the loop's thread. */
void txn_markers_free(struct txn_markers *mk);

/* Starts sending; done runs later (never inside this call). False when memory ran out. */
bool txn_markers_send(struct txn_markers *mk, const struct txn_markers_txn *t);
/* Whether the markers of transactional id p[0..len) are being sent. */
bool txn_markers_active(const struct txn_markers *mk, const char *p, size_t len);
/* Stops the transactions of coordinator partition p without calling back (it was unloaded). */
void txn_markers_cancel_partition(struct txn_markers *mk, int32_t p);

#endif
