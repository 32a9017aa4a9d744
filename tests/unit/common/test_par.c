/*
 * tests/unit/common/test_par.c — common/par.c: every index runs exactly once
 * across the threads, a failure stops the handing out of indexes, and the
 * thread count is honoured.
 */
#include "common/par.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#define N 2000

struct seen {
    _Atomic int hits[N];
    _Atomic int calls;
    int fail_at; /* index whose call fails, -1 none */
    pthread_mutex_t lock;
    pthread_t threads[PAR_MAX_THREADS + 1];
    int n_threads;
};

static bool visit(void *arg, int i)
{
    struct seen *s = arg;
    atomic_fetch_add(&s->hits[i], 1);
    atomic_fetch_add(&s->calls, 1);
    pthread_mutex_lock(&s->lock);
    bool known = false;
    for (int k = 0; k < s->n_threads && !known; k++)
        known = pthread_equal(s->threads[k], pthread_self());
    if (!known && s->n_threads <= PAR_MAX_THREADS)
        s->threads[s->n_threads++] = pthread_self();
    pthread_mutex_unlock(&s->lock);
    usleep(50); /* long enough for the other threads to take indexes too */
    return i != s->fail_at;
}

static struct seen *seen_new(int fail_at)
{
    struct seen *s = calloc(1, sizeof(*s));
    cr_assert_not_null(s);
    s->fail_at = fail_at;
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

Test(par, every_index_runs_exactly_once_on_several_threads)
{
    struct seen *s = seen_new(-1);
    cr_assert(par_for(N, 4, visit, s));
    for (int i = 0; i < N; i++)
        cr_assert_eq(atomic_load(&s->hits[i]), 1, "index %d ran %d times", i,
                     atomic_load(&s->hits[i]));
    cr_assert_gt(s->n_threads, 1, "the work was spread over threads");
    cr_assert_leq(s->n_threads, 4);
    free(s);
}

Test(par, one_thread_runs_on_the_caller)
{
    struct seen *s = seen_new(-1);
    cr_assert(par_for(10, 1, visit, s));
    cr_assert_eq(s->n_threads, 1);
    cr_assert(pthread_equal(s->threads[0], pthread_self()));
    cr_assert_eq(atomic_load(&s->calls), 10);
    free(s);
}

Test(par, a_failure_stops_handing_out_indexes)
{
    struct seen *s = seen_new(5);
    cr_assert_not(par_for(N, 2, visit, s));
    cr_assert_eq(atomic_load(&s->hits[5]), 1);
    cr_assert_lt(atomic_load(&s->calls), N, "indexes after the failure were not all run");
    free(s);
}

Test(par, nothing_to_do_and_absurd_thread_counts)
{
    struct seen *s = seen_new(-1);
    cr_assert(par_for(0, 8, visit, s));
    cr_assert_eq(atomic_load(&s->calls), 0);
    cr_assert(par_for(3, 0, visit, s));
    cr_assert(par_for(N, 100000, visit, s));
    cr_assert_leq(s->n_threads, PAR_MAX_THREADS);
    cr_assert_eq(atomic_load(&s->calls), 3 + N);
    free(s);
}
