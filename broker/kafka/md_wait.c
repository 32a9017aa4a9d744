/*
 * broker/kafka/md_wait.c — parking a request until the first UpdateMetadata
 * (md_wait.h): one persistent poll timer per parked request on its
 * connection's loop.
 */
#include "broker/kafka/md_wait.h"
#include "broker/core/broker.h"
#include "broker/core/metadata_cache.h"
#include "common/clock.h"

#include <event2/event.h>
#include <stdlib.h>

/* A parked request (its connection's loop). */
struct md_wait {
    struct req *req;
    struct event *ev; /* owned: persistent poll timer on the request's loop */
    int64_t deadline_ms;
    void (*answer)(struct req *req, void *arg);
    void *arg; /* owned */
    void (*free_arg)(void *arg);
};

bool md_cache_known(struct broker *b)
{
    struct mc_snapshot *snap = mc_get(b->mc);
    bool known = mc_from_controller(snap);
    mc_put(snap);
    return known;
}

bool md_wait_needed(struct req *req) { return req->broker->rm && !md_cache_known(req->broker); }

/* Answers a parked request now and completes it (its loop). */
static void md_wait_finish(struct md_wait *w)
{
    struct req *req = w->req;
    req->cancel = NULL;
    req->handler_state = NULL;
    w->answer(req, w->arg);
    w->free_arg(w->arg);
    event_free(w->ev);
    free(w);
    req_complete(req);
}

static void md_wait_cb(evutil_socket_t fd, short what, void *arg)
{
    struct md_wait *w = arg;
    (void)fd;
    (void)what;
    if (md_cache_known(w->req->broker) || clock_mono_ms() >= w->deadline_ms)
        md_wait_finish(w);
}

/* Shutdown: answer with what the cache holds. */
static void md_wait_cancel(struct req *req) { md_wait_finish(req->handler_state); }

kerr_t md_wait_park(struct req *req, void (*answer)(struct req *req, void *arg), void *arg,
                    void (*free_arg)(void *arg))
{
    struct md_wait *w = calloc(1, sizeof(*w));
    if (w)
        w->ev = event_new(req_base(req), -1, EV_PERSIST, md_wait_cb, w);
    if (!w || !w->ev) {
        free(w);
        free_arg(arg);
        return KERR__CLOSE;
    }
    w->req = req;
    w->answer = answer;
    w->arg = arg;
    w->free_arg = free_arg;
    w->deadline_ms = clock_mono_ms() + MD_WAIT_FIRST_MS;
    req->handler_state = w;
    req->cancel = md_wait_cancel;
    struct timeval tv = {0, MD_WAIT_POLL_MS * 1000};
    event_add(w->ev, &tv);
    return KERR__PENDING;
}
