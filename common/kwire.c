/*
 * common/kwire.c — Kafka wire primitives: (zigzag) varints, classic and
 * compact strings/bytes/arrays, tagged-field sections (KIP-482).
 *
 * Classic: STRING = INT16 len, BYTES/ARRAY = INT32 len, -1 = null.
 * Compact: UNSIGNED_VARINT (len + 1), 0 = null.
 */
#include "common/kwire.h"

#include <stdlib.h>
#include <string.h>

bool kstr_eq(struct kstr s, const char *z)
{
    if (!s.ptr)
        return false;
    size_t n = strlen(z);
    return (size_t)s.len == n && memcmp(s.ptr, z, n) == 0;
}

bool kstr_copy(struct kstr s, char *dst, size_t n)
{
    if (!s.ptr || (size_t)s.len >= n)
        return false;
    memcpy(dst, s.ptr, (size_t)s.len);
    dst[s.len] = '\0';
    return true;
}

char *kstr_dup(struct kstr s)
{
    if (!s.ptr || s.len < 0)
        return NULL;
    char *z = malloc((size_t)s.len + 1);
    if (z) {
        memcpy(z, s.ptr, (size_t)s.len);
        z[s.len] = '\0';
    }
    return z;
}

void kbuf_put_uvarint(struct kbuf *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    kbuf_put(b, tmp, n);
}

void kbuf_put_varint(struct kbuf *b, int32_t v)
{
    kbuf_put_uvarint(b, (uint32_t)(((uint32_t)v << 1) ^ (uint32_t)(v >> 31)));
}

void kbuf_put_varlong(struct kbuf *b, int64_t v)
{
    kbuf_put_uvarint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static uint64_t uvarint_read(struct kslice *s, int max_bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < max_bytes; i++) {
        const uint8_t *p = kslice_take(s, 1);
        if (!p)
            return 0;
        v |= (uint64_t)(p[0] & 0x7f) << (7 * i);
        if (!(p[0] & 0x80))
            return v;
    }
    kslice_fail(s); /* too long */
    return 0;
}

uint64_t kslice_uvarint(struct kslice *s) { return uvarint_read(s, 10); }

int32_t kslice_varint(struct kslice *s)
{
    uint32_t z = (uint32_t)uvarint_read(s, 5);
    return (int32_t)((z >> 1) ^ (~(z & 1) + 1));
}

int64_t kslice_varlong(struct kslice *s)
{
    uint64_t z = uvarint_read(s, 10);
    return (int64_t)((z >> 1) ^ (~(z & 1) + 1));
}

size_t uvarint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t varint_size(int32_t v)
{
    return uvarint_size((uint32_t)(((uint32_t)v << 1) ^ (uint32_t)(v >> 31)));
}

size_t varlong_size(int64_t v) { return uvarint_size(((uint64_t)v << 1) ^ (uint64_t)(v >> 63)); }

void kw_put_strn(struct kbuf *b, bool flex, const char *p, size_t n)
{
    if (flex)
        kbuf_put_uvarint(b, (uint64_t)n + 1);
    else
        kbuf_put_i16(b, (int16_t)n);
    kbuf_put(b, p, n);
}

void kw_put_str(struct kbuf *b, bool flex, const char *z) { kw_put_strn(b, flex, z, strlen(z)); }

void kw_put_nstr(struct kbuf *b, bool flex, const char *z)
{
    if (z)
        kw_put_str(b, flex, z);
    else if (flex)
        kbuf_put_uvarint(b, 0);
    else
        kbuf_put_i16(b, -1);
}

void kw_put_kstr(struct kbuf *b, bool flex, struct kstr s)
{
    if (s.ptr)
        kw_put_strn(b, flex, s.ptr, (size_t)s.len);
    else
        kw_put_nstr(b, flex, NULL);
}

void kw_put_bytes(struct kbuf *b, bool flex, const void *p, int32_t n)
{
    if (n < 0) {
        if (flex)
            kbuf_put_uvarint(b, 0);
        else
            kbuf_put_i32(b, -1);
        return;
    }
    if (flex)
        kbuf_put_uvarint(b, (uint64_t)n + 1);
    else
        kbuf_put_i32(b, n);
    kbuf_put(b, p, (size_t)n);
}

void kw_put_array_len(struct kbuf *b, bool flex, int32_t n)
{
    if (flex)
        kbuf_put_uvarint(b, n < 0 ? 0 : (uint64_t)n + 1);
    else
        kbuf_put_i32(b, n);
}

size_t kw_reserve_array_len(struct kbuf *b, bool flex) { return kbuf_skip(b, flex ? 5 : 4); }

void kw_patch_array_len(struct kbuf *b, bool flex, size_t at, int32_t n)
{
    if (b->oom || at + (flex ? 5u : 4u) > b->len)
        return;
    if (!flex) {
        kbuf_patch_i32(b, at, n);
        return;
    }
    /* A 5-byte padded LEB128: continuation bits on the first four bytes. */
    uint32_t v = n < 0 ? 0 : (uint32_t)n + 1;
    for (int i = 0; i < 4; i++) {
        b->data[at + (size_t)i] = (uint8_t)((v & 0x7f) | 0x80);
        v >>= 7;
    }
    b->data[at + 4] = (uint8_t)(v & 0x7f);
}

void kw_put_tags(struct kbuf *b, bool flex)
{
    if (flex)
        kbuf_put_u8(b, 0);
}

/* A compact length or count: the UNSIGNED_VARINT minus one, -1 for null. A value beyond
 * INT32_MAX (no length or count can be) fails the slice. */
static int64_t compact_len(struct kslice *s)
{
    uint64_t u = kslice_uvarint(s);
    if (u > (uint64_t)INT32_MAX + 1) {
        kslice_fail(s);
        return -1;
    }
    return (int64_t)u - 1;
}

struct kstr kw_get_str(struct kslice *s, bool flex)
{
    struct kstr r = {NULL, 0};
    int64_t n;
    if (flex)
        n = compact_len(s);
    else
        n = kslice_i16(s);
    if (!kslice_ok(s) || n < 0)
        return r;
    const uint8_t *p = kslice_take(s, (size_t)n);
    if (!p)
        return r;
    r.ptr = (const char *)p;
    r.len = (int32_t)n;
    return r;
}

const uint8_t *kw_get_bytes(struct kslice *s, bool flex, int32_t *n)
{
    int64_t len;
    if (flex)
        len = compact_len(s);
    else
        len = kslice_i32(s);
    *n = -1;
    if (!kslice_ok(s) || len < 0)
        return NULL;
    if (len > INT32_MAX) {
        kslice_fail(s);
        return NULL;
    }
    const uint8_t *p = kslice_take(s, (size_t)len);
    if (p)
        *n = (int32_t)len;
    /* zero-length bytes are not null: return a valid pointer */
    return p;
}

int32_t kw_get_array_len(struct kslice *s, bool flex, size_t min_elem)
{
    int64_t n;
    if (flex)
        n = compact_len(s);
    else
        n = kslice_i32(s);
    if (!kslice_ok(s))
        return -1;
    if (n < -1) {
        kslice_fail(s);
        return -1;
    }
    if (n > 0 && (uint64_t)n * (min_elem ? min_elem : 1) > kslice_remaining(s)) {
        kslice_fail(s);
        return -1;
    }
    return (int32_t)n;
}

void kw_skip_tags(struct kslice *s, bool flex)
{
    if (!flex)
        return;
    uint64_t n = kslice_uvarint(s);
    for (uint64_t i = 0; i < n && kslice_ok(s); i++) {
        (void)kslice_uvarint(s); /* tag */
        uint64_t sz = kslice_uvarint(s);
        if (sz > kslice_remaining(s)) {
            kslice_fail(s);
            return;
        }
        kslice_skip(s, (size_t)sz);
    }
}
