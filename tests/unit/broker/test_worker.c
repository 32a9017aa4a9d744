/*
 * tests/unit/broker/test_worker.c — common/loop/worker.c: jobs posted from
 * any thread run on the worker's own thread, each exactly once, in posting
 * order per poster; a job may post more; worker_free() still runs what was
 * posted before it.
 */
#include "common/loop/worker.h"

#include <criterion/criterion.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

static void setup(void) { cr_assert_eq(evthread_use_pthreads(), 0); }

TestSuite(worker, .init = setup, .timeout = 30);

enum { POSTERS = 4, PER_POSTER = 2000 };

/* What the jobs saw; written only on the worker thread. */
static struct {
    struct worker *w;
    int64_t next[POSTERS]; /* the sequence number each poster's next job must have */
    long ran;
    long out_of_order;
    long off_thread;
    atomic_long done;
    atomic_long post_failed; /* Criterion asserts only on the test's thread */
} seen;

struct job_arg {
    int poster;
    int64_t seq;
};

static struct job_arg args[POSTERS][PER_POSTER];

static void record_job(void *arg)
{
    struct job_arg *a = arg;
    if (!worker_is_current(seen.w))
        seen.off_thread++;
    if (a->seq != seen.next[a->poster])
        seen.out_of_order++;
    seen.next[a->poster] = a->seq + 1;
    seen.ran++;
    atomic_fetch_add(&seen.done, 1);
}

static void *poster_main(void *arg)
{
    int poster = (int)(intptr_t)arg;
    for (int i = 0; i < PER_POSTER; i++) {
        args[poster][i] = (struct job_arg){poster, i};
        if (!worker_post(seen.w, record_job, &args[poster][i]))
            atomic_fetch_add(&seen.post_failed, 1);
    }
    return NULL;
}

static void wait_done(long n)
{
    for (int i = 0; i < 10000 && atomic_load(&seen.done) < n; i++)
        usleep(1000);
}

Test(worker, jobs_from_many_threads_run_once_in_order_on_the_worker)
{
    memset(&seen, 0, sizeof(seen));
    seen.w = worker_new("test");
    cr_assert_not_null(seen.w);
    cr_assert_str_eq(worker_name(seen.w), "test");
    cr_assert_not(worker_is_current(seen.w));
    pthread_t th[POSTERS];
    for (int i = 0; i < POSTERS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, poster_main, (void *)(intptr_t)i), 0);
    for (int i = 0; i < POSTERS; i++)
        pthread_join(th[i], NULL);
    cr_assert_eq(atomic_load(&seen.post_failed), 0);
    wait_done(POSTERS * PER_POSTER);
    cr_assert_eq(atomic_load(&seen.done), POSTERS * PER_POSTER);
    worker_free(seen.w);
    cr_assert_eq(seen.ran, POSTERS * PER_POSTER);
    cr_assert_eq(seen.off_thread, 0);
    cr_assert_eq(seen.out_of_order, 0);
    for (int i = 0; i < POSTERS; i++)
        cr_assert_eq(seen.next[i], PER_POSTER);
}

static void slow_job(void *arg)
{
    usleep(200);
    record_job(arg);
}

Test(worker, free_runs_everything_posted_before_it)
{
    memset(&seen, 0, sizeof(seen));
    seen.w = worker_new("test");
    cr_assert_not_null(seen.w);
    for (int i = 0; i < 200; i++) {
        args[0][i] = (struct job_arg){0, i};
        cr_assert(worker_post(seen.w, slow_job, &args[0][i]));
    }
    worker_free(seen.w); /* at once: most jobs are still queued */
    cr_assert_eq(seen.ran, 200);
    cr_assert_eq(seen.out_of_order, 0);
    cr_assert_eq(seen.off_thread, 0);
}

static atomic_int chain_left, chain_ran, chain_post_failed;

static void chain_job(void *arg)
{
    struct worker *w = arg;
    atomic_fetch_add(&chain_ran, 1);
    if (atomic_fetch_sub(&chain_left, 1) > 1 && !worker_post(w, chain_job, w))
        atomic_fetch_add(&chain_post_failed, 1);
}

Test(worker, a_job_may_post_the_next_one)
{
    struct worker *w = worker_new("test");
    cr_assert_not_null(w);
    chain_left = 50;
    chain_ran = 0;
    cr_assert(worker_post(w, chain_job, w));
    for (int i = 0; i < 5000 && atomic_load(&chain_left) > 0; i++)
        usleep(1000);
    worker_free(w);
    cr_assert_eq(atomic_load(&chain_post_failed), 0);
    cr_assert_eq(atomic_load(&chain_ran), 50);
}

static void slow_flag_job(void *arg)
{
    usleep(50 * 1000);
    atomic_store((atomic_int *)arg, 1);
}

Test(worker, sync_returns_after_every_job_posted_before_it)
{
    struct worker *w = worker_new("sync");
    cr_assert_not_null(w);
    atomic_int done = 0;
    cr_assert(worker_post(w, slow_flag_job, &done));
    cr_assert(worker_sync(w));
    cr_assert_eq(atomic_load(&done), 1, "the slow job ran before worker_sync() returned");
    worker_free(w);
}
