/*
 * broker/storage/txn_index.c — the aborted transaction index: the 34-byte
 * entry codec, the in-memory list of a log and the `.txnindex` files
 * (format in txn_index.h).
 *
 * Files are appended without fsync, like the offset indexes they sit next
 * to: log recovery rebuilds the entries of the part of the log it replays
 * (plog_producers.c), so a torn tail is repaired from the markers.
 */
#include "broker/storage/txn_index.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/storage/fileio.h"
#include "common/buf.h"

void txnidx_encode(const struct aborted_txn *e, uint8_t out[TXNIDX_ENTRY_SIZE])
{
    out[0] = 0;
    out[1] = TXNIDX_VERSION;
    be64_store(out + 2, (uint64_t)e->producer_id);
    be64_store(out + 10, (uint64_t)e->first_offset);
    be64_store(out + 18, (uint64_t)e->last_offset);
    be64_store(out + 26, (uint64_t)e->last_stable_offset);
}

kerr_t txnidx_decode(const uint8_t *p, size_t len, struct aborted_txn **out, size_t *n,
                     const char **why)
{
    size_t count = len / TXNIDX_ENTRY_SIZE;

    *out = NULL;
    *n = 0;
    *why = NULL;
    if (len % TXNIDX_ENTRY_SIZE != 0) {
        *why = "length is not a multiple of 34";
        return KERR__CORRUPT;
    }
    if (count == 0)
        return KERR_NONE;
    struct aborted_txn *v = malloc(count * sizeof(*v));
    if (!v)
        return KERR__NOMEM;
    for (size_t i = 0; i < count; i++) {
        const uint8_t *q = p + i * TXNIDX_ENTRY_SIZE;
        if (be16_load(q) != TXNIDX_VERSION) {
            *why = "unknown entry version";
            free(v);
            return KERR__CORRUPT;
        }
        v[i] = (struct aborted_txn){.producer_id = (int64_t)be64_load(q + 2),
                                    .first_offset = (int64_t)be64_load(q + 10),
                                    .last_offset = (int64_t)be64_load(q + 18),
                                    .last_stable_offset = (int64_t)be64_load(q + 26)};
        if (v[i].producer_id < 0 || v[i].first_offset < 0 || v[i].first_offset > v[i].last_offset ||
            (i > 0 && v[i].last_offset < v[i - 1].last_offset)) {
            *why = "entry offsets out of order";
            free(v);
            return KERR__CORRUPT;
        }
    }
    *out = v;
    *n = count;
    return KERR_NONE;
}

void txnidx_list_free(struct txnidx_list *l)
{
    free(l->v);
    *l = (struct txnidx_list){0};
}

bool txnidx_list_push(struct txnidx_list *l, const struct aborted_txn *e)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        struct aborted_txn *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return false;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *e;
    return true;
}

void txnidx_list_drop(struct txnidx_list *l, int64_t lo, int64_t hi)
{
    size_t k = 0;
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].last_offset < lo || l->v[i].last_offset >= hi)
            l->v[k++] = l->v[i];
    l->n = k;
}

void txnidx_list_remove(struct txnidx_list *l, const int64_t *gone, size_t n)
{
    size_t k = 0, g = 0;
    for (size_t i = 0; i < l->n; i++) {
        while (g < n && gone[g] < l->v[i].last_offset)
            g++;
        if (g < n && gone[g] == l->v[i].last_offset)
            continue;
        l->v[k++] = l->v[i];
    }
    l->n = k;
}

bool txnidx_list_select(const struct txnidx_list *l, int64_t from, int64_t upto,
                        struct aborted_txn **out, int *n)
{
    size_t lo = 0, hi = l->n, k = 0;

    *out = NULL;
    *n = 0;
    while (lo < hi) { /* first entry with last_offset >= from */
        size_t mid = lo + (hi - lo) / 2;
        if (l->v[mid].last_offset < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < l->n; i++)
        k += l->v[i].first_offset < upto;
    if (k == 0)
        return true;
    if (k > INT_MAX || !(*out = malloc(k * sizeof(**out))))
        return false;
    k = 0;
    for (size_t i = lo; i < l->n; i++)
        if (l->v[i].first_offset < upto)
            (*out)[k++] = l->v[i];
    *n = (int)k;
    return true;
}

static bool txnidx_path(char *buf, size_t n, const char *dir, int64_t base, const char *ext)
{
    return snprintf(buf, n, "%s/%020" PRId64 "%s%s", dir, base, TXNIDX_SUFFIX, ext) < (int)n;
}

kerr_t txnidx_file_append(const char *dir, int64_t base, const struct aborted_txn *e)
{
    char path[PATH_MAX];
    uint8_t buf[TXNIDX_ENTRY_SIZE];
    int fd;
    int64_t size;
    kerr_t err;

    if (!txnidx_path(path, sizeof(path), dir, base, ""))
        return KERR__INVALID;
    err = fileio_open(path, O_RDWR | O_CREAT, 0644, &fd);
    if (err != KERR_NONE)
        return err;
    txnidx_encode(e, buf);
    err = fileio_size(fd, &size);
    if (err == KERR_NONE) /* a torn tail is overwritten: entries stay aligned */
        err = fileio_pwrite_all(fd, buf, sizeof(buf), size - size % TXNIDX_ENTRY_SIZE);
    fileio_close(fd);
    return err;
}

kerr_t txnidx_file_load(const char *dir, int64_t base, struct txnidx_list *l, bool *missing,
                        const char **why)
{
    char path[PATH_MAX];
    int fd;
    int64_t size;
    uint8_t *buf = NULL;
    size_t got = 0, n = 0;
    struct aborted_txn *v = NULL;
    kerr_t err;

    *missing = false;
    *why = NULL;
    if (!txnidx_path(path, sizeof(path), dir, base, ""))
        return KERR__INVALID;
    if (!fileio_exists(path)) {
        *missing = true;
        return KERR_NONE;
    }
    err = fileio_open(path, O_RDONLY, 0, &fd);
    if (err != KERR_NONE)
        return err;
    err = fileio_size(fd, &size);
    if (err == KERR_NONE && (size < 0 || size > (INT64_C(1) << 30)))
        err = KERR__CORRUPT;
    if (err == KERR_NONE && !(buf = malloc((size_t)size + 1)))
        err = KERR__NOMEM;
    if (err == KERR_NONE)
        err = fileio_pread_full(fd, buf, (size_t)size, 0, &got);
    fileio_close(fd);
    if (err == KERR_NONE)
        err = txnidx_decode(buf, got, &v, &n, why);
    free(buf);
    for (size_t i = 0; err == KERR_NONE && i < n; i++)
        if (!txnidx_list_push(l, &v[i]))
            err = KERR__NOMEM;
    free(v);
    if (err == KERR__CORRUPT && !*why)
        *why = "unreadable size";
    return err;
}

kerr_t txnidx_file_rewrite(const char *dir, int64_t base, const struct txnidx_list *l, int64_t lo,
                           int64_t hi)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    struct kbuf b;
    int fd;
    kerr_t err;

    if (!txnidx_path(path, sizeof(path), dir, base, "") ||
        !txnidx_path(tmp, sizeof(tmp), dir, base, ".tmp"))
        return KERR__INVALID;
    kbuf_init(&b);
    for (size_t i = 0; i < l->n; i++) {
        uint8_t e[TXNIDX_ENTRY_SIZE];
        if (l->v[i].last_offset < lo || l->v[i].last_offset >= hi)
            continue;
        txnidx_encode(&l->v[i], e);
        kbuf_put(&b, e, sizeof(e));
    }
    if (b.oom) {
        kbuf_destroy(&b);
        return KERR__NOMEM;
    }
    if (b.len == 0) {
        kbuf_destroy(&b);
        if (fileio_exists(path))
            return fileio_unlink(path);
        return KERR_NONE;
    }
    err = fileio_open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644, &fd);
    if (err == KERR_NONE) {
        err = fileio_pwrite_all(fd, b.data, b.len, 0);
        fileio_close(fd);
        if (err == KERR_NONE)
            err = fileio_rename(tmp, path);
        if (err != KERR_NONE)
            (void)fileio_unlink(tmp);
    }
    kbuf_destroy(&b);
    return err;
}

void txnidx_file_retire(const char *dir, int64_t base)
{
    char path[PATH_MAX], to[PATH_MAX];

    if (!txnidx_path(path, sizeof(path), dir, base, "") ||
        !txnidx_path(to, sizeof(to), dir, base, ".deleted") || !fileio_exists(path))
        return;
    if (fileio_rename(path, to) != KERR_NONE)
        (void)fileio_unlink(path);
}
