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

/* One topic of the request and its outcome. */
struct cp_item {
    struct partitions_spec spec; /* spec.assignment owned; spec.name "" if illegal */
    char *wire_name;             /* the name as sent (any bytes), owned, for the answer */
    int32_t wire_len;
    kerr_t decode_err; /* found while decoding (duplicate topic, bad shape) */
    kerr_t err;        /* the outcome */
    char msg[256];
};

/* The request, owned by the handler, then by the admin worker's job. */
struct cp_job {
    struct req *req;
    bool validate_only;
    int32_t timeout_ms;
    int n;
    struct cp_item *items; /* n, owned */
};

static void cp_job_free(struct cp_job *job)
{
    for (int i = 0; job->items && i < job->n; i++) {
        free(job->items[i].spec.assignment);
        free(job->items[i].wire_name);
    }
    free(job->items);
    free(job);
}

/* Stores one id of assignment row `row` at column k; the rows' storage is
 * sized from the first row (bounded), so a hostile request cannot make it
 * large. Rows of another length only mark the shape as ragged. */
static bool cp_keep_row(struct cp_item *it, int32_t n_rows, int32_t row, int32_t nb)
{
    struct partitions_spec *sp = &it->spec;
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

/* Reads the nullable assignments array into it->spec. */
static bool cp_decode_assignments(struct kslice *s, bool flex, struct cp_item *it)
{
    int32_t n = kw_get_array_len(s, flex, flex ? 2 : 4);
    if (n < 0)
        return kslice_ok(s); /* null: the broker places the new partitions */
    it->spec.n_assigned = n;
    it->spec.assigned_rf = -1;
    for (int32_t i = 0; i < n && kslice_ok(s); i++) {
        int32_t nb = kw_get_array_len(s, flex, 4);
        if (!kslice_ok(s) || nb < 0 || !cp_keep_row(it, n, i, nb))
            return false;
        bool keep = it->spec.assignment && nb == it->spec.assigned_rf;
        for (int32_t k = 0; k < nb; k++) {
            int32_t id = kslice_i32(s);
            if (keep)
                it->spec.assignment[i * nb + k] = id;
        }
        kw_skip_tags(s, flex);
    }
    if (n == 0) { /* empty, not null: admin_create_partitions() reports the count */
        it->spec.assignment = calloc(1, sizeof(int32_t));
        it->spec.assigned_rf = 0;
    }
    if (!it->spec.assignment || it->spec.assigned_rf < 0) {
        free(it->spec.assignment);
        it->spec.assignment = NULL;
        it->decode_err = KERR_INVALID_REPLICA_ASSIGNMENT;
        snprintf(it->msg, sizeof(it->msg),
                 "every assignment must list the same number (1 to "
                 "%d) of brokers",
                 CP_MAX_REPLICAS);
    }
    return kslice_ok(s);
}

static bool cp_decode_topic(struct kslice *s, bool flex, struct cp_item *it)
{
    struct kstr name = kw_get_str(s, flex);
    it->spec.count = kslice_i32(s);
    if (!kslice_ok(s) || !name.ptr)
        return false;
    it->wire_name = kstr_dup(name);
    if (!it->wire_name)
        return false;
    it->wire_len = name.len;
    if (!cp_decode_assignments(s, flex, it))
        return false;
    /* the name is checked first, as Kafka does */
    kerr_t name_err =
        topic_name_take(name, it->spec.name, sizeof(it->spec.name), it->msg, sizeof(it->msg));
    if (name_err != KERR_NONE)
        it->decode_err = name_err;
    kw_skip_tags(s, flex);
    return kslice_ok(s);
}

static void cp_mark_duplicates(struct cp_job *job)
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

/* True when the item's new partitions are visible with leaders here. */
static bool cp_item_visible(struct cp_job *job, const struct cp_item *it)
{
    return it->err != KERR_NONE || job->validate_only ||
           admin_cache_shows(job->req->broker, it->spec.name, true, it->spec.count);
}

static bool cp_ready(void *arg)
{
    struct cp_job *job = arg;
    for (int i = 0; i < job->n; i++)
        if (!cp_item_visible(job, &job->items[i]))
            return false;
    return true;
}

static void cp_finish(void *arg, bool timed_out)
{
    struct cp_job *job = arg;
    struct req *req = job->req;
    struct kbuf *o = &req->out;
    bool flex = req->flex;
    kbuf_put_i32(o, 0); /* throttle_time_ms */
    kw_put_array_len(o, flex, job->n);
    for (int i = 0; i < job->n; i++) {
        struct cp_item *it = &job->items[i];
        if (timed_out && job->timeout_ms > 0 && !cp_item_visible(job, it)) {
            it->err = KERR_REQUEST_TIMED_OUT;
            snprintf(it->msg, sizeof(it->msg),
                     "partitions added, but their leaders were not "
                     "elected in time");
        }
        kw_put_strn(o, flex, it->wire_name, (size_t)it->wire_len);
        kbuf_put_i16(o, it->err);
        kw_put_nstr(o, flex, it->err == KERR_NONE ? NULL : it->msg);
        kw_put_tags(o, flex);
    }
    kw_put_tags(o, flex);
    cp_job_free(job);
    req_complete(req);
}

/* Admin worker: validate and write each topic, then wait for the cache. */
static void cp_job_run(void *arg)
{
    struct cp_job *job = arg;
    KASSERT(worker_is_current(job->req->broker->admin));
    for (int i = 0; i < job->n; i++) {
        struct cp_item *it = &job->items[i];
        it->err = it->decode_err;
        if (it->err == KERR_NONE)
            it->err = admin_create_partitions(job->req->broker, &it->spec, job->validate_only,
                                              it->msg, sizeof(it->msg));
    }
    admin_wait_start(job->req->broker, job->timeout_ms, cp_ready, cp_finish, job);
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
    job->items = calloc((size_t)(n ? n : 1), sizeof(*job->items));
    if (!job->items)
        goto bad;
    for (int32_t i = 0; i < n; i++) {
        job->n = i + 1;
        if (!cp_decode_topic(s, flex, &job->items[i]))
            goto bad;
    }
    job->timeout_ms = kslice_i32(s);
    job->validate_only = kslice_u8(s) != 0;
    kw_skip_tags(s, flex);
    if (!kslice_ok(s))
        goto bad;
    cp_mark_duplicates(job);
    if (!worker_post(req->broker->admin, cp_job_run, job))
        goto bad;
    return KERR__PENDING;
bad:
    if (job)
        cp_job_free(job);
    return KERR__CLOSE;
}
