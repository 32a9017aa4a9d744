/*
 * broker/kafka/group_offsets.c — committed offsets: OffsetCommit (key 8,
 * v0-v8), OffsetFetch (9, v0-v8), OffsetDelete (47, v0). Codecs:
 * group_codec_offsets.c; rules: the group core (broker/group/), run on the
 * group worker (group_call.h).
 *
 * OffsetCommit: partitions of topics this broker does not know are answered
 * UNKNOWN_TOPIC_OR_PARTITION; the others go to group_commit_prepare(), whose
 * records are appended to `__consumer_offsets` with acks=all
 * (group_runtime_append()); the commit becomes visible
 * (group_commit_apply()) and is answered only once replicated. Retention:
 * v2-v4 may carry retention_time_ms (expire = now + it); otherwise the
 * broker's offsets.retention.minutes applies when the group is empty.
 * OffsetFetch: offset -1 for a partition without a commit; null topics
 * (v2+) = every committed partition of the group; v8 several groups, each
 * with its own error; v0-1 have no group error field, so a group error goes
 * into every partition. require_stable (v7+): a partition with a commit
 * of the group not yet replicated answers UNSTABLE_OFFSET_COMMIT (offset
 * -1) and the client retries, as Kafka does; the group error stays NONE. The same
 * goes for a partition with a transactional commit (TxnOffsetCommit,
 * txn_offset_commit.c) awaiting its marker; without require_stable the last
 * committed offset is answered.
 */
#include "broker/core/broker.h"
#include "broker/kafka/authz.h"
#include "broker/kafka/dispatch.h"
#include "broker/kafka/group_call.h"
#include "broker/kafka/group_codec.h"
#include "broker/replication/topics.h"
#include "common/vec.h"

#include <stdlib.h>
#include <string.h>

/* --- OffsetCommit -------------------------------------------------------- */

struct commit_call {
    struct gcall c;
    struct gcodec_commit_req r;
    struct gcommit m; /* r's partitions (group_call.h) */
    struct group_commit_req cr;
};

static void commit_fail(struct gcall *c, kerr_t err)
{
    struct commit_call *cc = (struct commit_call *)c;
    gcommit_fail(&cc->m, err);
    gcodec_commit_resp_encode(&c->req->out, c->req->api_version, 0, &cc->r);
}

static void commit_destroy(struct gcall *c)
{
    struct commit_call *cc = (struct commit_call *)c;
    gcommit_free(&cc->m);
    gcodec_commit_req_free(&cc->r);
    free(cc);
}

static void commit_answer(struct commit_call *cc)
{
    gcommit_answer(&cc->m);
    gcodec_commit_resp_encode(&cc->c.req->out, cc->c.req->api_version, 0, &cc->r);
    gcall_finish(&cc->c);
}

static void commit_done(struct group_runtime *gr, kerr_t err, int64_t base_offset, void *arg)
{
    struct commit_call *cc = arg;
    if (group_runtime_current(gr, cc->m.gc)) {
        cc->cr.log_offset = base_offset;
        group_commit_apply(cc->m.gc, &cc->cr, err);
    } else {
        gcommit_lost(&cc->m, err);
    }
    commit_answer(cc);
}

static void commit_run(struct gcall *c, struct group_runtime *gr)
{
    struct commit_call *cc = (struct commit_call *)c;
    kerr_t err;
    cc->m.gc = group_runtime_route(gr, cc->r.group_id.ptr, (size_t)cc->r.group_id.len, &err);
    if (!cc->m.gc) {
        commit_fail(c, err);
        gcall_finish(c);
        return;
    }
    int64_t now = group_runtime_now();
    int64_t expire = cc->r.retention_time_ms >= 0 ? now + cc->r.retention_time_ms : -1;
    gcommit_collect(&cc->m, c, expire, true);
    cc->cr = (struct group_commit_req){.group_id = gcall_str0(c, cc->r.group_id),
                                       .member_id = gcall_str0(c, cc->r.member_id),
                                       .instance_id = gcall_str(c, cc->r.instance_id),
                                       .generation = cc->r.generation,
                                       .parts = cc->m.parts,
                                       .count = cc->m.n_parts};
    if (c->oom) {
        commit_fail(c, KERR_UNKNOWN_SERVER_ERROR);
        gcall_finish(c);
        return;
    }
    if (cc->m.n_parts == 0) {
        commit_answer(cc);
        return;
    }
    struct group_records recs;
    group_records_init(&recs);
    (void)group_commit_prepare(cc->m.gc, &cc->cr, now, &recs); /* errors are in parts[] */
    group_runtime_append_at(gr, cc->m.gc, &recs, -1, -1, commit_done, cc);
}

kerr_t handle_offset_commit(struct req *req)
{
    struct commit_call *cc = calloc(1, sizeof(*cc));
    if (!cc)
        return KERR__CLOSE;
    cc->c = (struct gcall){
        .req = req, .run = commit_run, .fail = commit_fail, .destroy = commit_destroy};
    if (!gcodec_commit_req_decode(&req->body, req->api_version, &cc->r)) {
        commit_destroy(&cc->c);
        return KERR__CLOSE;
    }
    if (!gcommit_init(&cc->m, cc->r.topics, cc->r.topic_count)) {
        commit_destroy(&cc->c);
        return KERR__CLOSE;
    }
    return gcall_submit_authz(&cc->c, ACL_OP_READ, cc->r.group_id);
}

/* --- OffsetFetch --------------------------------------------------------- */

struct fetch_call {
    struct gcall c;
    struct gcodec_fetch_req r;
};

/* The answer of one group, built on the group worker. */
struct fetch_build {
    struct gcodec_fetch_topic *topics;
    size_t n_topics, cap_topics;
    bool oom;
};

static struct gcodec_fetch_part *new_part(struct fetch_build *fb, const char *topic)
{
    struct gcodec_fetch_topic *t = fb->n_topics ? &fb->topics[fb->n_topics - 1] : NULL;
    if (!t || strcmp(t->name, topic) != 0) {
        if (!VEC_RESERVE_AT(fb->topics, fb->cap_topics, fb->n_topics + 1)) {
            fb->oom = true;
            return NULL;
        }
        t = &fb->topics[fb->n_topics++];
        *t = (struct gcodec_fetch_topic){.name = topic};
    }
    struct gcodec_fetch_part *parts =
        realloc((void *)t->parts, sizeof(*parts) * (size_t)(t->part_count + 1));
    if (!parts) {
        fb->oom = true;
        return NULL;
    }
    t->parts = parts;
    return &parts[t->part_count++];
}

static void put_offset(struct gcodec_fetch_part *fp, int32_t partition, kerr_t err,
                       const struct group_offset *o)
{
    *fp = (struct gcodec_fetch_part){.partition = partition,
                                     .offset = o ? o->offset : -1,
                                     .leader_epoch = o ? o->leader_epoch : -1,
                                     .metadata = o ? o->metadata : "",
                                     .err = err};
}

/* One partition's answer: UNSTABLE_OFFSET_COMMIT (offset -1) when the request requires stable
 * offsets and a commit of the partition is not replicated yet, else o (NULL: no commit). */
static void put_fetched(struct gcodec_fetch_part *fp, int32_t partition,
                        const struct group_coord *gc, const char *group_id, const char *topic,
                        bool require_stable, const struct group_offset *o)
{
    if (require_stable && group_offset_pending(gc, group_id, topic, partition))
        put_offset(fp, partition, KERR_UNSTABLE_OFFSET_COMMIT, NULL);
    else
        put_offset(fp, partition, KERR_NONE, o);
}

struct each_arg {
    struct fetch_build *fb;
    const struct group_coord *gc;
    const char *group_id;
    bool require_stable;
    struct req *req; /* for the topic checks */
};

static void each_offset(void *arg, const char *topic, int32_t partition,
                        const struct group_offset *o)
{
    struct each_arg *ea = arg;
    if (!authz_topic(ea->req, ACL_OP_DESCRIBE, topic, strlen(topic)))
        return; /* offsets of topics the principal may not describe are left out */
    struct gcodec_fetch_part *fp = new_part(ea->fb, topic);
    if (fp)
        put_fetched(fp, partition, ea->gc, ea->group_id, topic, ea->require_stable, o);
}

static void fetch_build_free(struct fetch_build *fb)
{
    for (size_t i = 0; i < fb->n_topics; i++)
        free((void *)fb->topics[i].parts);
    free(fb->topics);
}

/* Fills the answer of request group g into fb and *out. */
static void fetch_group(struct gcall *c, struct group_runtime *gr, struct gcodec_fetch_req_group *g,
                        bool require_stable, struct fetch_build *fb, struct gcodec_fetch_group *out)
{
    int16_t v = c->req->api_version;
    kerr_t err;
    struct group_coord *gc =
        group_runtime_route(gr, g->group_id.ptr, (size_t)g->group_id.len, &err);
    const char *group_id = gcall_str0(c, g->group_id);
    *out = (struct gcodec_fetch_group){.group_id = group_id, .err = gc ? KERR_NONE : err};
    if (gc && g->all_topics) {
        struct each_arg ea = {fb, gc, group_id, require_stable, c->req};
        group_offsets_foreach(gc, group_id, each_offset, &ea);
    } else if (gc || v < 2) {
        for (int32_t t = 0; t < g->topic_count; t++) {
            const char *topic = gcall_str0(c, g->topics[t].name);
            bool allowed = authz_topic(c->req, ACL_OP_DESCRIBE, topic, strlen(topic));
            for (int32_t p = 0; p < g->topics[t].part_count; p++) {
                struct gcodec_fetch_part *fp = new_part(fb, topic);
                struct group_offset o;
                int32_t index = g->topics[t].partitions[p];
                if (!fp)
                    break;
                if (!gc) /* v0-1: the group error in every partition */
                    put_offset(fp, index, err, NULL);
                else if (!allowed)
                    put_offset(fp, index, KERR_TOPIC_AUTHORIZATION_FAILED, NULL);
                else
                    put_fetched(fp, index, gc, group_id, topic, require_stable,
                                group_offset_fetch(gc, group_id, topic, index, &o) == KERR_NONE
                                    ? &o
                                    : NULL);
            }
        }
    }
    if (fb->oom || c->oom)
        out->err = KERR_UNKNOWN_SERVER_ERROR;
    out->topics = fb->topics;
    out->topic_count = (int32_t)fb->n_topics;
}

static void fetch_answer(struct gcall *c, struct group_runtime *gr, kerr_t fail)
{
    struct fetch_call *fc = (struct fetch_call *)c;
    int32_t n = fc->r.group_count;
    struct gcodec_fetch_group *groups = calloc((size_t)(n > 0 ? n : 1), sizeof(*groups));
    struct fetch_build *fbs = calloc((size_t)(n > 0 ? n : 1), sizeof(*fbs));
    for (int32_t i = 0; groups && fbs && i < n; i++) {
        struct kstr id = fc->r.groups[i].group_id;
        bool allowed = authz_check(c->req, ACL_OP_DESCRIBE, ACL_RT_GROUP, id.ptr ? id.ptr : "",
                                   id.ptr ? (size_t)id.len : 0);
        if (gr && allowed)
            fetch_group(c, gr, &fc->r.groups[i], fc->r.require_stable, &fbs[i], &groups[i]);
        else
            groups[i] = (struct gcodec_fetch_group){
                .group_id = gcall_str0(c, id), .err = gr ? KERR_GROUP_AUTHORIZATION_FAILED : fail};
    }
    if (groups && fbs) {
        gcodec_fetch_resp_encode(&c->req->out, c->req->api_version, 0, groups, n);
    } else {
        struct gcodec_fetch_group g = {.group_id = "", .err = KERR_UNKNOWN_SERVER_ERROR};
        gcodec_fetch_resp_encode(&c->req->out, c->req->api_version, 0, &g, 1);
    }
    for (int32_t i = 0; fbs && i < n; i++)
        fetch_build_free(&fbs[i]);
    free(fbs);
    free(groups);
}

static void fetch_fail(struct gcall *c, kerr_t err) { fetch_answer(c, NULL, err); }

static void fetch_destroy(struct gcall *c)
{
    struct fetch_call *fc = (struct fetch_call *)c;
    gcodec_fetch_req_free(&fc->r);
    free(fc);
}

static void fetch_run(struct gcall *c, struct group_runtime *gr)
{
    fetch_answer(c, gr, KERR_NONE);
    gcall_finish(c);
}

kerr_t handle_offset_fetch(struct req *req)
{
    struct fetch_call *fc = calloc(1, sizeof(*fc));
    if (!fc)
        return KERR__CLOSE;
    fc->c =
        (struct gcall){.req = req, .run = fetch_run, .fail = fetch_fail, .destroy = fetch_destroy};
    if (!gcodec_fetch_req_decode(&req->body, req->api_version, &fc->r)) {
        fetch_destroy(&fc->c);
        return KERR__CLOSE;
    }
    return gcall_submit(&fc->c);
}

/* --- OffsetDelete -------------------------------------------------------- */

struct odel_call {
    struct gcall c;
    struct gcodec_odel_req r;
    struct group_offset_delete *parts; /* the known partitions */
    struct gcodec_odel_part **where;
    int32_t n_parts;
    kerr_t err;
};

static void odel_fail(struct gcall *c, kerr_t err)
{
    gcodec_odel_resp_encode(&c->req->out, c->req->api_version, 0, err, NULL);
}

static void odel_destroy(struct gcall *c)
{
    struct odel_call *oc = (struct odel_call *)c;
    gcodec_odel_req_free(&oc->r);
    free(oc->parts);
    free(oc->where);
    free(oc);
}

static void odel_answer(struct odel_call *oc)
{
    for (int32_t i = 0; i < oc->n_parts; i++)
        oc->where[i]->err = oc->parts[i].err;
    gcodec_odel_resp_encode(&oc->c.req->out, oc->c.req->api_version, 0, oc->err,
                            oc->err == KERR_NONE ? &oc->r : NULL);
    gcall_finish(&oc->c);
}

static void odel_done(struct group_runtime *gr, kerr_t err, void *arg)
{
    struct odel_call *oc = arg;
    if (err != KERR_NONE)
        oc->err = group_append_error(err, false);
    odel_answer(oc);
}

static void odel_run(struct gcall *c, struct group_runtime *gr)
{
    struct odel_call *oc = (struct odel_call *)c;
    struct broker *b = c->req->broker;
    struct group_coord *gc =
        group_runtime_route(gr, oc->r.group_id.ptr, (size_t)oc->r.group_id.len, &oc->err);
    if (!gc) {
        odel_answer(oc);
        return;
    }
    for (int32_t t = 0; t < oc->r.topic_count; t++) {
        struct gcodec_odel_topic *ot = &oc->r.topics[t];
        const char *name = gcall_str0(c, ot->name);
        for (int32_t p = 0; p < ot->part_count; p++) {
            if (!gcall_partition_known(b, ot->name, ot->parts[p].partition)) {
                ot->parts[p].err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            oc->where[oc->n_parts] = &ot->parts[p];
            oc->parts[oc->n_parts++] =
                (struct group_offset_delete){name, ot->parts[p].partition, KERR_NONE};
        }
    }
    if (c->oom) {
        oc->err = KERR_UNKNOWN_SERVER_ERROR;
        odel_answer(oc);
        return;
    }
    struct group_records recs;
    group_records_init(&recs);
    oc->err = group_offsets_delete(gc, gcall_str0(c, oc->r.group_id), oc->parts, oc->n_parts,
                                   group_runtime_now(), &recs);
    group_runtime_append(gr, gc, &recs, odel_done, oc);
}

kerr_t handle_offset_delete(struct req *req)
{
    struct odel_call *oc = calloc(1, sizeof(*oc));
    if (!oc)
        return KERR__CLOSE;
    oc->c = (struct gcall){.req = req, .run = odel_run, .fail = odel_fail, .destroy = odel_destroy};
    if (!gcodec_odel_req_decode(&req->body, req->api_version, &oc->r)) {
        odel_destroy(&oc->c);
        return KERR__CLOSE;
    }
    size_t n = 0;
    for (int32_t t = 0; t < oc->r.topic_count; t++)
        n += (size_t)oc->r.topics[t].part_count;
    oc->parts = calloc(n ? n : 1, sizeof(*oc->parts));
    oc->where = calloc(n ? n : 1, sizeof(*oc->where));
    if (!oc->parts || !oc->where) {
        odel_destroy(&oc->c);
        return KERR__CLOSE;
    }
    return gcall_submit_authz(&oc->c, ACL_OP_DELETE, oc->r.group_id);
}
