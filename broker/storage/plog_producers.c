/*
 * broker/storage/plog_producers.c — the idempotent-producer state of one
 * partition log (producer_state.h; docs/storage.md "Producer state"): the
 * leader's check of a client batch, the update after every append (leader
 * and follower alike, so a new leader knows what the old one accepted),
 * the snapshot files, the rebuild (at open, and after a truncation that
 * removed remembered batches: the newest usable snapshot, then the batch
 * headers after it) and expiry.
 *
 * Snapshots (`<offset>.snapshot`, format in producer_state.h) are written
 * at each segment roll (for the new segment's base) and at close (for the
 * LEO), empty ones too (so that a log without producers opens without a
 * scan), through a temp file and a rename but without fsync: like the
 * leader epoch checkpoint they are a cache of what the batch headers say,
 * and a torn or corrupt one is refused at open (logged with the reason,
 * deleted) and the state rebuilt from an older one or from the log.
 * Truncation deletes those past the new end; retention those below the
 * first segment except the newest of them.
 *
 * Only batches with a producer id >= 0 count. A transactional data batch
 * opens its producer's transaction; a control batch (transaction marker)
 * ends it, and an abort marker adds an entry to the aborted transaction
 * index (plog_txn.c) — on the leader, on followers and in the rebuild, which
 * first forgets the index entries of the range it replays.
 *
 * Threads: like plog.c, the owning partition's lock.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/storage/batch.h"
#include "broker/storage/fileio.h"
#include "broker/storage/plog_priv.h"
#include "broker/storage/producer_state.h"
#include "common/buf.h"
#include "common/say.h"
#include "common/vec.h"

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

kerr_t plog_control_marker(const uint8_t *batch, const struct batch_hdr *h, int *type,
                           int32_t *coordinator_epoch)
{
    struct record_iter it;
    struct batch_record rec;

    if (!batch_is_control(h) || record_iter_init(&it, batch, h) != KERR_NONE ||
        record_iter_next(&it, &rec) != KERR_NONE || !rec.key || rec.key_len < 4)
        return KERR__CORRUPT;
    if (rec.key[0] != 0 || rec.key[1] != 0 || rec.key[2] != 0 || rec.key[3] > 1)
        return KERR__CORRUPT; /* version 0; types 0 abort, 1 commit */
    *type = rec.key[3];
    *coordinator_epoch = -1;
    if (rec.value && rec.value_len >= 6)
        *coordinator_epoch = (int32_t)((uint32_t)rec.value[2] << 24 | (uint32_t)rec.value[3] << 16 |
                                       (uint32_t)rec.value[4] << 8 | rec.value[5]);
    return KERR_NONE;
}

/* Records one stored batch (offsets assigned); batch: its bytes, NULL when
 * only the header is at hand (then a control batch is ignored). */
static kerr_t update_one(struct plog *log, const struct batch_hdr *h, const uint8_t *batch)
{
    struct pstate_batch b;
    kerr_t err;

    if (h->producer_id < 0)
        return KERR_NONE;
    if (batch_is_control(h)) {
        int type;
        int32_t ce;
        int64_t txn_first;
        if (!batch || plog_control_marker(batch, h, &type, &ce) != KERR_NONE)
            return KERR_NONE;
        err = pstate_end_txn(&log->producers, h->producer_id, h->producer_epoch, ce, h->max_ts,
                             &txn_first);
        if (err == KERR_NONE && txn_first >= 0 &&
            VEC_RESERVE_AT(log->ended, log->cap_ended, log->n_ended + 1))
            log->ended[log->n_ended++] = (struct plog_ended_txn){txn_first, h->base_offset};
        if (err == KERR_NONE && type == 0)
            plog_txnidx_abort(log, h->producer_id, txn_first >= 0 ? txn_first : h->base_offset,
                              h->base_offset);
        return err;
    }
    batch_meta(h, &b);
    err = pstate_update(&log->producers, h->producer_id, h->producer_epoch, &b, h->max_ts);
    if (err == KERR_NONE && batch_is_transactional(h))
        pstate_txn_data(&log->producers, h->producer_id, h->base_offset);
    return err;
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

kerr_t plog_producers_check_epoch(struct plog *log, const uint8_t *buf, size_t len)
{
    struct batch_iter it;
    struct batch_hdr h;
    size_t at;

    batch_iter_init(&it, buf, len);
    while (batch_iter_next(&it, &h, &at) == KERR_NONE) {
        if (!is_idempotent(&h))
            continue;
        const struct pstate_entry *e = pstate_find(&log->producers, h.producer_id);
        if (e && h.producer_epoch < e->epoch) {
            say_debug("storage",
                      "coordinator batch refused dir=%s producer_id=%" PRId64
                      " epoch=%d current=%d",
                      log->dir, h.producer_id, h.producer_epoch, e->epoch);
            return KERR_INVALID_PRODUCER_EPOCH;
        }
    }
    return KERR_NONE;
}

void plog_producers_update(struct plog *log, const uint8_t *buf, size_t len)
{
    int64_t leo = plog_end_offset(log);
    struct batch_iter it;
    struct batch_hdr h;
    size_t at;

    batch_iter_init(&it, buf, len);
    while (batch_iter_next(&it, &h, &at) == KERR_NONE && h.base_offset < leo)
        if (update_one(log, &h, buf + at) != KERR_NONE)
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
        if (h.base_offset >= from_offset && batch_is_control(&h) && h.producer_id >= 0 &&
            batch_size(&h) <= 4096) {
            uint8_t body[4096]; /* a marker: one small record */
            if ((err = fileio_pread_full(seg->fd, body, (size_t)batch_size(&h), pos, &got)) !=
                KERR_NONE)
                return err;
            if (got == (size_t)batch_size(&h) && (err = update_one(log, &h, body)) != KERR_NONE)
                return err;
        } else if (h.base_offset >= from_offset && (err = update_one(log, &h, NULL)) != KERR_NONE)
            return err;
        pos += batch_size(&h);
    }
    return KERR_NONE;
}

static bool snapshot_path(char *buf, size_t n, const char *dir, int64_t offset, const char *ext)
{
    return snprintf(buf, n, "%s/%020" PRId64 "%s%s", dir, offset, PSTATE_SNAPSHOT_SUFFIX, ext) <
           (int)n;
}

/* Parses "<20 digits>.snapshot". */
static bool snapshot_parse_name(const char *name, int64_t *offset)
{
    char *end;
    if (strlen(name) != 20 + strlen(PSTATE_SNAPSHOT_SUFFIX) ||
        strcmp(name + 20, PSTATE_SNAPSHOT_SUFFIX) != 0)
        return false;
    for (int i = 0; i < 20; i++)
        if (name[i] < '0' || name[i] > '9')
            return false;
    *offset = strtoll(name, &end, 10);
    return end == name + 20 && *offset >= 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

kerr_t plog_list_snapshots(const char *dir, int64_t **offsets, int *n)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    VEC(int64_t) v = {0};

    *offsets = NULL;
    *n = 0;
    if (!d)
        return KERR__IO;
    while ((de = readdir(d)) != NULL) {
        int64_t off;
        if (snapshot_parse_name(de->d_name, &off) && (!VEC_PUSH(v, off) || v.n > INT_MAX)) {
            VEC_FREE(v);
            closedir(d);
            return KERR__NOMEM;
        }
    }
    closedir(d);
    if (v.n > 1)
        qsort(v.v, v.n, sizeof(*v.v), cmp_i64);
    *offsets = v.v;
    *n = (int)v.n;
    return KERR_NONE;
}

static void delete_snapshot(struct plog *log, int64_t offset)
{
    char path[PATH_MAX];
    if (snapshot_path(path, sizeof(path), log->dir, offset, ""))
        (void)fileio_unlink(path);
}

void plog_producers_snapshot(struct plog *log, int64_t offset)
{
    char tmp[PATH_MAX], path[PATH_MAX];
    struct kbuf b;
    int fd = -1;
    kerr_t err = KERR__NOMEM;

    kbuf_init(&b);
    if (!snapshot_path(tmp, sizeof(tmp), log->dir, offset, ".tmp") ||
        !snapshot_path(path, sizeof(path), log->dir, offset, ""))
        err = KERR__INVALID;
    else if (pstate_snapshot_encode(&log->producers, &b) &&
             (err = fileio_open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644, &fd)) == KERR_NONE) {
        err = fileio_pwrite_all(fd, b.data, b.len, 0);
        fileio_close(fd);
        if (err == KERR_NONE)
            err = fileio_rename(tmp, path);
        if (err != KERR_NONE)
            (void)fileio_unlink(tmp);
    }
    kbuf_destroy(&b);
    if (err != KERR_NONE)
        say_warn("storage",
                 "cannot write producer snapshot dir=%s offset=%" PRId64
                 " err=%s (rebuilt from the log at open)",
                 log->dir, offset, kerr_name(err));
}

void plog_producers_drop_snapshots(struct plog *log, int64_t below, int64_t above)
{
    int64_t *offs;
    int n, keep_below = -1;

    if (plog_list_snapshots(log->dir, &offs, &n) != KERR_NONE)
        return;
    for (int i = 0; i < n; i++)
        if (offs[i] <= below)
            keep_below = i; /* the newest at or below stays: a start for the rebuild */
    for (int i = 0; i < n; i++)
        if ((offs[i] < below && i != keep_below) || offs[i] > above)
            delete_snapshot(log, offs[i]);
    free(offs);
}

/* Loads the newest readable snapshot at or below max_offset into the map;
 * returns its offset, or -1 (map empty) when there is none. Corrupt ones
 * are logged and deleted. */
static int64_t load_snapshot(struct plog *log, int64_t max_offset)
{
    int64_t *offs, found = -1;
    int n;

    pstate_clear(&log->producers);
    if (plog_list_snapshots(log->dir, &offs, &n) != KERR_NONE)
        return -1;
    for (int i = n - 1; i >= 0 && found < 0; i--) {
        char path[PATH_MAX];
        int fd;
        int64_t size;
        uint8_t *buf = NULL;
        size_t got = 0;
        const char *why = "unreadable";
        if (offs[i] > max_offset || !snapshot_path(path, sizeof(path), log->dir, offs[i], ""))
            continue;
        if (fileio_open(path, O_RDONLY, 0, &fd) != KERR_NONE)
            continue;
        if (fileio_size(fd, &size) == KERR_NONE && size >= 0 && size < (INT64_C(1) << 31) &&
            (buf = malloc((size_t)size + 1)) != NULL &&
            fileio_pread_full(fd, buf, (size_t)size, 0, &got) == KERR_NONE && got == (size_t)size &&
            pstate_snapshot_decode(buf, got, &log->producers, &why) == KERR_NONE)
            found = offs[i];
        fileio_close(fd);
        free(buf);
        if (found < 0) {
            say_warn("storage",
                     "refusing corrupt producer snapshot file=%s: %s; rebuilding the producer "
                     "state from an older snapshot or the log",
                     path, why);
            (void)fileio_unlink(path);
        }
    }
    free(offs);
    return found;
}

void plog_producers_rebuild(struct plog *log, int64_t from_offset, const char *why)
{
    kerr_t err = KERR_NONE;

    if (from_offset < 0) { /* the newest snapshot at or below the LEO, then the log */
        int64_t snap = load_snapshot(log, plog_end_offset(log));
        from_offset = snap >= 0 ? snap : log->start_offset;
    } else if (from_offset <= log->start_offset) {
        pstate_clear(&log->producers);
    }
    plog_txnidx_forget_from(log, from_offset); /* the scan below indexes them again */
    for (int i = 0; i < log->nsegs && err == KERR_NONE; i++) {
        int64_t end = i + 1 < log->nsegs ? log->segs[i + 1]->base : log->segs[i]->next_offset;
        if (end > from_offset)
            err = scan_seg(log, log->segs[i], from_offset);
    }
    if (err != KERR_NONE)
        say_error("storage", "cannot rebuild producer state dir=%s err=%s", log->dir,
                  kerr_name(err));
    say_info("storage",
             "producer state rebuilt dir=%s reason=%s from_offset=%" PRId64 " producers=%zu",
             log->dir, why, from_offset, log->producers.n);
}

void plog_producers_truncated(struct plog *log, int64_t offset)
{
    while (log->n_ended > 0 && log->ended[log->n_ended - 1].marker >= offset)
        log->n_ended--; /* those markers are gone: the rebuild reopens their transactions */
    plog_producers_drop_snapshots(log, -1, offset);
    plog_txnidx_forget_from(log, offset);
    if (pstate_truncate_needs_rebuild(&log->producers, offset))
        plog_producers_rebuild(log, -1, "truncation");
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
