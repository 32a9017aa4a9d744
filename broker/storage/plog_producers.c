/*
 * broker/storage/plog_producers.c — the idempotent-producer state of one
 * partition log (producer_state.h; docs/storage.md "Producer state"): the
 * leader's check of a client batch, the update after every append (leader
 * and follower alike, so a new leader knows what the old one accepted),
 * the rebuild from the batch headers of the log (at open, after a
 * truncation that removed remembered batches) and expiry.
 *
 * Only data batches with a producer id >= 0 count; control batches and
 * batches without a producer id are skipped without a lookup.
 *
 * Threads: like plog.c, the owning partition's lock.
 */
#include <inttypes.h>

#include "broker/storage/batch.h"
#include "broker/storage/fileio.h"
#include "broker/storage/plog_priv.h"
#include "broker/storage/producer_state.h"
#include "common/say.h"

static void batch_meta(const struct batch_hdr *h, struct pstate_batch *b)
{
    b->first_seq = h->base_seq;
    b->last_seq = pstate_seq_add(h->base_seq, h->last_offset_delta);
    b->last_offset = batch_last_offset(h);
    b->offset_delta = h->last_offset_delta;
    b->timestamp = h->max_ts;
}

static bool is_idempotent(const struct batch_hdr *h)
{
    return h->producer_id >= 0 && !batch_is_control(h);
}

/* Records one stored batch (offsets assigned). */
static kerr_t update_one(struct plog *log, const struct batch_hdr *h)
{
    struct pstate_batch b;

    if (!is_idempotent(h))
        return KERR_NONE;
    batch_meta(h, &b);
    return pstate_update(&log->producers, h->producer_id, h->producer_epoch, &b, h->max_ts);
}

kerr_t plog_producers_check(struct plog *log, const uint8_t *buf, size_t len, int64_t *first,
                            int64_t *last)
{
    struct batch_iter it;
    struct batch_hdr h;
    size_t at;
    const struct pstate_batch *dup = NULL;
    const char *why = NULL;
    struct pstate_batch b;
    kerr_t err;

    batch_iter_init(&it, buf, len);
    if (batch_iter_next(&it, &h, &at) != KERR_NONE || !is_idempotent(&h))
        return KERR_NONE;
    if (it.pos != len)
        return KERR_NONE; /* several batches: not a Produce v3+ append; updates only */
    batch_meta(&h, &b);
    err = pstate_check(pstate_find(&log->producers, h.producer_id), h.producer_epoch, b.first_seq,
                       b.last_seq, &dup, &why);
    if (err == KERR_DUPLICATE_SEQUENCE_NUMBER) {
        *first = pstate_batch_first_offset(dup);
        *last = dup->last_offset;
    }
    if (err != KERR_NONE)
        say_debug("storage",
                  "producer batch %s dir=%s producer_id=%" PRId64
                  " epoch=%d first_seq=%d last_seq=%d: %s",
                  err == KERR_DUPLICATE_SEQUENCE_NUMBER ? "deduplicated" : "refused", log->dir,
                  h.producer_id, h.producer_epoch, b.first_seq, b.last_seq, why);
    return err;
}

void plog_producers_update(struct plog *log, const uint8_t *buf, size_t len)
{
    int64_t leo = plog_end_offset(log);
    struct batch_iter it;
    struct batch_hdr h;
    size_t at;

    batch_iter_init(&it, buf, len);
    while (batch_iter_next(&it, &h, &at) == KERR_NONE && h.base_offset < leo)
        if (update_one(log, &h) != KERR_NONE)
            say_error("storage", "out of memory for producer state dir=%s", log->dir);
}

/* Feeds every batch header of seg whose base offset is >= from_offset. */
static kerr_t scan_seg(struct plog *log, const struct segment *seg, int64_t from_offset)
{
    uint8_t hdr[BATCH_HDR_SIZE];
    struct batch_hdr h;
    int64_t pos = 0;
    size_t got;

    while (pos < seg->size) {
        kerr_t err = fileio_pread_full(seg->fd, hdr, sizeof(hdr), pos, &got);
        if (err != KERR_NONE)
            return err;
        if (batch_parse_hdr(hdr, got, &h) != KERR_NONE)
            return KERR__CORRUPT;
        if (h.base_offset >= from_offset && (err = update_one(log, &h)) != KERR_NONE)
            return err;
        pos += batch_size(&h);
    }
    return KERR_NONE;
}

void plog_producers_rebuild(struct plog *log, int64_t from_offset, const char *why)
{
    kerr_t err = KERR_NONE;

    if (from_offset <= log->start_offset)
        pstate_clear(&log->producers);
    for (int i = 0; i < log->nsegs && err == KERR_NONE; i++) {
        int64_t end = i + 1 < log->nsegs ? log->segs[i + 1]->base : log->segs[i]->next_offset;
        if (end > from_offset)
            err = scan_seg(log, log->segs[i], from_offset);
    }
    if (err != KERR_NONE)
        say_error("storage", "cannot rebuild producer state dir=%s err=%s", log->dir,
                  kerr_name(err));
    say_info("storage", "producer state rebuilt from the log dir=%s reason=%s producers=%zu",
             log->dir, why, log->producers.n);
}

void plog_producers_truncated(struct plog *log, int64_t offset)
{
    if (pstate_truncate_needs_rebuild(&log->producers, offset))
        plog_producers_rebuild(log, log->start_offset, "truncation");
}

int plog_expire_producers(struct plog *log, int64_t now_ms, int64_t expiration_ms)
{
    int n = pstate_expire(&log->producers, now_ms, expiration_ms);
    if (n > 0)
        say_info("storage", "expired idle producers dir=%s count=%d left=%zu", log->dir, n,
                 log->producers.n);
    return n;
}

const struct pstate_map *plog_producers(const struct plog *log) { return &log->producers; }
