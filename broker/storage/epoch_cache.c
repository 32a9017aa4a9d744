/*
 * broker/storage/epoch_cache.c — the leader epoch cache of one partition
 * (see epoch_cache.h for the semantics; Kafka's LeaderEpochFileCache).
 *
 * Its file (Kafka's text format; logdir.c writes and reads it for this
 * cache: logdir_epoch_ckpt_write(), logdir_epoch_ckpt_read()):
 *   <partition dir>/leader-epoch-checkpoint
 *     0                      version
 *     <count>
 *     <epoch> <start_offset>   count lines, both strictly increasing
 *
 * Writing: the whole cache goes to `leader-epoch-checkpoint.tmp`, which is
 * then renamed over the file, WITHOUT fsync of the file or the directory.
 * The rename makes every write atomic for readers and across a crash of
 * the process (the page cache survives it). Only a crash of the machine can
 * lose it, and the file is only a cache of what the batch headers already
 * say (each batch carries its partitionLeaderEpoch): at open, plog.c
 * (load_epochs) rebuilds it from the log when it is missing, empty or
 * unparsable, trims entries past the recovered log end or below the log
 * start, and rebuilds it when its entry for the last batch disagrees with
 * that batch's epoch. A lost write leaves an older, whole snapshot (or an
 * empty file on filesystems without rename ordering), which those checks
 * catch: the only change that keeps a snapshot's last entry is a raised log
 * start, which open applies again. So an fsync per change buys nothing for
 * correctness; it cost 1 to 2 ms per new leader epoch (three syncs), one
 * partition after another, when a broker took over many leaderships
 * (docs/PERFORMANCE.md §10.4).
 *
 * Invariant (always true): for i < n-1, e[i].epoch < e[i+1].epoch and
 * e[i].start_offset < e[i+1].start_offset; every value >= 0.
 *
 * Threads: none of its own; the owning plog's partition lock.
 */
#include "broker/storage/epoch_cache.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/storage/fileio.h"
#include "common/buf.h"
#include "common/say.h"
#include "common/vec.h"

/* Created by epoch_cache_new(), freed by epoch_cache_free(); guarded by the
 * partition lock. */
struct epoch_cache {
    char *path;                   /* owned; NULL = memory only */
    struct logdir_epoch_entry *e; /* owned, n used of cap */
    int n;
    size_t cap; /* room in e (common/vec.h) */
    bool dirty; /* memory differs from the file */
};

struct epoch_cache *epoch_cache_new(const char *path)
{
    struct epoch_cache *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    if (path && !(c->path = strdup(path))) {
        free(c);
        return NULL;
    }
    return c;
}

void epoch_cache_free(struct epoch_cache *c)
{
    if (!c)
        return;
    free(c->e);
    free(c->path);
    free(c);
}

/* True if e[0..n) is strictly increasing in both fields, all >= 0. */
static bool entries_valid(const struct logdir_epoch_entry *e, int n)
{
    for (int i = 0; i < n; i++) {
        if (e[i].epoch < 0 || e[i].start_offset < 0)
            return false;
        if (i > 0 && (e[i].epoch <= e[i - 1].epoch || e[i].start_offset <= e[i - 1].start_offset))
            return false;
    }
    return true;
}

kerr_t epoch_cache_load(struct epoch_cache *c)
{
    struct logdir_epoch_entry *e = NULL;
    int n = 0;
    kerr_t err;

    if (!c->path)
        return KERR__NOENT;
    err = logdir_epoch_ckpt_read(c->path, &e, &n);
    if (err == KERR_NONE && !entries_valid(e, n)) {
        say_error("storage", "leader epoch checkpoint not monotonic path=%s entries=%d", c->path,
                  n);
        err = KERR__CORRUPT;
    }
    c->dirty = false;
    if (err != KERR_NONE) {
        free(e);
        c->n = 0;
        return err;
    }
    free(c->e);
    c->e = e;
    c->n = n;
    c->cap = (size_t)n;
    return KERR_NONE;
}

kerr_t epoch_cache_flush(struct epoch_cache *c)
{
    kerr_t err;

    if (!c->dirty || !c->path)
        return KERR_NONE;
    err = logdir_epoch_ckpt_write(c->path, c->e, c->n, false); /* no fsync: see the top */
    if (err != KERR_NONE) {
        say_error("storage", "cannot write leader epoch checkpoint path=%s err=%s", c->path,
                  kerr_name(err));
        return err;
    }
    c->dirty = false;
    return KERR_NONE;
}

bool epoch_cache_is_dirty(const struct epoch_cache *c) { return c->dirty; }
void epoch_cache_mark_dirty(struct epoch_cache *c) { c->dirty = true; }

/* Drops entries from the end while they have epoch >= epoch or start >=
 * start. Returns true if any went. */
static bool drop_tail(struct epoch_cache *c, int32_t epoch, int64_t start)
{
    int n = c->n;

    while (c->n > 0 && (c->e[c->n - 1].epoch >= epoch || c->e[c->n - 1].start_offset >= start))
        c->n--;
    return c->n != n;
}

bool epoch_cache_assign(struct epoch_cache *c, int32_t epoch, int64_t start_offset)
{
    const struct logdir_epoch_entry *last = c->n > 0 ? &c->e[c->n - 1] : NULL;

    if (epoch < 0 || start_offset < 0)
        return false;
    if (last && epoch <= last->epoch && start_offset >= last->start_offset)
        return false;
    if (!VEC_RESERVE_AT(c->e, c->cap, (size_t)c->n + 1)) {
        say_error("storage", "out of memory in leader epoch cache path=%s",
                  c->path ? c->path : "-");
        return false;
    }
    if (drop_tail(c, epoch, start_offset))
        say_info("storage",
                 "leader epoch cache dropped conflicting entries path=%s epoch=%d "
                 "start_offset=%" PRId64,
                 c->path ? c->path : "-", epoch, start_offset);
    c->e[c->n].epoch = epoch;
    c->e[c->n].start_offset = start_offset;
    c->n++;
    c->dirty = true;
    return true;
}

bool epoch_cache_truncate_from_end(struct epoch_cache *c, int64_t offset)
{
    int n = c->n;

    while (c->n > 0 && c->e[c->n - 1].start_offset >= offset)
        c->n--;
    if (c->n == n)
        return false;
    c->dirty = true;
    return true;
}

bool epoch_cache_truncate_from_start(struct epoch_cache *c, int64_t offset)
{
    int keep = 0; /* index of the entry covering offset */

    if (c->n == 0 || c->e[0].start_offset >= offset)
        return false;
    while (keep + 1 < c->n && c->e[keep + 1].start_offset <= offset)
        keep++;
    memmove(&c->e[0], &c->e[keep], (size_t)(c->n - keep) * sizeof(c->e[0]));
    c->n -= keep;
    c->e[0].start_offset = offset;
    c->dirty = true;
    return true;
}

bool epoch_cache_clear(struct epoch_cache *c)
{
    if (c->n == 0)
        return false;
    c->n = 0;
    c->dirty = true;
    return true;
}

int32_t epoch_cache_latest_epoch(const struct epoch_cache *c)
{
    return c->n > 0 ? c->e[c->n - 1].epoch : EPOCH_UNDEFINED;
}

int epoch_cache_count(const struct epoch_cache *c) { return c->n; }

const struct logdir_epoch_entry *epoch_cache_entry(const struct epoch_cache *c, int i)
{
    KASSERT(i >= 0 && i < c->n);
    return &c->e[i];
}

void epoch_cache_end_offset_for(const struct epoch_cache *c, int32_t epoch, int64_t leo,
                                int32_t *end_epoch, int64_t *end_offset)
{
    int higher = 0; /* first entry with an epoch > epoch */

    *end_epoch = EPOCH_UNDEFINED;
    *end_offset = EPOCH_UNDEFINED_OFFSET;
    if (epoch < 0 || c->n == 0)
        return;
    if (epoch == c->e[c->n - 1].epoch) {
        *end_epoch = epoch;
        *end_offset = leo;
        return;
    }
    while (higher < c->n && c->e[higher].epoch <= epoch)
        higher++;
    if (higher == c->n)
        return; /* newer than anything known */
    /* Below the first known epoch: Kafka answers the requested epoch with
     * the first known start (entries before it may have been removed). */
    *end_epoch = higher > 0 ? c->e[higher - 1].epoch : epoch;
    *end_offset = c->e[higher].start_offset;
}
