/*
 * broker/storage/index_file.h — the fixed-size-entry file under both
 * segment indexes (offset_index.h: 8-byte entries, time_index.h: 12-byte
 * entries): a MAP_SHARED mapping of the file, preallocation while the
 * segment is active and trimming when it is sealed.
 *
 * While active the mapping is writable and an append is a store into it:
 * no syscall per entry. The disk blocks under each page are allocated
 * (fileio_allocate) before the first entry lands on that page, so a full
 * disk is an error return from the append instead of a SIGBUS from the
 * store. Sealed, the file holds exactly its entries and is mapped
 * read-only.
 *
 * Ownership: embedded in struct offset_index / struct time_index, which are
 * embedded in struct segment; guarded by the owning partition's lock, for
 * appends and lookups alike (no reader touches the mapping without it).
 */
#ifndef GREGOR_BROKER_STORAGE_INDEX_FILE_H
#define GREGOR_BROKER_STORAGE_INDEX_FILE_H

#include "common/base.h"
#include "common/err.h"

struct index_file {
    char *path;          /* owned */
    int fd;              /* open from open() until seal()/close(); -1 after */
    uint8_t *map;        /* MAP_SHARED view of map_len bytes (writable while
                          * active, else read-only); NULL if 0 */
    size_t map_len;      /* mapped bytes (a multiple of esize) */
    uint32_t esize;      /* bytes per entry */
    int32_t entries;     /* valid entries; always entries * esize <= map_len */
    int32_t max_entries; /* capacity while active (map_len / esize), else entries */
    size_t alloc_end;    /* while active: bytes [0, alloc_end) have disk blocks */
    bool active;         /* preallocated and appendable */
    bool writable;       /* map is PROT_WRITE (active) */
    bool torn;           /* the file ended inside an entry at open (until activate) */
    /* The file's length while it is known to read as zeros (opened as one
     * hole and nothing appended since), else -1. Such a file needs neither
     * validation nor the cut-and-extend of activate(): its mapping is never
     * touched, so no page of it is read in. */
    int64_t zero_len;
};

/* Opens (creating if missing) the file at path (borrowed) and maps its
 * current length rounded down to esize. entries = 0; the typed layer counts
 * valid entries from the mapping (none when index_file_is_zero()) and calls
 * index_file_set_entries(). */
kerr_t index_file_open(struct index_file *ix, const char *path, uint32_t esize);
/* Preallocates the file (sparse) to max(max_bytes, current length) rounded
 * down to esize (at least one entry), maps it writable, and allows
 * appends. */
kerr_t index_file_activate(struct index_file *ix, int32_t max_bytes);
/* Trims the file to entries * esize and remaps it read-only. Does not sync:
 * the fd stays open until index_file_sync() (or close), so the flush that
 * follows a segment roll makes the sealed index durable with its .log. */
kerr_t index_file_seal(struct index_file *ix);
/* Sets the valid entry count (n <= mapped entries). When active, bytes past
 * the new end are zeroed on disk so that a crash cannot resurrect them; if
 * that fails the count is still n and the index takes no more entries. */
kerr_t index_file_set_entries(struct index_file *ix, int32_t n);
/* Appends one entry (esize bytes, borrowed) by storing it into the mapping;
 * a syscall only when the entry is the first on a page (block allocation).
 * Requires active and not full. On error (disk full) nothing is stored. */
kerr_t index_file_append(struct index_file *ix, const uint8_t *entry);
/* Seals if active, unmaps, closes, frees. Safe on a zeroed struct. */
void index_file_close(struct index_file *ix);
/* Closes and unlinks the file. */
void index_file_remove(struct index_file *ix);
/* Renames the file (after a segment's base offset changed). */
kerr_t index_file_rename(struct index_file *ix, const char *path);
/* fsyncs the file if it is open (active, or sealed and not synced since):
 * on Linux this also writes back the pages dirtied through the mapping, as
 * msync(MS_SYNC) would. A sealed file's fd is closed once synced. */
kerr_t index_file_sync(struct index_file *ix);
/* Closes a sealed file's descriptor (kept for a sync another descriptor of
 * the file has done since); nothing while active. */
void index_file_release_fd(struct index_file *ix);

/* Number of entries the mapping holds (valid or not). */
static inline int32_t index_file_mapped_entries(const struct index_file *ix)
{
    return (int32_t)(ix->map_len / ix->esize);
}
/* Entry i (0 <= i < mapped entries); returns borrowed, valid until the next
 * activate/seal/close. */
static inline const uint8_t *index_file_entry(const struct index_file *ix, int32_t i)
{
    return ix->map + (size_t)i * ix->esize;
}
static inline bool index_file_is_full(const struct index_file *ix)
{
    return ix->active && ix->entries >= ix->max_entries;
}
/* True if the whole file is known to read as zeros without reading it: a
 * preallocated file nothing was ever written to (see zero_len). */
static inline bool index_file_is_zero(const struct index_file *ix) { return ix->zero_len >= 0; }
/* True if the bytes right after the valid entries (up to 4 KiB) are zero (a
 * preallocated or trimmed tail), false if garbage follows them or the file
 * ended inside an entry when it was opened (corrupt). */
bool index_file_tail_is_zero(const struct index_file *ix);

#endif
