/*
 * broker/security/scram_store.h — the SCRAM credentials this broker knows,
 * in memory: filled from ZooKeeper's /config/users/<user> by
 * broker/core/scram_watch.c, read by every SASL exchange.
 *
 * Threads: any; a mutex guards the table (updates are rare, lookups one per
 * SCRAM login).
 */
#ifndef GREGOR_BROKER_SECURITY_SCRAM_STORE_H
#define GREGOR_BROKER_SECURITY_SCRAM_STORE_H

#include "broker/security/scram.h"

/* Replaces every credential of user: creds[h] for each hash, NULL = none.
 * false on out of memory. */
bool scram_store_put(const char *user, const struct scram_cred *const creds[SCRAM_N_HASHES]);
/* Copies user's credential for h into out; false if there is none. */
bool scram_store_get(const char *user, enum scram_hash h, struct scram_cred *out);
/* scram_lookup_fn over the store (arg unused). */
bool scram_store_lookup(void *arg, const char *user, enum scram_hash h, struct scram_cred *out);
/* Calls fn for every user name in the store (under the lock: fn must not
 * call back into the store). */
void scram_store_each(void (*fn)(void *arg, const char *user), void *arg);
/* Drops every credential (tests, shutdown). */
void scram_store_clear(void);

#endif
