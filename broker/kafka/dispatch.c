/*
 * broker/kafka/dispatch.c — request header decoding and the API table.
 *
 * Request header (docs/protocol.md §1.3): api_key INT16,
 * api_version INT16, correlation_id INT32, client_id NULLABLE_STRING (INT16
 * length even in header v2), then TAGGED_FIELDS when the version is
 * flexible. A request is flexible when api_version >= the API's threshold.
 *
 * Unknown keys, versions outside the advertised range and unparsable
 * headers close the connection — except ApiVersions, which answers an
 * unsupported version with the v0 error body (§2.2) so clients can
 * downgrade.
 */
#include "broker/kafka/dispatch.h"
#include "common/say.h"

#include <stddef.h>

/* Sorted by key; docs/protocol.md §3.1 documents this table. */
static const struct api_desc apis[] = {
    {API_PRODUCE, "Produce", 0, 7, 9, handle_produce}, /* 0-2: see produce.c */
    {API_FETCH, "Fetch", 4, 11, 12, handle_fetch},
    {API_LIST_OFFSETS, "ListOffsets", 0, 5, 6, handle_list_offsets},
    {API_METADATA, "Metadata", 0, 8, 9, handle_metadata},
    {API_FIND_COORDINATOR, "FindCoordinator", 0, 2, 3, handle_find_coordinator},
    {API_API_VERSIONS, "ApiVersions", 0, 3, 3, handle_api_versions},
    {API_CREATE_TOPICS, "CreateTopics", 0, 4, 5, handle_create_topics},
    {API_DELETE_TOPICS, "DeleteTopics", 0, 3, 4, handle_delete_topics},
    {API_DELETE_RECORDS, "DeleteRecords", 0, 1, 2, handle_delete_records},
    {API_OFFSET_FOR_LEADER_EPOCH, "OffsetForLeaderEpoch", 0, 4, 4,
     handle_offset_for_leader_epoch},
    {API_DESCRIBE_CONFIGS, "DescribeConfigs", 0, 2, 4, handle_describe_configs},
    {API_ALTER_CONFIGS, "AlterConfigs", 0, 1, 2, handle_alter_configs},
    {API_CREATE_PARTITIONS, "CreatePartitions", 0, 3, 2, handle_create_partitions},
    {API_ELECT_LEADERS, "ElectLeaders", 0, 2, 2, handle_elect_leaders},
    {API_INCREMENTAL_ALTER_CONFIGS, "IncrementalAlterConfigs", 0, 0, 1,
     handle_incremental_alter_configs},
};

const struct api_desc *dispatch_apis(int *n)
{
    *n = (int)ARRAY_LEN(apis);
    return apis;
}

static const struct api_desc *api_find(int16_t key)
{
    for (size_t i = 0; i < ARRAY_LEN(apis); i++)
        if (apis[i].key == key)
            return &apis[i];
    return NULL;
}

kerr_t dispatch_request(struct req *req)
{
    struct kslice s;
    kslice_init(&s, req->frame, req->frame_len);
    req->api_key = kslice_i16(&s);
    req->api_version = kslice_i16(&s);
    req->correlation_id = kslice_i32(&s);
    req->client_id = kw_get_str(&s, false);
    if (!kslice_ok(&s))
        return KERR__CLOSE;
    if (req->api_key >= API_CONTROL_FIRST && req->api_key <= API_CONTROL_LAST) {
        /* private control-plane keys: protobuf body, never advertised */
        if (req->api_version != 0)
            return KERR__CLOSE;
        kslice_init(&req->body, s.p + s.pos, s.len - s.pos);
        return handle_control(req);
    }
    const struct api_desc *api = api_find(req->api_key);
    if (!api) {
        say_warn_every(1000, "kafka", "unknown api key=%d client=%.*s", req->api_key,
                       req->client_id.ptr ? (int)req->client_id.len : 0,
                       req->client_id.ptr ? req->client_id.ptr : "");
        return KERR__CLOSE;
    }
    req->flex = api->flex_version >= 0 && req->api_version >= api->flex_version;
    req->resp_header_v1 = req->flex && api->key != API_API_VERSIONS;
    kw_skip_tags(&s, req->flex);
    if (req->api_version < api->min_version || req->api_version > api->max_version) {
        if (api->key == API_API_VERSIONS) {
            req->resp_header_v1 = false;
            api_versions_write_unsupported(req);
            return KERR_NONE;
        }
        say_warn_every(1000, "kafka", "unsupported version api=%s version=%d", api->name,
                       req->api_version);
        return KERR__CLOSE;
    }
    if (!kslice_ok(&s))
        return KERR__CLOSE;
    kslice_init(&req->body, s.p + s.pos, s.len - s.pos);
    kerr_t rc = api->handler(req);
    if (rc != KERR_NONE && rc != KERR__PENDING && rc != KERR__CLOSE) {
        say_warn_every(1000, "kafka", "request failed api=%s version=%d err=%s", api->name,
                       req->api_version, kerr_name(rc));
        return KERR__CLOSE;
    }
    return rc;
}
