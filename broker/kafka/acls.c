/*
 * broker/kafka/acls.c — DescribeAcls (key 29), CreateAcls (30), DeleteAcls
 * (31), versions 0-3, flexible from 2.
 *
 * DescribeAcls request: resource_type_filter int8, resource_name_filter
 * nullable string, [v1+] pattern_type_filter int8, principal_filter nullable
 * string, host_filter nullable string, operation int8, permission_type int8.
 * Response: throttle_time_ms int32, error_code int16, error_message nullable
 * string, resources [resource_type int8, resource_name string, [v1+]
 * pattern_type int8, acls [principal string, host string, operation int8,
 * permission_type int8]].
 *
 * CreateAcls request: creations [resource_type int8, resource_name string,
 * [v1+] resource_pattern_type int8, principal string, host string, operation
 * int8, permission_type int8]. Response: throttle_time_ms int32, results
 * [error_code int16, error_message nullable string].
 *
 * DeleteAcls request: filters [the filter fields of DescribeAcls]. Response:
 * throttle_time_ms int32, filter_results [error_code int16, error_message
 * nullable string, matching_acls [error_code int16, error_message nullable
 * string, resource_type int8, resource_name string, [v1+] pattern_type int8,
 * principal string, host string, operation int8, permission_type int8]].
 *
 * Version 0 knows literal patterns only: its bindings and filters are
 * LITERAL. Describe reads the authorizer's current set on the network loop;
 * Create and Delete write ZooKeeper on the admin worker
 * (broker/core/acl_store.c). Describe needs DESCRIBE on the cluster, Create
 * and Delete ALTER. Without an authorizer every answer is SECURITY_DISABLED;
 * an invalid binding or filter gets INVALID_REQUEST with the reason, for its
 * entry alone (DescribeAcls has one filter: its whole answer).
 */
#include "broker/core/acl_store.h"
#include "broker/core/broker.h"
#include "broker/kafka/authz.h"
#include "broker/kafka/dispatch.h"
#include "common/loop/worker.h"
#include "common/base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACL_MSG_MAX 200

/* Copies a wire string (NULL stays NULL); false on OOM or an embedded NUL. */
static bool take_str(struct kstr k, char **out)
{
    *out = NULL;
    if (!k.ptr)
        return true;
    if (memchr(k.ptr, '\0', (size_t)k.len))
        return false;
    *out = kstr_dup(k);
    return *out != NULL;
}

/* Reads one filter (owned strings in *names); false when the frame is bad. */
static bool get_filter(struct kslice *s, struct req *req, struct acl_filter *f, char *names[3],
                       bool *bad_str)
{
    f->rtype = (int8_t)kslice_u8(s);
    struct kstr name = kw_get_str(s, req->flex);
    f->pattern = req->api_version >= 1 ? (int8_t)kslice_u8(s) : (int8_t)ACL_PT_LITERAL;
    struct kstr principal = kw_get_str(s, req->flex);
    struct kstr host = kw_get_str(s, req->flex);
    f->op = (int8_t)kslice_u8(s);
    f->perm = (int8_t)kslice_u8(s);
    kw_skip_tags(s, req->flex);
    if (!kslice_ok(s))
        return false;
    *bad_str =
        !take_str(name, &names[0]) | !take_str(principal, &names[1]) | !take_str(host, &names[2]);
    f->name = names[0];
    f->principal = names[1];
    f->host = names[2];
    return true;
}

/* ---- DescribeAcls ---------------------------------------------------------- */

struct describe_out {
    struct req *req;
    const struct acl_binding *last; /* resource of the open group */
    size_t res_at, acls_at;
    int32_t n_res, n_acls;
};

static void close_group(struct describe_out *d)
{
    if (!d->last)
        return;
    kw_patch_array_len(&d->req->out, d->req->flex, d->acls_at, d->n_acls);
    kw_put_tags(&d->req->out, d->req->flex);
}

static void describe_one(void *arg, const struct acl_binding *b)
{
    struct describe_out *d = arg;
    struct req *req = d->req;
    struct kbuf *o = &req->out;
    if (req->api_version == 0 && b->pattern != ACL_PT_LITERAL)
        return;
    if (!d->last || d->last->rtype != b->rtype || d->last->pattern != b->pattern ||
        strcmp(d->last->name, b->name) != 0) {
        close_group(d);
        d->last = b;
        d->n_res++;
        d->n_acls = 0;
        kbuf_put_u8(o, (uint8_t)b->rtype);
        kw_put_str(o, req->flex, b->name);
        if (req->api_version >= 1)
            kbuf_put_u8(o, (uint8_t)b->pattern);
        d->acls_at = kw_reserve_array_len(o, req->flex);
    }
    d->n_acls++;
    kw_put_str(o, req->flex, b->principal);
    kw_put_str(o, req->flex, b->host);
    kbuf_put_u8(o, (uint8_t)b->op);
    kbuf_put_u8(o, (uint8_t)b->perm);
    kw_put_tags(o, req->flex);
}

kerr_t handle_describe_acls(struct req *req)
{
    struct kslice *s = &req->body;
    struct acl_filter f;
    char *names[3] = {NULL, NULL, NULL};
    bool bad_str = false;
    if (!get_filter(s, req, &f, names, &bad_str)) /* its tags are the request's */
        return KERR__CLOSE;
    struct kbuf *o = &req->out;
    char msg[ACL_MSG_MAX] = "";
    kerr_t err = KERR_NONE;
    if (!req->broker->authz) {
        err = KERR_SECURITY_DISABLED;
        snprintf(msg, sizeof(msg), "no authorizer is configured (authorizer.class.name)");
    } else if (!authz_cluster(req, ACL_OP_DESCRIBE)) {
        err = KERR_CLUSTER_AUTHORIZATION_FAILED;
    } else if (bad_str) {
        err = KERR_INVALID_REQUEST;
        snprintf(msg, sizeof(msg), "a filter string holds a NUL byte");
    } else {
        err = acl_filter_check(&f, msg, sizeof(msg));
    }
    kbuf_put_i32(o, 0); /* throttle_time_ms */
    kbuf_put_i16(o, (int16_t)err);
    kw_put_nstr(o, req->flex, msg[0] ? msg : NULL);
    if (err != KERR_NONE) {
        kw_put_array_len(o, req->flex, 0);
    } else {
        struct describe_out d = {.req = req};
        d.res_at = kw_reserve_array_len(o, req->flex);
        (void)authorizer_each(req->broker->authz, &f, describe_one, &d);
        close_group(&d);
        kw_patch_array_len(o, req->flex, d.res_at, d.n_res);
    }
    kw_put_tags(o, req->flex);
    for (int i = 0; i < 3; i++)
        free(names[i]);
    return KERR_NONE;
}

/* ---- CreateAcls ------------------------------------------------------------ */

struct create_job {
    struct req *req;
    size_t n;
    struct acl_binding *v; /* the request's bindings; valid ones sent to ZooKeeper */
    kerr_t *errs;
    char (*msgs)[ACL_MSG_MAX];
    bool *valid;
};

static void create_job_free(struct create_job *job)
{
    for (size_t i = 0; i < job->n; i++)
        acl_binding_free(&job->v[i]);
    free(job->v);
    free(job->errs);
    free(job->msgs);
    free(job->valid);
    free(job);
}

static void create_answer(struct create_job *job)
{
    struct req *req = job->req;
    struct kbuf *o = &req->out;
    kbuf_put_i32(o, 0); /* throttle_time_ms */
    kw_put_array_len(o, req->flex, (int32_t)job->n);
    for (size_t i = 0; i < job->n; i++) {
        kbuf_put_i16(o, (int16_t)job->errs[i]);
        kw_put_nstr(o, req->flex, job->msgs[i][0] ? job->msgs[i] : NULL);
        kw_put_tags(o, req->flex);
    }
    kw_put_tags(o, req->flex);
}

static void create_job_run(void *arg)
{
    struct create_job *job = arg;
    struct req *req = job->req;
    KASSERT(worker_is_current(req->broker->admin));
    struct acl_binding *ok = calloc(job->n ? job->n : 1, sizeof(*ok));
    kerr_t *errs = calloc(job->n ? job->n : 1, sizeof(*errs));
    size_t n_ok = 0;
    for (size_t i = 0; ok && errs && i < job->n; i++)
        if (job->valid[i])
            ok[n_ok++] = job->v[i]; /* borrowed */
    if (ok && errs)
        acl_store_create(req->broker, ok, n_ok, errs);
    for (size_t i = 0, k = 0; i < job->n; i++) {
        if (!job->valid[i])
            continue;
        job->errs[i] = ok && errs ? errs[k++] : KERR_UNKNOWN_SERVER_ERROR;
        if (job->errs[i] != KERR_NONE)
            snprintf(job->msgs[i], ACL_MSG_MAX, "the ACL could not be stored in ZooKeeper");
    }
    free(ok);
    free(errs);
    create_answer(job);
    create_job_free(job);
    req_complete(req);
}

kerr_t handle_create_acls(struct req *req)
{
    struct kslice *s = &req->body;
    int32_t n = kw_get_array_len(s, req->flex, 9);
    if (!kslice_ok(s) || n < 0)
        return KERR__CLOSE;
    struct create_job *job = calloc(1, sizeof(*job));
    if (!job)
        return KERR__CLOSE;
    job->req = req;
    size_t cap = n ? (size_t)n : 1;
    job->v = calloc(cap, sizeof(*job->v));
    job->errs = calloc(cap, sizeof(*job->errs));
    job->msgs = calloc(cap, sizeof(*job->msgs));
    job->valid = calloc(cap, sizeof(*job->valid));
    if (!job->v || !job->errs || !job->msgs || !job->valid) {
        create_job_free(job);
        return KERR__CLOSE;
    }
    bool allowed = req->broker->authz && authz_cluster(req, ACL_OP_ALTER);
    size_t n_valid = 0;
    for (int32_t i = 0; i < n; i++) {
        struct acl_binding *b = &job->v[i];
        job->n = (size_t)i + 1;
        b->rtype = (int8_t)kslice_u8(s);
        struct kstr name = kw_get_str(s, req->flex);
        b->pattern = req->api_version >= 1 ? (int8_t)kslice_u8(s) : (int8_t)ACL_PT_LITERAL;
        struct kstr principal = kw_get_str(s, req->flex);
        struct kstr host = kw_get_str(s, req->flex);
        b->op = (int8_t)kslice_u8(s);
        b->perm = (int8_t)kslice_u8(s);
        kw_skip_tags(s, req->flex);
        if (!kslice_ok(s)) {
            create_job_free(job);
            return KERR__CLOSE;
        }
        bool strs_ok = take_str(name, &b->name) & take_str(principal, &b->principal) &
                       take_str(host, &b->host);
        kerr_t err;
        if (!req->broker->authz) {
            err = KERR_SECURITY_DISABLED;
            snprintf(job->msgs[i], ACL_MSG_MAX, "no authorizer is configured");
        } else if (!allowed) {
            err = KERR_CLUSTER_AUTHORIZATION_FAILED;
        } else if (!strs_ok) {
            err = KERR_INVALID_REQUEST;
            snprintf(job->msgs[i], ACL_MSG_MAX, "a string holds a NUL byte");
        } else {
            err = acl_binding_check(b, job->msgs[i], ACL_MSG_MAX);
        }
        job->errs[i] = err;
        job->valid[i] = err == KERR_NONE;
        n_valid += job->valid[i];
    }
    kw_skip_tags(s, req->flex);
    if (n_valid == 0 || !worker_post(req->broker->admin, create_job_run, job)) {
        for (size_t i = 0; i < job->n; i++)
            if (job->valid[i]) {
                job->errs[i] = KERR_UNKNOWN_SERVER_ERROR;
                job->valid[i] = false;
            }
        create_answer(job);
        create_job_free(job);
        return KERR_NONE;
    }
    return KERR__PENDING;
}

/* ---- DeleteAcls ------------------------------------------------------------ */

struct delete_job {
    struct req *req;
    size_t n;
    struct acl_filter *f;
    char *(*names)[3];
    kerr_t *errs;
    char (*msgs)[ACL_MSG_MAX];
    bool *valid;
    struct acl_binding **out;
    size_t *n_out;
};

static void delete_job_free(struct delete_job *job)
{
    for (size_t i = 0; i < job->n; i++) {
        for (int k = 0; job->names && k < 3; k++)
            free(job->names[i][k]);
        if (job->out)
            acl_store_bindings_free(job->out[i], job->n_out[i]);
    }
    free(job->f);
    free(job->names);
    free(job->errs);
    free(job->msgs);
    free(job->valid);
    free(job->out);
    free(job->n_out);
    free(job);
}

static void delete_answer(struct delete_job *job)
{
    struct req *req = job->req;
    struct kbuf *o = &req->out;
    kbuf_put_i32(o, 0); /* throttle_time_ms */
    kw_put_array_len(o, req->flex, (int32_t)job->n);
    for (size_t i = 0; i < job->n; i++) {
        kbuf_put_i16(o, (int16_t)job->errs[i]);
        kw_put_nstr(o, req->flex, job->msgs[i][0] ? job->msgs[i] : NULL);
        int32_t m = 0;
        for (size_t j = 0; j < job->n_out[i]; j++)
            m += req->api_version >= 1 || job->out[i][j].pattern == ACL_PT_LITERAL;
        kw_put_array_len(o, req->flex, m);
        for (size_t j = 0; j < job->n_out[i]; j++) {
            const struct acl_binding *b = &job->out[i][j];
            if (req->api_version == 0 && b->pattern != ACL_PT_LITERAL)
                continue;
            kbuf_put_i16(o, KERR_NONE);
            kw_put_nstr(o, req->flex, NULL);
            kbuf_put_u8(o, (uint8_t)b->rtype);
            kw_put_str(o, req->flex, b->name);
            if (req->api_version >= 1)
                kbuf_put_u8(o, (uint8_t)b->pattern);
            kw_put_str(o, req->flex, b->principal);
            kw_put_str(o, req->flex, b->host);
            kbuf_put_u8(o, (uint8_t)b->op);
            kbuf_put_u8(o, (uint8_t)b->perm);
            kw_put_tags(o, req->flex);
        }
        kw_put_tags(o, req->flex);
    }
    kw_put_tags(o, req->flex);
}

static void delete_job_run(void *arg)
{
    struct delete_job *job = arg;
    struct req *req = job->req;
    KASSERT(worker_is_current(req->broker->admin));
    struct acl_filter *ok = calloc(job->n, sizeof(*ok));
    size_t *idx = calloc(job->n, sizeof(*idx));
    struct acl_binding **out = calloc(job->n, sizeof(*out));
    size_t *n_out = calloc(job->n, sizeof(*n_out));
    kerr_t *errs = calloc(job->n, sizeof(*errs));
    size_t k = 0;
    if (ok && idx && out && n_out && errs) {
        for (size_t i = 0; i < job->n; i++)
            if (job->valid[i]) {
                idx[k] = i;
                ok[k++] = job->f[i];
            }
        acl_store_delete(req->broker, ok, k, out, n_out, errs);
        for (size_t j = 0; j < k; j++) {
            job->errs[idx[j]] = errs[j];
            job->out[idx[j]] = out[j];
            job->n_out[idx[j]] = n_out[j];
            if (errs[j] != KERR_NONE)
                snprintf(job->msgs[idx[j]], ACL_MSG_MAX, "ZooKeeper could not be updated");
        }
    } else {
        for (size_t i = 0; i < job->n; i++)
            if (job->valid[i])
                job->errs[i] = KERR_UNKNOWN_SERVER_ERROR;
    }
    free(ok);
    free(idx);
    free(out);
    free(n_out);
    free(errs);
    delete_answer(job);
    delete_job_free(job);
    req_complete(req);
}

kerr_t handle_delete_acls(struct req *req)
{
    struct kslice *s = &req->body;
    int32_t n = kw_get_array_len(s, req->flex, 7);
    if (!kslice_ok(s) || n < 0)
        return KERR__CLOSE;
    struct delete_job *job = calloc(1, sizeof(*job));
    if (!job)
        return KERR__CLOSE;
    job->req = req;
    size_t cap = n ? (size_t)n : 1;
    job->f = calloc(cap, sizeof(*job->f));
    job->names = calloc(cap, sizeof(*job->names));
    job->errs = calloc(cap, sizeof(*job->errs));
    job->msgs = calloc(cap, sizeof(*job->msgs));
    job->valid = calloc(cap, sizeof(*job->valid));
    job->out = calloc(cap, sizeof(*job->out));
    job->n_out = calloc(cap, sizeof(*job->n_out));
    if (!job->f || !job->names || !job->errs || !job->msgs || !job->valid || !job->out ||
        !job->n_out) {
        delete_job_free(job);
        return KERR__CLOSE;
    }
    bool allowed = req->broker->authz && authz_cluster(req, ACL_OP_ALTER);
    size_t n_valid = 0;
    for (int32_t i = 0; i < n; i++) {
        job->n = (size_t)i + 1;
        bool bad_str = false;
        if (!get_filter(s, req, &job->f[i], job->names[i], &bad_str)) {
            delete_job_free(job);
            return KERR__CLOSE;
        }
        kerr_t err;
        if (!req->broker->authz) {
            err = KERR_SECURITY_DISABLED;
            snprintf(job->msgs[i], ACL_MSG_MAX, "no authorizer is configured");
        } else if (!allowed) {
            err = KERR_CLUSTER_AUTHORIZATION_FAILED;
        } else if (bad_str) {
            err = KERR_INVALID_REQUEST;
            snprintf(job->msgs[i], ACL_MSG_MAX, "a filter string holds a NUL byte");
        } else {
            err = acl_filter_check(&job->f[i], job->msgs[i], ACL_MSG_MAX);
        }
        job->errs[i] = err;
        job->valid[i] = err == KERR_NONE;
        n_valid += job->valid[i];
    }
    kw_skip_tags(s, req->flex);
    if (n_valid == 0 || !worker_post(req->broker->admin, delete_job_run, job)) {
        for (size_t i = 0; i < job->n; i++)
            if (job->valid[i])
                job->errs[i] = KERR_UNKNOWN_SERVER_ERROR;
        delete_answer(job);
        delete_job_free(job);
        return KERR_NONE;
    }
    return KERR__PENDING;
}
