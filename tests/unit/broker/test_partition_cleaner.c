/*
 * tests/unit/broker/test_partition_cleaner.c — a compacted partition and the
 * log cleaner: registration follows cleanup.policy, the cleaner takes the
 * partition lock and cleans up to the high watermark only, and freeing
 * the partition unregisters it (dropping its checkpoint when the files go).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "broker/replication/partition.h"
#include "broker/storage/cleaner_checkpoint.h"
#include "broker/storage/cleaner_pool.h"
#include "tests/unit/broker/storage/cleaner_test.h"
#include "tests/unit/broker/partition_test.h"
#include "tests/unit/broker/storage/storage_test.h"

#define T0 1700000000000LL

static struct cleaner_pool *pool;

static void setup(void)
{
    struct cleaner_pool_config pc;

    pt_setup();
    cleaner_pool_config_default(&pc);
    pc.dedupe_buffer_bytes = 1 << 20;
    pool = cleaner_pool_new(&pc);
    pt_tc.compact = true;
    pt_tc.segment_bytes = 300;
}

static void teardown(void)
{
    cleaner_pool_free(pool);
    pt_teardown();
}

TestSuite(partition_cleaner, .init = setup, .fini = teardown, .timeout = 30);

/* Appends 3 rounds of keys k0..k4 as leader (about 2 batches a segment). */
static void fill(struct partition *part)
{
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 5; i++) {
            char k[8], v[8];
            struct ct_rec r = {k, v};
            struct kbuf b;
            int64_t base, last, ls;
            int32_t epoch;
            snprintf(k, sizeof(k), "k%d", i);
            snprintf(v, sizeof(v), "v%d", round);
            kbuf_init(&b);
            ct_batch(&b, &r, 1, 0, T0 + round * 10 + i, -1);
            cr_assert_eq(
                partition_append(part, b.data, b.len, T0, false, &base, &last, &epoch, &ls),
                KERR_NONE);
            kbuf_destroy(&b);
        }
    }
}

Test(partition_cleaner, registers_compacted_log_and_cleans_to_the_hw)
{
    struct partition *part = pt_new("t-0");
    int32_t isr[] = {1};
    struct cleaner_result res;
    struct ct_log l;
    int64_t off;

    cr_assert_eq(pt_state(part, 1, 1, 1, 0, 1, isr, 1, 0, NULL), KERR_NONE);
    fill(part);
    cr_assert_eq(pt_hw(part), 15);
    partition_cleaner_sync(part, pool, st_dir);
    cr_assert_not_null(part->cleaner);
    cr_assert_eq(cleaner_pool_clean_now(pool, part->cleaner, T0 + 1000, &res), KERR_NONE);
    cr_assert_gt(res.segments_before, 0);
    cr_assert_gt(res.records_removed, 0);
    cr_assert_eq(cleaner_ckpt_get(st_dir, "t", 0, &off), KERR_NONE);
    cr_assert_eq(off, res.end_offset);
    ct_read_log(part->log, &l);
    for (int i = 0; i < 5; i++) {
        char k[8];
        snprintf(k, sizeof(k), "k%d", i);
        cr_assert_str_eq(ct_find_latest(&l, k)->value, "v2");
    }
    cr_assert_lt(l.n, 15);
    ct_log_free(&l);
    /* cleanup.policy=delete: unregistered */
    struct topic_config tc = pt_tc;
    tc.compact = false;
    partition_set_config(part, &tc);
    partition_cleaner_sync(part, pool, st_dir);
    cr_assert_null(part->cleaner);
    tc.compact = true;
    partition_set_config(part, &tc);
    partition_cleaner_sync(part, pool, st_dir);
    cr_assert_not_null(part->cleaner);
    partition_free(part, true);
    cr_assert_eq(cleaner_ckpt_get(st_dir, "t", 0, &off), KERR__NOENT, "checkpoint dropped");
}

Test(partition_cleaner, nothing_above_the_high_watermark)
{
    struct partition *part = pt_new("t-0");
    int32_t isr[] = {1, 2};
    struct cleaner_result res;

    /* two replicas in the ISR, the follower never fetched: HW stays 0 */
    cr_assert_eq(pt_state(part, 1, 1, 1, 0, 2, isr, 2, 0, NULL), KERR_NONE);
    fill(part);
    cr_assert_eq(pt_hw(part), 0);
    partition_cleaner_sync(part, pool, st_dir);
    cr_assert_eq(cleaner_pool_clean_now(pool, part->cleaner, T0 + 1000, &res), KERR_NONE);
    cr_assert_eq(res.segments_before, 0);
    cr_assert_eq(res.end_offset, res.first_dirty);
    partition_free(part, false);
}

Test(partition_cleaner, not_compacted_not_registered)
{
    struct partition *part;

    pt_tc.compact = false;
    part = pt_new("t-0");
    partition_cleaner_sync(part, pool, st_dir);
    cr_assert_null(part->cleaner);
    partition_free(part, false);
}
