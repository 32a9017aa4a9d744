/*
 * broker/config/metrics.h — the broker's counters, updated with relaxed atomics on
 * hot paths and read by the HTTP endpoint (/metrics, Prometheus text).
 * One instance lives in struct broker; modules get a pointer to it.
 * Also the per-API request counters and latency histograms (one slot per
 * Kafka API key, one per control RPC, one for keys nobody knows) and the
 * replication events the leader sees (ISR shrinks and expands, becoming
 * leader), the time requests wait before their handler runs, the log
 * flushes' durations and the requests parked in the purgatory; the names
 * they get in /metrics are in docs/metrics.md. struct metrics_window holds
 * the snapshots the Kafka-named quantiles are computed from (broker/http/
 * series_kafka.c; touched only under that file's lock).
 */
#ifndef GREGOR_BROKER_CONFIG_METRICS_H
#define GREGOR_BROKER_CONFIG_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Request slots: Kafka keys 0..METRICS_KAFKA_KEYS-1, then the control RPCs
 * (common/api_keys.h: 10000..10004), then one for any other key. */
#define METRICS_KAFKA_KEYS 67
#define METRICS_CONTROL_KEYS 5
#define METRICS_API_SLOTS (METRICS_KAFKA_KEYS + METRICS_CONTROL_KEYS + 1)
/* Upper bounds (microseconds) of the request latency buckets; a last,
 * unbounded bucket follows. */
#define METRICS_LATENCY_BUCKETS 10
static inline int64_t metrics_latency_le_us(int bucket)
{
    static const int64_t le[METRICS_LATENCY_BUCKETS] = {500,    1000,   5000,    10000,   50000,
                                                        100000, 500000, 1000000, 5000000, 30000000};
    return le[bucket];
}

static inline int metrics_latency_bucket(int64_t us)
{
    int b = 0;
    while (b < METRICS_LATENCY_BUCKETS && us > metrics_latency_le_us(b))
        b++;
    return b;
}

struct metrics_api {
    _Atomic uint64_t requests; /* requests of this key finished (answered or not) */
    _Atomic uint64_t errors;   /* refused (malformed, unsupported) or left unanswered
                                  because the response could not be built */
    _Atomic uint64_t latency_us_sum;
    _Atomic uint64_t latency[METRICS_LATENCY_BUCKETS + 1]; /* non-cumulative */
    /* time from receipt to the handler starting (for a Produce appended on
     * the io workers, plus the wait of its first job in a worker's queue) */
    _Atomic uint64_t queue[METRICS_LATENCY_BUCKETS + 1]; /* non-cumulative */
    _Atomic uint64_t queue_us_sum;
};

/* A latency histogram of some operation other than a request. */
struct metrics_hist {
    _Atomic uint64_t count;
    _Atomic uint64_t us_sum;
    _Atomic uint64_t b[METRICS_LATENCY_BUCKETS + 1]; /* non-cumulative */
};

/* Bucket counts of every histogram at one moment (plain fields: written and
 * read only under series_kafka.c's lock). */
struct metrics_snap {
    int64_t at_ms; /* monotonic; 0: not taken */
    uint64_t total[METRICS_API_SLOTS][METRICS_LATENCY_BUCKETS + 1];
    uint64_t queue[METRICS_API_SLOTS][METRICS_LATENCY_BUCKETS + 1];
    uint64_t flush[METRICS_LATENCY_BUCKETS + 1];
};

/* The two latest snapshots: quantiles are computed over what happened since
 * the older one (60 to 120 s ago once the broker has been scraped for a
 * minute). */
struct metrics_window {
    struct metrics_snap snap[2];
};

struct metrics {
    _Atomic uint64_t requests;             /* requests handled */
    _Atomic uint64_t produce_records;      /* records appended by Produce */
    _Atomic uint64_t produce_bytes;        /* batch bytes appended by Produce */
    _Atomic uint64_t produce_offloaded;    /* Produce requests appended on the io workers */
    _Atomic uint64_t fetch_sendfile_bytes; /* record bytes handed to sendfile(2) */
    _Atomic uint64_t fetch_copied_bytes;   /* record bytes copied with pread */
    _Atomic uint64_t connections_accepted;
    _Atomic uint64_t isr_shrinks;      /* ISR got smaller on a partition this broker leads */
    _Atomic uint64_t isr_expands;      /* ISR grew on a partition this broker leads */
    _Atomic uint64_t leader_elections; /* this broker became a partition's leader */
    _Atomic int64_t parked_produce;    /* acks=all Produce requests parked now */
    _Atomic int64_t parked_fetch;      /* Fetch requests parked now (min_bytes, max_wait) */
    struct metrics_hist log_flush;     /* background log flushes (log_manager.c) */
    struct metrics_api api[METRICS_API_SLOTS];
    struct metrics_window window;
};

static inline void metrics_add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline uint64_t metrics_get(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* The slot of an API key (any int16/int value). */
static inline int metrics_api_slot(int api_key)
{
    if (api_key >= 0 && api_key < METRICS_KAFKA_KEYS)
        return api_key;
    if (api_key >= 10000 && api_key < 10000 + METRICS_CONTROL_KEYS)
        return METRICS_KAFKA_KEYS + (api_key - 10000);
    return METRICS_API_SLOTS - 1;
}

/* The API key a slot stands for (-1: the slot of unknown keys). */
static inline int metrics_slot_api_key(int slot)
{
    if (slot < METRICS_KAFKA_KEYS)
        return slot;
    if (slot < METRICS_KAFKA_KEYS + METRICS_CONTROL_KEYS)
        return 10000 + (slot - METRICS_KAFKA_KEYS);
    return -1;
}

/* Records one finished request: its key, time from receipt to its response
 * being queued (us), the part of it spent waiting for the handler to start
 * (queue_us), and whether it failed (see struct metrics_api). */
static inline void metrics_request_done(struct metrics *m, int api_key, int64_t us,
                                        int64_t queue_us, bool failed)
{
    struct metrics_api *a = &m->api[metrics_api_slot(api_key)];
    if (us < 0)
        us = 0;
    metrics_add(&a->requests, 1);
    if (failed)
        metrics_add(&a->errors, 1);
    metrics_add(&a->latency_us_sum, (uint64_t)us);
    metrics_add(&a->latency[metrics_latency_bucket(us)], 1);
    if (queue_us < 0)
        queue_us = 0;
    metrics_add(&a->queue_us_sum, (uint64_t)queue_us);
    metrics_add(&a->queue[metrics_latency_bucket(queue_us)], 1);
}

/* Records one operation of h that took us microseconds. */
static inline void metrics_hist_add(struct metrics_hist *h, int64_t us)
{
    if (us < 0)
        us = 0;
    metrics_add(&h->count, 1);
    metrics_add(&h->us_sum, (uint64_t)us);
    metrics_add(&h->b[metrics_latency_bucket(us)], 1);
}

#endif
