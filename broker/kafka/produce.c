/*
 * broker/kafka/produce.c — Produce (key 0), v0-v7.
 *
 * Request: transactional_id NULLABLE_STRING (v3+), acks INT16, timeout_ms
 * INT32, topics[name, partitions[index INT32, records NULLABLE_BYTES]].
 * Response: topics[name, partitions[index, error_code, base_offset,
 * log_append_time_ms (v2+), log_start_offset (v5+)]], throttle_time_ms (v1+).
 *
 * Versions 0-2 are advertised although no target client sends them: the
 * librdkafka versions up to 2.11.0 silently stop compressing with gzip,
 * snappy and lz4 when the broker's Produce range does not start at 0 (its
 * codec check asks for Produce within [0, 0]). Only RecordBatch v2 (magic 2)
 * is stored, whatever the request version; older message formats are
 * refused: UNSUPPORTED_FOR_MESSAGE_FORMAT in v0-2 (where they are legal),
 * INVALID_RECORD in v3+ (as Kafka).
 *
 * Each partition's records are validated in place (storage/batch.c: frame,
 * CRC, magic, sizes; docs/protocol.md §4.6) before anything is
 * written, then appended as-is: only baseOffset and partitionLeaderEpoch
 * change (not covered by the CRC). LogAppendTime topics get the timestamp
 * type bit and maxTimestamp rewritten, and so a recomputed CRC.
 * acks=0 sends no response; if a partition fails, the connection is closed
 * so the client notices (Kafka's behaviour). acks=1 answers after the
 * leader's append. acks=all (docs/architecture.md §6) refuses with NOT_ENOUGH_REPLICAS
 * when the ISR is below min.insync.replicas, appends, and parks the request
 * ("purgatory") until the high watermark passes every appended batch, the
 * leadership moves (NOT_LEADER_OR_FOLLOWER) or timeout_ms runs out
 * (REQUEST_TIMED_OUT).
 * Large requests are appended on the io workers (the offload section below).
 * Idempotent batches (producer id >= 0) are checked by the log under the
 * partition lock (storage/producer_state.h): a repeat of one of the
 * producer's last five batches is not written and is answered with the
 * original base offset and no error; an older producer epoch gets
 * INVALID_PRODUCER_EPOCH (47), a sequence gap or a new epoch not starting
 * at 0 OUT_OF_ORDER_SEQUENCE_NUMBER (45). The reason is logged at debug
 * (Produce v8's error_message is not advertised).
 */
#include "broker/kafka/authz.h"
#include "broker/kafka/delayed.h"
#include "broker/kafka/dispatch.h"
#include "broker/kafka/topic_groups.h"
#include "broker/core/broker.h"
#include "broker/core/quotas.h"
#include "broker/storage/batch.h"
#include "broker/storage/record_validate.h"
#include "broker/replication/topics.h"
#include "common/clock.h"
#include "common/crc32c.h"
#include "common/say.h"
#include "common/vec.h"
#include "common/loop/worker.h"

#include <stdatomic.h>
#include <time.h>

#include <event2/event.h>
#include <stdlib.h>

#define CODEC_ZSTD 4

/* Rewrites a batch as LogAppendTime with maxTimestamp = now (new CRC). */
static void set_log_append_time(uint8_t *batch, size_t len, int64_t now)
{
    uint16_t attr = be16_load(batch + BATCH_OFF_ATTRIBUTES);
    be16_store(batch + BATCH_OFF_ATTRIBUTES, (uint16_t)(attr | BATCH_ATTR_LOG_APPEND_TIME));
    be64_store(batch + BATCH_OFF_MAX_TS, (uint64_t)now);
    be32_store(batch + BATCH_OFF_CRC,
               crc32c(0, batch + BATCH_OFF_ATTRIBUTES, len - BATCH_OFF_ATTRIBUTES));
}

/* CreateTime: makes the header's maxTimestamp the records' largest
 * timestamp (new CRC) when the client wrote another value, as Kafka does. */
static void set_create_time_max(uint8_t *batch, size_t len, int64_t max_ts)
{
    if ((be16_load(batch + BATCH_OFF_ATTRIBUTES) & BATCH_ATTR_LOG_APPEND_TIME) ||
        (int64_t)be64_load(batch + BATCH_OFF_MAX_TS) == max_ts)
        return;
    be64_store(batch + BATCH_OFF_MAX_TS, (uint64_t)max_ts);
    be32_store(batch + BATCH_OFF_CRC,
               crc32c(0, batch + BATCH_OFF_ATTRIBUTES, len - BATCH_OFF_ATTRIBUTES));
}

/* Validates one partition's records: the batch frame (batch.c), then its
 * records (record_validate.c) with the topic's rules tc, timestamps against
 * now. *max_ts = the largest CreateTime record timestamp (-1 if none). */
static kerr_t produce_validate(struct req *req, struct partition *part,
                               const struct topic_config *tc, const uint8_t *rec, int32_t rec_len,
                               int64_t now, int64_t *max_ts)
{
    if (!rec || rec_len <= 0)
        return KERR_INVALID_RECORD;
    if (rec_len > BATCH_OFF_MAGIC && rec[BATCH_OFF_MAGIC] < BATCH_MAGIC)
        return req->api_version >= 3 ? KERR_INVALID_RECORD : KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT;
    int n_batches = 0;
    kerr_t err = batch_validate_produce(rec, (size_t)rec_len, tc->max_message_bytes, &n_batches);
    if (err != KERR_NONE)
        return err;
    if (n_batches != 1)
        return KERR_INVALID_RECORD;
    int codec = be16_load(rec + BATCH_OFF_ATTRIBUTES) & BATCH_ATTR_COMPRESSION_MASK;
    if (codec == CODEC_ZSTD && req->api_version < 7)
        return KERR_UNSUPPORTED_COMPRESSION_TYPE;
    struct batch_hdr h;
    struct rv_opts o = {
        .produce = true,
        .compacted = tc->compact,
        .now_ms = now,
        .ts_diff_max_ms = tc->log_append_time ? -1 : tc->ts_diff_max_ms,
        .max_decompressed = rv_decompressed_limit(tc->max_message_bytes),
    };
    struct rv_result res;
    (void)batch_parse_hdr(rec, (size_t)rec_len, &h); /* checked by batch_validate_produce */
    err = record_validate_batch(rec, &h, &o, &res);
    if (err != KERR_NONE)
        say_debug("produce", "invalid batch for %s-%d: %s (%s)", part->topic, part->index,
                  res.reason ? res.reason : "?", kerr_name(err));
    *max_ts = res.max_ts;
    return err;
}

/* Walks the topics array without acting, so a request cut short or
 * malformed anywhere is refused before any partition is appended to. */
static bool produce_structure_ok(struct kslice s, int32_t n_topics)
{
    for (int32_t i = 0; i < n_topics && kslice_ok(&s); i++) {
        struct kstr name = kw_get_str(&s, false);
        int32_t n_parts = kw_get_array_len(&s, false, 8);
        if (!name.ptr)
            return false;
        for (int32_t j = 0; j < n_parts && kslice_ok(&s); j++) {
            int32_t len;
            (void)kslice_i32(&s);
            (void)kw_get_bytes(&s, false, &len);
        }
    }
    return kslice_ok(&s);
}

struct produce_part {
    int32_t index;
    kerr_t err;
    int64_t base_offset, last_offset, append_time, log_start;
    int32_t leader_epoch;
    struct topic *t;               /* referenced for the op's life; NULL: unknown topic */
    const struct topic_config *tc; /* its config: an entry of op->tcs */
    const uint8_t *rec;            /* the records, in the request frame */
    int32_t rec_len;
    uint32_t records; /* records appended (0: nothing written) */
    bool waiting;     /* acks=all: the HW has not passed it yet */
    bool watched;
    struct pwaiter waiter; /* this part's node in its partition's waiter list */
};

struct produce_op {
    struct req *req;
    int16_t acks;
    int32_t timeout_ms;
    int n;
    size_t cap;
    struct produce_part *parts;
    struct topic_groups topics; /* the request's topic entries over parts */
    struct delayed d;           /* acks=all: the delayed operation */
    /* one config snapshot per topic entry (AlterConfigs may change it
     * meanwhile), taken once for all its partitions; the wall clock once */
    struct topic_config *tcs;
    int64_t now;
    size_t rec_bytes; /* sum of parts' rec_len */
    /* offload (below): appends running on io workers */
    atomic_int jobs_left; /* io jobs not finished yet */
    bool abandoned;       /* network loop: the connection closed meanwhile */
};

static struct partition *pp_partition(const struct produce_part *pp)
{
    return pp->t ? topic_part(pp->t, pp->index) : NULL;
}

static void produce_op_free(struct produce_op *op)
{
    for (int i = 0; i < op->n; i++) {
        if (op->parts[i].watched)
            partition_unwatch(pp_partition(&op->parts[i]), &op->parts[i].waiter);
        topic_unref(op->parts[i].t);
    }
    delayed_release(&op->d);
    free(op->parts);
    free(op->tcs);
    topic_groups_destroy(&op->topics);
    free(op);
}

/* Validates and appends one partition's records (any thread: the partition
 * lock guards the log). */
static void produce_partition(struct req *req, int16_t acks, int64_t now, struct produce_part *r)
{
    struct topic *t = r->t;
    const uint8_t *rec = r->rec;
    int32_t rec_len = r->rec_len;
    r->base_offset = r->append_time = r->log_start = -1;
    if (!t || r->index < 0 || r->index >= t->n_parts) {
        r->err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
        return;
    }
    if (t->internal) { /* written only by the coordinators, as in Kafka */
        r->err = KERR_INVALID_TOPIC_EXCEPTION;
        return;
    }
    struct partition *part = topic_part(t, r->index);
    const struct topic_config *tc = r->tc;
    int64_t max_ts = -1;
    r->err = produce_validate(req, part, tc, rec, rec_len, now, &max_ts);
    if (r->err != KERR_NONE)
        return;
    uint8_t *batch = (uint8_t *)rec; /* the frame is ours to modify */
    if (tc->log_append_time) {
        set_log_append_time(batch, (size_t)rec_len, now);
        r->append_time = now;
    } else {
        set_create_time_max(batch, (size_t)rec_len, max_ts);
    }
    r->err = partition_append(part, batch, (size_t)rec_len, now, acks == -1, &r->base_offset,
                              &r->last_offset, &r->leader_epoch, &r->log_start);
    if (r->err == KERR_DUPLICATE_SEQUENCE_NUMBER) {
        /* A retry of a batch already in the log: Kafka answers it with the
         * original offsets and no error (clients treat it as acknowledged). */
        r->err = KERR_NONE;
        r->waiting = acks == -1;
        return;
    }
    if (r->err != KERR_NONE) {
        r->base_offset = r->append_time = -1;
        return;
    }
    r->records = be32_load(batch + BATCH_OFF_RECORDS_COUNT);
    r->waiting = acks == -1;
}

static void produce_encode(struct produce_op *op)
{
    struct req *req = op->req;
    struct kbuf *o = &req->out;
    kw_put_array_len(o, false, op->topics.n);
    for (int ti = 0; ti < op->topics.n; ti++) {
        int end;
        for (int i = topic_groups_put(&op->topics, o, ti, op->n, &end); i < end; i++) {
            const struct produce_part *r = &op->parts[i];
            kbuf_put_i32(o, r->index);
            kbuf_put_i16(o, r->err);
            kbuf_put_i64(o, r->err == KERR_NONE ? r->base_offset : -1);
            if (req->api_version >= 2)
                kbuf_put_i64(o, r->err == KERR_NONE ? r->append_time : -1);
            if (req->api_version >= 5)
                kbuf_put_i64(o, r->log_start);
        }
    }
    int32_t throttle = req_quota_record(req, QUOTA_PRODUCE, (double)op->rec_bytes);
    if (req->api_version >= 1) {
        req->throttle_at = (int32_t)o->len; /* after the partitions: not in dispatch's table */
        kbuf_put_i32(o, throttle);          /* throttle_time_ms */
    }
}

static struct produce_part *produce_add_part(struct produce_op *op)
{
    if (!VEC_RESERVE_AT(op->parts, op->cap, (size_t)op->n + 1))
        return NULL;
    struct produce_part *r = &op->parts[op->n++];
    *r = (struct produce_part){0};
    return r;
}

/* Reads the partition entries into op->parts (nothing appended yet); false
 * on a malformed request or OOM. */
static bool produce_parse(struct produce_op *op, struct kslice *s, int32_t n_topics,
                          kerr_t txn_denied)
{
    struct broker *b = op->req->broker;
    bool bad_acks = op->acks != 0 && op->acks != 1 && op->acks != -1;
    if (!topic_groups_init(&op->topics, n_topics))
        return false;
    op->tcs = calloc(n_topics > 0 ? (size_t)n_topics : 1, sizeof(*op->tcs));
    if (!op->tcs)
        return false;
    op->now = clock_wall_ms();
    for (int32_t i = 0; i < n_topics && kslice_ok(s); i++) {
        struct kstr name = kw_get_str(s, false);
        int32_t n_parts = kw_get_array_len(s, false, 8);
        if (!kslice_ok(s) || !name.ptr)
            return false;
        topic_groups_add(&op->topics, name, op->n);
        kerr_t denied = txn_denied ? txn_denied
                        : authz_topic(op->req, ACL_OP_WRITE, name.ptr, (size_t)name.len)
                            ? KERR_NONE
                            : KERR_TOPIC_AUTHORIZATION_FAILED;
        struct topic *t = topics_get(b->topics, name.ptr, (size_t)name.len);
        if (t && t->n_parts > 0) /* every partition of t holds the topic's settings */
            partition_config(topic_part(t, 0), &op->tcs[i]);
        for (int32_t j = 0; j < n_parts && kslice_ok(s); j++) {
            struct produce_part *r = produce_add_part(op);
            if (!r) {
                topic_unref(t);
                return false;
            }
            r->index = kslice_i32(s);
            r->rec = kw_get_bytes(s, false, &r->rec_len);
            if (!kslice_ok(s))
                break;
            r->err = denied ? denied : bad_acks ? KERR_INVALID_REQUIRED_ACKS : KERR_NONE;
            r->base_offset = r->append_time = r->log_start = -1;
            if (t)
                topic_ref(t);
            r->t = t;
            r->tc = &op->tcs[i];
            if (r->rec_len > 0)
                op->rec_bytes += (size_t)r->rec_len;
        }
        topic_unref(t);
    }
    return kslice_ok(s);
}

/* acks=all: re-checks the waiting partitions; true when none waits. */
static bool produce_check_acks(struct produce_op *op, bool timed_out)
{
    bool waiting = false;
    for (int i = 0; i < op->n; i++) {
        struct produce_part *r = &op->parts[i];
        if (!r->waiting)
            continue;
        kerr_t st = partition_ack_status(pp_partition(r), r->last_offset, r->leader_epoch);
        if (st == KERR__AGAIN && timed_out)
            st = KERR_REQUEST_TIMED_OUT;
        if (st == KERR__AGAIN) {
            waiting = true;
            continue;
        }
        r->waiting = false;
        r->err = st;
    }
    return !waiting;
}

static bool produce_check(void *arg, bool timed_out)
{
    struct produce_op *op = arg;
    if (!produce_check_acks(op, timed_out))
        return false;
    produce_encode(op);
    return true;
}

static void produce_destroy(void *op) { produce_op_free(op); }

static kerr_t produce_park(struct produce_op *op, int32_t timeout_ms)
{
    if (!delayed_init(&op->d, op->req, produce_check, produce_destroy, op))
        return KERR__NOMEM;
    for (int i = 0; i < op->n; i++) { /* one node per waiting partition entry */
        struct produce_part *r = &op->parts[i];
        if (!r->waiting)
            continue;
        r->waiter =
            (struct pwaiter){.wake = delayed_waiter_wake, .owner = &op->d, .what = "produce"};
        partition_watch(pp_partition(r), &r->waiter);
        r->watched = true;
    }
    return delayed_park(&op->d, timeout_ms);
}

/* Appends parts first, first + step, ... (any thread). */
static void produce_append_parts(struct produce_op *op, int first, int step)
{
    for (int i = first; i < op->n; i += step) {
        struct produce_part *r = &op->parts[i];
        if (r->err != KERR_NONE)
            continue; /* bad acks */
        produce_partition(op->req, op->acks, op->now, r);
        if (r->err != KERR_NONE)
            say_debug("kafka", "produce rejected topic=%s partition=%d err=%s",
                      r->t ? r->t->name : "?", r->index, kerr_name(r->err));
    }
}

/* Adds what was appended to the broker's and the topics' counters: once
 * per topic entry and once per request, not per partition. */
static void produce_count(struct produce_op *op)
{
    uint64_t bytes = 0, records = 0, t_bytes = 0, t_records = 0;
    for (int i = 0; i < op->n; i++) {
        const struct produce_part *r = &op->parts[i];
        if (r->records > 0) {
            t_bytes += (uint64_t)r->rec_len;
            t_records += r->records;
        }
        if (i + 1 == op->n || op->parts[i + 1].t != r->t) {
            if (t_records > 0) {
                metrics_add(&r->t->bytes_in, t_bytes);
                metrics_add(&r->t->messages_in, t_records);
            }
            bytes += t_bytes;
            records += t_records;
            t_bytes = t_records = 0;
        }
    }
    if (records > 0) {
        metrics_add(&op->req->broker->metrics.produce_bytes, bytes);
        metrics_add(&op->req->broker->metrics.produce_records, records);
    }
}

/* After the appends, on the network loop: answers now, or parks an acks=all
 * request until its partitions' HW passes (may_park false: answer now). */
static kerr_t produce_finish(struct produce_op *op, bool may_park)
{
    struct req *req = op->req;
    bool any_error = false;
    for (int i = 0; i < op->n; i++)
        any_error |= op->parts[i].err != KERR_NONE;
    produce_count(op);
    if (op->acks == -1 && may_park && !produce_check_acks(op, false) &&
        produce_park(op, op->timeout_ms) == KERR__PENDING)
        return KERR__PENDING;
    if (op->acks == -1)
        produce_check_acks(op, true);
    produce_encode(op);
    int16_t acks = op->acks;
    produce_op_free(op);
    if (acks == 0) {
        req->no_response = true;
        if (any_error)
            return KERR__CLOSE;
    }
    return KERR_NONE;
}

/* ---- offload: appends on the io workers ----
 *
 * A request carrying at least gregor.produce.offload.bytes of records
 * (acks 1 or all) has its appends run on the io workers: parts i, i + k,
 * i + 2k ... on worker (start + i) % n_io for k = min(parts, n_io) jobs.
 * The network loop meanwhile reads the connection's next request and
 * writes earlier responses, so one busy connection uses more than one
 * core; a request of several partitions uses several. The last job to
 * finish posts produce_resume() back to the network loop, which answers
 * or parks as an inline request would. One request per connection is in
 * flight (net/conn.c), so a connection's appends stay in request order.
 * acks=0 requests stay inline: a failed one must close the connection,
 * which only the handler's return value can ask for. */

struct produce_job {
    struct produce_op *op;
    int first, step;
    int64_t posted_us; /* when it joined a worker's queue */
};

static void produce_resume(void *arg)
{
    struct produce_op *op = arg;
    struct req *req = op->req;
    KASSERT(worker_is_current(req->worker));
    req->cancel = NULL;
    req->handler_state = NULL;
    kerr_t rc = produce_finish(op, !op->abandoned);
    if (rc != KERR__PENDING)
        req_complete(req);
}

static void produce_job_run(void *arg)
{
    struct produce_job *job = arg;
    struct produce_op *op = job->op;
    if (job->first == 0) /* only this job writes it; read after the last job */
        op->req->queue_us += clock_mono_us() - job->posted_us;
    produce_append_parts(op, job->first, job->step);
    free(job);
    if (atomic_fetch_sub(&op->jobs_left, 1) != 1)
        return;
    while (!worker_post(op->req->worker, produce_resume, op)) {
        /* out of memory: the request cannot be dropped; wait for memory */
        struct timespec ms = {.tv_nsec = 1000000};
        nanosleep(&ms, NULL);
    }
}

/* The connection closed while the appends run (network loop): they finish,
 * and produce_resume() then answers at once instead of parking. */
static void produce_offload_cancel(struct req *req)
{
    struct produce_op *op = req->handler_state;
    req->cancel = NULL;
    op->abandoned = true;
}

/* Hands op's appends to the io workers; false: run them inline. */
static bool produce_offload(struct produce_op *op)
{
    struct broker *b = op->req->broker;
    int32_t min = b->cfg->gregor_produce_offload_bytes;
    if (b->n_io == 0 || min < 0 || op->acks == 0 || op->n == 0 || op->rec_bytes < (size_t)min)
        return false;
    int k = MIN(op->n, b->n_io);
    struct produce_job *jobs[k];
    for (int i = 0; i < k; i++) {
        jobs[i] = malloc(sizeof(*jobs[i]));
        if (!jobs[i]) {
            while (i-- > 0)
                free(jobs[i]);
            return false;
        }
        *jobs[i] =
            (struct produce_job){.op = op, .first = i, .step = k, .posted_us = clock_mono_us()};
    }
    static atomic_uint next;
    unsigned start = atomic_fetch_add_explicit(&next, 1, memory_order_relaxed);
    atomic_init(&op->jobs_left, k);
    metrics_add(&b->metrics.produce_offloaded, 1);
    op->req->handler_state = op;
    op->req->cancel = produce_offload_cancel;
    for (int i = 0; i < k; i++) {
        struct worker *w = b->io[(start + (unsigned)i) % (unsigned)b->n_io];
        if (!worker_post(w, produce_job_run, jobs[i]))
            produce_job_run(jobs[i]); /* out of memory: run it here */
    }
    return true;
}

kerr_t handle_produce(struct req *req)
{
    struct kslice *s = &req->body;
    kerr_t txn_denied = KERR_NONE;
    if (req->api_version >= 3) {
        /* transactional_id: the batches carry the producer id; the id itself
         * is only checked for WRITE */
        struct kstr txn = kw_get_str(s, false);
        if (txn.ptr &&
            !authz_check(req, ACL_OP_WRITE, ACL_RT_TRANSACTIONAL_ID, txn.ptr, (size_t)txn.len))
            txn_denied = KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    }
    int16_t acks = kslice_i16(s);
    int32_t timeout_ms = kslice_i32(s);
    int32_t n_topics = kw_get_array_len(s, false, 6);
    if (!kslice_ok(s) || !produce_structure_ok(*s, n_topics))
        return KERR__CLOSE;
    struct produce_op *op = calloc(1, sizeof(*op));
    if (!op)
        return KERR__CLOSE;
    op->req = req;
    op->acks = acks;
    op->timeout_ms = timeout_ms;
    if (!produce_parse(op, s, n_topics, txn_denied)) {
        produce_op_free(op);
        return KERR__CLOSE;
    }
    if (produce_offload(op))
        return KERR__PENDING;
    produce_append_parts(op, 0, 1);
    return produce_finish(op, true);
}
