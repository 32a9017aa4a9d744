/* tests/unit/common/test_buf.c — kbuf growth/patching and kslice's sticky error. */
#include "common/buf.h"

#include <criterion/criterion.h>
#include <string.h>

Test(buf, ints_are_big_endian)
{
    struct kbuf b;
    kbuf_init(&b);
    kbuf_put_i16(&b, 0x0102);
    kbuf_put_i32(&b, 0x03040506);
    kbuf_put_i64(&b, 0x0708090a0b0c0d0eLL);
    const uint8_t want[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
    cr_assert_eq(b.len, sizeof(want));
    cr_assert_arr_eq(b.data, want, sizeof(want));
    kbuf_destroy(&b);
}

Test(buf, grows_past_initial_capacity_and_patches)
{
    struct kbuf b;
    kbuf_init(&b);
    size_t at = kbuf_skip(&b, 4);
    for (int i = 0; i < 10000; i++)
        kbuf_put_u8(&b, (uint8_t)i);
    kbuf_patch_i32(&b, at, 10000);
    cr_assert_eq(b.len, 10004);
    cr_assert_eq(be32_load(b.data), 10000);
    cr_assert_eq(b.data[4 + 9999], (uint8_t)9999);
    cr_assert_not(b.oom);
    kbuf_destroy(&b);
}

Test(buf, first_block_then_doubling)
{
    struct kbuf b;
    kbuf_init(&b);
    kbuf_put_u8(&b, 1);
    cr_assert_eq(b.cap, 256);
    for (int i = 1; i < 257; i++)
        kbuf_put_u8(&b, (uint8_t)i);
    cr_assert_eq(b.cap, 512);
    cr_assert(kbuf_reserve(&b, 2000));
    cr_assert_eq(b.cap, 2257, "a reserve past double the capacity takes what it needs");
    cr_assert_eq(b.data[256], (uint8_t)256);
    kbuf_destroy(&b);
}

Test(buf, reserve_that_overflows_size_t_fails_and_keeps_the_content)
{
    struct kbuf b;
    kbuf_init(&b);
    kbuf_put(&b, "0123456789", 10);
    cr_assert_not(kbuf_reserve(&b, SIZE_MAX - 5), "len + n wraps around");
    cr_assert(b.oom);
    cr_assert_eq(b.len, 10);
    cr_assert_eq(memcmp(b.data, "0123456789", 10), 0);
    cr_assert_not(kbuf_reserve(&b, 1), "oom sticks");
    kbuf_destroy(&b);
    kbuf_init(&b);
    cr_assert_not(kbuf_reserve(&b, SIZE_MAX));
    cr_assert(b.oom);
    kbuf_destroy(&b);
}

Test(buf, slice_reads_and_error_sticks)
{
    const uint8_t bytes[] = {0, 7, 0, 0, 0, 9, 1};
    struct kslice s;
    kslice_init(&s, bytes, sizeof(bytes));
    cr_assert_eq(kslice_i16(&s), 7);
    cr_assert_eq(kslice_i32(&s), 9);
    cr_assert(kslice_ok(&s));
    cr_assert_eq(kslice_i16(&s), 0, "a read past the end returns zero");
    cr_assert_not(kslice_ok(&s));
    cr_assert_eq(kslice_u8(&s), 0, "the error sticks even when bytes remain");
}

Test(buf, steal_leaves_buffer_empty)
{
    struct kbuf b;
    kbuf_init(&b);
    kbuf_put(&b, "abc", 3);
    size_t n;
    uint8_t *p = kbuf_steal(&b, &n);
    cr_assert_eq(n, 3);
    cr_assert(memcmp(p, "abc", 3) == 0);
    cr_assert_null(b.data);
    cr_assert_eq(b.len, 0);
    free(p);
}
