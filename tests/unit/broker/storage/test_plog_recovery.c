/*
 * tests/unit/broker/storage/test_plog_recovery.c — opening a partition log
 * after a crash (a child process appends and exits without closing), with
 * the recovery point the broker checkpointed: what lies below it is not
 * scanned (an empty log, a log flushed up to its end), what lies past it is
 * CRC-checked and a torn or corrupt tail there is truncated.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker/storage/batch.h"
#include "broker/storage/plog.h"
#include "storage_test.h"

#define LOG0 "00000000000000000000.log"
#define IDX0 "00000000000000000000.index"
#define TIDX0 "00000000000000000000.timeindex"

static struct plog_config cfg;

static void setup(void)
{
    st_tmpdir_up();
    plog_config_default(&cfg); /* 10 MiB indexes, as a broker preallocates them */
    cfg.segment_ms = 0;
    cfg.index_interval_bytes = 256;
}

TestSuite(plog_recovery, .init = setup, .fini = st_tmpdir_down, .timeout = 20);

static struct plog *open_at(int64_t recovery_point)
{
    char err[256] = "";
    struct plog_config c = cfg;
    c.recovery_point = recovery_point;
    struct plog *log = plog_open(st_dir, &c, err, sizeof(err));
    cr_assert_not_null(log, "plog_open: %s", err);
    return log;
}

static void append_one(struct plog *log, int nrec, int64_t ts)
{
    struct kbuf b;
    int64_t f, l;
    kbuf_init(&b);
    st_simple(&b, nrec, 30, ts);
    cr_assert_eq(plog_append(log, b.data, b.len, 1, 0, &f, &l), KERR_NONE);
    kbuf_destroy(&b);
}

/* In a child that then exits without closing (a crash): opens the log,
 * appends `flushed` batches of 3 records, flushes, appends `more`. */
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
            struct kbuf b;
            int64_t f, l;
            kbuf_init(&b);
            st_simple(&b, 3, 30, 1000 + i);
            if (plog_append(log, b.data, b.len, 1, 0, &f, &l) != KERR_NONE)
                _exit(3);
            kbuf_destroy(&b);
            if (i + 1 == flushed && plog_flush(log) != KERR_NONE)
                _exit(4);
        }
        _exit(0);
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static struct stat stat_of(const char *rel)
{
    struct stat st;
    cr_assert_eq(stat(st_path(rel), &st), 0, "%s", rel);
    return st;
}

static int64_t batch_bytes(void)
{
    struct kbuf b;
    kbuf_init(&b);
    st_simple(&b, 3, 30, 1000);
    int64_t n = (int64_t)b.len;
    kbuf_destroy(&b);
    return n;
}

Test(plog_recovery, empty_log_after_a_crash_is_neither_scanned_nor_rewritten)
{
    crash_after(0, 0);
    struct stat idx = stat_of(IDX0), tidx = stat_of(TIDX0);
    cr_assert_eq(idx.st_size, 10485760, "the crashed log left its index preallocated");
    cr_assert_eq(idx.st_blocks, 0);
    cr_assert_eq(tidx.st_blocks, 0);
    usleep(50 * 1000); /* past the filesystem's timestamp granularity */

    struct plog *log = open_at(0); /* no checkpoint: recover from offset 0 */
    cr_assert_eq(plog_end_offset(log), 0);
    struct stat idx2 = stat_of(IDX0), tidx2 = stat_of(TIDX0);
    /* neither truncated and re-extended (ctime) nor read into (blocks) */
    cr_assert(idx2.st_ctim.tv_sec == idx.st_ctim.tv_sec &&
                  idx2.st_ctim.tv_nsec == idx.st_ctim.tv_nsec,
              "the empty .index was rewritten");
    cr_assert(tidx2.st_ctim.tv_sec == tidx.st_ctim.tv_sec &&
                  tidx2.st_ctim.tv_nsec == tidx.st_ctim.tv_nsec,
              "the empty .timeindex was rewritten");
    cr_assert_eq(idx2.st_blocks, 0);
    cr_assert_eq(plog_open_checked_bytes(log), 0);

    /* and it works as a log */
    append_one(log, 2, 5000);
    plog_close(log);
    log = open_at(-1);
    cr_assert_eq(plog_end_offset(log), 2);
    plog_close(log);
}

Test(plog_recovery, log_flushed_to_its_end_is_not_scanned)
{
    crash_after(40, 0); /* recovery point 120 = the log end */
    int64_t size = st_file_size(st_path(LOG0));
    cr_assert_eq(size, 40 * batch_bytes());
    /* Damage a batch below the recovery point: the recovery scan would
     * stop there, so the log keeping its end shows nothing below the
     * point was read. */
    uint8_t x = 0x5a;
    st_write_at(st_path(LOG0), 20 * batch_bytes() + batch_bytes() - 3, &x, 1);

    struct plog *log = open_at(120);
    cr_assert_eq(plog_end_offset(log), 120);
    cr_assert_eq(plog_open_checked_bytes(log), 0);
    cr_assert_eq(st_file_size(st_path(LOG0)), size);
    append_one(log, 1, 9000);
    cr_assert_eq(plog_end_offset(log), 121);
    plog_close(log);

    /* The same log recovered from offset 0 is scanned and cut there. */
    log = open_at(0);
    cr_assert_eq(plog_end_offset(log), 60);
    cr_assert_gt(plog_open_checked_bytes(log), 0);
    plog_close(log);
}

Test(plog_recovery, torn_tail_past_the_recovery_point_is_truncated)
{
    crash_after(10, 5); /* recovery point 30; offsets 30..44 were never flushed */
    int64_t bb = batch_bytes();
    st_truncate(st_path(LOG0), 15 * bb - 7); /* the last batch is torn */

    struct plog *log = open_at(30);
    cr_assert_eq(plog_end_offset(log), 42);
    cr_assert_eq(st_file_size(st_path(LOG0)), 14 * bb);
    /* only the batches past the point were CRC-checked */
    cr_assert_eq(plog_open_checked_bytes(log), 4 * bb);
    append_one(log, 1, 9000);
    cr_assert_eq(plog_end_offset(log), 43);
    plog_close(log);
    log = open_at(-1);
    cr_assert_eq(plog_end_offset(log), 43);
    plog_close(log);
}

Test(plog_recovery, corrupt_batch_right_past_the_recovery_point_is_dropped)
{
    crash_after(10, 5);
    int64_t bb = batch_bytes();
    uint8_t x = 0xa5;
    st_write_at(st_path(LOG0), 10 * bb + bb - 2, &x, 1); /* a value byte of offsets 30..32 */

    struct plog *log = open_at(30);
    cr_assert_eq(plog_end_offset(log), 30);
    cr_assert_eq(st_file_size(st_path(LOG0)), 10 * bb);
    plog_close(log);
}

Test(plog_recovery, recovery_point_in_an_earlier_segment_checks_the_later_ones)
{
    cfg.segment_bytes = (int32_t)(6 * batch_bytes()); /* 6 batches a segment */
    crash_after(4, 14);                               /* recovery point 12, LEO 54 */
    char name[64];
    snprintf(name, sizeof(name), "%020d.log", 36);
    int64_t size = st_file_size(st_path(name));
    cr_assert_eq(size, 6 * batch_bytes());
    st_truncate(st_path(name), size - 1);

    struct plog *log = open_at(12);
    cr_assert_eq(plog_segment_count(log), 3);
    cr_assert_eq(plog_end_offset(log), 51);
    /* segment 0 from offset 12, segments 1 and 2 whole */
    cr_assert_eq(plog_open_checked_bytes(log), (2 + 6 + 5) * batch_bytes());
    plog_close(log);
}
