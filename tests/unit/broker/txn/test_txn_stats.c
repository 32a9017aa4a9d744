/*
 * tests/unit/broker/txn/test_txn_stats.c — the transaction counters (broker/txn/txn_stats.h)
 * kept by the state machine (txn_state.c): open transactions through a commit, an abort, an
 * abandoned write, replay and a dropped table; committed and aborted completions; producers
 * fenced by a new instance, by fencing an open transaction and by a timeout, and the bumps
 * that fence nobody (a new id, a KIP-360 self bump, the re-init after a fence).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "broker/txn/txn_state.h"

#define ID "stats-txn"
#define IDL (sizeof(ID) - 1)
#define MAXT 900000

static struct txn_table *T;
static struct txn_stats S;

static void setup(void)
{
    memset(&S, 0, sizeof(S));
    T = txn_table_new();
    txn_table_set_stats(T, &S);
}

static void teardown(void) { txn_table_free(T); }

TestSuite(txn_stats, .init = setup, .fini = teardown);

static struct txn_stats_view now_stats(void)
{
    struct txn_stats_view v;
    txn_stats_read(&S, &v);
    return v;
}

static void expect(int64_t open, uint64_t committed, uint64_t aborted, uint64_t fenced)
{
    struct txn_stats_view v = now_stats();
    cr_assert_eq(v.open, open, "open %lld, want %lld", (long long)v.open, (long long)open);
    cr_assert_eq(v.committed, committed, "committed %llu", (unsigned long long)v.committed);
    cr_assert_eq(v.aborted, aborted, "aborted %llu", (unsigned long long)v.aborted);
    cr_assert_eq(v.fenced, fenced, "fenced %llu, want %llu", (unsigned long long)v.fenced,
                 (unsigned long long)fenced);
}

/* InitProducerId without expectations, written; returns the entry. */
static struct txn_meta *init(const char *id, int64_t pid, int64_t now)
{
    bool used;
    struct txn_result r =
        txn_init_pid(T, id, strlen(id), 60000, MAXT, -1, -1, true, pid, &used, now);
    cr_assert_eq(r.err, KERR_NONE, "init: %s", kerr_name(r.err));
    txn_apply(T, r.meta);
    return r.meta;
}

static void add(struct txn_meta *m, int64_t now)
{
    struct txn_tp tp = {"t", 0};
    struct txn_result r = txn_add_partitions(T, m->id, m->id_len, m->cur.producer_id,
                                             m->cur.producer_epoch, &tp, 1, true, now);
    cr_assert_eq(r.err, KERR_NONE, "add: %s", kerr_name(r.err));
    if (r.write)
        txn_apply(T, m);
}

static void end(struct txn_meta *m, bool commit, int64_t now)
{
    struct txn_result r =
        txn_end(T, m->id, m->id_len, m->cur.producer_id, m->cur.producer_epoch, commit, true, now);
    cr_assert_eq(r.err, KERR_NONE, "end: %s", kerr_name(r.err));
    txn_apply(T, m);
}

Test(txn_stats, open_committed_and_aborted)
{
    struct txn_meta *a = init("a", 1, 0), *b = init("b", 2, 0);
    expect(0, 0, 0, 0); /* new ids fence nobody */
    add(a, 1);
    add(b, 1);
    add(a, 2); /* a partition more: still one open transaction */
    expect(2, 0, 0, 0);
    end(a, true, 3);
    expect(2, 0, 0, 0); /* PrepareCommit is still open */
    txn_apply(T, txn_complete(T, a, 4).meta);
    expect(1, 1, 0, 0);
    end(b, false, 5);
    txn_apply(T, txn_complete(T, b, 6).meta);
    expect(0, 1, 1, 0);
    add(a, 7); /* the next transaction */
    end(a, true, 8);
    txn_apply(T, txn_complete(T, a, 9).meta);
    expect(0, 2, 1, 0);
}

Test(txn_stats, an_abandoned_write_changes_nothing)
{
    struct txn_meta *a = init("a", 1, 0);
    struct txn_tp tp = {"t", 0};
    struct txn_result r = txn_add_partitions(T, "a", 1, 1, 0, &tp, 1, true, 1);
    cr_assert(r.write);
    txn_abandon(T, a);
    expect(0, 0, 0, 0);
    add(a, 2);
    end(a, true, 3);
    r = txn_complete(T, a, 4);
    txn_abandon(T, a);
    expect(1, 0, 0, 0); /* still PrepareCommit */
}

Test(txn_stats, a_new_producer_instance_fences_the_old_one)
{
    struct txn_meta *m = init(ID, 1000, 0);
    init(ID, 1000, 1); /* epoch 0 -> 1 without the current epoch: a new instance */
    expect(0, 0, 0, 1);
    bool used;
    /* KIP-360: the producer bumps its own epoch (the request names it): nobody fenced */
    struct txn_result r = txn_init_pid(T, ID, IDL, 60000, MAXT, 1000, 1, true, 5, &used, 2);
    cr_assert_eq(r.err, KERR_NONE);
    cr_assert(r.write);
    txn_apply(T, m);
    cr_assert_eq(m->cur.producer_epoch, 2);
    expect(0, 0, 0, 1);
}

Test(txn_stats, fencing_an_open_transaction_counts_once)
{
    struct txn_meta *m = init(ID, 1000, 0);
    add(m, 1);
    bool used;
    struct txn_result r = txn_init_pid(T, ID, IDL, 60000, MAXT, -1, -1, true, 7, &used, 2);
    cr_assert_eq(r.err, KERR_CONCURRENT_TRANSACTIONS);
    txn_apply(T, m); /* PrepareAbort, epoch 1 */
    expect(1, 0, 0, 1);
    txn_apply(T, txn_complete(T, m, 3).meta);
    expect(0, 0, 1, 1);
    /* the new producer's retry takes epoch 2 over the fence's epoch 1, which nobody held */
    r = txn_init_pid(T, ID, IDL, 60000, MAXT, -1, -1, true, 7, &used, 4);
    cr_assert_eq(r.err, KERR_NONE);
    txn_apply(T, m);
    cr_assert_eq(m->cur.producer_epoch, 2);
    expect(0, 0, 1, 1);
    /* and a later new instance fences that producer: counted again */
    init(ID, 7, 5);
    expect(0, 0, 1, 2);
}

Test(txn_stats, a_timeout_fences)
{
    struct txn_meta *m = init(ID, 1000, 0);
    add(m, 1000);
    struct txn_result r = txn_fence_timed_out(T, m, 61000);
    cr_assert_eq(r.err, KERR_NONE);
    txn_apply(T, m);
    expect(1, 0, 0, 1);
    txn_apply(T, txn_complete(T, m, 61001).meta);
    expect(0, 0, 1, 1);
}

Test(txn_stats, expiry_and_replay_and_drop)
{
    struct txn_meta *m = init(ID, 1000, 0);
    struct txn_result r = txn_expire(T, m, 10, 100);
    cr_assert(r.write);
    txn_apply(T, m); /* Dead: removed */
    cr_assert_eq(txn_table_count(T), 0);
    expect(0, 0, 0, 0);

    /* replay: open entries count while their table exists, whatever the last record says */
    struct txn_table *t2 = txn_table_new();
    txn_table_set_stats(t2, &S);
    struct txn_tp tp = {"t", 3};
    struct txn_log_topic lt = {{"t", 1}, &tp.partition, 1};
    struct kbuf k, v;
    for (int i = 0; i < 3; i++) {
        char id[8];
        int n = snprintf(id, sizeof(id), "r%d", i);
        kbuf_init(&k);
        kbuf_init(&v);
        txn_log_key_put(&k, id, (size_t)n);
        struct txn_log_value lv = {.version = 0,
                                   .producer_id = 10 + i,
                                   .producer_epoch = 0,
                                   .timeout_ms = 60000,
                                   .status = TXN_ONGOING,
                                   .topics = &lt,
                                   .topic_count = 1,
                                   .last_update_ms = 1,
                                   .start_ms = 1,
                                   .prev_producer_id = -1,
                                   .next_producer_id = -1};
        cr_assert_eq(txn_log_value_put(&v, &lv), KERR_NONE);
        cr_assert_eq(txn_table_load_record(t2, k.data, k.len, v.data, v.len), KERR_NONE);
        if (i == 2) { /* a later record of r2: CompleteCommit, then a tombstone of r1 */
            kbuf_destroy(&v);
            kbuf_init(&v);
            lv.status = TXN_COMPLETE_COMMIT;
            lv.topic_count = 0;
            cr_assert_eq(txn_log_value_put(&v, &lv), KERR_NONE);
            cr_assert_eq(txn_table_load_record(t2, k.data, k.len, v.data, v.len), KERR_NONE);
            kbuf_destroy(&k);
            kbuf_init(&k);
            txn_log_key_put(&k, "r1", 2);
            cr_assert_eq(txn_table_load_record(t2, k.data, k.len, NULL, 0), KERR_NONE);
        }
        kbuf_destroy(&k);
        kbuf_destroy(&v);
    }
    expect(1, 0, 0, 0); /* r0 Ongoing; r1 removed; r2 complete; no completion counted */
    txn_table_free(t2);
    expect(0, 0, 0, 0);
}

Test(txn_stats, a_table_without_stats_counts_nothing)
{
    struct txn_table *t = txn_table_new();
    bool used;
    struct txn_result r = txn_init_pid(t, "x", 1, 60000, MAXT, -1, -1, true, 1, &used, 0);
    txn_apply(t, r.meta);
    txn_table_free(t);
    expect(0, 0, 0, 0);
}
