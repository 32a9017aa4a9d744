/*
 * broker/kafka/group_codec_admin.c — wire codecs of the group administration APIs
 * (group_codec.h): DescribeGroups (15) v0-5, ListGroups (16) v0-4, DeleteGroups (42) v0-2.
 * Request bodies in, response bodies out; the field lists per version are in group_codec.h.
 */
#include <stdlib.h>
#include <string.h>

#include "broker/kafka/group_codec.h"
#include "common/api_keys.h"

/* Reads a non-null array of non-null strings into a new array (*out, *count). */
static bool str_array_decode(struct kslice *s, bool flex, struct kstr **out, int32_t *count)
{
    *out = gcodec_get_array(s, flex, flex ? 1 : 2, sizeof **out, count);
    for (int32_t i = 0; i < *count; i++)
        (*out)[i] = gcodec_get_str(s, flex);
    return kslice_ok(s);
}

static void put_bytes(struct kbuf *b, bool flex, const uint8_t *p, int32_t n)
{
    kw_put_bytes(b, flex, p ? p : (const uint8_t *)"", p ? n : 0);
}

/* --- DescribeGroups --- */

bool gcodec_describe_req_decode(struct kslice *s, int v, struct gcodec_describe_req *r)
{
    bool flex = api_is_flexible(API_DESCRIBE_GROUPS, v);
    memset(r, 0, sizeof *r);
    if (!str_array_decode(s, flex, &r->groups, &r->group_count))
        goto fail;
    if (v >= 3)
        r->include_authorized_operations = kslice_u8(s) != 0;
    kw_skip_tags(s, flex);
    if (kslice_ok(s))
        return true;
fail:
    gcodec_describe_req_free(r);
    return false;
}

void gcodec_describe_req_free(struct gcodec_describe_req *r)
{
    free(r->groups);
    memset(r, 0, sizeof *r);
}

void gcodec_describe_resp_encode(struct kbuf *b, int v, int32_t throttle_ms,
                                 const struct gcodec_described_group *groups, int32_t count)
{
    bool flex = api_is_flexible(API_DESCRIBE_GROUPS, v);
    if (v >= 1)
        kbuf_put_i32(b, throttle_ms);
    kw_put_array_len(b, flex, count);
    for (int32_t i = 0; i < count; i++) {
        const struct gcodec_described_group *g = &groups[i];
        kbuf_put_i16(b, (int16_t)kerr_to_wire(g->err));
        gcodec_put_str(b, flex, false, g->group_id);
        gcodec_put_str(b, flex, false, g->state);
        gcodec_put_str(b, flex, false, g->protocol_type);
        gcodec_put_str(b, flex, false, g->protocol_data);
        int32_t n = g->members ? g->member_count : 0;
        kw_put_array_len(b, flex, n);
        for (int32_t j = 0; j < n; j++) {
            const struct group_member_info *m = &g->members[j];
            gcodec_put_str(b, flex, false, m->member_id);
            if (v >= 4)
                gcodec_put_str(b, flex, true, m->instance_id);
            gcodec_put_str(b, flex, false, m->client_id);
            gcodec_put_str(b, flex, false, m->client_host);
            put_bytes(b, flex, m->metadata, m->metadata_len);
            put_bytes(b, flex, m->assignment, m->assignment_len);
            kw_put_tags(b, flex);
        }
        if (v >= 3)
            kbuf_put_i32(b, g->authorized_operations);
        kw_put_tags(b, flex);
    }
    kw_put_tags(b, flex);
}

/* --- ListGroups --- */

bool gcodec_list_req_decode(struct kslice *s, int v, struct gcodec_list_req *r)
{
    bool flex = api_is_flexible(API_LIST_GROUPS, v);
    memset(r, 0, sizeof *r);
    if (v >= 4 && !str_array_decode(s, flex, &r->states, &r->state_count))
        goto fail;
    kw_skip_tags(s, flex);
    if (kslice_ok(s))
        return true;
fail:
    gcodec_list_req_free(r);
    return false;
}

void gcodec_list_req_free(struct gcodec_list_req *r)
{
    free(r->states);
    memset(r, 0, sizeof *r);
}

void gcodec_list_resp_encode(struct kbuf *b, int v, int32_t throttle_ms, kerr_t err,
                             const struct gcodec_listed_group *groups, int32_t count)
{
    bool flex = api_is_flexible(API_LIST_GROUPS, v);
    if (v >= 1)
        kbuf_put_i32(b, throttle_ms);
    kbuf_put_i16(b, (int16_t)kerr_to_wire(err));
    int32_t n = groups ? count : 0;
    kw_put_array_len(b, flex, n);
    for (int32_t i = 0; i < n; i++) {
        gcodec_put_str(b, flex, false, groups[i].group_id);
        gcodec_put_str(b, flex, false, groups[i].protocol_type);
        if (v >= 4)
            gcodec_put_str(b, flex, false, groups[i].state);
        kw_put_tags(b, flex);
    }
    kw_put_tags(b, flex);
}

/* --- DeleteGroups --- */

bool gcodec_delete_req_decode(struct kslice *s, int v, struct gcodec_delete_req *r)
{
    bool flex = api_is_flexible(API_DELETE_GROUPS, v);
    memset(r, 0, sizeof *r);
    r->groups = gcodec_get_array(s, flex, flex ? 1 : 2, sizeof *r->groups, &r->group_count);
    for (int32_t i = 0; i < r->group_count; i++)
        r->groups[i].group_id = gcodec_get_str(s, flex);
    kw_skip_tags(s, flex);
    if (kslice_ok(s))
        return true;
    gcodec_delete_req_free(r);
    return false;
}

void gcodec_delete_req_free(struct gcodec_delete_req *r)
{
    free(r->groups);
    memset(r, 0, sizeof *r);
}

void gcodec_delete_resp_encode(struct kbuf *b, int v, int32_t throttle_ms,
                               const struct gcodec_delete_req *req)
{
    bool flex = api_is_flexible(API_DELETE_GROUPS, v);
    kbuf_put_i32(b, throttle_ms);
    kw_put_array_len(b, flex, req->group_count);
    for (int32_t i = 0; i < req->group_count; i++) {
        kw_put_kstr(b, flex, req->groups[i].group_id);
        kbuf_put_i16(b, (int16_t)kerr_to_wire(req->groups[i].err));
        kw_put_tags(b, flex);
    }
    kw_put_tags(b, flex);
}
