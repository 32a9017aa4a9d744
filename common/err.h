/*
 * common/err.h — the one error type, kerr_t.
 *
 * Values >= 0 are Kafka protocol error codes and go on the wire unchanged.
 * Values < 0 are internal (from KERR__BEGIN = -200 up) and are mapped to a
 * Kafka code before a response is encoded (kerr_to_wire()).
 */
#ifndef GREGOR_COMMON_ERR_H
#define GREGOR_COMMON_ERR_H

typedef enum kerr {
    /* internal codes */
    KERR__BEGIN = -200,
    KERR__AGAIN = -199,   /* need more bytes / not ready yet: not an error */
    KERR__CORRUPT = -198, /* bad bytes from disk or network */
    KERR__IO = -197,      /* a syscall failed; errno logged where it happened */
    KERR__NOMEM = -196,
    KERR__NOENT = -195, /* no such thing (file, topic, key) */
    KERR__EXISTS = -194,
    KERR__INVALID = -193, /* invalid argument or configuration */
    KERR__PENDING = -192, /* the operation completes later (request parked) */
    KERR__CLOSE = -191,   /* the connection must be closed */
    KERR__ZK = -190,      /* ZooKeeper failure */
    KERR__NOSPC = -189,   /* disk full */
    KERR__TIMEOUT = -188,
    KERR__END = -100,

    /* Kafka protocol codes (subset; see docs/protocol.md §5) */
    KERR_UNKNOWN_SERVER_ERROR = -1,
    KERR_NONE = 0,
    KERR_OFFSET_OUT_OF_RANGE = 1,
    KERR_CORRUPT_MESSAGE = 2,
    KERR_UNKNOWN_TOPIC_OR_PARTITION = 3,
    KERR_INVALID_FETCH_SIZE = 4,
    KERR_LEADER_NOT_AVAILABLE = 5,
    KERR_NOT_LEADER_OR_FOLLOWER = 6,
    KERR_REQUEST_TIMED_OUT = 7,
    KERR_BROKER_NOT_AVAILABLE = 8,
    KERR_REPLICA_NOT_AVAILABLE = 9,
    KERR_MESSAGE_TOO_LARGE = 10,
    KERR_STALE_CONTROLLER_EPOCH = 11,
    KERR_OFFSET_METADATA_TOO_LARGE = 12,
    KERR_NETWORK_EXCEPTION = 13,
    KERR_COORDINATOR_LOAD_IN_PROGRESS = 14,
    KERR_COORDINATOR_NOT_AVAILABLE = 15,
    KERR_NOT_COORDINATOR = 16,
    KERR_INVALID_TOPIC_EXCEPTION = 17,
    KERR_RECORD_LIST_TOO_LARGE = 18,
    KERR_NOT_ENOUGH_REPLICAS = 19,
    KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20,
    KERR_INVALID_REQUIRED_ACKS = 21,
    KERR_ILLEGAL_GENERATION = 22,
    KERR_INCONSISTENT_GROUP_PROTOCOL = 23,
    KERR_INVALID_GROUP_ID = 24,
    KERR_UNKNOWN_MEMBER_ID = 25,
    KERR_INVALID_SESSION_TIMEOUT = 26,
    KERR_REBALANCE_IN_PROGRESS = 27,
    KERR_INVALID_COMMIT_OFFSET_SIZE = 28,
    KERR_TOPIC_AUTHORIZATION_FAILED = 29,
    KERR_INVALID_TIMESTAMP = 32,
    KERR_UNSUPPORTED_VERSION = 35,
    KERR_TOPIC_ALREADY_EXISTS = 36,
    KERR_INVALID_PARTITIONS = 37,
    KERR_INVALID_REPLICATION_FACTOR = 38,
    KERR_INVALID_REPLICA_ASSIGNMENT = 39,
    KERR_INVALID_CONFIG = 40,
    KERR_NOT_CONTROLLER = 41,
    KERR_INVALID_REQUEST = 42,
    KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT = 43,
    KERR_POLICY_VIOLATION = 44,
    KERR_OUT_OF_ORDER_SEQUENCE_NUMBER = 45,
    KERR_DUPLICATE_SEQUENCE_NUMBER = 46,
    KERR_INVALID_PRODUCER_EPOCH = 47,
    KERR_INVALID_TXN_STATE = 48,
    KERR_INVALID_PRODUCER_ID_MAPPING = 49,
    KERR_INVALID_TRANSACTION_TIMEOUT = 50,
    KERR_CONCURRENT_TRANSACTIONS = 51,
    KERR_SECURITY_DISABLED = 54,
    KERR_KAFKA_STORAGE_ERROR = 56,
    KERR_REASSIGNMENT_IN_PROGRESS = 60,
    KERR_NON_EMPTY_GROUP = 68,
    KERR_GROUP_ID_NOT_FOUND = 69,
    KERR_TOPIC_DELETION_DISABLED = 73,
    KERR_FENCED_LEADER_EPOCH = 74,
    KERR_UNKNOWN_LEADER_EPOCH = 75,
    KERR_UNSUPPORTED_COMPRESSION_TYPE = 76,
    KERR_STALE_BROKER_EPOCH = 77,
    KERR_MEMBER_ID_REQUIRED = 79,
    KERR_PREFERRED_LEADER_NOT_AVAILABLE = 80,
    KERR_GROUP_MAX_SIZE_REACHED = 81,
    KERR_FENCED_INSTANCE_ID = 82,
    KERR_ELIGIBLE_LEADERS_NOT_AVAILABLE = 83,
    KERR_ELECTION_NOT_NEEDED = 84,
    KERR_NO_REASSIGNMENT_IN_PROGRESS = 85,
    KERR_GROUP_SUBSCRIBED_TO_TOPIC = 86,
    KERR_INVALID_RECORD = 87,
    KERR_UNSTABLE_OFFSET_COMMIT = 88,
    KERR_PRODUCER_FENCED = 90,
    KERR_INVALID_UPDATE_VERSION = 95,
    KERR_INELIGIBLE_REPLICA = 107,
} kerr_t;

/* Returns the Kafka name of err ("UNKNOWN_TOPIC_OR_PARTITION") or an
 * internal name ("_CORRUPT"); never NULL. */
const char *kerr_name(kerr_t err);

/* Maps an internal error to the Kafka code a client should see. Kafka codes
 * pass through unchanged. */
kerr_t kerr_to_wire(kerr_t err);

#endif
