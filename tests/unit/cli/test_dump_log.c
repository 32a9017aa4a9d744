/*
 * tests/unit/cli/test_dump_log.c — `gregor dump-log` (cli/dump_log.c):
 * builds real segment files with the storage library (plog_append of
 * crafted batches, or hand-written .log files), runs the built binary
 * ($GREGOR_BUILD_DIR/bin/gregor) on them and checks its output, messages
 * and exit codes: batch and record lines, torn tails, bad CRCs, offset and
 * time index listings, preallocated index space and index mismatches.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "broker/storage/batch.h"
#include "broker/storage/plog.h"
#include "common/kwire.h"
#include "tests/unit/broker/storage/storage_test.h"

#define OUT_MAX (256 * 1024)

/* One run of the binary: exit status and captured output. */
struct run {
    int status;        /* exit code, or 128 + signal */
    char out[OUT_MAX]; /* stdout, NUL-terminated */
    char err[OUT_MAX]; /* stderr, NUL-terminated */
};

static struct run r; /* the last run (static: too big for the stack) */

TestSuite(dump_log, .init = st_tmpdir_up, .fini = st_tmpdir_down, .timeout = 30);

static void slurp(const char *path, char *buf)
{
    size_t n = st_read_at(path, 0, buf, OUT_MAX - 1);

    buf[n] = '\0';
}

/* Runs `gregor dump-log ARGS...` (NULL-terminated); fills r. */
static void run_dump(const char *arg0, ...)
{
    const char *bdir = getenv("GREGOR_BUILD_DIR");
    char bin[512], out[512], err[512];
    const char *argv[16] = {"gregor", "dump-log"};
    int argc = 2, status;
    va_list ap;
    pid_t pid;

    cr_assert_not_null(bdir, "GREGOR_BUILD_DIR is not set (run through ctest)");
    snprintf(bin, sizeof(bin), "%s/bin/gregor", bdir);
    cr_assert_eq(access(bin, X_OK), 0, "%s is not built", bin);
    va_start(ap, arg0);
    for (const char *a = arg0; a != NULL && argc < 15; a = va_arg(ap, const char *))
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    snprintf(out, sizeof(out), "%s/out.txt", st_dir);
    snprintf(err, sizeof(err), "%s/err.txt", st_dir);
    pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
            _exit(126);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    slurp(out, r.out);
    slurp(err, r.err);
}

static void assert_out_has(const char *needle)
{
    cr_assert_not_null(strstr(r.out, needle), "stdout lacks [%s]; stdout was:\n%s\nstderr:\n%s",
                       needle, r.out, r.err);
}

static void assert_out_lacks(const char *needle)
{
    cr_assert_null(strstr(r.out, needle), "stdout has [%s]; stdout was:\n%s", needle, r.out);
}

static int count_lines_starting(const char *buf, const char *prefix)
{
    int n = 0;
    size_t pl = strlen(prefix);

    for (const char *p = buf; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p)) {
        if (strncmp(p, prefix, pl) == 0)
            n++;
    }
    return n;
}

/* Exactly one stderr line, starting with "gregor: " and containing needle. */
static void assert_one_error_line(const char *needle)
{
    cr_assert_eq(strncmp(r.err, "gregor: ", 8), 0, "stderr: [%s]", r.err);
    cr_assert_eq(count_lines_starting(r.err, ""), 1, "stderr: [%s]", r.err);
    cr_assert_not_null(strstr(r.err, needle), "stderr lacks [%s]: [%s]", needle, r.err);
}

/* ---- segment fixtures ------------------------------------------------------ */

#define LOG "t-0/00000000000000000000.log"
#define IDX "t-0/00000000000000000000.index"
#define TIDX "t-0/00000000000000000000.timeindex"

/* Sizes of the three batches the standard fixture appends. */
static size_t size_a, size_b, size_c;

static char *path_of(const char *rel)
{
    static char bufs[4][512];
    static int next;
    char *p = bufs[next++ % 4];

    snprintf(p, 512, "%s/%s", st_dir, rel);
    return p;
}

static struct plog *open_log(void)
{
    struct plog_config cfg;
    char err[256] = "";
    struct plog *log;

    plog_config_default(&cfg);
    cfg.segment_ms = 0;
    cfg.index_interval_bytes = 0; /* an index entry at every batch */
    cfg.index_max_bytes = 4096;
    log = plog_open(path_of("t-0"), &cfg, err, sizeof(err));
    cr_assert_not_null(log, "plog_open: %s", err);
    return log;
}

static size_t append_simple(struct plog *log, int nrec, int64_t ts0)
{
    struct kbuf b;
    int64_t first, last;
    size_t len;

    kbuf_init(&b);
    st_simple(&b, nrec, 3, ts0);
    len = b.len;
    cr_assert_eq(plog_append(log, b.data, b.len, 3, 1000, &first, &last), KERR_NONE);
    kbuf_destroy(&b);
    return len;
}

/* Standard fixture: offsets 0-1 (ts 1000..1001), 2-4 (ts 2000..2002) and 5
 * (ts 1500) with an index entry per batch. The log stays open (active,
 * preallocated indexes) when keep_open, else it is closed (sealed). */
static struct plog *make_fixture(bool keep_open)
{
    struct plog *log = open_log();

    size_a = append_simple(log, 2, 1000);
    size_b = append_simple(log, 3, 2000);
    size_c = append_simple(log, 1, 1500);
    if (keep_open)
        return log;
    plog_close(log);
    return NULL;
}

/* Appends one record: key/value NULL for null, headers named hkeys. */
static void put_record(struct kbuf *b, int i, const char *key, int klen, const char *val, int vlen,
                       const char *const *hkeys, int nh)
{
    struct kbuf rec;

    kbuf_init(&rec);
    kbuf_put_u8(&rec, 0);
    kbuf_put_varlong(&rec, i);
    kbuf_put_varint(&rec, i);
    kbuf_put_varint(&rec, key ? klen : -1);
    if (key)
        kbuf_put(&rec, key, (size_t)klen);
    kbuf_put_varint(&rec, val ? vlen : -1);
    if (val)
        kbuf_put(&rec, val, (size_t)vlen);
    kbuf_put_varint(&rec, nh);
    for (int h = 0; h < nh; h++) {
        kbuf_put_varint(&rec, (int32_t)strlen(hkeys[h]));
        kbuf_put(&rec, hkeys[h], strlen(hkeys[h]));
        kbuf_put_varint(&rec, 1);
        kbuf_put_u8(&rec, 'x');
    }
    kbuf_put_varint(b, (int32_t)rec.len);
    kbuf_put(b, rec.data, rec.len);
    kbuf_destroy(&rec);
}

/* Starts a batch header at b's end (length, count and CRC patched by
 * end_batch); returns its start. */
static size_t begin_batch(struct kbuf *b, int64_t base, int16_t attrs, int64_t pid, int32_t seq,
                          int64_t ts0, int32_t nrec)
{
    size_t start = b->len;

    kbuf_put_i64(b, base);
    kbuf_put_i32(b, 0);
    kbuf_put_i32(b, 9); /* partitionLeaderEpoch */
    kbuf_put_u8(b, 2);
    kbuf_put_i32(b, 0);
    kbuf_put_i16(b, attrs);
    kbuf_put_i32(b, nrec - 1);
    kbuf_put_i64(b, ts0);
    kbuf_put_i64(b, ts0 + nrec - 1);
    kbuf_put_i64(b, pid);
    kbuf_put_i16(b, pid >= 0 ? 4 : -1);
    kbuf_put_i32(b, seq);
    kbuf_put_i32(b, nrec);
    return start;
}

static void end_batch(struct kbuf *b, size_t start)
{
    cr_assert(!b->oom);
    kbuf_patch_i32(b, start + BATCH_OFF_LENGTH, (int32_t)(b->len - start - 12));
    st_fix_crc(b->data + start);
}

static void write_file(const char *rel, const void *p, size_t n)
{
    int fd = open(path_of(rel), O_WRONLY | O_CREAT | O_TRUNC, 0644);

    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, p, n), (ssize_t)n);
    close(fd);
}

/* ---- .log ------------------------------------------------------------------ */

Test(dump_log, log_prints_one_line_per_batch_and_a_summary)
{
    char line[512];

    make_fixture(false);
    run_dump(path_of(LOG), NULL);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert_str_empty(r.err);
    snprintf(line, sizeof(line), "Dumping %s\nLog starting offset: 0\n", path_of(LOG));
    cr_assert_eq(strncmp(r.out, line, strlen(line)), 0, "%s", r.out);
    snprintf(line, sizeof(line),
             "\nbaseOffset: 0 lastOffset: 1 count: 2 baseSequence: -1 lastSequence: -1 "
             "producerId: -1 producerEpoch: -1 partitionLeaderEpoch: 3 isTransactional: false "
             "isControl: false position: 0 CreateTime: 1001 size: %zu magic: 2 "
             "compresscodec: none crcValid: true\n",
             size_a);
    assert_out_has(line);
    snprintf(line, sizeof(line), "\nbaseOffset: 2 lastOffset: 4 count: 3 ");
    assert_out_has(line);
    snprintf(line, sizeof(line), " position: %zu CreateTime: 2002 size: %zu ", size_a, size_b);
    assert_out_has(line);
    snprintf(line, sizeof(line), "\nbaseOffset: 5 lastOffset: 5 count: 1 ");
    assert_out_has(line);
    cr_assert_eq(count_lines_starting(r.out, "baseOffset: "), 3);
    cr_assert_eq(count_lines_starting(r.out, "| "), 0, "records only with --print-data-log");
    snprintf(line, sizeof(line),
             "\nSummary: batches: 3 records: 6 validBytes: %zu fileSize: %zu "
             "problems: 0\n",
             size_a + size_b + size_c, size_a + size_b + size_c);
    assert_out_has(line);
}

Test(dump_log, print_data_log_shows_keys_headers_sequences_and_escapes)
{
    static const char *const hk[] = {"h1", "trace-id"};
    struct kbuf b;
    size_t start;

    kbuf_init(&b);
    start = begin_batch(&b, 0, 0, 42, 7, 5000, 2);
    put_record(&b, 0, "k\x01", 2, "v\\al\nue", 7, hk, 2);
    put_record(&b, 1, NULL, 0, NULL, 0, NULL, 0);
    end_batch(&b, start);
    write_file("00000000000000000000.log", b.data, b.len);
    kbuf_destroy(&b);

    run_dump(path_of("00000000000000000000.log"), "--print-data-log", NULL);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    assert_out_has(" count: 2 baseSequence: 7 lastSequence: 8 producerId: 42 producerEpoch: 4 "
                   "partitionLeaderEpoch: 9 ");
    assert_out_has("\n| offset: 0 CreateTime: 5000 keySize: 2 valueSize: 7 sequence: 7 "
                   "headerKeys: [h1,trace-id] key: k\\x01 payload: v\\\\al\\x0aue\n");
    assert_out_has("\n| offset: 1 CreateTime: 5001 keySize: -1 valueSize: -1 sequence: 8 "
                   "headerKeys: []\n");

    /* --deep-iteration is the same option. */
    static char first[OUT_MAX];
    memcpy(first, r.out, sizeof(first));
    run_dump(path_of("00000000000000000000.log"), "--deep-iteration", NULL);
    cr_assert_eq(r.status, 0);
    cr_assert_str_eq(r.out, first);
}

Test(dump_log, control_batch_shows_the_transaction_marker)
{
    struct kbuf b;
    size_t start;
    uint8_t key[4] = {0, 0, 0, 1};       /* version 0, type COMMIT */
    uint8_t val[6] = {0, 0, 0, 0, 0, 5}; /* version 0, coordinatorEpoch 5 */

    kbuf_init(&b);
    start = begin_batch(&b, 0, BATCH_ATTR_CONTROL | BATCH_ATTR_TRANSACTIONAL, 11, -1, 100, 1);
    put_record(&b, 0, (const char *)key, 4, (const char *)val, 6, NULL, 0);
    end_batch(&b, start);
    write_file("00000000000000000000.log", b.data, b.len);
    kbuf_destroy(&b);

    run_dump(path_of("00000000000000000000.log"), "--print-data-log", NULL);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    assert_out_has(" isTransactional: true isControl: true ");
    assert_out_has("headerKeys: [] endTxnMarker: COMMIT coordinatorEpoch: 5\n");
    assert_out_lacks("payload:");
}

/* gzip stream of n bytes at in, appended to b. */
static void put_gzip(struct kbuf *b, const uint8_t *in, size_t n)
{
    uint8_t out[4096];
    z_stream z;

    memset(&z, 0, sizeof(z));
    cr_assert_eq(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = sizeof(out);
    cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    kbuf_put(b, out, sizeof(out) - z.avail_out);
    deflateEnd(&z);
}

/* A gzip batch of nrec records whose recordsCount says count. */
static void write_gzip_log(int nrec, int32_t count)
{
    struct kbuf b, recs;
    size_t start;

    kbuf_init(&b);
    kbuf_init(&recs);
    start = begin_batch(&b, 0, 1, -1, -1, 10, count);
    for (int i = 0; i < nrec; i++)
        put_record(&recs, i, "k", 1, "vvvv", 4, NULL, 0);
    put_gzip(&b, recs.data, recs.len);
    end_batch(&b, start);
    write_file("00000000000000000000.log", b.data, b.len);
    kbuf_destroy(&recs);
    kbuf_destroy(&b);
}

Test(dump_log, compressed_batch_is_listed_and_its_records_are_not)
{
    write_gzip_log(2, 2);
    run_dump(path_of("00000000000000000000.log"), "--print-data-log", NULL);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    assert_out_has(" compresscodec: gzip crcValid: true\n");
    assert_out_has("\n| records not shown: gzip decompression is not supported\n");
    cr_assert_eq(count_lines_starting(r.out, "| offset:"), 0);
}

Test(dump_log, batch_with_invalid_records_is_reported)
{
    struct kbuf b;
    size_t start;

    /* recordsCount and lastOffsetDelta say 1,000,000; one record present. */
    kbuf_init(&b);
    start = begin_batch(&b, 0, 0, -1, -1, 100, 1000000);
    put_record(&b, 0, "k", 1, "v", 1, NULL, 0);
    end_batch(&b, start);
    write_file("00000000000000000000.log", b.data, b.len);
    kbuf_destroy(&b);
    run_dump(path_of("00000000000000000000.log"), NULL);
    cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
    assert_out_has(" crcValid: true\n");
    assert_out_has("\ninvalid batch at position 0: batch holds fewer records than recordsCount "
                   "(INVALID_RECORD)\n");
    assert_out_has(" problems: 1\n");
    assert_one_error_line("1 problem(s) found");

    /* The same inside a gzip stream: 3 records for a count of 4. */
    write_gzip_log(3, 4);
    run_dump(path_of("00000000000000000000.log"), NULL);
    cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
    assert_out_has("\ninvalid batch at position 0: batch holds fewer records than recordsCount "
                   "(INVALID_RECORD)\n");
}

Test(dump_log, torn_tail_is_reported_and_fails)
{
    char line[256];
    size_t total;

    make_fixture(false);
    total = size_a + size_b + size_c;
    st_truncate(path_of(LOG), (int64_t)total - 5);
    run_dump(path_of(LOG), NULL);
    cr_assert_eq(r.status, 1, "%s", r.out);
    cr_assert_eq(count_lines_starting(r.out, "baseOffset: "), 2);
    snprintf(line, sizeof(line), "\nincomplete batch at position %zu: %zu of %zu bytes\n",
             size_a + size_b, size_c - 5, size_c);
    assert_out_has(line);
    snprintf(line, sizeof(line),
             "\nSummary: batches: 2 records: 5 validBytes: %zu fileSize: %zu "
             "problems: 1\n",
             size_a + size_b, total - 5);
    assert_out_has(line);
    assert_one_error_line("1 problem(s) found");

    /* A tail shorter than a batch header. */
    st_truncate(path_of(LOG), (int64_t)(size_a + 7));
    run_dump(path_of(LOG), NULL);
    cr_assert_eq(r.status, 1);
    snprintf(line, sizeof(line), "incomplete batch at position %zu: 7 of at least 61 bytes\n",
             size_a);
    assert_out_has(line);
}

Test(dump_log, bad_crc_is_reported_for_that_batch_only)
{
    char line[256];
    uint8_t byte;

    make_fixture(false);
    st_read_at(path_of(LOG), (int64_t)(size_a + size_b - 2), &byte, 1);
    byte ^= 0xff;
    st_write_at(path_of(LOG), (int64_t)(size_a + size_b - 2), &byte, 1);
    run_dump(path_of(LOG), NULL);
    cr_assert_eq(r.status, 1, "%s", r.out);
    cr_assert_eq(count_lines_starting(r.out, "baseOffset: "), 3, "later batches still listed");
    snprintf(line, sizeof(line),
             " position: %zu CreateTime: 2002 size: %zu magic: 2 "
             "compresscodec: none crcValid: false\n",
             size_a, size_b);
    assert_out_has(line);
    cr_assert_eq(count_lines_starting(r.out, "crc mismatch at position "), 1);
    snprintf(line, sizeof(line), "\ncrc mismatch at position %zu: stored ", size_a);
    assert_out_has(line);
    assert_out_has(" problems: 1\n");
    assert_one_error_line("problem(s) found");
}

Test(dump_log, corrupt_header_stops_the_scan)
{
    uint8_t magic = 7;

    make_fixture(false);
    st_write_at(path_of(LOG), (int64_t)size_a + BATCH_OFF_MAGIC, &magic, 1);
    run_dump(path_of(LOG), NULL);
    cr_assert_eq(r.status, 1);
    cr_assert_eq(count_lines_starting(r.out, "baseOffset: "), 1);
    assert_out_has("corrupt batch at position ");
    assert_out_has(": magic 7, ");
}

Test(dump_log, empty_log_is_valid)
{
    write_file("00000000000000000000.log", "", 0);
    run_dump(path_of("00000000000000000000.log"), NULL);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    assert_out_has("Summary: batches: 0 records: 0 validBytes: 0 fileSize: 0 problems: 0\n");
}

/* ---- .index / .timeindex ------------------------------------------------------ */

static void assert_fixture_index_listing(void)
{
    char line[256];

    run_dump(path_of(IDX), NULL);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    snprintf(line, sizeof(line),
             "Dumping %s\noffset: 0 position: 0\noffset: 2 position: %zu\n"
             "offset: 5 position: %zu\nSummary: entries: 3 mismatches: 0\n",
             path_of(IDX), size_a, size_a + size_b);
    cr_assert_str_eq(r.out, line);
    cr_assert_str_empty(r.err);

    run_dump(path_of(TIDX), NULL);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    snprintf(line, sizeof(line),
             "Dumping %s\ntimestamp: 1001 offset: 0\n"
             "timestamp: 2002 offset: 2\nSummary: entries: 2 mismatches: 0\n",
             path_of(TIDX));
    cr_assert_str_eq(r.out, line);
}

Test(dump_log, sealed_indexes_are_listed_and_verified)
{
    make_fixture(false);
    cr_assert_eq(st_file_size(path_of(IDX)), 24, "sealed: exactly 3 entries");
    assert_fixture_index_listing();
}

Test(dump_log, active_index_stops_at_preallocated_zeros)
{
    struct plog *log = make_fixture(true);

    cr_assert_eq(st_file_size(path_of(IDX)), 4096, "active: preallocated");
    assert_fixture_index_listing();
    plog_close(log);
}

Test(dump_log, empty_active_index_has_no_entries)
{
    struct plog *log = open_log();

    cr_assert_gt(st_file_size(path_of(IDX)), 0);
    run_dump(path_of(IDX), path_of(TIDX), path_of(LOG), NULL);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    cr_assert_eq(count_lines_starting(r.out, "Summary: entries: 0 mismatches: 0\n"), 2, "%s",
                 r.out);
    assert_out_lacks("offset: 0 position: 0");
    plog_close(log);
}

Test(dump_log, index_entry_at_wrong_position_is_a_mismatch)
{
    char line[256];
    uint8_t pos[4];

    make_fixture(false);
    be32_store(pos, (uint32_t)size_a + 1);
    st_write_at(path_of(IDX), 12, pos, 4);
    run_dump(path_of(IDX), NULL);
    cr_assert_eq(r.status, 1, "%s", r.out);
    snprintf(line, sizeof(line),
             "\nIndex mismatch: offset: 2 position: %zu: no batch starts at "
             "this position\n",
             size_a + 1);
    assert_out_has(line);
    assert_out_has("Summary: entries: 3 mismatches: 1\n");
    assert_one_error_line("1 mismatch(es) found");

    /* --verify-index-only prints the mismatch and the summary only. */
    run_dump("--verify-index-only", path_of(IDX), NULL);
    cr_assert_eq(r.status, 1);
    cr_assert_eq(count_lines_starting(r.out, "offset: "), 0, "%s", r.out);
    cr_assert_eq(count_lines_starting(r.out, "Index mismatch: "), 1);
}

Test(dump_log, index_offset_outside_its_batch_and_out_of_order)
{
    char line[256];
    uint8_t rel[4];

    make_fixture(false);
    be32_store(rel, 7);
    st_write_at(path_of(IDX), 8, rel, 4); /* entry 1: offset 7 at batch 2..4 */
    run_dump(path_of(IDX), NULL);
    cr_assert_eq(r.status, 1);
    snprintf(line, sizeof(line),
             "\nIndex mismatch: offset: 7 position: %zu: the batch there "
             "holds offsets 2..4\n",
             size_a);
    assert_out_has(line);
    snprintf(line, sizeof(line),
             "\nIndex mismatch: offset: 5 position: %zu is not after the "
             "previous entry (offset: 7 position: %zu)\n",
             size_a + size_b, size_a);
    assert_out_has(line);
    assert_out_has("Summary: entries: 3 mismatches: 2\n");
}

Test(dump_log, index_garbage_and_partial_entries_are_mismatches)
{
    struct plog *log = make_fixture(true);
    uint8_t junk = 0x5a;

    st_write_at(path_of(IDX), 1000, &junk, 1);
    run_dump(path_of(IDX), NULL);
    cr_assert_eq(r.status, 1);
    assert_out_has("\nIndex mismatch: non-zero bytes at position 1000 after the last entry "
                   "(which ends at 24)\n");
    plog_close(log);

    st_write_at(path_of(IDX), 24, "abc", 3); /* sealed (24 bytes) + 3 */
    run_dump(path_of(IDX), NULL);
    cr_assert_eq(r.status, 1);
    assert_out_has("\nIndex mismatch: 3 bytes at the end do not form a whole 8-byte entry\n");
}

Test(dump_log, timeindex_mismatches)
{
    char line[256];
    uint8_t ts[8];

    make_fixture(false);
    be64_store(ts, 9999);
    st_write_at(path_of(TIDX), 12, ts, 8); /* entry 1: (9999, 2) */
    run_dump(path_of(TIDX), NULL);
    cr_assert_eq(r.status, 1, "%s", r.out);
    snprintf(line, sizeof(line),
             "\nTime index mismatch: timestamp: 9999 offset: 2: the batch "
             "holding it (position %zu) has maxTimestamp 2002\n",
             size_a);
    assert_out_has(line);
    assert_one_error_line("mismatch(es) found");

    be64_store(ts, 3000);
    st_write_at(path_of(TIDX), 0, ts, 8); /* entry 0: (3000, 0) > entry 1 */
    be64_store(ts, 2002);
    st_write_at(path_of(TIDX), 12, ts, 8);
    run_dump(path_of(TIDX), NULL);
    cr_assert_eq(r.status, 1);
    assert_out_has("\nTime index mismatch: timestamp: 2002 offset: 2 is out of order after "
                   "timestamp: 3000 offset: 0\n");
    assert_out_has("\nTime index mismatch: timestamp: 3000 offset: 0: the batch holding it "
                   "(position 0) has maxTimestamp 1001\n");

    uint8_t rel[4];
    be32_store(rel, 40);
    st_write_at(path_of(TIDX), 20, rel, 4); /* entry 1 offset 40: not in the log */
    run_dump(path_of(TIDX), NULL);
    assert_out_has("\nTime index mismatch: timestamp: 2002 offset: 40: offset not found in "
                   "the log\n");
}

Test(dump_log, index_without_log_is_listed_unchecked)
{
    make_fixture(false);
    cr_assert_eq(unlink(path_of(LOG)), 0);
    run_dump(path_of(IDX), NULL);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    cr_assert_eq(count_lines_starting(r.out, "offset: "), 3);
    assert_out_has("Summary: entries: 3 mismatches: 0 (entries not checked against the log: ");
}

/* ---- arguments and errors ------------------------------------------------------ */

Test(dump_log, missing_file_fails_but_others_are_dumped)
{
    char msg[600];

    make_fixture(false);
    run_dump(path_of("t-0/00000000000000000099.log"), path_of(IDX), NULL);
    cr_assert_eq(r.status, 1);
    snprintf(msg, sizeof(msg), "gregor: cannot open %s: No such file or directory\n",
             path_of("t-0/00000000000000000099.log"));
    cr_assert_str_eq(r.err, msg);
    assert_out_has("Summary: entries: 3 mismatches: 0\n");
}

Test(dump_log, usage_errors_exit_2)
{
    run_dump(NULL);
    cr_assert_eq(r.status, 2);
    assert_one_error_line("missing FILE");

    write_file("data.txt", "x", 1);
    run_dump(path_of("data.txt"), NULL);
    cr_assert_eq(r.status, 2);
    cr_assert_str_empty(r.out);
    assert_one_error_line("unknown file type");

    run_dump("--bogus", path_of("data.txt"), NULL);
    cr_assert_eq(r.status, 2);
    assert_one_error_line("unknown option '--bogus'");

    run_dump("--help", NULL);
    cr_assert_eq(r.status, 0);
    cr_assert_eq(strncmp(r.out, "Usage: gregor dump-log FILE...", 30), 0, "%s", r.out);
}

Test(dump_log, index_name_must_carry_the_base_offset)
{
    write_file("foo.index", "", 0);
    run_dump(path_of("foo.index"), NULL);
    cr_assert_eq(r.status, 1);
    assert_one_error_line("cannot tell the segment's base offset");
}

/* ---- empty index files ------------------------------------------------------- */

/* Dumps the .index and .timeindex in t-0 and expects both to be reported
 * empty ("The index is empty", no entry line), exit 0, nothing on stderr. */
static void assert_both_indexes_empty(const char *size_note)
{
    run_dump(path_of(IDX), path_of(TIDX), NULL);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    cr_assert_eq(r.err[0], '\0', "stderr: [%s]", r.err);
    cr_assert_eq(count_lines_starting(r.out, "The index is empty: no entries ("), 2, "%s", r.out);
    cr_assert_eq(count_lines_starting(r.out, "Summary: entries: 0 mismatches: 0"), 2, "%s", r.out);
    cr_assert_eq(count_lines_starting(r.out, "offset: "), 0, "%s", r.out);
    cr_assert_eq(count_lines_starting(r.out, "timestamp: "), 0, "%s", r.out);
    assert_out_has(size_note);
}

Test(dump_log, zero_byte_indexes_are_empty_not_an_io_error)
{
    cr_assert_eq(mkdir(path_of("t-0"), 0755), 0);
    write_file(IDX, "", 0);
    write_file(TIDX, "", 0);
    assert_both_indexes_empty("(0 bytes)");
    write_file(LOG, "", 0); /* with its (empty) log beside it */
    assert_both_indexes_empty("(0 bytes)");
}

Test(dump_log, zero_filled_indexes_are_empty)
{
    cr_assert_eq(mkdir(path_of("t-0"), 0755), 0);
    write_file(IDX, "", 0);
    write_file(TIDX, "", 0);
    st_truncate(path_of(IDX), 10485760); /* preallocated by an active segment */
    st_truncate(path_of(TIDX), 10485756);
    assert_both_indexes_empty("(10485760 bytes, all zeros: preallocated)");
    write_file(LOG, "", 0);
    assert_both_indexes_empty("(10485756 bytes, all zeros: preallocated)");
}

/* ---- producer snapshots ---------------------------------------------------- */

Test(dump_log, snapshot_lists_producers_and_refuses_corruption)
{
    struct plog *log = open_log();
    struct kbuf b;
    int64_t first, last;

    kbuf_init(&b);
    for (int i = 0; i < 2; i++) {
        struct st_batch_opts o = {.nrec = 3,
                                  .ts0 = 1700000000000LL + i,
                                  .value_len = 5,
                                  .producer_id = 4242,
                                  .base_seq = 3 * i};
        kbuf_reset(&b);
        st_batch(&b, &o);
        cr_assert_eq(plog_append(log, b.data, b.len, 0, 0, &first, &last), KERR_NONE);
    }
    kbuf_destroy(&b);
    plog_close(log); /* clean close: 00000000000000000006.snapshot */
    run_dump(path_of("t-0/00000000000000000006.snapshot"), NULL);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    assert_out_has("producerId: 4242 producerEpoch: 0 coordinatorEpoch: -1 "
                   "currentTxnFirstOffset: -1 lastTimestamp: 1700000000001 firstSequence: 3 "
                   "lastSequence: 5 lastOffset: 5 offsetDelta: 2\n");
    assert_out_has("Summary: producers: 1\n");
    st_write_at(path_of("t-0/00000000000000000006.snapshot"), 20, "x", 1);
    run_dump(path_of("t-0/00000000000000000006.snapshot"), NULL);
    cr_assert_eq(r.status, 1);
    assert_out_has("corrupt producer snapshot: CRC mismatch");
    assert_one_error_line("corrupt producer snapshot: CRC mismatch");
}
