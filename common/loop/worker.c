/*
 * common/loop/worker.c — a thread with its own event_base and a mailbox.
 *
 * The mailbox is a mutex-protected FIFO of (fn, arg) jobs and one persistent
 * event that posters make active with event_active() (thread-safe once
 * evthread_use_pthreads() was called in main). The loop drains the whole
 * queue in one turn. worker_free() posts a stop job so everything posted
 * before it still runs. One slot of loop-local state (worker_set_local())
 * is freed after those last jobs, so they may still use it.
 */
#include "common/loop/worker.h"
#include "common/base.h"
#include "common/say.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct job {
    worker_job_cb fn;
    void *arg;
    struct job *next;
};

struct worker {
    char name[32];
    struct event_base *base; /* owned; run only on thread */
    struct event *wake;      /* owned; persistent, activated by worker_post() */
    pthread_t thread;
    pthread_mutex_t lock; /* guards head/tail */
    struct job *head, *tail;
    bool started;
    void *local;                     /* worker_set_local(); touched on the thread only */
    void (*local_free)(void *local); /* frees local in worker_free() */
};

static void worker_wake_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    pthread_mutex_lock(&w->lock);
    struct job *j = w->head;
    w->head = w->tail = NULL;
    pthread_mutex_unlock(&w->lock);
    while (j) {
        struct job *next = j->next;
        j->fn(j->arg);
        free(j);
        j = next;
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

struct worker *worker_new(const char *name)
{
    struct worker *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    snprintf(w->name, sizeof(w->name), "%s", name);
    pthread_mutex_init(&w->lock, NULL);
    w->base = event_base_new();
    if (!w->base)
        goto err;
    w->wake = event_new(w->base, -1, EV_PERSIST, worker_wake_cb, w);
    if (!w->wake || event_add(w->wake, NULL) != 0)
        goto err;
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
        goto err;
    w->started = true;
    return w;
err:
    say_error("net", "cannot start worker name=%s", name);
    worker_free(w);
    return NULL;
}

static void worker_stop_job(void *arg)
{
    struct worker *w = arg;
    event_base_loopbreak(w->base);
}

void worker_free(struct worker *w)
{
    if (!w)
        return;
    if (w->started) {
        worker_post(w, worker_stop_job, w);
        pthread_join(w->thread, NULL);
        w->thread = pthread_self(); /* the leftover jobs below run here: worker_is_current() */
    }
    /* run what is left so no job's memory leaks */
    if (w->wake)
        worker_wake_cb(-1, 0, w);
    if (w->local_free)
        w->local_free(w->local);
    if (w->wake)
        event_free(w->wake);
    if (w->base)
        event_base_free(w->base);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

struct event_base *worker_base(struct worker *w) { return w->base; }

bool worker_post(struct worker *w, worker_job_cb fn, void *arg)
{
    struct job *j = malloc(sizeof(*j));
    if (!j)
        return false;
    j->fn = fn;
    j->arg = arg;
    j->next = NULL;
    pthread_mutex_lock(&w->lock);
    if (w->tail)
        w->tail->next = j;
    else
        w->head = j;
    w->tail = j;
    pthread_mutex_unlock(&w->lock);
    event_active(w->wake, EV_READ, 0);
    return true;
}

struct sync_wait {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
};

static void sync_job(void *arg)
{
    struct sync_wait *sw = arg;
    pthread_mutex_lock(&sw->lock);
    sw->done = true;
    pthread_cond_signal(&sw->cond);
    pthread_mutex_unlock(&sw->lock);
}

bool worker_sync(struct worker *w)
{
    KASSERT(!worker_is_current(w));
    struct sync_wait sw = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    if (!worker_post(w, sync_job, &sw))
        return false;
    pthread_mutex_lock(&sw.lock);
    while (!sw.done)
        pthread_cond_wait(&sw.cond, &sw.lock);
    pthread_mutex_unlock(&sw.lock);
    return true;
}

bool worker_is_current(const struct worker *w) { return pthread_equal(pthread_self(), w->thread); }

const char *worker_name(const struct worker *w) { return w->name; }

void worker_set_local(struct worker *w, void *ptr, void (*free_fn)(void *ptr))
{
    KASSERT(worker_is_current(w) && !w->local);
    w->local = ptr;
    w->local_free = free_fn;
}

void *worker_local(const struct worker *w)
{
    KASSERT(worker_is_current(w));
    return w->local;
}
