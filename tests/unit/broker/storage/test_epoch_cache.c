/*
 * tests/unit/broker/storage/test_epoch_cache.c — the leader epoch cache
 * (broker/storage/epoch_cache.c): assign/truncate/end-offset semantics as
 * in Kafka's LeaderEpochFileCache, the leader-epoch-checkpoint file, and
 * its integration in the partition log (plog.c): leader and follower
 * appends, truncation, log start moves, reopen and rebuild from the batch
 * headers when the file is missing, corrupt or stale.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/storage/batch.h"
#include "broker/storage/epoch_cache.h"
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

TestSuite(epoch_cache, .init = setup, .fini = teardown, .timeout = 20);

/* ---- helpers ----------------------------------------------------------- */

/* Asserts the cache holds exactly the n (epoch, start) pairs in want. */
static void expect_entries(const struct epoch_cache *c, const int64_t (*want)[2], int n)
{
    cr_assert_eq(epoch_cache_count(c), n, "entries: %d, want %d", epoch_cache_count(c), n);
    for (int i = 0; i < n; i++) {
        const struct logdir_epoch_entry *e = epoch_cache_entry(c, i);
        cr_assert_eq(e->epoch, want[i][0], "entry %d epoch %d want %lld", i, e->epoch,
                     (long long)want[i][0]);
        cr_assert_eq(e->start_offset, want[i][1], "entry %d start %lld want %lld", i,
                     (long long)e->start_offset, (long long)want[i][1]);
    }
}

#define EXPECT(c, ...)                                                                             \
    do {                                                                                           \
        static const int64_t w_[][2] = {__VA_ARGS__};                                              \
        expect_entries((c), w_, (int)(sizeof(w_) / sizeof(w_[0])));                                \
    } while (0)

static void expect_end(const struct epoch_cache *c, int32_t epoch, int64_t leo, int32_t want_epoch,
                       int64_t want_offset)
{
    int32_t e = -7;
    int64_t o = -7;

    epoch_cache_end_offset_for(c, epoch, leo, &e, &o);
    cr_assert(e == want_epoch && o == want_offset,
              "end_offset_for(%d) = (%d, %lld), want (%d, %lld)", epoch, e, (long long)o,
              want_epoch, (long long)want_offset);
}

static void expect_plog_end(struct plog *log, int32_t epoch, int32_t want_epoch,
                            int64_t want_offset)
{
    int32_t e = -7;
    int64_t o = -7;

    cr_assert_eq(plog_end_offset_for_epoch(log, epoch, &e, &o), KERR_NONE);
    cr_assert(e == want_epoch && o == want_offset,
              "plog_end_offset_for_epoch(%d) = (%d, %lld), want (%d, %lld)", epoch, e, (long long)o,
              want_epoch, (long long)want_offset);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

/* The whole file as a string in a static buffer ("" if missing). */
static const char *read_text(const char *path)
{
    static char buf[4096];
    FILE *f = fopen(path, "r");
    size_t n = 0;

    buf[0] = '\0';
    if (f) {
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
    return buf;
}

static const char *ckpt_path(void) { return st_path(LOGDIR_EPOCH_CKPT); }

static struct plog *open_log(void)
{
    char err[256] = "";
    struct plog *log = plog_open(st_dir, &cfg, err, sizeof(err));

    cr_assert_not_null(log, "plog_open: %s", err);
    return log;
}

/* Leader append of one batch of nrec records under epoch; returns its
 * first offset. */
static int64_t append_epoch(struct plog *log, int nrec, int32_t epoch)
{
    struct kbuf b;
    int64_t first = -1, last = -1;

    kbuf_init(&b);
    st_simple(&b, nrec, 20, 1000);
    cr_assert_eq(plog_append(log, b.data, b.len, epoch, 0, &first, &last), KERR_NONE);
    kbuf_destroy(&b);
    return first;
}

/* Adds to b a batch of nrec records already carrying base and epoch, as a
 * leader's fetch response would. */
static void replica_batch(struct kbuf *b, int nrec, int64_t base, int32_t epoch)
{
    size_t at = st_simple(b, nrec, 20, 1000);

    batch_set_offset_epoch(b->data + at, base, epoch);
}

/* The partitionLeaderEpoch of the batch holding offset, read from disk. */
static int32_t stored_epoch(struct plog *log, int64_t offset)
{
    struct file_span s;
    uint8_t hdr[BATCH_HDR_SIZE];
    struct batch_hdr h;

    cr_assert_eq(plog_read(log, offset, INT64_MAX, 1, true, &s), KERR_NONE);
    cr_assert_geq(s.fd, 0);
    cr_assert_eq(st_read_fd(s.fd, s.pos, hdr, sizeof(hdr)), sizeof(hdr));
    close(s.fd);
    cr_assert_eq(batch_parse_hdr(hdr, sizeof(hdr), &h), KERR_NONE);
    return h.leader_epoch;
}

/* ---- cache semantics (memory only) ------------------------------------- */

Test(epoch_cache, empty_cache_knows_nothing)
{
    struct epoch_cache *c = epoch_cache_new(NULL);

    cr_assert_not_null(c);
    cr_assert_eq(epoch_cache_latest_epoch(c), -1);
    expect_end(c, 0, 10, -1, -1);
    expect_end(c, -1, 10, -1, -1);
    cr_assert_not(epoch_cache_truncate_from_end(c, 0));
    cr_assert_not(epoch_cache_truncate_from_start(c, 5));
    cr_assert_not(epoch_cache_clear(c));
    cr_assert_eq(epoch_cache_flush(c), KERR_NONE, "memory-only flush is a no-op");
    epoch_cache_free(c);
    epoch_cache_free(NULL);
}

Test(epoch_cache, assign_keeps_both_columns_strictly_increasing)
{
    struct epoch_cache *c = epoch_cache_new(NULL);

    cr_assert(epoch_cache_assign(c, 0, 0));
    cr_assert(epoch_cache_assign(c, 1, 10));
    cr_assert_not(epoch_cache_assign(c, 1, 15), "same epoch later: nothing new");
    cr_assert_not(epoch_cache_assign(c, 0, 20), "older epoch after the latest start: ignored");
    cr_assert_not(epoch_cache_assign(c, -1, 40), "undefined epoch");
    cr_assert_not(epoch_cache_assign(c, 9, -1), "undefined offset");
    cr_assert(epoch_cache_assign(c, 3, 30));
    EXPECT(c, {0, 0}, {1, 10}, {3, 30});
    cr_assert_eq(epoch_cache_latest_epoch(c), 3);
    /* A newer epoch at the same start replaces the empty one. */
    cr_assert(epoch_cache_assign(c, 4, 30));
    EXPECT(c, {0, 0}, {1, 10}, {4, 30});
    epoch_cache_free(c);
}

Test(epoch_cache, assign_below_latest_start_drops_conflicting_entries)
{
    struct epoch_cache *c = epoch_cache_new(NULL);

    epoch_cache_assign(c, 0, 0);
    epoch_cache_assign(c, 1, 10);
    epoch_cache_assign(c, 3, 30);
    cr_assert(epoch_cache_assign(c, 4, 20));
    EXPECT(c, {0, 0}, {1, 10}, {4, 20});
    cr_assert(epoch_cache_assign(c, 2, 5), "older epoch, lower start: newer entries go");
    EXPECT(c, {0, 0}, {2, 5});
    cr_assert(epoch_cache_assign(c, 2, 3), "same epoch, lower start: moved down");
    EXPECT(c, {0, 0}, {2, 3});
    cr_assert(epoch_cache_assign(c, 1, 0));
    EXPECT(c, {1, 0});
    epoch_cache_free(c);
}

Test(epoch_cache, end_offset_for_follows_kafka)
{
    struct epoch_cache *c = epoch_cache_new(NULL);

    epoch_cache_assign(c, 0, 0);
    epoch_cache_assign(c, 1, 10);
    epoch_cache_assign(c, 3, 30);
    expect_end(c, 3, 50, 3, 50); /* latest: the LEO */
    expect_end(c, 2, 50, 1, 30); /* unknown, in between: floor epoch, next start */
    expect_end(c, 1, 50, 1, 30);
    expect_end(c, 0, 50, 0, 10);
    expect_end(c, 4, 50, -1, -1);  /* newer than anything known */
    expect_end(c, -1, 50, -1, -1); /* undefined */
    epoch_cache_clear(c);
    epoch_cache_assign(c, 2, 5);
    epoch_cache_assign(c, 4, 9);
    expect_end(c, 1, 20, 1, 5); /* below the first: requested epoch, first start */
    expect_end(c, 4, 20, 4, 20);
    epoch_cache_free(c);
}

Test(epoch_cache, truncate_from_end_removes_entries_at_or_after_offset)
{
    struct epoch_cache *c = epoch_cache_new(NULL);

    epoch_cache_assign(c, 0, 0);
    epoch_cache_assign(c, 1, 10);
    epoch_cache_assign(c, 3, 30);
    cr_assert_not(epoch_cache_truncate_from_end(c, 31));
    cr_assert(epoch_cache_truncate_from_end(c, 30));
    EXPECT(c, {0, 0}, {1, 10});
    cr_assert(epoch_cache_truncate_from_end(c, 0));
    cr_assert_eq(epoch_cache_count(c), 0);
    cr_assert_eq(epoch_cache_latest_epoch(c), -1);
    epoch_cache_free(c);
}

Test(epoch_cache, truncate_from_start_keeps_the_covering_entry)
{
    struct epoch_cache *c = epoch_cache_new(NULL);

    epoch_cache_assign(c, 0, 0);
    epoch_cache_assign(c, 1, 10);
    epoch_cache_assign(c, 3, 30);
    cr_assert_not(epoch_cache_truncate_from_start(c, 0));
    cr_assert(epoch_cache_truncate_from_start(c, 15));
    EXPECT(c, {1, 15}, {3, 30});
    cr_assert_not(epoch_cache_truncate_from_start(c, 15));
    cr_assert(epoch_cache_truncate_from_start(c, 30));
    EXPECT(c, {3, 30});
    cr_assert(epoch_cache_truncate_from_start(c, 45));
    EXPECT(c, {3, 45});
    epoch_cache_free(c);
}

/* ---- the checkpoint file ------------------------------------------------ */

Test(epoch_cache, file_round_trip_in_kafka_format)
{
    struct epoch_cache *c = epoch_cache_new(ckpt_path());
    struct epoch_cache *d = epoch_cache_new(ckpt_path());

    cr_assert_eq(epoch_cache_load(c), KERR__NOENT);
    epoch_cache_assign(c, 0, 0);
    epoch_cache_assign(c, 1, 10);
    epoch_cache_assign(c, 3, 2147483648LL);
    cr_assert(epoch_cache_is_dirty(c));
    cr_assert_eq(epoch_cache_flush(c), KERR_NONE);
    cr_assert_not(epoch_cache_is_dirty(c));
    cr_assert_str_eq(read_text(ckpt_path()), "0\n3\n0 0\n1 10\n3 2147483648\n");
    cr_assert_eq(st_count_files(st_dir, ".tmp"), 0, "temp file renamed away");

    cr_assert_eq(epoch_cache_load(d), KERR_NONE);
    EXPECT(d, {0, 0}, {1, 10}, {3, 2147483648LL});
    cr_assert_not(epoch_cache_is_dirty(d));

    epoch_cache_clear(c);
    cr_assert_eq(epoch_cache_flush(c), KERR_NONE);
    cr_assert_str_eq(read_text(ckpt_path()), "0\n0\n");
    cr_assert_eq(epoch_cache_load(d), KERR_NONE);
    cr_assert_eq(epoch_cache_count(d), 0);
    epoch_cache_free(c);
    epoch_cache_free(d);
}

Test(epoch_cache, corrupt_files_are_refused)
{
    static const char *const bad[] = {
        "",                   /* empty */
        "garbage\n",          /* no version */
        "1\n1\n0 0\n",        /* unknown version */
        "0\n2\n0 0\n",        /* fewer lines than the count */
        "0\n1\n0 x\n",        /* bad number */
        "0\n2\n1 10\n1 20\n", /* epochs not increasing */
        "0\n2\n1 10\n2 10\n", /* start offsets not increasing */
        "0\n2\n3 10\n2 20\n", /* epochs decreasing */
        "0\n1\n-1 0\n",       /* negative epoch */
    };
    struct epoch_cache *c = epoch_cache_new(ckpt_path());

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        epoch_cache_assign(c, 7, 70);
        write_text(ckpt_path(), bad[i]);
        cr_assert_eq(epoch_cache_load(c), KERR__CORRUPT, "file %zu accepted: %s", i, bad[i]);
        cr_assert_eq(epoch_cache_count(c), 0, "a refused file leaves the cache empty");
    }
    epoch_cache_free(c);
}

/* ---- plog integration --------------------------------------------------- */

Test(epoch_cache, plog_append_starts_epochs_at_first_offset)
{
    struct plog *log = open_log();

    cr_assert_eq(plog_latest_epoch(log), -1);
    expect_plog_end(log, 0, -1, -1);
    cr_assert_eq(append_epoch(log, 2, 0), 0); /* 0-1 */
    cr_assert_eq(append_epoch(log, 3, 1), 2); /* 2-4 */
    cr_assert_eq(append_epoch(log, 1, 1), 5); /* 5 */
    cr_assert_eq(append_epoch(log, 2, 3), 6); /* 6-7 */
    cr_assert_eq(plog_latest_epoch(log), 3);
    cr_assert_str_eq(read_text(ckpt_path()), "0\n3\n0 0\n1 2\n3 6\n");
    expect_plog_end(log, 0, 0, 2);
    expect_plog_end(log, 1, 1, 6);
    expect_plog_end(log, 2, 1, 6);
    expect_plog_end(log, 3, 3, 8);
    expect_plog_end(log, 4, -1, -1);
    cr_assert_eq(stored_epoch(log, 3), 1);
    cr_assert_eq(stored_epoch(log, 7), 3);
    plog_close(log);

    log = open_log();
    cr_assert_eq(plog_latest_epoch(log), 3);
    expect_plog_end(log, 1, 1, 6);
    expect_plog_end(log, 3, 3, 8);
    plog_close(log);
}

Test(epoch_cache, plog_truncate_trims_the_cache_and_survives_reopen)
{
    struct plog *log = open_log();

    append_epoch(log, 2, 0);
    append_epoch(log, 3, 1);
    append_epoch(log, 2, 3); /* 5-6 */
    cr_assert_eq(plog_truncate_to(log, 5), KERR_NONE);
    cr_assert_eq(plog_end_offset(log), 5);
    cr_assert_eq(plog_latest_epoch(log), 1);
    expect_plog_end(log, 1, 1, 5);
    expect_plog_end(log, 3, -1, -1);
    cr_assert_str_eq(read_text(ckpt_path()), "0\n2\n0 0\n1 2\n");
    /* A new leader epoch after the truncation. */
    cr_assert_eq(append_epoch(log, 1, 4), 5);
    expect_plog_end(log, 1, 1, 5);
    expect_plog_end(log, 3, 1, 5);
    expect_plog_end(log, 4, 4, 6);
    plog_close(log);

    log = open_log();
    cr_assert_eq(plog_latest_epoch(log), 4);
    expect_plog_end(log, 1, 1, 5);
    cr_assert_eq(plog_truncate_to(log, 1), KERR_NONE); /* inside the first batch: it goes whole */
    cr_assert_eq(plog_end_offset(log), 0);
    cr_assert_eq(plog_latest_epoch(log), -1);
    cr_assert_str_eq(read_text(ckpt_path()), "0\n0\n");
    plog_close(log);
}

Test(epoch_cache, plog_truncate_fully_clears_the_cache)
{
    struct plog *log = open_log();

    append_epoch(log, 2, 0);
    append_epoch(log, 2, 2);
    cr_assert_eq(plog_truncate_fully(log, 100), KERR_NONE);
    cr_assert_eq(plog_latest_epoch(log), -1);
    expect_plog_end(log, 2, -1, -1);
    cr_assert_str_eq(read_text(ckpt_path()), "0\n0\n");
    cr_assert_eq(append_epoch(log, 1, 5), 100);
    expect_plog_end(log, 5, 5, 101);
    expect_plog_end(log, 2, 2, 100);
    plog_close(log);
}

Test(epoch_cache, plog_replica_append_takes_epochs_from_headers)
{
    struct plog *log = open_log();
    struct kbuf b;
    int64_t first = -1, last = -1;

    kbuf_init(&b);
    replica_batch(&b, 2, 0, 0); /* 0-1 */
    replica_batch(&b, 2, 2, 2); /* 2-3 */
    replica_batch(&b, 1, 4, 2); /* 4 */
    replica_batch(&b, 2, 5, 5); /* 5-6 */
    cr_assert_eq(plog_append_replica(log, b.data, b.len, 0, &first, &last), KERR_NONE);
    cr_assert_eq(first, 0);
    cr_assert_eq(last, 6);
    cr_assert_eq(plog_latest_epoch(log), 5);
    cr_assert_str_eq(read_text(ckpt_path()), "0\n3\n0 0\n2 2\n5 5\n");
    expect_plog_end(log, 0, 0, 2);
    expect_plog_end(log, 1, 0, 2);
    expect_plog_end(log, 2, 2, 5);
    expect_plog_end(log, 5, 5, 7);
    cr_assert_eq(stored_epoch(log, 3), 2, "replica batches are stored unchanged");

    /* A refused append (offsets below the LEO) changes nothing. */
    kbuf_reset(&b);
    replica_batch(&b, 1, 3, 9);
    cr_assert_eq(plog_append_replica(log, b.data, b.len, 0, &first, &last), KERR__INVALID);
    cr_assert_eq(plog_latest_epoch(log), 5);
    kbuf_destroy(&b);
    plog_close(log);
}

Test(epoch_cache, plog_log_start_moves_trim_the_front)
{
    struct plog *log;
    struct plog_retention r = {
        .now_ms = 0, .retention_ms = -1, .retention_bytes = -1, .max_offset = INT64_MAX};
    int deleted = 0;

    cfg.segment_bytes = 150; /* one batch per segment */
    log = open_log();
    append_epoch(log, 2, 0); /* 0-1 */
    append_epoch(log, 2, 1); /* 2-3 */
    append_epoch(log, 2, 1); /* 4-5 */
    append_epoch(log, 2, 2); /* 6-7 */
    cr_assert_geq(plog_segment_count(log), 4);
    cr_assert_eq(plog_advance_start_offset(log, 3), KERR_NONE);
    cr_assert_str_eq(read_text(ckpt_path()), "0\n2\n1 3\n2 6\n");
    expect_plog_end(log, 0, 0, 3); /* below the first known epoch */
    cr_assert_eq(plog_apply_retention(log, &r, &deleted), KERR_NONE);
    cr_assert_geq(deleted, 1);
    cr_assert_eq(plog_segment_base(log, 0), 2);
    cr_assert_eq(plog_start_offset(log), 3, "DeleteRecords' start stays");
    cr_assert_str_eq(read_text(ckpt_path()), "0\n2\n1 3\n2 6\n");
    r.retention_bytes = 1;
    r.max_offset = 6;
    cr_assert_eq(plog_apply_retention(log, &r, &deleted), KERR_NONE);
    cr_assert_eq(plog_start_offset(log), 6);
    cr_assert_str_eq(read_text(ckpt_path()), "0\n1\n2 6\n");
    plog_close(log);

    log = open_log();
    cr_assert_eq(plog_start_offset(log), 6);
    cr_assert_str_eq(read_text(ckpt_path()), "0\n1\n2 6\n");
    expect_plog_end(log, 2, 2, 8);
    plog_close(log);
}

Test(epoch_cache, plog_assign_epoch_starts_an_empty_epoch_at_the_leo)
{
    struct plog *log = open_log();

    append_epoch(log, 3, 1);
    cr_assert_eq(plog_assign_epoch(log, 4), KERR_NONE);
    cr_assert_eq(plog_latest_epoch(log), 4);
    expect_plog_end(log, 1, 1, 3);
    expect_plog_end(log, 4, 4, 3);
    cr_assert_eq(plog_assign_epoch(log, 2), KERR_NONE, "older: ignored");
    cr_assert_eq(plog_latest_epoch(log), 4);
    cr_assert_eq(plog_assign_epoch(log, -1), KERR__INVALID);
    plog_close(log);
    /* Kept across a restart although nothing was written in it. */
    log = open_log();
    cr_assert_eq(plog_latest_epoch(log), 4);
    cr_assert_eq(append_epoch(log, 1, 4), 3);
    cr_assert_str_eq(read_text(ckpt_path()), "0\n2\n1 0\n4 3\n");
    plog_close(log);
}

/* Writes a log with epochs 0 (0-1), 2 (2-4) and 5 (5-6) over several
 * segments, then closes it. */
static void build_three_epoch_log(void)
{
    struct plog *log;

    cfg.segment_bytes = 400;
    log = open_log();
    append_epoch(log, 2, 0);
    append_epoch(log, 2, 2);
    append_epoch(log, 1, 2);
    append_epoch(log, 2, 5);
    cr_assert_geq(plog_segment_count(log), 2);
    plog_close(log);
    cr_assert_str_eq(read_text(ckpt_path()), "0\n3\n0 0\n2 2\n5 5\n");
}

static void expect_three_epochs_rebuilt(void)
{
    struct plog *log = open_log();

    cr_assert_eq(plog_latest_epoch(log), 5);
    expect_plog_end(log, 0, 0, 2);
    expect_plog_end(log, 3, 2, 5);
    expect_plog_end(log, 5, 5, 7);
    plog_close(log);
    cr_assert_str_eq(read_text(ckpt_path()), "0\n3\n0 0\n2 2\n5 5\n", "file rewritten");
}

Test(epoch_cache, plog_rebuilds_missing_checkpoint_from_batches)
{
    build_three_epoch_log();
    cr_assert_eq(unlink(ckpt_path()), 0);
    expect_three_epochs_rebuilt();
}

Test(epoch_cache, plog_rebuilds_corrupt_checkpoint_from_batches)
{
    build_three_epoch_log();
    write_text(ckpt_path(), "0\n3\n0 0\n2 oops\n");
    expect_three_epochs_rebuilt();
    write_text(ckpt_path(), "0\n2\n4 0\n2 2\n"); /* parses, but not monotonic */
    expect_three_epochs_rebuilt();
}

Test(epoch_cache, plog_rebuilds_stale_checkpoint_from_batches)
{
    build_three_epoch_log();
    /* Written before the last epoch's batches reached the log (crash
     * between the append and the checkpoint). */
    write_text(ckpt_path(), "0\n2\n0 0\n2 2\n");
    expect_three_epochs_rebuilt();
    /* An epoch that does not match the last batch. */
    write_text(ckpt_path(), "0\n3\n0 0\n2 2\n4 5\n");
    expect_three_epochs_rebuilt();
    /* An epoch starting inside the last batch. */
    write_text(ckpt_path(), "0\n4\n0 0\n2 2\n5 5\n6 6\n");
    expect_three_epochs_rebuilt();
}

Test(epoch_cache, plog_open_drops_entries_beyond_the_leo)
{
    struct plog *log;

    build_three_epoch_log();
    /* Checkpoint ahead of a log whose tail was lost: 7 = LEO is kept (an
     * epoch begun with nothing written), later ones go. */
    write_text(ckpt_path(), "0\n5\n0 0\n2 2\n5 5\n6 7\n8 20\n");
    log = open_log();
    cr_assert_eq(plog_latest_epoch(log), 6);
    expect_plog_end(log, 5, 5, 7);
    expect_plog_end(log, 6, 6, 7);
    expect_plog_end(log, 8, -1, -1);
    plog_close(log);
    cr_assert_str_eq(read_text(ckpt_path()), "0\n4\n0 0\n2 2\n5 5\n6 7\n");
}

Test(epoch_cache, plog_open_after_torn_tail_trims_the_cache)
{
    struct plog *log;
    int64_t size;

    cfg.recovery_point = 0; /* scan everything at open, as after a crash */
    log = open_log();
    append_epoch(log, 2, 0);
    append_epoch(log, 2, 3);
    plog_close(log);
    size = st_file_size(st_path("00000000000000000000.log"));
    st_truncate(st_path("00000000000000000000.log"), size - 5); /* tear the epoch-3 batch */
    log = open_log();
    cr_assert_eq(plog_end_offset(log), 2);
    /* Epoch 3 starts at the LEO now: kept, as an epoch with nothing
     * written yet (the same answer as before it wrote anything). */
    cr_assert_eq(plog_latest_epoch(log), 3);
    expect_plog_end(log, 0, 0, 2);
    expect_plog_end(log, 3, 3, 2);
    /* A leader append under epoch 3 again lands at the same start. */
    cr_assert_eq(append_epoch(log, 1, 3), 2);
    plog_close(log);
    cr_assert_str_eq(read_text(ckpt_path()), "0\n2\n0 0\n3 2\n");
    /* Tear it further, into the epoch-0 batch: the whole log goes and so
     * do the entries past the LEO. */
    st_truncate(st_path("00000000000000000000.log"), 30);
    log = open_log();
    cr_assert_eq(plog_end_offset(log), 0);
    cr_assert_eq(plog_latest_epoch(log), 0, "(0, 0) starts at the LEO");
    expect_plog_end(log, 3, -1, -1);
    plog_close(log);
    cr_assert_str_eq(read_text(ckpt_path()), "0\n1\n0 0\n");
}

static int fault_rename_fails;
static int n_fsyncs;
static int faulty_rename(const char *from, const char *to)
{
    if (fault_rename_fails) {
        errno = EIO;
        return -1;
    }
    return fileio_default_ops.rename(from, to);
}

static int counting_fsync(int fd)
{
    n_fsyncs++;
    return fileio_default_ops.fsync(fd);
}

Test(epoch_cache, failed_checkpoint_write_is_retried_and_repaired)
{
    static struct fileio_ops faulty;
    struct plog *log = open_log();

    append_epoch(log, 2, 0);
    faulty = fileio_default_ops;
    faulty.rename = faulty_rename;
    fault_rename_fails = 1;
    fileio_set_ops(&faulty);
    /* The data is written; only the checkpoint (its rename) fails. */
    cr_assert_eq(append_epoch(log, 1, 1), 2);
    cr_assert_eq(plog_latest_epoch(log), 1, "memory keeps the epoch");
    cr_assert_str_eq(read_text(ckpt_path()), "0\n1\n0 0\n", "old file left whole");
    cr_assert_eq(st_count_files(st_dir, ".tmp"), 0, "temp file removed");
    fault_rename_fails = 0;
    cr_assert_eq(plog_flush(log), KERR_NONE);
    cr_assert_str_eq(read_text(ckpt_path()), "0\n2\n0 0\n1 2\n", "retried at flush");
    fileio_set_ops(NULL);
    plog_close(log);
}

/* A new leader epoch is written with a rename only: no fsync of the file
 * or the directory (the checkpoint is rebuilt from the batches when a
 * machine crash loses it; see the tests below and epoch_cache.c). */
Test(epoch_cache, new_epoch_checkpoint_is_written_without_fsync)
{
    static struct fileio_ops counting;
    struct plog *log = open_log();

    append_epoch(log, 2, 0);
    counting = fileio_default_ops;
    counting.fsync = counting_fsync;
    fileio_set_ops(&counting);
    n_fsyncs = 0;
    for (int32_t e = 1; e <= 20; e++)
        cr_assert_eq(plog_assign_epoch(log, e), KERR_NONE);
    cr_assert_eq(append_epoch(log, 1, 21), 2);
    cr_assert_eq(n_fsyncs, 0, "fsyncs: %d", n_fsyncs);
    fileio_set_ops(NULL);
    cr_assert_str_eq(read_text(ckpt_path()), "0\n2\n0 0\n21 2\n");
    plog_close(log);
}

/* What a machine crash can leave of a checkpoint that was not fsynced: an
 * empty file, or a whole older snapshot. Open rebuilds both from the log. */
Test(epoch_cache, plog_rebuilds_checkpoint_lost_in_a_machine_crash)
{
    build_three_epoch_log();
    write_text(ckpt_path(), "");
    expect_three_epochs_rebuilt();
    write_text(ckpt_path(), "0\n1\n0 0\n"); /* before epochs 2 and 5 */
    expect_three_epochs_rebuilt();
    write_text(ckpt_path(), "0\n0\n"); /* before any epoch */
    expect_three_epochs_rebuilt();
}
