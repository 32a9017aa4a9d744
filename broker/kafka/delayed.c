/*
 * broker/kafka/delayed.c — delayed operations: wake-up and timer events on
 * the request's loop, completion and shutdown cancel, and the purgatory
 * gauges of /metrics (parked Produce and Fetch requests; see delayed.h).
 */
#include "broker/kafka/delayed.h"
#include "broker/core/broker.h"
#include "common/api_keys.h"

#include <event2/event.h>

static void delayed_finish(struct delayed *d)
{
    struct req *req = d->req;
    req->cancel = NULL;
    req->handler_state = NULL;
    d->destroy(d->op); /* frees d, which lives in the op */
    req_complete(req);
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
    struct delayed *d = arg;
    if (d->check(d->op, false))
        delayed_finish(d);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct delayed *d = arg;
    d->check(d->op, true);
    delayed_finish(d);
}

/* Shutdown, or the connection closed: answer now (network loop). */
static void delayed_cancel(struct req *req)
{
    struct delayed *d = req->handler_state;
    req->cancel = NULL;
    d->check(d->op, true);
    delayed_finish(d);
}

bool delayed_init(struct delayed *d, struct req *req, bool (*check)(void *, bool),
                  void (*destroy)(void *), void *op)
{
    struct event_base *base = req_base(req);
    *d = (struct delayed){.req = req, .check = check, .destroy = destroy, .op = op};
    d->wake_ev = event_new(base, -1, 0, wake_cb, d);
    d->timer_ev = evtimer_new(base, timer_cb, d);
    if (d->wake_ev && d->timer_ev)
        return true;
    delayed_release(d);
    return false;
}

kerr_t delayed_park(struct delayed *d, int64_t timeout_ms)
{
    if (timeout_ms < 0)
        timeout_ms = 0;
    struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)((timeout_ms % 1000) * 1000)};
    evtimer_add(d->timer_ev, &tv);
    if (!d->parked && d->req->broker) {
        struct metrics *m = &d->req->broker->metrics;
        if (d->req->api_key == API_PRODUCE)
            d->parked = &m->parked_produce;
        else if (d->req->api_key == API_FETCH)
            d->parked = &m->parked_fetch;
        if (d->parked)
            atomic_fetch_add_explicit(d->parked, 1, memory_order_relaxed);
    }
    d->req->handler_state = d;
    d->req->cancel = delayed_cancel;
    event_active(d->wake_ev, EV_READ, 0);
    return KERR__PENDING;
}

void delayed_waiter_wake(struct pwaiter *w)
{
    struct delayed *d = w->owner;
    event_active(d->wake_ev, EV_READ, 0);
}

void delayed_release(struct delayed *d)
{
    if (d->wake_ev)
        event_free(d->wake_ev);
    if (d->timer_ev)
        event_free(d->timer_ev);
    d->wake_ev = d->timer_ev = NULL;
    if (d->parked)
        atomic_fetch_sub_explicit(d->parked, 1, memory_order_relaxed);
    d->parked = NULL;
}
