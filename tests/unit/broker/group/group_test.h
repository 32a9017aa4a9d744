/*
 * tests/unit/broker/group/group_test.h — helpers shared by the group state machine tests: a
 * coordinator whose callbacks record every answer into the `struct call` passed as ctx,
 * one-line join/sync/heartbeat wrappers, and the commit part and offset lookup of the offset
 * tests. Time is whatever the test passes.
 */
#ifndef GREGOR_TESTS_GROUP_TEST_H
#define GREGOR_TESTS_GROUP_TEST_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/group/group.h"

/* One request and what the coordinator answered to it. */
struct call {
    int answered; /* how many times the callback ran (must end up 1) */
    kerr_t err;
    char member_id[128];
    int32_t generation;
    char leader[128];
    char protocol[64];
    int32_t member_count;
    char members[8][128]; /* the leader's member list */
    uint8_t assignment[64];
    int32_t assignment_len;
};

struct store_log {
    int calls;
    int awaited;
    int32_t last_generation;
    uint8_t last_value[1024]; /* the last metadata record's value */
    size_t last_value_len;
};

static inline void test_join_cb(void *arg, void *ctx, const struct group_join_result *r)
{
    (void)arg;
    struct call *c = ctx;
    c->answered++;
    c->err = r->err;
    snprintf(c->member_id, sizeof(c->member_id), "%s", r->member_id ? r->member_id : "");
    c->generation = r->generation;
    snprintf(c->leader, sizeof(c->leader), "%s", r->leader_id ? r->leader_id : "");
    snprintf(c->protocol, sizeof(c->protocol), "%s", r->protocol_name ? r->protocol_name : "");
    c->member_count = r->member_count;
    for (int32_t i = 0; i < r->member_count && i < 8; i++)
        snprintf(c->members[i], sizeof(c->members[i]), "%s", r->members[i].member_id);
}

static inline void test_sync_cb(void *arg, void *ctx, const struct group_sync_result *r)
{
    (void)arg;
    struct call *c = ctx;
    c->answered++;
    c->err = r->err;
    c->assignment_len = r->assignment_len;
    if (r->assignment_len > 0)
        memcpy(c->assignment, r->assignment, (size_t)r->assignment_len);
}

static inline void test_store_cb(void *arg, const char *group_id, int32_t generation, bool await,
                                 const struct group_record *rec)
{
    (void)group_id;
    struct store_log *log = arg;
    log->calls++;
    log->awaited += await;
    log->last_generation = generation;
    cr_assert_not_null(rec->value);
    cr_assert_leq(rec->value_len, sizeof(log->last_value));
    memcpy(log->last_value, rec->value, rec->value_len);
    log->last_value_len = rec->value_len;
}

/* Defaults tests start from: bounds wide enough for small numbers, no initial delay. */
static inline struct group_config test_config(void)
{
    struct group_config cfg;
    group_config_defaults(&cfg);
    cfg.min_session_timeout_ms = 1000;
    cfg.initial_rebalance_delay_ms = 0;
    return cfg;
}

static inline struct group_coord *test_coord(const struct group_config *cfg, struct store_log *log)
{
    struct group_ops ops = {test_join_cb, test_sync_cb, log ? test_store_cb : NULL, log};
    struct group_coord *gc = group_coord_new(cfg, &ops);
    cr_assert_not_null(gc);
    return gc;
}

static const struct group_protocol TEST_RANGE[] = {{"range", (const uint8_t *)"sub", 3}};

/* A JoinGroup of the "consumer" type with one protocol, "range"; session 10 s, rebalance 30 s. */
static inline struct group_join_req test_join_req(const char *group, const char *member,
                                                  struct call *c)
{
    struct group_join_req r = {
        .group_id = group,
        .member_id = member,
        .client_id = "client",
        .client_host = "/127.0.0.1",
        .session_timeout_ms = 10000,
        .rebalance_timeout_ms = 30000,
        .protocol_type = "consumer",
        .protocols = TEST_RANGE,
        .protocol_count = 1,
        .ctx = c,
    };
    memset(c, 0, sizeof(*c));
    return r;
}

static inline void join(struct group_coord *gc, const char *group, const char *member,
                        struct call *c, int64_t now)
{
    struct group_join_req r = test_join_req(group, member, c);
    group_join(gc, &r, now);
}

static inline void sync_req(struct group_coord *gc, const char *group, const char *member,
                            int32_t generation, const struct group_assignment *a, int32_t n,
                            struct call *c, int64_t now)
{
    struct group_sync_req r = {
        .group_id = group,
        .member_id = member,
        .generation = generation,
        .assignments = a,
        .assignment_count = n,
        .ctx = c,
    };
    memset(c, 0, sizeof(*c));
    group_sync(gc, &r, now);
}

/* One partition of a commit (no leader epoch, metadata, expiry or timestamp of its own), its
 * error not yet set. */
static inline struct group_commit part(const char *topic, int32_t p, int64_t offset)
{
    return (struct group_commit){topic, p, offset, -1, NULL, -1, KERR_UNKNOWN_SERVER_ERROR, -1};
}

/* The group's committed offset of (topic, p), or -1 when there is none. */
static inline int64_t fetched(struct group_coord *gc, const char *group, const char *topic,
                              int32_t p)
{
    struct group_offset o;
    return group_offset_fetch(gc, group, topic, p, &o) == KERR_NONE ? o.offset : -1;
}

static inline enum group_state state_of(struct group_coord *gc, const char *group)
{
    struct group_info info;
    if (!group_describe(gc, group, &info))
        return GROUP_DEAD;
    return info.state;
}

static inline int32_t members_of(struct group_coord *gc, const char *group)
{
    struct group_info info;
    return group_describe(gc, group, &info) ? info.member_count : -1;
}

/* Joins `n` new members (ids out in ids[]) into a group with no initial delay, then the
 * leader syncs empty assignments: the group ends Stable at generation returned. */
static inline int32_t stable_group(struct group_coord *gc, const char *group, int n,
                                   char ids[][128], int64_t now)
{
    struct call c[8];
    for (int i = 0; i < n; i++)
        join(gc, group, "", &c[i], now);
    /* with no delay the first member completes at once; the others force a rebalance where
     * every earlier member must rejoin */
    for (int round = 0; round < n; round++) {
        bool all = true;
        for (int i = 0; i < n; i++)
            if (c[i].answered == 0)
                all = false;
        if (all && c[0].generation == c[n - 1].generation)
            break;
        for (int i = 0; i < n; i++) {
            if (c[i].answered && c[i].generation != c[n - 1].generation) {
                char id[128];
                snprintf(id, sizeof(id), "%s", c[i].member_id);
                join(gc, group, id, &c[i], now);
            }
        }
    }
    for (int i = 0; i < n; i++) {
        cr_assert_eq(c[i].answered, 1, "member %d not answered", i);
        cr_assert_eq(c[i].err, KERR_NONE);
        snprintf(ids[i], 128, "%s", c[i].member_id);
    }
    int32_t gen = c[0].generation;
    struct call s[8];
    for (int i = 0; i < n; i++)
        if (strcmp(ids[i], c[i].leader) != 0)
            sync_req(gc, group, ids[i], gen, NULL, 0, &s[i], now);
    for (int i = 0; i < n; i++)
        if (strcmp(ids[i], c[i].leader) == 0)
            sync_req(gc, group, ids[i], gen, NULL, 0, &s[i], now);
    for (int i = 0; i < n; i++)
        cr_assert_eq(s[i].answered, 1);
    cr_assert_eq(state_of(gc, group), GROUP_STABLE);
    return gen;
}

#endif
