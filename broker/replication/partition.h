/*
 * broker/replication/partition.h — one partition replica on this broker:
 * its log, high watermark, leadership and the fetches waiting for data.
 *
 * Lock-guarded: every field below `lock` is read and written with
 * part->lock held (short critical sections: validation happens before),
 * except last_flush_ms, which only the background worker uses. Other threads
 * read the topic settings through partition_config(), a copy taken under
 * the lock. With GREGOR_LOCK_CHECKS (on by default, so in every test
 * build) the lock records its owning thread and every *_locked helper
 * asserts that the caller holds it (partition_assert_locked()).
 * Lifetime: created and freed by the topic registry (broker/replication/topics.c); a
 * partition is reachable only through a referenced struct topic.
 */
#ifndef GREGOR_BROKER_REPLICATION_PARTITION_H
#define GREGOR_BROKER_REPLICATION_PARTITION_H

#include "broker/config/topic_config.h"
#include "common/err.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct plog;
struct file_span;
struct cleaner_pool;
struct cleaner_entry;
struct aborted_txn;

#define PARTITION_MAX_REPLICAS 16

/* A parked operation to wake when the partition's log or HW moves. The
 * owner must call partition_unwatch() before freeing it. wake() runs on the
 * appending thread with part->lock held: it must only post or activate. */
struct pwaiter {
    void (*wake)(struct pwaiter *w);
    struct pwaiter *next; /* guarded by the partition lock */
    void *owner;
    const char *what; /* "fetch", "produce": for diagnostics */
};

/* A follower as its leader sees it (docs/architecture.md §6). Times are monotonic ms. */
struct replica_progress {
    int32_t id;
    int64_t leo;          /* from its last fetch offset; -1 unknown */
    int64_t caught_up_ms; /* last time it had everything the leader had */
    int64_t last_fetch_ms;
    int64_t last_fetch_leader_leo;
};

struct partition {
    const char *topic; /* borrowed from the owning struct topic */
    char *dir;         /* owned: the partition directory */
    int32_t index;
    _Atomic uintptr_t lock_owner; /* GREGOR_LOCK_CHECKS: the holder's thread tag, 0 = free */
    pthread_mutex_t lock;
    struct plog *log;       /* owned; NULL when not a local replica; set and cleared under
                               lock (a reassignment, on the admin worker) */
    struct topic_config tc; /* effective topic settings; others: partition_config() */
    int64_t hw;             /* high watermark */
    int32_t leader;         /* broker id of the leader, -1 = none */
    int32_t leader_epoch;
    int32_t replicas[PARTITION_MAX_REPLICAS];
    int n_replicas;
    int32_t isr[PARTITION_MAX_REPLICAS];
    int n_isr;
    /* replication: set by partition_apply_state() (LeaderAndIsr) */
    bool has_state;          /* a LeaderAndIsr state was applied */
    int32_t self_id;         /* this broker (valid once has_state) */
    bool is_leader;          /* leader == self_id */
    int32_t partition_epoch; /* state znode version the ISR is based on */
    struct replica_progress followers[PARTITION_MAX_REPLICAS]; /* leader only */
    int n_followers;
    int64_t leader_hw; /* follower: the leader's HW in its last fetch answer; -1 unknown */
    bool isr_inflight; /* an AlterIsr proposal awaits its answer */
    int32_t pending_isr[PARTITION_MAX_REPLICAS]; /* its proposed ISR */
    int n_pending_isr;
    bool deleted;              /* topic being deleted: refuse everything */
    bool storage_error_logged; /* a disk error was logged; cleared by a good append */
    int64_t last_flush_ms;     /* monotonic; background worker only (not locked) */
    bool roll_flush_pending;   /* a segment rolled: fsync it (background worker) */
    struct pwaiter *waiters;
    /* This broker's replication throttles for the partition, from the
     * topic's leader/follower.replication.throttled.replicas (topics.c);
     * relaxed atomics, any thread. */
    _Atomic bool leader_throttled, follower_throttled;
    /* The log cleaner's registration of a compacted log: background worker
     * (partition_cleaner_sync) and partition_free() only, not locked. */
    struct cleaner_pool *cleaner_pool;
    struct cleaner_entry *cleaner;
};

/* Creates a partition; opens (or creates) its log under dir when
 * open_log, scanning it from recovery_point (plog_config: -1 after a clean
 * shutdown, 0 = scan everything). Returns new, NULL with err on failure. */
struct partition *partition_new(const char *topic, int32_t index, const char *dir, bool open_log,
                                const struct topic_config *tc, int64_t recovery_point, char *err,
                                size_t errlen);
/* Closes the log (flushing it) and frees; remove_files deletes part->dir
 * (and the log's cleaner checkpoint). Unregisters the log from the cleaner
 * first (waiting for a pass on it to give up). NULL ok. */
void partition_free(struct partition *part, bool remove_files);
/* Whether this broker holds a replica (a log) of the partition now; threads
 * other than the admin worker ask this way, since reassignments open and
 * drop logs while the broker runs (the admin worker, which does, may read
 * part->log directly). Takes the partition lock. */
bool partition_has_log(struct partition *part);
/* Opens (creating it) the local log of a partition this broker did not
 * hold: it became a replica (a reassignment). No-op when it has a log.
 * KERR_KAFKA_STORAGE_ERROR with err when the log cannot be opened. */
kerr_t partition_make_local(struct partition *part, char *err, size_t errlen);
/* Drops the local replica of a partition this broker no longer holds (a
 * reassignment moved it away): closes its log and deletes its directory;
 * waiters wake and find no log. A compacted log is left as it is (the
 * cleaner may be working on it; it goes with the topic): false then. */
bool partition_drop_local(struct partition *part);
/* Registers the local log with the log cleaner pool while the topic is
 * compacted (cleanup.policy contains compact), updates its compaction
 * settings, or unregisters it (no longer compacted, deleted, pool NULL).
 * The cleaner cleans up to the high watermark. Background worker; locks
 * part->lock (not held by the caller). */
void partition_cleaner_sync(struct partition *part, struct cleaner_pool *pool,
                            const char *data_dir);

/* Appends validated batches as leader. Modifies bytes in place (offsets,
 * leader epoch). NOT_LEADER_OR_FOLLOWER unless this broker leads; with
 * acks_all, NOT_ENOUGH_REPLICAS when the ISR is smaller than
 * min.insync.replicas (nothing appended). *last_offset: the last offset
 * written; *leader_epoch: the epoch it was written under (for
 * partition_ack_status). A batch with a producer id is checked against the
 * producer's state (plog.h): KERR_DUPLICATE_SEQUENCE_NUMBER (nothing
 * written) fills the outputs with the original batch's offsets, to be
 * answered as a success; INVALID_PRODUCER_EPOCH and
 * OUT_OF_ORDER_SEQUENCE_NUMBER refuse it. Wakes waiters. Locks part->lock. */
kerr_t partition_append(struct partition *part, uint8_t *batches, size_t len, int64_t now_ms,
                        bool acks_all, int64_t *base_offset, int64_t *last_offset,
                        int32_t *leader_epoch, int64_t *log_start);
/* partition_append with acks=all for a coordinator's own batches
 * (plog_append_coordinator: a producer id's epoch is checked, not its
 * sequence), e.g. the group coordinator's transactional offset commits. */
kerr_t partition_append_coordinator(struct partition *part, uint8_t *batches, size_t len,
                                    int64_t now_ms, int64_t *base_offset, int64_t *last_offset,
                                    int32_t *leader_epoch, int64_t *log_start);
/* acks=all: KERR_NONE once the HW passed last_offset (then
 * NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR is below min.insync.replicas),
 * KERR__AGAIN while it has not, NOT_LEADER_OR_FOLLOWER when leadership
 * moved on from leader_epoch (the record may or may not survive). */
kerr_t partition_ack_status(struct partition *part, int64_t last_offset, int32_t leader_epoch);

/* What a fetch of one partition gets back. */
struct partition_read {
    int64_t hw, lso, log_start, leo;
    int fd; /* -1 when no bytes */
    int64_t pos, len;
    bool throttled; /* records left out: f->throttle_out_of_sync applied */
    /* read_committed: the aborted transactions overlapping [offset, lso)
     * (owned: free() it; NULL when none) */
    struct aborted_txn *aborted;
    int n_aborted;
};
/* One partition of a Fetch. */
struct partition_fetch {
    int32_t replica_id;           /* -1 consumer, else the follower's broker id */
    int32_t current_leader_epoch; /* -1 = not checked */
    int64_t offset;
    int64_t max_bytes;
    bool min_one;   /* as plog_read */
    int64_t now_ms; /* monotonic */
    /* Leader replication throttle: answer no records (the follower's
     * position still counts) when replica_id is not in the ISR. */
    bool throttle_out_of_sync;
    bool read_committed; /* consumer isolation_level 1: up to the LSO, aborted list */
};
/* Reads for a consumer (up to the HW, or with f->read_committed up to the
 * LSO with the aborted transactions of the range) or a follower (up to the
 * LEO); out->lso is the LSO (min(first offset of an open transaction, HW)).
 * Only
 * the leader serves (NOT_LEADER_OR_FOLLOWER), a current_leader_epoch
 * other than ours gives FENCED_LEADER_EPOCH (older) or
 * UNKNOWN_LEADER_EPOCH (newer). A follower's fetch offset is its LEO: it
 * updates its progress and may move the HW (waking waiters). With
 * f->throttle_out_of_sync, a follower outside the ISR (and any pending ISR
 * proposal) gets no records and out->throttled is set. Locks part->lock. */
kerr_t partition_read(struct partition *part, const struct partition_fetch *f,
                      struct partition_read *out);

/* Reads this broker's own log as its leader at leader_epoch, up to the LEO
 * (not only the HW): what a coordinator replays when it takes over a
 * partition of its internal topic. NOT_LEADER_OR_FOLLOWER when this broker
 * does not lead it at that epoch any more. out as partition_read(); the fd
 * (if any) is the caller's to close. Locks part->lock. */
kerr_t partition_read_local(struct partition *part, int32_t leader_epoch, int64_t offset,
                            int64_t max_bytes, struct partition_read *out);
/* The leader's broker id (-1: none) and, in *leader_epoch, its epoch: one
 * consistent pair, read under part->lock. Any thread. */
int32_t partition_leader(struct partition *part, int32_t *leader_epoch);

struct plog_marker;
/* ListOffsets with isolation_level 1: the LSO as latest. Leader only
 * (NOT_LEADER_OR_FOLLOWER). Locks part->lock. */
kerr_t partition_last_stable_offset(struct partition *part, int64_t *offset);

/* Appends a transaction marker as leader (plog_append_marker: its checks
 * and errors), like partition_append (acks=all: min.insync.replicas is
 * checked first; the caller waits with partition_ack_status on
 * *offset / *leader_epoch). Locks part->lock. */
kerr_t partition_append_marker(struct partition *part, const struct plog_marker *m, int64_t now_ms,
                               int64_t *offset, int32_t *leader_epoch);

/* ListOffsets: -1 latest (HW), -2 earliest, else by timestamp. */
kerr_t partition_list_offset(struct partition *part, int64_t ts, int64_t *offset,
                             int64_t *found_ts);

/* Whether this broker's replication of the partition is throttled as its
 * leader / as a follower. Any thread. */
static inline bool partition_leader_throttled(struct partition *part)
{
    return atomic_load_explicit(&part->leader_throttled, memory_order_relaxed);
}
static inline bool partition_follower_throttled(struct partition *part)
{
    return atomic_load_explicit(&part->follower_throttled, memory_order_relaxed);
}

/* Applies new effective topic settings (AlterConfigs). Locks part->lock. */
void partition_set_config(struct partition *part, const struct topic_config *tc);
/* Copies the effective topic settings into *tc (a consistent snapshot,
 * taken under part->lock). Any thread. */
void partition_config(struct partition *part, struct topic_config *tc);
/* Deletes whole segments past retention.ms/retention.bytes (never at or
 * above the HW); *deleted = segments removed. Locks part->lock. */
kerr_t partition_apply_retention(struct partition *part, int64_t now_ms, int *deleted);
/* Drops the state of producers whose last batch is older than
 * now_ms - expiration_ms (producer.id.expiration.ms); returns how many.
 * Background worker; locks part->lock. */
int partition_expire_producers(struct partition *part, int64_t now_ms, int64_t expiration_ms);
/* DeleteRecords: moves the log start offset to offset (-1 = the HW);
 * OFFSET_OUT_OF_RANGE above the HW. *low_watermark = the new log start. */
kerr_t partition_delete_records(struct partition *part, int64_t offset, int64_t *low_watermark);
/* fsyncs the log (flush policy). Locks part->lock. */
kerr_t partition_flush(struct partition *part);
/* True (once) when a segment rolled since the last call: the background
 * worker then fsyncs the log, so closed segments reach the disk without
 * an fsync on the produce path. Locks part->lock. */
bool partition_take_roll_flush(struct partition *part);
/* Reads the values the checkpoint files keep; false if no local log. */
bool partition_checkpoint(struct partition *part, int64_t *recovery_point, int64_t *log_start,
                          int64_t *hw);
/* What DescribeLogDirs reports of a local replica: the bytes of its
 * segment files (the log's running total, no stat) and its offset lag: on
 * a follower, the leader's high watermark as its last fetch answer gave it
 * minus this log's end offset (never below 0; 0 before the first answer);
 * 0 on the leader. false if no local log (or the topic is being deleted).
 * Locks part->lock. */
bool partition_log_dir_info(struct partition *part, int64_t *size_bytes, int64_t *offset_lag);
/* DescribeProducers: copies the idempotent producers' state of this
 * partition into *out (new, free() it; *n entries). NOT_LEADER_OR_FOLLOWER
 * unless this broker leads it, UNKNOWN_TOPIC_OR_PARTITION without a log,
 * KERR__NOMEM. Locks part->lock. */
struct pstate_entry;
kerr_t partition_producers(struct partition *part, struct pstate_entry **out, size_t *n);
/* Restores a checkpointed log start offset at start-up. */
void partition_restore_log_start(struct partition *part, int64_t log_start);
/* Restores a checkpointed high watermark at start-up (capped by the LEO). */
void partition_restore_hw(struct partition *part, int64_t hw);

/* --- replication (docs/architecture.md §6) --------------------------------------- */

/* The controller's decision for this partition (LeaderAndIsr). */
struct partition_state {
    int32_t leader; /* -1 = offline */
    int32_t leader_epoch;
    int32_t partition_epoch; /* version of the state znode (AlterIsr) */
    int n_isr;
    const int32_t *isr;
    int n_replicas;
    const int32_t *replicas;
};

/* Applies a LeaderAndIsr state. Refuses (KERR_STALE_CONTROLLER_EPOCH is
 * not used here: FENCED_LEADER_EPOCH) a leader epoch older than the
 * current one; the same epoch only refreshes ISR/replicas. Becoming leader
 * starts a new epoch in the log's epoch cache at the LEO and forgets the
 * followers' progress; becoming follower drops the follower tracking.
 * *role_changed: the leader or epoch changed (a follower must restart its
 * fetcher, with truncation). Locks part->lock. */
kerr_t partition_apply_state(struct partition *part, int32_t self_id,
                             const struct partition_state *st, int64_t now_ms, bool *role_changed);

/* What a follower's fetcher needs (under the lock): false when this
 * replica is not a follower of leader_epoch any more. */
bool partition_follower_position(struct partition *part, int32_t leader_epoch, int64_t *leo,
                                 int64_t *hw);
/* Follower append of batches fetched from the leader under leader_epoch
 * (borrowed, not modified); then HW = min(leader_hw, LEO). Returns
 * KERR_FENCED_LEADER_EPOCH when the partition moved to another epoch or
 * role meanwhile (nothing appended). Wakes waiters. Locks part->lock. */
kerr_t partition_append_replica(struct partition *part, int32_t leader_epoch,
                                const uint8_t *batches, size_t len, int64_t leader_hw,
                                int64_t leader_log_start, int64_t now_ms);
/* Follower truncation (after OffsetForLeaderEpoch, or an out-of-range
 * fetch): removes every record at or above offset; fully: restarts the
 * log empty at offset. Same epoch check as above. Never moves the HW up. */
kerr_t partition_truncate(struct partition *part, int32_t leader_epoch, int64_t offset, bool fully);
/* ISR maintenance by the leader. When the ISR should change (a follower
 * lagging more than lag_ms leaves; a caught-up replica joins), and no
 * proposal is in flight, fills the proposal (new_isr[PARTITION_MAX_REPLICAS]),
 * marks it in flight and returns true. While in flight the HW counts the
 * union of the old and the proposed ISR. Locks part->lock. */
bool partition_isr_proposal(struct partition *part, int64_t now_ms, int64_t lag_ms,
                            int32_t *new_isr, int *n_new_isr, int32_t *leader_epoch,
                            int32_t *partition_epoch);
/* The controller's answer to a proposal: err == KERR_NONE applies isr and
 * partition_epoch if the leader epoch still matches; any answer ends the
 * in-flight state. Returns the ISR's growth (new size - old size; 0 when
 * nothing was applied). */
int partition_isr_result(struct partition *part, kerr_t err, int32_t leader_epoch,
                         const int32_t *isr, int n_isr, int32_t partition_epoch);

/* A replica's health as /metrics reports it (Kafka's ReplicaManager gauges). */
struct partition_health {
    bool hosted;  /* this broker holds a log of it */
    bool leader;  /* ... and leads it */
    bool offline; /* assigned here but without a log, or its log hit a disk error */
    int n_replicas, n_isr, min_isr;
};
/* One consistent snapshot under part->lock. Any thread. */
void partition_health(struct partition *part, struct partition_health *h);
/* The ISR size and whether this broker leads, under part->lock (the
 * replica manager compares them around partition_apply_state()). */
int partition_isr_view(struct partition *part, bool *is_leader);

/* The newest epoch in the local log's epoch cache (-1: none). */
int32_t partition_latest_epoch(struct partition *part);
/* OffsetForLeaderEpoch on this replica's log: the largest epoch <= epoch
 * and the end offset of that epoch (the LEO for the newest epoch);
 * -1/-1 when unknown. Checks first, in this order: the partition has a
 * local log (else UNKNOWN_TOPIC_OR_PARTITION); when need_leader, this
 * broker (self_id) leads it (else NOT_LEADER_OR_FOLLOWER); when
 * current_leader_epoch >= 0, it equals the partition's epoch (older:
 * FENCED_LEADER_EPOCH, newer: UNKNOWN_LEADER_EPOCH). Locks part->lock. */
kerr_t partition_end_offset_for_epoch(struct partition *part, int32_t self_id, bool need_leader,
                                      int32_t current_leader_epoch, int32_t epoch,
                                      int32_t *end_epoch, int64_t *end_offset);

/* Aborts (KASSERT) unless the calling thread holds part->lock. A no-op
 * without GREGOR_LOCK_CHECKS. */
#ifdef GREGOR_LOCK_CHECKS
void partition_assert_locked(const struct partition *part);
#else
#define partition_assert_locked(part) ((void)(part))
#endif

void partition_watch(struct partition *part, struct pwaiter *w);
void partition_unwatch(struct partition *part, struct pwaiter *w);
/* Marks deleted and wakes all waiters (they see the error on re-read). */
void partition_mark_deleted(struct partition *part);

#endif
