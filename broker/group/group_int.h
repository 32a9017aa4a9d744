/*
 * broker/group/group_int.h — the layouts shared by group*.c (no one else includes this).
 *
 * Ownership: a group_coord owns its groups (a chained hash table by id); a group owns its
 * members, pending member ids and committed offsets; every string and byte field is a heap
 * copy owned by the struct holding it. Threads: all owned by the coordinator's thread.
 */
#ifndef GREGOR_BROKER_GROUP_GROUP_INT_H
#define GREGOR_BROKER_GROUP_GROUP_INT_H

#include "broker/group/group.h"
#include "common/buf.h"

#define GROUP_NO_DEADLINE INT64_MAX

struct gproto {
    char *name;
    uint8_t *meta;
    int32_t len;
};

struct gmember {
    char *id;
    char *instance_id; /* NULL for dynamic members */
    char *client_id;
    char *client_host;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms;
    struct gproto *protos; /* the member's supported protocols, in preference order */
    int32_t nprotos;
    uint8_t *assignment; /* from the leader's SyncGroup; NULL when none */
    int32_t assignment_len;
    bool awaiting_join; /* a JoinGroup is parked (join_ctx) */
    void *join_ctx;
    bool awaiting_sync; /* a SyncGroup is parked (sync_ctx) */
    void *sync_ctx;
    bool pending_sync; /* joined the current generation, no SyncGroup from it yet */
    bool is_new;       /* joined in this rebalance: expires after new_member_join_timeout */
    int64_t expire_at; /* session (or new-member) deadline */
};

struct gpending {
    char *id;          /* member id handed out with MEMBER_ID_REQUIRED */
    int64_t expire_at; /* removed unless it rejoins by then (its session timeout) */
};

struct goffset {
    char *topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    char *metadata;
    int64_t commit_ts;
    int64_t expire_ts;  /* -1: expires by the retention rule */
    int64_t log_offset; /* where its record is in the partition; -1 when unknown */
};

/* A transactional offset commit waiting for its producer's marker (group_txn.c). */
struct gtxn_offset {
    int64_t producer_id;
    struct goffset o; /* owns topic and metadata; o.log_offset -1 until its append completed */
};

/* A partition with commits appended but not yet applied (group_commit_apply()). */
struct gpending_commit {
    char *topic;
    int32_t partition;
    int32_t count; /* prepared commits of it not applied yet */
};

struct group {
    char *id;
    enum group_state state;
    int64_t state_ts; /* when the state last changed; -1 when unknown (old records) */
    int32_t generation;
    char *protocol_type;    /* NULL until a member joined (simple consumers never set it) */
    char *protocol_name;    /* selected for the current generation; NULL when none */
    struct gmember *leader; /* one of members, or NULL */
    struct gmember **members;
    int32_t nmembers;
    size_t members_cap;
    struct gpending *pending;
    int32_t npending;
    size_t pending_cap;
    int32_t num_awaiting_join;
    int64_t join_deadline;        /* PreparingRebalance: when the held joins complete */
    int64_t sync_deadline;        /* members still pending_sync are removed then */
    bool initial_delay;           /* the join timer is group.initial.rebalance.delay's */
    int32_t initial_remaining_ms; /* initial delay: rebalance timeout budget left */
    bool new_member_added;        /* initial delay: a member joined since the timer was set */
    bool has_metadata;            /* loading: a metadata record (not a tombstone) was replayed */
    struct goffset *offsets;      /* sorted by (topic, partition) */
    int32_t noffsets;
    size_t offsets_cap;
    struct gpending_commit *pcommits; /* unsorted; few at a time */
    int32_t npcommits;
    size_t pcommits_cap;
    struct gtxn_offset *txn; /* pending transactional offsets, unsorted */
    int32_t ntxn;
    size_t txn_cap;
    struct group *next; /* hash chain */
};

struct group_coord {
    struct group_config cfg;
    struct group_ops ops;
    struct group **buckets;
    size_t nbuckets; /* a power of two */
    size_t ngroups;
    uint64_t id_state; /* member id generator */
};

/* group.c */
struct group *group_find(const struct group_coord *gc, const char *id);
/* Returns borrowed: the group, created Empty if missing (NULL on allocation failure). */
struct group *group_get_or_create(struct group_coord *gc, const char *id, int64_t now_ms);
/* Unlinks and frees g (parked requests must have been answered). */
void group_destroy(struct group_coord *gc, struct group *g);
void group_transition(struct group *g, enum group_state st, int64_t now_ms);
struct gmember *group_member(const struct group *g, const char *member_id);
struct gmember *group_static_member(const struct group *g, const char *instance_id);
bool group_is_pending(const struct group *g, const char *member_id);
void group_remove_pending(struct group *g, const char *member_id);
bool group_add_pending(struct group *g, const char *member_id, int64_t expire_at);
/* Adds m to the group (takes m); the first member sets the protocol type and leads. */
bool group_add_member(struct group *g, struct gmember *m);
/* Removes and frees m; picks another leader if it led. Parked requests must be answered. */
void group_remove_member(struct group *g, struct gmember *m);
void gmember_free(struct gmember *m);
/* Returns new: a member built from a join request (NULL on allocation failure). */
struct gmember *gmember_new(const struct group_join_req *req, const char *member_id);
/* Replaces m's protocols with the request's; false on allocation failure (m unchanged). */
bool gmember_set_protocols(struct gmember *m, const struct group_protocol *p, int32_t n);
/* True when p[0..n) lists the same protocols with the same metadata as m, in order. */
bool gmember_matches(const struct gmember *m, const struct group_protocol *p, int32_t n);
const struct gproto *gmember_proto(const struct gmember *m, const char *name);
bool group_is_fenced(const struct group *g, const char *member_id, const char *instance_id);
bool group_supports(const struct group *g, const char *protocol_type,
                    const struct group_protocol *p, int32_t n);
/* Kafka's vote: among the protocols all members support, the one most members list first. */
const char *group_select_protocol(const struct group *g);
int32_t group_rebalance_timeout(const struct group *g);
/* Writes "<prefix>-<uuid>" into a new string (returns new). */
char *group_new_member_id(struct group_coord *gc, const char *prefix);
/* Answers m's parked join/sync, if any (skipping the callback for a cancelled ctx). */
void group_invoke_join(struct group_coord *gc, struct group *g, struct gmember *m,
                       const struct group_join_result *res);
void group_invoke_sync(struct group_coord *gc, struct gmember *m,
                       const struct group_sync_result *res);
void group_join_error(struct group_coord *gc, struct group *g, struct gmember *m, kerr_t err);
char *gstrdup(const char *s); /* NULL -> NULL */
bool gset_str(char **dst, const char *s);

/* group_join.c */
void group_maybe_prepare_rebalance(struct group_coord *gc, struct group *g, int64_t now_ms);
void group_prepare_rebalance(struct group_coord *gc, struct group *g, int64_t now_ms);
/* Completes the held joins if every member rejoined (PreparingRebalance, no initial delay). */
void group_check_join(struct group_coord *gc, struct group *g, int64_t now_ms);
void group_remove_member_and_update(struct group_coord *gc, struct group *g, struct gmember *m,
                                    int64_t now_ms);
void group_remove_pending_and_update(struct group_coord *gc, struct group *g, const char *id,
                                     int64_t now_ms);
void group_reset_and_propagate(struct group_coord *gc, struct group *g, kerr_t err, int64_t now_ms);
void group_touch(struct group *g, struct gmember *m, int64_t now_ms);
/* A SyncGroup of the current generation came from m: it is no longer pending. */
void group_sync_received(struct group *g, struct gmember *m);

/* group_offsets.c */
struct goffset *group_offset_find(const struct group *g, const char *topic, int32_t partition);
/* Stores or replaces an offset (copies strings); false on allocation failure. */
bool group_offset_put(struct group *g, const struct goffset *o);
void group_offset_remove(struct group *g, const char *topic, int32_t partition);
void group_offsets_free(struct group *g);
/* Whether a prepared commit of (topic, partition) awaits group_commit_apply(). */
bool group_commit_is_pending(const struct group *g, const char *topic, int32_t partition);
/* Stores in c->err and returns the error of one part of a commit (OffsetCommit or
 * TxnOffsetCommit) whose request was checked with err: err, else OFFSET_METADATA_TOO_LARGE when
 * its metadata is longer than offset.metadata.max.bytes, else NONE. */
kerr_t group_commit_part_check(const struct group_coord *gc, struct group_commit *c, kerr_t err);
/* One part of a commit as it is logged and stored (borrowing c's strings): null metadata as "",
 * no timestamp of its own as the commit's time (req->commit_ts), at req->log_offset. */
struct goffset group_commit_offset(const struct group_commit_req *req,
                                   const struct group_commit *c);

/* group_txn.c */
/* Whether a transactional commit of (topic, partition) awaits its marker. */
bool group_txn_is_pending(const struct group *g, const char *topic, int32_t partition);
/* Drops every producer's pending transactional offset of (topic, partition) (Kafka's
 * removeOffsets); topic NULL drops all of them. */
void group_txn_remove(struct group *g, const char *topic, int32_t partition);
/* Loading: a transactional offset record (value NULL: tombstone) of producer_id at o->log_offset
 * replaces that producer's pending offset of the partition. False on allocation failure. */
bool group_txn_load(struct group *g, int64_t producer_id, const struct goffset *o, bool tombstone);

/* group_load.c */
/* Hands g's metadata record to ops.store_cb; without a store_cb (or when the record cannot be
 * built) an awaited store completes here, successfully (or with KERR__NOMEM). */
void group_store(struct group_coord *gc, struct group *g, bool await, int64_t now_ms);
bool group_records_add(struct group_records *r, struct kbuf *key, struct kbuf *value);
void group_records_offset_tombstone(struct group_records *r, const char *group, const char *topic,
                                    int32_t partition);
void group_records_group_tombstone(struct group_records *r, const char *group);
bool group_records_commit(struct group_records *r, const char *group, const struct goffset *o);

#endif
