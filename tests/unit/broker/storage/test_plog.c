/*
 * tests/unit/broker/storage/test_plog.c — the partition log: append/read
 * round trips, offset lookup edge cases, high-watermark and size limits,
 * rolling, index files, restart and crash recovery, time lookups,
 * truncation, retention and disk faults (through fileio's ops table).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker/storage/batch.h"
#include "broker/storage/fileio.h"
#include "broker/storage/plog.h"
#include "storage_test.h"

static struct plog_config cfg;

static void setup(void)
{
    st_tmpdir_up();
    plog_config_default(&cfg);
    cfg.segment_bytes = 1 << 20;
    cfg.segment_ms = 0;
    cfg.index_interval_bytes = 256;
    cfg.index_max_bytes = 4096;
}

static void teardown(void)
{
    fileio_set_ops(NULL);
    st_tmpdir_down();
}

TestSuite(plog, .init = setup, .fini = teardown, .timeout = 20);

static struct plog *open_log(void)
{
    char err[256] = "";
    struct plog *log = plog_open(st_dir, &cfg, err, sizeof(err));

    cr_assert_not_null(log, "plog_open: %s", err);
    return log;
}

/* Appends one batch of nrec records; returns its first offset. */
static int64_t append_at(struct plog *log, int nrec, size_t vlen, int64_t ts0, int64_t now)
{
    struct kbuf b;
    int64_t first = -1, last = -1;

    kbuf_init(&b);
    st_simple(&b, nrec, vlen, ts0);
    cr_assert_eq(plog_append(log, b.data, b.len, 7, now, &first, &last), KERR_NONE);
    cr_assert_eq(last - first + 1, nrec);
    kbuf_destroy(&b);
    return first;
}

static int64_t append(struct plog *log, int nrec, size_t vlen)
{
    return append_at(log, nrec, vlen, 1000, 0);
}

/* Decodes the batches of a span: their base offsets into bases (max n). */
static int span_batches(const struct file_span *s, int64_t *bases, int n)
{
    uint8_t *buf = malloc((size_t)s->len + 1);
    struct batch_iter it;
    struct batch_hdr h;
    size_t at;
    int cnt = 0;

    cr_assert_not_null(buf);
    cr_assert_eq(st_read_fd(s->fd, s->pos, buf, (size_t)s->len), (size_t)s->len);
    batch_iter_init(&it, buf, (size_t)s->len);
    while (batch_iter_next(&it, &h, &at) == KERR_NONE) {
        cr_assert(batch_crc_is_valid(buf + at, &h));
        if (cnt < n)
            bases[cnt] = h.base_offset;
        cnt++;
    }
    cr_assert_eq(it.pos, (size_t)s->len, "span must hold whole batches");
    free(buf);
    return cnt;
}

/* Reads from offset and returns the number of batches (bases filled). */
static int read_batches(struct plog *log, int64_t offset, int64_t max_offset, int64_t max_bytes,
                        bool min_one, int64_t *bases, int n)
{
    struct file_span s;
    int cnt;

    cr_assert_eq(plog_read(log, offset, max_offset, max_bytes, min_one, &s), KERR_NONE);
    if (s.len == 0) {
        cr_assert_eq(s.fd, -1);
        return 0;
    }
    cr_assert_geq(s.fd, 0);
    cnt = span_batches(&s, bases, n);
    close(s.fd);
    return cnt;
}

Test(plog, empty_log_starts_at_zero)
{
    struct plog *log = open_log();

    cr_assert_eq(plog_start_offset(log), 0);
    cr_assert_eq(plog_end_offset(log), 0);
    cr_assert_eq(plog_segment_count(log), 1);
    cr_assert_geq(st_file_size(st_path("00000000000000000000.log")), 0);
    plog_close(log);
}

Test(plog, append_assigns_offsets_and_epoch_and_reads_back_bytes)
{
    struct plog *log = open_log();
    struct kbuf b;
    struct file_span s;
    int64_t first, last;
    uint8_t *got;

    cr_assert_eq(append(log, 3, 10), 0);
    kbuf_init(&b);
    st_simple(&b, 5, 20, 2000);
    st_simple(&b, 2, 20, 3000);
    cr_assert_eq(plog_append(log, b.data, b.len, 9, 0, &first, &last), KERR_NONE);
    cr_assert_eq(first, 3);
    cr_assert_eq(last, 9);
    cr_assert_eq(plog_end_offset(log), 10);
    /* The caller's bytes now carry the offsets and the epoch. */
    cr_assert_eq((int64_t)be64_load(b.data), 3);
    cr_assert_eq((int32_t)be32_load(b.data + BATCH_OFF_LEADER_EPOCH), 9);

    cr_assert_eq(plog_read(log, 3, INT64_MAX, 1 << 20, true, &s), KERR_NONE);
    cr_assert_eq(s.len, (int64_t)b.len);
    got = malloc(b.len);
    cr_assert_eq(st_read_fd(s.fd, s.pos, got, b.len), b.len);
    cr_assert_eq(memcmp(got, b.data, b.len), 0);
    int64_t bases[4];
    cr_assert_eq(span_batches(&s, bases, 4), 2);
    cr_assert_eq(bases[1], 8);
    close(s.fd);
    free(got);
    kbuf_destroy(&b);
    plog_close(log);
}

Test(plog, read_first_last_and_inside_batch)
{
    struct plog *log = open_log();
    int64_t bases[8];

    for (int i = 0; i < 5; i++)
        append(log, 4, 8); /* batches at 0, 4, 8, 12, 16 */
    cr_assert_eq(read_batches(log, 0, INT64_MAX, 1 << 20, true, bases, 8), 5);
    cr_assert_eq(bases[0], 0);
    /* An offset inside a batch returns that whole batch first. */
    cr_assert_eq(read_batches(log, 10, INT64_MAX, 1 << 20, true, bases, 8), 3);
    cr_assert_eq(bases[0], 8);
    /* The last offset. */
    cr_assert_eq(read_batches(log, 19, INT64_MAX, 1 << 20, true, bases, 8), 1);
    cr_assert_eq(bases[0], 16);
    plog_close(log);
}

Test(plog, out_of_range_and_end_of_log)
{
    struct plog *log = open_log();
    struct file_span s;

    append(log, 4, 8);
    cr_assert_eq(plog_read(log, 5, INT64_MAX, 1 << 20, true, &s), KERR_OFFSET_OUT_OF_RANGE);
    cr_assert_eq(s.fd, -1);
    cr_assert_eq(plog_read(log, -1, INT64_MAX, 1 << 20, true, &s), KERR_OFFSET_OUT_OF_RANGE);
    cr_assert_eq(plog_read(log, 4, INT64_MAX, 1 << 20, true, &s), KERR_NONE);
    cr_assert_eq(s.len, 0);
    cr_assert_eq(s.fd, -1);
    cr_assert_eq(plog_advance_start_offset(log, 2), KERR_NONE);
    cr_assert_eq(plog_read(log, 1, INT64_MAX, 1 << 20, true, &s), KERR_OFFSET_OUT_OF_RANGE);
    cr_assert_eq(plog_read(log, 2, INT64_MAX, 1 << 20, true, &s), KERR_NONE);
    cr_assert_gt(s.len, 0);
    close(s.fd);
    cr_assert_eq(plog_advance_start_offset(log, 5), KERR_OFFSET_OUT_OF_RANGE);
    plog_close(log);
}

Test(plog, high_watermark_limits_reads)
{
    struct plog *log = open_log();
    struct file_span s;
    int64_t bases[8];

    for (int i = 0; i < 4; i++)
        append(log, 3, 8); /* 0, 3, 6, 9; LEO 12 */
    cr_assert_eq(read_batches(log, 0, 6, 1 << 20, true, bases, 8), 2);
    cr_assert_eq(bases[1], 3);
    cr_assert_eq(read_batches(log, 4, 6, 1 << 20, true, bases, 8), 1);
    /* At or past the HW but not past the LEO: empty, not an error. */
    cr_assert_eq(read_batches(log, 6, 6, 1 << 20, true, bases, 8), 0);
    cr_assert_eq(read_batches(log, 11, 6, 1 << 20, true, bases, 8), 0);
    cr_assert_eq(plog_read(log, 13, 6, 1 << 20, true, &s), KERR_OFFSET_OUT_OF_RANGE);
    plog_close(log);
}

Test(plog, max_bytes_counts_whole_batches_and_min_one)
{
    struct plog *log = open_log();
    struct file_span s;
    int64_t bases[8], one;

    for (int i = 0; i < 4; i++)
        append(log, 2, 100);
    cr_assert_eq(plog_read(log, 0, INT64_MAX, 1 << 20, true, &s), KERR_NONE);
    one = s.len / 4;
    close(s.fd);
    cr_assert_eq(read_batches(log, 0, INT64_MAX, one * 2, false, bases, 8), 2);
    cr_assert_eq(read_batches(log, 0, INT64_MAX, one * 2 + one - 1, false, bases, 8), 2);
    cr_assert_eq(read_batches(log, 2, INT64_MAX, one * 3, true, bases, 8), 3);
    cr_assert_eq(bases[0], 2);
    /* A first batch larger than max_bytes: whole with min_one, else nothing. */
    cr_assert_eq(read_batches(log, 0, INT64_MAX, 10, true, bases, 8), 1);
    cr_assert_eq(plog_read(log, 0, INT64_MAX, 10, true, &s), KERR_NONE);
    cr_assert_eq(s.len, one);
    close(s.fd);
    cr_assert_eq(read_batches(log, 0, INT64_MAX, 10, false, bases, 8), 0);
    plog_close(log);
}

Test(plog, rolls_on_segment_bytes_with_20_digit_names)
{
    struct plog *log;
    int64_t bases[64];
    struct file_span s;

    cfg.segment_bytes = 1000;
    log = open_log();
    for (int i = 0; i < 20; i++)
        append(log, 3, 60); /* ~270 bytes each: 3 per segment */
    cr_assert_eq(plog_end_offset(log), 60);
    cr_assert_geq(plog_segment_count(log), 6);
    cr_assert_eq(st_count_files(st_dir, ".log"), plog_segment_count(log));
    cr_assert_eq(st_count_files(st_dir, ".index"), plog_segment_count(log));
    cr_assert_eq(st_count_files(st_dir, ".timeindex"), plog_segment_count(log));
    cr_assert_eq(plog_segment_base(log, 1), 9);
    cr_assert_geq(st_file_size(st_path("00000000000000000009.log")), 0);
    for (int i = 0; i < plog_segment_count(log); i++) {
        char name[64];
        snprintf(name, sizeof(name), "%020lld.log", (long long)plog_segment_base(log, i));
        cr_assert_leq(st_file_size(st_path(name)), 1000);
    }
    /* A span never crosses a segment; every offset is found. */
    cr_assert_eq(read_batches(log, 0, INT64_MAX, 1 << 20, true, bases, 64), 3);
    for (int64_t off = 0; off < 60; off++) {
        cr_assert_geq(read_batches(log, off, INT64_MAX, 1 << 20, true, bases, 64), 1);
        cr_assert_eq(bases[0], off - off % 3, "offset %lld", (long long)off);
    }
    cr_assert_eq(plog_read(log, 60, INT64_MAX, 1 << 20, true, &s), KERR_NONE);
    cr_assert_eq(s.len, 0);
    plog_close(log);
}

Test(plog, indexes_preallocated_then_trimmed_on_roll_and_close)
{
    struct plog *log;

    cfg.index_interval_bytes = 0; /* an entry per batch */
    cfg.index_max_bytes = 1000;
    log = open_log();
    cr_assert_eq(st_file_size(st_path("00000000000000000000.index")), 1000);
    cr_assert_eq(st_file_size(st_path("00000000000000000000.timeindex")), 996);
    for (int i = 0; i < 5; i++)
        append_at(log, 1, 10, 100 + i, 0);
    cr_assert_eq(plog_roll(log, 0), KERR_NONE);
    cr_assert_eq(plog_segment_count(log), 2);
    cr_assert_eq(st_file_size(st_path("00000000000000000000.index")), 5 * 8);
    cr_assert_eq(st_file_size(st_path("00000000000000000000.timeindex")), 5 * 12);
    cr_assert_eq(st_file_size(st_path("00000000000000000005.index")), 1000);
    append(log, 1, 10);
    plog_close(log);
    cr_assert_eq(st_file_size(st_path("00000000000000000005.index")), 8);
    cr_assert_eq(st_file_size(st_path("00000000000000000005.timeindex")), 12);
}

Test(plog, full_index_rolls)
{
    struct plog *log;

    cfg.index_interval_bytes = 0;
    cfg.index_max_bytes = 32; /* 4 offset entries, 2 time entries */
    log = open_log();
    for (int i = 0; i < 10; i++)
        append_at(log, 1, 10, 100 + i, 0);
    cr_assert_eq(plog_end_offset(log), 10);
    cr_assert_eq(plog_segment_count(log), 5);
    plog_close(log);
}

Test(plog, rolls_on_segment_age)
{
    struct plog *log;

    cfg.segment_ms = 1000;
    log = open_log();
    append_at(log, 1, 10, 5, 10000);
    append_at(log, 1, 10, 5, 10900);
    cr_assert_eq(plog_segment_count(log), 1);
    append_at(log, 1, 10, 5, 11001);
    cr_assert_eq(plog_segment_count(log), 2);
    cr_assert_eq(plog_segment_base(log, 1), 2);
    plog_close(log);
}

Test(plog, restart_keeps_offsets_and_data)
{
    struct plog *log;
    int64_t bases[64];

    cfg.segment_bytes = 2000;
    log = open_log();
    for (int i = 0; i < 30; i++)
        append(log, 2, 50);
    int segs = plog_segment_count(log);
    plog_close(log);

    log = open_log();
    cr_assert_eq(plog_end_offset(log), 60);
    cr_assert_eq(plog_start_offset(log), 0);
    cr_assert_eq(plog_segment_count(log), segs);
    for (int64_t off = 0; off < 60; off += 7) {
        cr_assert_geq(read_batches(log, off, INT64_MAX, 1 << 20, true, bases, 64), 1);
        cr_assert_eq(bases[0], off - off % 2);
    }
    cr_assert_eq(append(log, 1, 5), 60);
    plog_close(log);
    log = open_log();
    cr_assert_eq(plog_end_offset(log), 61);
    plog_close(log);
}

/* Appends n batches in a child that exits without closing (a crash). */
static void crash_after_appends(int n, int nrec)
{
    pid_t pid = fork();
    int status;

    cr_assert_geq(pid, 0);
    if (pid == 0) {
        struct plog *log = plog_open(st_dir, &cfg, NULL, 0);
        if (!log)
            _exit(2);
        for (int i = 0; i < n; i++) {
            struct kbuf b;
            int64_t f, l;
            kbuf_init(&b);
            st_simple(&b, nrec, 30, 1000 + i);
            if (plog_append(log, b.data, b.len, 1, 0, &f, &l) != KERR_NONE)
                _exit(3);
            kbuf_destroy(&b);
        }
        _exit(0);
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

Test(plog, crash_then_reopen_keeps_everything)
{
    struct plog *log;

    crash_after_appends(40, 3);
    cr_assert_eq(st_file_size(st_path("00000000000000000000.index")), 4096);
    log = open_log();
    cr_assert_eq(plog_end_offset(log), 120);
    plog_close(log);
}

Test(plog, torn_tail_is_truncated_on_open)
{
    struct plog *log;
    const char *path = st_path("00000000000000000000.log");
    int64_t size, bases[4];

    crash_after_appends(40, 3);
    size = st_file_size(path);
    st_truncate(path, size - 7); /* the last batch is torn */
    log = open_log();
    cr_assert_eq(plog_end_offset(log), 117);
    cr_assert_lt(st_file_size(path), size - 7);
    cr_assert_eq(read_batches(log, 116, INT64_MAX, 1 << 20, true, bases, 4), 1);
    cr_assert_eq(bases[0], 114);
    /* Appends continue right after the last whole batch. */
    cr_assert_eq(append(log, 1, 1), 117);
    plog_close(log);
    log = open_log();
    cr_assert_eq(plog_end_offset(log), 118);
    plog_close(log);
}

Test(plog, corrupt_tail_batch_is_dropped)
{
    struct plog *log = open_log();
    const char *path = st_path("00000000000000000000.log");
    int64_t size;
    uint8_t x = 0x55;

    for (int i = 0; i < 10; i++)
        append(log, 2, 30);
    plog_close(log);
    size = st_file_size(path);
    st_write_at(path, size - 3, &x, 1); /* flips a value byte of the last batch */
    log = open_log();
    cr_assert_eq(plog_end_offset(log), 18);
    plog_close(log);
}

Test(plog, deleted_indexes_are_rebuilt)
{
    struct plog *log = open_log();
    int64_t bases[4], off, ts;

    for (int i = 0; i < 50; i++)
        append_at(log, 2, 40, 1000 + 10 * i, 0);
    plog_close(log);
    int64_t isize = st_file_size(st_path("00000000000000000000.index"));
    int64_t tsize = st_file_size(st_path("00000000000000000000.timeindex"));
    cr_assert_gt(isize, 0);
    cr_assert_eq(unlink(st_path("00000000000000000000.index")), 0);
    cr_assert_eq(unlink(st_path("00000000000000000000.timeindex")), 0);

    log = open_log();
    cr_assert_eq(plog_end_offset(log), 100);
    cr_assert_eq(read_batches(log, 77, INT64_MAX, 1 << 20, true, bases, 4), 12);
    cr_assert_eq(bases[0], 76);
    cr_assert_eq(plog_offset_for_time(log, 1255, &off, &ts), KERR_NONE);
    cr_assert_eq(off, 52);
    plog_close(log);
    cr_assert_eq(st_file_size(st_path("00000000000000000000.index")), isize);
    cr_assert_eq(st_file_size(st_path("00000000000000000000.timeindex")), tsize);
}

Test(plog, corrupt_index_is_rebuilt)
{
    struct plog *log = open_log();
    int64_t bases[4];
    uint8_t junk[16];

    for (int i = 0; i < 50; i++)
        append(log, 2, 40);
    plog_close(log);
    memset(junk, 0x7f, sizeof(junk));
    st_write_at(st_path("00000000000000000000.index"), 8, junk, sizeof(junk));
    log = open_log();
    cr_assert_eq(plog_end_offset(log), 100);
    for (int64_t off = 1; off < 100; off += 9) {
        cr_assert_geq(read_batches(log, off, INT64_MAX, 1 << 20, true, bases, 4), 1);
        cr_assert_eq(bases[0], off - off % 2);
    }
    plog_close(log);
}

Test(plog, stale_index_entry_past_truncated_log_is_detected)
{
    struct plog *log = open_log();
    int64_t bases[4];

    for (int i = 0; i < 50; i++)
        append(log, 2, 40);
    plog_close(log);
    /* The log loses its second half but the index still points there. */
    st_truncate(st_path("00000000000000000000.log"),
                st_file_size(st_path("00000000000000000000.log")) / 2 + 5);
    log = open_log();
    int64_t leo = plog_end_offset(log);
    cr_assert_gt(leo, 40);
    cr_assert_lt(leo, 60);
    cr_assert_eq(read_batches(log, leo - 1, INT64_MAX, 1 << 20, true, bases, 4), 1);
    cr_assert_eq(bases[0], leo - 2);
    cr_assert_eq(append(log, 1, 1), leo);
    plog_close(log);
}

Test(plog, full_recovery_truncates_middle_segment_and_drops_later_ones)
{
    struct plog *log;
    uint8_t x = 0xaa;

    cfg.segment_bytes = 1000;
    log = open_log();
    for (int i = 0; i < 20; i++)
        append(log, 3, 60);
    int segs = plog_segment_count(log);
    int64_t base1 = plog_segment_base(log, 1), base2 = plog_segment_base(log, 2);
    plog_close(log);
    cr_assert_geq(segs, 4);
    char name[64];
    snprintf(name, sizeof(name), "%020lld.log", (long long)base1);
    /* Damage the first batch of segment 1: only a full scan reaches it,
     * a clean open only scans from each segment's last index entry. */
    st_write_at(st_path(name), 100, &x, 1);

    log = open_log();
    cr_assert_eq(plog_end_offset(log), 60);
    cr_assert_eq(plog_segment_count(log), segs);
    plog_close(log);

    cfg.recovery_point = 0;
    log = open_log();
    cr_assert_eq(plog_segment_count(log), 2);
    cr_assert_eq(plog_end_offset(log), base1);
    cr_assert_eq(st_file_size(st_path(name)), 0);
    cr_assert_eq(append(log, 1, 1), base1);
    plog_close(log);
    snprintf(name, sizeof(name), "%020lld.log", (long long)base2);
    cr_assert_eq(st_file_size(st_path(name)), -1);
}

Test(plog, offset_for_time_finds_exact_record)
{
    struct plog *log;
    struct st_batch_opts o = {
        .nrec = 5, .ts_step = 10, .value_len = 20, .producer_id = -1, .base_seq = -1};
    int64_t off, ts, first, last;

    cfg.segment_bytes = 600;
    log = open_log();
    for (int i = 0; i < 10; i++) { /* batch i: offsets 5i.., ts 1000i + 0,10,..,40 */
        struct kbuf b;
        kbuf_init(&b);
        o.ts0 = 1000 * (i + 1);
        st_batch(&b, &o);
        cr_assert_eq(plog_append(log, b.data, b.len, 1, 0, &first, &last), KERR_NONE);
        kbuf_destroy(&b);
    }
    cr_assert_gt(plog_segment_count(log), 2);
    cr_assert_eq(plog_offset_for_time(log, 0, &off, &ts), KERR_NONE);
    cr_assert_eq(off, 0);
    cr_assert_eq(ts, 1000);
    cr_assert_eq(plog_offset_for_time(log, 3015, &off, &ts), KERR_NONE);
    cr_assert_eq(off, 12);
    cr_assert_eq(ts, 3020);
    cr_assert_eq(plog_offset_for_time(log, 3041, &off, &ts), KERR_NONE);
    cr_assert_eq(off, 15);
    cr_assert_eq(ts, 4000);
    cr_assert_eq(plog_offset_for_time(log, 10040, &off, &ts), KERR_NONE);
    cr_assert_eq(off, 49);
    cr_assert_eq(plog_offset_for_time(log, 10041, &off, &ts), KERR_NONE);
    cr_assert_eq(off, -1);
    cr_assert_eq(ts, -1);
    cr_assert_eq(plog_max_timestamp(log, &off, &ts), KERR_NONE);
    cr_assert_eq(off, 49);
    cr_assert_eq(ts, 10040);
    plog_close(log);

    log = open_log(); /* sealed segments answer from their time index */
    cr_assert_eq(plog_offset_for_time(log, 7005, &off, &ts), KERR_NONE);
    cr_assert_eq(off, 31);
    cr_assert_eq(ts, 7010);
    plog_close(log);
}

Test(plog, offset_for_time_in_compressed_batch_returns_batch_base)
{
    struct plog *log = open_log();
    struct st_batch_opts o = {
        .nrec = 4, .ts0 = 500, .ts_step = 100, .value_len = 8, .producer_id = -1, .base_seq = -1};
    struct kbuf b;
    int64_t off, ts, first, last;

    append_at(log, 2, 8, 100, 0);
    kbuf_init(&b);
    o.attributes = 2; /* "snappy": storage never looks inside */
    st_batch(&b, &o);
    cr_assert_eq(plog_append(log, b.data, b.len, 1, 0, &first, &last), KERR_NONE);
    cr_assert_eq(plog_offset_for_time(log, 650, &off, &ts), KERR_NONE);
    cr_assert_eq(off, 2);
    cr_assert_eq(ts, 800);
    kbuf_destroy(&b);
    plog_close(log);
}

Test(plog, truncate_to_drops_whole_batches_and_segments)
{
    struct plog *log;
    struct file_span s;

    cfg.segment_bytes = 1000;
    log = open_log();
    for (int i = 0; i < 20; i++)
        append(log, 3, 60);
    int segs = plog_segment_count(log);
    cr_assert_eq(plog_truncate_to(log, 31), KERR_NONE); /* inside batch 30..32 */
    cr_assert_eq(plog_end_offset(log), 30);
    cr_assert_lt(plog_segment_count(log), segs);
    cr_assert_eq(plog_read(log, 31, INT64_MAX, 1 << 20, true, &s), KERR_OFFSET_OUT_OF_RANGE);
    cr_assert_eq(append(log, 2, 5), 30);
    cr_assert_eq(plog_truncate_to(log, 27), KERR_NONE); /* a batch boundary */
    cr_assert_eq(plog_end_offset(log), 27);
    plog_close(log);
    log = open_log();
    cr_assert_eq(plog_end_offset(log), 27);
    cr_assert_eq(append(log, 1, 5), 27);
    plog_close(log);
}

Test(plog, truncate_fully_restarts_at_offset)
{
    struct plog *log = open_log();

    for (int i = 0; i < 5; i++)
        append(log, 3, 10);
    cr_assert_eq(plog_truncate_fully(log, 1000), KERR_NONE);
    cr_assert_eq(plog_start_offset(log), 1000);
    cr_assert_eq(plog_end_offset(log), 1000);
    cr_assert_eq(st_count_files(st_dir, ".log"), 1);
    cr_assert_eq(append(log, 2, 10), 1000);
    plog_close(log);
    log = open_log();
    cr_assert_eq(plog_start_offset(log), 1000);
    cr_assert_eq(plog_end_offset(log), 1002);
    plog_close(log);
}

Test(plog, replica_append_keeps_leader_offsets)
{
    struct plog *log = open_log();
    struct kbuf b;
    int64_t first, last, bases[4];

    kbuf_init(&b);
    st_simple(&b, 3, 10, 100);
    batch_set_offset_epoch(b.data, 500, 4);
    cr_assert_eq(plog_append_replica(log, b.data, b.len, 0, &first, &last), KERR_NONE);
    cr_assert_eq(first, 500);
    cr_assert_eq(last, 502);
    cr_assert_eq(plog_start_offset(log), 500);
    cr_assert_eq(plog_end_offset(log), 503);
    /* Offsets below the LEO are refused; so is a bad CRC. */
    cr_assert_eq(plog_append_replica(log, b.data, b.len, 0, &first, &last), KERR__INVALID);
    batch_set_offset_epoch(b.data, 503, 4);
    b.data[b.len - 2] ^= 1;
    cr_assert_eq(plog_append_replica(log, b.data, b.len, 0, &first, &last), KERR_CORRUPT_MESSAGE);
    b.data[b.len - 2] ^= 1;
    cr_assert_eq(plog_append_replica(log, b.data, b.len, 0, &first, &last), KERR_NONE);
    cr_assert_eq(read_batches(log, 504, INT64_MAX, 1 << 20, true, bases, 4), 1);
    cr_assert_eq(bases[0], 503);
    kbuf_destroy(&b);
    plog_close(log);
}

Test(plog, replica_append_refuses_invalid_records)
{
    struct plog *log = open_log();
    struct kbuf b;
    int64_t first, last;

    kbuf_init(&b);
    st_simple(&b, 1, 10, 100);
    /* Claims a million records but holds one; frame and CRC are fine. */
    be32_store(b.data + BATCH_OFF_LAST_OFFSET_DELTA, 999999);
    be32_store(b.data + BATCH_OFF_RECORDS_COUNT, 1000000);
    st_fix_crc(b.data);
    batch_set_offset_epoch(b.data, 0, 4);
    cr_assert_eq(plog_append_replica(log, b.data, b.len, 0, &first, &last), KERR_INVALID_RECORD);
    cr_assert_eq(plog_end_offset(log), 0);
    cr_assert_eq(st_file_size(st_path("00000000000000000000.log")), 0);
    kbuf_destroy(&b);
    plog_close(log);
}

Test(plog, recovery_truncates_at_batch_with_invalid_records)
{
    const char *path = st_path("00000000000000000000.log");
    struct batch_hdr h;
    struct plog *log;
    uint8_t hdr[BATCH_HDR_SIZE];
    int64_t size, bases[4];

    crash_after_appends(40, 3);
    size = st_file_size(path);
    /* The last batch (3 records, 30-byte values) says it holds 4 records
     * over offsets +0..+3, with a CRC that matches: only the records tell. */
    int64_t last_pos = -1;
    for (int64_t pos = 0; pos < size; pos += batch_size(&h)) {
        cr_assert_eq(st_read_at(path, pos, hdr, sizeof(hdr)), sizeof(hdr));
        cr_assert_eq(batch_parse_hdr(hdr, sizeof(hdr), &h), KERR_NONE);
        last_pos = pos;
    }
    uint8_t *p = malloc((size_t)(size - last_pos));
    cr_assert_eq(st_read_at(path, last_pos, p, (size_t)(size - last_pos)),
                 (size_t)(size - last_pos));
    be32_store(p + BATCH_OFF_LAST_OFFSET_DELTA, 3);
    be32_store(p + BATCH_OFF_RECORDS_COUNT, 4);
    st_fix_crc(p);
    st_write_at(path, last_pos, p, (size_t)(size - last_pos));
    free(p);
    log = open_log();
    cr_assert_eq(plog_end_offset(log), 117);
    cr_assert_eq(st_file_size(path), last_pos);
    cr_assert_eq(read_batches(log, 116, INT64_MAX, 1 << 20, true, bases, 4), 1);
    cr_assert_eq(bases[0], 114);
    plog_close(log);
}

Test(plog, retention_by_size_and_time_advances_start)
{
    struct plog *log;
    struct plog_retention r = {
        .now_ms = 100000, .retention_ms = -1, .retention_bytes = -1, .max_offset = INT64_MAX};
    struct file_span s;
    int deleted;

    cfg.segment_bytes = 1000;
    log = open_log();
    for (int i = 0; i < 20; i++)
        append_at(log, 3, 60, 1000 * i, 0); /* 3 batches per segment */
    int segs = plog_segment_count(log);
    cr_assert_eq(plog_apply_retention(log, &r, &deleted), KERR_NONE);
    cr_assert_eq(deleted, 0);

    r.retention_bytes = plog_size_bytes(log) - st_file_size(st_path("00000000000000000000.log")) -
                        st_file_size(st_path("00000000000000000009.log"));
    cr_assert_eq(plog_apply_retention(log, &r, &deleted), KERR_NONE);
    cr_assert_eq(deleted, 2);
    cr_assert_eq(plog_start_offset(log), 18);
    cr_assert_eq(plog_segment_count(log), segs - 2);
    cr_assert_eq(plog_read(log, 17, INT64_MAX, 1 << 20, true, &s), KERR_OFFSET_OUT_OF_RANGE);

    /* Batch i has ts 1000i..1000i+2: keep ts >= 12000 -> batches 12.. */
    r.retention_bytes = -1;
    r.retention_ms = 100000 - 12000;
    cr_assert_eq(plog_apply_retention(log, &r, &deleted), KERR_NONE);
    cr_assert_eq(plog_start_offset(log), 36);
    cr_assert_eq(plog_end_offset(log), 60);
    plog_close(log);
}

Test(plog, retention_respects_high_watermark_and_can_empty_the_log)
{
    struct plog *log = open_log();
    struct plog_retention r = {
        .now_ms = 1000000, .retention_ms = 1000, .retention_bytes = -1, .max_offset = 5};
    int deleted;

    for (int i = 0; i < 3; i++)
        append_at(log, 3, 10, 100, 0);
    cr_assert_eq(plog_apply_retention(log, &r, &deleted), KERR_NONE);
    cr_assert_eq(deleted, 0);
    cr_assert_eq(plog_end_offset(log), 9);
    r.max_offset = 9;
    cr_assert_eq(plog_apply_retention(log, &r, &deleted), KERR_NONE);
    cr_assert_eq(deleted, 1);
    cr_assert_eq(plog_start_offset(log), 9);
    cr_assert_eq(plog_end_offset(log), 9);
    cr_assert_eq(append(log, 1, 1), 9);
    plog_close(log);
}

Test(plog, flush_moves_recovery_point)
{
    struct plog *log;

    cfg.flush_interval_messages = 5;
    log = open_log();
    append(log, 3, 1);
    cr_assert_eq(plog_recovery_point(log), 0);
    append(log, 3, 1);
    cr_assert_eq(plog_recovery_point(log), 6);
    append(log, 1, 1);
    cr_assert_eq(plog_flush(log), KERR_NONE);
    cr_assert_eq(plog_recovery_point(log), 7);
    plog_close(log);
}

/* fsync through the ops table, remembering the names of the files synced */
static char synced[16][512];
static int n_synced;

static int fsync_recording(int fd)
{
    char link[64], target[512];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof(target) - 1);
    if (n > 0 && n_synced < 16) {
        target[n] = 0;
        const char *base = strrchr(target, '/');
        snprintf(synced[n_synced++], sizeof(synced[0]), "%s", base ? base + 1 : target);
    }
    return fsync(fd);
}

static bool was_synced(const char *name)
{
    for (int i = 0; i < n_synced; i++)
        if (strcmp(synced[i], name) == 0)
            return true;
    return false;
}

Test(plog, flush_after_a_roll_syncs_the_sealed_segment_and_its_indexes)
{
    struct plog *log;
    static struct fileio_ops ops;

    cfg.index_interval_bytes = 0;
    log = open_log();
    for (int i = 0; i < 4; i++)
        append_at(log, 1, 10, 100 + i, 0);
    cr_assert_eq(plog_roll(log, 0), KERR_NONE);
    ops = fileio_default_ops;
    ops.fsync = fsync_recording;
    fileio_set_ops(&ops);
    n_synced = 0;
    cr_assert_eq(plog_flush(log), KERR_NONE);
    cr_assert(was_synced("00000000000000000000.log"));
    cr_assert(was_synced("00000000000000000000.index"), "the sealed offset index is fsynced");
    cr_assert(was_synced("00000000000000000000.timeindex"), "the sealed time index is fsynced");
    /* synced once: the next flush has nothing of the sealed segment to write */
    n_synced = 0;
    cr_assert_eq(plog_flush(log), KERR_NONE);
    cr_assert_not(was_synced("00000000000000000000.index"));
    fileio_set_ops(NULL);
    int64_t bases[4];
    cr_assert_eq(read_batches(log, 2, INT64_MAX, 1 << 20, true, bases, 4), 2); /* index lookup */
    cr_assert_eq(bases[0], 2);
    plog_close(log);
}

static int fsync_eio(int fd)
{
    (void)fd;
    errno = EIO;
    return -1;
}

Test(plog, flush_plan_fsyncs_outside_and_applies_only_to_its_log)
{
    struct plog_flush_plan plan;
    struct plog *log;
    static struct fileio_ops ops;

    log = open_log();
    append(log, 4, 10);
    cr_assert_eq(plog_flush_begin(log, &plan), KERR_NONE);
    cr_assert_eq(plan.end, 4);
    append(log, 2, 10); /* written while the plan's fsyncs would run */
    /* a plog_flush meanwhile still fsyncs what the plan took, not yet synced */
    ops = fileio_default_ops;
    ops.fsync = fsync_recording;
    fileio_set_ops(&ops);
    n_synced = 0;
    cr_assert_eq(plog_flush(log), KERR_NONE);
    cr_assert(was_synced("00000000000000000000.log"));
    fileio_set_ops(NULL);
    cr_assert_eq(plog_recovery_point(log), 6);
    cr_assert_eq(plog_flush_sync(&plan), KERR_NONE);
    cr_assert_eq(plog_flush_end(log, &plan, KERR_NONE), KERR_NONE);
    cr_assert_eq(plog_recovery_point(log), 6, "the recovery point never moves back");

    /* a truncation while the fsyncs run: the plan's end no longer means anything */
    append(log, 3, 10);
    cr_assert_eq(plog_flush_begin(log, &plan), KERR_NONE);
    cr_assert_eq(plog_truncate_to(log, 6), KERR_NONE); /* drops the batch 6..8 */
    append(log, 5, 10);
    cr_assert_eq(plog_flush_sync(&plan), KERR_NONE);
    cr_assert_eq(plog_flush_end(log, &plan, KERR_NONE), KERR_NONE);
    cr_assert_eq(plog_recovery_point(log), 6);

    /* a failed fsync leaves everything to be written again */
    cr_assert_eq(plog_flush_begin(log, &plan), KERR_NONE);
    ops = fileio_default_ops;
    ops.fsync = fsync_eio;
    fileio_set_ops(&ops);
    cr_assert_neq(plog_flush_sync(&plan), KERR_NONE);
    fileio_set_ops(NULL);
    cr_assert_eq(plog_flush_end(log, &plan, KERR__IO), KERR_KAFKA_STORAGE_ERROR);
    cr_assert_eq(plog_recovery_point(log), 6);
    ops = fileio_default_ops;
    ops.fsync = fsync_recording;
    fileio_set_ops(&ops);
    n_synced = 0;
    cr_assert_eq(plog_flush(log), KERR_NONE);
    cr_assert(was_synced("00000000000000000000.log"), "the failed sync is retried");
    fileio_set_ops(NULL);
    cr_assert_eq(plog_recovery_point(log), 11);

    /* a plan applied to another log (the partition's log was replaced) changes nothing */
    cr_assert_eq(plog_flush_begin(log, &plan), KERR_NONE);
    plan.log_id++;
    cr_assert_eq(plog_flush_sync(&plan), KERR_NONE);
    append(log, 1, 10);
    cr_assert_eq(plog_flush_end(log, &plan, KERR_NONE), KERR_NONE);
    cr_assert_eq(plog_recovery_point(log), 11);
    plog_close(log);
}

Test(plog, remove_dir_deletes_everything)
{
    struct plog *log = open_log();

    append(log, 3, 1);
    plog_close(log);
    cr_assert_eq(plog_remove_dir(st_dir), KERR_NONE);
    cr_assert_eq(access(st_dir, F_OK), -1);
    cr_assert_eq(plog_remove_dir(st_dir), KERR_NONE);
}

Test(plog, orphan_index_files_are_removed_at_open)
{
    struct plog *log;
    FILE *f = fopen(st_path("00000000000000000077.index"), "w");

    cr_assert_not_null(f);
    fclose(f);
    log = open_log();
    cr_assert_eq(st_file_size(st_path("00000000000000000077.index")), -1);
    cr_assert_eq(plog_segment_count(log), 1);
    plog_close(log);
}

/* ---- fault injection ---------------------------------------------------- */

static int fault_mode;           /* 0 none, 1 ENOSPC, 2 half write then ENOSPC, 3 fsync EIO */
static int fault_errno = ENOSPC; /* what mode 1 writes fail with */
static struct fileio_ops faulty;

static ssize_t faulty_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    if (fault_mode == 1) {
        errno = fault_errno;
        return -1;
    }
    if (fault_mode == 2) {
        fault_mode = 1;
        return fileio_default_ops.pwrite(fd, buf, n / 2, off);
    }
    return fileio_default_ops.pwrite(fd, buf, n, off);
}

static int faulty_fsync(int fd)
{
    if (fault_mode == 3) {
        errno = EIO;
        return -1;
    }
    return fileio_default_ops.fsync(fd);
}

static void install_faults(int mode)
{
    faulty = fileio_default_ops;
    faulty.pwrite = faulty_pwrite;
    faulty.fsync = faulty_fsync;
    fault_mode = mode;
    fileio_set_ops(&faulty);
}

Test(plog, enospc_leaves_log_unchanged)
{
    struct plog *log = open_log();
    struct kbuf b;
    int64_t first = -5, last = -5, size;

    append(log, 2, 10);
    size = st_file_size(st_path("00000000000000000000.log"));
    install_faults(1);
    kbuf_init(&b);
    st_simple(&b, 3, 10, 5);
    cr_assert_eq(plog_append(log, b.data, b.len, 1, 0, &first, &last), KERR_KAFKA_STORAGE_ERROR);
    cr_assert_eq(first, -5);
    cr_assert_eq(plog_end_offset(log), 2);
    cr_assert_eq(st_file_size(st_path("00000000000000000000.log")), size);
    fault_mode = 0;
    cr_assert_eq(append(log, 1, 1), 2);
    kbuf_destroy(&b);
    plog_close(log);
}

/* A read-only log dir: writes fail with EROFS and new files cannot be
 * created (so a roll fails too); EIO behaves the same. Nothing changes and
 * appends work again once the disk does. */
static int faulty_open(const char *path, int flags, mode_t mode)
{
    if (fault_mode == 1 && (flags & (O_CREAT | O_WRONLY | O_RDWR))) {
        errno = fault_errno;
        return -1;
    }
    return fileio_default_ops.open(path, flags, mode);
}

Test(plog, eio_and_read_only_dir_leave_log_unchanged)
{
    const int errs[] = {EIO, EROFS};
    for (size_t k = 0; k < sizeof(errs) / sizeof(errs[0]); k++) {
        struct plog *log = open_log();
        struct kbuf b;
        int64_t first = -5, last = -5;
        int64_t end = plog_end_offset(log);
        append(log, 2, 10);
        int64_t size = st_file_size(st_path("00000000000000000000.log"));
        install_faults(1);
        fault_errno = errs[k];
        faulty.open = faulty_open;
        kbuf_init(&b);
        st_simple(&b, 3, 10, 5);
        cr_assert_eq(plog_append(log, b.data, b.len, 1, 0, &first, &last), KERR_KAFKA_STORAGE_ERROR,
                     "errno %d", errs[k]);
        cr_assert_neq(plog_roll(log, 0), KERR_NONE, "a roll cannot create its files");
        cr_assert_eq(first, -5);
        cr_assert_eq(plog_end_offset(log), end + 2);
        cr_assert_eq(plog_segment_count(log), 1);
        cr_assert_eq(st_file_size(st_path("00000000000000000000.log")), size);
        fault_mode = 0;
        fault_errno = ENOSPC;
        fileio_set_ops(NULL);
        cr_assert_eq(append(log, 1, 1), end + 2);
        kbuf_destroy(&b);
        plog_close(log);
    }
}

Test(plog, torn_write_is_truncated_back)
{
    struct plog *log = open_log();
    struct kbuf b;
    int64_t first, last, size, bases[4];

    append(log, 2, 10);
    size = st_file_size(st_path("00000000000000000000.log"));
    install_faults(2);
    kbuf_init(&b);
    st_simple(&b, 3, 100, 5);
    cr_assert_eq(plog_append(log, b.data, b.len, 1, 0, &first, &last), KERR_KAFKA_STORAGE_ERROR);
    cr_assert_eq(st_file_size(st_path("00000000000000000000.log")), size);
    cr_assert_eq(plog_end_offset(log), 2);
    fault_mode = 0;
    cr_assert_eq(append(log, 1, 1), 2);
    cr_assert_eq(read_batches(log, 0, INT64_MAX, 1 << 20, true, bases, 4), 2);
    cr_assert_eq(bases[1], 2);
    kbuf_destroy(&b);
    plog_close(log);
    log = open_log();
    cr_assert_eq(plog_end_offset(log), 3);
    plog_close(log);
}

Test(plog, failed_fsync_is_a_storage_error)
{
    struct plog *log;
    struct kbuf b;
    int64_t first = -1, last = -1;

    cfg.flush_interval_messages = 1;
    log = open_log();
    install_faults(3);
    kbuf_init(&b);
    st_simple(&b, 1, 10, 5);
    cr_assert_eq(plog_append(log, b.data, b.len, 1, 0, &first, &last), KERR_KAFKA_STORAGE_ERROR);
    cr_assert_eq(plog_flush(log), KERR_KAFKA_STORAGE_ERROR);
    cr_assert_eq(plog_recovery_point(log), 0);
    fault_mode = 0;
    cr_assert_eq(plog_flush(log), KERR_NONE);
    cr_assert_eq(plog_recovery_point(log), 1);
    kbuf_destroy(&b);
    plog_close(log);
}

static int failing_ftruncate(int fd, off_t len)
{
    (void)fd;
    (void)len;
    errno = EIO;
    return -1;
}

Test(plog, open_fails_cleanly_when_disk_refuses)
{
    char err[256] = "";

    cr_assert_null(plog_open("/proc/gregor-no-such-dir/x", &cfg, err, sizeof(err)));
    cr_assert_neq(err[0], '\0');
    /* Index preallocation fails: open reports it and leaks nothing. */
    faulty = fileio_default_ops;
    faulty.ftruncate = failing_ftruncate;
    fileio_set_ops(&faulty);
    err[0] = '\0';
    cr_assert_null(plog_open(st_dir, &cfg, err, sizeof(err)));
    cr_assert_neq(err[0], '\0');
    fileio_set_ops(NULL);
    struct plog *log = open_log();
    cr_assert_eq(plog_end_offset(log), 0);
    plog_close(log);
}
