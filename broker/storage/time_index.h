/*
 * broker/storage/time_index.h — a segment's time index (`<base>.timeindex`):
 * entries (largest timestamp so far: i64, offset - base of the batch that
 * first reached it: u32), big-endian; timestamps strictly increasing,
 * offsets non-decreasing. Only timestamps > 0 are indexed, so a zeroed
 * preallocated slot is never mistaken for an entry.
 *
 * Lookup answers "from which batch may a scan for the first timestamp >= T
 * start": every batch before the offset of the last entry with ts < T has a
 * max timestamp < T.
 *
 * Ownership: embedded in struct segment; guarded by the partition lock.
 */
#ifndef GREGOR_BROKER_STORAGE_TIME_INDEX_H
#define GREGOR_BROKER_STORAGE_TIME_INDEX_H

#include "broker/storage/index_file.h"

#define TIME_INDEX_ENTRY_SIZE 12

struct time_index {
    struct index_file f; /* the file */
    int64_t base;        /* the segment's base offset */
};

/* Opens (creating if missing) path (borrowed) and counts the valid prefix of
 * entries. *clean = false when non-zero bytes follow it (corrupt index). */
kerr_t time_index_open(struct time_index *ti, const char *path, int64_t base, bool *clean);
/* Appends (ts, offset) if ts is greater than the last entry's timestamp,
 * ts > 0, and the index is active and not full; otherwise does nothing. */
kerr_t time_index_append(struct time_index *ti, int64_t ts, int64_t offset);
/* Finds the last entry with ts < target; false when there is none. */
bool time_index_lookup(const struct time_index *ti, int64_t target, int64_t *offset);
/* The last entry; false when the index is empty. */
bool time_index_last(const struct time_index *ti, int64_t *ts, int64_t *offset);
/* Drops entries with offset >= target. */
kerr_t time_index_truncate(struct time_index *ti, int64_t target);

static inline int32_t time_index_entries(const struct time_index *ti) { return ti->f.entries; }

#endif
