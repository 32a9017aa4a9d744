/*
 * broker/core/acl_store.h — the broker's ACLs: loaded from ZooKeeper into the
 * authorizer (b->authz, broker/security/acl.h) at start, followed through the
 * ACL change lists, and changed by CreateAcls / DeleteAcls (acl_store.c).
 */
#ifndef GREGOR_BROKER_CORE_ACL_STORE_H
#define GREGOR_BROKER_CORE_ACL_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "broker/security/acl.h"
#include "common/err.h"

struct broker;

/* Start-up, ZooKeeper connected: creates b->authz when authorizer.class.name
 * is set and loads every ACL. false when the ACLs cannot be read (the broker
 * does not start without them). No-op without an authorizer. */
bool acl_store_init(struct broker *b);
/* Once the admin worker runs: subscribes to watch events and posts the
 * first reload (which arms the watches). false on failure. */
bool acl_store_start(struct broker *b);
/* On the admin worker after a new session: re-arms and reloads. */
void acl_store_resync(struct broker *b);
/* Before the admin worker stops. */
void acl_store_stop(struct broker *b);
/* Frees b->authz (after the network loops are gone). */
void acl_store_free(struct broker *b);

/* Admin worker: adds each binding (checked already) to its resource's znode,
 * unless the same entry is there; errs[i] its outcome (KERR_NONE, or
 * KERR_UNKNOWN_SERVER_ERROR when ZooKeeper failed), then reloads. */
void acl_store_create(struct broker *b, const struct acl_binding *v, size_t n, kerr_t *errs);

/* Admin worker: removes the ACLs each filter (checked already) selects.
 * For filter i, *out[i] gets a new array of the removed bindings (free with
 * acl_store_bindings_free()) and n_out[i] their count; errs[i] KERR_NONE or
 * KERR_UNKNOWN_SERVER_ERROR. Then reloads. */
void acl_store_delete(struct broker *b, const struct acl_filter *f, size_t n,
                      struct acl_binding **out, size_t *n_out, kerr_t *errs);
void acl_store_bindings_free(struct acl_binding *v, size_t n);

#endif
