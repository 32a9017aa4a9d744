/*
 * broker/txn/txn_log_format.c — encode and decode the keys and values of
 * `__transaction_state` in Kafka's own versioned binary formats (the byte layouts are in
 * txn_log_format.h).
 *
 * Readers go through a kslice whose error sticks and check it once at the end. Counts are
 * bounded by the remaining bytes before anything is allocated. Threads: none.
 */
#include "broker/txn/txn_log_format.h"

#include <stdlib.h>
#include <string.h>

static const char *const status_names[TXN_STATUS_COUNT] = {
    "Empty",          "Ongoing",       "PrepareCommit", "PrepareAbort",
    "CompleteCommit", "CompleteAbort", "Dead",          "PrepareEpochFence",
};

const char *txn_status_name(int status)
{
    if (status < 0 || status >= TXN_STATUS_COUNT)
        return "Unknown";
    return status_names[status];
}

void txn_log_key_put(struct kbuf *b, const char *id, size_t n)
{
    kbuf_put_i16(b, 0);
    kw_put_strn(b, false, id, n);
}

/* A non-null string: classic INT16 length (only >= 0), or compact (0 = null is refused). */
static struct kstr str_get(struct kslice *s, bool flex)
{
    struct kstr r = {NULL, 0};
    if (!flex) {
        int16_t n = kslice_i16(s);
        if (!kslice_ok(s) || n < 0) {
            kslice_fail(s);
            return r;
        }
        const uint8_t *p = kslice_take(s, (size_t)n);
        if (p)
            r = (struct kstr){(const char *)p, n};
        return r;
    }
    r = kw_get_str(s, true);
    if (kslice_ok(s) && (kstr_is_null(r) || r.len > INT16_MAX))
        kslice_fail(s); /* a STRING is at most 32767 bytes in every version */
    return r;
}

kerr_t txn_log_key_decode(const void *p, size_t len, struct kstr *id)
{
    struct kslice s;
    kslice_init(&s, p, len);
    int16_t version = kslice_i16(&s);
    if (!kslice_ok(&s) || version != 0)
        return KERR__CORRUPT;
    *id = str_get(&s, false);
    if (!kslice_ok(&s) || kslice_remaining(&s) != 0)
        return KERR__CORRUPT;
    return KERR_NONE;
}

kerr_t txn_log_value_put(struct kbuf *b, const struct txn_log_value *v)
{
    if (v->version < 0 || v->version > 1 || v->status < 0 || v->status >= TXN_STATUS_COUNT ||
        v->topic_count < 0)
        return KERR__INVALID;
    bool flex = v->version == 1;
    kbuf_put_i16(b, v->version);
    kbuf_put_i64(b, v->producer_id);
    kbuf_put_i16(b, v->producer_epoch);
    kbuf_put_i32(b, v->timeout_ms);
    kbuf_put_u8(b, (uint8_t)v->status);
    kw_put_array_len(b, flex, v->topic_count);
    for (int32_t i = 0; i < v->topic_count; i++) {
        const struct txn_log_topic *t = &v->topics[i];
        if (t->count < 0 || t->topic.len > INT16_MAX)
            return KERR__INVALID;
        kw_put_strn(b, flex, t->topic.ptr ? t->topic.ptr : "",
                    t->topic.ptr ? (size_t)t->topic.len : 0);
        kw_put_array_len(b, flex, t->count);
        for (int32_t j = 0; j < t->count; j++)
            kbuf_put_i32(b, t->partitions[j]);
        kw_put_tags(b, flex);
    }
    kbuf_put_i64(b, v->last_update_ms);
    kbuf_put_i64(b, v->start_ms);
    if (flex) {
        uint64_t ntags = (v->prev_producer_id != -1) + (v->next_producer_id != -1) +
                         (v->client_txn_version != 0);
        kbuf_put_uvarint(b, ntags);
        if (v->prev_producer_id != -1) {
            kbuf_put_uvarint(b, 0);
            kbuf_put_uvarint(b, 8);
            kbuf_put_i64(b, v->prev_producer_id);
        }
        if (v->next_producer_id != -1) {
            kbuf_put_uvarint(b, 1);
            kbuf_put_uvarint(b, 8);
            kbuf_put_i64(b, v->next_producer_id);
        }
        if (v->client_txn_version != 0) {
            kbuf_put_uvarint(b, 2);
            kbuf_put_uvarint(b, 2);
            kbuf_put_i16(b, v->client_txn_version);
        }
    }
    return b->oom ? KERR__NOMEM : KERR_NONE;
}

/* The value's tagged fields (v1): known tags must have their exact size. */
static void value_tags_get(struct kslice *s, struct txn_log_value *out)
{
    uint64_t n = kslice_uvarint(s);
    for (uint64_t i = 0; i < n && kslice_ok(s); i++) {
        uint64_t tag = kslice_uvarint(s);
        uint64_t sz = kslice_uvarint(s);
        if (!kslice_ok(s) || sz > kslice_remaining(s)) {
            kslice_fail(s);
            return;
        }
        if (tag == 0 || tag == 1) {
            if (sz != 8) {
                kslice_fail(s);
                return;
            }
            int64_t x = kslice_i64(s);
            if (tag == 0)
                out->prev_producer_id = x;
            else
                out->next_producer_id = x;
        } else if (tag == 2) {
            if (sz != 2) {
                kslice_fail(s);
                return;
            }
            out->client_txn_version = kslice_i16(s);
        } else {
            kslice_skip(s, (size_t)sz);
        }
    }
}

kerr_t txn_log_value_decode(const void *p, size_t len, struct txn_log_value *out)
{
    memset(out, 0, sizeof(*out));
    out->prev_producer_id = -1;
    out->next_producer_id = -1;
    struct kslice s;
    kslice_init(&s, p, len);
    out->version = kslice_i16(&s);
    if (!kslice_ok(&s) || out->version < 0 || out->version > 1)
        return KERR__CORRUPT;
    bool flex = out->version == 1;
    out->producer_id = kslice_i64(&s);
    out->producer_epoch = kslice_i16(&s);
    out->timeout_ms = kslice_i32(&s);
    out->status = (int8_t)kslice_u8(&s);
    if (kslice_ok(&s) && (out->status < 0 || out->status >= TXN_STATUS_COUNT))
        return KERR__CORRUPT;
    /* A topic needs at least a length and a count: 2 + 4 classic, 1 + 1 (+1 tags) compact. */
    int32_t nt = kw_get_array_len(&s, flex, flex ? 3 : 6);
    if (!kslice_ok(&s))
        return KERR__CORRUPT;
    if (nt > 0) {
        out->topics = calloc((size_t)nt, sizeof(*out->topics));
        if (!out->topics)
            return KERR__NOMEM;
    }
    for (int32_t i = 0; i < nt && kslice_ok(&s); i++) {
        struct txn_log_topic *t = &out->topics[i];
        t->topic = str_get(&s, flex);
        int32_t np = kw_get_array_len(&s, flex, 4);
        if (!kslice_ok(&s) || np < 0) {
            kslice_fail(&s);
            break;
        }
        out->topic_count = i + 1;
        if (np > 0) {
            t->partitions = malloc((size_t)np * sizeof(int32_t));
            if (!t->partitions)
                return KERR__NOMEM;
        }
        for (int32_t j = 0; j < np; j++)
            t->partitions[j] = kslice_i32(&s);
        t->count = np;
        kw_skip_tags(&s, flex);
    }
    out->last_update_ms = kslice_i64(&s);
    out->start_ms = kslice_i64(&s);
    if (flex && kslice_ok(&s))
        value_tags_get(&s, out);
    if (!kslice_ok(&s) || kslice_remaining(&s) != 0)
        return KERR__CORRUPT;
    return KERR_NONE;
}

void txn_log_value_destroy(struct txn_log_value *v)
{
    for (int32_t i = 0; i < v->topic_count; i++)
        free(v->topics[i].partitions);
    free(v->topics);
    v->topics = NULL;
    v->topic_count = 0;
}
