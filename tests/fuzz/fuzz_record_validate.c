/*
 * tests/fuzz/fuzz_record_validate.c — libFuzzer target for the record-level
 * validator (broker/storage/record_validate.c). The target wraps the
 * fuzzer's bytes in a structurally valid batch (frame, header and CRC fixed
 * up here), so every input reaches the record parser and the decompressors.
 *
 * Input: 9 bytes of parameters, then the records section.
 *   byte 0   mode: bits 0-2 codec (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd;
 *            5-7 count as none); bit 3: the target compresses the records
 *            bytes itself with that codec (else they are the compressed
 *            stream as is); bit 4: Produce rules (else stored-batch rules);
 *            bit 5: compacted topic; bit 6: a 1-hour timestamp skew limit;
 *            bit 7: LogAppendTime attribute
 *   1..4     recordsCount (INT32 BE)
 *   5..8     lastOffsetDelta (INT32 BE)
 * The batch is built in a buffer of exactly its size (ASan sees overreads);
 * the decompressed-size limit is 1 MiB to keep runs fast.
 *
 * Invariants (abort on violation): the validator returns a Kafka error code
 * (never an internal one except KERR__NOMEM); when it accepts an
 * uncompressed batch, record_iter walks exactly recordsCount records, with
 * offsets base+0..base+n-1 under Produce rules (increasing and at most
 * lastOffsetDelta otherwise), and consumes the records section exactly;
 * under Produce rules the result's max timestamp is >= every record's; an
 * accepted batch also passes the (weakest) stored-batch rules.
 */
#include <lz4frame.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "broker/storage/batch.h"
#include "broker/storage/record_validate.h"
#include "common/buf.h"
#include "common/crc32c.h"

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_record_validate: invariant failed: %s (line %d)\n", #cond,       \
                    __LINE__);                                                                     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define NOW 1700000000000LL

/* Compresses in/n with codec into a malloc'd buffer; returns its length, or
 * (size_t)-1 (then *out is NULL). */
static size_t pack(int codec, const uint8_t *in, size_t n, uint8_t **out)
{
    size_t cap = 0, len = (size_t)-1;

    *out = NULL;
    if (codec == 1) {
        z_stream z;
        memset(&z, 0, sizeof(z));
        cap = compressBound((uLong)n) + 64;
        *out = malloc(cap);
        if (*out &&
            deflateInit2(&z, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK) {
            z.next_in = (Bytef *)(uintptr_t)in;
            z.avail_in = (uInt)n;
            z.next_out = *out;
            z.avail_out = (uInt)cap;
            if (deflate(&z, Z_FINISH) == Z_STREAM_END)
                len = cap - z.avail_out;
            deflateEnd(&z);
        }
    } else if (codec == 2) {
        cap = snappy_max_compressed_length(n);
        *out = malloc(cap ? cap : 1);
        if (*out && snappy_compress((const char *)in, n, (char *)*out, &cap) == SNAPPY_OK)
            len = cap;
    } else if (codec == 3) {
        cap = LZ4F_compressFrameBound(n, NULL);
        *out = malloc(cap);
        size_t r = *out ? LZ4F_compressFrame(*out, cap, in, n, NULL) : 0;
        if (*out && !LZ4F_isError(r))
            len = r;
    } else if (codec == 4) {
        cap = ZSTD_compressBound(n);
        *out = malloc(cap);
        size_t r = *out ? ZSTD_compress(*out, cap, in, n, 1) : 0;
        if (*out && !ZSTD_isError(r))
            len = r;
    }
    if (len == (size_t)-1) {
        free(*out);
        *out = NULL;
    }
    return len;
}

/* Checks an accepted uncompressed batch with the record iterator. */
static void walk_accepted(const uint8_t *p, const struct batch_hdr *h, bool produce, int64_t max_ts)
{
    struct record_iter it;
    struct batch_record rec;
    int32_t n = 0;
    int64_t prev = -1;

    FUZZ_CHECK(record_iter_init(&it, p, h) == KERR_NONE);
    for (;;) {
        kerr_t err = record_iter_next(&it, &rec);
        if (err == KERR__NOENT)
            break;
        FUZZ_CHECK(err == KERR_NONE);
        int64_t delta = rec.offset - h->base_offset;
        if (produce)
            FUZZ_CHECK(delta == n);
        else
            FUZZ_CHECK(delta > prev && delta <= h->last_offset_delta);
        if (produce && !(h->attributes & BATCH_ATTR_LOG_APPEND_TIME))
            FUZZ_CHECK(rec.ts <= max_ts);
        prev = delta;
        n++;
    }
    FUZZ_CHECK(n == h->records_count);
    FUZZ_CHECK(kslice_remaining(&it.s) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *recs;
    uint8_t *packed = NULL, *buf;
    size_t nrecs, total;
    int mode, codec;
    struct batch_hdr h;
    struct rv_opts o;
    struct rv_result res;
    kerr_t err;

    if (size < 9)
        return 0;
    mode = data[0];
    codec = (mode & 7) <= 4 ? (mode & 7) : 0;
    recs = data + 9;
    nrecs = size - 9;
    if (codec != 0 && (mode & 8)) {
        nrecs = pack(codec, data + 9, size - 9, &packed);
        if (!packed)
            return 0;
        recs = packed;
    }
    total = BATCH_HDR_SIZE + nrecs;
    buf = malloc(total);
    if (!buf) {
        free(packed);
        return 0;
    }
    memset(buf, 0, BATCH_HDR_SIZE);
    be64_store(buf + BATCH_OFF_BASE_OFFSET, 100);
    be32_store(buf + BATCH_OFF_LENGTH, (uint32_t)(total - BATCH_LOG_OVERHEAD));
    be32_store(buf + BATCH_OFF_LEADER_EPOCH, 0);
    buf[BATCH_OFF_MAGIC] = BATCH_MAGIC;
    be16_store(buf + BATCH_OFF_ATTRIBUTES,
               (uint16_t)(codec | ((mode & 0x80) ? BATCH_ATTR_LOG_APPEND_TIME : 0)));
    memcpy(buf + BATCH_OFF_LAST_OFFSET_DELTA, data + 5, 4);
    be64_store(buf + BATCH_OFF_BASE_TS, (uint64_t)NOW);
    be64_store(buf + BATCH_OFF_MAX_TS, (uint64_t)NOW);
    be64_store(buf + BATCH_OFF_PRODUCER_ID, (uint64_t)-1);
    be16_store(buf + BATCH_OFF_PRODUCER_EPOCH, (uint16_t)-1);
    be32_store(buf + BATCH_OFF_BASE_SEQ, (uint32_t)-1);
    memcpy(buf + BATCH_OFF_RECORDS_COUNT, data + 1, 4);
    memcpy(buf + BATCH_HDR_SIZE, recs, nrecs);
    be32_store(buf + BATCH_OFF_CRC,
               crc32c(0, buf + BATCH_OFF_ATTRIBUTES, total - BATCH_OFF_ATTRIBUTES));
    free(packed);

    FUZZ_CHECK(batch_parse_hdr(buf, total, &h) == KERR_NONE);
    FUZZ_CHECK(batch_crc_is_valid(buf, &h));
    rv_opts_stored(&o);
    o.produce = (mode & 0x10) != 0;
    o.compacted = (mode & 0x20) != 0;
    o.now_ms = NOW;
    o.ts_diff_max_ms = (mode & 0x40) ? 3600 * 1000 : -1;
    o.max_decompressed = 1 << 20;
    err = record_validate_batch(buf, &h, &o, &res);
    FUZZ_CHECK(err == KERR_NONE || err > 0 || err == KERR__NOMEM);
    FUZZ_CHECK((err == KERR_NONE) == (res.reason == NULL));
    if (err == KERR_NONE) {
        FUZZ_CHECK(h.records_count >= 0 && h.last_offset_delta >= 0);
        FUZZ_CHECK(h.records_count <= (int64_t)h.last_offset_delta + 1);
        if (o.produce)
            FUZZ_CHECK(h.records_count == (int64_t)h.last_offset_delta + 1);
        if (codec == 0)
            walk_accepted(buf, &h, o.produce, res.max_ts);
        FUZZ_CHECK(batch_is_intact(buf, &h)); /* the stored rules are the weakest */
    }
    free(buf);
    return 0;
}
