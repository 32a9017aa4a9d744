/*
 * tests/unit/broker/group/test_group_offsets.c — committed offsets (group_offsets.c) and the
 * `__consumer_offsets` records (group_load.c): OffsetCommit rules, the records a commit
 * produces, fetch, expiry, DeleteGroups, the group metadata record, and replay on load
 * (latest wins, tombstones delete).
 */
#include "group_test.h"

#include "broker/group/consumer_protocol.h"
#include "broker/group/offsets_format.h"

static kerr_t commit(struct group_coord *gc, const char *group, const char *member,
                     int32_t generation, struct group_commit *parts, int32_t n, int64_t now,
                     struct group_records *recs)
{
    struct group_commit_req req = {group, member, NULL, generation, parts, n, 0, -1};
    kerr_t err = group_commit_prepare(gc, &req, now, recs);
    group_commit_apply(gc, &req, KERR_NONE);
    return err;
}

Test(group_offsets, simple_consumer_commit_creates_the_group_and_is_visible_after_apply)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct group_records recs;
    group_records_init(&recs);
    struct group_commit parts[] = {part("t", 0, 42), part("t", 1, 7)};
    parts[0].metadata = "meta";
    parts[0].leader_epoch = 3;
    struct group_commit_req req = {"simple", "", NULL, -1, parts, 2, 0, -1};
    cr_assert_eq(group_commit_prepare(gc, &req, 5000, &recs), KERR_NONE);
    cr_assert_eq(parts[0].err, KERR_NONE);
    cr_assert_eq(parts[1].err, KERR_NONE);
    cr_assert_eq(state_of(gc, "simple"), GROUP_EMPTY);
    cr_assert_eq(fetched(gc, "simple", "t", 0), -1, "not visible before it is replicated");
    group_commit_apply(gc, &req, KERR_NONE);
    struct group_offset o;
    cr_assert_eq(group_offset_fetch(gc, "simple", "t", 0, &o), KERR_NONE);
    cr_assert_eq(o.offset, 42);
    cr_assert_eq(o.leader_epoch, 3);
    cr_assert_str_eq(o.metadata, "meta");
    cr_assert_eq(o.commit_ts, 5000);
    cr_assert_eq(fetched(gc, "simple", "t", 1), 7);
    cr_assert_eq(group_offset_fetch(gc, "simple", "t", 2, &o), KERR__NOENT);
    cr_assert_eq(group_offset_fetch(gc, "other", "t", 0, &o), KERR__NOENT);

    /* the records are Kafka's: key v1 (group, topic, partition), value v3 */
    cr_assert_eq(recs.n, 2);
    struct okey k;
    cr_assert_eq(okey_decode(recs.v[0].key, recs.v[0].key_len, &k), KERR_NONE);
    cr_assert_eq(k.version, 1);
    cr_assert(kstr_eq(k.group, "simple"));
    cr_assert(kstr_eq(k.topic, "t"));
    cr_assert_eq(k.partition, 0);
    struct ocommit_value v;
    cr_assert_eq(ocommit_value_decode(recs.v[0].value, recs.v[0].value_len, &v), KERR_NONE);
    cr_assert_eq(v.version, 3);
    cr_assert_eq(v.offset, 42);
    cr_assert_eq(v.leader_epoch, 3);
    cr_assert(kstr_eq(v.metadata, "meta"));
    cr_assert_eq(v.commit_ts, 5000);
    group_records_destroy(&recs);
    group_coord_free(gc);
}

Test(group_offsets, failed_replication_stores_nothing)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct group_records recs;
    group_records_init(&recs);
    struct group_commit parts[] = {part("t", 0, 42)};
    struct group_commit_req req = {"g", "", NULL, -1, parts, 1, 0, -1};
    group_commit_prepare(gc, &req, 0, &recs);
    group_commit_apply(gc, &req, KERR_NOT_ENOUGH_REPLICAS);
    cr_assert_eq(parts[0].err, KERR_COORDINATOR_NOT_AVAILABLE, "%s", kerr_name(parts[0].err));
    cr_assert_eq(fetched(gc, "g", "t", 0), -1);
    parts[0].err = KERR_NONE;
    group_commit_apply(gc, &req, KERR_MESSAGE_TOO_LARGE);
    cr_assert_eq(parts[0].err, KERR_INVALID_COMMIT_OFFSET_SIZE);
    parts[0].err = KERR_NONE;
    group_commit_apply(gc, &req, KERR__TIMEOUT);
    cr_assert_eq(parts[0].err, KERR_REQUEST_TIMED_OUT);
    cr_assert_eq(fetched(gc, "g", "t", 0), -1);
    group_records_destroy(&recs);
    group_coord_free(gc);
}

Test(group_offsets, explicit_expire_timestamp_writes_value_v1)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct group_records recs;
    group_records_init(&recs);
    struct group_commit parts[] = {part("t", 0, 1)};
    parts[0].expire_ts = 99999;
    parts[0].commit_ts = 77; /* OffsetCommit v1 may name the commit time */
    commit(gc, "g", "", -1, parts, 1, 100, &recs);
    struct ocommit_value v;
    cr_assert_eq(ocommit_value_decode(recs.v[0].value, recs.v[0].value_len, &v), KERR_NONE);
    cr_assert_eq(v.version, 1);
    cr_assert_eq(v.expire_ts, 99999);
    cr_assert_eq(v.commit_ts, 77);
    struct group_offset o;
    cr_assert_eq(group_offset_fetch(gc, "g", "t", 0, &o), KERR_NONE);
    cr_assert_eq(o.commit_ts, 77);
    cr_assert_eq(o.expire_ts, 99999);
    group_records_destroy(&recs);
    group_coord_free(gc);
}

Test(group_offsets, commit_rules_follow_membership_and_generation)
{
    struct group_config cfg = test_config();
    cfg.offset_metadata_max_bytes = 4;
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct group_records recs;
    group_records_init(&recs);
    struct group_commit p[2];

    /* a generation for a group that does not exist */
    p[0] = part("t", 0, 1);
    cr_assert_eq(commit(gc, "ghost", "m", 3, p, 1, 0, &recs), KERR_ILLEGAL_GENERATION);
    cr_assert_eq(p[0].err, KERR_ILLEGAL_GENERATION);
    cr_assert_eq(state_of(gc, "ghost"), GROUP_DEAD);
    cr_assert_eq(commit(gc, "", "", -1, p, 1, 0, &recs), KERR_INVALID_GROUP_ID);

    char ids[2][128];
    int32_t gen = stable_group(gc, "g", 2, ids, 0);
    p[0] = part("t", 0, 10);
    p[1] = part("t", 1, 11);
    p[1].metadata = "12345"; /* longer than 4 */
    cr_assert_eq(commit(gc, "g", ids[0], gen, p, 2, 10, &recs), KERR_NONE);
    cr_assert_eq(p[0].err, KERR_NONE);
    cr_assert_eq(p[1].err, KERR_OFFSET_METADATA_TOO_LARGE);
    cr_assert_eq(fetched(gc, "g", "t", 0), 10);
    cr_assert_eq(fetched(gc, "g", "t", 1), -1);

    p[0] = part("t", 0, 20);
    cr_assert_eq(commit(gc, "g", ids[0], gen + 1, p, 1, 10, &recs), KERR_ILLEGAL_GENERATION);
    cr_assert_eq(commit(gc, "g", "stranger", gen, p, 1, 10, &recs), KERR_UNKNOWN_MEMBER_ID);
    /* a simple consumer may not commit for a group with members */
    cr_assert_eq(commit(gc, "g", "", -1, p, 1, 10, &recs), KERR_UNKNOWN_MEMBER_ID);
    cr_assert_eq(fetched(gc, "g", "t", 0), 10);

    /* PreparingRebalance still accepts the members' commits */
    struct call n;
    join(gc, "g", "", &n, 20);
    cr_assert_eq(state_of(gc, "g"), GROUP_PREPARING_REBALANCE);
    cr_assert_eq(commit(gc, "g", ids[1], gen, p, 1, 30, &recs), KERR_NONE);
    cr_assert_eq(fetched(gc, "g", "t", 0), 20);

    /* CompletingRebalance: REBALANCE_IN_PROGRESS */
    struct call a, b;
    join(gc, "g", ids[0], &a, 40);
    join(gc, "g", ids[1], &b, 40);
    cr_assert_eq(state_of(gc, "g"), GROUP_COMPLETING_REBALANCE);
    p[0] = part("t", 0, 30);
    cr_assert_eq(commit(gc, "g", ids[0], a.generation, p, 1, 50, &recs),
                 KERR_REBALANCE_IN_PROGRESS);
    cr_assert_eq(fetched(gc, "g", "t", 0), 20);
    group_records_destroy(&recs);
    group_coord_free(gc);
}

Test(group_offsets, static_member_old_id_is_fenced_on_commit)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct group_records recs;
    group_records_init(&recs);
    struct call s, x, s2;
    struct group_join_req r = test_join_req("g", "", &s);
    r.instance_id = "inst";
    group_join(gc, &r, 0);
    sync_req(gc, "g", s.member_id, s.generation, NULL, 0, &x, 0);
    r = test_join_req("g", "", &s2);
    r.instance_id = "inst";
    group_join(gc, &r, 10);
    cr_assert_eq(s2.err, KERR_NONE);
    struct group_commit p[] = {part("t", 0, 1)};
    struct group_commit_req req = {"g", s.member_id, "inst", s.generation, p, 1, 0, -1};
    cr_assert_eq(group_commit_prepare(gc, &req, 20, &recs), KERR_FENCED_INSTANCE_ID);
    req.member_id = s2.member_id;
    cr_assert_eq(group_commit_prepare(gc, &req, 20, &recs), KERR_NONE);
    group_records_destroy(&recs);
    group_coord_free(gc);
}

Test(group_offsets, offsets_of_an_empty_group_expire_after_retention)
{
    struct group_config cfg = test_config();
    cfg.offsets_retention_ms = 1000000;
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct group_records recs;
    group_records_init(&recs);
    char ids[1][128];
    int32_t gen = stable_group(gc, "g", 1, ids, 0);
    struct group_commit p[] = {part("t", 0, 5), part("u", 3, 9)};
    commit(gc, "g", ids[0], gen, p, 2, 100, &recs);
    group_records_destroy(&recs);

    /* members exist: nothing expires however old the commit */
    cr_assert_eq(group_expire_offsets(gc, 5000000, &recs), 0);
    struct group_leave_member lm = {ids[0], NULL, KERR_NONE};
    group_leave(gc, "g", &lm, 1, 5000000);
    cr_assert_eq(state_of(gc, "g"), GROUP_EMPTY);
    /* retention counts from when the group became Empty */
    cr_assert_eq(group_expire_offsets(gc, 5999999, &recs), 0);
    cr_assert_eq(recs.n, 0);
    cr_assert_eq(group_expire_offsets(gc, 6000000, &recs), 2);
    cr_assert_eq(fetched(gc, "g", "t", 0), -1);
    cr_assert_eq(state_of(gc, "g"), GROUP_DEAD, "an empty group without offsets is removed");
    /* two offset tombstones and the group's */
    cr_assert_eq(recs.n, 3);
    int offset_tombstones = 0, group_tombstones = 0;
    for (size_t i = 0; i < recs.n; i++) {
        struct okey k;
        cr_assert_eq(okey_decode(recs.v[i].key, recs.v[i].key_len, &k), KERR_NONE);
        cr_assert_null(recs.v[i].value);
        offset_tombstones += k.kind == OKEY_OFFSET;
        group_tombstones += k.kind == OKEY_GROUP;
    }
    cr_assert_eq(offset_tombstones, 2);
    cr_assert_eq(group_tombstones, 1);
    group_records_destroy(&recs);
    group_coord_free(gc);
}

Test(group_offsets, simple_consumer_offsets_expire_by_commit_time)
{
    struct group_config cfg = test_config();
    cfg.offsets_retention_ms = 1000;
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct group_records recs;
    group_records_init(&recs);
    struct group_commit p1[] = {part("t", 0, 5)};
    commit(gc, "g", "", -1, p1, 1, 0, &recs);
    struct group_commit p2[] = {part("t", 1, 6)};
    commit(gc, "g", "", -1, p2, 1, 500, &recs);
    struct group_commit p3[] = {part("t", 2, 7)};
    p3[0].expire_ts = 10000; /* an explicit expire time wins over retention */
    commit(gc, "g", "", -1, p3, 1, 0, &recs);
    group_records_destroy(&recs);
    cr_assert_eq(group_expire_offsets(gc, 1000, &recs), 1);
    cr_assert_eq(fetched(gc, "g", "t", 0), -1);
    cr_assert_eq(fetched(gc, "g", "t", 1), 6);
    cr_assert_eq(group_expire_offsets(gc, 1500, &recs), 1);
    cr_assert_eq(fetched(gc, "g", "t", 2), 7);
    cr_assert_eq(state_of(gc, "g"), GROUP_EMPTY);
    cr_assert_eq(group_expire_offsets(gc, 10000, &recs), 1);
    cr_assert_eq(state_of(gc, "g"), GROUP_DEAD);
    group_records_destroy(&recs);
    group_coord_free(gc);
}

Test(group_offsets, delete_group)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct group_records recs;
    group_records_init(&recs);
    char ids[1][128];
    stable_group(gc, "busy", 1, ids, 0);
    cr_assert_eq(group_delete(gc, "busy", &recs), KERR_NON_EMPTY_GROUP);
    cr_assert_eq(group_delete(gc, "nope", &recs), KERR_GROUP_ID_NOT_FOUND);
    struct group_commit p[] = {part("t", 0, 5)};
    commit(gc, "idle", "", -1, p, 1, 0, &recs);
    group_records_destroy(&recs);
    cr_assert_eq(group_delete(gc, "idle", &recs), KERR_NONE);
    cr_assert_eq(recs.n, 2);
    cr_assert_eq(state_of(gc, "idle"), GROUP_DEAD);
    cr_assert_eq(fetched(gc, "idle", "t", 0), -1);
    group_records_destroy(&recs);
    group_coord_free(gc);
}

/* --- load replay --- */

/* Appends a record built by the test (value NULL: tombstone); takes the kbufs' bytes. */
static void push(struct group_records *r, struct kbuf *k, struct kbuf *v)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 8;
        r->v = realloc(r->v, r->cap * sizeof(*r->v));
        cr_assert_not_null(r->v);
    }
    struct group_record *rec = &r->v[r->n++];
    rec->key = kbuf_steal(k, &rec->key_len);
    rec->value = v ? kbuf_steal(v, &rec->value_len) : NULL;
    if (!v)
        rec->value_len = 0;
}

static void add_commit(struct group_records *r, const char *group, const char *topic, int32_t p,
                       int64_t offset)
{
    struct kbuf k, v;
    kbuf_init(&k);
    kbuf_init(&v);
    okey_put_offset(&k, 1, group, topic, p);
    struct ocommit_value cv = {3, offset, 2, {"m", 1}, 1234, -1};
    ocommit_value_put(&v, &cv);
    push(r, &k, &v);
}

static void add_tombstone(struct group_records *r, const char *group, const char *topic, int32_t p)
{
    struct kbuf k;
    kbuf_init(&k);
    if (topic)
        okey_put_offset(&k, 1, group, topic, p);
    else
        okey_put_group(&k, group);
    push(r, &k, NULL);
}

static void replay(struct group_coord *gc, const struct group_records *r, int64_t now)
{
    for (size_t i = 0; i < r->n; i++)
        cr_assert_eq(group_load_record(gc, r->v[i].key, r->v[i].key_len, r->v[i].value,
                                       r->v[i].value_len, now),
                     KERR_NONE, "record %zu", i);
    group_load_finish(gc, now);
}

Test(group_offsets, replay_latest_wins_and_tombstones_delete)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct group_records log;
    group_records_init(&log);
    add_commit(&log, "g", "t", 0, 5);
    add_commit(&log, "g", "t", 1, 50);
    add_commit(&log, "g", "t", 0, 7); /* latest wins */
    add_tombstone(&log, "g", "t", 1); /* deleted */
    add_commit(&log, "gone", "t", 0, 1);
    add_tombstone(&log, "gone", "t", 0);
    add_tombstone(&log, "gone", NULL, 0);
    replay(gc, &log, 100);
    struct group_offset o;
    cr_assert_eq(group_offset_fetch(gc, "g", "t", 0, &o), KERR_NONE);
    cr_assert_eq(o.offset, 7);
    cr_assert_eq(o.leader_epoch, 2);
    cr_assert_str_eq(o.metadata, "m");
    cr_assert_eq(o.commit_ts, 1234);
    cr_assert_eq(fetched(gc, "g", "t", 1), -1);
    cr_assert_eq(state_of(gc, "g"), GROUP_EMPTY);
    cr_assert_eq(state_of(gc, "gone"), GROUP_DEAD, "nothing left of it");
    static const uint8_t bad_key[] = {0x00, 0x07, 0x00, 0x00};
    cr_assert_eq(group_load_record(gc, bad_key, sizeof(bad_key), NULL, 0, 0), KERR__CORRUPT);
    static const uint8_t key[] = {0x00, 0x01, 0x00, 0x01, 'g', 0x00, 0x01, 't', 0, 0, 0, 0};
    static const uint8_t bad_value[] = {0x00, 0x03, 0x00};
    cr_assert_eq(group_load_record(gc, key, sizeof(key), bad_value, sizeof(bad_value), 0),
                 KERR__CORRUPT);
    cr_assert_eq(fetched(gc, "g", "t", 0), 7, "a corrupt record changes nothing");
    group_records_destroy(&log);
    group_coord_free(gc);
}

Test(group_offsets, group_metadata_record_reloads_the_group)
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
    struct group_assignment as[] = {{sid, (const uint8_t *)"S1", 2},
                                    {d.member_id, (const uint8_t *)"D22", 3}};
    sync_req(gc, "g", sid, s.generation, as, 2, &y, 0);
    cr_assert_eq(state_of(gc, "g"), GROUP_STABLE);

    struct group_records log;
    group_records_init(&log);
    add_commit(&log, "g", "t", 0, 11);
    cr_assert_eq(group_metadata_record(gc, "g", &log), KERR_NONE);
    cr_assert_eq(group_metadata_record(gc, "nope", &log), KERR__NOENT);
    struct ogroup_value v;
    cr_assert_eq(ogroup_value_decode(log.v[1].value, log.v[1].value_len, &v), KERR_NONE);
    cr_assert_eq(v.version, 3);
    cr_assert(kstr_eq(v.protocol_type, "consumer"));
    cr_assert(kstr_eq(v.protocol, "range"));
    cr_assert(kstr_eq(v.leader, sid));
    cr_assert_eq(v.member_count, 2);
    ogroup_value_destroy(&v);

    struct group_coord *gc2 = test_coord(&cfg, NULL);
    replay(gc2, &log, 1000);
    struct group_info a, b;
    cr_assert(group_describe(gc, "g", &a));
    cr_assert(group_describe(gc2, "g", &b));
    cr_assert_eq(b.state, GROUP_STABLE);
    cr_assert_eq(b.generation, a.generation);
    cr_assert_str_eq(b.protocol_name, "range");
    cr_assert_str_eq(b.protocol_type, "consumer");
    cr_assert_str_eq(b.leader_id, sid);
    cr_assert_eq(b.member_count, 2);
    for (int32_t i = 0; i < 2; i++) {
        struct group_member_info m1, m2;
        cr_assert(group_member_at(gc, "g", i, &m1));
        cr_assert(group_member_at(gc2, "g", i, &m2));
        cr_assert_str_eq(m1.member_id, m2.member_id);
        cr_assert_eq(m1.instance_id == NULL, m2.instance_id == NULL);
        cr_assert_eq(m1.assignment_len, m2.assignment_len);
        cr_assert_eq(memcmp(m1.assignment, m2.assignment, (size_t)m1.assignment_len), 0);
        cr_assert_eq(m1.metadata_len, m2.metadata_len);
        cr_assert_eq(m2.session_timeout_ms, 10000);
        cr_assert_eq(m2.rebalance_timeout_ms, 30000);
    }
    cr_assert_eq(fetched(gc2, "g", "t", 0), 11);
    /* loaded members heartbeat against the loaded generation, and expire from load time */
    cr_assert_eq(group_heartbeat(gc2, "g", d.member_id, NULL, a.generation, 1000), KERR_NONE);
    cr_assert_eq(group_heartbeat(gc2, "g", sid, "inst", a.generation, 1000), KERR_NONE);
    cr_assert_eq(group_next_deadline(gc2), 11000);

    /* a later group tombstone removes the membership, not the offsets */
    struct group_records more;
    group_records_init(&more);
    add_tombstone(&more, "g", NULL, 0);
    struct group_coord *gc3 = test_coord(&cfg, NULL);
    for (size_t i = 0; i < log.n; i++)
        group_load_record(gc3, log.v[i].key, log.v[i].key_len, log.v[i].value, log.v[i].value_len,
                          0);
    replay(gc3, &more, 0);
    cr_assert_eq(state_of(gc3, "g"), GROUP_EMPTY);
    cr_assert_eq(members_of(gc3, "g"), 0);
    cr_assert_eq(fetched(gc3, "g", "t", 0), 11);
    group_records_destroy(&more);
    group_records_destroy(&log);
    group_coord_free(gc3);
    group_coord_free(gc2);
    group_coord_free(gc);
}

static void count_group(void *arg, const struct group_info *g)
{
    int *count = arg;
    cr_assert(strcmp(g->group_id, "a") == 0 || strcmp(g->group_id, "b") == 0);
    (*count)++;
}

Test(group_offsets, list_groups_lists_every_live_group)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct group_records recs;
    group_records_init(&recs);
    char ids[1][128];
    stable_group(gc, "a", 1, ids, 0);
    struct group_commit p[] = {part("t", 0, 5)};
    commit(gc, "b", "", -1, p, 1, 0, &recs);
    int count = 0;
    group_foreach(gc, count_group, &count);
    cr_assert_eq(count, 2);
    group_records_destroy(&recs);
    group_coord_free(gc);
}

/* --- the consumer protocol's subscriptions: OffsetDelete, expiry of unsubscribed topics --- */

/* ConsumerProtocolSubscription v0 for topics "t" and "u", null user data, by hand */
static const uint8_t SUB_TU[] = {
    0x00, 0x00,             /* version 0 */
    0x00, 0x00, 0x00, 0x02, /* 2 topics */
    0x00, 0x01, 't',        /* "t" */
    0x00, 0x01, 'u',        /* "u" */
    0xff, 0xff, 0xff, 0xff, /* user data null */
};

static const struct group_protocol SUB_PROTO[] = {{"range", SUB_TU, sizeof(SUB_TU)}};

/* One consumer member subscribed to t and u, Stable; returns its generation, id in id. */
static int32_t consumer_group(struct group_coord *gc, const struct group_protocol *proto, char *id)
{
    struct call a, s;
    struct group_join_req r = test_join_req("g", "", &a);
    r.protocols = proto;
    group_join(gc, &r, 0);
    cr_assert_eq(a.err, KERR_NONE);
    sync_req(gc, "g", a.member_id, a.generation, NULL, 0, &s, 0);
    cr_assert_eq(state_of(gc, "g"), GROUP_STABLE);
    snprintf(id, 128, "%s", a.member_id);
    return a.generation;
}

Test(group_offsets, consumer_subscription_parser)
{
    bool found;
    cr_assert(consumer_subscription_has_topic(SUB_TU, sizeof(SUB_TU), "u", &found));
    cr_assert(found);
    cr_assert(consumer_subscription_has_topic(SUB_TU, sizeof(SUB_TU), "v", &found));
    cr_assert_not(found);
    cr_assert(consumer_subscription_has_topic(SUB_TU, sizeof(SUB_TU), "", &found));
    cr_assert_not(found);
    cr_assert_not(consumer_subscription_has_topic(SUB_TU, 9, "t", &found), "truncated");
    cr_assert_not(consumer_subscription_has_topic((const uint8_t *)"sub", 3, "t", &found));
}

Test(group_offsets, offset_delete_refuses_subscribed_topics_of_a_live_consumer_group)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct group_records recs;
    group_records_init(&recs);
    char id[128];
    int32_t gen = consumer_group(gc, SUB_PROTO, id);
    struct group_commit p[] = {part("t", 0, 5), part("old", 0, 6)};
    commit(gc, "g", id, gen, p, 2, 10, &recs);
    group_records_destroy(&recs);
    struct group_offset_delete d[] = {{"t", 0, KERR_UNKNOWN_SERVER_ERROR},
                                      {"old", 0, KERR_UNKNOWN_SERVER_ERROR},
                                      {"never", 1, KERR_UNKNOWN_SERVER_ERROR}};
    cr_assert_eq(group_offsets_delete(gc, "g", d, 3, 20, &recs), KERR_NONE);
    cr_assert_eq(d[0].err, KERR_GROUP_SUBSCRIBED_TO_TOPIC);
    cr_assert_eq(d[1].err, KERR_NONE);
    cr_assert_eq(d[2].err, KERR_NONE);
    cr_assert_eq(fetched(gc, "g", "t", 0), 5);
    cr_assert_eq(fetched(gc, "g", "old", 0), -1);
    cr_assert_eq(recs.n, 1, "one tombstone: only 'old' had an offset");
    cr_assert_null(recs.v[0].value);
    cr_assert_eq(group_offsets_delete(gc, "nope", d, 1, 20, &recs), KERR_GROUP_ID_NOT_FOUND);
    group_records_destroy(&recs);
    group_coord_free(gc);
}

Test(group_offsets, offset_delete_on_an_empty_group_removes_it_when_nothing_is_left)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct group_records recs;
    group_records_init(&recs);
    struct group_commit p[] = {part("t", 0, 5)};
    commit(gc, "g", "", -1, p, 1, 0, &recs);
    group_records_destroy(&recs);
    struct group_offset_delete d[] = {{"t", 0, KERR_UNKNOWN_SERVER_ERROR}};
    cr_assert_eq(group_offsets_delete(gc, "g", d, 1, 20, &recs), KERR_NONE);
    cr_assert_eq(d[0].err, KERR_NONE);
    cr_assert_eq(state_of(gc, "g"), GROUP_DEAD);
    cr_assert_eq(recs.n, 2, "the offset's tombstone and the group's");
    group_records_destroy(&recs);
    group_coord_free(gc);
}

Test(group_offsets, offset_delete_on_a_live_group_of_another_protocol_type)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct group_records recs;
    group_records_init(&recs);
    struct call a;
    struct group_join_req r = test_join_req("g", "", &a);
    r.protocol_type = "connect";
    group_join(gc, &r, 0);
    struct group_offset_delete d[] = {{"t", 0, KERR_UNKNOWN_SERVER_ERROR}};
    cr_assert_eq(group_offsets_delete(gc, "g", d, 1, 20, &recs), KERR_NON_EMPTY_GROUP);
    group_records_destroy(&recs);
    group_coord_free(gc);
}

Test(group_offsets, stable_consumer_group_expires_only_unsubscribed_topics)
{
    struct group_config cfg = test_config();
    cfg.offsets_retention_ms = 1000;
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct group_records recs;
    group_records_init(&recs);
    char id[128];
    int32_t gen = consumer_group(gc, SUB_PROTO, id);
    struct group_commit p[] = {part("t", 0, 5), part("old", 0, 6)};
    commit(gc, "g", id, gen, p, 2, 0, &recs);
    group_records_destroy(&recs);
    cr_assert_eq(group_expire_offsets(gc, 999, &recs), 0);
    cr_assert_eq(group_expire_offsets(gc, 1000, &recs), 1);
    cr_assert_eq(fetched(gc, "g", "old", 0), -1);
    cr_assert_eq(fetched(gc, "g", "t", 0), 5);
    cr_assert_eq(state_of(gc, "g"), GROUP_STABLE);
    group_records_destroy(&recs);
    group_coord_free(gc);
}

Test(group_offsets, unreadable_subscriptions_keep_every_offset)
{
    struct group_config cfg = test_config();
    cfg.offsets_retention_ms = 1000;
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct group_records recs;
    group_records_init(&recs);
    char id[128];
    int32_t gen = consumer_group(gc, TEST_RANGE, id); /* metadata "sub": not a subscription */
    struct group_commit p[] = {part("old", 0, 6)};
    commit(gc, "g", id, gen, p, 1, 0, &recs);
    group_records_destroy(&recs);
    cr_assert_eq(group_expire_offsets(gc, 100000, &recs), 0);
    cr_assert_eq(fetched(gc, "g", "old", 0), 6);
    group_records_destroy(&recs);
    group_coord_free(gc);
}

Test(group_offsets, append_errors_map_to_kafkas_answers)
{
    cr_assert_eq(group_append_error(KERR_NONE, true), KERR_NONE);
    cr_assert_eq(group_append_error(KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND, false),
                 KERR_COORDINATOR_NOT_AVAILABLE);
    cr_assert_eq(group_append_error(KERR_UNKNOWN_TOPIC_OR_PARTITION, true),
                 KERR_COORDINATOR_NOT_AVAILABLE);
    cr_assert_eq(group_append_error(KERR_NOT_LEADER_OR_FOLLOWER, true), KERR_NOT_COORDINATOR);
    cr_assert_eq(group_append_error(KERR__IO, false), KERR_NOT_COORDINATOR);
    cr_assert_eq(group_append_error(KERR_REQUEST_TIMED_OUT, false), KERR_REBALANCE_IN_PROGRESS);
    cr_assert_eq(group_append_error(KERR_RECORD_LIST_TOO_LARGE, false), KERR_UNKNOWN_SERVER_ERROR);
    cr_assert_eq(group_append_error(KERR_INVALID_RECORD, true), KERR_INVALID_RECORD);
}

Test(group_offsets, a_commit_is_pending_until_applied)
{
    struct group_config cfg = test_config();
    cfg.offsets_retention_ms = 1000;
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct group_records recs;
    group_records_init(&recs);
    struct group_commit p1[] = {part("t", 0, 5)};
    commit(gc, "g", "", -1, p1, 1, 0, &recs);
    cr_assert_not(group_offset_pending(gc, "g", "t", 0));

    /* two commits of t-0 in flight: pending until both are applied */
    struct group_commit a[] = {part("t", 0, 6)}, b[] = {part("t", 0, 7)};
    struct group_commit_req ra = {"g", "", NULL, -1, a, 1, 0, -1},
                            rb = {"g", "", NULL, -1, b, 1, 0, -1};
    cr_assert_eq(group_commit_prepare(gc, &ra, 10, &recs), KERR_NONE);
    cr_assert_eq(group_commit_prepare(gc, &rb, 10, &recs), KERR_NONE);
    cr_assert(group_offset_pending(gc, "g", "t", 0));
    cr_assert_not(group_offset_pending(gc, "g", "t", 1));
    cr_assert_not(group_offset_pending(gc, "other", "t", 0));
    cr_assert_eq(fetched(gc, "g", "t", 0), 5, "not visible before replication");
    /* a pending partition's offset does not expire, however old */
    cr_assert_eq(group_expire_offsets(gc, 5000, &recs), 0);
    cr_assert_eq(fetched(gc, "g", "t", 0), 5);
    group_commit_apply(gc, &ra, KERR_NONE);
    cr_assert(group_offset_pending(gc, "g", "t", 0));
    cr_assert_eq(fetched(gc, "g", "t", 0), 6);
    group_commit_apply(gc, &rb, KERR_NOT_ENOUGH_REPLICAS); /* a failed append ends it too */
    cr_assert_not(group_offset_pending(gc, "g", "t", 0));
    cr_assert_eq(fetched(gc, "g", "t", 0), 6);
    group_records_destroy(&recs);
    group_coord_free(gc);
}

Test(group_offsets, an_offset_deleted_while_its_commit_is_pending_is_not_brought_back)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct group_records recs;
    group_records_init(&recs);
    struct group_commit p1[] = {part("t", 0, 5), part("u", 0, 1)};
    commit(gc, "g", "", -1, p1, 2, 0, &recs);
    struct group_commit a[] = {part("t", 0, 6)};
    struct group_commit_req ra = {"g", "", NULL, -1, a, 1, 0, -1};
    cr_assert_eq(group_commit_prepare(gc, &ra, 10, &recs), KERR_NONE);
    struct group_offset_delete d = {"t", 0, KERR_UNKNOWN_SERVER_ERROR};
    cr_assert_eq(group_offsets_delete(gc, "g", &d, 1, 20, &recs), KERR_NONE);
    cr_assert_not(group_offset_pending(gc, "g", "t", 0));
    group_commit_apply(gc, &ra, KERR_NONE);
    cr_assert_eq(a[0].err, KERR_NONE);
    cr_assert_eq(fetched(gc, "g", "t", 0), -1, "the delete's tombstone follows the commit");
    cr_assert_eq(fetched(gc, "g", "u", 0), 1);
    group_records_destroy(&recs);
    group_coord_free(gc);
}

Test(group_offsets, records_add_copy_copies_values_and_tombstones)
{
    struct group_records r;
    group_records_init(&r);
    uint8_t k[] = {1, 2, 3}, v[] = {9};
    struct group_record rec = {k, sizeof(k), v, sizeof(v)};
    cr_assert(group_records_add_copy(&r, &rec));
    struct group_record tomb = {k, sizeof(k), NULL, 0};
    cr_assert(group_records_add_copy(&r, &tomb));
    struct group_record empty = {k, sizeof(k), v, 0}; /* an empty value is not a tombstone */
    cr_assert(group_records_add_copy(&r, &empty));
    k[0] = 7;
    cr_assert_eq(r.n, 3);
    cr_assert_eq(r.v[0].key_len, 3);
    cr_assert_eq(r.v[0].key[0], 1, "a copy, not the caller's bytes");
    cr_assert_neq((void *)r.v[0].key, (void *)k);
    cr_assert_eq(r.v[0].value_len, 1);
    cr_assert_eq(r.v[0].value[0], 9);
    cr_assert_null(r.v[1].value);
    cr_assert_not_null(r.v[2].value);
    cr_assert_eq(r.v[2].value_len, 0);
    group_records_destroy(&r);
}

Test(group_offsets, a_deleted_topic_takes_its_offsets_and_empties_groups)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct group_records recs;
    group_records_init(&recs);
    struct group_commit a[] = {part("gone", 0, 5), part("gone", 1, 6), part("kept", 0, 7)};
    commit(gc, "mixed", "", -1, a, 3, 0, &recs);
    struct group_commit b[] = {part("gone", 0, 8)};
    commit(gc, "only", "", -1, b, 1, 0, &recs);
    struct group_commit c[] = {part("gone", 2, 9)}; /* in flight when the topic goes */
    struct group_commit_req rc = {"mixed", "", NULL, -1, c, 1, 0, -1};
    cr_assert_eq(group_commit_prepare(gc, &rc, 10, &recs), KERR_NONE);
    group_records_destroy(&recs);

    const char *topics[] = {"gone"};
    cr_assert_eq(group_remove_topics(gc, topics, 1, 20, &recs), 3);
    cr_assert_eq(fetched(gc, "mixed", "gone", 0), -1);
    cr_assert_eq(fetched(gc, "mixed", "gone", 1), -1);
    cr_assert_eq(fetched(gc, "mixed", "kept", 0), 7);
    cr_assert_eq(state_of(gc, "mixed"), GROUP_EMPTY);
    cr_assert_eq(state_of(gc, "only"), GROUP_DEAD, "an empty group left with nothing goes");
    cr_assert_not(group_offset_pending(gc, "mixed", "gone", 2));
    group_commit_apply(gc, &rc, KERR_NONE);
    cr_assert_eq(fetched(gc, "mixed", "gone", 2), -1, "the commit in flight stays removed");
    /* three offset tombstones and the tombstone of "only" */
    int offsets = 0, groups = 0;
    for (size_t i = 0; i < recs.n; i++) {
        struct okey k;
        cr_assert_eq(okey_decode(recs.v[i].key, recs.v[i].key_len, &k), KERR_NONE);
        cr_assert_null(recs.v[i].value);
        offsets += k.kind == OKEY_OFFSET && kstr_eq(k.topic, "gone");
        groups += k.kind == OKEY_GROUP && kstr_eq(k.group, "only");
    }
    cr_assert_eq(offsets, 3);
    cr_assert_eq(groups, 1);
    cr_assert_eq(recs.n, 4);
    group_records_destroy(&recs);

    /* a live group keeps its membership; only the offsets go */
    char ids[1][128];
    int32_t gen = stable_group(gc, "live", 1, ids, 100);
    struct group_commit d[] = {part("gone", 0, 1)};
    commit(gc, "live", ids[0], gen, d, 1, 100, &recs);
    group_records_destroy(&recs);
    cr_assert_eq(group_remove_topics(gc, topics, 1, 200, &recs), 1);
    cr_assert_eq(state_of(gc, "live"), GROUP_STABLE);
    cr_assert_eq(fetched(gc, "live", "gone", 0), -1);
    group_records_destroy(&recs);
    group_coord_free(gc);
}
