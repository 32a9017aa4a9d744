/*
 * broker/storage/offset_index.h — a segment's sparse offset index
 * (`<base>.index`): entries (offset - base: u32, file position: u32),
 * big-endian, both strictly increasing, each pointing at the start of a
 * batch whose base offset is base + relative offset.
 *
 * Lookup answers "where may a forward scan for offset N start": the last
 * entry whose offset is <= N, else position 0.
 *
 * Ownership: embedded in struct segment; guarded by the partition lock.
 */
#ifndef GREGOR_BROKER_STORAGE_OFFSET_INDEX_H
#define GREGOR_BROKER_STORAGE_OFFSET_INDEX_H

#include "broker/storage/index_file.h"

#define OFFSET_INDEX_ENTRY_SIZE 8

struct offset_index {
    struct index_file f; /* the file */
    int64_t base;        /* the segment's base offset */
};

/* Opens (creating if missing) path (borrowed) and counts the valid prefix
 * of entries: increasing offsets and positions, positions < log_size.
 * *clean = false when non-zero bytes follow that prefix (corrupt index). */
kerr_t offset_index_open(struct offset_index *oi, const char *path, int64_t base, int64_t log_size,
                         bool *clean);
/* Appends (offset, pos) if offset and pos exceed the last entry and the
 * index is active and not full; otherwise does nothing. */
kerr_t offset_index_append(struct offset_index *oi, int64_t offset, int64_t pos);
/* Finds the last entry with offset <= target. Returns false (and *offset =
 * base, *pos = 0) when there is none. */
bool offset_index_lookup(const struct offset_index *oi, int64_t target, int64_t *offset,
                         int64_t *pos);
/* Entry i as absolute offset and position. */
void offset_index_entry(const struct offset_index *oi, int32_t i, int64_t *offset, int64_t *pos);
/* Drops entries with offset >= target or position >= pos_limit. */
kerr_t offset_index_truncate(struct offset_index *oi, int64_t target, int64_t pos_limit);

static inline int32_t offset_index_entries(const struct offset_index *oi) { return oi->f.entries; }

#endif
