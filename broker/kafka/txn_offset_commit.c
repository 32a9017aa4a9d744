/*
 * broker/kafka/txn_offset_commit.c — TxnOffsetCommit (key 28), v0-3 (v3
 * flexible): a transactional producer commits consumer offsets inside its
 * transaction (docs/protocol.md §6.9). Codec and handler; the rules are the
 * group core's (broker/group/group_txn.c), run on the group worker
 * (group_call.h).
 *
 * Request: transactional_id STRING, group_id STRING, producer_id INT64,
 * producer_epoch INT16, v3+: generation_id INT32, member_id STRING,
 * group_instance_id NULLABLE_STRING; topics[name STRING,
 * partitions[partition_index INT32, committed_offset INT64,
 * committed_leader_epoch INT32 (v2+), committed_metadata NULLABLE_STRING]].
 * Response: throttle_time_ms INT32, topics[name STRING,
 * partitions[partition_index INT32, error_code INT16]], in request order.
 *
 * An empty or too long group id is INVALID_GROUP_ID before the coordinator
 * is looked for (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS,
 * COORDINATOR_NOT_AVAILABLE), as Kafka's validateGroupStatus does; all go
 * into every partition. Partitions of topics this broker does not know are
 * answered UNKNOWN_TOPIC_OR_PARTITION; a producer id < 0 INVALID_PRODUCER_ID_MAPPING
 * and an epoch < 0 INVALID_PRODUCER_EPOCH on every partition (nothing
 * written). The others go to group_txn_commit_prepare() (coordinator and
 * membership errors) and its records are appended to the group's
 * `__consumer_offsets` partition as one transactional batch of the producer
 * (group_runtime_append_at(): an older epoch than the partition knows is
 * INVALID_PRODUCER_EPOCH), answered once replicated. The offsets stay
 * pending until the producer's marker reaches that partition
 * (group_runtime_txn_marker(), called by write_txn_markers.c).
 */
#include "broker/core/broker.h"
#include "broker/kafka/authz.h"
#include "broker/kafka/dispatch.h"
#include "broker/kafka/group_call.h"
#include "broker/kafka/group_codec.h"
#include "common/api_keys.h"

#include <stdlib.h>
#include <string.h>

#define MIN_STR(flex) ((flex) ? 1u : 2u)
#define MIN_COUNT(flex) ((flex) ? 1u : 4u)
#define MIN_TAGS(flex) ((flex) ? 1u : 0u)

struct toc_req {
    struct kstr transactional_id;
    struct kstr group_id;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t generation;      /* v3; -1 before */
    struct kstr member_id;   /* v3; "" before */
    struct kstr instance_id; /* v3, nullable; null before */
    struct gcodec_commit_topic *topics;
    int32_t topic_count;
};

static void toc_req_free(struct toc_req *r)
{
    gcodec_commit_topics_free(r->topics, r->topic_count);
    memset(r, 0, sizeof *r);
}

static bool toc_req_decode(struct kslice *s, int v, struct toc_req *r)
{
    bool flex = api_is_flexible(API_TXN_OFFSET_COMMIT, v);
    memset(r, 0, sizeof *r);
    r->transactional_id = gcodec_get_str(s, flex);
    r->group_id = gcodec_get_str(s, flex);
    r->producer_id = kslice_i64(s);
    r->producer_epoch = kslice_i16(s);
    r->generation = -1;
    r->member_id = (struct kstr){"", 0};
    if (v >= 3) {
        r->generation = kslice_i32(s);
        r->member_id = gcodec_get_str(s, flex);
        r->instance_id = kw_get_str(s, flex);
    }
    r->topics = gcodec_get_array(s, flex, MIN_STR(flex) + MIN_COUNT(flex) + MIN_TAGS(flex),
                                 sizeof *r->topics, &r->topic_count);
    for (int32_t i = 0; i < r->topic_count && kslice_ok(s); i++) {
        struct gcodec_commit_topic *t = &r->topics[i];
        t->name = gcodec_get_str(s, flex);
        t->parts = gcodec_get_array(s, flex, 12 + MIN_STR(flex) + MIN_TAGS(flex), sizeof *t->parts,
                                    &t->part_count);
        for (int32_t j = 0; j < t->part_count && kslice_ok(s); j++) {
            struct gcodec_commit_part *p = &t->parts[j];
            p->partition = kslice_i32(s);
            p->offset = kslice_i64(s);
            p->leader_epoch = v >= 2 ? kslice_i32(s) : -1;
            p->commit_ts = -1;
            p->metadata = kw_get_str(s, flex);
            kw_skip_tags(s, flex);
        }
        kw_skip_tags(s, flex);
    }
    kw_skip_tags(s, flex);
    if (kslice_ok(s))
        return true;
    toc_req_free(r);
    return false;
}

static void toc_resp_encode(struct kbuf *b, int v, const struct toc_req *r)
{
    bool flex = api_is_flexible(API_TXN_OFFSET_COMMIT, v);
    kbuf_put_i32(b, 0); /* throttle_time_ms */
    gcodec_commit_topics_encode(b, flex, r->topics, r->topic_count);
    kw_put_tags(b, flex);
}

struct toc_call {
    struct gcall c;
    struct toc_req r;
    struct gcommit m; /* r's partitions (group_call.h) */
    struct group_commit_req cr;
};

static void toc_fail(struct gcall *c, kerr_t err)
{
    struct toc_call *tc = (struct toc_call *)c;
    gcommit_fail(&tc->m, err);
    toc_resp_encode(&c->req->out, c->req->api_version, &tc->r);
}

static void toc_destroy(struct gcall *c)
{
    struct toc_call *tc = (struct toc_call *)c;
    gcommit_free(&tc->m);
    toc_req_free(&tc->r);
    free(tc);
}

static void toc_answer(struct toc_call *tc)
{
    gcommit_answer(&tc->m);
    toc_resp_encode(&tc->c.req->out, tc->c.req->api_version, &tc->r);
    gcall_finish(&tc->c);
}

static void toc_done(struct group_runtime *gr, kerr_t err, int64_t base_offset, void *arg)
{
    struct toc_call *tc = arg;
    if (group_runtime_current(gr, tc->m.gc))
        group_txn_commit_apply(tc->m.gc, &tc->cr, tc->r.producer_id, err, base_offset);
    else
        gcommit_lost(&tc->m, err);
    toc_answer(tc);
}

static void toc_run(struct gcall *c, struct group_runtime *gr)
{
    struct toc_call *tc = (struct toc_call *)c;
    kerr_t err = KERR_NONE;
    /* Kafka checks the id before the coordinator (validateGroupStatus) */
    if (tc->r.group_id.len == 0 || tc->r.group_id.len > group_runtime_config(gr)->max_group_id_len)
        err = KERR_INVALID_GROUP_ID;
    else
        tc->m.gc = group_runtime_route(gr, tc->r.group_id.ptr, (size_t)tc->r.group_id.len, &err);
    if (!tc->m.gc) {
        toc_fail(c, err);
        gcall_finish(c);
        return;
    }
    gcommit_collect(&tc->m, c, -1, false);
    tc->cr = (struct group_commit_req){.group_id = gcall_str0(c, tc->r.group_id),
                                       .member_id = gcall_str0(c, tc->r.member_id),
                                       .instance_id = gcall_str(c, tc->r.instance_id),
                                       .generation = tc->r.generation,
                                       .parts = tc->m.parts,
                                       .count = tc->m.n_parts,
                                       .log_offset = -1};
    if (c->oom) {
        toc_fail(c, KERR_UNKNOWN_SERVER_ERROR);
        gcall_finish(c);
        return;
    }
    if (tc->m.n_parts == 0) {
        toc_answer(tc);
        return;
    }
    struct group_records recs;
    group_records_init(&recs);
    int64_t now = group_runtime_now();
    (void)group_txn_commit_prepare(tc->m.gc, &tc->cr, tc->r.producer_id, now, &recs);
    group_runtime_append_at(gr, tc->m.gc, &recs, tc->r.producer_id, tc->r.producer_epoch, toc_done,
                            tc);
}

kerr_t handle_txn_offset_commit(struct req *req)
{
    struct toc_call *tc = calloc(1, sizeof(*tc));
    if (!tc)
        return KERR__CLOSE;
    tc->c = (struct gcall){.req = req, .run = toc_run, .fail = toc_fail, .destroy = toc_destroy};
    if (!toc_req_decode(&req->body, req->api_version, &tc->r)) {
        toc_destroy(&tc->c);
        return KERR__CLOSE;
    }
    if (!gcommit_init(&tc->m, tc->r.topics, tc->r.topic_count)) {
        toc_destroy(&tc->c);
        return KERR__CLOSE;
    }
    if (tc->r.producer_id < 0 || tc->r.producer_epoch < 0) {
        toc_fail(&tc->c, tc->r.producer_id < 0 ? KERR_INVALID_PRODUCER_ID_MAPPING
                                               : KERR_INVALID_PRODUCER_EPOCH);
        toc_destroy(&tc->c);
        return KERR_NONE;
    }
    if (!authz_check(req, ACL_OP_WRITE, ACL_RT_TRANSACTIONAL_ID,
                     tc->r.transactional_id.ptr ? tc->r.transactional_id.ptr : "",
                     tc->r.transactional_id.ptr ? (size_t)tc->r.transactional_id.len : 0)) {
        toc_fail(&tc->c, KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
        toc_destroy(&tc->c);
        return KERR_NONE;
    }
    return gcall_submit_authz(&tc->c, ACL_OP_READ, tc->r.group_id);
}
