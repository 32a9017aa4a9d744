/*
 * broker/kafka/group_admin.c — looking at and removing groups:
 * DescribeGroups (key 15, v0-v5), ListGroups (16, v0-v4), DeleteGroups
 * (42, v0-v2). Codecs: group_codec_admin.c; rules: the group core
 * (broker/group/), run on the group worker (group_call.h).
 *
 * DescribeGroups answers each group on its own: its coordinator's error
 * (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS), or its state, with
 * "Dead" and no members for a group nobody knows, as Kafka does;
 * authorized operations (v3+, when asked) are every group operation (READ,
 * DELETE, DESCRIBE) since there is no authorizer. ListGroups lists the
 * groups of every partition this broker coordinates, filtered by state (v4,
 * names compared without case), with COORDINATOR_LOAD_IN_PROGRESS while one
 * is loading. DeleteGroups removes empty groups and their offsets; the
 * tombstones are appended without waiting for replication, as Kafka does.
 */
#include "broker/kafka/authz.h"
#include "broker/kafka/dispatch.h"
#include "broker/kafka/group_call.h"
#include "broker/kafka/group_codec.h"
#include "common/say.h"
#include "common/vec.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* --- DescribeGroups ------------------------------------------------------ */

struct describe_call {
    struct gcall c;
    struct gcodec_describe_req r;
};

static void describe_destroy(struct gcall *c)
{
    struct describe_call *dc = (struct describe_call *)c;
    gcodec_describe_req_free(&dc->r);
    free(dc);
}

/* Writes the answer; gr NULL: every group gets fail. */
static void describe_answer(struct gcall *c, struct group_runtime *gr, kerr_t fail)
{
    struct describe_call *dc = (struct describe_call *)c;
    int32_t n = dc->r.group_count;
    struct gcodec_described_group *out = calloc((size_t)(n > 0 ? n : 1), sizeof(*out));
    struct group_member_info **members = calloc((size_t)(n > 0 ? n : 1), sizeof(*members));
    for (int32_t i = 0; out && members && i < n; i++) {
        struct gcodec_described_group *d = &out[i];
        const char *id = gcall_str0(c, dc->r.groups[i]);
        *d = (struct gcodec_described_group){.err = fail,
                                             .group_id = id,
                                             .state = "Dead",
                                             .protocol_type = "",
                                             .protocol_data = "",
                                             .authorized_operations = INT32_MIN};
        struct kstr gid = dc->r.groups[i];
        if (dc->r.include_authorized_operations)
            d->authorized_operations = authz_operations(
                c->req, ACL_RT_GROUP, gid.ptr ? gid.ptr : "", gid.ptr ? (size_t)gid.len : 0);
        if (gr && !authz_check(c->req, ACL_OP_DESCRIBE, ACL_RT_GROUP, gid.ptr ? gid.ptr : "",
                               gid.ptr ? (size_t)gid.len : 0)) {
            d->err = KERR_GROUP_AUTHORIZATION_FAILED;
            continue;
        }
        struct group_coord *gc =
            gr ? group_runtime_route(gr, gid.ptr, (size_t)gid.len, &d->err) : NULL;
        struct group_info gi;
        if (!gc || !group_describe(gc, id, &gi))
            continue;
        d->state = group_state_name(gi.state);
        d->protocol_type = gi.protocol_type;
        d->protocol_data = gi.protocol_name;
        members[i] =
            calloc((size_t)(gi.member_count > 0 ? gi.member_count : 1), sizeof(*members[i]));
        if (!members[i]) {
            d->err = KERR_UNKNOWN_SERVER_ERROR;
            continue;
        }
        for (int32_t m = 0; m < gi.member_count; m++)
            if (group_member_at(gc, id, m, &members[i][m]))
                d->member_count = m + 1;
        d->members = members[i];
    }
    if (out && members)
        gcodec_describe_resp_encode(&c->req->out, c->req->api_version, 0, out, n);
    else
        gcodec_describe_resp_encode(&c->req->out, c->req->api_version, 0, NULL, 0);
    for (int32_t i = 0; members && i < n; i++)
        free(members[i]);
    free(members);
    free(out);
}

static void describe_fail(struct gcall *c, kerr_t err) { describe_answer(c, NULL, err); }

static void describe_run(struct gcall *c, struct group_runtime *gr)
{
    describe_answer(c, gr, KERR_NONE);
    gcall_finish(c);
}

kerr_t handle_describe_groups(struct req *req)
{
    struct describe_call *dc = calloc(1, sizeof(*dc));
    if (!dc)
        return KERR__CLOSE;
    dc->c = (struct gcall){
        .req = req, .run = describe_run, .fail = describe_fail, .destroy = describe_destroy};
    if (!gcodec_describe_req_decode(&req->body, req->api_version, &dc->r)) {
        describe_destroy(&dc->c);
        return KERR__CLOSE;
    }
    return gcall_submit(&dc->c);
}

/* --- ListGroups ---------------------------------------------------------- */

struct list_call {
    struct gcall c;
    struct gcodec_list_req r;
    const char **states; /* the filter, NUL-terminated */
    struct gcodec_listed_group *out;
    size_t n_out, cap_out;
    bool oom;
    bool all; /* DESCRIBE on the cluster: every group, else those the principal may describe */
};

static void list_destroy(struct gcall *c)
{
    struct list_call *lc = (struct list_call *)c;
    gcodec_list_req_free(&lc->r);
    free(lc->states);
    free(lc->out);
    free(lc);
}

static void list_fail(struct gcall *c, kerr_t err)
{
    gcodec_list_resp_encode(&c->req->out, c->req->api_version, 0, err, NULL, 0);
}

static void list_each_group(void *arg, const struct group_info *g)
{
    struct list_call *lc = arg;
    const char *state = group_state_name(g->state);
    bool wanted = lc->r.state_count == 0;
    for (int32_t i = 0; !wanted && i < lc->r.state_count; i++)
        wanted = strcasecmp(lc->states[i], state) == 0;
    if (!wanted || (!lc->all && !authz_check(lc->c.req, ACL_OP_DESCRIBE, ACL_RT_GROUP, g->group_id,
                                             strlen(g->group_id))))
        return;
    if (!VEC_RESERVE_AT(lc->out, lc->cap_out, lc->n_out + 1)) {
        lc->oom = true;
        return;
    }
    lc->out[lc->n_out++] = (struct gcodec_listed_group){g->group_id, g->protocol_type, state};
}

static void list_each_coord(struct group_coord *gc, void *arg)
{
    group_foreach(gc, list_each_group, arg);
}

static void list_run(struct gcall *c, struct group_runtime *gr)
{
    struct list_call *lc = (struct list_call *)c;
    for (int32_t i = 0; i < lc->r.state_count; i++)
        lc->states[i] = gcall_str0(c, lc->r.states[i]);
    lc->all = authz_cluster(c->req, ACL_OP_DESCRIBE);
    kerr_t err = KERR_NONE;
    if (c->oom)
        err = KERR_UNKNOWN_SERVER_ERROR;
    else if (group_runtime_foreach(gr, list_each_coord, lc))
        err = KERR_COORDINATOR_LOAD_IN_PROGRESS;
    if (lc->oom)
        err = KERR_UNKNOWN_SERVER_ERROR;
    gcodec_list_resp_encode(&c->req->out, c->req->api_version, 0, err, lc->out, (int32_t)lc->n_out);
    gcall_finish(c);
}

kerr_t handle_list_groups(struct req *req)
{
    struct list_call *lc = calloc(1, sizeof(*lc));
    if (!lc)
        return KERR__CLOSE;
    lc->c = (struct gcall){.req = req, .run = list_run, .fail = list_fail, .destroy = list_destroy};
    if (!gcodec_list_req_decode(&req->body, req->api_version, &lc->r) ||
        !(lc->states = calloc((size_t)(lc->r.state_count > 0 ? lc->r.state_count : 1),
                              sizeof(*lc->states)))) {
        list_destroy(&lc->c);
        return KERR__CLOSE;
    }
    return gcall_submit(&lc->c);
}

/* --- DeleteGroups -------------------------------------------------------- */

struct delete_call {
    struct gcall c;
    struct gcodec_delete_req r;
};

static void delete_destroy(struct gcall *c)
{
    struct delete_call *dc = (struct delete_call *)c;
    gcodec_delete_req_free(&dc->r);
    free(dc);
}

static void delete_fail(struct gcall *c, kerr_t err)
{
    struct delete_call *dc = (struct delete_call *)c;
    for (int32_t i = 0; i < dc->r.group_count; i++)
        dc->r.groups[i].err = err;
    gcodec_delete_resp_encode(&c->req->out, c->req->api_version, 0, &dc->r);
}

static void delete_appended(struct group_runtime *gr, kerr_t err, void *arg)
{
    if (err != KERR_NONE)
        say_warn("group", "cannot append a deleted group's tombstones err=%s", kerr_name(err));
}

static void delete_run(struct gcall *c, struct group_runtime *gr)
{
    struct delete_call *dc = (struct delete_call *)c;
    for (int32_t i = 0; i < dc->r.group_count; i++) {
        struct gcodec_delete_group *g = &dc->r.groups[i];
        if (!authz_check(c->req, ACL_OP_DELETE, ACL_RT_GROUP,
                         g->group_id.ptr ? g->group_id.ptr : "",
                         g->group_id.ptr ? (size_t)g->group_id.len : 0)) {
            g->err = KERR_GROUP_AUTHORIZATION_FAILED;
            continue;
        }
        struct group_coord *gc =
            group_runtime_route(gr, g->group_id.ptr, (size_t)g->group_id.len, &g->err);
        const char *id = gcall_str0(c, g->group_id);
        if (!gc)
            continue;
        if (c->oom) {
            g->err = KERR_UNKNOWN_SERVER_ERROR;
            continue;
        }
        struct group_records recs;
        group_records_init(&recs);
        g->err = group_delete(gc, id, &recs);
        group_runtime_append(gr, gc, &recs, delete_appended, NULL);
    }
    gcodec_delete_resp_encode(&c->req->out, c->req->api_version, 0, &dc->r);
    gcall_finish(c);
}

kerr_t handle_delete_groups(struct req *req)
{
    struct delete_call *dc = calloc(1, sizeof(*dc));
    if (!dc)
        return KERR__CLOSE;
    dc->c = (struct gcall){
        .req = req, .run = delete_run, .fail = delete_fail, .destroy = delete_destroy};
    if (!gcodec_delete_req_decode(&req->body, req->api_version, &dc->r)) {
        delete_destroy(&dc->c);
        return KERR__CLOSE;
    }
    return gcall_submit(&dc->c);
}
