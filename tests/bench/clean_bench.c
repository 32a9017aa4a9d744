/*
 * tests/bench/clean_bench.c — speed of one log cleaner pass
 * (broker/storage/cleaner.c): building the key map and rewriting the closed
 * segments of a compacted partition log.
 *
 *   clean_bench [MB]
 *
 * For each codec (none, lz4, zstd) writes a log of about MB (default 64)
 * MiB in a temp dir: batches of 100 records with 100-byte values, keys
 * drawn from a set of 1/10 as many keys as records (so about 90% of the
 * records are overwritten), 8 MiB segments; then times one cleaner_clean()
 * over all closed segments, unthrottled, one thread. Prints key=value lines:
 *   clean_<codec>_mb_per_s        MB (10^6) of segment bytes cleaned per second
 *   clean_<codec>_kept_percent    bytes written / bytes read by the rewrite
 * Like validate_bench it links Gregor's storage library: it measures that code.
 */
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "broker/storage/batch.h"
#include "broker/storage/batch_compress.h"
#include "broker/storage/cleaner.h"
#include "broker/storage/offset_map.h"
#include "broker/storage/plog.h"
#include "common/crc32c.h"
#include "common/kwire.h"

#define RECS_PER_BATCH 100
#define VALUE_LEN 100

static const char *CODEC_NAME[] = {"none", "gzip", "snappy", "lz4", "zstd"};
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void lock_cb(void *arg) { pthread_mutex_lock(arg); }
static void unlock_cb(void *arg) { pthread_mutex_unlock(arg); }

/* One batch of RECS_PER_BATCH records with keys from [0, nkeys). */
static void make_batch(struct kbuf *b, int codec, int64_t nkeys, uint32_t *seed)
{
    struct kbuf body, z;
    size_t start = b->len;
    char val[VALUE_LEN];

    kbuf_init(&body);
    kbuf_init(&z);
    for (int i = 0; i < RECS_PER_BATCH; i++) {
        struct kbuf one;
        char key[24];
        *seed = *seed * 1103515245u + 12345u;
        int klen = snprintf(key, sizeof(key), "key-%lld", (long long)((*seed >> 8) % nkeys));
        for (int k = 0; k < VALUE_LEN; k++)
            val[k] = k < VALUE_LEN / 2 ? (char)(*seed >> (k % 24)) : "gregor "[k % 7];
        kbuf_init(&one);
        kbuf_put_u8(&one, 0);
        kbuf_put_varlong(&one, i);
        kbuf_put_varint(&one, i);
        kbuf_put_varint(&one, klen);
        kbuf_put(&one, key, (size_t)klen);
        kbuf_put_varint(&one, VALUE_LEN);
        kbuf_put(&one, val, VALUE_LEN);
        kbuf_put_varint(&one, 0);
        kbuf_put_varint(&body, (int32_t)one.len);
        kbuf_put(&body, one.data, one.len);
        kbuf_destroy(&one);
    }
    if (codec != 0 && batch_compress(codec, body.data, body.len, &z) != KERR_NONE)
        abort();
    kbuf_put_i64(b, 0);
    kbuf_put_i32(b, 0);
    kbuf_put_i32(b, -1);
    kbuf_put_u8(b, 2);
    kbuf_put_i32(b, 0);
    kbuf_put_i16(b, (int16_t)codec);
    kbuf_put_i32(b, RECS_PER_BATCH - 1);
    kbuf_put_i64(b, 1700000000000LL);
    kbuf_put_i64(b, 1700000000000LL + RECS_PER_BATCH - 1);
    kbuf_put_i64(b, -1);
    kbuf_put_i16(b, -1);
    kbuf_put_i32(b, -1);
    kbuf_put_i32(b, RECS_PER_BATCH);
    if (codec != 0)
        kbuf_put(b, z.data, z.len);
    else
        kbuf_put(b, body.data, body.len);
    be32_store(b->data + start + BATCH_OFF_LENGTH, (uint32_t)(b->len - start - 12));
    be32_store(b->data + start + BATCH_OFF_CRC, crc32c(0, b->data + start + BATCH_OFF_ATTRIBUTES,
                                                       b->len - start - BATCH_OFF_ATTRIBUTES));
    kbuf_destroy(&body);
    kbuf_destroy(&z);
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void run(int codec, int64_t mb)
{
    char dir[] = "/tmp/gregor-clean-bench-XXXXXX", logdir[128], err[256];
    struct plog_config cfg;
    struct cleaner_log_config ccfg;
    struct cleaner_lock lk = {.lock = lock_cb, .unlock = unlock_cb, .arg = &mu};
    struct cleaner_result res;
    struct offset_map *map = offset_map_new(128 << 20);
    struct plog *log;
    uint32_t seed = 42;
    int64_t records = mb * 1024 * 1024 / (VALUE_LEN + 20), t0, ns;

    if (!mkdtemp(dir) || !map)
        abort();
    snprintf(logdir, sizeof(logdir), "%s/t-0", dir);
    plog_config_default(&cfg);
    cfg.segment_bytes = 8 << 20;
    log = plog_open(logdir, &cfg, err, sizeof(err));
    if (!log) {
        fprintf(stderr, "clean_bench: %s\n", err);
        exit(1);
    }
    while (plog_size_bytes(log) < mb * 1024 * 1024) {
        struct kbuf b;
        int64_t first, last;
        kbuf_init(&b);
        make_batch(&b, codec, records / 10, &seed);
        if (plog_append(log, b.data, b.len, 0, 0, &first, &last) != KERR_NONE)
            abort();
        kbuf_destroy(&b);
    }
    (void)plog_roll(log, 0);
    cleaner_log_config_default(&ccfg);
    t0 = bench_now_ns();
    if (cleaner_clean(log, &lk, &ccfg, -1, map, NULL, 1700000000000LL, &res) != KERR_NONE)
        abort();
    ns = bench_now_ns() - t0;
    printf("clean_%s_mb_per_s=%.1f\n", CODEC_NAME[codec],
           (double)res.bytes_read / 2 / 1e6 / ((double)ns / 1e9));
    printf("clean_%s_kept_percent=%.1f\n", CODEC_NAME[codec],
           100.0 * (double)res.bytes_written / (double)(res.bytes_read / 2));
    plog_close(log);
    offset_map_free(map);
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int main(int argc, char **argv)
{
    int64_t mb = argc > 1 ? atoll(argv[1]) : 64;
    static const int codecs[] = {0, 3, 4};

    for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
        run(codecs[i], mb);
    return 0;
}
