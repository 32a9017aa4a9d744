/*
 * common/buf.h — the two byte-buffer types of Gregor.
 *
 *   struct kbuf   a growable writer that owns its memory.
 *                 always true: 0 <= len <= cap; data == NULL iff cap == 0.
 *                 An allocation failure sets `oom` and later writes do
 *                 nothing, so encoders check once at the end.
 *   struct kslice a read-only view over bytes it does not own, with its own
 *                 read position and a sticky error: once a read runs past
 *                 the end, `err` is set, every later read returns zero, and
 *                 the decoder checks kslice_ok() once when done.
 *
 * All multi-byte integers are big-endian (the Kafka wire order).
 * Threads: neither type is shared between threads.
 */
#ifndef GREGOR_COMMON_BUF_H
#define GREGOR_COMMON_BUF_H

#include "common/base.h"

struct kbuf {
    uint8_t *data; /* owned; NULL when cap == 0 */
    size_t len;    /* bytes written */
    size_t cap;    /* bytes allocated */
    bool oom;      /* an allocation failed; content is incomplete */
};

void kbuf_init(struct kbuf *b);
/* Frees the memory; the kbuf may be reused after kbuf_init(). */
void kbuf_destroy(struct kbuf *b);
void kbuf_reset(struct kbuf *b); /* len = 0, keeps memory */
/* Makes room for n more bytes; false (and oom set) on failure. */
bool kbuf_reserve(struct kbuf *b, size_t n);
/* Appends n bytes of zeroes and returns their position, for fields patched
 * later (sizes, counts). */
size_t kbuf_skip(struct kbuf *b, size_t n);
void kbuf_put(struct kbuf *b, const void *p, size_t n);
void kbuf_put_u8(struct kbuf *b, uint8_t v);
void kbuf_put_i16(struct kbuf *b, int16_t v);
void kbuf_put_i32(struct kbuf *b, int32_t v);
void kbuf_put_i64(struct kbuf *b, int64_t v);
/* Overwrites 4 bytes at position at (written earlier by kbuf_skip). */
void kbuf_patch_i32(struct kbuf *b, size_t at, int32_t v);
void kbuf_patch_i16(struct kbuf *b, size_t at, int16_t v);
/* Takes the memory out of b (returns new; caller frees) and leaves b empty. */
uint8_t *kbuf_steal(struct kbuf *b, size_t *len);

struct kslice {
    const uint8_t *p; /* borrowed bytes */
    size_t len;       /* bytes in view */
    size_t pos;       /* read position, <= len */
    bool err;         /* sticky: a read ran past the end or a value was bad */
};

void kslice_init(struct kslice *s, const void *p, size_t len);
static inline size_t kslice_remaining(const struct kslice *s) { return s->len - s->pos; }
static inline bool kslice_ok(const struct kslice *s) { return !s->err; }
static inline const uint8_t *kslice_cur(const struct kslice *s) { return s->p + s->pos; }
/* Marks the slice failed (for semantic errors found by a decoder). */
static inline void kslice_fail(struct kslice *s) { s->err = true; }
/* Returns a pointer to the next n bytes and advances, or NULL (err set). */
const uint8_t *kslice_take(struct kslice *s, size_t n);
void kslice_skip(struct kslice *s, size_t n);
uint8_t kslice_u8(struct kslice *s);
int16_t kslice_i16(struct kslice *s);
int32_t kslice_i32(struct kslice *s);
int64_t kslice_i64(struct kslice *s);

/* Raw big-endian loads and stores on memory the caller has bounds-checked. */
static inline uint16_t be16_load(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t be32_load(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t be64_load(const uint8_t *p)
{
    return ((uint64_t)be32_load(p) << 32) | be32_load(p + 4);
}
static inline void be16_store(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void be32_store(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void be64_store(uint8_t *p, uint64_t v)
{
    be32_store(p, (uint32_t)(v >> 32));
    be32_store(p + 4, (uint32_t)v);
}

#endif
