/*
 * tests/unit/broker/storage/cleaner_test.c — helpers for the log cleaner
 * tests (see cleaner_test.h).
 */
#include "cleaner_test.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/storage/batch.h"
#include "broker/storage/batch_compress.h"
#include "broker/storage/cleaner_filter.h"
#include "broker/storage/record_validate.h"
#include "broker/storage/segment.h"
#include "common/crc32c.h"
#include "common/kwire.h"
#include "storage_test.h"

static void put_rec(struct kbuf *b, int i, const struct ct_rec *r)
{
    struct kbuf x;

    kbuf_init(&x);
    kbuf_put_u8(&x, 0);
    kbuf_put_varlong(&x, i);
    kbuf_put_varint(&x, i);
    kbuf_put_varint(&x, r->key ? (int32_t)strlen(r->key) : -1);
    if (r->key)
        kbuf_put(&x, r->key, strlen(r->key));
    kbuf_put_varint(&x, r->value ? (int32_t)strlen(r->value) : -1);
    if (r->value)
        kbuf_put(&x, r->value, strlen(r->value));
    kbuf_put_varint(&x, 0);
    kbuf_put_varint(b, (int32_t)x.len);
    kbuf_put(b, x.data, x.len);
    kbuf_destroy(&x);
}

void ct_batch(struct kbuf *b, const struct ct_rec *recs, int n, int codec, int64_t ts, int64_t pid)
{
    struct kbuf body, z;
    size_t start = b->len;

    kbuf_init(&body);
    kbuf_init(&z);
    for (int i = 0; i < n; i++)
        put_rec(&body, i, &recs[i]);
    if (codec != 0)
        cr_assert_eq(batch_compress(codec, body.data, body.len, &z), KERR_NONE);
    kbuf_put_i64(b, 0);
    kbuf_put_i32(b, 0);
    kbuf_put_i32(b, -1);
    kbuf_put_u8(b, 2);
    kbuf_put_i32(b, 0);
    kbuf_put_i16(b, (int16_t)codec);
    kbuf_put_i32(b, n - 1);
    kbuf_put_i64(b, ts);
    kbuf_put_i64(b, ts + n - 1);
    kbuf_put_i64(b, pid);
    kbuf_put_i16(b, pid >= 0 ? 0 : -1);
    kbuf_put_i32(b, pid >= 0 ? 0 : -1);
    kbuf_put_i32(b, n);
    if (codec != 0)
        kbuf_put(b, z.data, z.len);
    else
        kbuf_put(b, body.data, body.len);
    cr_assert(!b->oom);
    kbuf_patch_i32(b, start + BATCH_OFF_LENGTH, (int32_t)(b->len - start - 12));
    st_fix_crc(b->data + start);
    kbuf_destroy(&body);
    kbuf_destroy(&z);
}

int64_t ct_append(struct plog *log, const struct ct_rec *recs, int n, int codec, int64_t ts)
{
    struct kbuf b;
    int64_t first, last;

    kbuf_init(&b);
    ct_batch(&b, recs, n, codec, ts, -1);
    cr_assert_eq(plog_append(log, b.data, b.len, 0, ts, &first, &last), KERR_NONE);
    kbuf_destroy(&b);
    return first;
}

int64_t ct_put(struct plog *log, const char *key, const char *value, int64_t ts)
{
    struct ct_rec r = {key, value};

    return ct_append(log, &r, 1, 0, ts);
}

static char *dup_n(const uint8_t *p, int32_t n)
{
    char *s;

    if (!p || n < 0)
        return NULL;
    s = malloc((size_t)n + 1);
    memcpy(s, p, (size_t)n);
    s[n] = 0;
    return s;
}

void ct_read_log(struct plog *log, struct ct_log *out)
{
    int64_t off = plog_start_offset(log), leo = plog_end_offset(log);

    memset(out, 0, sizeof(*out));
    while (off < leo) {
        struct file_span sp;
        uint8_t *buf;
        struct batch_iter it;
        struct batch_hdr h;
        size_t at;
        cr_assert_eq(plog_read(log, off, INT64_MAX, 1 << 20, true, &sp), KERR_NONE);
        if (sp.len == 0)
            break;
        buf = malloc((size_t)sp.len);
        cr_assert_eq(st_read_fd(sp.fd, sp.pos, buf, (size_t)sp.len), (size_t)sp.len);
        close(sp.fd);
        batch_iter_init(&it, buf, (size_t)sp.len);
        while (batch_iter_next(&it, &h, &at) == KERR_NONE) {
            struct kbuf recs;
            struct kslice s;
            struct cleaner_rec r;
            cr_assert(batch_crc_is_valid(buf + at, &h), "bad CRC at offset %ld",
                      (long)h.base_offset);
            cr_assert(batch_is_intact(buf + at, &h), "batch at %ld not intact",
                      (long)h.base_offset);
            out->batches++;
            out->empty_batches += h.records_count == 0;
            if (batch_is_control(&h)) { /* markers are counted, not read */
                cr_assert_lt(out->markers, CT_MAX_MARKERS);
                out->marker_offsets[out->markers++] = h.base_offset;
                off = batch_last_offset(&h) + 1;
                continue;
            }
            kbuf_init(&recs);
            cr_assert_eq(rv_decompress_records(buf + at, &h, 1 << 26, &recs), KERR_NONE);
            kslice_init(&s, recs.data, recs.len);
            while (cleaner_next_record(&s, &h, &r) == KERR_NONE) {
                out->r = realloc(out->r, (size_t)(out->n + 1) * sizeof(*out->r));
                out->r[out->n].offset = r.offset;
                out->r[out->n].key = dup_n(r.key, r.key_len);
                out->r[out->n].value = dup_n(r.value, r.value_len);
                out->r[out->n].codec = batch_compression(&h);
                out->n++;
            }
            kbuf_destroy(&recs);
            off = batch_last_offset(&h) + 1;
        }
        free(buf);
    }
    for (int i = 1; i < out->n; i++)
        cr_assert_gt(out->r[i].offset, out->r[i - 1].offset, "offsets must increase");
}

void ct_log_free(struct ct_log *l)
{
    for (int i = 0; i < l->n; i++) {
        free(l->r[i].key);
        free(l->r[i].value);
    }
    free(l->r);
    memset(l, 0, sizeof(*l));
}

const struct ct_read *ct_find_latest(const struct ct_log *l, const char *key)
{
    const struct ct_read *found = NULL;

    for (int i = 0; i < l->n; i++)
        if (l->r[i].key && strcmp(l->r[i].key, key) == 0)
            found = &l->r[i];
    return found;
}

int ct_count_key(const struct ct_log *l, const char *key)
{
    int n = 0;

    for (int i = 0; i < l->n; i++)
        n += l->r[i].key && strcmp(l->r[i].key, key) == 0;
    return n;
}

static void lk_lock(void *arg)
{
    struct ct_lock *l = arg;

    pthread_mutex_lock(&l->mu);
    l->owner = pthread_self();
    l->held = true;
    l->locks++;
    if (l->hook)
        l->hook(l, l->locks);
}

static void lk_unlock(void *arg)
{
    struct ct_lock *l = arg;

    l->held = false;
    pthread_mutex_unlock(&l->mu);
}

static bool lk_held(void *arg)
{
    struct ct_lock *l = arg;

    return l->held && pthread_equal(l->owner, pthread_self());
}

static int64_t lk_max_offset(void *arg)
{
    struct ct_lock *l = arg;

    return l->max_offset >= 0 ? l->max_offset : plog_end_offset(l->log);
}

void ct_lock_init(struct ct_lock *l, struct plog *log)
{
    memset(l, 0, sizeof(*l));
    pthread_mutex_init(&l->mu, NULL);
    l->max_offset = -1;
    l->log = log;
    l->ops.lock = lk_lock;
    l->ops.unlock = lk_unlock;
    l->ops.held = lk_held;
    l->ops.max_offset = lk_max_offset;
    l->ops.arg = l;
}

struct plog *ct_open(int32_t segment_bytes)
{
    struct plog_config cfg;
    char err[256];
    struct plog *log;

    plog_config_default(&cfg);
    cfg.segment_bytes = segment_bytes;
    cfg.index_interval_bytes = 64;
    cfg.index_max_bytes = 4096;
    log = plog_open(st_path("t-0"), &cfg, err, sizeof(err));
    cr_assert_not_null(log, "plog_open: %s", err);
    return log;
}

void ct_copy_dir(const char *from, const char *to)
{
    DIR *d = opendir(from);
    struct dirent *de;
    char a[512], b[512];
    static char buf[1 << 16];

    cr_assert_not_null(d);
    mkdir(to, 0755);
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        int in, outfd;
        ssize_t n;
        snprintf(a, sizeof(a), "%s/%s", from, de->d_name);
        snprintf(b, sizeof(b), "%s/%s", to, de->d_name);
        if (stat(a, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        in = open(a, O_RDONLY);
        outfd = open(b, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        cr_assert(in >= 0 && outfd >= 0);
        while ((n = read(in, buf, sizeof(buf))) > 0)
            cr_assert_eq(write(outfd, buf, (size_t)n), n);
        close(in);
        close(outfd);
    }
    closedir(d);
}

void ct_set_mtime(const char *dir, int64_t base, int64_t mtime_ms)
{
    char path[512];
    struct timespec ts[2];

    snprintf(path, sizeof(path), "%s/%020ld.log", dir, (long)base);
    ts[0].tv_sec = ts[1].tv_sec = mtime_ms / 1000;
    ts[0].tv_nsec = ts[1].tv_nsec = (mtime_ms % 1000) * 1000000;
    cr_assert_eq(utimensat(AT_FDCWD, path, ts, 0), 0, "utimensat %s", path);
}
