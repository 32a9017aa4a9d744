/*
 * broker/kafka/admin_topics.c — CreateTopics (key 19, v0-v4) and
 * DeleteTopics (key 20, v0-v3).
 *
 * CreateTopics request: topics[name, num_partitions, replication_factor,
 * assignments[partition_index, broker_ids[]], configs[name, value]],
 * timeout_ms, validate_only (v1+). Response: throttle (v2+), topics[name,
 * error_code, error_message (v1+)].
 * DeleteTopics request: topic_names[], timeout_ms. Response: throttle
 * (v1+), responses[name, error_code].
 *
 * Names are checked against Kafka's rule (common/names.h) on their wire
 * bytes, so a NUL is never a terminator: CreateTopics answers
 * INVALID_TOPIC_EXCEPTION for an illegal name, DeleteTopics
 * UNKNOWN_TOPIC_OR_PARTITION (no topic can have it). Answers echo each name
 * as it was sent.
 *
 * Decoding happens on the network loop; the ZooKeeper writes run on the
 * admin worker through broker/core/admin.c. The active controller then elects
 * leaders (or deletes the topic) and pushes the result to every broker; the
 * response waits (polling this broker's metadata cache, kafka/admin_wait.c)
 * until the change is visible here, at most timeout_ms: after that the topic
 * gets REQUEST_TIMED_OUT (the operation still completes later), as in Kafka.
 */
#include "broker/kafka/authz.h"
#include "broker/kafka/dispatch.h"
#include "broker/core/admin.h"
#include "broker/kafka/admin_wait.h"
#include "common/loop/worker.h"
#include "broker/core/broker.h"
#include "common/names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* CreateTopics: specs[i] and ans[i] are the request's topic i. */
struct create_job {
    struct req *req;
    bool validate_only;
    int n;
    struct topic_spec *specs; /* spec.name is "" when the wire name is illegal */
    struct admin_answer *ans;
    int32_t timeout_ms; /* how long to wait for the controller */
};

static void create_job_free(struct create_job *job)
{
    for (int i = 0; job->specs && i < job->n; i++) {
        struct topic_spec *sp = &job->specs[i];
        for (int k = 0; k < 2 * sp->n_config; k++)
            free(sp->config_kv[k]);
        free(sp->config_kv);
        free(sp->assignment);
    }
    free(job->specs);
    admin_answers_free(job->ans, job->n);
    free(job);
}

#define MAX_ASSIGNED_REPLICAS 64

/* Reads the explicit assignment. The allocation is n * rf, with rf taken
 * from the first partition and bounded, so a hostile request cannot make
 * it large; shapes that do not fit are reported, and their ids skipped. */
static bool decode_assignments(struct kslice *s, struct topic_spec *sp, struct admin_answer *a)
{
    int32_t n = kw_get_array_len(s, false, 8);
    if (n <= 0)
        return kslice_ok(s);
    for (int32_t i = 0; i < n && kslice_ok(s); i++) {
        int32_t p = kslice_i32(s);
        int32_t nb = kw_get_array_len(s, false, 4);
        if (!kslice_ok(s) || nb < 0)
            return false;
        if (i == 0 && nb <= MAX_ASSIGNED_REPLICAS) {
            sp->assigned_rf = nb;
            sp->assignment = calloc((size_t)n * (size_t)(nb ? nb : 1), sizeof(int32_t));
            if (!sp->assignment)
                return false;
        }
        bool fits = sp->assignment && nb == sp->assigned_rf && p == i;
        for (int32_t k = 0; k < nb; k++) {
            int32_t id = kslice_i32(s);
            if (fits)
                sp->assignment[i * nb + k] = id;
        }
        if (!fits && a->decode_err == KERR_NONE) {
            a->decode_err = KERR_INVALID_REPLICA_ASSIGNMENT;
            snprintf(a->msg, sizeof(a->msg),
                     "assignments must list partitions 0..n-1 in order, each with the same "
                     "number (at most %d) of replicas",
                     MAX_ASSIGNED_REPLICAS);
        }
    }
    sp->n_assigned_parts = n;
    return kslice_ok(s);
}

static bool decode_configs(struct kslice *s, struct topic_spec *sp, struct admin_answer *a)
{
    int32_t n = kw_get_array_len(s, false, 4);
    if (n <= 0)
        return kslice_ok(s);
    sp->config_kv = calloc((size_t)(2 * n), sizeof(char *));
    if (!sp->config_kv)
        return false;
    for (int32_t i = 0; i < n && kslice_ok(s); i++) {
        struct kstr k = kw_get_str(s, false);
        struct kstr v = kw_get_str(s, false);
        if (!kslice_ok(s) || !k.ptr)
            return false;
        sp->config_kv[2 * i] = kstr_dup(k);
        sp->config_kv[2 * i + 1] = kstr_dup(v);
        sp->n_config = i + 1;
        /* a NUL would cut the key or value short: refuse, never truncate */
        if ((memchr(k.ptr, 0, (size_t)k.len) || (v.ptr && memchr(v.ptr, 0, (size_t)v.len))) &&
            a->decode_err == KERR_NONE) {
            a->decode_err = KERR_INVALID_CONFIG;
            snprintf(a->msg, sizeof(a->msg), "a config key or value contains a NUL byte");
        }
    }
    return kslice_ok(s);
}

static bool decode_topic(struct kslice *s, struct topic_spec *sp, struct admin_answer *a)
{
    struct kstr name = kw_get_str(s, false);
    sp->n_parts = kslice_i32(s);
    sp->rf = kslice_i16(s);
    if (!kslice_ok(s) || !name.ptr)
        return false;
    if (!admin_answer_start(a, name, sp->name))
        return false;
    a->decode_err = topic_name_take(name, sp->name, sizeof(sp->name), a->msg, sizeof(a->msg));
    return decode_assignments(s, sp, a) && decode_configs(s, sp, a);
}

/* True when topic i is visible with leaders here (or need not be). */
static bool create_visible(void *arg, int i)
{
    struct create_job *job = arg;
    return job->validate_only || admin_cache_shows(job->req->broker, job->specs[i].name, true, 0);
}

static void create_finish(void *arg)
{
    struct create_job *job = arg;
    struct req *req = job->req;
    if (req->api_version >= 2)
        kbuf_put_i32(&req->out, 0);
    admin_answers_put(&req->out, false, job->ans, job->n, req->api_version >= 1);
    create_job_free(job);
    req_complete(req);
}

static void create_job_run(void *arg)
{
    struct create_job *job = arg;
    struct req *req = job->req;
    KASSERT(worker_is_current(req->broker->admin));
    for (int i = 0; i < job->n; i++) {
        struct admin_answer *a = &job->ans[i];
        a->err = a->decode_err;
        if (a->err == KERR_NONE)
            a->err = admin_create_topic(req->broker, &job->specs[i], job->validate_only, a->msg,
                                        sizeof(a->msg));
    }
    admin_wait_start(req->broker, job->timeout_ms, job->ans, job->n, create_visible,
                     "created, but no leader was elected in time", create_finish, job);
}

kerr_t handle_create_topics(struct req *req)
{
    struct kslice *s = &req->body;
    int32_t n = kw_get_array_len(s, false, 18);
    struct create_job *job = calloc(1, sizeof(*job));
    if (!job || !kslice_ok(s) || n < 0)
        goto bad;
    job->req = req;
    job->specs = calloc((size_t)(n ? n : 1), sizeof(*job->specs));
    job->ans = admin_answers_new(n);
    if (!job->specs || !job->ans)
        goto bad;
    bool cluster_create = authz_cluster(req, ACL_OP_CREATE);
    for (int32_t i = 0; i < n; i++) {
        job->n = i + 1;
        struct admin_answer *a = &job->ans[i];
        if (!decode_topic(s, &job->specs[i], a))
            goto bad;
        if (!cluster_create && a->decode_err == KERR_NONE &&
            !authz_topic(req, ACL_OP_CREATE, a->wire_name, (size_t)a->wire_len))
            a->decode_err = KERR_TOPIC_AUTHORIZATION_FAILED;
    }
    job->timeout_ms = kslice_i32(s);
    if (req->api_version >= 1)
        job->validate_only = kslice_u8(s) != 0;
    if (!kslice_ok(s))
        goto bad;
    /* items whose names were refused keep their INVALID_TOPIC_EXCEPTION */
    admin_mark_duplicates(job->ans, job->n);
    if (!worker_post(req->broker->admin, create_job_run, job))
        goto bad;
    return KERR__PENDING;
bad:
    if (job)
        create_job_free(job);
    return KERR__CLOSE;
}

/* DeleteTopics: ans[i] is the request's topic i (its name is not checked
 * for duplicates, as in Kafka). */
struct delete_job {
    struct req *req;
    int n;
    struct admin_answer *ans;
    int32_t timeout_ms;
};

static void delete_job_free(struct delete_job *job)
{
    admin_answers_free(job->ans, job->n);
    free(job);
}

/* True when topic i is gone from the cache here. */
static bool delete_gone(void *arg, int i)
{
    struct delete_job *job = arg;
    return admin_cache_shows(job->req->broker, job->ans[i].wire_name, false, 0);
}

static void delete_finish(void *arg)
{
    struct delete_job *job = arg;
    struct req *req = job->req;
    if (req->api_version >= 1)
        kbuf_put_i32(&req->out, 0);
    admin_answers_put(&req->out, false, job->ans, job->n, false);
    delete_job_free(job);
    req_complete(req);
}

static void delete_job_run(void *arg)
{
    struct delete_job *job = arg;
    KASSERT(worker_is_current(job->req->broker->admin));
    for (int i = 0; i < job->n; i++) {
        struct admin_answer *a = &job->ans[i];
        /* an illegal name names no topic (never the part before a NUL) */
        if (a->decode_err != KERR_NONE) /* TOPIC_AUTHORIZATION_FAILED */
            a->err = a->decode_err;
        else if (!topic_name_legal(a->wire_name, (size_t)a->wire_len))
            a->err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
        else
            a->err = admin_delete_topic(job->req->broker, a->wire_name);
    }
    admin_wait_start(job->req->broker, job->timeout_ms, job->ans, job->n, delete_gone, NULL,
                     delete_finish, job);
}

kerr_t handle_delete_topics(struct req *req)
{
    struct kslice *s = &req->body;
    int32_t n = kw_get_array_len(s, false, 2);
    if (!kslice_ok(s) || n < 0)
        return KERR__CLOSE;
    struct delete_job *job = calloc(1, sizeof(*job));
    if (!job)
        return KERR__CLOSE;
    job->req = req;
    job->ans = admin_answers_new(n);
    for (int32_t i = 0; job->ans && i < n; i++) {
        job->n = i + 1;
        if (!admin_answer_start(&job->ans[i], kw_get_str(s, false), NULL))
            kslice_fail(s);
        else if (!authz_topic(req, ACL_OP_DELETE, job->ans[i].wire_name,
                              (size_t)job->ans[i].wire_len))
            job->ans[i].decode_err = KERR_TOPIC_AUTHORIZATION_FAILED;
    }
    job->timeout_ms = kslice_i32(s);
    if (!job->ans || !kslice_ok(s) || !worker_post(req->broker->admin, delete_job_run, job)) {
        delete_job_free(job);
        return KERR__CLOSE;
    }
    return KERR__PENDING;
}
