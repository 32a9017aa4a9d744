/*
 * tests/unit/broker/test_group_codec_offsets.c — OffsetCommit, OffsetFetch and OffsetDelete
 * codecs (broker/kafka/group_codec_offsets.c), every version: requests written field by field
 * (and some byte by byte) decoded and checked field by field, unknown tagged fields skipped,
 * responses compared with hand-written bytes, malformed and truncated requests refused.
 */
#include "group_codec_test.h"

/* ---------------------------------------------------------------- OffsetCommit */

static void build_commit_req(struct tb *t, int v)
{
    tb_init(t, v >= 8);
    tb_str(t, "g");
    if (v >= 1) {
        tb_i32(t, 7);
        tb_str(t, "m");
    }
    if (v >= 7)
        tb_str(t, v == 7 ? "inst" : NULL);
    if (v >= 2 && v <= 4)
        tb_i64(t, 86400000);
    tb_arr(t, 2);
    tb_str(t, "t1");
    tb_arr(t, 2);
    tb_i32(t, 0);
    tb_i64(t, 100);
    if (v >= 6)
        tb_i32(t, 3);
    if (v == 1)
        tb_i64(t, 1700000000000);
    tb_str(t, "meta");
    tb_tags_unknown(t);
    tb_i32(t, 1);
    tb_i64(t, 200);
    if (v >= 6)
        tb_i32(t, 4);
    if (v == 1)
        tb_i64(t, -1);
    tb_str(t, NULL);
    tb_tags(t);
    tb_tags_unknown(t);
    tb_str(t, "t2");
    tb_arr(t, 0);
    tb_tags(t);
    tb_tags_unknown(t);
}

Test(group_codec, offset_commit_request_every_version)
{
    for (int v = 0; v <= 8; v++) {
        struct tb t;
        struct kslice s;
        struct gcodec_commit_req r;
        build_commit_req(&t, v);
        tb_slice(&t, &s);
        cr_assert(gcodec_commit_req_decode(&s, v, &r), "v%d", v);
        cr_assert_eq(s.pos, t.n);
        assert_kstr(r.group_id, "g");
        cr_assert_eq(r.generation, v >= 1 ? 7 : -1);
        assert_kstr(r.member_id, v >= 1 ? "m" : "");
        assert_kstr(r.instance_id, v == 7 ? "inst" : NULL);
        cr_assert_eq(r.retention_time_ms, v >= 2 && v <= 4 ? 86400000 : -1, "v%d", v);
        cr_assert_eq(r.topic_count, 2);
        assert_kstr(r.topics[0].name, "t1");
        cr_assert_eq(r.topics[0].part_count, 2);
        const struct gcodec_commit_part *p = r.topics[0].parts;
        cr_assert_eq(p[0].partition, 0);
        cr_assert_eq(p[0].offset, 100);
        cr_assert_eq(p[0].leader_epoch, v >= 6 ? 3 : -1);
        cr_assert_eq(p[0].commit_ts, v == 1 ? 1700000000000 : -1);
        assert_kstr(p[0].metadata, "meta");
        cr_assert_eq(p[0].err, KERR_NONE);
        cr_assert_eq(p[1].partition, 1);
        cr_assert_eq(p[1].offset, 200);
        cr_assert_eq(p[1].leader_epoch, v >= 6 ? 4 : -1);
        cr_assert_eq(p[1].commit_ts, -1);
        assert_kstr(p[1].metadata, NULL);
        assert_kstr(r.topics[1].name, "t2");
        cr_assert_eq(r.topics[1].part_count, 0);

        /* the answer mirrors the request, with the errors the handler set */
        r.topics[0].parts[1].err = KERR_OFFSET_METADATA_TOO_LARGE;
        struct kbuf b;
        kbuf_init(&b);
        gcodec_commit_resp_encode(&b, v, 11, &r);
        tb_init(&t, v >= 8);
        if (v >= 3)
            tb_i32(&t, 11);
        tb_arr(&t, 2);
        tb_str(&t, "t1");
        tb_arr(&t, 2);
        tb_i32(&t, 0);
        tb_i16(&t, 0);
        tb_tags(&t);
        tb_i32(&t, 1);
        tb_i16(&t, KERR_OFFSET_METADATA_TOO_LARGE);
        tb_tags(&t);
        tb_tags(&t);
        tb_str(&t, "t2");
        tb_arr(&t, 0);
        tb_tags(&t);
        tb_tags(&t);
        assert_out(&b, &t, "OffsetCommit", v);
        kbuf_destroy(&b);
        gcodec_commit_req_free(&r);
    }
}

Test(group_codec, offset_commit_literal_v2)
{
    static const uint8_t req[] = {
        0,    1,    'g',                                /* group_id */
        0xff, 0xff, 0xff, 0xff,                         /* generation -1 */
        0,    0,                                        /* member_id "" */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* retention -1 */
        0,    0,    0,    1,    0,    1,    'T',        /* one topic "T" */
        0,    0,    0,    1,    0,    0,    0,    2,    /* one partition: 2 */
        0,    0,    0,    0,    0,    0,    1,    0,    /* offset 256 */
        0,    0,                                        /* metadata "" */
    };
    struct kslice s;
    struct gcodec_commit_req r;
    kslice_init(&s, req, sizeof req);
    cr_assert(gcodec_commit_req_decode(&s, 2, &r));
    cr_assert_eq(r.generation, -1);
    assert_kstr(r.member_id, "");
    cr_assert_eq(r.retention_time_ms, -1);
    assert_kstr(r.topics[0].name, "T");
    cr_assert_eq(r.topics[0].parts[0].partition, 2);
    cr_assert_eq(r.topics[0].parts[0].offset, 256);
    assert_kstr(r.topics[0].parts[0].metadata, "");
    struct kbuf b;
    kbuf_init(&b);
    gcodec_commit_resp_encode(&b, 2, 0, &r);
    static const uint8_t resp[] = {0, 0, 0, 1, 0, 1, 'T', 0, 0, 0, 1, 0, 0, 0, 2, 0, 0};
    assert_out_raw(&b, resp, sizeof resp);
    kbuf_destroy(&b);
    gcodec_commit_req_free(&r);
}

Test(group_codec, offset_commit_malformed)
{
    for (int v = 0; v <= 8; v++) {
        struct tb t;
        build_commit_req(&t, v);
        ASSERT_TRUNCATIONS_FAIL(t.b, t.n, struct gcodec_commit_req, gcodec_commit_req_decode,
                                gcodec_commit_req_free, v);
    }
    struct tb t;
    struct kslice s;
    struct gcodec_commit_req r;
    tb_init(&t, false); /* v0 with a null topic array */
    tb_str(&t, "g");
    tb_i32(&t, -1);
    tb_slice(&t, &s);
    cr_assert_not(gcodec_commit_req_decode(&s, 0, &r));
    tb_init(&t, false); /* v0 claiming 1000 partitions in a few bytes */
    tb_str(&t, "g");
    tb_i32(&t, 1);
    tb_str(&t, "t");
    tb_i32(&t, 1000);
    tb_i32(&t, 0);
    tb_slice(&t, &s);
    cr_assert_not(gcodec_commit_req_decode(&s, 0, &r));
    tb_init(&t, false); /* v1 with a null member id */
    tb_str(&t, "g");
    tb_i32(&t, 1);
    tb_str(&t, NULL);
    tb_i32(&t, 0);
    tb_slice(&t, &s);
    cr_assert_not(gcodec_commit_req_decode(&s, 1, &r));
}

/* ---------------------------------------------------------------- OffsetFetch */

static void build_fetch_req(struct tb *t, int v, bool null_topics)
{
    tb_init(t, v >= 6);
    if (v <= 7) {
        tb_str(t, "g");
        if (null_topics) {
            tb_arr(t, -1);
        } else {
            tb_arr(t, 1);
            tb_str(t, "t");
            tb_arr(t, 2);
            tb_i32(t, 0);
            tb_i32(t, 5);
            tb_tags_unknown(t);
        }
    } else {
        tb_arr(t, 2);
        tb_str(t, "g1");
        tb_arr(t, 1);
        tb_str(t, "t");
        tb_arr(t, 1);
        tb_i32(t, 3);
        tb_tags(t);
        tb_tags_unknown(t);
        tb_str(t, "g2");
        tb_arr(t, -1);
        tb_tags(t);
    }
    if (v >= 7)
        tb_u8(t, 1);
    tb_tags_unknown(t);
}

Test(group_codec, offset_fetch_request_every_version)
{
    for (int v = 0; v <= 8; v++) {
        struct tb t;
        struct kslice s;
        struct gcodec_fetch_req r;
        build_fetch_req(&t, v, false);
        tb_slice(&t, &s);
        cr_assert(gcodec_fetch_req_decode(&s, v, &r), "v%d", v);
        cr_assert_eq(s.pos, t.n);
        cr_assert_eq(r.require_stable, v >= 7);
        if (v <= 7) {
            cr_assert_eq(r.group_count, 1);
            const struct gcodec_fetch_req_group *g = &r.groups[0];
            assert_kstr(g->group_id, "g");
            cr_assert_not(g->all_topics);
            cr_assert_eq(g->topic_count, 1);
            assert_kstr(g->topics[0].name, "t");
            cr_assert_eq(g->topics[0].part_count, 2);
            cr_assert_eq(g->topics[0].partitions[0], 0);
            cr_assert_eq(g->topics[0].partitions[1], 5);
        } else {
            cr_assert_eq(r.group_count, 2);
            assert_kstr(r.groups[0].group_id, "g1");
            cr_assert_not(r.groups[0].all_topics);
            cr_assert_eq(r.groups[0].topic_count, 1);
            assert_kstr(r.groups[0].topics[0].name, "t");
            cr_assert_eq(r.groups[0].topics[0].part_count, 1);
            cr_assert_eq(r.groups[0].topics[0].partitions[0], 3);
            assert_kstr(r.groups[1].group_id, "g2");
            cr_assert(r.groups[1].all_topics);
            cr_assert_eq(r.groups[1].topic_count, 0);
        }
        gcodec_fetch_req_free(&r);
        ASSERT_TRUNCATIONS_FAIL(t.b, t.n, struct gcodec_fetch_req, gcodec_fetch_req_decode,
                                gcodec_fetch_req_free, v);

        /* null topics: every topic from v2, refused before */
        if (v <= 7) {
            build_fetch_req(&t, v, true);
            tb_slice(&t, &s);
            bool ok = gcodec_fetch_req_decode(&s, v, &r);
            cr_assert_eq(ok, v >= 2, "v%d null topics", v);
            if (ok) {
                cr_assert(r.groups[0].all_topics);
                assert_kstr(r.groups[0].group_id, "g");
            }
            gcodec_fetch_req_free(&r);
        }
    }
}

Test(group_codec, offset_fetch_literal_v1)
{
    static const uint8_t req[] = {0, 2, 'g', 'g', 0, 0, 0, 1, 0, 1, 'x', 0,
                                  0, 0, 2,   0,   0, 0, 4, 0, 0, 0, 9};
    struct kslice s;
    struct gcodec_fetch_req r;
    kslice_init(&s, req, sizeof req);
    cr_assert(gcodec_fetch_req_decode(&s, 1, &r));
    assert_kstr(r.groups[0].group_id, "gg");
    assert_kstr(r.groups[0].topics[0].name, "x");
    cr_assert_eq(r.groups[0].topics[0].partitions[0], 4);
    cr_assert_eq(r.groups[0].topics[0].partitions[1], 9);
    gcodec_fetch_req_free(&r);

    struct gcodec_fetch_part p = {4, 77, 1, NULL, KERR_NONE};
    struct gcodec_fetch_topic tp = {"x", &p, 1};
    struct gcodec_fetch_group g = {NULL, &tp, 1, KERR_NONE};
    struct kbuf b;
    kbuf_init(&b);
    gcodec_fetch_resp_encode(&b, 1, 0, &g, 1);
    static const uint8_t resp[] = {0, 0, 0, 1, 0, 1, 'x', 0, 0,  0,    1,    0, 0, 0,
                                   4, 0, 0, 0, 0, 0, 0,   0, 77, 0xff, 0xff, 0, 0};
    assert_out_raw(&b, resp, sizeof resp);
    kbuf_destroy(&b);
}

static void tb_fetch_topic(struct tb *t, int v)
{
    tb_arr(t, 1);
    tb_str(t, "t");
    tb_arr(t, 2);
    tb_i32(t, 0);
    tb_i64(t, 10);
    if (v >= 5)
        tb_i32(t, 2);
    tb_str(t, "md");
    tb_i16(t, 0);
    tb_tags(t);
    tb_i32(t, 5);
    tb_i64(t, -1);
    if (v >= 5)
        tb_i32(t, -1);
    tb_str(t, NULL);
    tb_i16(t, KERR_UNKNOWN_TOPIC_OR_PARTITION);
    tb_tags(t);
    tb_tags(t);
}

Test(group_codec, offset_fetch_response_every_version)
{
    struct gcodec_fetch_part ps[2] = {
        {0, 10, 2, "md", KERR_NONE},
        {5, -1, -1, NULL, KERR_UNKNOWN_TOPIC_OR_PARTITION},
    };
    struct gcodec_fetch_topic tp = {"t", ps, 2};
    struct gcodec_fetch_group gs[2] = {
        {"g1", &tp, 1, KERR_NONE},
        {"g2", NULL, 0, KERR_COORDINATOR_LOAD_IN_PROGRESS},
    };
    for (int v = 0; v <= 8; v++) {
        struct tb t;
        struct kbuf b;
        kbuf_init(&b);
        tb_init(&t, v >= 6);
        if (v >= 3)
            tb_i32(&t, 6);
        if (v <= 7) {
            struct gcodec_fetch_group one = gs[0];
            one.err = KERR_NOT_COORDINATOR;
            gcodec_fetch_resp_encode(&b, v, 6, &one, 1);
            tb_fetch_topic(&t, v);
            if (v >= 2)
                tb_i16(&t, KERR_NOT_COORDINATOR);
        } else {
            gcodec_fetch_resp_encode(&b, v, 6, gs, 2);
            tb_arr(&t, 2);
            tb_str(&t, "g1");
            tb_fetch_topic(&t, v);
            tb_i16(&t, 0);
            tb_tags(&t);
            tb_str(&t, "g2");
            tb_arr(&t, 0);
            tb_i16(&t, KERR_COORDINATOR_LOAD_IN_PROGRESS);
            tb_tags(&t);
        }
        tb_tags(&t);
        assert_out(&b, &t, "OffsetFetch", v);
        kbuf_destroy(&b);
    }
}

/* ---------------------------------------------------------------- OffsetDelete */

Test(group_codec, offset_delete_v0)
{
    static const uint8_t req[] = {
        0, 2, 'g', '1',                                  /* group_id */
        0, 0, 0,   2,                                    /* two topics */
        0, 1, 'a', 0,   0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3, /* "a": 0, 3 */
        0, 1, 'b', 0,   0, 0, 0,                         /* "b": none */
    };
    struct kslice s;
    struct gcodec_odel_req r;
    kslice_init(&s, req, sizeof req);
    cr_assert(gcodec_odel_req_decode(&s, 0, &r));
    cr_assert_eq(s.pos, sizeof req);
    assert_kstr(r.group_id, "g1");
    cr_assert_eq(r.topic_count, 2);
    assert_kstr(r.topics[0].name, "a");
    cr_assert_eq(r.topics[0].part_count, 2);
    cr_assert_eq(r.topics[0].parts[0].partition, 0);
    cr_assert_eq(r.topics[0].parts[1].partition, 3);
    assert_kstr(r.topics[1].name, "b");
    cr_assert_eq(r.topics[1].part_count, 0);

    r.topics[0].parts[1].err = KERR_GROUP_SUBSCRIBED_TO_TOPIC;
    struct kbuf b;
    kbuf_init(&b);
    gcodec_odel_resp_encode(&b, 0, 2, KERR_NONE, &r);
    static const uint8_t resp[] = {
        0, 0, 0,   0, 0, 2, /* error_code, throttle 2 */
        0, 0, 0,   2,       /* two topics */
        0, 1, 'a', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 86, 0, 1, 'b', 0, 0, 0, 0,
    };
    assert_out_raw(&b, resp, sizeof resp);
    kbuf_reset(&b);
    gcodec_odel_resp_encode(&b, 0, 0, KERR_GROUP_ID_NOT_FOUND, NULL);
    static const uint8_t err[] = {0, 69, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_out_raw(&b, err, sizeof err);
    kbuf_destroy(&b);
    gcodec_odel_req_free(&r);

    ASSERT_TRUNCATIONS_FAIL(req, sizeof req, struct gcodec_odel_req, gcodec_odel_req_decode,
                            gcodec_odel_req_free, 0);
    static const uint8_t neg[] = {0, 1, 'g', 0, 0, 0, 1, 0, 1, 'a', 0xff, 0xff, 0xff, 0xff};
    kslice_init(&s, neg, sizeof neg);
    cr_assert_not(gcodec_odel_req_decode(&s, 0, &r));
    static const uint8_t null_name[] = {0, 1, 'g', 0, 0, 0, 1, 0xff, 0xff, 0, 0, 0, 0};
    kslice_init(&s, null_name, sizeof null_name);
    cr_assert_not(gcodec_odel_req_decode(&s, 0, &r));
}

Test(group_codec, offset_fetch_unstable_offset_commit_v7)
{
    /* require_stable and a commit not yet replicated: offset -1, error 88 on the partition,
     * NONE at the top (Kafka's ZooKeeper-mode coordinator) */
    struct gcodec_fetch_part p = {4, -1, -1, "", KERR_UNSTABLE_OFFSET_COMMIT};
    struct gcodec_fetch_topic tp = {"x", &p, 1};
    struct gcodec_fetch_group g = {"g", &tp, 1, KERR_NONE};
    struct kbuf b;
    kbuf_init(&b);
    gcodec_fetch_resp_encode(&b, 7, 0, &g, 1);
    static const uint8_t resp[] = {
        0,    0,    0,    0,                            /* throttle */
        2,    2,    'x',  2,                            /* topics [x], partitions [1] */
        0,    0,    0,    4,                            /* partition 4 */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* offset -1 */
        0xff, 0xff, 0xff, 0xff,                         /* leader epoch -1 */
        1,    0,    88,   0,  /* metadata "", UNSTABLE_OFFSET_COMMIT, tags */
        0,    0,    0,    0}; /* topic tags, group error NONE, tags */
    assert_out_raw(&b, resp, sizeof resp);
    kbuf_destroy(&b);
    cr_assert_str_eq(kerr_name(KERR_UNSTABLE_OFFSET_COMMIT), "UNSTABLE_OFFSET_COMMIT");
}
