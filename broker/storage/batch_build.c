/*
 * broker/storage/batch_build.c — an uncompressed RecordBatch v2 from keys and
 * values (batch_build.h). Record layout (docs/protocol.md §4.3): length
 * (varint), attributes (int8 0), timestampDelta (varlong 0), offsetDelta
 * (varint i), key and value (varint length, -1 = null, then bytes), headers
 * count (varint 0).
 */
#include "broker/storage/batch_build.h"
#include "broker/storage/batch.h"
#include "common/crc32c.h"
#include "common/kwire.h"

static size_t bytes_field_size(const uint8_t *p, size_t n)
{
    return p ? (size_t)varint_size((int32_t)n) + n : (size_t)varint_size(-1);
}

static void put_bytes_field(struct kbuf *b, const uint8_t *p, size_t n)
{
    kbuf_put_varint(b, p ? (int32_t)n : -1);
    if (p)
        kbuf_put(b, p, n);
}

kerr_t batch_build(struct kbuf *out, const struct batch_build_rec *recs, size_t n, int64_t ts_ms)
{
    return batch_build_producer(out, recs, n, ts_ms, -1, -1, -1, false);
}

kerr_t batch_build_producer(struct kbuf *out, const struct batch_build_rec *recs, size_t n,
                            int64_t ts_ms, int64_t producer_id, int16_t producer_epoch,
                            int32_t base_sequence, bool transactional)
{
    if (n == 0 || n > INT32_MAX)
        return KERR__INVALID;
    size_t at = out->len;
    kbuf_put_i64(out, 0);  /* baseOffset: set by the append */
    kbuf_put_i32(out, 0);  /* batchLength: patched below */
    kbuf_put_i32(out, -1); /* partitionLeaderEpoch: set by the append */
    kbuf_put_u8(out, BATCH_MAGIC);
    kbuf_put_i32(out, 0); /* crc: patched below */
    /* attributes: uncompressed, CreateTime, transactional when asked */
    kbuf_put_i16(out, transactional ? BATCH_ATTR_TRANSACTIONAL : 0);
    kbuf_put_i32(out, (int32_t)(n - 1));
    kbuf_put_i64(out, ts_ms);
    kbuf_put_i64(out, ts_ms);
    kbuf_put_i64(out, producer_id);
    kbuf_put_i16(out, producer_epoch);
    kbuf_put_i32(out, base_sequence);
    kbuf_put_i32(out, (int32_t)n);
    for (size_t i = 0; i < n; i++) {
        const struct batch_build_rec *r = &recs[i];
        if (r->key_len > INT32_MAX || r->value_len > INT32_MAX)
            return KERR__INVALID;
        size_t body = 1 + (size_t)varlong_size(0) + (size_t)varint_size((int32_t)i) +
                      bytes_field_size(r->key, r->key_len) +
                      bytes_field_size(r->value, r->value_len) + (size_t)varint_size(0);
        if (body > INT32_MAX)
            return KERR__INVALID;
        kbuf_put_varint(out, (int32_t)body);
        kbuf_put_u8(out, 0);
        kbuf_put_varlong(out, 0);
        kbuf_put_varint(out, (int32_t)i);
        put_bytes_field(out, r->key, r->key_len);
        put_bytes_field(out, r->value, r->value_len);
        kbuf_put_varint(out, 0);
    }
    if (out->oom)
        return KERR__NOMEM;
    size_t total = out->len - at;
    if (total - BATCH_LOG_OVERHEAD > INT32_MAX)
        return KERR__INVALID;
    kbuf_patch_i32(out, at + BATCH_OFF_LENGTH, (int32_t)(total - BATCH_LOG_OVERHEAD));
    uint32_t crc = crc32c(0, out->data + at + BATCH_OFF_ATTRIBUTES, total - BATCH_OFF_ATTRIBUTES);
    kbuf_patch_i32(out, at + BATCH_OFF_CRC, (int32_t)crc);
    return KERR_NONE;
}

kerr_t batch_build_marker(struct kbuf *out, int64_t producer_id, int16_t producer_epoch,
                          bool commit, int32_t coordinator_epoch, int64_t ts_ms)
{
    uint8_t key[4] = {0, 0, 0, commit ? 1 : 0};
    uint8_t value[6] = {0,
                        0,
                        (uint8_t)((uint32_t)coordinator_epoch >> 24),
                        (uint8_t)((uint32_t)coordinator_epoch >> 16),
                        (uint8_t)((uint32_t)coordinator_epoch >> 8),
                        (uint8_t)coordinator_epoch};
    struct batch_build_rec rec = {key, sizeof(key), value, sizeof(value)};
    size_t at = out->len;
    kerr_t err = batch_build(out, &rec, 1, ts_ms);

    if (err != KERR_NONE)
        return err;
    kbuf_patch_i16(out, at + BATCH_OFF_ATTRIBUTES,
                   (int16_t)(BATCH_ATTR_CONTROL | BATCH_ATTR_TRANSACTIONAL));
    kbuf_patch_i32(out, at + BATCH_OFF_PRODUCER_ID, (int32_t)((uint64_t)producer_id >> 32));
    kbuf_patch_i32(out, at + BATCH_OFF_PRODUCER_ID + 4, (int32_t)(uint32_t)producer_id);
    kbuf_patch_i16(out, at + BATCH_OFF_PRODUCER_EPOCH, producer_epoch);
    uint32_t crc =
        crc32c(0, out->data + at + BATCH_OFF_ATTRIBUTES, out->len - at - BATCH_OFF_ATTRIBUTES);
    kbuf_patch_i32(out, at + BATCH_OFF_CRC, (int32_t)crc);
    return KERR_NONE;
}
