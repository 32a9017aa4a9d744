/*
 * broker/security/acl.h — Kafka's ACL model (resource types, pattern types,
 * operations, permissions, bindings and filters), an immutable indexed set of
 * bindings that answers "may this principal do this" without allocating, and
 * the authorizer that holds the current set for the network threads.
 *
 * The enum values are Kafka's wire codes (CreateAcls, DescribeAcls,
 * DeleteAcls use them as they are). The names are Kafka's too: the upper-case
 * ones of the CLI and of AclBinding.toString (acl_op_name()), and the
 * CamelCase ones of the ZooKeeper JSON (acl_op_zk_name(), acl_rtype_zk_name()).
 *
 * Matching (acl_set_authorize()), as Kafka's AclAuthorizer decides:
 *   - the ACLs of a resource are those whose pattern matches its name: a
 *     LITERAL pattern equal to the name or equal to "*", a PREFIXED pattern
 *     the name starts with;
 *   - no such ACL at all: allowed only if allow.everyone.if.no.acl.found;
 *   - a DENY for the principal (or User:*), the host (or *) and the
 *     operation (or ALL) wins over any ALLOW;
 *   - otherwise an ALLOW is needed for the operation, ALL, or an operation
 *     that implies it: READ, WRITE, DELETE and ALTER imply DESCRIBE;
 *     ALTER_CONFIGS implies DESCRIBE_CONFIGS.
 * super.users are allowed everything before any of that (authorizer_check()).
 *
 * Cost: a set indexes its resources in a hash table by (resource type,
 * pattern type, name); prefixed patterns are found by looking up, for each
 * prefix length present among the set's prefixed patterns of that type
 * (a bitmap per type), the name's prefix of that length. A check is a few
 * hash lookups and a walk over the matching bindings, with no allocation.
 */
#ifndef GREGOR_BROKER_SECURITY_ACL_H
#define GREGOR_BROKER_SECURITY_ACL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

enum acl_rtype {
    ACL_RT_UNKNOWN = 0,
    ACL_RT_ANY = 1, /* filters only */
    ACL_RT_TOPIC = 2,
    ACL_RT_GROUP = 3,
    ACL_RT_CLUSTER = 4,
    ACL_RT_TRANSACTIONAL_ID = 5,
    ACL_RT_DELEGATION_TOKEN = 6, /* named, but refused in bindings */
    ACL_RT_COUNT = 7,
};

enum acl_pattern {
    ACL_PT_UNKNOWN = 0,
    ACL_PT_ANY = 1,   /* filters only: any pattern type with exactly this name */
    ACL_PT_MATCH = 2, /* filters only: the patterns that match this name */
    ACL_PT_LITERAL = 3,
    ACL_PT_PREFIXED = 4,
};

enum acl_op {
    ACL_OP_UNKNOWN = 0,
    ACL_OP_ANY = 1, /* filters only */
    ACL_OP_ALL = 2,
    ACL_OP_READ = 3,
    ACL_OP_WRITE = 4,
    ACL_OP_CREATE = 5,
    ACL_OP_DELETE = 6,
    ACL_OP_ALTER = 7,
    ACL_OP_DESCRIBE = 8,
    ACL_OP_CLUSTER_ACTION = 9,
    ACL_OP_DESCRIBE_CONFIGS = 10,
    ACL_OP_ALTER_CONFIGS = 11,
    ACL_OP_IDEMPOTENT_WRITE = 12,
    ACL_OP_CREATE_TOKENS = 13,
    ACL_OP_DESCRIBE_TOKENS = 14,
    ACL_OP_COUNT = 15,
};

enum acl_perm {
    ACL_PERM_UNKNOWN = 0,
    ACL_PERM_ANY = 1, /* filters only */
    ACL_PERM_DENY = 2,
    ACL_PERM_ALLOW = 3,
};

#define ACL_WILDCARD "*"                /* literal resource name, host */
#define ACL_WILDCARD_PRINCIPAL "User:*" /* any principal */
#define ACL_CLUSTER_NAME "kafka-cluster"
#define ACL_NAME_MAX 1000     /* longest resource name or prefix accepted */
#define ACL_PRINCIPAL_MAX 255 /* longest principal accepted */
#define ACL_HOST_MAX 255      /* longest host accepted */
#define ACL_PREFIX_LEN_BITS 1024

/* One ACL: the resource pattern and the entry. The strings are owned by
 * whoever holds the binding (acl_binding_free()). */
struct acl_binding {
    int8_t rtype;   /* enum acl_rtype */
    int8_t pattern; /* enum acl_pattern: LITERAL or PREFIXED in a binding */
    int8_t op;      /* enum acl_op */
    int8_t perm;    /* enum acl_perm */
    char *name;
    char *principal; /* "User:alice", or User:* */
    char *host;      /* an address, or * */
};

/* A Describe/Delete filter: ANY values and NULL strings match anything. */
struct acl_filter {
    int8_t rtype, pattern, op, perm;
    const char *name, *principal, *host; /* NULL = any */
};

void acl_binding_free(struct acl_binding *b);
/* Deep copy; false on OOM (dst then holds nothing to free). */
bool acl_binding_copy(struct acl_binding *dst, const struct acl_binding *src);

/* Checks a binding given to CreateAcls. KERR_NONE, or KERR_INVALID_REQUEST
 * with the reason in why (unknown or filter-only enum values, PREFIXED with
 * the name "*", an empty or too long name or a name with '/', a cluster
 * name other than kafka-cluster, a principal that is not "Type:name", an
 * empty host). */
kerr_t acl_binding_check(const struct acl_binding *b, char *why, size_t whylen);
/* Checks a filter of DescribeAcls / DeleteAcls the same way (UNKNOWN enum
 * values are refused; ANY and MATCH are accepted). */
kerr_t acl_filter_check(const struct acl_filter *f, char *why, size_t whylen);
/* Whether the filter selects the binding (Kafka's AclBindingFilter). */
bool acl_filter_matches(const struct acl_filter *f, const struct acl_binding *b);

/* Names: NULL for values without one. Parsing is case-insensitive and
 * accepts both spellings ("CLUSTER_ACTION", "ClusterAction"); -1 when
 * unknown. */
const char *acl_rtype_name(int rtype);    /* "TOPIC" */
const char *acl_rtype_zk_name(int rtype); /* "Topic" (ZooKeeper paths) */
const char *acl_pattern_name(int pattern);
const char *acl_op_name(int op);    /* "DESCRIBE_CONFIGS" */
const char *acl_op_zk_name(int op); /* "DescribeConfigs" */
const char *acl_perm_name(int perm);
const char *acl_perm_zk_name(int perm); /* "Allow" */
int acl_rtype_parse(const char *s);
int acl_pattern_parse(const char *s);
int acl_op_parse(const char *s);
int acl_perm_parse(const char *s);

/* ---- an immutable set of bindings -------------------------------------- */

struct acl_set;

/* Builds a set from n bindings, taking them (the array is freed and the
 * bindings moved in, on success and on failure). NULL on OOM. n may be 0. */
struct acl_set *acl_set_build(struct acl_binding *v, size_t n);
void acl_set_free(struct acl_set *s);
size_t acl_set_count(const struct acl_set *s);
/* The i-th binding (i < acl_set_count()), for listing. */
const struct acl_binding *acl_set_at(const struct acl_set *s, size_t i);

enum acl_decision {
    ACL_NO_MATCH, /* no ACL matches the resource at all */
    ACL_DENIED,
    ACL_ALLOWED,
};
/* The decision for principal at host doing op on (rtype, name[0..len)),
 * by the rules above (super users and the no-ACL default are the
 * authorizer's). host is the bare address. No allocation. */
enum acl_decision acl_set_authorize(const struct acl_set *s, const char *principal,
                                    const char *host, int op, int rtype, const char *name,
                                    size_t len);

/* ---- the authorizer ----------------------------------------------------- */

/* Holds the current set. Network threads check under a read lock; the one
 * writer (the admin worker that loads ACLs from ZooKeeper) builds a new set
 * without the lock and swaps it in under the write lock, freeing the old one
 * after: a check never sees a set being built or freed. */
struct authorizer {
    pthread_rwlock_t lock;
    struct acl_set *set; /* guarded by lock; never NULL */
    char **super_users;  /* immutable after authorizer_new() */
    int n_super;
    bool allow_if_no_acl; /* allow.everyone.if.no.acl.found */
};

/* super_users: Kafka's super.users value ("User:a;User:b"), NULL or "" for
 * none. NULL on OOM. */
struct authorizer *authorizer_new(const char *super_users, bool allow_if_no_acl);
void authorizer_free(struct authorizer *az);
/* Replaces the set (takes s; frees the previous one). */
void authorizer_swap(struct authorizer *az, struct acl_set *s);
/* Whether principal at host may do op on (rtype, name[0..len)). host may be
 * "/address" (the leading slash is skipped). Any thread; no allocation. */
bool authorizer_check(struct authorizer *az, const char *principal, const char *host, int op,
                      int rtype, const char *name, size_t len);
bool authorizer_is_super(const struct authorizer *az, const char *principal);
/* Calls fn on every binding the filter selects, under the read lock (fn
 * must not call back into az). Returns how many. */
size_t authorizer_each(struct authorizer *az, const struct acl_filter *f,
                       void (*fn)(void *arg, const struct acl_binding *b), void *arg);

/* ---- the ZooKeeper JSON of one resource's ACLs ------------------------- */

/* Encodes the entries (principal, permission, operation, host) of n bindings
 * as Kafka's znode JSON {"version":1,"acls":[{"principal":"User:alice",
 * "permissionType":"Allow","operation":"Read","host":"*"}]}. Returns a new
 * NUL-terminated string (free()), NULL on OOM. */
char *acl_json_encode(const struct acl_binding *v, size_t n);
/* Decodes such JSON (len bytes) into *out (new array, n entries; each
 * binding's rtype, pattern and name are set from the arguments). An empty
 * payload is an empty list. KERR__CORRUPT for anything else (bad JSON, a
 * version other than 1, unknown names, missing fields). */
kerr_t acl_json_decode(const char *json, size_t len, int rtype, int pattern, const char *name,
                       struct acl_binding **out, size_t *n);

#endif
