/*
 * broker/group/offsets_format.h — the record formats of `__consumer_offsets`, Kafka's own.
 *
 * Every key and value starts with an INT16 version; the rest is Kafka's classic (non-flexible)
 * encoding, big-endian: STRING = INT16 length + bytes, NULLABLE_STRING uses length -1 for null,
 * BYTES = INT32 length + bytes, arrays = INT32 count + elements.
 *
 *   key v0, v1   offset commit key:   group STRING, topic STRING, partition INT32
 *   key v2       group metadata key:  group STRING
 *
 *   OffsetCommit value (after a key v0/v1; null value = tombstone: the offset is deleted)
 *     v0  offset INT64, metadata STRING, commit_timestamp INT64
 *     v1  offset INT64, metadata STRING, commit_timestamp INT64, expire_timestamp INT64
 *     v2  offset INT64, metadata STRING, commit_timestamp INT64
 *     v3  offset INT64, leader_epoch INT32, metadata STRING, commit_timestamp INT64
 *
 *   GroupMetadata value (after a key v2; null value = tombstone: the group is deleted)
 *     protocol_type STRING, generation INT32, protocol NULLABLE_STRING, leader NULLABLE_STRING,
 *     current_state_timestamp INT64 (v2+), members ARRAY of
 *       member_id STRING, group_instance_id NULLABLE_STRING (v3+), client_id STRING,
 *       client_host STRING, rebalance_timeout INT32 (v1+), session_timeout INT32,
 *       subscription BYTES, assignment BYTES
 *
 * Fields a version lacks decode to their defaults: leader_epoch -1, expire_timestamp -1,
 * current_state_timestamp -1, group_instance_id null, rebalance_timeout = session_timeout (what
 * Kafka assumes for v0 members). Decoders return views into the input bytes (nothing is
 * allocated except the members array of a group value) and reject truncated input, trailing
 * bytes, unknown versions and negative lengths other than a nullable's -1 with KERR__CORRUPT.
 * Threads: none; pure functions.
 */
#ifndef GREGOR_BROKER_GROUP_OFFSETS_FORMAT_H
#define GREGOR_BROKER_GROUP_OFFSETS_FORMAT_H

#include "common/buf.h"
#include "common/err.h"
#include "common/kwire.h"

enum okey_kind {
    OKEY_OFFSET = 1, /* key v0/v1: an offset commit */
    OKEY_GROUP = 2,  /* key v2: group metadata */
};

/* A decoded key; strings are views into the decoded bytes. */
struct okey {
    enum okey_kind kind;
    int16_t version;
    struct kstr group;
    struct kstr topic; /* OKEY_OFFSET only */
    int32_t partition; /* OKEY_OFFSET only */
};

struct ocommit_value {
    int16_t version; /* 0..3 */
    int64_t offset;
    int32_t leader_epoch; /* v3; -1 otherwise */
    struct kstr metadata; /* never null on the wire: encoding null writes "" */
    int64_t commit_ts;
    int64_t expire_ts; /* v1; -1 otherwise */
};

struct ogroup_member {
    struct kstr member_id;
    struct kstr instance_id; /* v3; null otherwise */
    struct kstr client_id;
    struct kstr client_host;
    int32_t rebalance_timeout; /* v1+; v0: equals session_timeout */
    int32_t session_timeout;
    const uint8_t *subscription; /* may be NULL when len is 0 */
    int32_t subscription_len;
    const uint8_t *assignment;
    int32_t assignment_len;
};

struct ogroup_value {
    int16_t version; /* 0..3 */
    struct kstr protocol_type;
    int32_t generation;
    struct kstr protocol;          /* nullable */
    struct kstr leader;            /* nullable */
    int64_t state_ts;              /* v2+; -1 otherwise */
    struct ogroup_member *members; /* owned: free with ogroup_value_destroy() */
    int32_t member_count;
};

/* Appends an offset commit key (version 0 or 1; Kafka writes 1) to b. */
void okey_put_offset(struct kbuf *b, int16_t version, const char *group, const char *topic,
                     int32_t partition);
/* Appends a group metadata key (version 2) to b. */
void okey_put_group(struct kbuf *b, const char *group);
/* Decodes a key: KERR_NONE, or KERR__CORRUPT (truncated, trailing bytes, unknown version,
 * null strings). *out borrows p. */
kerr_t okey_decode(const void *p, size_t len, struct okey *out);

/* Appends an OffsetCommit value of v->version (0..3) to b; fields the version lacks are not
 * written. Returns KERR__INVALID for an unknown version. */
kerr_t ocommit_value_put(struct kbuf *b, const struct ocommit_value *v);
/* Decodes an OffsetCommit value; *out borrows p. KERR__CORRUPT on bad input. */
kerr_t ocommit_value_decode(const void *p, size_t len, struct ocommit_value *out);

/* Appends a GroupMetadata value of v->version (0..3) to b. KERR__INVALID for an unknown
 * version. */
kerr_t ogroup_value_put(struct kbuf *b, const struct ogroup_value *v);
/* Decodes a GroupMetadata value; strings borrow p, out->members is allocated (returns new;
 * free with ogroup_value_destroy()). KERR__CORRUPT on bad input, KERR__NOMEM. */
kerr_t ogroup_value_decode(const void *p, size_t len, struct ogroup_value *out);
void ogroup_value_destroy(struct ogroup_value *v);

#endif
