/*
 * tests/unit/broker/storage/test_cleaner_pool.c — the cleaner's
 * surroundings: the offset map, cleaner-offset-checkpoint, the I/O
 * throttle, and the pool (registration, checkpoint kept across pools,
 * threads cleaning a dirty log on their own, stats).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/storage/cleaner_checkpoint.h"
#include "broker/storage/cleaner_pool.h"
#include "broker/storage/io_throttle.h"
#include "broker/storage/offset_map.h"
#include "broker/storage/plog.h"
#include "cleaner_test.h"
#include "common/clock.h"
#include "storage_test.h"

#define T0 1700000000000LL

TestSuite(cleaner_pool, .init = st_tmpdir_up, .fini = st_tmpdir_down, .timeout = 30);

Test(cleaner_pool, offset_map_latest_per_key)
{
    struct offset_map *m = offset_map_new(100 * OFFSET_MAP_ENTRY_SIZE);
    char k[16];

    cr_assert_eq(offset_map_slots(m), 90, "load factor 0.9");
    cr_assert_eq(offset_map_latest(m), -1);
    for (int i = 0; i < 80; i++) {
        snprintf(k, sizeof(k), "key-%d", i % 40);
        cr_assert(offset_map_put(m, (const uint8_t *)k, strlen(k), i));
    }
    cr_assert_eq(offset_map_size(m), 40);
    cr_assert_eq(offset_map_get(m, (const uint8_t *)"key-3", 5), 43);
    cr_assert_eq(offset_map_get(m, (const uint8_t *)"nope", 4), -1);
    cr_assert_eq(offset_map_get(m, (const uint8_t *)"", 0), -1);
    cr_assert_eq(offset_map_latest(m), 79);
    cr_assert(!offset_map_full(m, 50));
    cr_assert(offset_map_full(m, 51));
    for (int i = 40; i < 90; i++) {
        snprintf(k, sizeof(k), "key-%d", i);
        cr_assert(offset_map_put(m, (const uint8_t *)k, strlen(k), 100 + i));
    }
    cr_assert(!offset_map_put(m, (const uint8_t *)"one-more", 8, 500), "full map refuses");
    offset_map_clear(m);
    cr_assert_eq(offset_map_size(m), 0);
    cr_assert_eq(offset_map_get(m, (const uint8_t *)"key-3", 5), -1);
    offset_map_free(m);
}

Test(cleaner_pool, checkpoint_file_round_trip)
{
    int64_t off;
    char buf[256] = "";

    cr_assert_eq(cleaner_ckpt_get(st_dir, "t", 0, &off), KERR__NOENT);
    cr_assert_eq(cleaner_ckpt_set(st_dir, "t", 0, 42), KERR_NONE);
    cr_assert_eq(cleaner_ckpt_set(st_dir, "__consumer_offsets", 7, 1000), KERR_NONE);
    cr_assert_eq(cleaner_ckpt_set(st_dir, "t", 0, 43), KERR_NONE);
    cr_assert_eq(cleaner_ckpt_get(st_dir, "t", 0, &off), KERR_NONE);
    cr_assert_eq(off, 43);
    cr_assert_eq(cleaner_ckpt_get(st_dir, "__consumer_offsets", 7, &off), KERR_NONE);
    cr_assert_eq(off, 1000);
    st_read_at(st_path(CLEANER_CKPT_FILE), 0, buf, sizeof(buf) - 1);
    cr_assert_str_eq(buf, "0\n2\nt 0 43\n__consumer_offsets 7 1000\n", "Kafka's format");
    cr_assert_eq(cleaner_ckpt_set(st_dir, "t", 0, -1), KERR_NONE);
    cr_assert_eq(cleaner_ckpt_get(st_dir, "t", 0, &off), KERR__NOENT);
    st_write_at(st_path(CLEANER_CKPT_FILE), 0, "x", 1);
    cr_assert_eq(cleaner_ckpt_get(st_dir, "__consumer_offsets", 7, &off), KERR__CORRUPT);
    cr_assert_eq(cleaner_ckpt_set(st_dir, "t", 1, 5), KERR_NONE, "a corrupt file is replaced");
    cr_assert_eq(cleaner_ckpt_get(st_dir, "t", 1, &off), KERR_NONE);
    cr_assert_eq(off, 5);
}

Test(cleaner_pool, throttle_limits_rate)
{
    struct io_throttle *t = io_throttle_new(1 << 20); /* 1 MiB/s, 1 MiB burst */
    int64_t t0 = clock_mono_us(), us;

    for (int i = 0; i < 12; i++)
        io_throttle_take(t, 256 << 10); /* 3 MiB: ~2 s beyond the burst */
    us = clock_mono_us() - t0;
    cr_assert_gt(us, 1700000, "took %ld us", (long)us);
    cr_assert_lt(us, 3500000, "took %ld us", (long)us);
    cr_assert_gt(io_throttle_slept_us(t), 1700000);
    io_throttle_set_rate(t, -1);
    t0 = clock_mono_us();
    for (int i = 0; i < 100; i++)
        io_throttle_take(t, 1 << 20);
    cr_assert_lt(clock_mono_us() - t0, 100000, "unlimited: no sleep");
    io_throttle_free(t);
}

/* A dirty log: 3 rounds of 10 keys, 3 closed segments, an active one. */
static struct plog *dirty_log(void)
{
    struct plog *log = ct_open(1 << 20);
    char k[16], v[16];

    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 10; i++) {
            snprintf(k, sizeof(k), "k%d", i);
            snprintf(v, sizeof(v), "v%d-%d", i, round);
            ct_put(log, k, v, T0 + round * 10 + i);
        }
        cr_assert_eq(plog_roll(log, T0), KERR_NONE);
    }
    ct_put(log, "k0", "active", T0 + 100);
    return log;
}

static void desc_init(struct cleaner_log_desc *d, struct plog *log, struct ct_lock *lk)
{
    memset(d, 0, sizeof(*d));
    d->log = log;
    snprintf(d->topic, sizeof(d->topic), "t");
    d->partition = 0;
    snprintf(d->data_dir, sizeof(d->data_dir), "%s", st_dir);
    d->lock = lk->ops;
    cleaner_log_config_default(&d->cfg);
}

Test(cleaner_pool, clean_now_writes_checkpoint_read_back_by_next_pool)
{
    struct cleaner_pool_config pc;
    struct cleaner_pool *p;
    struct cleaner_log_desc d;
    struct cleaner_entry *e;
    struct cleaner_result res;
    struct cleaner_stats st;
    struct plog *log = dirty_log();
    struct ct_lock lk;
    int64_t off;

    ct_lock_init(&lk, log);
    cleaner_pool_config_default(&pc);
    pc.dedupe_buffer_bytes = 1 << 20;
    p = cleaner_pool_new(&pc);
    desc_init(&d, log, &lk);
    e = cleaner_pool_add(p, &d);
    cr_assert_eq(cleaner_pool_checkpoint(p, e), -1);
    cr_assert_eq(cleaner_pool_clean_now(p, e, T0 + 1000, &res), KERR_NONE);
    cr_assert_eq(res.end_offset, 30);
    cr_assert_eq(cleaner_pool_checkpoint(p, e), 30);
    cr_assert_eq(cleaner_ckpt_get(st_dir, "t", 0, &off), KERR_NONE);
    cr_assert_eq(off, 30);
    cleaner_pool_stats(p, &st);
    cr_assert_eq(st.passes, 1);
    cr_assert_eq(st.logs, 1);
    cr_assert_eq(st.records_removed, 20);
    cr_assert_gt(st.bytes_read, 0);
    cr_assert_gt(st.bytes_written, 0);
    cr_assert_eq(st.bytes_written, res.bytes_written);
    cleaner_pool_remove(p, e, false);
    cleaner_pool_free(p);

    p = cleaner_pool_new(&pc);
    e = cleaner_pool_add(p, &d);
    cr_assert_eq(cleaner_pool_checkpoint(p, e), 30, "the checkpoint survives the pool");
    cleaner_pool_remove(p, e, true);
    cr_assert_eq(cleaner_ckpt_get(st_dir, "t", 0, &off), KERR__NOENT, "forgotten");
    cleaner_pool_free(p);
    plog_close(log);
}

Test(cleaner_pool, threads_clean_a_dirty_log)
{
    struct cleaner_pool_config pc;
    struct cleaner_pool *p;
    struct cleaner_log_desc d;
    struct cleaner_entry *e;
    struct cleaner_stats st;
    struct plog *log = dirty_log();
    struct ct_lock lk;
    struct ct_log l;

    ct_lock_init(&lk, log);
    cleaner_pool_config_default(&pc);
    pc.threads = 2;
    pc.dedupe_buffer_bytes = 1 << 20;
    pc.backoff_ms = 20;
    p = cleaner_pool_new(&pc);
    cr_assert_eq(cleaner_pool_start(p), KERR_NONE);
    desc_init(&d, log, &lk);
    e = cleaner_pool_add(p, &d);
    for (int i = 0; i < 500 && cleaner_pool_checkpoint(p, e) < 30; i++)
        usleep(10000);
    cr_assert_eq(cleaner_pool_checkpoint(p, e), 30);
    cleaner_pool_stats(p, &st);
    cr_assert_eq(st.passes, 1);
    cr_assert_float_eq(st.max_dirty_ratio, 0.0, 1e-9, "clean now: nothing dirty");
    /* appends keep working while the threads run */
    pthread_mutex_lock(&lk.mu);
    ct_put(log, "k3", "later", T0 + 200);
    cr_assert_eq(plog_roll(log, T0), KERR_NONE);
    pthread_mutex_unlock(&lk.mu);
    usleep(100000);
    cr_assert_eq(cleaner_pool_checkpoint(p, e), 30, "dirty ratio ~0.17 < 0.5: not due");
    cleaner_pool_stats(p, &st);
    cr_assert_gt(st.max_dirty_ratio, 0.1);
    cr_assert_lt(st.max_dirty_ratio, 0.5);
    struct cleaner_log_config cfg = d.cfg;
    cfg.min_cleanable_ratio = 0.1;
    cleaner_pool_set_log_config(p, e, &cfg);
    for (int i = 0; i < 500 && cleaner_pool_checkpoint(p, e) < 32; i++)
        usleep(10000);
    cr_assert_eq(cleaner_pool_checkpoint(p, e), 32);
    cleaner_pool_remove(p, e, false);
    cleaner_pool_free(p);
    ct_read_log(log, &l);
    cr_assert_eq(l.n, 10, "one record per key");
    cr_assert_str_eq(ct_find_latest(&l, "k3")->value, "later");
    ct_log_free(&l);
    plog_close(log);
}
