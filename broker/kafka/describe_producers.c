/*
 * broker/kafka/describe_producers.c — DescribeProducers (key 61, v0,
 * flexible; Kafka's KIP-664).
 *
 * Request: topics [name compact string, partition_indexes compact int32[]].
 * Response: throttle_time_ms int32, topics [name, partitions [
 * partition_index int32, error_code int16, error_message compact nullable
 * string, active_producers [producer_id int64, producer_epoch int32,
 * last_sequence int32, last_timestamp int64, coordinator_epoch int32,
 * current_txn_start_offset int64]]], tagged fields after every struct.
 *
 * Each asked partition is answered, in the order asked, from the
 * idempotent-producer state of its log (storage/producer_state.h) when this
 * broker leads it: NOT_LEADER_OR_FOLLOWER otherwise (clients ask the
 * leader, as Kafka's admin client does), UNKNOWN_TOPIC_OR_PARTITION for a
 * topic or partition that does not exist here, TOPIC_AUTHORIZATION_FAILED
 * for a topic the principal may not READ. last_timestamp is the max
 * timestamp of the producer's last batch; coordinator epoch is that of its
 * last transaction marker and transaction start the first offset of its
 * open transaction (-1 when none). Runs on the network loop: the topic
 * registry and each partition's lock, briefly.
 */
#include "broker/kafka/authz.h"
#include "broker/kafka/dispatch.h"
#include "broker/core/broker.h"
#include "broker/replication/topics.h"
#include "broker/storage/producer_state.h"

#include <stdlib.h>

static const char *err_message(kerr_t err)
{
    switch (err) {
    case KERR_NOT_LEADER_OR_FOLLOWER:
        return "this broker does not lead the partition";
    case KERR_UNKNOWN_TOPIC_OR_PARTITION:
        return "unknown topic or partition";
    case KERR_TOPIC_AUTHORIZATION_FAILED:
        return "not authorized to read the topic";
    default:
        return NULL;
    }
}

/* denied: TOPIC_AUTHORIZATION_FAILED for a topic the principal may not READ. */
static kerr_t put_partition(struct req *req, struct topic *t, int32_t index, kerr_t denied)
{
    struct kbuf *o = &req->out;
    struct pstate_entry *e = NULL;
    size_t n = 0;
    kerr_t err = denied ? denied : KERR_UNKNOWN_TOPIC_OR_PARTITION;

    if (!denied && t && index >= 0 && index < atomic_load(&t->n_parts))
        err = partition_producers(topic_part(t, index), &e, &n);
    if (err == KERR__NOMEM)
        return err;
    kbuf_put_i32(o, index);
    kbuf_put_i16(o, err);
    kw_put_nstr(o, true, err_message(err));
    kw_put_array_len(o, true, (int32_t)n);
    for (size_t i = 0; i < n; i++) {
        kbuf_put_i64(o, e[i].producer_id);
        kbuf_put_i32(o, e[i].epoch);
        kbuf_put_i32(o, pstate_last_seq(&e[i]));
        kbuf_put_i64(o, e[i].n ? pstate_last_batch(&e[i])->timestamp : e[i].last_update_ms);
        kbuf_put_i32(o, e[i].coordinator_epoch);
        kbuf_put_i64(o, e[i].txn_first_offset);
        kw_put_tags(o, true);
    }
    kw_put_tags(o, true);
    free(e);
    return KERR_NONE;
}

kerr_t handle_describe_producers(struct req *req)
{
    struct kslice *s = &req->body;
    struct kbuf *o = &req->out;
    int32_t nt = kw_get_array_len(s, true, 2);

    if (!kslice_ok(s) || nt < 0)
        return KERR__CLOSE;
    kbuf_put_i32(o, 0); /* throttle_time_ms */
    kw_put_array_len(o, true, nt);
    for (int32_t i = 0; i < nt; i++) {
        struct kstr name = kw_get_str(s, true);
        int32_t np = kw_get_array_len(s, true, 4);
        if (!kslice_ok(s) || !name.ptr || np < 0)
            return KERR__CLOSE;
        bool allowed = authz_topic(req, ACL_OP_READ, name.ptr, (size_t)name.len);
        struct topic *t =
            allowed ? topics_get(req->broker->topics, name.ptr, (size_t)name.len) : NULL;
        kw_put_kstr(o, true, name);
        kw_put_array_len(o, true, np);
        for (int32_t j = 0; j < np; j++) {
            int32_t index = kslice_i32(s);
            kerr_t err = kslice_ok(s)
                             ? put_partition(req, t, index,
                                             allowed ? KERR_NONE : KERR_TOPIC_AUTHORIZATION_FAILED)
                             : KERR__CLOSE;
            if (err != KERR_NONE) {
                topic_unref(t);
                return err;
            }
        }
        topic_unref(t);
        kw_skip_tags(s, true);
        kw_put_tags(o, true);
    }
    kw_skip_tags(s, true);
    if (!kslice_ok(s))
        return KERR__CLOSE;
    kw_put_tags(o, true);
    return KERR_NONE;
}
