/*
 * broker/config/metrics.h — the broker's counters, updated with relaxed atomics on
 * hot paths and read by the HTTP endpoint (/metrics, Prometheus text).
 * One instance lives in struct broker; modules get a pointer to it.
 */
#ifndef GREGOR_BROKER_CONFIG_METRICS_H
#define GREGOR_BROKER_CONFIG_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

struct metrics {
    _Atomic uint64_t requests;             /* requests handled */
    _Atomic uint64_t produce_records;      /* records appended by Produce */
    _Atomic uint64_t produce_bytes;        /* batch bytes appended by Produce */
    _Atomic uint64_t fetch_sendfile_bytes; /* record bytes handed to sendfile(2) */
    _Atomic uint64_t fetch_copied_bytes;   /* record bytes copied with pread */
    _Atomic uint64_t connections_accepted;
};

static inline void metrics_add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline uint64_t metrics_get(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

#endif
