/*
 * tests/unit/broker/storage/storage_test.c — shared helpers for the storage
 * unit tests (see storage_test.h).
 */
#include "storage_test.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/storage/batch.h"
#include "common/crc32c.h"
#include "common/kwire.h"

char st_dir[256];

void st_tmpdir_up(void)
{
    snprintf(st_dir, sizeof(st_dir), "/tmp/gregor-storage-XXXXXX");
    cr_assert_not_null(mkdtemp(st_dir));
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void st_tmpdir_down(void)
{
    if (st_dir[0])
        nftw(st_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

void st_fix_crc(uint8_t *p)
{
    int32_t blen = (int32_t)be32_load(p + BATCH_OFF_LENGTH);
    uint32_t crc = crc32c(0, p + BATCH_OFF_ATTRIBUTES, (size_t)blen + 12 - BATCH_OFF_ATTRIBUTES);

    be32_store(p + BATCH_OFF_CRC, crc);
}

/* Appends one record (null key, value, no headers) to b. */
static void put_record(struct kbuf *b, int i, int64_t ts_delta, size_t value_len)
{
    struct kbuf r;

    kbuf_init(&r);
    kbuf_put_u8(&r, 0);
    kbuf_put_varlong(&r, ts_delta);
    kbuf_put_varint(&r, i);
    kbuf_put_varint(&r, -1);
    kbuf_put_varint(&r, (int32_t)value_len);
    for (size_t k = 0; k < value_len; k++)
        kbuf_put_u8(&r, (uint8_t)('a' + (i + k) % 26));
    kbuf_put_varint(&r, 0);
    kbuf_put_varint(b, (int32_t)r.len);
    kbuf_put(b, r.data, r.len);
    kbuf_destroy(&r);
}

size_t st_batch(struct kbuf *b, const struct st_batch_opts *o)
{
    size_t start = b->len;
    int64_t max_ts = o->nrec > 0 ? o->ts0 + (o->nrec - 1) * o->ts_step : o->ts0;

    if (o->ts_step < 0)
        max_ts = o->ts0;
    kbuf_put_i64(b, 0);
    kbuf_put_i32(b, 0); /* length, patched */
    kbuf_put_i32(b, -1);
    kbuf_put_u8(b, 2);
    kbuf_put_i32(b, 0); /* crc, patched */
    kbuf_put_i16(b, o->attributes);
    kbuf_put_i32(b, o->nrec - 1);
    kbuf_put_i64(b, o->ts0);
    kbuf_put_i64(b, max_ts);
    kbuf_put_i64(b, o->producer_id);
    kbuf_put_i16(b, o->producer_id >= 0 ? 0 : -1);
    kbuf_put_i32(b, o->base_seq);
    kbuf_put_i32(b, o->nrec);
    for (int i = 0; i < o->nrec; i++)
        put_record(b, i, (int64_t)i * o->ts_step, o->value_len);
    cr_assert(!b->oom);
    kbuf_patch_i32(b, start + BATCH_OFF_LENGTH, (int32_t)(b->len - start - 12));
    st_fix_crc(b->data + start);
    return start;
}

size_t st_simple(struct kbuf *b, int nrec, size_t value_len, int64_t ts0)
{
    struct st_batch_opts o = {.nrec = nrec,
                              .ts0 = ts0,
                              .ts_step = 1,
                              .value_len = value_len,
                              .producer_id = -1,
                              .base_seq = -1};
    return st_batch(b, &o);
}

void st_hex(struct kbuf *b, const char *hex)
{
    int hi = -1;

    for (const char *p = hex; *p; p++) {
        int v;
        if (*p >= '0' && *p <= '9')
            v = *p - '0';
        else if (*p >= 'a' && *p <= 'f')
            v = *p - 'a' + 10;
        else if (*p >= 'A' && *p <= 'F')
            v = *p - 'A' + 10;
        else
            continue;
        if (hi < 0) {
            hi = v;
        } else {
            kbuf_put_u8(b, (uint8_t)(hi << 4 | v));
            hi = -1;
        }
    }
    cr_assert_eq(hi, -1, "odd number of hex digits");
}

const char *st_path(const char *rel)
{
    static char buf[512];

    snprintf(buf, sizeof(buf), "%s/%s", st_dir, rel);
    return buf;
}

int64_t st_file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

size_t st_read_fd(int fd, int64_t off, void *buf, size_t len)
{
    ssize_t r = pread(fd, buf, len, off);

    cr_assert(r >= 0);
    return (size_t)r;
}

size_t st_read_at(const char *path, int64_t off, void *buf, size_t len)
{
    int fd = open(path, O_RDONLY);
    size_t n;

    cr_assert(fd >= 0, "open %s", path);
    n = st_read_fd(fd, off, buf, len);
    close(fd);
    return n;
}

void st_write_at(const char *path, int64_t off, const void *buf, size_t len)
{
    int fd = open(path, O_WRONLY);

    cr_assert(fd >= 0, "open %s", path);
    cr_assert_eq(pwrite(fd, buf, len, off), (ssize_t)len);
    close(fd);
}

void st_truncate(const char *path, int64_t len)
{
    cr_assert_eq(truncate(path, len), 0, "truncate %s", path);
}

int st_count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t sl = strlen(suffix);
    int n = 0;

    cr_assert_not_null(d);
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l >= sl && strcmp(de->d_name + l - sl, suffix) == 0)
            n++;
    }
    closedir(d);
    return n;
}
