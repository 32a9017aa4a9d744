/*
 * broker/kafka/metadata.c — Metadata (key 3), v0-v8.
 *
 * Request: topics (v0: ARRAY, empty = all; v1+: nullable, null = all,
 * empty = none), allow_auto_topic_creation (v4+), include_*_authorized_
 * operations (v8). Response: throttle (v3+), brokers[node_id, host, port,
 * rack (v1+)], cluster_id (v2+), controller_id (v1+), topics[error_code,
 * name, is_internal (v1+), partitions[error_code, index, leader,
 * leader_epoch (v7+), replicas, isr, offline_replicas (v5+)],
 * topic_authorized_operations (v8)], cluster_authorized_operations (v8).
 * Unknown topics are auto-created when allowed (answer LEADER_NOT_AVAILABLE
 * with no partitions), else UNKNOWN_TOPIC_OR_PARTITION (docs/protocol.md §6.1).
 * With an authorizer, a topic the principal may not DESCRIBE is left out of
 * an all-topics answer and answered TOPIC_AUTHORIZATION_FAILED when named;
 * auto-creation needs CREATE on the cluster or on the topic.
 * Every answer comes from the metadata cache (broker/core/metadata_cache.h),
 * which the active controller keeps current with UpdateMetadata, so every
 * broker gives the same view: live brokers, the controller, leaders, ISRs.
 *
 * A broker that has not received its first UpdateMetadata yet (just
 * started) knows no topic; answering then would describe existing topics
 * as missing (librdkafka drops their partition count to 0) and auto-create
 * them. So the request is parked on its connection's loop (md_wait.h),
 * polled every MD_WAIT_POLL_MS, until the first UpdateMetadata arrives (the
 * controller sends it as soon as the broker registers), at most
 * MD_WAIT_FIRST_MS; past that
 * (no controller reaches the broker) it is answered from the empty cache,
 * topics LEADER_NOT_AVAILABLE (retriable) and never auto-created.
 */
#include "broker/kafka/dispatch.h"
#include "broker/core/admin.h"
#include "broker/core/metadata_cache.h"
#include "broker/core/broker.h"
#include "broker/kafka/authz.h"
#include "broker/kafka/md_wait.h"
#include "common/names.h"

#include <stdlib.h>
#include <string.h>

/* What a Metadata request asks (names point into the request frame). */
struct md_query {
    struct kstr *names; /* owned array; NULL when none */
    int32_t n_topics;   /* -1: null array */
    bool all;
    bool allow_create;
    bool topic_ops;   /* include_topic_authorized_operations (v8+) */
    bool cluster_ops; /* include_cluster_authorized_operations (v8-v10) */
};

static bool is_live(const struct broker_info *live, int n, int32_t id)
{
    for (int i = 0; i < n; i++)
        if (live[i].id == id)
            return true;
    return false;
}

static void put_int_array(struct kbuf *o, const int32_t *v, int n)
{
    kw_put_array_len(o, false, n);
    for (int i = 0; i < n; i++)
        kbuf_put_i32(o, v[i]);
}

static void write_brokers(struct req *req, const struct broker_info *live, int n)
{
    struct kbuf *o = &req->out;
    int16_t v = req->api_version;
    kw_put_array_len(o, false, n);
    for (int i = 0; i < n; i++) {
        const struct broker_endpoint *ep = broker_endpoint_for(&live[i], req->listener);
        kbuf_put_i32(o, live[i].id);
        kw_put_str(o, false, ep->host);
        kbuf_put_i32(o, ep->port);
        if (v >= 1)
            kw_put_nstr(o, false, live[i].rack[0] ? live[i].rack : NULL);
    }
}

static void write_partition(struct req *req, int32_t index, const struct mc_partition *mp,
                            const struct broker_info *live, int n_live)
{
    struct kbuf *o = &req->out;
    int16_t v = req->api_version;
    int32_t offline[MC_MAX_REPLICAS];
    int n_off = 0;
    int32_t leader = mp->leader;
    if (leader >= 0 && !is_live(live, n_live, leader))
        leader = -1;
    for (int i = 0; i < mp->n_replicas; i++)
        if (!is_live(live, n_live, mp->replicas[i]))
            offline[n_off++] = mp->replicas[i];
    kbuf_put_i16(o, leader < 0 ? KERR_LEADER_NOT_AVAILABLE : KERR_NONE);
    kbuf_put_i32(o, index);
    kbuf_put_i32(o, leader);
    if (v >= 7)
        kbuf_put_i32(o, mp->leader_epoch);
    put_int_array(o, mp->replicas, mp->n_replicas);
    put_int_array(o, mp->isr, mp->n_isr);
    if (v >= 5)
        put_int_array(o, offline, n_off);
}

static void write_topic(struct req *req, const struct mc_topic *t, const struct broker_info *live,
                        int n_live, bool ops)
{
    struct kbuf *o = &req->out;
    kbuf_put_i16(o, KERR_NONE);
    kw_put_str(o, false, t->name);
    if (req->api_version >= 1)
        kbuf_put_u8(o, topic_name_internal(t->name, strlen(t->name))); /* is_internal */
    kw_put_array_len(o, false, t->n_parts);
    for (int32_t p = 0; p < t->n_parts; p++)
        write_partition(req, p, &t->parts[p], live, n_live);
    if (req->api_version >= 8)
        kbuf_put_i32(o, ops ? authz_operations(req, ACL_RT_TOPIC, t->name, strlen(t->name))
                            : AUTHZ_OPS_NOT_COMPUTED);
}

/* known: the cache came from the controller; else nothing is known of the
 * topic (the broker has not been told the cluster yet). denied: the
 * principal may not describe it (TOPIC_AUTHORIZATION_FAILED, whether it
 * exists or not). Auto-creation needs CREATE on the cluster or the topic. */
static void write_missing(struct req *req, struct kstr name, bool allow_create, bool known,
                          bool denied)
{
    struct broker *b = req->broker;
    struct kbuf *o = &req->out;
    kerr_t err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
    if (allow_create && b->authz && !authz_cluster(req, ACL_OP_CREATE) &&
        (!name.ptr || !authz_topic(req, ACL_OP_CREATE, name.ptr, (size_t)name.len)))
        allow_create = false;
    if (denied) {
        err = KERR_TOPIC_AUTHORIZATION_FAILED;
    } else if (!topic_name_legal(name.ptr, (size_t)name.len)) {
        err = KERR_INVALID_TOPIC_EXCEPTION;
    } else if (!known) {
        err = KERR_LEADER_NOT_AVAILABLE; /* it may well exist: retriable, never created */
    } else if (topic_name_internal(name.ptr, (size_t)name.len)) {
        /* created with their own settings, never as an ordinary topic */
        if (kstr_eq(name, TOPIC_CONSUMER_OFFSETS) && allow_create &&
            b->cfg->auto_create_topics_enable) {
            admin_create_offsets_topic_async(b);
            err = KERR_LEADER_NOT_AVAILABLE;
        }
    } else if (allow_create && b->cfg->auto_create_topics_enable) {
        admin_auto_create_async(b, name.ptr, (size_t)name.len);
        err = KERR_LEADER_NOT_AVAILABLE;
    }
    kbuf_put_i16(o, err);
    kw_put_kstr(o, false, name);
    if (req->api_version >= 1)
        kbuf_put_u8(o, 0);
    kw_put_array_len(o, false, 0);
    if (req->api_version >= 8)
        kbuf_put_i32(o, AUTHZ_OPS_NOT_COMPUTED);
}

/* Writes the answer to q from the current cache. */
static void write_answer(struct req *req, const struct md_query *q)
{
    struct broker *b = req->broker;
    struct mc_snapshot *snap = mc_get(b->mc);
    const struct broker_info *live = snap->brokers;
    int n_live = snap->n_brokers;
    bool known = mc_from_controller(snap);
    struct kbuf *o = &req->out;
    int16_t v = req->api_version;
    if (v >= 3)
        kbuf_put_i32(o, 0); /* throttle_time_ms */
    write_brokers(req, live, n_live);
    if (v >= 2)
        kw_put_nstr(o, false, b->cluster_id);
    if (v >= 1)
        kbuf_put_i32(o, snap->controller_id);
    if (q->all) { /* the topics the principal may describe */
        size_t at = kw_reserve_array_len(o, false);
        int32_t n = 0;
        for (int i = 0; i < snap->n_topics; i++) {
            const char *name = snap->topics[i].name;
            if (!authz_topic(req, ACL_OP_DESCRIBE, name, strlen(name)))
                continue;
            write_topic(req, &snap->topics[i], live, n_live, q->topic_ops);
            n++;
        }
        kw_patch_array_len(o, false, at, n);
    } else {
        kw_put_array_len(o, false, q->n_topics < 0 ? 0 : q->n_topics);
        for (int32_t i = 0; i < q->n_topics; i++) {
            struct kstr name = q->names[i];
            const struct mc_topic *t =
                name.ptr ? mc_find_topic(snap, name.ptr, (size_t)name.len) : NULL;
            bool denied =
                name.ptr && !authz_topic(req, ACL_OP_DESCRIBE, name.ptr, (size_t)name.len);
            if (t && !denied)
                write_topic(req, t, live, n_live, q->topic_ops);
            else
                write_missing(req, name, q->allow_create, known, denied);
        }
    }
    if (v >= 8)
        kbuf_put_i32(o, q->cluster_ops ? authz_cluster_operations(req) : AUTHZ_OPS_NOT_COMPUTED);
    mc_put(snap);
}

static void md_answer(struct req *req, void *arg) { write_answer(req, arg); }

static void md_query_free(void *arg)
{
    struct md_query *q = arg;
    free(q->names);
    free(q);
}

kerr_t handle_metadata(struct req *req)
{
    struct kslice *s = &req->body;
    int16_t v = req->api_version;
    int32_t n_topics = kw_get_array_len(s, false, 2);
    struct kstr *names = NULL;
    if (n_topics > 0) {
        names = calloc((size_t)n_topics, sizeof(*names));
        if (!names)
            return KERR__CLOSE;
        for (int32_t i = 0; i < n_topics; i++)
            names[i] = kw_get_str(s, false);
    }
    bool allow_create = true;
    if (v >= 4)
        allow_create = kslice_u8(s) != 0;
    bool cluster_ops = false, topic_ops = false;
    if (v >= 8) {
        cluster_ops = kslice_u8(s) != 0;
        topic_ops = kslice_u8(s) != 0;
    }
    if (!kslice_ok(s)) {
        free(names);
        return KERR__CLOSE;
    }
    struct md_query q = {.names = names,
                         .n_topics = n_topics,
                         .all = n_topics < 0 || (v == 0 && n_topics == 0),
                         .allow_create = allow_create,
                         .topic_ops = topic_ops,
                         .cluster_ops = cluster_ops};
    /* in a cluster, wait for the controller's first UpdateMetadata */
    if (md_wait_needed(req)) {
        struct md_query *parked = malloc(sizeof(*parked));
        if (!parked) {
            free(names);
            return KERR__CLOSE;
        }
        *parked = q;
        return md_wait_park(req, md_answer, parked, md_query_free);
    }
    write_answer(req, &q);
    free(names);
    return KERR_NONE;
}
