/*
 * broker/replication/throttle.h — the windowed byte-rate meter of the
 * replication throttles (docs/architecture.md §6): the bytes of throttled
 * replicas a leader sends to followers, or a follower appends, measured
 * over the last n_samples samples of sample_ms each (Kafka's
 * replication.quota.window.num / .size.seconds), and compared with a
 * bytes/s limit (leader/follower.replication.throttled.rate).
 *
 * Rate = bytes of the live samples / time since the oldest live sample
 * began, that time being at least one sample: a meter at rest lets about
 * one sample's worth of the limit through at once, then holds the rate.
 * (Kafka counts at least n_samples - 1 samples, so its first burst is ten
 * times larger.)
 *
 * Thread-safe: a mutex guards everything (the leader's meter is used by
 * every network loop, the follower's by every fetcher thread). Times are
 * the caller's monotonic milliseconds, so tests drive it with a fake clock.
 */
#ifndef GREGOR_BROKER_REPLICATION_THROTTLE_H
#define GREGOR_BROKER_REPLICATION_THROTTLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define THROTTLE_MAX_SAMPLES 64

struct throttle_meter {
    pthread_mutex_t lock; /* guards every field below */
    int64_t sample_ms;
    int n_samples;
    int cur; /* the sample being filled */
    struct {
        int64_t start_ms; /* INT64_MIN: unused */
        int64_t bytes;
    } s[THROTTLE_MAX_SAMPLES];
    uint64_t bytes_total;  /* every byte recorded */
    uint64_t holds;        /* throttle_meter_exceeded() answers true */
    bool over;             /* the last check found the limit exceeded */
    int64_t last_check_ms; /* time of the last check */
    int64_t over_total_ms; /* time from each exceeded check to the next check
                              (each gap counted up to one sample) */
};

struct throttle_stats {
    int64_t rate;         /* bytes/s now */
    uint64_t bytes_total; /* bytes recorded */
    uint64_t holds;       /* partitions held back */
    int64_t throttled_ms; /* time the limit was exceeded */
};

/* Initialises m (n_samples clamped to [1, THROTTLE_MAX_SAMPLES], sample_ms >= 1). */
void throttle_meter_init(struct throttle_meter *m, int n_samples, int64_t sample_ms);
void throttle_meter_destroy(struct throttle_meter *m);
/* Counts bytes sent or received at now_ms. */
void throttle_meter_record(struct throttle_meter *m, int64_t bytes, int64_t now_ms);
/* The rate over the window, bytes/s. */
int64_t throttle_meter_rate(struct throttle_meter *m, int64_t now_ms);
/* true when the rate exceeds limit (bytes/s; INT64_MAX: never); counts a
 * hold, and the time since the previous check when that one found the
 * limit exceeded (what it held back stayed held until now; at most one
 * sample is counted, so a check nobody follows up counts little). */
bool throttle_meter_exceeded(struct throttle_meter *m, int64_t limit, int64_t now_ms);
void throttle_meter_stats(struct throttle_meter *m, int64_t now_ms, struct throttle_stats *out);

#endif
