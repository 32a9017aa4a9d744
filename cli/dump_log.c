/*
 * cli/dump_log.c — `gregor dump-log FILE...`: prints and checks the files of
 * a partition directory offline, like Kafka's kafka-dump-log.sh. Reads the
 * files only; never needs a broker.
 *
 * Formats read (docs/architecture.md §5; layouts owned by broker/storage/batch.c,
 * offset_index.c and time_index.c, whose pure format code this file uses):
 *   <base>.log        RecordBatch v2 batches back to back
 *   <base>.index      8-byte entries (u32 offset - base, u32 position), BE
 *   <base>.timeindex  12-byte entries (i64 timestamp, u32 offset - base), BE
 *   <offset>.snapshot idempotent producers' state (Kafka's producer snapshot
 *                     v1; broker/storage/producer_state.h decodes it): one
 *                     line per producer, or the reason it is refused
 *   <base>.txnindex   aborted transactions, 34-byte entries (Kafka's
 *                     TransactionIndex; broker/storage/txn_index.h decodes
 *                     it): one line per entry, or the reason it is refused
 * Active indexes are preallocated with zeroes past their last entry; an
 * index with no entry (0 bytes, or zeros only) prints "The index is empty".
 *
 * Output, all on stdout (one line per batch, record or index entry, Kafka's
 * wording): "Dumping FILE", the items, the problems found ("incomplete
 * batch ...", "crc mismatch ...", "invalid batch ... : REASON (ERROR)",
 * "Index mismatch: ...") and a "Summary:"
 * line. A file with problems also gets one "gregor: FILE: ..." line on
 * stderr, and the exit status is then 1.
 *
 * Threads: main thread only.
 */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/storage/batch.h"
#include "broker/storage/offset_index.h"
#include "broker/storage/producer_state.h"
#include "broker/storage/record_validate.h"
#include "broker/storage/time_index.h"
#include "broker/storage/txn_index.h"
#include "common/crc32c.h"
#include "common/kwire.h"
#include "common/vec.h"

#define DL_READ_CHUNK (64 * 1024)

enum dl_kind { DL_UNKNOWN, DL_LOG, DL_INDEX, DL_TIMEINDEX, DL_SNAPSHOT, DL_TXNINDEX };

/* Parsed options; on dump_log_main()'s stack. */
struct dl_opts {
    bool deep;        /* --print-data-log / --deep-iteration: print records */
    bool verify_only; /* --verify-index-only: index files print mismatches only */
};

/* ---- reading files -------------------------------------------------------- */

/* A regular file read through a pread window. On the caller's stack;
 * dl_file_close() frees. */
struct dl_file {
    const char *path; /* borrowed from argv */
    int fd;           /* -1 when closed */
    int64_t size;     /* length at open */
    uint8_t *buf;     /* owned window memory */
    size_t cap;       /* bytes at buf */
    int64_t wpos;     /* file position of buf[0] */
    size_t wlen;      /* valid bytes at buf */
    int read_errno;   /* errno of the last failed read, 0 if none */
};

/* Opens path (borrowed). On failure sets *err to errno (or EISDIR/EINVAL
 * for a directory or special file) and returns false. */
static bool dl_file_open(struct dl_file *f, const char *path, int *err)
{
    struct stat st;

    memset(f, 0, sizeof(*f));
    f->path = path;
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0) {
        *err = errno;
        return false;
    }
    if (fstat(f->fd, &st) != 0)
        *err = errno;
    else if (!S_ISREG(st.st_mode))
        *err = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
    else
        *err = 0;
    if (*err != 0) {
        close(f->fd);
        f->fd = -1;
        return false;
    }
    f->size = (int64_t)st.st_size;
    return true;
}

static void dl_file_close(struct dl_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    free(f->buf);
    f->buf = NULL;
}

/* Returns borrowed bytes [pos, pos + n) of the file, valid until the next
 * call, or NULL when fewer than n bytes could be read (end of file, read
 * error in f->read_errno, or no memory). *avail (may be NULL) = how many of
 * the n bytes exist. */
static const uint8_t *dl_file_get(struct dl_file *f, int64_t pos, size_t n, size_t *avail)
{
    size_t want = MAX(n, (size_t)DL_READ_CHUNK), got = 0;

    if (pos >= f->wpos && pos + (int64_t)n <= f->wpos + (int64_t)f->wlen) {
        if (avail)
            *avail = n;
        return f->buf + (pos - f->wpos);
    }
    if (want > f->cap) {
        uint8_t *nb = realloc(f->buf, want);
        if (nb == NULL) {
            f->read_errno = ENOMEM;
            return NULL;
        }
        f->buf = nb;
        f->cap = want;
    }
    while (got < want) {
        ssize_t r = pread(f->fd, f->buf + got, want - got, (off_t)(pos + (int64_t)got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            f->read_errno = errno;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    f->wpos = pos;
    f->wlen = got;
    if (avail)
        *avail = MIN(got, n);
    return got >= n ? f->buf : NULL;
}

/* Fails the command for a file that cannot be opened. */
static int dl_fail_open(const char *path, int err)
{
    fflush(stdout);
    if (err == EINVAL)
        return cli_fail("cannot open %s: not a regular file", path);
    return cli_fail("cannot open %s: %s", path, strerror(err));
}

/* Returns the kind of file by its extension. */
static enum dl_kind dl_kind_of(const char *path)
{
    size_t n = strlen(path);
    static const struct {
        const char *ext;
        enum dl_kind kind;
    } exts[] = {{".log", DL_LOG},
                {".index", DL_INDEX},
                {".timeindex", DL_TIMEINDEX},
                {".snapshot", DL_SNAPSHOT},
                {".txnindex", DL_TXNINDEX}};

    for (size_t i = 0; i < ARRAY_LEN(exts); i++) {
        size_t e = strlen(exts[i].ext);
        if (n > e && strcmp(path + n - e, exts[i].ext) == 0)
            return exts[i].kind;
    }
    return DL_UNKNOWN;
}

/* The segment base offset from a name like ".../00000000000000000042.log",
 * or -1 when the name before the extension is not a decimal number. */
static int64_t dl_base_offset(const char *path)
{
    const char *name = strrchr(path, '/');
    const char *dot;
    char digits[24];
    int64_t base;

    name = name ? name + 1 : path;
    dot = strchr(name, '.');
    if (dot == NULL || dot == name || (size_t)(dot - name) >= sizeof(digits))
        return -1;
    for (const char *c = name; c < dot; c++) {
        if (*c < '0' || *c > '9')
            return -1;
    }
    snprintf(digits, sizeof(digits), "%.*s", (int)(dot - name), name);
    return cli_parse_int(digits, 0, INT64_MAX, &base) ? base : -1;
}

/* ---- .log: batches and records ------------------------------------------- */

/* Progress of one .log dump. On dl_dump_log()'s stack. */
struct dl_log {
    struct dl_file f;
    int64_t seg_base;  /* from the file name; -1 unknown */
    int64_t batches;   /* whole batches seen */
    int64_t records;   /* sum of their recordsCount */
    int64_t prev_last; /* last offset of the previous batch; -1 before the first */
    int64_t end;       /* end of the last whole batch */
    int problems;      /* corruption found */
};

static const char *dl_codec_name(int codec)
{
    static const char *const names[] = {"none", "gzip", "snappy", "lz4", "zstd"};

    return codec >= 0 && codec <= BATCH_COMPRESSION_MAX ? names[codec] : "unknown";
}

/* Kafka's DefaultRecordBatch.incrementSequence: wraps at INT32_MAX to 0. */
static int32_t dl_sequence(int32_t base_seq, int64_t delta)
{
    int64_t s;

    if (base_seq < 0)
        return -1;
    s = (int64_t)base_seq + delta;
    return (int32_t)(s > INT32_MAX ? s - INT32_MAX - 1 : s);
}

/* Reports why no whole batch could be read at pos; always returns false. */
static bool dl_log_stop(struct dl_log *l, int64_t pos, const uint8_t *p, size_t avail)
{
    int64_t left = l->f.size - pos;
    int32_t blen;

    l->problems++;
    if (l->f.read_errno != 0) {
        printf("read error at position %" PRId64 ": %s\n", pos, strerror(l->f.read_errno));
        return false;
    }
    if (p == NULL || avail < BATCH_LOG_OVERHEAD) {
        printf("incomplete batch at position %" PRId64 ": %" PRId64 " of at least %d bytes\n", pos,
               left, BATCH_HDR_SIZE);
        return false;
    }
    blen = (int32_t)be32_load(p + BATCH_OFF_LENGTH);
    if (avail > BATCH_OFF_MAGIC && (int8_t)p[BATCH_OFF_MAGIC] != BATCH_MAGIC) {
        printf("corrupt batch at position %" PRId64 ": magic %d, %" PRId64 " bytes not read\n", pos,
               (int8_t)p[BATCH_OFF_MAGIC], left);
    } else if (blen < BATCH_MIN_LENGTH) {
        printf("corrupt batch at position %" PRId64 ": batchLength %" PRId32 ", %" PRId64
               " bytes not read\n",
               pos, blen, left);
    } else {
        printf("incomplete batch at position %" PRId64 ": %" PRId64 " of %" PRId64 " bytes\n", pos,
               left, (int64_t)blen + BATCH_LOG_OVERHEAD);
    }
    return false;
}

/* Reads the batch at pos: *h and *data (borrowed until the next read).
 * Returns true if it is whole; otherwise reports why the log ends here. */
static bool dl_log_read(struct dl_log *l, int64_t pos, struct batch_hdr *h, const uint8_t **data)
{
    int64_t left = l->f.size - pos;
    size_t avail = 0;
    const uint8_t *p = dl_file_get(&l->f, pos, (size_t)MIN(left, BATCH_HDR_SIZE), &avail);

    if (p == NULL || batch_parse_hdr(p, avail, h) != KERR_NONE)
        return dl_log_stop(l, pos, p, avail);
    if (batch_size(h) > left) {
        l->problems++;
        printf("incomplete batch at position %" PRId64 ": %" PRId64 " of %" PRId64 " bytes\n", pos,
               left, batch_size(h));
        return false;
    }
    *data = dl_file_get(&l->f, pos, (size_t)batch_size(h), NULL);
    if (*data == NULL)
        return dl_log_stop(l, pos, NULL, 0);
    return true;
}

static void dl_print_batch(const struct batch_hdr *h, int64_t pos, bool crc_ok)
{
    printf("baseOffset: %" PRId64 " lastOffset: %" PRId64 " count: %" PRId32
           " baseSequence: %" PRId32 " lastSequence: %" PRId32 " producerId: %" PRId64
           " producerEpoch: %d partitionLeaderEpoch: %" PRId32
           " isTransactional: %s isControl: %s position: %" PRId64 " %s: %" PRId64 " size: %" PRId64
           " magic: %d compresscodec: %s crcValid: %s\n",
           h->base_offset, batch_last_offset(h), h->records_count, h->base_seq,
           dl_sequence(h->base_seq, h->last_offset_delta), h->producer_id, h->producer_epoch,
           h->leader_epoch, batch_is_transactional(h) ? "true" : "false",
           batch_is_control(h) ? "true" : "false", pos,
           (h->attributes & BATCH_ATTR_LOG_APPEND_TIME) ? "LogAppendTime" : "CreateTime", h->max_ts,
           batch_size(h), h->magic, dl_codec_name(batch_compression(h)), crc_ok ? "true" : "false");
}

/* Checks a batch: CRC, offsets in order and inside the segment, a known
 * codec, then its records (record_validate.c, the checks the broker's
 * recovery applies). Prints one line per problem. */
static void dl_check_batch(struct dl_log *l, const uint8_t *p, const struct batch_hdr *h,
                           int64_t pos, bool crc_ok)
{
    if (!crc_ok) {
        uint32_t crc =
            crc32c(0, p + BATCH_OFF_ATTRIBUTES, (size_t)batch_size(h) - BATCH_OFF_ATTRIBUTES);
        printf("crc mismatch at position %" PRId64 ": stored %" PRIu32 ", computed %" PRIu32 "\n",
               pos, h->crc, crc);
        l->problems++;
    }
    if (h->last_offset_delta < 0) {
        printf("corrupt batch at position %" PRId64 ": lastOffsetDelta %" PRId32 "\n", pos,
               h->last_offset_delta);
        l->problems++;
    }
    if (l->prev_last >= 0 && h->base_offset <= l->prev_last) {
        printf("offsets out of order at position %" PRId64 ": baseOffset %" PRId64
               " after lastOffset %" PRId64 "\n",
               pos, h->base_offset, l->prev_last);
        l->problems++;
    } else if (l->prev_last < 0 && l->seg_base >= 0 && h->base_offset < l->seg_base) {
        printf("offsets out of order at position %" PRId64 ": baseOffset %" PRId64
               " below the segment's base offset %" PRId64 "\n",
               pos, h->base_offset, l->seg_base);
        l->problems++;
    }
    if (batch_compression(h) > BATCH_COMPRESSION_MAX) {
        printf("corrupt batch at position %" PRId64 ": unknown compression codec %d\n", pos,
               batch_compression(h));
        l->problems++;
    } else if (crc_ok) {
        /* The records, by the broker's own rules for stored batches. */
        struct rv_opts o;
        struct rv_result res;
        rv_opts_stored(&o);
        kerr_t err = record_validate_batch(p, h, &o, &res);
        if (err != KERR_NONE) {
            printf("invalid batch at position %" PRId64 ": %s (%s)\n", pos,
                   res.reason ? res.reason : "unreadable records", kerr_name(err));
            l->problems++;
        }
    }
}

/* Writes n bytes to stdout: printable ASCII as is, '\\' as "\\\\", any
 * other byte as "\xNN", so a record always stays on one line. */
static void dl_put_escaped(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\\')
            fputs("\\\\", stdout);
        else if (p[i] >= 0x20 && p[i] < 0x7f)
            putchar(p[i]);
        else
            printf("\\x%02x", p[i]);
    }
}

/* Prints "[k1,k2]" from a record's raw header section. False if malformed. */
static bool dl_print_header_keys(const struct batch_record *rec)
{
    struct kslice s;

    kslice_init(&s, rec->headers, rec->headers_len);
    putchar('[');
    for (int32_t i = 0; i < rec->headers_count && kslice_ok(&s); i++) {
        int32_t klen = kslice_varint(&s), vlen;
        const uint8_t *key = klen >= 0 ? kslice_take(&s, (size_t)klen) : NULL;
        if (key == NULL) {
            kslice_fail(&s);
            break;
        }
        if (i > 0)
            putchar(',');
        dl_put_escaped(key, (size_t)klen);
        vlen = kslice_varint(&s);
        if (vlen >= 0)
            kslice_skip(&s, (size_t)vlen);
        else if (vlen != -1)
            kslice_fail(&s);
    }
    putchar(']');
    return kslice_ok(&s);
}

/* Prints a control record's meaning, as Kafka does: the end-transaction
 * marker (key: version i16, type i16; value: version i16, epoch i32). */
static void dl_print_control(const struct batch_record *rec)
{
    int type;

    if (rec->key == NULL || rec->key_len < 4) {
        printf(" controlType: INVALID");
        return;
    }
    type = (int16_t)be16_load(rec->key + 2);
    if ((type == 0 || type == 1) && rec->value != NULL && rec->value_len >= 6) {
        printf(" endTxnMarker: %s coordinatorEpoch: %" PRId32, type == 0 ? "ABORT" : "COMMIT",
               (int32_t)be32_load(rec->value + 2));
        return;
    }
    printf(" controlType: %s(%d)", type == 0 ? "ABORT" : type == 1 ? "COMMIT" : "UNKNOWN", type);
}

/* Prints one record line; false if its headers are malformed. */
static bool dl_print_record(const struct batch_hdr *h, const struct batch_record *rec)
{
    bool ok;

    printf("| offset: %" PRId64 " %s: %" PRId64 " keySize: %" PRId32 " valueSize: %" PRId32
           " sequence: %" PRId32 " headerKeys: ",
           rec->offset,
           (h->attributes & BATCH_ATTR_LOG_APPEND_TIME) ? "LogAppendTime" : "CreateTime", rec->ts,
           rec->key ? rec->key_len : -1, rec->value ? rec->value_len : -1,
           dl_sequence(h->base_seq, rec->offset - h->base_offset));
    ok = dl_print_header_keys(rec);
    if (batch_is_control(h)) {
        dl_print_control(rec);
    } else {
        if (rec->key) {
            fputs(" key: ", stdout);
            dl_put_escaped(rec->key, (size_t)rec->key_len);
        }
        if (rec->value) {
            fputs(" payload: ", stdout);
            dl_put_escaped(rec->value, (size_t)rec->value_len);
        }
    }
    putchar('\n');
    return ok;
}

/* Prints the records of the batch at p (whole, borrowed). */
static void dl_print_records(struct dl_log *l, const uint8_t *p, const struct batch_hdr *h,
                             int64_t pos)
{
    struct record_iter it;
    struct batch_record rec;
    int32_t n = 0;
    kerr_t err;

    if (record_iter_init(&it, p, h) != KERR_NONE) {
        printf("| records not shown: %s decompression is not supported\n",
               dl_codec_name(batch_compression(h)));
        return;
    }
    while ((err = record_iter_next(&it, &rec)) == KERR_NONE) {
        if (!dl_print_record(h, &rec))
            break;
        n++;
    }
    if (err != KERR__NOENT) {
        printf("corrupt record %" PRId32 " in batch at position %" PRId64 "\n", n, pos);
        l->problems++;
    }
}

static int dl_dump_log(const char *path, const struct dl_opts *o)
{
    struct dl_log l = {.seg_base = dl_base_offset(path), .prev_last = -1};
    int64_t pos = 0;
    int err;

    if (!dl_file_open(&l.f, path, &err))
        return dl_fail_open(path, err);
    printf("Dumping %s\n", path);
    if (l.seg_base >= 0)
        printf("Log starting offset: %" PRId64 "\n", l.seg_base);
    while (pos < l.f.size) {
        struct batch_hdr h;
        const uint8_t *p = NULL;
        bool crc_ok;
        if (!dl_log_read(&l, pos, &h, &p))
            break;
        crc_ok = batch_crc_is_valid(p, &h);
        dl_print_batch(&h, pos, crc_ok);
        dl_check_batch(&l, p, &h, pos, crc_ok);
        if (o->deep)
            dl_print_records(&l, p, &h, pos);
        l.batches++;
        l.records += h.records_count;
        l.prev_last = MAX(l.prev_last, batch_last_offset(&h));
        pos += batch_size(&h);
        l.end = pos;
    }
    printf("Summary: batches: %" PRId64 " records: %" PRId64 " validBytes: %" PRId64
           " fileSize: %" PRId64 " problems: %d\n",
           l.batches, l.records, l.end, l.f.size, l.problems);
    dl_file_close(&l.f);
    if (l.problems == 0)
        return CLI_OK;
    fflush(stdout);
    return cli_fail("%s: %d problem(s) found (see the dump above)", path, l.problems);
}

/* ---- .index / .timeindex --------------------------------------------------- */

/* One whole batch of the sibling .log, as the index checks need it. */
struct dl_ref {
    int64_t pos;           /* file position */
    int64_t base;          /* baseOffset */
    int64_t last;          /* lastOffset */
    int64_t max_ts;        /* maxTimestamp */
    int64_t max_ts_before; /* largest maxTimestamp of the batches before it, -1 none */
};

/* The batches of the sibling .log. Owned by struct dl_index; freed there. */
struct dl_log_map {
    struct dl_ref *v; /* owned array */
    size_t n, cap;
    int64_t end; /* end of the last whole batch */
    bool loaded; /* the .log was read (else: not verified) */
};

/* Progress of one index dump. On dl_dump_index()'s stack. */
struct dl_index {
    const struct dl_opts *o;
    bool time;    /* .timeindex (else .index) */
    int64_t base; /* segment base offset, from the file name */
    struct dl_log_map map;
    int32_t entries; /* entries printed */
    int64_t prev_a;  /* previous entry: offset (.index) or timestamp */
    int64_t prev_b;  /* previous entry: position (.index) or offset */
    int mismatches;
};

static bool dl_map_add(struct dl_log_map *m, int64_t pos, const struct batch_hdr *h)
{
    struct dl_ref *r;

    if (!VEC_RESERVE_AT(m->v, m->cap, m->n + 1))
        return false;
    r = &m->v[m->n];
    r->pos = pos;
    r->base = h->base_offset;
    r->last = batch_last_offset(h);
    r->max_ts = h->max_ts;
    r->max_ts_before = m->n ? MAX(m->v[m->n - 1].max_ts_before, m->v[m->n - 1].max_ts) : -1;
    m->n++;
    return true;
}

/* Reads the batch headers of log_path (borrowed) up to the first torn or
 * corrupt one. A missing log leaves m->loaded false and is not an error;
 * returns CLI_FAIL after printing for any other failure. */
static int dl_map_log(const char *log_path, struct dl_log_map *m)
{
    struct dl_file f;
    int64_t pos = 0;
    int err;

    if (!dl_file_open(&f, log_path, &err))
        return err == ENOENT ? CLI_OK : dl_fail_open(log_path, err);
    while (pos < f.size) {
        struct batch_hdr h;
        size_t avail = 0;
        const uint8_t *p = dl_file_get(&f, pos, (size_t)MIN(f.size - pos, BATCH_HDR_SIZE), &avail);
        if (p == NULL || batch_parse_hdr(p, avail, &h) != KERR_NONE ||
            batch_size(&h) > f.size - pos)
            break;
        if (!dl_map_add(m, pos, &h)) {
            dl_file_close(&f);
            fflush(stdout);
            return cli_fail("cannot read %s: out of memory", log_path);
        }
        pos += batch_size(&h);
    }
    m->end = pos;
    m->loaded = f.read_errno == 0;
    dl_file_close(&f);
    if (!m->loaded) {
        fflush(stdout);
        return cli_fail("cannot read %s: %s", log_path, strerror(f.read_errno));
    }
    return CLI_OK;
}

/* The index of the first batch (map order) whose position (by_last:
 * last offset) is >= key; m->n when none. Both keys grow along the map. */
static size_t dl_map_lower_bound(const struct dl_log_map *m, int64_t key, bool by_last)
{
    size_t lo = 0, hi = m->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((by_last ? m->v[mid].last : m->v[mid].pos) < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The batch starting exactly at pos, or NULL. */
static const struct dl_ref *dl_map_at_pos(const struct dl_log_map *m, int64_t pos)
{
    size_t i = dl_map_lower_bound(m, pos, false);
    return i < m->n && m->v[i].pos == pos ? &m->v[i] : NULL;
}

/* The first batch whose last offset is >= offset, or NULL. */
static const struct dl_ref *dl_map_by_offset(const struct dl_log_map *m, int64_t offset)
{
    size_t i = dl_map_lower_bound(m, offset, true);
    return i < m->n ? &m->v[i] : NULL;
}

/* Prints "Index mismatch: <entry>: <why>" (or "Time index mismatch: ...")
 * and counts it. */
static void dl_mismatch(struct dl_index *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void dl_mismatch(struct dl_index *x, const char *fmt, ...)
{
    va_list ap;

    fputs(x->time ? "Time index mismatch: " : "Index mismatch: ", stdout);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    x->mismatches++;
}

static void dl_check_offset_entry(struct dl_index *x, int64_t off, int64_t pos)
{
    const struct dl_ref *r;

    if (x->entries > 0 && (off <= x->prev_a || pos <= x->prev_b))
        dl_mismatch(x,
                    "offset: %" PRId64 " position: %" PRId64 " is not after the previous "
                    "entry (offset: %" PRId64 " position: %" PRId64 ")",
                    off, pos, x->prev_a, x->prev_b);
    if (!x->map.loaded)
        return;
    r = dl_map_at_pos(&x->map, pos);
    if (r == NULL && pos >= x->map.end)
        dl_mismatch(x,
                    "offset: %" PRId64 " position: %" PRId64 ": past the last batch of "
                    "the log, which ends at %" PRId64,
                    off, pos, x->map.end);
    else if (r == NULL)
        dl_mismatch(x,
                    "offset: %" PRId64 " position: %" PRId64 ": no batch starts at this "
                    "position",
                    off, pos);
    else if (off < r->base || off > r->last)
        dl_mismatch(x,
                    "offset: %" PRId64 " position: %" PRId64 ": the batch there holds "
                    "offsets %" PRId64 "..%" PRId64,
                    off, pos, r->base, r->last);
}

static void dl_check_time_entry(struct dl_index *x, int64_t ts, int64_t off)
{
    const struct dl_ref *r;

    if (x->entries > 0 && (ts < x->prev_a || off < x->prev_b))
        dl_mismatch(x,
                    "timestamp: %" PRId64 " offset: %" PRId64 " is out of order after "
                    "timestamp: %" PRId64 " offset: %" PRId64,
                    ts, off, x->prev_a, x->prev_b);
    if (!x->map.loaded)
        return;
    r = dl_map_by_offset(&x->map, off);
    if (r == NULL || r->base > off) {
        dl_mismatch(x,
                    "timestamp: %" PRId64 " offset: %" PRId64 ": offset not found in the "
                    "log",
                    ts, off);
        return;
    }
    if (r->max_ts < ts)
        dl_mismatch(x,
                    "timestamp: %" PRId64 " offset: %" PRId64 ": the batch holding it "
                    "(position %" PRId64 ") has maxTimestamp %" PRId64,
                    ts, off, r->pos, r->max_ts);
    if (r->max_ts_before > ts)
        dl_mismatch(x,
                    "timestamp: %" PRId64 " offset: %" PRId64 ": an earlier batch has "
                    "maxTimestamp %" PRId64,
                    ts, off, r->max_ts_before);
}

static bool dl_is_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0)
            return false;
    }
    return true;
}

/* Prints and checks entry i of data (borrowed). Returns false at the end of
 * the entries: an all-zero entry is preallocated space (timestamps are
 * never 0; offset entry 0 is (0, 0) legitimately unless the log is empty). */
static bool dl_index_entry(struct dl_index *x, const uint8_t *e, int32_t i)
{
    int64_t a, b;

    if (dl_is_zero(e, x->time ? TIME_INDEX_ENTRY_SIZE : OFFSET_INDEX_ENTRY_SIZE) &&
        (x->time || i > 0 || (x->map.loaded && x->map.n == 0)))
        return false;
    if (x->time) {
        a = (int64_t)be64_load(e);
        b = x->base + (int64_t)be32_load(e + 8);
        if (!x->o->verify_only)
            printf("timestamp: %" PRId64 " offset: %" PRId64 "\n", a, b);
        dl_check_time_entry(x, a, b);
    } else {
        a = x->base + (int64_t)be32_load(e);
        b = (int64_t)be32_load(e + 4);
        if (!x->o->verify_only)
            printf("offset: %" PRId64 " position: %" PRId64 "\n", a, b);
        dl_check_offset_entry(x, a, b);
    }
    x->prev_a = a;
    x->prev_b = b;
    x->entries++;
    return true;
}

/* Prints the entries of the index in data/size (borrowed) and checks what
 * follows them: zeroes only, and whole entries. */
static void dl_index_walk(struct dl_index *x, const uint8_t *data, int64_t size)
{
    size_t esize = x->time ? TIME_INDEX_ENTRY_SIZE : OFFSET_INDEX_ENTRY_SIZE;
    int64_t whole = size / (int64_t)esize * (int64_t)esize, end;

    for (end = 0; end < whole; end += (int64_t)esize) {
        if (!dl_index_entry(x, data + end, x->entries))
            break;
    }
    for (int64_t p = end; p < whole; p++) {
        if (data[p] != 0) {
            dl_mismatch(x,
                        "non-zero bytes at position %" PRId64 " after the last entry "
                        "(which ends at %" PRId64 ")",
                        p, end);
            break;
        }
    }
    if (size > whole)
        dl_mismatch(x, "%" PRId64 " bytes at the end do not form a whole %zu-byte entry",
                    size - whole, esize);
}

/* True if the index in data/size (borrowed) has no entry: a 0-byte file, or
 * whole entries of zeros only (preallocated by an active segment, never
 * written) unless the sibling .log has a batch at position 0, which an
 * offset entry (0, 0) may index (index.interval.bytes 0). */
static bool dl_index_is_empty(const struct dl_index *x, const uint8_t *data, int64_t size)
{
    size_t esize = x->time ? TIME_INDEX_ENTRY_SIZE : OFFSET_INDEX_ENTRY_SIZE;

    if (size % (int64_t)esize != 0 || !dl_is_zero(data, (size_t)size))
        return false;
    return x->time || size == 0 || !x->map.loaded || x->map.n == 0;
}

/* Prints the Summary line, and frees x's log map. Returns the exit code. */
static int dl_index_finish(struct dl_index *x, const char *path, const char *log_path)
{
    if (x->map.loaded)
        printf("Summary: entries: %" PRId32 " mismatches: %d\n", x->entries, x->mismatches);
    else
        printf("Summary: entries: %" PRId32 " mismatches: %d (entries not checked against "
               "the log: %s not found)\n",
               x->entries, x->mismatches, log_path);
    free(x->map.v);
    if (x->mismatches == 0)
        return CLI_OK;
    fflush(stdout);
    return cli_fail("%s: %d mismatch(es) found (see the dump above)", path, x->mismatches);
}

static int dl_dump_index(const char *path, const struct dl_opts *o, bool time)
{
    struct dl_index x = {.o = o, .time = time, .base = dl_base_offset(path)};
    const char *ext = time ? ".timeindex" : ".index";
    char log_path[4096];
    const uint8_t *data;
    struct dl_file f;
    int err, rc;

    if (x.base < 0)
        return cli_fail("%s: cannot tell the segment's base offset: expected a name like "
                        "00000000000000000000%s",
                        path, ext);
    if ((size_t)snprintf(log_path, sizeof(log_path), "%.*s.log", (int)(strlen(path) - strlen(ext)),
                         path) >= sizeof(log_path))
        return cli_fail("%s: path too long", path);
    if (!dl_file_open(&f, path, &err))
        return dl_fail_open(path, err);
    data = f.size == 0 ? (const uint8_t *)"" : dl_file_get(&f, 0, (size_t)f.size, NULL);
    if (data == NULL) {
        err = f.read_errno;
        dl_file_close(&f);
        return cli_fail("cannot read %s: %s", path, strerror(err ? err : EIO));
    }
    rc = dl_map_log(log_path, &x.map);
    if (rc == CLI_OK) {
        printf("Dumping %s\n", path);
        if (dl_index_is_empty(&x, data, f.size))
            printf("The index is empty: no entries (%" PRId64 " bytes%s)\n", f.size,
                   f.size > 0 ? ", all zeros: preallocated" : "");
        else
            dl_index_walk(&x, data, f.size);
        rc = dl_index_finish(&x, path, log_path);
    } else {
        free(x.map.v);
    }
    dl_file_close(&f);
    return rc;
}

/* ---- producer snapshots ---------------------------------------------------- */

static int dl_dump_snapshot(const char *path)
{
    struct pstate_map m;
    const struct pstate_entry *e;
    const uint8_t *data;
    const char *why = NULL;
    struct dl_file f;
    size_t pos = 0;
    int err;

    if (!dl_file_open(&f, path, &err))
        return dl_fail_open(path, err);
    data = f.size == 0 ? (const uint8_t *)"" : dl_file_get(&f, 0, (size_t)f.size, NULL);
    if (data == NULL) {
        err = f.read_errno;
        dl_file_close(&f);
        return cli_fail("cannot read %s: %s", path, strerror(err ? err : EIO));
    }
    pstate_init(&m);
    printf("Dumping %s\n", path);
    if (pstate_snapshot_decode(data, (size_t)f.size, &m, &why) != KERR_NONE) {
        printf("corrupt producer snapshot: %s (%" PRId64 " bytes)\n", why, f.size);
        dl_file_close(&f);
        return cli_fail("%s: corrupt producer snapshot: %s", path, why);
    }
    while ((e = pstate_next(&m, &pos)) != NULL) {
        const struct pstate_batch *b = e->n ? pstate_last_batch(e) : NULL;
        printf("producerId: %" PRId64 " producerEpoch: %d coordinatorEpoch: %" PRId32
               " currentTxnFirstOffset: %" PRId64 " lastTimestamp: %" PRId64
               " firstSequence: %" PRId32 " lastSequence: %" PRId32 " lastOffset: %" PRId64
               " offsetDelta: %" PRId32 "\n",
               e->producer_id, e->epoch, e->coordinator_epoch, e->txn_first_offset,
               e->last_update_ms, b ? b->first_seq : -1, b ? b->last_seq : -1,
               b ? b->last_offset : -1, b ? b->offset_delta : 0);
    }
    printf("Summary: producers: %zu\n", m.n);
    pstate_destroy(&m);
    dl_file_close(&f);
    return CLI_OK;
}

static int dl_dump_txnindex(const char *path)
{
    struct aborted_txn *v = NULL;
    const uint8_t *data;
    const char *why = NULL;
    struct dl_file f;
    size_t n = 0;
    int err;

    if (!dl_file_open(&f, path, &err))
        return dl_fail_open(path, err);
    data = f.size == 0 ? (const uint8_t *)"" : dl_file_get(&f, 0, (size_t)f.size, NULL);
    if (data == NULL) {
        err = f.read_errno;
        dl_file_close(&f);
        return cli_fail("cannot read %s: %s", path, strerror(err ? err : EIO));
    }
    printf("Dumping %s\n", path);
    if (txnidx_decode(data, (size_t)f.size, &v, &n, &why) != KERR_NONE) {
        why = why ? why : "out of memory";
        printf("corrupt transaction index: %s (%" PRId64 " bytes)\n", why, f.size);
        dl_file_close(&f);
        return cli_fail("%s: corrupt transaction index: %s", path, why);
    }
    for (size_t i = 0; i < n; i++)
        printf("version: %d producerId: %" PRId64 " firstOffset: %" PRId64 " lastOffset: %" PRId64
               " lastStableOffset: %" PRId64 "\n",
               TXNIDX_VERSION, v[i].producer_id, v[i].first_offset, v[i].last_offset,
               v[i].last_stable_offset);
    printf("Summary: aborted transactions: %zu\n", n);
    free(v);
    dl_file_close(&f);
    return CLI_OK;
}

/* ---- command -------------------------------------------------------------- */

enum { DL_OPT_DATA = 1, DL_OPT_VERIFY };

static const struct cli_opt dl_opts_table[] = {
    {"print-data-log", 0, false, DL_OPT_DATA},
    {"deep-iteration", 0, false, DL_OPT_DATA},
    {"verify-index-only", 0, false, DL_OPT_VERIFY},
    {NULL, 0, false, 0},
};

static const char dl_help[] =
    "Usage: gregor dump-log FILE... [--print-data-log] [--verify-index-only]\n"
    "Prints and checks segment files of a partition directory offline, like\n"
    "Kafka's kafka-dump-log.sh. No broker is contacted.\n"
    "  NNN.log        one line per record batch, then a summary; checks CRCs,\n"
    "                 offset order and a torn tail\n"
    "  NNN.index      offset index entries, checked against NNN.log if present\n"
    "  NNN.timeindex  time index entries, checked against NNN.log if present\n"
    "  NNN.snapshot   idempotent producers' state (one line per producer)\n"
    "  NNN.txnindex   aborted transactions (one line per entry)\n"
    "      --print-data-log     also print every record of uncompressed batches\n"
    "      --deep-iteration     same as --print-data-log\n"
    "      --verify-index-only  for index files print only the mismatches\n"
    "Exit status: 0 every file valid; 1 a file is missing, unreadable or has\n"
    "problems (listed in the dump); 2 bad usage.\n";

static int dl_opt_cb(void *ctx, int id, const char *val)
{
    struct dl_opts *o = ctx;

    if (id == DL_OPT_DATA)
        o->deep = true;
    else if (id == DL_OPT_VERIFY)
        o->verify_only = true;
    return CLI_OK;
}

/*
 * `gregor dump-log FILE...`: argv[0..argc) are the arguments after the
 * command name (borrowed). Dumps every file in order, continuing after a
 * failed one. Returns CLI_OK if all are valid, CLI_FAIL if any is missing,
 * unreadable or corrupt, CLI_USAGE for bad options or an unknown file type
 * (checked before anything is printed). Main thread.
 */
int dump_log_main(struct cli *cli, int argc, char **argv)
{
    struct dl_opts o = {0};
    int done, npos = cli_parse_cmd(cli, argc, argv, dl_opts_table, dl_opt_cb, &o, dl_help, &done);
    int rc = CLI_OK;

    if (npos < 0)
        return done;
    if (npos == 0)
        return cli_usage_positional(cli, "missing FILE");
    for (int i = 0; i < npos; i++) {
        if (dl_kind_of(argv[i]) == DL_UNKNOWN)
            return cli_usage_error("%s: %s: unknown file type (expected .log, .index, "
                                   ".timeindex, .snapshot or .txnindex)",
                                   cli->cmd, argv[i]);
    }
    for (int i = 0; i < npos; i++) {
        enum dl_kind kind = dl_kind_of(argv[i]);
        int r = kind == DL_LOG        ? dl_dump_log(argv[i], &o)
                : kind == DL_SNAPSHOT ? dl_dump_snapshot(argv[i])
                : kind == DL_TXNINDEX ? dl_dump_txnindex(argv[i])
                                      : dl_dump_index(argv[i], &o, kind == DL_TIMEINDEX);
        if (r != CLI_OK)
            rc = r;
    }
    return rc;
}
