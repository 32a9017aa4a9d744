/*
 * controller/election.h — partition leader election rules (docs/architecture.md §4),
 * as pure functions the controller applies to its cached state.
 */
#ifndef GREGOR_CONTROLLER_ELECTION_H
#define GREGOR_CONTROLLER_ELECTION_H

#include "controller/zk/zk_store.h"

#include <stdbool.h>
#include <stdint.h>

/* Is id among live[0..n_live)? */
bool election_is_live(const int32_t *live, int n_live, int32_t id);

/* Decides the state of a partition with replicas[0..rf) (assignment order,
 * first = preferred) whose current state is cur (cur->version ==
 * ZK_VERSION_NEW: no state yet), given the live brokers:
 *  - new partition: leader = first live replica, ISR = the live replicas
 *    (with no replica alive: leader -1 and ISR = all replicas, so the first
 *    one to return can be elected cleanly);
 *  - leader alive and in the ISR: unchanged (returns false);
 *  - otherwise the first live replica that is in the ISR (assignment
 *    order) leads, the ISR loses the dead replicas; with none, and
 *    unclean: the first live replica leads with ISR = {it}; else the
 *    partition goes offline (leader -1) keeping its ISR.
 * A new leader bumps leader_epoch. Returns true when *out differs from
 * cur and must be written (out->version = cur->version). */
bool election_decide(const int32_t *replicas, int rf, const struct zk_partition_state *cur,
                     const int32_t *live, int n_live, bool unclean, struct zk_partition_state *out);

/* What the controller applies on every broker change (Kafka's ZooKeeper
 * mode: OfflinePartitionLeaderElection plus OfflineReplica handling):
 *  - new partition: as election_decide(), but the leader is the first
 *    *eligible* live replica (live = registered; eligible = live and not
 *    shutting down), falling back to the first live one;
 *  - leader live and in the ISR: it stays; dead replicas leave the ISR,
 *    and, as Kafka does when its controller removes a replica from the ISR,
 *    the leader epoch is bumped for that ISR-only change;
 *  - otherwise the first eligible replica in the ISR (assignment order)
 *    leads and the ISR keeps its live members; with none: unclean -> the
 *    first eligible (else live) replica leads with ISR = {it}; else the
 *    partition goes offline (leader -1) with its ISR unchanged, so any of
 *    those replicas can lead cleanly when it returns.
 * Every leader or ISR change bumps leader_epoch. Returns true when *out
 * differs from cur (out->version = cur->version). */
bool election_settle(const int32_t *replicas, int rf, const struct zk_partition_state *cur,
                     const int32_t *live, int n_live, const int32_t *eligible, int n_eligible,
                     bool unclean, struct zk_partition_state *out);

/* Controlled shutdown of broker `leaving`: if it leads, the next live ISR
 * member (assignment order) other than it takes over, and it leaves the
 * ISR when that keeps at least one member — unless it leads and nobody can
 * take over, in which case nothing changes. Returns true when *out differs
 * from cur. */
bool election_move_away(const int32_t *replicas, int rf, const struct zk_partition_state *cur,
                        int32_t leaving, const int32_t *live, int n_live,
                        struct zk_partition_state *out);

/* election_move_away() with Kafka's epoch rule: any change (new leader or
 * `leaving` dropped from the ISR) bumps the leader epoch once. */
bool election_shutdown(const int32_t *replicas, int rf, const struct zk_partition_state *cur,
                       int32_t leaving, const int32_t *live, int n_live,
                       struct zk_partition_state *out);

/* Preferred replica election: replicas[0] leads if it is live and in the
 * ISR and does not lead already. Returns true when *out differs. */
bool election_preferred(const int32_t *replicas, int rf, const struct zk_partition_state *cur,
                        const int32_t *live, int n_live, struct zk_partition_state *out);

/* Unclean election on request (ElectLeaders election_type 1, KIP-460),
 * whatever unclean.leader.election.enable says: a partition whose leader
 * is live (registered) or that has no state yet (cur->version ==
 * ZK_VERSION_NEW) is left alone. Otherwise the leader is the first ISR
 * member (assignment order) that is eligible (live, not shutting down),
 * else the first live one, and the ISR keeps its live members (clean);
 * with no live ISR member, the first eligible, else live, replica leads
 * with ISR = {it} (unclean). The leader epoch is bumped. With no live
 * replica at all nothing changes. Returns true when *out differs from cur
 * (out->version = cur->version). */
bool election_unclean_request(const int32_t *replicas, int rf, const struct zk_partition_state *cur,
                              const int32_t *live, int n_live, const int32_t *eligible,
                              int n_eligible, struct zk_partition_state *out);

#endif
