/*
 * tests/integration/test_kreq.c — the raw-protocol test encoder
 * (tests/harness/kreq.c) reproduces the byte-exact examples of
 * docs/protocol.md (§1.4 ApiVersions v3 request and answer, §2.2 the
 * unsupported-version answer, §4.5 CRC-32C check value and record batch
 * test vector). No processes: labelled unit.
 */
#include "tests/harness/kreq.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (const char *p = hex; *p; p++) {
        int v;
        if (*p >= '0' && *p <= '9')
            v = *p - '0';
        else if (*p >= 'a' && *p <= 'f')
            v = *p - 'a' + 10;
        else
            continue;
        if (hi < 0) {
            hi = v;
        } else {
            cr_assert_lt(n, cap);
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    return n;
}

Test(kreq, crc32c_check_value) { cr_assert_eq(kreq_crc32c("123456789", 9), 0xE3069283u); }

Test(kreq, record_batch_matches_protocol_test_vector)
{
    uint8_t want[256];
    size_t n = unhex("0000000000000000 0000004e ffffffff 02 b1267df6 0000 00000001"
                     "0000018bcfe56800 0000018bcfe56805 ffffffffffffffff ffff ffffffff 00000002"
                     "20 00 00 00 02 6b 0a 68656c6c6f 02 02 68 02 76"
                     "16 00 0a 02 01 0a 776f726c64 00",
                     want, sizeof(want));
    struct kbytes b;
    kbytes_init(&b);
    struct krecord recs[2] = {
        {.key = "k", .key_len = -1, .value = "hello", .value_len = -1, .hkey = "h", .hvalue = "v"},
        {.key = NULL, .value = "world", .value_len = -1, .ts_delta = 5},
    };
    size_t at = kbatch_append(&b, 1700000000000LL, recs, 2);
    cr_assert_eq(at, 0);
    cr_assert_eq(b.len, n, "batch is %zu bytes, vector %zu", b.len, n);
    cr_assert_arr_eq(b.p, want, n);
    kbytes_free(&b);
}

Test(kreq, api_versions_v3_request_matches_librdkafka_bytes)
{
    uint8_t want[64];
    size_t n = unhex("00000024 0012 0003 00000001 0007 72646b61666b61 00"
                     "0b 6c696272646b61666b61 06 322e302e32 00",
                     want, sizeof(want));
    struct kbytes b;
    kbytes_init(&b);
    kreq_begin(&b, KREQ_API_VERSIONS, 3, 1, "rdkafka", true);
    kbytes_cstr(&b, "librdkafka");
    kbytes_cstr(&b, "2.0.2");
    kbytes_uvarint(&b, 0);
    kreq_end(&b);
    cr_assert_eq(b.len, n);
    cr_assert_arr_eq(b.p, want, n);
    kbytes_free(&b);
}

Test(kreq, decodes_api_versions_v3_answer_example)
{
    uint8_t frame[64];
    size_t n = unhex("00000001 0000 03 0012 0000 0003 00 0003 0000 0008 00 00000000 00", frame,
                     sizeof(frame));
    struct kapi_versions av;
    cr_assert_eq(kresp_api_versions(frame, n, 3, &av), 0);
    cr_assert_eq(av.error, 0);
    cr_assert_eq(av.n, 2);
    cr_assert_eq(av.api[0].key, 18);
    cr_assert_eq(av.api[0].max, 3);
    cr_assert_eq(av.api[1].key, 3);
    cr_assert_eq(av.api[1].max, 8);
    /* Trailing bytes make the decode fail. */
    cr_assert_eq(kresp_api_versions(frame, n + 1 <= sizeof(frame) ? n + 1 : n, 3, &av), -1);
}

Test(kreq, decodes_unsupported_version_answer)
{
    uint8_t frame[32];
    size_t n = unhex("00000001 0023 00000001 0012 0000 0003", frame, sizeof(frame));
    struct kapi_versions av;
    cr_assert_eq(kresp_api_versions(frame, n, 0, &av), 0);
    cr_assert_eq(av.error, 35);
    cr_assert_eq(av.n, 1);
    cr_assert_eq(av.api[0].key, 18);
}

Test(kreq, varints_are_zigzag_and_leb128)
{
    struct kbytes b;
    kbytes_init(&b);
    kbytes_varint(&b, -1);
    kbytes_varint(&b, 300);
    kbytes_uvarint(&b, 300);
    const uint8_t want[] = {0x01, 0xd8, 0x04, 0xac, 0x02};
    cr_assert_eq(b.len, sizeof(want));
    cr_assert_arr_eq(b.p, want, sizeof(want));
    struct kresp r;
    kresp_init(&r, b.p + 3, 2);
    cr_assert_eq(kresp_uvarint(&r), 300);
    cr_assert(!r.err);
    kbytes_free(&b);
}
