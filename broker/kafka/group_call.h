/*
 * broker/kafka/group_call.h — what the consumer-group handlers
 * (group_member.c, group_offsets.c, group_admin.c) share: a request carried
 * from its network loop to the group worker (broker/core/group_runtime.h),
 * NUL-terminated copies of the request's strings for the group core, and
 * the answer.
 *
 * A handler decodes the request on its network loop (group_codec.h), puts
 * its state in a struct that starts with a struct gcall, and returns
 * gcall_submit(): run() then executes on the group worker, where it may call
 * the group core directly, and ends with gcall_finish() (possibly later, from
 * a group callback or an append's completion), which sends the response
 * body the handler wrote into req->out. When the runtime refuses the call
 * (shutting down, out of memory), fail() writes an answer carrying
 * COORDINATOR_NOT_AVAILABLE at once.
 *
 * Ownership: the gcall (and the handler state around it) is owned by the
 * call from gcall_submit() to gcall_finish(), which frees it with
 * destroy() and the string copies.
 */
#ifndef GREGOR_BROKER_KAFKA_GROUP_CALL_H
#define GREGOR_BROKER_KAFKA_GROUP_CALL_H

#include "broker/core/group_runtime.h"
#include "broker/kafka/request.h"

struct gcall {
    struct req *req;
    /* Runs on the group worker; must end (now or later) in gcall_finish(). */
    void (*run)(struct gcall *c, struct group_runtime *gr);
    /* Writes the whole response with err everywhere an error goes. */
    void (*fail)(struct gcall *c, kerr_t err);
    /* Frees the handler's state around the gcall (including the gcall). */
    void (*destroy)(struct gcall *c);
    char **strs; /* owned copies made by gcall_str() */
    size_t n_strs, cap_strs;
    bool oom; /* a copy failed: run() answers with the error of the API */
};

/* Hands c to the group worker: KERR__PENDING, or KERR_NONE after fail()
 * answered (and c was destroyed) when the call could not be posted. */
kerr_t gcall_submit(struct gcall *c);
/* Sends the response in c->req->out, frees the strings and the state. */
void gcall_finish(struct gcall *c);
/* A NUL-terminated copy of s owned by c: NULL for a null string, "" (and
 * c->oom set) when memory ran out. */
const char *gcall_str(struct gcall *c, struct kstr s);
/* A NUL-terminated copy of s, "" for a null one. */
const char *gcall_str0(struct gcall *c, struct kstr s);

#endif
