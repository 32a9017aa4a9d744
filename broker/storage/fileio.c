/*
 * broker/storage/fileio.c — file syscalls behind a swappable ops table, and
 * the one place in storage where errno becomes a kerr_t.
 *
 * Neighbours: used by segment.c, index_file.c, plog.c and logdir.c. Tests
 * swap the table (tests/unit/broker/storage/) to inject faults.
 * Threads: any; the wrappers keep no state besides the ops pointer, which
 * is only swapped while nothing else runs.
 */
#include "broker/storage/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/say.h"

static int libc_open(const char *path, int flags, mode_t mode) { return open(path, flags, mode); }
static int libc_fstat(int fd, struct stat *st) { return fstat(fd, st); }
static int libc_fallocate(int fd, off_t off, off_t len)
{
    int e = posix_fallocate(fd, off, len);

    if (e == 0)
        return 0;
    errno = e;
    return -1;
}

const struct fileio_ops fileio_default_ops = {
    .open = libc_open,
    .close = close,
    .pread = pread,
    .pwrite = pwrite,
    .ftruncate = ftruncate,
    .fsync = fsync,
    .fstat = libc_fstat,
    .unlink = unlink,
    .rename = rename,
    .mkdir = mkdir,
    .fallocate = libc_fallocate,
};

static const struct fileio_ops *ops = &fileio_default_ops;

const struct fileio_ops *fileio_set_ops(const struct fileio_ops *new_ops)
{
    const struct fileio_ops *old = ops;
    ops = new_ops ? new_ops : &fileio_default_ops;
    return old;
}

const struct fileio_ops *fileio_get_ops(void) { return ops; }

/* Maps an errno value to the storage error a caller sees. */
static kerr_t errno_to_kerr(int e)
{
    switch (e) {
    case ENOSPC:
    case EDQUOT:
        return KERR__NOSPC;
    case ENOENT:
        return KERR__NOENT;
    case EEXIST:
        return KERR__EXISTS;
    default:
        return KERR__IO;
    }
}

kerr_t fileio_open(const char *path, int flags, mode_t mode, int *fd)
{
    int r;

    do {
        r = ops->open(path, flags | O_CLOEXEC, mode);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        int e = errno;
        if (e != ENOENT)
            say_syserror("storage", "open failed path=%s", path);
        *fd = -1;
        return errno_to_kerr(e);
    }
    *fd = r;
    return KERR_NONE;
}

void fileio_close(int fd)
{
    if (fd < 0)
        return;
    if (ops->close(fd) < 0 && errno != EINTR)
        say_syserror("storage", "close failed fd=%d", fd);
}

kerr_t fileio_pwrite_all(int fd, const void *buf, size_t n, int64_t off)
{
    const uint8_t *p = buf;

    while (n > 0) {
        ssize_t w = ops->pwrite(fd, p, n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            say_syserror("storage", "pwrite failed fd=%d off=%lld len=%zu", fd, (long long)off, n);
            return errno_to_kerr(e);
        }
        if (w == 0) {
            say_error("storage", "pwrite wrote nothing fd=%d off=%lld len=%zu", fd, (long long)off,
                      n);
            return KERR__IO;
        }
        p += w;
        n -= (size_t)w;
        off += w;
    }
    return KERR_NONE;
}

kerr_t fileio_pread_full(int fd, void *buf, size_t n, int64_t off, size_t *got)
{
    uint8_t *p = buf;
    size_t done = 0;

    while (done < n) {
        ssize_t r = ops->pread(fd, p + done, n - done, (off_t)(off + (int64_t)done));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            say_syserror("storage", "pread failed fd=%d off=%lld len=%zu", fd, (long long)off, n);
            *got = done;
            return errno_to_kerr(e);
        }
        if (r == 0)
            break;
        done += (size_t)r;
    }
    *got = done;
    return KERR_NONE;
}

kerr_t fileio_truncate(int fd, int64_t len)
{
    int r;

    do {
        r = ops->ftruncate(fd, (off_t)len);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        int e = errno;
        say_syserror("storage", "ftruncate failed fd=%d len=%lld", fd, (long long)len);
        return errno_to_kerr(e);
    }
    return KERR_NONE;
}

kerr_t fileio_allocate(int fd, int64_t off, int64_t len)
{
    int r;

    do {
        r = ops->fallocate(fd, (off_t)off, (off_t)len);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        int e = errno;
        say_syserror("storage", "fallocate failed fd=%d off=%lld len=%lld", fd, (long long)off,
                     (long long)len);
        return errno_to_kerr(e);
    }
    return KERR_NONE;
}

kerr_t fileio_fsync(int fd)
{
    if (ops->fsync(fd) < 0) {
        int e = errno;
        say_syserror("storage", "fsync failed fd=%d", fd);
        return errno_to_kerr(e);
    }
    return KERR_NONE;
}

kerr_t fileio_fsync_dir(const char *dir)
{
    int fd;
    kerr_t err = fileio_open(dir, O_RDONLY | O_DIRECTORY, 0, &fd);

    if (err != KERR_NONE)
        return err;
    err = fileio_fsync(fd);
    fileio_close(fd);
    return err;
}

/* fstat() through the ops table; logs and maps a failure. */
static kerr_t fstat_checked(int fd, struct stat *st)
{
    if (ops->fstat(fd, st) < 0) {
        int e = errno;
        say_syserror("storage", "fstat failed fd=%d", fd);
        return errno_to_kerr(e);
    }
    return KERR_NONE;
}

kerr_t fileio_size_hole(int fd, int64_t *size, bool *all_hole)
{
    struct stat st;
    kerr_t err = fstat_checked(fd, &st);

    if (err != KERR_NONE)
        return err;
    *size = (int64_t)st.st_size;
    /* st_blocks counts delayed-allocation blocks too (ext4, XFS), so bytes
     * written but not yet on disk are not mistaken for a hole. */
    *all_hole = st.st_size >= 4096 && st.st_blocks == 0;
    return KERR_NONE;
}

kerr_t fileio_size(int fd, int64_t *size)
{
    bool all_hole;
    return fileio_size_hole(fd, size, &all_hole);
}

kerr_t fileio_mtime(int fd, int64_t *mtime_ms)
{
    struct stat st;
    kerr_t err = fstat_checked(fd, &st);

    if (err != KERR_NONE)
        return err;
    *mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
    return KERR_NONE;
}

kerr_t fileio_unlink(const char *path)
{
    if (ops->unlink(path) < 0) {
        int e = errno;
        if (e != ENOENT)
            say_syserror("storage", "unlink failed path=%s", path);
        return errno_to_kerr(e);
    }
    return KERR_NONE;
}

kerr_t fileio_rename(const char *from, const char *to)
{
    if (ops->rename(from, to) < 0) {
        int e = errno;
        say_syserror("storage", "rename failed from=%s to=%s", from, to);
        return errno_to_kerr(e);
    }
    return KERR_NONE;
}

kerr_t fileio_mkdir_p(const char *dir)
{
    char path[PATH_MAX];
    size_t n = strlen(dir);

    if (n == 0 || n >= sizeof(path))
        return KERR__INVALID;
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char saved = path[i];
        path[i] = '\0';
        if (ops->mkdir(path, 0755) < 0 && errno != EEXIST) {
            int e = errno;
            say_syserror("storage", "mkdir failed path=%s", path);
            return errno_to_kerr(e);
        }
        path[i] = saved;
    }
    return KERR_NONE;
}

kerr_t fileio_dup(int fd, int *out)
{
    int r = fcntl(fd, F_DUPFD_CLOEXEC, 0);

    if (r < 0) {
        int e = errno;
        say_syserror("storage", "dup failed fd=%d", fd);
        *out = -1;
        return errno_to_kerr(e);
    }
    *out = r;
    return KERR_NONE;
}

bool fileio_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}
