/* tests/unit/common/test_vec.c — growable arrays (common/vec.c): growth,
 * order, the overflow checks and the owner-fields form. */
#include "common/vec.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

struct pair {
    int a;
    char tag[12];
};

Test(vec, push_keeps_order_and_doubles_from_the_minimum)
{
    VEC(int) xs = {0};
    size_t caps_seen[8], ncaps = 0, last = 0;

    for (int i = 0; i < 1000; i++) {
        cr_assert(VEC_PUSH(xs, i * 3));
        if (xs.cap != last) {
            cr_assert_lt(ncaps, 8);
            caps_seen[ncaps++] = last = xs.cap;
        }
    }
    cr_assert_eq(xs.n, 1000);
    for (size_t i = 0; i < xs.n; i++)
        cr_assert_eq(xs.v[i], (int)i * 3, "element %zu", i);
    cr_assert_eq(caps_seen[0], VEC_MIN_CAP);
    for (size_t i = 1; i < ncaps; i++)
        cr_assert_eq(caps_seen[i], caps_seen[i - 1] * 2);
    cr_assert_eq(xs.cap, 1024);
    VEC_FREE(xs);
    cr_assert_null(xs.v);
    cr_assert_eq(xs.n, 0);
    cr_assert_eq(xs.cap, 0);
}

Test(vec, push_copies_structs)
{
    VEC(struct pair) ps = {0};
    struct pair p = {7, "seven"};

    cr_assert(VEC_PUSH(ps, p));
    p.a = 8;
    strcpy(p.tag, "eight");
    cr_assert(VEC_PUSH(ps, p));
    cr_assert_eq(ps.n, 2);
    cr_assert_eq(ps.v[0].a, 7);
    cr_assert_str_eq(ps.v[0].tag, "seven");
    cr_assert_str_eq(ps.v[1].tag, "eight");
    VEC_FREE(ps);
}

Test(vec, reserve_within_capacity_does_not_move)
{
    VEC(long) xs = {0};

    cr_assert(VEC_RESERVE(xs, 100));
    cr_assert_eq(xs.cap, 100, "a first reserve past the minimum takes exactly need");
    long *before = xs.v;
    cr_assert(VEC_RESERVE(xs, 100));
    cr_assert(VEC_RESERVE(xs, 3));
    cr_assert_eq(xs.v, before);
    cr_assert_eq(xs.cap, 100);
    for (int i = 0; i < 100; i++)
        cr_assert(VEC_PUSH(xs, i));
    cr_assert_eq(xs.v, before, "pushing into reserved room never reallocates");
    VEC_FREE(xs);
}

/* (Refused before any allocation is attempted, so safe under sanitizers.) */
Test(vec, reserve_past_the_byte_limit_fails_and_changes_nothing)
{
    VEC(struct pair) ps = {0};
    struct pair p = {1, "one"};

    cr_assert(VEC_PUSH(ps, p));
    struct pair *before = ps.v;
    size_t cap = ps.cap;
    cr_assert_not(VEC_RESERVE(ps, SIZE_MAX / sizeof(struct pair) + 1));
    cr_assert_not(VEC_RESERVE(ps, VEC_MAX_BYTES / sizeof(struct pair) + 1));
    cr_assert_not(VEC_RESERVE(ps, SIZE_MAX));
    cr_assert_eq(ps.v, before);
    cr_assert_eq(ps.cap, cap);
    cr_assert_eq(ps.n, 1);
    cr_assert_eq(ps.v[0].a, 1);
    VEC_FREE(ps);
}

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
/* (Sanitizers abort on an impossible allocation instead of returning NULL.) */
Test(vec, allocation_failure_changes_nothing)
{
    VEC(char) cs = {0};

    cr_assert(VEC_PUSH(cs, 'x'));
    char *before = cs.v;
    cr_assert_not(VEC_RESERVE(cs, SIZE_MAX / 2), "no machine has 8 EiB to give");
    cr_assert_eq(cs.v, before);
    cr_assert_eq(cs.cap, VEC_MIN_CAP);
    cr_assert_eq(cs.v[0], 'x');
    VEC_FREE(cs);
}
#endif

Test(vec, next_cap_rules)
{
    cr_assert_eq(vec_next_cap(0, 1, 4), VEC_MIN_CAP);
    cr_assert_eq(vec_next_cap(8, 9, 4), 16);
    cr_assert_eq(vec_next_cap(8, 40, 4), 40);
    cr_assert_eq(vec_next_cap(16, 10, 4), 16, "enough room already");
    /* doubling past the byte limit falls back to need */
    size_t elem = 16, most = VEC_MAX_BYTES / elem;
    cr_assert_eq(vec_next_cap(most - 1, most, elem), most);
    cr_assert_eq(vec_next_cap(VEC_MAX_BYTES / 2 + 1, VEC_MAX_BYTES, 1), VEC_MAX_BYTES);
    cr_assert_eq(vec_next_cap(VEC_MAX_BYTES / 2 + 1, VEC_MAX_BYTES + 1, 1), 0);
    /* need itself too big, or a zero-sized element */
    cr_assert_eq(vec_next_cap(0, most + 1, elem), 0);
    cr_assert_eq(vec_next_cap(0, 1, 0), 0);
}

/* An owner that keeps the array in its own fields, with an int count. */
struct owner {
    char **names;
    int n_names;
    size_t cap;
};

Test(vec, reserve_at_grows_an_owners_fields)
{
    struct owner o = {0};
    static char *words[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};

    for (int i = 0; i < 10; i++) {
        cr_assert(VEC_RESERVE_AT(o.names, o.cap, (size_t)o.n_names + 1));
        o.names[o.n_names++] = words[i];
    }
    cr_assert_eq(o.n_names, 10);
    cr_assert_eq(o.cap, 16);
    for (int i = 0; i < 10; i++)
        cr_assert_str_eq(o.names[i], words[i]);
    free(o.names);
}
