/*
 * broker/storage/plog.c — one partition's log: an ordered array of
 * segments (segment.c), the last of which is active (appendable, indexes
 * preallocated).
 *
 * Directory `<log.dir>/<topic>-<partition>/`:
 *   <base>.log / <base>.index / <base>.timeindex   one segment (segment.c)
 *   leader-epoch-checkpoint                       the epoch cache (epoch_cache.c)
 *   *.cleaned / *.swap                            a clean in progress (cleaner_swap.h),
 *                                                 finished or discarded at open
 * Other files there belong to other modules and are left alone; index
 * files without a .log are removed at open.
 *
 * Offsets: segment i holds offsets [base_i, base_{i+1}); the log end offset
 * (LEO) is the last segment's next_offset. The log start offset is the
 * first segment's base unless DeleteRecords moved it up.
 *
 * Leader epochs: the epoch cache follows the log. plog_append starts the
 * leader's epoch at the first offset it writes, plog_append_replica takes
 * each batch's partitionLeaderEpoch, truncation trims the cache's end and
 * a moving log start its beginning. The checkpoint is written on every
 * change (after the data, so a process crash can leave it behind the log,
 * never ahead of a batch it describes), with a rename but no fsync: the
 * batch headers are the durable record, and at open a missing, corrupt or
 * stale file (what a machine crash can leave) is rebuilt from them
 * (load_epochs; epoch_cache.c).
 *
 * Threads: not thread-safe; the owning partition's lock (see plog.h).
 */
#include "broker/storage/plog.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "broker/storage/cleaner_swap.h"
#include "broker/storage/epoch_cache.h"
#include "broker/storage/fileio.h"
#include "broker/storage/logdir.h"
#include "broker/storage/plog_priv.h"
#include "broker/storage/record_validate.h"
#include "broker/storage/segment.h"
#include "common/say.h"
#include "common/vec.h"

void plog_config_default(struct plog_config *cfg)
{
    cfg->segment_bytes = 1073741824;
    cfg->segment_ms = 7LL * 24 * 3600 * 1000;
    cfg->index_interval_bytes = 4096;
    cfg->index_max_bytes = 10485760;
    cfg->flush_interval_messages = -1;
    cfg->recovery_point = -1;
}

static struct segment *active_seg(const struct plog *log) { return log->segs[log->nsegs - 1]; }

void plog_set_config(struct plog *log, const struct plog_config *cfg)
{
    int64_t rp = log->cfg.recovery_point;
    log->cfg = *cfg;
    log->cfg.recovery_point = rp;
}

const char *plog_dir(const struct plog *log) { return log->dir; }
int64_t plog_start_offset(const struct plog *log) { return log->start_offset; }
int64_t plog_end_offset(const struct plog *log) { return active_seg(log)->next_offset; }
int64_t plog_recovery_point(const struct plog *log) { return log->recovery_point; }
int64_t plog_open_checked_bytes(const struct plog *log) { return log->checked_bytes; }
int plog_segment_count(const struct plog *log) { return log->nsegs; }

int64_t plog_segment_base(const struct plog *log, int i)
{
    KASSERT(i >= 0 && i < log->nsegs);
    return log->segs[i]->base;
}

int64_t plog_size_bytes(const struct plog *log)
{
    int64_t n = 0;

    for (int i = 0; i < log->nsegs; i++)
        n += log->segs[i]->size;
    return n;
}

/* Appends seg (taken) to the segment array. */
static kerr_t push_seg(struct plog *log, struct segment *seg)
{
    if (!VEC_RESERVE_AT(log->segs, log->cap, (size_t)log->nsegs + 1))
        return KERR__NOMEM;
    log->segs[log->nsegs++] = seg;
    return KERR_NONE;
}

/* Removes segment i (files included) from the array. */
static void drop_seg(struct plog *log, int i)
{
    say_info("storage", "deleting segment dir=%s base=%" PRId64, log->dir, log->segs[i]->base);
    plog_txnidx_segment_removed(log, log->segs[i]->base,
                                i + 1 < log->nsegs ? log->segs[i + 1]->base : INT64_MAX);
    segment_remove(log->segs[i]);
    memmove(&log->segs[i], &log->segs[i + 1], (size_t)(log->nsegs - i - 1) * sizeof(log->segs[0]));
    log->nsegs--;
}

/* Index of the last segment with base <= offset (0 if none). */
static int find_seg(const struct plog *log, int64_t offset)
{
    int lo = 0, hi = log->nsegs - 1, found = 0;

    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (log->segs[mid]->base <= offset) {
            found = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return found;
}

/* Creates, activates and appends an empty segment at base. */
static kerr_t new_active_seg(struct plog *log, int64_t base)
{
    struct segment *seg;
    kerr_t err = segment_open(log->dir, base, &seg);

    if (err != KERR_NONE)
        return err;
    err = segment_activate(seg, log->cfg.index_max_bytes);
    if (err == KERR_NONE && seg->size > 0) {
        say_warn("storage", "discarding stale segment data dir=%s base=%" PRId64 " bytes=%" PRId64,
                 log->dir, base, seg->size);
        err = segment_truncate_all(seg);
    }
    if (err == KERR_NONE)
        err = push_seg(log, seg);
    if (err != KERR_NONE)
        segment_remove(seg);
    return err;
}

/* ---- open / close ---------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/* True if name ends in SEGMENT_DELETED_SUFFIX (a removed segment's file). */
static bool is_deleted_file(const char *name)
{
    size_t n = strlen(name), k = strlen(SEGMENT_DELETED_SUFFIX);
    return n > k && strcmp(name + n - k, SEGMENT_DELETED_SUFFIX) == 0;
}

int plog_sweep_deleted(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    if (!d)
        return 0;
    while ((de = readdir(d)) != NULL) {
        char path[PATH_MAX];
        if (is_deleted_file(de->d_name) &&
            snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) < (int)sizeof(path) &&
            fileio_unlink(path) == KERR_NONE)
            n++;
    }
    closedir(d);
    return n;
}

/* True if name is "<20 digits>.index", ".timeindex" or ".txnindex" with no
 * .log. */
static bool is_orphan_index(const char *dir, const char *name)
{
    char path[PATH_MAX];
    const char *dot = strchr(name, '.');

    if (!dot || dot - name != SEGMENT_NAME_DIGITS)
        return false;
    if (strcmp(dot, ".index") != 0 && strcmp(dot, ".timeindex") != 0 &&
        strcmp(dot, TXNIDX_SUFFIX) != 0)
        return false;
    if (snprintf(path, sizeof(path), "%s/%.*s.log", dir, SEGMENT_NAME_DIGITS, name) >=
        (int)sizeof(path))
        return false;
    return !fileio_exists(path);
}

/* Lists the segment base offsets in dir, sorted (*bases returns new). */
static kerr_t list_segments(const char *dir, int64_t **bases, int *n)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    VEC(int64_t) v = {0};

    *bases = NULL;
    *n = 0;
    if (!d) {
        say_syserror("storage", "opendir failed dir=%s", dir);
        return KERR__IO;
    }
    while ((de = readdir(d)) != NULL) {
        int64_t base;
        if (is_deleted_file(de->d_name)) {
            char path[PATH_MAX];
            if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) < (int)sizeof(path))
                (void)fileio_unlink(path);
            continue;
        }
        if (is_orphan_index(dir, de->d_name)) {
            char path[PATH_MAX];
            say_warn("storage", "removing orphan index dir=%s file=%s", dir, de->d_name);
            if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) < (int)sizeof(path))
                (void)fileio_unlink(path);
            continue;
        }
        if (!segment_parse_name(de->d_name, &base))
            continue;
        if (!VEC_PUSH(v, base) || v.n > INT_MAX) {
            VEC_FREE(v);
            closedir(d);
            return KERR__NOMEM;
        }
    }
    closedir(d);
    if (v.n > 1)
        qsort(v.v, v.n, sizeof(*v.v), cmp_i64);
    *bases = v.v;
    *n = (int)v.n;
    return KERR_NONE;
}

/* Unlinks the files of the segments bases[from..n). */
static void remove_seg_files(const char *dir, const int64_t *bases, int from, int n)
{
    static const char *const exts[] = {"log", "index", "timeindex"};
    char path[PATH_MAX];

    for (int i = from; i < n; i++) {
        say_warn("storage", "removing segment after a truncated one dir=%s base=%" PRId64, dir,
                 bases[i]);
        for (size_t e = 0; e < ARRAY_LEN(exts); e++)
            if (segment_path(path, sizeof(path), dir, bases[i], exts[e]))
                (void)fileio_unlink(path);
    }
}

/* Opens and loads segment i of n; *cut = it lost bytes. */
static kerr_t load_one(struct plog *log, const int64_t *bases, int i, int n, bool *cut)
{
    bool last = (i == n - 1);
    int64_t rp = log->cfg.recovery_point, dropped = 0;
    bool full = rp >= 0 && (last || bases[i + 1] > rp);
    struct segment *seg;
    kerr_t err = segment_open(log->dir, bases[i], &seg);

    if (err != KERR_NONE)
        return err;
    if (last)
        err = segment_activate(seg, log->cfg.index_max_bytes);
    if (err == KERR_NONE)
        err = segment_load(seg, full ? rp : -1, log->cfg.index_interval_bytes,
                           log->cfg.index_max_bytes, &dropped);
    if (err == KERR_NONE)
        log->checked_bytes += seg->checked_bytes;
    if (err == KERR_NONE)
        err = push_seg(log, seg);
    if (err != KERR_NONE) {
        segment_close(seg);
        return err;
    }
    if (log->nsegs > 1 && log->segs[log->nsegs - 2]->next_offset > seg->base)
        say_warn("storage", "overlapping segments dir=%s base=%" PRId64 " previous_end=%" PRId64,
                 log->dir, seg->base, log->segs[log->nsegs - 2]->next_offset);
    *cut = dropped > 0;
    return KERR_NONE;
}

/* Loads every segment of the directory (or creates the first one). */
static kerr_t load_segments(struct plog *log)
{
    int64_t *bases;
    int n;
    bool cut = false;
    kerr_t err = cleaner_swap_recover(log->dir); /* a clean interrupted by a crash */

    if (err == KERR_NONE)
        err = list_segments(log->dir, &bases, &n);

    if (err != KERR_NONE)
        return err;
    for (int i = 0; i < n && err == KERR_NONE; i++) {
        err = load_one(log, bases, i, n, &cut);
        if (err == KERR_NONE && cut && i < n - 1) {
            remove_seg_files(log->dir, bases, i + 1, n);
            break;
        }
    }
    free(bases);
    if (err != KERR_NONE)
        return err;
    if (log->nsegs == 0)
        return new_active_seg(log, 0);
    err = segment_activate(active_seg(log), log->cfg.index_max_bytes);
    if (err == KERR_NONE && cut)
        err = plog_flush(log) == KERR_NONE ? fileio_fsync_dir(log->dir) : KERR__IO;
    return err;
}

/* ---- leader epochs ---------------------------------------------------- */

/* Writes the epoch cache if it changed. A failure is logged (by the cache)
 * and retried at the next change or flush: the log itself is intact, and
 * open rebuilds a stale file from the batch headers. */
static void epochs_sync(struct plog *log)
{
    if (log->epochs)
        (void)epoch_cache_flush(log->epochs);
}

/* Assigns the partitionLeaderEpoch of every batch header of seg. */
static kerr_t epochs_scan_seg(struct plog *log, const struct segment *seg)
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
        (void)epoch_cache_assign(log->epochs, h.leader_epoch, h.base_offset);
        pos += batch_size(&h);
    }
    return KERR_NONE;
}

/* Rebuilds the cache from the batch headers (why: for the log line). On a
 * read error the cache stays empty (followers then fall back to the high
 * watermark, as with a log that has no epochs). */
static void epochs_rebuild(struct plog *log, const char *why)
{
    kerr_t err = KERR_NONE;

    (void)epoch_cache_clear(log->epochs);
    for (int i = 0; i < log->nsegs && err == KERR_NONE; i++)
        err = epochs_scan_seg(log, log->segs[i]);
    if (err != KERR_NONE) {
        say_error("storage", "cannot rebuild leader epoch cache dir=%s err=%s", log->dir,
                  kerr_name(err));
        (void)epoch_cache_clear(log->epochs);
    }
    (void)epoch_cache_truncate_from_start(log->epochs, log->start_offset);
    epoch_cache_mark_dirty(log->epochs);
    say_warn("storage",
             "leader epoch cache rebuilt from the log dir=%s reason=%s entries=%d "
             "latest_epoch=%d",
             log->dir, why, epoch_cache_count(log->epochs), epoch_cache_latest_epoch(log->epochs));
    epochs_sync(log);
}

/* The header of the log's last batch; *found false for an empty log. */
static kerr_t last_batch(struct plog *log, struct batch_hdr *h, bool *found)
{
    *found = false;
    for (int i = log->nsegs - 1; i >= 0; i--) {
        struct segment *seg = log->segs[i];
        int64_t pos;
        kerr_t err;
        if (seg->size == 0)
            continue;
        err = segment_find(seg, seg->next_offset - 1, &pos, h);
        *found = err == KERR_NONE;
        return err == KERR__NOENT ? KERR__CORRUPT : err;
    }
    return KERR_NONE;
}

/* True if the cache agrees with the log's last batch: the entry covering
 * its base offset has its epoch, and no later entry starts before the LEO
 * (only an epoch begun at the LEO, with nothing written yet, may follow). */
static bool epochs_match_log(struct plog *log)
{
    const struct epoch_cache *c = log->epochs;
    struct batch_hdr h;
    bool found;
    int i;

    if (last_batch(log, &h, &found) != KERR_NONE)
        return false;
    if (!found || h.leader_epoch < 0)
        return true;
    for (i = epoch_cache_count(c) - 1;
         i >= 0 && epoch_cache_entry(c, i)->start_offset > h.base_offset; i--)
        if (epoch_cache_entry(c, i)->start_offset < plog_end_offset(log))
            return false;
    return i >= 0 && epoch_cache_entry(c, i)->epoch == h.leader_epoch;
}

/* Loads leader-epoch-checkpoint, trims it to the recovered log (entries
 * past the LEO, below the log start) and rebuilds it from the batches when
 * it is missing, corrupt or disagrees with the log. */
static kerr_t load_epochs(struct plog *log)
{
    char path[PATH_MAX];
    kerr_t err;

    if (snprintf(path, sizeof(path), "%s/%s", log->dir, LOGDIR_EPOCH_CKPT) >= (int)sizeof(path))
        return KERR__INVALID;
    if (!(log->epochs = epoch_cache_new(path)))
        return KERR__NOMEM;
    err = epoch_cache_load(log->epochs);
    if (err == KERR__NOENT && plog_end_offset(log) == log->start_offset)
        return KERR_NONE;
    if (err != KERR_NONE) {
        epochs_rebuild(log, err == KERR__NOENT ? "missing" : "corrupt");
        return KERR_NONE;
    }
    (void)epoch_cache_truncate_from_end(log->epochs, plog_end_offset(log) + 1);
    (void)epoch_cache_truncate_from_start(log->epochs, log->start_offset);
    if (!epochs_match_log(log)) {
        say_warn("storage", "leader epoch checkpoint disagrees with the log dir=%s", log->dir);
        epochs_rebuild(log, "stale");
        return KERR_NONE;
    }
    epochs_sync(log);
    return KERR_NONE;
}

int32_t plog_latest_epoch(const struct plog *log) { return epoch_cache_latest_epoch(log->epochs); }

kerr_t plog_end_offset_for_epoch(struct plog *log, int32_t epoch, int32_t *end_epoch,
                                 int64_t *end_offset)
{
    epoch_cache_end_offset_for(log->epochs, epoch, plog_end_offset(log), end_epoch, end_offset);
    return KERR_NONE;
}

kerr_t plog_assign_epoch(struct plog *log, int32_t epoch)
{
    if (epoch < 0)
        return KERR__INVALID;
    if (!epoch_cache_assign(log->epochs, epoch, plog_end_offset(log)))
        return KERR_NONE;
    say_info("storage", "leader epoch started dir=%s epoch=%d start_offset=%" PRId64, log->dir,
             epoch, plog_end_offset(log));
    return epoch_cache_flush(log->epochs) == KERR_NONE ? KERR_NONE : KERR_KAFKA_STORAGE_ERROR;
}

struct plog *plog_open(const char *dir, const struct plog_config *cfg, char *errbuf, size_t errlen)
{
    static _Atomic uint64_t next_id = 1;
    struct plog *log = calloc(1, sizeof(*log));
    kerr_t err = KERR__NOMEM;

    if (!log || !(log->dir = strdup(dir)))
        goto out_fail;
    log->cfg = *cfg;
    log->id = atomic_fetch_add(&next_id, 1);
    err = fileio_mkdir_p(dir);
    if (err == KERR_NONE)
        err = load_segments(log);
    if (err != KERR_NONE)
        goto out_fail;
    log->start_offset = log->segs[0]->base;
    log->recovery_point = plog_end_offset(log);
    err = load_epochs(log);
    if (err != KERR_NONE)
        goto out_fail;
    /* Recovering (cfg.recovery_point >= 0): the replay below covers every
     * batch past the recovery point, so that the producer state and the
     * aborted transaction index of what may not have reached the disk are
     * rebuilt from the batches that did. */
    plog_producers_drop_snapshots(log, -1,
                                  log->cfg.recovery_point >= 0
                                      ? MIN(log->cfg.recovery_point, plog_end_offset(log))
                                      : plog_end_offset(log));
    plog_txnidx_load(log);
    if (plog_end_offset(log) > log->start_offset)
        plog_producers_rebuild(log, -1, "open");
    say_info("storage",
             "log opened dir=%s segments=%d start_offset=%" PRId64 " end_offset=%" PRId64, dir,
             log->nsegs, log->start_offset, plog_end_offset(log));
    return log;
out_fail:
    if (errbuf && errlen > 0)
        snprintf(errbuf, errlen, "cannot open log dir=%s: %s", dir, kerr_name(err));
    say_error("storage", "cannot open log dir=%s err=%s", dir, kerr_name(err));
    plog_close(log);
    return NULL;
}

void plog_close(struct plog *log)
{
    if (!log)
        return;
    if (log->nsegs > 0) {
        (void)plog_flush(log);
        plog_producers_snapshot(log, plog_end_offset(log));
    }
    for (int i = 0; i < log->nsegs; i++)
        segment_close(log->segs[i]);
    epochs_sync(log);
    epoch_cache_free(log->epochs);
    pstate_destroy(&log->producers);
    txnidx_list_free(&log->aborted);
    free(log->ended);
    free(log->segs);
    free(log->dir);
    free(log);
}

kerr_t plog_remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[PATH_MAX];
    kerr_t err = KERR_NONE;

    if (!d) {
        if (errno == ENOENT)
            return KERR_NONE;
        say_syserror("storage", "opendir failed dir=%s", dir);
        return KERR_KAFKA_STORAGE_ERROR;
    }
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path) ||
            fileio_unlink(path) != KERR_NONE)
            err = KERR_KAFKA_STORAGE_ERROR;
    }
    closedir(d);
    if (err == KERR_NONE && rmdir(dir) != 0) {
        say_syserror("storage", "rmdir failed dir=%s", dir);
        err = KERR_KAFKA_STORAGE_ERROR;
    }
    if (err == KERR_NONE)
        say_info("storage", "log directory removed dir=%s", dir);
    return err;
}

/* ---- append ----------------------------------------------------------- */

/* True if appending len bytes ending at offset last must go to a new
 * segment. Never rolls an empty segment. */
static bool should_roll(const struct plog *log, size_t len, int64_t last, int64_t now_ms)
{
    const struct segment *seg = active_seg(log);

    if (seg->size == 0)
        return false;
    if (seg->size + (int64_t)len > (int64_t)log->cfg.segment_bytes)
        return true;
    if (log->cfg.segment_ms > 0 && seg->roll_ts >= 0 && now_ms - seg->roll_ts > log->cfg.segment_ms)
        return true;
    if (index_file_is_full(&seg->oidx.f) || index_file_is_full(&seg->tidx.f))
        return true;
    /* Relative offsets and positions are u32 in the indexes. */
    return last - seg->base > INT32_MAX || seg->size + (int64_t)len > INT32_MAX;
}

/* Seals the active segment and starts a new one at base. */
static kerr_t roll_to(struct plog *log, int64_t base)
{
    struct segment *old = active_seg(log);
    kerr_t err = segment_seal(old);

    if (err == KERR_NONE)
        err = new_active_seg(log, base);
    if (err == KERR_NONE)
        plog_producers_snapshot(log, base);
    if (err != KERR_NONE) {
        say_error("storage", "segment roll failed dir=%s base=%" PRId64 " err=%s", log->dir, base,
                  kerr_name(err));
        if (active_seg(log) == old)
            (void)segment_activate(old, log->cfg.index_max_bytes);
        return err;
    }
    say_info("storage", "segment rolled dir=%s base=%" PRId64 " previous_bytes=%" PRId64, log->dir,
             base, old->size);
    return KERR_NONE;
}

kerr_t plog_roll(struct plog *log, int64_t now_ms)
{
    (void)now_ms;
    if (active_seg(log)->size == 0)
        return KERR_NONE;
    return roll_to(log, plog_end_offset(log)) == KERR_NONE ? KERR_NONE : KERR_KAFKA_STORAGE_ERROR;
}

/* Counts offsets and records of the batches in buf. */
static kerr_t count_batches(const uint8_t *buf, size_t len, int64_t *offsets, int64_t *records)
{
    struct batch_iter it;
    struct batch_hdr h;
    size_t at;
    kerr_t err;

    *offsets = 0;
    *records = 0;
    batch_iter_init(&it, buf, len);
    while ((err = batch_iter_next(&it, &h, &at)) == KERR_NONE) {
        if (h.last_offset_delta < 0)
            return KERR_CORRUPT_MESSAGE;
        *offsets += (int64_t)h.last_offset_delta + 1;
        *records += h.records_count;
    }
    return (err == KERR__NOENT && len > 0) ? KERR_NONE : KERR_CORRUPT_MESSAGE;
}

/* Writes the prepared batches to the active segment (rolling at base
 * first when needed) and accounts the flush interval. */
static kerr_t write_batches(struct plog *log, const uint8_t *buf, size_t len, int64_t base,
                            int64_t last, int64_t records, int64_t now_ms)
{
    kerr_t err = KERR_NONE;

    /* A roll that failed half-way (the disk refused the new files) may
     * have left the active segment sealed: reopen its indexes first. */
    if (!active_seg(log)->active)
        err = segment_activate(active_seg(log), log->cfg.index_max_bytes);
    if (err == KERR_NONE && should_roll(log, len, last, now_ms))
        err = roll_to(log, base);
    if (err == KERR_NONE)
        err = segment_append(active_seg(log), buf, len, log->cfg.index_interval_bytes, now_ms);
    if (err != KERR_NONE) {
        say_error("storage", "append failed dir=%s offset=%" PRId64 " bytes=%zu err=%s", log->dir,
                  base, len, kerr_name(err));
        return KERR_KAFKA_STORAGE_ERROR;
    }
    log->unflushed += records;
    if (log->cfg.flush_interval_messages > 0 && log->unflushed >= log->cfg.flush_interval_messages)
        return plog_flush(log);
    return KERR_NONE;
}

/* plog_append and plog_append_coordinator: coordinator batches get the
 * epoch check only (plog_producers_check_epoch). */
static kerr_t append_checked(struct plog *log, uint8_t *batches, size_t len, int32_t leader_epoch,
                             int64_t now_ms, bool coordinator, int64_t *first_offset,
                             int64_t *last_offset)
{
    int64_t n_offsets, records, leo = plog_end_offset(log), next = leo;
    struct batch_iter it;
    struct batch_hdr h;
    size_t at;
    kerr_t err = count_batches(batches, len, &n_offsets, &records);

    if (err == KERR_NONE)
        err = coordinator ? plog_producers_check_epoch(log, batches, len)
                          : plog_producers_check(log, batches, len, first_offset, last_offset);
    if (err != KERR_NONE)
        return err;
    batch_iter_init(&it, batches, len);
    while (batch_iter_next(&it, &h, &at) == KERR_NONE) {
        batch_set_offset_epoch(batches + at, next, leader_epoch);
        next += (int64_t)h.last_offset_delta + 1;
    }
    err = write_batches(log, batches, len, leo, next - 1, records, now_ms);
    if (err != KERR_NONE && plog_end_offset(log) == leo)
        return err;
    plog_producers_update(log, batches, len);
    if (epoch_cache_assign(log->epochs, leader_epoch, leo))
        epochs_sync(log);
    *first_offset = leo;
    *last_offset = next - 1;
    return err;
}

kerr_t plog_append(struct plog *log, uint8_t *batches, size_t len, int32_t leader_epoch,
                   int64_t now_ms, int64_t *first_offset, int64_t *last_offset)
{
    return append_checked(log, batches, len, leader_epoch, now_ms, false, first_offset,
                          last_offset);
}

kerr_t plog_append_coordinator(struct plog *log, uint8_t *batches, size_t len, int32_t leader_epoch,
                               int64_t now_ms, int64_t *first_offset, int64_t *last_offset)
{
    return append_checked(log, batches, len, leader_epoch, now_ms, true, first_offset, last_offset);
}

/* Checks follower batches: offsets >= LEO and increasing, CRCs valid. */
static kerr_t check_replica_batches(const struct plog *log, const uint8_t *buf, size_t len,
                                    int64_t *first, int64_t *last, int64_t *records)
{
    int64_t min = plog_end_offset(log);
    struct batch_iter it;
    struct batch_hdr h;
    size_t at;
    kerr_t err;

    *first = -1;
    *records = 0;
    batch_iter_init(&it, buf, len);
    while ((err = batch_iter_next(&it, &h, &at)) == KERR_NONE) {
        if (h.base_offset < min || h.last_offset_delta < 0)
            return KERR__INVALID;
        if (*first < 0)
            *first = h.base_offset;
        *last = batch_last_offset(&h);
        *records += h.records_count;
        min = *last + 1;
    }
    return (err == KERR__NOENT && len > 0) ? KERR_NONE : KERR_CORRUPT_MESSAGE;
}

/* Follower: assigns each written batch's partitionLeaderEpoch (only the
 * batches below the LEO, i.e. really written). */
static void epochs_assign_batches(struct plog *log, const uint8_t *buf, size_t len)
{
    int64_t leo = plog_end_offset(log);
    struct batch_iter it;
    struct batch_hdr h;
    size_t at;
    bool changed = false;

    batch_iter_init(&it, buf, len);
    while (batch_iter_next(&it, &h, &at) == KERR_NONE && h.base_offset < leo)
        changed |= epoch_cache_assign(log->epochs, h.leader_epoch, h.base_offset);
    if (changed)
        epochs_sync(log);
}

kerr_t plog_append_replica(struct plog *log, const uint8_t *batches, size_t len, int64_t now_ms,
                           int64_t *first_offset, int64_t *last_offset)
{
    int64_t first = -1, last = -1, records = 0;
    const char *why = NULL;
    kerr_t err = check_replica_batches(log, batches, len, &first, &last, &records);

    if (err == KERR_NONE)
        err = record_validate_stored_batches(batches, len, &why);
    if (err != KERR_NONE) {
        if (why)
            say_warn("storage", "refused replicated batches dir=%s: %s", log->dir, why);
        return err;
    }
    /* A gap before the first batch (compacted leader): an empty active
     * segment can simply be renamed by starting a new one. */
    if (first > plog_end_offset(log) && active_seg(log)->size == 0 && log->nsegs == 1) {
        err = plog_truncate_fully(log, first);
        if (err != KERR_NONE)
            return err;
    }
    err = write_batches(log, batches, len, first, last, records, now_ms);
    epochs_assign_batches(log, batches, len);
    plog_producers_update(log, batches, len);
    if (err != KERR_NONE)
        return err;
    *first_offset = first;
    *last_offset = last;
    return KERR_NONE;
}

/* ---- read ------------------------------------------------------------- */

kerr_t plog_read(struct plog *log, int64_t offset, int64_t max_offset, int64_t max_bytes,
                 bool min_one, struct file_span *span)
{
    int64_t leo = plog_end_offset(log);

    span->fd = -1;
    span->pos = 0;
    span->len = 0;
    if (offset < log->start_offset || offset > leo)
        return KERR_OFFSET_OUT_OF_RANGE;
    if (offset == leo || offset >= max_offset)
        return KERR_NONE;
    for (int i = find_seg(log, offset); i < log->nsegs; i++) {
        struct segment *seg = log->segs[i];
        struct batch_hdr h;
        int64_t pos, len;
        kerr_t err = segment_find(seg, offset, &pos, &h);
        if (err == KERR__NOENT)
            continue;
        if (err == KERR_NONE && h.base_offset >= max_offset)
            return KERR_NONE;
        if (err == KERR_NONE)
            err = segment_span_len(seg, pos, &h, max_offset, max_bytes, min_one, &len);
        if (err == KERR_NONE && len == 0)
            return KERR_NONE;
        if (err == KERR_NONE)
            err = fileio_dup(seg->fd, &span->fd);
        if (err != KERR_NONE) {
            say_error("storage", "read failed dir=%s offset=%" PRId64 " err=%s", log->dir, offset,
                      kerr_name(err));
            return KERR_KAFKA_STORAGE_ERROR;
        }
        span->pos = pos;
        span->len = len;
        return KERR_NONE;
    }
    return KERR_NONE;
}

kerr_t plog_offset_for_time(struct plog *log, int64_t ts, int64_t *offset, int64_t *found_ts)
{
    *offset = -1;
    *found_ts = -1;
    for (int i = 0; i < log->nsegs; i++) {
        kerr_t err = segment_offset_for_time(log->segs[i], ts, offset, found_ts);
        if (err == KERR__NOENT)
            continue;
        if (err != KERR_NONE) {
            say_error("storage", "time lookup failed dir=%s ts=%" PRId64 " err=%s", log->dir, ts,
                      kerr_name(err));
            *offset = -1;
            *found_ts = -1;
            return KERR_KAFKA_STORAGE_ERROR;
        }
        if (*offset < log->start_offset)
            *offset = log->start_offset;
        return KERR_NONE;
    }
    return KERR_NONE;
}

kerr_t plog_max_timestamp(struct plog *log, int64_t *offset, int64_t *ts)
{
    int best = -1;

    *offset = -1;
    *ts = -1;
    for (int i = 0; i < log->nsegs; i++)
        if (log->segs[i]->size > 0 && (best < 0 || log->segs[i]->max_ts > log->segs[best]->max_ts))
            best = i;
    if (best < 0)
        return KERR_NONE;
    if (log->segs[best]->max_ts < 0) {
        *offset = log->segs[best]->base;
        return KERR_NONE;
    }
    if (segment_offset_for_time(log->segs[best], log->segs[best]->max_ts, offset, ts) !=
        KERR_NONE) {
        *offset = log->segs[best]->max_ts_offset;
        *ts = log->segs[best]->max_ts;
    }
    return KERR_NONE;
}

/* ---- flush, truncation, retention ------------------------------------- */

kerr_t plog_flush(struct plog *log)
{
    for (int i = 0; i < log->nsegs; i++) {
        if (segment_sync(log->segs[i]) != KERR_NONE) {
            say_error("storage", "flush failed dir=%s base=%" PRId64, log->dir, log->segs[i]->base);
            return KERR_KAFKA_STORAGE_ERROR;
        }
    }
    log->unflushed = 0;
    log->recovery_point = plog_end_offset(log);
    epochs_sync(log);
    return KERR_NONE;
}

kerr_t plog_flush_begin(struct plog *log, struct plog_flush_plan *plan)
{
    kerr_t err = KERR_NONE;

    memset(plan, 0, sizeof(*plan));
    plan->log_id = log->id;
    plan->truncations = log->truncations;
    plan->end = plog_end_offset(log);
    plan->unflushed = log->unflushed;
    plan->fds = malloc((size_t)log->nsegs * SEGMENT_SYNC_FDS * sizeof(int));
    if (!plan->fds)
        return KERR__NOMEM;
    for (int i = 0; i < log->nsegs && err == KERR_NONE; i++)
        err = segment_sync_take(log->segs[i], plan->fds, &plan->n);
    if (err != KERR_NONE) {
        /* the segments taken count as written again */
        for (int i = 0; i < log->nsegs; i++)
            log->segs[i]->dirty = true;
        while (plan->n > 0)
            fileio_close(plan->fds[--plan->n]);
        free(plan->fds);
        plan->fds = NULL;
        say_error("storage", "flush failed dir=%s err=%s", log->dir, kerr_name(err));
        return KERR_KAFKA_STORAGE_ERROR;
    }
    return KERR_NONE;
}

kerr_t plog_flush_sync(struct plog_flush_plan *plan)
{
    kerr_t err = KERR_NONE;

    for (int i = 0; i < plan->n; i++) {
        if (err == KERR_NONE)
            err = fileio_fsync(plan->fds[i]);
        fileio_close(plan->fds[i]);
    }
    plan->n = 0;
    free(plan->fds);
    plan->fds = NULL;
    return err;
}

kerr_t plog_flush_end(struct plog *log, struct plog_flush_plan *plan, kerr_t sync_err)
{
    if (log->id != plan->log_id)
        return sync_err;
    if (sync_err != KERR_NONE) {
        for (int i = 0; i < log->nsegs; i++) {
            log->segs[i]->dirty = true;
            log->segs[i]->sync_pending = false;
        }
        say_error("storage", "flush failed dir=%s err=%s", log->dir, kerr_name(sync_err));
        return KERR_KAFKA_STORAGE_ERROR;
    }
    for (int i = 0; i < log->nsegs; i++)
        segment_synced(log->segs[i]);
    if (log->truncations == plan->truncations) {
        log->recovery_point = MAX(log->recovery_point, MIN(plan->end, plog_end_offset(log)));
        log->unflushed = MAX(0, log->unflushed - plan->unflushed);
    }
    epochs_sync(log);
    return KERR_NONE;
}

kerr_t plog_truncate_fully(struct plog *log, int64_t offset)
{
    kerr_t err;

    while (log->nsegs > 0)
        drop_seg(log, log->nsegs - 1);
    if (epoch_cache_clear(log->epochs))
        epochs_sync(log);
    pstate_clear(&log->producers);
    plog_producers_drop_snapshots(log, -1, -1);
    err = new_active_seg(log, offset);
    if (err != KERR_NONE) {
        say_error("storage", "cannot restart log dir=%s offset=%" PRId64 " err=%s", log->dir,
                  offset, kerr_name(err));
        return KERR_KAFKA_STORAGE_ERROR;
    }
    log->start_offset = offset;
    log->recovery_point = offset;
    log->unflushed = 0;
    log->truncations++;
    say_info("storage", "log truncated fully dir=%s start_offset=%" PRId64, log->dir, offset);
    return KERR_NONE;
}

kerr_t plog_truncate_to(struct plog *log, int64_t offset)
{
    struct segment *seg;
    kerr_t err;

    if (offset >= plog_end_offset(log))
        return KERR_NONE;
    if (offset <= log->segs[0]->base)
        return plog_truncate_fully(log, offset);
    while (log->segs[log->nsegs - 1]->base >= offset)
        drop_seg(log, log->nsegs - 1);
    seg = active_seg(log);
    err = segment_activate(seg, log->cfg.index_max_bytes);
    if (err == KERR_NONE)
        err = segment_truncate_to(seg, offset, log->cfg.index_interval_bytes);
    if (epoch_cache_truncate_from_end(log->epochs, plog_end_offset(log)))
        epochs_sync(log);
    plog_producers_truncated(log, plog_end_offset(log));
    if (err != KERR_NONE) {
        say_error("storage", "truncate failed dir=%s offset=%" PRId64 " err=%s", log->dir, offset,
                  kerr_name(err));
        return KERR_KAFKA_STORAGE_ERROR;
    }
    log->start_offset = MIN(log->start_offset, plog_end_offset(log));
    log->recovery_point = MIN(log->recovery_point, plog_end_offset(log));
    log->truncations++;
    say_info("storage", "log truncated dir=%s target=%" PRId64 " end_offset=%" PRId64, log->dir,
             offset, plog_end_offset(log));
    return KERR_NONE;
}

kerr_t plog_advance_start_offset(struct plog *log, int64_t offset)
{
    if (offset > plog_end_offset(log))
        return KERR_OFFSET_OUT_OF_RANGE;
    if (offset > log->start_offset) {
        log->start_offset = offset;
        if (epoch_cache_truncate_from_start(log->epochs, offset))
            epochs_sync(log);
    }
    return KERR_NONE;
}

/* True if segment i may go: wholly below the start offset or max_offset
 * allows and it is too old or the log too big (total bytes). */
static bool seg_deletable(const struct plog *log, int i, const struct plog_retention *r,
                          int64_t total)
{
    const struct segment *seg = log->segs[i];
    int64_t end = (i + 1 < log->nsegs) ? log->segs[i + 1]->base : seg->next_offset;
    int64_t newest = seg->max_ts >= 0 ? seg->max_ts : seg->mtime_ms;

    if (end > r->max_offset)
        return false;
    if (end <= log->start_offset)
        return true;
    if (r->retention_ms >= 0 && newest < r->now_ms - r->retention_ms)
        return true;
    return r->retention_bytes >= 0 && total - seg->size >= r->retention_bytes;
}

kerr_t plog_apply_retention(struct plog *log, const struct plog_retention *r, int *deleted)
{
    int64_t total = plog_size_bytes(log);

    *deleted = 0;
    while (log->nsegs > 0 && log->segs[0]->size > 0 && seg_deletable(log, 0, r, total)) {
        if (log->nsegs == 1) {
            /* Everything may go: roll so the active segment can. */
            if (plog_roll(log, r->now_ms) != KERR_NONE)
                return KERR_KAFKA_STORAGE_ERROR;
        }
        total -= log->segs[0]->size;
        drop_seg(log, 0);
        (*deleted)++;
    }
    if (*deleted > 0)
        plog_producers_drop_snapshots(log, log->segs[0]->base, INT64_MAX);
    if (log->segs[0]->base > log->start_offset) {
        log->start_offset = log->segs[0]->base;
        if (epoch_cache_truncate_from_start(log->epochs, log->start_offset))
            epochs_sync(log);
    }
    return KERR_NONE;
}
