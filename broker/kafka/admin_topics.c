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
#include "broker/kafka/dispatch.h"
#include "broker/core/admin.h"
#include "broker/kafka/admin_wait.h"
#include "common/loop/worker.h"
#include "broker/core/broker.h"
#include "common/names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct create_item {
    struct topic_spec spec; /* spec.name is "" when the wire name is illegal */
    char *wire_name;        /* the name as sent (may hold any byte), for the answer */
    int32_t wire_len;
    kerr_t decode_err; /* error found while decoding (duplicates, bad config) */
    kerr_t err;        /* the outcome */
    char msg[256];
};

struct create_job {
    struct req *req;
    bool validate_only;
    int n;
    struct create_item *items;
    int32_t timeout_ms;    /* how long to wait for the controller */
    struct event *poll_ev; /* admin worker */
};

static void create_job_free(struct create_job *job)
{
    for (int i = 0; i < job->n; i++) {
        struct topic_spec *sp = &job->items[i].spec;
        for (int k = 0; k < 2 * sp->n_config; k++)
            free(sp->config_kv[k]);
        free(sp->config_kv);
        free(sp->assignment);
        free(job->items[i].wire_name);
    }
    free(job->items);
    free(job);
}

#define MAX_ASSIGNED_REPLICAS 64

/* Reads the explicit assignment. The allocation is n * rf, with rf taken
 * from the first partition and bounded, so a hostile request cannot make
 * it large; shapes that do not fit are reported, and their ids skipped. */
static bool decode_assignments(struct kslice *s, struct create_item *it)
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
            it->spec.assigned_rf = nb;
            it->spec.assignment = calloc((size_t)n * (size_t)(nb ? nb : 1), sizeof(int32_t));
            if (!it->spec.assignment)
                return false;
        }
        bool fits = it->spec.assignment && nb == it->spec.assigned_rf && p == i;
        for (int32_t k = 0; k < nb; k++) {
            int32_t id = kslice_i32(s);
            if (fits)
                it->spec.assignment[i * nb + k] = id;
        }
        if (!fits && it->decode_err == KERR_NONE) {
            it->decode_err = KERR_INVALID_REPLICA_ASSIGNMENT;
            snprintf(it->msg, sizeof(it->msg),
                     "assignments must list partitions 0..n-1 in order, each with the same "
                     "number (at most %d) of replicas",
                     MAX_ASSIGNED_REPLICAS);
        }
    }
    it->spec.n_assigned_parts = n;
    return kslice_ok(s);
}

static bool decode_configs(struct kslice *s, struct create_item *it)
{
    int32_t n = kw_get_array_len(s, false, 4);
    if (n <= 0)
        return kslice_ok(s);
    it->spec.config_kv = calloc((size_t)(2 * n), sizeof(char *));
    if (!it->spec.config_kv)
        return false;
    for (int32_t i = 0; i < n && kslice_ok(s); i++) {
        struct kstr k = kw_get_str(s, false);
        struct kstr v = kw_get_str(s, false);
        if (!kslice_ok(s) || !k.ptr)
            return false;
        it->spec.config_kv[2 * i] = kstr_dup(k);
        it->spec.config_kv[2 * i + 1] = v.ptr ? kstr_dup(v) : NULL;
        it->spec.n_config = i + 1;
        /* a NUL would cut the key or value short: refuse, never truncate */
        if ((memchr(k.ptr, 0, (size_t)k.len) || (v.ptr && memchr(v.ptr, 0, (size_t)v.len))) &&
            it->decode_err == KERR_NONE) {
            it->decode_err = KERR_INVALID_CONFIG;
            snprintf(it->msg, sizeof(it->msg), "a config key or value contains a NUL byte");
        }
    }
    return kslice_ok(s);
}

static bool decode_topic(struct kslice *s, struct create_item *it)
{
    struct kstr name = kw_get_str(s, false);
    it->spec.n_parts = kslice_i32(s);
    it->spec.rf = kslice_i16(s);
    if (!kslice_ok(s) || !name.ptr)
        return false;
    it->wire_name = kstr_dup(name);
    it->wire_len = name.len;
    if (!it->wire_name)
        return false;
    kerr_t name_err =
        topic_name_take(name, it->spec.name, sizeof(it->spec.name), it->msg, sizeof(it->msg));
    if (name_err != KERR_NONE)
        it->decode_err = name_err;
    return decode_assignments(s, it) && decode_configs(s, it);
}

/* True when the item's topic is visible with leaders here (or need not be). */
static bool create_item_visible(const struct create_job *job, const struct create_item *it)
{
    return it->err != KERR_NONE || job->validate_only ||
           admin_cache_shows(job->req->broker, it->spec.name, true, 0);
}

static bool create_ready(void *arg)
{
    struct create_job *job = arg;
    for (int i = 0; i < job->n; i++)
        if (!create_item_visible(job, &job->items[i]))
            return false;
    return true;
}

static void create_finish(void *arg, bool timed_out)
{
    struct create_job *job = arg;
    struct req *req = job->req;
    struct kbuf *o = &req->out;
    int16_t v = req->api_version;
    if (v >= 2)
        kbuf_put_i32(o, 0);
    kw_put_array_len(o, false, job->n);
    for (int i = 0; i < job->n; i++) {
        struct create_item *it = &job->items[i];
        if (timed_out && job->timeout_ms > 0 && !create_item_visible(job, it)) {
            it->err = KERR_REQUEST_TIMED_OUT;
            snprintf(it->msg, sizeof(it->msg), "created, but no leader was elected in time");
        }
        kw_put_strn(o, false, it->wire_name, (size_t)it->wire_len);
        kbuf_put_i16(o, it->err);
        if (v >= 1)
            kw_put_nstr(o, false, it->err == KERR_NONE ? NULL : it->msg);
    }
    create_job_free(job);
    req_complete(req);
}

static void create_job_run(void *arg)
{
    struct create_job *job = arg;
    struct req *req = job->req;
    KASSERT(worker_is_current(req->broker->admin));
    for (int i = 0; i < job->n; i++) {
        struct create_item *it = &job->items[i];
        it->err = it->decode_err;
        if (it->err == KERR_NONE)
            it->err = admin_create_topic(req->broker, &it->spec, job->validate_only, it->msg,
                                         sizeof(it->msg));
    }
    admin_wait_start(req->broker, job->timeout_ms, create_ready, create_finish, job);
}

/* Items whose names were refused keep their INVALID_TOPIC_EXCEPTION. */
static void mark_duplicates(struct create_job *job)
{
    for (int i = 0; i < job->n; i++)
        for (int j = 0; j < job->n; j++)
            if (i != j && job->items[i].spec.name[0] &&
                strcmp(job->items[i].spec.name, job->items[j].spec.name) == 0) {
                job->items[i].decode_err = KERR_INVALID_REQUEST;
                snprintf(job->items[i].msg, sizeof(job->items[i].msg),
                         "topic listed more than once in the request");
            }
}

kerr_t handle_create_topics(struct req *req)
{
    struct kslice *s = &req->body;
    int32_t n = kw_get_array_len(s, false, 18);
    struct create_job *job = calloc(1, sizeof(*job));
    if (!job || !kslice_ok(s) || n < 0)
        goto bad;
    job->req = req;
    job->items = calloc((size_t)(n ? n : 1), sizeof(*job->items));
    if (!job->items)
        goto bad;
    for (int32_t i = 0; i < n; i++) {
        job->n = i + 1;
        if (!decode_topic(s, &job->items[i]))
            goto bad;
    }
    job->timeout_ms = kslice_i32(s);
    if (req->api_version >= 1)
        job->validate_only = kslice_u8(s) != 0;
    if (!kslice_ok(s))
        goto bad;
    mark_duplicates(job);
    if (!worker_post(req->broker->admin, create_job_run, job))
        goto bad;
    return KERR__PENDING;
bad:
    if (job)
        create_job_free(job);
    return KERR__CLOSE;
}

struct delete_job {
    struct req *req;
    int n;
    char **names;  /* as sent (NUL-terminated copies; may hold a NUL) */
    int32_t *lens; /* their lengths on the wire */
    kerr_t *errs;
    int32_t timeout_ms;
};

/* True when topic i is gone from the cache here (or need not be). */
static bool delete_item_gone(const struct delete_job *job, int i)
{
    return job->errs[i] != KERR_NONE ||
           admin_cache_shows(job->req->broker, job->names[i], false, 0);
}

static bool delete_ready(void *arg)
{
    struct delete_job *job = arg;
    for (int i = 0; i < job->n; i++)
        if (!delete_item_gone(job, i))
            return false;
    return true;
}

static void delete_finish(void *arg, bool timed_out)
{
    struct delete_job *job = arg;
    struct req *req = job->req;
    struct kbuf *o = &req->out;
    if (req->api_version >= 1)
        kbuf_put_i32(o, 0);
    kw_put_array_len(o, false, job->n);
    for (int i = 0; i < job->n; i++) {
        kerr_t err = job->errs[i];
        if (timed_out && job->timeout_ms > 0 && !delete_item_gone(job, i))
            err = KERR_REQUEST_TIMED_OUT;
        kw_put_strn(o, false, job->names[i], (size_t)job->lens[i]);
        kbuf_put_i16(o, err);
        free(job->names[i]);
    }
    free(job->names);
    free(job->lens);
    free(job->errs);
    free(job);
    req_complete(req);
}

static void delete_job_run(void *arg)
{
    struct delete_job *job = arg;
    KASSERT(worker_is_current(job->req->broker->admin));
    for (int i = 0; i < job->n; i++) {
        /* an illegal name names no topic (never the part before a NUL) */
        if (!topic_name_legal(job->names[i], (size_t)job->lens[i]))
            job->errs[i] = KERR_UNKNOWN_TOPIC_OR_PARTITION;
        else
            job->errs[i] = admin_delete_topic(job->req->broker, job->names[i]);
    }
    admin_wait_start(job->req->broker, job->timeout_ms, delete_ready, delete_finish, job);
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
    job->names = calloc((size_t)(n ? n : 1), sizeof(char *));
    job->lens = calloc((size_t)(n ? n : 1), sizeof(int32_t));
    job->errs = calloc((size_t)(n ? n : 1), sizeof(kerr_t));
    for (int32_t i = 0; job->names && job->lens && job->errs && i < n; i++) {
        struct kstr name = kw_get_str(s, false);
        job->names[i] = kstr_dup(name);
        job->lens[i] = name.len;
        job->n = i + 1;
        if (!job->names[i])
            kslice_fail(s);
    }
    job->timeout_ms = kslice_i32(s);
    if (!job->names || !job->lens || !job->errs || !kslice_ok(s) ||
        !worker_post(req->broker->admin, delete_job_run, job)) {
        for (int i = 0; i < job->n; i++)
            free(job->names ? job->names[i] : NULL);
        free(job->names);
        free(job->lens);
        free(job->errs);
        free(job);
        return KERR__CLOSE;
    }
    return KERR__PENDING;
}
