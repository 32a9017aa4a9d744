/*
 * common/par.c — the parallel for-loop of par.h: a shared atomic cursor and
 * a failed flag; threads are created per call and joined before it returns.
 */
#include "common/par.h"
#include "common/base.h"

#include <pthread.h>
#include <stdatomic.h>

struct par_job {
    int n;
    bool (*fn)(void *ctx, int i);
    void *ctx;
    _Atomic int next;
    _Atomic bool failed;
};

static void *par_worker(void *arg)
{
    struct par_job *j = arg;
    int i;
    while (!atomic_load(&j->failed) && (i = atomic_fetch_add(&j->next, 1)) < j->n)
        if (!j->fn(j->ctx, i))
            atomic_store(&j->failed, true);
    return NULL;
}

bool par_for(int n, int threads, bool (*fn)(void *ctx, int i), void *ctx)
{
    struct par_job j = {.n = n, .fn = fn, .ctx = ctx};
    pthread_t tids[PAR_MAX_THREADS - 1];
    int want = MAX(1, MIN(MIN(threads, n), PAR_MAX_THREADS)), started = 0;
    atomic_init(&j.next, 0);
    atomic_init(&j.failed, false);
    while (started < want - 1 && pthread_create(&tids[started], NULL, par_worker, &j) == 0)
        started++;
    par_worker(&j);
    for (int i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    return !atomic_load(&j.failed);
}
