/*
 * broker/kafka/group_codec.h — wire codecs of the consumer-group APIs: request body decoders and
 * response body encoders, pure (no broker state), every version Gregor serves. Field lists
 * follow Kafka's message schemas (clients/src/main/resources/common/message, one .json per message).
 *
 *   key  API              versions  flexible  file
 *   10   FindCoordinator  0-4       3+        group_codec_member.c
 *   11   JoinGroup        0-7       6+        group_codec_member.c
 *   12   Heartbeat        0-4       4+        group_codec_member.c
 *   13   LeaveGroup       0-4       4+        group_codec_member.c
 *   14   SyncGroup        0-5       4+        group_codec_member.c
 *   8    OffsetCommit     0-8       8+        group_codec_offsets.c
 *   9    OffsetFetch      0-8       6+        group_codec_offsets.c
 *   47   OffsetDelete     0         never     group_codec_offsets.c
 *   15   DescribeGroups   0-5       5+        group_codec_admin.c
 *   16   ListGroups       0-4       3+        group_codec_admin.c
 *   42   DeleteGroups     0-2       2+        group_codec_admin.c
 *
 * Decoders read a request BODY (after the header) of version v. A decoded request borrows the
 * frame: every struct kstr and byte pointer is a view into it (not NUL-terminated; ptr NULL =
 * null), valid while the frame is. Arrays are allocated per request and released by the
 * request's *_free() (safe on a zeroed or half-decoded struct, and after a failed decode).
 * A decoder returns false on malformed input: truncated, a negative or null count where the
 * schema has no null, a count larger than the bytes left, a null where the schema has no null
 * string/bytes, bad tagged fields, or an allocation failure (the handler then closes the
 * connection or answers INVALID_REQUEST, as the other handlers do). Fields a version lacks get
 * the schema's default. Unknown tagged fields are skipped. Bytes after the body are ignored.
 *
 * Encoders write a response BODY (no header) of version v into a kbuf, from plain values the
 * handler got from the group core (broker/group/group.h). A field the version lacks is skipped;
 * in flexible versions every struct ends with an empty tagged-field section. Error codes go
 * through kerr_to_wire(), so internal codes may be passed. A NULL string is written as null
 * where the schema allows null in that version, else as "". NULL bytes are written as empty
 * bytes (no response byte field of these APIs is nullable). Writing what a version cannot
 * express is the handler's business; the rule per API is stated at each encoder.
 *
 * Threads: no state; any thread.
 */
#ifndef GREGOR_BROKER_KAFKA_GROUP_CODEC_H
#define GREGOR_BROKER_KAFKA_GROUP_CODEC_H

#include "broker/group/group.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/kwire.h"

/* ------------------------------------------------------------------------------------------ */
/* FindCoordinator (10), v0-4. Request: key (v0-3), key_type (v1+), coordinator_keys (v4).
 * Response: throttle (v1+); v0-3: error_code, error_message (v1+), node_id, host, port;
 * v4: coordinators[key, node_id, host, port, error_code, error_message]. */

struct gcodec_find_coord_req {
    int8_t key_type;   /* 0 group, 1 transaction; 0 in v0 */
    struct kstr *keys; /* v0-3: exactly one (the `key` field); v4: coordinator_keys */
    int32_t key_count;
};

bool gcodec_find_coord_req_decode(struct kslice *s, int v, struct gcodec_find_coord_req *r);
void gcodec_find_coord_req_free(struct gcodec_find_coord_req *r);

struct gcodec_coordinator {
    const char *key; /* v4 only */
    int32_t node_id; /* -1 on error */
    const char *host;
    int32_t port;
    kerr_t err;
    const char *err_msg; /* v1+; NULL = null */
};

/* v0-3 write coordinators[0] as the top-level fields (count must be 1); v4 writes them all.
 * Handler rules: v0 asks for a group coordinator only (key_type 0); a key_type other than 0
 * (1 = transaction) gets its error per key (v4) or at the top level (v0-3). */
void gcodec_find_coord_resp_encode(struct kbuf *b, int v, int32_t throttle_ms,
                                   const struct gcodec_coordinator *coords, int32_t count);

/* ------------------------------------------------------------------------------------------ */
/* JoinGroup (11), v0-7. Request: group_id, session_timeout_ms, rebalance_timeout_ms (v1+),
 * member_id, group_instance_id (v5+), protocol_type, protocols[name, metadata].
 * Response: throttle (v2+), error_code, generation_id, protocol_type (v7+), protocol_name,
 * leader, member_id, members[member_id, group_instance_id (v5+), metadata]. */

struct gcodec_join_protocol {
    struct kstr name;
    const uint8_t *metadata;
    int32_t metadata_len;
};

struct gcodec_join_req {
    struct kstr group_id;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms; /* v0: the session timeout, as Kafka takes it */
    struct kstr member_id;
    struct kstr instance_id; /* null before v5 */
    struct kstr protocol_type;
    struct gcodec_join_protocol *protocols;
    int32_t protocol_count;
};

bool gcodec_join_req_decode(struct kslice *s, int v, struct gcodec_join_req *r);
void gcodec_join_req_free(struct gcodec_join_req *r);

/* res as group_join() answered it. protocol_type and protocol_name are nullable from v7 (NULL
 * then goes out as null, as Kafka answers errors), "" before; members go out as given (the
 * group core gives them to the leader only). Handler rules: group_join_req's
 * require_known_member_id is (v >= 4 && instance_id is null); v0-4 carry no instance id. */
void gcodec_join_resp_encode(struct kbuf *b, int v, int32_t throttle_ms,
                             const struct group_join_result *res);

/* ------------------------------------------------------------------------------------------ */
/* SyncGroup (14), v0-5. Request: group_id, generation_id, member_id, group_instance_id (v3+),
 * protocol_type (v5+), protocol_name (v5+), assignments[member_id, assignment].
 * Response: throttle (v1+), error_code, protocol_type (v5+), protocol_name (v5+), assignment. */

struct gcodec_sync_assignment {
    struct kstr member_id;
    const uint8_t *data;
    int32_t len;
};

struct gcodec_sync_req {
    struct kstr group_id;
    int32_t generation;
    struct kstr member_id;
    struct kstr instance_id;   /* null before v3 */
    struct kstr protocol_type; /* null before v5 */
    struct kstr protocol_name; /* null before v5 */
    struct gcodec_sync_assignment *assignments;
    int32_t assignment_count;
};

bool gcodec_sync_req_decode(struct kslice *s, int v, struct gcodec_sync_req *r);
void gcodec_sync_req_free(struct gcodec_sync_req *r);

/* res as group_sync() answered it; NULL assignment goes out as empty bytes. */
void gcodec_sync_resp_encode(struct kbuf *b, int v, int32_t throttle_ms,
                             const struct group_sync_result *res);

/* ------------------------------------------------------------------------------------------ */
/* Heartbeat (12), v0-4. Request: group_id, generation_id, member_id, group_instance_id (v3+).
 * Response: throttle (v1+), error_code. */

struct gcodec_heartbeat_req {
    struct kstr group_id;
    int32_t generation;
    struct kstr member_id;
    struct kstr instance_id; /* null before v3 */
};

bool gcodec_heartbeat_req_decode(struct kslice *s, int v, struct gcodec_heartbeat_req *r);
void gcodec_heartbeat_resp_encode(struct kbuf *b, int v, int32_t throttle_ms, kerr_t err);

/* ------------------------------------------------------------------------------------------ */
/* LeaveGroup (13), v0-4. Request: group_id, member_id (v0-2), members[member_id,
 * group_instance_id] (v3+). Response: throttle (v1+), error_code, members[member_id,
 * group_instance_id, error_code] (v3+). */

struct gcodec_leave_member {
    struct kstr member_id;
    struct kstr instance_id; /* null before v3 */
};

struct gcodec_leave_req {
    struct kstr group_id;
    struct gcodec_leave_member *members; /* v0-2: exactly one (the `member_id` field) */
    int32_t member_count;
};

bool gcodec_leave_req_decode(struct kslice *s, int v, struct gcodec_leave_req *r);
void gcodec_leave_req_free(struct gcodec_leave_req *r);

/* members as group_leave() filled them; v0-2 write only the top-level err (the handler puts
 * the one member's error there when the top level is NONE, as Kafka does). */
void gcodec_leave_resp_encode(struct kbuf *b, int v, int32_t throttle_ms, kerr_t err,
                              const struct group_leave_member *members, int32_t count);

/* ------------------------------------------------------------------------------------------ */
/* OffsetCommit (8), v0-8. Request: group_id, generation_id (v1+), member_id (v1+),
 * group_instance_id (v7+), retention_time_ms (v2-4), topics[name, partitions[index,
 * committed_offset, committed_leader_epoch (v6+), commit_timestamp (v1), metadata]].
 * Response: throttle (v3+), topics[name, partitions[index, error_code]]. */

struct gcodec_commit_part {
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch; /* -1 before v6 */
    int64_t commit_ts;    /* v1 only; -1 otherwise */
    struct kstr metadata; /* nullable */
    kerr_t err;           /* out: set by the handler, read by the encoder */
};

struct gcodec_commit_topic {
    struct kstr name;
    struct gcodec_commit_part *parts;
    int32_t part_count;
};

struct gcodec_commit_req {
    struct kstr group_id;
    int32_t generation;        /* -1 in v0 */
    struct kstr member_id;     /* "" in v0 (ptr non-NULL) */
    struct kstr instance_id;   /* null before v7 */
    int64_t retention_time_ms; /* v2-4; -1 otherwise (broker default) */
    struct gcodec_commit_topic *topics;
    int32_t topic_count;
};

bool gcodec_commit_req_decode(struct kslice *s, int v, struct gcodec_commit_req *r);
void gcodec_commit_req_free(struct gcodec_commit_req *r);
/* Frees topics[count] and their partitions (OffsetCommit's and TxnOffsetCommit's). */
void gcodec_commit_topics_free(struct gcodec_commit_topic *topics, int32_t count);

/* The topics[name, partitions[index, error_code]] of an OffsetCommit or TxnOffsetCommit answer
 * (after its throttle), each part's err, with the tagged fields when flex. */
void gcodec_commit_topics_encode(struct kbuf *b, bool flex,
                                 const struct gcodec_commit_topic *topics, int32_t count);

/* Answers every topic and partition of req in request order with each part's err. Handler
 * rules: a group-level error goes into every part; retention_time_ms != -1 (v2-4) sets each
 * commit's expire_ts to the commit time + retention_time_ms (Kafka), else -1; commit_ts (v1) of
 * -1 means the time of the commit. */
void gcodec_commit_resp_encode(struct kbuf *b, int v, int32_t throttle_ms,
                               const struct gcodec_commit_req *req);

/* ------------------------------------------------------------------------------------------ */
/* OffsetFetch (9), v0-8. Request v0-7: group_id, topics[name, partition_indexes[]] (null =
 * all topics from v2); v8: groups[group_id, topics (nullable)]; require_stable (v7+).
 * Response: throttle (v3+); v0-7: topics[name, partitions[index, committed_offset,
 * committed_leader_epoch (v5+), metadata, error_code]], error_code (v2+); v8: groups[group_id,
 * topics[...], error_code]. */

struct gcodec_fetch_req_topic {
    struct kstr name;
    int32_t *partitions;
    int32_t part_count;
};

struct gcodec_fetch_req_group {
    struct kstr group_id;
    struct gcodec_fetch_req_topic *topics; /* NULL with all_topics */
    int32_t topic_count;
    bool all_topics; /* topics was null (v2+): every committed offset of the group */
};

struct gcodec_fetch_req {
    struct gcodec_fetch_req_group *groups; /* v0-7: exactly one */
    int32_t group_count;
    bool require_stable; /* v7+ */
};

bool gcodec_fetch_req_decode(struct kslice *s, int v, struct gcodec_fetch_req *r);
void gcodec_fetch_req_free(struct gcodec_fetch_req *r);

struct gcodec_fetch_part {
    int32_t partition;
    int64_t offset;       /* -1 when none is committed */
    int32_t leader_epoch; /* v5+; -1 when unknown */
    const char *metadata; /* NULL = null */
    kerr_t err;
};

struct gcodec_fetch_topic {
    const char *name;
    const struct gcodec_fetch_part *parts;
    int32_t part_count;
};

struct gcodec_fetch_group {
    const char *group_id; /* v8 only */
    const struct gcodec_fetch_topic *topics;
    int32_t topic_count;
    kerr_t err; /* group-level: v2-7 top-level error_code, v8 per group */
};

/* v0-7 write groups[0] (count must be 1); v0-1 have no group-level error code, so the handler
 * puts a group error into every partition there, as Kafka does; from v2 a group error goes
 * with no topics. v8 writes them all. The decoder refuses null topics before v2; for an
 * all_topics group the handler lists every committed offset of the group. The v5+ leader
 * epoch is -1 when the commit had none. */
void gcodec_fetch_resp_encode(struct kbuf *b, int v, int32_t throttle_ms,
                              const struct gcodec_fetch_group *groups, int32_t count);

/* ------------------------------------------------------------------------------------------ */
/* OffsetDelete (47), v0, never flexible. Request: group_id, topics[name, partitions[index]].
 * Response: error_code, throttle, topics[name, partitions[index, error_code]]. */

struct gcodec_odel_part {
    int32_t partition;
    kerr_t err; /* out: set by the handler, read by the encoder */
};

struct gcodec_odel_topic {
    struct kstr name;
    struct gcodec_odel_part *parts;
    int32_t part_count;
};

struct gcodec_odel_req {
    struct kstr group_id;
    struct gcodec_odel_topic *topics;
    int32_t topic_count;
};

bool gcodec_odel_req_decode(struct kslice *s, int v, struct gcodec_odel_req *r);
void gcodec_odel_req_free(struct gcodec_odel_req *r);

/* err: the group-level answer; when it is not NONE Kafka sends no topics, so pass req NULL. */
void gcodec_odel_resp_encode(struct kbuf *b, int v, int32_t throttle_ms, kerr_t err,
                             const struct gcodec_odel_req *req);

/* ------------------------------------------------------------------------------------------ */
/* DescribeGroups (15), v0-5. Request: groups[], include_authorized_operations (v3+).
 * Response: throttle (v1+), groups[error_code, group_id, group_state, protocol_type,
 * protocol_data, members[member_id, group_instance_id (v4+), client_id, client_host,
 * member_metadata, member_assignment], authorized_operations (v3+)]. */

struct gcodec_describe_req {
    struct kstr *groups;
    int32_t group_count;
    bool include_authorized_operations; /* v3+ */
};

bool gcodec_describe_req_decode(struct kslice *s, int v, struct gcodec_describe_req *r);
void gcodec_describe_req_free(struct gcodec_describe_req *r);

struct gcodec_described_group {
    kerr_t err;
    const char *group_id;
    const char *state;         /* group_state_name(); "Dead" (err NONE) for an unknown group */
    const char *protocol_type; /* "" when none */
    const char *protocol_data; /* the selected protocol; "" unless Stable */
    const struct group_member_info *members;
    int32_t member_count;
    int32_t authorized_operations; /* v3+; INT32_MIN when not asked for */
};

void gcodec_describe_resp_encode(struct kbuf *b, int v, int32_t throttle_ms,
                                 const struct gcodec_described_group *groups, int32_t count);

/* ------------------------------------------------------------------------------------------ */
/* ListGroups (16), v0-4. Request: states_filter[] (v4+). Response: throttle (v1+),
 * error_code, groups[group_id, protocol_type, group_state (v4+)]. */

struct gcodec_list_req {
    struct kstr *states; /* v4+; empty = every state */
    int32_t state_count;
};

bool gcodec_list_req_decode(struct kslice *s, int v, struct gcodec_list_req *r);
void gcodec_list_req_free(struct gcodec_list_req *r);

struct gcodec_listed_group {
    const char *group_id;
    const char *protocol_type;
    const char *state; /* v4+ */
};

/* Handler rule: the v4 states filter compares state names case-insensitively (Kafka). */
void gcodec_list_resp_encode(struct kbuf *b, int v, int32_t throttle_ms, kerr_t err,
                             const struct gcodec_listed_group *groups, int32_t count);

/* ------------------------------------------------------------------------------------------ */
/* DeleteGroups (42), v0-2. Request: groups_names[]. Response: throttle, results[group_id,
 * error_code]. */

struct gcodec_delete_group {
    struct kstr group_id;
    kerr_t err; /* out: set by the handler, read by the encoder */
};

struct gcodec_delete_req {
    struct gcodec_delete_group *groups;
    int32_t group_count;
};

bool gcodec_delete_req_decode(struct kslice *s, int v, struct gcodec_delete_req *r);
void gcodec_delete_req_free(struct gcodec_delete_req *r);

/* Answers every group of req in request order with its err. */
void gcodec_delete_resp_encode(struct kbuf *b, int v, int32_t throttle_ms,
                               const struct gcodec_delete_req *req);

/* ------------------------------------------------------------------------------------------ */
/* Shared by the group_codec*.c files. */

/* A non-null string (fails the slice on null). */
struct kstr gcodec_get_str(struct kslice *s, bool flex);
/* Writes z, or null when z is NULL and nullable, else "". */
void gcodec_put_str(struct kbuf *b, bool flex, bool nullable, const char *z);
/* Returns new: n zeroed elements of size sz, NULL when n <= 0 or on allocation failure. */
void *gcodec_calloc(int32_t n, size_t sz);
/* Reads a non-null array count and returns new: that many zeroed elements of size sz, the count
 * in *count. A null count, or one too large for the bytes left at min_elem bytes an element,
 * fails the slice, as does an allocation failure: NULL with *count 0 is an empty array when
 * kslice_ok(), else a failure. */
void *gcodec_get_array(struct kslice *s, bool flex, size_t min_elem, size_t sz, int32_t *count);

#endif
