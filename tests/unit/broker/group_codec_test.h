/*
 * tests/unit/broker/group_codec_test.h — helpers of the consumer-group codec tests
 * (test_group_codec_*.c): a byte writer that spells out Kafka's primitive encodings by hand
 * (big-endian integers; INT16/INT32-length or compact varint-length strings, bytes and arrays;
 * tagged-field sections), independent of common/kwire.c and of the codecs under test, and
 * the assertions built on it.
 */
#ifndef GREGOR_TESTS_GROUP_CODEC_TEST_H
#define GREGOR_TESTS_GROUP_CODEC_TEST_H

#include <criterion/criterion.h>
#include <limits.h>
#include <string.h>

#include "broker/kafka/group_codec.h"

/* Expected bytes, written field by field. `flex` selects the compact encodings. */
struct tb {
    uint8_t b[8192];
    size_t n;
    bool flex;
};

static inline void tb_init(struct tb *t, bool flex)
{
    t->n = 0;
    t->flex = flex;
}
static inline void tb_u8(struct tb *t, uint8_t v) { t->b[t->n++] = v; }
static inline void tb_i16(struct tb *t, int16_t v)
{
    tb_u8(t, (uint8_t)((uint16_t)v >> 8));
    tb_u8(t, (uint8_t)v);
}
static inline void tb_i32(struct tb *t, int32_t v)
{
    for (int sh = 24; sh >= 0; sh -= 8)
        tb_u8(t, (uint8_t)((uint32_t)v >> sh));
}
static inline void tb_i64(struct tb *t, int64_t v)
{
    for (int sh = 56; sh >= 0; sh -= 8)
        tb_u8(t, (uint8_t)((uint64_t)v >> sh));
}
/* UNSIGNED_VARINT: 7 bits a byte, low group first, high bit = more. */
static inline void tb_uv(struct tb *t, uint32_t v)
{
    while (v >= 0x80) {
        tb_u8(t, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    tb_u8(t, (uint8_t)v);
}
/* A count: INT32, or compact (n + 1, 0 = null) when flex; n -1 = null. */
static inline void tb_arr(struct tb *t, int32_t n)
{
    if (t->flex)
        tb_uv(t, (uint32_t)(n + 1));
    else
        tb_i32(t, n);
}
static inline void tb_raw(struct tb *t, const void *p, size_t n)
{
    memcpy(t->b + t->n, p, n);
    t->n += n;
}
/* STRING / NULLABLE_STRING (NULL = null) or their compact forms. */
static inline void tb_str(struct tb *t, const char *z)
{
    int32_t n = z ? (int32_t)strlen(z) : -1;
    if (t->flex)
        tb_uv(t, (uint32_t)(n + 1));
    else
        tb_i16(t, (int16_t)n);
    if (z)
        tb_raw(t, z, (size_t)n);
}
/* BYTES (n -1 = null) or COMPACT_BYTES. */
static inline void tb_bytes(struct tb *t, const void *p, int32_t n)
{
    if (t->flex)
        tb_uv(t, (uint32_t)(n + 1));
    else
        tb_i32(t, n);
    if (n > 0)
        tb_raw(t, p, (size_t)n);
}
/* An empty tagged-field section when flex. */
static inline void tb_tags(struct tb *t)
{
    if (t->flex)
        tb_u8(t, 0);
}
/* When flex, a tagged-field section holding one field the decoders do not know (tag 7, two
 * bytes), which they must skip. */
static inline void tb_tags_unknown(struct tb *t)
{
    if (!t->flex)
        return;
    tb_u8(t, 1);
    tb_u8(t, 7);
    tb_u8(t, 2);
    tb_u8(t, 0xab);
    tb_u8(t, 0xcd);
}

static inline void tb_slice(const struct tb *t, struct kslice *s) { kslice_init(s, t->b, t->n); }

static inline void assert_kstr(struct kstr s, const char *want)
{
    if (!want) {
        cr_assert(kstr_is_null(s), "want null, got \"%.*s\"", s.len, s.ptr);
        return;
    }
    cr_assert_not(kstr_is_null(s), "want \"%s\", got null", want);
    cr_assert_eq(s.len, (int32_t)strlen(want), "want \"%s\", got \"%.*s\"", want, s.len, s.ptr);
    cr_assert(memcmp(s.ptr, want, (size_t)s.len) == 0, "want \"%s\", got \"%.*s\"", want, s.len,
              s.ptr);
}

static inline void assert_mem(const uint8_t *p, int32_t n, const char *want)
{
    cr_assert_eq(n, (int32_t)strlen(want));
    cr_assert(p != NULL);
    cr_assert(memcmp(p, want, (size_t)n) == 0);
}

/* The encoder's output equals the expected bytes. */
static inline void assert_out(const struct kbuf *b, const struct tb *want, const char *what, int v)
{
    cr_assert_not(b->oom);
    cr_assert_eq(b->len, want->n, "%s v%d: %zu bytes, want %zu", what, v, b->len, want->n);
    for (size_t i = 0; i < want->n; i++)
        cr_assert_eq(b->data[i], want->b[i], "%s v%d byte %zu: 0x%02x, want 0x%02x", what, v, i,
                     b->data[i], want->b[i]);
}

static inline void assert_out_raw(const struct kbuf *b, const uint8_t *want, size_t n)
{
    cr_assert_not(b->oom);
    cr_assert_eq(b->len, n, "%zu bytes, want %zu", b->len, n);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(b->data[i], want[i], "byte %zu: 0x%02x, want 0x%02x", i, b->data[i], want[i]);
}

/* Every proper prefix of a well-formed request must be refused (dec frees what it made). */
#define ASSERT_TRUNCATIONS_FAIL(bytes, len, type, dec, fr, v)                                      \
    do {                                                                                           \
        for (size_t cut_ = 0; cut_ < (len); cut_++) {                                              \
            struct kslice s_;                                                                      \
            type r_;                                                                               \
            kslice_init(&s_, (bytes), cut_);                                                       \
            cr_assert_not(dec(&s_, (v), &r_), #dec " v%d accepted %zu of %zu bytes", (v), cut_,    \
                          (size_t)(len));                                                          \
            fr(&r_);                                                                               \
        }                                                                                          \
        struct kslice s_;                                                                          \
        type r_;                                                                                   \
        kslice_init(&s_, (bytes), (len));                                                          \
        cr_assert(dec(&s_, (v), &r_), #dec " v%d refused the whole request", (v));                 \
        fr(&r_);                                                                                   \
    } while (0)

#endif
