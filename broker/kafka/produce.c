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
 * CRC, magic, sizes; docs/kafka-protocol.md §4.6) before anything is
 * written, then appended as-is: only baseOffset and partitionLeaderEpoch
 * change (not covered by the CRC). LogAppendTime topics get the timestamp
 * type bit and maxTimestamp rewritten, and so a recomputed CRC.
 * acks=0 sends no response; if a partition fails, the connection is closed
 * so the client notices (Kafka's behaviour).
 */
#include "broker/kafka/dispatch.h"
#include "broker/server.h"
#include "broker/storage/batch.h"
#include "broker/topics.h"
#include "common/clock.h"
#include "common/crc32c.h"
#include "common/say.h"

#define CODEC_ZSTD 4

struct produce_result {
    kerr_t err;
    int64_t base_offset;
    int64_t append_time;
    int64_t log_start;
};

/* Rewrites a batch as LogAppendTime with maxTimestamp = now (new CRC). */
static void set_log_append_time(uint8_t *batch, size_t len, int64_t now)
{
    uint16_t attr = be16_load(batch + BATCH_OFF_ATTRIBUTES);
    be16_store(batch + BATCH_OFF_ATTRIBUTES, (uint16_t)(attr | BATCH_ATTR_LOG_APPEND_TIME));
    be64_store(batch + BATCH_OFF_MAX_TS, (uint64_t)now);
    be32_store(batch + BATCH_OFF_CRC,
               crc32c(0, batch + BATCH_OFF_ATTRIBUTES, len - BATCH_OFF_ATTRIBUTES));
}

static kerr_t produce_validate(struct req *req, struct partition *part, const uint8_t *rec,
                               int32_t rec_len)
{
    struct broker *b = req->broker;
    if (part->leader != b->id)
        return KERR_NOT_LEADER_OR_FOLLOWER;
    if (!rec || rec_len <= 0)
        return KERR_INVALID_RECORD;
    if (rec_len > BATCH_OFF_MAGIC && rec[BATCH_OFF_MAGIC] < BATCH_MAGIC)
        return req->api_version >= 3 ? KERR_INVALID_RECORD : KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT;
    int n_batches = 0;
    kerr_t err = batch_validate_produce(rec, (size_t)rec_len, part->tc.max_message_bytes,
                                        &n_batches);
    if (err != KERR_NONE)
        return err;
    if (n_batches != 1)
        return KERR_INVALID_RECORD;
    int codec = be16_load(rec + BATCH_OFF_ATTRIBUTES) & BATCH_ATTR_COMPRESSION_MASK;
    if (codec == CODEC_ZSTD && req->api_version < 7)
        return KERR_UNSUPPORTED_COMPRESSION_TYPE;
    return KERR_NONE;
}

static void produce_partition(struct req *req, struct topic *t, int16_t acks, int32_t index,
                              const uint8_t *rec, int32_t rec_len, struct produce_result *r)
{
    r->base_offset = -1;
    r->append_time = -1;
    r->log_start = -1;
    if (!t || index < 0 || index >= t->n_parts) {
        r->err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
        return;
    }
    struct partition *part = t->parts[index];
    r->err = produce_validate(req, part, rec, rec_len);
    if (r->err != KERR_NONE)
        return;
    if (acks == -1 && part->n_isr < part->tc.min_insync_replicas) {
        r->err = KERR_NOT_ENOUGH_REPLICAS;
        return;
    }
    int64_t now = clock_wall_ms();
    uint8_t *batch = (uint8_t *)rec; /* the frame is ours to modify */
    if (part->tc.log_append_time) {
        set_log_append_time(batch, (size_t)rec_len, now);
        r->append_time = now;
    }
    r->err = partition_append(part, batch, (size_t)rec_len, now, &r->base_offset, &r->log_start);
    if (r->err == KERR_NONE) {
        metrics_add(&req->broker->metrics.produce_bytes, (uint64_t)rec_len);
        metrics_add(&req->broker->metrics.produce_records,
                    (uint64_t)be32_load(batch + BATCH_OFF_RECORDS_COUNT));
    }
}

static void write_result(struct req *req, int32_t index, const struct produce_result *r)
{
    struct kbuf *o = &req->out;
    kbuf_put_i32(o, index);
    kbuf_put_i16(o, r->err);
    kbuf_put_i64(o, r->base_offset);
    if (req->api_version >= 2)
        kbuf_put_i64(o, r->append_time);
    if (req->api_version >= 5)
        kbuf_put_i64(o, r->log_start);
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

kerr_t handle_produce(struct req *req)
{
    struct broker *b = req->broker;
    struct kslice *s = &req->body;
    if (req->api_version >= 3)
        (void)kw_get_str(s, false); /* transactional_id: transactions come later */
    int16_t acks = kslice_i16(s);
    (void)kslice_i32(s); /* timeout_ms: only acks=all waits, and not yet */
    int32_t n_topics = kw_get_array_len(s, false, 6);
    if (!kslice_ok(s) || !produce_structure_ok(*s, n_topics))
        return KERR__CLOSE;
    bool bad_acks = acks != 0 && acks != 1 && acks != -1;
    bool any_error = false;
    struct kbuf *o = &req->out;
    kw_put_array_len(o, false, n_topics < 0 ? 0 : n_topics);
    for (int32_t i = 0; i < n_topics && kslice_ok(s); i++) {
        struct kstr name = kw_get_str(s, false);
        int32_t n_parts = kw_get_array_len(s, false, 8);
        if (!kslice_ok(s) || !name.ptr)
            return KERR__CLOSE;
        struct topic *t = topics_get(b->topics, name.ptr, (size_t)name.len);
        kw_put_kstr(o, false, name);
        kw_put_array_len(o, false, n_parts < 0 ? 0 : n_parts);
        for (int32_t j = 0; j < n_parts && kslice_ok(s); j++) {
            int32_t index = kslice_i32(s);
            int32_t rec_len;
            const uint8_t *rec = kw_get_bytes(s, false, &rec_len);
            if (!kslice_ok(s))
                break;
            struct produce_result r = {.err = KERR_INVALID_REQUIRED_ACKS};
            if (!bad_acks)
                produce_partition(req, t, acks, index, rec, rec_len, &r);
            else
                r.base_offset = r.append_time = r.log_start = -1;
            if (r.err != KERR_NONE) {
                any_error = true;
                say_debug("kafka", "produce rejected topic=%.*s partition=%d err=%s",
                          (int)name.len, name.ptr, index, kerr_name(r.err));
            }
            write_result(req, index, &r);
        }
        topic_unref(t);
    }
    if (!kslice_ok(s))
        return KERR__CLOSE;
    if (req->api_version >= 1)
        kbuf_put_i32(o, 0); /* throttle_time_ms */
    if (acks == 0) {
        req->no_response = true;
        if (any_error)
            return KERR__CLOSE;
    }
    return KERR_NONE;
}
