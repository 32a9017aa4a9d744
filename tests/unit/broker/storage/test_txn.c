/*
 * tests/unit/broker/storage/test_txn.c — transactions in the partition
 * log: the aborted transaction index codec (txn_index.c) and its selection
 * for read_committed fetches, the producer-state transaction rules
 * (producer_state.c: open transaction, marker checks, first unstable
 * offset), and plog_txn.c: markers as control batches, the LSO bound,
 * `.txnindex` files, their rebuild after a lost or corrupt index and
 * lost snapshots, recovery past the recovery point, truncation and
 * retention, followers mirroring markers, and the group coordinator's
 * transactional batches (checked for their epoch, not their sequence).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/storage/batch.h"
#include "broker/storage/batch_build.h"
#include "broker/storage/plog.h"
#include "broker/storage/producer_state.h"
#include "broker/storage/txn_index.h"
#include "storage_test.h"

/* ---- codec and list ---- */

Test(txn_index, codec_round_trip_matches_kafka_layout)
{
    struct aborted_txn e = {.producer_id = 0x0102030405060708LL,
                            .first_offset = 10,
                            .last_offset = 20,
                            .last_stable_offset = 21};
    uint8_t buf[2 * TXNIDX_ENTRY_SIZE];
    struct aborted_txn *back;
    size_t n;
    const char *why;

    txnidx_encode(&e, buf);
    /* version INT16 0, then producer_id big-endian */
    cr_assert_eq(buf[0], 0);
    cr_assert_eq(buf[1], 0);
    cr_assert_eq(buf[2], 1);
    cr_assert_eq(buf[9], 8);
    cr_assert_eq(buf[17], 10);
    cr_assert_eq(buf[25], 20);
    cr_assert_eq(buf[33], 21);
    e.first_offset = 30;
    e.last_offset = 40;
    txnidx_encode(&e, buf + TXNIDX_ENTRY_SIZE);
    cr_assert_eq(txnidx_decode(buf, sizeof(buf), &back, &n, &why), KERR_NONE);
    cr_assert_eq(n, 2);
    cr_assert_eq(back[0].producer_id, 0x0102030405060708LL);
    cr_assert_eq(back[0].first_offset, 10);
    cr_assert_eq(back[0].last_offset, 20);
    cr_assert_eq(back[0].last_stable_offset, 21);
    cr_assert_eq(back[1].last_offset, 40);
    free(back);

    cr_assert_eq(txnidx_decode(buf, sizeof(buf) - 1, &back, &n, &why), KERR__CORRUPT);
    cr_assert_not_null(why);
    buf[1] = 1; /* version 1 */
    cr_assert_eq(txnidx_decode(buf, sizeof(buf), &back, &n, &why), KERR__CORRUPT);
    buf[1] = 0;
    buf[TXNIDX_ENTRY_SIZE + 17] = 50; /* first 50 > last 40 */
    cr_assert_eq(txnidx_decode(buf, sizeof(buf), &back, &n, &why), KERR__CORRUPT);
    cr_assert_eq(txnidx_decode(buf, 0, &back, &n, &why), KERR_NONE);
    cr_assert_eq(n, 0);
}

Test(txn_index, select_overlapping_aborts)
{
    struct txnidx_list l = {0};
    struct aborted_txn *out;
    int n;
    /* pid 1: 0..5, pid 2: 3..10, pid 1: 12..15, pid 3: 20..30 */
    const struct aborted_txn v[] = {{1, 0, 5, 6}, {2, 3, 10, 11}, {1, 12, 15, 16}, {3, 20, 30, 31}};
    for (size_t i = 0; i < 4; i++)
        cr_assert(txnidx_list_push(&l, &v[i]));

    cr_assert(txnidx_list_select(&l, 0, 100, &out, &n));
    cr_assert_eq(n, 4);
    free(out);
    /* fetch [6, 12): markers at >= 6 and started before 12: pid 2 only */
    cr_assert(txnidx_list_select(&l, 6, 12, &out, &n));
    cr_assert_eq(n, 1);
    cr_assert_eq(out[0].producer_id, 2);
    cr_assert_eq(out[0].first_offset, 3);
    free(out);
    /* fetch [11, 25): pid 1's second and pid 3 */
    cr_assert(txnidx_list_select(&l, 11, 25, &out, &n));
    cr_assert_eq(n, 2);
    cr_assert_eq(out[0].first_offset, 12);
    cr_assert_eq(out[1].producer_id, 3);
    free(out);
    cr_assert(txnidx_list_select(&l, 31, 100, &out, &n));
    cr_assert_eq(n, 0);
    cr_assert_null(out);

    txnidx_list_drop(&l, 10, 16); /* the two middle entries */
    cr_assert_eq(l.n, 2);
    cr_assert_eq(l.v[1].producer_id, 3);
    txnidx_list_free(&l);
}

/* ---- producer state ---- */

Test(txn_state, open_transactions_and_marker_checks)
{
    struct pstate_map m;
    struct pstate_batch b = {.first_seq = 0, .last_seq = 1, .last_offset = 11, .offset_delta = 1};
    int64_t first;
    pstate_init(&m);
    cr_assert_eq(pstate_first_unstable_offset(&m), -1);
    cr_assert_eq(pstate_update(&m, 7, 3, &b, 0), KERR_NONE);
    pstate_txn_data(&m, 7, 10);
    b = (struct pstate_batch){.first_seq = 2, .last_seq = 2, .last_offset = 14};
    cr_assert_eq(pstate_update(&m, 7, 3, &b, 0), KERR_NONE);
    pstate_txn_data(&m, 7, 14); /* already open: the first offset stays */
    b = (struct pstate_batch){.first_seq = 0, .last_seq = 0, .last_offset = 12};
    cr_assert_eq(pstate_update(&m, 8, 0, &b, 0), KERR_NONE);
    pstate_txn_data(&m, 8, 12);
    cr_assert_eq(pstate_find(&m, 7)->txn_first_offset, 10);
    cr_assert_eq(pstate_first_unstable_offset(&m), 10);

    /* fencing */
    cr_assert_eq(pstate_check_marker(pstate_find(&m, 7), 2, 0), KERR_INVALID_PRODUCER_EPOCH);
    cr_assert_eq(pstate_check_marker(pstate_find(&m, 7), 3, 0), KERR_NONE);
    cr_assert_eq(pstate_check_marker(NULL, 0, 0), KERR_NONE);
    cr_assert_eq(pstate_end_txn(&m, 7, 3, 5, 0, &first), KERR_NONE);
    cr_assert_eq(first, 10);
    cr_assert_eq(pstate_find(&m, 7)->txn_first_offset, -1);
    cr_assert_eq(pstate_find(&m, 7)->coordinator_epoch, 5);
    cr_assert_eq(pstate_check_marker(pstate_find(&m, 7), 3, 4),
                 KERR_TRANSACTION_COORDINATOR_FENCED);
    cr_assert_eq(pstate_first_unstable_offset(&m), 12);
    /* an open transaction keeps a producer from expiring */
    cr_assert_eq(pstate_expire(&m, 1000000, 1), 1);
    cr_assert_not_null(pstate_find(&m, 8));
    /* a marker of a producer with nothing open ends nothing */
    cr_assert_eq(pstate_end_txn(&m, 9, 0, 0, 0, &first), KERR_NONE);
    cr_assert_eq(first, -1);
    pstate_destroy(&m);
}

/* The oldest open transaction by a scan of every producer. */
static int64_t scan_first_unstable(const struct pstate_map *m)
{
    const struct pstate_entry *e;
    int64_t first = -1;
    size_t pos = 0;
    while ((e = pstate_next(m, &pos)) != NULL)
        if (e->txn_first_offset >= 0 && (first < 0 || e->txn_first_offset < first))
            first = e->txn_first_offset;
    return first;
}

/* The kept first unstable offset against a scan, over random opens, ends
 * (oldest first, newest first, in between), map growth, expiry, snapshot
 * entries replacing open and closed ones, and clear. */
Test(txn_state, first_unstable_offset_kept_as_transactions_open_and_end)
{
    struct pstate_map m;
    int64_t offset = 0, first;
    unsigned seed = 14;
    pstate_init(&m);
    for (int step = 0; step < 20000; step++) {
        int64_t pid = rand_r(&seed) % 200; /* beyond the initial capacity: grows */
        int op = rand_r(&seed) % 10;
        struct pstate_batch b = {.first_seq = 0, .last_seq = 0, .last_offset = offset};
        if (op < 5) { /* a transactional data batch */
            cr_assert_eq(pstate_update(&m, pid, 0, &b, step), KERR_NONE);
            pstate_txn_data(&m, pid, offset);
        } else if (op < 9) { /* a marker */
            const struct pstate_entry *e = pstate_find(&m, pid);
            int64_t open = e ? e->txn_first_offset : -1;
            cr_assert_eq(pstate_end_txn(&m, pid, 0, 0, step, &first), KERR_NONE);
            cr_assert_eq(first, open);
        } else if (step % 7 == 0) { /* a snapshot entry replaces the producer's */
            struct pstate_entry e = {.producer_id = pid,
                                     .epoch = 0,
                                     .coordinator_epoch = 0,
                                     .txn_first_offset = rand_r(&seed) % 2 ? offset : -1,
                                     .last_update_ms = step};
            cr_assert_eq(pstate_put(&m, &e), KERR_NONE);
        } else { /* producers idle for 50 steps without a transaction leave */
            pstate_expire(&m, step, 50);
        }
        offset++;
        cr_assert_eq(pstate_first_unstable_offset(&m), scan_first_unstable(&m), "step %d", step);
        if (step == 10000) {
            pstate_clear(&m);
            cr_assert_eq(pstate_first_unstable_offset(&m), -1);
        }
    }
    pstate_destroy(&m);
}

/* ---- in the partition log ---- */

static struct plog_config cfg;

static void setup(void)
{
    st_tmpdir_up();
    plog_config_default(&cfg);
    cfg.segment_bytes = 4096;
    cfg.segment_ms = 0;
    cfg.index_interval_bytes = 256;
}

/* Appends nrec records of a transactional batch of pid/epoch at seq. */
static int64_t txn_app(struct plog *log, int64_t pid, int16_t epoch, int32_t seq, int nrec)
{
    struct kbuf b;
    int64_t first, last;
    struct st_batch_opts o = {.nrec = nrec,
                              .ts0 = 1000,
                              .ts_step = 1,
                              .value_len = 100,
                              .producer_id = pid,
                              .base_seq = seq};
    kbuf_init(&b);
    st_batch(&b, &o);
    be16_store(b.data + BATCH_OFF_PRODUCER_EPOCH, (uint16_t)epoch);
    be16_store(b.data + BATCH_OFF_ATTRIBUTES,
               (uint16_t)(be16_load(b.data + BATCH_OFF_ATTRIBUTES) | BATCH_ATTR_TRANSACTIONAL));
    st_fix_crc(b.data);
    cr_assert_eq(plog_append(log, b.data, b.len, 0, 1000, &first, &last), KERR_NONE);
    kbuf_destroy(&b);
    return first;
}

static kerr_t marker(struct plog *log, int64_t pid, int16_t epoch, bool commit, int32_t ce,
                     int64_t *offset)
{
    struct plog_marker m = {
        .producer_id = pid, .producer_epoch = epoch, .coordinator_epoch = ce, .commit = commit};
    return plog_append_marker(log, &m, 0, 1000, offset);
}

static int aborted(struct plog *log, int64_t from, struct aborted_txn **out)
{
    int n;
    cr_assert(plog_aborted_txns(log, from, INT64_MAX, out, &n));
    return n;
}

static void remove_snapshots(void)
{
    DIR *d = opendir(st_dir);
    struct dirent *de;
    cr_assert_not_null(d);
    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, ".snapshot"))
            cr_assert_eq(unlink(st_path(de->d_name)), 0);
    closedir(d);
}

static int64_t hw_all(const struct plog *log) { return plog_end_offset(log); }

Test(txn_log, markers_lso_and_aborted_index, .init = setup, .fini = st_tmpdir_down)
{
    char err[256];
    struct plog *log = plog_open(st_dir, &cfg, err, sizeof(err));
    struct aborted_txn *ab;
    int64_t off;
    cr_assert_not_null(log, "%s", err);

    cr_assert_eq(txn_app(log, 5, 0, 0, 2), 0); /* pid 5 opens at 0 */
    cr_assert_eq(txn_app(log, 6, 0, 0, 1), 2); /* pid 6 opens at 2 */
    cr_assert_eq(plog_last_stable_offset(log, hw_all(log)), 0);
    cr_assert_eq(plog_last_stable_offset(log, 0), 0, "never above the HW");

    /* commit pid 5: the LSO moves to pid 6's start */
    cr_assert_eq(marker(log, 5, 0, true, 1, &off), KERR_NONE);
    cr_assert_eq(off, 3);
    cr_assert_eq(plog_last_stable_offset(log, hw_all(log)), 2);
    cr_assert_eq(aborted(log, 0, &ab), 0);
    /* a marker with no open transaction is written and ends nothing */
    cr_assert_eq(marker(log, 5, 0, true, 1, &off), KERR_NONE);
    cr_assert_eq(off, 4);
    cr_assert_eq(plog_last_stable_offset(log, hw_all(log)), 2);
    /* an older coordinator epoch: refused, nothing written */
    int64_t leo = plog_end_offset(log);
    cr_assert_eq(marker(log, 5, 0, false, 0, &off), KERR_TRANSACTION_COORDINATOR_FENCED);
    cr_assert_eq(plog_end_offset(log), leo);

    /* abort pid 6: indexed with its first offset and the LSO after it */
    cr_assert_eq(marker(log, 6, 0, false, 1, &off), KERR_NONE);
    cr_assert_eq(off, 5);
    cr_assert_eq(plog_last_stable_offset(log, hw_all(log)), hw_all(log));
    cr_assert_eq(aborted(log, 0, &ab), 1);
    cr_assert_eq(ab[0].producer_id, 6);
    cr_assert_eq(ab[0].first_offset, 2);
    cr_assert_eq(ab[0].last_offset, 5);
    cr_assert_eq(ab[0].last_stable_offset, 6);
    free(ab);
    cr_assert_eq(st_file_size(st_path("00000000000000000000.txnindex")), TXNIDX_ENTRY_SIZE);
    /* an epoch bump fences the old epoch */
    cr_assert_eq(txn_app(log, 6, 1, 0, 1), 6);
    cr_assert_eq(marker(log, 6, 0, false, 1, &off), KERR_INVALID_PRODUCER_EPOCH);
    cr_assert_eq(plog_last_stable_offset(log, hw_all(log)), 6, "pid 6 epoch 1 open at 6");
    plog_close(log);

    /* clean reopen: the index file and the open transaction come back */
    log = plog_open(st_dir, &cfg, err, sizeof(err));
    cr_assert_not_null(log, "%s", err);
    cr_assert_eq(aborted(log, 0, &ab), 1);
    cr_assert_eq(ab[0].first_offset, 2);
    free(ab);
    cr_assert_eq(plog_last_stable_offset(log, hw_all(log)), 6);
    plog_close(log);

    /* lost snapshots and index: everything rebuilt from the markers */
    cr_assert_eq(unlink(st_path("00000000000000000000.txnindex")), 0);
    remove_snapshots();
    cr_assert_eq(st_count_files(st_dir, ".snapshot"), 0);
    log = plog_open(st_dir, &cfg, err, sizeof(err));
    cr_assert_not_null(log, "%s", err);
    cr_assert_eq(aborted(log, 0, &ab), 1);
    cr_assert_eq(ab[0].producer_id, 6);
    cr_assert_eq(ab[0].first_offset, 2);
    cr_assert_eq(ab[0].last_stable_offset, 6);
    free(ab);
    cr_assert_eq(st_file_size(st_path("00000000000000000000.txnindex")), TXNIDX_ENTRY_SIZE);
    cr_assert_eq(plog_last_stable_offset(log, hw_all(log)), 6);

    /* truncation below the abort marker forgets it and reopens pid 6's
     * first transaction */
    cr_assert_eq(plog_truncate_to(log, 5), KERR_NONE);
    cr_assert_eq(aborted(log, 0, &ab), 0);
    cr_assert_eq(plog_last_stable_offset(log, hw_all(log)), 2);
    cr_assert_eq(st_file_size(st_path("00000000000000000000.txnindex")), -1, "emptied: removed");
    plog_close(log);
}

/* An ended transaction holds the LSO at its first offset until the high watermark passes its
 * marker (a new leader might lack the marker), and a truncation below the marker reopens it. */
Test(txn_log, lso_waits_for_the_marker_to_be_replicated, .init = setup, .fini = st_tmpdir_down)
{
    char err[256];
    struct plog *log = plog_open(st_dir, &cfg, err, sizeof(err));
    int64_t off;
    cr_assert_not_null(log, "%s", err);

    cr_assert_eq(txn_app(log, 5, 0, 0, 2), 0); /* pid 5: offsets 0-1 */
    cr_assert_eq(marker(log, 5, 0, true, 1, &off), KERR_NONE);
    cr_assert_eq(off, 2);
    cr_assert_eq(plog_last_stable_offset(log, 2), 0, "marker at 2 not below the HW yet");
    cr_assert_eq(plog_last_stable_offset(log, 3), 3, "marker replicated");
    cr_assert_eq(plog_last_stable_offset(log, 2), 2, "forgotten once replicated");

    cr_assert_eq(txn_app(log, 6, 0, 0, 1), 3); /* pid 6: offset 3, marker at 4 */
    cr_assert_eq(marker(log, 6, 0, false, 1, &off), KERR_NONE);
    cr_assert_eq(off, 4);
    cr_assert_eq(plog_last_stable_offset(log, 4), 3);
    cr_assert_eq(plog_truncate_to(log, 4), KERR_NONE); /* the marker is gone: open again */
    cr_assert_eq(plog_last_stable_offset(log, 4), 3);
    cr_assert_eq(marker(log, 6, 0, true, 1, &off), KERR_NONE);
    plog_txn_replicated(log, plog_end_offset(log));
    cr_assert_eq(plog_last_stable_offset(log, plog_end_offset(log)), plog_end_offset(log));
    plog_close(log);
}

Test(txn_log, corrupt_index_rebuilt_and_retention_drops_it, .init = setup, .fini = st_tmpdir_down)
{
    char err[256];
    struct plog *log = plog_open(st_dir, &cfg, err, sizeof(err));
    struct aborted_txn *ab;
    int64_t off;
    cr_assert_not_null(log, "%s", err);
    /* twelve aborted transactions of 8 records over several segments */
    for (int i = 0; i < 12; i++) {
        txn_app(log, 3, 0, 8 * i, 8);
        cr_assert_eq(marker(log, 3, 0, false, 0, &off), KERR_NONE);
    }
    cr_assert_gt(plog_segment_count(log), 2);
    cr_assert_eq(aborted(log, 0, &ab), 12);
    for (int i = 0; i < 12; i++) {
        cr_assert_eq(ab[i].first_offset, 9 * i);
        cr_assert_eq(ab[i].last_offset, 9 * i + 8);
    }
    free(ab);
    int files = st_count_files(st_dir, ".txnindex");
    cr_assert_gt(files, 1);
    plog_close(log);

    /* a torn first index: refused, rebuilt */
    st_truncate(st_path("00000000000000000000.txnindex"), 20);
    log = plog_open(st_dir, &cfg, err, sizeof(err));
    cr_assert_not_null(log, "%s", err);
    cr_assert_eq(aborted(log, 0, &ab), 12);
    for (int i = 0; i < 12; i++)
        cr_assert_eq(ab[i].last_offset, 9 * i + 8, "entry %d", i);
    free(ab);
    cr_assert_eq(st_file_size(st_path("00000000000000000000.txnindex")) % TXNIDX_ENTRY_SIZE, 0);

    /* retention below the third segment drops the first two's entries */
    int64_t keep = plog_end_offset(log) - 1;
    struct plog_retention r = {
        .now_ms = 1000, .retention_ms = -1, .retention_bytes = -1, .max_offset = INT64_MAX};
    cr_assert_eq(plog_advance_start_offset(log, keep), KERR_NONE);
    int deleted = 0;
    cr_assert_eq(plog_apply_retention(log, &r, &deleted), KERR_NONE);
    cr_assert_gt(deleted, 0);
    cr_assert_lt(st_count_files(st_dir, ".txnindex"), files);
    int n = aborted(log, 0, &ab);
    cr_assert_lt(n, 12);
    cr_assert_gt(n, 0);
    cr_assert_eq(ab[n - 1].last_offset, 107);
    free(ab);
    plog_close(log);
}

Test(txn_log, follower_mirrors_markers, .init = setup, .fini = st_tmpdir_down)
{
    char err[256];
    struct plog *log = plog_open(st_dir, &cfg, err, sizeof(err));
    struct aborted_txn *ab;
    struct kbuf b;
    int64_t first, last;
    cr_assert_not_null(log, "%s", err);
    kbuf_init(&b);
    struct st_batch_opts o = {.nrec = 2, .ts0 = 1000, .value_len = 10, .producer_id = 4};
    st_batch(&b, &o);
    be16_store(b.data + BATCH_OFF_ATTRIBUTES,
               (uint16_t)(be16_load(b.data + BATCH_OFF_ATTRIBUTES) | BATCH_ATTR_TRANSACTIONAL));
    st_fix_crc(b.data);
    cr_assert_eq(plog_append_replica(log, b.data, b.len, 1000, &first, &last), KERR_NONE);
    cr_assert_eq(plog_last_stable_offset(log, 2), 0);
    kbuf_reset(&b);
    cr_assert_eq(batch_build_marker(&b, 4, 0, false, 2, 1000), KERR_NONE);
    be64_store(b.data + BATCH_OFF_BASE_OFFSET, 2);
    be32_store(b.data + BATCH_OFF_LEADER_EPOCH, 0);
    cr_assert_eq(plog_append_replica(log, b.data, b.len, 1000, &first, &last), KERR_NONE);
    cr_assert_eq(plog_last_stable_offset(log, 3), 3);
    cr_assert_eq(aborted(log, 0, &ab), 1);
    cr_assert_eq(ab[0].first_offset, 0);
    cr_assert_eq(ab[0].last_offset, 2);
    free(ab);
    cr_assert_eq(pstate_find(plog_producers(log), 4)->coordinator_epoch, 2);
    kbuf_destroy(&b);
    plog_close(log);
}

Test(txn_log, recovery_rebuilds_the_index_past_the_recovery_point, .init = setup,
     .fini = st_tmpdir_down)
{
    char err[256];
    struct plog *log = plog_open(st_dir, &cfg, err, sizeof(err));
    struct aborted_txn *ab;
    int64_t off;
    cr_assert_not_null(log, "%s", err);
    for (int i = 0; i < 12; i++) {
        txn_app(log, 8, 0, 8 * i, 8);
        cr_assert_eq(marker(log, 8, 0, false, 0, &off), KERR_NONE);
    }
    cr_assert_gt(plog_segment_count(log), 2);
    plog_close(log);
    /* an index lost with the page cache: every file gone, snapshots kept */
    DIR *d = opendir(st_dir);
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, ".txnindex"))
            cr_assert_eq(unlink(st_path(de->d_name)), 0);
    closedir(d);
    cr_assert_eq(st_count_files(st_dir, ".txnindex"), 0);
    /* reopened as after a crash with the recovery point at 0 */
    struct plog_config rc = cfg;
    rc.recovery_point = 0;
    log = plog_open(st_dir, &rc, err, sizeof(err));
    cr_assert_not_null(log, "%s", err);
    cr_assert_eq(aborted(log, 0, &ab), 12);
    for (int i = 0; i < 12; i++)
        cr_assert_eq(ab[i].first_offset, 9 * i, "entry %d", i);
    free(ab);
    cr_assert_gt(st_count_files(st_dir, ".txnindex"), 1);
    plog_close(log);
}

/* The group coordinator's transactional offset commits (batch_build_producer(),
 * plog_append_coordinator()): base sequence 0 every time, checked for the epoch only. */
static kerr_t coord_app(struct plog *log, int16_t epoch, bool coordinator, int64_t *first)
{
    static const uint8_t key[] = {0, 1}, value[] = {0, 3};
    struct batch_build_rec r = {key, sizeof(key), value, sizeof(value)};
    struct kbuf b;
    int64_t last;
    kbuf_init(&b);
    cr_assert_eq(batch_build_producer(&b, &r, 1, 1000, 7, epoch, 0, true), KERR_NONE);
    struct batch_hdr h;
    cr_assert_eq(batch_parse_hdr(b.data, b.len, &h), KERR_NONE);
    cr_assert(batch_is_transactional(&h));
    cr_assert_eq(h.producer_id, 7);
    cr_assert_eq(h.producer_epoch, epoch);
    cr_assert_eq(h.base_seq, 0);
    kerr_t err = coordinator ? plog_append_coordinator(log, b.data, b.len, 0, 1000, first, &last)
                             : plog_append(log, b.data, b.len, 0, 1000, first, &last);
    kbuf_destroy(&b);
    return err;
}

Test(txn_log, coordinator_batches_check_the_epoch_not_the_sequence, .init = setup,
     .fini = st_tmpdir_down)
{
    char err[256];
    struct plog *log = plog_open(st_dir, &cfg, err, sizeof(err));
    int64_t first, off;
    cr_assert_not_null(log, "%s", err);
    cr_assert_eq(coord_app(log, 2, true, &first), KERR_NONE);
    cr_assert_eq(first, 0);
    cr_assert_eq(coord_app(log, 2, true, &first), KERR_NONE, "sequence 0 again is no duplicate");
    cr_assert_eq(first, 1);
    cr_assert_neq(coord_app(log, 2, false, &first), KERR_NONE, "a client batch is checked");
    cr_assert_eq(coord_app(log, 1, true, &first), KERR_INVALID_PRODUCER_EPOCH);
    cr_assert_eq(plog_end_offset(log), 2, "nothing written by the refused ones");
    cr_assert_eq(plog_last_stable_offset(log, hw_all(log)), 0, "the transaction is open");
    cr_assert_eq(marker(log, 7, 2, true, 0, &off), KERR_NONE);
    cr_assert_eq(plog_last_stable_offset(log, hw_all(log)), 3);
    cr_assert_eq(coord_app(log, 3, true, &first), KERR_NONE, "a newer epoch");
    plog_close(log);
}
