/*
 * broker/storage/segment.c — one segment: the `.log` file and its indexes.
 *
 * Files, all named by the base offset zero-padded to 20 digits:
 *
 *   <base>.log        RecordBatch v2 batches back to back, exactly as
 *                     produced, with baseOffset and partitionLeaderEpoch
 *                     written by the broker (layout: batch.c). Never
 *                     preallocated: its length is the data's length.
 *   <base>.index      sparse offset index (layout: offset_index.c), an entry
 *                     at the first batch after every index_interval bytes.
 *   <base>.timeindex  time index (layout: time_index.c), an entry when the
 *                     segment's max timestamp grew, at the same points,
 *                     plus a final one when the segment is sealed.
 *
 * Reads scan batch headers with pread through a small window (struct
 * seg_reader) so a forward scan from an index entry costs one or two
 * syscalls. Batches are CRC-checked only when a log is loaded.
 *
 * Neighbours: plog.c owns segments and calls everything here under the
 * partition lock. Errors from syscalls come back from fileio.c as kerr_t.
 */
#include "broker/storage/segment.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/storage/fileio.h"
#include "broker/storage/record_validate.h"
#include "common/say.h"

#define READ_CHUNK 8192

/* A read window over a segment's log. On the stack; freed by reader_destroy. */
struct seg_reader {
    int fd;                    /* borrowed log fd */
    int64_t end;               /* readable range is [0, end) */
    uint8_t *buf;              /* window memory: stack or heap */
    size_t cap;                /* bytes at buf */
    int64_t wpos;              /* file position of buf[0] */
    size_t wlen;               /* valid bytes at buf */
    uint8_t stack[READ_CHUNK]; /* used until a batch needs more */
};

static void reader_init(struct seg_reader *r, int fd, int64_t end)
{
    r->fd = fd;
    r->end = end;
    r->buf = r->stack;
    r->cap = sizeof(r->stack);
    r->wpos = 0;
    r->wlen = 0;
}

static void reader_destroy(struct seg_reader *r)
{
    if (r->buf != r->stack)
        free(r->buf);
}

/* Points *p at file bytes [pos, pos + n). KERR__AGAIN if they are not all
 * within the readable range (a torn tail), KERR__IO/NOMEM on failure. */
static kerr_t reader_get(struct seg_reader *r, int64_t pos, size_t n, const uint8_t **p)
{
    size_t want, got;
    kerr_t err;

    if (pos < 0 || (int64_t)n > r->end - pos)
        return KERR__AGAIN;
    if (pos >= r->wpos && pos + (int64_t)n <= r->wpos + (int64_t)r->wlen) {
        *p = r->buf + (pos - r->wpos);
        return KERR_NONE;
    }
    want = MAX(n, (size_t)READ_CHUNK);
    want = (size_t)MIN((int64_t)want, r->end - pos);
    if (want > r->cap) {
        uint8_t *nb = malloc(want);
        if (!nb)
            return KERR__NOMEM;
        if (r->buf != r->stack)
            free(r->buf);
        r->buf = nb;
        r->cap = want;
    }
    r->wlen = 0;
    err = fileio_pread_full(r->fd, r->buf, want, pos, &got);
    if (err != KERR_NONE)
        return err;
    r->wpos = pos;
    r->wlen = got;
    if (got < n)
        return KERR__AGAIN;
    *p = r->buf;
    return KERR_NONE;
}

/* Decodes the batch header at pos; with body, also makes the whole batch
 * available at *p. KERR__AGAIN: torn; KERR__CORRUPT: bad header. */
static kerr_t reader_batch(struct seg_reader *r, int64_t pos, bool body, struct batch_hdr *h,
                           const uint8_t **p)
{
    const uint8_t *hp;
    kerr_t err = reader_get(r, pos, BATCH_HDR_SIZE, &hp);

    if (err != KERR_NONE)
        return err;
    err = batch_parse_hdr(hp, BATCH_HDR_SIZE, h);
    if (err != KERR_NONE)
        return err;
    if (h->last_offset_delta < 0)
        return KERR__CORRUPT;
    if (batch_size(h) > r->end - pos)
        return KERR__AGAIN;
    if (!body) {
        if (p)
            *p = hp;
        return KERR_NONE;
    }
    return reader_get(r, pos, (size_t)batch_size(h), p);
}

bool segment_path(char *buf, size_t n, const char *dir, int64_t base, const char *ext)
{
    int w = snprintf(buf, n, "%s/%020" PRId64 ".%s", dir, base, ext);

    return w > 0 && (size_t)w < n;
}

bool segment_parse_name(const char *name, int64_t *base)
{
    int64_t v = 0;

    if (strlen(name) != SEGMENT_NAME_DIGITS + 4 || strcmp(name + SEGMENT_NAME_DIGITS, ".log") != 0)
        return false;
    for (int i = 0; i < SEGMENT_NAME_DIGITS; i++) {
        if (name[i] < '0' || name[i] > '9')
            return false;
        if (v > (INT64_MAX - (name[i] - '0')) / 10)
            return false;
        v = v * 10 + (name[i] - '0');
    }
    *base = v;
    return true;
}

/* Opens both index files; sets seg->index_ok from their shape. */
static kerr_t open_indexes(struct segment *seg, const char *dir)
{
    char path[PATH_MAX];
    bool existed, clean_o, clean_t;
    kerr_t err;

    if (!segment_path(path, sizeof(path), dir, seg->base, "index"))
        return KERR__INVALID;
    existed = fileio_exists(path);
    err = offset_index_open(&seg->oidx, path, seg->base, seg->size, &clean_o);
    if (err != KERR_NONE)
        return err;
    if (!segment_path(path, sizeof(path), dir, seg->base, "timeindex"))
        return KERR__INVALID;
    existed = existed && fileio_exists(path);
    err = time_index_open(&seg->tidx, path, seg->base, &clean_t);
    if (err != KERR_NONE)
        return err;
    seg->index_ok = existed && clean_o && clean_t;
    return KERR_NONE;
}

kerr_t segment_open(const char *dir, int64_t base, struct segment **out)
{
    char path[PATH_MAX];
    struct segment *seg;
    kerr_t err;

    *out = NULL;
    if (!segment_path(path, sizeof(path), dir, base, "log"))
        return KERR__INVALID;
    seg = calloc(1, sizeof(*seg));
    if (!seg)
        return KERR__NOMEM;
    seg->fd = -1;
    seg->oidx.f.fd = -1;
    seg->tidx.f.fd = -1;
    seg->base = base;
    seg->next_offset = base;
    seg->max_ts = -1;
    seg->max_ts_offset = -1;
    seg->roll_ts = -1;
    seg->log_path = strdup(path);
    err = seg->log_path ? fileio_open(path, O_RDWR | O_CREAT, 0644, &seg->fd) : KERR__NOMEM;
    if (err == KERR_NONE)
        err = fileio_size(seg->fd, &seg->size);
    if (err == KERR_NONE)
        err = fileio_mtime(seg->fd, &seg->mtime_ms);
    if (err == KERR_NONE)
        err = open_indexes(seg, dir);
    if (err != KERR_NONE) {
        segment_close(seg);
        return err;
    }
    *out = seg;
    return KERR_NONE;
}

kerr_t segment_activate(struct segment *seg, int32_t index_max_bytes)
{
    kerr_t err;

    if (seg->active)
        return KERR_NONE;
    err = index_file_activate(&seg->oidx.f, index_max_bytes);
    if (err == KERR_NONE)
        err = index_file_activate(&seg->tidx.f, index_max_bytes);
    if (err == KERR_NONE)
        seg->active = true;
    return err;
}

/* Accounts one batch at pos: max timestamp, next offset and, every
 * index_interval bytes, an entry in both indexes. Index write failures
 * are logged by fileio and ignored: the indexes are sparse anyway. */
static void note_batch(struct segment *seg, int64_t pos, const struct batch_hdr *h,
                       int32_t index_interval)
{
    if (h->max_ts > seg->max_ts) {
        seg->max_ts = h->max_ts;
        seg->max_ts_offset = h->base_offset;
    }
    if (seg->bytes_since_index >= index_interval) {
        (void)offset_index_append(&seg->oidx, h->base_offset, pos);
        (void)time_index_append(&seg->tidx, seg->max_ts, seg->max_ts_offset);
        seg->bytes_since_index = 0;
    }
    seg->bytes_since_index += batch_size(h);
    seg->next_offset = batch_last_offset(h) + 1;
}

/* Scans batches from pos (whose base offset must be >= min_offset) to the
 * end of the file, accounting each; stops at the first torn, corrupt or
 * out-of-order batch. Batches whose last offset is >= crc_from are read
 * whole, CRC-checked and their records validated (batch_is_intact();
 * counted in seg->checked_bytes); the ones below it,
 * known to be on disk, only have their headers walked. *valid_end = where
 * the good batches end. */
static kerr_t scan_batches(struct segment *seg, int64_t pos, int64_t min_offset, int64_t crc_from,
                           int32_t index_interval, int64_t *valid_end)
{
    struct seg_reader r;
    int64_t file_size;
    kerr_t err = fileio_size(seg->fd, &file_size);

    if (err != KERR_NONE)
        return err;
    reader_init(&r, seg->fd, file_size);
    while (pos < file_size) {
        struct batch_hdr h;
        const uint8_t *p;
        bool crc = false;
        err = reader_batch(&r, pos, false, &h, &p);
        if (err == KERR_NONE && batch_last_offset(&h) >= crc_from) {
            crc = true;
            err = reader_batch(&r, pos, true, &h, &p);
        }
        if (err == KERR__AGAIN || err == KERR__CORRUPT) {
            err = KERR_NONE;
            break;
        }
        if (err != KERR_NONE)
            goto out;
        if (h.base_offset < min_offset || (crc && !batch_is_intact(p, &h)))
            break;
        if (crc)
            seg->checked_bytes += batch_size(&h);
        note_batch(seg, pos, &h, index_interval);
        min_offset = batch_last_offset(&h) + 1;
        pos += batch_size(&h);
    }
    *valid_end = pos;
out:
    reader_destroy(&r);
    return err;
}

/* Resets both indexes and scans the whole file. */
static kerr_t scan_all(struct segment *seg, int64_t crc_from, int32_t index_interval,
                       int64_t *valid_end)
{
    kerr_t err = index_file_set_entries(&seg->oidx.f, 0);

    if (err == KERR_NONE)
        err = index_file_set_entries(&seg->tidx.f, 0);
    if (err != KERR_NONE)
        return err;
    seg->max_ts = -1;
    seg->max_ts_offset = -1;
    seg->next_offset = seg->base;
    seg->bytes_since_index = 0;
    return scan_batches(seg, 0, seg->base, crc_from, index_interval, valid_end);
}

/* Scans from the last offset index entry at or below offset `at`
 * (INT64_MAX: the last entry; none: byte 0), dropping the index entries
 * after it, with the CRC of batches ending at or past crc_from checked (see
 * scan_batches()). KERR__CORRUPT if that entry does not point at a batch
 * with its offset (the index must be rebuilt), or at a checked batch whose
 * CRC is wrong: the time index entry kept for that batch below (and the max
 * timestamp taken from it) would otherwise outlive the batch. */
static kerr_t scan_from_index(struct segment *seg, int64_t at, int64_t crc_from,
                              int32_t index_interval, int64_t *valid_end)
{
    int64_t start_off = seg->base, start_pos = 0, ts, ts_off;

    if (offset_index_lookup(&seg->oidx, at, &start_off, &start_pos)) {
        struct seg_reader r;
        struct batch_hdr h;
        const uint8_t *p = NULL;
        kerr_t err;
        reader_init(&r, seg->fd, seg->size);
        err = reader_batch(&r, start_pos, false, &h, &p);
        if (err == KERR_NONE && batch_last_offset(&h) >= crc_from) {
            err = reader_batch(&r, start_pos, true, &h, &p);
            if (err == KERR_NONE && !batch_crc_is_valid(p, &h))
                err = KERR__CORRUPT;
        }
        reader_destroy(&r);
        if (err == KERR__IO || err == KERR__NOMEM)
            return err;
        if (err != KERR_NONE || h.base_offset != start_off)
            return KERR__CORRUPT;
    }
    if (seg->active &&
        (offset_index_truncate(&seg->oidx, start_off + 1, start_pos + 1) != KERR_NONE ||
         time_index_truncate(&seg->tidx, start_off + 1) != KERR_NONE))
        return KERR__IO;
    seg->max_ts = -1;
    seg->max_ts_offset = -1;
    if (time_index_last(&seg->tidx, &ts, &ts_off)) {
        seg->max_ts = ts;
        seg->max_ts_offset = ts_off;
    }
    seg->next_offset = start_off;
    seg->bytes_since_index = 0;
    return scan_batches(seg, start_pos, start_off, crc_from, index_interval, valid_end);
}

/* Cuts the log file at valid_end and drops index entries past it. */
static kerr_t cut_tail(struct segment *seg, int64_t valid_end, int64_t *dropped)
{
    int64_t file_size;
    kerr_t err = fileio_size(seg->fd, &file_size);

    if (err != KERR_NONE)
        return err;
    *dropped = file_size - valid_end;
    if (valid_end < file_size) {
        err = fileio_truncate(seg->fd, valid_end);
        if (err != KERR_NONE)
            return err;
        say_warn("storage",
                 "truncated torn or corrupt tail path=%s valid_bytes=%" PRId64
                 " dropped_bytes=%" PRId64 " next_offset=%" PRId64,
                 seg->log_path, valid_end, *dropped, seg->next_offset);
    }
    seg->size = valid_end;
    err = offset_index_truncate(&seg->oidx, seg->next_offset, valid_end);
    if (err == KERR_NONE)
        err = time_index_truncate(&seg->tidx, seg->next_offset);
    return err;
}

/* Sets when the active segment's age starts: the first batch's max
 * timestamp (Kafka's rollingBasedTimestamp), else the file's mtime. */
static void load_roll_ts(struct segment *seg)
{
    struct seg_reader r;
    struct batch_hdr h;

    seg->roll_ts = -1;
    if (seg->size == 0)
        return;
    reader_init(&r, seg->fd, seg->size);
    if (reader_batch(&r, 0, false, &h, NULL) == KERR_NONE && h.max_ts >= 0)
        seg->roll_ts = h.max_ts;
    else
        seg->roll_ts = seg->mtime_ms;
    reader_destroy(&r);
}

/* True if the time index's last entry names an offset at or past the end
 * the scan found. */
static bool time_entry_past_end(const struct segment *seg)
{
    int64_t ts, off;

    return time_index_last(&seg->tidx, &ts, &off) && off >= seg->next_offset;
}

kerr_t segment_load(struct segment *seg, int64_t recovery_point, int32_t index_interval,
                    int32_t index_max_bytes, int64_t *dropped)
{
    bool was_active = seg->active, recover = recovery_point >= 0, rebuild = false;
    int64_t valid_end = 0, entry_off, entry_pos;
    kerr_t err;

    *dropped = 0;
    seg->checked_bytes = 0;
    /* recovering: index entries past the point may have to go */
    err = recover ? segment_activate(seg, index_max_bytes) : KERR_NONE;
    /* Recovering from before the first index entry (or with indexes that
     * looked bad at open) rebuilds them all, as nothing in them is known to
     * be on disk; that is the normal case, not worth a warning. */
    if (recover && (!seg->index_ok ||
                    !offset_index_lookup(&seg->oidx, recovery_point, &entry_off, &entry_pos)))
        rebuild = true;
    if (err == KERR_NONE && !rebuild && !seg->index_ok)
        err = KERR__CORRUPT;
    else if (err == KERR_NONE && !rebuild)
        err = scan_from_index(seg, recover ? recovery_point : INT64_MAX,
                              recover ? recovery_point : 0, index_interval, &valid_end);
    /* A time entry naming an offset the log does not reach (its tail was
     * lost or the entry is garbage) also gave scan_from_index() its max
     * timestamp: only a rebuild from the log gets that right. */
    if (err == KERR_NONE && !rebuild && time_entry_past_end(seg))
        err = KERR__CORRUPT;
    if (err == KERR__CORRUPT || (err == KERR_NONE && rebuild)) {
        if (!rebuild)
            say_warn("storage", "rebuilding indexes path=%s", seg->log_path);
        err = segment_activate(seg, index_max_bytes);
        if (err == KERR_NONE)
            err = scan_all(seg, recover ? recovery_point : 0, index_interval, &valid_end);
    }
    if (err == KERR_NONE)
        err = cut_tail(seg, valid_end, dropped);
    if (err == KERR_NONE)
        load_roll_ts(seg);
    if (!was_active && seg->active) {
        kerr_t e2 = segment_seal(seg);
        if (err == KERR_NONE)
            err = e2;
    }
    if (err == KERR_NONE)
        seg->index_ok = true;
    return err;
}

kerr_t segment_append(struct segment *seg, const uint8_t *data, size_t len, int32_t index_interval,
                      int64_t now_ms)
{
    struct batch_iter it;
    struct batch_hdr h;
    size_t at;
    kerr_t err;

    KASSERT(seg->active);
    err = fileio_pwrite_all(seg->fd, data, len, seg->size);
    if (err != KERR_NONE) {
        /* Undo a partial write so the file holds whole batches only. */
        if (fileio_truncate(seg->fd, seg->size) != KERR_NONE)
            say_error("storage", "could not undo partial append path=%s size=%" PRId64,
                      seg->log_path, seg->size);
        return err;
    }
    batch_iter_init(&it, data, len);
    while (batch_iter_next(&it, &h, &at) == KERR_NONE)
        note_batch(seg, seg->size + (int64_t)at, &h, index_interval);
    seg->size += (int64_t)len;
    seg->dirty = true;
    if (seg->roll_ts < 0)
        seg->roll_ts = now_ms;
    return KERR_NONE;
}

kerr_t segment_find(struct segment *seg, int64_t target, int64_t *pos, struct batch_hdr *h)
{
    struct seg_reader r;
    int64_t off, p;
    kerr_t err = KERR__NOENT;

    (void)offset_index_lookup(&seg->oidx, target, &off, &p);
    reader_init(&r, seg->fd, seg->size);
    while (p < seg->size) {
        kerr_t e = reader_batch(&r, p, false, h, NULL);
        if (e != KERR_NONE) {
            say_error("storage", "unreadable batch path=%s pos=%" PRId64 " err=%s", seg->log_path,
                      p, kerr_name(e));
            err = (e == KERR__AGAIN) ? KERR__CORRUPT : e;
            break;
        }
        if (batch_last_offset(h) >= target) {
            *pos = p;
            err = KERR_NONE;
            break;
        }
        p += batch_size(h);
    }
    reader_destroy(&r);
    return err;
}

kerr_t segment_span_len(struct segment *seg, int64_t pos, const struct batch_hdr *h,
                        int64_t max_offset, int64_t max_bytes, bool min_one, int64_t *len)
{
    struct seg_reader r;
    struct batch_hdr next;
    int64_t total = batch_size(h), p = pos + batch_size(h);
    kerr_t err = KERR_NONE;

    *len = 0;
    if (total > max_bytes && !min_one)
        return KERR_NONE;
    reader_init(&r, seg->fd, seg->size);
    while (p < seg->size) {
        err = reader_batch(&r, p, false, &next, NULL);
        if (err != KERR_NONE) {
            err = (err == KERR__AGAIN) ? KERR__CORRUPT : err;
            break;
        }
        if (next.base_offset >= max_offset || total + batch_size(&next) > max_bytes)
            break;
        total += batch_size(&next);
        p += batch_size(&next);
    }
    reader_destroy(&r);
    if (err == KERR_NONE)
        *len = total;
    return err;
}

/* Looks inside the batch at p for the first record with ts >= target. */
static bool find_record_ts(const uint8_t *p, const struct batch_hdr *h, int64_t target,
                           int64_t *offset, int64_t *found_ts)
{
    struct record_iter it;
    struct batch_record rec;

    if (record_iter_init(&it, p, h) != KERR_NONE) {
        *offset = h->base_offset; /* compressed: the batch is the unit */
        *found_ts = h->max_ts;
        return true;
    }
    while (record_iter_next(&it, &rec) == KERR_NONE) {
        if (rec.ts >= target) {
            *offset = rec.offset;
            *found_ts = rec.ts;
            return true;
        }
    }
    return false;
}

kerr_t segment_offset_for_time(struct segment *seg, int64_t ts, int64_t *offset, int64_t *found_ts)
{
    struct seg_reader r;
    int64_t start = seg->base, off, p;
    kerr_t err = KERR__NOENT;

    if (seg->max_ts < ts)
        return KERR__NOENT;
    (void)time_index_lookup(&seg->tidx, ts, &start);
    (void)offset_index_lookup(&seg->oidx, start, &off, &p);
    reader_init(&r, seg->fd, seg->size);
    while (p < seg->size) {
        struct batch_hdr h;
        const uint8_t *bp = NULL;
        kerr_t e = reader_batch(&r, p, false, &h, NULL);
        if (e == KERR_NONE && h.max_ts >= ts)
            e = reader_batch(&r, p, true, &h, &bp);
        if (e != KERR_NONE) {
            err = (e == KERR__AGAIN) ? KERR__CORRUPT : e;
            break;
        }
        if (h.max_ts >= ts && find_record_ts(bp, &h, ts, offset, found_ts)) {
            err = KERR_NONE;
            break;
        }
        p += batch_size(&h);
    }
    reader_destroy(&r);
    return err;
}

kerr_t segment_truncate_to(struct segment *seg, int64_t target, int32_t index_interval)
{
    struct batch_hdr h;
    int64_t pos, valid_end, dropped;
    kerr_t err;

    KASSERT(seg->active);
    err = segment_find(seg, target, &pos, &h);
    if (err == KERR__NOENT)
        return KERR_NONE;
    if (err != KERR_NONE)
        return err;
    err = fileio_truncate(seg->fd, pos);
    if (err != KERR_NONE)
        return err;
    seg->size = pos;
    seg->dirty = true;
    err = offset_index_truncate(&seg->oidx, h.base_offset, pos);
    if (err == KERR_NONE)
        err = time_index_truncate(&seg->tidx, h.base_offset);
    if (err == KERR_NONE)
        err = scan_from_index(seg, INT64_MAX, INT64_MAX, index_interval, &valid_end);
    if (err == KERR_NONE)
        err = cut_tail(seg, valid_end, &dropped);
    if (err == KERR_NONE && seg->size == 0)
        seg->roll_ts = -1;
    return err;
}

kerr_t segment_truncate_all(struct segment *seg)
{
    kerr_t err;

    KASSERT(seg->active);
    err = fileio_truncate(seg->fd, 0);
    if (err == KERR_NONE)
        err = index_file_set_entries(&seg->oidx.f, 0);
    if (err == KERR_NONE)
        err = index_file_set_entries(&seg->tidx.f, 0);
    if (err != KERR_NONE)
        return err;
    seg->size = 0;
    seg->next_offset = seg->base;
    seg->max_ts = -1;
    seg->max_ts_offset = -1;
    seg->roll_ts = -1;
    seg->bytes_since_index = 0;
    seg->dirty = true;
    return KERR_NONE;
}

kerr_t segment_seal(struct segment *seg)
{
    kerr_t err, err2;

    if (!seg->active)
        return KERR_NONE;
    /* The last entry carries the segment's largest timestamp, which
     * retention and ListOffsets read after a restart. */
    if (seg->max_ts > 0)
        (void)time_index_append(&seg->tidx, seg->max_ts, seg->max_ts_offset);
    err = index_file_seal(&seg->oidx.f);
    err2 = index_file_seal(&seg->tidx.f);
    seg->active = false;
    return err != KERR_NONE ? err : err2;
}

kerr_t segment_sync(struct segment *seg)
{
    kerr_t err;

    if (!seg->dirty && !seg->sync_pending)
        return KERR_NONE;
    err = fileio_fsync(seg->fd);
    if (err == KERR_NONE)
        err = index_file_sync(&seg->oidx.f);
    if (err == KERR_NONE)
        err = index_file_sync(&seg->tidx.f);
    if (err == KERR_NONE)
        seg->dirty = false;
    return err;
}

kerr_t segment_sync_take(struct segment *seg, int *fds, int *n)
{
    int got = 0, all[SEGMENT_SYNC_FDS] = {seg->fd, seg->oidx.f.fd, seg->tidx.f.fd};

    if (!seg->dirty)
        return KERR_NONE;
    for (int i = 0; i < SEGMENT_SYNC_FDS; i++) {
        if (all[i] < 0)
            continue;
        if (fileio_dup(all[i], &fds[*n + got]) != KERR_NONE) {
            while (got > 0)
                fileio_close(fds[*n + --got]);
            return KERR__IO;
        }
        got++;
    }
    *n += got;
    seg->dirty = false;
    seg->sync_pending = true; /* a plog_flush() meanwhile must not skip it */
    return KERR_NONE;
}

void segment_synced(struct segment *seg)
{
    seg->sync_pending = false;
    if (seg->active || seg->dirty)
        return;
    index_file_release_fd(&seg->oidx.f);
    index_file_release_fd(&seg->tidx.f);
}

void segment_close(struct segment *seg)
{
    if (!seg)
        return;
    (void)segment_seal(seg);
    index_file_close(&seg->oidx.f);
    index_file_close(&seg->tidx.f);
    fileio_close(seg->fd);
    free(seg->log_path);
    free(seg);
}

/* Renames path to path + SEGMENT_DELETED_SUFFIX; unlinks it if that fails. */
static void retire_file(const char *path)
{
    char to[PATH_MAX];
    if (!path)
        return;
    if (snprintf(to, sizeof(to), "%s%s", path, SEGMENT_DELETED_SUFFIX) >= (int)sizeof(to) ||
        fileio_rename(path, to) != KERR_NONE)
        (void)fileio_unlink(path);
}

void segment_remove(struct segment *seg)
{
    if (!seg)
        return;
    /* Renaming is cheap under the partition lock; the background worker
     * unlinks the .deleted files later (plog_sweep_deleted()). Readers
     * holding a dup()ed descriptor keep reading the old bytes meanwhile. */
    retire_file(seg->oidx.f.path);
    retire_file(seg->tidx.f.path);
    retire_file(seg->log_path);
    seg->oidx.f.active = false;
    seg->tidx.f.active = false;
    index_file_close(&seg->oidx.f);
    index_file_close(&seg->tidx.f);
    fileio_close(seg->fd);
    seg->fd = -1;
    free(seg->log_path);
    free(seg);
}
