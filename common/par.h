/*
 * common/par.h — a parallel for-loop over [0, n) on a few short-lived
 * threads: each thread (the caller's included) takes the next index until
 * none is left or a call failed. Used where independent start-up work
 * (opening topics and their partition logs) is spread over
 * num.recovery.threads.per.data.dir threads.
 *
 * Threads: par_for() blocks until every thread it started has joined; fn
 * runs on any of them, so it may only touch state that is distinct per
 * index or safe to share.
 */
#ifndef GREGOR_COMMON_PAR_H
#define GREGOR_COMMON_PAR_H

#include <stdbool.h>

/* At most this many threads run one par_for() (the caller's included). */
#define PAR_MAX_THREADS 64

/* fn(ctx, i) for every i in [0, n) on up to `threads` threads (at most
 * PAR_MAX_THREADS; fewer when thread creation fails — the work still gets
 * done). After a call returns false no further index is handed out. true
 * when every index was run and returned true. */
bool par_for(int n, int threads, bool (*fn)(void *ctx, int i), void *ctx);

#endif
