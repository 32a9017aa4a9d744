/*
 * tests/unit/broker/group/test_group_sync.c — SyncGroup, Heartbeat, LeaveGroup and the timers
 * of the group state machine (broker/group/group_sync.c, group_join.c): the leader's
 * assignment handed out untouched, the store step, heartbeat answers, leaving, session expiry,
 * the rebalance timeout removing members that did not rejoin, unloading and cancellation.
 */
#include "group_test.h"

#include "broker/group/offsets_format.h"

/* Two members joined (generation gen, ids[0] leads), nobody synced yet. */
static int32_t two_joined(struct group_coord *gc, char ids[2][128])
{
    struct call a, b;
    join(gc, "g", "", &a, 0);
    join(gc, "g", "", &b, 0);
    char aid[128];
    snprintf(aid, sizeof(aid), "%s", a.member_id);
    join(gc, "g", aid, &a, 0);
    cr_assert_eq(a.answered, 1);
    cr_assert_eq(b.answered, 1);
    cr_assert_str_eq(a.leader, a.member_id);
    snprintf(ids[0], 128, "%s", a.member_id);
    snprintf(ids[1], 128, "%s", b.member_id);
    cr_assert_eq(state_of(gc, "g"), GROUP_COMPLETING_REBALANCE);
    return a.generation;
}

Test(group_sync, followers_wait_for_the_leader_and_get_its_bytes)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    char ids[2][128];
    int32_t gen = two_joined(gc, ids);
    struct call f, l;
    sync_req(gc, "g", ids[1], gen, NULL, 0, &f, 10);
    cr_assert_eq(f.answered, 0);
    cr_assert_eq(group_heartbeat(gc, "g", ids[1], NULL, gen, 10), KERR_NONE);
    /* bytes are opaque: whatever the leader sends (including a NUL) arrives unchanged */
    const uint8_t fb[] = {0x00, 0x01, 0xfe, 0x00};
    struct group_assignment as[] = {
        {ids[0], (const uint8_t *)"lead", 4}, {ids[1], fb, 4}, {"not-a-member", fb, 1}};
    sync_req(gc, "g", ids[0], gen, as, 3, &l, 20);
    cr_assert_eq(l.answered, 1);
    cr_assert_eq(f.answered, 1);
    cr_assert_eq(l.err, KERR_NONE);
    cr_assert_eq(f.err, KERR_NONE);
    cr_assert_eq(l.assignment_len, 4);
    cr_assert_eq(memcmp(l.assignment, "lead", 4), 0);
    cr_assert_eq(f.assignment_len, 4);
    cr_assert_eq(memcmp(f.assignment, fb, 4), 0);
    cr_assert_eq(state_of(gc, "g"), GROUP_STABLE);
    /* a Stable group answers a SyncGroup at once with the stored bytes */
    struct call again;
    sync_req(gc, "g", ids[1], gen, NULL, 0, &again, 30);
    cr_assert_eq(again.answered, 1);
    cr_assert_eq(memcmp(again.assignment, fb, 4), 0);
    struct group_member_info mi;
    cr_assert(group_member_at(gc, "g", 1, &mi));
    cr_assert_eq(mi.assignment_len, 4);
    group_coord_free(gc);
}

Test(group_sync, members_left_out_by_the_leader_get_empty_bytes)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    char ids[2][128];
    int32_t gen = two_joined(gc, ids);
    struct call f, l;
    sync_req(gc, "g", ids[1], gen, NULL, 0, &f, 10);
    struct group_assignment as[] = {{ids[0], (const uint8_t *)"x", 1}};
    sync_req(gc, "g", ids[0], gen, as, 1, &l, 20);
    cr_assert_eq(f.answered, 1);
    cr_assert_eq(f.err, KERR_NONE);
    cr_assert_eq(f.assignment_len, 0);
    group_coord_free(gc);
}

Test(group_sync, assignment_waits_for_the_store_and_a_failed_store_rebalances)
{
    struct group_config cfg = test_config();
    struct store_log log = {0};
    struct group_coord *gc = test_coord(&cfg, &log);
    char ids[2][128];
    int32_t gen = two_joined(gc, ids);
    struct call f, l;
    sync_req(gc, "g", ids[1], gen, NULL, 0, &f, 10);
    sync_req(gc, "g", ids[0], gen, NULL, 0, &l, 10);
    cr_assert_eq(log.awaited, 1);
    cr_assert_eq(log.last_generation, gen);
    /* the record handed to the runtime carries the leader's assignment */
    struct ogroup_value v;
    cr_assert_eq(ogroup_value_decode(log.last_value, log.last_value_len, &v), KERR_NONE);
    cr_assert_eq(v.generation, gen);
    cr_assert_eq(v.member_count, 2);
    cr_assert(kstr_eq(v.leader, ids[0]));
    ogroup_value_destroy(&v);
    cr_assert_eq(f.answered + l.answered, 0, "answers wait for the store");
    group_store_done(gc, "g", gen - 1, KERR_NONE, 20); /* an older generation: ignored */
    cr_assert_eq(f.answered + l.answered, 0);
    group_store_done(gc, "g", gen, KERR_NOT_LEADER_OR_FOLLOWER, 20);
    cr_assert_eq(f.answered, 1);
    cr_assert_eq(l.answered, 1);
    cr_assert_eq(f.err, KERR_NOT_COORDINATOR, "mapped as Kafka does");
    cr_assert_eq(state_of(gc, "g"), GROUP_PREPARING_REBALANCE);
    group_coord_free(gc);
}

Test(group_sync, sync_errors)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    char ids[2][128];
    int32_t gen = two_joined(gc, ids);
    struct call c;
    sync_req(gc, "g", ids[1], gen + 1, NULL, 0, &c, 10);
    cr_assert_eq(c.err, KERR_ILLEGAL_GENERATION);
    sync_req(gc, "g", "stranger", gen, NULL, 0, &c, 10);
    cr_assert_eq(c.err, KERR_UNKNOWN_MEMBER_ID);
    sync_req(gc, "nogroup", ids[1], gen, NULL, 0, &c, 10);
    cr_assert_eq(c.err, KERR_UNKNOWN_MEMBER_ID);
    sync_req(gc, "", ids[1], gen, NULL, 0, &c, 10);
    cr_assert_eq(c.err, KERR_INVALID_GROUP_ID);
    struct group_sync_req r = {.group_id = "g",
                               .member_id = ids[1],
                               .generation = gen,
                               .protocol_name = "roundrobin",
                               .ctx = &c};
    memset(&c, 0, sizeof(c));
    group_sync(gc, &r, 10);
    cr_assert_eq(c.err, KERR_INCONSISTENT_GROUP_PROTOCOL);
    r.protocol_name = "range";
    r.protocol_type = "connect";
    group_sync(gc, &r, 10);
    cr_assert_eq(c.err, KERR_INCONSISTENT_GROUP_PROTOCOL);
    /* a rebalance starts: SyncGroup says so */
    struct call n;
    join(gc, "g", "", &n, 20);
    sync_req(gc, "g", ids[1], gen, NULL, 0, &c, 30);
    cr_assert_eq(c.err, KERR_REBALANCE_IN_PROGRESS);
    cr_assert_eq(c.answered, 1);
    group_coord_free(gc);
}

Test(group_sync, rebalance_while_completing_releases_parked_syncs)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    char ids[2][128];
    int32_t gen = two_joined(gc, ids);
    struct call f;
    sync_req(gc, "g", ids[1], gen, NULL, 0, &f, 10);
    struct call n;
    join(gc, "g", "", &n, 20);
    cr_assert_eq(f.answered, 1);
    cr_assert_eq(f.err, KERR_REBALANCE_IN_PROGRESS);
    group_coord_free(gc);
}

Test(group_sync, heartbeat_answers)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    char ids[2][128];
    int32_t gen = stable_group(gc, "g", 2, ids, 0);
    cr_assert_eq(group_heartbeat(gc, "g", ids[0], NULL, gen, 10), KERR_NONE);
    cr_assert_eq(group_heartbeat(gc, "g", ids[0], NULL, gen - 1, 10), KERR_ILLEGAL_GENERATION);
    cr_assert_eq(group_heartbeat(gc, "g", "stranger", NULL, gen, 10), KERR_UNKNOWN_MEMBER_ID);
    cr_assert_eq(group_heartbeat(gc, "nogroup", ids[0], NULL, gen, 10), KERR_UNKNOWN_MEMBER_ID);
    cr_assert_eq(group_heartbeat(gc, "", ids[0], NULL, gen, 10), KERR_INVALID_GROUP_ID);
    struct call n;
    join(gc, "g", "", &n, 20);
    cr_assert_eq(group_heartbeat(gc, "g", ids[1], NULL, gen, 30), KERR_REBALANCE_IN_PROGRESS);
    group_coord_free(gc);
}

Test(group_sync, member_leaving_rebalances_the_rest)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    char ids[2][128];
    int32_t gen = stable_group(gc, "g", 2, ids, 0);
    struct group_leave_member lm = {ids[1], NULL, KERR_UNKNOWN_SERVER_ERROR};
    cr_assert_eq(group_leave(gc, "g", &lm, 1, 10), KERR_NONE);
    cr_assert_eq(lm.err, KERR_NONE);
    cr_assert_eq(members_of(gc, "g"), 1);
    cr_assert_eq(state_of(gc, "g"), GROUP_PREPARING_REBALANCE);
    cr_assert_eq(group_heartbeat(gc, "g", ids[0], NULL, gen, 20), KERR_REBALANCE_IN_PROGRESS);
    cr_assert_eq(group_heartbeat(gc, "g", ids[1], NULL, gen, 20), KERR_UNKNOWN_MEMBER_ID);
    struct call a;
    join(gc, "g", ids[0], &a, 30);
    cr_assert_eq(a.answered, 1);
    cr_assert_eq(a.generation, gen + 1);
    cr_assert_eq(a.member_count, 1);
    group_coord_free(gc);
}

Test(group_sync, last_member_leaving_empties_the_group)
{
    struct group_config cfg = test_config();
    struct store_log log = {0};
    struct group_coord *gc = test_coord(&cfg, &log);
    struct call a, s;
    join(gc, "g", "", &a, 0);
    sync_req(gc, "g", a.member_id, a.generation, NULL, 0, &s, 0);
    group_store_done(gc, "g", a.generation, KERR_NONE, 0);
    cr_assert_eq(state_of(gc, "g"), GROUP_STABLE);
    struct group_leave_member lm = {a.member_id, NULL, KERR_UNKNOWN_SERVER_ERROR};
    group_leave(gc, "g", &lm, 1, 10);
    cr_assert_eq(state_of(gc, "g"), GROUP_EMPTY);
    struct group_info info;
    cr_assert(group_describe(gc, "g", &info));
    cr_assert_eq(info.generation, a.generation + 1);
    cr_assert_str_eq(info.protocol_name, "");
    cr_assert_eq(log.calls, 2, "the empty generation is stored too");
    group_coord_free(gc);
}

Test(group_sync, batched_leave_by_member_and_instance_id)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct call s, d, x, y;
    struct group_join_req r = test_join_req("g", "", &s);
    r.instance_id = "inst";
    group_join(gc, &r, 0);
    join(gc, "g", "", &d, 0);
    char sid[128];
    snprintf(sid, sizeof(sid), "%s", s.member_id);
    r = test_join_req("g", sid, &s);
    r.instance_id = "inst";
    group_join(gc, &r, 0);
    sync_req(gc, "g", d.member_id, d.generation, NULL, 0, &x, 0);
    sync_req(gc, "g", sid, s.generation, NULL, 0, &y, 0);
    cr_assert_eq(members_of(gc, "g"), 2);
    struct group_leave_member lm[] = {
        {"", "inst", KERR_UNKNOWN_SERVER_ERROR},        /* by instance id alone */
        {"nobody", NULL, KERR_UNKNOWN_SERVER_ERROR},    /* unknown */
        {d.member_id, NULL, KERR_UNKNOWN_SERVER_ERROR}, /* by member id */
        {"", "other-inst", KERR_UNKNOWN_SERVER_ERROR},  /* unknown instance */
    };
    cr_assert_eq(group_leave(gc, "g", lm, 4, 10), KERR_NONE);
    cr_assert_eq(lm[0].err, KERR_NONE);
    cr_assert_eq(lm[1].err, KERR_UNKNOWN_MEMBER_ID);
    cr_assert_eq(lm[2].err, KERR_NONE);
    cr_assert_eq(lm[3].err, KERR_UNKNOWN_MEMBER_ID);
    cr_assert_eq(members_of(gc, "g"), 0);
    /* a fenced old id of a static member */
    struct group_leave_member none = {"x", NULL, KERR_NONE};
    cr_assert_eq(group_leave(gc, "nogroup", &none, 1, 10), KERR_NONE);
    cr_assert_eq(none.err, KERR_UNKNOWN_MEMBER_ID);
    group_coord_free(gc);
}

Test(group_sync, leave_with_fenced_member_id)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct call s;
    struct group_join_req r = test_join_req("g", "", &s);
    r.instance_id = "inst";
    group_join(gc, &r, 0);
    struct group_leave_member lm = {"inst-old", "inst", KERR_NONE};
    group_leave(gc, "g", &lm, 1, 10);
    cr_assert_eq(lm.err, KERR_FENCED_INSTANCE_ID);
    cr_assert_eq(members_of(gc, "g"), 1);
    group_coord_free(gc);
}

Test(group_sync, session_expiry_removes_a_silent_member)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    char ids[2][128];
    int32_t gen = stable_group(gc, "g", 2, ids, 0);
    /* session timeout 10 s; only ids[0] keeps heartbeating */
    for (int64_t t = 3000; t <= 9000; t += 3000) {
        group_tick(gc, t);
        cr_assert_eq(group_heartbeat(gc, "g", ids[0], NULL, gen, t), KERR_NONE);
    }
    cr_assert_eq(group_next_deadline(gc), 10000);
    group_tick(gc, 9999);
    cr_assert_eq(members_of(gc, "g"), 2);
    group_tick(gc, 10000);
    cr_assert_eq(members_of(gc, "g"), 1);
    cr_assert_eq(state_of(gc, "g"), GROUP_PREPARING_REBALANCE);
    cr_assert_eq(group_heartbeat(gc, "g", ids[0], NULL, gen, 10001), KERR_REBALANCE_IN_PROGRESS);
    cr_assert_eq(group_heartbeat(gc, "g", ids[1], NULL, gen, 10001), KERR_UNKNOWN_MEMBER_ID);
    group_coord_free(gc);
}

Test(group_sync, rebalance_timeout_removes_members_that_did_not_rejoin)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    char ids[2][128];
    int32_t gen = stable_group(gc, "g", 2, ids, 0);
    struct call a;
    join(gc, "g", ids[0], &a, 1000); /* the leader rejoins: a rebalance starts */
    cr_assert_eq(state_of(gc, "g"), GROUP_PREPARING_REBALANCE);
    /* ids[1] keeps heartbeating (so its session never expires) but never rejoins */
    for (int64_t t = 5000; t < 31000; t += 5000) {
        group_tick(gc, t);
        cr_assert_eq(group_heartbeat(gc, "g", ids[1], NULL, gen, t), KERR_REBALANCE_IN_PROGRESS);
        cr_assert_eq(a.answered, 0);
    }
    group_tick(gc, 1000 + 30000 - 1);
    cr_assert_eq(a.answered, 0);
    group_tick(gc, 1000 + 30000);
    cr_assert_eq(a.answered, 1);
    cr_assert_eq(a.generation, gen + 1);
    cr_assert_eq(a.member_count, 1);
    cr_assert_eq(members_of(gc, "g"), 1);
    struct call s;
    sync_req(gc, "g", ids[1], gen + 1, NULL, 0, &s, 31001);
    cr_assert_eq(s.err, KERR_UNKNOWN_MEMBER_ID);
    group_coord_free(gc);
}

Test(group_sync, held_join_of_new_member_expires)
{
    struct group_config cfg = test_config();
    cfg.new_member_join_timeout_ms = 5000;
    struct group_coord *gc = test_coord(&cfg, NULL);
    char ids[1][128];
    int32_t gen = stable_group(gc, "g", 1, ids, 0);
    struct call n;
    join(gc, "g", "", &n, 100); /* held: the old member has not rejoined */
    for (int64_t t = 3000; t < 5100; t += 3000) {
        group_tick(gc, t);
        group_heartbeat(gc, "g", ids[0], NULL, gen, t);
    }
    group_tick(gc, 5100);
    cr_assert_eq(n.answered, 1);
    cr_assert_eq(n.err, KERR_UNKNOWN_MEMBER_ID);
    cr_assert_eq(members_of(gc, "g"), 1);
    group_coord_free(gc);
}

Test(group_sync, unload_answers_parked_requests_not_coordinator)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    char ids[2][128];
    int32_t gen = two_joined(gc, ids);
    struct call f, n;
    sync_req(gc, "g", ids[1], gen, NULL, 0, &f, 10);
    join(gc, "h", "", &n, 10);
    struct call h2;
    join(gc, "h", "", &h2, 10); /* held: the first member of h must rejoin */
    cr_assert_eq(h2.answered, 0);
    group_coord_free(gc);
    cr_assert_eq(f.answered, 1);
    cr_assert_eq(f.err, KERR_NOT_COORDINATOR);
    cr_assert_eq(h2.answered, 1);
    cr_assert_eq(h2.err, KERR_NOT_COORDINATOR);
}

Test(group_sync, cancelled_requests_are_not_answered)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    char ids[2][128];
    int32_t gen = two_joined(gc, ids);
    struct call f, l;
    sync_req(gc, "g", ids[1], gen, NULL, 0, &f, 10);
    group_cancel_ctx(gc, &f);
    sync_req(gc, "g", ids[0], gen, NULL, 0, &l, 20);
    cr_assert_eq(l.answered, 1);
    cr_assert_eq(f.answered, 0);
    cr_assert_eq(state_of(gc, "g"), GROUP_STABLE);
    group_coord_free(gc);
}

Test(group_sync, describe_shows_protocol_and_assignments_only_when_stable)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    char ids[2][128];
    int32_t gen = two_joined(gc, ids);
    struct group_info info;
    struct group_member_info mi;
    cr_assert(group_describe(gc, "g", &info));
    cr_assert_eq(info.state, GROUP_COMPLETING_REBALANCE);
    cr_assert_str_eq(info.protocol_name, "");
    cr_assert_str_eq(info.protocol_type, "consumer");
    cr_assert_str_eq(info.leader_id, ids[0]);
    cr_assert(group_member_at(gc, "g", 0, &mi));
    cr_assert_null(mi.metadata);
    struct call f, l;
    sync_req(gc, "g", ids[1], gen, NULL, 0, &f, 10);
    struct group_assignment as[] = {{ids[1], (const uint8_t *)"B", 1}};
    sync_req(gc, "g", ids[0], gen, as, 1, &l, 10);
    cr_assert(group_describe(gc, "g", &info));
    cr_assert_str_eq(info.protocol_name, "range");
    cr_assert_eq(info.generation, gen);
    cr_assert(group_member_at(gc, "g", 1, &mi));
    cr_assert_str_eq(mi.member_id, ids[1]);
    cr_assert_str_eq(mi.client_id, "client");
    cr_assert_str_eq(mi.client_host, "/127.0.0.1");
    cr_assert_eq(mi.metadata_len, 3);
    cr_assert_eq(memcmp(mi.metadata, "sub", 3), 0);
    cr_assert_eq(mi.assignment_len, 1);
    cr_assert_not(group_member_at(gc, "g", 2, &mi));
    group_coord_free(gc);
}

/* Rejoins both members of a Stable 2-member group at now: returns the new generation, the
 * leader's index in *leader. */
static int32_t rejoin_both(struct group_coord *gc, char ids[][128], int64_t now, int *leader)
{
    struct call j0, j1;
    join(gc, "g", ids[0], &j0, now);
    join(gc, "g", ids[1], &j1, now);
    cr_assert_eq(j0.answered, 1);
    cr_assert_eq(j1.answered, 1);
    cr_assert_eq(j0.generation, j1.generation);
    *leader = strcmp(j0.leader, ids[0]) == 0 ? 0 : 1;
    return j0.generation;
}

Test(group_sync, a_member_that_never_syncs_is_removed_after_the_rebalance_timeout)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    char ids[2][128];
    stable_group(gc, "g", 2, ids, 0);
    int leader;
    int32_t gen = rejoin_both(gc, ids, 100, &leader);
    int follower = 1 - leader;
    cr_assert_eq(group_next_deadline(gc) <= 100 + 30000, true);
    struct call s;
    sync_req(gc, "g", ids[leader], gen, NULL, 0, &s, 200);
    cr_assert_eq(s.answered, 1);
    cr_assert_eq(state_of(gc, "g"), GROUP_STABLE);
    /* both heartbeat (their sessions stay alive); the follower never sends SyncGroup */
    for (int64_t t = 9000; t < 30000; t += 9000) {
        cr_assert_eq(group_heartbeat(gc, "g", ids[0], NULL, gen, t), KERR_NONE);
        cr_assert_eq(group_heartbeat(gc, "g", ids[1], NULL, gen, t), KERR_NONE);
        group_tick(gc, t);
    }
    group_tick(gc, 100 + 29999);
    cr_assert_eq(members_of(gc, "g"), 2);
    cr_assert_eq(state_of(gc, "g"), GROUP_STABLE);
    cr_assert_eq(group_next_deadline(gc), 100 + 30000, "the pending-sync deadline is the next");
    group_tick(gc, 100 + 30000);
    cr_assert_eq(members_of(gc, "g"), 1, "the member that never synced is gone");
    cr_assert_eq(state_of(gc, "g"), GROUP_PREPARING_REBALANCE);
    cr_assert_eq(group_heartbeat(gc, "g", ids[follower], NULL, gen, 30200), KERR_UNKNOWN_MEMBER_ID);
    cr_assert_eq(group_heartbeat(gc, "g", ids[leader], NULL, gen, 30200),
                 KERR_REBALANCE_IN_PROGRESS);
    struct call j;
    join(gc, "g", ids[leader], &j, 30300);
    cr_assert_eq(j.answered, 1);
    cr_assert_eq(j.err, KERR_NONE);
    cr_assert_eq(j.generation, gen + 1);
    cr_assert_eq(j.member_count, 1);
    group_coord_free(gc);
}

Test(group_sync, members_that_synced_in_time_stay)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    char ids[2][128];
    stable_group(gc, "g", 2, ids, 0);
    int leader;
    int32_t gen = rejoin_both(gc, ids, 100, &leader);
    struct call s0, s1;
    sync_req(gc, "g", ids[1 - leader], gen, NULL, 0, &s0, 29000);
    sync_req(gc, "g", ids[leader], gen, NULL, 0, &s1, 29000);
    cr_assert_eq(s0.answered + s1.answered, 2);
    group_tick(gc, 100 + 30000);
    cr_assert_eq(members_of(gc, "g"), 2);
    cr_assert_eq(state_of(gc, "g"), GROUP_STABLE);
    cr_assert_gt(group_next_deadline(gc), 100 + 30000, "no pending-sync deadline left");
    group_coord_free(gc);
}

Test(group_sync, nobody_syncing_empties_the_group)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    char ids[2][128];
    stable_group(gc, "g", 2, ids, 0);
    int leader;
    int32_t gen = rejoin_both(gc, ids, 100, &leader);
    cr_assert_eq(state_of(gc, "g"), GROUP_COMPLETING_REBALANCE);
    for (int64_t t = 9000; t < 30000; t += 9000) {
        cr_assert_eq(group_heartbeat(gc, "g", ids[0], NULL, gen, t), KERR_NONE);
        cr_assert_eq(group_heartbeat(gc, "g", ids[1], NULL, gen, t), KERR_NONE);
    }
    group_tick(gc, 100 + 30000);
    cr_assert_eq(members_of(gc, "g"), 0);
    cr_assert_eq(state_of(gc, "g"), GROUP_EMPTY);
    group_coord_free(gc);
}
