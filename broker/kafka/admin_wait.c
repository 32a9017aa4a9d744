/*
 * broker/kafka/admin_wait.c — waiting for the metadata cache after an admin
 * request (see admin_wait.h). A persistent timer event on the admin
 * worker's base polls ready(); the wait object frees itself before
 * finish() runs. Admin worker only.
 */
#include "broker/kafka/admin_wait.h"
#include "broker/core/metadata_cache.h"
#include "common/loop/worker.h"
#include "broker/core/broker.h"
#include "common/base.h"
#include "common/clock.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#define ADMIN_POLL_MS 20
#define ADMIN_WAIT_MAX_MS 60000
#define ADMIN_NOWAIT_GRACE_MS 2000

/* One wait in progress (admin worker); owned by its timer callback. */
struct cache_wait {
    struct event *ev;         /* owned */
    int64_t deadline_ms;      /* clock_mono_ms() */
    bool (*ready)(void *job); /* true when every change is visible */
    void (*finish)(void *job, bool timed_out);
    void *job; /* borrowed; finish() owns it */
};

bool admin_cache_shows(struct broker *b, const char *name, bool want, int32_t min_parts)
{
    struct mc_snapshot *s = mc_get(b->mc);
    const struct mc_topic *t = mc_find_topic(s, name, strlen(name));
    bool ok = want ? t != NULL && t->n_parts >= min_parts : t == NULL;
    for (int p = 0; want && t && p < t->n_parts; p++)
        ok &= t->parts[p].leader >= 0;
    mc_put(s);
    return ok;
}

static void cache_wait_cb(evutil_socket_t fd, short what, void *arg)
{
    struct cache_wait *w = arg;
    (void)fd;
    (void)what;
    bool ready = w->ready(w->job);
    if (!ready && clock_mono_ms() < w->deadline_ms)
        return;
    void (*finish)(void *, bool) = w->finish;
    void *job = w->job;
    event_free(w->ev);
    free(w);
    finish(job, !ready);
}

void admin_wait_start(struct broker *b, int64_t timeout_ms, bool (*ready)(void *),
                      void (*finish)(void *, bool), void *job)
{
    KASSERT(worker_is_current(b->admin));
    struct cache_wait *w = calloc(1, sizeof(*w));
    if (w)
        w->ev = event_new(worker_base(b->admin), -1, EV_PERSIST, cache_wait_cb, w);
    if (!w || !w->ev || ready(job)) {
        if (w && w->ev)
            event_free(w->ev);
        free(w);
        finish(job, false);
        return;
    }
    if (timeout_ms > ADMIN_WAIT_MAX_MS)
        timeout_ms = ADMIN_WAIT_MAX_MS;
    if (timeout_ms <= 0) /* Kafka answers at once; a short wait makes the new state */
        timeout_ms = ADMIN_NOWAIT_GRACE_MS; /* visible here first (never "timed out") */
    *w = (struct cache_wait){w->ev, clock_mono_ms() + timeout_ms, ready, finish, job};
    struct timeval tv = {0, ADMIN_POLL_MS * 1000};
    event_add(w->ev, &tv);
}
