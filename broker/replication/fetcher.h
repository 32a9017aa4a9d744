/*
 * broker/replication/fetcher.h — replica fetchers (docs/architecture.md §6): a
 * follower pulls its partitions from their leaders with ordinary Fetch
 * requests carrying replica_id = this broker's id, one connection per
 * source broker, on num.replica.fetchers threads of their own.
 *
 * Per partition the fetcher first aligns the local log with the leader
 * (OffsetForLeaderEpoch v3 with the newest local epoch, then truncation to
 * min(leader's end offset, local LEO)); only when the leader knows no such
 * epoch (-1/-1), or the local epoch cache is empty, does it truncate to the
 * local HW (Kafka's rule for logs without epochs). Then it fetches (Fetch
 * v11) from the local LEO; the leader learns the follower's LEO from the
 * fetch offset, the follower its HW and log start from the answer.
 * An OFFSET_OUT_OF_RANGE below the leader's log start restarts the local
 * log at that start (else: align again). FENCED_LEADER_EPOCH from the
 * leader pauses the partition until fetchers_add() names it again (the
 * controller's next LeaderAndIsr). NOT_LEADER_OR_FOLLOWER,
 * UNKNOWN_LEADER_EPOCH and UNKNOWN_TOPIC_OR_PARTITION are retried after
 * backoff_ms, as Kafka does: the leader may not have applied its own
 * LeaderAndIsr yet. When this replica's own role or epoch changes
 * (partition_* answer FENCED_LEADER_EPOCH) the partition is dropped.
 * Connection failures back off backoff_ms, then reconnect.
 *
 * Threads: fetchers_* may be called from any thread (they post to the
 * fetcher threads' mailboxes, so evthread_use_pthreads() must have been
 * called once in the process, as broker/main.c does). The fetcher holds a
 * topic reference for each partition it fetches.
 */
#ifndef GREGOR_BROKER_REPLICATION_FETCHER_H
#define GREGOR_BROKER_REPLICATION_FETCHER_H

#include "broker/config/dynamic.h"
#include "broker/replication/throttle.h"

#include <stdbool.h>
#include <stdint.h>

struct topic;
struct fetchers;

struct fetcher_config {
    int32_t self_id;            /* broker.id: the Fetch replica_id */
    int n_threads;              /* num.replica.fetchers */
    int32_t max_wait_ms;        /* replica.fetch.wait.max.ms */
    int32_t min_bytes;          /* replica.fetch.min.bytes */
    int32_t max_bytes;          /* replica.fetch.max.bytes (per partition) */
    int32_t response_max_bytes; /* replica.fetch.response.max.bytes */
    int32_t socket_timeout_ms;  /* replica.socket.timeout.ms */
    int32_t backoff_ms;         /* replica.fetch.backoff.ms (1000) */
    /* follower replication throttle: the rate is loaded from
     * dyn->follower_replication_throttled_rate on each use (NULL: none) */
    struct broker_dynamic *dyn; /* borrowed; outlives the fetchers */
    int quota_window_num;       /* replication.quota.window.num (11) */
    int64_t quota_window_ms;    /* replication.quota.window.size.seconds * 1000 */
};

/* Starts the fetcher threads (cfg copied; a field <= 0 takes Kafka's
 * default: 1 thread, 500 ms, 1 byte, 1 MiB, 10 MiB, 30 s, 1 s, 11 samples of 1 s). Returns
 * new, NULL on failure. */
struct fetchers *fetchers_new(const struct fetcher_config *cfg);
/* Stops every fetch, drops the topic references and joins the threads. NULL ok. */
void fetchers_free(struct fetchers *f);

/* Makes partition p of t (takes a new reference of its own) follow leader_id
 * at host:port (a name such as "localhost", or an IPv4/IPv6 literal;
 * resolved on the fetcher thread) under leader_epoch, replacing any earlier
 * fetch of it; truncation runs first. t->parts[p] must have a local log and
 * be a follower of leader_epoch (partition_apply_state() first), else the
 * fetcher drops it at once. Any thread. */
void fetchers_add(struct fetchers *f, struct topic *t, int32_t p, int32_t leader_id,
                  const char *host, int port, int32_t leader_epoch);
/* Stops fetching partition p of topic `name` (no-op if not fetched). Any
 * thread; appends stop at once anyway because the partition refuses
 * appends under an old epoch. */
void fetchers_remove(struct fetchers *f, const char *topic, int32_t p);

/* Counters for /metrics and tests. */
struct fetcher_stats {
    int partitions;       /* partitions being fetched */
    uint64_t fetches;     /* Fetch responses handled */
    uint64_t bytes;       /* record bytes appended */
    uint64_t truncations; /* truncations done */
    uint64_t errors;      /* connection or partition errors */
    /* follower replication throttle (throttle.h): bytes appended for
     * follower-throttled partitions, partitions left out of a Fetch, time
     * over the rate, the rate now */
    struct throttle_stats throttle;
};
void fetchers_get_stats(struct fetchers *f, struct fetcher_stats *out);

#endif
