/*
 * broker/group/offsets_format.c — encode and decode the keys and values of `__consumer_offsets`
 * in Kafka's own versioned binary formats (the byte layouts are in offsets_format.h).
 *
 * Readers go through a kslice whose error sticks and check it once at the end; strings are
 * read by str_get() here rather than kw_get_str() because a stored record may only use -1 as
 * the null length (any other negative length is corruption), and non-nullable fields must not
 * be null. Threads: none.
 */
#include "broker/group/offsets_format.h"

#include <stdlib.h>
#include <string.h>

/* Reads a classic STRING / NULLABLE_STRING. A null where none is allowed, or a negative
 * length other than -1, fails the slice. */
static struct kstr str_get(struct kslice *s, bool nullable)
{
    struct kstr r = {NULL, 0};
    int16_t n = kslice_i16(s);
    if (!kslice_ok(s))
        return r;
    if (n < 0) {
        if (n != -1 || !nullable)
            kslice_fail(s);
        return r;
    }
    const uint8_t *p = kslice_take(s, (size_t)n);
    if (p) {
        r.ptr = (const char *)p;
        r.len = n;
    }
    return r;
}

/* Reads a non-null classic BYTES field. */
static const uint8_t *bytes_get(struct kslice *s, int32_t *n)
{
    int32_t len = kslice_i32(s);
    *n = 0;
    if (!kslice_ok(s))
        return NULL;
    if (len < 0) {
        kslice_fail(s);
        return NULL;
    }
    const uint8_t *p = kslice_take(s, (size_t)len);
    if (p)
        *n = len;
    return p;
}

static void str_put(struct kbuf *b, struct kstr s)
{
    if (kstr_is_null(s))
        kbuf_put_i16(b, -1);
    else
        kw_put_strn(b, false, s.ptr, (size_t)s.len);
}

/* A non-nullable field written from a possibly-null view: null is written as "". */
static void str_put_nonnull(struct kbuf *b, struct kstr s)
{
    kw_put_strn(b, false, s.ptr ? s.ptr : "", s.ptr ? (size_t)s.len : 0);
}

void okey_put_offset(struct kbuf *b, int16_t version, const char *group, const char *topic,
                     int32_t partition)
{
    kbuf_put_i16(b, version);
    kw_put_str(b, false, group);
    kw_put_str(b, false, topic);
    kbuf_put_i32(b, partition);
}

void okey_put_group(struct kbuf *b, const char *group)
{
    kbuf_put_i16(b, 2);
    kw_put_str(b, false, group);
}

kerr_t okey_decode(const void *p, size_t len, struct okey *out)
{
    struct kslice s;
    kslice_init(&s, p, len);
    memset(out, 0, sizeof(*out));
    out->version = kslice_i16(&s);
    if (!kslice_ok(&s))
        return KERR__CORRUPT;
    if (out->version == 0 || out->version == 1) {
        out->kind = OKEY_OFFSET;
        out->group = str_get(&s, false);
        out->topic = str_get(&s, false);
        out->partition = kslice_i32(&s);
    } else if (out->version == 2) {
        out->kind = OKEY_GROUP;
        out->group = str_get(&s, false);
    } else {
        return KERR__CORRUPT;
    }
    if (!kslice_ok(&s) || kslice_remaining(&s) != 0)
        return KERR__CORRUPT;
    return KERR_NONE;
}

/* Both values, OffsetCommit and GroupMetadata, have versions 0..3. */
static bool value_version_known(int16_t version) { return version >= 0 && version <= 3; }

/* Starts reading a stored value: *s over p, *version from its INT16 version field. False when
 * that is missing or not a known value version. */
static bool value_open(struct kslice *s, const void *p, size_t len, int16_t *version)
{
    kslice_init(s, p, len);
    *version = kslice_i16(s);
    return kslice_ok(s) && value_version_known(*version);
}

kerr_t ocommit_value_put(struct kbuf *b, const struct ocommit_value *v)
{
    if (!value_version_known(v->version))
        return KERR__INVALID;
    kbuf_put_i16(b, v->version);
    kbuf_put_i64(b, v->offset);
    if (v->version >= 3)
        kbuf_put_i32(b, v->leader_epoch);
    str_put_nonnull(b, v->metadata);
    kbuf_put_i64(b, v->commit_ts);
    if (v->version == 1)
        kbuf_put_i64(b, v->expire_ts);
    return KERR_NONE;
}

kerr_t ocommit_value_decode(const void *p, size_t len, struct ocommit_value *out)
{
    struct kslice s;
    memset(out, 0, sizeof(*out));
    if (!value_open(&s, p, len, &out->version))
        return KERR__CORRUPT;
    out->offset = kslice_i64(&s);
    out->leader_epoch = out->version >= 3 ? kslice_i32(&s) : -1;
    out->metadata = str_get(&s, false);
    out->commit_ts = kslice_i64(&s);
    out->expire_ts = out->version == 1 ? kslice_i64(&s) : -1;
    if (!kslice_ok(&s) || kslice_remaining(&s) != 0)
        return KERR__CORRUPT;
    return KERR_NONE;
}

static void member_put(struct kbuf *b, int16_t version, const struct ogroup_member *m)
{
    str_put_nonnull(b, m->member_id);
    if (version >= 3)
        str_put(b, m->instance_id);
    str_put_nonnull(b, m->client_id);
    str_put_nonnull(b, m->client_host);
    if (version >= 1)
        kbuf_put_i32(b, m->rebalance_timeout);
    kbuf_put_i32(b, m->session_timeout);
    kw_put_bytes(b, false, m->subscription ? (const void *)m->subscription : "",
                 m->subscription_len > 0 ? m->subscription_len : 0);
    kw_put_bytes(b, false, m->assignment ? (const void *)m->assignment : "",
                 m->assignment_len > 0 ? m->assignment_len : 0);
}

kerr_t ogroup_value_put(struct kbuf *b, const struct ogroup_value *v)
{
    if (!value_version_known(v->version))
        return KERR__INVALID;
    kbuf_put_i16(b, v->version);
    str_put_nonnull(b, v->protocol_type);
    kbuf_put_i32(b, v->generation);
    str_put(b, v->protocol);
    str_put(b, v->leader);
    if (v->version >= 2)
        kbuf_put_i64(b, v->state_ts);
    kbuf_put_i32(b, v->member_count);
    for (int32_t i = 0; i < v->member_count; i++)
        member_put(b, v->version, &v->members[i]);
    return KERR_NONE;
}

static void member_get(struct kslice *s, int16_t version, struct ogroup_member *m)
{
    m->member_id = str_get(s, false);
    m->instance_id = version >= 3 ? str_get(s, true) : (struct kstr){NULL, 0};
    m->client_id = str_get(s, false);
    m->client_host = str_get(s, false);
    int32_t rebalance = version >= 1 ? kslice_i32(s) : 0;
    m->session_timeout = kslice_i32(s);
    m->rebalance_timeout = version >= 1 ? rebalance : m->session_timeout;
    m->subscription = bytes_get(s, &m->subscription_len);
    m->assignment = bytes_get(s, &m->assignment_len);
}

/* Smallest member encoding: four empty strings (2 bytes each), two INT32 timeouts at most one
 * of which may be absent, two empty BYTES (4 bytes each). Bounds the member count before the
 * array is allocated. */
#define MEMBER_MIN_BYTES (2 * 3 + 4 + 4 * 2)

kerr_t ogroup_value_decode(const void *p, size_t len, struct ogroup_value *out)
{
    struct kslice s;
    memset(out, 0, sizeof(*out));
    if (!value_open(&s, p, len, &out->version))
        return KERR__CORRUPT;
    out->protocol_type = str_get(&s, false);
    out->generation = kslice_i32(&s);
    out->protocol = str_get(&s, true);
    out->leader = str_get(&s, true);
    out->state_ts = out->version >= 2 ? kslice_i64(&s) : -1;
    int32_t n = kslice_i32(&s);
    if (!kslice_ok(&s) || n < 0 || (size_t)n > kslice_remaining(&s) / MEMBER_MIN_BYTES)
        return KERR__CORRUPT;
    if (n > 0) {
        out->members = calloc((size_t)n, sizeof(*out->members));
        if (!out->members)
            return KERR__NOMEM;
    }
    out->member_count = n;
    for (int32_t i = 0; i < n && kslice_ok(&s); i++)
        member_get(&s, out->version, &out->members[i]);
    if (!kslice_ok(&s) || kslice_remaining(&s) != 0) {
        ogroup_value_destroy(out);
        return KERR__CORRUPT;
    }
    return KERR_NONE;
}

void ogroup_value_destroy(struct ogroup_value *v)
{
    free(v->members);
    v->members = NULL;
    v->member_count = 0;
}
