/*
 * broker/core/admin.h — topic administration on any broker: validation,
 * replica assignment and the ZooKeeper writes of CreateTopics,
 * DeleteTopics (a deletion request the controller carries out),
 * CreatePartitions and AlterConfigs; loading topics into the local
 * registry (and growing them). Leadership is the controller's
 * (LeaderAndIsr). Runs on the admin worker (or on the main
 * thread during start-up), never on a network loop: every call here may
 * block on ZooKeeper.
 */
#ifndef GREGOR_BROKER_CORE_ADMIN_H
#define GREGOR_BROKER_CORE_ADMIN_H

#include "common/err.h"
#include "common/names.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct broker;
struct topic;
struct zk_topic;

/* One topic to create, as decoded from CreateTopics (or auto-creation). */
struct topic_spec {
    char name[TOPIC_NAME_MAX_LEN + 1];
    int32_t n_parts;     /* -1 = num.partitions */
    int16_t rf;          /* -1 = default.replication.factor */
    int32_t *assignment; /* NULL, or n_parts * rf explicit replica ids; borrowed */
    int n_assigned_parts;
    int assigned_rf;
    char **config_kv; /* key, value pairs; borrowed */
    int n_config;
};

/* One topic of a CreatePartitions request, as decoded. */
struct partitions_spec {
    char name[TOPIC_NAME_MAX_LEN + 1];
    int32_t count;       /* the new total number of partitions */
    int32_t *assignment; /* NULL, or n_assigned rows of assigned_rf ids for the
                                 new partitions (in order); borrowed */
    int n_assigned;
    int assigned_rf; /* ids per row; -1 when the rows differ in length */
};

/* Whether topic `name` exists in ZooKeeper: KERR_NONE, or
 * UNKNOWN_TOPIC_OR_PARTITION, or REQUEST_TIMED_OUT when ZooKeeper cannot be
 * reached (retriable), with a message in msg. Admin worker. */
kerr_t admin_topic_check(struct broker *b, const char *name, char *msg, size_t msglen);

/* zt's overrides as "key", "value" pairs pointing into zt (free() the
 * array only; valid while zt is), NULL on OOM. */
char **admin_topic_kv(const struct zk_topic *zt);

/* Creates a topic (or only validates it). Bounds are checked before
 * anything is allocated: 1..gregor.max.partitions partitions
 * (INVALID_PARTITIONS), a replication factor of 1..live brokers
 * (INVALID_REPLICATION_FACTOR). A ZooKeeper outage answers
 * REQUEST_TIMED_OUT (retriable). Returns a Kafka error code with a message
 * in msg for errors. Admin worker or start-up. */
kerr_t admin_create_topic(struct broker *b, const struct topic_spec *spec, bool validate_only,
                          char *msg, size_t msglen);
/* Adds partitions to an existing topic (CreatePartitions), or only
 * validates: the topic must exist in ZooKeeper (UNKNOWN_TOPIC_OR_PARTITION),
 * count must exceed its partition count and be at most
 * gregor.max.partitions (INVALID_PARTITIONS); an explicit
 * assignment must have count - current rows of the topic's replication
 * factor, naming live brokers, without duplicates in a row
 * (INVALID_REPLICA_ASSIGNMENT). Without one, the new partitions continue
 * the topic's round-robin placement over the live brokers. Writes the
 * grown assignment conditionally on the version read (re-reading on a
 * conflict); the controller then elects the new partitions' leaders.
 * A ZooKeeper outage answers REQUEST_TIMED_OUT. Returns a Kafka error code, with a message in msg for errors. Admin
 * worker. */
kerr_t admin_create_partitions(struct broker *b, const struct partitions_spec *sp,
                               bool validate_only, char *msg, size_t msglen);
/* Replaces a topic's config overrides (key, value pairs; borrowed) in
 * ZooKeeper (/config/topics/<topic>) and on the live topic, or only
 * validates them. Admin worker. */
kerr_t admin_alter_topic_config(struct broker *b, const char *name, char *const *kv, int n_kv,
                                bool validate_only, char *msg, size_t msglen);
/* Deletes a topic everywhere (UNKNOWN_TOPIC_OR_PARTITION if there is none;
 * REQUEST_TIMED_OUT during a ZooKeeper outage). Admin worker. */
kerr_t admin_delete_topic(struct broker *b, const char *name);
/* Posts an auto-creation of `name` with broker defaults (Metadata). Any thread. */
void admin_auto_create_async(struct broker *b, const char *name, size_t len);
/* Posts the creation of `__consumer_offsets` (offsets.topic.num.partitions,
 * offsets.topic.replication.factor, compacted, offsets.topic.segment.bytes)
 * to the admin worker, once at a time. While fewer brokers are alive than
 * the replication factor it fails (logged) and is tried again on the next
 * call, as Kafka does. Any thread. */
void admin_create_offsets_topic_async(struct broker *b);
/* The same for `__transaction_state` (transaction.state.log.num.partitions,
 * transaction.state.log.replication.factor, compacted, min.insync.replicas =
 * transaction.state.log.min.isr, transaction.state.log.segment.bytes,
 * uncompressed, no unclean leader election), as Kafka's transaction coordinator
 * creates it. Any thread. */
void admin_create_txn_topic_async(struct broker *b);
/* Loads every topic from ZooKeeper into the registry, opening local logs,
 * with num.recovery.threads.per.data.dir threads (the calling one
 * included) shared between topics and their partitions. Start-up only
 * (main thread). Returns 0 or -1 (logged). */
int admin_load_topics(struct broker *b);
/* Re-reads /brokers/ids into b->live (start-up and session renewal; the
 * controller's UpdateMetadata keeps it current afterwards). */
void admin_refresh_brokers(struct broker *b);
/* Returns a reference to the local topic `name`, loading its assignment and
 * configs from ZooKeeper (and opening the local replicas' logs) when it is
 * not known yet; NULL if ZooKeeper has no such topic. Admin worker. */
struct topic *admin_ensure_topic(struct broker *b, const char *name);
/* admin_ensure_topic(), and when the local topic has fewer than n_parts
 * partitions, re-reads its assignment from ZooKeeper and grows it
 * (topic_grow(), opening the new local replicas' logs). Returns a new
 * reference (possibly still smaller, if ZooKeeper has fewer) or NULL.
 * Admin worker (LeaderAndIsr, UpdateMetadata). */
struct topic *admin_ensure_partitions(struct broker *b, const char *name, int32_t n_parts);
/* Drops a topic's local replicas (StopReplica with delete): removed from
 * the registry, log directories deleted when the last reference goes. */
void admin_drop_local_topic(struct broker *b, const char *name);

#endif
