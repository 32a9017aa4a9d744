/*
 * broker/storage/offset_index.c — sparse offset index of one segment.
 *
 * File format (`%020d.index`), a sequence of 8-byte entries:
 *
 *   OFF SIZE FIELD
 *    0   4   relative offset (batch base offset - segment base), u32 BE
 *    4   4   file position of that batch in the .log, u32 BE
 *
 * While the segment is active the file is preallocated (zero-filled) to
 * segment.index.bytes; the valid entries are the prefix in which both
 * fields strictly increase. A sealed file holds exactly its entries.
 *
 * Threads: the owning partition's lock.
 */
#include "broker/storage/offset_index.h"

#include "common/buf.h"

static void decode(const struct offset_index *oi, int32_t i, int64_t *offset, int64_t *pos)
{
    const uint8_t *e = index_file_entry(&oi->f, i);

    *offset = oi->base + (int64_t)be32_load(e);
    *pos = (int64_t)be32_load(e + 4);
}

void offset_index_entry(const struct offset_index *oi, int32_t i, int64_t *offset, int64_t *pos)
{
    KASSERT(i >= 0 && i < oi->f.entries);
    decode(oi, i, offset, pos);
}

kerr_t offset_index_open(struct offset_index *oi, const char *path, int64_t base, int64_t log_size,
                         bool *clean)
{
    int64_t prev_off = -1, prev_pos = -1;
    int32_t n, mapped;
    kerr_t err;

    oi->base = base;
    err = index_file_open(&oi->f, path, OFFSET_INDEX_ENTRY_SIZE);
    if (err != KERR_NONE)
        return err;
    /* a file that reads as zeros holds no entry: do not fault it in */
    mapped = index_file_is_zero(&oi->f) ? 0 : index_file_mapped_entries(&oi->f);
    for (n = 0; n < mapped; n++) {
        int64_t off, pos;
        decode(oi, n, &off, &pos);
        if (n > 0 && (off <= prev_off || pos <= prev_pos))
            break;
        if (pos >= log_size)
            break;
        prev_off = off;
        prev_pos = pos;
    }
    oi->f.entries = n;
    *clean = index_file_tail_is_zero(&oi->f);
    return KERR_NONE;
}

kerr_t offset_index_append(struct offset_index *oi, int64_t offset, int64_t pos)
{
    uint8_t e[OFFSET_INDEX_ENTRY_SIZE];
    int64_t rel = offset - oi->base;

    if (!oi->f.active || index_file_is_full(&oi->f))
        return KERR_NONE;
    if (rel < 0 || rel > (int64_t)UINT32_MAX || pos < 0 || pos > (int64_t)UINT32_MAX)
        return KERR_NONE;
    if (oi->f.entries > 0) {
        int64_t last_off, last_pos;
        decode(oi, oi->f.entries - 1, &last_off, &last_pos);
        if (offset <= last_off || pos <= last_pos)
            return KERR_NONE;
    }
    be32_store(e, (uint32_t)rel);
    be32_store(e + 4, (uint32_t)pos);
    return index_file_append(&oi->f, e);
}

bool offset_index_lookup(const struct offset_index *oi, int64_t target, int64_t *offset,
                         int64_t *pos)
{
    int32_t lo = 0, hi = oi->f.entries - 1, found = -1;

    while (lo <= hi) {
        int32_t mid = lo + (hi - lo) / 2;
        int64_t off, p;
        decode(oi, mid, &off, &p);
        if (off <= target) {
            found = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    if (found < 0) {
        *offset = oi->base;
        *pos = 0;
        return false;
    }
    decode(oi, found, offset, pos);
    return true;
}

kerr_t offset_index_truncate(struct offset_index *oi, int64_t target, int64_t pos_limit)
{
    int32_t n = 0;

    /* Entries increase in both fields, so the kept ones are a prefix. */
    while (n < oi->f.entries) {
        int64_t off, pos;
        decode(oi, n, &off, &pos);
        if (off >= target || pos >= pos_limit)
            break;
        n++;
    }
    return n == oi->f.entries ? KERR_NONE : index_file_set_entries(&oi->f, n);
}
