/*
 * broker/kafka/request.c — the parts of struct req (request.h) that handlers
 * call: attaching segment bytes to a response, and completing a pending
 * request from any thread (the connection's loop then sends it),
 * recording a request against its client quotas, and raising the throttle
 * time its response carries.
 */
#include "broker/kafka/request.h"
#include "broker/core/broker.h"
#include "broker/core/quotas.h"
#include "common/clock.h"
#include "common/loop/worker.h"
#include "common/say.h"
#include "common/vec.h"

#include <unistd.h>

bool req_add_file(struct req *req, int fd, int64_t pos, int64_t len)
{
    if (!VEC_RESERVE_AT(req->files, req->cap_files, (size_t)req->n_files + 1)) {
        close(fd);
        return false;
    }
    req->files[req->n_files++] = (struct req_file){req->out.len, fd, pos, len};
    req->files_len += len;
    return true;
}

void req_complete(struct req *req)
{
    if (!worker_post(req->worker, req->complete_job, req))
        say_error("net", "cannot post completion: out of memory");
}

struct event_base *req_base(struct req *req) { return worker_base(req->worker); }

int32_t req_quota_measure(const struct req *req, int type, double value)
{
    struct quotas *q = req->broker ? req->broker->quotas : NULL;
    if (!q || !quotas_active(q, (enum quota_type)type))
        return 0;
    size_t ul;
    const char *user = quota_principal_user(req->principal, &ul);
    return quotas_record(q, (enum quota_type)type, user, ul, req->client_id.ptr,
                         req->client_id.ptr ? (size_t)req->client_id.len : 0, value,
                         clock_mono_ms());
}

void req_quota_unrecord(const struct req *req, int type, double value)
{
    struct quotas *q = req->broker ? req->broker->quotas : NULL;
    if (!q || !quotas_active(q, (enum quota_type)type))
        return;
    size_t ul;
    const char *user = quota_principal_user(req->principal, &ul);
    quotas_unrecord(q, (enum quota_type)type, user, ul, req->client_id.ptr,
                    req->client_id.ptr ? (size_t)req->client_id.len : 0, value, clock_mono_ms());
}

int32_t req_quota_record(struct req *req, int type, double value)
{
    int32_t ms = req_quota_measure(req, type, value);
    if (ms > req->throttle_ms)
        req->throttle_ms = ms;
    return ms;
}

bool req_throttle_raise(struct req *req, int32_t ms)
{
    if (req->throttle_at < 0 || (size_t)req->throttle_at + 4 > req->out.len)
        return false;
    size_t at = (size_t)req->throttle_at;
    if ((int32_t)be32_load(req->out.data + at) < ms)
        kbuf_patch_i32(&req->out, at, ms);
    return true;
}
