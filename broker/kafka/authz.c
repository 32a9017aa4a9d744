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

#include <stdint.h>

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

int32_t authz_operations(struct req *req, int rtype, const char *name, size_t len)
{
    static const uint8_t topic_ops[] = {
        ACL_OP_READ,  ACL_OP_WRITE,    ACL_OP_CREATE,           ACL_OP_DELETE,
        ACL_OP_ALTER, ACL_OP_DESCRIBE, ACL_OP_DESCRIBE_CONFIGS, ACL_OP_ALTER_CONFIGS};
    static const uint8_t group_ops[] = {ACL_OP_READ, ACL_OP_DELETE, ACL_OP_DESCRIBE};
    static const uint8_t cluster_ops[] = {ACL_OP_CREATE,           ACL_OP_ALTER,
                                          ACL_OP_DESCRIBE,         ACL_OP_CLUSTER_ACTION,
                                          ACL_OP_DESCRIBE_CONFIGS, ACL_OP_ALTER_CONFIGS,
                                          ACL_OP_IDEMPOTENT_WRITE};
    static const uint8_t txn_ops[] = {ACL_OP_WRITE, ACL_OP_DESCRIBE};
    const uint8_t *ops;
    size_t n;
    switch (rtype) {
    case ACL_RT_TOPIC:
        ops = topic_ops, n = sizeof(topic_ops);
        break;
    case ACL_RT_GROUP:
        ops = group_ops, n = sizeof(group_ops);
        break;
    case ACL_RT_CLUSTER:
        ops = cluster_ops, n = sizeof(cluster_ops);
        break;
    case ACL_RT_TRANSACTIONAL_ID:
        ops = txn_ops, n = sizeof(txn_ops);
        break;
    default:
        return 0;
    }
    int32_t bits = 0;
    for (size_t i = 0; i < n; i++)
        if (authz_check(req, ops[i], rtype, name, len))
            bits |= (int32_t)1 << ops[i];
    return bits;
}

int32_t authz_cluster_operations(struct req *req)
{
    if (!authz_cluster(req, ACL_OP_DESCRIBE))
        return 0;
    return authz_operations(req, ACL_RT_CLUSTER, ACL_CLUSTER_NAME, strlen(ACL_CLUSTER_NAME));
}
