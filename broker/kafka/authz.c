/*
 * broker/kafka/authz.c — the authorizer check of authz.h for a request.
 *
 * Principal: req->principal, the connection's (User:ANONYMOUS until TLS or
 * SASL authenticates it). Host: the client's address.
 *
 * Inter-broker requests (replica fetches, control RPCs, the controller's
 * requests) on an authenticated inter-broker listener (SSL with client
 * certificates, SASL_*) carry the broker's principal and are checked like any
 * other: the brokers' principal belongs in super.users (or needs
 * ClusterAction). On an unauthenticated inter-broker listener (PLAINTEXT, or
 * SSL without a client certificate) the principal is User:ANONYMOUS; such a
 * request is taken as the broker's own and allowed when that listener is not
 * also a client listener, i.e. when the broker has more than one listener.
 * With a single listener nothing is exempt (docs/security.md).
 */
#include "broker/kafka/authz.h"

bool authz_check_slow(struct req *req, int op, int rtype, const char *name, size_t len)
{
    const struct broker_config *cfg = req->broker->cfg;
    const char *principal = req->principal ? req->principal : "User:ANONYMOUS";
    if (cfg->n_listeners > 1 && req->listener && strcmp(principal, "User:ANONYMOUS") == 0 &&
        strcmp(req->listener, cfg->listener[cfg->inter_broker_listener].name) == 0)
        return true;
    return authorizer_check(req->broker->authz, principal, req->client_host, op, rtype,
                            name ? name : "", name ? len : 0);
}
