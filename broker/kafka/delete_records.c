/*
 * broker/kafka/delete_records.c — DeleteRecords (key 21), v0-v1.
 *
 * Request: topics[name, partitions[index, offset (-1 = high watermark)]],
 * timeout_ms. Response: throttle_time_ms, topics[name, partitions[index,
 * low_watermark, error_code]]. Moves the partition's log start offset
 * (offsets above the HW: OFFSET_OUT_OF_RANGE); whole segments below it are
 * deleted at once, and fetches below it get OFFSET_OUT_OF_RANGE. The new
 * start offset is kept across restarts by log-start-offset-checkpoint.
 */
#include "broker/security/acl.h"
#include "broker/kafka/dispatch.h"
#include "broker/kafka/topic_groups.h"
#include "broker/core/broker.h"
#include "broker/replication/topics.h"

static void delete_one(struct req *req, struct topic *t, int32_t index, int64_t offset,
                       kerr_t denied)
{
    struct kbuf *o = &req->out;
    int64_t low = -1;
    int32_t epoch;
    kerr_t err;
    if (denied)
        err = denied;
    else if (!t || index < 0 || index >= t->n_parts)
        err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
    else if (partition_leader(topic_part(t, index), &epoch) != req->broker->id)
        err = KERR_NOT_LEADER_OR_FOLLOWER;
    else
        err = partition_delete_records(topic_part(t, index), offset, &low);
    kbuf_put_i32(o, index);
    kbuf_put_i64(o, low);
    kbuf_put_i16(o, err);
}

/* Reads partitions[i]: index, offset; answers it when whole. */
static void delete_part(struct req *req, struct topic *t, kerr_t denied)
{
    struct kslice *s = &req->body;
    int32_t index = kslice_i32(s);
    int64_t offset = kslice_i64(s);
    if (kslice_ok(s))
        delete_one(req, t, index, offset, denied);
}

kerr_t handle_delete_records(struct req *req)
{
    struct kslice *s = &req->body;
    int32_t n_topics = kw_get_array_len(s, false, 6);
    if (!kslice_ok(s))
        return KERR__CLOSE;
    kbuf_put_i32(&req->out, 0); /* throttle_time_ms */
    if (!topic_groups_answer(req, n_topics, 12, ACL_OP_DELETE, delete_part))
        return KERR__CLOSE;
    (void)kslice_i32(s); /* timeout_ms: the move is visible at once */
    return kslice_ok(s) ? KERR_NONE : KERR__CLOSE;
}
