/*
 * broker/storage/plog_txn.c — transactions on one partition log
 * (docs/storage.md "Transactions"): the leader's transaction markers, the
 * last stable offset bound, and the aborted transaction index of every
 * segment (txn_index.h) kept in memory and in `.txnindex` files.
 *
 * The index follows the log: an abort marker adds an entry (leader,
 * follower and recovery alike, from plog_producers.c), retention and
 * truncation drop the entries of the removed range with their files, and
 * the producer rebuild at open re-indexes the range it replays (the part
 * after the newest producer snapshot: what a crash may have left without
 * its entries).
 *
 * Threads: like plog.c, the owning partition's lock.
 */
#include <inttypes.h>
#include <string.h>

#include "broker/storage/batch_build.h"
#include "broker/storage/plog_priv.h"
#include "common/buf.h"
#include "common/say.h"

/* The segment holding offset: [*base, *end). */
static void seg_range(const struct plog *log, int64_t offset, int64_t *base, int64_t *end)
{
    int i = log->nsegs - 1;
    while (i > 0 && log->segs[i]->base > offset)
        i--;
    *base = log->segs[i]->base;
    *end = i + 1 < log->nsegs ? log->segs[i + 1]->base : INT64_MAX;
}

void plog_txnidx_abort(struct plog *log, int64_t producer_id, int64_t first_offset,
                       int64_t marker_offset)
{
    int64_t unstable = pstate_first_unstable_offset(&log->producers), base, end;
    struct aborted_txn e = {.producer_id = producer_id,
                            .first_offset = first_offset,
                            .last_offset = marker_offset,
                            .last_stable_offset = unstable >= 0 ? unstable : marker_offset + 1};
    kerr_t err;

    if (log->aborted.n > 0 && log->aborted.v[log->aborted.n - 1].last_offset >= marker_offset)
        return; /* already indexed (a replay of an indexed range) */
    if (!txnidx_list_push(&log->aborted, &e)) {
        say_error("storage", "out of memory for the aborted transaction index dir=%s", log->dir);
        return;
    }
    seg_range(log, marker_offset, &base, &end);
    err = txnidx_file_append(log->dir, base, &e);
    if (err != KERR_NONE)
        say_warn("storage",
                 "cannot write transaction index dir=%s base=%" PRId64 " err=%s (rebuilt at open)",
                 log->dir, base, kerr_name(err));
}

void plog_txnidx_forget_from(struct plog *log, int64_t offset)
{
    int64_t base, end;

    if (log->aborted.n == 0 || log->aborted.v[log->aborted.n - 1].last_offset < offset)
        return;
    txnidx_list_drop(&log->aborted, offset, INT64_MAX);
    for (int i = 0; i < log->nsegs; i++) {
        base = log->segs[i]->base;
        end = i + 1 < log->nsegs ? log->segs[i + 1]->base : INT64_MAX;
        if (end > offset &&
            txnidx_file_rewrite(log->dir, base, &log->aborted, base, end) != KERR_NONE)
            say_warn("storage", "cannot rewrite transaction index dir=%s base=%" PRId64, log->dir,
                     base);
    }
}

void plog_txnidx_segment_removed(struct plog *log, int64_t base, int64_t end)
{
    txnidx_list_drop(&log->aborted, base, end);
    txnidx_file_retire(log->dir, base);
}

void plog_txnidx_load(struct plog *log)
{
    for (int i = 0; i < log->nsegs; i++) {
        int64_t base = log->segs[i]->base;
        size_t before = log->aborted.n;
        bool missing;
        const char *why = NULL;
        kerr_t err = txnidx_file_load(log->dir, base, &log->aborted, &missing, &why);
        if (err == KERR_NONE)
            continue;
        log->aborted.n = before;
        say_warn("storage",
                 "refusing transaction index dir=%s base=%" PRId64
                 ": %s; rebuilding it from the log",
                 log->dir, base, why ? why : kerr_name(err));
        txnidx_file_retire(log->dir, base);
        /* the producer rebuild replays from a snapshot at or below base */
        plog_producers_drop_snapshots(log, -1, base);
        for (int j = i + 1; j < log->nsegs; j++)
            txnidx_file_retire(log->dir, log->segs[j]->base);
        return;
    }
}

kerr_t plog_append_marker(struct plog *log, const struct plog_marker *m, int32_t leader_epoch,
                          int64_t now_ms, int64_t *offset)
{
    struct kbuf b;
    int64_t first;
    kerr_t err = pstate_check_marker(pstate_find(&log->producers, m->producer_id),
                                     m->producer_epoch, m->coordinator_epoch);

    if (err != KERR_NONE) {
        say_info("storage",
                 "transaction marker refused dir=%s producer_id=%" PRId64
                 " epoch=%d coordinator_epoch=%d: %s",
                 log->dir, m->producer_id, m->producer_epoch, m->coordinator_epoch, kerr_name(err));
        return err;
    }
    kbuf_init(&b);
    err = batch_build_marker(&b, m->producer_id, m->producer_epoch, m->commit, m->coordinator_epoch,
                             now_ms);
    if (err == KERR_NONE)
        err = plog_append(log, b.data, b.len, leader_epoch, now_ms, &first, offset);
    kbuf_destroy(&b);
    return err;
}

void plog_txn_replicated(struct plog *log, int64_t hw)
{
    size_t n = 0;
    while (n < log->n_ended && log->ended[n].marker < hw)
        n++;
    if (n == 0)
        return;
    memmove(log->ended, log->ended + n, (log->n_ended - n) * sizeof(*log->ended));
    log->n_ended -= n;
}

int64_t plog_last_stable_offset(struct plog *log, int64_t hw)
{
    plog_txn_replicated(log, hw);
    int64_t unstable = pstate_first_unstable_offset(&log->producers);
    for (size_t i = 0; i < log->n_ended; i++)
        if (unstable < 0 || log->ended[i].first < unstable)
            unstable = log->ended[i].first;
    return unstable >= 0 && unstable < hw ? unstable : hw;
}

bool plog_aborted_txns(const struct plog *log, int64_t from, int64_t upto, struct aborted_txn **out,
                       int *n)
{
    return txnidx_list_select(&log->aborted, from, upto, out, n);
}
