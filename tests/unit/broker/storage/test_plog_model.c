/*
 * tests/unit/broker/storage/test_plog_model.c — a property test of the
 * partition log (broker/storage/plog.c) against a simple in-memory model.
 *
 * Each seed drives a random sequence of operations: appends (1-3 batches of
 * random record counts and sizes), roll, truncate_to, advance_start_offset,
 * retention by bytes (with a random high watermark), restart (close and
 * reopen, clean or with a full recovery scan), a crash (a fork()ed child
 * opens the log, appends and _exit()s without closing), on-disk damage
 * before a reopen (a .log cut mid-batch, a flipped byte, deleted or
 * truncated .index/.timeindex), appends that fail on a full disk
 * (fileio's ops table) and sweeps of removed (*.deleted) segment files.
 * After every operation the log must agree with the model: log start
 * offset, LEO, segment bases, byte sizes (also of the .log files on disk),
 * and random plog_read() calls return exactly the model's batch bytes, or
 * OFFSET_OUT_OF_RANGE exactly when the model says. Sealed segments' indexes
 * are checked after reopens (entries name real batches, no long unindexed
 * stretch, the time index ends with the segment's largest timestamp).
 *
 * The model holds the log as segments of batches (offsets, bytes). It rolls
 * where plog documents it rolls (segment_bytes; indexes are sized so that
 * they never fill) and deletes whole segments for retention by plog.h's
 * rules; everything else (offset assignment, which bytes a read returns,
 * what recovery keeps) follows from the batches.
 *
 * Set GREGOR_MODEL_TRACE=1 to print every operation to stderr,
 * GREGOR_TEST_LOG=info|warn|... to see the storage log lines, and
 * GREGOR_MODEL_SEED=N to run one seed only.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker/storage/batch.h"
#include "broker/storage/fileio.h"
#include "broker/storage/plog.h"
#include "common/say.h"
#include "storage_test.h"

#define LEADER_EPOCH 3
#define TS_BASE 1700000000000LL

/* ---- random numbers (splitmix64: fixed seeds reproduce a run) ---------- */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi] (hi >= lo). */
static int64_t rng_range(int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rng_next() % (uint64_t)(hi - lo + 1));
}

static bool rng_pct(int pct) { return rng_range(0, 99) < pct; }

/* ---- the model --------------------------------------------------------- */

struct mbatch {
    int64_t base;   /* first offset */
    int64_t last;   /* last offset */
    int64_t ts0;    /* timestamp of record 0; record i has ts0 + i */
    size_t size;    /* bytes */
    uint8_t *bytes; /* owned: the batch as it must be on disk */
};

struct mseg {
    int64_t base;     /* segment base offset */
    struct mbatch *b; /* owned array */
    int n, cap;
    int64_t size; /* sum of b[].size */
};

struct model {
    struct mseg *segs; /* owned; n >= 1 */
    int n, cap;
    int64_t start; /* log start offset */
};

/* What every test run shares: the log under test, its config, the model. */
static struct plog_config cfg;
static struct plog *plog;
static struct model m;
static uint64_t seed;
static int step;
static const char *op_name = "open";
static int64_t next_ts = TS_BASE;
static bool trace;

/* cr_assert with the seed, step and operation in front of the message. */
#define CHECK(cond, fmt, ...)                                                                      \
    cr_assert(cond, "seed=%" PRIu64 " step=%d op=%s: " fmt, seed, step, op_name, ##__VA_ARGS__)

static struct mseg *m_active(void) { return &m.segs[m.n - 1]; }

static int64_t m_leo(void)
{
    const struct mseg *s = m_active();
    return s->n > 0 ? s->b[s->n - 1].last + 1 : s->base;
}

static int64_t m_size(void)
{
    int64_t n = 0;
    for (int i = 0; i < m.n; i++)
        n += m.segs[i].size;
    return n;
}

static void m_push_seg(int64_t base)
{
    if (m.n == m.cap) {
        m.cap = m.cap ? m.cap * 2 : 16;
        m.segs = realloc(m.segs, (size_t)m.cap * sizeof(*m.segs));
        cr_assert_not_null(m.segs);
    }
    m.segs[m.n++] = (struct mseg){.base = base};
}

static void m_free_seg(struct mseg *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->b[i].bytes);
    free(s->b);
    *s = (struct mseg){.base = s->base};
}

/* Drops segment i. */
static void m_drop_seg(int i)
{
    m_free_seg(&m.segs[i]);
    memmove(&m.segs[i], &m.segs[i + 1], (size_t)(m.n - i - 1) * sizeof(*m.segs));
    m.n--;
}

/* Keeps only the first keep batches of segment s. */
static void m_cut_batches(struct mseg *s, int keep)
{
    for (int i = keep; i < s->n; i++) {
        s->size -= (int64_t)s->b[i].size;
        free(s->b[i].bytes);
    }
    if (keep < s->n)
        s->n = keep;
}

static void m_reset(int64_t base)
{
    while (m.n > 0)
        m_drop_seg(m.n - 1);
    m_push_seg(base);
    m.start = base;
}

static void m_free(void)
{
    while (m.n > 0)
        m_drop_seg(m.n - 1);
    free(m.segs);
    m = (struct model){0};
}

static void m_add_batch(struct mseg *s, const uint8_t *p, size_t len, int64_t base, int64_t last,
                        int64_t ts0)
{
    struct mbatch *b;

    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 32;
        s->b = realloc(s->b, (size_t)s->cap * sizeof(*s->b));
        cr_assert_not_null(s->b);
    }
    b = &s->b[s->n++];
    *b = (struct mbatch){.base = base, .last = last, .ts0 = ts0, .size = len};
    b->bytes = malloc(len);
    cr_assert_not_null(b->bytes);
    memcpy(b->bytes, p, len);
    s->size += (int64_t)len;
}

/* plog rolls before an append of len bytes when the active segment is not
 * empty and would exceed segment_bytes. */
static void m_maybe_roll(size_t len)
{
    const struct mseg *s = m_active();

    if (s->size > 0 && s->size + (int64_t)len > cfg.segment_bytes)
        m_push_seg(m_leo());
}

/* Appends the batches in buf (offsets not yet assigned: the model assigns
 * them from its own LEO and writes them into its copy). */
static void m_append(const uint8_t *buf, size_t len)
{
    struct batch_iter it;
    struct batch_hdr h;
    size_t at;
    int64_t next;

    m_maybe_roll(len);
    next = m_leo();
    batch_iter_init(&it, buf, len);
    while (batch_iter_next(&it, &h, &at) == KERR_NONE) {
        uint8_t *copy = malloc((size_t)batch_size(&h));
        cr_assert_not_null(copy);
        memcpy(copy, buf + at, (size_t)batch_size(&h));
        batch_set_offset_epoch(copy, next, LEADER_EPOCH);
        m_add_batch(m_active(), copy, (size_t)batch_size(&h), next, next + h.last_offset_delta,
                    h.base_ts);
        next += (int64_t)h.last_offset_delta + 1;
        free(copy);
    }
}

static void m_roll(void)
{
    if (m_active()->size > 0)
        m_push_seg(m_leo());
}

/* plog_truncate_to(): batches holding an offset >= off go whole. */
static void m_truncate_to(int64_t off)
{
    struct mseg *s;
    int keep = 0;

    if (off >= m_leo())
        return;
    if (off <= m.segs[0].base) {
        m_reset(off);
        return;
    }
    while (m_active()->base >= off)
        m_drop_seg(m.n - 1);
    s = m_active();
    while (keep < s->n && s->b[keep].last < off)
        keep++;
    m_cut_batches(s, keep);
    m.start = MIN(m.start, m_leo());
}

/* plog_apply_retention() with retention_ms = -1. */
static int m_retention(int64_t bytes, int64_t max_offset)
{
    int64_t total = m_size();
    int deleted = 0;

    while (m.n > 0 && m.segs[0].size > 0) {
        int64_t end = m.n > 1 ? m.segs[1].base : m_leo();
        bool del = end <= max_offset &&
                   (end <= m.start || (bytes >= 0 && total - m.segs[0].size >= bytes));
        if (!del)
            break;
        if (m.n == 1)
            m_roll();
        total -= m.segs[0].size;
        m_drop_seg(0);
        deleted++;
    }
    if (m.segs[0].base > m.start)
        m.start = m.segs[0].base;
    return deleted;
}

/* ---- comparing the log with the model ---------------------------------- */

static void seg_file(char *buf, size_t n, int64_t base, const char *ext)
{
    snprintf(buf, n, "%s/%020" PRId64 ".%s", st_dir, base, ext);
}

static void check_shape(bool indexes)
{
    char path[512];

    CHECK(plog_start_offset(plog) == m.start, "start %" PRId64 " model %" PRId64,
          plog_start_offset(plog), m.start);
    CHECK(plog_end_offset(plog) == m_leo(), "LEO %" PRId64 " model %" PRId64, plog_end_offset(plog),
          m_leo());
    CHECK(plog_segment_count(plog) == m.n, "segments %d model %d", plog_segment_count(plog), m.n);
    CHECK(plog_size_bytes(plog) == m_size(), "bytes %" PRId64 " model %" PRId64,
          plog_size_bytes(plog), m_size());
    CHECK(st_count_files(st_dir, ".log") == m.n, ".log files %d model %d",
          st_count_files(st_dir, ".log"), m.n);
    for (int i = 0; i < m.n; i++) {
        CHECK(plog_segment_base(plog, i) == m.segs[i].base,
              "segment %d base %" PRId64 " model %" PRId64, i, plog_segment_base(plog, i),
              m.segs[i].base);
        seg_file(path, sizeof(path), m.segs[i].base, "log");
        CHECK(st_file_size(path) == m.segs[i].size, "%s size %" PRId64 " model %" PRId64, path,
              st_file_size(path), m.segs[i].size);
        if (!indexes)
            continue;
        seg_file(path, sizeof(path), m.segs[i].base, "index");
        CHECK(st_file_size(path) >= 0, "%s missing", path);
        seg_file(path, sizeof(path), m.segs[i].base, "timeindex");
        CHECK(st_file_size(path) >= 0, "%s missing", path);
    }
}

/* Index of the batch of s starting at file position pos, or -1. */
static int m_batch_at(const struct mseg *s, int64_t pos)
{
    int64_t at = 0;

    for (int j = 0; j < s->n && at <= pos; j++) {
        if (at == pos)
            return j;
        at += (int64_t)s->b[j].size;
    }
    return -1;
}

/* Reads a whole file (returns new; *len bytes). */
static uint8_t *slurp(const char *path, int64_t *len)
{
    uint8_t *buf;

    *len = st_file_size(path);
    CHECK(*len >= 0, "%s missing", path);
    buf = malloc((size_t)*len + 1);
    cr_assert_not_null(buf);
    CHECK(st_read_at(path, 0, buf, (size_t)*len) == (size_t)*len, "short read of %s", path);
    return buf;
}

/* A sealed segment's .index: whole entries, each pointing at the start of
 * the batch it names, positions increasing, and no stretch of the log
 * without an entry longer than index_interval_bytes plus one batch. */
static void check_offset_index(const struct mseg *s)
{
    char path[512];
    int64_t len, prev = 0, max_batch = 0;
    uint8_t *ix;

    seg_file(path, sizeof(path), s->base, "index");
    ix = slurp(path, &len);
    CHECK(len % 8 == 0, "%s has %" PRId64 " bytes", path, len);
    for (int j = 0; j < s->n; j++)
        max_batch = MAX(max_batch, (int64_t)s->b[j].size);
    for (int64_t e = 0; e < len; e += 8) {
        int64_t rel = be32_load(ix + e), pos = be32_load(ix + e + 4);
        int j = m_batch_at(s, pos);
        CHECK(j >= 0 && s->b[j].base == s->base + rel,
              "%s entry %" PRId64 " (%" PRId64 ", %" PRId64 ") names no batch", path, e / 8, rel,
              pos);
        CHECK(e == 0 || pos > prev, "%s entry %" PRId64 " goes backwards", path, e / 8);
        CHECK(pos - prev <= cfg.index_interval_bytes + max_batch,
              "%s: %" PRId64 " bytes before entry %" PRId64 " without an entry", path, pos - prev,
              e / 8);
        prev = pos;
    }
    CHECK(s->size - prev <= cfg.index_interval_bytes + max_batch,
          "%s: last %" PRId64 " bytes of the log without an entry", path, s->size - prev);
    free(ix);
}

/* A sealed segment's .timeindex ends with (largest timestamp, its batch). */
static void check_time_index(const struct mseg *s)
{
    char path[512];
    int64_t len;
    uint8_t *ix;
    const struct mbatch *last = &s->b[s->n - 1];

    seg_file(path, sizeof(path), s->base, "timeindex");
    ix = slurp(path, &len);
    CHECK(len > 0 && len % 12 == 0, "%s has %" PRId64 " bytes", path, len);
    CHECK((int64_t)be64_load(ix + len - 12) == last->ts0 + (last->last - last->base) &&
              (int64_t)be32_load(ix + len - 4) == last->base - s->base,
          "%s last entry (%" PRId64 ", +%u), want (%" PRId64 ", +%" PRId64 ")", path,
          (int64_t)be64_load(ix + len - 12), be32_load(ix + len - 4),
          last->ts0 + (last->last - last->base), last->base - s->base);
    free(ix);
}

/* CHECKs that len bytes of buf from at on (at most 512) are zeros. */
static void check_zeros(const char *path, const uint8_t *buf, int64_t len, int64_t at)
{
    for (int64_t i = at; i < len && i < at + 512; i++)
        CHECK(buf[i] == 0, "%s: byte %" PRId64 " after the entries is %u", path, i, buf[i]);
}

/* The active segment's index files as a reader of the files sees them
 * (stores through the writable mapping are in the page cache at once): a
 * prefix of entries, each naming a batch of the segment (an offset entry
 * its offset and position, a time entry the batch whose largest timestamp
 * it holds), then zeros. */
static void check_active_index(void)
{
    const struct mseg *s = m_active();
    char path[512];
    int64_t len, at, prev = -1;
    uint8_t *ix;

    seg_file(path, sizeof(path), s->base, "index");
    ix = slurp(path, &len);
    for (at = 0; at + 8 <= len; at += 8) {
        int64_t rel = be32_load(ix + at), pos = be32_load(ix + at + 4);
        /* (0, 0) is an entry only when every batch gets one */
        if (pos <= prev || (pos == 0 && rel == 0 && (cfg.index_interval_bytes > 0 || s->n == 0)))
            break;
        int j = m_batch_at(s, pos);
        CHECK(j >= 0 && s->b[j].base == s->base + rel,
              "%s entry %" PRId64 " (%" PRId64 ", %" PRId64 ") names no batch", path, at / 8, rel,
              pos);
        prev = pos;
    }
    check_zeros(path, ix, len, at);
    free(ix);

    seg_file(path, sizeof(path), s->base, "timeindex");
    ix = slurp(path, &len);
    prev = 0;
    for (at = 0; at + 12 <= len; at += 12) {
        int64_t ts = (int64_t)be64_load(ix + at), off = s->base + be32_load(ix + at + 8);
        const struct mbatch *b = NULL;
        if (ts <= prev)
            break;
        for (int j = 0; j < s->n && !b; j++)
            if (s->b[j].base == off)
                b = &s->b[j];
        CHECK(b && b->ts0 + (b->last - b->base) == ts,
              "%s entry %" PRId64 " (%" PRId64 ", %" PRId64 ") names no batch with that timestamp",
              path, at / 12, ts, off);
        prev = ts;
    }
    check_zeros(path, ix, len, at);
    free(ix);
}

/* Every segment but the active one is sealed: its indexes are trimmed to
 * their entries. */
static void check_sealed_indexes(void)
{
    for (int i = 0; i < m.n - 1; i++) {
        CHECK(m.segs[i].n > 0, "model: empty sealed segment %" PRId64, m.segs[i].base);
        check_offset_index(&m.segs[i]);
        check_time_index(&m.segs[i]);
    }
}

/* Locates the batch holding off: segment *si, batch *bi. */
static void m_locate(int64_t off, int *si, int *bi)
{
    *si = 0;
    for (int i = 0; i < m.n; i++)
        if (m.segs[i].base <= off)
            *si = i;
    *bi = 0;
    while (*bi < m.segs[*si].n && m.segs[*si].b[*bi].last < off)
        (*bi)++;
    CHECK(*bi < m.segs[*si].n, "model has no batch for offset %" PRId64, off);
}

/* The span plog_read() must return: batch count and length as the
 * model has it, over the batches of one segment. */
static int m_span(int64_t off, int64_t max_offset, int64_t max_bytes, bool min_one, int *si,
                  int *bi, int64_t *len)
{
    const struct mseg *s;
    int n = 0;

    *len = 0;
    if (off == m_leo() || off >= max_offset)
        return 0;
    m_locate(off, si, bi);
    s = &m.segs[*si];
    for (int j = *bi; j < s->n; j++) {
        int64_t sz = (int64_t)s->b[j].size;
        bool fits = *len + sz <= max_bytes || (j == *bi && min_one);
        if (s->b[j].base >= max_offset || !fits)
            break;
        *len += sz;
        n++;
    }
    return n;
}

static void check_read(int64_t off, int64_t max_offset, int64_t max_bytes, bool min_one)
{
    struct file_span span = {.fd = -2};
    int si = 0, bi = 0, nb;
    int64_t len, at = 0;
    kerr_t err = plog_read(plog, off, max_offset, max_bytes, min_one, &span);
    uint8_t *got;

    if (off < m.start || off > m_leo()) {
        CHECK(err == KERR_OFFSET_OUT_OF_RANGE, "read(%" PRId64 ") err %s, want out of range", off,
              kerr_name(err));
        CHECK(span.len == 0 && span.fd == -1, "out-of-range read returned a span");
        return;
    }
    CHECK(err == KERR_NONE, "read(%" PRId64 ") err %s", off, kerr_name(err));
    nb = m_span(off, max_offset, max_bytes, min_one, &si, &bi, &len);
    CHECK(span.len == len,
          "read(%" PRId64 ", max_offset %" PRId64 ", max_bytes %" PRId64
          ", min_one %d) len %" PRId64 " model %" PRId64,
          off, max_offset, max_bytes, min_one, span.len, len);
    if (len == 0) {
        CHECK(span.fd == -1, "empty span with an fd");
        return;
    }
    got = malloc((size_t)len);
    cr_assert_not_null(got);
    CHECK(st_read_fd(span.fd, span.pos, got, (size_t)len) == (size_t)len, "short pread");
    close(span.fd);
    for (int j = bi; j < bi + nb; j++) {
        const struct mbatch *b = &m.segs[si].b[j];
        CHECK(memcmp(got + at, b->bytes, b->size) == 0,
              "read(%" PRId64 "): bytes of batch %" PRId64 "-%" PRId64 " differ", off, b->base,
              b->last);
        at += (int64_t)b->size;
    }
    free(got);
}

/* Reads every batch from the start offset to the LEO, span by span. */
static void check_read_all(void)
{
    int64_t off = m.start;

    while (off < m_leo()) {
        int si, bi;
        check_read(off, INT64_MAX, rng_range(1, 1 << 16), true);
        m_locate(off, &si, &bi);
        off = m.segs[si].b[bi].last + 1;
    }
    check_read(m_leo(), INT64_MAX, 1 << 20, true);
}

/* First offset >= the start whose record timestamp is >= ts, or -1. */
static int64_t m_offset_for_time(int64_t ts)
{
    for (int i = 0; i < m.n; i++) {
        for (int j = 0; j < m.segs[i].n; j++) {
            const struct mbatch *b = &m.segs[i].b[j];
            int64_t max_ts = b->ts0 + (b->last - b->base);
            if (max_ts < ts)
                continue;
            return MAX(b->base + MAX(ts - b->ts0, 0), m.start);
        }
    }
    return -1;
}

static void check_time(void)
{
    int64_t ts = rng_range(TS_BASE - 5, next_ts + 5), off = -2, found = -2;
    int64_t want = m_offset_for_time(ts);
    kerr_t err = plog_offset_for_time(plog, ts, &off, &found);

    CHECK(err == KERR_NONE, "offset_for_time err %s", kerr_name(err));
    CHECK(off == want, "offset_for_time(%" PRId64 ") %" PRId64 " model %" PRId64, ts, off, want);

    /* timestamps grow with offsets: the largest is the last record's */
    for (int i = m.n - 1; i >= 0 && m_leo() > m.start; i--) {
        const struct mbatch *b = m.segs[i].n > 0 ? &m.segs[i].b[m.segs[i].n - 1] : NULL;
        if (!b)
            continue;
        err = plog_max_timestamp(plog, &off, &found);
        CHECK(err == KERR_NONE && off == b->last && found == b->ts0 + (b->last - b->base),
              "max timestamp at %" PRId64 " ts %" PRId64 ", model %" PRId64 " ts %" PRId64, off,
              found, b->last, b->ts0 + (b->last - b->base));
        break;
    }
}

/* A max_bytes right at (or one byte around) the end of a batch after the
 * one holding off: the boundary plog_read() must get exactly right. */
static int64_t edge_max_bytes(int64_t off)
{
    const struct mseg *s;
    int si, bi;
    int64_t sum = 0;

    if (off < m.start || off >= m_leo())
        return 1 << 20;
    m_locate(off, &si, &bi);
    s = &m.segs[si];
    for (int j = bi; j < s->n && (j == bi || rng_pct(60)); j++)
        sum += (int64_t)s->b[j].size;
    return sum + rng_range(-1, 1);
}

static void check_random_reads(int n)
{
    for (int i = 0; i < n; i++) {
        int64_t leo = m_leo(), off = rng_range(m.start - 3, leo + 3), max_bytes;
        int64_t max_offset = rng_pct(70) ? INT64_MAX : rng_range(MAX(off, 0), MAX(off, leo + 1));
        if (rng_pct(30))
            max_bytes = edge_max_bytes(off);
        else
            max_bytes = rng_pct(20) ? rng_range(0, 100) : rng_range(100, 1 << 15);
        check_read(off, max_offset, max_bytes, rng_pct(60));
    }
}

/* ---- operations -------------------------------------------------------- */

/* Builds 1-3 batches of random shape into b. */
static void gen_batches(struct kbuf *b)
{
    int nb = rng_pct(75) ? 1 : (int)rng_range(2, 3);

    for (int i = 0; i < nb; i++) {
        int nrec = rng_pct(80) ? (int)rng_range(1, 8) : (int)rng_range(9, 40);
        size_t vlen = rng_pct(85) ? (size_t)rng_range(0, 80) : (size_t)rng_range(200, 2500);
        struct st_batch_opts o = {.nrec = nrec,
                                  .ts0 = next_ts,
                                  .ts_step = 1,
                                  .value_len = vlen,
                                  .producer_id = -1,
                                  .base_seq = -1};
        st_batch(b, &o);
        next_ts += nrec;
    }
}

/* Builds one single-record batch of exactly size bytes into b (false if
 * no value length gives that size: varint lengths skip a few sizes). */
static bool gen_exact_batch(struct kbuf *b, int64_t size)
{
    for (int64_t vlen = size - 70; vlen <= size - 60; vlen++) {
        struct st_batch_opts o = {.nrec = 1,
                                  .ts0 = next_ts,
                                  .ts_step = 1,
                                  .value_len = (size_t)MAX(vlen, 0),
                                  .producer_id = -1,
                                  .base_seq = -1};
        if (vlen < 0)
            continue;
        b->len = 0;
        st_batch(b, &o);
        if ((int64_t)b->len == size) {
            next_ts++;
            return true;
        }
    }
    return false;
}

/* Appends random batches, or (fit) one batch whose size is one byte short
 * of, exactly at, or one byte past what the active segment has room for. */
static void append_some(bool fit)
{
    struct kbuf b;
    int64_t first = -1, last = -1, leo = m_leo();
    int64_t room = cfg.segment_bytes - m_active()->size + rng_range(-1, 1);
    kerr_t err;

    kbuf_init(&b);
    if (!fit || room < 80 || !gen_exact_batch(&b, room)) {
        b.len = 0;
        gen_batches(&b);
    }
    m_append(b.data, b.len);
    err = plog_append(plog, b.data, b.len, LEADER_EPOCH, 0, &first, &last);
    CHECK(err == KERR_NONE, "append err %s", kerr_name(err));
    CHECK(first == leo && last == m_leo() - 1,
          "append offsets %" PRId64 "-%" PRId64 ", model %" PRId64 "-%" PRId64, first, last, leo,
          m_leo() - 1);
    kbuf_destroy(&b);
}

static void op_append(void) { append_some(false); }
static void op_append_fit(void) { append_some(true); }

/* ENOSPC after half of the batch bytes were written (index entries, 8 or 12
 * bytes, are written normally). */
static ssize_t enospc_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    if (n < BATCH_HDR_SIZE)
        return fileio_default_ops.pwrite(fd, buf, n, off);
    (void)fileio_default_ops.pwrite(fd, buf, n / 2, off);
    errno = ENOSPC;
    return -1;
}

static void op_append_disk_full(void)
{
    static struct fileio_ops full;
    struct kbuf b;
    int64_t first = -7, last = -7;
    kerr_t err;

    kbuf_init(&b);
    gen_batches(&b);
    m_maybe_roll(b.len); /* the roll happens before the write fails */
    full = fileio_default_ops;
    full.pwrite = enospc_pwrite;
    fileio_set_ops(&full);
    err = plog_append(plog, b.data, b.len, LEADER_EPOCH, 0, &first, &last);
    fileio_set_ops(NULL);
    CHECK(err == KERR_KAFKA_STORAGE_ERROR, "append on a full disk: %s", kerr_name(err));
    CHECK(first == -7 && last == -7, "failed append returned offsets");
    kbuf_destroy(&b);
}

static void op_truncate_to(void)
{
    int64_t off =
        rng_pct(90) ? rng_range(MAX(m.start - 3, 0), m_leo() + 1) : rng_range(0, m.segs[0].base);
    kerr_t err;

    m_truncate_to(off);
    err = plog_truncate_to(plog, off);
    CHECK(err == KERR_NONE, "truncate_to(%" PRId64 ") err %s", off, kerr_name(err));
}

static void op_advance_start(void)
{
    int64_t off = rng_range(MAX(m.start - 2, 0), m_leo() + 2);
    kerr_t err = plog_advance_start_offset(plog, off);

    if (off > m_leo()) {
        CHECK(err == KERR_OFFSET_OUT_OF_RANGE, "advance_start(%" PRId64 ") past LEO: %s", off,
              kerr_name(err));
        return;
    }
    CHECK(err == KERR_NONE, "advance_start(%" PRId64 ") err %s", off, kerr_name(err));
    m.start = MAX(m.start, off);
}

/* A retention size at random, or exactly what the log would keep without
 * its first k segments (the >= boundary), give or take one byte. */
static int64_t edge_retention_bytes(void)
{
    int64_t keep = m_size();

    if (rng_pct(50))
        return rng_range(0, keep + 100);
    for (int i = 0; i < m.n - 1 && rng_pct(60); i++)
        keep -= m.segs[i].size;
    return MAX(keep + rng_range(-1, 1), 0);
}

static void op_retention(void)
{
    struct plog_retention r = {
        .now_ms = next_ts,
        .retention_ms = -1,
        .retention_bytes = rng_pct(20) ? -1 : edge_retention_bytes(),
        .max_offset = rng_pct(50) ? m_leo() : rng_range(m.start, m_leo()),
    };
    int deleted = -1, want = m_retention(r.retention_bytes, r.max_offset);
    kerr_t err = plog_apply_retention(plog, &r, &deleted);

    CHECK(err == KERR_NONE, "retention err %s", kerr_name(err));
    CHECK(deleted == want,
          "retention(bytes %" PRId64 ", max_offset %" PRId64 ") deleted %d model %d",
          r.retention_bytes, r.max_offset, deleted, want);
}

static void reopen(int64_t recovery_point)
{
    char err[256] = "";
    struct plog_config c = cfg;

    c.recovery_point = recovery_point;
    plog = plog_open(st_dir, &c, err, sizeof(err));
    CHECK(plog != NULL, "reopen (recovery_point %" PRId64 "): %s", recovery_point, err);
    /* Without a checkpoint the start offset is the first segment's base. */
    m.start = m.segs[0].base;
}

static void op_restart(void)
{
    plog_close(plog);
    plog = NULL;
    reopen(rng_pct(50) ? -1 : 0);
}

/* ---- crashes and damage on disk (the log is closed) -------------------- */

/* Position of batch j inside its segment file. */
static int64_t m_batch_pos(const struct mseg *s, int j)
{
    int64_t pos = 0;

    for (int i = 0; i < j; i++)
        pos += (int64_t)s->b[i].size;
    return pos;
}

/* Damage in segment i: recovery keeps its first keep batches and drops
 * every later segment (they come after a hole). */
static void m_lose_from(int i, int keep)
{
    m_cut_batches(&m.segs[i], keep);
    while (m.n > i + 1)
        m_drop_seg(m.n - 1);
}

/* Cuts segment i's .log at a random position inside batch j or at its end. */
static void damage_cut(int i, int j)
{
    struct mseg *s = &m.segs[i];
    int64_t pos = m_batch_pos(s, j) + rng_range(0, (int64_t)s->b[j].size - 1);
    char path[512];

    seg_file(path, sizeof(path), s->base, "log");
    if (trace)
        fprintf(stderr, "  damage: cut %s at %" PRId64 " (batch %" PRId64 ")\n", path, pos,
                s->b[j].base);
    st_truncate(path, pos);
    m_lose_from(i, pos == m_batch_pos(s, j) + (int64_t)s->b[j].size ? j + 1 : j);
}

/* Flips one CRC-covered byte (or the CRC itself) of batch j of segment i. */
static void damage_flip(int i, int j)
{
    struct mseg *s = &m.segs[i];
    int64_t pos = m_batch_pos(s, j) + rng_range(BATCH_OFF_CRC, (int64_t)s->b[j].size - 1);
    uint8_t x = s->b[j].bytes[pos - m_batch_pos(s, j)] ^ (uint8_t)rng_range(1, 255);
    char path[512];

    seg_file(path, sizeof(path), s->base, "log");
    if (trace)
        fprintf(stderr, "  damage: flip %s at %" PRId64 " (batch %" PRId64 ")\n", path, pos,
                s->b[j].base);
    st_write_at(path, pos, &x, 1);
    m_lose_from(i, j);
}

/* Deletes, tears (a size that is not a whole number of entries) or
 * scribbles on one index file of a random segment: an entry overwritten
 * with 0xff bytes (out of order) or a well-formed entry added after the
 * last, naming an offset and position past the segment's end (an index
 * larger than its segment, as a crash can leave the mapped index pages
 * written back without the log's). Recovery must rebuild or trim it. */
static void damage_index(void)
{
    const struct mseg *s = &m.segs[rng_range(0, m.n - 1)];
    bool time = rng_pct(50);
    int64_t esize = time ? 12 : 8;
    char path[512];
    int64_t size;
    uint8_t e[12];
    int kind = (int)rng_range(0, 9);
    int64_t end = s->n > 0 ? s->b[s->n - 1].last + 1 : s->base;

    seg_file(path, sizeof(path), s->base, time ? "timeindex" : "index");
    size = st_file_size(path);
    if (size < 0)
        return;
    if (size > 0 && kind <= 3) {
        int64_t to = rng_range(0, size - 1);
        if (to % esize == 0)
            to++;
        if (trace)
            fprintf(stderr, "  damage: tear %s to %" PRId64 "\n", path, to);
        st_truncate(path, to);
    } else if (size >= esize && kind <= 5) {
        int64_t at = rng_range(0, size / esize - 1) * esize;
        memset(e, 0xff, sizeof(e));
        if (trace)
            fprintf(stderr, "  damage: scribble %s at %" PRId64 "\n", path, at);
        st_write_at(path, at, e, (size_t)esize);
    } else if (kind <= 7) {
        /* after the last entry: the sealed file's end, or the start of the
         * active file's zeros */
        int64_t at = 0;
        uint8_t cur[12];
        while (at + esize <= size && st_read_at(path, at, cur, (size_t)esize) == (size_t)esize &&
               (at == 0 || memcmp(cur, (uint8_t[12]){0}, (size_t)esize) != 0))
            at += esize;
        if (time) {
            be64_store(e, (uint64_t)next_ts + 1000000);
            be32_store(e + 8, (uint32_t)(end - s->base + 5));
        } else {
            be32_store(e, (uint32_t)(end - s->base + 5));
            be32_store(e + 4, (uint32_t)(s->size + 100));
        }
        if (trace)
            fprintf(stderr, "  damage: entry past the end of %s at %" PRId64 "\n", path, at);
        st_write_at(path, at, e, (size_t)esize);
    } else {
        if (trace)
            fprintf(stderr, "  damage: delete %s\n", path);
        cr_assert_eq(unlink(path), 0);
    }
}

/* Damages the closed log at random; returns the recovery point the reopen
 * must use to find the damage (-1: the last segment is scanned from its
 * last index entry, so only its last batch may be hurt; 0: everything is
 * scanned). */
static int64_t damage(void)
{
    int64_t rp = rng_pct(50) ? -1 : 0;
    struct mseg *act = m_active();
    int kind = (int)rng_range(0, 9), i;

    if (kind <= 3) {
        /* none */
    } else if (kind <= 5 && act->n > 0) {
        damage_cut(m.n - 1, (int)(rp < 0 ? act->n - 1 : rng_range(0, act->n - 1)));
    } else if (kind <= 7 && act->n > 0) {
        damage_flip(m.n - 1, (int)(rp < 0 ? act->n - 1 : rng_range(0, act->n - 1)));
    } else if (m_size() > 0) {
        rp = 0;
        do {
            i = (int)rng_range(0, m.n - 1);
        } while (m.segs[i].n == 0);
        if (rng_pct(50))
            damage_cut(i, (int)rng_range(0, m.segs[i].n - 1));
        else
            damage_flip(i, (int)rng_range(0, m.segs[i].n - 1));
    }
    if (rng_pct(30))
        damage_index();
    return rp;
}

/* The child: opens the closed log, appends bufs, dies without closing. */
static void crash_child(struct kbuf *bufs, int n)
{
    char err[256];
    struct plog_config c = cfg;
    struct plog *l;
    int64_t f, la;

    c.recovery_point = -1;
    l = plog_open(st_dir, &c, err, sizeof(err));
    if (!l)
        _exit(2);
    for (int i = 0; i < n; i++)
        if (plog_append(l, bufs[i].data, bufs[i].len, LEADER_EPOCH, 0, &f, &la) != KERR_NONE)
            _exit(3);
    _exit(0);
}

static void op_crash(void)
{
    struct kbuf bufs[6];
    int n = (int)rng_range(0, 6), status = 0;
    pid_t pid;

    plog_close(plog);
    plog = NULL;
    for (int i = 0; i < n; i++) {
        kbuf_init(&bufs[i]);
        gen_batches(&bufs[i]);
    }
    pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0)
        crash_child(bufs, n);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "crash child failed status=%d", status);
    for (int i = 0; i < n; i++) {
        m_append(bufs[i].data, bufs[i].len);
        kbuf_destroy(&bufs[i]);
    }
    reopen(damage());
}

static void op_flush(void)
{
    kerr_t err = plog_flush(plog);

    CHECK(err == KERR_NONE, "flush err %s", kerr_name(err));
    CHECK(plog_recovery_point(plog) == m_leo(),
          "recovery point %" PRId64 " after flush, LEO %" PRId64, plog_recovery_point(plog),
          m_leo());
}

/* Removed segments linger as *.deleted until swept; afterwards the
 * directory holds exactly the three files of each segment. */
static void op_sweep(void)
{
    int swept = plog_sweep_deleted(st_dir);

    CHECK(swept >= 0, "sweep returned %d", swept);
    CHECK(st_count_files(st_dir, ".deleted") == 0, "*.deleted files left after a sweep");
    CHECK(st_count_files(st_dir, ".index") == m.n && st_count_files(st_dir, ".timeindex") == m.n,
          "%d .index and %d .timeindex files for %d segments", st_count_files(st_dir, ".index"),
          st_count_files(st_dir, ".timeindex"), m.n);
}

static void op_roll(void)
{
    kerr_t err = plog_roll(plog, 0);

    CHECK(err == KERR_NONE, "roll err %s", kerr_name(err));
    m_roll();
}

/* ---- the driver -------------------------------------------------------- */

struct op {
    const char *name;
    void (*fn)(void);
    int weight;
    bool reopens; /* closes and reopens the log */
};

static const struct op ops[] = {
    {"append", op_append, 40, false},
    {"append_fit", op_append_fit, 6, false},
    {"roll", op_roll, 4, false},
    {"truncate_to", op_truncate_to, 6, false},
    {"advance_start", op_advance_start, 6, false},
    {"retention", op_retention, 7, false},
    {"flush", op_flush, 3, false},
    {"sweep", op_sweep, 3, false},
    {"append_disk_full", op_append_disk_full, 3, false},
    {"restart", op_restart, 5, true},
    {"crash", op_crash, 6, true},
};

static const struct op *pick_op(void)
{
    int total = 0, r;

    for (size_t i = 0; i < ARRAY_LEN(ops); i++)
        total += ops[i].weight;
    r = (int)rng_range(0, total - 1);
    for (size_t i = 0; i < ARRAY_LEN(ops); i++) {
        if (r < ops[i].weight)
            return &ops[i];
        r -= ops[i].weight;
    }
    return &ops[0];
}

static void model_setup(void)
{
    const char *lvl = getenv("GREGOR_TEST_LOG");
    enum say_level level = SAY_ERROR;
    int fd = open("/dev/null", O_WRONLY);

    if (lvl && say_level_parse(lvl, &level))
        say_setup(level, 2);
    else
        say_setup(SAY_ERROR, fd >= 0 ? fd : 2);
    trace = getenv("GREGOR_MODEL_TRACE") != NULL;
    st_tmpdir_up();
}

static void model_teardown(void)
{
    fileio_set_ops(NULL);
    plog_close(plog);
    plog = NULL;
    m_free();
    st_tmpdir_down();
}

TestSuite(plog_model, .init = model_setup, .fini = model_teardown, .timeout = 60);

/* Runs n_ops random operations from seed s, checking after each. */
static void run_model(uint64_t s, int n_ops)
{
    static const int32_t intervals[] = {0, 100, 700, 4096};

    seed = s;
    rng_state = s;
    plog_config_default(&cfg);
    cfg.segment_bytes = (int32_t)rng_range(1024, 12000);
    cfg.segment_ms = 0;
    cfg.index_interval_bytes = intervals[rng_range(0, ARRAY_LEN(intervals) - 1)];
    cfg.index_max_bytes = 1 << 16; /* never full: rolls come from segment_bytes only */
    m_reset(0);
    reopen(0);
    for (step = 1; step <= n_ops; step++) {
        const struct op *op = pick_op();
        op_name = op->name;
        if (trace)
            fprintf(stderr,
                    "seed=%" PRIu64 " step=%d %s start=%" PRId64 " leo=%" PRId64 " segs=%d\n", seed,
                    step, op->name, m.start, m_leo(), m.n);
        op->fn();
        check_shape(op->reopens);
        check_active_index();
        check_random_reads(3);
        if (op->reopens || step % 50 == 0) {
            check_read_all();
            check_sealed_indexes();
        }
        if (step % 7 == 0)
            check_time();
    }
    op_name = "final restart";
    op_restart();
    check_shape(true);
    check_read_all();
    check_sealed_indexes();
}

ParameterizedTestParameters(plog_model, random_ops_match_model)
{
    static uint64_t seeds[] = {1, 2, 3, 42, 1234, 99991, 0xC0FFEE, 0xDEADBEEF};

    return cr_make_param_array(uint64_t, seeds, ARRAY_LEN(seeds));
}

/* GREGOR_MODEL_SEED=N runs only seed N (reproducing a failure, with
 * GREGOR_MODEL_TRACE=1); GREGOR_MODEL_OPS=N changes the number of steps. */
ParameterizedTest(uint64_t *s, plog_model, random_ops_match_model)
{
    const char *only = getenv("GREGOR_MODEL_SEED"), *ops_env = getenv("GREGOR_MODEL_OPS");

    if (only && strtoull(only, NULL, 0) != *s)
        cr_skip_test("GREGOR_MODEL_SEED=%s", only);
    run_model(*s, ops_env ? atoi(ops_env) : 600);
}
