/*
 * broker/storage/batch.h — RecordBatch v2 (magic 2) as stored and sent:
 * header layout, a decoded header view, the Produce-time validation of
 * docs/protocol.md §4.6, an iterator over the batches of a buffer and
 * one over the records of an uncompressed batch.
 *
 * Batches are never re-encoded (docs/architecture.md §11): validation reads them in
 * place and the broker only writes baseOffset and partitionLeaderEpoch,
 * which the CRC does not cover.
 *
 * Threads: pure functions on caller-owned memory; any thread.
 */
#ifndef GREGOR_BROKER_STORAGE_BATCH_H
#define GREGOR_BROKER_STORAGE_BATCH_H

#include "common/base.h"
#include "common/err.h"
#include "common/buf.h"

/* Header field offsets from the batch start (docs/protocol.md §4.1). */
#define BATCH_OFF_BASE_OFFSET 0        /* INT64 */
#define BATCH_OFF_LENGTH 8             /* INT32: bytes after this field */
#define BATCH_OFF_LEADER_EPOCH 12      /* INT32 */
#define BATCH_OFF_MAGIC 16             /* INT8 = 2 */
#define BATCH_OFF_CRC 17               /* UINT32: CRC-32C of [21, end) */
#define BATCH_OFF_ATTRIBUTES 21        /* INT16 */
#define BATCH_OFF_LAST_OFFSET_DELTA 23 /* INT32 */
#define BATCH_OFF_BASE_TS 27           /* INT64 */
#define BATCH_OFF_MAX_TS 35            /* INT64 */
#define BATCH_OFF_PRODUCER_ID 43       /* INT64 */
#define BATCH_OFF_PRODUCER_EPOCH 51    /* INT16 */
#define BATCH_OFF_BASE_SEQ 53          /* INT32 */
#define BATCH_OFF_RECORDS_COUNT 57     /* INT32 */
#define BATCH_HDR_SIZE 61              /* records start here */
#define BATCH_LOG_OVERHEAD 12          /* baseOffset + batchLength */
#define BATCH_MIN_LENGTH 49            /* smallest batchLength (header, no records) */
#define BATCH_MAGIC 2

/* Attribute bits (§4.2). */
#define BATCH_ATTR_COMPRESSION_MASK 0x07 /* 0 none 1 gzip 2 snappy 3 lz4 4 zstd */
#define BATCH_ATTR_LOG_APPEND_TIME 0x08
#define BATCH_ATTR_TRANSACTIONAL 0x10
#define BATCH_ATTR_CONTROL 0x20
#define BATCH_ATTR_DELETE_HORIZON 0x40
#define BATCH_COMPRESSION_MAX 4 /* zstd; 5..7 are invalid */

/* A decoded copy of a batch header. Plain value; owned by whoever holds it. */
struct batch_hdr {
    int64_t base_offset;       /* first offset of the batch */
    int32_t batch_length;      /* bytes after the length field; total size = + 12 */
    int32_t leader_epoch;      /* partitionLeaderEpoch */
    int8_t magic;              /* 2 */
    uint32_t crc;              /* stored CRC-32C */
    int16_t attributes;        /* BATCH_ATTR_* bits */
    int32_t last_offset_delta; /* last offset - base offset */
    int64_t base_ts;           /* first record's timestamp (-1 none) */
    int64_t max_ts;            /* largest record timestamp (-1 none) */
    int64_t producer_id;       /* -1 if not idempotent */
    int16_t producer_epoch;
    int32_t base_seq;
    int32_t records_count;
};

/* Total bytes of the batch including the 12-byte log overhead. */
static inline int64_t batch_size(const struct batch_hdr *h)
{
    return (int64_t)h->batch_length + BATCH_LOG_OVERHEAD;
}
static inline int64_t batch_last_offset(const struct batch_hdr *h)
{
    return h->base_offset + h->last_offset_delta;
}
static inline int batch_compression(const struct batch_hdr *h)
{
    return h->attributes & BATCH_ATTR_COMPRESSION_MASK;
}
static inline bool batch_is_control(const struct batch_hdr *h)
{
    return (h->attributes & BATCH_ATTR_CONTROL) != 0;
}
static inline bool batch_is_transactional(const struct batch_hdr *h)
{
    return (h->attributes & BATCH_ATTR_TRANSACTIONAL) != 0;
}

/* Decodes the 61-byte header at p (borrowed; avail bytes readable) into *h.
 * Returns KERR_NONE; KERR__AGAIN if avail < 61; KERR__CORRUPT if the magic
 * is not 2 or batchLength < 49. Does not check that the whole batch is
 * present nor its CRC. */
kerr_t batch_parse_hdr(const uint8_t *p, size_t avail, struct batch_hdr *h);

/* True if the CRC stored in the batch at p (batch_size(h) bytes present)
 * matches its bytes [21, end). */
bool batch_crc_is_valid(const uint8_t *p, const struct batch_hdr *h);

/* Validates the records of one Produce partition: p/len (borrowed) must be
 * one or more whole batches. Checks, per batch and in the order of
 * docs/protocol.md §4.6: magic 2 (INVALID_RECORD); size <= max_message_bytes
 * (MESSAGE_TOO_LARGE; max_message_bytes <= 0 means no limit); frame sane:
 * batchLength >= 49 and within len (CORRUPT_MESSAGE); CRC (CORRUPT_MESSAGE);
 * baseOffset 0, recordsCount > 0, lastOffsetDelta = count - 1, control bit
 * clear, producerId >= 0 => baseSequence >= 0 (INVALID_RECORD); codec 5-7
 * (UNSUPPORTED_COMPRESSION_TYPE). Empty input is INVALID_RECORD.
 * On KERR_NONE *n_batches (may be NULL) is the number of batches; Produce
 * v3+ callers require exactly 1. */
kerr_t batch_validate_produce(const uint8_t *p, size_t len, int32_t max_message_bytes,
                              int *n_batches);

/* Writes baseOffset and partitionLeaderEpoch into the batch header at p
 * (borrowed, >= 61 bytes). The CRC does not cover them. */
void batch_set_offset_epoch(uint8_t *p, int64_t base_offset, int32_t leader_epoch);

/* Walks the batches of a buffer. Plain value on the stack; borrows p. */
struct batch_iter {
    const uint8_t *p; /* borrowed buffer */
    size_t len;       /* its length */
    size_t pos;       /* start of the next batch */
};

void batch_iter_init(struct batch_iter *it, const uint8_t *p, size_t len);
/* Decodes the next batch header into *h and its start position into *at
 * (the batch is p[*at, *at + batch_size(h))), then advances. Returns
 * KERR_NONE; KERR__NOENT when no bytes remain; KERR__AGAIN when the rest is
 * a partial batch; KERR__CORRUPT for a bad header (see batch_parse_hdr). */
kerr_t batch_iter_next(struct batch_iter *it, struct batch_hdr *h, size_t *at);

/* One record of an uncompressed batch; views borrow the batch bytes. */
struct batch_record {
    int64_t offset;     /* base offset + offsetDelta */
    int64_t ts;         /* base_ts + delta, or max_ts for LogAppendTime */
    const uint8_t *key; /* NULL = null key */
    int32_t key_len;
    const uint8_t *value; /* NULL = null value (tombstone) */
    int32_t value_len;
    int32_t headers_count;
    const uint8_t *headers; /* raw header section, headers_len bytes */
    size_t headers_len;
};

/* Walks the records of one uncompressed batch. Plain value; borrows. */
struct record_iter {
    struct kslice s;    /* over the records section */
    struct batch_hdr h; /* copy of the batch header */
    int32_t left;       /* records not yet returned */
};

/* Starts iterating the batch at p (borrowed; batch_size(h) bytes).
 * Returns KERR__INVALID for a compressed batch. */
kerr_t record_iter_init(struct record_iter *it, const uint8_t *p, const struct batch_hdr *h);
/* Returns KERR_NONE with *rec filled, KERR__NOENT after the last record,
 * KERR__CORRUPT for malformed record bytes. */
kerr_t record_iter_next(struct record_iter *it, struct batch_record *rec);

#endif
