/*
 * controller/election.c — leader election rules: new partitions, broker
 * failure (clean election from the ISR, or unclean when enabled),
 * controlled shutdown, and preferred or unclean election on request.
 * No I/O, no state.
 */
#include "controller/election.h"

#include <string.h>

bool election_is_live(const int32_t *live, int n_live, int32_t id)
{
    for (int i = 0; i < n_live; i++)
        if (live[i] == id)
            return true;
    return false;
}

static bool in_isr(const struct zk_partition_state *st, int32_t id)
{
    for (int i = 0; i < st->n_isr; i++)
        if (st->isr[i] == id)
            return true;
    return false;
}

static bool state_equal(const struct zk_partition_state *a, const struct zk_partition_state *b)
{
    return a->leader == b->leader && a->leader_epoch == b->leader_epoch && a->n_isr == b->n_isr &&
           memcmp(a->isr, b->isr, sizeof(int32_t) * (size_t)a->n_isr) == 0;
}

/* ISR of cur restricted to live brokers, in cur's order. */
static void live_isr(const struct zk_partition_state *cur, const int32_t *live, int n_live,
                     struct zk_partition_state *out)
{
    out->n_isr = 0;
    for (int i = 0; i < cur->n_isr; i++)
        if (election_is_live(live, n_live, cur->isr[i]))
            out->isr[out->n_isr++] = cur->isr[i];
}

/* First replica (assignment order) in list[0..n) and, when isr_only, in
 * cur's ISR; -1 if none. */
static int32_t first_replica(const int32_t *replicas, int rf, const struct zk_partition_state *cur,
                             const int32_t *list, int n, bool isr_only)
{
    for (int r = 0; r < rf; r++)
        if (election_is_live(list, n, replicas[r]) && (!isr_only || in_isr(cur, replicas[r])))
            return replicas[r];
    return -1;
}

/* The first ISR member (assignment order) in eligible[] leads and the ISR
 * keeps its live members; with none and `unclean`, the first eligible,
 * else live, replica leads with ISR = {it}; else out->leader is -1 and the
 * ISR is cur's. Leaves the leader epoch to the caller. */
static void elect_from_isr(const int32_t *replicas, int rf, const struct zk_partition_state *cur,
                           const int32_t *live, int n_live, const int32_t *eligible, int n_eligible,
                           bool unclean, struct zk_partition_state *out)
{
    int32_t leader = first_replica(replicas, rf, cur, eligible, n_eligible, true);
    if (leader >= 0) {
        live_isr(cur, live, n_live, out);
    } else if (unclean) {
        leader = first_replica(replicas, rf, cur, eligible, n_eligible, false);
        if (leader < 0)
            leader = first_replica(replicas, rf, cur, live, n_live, false);
        if (leader >= 0) {
            out->n_isr = 1;
            out->isr[0] = leader;
        }
    }
    out->leader = leader;
}

/* New partition: leader = first eligible (else live) replica, ISR = live. */
static void settle_new(const int32_t *replicas, int rf, const int32_t *live, int n_live,
                       const int32_t *eligible, int n_eligible, struct zk_partition_state *out)
{
    out->leader = -1;
    out->leader_epoch = 0;
    out->n_isr = 0;
    for (int r = 0; r < rf && out->n_isr < ZK_MAX_ISR; r++)
        if (election_is_live(live, n_live, replicas[r]))
            out->isr[out->n_isr++] = replicas[r];
    for (int r = 0; r < rf && out->leader < 0; r++)
        if (election_is_live(eligible, n_eligible, replicas[r]))
            out->leader = replicas[r];
    if (out->leader < 0 && out->n_isr > 0)
        out->leader = out->isr[0];
    if (out->n_isr == 0) /* nobody alive: ISR = all, offline until one returns */
        for (int r = 0; r < rf && r < ZK_MAX_ISR; r++)
            out->isr[out->n_isr++] = replicas[r];
}

bool election_decide(const int32_t *replicas, int rf, const struct zk_partition_state *cur,
                     const int32_t *live, int n_live, bool unclean, struct zk_partition_state *out)
{
    *out = *cur;
    if (cur->version == ZK_VERSION_NEW) {
        settle_new(replicas, rf, live, n_live, live, n_live, out);
        return true;
    }
    if (cur->leader >= 0 && election_is_live(live, n_live, cur->leader) && in_isr(cur, cur->leader))
        return false;
    elect_from_isr(replicas, rf, cur, live, n_live, live, n_live, unclean, out);
    if (out->leader >= 0 && out->leader != cur->leader)
        out->leader_epoch = cur->leader_epoch + 1;
    else if (out->leader < 0 && cur->leader >= 0)
        out->leader_epoch = cur->leader_epoch + 1; /* fence the dead leader */
    return !state_equal(out, cur);
}

bool election_settle(const int32_t *replicas, int rf, const struct zk_partition_state *cur,
                     const int32_t *live, int n_live, const int32_t *eligible, int n_eligible,
                     bool unclean, struct zk_partition_state *out)
{
    *out = *cur;
    if (cur->version == ZK_VERSION_NEW) {
        settle_new(replicas, rf, live, n_live, eligible, n_eligible, out);
        return true;
    }
    if (cur->leader >= 0 && election_is_live(live, n_live, cur->leader) &&
        in_isr(cur, cur->leader)) {
        live_isr(cur, live, n_live, out);
        out->leader = cur->leader;
    } else {
        elect_from_isr(replicas, rf, cur, live, n_live, eligible, n_eligible, unclean, out);
    }
    if (state_equal(out, cur))
        return false;
    if (out->leader >= 0 || cur->leader >= 0)
        out->leader_epoch = cur->leader_epoch + 1; /* new leader, ISR change, or fence */
    return true;
}

bool election_shutdown(const int32_t *replicas, int rf, const struct zk_partition_state *cur,
                       int32_t leaving, const int32_t *live, int n_live,
                       struct zk_partition_state *out)
{
    if (!election_move_away(replicas, rf, cur, leaving, live, n_live, out))
        return false;
    out->leader_epoch = cur->leader_epoch + 1;
    return true;
}

bool election_move_away(const int32_t *replicas, int rf, const struct zk_partition_state *cur,
                        int32_t leaving, const int32_t *live, int n_live,
                        struct zk_partition_state *out)
{
    *out = *cur;
    if (cur->leader == leaving) {
        int32_t leader = -1;
        for (int r = 0; r < rf && leader < 0; r++)
            if (replicas[r] != leaving && election_is_live(live, n_live, replicas[r]) &&
                in_isr(cur, replicas[r]))
                leader = replicas[r];
        if (leader < 0)
            return false; /* nobody can take over: it stays until it exits */
        out->leader = leader;
        out->leader_epoch = cur->leader_epoch + 1;
    }
    if (in_isr(out, leaving) && out->n_isr > 1) {
        int k = 0;
        for (int i = 0; i < out->n_isr; i++)
            if (out->isr[i] != leaving)
                out->isr[k++] = out->isr[i];
        out->n_isr = k;
    }
    return !state_equal(out, cur);
}

bool election_preferred(const int32_t *replicas, int rf, const struct zk_partition_state *cur,
                        const int32_t *live, int n_live, struct zk_partition_state *out)
{
    *out = *cur;
    if (rf < 1 || cur->leader == replicas[0] || !election_is_live(live, n_live, replicas[0]) ||
        !in_isr(cur, replicas[0]))
        return false;
    out->leader = replicas[0];
    out->leader_epoch = cur->leader_epoch + 1;
    return true;
}

bool election_unclean_request(const int32_t *replicas, int rf, const struct zk_partition_state *cur,
                              const int32_t *live, int n_live, const int32_t *eligible,
                              int n_eligible, struct zk_partition_state *out)
{
    *out = *cur;
    if (cur->version == ZK_VERSION_NEW ||
        (cur->leader >= 0 && election_is_live(live, n_live, cur->leader)))
        return false;
    int32_t leader = first_replica(replicas, rf, cur, eligible, n_eligible, true);
    if (leader < 0)
        leader = first_replica(replicas, rf, cur, live, n_live, true);
    if (leader >= 0) {
        live_isr(cur, live, n_live, out);
    } else {
        leader = first_replica(replicas, rf, cur, eligible, n_eligible, false);
        if (leader < 0)
            leader = first_replica(replicas, rf, cur, live, n_live, false);
        if (leader < 0)
            return false;
        out->n_isr = 1;
        out->isr[0] = leader;
    }
    out->leader = leader;
    out->leader_epoch = cur->leader_epoch + 1;
    return true;
}
