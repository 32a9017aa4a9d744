/*
 * broker/kafka/authz.c — the authorizer check of authz.h for a request.
 *
 * Principal: req->principal, the connection's (User:ANONYMOUS until TLS or
 * SASL authenticates it). Host: the client's address.
 *
 * Inter-broker requests (replica fetches, control RPCs, the controller's
 * requests) carry no authenticated principal yet. Until brokers authenticate
 * to each other, a request that arrives on the inter-broker listener is taken
 * as the broker's own and allowed — when that listener is not also a client
 * listener, i.e. when the broker has more than one listener. With a single
 * listener nothing is exempt: a cluster then needs ACLs (or super.users)
 * granting its brokers' principal ClusterAction (docs/security.md).
 */
#include "broker/kafka/authz.h"

bool authz_check_slow(struct req *req, int op, int rtype, const char *name, size_t len)
{
    const struct broker_config *cfg = req->broker->cfg;
    if (cfg->n_listeners > 1 && req->listener &&
        strcmp(req->listener, cfg->listener[cfg->inter_broker_listener].name) == 0)
        return true;
    return authorizer_check(req->broker->authz, req->principal ? req->principal : "User:ANONYMOUS",
                            req->client_host, op, rtype, name ? name : "", name ? len : 0);
}
