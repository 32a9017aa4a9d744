/*
 * controller/assign.h — replica placement for topic creation and
 * CreatePartitions (docs/architecture.md §4): Kafka's round-robin placement with a
 * shifted follower placement, rack-aware when every broker declares a rack.
 * Pure functions: no I/O, no state, any thread.
 *
 * The broker list is first put in a fixed order (the "arranged list"):
 *  - no racks: brokers sorted by id;
 *  - racks: racks sorted by name (strcmp), each rack's brokers sorted by id,
 *    then interleaved: the first broker of each rack in rack order, then the
 *    second of each rack, and so on (a rack that runs out is skipped).
 * With n brokers in that list and R racks (R = 1 without racks):
 *  - the leader (first replica) of partition p is list[(start_index + p) % n];
 *  - the follower search for p walks the positions
 *      (leader + 1 + (s_p * R + k) % (n - 1)) % n,  k = 0, 1, 2, ...
 *    where s_p = shift + p / n and k keeps counting across the followers of
 *    one partition; a position is taken unless its broker already has a
 *    replica of p, or its rack already has one while some rack has none.
 *    So the first min(rf, R) replicas of a partition are on distinct racks.
 *    Without racks no position is ever skipped and follower j is simply at
 *    (leader + 1 + (s_p + j) % (n - 1)) % n.
 *
 * This is Kafka's AdminUtils.assignReplicasToBrokers (rack-unaware and
 * rack-aware variants). One deliberate difference: Kafka starts its shift
 * counter afresh at startPartitionId, we use s_p = shift + p / n for the
 * absolute partition index p. Both agree for first_part = 0 (topic creation);
 * for first_part > 0, ours gives exactly the rows a single call from
 * partition 0 would have given, so CreatePartitions continues the pattern
 * when called with the original start_index and shift.
 */
#ifndef GREGOR_CONTROLLER_ASSIGN_H
#define GREGOR_CONTROLLER_ASSIGN_H

#include <stdint.h>

#include "common/err.h"

/* One live broker as the placement sees it. */
struct assign_broker {
    int32_t id;       /* broker.id; unique in the list */
    const char *rack; /* broker.rack; NULL or "" = no rack; borrowed */
};

/*
 * Places rf replicas for each of the n_parts partitions first_part ..
 * first_part + n_parts - 1 over brokers[0..n) (any order; borrowed, not
 * modified). Row i of out (out[i * rf + r], r = 0..rf-1, i = 0..n_parts-1)
 * receives the broker ids of partition first_part + i; r = 0 is the
 * preferred leader. out must hold n_parts * rf entries.
 *
 * start_index and shift are the random starting points of Kafka's placement
 * (see the top of this file); a negative value means "pick one with
 * random() % n"; values >= n are taken modulo n (shift modulo n - 1).
 *
 * Returns KERR_NONE; KERR_INVALID_PARTITIONS if n_parts < 1, first_part < 0
 * or the last partition index would exceed INT32_MAX;
 * KERR_INVALID_REPLICATION_FACTOR if rf < 1 or rf > n (so also for n < 1);
 * KERR_INVALID_REPLICA_ASSIGNMENT if some but not all brokers have a rack,
 * or an id appears twice; KERR__NOMEM. On error out is left untouched.
 */
kerr_t assign_replicas(const struct assign_broker *brokers, int n, int32_t n_parts, int16_t rf,
                       int32_t first_part, int start_index, int shift, int32_t *out);

/*
 * Returns the position of broker id in the arranged list that
 * assign_replicas() uses for brokers[0..n) (see above), or -1 if id is not
 * there or the list is invalid (mixed racks, duplicate ids, n < 1, no
 * memory). For CreatePartitions with an unchanged broker set, passing the
 * position of partition 0's leader as start_index continues the leader
 * round-robin exactly.
 */
int assign_index_of(const struct assign_broker *brokers, int n, int32_t id);

#endif
