/*
 * tests/unit/broker/test_producer_ids.c — the pure parts of
 * broker/core/producer_ids.c: the block allocator (hand-out order, prefetch
 * at 90 %, moving to the next block, running dry) and the epoch table
 * (KIP-360 re-init: bump, lost-response retry, fencing, exhaustion).
 */
#include <criterion/criterion.h>

#include "broker/core/producer_ids.h"

static struct pid_range rng(int64_t s, int64_t e)
{
    return (struct pid_range){.start = s, .end = e};
}

Test(pid_alloc, empty_wants_a_block_and_is_dry)
{
    struct pid_alloc a;
    pid_alloc_init(&a);
    int64_t id = 99;
    cr_assert(pid_alloc_wants_block(&a));
    cr_assert_eq(pid_alloc_take(&a, &id), KERR_COORDINATOR_LOAD_IN_PROGRESS);
    cr_assert_eq(id, 99, "untouched on failure");
}

Test(pid_alloc, hands_out_a_block_in_order_and_prefetches_at_90_percent)
{
    struct pid_alloc a;
    pid_alloc_init(&a);
    pid_alloc_add(&a, rng(1000, 1999));
    cr_assert_not(pid_alloc_wants_block(&a));
    for (int64_t want = 1000; want < 1900; want++) {
        int64_t id;
        cr_assert(!pid_alloc_wants_block(&a), "prefetch too early at %lld", (long long)want);
        cr_assert_eq(pid_alloc_take(&a, &id), KERR_NONE);
        cr_assert_eq(id, want);
    }
    cr_assert(pid_alloc_wants_block(&a), "900 of 1000 used: time to claim");
    pid_alloc_add(&a, rng(5000, 5999)); /* another broker took 2000..4999 meanwhile */
    cr_assert_not(pid_alloc_wants_block(&a));
    int64_t id;
    for (int64_t want = 1900; want < 2000; want++) {
        cr_assert_eq(pid_alloc_take(&a, &id), KERR_NONE);
        cr_assert_eq(id, want);
    }
    cr_assert_eq(pid_alloc_take(&a, &id), KERR_NONE);
    cr_assert_eq(id, 5000, "moves to the prefetched block");
    cr_assert_not(pid_alloc_wants_block(&a));
}

Test(pid_alloc, runs_dry_without_a_new_block_then_recovers)
{
    struct pid_alloc a;
    pid_alloc_init(&a);
    pid_alloc_add(&a, rng(0, 9));
    int64_t id;
    for (int i = 0; i < 10; i++)
        cr_assert_eq(pid_alloc_take(&a, &id), KERR_NONE);
    cr_assert_eq(id, 9);
    cr_assert(pid_alloc_wants_block(&a));
    cr_assert_eq(pid_alloc_take(&a, &id), KERR_COORDINATOR_LOAD_IN_PROGRESS);
    cr_assert_eq(pid_alloc_take(&a, &id), KERR_COORDINATOR_LOAD_IN_PROGRESS, "still dry");
    pid_alloc_add(&a, rng(10, 19));
    cr_assert_eq(pid_alloc_take(&a, &id), KERR_NONE);
    cr_assert_eq(id, 10);
}

Test(pid_alloc, never_hands_out_an_id_twice)
{
    struct pid_alloc a;
    pid_alloc_init(&a);
    int64_t last = -1, start = 0;
    int taken = 0;
    while (taken < 10000) {
        if (pid_alloc_wants_block(&a)) {
            pid_alloc_add(&a, rng(start, start + 999));
            start += 1000;
        }
        int64_t id;
        cr_assert_eq(pid_alloc_take(&a, &id), KERR_NONE, "prefetch keeps ids available");
        cr_assert_gt(id, last);
        last = id;
        taken++;
    }
}

Test(pid_epochs, reinit_bumps_retries_fences)
{
    struct pid_epochs t;
    cr_assert(pid_epochs_init(&t, 64));
    int16_t e = -1;
    cr_assert_eq(pid_epochs_reinit(&t, 7, 0, &e), PIDS_NEW_ID, "unknown id: a new one");
    pid_epochs_put(&t, 7, 0);
    cr_assert_eq(pid_epochs_reinit(&t, 7, 0, &e), PIDS_BUMP);
    cr_assert_eq(e, 1);
    cr_assert_eq(pid_epochs_get(&t, 7), 1);
    cr_assert_eq(pid_epochs_reinit(&t, 7, 0, &e), PIDS_SAME, "retry of the bump");
    cr_assert_eq(e, 1);
    cr_assert_eq(pid_epochs_reinit(&t, 7, 5, &e), PIDS_FENCED, "a future epoch");
    cr_assert_eq(pid_epochs_reinit(&t, 7, 1, &e), PIDS_BUMP);
    cr_assert_eq(e, 2);
    cr_assert_eq(pid_epochs_reinit(&t, 7, 0, &e), PIDS_FENCED, "two epochs old");
    pid_epochs_destroy(&t);
}

Test(pid_epochs, exhausted_epoch_gets_a_new_id)
{
    struct pid_epochs t;
    cr_assert(pid_epochs_init(&t, 64));
    int16_t e = -1;
    pid_epochs_put(&t, 3, PIDS_EPOCH_MAX - 2);
    cr_assert_eq(pid_epochs_reinit(&t, 3, PIDS_EPOCH_MAX - 2, &e), PIDS_BUMP);
    cr_assert_eq(e, PIDS_EPOCH_MAX - 1);
    cr_assert_eq(pid_epochs_reinit(&t, 3, PIDS_EPOCH_MAX - 1, &e), PIDS_NEW_ID);
    pid_epochs_destroy(&t);
}

Test(pid_epochs, full_table_is_cleared_not_overrun)
{
    struct pid_epochs t;
    cr_assert(pid_epochs_init(&t, 16));
    for (int64_t id = 0; id < 1000; id++) {
        pid_epochs_put(&t, id, (int16_t)(id % 100));
        cr_assert_eq(pid_epochs_get(&t, id), (int16_t)(id % 100));
        cr_assert_leq(t.n * 4, t.cap * 3);
    }
    cr_assert_eq(pid_epochs_get(&t, -1), -1);
    pid_epochs_destroy(&t);
}
