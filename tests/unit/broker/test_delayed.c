/*
 * tests/unit/broker/test_delayed.c — broker/kafka/delayed.c, the purgatory:
 * an acks=all wait parked on a real libevent loop over a real partition
 * (real log) completes when the partition's HW passes its offset (also
 * woken from another thread), when its timer fires, when it is cancelled
 * (shutdown), or when leadership moves; and it completes at most once
 * however its wake-ups, timer and cancel coincide.
 *
 * The connection layer is the one seam: this file defines req_base() and
 * req_complete() (net/conn.c's; nothing else this test links needs
 * conn.c, so the static library's copy stays out), so the request needs no
 * socket and the test sees each completion. The operation is heap-allocated and freed by
 * its destroy(), so a second completion is a use after free (ASan build).
 */
#include "broker/kafka/delayed.h"
#include "broker/kafka/request.h"
#include "tests/unit/broker/partition_test.h"

#include <criterion/criterion.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- the connection seam ---- */

static struct event_base *base;

/* What happened to the one request of a test. */
static struct {
    atomic_int completions;
    int checks, timed_out_checks;
    int destroyed;
    kerr_t result;
    bool finished_before_complete; /* destroy() ran and cancel/state were cleared */
} seen;

struct event_base *req_base(struct req *req)
{
    (void)req;
    return base;
}

void req_complete(struct req *req)
{
    seen.finished_before_complete =
        seen.destroyed == 1 && req->cancel == NULL && req->handler_state == NULL;
    atomic_fetch_add(&seen.completions, 1);
}

/* ---- an acks=all wait, as produce.c builds it ---- */

struct ack_op {
    struct delayed d;
    struct partition *part;
    struct pwaiter waiter;
    int64_t last_offset;
    int32_t leader_epoch;
};

static bool ack_check(void *arg, bool timed_out)
{
    struct ack_op *op = arg;
    seen.checks++;
    seen.timed_out_checks += timed_out;
    kerr_t st = partition_ack_status(op->part, op->last_offset, op->leader_epoch);
    if (st == KERR__AGAIN && timed_out)
        st = KERR_REQUEST_TIMED_OUT;
    if (st == KERR__AGAIN)
        return false;
    seen.result = st;
    return true;
}

static void ack_destroy(void *arg)
{
    struct ack_op *op = arg;
    seen.destroyed++;
    partition_unwatch(op->part, &op->waiter);
    delayed_release(&op->d);
    free(op);
}

static struct req req;

static void setup(void)
{
    pt_setup();
    cr_assert_eq(evthread_use_pthreads(), 0);
    base = event_base_new();
    cr_assert_not_null(base);
    memset(&req, 0, sizeof(req));
    memset(&seen, 0, sizeof(seen));
    seen.result = KERR__AGAIN;
}

static void teardown(void)
{
    event_base_free(base);
    pt_teardown();
}

TestSuite(delayed, .init = setup, .fini = teardown, .timeout = 30);

static const int32_t ISR_12[] = {1, 2};

/* Broker 1 leads (epoch 5) with follower 2 in the ISR; one acks=all batch
 * of 3 records (offsets 0..2) is appended and waits for follower 2. */
static struct partition *leader_with_a_pending_write(int64_t *last)
{
    struct partition *p = pt_new("p-0");
    cr_assert_eq(pt_state(p, 1, 1, 5, 10, 2, ISR_12, 2, 1000, NULL), KERR_NONE);
    cr_assert_eq(pt_append(p, 3, true, 1000, last), KERR_NONE);
    cr_assert_eq(*last, 2);
    return p;
}

/* Parks an acks=all wait for last_offset on part, as produce.c does. */
static void park(struct partition *part, int64_t last_offset, int64_t timeout_ms)
{
    struct ack_op *op = calloc(1, sizeof(*op));
    cr_assert_not_null(op);
    op->part = part;
    op->last_offset = last_offset;
    op->leader_epoch = 5;
    cr_assert(delayed_init(&op->d, &req, ack_check, ack_destroy, op));
    op->waiter = (struct pwaiter){.wake = delayed_waiter_wake, .owner = &op->d, .what = "produce"};
    partition_watch(part, &op->waiter);
    cr_assert_eq(delayed_park(&op->d, timeout_ms), KERR__PENDING);
    cr_assert_eq(req.handler_state, &op->d);
    cr_assert_not_null(req.cancel);
}

/* Runs the callbacks that are ready now. */
static void turn(void) { cr_assert_geq(event_base_loop(base, EVLOOP_NONBLOCK), 0); }

static void follower_fetch(struct partition *p, int64_t offset)
{
    cr_assert_eq(pt_fetch(p, 2, offset, 1001, NULL, NULL, NULL), KERR_NONE);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Everything the loop has left: nothing once the operation completed. */
static void assert_loop_empty(void)
{
    cr_assert_eq(event_base_loop(base, EVLOOP_NONBLOCK), 1, "events left on the loop");
}

static void assert_completed_once(kerr_t want)
{
    cr_assert_eq(atomic_load(&seen.completions), 1, "completions=%d",
                 atomic_load(&seen.completions));
    cr_assert_eq(seen.destroyed, 1);
    cr_assert(seen.finished_before_complete, "destroy() runs before req_complete()");
    cr_assert_eq(seen.result, want, "result %d", seen.result);
}

Test(delayed, parks_and_checks_once_at_the_next_loop_turn)
{
    int64_t last;
    struct partition *p = leader_with_a_pending_write(&last);
    park(p, last, 10000);
    cr_assert_eq(seen.checks, 0, "nothing runs before the loop does");
    turn();
    cr_assert_eq(seen.checks, 1);
    cr_assert_eq(seen.timed_out_checks, 0);
    turn();
    cr_assert_eq(seen.checks, 1, "no wake-up, no check");
    cr_assert_eq(atomic_load(&seen.completions), 0);
    req.cancel(&req); /* answer it so the partition is free of waiters */
    partition_free(p, false);
}

Test(delayed, completes_when_the_hw_passes_the_offset)
{
    int64_t last;
    struct partition *p = leader_with_a_pending_write(&last);
    park(p, last, 10000);
    turn();
    follower_fetch(p, 2); /* the HW moves to 2: not past offset 2 */
    turn();
    cr_assert_eq(seen.checks, 2, "the HW move woke it");
    cr_assert_eq(atomic_load(&seen.completions), 0);
    follower_fetch(p, 3);
    turn();
    assert_completed_once(KERR_NONE);
    cr_assert_null(p->waiters, "destroy() unwatched the partition");
    assert_loop_empty(); /* the timer went with it */
    partition_free(p, false);
}

struct fetcher_arg {
    struct partition *p;
};

static void *fetcher_main(void *arg)
{
    struct fetcher_arg *a = arg;
    usleep(20000); /* let the loop block first */
    for (int64_t off = 1; off <= 3; off++)
        (void)pt_fetch(a->p, 2, off, 1001, NULL, NULL, NULL);
    return NULL;
}

Test(delayed, a_wake_up_from_another_thread_completes_it_on_the_loop)
{
    int64_t last;
    struct partition *p = leader_with_a_pending_write(&last);
    park(p, last, 20000);
    struct fetcher_arg a = {.p = p};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, fetcher_main, &a), 0);
    int64_t deadline = mono_ms() + 10000;
    while (atomic_load(&seen.completions) == 0 && mono_ms() < deadline)
        cr_assert_geq(event_base_loop(base, EVLOOP_ONCE), 0); /* blocks for the wake-up */
    pthread_join(th, NULL);
    assert_completed_once(KERR_NONE);
    cr_assert_eq(seen.timed_out_checks, 0);
    partition_free(p, false);
}

Test(delayed, wake_ups_before_the_loop_turns_make_one_check)
{
    int64_t last;
    struct partition *p = leader_with_a_pending_write(&last);
    park(p, last, 10000);
    turn();
    cr_assert_eq(seen.checks, 1);
    struct pt_counter c; /* counts the partition's wake-ups next to the op's */
    pt_counter_init(&c);
    partition_watch(p, &c.w);
    follower_fetch(p, 1);
    follower_fetch(p, 2);
    cr_assert_eq(c.wakes, 2, "the HW moved twice");
    partition_unwatch(p, &c.w);
    turn();
    cr_assert_eq(seen.checks, 2, "checks=%d", seen.checks);
    req.cancel(&req);
    partition_free(p, false);
}

Test(delayed, times_out_when_nothing_moves)
{
    int64_t last;
    struct partition *p = leader_with_a_pending_write(&last);
    int64_t start = mono_ms();
    park(p, last, 50);
    while (atomic_load(&seen.completions) == 0 && mono_ms() < start + 10000)
        cr_assert_geq(event_base_loop(base, EVLOOP_ONCE), 0);
    cr_assert_geq(mono_ms() - start, 45, "timed out after %lld ms", (long long)(mono_ms() - start));
    assert_completed_once(KERR_REQUEST_TIMED_OUT);
    cr_assert_eq(seen.timed_out_checks, 1);
    cr_assert_null(p->waiters);
    assert_loop_empty();
    partition_free(p, false);
}

Test(delayed, a_negative_timeout_expires_at_once)
{
    int64_t last;
    struct partition *p = leader_with_a_pending_write(&last);
    park(p, last, -5);
    turn();
    turn();
    assert_completed_once(KERR_REQUEST_TIMED_OUT);
    partition_free(p, false);
}

Test(delayed, cancel_answers_now_and_later_progress_finds_nothing)
{
    int64_t last;
    struct partition *p = leader_with_a_pending_write(&last);
    park(p, last, 10000);
    turn();
    req.cancel(&req); /* shutdown: conn_close_all() */
    assert_completed_once(KERR_REQUEST_TIMED_OUT);
    cr_assert_eq(seen.timed_out_checks, 1);
    cr_assert_null(req.cancel);
    cr_assert_null(p->waiters);
    follower_fetch(p, 3);
    assert_loop_empty();
    cr_assert_eq(seen.checks, 2);
    cr_assert_eq(atomic_load(&seen.completions), 1);
    partition_free(p, false);
}

Test(delayed, already_satisfied_with_a_zero_timeout_completes_once)
{
    int64_t last;
    struct partition *p = leader_with_a_pending_write(&last);
    follower_fetch(p, 3); /* committed before it parks */
    park(p, last, 0);     /* wake-up and timer both due at the first turn */
    turn();
    turn();
    assert_completed_once(KERR_NONE);
    cr_assert_eq(seen.checks, 1);
    /* the wake-up was activated first, so it answered, not the timer */
    cr_assert_eq(seen.timed_out_checks, 0);
    assert_loop_empty();
    partition_free(p, false);
}

Test(delayed, a_wake_up_and_the_timer_in_the_same_turn_complete_once)
{
    int64_t last;
    struct partition *p = leader_with_a_pending_write(&last);
    park(p, last, 100);
    turn();
    cr_assert_eq(seen.checks, 1);
    usleep(150000);       /* the timer is due ... */
    follower_fetch(p, 3); /* ... and the wake-up is active */
    turn();
    turn();
    assert_completed_once(KERR_NONE);
    cr_assert_eq(seen.checks, 2, "one of the two ran, the other was dropped");
    assert_loop_empty();
    partition_free(p, false);
}

Test(delayed, a_leadership_change_answers_not_leader)
{
    int64_t last;
    struct partition *p = leader_with_a_pending_write(&last);
    park(p, last, 10000);
    turn();
    cr_assert_eq(pt_state(p, 1, 2, 6, 11, 2, ISR_12, 2, 2000, NULL), KERR_NONE);
    turn();
    assert_completed_once(KERR_NOT_LEADER_OR_FOLLOWER);
    assert_loop_empty();
    partition_free(p, false);
}
