/*
 * broker/kafka/group_call.h — what the consumer-group handlers
 * (group_member.c, group_offsets.c, group_admin.c, txn_offset_commit.c) share: a
 * request carried from its network loop to the group worker
 * (broker/core/group_runtime.h), NUL-terminated copies of the request's strings
 * for the group core, and the answer; and the partitions of a commit
 * (OffsetCommit, TxnOffsetCommit) on their way to the group core and back.
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
#include "broker/kafka/group_codec.h"
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
/* gcall_submit() when the principal may do op (broker/security/acl.h) on
 * group; else fail() answers GROUP_AUTHORIZATION_FAILED (KERR_NONE). */
kerr_t gcall_submit_authz(struct gcall *c, int op, struct kstr group);
/* Sends the response in c->req->out, frees the strings and the state. */
void gcall_finish(struct gcall *c);
/* A NUL-terminated copy of s owned by c: NULL for a null string, "" (and
 * c->oom set) when memory ran out. */
const char *gcall_str(struct gcall *c, struct kstr s);
/* A NUL-terminated copy of s, "" for a null one. */
const char *gcall_str0(struct gcall *c, struct kstr s);

/* Whether this broker knows partition p of topic (false for a null name): commits and
 * deletions of offsets of other partitions are answered UNKNOWN_TOPIC_OR_PARTITION. */
bool gcall_partition_known(struct broker *b, struct kstr topic, int32_t p);

/* The partitions of an OffsetCommit or TxnOffsetCommit: the request's topics (owned by the
 * handler's request), the partitions of known topics handed to the group core in request
 * order, and the part of the request each one answers. */
struct gcommit {
    struct gcodec_commit_topic *topics;
    int32_t topic_count;
    struct group_coord *gc;            /* the coordinator the commit was prepared on */
    struct group_commit *parts;        /* the known partitions, in request order */
    struct gcodec_commit_part **where; /* parts[i] answers *where[i] */
    int32_t n_parts;
};

/* Room for every partition of topics[count]: false when out of memory (free it then). */
bool gcommit_init(struct gcommit *m, struct gcodec_commit_topic *topics, int32_t count);
void gcommit_free(struct gcommit *m);
/* err into every partition of the request. */
void gcommit_fail(struct gcommit *m, kerr_t err);
/* On the group worker: the partitions of topics this broker knows go into parts (with
 * expire_ts, and commit_ts when use_commit_ts, else -1; strings copied into c), the others are
 * answered UNKNOWN_TOPIC_OR_PARTITION, those of topics the principal may not READ
 * TOPIC_AUTHORIZATION_FAILED. */
void gcommit_collect(struct gcommit *m, struct gcall *c, int64_t expire_ts, bool use_commit_ts);
/* The append of a commit prepared on m->gc ended with err (KERR_NONE: replicated) after the
 * coordinator moved: the partitions the core accepted get the error of a lost commit. */
void gcommit_lost(struct gcommit *m, kerr_t err);
/* Copies each known partition's error back into the request, for the encoder. */
void gcommit_answer(struct gcommit *m);

#endif
