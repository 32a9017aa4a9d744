/*
 * tests/bench/validate_bench.c — speed of the broker's record validator
 * (broker/storage/record_validate.c), the CPU every Produce now spends on
 * parsing its records and, for compressed batches, decompressing them.
 *
 *   validate_bench [SECONDS]
 *
 * Builds one ~1 MiB batch (the librdkafka default batch.size) of 100-byte
 * and one of 1 KiB records, each uncompressed and in every codec (gzip,
 * snappy, lz4, zstd, compressed here with the same libraries; values are
 * half random, half repeated text so the codecs have work to do), then runs
 * record_validate_batch() with Produce rules on each for about SECONDS
 * (default 1) seconds. Prints key=value lines:
 *   <codec>_<size>_mb_per_s   MB (10^6) of uncompressed record bytes
 *                             validated per second, one core
 * plus crc_mb_per_s (CRC-32C of the same batch) for scale. Unlike the other
 * benches this one links Gregor's storage library: it measures that code.
 */
#include <lz4frame.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "bench_util.h"
#include "broker/storage/batch.h"
#include "broker/storage/record_validate.h"
#include "common/crc32c.h"
#include "common/kwire.h"

#define BATCH_TARGET (1 << 20)

static const char *CODEC_NAME[] = {"none", "gzip", "snappy", "lz4", "zstd"};

/* Records of value_len-byte values until ~BATCH_TARGET bytes; *n = count. */
static void make_records(struct kbuf *r, size_t value_len, int32_t *n)
{
    uint8_t *val = malloc(value_len);
    uint32_t seed = 12345;

    *n = 0;
    while (r->len < BATCH_TARGET) {
        struct kbuf one;
        char key[16];
        int klen = snprintf(key, sizeof(key), "key-%d", *n);
        for (size_t i = 0; i < value_len; i++) {
            seed = seed * 1103515245u + 12345u;
            val[i] = i < value_len / 2 ? (uint8_t)(seed >> 16) : (uint8_t)("gregor "[i % 7]);
        }
        kbuf_init(&one);
        kbuf_put_u8(&one, 0);
        kbuf_put_varlong(&one, *n);
        kbuf_put_varint(&one, *n);
        kbuf_put_varint(&one, klen);
        kbuf_put(&one, key, (size_t)klen);
        kbuf_put_varint(&one, (int32_t)value_len);
        kbuf_put(&one, val, value_len);
        kbuf_put_varint(&one, 0);
        kbuf_put_varint(r, (int32_t)one.len);
        kbuf_put(r, one.data, one.len);
        kbuf_destroy(&one);
        (*n)++;
    }
    free(val);
}

static size_t pack(int codec, const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
    if (codec == 1) {
        z_stream z;
        memset(&z, 0, sizeof(z));
        deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
        z.next_in = (Bytef *)(uintptr_t)in;
        z.avail_in = (uInt)n;
        z.next_out = out;
        z.avail_out = (uInt)cap;
        deflate(&z, Z_FINISH);
        deflateEnd(&z);
        return cap - z.avail_out;
    }
    if (codec == 2) {
        snappy_compress((const char *)in, n, (char *)out, &cap);
        return cap;
    }
    if (codec == 3)
        return LZ4F_compressFrame(out, cap, in, n, NULL);
    if (codec == 4)
        return ZSTD_compress(out, cap, in, n, 3);
    memcpy(out, in, n);
    return n;
}

/* Builds the batch of records r (n of them) with codec into b. */
static void make_batch(struct kbuf *b, const struct kbuf *r, int32_t n, int codec)
{
    size_t cap = r->len * 2 + 4096;
    uint8_t *c = malloc(cap);
    size_t clen = pack(codec, r->data, r->len, c, cap);

    b->len = 0;
    kbuf_put_i64(b, 0);
    kbuf_put_i32(b, (int32_t)(BATCH_HDR_SIZE - BATCH_LOG_OVERHEAD + clen));
    kbuf_put_i32(b, -1);
    kbuf_put_u8(b, 2);
    kbuf_put_i32(b, 0);
    kbuf_put_i16(b, (int16_t)codec);
    kbuf_put_i32(b, n - 1);
    kbuf_put_i64(b, 1700000000000LL);
    kbuf_put_i64(b, 1700000000000LL + n - 1);
    kbuf_put_i64(b, -1);
    kbuf_put_i16(b, -1);
    kbuf_put_i32(b, -1);
    kbuf_put_i32(b, n);
    kbuf_put(b, c, clen);
    be32_store(b->data + BATCH_OFF_CRC,
               crc32c(0, b->data + BATCH_OFF_ATTRIBUTES, b->len - BATCH_OFF_ATTRIBUTES));
    free(c);
}

/* Validates b repeatedly for `seconds`; returns uncompressed MB/s. */
static double rate(const struct kbuf *b, size_t raw_len, double seconds)
{
    struct batch_hdr h;
    struct rv_opts o = {.produce = true,
                        .now_ms = 1700000000000LL,
                        .ts_diff_max_ms = INT64_MAX,
                        .max_decompressed = rv_decompressed_limit(1 << 20)};
    uint64_t runs = 0;
    int64_t t0, t;

    if (batch_parse_hdr(b->data, b->len, &h) != KERR_NONE ||
        record_validate_batch(b->data, &h, &o, NULL) != KERR_NONE) {
        fprintf(stderr, "validate_bench: the test batch does not validate\n");
        exit(1);
    }
    t0 = bench_now_ns();
    do {
        for (int i = 0; i < 4; i++)
            (void)record_validate_batch(b->data, &h, &o, NULL);
        runs += 4;
        t = bench_now_ns();
    } while ((double)(t - t0) < seconds * 1e9);
    return (double)(raw_len * runs) / 1e6 / ((double)(t - t0) / 1e9);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    static const size_t SIZES[] = {100, 1024};
    struct kbuf r, b;

    kbuf_init(&r);
    kbuf_init(&b);
    for (size_t s = 0; s < 2; s++) {
        int32_t n;
        r.len = 0;
        make_records(&r, SIZES[s], &n);
        for (int codec = 0; codec <= 4; codec++) {
            make_batch(&b, &r, n, codec);
            printf("%s_%s_mb_per_s=%.0f\n", CODEC_NAME[codec], SIZES[s] == 100 ? "100b" : "1k",
                   rate(&b, r.len, seconds));
            fflush(stdout);
        }
    }
    {
        uint64_t runs = 0;
        volatile uint32_t sink = 0;
        int64_t t0 = bench_now_ns(), t;
        do {
            sink += crc32c(0, b.data, b.len);
            runs++;
            t = bench_now_ns();
        } while ((double)(t - t0) < seconds * 1e9);
        (void)sink;
        printf("crc_mb_per_s=%.0f\n", (double)(b.len * runs) / 1e6 / ((double)(t - t0) / 1e9));
    }
    kbuf_destroy(&r);
    kbuf_destroy(&b);
    return 0;
}
