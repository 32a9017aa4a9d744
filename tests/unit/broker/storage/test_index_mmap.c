/*
 * tests/unit/broker/storage/test_index_mmap.c — index entries stored
 * through the active segment's writable mapping (broker/storage/
 * index_file.c), checked on the files themselves:
 *
 *   - a process killed after appending leaves every entry it stored in the
 *     preallocated files (valid entries, then zeros) and the reopened log
 *     answers offset and time lookups from them;
 *   - entries past a log tail lost in a crash are dropped (active segment,
 *     recovery) or make the index be rebuilt (sealed segment, clean open);
 *   - a torn or scribbled time index of a closed log is trimmed or rebuilt;
 *   - a disk that cannot allocate index blocks costs index entries only,
 *     never an append or the process (no SIGBUS);
 *   - an append writes the log with one pwrite and nothing per entry.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker/storage/batch.h"
#include "broker/storage/fileio.h"
#include "broker/storage/plog.h"
#include "storage_test.h"

#define LOG0 "00000000000000000000.log"
#define IDX0 "00000000000000000000.index"
#define TIDX0 "00000000000000000000.timeindex"
#define NREC 3
#define TS(i) (1000 + 10 * (int64_t)(i)) /* first record timestamp of batch i */

static struct plog_config cfg;
static int seg1_from = 1 << 30; /* first batch of a second segment, if any */

static void setup(void)
{
    st_tmpdir_up();
    plog_config_default(&cfg); /* 10 MiB indexes, as a broker preallocates them */
    cfg.segment_ms = 0;
    cfg.index_interval_bytes = 256;
}

static void teardown(void)
{
    fileio_set_ops(NULL);
    st_tmpdir_down();
}

TestSuite(index_mmap, .init = setup, .fini = teardown, .timeout = 30);

static struct plog *open_at(int64_t recovery_point)
{
    char err[256] = "";
    struct plog_config c = cfg;
    c.recovery_point = recovery_point;
    struct plog *log = plog_open(st_dir, &c, err, sizeof(err));
    cr_assert_not_null(log, "plog_open: %s", err);
    return log;
}

/* Appends batch i (NREC records at TS(i), TS(i)+1, ...); false on error. */
static bool append_batch(struct plog *log, int i)
{
    struct kbuf b;
    int64_t f, l;
    kerr_t err;

    kbuf_init(&b);
    st_simple(&b, NREC, 30, TS(i));
    err = plog_append(log, b.data, b.len, 1, 0, &f, &l);
    kbuf_destroy(&b);
    return err == KERR_NONE && f == (int64_t)i * NREC;
}

static int64_t batch_bytes(void)
{
    struct kbuf b;
    kbuf_init(&b);
    st_simple(&b, NREC, 30, TS(0));
    int64_t n = (int64_t)b.len;
    kbuf_destroy(&b);
    return n;
}

/* In a child that then dies without closing: batches [0, flushed) then a
 * flush, then batches [flushed, flushed + more). */
static void crash_after(int flushed, int more)
{
    pid_t pid = fork();
    int status;

    cr_assert_geq(pid, 0);
    if (pid == 0) {
        struct plog *log = plog_open(st_dir, &cfg, NULL, 0);
        if (!log)
            _exit(2);
        for (int i = 0; i < flushed + more; i++) {
            if (!append_batch(log, i))
                _exit(3);
            if (i + 1 == flushed && plog_flush(log) != KERR_NONE)
                _exit(4);
        }
        (void)kill(getpid(), SIGKILL);
        _exit(5);
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child status %d", status);
}

/* Header of the batch at pos of the .log; false past its end. */
static bool batch_at(int64_t pos, struct batch_hdr *h)
{
    uint8_t hdr[BATCH_HDR_SIZE];

    if (st_read_at(st_path(LOG0), pos, hdr, sizeof(hdr)) != sizeof(hdr))
        return false;
    return batch_parse_hdr(hdr, sizeof(hdr), h) == KERR_NONE;
}

/* Counts the entries of the .index that precede its zeros or end, checking
 * that each names a batch of the .log (offset and position) and that the
 * 4 KiB after them read as zeros. */
static int check_offset_index(void)
{
    int64_t size = st_file_size(st_path(IDX0)), prev = -1;
    int n = 0;

    for (int64_t at = 0; at + 8 <= size; at += 8, n++) {
        uint8_t e[8];
        struct batch_hdr h;
        cr_assert_eq(st_read_at(st_path(IDX0), at, e, 8), 8u);
        int64_t rel = be32_load(e), pos = be32_load(e + 4);
        /* (0, 0) is an entry only when every batch gets one */
        if (pos <= prev || (pos == 0 && rel == 0 && cfg.index_interval_bytes > 0))
            break;
        cr_assert(batch_at(pos, &h), "entry %d: no batch at %lld", n, (long long)pos);
        cr_assert_eq(h.base_offset, rel, "entry %d names %lld, batch %lld", n, (long long)rel,
                     (long long)h.base_offset);
        prev = pos;
    }
    uint8_t tail[4096] = {0}, zero[4096] = {0};
    (void)st_read_at(st_path(IDX0), (int64_t)n * 8, tail, sizeof(tail));
    cr_assert(memcmp(tail, zero, sizeof(tail)) == 0, "garbage after %d offset entries", n);
    return n;
}

/* Same for the .timeindex: timestamps increase and each entry names the
 * batch whose max timestamp it is. */
static int check_time_index(void)
{
    int64_t size = st_file_size(st_path(TIDX0)), prev = 0;
    int n = 0;

    for (int64_t at = 0; at + 12 <= size; at += 12, n++) {
        uint8_t e[12];
        cr_assert_eq(st_read_at(st_path(TIDX0), at, e, 12), 12u);
        int64_t ts = (int64_t)be64_load(e), off = be32_load(e + 8);
        if (ts <= prev)
            break;
        cr_assert_eq(off % NREC, 0, "time entry %d names offset %lld", n, (long long)off);
        cr_assert_eq(ts, TS(off / NREC) + NREC - 1, "time entry %d: ts %lld for offset %lld", n,
                     (long long)ts, (long long)off);
        struct batch_hdr h;
        cr_assert(batch_at((off / NREC) * batch_bytes(), &h), "time entry %d past the log", n);
        prev = ts;
    }
    uint8_t tail[4096] = {0}, zero[4096] = {0};
    (void)st_read_at(st_path(TIDX0), (int64_t)n * 12, tail, sizeof(tail));
    cr_assert(memcmp(tail, zero, sizeof(tail)) == 0, "garbage after %d time entries", n);
    return n;
}

/* Entries the broker writes for nb batches: one at the first batch after
 * every index_interval_bytes; *last_indexed says if batch nb - 1 got one. */
static int entries_for(int nb, bool *last_indexed)
{
    int64_t since = 0, bb = batch_bytes();
    int n = 0;

    *last_indexed = false;
    for (int i = 0; i < nb; i++) {
        *last_indexed = since >= cfg.index_interval_bytes;
        if (*last_indexed) {
            n++;
            since = 0;
        }
        since += bb;
    }
    return n;
}

static int expected_entries(int nb)
{
    bool last;
    return entries_for(nb, &last);
}

/* Time entries of a sealed segment of nb batches: sealing adds one for the
 * largest timestamp unless the last batch already has it. */
static int sealed_time_entries(int nb)
{
    bool last;
    int n = entries_for(nb, &last);
    return last ? n : n + 1;
}

/* Every batch [0, nb) is found by offset and by each of its timestamps;
 * nothing after it. */
static void check_lookups(struct plog *log, int nb)
{
    int64_t off, ts;

    cr_assert_eq(plog_end_offset(log), (int64_t)nb * NREC);
    for (int i = 0; i < nb; i++) {
        struct file_span s;
        cr_assert_eq(plog_read(log, (int64_t)i * NREC + 1, INT64_MAX, 1, true, &s), KERR_NONE);
        cr_assert_eq(s.pos, (int64_t)(i < seg1_from ? i : i - seg1_from) * batch_bytes(),
                     "offset %d", i * NREC + 1);
        fileio_close(s.fd);
        cr_assert_eq(plog_offset_for_time(log, TS(i) + 1, &off, &ts), KERR_NONE);
        cr_assert_eq(off, (int64_t)i * NREC + 1, "ts %lld", (long long)TS(i) + 1);
        cr_assert_eq(ts, TS(i) + 1);
    }
    cr_assert_eq(plog_offset_for_time(log, TS(nb - 1) + NREC, &off, &ts), KERR_NONE);
    cr_assert_eq(off, -1, "a timestamp past the log found offset %lld", (long long)off);
    cr_assert_eq(plog_max_timestamp(log, &off, &ts), KERR_NONE);
    cr_assert_eq(ts, TS(nb - 1) + NREC - 1);
    cr_assert_eq(off, (int64_t)(nb - 1) * NREC + NREC - 1);
}

Test(index_mmap, entries_stored_before_a_kill_are_in_the_files_and_serve_lookups)
{
    crash_after(0, 60);
    cr_assert_eq(st_file_size(st_path(IDX0)), 10485760, "left preallocated");
    int n = check_offset_index();
    cr_assert_eq(n, expected_entries(60));
    cr_assert_gt(n, 20);
    cr_assert_eq(check_time_index(), n);

    struct plog *log = open_at(0);
    check_lookups(log, 60);
    cr_assert(append_batch(log, 60)); /* appends continue the reopened mapping */
    check_lookups(log, 61);
    plog_close(log);
    cr_assert_eq(st_file_size(st_path(IDX0)), (int64_t)expected_entries(61) * 8, "trimmed");
    cr_assert_eq(check_offset_index(), expected_entries(61));
    cr_assert_eq(check_time_index(), sealed_time_entries(61));
}

/* A power loss can keep index pages the kernel wrote back while losing the
 * log's: entries then point past the recovered end. */
Test(index_mmap, entries_past_a_lost_log_tail_are_dropped_at_recovery)
{
    crash_after(20, 20); /* recovery point 60 */
    int64_t cut = 30 * batch_bytes();
    int n = check_offset_index();
    uint8_t e[8];
    cr_assert_eq(st_read_at(st_path(IDX0), (int64_t)(n - 1) * 8, e, 8), 8u);
    cr_assert_gt((int64_t)be32_load(e + 4), cut, "the last entry lies in what is cut");
    st_truncate(st_path(LOG0), cut);

    struct plog *log = open_at(60);
    check_lookups(log, 30);
    cr_assert(append_batch(log, 30));
    check_lookups(log, 31);
    cr_assert_eq(check_offset_index(), expected_entries(31));
    cr_assert_eq(check_time_index(), expected_entries(31));
    plog_close(log);
    cr_assert_eq(st_file_size(st_path(IDX0)), (int64_t)expected_entries(31) * 8);
    cr_assert_eq(check_time_index(), sealed_time_entries(31));
}

/* A closed log whose .log lost the batches after its last offset index
 * entry: the offset index still looks right, but the time index's final
 * entry names a lost batch. */
Test(index_mmap, time_entry_past_a_lost_log_tail_is_dropped_at_a_clean_open)
{
    struct plog *log = open_at(-1);
    for (int i = 0; i < 50; i++)
        cr_assert(append_batch(log, i));
    plog_close(log);
    int n = check_offset_index();
    uint8_t e[8];
    cr_assert_eq(st_read_at(st_path(IDX0), (int64_t)(n - 1) * 8, e, 8), 8u);
    int keep = (int)(be32_load(e + 4) / batch_bytes()) + 1;
    cr_assert_lt(keep, 50);
    st_truncate(st_path(LOG0), keep * batch_bytes());

    log = open_at(-1);
    check_lookups(log, keep);
    plog_close(log);
    cr_assert_eq(check_time_index(), sealed_time_entries(keep));
}

/* Writes bytes into the .timeindex of the closed log's sealed first
 * segment (50 batches; 10 more in the second). */
static void damage_time_index(int how)
{
    int64_t size = st_file_size(st_path(TIDX0));
    uint8_t junk[12];

    switch (how) {
    case 0: /* torn: the file ends inside an entry */
        st_truncate(st_path(TIDX0), size - 5);
        break;
    case 1: /* an entry in the middle overwritten */
        memset(junk, 0xff, sizeof(junk));
        st_write_at(st_path(TIDX0), (size / 12 / 2) * 12, junk, sizeof(junk));
        break;
    default: /* a well-formed entry after the last, naming no batch */
        be64_store(junk, (uint64_t)1 << 40);
        be32_store(junk + 8, 100000);
        st_write_at(st_path(TIDX0), size, junk, sizeof(junk));
        break;
    }
}

/* The third damage is an index larger than its segment: a well-formed
 * entry naming an offset past the segment's end, which would also claim
 * the log's largest timestamp. */
Test(index_mmap, torn_or_scribbled_time_index_of_a_sealed_segment_is_rebuilt)
{
    struct plog *log = open_at(-1);

    seg1_from = 50;
    for (int i = 0; i < 60; i++) {
        if (i == seg1_from)
            cr_assert_eq(plog_roll(log, 0), KERR_NONE);
        cr_assert(append_batch(log, i));
    }
    plog_close(log);
    for (int how = 0; how < 3; how++) {
        damage_time_index(how);
        log = open_at(-1);
        cr_assert_eq(plog_segment_count(log), 2);
        check_lookups(log, 60);
        plog_close(log);
        cr_assert_eq(st_file_size(st_path(TIDX0)), (int64_t)sealed_time_entries(50) * 12,
                     "damage %d left in the file", how);
        cr_assert_eq(check_time_index(), sealed_time_entries(50));
        cr_assert_eq(check_offset_index(), expected_entries(50));
    }
}

static int n_allocs, n_pwrites;
static bool allocs_fail;

static int counting_fallocate(int fd, off_t off, off_t len)
{
    n_allocs++;
    if (allocs_fail) {
        errno = ENOSPC;
        return -1;
    }
    return fileio_default_ops.fallocate(fd, off, len);
}

static ssize_t counting_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    n_pwrites++;
    return fileio_default_ops.pwrite(fd, buf, n, off);
}

static void install_counting(void)
{
    static struct fileio_ops counting;

    counting = fileio_default_ops;
    counting.fallocate = counting_fallocate;
    counting.pwrite = counting_pwrite;
    fileio_set_ops(&counting);
}

Test(index_mmap, full_disk_for_index_blocks_costs_entries_not_appends)
{
    struct plog *log = open_at(-1);

    install_counting();
    allocs_fail = true;
    for (int i = 0; i < 40; i++)
        cr_assert(append_batch(log, i), "append %d", i);
    cr_assert_gt(n_allocs, 0);
    check_lookups(log, 40);
    cr_assert_eq(check_offset_index(), 0, "no entry without its blocks");
    allocs_fail = false;
    for (int i = 40; i < 80; i++)
        cr_assert(append_batch(log, i));
    cr_assert_gt(check_offset_index(), 0, "entries again once blocks can be had");
    check_lookups(log, 80);
    fileio_set_ops(NULL);
    plog_close(log);
    log = open_at(-1);
    check_lookups(log, 80);
    plog_close(log);
}

Test(index_mmap, appends_make_no_syscall_per_index_entry)
{
    long page = sysconf(_SC_PAGESIZE);
    struct plog *log;

    cfg.index_interval_bytes = 0; /* an entry in both indexes for every batch */
    log = open_at(-1);
    cr_assert(append_batch(log, 0)); /* the first also checkpoints the leader epoch */
    install_counting();
    for (int i = 1; i < 1000; i++)
        cr_assert(append_batch(log, i));
    cr_assert_eq(n_pwrites, 999, "pwrites: %d for 999 appends", n_pwrites);
    /* one allocation per page of each index (an entry may straddle two) */
    cr_assert_leq(n_allocs, 1000 * 8 / page + 1000 * 12 / page + 2, "allocations: %d", n_allocs);
    cr_assert_geq(n_allocs, 2);
    fileio_set_ops(NULL);
    check_lookups(log, 1000);
    cr_assert_eq(check_offset_index(), 1000);
    cr_assert_eq(check_time_index(), 1000);
    plog_close(log);
}
