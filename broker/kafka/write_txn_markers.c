/*
 * broker/kafka/write_txn_markers.c — WriteTxnMarkers (key 27), v0-v1 (v1
 * flexible); inter-broker: the transaction coordinator asks partition
 * leaders to end a transaction (docs/protocol.md §6.8).
 *
 * Request: markers[producer_id INT64, producer_epoch INT16,
 * transaction_result BOOLEAN (true = commit), topics[name STRING,
 * partition_indexes INT32[]], coordinator_epoch INT32].
 * Response: markers[producer_id INT64, topics[name STRING,
 * partitions[partition_index INT32, error_code INT16]]], in request order.
 *
 * Each partition gets a control batch (storage/plog_txn.c) from its leader:
 * NOT_LEADER_OR_FOLLOWER elsewhere, INVALID_PRODUCER_EPOCH for an older
 * producer epoch, TRANSACTION_COORDINATOR_FENCED for an older coordinator
 * epoch, NOT_ENOUGH_REPLICAS below min.insync.replicas. Like acks=all, the
 * response waits until the high watermark passes every written marker (at
 * most WTM_TIMEOUT_MS, then REQUEST_TIMED_OUT). Only brokers send it: on a
 * listener other than the inter-broker one, or when the authorizer refuses
 * the principal ClusterAction on the cluster, every partition is answered
 * CLUSTER_AUTHORIZATION_FAILED (Kafka's answer to a client without
 * ClusterAction) and nothing is written. A replicated marker on a
 * `__consumer_offsets` partition also commits or drops the producer's
 * transactional offsets there (group_runtime_txn_marker()).
 */
#include "broker/kafka/authz.h"
#include "broker/kafka/delayed.h"
#include "broker/kafka/dispatch.h"
#include "broker/core/broker.h"
#include "broker/core/group_runtime.h"
#include "broker/replication/topics.h"
#include "broker/storage/plog.h"
#include "common/clock.h"
#include "common/vec.h"

#include <stdlib.h>
#include <string.h>

#define WTM_TIMEOUT_MS 30000

struct wtm_part {
    int32_t index;
    kerr_t err;
    int64_t offset;
    int32_t leader_epoch;
    int64_t producer_id;
    bool commit;
    struct topic *t; /* referenced while waiting */
    bool waiting, watched;
    struct pwaiter waiter;
};

struct wtm_topic {
    struct kstr name; /* view into the frame */
    int32_t n_parts;
};

struct wtm_marker {
    int64_t producer_id;
    int32_t n_topics;
};

struct wtm_op {
    struct req *req;
    VEC(struct wtm_marker) markers;
    VEC(struct wtm_topic) topics;
    VEC(struct wtm_part) parts;
    struct delayed d;
};

static struct partition *wp_partition(const struct wtm_part *p)
{
    return p->t ? topic_part(p->t, p->index) : NULL;
}

static void wtm_free(struct wtm_op *op)
{
    for (size_t i = 0; i < op->parts.n; i++) {
        struct wtm_part *p = &op->parts.v[i];
        if (p->watched)
            partition_unwatch(wp_partition(p), &p->waiter);
        topic_unref(p->t);
    }
    delayed_release(&op->d);
    VEC_FREE(op->markers);
    VEC_FREE(op->topics);
    VEC_FREE(op->parts);
    free(op);
}

static bool from_inter_broker(const struct req *req)
{
    const struct broker *b = req->broker;
    const char *inter = b->cfg->listener[b->cfg->inter_broker_listener].name;
    return req->listener && strcmp(req->listener, inter) == 0;
}

/* Writes one partition's marker. */
static void write_one(struct topic *t, const struct plog_marker *m, struct wtm_part *p,
                      bool allowed)
{
    if (!allowed) {
        p->err = KERR_CLUSTER_AUTHORIZATION_FAILED;
        return;
    }
    if (!t || p->index < 0 || p->index >= t->n_parts || !topic_part(t, p->index)) {
        p->err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
        return;
    }
    p->err = partition_append_marker(topic_part(t, p->index), m, clock_wall_ms(), &p->offset,
                                     &p->leader_epoch);
    if (p->err != KERR_NONE)
        return;
    p->waiting = true;
    p->producer_id = m->producer_id;
    p->commit = m->commit;
    topic_ref(t);
    p->t = t;
}

/* A replicated marker on `__consumer_offsets` completes the producer's
 * transactional offset commits there (Kafka's scheduleHandleTxnCompletion),
 * posted to the group worker before the response leaves, so a
 * TxnOffsetCommit of the producer's next transaction is prepared after it. */
static void wtm_offsets_done(const struct req *req, const struct wtm_part *p)
{
    if (req->broker->groups && strcmp(p->t->name, TOPIC_CONSUMER_OFFSETS) == 0)
        group_runtime_txn_marker(req->broker->groups, p->index, p->leader_epoch, p->producer_id,
                                 p->commit, p->offset);
}

/* Parses the request and writes every marker; false on a malformed
 * request or OOM. */
static bool wtm_all(struct wtm_op *op, struct kslice *s)
{
    struct req *req = op->req;
    /* only brokers write markers: Kafka's ClusterAction check, plus the
     * inter-broker listener */
    bool flex = req->flex,
         allowed = from_inter_broker(req) && authz_cluster(req, ACL_OP_CLUSTER_ACTION);
    int32_t nm = kw_get_array_len(s, flex, 8 + 2 + 1 + 1 + 4);

    if (!kslice_ok(s) || nm < 0)
        return false;
    for (int32_t i = 0; i < nm; i++) {
        struct plog_marker m = {.producer_id = kslice_i64(s)};
        m.producer_epoch = kslice_i16(s);
        m.commit = kslice_u8(s) != 0;
        int32_t nt = kw_get_array_len(s, flex, 2);
        if (!kslice_ok(s) || nt < 0 || m.producer_id < 0)
            return false;
        /* coordinator_epoch follows the topics: parse them first */
        size_t first_topic = op->topics.n, first_part = op->parts.n;
        for (int32_t j = 0; j < nt; j++) {
            struct wtm_topic wt = {.name = kw_get_str(s, flex)};
            wt.n_parts = kw_get_array_len(s, flex, 4);
            if (!kslice_ok(s) || !wt.name.ptr || wt.n_parts < 0)
                return false;
            for (int32_t k = 0; k < wt.n_parts; k++) {
                struct wtm_part p = {.index = kslice_i32(s), .offset = -1};
                if (!kslice_ok(s) || !VEC_PUSH(op->parts, p))
                    return false;
            }
            kw_skip_tags(s, flex);
            if (!VEC_PUSH(op->topics, wt))
                return false;
        }
        m.coordinator_epoch = kslice_i32(s);
        kw_skip_tags(s, flex);
        struct wtm_marker wm = {.producer_id = m.producer_id, .n_topics = nt};
        if (!kslice_ok(s) || !VEC_PUSH(op->markers, wm))
            return false;
        size_t pi = first_part;
        for (size_t j = first_topic; j < op->topics.n; j++) {
            const struct wtm_topic *wt = &op->topics.v[j];
            struct topic *t = topics_get(req->broker->topics, wt->name.ptr, (size_t)wt->name.len);
            for (int32_t k = 0; k < wt->n_parts; k++, pi++)
                write_one(t, &m, &op->parts.v[pi], allowed);
            topic_unref(t);
        }
    }
    kw_skip_tags(s, flex);
    return kslice_ok(s);
}

static void wtm_encode(struct wtm_op *op)
{
    struct req *req = op->req;
    struct kbuf *o = &req->out;
    bool flex = req->flex;
    size_t ti = 0, pi = 0;

    kw_put_array_len(o, flex, (int32_t)op->markers.n);
    for (size_t i = 0; i < op->markers.n; i++) {
        kbuf_put_i64(o, op->markers.v[i].producer_id);
        kw_put_array_len(o, flex, op->markers.v[i].n_topics);
        for (int32_t j = 0; j < op->markers.v[i].n_topics; j++, ti++) {
            const struct wtm_topic *wt = &op->topics.v[ti];
            kw_put_kstr(o, flex, wt->name);
            kw_put_array_len(o, flex, wt->n_parts);
            for (int32_t k = 0; k < wt->n_parts; k++, pi++) {
                kbuf_put_i32(o, op->parts.v[pi].index);
                kbuf_put_i16(o, kerr_to_wire(op->parts.v[pi].err));
                kw_put_tags(o, flex);
            }
            kw_put_tags(o, flex);
        }
        kw_put_tags(o, flex);
    }
    kw_put_tags(o, flex);
}

/* True when no partition waits for its marker to be replicated. */
static bool wtm_check_acks(struct wtm_op *op, bool timed_out)
{
    bool waiting = false;
    for (size_t i = 0; i < op->parts.n; i++) {
        struct wtm_part *p = &op->parts.v[i];
        if (!p->waiting)
            continue;
        kerr_t st = partition_ack_status(wp_partition(p), p->offset, p->leader_epoch);
        if (st == KERR__AGAIN && timed_out)
            st = KERR_REQUEST_TIMED_OUT;
        if (st == KERR__AGAIN) {
            waiting = true;
            continue;
        }
        p->waiting = false;
        p->err = st;
        if (st == KERR_NONE)
            wtm_offsets_done(op->req, p);
    }
    return !waiting;
}

static bool wtm_check(void *arg, bool timed_out)
{
    struct wtm_op *op = arg;
    if (!wtm_check_acks(op, timed_out))
        return false;
    wtm_encode(op);
    return true;
}

static void wtm_destroy(void *op) { wtm_free(op); }

static kerr_t wtm_park(struct wtm_op *op)
{
    if (!delayed_init(&op->d, op->req, wtm_check, wtm_destroy, op))
        return KERR__NOMEM;
    for (size_t i = 0; i < op->parts.n; i++) {
        struct wtm_part *p = &op->parts.v[i];
        if (!p->waiting)
            continue;
        p->waiter = (struct pwaiter){
            .wake = delayed_waiter_wake, .owner = &op->d, .what = "write_txn_markers"};
        partition_watch(wp_partition(p), &p->waiter);
        p->watched = true;
    }
    return delayed_park(&op->d, WTM_TIMEOUT_MS);
}

kerr_t handle_write_txn_markers(struct req *req)
{
    struct wtm_op *op = calloc(1, sizeof(*op));
    if (!op)
        return KERR__CLOSE;
    op->req = req;
    if (!wtm_all(op, &req->body)) {
        wtm_free(op);
        return KERR__CLOSE;
    }
    if (!wtm_check_acks(op, false) && wtm_park(op) == KERR__PENDING)
        return KERR__PENDING;
    wtm_check_acks(op, true);
    wtm_encode(op);
    wtm_free(op);
    return KERR_NONE;
}
