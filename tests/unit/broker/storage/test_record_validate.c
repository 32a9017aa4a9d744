/*
 * tests/unit/broker/storage/test_record_validate.c — record-level batch
 * validation (record_validate.c): every Kafka LogValidator rule with byte
 * vectors, each codec built here with the real compression libraries, the
 * decompressed-size limit, truncated streams, and the stored-batch rules the
 * follower append and recovery use.
 */
#include <criterion/criterion.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "broker/storage/batch.h"
#include "broker/storage/record_validate.h"
#include "common/kwire.h"
#include "storage_test.h"

#define NOW 1700000000000LL

static struct kbuf b;   /* the batch under test */
static struct kbuf rec; /* its records section, before compression */

static void setup(void)
{
    kbuf_init(&b);
    kbuf_init(&rec);
}

static void teardown(void)
{
    kbuf_destroy(&b);
    kbuf_destroy(&rec);
}

TestSuite(rv, .init = setup, .fini = teardown, .timeout = 30);

/* Appends one record to rec: the fields as given; key/value NULL = null;
 * nh headers "h<i>" = "v". */
static void put_rec(int32_t off_delta, int64_t ts_delta, const char *key, const char *val, int nh)
{
    struct kbuf r;

    kbuf_init(&r);
    kbuf_put_u8(&r, 0);
    kbuf_put_varlong(&r, ts_delta);
    kbuf_put_varint(&r, off_delta);
    kbuf_put_varint(&r, key ? (int32_t)strlen(key) : -1);
    if (key)
        kbuf_put(&r, key, strlen(key));
    kbuf_put_varint(&r, val ? (int32_t)strlen(val) : -1);
    if (val)
        kbuf_put(&r, val, strlen(val));
    kbuf_put_varint(&r, nh);
    for (int i = 0; i < nh; i++) {
        char k[16];
        snprintf(k, sizeof(k), "h%d", i);
        kbuf_put_varint(&r, (int32_t)strlen(k));
        kbuf_put(&r, k, strlen(k));
        kbuf_put_varint(&r, 1);
        kbuf_put_u8(&r, 'v');
    }
    kbuf_put_varint(&rec, (int32_t)r.len);
    kbuf_put(&rec, r.data, r.len);
    kbuf_destroy(&r);
}

/* Builds b from a header and a records section (already compressed). */
static void mk_batch(int16_t attr, int32_t count, int32_t lod, const uint8_t *p, size_t n)
{
    b.len = 0;
    kbuf_put_i64(&b, 0);
    kbuf_put_i32(&b, 0);
    kbuf_put_i32(&b, -1);
    kbuf_put_u8(&b, 2);
    kbuf_put_i32(&b, 0);
    kbuf_put_i16(&b, attr);
    kbuf_put_i32(&b, lod);
    kbuf_put_i64(&b, NOW);
    kbuf_put_i64(&b, NOW);
    kbuf_put_i64(&b, -1);
    kbuf_put_i16(&b, -1);
    kbuf_put_i32(&b, -1);
    kbuf_put_i32(&b, count);
    kbuf_put(&b, p, n);
    cr_assert(!b.oom);
    kbuf_patch_i32(&b, BATCH_OFF_LENGTH, (int32_t)(b.len - 12));
    st_fix_crc(b.data);
}

static void mk(int32_t count, int32_t lod) { mk_batch(0, count, lod, rec.data, rec.len); }

static struct rv_opts produce_opts(void)
{
    struct rv_opts o = {.produce = true,
                        .now_ms = NOW,
                        .ts_diff_max_ms = INT64_MAX,
                        .max_decompressed = rv_decompressed_limit(1000000)};
    return o;
}

static const char *why; /* reason of the last check() */

/* What the Produce path answers for b: frame rules, then record rules. */
static kerr_t check_with(const struct rv_opts *o)
{
    struct batch_hdr h;
    struct rv_result res;
    kerr_t err = batch_validate_produce(b.data, b.len, 0, NULL);

    why = NULL;
    if (err != KERR_NONE)
        return err;
    cr_assert_eq(batch_parse_hdr(b.data, b.len, &h), KERR_NONE);
    err = record_validate_batch(b.data, &h, o, &res);
    why = res.reason;
    if (err == KERR_NONE)
        cr_assert_null(why);
    else
        cr_assert_not_null(why);
    return err;
}

static kerr_t check(void)
{
    struct rv_opts o = produce_opts();
    return check_with(&o);
}

/* ---- uncompressed ------------------------------------------------------- */

Test(rv, good_batch_passes_and_reports_max_ts)
{
    struct batch_hdr h;
    struct rv_opts o = produce_opts();
    struct rv_result res;

    put_rec(0, 0, "k", "hello", 1);
    put_rec(1, 9, NULL, "world", 0);
    put_rec(2, 4, "", "", 2);
    mk(3, 2);
    cr_assert_eq(check(), KERR_NONE);
    cr_assert_eq(batch_parse_hdr(b.data, b.len, &h), KERR_NONE);
    cr_assert_eq(record_validate_batch(b.data, &h, &o, &res), KERR_NONE);
    cr_assert_eq(res.max_ts, NOW + 9);
}

Test(rv, count_claims_a_million_but_one_record)
{
    put_rec(0, 0, "k", "v", 0);
    mk(1000000, 999999);
    cr_assert_eq(check(), KERR_INVALID_RECORD);
    cr_assert_str_eq(why, "batch holds fewer records than recordsCount");
}

Test(rv, count_two_with_one_record)
{
    put_rec(0, 0, "k", "v", 0);
    mk(2, 1);
    cr_assert_eq(check(), KERR_INVALID_RECORD);
    cr_assert_str_eq(why, "batch holds fewer records than recordsCount");
}

Test(rv, count_one_with_two_records)
{
    put_rec(0, 0, "k", "v", 0);
    put_rec(1, 0, "k", "v", 0);
    mk(1, 0);
    cr_assert_eq(check(), KERR_INVALID_RECORD);
    cr_assert_str_eq(why, "bytes past the last of recordsCount records");
}

Test(rv, offset_delta_gap_or_disorder)
{
    put_rec(5, 0, "k", "v", 0);
    mk(1, 0);
    cr_assert_eq(check(), KERR_INVALID_RECORD);
    cr_assert_str_eq(why, "offsetDelta out of sequence");
    rec.len = 0;
    put_rec(1, 0, "k", "v", 0);
    put_rec(0, 0, "k", "v", 0);
    mk(2, 1);
    cr_assert_eq(check(), KERR_INVALID_RECORD);
}

Test(rv, value_length_2_pow_31_and_int_max)
{
    /* length 10: attrs, ts 0, offset 0, key -1, value 2^31 (5-byte varint
     * whose zigzag form needs 33 bits), no headers. */
    st_hex(&rec, "14 00 00 00 01 8080808010 00");
    mk(1, 0);
    cr_assert_eq(check(), KERR_INVALID_RECORD);
    cr_assert_str_eq(why, "varint overflows 32 bits");
    /* value length INT32_MAX (zigzag 0xfffffffe): past the record end. */
    rec.len = 0;
    st_hex(&rec, "14 00 00 00 01 feffffff0f 00");
    mk(1, 0);
    cr_assert_eq(check(), KERR_INVALID_RECORD);
    cr_assert_str_eq(why, "value runs past the record end");
}

Test(rv, varint_too_long)
{
    st_hex(&rec, "1a 00 ffffffffffffffffffff 01 00");
    mk(1, 0);
    cr_assert_eq(check(), KERR_INVALID_RECORD);
    cr_assert_str_eq(why, "varint too long");
}

Test(rv, record_length_prefix_must_match)
{
    put_rec(0, 0, "k", "v", 0);
    rec.data[0] += 2; /* claims 1 more byte than it holds (zigzag +1) */
    kbuf_put_u8(&rec, 0);
    mk(1, 0);
    cr_assert_eq(check(), KERR_INVALID_RECORD);
    cr_assert_str_eq(why, "record length does not match its contents");
    rec.len = 0;
    put_rec(0, 0, "k", "v", 0);
    rec.data[0] += 10; /* past the batch end */
    mk(1, 0);
    cr_assert_eq(check(), KERR_INVALID_RECORD);
}

Test(rv, bad_headers)
{
    /* header count -1 */
    st_hex(&rec, "0c 00 00 00 01 01 01");
    mk(1, 0);
    cr_assert_eq(check(), KERR_INVALID_RECORD);
    cr_assert_str_eq(why, "negative header count");
    /* one header, key length -1 */
    rec.len = 0;
    st_hex(&rec, "10 00 00 00 01 01 02 01 00");
    mk(1, 0);
    cr_assert_eq(check(), KERR_INVALID_RECORD);
    cr_assert_str_eq(why, "negative header key length");
    /* one header "h", value length 5 but nothing follows */
    rec.len = 0;
    st_hex(&rec, "12 00 00 00 01 01 02 02 68 0a");
    mk(1, 0);
    cr_assert_eq(check(), KERR_INVALID_RECORD);
    cr_assert_str_eq(why, "header value runs past the record end");
    /* header count 1000 with one header present */
    rec.len = 0;
    st_hex(&rec, "14 00 00 00 01 01 d00f 02 68 01");
    mk(1, 0);
    cr_assert_eq(check(), KERR_INVALID_RECORD);
}

Test(rv, null_key_refused_on_compacted_topic_only)
{
    struct rv_opts o = produce_opts();

    put_rec(0, 0, "k", "v", 0);
    put_rec(1, 0, NULL, "v", 0);
    mk(2, 1);
    cr_assert_eq(check(), KERR_NONE);
    o.compacted = true;
    cr_assert_eq(check_with(&o), KERR_INVALID_RECORD);
    cr_assert_str_eq(why, "null key in a compacted topic");
    rec.len = 0;
    put_rec(0, 0, "k", NULL, 0); /* a tombstone with a key is fine */
    mk(1, 0);
    cr_assert_eq(check_with(&o), KERR_NONE);
}

Test(rv, control_batch_refused_from_clients_accepted_when_stored)
{
    struct batch_hdr h;
    struct rv_opts o = produce_opts();

    st_hex(&rec, "20 00 00 00 08 00000001 0c 000000000000 00");
    mk_batch(BATCH_ATTR_CONTROL | BATCH_ATTR_TRANSACTIONAL, 1, 0, rec.data, rec.len);
    cr_assert_eq(batch_parse_hdr(b.data, b.len, &h), KERR_NONE);
    cr_assert_eq(record_validate_batch(b.data, &h, &o, NULL), KERR_INVALID_RECORD);
    rv_opts_stored(&o);
    cr_assert_eq(record_validate_batch(b.data, &h, &o, NULL), KERR_NONE);
    cr_assert(batch_is_intact(b.data, &h));
}

Test(rv, create_time_outside_allowed_skew)
{
    struct rv_opts o = produce_opts();

    o.ts_diff_max_ms = 3600 * 1000;
    put_rec(0, 0, "k", "v", 0);
    put_rec(1, 3600 * 1000, "k", "v", 0); /* exactly at the limit */
    mk(2, 1);
    cr_assert_eq(check_with(&o), KERR_NONE);
    rec.len = 0;
    put_rec(0, 0, "k", "v", 0);
    put_rec(1, 3600 * 1000 + 1, "k", "v", 0);
    mk(2, 1);
    cr_assert_eq(check_with(&o), KERR_INVALID_TIMESTAMP);
    /* in the past too */
    rec.len = 0;
    put_rec(0, -7200 * 1000, "k", "v", 0);
    mk(1, 0);
    cr_assert_eq(check_with(&o), KERR_INVALID_TIMESTAMP);
    /* LogAppendTime batches carry no client time to check */
    mk_batch(BATCH_ATTR_LOG_APPEND_TIME, 1, 0, rec.data, rec.len);
    cr_assert_eq(check_with(&o), KERR_NONE);
}

Test(rv, stored_rules_allow_compaction_gaps)
{
    struct batch_hdr h;
    struct rv_opts o;

    rv_opts_stored(&o);
    put_rec(0, 0, "a", "v", 0);
    put_rec(4, 0, "b", "v", 0);
    mk(2, 9); /* compacted: 2 of 10 offsets left */
    cr_assert_eq(batch_parse_hdr(b.data, b.len, &h), KERR_NONE);
    cr_assert_eq(record_validate_batch(b.data, &h, &o, NULL), KERR_NONE);
    rec.len = 0;
    put_rec(0, 0, "a", "v", 0);
    put_rec(10, 0, "b", "v", 0); /* past lastOffsetDelta */
    mk(2, 9);
    cr_assert_eq(batch_parse_hdr(b.data, b.len, &h), KERR_NONE);
    cr_assert_eq(record_validate_batch(b.data, &h, &o, NULL), KERR_INVALID_RECORD);
    cr_assert_not(batch_is_intact(b.data, &h));
}

Test(rv, stored_batches_follower_check)
{
    const char *reason = NULL;

    put_rec(0, 0, "k", "v", 0);
    mk(1, 0);
    cr_assert_eq(record_validate_stored_batches(b.data, b.len, &reason), KERR_NONE);
    mk(1000000, 999999);
    cr_assert_eq(record_validate_stored_batches(b.data, b.len, &reason), KERR_INVALID_RECORD);
    cr_assert_str_eq(reason, "batch holds fewer records than recordsCount");
    b.data[b.len - 1] ^= 1;
    cr_assert_eq(record_validate_stored_batches(b.data, b.len, &reason), KERR_CORRUPT_MESSAGE);
    cr_assert_str_eq(reason, "crc mismatch");
}

/* ---- compressed --------------------------------------------------------- */

static size_t gzip_buf(const uint8_t *in, size_t n, uint8_t **out)
{
    z_stream z;
    size_t cap = n + 1024;

    memset(&z, 0, sizeof(z));
    *out = malloc(cap);
    cr_assert_eq(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    z.next_out = *out;
    z.avail_out = (uInt)cap;
    cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    deflateEnd(&z);
    return cap - z.avail_out;
}

static size_t snappy_buf(const uint8_t *in, size_t n, uint8_t **out)
{
    size_t cap = snappy_max_compressed_length(n);

    *out = malloc(cap);
    cr_assert_eq(snappy_compress((const char *)in, n, (char *)*out, &cap), SNAPPY_OK);
    return cap;
}

/* Java's xerial framing, in 100-byte chunks. */
static size_t xerial_buf(const uint8_t *in, size_t n, uint8_t **out)
{
    struct kbuf x;

    kbuf_init(&x);
    st_hex(&x, "82 534e41505059 00 00000001 00000001");
    for (size_t at = 0; at < n; at += 100) {
        size_t k = MIN((size_t)100, n - at), cl = snappy_max_compressed_length(k);
        char *c = malloc(cl);
        cr_assert_eq(snappy_compress((const char *)in + at, k, c, &cl), SNAPPY_OK);
        kbuf_put_i32(&x, (int32_t)cl);
        kbuf_put(&x, c, cl);
        free(c);
    }
    *out = x.data;
    return x.len;
}

static size_t lz4_buf(const uint8_t *in, size_t n, uint8_t **out)
{
    size_t cap = LZ4F_compressFrameBound(n, NULL);

    *out = malloc(cap);
    size_t r = LZ4F_compressFrame(*out, cap, in, n, NULL);
    cr_assert(!LZ4F_isError(r));
    return r;
}

static size_t zstd_buf(const uint8_t *in, size_t n, uint8_t **out)
{
    size_t cap = ZSTD_compressBound(n);

    *out = malloc(cap);
    size_t r = ZSTD_compress(*out, cap, in, n, 3);
    cr_assert(!ZSTD_isError(r));
    return r;
}

typedef size_t (*compress_fn)(const uint8_t *, size_t, uint8_t **);

static const struct {
    int codec;
    compress_fn fn;
} CODECS[] = {{1, gzip_buf}, {2, snappy_buf}, {2, xerial_buf}, {3, lz4_buf}, {4, zstd_buf}};
#define N_CODECS (sizeof(CODECS) / sizeof(CODECS[0]))

/* Compresses rec with codec i into b. */
static void mk_compressed(size_t i, int32_t count, int32_t lod, size_t cut)
{
    uint8_t *c = NULL;
    size_t n = CODECS[i].fn(rec.data, rec.len, &c);

    cr_assert_gt(n, cut);
    mk_batch((int16_t)CODECS[i].codec, count, lod, c, n - cut);
    free(c);
}

static void fill_records(int n)
{
    char val[200];

    memset(val, 'x', sizeof(val) - 1);
    val[sizeof(val) - 1] = 0;
    rec.len = 0;
    for (int i = 0; i < n; i++)
        put_rec(i, i, "key", val, i % 3);
}

Test(rv, every_codec_good_batch_passes)
{
    fill_records(50);
    for (size_t i = 0; i < N_CODECS; i++) {
        mk_compressed(i, 50, 49, 0);
        cr_assert_eq(check(), KERR_NONE, "codec case %zu: %s", i, why ? why : "");
    }
}

Test(rv, every_codec_checks_records_inside)
{
    fill_records(3);
    for (size_t i = 0; i < N_CODECS; i++) {
        mk_compressed(i, 4, 3, 0); /* claims 4, holds 3 */
        cr_assert_eq(check(), KERR_INVALID_RECORD, "codec case %zu", i);
        cr_assert_str_eq(why, "batch holds fewer records than recordsCount");
    }
    rec.len = 0;
    put_rec(0, 0, "k", "v", 0);
    put_rec(7, 0, "k", "v", 0);
    for (size_t i = 0; i < N_CODECS; i++) {
        mk_compressed(i, 2, 1, 0);
        cr_assert_eq(check(), KERR_INVALID_RECORD, "codec case %zu", i);
        cr_assert_str_eq(why, "offsetDelta out of sequence");
    }
}

Test(rv, truncated_stream_is_corrupt)
{
    fill_records(50);
    for (size_t i = 0; i < N_CODECS; i++) {
        mk_compressed(i, 50, 49, 7);
        kerr_t err = check();
        cr_assert(err == KERR_CORRUPT_MESSAGE, "codec case %zu: %s %s", i, kerr_name(err),
                  why ? why : "");
    }
}

Test(rv, garbage_stream_is_corrupt)
{
    static const uint8_t junk[64] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

    for (int codec = 1; codec <= 4; codec++) {
        mk_batch((int16_t)codec, 1, 0, junk, sizeof(junk));
        kerr_t err = check();
        cr_assert(err == KERR_CORRUPT_MESSAGE || err == KERR_INVALID_RECORD, "codec %d: %s", codec,
                  kerr_name(err));
    }
}

Test(rv, decompression_bomb_over_the_limit)
{
    size_t big = 3 << 20;
    char *val = malloc(big + 1);
    struct rv_opts o = produce_opts();

    memset(val, 0, big + 1);
    memset(val, 'z', big);
    put_rec(0, 0, "k", val, 0);
    free(val);
    o.max_decompressed = 2 << 20;
    for (size_t i = 0; i < N_CODECS; i++) {
        if (CODECS[i].fn == xerial_buf)
            continue; /* 30,000 chunks: slow to build, same decoder as raw */
        mk_compressed(i, 1, 0, 0);
        cr_assert_lt(b.len, (size_t)300000, "the input is small");
        cr_assert_eq(check_with(&o), KERR_INVALID_RECORD, "codec case %zu", i);
        cr_assert_str_eq(why, "decompressed size over the limit");
        o.max_decompressed = 4 << 20;
        cr_assert_eq(check_with(&o), KERR_NONE, "codec case %zu", i);
        o.max_decompressed = 2 << 20;
    }
}

Test(rv, limit_is_a_multiple_of_max_message_bytes)
{
    cr_assert_eq(rv_decompressed_limit(1000000), RV_DECOMPRESSED_MIN_LIMIT);
    cr_assert_eq(rv_decompressed_limit(0), RV_DECOMPRESSED_MIN_LIMIT);
    cr_assert_eq(rv_decompressed_limit(100 << 20), (int64_t)400 << 20);
}

Test(rv, unknown_codec_refused)
{
    put_rec(0, 0, "k", "v", 0);
    mk_batch(5, 1, 0, rec.data, rec.len);
    cr_assert_eq(check(), KERR_UNSUPPORTED_COMPRESSION_TYPE);
}

/* zstd frame of rec with the given window log and no content size (as a
 * streaming Java producer writes it). */
static void mk_zstd_window(int wlog)
{
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    size_t cap = ZSTD_compressBound(rec.len) + 64;
    uint8_t *out = malloc(cap);

    cr_assert(!ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_windowLog, wlog)));
    cr_assert(!ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0)));
    ZSTD_inBuffer ib = {rec.data, rec.len, 0};
    ZSTD_outBuffer ob = {out, cap, 0};
    /* ZSTD_e_continue first: the size is unknown, so the window stays. */
    cr_assert(!ZSTD_isError(ZSTD_compressStream2(cc, &ob, &ib, ZSTD_e_continue)));
    cr_assert_eq(ZSTD_compressStream2(cc, &ob, &ib, ZSTD_e_end), 0);
    mk_batch(4, 1, 0, out, ob.pos);
    free(out);
    ZSTD_freeCCtx(cc);
}

Test(rv, zstd_window_bounded_by_the_limit)
{
    put_rec(0, 0, "k", "v", 0);
    mk_zstd_window(23); /* Java zstd level 19 */
    cr_assert_eq(check(), KERR_NONE);
    mk_zstd_window(26); /* 64 MiB: the default limit */
    cr_assert_eq(check(), KERR_NONE);
    mk_zstd_window(27); /* 128 MiB of window for a 64 MiB limit */
    cr_assert_eq(check(), KERR_CORRUPT_MESSAGE);
    cr_assert_str_eq(why, "zstd frame is corrupt");
}
