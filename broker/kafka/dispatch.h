/*
 * broker/kafka/dispatch.h — the API table: ApiKey -> advertised version
 * range and handler. The keys and their first flexible versions are
 * common/api_keys.h; the control keys are handled by kafka/control.c on the
 * inter-broker listener only.
 */
#ifndef GREGOR_BROKER_KAFKA_DISPATCH_H
#define GREGOR_BROKER_KAFKA_DISPATCH_H

#include "broker/kafka/request.h"
#include "common/api_keys.h"

typedef kerr_t (*api_handler_fn)(struct req *req);

struct api_desc {
    int16_t key;         /* enum api_key; its name is api_key_name(key) */
    int16_t min_version; /* advertised minimum */
    int16_t max_version; /* advertised maximum */
    api_handler_fn handler;
    /* throttle_time_ms in the response body: the first version that has it
     * at body position throttle_at; -1 when no version has it there (none,
     * or the handler sets req->throttle_at itself: Produce) */
    int8_t throttle_from;
    int8_t throttle_at;
};

/* Decodes the request header of req->frame, finds the handler and runs it.
 * Returns the handler's result (KERR_NONE, KERR__PENDING) or KERR__CLOSE for
 * a request the broker cannot parse or does not support. Network loop. */
kerr_t dispatch_request(struct req *req);

/* The advertised APIs, sorted by key (for ApiVersions). */
const struct api_desc *dispatch_apis(int *n);

/* Where the response body of (key, version) holds throttle_time_ms, from
 * the API table: a position in req->out, or -1 when it has none at a fixed
 * place (v0 of several APIs, ApiVersions and the SASL APIs, which are never
 * throttled, WriteTxnMarkers, unknown keys; Produce puts it after its
 * partitions and sets req->throttle_at itself). */
int dispatch_throttle_at(int16_t key, int16_t version);

/* Per-API handlers (one file per API family). */
kerr_t handle_api_versions(struct req *req);
kerr_t handle_metadata(struct req *req);
kerr_t handle_produce(struct req *req);
kerr_t handle_fetch(struct req *req);
kerr_t handle_list_offsets(struct req *req);
kerr_t handle_create_topics(struct req *req);
kerr_t handle_delete_topics(struct req *req);
kerr_t handle_find_coordinator(struct req *req);
/* consumer groups: group_member.c, group_offsets.c, group_admin.c */
kerr_t handle_join_group(struct req *req);
kerr_t handle_sync_group(struct req *req);
kerr_t handle_heartbeat(struct req *req);
kerr_t handle_leave_group(struct req *req);
kerr_t handle_offset_commit(struct req *req);
kerr_t handle_offset_fetch(struct req *req);
kerr_t handle_offset_delete(struct req *req);
kerr_t handle_describe_groups(struct req *req);
kerr_t handle_list_groups(struct req *req);
kerr_t handle_delete_groups(struct req *req);
kerr_t handle_delete_records(struct req *req);
kerr_t handle_offset_for_leader_epoch(struct req *req);
kerr_t handle_describe_configs(struct req *req);
kerr_t handle_alter_configs(struct req *req);
kerr_t handle_create_partitions(struct req *req);
kerr_t handle_incremental_alter_configs(struct req *req);
kerr_t handle_elect_leaders(struct req *req);
kerr_t handle_describe_log_dirs(struct req *req);
kerr_t handle_describe_cluster(struct req *req);
kerr_t handle_describe_acls(struct req *req); /* acls.c */
kerr_t handle_create_acls(struct req *req);
kerr_t handle_delete_acls(struct req *req);
kerr_t handle_describe_producers(struct req *req);
kerr_t handle_write_txn_markers(struct req *req);
kerr_t handle_txn_offset_commit(struct req *req);
kerr_t handle_init_producer_id(struct req *req);
/* txn_introspect.c: the transaction coordinator's tables, read */
kerr_t handle_describe_transactions(struct req *req);
kerr_t handle_list_transactions(struct req *req);
kerr_t handle_describe_client_quotas(struct req *req); /* client_quotas.c */
kerr_t handle_alter_client_quotas(struct req *req);
kerr_t handle_add_partitions_to_txn(struct req *req);
kerr_t handle_add_offsets_to_txn(struct req *req);
kerr_t handle_end_txn(struct req *req);
/* reassign.c */
kerr_t handle_alter_partition_reassignments(struct req *req);
kerr_t handle_list_partition_reassignments(struct req *req);
/* sasl.c: SASL authentication; sasl_raw_token() takes a bare token frame
 * after a v0 handshake */
kerr_t handle_sasl_handshake(struct req *req);
kerr_t handle_sasl_authenticate(struct req *req);
kerr_t sasl_raw_token(struct req *req);
/* scram_admin.c: SCRAM credentials (KIP-554) */
kerr_t handle_describe_user_scram_credentials(struct req *req);
kerr_t handle_alter_user_scram_credentials(struct req *req);
/* LeaderAndIsr, UpdateMetadata, StopReplica, AlterIsr, ControlledShutdown. */
kerr_t handle_control(struct req *req);

/* Writes the ApiVersions v0 error answer (UNSUPPORTED_VERSION + our own
 * ApiVersions range) into req->out. */
void api_versions_write_unsupported(struct req *req);

#endif
