/*
 * broker/core/scram_users.h — SCRAM credentials between ZooKeeper
 * (/config/users/<user>, controller/zk/zk_store.h) and the broker's
 * in-memory table (broker/security/scram_store.h) that SASL logins read.
 *
 * At start-up every user is loaded; a "users" change notification
 * (config_watch.c) re-reads that user, so a credential made or removed
 * through any broker reaches every broker within the watch's delay (well
 * under a second). AlterUserScramCredentials writes through
 * scram_users_alter(), which updates ZooKeeper (conditional on the version
 * read, retried on a conflict), notifies, and updates this broker's table.
 *
 * Threads: every function runs on the admin worker (ZooKeeper calls block),
 * except scram_users_load_all() at start-up, before the listeners open.
 */
#ifndef GREGOR_BROKER_CORE_SCRAM_USERS_H
#define GREGOR_BROKER_CORE_SCRAM_USERS_H

#include "broker/security/scram.h"
#include "common/err.h"

struct broker;

/* Loads every user's credentials (replacing the table). */
void scram_users_load_all(struct broker *b);
/* Re-reads one user's credentials. */
void scram_users_reload(struct broker *b, const char *user);
/* Sets (cred) or deletes (cred NULL) user's credential for hash h.
 * KERR_RESOURCE_NOT_FOUND when deleting one that does not exist; msg gets
 * the reason of a failure. */
kerr_t scram_users_alter(struct broker *b, const char *user, enum scram_hash h,
                         const struct scram_cred *cred, char *msg, size_t msglen);

#endif
