/*
 * broker/core/txn_coord.c — the transaction coordinator's operations (txn_coord.h): requests
 * checked by txn_state.c and written through txn_runtime_write(), the markers and completion
 * of prepared transactions, the timeout and expiry passes, failover. Txn worker only.
 */
#include "broker/core/txn_coord.h"
#include "broker/config/config.h"
#include "broker/core/broker.h"
#include "broker/core/producer_ids.h"
#include "broker/core/txn_markers.h"
#include "common/say.h"

#include <stdlib.h>
#include <string.h>

/* A write in flight and what to do once it is done. */
struct op {
    txn_reply reply; /* NULL: the coordinator's own write (completion, timeout, expiry) */
    void *arg;
    kerr_t answer;   /* the request's answer once written */
    bool answer_pid; /* InitProducerId: answer the entry's producer id and epoch */
    const char *what;
};

/* Kafka's answer for a failed `__transaction_state` append. */
static kerr_t write_error(kerr_t err)
{
    switch (err) {
    case KERR_NOT_LEADER_OR_FOLLOWER:
    case KERR_KAFKA_STORAGE_ERROR:
    case KERR_NOT_COORDINATOR:
        return KERR_NOT_COORDINATOR;
    case KERR_MESSAGE_TOO_LARGE:
    case KERR_RECORD_LIST_TOO_LARGE:
        return KERR_UNKNOWN_SERVER_ERROR;
    default: /* UNKNOWN_TOPIC_OR_PARTITION, NOT_ENOUGH_REPLICAS*, REQUEST_TIMED_OUT, ours */
        return KERR_COORDINATOR_NOT_AVAILABLE;
    }
}

static bool prepared(const struct txn_meta *m)
{
    return m->cur.state == TXN_PREPARE_COMMIT || m->cur.state == TXN_PREPARE_ABORT;
}

/* Sends the markers of prepared entry m of route rt. */
static void send_markers(struct txn_runtime *tr, const struct txn_route *rt, struct txn_meta *m)
{
    struct txn_markers *mk = txn_runtime_markers(tr);
    if (!mk || txn_markers_active(mk, m->id, m->id_len))
        return;
    struct txn_markers_txn t = {.id = m->id,
                                .id_len = m->id_len,
                                .coord_partition = rt->partition,
                                .coord_epoch = rt->coord_epoch,
                                .producer_id = m->cur.producer_id,
                                .producer_epoch = m->cur.producer_epoch,
                                .commit = m->cur.state == TXN_PREPARE_COMMIT,
                                .parts = m->cur.parts,
                                .n_parts = m->cur.nparts};
    if (!txn_markers_send(mk, &t))
        say_warn("txn",
                 "cannot send markers (out of memory) transactional_id=%s: retried by "
                 "the next abort pass",
                 m->id);
}

static void written(struct txn_runtime *tr, kerr_t err, struct txn_meta *m, void *arg)
{
    struct op *op = arg;
    if (err != KERR_NONE)
        say_warn("txn", "cannot write transaction state (%s) transactional_id=%s err=%s", op->what,
                 m ? m->id : "?", kerr_name(err));
    if (err == KERR_NONE && m && prepared(m)) {
        struct txn_route rt;
        kerr_t rerr;
        if (txn_runtime_locate(tr, m->id, m->id_len, &rt, &rerr))
            send_markers(tr, &rt, m);
    }
    if (err == KERR_NONE && m &&
        (m->cur.state == TXN_COMPLETE_COMMIT || m->cur.state == TXN_COMPLETE_ABORT))
        say_debug("txn", "transaction complete transactional_id=%s state=%s", m->id,
                  txn_status_name(m->cur.state));
    if (op->reply) {
        if (err != KERR_NONE)
            op->reply(op->arg, write_error(err), -1, -1);
        else if (op->answer_pid && op->answer == KERR_NONE && m)
            op->reply(op->arg, KERR_NONE, m->cur.producer_id, m->cur.producer_epoch);
        else
            op->reply(op->arg, op->answer, -1, -1);
    }
    free(op);
}

/* Writes the transition r decided (r.write) or answers r.err at once. */
static void carry_out(struct txn_runtime *tr, const struct txn_route *rt, struct txn_result r,
                      const char *what, bool answer_pid, txn_reply reply, void *arg)
{
    if (!r.write) {
        if (reply)
            reply(arg, r.err == KERR__NOMEM ? KERR_COORDINATOR_NOT_AVAILABLE : r.err, -1, -1);
        return;
    }
    struct op *op = malloc(sizeof(*op));
    if (!op) {
        txn_abandon(rt->table, r.meta);
        if (reply)
            reply(arg, KERR_COORDINATOR_NOT_AVAILABLE, -1, -1);
        return;
    }
    *op = (struct op){reply, arg, r.err, answer_pid, what};
    txn_runtime_write(tr, rt, r.meta, written, op);
}

void txn_coord_init_pid(struct txn_runtime *tr, const char *p, size_t len, int32_t timeout_ms,
                        int64_t pid, int16_t epoch, int16_t version, txn_reply reply, void *arg)
{
    struct txn_route rt;
    kerr_t err;
    if (!txn_runtime_locate(tr, p, len, &rt, &err)) {
        reply(arg, err, -1, -1);
        return;
    }
    struct broker *b = txn_runtime_broker(tr);
    const struct txn_meta *m = txn_table_get(rt.table, p, len);
    int64_t new_pid = -1;
    if (!m || (!m->pending && m->cur.producer_epoch >= TXN_EPOCH_EXHAUSTED)) {
        int16_t e;
        err = b->pids ? pids_init(b->pids, -1, -1, version, &new_pid, &e)
                      : KERR_COORDINATOR_NOT_AVAILABLE;
        if (err != KERR_NONE) {
            reply(arg, err, -1, -1);
            return;
        }
    }
    bool used;
    struct txn_result r =
        txn_init_pid(rt.table, p, len, timeout_ms, b->cfg->transaction_max_timeout_ms, pid, epoch,
                     version >= 4, new_pid, &used, txn_runtime_now());
    carry_out(tr, &rt, r, "InitProducerId", true, reply, arg);
}

void txn_coord_add_partitions(struct txn_runtime *tr, const char *p, size_t len, int64_t pid,
                              int16_t epoch, const struct txn_tp *parts, size_t n, bool fenced_ok,
                              txn_reply reply, void *arg)
{
    struct txn_route rt;
    kerr_t err;
    if (!txn_runtime_locate(tr, p, len, &rt, &err)) {
        reply(arg, err, -1, -1);
        return;
    }
    struct txn_result r =
        txn_add_partitions(rt.table, p, len, pid, epoch, parts, n, fenced_ok, txn_runtime_now());
    carry_out(tr, &rt, r, "AddPartitionsToTxn", false, reply, arg);
}

void txn_coord_end(struct txn_runtime *tr, const char *p, size_t len, int64_t pid, int16_t epoch,
                   bool commit, bool fenced_ok, txn_reply reply, void *arg)
{
    struct txn_route rt;
    kerr_t err;
    if (!txn_runtime_locate(tr, p, len, &rt, &err)) {
        reply(arg, err, -1, -1);
        return;
    }
    struct txn_result r =
        txn_end(rt.table, p, len, pid, epoch, commit, fenced_ok, txn_runtime_now());
    carry_out(tr, &rt, r, "EndTxn", false, reply, arg);
}

void txn_coord_markers_done(void *ctx, const char *id, size_t len, int32_t coord_partition,
                            kerr_t err)
{
    struct txn_runtime *tr = ctx;
    (void)coord_partition;
    struct txn_route rt;
    kerr_t lerr;
    struct txn_meta *m =
        txn_runtime_locate(tr, id, len, &rt, &lerr) ? txn_table_get(rt.table, id, len) : NULL;
    if (err != KERR_NONE) {
        /* As Kafka's TransactionMarkerRequestCompletionHandler: a newer producer epoch or
         * coordinator exists, so this coordinator stops sending; the transaction stays prepared
         * until its partition is loaded again (by the newer coordinator, which sends them). */
        say_warn("txn",
                 "stopped sending markers transactional_id=%.*s err=%s: not sent again until the "
                 "partition is loaded again",
                 (int)len, id, kerr_name(err));
        if (m && prepared(m))
            m->markers_refused = true;
        return;
    }
    if (!m || m->pending || !prepared(m))
        return;
    m->markers_done = true;
    carry_out(tr, &rt, txn_complete(rt.table, m, txn_runtime_now()), "complete", false, NULL, NULL);
}

struct pass {
    struct txn_runtime *tr;
    int64_t now;
    int64_t expiration_ms;
    struct txn_meta **todo;
    size_t n, cap;
};

static void collect(struct txn_meta *m, void *arg)
{
    struct pass *ps = arg;
    if (m->pending || ps->n == ps->cap)
        return;
    ps->todo[ps->n++] = m;
}

/* The entries of t not pending (a copy: acting on one does not change the table's shape). */
static bool pass_begin(struct pass *ps, struct txn_runtime *tr, struct txn_table *t, int64_t now)
{
    *ps = (struct pass){.tr = tr, .now = now, .cap = txn_table_count(t)};
    ps->todo = ps->cap ? calloc(ps->cap, sizeof(*ps->todo)) : NULL;
    if (ps->cap && !ps->todo)
        return false;
    txn_table_foreach(t, collect, ps);
    return true;
}

void txn_coord_loaded(struct txn_runtime *tr, struct txn_table *t, int32_t partition)
{
    struct pass ps;
    if (!pass_begin(&ps, tr, t, txn_runtime_now()))
        return; /* the abort pass sends them */
    size_t n = 0;
    for (size_t i = 0; i < ps.n; i++) {
        struct txn_route rt;
        kerr_t err;
        struct txn_meta *m = ps.todo[i];
        if (prepared(m) && txn_runtime_locate(tr, m->id, m->id_len, &rt, &err)) {
            send_markers(tr, &rt, m);
            n++;
        }
    }
    if (n > 0)
        say_info("txn", "partition=%d loaded with %zu prepared transactions: sending markers",
                 partition, n);
    free(ps.todo);
}

void txn_coord_abort_pass(struct txn_runtime *tr, struct txn_table *t, int32_t partition,
                          int64_t now_ms)
{
    struct pass ps;
    if (!pass_begin(&ps, tr, t, now_ms))
        return;
    for (size_t i = 0; i < ps.n; i++) {
        struct txn_meta *m = ps.todo[i];
        struct txn_route rt;
        kerr_t err;
        if (!txn_runtime_locate(tr, m->id, m->id_len, &rt, &err) || rt.table != t)
            break;
        if (prepared(m)) {
            if (m->markers_done) /* its completion could not be written: again */
                carry_out(tr, &rt, txn_complete(t, m, now_ms), "complete", false, NULL, NULL);
            else if (!m->markers_refused)
                send_markers(tr, &rt, m);
            continue;
        }
        if (m->cur.state != TXN_ONGOING || m->cur.start_ms + m->cur.timeout_ms > now_ms)
            continue;
        struct txn_result r = txn_fence_timed_out(t, m, now_ms);
        if (r.write)
            say_info("txn",
                     "aborting timed-out transaction partition=%d transactional_id=%s "
                     "producer_id=%lld epoch=%d timeout_ms=%d",
                     partition, m->id, (long long)m->cur.producer_id, m->cur.producer_epoch,
                     m->cur.timeout_ms);
        carry_out(tr, &rt, r, "timeout abort", false, NULL, NULL);
    }
    free(ps.todo);
}

void txn_coord_expire_pass(struct txn_runtime *tr, struct txn_table *t, int32_t partition,
                           int64_t now_ms)
{
    struct pass ps;
    if (!pass_begin(&ps, tr, t, now_ms))
        return;
    const struct broker_config *cfg = txn_runtime_broker(tr)->cfg;
    size_t n = 0;
    for (size_t i = 0; i < ps.n; i++) {
        struct txn_meta *m = ps.todo[i];
        struct txn_route rt;
        kerr_t err;
        if (!txn_runtime_locate(tr, m->id, m->id_len, &rt, &err) || rt.table != t)
            break;
        struct txn_result r = txn_expire(t, m, cfg->transactional_id_expiration_ms, now_ms);
        n += r.write;
        carry_out(tr, &rt, r, "expiry", false, NULL, NULL);
    }
    if (n > 0)
        say_info("txn", "removing expired transactional ids partition=%d count=%zu", partition, n);
    free(ps.todo);
}
