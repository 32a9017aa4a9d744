/*
 * controller/ctrl_isr.c — AlterIsr on the active controller (docs/architecture.md §4,
 * §6): a partition leader proposes a new ISR; the controller checks it,
 * writes the state znode conditionally and tells everyone.
 *
 * Checks, in Kafka's order (ZooKeeper-mode KafkaController.processAlterIsr):
 * the sender's broker epoch (STALE_BROKER_EPOCH, whole request); then per
 * partition: it exists (UNKNOWN_TOPIC_OR_PARTITION), the leader epoch
 * matches (FENCED_LEADER_EPOCH), the sender leads (NOT_LEADER_OR_FOLLOWER),
 * the ISR is well-formed: non-empty, no duplicates, contains the leader,
 * only assigned replicas (INVALID_REQUEST); a proposal equal to the current
 * ISR is answered with the current state (a resent request is a no-op);
 * the proposal's partition_epoch is the state znode version
 * (INVALID_UPDATE_VERSION); members added must be live and not shutting
 * down (INELIGIBLE_REPLICA). Errors carry the current state.
 * The write keeps leader and leader epoch (as Kafka's ZooKeeper mode does);
 * the znode version, i.e. the partition epoch, moves on. The writes of one
 * request go to ZooKeeper as one pipelined batch
 * (zk_store_partition_states_set_many(); each still conditional and fenced).
 * Loop-owned: the controller's loop only.
 */
#include "controller/controller_int.h"
#include "controller/election.h"
#include "controller/rpc.h"
#include "common/say.h"

#include <stdlib.h>
#include <string.h>

/* Storage for one result's ISR (the results must not point into the
 * controller's state, which a resignation frees). */
struct isr_slot {
    int32_t isr[ZK_MAX_ISR];
};

static bool id_in(const int32_t *v, int n, int32_t id)
{
    for (int i = 0; i < n; i++)
        if (v[i] == id)
            return true;
    return false;
}

/* INVALID_REQUEST unless the ISR is a non-empty set of t's replicas for p
 * that contains leader. */
static kerr_t isr_well_formed(const struct ctopic *t, int p, int32_t leader,
                              const struct rpc_isr_proposal *pr)
{
    if (pr->n_new_isr < 1 || pr->n_new_isr > ZK_MAX_ISR || pr->n_new_isr > t->rf ||
        !id_in(pr->new_isr, pr->n_new_isr, leader))
        return KERR_INVALID_REQUEST;
    for (int i = 0; i < pr->n_new_isr; i++) {
        if (!id_in(&t->replicas[p * t->rf], t->rf, pr->new_isr[i]) ||
            id_in(pr->new_isr, i, pr->new_isr[i]))
            return KERR_INVALID_REQUEST;
    }
    return KERR_NONE;
}

/* Decides one proposal against the current state. KERR_NONE with *write
 * set: write the new ISR; KERR_NONE without: already in place. */
static kerr_t isr_check(struct controller *c, int32_t sender, const struct ctopic *t, int p,
                        const struct rpc_isr_proposal *pr, bool *write)
{
    const struct zk_partition_state *st = &t->st[p];
    *write = false;
    if (pr->leader_epoch != st->leader_epoch)
        return KERR_FENCED_LEADER_EPOCH;
    if (st->leader != sender || st->version == ZK_VERSION_NEW)
        return KERR_NOT_LEADER_OR_FOLLOWER;
    kerr_t err = isr_well_formed(t, p, st->leader, pr);
    if (err != KERR_NONE)
        return err;
    if (pr->n_new_isr == st->n_isr &&
        memcmp(pr->new_isr, st->isr, sizeof(int32_t) * (size_t)st->n_isr) == 0)
        return KERR_NONE;
    if (pr->partition_epoch != st->version)
        return KERR_INVALID_UPDATE_VERSION;
    int n_eligible;
    int32_t *eligible = ctrl_live_ids(c, true, &n_eligible);
    if (!eligible)
        return KERR_UNKNOWN_SERVER_ERROR;
    for (int i = 0; i < pr->n_new_isr && err == KERR_NONE; i++)
        if (!id_in(st->isr, st->n_isr, pr->new_isr[i]) &&
            !election_is_live(eligible, n_eligible, pr->new_isr[i]))
            err = KERR_INELIGIBLE_REPLICA;
    free(eligible);
    *write = err == KERR_NONE;
    return err;
}

/* Proposals whose ISR is to be written, sent as one pipelined batch. */
struct isr_batch {
    int n;
    int *at; /* index of the proposal */
    struct ctopic **t;
    const char **names;
    int *parts;
    struct zk_partition_state *st; /* the states to write */
    kerr_t *res;
};

static bool isr_batch_init(struct isr_batch *b, int cap)
{
    size_t k = (size_t)(cap > 0 ? cap : 1);
    *b = (struct isr_batch){0};
    b->at = calloc(k, sizeof(*b->at));
    b->t = calloc(k, sizeof(*b->t));
    b->names = calloc(k, sizeof(*b->names));
    b->parts = calloc(k, sizeof(*b->parts));
    b->st = calloc(k, sizeof(*b->st));
    b->res = calloc(k, sizeof(*b->res));
    return b->at && b->t && b->names && b->parts && b->st && b->res;
}

static void isr_batch_destroy(struct isr_batch *b)
{
    free(b->at);
    free(b->t);
    free(b->names);
    free(b->parts);
    free(b->st);
    free(b->res);
}

static bool isr_batch_has(const struct isr_batch *b, const struct ctopic *t, int p)
{
    for (int k = 0; k < b->n; k++)
        if (b->t[k] == t && b->parts[k] == p)
            return true;
    return false;
}

/* Queues the proposed ISR of (t, p) for proposal i. */
static void isr_batch_add(struct controller *c, struct isr_batch *b, int i, struct ctopic *t, int p,
                          const struct rpc_isr_proposal *pr)
{
    struct zk_partition_state *next = &b->st[b->n];
    *next = t->st[p];
    next->n_isr = pr->n_new_isr;
    memcpy(next->isr, pr->new_isr, sizeof(int32_t) * (size_t)pr->n_new_isr);
    next->controller_epoch = c->epoch;
    b->at[b->n] = i;
    b->t[b->n] = t;
    b->names[b->n] = t->name;
    b->parts[b->n++] = p;
}

/* The outcome of write k: memory and changes on success; on a version
 * conflict re-reads the state and answers INVALID_UPDATE_VERSION. */
static kerr_t isr_written(struct controller *c, struct isr_batch *b, int k,
                          struct ctrl_changes *changes)
{
    struct ctopic *t = b->t[k];
    int p = b->parts[k];
    kerr_t rc = b->res[k];
    if (rc == KERR_NONE) {
        say_info("ctrl",
                 "isr changed topic=%s partition=%d leader=%d epoch=%d n_isr=%d "
                 "partition_epoch=%d",
                 t->name, p, b->st[k].leader, b->st[k].leader_epoch, b->st[k].n_isr,
                 b->st[k].version);
        t->st[p] = b->st[k];
        ctrl_changes_add(changes, t, p);
        return KERR_NONE;
    }
    if (rc == KERR_NOT_CONTROLLER)
        return rc;
    say_warn("ctrl", "isr write failed topic=%s partition=%d err=%s", t->name, p, kerr_name(rc));
    if (rc == KERR__EXISTS) {
        if (zk_store_partition_state_get(c->env.zk, t->name, p, &t->st[p]) != KERR_NONE)
            t->st[p].version = ZK_VERSION_NEW;
        return KERR_INVALID_UPDATE_VERSION;
    }
    return rc == KERR_UNKNOWN_TOPIC_OR_PARTITION ? rc : KERR_UNKNOWN_SERVER_ERROR;
}

/* Fills *res with (t, p)'s current state (ISR into slot) and err. */
static void isr_fill(const struct ctopic *t, int p, kerr_t err, struct rpc_isr_result *res,
                     struct isr_slot *slot)
{
    const struct zk_partition_state *st = &t->st[p];
    res->error_code = (int16_t)err;
    res->leader = st->leader;
    res->leader_epoch = st->leader_epoch;
    res->n_isr = st->n_isr;
    memcpy(slot->isr, st->isr, sizeof(int32_t) * (size_t)st->n_isr);
    res->partition_epoch = st->version;
}

/* Writes the queued ISRs (one batch) and answers their proposals. false
 * when fenced (stop everything). */
static bool isr_flush(struct controller *c, struct isr_batch *b, struct rpc_isr_result *res,
                      struct isr_slot *slots, struct ctrl_changes *changes)
{
    bool fenced = false;
    if (b->n == 0)
        return true;
    kerr_t brc =
        zk_store_partition_states_set_many(c->env.zk, b->n, b->names, b->parts, b->st, b->res);
    for (int k = 0; k < b->n; k++) {
        if (brc != KERR_NONE)
            b->res[k] = brc;
        kerr_t err = isr_written(c, b, k, changes);
        fenced = fenced || err == KERR_NOT_CONTROLLER;
        isr_fill(b->t[k], b->parts[k], err, &res[b->at[k]], &slots[b->at[k]]);
    }
    b->n = 0;
    return !fenced;
}

/* Handles proposal i: answers it, or queues its write in b (a partition
 * already queued is written first, so that it is checked against its new
 * state as if the proposals ran one by one). false when fenced. */
static bool isr_one(struct controller *c, int32_t sender, const struct rpc_isr_proposal *pr, int i,
                    struct rpc_isr_result *res, struct isr_slot *slots, struct isr_batch *b,
                    struct ctrl_changes *changes)
{
    struct ctopic *t = ctrl_find_topic(c, pr->topic);
    res[i] = (struct rpc_isr_result){
        .topic = pr->topic, .partition = pr->partition, .leader = -1, .isr = slots[i].isr};
    if (!t || pr->partition < 0 || pr->partition >= t->n_parts) {
        res[i].error_code = KERR_UNKNOWN_TOPIC_OR_PARTITION;
        return true;
    }
    if (isr_batch_has(b, t, pr->partition) && !isr_flush(c, b, res, slots, changes))
        return false;
    bool write;
    kerr_t err = isr_check(c, sender, t, pr->partition, pr, &write);
    if (write)
        isr_batch_add(c, b, i, t, pr->partition, pr);
    else
        isr_fill(t, pr->partition, err, &res[i], &slots[i]);
    return true;
}

void ctrl_alter_isr(struct controller *c, const uint8_t *body, size_t len, struct kbuf *out)
{
    KASSERT(CTRL_ON_LOOP(c));
    struct rpc_alter_isr_req req;
    struct rpc_alter_isr_resp resp = {0};
    struct rpc_isr_result *res = NULL;
    struct isr_slot *slots = NULL;
    struct ctrl_changes changes = {0};
    bool fenced = false;
    if (rpc_alter_isr_req_decode(body, len, &req) != KERR_NONE) {
        resp.error_code = KERR_INVALID_REQUEST;
        (void)rpc_alter_isr_resp_encode(&resp, out);
        return;
    }
    kerr_t err = ctrl_check_broker_epoch(c, req.broker_id, req.broker_epoch);
    size_t n = (size_t)(req.n_partitions ? req.n_partitions : 1);
    struct isr_batch batch;
    bool batch_ok = isr_batch_init(&batch, req.n_partitions);
    if (err == KERR_NONE) {
        res = calloc(n, sizeof(*res));
        slots = calloc(n, sizeof(*slots));
        if (!res || !slots || !batch_ok)
            err = KERR_UNKNOWN_SERVER_ERROR;
    }
    for (int i = 0; err == KERR_NONE && i < req.n_partitions && !fenced; i++)
        fenced = !isr_one(c, req.broker_id, &req.partitions[i], i, res, slots, &batch, &changes);
    if (err == KERR_NONE && !fenced)
        fenced = !isr_flush(c, &batch, res, slots, &changes);
    isr_batch_destroy(&batch);
    if (fenced)
        err = KERR_NOT_CONTROLLER;
    resp.error_code = (int16_t)err;
    if (err == KERR_NONE) {
        resp.n_partitions = req.n_partitions;
        resp.partitions = res;
    }
    (void)rpc_alter_isr_resp_encode(&resp, out);
    ctrl_push_or_resign(c, &changes, fenced);
    if (!fenced && err == KERR_NONE)
        ctrl_reassign_progress(c); /* an adding replica may have joined the ISR */
    free(res);
    free(slots);
    rpc_alter_isr_req_destroy(&req);
}
