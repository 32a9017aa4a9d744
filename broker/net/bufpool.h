/*
 * broker/net/bufpool.h — a network loop's cache of request frame buffers.
 *
 * conn.c takes each request frame's buffer from its loop's pool and gives it
 * back when the request is freed, so a steady stream of large requests
 * reuses warm memory instead of a malloc and free (and, for large frames,
 * an mmap, page faults and munmap) per request. Loop-owned: a pool is used
 * only on the thread of the worker it belongs to, without locks.
 */
#ifndef GREGOR_BROKER_NET_BUFPOOL_H
#define GREGOR_BROKER_NET_BUFPOOL_H

#include <stddef.h>
#include <stdint.h>

struct worker;
struct bufpool;

/* What a pool did so far; for tests and logs. */
struct bufpool_stats {
    uint64_t gets;       /* bufpool_get() calls that returned a buffer */
    uint64_t hits;       /* of those, served from the cache */
    uint64_t evicted;    /* cached buffers freed to make room */
    size_t cached_bytes; /* capacity of the buffers cached now */
    int cached;          /* how many are cached now */
};

/* Returns new: an empty pool for worker w that keeps at most max_bytes of
 * idle buffers (in at most BUFPOOL_SLOTS buffers); NULL on OOM. Use it only
 * on w's thread. */
struct bufpool *bufpool_new(struct worker *w, size_t max_bytes);
/* Frees the pool and its cached buffers (not those still out). NULL ok. */
void bufpool_free(struct bufpool *pool);

/* Returns borrowed: worker w's pool (BUFPOOL_DEFAULT_BYTES), made on first
 * use and freed by worker_free() after its last job (common/loop/worker.h).
 * On w's thread. NULL on OOM. */
struct bufpool *bufpool_of(struct worker *w);

/* Returns new: a buffer with room for at least size bytes (size 0 is fine),
 * a cached one of the same size class when there is one; NULL on OOM. Free
 * it with bufpool_put() on the same pool. On the pool's thread. */
void *bufpool_get(struct bufpool *pool, size_t size);
/* Takes buf (from bufpool_get() on this pool, or NULL): keeps it for reuse,
 * making room by freeing the least recently cached buffers, or frees it when
 * it alone is larger than the pool's bound. On the pool's thread. */
void bufpool_put(struct bufpool *pool, void *buf);

void bufpool_get_stats(const struct bufpool *pool, struct bufpool_stats *out);

#define BUFPOOL_SLOTS 16                 /* most buffers one pool keeps */
#define BUFPOOL_DEFAULT_BYTES (8u << 20) /* bufpool_of(): idle bytes per loop */

#endif
