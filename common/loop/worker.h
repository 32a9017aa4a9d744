/*
 * common/loop/worker.h — one thread running one libevent event_base, plus a
 * mailbox so other threads can hand it work.
 *
 * Used for the network loops (num.network.threads of them), the admin loop
 * and the background loop. A job posted with worker_post() runs on the
 * worker's thread, in posting order, at the next loop turn.
 */
#ifndef GREGOR_COMMON_LOOP_WORKER_H
#define GREGOR_COMMON_LOOP_WORKER_H

#include <stdbool.h>

struct event_base;
struct worker;

typedef void (*worker_job_cb)(void *arg);

/* Creates the event_base and starts the thread; returns new, NULL on failure. */
struct worker *worker_new(const char *name);
/* Stops the loop after the jobs already posted, joins the thread and frees it. NULL ok. */
void worker_free(struct worker *w);
/* Returns borrowed: the worker's base (touch it only from the worker's thread,
 * except for thread-safe libevent calls such as event_active()). */
struct event_base *worker_base(struct worker *w);
/* Runs fn(arg) on the worker's thread. Any thread. Returns false if out of memory. */
bool worker_post(struct worker *w, worker_job_cb fn, void *arg);
/* Waits until w has run every job posted before this call (a barrier). Not
 * on w's own thread. False, without waiting, when out of memory. */
bool worker_sync(struct worker *w);
/* True when called on w's own thread (in worker_free(), once the thread has
 * stopped: on the freeing thread, which runs the jobs left over). */
bool worker_is_current(const struct worker *w);
const char *worker_name(const struct worker *w);
/* Attaches ptr to w (whose slot must be empty): worker_local()
 * returns it, and worker_free() calls free_fn(ptr) after the last job has run.
 * One slot, for the per-loop state of whoever runs connections on w (the
 * network layer's buffer cache, broker/net/bufpool.h). On w's thread. */
void worker_set_local(struct worker *w, void *ptr, void (*free_fn)(void *ptr));
/* Returns borrowed: what worker_set_local() attached, or NULL. On w's thread. */
void *worker_local(const struct worker *w);

#endif
