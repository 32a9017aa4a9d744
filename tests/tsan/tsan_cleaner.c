/*
 * tests/tsan/tsan_cleaner.c — the log cleaner's threads against a writer
 * and a reader of the same partition log, for the ThreadSanitizer build
 * (a plain program for the reason tsan_threads.c gives).
 *
 * One log, guarded by a mutex as a partition's lock guards it; a pool of
 * two cleaner threads (min.cleanable.dirty.ratio 0, backoff 1 ms) cleans
 * it while a writer appends keyed records of KEYS keys and rolls every
 * ROLL_EVERY appends, and a reader takes spans under the lock (plog_read)
 * and reads them after releasing it, checking every batch's CRC. At the
 * end every key must have its latest value, at the offset it was written
 * at. Exits 1 on a wrong value; TSan fails the run on a data race.
 * Usage: tsan_cleaner (no arguments).
 */
#include "broker/storage/batch.h"
#include "broker/storage/cleaner_filter.h"
#include "broker/storage/cleaner_pool.h"
#include "broker/storage/plog.h"
#include "broker/storage/record_validate.h"
#include "common/crc32c.h"
#include "common/kwire.h"

#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KEYS 40
#define WRITES 4000
#define ROLL_EVERY 25
#define T0 1700000000000LL

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct plog *log_;
static atomic_bool done;
static int64_t latest_off[KEYS];
static int failures;

static void lock_cb(void *arg) { pthread_mutex_lock(arg); }
static void unlock_cb(void *arg) { pthread_mutex_unlock(arg); }

/* One uncompressed batch of one record key-<k> = value-<i>. */
static void make_batch(struct kbuf *b, int k, int i)
{
    char key[16], val[32];
    struct kbuf r;
    size_t start = b->len;

    snprintf(key, sizeof(key), "key-%d", k);
    snprintf(val, sizeof(val), "value-%d", i);
    kbuf_init(&r);
    kbuf_put_u8(&r, 0);
    kbuf_put_varlong(&r, 0);
    kbuf_put_varint(&r, 0);
    kbuf_put_varint(&r, (int32_t)strlen(key));
    kbuf_put(&r, key, strlen(key));
    kbuf_put_varint(&r, (int32_t)strlen(val));
    kbuf_put(&r, val, strlen(val));
    kbuf_put_varint(&r, 0);
    kbuf_put_i64(b, 0);
    kbuf_put_i32(b, 0);
    kbuf_put_i32(b, -1);
    kbuf_put_u8(b, 2);
    kbuf_put_i32(b, 0);
    kbuf_put_i16(b, 0);
    kbuf_put_i32(b, 0);
    kbuf_put_i64(b, T0 + i);
    kbuf_put_i64(b, T0 + i);
    kbuf_put_i64(b, -1);
    kbuf_put_i16(b, -1);
    kbuf_put_i32(b, -1);
    kbuf_put_i32(b, 1);
    kbuf_put_varint(b, (int32_t)r.len);
    kbuf_put(b, r.data, r.len);
    kbuf_destroy(&r);
    be32_store(b->data + start + BATCH_OFF_LENGTH, (uint32_t)(b->len - start - 12));
    be32_store(b->data + start + BATCH_OFF_CRC, crc32c(0, b->data + start + BATCH_OFF_ATTRIBUTES,
                                                       b->len - start - BATCH_OFF_ATTRIBUTES));
}

static void *writer_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < WRITES; i++) {
        struct kbuf b;
        int64_t first, last;
        kbuf_init(&b);
        make_batch(&b, i % KEYS, i);
        pthread_mutex_lock(&mu);
        if (plog_append(log_, b.data, b.len, 0, T0 + i, &first, &last) != KERR_NONE) {
            fprintf(stderr, "tsan_cleaner: append failed\n");
            failures++;
        }
        latest_off[i % KEYS] = first;
        if (i % ROLL_EVERY == ROLL_EVERY - 1)
            (void)plog_roll(log_, T0 + i);
        pthread_mutex_unlock(&mu);
        kbuf_destroy(&b);
    }
    atomic_store(&done, true);
    return NULL;
}

/* Reads the log from its start, a span at a time, checking CRCs. */
static void *reader_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&done)) {
        int64_t off = 0;
        for (;;) {
            struct file_span sp;
            kerr_t err;
            pthread_mutex_lock(&mu);
            err = plog_read(log_, off, INT64_MAX, 64 << 10, true, &sp);
            pthread_mutex_unlock(&mu);
            if (err != KERR_NONE || sp.len == 0)
                break;
            uint8_t *buf = malloc((size_t)sp.len);
            ssize_t got = pread(sp.fd, buf, (size_t)sp.len, sp.pos);
            close(sp.fd);
            struct batch_iter it;
            struct batch_hdr h;
            size_t at;
            batch_iter_init(&it, buf, got > 0 ? (size_t)got : 0);
            while (batch_iter_next(&it, &h, &at) == KERR_NONE) {
                if (!batch_crc_is_valid(buf + at, &h)) {
                    fprintf(stderr, "tsan_cleaner: bad CRC at offset %lld\n",
                            (long long)h.base_offset);
                    failures++;
                }
                off = batch_last_offset(&h) + 1;
            }
            free(buf);
            if (got != sp.len) {
                fprintf(stderr, "tsan_cleaner: short read of a span\n");
                failures++;
                break;
            }
        }
    }
    return NULL;
}

/* Checks that every key's last record is at latest_off with its value. */
static void check_log(void)
{
    int64_t last[KEYS];
    int64_t off = 0;

    for (int k = 0; k < KEYS; k++)
        last[k] = -1;
    for (;;) {
        struct file_span sp;
        if (plog_read(log_, off, INT64_MAX, 1 << 20, true, &sp) != KERR_NONE || sp.len == 0)
            break;
        uint8_t *buf = malloc((size_t)sp.len);
        if (pread(sp.fd, buf, (size_t)sp.len, sp.pos) != sp.len)
            failures++;
        close(sp.fd);
        struct batch_iter it;
        struct batch_hdr h;
        size_t at;
        batch_iter_init(&it, buf, (size_t)sp.len);
        while (batch_iter_next(&it, &h, &at) == KERR_NONE) {
            struct kbuf recs;
            struct kslice s;
            struct cleaner_rec r;
            kbuf_init(&recs);
            (void)rv_decompress_records(buf + at, &h, 1 << 26, &recs);
            kslice_init(&s, recs.data, recs.len);
            while (cleaner_next_record(&s, &h, &r) == KERR_NONE) {
                int k = atoi((const char *)r.key + 4);
                if (k >= 0 && k < KEYS)
                    last[k] = r.offset;
            }
            kbuf_destroy(&recs);
            off = batch_last_offset(&h) + 1;
        }
        free(buf);
    }
    for (int k = 0; k < KEYS; k++) {
        if (last[k] != latest_off[k]) {
            fprintf(stderr, "tsan_cleaner: key-%d last at %lld, written at %lld\n", k,
                    (long long)last[k], (long long)latest_off[k]);
            failures++;
        }
    }
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(void)
{
    char dir[] = "/tmp/gregor-tsan-cleaner-XXXXXX", logdir[128], err[256];
    struct plog_config cfg;
    struct cleaner_pool_config pc;
    struct cleaner_pool *pool;
    struct cleaner_log_desc d;
    struct cleaner_entry *e;
    struct cleaner_stats st;
    pthread_t w, r;

    if (!mkdtemp(dir))
        return 1;
    snprintf(logdir, sizeof(logdir), "%s/t-0", dir);
    plog_config_default(&cfg);
    cfg.index_interval_bytes = 256;
    cfg.index_max_bytes = 4096;
    log_ = plog_open(logdir, &cfg, err, sizeof(err));
    if (!log_) {
        fprintf(stderr, "tsan_cleaner: %s\n", err);
        return 1;
    }
    cleaner_pool_config_default(&pc);
    pc.threads = 2;
    pc.dedupe_buffer_bytes = 1 << 20;
    pc.backoff_ms = 1;
    pool = cleaner_pool_new(&pc);
    memset(&d, 0, sizeof(d));
    d.log = log_;
    snprintf(d.topic, sizeof(d.topic), "t");
    snprintf(d.data_dir, sizeof(d.data_dir), "%s", dir);
    d.lock.lock = lock_cb;
    d.lock.unlock = unlock_cb;
    d.lock.arg = &mu;
    cleaner_log_config_default(&d.cfg);
    d.cfg.min_cleanable_ratio = 0;
    e = cleaner_pool_add(pool, &d);
    if (!pool || !e || cleaner_pool_start(pool) != KERR_NONE)
        return 1;
    pthread_create(&w, NULL, writer_main, NULL);
    pthread_create(&r, NULL, reader_main, NULL);
    pthread_join(w, NULL);
    pthread_join(r, NULL);
    usleep(200000);
    cleaner_pool_stats(pool, &st);
    cleaner_pool_remove(pool, e, false);
    cleaner_pool_free(pool);
    check_log();
    printf("tsan_cleaner: %lld passes (%lld aborted), %lld records removed, %d segments left\n",
           (long long)st.passes, (long long)st.passes_aborted, (long long)st.records_removed,
           plog_segment_count(log_));
    if (st.passes == 0) {
        fprintf(stderr, "tsan_cleaner: the cleaner never ran\n");
        failures++;
    }
    plog_close(log_);
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return failures ? 1 : 0;
}
