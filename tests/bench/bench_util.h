/*
 * tests/bench/bench_util.h — small helpers shared by the benchmark programs
 * (header-only: each bench is one .c file plus this). Monotonic clock, CPU
 * time of this process (all threads) and of reaped children, and a latency
 * histogram with 1 us resolution below 1 s and 1 ms resolution up to 10 min.
 * No Gregor code: the benches measure the broker from outside, as a client.
 */
#ifndef GREGOR_BENCH_UTIL_H
#define GREGOR_BENCH_UTIL_H

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define BENCH_HIST_US 1000000 /* 1 us buckets for [0, 1 s) */
#define BENCH_HIST_MS 600000  /* 1 ms buckets for [1 s, 600 s), last = overflow */

/* Keeps freed memory in the process instead of returning it to the kernel.
 * On the VM this suite was written on, first-touch page faults cost more
 * than librdkafka's own copies (docs/PERFORMANCE.md), so a client that
 * keeps its heap warm leaves more of the shared CPU to the broker. Setting
 * GREGOR_BENCH_DEFAULT_MALLOC in the environment keeps glibc's defaults. */
static inline void bench_malloc_keep(void)
{
    if (getenv("GREGOR_BENCH_DEFAULT_MALLOC"))
        return;
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

/* Monotonic time in nanoseconds. */
static inline int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Sleeps until monotonic time t (nanoseconds, as bench_now_ns()). */
static inline void bench_sleep_until_ns(int64_t t)
{
    struct timespec ts = {(time_t)(t / 1000000000), (long)(t % 1000000000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static inline double bench_tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* CPU seconds (user, system) of this process, all threads (who=RUSAGE_SELF),
 * or of its waited-for children (who=RUSAGE_CHILDREN). */
static inline void bench_cpu(int who, double *user, double *sys)
{
    struct rusage ru;
    getrusage(who, &ru);
    *user = bench_tv_s(ru.ru_utime);
    *sys = bench_tv_s(ru.ru_stime);
}

struct bench_hist {
    uint32_t *us; /* BENCH_HIST_US buckets */
    uint32_t *ms; /* BENCH_HIST_MS buckets */
    uint64_t n;
    int64_t max_ns;
};

/* Returns 0, or -1 when out of memory. */
static inline int bench_hist_init(struct bench_hist *h)
{
    memset(h, 0, sizeof(*h));
    h->us = calloc(BENCH_HIST_US, sizeof(*h->us));
    h->ms = calloc(BENCH_HIST_MS, sizeof(*h->ms));
    if (!h->us || !h->ms) {
        free(h->us);
        free(h->ms);
        return -1;
    }
    return 0;
}

static inline void bench_hist_destroy(struct bench_hist *h)
{
    free(h->us);
    free(h->ms);
}

static inline void bench_hist_add(struct bench_hist *h, int64_t ns)
{
    if (ns < 0)
        ns = 0;
    int64_t us = ns / 1000;
    if (us < BENCH_HIST_US) {
        h->us[us]++;
    } else {
        int64_t ms = ns / 1000000;
        h->ms[ms < BENCH_HIST_MS ? ms : BENCH_HIST_MS - 1]++;
    }
    if (ns > h->max_ns)
        h->max_ns = ns;
    h->n++;
}

/* The q-quantile (0 < q <= 1) in milliseconds (upper edge of its bucket);
 * 0 when the histogram is empty. */
static inline double bench_hist_quantile_ms(const struct bench_hist *h, double q)
{
    if (h->n == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->n);
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (int64_t i = 0; i < BENCH_HIST_US; i++) {
        seen += h->us[i];
        if (seen >= rank)
            return (double)(i + 1) / 1000.0;
    }
    for (int64_t i = 0; i < BENCH_HIST_MS; i++) {
        seen += h->ms[i];
        if (seen >= rank)
            return (double)(i + 1);
    }
    return (double)h->max_ns / 1e6;
}

#endif
