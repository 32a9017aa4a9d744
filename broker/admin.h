/*
 * broker/admin.h — topic administration for the single-broker stage:
 * validation, replica assignment, the ZooKeeper writes, and applying the
 * result to the local topic registry. Runs on the admin worker (or on the
 * main thread during start-up), never on a network loop: every call here
 * may block on ZooKeeper.
 *
 * In the cluster stage the controller (controller/) takes over assignment
 * and leadership; these functions then become its requests.
 */
#ifndef GREGOR_BROKER_ADMIN_H
#define GREGOR_BROKER_ADMIN_H

#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct broker;

/* One topic to create, as decoded from CreateTopics (or auto-creation). */
struct topic_spec {
    char name[250];
    int32_t n_parts;          /* -1 = num.partitions */
    int16_t rf;               /* -1 = default.replication.factor */
    int32_t *assignment;      /* NULL, or n_parts * rf explicit replica ids; borrowed */
    int n_assigned_parts;
    int assigned_rf;
    char **config_kv;         /* key, value pairs; borrowed */
    int n_config;
};

/* Validates a topic name: [a-zA-Z0-9._-], 1..249 chars, not "." or "..". */
bool admin_topic_name_valid(const char *name, size_t len);

/* Creates a topic (or only validates it). Returns a Kafka error code with
 * a message in msg for errors. Admin worker or start-up. */
kerr_t admin_create_topic(struct broker *b, const struct topic_spec *spec, bool validate_only,
                          char *msg, size_t msglen);
/* Replaces a topic's config overrides (key, value pairs; borrowed) in
 * ZooKeeper (/config/topics/<topic>) and on the live topic, or only
 * validates them. Admin worker. */
kerr_t admin_alter_topic_config(struct broker *b, const char *name, char *const *kv, int n_kv,
                                bool validate_only, char *msg, size_t msglen);
/* Deletes a topic everywhere. Admin worker. */
kerr_t admin_delete_topic(struct broker *b, const char *name);
/* Posts an auto-creation of `name` with broker defaults (Metadata). Any thread. */
void admin_auto_create_async(struct broker *b, const char *name, size_t len);
/* Loads every topic from ZooKeeper into the registry, opening local logs.
 * Start-up only (main thread). Returns 0 or -1 (logged). */
int admin_load_topics(struct broker *b);
/* Re-reads /brokers/ids into b->live. Admin worker or start-up. */
void admin_refresh_brokers(struct broker *b);
/* Starts the periodic broker-list refresh on the admin worker. */
void admin_start(struct broker *b);
/* Stops it (posts to the admin worker; call before worker_free()). */
void admin_stop(struct broker *b);

#endif
