/* tests/unit/common/test_kwire.c — varints, classic/compact strings, bytes,
 * arrays and tagged fields (KIP-482). */
#include "common/kwire.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static void roundtrip_uvarint(uint64_t v, size_t size)
{
    struct kbuf b;
    kbuf_init(&b);
    kbuf_put_uvarint(&b, v);
    cr_assert_eq(b.len, size, "uvarint %llu took %zu bytes", (unsigned long long)v, b.len);
    cr_assert_eq(uvarint_size(v), size);
    struct kslice s;
    kslice_init(&s, b.data, b.len);
    cr_assert_eq(kslice_uvarint(&s), v);
    cr_assert(kslice_ok(&s));
    kbuf_destroy(&b);
}

Test(kwire, uvarint_sizes_and_roundtrip)
{
    roundtrip_uvarint(0, 1);
    roundtrip_uvarint(127, 1);
    roundtrip_uvarint(128, 2);
    roundtrip_uvarint(16383, 2);
    roundtrip_uvarint(16384, 3);
    roundtrip_uvarint(UINT32_MAX, 5);
    roundtrip_uvarint(UINT64_MAX, 10);
}

Test(kwire, zigzag_varint_known_encodings)
{
    /* zigzag: 0->0, -1->1, 1->2, -2->3, 63->126, -64->127, 64->128 (2 bytes) */
    const int32_t vals[] = {0, -1, 1, -2, 63, -64, 64, INT32_MAX, INT32_MIN};
    const size_t sizes[] = {1, 1, 1, 1, 1, 1, 2, 5, 5};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        struct kbuf b;
        kbuf_init(&b);
        kbuf_put_varint(&b, vals[i]);
        cr_assert_eq(b.len, sizes[i], "varint %d", vals[i]);
        cr_assert_eq(varint_size(vals[i]), sizes[i]);
        struct kslice s;
        kslice_init(&s, b.data, b.len);
        cr_assert_eq(kslice_varint(&s), vals[i]);
        kbuf_destroy(&b);
    }
    uint8_t minus_one = 0x01;
    struct kslice s;
    kslice_init(&s, &minus_one, 1);
    cr_assert_eq(kslice_varint(&s), -1);
}

Test(kwire, varlong_extremes)
{
    const int64_t vals[] = {0, -1, INT64_MAX, INT64_MIN, 1700000000000LL};
    for (size_t i = 0; i < 5; i++) {
        struct kbuf b;
        kbuf_init(&b);
        kbuf_put_varlong(&b, vals[i]);
        cr_assert_eq(b.len, varlong_size(vals[i]));
        struct kslice s;
        kslice_init(&s, b.data, b.len);
        cr_assert_eq(kslice_varlong(&s), vals[i]);
        kbuf_destroy(&b);
    }
}

Test(kwire, overlong_varint_fails)
{
    const uint8_t bytes[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    struct kslice s;
    kslice_init(&s, bytes, sizeof(bytes));
    (void)kslice_varint(&s);
    cr_assert_not(kslice_ok(&s), "a 6-byte varint is invalid");
}

Test(kwire, classic_and_compact_strings)
{
    struct kbuf b;
    kbuf_init(&b);
    kw_put_str(&b, false, "rdkafka");
    kw_put_str(&b, true, "librdkafka");
    kw_put_nstr(&b, false, NULL);
    kw_put_nstr(&b, true, NULL);
    kw_put_str(&b, true, "");
    const uint8_t want[] = {0,   7,   'r', 'd', 'k', 'a', 'f', 'k', 'a',  11,   'l', 'i',
                            'b', 'r', 'd', 'k', 'a', 'f', 'k', 'a', 0xff, 0xff, 0,   1};
    cr_assert_eq(b.len, sizeof(want));
    cr_assert_arr_eq(b.data, want, sizeof(want));
    struct kslice s;
    kslice_init(&s, b.data, b.len);
    cr_assert(kstr_eq(kw_get_str(&s, false), "rdkafka"));
    cr_assert(kstr_eq(kw_get_str(&s, true), "librdkafka"));
    cr_assert(kstr_is_null(kw_get_str(&s, false)));
    cr_assert(kstr_is_null(kw_get_str(&s, true)));
    struct kstr empty = kw_get_str(&s, true);
    cr_assert_not(kstr_is_null(empty));
    cr_assert_eq(empty.len, 0);
    cr_assert(kslice_ok(&s));
    cr_assert_eq(kslice_remaining(&s), 0);
    kbuf_destroy(&b);
}

Test(kwire, string_longer_than_input_fails)
{
    const uint8_t bytes[] = {0, 50, 'a', 'b'};
    struct kslice s;
    kslice_init(&s, bytes, sizeof(bytes));
    struct kstr r = kw_get_str(&s, false);
    cr_assert(kstr_is_null(r));
    cr_assert_not(kslice_ok(&s));
}

Test(kwire, kstr_dup_copies_every_byte_and_keeps_null)
{
    cr_assert_null(kstr_dup((struct kstr){NULL, 0}));
    char *e = kstr_dup((struct kstr){"", 0});
    cr_assert_not_null(e);
    cr_assert_str_eq(e, "");
    free(e);
    char *z = kstr_dup((struct kstr){"ab\0cdXX", 5}); /* a view: not terminated at 5 */
    cr_assert_not_null(z);
    cr_assert_eq(memcmp(z, "ab\0cd", 6), 0, "5 bytes then a NUL");
    free(z);
}

Test(kwire, bytes_null_empty_and_data)
{
    struct kbuf b;
    kbuf_init(&b);
    kw_put_bytes(&b, false, NULL, -1);
    kw_put_bytes(&b, false, "", 0);
    kw_put_bytes(&b, true, "xyz", 3);
    kw_put_bytes(&b, true, NULL, -1);
    struct kslice s;
    kslice_init(&s, b.data, b.len);
    int32_t n;
    cr_assert_null(kw_get_bytes(&s, false, &n));
    cr_assert_eq(n, -1);
    cr_assert_not_null(kw_get_bytes(&s, false, &n), "empty bytes are not null");
    cr_assert_eq(n, 0);
    const uint8_t *p = kw_get_bytes(&s, true, &n);
    cr_assert_eq(n, 3);
    cr_assert(memcmp(p, "xyz", 3) == 0);
    cr_assert_null(kw_get_bytes(&s, true, &n));
    cr_assert(kslice_ok(&s));
    kbuf_destroy(&b);
}

Test(kwire, array_count_bounded_by_remaining_bytes)
{
    const uint8_t huge[] = {0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0};
    struct kslice s;
    kslice_init(&s, huge, sizeof(huge));
    cr_assert_eq(kw_get_array_len(&s, false, 4), -1);
    cr_assert_not(kslice_ok(&s), "2^31 elements cannot fit in 4 bytes");
    const uint8_t nul[] = {0xff, 0xff, 0xff, 0xff};
    kslice_init(&s, nul, sizeof(nul));
    cr_assert_eq(kw_get_array_len(&s, false, 4), -1);
    cr_assert(kslice_ok(&s), "-1 is a valid null array");
    const uint8_t compact_null[] = {0};
    kslice_init(&s, compact_null, 1);
    cr_assert_eq(kw_get_array_len(&s, true, 1), -1);
    cr_assert(kslice_ok(&s));
}

/* Compact lengths and counts beyond INT32_MAX (up to 2^64 - 1 in ten bytes) fail the slice
 * without wrapping: "value - 1" in signed arithmetic would overflow beyond INT64_MAX, which
 * GREGOR_SANITIZE builds abort on. */
Test(kwire, compact_length_beyond_int32_fails)
{
    const uint8_t top[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 'x'};
    const uint8_t big[] = {0x82, 0x80, 0x80, 0x80, 0x08, 'x'}; /* 2^31 + 2: length 2^31 + 1 */
    const uint8_t *inputs[] = {top, big};
    size_t sizes[] = {sizeof(top), sizeof(big)};
    for (int i = 0; i < 2; i++) {
        struct kslice s;
        int32_t n;
        kslice_init(&s, inputs[i], sizes[i]);
        cr_assert(kstr_is_null(kw_get_str(&s, true)));
        cr_assert_not(kslice_ok(&s), "input %d: string", i);
        kslice_init(&s, inputs[i], sizes[i]);
        cr_assert_null(kw_get_bytes(&s, true, &n));
        cr_assert_not(kslice_ok(&s), "input %d: bytes", i);
        kslice_init(&s, inputs[i], sizes[i]);
        cr_assert_eq(kw_get_array_len(&s, true, 0), -1);
        cr_assert_not(kslice_ok(&s), "input %d: array", i);
    }
}

Test(kwire, patched_compact_array_len_is_valid_leb128)
{
    struct kbuf b;
    kbuf_init(&b);
    size_t at = kw_reserve_array_len(&b, true);
    kbuf_put_u8(&b, 0xAA);
    kw_patch_array_len(&b, true, at, 300);
    struct kslice s;
    kslice_init(&s, b.data, b.len);
    cr_assert_eq(kslice_uvarint(&s), 301);
    cr_assert_eq(kslice_u8(&s), 0xAA);
    kbuf_destroy(&b);
}

Test(kwire, unknown_tags_are_skipped)
{
    /* 2 tags: tag 0 size 2, tag 5 size 1; then a marker byte */
    const uint8_t bytes[] = {2, 0, 2, 0xde, 0xad, 5, 1, 0xbe, 0x42};
    struct kslice s;
    kslice_init(&s, bytes, sizeof(bytes));
    kw_skip_tags(&s, true);
    cr_assert(kslice_ok(&s));
    cr_assert_eq(kslice_u8(&s), 0x42);
    const uint8_t bad[] = {1, 0, 9, 1};
    kslice_init(&s, bad, sizeof(bad));
    kw_skip_tags(&s, true);
    cr_assert_not(kslice_ok(&s), "a tag longer than the input fails");
}

Test(kwire, apiversions_v3_request_body_from_librdkafka)
{
    /* docs/protocol.md §1.4 worked example, body part */
    const uint8_t body[] = {0x0b, 'l', 'i',  'b', 'r', 'd', 'k', 'a', 'f',
                            'k',  'a', 0x06, '2', '.', '0', '.', '2', 0x00};
    struct kslice s;
    kslice_init(&s, body, sizeof(body));
    cr_assert(kstr_eq(kw_get_str(&s, true), "librdkafka"));
    cr_assert(kstr_eq(kw_get_str(&s, true), "2.0.2"));
    kw_skip_tags(&s, true);
    cr_assert(kslice_ok(&s));
    cr_assert_eq(kslice_remaining(&s), 0);
}
