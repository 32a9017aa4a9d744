/*
 * broker/kafka/group_codec_member.c — wire codecs of the group membership APIs (group_codec.h):
 * FindCoordinator (10) v0-4, JoinGroup (11) v0-7, Heartbeat (12) v0-4, LeaveGroup (13) v0-4,
 * SyncGroup (14) v0-5. Request bodies in, response bodies out; the field lists per version
 * are in group_codec.h.
 */
#include <stdlib.h>
#include <string.h>

#include "broker/kafka/group_codec.h"
#include "common/api_keys.h"

/* Smallest encoded size of one string / bytes / struct tag section, per encoding. */
#define MIN_STR(flex) ((flex) ? 1u : 2u)
#define MIN_BYTES(flex) ((flex) ? 1u : 4u)
#define MIN_TAGS(flex) ((flex) ? 1u : 0u)

/* Smallest encoded (string, bytes) array element, and a reader of one with its tags: JoinGroup
 * protocols[name, metadata] and SyncGroup assignments[member_id, assignment], neither nullable
 * (a null fails the slice). */
#define MIN_STR_BYTES(flex) (MIN_STR(flex) + MIN_BYTES(flex) + MIN_TAGS(flex))

static void get_str_bytes(struct kslice *s, bool flex, struct kstr *str, const uint8_t **p,
                          int32_t *n)
{
    *str = gcodec_get_str(s, flex);
    *p = kw_get_bytes(s, flex, n);
    if (kslice_ok(s) && *n < 0)
        kslice_fail(s);
    kw_skip_tags(s, flex);
}

static void put_bytes(struct kbuf *b, bool flex, const uint8_t *p, int32_t n)
{
    kw_put_bytes(b, flex, p ? p : (const uint8_t *)"", p ? n : 0);
}

/* --- FindCoordinator --- */

bool gcodec_find_coord_req_decode(struct kslice *s, int v, struct gcodec_find_coord_req *r)
{
    bool flex = api_is_flexible(API_FIND_COORDINATOR, v);
    memset(r, 0, sizeof *r);
    if (v <= 3) {
        struct kstr key = gcodec_get_str(s, flex);
        if (v >= 1)
            r->key_type = (int8_t)kslice_u8(s);
        kw_skip_tags(s, flex);
        if (!kslice_ok(s) || !(r->keys = gcodec_calloc(1, sizeof *r->keys)))
            goto fail;
        r->keys[0] = key;
        r->key_count = 1;
        return true;
    }
    r->key_type = (int8_t)kslice_u8(s);
    r->keys = gcodec_get_array(s, flex, MIN_STR(flex), sizeof *r->keys, &r->key_count);
    for (int32_t i = 0; i < r->key_count; i++)
        r->keys[i] = gcodec_get_str(s, flex);
    kw_skip_tags(s, flex);
    if (kslice_ok(s))
        return true;
fail:
    gcodec_find_coord_req_free(r);
    return false;
}

void gcodec_find_coord_req_free(struct gcodec_find_coord_req *r)
{
    free(r->keys);
    memset(r, 0, sizeof *r);
}

void gcodec_find_coord_resp_encode(struct kbuf *b, int v, int32_t throttle_ms,
                                   const struct gcodec_coordinator *coords, int32_t count)
{
    bool flex = api_is_flexible(API_FIND_COORDINATOR, v);
    if (v >= 1)
        kbuf_put_i32(b, throttle_ms);
    if (v <= 3) {
        const struct gcodec_coordinator *c = &coords[0];
        kbuf_put_i16(b, (int16_t)kerr_to_wire(c->err));
        if (v >= 1)
            gcodec_put_str(b, flex, true, c->err_msg);
        kbuf_put_i32(b, c->node_id);
        gcodec_put_str(b, flex, false, c->host);
        kbuf_put_i32(b, c->port);
        kw_put_tags(b, flex);
        return;
    }
    kw_put_array_len(b, flex, count);
    for (int32_t i = 0; i < count; i++) {
        const struct gcodec_coordinator *c = &coords[i];
        gcodec_put_str(b, flex, false, c->key);
        kbuf_put_i32(b, c->node_id);
        gcodec_put_str(b, flex, false, c->host);
        kbuf_put_i32(b, c->port);
        kbuf_put_i16(b, (int16_t)kerr_to_wire(c->err));
        gcodec_put_str(b, flex, true, c->err_msg);
        kw_put_tags(b, flex);
    }
    kw_put_tags(b, flex);
}

/* --- JoinGroup --- */

bool gcodec_join_req_decode(struct kslice *s, int v, struct gcodec_join_req *r)
{
    bool flex = api_is_flexible(API_JOIN_GROUP, v);
    memset(r, 0, sizeof *r);
    r->group_id = gcodec_get_str(s, flex);
    r->session_timeout_ms = kslice_i32(s);
    r->rebalance_timeout_ms = v >= 1 ? kslice_i32(s) : r->session_timeout_ms;
    r->member_id = gcodec_get_str(s, flex);
    if (v >= 5)
        r->instance_id = kw_get_str(s, flex);
    r->protocol_type = gcodec_get_str(s, flex);
    r->protocols =
        gcodec_get_array(s, flex, MIN_STR_BYTES(flex), sizeof *r->protocols, &r->protocol_count);
    for (int32_t i = 0; i < r->protocol_count; i++) {
        struct gcodec_join_protocol *p = &r->protocols[i];
        get_str_bytes(s, flex, &p->name, &p->metadata, &p->metadata_len);
    }
    kw_skip_tags(s, flex);
    if (kslice_ok(s))
        return true;
    gcodec_join_req_free(r);
    return false;
}

void gcodec_join_req_free(struct gcodec_join_req *r)
{
    free(r->protocols);
    memset(r, 0, sizeof *r);
}

void gcodec_join_resp_encode(struct kbuf *b, int v, int32_t throttle_ms,
                             const struct group_join_result *res)
{
    bool flex = api_is_flexible(API_JOIN_GROUP, v);
    if (v >= 2)
        kbuf_put_i32(b, throttle_ms);
    kbuf_put_i16(b, (int16_t)kerr_to_wire(res->err));
    kbuf_put_i32(b, res->generation);
    if (v >= 7)
        gcodec_put_str(b, flex, true, res->protocol_type);
    gcodec_put_str(b, flex, v >= 7, res->protocol_name);
    gcodec_put_str(b, flex, false, res->leader_id);
    gcodec_put_str(b, flex, false, res->member_id);
    int32_t n = res->members ? res->member_count : 0;
    kw_put_array_len(b, flex, n);
    for (int32_t i = 0; i < n; i++) {
        const struct group_join_member *m = &res->members[i];
        gcodec_put_str(b, flex, false, m->member_id);
        if (v >= 5)
            gcodec_put_str(b, flex, true, m->instance_id);
        put_bytes(b, flex, m->metadata, m->metadata_len);
        kw_put_tags(b, flex);
    }
    kw_put_tags(b, flex);
}

/* --- SyncGroup --- */

bool gcodec_sync_req_decode(struct kslice *s, int v, struct gcodec_sync_req *r)
{
    bool flex = api_is_flexible(API_SYNC_GROUP, v);
    memset(r, 0, sizeof *r);
    r->group_id = gcodec_get_str(s, flex);
    r->generation = kslice_i32(s);
    r->member_id = gcodec_get_str(s, flex);
    if (v >= 3)
        r->instance_id = kw_get_str(s, flex);
    if (v >= 5) {
        r->protocol_type = kw_get_str(s, flex);
        r->protocol_name = kw_get_str(s, flex);
    }
    r->assignments = gcodec_get_array(s, flex, MIN_STR_BYTES(flex), sizeof *r->assignments,
                                      &r->assignment_count);
    for (int32_t i = 0; i < r->assignment_count; i++) {
        struct gcodec_sync_assignment *a = &r->assignments[i];
        get_str_bytes(s, flex, &a->member_id, &a->data, &a->len);
    }
    kw_skip_tags(s, flex);
    if (kslice_ok(s))
        return true;
    gcodec_sync_req_free(r);
    return false;
}

void gcodec_sync_req_free(struct gcodec_sync_req *r)
{
    free(r->assignments);
    memset(r, 0, sizeof *r);
}

void gcodec_sync_resp_encode(struct kbuf *b, int v, int32_t throttle_ms,
                             const struct group_sync_result *res)
{
    bool flex = api_is_flexible(API_SYNC_GROUP, v);
    if (v >= 1)
        kbuf_put_i32(b, throttle_ms);
    kbuf_put_i16(b, (int16_t)kerr_to_wire(res->err));
    if (v >= 5) {
        gcodec_put_str(b, flex, true, res->protocol_type);
        gcodec_put_str(b, flex, true, res->protocol_name);
    }
    put_bytes(b, flex, res->assignment, res->assignment_len);
    kw_put_tags(b, flex);
}

/* --- Heartbeat --- */

bool gcodec_heartbeat_req_decode(struct kslice *s, int v, struct gcodec_heartbeat_req *r)
{
    bool flex = api_is_flexible(API_HEARTBEAT, v);
    memset(r, 0, sizeof *r);
    r->group_id = gcodec_get_str(s, flex);
    r->generation = kslice_i32(s);
    r->member_id = gcodec_get_str(s, flex);
    if (v >= 3)
        r->instance_id = kw_get_str(s, flex);
    kw_skip_tags(s, flex);
    return kslice_ok(s);
}

void gcodec_heartbeat_resp_encode(struct kbuf *b, int v, int32_t throttle_ms, kerr_t err)
{
    bool flex = api_is_flexible(API_HEARTBEAT, v);
    if (v >= 1)
        kbuf_put_i32(b, throttle_ms);
    kbuf_put_i16(b, (int16_t)kerr_to_wire(err));
    kw_put_tags(b, flex);
}

/* --- LeaveGroup --- */

bool gcodec_leave_req_decode(struct kslice *s, int v, struct gcodec_leave_req *r)
{
    bool flex = api_is_flexible(API_LEAVE_GROUP, v);
    memset(r, 0, sizeof *r);
    r->group_id = gcodec_get_str(s, flex);
    if (v <= 2) {
        struct kstr member_id = gcodec_get_str(s, flex);
        if (!kslice_ok(s) || !(r->members = gcodec_calloc(1, sizeof *r->members)))
            goto fail;
        r->members[0].member_id = member_id;
        r->member_count = 1;
        return true; /* v0-2 are never flexible: no tags */
    }
    r->members = gcodec_get_array(s, flex, 2 * MIN_STR(flex) + MIN_TAGS(flex), sizeof *r->members,
                                  &r->member_count);
    for (int32_t i = 0; i < r->member_count; i++) {
        r->members[i].member_id = gcodec_get_str(s, flex);
        r->members[i].instance_id = kw_get_str(s, flex);
        kw_skip_tags(s, flex);
    }
    kw_skip_tags(s, flex);
    if (kslice_ok(s))
        return true;
fail:
    gcodec_leave_req_free(r);
    return false;
}

void gcodec_leave_req_free(struct gcodec_leave_req *r)
{
    free(r->members);
    memset(r, 0, sizeof *r);
}

void gcodec_leave_resp_encode(struct kbuf *b, int v, int32_t throttle_ms, kerr_t err,
                              const struct group_leave_member *members, int32_t count)
{
    bool flex = api_is_flexible(API_LEAVE_GROUP, v);
    if (v >= 1)
        kbuf_put_i32(b, throttle_ms);
    kbuf_put_i16(b, (int16_t)kerr_to_wire(err));
    if (v >= 3) {
        int32_t n = members ? count : 0;
        kw_put_array_len(b, flex, n);
        for (int32_t i = 0; i < n; i++) {
            gcodec_put_str(b, flex, false, members[i].member_id);
            gcodec_put_str(b, flex, true, members[i].instance_id);
            kbuf_put_i16(b, (int16_t)kerr_to_wire(members[i].err));
            kw_put_tags(b, flex);
        }
    }
    kw_put_tags(b, flex);
}
