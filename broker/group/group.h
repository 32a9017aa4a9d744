/*
 * broker/group/group.h — the consumer-group coordinator's state, pure: Kafka's (ZooKeeper
 * mode) GroupCoordinator and GroupMetadata rules without sockets, ZooKeeper, threads or clocks.
 *
 * One `struct group_coord` holds the groups of one `__consumer_offsets` partition this broker
 * leads: created when the partition is loaded (records replayed with group_load_record()),
 * freed when leadership is lost (group_coord_free() answers parked requests NOT_COORDINATOR).
 * The caller passes the time (now_ms) into every call, drives timers with group_tick() at
 * group_next_deadline(), and receives deferred answers (a JoinGroup held for the rebalance, a
 * SyncGroup waiting for the leader's assignment) through the callbacks of `struct group_ops`,
 * each tagged with the opaque per-request `ctx` the request came with. Every join and sync
 * request is answered exactly once, through its callback, possibly before group_join() /
 * group_sync() return; group_cancel_ctx() withdraws a parked request whose client is gone.
 *
 * Callbacks run inside group_* calls and must not call back into the same group_coord; they
 * copy what they need (all pointers in results are borrowed for the callback's duration).
 *
 * Files: group.c (registry, members, protocol vote, accessors), group_join.c (JoinGroup and the
 * rebalance timers), group_sync.c (SyncGroup, Heartbeat, LeaveGroup, persistence of the group),
 * group_offsets.c (OffsetCommit/OffsetFetch rules, expiry, deletion), group_txn.c
 * (TxnOffsetCommit: pending transactional offsets and their markers), group_load.c (records
 * for `__consumer_offsets` and their replay). Threads: a group_coord is owned by one thread.
 */
#ifndef GREGOR_BROKER_GROUP_GROUP_H
#define GREGOR_BROKER_GROUP_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct group_coord;
struct group_record;

enum group_state {
    GROUP_EMPTY,
    GROUP_PREPARING_REBALANCE,
    GROUP_COMPLETING_REBALANCE,
    GROUP_STABLE,
    GROUP_DEAD,
};

/* Kafka's names, as DescribeGroups and ListGroups show them ("PreparingRebalance"). */
const char *group_state_name(enum group_state st);

struct group_config {
    int32_t min_session_timeout_ms;     /* group.min.session.timeout.ms (6000) */
    int32_t max_session_timeout_ms;     /* group.max.session.timeout.ms (1800000) */
    int32_t initial_rebalance_delay_ms; /* group.initial.rebalance.delay.ms (3000) */
    int32_t max_size;                   /* group.max.size (INT32_MAX) */
    int32_t new_member_join_timeout_ms; /* a new member's JoinGroup is held at most this (300000) */
    int64_t offsets_retention_ms;       /* offsets.retention.minutes in ms (7 days) */
    int32_t offset_metadata_max_bytes;  /* offset.metadata.max.bytes (4096) */
    int32_t max_group_id_len;           /* longer group ids get INVALID_GROUP_ID (255) */
    int32_t max_member_metadata_bytes;  /* sum of a member's protocol metadata (1 MiB) */
    uint64_t member_id_seed;            /* seeds the uuid part of generated member ids */
};

/* Fills Kafka's defaults (and Gregor's bounds) into c. */
void group_config_defaults(struct group_config *c);

/* One member as the leader sees it in its JoinGroup answer. */
struct group_join_member {
    const char *member_id;
    const char *instance_id; /* NULL for a dynamic member */
    const uint8_t *metadata; /* the member's metadata for the selected protocol */
    int32_t metadata_len;
};

struct group_join_result {
    kerr_t err;
    const char *member_id;                   /* "" when none was assigned */
    int32_t generation;                      /* -1 on error */
    const char *protocol_type;               /* NULL on error */
    const char *protocol_name;               /* NULL on error */
    const char *leader_id;                   /* NULL on error */
    const struct group_join_member *members; /* the leader's only; else NULL */
    int32_t member_count;
};

struct group_sync_result {
    kerr_t err;
    const char *protocol_type; /* NULL on error */
    const char *protocol_name; /* NULL on error */
    const uint8_t *assignment; /* the leader's bytes for this member, untouched */
    int32_t assignment_len;
};

struct group_ops {
    /* Answers a JoinGroup (required). */
    void (*join_cb)(void *arg, void *ctx, const struct group_join_result *res);
    /* Answers a SyncGroup (required). */
    void (*sync_cb)(void *arg, void *ctx, const struct group_sync_result *res);
    /* Asks the runtime to append rec, the group's metadata record (borrowed for the call),
     * to `__consumer_offsets`. When `await` is true the rebalance waits for
     * group_store_done(gc, group_id, generation, err) once the record is replicated (or its
     * append failed). NULL: every store counts as done at once. */
    void (*store_cb)(void *arg, const char *group_id, int32_t generation, bool await,
                     const struct group_record *rec);
    void *arg;
};

/* Returns new: an empty coordinator (NULL on allocation failure). Borrows cfg and ops (copied). */
struct group_coord *group_coord_new(const struct group_config *cfg, const struct group_ops *ops);
/* Unloads every group: parked joins and syncs are answered NOT_COORDINATOR; frees gc.
 * NULL is a no-op. */
void group_coord_free(struct group_coord *gc);
/* Forgets the parked join/sync requests carrying ctx: their callbacks will not run. */
void group_cancel_ctx(struct group_coord *gc, void *ctx);

/* Kafka's answer for a failed append of the coordinator's records, from the append's error
 * (internal codes allowed): COORDINATOR_NOT_AVAILABLE when the offsets partition lacks
 * replicas, NOT_COORDINATOR when this broker stopped leading it, INVALID_COMMIT_OFFSET_SIZE
 * (commits) or UNKNOWN_SERVER_ERROR (group records) for oversized records, and a timeout as
 * REQUEST_TIMED_OUT (commits) or REBALANCE_IN_PROGRESS (group records). group_store_done()
 * and group_commit_apply() apply it themselves. */
kerr_t group_append_error(kerr_t err, bool offset_commit);

/* KERR_NONE, or INVALID_GROUP_ID for an empty or too long (config) group id. */
kerr_t group_check_id(const struct group_coord *gc, const char *group_id);

/* --- JoinGroup (group_join.c) --- */
struct group_protocol {
    const char *name;
    const uint8_t *metadata;
    int32_t metadata_len;
};

struct group_join_req {
    const char *group_id;
    const char *member_id;   /* "" for a member without an id yet */
    const char *instance_id; /* group.instance.id, NULL for dynamic members */
    const char *client_id;
    const char *client_host;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms; /* JoinGroup v0: pass the session timeout */
    const char *protocol_type;
    const struct group_protocol *protocols; /* in the member's order of preference */
    int32_t protocol_count;
    bool require_known_member_id; /* JoinGroup v4+ and no instance id: MEMBER_ID_REQUIRED */
    void *ctx;                    /* handed back to join_cb; must not be NULL */
};

/* Handles a JoinGroup; the answer goes to ops.join_cb (now or when the rebalance completes).
 * Borrows req. */
void group_join(struct group_coord *gc, const struct group_join_req *req, int64_t now_ms);

/* Runs the timers due at now_ms: delayed/initial joins, session and pending-member expiry. */
void group_tick(struct group_coord *gc, int64_t now_ms);
/* The earliest time group_tick() has work, INT64_MAX when none. */
int64_t group_next_deadline(const struct group_coord *gc);

/* --- SyncGroup, Heartbeat, LeaveGroup (group_sync.c) --- */
struct group_assignment {
    const char *member_id;
    const uint8_t *data;
    int32_t len;
};

struct group_sync_req {
    const char *group_id;
    const char *member_id;
    const char *instance_id; /* NULL when not sent */
    int32_t generation;
    const char *protocol_type;                  /* SyncGroup v5+; NULL when not sent */
    const char *protocol_name;                  /* SyncGroup v5+; NULL when not sent */
    const struct group_assignment *assignments; /* the leader's; followers send none */
    int32_t assignment_count;
    void *ctx; /* handed back to sync_cb; must not be NULL */
};

/* Handles a SyncGroup; the answer goes to ops.sync_cb. Borrows req. */
void group_sync(struct group_coord *gc, const struct group_sync_req *req, int64_t now_ms);

/* Handles a Heartbeat and returns its error code. */
kerr_t group_heartbeat(struct group_coord *gc, const char *group_id, const char *member_id,
                       const char *instance_id, int32_t generation, int64_t now_ms);

struct group_leave_member {
    const char *member_id;   /* "" to name the member by instance id (v3+) */
    const char *instance_id; /* NULL when not sent */
    kerr_t err;              /* out: this member's answer */
};

/* Handles a LeaveGroup: sets each member's err and returns the top-level error. */
kerr_t group_leave(struct group_coord *gc, const char *group_id, struct group_leave_member *members,
                   int32_t count, int64_t now_ms);

/* Reports the outcome of a store_cb(await = true) for generation (err: the append's error as
 * the log reported it; group_append_error() maps it): on success the leader's assignment is
 * handed out and the group becomes Stable; on error the members get the mapped error and the
 * group rebalances. Ignored if the group moved on meanwhile. */
void group_store_done(struct group_coord *gc, const char *group_id, int32_t generation, kerr_t err,
                      int64_t now_ms);

/* --- reading the state (group.c): DescribeGroups, ListGroups --- */
struct group_info {
    const char *group_id;
    enum group_state state;
    const char *protocol_type; /* "" when none */
    const char *protocol_name; /* "" unless Stable (as DescribeGroups shows it) */
    int32_t generation;
    const char *leader_id; /* NULL when none */
    int32_t member_count;
    int32_t pending_count; /* members given an id that have not rejoined yet */
};

struct group_member_info {
    const char *member_id;
    const char *instance_id; /* NULL for dynamic members */
    const char *client_id;
    const char *client_host;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms;
    const uint8_t *metadata; /* for the selected protocol; NULL unless Stable */
    int32_t metadata_len;
    const uint8_t *assignment; /* NULL unless Stable */
    int32_t assignment_len;
};

/* Fills *out (borrowed until the next call that changes gc); false if the group is unknown. */
bool group_describe(const struct group_coord *gc, const char *group_id, struct group_info *out);
/* Fills member i (0 <= i < member_count) of the group; false when out of range/unknown. */
bool group_member_at(const struct group_coord *gc, const char *group_id, int32_t i,
                     struct group_member_info *out);
/* Calls cb for every group that is not Dead (ListGroups). */
void group_foreach(const struct group_coord *gc, void (*cb)(void *arg, const struct group_info *g),
                   void *arg);

/* --- committed offsets (group_offsets.c) --- */

/* One record for `__consumer_offsets`; value NULL is a tombstone. Owned by its list. */
struct group_record {
    uint8_t *key;
    size_t key_len;
    uint8_t *value;
    size_t value_len;
};

struct group_records {
    struct group_record *v;
    size_t n, cap;
    bool oom; /* an allocation failed: the list is incomplete */
};

void group_records_init(struct group_records *r);
void group_records_destroy(struct group_records *r);
/* Appends a copy of rec (borrowed) to r; false (and r->oom set) on allocation failure. */
bool group_records_add_copy(struct group_records *r, const struct group_record *rec);

struct group_commit {
    const char *topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch; /* -1 when unknown */
    const char *metadata; /* NULL allowed (stored as "") */
    int64_t expire_ts;    /* from OffsetCommit v1-v4 retention (the handler computes it); -1 */
    kerr_t err;           /* out: this partition's answer */
    int64_t commit_ts;    /* OffsetCommit v1's timestamp; 0 or -1: now_ms of the commit */
};

struct group_commit_req {
    const char *group_id;
    const char *member_id;   /* "" for simple consumers */
    const char *instance_id; /* NULL when not sent */
    int32_t generation;      /* -1 for simple consumers */
    struct group_commit *parts;
    int32_t count;
    int64_t commit_ts;  /* out: now_ms of group_commit_prepare() */
    int64_t log_offset; /* in, for group_commit_apply(): where the records were appended; an
                           offset stays committed over a newer one only when both are known
                           (>= 0) and its record is later in the log (Kafka's olderThan) */
};

/* Checks an OffsetCommit against the group's membership and generation (Kafka's rules) and
 * sets every part's err; appends to out the records of the parts accepted (err NONE) and
 * returns the group-level error (also copied into each part). A generation -1 commit for an
 * unknown group creates it Empty. The runtime appends the records and, once replicated, calls
 * group_commit_apply(); the commit is not visible to fetches before that. */
kerr_t group_commit_prepare(struct group_coord *gc, struct group_commit_req *req, int64_t now_ms,
                            struct group_records *out);
/* Stores the accepted parts of a prepared commit (err NONE) in the group's offset cache, or
 * when the append failed (err: as the log reported it, mapped by group_append_error()) sets
 * the mapped error on those parts and stores nothing. */
void group_commit_apply(struct group_coord *gc, struct group_commit_req *req, kerr_t err);

struct group_offset {
    int64_t offset;
    int32_t leader_epoch;
    const char *metadata; /* borrowed until the next change to gc */
    int64_t commit_ts;
    int64_t expire_ts;
};

/* KERR_NONE and *out for a committed partition; KERR__NOENT when the group or the partition
 * has no committed offset (OffsetFetch then answers offset -1). */
kerr_t group_offset_fetch(const struct group_coord *gc, const char *group_id, const char *topic,
                          int32_t partition, struct group_offset *out);
/* Whether the group has a commit of (topic, partition) prepared but not applied yet, i.e. not
 * yet replicated, or a transactional commit of it awaiting its marker: OffsetFetch with require_stable (v7+) answers UNSTABLE_OFFSET_COMMIT for it
 * (Kafka's hasPendingOffsetCommitsForTopicPartition). False for an unknown group. */
bool group_offset_pending(const struct group_coord *gc, const char *group_id, const char *topic,
                          int32_t partition);
/* Calls cb for every committed offset of the group (OffsetFetch with all topics). */
void group_offsets_foreach(const struct group_coord *gc, const char *group_id,
                           void (*cb)(void *arg, const char *topic, int32_t partition,
                                      const struct group_offset *o),
                           void *arg);

/* Expires offsets as Kafka's cleanup does (offsets.retention counted from when the group
 * became Empty; from the commit for groups without a protocol type and for topics no member of
 * a Stable consumer group subscribes to; an explicit expire timestamp wins) and removes Empty
 * groups left without offsets (Dead). Appends the tombstones to out and returns how many
 * offsets expired. */
size_t group_expire_offsets(struct group_coord *gc, int64_t now_ms, struct group_records *out);

/* The topics were deleted (Kafka's cleanupGroupMetadata on deleted partitions): every group's
 * offsets of them, and its commits of them in flight, are removed with their tombstones
 * appended to out; an Empty group left without offsets goes Dead (its tombstone appended too).
 * Returns how many offsets were removed. Borrows topics[0..n). */
size_t group_remove_topics(struct group_coord *gc, const char *const *topics, size_t n,
                           int64_t now_ms, struct group_records *out);

/* DeleteGroups for one group: GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP (members), or KERR_NONE
 * with the group's tombstones appended to out and the group gone. */
kerr_t group_delete(struct group_coord *gc, const char *group_id, struct group_records *out);

struct group_offset_delete {
    const char *topic;
    int32_t partition;
    kerr_t err; /* out: this partition's answer */
};

/* OffsetDelete: GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP (a live group of another protocol type
 * than "consumer"), or KERR_NONE with each part's err set: GROUP_SUBSCRIBED_TO_TOPIC when a
 * member of the live consumer group subscribes to the topic, else NONE with the offset (if
 * any) removed and its tombstone appended to out. An Empty group left without offsets is
 * removed (its tombstone appended too). */
kerr_t group_offsets_delete(struct group_coord *gc, const char *group_id,
                            struct group_offset_delete *parts, int32_t count, int64_t now_ms,
                            struct group_records *out);

/* --- transactional offset commits (group_txn.c) ---
 *
 * TxnOffsetCommit (Kafka's handleTxnCommitOffsets): the commits of a transactional producer
 * are appended as one transactional batch and held *pending* per (group, producer id, topic,
 * partition) until the producer's COMMIT marker makes them the committed offsets (unless a
 * commit later in the log already replaced that partition's offset) or its ABORT marker drops
 * them. While pending, OffsetFetch with require_stable answers UNSTABLE_OFFSET_COMMIT for the
 * partition and OffsetFetch without it shows the last committed value. */

/* Checks a TxnOffsetCommit of producer_id (Kafka's rules: a Dead group COORDINATOR_NOT_AVAILABLE,
 * FENCED_INSTANCE_ID, a member id not in the group UNKNOWN_MEMBER_ID, a generation >= 0 other than
 * the group's ILLEGAL_GENERATION; an unknown group is created Empty) and sets every part's err
 * (OFFSET_METADATA_TOO_LARGE per part); the accepted parts become pending for the producer and
 * their records go to out. The runtime appends them as one transactional batch and reports
 * with group_txn_commit_apply(). Returns the group-level error. */
kerr_t group_txn_commit_prepare(struct group_coord *gc, struct group_commit_req *req,
                                int64_t producer_id, int64_t now_ms, struct group_records *out);
/* The append of a prepared TxnOffsetCommit ended: err NONE records where its batch is
 * (log_offset) in the parts still pending; an error (mapped by group_append_error(), e.g.
 * INVALID_PRODUCER_EPOCH for a fenced producer) drops them and is set on the parts. */
void group_txn_commit_apply(struct group_coord *gc, struct group_commit_req *req,
                            int64_t producer_id, kerr_t err, int64_t log_offset);
/* A COMMIT (commit true) or ABORT marker of producer_id at marker_offset of this coordinator's
 * partition was written and replicated, or replayed by a load: the producer's pending offsets
 * appended before it are committed or dropped, in every group of gc; ones whose append has not
 * completed are dropped too (their transaction is over). Returns how many offsets it committed. */
size_t group_txn_complete(struct group_coord *gc, int64_t producer_id, bool commit,
                          int64_t marker_offset);
/* How many transactional offsets of gc wait for their producer's marker (all groups). */
size_t group_txn_pending_count(const struct group_coord *gc);

/* --- records of `__consumer_offsets` (group_load.c) --- */

/* Appends the group's current metadata record (value v3) to out; a tombstone when the group is
 * Dead. KERR__NOENT if the group is unknown. */
kerr_t group_metadata_record(const struct group_coord *gc, const char *group_id,
                             struct group_records *out);

/* Replays one record of the partition being loaded (latest wins; value NULL = tombstone).
 * KERR__CORRUPT for a record that does not decode (the caller logs and skips it). */
kerr_t group_load_record(struct group_coord *gc, const void *key, size_t key_len, const void *value,
                         size_t value_len, int64_t now_ms);
/* group_load_record() for a record at log_offset of the partition, in a transactional batch of
 * producer_id (-1: not transactional). A transactional offset record (or tombstone) changes
 * only that producer's pending offsets; group_txn_complete() applies them at the producer's
 * marker. Offsets remember log_offset for the olderThan rule. */
kerr_t group_load_record_at(struct group_coord *gc, const void *key, size_t key_len,
                            const void *value, size_t value_len, int64_t log_offset,
                            int64_t producer_id, int64_t now_ms);
/* Ends loading: groups with members are Stable with their session timers started at now_ms,
 * the others Empty; groups left with neither metadata nor offsets are dropped. */
void group_load_finish(struct group_coord *gc, int64_t now_ms);

#endif
