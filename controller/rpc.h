/*
 * controller/rpc.h — the control-plane RPCs of docs/architecture.md §4: their private
 * API keys, their framing, and codecs between proto/control.proto and the
 * plain structs below. Used by the controller (controller/channel.c sends
 * the frames) and by the broker's handlers for the private keys.
 *
 * Framing (docs/protocol.md §3.2): an ordinary Kafka request with
 * header v1 (common/kheader.h) whose body is one packed protobuf message,
 * api_version 0, answered with response header v0:
 *   request : [int32 size][int16 api_key][int16 api_version = 0]
 *             [int32 correlation_id][int16 len + client_id][protobuf bytes]
 *   response: [int32 size][int32 correlation_id][protobuf bytes]
 * `size` counts the bytes after itself. The protobuf message is the whole
 * rest of the frame; there are no tagged fields.
 *
 * Message structs and ownership:
 *   - Encoders *borrow* the struct: the caller fills it with pointers to its
 *     own strings and arrays (leave `mem` NULL) and keeps ownership.
 *     A NULL string is encoded as "". Counts must be >= 0 and an array
 *     may be NULL only when its count is 0, else KERR__INVALID.
 *   - Decoders *borrow* the bytes and fill the struct with *new* memory:
 *     every string and array lives in one allocation chain hanging off
 *     `mem`, freed by the matching rpc_*_destroy(). Strings are
 *     NUL-terminated copies ("" when absent). The protobuf-c message is
 *     freed before the decoder returns (docs/architecture.md §11), so nothing generated
 *     by protoc-c leaves rpc.c.
 *   - rpc_*_destroy() frees what a decoder allocated and zeroes the
 *     struct; it is a no-op on a zeroed struct and must not be called on a
 *     struct filled by hand (its pointers are the caller's).
 *
 * Errors: decoders return KERR__CORRUPT for bytes that are not a valid
 * message (or an error code outside int16), KERR__NOMEM when out of
 * memory; encoders KERR__INVALID or KERR__NOMEM. On error the output
 * struct is zeroed and nothing is left allocated.
 *
 * Threads: no state; any thread.
 */
#ifndef GREGOR_CONTROLLER_RPC_H
#define GREGOR_CONTROLLER_RPC_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "common/api_keys.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/kheader.h"
#include "common/kwire.h"

/* The private API keys RPC_LEADER_AND_ISR .. RPC_CONTROLLED_SHUTDOWN
 * (10000-10004) are listed with the Kafka keys in common/api_keys.h. */
#define RPC_API_VERSION 0          /* the only version of every key */
#define RPC_MAX_FRAME (100u << 20) /* bytes after the size prefix */

/* True for the five private keys. */
bool rpc_is_api_key(int api_key);
/* Returns "LeaderAndIsr", ... or "Unknown"; never NULL. */
const char *rpc_api_name(int api_key);

/* --- framing ----------------------------------------------------------- */

/* Appends a whole request frame (size prefix, header v1 with api_version
 * RPC_API_VERSION, body) to out. Borrows client_id (NULL: null string) and
 * body. KERR__INVALID if the frame would exceed RPC_MAX_FRAME, KERR__NOMEM
 * if out ran out of memory. */
kerr_t rpc_request_frame(struct kbuf *out, int16_t api_key, int32_t correlation_id,
                         const char *client_id, const void *body, size_t len);
/* Appends a whole response frame (size prefix, correlation id, body). */
kerr_t rpc_response_frame(struct kbuf *out, int32_t correlation_id, const void *body, size_t len);
/* Parses a request frame without its size prefix (what conn.c hands to
 * dispatch). *body, *body_len (and hdr->client_id) are returned borrowed:
 * views into frame. KERR__CORRUPT if the header is truncated. */
kerr_t rpc_request_parse(const uint8_t *frame, size_t len, struct khdr_req *hdr,
                         const uint8_t **body, size_t *body_len);
/* Parses a response frame without its size prefix; *body is borrowed. */
kerr_t rpc_response_parse(const uint8_t *frame, size_t len, int32_t *correlation_id,
                          const uint8_t **body, size_t *body_len);

/* --- message parts ------------------------------------------------------ */

struct rpc_mem; /* decoder-owned allocation chain; opaque */

/* PartitionLeaderState: the controller's decision for one partition. */
struct rpc_partition_state {
    const char *topic;
    int32_t partition;
    int32_t leader; /* -1: no leader */
    int32_t leader_epoch;
    int n_isr;
    const int32_t *isr;
    int n_replicas;
    const int32_t *replicas; /* assignment order */
    int32_t partition_epoch; /* ZooKeeper version of the state znode */
    bool is_new;
};

/* LiveLeader: how to reach a leader named in a LeaderAndIsr request. */
struct rpc_live_leader {
    int32_t id;
    const char *host;
    int32_t port;
};

struct rpc_partition_error {
    const char *topic;
    int32_t partition;
    int16_t error_code;
};

struct rpc_topic_partition {
    const char *topic;
    int32_t partition;
    int32_t leader_epoch;
};

struct rpc_endpoint {
    const char *listener;
    const char *host;
    int32_t port;
    const char *security_protocol;
};

struct rpc_live_broker {
    int32_t id;
    const char *rack; /* "" for none */
    int n_endpoints;
    const struct rpc_endpoint *endpoints;
};

/* AlterIsrRequest entry: one ISR change proposed by a leader. */
struct rpc_isr_proposal {
    const char *topic;
    int32_t partition;
    int32_t leader_epoch;
    int n_new_isr;
    const int32_t *new_isr;
    int32_t partition_epoch;
};

/* AlterIsrResponse entry: the partition's state after the change. */
struct rpc_isr_result {
    const char *topic;
    int32_t partition;
    int16_t error_code;
    int32_t leader;
    int32_t leader_epoch;
    int n_isr;
    const int32_t *isr;
    int32_t partition_epoch;
};

/* --- messages ----------------------------------------------------------- */

struct rpc_leader_and_isr_req {
    int32_t controller_id;
    int32_t controller_epoch;
    int64_t broker_epoch;
    int n_partitions;
    const struct rpc_partition_state *partitions;
    int n_live_leaders;
    const struct rpc_live_leader *live_leaders;
    struct rpc_mem *mem; /* decoder-owned memory; NULL when built by hand */
};

struct rpc_leader_and_isr_resp {
    int16_t error_code;
    int n_partition_errors;
    const struct rpc_partition_error *partition_errors;
    struct rpc_mem *mem;
};

struct rpc_update_metadata_req {
    int32_t controller_id;
    int32_t controller_epoch;
    int64_t broker_epoch;
    int n_partitions;
    const struct rpc_partition_state *partitions;
    int n_brokers;
    const struct rpc_live_broker *brokers;
    struct rpc_mem *mem;
};

struct rpc_update_metadata_resp {
    int16_t error_code;
    struct rpc_mem *mem;
};

struct rpc_stop_replica_req {
    int32_t controller_id;
    int32_t controller_epoch;
    int64_t broker_epoch;
    bool delete_partitions;
    int n_partitions;
    const struct rpc_topic_partition *partitions;
    struct rpc_mem *mem;
};

struct rpc_stop_replica_resp {
    int16_t error_code;
    int n_partition_errors;
    const struct rpc_partition_error *partition_errors;
    struct rpc_mem *mem;
};

struct rpc_alter_isr_req {
    int32_t broker_id;
    int64_t broker_epoch;
    int n_partitions;
    const struct rpc_isr_proposal *partitions;
    struct rpc_mem *mem;
};

struct rpc_alter_isr_resp {
    int16_t error_code;
    int n_partitions;
    const struct rpc_isr_result *partitions;
    struct rpc_mem *mem;
};

struct rpc_controlled_shutdown_req {
    int32_t broker_id;
    int64_t broker_epoch;
    struct rpc_mem *mem;
};

struct rpc_controlled_shutdown_resp {
    int16_t error_code;
    int n_remaining;
    const struct rpc_topic_partition *remaining;
    struct rpc_mem *mem;
};

/* Each message has the same three functions:
 *   _encode  appends the packed protobuf message to out (borrows m);
 *   _decode  fills *m from len bytes at p (borrows p; m gets new memory);
 *   _destroy frees what _decode allocated and zeroes *m.
 * All three come from one table-driven codec in rpc.c: a new message is its
 * struct above (members named like the protobuf fields, arrays as n_<name>
 * + <name>, and a `struct rpc_mem *mem`), its field table and one
 * RPC_MESSAGE_FUNCS() line in rpc.c, and these three prototypes. */
kerr_t rpc_leader_and_isr_req_encode(const struct rpc_leader_and_isr_req *m, struct kbuf *out);
kerr_t rpc_leader_and_isr_req_decode(const uint8_t *p, size_t len,
                                     struct rpc_leader_and_isr_req *m);
void rpc_leader_and_isr_req_destroy(struct rpc_leader_and_isr_req *m);

kerr_t rpc_leader_and_isr_resp_encode(const struct rpc_leader_and_isr_resp *m, struct kbuf *out);
kerr_t rpc_leader_and_isr_resp_decode(const uint8_t *p, size_t len,
                                      struct rpc_leader_and_isr_resp *m);
void rpc_leader_and_isr_resp_destroy(struct rpc_leader_and_isr_resp *m);

kerr_t rpc_update_metadata_req_encode(const struct rpc_update_metadata_req *m, struct kbuf *out);
kerr_t rpc_update_metadata_req_decode(const uint8_t *p, size_t len,
                                      struct rpc_update_metadata_req *m);
void rpc_update_metadata_req_destroy(struct rpc_update_metadata_req *m);

kerr_t rpc_update_metadata_resp_encode(const struct rpc_update_metadata_resp *m, struct kbuf *out);
kerr_t rpc_update_metadata_resp_decode(const uint8_t *p, size_t len,
                                       struct rpc_update_metadata_resp *m);
void rpc_update_metadata_resp_destroy(struct rpc_update_metadata_resp *m);

kerr_t rpc_stop_replica_req_encode(const struct rpc_stop_replica_req *m, struct kbuf *out);
kerr_t rpc_stop_replica_req_decode(const uint8_t *p, size_t len, struct rpc_stop_replica_req *m);
void rpc_stop_replica_req_destroy(struct rpc_stop_replica_req *m);

kerr_t rpc_stop_replica_resp_encode(const struct rpc_stop_replica_resp *m, struct kbuf *out);
kerr_t rpc_stop_replica_resp_decode(const uint8_t *p, size_t len, struct rpc_stop_replica_resp *m);
void rpc_stop_replica_resp_destroy(struct rpc_stop_replica_resp *m);

kerr_t rpc_alter_isr_req_encode(const struct rpc_alter_isr_req *m, struct kbuf *out);
kerr_t rpc_alter_isr_req_decode(const uint8_t *p, size_t len, struct rpc_alter_isr_req *m);
void rpc_alter_isr_req_destroy(struct rpc_alter_isr_req *m);

kerr_t rpc_alter_isr_resp_encode(const struct rpc_alter_isr_resp *m, struct kbuf *out);
kerr_t rpc_alter_isr_resp_decode(const uint8_t *p, size_t len, struct rpc_alter_isr_resp *m);
void rpc_alter_isr_resp_destroy(struct rpc_alter_isr_resp *m);

kerr_t rpc_controlled_shutdown_req_encode(const struct rpc_controlled_shutdown_req *m,
                                          struct kbuf *out);
kerr_t rpc_controlled_shutdown_req_decode(const uint8_t *p, size_t len,
                                          struct rpc_controlled_shutdown_req *m);
void rpc_controlled_shutdown_req_destroy(struct rpc_controlled_shutdown_req *m);

kerr_t rpc_controlled_shutdown_resp_encode(const struct rpc_controlled_shutdown_resp *m,
                                           struct kbuf *out);
kerr_t rpc_controlled_shutdown_resp_decode(const uint8_t *p, size_t len,
                                           struct rpc_controlled_shutdown_resp *m);
void rpc_controlled_shutdown_resp_destroy(struct rpc_controlled_shutdown_resp *m);

#endif
