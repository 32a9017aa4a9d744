/*
 * broker/storage/time_index.c — time index of one segment.
 *
 * File format (`%020d.timeindex`), a sequence of 12-byte entries:
 *
 *   OFF SIZE FIELD
 *    0   8   largest batch max timestamp so far in the segment, i64 BE (> 0)
 *    8   4   relative offset of the batch that first reached it, u32 BE
 *
 * Timestamps strictly increase, offsets never decrease. Preallocated and
 * trimmed like the offset index (index_file.c).
 *
 * Threads: the owning partition's lock.
 */
#include "broker/storage/time_index.h"

#include "common/buf.h"

static void decode(const struct time_index *ti, int32_t i, int64_t *ts, int64_t *offset)
{
    const uint8_t *e = index_file_entry(&ti->f, i);

    *ts = (int64_t)be64_load(e);
    *offset = ti->base + (int64_t)be32_load(e + 8);
}

kerr_t time_index_open(struct time_index *ti, const char *path, int64_t base, bool *clean)
{
    int64_t prev_ts = 0, prev_off = -1;
    int32_t n, mapped;
    kerr_t err;

    ti->base = base;
    err = index_file_open(&ti->f, path, TIME_INDEX_ENTRY_SIZE);
    if (err != KERR_NONE)
        return err;
    /* a file that reads as zeros holds no entry: do not fault it in */
    mapped = index_file_is_zero(&ti->f) ? 0 : index_file_mapped_entries(&ti->f);
    for (n = 0; n < mapped; n++) {
        int64_t ts, off;
        decode(ti, n, &ts, &off);
        if (ts <= prev_ts || off < prev_off)
            break;
        prev_ts = ts;
        prev_off = off;
    }
    ti->f.entries = n;
    *clean = index_file_tail_is_zero(&ti->f);
    return KERR_NONE;
}

kerr_t time_index_append(struct time_index *ti, int64_t ts, int64_t offset)
{
    uint8_t e[TIME_INDEX_ENTRY_SIZE];
    int64_t rel = offset - ti->base;

    if (!ti->f.active || index_file_is_full(&ti->f) || ts <= 0)
        return KERR_NONE;
    if (rel < 0 || rel > (int64_t)UINT32_MAX)
        return KERR_NONE;
    if (ti->f.entries > 0) {
        int64_t last_ts, last_off;
        decode(ti, ti->f.entries - 1, &last_ts, &last_off);
        if (ts <= last_ts || offset < last_off)
            return KERR_NONE;
    }
    be64_store(e, (uint64_t)ts);
    be32_store(e + 8, (uint32_t)rel);
    return index_file_append(&ti->f, e);
}

bool time_index_lookup(const struct time_index *ti, int64_t target, int64_t *offset)
{
    int32_t lo = 0, hi = ti->f.entries - 1, found = -1;

    while (lo <= hi) {
        int32_t mid = lo + (hi - lo) / 2;
        int64_t ts, off;
        decode(ti, mid, &ts, &off);
        if (ts < target) {
            found = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    if (found < 0)
        return false;
    int64_t ts;
    decode(ti, found, &ts, offset);
    return true;
}

bool time_index_last(const struct time_index *ti, int64_t *ts, int64_t *offset)
{
    if (ti->f.entries == 0)
        return false;
    decode(ti, ti->f.entries - 1, ts, offset);
    return true;
}

kerr_t time_index_truncate(struct time_index *ti, int64_t target)
{
    int32_t n = 0;

    while (n < ti->f.entries) {
        int64_t ts, off;
        decode(ti, n, &ts, &off);
        if (off >= target)
            break;
        n++;
    }
    return n == ti->f.entries ? KERR_NONE : index_file_set_entries(&ti->f, n);
}
