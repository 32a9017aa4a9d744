/*
 * tests/unit/broker/test_group_codec_member.c — FindCoordinator, JoinGroup, SyncGroup,
 * Heartbeat and LeaveGroup codecs (broker/kafka/group_codec_member.c), every version: requests
 * written field by field (and some byte by byte) decoded and checked field by field, unknown
 * tagged fields skipped, responses compared with hand-written bytes, malformed and truncated
 * requests refused.
 */
#include "group_codec_test.h"

#include "common/api_keys.h"

static const int ERR_NA = KERR_COORDINATOR_NOT_AVAILABLE;

/* ---------------------------------------------------------------- FindCoordinator */

static void build_find_req(struct tb *t, int v)
{
    tb_init(t, v >= 3);
    if (v <= 3) {
        tb_str(t, "grp1");
        if (v >= 1)
            tb_u8(t, 1);
    } else {
        tb_u8(t, 0);
        tb_arr(t, 2);
        tb_str(t, "a");
        tb_str(t, "bb");
    }
    tb_tags_unknown(t);
}

Test(group_codec, find_coordinator_request_every_version)
{
    for (int v = 0; v <= 4; v++) {
        struct tb t;
        struct kslice s;
        struct gcodec_find_coord_req r;
        build_find_req(&t, v);
        tb_slice(&t, &s);
        cr_assert(gcodec_find_coord_req_decode(&s, v, &r), "v%d", v);
        cr_assert_eq(s.pos, t.n, "v%d: the whole body is read", v);
        if (v <= 3) {
            cr_assert_eq(r.key_count, 1);
            assert_kstr(r.keys[0], "grp1");
            cr_assert_eq(r.key_type, v >= 1 ? 1 : 0);
        } else {
            cr_assert_eq(r.key_type, 0);
            cr_assert_eq(r.key_count, 2);
            assert_kstr(r.keys[0], "a");
            assert_kstr(r.keys[1], "bb");
        }
        gcodec_find_coord_req_free(&r);
        cr_assert_null(r.keys);
    }
}

Test(group_codec, find_coordinator_literal_bytes)
{
    static const uint8_t v0[] = {0x00, 0x02, 'g', '1'};
    static const uint8_t v4[] = {0x01, 0x03, 0x02, 'x', 0x03, 'y', 'z', 0x00};
    struct kslice s;
    struct gcodec_find_coord_req r;
    kslice_init(&s, v0, sizeof v0);
    cr_assert(gcodec_find_coord_req_decode(&s, 0, &r));
    assert_kstr(r.keys[0], "g1");
    gcodec_find_coord_req_free(&r);
    kslice_init(&s, v4, sizeof v4);
    cr_assert(gcodec_find_coord_req_decode(&s, 4, &r));
    cr_assert_eq(r.key_type, 1);
    cr_assert_eq(r.key_count, 2);
    assert_kstr(r.keys[0], "x");
    assert_kstr(r.keys[1], "yz");
    gcodec_find_coord_req_free(&r);

    struct gcodec_coordinator c = {NULL, 2, "h", 9092, KERR_NONE, NULL};
    struct kbuf b;
    kbuf_init(&b);
    gcodec_find_coord_resp_encode(&b, 0, 0, &c, 1);
    static const uint8_t r0[] = {0, 0, 0, 0, 0, 2, 0, 1, 'h', 0, 0, 0x23, 0x84};
    assert_out_raw(&b, r0, sizeof r0);
    kbuf_reset(&b);
    gcodec_find_coord_resp_encode(&b, 3, 7, &c, 1);
    static const uint8_t r3[] = {0, 0, 0,    7,   0, 0, 0x00, 0,    0,
                                 0, 2, 0x02, 'h', 0, 0, 0x23, 0x84, 0};
    assert_out_raw(&b, r3, sizeof r3);
    kbuf_destroy(&b);
}

Test(group_codec, find_coordinator_response_every_version)
{
    struct gcodec_coordinator cs[2] = {
        {"a", 1, "host-a", 9092, KERR_NONE, NULL},
        {"bb", -1, "", -1, KERR_COORDINATOR_NOT_AVAILABLE, "no offsets topic"},
    };
    for (int v = 0; v <= 4; v++) {
        struct tb t;
        struct kbuf b;
        kbuf_init(&b);
        tb_init(&t, v >= 3);
        if (v >= 1)
            tb_i32(&t, 25);
        if (v <= 3) {
            gcodec_find_coord_resp_encode(&b, v, 25, &cs[1], 1);
            tb_i16(&t, (int16_t)ERR_NA);
            if (v >= 1)
                tb_str(&t, "no offsets topic");
            tb_i32(&t, -1);
            tb_str(&t, "");
            tb_i32(&t, -1);
        } else {
            gcodec_find_coord_resp_encode(&b, v, 25, cs, 2);
            tb_arr(&t, 2);
            tb_str(&t, "a");
            tb_i32(&t, 1);
            tb_str(&t, "host-a");
            tb_i32(&t, 9092);
            tb_i16(&t, 0);
            tb_str(&t, NULL);
            tb_tags(&t);
            tb_str(&t, "bb");
            tb_i32(&t, -1);
            tb_str(&t, "");
            tb_i32(&t, -1);
            tb_i16(&t, (int16_t)ERR_NA);
            tb_str(&t, "no offsets topic");
            tb_tags(&t);
        }
        tb_tags(&t);
        assert_out(&b, &t, "FindCoordinator", v);
        kbuf_destroy(&b);
    }
}

Test(group_codec, find_coordinator_malformed)
{
    struct gcodec_find_coord_req r;
    struct kslice s;
    static const uint8_t null_key[] = {0xff, 0xff};
    kslice_init(&s, null_key, sizeof null_key);
    cr_assert_not(gcodec_find_coord_req_decode(&s, 0, &r));
    static const uint8_t null_keys[] = {0x00, 0x00, 0x00}; /* v4: null coordinator_keys */
    kslice_init(&s, null_keys, sizeof null_keys);
    cr_assert_not(gcodec_find_coord_req_decode(&s, 4, &r));
    static const uint8_t too_many[] = {0x00, 0x65, 0x01, 0x01, 0x00}; /* 100 keys, 3 bytes */
    kslice_init(&s, too_many, sizeof too_many);
    cr_assert_not(gcodec_find_coord_req_decode(&s, 4, &r));
    static const uint8_t bad_tags[] = {0x00, 0x01, 0x01, 0x07, 0x09, 0x00}; /* tag size 9 */
    kslice_init(&s, bad_tags, sizeof bad_tags);
    cr_assert_not(gcodec_find_coord_req_decode(&s, 4, &r));
    for (int v = 0; v <= 4; v++) {
        struct tb t;
        build_find_req(&t, v);
        ASSERT_TRUNCATIONS_FAIL(t.b, t.n, struct gcodec_find_coord_req,
                                gcodec_find_coord_req_decode, gcodec_find_coord_req_free, v);
    }
}

/* ---------------------------------------------------------------- JoinGroup */

static const char *join_instance(int v) { return v >= 6 ? "i-1" : NULL; }

static void build_join_req(struct tb *t, int v, bool null_metadata)
{
    tb_init(t, v >= 6);
    tb_str(t, "g");
    tb_i32(t, 30000);
    if (v >= 1)
        tb_i32(t, 60000);
    tb_str(t, "");
    if (v >= 5)
        tb_str(t, join_instance(v));
    tb_str(t, "consumer");
    tb_arr(t, 2);
    tb_str(t, "range");
    tb_bytes(t, "\x00\x01", 2);
    tb_tags_unknown(t);
    tb_str(t, "rr");
    if (null_metadata)
        tb_bytes(t, NULL, -1);
    else
        tb_bytes(t, "", 0);
    tb_tags(t);
    tb_tags_unknown(t);
}

Test(group_codec, join_request_every_version)
{
    for (int v = 0; v <= 7; v++) {
        struct tb t;
        struct kslice s;
        struct gcodec_join_req r;
        build_join_req(&t, v, false);
        tb_slice(&t, &s);
        cr_assert(gcodec_join_req_decode(&s, v, &r), "v%d", v);
        cr_assert_eq(s.pos, t.n);
        assert_kstr(r.group_id, "g");
        cr_assert_eq(r.session_timeout_ms, 30000);
        cr_assert_eq(r.rebalance_timeout_ms, v >= 1 ? 60000 : 30000, "v%d", v);
        assert_kstr(r.member_id, "");
        assert_kstr(r.instance_id, join_instance(v));
        assert_kstr(r.protocol_type, "consumer");
        cr_assert_eq(r.protocol_count, 2);
        assert_kstr(r.protocols[0].name, "range");
        cr_assert_eq(r.protocols[0].metadata_len, 2);
        cr_assert_eq(r.protocols[0].metadata[0], 0x00);
        cr_assert_eq(r.protocols[0].metadata[1], 0x01);
        assert_kstr(r.protocols[1].name, "rr");
        cr_assert_eq(r.protocols[1].metadata_len, 0);
        cr_assert_not_null(r.protocols[1].metadata);
        gcodec_join_req_free(&r);
    }
}

Test(group_codec, join_request_literal_v6)
{
    static const uint8_t req[] = {
        0x02, 'g',                                                /* group_id */
        0x00, 0x00, 0x27, 0x10,                                   /* session 10000 */
        0x00, 0x00, 0x75, 0x30,                                   /* rebalance 30000 */
        0x01,                                                     /* member_id "" */
        0x00,                                                     /* group_instance_id null */
        0x09, 'c',  'o',  'n',  's', 'u', 'm',  'e',  'r',  0x02, /* one protocol */
        0x06, 'r',  'a',  'n',  'g', 'e', 0x02, 0xee, 0x00,       /* name, metadata, tags */
        0x00,                                                     /* tags */
    };
    struct kslice s;
    struct gcodec_join_req r;
    kslice_init(&s, req, sizeof req);
    cr_assert(gcodec_join_req_decode(&s, 6, &r));
    cr_assert_eq(r.session_timeout_ms, 10000);
    cr_assert_eq(r.rebalance_timeout_ms, 30000);
    assert_kstr(r.instance_id, NULL);
    cr_assert_eq(r.protocol_count, 1);
    assert_kstr(r.protocols[0].name, "range");
    assert_mem(r.protocols[0].metadata, r.protocols[0].metadata_len, "\xee");
    gcodec_join_req_free(&r);
}

Test(group_codec, join_request_malformed)
{
    for (int v = 0; v <= 7; v++) {
        struct tb t;
        struct kslice s;
        struct gcodec_join_req r;
        build_join_req(&t, v, true);
        tb_slice(&t, &s);
        cr_assert_not(gcodec_join_req_decode(&s, v, &r), "v%d: null metadata accepted", v);
        build_join_req(&t, v, false);
        ASSERT_TRUNCATIONS_FAIL(t.b, t.n, struct gcodec_join_req, gcodec_join_req_decode,
                                gcodec_join_req_free, v);
    }
    struct tb t;
    struct kslice s;
    struct gcodec_join_req r;
    tb_init(&t, false); /* v1 with a negative protocol count */
    tb_str(&t, "g");
    tb_i32(&t, 1);
    tb_i32(&t, 1);
    tb_str(&t, "m");
    tb_str(&t, "consumer");
    tb_i32(&t, -2);
    tb_slice(&t, &s);
    cr_assert_not(gcodec_join_req_decode(&s, 1, &r));
    tb_init(&t, false); /* v1 with a null protocol type */
    tb_str(&t, "g");
    tb_i32(&t, 1);
    tb_i32(&t, 1);
    tb_str(&t, "m");
    tb_str(&t, NULL);
    tb_i32(&t, 0);
    tb_slice(&t, &s);
    cr_assert_not(gcodec_join_req_decode(&s, 1, &r));
}

Test(group_codec, join_response_every_version)
{
    struct group_join_member ms[2] = {
        {"m1", NULL, (const uint8_t *)"ab", 2},
        {"m2", "i2", (const uint8_t *)"", 0},
    };
    struct group_join_result ok = {KERR_NONE, "m1", 5, "consumer", "range", "m1", ms, 2};
    struct group_join_result bad = {KERR_UNKNOWN_MEMBER_ID, "", -1, NULL, NULL, NULL, NULL, 0};
    for (int v = 0; v <= 7; v++) {
        struct tb t;
        struct kbuf b;
        kbuf_init(&b);
        gcodec_join_resp_encode(&b, v, 3, &ok);
        tb_init(&t, v >= 6);
        if (v >= 2)
            tb_i32(&t, 3);
        tb_i16(&t, 0);
        tb_i32(&t, 5);
        if (v >= 7)
            tb_str(&t, "consumer");
        tb_str(&t, "range");
        tb_str(&t, "m1");
        tb_str(&t, "m1");
        tb_arr(&t, 2);
        tb_str(&t, "m1");
        if (v >= 5)
            tb_str(&t, NULL);
        tb_bytes(&t, "ab", 2);
        tb_tags(&t);
        tb_str(&t, "m2");
        if (v >= 5)
            tb_str(&t, "i2");
        tb_bytes(&t, "", 0);
        tb_tags(&t);
        tb_tags(&t);
        assert_out(&b, &t, "JoinGroup ok", v);

        kbuf_reset(&b);
        gcodec_join_resp_encode(&b, v, 0, &bad);
        tb_init(&t, v >= 6);
        if (v >= 2)
            tb_i32(&t, 0);
        tb_i16(&t, KERR_UNKNOWN_MEMBER_ID);
        tb_i32(&t, -1);
        if (v >= 7)
            tb_str(&t, NULL);
        tb_str(&t, v >= 7 ? NULL : "");
        tb_str(&t, "");
        tb_str(&t, "");
        tb_arr(&t, 0);
        tb_tags(&t);
        assert_out(&b, &t, "JoinGroup error", v);
        kbuf_destroy(&b);
    }
    /* v0 error answer, byte by byte */
    struct kbuf b;
    kbuf_init(&b);
    gcodec_join_resp_encode(&b, 0, 0, &bad);
    static const uint8_t v0[] = {0x00, 0x19, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_out_raw(&b, v0, sizeof v0);
    kbuf_destroy(&b);
}

/* ---------------------------------------------------------------- SyncGroup */

static void build_sync_req(struct tb *t, int v)
{
    tb_init(t, v >= 4);
    tb_str(t, "g");
    tb_i32(t, 3);
    tb_str(t, "m1");
    if (v >= 3)
        tb_str(t, v == 3 ? NULL : "inst");
    if (v >= 5) {
        tb_str(t, "consumer");
        tb_str(t, NULL);
    }
    tb_arr(t, 2);
    tb_str(t, "m1");
    tb_bytes(t, "A", 1);
    tb_tags_unknown(t);
    tb_str(t, "m2");
    tb_bytes(t, "", 0);
    tb_tags(t);
    tb_tags_unknown(t);
}

Test(group_codec, sync_request_every_version)
{
    for (int v = 0; v <= 5; v++) {
        struct tb t;
        struct kslice s;
        struct gcodec_sync_req r;
        build_sync_req(&t, v);
        tb_slice(&t, &s);
        cr_assert(gcodec_sync_req_decode(&s, v, &r), "v%d", v);
        cr_assert_eq(s.pos, t.n);
        assert_kstr(r.group_id, "g");
        cr_assert_eq(r.generation, 3);
        assert_kstr(r.member_id, "m1");
        assert_kstr(r.instance_id, v >= 4 ? "inst" : NULL);
        assert_kstr(r.protocol_type, v >= 5 ? "consumer" : NULL);
        assert_kstr(r.protocol_name, NULL);
        cr_assert_eq(r.assignment_count, 2);
        assert_kstr(r.assignments[0].member_id, "m1");
        assert_mem(r.assignments[0].data, r.assignments[0].len, "A");
        assert_kstr(r.assignments[1].member_id, "m2");
        cr_assert_eq(r.assignments[1].len, 0);
        gcodec_sync_req_free(&r);
        ASSERT_TRUNCATIONS_FAIL(t.b, t.n, struct gcodec_sync_req, gcodec_sync_req_decode,
                                gcodec_sync_req_free, v);
    }
}

Test(group_codec, sync_request_follower_literal_v0)
{
    static const uint8_t req[] = {0, 1, 'g', 0, 0, 0, 9, 0, 2, 'm', '2', 0, 0, 0, 0};
    struct kslice s;
    struct gcodec_sync_req r;
    kslice_init(&s, req, sizeof req);
    cr_assert(gcodec_sync_req_decode(&s, 0, &r));
    cr_assert_eq(r.generation, 9);
    assert_kstr(r.member_id, "m2");
    cr_assert_eq(r.assignment_count, 0);
    gcodec_sync_req_free(&r);
    static const uint8_t nullbytes[] = {0, 1, 'g', 0, 0, 0, 9,   0,    2,    'm',  '2',
                                        0, 0, 0,   1, 0, 1, 'x', 0xff, 0xff, 0xff, 0xff};
    kslice_init(&s, nullbytes, sizeof nullbytes);
    cr_assert_not(gcodec_sync_req_decode(&s, 0, &r));
}

Test(group_codec, sync_response_every_version)
{
    struct group_sync_result ok = {KERR_NONE, "consumer", "range", (const uint8_t *)"xyz", 3};
    struct group_sync_result bad = {KERR_REBALANCE_IN_PROGRESS, NULL, NULL, NULL, 0};
    for (int v = 0; v <= 5; v++) {
        struct tb t;
        struct kbuf b;
        kbuf_init(&b);
        gcodec_sync_resp_encode(&b, v, 1, &ok);
        tb_init(&t, v >= 4);
        if (v >= 1)
            tb_i32(&t, 1);
        tb_i16(&t, 0);
        if (v >= 5) {
            tb_str(&t, "consumer");
            tb_str(&t, "range");
        }
        tb_bytes(&t, "xyz", 3);
        tb_tags(&t);
        assert_out(&b, &t, "SyncGroup ok", v);
        kbuf_reset(&b);
        gcodec_sync_resp_encode(&b, v, 1, &bad);
        tb_init(&t, v >= 4);
        if (v >= 1)
            tb_i32(&t, 1);
        tb_i16(&t, KERR_REBALANCE_IN_PROGRESS);
        if (v >= 5) {
            tb_str(&t, NULL);
            tb_str(&t, NULL);
        }
        tb_bytes(&t, "", 0);
        tb_tags(&t);
        assert_out(&b, &t, "SyncGroup error", v);
        kbuf_destroy(&b);
    }
    struct kbuf b;
    kbuf_init(&b);
    gcodec_sync_resp_encode(&b, 5, 0, &bad);
    static const uint8_t v5[] = {0, 0, 0, 0, 0, 27, 0x00, 0x00, 0x01, 0x00};
    assert_out_raw(&b, v5, sizeof v5);
    kbuf_destroy(&b);
}

/* ---------------------------------------------------------------- Heartbeat */

static void heartbeat_free(struct gcodec_heartbeat_req *r) { (void)r; }

Test(group_codec, heartbeat_every_version)
{
    for (int v = 0; v <= 4; v++) {
        struct tb t;
        struct kslice s;
        struct gcodec_heartbeat_req r;
        tb_init(&t, v >= 4);
        tb_str(&t, "grp");
        tb_i32(&t, 42);
        tb_str(&t, "mem");
        if (v >= 3)
            tb_str(&t, "st");
        tb_tags_unknown(&t);
        tb_slice(&t, &s);
        cr_assert(gcodec_heartbeat_req_decode(&s, v, &r), "v%d", v);
        cr_assert_eq(s.pos, t.n);
        assert_kstr(r.group_id, "grp");
        cr_assert_eq(r.generation, 42);
        assert_kstr(r.member_id, "mem");
        assert_kstr(r.instance_id, v >= 3 ? "st" : NULL);
        ASSERT_TRUNCATIONS_FAIL(t.b, t.n, struct gcodec_heartbeat_req, gcodec_heartbeat_req_decode,
                                heartbeat_free, v);

        struct kbuf b;
        kbuf_init(&b);
        gcodec_heartbeat_resp_encode(&b, v, 9, KERR_ILLEGAL_GENERATION);
        tb_init(&t, v >= 4);
        if (v >= 1)
            tb_i32(&t, 9);
        tb_i16(&t, KERR_ILLEGAL_GENERATION);
        tb_tags(&t);
        assert_out(&b, &t, "Heartbeat", v);
        kbuf_destroy(&b);
    }
    struct kbuf b;
    kbuf_init(&b);
    gcodec_heartbeat_resp_encode(&b, 4, 0, KERR__NOENT); /* internal codes are mapped */
    cr_assert_eq(b.len, 7);
    cr_assert_eq((int16_t)((b.data[4] << 8) | b.data[5]), (int16_t)kerr_to_wire(KERR__NOENT));
    cr_assert_geq((int16_t)((b.data[4] << 8) | b.data[5]), -1);
    kbuf_destroy(&b);
    static const uint8_t nullmember[] = {0, 1, 'g', 0, 0, 0, 1, 0xff, 0xff};
    struct kslice s;
    struct gcodec_heartbeat_req r;
    kslice_init(&s, nullmember, sizeof nullmember);
    cr_assert_not(gcodec_heartbeat_req_decode(&s, 0, &r));
}

/* ---------------------------------------------------------------- LeaveGroup */

static void build_leave_req(struct tb *t, int v)
{
    tb_init(t, v >= 4);
    tb_str(t, "g");
    if (v <= 2) {
        tb_str(t, "m1");
    } else {
        tb_arr(t, 2);
        tb_str(t, "m1");
        tb_str(t, NULL);
        tb_tags_unknown(t);
        tb_str(t, "");
        tb_str(t, "inst");
        tb_tags(t);
    }
    tb_tags_unknown(t);
}

Test(group_codec, leave_request_every_version)
{
    for (int v = 0; v <= 4; v++) {
        struct tb t;
        struct kslice s;
        struct gcodec_leave_req r;
        build_leave_req(&t, v);
        tb_slice(&t, &s);
        cr_assert(gcodec_leave_req_decode(&s, v, &r), "v%d", v);
        cr_assert_eq(s.pos, t.n);
        assert_kstr(r.group_id, "g");
        if (v <= 2) {
            cr_assert_eq(r.member_count, 1);
            assert_kstr(r.members[0].member_id, "m1");
            assert_kstr(r.members[0].instance_id, NULL);
        } else {
            cr_assert_eq(r.member_count, 2);
            assert_kstr(r.members[0].member_id, "m1");
            assert_kstr(r.members[0].instance_id, NULL);
            assert_kstr(r.members[1].member_id, "");
            assert_kstr(r.members[1].instance_id, "inst");
        }
        gcodec_leave_req_free(&r);
        ASSERT_TRUNCATIONS_FAIL(t.b, t.n, struct gcodec_leave_req, gcodec_leave_req_decode,
                                gcodec_leave_req_free, v);
    }
    static const uint8_t neg[] = {0, 1, 'g', 0xff, 0xff, 0xff, 0xfe}; /* v3, count -2 */
    struct kslice s;
    struct gcodec_leave_req r;
    kslice_init(&s, neg, sizeof neg);
    cr_assert_not(gcodec_leave_req_decode(&s, 3, &r));
    static const uint8_t null_members[] = {0, 1, 'g', 0xff, 0xff, 0xff, 0xff}; /* v3, null */
    kslice_init(&s, null_members, sizeof null_members);
    cr_assert_not(gcodec_leave_req_decode(&s, 3, &r));
}

Test(group_codec, leave_response_every_version)
{
    struct group_leave_member ms[2] = {
        {"m1", NULL, KERR_NONE},
        {"", "inst", KERR_UNKNOWN_MEMBER_ID},
    };
    for (int v = 0; v <= 4; v++) {
        struct tb t;
        struct kbuf b;
        kbuf_init(&b);
        gcodec_leave_resp_encode(&b, v, 4, KERR_NONE, ms, 2);
        tb_init(&t, v >= 4);
        if (v >= 1)
            tb_i32(&t, 4);
        tb_i16(&t, 0);
        if (v >= 3) {
            tb_arr(&t, 2);
            tb_str(&t, "m1");
            tb_str(&t, NULL);
            tb_i16(&t, 0);
            tb_tags(&t);
            tb_str(&t, "");
            tb_str(&t, "inst");
            tb_i16(&t, KERR_UNKNOWN_MEMBER_ID);
            tb_tags(&t);
        }
        tb_tags(&t);
        assert_out(&b, &t, "LeaveGroup", v);
        kbuf_destroy(&b);
    }
    struct kbuf b;
    kbuf_init(&b);
    gcodec_leave_resp_encode(&b, 3, 0, KERR_NOT_COORDINATOR, NULL, 0);
    static const uint8_t v3[] = {0, 0, 0, 0, 0, 16, 0, 0, 0, 0};
    assert_out_raw(&b, v3, sizeof v3);
    kbuf_destroy(&b);
}

Test(group_codec, api_keys_and_flexible_versions)
{
    cr_assert_eq(API_FIND_COORDINATOR, 10);
    cr_assert_eq(API_JOIN_GROUP, 11);
    cr_assert_eq(API_HEARTBEAT, 12);
    cr_assert_eq(API_LEAVE_GROUP, 13);
    cr_assert_eq(API_SYNC_GROUP, 14);
    cr_assert_eq(api_flex_version(API_FIND_COORDINATOR), 3);
    cr_assert_eq(api_flex_version(API_JOIN_GROUP), 6);
    cr_assert_eq(api_flex_version(API_HEARTBEAT), 4);
    cr_assert_eq(api_flex_version(API_LEAVE_GROUP), 4);
    cr_assert_eq(api_flex_version(API_SYNC_GROUP), 4);
    cr_assert_eq(api_flex_version(API_OFFSET_COMMIT), 8);
    cr_assert_eq(api_flex_version(API_OFFSET_FETCH), 6);
    cr_assert_eq(api_flex_version(API_DESCRIBE_GROUPS), 5);
    cr_assert_eq(api_flex_version(API_LIST_GROUPS), 3);
    cr_assert_eq(api_flex_version(API_DELETE_GROUPS), 2);
    cr_assert_eq(api_flex_version(API_OFFSET_DELETE), -1);
    cr_assert_str_eq(api_key_name(API_OFFSET_DELETE), "OffsetDelete");
    cr_assert_str_eq(api_key_name(API_SYNC_GROUP), "SyncGroup");
}
