/*
 * broker/storage/cleaner_swap.c — installing a cleaned segment and the
 * repair of a directory after a crash during a clean (the file sequence is
 * in cleaner_swap.h).
 */
#include "broker/storage/cleaner_swap.h"

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
#include "common/say.h"
#include "common/vec.h"

static const char *const EXTS[] = {"index", "timeindex", "log"}; /* log last */

bool cleaner_file_path(char *buf, size_t n, const char *dir, int64_t base, const char *ext,
                       const char *suffix)
{
    int w = snprintf(buf, n, "%s/%020" PRId64 ".%s%s", dir, base, ext, suffix);

    return w > 0 && (size_t)w < n;
}

void cleaner_discard_cleaned(const char *dir, int64_t base)
{
    char path[PATH_MAX];

    for (size_t e = 0; e < ARRAY_LEN(EXTS); e++)
        if (cleaner_file_path(path, sizeof(path), dir, base, EXTS[e], CLEANER_CLEANED_SUFFIX) &&
            fileio_exists(path))
            (void)fileio_unlink(path);
}

/* Renames the three files of base from suffix `from` to `to` (indexes
 * first). A missing index file is skipped. */
static kerr_t rename_all(const char *dir, int64_t base, const char *from, const char *to)
{
    char a[PATH_MAX], b[PATH_MAX];

    for (size_t e = 0; e < ARRAY_LEN(EXTS); e++) {
        kerr_t err;
        if (!cleaner_file_path(a, sizeof(a), dir, base, EXTS[e], from) ||
            !cleaner_file_path(b, sizeof(b), dir, base, EXTS[e], to))
            return KERR__INVALID;
        if (e + 1 < ARRAY_LEN(EXTS) && !fileio_exists(a))
            continue;
        err = fileio_rename(a, b);
        if (err != KERR_NONE)
            return err;
    }
    return KERR_NONE;
}

/* True if segments [i, i + n) of log are olds with sizes, all closed. */
static bool group_unchanged(const struct plog *log, int i, int n, struct segment *const *olds,
                            const int64_t *sizes)
{
    if (i < 0 || i + n > log->nsegs - 1)
        return false;
    for (int k = 0; k < n; k++)
        if (log->segs[i + k] != olds[k] || olds[k]->size != sizes[k] || olds[k]->active)
            return false;
    return true;
}

kerr_t cleaner_swap_install(struct plog *log, int i, int n, struct segment *const *olds,
                            const int64_t *sizes, int64_t base, const int64_t *gone, size_t ngone,
                            struct segment **out)
{
    struct segment *seg = NULL;
    int64_t dropped;
    kerr_t err;

    *out = NULL;
    if (!group_unchanged(log, i, n, olds, sizes) || olds[0]->base != base) {
        cleaner_discard_cleaned(log->dir, base);
        return KERR__AGAIN;
    }
    err = rename_all(log->dir, base, CLEANER_CLEANED_SUFFIX, CLEANER_SWAP_SUFFIX);
    if (err == KERR_NONE)
        err = fileio_fsync_dir(log->dir);
    if (err != KERR_NONE) {
        /* not committed unless the .log.swap reached the disk: undo */
        (void)rename_all(log->dir, base, CLEANER_SWAP_SUFFIX, CLEANER_CLEANED_SUFFIX);
        cleaner_discard_cleaned(log->dir, base);
        return err;
    }
    /* committed: the aborted transactions whose markers remain go to base's
     * .txnindex. (A crash before this rewrite leaves base's old file; the
     * entries it then lacks are of transactions whose records the cleaner
     * removed, so no read_committed answer changes.) */
    txnidx_list_remove(&log->aborted, gone, ngone);
    if (txnidx_file_rewrite(log->dir, base, &log->aborted, base, log->segs[i + n]->base) !=
        KERR_NONE)
        say_warn("storage", "cannot rewrite transaction index dir=%s base=%" PRId64, log->dir,
                 base);
    for (int k = 1; k < n; k++)
        txnidx_file_retire(log->dir, olds[k]->base);
    for (int k = 0; k < n; k++)
        segment_remove(olds[k]);
    memmove(&log->segs[i], &log->segs[i + n], (size_t)(log->nsegs - i - n) * sizeof(log->segs[0]));
    log->nsegs -= n;
    err = rename_all(log->dir, base, CLEANER_SWAP_SUFFIX, "");
    if (err == KERR_NONE)
        err = fileio_fsync_dir(log->dir);
    if (err == KERR_NONE)
        err = segment_open(log->dir, base, &seg);
    if (err == KERR_NONE)
        err = segment_load(seg, -1, log->cfg.index_interval_bytes, log->cfg.index_max_bytes,
                           &dropped);
    if (err == KERR_NONE && VEC_RESERVE_AT(log->segs, log->cap, (size_t)log->nsegs + 1)) {
        memmove(&log->segs[i + 1], &log->segs[i], (size_t)(log->nsegs - i) * sizeof(log->segs[0]));
        log->segs[i] = seg;
        log->nsegs++;
        *out = seg;
        return KERR_NONE;
    }
    say_error("storage",
              "cannot install cleaned segment dir=%s base=%" PRId64
              " err=%s: its offsets are unreadable until a restart repairs the directory",
              log->dir, base, kerr_name(err == KERR_NONE ? KERR__NOMEM : err));
    segment_close(seg);
    return err == KERR_NONE ? KERR__NOMEM : err;
}

/* ---- recovery at open ------------------------------------------------ */

/* Parses "<20 digits>.<ext><suffix>" exactly. */
static bool parse_name(const char *name, const char *ext, const char *suffix, int64_t *base)
{
    char want[64];
    int64_t v = 0;

    if (snprintf(want, sizeof(want), ".%s%s", ext, suffix) >= (int)sizeof(want) ||
        strlen(name) != SEGMENT_NAME_DIGITS + strlen(want) ||
        strcmp(name + SEGMENT_NAME_DIGITS, want) != 0)
        return false;
    for (int k = 0; k < SEGMENT_NAME_DIGITS; k++) {
        if (name[k] < '0' || name[k] > '9' || v > (INT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (name[k] - '0');
    }
    *base = v;
    return true;
}

/* Last offset of the batches in the file at path (headers only), or
 * base - 1 for an empty file. */
static int64_t swap_last_offset(const char *path, int64_t base)
{
    uint8_t hdr[BATCH_HDR_SIZE];
    int64_t pos = 0, size, last = base - 1;
    int fd;

    if (fileio_open(path, O_RDONLY, 0, &fd) != KERR_NONE)
        return last;
    if (fileio_size(fd, &size) == KERR_NONE) {
        while (pos < size) {
            struct batch_hdr h;
            size_t got;
            if (fileio_pread_full(fd, hdr, sizeof(hdr), pos, &got) != KERR_NONE ||
                batch_parse_hdr(hdr, got, &h) != KERR_NONE || h.last_offset_delta < 0)
                break;
            last = batch_last_offset(&h);
            pos += batch_size(&h);
        }
    }
    fileio_close(fd);
    return last;
}

/* Unlinks the three files of the segment at base. */
static void remove_segment_files(const char *dir, int64_t base)
{
    char path[PATH_MAX];

    for (size_t e = 0; e < ARRAY_LEN(EXTS); e++)
        if (cleaner_file_path(path, sizeof(path), dir, base, EXTS[e], "") && fileio_exists(path))
            (void)fileio_unlink(path);
}

kerr_t cleaner_swap_recover(const char *dir)
{
    VEC(int64_t) swaps = {0}, segs = {0}, idx_swaps = {0};
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[PATH_MAX];
    bool changed = false;
    kerr_t err = KERR_NONE;

    if (!d)
        return KERR_NONE; /* a new log: plog_open() creates the directory */
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name), k = strlen(CLEANER_CLEANED_SUFFIX);
        int64_t base;
        bool ok = true;
        if (len > k && strcmp(de->d_name + len - k, CLEANER_CLEANED_SUFFIX) == 0) {
            if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) < (int)sizeof(path))
                (void)fileio_unlink(path);
            say_warn("storage", "discarding unfinished clean dir=%s file=%s", dir, de->d_name);
            changed = true;
        } else if (parse_name(de->d_name, "log", CLEANER_SWAP_SUFFIX, &base)) {
            ok = VEC_PUSH(swaps, base);
        } else if (parse_name(de->d_name, "index", CLEANER_SWAP_SUFFIX, &base) ||
                   parse_name(de->d_name, "timeindex", CLEANER_SWAP_SUFFIX, &base)) {
            ok = VEC_PUSH(idx_swaps, base);
        } else if (parse_name(de->d_name, "log", "", &base)) {
            ok = VEC_PUSH(segs, base);
        }
        if (!ok) {
            err = KERR__NOMEM;
            break;
        }
    }
    closedir(d);
    for (size_t s = 0; s < swaps.n && err == KERR_NONE; s++) {
        int64_t b = swaps.v[s], last;
        if (!cleaner_file_path(path, sizeof(path), dir, b, "log", CLEANER_SWAP_SUFFIX))
            continue;
        last = swap_last_offset(path, b);
        for (size_t k = 0; k < segs.n; k++) {
            if (segs.v[k] >= b && segs.v[k] <= MAX(last, b)) {
                remove_segment_files(dir, segs.v[k]);
                segs.v[k] = -1;
            }
        }
        err = rename_all(dir, b, CLEANER_SWAP_SUFFIX, "");
        say_warn("storage",
                 "completed interrupted clean dir=%s base=%" PRId64 " last_offset=%" PRId64
                 " err=%s",
                 dir, b, last, kerr_name(err));
        changed = true;
    }
    for (size_t s = 0; s < idx_swaps.n && err == KERR_NONE; s++) {
        for (size_t e = 0; e < 2; e++)
            if (cleaner_file_path(path, sizeof(path), dir, idx_swaps.v[s], EXTS[e],
                                  CLEANER_SWAP_SUFFIX) &&
                fileio_exists(path)) {
                (void)fileio_unlink(path);
                changed = true;
            }
    }
    if (err == KERR_NONE && changed)
        err = fileio_fsync_dir(dir);
    VEC_FREE(swaps);
    VEC_FREE(segs);
    VEC_FREE(idx_swaps);
    return err;
}
