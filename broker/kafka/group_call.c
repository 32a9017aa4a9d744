/*
 * broker/kafka/group_call.c — a group request's trip to the group worker and
 * back (group_call.h).
 */
#include "broker/kafka/group_call.h"
#include "broker/core/broker.h"
#include "common/vec.h"

#include <stdlib.h>
#include <string.h>

static void gcall_run(struct group_runtime *gr, void *arg)
{
    struct gcall *c = arg;
    c->run(c, gr);
}

kerr_t gcall_submit(struct gcall *c)
{
    struct group_runtime *gr = c->req->broker->groups;
    if (gr && group_runtime_call(gr, gcall_run, c))
        return KERR__PENDING;
    c->fail(c, KERR_COORDINATOR_NOT_AVAILABLE);
    for (size_t i = 0; i < c->n_strs; i++)
        free(c->strs[i]);
    free(c->strs);
    c->destroy(c);
    return KERR_NONE;
}

void gcall_finish(struct gcall *c)
{
    struct req *req = c->req;
    for (size_t i = 0; i < c->n_strs; i++)
        free(c->strs[i]);
    free(c->strs);
    c->destroy(c);
    req_complete(req);
}

const char *gcall_str(struct gcall *c, struct kstr s)
{
    if (!s.ptr)
        return NULL;
    char *z = kstr_dup(s);
    if (!z || !VEC_RESERVE_AT(c->strs, c->cap_strs, c->n_strs + 1)) {
        free(z);
        c->oom = true;
        return "";
    }
    c->strs[c->n_strs++] = z;
    return z;
}

const char *gcall_str0(struct gcall *c, struct kstr s)
{
    const char *z = gcall_str(c, s);
    return z ? z : "";
}
