/*
 * tests/unit/broker/group/test_group_join.c — JoinGroup and rebalances of the group state
 * machine (broker/group/group_join.c): the initial delay, several members, leader choice and
 * the protocol vote, MEMBER_ID_REQUIRED pending members, static membership, group.max.size and
 * the request checks.
 */
#include "group_test.h"

Test(group_join, first_join_waits_for_the_initial_delay)
{
    struct group_config cfg = test_config();
    cfg.initial_rebalance_delay_ms = 3000;
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct call a;
    join(gc, "g", "", &a, 1000);
    cr_assert_eq(a.answered, 0);
    cr_assert_eq(state_of(gc, "g"), GROUP_PREPARING_REBALANCE);
    cr_assert_eq(group_next_deadline(gc), 4000);
    group_tick(gc, 3999);
    cr_assert_eq(a.answered, 0);
    group_tick(gc, 4000);
    cr_assert_eq(a.answered, 1);
    cr_assert_eq(a.err, KERR_NONE);
    cr_assert_eq(a.generation, 1);
    cr_assert_str_eq(a.leader, a.member_id);
    cr_assert_str_eq(a.protocol, "range");
    cr_assert_eq(a.member_count, 1);
    cr_assert(strncmp(a.member_id, "client-", 7) == 0, "member id %s", a.member_id);
    cr_assert_eq(state_of(gc, "g"), GROUP_COMPLETING_REBALANCE);
    group_coord_free(gc);
}

Test(group_join, initial_delay_extends_while_members_keep_arriving)
{
    struct group_config cfg = test_config();
    cfg.initial_rebalance_delay_ms = 3000;
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct call a, b;
    join(gc, "g", "", &a, 0);
    join(gc, "g", "", &b, 1000);
    group_tick(gc, 3000); /* b arrived during the delay: wait another 3 s */
    cr_assert_eq(a.answered + b.answered, 0);
    cr_assert_eq(group_next_deadline(gc) <= 6000, true);
    group_tick(gc, 6000);
    cr_assert_eq(a.answered, 1);
    cr_assert_eq(b.answered, 1);
    cr_assert_eq(a.generation, 1);
    cr_assert_eq(b.generation, 1);
    /* the first member to join leads and alone receives the member list */
    cr_assert_str_eq(a.leader, a.member_id);
    cr_assert_str_eq(b.leader, a.member_id);
    cr_assert_eq(a.member_count, 2);
    cr_assert_eq(b.member_count, 0);
    cr_assert_str_neq(a.member_id, b.member_id);
    group_coord_free(gc);
}

Test(group_join, initial_delay_is_bounded_by_the_rebalance_timeout)
{
    struct group_config cfg = test_config();
    cfg.initial_rebalance_delay_ms = 3000;
    struct group_coord *gc = test_coord(&cfg, NULL);
    static struct call c[40];
    /* a new member every second: the delay keeps extending by 3 s, but only while the
     * rebalance timeout (30 s) lasts */
    int64_t done = -1;
    for (int i = 0; i < 40 && done < 0; i++) {
        join(gc, "g", "", &c[i], i * 1000);
        group_tick(gc, i * 1000);
        if (c[0].answered)
            done = i * 1000;
    }
    cr_assert_eq(done, 30000);
    cr_assert_eq(c[0].member_count, 31);
    group_coord_free(gc);
}

Test(group_join, new_member_forces_rebalance_and_everyone_rejoins)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    char ids[2][128];
    int32_t gen = stable_group(gc, "g", 2, ids, 0);
    struct call c;
    join(gc, "g", "", &c, 100);
    cr_assert_eq(c.answered, 0);
    cr_assert_eq(state_of(gc, "g"), GROUP_PREPARING_REBALANCE);
    cr_assert_eq(group_heartbeat(gc, "g", ids[0], NULL, gen, 200), KERR_REBALANCE_IN_PROGRESS);
    struct call r0, r1;
    join(gc, "g", ids[0], &r0, 300);
    cr_assert_eq(r0.answered, 0);
    join(gc, "g", ids[1], &r1, 400);
    cr_assert_eq(r0.answered, 1);
    cr_assert_eq(r1.answered, 1);
    cr_assert_eq(c.answered, 1);
    cr_assert_eq(c.generation, gen + 1);
    cr_assert_eq(members_of(gc, "g"), 3);
    /* the old leader rejoined and keeps the lead */
    cr_assert_str_eq(c.leader, r0.leader);
    group_coord_free(gc);
}

static void join_protos(struct group_coord *gc, const char *member, const struct group_protocol *p,
                        int32_t n, struct call *c, int64_t now)
{
    struct group_join_req r = test_join_req("g", member, c);
    r.protocols = p;
    r.protocol_count = n;
    group_join(gc, &r, now);
}

Test(group_join, protocol_is_the_common_one_most_members_prefer)
{
    struct group_config cfg = test_config();
    cfg.initial_rebalance_delay_ms = 100;
    struct group_coord *gc = test_coord(&cfg, NULL);
    const struct group_protocol a[] = {{"range", NULL, 0}, {"roundrobin", NULL, 0}};
    const struct group_protocol b[] = {{"range", NULL, 0}, {"roundrobin", NULL, 0}};
    const struct group_protocol c[] = {{"roundrobin", NULL, 0}, {"range", NULL, 0}};
    struct call ca, cb, cc;
    join_protos(gc, "", a, 2, &ca, 0);
    join_protos(gc, "", b, 2, &cb, 0);
    join_protos(gc, "", c, 2, &cc, 0);
    group_tick(gc, 100); /* members arrived during the delay: it extends once */
    group_tick(gc, 200);
    cr_assert_str_eq(ca.protocol, "range"); /* two votes against one */
    cr_assert_str_eq(cc.protocol, "range");
    group_coord_free(gc);
}

Test(group_join, protocol_vote_only_counts_protocols_all_members_support)
{
    struct group_config cfg = test_config();
    cfg.initial_rebalance_delay_ms = 100;
    struct group_coord *gc = test_coord(&cfg, NULL);
    const struct group_protocol a[] = {{"range", NULL, 0}, {"roundrobin", NULL, 0}};
    const struct group_protocol c[] = {{"roundrobin", NULL, 0}};
    struct call ca, cb, cc;
    join_protos(gc, "", a, 2, &ca, 0);
    join_protos(gc, "", a, 2, &cb, 0);
    join_protos(gc, "", c, 1, &cc, 0);
    group_tick(gc, 100);
    group_tick(gc, 200);
    cr_assert_str_eq(ca.protocol, "roundrobin");
    cr_assert_str_eq(cc.protocol, "roundrobin");
    group_coord_free(gc);
}

Test(group_join, inconsistent_protocols_are_refused)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    char ids[1][128];
    stable_group(gc, "g", 1, ids, 0);
    const struct group_protocol sticky[] = {{"sticky", NULL, 0}};
    struct call c;
    join_protos(gc, "", sticky, 1, &c, 10);
    cr_assert_eq(c.answered, 1);
    cr_assert_eq(c.err, KERR_INCONSISTENT_GROUP_PROTOCOL);
    struct group_join_req r = test_join_req("g", "", &c);
    r.protocol_type = "connect";
    group_join(gc, &r, 10);
    cr_assert_eq(c.err, KERR_INCONSISTENT_GROUP_PROTOCOL);
    /* an empty protocol type or list is refused even for an empty group */
    r = test_join_req("other", "", &c);
    r.protocol_type = "";
    group_join(gc, &r, 10);
    cr_assert_eq(c.err, KERR_INCONSISTENT_GROUP_PROTOCOL);
    r = test_join_req("other", "", &c);
    r.protocol_count = 0;
    group_join(gc, &r, 10);
    cr_assert_eq(c.err, KERR_INCONSISTENT_GROUP_PROTOCOL);
    cr_assert_eq(state_of(gc, "g"), GROUP_STABLE);
    group_coord_free(gc);
}

Test(group_join, request_checks)
{
    struct group_config cfg = test_config();
    cfg.max_group_id_len = 8;
    cfg.max_member_metadata_bytes = 3;
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct call c;
    join(gc, "", "", &c, 0);
    cr_assert_eq(c.err, KERR_INVALID_GROUP_ID);
    join(gc, "123456789", "", &c, 0);
    cr_assert_eq(c.err, KERR_INVALID_GROUP_ID);
    struct group_join_req r = test_join_req("g", "", &c);
    r.session_timeout_ms = 999;
    group_join(gc, &r, 0);
    cr_assert_eq(c.err, KERR_INVALID_SESSION_TIMEOUT);
    r.session_timeout_ms = cfg.max_session_timeout_ms + 1;
    group_join(gc, &r, 0);
    cr_assert_eq(c.err, KERR_INVALID_SESSION_TIMEOUT);
    const struct group_protocol big[] = {{"range", (const uint8_t *)"ab", 2},
                                         {"rr", (const uint8_t *)"cd", 2}};
    r = test_join_req("g", "", &c); /* 4 bytes of metadata > 3 */
    r.protocols = big;
    r.protocol_count = 2;
    group_join(gc, &r, 0);
    cr_assert_eq(c.err, KERR_INVALID_REQUEST);
    cr_assert_eq(c.answered, 1);
    /* a member id for a group that does not exist */
    join(gc, "nogroup", "someone", &c, 0);
    cr_assert_eq(c.err, KERR_UNKNOWN_MEMBER_ID);
    cr_assert_eq(state_of(gc, "nogroup"), GROUP_DEAD); /* not created */
    group_coord_free(gc);
}

Test(group_join, unknown_member_id_in_existing_group)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    char ids[1][128];
    stable_group(gc, "g", 1, ids, 0);
    struct call c;
    join(gc, "g", "client-bogus", &c, 0);
    cr_assert_eq(c.err, KERR_UNKNOWN_MEMBER_ID);
    cr_assert_str_eq(c.member_id, "client-bogus");
    group_coord_free(gc);
}

Test(group_join, v4_member_id_required_then_rejoin)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct call c;
    struct group_join_req r = test_join_req("g", "", &c);
    r.require_known_member_id = true;
    group_join(gc, &r, 0);
    cr_assert_eq(c.answered, 1);
    cr_assert_eq(c.err, KERR_MEMBER_ID_REQUIRED);
    cr_assert(strncmp(c.member_id, "client-", 7) == 0);
    struct group_info info;
    cr_assert(group_describe(gc, "g", &info));
    cr_assert_eq(info.pending_count, 1);
    cr_assert_eq(info.member_count, 0);
    char id[128];
    snprintf(id, sizeof(id), "%s", c.member_id);
    r = test_join_req("g", id, &c);
    r.require_known_member_id = true;
    group_join(gc, &r, 10);
    cr_assert_eq(c.answered, 1);
    cr_assert_eq(c.err, KERR_NONE);
    cr_assert_str_eq(c.member_id, id);
    cr_assert_eq(c.generation, 1);
    cr_assert(group_describe(gc, "g", &info));
    cr_assert_eq(info.pending_count, 0);
    cr_assert_eq(info.member_count, 1);
    group_coord_free(gc);
}

Test(group_join, pending_member_holds_the_rebalance_until_it_expires)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    char ids[1][128];
    int32_t gen = stable_group(gc, "g", 1, ids, 0);
    struct call p;
    struct group_join_req r = test_join_req("g", "", &p);
    r.require_known_member_id = true;
    group_join(gc, &r, 100);
    cr_assert_eq(p.err, KERR_MEMBER_ID_REQUIRED);
    /* the existing member starts a rebalance by rejoining as leader */
    struct call a;
    join(gc, "g", ids[0], &a, 200);
    cr_assert_eq(state_of(gc, "g"), GROUP_PREPARING_REBALANCE);
    cr_assert_eq(a.answered, 0, "held while a pending member may still join");
    /* the pending member never comes back: its session timeout (10 s) removes it */
    group_tick(gc, 100 + 9999);
    cr_assert_eq(a.answered, 0);
    group_tick(gc, 100 + 10000);
    cr_assert_eq(a.answered, 1);
    cr_assert_eq(a.generation, gen + 1);
    cr_assert_eq(a.member_count, 1);
    group_coord_free(gc);
}

Test(group_join, leave_of_pending_member_is_accepted)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct call p;
    struct group_join_req r = test_join_req("g", "", &p);
    r.require_known_member_id = true;
    group_join(gc, &r, 0);
    struct group_leave_member lm = {p.member_id, NULL, KERR_UNKNOWN_SERVER_ERROR};
    cr_assert_eq(group_leave(gc, "g", &lm, 1, 10), KERR_NONE);
    cr_assert_eq(lm.err, KERR_NONE);
    struct group_info info;
    cr_assert(group_describe(gc, "g", &info));
    cr_assert_eq(info.pending_count, 0);
    group_coord_free(gc);
}

Test(group_join, max_size_refuses_extra_members)
{
    struct group_config cfg = test_config();
    cfg.max_size = 2;
    struct group_coord *gc = test_coord(&cfg, NULL);
    char ids[2][128];
    stable_group(gc, "g", 2, ids, 0);
    struct call c;
    join(gc, "g", "", &c, 10);
    cr_assert_eq(c.answered, 1);
    cr_assert_eq(c.err, KERR_GROUP_MAX_SIZE_REACHED);
    cr_assert_eq(members_of(gc, "g"), 2);
    cr_assert_eq(state_of(gc, "g"), GROUP_STABLE);
    /* existing members still rejoin */
    struct call a;
    join(gc, "g", ids[0], &a, 20);
    cr_assert_eq(a.answered, 0);
    cr_assert_eq(state_of(gc, "g"), GROUP_PREPARING_REBALANCE);
    group_coord_free(gc);
}

/* Joins with group.instance.id `instance`; p: two protocols instead of TEST_RANGE. */
static void join_static(struct group_coord *gc, const char *member, const char *instance,
                        const struct group_protocol *p, struct call *c, int64_t now)
{
    struct group_join_req r = test_join_req("g", member, c);
    r.instance_id = instance;
    if (p) {
        r.protocols = p;
        r.protocol_count = 2;
    }
    group_join(gc, &r, now);
}

/* A Stable group of a static member "i1" (leader) and a dynamic one. */
static int32_t static_group(struct group_coord *gc, char *sid, char *did)
{
    struct call s, d;
    join_static(gc, "", "i1", NULL, &s, 0);
    cr_assert_eq(s.generation, 1);
    cr_assert(strncmp(s.member_id, "i1-", 3) == 0, "static ids start with the instance id");
    join(gc, "g", "", &d, 0);
    char s_id[128];
    snprintf(s_id, sizeof(s_id), "%s", s.member_id);
    join_static(gc, s_id, "i1", NULL, &s, 0);
    cr_assert_eq(s.answered, 1);
    cr_assert_eq(d.answered, 1);
    snprintf(sid, 128, "%s", s.member_id);
    snprintf(did, 128, "%s", d.member_id);
    struct call x, y;
    sync_req(gc, "g", did, s.generation, NULL, 0, &x, 0);
    struct group_assignment as[] = {{sid, (const uint8_t *)"S", 1}, {did, (const uint8_t *)"D", 1}};
    sync_req(gc, "g", sid, s.generation, as, 2, &y, 0);
    group_store_done(gc, "g", s.generation, KERR_NONE, 0); /* ignored unless awaited */
    cr_assert_eq(state_of(gc, "g"), GROUP_STABLE);
    cr_assert_eq(x.answered + y.answered, 2);
    return s.generation;
}

Test(group_join, static_member_rejoins_without_rebalance_and_old_id_is_fenced)
{
    struct group_config cfg = test_config();
    struct store_log log = {0};
    struct group_coord *gc = test_coord(&cfg, &log);
    char sid[128], did[128];
    int32_t gen = static_group(gc, sid, did);
    cr_assert_eq(log.awaited, 1, "the leader's assignment waited for its store");
    int before = log.calls;
    struct call c;
    join_static(gc, "", "i1", NULL, &c, 50);
    cr_assert_eq(c.answered, 1);
    cr_assert_eq(c.err, KERR_NONE);
    cr_assert_str_neq(c.member_id, sid);
    cr_assert_eq(c.generation, gen, "no new generation");
    cr_assert_str_eq(c.leader, sid, "the old leader id, so nobody reassigns");
    cr_assert_eq(c.member_count, 0);
    cr_assert_eq(state_of(gc, "g"), GROUP_STABLE);
    cr_assert_eq(log.calls, before + 1, "the new member id is persisted");
    cr_assert_eq(members_of(gc, "g"), 2);
    cr_assert_eq(group_heartbeat(gc, "g", sid, "i1", gen, 60), KERR_FENCED_INSTANCE_ID);
    cr_assert_eq(group_heartbeat(gc, "g", c.member_id, "i1", gen, 60), KERR_NONE);
    cr_assert_eq(group_heartbeat(gc, "g", did, NULL, gen, 60), KERR_NONE);
    /* the new id gets the assignment the leader gave the instance */
    struct call s;
    sync_req(gc, "g", c.member_id, gen, NULL, 0, &s, 70);
    cr_assert_eq(s.err, KERR_NONE);
    cr_assert_eq(s.assignment_len, 1);
    cr_assert_eq(s.assignment[0], 'S');
    struct group_sync_req old = {
        .group_id = "g", .member_id = sid, .instance_id = "i1", .generation = gen, .ctx = &s};
    memset(&s, 0, sizeof(s));
    group_sync(gc, &old, 75);
    cr_assert_eq(s.err, KERR_FENCED_INSTANCE_ID);
    struct call f;
    join_static(gc, sid, "i1", NULL, &f, 80);
    cr_assert_eq(f.err, KERR_FENCED_INSTANCE_ID);
    group_coord_free(gc);
}

Test(group_join, static_member_with_unselectable_new_protocol_stays_stable)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    char sid[128], did[128];
    static_group(gc, sid, did);
    const struct group_protocol sticky_first[] = {{"sticky", NULL, 0}, {"range", NULL, 0}};
    struct call c;
    join_static(gc, "", "i1", sticky_first, &c, 50);
    /* "sticky" is not supported by the dynamic member, so the choice stays "range" */
    cr_assert_eq(c.answered, 1);
    cr_assert_eq(c.err, KERR_NONE, "%s", kerr_name(c.err));
    cr_assert_eq(state_of(gc, "g"), GROUP_STABLE);
    group_coord_free(gc);
}

Test(group_join, static_member_changing_the_protocol_choice_rebalances)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct call s, x;
    join_static(gc, "", "i1", NULL, &s, 0);
    sync_req(gc, "g", s.member_id, s.generation, NULL, 0, &x, 0);
    cr_assert_eq(state_of(gc, "g"), GROUP_STABLE);
    const struct group_protocol sticky_first[] = {{"sticky", NULL, 0}, {"range", NULL, 0}};
    struct call c;
    join_static(gc, "", "i1", sticky_first, &c, 50);
    /* a rebalance, complete at once since the only member has rejoined */
    cr_assert_eq(state_of(gc, "g"), GROUP_COMPLETING_REBALANCE);
    cr_assert_eq(c.answered, 1);
    cr_assert_eq(c.generation, s.generation + 1);
    cr_assert_str_eq(c.protocol, "sticky");
    group_coord_free(gc);
}

Test(group_join, static_member_rejoin_while_completing_rebalances)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct call s, d;
    join_static(gc, "", "i1", NULL, &s, 0);
    join(gc, "g", "", &d, 0);
    char s_id[128];
    snprintf(s_id, sizeof(s_id), "%s", s.member_id);
    join_static(gc, s_id, "i1", NULL, &s, 0);
    cr_assert_eq(state_of(gc, "g"), GROUP_COMPLETING_REBALANCE);
    struct call f;
    sync_req(gc, "g", d.member_id, d.generation, NULL, 0, &f, 0);
    cr_assert_eq(f.answered, 0);
    struct call c;
    join_static(gc, "", "i1", NULL, &c, 10);
    cr_assert_eq(state_of(gc, "g"), GROUP_PREPARING_REBALANCE);
    cr_assert_eq(f.answered, 1);
    cr_assert_eq(f.err, KERR_REBALANCE_IN_PROGRESS);
    cr_assert_eq(c.answered, 0);
    group_coord_free(gc);
}

Test(group_join, static_member_that_does_not_rejoin_keeps_its_place)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    char sid[128], did[128];
    int32_t gen = static_group(gc, sid, did);
    struct call d;
    join(gc, "g", did, &d, 100); /* changes nothing, but the static leader did not rejoin */
    cr_assert_eq(d.answered, 1, "a follower with unchanged metadata gets the generation");
    const struct group_protocol other[] = {{"range", (const uint8_t *)"x", 1}};
    struct group_join_req r = test_join_req("g", did, &d);
    r.protocols = other;
    group_join(gc, &r, 100);
    cr_assert_eq(state_of(gc, "g"), GROUP_PREPARING_REBALANCE);
    for (int64_t t = 9000; t < 30100; t += 9000) {
        group_tick(gc, t);
        cr_assert_eq(group_heartbeat(gc, "g", sid, "i1", gen, t), KERR_REBALANCE_IN_PROGRESS);
    }
    cr_assert_eq(d.answered, 0);
    group_tick(gc, 100 + 30000); /* the rebalance timeout */
    cr_assert_eq(d.answered, 1);
    cr_assert_eq(d.generation, gen + 1);
    cr_assert_eq(members_of(gc, "g"), 2, "the static member stays");
    cr_assert_str_eq(d.leader, did, "a member that rejoined leads");
    group_coord_free(gc);
}

Test(group_join, max_size_counts_members_awaiting_join_while_rebalancing)
{
    struct group_config cfg = test_config();
    cfg.max_size = 2;
    cfg.initial_rebalance_delay_ms = 1000;
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct call a, b, c;
    join(gc, "g", "", &a, 0);
    join(gc, "g", "", &b, 0);
    join(gc, "g", "", &c, 0);
    cr_assert_eq(c.answered, 1);
    cr_assert_eq(c.err, KERR_GROUP_MAX_SIZE_REACHED);
    cr_assert_str_eq(c.member_id, "");
    cr_assert_eq(a.answered + b.answered, 0);
    group_tick(gc, 1000);
    group_tick(gc, 2000);
    cr_assert_eq(a.answered + b.answered, 2);
    cr_assert_eq(a.member_count, 2);
    group_coord_free(gc);
}
