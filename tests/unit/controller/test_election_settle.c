/*
 * tests/unit/controller/test_election_settle.c — election_settle() (what
 * the controller applies on broker changes) and election_shutdown()
 * (controlled shutdown with Kafka's epoch rule), pure functions.
 */
#include "controller/election.h"

#include <criterion/criterion.h>
#include <string.h>

#define IDS(...) ((const int32_t[]){__VA_ARGS__})
#define N(...) ((int)(sizeof((const int32_t[]){__VA_ARGS__}) / sizeof(int32_t)))

static struct zk_partition_state st(int32_t leader, int32_t epoch, int n, const int32_t *isr)
{
    struct zk_partition_state s = {
        .leader = leader, .leader_epoch = epoch, .controller_epoch = 3, .n_isr = n, .version = 7};
    memcpy(s.isr, isr, sizeof(int32_t) * (size_t)n);
    return s;
}

static void isr_eq(const struct zk_partition_state *s, int n, const int32_t *v)
{
    cr_assert_eq(s->n_isr, n, "n_isr %d != %d", s->n_isr, n);
    for (int i = 0; i < n; i++)
        cr_assert_eq(s->isr[i], v[i], "isr[%d] %d != %d", i, s->isr[i], v[i]);
}

Test(election_settle, unchanged_when_all_live)
{
    struct zk_partition_state cur = st(1, 4, 3, IDS(1, 2, 3)), out;
    cr_assert_not(
        election_settle(IDS(1, 2, 3), 3, &cur, IDS(1, 2, 3), 3, IDS(1, 2, 3), 3, false, &out));
}

Test(election_settle, dead_follower_leaves_isr_with_epoch_bump)
{
    struct zk_partition_state cur = st(1, 4, 3, IDS(1, 2, 3)), out;
    cr_assert(election_settle(IDS(1, 2, 3), 3, &cur, IDS(1, 2), 2, IDS(1, 2), 2, false, &out));
    cr_assert_eq(out.leader, 1);
    cr_assert_eq(out.leader_epoch, 5);
    cr_assert_eq(out.version, 7);
    isr_eq(&out, 2, IDS(1, 2));
}

Test(election_settle, dead_leader_next_eligible_in_isr)
{
    struct zk_partition_state cur = st(1, 4, 3, IDS(1, 2, 3)), out;
    /* 2 is live but shutting down: not eligible, 3 leads; 2 stays in the ISR */
    cr_assert(election_settle(IDS(1, 2, 3), 3, &cur, IDS(2, 3), 2, IDS(3), 1, false, &out));
    cr_assert_eq(out.leader, 3);
    cr_assert_eq(out.leader_epoch, 5);
    isr_eq(&out, 2, IDS(2, 3));
}

Test(election_settle, shutting_down_leader_stays)
{
    struct zk_partition_state cur = st(1, 4, 2, IDS(1, 2)), out;
    cr_assert_not(election_settle(IDS(1, 2), 2, &cur, IDS(1, 2), 2, IDS(2), 1, false, &out));
}

Test(election_settle, offline_keeps_isr_and_returns)
{
    struct zk_partition_state cur = st(2, 4, 1, IDS(2)), out, back;
    cr_assert(election_settle(IDS(1, 2), 2, &cur, IDS(1), 1, IDS(1), 1, false, &out));
    cr_assert_eq(out.leader, -1);
    cr_assert_eq(out.leader_epoch, 5);
    isr_eq(&out, 1, IDS(2));
    /* still offline: nothing to write */
    cr_assert_not(election_settle(IDS(1, 2), 2, &out, IDS(1), 1, IDS(1), 1, false, &back));
    /* the ISR member returns */
    cr_assert(election_settle(IDS(1, 2), 2, &out, IDS(1, 2), 2, IDS(1, 2), 2, false, &back));
    cr_assert_eq(back.leader, 2);
    cr_assert_eq(back.leader_epoch, 6);
    isr_eq(&back, 1, IDS(2));
}

Test(election_settle, unclean_elects_live_outside_isr)
{
    struct zk_partition_state cur = st(2, 4, 1, IDS(2)), out;
    cr_assert(election_settle(IDS(1, 2), 2, &cur, IDS(1), 1, IDS(1), 1, true, &out));
    cr_assert_eq(out.leader, 1);
    cr_assert_eq(out.leader_epoch, 5);
    isr_eq(&out, 1, IDS(1));
}

Test(election_settle, new_partition_skips_shutting_down)
{
    struct zk_partition_state cur = {.leader = -1, .version = ZK_VERSION_NEW}, out;
    cr_assert(election_settle(IDS(1, 2, 3), 3, &cur, IDS(1, 2, 3), 3, IDS(2, 3), 2, false, &out));
    cr_assert_eq(out.leader, 2);
    cr_assert_eq(out.leader_epoch, 0);
    isr_eq(&out, 3, IDS(1, 2, 3));
    /* only shutting-down replicas live: one of them still leads */
    cr_assert(election_settle(IDS(1, 2), 2, &cur, IDS(2), 1, NULL, 0, false, &out));
    cr_assert_eq(out.leader, 2);
}

Test(election_shutdown, leader_moves_follower_leaves_epochs_bump)
{
    struct zk_partition_state cur = st(1, 4, 3, IDS(1, 2, 3)), out;
    cr_assert(election_shutdown(IDS(1, 2, 3), 3, &cur, 1, IDS(2, 3), 2, &out));
    cr_assert_eq(out.leader, 2);
    cr_assert_eq(out.leader_epoch, 5);
    isr_eq(&out, 2, IDS(2, 3));
    cur = st(2, 4, 3, IDS(1, 2, 3));
    cr_assert(election_shutdown(IDS(2, 1, 3), 3, &cur, 1, IDS(2, 3), 2, &out));
    cr_assert_eq(out.leader, 2);
    cr_assert_eq(out.leader_epoch, 5, "ISR-only change bumps too");
    isr_eq(&out, 2, IDS(2, 3));
    /* a repeat: nothing more */
    struct zk_partition_state again;
    cr_assert_not(election_shutdown(IDS(2, 1, 3), 3, &out, 1, IDS(2, 3), 2, &again));
}

Test(election_shutdown, sole_isr_member_stays)
{
    struct zk_partition_state cur = st(1, 4, 1, IDS(1)), out;
    cr_assert_not(election_shutdown(IDS(1, 2), 2, &cur, 1, IDS(2), 1, &out));
    cur = st(2, 4, 1, IDS(2));
    cr_assert_not(election_shutdown(IDS(2, 1), 2, &cur, 1, IDS(2), 1, &out));
}
