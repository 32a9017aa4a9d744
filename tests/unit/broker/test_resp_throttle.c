/*
 * tests/unit/broker/test_resp_throttle.c — where a response holds
 * throttle_time_ms (dispatch_throttle_at(), broker/kafka/dispatch.c) and
 * how the request-time throttle is written there (req_throttle_raise(),
 * broker/kafka/request.c), without processes.
 *
 * The group codecs (broker/kafka/group_codec_*.c) encode their responses
 * with a marker throttle time at every advertised version; the API table
 * must name exactly the versions that carry the field and its position.
 */
#include "broker/kafka/dispatch.h"
#include "broker/kafka/group_codec.h"
#include "broker/group/group.h"

#include <criterion/criterion.h>
#include <string.h>

#define MARK 0x7A5B3C2D

/* Encodes the response of key at version v with throttle MARK into b. */
static void encode_group_resp(int16_t key, int v, struct kbuf *b)
{
    static const uint8_t assignment[1] = {0};
    struct gcodec_coordinator coord = {"g", 1, "h", 9, KERR_NONE, NULL};
    struct group_join_result join = {KERR_NONE, "m", 1, "consumer", "range", "m", NULL, 0};
    struct group_sync_result sync = {KERR_NONE, "consumer", "range", assignment, 1};
    struct gcodec_commit_req commit;
    memset(&commit, 0, sizeof(commit));
    struct gcodec_fetch_group fetch = {"g", NULL, 0, KERR_NONE};
    struct gcodec_delete_req del = {NULL, 0};
    switch (key) {
    case API_OFFSET_COMMIT:
        gcodec_commit_resp_encode(b, v, MARK, &commit);
        break;
    case API_OFFSET_FETCH:
        gcodec_fetch_resp_encode(b, v, MARK, &fetch, 1);
        break;
    case API_FIND_COORDINATOR:
        gcodec_find_coord_resp_encode(b, v, MARK, &coord, 1);
        break;
    case API_JOIN_GROUP:
        gcodec_join_resp_encode(b, v, MARK, &join);
        break;
    case API_HEARTBEAT:
        gcodec_heartbeat_resp_encode(b, v, MARK, KERR_NONE);
        break;
    case API_LEAVE_GROUP:
        gcodec_leave_resp_encode(b, v, MARK, KERR_NONE, NULL, 0);
        break;
    case API_SYNC_GROUP:
        gcodec_sync_resp_encode(b, v, MARK, &sync);
        break;
    case API_DESCRIBE_GROUPS:
        gcodec_describe_resp_encode(b, v, MARK, NULL, 0);
        break;
    case API_LIST_GROUPS:
        gcodec_list_resp_encode(b, v, MARK, KERR_NONE, NULL, 0);
        break;
    case API_DELETE_GROUPS:
        gcodec_delete_resp_encode(b, v, MARK, &del);
        break;
    case API_OFFSET_DELETE:
        gcodec_odel_resp_encode(b, v, MARK, KERR_NONE, NULL);
        break;
    default:
        cr_assert_fail("no codec for key %d", key);
    }
}

static const struct api_desc *find_api(int16_t key)
{
    int n;
    const struct api_desc *apis = dispatch_apis(&n);
    for (int i = 0; i < n; i++)
        if (apis[i].key == key)
            return &apis[i];
    return NULL;
}

/* Every advertised version of the group APIs: the table's position holds the
 * marker when it names one; when it names none, the body does not begin with
 * the marker (the codec writes no throttle time there). */
Test(resp_throttle, table_matches_the_group_codecs_every_version)
{
    static const int16_t keys[] = {API_OFFSET_COMMIT, API_OFFSET_FETCH,    API_FIND_COORDINATOR,
                                   API_JOIN_GROUP,    API_HEARTBEAT,       API_LEAVE_GROUP,
                                   API_SYNC_GROUP,    API_DESCRIBE_GROUPS, API_LIST_GROUPS,
                                   API_DELETE_GROUPS, API_OFFSET_DELETE};
    int with = 0, without = 0;
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        const struct api_desc *api = find_api(keys[k]);
        cr_assert_not_null(api, "key %d not advertised", keys[k]);
        for (int v = api->min_version; v <= api->max_version; v++) {
            struct kbuf b;
            kbuf_init(&b);
            encode_group_resp(keys[k], v, &b);
            cr_assert(!b.oom && b.len >= 2); /* Heartbeat v0: error_code alone */
            int at = dispatch_throttle_at(keys[k], (int16_t)v);
            if (at >= 0) {
                cr_assert_leq((size_t)at + 4, b.len, "key %d v%d", keys[k], v);
                cr_assert_eq((int32_t)be32_load(b.data + at), MARK, "key %d v%d at %d", keys[k], v,
                             at);
                with++;
            } else {
                cr_assert(b.len < 4 || (int32_t)be32_load(b.data) != MARK, "key %d v%d has one",
                          keys[k], v);
                without++;
            }
            kbuf_destroy(&b);
        }
    }
    cr_assert_gt(with, 30);
    cr_assert_gt(without, 5); /* the v0s (and OffsetCommit/OffsetFetch v1-2, JoinGroup v1) */
}

Test(resp_throttle, positions_of_the_other_apis)
{
    cr_assert_eq(dispatch_throttle_at(API_METADATA, 2), -1);
    cr_assert_eq(dispatch_throttle_at(API_METADATA, 3), 0);
    cr_assert_eq(dispatch_throttle_at(API_LIST_OFFSETS, 1), -1);
    cr_assert_eq(dispatch_throttle_at(API_LIST_OFFSETS, 2), 0);
    cr_assert_eq(dispatch_throttle_at(API_FETCH, 4), 0);
    cr_assert_eq(dispatch_throttle_at(API_CREATE_ACLS, 0), 0);
    cr_assert_eq(dispatch_throttle_at(API_OFFSET_DELETE, 0), 2);
    /* Produce's handler sets it (after the partitions); exempt and fieldless APIs */
    cr_assert_eq(dispatch_throttle_at(API_PRODUCE, 7), -1);
    cr_assert_eq(dispatch_throttle_at(API_API_VERSIONS, 3), -1);
    cr_assert_eq(dispatch_throttle_at(API_SASL_AUTHENTICATE, 2), -1);
    cr_assert_eq(dispatch_throttle_at(API_WRITE_TXN_MARKERS, 1), -1);
    cr_assert_eq(dispatch_throttle_at(9999, 0), -1);
}

static void req_with_body(struct req *req, int32_t throttle, int32_t at)
{
    memset(req, 0, sizeof(*req));
    kbuf_init(&req->out);
    kbuf_put_i16(&req->out, 7);
    kbuf_put_i32(&req->out, throttle);
    kbuf_put_i16(&req->out, 9);
    req->throttle_at = at;
}

Test(resp_throttle, raise_keeps_the_larger_throttle)
{
    struct req req;
    req_with_body(&req, 0, 2);
    cr_assert(req_throttle_raise(&req, 1500));
    cr_assert_eq((int32_t)be32_load(req.out.data + 2), 1500);
    cr_assert_eq(be16_load(req.out.data), 7); /* neighbours untouched */
    cr_assert_eq(be16_load(req.out.data + 6), 9);
    cr_assert_eq(req.out.len, 8);
    kbuf_destroy(&req.out);

    req_with_body(&req, 2500, 2); /* a byte-rate throttle already larger */
    cr_assert(req_throttle_raise(&req, 1500));
    cr_assert_eq((int32_t)be32_load(req.out.data + 2), 2500);
    kbuf_destroy(&req.out);
}

Test(resp_throttle, raise_without_a_field_changes_nothing)
{
    struct req req;
    req_with_body(&req, 0, -1);
    cr_assert_not(req_throttle_raise(&req, 1500));
    cr_assert_eq((int32_t)be32_load(req.out.data + 2), 0);
    kbuf_destroy(&req.out);

    req_with_body(&req, 0, 5); /* would run past the body's end */
    cr_assert_not(req_throttle_raise(&req, 1500));
    cr_assert_eq((int32_t)be32_load(req.out.data + 2), 0);
    cr_assert_eq(be16_load(req.out.data + 6), 9);
    kbuf_destroy(&req.out);

    memset(&req, 0, sizeof(req)); /* an empty response */
    kbuf_init(&req.out);
    req.throttle_at = 0;
    cr_assert_not(req_throttle_raise(&req, 1500));
}
