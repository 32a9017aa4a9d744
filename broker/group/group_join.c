/*
 * broker/group/group_join.c — JoinGroup and the rebalance it drives, with Kafka's rules
 * (GroupCoordinator.handleJoinGroup, prepareRebalance, onCompleteJoin, heartbeat expiry):
 *
 *   - a join without a member id gets "<client id or instance id>-<uuid>"; JoinGroup v4+
 *     dynamic members first get MEMBER_ID_REQUIRED and are remembered as pending until they
 *     rejoin with it (or their session timeout passes);
 *   - a known group.instance.id joining without a member id replaces the old member id; in a
 *     Stable group whose protocol choice does not change this needs no rebalance (the old id is
 *     then fenced), otherwise the group rebalances;
 *   - a rebalance holds every JoinGroup until all members (and pending members) rejoined, or
 *     the largest rebalance timeout passed, when dynamic members that did not rejoin are
 *     removed; an Empty group first waits group.initial.rebalance.delay.ms, extended by the
 *     same delay (within the rebalance timeout) while new members keep arriving;
 *   - completion bumps the generation, picks the protocol by vote and answers every held join
 *     (the leader gets the members' metadata), entering CompletingRebalance;
 *   - members of the new generation that send no SyncGroup within the rebalance timeout are
 *     removed and the group rebalances (Kafka 3.x's pending-sync timeout, onExpirePendingSync).
 *
 * Timers are deadlines in the structs, run by group_tick(). Threads: the coordinator's owner.
 */
#include "broker/group/group_int.h"

#include <stdlib.h>
#include <string.h>

static void join_answer(struct group_coord *gc, void *ctx, kerr_t err, const char *member_id)
{
    struct group_join_result r = {
        .err = err, .member_id = member_id ? member_id : "", .generation = -1};
    gc->ops.join_cb(gc->ops.arg, ctx, &r);
}

void group_touch(struct group *g, struct gmember *m, int64_t now_ms)
{
    (void)g;
    m->expire_at = now_ms + m->session_timeout_ms;
}

/* Answers m's parked join with the current generation, with the members' metadata when
 * with_members (the leader's answer). */
static void join_answer_current(struct group_coord *gc, struct group *g, struct gmember *m,
                                const char *leader_id, bool with_members)
{
    struct group_join_member *list = NULL;
    int32_t n = 0;
    if (with_members) {
        list = calloc(g->nmembers > 0 ? (size_t)g->nmembers : 1, sizeof(*list));
        if (!list) {
            group_join_error(gc, g, m, KERR_COORDINATOR_NOT_AVAILABLE);
            return;
        }
        for (int32_t i = 0; i < g->nmembers; i++) {
            const struct gmember *o = g->members[i];
            const struct gproto *p = gmember_proto(o, g->protocol_name);
            list[n++] = (struct group_join_member){o->id, o->instance_id, p ? p->meta : NULL,
                                                   p ? p->len : 0};
        }
    }
    struct group_join_result r = {
        .err = KERR_NONE,
        .member_id = m->id,
        .generation = g->generation,
        .protocol_type = g->protocol_type,
        .protocol_name = g->protocol_name,
        .leader_id = leader_id,
        .members = list,
        .member_count = n,
    };
    group_invoke_join(gc, g, m, &r);
    free(list);
}

/* Parks req's answer on m (a superseded parked join is answered REBALANCE_IN_PROGRESS). */
static void park_join(struct group_coord *gc, struct group *g, struct gmember *m, void *ctx)
{
    if (m->awaiting_join)
        group_join_error(gc, g, m, KERR_REBALANCE_IN_PROGRESS);
    m->awaiting_join = true;
    m->join_ctx = ctx;
    g->num_awaiting_join++;
}

static bool update_member(struct group_coord *gc, struct group *g, struct gmember *m,
                          const struct group_join_req *req)
{
    if (!gmember_set_protocols(m, req->protocols, req->protocol_count))
        return false;
    m->session_timeout_ms = req->session_timeout_ms;
    m->rebalance_timeout_ms = req->rebalance_timeout_ms;
    park_join(gc, g, m, req->ctx);
    return true;
}

static void update_member_and_rebalance(struct group_coord *gc, struct group *g, struct gmember *m,
                                        const struct group_join_req *req, int64_t now_ms)
{
    if (!update_member(gc, g, m, req)) {
        join_answer(gc, req->ctx, KERR_COORDINATOR_NOT_AVAILABLE, m->id);
        return;
    }
    group_touch(g, m, now_ms);
    group_maybe_prepare_rebalance(gc, g, now_ms);
}

static void add_member_and_rebalance(struct group_coord *gc, struct group *g,
                                     const struct group_join_req *req, const char *member_id,
                                     int64_t now_ms)
{
    if (g->nmembers == 0 && !gset_str(&g->protocol_type, req->protocol_type))
        goto out_nomem;
    struct gmember *m = gmember_new(req, member_id);
    if (!m)
        goto out_nomem;
    m->is_new = true;
    m->awaiting_join = true;
    m->join_ctx = req->ctx;
    /* the session timer does not run for a member without its id yet: a held JoinGroup of a
     * new member is dropped after new_member_join_timeout instead */
    m->expire_at = now_ms + gc->cfg.new_member_join_timeout_ms;
    if (g->state == GROUP_PREPARING_REBALANCE && g->generation == 0)
        g->new_member_added = true;
    if (!group_add_member(g, m)) {
        gmember_free(m);
        goto out_nomem;
    }
    group_maybe_prepare_rebalance(gc, g, now_ms);
    return;
out_nomem:
    join_answer(gc, req->ctx, KERR_COORDINATOR_NOT_AVAILABLE, member_id);
}

/* A known instance id joins without a member id: the member takes new_id; the old id's parked
 * requests are answered FENCED_INSTANCE_ID. */
static void update_static_member(struct group_coord *gc, struct group *g, struct gmember *m,
                                 const struct group_join_req *req, char *new_id, int64_t now_ms)
{
    char *old_leader = g->leader ? gstrdup(g->leader->id) : NULL;
    group_join_error(gc, g, m, KERR_FENCED_INSTANCE_ID);
    struct group_sync_result fenced = {.err = KERR_FENCED_INSTANCE_ID};
    group_invoke_sync(gc, m, &fenced);
    free(m->id);
    m->id = new_id;
    if (!update_member(gc, g, m, req)) {
        join_answer(gc, req->ctx, KERR_COORDINATOR_NOT_AVAILABLE, new_id);
        free(old_leader);
        return;
    }
    group_touch(g, m, now_ms);
    switch (g->state) {
    case GROUP_STABLE: {
        const char *next = group_select_protocol(g);
        if (next && g->protocol_name && strcmp(next, g->protocol_name) == 0) {
            /* Kafka answers with the old leader id, so that the leader (even when it is this
             * member) does not run an assignment a Stable group would not hand out. */
            group_store(gc, g, false, now_ms);
            join_answer_current(gc, g, m, old_leader, false);
        } else {
            group_maybe_prepare_rebalance(gc, g, now_ms);
        }
        break;
    }
    case GROUP_COMPLETING_REBALANCE:
        /* the leader may already be assigning to the old id: rebalance */
        group_prepare_rebalance(gc, g, now_ms);
        break;
    default:
        break;
    }
    free(old_leader);
}

static void new_member_join(struct group_coord *gc, struct group *g,
                            const struct group_join_req *req, int64_t now_ms)
{
    if (g->state == GROUP_DEAD) {
        join_answer(gc, req->ctx, KERR_COORDINATOR_NOT_AVAILABLE, "");
        return;
    }
    if (!group_supports(g, req->protocol_type, req->protocols, req->protocol_count)) {
        join_answer(gc, req->ctx, KERR_INCONSISTENT_GROUP_PROTOCOL, "");
        return;
    }
    const char *prefix = req->instance_id ? req->instance_id : req->client_id ? req->client_id : "";
    char *id = group_new_member_id(gc, prefix);
    if (!id) {
        join_answer(gc, req->ctx, KERR_COORDINATOR_NOT_AVAILABLE, "");
        return;
    }
    struct gmember *old = group_static_member(g, req->instance_id);
    if (old) {
        update_static_member(gc, g, old, req, id, now_ms); /* takes id */
        return;
    }
    if (!req->instance_id && req->require_known_member_id) {
        if (group_add_pending(g, id, now_ms + req->session_timeout_ms))
            join_answer(gc, req->ctx, KERR_MEMBER_ID_REQUIRED, id);
        else
            join_answer(gc, req->ctx, KERR_COORDINATOR_NOT_AVAILABLE, "");
    } else {
        add_member_and_rebalance(gc, g, req, id, now_ms);
    }
    free(id);
}

static void current_member_join(struct group_coord *gc, struct group *g,
                                const struct group_join_req *req, int64_t now_ms)
{
    const char *id = req->member_id;
    if (g->state == GROUP_DEAD) {
        join_answer(gc, req->ctx, KERR_COORDINATOR_NOT_AVAILABLE, id);
        return;
    }
    if (!group_supports(g, req->protocol_type, req->protocols, req->protocol_count)) {
        join_answer(gc, req->ctx, KERR_INCONSISTENT_GROUP_PROTOCOL, id);
        return;
    }
    if (group_is_pending(g, id) && !req->instance_id) {
        add_member_and_rebalance(gc, g, req, id, now_ms);
        return;
    }
    if (group_is_fenced(g, id, req->instance_id)) {
        join_answer(gc, req->ctx, KERR_FENCED_INSTANCE_ID, id);
        return;
    }
    struct gmember *m = group_member(g, id);
    if (!m || (req->instance_id && !group_static_member(g, req->instance_id))) {
        join_answer(gc, req->ctx, KERR_UNKNOWN_MEMBER_ID, id);
        return;
    }
    bool same = gmember_matches(m, req->protocols, req->protocol_count);
    switch (g->state) {
    case GROUP_PREPARING_REBALANCE:
        update_member_and_rebalance(gc, g, m, req, now_ms);
        break;
    case GROUP_COMPLETING_REBALANCE:
    case GROUP_STABLE:
        /* a follower repeating its join (say, it lost the answer) gets the current generation;
         * the leader rejoining in Stable, or any changed metadata, starts a rebalance */
        if (same && (g->state == GROUP_COMPLETING_REBALANCE || g->leader != m)) {
            park_join(gc, g, m, req->ctx);
            join_answer_current(gc, g, m, g->leader ? g->leader->id : NULL,
                                g->state == GROUP_COMPLETING_REBALANCE && g->leader == m);
        } else {
            update_member_and_rebalance(gc, g, m, req, now_ms);
        }
        break;
    default:
        join_answer(gc, req->ctx, KERR_UNKNOWN_MEMBER_ID, id);
        break;
    }
}

/* Kafka's acceptJoiningMember: group.max.size counts the members awaiting a join while
 * rebalancing, the members otherwise. */
static bool accept_joining(const struct group_coord *gc, const struct group *g, const char *id)
{
    struct gmember *m = id && *id ? group_member(g, id) : NULL;
    switch (g->state) {
    case GROUP_PREPARING_REBALANCE:
        return (m && m->awaiting_join) || g->num_awaiting_join < gc->cfg.max_size;
    case GROUP_COMPLETING_REBALANCE:
    case GROUP_STABLE:
        return m || g->nmembers < gc->cfg.max_size;
    default:
        return true;
    }
}

static int64_t metadata_bytes(const struct group_join_req *req)
{
    int64_t n = 0;
    for (int32_t i = 0; i < req->protocol_count; i++)
        n += req->protocols[i].metadata_len > 0 ? req->protocols[i].metadata_len : 0;
    return n;
}

static void run_timers(struct group_coord *gc, struct group *g, int64_t now_ms);

void group_join(struct group_coord *gc, const struct group_join_req *req, int64_t now_ms)
{
    const char *mid = req->member_id ? req->member_id : "";
    kerr_t err = group_check_id(gc, req->group_id);
    if (!err && (req->session_timeout_ms < gc->cfg.min_session_timeout_ms ||
                 req->session_timeout_ms > gc->cfg.max_session_timeout_ms))
        err = KERR_INVALID_SESSION_TIMEOUT;
    if (!err && metadata_bytes(req) > gc->cfg.max_member_metadata_bytes)
        err = KERR_INVALID_REQUEST;
    if (err) {
        join_answer(gc, req->ctx, err, mid);
        return;
    }
    bool unknown = *mid == '\0';
    struct group *g =
        unknown ? group_get_or_create(gc, req->group_id, now_ms) : group_find(gc, req->group_id);
    if (!g) {
        join_answer(gc, req->ctx, unknown ? KERR_COORDINATOR_NOT_AVAILABLE : KERR_UNKNOWN_MEMBER_ID,
                    mid);
        return;
    }
    if (!accept_joining(gc, g, mid)) {
        struct gmember *m = unknown ? NULL : group_member(g, mid);
        if (m) {
            struct group_sync_result sr = {.err = KERR_GROUP_MAX_SIZE_REACHED};
            group_invoke_sync(gc, m, &sr);
            group_join_error(gc, g, m, KERR_GROUP_MAX_SIZE_REACHED);
            group_remove_member(g, m);
        }
        join_answer(gc, req->ctx, KERR_GROUP_MAX_SIZE_REACHED, "");
    } else if (unknown) {
        new_member_join(gc, g, req, now_ms);
    } else {
        current_member_join(gc, g, req, now_ms);
    }
    group_check_join(gc, g, now_ms);
    run_timers(gc, g, now_ms); /* an initial delay of 0 completes at once */
}

void group_maybe_prepare_rebalance(struct group_coord *gc, struct group *g, int64_t now_ms)
{
    if (g->state == GROUP_STABLE || g->state == GROUP_COMPLETING_REBALANCE ||
        g->state == GROUP_EMPTY)
        group_prepare_rebalance(gc, g, now_ms);
}

void group_sync_received(struct group *g, struct gmember *m)
{
    m->pending_sync = false;
    for (int32_t i = 0; i < g->nmembers; i++)
        if (g->members[i]->pending_sync)
            return;
    g->sync_deadline = GROUP_NO_DEADLINE;
}

static void clear_pending_sync(struct group *g)
{
    for (int32_t i = 0; i < g->nmembers; i++)
        g->members[i]->pending_sync = false;
    g->sync_deadline = GROUP_NO_DEADLINE;
}

void group_prepare_rebalance(struct group_coord *gc, struct group *g, int64_t now_ms)
{
    clear_pending_sync(g);
    if (g->state == GROUP_COMPLETING_REBALANCE)
        group_reset_and_propagate(gc, g, KERR_REBALANCE_IN_PROGRESS, now_ms);
    int32_t timeout = group_rebalance_timeout(g);
    if (g->state == GROUP_EMPTY) {
        int32_t delay = gc->cfg.initial_rebalance_delay_ms;
        g->initial_delay = true;
        g->new_member_added = false;
        g->initial_remaining_ms = timeout > delay ? timeout - delay : 0;
        g->join_deadline = now_ms + delay;
    } else {
        g->initial_delay = false;
        g->join_deadline = now_ms + timeout;
    }
    group_transition(g, GROUP_PREPARING_REBALANCE, now_ms);
    group_check_join(gc, g, now_ms); /* e.g. the last member left: Empty at once */
}

/* Kafka's maybeElectNewJoinedLeader: keep a leader that rejoined, else any member that did. */
static bool elect_joined_leader(struct group *g)
{
    if (!g->leader)
        return false;
    if (g->leader->awaiting_join)
        return true;
    for (int32_t i = 0; i < g->nmembers; i++) {
        if (g->members[i]->awaiting_join) {
            g->leader = g->members[i];
            return true;
        }
    }
    return false;
}

static void complete_join(struct group_coord *gc, struct group *g, int64_t now_ms)
{
    /* dynamic members that did not rejoin in time leave; static ones keep their place */
    for (int32_t i = 0; i < g->nmembers;) {
        struct gmember *m = g->members[i];
        if (m->awaiting_join || m->instance_id) {
            i++;
            continue;
        }
        struct group_sync_result sr = {.err = KERR_UNKNOWN_MEMBER_ID};
        group_invoke_sync(gc, m, &sr);
        group_remove_member(g, m);
    }
    if (!elect_joined_leader(g) && g->nmembers > 0) {
        /* nobody rejoined: wait another rebalance timeout for the session timers */
        g->initial_delay = false;
        g->join_deadline = now_ms + group_rebalance_timeout(g);
        return;
    }
    g->join_deadline = GROUP_NO_DEADLINE;
    g->initial_delay = false;
    g->generation++;
    if (g->nmembers == 0) {
        gset_str(&g->protocol_name, NULL);
        group_transition(g, GROUP_EMPTY, now_ms);
        group_store(gc, g, false, now_ms);
        return;
    }
    if (!gset_str(&g->protocol_name, group_select_protocol(g))) {
        for (int32_t i = 0; i < g->nmembers; i++)
            group_join_error(gc, g, g->members[i], KERR_COORDINATOR_NOT_AVAILABLE);
        group_transition(g, GROUP_EMPTY, now_ms);
        return;
    }
    group_transition(g, GROUP_COMPLETING_REBALANCE, now_ms);
    g->sync_deadline = now_ms + group_rebalance_timeout(g);
    for (int32_t i = 0; i < g->nmembers; i++) {
        struct gmember *m = g->members[i];
        m->pending_sync = true;
        join_answer_current(gc, g, m, g->leader->id, g->leader == m);
        group_touch(g, m, now_ms);
        m->is_new = false;
    }
}

void group_check_join(struct group_coord *gc, struct group *g, int64_t now_ms)
{
    if (g->state == GROUP_PREPARING_REBALANCE && !g->initial_delay &&
        g->num_awaiting_join == g->nmembers && g->npending == 0)
        complete_join(gc, g, now_ms);
}

/* Removes m from g; a JoinGroup or SyncGroup of m still held learns it must join again. */
static void evict_member(struct group_coord *gc, struct group *g, struct gmember *m)
{
    struct group_join_result jr = {
        .err = KERR_UNKNOWN_MEMBER_ID, .member_id = "", .generation = -1};
    group_invoke_join(gc, g, m, &jr);
    struct group_sync_result sr = {.err = KERR_UNKNOWN_MEMBER_ID};
    group_invoke_sync(gc, m, &sr);
    group_remove_member(g, m);
}

void group_remove_member_and_update(struct group_coord *gc, struct group *g, struct gmember *m,
                                    int64_t now_ms)
{
    evict_member(gc, g, m);
    if (g->state == GROUP_STABLE || g->state == GROUP_COMPLETING_REBALANCE)
        group_maybe_prepare_rebalance(gc, g, now_ms);
    else if (g->state == GROUP_PREPARING_REBALANCE)
        group_check_join(gc, g, now_ms);
}

void group_remove_pending_and_update(struct group_coord *gc, struct group *g, const char *id,
                                     int64_t now_ms)
{
    group_remove_pending(g, id);
    group_check_join(gc, g, now_ms);
}

void group_reset_and_propagate(struct group_coord *gc, struct group *g, kerr_t err, int64_t now_ms)
{
    for (int32_t i = 0; i < g->nmembers; i++) {
        struct gmember *m = g->members[i];
        free(m->assignment);
        m->assignment = NULL;
        m->assignment_len = 0;
        struct group_sync_result sr = {.err = err};
        group_invoke_sync(gc, m, &sr);
        group_touch(g, m, now_ms);
    }
}

static void run_join_timer(struct group_coord *gc, struct group *g, int64_t now_ms)
{
    if (g->state != GROUP_PREPARING_REBALANCE || g->join_deadline > now_ms)
        return;
    if (g->initial_delay && g->new_member_added && g->initial_remaining_ms > 0) {
        int32_t delay = gc->cfg.initial_rebalance_delay_ms;
        if (delay > g->initial_remaining_ms)
            delay = g->initial_remaining_ms;
        g->new_member_added = false;
        g->initial_remaining_ms -= delay;
        g->join_deadline = now_ms + delay;
        return;
    }
    complete_join(gc, g, now_ms);
}

/* Removes the members that joined the current generation but sent no SyncGroup within the
 * rebalance timeout, then rebalances the others. */
static void run_sync_timer(struct group_coord *gc, struct group *g, int64_t now_ms)
{
    if ((g->state != GROUP_COMPLETING_REBALANCE && g->state != GROUP_STABLE) ||
        g->sync_deadline > now_ms)
        return;
    g->sync_deadline = GROUP_NO_DEADLINE;
    bool removed = false;
    for (int32_t i = 0; i < g->nmembers;) {
        struct gmember *m = g->members[i];
        if (!m->pending_sync) {
            i++;
            continue;
        }
        evict_member(gc, g, m);
        removed = true;
    }
    if (removed)
        group_prepare_rebalance(gc, g, now_ms);
}

static void run_timers(struct group_coord *gc, struct group *g, int64_t now_ms)
{
    run_join_timer(gc, g, now_ms);
    run_sync_timer(gc, g, now_ms);
    for (int32_t i = 0; i < g->npending;) {
        if (g->pending[i].expire_at <= now_ms) {
            group_remove_pending_and_update(gc, g, g->pending[i].id, now_ms);
            i = 0;
        } else {
            i++;
        }
    }
    for (int32_t i = 0; i < g->nmembers;) {
        struct gmember *m = g->members[i];
        if (m->expire_at > now_ms) {
            i++;
        } else if (!m->is_new && (m->awaiting_join || m->awaiting_sync)) {
            /* held in a rebalance: the rebalance timeout decides, not the session */
            group_touch(g, m, now_ms);
            i++;
        } else {
            group_remove_member_and_update(gc, g, m, now_ms);
            i = 0;
        }
    }
}

void group_tick(struct group_coord *gc, int64_t now_ms)
{
    for (size_t b = 0; b < gc->nbuckets; b++)
        for (struct group *g = gc->buckets[b]; g; g = g->next)
            run_timers(gc, g, now_ms);
}

int64_t group_next_deadline(const struct group_coord *gc)
{
    int64_t next = GROUP_NO_DEADLINE;
    for (size_t b = 0; b < gc->nbuckets; b++) {
        for (const struct group *g = gc->buckets[b]; g; g = g->next) {
            if (g->state == GROUP_PREPARING_REBALANCE && g->join_deadline < next)
                next = g->join_deadline;
            if ((g->state == GROUP_COMPLETING_REBALANCE || g->state == GROUP_STABLE) &&
                g->sync_deadline < next)
                next = g->sync_deadline;
            for (int32_t i = 0; i < g->npending; i++)
                if (g->pending[i].expire_at < next)
                    next = g->pending[i].expire_at;
            for (int32_t i = 0; i < g->nmembers; i++)
                if (g->members[i]->expire_at < next)
                    next = g->members[i]->expire_at;
        }
    }
    return next;
}
