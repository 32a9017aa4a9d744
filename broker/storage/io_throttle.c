/*
 * broker/storage/io_throttle.c — the cleaner's token bucket (see
 * io_throttle.h). tokens may go negative: a take always succeeds and the
 * taker sleeps until its share of the debt is paid.
 */
#include "broker/storage/io_throttle.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "common/clock.h"

/* Created by io_throttle_new(); shared by the cleaner threads. */
struct io_throttle {
    pthread_mutex_t mu;
    double rate;      /* bytes per second; <= 0 unlimited */
    double tokens;    /* bytes that may go now (negative: debt) */
    int64_t last_us;  /* monotonic time tokens was last refilled */
    int64_t slept_us; /* total sleep */
};

struct io_throttle *io_throttle_new(double bytes_per_sec)
{
    struct io_throttle *t = calloc(1, sizeof(*t));

    if (!t)
        return NULL;
    pthread_mutex_init(&t->mu, NULL);
    t->rate = bytes_per_sec;
    t->tokens = bytes_per_sec > 0 ? bytes_per_sec : 0;
    t->last_us = clock_mono_us();
    return t;
}

void io_throttle_free(struct io_throttle *t)
{
    if (!t)
        return;
    pthread_mutex_destroy(&t->mu);
    free(t);
}

void io_throttle_set_rate(struct io_throttle *t, double bytes_per_sec)
{
    pthread_mutex_lock(&t->mu);
    t->rate = bytes_per_sec;
    if (t->tokens > bytes_per_sec)
        t->tokens = bytes_per_sec > 0 ? bytes_per_sec : 0;
    pthread_mutex_unlock(&t->mu);
}

void io_throttle_take(struct io_throttle *t, int64_t n)
{
    int64_t now, wait_us = 0;

    if (!t || n <= 0)
        return;
    pthread_mutex_lock(&t->mu);
    if (t->rate > 0) {
        now = clock_mono_us();
        t->tokens += (double)(now - t->last_us) * t->rate / 1e6;
        if (t->tokens > t->rate)
            t->tokens = t->rate;
        t->last_us = now;
        t->tokens -= (double)n;
        if (t->tokens < 0)
            wait_us = (int64_t)(-t->tokens * 1e6 / t->rate);
        t->slept_us += wait_us;
    }
    pthread_mutex_unlock(&t->mu);
    if (wait_us > 0) {
        struct timespec ts = {.tv_sec = wait_us / 1000000, .tv_nsec = (wait_us % 1000000) * 1000};
        while (nanosleep(&ts, &ts) != 0)
            ;
    }
}

int64_t io_throttle_slept_us(struct io_throttle *t)
{
    int64_t v;

    pthread_mutex_lock(&t->mu);
    v = t->slept_us;
    pthread_mutex_unlock(&t->mu);
    return v;
}
