/*
 * tests/unit/broker/storage/test_cleaner_txn.c — the log cleaner and
 * transactions (docs/storage.md "Compaction"): the filtering decisions of
 * cleaner_txn.h on batch headers, and passes over real logs with
 * transactional batches and markers: aborted records removed and kept out
 * of the offset map, markers kept while their data is there and until the
 * delete horizon, the cleanable part ending at the first unstable offset,
 * the aborted transaction index and producer state after cleaning and
 * after reopening (from a snapshot and rebuilt from the log).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/storage/batch.h"
#include "broker/storage/cleaner.h"
#include "broker/storage/cleaner_txn.h"
#include "broker/storage/offset_map.h"
#include "broker/storage/plog.h"
#include "cleaner_test.h"
#include "storage_test.h"

#define T0 1700000000000LL
#define NOW (T0 + 3600000)
#define ABORT 0
#define COMMIT 1

/* ---- decisions on batch headers ------------------------------------------ */

static struct batch_hdr hdr(int64_t base, int32_t delta, int64_t pid, int16_t epoch, bool txn,
                            bool control)
{
    struct batch_hdr h = {.base_offset = base,
                          .last_offset_delta = delta,
                          .producer_id = pid,
                          .producer_epoch = epoch,
                          .records_count = delta + 1};
    h.attributes = (int16_t)((txn ? BATCH_ATTR_TRANSACTIONAL : 0) |
                             (control ? BATCH_ATTR_CONTROL | BATCH_ATTR_TRANSACTIONAL : 0));
    return h;
}

static bool data(struct cleaner_txn *t, struct batch_hdr h)
{
    bool aborted;
    cr_assert_eq(cleaner_txn_data(t, &h, &aborted), KERR_NONE);
    return aborted;
}

static bool control(struct cleaner_txn *t, struct batch_hdr h, int type)
{
    bool discardable;
    cr_assert_eq(cleaner_txn_control(t, &h, type, &discardable), KERR_NONE);
    return discardable;
}

Test(cleaner_txn, aborted_batches_and_marker_decisions)
{
    /* producer 1 aborts [10, 14], producer 2 commits [11, 13], producer 1
     * aborts again [20, 22]; producer 3 writes no transaction */
    struct txnidx_list l = {0};
    struct aborted_txn e1 = {1, 10, 14, 15}, e2 = {1, 20, 22, 23}, far = {4, 100, 120, 121};
    struct cleaner_txn t;

    cr_assert(txnidx_list_push(&l, &e1) && txnidx_list_push(&l, &e2) && txnidx_list_push(&l, &far));
    cr_assert_eq(cleaner_txn_init(&t, &l, 50), KERR_NONE);
    cr_assert_eq(t.naborted, 2, "entries starting at or past the cleanable part are not copied");
    cleaner_txn_rewind(&t, 0);
    cr_assert(data(&t, hdr(10, 0, 1, 0, true, false)), "first batch of an aborted txn");
    cr_assert_not(data(&t, hdr(11, 1, 2, 0, true, false)), "another producer's txn commits");
    cr_assert_not(data(&t, hdr(13, 0, 3, 0, false, false)), "not transactional");
    cr_assert_not(control(&t, hdr(13, 0, 2, 0, true, true), COMMIT), "data of it was read");
    cr_assert_not(control(&t, hdr(14, 0, 1, 0, true, true), ABORT), "data of it was read");
    cr_assert_not(data(&t, hdr(15, 0, 1, 0, true, false)), "after its ABORT: a new txn");
    cr_assert_not(control(&t, hdr(16, 0, 1, 0, true, true), COMMIT));
    /* the second abort: no data read (a previous pass removed it) */
    cr_assert(control(&t, hdr(22, 0, 1, 0, true, true), ABORT), "nothing left of it");
    cr_assert(control(&t, hdr(23, 0, 2, 0, true, true), COMMIT), "no txn of 2 was open");
    cr_assert_not(control(&t, hdr(24, 0, 2, 0, true, true), -1), "unreadable: kept");
    struct batch_hdr empty = hdr(25, 0, 2, 0, true, true);
    empty.records_count = 0;
    cr_assert(control(&t, empty, -1), "an emptied marker goes");

    /* a walk starting past the first abort's marker does not meet it */
    cleaner_txn_rewind(&t, 15);
    cr_assert_not(data(&t, hdr(15, 0, 1, 0, true, false)));
    cr_assert(control(&t, hdr(16, 0, 1, 0, true, true), COMMIT) == false);
    cr_assert(data(&t, hdr(20, 0, 1, 0, true, false)));
    /* an abort that started before the walk is ongoing at its first batch */
    cleaner_txn_rewind(&t, 12);
    cr_assert(data(&t, hdr(12, 0, 1, 0, true, false)));
    cleaner_txn_free(&t);
    txnidx_list_free(&l);
}

Test(cleaner_txn, producers_last_batches)
{
    struct cleaner_txn t = {0};
    struct batch_hdr d1 = hdr(0, 0, 7, 0, true, false), m1 = hdr(1, 0, 7, 0, true, true);
    struct batch_hdr d2 = hdr(2, 0, 7, 0, true, false), m2 = hdr(3, 0, 7, 1, true, true);
    struct batch_hdr o1 = hdr(4, 0, 8, 2, true, false), o2 = hdr(5, 0, 8, 2, true, true);
    struct batch_hdr lone = hdr(6, 0, 9, 3, true, true);
    struct batch_hdr all[] = {d1, m1, d2, m2, o1, o2, lone};

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        cr_assert_eq(cleaner_txn_note_last(&t, &all[i]), KERR_NONE);
    cr_assert_not(cleaner_txn_is_last_data(&t, &d1));
    cr_assert(cleaner_txn_is_last_data(&t, &d2));
    cr_assert_not(cleaner_txn_is_needed_marker(&t, &m1));
    cr_assert(cleaner_txn_is_needed_marker(&t, &m2), "its epoch bump is needed for fencing");
    cr_assert(cleaner_txn_is_last_data(&t, &o1));
    cr_assert_not(cleaner_txn_is_needed_marker(&t, &o2), "same epoch as its last data batch");
    cr_assert(cleaner_txn_is_needed_marker(&t, &lone), "a producer with only a marker");
    /* many producers: the table grows */
    for (int64_t pid = 100; pid < 1100; pid++) {
        struct batch_hdr h = hdr(pid, 0, pid, 0, false, false);
        cr_assert_eq(cleaner_txn_note_last(&t, &h), KERR_NONE);
    }
    for (int64_t pid = 100; pid < 1100; pid++) {
        struct batch_hdr h = hdr(pid, 0, pid, 0, false, false);
        cr_assert(cleaner_txn_is_last_data(&t, &h));
    }
    cr_assert(cleaner_txn_is_last_data(&t, &d2));
    cleaner_txn_free(&t);
}

/* ---- passes over real logs --------------------------------------------------- */

static struct offset_map *map;
static struct cleaner_log_config ccfg;
static int32_t seqs[16]; /* next sequence per producer id */

static void setup(void)
{
    st_tmpdir_up();
    map = offset_map_new(1 << 20);
    cleaner_log_config_default(&ccfg);
    memset(seqs, 0, sizeof(seqs));
}

static void teardown(void)
{
    offset_map_free(map);
    st_tmpdir_down();
}

TestSuite(cleaner_txn_log, .init = setup, .fini = teardown, .timeout = 30);

static struct cleaner_result clean(struct plog *log, struct ct_lock *lk, int64_t ckpt)
{
    struct cleaner_result res;

    cr_assert_eq(cleaner_clean(log, &lk->ops, &ccfg, ckpt, map, NULL, NOW, &res), KERR_NONE);
    cr_assert_not(res.aborted);
    return res;
}

/* One transactional record of producer pid (epoch 0) at the next sequence. */
static int64_t txn_put(struct plog *log, int64_t pid, const char *key, const char *value)
{
    struct ct_rec r = {key, value};
    struct kbuf b;
    int64_t first, last;

    kbuf_init(&b);
    ct_batch(&b, &r, 1, 0, T0, pid);
    be32_store(b.data + BATCH_OFF_BASE_SEQ, (uint32_t)seqs[pid]++);
    be16_store(b.data + BATCH_OFF_ATTRIBUTES,
               (uint16_t)(be16_load(b.data + BATCH_OFF_ATTRIBUTES) | BATCH_ATTR_TRANSACTIONAL));
    st_fix_crc(b.data);
    cr_assert_eq(plog_append(log, b.data, b.len, 0, T0, &first, &last), KERR_NONE);
    kbuf_destroy(&b);
    return first;
}

static int64_t end_txn(struct plog *log, int64_t pid, int16_t epoch, bool commit)
{
    struct plog_marker m = {
        .producer_id = pid, .producer_epoch = epoch, .coordinator_epoch = 0, .commit = commit};
    int64_t offset;

    cr_assert_eq(plog_append_marker(log, &m, 0, T0, &offset), KERR_NONE);
    return offset;
}

/* The aborted list as "pid:first-last ..." for comparisons. */
static void aborted_str(struct plog *log, char *buf, size_t n)
{
    struct aborted_txn *v;
    int k;
    size_t at = 0;

    cr_assert(plog_aborted_txns(log, 0, INT64_MAX, &v, &k));
    buf[0] = 0;
    for (int i = 0; i < k; i++)
        at += (size_t)snprintf(buf + at, n - at, "%s%ld:%ld-%ld", i ? " " : "",
                               (long)v[i].producer_id, (long)v[i].first_offset,
                               (long)v[i].last_offset);
    free(v);
}

static void remove_snapshots(void)
{
    DIR *d = opendir(st_path("t-0"));
    struct dirent *de;
    char path[600];

    cr_assert_not_null(d);
    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, ".snapshot")) {
            snprintf(path, sizeof(path), "%s/%s", st_path("t-0"), de->d_name);
            cr_assert_eq(unlink(path), 0);
        }
    closedir(d);
}

/* Rolls and appends one plain record so the next pass has a dirty part. */
static void more(struct plog *log, const char *key)
{
    cr_assert_eq(plog_roll(log, T0), KERR_NONE);
    ct_put(log, key, "v", T0 + 50);
}

Test(cleaner_txn_log, aborted_records_removed_markers_go_after_the_horizon)
{
    struct plog *log = ct_open(1 << 20);
    struct ct_lock lk;
    struct cleaner_result res;
    struct ct_log l;
    char ab[256];

    cr_assert_eq(ct_put(log, "k", "committed", T0), 0);
    cr_assert_eq(txn_put(log, 5, "k", "aborted"), 1); /* later than k=committed */
    cr_assert_eq(txn_put(log, 5, "j", "aborted"), 2);
    cr_assert_eq(end_txn(log, 5, 0, false), 3);
    cr_assert_eq(txn_put(log, 6, "j", "committed"), 4);
    cr_assert_eq(end_txn(log, 6, 0, true), 5);
    cr_assert_eq(txn_put(log, 5, "m", "aborted"), 6); /* producer 5's last data batch */
    cr_assert_eq(end_txn(log, 5, 0, false), 7);
    more(log, "x"); /* 8, active */
    ct_lock_init(&lk, log);
    aborted_str(log, ab, sizeof(ab));
    cr_assert_str_eq(ab, "5:1-3 5:6-7");

    /* pass 1: aborted records go; no clean part yet, so every marker stays */
    ccfg.delete_retention_ms = 0;
    res = clean(log, &lk, -1);
    cr_assert_eq(res.end_offset, 8);
    cr_assert_eq(res.aborted_removed, 3);
    cr_assert_eq(res.markers_removed, 0);
    ct_read_log(log, &l);
    cr_assert_eq(l.n, 3, "k=committed, j=committed, x");
    cr_assert_str_eq(ct_find_latest(&l, "k")->value, "committed",
                     "the aborted k did not shadow the committed one");
    cr_assert_eq(ct_find_latest(&l, "k")->offset, 0);
    cr_assert_str_eq(ct_find_latest(&l, "j")->value, "committed");
    cr_assert_eq(ct_count_key(&l, "m"), 0);
    cr_assert_eq(l.markers, 3);
    cr_assert_eq(l.empty_batches, 1, "producer 5's last data batch stays, empty");
    ct_log_free(&l);
    aborted_str(log, ab, sizeof(ab));
    cr_assert_str_eq(ab, "5:1-3 5:6-7", "markers kept: the index unchanged");
    cr_assert_eq(plog_last_stable_offset(log, plog_end_offset(log)), plog_end_offset(log));

    /* pass 2, horizon not reached (a day of delete.retention.ms): markers stay */
    ccfg.delete_retention_ms = 86400000;
    more(log, "y");
    res = clean(log, &lk, 8);
    cr_assert_eq(res.markers_removed, 0);
    ct_read_log(log, &l);
    cr_assert_eq(l.markers, 3);
    ct_log_free(&l);

    /* pass 3, past the horizon: the first ABORT marker has no data left and
     * goes with its index entry; the COMMIT of 6 (its data is there) and
     * the ABORT of 5's last batch (kept, empty) stay */
    ccfg.delete_retention_ms = 0;
    more(log, "z");
    res = clean(log, &lk, 9);
    cr_assert_eq(res.markers_removed, 1);
    ct_read_log(log, &l);
    cr_assert_eq(l.markers, 2);
    cr_assert_eq(l.marker_offsets[0], 5);
    cr_assert_eq(l.marker_offsets[1], 7);
    cr_assert_str_eq(ct_find_latest(&l, "k")->value, "committed");
    ct_log_free(&l);
    aborted_str(log, ab, sizeof(ab));
    cr_assert_str_eq(ab, "5:6-7");

    /* reopened from its snapshot, and rebuilt from the log without one */
    plog_close(log);
    log = ct_open(1 << 20);
    aborted_str(log, ab, sizeof(ab));
    cr_assert_str_eq(ab, "5:6-7", "the cleaned segment's .txnindex");
    cr_assert_eq(plog_last_stable_offset(log, plog_end_offset(log)), plog_end_offset(log));
    plog_close(log);
    remove_snapshots();
    log = ct_open(1 << 20);
    aborted_str(log, ab, sizeof(ab));
    cr_assert_str_eq(ab, "5:6-7", "rebuilt from the markers and batches left");
    cr_assert_eq(plog_last_stable_offset(log, plog_end_offset(log)), plog_end_offset(log),
                 "no transaction reopened by a kept batch");
    plog_close(log);
}

Test(cleaner_txn_log, cleanable_part_ends_at_the_first_unstable_offset)
{
    struct plog *log = ct_open(1 << 20);
    struct ct_lock lk;
    struct cleaner_result res;
    struct ct_log l;

    ct_put(log, "k", "1", T0);
    cr_assert_eq(plog_roll(log, T0), KERR_NONE);
    cr_assert_eq(txn_put(log, 3, "t", "open"), 1);
    cr_assert_eq(plog_roll(log, T0), KERR_NONE);
    ct_put(log, "k", "2", T0);
    cr_assert_eq(plog_roll(log, T0), KERR_NONE);
    ct_put(log, "k", "3", T0);
    more(log, "x");
    ct_lock_init(&lk, log);
    res = clean(log, &lk, -1);
    cr_assert_eq(res.end_offset, 1, "stops at the open transaction's first offset");
    ct_read_log(log, &l);
    cr_assert_eq(ct_count_key(&l, "k"), 3, "nothing from the open transaction on is cleaned");
    ct_log_free(&l);

    cr_assert_eq(end_txn(log, 3, 0, true), 5);
    more(log, "y");
    res = clean(log, &lk, 1);
    cr_assert_eq(res.end_offset, 6);
    ct_read_log(log, &l);
    cr_assert_eq(ct_count_key(&l, "k"), 1);
    cr_assert_str_eq(ct_find_latest(&l, "k")->value, "3");
    cr_assert_str_eq(ct_find_latest(&l, "t")->value, "open", "committed: kept");
    cr_assert_eq(l.markers, 1);
    ct_log_free(&l);
    plog_close(log);
}

Test(cleaner_txn_log, committed_markers_go_when_their_data_is_superseded)
{
    struct plog *log = ct_open(1 << 20);
    struct ct_lock lk;
    struct cleaner_result res;
    struct ct_log l;

    /* producer 2 commits k=1, then k=2; a plain k=3 supersedes both */
    txn_put(log, 2, "k", "1");
    cr_assert_eq(end_txn(log, 2, 0, true), 1);
    txn_put(log, 2, "k", "2");
    cr_assert_eq(end_txn(log, 2, 0, true), 3);
    ct_put(log, "k", "3", T0);
    more(log, "x");
    ct_lock_init(&lk, log);
    ccfg.delete_retention_ms = 0;
    res = clean(log, &lk, -1);
    ct_read_log(log, &l);
    cr_assert_eq(l.markers, 2, "first pass: the data goes, markers stay");
    cr_assert_eq(l.empty_batches, 1, "producer 2's last batch (offset 2) stays empty");
    ct_log_free(&l);
    more(log, "y");
    res = clean(log, &lk, res.end_offset);
    cr_assert_eq(res.markers_removed, 1);
    ct_read_log(log, &l);
    cr_assert_eq(l.markers, 1, "the marker of the kept empty batch stays");
    cr_assert_eq(l.marker_offsets[0], 3);
    cr_assert_str_eq(ct_find_latest(&l, "k")->value, "3");
    ct_log_free(&l);
    plog_close(log);
}

Test(cleaner_txn_log, an_emptied_group_keeps_no_marker_alive)
{
    /* 200-byte segments and 100-byte values: the first transaction's data
     * batch and its COMMIT marker are groups of their own */
    struct plog *log = ct_open(200);
    struct ct_lock lk;
    struct cleaner_result res;
    struct ct_log l;
    char big[101];

    memset(big, 'v', 100);
    big[100] = 0;
    cr_assert_eq(txn_put(log, 2, "k", big), 0);
    cr_assert_eq(plog_roll(log, T0), KERR_NONE);
    cr_assert_eq(end_txn(log, 2, 0, true), 1);
    cr_assert_eq(plog_roll(log, T0), KERR_NONE);
    cr_assert_eq(txn_put(log, 2, "j", big), 2); /* producer 2's last data batch */
    cr_assert_eq(end_txn(log, 2, 0, true), 3);
    cr_assert_eq(plog_roll(log, T0), KERR_NONE);
    ct_put(log, "k", "plain", T0); /* supersedes k at 0 */
    more(log, "x");
    ct_lock_init(&lk, log);
    ccfg.delete_retention_ms = 0;
    res = clean(log, &lk, -1);
    ct_read_log(log, &l);
    cr_assert_eq(l.markers, 2, "first pass: both markers stay");
    cr_assert_eq(l.empty_batches, 1, "the first group: an empty placeholder at offset 0");
    ct_log_free(&l);

    /* the placeholder is no batch of the transaction: its marker goes */
    more(log, "y");
    res = clean(log, &lk, res.end_offset);
    cr_assert_eq(res.markers_removed, 1);
    ct_read_log(log, &l);
    cr_assert_eq(l.markers, 1);
    cr_assert_eq(l.marker_offsets[0], 3);
    cr_assert_str_eq(ct_find_latest(&l, "k")->value, "plain");
    cr_assert_str_eq(ct_find_latest(&l, "j")->value, big);
    cr_assert_eq(plog_start_offset(log), 0, "no segment emptied away");
    ct_log_free(&l);
    plog_close(log);
    remove_snapshots();
    log = ct_open(200);
    cr_assert_eq(plog_last_stable_offset(log, plog_end_offset(log)), plog_end_offset(log),
                 "placeholders open no transaction when the log is replayed");
    plog_close(log);
}
