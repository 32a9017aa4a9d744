/*
 * broker/storage/cleaner.c — one compaction pass over one partition log
 * (the steps and rules are in cleaner.h). Reads go through a window over a
 * dup()ed descriptor of each cleanable segment, charged to the shared
 * throttle; the cleaned segment is written with pwrite, its indexes
 * through offset_index / time_index, the way segment.c builds them (an
 * entry every index.interval.bytes, a final time index entry when sealed).
 */
#include "broker/storage/cleaner.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "broker/storage/cleaner_filter.h"
#include "broker/storage/cleaner_swap.h"
#include "broker/storage/cleaner_txn.h"
#include "broker/storage/fileio.h"
#include "broker/storage/io_throttle.h"
#include "broker/storage/offset_map.h"
#include "broker/storage/plog_priv.h"
#include "broker/storage/record_validate.h"
#include "common/say.h"
#include "common/vec.h"

#define READ_WINDOW (1 << 20)

void cleaner_log_config_default(struct cleaner_log_config *c)
{
    c->min_cleanable_ratio = 0.5;
    c->delete_retention_ms = 86400000;
    c->min_lag_ms = 0;
    c->max_lag_ms = INT64_MAX;
}

/* ---- planning (partition lock held) ---------------------------------- */

/* True if closed segment i may be cleaned: it ends at or below max_offset
 * and its newest record is older than min.compaction.lag.ms. */
static bool seg_cleanable(const struct plog *log, int i, int64_t max_offset, int64_t min_lag_ms,
                          int64_t now_ms)
{
    const struct segment *seg = log->segs[i];

    if (i >= log->nsegs - 1 || log->segs[i + 1]->base > max_offset)
        return false;
    return min_lag_ms <= 0 || seg->max_ts < 0 || seg->max_ts <= now_ms - min_lag_ms;
}

void cleaner_plan(struct plog *log, const struct cleaner_log_config *cfg, int64_t checkpoint,
                  int64_t max_offset, int64_t now_ms, struct cleaner_plan *p)
{
    int64_t unstable = pstate_first_unstable_offset(&log->producers);
    int n = 0;

    memset(p, 0, sizeof(*p));
    p->first_dirty_ts = -1;
    p->start = log->segs[0]->base;
    if (unstable >= 0) /* an open transaction and all after it stay dirty */
        max_offset = MIN(max_offset, unstable);
    while (n < log->nsegs - 1 && seg_cleanable(log, n, max_offset, cfg->min_lag_ms, now_ms))
        n++;
    p->cleanable_segments = n;
    p->uncleanable = log->segs[n]->base;
    /* a checkpoint outside the log (it was truncated or restarted) starts
     * over; one past U (a longer min.compaction.lag.ms) leaves nothing dirty */
    p->first_dirty = MIN(checkpoint, p->uncleanable);
    if (checkpoint < p->start || checkpoint > plog_end_offset(log))
        p->first_dirty = p->start;
    for (int i = 0; i < n; i++) {
        const struct segment *seg = log->segs[i];
        if (log->segs[i + 1]->base <= p->first_dirty) {
            p->clean_bytes += seg->size;
            continue;
        }
        if (p->first_dirty_ts < 0)
            p->first_dirty_ts = seg->roll_ts >= 0 ? seg->roll_ts : seg->mtime_ms;
        p->dirty_bytes += seg->size;
    }
    if (p->clean_bytes + p->dirty_bytes > 0)
        p->dirty_ratio = (double)p->dirty_bytes / (double)(p->clean_bytes + p->dirty_bytes);
}

bool cleaner_plan_due(const struct cleaner_plan *p, const struct cleaner_log_config *cfg,
                      int64_t now_ms)
{
    if (p->dirty_bytes <= 0 || p->first_dirty >= p->uncleanable)
        return false;
    if (p->dirty_ratio >= cfg->min_cleanable_ratio)
        return true;
    return cfg->max_lag_ms >= 0 && cfg->max_lag_ms < INT64_MAX && p->first_dirty_ts >= 0 &&
           now_ms - p->first_dirty_ts > cfg->max_lag_ms;
}

/* ---- snapshot of the cleanable segments ------------------------------ */

/* One cleanable segment as planned. fd is a dup the pass owns. */
struct snap_seg {
    struct segment *seg; /* identity only: compared under the lock at install */
    int64_t base, end;   /* offsets [base, end): end is the next segment's base */
    int64_t size;        /* .log bytes at plan time */
    int64_t mtime_ms;    /* .log modification time */
    int64_t index_bytes; /* both index files' entries, in bytes */
    int fd;
};

/* Everything a pass works on. On cleaner_clean()'s stack. */
struct pass {
    struct plog *log;
    const struct cleaner_lock *lk;
    const struct cleaner_log_config *cfg;
    struct offset_map *map;
    struct io_throttle *thr;
    struct cleaner_result *res;
    struct cleaner_plan plan;
    struct snap_seg *segs; /* owned, nsegs */
    int nsegs;
    const char *dir; /* the log's directory (stable while the log is open) */
    int32_t segment_bytes, index_max_bytes, index_interval;
    struct cleaner_txn txn; /* producers' last batches, aborted transactions */
};

static void pass_lock(struct pass *ps) { ps->lk->lock(ps->lk->arg); }
static bool cancelled(const struct pass *ps)
{
    return ps->lk->cancel && atomic_load(ps->lk->cancel);
}
static void pass_unlock(struct pass *ps) { ps->lk->unlock(ps->lk->arg); }
static void assert_locked(const struct pass *ps)
{
    KASSERT(!ps->lk->held || ps->lk->held(ps->lk->arg));
}

/* Plans and snapshots under the lock. */
static kerr_t take_snapshot(struct pass *ps, int64_t checkpoint, int64_t now_ms)
{
    struct plog *log = ps->log;
    int64_t max_offset;
    kerr_t err = KERR_NONE;

    assert_locked(ps);
    max_offset = ps->lk->max_offset ? ps->lk->max_offset(ps->lk->arg) : plog_end_offset(log);
    cleaner_plan(log, ps->cfg, checkpoint, max_offset, now_ms, &ps->plan);
    ps->segment_bytes = log->cfg.segment_bytes;
    ps->index_max_bytes = log->cfg.index_max_bytes;
    ps->index_interval = log->cfg.index_interval_bytes;
    ps->dir = log->dir;
    err = cleaner_txn_init(&ps->txn, &log->aborted, ps->plan.uncleanable);
    if (err != KERR_NONE)
        return err;
    ps->segs = calloc((size_t)MAX(ps->plan.cleanable_segments, 1), sizeof(*ps->segs));
    if (!ps->segs)
        return KERR__NOMEM;
    for (int i = 0; i < ps->plan.cleanable_segments && err == KERR_NONE; i++) {
        struct segment *seg = log->segs[i];
        struct snap_seg *s = &ps->segs[i];
        s->seg = seg;
        s->base = seg->base;
        s->end = log->segs[i + 1]->base;
        s->size = seg->size;
        s->index_bytes = (int64_t)seg->oidx.f.entries * seg->oidx.f.esize +
                         (int64_t)seg->tidx.f.entries * seg->tidx.f.esize;
        s->fd = -1;
        err = fileio_dup(seg->fd, &s->fd);
        if (err == KERR_NONE)
            err = fileio_mtime(s->fd, &s->mtime_ms);
        ps->nsegs = i + 1;
    }
    return err;
}

/* ---- reading ----------------------------------------------------------- */

/* A read window over one snapshot segment. On the stack. */
struct reader {
    struct pass *ps;
    const struct snap_seg *s;
    struct kbuf buf;
    int64_t wpos; /* file position of buf.data[0] */
};

static void reader_init(struct reader *r, struct pass *ps, const struct snap_seg *s)
{
    r->ps = ps;
    r->s = s;
    kbuf_init(&r->buf);
    r->wpos = 0;
}

/* The batch at pos: header in *h, bytes at *p (valid until the next call).
 * KERR__NOENT at the planned end of the segment; KERR__CORRUPT if the
 * file is shorter than planned or holds a bad header; KERR__AGAIN when the
 * pass was cancelled. */
static kerr_t reader_batch(struct reader *r, int64_t pos, struct batch_hdr *h, const uint8_t **p)
{
    if (cancelled(r->ps))
        return KERR__AGAIN;
    /* at most two reads: the window, then the whole batch if larger */
    for (int pass = 0; pass < 3; pass++) {
        int64_t off = pos - r->wpos;
        size_t got;
        kerr_t err;
        if (pos >= r->s->size)
            return KERR__NOENT;
        if (off >= 0 && off + BATCH_HDR_SIZE <= (int64_t)r->buf.len) {
            err = batch_parse_hdr(r->buf.data + off, BATCH_HDR_SIZE, h);
            if (err != KERR_NONE || h->last_offset_delta < 0 || pos + batch_size(h) > r->s->size)
                return KERR__CORRUPT;
            if (off + batch_size(h) <= (int64_t)r->buf.len) {
                *p = r->buf.data + off;
                return KERR_NONE;
            }
        }
        if (pass == 2)
            return KERR__CORRUPT;
        /* refill: at least the batch whose header we may have seen */
        size_t want = READ_WINDOW;
        if (off >= 0 && off + BATCH_HDR_SIZE <= (int64_t)r->buf.len)
            want = MAX(want, (size_t)batch_size(h));
        want = (size_t)MIN((int64_t)want, r->s->size - pos);
        kbuf_reset(&r->buf);
        if (!kbuf_reserve(&r->buf, want))
            return KERR__NOMEM;
        io_throttle_take(r->ps->thr, (int64_t)want);
        err = fileio_pread_full(r->s->fd, r->buf.data, want, pos, &got);
        if (err != KERR_NONE)
            return err;
        r->buf.len = got;
        r->wpos = pos;
        r->ps->res->bytes_read += (int64_t)got;
    }
    return KERR__CORRUPT;
}

static void reader_destroy(struct reader *r) { kbuf_destroy(&r->buf); }

/* ---- offset map ------------------------------------------------------- */

/* Puts every keyed record of the batch with offset in [from, to). */
static kerr_t map_batch(struct pass *ps, const uint8_t *p, const struct batch_hdr *h, int64_t from,
                        int64_t to)
{
    struct kbuf recs;
    struct kslice s;
    struct cleaner_rec r;
    kerr_t err;

    kbuf_init(&recs);
    err = rv_decompress_records(p, h, RV_DECOMPRESSED_MIN_LIMIT, &recs);
    kslice_init(&s, recs.data, recs.len);
    while (err == KERR_NONE && (err = cleaner_next_record(&s, h, &r)) == KERR_NONE) {
        if (r.key && r.offset >= from && r.offset < to &&
            !offset_map_put(ps->map, r.key, (size_t)r.key_len, r.offset))
            err = KERR__NOMEM; /* cannot happen: the caller checked the room */
    }
    kbuf_destroy(&recs);
    if (err == KERR__NOENT)
        return KERR_NONE;
    return err == KERR__NOMEM ? err : KERR__CORRUPT;
}

/* 0 ABORT, 1 COMMIT, -1 for a control batch without a readable marker. */
static int marker_type(const uint8_t *p, const struct batch_hdr *h)
{
    int type;
    int32_t coordinator_epoch;

    if (h->records_count == 0 || plog_control_marker(p, h, &type, &coordinator_epoch) != KERR_NONE)
        return -1;
    return type;
}

/* Step 2: the map over [first_dirty, uncleanable); *end = latest + 1. */
static kerr_t build_map(struct pass *ps, int64_t *end)
{
    int64_t from = ps->plan.first_dirty, to = ps->plan.uncleanable;
    bool full = false;
    kerr_t err = KERR_NONE;

    offset_map_clear(ps->map);
    cleaner_txn_rewind(&ps->txn, from);
    for (int i = 0; i < ps->nsegs && !full && err == KERR_NONE; i++) {
        struct reader rd;
        struct batch_hdr h;
        const uint8_t *p;
        int64_t pos = 0;
        if (ps->segs[i].end <= from)
            continue;
        reader_init(&rd, ps, &ps->segs[i]);
        while ((err = reader_batch(&rd, pos, &h, &p)) == KERR_NONE) {
            bool skip;
            pos += batch_size(&h);
            if (batch_last_offset(&h) < from)
                continue;
            if (h.base_offset >= to)
                break;
            if (batch_is_control(&h)) {
                err = cleaner_txn_control(&ps->txn, &h, marker_type(p, &h), &skip);
                if (err != KERR_NONE)
                    break;
                continue;
            }
            if (offset_map_full(ps->map, h.records_count)) {
                full = true;
                break;
            }
            /* aborted records never shadow a committed value */
            err = cleaner_txn_data(&ps->txn, &h, &skip);
            if (err == KERR_NONE && !skip)
                err = map_batch(ps, p, &h, from, to);
            if (err != KERR_NONE)
                break;
        }
        if (err == KERR__NOENT)
            err = KERR_NONE;
        reader_destroy(&rd);
    }
    if (err != KERR_NONE)
        return err;
    if (full && offset_map_size(ps->map) == 0) {
        say_error("storage",
                  "cleaner cannot make progress dir=%s: one batch has more records than "
                  "the dedupe buffer holds (%" PRId64 " entries)",
                  ps->dir, offset_map_slots(ps->map));
        return KERR__NOMEM;
    }
    /* Without any keyed record the dirty part is still done up to U. */
    *end = offset_map_latest(ps->map) >= 0 && full ? offset_map_latest(ps->map) + 1 : to;
    return KERR_NONE;
}

/* ---- producers' last batches ------------------------------------------ */

/* Walks the batch headers of segments [0, n) (pread, 61 bytes each) and
 * notes each producer's last batches (cleaner_txn.h). */
static kerr_t scan_producers(struct pass *ps, int n)
{
    for (int i = 0; i < n; i++) {
        const struct snap_seg *s = &ps->segs[i];
        uint8_t hdr[BATCH_HDR_SIZE];
        int64_t pos = 0;
        while (pos < s->size) {
            struct batch_hdr h;
            size_t got;
            kerr_t err = fileio_pread_full(s->fd, hdr, sizeof(hdr), pos, &got);
            if (err != KERR_NONE)
                return err;
            if (batch_parse_hdr(hdr, got, &h) != KERR_NONE)
                return KERR__CORRUPT;
            if (h.producer_id >= 0 && (err = cleaner_txn_note_last(&ps->txn, &h)) != KERR_NONE)
                return err;
            pos += batch_size(&h);
        }
    }
    return KERR_NONE;
}

/* ---- writing a cleaned segment ------------------------------------------ */

/* The segment being written: <base>.*.cleaned. On the stack. */
struct writer {
    struct pass *ps;
    int64_t base;
    int fd;
    int64_t size;
    struct offset_index oidx;
    struct time_index tidx;
    int64_t bytes_since_index;
    int64_t max_ts, max_ts_offset;
    uint8_t last_hdr[BATCH_HDR_SIZE]; /* header of the last batch read, for an empty group */
    bool have_last;
    VEC(int64_t) gone; /* ABORT markers removed, ascending; freed by clean_group */
};

static kerr_t writer_open(struct writer *w, struct pass *ps, int64_t base)
{
    char path[PATH_MAX];
    bool clean;
    kerr_t err;

    memset(w, 0, sizeof(*w));
    w->ps = ps;
    w->base = base;
    w->fd = -1;
    w->oidx.f.fd = -1;
    w->tidx.f.fd = -1;
    w->max_ts = -1;
    w->max_ts_offset = -1;
    cleaner_discard_cleaned(ps->dir, base);
    if (!cleaner_file_path(path, sizeof(path), ps->dir, base, "log", CLEANER_CLEANED_SUFFIX))
        return KERR__INVALID;
    err = fileio_open(path, O_RDWR | O_CREAT | O_TRUNC, 0644, &w->fd);
    if (err == KERR_NONE &&
        !cleaner_file_path(path, sizeof(path), ps->dir, base, "index", CLEANER_CLEANED_SUFFIX))
        err = KERR__INVALID;
    if (err == KERR_NONE)
        err = offset_index_open(&w->oidx, path, base, 0, &clean);
    if (err == KERR_NONE)
        err = index_file_activate(&w->oidx.f, ps->index_max_bytes);
    if (err == KERR_NONE &&
        !cleaner_file_path(path, sizeof(path), ps->dir, base, "timeindex", CLEANER_CLEANED_SUFFIX))
        err = KERR__INVALID;
    if (err == KERR_NONE)
        err = time_index_open(&w->tidx, path, base, &clean);
    if (err == KERR_NONE)
        err = index_file_activate(&w->tidx.f, ps->index_max_bytes);
    return err;
}

/* Appends whole batches (offsets already in place) and indexes them. */
static kerr_t writer_put(struct writer *w, const uint8_t *data, size_t len)
{
    struct batch_iter it;
    struct batch_hdr h;
    size_t at;
    kerr_t err;

    if (len == 0)
        return KERR_NONE;
    io_throttle_take(w->ps->thr, (int64_t)len);
    err = fileio_pwrite_all(w->fd, data, len, w->size);
    if (err != KERR_NONE)
        return err;
    batch_iter_init(&it, data, len);
    while (batch_iter_next(&it, &h, &at) == KERR_NONE) {
        if (h.max_ts > w->max_ts) {
            w->max_ts = h.max_ts;
            w->max_ts_offset = h.base_offset;
        }
        if (w->bytes_since_index >= w->ps->index_interval) {
            (void)offset_index_append(&w->oidx, h.base_offset, w->size + (int64_t)at);
            (void)time_index_append(&w->tidx, w->max_ts, w->max_ts_offset);
            w->bytes_since_index = 0;
        }
        w->bytes_since_index += batch_size(&h);
    }
    w->size += (int64_t)len;
    w->ps->res->bytes_written += (int64_t)len;
    return KERR_NONE;
}

/* Seals the indexes, sets the .log's mtime, fsyncs all three, closes. */
static kerr_t writer_finish(struct writer *w, int64_t mtime_ms)
{
    struct timespec ts[2];
    kerr_t err = KERR_NONE;

    if (w->max_ts > 0)
        (void)time_index_append(&w->tidx, w->max_ts, w->max_ts_offset);
    if (index_file_sync(&w->oidx.f) != KERR_NONE || index_file_sync(&w->tidx.f) != KERR_NONE)
        err = KERR__IO;
    if (err == KERR_NONE)
        err = index_file_seal(&w->oidx.f);
    if (err == KERR_NONE)
        err = index_file_seal(&w->tidx.f);
    ts[0].tv_sec = ts[1].tv_sec = mtime_ms / 1000;
    ts[0].tv_nsec = ts[1].tv_nsec = (mtime_ms % 1000) * 1000000;
    if (err == KERR_NONE && futimens(w->fd, ts) != 0)
        say_syserror("storage", "cannot set mtime of cleaned segment dir=%s", w->ps->dir);
    if (err == KERR_NONE)
        err = fileio_fsync(w->fd);
    return err;
}

static void writer_close(struct writer *w)
{
    index_file_close(&w->oidx.f);
    index_file_close(&w->tidx.f);
    fileio_close(w->fd);
    w->fd = -1;
}

/* ---- cleaning a group ---------------------------------------------------- */

/* The delete horizon: mtime of the last segment starting below the
 * checkpoint, minus delete.retention.ms; INT64_MIN with no clean part. */
static int64_t delete_horizon(const struct pass *ps)
{
    int64_t h = INT64_MIN;

    for (int i = 0; i < ps->nsegs && ps->segs[i].base < ps->plan.first_dirty; i++)
        h = ps->segs[i].mtime_ms - ps->cfg->delete_retention_ms;
    return h;
}

/* A marker of segment s (header h, bytes p): kept unchanged into w, or
 * removed when no batch of its transaction was read in this pass, its
 * segment is past the delete horizon and its producer does not need it. */
static kerr_t clean_marker(struct pass *ps, struct writer *w, const struct snap_seg *s,
                           int64_t horizon, const struct batch_hdr *h, const uint8_t *p)
{
    int type = marker_type(p, h);
    bool discardable;
    kerr_t err = cleaner_txn_control(&ps->txn, h, type, &discardable);

    if (err != KERR_NONE)
        return err;
    if (!discardable || s->mtime_ms > horizon ||
        (h->producer_id >= 0 && cleaner_txn_is_needed_marker(&ps->txn, h)))
        return writer_put(w, p, (size_t)batch_size(h));
    ps->res->markers_removed++;
    if (type == 0 && !VEC_PUSH(w->gone, h->base_offset))
        return KERR__NOMEM;
    return KERR_NONE;
}

/* Filters segment s into w. */
static kerr_t clean_segment(struct pass *ps, struct writer *w, const struct snap_seg *s,
                            int64_t horizon, int64_t end, struct kbuf *out)
{
    struct cleaner_filter f = {.map = ps->map,
                               .end = end,
                               .retain_deletes = s->mtime_ms > horizon,
                               .decompress_limit = RV_DECOMPRESSED_MIN_LIMIT};
    struct cleaner_filter_result fr = {0};
    struct reader rd;
    struct batch_hdr h;
    const uint8_t *p;
    int64_t pos = 0;
    kerr_t err;

    reader_init(&rd, ps, s);
    while ((err = reader_batch(&rd, pos, &h, &p)) == KERR_NONE) {
        bool aborted, keep_empty;
        pos += batch_size(&h);
        memcpy(w->last_hdr, p, BATCH_HDR_SIZE);
        w->have_last = true;
        if (batch_is_control(&h)) {
            err = clean_marker(ps, w, s, horizon, &h, p);
            if (err != KERR_NONE)
                break;
            continue;
        }
        err = cleaner_txn_data(&ps->txn, &h, &aborted);
        if (err != KERR_NONE)
            break;
        keep_empty = h.producer_id >= 0 && cleaner_txn_is_last_data(&ps->txn, &h);
        kbuf_reset(out);
        err = cleaner_filter_batch(p, &h, &f, aborted, keep_empty, out, &fr);
        if (err == KERR_NONE)
            err = writer_put(w, out->data, out->len);
        if (err != KERR_NONE)
            break;
    }
    reader_destroy(&rd);
    ps->res->records_kept += fr.records_kept;
    ps->res->records_removed += fr.records_removed;
    ps->res->tombstones_removed += fr.tombstones_removed;
    ps->res->keyless_removed += fr.keyless_removed;
    ps->res->aborted_removed += fr.aborted_removed;
    return err == KERR__NOENT ? KERR_NONE : err;
}

/* Number of segments from index i that form one group. */
static int group_size(const struct pass *ps, int i, int n)
{
    int64_t log_bytes = ps->segs[i].size, idx_bytes = ps->segs[i].index_bytes;
    int k = i + 1;

    while (k < n) {
        const struct snap_seg *s = &ps->segs[k];
        if (log_bytes + s->size > ps->segment_bytes ||
            idx_bytes + s->index_bytes > ps->index_max_bytes ||
            s->end - 1 - ps->segs[i].base > INT32_MAX)
            break;
        log_bytes += s->size;
        idx_bytes += s->index_bytes;
        k++;
    }
    return k - i;
}

/* Writes group [i, i + n) of the snapshot as one cleaned segment and
 * installs it at *log_index of the plog's array (then advanced).
 * KERR__AGAIN when the log changed under the pass. */
static kerr_t clean_group(struct pass *ps, int i, int n, int64_t horizon, int64_t end,
                          int *log_index)
{
    struct writer w;
    struct kbuf out;
    struct segment **olds = calloc((size_t)n, sizeof(*olds));
    int64_t *sizes = calloc((size_t)n, sizeof(*sizes)), mtime = 0;
    struct segment *seg;
    kerr_t err = (olds && sizes) ? writer_open(&w, ps, ps->segs[i].base) : KERR__NOMEM;

    kbuf_init(&out);
    for (int k = 0; k < n && err == KERR_NONE; k++) {
        olds[k] = ps->segs[i + k].seg;
        sizes[k] = ps->segs[i + k].size;
        mtime = MAX(mtime, ps->segs[i + k].mtime_ms);
        err = clean_segment(ps, &w, &ps->segs[i + k], horizon, end, &out);
    }
    if (err == KERR_NONE && w.size == 0 && w.have_last) {
        /* every batch went: a placeholder at the last one's offsets */
        kbuf_reset(&out);
        cleaner_placeholder_batch(w.last_hdr, &out);
        err = out.oom ? KERR__NOMEM : writer_put(&w, out.data, out.len);
    }
    if (err == KERR_NONE)
        err = writer_finish(&w, mtime);
    if (olds && sizes)
        writer_close(&w);
    kbuf_destroy(&out);
    if (err == KERR_NONE) {
        pass_lock(ps);
        assert_locked(ps);
        err = cleaner_swap_install(ps->log, *log_index, n, olds, sizes, ps->segs[i].base, w.gone.v,
                                   w.gone.n, &seg);
        pass_unlock(ps);
    } else if (olds && sizes) {
        cleaner_discard_cleaned(ps->dir, ps->segs[i].base);
    }
    if (olds && sizes)
        VEC_FREE(w.gone);
    free(olds);
    free(sizes);
    if (err == KERR_NONE) {
        ps->res->segments_before += n;
        ps->res->segments_after++;
        (*log_index)++;
    }
    return err;
}

/* ---- the pass -------------------------------------------------------------- */

static void pass_free(struct pass *ps)
{
    for (int i = 0; i < ps->nsegs; i++)
        fileio_close(ps->segs[i].fd);
    free(ps->segs);
    cleaner_txn_free(&ps->txn);
}

kerr_t cleaner_clean(struct plog *log, const struct cleaner_lock *lk,
                     const struct cleaner_log_config *cfg, int64_t checkpoint,
                     struct offset_map *map, struct io_throttle *thr, int64_t now_ms,
                     struct cleaner_result *res)
{
    struct pass ps = {.log = log, .lk = lk, .cfg = cfg, .map = map, .thr = thr, .res = res};
    int64_t end = 0, horizon;
    int n = 0, log_index = 0;
    kerr_t err;

    memset(res, 0, sizeof(*res));
    pass_lock(&ps);
    err = take_snapshot(&ps, checkpoint, now_ms);
    pass_unlock(&ps);
    res->first_dirty = res->end_offset = ps.plan.first_dirty;
    res->dirty_ratio = ps.plan.dirty_ratio;
    if (err != KERR_NONE || ps.plan.first_dirty >= ps.plan.uncleanable)
        goto out;
    err = build_map(&ps, &end);
    /* the segments that start below end are rewritten */
    while (err == KERR_NONE && n < ps.nsegs && ps.segs[n].base < end)
        n++;
    if (err == KERR_NONE)
        err = scan_producers(&ps, n);
    horizon = delete_horizon(&ps);
    if (n > 0) /* the rewrite walks from the log start */
        cleaner_txn_rewind(&ps.txn, ps.segs[0].base);
    for (int i = 0; i < n && err == KERR_NONE;) {
        int g = group_size(&ps, i, n);
        err = clean_group(&ps, i, g, horizon, end, &log_index);
        i += g;
    }
    if (err == KERR__AGAIN) {
        say_info("storage", "cleaner pass abandoned: the log changed dir=%s", ps.dir);
        res->aborted = true;
        err = KERR_NONE;
    } else if (err == KERR_NONE) {
        res->end_offset = end;
        say_info("storage",
                 "cleaned log dir=%s dirty=[%" PRId64 ",%" PRId64 ") segments=%d->%d read=%" PRId64
                 " written=%" PRId64 " removed=%" PRId64 " tombstones_removed=%" PRId64
                 " aborted_removed=%" PRId64 " markers_removed=%" PRId64,
                 ps.dir, ps.plan.first_dirty, end, res->segments_before, res->segments_after,
                 res->bytes_read, res->bytes_written, res->records_removed, res->tombstones_removed,
                 res->aborted_removed, res->markers_removed);
    }
out:
    if (err != KERR_NONE)
        say_error("storage", "cleaner pass failed dir=%s err=%s", log->dir, kerr_name(err));
    pass_free(&ps);
    return err;
}
