/*
 * broker/kafka/group_codec_offsets.c — wire codecs of the committed-offset APIs
 * (group_codec.h): OffsetCommit (8) v0-8, OffsetFetch (9) v0-8, OffsetDelete (47) v0. Request
 * bodies in, response bodies out; the field lists per version are in group_codec.h.
 */
#include <stdlib.h>
#include <string.h>

#include "broker/kafka/group_codec.h"
#include "common/api_keys.h"

#define MIN_STR(flex) ((flex) ? 1u : 2u)
#define MIN_COUNT(flex) ((flex) ? 1u : 4u)
#define MIN_TAGS(flex) ((flex) ? 1u : 0u)

/* --- OffsetCommit --- */

static bool commit_parts_decode(struct kslice *s, int v, bool flex, struct gcodec_commit_topic *t)
{
    t->parts = gcodec_get_array(s, flex, 12 + MIN_STR(flex) + MIN_TAGS(flex), sizeof *t->parts,
                                &t->part_count);
    for (int32_t i = 0; i < t->part_count; i++) {
        struct gcodec_commit_part *p = &t->parts[i];
        p->partition = kslice_i32(s);
        p->offset = kslice_i64(s);
        p->leader_epoch = v >= 6 ? kslice_i32(s) : -1;
        p->commit_ts = v == 1 ? kslice_i64(s) : -1;
        p->metadata = kw_get_str(s, flex);
        kw_skip_tags(s, flex);
    }
    return kslice_ok(s);
}

bool gcodec_commit_req_decode(struct kslice *s, int v, struct gcodec_commit_req *r)
{
    bool flex = api_is_flexible(API_OFFSET_COMMIT, v);
    memset(r, 0, sizeof *r);
    r->group_id = gcodec_get_str(s, flex);
    r->generation = -1;
    r->member_id = (struct kstr){"", 0};
    r->retention_time_ms = -1;
    if (v >= 1) {
        r->generation = kslice_i32(s);
        r->member_id = gcodec_get_str(s, flex);
    }
    if (v >= 7)
        r->instance_id = kw_get_str(s, flex);
    if (v >= 2 && v <= 4)
        r->retention_time_ms = kslice_i64(s);
    r->topics = gcodec_get_array(s, flex, MIN_STR(flex) + MIN_COUNT(flex) + MIN_TAGS(flex),
                                 sizeof *r->topics, &r->topic_count);
    for (int32_t i = 0; i < r->topic_count; i++) {
        r->topics[i].name = gcodec_get_str(s, flex);
        if (!commit_parts_decode(s, v, flex, &r->topics[i]))
            goto fail;
        kw_skip_tags(s, flex);
    }
    kw_skip_tags(s, flex);
    if (kslice_ok(s))
        return true;
fail:
    gcodec_commit_req_free(r);
    return false;
}

void gcodec_commit_topics_free(struct gcodec_commit_topic *topics, int32_t count)
{
    for (int32_t i = 0; i < count && topics; i++)
        free(topics[i].parts);
    free(topics);
}

void gcodec_commit_req_free(struct gcodec_commit_req *r)
{
    gcodec_commit_topics_free(r->topics, r->topic_count);
    memset(r, 0, sizeof *r);
}

void gcodec_commit_topics_encode(struct kbuf *b, bool flex,
                                 const struct gcodec_commit_topic *topics, int32_t count)
{
    kw_put_array_len(b, flex, count);
    for (int32_t i = 0; i < count; i++) {
        const struct gcodec_commit_topic *t = &topics[i];
        kw_put_kstr(b, flex, t->name);
        kw_put_array_len(b, flex, t->part_count);
        for (int32_t j = 0; j < t->part_count; j++) {
            kbuf_put_i32(b, t->parts[j].partition);
            kbuf_put_i16(b, (int16_t)kerr_to_wire(t->parts[j].err));
            kw_put_tags(b, flex);
        }
        kw_put_tags(b, flex);
    }
}

void gcodec_commit_resp_encode(struct kbuf *b, int v, int32_t throttle_ms,
                               const struct gcodec_commit_req *req)
{
    bool flex = api_is_flexible(API_OFFSET_COMMIT, v);
    if (v >= 3)
        kbuf_put_i32(b, throttle_ms);
    gcodec_commit_topics_encode(b, flex, req->topics, req->topic_count);
    kw_put_tags(b, flex);
}

/* --- OffsetFetch --- */

/* Reads a group's topics; a null array means every topic when `nullable`. */
static bool fetch_topics_decode(struct kslice *s, bool flex, bool nullable,
                                struct gcodec_fetch_req_group *g)
{
    int32_t n = kw_get_array_len(s, flex, MIN_STR(flex) + MIN_COUNT(flex) + MIN_TAGS(flex));
    if (!kslice_ok(s))
        return false;
    if (n < 0) {
        g->all_topics = true;
        return nullable;
    }
    g->topics = gcodec_calloc(n, sizeof *g->topics);
    if (n > 0 && !g->topics)
        return false;
    g->topic_count = n;
    for (int32_t i = 0; i < n; i++) {
        struct gcodec_fetch_req_topic *t = &g->topics[i];
        t->name = gcodec_get_str(s, flex);
        t->partitions = gcodec_get_array(s, flex, 4, sizeof *t->partitions, &t->part_count);
        for (int32_t j = 0; j < t->part_count; j++)
            t->partitions[j] = kslice_i32(s);
        kw_skip_tags(s, flex);
    }
    return kslice_ok(s);
}

bool gcodec_fetch_req_decode(struct kslice *s, int v, struct gcodec_fetch_req *r)
{
    bool flex = api_is_flexible(API_OFFSET_FETCH, v);
    memset(r, 0, sizeof *r);
    if (v <= 7) {
        struct kstr group_id = gcodec_get_str(s, flex);
        if (!kslice_ok(s) || !(r->groups = gcodec_calloc(1, sizeof *r->groups)))
            goto fail;
        r->group_count = 1;
        r->groups[0].group_id = group_id;
        if (!fetch_topics_decode(s, flex, v >= 2, &r->groups[0]))
            goto fail;
    } else {
        r->groups = gcodec_get_array(s, flex, MIN_STR(flex) + 1 + MIN_TAGS(flex), sizeof *r->groups,
                                     &r->group_count);
        for (int32_t i = 0; i < r->group_count; i++) {
            r->groups[i].group_id = gcodec_get_str(s, flex);
            if (!fetch_topics_decode(s, flex, true, &r->groups[i]))
                goto fail;
            kw_skip_tags(s, flex);
        }
    }
    if (v >= 7)
        r->require_stable = kslice_u8(s) != 0;
    kw_skip_tags(s, flex);
    if (kslice_ok(s))
        return true;
fail:
    gcodec_fetch_req_free(r);
    return false;
}

void gcodec_fetch_req_free(struct gcodec_fetch_req *r)
{
    for (int32_t i = 0; i < r->group_count && r->groups; i++) {
        struct gcodec_fetch_req_group *g = &r->groups[i];
        for (int32_t j = 0; j < g->topic_count && g->topics; j++)
            free(g->topics[j].partitions);
        free(g->topics);
    }
    free(r->groups);
    memset(r, 0, sizeof *r);
}

static void fetch_topics_encode(struct kbuf *b, int v, bool flex,
                                const struct gcodec_fetch_group *g)
{
    int32_t n = g->topics ? g->topic_count : 0;
    kw_put_array_len(b, flex, n);
    for (int32_t i = 0; i < n; i++) {
        const struct gcodec_fetch_topic *t = &g->topics[i];
        gcodec_put_str(b, flex, false, t->name);
        int32_t np = t->parts ? t->part_count : 0;
        kw_put_array_len(b, flex, np);
        for (int32_t j = 0; j < np; j++) {
            const struct gcodec_fetch_part *p = &t->parts[j];
            kbuf_put_i32(b, p->partition);
            kbuf_put_i64(b, p->offset);
            if (v >= 5)
                kbuf_put_i32(b, p->leader_epoch);
            gcodec_put_str(b, flex, true, p->metadata);
            kbuf_put_i16(b, (int16_t)kerr_to_wire(p->err));
            kw_put_tags(b, flex);
        }
        kw_put_tags(b, flex);
    }
}

void gcodec_fetch_resp_encode(struct kbuf *b, int v, int32_t throttle_ms,
                              const struct gcodec_fetch_group *groups, int32_t count)
{
    bool flex = api_is_flexible(API_OFFSET_FETCH, v);
    if (v >= 3)
        kbuf_put_i32(b, throttle_ms);
    if (v <= 7) {
        fetch_topics_encode(b, v, flex, &groups[0]);
        if (v >= 2)
            kbuf_put_i16(b, (int16_t)kerr_to_wire(groups[0].err));
    } else {
        kw_put_array_len(b, flex, count);
        for (int32_t i = 0; i < count; i++) {
            gcodec_put_str(b, flex, false, groups[i].group_id);
            fetch_topics_encode(b, v, flex, &groups[i]);
            kbuf_put_i16(b, (int16_t)kerr_to_wire(groups[i].err));
            kw_put_tags(b, flex);
        }
    }
    kw_put_tags(b, flex);
}

/* --- OffsetDelete (never flexible) --- */

bool gcodec_odel_req_decode(struct kslice *s, int v, struct gcodec_odel_req *r)
{
    (void)v;
    memset(r, 0, sizeof *r);
    r->group_id = gcodec_get_str(s, false);
    r->topics = gcodec_get_array(s, false, 6, sizeof *r->topics, &r->topic_count);
    for (int32_t i = 0; i < r->topic_count; i++) {
        struct gcodec_odel_topic *t = &r->topics[i];
        t->name = gcodec_get_str(s, false);
        t->parts = gcodec_get_array(s, false, 4, sizeof *t->parts, &t->part_count);
        for (int32_t j = 0; j < t->part_count; j++)
            t->parts[j].partition = kslice_i32(s);
    }
    if (kslice_ok(s))
        return true;
    gcodec_odel_req_free(r);
    return false;
}

void gcodec_odel_req_free(struct gcodec_odel_req *r)
{
    for (int32_t i = 0; i < r->topic_count && r->topics; i++)
        free(r->topics[i].parts);
    free(r->topics);
    memset(r, 0, sizeof *r);
}

void gcodec_odel_resp_encode(struct kbuf *b, int v, int32_t throttle_ms, kerr_t err,
                             const struct gcodec_odel_req *req)
{
    (void)v;
    kbuf_put_i16(b, (int16_t)kerr_to_wire(err));
    kbuf_put_i32(b, throttle_ms);
    int32_t n = req ? req->topic_count : 0;
    kw_put_array_len(b, false, n);
    for (int32_t i = 0; i < n; i++) {
        const struct gcodec_odel_topic *t = &req->topics[i];
        kw_put_kstr(b, false, t->name);
        kw_put_array_len(b, false, t->part_count);
        for (int32_t j = 0; j < t->part_count; j++) {
            kbuf_put_i32(b, t->parts[j].partition);
            kbuf_put_i16(b, (int16_t)kerr_to_wire(t->parts[j].err));
        }
    }
}
