/*
 * broker/core/group_runtime.h — the group coordinator at run time: the pure
 * core of broker/group/ (group.h) driven by one thread, the `group` worker,
 * with the groups of every `__consumer_offsets` partition this broker leads.
 *
 * Placement: a group belongs to partition coord_partition_for(group id) of
 * `__consumer_offsets`; its coordinator is that partition's leader. When this
 * broker becomes the leader (the replica manager calls
 * group_runtime_partition_changed(), and every request checks again) the
 * partition is replayed from its log in chunks (group_load_record()), during
 * which its groups answer COORDINATOR_LOAD_IN_PROGRESS; when it stops
 * leading, the groups are unloaded (parked requests answered
 * NOT_COORDINATOR) and its requests answered NOT_COORDINATOR.
 *
 * Writes: the core's records (offset commits, group metadata, tombstones)
 * are appended to the partition as one uncompressed batch each (a
 * TxnOffsetCommit's as a transactional batch of its producer), with
 * acks=all semantics: group_runtime_append() reports once the high
 * watermark passed the batch, or the append failed, or
 * offsets.commit.timeout.ms passed (REQUEST_TIMED_OUT).
 *
 * Timers: the core's deadlines (group_next_deadline()), append timeouts and
 * the offsets.retention.check.interval.ms expiry pass share one event timer
 * on the worker, re-armed after every job.
 *
 * Threads: everything here runs on the group worker except
 * group_runtime_new/start/stop/free (main thread), group_runtime_call() and
 * group_runtime_partition_changed() (any thread). Functions documented
 * "group worker only" assert it. Clock: wall-clock milliseconds (commit
 * timestamps are stored in records).
 */
#ifndef GREGOR_BROKER_CORE_GROUP_RUNTIME_H
#define GREGOR_BROKER_CORE_GROUP_RUNTIME_H

#include "broker/group/group.h"
#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct broker;
struct group_runtime;

/* The per-request context a handler passes to group_join()/group_sync():
 * the runtime's join_cb/sync_cb call the matching function of the
 * group_waiter the ctx points to (a handler embeds one in its request
 * state). Both run on the group worker. */
struct group_waiter {
    void (*join)(struct group_waiter *w, const struct group_join_result *res);
    void (*sync)(struct group_waiter *w, const struct group_sync_result *res);
};

/* Returns new: the runtime of broker b (its config, topics, metadata);
 * NULL on allocation failure. Main thread, before the network starts. */
struct group_runtime *group_runtime_new(struct broker *b);
/* Starts the group worker. False on failure. */
bool group_runtime_start(struct group_runtime *gr);
/* Unloads every partition (parked requests are answered NOT_COORDINATOR,
 * appends in flight fail) and stops the worker. Call while the network
 * workers still run, so the answers reach their connections. NULL ok. */
void group_runtime_stop(struct group_runtime *gr);
void group_runtime_free(struct group_runtime *gr);

/* Partition p of `__consumer_offsets` may have changed leader: load or unload
 * it now rather than at its next request. Any thread. */
void group_runtime_partition_changed(struct group_runtime *gr, int32_t p);

/* The topics were deleted from the cluster (the replica manager saw them
 * leave the metadata): the loaded partitions, and the loading ones once
 * loaded, remove every group's offsets of them and append the tombstones
 * (group_remove_topics()). Copies names. Any thread. */
void group_runtime_topics_deleted(struct group_runtime *gr, const char *const *names, size_t n);

/* Runs fn(gr, arg) on the group worker (then re-arms the timers). False when
 * the job could not be posted (out of memory, stopping): fn will not run. Any
 * thread. */
bool group_runtime_call(struct group_runtime *gr, void (*fn)(struct group_runtime *gr, void *arg),
                        void *arg);

/* The loaded coordinator of the group id p[0..len), or NULL with *err:
 * COORDINATOR_NOT_AVAILABLE (no `__consumer_offsets` yet), NOT_COORDINATOR
 * (another broker leads its partition), COORDINATOR_LOAD_IN_PROGRESS (being
 * loaded; a load is started if this broker just became the leader). Group
 * worker only. */
struct group_coord *group_runtime_route(struct group_runtime *gr, const char *p, size_t len,
                                        kerr_t *err);
/* Whether gc is still a loaded coordinator (a done callback checks before
 * using a gc it held across an append). Group worker only. */
bool group_runtime_current(struct group_runtime *gr, const struct group_coord *gc);
/* Calls each(gc, arg) for every loaded coordinator; returns true if some
 * partition is still loading (ListGroups answers COORDINATOR_LOAD_IN_PROGRESS).
 * Group worker only. */
bool group_runtime_foreach(struct group_runtime *gr,
                           void (*each)(struct group_coord *gc, void *arg), void *arg);

/* Appends recs (taken: destroyed by the runtime) to gc's partition with
 * acks=all and calls done(gr, err, arg) on the group worker once they are
 * replicated (KERR_NONE), the append failed (the log's error: pass it to
 * group_commit_apply() / group_append_error()), the timeout passed
 * (KERR_REQUEST_TIMED_OUT) or the partition was unloaded
 * (KERR_NOT_LEADER_OR_FOLLOWER); an empty list gives KERR_NONE. done runs
 * from a later job, never inside this call (so a core callback may append),
 * except when memory runs out. Group worker only. */
void group_runtime_append(struct group_runtime *gr, struct group_coord *gc,
                          struct group_records *recs,
                          void (*done)(struct group_runtime *gr, kerr_t err, void *arg), void *arg);

/* The completion of group_runtime_append_at(): as group_runtime_append()'s
 * done, with the batch's base offset when err is KERR_NONE (-1 otherwise). */
typedef void group_append_done_at(struct group_runtime *gr, kerr_t err, int64_t base_offset,
                                  void *arg);

/* group_runtime_append() reporting where the batch went. With producer_id >=
 * 0 the batch is a transactional one of that producer and epoch (base
 * sequence 0: TxnOffsetCommit, as Kafka writes it), checked against the
 * partition's producer state for an older epoch only
 * (INVALID_PRODUCER_EPOCH); -1: a plain batch. Group worker only. */
void group_runtime_append_at(struct group_runtime *gr, struct group_coord *gc,
                             struct group_records *recs, int64_t producer_id,
                             int16_t producer_epoch, group_append_done_at *done, void *arg);

/* A COMMIT or ABORT marker of producer_id at offset of partition p of
 * `__consumer_offsets` was written by this broker as leader at leader_epoch
 * and is replicated (WriteTxnMarkers, Kafka's scheduleHandleTxnCompletion):
 * the producer's pending offsets in that partition's groups are committed
 * or dropped (group_txn_complete()); a partition loading at that epoch does
 * it once loaded; one not loaded at that epoch reads the marker from the
 * log when it loads. Any thread (posts to the group worker). */
void group_runtime_txn_marker(struct group_runtime *gr, int32_t p, int32_t leader_epoch,
                              int64_t producer_id, bool commit, int64_t offset);

/* Wall-clock now in ms, the clock of every group_* call. */
int64_t group_runtime_now(void);
/* The core's configuration (from the broker's). */
const struct group_config *group_runtime_config(const struct group_runtime *gr);
/* The number of partitions of `__consumer_offsets` this broker knows (0: not
 * created yet). Any thread. */
int32_t group_runtime_partitions(struct group_runtime *gr);

#endif
