/*
 * broker/kafka/list_offsets.c — ListOffsets (key 2), v0-v5.
 *
 * Request: replica_id, isolation_level (v2+), topics[name, partitions[index,
 * current_leader_epoch (v4+), timestamp, max_num_offsets (v0)]].
 * Response: throttle (v2+), topics[name, partitions[index, error_code,
 * old_style_offsets (v0) | timestamp + offset (v1+), leader_epoch (v4+)]].
 * timestamp -1 = latest (the HW; with isolation_level 1, read_committed,
 * the LSO: below the first open transaction), -2 = earliest (log start),
 * >= 0 = first offset with a timestamp >= it.
 */
#include "broker/security/acl.h"
#include "broker/kafka/dispatch.h"
#include "broker/kafka/topic_groups.h"
#include "broker/core/broker.h"
#include "broker/replication/topics.h"

/* ListOffsets answers synchronously: the isolation level of the request
 * being answered rides in req->handler_state (an int8_t) meanwhile. */
static bool read_committed(const struct req *req)
{
    return req->handler_state && *(const int8_t *)req->handler_state == 1;
}

static void list_one(struct req *req, struct topic *t, int32_t index, int64_t ts, kerr_t denied)
{
    struct broker *b = req->broker;
    struct kbuf *o = &req->out;
    int16_t v = req->api_version;
    int64_t offset = -1, found_ts = -1;
    int32_t epoch = -1, leader_epoch;
    kerr_t err;
    if (denied) {
        err = denied;
    } else if (!t || index < 0 || index >= t->n_parts) {
        err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
    } else if (partition_leader(topic_part(t, index), &leader_epoch) != b->id) {
        err = KERR_NOT_LEADER_OR_FOLLOWER;
    } else {
        if (ts == -1 && read_committed(req))
            err = partition_last_stable_offset(topic_part(t, index), &offset);
        else
            err = partition_list_offset(topic_part(t, index), ts, &offset, &found_ts);
        epoch = leader_epoch;
    }
    kbuf_put_i32(o, index);
    kbuf_put_i16(o, err);
    if (v == 0) {
        bool have = err == KERR_NONE && offset >= 0;
        kw_put_array_len(o, false, have ? 1 : 0);
        if (have)
            kbuf_put_i64(o, offset);
        return;
    }
    kbuf_put_i64(o, err == KERR_NONE ? found_ts : -1);
    kbuf_put_i64(o, err == KERR_NONE ? offset : -1);
    if (v >= 4)
        kbuf_put_i32(o, epoch);
}

/* Reads partitions[i]: index, current_leader_epoch (v4+), timestamp,
 * max_num_offsets (v0); answers it when whole. */
static void list_part(struct req *req, struct topic *t, kerr_t denied)
{
    struct kslice *s = &req->body;
    int16_t v = req->api_version;
    int32_t index = kslice_i32(s);
    if (v >= 4)
        (void)kslice_i32(s); /* current_leader_epoch */
    int64_t ts = kslice_i64(s);
    if (v == 0)
        (void)kslice_i32(s); /* max_num_offsets */
    if (kslice_ok(s))
        list_one(req, t, index, ts, denied);
}

kerr_t handle_list_offsets(struct req *req)
{
    struct kslice *s = &req->body;
    int16_t v = req->api_version;
    (void)kslice_i32(s); /* replica_id */
    int8_t isolation = 0;
    if (v >= 2)
        isolation = (int8_t)kslice_u8(s);
    int32_t n_topics = kw_get_array_len(s, false, 6);
    if (!kslice_ok(s))
        return KERR__CLOSE;
    if (v >= 2)
        kbuf_put_i32(&req->out, 0); /* throttle_time_ms */
    req->handler_state = &isolation;
    bool ok = topic_groups_answer(req, n_topics, 12, ACL_OP_DESCRIBE, list_part);
    req->handler_state = NULL;
    return ok ? KERR_NONE : KERR__CLOSE;
}
