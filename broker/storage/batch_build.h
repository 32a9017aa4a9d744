/*
 * broker/storage/batch_build.h — writes an uncompressed RecordBatch v2
 * (docs/protocol.md §4.1) from keys and values: what the broker's own
 * writers (the group coordinator's `__consumer_offsets` records) append
 * through the same path as a produced batch. Base offset 0 and leader epoch
 * -1 are placeholders the append overwrites; CreateTime; no producer id (-1)
 * unless batch_build_producer() gives one.
 *
 * Threads: pure function on caller-owned memory; any thread.
 */
#ifndef GREGOR_BROKER_STORAGE_BATCH_BUILD_H
#define GREGOR_BROKER_STORAGE_BATCH_BUILD_H

#include "common/buf.h"
#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One record: key and value may be NULL (null; a null value is a tombstone). */
struct batch_build_rec {
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value;
    size_t value_len;
};

/* Appends one batch holding the n (>= 1) records, every one timestamped
 * ts_ms, to out. KERR__INVALID for n == 0 or a batch over INT32_MAX bytes,
 * KERR__NOMEM when out ran out of memory. */
kerr_t batch_build(struct kbuf *out, const struct batch_build_rec *recs, size_t n, int64_t ts_ms);
/* batch_build with a producer: producer_id, producer_epoch, base_sequence,
 * and the transactional attribute when transactional (what the group
 * coordinator writes for a TxnOffsetCommit: base sequence 0, as Kafka). */
kerr_t batch_build_producer(struct kbuf *out, const struct batch_build_rec *recs, size_t n,
                            int64_t ts_ms, int64_t producer_id, int16_t producer_epoch,
                            int32_t base_sequence, bool transactional);

/* Appends a transaction marker (control batch, docs/storage.md "Transaction
 * markers"): attributes control + transactional, producer_id/epoch, base
 * sequence -1, one record with key = version 0 INT16 + type INT16 (0 abort,
 * 1 commit) and value = version 0 INT16 + coordinator_epoch INT32. */
kerr_t batch_build_marker(struct kbuf *out, int64_t producer_id, int16_t producer_epoch,
                          bool commit, int32_t coordinator_epoch, int64_t ts_ms);

#endif
