/*
 * tests/unit/broker/storage/test_cleaner.c — the log cleaner's pass on real
 * logs in a temp dir: latest value per key with offsets unchanged,
 * tombstones and delete.retention.ms, the active segment, min and max
 * compaction lag, grouping, compressed and keyless records, producers'
 * empty batches, appends and readers during a pass, a log that changes
 * under a pass.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/storage/batch.h"
#include "broker/storage/cleaner.h"
#include "broker/storage/offset_map.h"
#include "broker/storage/plog.h"
#include "cleaner_test.h"
#include "storage_test.h"

#define T0 1700000000000LL /* record timestamps start here */
#define NOW (T0 + 3600000) /* the pass's clock */

static struct offset_map *map;
static struct cleaner_log_config ccfg;

static void setup(void)
{
    st_tmpdir_up();
    map = offset_map_new(1 << 20);
    cleaner_log_config_default(&ccfg);
}

static void teardown(void)
{
    offset_map_free(map);
    st_tmpdir_down();
}

TestSuite(cleaner, .init = setup, .fini = teardown, .timeout = 30);

static struct cleaner_result clean(struct plog *log, struct ct_lock *lk, int64_t ckpt)
{
    struct cleaner_result res;

    cr_assert_eq(cleaner_clean(log, &lk->ops, &ccfg, ckpt, map, NULL, NOW, &res), KERR_NONE);
    cr_assert(!lk->held, "the pass must release the lock");
    return res;
}

/* Three rounds of values for keys k0..k9, one segment per round, then an
 * active segment with k0 again. */
static struct plog *three_rounds(void)
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

Test(cleaner, keeps_latest_per_key_with_offsets_unchanged)
{
    struct plog *log = three_rounds();
    struct ct_lock lk;
    struct ct_log before, after;
    struct cleaner_result res;

    ct_lock_init(&lk, log);
    ct_read_log(log, &before);
    cr_assert_eq(before.n, 31);
    res = clean(log, &lk, -1);
    cr_assert_eq(res.first_dirty, 0);
    cr_assert_eq(res.end_offset, 30, "checkpoint = first uncleanable offset");
    cr_assert_eq(res.segments_before, 3);
    cr_assert_eq(res.segments_after, 1, "three small segments grouped into one");
    cr_assert_eq(res.records_removed, 20);
    ct_read_log(log, &after);
    cr_assert_eq(after.n, 11);
    for (int i = 0; i < 10; i++) {
        char k[16], v[16];
        snprintf(k, sizeof(k), "k%d", i);
        snprintf(v, sizeof(v), "v%d-2", i);
        const struct ct_read *r = ct_find_latest(&after, k);
        cr_assert_not_null(r);
        if (i == 0) {
            cr_assert_eq(ct_count_key(&after, k), 2, "k0 in the clean part and the active one");
            cr_assert_str_eq(after.r[0].value, "v0-2");
            cr_assert_eq(after.r[0].offset, 20);
            continue;
        }
        cr_assert_eq(ct_count_key(&after, k), 1);
        cr_assert_str_eq(r->value, v);
        cr_assert_eq(r->offset, 20 + i, "offset of %s unchanged", k);
    }
    cr_assert_eq(plog_end_offset(log), 31);
    cr_assert_eq(plog_start_offset(log), 0);
    /* reopened: the same */
    plog_close(log);
    log = ct_open(1 << 20);
    ct_log_free(&after);
    ct_read_log(log, &after);
    cr_assert_eq(after.n, 11);
    cr_assert_eq(plog_end_offset(log), 31);
    cr_assert_eq(st_count_files(st_path("t-0"), ".cleaned"), 0);
    cr_assert_eq(st_count_files(st_path("t-0"), ".swap"), 0);
    ct_log_free(&before);
    ct_log_free(&after);
    plog_close(log);
}

Test(cleaner, active_segment_never_touched)
{
    struct plog *log = three_rounds();
    struct ct_lock lk;
    char path[512];
    uint8_t a[4096], b[4096];
    size_t na, nb;

    /* more duplicates in the active segment */
    ct_put(log, "k0", "active2", T0 + 101);
    ct_put(log, "k0", "active3", T0 + 102);
    snprintf(path, sizeof(path), "%s/%020d.log", st_path("t-0"), 30);
    na = st_read_at(path, 0, a, sizeof(a));
    ct_lock_init(&lk, log);
    (void)clean(log, &lk, -1);
    nb = st_read_at(path, 0, b, sizeof(b));
    cr_assert_eq(na, nb);
    cr_assert_eq(memcmp(a, b, na), 0, "active segment bytes unchanged");
    struct ct_log l;
    ct_read_log(log, &l);
    cr_assert_eq(ct_count_key(&l, "k0"), 4, "one cleaned + three active");
    ct_log_free(&l);
    plog_close(log);
}

Test(cleaner, second_pass_starts_at_checkpoint)
{
    struct plog *log = three_rounds();
    struct ct_lock lk;
    struct cleaner_result res;
    struct cleaner_plan plan;

    ct_lock_init(&lk, log);
    res = clean(log, &lk, -1);
    cleaner_plan(log, &ccfg, res.end_offset, plog_end_offset(log), NOW, &plan);
    cr_assert_eq(plan.dirty_bytes, 0);
    cr_assert(!cleaner_plan_due(&plan, &ccfg, NOW));
    res = clean(log, &lk, res.end_offset);
    cr_assert_eq(res.segments_before, 0, "nothing dirty: nothing rewritten");
    ct_put(log, "k5", "new", T0 + 200);
    cr_assert_eq(plog_roll(log, T0), KERR_NONE);
    cleaner_plan(log, &ccfg, 30, plog_end_offset(log), NOW, &plan);
    cr_assert_eq(plan.first_dirty, 30);
    /* dirty: the old active segment (k0, k5) against the cleaned one */
    cr_assert_eq(plan.clean_bytes, 740);
    cr_assert_float_eq(plan.dirty_ratio,
                       (double)plan.dirty_bytes / (double)(plan.dirty_bytes + 740), 1e-9);
    cr_assert_lt(plan.dirty_ratio, 0.5);
    cr_assert(!cleaner_plan_due(&plan, &ccfg, NOW), "below min.cleanable.dirty.ratio");
    ccfg.min_cleanable_ratio = 0.1;
    cr_assert(cleaner_plan_due(&plan, &ccfg, NOW));
    res = clean(log, &lk, 30);
    cr_assert_eq(res.end_offset, 32);
    struct ct_log l;
    ct_read_log(log, &l);
    cr_assert_eq(ct_count_key(&l, "k5"), 1);
    cr_assert_str_eq(ct_find_latest(&l, "k5")->value, "new");
    cr_assert_eq(ct_count_key(&l, "k0"), 1, "the old active k0 was the newest, older k0 gone");
    ct_log_free(&l);
    plog_close(log);
}

Test(cleaner, high_watermark_bounds_the_dirty_part)
{
    struct plog *log = three_rounds();
    struct ct_lock lk;
    struct cleaner_result res;

    ct_lock_init(&lk, log);
    lk.max_offset = 15; /* only the first segment ends at or below it */
    res = clean(log, &lk, -1);
    cr_assert_eq(res.end_offset, 10);
    cr_assert_eq(res.segments_before, 1);
    cr_assert_eq(res.records_removed, 0, "no duplicate inside the first segment");
    plog_close(log);
}

Test(cleaner, min_compaction_lag_respected)
{
    struct plog *log = ct_open(1 << 20);
    struct ct_lock lk;
    struct cleaner_result res;

    ct_put(log, "a", "1", NOW - 100000);
    ct_put(log, "a", "2", NOW - 90000);
    cr_assert_eq(plog_roll(log, T0), KERR_NONE);
    ct_put(log, "a", "3", NOW - 1000); /* too recent */
    cr_assert_eq(plog_roll(log, T0), KERR_NONE);
    ct_put(log, "a", "4", NOW);
    ct_lock_init(&lk, log);
    ccfg.min_lag_ms = 60000;
    res = clean(log, &lk, -1);
    cr_assert_eq(res.end_offset, 2, "the second segment is too recent");
    struct ct_log l;
    ct_read_log(log, &l);
    cr_assert_eq(l.n, 3, "a=1 removed only");
    cr_assert_str_eq(l.r[0].value, "2");
    ct_log_free(&l);
    ccfg.min_lag_ms = 0;
    res = clean(log, &lk, 2);
    ct_read_log(log, &l);
    cr_assert_eq(l.n, 2, "a=3 (cleaned part) and a=4 (active)");
    ct_log_free(&l);
    plog_close(log);
}

Test(cleaner, max_compaction_lag_makes_a_pass_due)
{
    struct plog *log = ct_open(1 << 20);
    struct cleaner_plan plan;

    for (int i = 0; i < 20; i++)
        ct_put(log, "x", "v", NOW - 500000 + i);
    cr_assert_eq(plog_roll(log, T0), KERR_NONE);
    ct_put(log, "y", "1", NOW - 1000);
    cr_assert_eq(plog_roll(log, T0), KERR_NONE);
    ct_put(log, "z", "active", NOW);
    /* first pass over everything, then checkpoint 20: the dirty part is
     * only the "y" segment, far below the ratio */
    cleaner_plan(log, &ccfg, 20, plog_end_offset(log), NOW, &plan);
    cr_assert_lt(plan.dirty_ratio, 0.5);
    cr_assert(!cleaner_plan_due(&plan, &ccfg, NOW));
    ccfg.max_lag_ms = 500;
    cr_assert(cleaner_plan_due(&plan, &ccfg, NOW), "older than max.compaction.lag.ms");
    plog_close(log);
}

Test(cleaner, tombstones_kept_until_delete_retention)
{
    /* 100-byte values and 200-byte segments: no two segments group, so the
     * tombstone's segment and the clean part's last one stay apart */
    struct plog *log = ct_open(200);
    struct ct_lock lk;
    struct cleaner_result res;
    struct ct_log l;
    char big[101];

    memset(big, 'v', 100);
    big[100] = 0;
    ct_put(log, "a", big, T0);
    ct_put(log, "b", big, T0 + 1);
    cr_assert_eq(plog_roll(log, T0), KERR_NONE);
    ct_put(log, "a", NULL, T0 + 2); /* tombstone */
    cr_assert_eq(plog_roll(log, T0), KERR_NONE);
    ct_put(log, "c", big, T0 + 3);
    cr_assert_eq(plog_roll(log, T0), KERR_NONE);
    ct_put(log, "d", big, T0 + 4); /* active */
    ct_lock_init(&lk, log);
    ccfg.delete_retention_ms = 1000;
    res = clean(log, &lk, -1);
    cr_assert_eq(res.end_offset, 4);
    ct_read_log(log, &l);
    cr_assert_eq(ct_count_key(&l, "a"), 1);
    cr_assert_null(ct_find_latest(&l, "a")->value, "tombstone kept: no clean part yet");
    ct_log_free(&l);

    /* the clean part's last segment (c, base 3) modified 500 ms after the
     * tombstone's (base 2): within delete.retention.ms */
    cr_assert_eq(plog_segment_base(log, 2), 2);
    cr_assert_eq(plog_segment_base(log, 3), 3);
    ct_set_mtime(st_path("t-0"), 2, NOW - 10000);
    ct_set_mtime(st_path("t-0"), 3, NOW - 10000 + 500);
    cr_assert_eq(plog_roll(log, T0), KERR_NONE);
    ct_put(log, "e", big, T0 + 5);
    res = clean(log, &lk, 4);
    cr_assert_eq(res.end_offset, 5);
    ct_read_log(log, &l);
    cr_assert_eq(ct_count_key(&l, "a"), 1, "still within delete.retention.ms");
    cr_assert_eq(res.tombstones_removed, 0);
    ct_log_free(&l);

    /* now the clean part ends (base 4, d) 2 s after the tombstone's segment */
    ct_set_mtime(st_path("t-0"), 2, NOW - 10000);
    ct_set_mtime(st_path("t-0"), 4, NOW - 10000 + 2000);
    cr_assert_eq(plog_roll(log, T0), KERR_NONE);
    ct_put(log, "f", big, T0 + 6);
    res = clean(log, &lk, 5);
    ct_read_log(log, &l);
    cr_assert_eq(ct_count_key(&l, "a"), 0, "tombstone removed after delete.retention.ms");
    cr_assert_eq(res.tombstones_removed, 1);
    cr_assert_eq(ct_count_key(&l, "b"), 1);
    cr_assert_eq(ct_count_key(&l, "c"), 1);
    ct_log_free(&l);
    plog_close(log);
}

Test(cleaner, groups_respect_segment_bytes)
{
    struct plog *log = ct_open(400);
    struct ct_lock lk;
    struct cleaner_result res;
    char v[64];
    int before;

    /* ~ 90-byte batches, 4 per 400-byte segment; every key unique */
    for (int i = 0; i < 40; i++) {
        char k[16];
        snprintf(k, sizeof(k), "key%02d", i);
        memset(v, 'a' + i % 26, 10);
        v[10] = 0;
        ct_put(log, k, v, T0 + i);
    }
    /* then overwrite all but 4 keys: cleaned segments shrink */
    for (int i = 4; i < 40; i++) {
        char k[16];
        snprintf(k, sizeof(k), "key%02d", i);
        ct_put(log, k, "z", T0 + 100 + i);
    }
    cr_assert_eq(plog_roll(log, T0), KERR_NONE);
    ct_lock_init(&lk, log);
    /* groups are made from the sizes before cleaning (Kafka's rule): the
     * first pass only shrinks the segments, the next one groups them */
    res = clean(log, &lk, -1);
    cr_assert_eq(res.segments_before, res.segments_after);
    before = plog_segment_count(log);
    cr_assert_gt(before, 15);
    ct_put(log, "key00", "again", T0 + 1000);
    cr_assert_eq(plog_roll(log, T0), KERR_NONE);
    res = clean(log, &lk, res.end_offset);
    cr_assert_gt(res.segments_before, res.segments_after);
    cr_assert_lt(plog_segment_count(log), before);
    for (int i = 0; i < plog_segment_count(log) - 1; i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%020ld.log", st_path("t-0"),
                 (long)plog_segment_base(log, i));
        cr_assert_leq(st_file_size(path), 400, "a group fits segment.bytes");
    }
    struct ct_log l;
    ct_read_log(log, &l);
    for (int i = 0; i < 40; i++) {
        char k[16];
        snprintf(k, sizeof(k), "key%02d", i);
        cr_assert_eq(ct_count_key(&l, k), 1, "%s", k);
    }
    ct_log_free(&l);
    /* indexes of the cleaned segments work: reads from every offset */
    for (int64_t off = 0; off < plog_end_offset(log); off++) {
        struct file_span sp;
        cr_assert_eq(plog_read(log, off, INT64_MAX, 100000, true, &sp), KERR_NONE);
        if (sp.fd >= 0)
            close(sp.fd);
    }
    plog_close(log);
}

static void check_codec(int codec)
{
    struct plog *log = ct_open(1 << 20);
    struct ct_lock lk;
    struct ct_rec r1[] = {{"a", "1"}, {"b", "1"}, {"c", "1"}, {"d", "1"}};
    struct ct_rec r2[] = {{"a", "2"}, {"c", "2"}};
    struct ct_rec r3[] = {{"a", "3"}, {"b", "3"}, {"c", "3"}, {"d", "3"}};
    struct ct_log l;

    ct_append(log, r1, 4, codec, T0);
    ct_append(log, r2, 2, codec, T0 + 10);
    ct_append(log, r3, 4, 0, T0 + 20);
    cr_assert_eq(plog_roll(log, T0), KERR_NONE);
    ct_put(log, "x", "active", T0 + 30);
    ct_lock_init(&lk, log);
    /* checkpoint 6: only r3's batch is dirty; the others keep what r3 does
     * not overwrite: nothing for a, b, c, d */
    (void)clean(log, &lk, -1);
    ct_read_log(log, &l);
    cr_assert_eq(l.n, 5);
    ct_log_free(&l);
    plog_close(log);
}

static void check_codec_partial(int codec)
{
    struct plog *log = ct_open(1 << 20);
    struct ct_lock lk;
    struct ct_rec r1[] = {{"a", "1"}, {"b", "1"}, {"c", "1"}, {"d", "1"}};
    struct ct_rec r2[] = {{"a", "2"}, {"c", "2"}};
    struct ct_log l;

    ct_append(log, r1, 4, codec, T0);
    ct_append(log, r2, 2, 0, T0 + 10);
    cr_assert_eq(plog_roll(log, T0), KERR_NONE);
    ct_put(log, "x", "active", T0 + 30);
    ct_lock_init(&lk, log);
    (void)clean(log, &lk, -1);
    ct_read_log(log, &l);
    cr_assert_eq(l.n, 5);
    cr_assert_eq(l.r[0].offset, 1);
    cr_assert_str_eq(l.r[0].key, "b");
    cr_assert_eq(l.r[0].codec, codec, "rewritten with the same codec");
    cr_assert_eq(l.r[1].offset, 3);
    cr_assert_str_eq(l.r[1].key, "d");
    cr_assert_str_eq(ct_find_latest(&l, "a")->value, "2");
    ct_log_free(&l);
    plog_close(log);
    /* reopening CRC-checks and validates the rewritten batch */
    log = ct_open(1 << 20);
    ct_read_log(log, &l);
    cr_assert_eq(l.n, 5);
    ct_log_free(&l);
    plog_close(log);
}

Test(cleaner, compressed_batches)
{
    for (int codec = 0; codec <= 4; codec++) {
        check_codec(codec);
        st_tmpdir_down();
        st_tmpdir_up();
        check_codec_partial(codec);
        st_tmpdir_down();
        st_tmpdir_up();
    }
}

Test(cleaner, keyless_records_removed)
{
    struct plog *log = ct_open(1 << 20);
    struct ct_lock lk;
    struct cleaner_result res;
    struct ct_rec r[] = {{NULL, "nokey"}, {"k", "1"}, {NULL, "nokey2"}};
    struct ct_log l;

    ct_append(log, r, 3, 0, T0);
    cr_assert_eq(plog_roll(log, T0), KERR_NONE);
    ct_put(log, "x", "active", T0 + 30);
    ct_lock_init(&lk, log);
    res = clean(log, &lk, -1);
    cr_assert_eq(res.keyless_removed, 2);
    ct_read_log(log, &l);
    cr_assert_eq(l.n, 2);
    cr_assert_eq(l.r[0].offset, 1);
    cr_assert_str_eq(l.r[0].key, "k");
    ct_log_free(&l);
    plog_close(log);
}

Test(cleaner, emptied_batches_dropped_producer_last_kept_empty)
{
    struct plog *log = ct_open(1 << 20);
    struct ct_lock lk;
    struct kbuf b;
    struct ct_rec r = {"p", "1"};
    int64_t first, last;
    struct ct_log l;

    /* producer 7: two batches of key p, then key q overwrites... */
    for (int i = 0; i < 2; i++) {
        kbuf_init(&b);
        ct_batch(&b, &r, 1, 0, T0 + i, 7);
        be32_store(b.data + BATCH_OFF_BASE_SEQ, (uint32_t)i); /* in sequence, not a duplicate */
        st_fix_crc(b.data);
        cr_assert_eq(plog_append(log, b.data, b.len, 0, T0, &first, &last), KERR_NONE);
        kbuf_destroy(&b);
    }
    ct_put(log, "a", "1", T0 + 3);
    ct_put(log, "a", "2", T0 + 4);
    ct_put(log, "p", "3", T0 + 5); /* no producer: overwrites both producer batches */
    cr_assert_eq(plog_roll(log, T0), KERR_NONE);
    ct_put(log, "x", "active", T0 + 30);
    ct_lock_init(&lk, log);
    (void)clean(log, &lk, -1);
    ct_read_log(log, &l);
    cr_assert_eq(l.n, 3, "a=2, p=3, active");
    cr_assert_eq(l.empty_batches, 1, "producer 7's last batch stays, empty");
    cr_assert_eq(l.batches, 4);
    ct_log_free(&l);
    plog_close(log);
}

Test(cleaner, group_emptied_keeps_one_empty_batch)
{
    struct plog *log = ct_open(1 << 20);
    struct ct_lock lk;
    struct ct_log l;

    ct_put(log, "a", "1", T0);
    cr_assert_eq(plog_roll(log, T0), KERR_NONE);
    ct_put(log, "a", "2", T0 + 1);
    cr_assert_eq(plog_roll(log, T0), KERR_NONE);
    ct_put(log, "x", "active", T0 + 30);
    ct_lock_init(&lk, log);
    (void)clean(log, &lk, -1);
    /* both closed segments are grouped: a=2 stays; the log start stays 0 */
    cr_assert_eq(plog_segment_base(log, 0), 0);
    ct_read_log(log, &l);
    cr_assert_eq(l.n, 2);
    ct_log_free(&l);
    plog_close(log);
}

/* ---- concurrency -------------------------------------------------------- */

static void append_on_install(struct ct_lock *l, int n)
{
    if (n == 2) /* the install: an append between the map and the swap */
        ct_put(l->log, "k1", "during", T0 + 500);
}

Test(cleaner, appends_and_readers_during_a_pass)
{
    struct plog *log = three_rounds();
    struct ct_lock lk;
    struct file_span sp;
    struct cleaner_result res;
    uint8_t before[64], after[64];
    struct ct_log l;

    /* a reader holding a span of the first segment from before the pass */
    cr_assert_eq(plog_read(log, 0, INT64_MAX, 1 << 20, true, &sp), KERR_NONE);
    cr_assert_gt(sp.len, 0);
    st_read_fd(sp.fd, sp.pos, before, sizeof(before));
    ct_lock_init(&lk, log);
    lk.hook = append_on_install;
    res = clean(log, &lk, -1);
    cr_assert(!res.aborted);
    cr_assert_eq(res.segments_after, 1);
    /* the old bytes are still readable through the reader's descriptor */
    st_read_fd(sp.fd, sp.pos, after, sizeof(after));
    cr_assert_eq(memcmp(before, after, sizeof(before)), 0);
    close(sp.fd);
    ct_read_log(log, &l);
    cr_assert_str_eq(ct_find_latest(&l, "k1")->value, "during");
    cr_assert_eq(plog_end_offset(log), 32);
    ct_log_free(&l);
    plog_close(log);
}

static void retention_on_install(struct ct_lock *l, int n)
{
    struct plog_retention r = {
        .now_ms = NOW, .retention_ms = -1, .retention_bytes = -1, .max_offset = INT64_MAX};
    int deleted;
    if (n == 2) {
        cr_assert_eq(plog_advance_start_offset(l->log, 10), KERR_NONE);
        cr_assert_eq(plog_apply_retention(l->log, &r, &deleted), KERR_NONE);
        cr_assert_eq(deleted, 1);
    }
}

Test(cleaner, log_changed_under_the_pass_aborts)
{
    struct plog *log = three_rounds();
    struct ct_lock lk;
    struct cleaner_result res;
    struct ct_log l;

    ct_lock_init(&lk, log);
    lk.hook = retention_on_install;
    res = clean(log, &lk, -1);
    cr_assert(res.aborted);
    cr_assert_eq(res.end_offset, res.first_dirty, "nothing checkpointed");
    cr_assert_eq(st_count_files(st_path("t-0"), ".cleaned"), 0);
    cr_assert_eq(st_count_files(st_path("t-0"), ".swap"), 0);
    ct_read_log(log, &l);
    cr_assert_eq(l.n, 21, "segments 2, 3 and the active one, untouched");
    ct_log_free(&l);
    plog_close(log);
}

Test(cleaner, offset_map_full_stops_early)
{
    struct plog *log = ct_open(1 << 20);
    struct ct_lock lk;
    struct cleaner_result res;
    char k[16];

    offset_map_free(map);
    map = offset_map_new(20 * OFFSET_MAP_ENTRY_SIZE); /* 18 keys */
    for (int i = 0; i < 30; i++) {
        snprintf(k, sizeof(k), "k%d", i);
        ct_put(log, k, "1", T0 + i);
    }
    cr_assert_eq(plog_roll(log, T0), KERR_NONE);
    ct_put(log, "x", "active", T0 + 100);
    ct_lock_init(&lk, log);
    res = clean(log, &lk, -1);
    cr_assert_eq(res.end_offset, offset_map_slots(map), "stopped when the map was full");
    res = clean(log, &lk, res.end_offset);
    cr_assert_eq(res.end_offset, 30);
    struct ct_log l;
    ct_read_log(log, &l);
    cr_assert_eq(l.n, 31, "all keys unique: nothing lost");
    ct_log_free(&l);
    plog_close(log);
}

Test(cleaner, cancelled_pass_gives_up)
{
    struct plog *log = three_rounds();
    struct ct_lock lk;
    struct cleaner_result res;
    atomic_bool cancel;
    struct ct_log l;

    atomic_init(&cancel, true);
    ct_lock_init(&lk, log);
    lk.ops.cancel = &cancel;
    res = clean(log, &lk, -1);
    cr_assert(res.aborted);
    cr_assert_eq(res.segments_after, 0);
    ct_read_log(log, &l);
    cr_assert_eq(l.n, 31, "unchanged");
    ct_log_free(&l);
    plog_close(log);
}

Test(cleaner, batch_larger_than_the_read_window)
{
    struct plog *log = ct_open(8 << 20);
    struct ct_lock lk;
    struct cleaner_result res;
    struct ct_log l;
    char *big = malloc((3 << 19) + 1); /* 1.5 MiB: more than the 1 MiB window */

    memset(big, 'b', 3 << 19);
    big[3 << 19] = 0;
    ct_put(log, "small", "1", T0);
    cr_assert_eq(plog_roll(log, T0), KERR_NONE); /* big starts its segment */
    ct_put(log, "big", big, T0 + 1);
    ct_put(log, "small", "2", T0 + 2);
    cr_assert_eq(plog_roll(log, T0), KERR_NONE);
    ct_put(log, "x", "active", T0 + 3);
    ct_lock_init(&lk, log);
    res = clean(log, &lk, -1);
    cr_assert_eq(res.records_removed, 1);
    ct_read_log(log, &l);
    cr_assert_eq(l.n, 3);
    cr_assert_eq(strlen(ct_find_latest(&l, "big")->value), 3 << 19);
    ct_log_free(&l);
    free(big);
    plog_close(log);
}

Test(cleaner, checkpoint_past_uncleanable_or_past_the_end)
{
    struct plog *log = three_rounds();
    struct cleaner_plan plan;

    /* past U but inside the log: nothing dirty, no restart */
    cleaner_plan(log, &ccfg, 30, plog_end_offset(log), NOW, &plan);
    cr_assert_eq(plan.first_dirty, 30);
    cleaner_plan(log, &ccfg, 30, 15, NOW, &plan);
    cr_assert_eq(plan.uncleanable, 10);
    cr_assert_eq(plan.first_dirty, 10);
    cr_assert_eq(plan.dirty_bytes, 0);
    /* past the LEO (the log was truncated): starts over */
    cleaner_plan(log, &ccfg, 1000, plog_end_offset(log), NOW, &plan);
    cr_assert_eq(plan.first_dirty, 0);
    cr_assert_eq(plan.dirty_ratio, 1.0);
    plog_close(log);
}
