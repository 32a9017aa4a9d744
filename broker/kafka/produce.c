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
 * Idempotent batches (producer id >= 0) are checked by the log under the
 * partition lock (storage/producer_state.h): a repeat of one of the
 * producer's last five batches is not written and is answered with the
 * original base offset and no error; an older producer epoch gets
 * INVALID_PRODUCER_EPOCH (47), a sequence gap or a new epoch not starting
 * at 0 OUT_OF_ORDER_SEQUENCE_NUMBER (45). The reason is logged at debug
 * (Produce v8's error_message is not advertised).
 */
#include "broker/kafka/delayed.h"
#include "broker/kafka/dispatch.h"
#include "broker/kafka/topic_groups.h"
#include "broker/core/broker.h"
#include "broker/storage/batch.h"
#include "broker/storage/record_validate.h"
#include "broker/replication/topics.h"
#include "common/clock.h"
#include "common/crc32c.h"
#include "common/say.h"
#include "common/vec.h"

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
    struct topic *t; /* referenced while waiting for acks=all */
    bool waiting;    /* acks=all: the HW has not passed it yet */
    bool watched;
    struct pwaiter waiter; /* this part's node in its partition's waiter list */
};

struct produce_op {
    struct req *req;
    int16_t acks;
    int n;
    size_t cap;
    struct produce_part *parts;
    struct topic_groups topics; /* the request's topic entries over parts */
    struct delayed d;           /* acks=all: the delayed operation */
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
    topic_groups_destroy(&op->topics);
    free(op);
}

/* Record bytes and records appended by one request, added to the broker's
 * and the topics' counters once per topic instead of once per partition. */
struct produce_counts {
    uint64_t bytes, records;
};

/* Validates and appends one partition's records: tc is the topic's config
 * (one snapshot per topic per request), now the request's wall clock. */
static void produce_partition(struct req *req, struct topic *t, const struct topic_config *tc,
                              int16_t acks, int64_t now, const uint8_t *rec, int32_t rec_len,
                              struct produce_part *r, struct produce_counts *counts)
{
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
        if (acks == -1) {
            r->waiting = true;
            topic_ref(t);
            r->t = t;
        }
        return;
    }
    if (r->err != KERR_NONE) {
        r->base_offset = r->append_time = -1;
        return;
    }
    counts->bytes += (uint64_t)rec_len;
    counts->records += be32_load(batch + BATCH_OFF_RECORDS_COUNT);
    if (acks == -1) {
        r->waiting = true;
        topic_ref(t);
        r->t = t;
    }
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
    if (req->api_version >= 1)
        kbuf_put_i32(o, 0); /* throttle_time_ms */
}

static struct produce_part *produce_add_part(struct produce_op *op)
{
    if (!VEC_RESERVE_AT(op->parts, op->cap, (size_t)op->n + 1))
        return NULL;
    struct produce_part *r = &op->parts[op->n++];
    *r = (struct produce_part){0};
    return r;
}

/* Appends every partition; false on a malformed request or OOM. The
 * topic lookup, its config, the clock and the metrics are per topic or per
 * request; per partition there is the validation and the append (one
 * partition lock). */
static bool produce_all(struct produce_op *op, struct kslice *s, int32_t n_topics)
{
    struct broker *b = op->req->broker;
    bool bad_acks = op->acks != 0 && op->acks != 1 && op->acks != -1;
    int64_t now = clock_wall_ms();
    struct produce_counts all = {0};
    if (!topic_groups_init(&op->topics, n_topics))
        return false;
    for (int32_t i = 0; i < n_topics && kslice_ok(s); i++) {
        struct kstr name = kw_get_str(s, false);
        int32_t n_parts = kw_get_array_len(s, false, 8);
        if (!kslice_ok(s) || !name.ptr)
            return false;
        if (n_parts > 0 && !VEC_RESERVE_AT(op->parts, op->cap, (size_t)op->n + (size_t)n_parts))
            return false;
        topic_groups_add(&op->topics, name, op->n);
        struct topic *t = topics_get(b->topics, name.ptr, (size_t)name.len);
        struct topic_config tc = {0}; /* AlterConfigs may change it meanwhile: one snapshot */
        struct produce_counts counts = {0};
        if (t)
            topic_effective_config(t, &tc);
        for (int32_t j = 0; j < n_parts && kslice_ok(s); j++) {
            struct produce_part *r = produce_add_part(op);
            if (!r) {
                topic_unref(t);
                return false;
            }
            r->index = kslice_i32(s);
            int32_t rec_len;
            const uint8_t *rec = kw_get_bytes(s, false, &rec_len);
            if (!kslice_ok(s))
                break;
            r->err = KERR_INVALID_REQUIRED_ACKS;
            r->base_offset = r->append_time = r->log_start = -1;
            if (!bad_acks)
                produce_partition(op->req, t, &tc, op->acks, now, rec, rec_len, r, &counts);
            if (r->err != KERR_NONE)
                say_debug("kafka", "produce rejected topic=%.*s partition=%d err=%s", (int)name.len,
                          name.ptr, r->index, kerr_name(r->err));
        }
        if (counts.bytes > 0) {
            metrics_add(&t->bytes_in, counts.bytes);
            metrics_add(&t->messages_in, counts.records);
            all.bytes += counts.bytes;
            all.records += counts.records;
        }
        topic_unref(t);
    }
    if (all.bytes > 0) {
        metrics_add(&b->metrics.produce_bytes, all.bytes);
        metrics_add(&b->metrics.produce_records, all.records);
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

kerr_t handle_produce(struct req *req)
{
    struct kslice *s = &req->body;
    if (req->api_version >= 3)
        (void)kw_get_str(s, false); /* transactional_id: transactions come later */
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
    if (!produce_all(op, s, n_topics)) {
        produce_op_free(op);
        return KERR__CLOSE;
    }
    bool any_error = false;
    for (int i = 0; i < op->n; i++)
        any_error |= op->parts[i].err != KERR_NONE;
    if (acks == -1 && !produce_check_acks(op, false) &&
        produce_park(op, timeout_ms) == KERR__PENDING)
        return KERR__PENDING;
    if (acks == -1)
        produce_check_acks(op, true);
    produce_encode(op);
    produce_op_free(op);
    if (acks == 0) {
        req->no_response = true;
        if (any_error)
            return KERR__CLOSE;
    }
    return KERR_NONE;
}
