/*
 * controller/controller.h — the cluster controller (docs/architecture.md §4), the only
 * controller header the broker includes.
 *
 * Every broker runs one; the one that wins the ephemeral /controller znode
 * is active. The active controller loads the cluster state from ZooKeeper,
 * elects partition leaders, and pushes state to the brokers with the
 * control RPCs (LeaderAndIsr, UpdateMetadata, StopReplica) over its
 * channels — also to its own broker, through the same TCP path.
 *
 * Threads: the controller is loop-owned by the event_base in its env; all
 * its work runs there. ZooKeeper watch callbacks only post to that loop.
 * The broker reaches it only through controller_*() calls, which post.
 */
#ifndef GREGOR_CONTROLLER_CONTROLLER_H
#define GREGOR_CONTROLLER_CONTROLLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct zk_store;
struct controller;

/* What the controller needs from its host process. Borrowed for the
 * controller's lifetime. */
struct controller_env {
    struct zk_store *zk;     /* shared store (synchronous calls) */
    int32_t broker_id;       /* this broker */
    struct event_base *base; /* the controller's loop */
    /* Runs fn(arg) on base's thread; any thread may call it. */
    bool (*post)(void *ctx, void (*fn)(void *arg), void *arg);
    void *post_ctx;
    /* True when called on base's thread (gets post_ctx); checked by
     * KASSERTs at the loop-owned entry points. NULL: not checked. */
    bool (*on_loop)(void *ctx);
    const char *listener;              /* inter-broker listener name */
    bool unclean_leader_election;      /* unclean.leader.election.enable */
    bool auto_leader_rebalance;        /* auto.leader.rebalance.enable */
    int64_t leader_imbalance_check_ms; /* leader.imbalance.check.interval.seconds * 1000 */
    int32_t leader_imbalance_pct;      /* leader.imbalance.per.broker.percentage */
};

/* Creates the controller (inactive). Returns new; free with controller_free(). */
struct controller *controller_new(const struct controller_env *env);
/* Starts taking part in elections (posts). Call after the broker registered. */
void controller_start(struct controller *c);
/* Resigns if active, closes its channels and ignores later events (posts;
 * call before stopping the loop). */
void controller_stop(struct controller *c);
/* Frees the memory. Only after the controller's loop has stopped (so no
 * posted job can still run). NULL ok. */
void controller_free(struct controller *c);
/* Tells the controller the ZooKeeper session was replaced (posts). */
void controller_session_renewed(struct controller *c);

/* Called exactly once per controller_handle_request(), on the controller's
 * loop: resp/len is the packed protobuf response message for the request's
 * key (borrowed for the call). */
typedef void (*controller_reply_fn)(void *arg, const uint8_t *resp, size_t len);

/* Hands a request addressed to the controller to it (any thread; copies
 * body and posts). api_key: RPC_ALTER_ISR or RPC_CONTROLLED_SHUTDOWN
 * (controller/rpc.h); body/len the packed request. When this broker is not
 * the active controller (or is stopping) the reply carries NOT_CONTROLLER;
 * an undecodable body gets INVALID_REQUEST. */
void controller_handle_request(struct controller *c, int api_key, const uint8_t *body, size_t len,
                               controller_reply_fn done, void *arg);

/* Leader election on request (ElectLeaders, `gregor cluster elect-leaders`),
 * type CONTROLLER_ELECT_PREFERRED or CONTROLLER_ELECT_UNCLEAN (Kafka's
 * election_type), for each named partition (topics[i], partitions[i];
 * n == 0: every partition):
 *  - preferred: where the preferred replica is alive, not shutting down and
 *    in the ISR but not the leader, leadership moves to it;
 *  - unclean (KIP-460, whatever unclean.leader.election.enable says): where
 *    the leader is not live, the first live ISR member leads, else the
 *    first live replica with ISR = {it} (records may be lost).
 * Any thread (copies and posts). done runs once on the controller's loop
 * with errors[i] (Kafka codes: NONE, ELECTION_NOT_NEEDED,
 * PREFERRED_LEADER_NOT_AVAILABLE (preferred), ELIGIBLE_LEADERS_NOT_AVAILABLE
 * (unclean: no live replica), UNKNOWN_TOPIC_OR_PARTITION, NOT_CONTROLLER,
 * INVALID_REQUEST for another type) for each partition decided, borrowed
 * for the call; for n == 0 the arrays list every partition. When the loop
 * cannot be reached, done gets n == 0 and NULL arrays. */
#define CONTROLLER_ELECT_PREFERRED 0
#define CONTROLLER_ELECT_UNCLEAN 1
typedef void (*controller_elect_fn)(void *arg, int n, const char *const *topics,
                                    const int32_t *partitions, const int16_t *errors);
void controller_elect_leaders(struct controller *c, int8_t type, int n, const char *const *topics,
                              const int32_t *partitions, controller_elect_fn done, void *arg);

/* Partition reassignment (KIP-455; AlterPartitionReassignments, the
 * /admin/reassign_partitions znode, `gregor cluster reassign`). */
#define CONTROLLER_MAX_REPLICAS 16
struct controller_reassign {
    const char *topic;
    int32_t partition;
    int n_replicas;          /* -1: cancel the reassignment in progress */
    const int32_t *replicas; /* the target, preferred first */
};
/* done runs once on the controller's loop with errors[i] (Kafka codes:
 * NONE, UNKNOWN_TOPIC_OR_PARTITION, INVALID_REPLICA_ASSIGNMENT,
 * NO_REASSIGNMENT_IN_PROGRESS, REASSIGNMENT_IN_PROGRESS (a cancel that
 * cannot keep an in-sync leader yet), NOT_CONTROLLER) and messages[i]
 * (NULL or a sentence naming the cause, e.g. the unknown broker), both
 * borrowed for the call; n == 0 when the loop cannot be reached. */
typedef void (*controller_reassign_fn)(void *arg, int n, const int16_t *errors,
                                       const char *const *messages);
/* Starts (or cancels) each reassignment of v[0..n) (copied; any thread). */
void controller_alter_reassignments(struct controller *c, int n,
                                    const struct controller_reassign *v,
                                    controller_reassign_fn done, void *arg);

/* One reassignment in progress. */
struct controller_reassignment {
    const char *topic;
    int32_t partition;
    int n_replicas, n_adding, n_removing;
    int32_t replicas[CONTROLLER_MAX_REPLICAS]; /* the current set: target first */
    int32_t adding[CONTROLLER_MAX_REPLICAS];
    int32_t removing[CONTROLLER_MAX_REPLICAS];
};
/* done runs once on the controller's loop with the reassignments in
 * progress (v borrowed for the call), or err = NOT_CONTROLLER. */
typedef void (*controller_list_reassign_fn)(void *arg, int16_t err, int n,
                                            const struct controller_reassignment *v);
void controller_list_reassignments(struct controller *c, controller_list_reassign_fn done,
                                   void *arg);

/* True while this broker is the active controller (any thread; a hint). */
bool controller_is_active(const struct controller *c);

/* What the controller publishes for /metrics (docs/metrics.md). The gauges
 * are the active controller's view as of its last push to the brokers;
 * they are 0 (active false) on a broker that is not the active controller. */
struct controller_stats {
    bool active;
    int32_t epoch;               /* controller epoch */
    int64_t topics, partitions;  /* in the cluster */
    int64_t offline_partitions;  /* without a leader */
    int64_t preferred_imbalance; /* led by a replica other than the first */
    int64_t reassigning;         /* partitions being reassigned */
    uint64_t unclean_elections;  /* leaders elected from outside the ISR by this
                                    broker's controller since it started */
};
/* Any thread. */
void controller_get_stats(const struct controller *c, struct controller_stats *out);

#endif
