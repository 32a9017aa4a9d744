/*
 * common/api_keys.h — the one list of request API keys Gregor speaks:
 * the Kafka keys the broker serves or the broker, CLI and fetcher send
 * (docs/protocol.md, API version table), and Gregor's private control-plane
 * keys 10000-10004 (controller/rpc.h describes their framing and bodies).
 *
 * The control keys keep the RPC_ prefix of the control-plane code that
 * names them; they are never advertised by ApiVersions and are accepted
 * only from brokers on the inter-broker listener.
 *
 * Threads: constants only.
 */
#ifndef GREGOR_COMMON_API_KEYS_H
#define GREGOR_COMMON_API_KEYS_H

#include <stdbool.h>

enum api_key {
    API_PRODUCE = 0,
    API_FETCH = 1,
    API_LIST_OFFSETS = 2,
    API_METADATA = 3,
    API_OFFSET_COMMIT = 8,
    API_OFFSET_FETCH = 9,
    API_FIND_COORDINATOR = 10,
    API_JOIN_GROUP = 11,
    API_HEARTBEAT = 12,
    API_LEAVE_GROUP = 13,
    API_SYNC_GROUP = 14,
    API_DESCRIBE_GROUPS = 15,
    API_LIST_GROUPS = 16,
    API_SASL_HANDSHAKE = 17,
    API_API_VERSIONS = 18,
    API_CREATE_TOPICS = 19,
    API_DELETE_TOPICS = 20,
    API_DELETE_RECORDS = 21,
    API_INIT_PRODUCER_ID = 22,
    API_OFFSET_FOR_LEADER_EPOCH = 23,
    API_ADD_PARTITIONS_TO_TXN = 24,
    API_ADD_OFFSETS_TO_TXN = 25,
    API_END_TXN = 26,
    API_WRITE_TXN_MARKERS = 27,
    API_TXN_OFFSET_COMMIT = 28,
    API_DESCRIBE_ACLS = 29,
    API_CREATE_ACLS = 30,
    API_DELETE_ACLS = 31,
    API_DESCRIBE_CONFIGS = 32,
    API_ALTER_CONFIGS = 33,
    API_DESCRIBE_LOG_DIRS = 35,
    API_SASL_AUTHENTICATE = 36,
    API_CREATE_PARTITIONS = 37,
    API_DELETE_GROUPS = 42,
    API_ELECT_LEADERS = 43,
    API_INCREMENTAL_ALTER_CONFIGS = 44,
    API_ALTER_PARTITION_REASSIGNMENTS = 45,
    API_LIST_PARTITION_REASSIGNMENTS = 46,
    API_OFFSET_DELETE = 47,
    API_DESCRIBE_CLIENT_QUOTAS = 48,
    API_ALTER_CLIENT_QUOTAS = 49,
    API_DESCRIBE_USER_SCRAM_CREDENTIALS = 50,
    API_ALTER_USER_SCRAM_CREDENTIALS = 51,
    API_DESCRIBE_CLUSTER = 60,
    API_DESCRIBE_PRODUCERS = 61,
    API_DESCRIBE_TRANSACTIONS = 65,
    API_LIST_TRANSACTIONS = 66,

    /* Gregor's private control plane (docs/architecture.md §4). */
    RPC_LEADER_AND_ISR = 10000,      /* controller -> broker */
    RPC_UPDATE_METADATA = 10001,     /* controller -> every broker */
    RPC_STOP_REPLICA = 10002,        /* controller -> broker */
    RPC_ALTER_ISR = 10003,           /* partition leader -> controller */
    RPC_CONTROLLED_SHUTDOWN = 10004, /* broker -> controller */
};

#define API_CONTROL_FIRST RPC_LEADER_AND_ISR
#define API_CONTROL_LAST RPC_CONTROLLED_SHUTDOWN

/* True for the five private control-plane keys. */
static inline bool api_key_is_control(int api_key)
{
    return api_key >= API_CONTROL_FIRST && api_key <= API_CONTROL_LAST;
}

/* Returns "Produce", ..., "LeaderAndIsr", ... for the keys above, else
 * "Unknown"; never NULL. */
const char *api_key_name(int api_key);

/* The first flexible version (KIP-482: compact strings and arrays, tagged
 * fields, request header v2) of a key above; -1 for the control keys and
 * unknown keys, which are never flexible. A protocol fact, independent of
 * the versions the broker advertises. */
int api_flex_version(int api_key);
/* True when (api_key, api_version) uses the flexible encoding. */
static inline bool api_is_flexible(int api_key, int api_version)
{
    int v = api_flex_version(api_key);
    return v >= 0 && api_version >= v;
}

#endif
