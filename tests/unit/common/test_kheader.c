/* tests/unit/common/test_kheader.c — Kafka request/response headers
 * (common/kheader.h): exact bytes and round trips of every header version,
 * tagged fields, null client ids, truncated input, frame sizes, the
 * header-version rule and the API-key names (common/api_keys.h). */
#include "common/api_keys.h"
#include "common/kheader.h"

#include <criterion/criterion.h>
#include <string.h>

static struct kstr z(const char *s) { return (struct kstr){s, s ? (int32_t)strlen(s) : 0}; }

static void put_req(struct kbuf *b, int version, int16_t key, int16_t ver, int32_t corr,
                    const char *client_id)
{
    struct khdr_req h = {key, ver, corr, z(client_id)};
    cr_assert(khdr_put_req(b, version, &h));
}

static void assert_bytes(const struct kbuf *b, const uint8_t *want, size_t n)
{
    cr_assert_eq(b->len, n, "encoded %zu bytes, want %zu", b->len, n);
    cr_assert_arr_eq(b->data, want, n);
}

Test(kheader, request_v0_bytes_and_roundtrip)
{
    static const uint8_t want[] = {0, 1, 0, 11, 0x01, 0x02, 0x03, 0x04};
    struct kbuf b;
    kbuf_init(&b);
    put_req(&b, 0, API_FETCH, 11, 0x01020304, "ignored");
    assert_bytes(&b, want, sizeof(want));
    struct kslice s;
    struct khdr_req h;
    kslice_init(&s, b.data, b.len);
    cr_assert(khdr_get_req(&s, 0, &h));
    cr_assert_eq(h.api_key, API_FETCH);
    cr_assert_eq(h.api_version, 11);
    cr_assert_eq(h.correlation_id, 0x01020304);
    cr_assert(kstr_is_null(h.client_id));
    cr_assert_eq(kslice_remaining(&s), 0);
    kbuf_destroy(&b);
}

Test(kheader, request_v1_bytes_and_roundtrip)
{
    static const uint8_t want[] = {0,    3, 0, 8,   0xff, 0xff, 0xff,
                                   0xfe, 0, 3, 'c', 'l',  'i',  0xAA /* body */};
    struct kbuf b;
    kbuf_init(&b);
    put_req(&b, 1, API_METADATA, 8, -2, "cli");
    kbuf_put_u8(&b, 0xAA);
    assert_bytes(&b, want, sizeof(want));
    struct kslice s;
    struct khdr_req h;
    kslice_init(&s, b.data, b.len);
    cr_assert(khdr_get_req(&s, 1, &h));
    cr_assert_eq(h.api_key, API_METADATA);
    cr_assert_eq(h.api_version, 8);
    cr_assert_eq(h.correlation_id, -2);
    cr_assert(kstr_eq(h.client_id, "cli"));
    /* the view points into the input, and the body follows the header */
    cr_assert_eq((const void *)h.client_id.ptr, (const void *)(b.data + 10));
    cr_assert_eq(kslice_remaining(&s), 1);
    cr_assert_eq(*kslice_cur(&s), 0xAA);
    kbuf_destroy(&b);
}

Test(kheader, request_v2_has_int16_client_id_and_empty_tags)
{
    static const uint8_t want[] = {0, 18, 0, 3, 0, 0, 0, 7, 0, 2, 'i', 'd', 0 /* tags */};
    struct kbuf b;
    kbuf_init(&b);
    put_req(&b, 2, API_API_VERSIONS, 3, 7, "id");
    assert_bytes(&b, want, sizeof(want));
    struct kslice s;
    struct khdr_req h;
    kslice_init(&s, b.data, b.len);
    cr_assert(khdr_get_req(&s, 2, &h));
    cr_assert_eq(h.api_key, API_API_VERSIONS);
    cr_assert_eq(h.api_version, 3);
    cr_assert_eq(h.correlation_id, 7);
    cr_assert(kstr_eq(h.client_id, "id"));
    cr_assert_eq(kslice_remaining(&s), 0);
    kbuf_destroy(&b);
}

Test(kheader, request_v2_skips_unknown_tags)
{
    /* two tagged fields: tag 0 with 3 bytes, tag 5 with none; then the body */
    static const uint8_t in[] = {0, 1, 0, 12,  0,   0,   0, 9, 0xff, 0xff,
                                 2, 0, 3, 'x', 'y', 'z', 5, 0, 0x42};
    struct kslice s;
    struct khdr_req h;
    kslice_init(&s, in, sizeof(in));
    cr_assert(khdr_get_req(&s, 2, &h));
    cr_assert_eq(h.correlation_id, 9);
    cr_assert(kstr_is_null(h.client_id));
    cr_assert_eq(kslice_remaining(&s), 1);
    cr_assert_eq(*kslice_cur(&s), 0x42);
}

Test(kheader, request_read_as_v1_then_tags)
{
    struct kbuf b;
    kbuf_init(&b);
    put_req(&b, 2, API_FETCH, 12, 33, "r");
    kbuf_put_u8(&b, 0x99);
    struct kslice s;
    struct khdr_req h;
    kslice_init(&s, b.data, b.len);
    cr_assert(khdr_get_req(&s, 1, &h));
    cr_assert_eq(kslice_remaining(&s), 2); /* the tag section is still there */
    cr_assert(khdr_get_req_tags(&s, khdr_req_version(API_FETCH, 12)));
    cr_assert_eq(kslice_remaining(&s), 1);
    cr_assert_eq(*kslice_cur(&s), 0x99);
    kbuf_destroy(&b);
}

Test(kheader, null_client_id_roundtrips_as_minus_one)
{
    for (int v = 1; v <= 2; v++) {
        struct kbuf b;
        kbuf_init(&b);
        put_req(&b, v, API_PRODUCE, 9, 1, NULL);
        cr_assert_eq(b.data[8], 0xff);
        cr_assert_eq(b.data[9], 0xff);
        struct kslice s;
        struct khdr_req h = {.client_id = z("junk")};
        kslice_init(&s, b.data, b.len);
        cr_assert(khdr_get_req(&s, v, &h));
        cr_assert(kstr_is_null(h.client_id), "v%d: client_id not null", v);
        cr_assert_eq(kslice_remaining(&s), 0);
        kbuf_destroy(&b);
    }
}

Test(kheader, empty_client_id_is_not_null)
{
    struct kbuf b;
    kbuf_init(&b);
    put_req(&b, 1, API_PRODUCE, 3, 1, "");
    struct kslice s;
    struct khdr_req h;
    kslice_init(&s, b.data, b.len);
    cr_assert(khdr_get_req(&s, 1, &h));
    cr_assert_not(kstr_is_null(h.client_id));
    cr_assert_eq(h.client_id.len, 0);
    kbuf_destroy(&b);
}

Test(kheader, truncated_request_fails_at_every_length)
{
    for (int v = 0; v <= 2; v++) {
        struct kbuf b;
        kbuf_init(&b);
        put_req(&b, v, API_METADATA, 9, 5, "client");
        for (size_t n = 0; n < b.len; n++) {
            struct kslice s;
            struct khdr_req h;
            kslice_init(&s, b.data, n);
            cr_assert_not(khdr_get_req(&s, v, &h), "v%d header of %zu bytes accepted", v, n);
        }
        struct kslice s;
        struct khdr_req h;
        kslice_init(&s, b.data, b.len);
        cr_assert(khdr_get_req(&s, v, &h));
        kbuf_destroy(&b);
    }
}

Test(kheader, tag_longer_than_input_fails)
{
    static const uint8_t in[] = {0, 1, 0, 12, 0, 0, 0, 9, 0xff, 0xff, 1, 0, 10, 'x'};
    struct kslice s;
    struct khdr_req h;
    kslice_init(&s, in, sizeof(in));
    cr_assert_not(khdr_get_req(&s, 2, &h));
}

Test(kheader, put_request_rejects_bad_version_and_long_client_id)
{
    static char longid[INT16_MAX + 2];
    memset(longid, 'a', sizeof(longid) - 1);
    struct kbuf b;
    kbuf_init(&b);
    struct khdr_req h = {API_FETCH, 11, 1, z("x")};
    cr_assert_not(khdr_put_req(&b, 3, &h));
    cr_assert_not(khdr_put_req(&b, -1, &h));
    h.client_id = z(longid);
    cr_assert_not(khdr_put_req(&b, 1, &h));
    cr_assert_eq(b.len, 0);
    h.client_id.len = INT16_MAX;
    cr_assert(khdr_put_req(&b, 1, &h));
    cr_assert_eq(b.len, 8 + 2 + (size_t)INT16_MAX);
    kbuf_destroy(&b);
}

Test(kheader, response_v0_and_v1_roundtrip)
{
    static const uint8_t want0[] = {0x7f, 0, 0, 1};
    static const uint8_t want1[] = {0, 0, 0, 42, 0};
    struct kbuf b;
    int32_t corr = 0;
    struct kslice s;

    kbuf_init(&b);
    khdr_put_resp(&b, 0, 0x7f000001);
    assert_bytes(&b, want0, sizeof(want0));
    kslice_init(&s, b.data, b.len);
    cr_assert(khdr_get_resp(&s, 0, &corr));
    cr_assert_eq(corr, 0x7f000001);
    cr_assert_eq(kslice_remaining(&s), 0);

    kbuf_reset(&b);
    khdr_put_resp(&b, 1, 42);
    assert_bytes(&b, want1, sizeof(want1));
    kslice_init(&s, b.data, b.len);
    cr_assert(khdr_get_resp(&s, 1, &corr));
    cr_assert_eq(corr, 42);
    cr_assert_eq(kslice_remaining(&s), 0);
    kbuf_destroy(&b);
}

Test(kheader, response_v1_skips_tags_and_truncation_fails)
{
    static const uint8_t in[] = {0, 0, 0, 3, 1, 7, 2, 'a', 'b', 0x55};
    struct kslice s;
    int32_t corr;
    kslice_init(&s, in, sizeof(in));
    cr_assert(khdr_get_resp(&s, 1, &corr));
    cr_assert_eq(corr, 3);
    cr_assert_eq(kslice_remaining(&s), 1);
    for (size_t n = 0; n < sizeof(in) - 1; n++) {
        kslice_init(&s, in, n);
        cr_assert_not(khdr_get_resp(&s, 1, &corr), "%zu bytes accepted", n);
    }
    kslice_init(&s, in, 3);
    cr_assert_not(khdr_get_resp(&s, 0, &corr));
}

Test(kheader, frame_size_counts_bytes_after_prefix)
{
    struct kbuf b;
    kbuf_init(&b);
    kbuf_put_u8(&b, 0xEE); /* a frame may start after other bytes */
    size_t at = khdr_frame_begin(&b);
    cr_assert_eq(at, 1);
    put_req(&b, 1, API_FETCH, 11, 1, "ab");
    kbuf_put(&b, "body", 4);
    cr_assert_eq(khdr_frame_end(&b, at, 1000), KERR_NONE);
    cr_assert_eq(be32_load(b.data + 1), 8 + 4 + 4);
    cr_assert_eq(b.len, 1 + 4 + 16);
    cr_assert_eq(khdr_frame_end(&b, at, 15), KERR__INVALID);
    kbuf_destroy(&b);
}

Test(kheader, response_prefix_matches_the_encoder)
{
    for (int v = 0; v <= 1; v++) {
        uint8_t pre[KHDR_RESP_PREFIX_MAX];
        size_t n = khdr_resp_prefix(pre, v, 0x11223344, 100);
        struct kbuf b;
        kbuf_init(&b);
        size_t at = khdr_frame_begin(&b);
        khdr_put_resp(&b, v, 0x11223344);
        cr_assert_eq(n, b.len);
        kbuf_skip(&b, 100);
        cr_assert_eq(khdr_frame_end(&b, at, 1000), KERR_NONE);
        cr_assert_arr_eq(pre, b.data, n, "v%d prefix differs", v);
        kbuf_destroy(&b);
    }
}

Test(kheader, header_version_rule)
{
    cr_assert_eq(khdr_req_version(API_FETCH, 11), 1);
    cr_assert_eq(khdr_req_version(API_FETCH, 12), 2);
    cr_assert_eq(khdr_resp_version(API_FETCH, 11), 0);
    cr_assert_eq(khdr_resp_version(API_FETCH, 12), 1);
    cr_assert_eq(khdr_req_version(API_API_VERSIONS, 3), 2);
    cr_assert_eq(khdr_resp_version(API_API_VERSIONS, 3), 0); /* always v0 */
    cr_assert_eq(khdr_resp_version(API_API_VERSIONS, 0), 0);
    cr_assert_eq(khdr_req_version(RPC_LEADER_AND_ISR, 0), 1);
    cr_assert_eq(khdr_resp_version(RPC_LEADER_AND_ISR, 0), 0);
}

Test(kheader, api_key_names_and_control_range)
{
    cr_assert_str_eq(api_key_name(API_PRODUCE), "Produce");
    cr_assert_str_eq(api_key_name(API_OFFSET_FOR_LEADER_EPOCH), "OffsetForLeaderEpoch");
    cr_assert_str_eq(api_key_name(API_INCREMENTAL_ALTER_CONFIGS), "IncrementalAlterConfigs");
    cr_assert_str_eq(api_key_name(RPC_ALTER_ISR), "AlterIsr");
    cr_assert_str_eq(api_key_name(4), "Unknown");
    cr_assert_eq(RPC_LEADER_AND_ISR, 10000);
    cr_assert_eq(RPC_CONTROLLED_SHUTDOWN, 10004);
    cr_assert(api_key_is_control(10000));
    cr_assert(api_key_is_control(10004));
    cr_assert_not(api_key_is_control(9999));
    cr_assert_not(api_key_is_control(10005));
    cr_assert_not(api_key_is_control(API_METADATA));
}

Test(kheader, first_flexible_versions)
{
    cr_assert_eq(api_flex_version(API_PRODUCE), 9);
    cr_assert_eq(api_flex_version(API_FETCH), 12);
    cr_assert_eq(api_flex_version(API_API_VERSIONS), 3);
    cr_assert_eq(api_flex_version(API_INCREMENTAL_ALTER_CONFIGS), 1);
    cr_assert_eq(api_flex_version(RPC_LEADER_AND_ISR), -1);
    cr_assert_eq(api_flex_version(4), -1);
    cr_assert_not(api_is_flexible(API_FETCH, 11));
    cr_assert(api_is_flexible(API_FETCH, 12));
    cr_assert_not(api_is_flexible(API_OFFSET_FOR_LEADER_EPOCH, 3));
    cr_assert(api_is_flexible(API_OFFSET_FOR_LEADER_EPOCH, 4));
    cr_assert(api_is_flexible(API_ELECT_LEADERS, 2));
    cr_assert_not(api_is_flexible(API_ELECT_LEADERS, 1));
    cr_assert_not(api_is_flexible(RPC_ALTER_ISR, 0));
    cr_assert_not(api_is_flexible(RPC_ALTER_ISR, 100));
}

Test(kheader, frame_size_checks_bounds_as_soon_as_the_prefix_is_there)
{
    const uint8_t frame[] = {0, 0, 0, 6, 'a', 'b', 'c', 'd', 'e', 'f'};
    size_t len = 99;
    cr_assert_eq(khdr_frame_size(frame, 3, 0, 100, &len), KERR__AGAIN);
    cr_assert_eq(len, 99, "nothing read before the prefix is whole");
    cr_assert_eq(khdr_frame_size(frame, 4, 0, 100, &len), KERR__AGAIN);
    cr_assert_eq(len, 6);
    cr_assert_eq(khdr_frame_size(frame, 9, 0, 100, &len), KERR__AGAIN);
    cr_assert_eq(khdr_frame_size(frame, 10, 0, 100, &len), KERR_NONE);
    cr_assert_eq(khdr_frame_size(frame, 10, 0, 6, &len), KERR_NONE, "max is inclusive");
    cr_assert_eq(khdr_frame_size(frame, 4, 0, 5, &len), KERR__CORRUPT, "over max");
    cr_assert_eq(khdr_frame_size(frame, 4, 7, 100, &len), KERR__CORRUPT, "under min");
    const uint8_t negative[] = {0x80, 0, 0, 1};
    cr_assert_eq(khdr_frame_size(negative, 4, 0, SIZE_MAX, &len), KERR__CORRUPT);
}
