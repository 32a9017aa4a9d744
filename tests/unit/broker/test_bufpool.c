/*
 * tests/unit/broker/test_bufpool.c — broker/net/bufpool.c: frame buffers are
 * reused within their size class (most recently cached first), the cache
 * stays within its byte and slot bounds by evicting the oldest buffers, a
 * buffer larger than the bound is never kept, and a worker's pool
 * (bufpool_of) lives until worker_free(). Every call runs on a real worker's
 * thread, as the pool asserts.
 */
#include "broker/net/bufpool.h"
#include "common/loop/worker.h"

#include <criterion/criterion.h>
#include <event2/thread.h>
#include <string.h>

static void setup(void) { cr_assert_eq(evthread_use_pthreads(), 0); }

TestSuite(bufpool, .init = setup, .timeout = 30);

#define MIB ((size_t)1 << 20)

/* What a scenario saw on the worker; checked on the test's thread. */
struct seen {
    struct worker *w;
    bool ok[16];
    struct bufpool_stats st[4];
};

static void run_on(struct worker *w, void (*fn)(void *), struct seen *s)
{
    s->w = w;
    cr_assert(worker_post(w, fn, s));
    cr_assert(worker_sync(w));
}

static void reuse_job(void *arg)
{
    struct seen *s = arg;
    struct bufpool *pool = bufpool_new(s->w, 16 * MIB);
    uint8_t *a = bufpool_get(pool, 1000);
    memset(a, 1, 1000);
    bufpool_put(pool, a);
    uint8_t *b = bufpool_get(pool, 4096); /* same 4 KiB class */
    memset(b, 2, 4096);
    s->ok[0] = a == b;
    uint8_t *big = bufpool_get(pool, MIB + 100);
    memset(big, 3, MIB + 100);
    bufpool_put(pool, big);
    uint8_t *big2 = bufpool_get(pool, MIB + 200); /* same 1.25 MiB class */
    memset(big2, 4, MIB + 200);
    s->ok[1] = big2 == big;
    bufpool_put(pool, big2);
    uint8_t *one = bufpool_get(pool, MIB); /* the 1 MiB class: not that buffer */
    memset(one, 5, MIB);
    s->ok[2] = one != big2;
    uint8_t *c = bufpool_get(pool, 1280 * 1024 + 1); /* 1.5 MiB class */
    s->ok[3] = c != big2;
    uint8_t *zero = bufpool_get(pool, 0);
    s->ok[4] = zero != NULL;
    bufpool_get_stats(pool, &s->st[0]);
    bufpool_put(pool, one);
    bufpool_put(pool, c);
    bufpool_put(pool, b);
    bufpool_put(pool, zero);
    bufpool_put(pool, NULL);
    bufpool_get_stats(pool, &s->st[1]);
    bufpool_free(pool);
}

Test(bufpool, reuses_buffers_of_the_same_class)
{
    struct worker *w = worker_new("pool");
    cr_assert_not_null(w);
    struct seen s = {0};
    run_on(w, reuse_job, &s);
    worker_free(w);
    cr_assert(s.ok[0], "a 1000-byte buffer serves a 4096-byte frame");
    cr_assert(s.ok[1], "1 MiB + 100 and 1 MiB + 200 share a buffer");
    cr_assert(s.ok[2] && s.ok[3], "other classes get other buffers");
    cr_assert(s.ok[4]);
    cr_assert_eq(s.st[0].gets, 7);
    cr_assert_eq(s.st[0].hits, 2);
    cr_assert_eq(s.st[0].cached, 1); /* big2 */
    cr_assert_eq(s.st[1].cached, 5);
    cr_assert_eq(s.st[1].cached_bytes, 1280 * 1024 + MIB + 1536 * 1024 + 4096 + 4096);
}

static void bound_job(void *arg)
{
    struct seen *s = arg;
    struct bufpool *pool = bufpool_new(s->w, 3 * MIB);
    uint8_t *b[3];
    for (int i = 0; i < 3; i++)
        b[i] = bufpool_get(pool, MIB + 1); /* 1.25 MiB each */
    for (int i = 0; i < 3; i++)
        bufpool_put(pool, b[i]); /* the third evicts the first */
    bufpool_get_stats(pool, &s->st[0]);
    uint8_t *again = bufpool_get(pool, MIB + 1);
    s->ok[0] = again == b[2]; /* the most recently cached */
    bufpool_put(pool, again);
    uint8_t *huge = bufpool_get(pool, 4 * MIB); /* larger than the bound */
    memset(huge, 0, 4 * MIB);
    bufpool_put(pool, huge);
    bufpool_get_stats(pool, &s->st[1]);
    uint8_t *small[BUFPOOL_SLOTS + 4];
    for (int i = 0; i < BUFPOOL_SLOTS + 4; i++)
        small[i] = bufpool_get(pool, 100);
    for (int i = 0; i < BUFPOOL_SLOTS + 4; i++)
        bufpool_put(pool, small[i]);
    bufpool_get_stats(pool, &s->st[2]);
    bufpool_free(pool);
}

Test(bufpool, stays_within_its_bounds)
{
    struct worker *w = worker_new("pool");
    cr_assert_not_null(w);
    struct seen s = {0};
    run_on(w, bound_job, &s);
    worker_free(w);
    cr_assert_eq(s.st[0].cached, 2);
    cr_assert_eq(s.st[0].cached_bytes, 2 * 1280 * 1024);
    cr_assert_eq(s.st[0].evicted, 1);
    cr_assert(s.ok[0], "the warmest buffer of the class is taken");
    cr_assert_eq(s.st[1].cached, 2, "a buffer above the bound is freed, not kept");
    cr_assert_eq(s.st[1].evicted, 1);
    cr_assert_eq(s.st[2].cached, BUFPOOL_SLOTS);
    cr_assert_leq(s.st[2].cached_bytes, 3 * MIB);
}

static void of_job(void *arg)
{
    struct seen *s = arg;
    struct bufpool *pool = bufpool_of(s->w);
    s->ok[0] = pool && bufpool_of(s->w) == pool;
    /* a buffer left cached: worker_free() must free it with the pool (ASan) */
    bufpool_put(pool, bufpool_get(pool, 64 * 1024));
    bufpool_get_stats(pool, &s->st[0]);
}

Test(bufpool, a_workers_pool_lives_until_worker_free)
{
    struct worker *w = worker_new("pool");
    cr_assert_not_null(w);
    struct seen s = {0};
    run_on(w, of_job, &s);
    cr_assert(s.ok[0]);
    cr_assert_eq(s.st[0].cached, 1);
    worker_free(w);
}
