/*
 * common/kwire.h — Kafka wire primitives on top of kbuf/kslice.
 *
 * Each string/bytes/array primitive takes `flex`: false = classic encoding
 * (INT16/INT32 length, -1 = null), true = compact encoding of flexible
 * versions (UNSIGNED_VARINT length+1, 0 = null). The compact/classic choice
 * therefore lives here, never in a handler (KIP-482, docs/protocol.md
 * §1.2-1.4). Varint/varlong are the zigzag forms used inside records.
 *
 * Readers never allocate: strings come back as (pointer, length) views into
 * the slice. Counts read from the wire are bounded by the bytes remaining
 * (each element needs at least `min_elem` bytes) before anyone allocates.
 */
#ifndef GREGOR_COMMON_KWIRE_H
#define GREGOR_COMMON_KWIRE_H

#include "common/buf.h"

/* A borrowed string view; ptr == NULL means null. Not NUL-terminated. */
struct kstr {
    const char *ptr;
    int32_t len;
};

static inline bool kstr_is_null(struct kstr s) { return s.ptr == NULL; }
/* Compares a view with a NUL-terminated string. */
bool kstr_eq(struct kstr s, const char *z);
/* Copies into dst (size n), NUL-terminated; false if it does not fit or null. */
bool kstr_copy(struct kstr s, char *dst, size_t n);
/* Returns a new NUL-terminated copy of s (malloc; the caller frees it), or
 * NULL when s is null or memory is short. A NUL inside s is copied too. */
char *kstr_dup(struct kstr s);

/* --- unsigned and zigzag varints --- */
void kbuf_put_uvarint(struct kbuf *b, uint64_t v);
void kbuf_put_varint(struct kbuf *b, int32_t v);
void kbuf_put_varlong(struct kbuf *b, int64_t v);
uint64_t kslice_uvarint(struct kslice *s); /* max 10 bytes */
int32_t kslice_varint(struct kslice *s);   /* max 5 bytes */
int64_t kslice_varlong(struct kslice *s);  /* max 10 bytes */
size_t uvarint_size(uint64_t v);
size_t varint_size(int32_t v);
size_t varlong_size(int64_t v);

/* --- strings, bytes, arrays --- */
void kw_put_str(struct kbuf *b, bool flex, const char *z); /* non-null */
void kw_put_strn(struct kbuf *b, bool flex, const char *p, size_t n);
void kw_put_nstr(struct kbuf *b, bool flex, const char *z);             /* NULL -> null */
void kw_put_kstr(struct kbuf *b, bool flex, struct kstr s);             /* null-aware */
void kw_put_bytes(struct kbuf *b, bool flex, const void *p, int32_t n); /* n < 0 -> null */
/* Writes an array count (n < 0 -> null). */
void kw_put_array_len(struct kbuf *b, bool flex, int32_t n);
/* Reserves room for an array count patched later with kw_patch_array_len();
 * compact counts are reserved as a 5-byte padded uvarint (valid LEB128). */
size_t kw_reserve_array_len(struct kbuf *b, bool flex);
void kw_patch_array_len(struct kbuf *b, bool flex, size_t at, int32_t n);
/* Writes an empty tagged-field section when flex. */
void kw_put_tags(struct kbuf *b, bool flex);

struct kstr kw_get_str(struct kslice *s, bool flex); /* null allowed: ptr == NULL */
/* Reads bytes; returns a view (ptr NULL for null) and its length in *n. */
const uint8_t *kw_get_bytes(struct kslice *s, bool flex, int32_t *n);
/* Reads an array count: -1 for null, else 0..; fails the slice when the
 * count cannot fit in the remaining bytes at min_elem bytes each. */
int32_t kw_get_array_len(struct kslice *s, bool flex, size_t min_elem);
/* Skips a tagged-field section when flex (unknown tags are ignored). */
void kw_skip_tags(struct kslice *s, bool flex);

#endif
