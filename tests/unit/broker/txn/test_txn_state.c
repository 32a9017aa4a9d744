/*
 * tests/unit/broker/txn/test_txn_state.c — the transaction state machine
 * (broker/txn/txn_state.c): every legal and illegal transition of Kafka's table, InitProducerId
 * (new id, epoch bump, KIP-360 retries, fencing an open transaction, epoch exhaustion and
 * producer id rotation), AddPartitionsToTxn, EndTxn in every state, marker completion, timeout
 * fencing (at the last epochs too: bumped to INT16_MAX, or aborted without a bump there), id
 * expiry, pending transitions (CONCURRENT_TRANSACTIONS), the version-dependent
 * fenced error, and replaying the records it writes into a fresh table.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "broker/txn/txn_state.h"

#define ID "my-txn"
#define IDL (sizeof(ID) - 1)
#define MAXT 900000

static struct txn_table *T;

static void setup(void) { T = txn_table_new(); }
static void teardown(void) { txn_table_free(T); }

TestSuite(txn_state, .init = setup, .fini = teardown);

/* InitProducerId without expectations, applied; returns the entry. */
static struct txn_meta *init_ok(int64_t new_pid, int64_t now)
{
    bool used;
    struct txn_result r = txn_init_pid(T, ID, IDL, 60000, MAXT, -1, -1, true, new_pid, &used, now);
    cr_assert_eq(r.err, KERR_NONE, "init: %s", kerr_name(r.err));
    cr_assert(r.write);
    txn_apply(T, r.meta);
    return r.meta;
}

static void add_ok(struct txn_meta *m, const char *topic, int32_t p, int64_t now)
{
    struct txn_tp tp = {(char *)topic, p};
    struct txn_result r = txn_add_partitions(T, ID, IDL, m->cur.producer_id, m->cur.producer_epoch,
                                             &tp, 1, true, now);
    cr_assert_eq(r.err, KERR_NONE, "add: %s", kerr_name(r.err));
    if (r.write)
        txn_apply(T, m);
}

static void end_ok(struct txn_meta *m, bool commit, int64_t now)
{
    struct txn_result r =
        txn_end(T, ID, IDL, m->cur.producer_id, m->cur.producer_epoch, commit, true, now);
    cr_assert_eq(r.err, KERR_NONE, "end: %s", kerr_name(r.err));
    cr_assert(r.write);
    txn_apply(T, m);
    r = txn_complete(T, m, now);
    cr_assert_eq(r.err, KERR_NONE);
    txn_apply(T, m);
}

Test(txn_state, transition_table_is_kafkas)
{
    /* legal[to] = bit set of from states */
    static const unsigned legal[TXN_STATUS_COUNT] = {
        [TXN_EMPTY] = 1u << TXN_EMPTY | 1u << TXN_COMPLETE_COMMIT | 1u << TXN_COMPLETE_ABORT,
        [TXN_ONGOING] = 1u << TXN_ONGOING | 1u << TXN_EMPTY | 1u << TXN_COMPLETE_COMMIT |
                        1u << TXN_COMPLETE_ABORT,
        [TXN_PREPARE_COMMIT] = 1u << TXN_ONGOING,
        [TXN_PREPARE_ABORT] = 1u << TXN_ONGOING | 1u << TXN_PREPARE_EPOCH_FENCE,
        [TXN_COMPLETE_COMMIT] = 1u << TXN_PREPARE_COMMIT,
        [TXN_COMPLETE_ABORT] = 1u << TXN_PREPARE_ABORT,
        [TXN_DEAD] = 1u << TXN_EMPTY | 1u << TXN_COMPLETE_COMMIT | 1u << TXN_COMPLETE_ABORT,
        [TXN_PREPARE_EPOCH_FENCE] = 1u << TXN_ONGOING,
    };
    for (int to = 0; to < TXN_STATUS_COUNT; to++)
        for (int from = 0; from < TXN_STATUS_COUNT; from++)
            cr_assert_eq(txn_transition_legal(from, to), (legal[to] >> from) & 1, "%s -> %s",
                         txn_status_name(from), txn_status_name(to));
}

Test(txn_state, init_new_id_then_bump)
{
    bool used;
    struct txn_result r = txn_init_pid(T, ID, IDL, 60000, MAXT, -1, -1, true, 1000, &used, 5);
    cr_assert_eq(r.err, KERR_NONE);
    cr_assert(used);
    cr_assert(r.write);
    cr_assert_eq(r.to->state, TXN_EMPTY);
    cr_assert_eq(r.to->producer_id, 1000);
    cr_assert_eq(r.to->producer_epoch, 0);
    /* pending: everything else waits */
    struct txn_result r2 = txn_init_pid(T, ID, IDL, 60000, MAXT, -1, -1, true, 1001, &used, 6);
    cr_assert_eq(r2.err, KERR_CONCURRENT_TRANSACTIONS);
    cr_assert_not(used);
    txn_apply(T, r.meta);
    cr_assert_eq(r.meta->cur.producer_epoch, 0);
    cr_assert_eq(txn_table_count(T), 1);

    r = txn_init_pid(T, ID, IDL, 30000, MAXT, -1, -1, true, 1002, &used, 7);
    cr_assert_eq(r.err, KERR_NONE);
    cr_assert_not(used);
    cr_assert_eq(r.to->producer_id, 1000);
    cr_assert_eq(r.to->producer_epoch, 1);
    cr_assert_eq(r.to->timeout_ms, 30000);
    txn_apply(T, r.meta);
}

Test(txn_state, init_bad_arguments)
{
    bool used;
    cr_assert_eq(txn_init_pid(T, "", 0, 1000, MAXT, -1, -1, true, 1, &used, 0).err,
                 KERR_INVALID_REQUEST);
    cr_assert_eq(txn_init_pid(T, ID, IDL, 0, MAXT, -1, -1, true, 1, &used, 0).err,
                 KERR_INVALID_TRANSACTION_TIMEOUT);
    cr_assert_eq(txn_init_pid(T, ID, IDL, MAXT + 1, MAXT, -1, -1, true, 1, &used, 0).err,
                 KERR_INVALID_TRANSACTION_TIMEOUT);
    cr_assert_eq(txn_table_count(T), 0);
}

Test(txn_state, abandon_of_a_new_id_removes_it)
{
    bool used;
    struct txn_result r = txn_init_pid(T, ID, IDL, 1000, MAXT, -1, -1, true, 9, &used, 0);
    cr_assert(r.write);
    txn_abandon(T, r.meta);
    cr_assert_eq(txn_table_count(T), 0);
    struct txn_meta *m = init_ok(9, 1);
    r = txn_init_pid(T, ID, IDL, 1000, MAXT, -1, -1, true, 10, &used, 2);
    txn_abandon(T, r.meta);
    cr_assert_eq(txn_table_get(T, ID, IDL), m);
    cr_assert_eq(m->cur.producer_epoch, 0);
    cr_assert_not(m->pending);
}

Test(txn_state, init_kip360_expectations)
{
    struct txn_meta *m = init_ok(1000, 0); /* epoch 0 */
    bool used;
    /* the current pid/epoch: bump, remembering the last epoch */
    struct txn_result r = txn_init_pid(T, ID, IDL, 1000, MAXT, 1000, 0, true, 1, &used, 1);
    cr_assert_eq(r.err, KERR_NONE);
    cr_assert_eq(r.to->producer_epoch, 1);
    cr_assert_eq(r.to->last_producer_epoch, 0);
    txn_apply(T, m);
    /* a retry with the old epoch: the same answer again */
    r = txn_init_pid(T, ID, IDL, 1000, MAXT, 1000, 0, true, 1, &used, 2);
    cr_assert_eq(r.err, KERR_NONE);
    cr_assert_eq(r.to->producer_epoch, 1);
    txn_apply(T, m);
    /* another epoch: fenced, by version */
    cr_assert_eq(txn_init_pid(T, ID, IDL, 1000, MAXT, 1000, 7, true, 1, &used, 3).err,
                 KERR_PRODUCER_FENCED);
    cr_assert_eq(txn_init_pid(T, ID, IDL, 1000, MAXT, 1000, 7, false, 1, &used, 3).err,
                 KERR_INVALID_PRODUCER_EPOCH);
    /* another producer id */
    cr_assert_eq(txn_init_pid(T, ID, IDL, 1000, MAXT, 555, 1, true, 1, &used, 3).err,
                 KERR_PRODUCER_FENCED);
    cr_assert_not(m->pending);
}

Test(txn_state, init_epoch_exhausted_rotates_producer_id)
{
    struct txn_meta *m = init_ok(1000, 0);
    m->cur.producer_epoch = TXN_EPOCH_EXHAUSTED;
    bool used;
    struct txn_result r = txn_init_pid(T, ID, IDL, 1000, MAXT, -1, -1, true, 2000, &used, 1);
    cr_assert_eq(r.err, KERR_NONE);
    cr_assert(used);
    cr_assert_eq(r.to->producer_id, 2000);
    cr_assert_eq(r.to->producer_epoch, 0);
    cr_assert_eq(r.to->last_producer_id, 1000);
    cr_assert_eq(r.to->last_producer_epoch, -1);
    txn_abandon(T, m);
    cr_assert_eq(m->cur.producer_id, 1000);

    /* with the producer's expectation (KIP-360) the old epoch is remembered, so a retry of
     * the rotation whose answer was lost gets the same new id and epoch */
    r = txn_init_pid(T, ID, IDL, 1000, MAXT, 1000, TXN_EPOCH_EXHAUSTED, true, 2000, &used, 2);
    cr_assert_eq(r.err, KERR_NONE);
    cr_assert_eq(r.to->last_producer_epoch, TXN_EPOCH_EXHAUSTED);
    txn_apply(T, m);
    r = txn_init_pid(T, ID, IDL, 1000, MAXT, 1000, TXN_EPOCH_EXHAUSTED, true, 3000, &used, 3);
    cr_assert_eq(r.err, KERR_NONE);
    cr_assert_not(used);
    cr_assert_eq(r.to->producer_id, 2000);
    cr_assert_eq(r.to->producer_epoch, 0);
    txn_apply(T, m);
    /* the old id with an epoch that is not exhausted is fenced */
    cr_assert_eq(txn_init_pid(T, ID, IDL, 1000, MAXT, 1000, 5, true, 3000, &used, 4).err,
                 KERR_PRODUCER_FENCED);
}

Test(txn_state, full_commit_and_abort_cycles)
{
    struct txn_meta *m = init_ok(1000, 0);
    add_ok(m, "b", 1, 10);
    cr_assert_eq(m->cur.state, TXN_ONGOING);
    cr_assert_eq(m->cur.start_ms, 10);
    add_ok(m, "a", 0, 11);
    add_ok(m, "b", 1, 12); /* already there: no write */
    cr_assert_eq(m->cur.nparts, 2);
    cr_assert_str_eq(m->cur.parts[0].topic, "a");
    cr_assert_eq(m->cur.start_ms, 10);
    end_ok(m, true, 20);
    cr_assert_eq(m->cur.state, TXN_COMPLETE_COMMIT);
    cr_assert_eq(m->cur.nparts, 0);
    /* retried EndTxn(commit) is fine, abort is not */
    cr_assert_eq(txn_end(T, ID, IDL, 1000, 0, true, true, 21).err, KERR_NONE);
    cr_assert_eq(txn_end(T, ID, IDL, 1000, 0, false, true, 21).err, KERR_INVALID_TXN_STATE);
    add_ok(m, "c", 3, 30); /* CompleteCommit -> Ongoing */
    cr_assert_eq(m->cur.start_ms, 30);
    end_ok(m, false, 40);
    cr_assert_eq(m->cur.state, TXN_COMPLETE_ABORT);
    cr_assert_eq(txn_end(T, ID, IDL, 1000, 0, false, true, 41).err, KERR_NONE);
    cr_assert_eq(txn_end(T, ID, IDL, 1000, 0, true, true, 41).err, KERR_INVALID_TXN_STATE);
    /* CompleteAbort -> Empty by InitProducerId */
    bool used;
    struct txn_result r = txn_init_pid(T, ID, IDL, 1000, MAXT, -1, -1, true, 1, &used, 50);
    cr_assert_eq(r.to->state, TXN_EMPTY);
    txn_apply(T, m);
    cr_assert_eq(m->cur.producer_epoch, 1);
}

Test(txn_state, end_txn_errors_by_state)
{
    struct txn_meta *m = init_ok(1000, 0);
    cr_assert_eq(txn_end(T, ID, IDL, 1000, 0, true, true, 1).err, KERR_INVALID_TXN_STATE);
    cr_assert_eq(txn_end(T, ID, IDL, 999, 0, true, true, 1).err, KERR_INVALID_PRODUCER_ID_MAPPING);
    cr_assert_eq(txn_end(T, "other", 5, 1000, 0, true, true, 1).err,
                 KERR_INVALID_PRODUCER_ID_MAPPING);
    add_ok(m, "t", 0, 2);
    cr_assert_eq(txn_end(T, ID, IDL, 1000, 1, true, true, 3).err, KERR_PRODUCER_FENCED);
    cr_assert_eq(txn_end(T, ID, IDL, 1000, 1, true, false, 3).err, KERR_INVALID_PRODUCER_EPOCH);
    struct txn_result r = txn_end(T, ID, IDL, 1000, 0, true, true, 3);
    cr_assert(r.write);
    /* pending PrepareCommit */
    cr_assert_eq(txn_end(T, ID, IDL, 1000, 0, true, true, 3).err, KERR_CONCURRENT_TRANSACTIONS);
    txn_apply(T, m);
    cr_assert_eq(m->cur.state, TXN_PREPARE_COMMIT);
    cr_assert_eq(txn_end(T, ID, IDL, 1000, 0, true, true, 4).err, KERR_CONCURRENT_TRANSACTIONS);
    cr_assert_eq(txn_end(T, ID, IDL, 1000, 0, false, true, 4).err, KERR_INVALID_TXN_STATE);
    struct txn_tp tp = {"u", 1};
    cr_assert_eq(txn_add_partitions(T, ID, IDL, 1000, 0, &tp, 1, true, 4).err,
                 KERR_CONCURRENT_TRANSACTIONS);
    bool used;
    cr_assert_eq(txn_init_pid(T, ID, IDL, 1000, MAXT, -1, -1, true, 1, &used, 4).err,
                 KERR_CONCURRENT_TRANSACTIONS);
    txn_apply(T, txn_complete(T, m, 5).meta);
    cr_assert_eq(m->cur.state, TXN_COMPLETE_COMMIT);
    cr_assert_eq(txn_complete(T, m, 6).err, KERR_INVALID_TXN_STATE);
}

Test(txn_state, prepare_abort_errors)
{
    struct txn_meta *m = init_ok(1000, 0);
    add_ok(m, "t", 0, 2);
    txn_apply(T, txn_end(T, ID, IDL, 1000, 0, false, true, 3).meta);
    cr_assert_eq(m->cur.state, TXN_PREPARE_ABORT);
    cr_assert_eq(txn_end(T, ID, IDL, 1000, 0, false, true, 4).err, KERR_CONCURRENT_TRANSACTIONS);
    cr_assert_eq(txn_end(T, ID, IDL, 1000, 0, true, true, 4).err, KERR_INVALID_TXN_STATE);
}

Test(txn_state, add_partitions_errors)
{
    struct txn_tp tp = {"t", 0};
    cr_assert_eq(txn_add_partitions(T, ID, IDL, 1, 0, &tp, 1, true, 0).err,
                 KERR_INVALID_PRODUCER_ID_MAPPING);
    struct txn_meta *m = init_ok(1000, 0);
    cr_assert_eq(txn_add_partitions(T, ID, IDL, 1001, 0, &tp, 1, true, 0).err,
                 KERR_INVALID_PRODUCER_ID_MAPPING);
    cr_assert_eq(txn_add_partitions(T, ID, IDL, 1000, 3, &tp, 1, true, 0).err,
                 KERR_PRODUCER_FENCED);
    cr_assert_eq(txn_add_partitions(T, ID, IDL, 1000, 3, &tp, 1, false, 0).err,
                 KERR_INVALID_PRODUCER_EPOCH);
    cr_assert_eq(txn_add_partitions(T, "", 0, 1000, 0, &tp, 1, true, 0).err, KERR_INVALID_REQUEST);
    cr_assert_eq(m->cur.state, TXN_EMPTY);
}

Test(txn_state, init_fences_an_open_transaction)
{
    struct txn_meta *m = init_ok(1000, 0);
    add_ok(m, "t", 0, 1);
    bool used;
    struct txn_result r = txn_init_pid(T, ID, IDL, 1000, MAXT, -1, -1, true, 1, &used, 2);
    cr_assert_eq(r.err, KERR_CONCURRENT_TRANSACTIONS);
    cr_assert(r.write);
    cr_assert_eq(r.to->state, TXN_PREPARE_ABORT);
    cr_assert_eq(r.to->producer_epoch, 1);
    cr_assert_eq(r.to->nparts, 1);
    txn_apply(T, m);
    /* the old producer is fenced */
    cr_assert_eq(txn_end(T, ID, IDL, 1000, 0, true, true, 3).err, KERR_PRODUCER_FENCED);
    cr_assert_eq(txn_init_pid(T, ID, IDL, 1000, MAXT, -1, -1, true, 1, &used, 3).err,
                 KERR_CONCURRENT_TRANSACTIONS);
    txn_apply(T, txn_complete(T, m, 4).meta);
    cr_assert_eq(m->cur.state, TXN_COMPLETE_ABORT);
    r = txn_init_pid(T, ID, IDL, 1000, MAXT, -1, -1, true, 1, &used, 5);
    cr_assert_eq(r.err, KERR_NONE);
    cr_assert_eq(r.to->producer_epoch, 2);
    txn_apply(T, m);
}

Test(txn_state, timeout_fences_and_aborts)
{
    struct txn_meta *m = init_ok(1000, 0);                                       /* timeout 60000 */
    cr_assert_eq(txn_fence_timed_out(T, m, 100000).err, KERR_INVALID_TXN_STATE); /* Empty */
    add_ok(m, "t", 0, 1000);
    cr_assert_eq(txn_fence_timed_out(T, m, 60999).err, KERR_INVALID_TXN_STATE);
    struct txn_result r = txn_fence_timed_out(T, m, 61000);
    cr_assert_eq(r.err, KERR_NONE);
    cr_assert_eq(r.to->state, TXN_PREPARE_ABORT);
    cr_assert_eq(r.to->producer_epoch, 1);
    cr_assert_eq(txn_fence_timed_out(T, m, 61000).err, KERR_CONCURRENT_TRANSACTIONS);
    txn_apply(T, m);
    struct txn_tp tp = {"t", 1};
    cr_assert_eq(txn_add_partitions(T, ID, IDL, 1000, 0, &tp, 1, false, 61001).err,
                 KERR_INVALID_PRODUCER_EPOCH);
}

/* A timed-out transaction at epoch e: aborted at epoch `want`, completed, and the next
 * InitProducerId takes a new producer id at epoch 0 remembering the old one. */
static void timeout_at_epoch(int16_t e, int16_t want)
{
    struct txn_meta *m = init_ok(1000, 0); /* timeout 60000 */
    m->cur.producer_epoch = e;
    add_ok(m, "t", 0, 1000);
    struct txn_result r = txn_fence_timed_out(T, m, 61000);
    cr_assert_eq(r.err, KERR_NONE, "epoch %d: %s", e, kerr_name(r.err));
    cr_assert(r.write);
    cr_assert_eq(r.to->state, TXN_PREPARE_ABORT);
    cr_assert_eq(r.to->producer_id, 1000);
    cr_assert_eq(r.to->producer_epoch, want);
    cr_assert_eq(r.to->nparts, 1);
    txn_apply(T, m);
    /* the producer of epoch e is fenced while the abort is prepared and after it */
    cr_assert_eq(txn_end(T, ID, IDL, 1000, e, false, true, 61001).err,
                 e == want ? KERR_CONCURRENT_TRANSACTIONS : KERR_PRODUCER_FENCED);
    r = txn_complete(T, m, 61002);
    cr_assert(r.write);
    txn_apply(T, m);
    cr_assert_eq(m->cur.state, TXN_COMPLETE_ABORT);
    cr_assert_eq(m->cur.producer_epoch, want);
    bool used;
    r = txn_init_pid(T, ID, IDL, 60000, MAXT, -1, -1, true, 2000, &used, 61003);
    cr_assert_eq(r.err, KERR_NONE);
    cr_assert(used);
    cr_assert_eq(r.to->producer_id, 2000);
    cr_assert_eq(r.to->producer_epoch, 0);
    cr_assert_eq(r.to->last_producer_id, 1000);
    txn_apply(T, m);
    struct txn_tp tp = {"t", 1};
    cr_assert_eq(txn_add_partitions(T, ID, IDL, 1000, e, &tp, 1, true, 61004).err,
                 KERR_INVALID_PRODUCER_ID_MAPPING);
}

Test(txn_state, timeout_at_the_last_epoch_bumps_to_the_maximum)
{
    timeout_at_epoch(TXN_EPOCH_EXHAUSTED, INT16_MAX);
}

Test(txn_state, timeout_at_the_maximum_epoch_aborts_without_a_bump)
{
    timeout_at_epoch(INT16_MAX, INT16_MAX);
}

Test(txn_state, init_over_an_open_transaction_at_the_maximum_epoch)
{
    struct txn_meta *m = init_ok(1000, 0);
    m->cur.producer_epoch = INT16_MAX;
    add_ok(m, "t", 0, 1000);
    bool used;
    struct txn_result r = txn_init_pid(T, ID, IDL, 60000, MAXT, -1, -1, true, 2000, &used, 2000);
    cr_assert_eq(r.err, KERR_CONCURRENT_TRANSACTIONS);
    cr_assert(r.write);
    cr_assert_not(used);
    cr_assert_eq(r.to->state, TXN_PREPARE_ABORT);
    cr_assert_eq(r.to->producer_epoch, INT16_MAX);
    txn_apply(T, m);
    txn_apply(T, txn_complete(T, m, 2001).meta);
    r = txn_init_pid(T, ID, IDL, 60000, MAXT, -1, -1, true, 2000, &used, 2002);
    cr_assert_eq(r.err, KERR_NONE);
    cr_assert(used);
    cr_assert_eq(r.to->producer_id, 2000);
    cr_assert_eq(r.to->producer_epoch, 0);
    txn_apply(T, m);
}

Test(txn_state, expiry_writes_a_tombstone_and_removes)
{
    struct txn_meta *m = init_ok(1000, 100);
    cr_assert_eq(txn_expire(T, m, 1000, 1099).err, KERR_INVALID_TXN_STATE);
    struct txn_result r = txn_expire(T, m, 1000, 1100);
    cr_assert_eq(r.err, KERR_NONE);
    cr_assert_eq(r.to->state, TXN_DEAD);
    struct kbuf k, v;
    kbuf_init(&k);
    kbuf_init(&v);
    bool tomb;
    cr_assert_eq(txn_transit_record(m, r.to, &k, &v, &tomb), KERR_NONE);
    cr_assert(tomb);
    cr_assert_eq(v.len, 0);
    txn_apply(T, m);
    cr_assert_eq(txn_table_count(T), 0);
    kbuf_destroy(&k);
    kbuf_destroy(&v);
}

Test(txn_state, expiry_refused_while_open)
{
    struct txn_meta *m = init_ok(1000, 0);
    add_ok(m, "t", 0, 1);
    cr_assert_eq(txn_expire(T, m, 0, 1000000).err, KERR_INVALID_TXN_STATE);
}

/* Writes m's pending transition into the record list, then applies it. */
struct rec {
    struct kbuf k, v;
    bool tomb;
};

static void persist(struct rec *out, struct txn_meta *m)
{
    kbuf_init(&out->k);
    kbuf_init(&out->v);
    cr_assert_eq(txn_transit_record(m, &m->to, &out->k, &out->v, &out->tomb), KERR_NONE);
    txn_apply(T, m);
}

Test(txn_state, replay_of_written_records)
{
    struct rec recs[8];
    int n = 0;
    bool used;
    struct txn_result r = txn_init_pid(T, ID, IDL, 5000, MAXT, -1, -1, true, 77, &used, 1);
    persist(&recs[n++], r.meta);
    struct txn_meta *m = r.meta;
    struct txn_tp tps[] = {{"b", 2}, {"a", 1}, {"b", 0}};
    txn_add_partitions(T, ID, IDL, 77, 0, tps, 3, true, 2);
    persist(&recs[n++], m);
    r = txn_init_pid(T, "other", 5, 5000, MAXT, -1, -1, true, 78, &used, 3);
    persist(&recs[n++], r.meta);

    struct txn_table *t2 = txn_table_new();
    for (int i = 0; i < n; i++)
        cr_assert_eq(txn_table_load_record(t2, recs[i].k.data, recs[i].k.len,
                                           recs[i].tomb ? NULL : recs[i].v.data, recs[i].v.len),
                     KERR_NONE);
    cr_assert_eq(txn_table_count(t2), 2);
    struct txn_meta *l = txn_table_get(t2, ID, IDL);
    cr_assert_not_null(l);
    cr_assert_eq(l->cur.state, TXN_ONGOING);
    cr_assert_eq(l->cur.producer_id, 77);
    cr_assert_eq(l->cur.producer_epoch, 0);
    cr_assert_eq(l->cur.timeout_ms, 5000);
    cr_assert_eq(l->cur.start_ms, 2);
    cr_assert_eq(l->cur.nparts, 3);
    cr_assert_str_eq(l->cur.parts[0].topic, "a");
    cr_assert_str_eq(l->cur.parts[1].topic, "b");
    cr_assert_eq(l->cur.parts[1].partition, 0);
    cr_assert_eq(l->cur.parts[2].partition, 2);

    /* a tombstone removes; a corrupt record is refused and changes nothing */
    struct kbuf k;
    kbuf_init(&k);
    txn_log_key_put(&k, "other", 5);
    cr_assert_eq(txn_table_load_record(t2, k.data, k.len, NULL, 0), KERR_NONE);
    cr_assert_eq(txn_table_count(t2), 1);
    const uint8_t junk[] = {0x00, 0x00, 0x01};
    cr_assert_eq(txn_table_load_record(t2, k.data, k.len, junk, sizeof(junk)), KERR__CORRUPT);
    cr_assert_eq(txn_table_load_record(t2, junk, sizeof(junk), NULL, 0), KERR__CORRUPT);
    cr_assert_eq(txn_table_count(t2), 1);
    kbuf_destroy(&k);
    txn_table_free(t2);
    for (int i = 0; i < n; i++) {
        kbuf_destroy(&recs[i].k);
        kbuf_destroy(&recs[i].v);
    }
}

Test(txn_state, many_ids_grow_the_table)
{
    char id[32];
    bool used;
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(id, sizeof(id), "txn-%d", i);
        struct txn_result r = txn_init_pid(T, id, (size_t)n, 1000, MAXT, -1, -1, true, i, &used, 0);
        cr_assert_eq(r.err, KERR_NONE);
        txn_apply(T, r.meta);
    }
    cr_assert_eq(txn_table_count(T), 1000);
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(id, sizeof(id), "txn-%d", i);
        struct txn_meta *m = txn_table_get(T, id, (size_t)n);
        cr_assert_not_null(m);
        cr_assert_eq(m->cur.producer_id, i);
    }
}
