/*
 * broker/core/quota_load.h — client quotas from ZooKeeper into b->quotas
 * (quota_load.c says when each runs).
 */
#ifndef GREGOR_BROKER_CORE_QUOTA_LOAD_H
#define GREGOR_BROKER_CORE_QUOTA_LOAD_H

struct broker;

/* Re-reads every /config/users and /config/clients entity. */
void quota_load_all(struct broker *b);
/* Re-reads one entity ("users/alice", "users/alice/clients/app",
 * "clients/app"; notifications name them without the type's "/"). */
void quota_load_entity(struct broker *b, const char *entity_path);

/* A config change notification of entity type "users" or "clients". */
void quota_config_changed(struct broker *b, const char *type, const char *name);

#endif
