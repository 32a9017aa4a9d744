/*
 * broker/storage/cleaner_filter.h — the log cleaner's record-level work on
 * one RecordBatch v2: walking its records (keys, offsets, tombstones) and
 * rewriting it with only the records to keep, as Kafka's
 * MemoryRecords.filterTo does.
 *
 * A rewritten batch keeps baseOffset, partitionLeaderEpoch, attributes
 * (codec included: a compressed batch is recompressed with its codec,
 * batch_compress.h), lastOffsetDelta, baseTimestamp, producerId,
 * producerEpoch and baseSequence; recordsCount becomes the kept count,
 * maxTimestamp the kept records' largest (CreateTime; LogAppendTime keeps
 * it), and the CRC is recomputed. Kept records are copied byte for byte,
 * so their offset and timestamp deltas stay valid. A batch whose records
 * are all kept is copied unchanged. A batch left with no record is dropped,
 * unless the caller asks to keep it (a producer's last batch): then an
 * empty batch is written (recordsCount 0, uncompressed, baseTimestamp =
 * maxTimestamp = the batch's maxTimestamp), as Kafka's writeEmptyHeader.
 * The records of a batch of an aborted transaction all go (the caller
 * knows, cleaner_txn.h). Control batches are copied unchanged (whether a
 * marker stays is the caller's decision).
 *
 * Threads: pure functions on caller-owned memory; any thread.
 */
#ifndef GREGOR_BROKER_STORAGE_CLEANER_FILTER_H
#define GREGOR_BROKER_STORAGE_CLEANER_FILTER_H

#include "broker/storage/batch.h"
#include "broker/storage/offset_map.h"

/* One record as the cleaner sees it; views borrow the records bytes. */
struct cleaner_rec {
    int64_t offset;
    int64_t ts;         /* CreateTime of the record, or the batch maxTimestamp (LogAppendTime) */
    const uint8_t *key; /* NULL: no key */
    int32_t key_len;
    bool tombstone;       /* null value */
    const uint8_t *value; /* NULL for a tombstone */
    int32_t value_len;
    const uint8_t *raw; /* the whole record, length prefix included */
    size_t raw_len;
};

/* Decodes the next record of a records section (decompressed) of the batch
 * h from s. KERR_NONE, KERR__NOENT at the end, KERR__CORRUPT. */
kerr_t cleaner_next_record(struct kslice *s, const struct batch_hdr *h, struct cleaner_rec *r);

/* What decides a record's fate. Plain value, filled by the pass. */
struct cleaner_filter {
    const struct offset_map *map; /* latest offset per key of the dirty part */
    int64_t end;                  /* records at or past it are kept (not in the map) */
    bool retain_deletes;          /* tombstones of this segment are still kept */
    int64_t decompress_limit;     /* bytes a compressed batch may inflate to */
};

/* Counters of one filter call (added to by cleaner_filter_batch). */
struct cleaner_filter_result {
    int64_t records_kept;
    int64_t records_removed;
    int64_t tombstones_removed;
    int64_t keyless_removed;
    int64_t aborted_removed; /* records of aborted transactions */
};

/* True if the record stays: at or past f->end, or it is the
 * latest for its key and (not a tombstone, or deletes are retained).
 * Records without a key are removed. */
bool cleaner_keep_record(const struct cleaner_filter *f, const struct cleaner_rec *r);

/* Filters the batch at p (batch_size(h) bytes, header h) and appends what
 * stays to out (nothing when the batch goes). aborted: the batch belongs to
 * an aborted transaction, every record goes. keep_empty: write an empty
 * batch instead of nothing. *res is added to. KERR__CORRUPT for bad record
 * bytes (the batch was CRC-checked when written), a decompression error,
 * KERR__NOMEM. */
kerr_t cleaner_filter_batch(const uint8_t *p, const struct batch_hdr *h,
                            const struct cleaner_filter *f, bool aborted, bool keep_empty,
                            struct kbuf *out, struct cleaner_filter_result *res);

/* Appends to out an empty batch made from the batch header hdr (61
 * bytes): recordsCount 0, uncompressed, both timestamps = maxTimestamp. */
void cleaner_empty_batch(const uint8_t *hdr, struct kbuf *out);
/* The same, but a placeholder that belongs to no producer or transaction:
 * producer id, epoch and base sequence -1, attributes cleared but the
 * timestamp type (what keeps a group that lost everything non-empty
 * without keeping a producer's or a transaction's batch alive). */
void cleaner_placeholder_batch(const uint8_t *hdr, struct kbuf *out);

#endif
