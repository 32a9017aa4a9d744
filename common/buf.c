/*
 * common/buf.c — kbuf (growable writer) and kslice (bounded reader with a
 * sticky error). Invariants are stated in buf.h.
 */
#include "common/buf.h"

#include "common/vec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KBUF_FIRST_CAP 256

void kbuf_init(struct kbuf *b) { memset(b, 0, sizeof(*b)); }

void kbuf_destroy(struct kbuf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

void kbuf_reset(struct kbuf *b)
{
    b->len = 0;
    b->oom = false;
}

bool kbuf_reserve(struct kbuf *b, size_t n)
{
    if (unlikely(b->oom))
        return false;
    if (b->cap - b->len >= n)
        return true;
    /* a first block of at least KBUF_FIRST_CAP: small messages then
     * never grow again */
    if (n > SIZE_MAX - b->len ||
        !vec_reserve(&b->data, &b->cap, MAX(b->len + n, (size_t)KBUF_FIRST_CAP), 1)) {
        b->oom = true;
        return false;
    }
    return true;
}

size_t kbuf_skip(struct kbuf *b, size_t n)
{
    size_t at = b->len;
    if (kbuf_reserve(b, n)) {
        memset(b->data + b->len, 0, n);
        b->len += n;
    }
    return at;
}

void kbuf_put(struct kbuf *b, const void *p, size_t n)
{
    if (n == 0 || !kbuf_reserve(b, n))
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void kbuf_put_u8(struct kbuf *b, uint8_t v)
{
    if (kbuf_reserve(b, 1))
        b->data[b->len++] = v;
}

void kbuf_put_i16(struct kbuf *b, int16_t v)
{
    if (kbuf_reserve(b, 2)) {
        be16_store(b->data + b->len, (uint16_t)v);
        b->len += 2;
    }
}

void kbuf_put_i32(struct kbuf *b, int32_t v)
{
    if (kbuf_reserve(b, 4)) {
        be32_store(b->data + b->len, (uint32_t)v);
        b->len += 4;
    }
}

void kbuf_put_i64(struct kbuf *b, int64_t v)
{
    if (kbuf_reserve(b, 8)) {
        be64_store(b->data + b->len, (uint64_t)v);
        b->len += 8;
    }
}

void kbuf_patch_i32(struct kbuf *b, size_t at, int32_t v)
{
    if (!b->oom && at + 4 <= b->len)
        be32_store(b->data + at, (uint32_t)v);
}

void kbuf_patch_i16(struct kbuf *b, size_t at, int16_t v)
{
    if (!b->oom && at + 2 <= b->len)
        be16_store(b->data + at, (uint16_t)v);
}

uint8_t *kbuf_steal(struct kbuf *b, size_t *len)
{
    uint8_t *p = b->data;
    *len = b->len;
    memset(b, 0, sizeof(*b));
    return p;
}

void kslice_init(struct kslice *s, const void *p, size_t len)
{
    s->p = p;
    s->len = len;
    s->pos = 0;
    s->err = false;
}

const uint8_t *kslice_take(struct kslice *s, size_t n)
{
    if (unlikely(s->err || s->len - s->pos < n)) {
        s->err = true;
        return NULL;
    }
    const uint8_t *p = s->p + s->pos;
    s->pos += n;
    return p;
}

void kslice_skip(struct kslice *s, size_t n) { (void)kslice_take(s, n); }

uint8_t kslice_u8(struct kslice *s)
{
    const uint8_t *p = kslice_take(s, 1);
    return p ? p[0] : 0;
}

int16_t kslice_i16(struct kslice *s)
{
    const uint8_t *p = kslice_take(s, 2);
    return p ? (int16_t)be16_load(p) : 0;
}

int32_t kslice_i32(struct kslice *s)
{
    const uint8_t *p = kslice_take(s, 4);
    return p ? (int32_t)be32_load(p) : 0;
}

int64_t kslice_i64(struct kslice *s)
{
    const uint8_t *p = kslice_take(s, 8);
    return p ? (int64_t)be64_load(p) : 0;
}
