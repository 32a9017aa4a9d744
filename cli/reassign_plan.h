/*
 * cli/reassign_plan.h — the replica-reassignment planner of `gregor cluster
 * reassign --plan`: from the live brokers (id, rack), the current ordered
 * replica lists of the partitions in scope and a list of brokers to add or
 * to remove, it proposes new replica lists. Pure computation, no I/O, so it
 * is unit tested without a broker (tests/unit/cli/test_reassign_plan.c).
 *
 * Rules the proposal follows (docs/cli.md "cluster reassign --plan"):
 *  - the replication factor of every partition is kept, and no partition
 *    ever has two replicas on one broker;
 *  - --add-broker: replicas move from the most to the least loaded live
 *    broker until every live broker holds, per topic, within one of the
 *    topic's mean, then overall within one of the mean (never undoing the
 *    per-topic balance); then replica lists are reordered (no data moves)
 *    so the preferred leaders (first replicas) are spread the same way,
 *    where each partition's replicas allow it;
 *  - --remove-broker: only the replicas on the removed brokers move, each
 *    to the live broker that keeps the partition's racks apart, then holds
 *    the fewest replicas of the topic, then the fewest overall, then has the
 *    lowest id, in the same position of the list; the changed partitions'
 *    preferred leaders are then spread as above;
 *  - rack awareness, when every live broker has a rack: a move never lowers
 *    the number of distinct racks among a partition's replicas, and a
 *    replacement picks a rack the partition lacks when one is left;
 *  - replicas on brokers that are not live (and not removed) stay put and
 *    count for nothing.
 *
 * Ownership: the caller owns the input arrays and strings; rp_plan() fills
 * each partition's `next` array (RP_MAX_RF entries, inside the struct).
 */
#ifndef GREGOR_CLI_REASSIGN_PLAN_H
#define GREGOR_CLI_REASSIGN_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest replication factor planned (larger lists are refused). */
#define RP_MAX_RF 16

struct rp_broker {
    int32_t id;
    const char *rack; /* NULL or "" when the broker has none */
};

struct rp_partition {
    const char *topic;
    int32_t partition;
    int nreplicas;               /* 1..RP_MAX_RF */
    int32_t replicas[RP_MAX_RF]; /* current, in order (first = preferred leader) */
    int64_t size_bytes;          /* the partition's size, -1 when unknown */
    int32_t next[RP_MAX_RF];     /* set by rp_plan(): the proposed list */
};

struct rp_input {
    const struct rp_broker *brokers; /* the live brokers */
    int nbrokers;
    struct rp_partition *parts; /* the partitions in scope */
    int nparts;
    const int32_t *add; /* brokers being added (may already hold replicas) */
    int nadd;
    const int32_t *remove; /* brokers being decommissioned */
    int nremove;
};

/* Per-broker totals before and after, for the summary. */
struct rp_broker_stat {
    int32_t id;
    bool live; /* false: named only by a replica list */
    int replicas_before, replicas_after;
    int leaders_before, leaders_after; /* first replicas */
};

struct rp_result {
    int changed;                  /* partitions whose list differs (order included) */
    int moved;                    /* replicas placed on a broker that did not hold them */
    int64_t move_bytes;           /* sum of size_bytes over moved replicas; -1 if any unknown */
    bool rack_aware;              /* every live broker has a rack */
    struct rp_broker_stat *stats; /* new array, sorted by id; free() it */
    int nstats;
};

/*
 * Plans the reassignment. Returns 0 with every parts[i].next set (equal to
 * replicas when the partition does not change) and *res filled, or -1 with a
 * one-line reason in err (nothing to free): neither or both of add/remove
 * given, a named broker that is not live, a replica list longer than
 * RP_MAX_RF or naming a broker twice, removals leaving fewer live brokers
 * than some partition's replication factor, or out of memory.
 */
int rp_plan(const struct rp_input *in, struct rp_result *res, char *err, size_t errlen);

/* True when p's proposed list differs from its current one (order too). */
bool rp_changed(const struct rp_partition *p);

#endif
