/*
 * broker/net/bufpool.c — a network loop's cache of request frame buffers
 * (bufpool.h).
 *
 * Buffer layout: [struct bufhdr: capacity, magic][capacity bytes], and
 * bufpool_get() returns the address after the header. Capacities are size
 * classes, so that frames of nearly the same size share buffers: 4 KiB for
 * anything up to 4 KiB, then four classes per doubling (5, 6, 7, 8 KiB,
 * 10, 12, 14, 16 KiB, ..., 1.25 MiB, 1.5 MiB, ...), which wastes at most a
 * quarter of a buffer. A buffer is reused only for a frame of its own
 * class. A frame larger than the pool's bound gets a buffer of its exact
 * size, freed when it comes back.
 *
 * The cache is a small array of slots (BUFPOOL_SLOTS), each stamped with
 * when it was put back: bufpool_get() takes the most recently cached buffer
 * of the class (its pages are the warmest), bufpool_put() evicts the least
 * recently cached ones until the new buffer fits in max_bytes. The scans
 * are over 16 entries, nothing next to the syscalls of a request.
 *
 * Threads: loop-owned, like the connections that use it (worker_is_current
 * is asserted on every call).
 */
#include "broker/net/bufpool.h"
#include "common/base.h"
#include "common/loop/worker.h"

#include <stdalign.h>
#include <stdbool.h>
#include <stdlib.h>

#define BUFPOOL_MIN_CLASS_BYTES 4096u
#define BUFHDR_MAGIC ((size_t)0x6b6275667030ULL) /* marks a buffer of ours */

struct bufhdr {
    alignas(16) size_t cap; /* bytes after the header */
    size_t magic;           /* BUFHDR_MAGIC while out or cached */
};

struct bufslot {
    struct bufhdr *hdr; /* NULL: empty slot */
    uint64_t stamp;     /* pool clock when cached */
};

struct bufpool {
    struct worker *w; /* borrowed: the loop this pool belongs to */
    size_t max_bytes; /* bound on cached_bytes */
    uint64_t clock;   /* ++ on every put */
    struct bufslot slot[BUFPOOL_SLOTS];
    struct bufpool_stats stats;
};

/* The size class capacity for a frame of size bytes. */
static size_t bufpool_class_cap(size_t size)
{
    if (size <= BUFPOOL_MIN_CLASS_BYTES)
        return BUFPOOL_MIN_CLASS_BYTES;
    int e = 63 - __builtin_clzll((unsigned long long)(size - 1)); /* 2^e < size <= 2^(e+1) */
    size_t step = (size_t)1 << (e - 2);
    size_t base = (size_t)1 << e;
    return base + (size - base + step - 1) / step * step;
}

struct bufpool *bufpool_new(struct worker *w, size_t max_bytes)
{
    struct bufpool *pool = calloc(1, sizeof(*pool));
    if (!pool)
        return NULL;
    pool->w = w;
    pool->max_bytes = max_bytes;
    return pool;
}

void bufpool_free(struct bufpool *pool)
{
    if (!pool)
        return;
    for (int i = 0; i < BUFPOOL_SLOTS; i++)
        free(pool->slot[i].hdr);
    free(pool);
}

static void bufpool_free_cb(void *pool) { bufpool_free(pool); }

struct bufpool *bufpool_of(struct worker *w)
{
    struct bufpool *pool = worker_local(w);
    if (pool)
        return pool;
    pool = bufpool_new(w, BUFPOOL_DEFAULT_BYTES);
    if (pool)
        worker_set_local(w, pool, bufpool_free_cb);
    return pool;
}

void *bufpool_get(struct bufpool *pool, size_t size)
{
    KASSERT(worker_is_current(pool->w));
    /* a frame larger than the cache is never kept: no rounding up for it */
    size_t cap = size > pool->max_bytes ? size : bufpool_class_cap(size);
    struct bufslot *best = NULL;
    for (int i = 0; i < BUFPOOL_SLOTS; i++) {
        struct bufslot *s = &pool->slot[i];
        if (s->hdr && s->hdr->cap == cap && (!best || s->stamp > best->stamp))
            best = s;
    }
    struct bufhdr *hdr;
    if (best) {
        hdr = best->hdr;
        best->hdr = NULL;
        pool->stats.cached--;
        pool->stats.cached_bytes -= cap;
        pool->stats.hits++;
    } else {
        if (cap > SIZE_MAX - sizeof(*hdr) || !(hdr = malloc(sizeof(*hdr) + cap)))
            return NULL;
        hdr->cap = cap;
        hdr->magic = BUFHDR_MAGIC;
    }
    pool->stats.gets++;
    return hdr + 1;
}

/* Frees the least recently cached buffer. */
static void bufpool_evict_oldest(struct bufpool *pool)
{
    struct bufslot *old = NULL;
    for (int i = 0; i < BUFPOOL_SLOTS; i++) {
        struct bufslot *s = &pool->slot[i];
        if (s->hdr && (!old || s->stamp < old->stamp))
            old = s;
    }
    KASSERT(old);
    pool->stats.cached--;
    pool->stats.cached_bytes -= old->hdr->cap;
    pool->stats.evicted++;
    free(old->hdr);
    old->hdr = NULL;
}

void bufpool_put(struct bufpool *pool, void *buf)
{
    KASSERT(worker_is_current(pool->w));
    if (!buf)
        return;
    struct bufhdr *hdr = (struct bufhdr *)buf - 1;
    KASSERT(hdr->magic == BUFHDR_MAGIC);
    if (hdr->cap > pool->max_bytes) {
        free(hdr);
        return;
    }
    while (pool->stats.cached == BUFPOOL_SLOTS ||
           pool->stats.cached_bytes + hdr->cap > pool->max_bytes)
        bufpool_evict_oldest(pool);
    for (int i = 0; i < BUFPOOL_SLOTS; i++) {
        struct bufslot *s = &pool->slot[i];
        if (!s->hdr) {
            s->hdr = hdr;
            s->stamp = ++pool->clock;
            pool->stats.cached++;
            pool->stats.cached_bytes += hdr->cap;
            return;
        }
    }
}

void bufpool_get_stats(const struct bufpool *pool, struct bufpool_stats *out)
{
    *out = pool->stats;
}
