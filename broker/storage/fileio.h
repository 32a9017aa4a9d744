/*
 * broker/storage/fileio.h — every syscall storage makes on files, behind a
 * swappable ops table, and the errno -> kerr_t boundary of the storage
 * module (docs/architecture.md §11: errno never crosses a module).
 *
 * Tests replace the table with fileio_set_ops() to inject torn writes,
 * ENOSPC and failed fsyncs, as SQLite's aSyscall[] (os_unix.c) does. The
 * table is process-global and must only be swapped while no storage
 * function runs (tests, or start-up before threads exist).
 *
 * Every wrapper logs a failure once with say_syserror("storage", ...) naming
 * the operation and path/fd, and maps errno: ENOSPC/EDQUOT -> KERR__NOSPC,
 * ENOENT -> KERR__NOENT, EEXIST -> KERR__EXISTS, anything else -> KERR__IO.
 */
#ifndef GREGOR_BROKER_STORAGE_FILEIO_H
#define GREGOR_BROKER_STORAGE_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"

struct stat;

/* The raw syscalls. Same contracts as libc (return -1 and set errno). */
struct fileio_ops {
    int (*open)(const char *path, int flags, mode_t mode);
    int (*close)(int fd);
    ssize_t (*pread)(int fd, void *buf, size_t n, off_t off);
    ssize_t (*pwrite)(int fd, const void *buf, size_t n, off_t off);
    int (*ftruncate)(int fd, off_t len);
    int (*fsync)(int fd);
    int (*fstat)(int fd, struct stat *st);
    int (*unlink)(const char *path);
    int (*rename)(const char *from, const char *to);
    int (*mkdir)(const char *path, mode_t mode);
    /* posix_fallocate's contract except for the result: -1 with errno set */
    int (*fallocate)(int fd, off_t off, off_t len);
};

/* The libc implementation. */
extern const struct fileio_ops fileio_default_ops;

/* Installs ops (borrowed: must outlive its use; NULL restores the default)
 * and returns the previous table. Not thread-safe; tests and start-up only. */
const struct fileio_ops *fileio_set_ops(const struct fileio_ops *ops);
/* Returns the table in use (returns borrowed). */
const struct fileio_ops *fileio_get_ops(void);

/* Opens path; *fd receives the descriptor (caller closes with fileio_close). */
kerr_t fileio_open(const char *path, int flags, mode_t mode, int *fd);
/* Closes fd if >= 0; errors are logged and ignored. */
void fileio_close(int fd);
/* Writes all n bytes at off, retrying short writes and EINTR. On failure
 * some prefix may have been written; the caller truncates back. */
kerr_t fileio_pwrite_all(int fd, const void *buf, size_t n, int64_t off);
/* Reads up to n bytes at off into buf; *got = bytes read (< n only at EOF). */
kerr_t fileio_pread_full(int fd, void *buf, size_t n, int64_t off, size_t *got);
kerr_t fileio_truncate(int fd, int64_t len);
/* Allocates disk blocks for [off, off + len), extending the file if it is
 * shorter, so that later stores through a shared mapping of that range
 * cannot fault for want of space (posix_fallocate). */
kerr_t fileio_allocate(int fd, int64_t off, int64_t len);
kerr_t fileio_fsync(int fd);
/* fsyncs a directory (after creating, renaming or unlinking in it). */
kerr_t fileio_fsync_dir(const char *dir);
/* *size = current file size of fd. */
kerr_t fileio_size(int fd, int64_t *size);
/* The file's length and whether it is one hole (no block allocated, so it
 * reads as zeros: a preallocated index never written to). Only claimed for
 * lengths of at least 4 KiB, past what a filesystem could store inline. */
kerr_t fileio_size_hole(int fd, int64_t *size, bool *all_hole);
/* *mtime_ms = modification time of fd in ms since the epoch. */
kerr_t fileio_mtime(int fd, int64_t *mtime_ms);
/* Unlinks path; a missing file is KERR__NOENT and is not logged. */
kerr_t fileio_unlink(const char *path);
kerr_t fileio_rename(const char *from, const char *to);
/* Creates dir and its missing parents (mode 0755); existing is fine. */
kerr_t fileio_mkdir_p(const char *dir);
/* True if path exists (stat succeeds). Not routed through the ops table. */
bool fileio_exists(const char *path);
/* dup(2)s fd; *out receives a descriptor the caller owns. */
kerr_t fileio_dup(int fd, int *out);

#endif
