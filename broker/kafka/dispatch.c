/*
 * broker/kafka/dispatch.c — request header decoding and the API table.
 *
 * The request header (common/kheader.h) is read as version 1 (api_key,
 * api_version, correlation_id, client_id); api_is_flexible() then says
 * whether the request is flexible, and a flexible request's header (v2) goes on
 * with tagged fields. The response header version follows
 * khdr_resp_version().
 *
 * Unknown keys, versions outside the advertised range and unparsable
 * headers close the connection — except ApiVersions, which answers an
 * unsupported version with the v0 error body (§2.2) so clients can
 * downgrade.
 *
 * On a SASL listener (req->sasl set), a connection not yet authenticated
 * may send only ApiVersions, SaslHandshake and SaslAuthenticate, and one
 * whose session lifetime (connections.max.reauth.ms) ran out without
 * re-authenticating only those too: anything else closes it unserved. After
 * a v0 handshake the frames are bare SASL tokens (kafka/sasl.c).
 */
#include "broker/kafka/dispatch.h"
#include "broker/security/sasl_server.h"
#include "common/clock.h"
#include "common/kheader.h"
#include "common/say.h"

#include <stddef.h>

/* Sorted by key; docs/protocol.md §3.1 documents this table. The last two
 * numbers: the first version whose response body has throttle_time_ms, and
 * its position there (struct api_desc; checked against the group codecs by
 * tests/unit/broker/test_resp_throttle.c). */
static const struct api_desc apis[] = {
    {API_PRODUCE, 0, 7, handle_produce, -1, 0}, /* 0-2: see produce.c; it sets throttle_at */
    {API_FETCH, 4, 11, handle_fetch, 1, 0},
    {API_LIST_OFFSETS, 0, 5, handle_list_offsets, 2, 0},
    {API_METADATA, 0, 8, handle_metadata, 3, 0},
    {API_OFFSET_COMMIT, 0, 8, handle_offset_commit, 3, 0},
    {API_OFFSET_FETCH, 0, 8, handle_offset_fetch, 3, 0},
    {API_FIND_COORDINATOR, 0, 4, handle_find_coordinator, 1, 0},
    {API_JOIN_GROUP, 0, 7, handle_join_group, 2, 0},
    {API_HEARTBEAT, 0, 4, handle_heartbeat, 1, 0},
    {API_LEAVE_GROUP, 0, 4, handle_leave_group, 1, 0},
    {API_SYNC_GROUP, 0, 5, handle_sync_group, 1, 0},
    {API_DESCRIBE_GROUPS, 0, 5, handle_describe_groups, 1, 0},
    {API_LIST_GROUPS, 0, 4, handle_list_groups, 1, 0},
    {API_SASL_HANDSHAKE, 0, 1, handle_sasl_handshake, -1, 0},
    {API_API_VERSIONS, 0, 3, handle_api_versions, -1, 0}, /* after api_keys; exempt */
    {API_CREATE_TOPICS, 0, 4, handle_create_topics, 2, 0},
    {API_DELETE_TOPICS, 0, 3, handle_delete_topics, 1, 0},
    {API_DELETE_RECORDS, 0, 1, handle_delete_records, 0, 0},
    {API_INIT_PRODUCER_ID, 0, 4, handle_init_producer_id, 0, 0},
    {API_OFFSET_FOR_LEADER_EPOCH, 0, 4, handle_offset_for_leader_epoch, 2, 0},
    {API_ADD_PARTITIONS_TO_TXN, 0, 3, handle_add_partitions_to_txn, 0, 0},
    {API_ADD_OFFSETS_TO_TXN, 0, 3, handle_add_offsets_to_txn, 0, 0},
    {API_END_TXN, 0, 3, handle_end_txn, 0, 0},
    {API_WRITE_TXN_MARKERS, 0, 1, handle_write_txn_markers, -1, 0},
    {API_TXN_OFFSET_COMMIT, 0, 3, handle_txn_offset_commit, 0, 0},
    {API_DESCRIBE_ACLS, 0, 3, handle_describe_acls, 0, 0},
    {API_CREATE_ACLS, 0, 3, handle_create_acls, 0, 0},
    {API_DELETE_ACLS, 0, 3, handle_delete_acls, 0, 0},
    {API_DESCRIBE_CONFIGS, 0, 2, handle_describe_configs, 0, 0},
    {API_ALTER_CONFIGS, 0, 1, handle_alter_configs, 0, 0},
    {API_DESCRIBE_LOG_DIRS, 0, 4, handle_describe_log_dirs, 0, 0},
    {API_SASL_AUTHENTICATE, 0, 2, handle_sasl_authenticate, -1, 0},
    {API_CREATE_PARTITIONS, 0, 3, handle_create_partitions, 0, 0},
    {API_DELETE_GROUPS, 0, 2, handle_delete_groups, 0, 0},
    {API_ELECT_LEADERS, 0, 2, handle_elect_leaders, 0, 0},
    {API_INCREMENTAL_ALTER_CONFIGS, 0, 0, handle_incremental_alter_configs, 0, 0},
    {API_ALTER_PARTITION_REASSIGNMENTS, 0, 0, handle_alter_partition_reassignments, 0, 0},
    {API_LIST_PARTITION_REASSIGNMENTS, 0, 0, handle_list_partition_reassignments, 0, 0},
    {API_OFFSET_DELETE, 0, 0, handle_offset_delete, 0, 2}, /* after error_code */
    {API_DESCRIBE_CLIENT_QUOTAS, 0, 1, handle_describe_client_quotas, 0, 0},
    {API_ALTER_CLIENT_QUOTAS, 0, 1, handle_alter_client_quotas, 0, 0},
    {API_DESCRIBE_USER_SCRAM_CREDENTIALS, 0, 0, handle_describe_user_scram_credentials, 0, 0},
    {API_ALTER_USER_SCRAM_CREDENTIALS, 0, 0, handle_alter_user_scram_credentials, 0, 0},
    {API_DESCRIBE_CLUSTER, 0, 0, handle_describe_cluster, 0, 0},
    {API_DESCRIBE_PRODUCERS, 0, 0, handle_describe_producers, 0, 0},
    {API_DESCRIBE_TRANSACTIONS, 0, 0, handle_describe_transactions, 0, 0},
    {API_LIST_TRANSACTIONS, 0, 0, handle_list_transactions, 0, 0},
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

int dispatch_throttle_at(int16_t key, int16_t version)
{
    const struct api_desc *api = api_find(key);
    if (!api || api->throttle_from < 0 || version < api->throttle_from)
        return -1;
    return api->throttle_at;
}

kerr_t dispatch_request(struct req *req)
{
    struct kslice s;
    struct khdr_req h;
    if (req->sasl && req->sasl->state == SASL_RAW)
        return sasl_raw_token(req);
    kslice_init(&s, req->frame, req->frame_len);
    bool ok = khdr_get_req(&s, 1, &h);
    req->api_key = h.api_key;
    req->api_version = h.api_version;
    req->correlation_id = h.correlation_id;
    req->client_id = h.client_id;
    if (!ok) {
        req->api_key = -1; /* no header: counted under no API key (config/metrics.h) */
        return KERR__CLOSE;
    }
    if (req->sasl && !sasl_session_allows(req->sasl, req->api_key, clock_mono_ms())) {
        say_info("sasl", "closing connection peer=%s listener=%s: %s before authentication",
                 req->client_host, req->listener, api_key_name(req->api_key));
        return KERR__CLOSE;
    }
    if (api_key_is_control(req->api_key)) {
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
    req->flex = api_is_flexible(api->key, req->api_version);
    req->resp_header_version = (int8_t)khdr_resp_version(api->key, req->api_version);
    khdr_get_req_tags(&s, khdr_req_version(api->key, req->api_version));
    if (req->api_version < api->min_version || req->api_version > api->max_version) {
        if (api->key == API_API_VERSIONS) {
            api_versions_write_unsupported(req);
            return KERR_NONE;
        }
        say_warn_every(1000, "kafka", "unsupported version api=%s version=%d",
                       api_key_name(api->key), req->api_version);
        return KERR__CLOSE;
    }
    if (!kslice_ok(&s))
        return KERR__CLOSE;
    kslice_init(&req->body, s.p + s.pos, s.len - s.pos);
    req->throttle_at = dispatch_throttle_at(api->key, req->api_version);
    kerr_t rc = api->handler(req);
    if (rc != KERR_NONE && rc != KERR__PENDING && rc != KERR__CLOSE) {
        say_warn_every(1000, "kafka", "request failed api=%s version=%d err=%s",
                       api_key_name(api->key), req->api_version, kerr_name(rc));
        return KERR__CLOSE;
    }
    return rc;
}
