/*
 * broker/kafka/find_coordinator.c — FindCoordinator (key 10), v0-v4
 * (codec: group_codec_member.c).
 *
 * A group's coordinator is the leader of partition
 * coord_partition_for(group id) of `__consumer_offsets`
 * (broker/group/coord_hash.h), as this broker's metadata cache knows it;
 * the answer names that broker's endpoint on the listener the request came
 * in on. While the topic does not exist its creation is requested
 * (admin_create_offsets_topic_async(): it fails while fewer brokers are
 * alive than offsets.topic.replication.factor) and the answer is
 * COORDINATOR_NOT_AVAILABLE, which clients retry; so is a partition without
 * a live leader. A transactional id's coordinator (key_type 1) is found the
 * same way in `__transaction_state` (transaction.state.log.num.partitions,
 * created by admin_create_txn_topic_async()); an empty transactional id, one
 * longer than TXN_ID_MAX, or any other key_type is INVALID_REQUEST.
 */
#include "broker/core/admin.h"
#include "broker/core/broker.h"
#include "broker/core/metadata_cache.h"
#include "broker/group/coord_hash.h"
#include "broker/kafka/authz.h"
#include "broker/kafka/dispatch.h"
#include "broker/kafka/group_codec.h"
#include "broker/txn/txn_log_format.h"

#include <stdlib.h>
#include <string.h>

/* The coordinator of key in snapshot s for a client of `listener`. Borrows
 * host from s. */
static void find_one(struct req *req, const struct mc_snapshot *s, int8_t key_type, struct kstr key,
                     struct gcodec_coordinator *out)
{
    *out = (struct gcodec_coordinator){.node_id = -1, .host = "", .port = -1};
    const char *topic = TOPIC_CONSUMER_OFFSETS;
    if (key_type == 1) {
        if (!key.ptr || key.len <= 0 || key.len > TXN_ID_MAX) {
            out->err = KERR_INVALID_REQUEST;
            out->err_msg = "a transactional id must be 1 to 32767 bytes";
            return;
        }
        topic = TOPIC_TRANSACTION_STATE;
    } else if (key_type != 0) {
        out->err = KERR_INVALID_REQUEST;
        out->err_msg = "unknown key_type (0 group, 1 transaction)";
        return;
    }
    if (!authz_check(req, ACL_OP_DESCRIBE, key_type == 1 ? ACL_RT_TRANSACTIONAL_ID : ACL_RT_GROUP,
                     key.ptr ? key.ptr : "", key.ptr ? (size_t)key.len : 0)) {
        out->err = key_type == 1 ? KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED
                                 : KERR_GROUP_AUTHORIZATION_FAILED;
        return;
    }
    const struct mc_topic *t = mc_find_topic(s, topic, strlen(topic));
    if (!t || t->n_parts <= 0) {
        if (key_type == 1) {
            admin_create_txn_topic_async(req->broker);
            out->err_msg = "the transaction state topic is being created";
        } else {
            admin_create_offsets_topic_async(req->broker);
            out->err_msg = "the offsets topic is being created";
        }
        out->err = KERR_COORDINATOR_NOT_AVAILABLE;
        return;
    }
    int32_t p =
        coord_partition_for(key.ptr ? key.ptr : "", key.ptr ? (size_t)key.len : 0, t->n_parts);
    int32_t leader = t->parts[p].leader;
    for (int i = 0; leader >= 0 && i < s->n_brokers; i++) {
        if (s->brokers[i].id != leader)
            continue;
        const struct broker_endpoint *ep = broker_endpoint_for(&s->brokers[i], req->listener);
        out->node_id = leader;
        out->host = ep->host;
        out->port = ep->port;
        return;
    }
    out->err = KERR_COORDINATOR_NOT_AVAILABLE;
    out->err_msg = "the coordinator's partition has no live leader";
}

kerr_t handle_find_coordinator(struct req *req)
{
    int16_t v = req->api_version;
    struct gcodec_find_coord_req r = {0};
    if (!gcodec_find_coord_req_decode(&req->body, v, &r)) {
        gcodec_find_coord_req_free(&r);
        return KERR__CLOSE;
    }
    struct gcodec_coordinator *out =
        calloc((size_t)(r.key_count > 0 ? r.key_count : 1), sizeof(*out));
    char **names = calloc((size_t)(r.key_count > 0 ? r.key_count : 1), sizeof(*names));
    if (!out || !names) {
        free(out);
        free(names);
        gcodec_find_coord_req_free(&r);
        return KERR__CLOSE;
    }
    struct mc_snapshot *s = mc_get(req->broker->mc);
    for (int32_t i = 0; i < r.key_count; i++) {
        find_one(req, s, r.key_type, r.keys[i], &out[i]);
        if (v >= 4) /* v4 echoes each key */
            out[i].key = names[i] = kstr_dup(r.keys[i]);
    }
    gcodec_find_coord_resp_encode(&req->out, v, 0, out, r.key_count);
    mc_put(s);
    for (int32_t i = 0; i < r.key_count; i++)
        free(names[i]);
    free(out);
    free(names);
    gcodec_find_coord_req_free(&r);
    return KERR_NONE;
}
