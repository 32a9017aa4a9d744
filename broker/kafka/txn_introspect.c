/*
 * broker/kafka/txn_introspect.c — DescribeTransactions (key 65, v0) and ListTransactions
 * (key 66, v0), both flexible (Kafka's KIP-664): the transaction coordinator's tables
 * (broker/core/txn_runtime.h) as they are, read on the txn worker.
 *
 * DescribeTransactions request: transactional_ids [compact string]. Response: throttle_time_ms
 * int32, transaction_states [error_code int16, transactional_id, transaction_state (Kafka's
 * name: Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort, Dead,
 * PrepareEpochFence), transaction_timeout_ms int32, transaction_start_time_ms int64,
 * producer_id int64, producer_epoch int32, topics [name, partition_indexes [int32]]].
 * Each id is answered in the order asked: NOT_COORDINATOR (another broker leads its
 * `__transaction_state` partition), COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE
 * (no `__transaction_state` yet), INVALID_REQUEST (empty or over 32767 bytes),
 * TRANSACTIONAL_ID_NOT_FOUND (not in the table, or Dead); an error entry carries Kafka's
 * defaults ("" and zeros) in the other fields.
 *
 * ListTransactions request: state_filters [compact string], producer_id_filters [int64].
 * Response: throttle_time_ms int32, error_code int16, unknown_state_filters [compact string],
 * transaction_states [transactional_id, producer_id int64, transaction_state]. Every entry of
 * every table this broker has loaded, except Dead ones, whose state is one of the state filters
 * and producer id one of the producer id filters (an empty filter list passes everything; a
 * state name Kafka does not know, compared exactly, is echoed in unknown_state_filters and
 * matches nothing); COORDINATOR_LOAD_IN_PROGRESS with no entries while a partition loads.
 *
 * Both park the request (KERR__PENDING), write the answer on the txn worker and complete it
 * from there (req_complete()); when the worker refuses the call (shutting down) the answer is
 * COORDINATOR_NOT_AVAILABLE at once. A malformed request closes the connection. Tagged
 * fields after every struct.
 */
#include "broker/core/broker.h"
#include "broker/core/txn_runtime.h"
#include "broker/kafka/authz.h"
#include "broker/kafka/dispatch.h"

#include <stdlib.h>
#include <string.h>

/* One parked request. Owned by the call from the handler to its completion; the strings are
 * views into the request's frame, which lives as long as the request. */
struct tcall {
    struct req *req;
    struct kstr *ids; /* DescribeTransactions */
    int32_t n_ids;
    struct kstr *states; /* ListTransactions */
    int32_t n_states;
    int64_t *pids; /* sorted (bsearch: the walk costs log n per entry, whatever the request) */
    int32_t n_pids;
    unsigned state_mask; /* bit per known status in states */
    /* writes the answer: on the txn worker, or with tr NULL where it could not go there */
    void (*write)(struct tcall *c, struct txn_runtime *tr);
};

static void tcall_free(struct tcall *c)
{
    free(c->ids);
    free(c->states);
    free(c->pids);
    free(c);
}

static void tcall_run(struct txn_runtime *tr, void *arg)
{
    struct tcall *c = arg;
    struct req *req = c->req;
    c->write(c, tr);
    tcall_free(c);
    req_complete(req);
}

/* Has write answer c on the txn worker; when the runtime refuses the call (none yet, or
 * shutting down) writes the answer here with tr NULL (COORDINATOR_NOT_AVAILABLE). */
static kerr_t tcall_submit(struct tcall *c, void (*write)(struct tcall *c, struct txn_runtime *tr))
{
    struct txn_runtime *tr = c->req->broker->txns;
    c->write = write;
    if (tr && txn_runtime_call(tr, tcall_run, c))
        return KERR__PENDING;
    write(c, NULL);
    tcall_free(c);
    return KERR_NONE;
}

/* ---- DescribeTransactions ------------------------------------------------ */

static void describe_error(struct kbuf *o, struct kstr id, kerr_t err)
{
    kbuf_put_i16(o, err);
    kw_put_kstr(o, true, id);
    kw_put_str(o, true, ""); /* state */
    kbuf_put_i32(o, 0);      /* timeout */
    kbuf_put_i64(o, 0);      /* start time */
    kbuf_put_i64(o, 0);      /* producer id */
    kbuf_put_i32(o, 0);      /* producer epoch */
    kw_put_array_len(o, true, 0);
    kw_put_tags(o, true);
}

static void describe_meta(struct kbuf *o, const struct txn_meta *m)
{
    const struct txn_transit *c = &m->cur;
    kbuf_put_i16(o, KERR_NONE);
    kw_put_strn(o, true, m->id, m->id_len);
    kw_put_str(o, true, txn_status_name(c->state));
    kbuf_put_i32(o, c->timeout_ms);
    kbuf_put_i64(o, c->start_ms);
    kbuf_put_i64(o, c->producer_id);
    kbuf_put_i32(o, c->producer_epoch);
    int32_t nt = 0; /* parts are sorted by (topic, partition): one entry per run of a topic */
    for (size_t i = 0; i < c->nparts; i++)
        nt += i == 0 || strcmp(c->parts[i - 1].topic, c->parts[i].topic) != 0;
    kw_put_array_len(o, true, nt);
    for (size_t i = 0; i < c->nparts;) {
        size_t j = i;
        while (j < c->nparts && strcmp(c->parts[j].topic, c->parts[i].topic) == 0)
            j++;
        kw_put_str(o, true, c->parts[i].topic);
        kw_put_array_len(o, true, (int32_t)(j - i));
        for (size_t k = i; k < j; k++)
            kbuf_put_i32(o, c->parts[k].partition);
        kw_put_tags(o, true);
        i = j;
    }
    kw_put_tags(o, true);
}

static void describe_write(struct tcall *c, struct txn_runtime *tr)
{
    struct kbuf *o = &c->req->out;
    kbuf_put_i32(o, 0); /* throttle_time_ms */
    kw_put_array_len(o, true, c->n_ids);
    for (int32_t i = 0; i < c->n_ids; i++) {
        struct kstr id = c->ids[i];
        if (id.len <= 0 || id.len > TXN_ID_MAX || !tr) {
            describe_error(o, id, tr ? KERR_INVALID_REQUEST : KERR_COORDINATOR_NOT_AVAILABLE);
            continue;
        }
        if (!authz_check(c->req, ACL_OP_DESCRIBE, ACL_RT_TRANSACTIONAL_ID, id.ptr,
                         (size_t)id.len)) {
            describe_error(o, id, KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
            continue;
        }
        kerr_t err;
        struct txn_table *t = txn_runtime_route(tr, id.ptr, (size_t)id.len, &err);
        struct txn_meta *m = t ? txn_table_get(t, id.ptr, (size_t)id.len) : NULL;
        if (t && (!m || m->cur.state == TXN_DEAD))
            err = KERR_TRANSACTIONAL_ID_NOT_FOUND;
        if (err != KERR_NONE)
            describe_error(o, id, err);
        else
            describe_meta(o, m);
    }
    kw_put_tags(o, true);
}

kerr_t handle_describe_transactions(struct req *req)
{
    struct kslice *s = &req->body;
    int32_t n = kw_get_array_len(s, true, 1);
    if (!kslice_ok(s) || n < 0)
        return KERR__CLOSE;
    struct tcall *c = calloc(1, sizeof(*c));
    if (!c || (n > 0 && !(c->ids = calloc((size_t)n, sizeof(*c->ids))))) {
        free(c);
        return KERR__NOMEM;
    }
    c->req = req;
    c->n_ids = n;
    for (int32_t i = 0; i < n; i++)
        c->ids[i] = kw_get_str(s, true);
    kw_skip_tags(s, true);
    bool ok = kslice_ok(s);
    for (int32_t i = 0; ok && i < n; i++)
        ok = c->ids[i].ptr != NULL;
    if (!ok) {
        tcall_free(c);
        return KERR__CLOSE;
    }
    return tcall_submit(c, describe_write);
}

/* ---- ListTransactions ------------------------------------------------------ */

/* The status Kafka names s, or -1. */
static int status_of(struct kstr s)
{
    for (int st = 0; st < TXN_STATUS_COUNT; st++)
        if (kstr_eq(s, txn_status_name(st)))
            return st;
    return -1;
}

static int pid_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

struct list_walk {
    struct tcall *c;
    struct kbuf *o;
    int32_t n;
};

static bool list_wanted(const struct tcall *c, const struct txn_meta *m)
{
    if (m->cur.state == TXN_DEAD)
        return false; /* being expired */
    if (c->n_states > 0 && !(c->state_mask & (1u << m->cur.state)))
        return false;
    if (!authz_check(c->req, ACL_OP_DESCRIBE, ACL_RT_TRANSACTIONAL_ID, m->id, m->id_len))
        return false; /* ids the principal may not describe are left out */
    return c->n_pids == 0 ||
           bsearch(&m->cur.producer_id, c->pids, (size_t)c->n_pids, sizeof(*c->pids), pid_cmp);
}

static void list_meta(struct txn_meta *m, void *arg)
{
    struct list_walk *w = arg;
    if (!list_wanted(w->c, m))
        return;
    kw_put_strn(w->o, true, m->id, m->id_len);
    kbuf_put_i64(w->o, m->cur.producer_id);
    kw_put_str(w->o, true, txn_status_name(m->cur.state));
    kw_put_tags(w->o, true);
    w->n++;
}

static void list_table(int32_t p, struct txn_table *t, void *arg)
{
    (void)p;
    txn_table_foreach(t, list_meta, arg);
}

static void list_nothing(int32_t p, struct txn_table *t, void *arg)
{
    (void)p;
    (void)t;
    (void)arg;
}

static void list_write(struct tcall *c, struct txn_runtime *tr)
{
    struct kbuf *o = &c->req->out;
    kerr_t err = KERR_COORDINATOR_NOT_AVAILABLE;
    if (tr)
        err = txn_runtime_foreach_loaded(tr, list_nothing, NULL) > 0
                  ? KERR_COORDINATOR_LOAD_IN_PROGRESS
                  : KERR_NONE;
    kbuf_put_i32(o, 0); /* throttle_time_ms */
    kbuf_put_i16(o, err);
    int32_t n_unknown = 0;
    for (int32_t i = 0; err == KERR_NONE && i < c->n_states; i++)
        n_unknown += status_of(c->states[i]) < 0;
    kw_put_array_len(o, true, n_unknown);
    for (int32_t i = 0; err == KERR_NONE && i < c->n_states; i++)
        if (status_of(c->states[i]) < 0)
            kw_put_kstr(o, true, c->states[i]);
    struct list_walk w = {c, o, 0};
    size_t at = kw_reserve_array_len(o, true);
    if (err == KERR_NONE)
        (void)txn_runtime_foreach_loaded(tr, list_table, &w);
    kw_patch_array_len(o, true, at, w.n);
    kw_put_tags(o, true);
}

/* Reads the request into c; false for a malformed one (*oom: out of memory instead). */
static bool list_decode(struct kslice *s, struct tcall *c, bool *oom)
{
    c->n_states = kw_get_array_len(s, true, 1);
    if (c->n_states > 0 && !(c->states = calloc((size_t)c->n_states, sizeof(*c->states)))) {
        *oom = true;
        return false;
    }
    for (int32_t i = 0; i < c->n_states; i++)
        c->states[i] = kw_get_str(s, true);
    c->n_pids = kw_get_array_len(s, true, 8);
    if (c->n_pids > 0 && !(c->pids = calloc((size_t)c->n_pids, sizeof(*c->pids)))) {
        *oom = true;
        return false;
    }
    for (int32_t i = 0; i < c->n_pids; i++)
        c->pids[i] = kslice_i64(s);
    kw_skip_tags(s, true);
    if (!kslice_ok(s) || c->n_states < 0 || c->n_pids < 0)
        return false;
    for (int32_t i = 0; i < c->n_states; i++) {
        if (!c->states[i].ptr)
            return false;
        int st = status_of(c->states[i]);
        c->state_mask |= st >= 0 ? 1u << st : 0;
    }
    if (c->n_pids > 1)
        qsort(c->pids, (size_t)c->n_pids, sizeof(*c->pids), pid_cmp);
    return true;
}

kerr_t handle_list_transactions(struct req *req)
{
    struct tcall *c = calloc(1, sizeof(*c));
    if (!c)
        return KERR__NOMEM;
    c->req = req;
    bool oom = false;
    if (!list_decode(&req->body, c, &oom)) {
        tcall_free(c);
        return oom ? KERR__NOMEM : KERR__CLOSE;
    }
    return tcall_submit(c, list_write);
}
