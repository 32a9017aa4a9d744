/*
 * broker/kafka/delayed.h — delayed operations ("purgatory", docs/architecture.md §8):
 * a request parked on its connection's loop until partitions move (a Fetch
 * waiting for min_bytes, a Produce waiting for acks=all) or its timeout.
 *
 * The owner embeds a struct delayed in its operation, creates its events
 * with delayed_init(), links one pwaiter per watched partition with
 * .wake = delayed_waiter_wake and .owner = the struct delayed, then calls
 * delayed_park(). From then on check(op, false) runs on the loop after
 * every wake-up, check(op, true) at the timeout or at shutdown (req->cancel);
 * when check() returns true the response is in req->out and destroy(op)
 * runs (it must unwatch its partitions and call delayed_release()) before
 * the request completes.
 * Threads: everything on the request's network loop, except
 * delayed_waiter_wake(), which runs on an appending or fetching thread with
 * the partition lock held and only activates an event.
 */
#ifndef GREGOR_BROKER_KAFKA_DELAYED_H
#define GREGOR_BROKER_KAFKA_DELAYED_H

#include "broker/kafka/request.h"
#include "broker/replication/partition.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct event;

struct delayed {
    struct req *req;
    struct event *wake_ev, *timer_ev; /* owned; on the request's loop */
    bool (*check)(void *op, bool timed_out);
    void (*destroy)(void *op);
    void *op;
    /* the purgatory gauge counting it while parked (struct metrics:
     * parked_produce or parked_fetch), else NULL */
    _Atomic int64_t *parked;
};

/* Fills d and creates its events. false when out of memory (d released). */
bool delayed_init(struct delayed *d, struct req *req, bool (*check)(void *, bool),
                  void (*destroy)(void *), void *op);
/* Arms the timer (ms, clamped at 0), takes over req->cancel and
 * req->handler_state, and checks once at the next loop turn (a partition may
 * have moved before its waiter was linked). Returns KERR__PENDING. */
kerr_t delayed_park(struct delayed *d, int64_t timeout_ms);
/* pwaiter.wake for waiters whose owner is a struct delayed. */
void delayed_waiter_wake(struct pwaiter *w);
/* Frees the events and leaves the purgatory gauge; for destroy(). Safe on a
 * zeroed or released d. */
void delayed_release(struct delayed *d);

#endif
