/*
 * broker/kafka/group_call.c — a group request's trip to the group worker and
 * back, and a commit's partitions (group_call.h).
 */
#include "broker/kafka/authz.h"
#include "broker/kafka/group_call.h"
#include "broker/core/broker.h"
#include "broker/replication/topics.h"
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

kerr_t gcall_submit_authz(struct gcall *c, int op, struct kstr group)
{
    if (authz_check(c->req, op, ACL_RT_GROUP, group.ptr ? group.ptr : "",
                    group.ptr ? (size_t)group.len : 0))
        return gcall_submit(c);
    c->fail(c, KERR_GROUP_AUTHORIZATION_FAILED);
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

/* --- a commit's partitions -------------------------------------------------------- */

bool gcommit_init(struct gcommit *m, struct gcodec_commit_topic *topics, int32_t count)
{
    size_t n = 0;
    for (int32_t t = 0; t < count; t++)
        n += (size_t)topics[t].part_count;
    *m = (struct gcommit){.topics = topics, .topic_count = count};
    m->parts = calloc(n ? n : 1, sizeof(*m->parts));
    m->where = calloc(n ? n : 1, sizeof(*m->where));
    return m->parts && m->where;
}

void gcommit_free(struct gcommit *m)
{
    free(m->parts);
    free(m->where);
    m->parts = NULL;
    m->where = NULL;
}

void gcommit_fail(struct gcommit *m, kerr_t err)
{
    for (int32_t t = 0; t < m->topic_count; t++)
        for (int32_t p = 0; p < m->topics[t].part_count; p++)
            m->topics[t].parts[p].err = err;
}

bool gcall_partition_known(struct broker *b, struct kstr topic, int32_t p)
{
    if (!topic.ptr)
        return false;
    struct topic *t = topics_get(b->topics, topic.ptr, (size_t)topic.len);
    bool known = t && p >= 0 && p < atomic_load(&t->n_parts);
    topic_unref(t);
    return known;
}

void gcommit_collect(struct gcommit *m, struct gcall *c, int64_t expire_ts, bool use_commit_ts)
{
    struct broker *b = c->req->broker;
    for (int32_t t = 0; t < m->topic_count; t++) {
        struct gcodec_commit_topic *ct = &m->topics[t];
        const char *name = gcall_str0(c, ct->name);
        bool allowed =
            ct->name.ptr && authz_topic(c->req, ACL_OP_READ, ct->name.ptr, (size_t)ct->name.len);
        for (int32_t p = 0; p < ct->part_count; p++) {
            struct gcodec_commit_part *cp = &ct->parts[p];
            if (!allowed) {
                cp->err = KERR_TOPIC_AUTHORIZATION_FAILED;
                continue;
            }
            if (!gcall_partition_known(b, ct->name, cp->partition)) {
                cp->err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            m->where[m->n_parts] = cp;
            m->parts[m->n_parts++] = (struct group_commit){
                .topic = name,
                .partition = cp->partition,
                .offset = cp->offset,
                .leader_epoch = cp->leader_epoch,
                .metadata = gcall_str(c, cp->metadata),
                .expire_ts = expire_ts,
                .commit_ts = use_commit_ts ? cp->commit_ts : -1,
            };
        }
    }
}

void gcommit_lost(struct gcommit *m, kerr_t err)
{
    kerr_t lost = group_append_error(err != KERR_NONE ? err : KERR_NOT_LEADER_OR_FOLLOWER, true);
    for (int32_t i = 0; i < m->n_parts; i++)
        if (m->parts[i].err == KERR_NONE)
            m->parts[i].err = lost;
}

void gcommit_answer(struct gcommit *m)
{
    for (int32_t i = 0; i < m->n_parts; i++)
        m->where[i]->err = m->parts[i].err;
}
