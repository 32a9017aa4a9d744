/*
 * broker/storage/cleaner_filter.c — record walk and batch rewrite for the
 * log cleaner (see cleaner_filter.h). Record layout (zigzag varints):
 * length VARINT, then attributes INT8, timestampDelta VARLONG, offsetDelta
 * VARINT, keyLength VARINT, key, valueLength VARINT, value, headers.
 */
#include "broker/storage/cleaner_filter.h"

#include <string.h>

#include "broker/storage/batch_compress.h"
#include "broker/storage/record_validate.h"
#include "common/crc32c.h"
#include "common/kwire.h"

kerr_t cleaner_next_record(struct kslice *s, const struct batch_hdr *h, struct cleaner_rec *r)
{
    struct kslice body;
    size_t start = s->pos;
    int32_t len, vlen;
    int64_t ts_delta;

    if (kslice_remaining(s) == 0)
        return KERR__NOENT;
    len = kslice_varint(s);
    if (!kslice_ok(s) || len < 0 || (size_t)len > kslice_remaining(s))
        return KERR__CORRUPT;
    kslice_init(&body, kslice_cur(s), (size_t)len);
    kslice_skip(s, (size_t)len);
    (void)kslice_u8(&body);
    ts_delta = kslice_varlong(&body);
    r->offset = h->base_offset + kslice_varint(&body);
    r->ts = (h->attributes & BATCH_ATTR_LOG_APPEND_TIME) ? h->max_ts : h->base_ts + ts_delta;
    r->key_len = kslice_varint(&body);
    r->key = NULL;
    if (r->key_len >= 0)
        r->key = kslice_take(&body, (size_t)r->key_len);
    vlen = kslice_varint(&body);
    r->tombstone = vlen < 0;
    r->value = NULL;
    r->value_len = vlen;
    if (vlen >= 0)
        r->value = kslice_take(&body, (size_t)vlen);
    if (!kslice_ok(&body) || r->key_len < -1 || vlen < -1 || (r->key_len >= 0 && !r->key))
        return KERR__CORRUPT;
    r->raw = s->p + start;
    r->raw_len = s->pos - start;
    return KERR_NONE;
}

bool cleaner_keep_record(const struct cleaner_filter *f, const struct cleaner_rec *r)
{
    if (!r->key)
        return false;
    if (r->offset >= f->end)
        return true;
    if (r->offset < offset_map_get(f->map, r->key, (size_t)r->key_len))
        return false;
    return !r->tombstone || f->retain_deletes;
}

/* Writes the header of a rewritten batch (from the original at p) and the
 * records body to out, then its length and CRC. */
static void put_batch(struct kbuf *out, const uint8_t *p, int16_t attributes, int64_t base_ts,
                      int64_t max_ts, int32_t count, const uint8_t *body, size_t body_len)
{
    size_t at = out->len;
    uint8_t *b;

    kbuf_put(out, p, BATCH_HDR_SIZE);
    if (body_len > 0)
        kbuf_put(out, body, body_len);
    if (out->oom)
        return;
    b = out->data + at;
    be32_store(b + BATCH_OFF_LENGTH, (uint32_t)(BATCH_HDR_SIZE + body_len - BATCH_LOG_OVERHEAD));
    be16_store(b + BATCH_OFF_ATTRIBUTES, (uint16_t)attributes);
    be64_store(b + BATCH_OFF_BASE_TS, (uint64_t)base_ts);
    be64_store(b + BATCH_OFF_MAX_TS, (uint64_t)max_ts);
    be32_store(b + BATCH_OFF_RECORDS_COUNT, (uint32_t)count);
    be32_store(b + BATCH_OFF_CRC, crc32c(0, b + BATCH_OFF_ATTRIBUTES,
                                         BATCH_HDR_SIZE + body_len - BATCH_OFF_ATTRIBUTES));
}

void cleaner_empty_batch(const uint8_t *hdr, struct kbuf *out)
{
    int16_t attrs = (int16_t)(be16_load(hdr + BATCH_OFF_ATTRIBUTES) & ~BATCH_ATTR_COMPRESSION_MASK);
    int64_t max_ts = (int64_t)be64_load(hdr + BATCH_OFF_MAX_TS);

    put_batch(out, hdr, attrs, max_ts, max_ts, 0, NULL, 0);
}

void cleaner_placeholder_batch(const uint8_t *hdr, struct kbuf *out)
{
    uint8_t h[BATCH_HDR_SIZE];

    memcpy(h, hdr, BATCH_HDR_SIZE);
    be16_store(h + BATCH_OFF_ATTRIBUTES,
               (uint16_t)(be16_load(hdr + BATCH_OFF_ATTRIBUTES) & BATCH_ATTR_LOG_APPEND_TIME));
    be64_store(h + BATCH_OFF_PRODUCER_ID, UINT64_MAX); /* -1: no producer */
    be16_store(h + BATCH_OFF_PRODUCER_EPOCH, UINT16_MAX);
    be32_store(h + BATCH_OFF_BASE_SEQ, UINT32_MAX);
    cleaner_empty_batch(h, out);
}

kerr_t cleaner_filter_batch(const uint8_t *p, const struct batch_hdr *h,
                            const struct cleaner_filter *f, bool aborted, bool keep_empty,
                            struct kbuf *out, struct cleaner_filter_result *res)
{
    struct kbuf recs, kept, z;
    struct kslice s;
    struct cleaner_rec r;
    int32_t count = 0;
    int64_t max_ts = -1;
    kerr_t err;

    if (batch_is_control(h)) {
        kbuf_put(out, p, (size_t)batch_size(h));
        return out->oom ? KERR__NOMEM : KERR_NONE;
    }
    kbuf_init(&recs);
    kbuf_init(&kept);
    kbuf_init(&z);
    err = rv_decompress_records(p, h, f->decompress_limit, &recs);
    if (err != KERR_NONE && err != KERR__NOMEM)
        err = KERR__CORRUPT;
    kslice_init(&s, recs.data, recs.len);
    while (err == KERR_NONE && (err = cleaner_next_record(&s, h, &r)) == KERR_NONE) {
        if (!aborted && cleaner_keep_record(f, &r)) {
            kbuf_put(&kept, r.raw, r.raw_len);
            count++;
            max_ts = MAX(max_ts, r.ts);
            continue;
        }
        res->records_removed++;
        if (aborted) {
            res->aborted_removed++;
            continue;
        }
        res->tombstones_removed += r.key && r.tombstone;
        res->keyless_removed += !r.key;
    }
    if (err == KERR__NOENT)
        err = KERR_NONE;
    if (err != KERR_NONE)
        goto out;
    res->records_kept += count;
    if (count == h->records_count) {
        kbuf_put(out, p, (size_t)batch_size(h));
    } else if (count > 0) {
        int64_t mts = (h->attributes & BATCH_ATTR_LOG_APPEND_TIME) ? h->max_ts : max_ts;
        if (batch_compression(h) != 0) {
            err = batch_compress(batch_compression(h), kept.data, kept.len, &z);
            if (err == KERR_NONE)
                put_batch(out, p, h->attributes, h->base_ts, mts, count, z.data, z.len);
        } else {
            put_batch(out, p, h->attributes, h->base_ts, mts, count, kept.data, kept.len);
        }
    } else if (keep_empty) {
        cleaner_empty_batch(p, out);
    }
    if (err == KERR_NONE && (out->oom || kept.oom || z.oom))
        err = KERR__NOMEM;
out:
    kbuf_destroy(&recs);
    kbuf_destroy(&kept);
    kbuf_destroy(&z);
    return err;
}
