/*
 * broker/storage/batch.c — RecordBatch v2 decoding and Produce validation.
 *
 * Format owned here (docs/protocol.md §4.1, big-endian):
 *
 *   OFF SIZE FIELD                    OFF SIZE FIELD
 *    0   8   baseOffset               35   8   maxTimestamp
 *    8   4   batchLength (= size-12)  43   8   producerId
 *   12   4   partitionLeaderEpoch     51   2   producerEpoch
 *   16   1   magic (2)                53   4   baseSequence
 *   17   4   crc (CRC-32C of 21..end) 57   4   recordsCount
 *   21   2   attributes               61   ... records
 *   23   4   lastOffsetDelta
 *   27   8   baseTimestamp
 *
 * Records (uncompressed batches only; zigzag varints): length, attributes
 * INT8, timestampDelta VARLONG, offsetDelta VARINT, keyLength, key,
 * valueLength, value, headersCount, headers.
 *
 * Neighbours: segment.c/plog.c scan stored batches with these helpers; the
 * Produce handler calls batch_validate_produce() (the frame) and then
 * record_validate.c (the records) before taking the partition lock.
 * Threads: pure functions, any thread.
 */
#include "broker/storage/batch.h"

#include <string.h>

#include "common/crc32c.h"
#include "common/kwire.h"

kerr_t batch_parse_hdr(const uint8_t *p, size_t avail, struct batch_hdr *h)
{
    if (avail < BATCH_HDR_SIZE)
        return KERR__AGAIN;
    h->base_offset = (int64_t)be64_load(p + BATCH_OFF_BASE_OFFSET);
    h->batch_length = (int32_t)be32_load(p + BATCH_OFF_LENGTH);
    h->leader_epoch = (int32_t)be32_load(p + BATCH_OFF_LEADER_EPOCH);
    h->magic = (int8_t)p[BATCH_OFF_MAGIC];
    h->crc = be32_load(p + BATCH_OFF_CRC);
    h->attributes = (int16_t)be16_load(p + BATCH_OFF_ATTRIBUTES);
    h->last_offset_delta = (int32_t)be32_load(p + BATCH_OFF_LAST_OFFSET_DELTA);
    h->base_ts = (int64_t)be64_load(p + BATCH_OFF_BASE_TS);
    h->max_ts = (int64_t)be64_load(p + BATCH_OFF_MAX_TS);
    h->producer_id = (int64_t)be64_load(p + BATCH_OFF_PRODUCER_ID);
    h->producer_epoch = (int16_t)be16_load(p + BATCH_OFF_PRODUCER_EPOCH);
    h->base_seq = (int32_t)be32_load(p + BATCH_OFF_BASE_SEQ);
    h->records_count = (int32_t)be32_load(p + BATCH_OFF_RECORDS_COUNT);
    if (h->magic != BATCH_MAGIC || h->batch_length < BATCH_MIN_LENGTH)
        return KERR__CORRUPT;
    return KERR_NONE;
}

bool batch_crc_is_valid(const uint8_t *p, const struct batch_hdr *h)
{
    size_t n = (size_t)batch_size(h) - BATCH_OFF_ATTRIBUTES;

    return crc32c(0, p + BATCH_OFF_ATTRIBUTES, n) == h->crc;
}

/* Validates the batch at p (avail bytes left in the request) and sets *size
 * to its total size. Order follows docs/protocol.md §4.6. */
static kerr_t validate_one(const uint8_t *p, size_t avail, int32_t max_message_bytes, size_t *size)
{
    struct batch_hdr h;
    int32_t blen;

    if (avail <= BATCH_OFF_MAGIC)
        return KERR_CORRUPT_MESSAGE;
    if ((int8_t)p[BATCH_OFF_MAGIC] != BATCH_MAGIC)
        return KERR_INVALID_RECORD;
    blen = (int32_t)be32_load(p + BATCH_OFF_LENGTH);
    if (max_message_bytes > 0 && blen >= 0 &&
        (int64_t)blen + BATCH_LOG_OVERHEAD > (int64_t)max_message_bytes)
        return KERR_MESSAGE_TOO_LARGE;
    if (blen < BATCH_MIN_LENGTH || (uint64_t)blen + BATCH_LOG_OVERHEAD > (uint64_t)avail)
        return KERR_CORRUPT_MESSAGE;
    if (batch_parse_hdr(p, avail, &h) != KERR_NONE)
        return KERR_CORRUPT_MESSAGE;
    if (!batch_crc_is_valid(p, &h))
        return KERR_CORRUPT_MESSAGE;
    if (h.base_offset != 0 || h.records_count <= 0 || h.last_offset_delta != h.records_count - 1)
        return KERR_INVALID_RECORD;
    if (batch_is_control(&h))
        return KERR_INVALID_RECORD;
    if (h.producer_id >= 0 && h.base_seq < 0)
        return KERR_INVALID_RECORD;
    if (batch_compression(&h) > BATCH_COMPRESSION_MAX)
        return KERR_UNSUPPORTED_COMPRESSION_TYPE;
    *size = (size_t)batch_size(&h);
    return KERR_NONE;
}

kerr_t batch_validate_produce(const uint8_t *p, size_t len, int32_t max_message_bytes,
                              int *n_batches)
{
    size_t pos = 0;
    int n = 0;

    if (len == 0)
        return KERR_INVALID_RECORD;
    while (pos < len) {
        size_t size = 0;
        kerr_t err = validate_one(p + pos, len - pos, max_message_bytes, &size);
        if (err != KERR_NONE)
            return err;
        pos += size;
        n++;
    }
    if (n_batches)
        *n_batches = n;
    return KERR_NONE;
}

void batch_set_offset_epoch(uint8_t *p, int64_t base_offset, int32_t leader_epoch)
{
    be64_store(p + BATCH_OFF_BASE_OFFSET, (uint64_t)base_offset);
    be32_store(p + BATCH_OFF_LEADER_EPOCH, (uint32_t)leader_epoch);
}

void batch_iter_init(struct batch_iter *it, const uint8_t *p, size_t len)
{
    it->p = p;
    it->len = len;
    it->pos = 0;
}

kerr_t batch_iter_next(struct batch_iter *it, struct batch_hdr *h, size_t *at)
{
    size_t left = it->len - it->pos;
    kerr_t err;

    if (left == 0)
        return KERR__NOENT;
    err = batch_parse_hdr(it->p + it->pos, left, h);
    if (err != KERR_NONE)
        return err;
    if ((uint64_t)batch_size(h) > (uint64_t)left)
        return KERR__AGAIN;
    *at = it->pos;
    it->pos += (size_t)batch_size(h);
    return KERR_NONE;
}

kerr_t record_iter_init(struct record_iter *it, const uint8_t *p, const struct batch_hdr *h)
{
    if (batch_compression(h) != 0)
        return KERR__INVALID;
    kslice_init(&it->s, p + BATCH_HDR_SIZE, (size_t)batch_size(h) - BATCH_HDR_SIZE);
    it->h = *h;
    it->left = h->records_count;
    return KERR_NONE;
}

/* Reads a zigzag-varint length then that many bytes; -1 gives a NULL view. */
static const uint8_t *read_varbytes(struct kslice *s, int32_t *n)
{
    *n = kslice_varint(s);
    if (*n < 0) {
        if (*n != -1)
            kslice_fail(s);
        return NULL;
    }
    return kslice_take(s, (size_t)*n);
}

kerr_t record_iter_next(struct record_iter *it, struct batch_record *rec)
{
    struct kslice r;
    int32_t rlen;
    int64_t ts_delta;

    if (it->left <= 0 || kslice_remaining(&it->s) == 0)
        return it->left <= 0 ? KERR__NOENT : KERR__CORRUPT;
    rlen = kslice_varint(&it->s);
    if (!kslice_ok(&it->s) || rlen < 0 || (size_t)rlen > kslice_remaining(&it->s))
        return KERR__CORRUPT;
    kslice_init(&r, kslice_take(&it->s, (size_t)rlen), (size_t)rlen);
    (void)kslice_u8(&r); /* attributes, unused */
    ts_delta = kslice_varlong(&r);
    /* Wrapping sums: the deltas come from clients, whatever the CRC says. */
    rec->offset = (int64_t)((uint64_t)it->h.base_offset + (uint64_t)(int64_t)kslice_varint(&r));
    rec->ts = (it->h.attributes & BATCH_ATTR_LOG_APPEND_TIME)
                  ? it->h.max_ts
                  : (int64_t)((uint64_t)it->h.base_ts + (uint64_t)ts_delta);
    rec->key = read_varbytes(&r, &rec->key_len);
    rec->value = read_varbytes(&r, &rec->value_len);
    rec->headers_count = kslice_varint(&r);
    if (!kslice_ok(&r) || rec->headers_count < 0)
        return KERR__CORRUPT;
    rec->headers = kslice_cur(&r);
    rec->headers_len = kslice_remaining(&r);
    it->left--;
    return KERR_NONE;
}
