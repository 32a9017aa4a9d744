/*
 * tests/unit/broker/group/test_group_txn.c — transactional offset commits (group_txn.c):
 * TxnOffsetCommit's membership rules, pending offsets invisible to OffsetFetch until their
 * producer's COMMIT marker, dropped at ABORT, the log-offset order against plain commits
 * (Kafka's olderThan), failed appends, removal with their topic, and the same outcome when a
 * partition is loaded from its records and markers.
 */
#include "group_test.h"

#include "broker/group/offsets_format.h"

/* A TxnOffsetCommit of producer pid for one partition, appended at log_offset. */
static kerr_t txn_commit(struct group_coord *gc, const char *group, const char *member,
                         int32_t generation, int64_t pid, struct group_commit *c,
                         int64_t log_offset, struct group_records *recs)
{
    struct group_commit_req req = {group, member, NULL, generation, c, 1, 0, -1};
    kerr_t err = group_txn_commit_prepare(gc, &req, pid, 1000, recs);
    group_txn_commit_apply(gc, &req, pid, KERR_NONE, log_offset);
    return err;
}

/* A plain OffsetCommit of a simple consumer, appended at log_offset. */
static void plain_commit(struct group_coord *gc, const char *group, const char *topic, int32_t p,
                         int64_t offset, int64_t log_offset)
{
    struct group_records recs;
    group_records_init(&recs);
    struct group_commit c = part(topic, p, offset);
    struct group_commit_req req = {group, "", NULL, -1, &c, 1, 0, log_offset};
    cr_assert_eq(group_commit_prepare(gc, &req, 1000, &recs), KERR_NONE);
    group_commit_apply(gc, &req, KERR_NONE);
    cr_assert_eq(c.err, KERR_NONE);
    group_records_destroy(&recs);
}

Test(group_txn, pending_until_commit_marker_then_visible)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct group_records recs;
    group_records_init(&recs);
    plain_commit(gc, "g", "t", 0, 5, 1);
    struct group_commit c = part("t", 0, 42);
    c.metadata = "m";
    c.leader_epoch = 3;
    cr_assert_eq(txn_commit(gc, "g", "", -1, 7, &c, 10, &recs), KERR_NONE);
    cr_assert_eq(c.err, KERR_NONE);
    /* the record is Kafka's offset commit: key v1, value v3 */
    cr_assert_eq(recs.n, 1);
    struct okey k;
    struct ocommit_value v;
    cr_assert_eq(okey_decode(recs.v[0].key, recs.v[0].key_len, &k), KERR_NONE);
    cr_assert_eq(k.kind, OKEY_OFFSET);
    cr_assert_eq(k.version, 1);
    cr_assert_eq(ocommit_value_decode(recs.v[0].value, recs.v[0].value_len, &v), KERR_NONE);
    cr_assert_eq(v.version, 3);
    cr_assert_eq(v.offset, 42);

    cr_assert_eq(fetched(gc, "g", "t", 0), 5, "the last committed value until the marker");
    cr_assert(group_offset_pending(gc, "g", "t", 0), "require_stable sees it pending");
    cr_assert_not(group_offset_pending(gc, "g", "t", 1));
    cr_assert_eq(group_txn_pending_count(gc), 1);
    cr_assert_eq(group_txn_complete(gc, 8, true, 20), 0, "another producer's marker");
    cr_assert_eq(group_txn_complete(gc, 7, true, 9), 0, "a marker before the record");
    cr_assert_eq(fetched(gc, "g", "t", 0), 5);
    cr_assert_eq(group_txn_complete(gc, 7, true, 11), 1);
    struct group_offset o;
    cr_assert_eq(group_offset_fetch(gc, "g", "t", 0, &o), KERR_NONE);
    cr_assert_eq(o.offset, 42);
    cr_assert_eq(o.leader_epoch, 3);
    cr_assert_str_eq(o.metadata, "m");
    cr_assert_not(group_offset_pending(gc, "g", "t", 0));
    cr_assert_eq(group_txn_pending_count(gc), 0);
    group_records_destroy(&recs);
    group_coord_free(gc);
}

Test(group_txn, abort_marker_drops_the_offsets)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct group_records recs;
    group_records_init(&recs);
    plain_commit(gc, "g", "t", 0, 5, 1);
    struct group_commit c = part("t", 0, 42);
    cr_assert_eq(txn_commit(gc, "g", "", -1, 7, &c, 10, &recs), KERR_NONE);
    cr_assert_eq(group_txn_complete(gc, 7, false, 11), 0);
    cr_assert_eq(fetched(gc, "g", "t", 0), 5);
    cr_assert_not(group_offset_pending(gc, "g", "t", 0));
    /* an unknown group whose only offsets were aborted is gone after expiry */
    struct group_commit d = part("t", 0, 9);
    cr_assert_eq(txn_commit(gc, "fresh", "", -1, 7, &d, 12, &recs), KERR_NONE);
    cr_assert_eq(state_of(gc, "fresh"), GROUP_EMPTY);
    group_txn_complete(gc, 7, false, 13);
    struct group_records out;
    group_records_init(&out);
    group_expire_offsets(gc, 2000, &out);
    cr_assert_eq(state_of(gc, "fresh"), GROUP_DEAD);
    group_records_destroy(&out);
    group_records_destroy(&recs);
    group_coord_free(gc);
}

Test(group_txn, the_record_later_in_the_log_wins)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct group_records recs;
    group_records_init(&recs);
    /* txn record at 10, a plain commit at 20 replicated first, marker at 30: plain stays */
    struct group_commit c = part("t", 0, 100);
    cr_assert_eq(txn_commit(gc, "g", "", -1, 7, &c, 10, &recs), KERR_NONE);
    plain_commit(gc, "g", "t", 0, 200, 20);
    cr_assert_eq(group_txn_complete(gc, 7, true, 30), 0);
    cr_assert_eq(fetched(gc, "g", "t", 0), 200);
    /* txn record at 40 after the plain one: the marker makes it current */
    struct group_commit d = part("t", 0, 300);
    cr_assert_eq(txn_commit(gc, "g", "", -1, 7, &d, 40, &recs), KERR_NONE);
    cr_assert_eq(group_txn_complete(gc, 7, true, 41), 1);
    cr_assert_eq(fetched(gc, "g", "t", 0), 300);
    /* a plain commit earlier in the log than the current offset does not replace it */
    plain_commit(gc, "g", "t", 0, 250, 35);
    cr_assert_eq(fetched(gc, "g", "t", 0), 300);
    group_records_destroy(&recs);
    group_coord_free(gc);
}

Test(group_txn, producers_are_independent_and_a_second_commit_replaces_the_first)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct group_records recs;
    group_records_init(&recs);
    struct group_commit a = part("t", 0, 1), b = part("t", 0, 2), a2 = part("t", 0, 3);
    cr_assert_eq(txn_commit(gc, "g", "", -1, 7, &a, 10, &recs), KERR_NONE);
    cr_assert_eq(txn_commit(gc, "g", "", -1, 8, &b, 11, &recs), KERR_NONE);
    cr_assert_eq(txn_commit(gc, "g", "", -1, 7, &a2, 12, &recs), KERR_NONE);
    cr_assert_eq(group_txn_pending_count(gc), 2);
    cr_assert_eq(group_txn_complete(gc, 8, false, 13), 0);
    cr_assert(group_offset_pending(gc, "g", "t", 0), "producer 7's offset still waits");
    cr_assert_eq(group_txn_complete(gc, 7, true, 14), 1);
    cr_assert_eq(fetched(gc, "g", "t", 0), 3);
    group_records_destroy(&recs);
    group_coord_free(gc);
}

Test(group_txn, membership_rules)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct group_records recs;
    group_records_init(&recs);
    char ids[1][128];
    int32_t gen = stable_group(gc, "g", 1, ids, 100);
    struct group_commit c = part("t", 0, 1);
    cr_assert_eq(txn_commit(gc, "g", "nobody", gen, 7, &c, 10, &recs), KERR_UNKNOWN_MEMBER_ID);
    cr_assert_eq(c.err, KERR_UNKNOWN_MEMBER_ID);
    cr_assert_eq(txn_commit(gc, "g", ids[0], gen + 1, 7, &c, 10, &recs), KERR_ILLEGAL_GENERATION);
    cr_assert_eq(txn_commit(gc, "g", ids[0], gen, 7, &c, 10, &recs), KERR_NONE);
    cr_assert_eq(c.err, KERR_NONE);
    /* v0-2 carry no member: accepted even while the group is Stable (Kafka) */
    cr_assert_eq(txn_commit(gc, "g", "", -1, 8, &c, 11, &recs), KERR_NONE);
    cr_assert_eq(txn_commit(gc, "", "", -1, 8, &c, 11, &recs), KERR_INVALID_GROUP_ID);
    cr_assert_eq(recs.n, 2, "only the accepted commits are written");

    /* metadata over offset.metadata.max.bytes: that partition only */
    cfg.offset_metadata_max_bytes = 4;
    struct group_coord *small = test_coord(&cfg, NULL);
    struct group_commit two[] = {part("t", 0, 1), part("t", 1, 2)};
    two[0].metadata = "too long";
    struct group_commit_req req = {"h", "", NULL, -1, two, 2, 0, -1};
    cr_assert_eq(group_txn_commit_prepare(small, &req, 7, 1000, &recs), KERR_NONE);
    cr_assert_eq(two[0].err, KERR_OFFSET_METADATA_TOO_LARGE);
    cr_assert_eq(two[1].err, KERR_NONE);
    cr_assert_not(group_offset_pending(small, "h", "t", 0));
    cr_assert(group_offset_pending(small, "h", "t", 1));
    group_coord_free(small);
    group_records_destroy(&recs);
    group_coord_free(gc);
}

Test(group_txn, a_failed_append_drops_the_pending_offsets)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct group_records recs;
    group_records_init(&recs);
    struct group_commit c = part("t", 0, 1);
    struct group_commit_req req = {"g", "", NULL, -1, &c, 1, 0, -1};
    cr_assert_eq(group_txn_commit_prepare(gc, &req, 7, 1000, &recs), KERR_NONE);
    cr_assert(group_offset_pending(gc, "g", "t", 0));
    group_txn_commit_apply(gc, &req, 7, KERR_INVALID_PRODUCER_EPOCH, -1);
    cr_assert_eq(c.err, KERR_INVALID_PRODUCER_EPOCH, "a fenced producer's epoch");
    cr_assert_not(group_offset_pending(gc, "g", "t", 0));
    c = part("t", 0, 2);
    cr_assert_eq(group_txn_commit_prepare(gc, &req, 7, 1000, &recs), KERR_NONE);
    group_txn_commit_apply(gc, &req, 7, KERR_NOT_LEADER_OR_FOLLOWER, -1);
    cr_assert_eq(c.err, KERR_NOT_COORDINATOR);
    cr_assert_eq(group_txn_complete(gc, 7, true, 100), 0);
    cr_assert_eq(fetched(gc, "g", "t", 0), -1);
    group_records_destroy(&recs);
    group_coord_free(gc);
}

Test(group_txn, a_marker_before_the_append_completed_drops_it)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct group_records recs;
    group_records_init(&recs);
    struct group_commit c = part("t", 0, 1);
    struct group_commit_req req = {"g", "", NULL, -1, &c, 1, 0, -1};
    cr_assert_eq(group_txn_commit_prepare(gc, &req, 7, 1000, &recs), KERR_NONE);
    cr_assert_eq(group_txn_complete(gc, 7, true, 100), 0, "transaction ended (timeout abort)");
    group_txn_commit_apply(gc, &req, 7, KERR_NONE, 50);
    cr_assert_eq(c.err, KERR_NONE);
    cr_assert_not(group_offset_pending(gc, "g", "t", 0), "not brought back by the apply");
    cr_assert_eq(fetched(gc, "g", "t", 0), -1);
    group_records_destroy(&recs);
    group_coord_free(gc);
}

Test(group_txn, deleting_the_topic_or_the_offset_drops_pending_ones)
{
    struct group_config cfg = test_config();
    struct group_coord *gc = test_coord(&cfg, NULL);
    struct group_records recs, out;
    group_records_init(&recs);
    group_records_init(&out);
    struct group_commit a = part("gone", 0, 1), b = part("kept", 0, 2);
    cr_assert_eq(txn_commit(gc, "g", "", -1, 7, &a, 10, &recs), KERR_NONE);
    cr_assert_eq(txn_commit(gc, "g", "", -1, 7, &b, 11, &recs), KERR_NONE);
    const char *topics[] = {"gone"};
    group_remove_topics(gc, topics, 1, 2000, &out);
    cr_assert_not(group_offset_pending(gc, "g", "gone", 0));
    struct group_offset_delete d = {"kept", 0, KERR_UNKNOWN_SERVER_ERROR};
    cr_assert_eq(group_offsets_delete(gc, "g", &d, 1, 2000, &out), KERR_NONE);
    cr_assert_eq(d.err, KERR_NONE);
    cr_assert_eq(group_txn_complete(gc, 7, true, 20), 0, "nothing left to commit");
    cr_assert_eq(fetched(gc, "g", "kept", 0), -1);
    group_records_destroy(&out);
    group_records_destroy(&recs);
    group_coord_free(gc);
}

/* Loads rec (a record of recs) at log_offset, transactional for pid >= 0. */
static void load(struct group_coord *gc, const struct group_record *rec, int64_t log_offset,
                 int64_t pid)
{
    cr_assert_eq(group_load_record_at(gc, rec->key, rec->key_len, rec->value, rec->value_len,
                                      log_offset, pid, 100),
                 KERR_NONE);
}

Test(group_txn, loading_replays_pending_offsets_and_markers)
{
    struct group_config cfg = test_config();
    struct group_coord *src = test_coord(&cfg, NULL);
    struct group_records r;
    group_records_init(&r);
    /* records as a live coordinator writes them: [0] t-0=5 [1] t-0=42 [2] t-1=7 [3] t-0=60
     * [4] t-2=9 [5] u-0=3 (only-pending group "p") [6] t-0=70 */
    struct group_commit c[] = {part("t", 0, 5), part("t", 0, 42), part("t", 1, 7), part("t", 0, 60),
                               part("t", 2, 9), part("u", 0, 3),  part("t", 0, 70)};
    const char *groups[] = {"g", "g", "g", "g", "g", "p", "g"};
    for (int i = 0; i < 7; i++) {
        struct group_commit_req req = {groups[i], "", NULL, -1, &c[i], 1, 0, -1};
        cr_assert_eq(group_txn_commit_prepare(src, &req, 7, 1000, &r), KERR_NONE);
    }
    cr_assert_eq(r.n, 7);

    struct group_coord *gc = test_coord(&cfg, NULL);
    load(gc, &r.v[0], 0, -1);             /* plain t-0=5 */
    load(gc, &r.v[1], 1, 7);              /* producer 7: t-0=42 */
    load(gc, &r.v[2], 2, 7);              /* producer 7: t-1=7 */
    group_txn_complete(gc, 7, true, 3);   /* COMMIT */
    load(gc, &r.v[3], 4, 8);              /* producer 8: t-0=60 */
    load(gc, &r.v[4], 5, 8);              /* producer 8: t-2=9 */
    group_txn_complete(gc, 8, false, 6);  /* ABORT */
    load(gc, &r.v[5], 7, 9);              /* producer 9: group p, never ended */
    load(gc, &r.v[6], 8, 10);             /* producer 10: t-0=70 */
    load(gc, &r.v[0], 9, -1);             /* plain t-0=5 again, later in the log */
    group_txn_complete(gc, 10, true, 10); /* COMMIT: older than the plain one at 9 */
    group_load_finish(gc, 100);

    cr_assert_eq(fetched(gc, "g", "t", 0), 5);
    cr_assert_eq(fetched(gc, "g", "t", 1), 7);
    cr_assert_eq(fetched(gc, "g", "t", 2), -1, "aborted");
    cr_assert_eq(state_of(gc, "p"), GROUP_EMPTY, "a group with only pending offsets is kept");
    cr_assert(group_offset_pending(gc, "p", "u", 0));
    cr_assert_eq(fetched(gc, "p", "u", 0), -1);
    cr_assert_eq(group_txn_complete(gc, 9, true, 11), 1, "its marker after the load");
    cr_assert_eq(fetched(gc, "p", "u", 0), 3);
    group_records_destroy(&r);
    group_coord_free(src);
    group_coord_free(gc);
}
