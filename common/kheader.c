/*
 * common/kheader.c — Kafka request/response headers and frame sizes
 * (common/kheader.h), and the names and first flexible versions of the API
 * keys (common/api_keys.h).
 */
#include "common/kheader.h"
#include "common/api_keys.h"

int khdr_req_version(int api_key, int api_version)
{
    return api_is_flexible(api_key, api_version) ? 2 : 1;
}

int khdr_resp_version(int api_key, int api_version)
{
    return api_is_flexible(api_key, api_version) && api_key != API_API_VERSIONS ? 1 : 0;
}

bool khdr_put_req(struct kbuf *b, int version, const struct khdr_req *h)
{
    if (version < 0 || version > 2)
        return false;
    if (version >= 1 && h->client_id.ptr && (h->client_id.len < 0 || h->client_id.len > INT16_MAX))
        return false;
    kbuf_put_i16(b, h->api_key);
    kbuf_put_i16(b, h->api_version);
    kbuf_put_i32(b, h->correlation_id);
    if (version >= 1)
        kw_put_kstr(b, false, h->client_id); /* INT16 length even in v2 */
    kw_put_tags(b, version >= 2);
    return true;
}

bool khdr_get_req(struct kslice *s, int version, struct khdr_req *h)
{
    h->api_key = kslice_i16(s);
    h->api_version = kslice_i16(s);
    h->correlation_id = kslice_i32(s);
    h->client_id = (struct kstr){NULL, 0};
    if (version >= 1)
        h->client_id = kw_get_str(s, false);
    return khdr_get_req_tags(s, version);
}

bool khdr_get_req_tags(struct kslice *s, int version)
{
    kw_skip_tags(s, version >= 2);
    return kslice_ok(s);
}

void khdr_put_resp(struct kbuf *b, int version, int32_t correlation_id)
{
    kbuf_put_i32(b, correlation_id);
    kw_put_tags(b, version >= 1);
}

bool khdr_get_resp(struct kslice *s, int version, int32_t *correlation_id)
{
    *correlation_id = kslice_i32(s);
    kw_skip_tags(s, version >= 1);
    return kslice_ok(s);
}

size_t khdr_frame_begin(struct kbuf *b) { return kbuf_skip(b, KHDR_SIZE_PREFIX); }

kerr_t khdr_frame_size(const uint8_t *p, size_t avail, size_t min, size_t max, size_t *frame_len)
{
    if (avail < KHDR_SIZE_PREFIX)
        return KERR__AGAIN;
    int32_t size = (int32_t)be32_load(p);
    if (size < 0 || (size_t)size < min || (size_t)size > max)
        return KERR__CORRUPT;
    *frame_len = (size_t)size;
    return avail - KHDR_SIZE_PREFIX < (size_t)size ? KERR__AGAIN : KERR_NONE;
}

kerr_t khdr_frame_end(struct kbuf *b, size_t at, size_t max)
{
    if (b->oom)
        return KERR__NOMEM;
    size_t size = b->len - at - KHDR_SIZE_PREFIX;
    if (size > max || size > INT32_MAX)
        return KERR__INVALID;
    kbuf_patch_i32(b, at, (int32_t)size);
    return KERR_NONE;
}

size_t khdr_resp_prefix(uint8_t out[KHDR_RESP_PREFIX_MAX], int version, int32_t correlation_id,
                        int64_t body_len)
{
    size_t hlen = version >= 1 ? 5 : 4;
    be32_store(out, (uint32_t)((int64_t)hlen + body_len));
    be32_store(out + 4, (uint32_t)correlation_id);
    if (version >= 1)
        out[8] = 0; /* empty tagged-field section */
    return KHDR_SIZE_PREFIX + hlen;
}

const char *api_key_name(int api_key)
{
    switch (api_key) {
    case API_PRODUCE:
        return "Produce";
    case API_FETCH:
        return "Fetch";
    case API_LIST_OFFSETS:
        return "ListOffsets";
    case API_METADATA:
        return "Metadata";
    case API_FIND_COORDINATOR:
        return "FindCoordinator";
    case API_API_VERSIONS:
        return "ApiVersions";
    case API_CREATE_TOPICS:
        return "CreateTopics";
    case API_DELETE_TOPICS:
        return "DeleteTopics";
    case API_DELETE_RECORDS:
        return "DeleteRecords";
    case API_INIT_PRODUCER_ID:
        return "InitProducerId";
    case API_OFFSET_FOR_LEADER_EPOCH:
        return "OffsetForLeaderEpoch";
    case API_ADD_PARTITIONS_TO_TXN:
        return "AddPartitionsToTxn";
    case API_ADD_OFFSETS_TO_TXN:
        return "AddOffsetsToTxn";
    case API_END_TXN:
        return "EndTxn";
    case API_WRITE_TXN_MARKERS:
        return "WriteTxnMarkers";
    case API_TXN_OFFSET_COMMIT:
        return "TxnOffsetCommit";
    case API_DESCRIBE_ACLS:
        return "DescribeAcls";
    case API_CREATE_ACLS:
        return "CreateAcls";
    case API_DELETE_ACLS:
        return "DeleteAcls";
    case API_DESCRIBE_CONFIGS:
        return "DescribeConfigs";
    case API_ALTER_CONFIGS:
        return "AlterConfigs";
    case API_DESCRIBE_LOG_DIRS:
        return "DescribeLogDirs";
    case API_CREATE_PARTITIONS:
        return "CreatePartitions";
    case API_ELECT_LEADERS:
        return "ElectLeaders";
    case API_INCREMENTAL_ALTER_CONFIGS:
        return "IncrementalAlterConfigs";
    case API_ALTER_PARTITION_REASSIGNMENTS:
        return "AlterPartitionReassignments";
    case API_LIST_PARTITION_REASSIGNMENTS:
        return "ListPartitionReassignments";
    case API_OFFSET_COMMIT:
        return "OffsetCommit";
    case API_OFFSET_FETCH:
        return "OffsetFetch";
    case API_JOIN_GROUP:
        return "JoinGroup";
    case API_HEARTBEAT:
        return "Heartbeat";
    case API_LEAVE_GROUP:
        return "LeaveGroup";
    case API_SYNC_GROUP:
        return "SyncGroup";
    case API_DESCRIBE_GROUPS:
        return "DescribeGroups";
    case API_LIST_GROUPS:
        return "ListGroups";
    case API_DELETE_GROUPS:
        return "DeleteGroups";
    case API_OFFSET_DELETE:
        return "OffsetDelete";
    case API_SASL_HANDSHAKE:
        return "SaslHandshake";
    case API_SASL_AUTHENTICATE:
        return "SaslAuthenticate";
    case API_DESCRIBE_USER_SCRAM_CREDENTIALS:
        return "DescribeUserScramCredentials";
    case API_ALTER_USER_SCRAM_CREDENTIALS:
        return "AlterUserScramCredentials";
    case API_DESCRIBE_CLUSTER:
        return "DescribeCluster";
    case API_DESCRIBE_PRODUCERS:
        return "DescribeProducers";
    case API_DESCRIBE_TRANSACTIONS:
        return "DescribeTransactions";
    case API_LIST_TRANSACTIONS:
        return "ListTransactions";
    case API_DESCRIBE_CLIENT_QUOTAS:
        return "DescribeClientQuotas";
    case API_ALTER_CLIENT_QUOTAS:
        return "AlterClientQuotas";
    case RPC_LEADER_AND_ISR:
        return "LeaderAndIsr";
    case RPC_UPDATE_METADATA:
        return "UpdateMetadata";
    case RPC_STOP_REPLICA:
        return "StopReplica";
    case RPC_ALTER_ISR:
        return "AlterIsr";
    case RPC_CONTROLLED_SHUTDOWN:
        return "ControlledShutdown";
    default:
        return "Unknown";
    }
}

int api_flex_version(int api_key)
{
    switch (api_key) {
    case API_PRODUCE:
        return 9;
    case API_FETCH:
        return 12;
    case API_LIST_OFFSETS:
        return 6;
    case API_METADATA:
        return 9;
    case API_FIND_COORDINATOR:
        return 3;
    case API_API_VERSIONS:
        return 3;
    case API_CREATE_TOPICS:
        return 5;
    case API_DELETE_TOPICS:
        return 4;
    case API_DELETE_RECORDS:
        return 2;
    case API_INIT_PRODUCER_ID:
        return 2;
    case API_OFFSET_FOR_LEADER_EPOCH:
        return 4;
    case API_ADD_PARTITIONS_TO_TXN:
    case API_ADD_OFFSETS_TO_TXN:
    case API_END_TXN:
        return 3;
    case API_WRITE_TXN_MARKERS:
        return 1;
    case API_TXN_OFFSET_COMMIT:
        return 3;
    case API_DESCRIBE_ACLS:
    case API_CREATE_ACLS:
    case API_DELETE_ACLS:
        return 2;
    case API_DESCRIBE_CONFIGS:
        return 4;
    case API_ALTER_CONFIGS:
        return 2;
    case API_DESCRIBE_LOG_DIRS:
        return 2;
    case API_SASL_AUTHENTICATE:
        return 2;
    case API_DESCRIBE_USER_SCRAM_CREDENTIALS:
    case API_ALTER_USER_SCRAM_CREDENTIALS:
    case API_DESCRIBE_CLUSTER:
    case API_DESCRIBE_PRODUCERS:
    case API_DESCRIBE_TRANSACTIONS:
    case API_LIST_TRANSACTIONS:
        return 0;
    case API_CREATE_PARTITIONS:
        return 2;
    case API_ELECT_LEADERS:
        return 2;
    case API_INCREMENTAL_ALTER_CONFIGS:
        return 1;
    case API_DESCRIBE_CLIENT_QUOTAS:
    case API_ALTER_CLIENT_QUOTAS:
        return 1;
    case API_ALTER_PARTITION_REASSIGNMENTS:
    case API_LIST_PARTITION_REASSIGNMENTS:
        return 0;
    case API_OFFSET_COMMIT:
        return 8;
    case API_OFFSET_FETCH:
        return 6;
    case API_JOIN_GROUP:
        return 6;
    case API_HEARTBEAT:
        return 4;
    case API_LEAVE_GROUP:
        return 4;
    case API_SYNC_GROUP:
        return 4;
    case API_DESCRIBE_GROUPS:
        return 5;
    case API_LIST_GROUPS:
        return 3;
    case API_DELETE_GROUPS:
        return 2;
    default:
        return -1;
    }
}
