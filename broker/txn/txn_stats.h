/*
 * broker/txn/txn_stats.h — the transaction coordinator's counters: transactions open now,
 * committed, aborted, and producers fenced. One instance lives in struct broker
 * (broker/core/broker.h); the txn worker's tables count into it (txn_table_set_stats(),
 * txn_state.h) and /metrics reads it (docs/metrics.md).
 *
 * What counts (txn_apply() and the table's loads and drops, txn_state.c):
 *   open       entries now Ongoing, PrepareCommit, PrepareAbort or PrepareEpochFence, in every
 *              table attached (loaded or loading); a dropped table takes its entries away
 *   committed  transitions applied to CompleteCommit
 *   aborted    transitions applied to CompleteAbort
 *   fenced     producers fenced: a new epoch (or producer id) applied over one a producer
 *              held — InitProducerId of a new producer instance (a request without the current
 *              epoch), or an open transaction fenced and aborted (by InitProducerId or by its
 *              timeout); a producer's own bump (KIP-360, the request names the current epoch) and
 *              the bump after a fence (the fenced epoch has no producer) do not count
 * Replaying records at load changes `open` only.
 *
 * Threads: written by the thread owning a table, read by any thread (relaxed atomics).
 */
#ifndef GREGOR_BROKER_TXN_TXN_STATS_H
#define GREGOR_BROKER_TXN_TXN_STATS_H

#include <stdatomic.h>
#include <stdint.h>

struct txn_stats {
    _Atomic int64_t open;
    _Atomic uint64_t committed;
    _Atomic uint64_t aborted;
    _Atomic uint64_t fenced;
};

/* A consistent-enough copy for a reader (each field read once, relaxed). */
struct txn_stats_view {
    int64_t open;
    uint64_t committed, aborted, fenced;
};

static inline void txn_stats_read(struct txn_stats *s, struct txn_stats_view *v)
{
    v->open = atomic_load_explicit(&s->open, memory_order_relaxed);
    v->committed = atomic_load_explicit(&s->committed, memory_order_relaxed);
    v->aborted = atomic_load_explicit(&s->aborted, memory_order_relaxed);
    v->fenced = atomic_load_explicit(&s->fenced, memory_order_relaxed);
}

#endif
