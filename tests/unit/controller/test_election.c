/*
 * tests/unit/controller/test_election.c — controller/election.c: the pure
 * leader election rules of election.h and docs/architecture.md §4 (Kafka's rules):
 * new partitions, failover to the first live ISR member in assignment
 * order, clean vs unclean election, controlled shutdown (move_away),
 * preferred-replica election and unclean election on request
 * (election_unclean_request). Hand-worked cases, then property loops over
 * random states (fixed-seed local PRNG, so every run checks the same cases)
 * checking the invariants every decision must keep.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "controller/election.h"

TestSuite(election, .timeout = 30);

#define CTRL_EPOCH 7 /* a controller_epoch the functions must carry over */
#define VERSION 42   /* a ZooKeeper version the functions must carry over */

#define IDS(...) ((const int32_t[]){__VA_ARGS__})
#define N_IDS(...) ((int)(sizeof((const int32_t[]){__VA_ARGS__}) / sizeof(int32_t)))

/* A state read from ZooKeeper: leader, epoch, version, isr[0..n). */
static struct zk_partition_state mk_state(int32_t leader, int32_t epoch, int32_t version,
                                          const int32_t *isr, int n_isr)
{
    struct zk_partition_state st;
    memset(&st, 0xA5, sizeof(st)); /* garbage beyond n_isr must not matter */
    st.leader = leader;
    st.leader_epoch = epoch;
    st.controller_epoch = CTRL_EPOCH;
    st.n_isr = n_isr;
    for (int i = 0; i < n_isr; i++)
        st.isr[i] = isr[i];
    st.version = version;
    return st;
}

/* A partition with no state yet. */
static struct zk_partition_state mk_new(void) { return mk_state(-1, 0, ZK_VERSION_NEW, NULL, 0); }

#define ST(leader, epoch, ...)                                                                     \
    mk_state((leader), (epoch), VERSION, IDS(__VA_ARGS__), N_IDS(__VA_ARGS__))

static bool same_state(const struct zk_partition_state *a, const struct zk_partition_state *b)
{
    if (a->leader != b->leader || a->leader_epoch != b->leader_epoch ||
        a->controller_epoch != b->controller_epoch || a->version != b->version ||
        a->n_isr != b->n_isr)
        return false;
    for (int i = 0; i < a->n_isr; i++)
        if (a->isr[i] != b->isr[i])
            return false;
    return true;
}

static void check_isr(const struct zk_partition_state *st, const int32_t *exp, int n)
{
    cr_assert_eq(st->n_isr, n, "n_isr: expected %d, got %d", n, st->n_isr);
    for (int i = 0; i < n; i++)
        cr_assert_eq(st->isr[i], exp[i], "isr[%d]: expected %d, got %d", i, exp[i], st->isr[i]);
}

#define CHECK_ISR(st, ...) check_isr((st), IDS(__VA_ARGS__), N_IDS(__VA_ARGS__))

/* The fields no election may touch. */
static void check_carried(const struct zk_partition_state *out,
                          const struct zk_partition_state *cur)
{
    cr_assert_eq(out->version, cur->version, "version: expected %d, got %d", cur->version,
                 out->version);
    cr_assert_eq(out->controller_epoch, cur->controller_epoch);
}

/* A false return means *out equals cur. */
static void check_unchanged(bool changed, const struct zk_partition_state *out,
                            const struct zk_partition_state *cur)
{
    cr_assert_not(changed, "expected no change, got leader=%d epoch=%d n_isr=%d", out->leader,
                  out->leader_epoch, out->n_isr);
    cr_assert(same_state(out, cur), "returned false but *out differs from cur");
}

/* ---- election_is_live ----------------------------------------------------- */

Test(election, is_live)
{
    const int32_t live[] = {5, 1, 9};
    cr_assert(election_is_live(live, 3, 5));
    cr_assert(election_is_live(live, 3, 1));
    cr_assert(election_is_live(live, 3, 9));
    cr_assert_not(election_is_live(live, 3, 2));
    cr_assert_not(election_is_live(live, 3, -1));
    cr_assert_not(election_is_live(live, 2, 9), "only live[0..n_live) counts");
    cr_assert_not(election_is_live(live, 0, 5));
    cr_assert_not(election_is_live(NULL, 0, 5));
}

/* ---- election_decide: new partitions ------------------------------------- */

Test(election, new_all_live)
{
    struct zk_partition_state cur = mk_new(), out;
    cr_assert(election_decide(IDS(3, 1, 2), 3, &cur, IDS(1, 2, 3), 3, false, &out));
    cr_assert_eq(out.leader, 3, "first replica leads, got %d", out.leader);
    cr_assert_eq(out.leader_epoch, 0);
    CHECK_ISR(&out, 3, 1, 2);
    cr_assert_eq(out.version, ZK_VERSION_NEW, "the caller must create the znode");
    cr_assert_eq(out.controller_epoch, CTRL_EPOCH);
}

Test(election, new_preferred_dead)
{
    struct zk_partition_state cur = mk_new(), out;
    cr_assert(election_decide(IDS(3, 1, 2), 3, &cur, IDS(2, 1), 2, false, &out));
    cr_assert_eq(out.leader, 1, "first LIVE replica in assignment order, got %d", out.leader);
    cr_assert_eq(out.leader_epoch, 0);
    CHECK_ISR(&out, 1, 2);
    cr_assert_eq(out.version, ZK_VERSION_NEW);
}

Test(election, new_only_last_live)
{
    struct zk_partition_state cur = mk_new(), out;
    cr_assert(election_decide(IDS(1, 2, 3), 3, &cur, IDS(3, 7), 2, false, &out));
    cr_assert_eq(out.leader, 3);
    CHECK_ISR(&out, 3);
}

Test(election, new_unclean_flag_irrelevant)
{
    struct zk_partition_state cur = mk_new(), a, b;
    cr_assert(election_decide(IDS(4, 5, 6), 3, &cur, IDS(6, 5), 2, false, &a));
    cr_assert(election_decide(IDS(4, 5, 6), 3, &cur, IDS(6, 5), 2, true, &b));
    cr_assert(same_state(&a, &b));
    cr_assert_eq(a.leader, 5);
}

/* No replica alive: the partition is created offline. The ISR is all the
 * replicas (not the empty set of live ones), so the first one that comes
 * back can be elected cleanly. */
Test(election, new_none_live)
{
    struct zk_partition_state cur = mk_new(), out;
    cr_assert(election_decide(IDS(3, 1, 2), 3, &cur, IDS(9), 1, false, &out));
    cr_assert_eq(out.leader, -1, "offline, got leader %d", out.leader);
    cr_assert_eq(out.leader_epoch, 0);
    cr_assert_eq(out.version, ZK_VERSION_NEW, "still written (created)");
    CHECK_ISR(&out, 3, 1, 2);

    /* written; later replica 2 comes back: it leads, cleanly */
    struct zk_partition_state written = out, next;
    written.version = 0;
    cr_assert(election_decide(IDS(3, 1, 2), 3, &written, IDS(2), 1, false, &next));
    cr_assert_eq(next.leader, 2);
    cr_assert_eq(next.leader_epoch, 1);
    CHECK_ISR(&next, 2);
    cr_assert_eq(next.version, 0);
}

Test(election, new_none_live_empty_live_list)
{
    struct zk_partition_state cur = mk_new(), out;
    cr_assert(election_decide(IDS(1, 2), 2, &cur, NULL, 0, true, &out));
    cr_assert_eq(out.leader, -1, "even unclean cannot elect nobody");
}

/* ---- election_decide: existing partitions -------------------------------- */

Test(election, leader_alive_unchanged)
{
    struct zk_partition_state cur = ST(2, 5, 2, 1, 3), out;
    bool ch = election_decide(IDS(1, 2, 3), 3, &cur, IDS(1, 2, 3), 3, false, &out);
    check_unchanged(ch, &out, &cur);
    ch = election_decide(IDS(1, 2, 3), 3, &cur, IDS(1, 2, 3), 3, true, &out);
    check_unchanged(ch, &out, &cur);
}

/* The header: leader alive and in the ISR -> unchanged, even when a follower
 * in the ISR is dead (the leader shrinks the ISR itself via AlterIsr). */
Test(election, leader_alive_dead_follower_unchanged)
{
    struct zk_partition_state cur = ST(1, 3, 1, 2, 3), out;
    bool ch = election_decide(IDS(1, 2, 3), 3, &cur, IDS(1, 3), 2, false, &out);
    check_unchanged(ch, &out, &cur);
}

Test(election, leader_dead_next_in_assignment_order)
{
    struct zk_partition_state cur = ST(1, 4, 1, 2, 3), out;
    cr_assert(election_decide(IDS(1, 2, 3), 3, &cur, IDS(2, 3), 2, false, &out));
    cr_assert_eq(out.leader, 2);
    cr_assert_eq(out.leader_epoch, 5);
    CHECK_ISR(&out, 2, 3);
    check_carried(&out, &cur);
}

/* ISR order 1,2,3 but assignment order 3,2,1: the dead leader 3's successor
 * is 2 (assignment order), not 1 (ISR order). */
Test(election, assignment_order_not_isr_order)
{
    struct zk_partition_state cur = ST(3, 10, 1, 2, 3), out;
    cr_assert(election_decide(IDS(3, 2, 1), 3, &cur, IDS(1, 2), 2, false, &out));
    cr_assert_eq(out.leader, 2, "expected 2 (assignment order), got %d", out.leader);
    cr_assert_eq(out.leader_epoch, 11);
    CHECK_ISR(&out, 1, 2); /* the dead leader leaves, cur's order kept */
    check_carried(&out, &cur);
}

Test(election, dead_members_leave_isr)
{
    /* rf 5; leader 10 and followers 30, 50 dead */
    struct zk_partition_state cur = ST(10, 0, 50, 10, 20, 30, 40), out;
    cr_assert(election_decide(IDS(10, 20, 30, 40, 50), 5, &cur, IDS(40, 20, 99), 3, false, &out));
    cr_assert_eq(out.leader, 20);
    cr_assert_eq(out.leader_epoch, 1);
    CHECK_ISR(&out, 20, 40);
    check_carried(&out, &cur);
}

/* A live replica that is not in the ISR is skipped by a clean election. */
Test(election, live_non_isr_replica_skipped)
{
    struct zk_partition_state cur = ST(1, 2, 1, 3), out;
    cr_assert(election_decide(IDS(1, 2, 3), 3, &cur, IDS(2, 3), 2, false, &out));
    cr_assert_eq(out.leader, 3, "2 is live but out of sync; expected 3, got %d", out.leader);
    cr_assert_eq(out.leader_epoch, 3);
    CHECK_ISR(&out, 3);
}

/* A live ISR member is elected cleanly even when unclean election is on. */
Test(election, unclean_prefers_clean_candidate)
{
    struct zk_partition_state cur = ST(1, 2, 1, 3), out;
    cr_assert(election_decide(IDS(1, 2, 3), 3, &cur, IDS(2, 3), 2, true, &out));
    cr_assert_eq(out.leader, 3);
    cr_assert_eq(out.leader_epoch, 3);
    CHECK_ISR(&out, 3);
}

Test(election, no_live_isr_clean_goes_offline)
{
    struct zk_partition_state cur = ST(1, 6, 1, 2), out;
    cr_assert(election_decide(IDS(1, 2, 3), 3, &cur, IDS(3), 1, false, &out));
    cr_assert_eq(out.leader, -1, "3 is out of sync: must stay offline, got %d", out.leader);
    cr_assert_eq(out.leader_epoch, 7, "the dead leader is fenced");
    CHECK_ISR(&out, 1, 2);
    check_carried(&out, &cur);
}

Test(election, no_live_replica_at_all_goes_offline)
{
    struct zk_partition_state cur = ST(1, 6, 1, 2), out;
    cr_assert(election_decide(IDS(1, 2, 3), 3, &cur, IDS(8, 9), 2, true, &out));
    cr_assert_eq(out.leader, -1);
    cr_assert_eq(out.leader_epoch, 7);
    CHECK_ISR(&out, 1, 2);
}

/* Deciding again on an offline partition nobody can lead changes nothing
 * (no epoch bump per call). */
Test(election, offline_stays_offline_without_bump)
{
    struct zk_partition_state cur = ST(-1, 7, 1, 2), out;
    bool ch = election_decide(IDS(1, 2, 3), 3, &cur, IDS(3), 1, false, &out);
    check_unchanged(ch, &out, &cur);
    ch = election_decide(IDS(1, 2, 3), 3, &cur, NULL, 0, true, &out);
    check_unchanged(ch, &out, &cur);
}

Test(election, offline_isr_member_returns)
{
    struct zk_partition_state cur = ST(-1, 7, 1, 2), out;
    cr_assert(election_decide(IDS(1, 2, 3), 3, &cur, IDS(3, 2), 2, false, &out));
    cr_assert_eq(out.leader, 2);
    cr_assert_eq(out.leader_epoch, 8);
    CHECK_ISR(&out, 2);
    check_carried(&out, &cur);
}

Test(election, unclean_first_live_replica)
{
    struct zk_partition_state cur = ST(1, 6, 1, 2), out;
    cr_assert(election_decide(IDS(1, 2, 4, 3), 4, &cur, IDS(3, 4), 2, true, &out));
    cr_assert_eq(out.leader, 4, "first live replica in assignment order, got %d", out.leader);
    cr_assert_eq(out.leader_epoch, 7);
    CHECK_ISR(&out, 4);
    check_carried(&out, &cur);
}

Test(election, unclean_from_offline)
{
    struct zk_partition_state cur = ST(-1, 7, 1), out;
    cr_assert(election_decide(IDS(1, 2, 3), 3, &cur, IDS(3, 2), 2, true, &out));
    cr_assert_eq(out.leader, 2);
    cr_assert_eq(out.leader_epoch, 8);
    CHECK_ISR(&out, 2);
}

/* A live leader that is not in the ISR does not count as a leader in place:
 * a live ISR member takes over. */
Test(election, live_leader_not_in_isr_replaced)
{
    struct zk_partition_state cur = ST(1, 3, 2, 3), out;
    cr_assert(election_decide(IDS(1, 2, 3), 3, &cur, IDS(1, 2, 3), 3, false, &out));
    cr_assert_eq(out.leader, 2);
    cr_assert_eq(out.leader_epoch, 4);
    CHECK_ISR(&out, 2, 3);
}

Test(election, live_leader_not_in_isr_no_candidate_clean)
{
    struct zk_partition_state cur = ST(1, 3, 2), out;
    cr_assert(election_decide(IDS(1, 2, 3), 3, &cur, IDS(1, 3), 2, false, &out));
    cr_assert_eq(out.leader, -1, "no live ISR member: offline, got %d", out.leader);
    cr_assert_eq(out.leader_epoch, 4);
    CHECK_ISR(&out, 2);
}

Test(election, live_leader_not_in_isr_unclean)
{
    struct zk_partition_state cur = ST(1, 3, 2), out;
    cr_assert(election_decide(IDS(1, 2, 3), 3, &cur, IDS(1, 3), 2, true, &out));
    cr_assert_eq(out.leader, 1);
    CHECK_ISR(&out, 1);
    check_carried(&out, &cur);
    /* leader_epoch: see the report — the leader is not new, so the header
     * does not require a bump; Kafka would bump it. Not asserted. */
}

/* ---- election_move_away (controlled shutdown) ---------------------------- */

Test(election, move_away_leader_hands_over)
{
    /* the leaving broker is still registered (live) while it shuts down */
    struct zk_partition_state cur = ST(1, 4, 1, 2, 3), out;
    cr_assert(election_move_away(IDS(1, 2, 3), 3, &cur, 1, IDS(1, 2, 3), 3, &out));
    cr_assert_eq(out.leader, 2);
    cr_assert_eq(out.leader_epoch, 5);
    CHECK_ISR(&out, 2, 3);
    check_carried(&out, &cur);
}

Test(election, move_away_assignment_order)
{
    struct zk_partition_state cur = ST(3, 4, 1, 2, 3), out;
    cr_assert(election_move_away(IDS(3, 2, 1), 3, &cur, 3, IDS(1, 2, 3), 3, &out));
    cr_assert_eq(out.leader, 2, "assignment order: expected 2, got %d", out.leader);
    cr_assert_eq(out.leader_epoch, 5);
    CHECK_ISR(&out, 1, 2);
}

Test(election, move_away_skips_dead_and_non_isr)
{
    /* 2 dead, 3 live but out of sync, 4 live in sync */
    struct zk_partition_state cur = ST(1, 0, 1, 2, 4), out;
    cr_assert(election_move_away(IDS(1, 2, 3, 4), 4, &cur, 1, IDS(1, 3, 4), 3, &out));
    cr_assert_eq(out.leader, 4);
    cr_assert_eq(out.leader_epoch, 1);
    CHECK_ISR(&out, 2, 4);
}

Test(election, move_away_follower_only_shrinks_isr)
{
    struct zk_partition_state cur = ST(1, 4, 1, 2, 3), out;
    cr_assert(election_move_away(IDS(1, 2, 3), 3, &cur, 2, IDS(1, 2, 3), 3, &out));
    cr_assert_eq(out.leader, 1);
    cr_assert_eq(out.leader_epoch, 4, "same leader: no epoch bump");
    CHECK_ISR(&out, 1, 3);
    check_carried(&out, &cur);
}

Test(election, move_away_sole_isr_member_leader)
{
    struct zk_partition_state cur = ST(1, 4, 1), out;
    bool ch = election_move_away(IDS(1, 2, 3), 3, &cur, 1, IDS(1, 2, 3), 3, &out);
    check_unchanged(ch, &out, &cur);
}

Test(election, move_away_no_live_successor)
{
    /* 2 is in the ISR but dead: 1 keeps leading and stays in the ISR */
    struct zk_partition_state cur = ST(1, 4, 1, 2), out;
    bool ch = election_move_away(IDS(1, 2, 3), 3, &cur, 1, IDS(1, 3), 2, &out);
    check_unchanged(ch, &out, &cur);
}

Test(election, move_away_not_a_member)
{
    struct zk_partition_state cur = ST(1, 4, 1, 2), out;
    bool ch = election_move_away(IDS(1, 2, 3), 3, &cur, 3, IDS(1, 2, 3), 3, &out);
    check_unchanged(ch, &out, &cur);
    ch = election_move_away(IDS(1, 2, 3), 3, &cur, 8, IDS(1, 2, 3, 8), 4, &out);
    check_unchanged(ch, &out, &cur);
}

/* ---- election_preferred -------------------------------------------------- */

Test(election, preferred_already_leads)
{
    struct zk_partition_state cur = ST(1, 4, 1, 2), out;
    bool ch = election_preferred(IDS(1, 2), 2, &cur, IDS(1, 2), 2, &out);
    check_unchanged(ch, &out, &cur);
}

Test(election, preferred_dead)
{
    struct zk_partition_state cur = ST(2, 4, 1, 2), out;
    bool ch = election_preferred(IDS(1, 2), 2, &cur, IDS(2), 1, &out);
    check_unchanged(ch, &out, &cur);
}

Test(election, preferred_not_in_isr)
{
    struct zk_partition_state cur = ST(2, 4, 2, 3), out;
    bool ch = election_preferred(IDS(1, 2, 3), 3, &cur, IDS(1, 2, 3), 3, &out);
    check_unchanged(ch, &out, &cur);
}

Test(election, preferred_moves_back)
{
    struct zk_partition_state cur = ST(2, 4, 2, 3, 1), out;
    cr_assert(election_preferred(IDS(1, 2, 3), 3, &cur, IDS(3, 2, 1), 3, &out));
    cr_assert_eq(out.leader, 1);
    cr_assert_eq(out.leader_epoch, 5);
    CHECK_ISR(&out, 2, 3, 1);
    check_carried(&out, &cur);
}

Test(election, preferred_from_offline)
{
    struct zk_partition_state cur = ST(-1, 4, 1, 2), out;
    cr_assert(election_preferred(IDS(1, 2), 2, &cur, IDS(1), 1, &out));
    cr_assert_eq(out.leader, 1);
    cr_assert_eq(out.leader_epoch, 5);
    CHECK_ISR(&out, 1, 2);
}

/* ---- election_unclean_request -------------------------------------------- */

Test(election, unclean_request_live_leader_not_needed)
{
    struct zk_partition_state cur = ST(2, 4, 2), out;
    bool ch =
        election_unclean_request(IDS(1, 2, 3), 3, &cur, IDS(1, 2, 3), 3, IDS(1, 2, 3), 3, &out);
    check_unchanged(ch, &out, &cur);
    /* live but not in the ISR, or shutting down: it still has a live leader */
    cur = ST(2, 4, 1);
    ch = election_unclean_request(IDS(1, 2), 2, &cur, IDS(1, 2), 2, IDS(1), 1, &out);
    check_unchanged(ch, &out, &cur);
}

Test(election, unclean_request_new_partition_untouched)
{
    struct zk_partition_state cur = mk_new(), out;
    bool ch = election_unclean_request(IDS(1, 2), 2, &cur, IDS(1, 2), 2, IDS(1, 2), 2, &out);
    check_unchanged(ch, &out, &cur);
}

Test(election, unclean_request_clean_candidate_first)
{
    /* leader 1 dead; 3 is in the ISR, 2 is live but out of it */
    struct zk_partition_state cur = ST(1, 4, 3, 1), out;
    cr_assert(election_unclean_request(IDS(1, 2, 3), 3, &cur, IDS(2, 3), 2, IDS(2, 3), 2, &out));
    cr_assert_eq(out.leader, 3, "clean candidate first, got %d", out.leader);
    cr_assert_eq(out.leader_epoch, 5);
    CHECK_ISR(&out, 3);
    check_carried(&out, &cur);
}

Test(election, unclean_request_isr_assignment_order_and_eligible)
{
    struct zk_partition_state cur = ST(-1, 9, 4, 3, 2), out;
    /* 2 and 3 in the ISR and live; 2 is shutting down: 3 leads, ISR keeps both */
    cr_assert(election_unclean_request(IDS(1, 2, 3, 4), 4, &cur, IDS(2, 3), 2, IDS(3), 1, &out));
    cr_assert_eq(out.leader, 3);
    cr_assert_eq(out.leader_epoch, 10);
    CHECK_ISR(&out, 3, 2);
    /* every live ISR member shutting down: the first live one, still clean */
    cr_assert(election_unclean_request(IDS(1, 2, 3, 4), 4, &cur, IDS(2, 3), 2, NULL, 0, &out));
    cr_assert_eq(out.leader, 2);
    CHECK_ISR(&out, 3, 2);
}

Test(election, unclean_request_out_of_isr)
{
    /* offline: ISR {1} dead, 2 and 3 live out of the ISR */
    struct zk_partition_state cur = ST(-1, 6, 1), out;
    cr_assert(election_unclean_request(IDS(1, 3, 2), 3, &cur, IDS(2, 3), 2, IDS(2, 3), 2, &out));
    cr_assert_eq(out.leader, 3, "first live replica in assignment order, got %d", out.leader);
    cr_assert_eq(out.leader_epoch, 7);
    CHECK_ISR(&out, 3);
    check_carried(&out, &cur);
    /* 3 shutting down: the eligible 2 is preferred */
    cr_assert(election_unclean_request(IDS(1, 3, 2), 3, &cur, IDS(2, 3), 2, IDS(2), 1, &out));
    cr_assert_eq(out.leader, 2);
    CHECK_ISR(&out, 2);
    /* only shutting-down replicas: still elected */
    cr_assert(election_unclean_request(IDS(1, 3, 2), 3, &cur, IDS(3), 1, NULL, 0, &out));
    cr_assert_eq(out.leader, 3);
    CHECK_ISR(&out, 3);
}

Test(election, unclean_request_dead_leader_still_set)
{
    /* the leader is recorded but dead (not yet settled): replaced */
    struct zk_partition_state cur = ST(1, 2, 1), out;
    cr_assert(election_unclean_request(IDS(1, 2), 2, &cur, IDS(2, 7), 2, IDS(2, 7), 2, &out));
    cr_assert_eq(out.leader, 2);
    cr_assert_eq(out.leader_epoch, 3);
    CHECK_ISR(&out, 2);
}

Test(election, unclean_request_no_live_replica)
{
    struct zk_partition_state cur = ST(-1, 6, 1, 2), out;
    bool ch = election_unclean_request(IDS(1, 2), 2, &cur, IDS(3, 4), 2, IDS(3, 4), 2, &out);
    check_unchanged(ch, &out, &cur);
    ch = election_unclean_request(IDS(1, 2), 2, &cur, NULL, 0, NULL, 0, &out);
    check_unchanged(ch, &out, &cur);
}

/* ---- property loop ------------------------------------------------------- */

static uint32_t rng_state = 0x9e3779b9u;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static bool has(const int32_t *ids, int n, int32_t id)
{
    for (int i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

struct scenario {
    int rf;
    int32_t replicas[6];
    int n_live;
    int32_t live[8];
    bool unclean;
    struct zk_partition_state cur;
};

/* Random replicas from brokers 1..8, live set, ISR subset of the replicas
 * (in a shuffled order) and a leader that is a replica or -1. */
static void make_scenario(struct scenario *s)
{
    int32_t pool[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    for (int i = 7; i > 0; i--) {
        int j = (int)(rng() % (uint32_t)(i + 1));
        int32_t t = pool[i];
        pool[i] = pool[j];
        pool[j] = t;
    }
    s->rf = 1 + (int)(rng() % 5);
    memcpy(s->replicas, pool, sizeof(int32_t) * (size_t)s->rf);
    s->n_live = 0;
    for (int32_t b = 1; b <= 8; b++)
        if (rng() % 3 != 0)
            s->live[s->n_live++] = b;
    s->unclean = rng() % 2;
    int32_t isr[6];
    int n_isr = 0;
    for (int r = s->rf - 1; r >= 0; r--) /* reversed: ISR order != assignment order */
        if (rng() % 3 != 0)
            isr[n_isr++] = s->replicas[r];
    if (n_isr == 0)
        isr[n_isr++] = s->replicas[rng() % (uint32_t)s->rf];
    int32_t leader = rng() % 4 == 0 ? -1 : s->replicas[rng() % (uint32_t)s->rf];
    s->cur = mk_state(leader, (int32_t)(rng() % 100), (int32_t)(rng() % 50), isr, n_isr);
}

/* The first replica in assignment order that is live and, when isr_only,
 * in cur's ISR; -1 if none. */
static int32_t first_candidate(const struct scenario *s, bool isr_only)
{
    for (int r = 0; r < s->rf; r++) {
        int32_t id = s->replicas[r];
        if (has(s->live, s->n_live, id) && (!isr_only || has(s->cur.isr, s->cur.n_isr, id)))
            return id;
    }
    return -1;
}

static void check_decide(const struct scenario *s, int it)
{
    const struct zk_partition_state *cur = &s->cur;
    struct zk_partition_state out, again;
    bool ch = election_decide(s->replicas, s->rf, cur, s->live, s->n_live, s->unclean, &out);
    check_carried(&out, cur);
    cr_assert_eq(ch, !same_state(&out, cur), "it=%d: return value vs change", it);
    bool in_place = cur->leader >= 0 && has(s->live, s->n_live, cur->leader) &&
                    has(cur->isr, cur->n_isr, cur->leader);
    if (in_place) {
        cr_assert_not(ch, "it=%d: live in-ISR leader must stay", it);
        return;
    }
    int32_t clean = first_candidate(s, true);
    int32_t want = clean >= 0 ? clean : s->unclean ? first_candidate(s, false) : -1;
    cr_assert_eq(out.leader, want, "it=%d: leader expected %d, got %d", it, want, out.leader);
    if (want != cur->leader)
        cr_assert_eq(out.leader_epoch, cur->leader_epoch + 1, "it=%d: epoch", it);
    else
        cr_assert_geq(out.leader_epoch, cur->leader_epoch, "it=%d: epoch", it);
    if (clean >= 0) { /* ISR = cur's live members, in order */
        int k = 0;
        for (int i = 0; i < cur->n_isr; i++)
            if (has(s->live, s->n_live, cur->isr[i]))
                cr_assert_eq(out.isr[k++], cur->isr[i], "it=%d: isr[%d]", it, k - 1);
        cr_assert_eq(out.n_isr, k, "it=%d: n_isr", it);
    } else if (want >= 0) {
        cr_assert(out.n_isr == 1 && out.isr[0] == want, "it=%d: unclean ISR = {leader}", it);
    } else {
        cr_assert_eq(out.n_isr, cur->n_isr, "it=%d: offline keeps the ISR", it);
        cr_assert_eq(memcmp(out.isr, cur->isr, sizeof(int32_t) * (size_t)cur->n_isr), 0);
    }
    if (out.leader >= 0)
        cr_assert(has(out.isr, out.n_isr, out.leader), "it=%d: leader in ISR", it);
    /* deciding again on the result (same live set) changes nothing */
    bool ch2 = election_decide(s->replicas, s->rf, &out, s->live, s->n_live, s->unclean, &again);
    cr_assert_not(ch2, "it=%d: not idempotent", it);
    cr_assert(same_state(&again, &out), "it=%d: not idempotent", it);
}

static void check_move_away(const struct scenario *s, int it)
{
    const struct zk_partition_state *cur = &s->cur;
    int32_t leaving = s->replicas[rng() % (uint32_t)s->rf];
    struct zk_partition_state out;
    bool ch = election_move_away(s->replicas, s->rf, cur, leaving, s->live, s->n_live, &out);
    check_carried(&out, cur);
    cr_assert_eq(ch, !same_state(&out, cur), "it=%d: return value vs change", it);
    cr_assert_geq(out.n_isr, 1, "it=%d: ISR emptied", it);
    if (ch) {
        cr_assert_neq(out.leader, leaving, "it=%d: leaving broker still leads", it);
        cr_assert_not(has(out.isr, out.n_isr, leaving), "it=%d: leaving still in ISR", it);
        for (int i = 0; i < out.n_isr; i++)
            cr_assert(has(cur->isr, cur->n_isr, out.isr[i]), "it=%d: ISR grew", it);
    }
    if (cur->leader == leaving && ch) {
        int32_t want = -1;
        for (int r = 0; r < s->rf && want < 0; r++)
            if (s->replicas[r] != leaving && has(s->live, s->n_live, s->replicas[r]) &&
                has(cur->isr, cur->n_isr, s->replicas[r]))
                want = s->replicas[r];
        cr_assert_eq(out.leader, want, "it=%d: successor", it);
        cr_assert_eq(out.leader_epoch, cur->leader_epoch + 1, "it=%d: epoch", it);
    } else if (cur->leader != leaving) {
        cr_assert_eq(out.leader, cur->leader, "it=%d: leader moved", it);
        cr_assert_eq(out.leader_epoch, cur->leader_epoch, "it=%d: epoch moved", it);
    }
}

/* eligible = live minus a deterministic few (those "shutting down"). */
static int make_eligible(const struct scenario *s, int it, int32_t *eligible)
{
    int n = 0;
    for (int i = 0; i < s->n_live; i++)
        if ((s->live[i] + it) % 4 != 0)
            eligible[n++] = s->live[i];
    return n;
}

/* First replica (assignment order) in ids[0..n), in cur's ISR if isr_only. */
static int32_t first_in(const struct scenario *s, const int32_t *ids, int n, bool isr_only)
{
    for (int r = 0; r < s->rf; r++) {
        int32_t id = s->replicas[r];
        if (has(ids, n, id) && (!isr_only || has(s->cur.isr, s->cur.n_isr, id)))
            return id;
    }
    return -1;
}

static void check_unclean_request(const struct scenario *s, int it)
{
    const struct zk_partition_state *cur = &s->cur;
    int32_t eligible[8];
    int n_el = make_eligible(s, it, eligible);
    struct zk_partition_state out, again;
    bool ch =
        election_unclean_request(s->replicas, s->rf, cur, s->live, s->n_live, eligible, n_el, &out);
    check_carried(&out, cur);
    cr_assert_eq(ch, !same_state(&out, cur), "it=%d: return value vs change", it);
    if (cur->leader >= 0 && has(s->live, s->n_live, cur->leader)) {
        cr_assert_not(ch, "it=%d: a live leader needs no election", it);
        return;
    }
    int32_t clean = first_in(s, eligible, n_el, true);
    if (clean < 0)
        clean = first_in(s, s->live, s->n_live, true);
    int32_t want = clean;
    if (want < 0)
        want = first_in(s, eligible, n_el, false);
    if (want < 0)
        want = first_in(s, s->live, s->n_live, false);
    if (want < 0) {
        cr_assert_not(ch, "it=%d: no live replica, nothing to elect", it);
        return;
    }
    cr_assert(ch, "it=%d: expected an election", it);
    cr_assert_eq(out.leader, want, "it=%d: leader expected %d, got %d", it, want, out.leader);
    cr_assert_eq(out.leader_epoch, cur->leader_epoch + 1, "it=%d: epoch", it);
    cr_assert(has(out.isr, out.n_isr, out.leader), "it=%d: leader in ISR", it);
    for (int i = 0; i < out.n_isr; i++)
        cr_assert(has(s->live, s->n_live, out.isr[i]), "it=%d: dead ISR member", it);
    if (clean < 0)
        cr_assert_eq(out.n_isr, 1, "it=%d: unclean ISR = {leader}", it);
    /* the elected leader is live: asking again changes nothing */
    cr_assert_not(election_unclean_request(s->replicas, s->rf, &out, s->live, s->n_live, eligible,
                                           n_el, &again),
                  "it=%d: not idempotent", it);
}

Test(election, property_loop)
{
    for (int it = 0; it < 20000; it++) {
        struct scenario s;
        make_scenario(&s);
        check_decide(&s, it);
        check_move_away(&s, it);
    }
}

Test(election, unclean_request_property_loop)
{
    for (int it = 0; it < 20000; it++) {
        struct scenario s;
        make_scenario(&s);
        check_unclean_request(&s, it);
    }
}
