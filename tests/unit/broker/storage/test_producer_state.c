/*
 * tests/unit/broker/storage/test_producer_state.c — the idempotent-producer
 * rules and map (broker/storage/producer_state.c) and their use by the
 * partition log (plog_producers.c): duplicates of each of the last five
 * batches, sequence gaps, epoch bumps and fencing, sequence wrap-around,
 * map growth and removal, expiry, the follower mirror, truncation and
 * reopen rebuilding the state from the log.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/storage/batch.h"
#include "broker/storage/plog.h"
#include "broker/storage/producer_state.h"
#include "storage_test.h"

static struct pstate_batch mk(int32_t first, int32_t n, int64_t last_offset)
{
    return (struct pstate_batch){.first_seq = first,
                                 .last_seq = pstate_seq_add(first, n - 1),
                                 .last_offset = last_offset,
                                 .offset_delta = n - 1,
                                 .timestamp = 1000};
}

Test(producer_state, seq_add_wraps)
{
    cr_assert_eq(pstate_seq_add(0, 4), 4);
    cr_assert_eq(pstate_seq_add(INT32_MAX, 0), INT32_MAX);
    cr_assert_eq(pstate_seq_add(INT32_MAX, 1), 0);
    cr_assert_eq(pstate_seq_add(INT32_MAX - 1, 3), 1);
}

Test(producer_state, unknown_producer_accepts_any_sequence)
{
    cr_assert_eq(pstate_check(NULL, 0, 0, 0, NULL, NULL), KERR_NONE);
    cr_assert_eq(pstate_check(NULL, 3, 17, 20, NULL, NULL), KERR_NONE);
}

Test(producer_state, in_order_gap_and_duplicates_of_last_five)
{
    struct pstate_map m;
    const struct pstate_batch *dup;
    const char *why;
    pstate_init(&m);
    /* batches of 2 records: seq 0-1, 2-3, ..., 12-13 at offsets 0-1, ... */
    for (int i = 0; i < 7; i++) {
        const struct pstate_entry *e = pstate_find(&m, 42);
        cr_assert_eq(pstate_check(e, 0, 2 * i, 2 * i + 1, &dup, NULL), KERR_NONE, "batch %d", i);
        struct pstate_batch b = mk(2 * i, 2, 2 * i + 1);
        cr_assert_eq(pstate_update(&m, 42, 0, &b, 1000), KERR_NONE);
    }
    const struct pstate_entry *e = pstate_find(&m, 42);
    cr_assert_not_null(e);
    cr_assert_eq(e->n, PSTATE_WINDOW);
    cr_assert_eq(pstate_last_seq(e), 13);
    /* each of the last five (batches 2..6) is a duplicate with its offsets */
    for (int i = 2; i < 7; i++) {
        cr_assert_eq(pstate_check(e, 0, 2 * i, 2 * i + 1, &dup, &why),
                     KERR_DUPLICATE_SEQUENCE_NUMBER, "batch %d", i);
        cr_assert_eq(pstate_batch_first_offset(dup), 2 * i);
        cr_assert_eq(dup->last_offset, 2 * i + 1);
        cr_assert_not_null(why);
    }
    /* older than the window: out of order */
    cr_assert_eq(pstate_check(e, 0, 2, 3, &dup, NULL), KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    cr_assert_null(dup);
    /* same first sequence, different last: not a duplicate */
    cr_assert_eq(pstate_check(e, 0, 12, 12, &dup, NULL), KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* a gap */
    cr_assert_eq(pstate_check(e, 0, 15, 15, &dup, NULL), KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* the next one */
    cr_assert_eq(pstate_check(e, 0, 14, 20, &dup, NULL), KERR_NONE);
    pstate_destroy(&m);
}

Test(producer_state, epochs)
{
    struct pstate_map m;
    pstate_init(&m);
    struct pstate_batch b = mk(0, 3, 2);
    cr_assert_eq(pstate_update(&m, 7, 5, &b, 1000), KERR_NONE);
    const struct pstate_entry *e = pstate_find(&m, 7);
    /* older epoch: fenced, even as a would-be duplicate */
    cr_assert_eq(pstate_check(e, 4, 3, 3, NULL, NULL), KERR_INVALID_PRODUCER_EPOCH);
    cr_assert_eq(pstate_check(e, 4, 0, 2, NULL, NULL), KERR_INVALID_PRODUCER_EPOCH);
    /* newer epoch must start at 0 */
    cr_assert_eq(pstate_check(e, 6, 3, 3, NULL, NULL), KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    cr_assert_eq(pstate_check(e, 6, 0, 0, NULL, NULL), KERR_NONE);
    b = mk(0, 1, 3);
    cr_assert_eq(pstate_update(&m, 7, 6, &b, 1000), KERR_NONE);
    e = pstate_find(&m, 7);
    cr_assert_eq(e->epoch, 6);
    cr_assert_eq(e->n, 1, "the window restarts with the epoch");
    cr_assert_eq(pstate_check(e, 6, 1, 1, NULL, NULL), KERR_NONE);
    cr_assert_eq(pstate_check(e, 5, 1, 1, NULL, NULL), KERR_INVALID_PRODUCER_EPOCH);
    pstate_destroy(&m);
}

Test(producer_state, wrap_around)
{
    struct pstate_map m;
    pstate_init(&m);
    struct pstate_batch b = mk(INT32_MAX - 1, 2, 100);
    cr_assert_eq(b.last_seq, INT32_MAX);
    cr_assert_eq(pstate_update(&m, 1, 0, &b, 0), KERR_NONE);
    const struct pstate_entry *e = pstate_find(&m, 1);
    cr_assert_eq(pstate_check(e, 0, 0, 4, NULL, NULL), KERR_NONE);
    cr_assert_eq(pstate_check(e, 0, 1, 4, NULL, NULL), KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* a batch spanning the wrap: first INT32_MAX, last 2 */
    struct pstate_batch w = mk(INT32_MAX, 4, 200);
    cr_assert_eq(w.last_seq, 2);
    pstate_destroy(&m);
}

Test(producer_state, many_producers_grow_remove_expire)
{
    struct pstate_map m;
    pstate_init(&m);
    for (int64_t pid = 0; pid < 1000; pid++) {
        struct pstate_batch b = mk(0, 1, pid);
        b.timestamp = pid;
        cr_assert_eq(pstate_update(&m, pid * 7919, 0, &b, pid), KERR_NONE);
    }
    cr_assert_eq(m.n, 1000);
    for (int64_t pid = 0; pid < 1000; pid++)
        cr_assert_not_null(pstate_find(&m, pid * 7919), "pid %ld", (long)pid);
    cr_assert_null(pstate_find(&m, 3));
    cr_assert_null(pstate_find(&m, -1));
    /* idle longer than 500 ms at now=1000: producers 0..499 */
    cr_assert_eq(pstate_expire(&m, 1000, 500), 500);
    cr_assert_eq(m.n, 500);
    for (int64_t pid = 0; pid < 1000; pid++) {
        bool gone = 1000 - pid > 500;
        cr_assert_eq(pstate_find(&m, pid * 7919) == NULL, gone, "pid %ld", (long)pid);
    }
    size_t pos = 0, n = 0;
    while (pstate_next(&m, &pos))
        n++;
    cr_assert_eq(n, 500);
    cr_assert_eq(pstate_remove_before(&m, 900), 400);
    cr_assert_eq(m.n, 100);
    cr_assert_not_null(pstate_find(&m, 950 * 7919));
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

/* One batch of nrec records of producer pid / epoch starting at seq. */
static void pbatch(struct kbuf *b, int64_t pid, int16_t epoch, int32_t seq, int nrec)
{
    struct st_batch_opts o = {.nrec = nrec,
                              .ts0 = 1000,
                              .ts_step = 1,
                              .value_len = 100,
                              .producer_id = pid,
                              .base_seq = seq};
    kbuf_reset(b);
    st_batch(b, &o);
    be16_store(b->data + BATCH_OFF_PRODUCER_EPOCH, (uint16_t)epoch);
    st_fix_crc(b->data);
}

static kerr_t app(struct plog *log, int64_t pid, int16_t epoch, int32_t seq, int nrec,
                  int64_t *first)
{
    struct kbuf b;
    int64_t last;
    kbuf_init(&b);
    pbatch(&b, pid, epoch, seq, nrec);
    kerr_t err = plog_append(log, b.data, b.len, 0, 1000, first, &last);
    kbuf_destroy(&b);
    return err;
}

Test(producer_state, plog_dedupes_and_rebuilds, .init = setup, .fini = st_tmpdir_down)
{
    char err[256];
    struct plog *log = plog_open(st_dir, &cfg, err, sizeof(err));
    int64_t first;
    cr_assert_not_null(log, "%s", err);
    for (int i = 0; i < 20; i++) {
        cr_assert_eq(app(log, 9, 0, 3 * i, 3, &first), KERR_NONE, "batch %d", i);
        cr_assert_eq(first, 3 * i);
    }
    cr_assert_gt(plog_segment_count(log), 1, "the test wants several segments");
    int64_t leo = plog_end_offset(log);
    cr_assert_eq(app(log, 9, 0, 3 * 17, 3, &first), KERR_DUPLICATE_SEQUENCE_NUMBER);
    cr_assert_eq(first, 3 * 17);
    cr_assert_eq(plog_end_offset(log), leo, "a duplicate is not written");
    cr_assert_eq(app(log, 9, 0, 3 * 14, 3, &first), KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    cr_assert_eq(app(log, 9, 0, 61, 3, &first), KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    cr_assert_eq(plog_end_offset(log), leo);
    plog_close(log);

    /* reopen: rebuilt from the log */
    log = plog_open(st_dir, &cfg, err, sizeof(err));
    cr_assert_not_null(log, "%s", err);
    cr_assert_eq(app(log, 9, 0, 3 * 19, 3, &first), KERR_DUPLICATE_SEQUENCE_NUMBER);
    cr_assert_eq(first, 3 * 19);
    cr_assert_eq(app(log, 9, 0, 60, 1, &first), KERR_NONE);
    cr_assert_eq(first, 60);

    /* truncation removes the last batches: the state follows */
    cr_assert_eq(plog_truncate_to(log, 54), KERR_NONE);
    cr_assert_eq(plog_end_offset(log), 54);
    const struct pstate_entry *e = pstate_find(plog_producers(log), 9);
    cr_assert_not_null(e);
    cr_assert_eq(pstate_last_seq(e), 53);
    cr_assert_eq(app(log, 9, 0, 54, 3, &first), KERR_NONE);
    cr_assert_eq(first, 54);

    /* expiry (timestamps are 1000..) */
    cr_assert_eq(plog_expire_producers(log, 2000, 100000), 0);
    cr_assert_eq(plog_expire_producers(log, 200000, 1000), 1);
    cr_assert_null(pstate_find(plog_producers(log), 9));
    /* unknown again: any sequence */
    cr_assert_eq(app(log, 9, 0, 1000, 1, &first), KERR_NONE);
    plog_close(log);
}

Test(producer_state, follower_mirrors_the_leader, .init = setup, .fini = st_tmpdir_down)
{
    char err[256];
    struct plog *log = plog_open(st_dir, &cfg, err, sizeof(err));
    struct kbuf b;
    int64_t first, last;
    cr_assert_not_null(log, "%s", err);
    kbuf_init(&b);
    for (int i = 0; i < 3; i++) {
        pbatch(&b, 5, 2, 2 * i, 2);
        be64_store(b.data + BATCH_OFF_BASE_OFFSET, (uint64_t)(2 * i));
        cr_assert_eq(plog_append_replica(log, b.data, b.len, 1000, &first, &last), KERR_NONE);
    }
    /* a leader-side retry of the last batch after this replica took over */
    cr_assert_eq(app(log, 5, 2, 4, 2, &first), KERR_DUPLICATE_SEQUENCE_NUMBER);
    cr_assert_eq(first, 4);
    cr_assert_eq(app(log, 5, 1, 6, 1, &first), KERR_INVALID_PRODUCER_EPOCH);
    cr_assert_eq(app(log, 5, 2, 6, 1, &first), KERR_NONE);
    cr_assert_eq(first, 6);
    kbuf_destroy(&b);
    plog_close(log);
}

/* ---- snapshots ---- */

Test(producer_state, snapshot_round_trip_and_corruption)
{
    struct pstate_map m, back;
    struct kbuf b;
    const char *why = NULL;
    pstate_init(&m);
    pstate_init(&back);
    kbuf_init(&b);
    for (int64_t pid = 1; pid <= 3; pid++)
        for (int i = 0; i < 3; i++) {
            struct pstate_batch x = mk(10 * i, 10, 100 * pid + 10 * i + 9);
            x.timestamp = 5000 + pid;
            cr_assert_eq(pstate_update(&m, pid, (int16_t)pid, &x, 0), KERR_NONE);
        }
    struct pstate_batch w = mk(INT32_MAX - 1, 4, 999); /* last_seq wrapped to 1 */
    cr_assert_eq(pstate_update(&m, 77, 0, &w, 0), KERR_NONE);
    cr_assert(pstate_snapshot_encode(&m, &b));
    cr_assert_eq(b.len, PSTATE_SNAPSHOT_HDR_SIZE + 4 * PSTATE_SNAPSHOT_ENTRY_SIZE);
    cr_assert_eq(be16_load(b.data), 1);
    cr_assert_eq(pstate_snapshot_decode(b.data, b.len, &back, &why), KERR_NONE);
    cr_assert_eq(back.n, 4);
    for (int64_t pid = 1; pid <= 3; pid++) {
        const struct pstate_entry *e = pstate_find(&back, pid);
        cr_assert_not_null(e);
        cr_assert_eq(e->epoch, pid);
        cr_assert_eq(e->n, 1, "a snapshot keeps the last batch only");
        cr_assert_eq(pstate_last_batch(e)->first_seq, 20);
        cr_assert_eq(pstate_last_seq(e), 29);
        cr_assert_eq(pstate_last_batch(e)->last_offset, 100 * pid + 29);
        cr_assert_eq(pstate_batch_first_offset(pstate_last_batch(e)), 100 * pid + 20);
        cr_assert_eq(e->last_update_ms, 5000 + pid);
        cr_assert_eq(pstate_check(e, (int16_t)pid, 20, 29, NULL, NULL),
                     KERR_DUPLICATE_SEQUENCE_NUMBER);
        cr_assert_eq(pstate_check(e, (int16_t)pid, 30, 30, NULL, NULL), KERR_NONE);
    }
    const struct pstate_entry *e = pstate_find(&back, 77);
    cr_assert_eq(pstate_last_batch(e)->first_seq, INT32_MAX - 1);
    cr_assert_eq(pstate_last_seq(e), 1);

    /* corruption: each refused with a reason, nothing loaded */
    uint8_t *c = malloc(b.len);
    memcpy(c, b.data, b.len);
    c[b.len - 3] ^= 1;
    cr_assert_eq(pstate_snapshot_decode(c, b.len, &back, &why), KERR__CORRUPT);
    cr_assert_str_eq(why, "CRC mismatch");
    cr_assert_eq(back.n, 0);
    memcpy(c, b.data, b.len);
    c[1] = 2;
    cr_assert_eq(pstate_snapshot_decode(c, b.len, &back, &why), KERR__CORRUPT);
    cr_assert_str_eq(why, "unknown version");
    cr_assert_eq(pstate_snapshot_decode(b.data, b.len - 1, &back, &why), KERR__CORRUPT);
    cr_assert_eq(pstate_snapshot_decode(b.data, 5, &back, &why), KERR__CORRUPT);
    cr_assert_str_eq(why, "shorter than its header");
    free(c);
    kbuf_destroy(&b);
    pstate_destroy(&m);
    pstate_destroy(&back);
}

Test(producer_state, plog_snapshot_at_close_and_corrupt_snapshot_rebuilt, .init = setup,
     .fini = st_tmpdir_down)
{
    char err[256];
    struct plog *log = plog_open(st_dir, &cfg, err, sizeof(err));
    int64_t first, *offs;
    int n;
    cr_assert_not_null(log, "%s", err);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(app(log, 11, 0, 2 * i, 2, &first), KERR_NONE);
    cr_assert_eq(plog_segment_count(log), 1);
    plog_close(log);
    cr_assert_eq(plog_list_snapshots(st_dir, &offs, &n), KERR_NONE);
    cr_assert_eq(n, 1);
    cr_assert_eq(offs[0], 8, "clean close: a snapshot at the LEO");
    free(offs);

    /* from the snapshot: the last batch is known, older ones are not */
    log = plog_open(st_dir, &cfg, err, sizeof(err));
    cr_assert_not_null(log, "%s", err);
    cr_assert_eq(app(log, 11, 0, 6, 2, &first), KERR_DUPLICATE_SEQUENCE_NUMBER);
    cr_assert_eq(first, 6);
    cr_assert_eq(app(log, 11, 0, 4, 2, &first), KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    plog_close(log);

    /* a corrupt snapshot is refused and deleted; the log rebuilds all five */
    st_write_at(st_path("00000000000000000008.snapshot"), 12, "garbage", 7);
    log = plog_open(st_dir, &cfg, err, sizeof(err));
    cr_assert_not_null(log, "%s", err);
    cr_assert_eq(app(log, 11, 0, 2, 2, &first), KERR_DUPLICATE_SEQUENCE_NUMBER);
    cr_assert_eq(first, 2);
    cr_assert_eq(app(log, 11, 0, 8, 1, &first), KERR_NONE);
    cr_assert_eq(first, 8);
    /* a snapshot past the LEO (left by a crash before a truncation) is ignored */
    cr_assert_eq(plog_truncate_to(log, 6), KERR_NONE);
    cr_assert_eq(plog_list_snapshots(st_dir, &offs, &n), KERR_NONE);
    for (int i = 0; i < n; i++)
        cr_assert_leq(offs[i], 6);
    free(offs);
    cr_assert_eq(app(log, 11, 0, 6, 2, &first), KERR_NONE);
    cr_assert_eq(first, 6);
    plog_close(log);
}

Test(producer_state, plog_snapshots_at_roll_follow_retention, .init = setup, .fini = st_tmpdir_down)
{
    char err[256];
    struct plog *log = plog_open(st_dir, &cfg, err, sizeof(err));
    int64_t first, *offs;
    int n, deleted;
    cr_assert_not_null(log, "%s", err);
    for (int i = 0; i < 40; i++)
        cr_assert_eq(app(log, 12, 0, 3 * i, 3, &first), KERR_NONE);
    int segs = plog_segment_count(log);
    cr_assert_gt(segs, 3);
    cr_assert_eq(plog_list_snapshots(st_dir, &offs, &n), KERR_NONE);
    cr_assert_eq(n, segs - 1, "one per roll");
    for (int i = 0; i < n; i++)
        cr_assert_eq(offs[i], plog_segment_base(log, i + 1));
    free(offs);
    struct plog_retention r = {.now_ms = 1000,
                               .retention_ms = -1,
                               .retention_bytes = plog_size_bytes(log) / 2,
                               .max_offset = INT64_MAX};
    cr_assert_eq(plog_apply_retention(log, &r, &deleted), KERR_NONE);
    cr_assert_gt(deleted, 0);
    cr_assert_eq(plog_list_snapshots(st_dir, &offs, &n), KERR_NONE);
    for (int i = 0; i < n; i++)
        cr_assert_geq(offs[i], plog_segment_base(log, 0));
    free(offs);
    plog_close(log);
    /* reopen after a "crash" (the close snapshot removed): roll snapshot + replay */
    char path[300];
    snprintf(path, sizeof(path), "%020d.snapshot", 120);
    cr_assert_eq(unlink(st_path(path)), 0);
    log = plog_open(st_dir, &cfg, err, sizeof(err));
    cr_assert_not_null(log, "%s", err);
    cr_assert_eq(app(log, 12, 0, 117, 3, &first), KERR_DUPLICATE_SEQUENCE_NUMBER);
    cr_assert_eq(first, 117);
    cr_assert_eq(app(log, 12, 0, 108, 3, &first), KERR_DUPLICATE_SEQUENCE_NUMBER);
    cr_assert_eq(app(log, 12, 0, 120, 1, &first), KERR_NONE);
    plog_close(log);
}
