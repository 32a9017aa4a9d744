/*
 * broker/group/group_sync.c — SyncGroup, Heartbeat and LeaveGroup with Kafka's answers, and the
 * persistence step between the leader's assignment and Stable:
 *
 *   - SyncGroup in CompletingRebalance parks every member's request; the leader's request
 *     carries the assignment (members it leaves out get empty bytes, unknown ids are ignored),
 *     which is stored on the members and written through ops.store_cb(await = true); when the
 *     runtime reports group_store_done() the parked requests get their member's bytes as the
 *     leader sent them and the group is Stable. In Stable a SyncGroup gets the stored bytes.
 *   - Heartbeat restarts the member's session timer and says REBALANCE_IN_PROGRESS while the
 *     group prepares a rebalance (that is how members learn to rejoin).
 *   - LeaveGroup removes members (by member id, or v3+ by group.instance.id alone) and
 *     rebalances the rest.
 * Threads: the coordinator's owner.
 */
#include "broker/group/group_int.h"

#include <stdlib.h>
#include <string.h>

static void sync_answer(struct group_coord *gc, void *ctx, kerr_t err)
{
    struct group_sync_result r = {.err = err};
    gc->ops.sync_cb(gc->ops.arg, ctx, &r);
}

static kerr_t validate_sync(const struct group *g, const struct group_sync_req *req)
{
    if (g->state == GROUP_DEAD)
        return KERR_COORDINATOR_NOT_AVAILABLE;
    if (group_is_fenced(g, req->member_id, req->instance_id))
        return KERR_FENCED_INSTANCE_ID;
    if (!group_member(g, req->member_id))
        return KERR_UNKNOWN_MEMBER_ID;
    if (req->generation != g->generation)
        return KERR_ILLEGAL_GENERATION;
    if (req->protocol_type && (!g->protocol_type || strcmp(req->protocol_type, g->protocol_type)))
        return KERR_INCONSISTENT_GROUP_PROTOCOL;
    if (req->protocol_name && (!g->protocol_name || strcmp(req->protocol_name, g->protocol_name)))
        return KERR_INCONSISTENT_GROUP_PROTOCOL;
    return KERR_NONE;
}

/* Copies the leader's assignment onto the members; false on allocation failure. */
static bool set_assignments(struct group *g, const struct group_sync_req *req)
{
    for (int32_t i = 0; i < g->nmembers; i++) {
        struct gmember *m = g->members[i];
        const struct group_assignment *a = NULL;
        for (int32_t k = 0; k < req->assignment_count; k++)
            if (req->assignments[k].member_id && !strcmp(req->assignments[k].member_id, m->id))
                a = &req->assignments[k];
        int32_t len = a && a->len > 0 ? a->len : 0;
        uint8_t *copy = malloc(len > 0 ? (size_t)len : 1);
        if (!copy)
            return false;
        if (len > 0)
            memcpy(copy, a->data, (size_t)len);
        free(m->assignment);
        m->assignment = copy;
        m->assignment_len = len;
    }
    return true;
}

/* A successful SyncGroup answer to m: its assignment (borrowed from m). */
static struct group_sync_result assignment_result(const struct group *g, const struct gmember *m)
{
    return (struct group_sync_result){
        .err = KERR_NONE,
        .protocol_type = g->protocol_type,
        .protocol_name = g->protocol_name,
        .assignment = m->assignment,
        .assignment_len = m->assignment_len,
    };
}

static void propagate_assignment(struct group_coord *gc, struct group *g, int64_t now_ms)
{
    for (int32_t i = 0; i < g->nmembers; i++) {
        struct gmember *m = g->members[i];
        struct group_sync_result r = assignment_result(g, m);
        group_invoke_sync(gc, m, &r);
        group_touch(g, m, now_ms);
    }
}

void group_sync(struct group_coord *gc, const struct group_sync_req *req, int64_t now_ms)
{
    kerr_t err = group_check_id(gc, req->group_id);
    struct group *g = err ? NULL : group_find(gc, req->group_id);
    if (!err && !g)
        err = KERR_UNKNOWN_MEMBER_ID;
    if (!err)
        err = validate_sync(g, req);
    if (!err && g->state == GROUP_EMPTY)
        err = KERR_UNKNOWN_MEMBER_ID;
    if (!err && g->state == GROUP_PREPARING_REBALANCE)
        err = KERR_REBALANCE_IN_PROGRESS;
    if (err) {
        sync_answer(gc, req->ctx, err);
        return;
    }
    struct gmember *m = group_member(g, req->member_id);
    group_sync_received(g, m);
    if (g->state == GROUP_STABLE) {
        struct group_sync_result r = assignment_result(g, m);
        gc->ops.sync_cb(gc->ops.arg, req->ctx, &r);
        group_touch(g, m, now_ms);
        return;
    }
    /* CompletingRebalance: park, and let the leader's assignment release everyone */
    if (m->awaiting_sync) {
        struct group_sync_result again = {.err = KERR_REBALANCE_IN_PROGRESS};
        group_invoke_sync(gc, m, &again);
    }
    m->awaiting_sync = true;
    m->sync_ctx = req->ctx;
    if (g->leader != m)
        return;
    if (!set_assignments(g, req)) {
        group_reset_and_propagate(gc, g, KERR_COORDINATOR_NOT_AVAILABLE, now_ms);
        group_maybe_prepare_rebalance(gc, g, now_ms);
        return;
    }
    group_store(gc, g, true, now_ms);
}

void group_store_done(struct group_coord *gc, const char *group_id, int32_t generation, kerr_t err,
                      int64_t now_ms)
{
    struct group *g = group_find(gc, group_id);
    /* a member may have joined meanwhile: only the generation that stored may complete */
    if (!g || g->state != GROUP_COMPLETING_REBALANCE || g->generation != generation)
        return;
    if (err) {
        group_reset_and_propagate(gc, g, group_append_error(err, false), now_ms);
        group_maybe_prepare_rebalance(gc, g, now_ms);
        return;
    }
    propagate_assignment(gc, g, now_ms);
    group_transition(g, GROUP_STABLE, now_ms);
}

kerr_t group_heartbeat(struct group_coord *gc, const char *group_id, const char *member_id,
                       const char *instance_id, int32_t generation, int64_t now_ms)
{
    kerr_t err = group_check_id(gc, group_id);
    if (err)
        return err;
    struct group *g = group_find(gc, group_id);
    if (!g)
        return KERR_UNKNOWN_MEMBER_ID;
    if (g->state == GROUP_DEAD)
        return KERR_COORDINATOR_NOT_AVAILABLE;
    if (group_is_fenced(g, member_id, instance_id))
        return KERR_FENCED_INSTANCE_ID;
    struct gmember *m = group_member(g, member_id);
    if (!m)
        return KERR_UNKNOWN_MEMBER_ID;
    if (generation != g->generation)
        return KERR_ILLEGAL_GENERATION;
    switch (g->state) {
    case GROUP_EMPTY:
        return KERR_UNKNOWN_MEMBER_ID;
    case GROUP_PREPARING_REBALANCE:
        group_touch(g, m, now_ms);
        return KERR_REBALANCE_IN_PROGRESS;
    default:
        group_touch(g, m, now_ms);
        return KERR_NONE;
    }
}

static kerr_t leave_one(struct group_coord *gc, struct group *g, struct group_leave_member *lm,
                        int64_t now_ms)
{
    const char *id = lm->member_id ? lm->member_id : "";
    if (!*id) {
        struct gmember *m = group_static_member(g, lm->instance_id);
        if (!m)
            return KERR_UNKNOWN_MEMBER_ID;
        group_remove_member_and_update(gc, g, m, now_ms);
        return KERR_NONE;
    }
    if (group_is_pending(g, id)) {
        group_remove_pending_and_update(gc, g, id, now_ms);
        return KERR_NONE;
    }
    if (group_is_fenced(g, id, lm->instance_id))
        return KERR_FENCED_INSTANCE_ID;
    struct gmember *m = group_member(g, id);
    if (!m)
        return KERR_UNKNOWN_MEMBER_ID;
    group_remove_member_and_update(gc, g, m, now_ms);
    return KERR_NONE;
}

kerr_t group_leave(struct group_coord *gc, const char *group_id, struct group_leave_member *members,
                   int32_t count, int64_t now_ms)
{
    kerr_t err = group_check_id(gc, group_id);
    if (err)
        return err;
    struct group *g = group_find(gc, group_id);
    if (g && g->state == GROUP_DEAD)
        return KERR_COORDINATOR_NOT_AVAILABLE;
    for (int32_t i = 0; i < count; i++)
        members[i].err = g ? leave_one(gc, g, &members[i], now_ms) : KERR_UNKNOWN_MEMBER_ID;
    return KERR_NONE;
}
