/*
 * broker/kafka/reassign.c — AlterPartitionReassignments (key 45, v0,
 * flexible) and ListPartitionReassignments (key 46, v0, flexible), KIP-455.
 *
 * AlterPartitionReassignments request: timeout_ms int32, topics [name
 * string, partitions [partition_index int32, replicas nullable int32[]
 * (null: cancel)]]. Response: throttle_time_ms int32, error_code int16,
 * error_message nullable string, responses [name, partitions
 * [partition_index int32, error_code int16, error_message nullable
 * string]].
 * ListPartitionReassignments request: timeout_ms int32, topics nullable
 * [name, partition_indexes int32[]] (null: every reassignment in
 * progress). Response: throttle_time_ms, error_code, error_message,
 * topics [name, partitions [partition_index, replicas int32[],
 * adding_replicas int32[], removing_replicas int32[]]].
 *
 * As in Kafka, only the active controller serves them: on any other broker
 * the answer is the top-level NOT_CONTROLLER (clients send them to the
 * controller Metadata names). On the controller the work runs on its loop
 * (controller_alter_reassignments(), controller_list_reassignments(),
 * controller/ctrl_reassign.c); the request stays pending and the callback
 * writes the response and calls req_complete(). Per-partition errors:
 * UNKNOWN_TOPIC_OR_PARTITION, INVALID_REPLICA_ASSIGNMENT (empty list,
 * duplicates, a broker that is not live and registered, named in the
 * message), NO_REASSIGNMENT_IN_PROGRESS (cancel of nothing).
 */
#include "broker/kafka/authz.h"
#include "broker/kafka/dispatch.h"
#include "broker/core/broker.h"
#include "common/vec.h"
#include "controller/controller.h"

#include <stdlib.h>
#include <string.h>

#define RA_MAX_PARTITIONS 100000

struct ra_part {
    char *topic; /* owned */
    int32_t partition;
    int n_replicas; /* -1: null (cancel); may exceed what is kept */
    int32_t replicas[CONTROLLER_MAX_REPLICAS + 1];
};

/* A decoded request, owned by the handler, then by the pending callback. */
struct ra_req {
    struct req *req;
    bool all; /* List: topics was null */
    int n;
    size_t cap;
    struct ra_part *v;
};

static void ra_req_free(struct ra_req *rr)
{
    if (!rr)
        return;
    for (int i = 0; i < rr->n; i++)
        free(rr->v[i].topic);
    free(rr->v);
    free(rr);
}

static struct ra_part *ra_add(struct ra_req *rr, struct kstr topic, int32_t p)
{
    if (rr->n >= RA_MAX_PARTITIONS || !VEC_RESERVE_AT(rr->v, rr->cap, (size_t)rr->n + 1))
        return NULL;
    struct ra_part *e = &rr->v[rr->n];
    *e = (struct ra_part){.topic = kstr_dup(topic), .partition = p};
    if (!e->topic)
        return NULL;
    rr->n++;
    return e;
}

/* Writes the top of a response: throttle, error code and message. */
static void put_top(struct kbuf *o, int16_t err, const char *msg)
{
    kbuf_put_i32(o, 0); /* throttle_time_ms */
    kbuf_put_i16(o, err);
    kw_put_nstr(o, true, msg);
}

/* ---- AlterPartitionReassignments ------------------------------------------ */

static bool alter_decode(struct req *req, struct ra_req *rr)
{
    struct kslice *s = &req->body;
    (void)kslice_i32(s); /* timeout_ms: the start is done when we answer */
    int32_t nt = kw_get_array_len(s, true, 2);
    for (int32_t i = 0; i < nt && kslice_ok(s); i++) {
        struct kstr topic = kw_get_str(s, true);
        int32_t np = kw_get_array_len(s, true, 5);
        if (!kslice_ok(s) || !topic.ptr || np < 0)
            return false;
        for (int32_t k = 0; k < np && kslice_ok(s); k++) {
            struct ra_part *e = ra_add(rr, topic, kslice_i32(s));
            int32_t nr = kw_get_array_len(s, true, 4);
            if (!e || !kslice_ok(s))
                return false;
            e->n_replicas = nr < 0 ? -1 : nr;
            for (int32_t r = 0; r < nr && kslice_ok(s); r++) {
                int32_t id = kslice_i32(s);
                if (r <= CONTROLLER_MAX_REPLICAS)
                    e->replicas[r] = id;
            }
            kw_skip_tags(s, true);
        }
        kw_skip_tags(s, true);
    }
    kw_skip_tags(s, true);
    return nt >= 0 && kslice_ok(s);
}

/* Writes the per-partition answers, grouped by runs of the same topic. */
static void alter_write(struct ra_req *rr, int16_t top, const char *top_msg, const int16_t *errs,
                        const char *const *msgs)
{
    struct kbuf *o = &rr->req->out;
    put_top(o, top, top_msg);
    size_t at = kw_reserve_array_len(o, true);
    int n_topics = 0;
    for (int i = 0; i < rr->n;) {
        int j = i;
        while (j < rr->n && strcmp(rr->v[j].topic, rr->v[i].topic) == 0)
            j++;
        n_topics++;
        kw_put_str(o, true, rr->v[i].topic);
        kw_put_array_len(o, true, j - i);
        for (int k = i; k < j; k++) {
            kbuf_put_i32(o, rr->v[k].partition);
            kbuf_put_i16(o, errs ? errs[k] : top);
            kw_put_nstr(o, true, msgs ? msgs[k] : top_msg);
            kw_put_tags(o, true);
        }
        kw_put_tags(o, true);
        i = j;
    }
    kw_patch_array_len(o, true, at, n_topics);
    kw_put_tags(o, true);
}

static void alter_done(void *arg, int n, const int16_t *errors, const char *const *messages)
{
    struct ra_req *rr = arg;
    struct req *req = rr->req;
    if (n != rr->n) /* the controller could not be reached */
        alter_write(rr, KERR_NOT_CONTROLLER, "this broker is not the active controller", NULL,
                    NULL);
    else
        alter_write(rr, KERR_NONE, NULL, errors, messages);
    ra_req_free(rr);
    req_complete(req);
}

kerr_t handle_alter_partition_reassignments(struct req *req)
{
    struct ra_req *rr = calloc(1, sizeof(*rr));
    if (!rr)
        return KERR__CLOSE;
    rr->req = req;
    if (!alter_decode(req, rr)) {
        ra_req_free(rr);
        return KERR__CLOSE;
    }
    struct controller *c = req->broker->controller;
    if (!authz_cluster(req, ACL_OP_ALTER)) {
        alter_write(rr, KERR_CLUSTER_AUTHORIZATION_FAILED, NULL, NULL, NULL);
    } else if (!c || !controller_is_active(c)) {
        alter_write(rr, KERR_NOT_CONTROLLER, "this broker is not the active controller", NULL,
                    NULL);
    } else if (rr->n == 0) {
        alter_write(rr, KERR_NONE, NULL, NULL, NULL);
    } else {
        struct controller_reassign *v = calloc((size_t)rr->n, sizeof(*v));
        if (!v) {
            ra_req_free(rr);
            return KERR__CLOSE;
        }
        for (int i = 0; i < rr->n; i++)
            v[i] = (struct controller_reassign){rr->v[i].topic, rr->v[i].partition,
                                                rr->v[i].n_replicas, rr->v[i].replicas};
        controller_alter_reassignments(c, rr->n, v, alter_done, rr);
        free(v);
        return KERR__PENDING;
    }
    ra_req_free(rr);
    return KERR_NONE;
}

/* ---- ListPartitionReassignments ------------------------------------------- */

static bool list_decode(struct req *req, struct ra_req *rr)
{
    struct kslice *s = &req->body;
    (void)kslice_i32(s); /* timeout_ms */
    int32_t nt = kw_get_array_len(s, true, 2);
    rr->all = nt < 0;
    for (int32_t i = 0; i < nt && kslice_ok(s); i++) {
        struct kstr topic = kw_get_str(s, true);
        int32_t np = kw_get_array_len(s, true, 4);
        if (!kslice_ok(s) || !topic.ptr || np < 0)
            return false;
        for (int32_t k = 0; k < np && kslice_ok(s); k++)
            if (!ra_add(rr, topic, kslice_i32(s)))
                return false;
        kw_skip_tags(s, true);
    }
    kw_skip_tags(s, true);
    return kslice_ok(s);
}

static bool list_wanted(const struct ra_req *rr, const struct controller_reassignment *r)
{
    if (rr->all)
        return true;
    for (int i = 0; i < rr->n; i++)
        if (rr->v[i].partition == r->partition && strcmp(rr->v[i].topic, r->topic) == 0)
            return true;
    return false;
}

static void put_ids(struct kbuf *o, const int32_t *v, int n)
{
    kw_put_array_len(o, true, n);
    for (int i = 0; i < n; i++)
        kbuf_put_i32(o, v[i]);
}

static void list_write(struct ra_req *rr, int16_t err, int n,
                       const struct controller_reassignment *v)
{
    struct kbuf *o = &rr->req->out;
    put_top(o, err, err == KERR_NONE ? NULL : "this broker is not the active controller");
    size_t at = kw_reserve_array_len(o, true);
    int n_topics = 0;
    /* the controller lists a topic's partitions together */
    for (int i = 0; i < n;) {
        int j = i, kept = 0;
        for (; j < n && strcmp(v[j].topic, v[i].topic) == 0; j++)
            kept += list_wanted(rr, &v[j]);
        if (kept > 0) {
            n_topics++;
            kw_put_str(o, true, v[i].topic);
            kw_put_array_len(o, true, kept);
            for (int k = i; k < j; k++) {
                if (!list_wanted(rr, &v[k]))
                    continue;
                kbuf_put_i32(o, v[k].partition);
                put_ids(o, v[k].replicas, v[k].n_replicas);
                put_ids(o, v[k].adding, v[k].n_adding);
                put_ids(o, v[k].removing, v[k].n_removing);
                kw_put_tags(o, true);
            }
            kw_put_tags(o, true);
        }
        i = j;
    }
    kw_patch_array_len(o, true, at, n_topics);
    kw_put_tags(o, true);
}

static void list_done(void *arg, int16_t err, int n, const struct controller_reassignment *v)
{
    struct ra_req *rr = arg;
    struct req *req = rr->req;
    list_write(rr, err, n, v);
    ra_req_free(rr);
    req_complete(req);
}

kerr_t handle_list_partition_reassignments(struct req *req)
{
    struct ra_req *rr = calloc(1, sizeof(*rr));
    if (!rr)
        return KERR__CLOSE;
    rr->req = req;
    if (!list_decode(req, rr)) {
        ra_req_free(rr);
        return KERR__CLOSE;
    }
    struct controller *c = req->broker->controller;
    if (!authz_cluster(req, ACL_OP_DESCRIBE)) {
        list_write(rr, KERR_CLUSTER_AUTHORIZATION_FAILED, 0, NULL);
    } else if (!c || !controller_is_active(c)) {
        list_write(rr, KERR_NOT_CONTROLLER, 0, NULL);
        ra_req_free(rr);
        return KERR_NONE;
    }
    controller_list_reassignments(c, list_done, rr);
    return KERR__PENDING;
}
