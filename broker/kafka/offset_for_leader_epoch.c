/*
 * broker/kafka/offset_for_leader_epoch.c — OffsetForLeaderEpoch (key 23),
 * v0-v4 (docs/architecture.md §6, docs/protocol.md §6.4).
 *
 * Request: replica_id INT32 (v3+; -1 = consumer, else a follower's broker
 * id), topics[topic STRING, partitions[partition INT32,
 * current_leader_epoch INT32 (v2+; -1 = not checked), leader_epoch INT32]].
 * Response: throttle_time_ms INT32 (v2+), topics[topic STRING,
 * partitions[error_code INT16, partition INT32, leader_epoch INT32 (v1+),
 * end_offset INT64]]. v4 is flexible: compact strings and arrays, a tag
 * section after every struct and at the end of the body.
 *
 * Per partition the answer is the largest epoch <= leader_epoch that this
 * replica's log knows and where it ends (the LEO for the newest epoch),
 * -1/-1 when unknown (partition_end_offset_for_epoch()). Consumers
 * (replica_id -1, and every request before v3, which carries no
 * replica_id) must ask the leader (else NOT_LEADER_OR_FOLLOWER); a
 * broker (replica_id >= 0) is answered from whichever replica it asks, if
 * it may CLUSTER_ACTION (else every partition CLUSTER_AUTHORIZATION_FAILED).
 */
#include "broker/kafka/authz.h"
#include "broker/kafka/dispatch.h"
#include "broker/replication/partition.h"
#include "broker/core/broker.h"
#include "broker/replication/topics.h"

/* One partition entry of the request. Plain value. */
struct olep_part {
    int32_t index;                /* partition */
    int32_t current_leader_epoch; /* -1: not checked */
    int32_t leader_epoch;         /* the epoch asked about */
};

/* Answers one partition into req->out. t may be NULL (unknown topic). */
static void answer_one(struct req *req, struct topic *t, const struct olep_part *p,
                       bool need_leader, kerr_t denied)
{
    struct kbuf *o = &req->out;
    int32_t end_epoch = -1;
    int64_t end_offset = -1;
    kerr_t err;

    if (denied)
        err = denied;
    else if (!t || p->index < 0 || p->index >= t->n_parts || !topic_part(t, p->index))
        err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
    else
        err = partition_end_offset_for_epoch(topic_part(t, p->index), req->broker->id, need_leader,
                                             p->current_leader_epoch, p->leader_epoch, &end_epoch,
                                             &end_offset);
    if (err < 0) /* internal codes never reach the wire */
        err = KERR_UNKNOWN_SERVER_ERROR;
    if (err != KERR_NONE) {
        end_epoch = -1;
        end_offset = -1;
    }
    kbuf_put_i16(o, err);
    kbuf_put_i32(o, p->index);
    if (req->api_version >= 1)
        kbuf_put_i32(o, end_epoch);
    kbuf_put_i64(o, end_offset);
    kw_put_tags(o, req->flex);
}

/* Decodes and answers the partitions of one topic; cluster_denied: a
 * follower without CLUSTER_ACTION (every partition gets it). */
static kerr_t answer_topic(struct req *req, bool need_leader, kerr_t cluster_denied)
{
    struct kslice *s = &req->body;
    struct kbuf *o = &req->out;
    bool flex = req->flex;
    int16_t v = req->api_version;
    struct kstr name = kw_get_str(s, flex);
    int32_t np = kw_get_array_len(s, flex, v >= 2 ? 12 : 8);
    struct topic *t;

    if (!kslice_ok(s) || !name.ptr || np < 0)
        return KERR__CLOSE;
    /* followers are checked on the cluster; consumers need DESCRIBE */
    kerr_t denied = cluster_denied;
    if (need_leader && !authz_topic(req, ACL_OP_DESCRIBE, name.ptr, (size_t)name.len))
        denied = KERR_TOPIC_AUTHORIZATION_FAILED;
    t = denied ? NULL : topics_get(req->broker->topics, name.ptr, (size_t)name.len);
    kw_put_kstr(o, flex, name);
    kw_put_array_len(o, flex, np);
    for (int32_t j = 0; j < np && kslice_ok(s); j++) {
        struct olep_part p = {.current_leader_epoch = -1};
        p.index = kslice_i32(s);
        if (v >= 2)
            p.current_leader_epoch = kslice_i32(s);
        p.leader_epoch = kslice_i32(s);
        kw_skip_tags(s, flex);
        if (kslice_ok(s))
            answer_one(req, t, &p, need_leader, denied);
    }
    topic_unref(t);
    kw_skip_tags(s, flex);
    kw_put_tags(o, flex);
    return kslice_ok(s) ? KERR_NONE : KERR__CLOSE;
}

kerr_t handle_offset_for_leader_epoch(struct req *req)
{
    struct kslice *s = &req->body;
    struct kbuf *o = &req->out;
    int16_t v = req->api_version;
    int32_t replica_id = v >= 3 ? kslice_i32(s) : -1;
    int32_t n_topics = kw_get_array_len(s, req->flex, 2);
    /* Before v3 there is no replica_id: treat the asker as a consumer. */
    bool need_leader = replica_id < 0;

    if (!kslice_ok(s) || n_topics < 0)
        return KERR__CLOSE;
    /* a follower needs CLUSTER_ACTION (Kafka answers every partition
     * CLUSTER_AUTHORIZATION_FAILED); a consumer's topics are checked one by one */
    kerr_t cluster_denied = replica_id >= 0 && !authz_cluster(req, ACL_OP_CLUSTER_ACTION)
                                ? KERR_CLUSTER_AUTHORIZATION_FAILED
                                : KERR_NONE;
    if (v >= 2)
        kbuf_put_i32(o, 0); /* throttle_time_ms */
    kw_put_array_len(o, req->flex, n_topics);
    for (int32_t i = 0; i < n_topics; i++)
        if (answer_topic(req, need_leader, cluster_denied) != KERR_NONE)
            return KERR__CLOSE;
    kw_skip_tags(s, req->flex);
    kw_put_tags(o, req->flex);
    return kslice_ok(s) ? KERR_NONE : KERR__CLOSE;
}
