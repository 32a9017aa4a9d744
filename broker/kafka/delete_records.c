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
#include "broker/kafka/dispatch.h"
#include "broker/core/broker.h"
#include "broker/replication/topics.h"

static void delete_one(struct req *req, struct topic *t, int32_t index, int64_t offset)
{
    struct kbuf *o = &req->out;
    int64_t low = -1;
    int32_t epoch;
    kerr_t err;
    if (!t || index < 0 || index >= t->n_parts)
        err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
    else if (partition_leader(t->parts[index], &epoch) != req->broker->id)
        err = KERR_NOT_LEADER_OR_FOLLOWER;
    else
        err = partition_delete_records(t->parts[index], offset, &low);
    kbuf_put_i32(o, index);
    kbuf_put_i64(o, low);
    kbuf_put_i16(o, err);
}

kerr_t handle_delete_records(struct req *req)
{
    struct kslice *s = &req->body;
    struct kbuf *o = &req->out;
    int32_t n_topics = kw_get_array_len(s, false, 6);
    if (!kslice_ok(s))
        return KERR__CLOSE;
    kbuf_put_i32(o, 0); /* throttle_time_ms */
    kw_put_array_len(o, false, n_topics < 0 ? 0 : n_topics);
    for (int32_t i = 0; i < n_topics && kslice_ok(s); i++) {
        struct kstr name = kw_get_str(s, false);
        int32_t np = kw_get_array_len(s, false, 12);
        if (!kslice_ok(s) || !name.ptr)
            return KERR__CLOSE;
        struct topic *t = topics_get(req->broker->topics, name.ptr, (size_t)name.len);
        kw_put_kstr(o, false, name);
        kw_put_array_len(o, false, np < 0 ? 0 : np);
        for (int32_t j = 0; j < np && kslice_ok(s); j++) {
            int32_t index = kslice_i32(s);
            int64_t offset = kslice_i64(s);
            if (kslice_ok(s))
                delete_one(req, t, index, offset);
        }
        topic_unref(t);
    }
    (void)kslice_i32(s); /* timeout_ms: the move is visible at once */
    return kslice_ok(s) ? KERR_NONE : KERR__CLOSE;
}
