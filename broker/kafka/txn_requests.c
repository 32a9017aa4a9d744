/*
 * broker/kafka/txn_requests.c — the transaction coordinator's requests: InitProducerId with a
 * transactional id (decoded by init_producer_id.c), AddPartitionsToTxn (key 24, v0-3),
 * AddOffsetsToTxn (key 25, v0-3) and EndTxn (key 26, v0-3); v3 of the three is flexible.
 *
 *   AddPartitionsToTxn req: transactional_id STRING, producer_id INT64, producer_epoch INT16,
 *     topics[name STRING, partitions INT32[]]
 *   resp: throttle_time_ms INT32, results[name STRING, results[partition_index INT32,
 *     error_code INT16]] (the request's topics and partitions, in its order)
 *   AddOffsetsToTxn req: transactional_id, producer_id, producer_epoch, group_id STRING
 *   EndTxn req: transactional_id, producer_id, producer_epoch, committed BOOLEAN
 *   resp (both): throttle_time_ms INT32, error_code INT16
 *
 * A request is decoded on its network loop and carried to the txn worker (struct tcall),
 * where txn_coord.c answers it (maybe after its record is replicated); the answer is encoded
 * there and the request completed. Checked here first: a transactional id that is empty or
 * longer than TXN_ID_MAX bytes is INVALID_REQUEST; AddPartitionsToTxn naming a topic or
 * partition the metadata does not have answers UNKNOWN_TOPIC_OR_PARTITION for those and
 * OPERATION_NOT_ATTEMPTED for the others, and adds nothing. AddOffsetsToTxn adds partition
 * coord_partition_for(group) of `__consumer_offsets` (the topic's partition count, or
 * offsets.topic.num.partitions before it exists). PRODUCER_FENCED is answered from
 * AddPartitionsToTxn / AddOffsetsToTxn / EndTxn v2 and InitProducerId v4 on,
 * INVALID_PRODUCER_EPOCH before.
 */
#include "broker/kafka/authz.h"
#include "broker/kafka/txn_requests.h"
#include "broker/config/config.h"
#include "broker/core/broker.h"
#include "broker/core/metadata_cache.h"
#include "broker/core/txn_coord.h"
#include "broker/group/coord_hash.h"
#include "broker/kafka/dispatch.h"
#include "broker/replication/topics.h"
#include "common/say.h"
#include "common/vec.h"

#include <stdlib.h>
#include <string.h>

enum tkind { T_INIT, T_ADD_PARTITIONS, T_ADD_OFFSETS, T_END };

struct ttopic {
    const char *name; /* a copy in tcall.names */
    int32_t first, n; /* its partitions in tcall.parts */
};

struct tcall {
    struct req *req;
    enum tkind kind;
    char *id;
    size_t id_len;
    int64_t pid;
    int16_t epoch;
    int32_t timeout_ms;
    bool commit;
    VEC(struct ttopic) topics;
    VEC(struct txn_tp) parts; /* request order; topic names point into names */
    VEC(char *) names;
    VEC(kerr_t) errs; /* AddPartitionsToTxn: per partition (request order) */
};

static void tcall_free(struct tcall *c)
{
    for (size_t i = 0; i < c->names.n; i++)
        free(c->names.v[i]);
    VEC_FREE(c->names);
    VEC_FREE(c->topics);
    VEC_FREE(c->parts);
    VEC_FREE(c->errs);
    free(c->id);
    free(c);
}

static bool fenced_ok(const struct tcall *c)
{
    return c->req->api_version >= (c->kind == T_INIT ? 4 : 2);
}

/* Writes the whole response body: err for every partition unless errs are set. */
static void encode(struct tcall *c, kerr_t err, int64_t pid, int16_t epoch)
{
    struct req *req = c->req;
    struct kbuf *o = &req->out;
    bool flex = req->flex;
    kbuf_put_i32(o, 0); /* throttle_time_ms */
    switch (c->kind) {
    case T_INIT:
        kbuf_put_i16(o, kerr_to_wire(err));
        kbuf_put_i64(o, err == KERR_NONE ? pid : -1);
        kbuf_put_i16(o, err == KERR_NONE ? epoch : -1);
        break;
    case T_ADD_OFFSETS:
    case T_END:
        kbuf_put_i16(o, kerr_to_wire(err));
        break;
    case T_ADD_PARTITIONS:
        kw_put_array_len(o, flex, (int32_t)c->topics.n);
        for (size_t i = 0; i < c->topics.n; i++) {
            const struct ttopic *t = &c->topics.v[i];
            kw_put_str(o, flex, t->name);
            kw_put_array_len(o, flex, t->n);
            for (int32_t k = t->first; k < t->first + t->n; k++) {
                kbuf_put_i32(o, c->parts.v[k].partition);
                kbuf_put_i16(o, kerr_to_wire(c->errs.n ? c->errs.v[k] : err));
                kw_put_tags(o, flex);
            }
            kw_put_tags(o, flex);
        }
        break;
    }
    kw_put_tags(o, flex);
}

/* The coordinator's answer, on the txn worker. */
static void reply(void *arg, kerr_t err, int64_t pid, int16_t epoch)
{
    struct tcall *c = arg;
    struct req *req = c->req;
    if (err != KERR_NONE && err != KERR_CONCURRENT_TRANSACTIONS &&
        err != KERR_COORDINATOR_LOAD_IN_PROGRESS && err != KERR_NOT_COORDINATOR)
        say_info("txn", "%s transactional_id=%.*s producer_id=%lld epoch=%d answered %s",
                 api_key_name(req->api_key), c->id_len > 64 ? 64 : (int)c->id_len, c->id,
                 (long long)c->pid, c->epoch, kerr_name(err));
    encode(c, err, pid, epoch);
    tcall_free(c);
    req_complete(req);
}

static void run(struct txn_runtime *tr, void *arg)
{
    struct tcall *c = arg;
    switch (c->kind) {
    case T_INIT:
        txn_coord_init_pid(tr, c->id, c->id_len, c->timeout_ms, c->pid, c->epoch,
                           c->req->api_version, reply, c);
        break;
    case T_ADD_PARTITIONS:
    case T_ADD_OFFSETS:
        txn_coord_add_partitions(tr, c->id, c->id_len, c->pid, c->epoch, c->parts.v, c->parts.n,
                                 fenced_ok(c), reply, c);
        break;
    case T_END:
        txn_coord_end(tr, c->id, c->id_len, c->pid, c->epoch, c->commit, fenced_ok(c), reply, c);
        break;
    }
}

/* Answers err now (no coordinator call) and frees c. */
static kerr_t answer_now(struct tcall *c, kerr_t err)
{
    encode(c, err, -1, -1);
    tcall_free(c);
    return KERR_NONE;
}

/* Checks the id (and WRITE on it), then hands c to the txn worker. */
static kerr_t submit(struct tcall *c, struct kstr id)
{
    if (!id.ptr || id.len == 0 || (size_t)id.len > TXN_ID_MAX)
        return answer_now(c, KERR_INVALID_REQUEST);
    if (!authz_check(c->req, ACL_OP_WRITE, ACL_RT_TRANSACTIONAL_ID, id.ptr, (size_t)id.len))
        return answer_now(c, KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    c->id = kstr_dup(id);
    c->id_len = (size_t)id.len;
    struct txn_runtime *tr = c->req->broker->txns;
    if (!c->id)
        return answer_now(c, KERR_COORDINATOR_NOT_AVAILABLE);
    if (tr && txn_runtime_call(tr, run, c))
        return KERR__PENDING;
    return answer_now(c, KERR_COORDINATOR_NOT_AVAILABLE);
}

static struct tcall *tcall_new(struct req *req, enum tkind kind)
{
    struct tcall *c = calloc(1, sizeof(*c));
    if (c) {
        c->req = req;
        c->kind = kind;
    }
    return c;
}

/* A call of kind for AddPartitionsToTxn, AddOffsetsToTxn or EndTxn with the fields they start
 * with read from the body: transactional_id (into *id), producer_id, producer_epoch. NULL when
 * out of memory. */
static struct tcall *tcall_decode_head(struct req *req, enum tkind kind, struct kstr *id)
{
    struct tcall *c = tcall_new(req, kind);
    if (c) {
        *id = kw_get_str(&req->body, req->flex);
        c->pid = kslice_i64(&req->body);
        c->epoch = kslice_i16(&req->body);
    }
    return c;
}

kerr_t txn_request_init_pid(struct req *req, struct kstr id, int32_t timeout_ms, int64_t pid,
                            int16_t epoch)
{
    struct tcall *c = tcall_new(req, T_INIT);
    if (!c)
        return KERR__CLOSE;
    c->timeout_ms = timeout_ms;
    c->pid = pid;
    c->epoch = epoch;
    return submit(c, id);
}

/* A NUL-terminated copy of p[0..len) owned by c; NULL when memory ran out. */
static char *name_copy(struct tcall *c, const char *p, size_t len)
{
    char *name = malloc(len + 1);
    if (!name || !VEC_PUSH(c->names, name)) {
        free(name);
        return NULL;
    }
    memcpy(name, p, len);
    name[len] = '\0';
    return name;
}

/* Adds one partition of topic (a copy owned by c). */
static bool add_part(struct tcall *c, const char *topic, int32_t partition)
{
    struct txn_tp tp = {(char *)topic, partition};
    return topic && VEC_PUSH(c->parts, tp);
}

/* UNKNOWN_TOPIC_OR_PARTITION for partitions the metadata lacks: true when some were. */
static bool check_known(struct tcall *c, struct broker *b)
{
    struct mc_snapshot *s = mc_get(b->mc);
    bool unknown = false;
    if (!VEC_RESERVE_AT(c->errs.v, c->errs.cap, c->parts.n)) {
        mc_put(s);
        return false;
    }
    for (size_t i = 0; i < c->parts.n; i++) {
        const struct txn_tp *tp = &c->parts.v[i];
        const struct mc_topic *t = mc_find_topic(s, tp->topic, strlen(tp->topic));
        bool ok = t && tp->partition >= 0 && tp->partition < t->n_parts;
        c->errs.v[i] = ok ? KERR_OPERATION_NOT_ATTEMPTED : KERR_UNKNOWN_TOPIC_OR_PARTITION;
        unknown |= !ok;
    }
    c->errs.n = c->parts.n;
    mc_put(s);
    if (!unknown)
        c->errs.n = 0;
    return unknown;
}

kerr_t handle_add_partitions_to_txn(struct req *req)
{
    struct kslice *s = &req->body;
    bool flex = req->flex;
    struct kstr id;
    struct tcall *c = tcall_decode_head(req, T_ADD_PARTITIONS, &id);
    if (!c)
        return KERR__CLOSE;
    int32_t nt = kw_get_array_len(s, flex, 2);
    bool ok = kslice_ok(s) && nt >= 0;
    for (int32_t i = 0; ok && i < nt; i++) {
        struct kstr name = kw_get_str(s, flex);
        struct ttopic t = {.first = (int32_t)c->parts.n};
        t.n = kw_get_array_len(s, flex, 4);
        ok = kslice_ok(s) && name.ptr && t.n >= 0;
        t.name = ok ? name_copy(c, name.ptr, (size_t)name.len) : NULL;
        ok = ok && t.name;
        for (int32_t k = 0; ok && k < t.n; k++) {
            int32_t p = kslice_i32(s);
            ok = kslice_ok(s) && add_part(c, t.name, p);
        }
        kw_skip_tags(s, flex);
        ok = ok && VEC_PUSH(c->topics, t);
    }
    kw_skip_tags(s, flex);
    if (!ok || !kslice_ok(s)) {
        tcall_free(c);
        return KERR__CLOSE;
    }
    if (check_known(c, req->broker))
        return answer_now(c, KERR_NONE);
    return submit(c, id);
}

kerr_t handle_add_offsets_to_txn(struct req *req)
{
    struct kslice *s = &req->body;
    bool flex = req->flex;
    struct kstr id;
    struct tcall *c = tcall_decode_head(req, T_ADD_OFFSETS, &id);
    if (!c)
        return KERR__CLOSE;
    struct kstr group = kw_get_str(s, flex);
    kw_skip_tags(s, flex);
    if (!kslice_ok(s) || !group.ptr) {
        tcall_free(c);
        return KERR__CLOSE;
    }
    struct broker *b = req->broker;
    struct topic *t = topics_get(b->topics, TOPIC_CONSUMER_OFFSETS, strlen(TOPIC_CONSUMER_OFFSETS));
    int32_t n = t ? atomic_load(&t->n_parts) : 0;
    topic_unref(t);
    if (n <= 0)
        n = b->cfg->offsets_topic_num_partitions;
    int32_t p = coord_partition_for(group.ptr, (size_t)group.len, n);
    if (!add_part(c, name_copy(c, TOPIC_CONSUMER_OFFSETS, strlen(TOPIC_CONSUMER_OFFSETS)), p))
        return answer_now(c, KERR_COORDINATOR_NOT_AVAILABLE);
    return submit(c, id);
}

kerr_t handle_end_txn(struct req *req)
{
    struct kslice *s = &req->body;
    bool flex = req->flex;
    struct kstr id;
    struct tcall *c = tcall_decode_head(req, T_END, &id);
    if (!c)
        return KERR__CLOSE;
    c->commit = kslice_u8(s) != 0;
    kw_skip_tags(s, flex);
    if (!kslice_ok(s)) {
        tcall_free(c);
        return KERR__CLOSE;
    }
    return submit(c, id);
}
