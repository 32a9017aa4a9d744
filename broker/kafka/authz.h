/*
 * broker/kafka/authz.h — the one check every handler calls: may the request's
 * principal do `op` on a resource (broker/security/acl.h). Without an
 * authorizer (authorizer.class.name empty) it is a single branch and always
 * true.
 */
#ifndef GREGOR_BROKER_KAFKA_AUTHZ_H
#define GREGOR_BROKER_KAFKA_AUTHZ_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "broker/core/broker.h"
#include "broker/kafka/request.h"
#include "broker/security/acl.h"

/* The check with an authorizer (authz.c): the exemption of unauthenticated
 * inter-broker requests, then super users and the ACLs. */
bool authz_check_slow(struct req *req, int op, int rtype, const char *name, size_t len);

static inline bool authz_check(struct req *req, int op, int rtype, const char *name, size_t len)
{
    return req->broker->authz == NULL || authz_check_slow(req, op, rtype, name, len);
}

static inline bool authz_topic(struct req *req, int op, const char *name, size_t len)
{
    return authz_check(req, op, ACL_RT_TOPIC, name, len);
}

static inline bool authz_cluster(struct req *req, int op)
{
    return authz_check(req, op, ACL_RT_CLUSTER, ACL_CLUSTER_NAME, strlen(ACL_CLUSTER_NAME));
}

#endif
