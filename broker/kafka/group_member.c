/*
 * broker/kafka/group_member.c — the membership APIs of consumer groups:
 * JoinGroup (key 11, v0-v7), SyncGroup (14, v0-v5), Heartbeat (12, v0-v4),
 * LeaveGroup (13, v0-v4). Codecs: group_codec_member.c; rules: the group
 * core (broker/group/), run on the group worker (group_call.h).
 *
 * JoinGroup and SyncGroup may be held by the core (a rebalance waiting for
 * members, followers waiting for the leader's assignment): the answer is
 * written by the core's callback, through the struct group_waiter of the
 * call. Per version: JoinGroup v0 takes the session timeout as the
 * rebalance timeout; v4+ members without group.instance.id get
 * MEMBER_ID_REQUIRED first (KIP-394); LeaveGroup v0-2 carry one member and
 * answer its error at the top level.
 */
#include "broker/kafka/authz.h"
#include "broker/kafka/dispatch.h"
#include "broker/kafka/group_call.h"
#include "broker/kafka/group_codec.h"

#include <stdlib.h>
#include <string.h>

/* --- JoinGroup ----------------------------------------------------------- */

struct join_call {
    struct gcall c;
    struct group_waiter w;
    struct gcodec_join_req r;
    struct group_protocol *protos;
};

static void join_answer(struct group_waiter *w, const struct group_join_result *res)
{
    struct join_call *jc = (struct join_call *)((char *)w - offsetof(struct join_call, w));
    gcodec_join_resp_encode(&jc->c.req->out, jc->c.req->api_version, 0, res);
    gcall_finish(&jc->c);
}

static void join_fail(struct gcall *c, kerr_t err)
{
    struct group_join_result res = {.err = err, .member_id = "", .generation = -1};
    gcodec_join_resp_encode(&c->req->out, c->req->api_version, 0, &res);
}

static void join_destroy(struct gcall *c)
{
    struct join_call *jc = (struct join_call *)c;
    gcodec_join_req_free(&jc->r);
    free(jc->protos);
    free(jc);
}

static void join_run(struct gcall *c, struct group_runtime *gr)
{
    struct join_call *jc = (struct join_call *)c;
    struct req *req = c->req;
    int16_t v = req->api_version;
    kerr_t err;
    struct group_coord *gc =
        group_runtime_route(gr, jc->r.group_id.ptr, (size_t)jc->r.group_id.len, &err);
    struct group_join_req jr = {.group_id = gcall_str0(c, jc->r.group_id),
                                .member_id = gcall_str0(c, jc->r.member_id),
                                .instance_id = gcall_str(c, jc->r.instance_id),
                                .client_id = gcall_str0(c, req->client_id),
                                .client_host = req->client_host,
                                .session_timeout_ms = jc->r.session_timeout_ms,
                                .rebalance_timeout_ms =
                                    v >= 1 ? jc->r.rebalance_timeout_ms : jc->r.session_timeout_ms,
                                .protocol_type = gcall_str0(c, jc->r.protocol_type),
                                .protocols = jc->protos,
                                .protocol_count = jc->r.protocol_count,
                                .ctx = &jc->w};
    jr.require_known_member_id = v >= 4 && !jr.instance_id;
    for (int32_t i = 0; i < jc->r.protocol_count; i++)
        jc->protos[i] =
            (struct group_protocol){gcall_str0(c, jc->r.protocols[i].name),
                                    jc->r.protocols[i].metadata, jc->r.protocols[i].metadata_len};
    if (!gc || c->oom) {
        join_fail(c, gc ? KERR_UNKNOWN_SERVER_ERROR : err);
        gcall_finish(c);
        return;
    }
    group_join(gc, &jr, group_runtime_now()); /* answered through join_answer() */
}

kerr_t handle_join_group(struct req *req)
{
    struct join_call *jc = calloc(1, sizeof(*jc));
    if (!jc)
        return KERR__CLOSE;
    jc->c = (struct gcall){.req = req, .run = join_run, .fail = join_fail, .destroy = join_destroy};
    jc->w.join = join_answer;
    if (!gcodec_join_req_decode(&req->body, req->api_version, &jc->r) ||
        !(jc->protos = calloc((size_t)(jc->r.protocol_count > 0 ? jc->r.protocol_count : 1),
                              sizeof(*jc->protos)))) {
        join_destroy(&jc->c);
        return KERR__CLOSE;
    }
    return gcall_submit_authz(&jc->c, ACL_OP_READ, jc->r.group_id);
}

/* --- SyncGroup ----------------------------------------------------------- */

struct sync_call {
    struct gcall c;
    struct group_waiter w;
    struct gcodec_sync_req r;
    struct group_assignment *asg;
};

static void sync_answer(struct group_waiter *w, const struct group_sync_result *res)
{
    struct sync_call *sc = (struct sync_call *)((char *)w - offsetof(struct sync_call, w));
    gcodec_sync_resp_encode(&sc->c.req->out, sc->c.req->api_version, 0, res);
    gcall_finish(&sc->c);
}

static void sync_fail(struct gcall *c, kerr_t err)
{
    struct group_sync_result res = {.err = err};
    gcodec_sync_resp_encode(&c->req->out, c->req->api_version, 0, &res);
}

static void sync_destroy(struct gcall *c)
{
    struct sync_call *sc = (struct sync_call *)c;
    gcodec_sync_req_free(&sc->r);
    free(sc->asg);
    free(sc);
}

static void sync_run(struct gcall *c, struct group_runtime *gr)
{
    struct sync_call *sc = (struct sync_call *)c;
    kerr_t err;
    struct group_coord *gc =
        group_runtime_route(gr, sc->r.group_id.ptr, (size_t)sc->r.group_id.len, &err);
    struct group_sync_req sr = {.group_id = gcall_str0(c, sc->r.group_id),
                                .member_id = gcall_str0(c, sc->r.member_id),
                                .instance_id = gcall_str(c, sc->r.instance_id),
                                .generation = sc->r.generation,
                                .protocol_type = gcall_str(c, sc->r.protocol_type),
                                .protocol_name = gcall_str(c, sc->r.protocol_name),
                                .assignments = sc->asg,
                                .assignment_count = sc->r.assignment_count,
                                .ctx = &sc->w};
    for (int32_t i = 0; i < sc->r.assignment_count; i++)
        sc->asg[i] = (struct group_assignment){gcall_str0(c, sc->r.assignments[i].member_id),
                                               sc->r.assignments[i].data, sc->r.assignments[i].len};
    if (!gc || c->oom) {
        sync_fail(c, gc ? KERR_UNKNOWN_SERVER_ERROR : err);
        gcall_finish(c);
        return;
    }
    group_sync(gc, &sr, group_runtime_now()); /* answered through sync_answer() */
}

kerr_t handle_sync_group(struct req *req)
{
    struct sync_call *sc = calloc(1, sizeof(*sc));
    if (!sc)
        return KERR__CLOSE;
    sc->c = (struct gcall){.req = req, .run = sync_run, .fail = sync_fail, .destroy = sync_destroy};
    sc->w.sync = sync_answer;
    if (!gcodec_sync_req_decode(&req->body, req->api_version, &sc->r) ||
        !(sc->asg = calloc((size_t)(sc->r.assignment_count > 0 ? sc->r.assignment_count : 1),
                           sizeof(*sc->asg)))) {
        sync_destroy(&sc->c);
        return KERR__CLOSE;
    }
    return gcall_submit_authz(&sc->c, ACL_OP_READ, sc->r.group_id);
}

/* --- Heartbeat ----------------------------------------------------------- */

struct heartbeat_call {
    struct gcall c;
    struct gcodec_heartbeat_req r;
};

static void heartbeat_fail(struct gcall *c, kerr_t err)
{
    gcodec_heartbeat_resp_encode(&c->req->out, c->req->api_version, 0, err);
}

static void heartbeat_destroy(struct gcall *c) { free(c); }

static void heartbeat_run(struct gcall *c, struct group_runtime *gr)
{
    struct heartbeat_call *hc = (struct heartbeat_call *)c;
    kerr_t err;
    struct group_coord *gc =
        group_runtime_route(gr, hc->r.group_id.ptr, (size_t)hc->r.group_id.len, &err);
    const char *group_id = gcall_str0(c, hc->r.group_id);
    const char *member_id = gcall_str0(c, hc->r.member_id);
    const char *instance_id = gcall_str(c, hc->r.instance_id);
    if (gc && c->oom)
        err = KERR_UNKNOWN_SERVER_ERROR;
    else if (gc)
        err = group_heartbeat(gc, group_id, member_id, instance_id, hc->r.generation,
                              group_runtime_now());
    heartbeat_fail(c, err);
    gcall_finish(c);
}

kerr_t handle_heartbeat(struct req *req)
{
    struct heartbeat_call *hc = calloc(1, sizeof(*hc));
    if (!hc)
        return KERR__CLOSE;
    hc->c = (struct gcall){
        .req = req, .run = heartbeat_run, .fail = heartbeat_fail, .destroy = heartbeat_destroy};
    if (!gcodec_heartbeat_req_decode(&req->body, req->api_version, &hc->r)) {
        free(hc);
        return KERR__CLOSE;
    }
    return gcall_submit_authz(&hc->c, ACL_OP_READ, hc->r.group_id);
}

/* --- LeaveGroup ---------------------------------------------------------- */

struct leave_call {
    struct gcall c;
    struct gcodec_leave_req r;
    struct group_leave_member *members;
};

static void leave_answer(struct gcall *c, kerr_t err)
{
    struct leave_call *lc = (struct leave_call *)c;
    int16_t v = c->req->api_version;
    if (v < 3 && err == KERR_NONE && lc->r.member_count > 0)
        err = lc->members[0].err; /* one member: its answer is the answer */
    gcodec_leave_resp_encode(&c->req->out, v, 0, err, err == KERR_NONE ? lc->members : NULL,
                             err == KERR_NONE ? lc->r.member_count : 0);
}

static void leave_fail(struct gcall *c, kerr_t err) { leave_answer(c, err); }

static void leave_destroy(struct gcall *c)
{
    struct leave_call *lc = (struct leave_call *)c;
    gcodec_leave_req_free(&lc->r);
    free(lc->members);
    free(lc);
}

static void leave_run(struct gcall *c, struct group_runtime *gr)
{
    struct leave_call *lc = (struct leave_call *)c;
    kerr_t err;
    struct group_coord *gc =
        group_runtime_route(gr, lc->r.group_id.ptr, (size_t)lc->r.group_id.len, &err);
    const char *group_id = gcall_str0(c, lc->r.group_id);
    for (int32_t i = 0; i < lc->r.member_count; i++)
        lc->members[i] =
            (struct group_leave_member){gcall_str0(c, lc->r.members[i].member_id),
                                        gcall_str(c, lc->r.members[i].instance_id), KERR_NONE};
    if (gc && c->oom)
        err = KERR_UNKNOWN_SERVER_ERROR;
    else if (gc)
        err = group_leave(gc, group_id, lc->members, lc->r.member_count, group_runtime_now());
    leave_answer(c, err);
    gcall_finish(c);
}

kerr_t handle_leave_group(struct req *req)
{
    struct leave_call *lc = calloc(1, sizeof(*lc));
    if (!lc)
        return KERR__CLOSE;
    lc->c =
        (struct gcall){.req = req, .run = leave_run, .fail = leave_fail, .destroy = leave_destroy};
    if (!gcodec_leave_req_decode(&req->body, req->api_version, &lc->r) ||
        !(lc->members = calloc((size_t)(lc->r.member_count > 0 ? lc->r.member_count : 1),
                               sizeof(*lc->members)))) {
        leave_destroy(&lc->c);
        return KERR__CLOSE;
    }
    return gcall_submit_authz(&lc->c, ACL_OP_READ, lc->r.group_id);
}
