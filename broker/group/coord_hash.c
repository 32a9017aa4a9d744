/*
 * broker/group/coord_hash.c — Java's String.hashCode over UTF-8 input, and Kafka's group to
 * `__consumer_offsets` partition mapping built on it (coord_hash.h has the formulas).
 *
 * The UTF-8 decoder accepts the shortest forms of U+0000..U+10FFFF except the surrogate range;
 * each malformed sequence (bad lead byte, missing continuation, overlong form, surrogate, value
 * above U+10FFFF) counts as one U+FFFD for the lead byte and decoding resumes at the next byte.
 * Threads: none.
 */
#include "broker/group/coord_hash.h"

#define REPLACEMENT 0xFFFDu

/* Decodes one code point at p[*i..len) and advances *i past it. */
static uint32_t utf8_next(const unsigned char *p, size_t len, size_t *i)
{
    unsigned char c = p[*i];
    uint32_t cp, min;
    size_t need;
    if (c < 0x80) {
        (*i)++;
        return c;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1, cp = c & 0x1Fu, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2, cp = c & 0x0Fu, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3, cp = c & 0x07u, min = 0x10000;
    } else {
        (*i)++;
        return REPLACEMENT;
    }
    if (len - *i - 1 < need) {
        (*i)++;
        return REPLACEMENT;
    }
    for (size_t k = 1; k <= need; k++) {
        unsigned char cc = p[*i + k];
        if ((cc & 0xC0) != 0x80) {
            (*i)++;
            return REPLACEMENT;
        }
        cp = (cp << 6) | (cc & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        (*i)++;
        return REPLACEMENT;
    }
    *i += need + 1;
    return cp;
}

int32_t coord_java_hash(const char *p, size_t len)
{
    const unsigned char *u = (const unsigned char *)p;
    uint32_t h = 0; /* unsigned: the wrap-around is Java's int overflow */
    size_t i = 0;
    while (i < len) {
        uint32_t cp = utf8_next(u, len, &i);
        if (cp > 0xFFFF) {
            cp -= 0x10000;
            h = 31u * h + (0xD800u + (cp >> 10));
            h = 31u * h + (0xDC00u + (cp & 0x3FFu));
        } else {
            h = 31u * h + cp;
        }
    }
    return (int32_t)h;
}

int32_t coord_partition_for(const char *p, size_t len, int32_t partitions)
{
    int32_t h = coord_java_hash(p, len);
    /* Utils.abs: Math.abs, with INT32_MIN (whose absolute value does not fit) as 0 */
    uint32_t a = h == INT32_MIN ? 0u : h < 0 ? (uint32_t)-h : (uint32_t)h;
    return (int32_t)(a % (uint32_t)partitions);
}
