/*
 * broker/storage/index_file.c — fixed-size-entry index files (see
 * index_file.h): open, map, preallocate, append, trim.
 *
 * Life of a file: open() maps what is on disk read-only; the typed layer
 * validates the entries; activate() preallocates it to the configured
 * maximum for the active segment (sparse, like Kafka's
 * RandomAccessFile.setLength) and maps it writable; appends store entries
 * into that mapping; seal() trims it to the valid entries and maps it
 * read-only again when the segment rolls or the log closes.
 *
 * Disk space: a store into a page of a sparse file makes the kernel
 * allocate blocks at the fault, and a full filesystem answers that with
 * SIGBUS. So before the first entry lands on a page, append() allocates
 * that page's blocks with fileio_allocate() (posix_fallocate), whose
 * ENOSPC is an ordinary error return: one syscall per page of entries
 * (512 offset or 341 time entries with 4 KiB pages) instead of one pwrite
 * per entry. alloc_end remembers how far that has been done. Copy-on-write
 * filesystems (btrfs, ZFS) may still need space to rewrite an allocated
 * page; there a full disk can kill the broker with SIGBUS, as it can Kafka.
 *
 * Durability: stores go to the page cache like a write(2) does, so a killed
 * process loses nothing. index_file_sync() is fsync(fd), not msync: on
 * Linux the first store into a clean page of a shared file mapping takes a
 * write fault that marks the page dirty in the page cache, and fsync writes
 * back every dirty page of the file, whichever way it was dirtied (msync
 * with MS_SYNC does the same fsync of the range). What survives a power
 * loss is whatever the last sync wrote plus any later pages the kernel
 * happened to write back, in any order relative to the .log: entries past
 * the log's end, zeros, or garbage after the valid prefix. The typed layer
 * counts only the valid prefix at open and segment_load() drops entries
 * past the recovered log end or rebuilds the index from the log: the index
 * is never trusted over the log.
 *
 * A preallocated file nobody wrote to (an empty partition's index after a
 * crash) is one hole: open() sees that from fstat's block count and neither
 * validation nor activate() touch it. Touching its mapping would fault in
 * the kernel's read-around window of zero pages (megabytes with a large
 * read_ahead_kb) for every such partition.
 *
 * Threads: the owning partition's lock, for stores and loads alike.
 */
#include "broker/storage/index_file.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "broker/storage/fileio.h"
#include "common/say.h"

static void unmap(struct index_file *ix)
{
    if (ix->map)
        munmap(ix->map, ix->map_len);
    ix->map = NULL;
    ix->map_len = 0;
    ix->writable = false;
}

/* Maps len bytes of the open file, writable or read-only (len 0: no
 * mapping). */
static kerr_t remap(struct index_file *ix, size_t len, bool writable)
{
    void *m;

    unmap(ix);
    if (len == 0)
        return KERR_NONE;
    m = mmap(NULL, len, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, ix->fd, 0);
    if (m == MAP_FAILED) {
        say_syserror("storage", "mmap failed path=%s len=%zu", ix->path, len);
        return KERR__IO;
    }
    ix->map = m;
    ix->map_len = len;
    ix->writable = writable;
    return KERR_NONE;
}

/* True if the file's first 4 KiB read as zeros. Entries are written from
 * the start, so a file whose block count says "hole" (which a filesystem
 * may report before it has allocated recent writes) is believed only if
 * its head agrees; a small pread does not pull in the mmap read-around. */
static bool head_is_zero(int fd)
{
    uint8_t buf[4096];
    size_t got = 0;

    if (fileio_pread_full(fd, buf, sizeof(buf), 0, &got) != KERR_NONE)
        return false;
    for (size_t i = 0; i < got; i++)
        if (buf[i] != 0)
            return false;
    return true;
}

kerr_t index_file_open(struct index_file *ix, const char *path, uint32_t esize)
{
    int64_t size = 0;
    kerr_t err;

    bool hole = false;

    memset(ix, 0, sizeof(*ix));
    ix->fd = -1;
    ix->esize = esize;
    ix->zero_len = -1;
    ix->path = strdup(path);
    if (!ix->path)
        return KERR__NOMEM;
    err = fileio_open(path, O_RDWR | O_CREAT, 0644, &ix->fd);
    if (err != KERR_NONE)
        goto out_free;
    err = fileio_size_hole(ix->fd, &size, &hole);
    if (err != KERR_NONE)
        goto out_free;
    ix->torn = size % esize != 0;
    if (size == 0 || (hole && head_is_zero(ix->fd)))
        ix->zero_len = size;
    err = remap(ix, (size_t)size - (size_t)size % esize, false);
    if (err != KERR_NONE)
        goto out_free;
    return KERR_NONE;
out_free:
    index_file_close(ix);
    return err;
}

kerr_t index_file_activate(struct index_file *ix, int32_t max_bytes)
{
    size_t cap = max_bytes > 0 ? (size_t)max_bytes - (size_t)max_bytes % ix->esize : 0;
    kerr_t err;

    if (ix->fd < 0) { /* sealed earlier: reopen for writing */
        err = fileio_open(ix->path, O_RDWR | O_CREAT, 0644, &ix->fd);
        if (err != KERR_NONE)
            return err;
    }
    if (cap < ix->esize)
        cap = ix->esize;
    if (cap < ix->map_len)
        cap = ix->map_len;
    /* Cut to the valid entries first so that stale or garbage bytes after
     * them become a zero-filled hole a crash cannot resurrect (a file that
     * reads as zeros has none). */
    err = KERR_NONE;
    if (!index_file_is_zero(ix))
        err = fileio_truncate(ix->fd, (int64_t)ix->entries * ix->esize);
    if (err == KERR_NONE && ix->zero_len != (int64_t)cap)
        err = fileio_truncate(ix->fd, (int64_t)cap);
    if (err != KERR_NONE)
        return err;
    if (index_file_is_zero(ix))
        ix->zero_len = (int64_t)cap;
    if (ix->map_len != cap || !ix->map || !ix->writable)
        err = remap(ix, cap, true);
    if (err != KERR_NONE)
        return err;
    ix->alloc_end = 0; /* append() allocates from the page of its entry on */
    ix->max_entries = (int32_t)(cap / ix->esize);
    ix->active = true;
    ix->torn = false;
    return KERR_NONE;
}

kerr_t index_file_seal(struct index_file *ix)
{
    size_t len = (size_t)ix->entries * ix->esize;
    kerr_t err = KERR_NONE;

    if (ix->fd < 0)
        return KERR_NONE;
    if (ix->map_len != len)
        err = fileio_truncate(ix->fd, (int64_t)len);
    if (err == KERR_NONE)
        err = remap(ix, len, false);
    if (index_file_is_zero(ix))
        ix->zero_len = (int64_t)len;
    /* fd stays open: the entries written while active are in the page cache
     * until index_file_sync() (the flush after a roll) fsyncs and closes it */
    ix->active = false;
    ix->alloc_end = 0;
    ix->max_entries = ix->entries;
    return err;
}

kerr_t index_file_set_entries(struct index_file *ix, int32_t n)
{
    kerr_t err;

    KASSERT(n >= 0 && n <= index_file_mapped_entries(ix));
    if (ix->active && n < ix->entries) {
        /* Cut and re-extend: the dropped entries become a sparse hole. */
        err = fileio_truncate(ix->fd, (int64_t)n * ix->esize);
        if (err == KERR_NONE)
            err = fileio_truncate(ix->fd, (int64_t)ix->map_len);
        ix->alloc_end = MIN(ix->alloc_end, (size_t)n * ix->esize);
        if (err != KERR_NONE) {
            /* The file may now end at the cut, short of the mapping: a
             * load or store past its end would fault. Keep only what is
             * below the cut and take no more entries until the index is
             * sealed (a full index rolls the segment). */
            ix->entries = n;
            ix->max_entries = n;
            return err;
        }
    }
    ix->entries = n;
    return KERR_NONE;
}

/* Allocates the disk blocks under the pages that bytes [end - esize, end)
 * (the next entry) fall on, from alloc_end or that entry's first page on. */
static kerr_t allocate_to(struct index_file *ix, size_t end)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t start = (end - ix->esize) / page * page;
    size_t stop = MIN(ix->map_len, (end + page - 1) / page * page);
    kerr_t err;

    start = MAX(start, ix->alloc_end);
    err = fileio_allocate(ix->fd, (int64_t)start, (int64_t)(stop - start));
    if (err == KERR_NONE)
        ix->alloc_end = stop;
    return err;
}

kerr_t index_file_append(struct index_file *ix, const uint8_t *entry)
{
    size_t at = (size_t)ix->entries * ix->esize;

    KASSERT(ix->active && ix->writable && ix->entries < ix->max_entries);
    ix->zero_len = -1; /* allocated blocks: no longer known to be one hole */
    if (at + ix->esize > ix->alloc_end) {
        kerr_t err = allocate_to(ix, at + ix->esize);
        if (err != KERR_NONE)
            return err;
    }
    memcpy(ix->map + at, entry, ix->esize);
    ix->entries++;
    return KERR_NONE;
}

void index_file_close(struct index_file *ix)
{
    if (ix->active)
        (void)index_file_seal(ix);
    unmap(ix);
    fileio_close(ix->fd);
    ix->fd = -1;
    free(ix->path);
    ix->path = NULL;
}

void index_file_remove(struct index_file *ix)
{
    char *path = ix->path;

    ix->path = NULL;
    ix->active = false; /* no point trimming a file about to go */
    index_file_close(ix);
    if (path)
        (void)fileio_unlink(path);
    free(path);
}

kerr_t index_file_rename(struct index_file *ix, const char *path)
{
    char *copy = strdup(path);
    kerr_t err;

    if (!copy)
        return KERR__NOMEM;
    err = fileio_rename(ix->path, path);
    if (err != KERR_NONE) {
        free(copy);
        return err;
    }
    free(ix->path);
    ix->path = copy;
    return KERR_NONE;
}

kerr_t index_file_sync(struct index_file *ix)
{
    kerr_t err;

    if (ix->fd < 0)
        return KERR_NONE;
    err = fileio_fsync(ix->fd);
    if (err == KERR_NONE && !ix->active) { /* sealed and now on disk: the map serves reads */
        fileio_close(ix->fd);
        ix->fd = -1;
    }
    return err;
}

void index_file_release_fd(struct index_file *ix)
{
    if (ix->active || ix->fd < 0)
        return;
    fileio_close(ix->fd);
    ix->fd = -1;
}

bool index_file_tail_is_zero(const struct index_file *ix)
{
    size_t start = (size_t)ix->entries * ix->esize;
    /* A corrupt entry shows up right after the valid prefix; reading the
     * whole preallocated hole would fault in megabytes of zero pages. */
    size_t end = MIN(ix->map_len, start + 4096);

    if (ix->torn)
        return false;
    if (index_file_is_zero(ix))
        return true;
    for (size_t i = start; i < end; i++)
        if (ix->map[i] != 0)
            return false;
    return true;
}
