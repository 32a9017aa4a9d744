/*
 * tests/unit/broker/test_group_codec_admin.c — DescribeGroups, ListGroups and DeleteGroups
 * codecs (broker/kafka/group_codec_admin.c), every version: requests written field by field
 * (and some byte by byte) decoded and checked field by field, unknown tagged fields skipped,
 * responses compared with hand-written bytes, malformed and truncated requests refused.
 */
#include "group_codec_test.h"

/* ---------------------------------------------------------------- DescribeGroups */

static void build_describe_req(struct tb *t, int v)
{
    tb_init(t, v >= 5);
    tb_arr(t, 2);
    tb_str(t, "g1");
    tb_str(t, "");
    if (v >= 3)
        tb_u8(t, 1);
    tb_tags_unknown(t);
}

Test(group_codec, describe_request_every_version)
{
    for (int v = 0; v <= 5; v++) {
        struct tb t;
        struct kslice s;
        struct gcodec_describe_req r;
        build_describe_req(&t, v);
        tb_slice(&t, &s);
        cr_assert(gcodec_describe_req_decode(&s, v, &r), "v%d", v);
        cr_assert_eq(s.pos, t.n);
        cr_assert_eq(r.group_count, 2);
        assert_kstr(r.groups[0], "g1");
        assert_kstr(r.groups[1], "");
        cr_assert_eq(r.include_authorized_operations, v >= 3);
        gcodec_describe_req_free(&r);
        ASSERT_TRUNCATIONS_FAIL(t.b, t.n, struct gcodec_describe_req, gcodec_describe_req_decode,
                                gcodec_describe_req_free, v);
    }
    static const uint8_t null_name[] = {0, 0, 0, 1, 0xff, 0xff};
    static const uint8_t null_array[] = {0xff, 0xff, 0xff, 0xff};
    struct kslice s;
    struct gcodec_describe_req r;
    kslice_init(&s, null_name, sizeof null_name);
    cr_assert_not(gcodec_describe_req_decode(&s, 0, &r));
    kslice_init(&s, null_array, sizeof null_array);
    cr_assert_not(gcodec_describe_req_decode(&s, 0, &r));
}

Test(group_codec, describe_response_every_version)
{
    struct group_member_info ms[2] = {
        {"m1", NULL, "cli", "/10.0.0.1", 10000, 30000, (const uint8_t *)"M", 1,
         (const uint8_t *)"AS", 2},
        {"m2", "st", "cli2", "/10.0.0.2", 10000, 30000, NULL, 0, NULL, 0},
    };
    struct gcodec_described_group gs[2] = {
        {KERR_NONE, "g1", "Stable", "consumer", "range", ms, 2, 0x0f},
        {KERR_NONE, "zz", "Dead", "", "", NULL, 0, INT32_MIN},
    };
    for (int v = 0; v <= 5; v++) {
        struct tb t;
        struct kbuf b;
        kbuf_init(&b);
        gcodec_describe_resp_encode(&b, v, 8, gs, 2);
        tb_init(&t, v >= 5);
        if (v >= 1)
            tb_i32(&t, 8);
        tb_arr(&t, 2);
        tb_i16(&t, 0);
        tb_str(&t, "g1");
        tb_str(&t, "Stable");
        tb_str(&t, "consumer");
        tb_str(&t, "range");
        tb_arr(&t, 2);
        tb_str(&t, "m1");
        if (v >= 4)
            tb_str(&t, NULL);
        tb_str(&t, "cli");
        tb_str(&t, "/10.0.0.1");
        tb_bytes(&t, "M", 1);
        tb_bytes(&t, "AS", 2);
        tb_tags(&t);
        tb_str(&t, "m2");
        if (v >= 4)
            tb_str(&t, "st");
        tb_str(&t, "cli2");
        tb_str(&t, "/10.0.0.2");
        tb_bytes(&t, "", 0);
        tb_bytes(&t, "", 0);
        tb_tags(&t);
        if (v >= 3)
            tb_i32(&t, 0x0f);
        tb_tags(&t);
        tb_i16(&t, 0);
        tb_str(&t, "zz");
        tb_str(&t, "Dead");
        tb_str(&t, "");
        tb_str(&t, "");
        tb_arr(&t, 0);
        if (v >= 3)
            tb_i32(&t, INT32_MIN);
        tb_tags(&t);
        tb_tags(&t);
        assert_out(&b, &t, "DescribeGroups", v);
        kbuf_destroy(&b);
    }
    struct gcodec_described_group g = {KERR_GROUP_ID_NOT_FOUND, "x", "Dead", "", "", NULL, 0, 0};
    struct kbuf b;
    kbuf_init(&b);
    gcodec_describe_resp_encode(&b, 0, 0, &g, 1);
    static const uint8_t v0[] = {0,   0,   0,   1, 0, 69, 0, 1, 'x', 0, 4, 'D',
                                 'e', 'a', 'd', 0, 0, 0,  0, 0, 0,   0, 0};
    assert_out_raw(&b, v0, sizeof v0);
    kbuf_destroy(&b);
}

/* ---------------------------------------------------------------- ListGroups */

static void list_free(struct gcodec_list_req *r) { gcodec_list_req_free(r); }

Test(group_codec, list_every_version)
{
    struct gcodec_listed_group gs[2] = {
        {"g1", "consumer", "Stable"},
        {"g2", "", "Empty"},
    };
    for (int v = 0; v <= 4; v++) {
        struct tb t;
        struct kslice s;
        struct gcodec_list_req r;
        tb_init(&t, v >= 3);
        if (v >= 4) {
            tb_arr(&t, 2);
            tb_str(&t, "Stable");
            tb_str(&t, "Empty");
        }
        tb_tags_unknown(&t);
        tb_slice(&t, &s);
        cr_assert(gcodec_list_req_decode(&s, v, &r), "v%d", v);
        cr_assert_eq(s.pos, t.n);
        if (v >= 4) {
            cr_assert_eq(r.state_count, 2);
            assert_kstr(r.states[0], "Stable");
            assert_kstr(r.states[1], "Empty");
        } else {
            cr_assert_eq(r.state_count, 0);
        }
        gcodec_list_req_free(&r);
        if (t.n > 0)
            ASSERT_TRUNCATIONS_FAIL(t.b, t.n, struct gcodec_list_req, gcodec_list_req_decode,
                                    list_free, v);

        struct kbuf b;
        kbuf_init(&b);
        gcodec_list_resp_encode(&b, v, 2, KERR_NONE, gs, 2);
        tb_init(&t, v >= 3);
        if (v >= 1)
            tb_i32(&t, 2);
        tb_i16(&t, 0);
        tb_arr(&t, 2);
        tb_str(&t, "g1");
        tb_str(&t, "consumer");
        if (v >= 4)
            tb_str(&t, "Stable");
        tb_tags(&t);
        tb_str(&t, "g2");
        tb_str(&t, "");
        if (v >= 4)
            tb_str(&t, "Empty");
        tb_tags(&t);
        tb_tags(&t);
        assert_out(&b, &t, "ListGroups", v);
        kbuf_destroy(&b);
    }
    static const uint8_t v4_null[] = {0x00, 0x00}; /* null states_filter */
    struct kslice s;
    struct gcodec_list_req r;
    kslice_init(&s, v4_null, sizeof v4_null);
    cr_assert_not(gcodec_list_req_decode(&s, 4, &r));
    struct kbuf b;
    kbuf_init(&b);
    gcodec_list_resp_encode(&b, 3, 0, KERR_COORDINATOR_LOAD_IN_PROGRESS, NULL, 0);
    static const uint8_t v3[] = {0, 0, 0, 0, 0, 14, 0x01, 0x00};
    assert_out_raw(&b, v3, sizeof v3);
    kbuf_destroy(&b);
}

/* ---------------------------------------------------------------- DeleteGroups */

Test(group_codec, delete_every_version)
{
    for (int v = 0; v <= 2; v++) {
        struct tb t;
        struct kslice s;
        struct gcodec_delete_req r;
        tb_init(&t, v >= 2);
        tb_arr(&t, 3);
        tb_str(&t, "a");
        tb_str(&t, "bb");
        tb_str(&t, "c");
        tb_tags_unknown(&t);
        tb_slice(&t, &s);
        cr_assert(gcodec_delete_req_decode(&s, v, &r), "v%d", v);
        cr_assert_eq(s.pos, t.n);
        cr_assert_eq(r.group_count, 3);
        assert_kstr(r.groups[0].group_id, "a");
        assert_kstr(r.groups[1].group_id, "bb");
        assert_kstr(r.groups[2].group_id, "c");
        ASSERT_TRUNCATIONS_FAIL(t.b, t.n, struct gcodec_delete_req, gcodec_delete_req_decode,
                                gcodec_delete_req_free, v);

        r.groups[1].err = KERR_NON_EMPTY_GROUP;
        r.groups[2].err = KERR_GROUP_ID_NOT_FOUND;
        struct kbuf b;
        kbuf_init(&b);
        gcodec_delete_resp_encode(&b, v, 5, &r);
        tb_init(&t, v >= 2);
        tb_i32(&t, 5);
        tb_arr(&t, 3);
        tb_str(&t, "a");
        tb_i16(&t, 0);
        tb_tags(&t);
        tb_str(&t, "bb");
        tb_i16(&t, KERR_NON_EMPTY_GROUP);
        tb_tags(&t);
        tb_str(&t, "c");
        tb_i16(&t, KERR_GROUP_ID_NOT_FOUND);
        tb_tags(&t);
        tb_tags(&t);
        assert_out(&b, &t, "DeleteGroups", v);
        kbuf_destroy(&b);
        gcodec_delete_req_free(&r);
    }
    static const uint8_t v2[] = {0x02, 0x02, 'q', 0x00};
    struct kslice s;
    struct gcodec_delete_req r;
    kslice_init(&s, v2, sizeof v2);
    cr_assert(gcodec_delete_req_decode(&s, 2, &r));
    cr_assert_eq(r.group_count, 1);
    assert_kstr(r.groups[0].group_id, "q");
    struct kbuf b;
    kbuf_init(&b);
    gcodec_delete_resp_encode(&b, 2, 0, &r);
    static const uint8_t resp[] = {0, 0, 0, 0, 0x02, 0x02, 'q', 0, 0, 0x00, 0x00};
    assert_out_raw(&b, resp, sizeof resp);
    kbuf_destroy(&b);
    gcodec_delete_req_free(&r);
    static const uint8_t too_many[] = {0, 0, 0, 9, 0, 1, 'a'};
    kslice_init(&s, too_many, sizeof too_many);
    cr_assert_not(gcodec_delete_req_decode(&s, 0, &r));
}
