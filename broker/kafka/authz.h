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

/* The operations of its resource type (Kafka's supported operations: a
 * topic's READ … ALTER_CONFIGS, a group's READ, DESCRIBE, DELETE, the
 * cluster's CREATE … IDEMPOTENT_WRITE, a transactional id's DESCRIBE, WRITE)
 * the principal may do on the resource, as a bit field of AclOperation
 * codes: the *_authorized_operations fields of Metadata v8+, DescribeCluster
 * and DescribeGroups v3+. Without an authorizer, all of them. */
int32_t authz_operations(struct req *req, int rtype, const char *name, size_t len);
/* The cluster's authorized operations as Kafka computes them: 0 for a
 * principal that may not DESCRIBE the cluster. */
int32_t authz_cluster_operations(struct req *req);
/* What those fields say when the request did not ask. */
#define AUTHZ_OPS_NOT_COMPUTED INT32_MIN

static inline bool authz_topic(struct req *req, int op, const char *name, size_t len)
{
    return authz_check(req, op, ACL_RT_TOPIC, name, len);
}

static inline bool authz_cluster(struct req *req, int op)
{
    return authz_check(req, op, ACL_RT_CLUSTER, ACL_CLUSTER_NAME, strlen(ACL_CLUSTER_NAME));
}

#endif
