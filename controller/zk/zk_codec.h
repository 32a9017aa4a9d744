/*
 * controller/zk/zk_codec.h — encode/decode the znode payloads of
 * proto/zk.proto to and from zk_store.h's plain structs. Private to
 * controller/ (used by zk_store.c and its tests); no ZooKeeper here.
 *
 * Encoders return a new buffer (*out, free() it; never NULL on success,
 * even for an empty message) and its length. Decoders borrow the bytes,
 * copy everything into the struct, and free the protobuf-c message before
 * returning: KERR__CORRUPT if the bytes do not decode or do not fit our
 * fixed limits (string sizes, ZK_MAX_ENDPOINTS, ZK_MAX_ISR, partitions not
 * exactly 0..n-1 with one replication factor).
 */
#ifndef GREGOR_CONTROLLER_ZK_ZK_CODEC_H
#define GREGOR_CONTROLLER_ZK_ZK_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "controller/zk/zk_store.h"

kerr_t zk_codec_cluster_id_encode(const char *id, uint8_t **out, size_t *len);
kerr_t zk_codec_cluster_id_decode(const uint8_t *d, size_t len, char *id, size_t n);

kerr_t zk_codec_broker_encode(const struct zk_broker_reg *r, uint8_t **out, size_t *len);
/* r->epoch is left untouched (it is not in the payload). */
kerr_t zk_codec_broker_decode(const uint8_t *d, size_t len, struct zk_broker_reg *r);

kerr_t zk_codec_assignment_encode(const struct zk_topic *t, uint8_t **out, size_t *len);
/* Fills t->n_partitions, t->replication_factor and a new t->replicas. */
kerr_t zk_codec_assignment_decode(const uint8_t *d, size_t len, struct zk_topic *t);

kerr_t zk_codec_config_encode(const struct zk_topic *t, uint8_t **out, size_t *len);
/* Fills t->n_configs and new t->config_keys / t->config_values, sorted by key. */
kerr_t zk_codec_config_decode(const uint8_t *d, size_t len, struct zk_topic *t);

kerr_t zk_codec_state_encode(const struct zk_partition_state *st, uint8_t **out, size_t *len);
/* st->version is left untouched. */
kerr_t zk_codec_state_decode(const uint8_t *d, size_t len, struct zk_partition_state *st);

kerr_t zk_codec_controller_encode(int32_t broker_id, int64_t timestamp_ms, uint8_t **out,
                                  size_t *len);
kerr_t zk_codec_controller_decode(const uint8_t *d, size_t len, int32_t *broker_id);

kerr_t zk_codec_epoch_encode(int32_t epoch, uint8_t **out, size_t *len);
kerr_t zk_codec_epoch_decode(const uint8_t *d, size_t len, int32_t *epoch);

/* The entity fields of c (seq is the znode name's, not the payload's). */
kerr_t zk_codec_config_change_encode(const struct zk_config_change *c, uint8_t **out, size_t *len);
kerr_t zk_codec_config_change_decode(const uint8_t *d, size_t len, struct zk_config_change *c);

#endif
