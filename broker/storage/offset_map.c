/*
 * broker/storage/offset_map.c — open-addressing hash table of key hashes to
 * offsets (see offset_map.h). Slot layout (24 bytes, host order, memory
 * only): h1 u64, h2 u64, offset i64; offset -1 marks an empty slot.
 * Probing is linear from h1 modulo the slot count.
 *
 * The two 64-bit halves of the key hash come from one pass of a
 * multiply-xorshift mix over 8-byte words with two different seeds.
 */
#include "broker/storage/offset_map.h"

#include <stdlib.h>
#include <string.h>

struct slot {
    uint64_t h1, h2;
    int64_t offset; /* -1: empty */
};

/* Created by offset_map_new(), freed by offset_map_free(); one thread. */
struct offset_map {
    struct slot *slots; /* owned, nslots */
    int64_t nslots;
    int64_t used;
    int64_t max_used; /* nslots x load factor */
    int64_t latest;
};

static inline uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v * 0x9E3779B97F4A7C15ULL;
    h = (h ^ (h >> 29)) * 0xBF58476D1CE4E5B9ULL;
    return h ^ (h >> 32);
}

static inline uint64_t finish(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDULL;
    h ^= h >> 33;
    h *= 0xC4CEB9FE1A85EC53ULL;
    return h ^ (h >> 33);
}

static void key_hash(const uint8_t *key, size_t len, uint64_t *h1, uint64_t *h2)
{
    uint64_t a = 0x243F6A8885A308D3ULL ^ len, b = 0x13198A2E03707344ULL ^ (len * 31);
    size_t i = 0;

    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, key + i, 8);
        a = mix(a, w);
        b = mix(b ^ 0xA4093822299F31D0ULL, w + 0x082EFA98EC4E6C89ULL);
    }
    if (i < len) {
        uint64_t w = 0;
        memcpy(&w, key + i, len - i);
        a = mix(a, w ^ 0x5555);
        b = mix(b ^ 0xA4093822299F31D0ULL, w + 0x452821E638D01377ULL);
    }
    *h1 = finish(a);
    *h2 = finish(b ^ *h1);
}

struct offset_map *offset_map_new(int64_t memory_bytes)
{
    struct offset_map *m = calloc(1, sizeof(*m));
    int64_t n = memory_bytes / (int64_t)sizeof(struct slot);

    if (!m)
        return NULL;
    m->nslots = MAX(n, 16);
    m->max_used = (int64_t)((double)m->nslots * OFFSET_MAP_LOAD_FACTOR);
    m->slots = malloc((size_t)m->nslots * sizeof(struct slot));
    if (!m->slots) {
        free(m);
        return NULL;
    }
    offset_map_clear(m);
    return m;
}

void offset_map_free(struct offset_map *m)
{
    if (!m)
        return;
    free(m->slots);
    free(m);
}

void offset_map_clear(struct offset_map *m)
{
    for (int64_t i = 0; i < m->nslots; i++)
        m->slots[i].offset = -1;
    m->used = 0;
    m->latest = -1;
}

/* The slot holding (h1, h2), or the empty slot where it would go. */
static struct slot *probe(const struct offset_map *m, uint64_t h1, uint64_t h2)
{
    int64_t i = (int64_t)(h1 % (uint64_t)m->nslots);

    for (;;) {
        struct slot *s = &m->slots[i];
        if (s->offset < 0 || (s->h1 == h1 && s->h2 == h2))
            return s;
        if (++i == m->nslots)
            i = 0;
    }
}

bool offset_map_put(struct offset_map *m, const uint8_t *key, size_t key_len, int64_t offset)
{
    uint64_t h1, h2;
    struct slot *s;

    key_hash(key, key_len, &h1, &h2);
    s = probe(m, h1, h2);
    if (s->offset < 0) {
        if (m->used >= m->max_used)
            return false;
        m->used++;
        s->h1 = h1;
        s->h2 = h2;
    }
    s->offset = offset;
    if (offset > m->latest)
        m->latest = offset;
    return true;
}

int64_t offset_map_get(const struct offset_map *m, const uint8_t *key, size_t key_len)
{
    uint64_t h1, h2;

    key_hash(key, key_len, &h1, &h2);
    return probe(m, h1, h2)->offset;
}

int64_t offset_map_size(const struct offset_map *m) { return m->used; }
int64_t offset_map_slots(const struct offset_map *m) { return m->max_used; }
bool offset_map_full(const struct offset_map *m, int64_t n) { return m->used + n > m->max_used; }
int64_t offset_map_latest(const struct offset_map *m) { return m->latest; }
