/*
 * broker/storage/record_validate.h — validation of the records inside a
 * RecordBatch v2, as Kafka's log validator does it: the declared record
 * count against the records present, offset deltas 0..n-1, every length
 * and varint within its record and batch, well-formed headers, CreateTime
 * timestamps within the allowed skew, keys on compacted topics.
 *
 * Compressed batches (gzip, snappy raw or xerial-framed, lz4 frame, zstd)
 * are decompressed as a stream through a fixed window and parsed by the
 * same record parser as uncompressed ones; the decompressed size is capped
 * (rv_decompressed_limit()). docs/storage.md "Record validation" lists the
 * rules and the error each gives.
 *
 * Used by the Produce handler (all rules), the follower's append path and
 * the recovery scan (structure rules only: no timestamp or key rules, control
 * batches allowed), and `gregor dump-log`.
 *
 * Threads: pure functions on caller-owned memory; any thread. The only
 * allocations are the decompressor's state and window, freed before return.
 */
#ifndef GREGOR_BROKER_STORAGE_RECORD_VALIDATE_H
#define GREGOR_BROKER_STORAGE_RECORD_VALIDATE_H

#include "broker/storage/batch.h"

/* Smallest decompressed-size limit, whatever max.message.bytes says. */
#define RV_DECOMPRESSED_MIN_LIMIT ((int64_t)64 << 20)
/* The limit is this many times max.message.bytes when that is larger. */
#define RV_DECOMPRESSED_RATIO 4

/* What to check. Plain value, filled by the caller. */
struct rv_opts {
    bool produce;             /* client input: control batches refused */
    bool compacted;           /* a null key is INVALID_RECORD */
    int64_t now_ms;           /* for the timestamp rule */
    int64_t ts_diff_max_ms;   /* CreateTime skew allowed; < 0 or INT64_MAX: no check */
    int64_t max_decompressed; /* bytes a compressed batch may inflate to */
};

/* What the validator found. */
struct rv_result {
    int64_t max_ts;     /* largest record timestamp (CreateTime), -1 if none */
    const char *reason; /* static text saying why a batch was refused, or NULL */
};

/* The decompressed-size limit for a topic whose max.message.bytes is
 * max_message_bytes (<= 0: none): max(64 MiB, 4 x max.message.bytes). */
int64_t rv_decompressed_limit(int32_t max_message_bytes);

/* Options for batches that were already accepted once (follower append,
 * recovery scan, dump-log): structure only, the default size limit. */
void rv_opts_stored(struct rv_opts *o);

/* Validates the records of the whole batch at p (batch_size(h) bytes
 * readable; header already parsed into h, CRC checked by the caller).
 * Returns KERR_NONE, or INVALID_RECORD (count, offsets, lengths, headers,
 * keys, decompressed size over the limit), INVALID_TIMESTAMP, CORRUPT_MESSAGE
 * (a compressed stream that does not decode), UNSUPPORTED_COMPRESSION_TYPE
 * (codec 5-7), KERR__NOMEM. res (may be NULL) gets the max timestamp and the
 * reason. */
kerr_t record_validate_batch(const uint8_t *p, const struct batch_hdr *h, const struct rv_opts *o,
                             struct rv_result *res);

/* True if the whole batch at p (batch_size(h) bytes) has a valid CRC and
 * passes the stored-batch record rules: the recovery scan's test of a
 * batch it keeps. */
bool batch_is_intact(const uint8_t *p, const struct batch_hdr *h);

/* Validates every whole batch of buf/len (borrowed) with stored-batch rules
 * (follower append): frame, magic, CRC and records. A partial last batch is
 * left to the caller. KERR_NONE or the first batch's error; *reason (may be
 * NULL) says why. */
kerr_t record_validate_stored_batches(const uint8_t *buf, size_t len, const char **reason);

/* Decodes the records section of the batch at p (batch_size(h) bytes) into
 * out (appended): a copy for an uncompressed batch, the decompressed bytes
 * otherwise, at most limit bytes. KERR_CORRUPT_MESSAGE (bad stream),
 * KERR_INVALID_RECORD (over the limit), UNSUPPORTED_COMPRESSION_TYPE,
 * KERR__NOMEM. The log cleaner uses it to filter compressed batches. */
kerr_t rv_decompress_records(const uint8_t *p, const struct batch_hdr *h, int64_t limit,
                             struct kbuf *out);

#endif
