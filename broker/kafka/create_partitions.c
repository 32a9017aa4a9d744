/*
 * broker/kafka/create_partitions.c — CreatePartitions (key 37, v0-v3; v2+
 * flexible; v3 only adds the THROTTLING_QUOTA_EXCEEDED error, never sent).
 *
 * Request: topics[name string, count int32 (the new total), assignments
 * nullable [broker_ids int32[]] (one entry per new partition, in order)],
 * timeout_ms int32, validate_only bool.
 * Response: throttle_time_ms int32, results[name string, error_code int16,
 * error_message nullable string].
 * An illegal topic name (common/names.h, checked on its wire bytes) gets
 * INVALID_TOPIC_EXCEPTION; answers echo each name as sent.
 *
 * Decoding happens on the network loop; validation, placement and the
 * conditional ZooKeeper write run on the admin worker
 * (admin_create_partitions()). The controller, watching the topic's
 * znode, then elects the new partitions' leaders and pushes them; the
 * response waits until this broker's metadata cache shows every new
 * partition with a leader (kafka/admin_wait.c), at most timeout_ms, then
 * REQUEST_TIMED_OUT (the partitions are still added later), as in Kafka.
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

#define CP_MAX_REPLICAS 64 /* ids per assignment row we keep */

/* The request, owned by the handler, then by the admin worker's job;
 * specs[i] and ans[i] are its topic i. */
struct cp_job {
    struct req *req;
    bool validate_only;
    int32_t timeout_ms;
    int n;
    struct partitions_spec *specs; /* spec.assignment owned; spec.name "" if illegal */
    struct admin_answer *ans;
};

static void cp_job_free(struct cp_job *job)
{
    for (int i = 0; job->specs && i < job->n; i++)
        free(job->specs[i].assignment);
    free(job->specs);
    admin_answers_free(job->ans, job->n);
    free(job);
}

/* Stores one id of assignment row `row` at column k; the rows' storage is
 * sized from the first row (bounded), so a hostile request cannot make it
 * large. Rows of another length only mark the shape as ragged. */
static bool cp_keep_row(struct partitions_spec *sp, int32_t n_rows, int32_t row, int32_t nb)
{
    if (row == 0) {
        sp->assigned_rf = nb;
        if (nb > CP_MAX_REPLICAS || nb == 0) {
            sp->assigned_rf = -1;
            return true;
        }
        sp->assignment = calloc((size_t)n_rows * (size_t)nb, sizeof(int32_t));
        return sp->assignment != NULL;
    }
    if (nb != sp->assigned_rf)
        sp->assigned_rf = -1;
    return true;
}

/* Reads the nullable assignments array into sp. */
static bool cp_decode_assignments(struct kslice *s, bool flex, struct partitions_spec *sp,
                                  struct admin_answer *a)
{
    int32_t n = kw_get_array_len(s, flex, flex ? 2 : 4);
    if (n < 0)
        return kslice_ok(s); /* null: the broker places the new partitions */
    sp->n_assigned = n;
    sp->assigned_rf = -1;
    for (int32_t i = 0; i < n && kslice_ok(s); i++) {
        int32_t nb = kw_get_array_len(s, flex, 4);
        if (!kslice_ok(s) || nb < 0 || !cp_keep_row(sp, n, i, nb))
            return false;
        bool keep = sp->assignment && nb == sp->assigned_rf;
        for (int32_t k = 0; k < nb; k++) {
            int32_t id = kslice_i32(s);
            if (keep)
                sp->assignment[i * nb + k] = id;
        }
        kw_skip_tags(s, flex);
    }
    if (n == 0) { /* empty, not null: admin_create_partitions() reports the count */
        sp->assignment = calloc(1, sizeof(int32_t));
        sp->assigned_rf = 0;
    }
    if (!sp->assignment || sp->assigned_rf < 0) {
        free(sp->assignment);
        sp->assignment = NULL;
        a->decode_err = KERR_INVALID_REPLICA_ASSIGNMENT;
        snprintf(a->msg, sizeof(a->msg),
                 "every assignment must list the same number (1 to "
                 "%d) of brokers",
                 CP_MAX_REPLICAS);
    }
    return kslice_ok(s);
}

static bool cp_decode_topic(struct kslice *s, bool flex, struct partitions_spec *sp,
                            struct admin_answer *a)
{
    struct kstr name = kw_get_str(s, flex);
    sp->count = kslice_i32(s);
    if (!kslice_ok(s) || !name.ptr)
        return false;
    if (!admin_answer_start(a, name, sp->name))
        return false;
    if (!cp_decode_assignments(s, flex, sp, a))
        return false;
    /* the name is checked first, as Kafka does */
    kerr_t name_err = topic_name_take(name, sp->name, sizeof(sp->name), a->msg, sizeof(a->msg));
    if (name_err != KERR_NONE)
        a->decode_err = name_err;
    kw_skip_tags(s, flex);
    return kslice_ok(s);
}

/* True when topic i's new partitions are visible with leaders here. */
static bool cp_visible(void *arg, int i)
{
    struct cp_job *job = arg;
    return job->validate_only ||
           admin_cache_shows(job->req->broker, job->specs[i].name, true, job->specs[i].count);
}

static void cp_finish(void *arg)
{
    struct cp_job *job = arg;
    struct req *req = job->req;
    kbuf_put_i32(&req->out, 0); /* throttle_time_ms */
    admin_answers_put(&req->out, req->flex, job->ans, job->n, true);
    kw_put_tags(&req->out, req->flex);
    cp_job_free(job);
    req_complete(req);
}

/* Admin worker: validate and write each topic, then wait for the cache. */
static void cp_job_run(void *arg)
{
    struct cp_job *job = arg;
    KASSERT(worker_is_current(job->req->broker->admin));
    for (int i = 0; i < job->n; i++) {
        struct admin_answer *a = &job->ans[i];
        a->err = a->decode_err;
        if (a->err == KERR_NONE)
            a->err = admin_create_partitions(job->req->broker, &job->specs[i], job->validate_only,
                                             a->msg, sizeof(a->msg));
    }
    admin_wait_start(job->req->broker, job->timeout_ms, job->ans, job->n, cp_visible,
                     "partitions added, but their leaders were not elected in time", cp_finish,
                     job);
}

kerr_t handle_create_partitions(struct req *req)
{
    struct kslice *s = &req->body;
    bool flex = req->flex;
    int32_t n = kw_get_array_len(s, flex, flex ? 7 : 10);
    struct cp_job *job = calloc(1, sizeof(*job));
    if (!job || !kslice_ok(s) || n < 0)
        goto bad;
    job->req = req;
    job->specs = calloc((size_t)(n ? n : 1), sizeof(*job->specs));
    job->ans = admin_answers_new(n);
    if (!job->specs || !job->ans)
        goto bad;
    for (int32_t i = 0; i < n; i++) {
        job->n = i + 1;
        struct admin_answer *a = &job->ans[i];
        if (!cp_decode_topic(s, flex, &job->specs[i], a))
            goto bad;
        if (a->decode_err == KERR_NONE &&
            !authz_topic(req, ACL_OP_ALTER, a->wire_name, (size_t)a->wire_len))
            a->decode_err = KERR_TOPIC_AUTHORIZATION_FAILED;
    }
    job->timeout_ms = kslice_i32(s);
    job->validate_only = kslice_u8(s) != 0;
    kw_skip_tags(s, flex);
    if (!kslice_ok(s))
        goto bad;
    admin_mark_duplicates(job->ans, job->n);
    if (!worker_post(req->broker->admin, cp_job_run, job))
        goto bad;
    return KERR__PENDING;
bad:
    if (job)
        cp_job_free(job);
    return KERR__CLOSE;
}
