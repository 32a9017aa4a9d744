/*
 * broker/txn/txn_log_format.h — the record formats of `__transaction_state`, Kafka's own
 * (TransactionLogKey / TransactionLogValue of apache/kafka's transaction coordinator).
 *
 * Every key and value starts with an INT16 version, big-endian.
 *
 *   key v0 (classic)       transactional_id STRING (INT16 length + bytes)
 *
 *   value v0 (classic: INT16 string lengths, INT32 array counts, -1 = null)
 *   value v1 (flexible: compact lengths as UNSIGNED_VARINT n+1, 0 = null, tagged fields)
 *     producer_id INT64, producer_epoch INT16, transaction_timeout_ms INT32,
 *     transaction_status INT8 (enum txn_status), transaction_partitions NULLABLE ARRAY of
 *       { topic STRING, partition_ids ARRAY of INT32 [v1: + tagged fields] },
 *     transaction_last_update_timestamp_ms INT64, transaction_start_timestamp_ms INT64
 *     [v1: tagged fields: 0 previous_producer_id INT64, 1 next_producer_id INT64,
 *          2 client_transaction_version INT16; unknown tags are skipped]
 *
 *   A null value is a tombstone: the transactional id is removed.
 *
 * Fields a version lacks decode to their defaults (previous/next producer id -1, client
 * transaction version 0); v1 writes a tag only when it differs from its default. A null
 * partition array decodes as zero topics. Decoders reject truncated input, trailing bytes,
 * unknown versions, unknown statuses, null strings, strings over 32767 bytes and negative
 * lengths other than a nullable's -1 with KERR__CORRUPT. Threads: none; pure functions.
 */
#ifndef GREGOR_BROKER_TXN_TXN_LOG_FORMAT_H
#define GREGOR_BROKER_TXN_TXN_LOG_FORMAT_H

#include "common/buf.h"
#include "common/err.h"
#include "common/kwire.h"

/* Kafka's TransactionState ids, as stored in transaction_status. */
enum txn_status {
    TXN_EMPTY = 0,
    TXN_ONGOING = 1,
    TXN_PREPARE_COMMIT = 2,
    TXN_PREPARE_ABORT = 3,
    TXN_COMPLETE_COMMIT = 4,
    TXN_COMPLETE_ABORT = 5,
    TXN_DEAD = 6,
    TXN_PREPARE_EPOCH_FENCE = 7,
};
#define TXN_STATUS_COUNT 8

/* Kafka's name of a status ("Ongoing"), "Unknown" out of range. */
const char *txn_status_name(int status);

/* The longest transactional id this broker stores (a STRING field's limit). */
#define TXN_ID_MAX 32767

struct txn_log_topic {
    struct kstr topic;
    int32_t *partitions; /* decoded: points into the value's owned id array */
    int32_t count;
};

struct txn_log_value {
    int16_t version; /* 0 or 1 */
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t timeout_ms;
    int8_t status;                /* enum txn_status */
    struct txn_log_topic *topics; /* decoded: owned, free with txn_log_value_destroy() */
    int32_t topic_count;
    int64_t last_update_ms;
    int64_t start_ms;
    int64_t prev_producer_id;   /* v1 tag 0; -1 otherwise */
    int64_t next_producer_id;   /* v1 tag 1; -1 otherwise */
    int16_t client_txn_version; /* v1 tag 2; 0 otherwise */
};

/* Appends a key v0 for id (n bytes) to b. */
void txn_log_key_put(struct kbuf *b, const char *id, size_t n);
/* Decodes a key; *id borrows p. KERR__CORRUPT on bad input. */
kerr_t txn_log_key_decode(const void *p, size_t len, struct kstr *id);

/* Appends a value of v->version (0 or 1) to b. KERR__INVALID for an unknown version or
 * status, a negative count or a topic name over 32767 bytes (b is then partly written). */
kerr_t txn_log_value_put(struct kbuf *b, const struct txn_log_value *v);
/* Decodes a value: topic names borrow p, topics and partition ids are allocated (free with
 * txn_log_value_destroy(), also after an error). KERR__CORRUPT on bad input, KERR__NOMEM. */
kerr_t txn_log_value_decode(const void *p, size_t len, struct txn_log_value *out);
void txn_log_value_destroy(struct txn_log_value *v);

#endif
