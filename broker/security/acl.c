/*
 * broker/security/acl.c — the ACL model and matcher of acl.h: enum names,
 * binding and filter checks, the indexed immutable set and the authorizer
 * that holds the current set.
 *
 * Set layout: the bindings sorted by (resource type, pattern type, name),
 * so the bindings of one resource pattern are a run; one entry per run in
 * an open-addressing hash table (power-of-two size, at most half full,
 * FNV-1a over type, pattern and name); per resource type a bitmap of the
 * lengths of its PREFIXED patterns.
 */
#include "broker/security/acl.h"
#include "common/base.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- names -------------------------------------------------------------- */

static const char *const rtype_names[ACL_RT_COUNT] = {
    "UNKNOWN", "ANY", "TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID", "DELEGATION_TOKEN"};
static const char *const rtype_zk[ACL_RT_COUNT] = {
    NULL, NULL, "Topic", "Group", "Cluster", "TransactionalId", "DelegationToken"};
static const char *const pattern_names[] = {"UNKNOWN", "ANY", "MATCH", "LITERAL", "PREFIXED"};
static const char *const op_names[ACL_OP_COUNT] = {"UNKNOWN",
                                                   "ANY",
                                                   "ALL",
                                                   "READ",
                                                   "WRITE",
                                                   "CREATE",
                                                   "DELETE",
                                                   "ALTER",
                                                   "DESCRIBE",
                                                   "CLUSTER_ACTION",
                                                   "DESCRIBE_CONFIGS",
                                                   "ALTER_CONFIGS",
                                                   "IDEMPOTENT_WRITE",
                                                   "CREATE_TOKENS",
                                                   "DESCRIBE_TOKENS"};
static const char *const op_zk[ACL_OP_COUNT] = {NULL,
                                                NULL,
                                                "All",
                                                "Read",
                                                "Write",
                                                "Create",
                                                "Delete",
                                                "Alter",
                                                "Describe",
                                                "ClusterAction",
                                                "DescribeConfigs",
                                                "AlterConfigs",
                                                "IdempotentWrite",
                                                "CreateTokens",
                                                "DescribeTokens"};
static const char *const perm_names[] = {"UNKNOWN", "ANY", "DENY", "ALLOW"};
static const char *const perm_zk[] = {NULL, NULL, "Deny", "Allow"};

#define NAME_AT(tab, i) ((i) >= 0 && (size_t)(i) < ARRAY_LEN(tab) ? (tab)[i] : NULL)

const char *acl_rtype_name(int v) { return NAME_AT(rtype_names, v); }
const char *acl_rtype_zk_name(int v) { return NAME_AT(rtype_zk, v); }
const char *acl_pattern_name(int v) { return NAME_AT(pattern_names, v); }
const char *acl_op_name(int v) { return NAME_AT(op_names, v); }
const char *acl_op_zk_name(int v) { return NAME_AT(op_zk, v); }
const char *acl_perm_name(int v) { return NAME_AT(perm_names, v); }
const char *acl_perm_zk_name(int v) { return NAME_AT(perm_zk, v); }

/* Compares ignoring case and underscores: "ClusterAction" == "CLUSTER_ACTION". */
static bool name_eq(const char *a, const char *b)
{
    for (;;) {
        while (*a == '_')
            a++;
        while (*b == '_')
            b++;
        if (!*a || !*b)
            return !*a && !*b;
        if ((*a | 0x20) != (*b | 0x20))
            return false;
        a++, b++;
    }
}

static int parse_in(const char *const *tab, size_t n, const char *s)
{
    for (size_t i = 0; s && i < n; i++)
        if (tab[i] && name_eq(tab[i], s))
            return (int)i;
    return -1;
}

int acl_rtype_parse(const char *s) { return parse_in(rtype_names, ARRAY_LEN(rtype_names), s); }
int acl_pattern_parse(const char *s)
{
    return parse_in(pattern_names, ARRAY_LEN(pattern_names), s);
}
int acl_op_parse(const char *s) { return parse_in(op_names, ARRAY_LEN(op_names), s); }
int acl_perm_parse(const char *s) { return parse_in(perm_names, ARRAY_LEN(perm_names), s); }

/* ---- bindings and filters ------------------------------------------------ */

void acl_binding_free(struct acl_binding *b)
{
    free(b->name);
    free(b->principal);
    free(b->host);
    b->name = b->principal = b->host = NULL;
}

bool acl_binding_copy(struct acl_binding *dst, const struct acl_binding *src)
{
    *dst = *src;
    dst->name = strdup(src->name);
    dst->principal = strdup(src->principal);
    dst->host = strdup(src->host);
    if (!dst->name || !dst->principal || !dst->host) {
        acl_binding_free(dst);
        return false;
    }
    return true;
}

__attribute__((format(printf, 3, 4))) static kerr_t bad(char *why, size_t whylen, const char *msg,
                                                        ...)
{
    va_list ap;
    va_start(ap, msg);
    vsnprintf(why, whylen, msg, ap);
    va_end(ap);
    return KERR_INVALID_REQUEST;
}

/* "Type:name" with a non-empty type and name. */
static bool principal_ok(const char *p)
{
    const char *c = strchr(p, ':');
    return c && c != p && c[1] && strlen(p) <= ACL_PRINCIPAL_MAX;
}

kerr_t acl_binding_check(const struct acl_binding *b, char *why, size_t whylen)
{
    if (b->rtype < ACL_RT_TOPIC || b->rtype > ACL_RT_TRANSACTIONAL_ID)
        return bad(why, whylen,
                   "invalid resource type %d: must be TOPIC, GROUP, CLUSTER or TRANSACTIONAL_ID",
                   b->rtype);
    if (b->pattern != ACL_PT_LITERAL && b->pattern != ACL_PT_PREFIXED)
        return bad(why, whylen, "invalid pattern type %d: must be LITERAL or PREFIXED", b->pattern);
    if (b->op < ACL_OP_ALL || b->op >= ACL_OP_COUNT)
        return bad(why, whylen, "invalid operation %d", b->op);
    if (b->perm != ACL_PERM_ALLOW && b->perm != ACL_PERM_DENY)
        return bad(why, whylen, "invalid permission type %d: must be ALLOW or DENY", b->perm);
    if (!b->name || !b->name[0] || strlen(b->name) > ACL_NAME_MAX || strchr(b->name, '/'))
        return bad(why, whylen, "invalid resource name '%s'", b->name ? b->name : "");
    if (b->pattern == ACL_PT_PREFIXED && strcmp(b->name, ACL_WILDCARD) == 0)
        return bad(why, whylen, "a PREFIXED pattern cannot have the name '*'");
    if (b->rtype == ACL_RT_CLUSTER && strcmp(b->name, ACL_CLUSTER_NAME) != 0)
        return bad(why, whylen, "the cluster resource is named kafka-cluster, not '%s'", b->name);
    if (!b->principal || !principal_ok(b->principal))
        return bad(why, whylen, "invalid principal '%s': expected Type:name",
                   b->principal ? b->principal : "");
    if (!b->host || !b->host[0] || strlen(b->host) > ACL_HOST_MAX)
        return bad(why, whylen, "invalid host '%s'", b->host ? b->host : "");
    return KERR_NONE;
}

kerr_t acl_filter_check(const struct acl_filter *f, char *why, size_t whylen)
{
    if (f->rtype < ACL_RT_ANY || f->rtype >= ACL_RT_COUNT)
        return bad(why, whylen, "invalid resource type filter %d", f->rtype);
    if (f->pattern < ACL_PT_ANY || f->pattern > ACL_PT_PREFIXED)
        return bad(why, whylen, "invalid pattern type filter %d", f->pattern);
    if (f->op < ACL_OP_ANY || f->op >= ACL_OP_COUNT)
        return bad(why, whylen, "invalid operation filter %d", f->op);
    if (f->perm < ACL_PERM_ANY || f->perm > ACL_PERM_ALLOW)
        return bad(why, whylen, "invalid permission type filter %d", f->perm);
    if (f->pattern == ACL_PT_PREFIXED && f->name && strcmp(f->name, ACL_WILDCARD) == 0)
        return bad(why, whylen, "a PREFIXED filter cannot have the name '*'");
    return KERR_NONE;
}

bool acl_filter_matches(const struct acl_filter *f, const struct acl_binding *b)
{
    if (f->rtype != ACL_RT_ANY && f->rtype != b->rtype)
        return false;
    if (f->pattern != ACL_PT_ANY && f->pattern != ACL_PT_MATCH && f->pattern != b->pattern)
        return false;
    if (f->name) {
        if (f->pattern == ACL_PT_ANY || f->pattern == b->pattern) {
            if (strcmp(f->name, b->name) != 0)
                return false;
        } else if (b->pattern == ACL_PT_LITERAL) { /* MATCH */
            if (strcmp(f->name, b->name) != 0 && strcmp(b->name, ACL_WILDCARD) != 0)
                return false;
        } else if (strncmp(f->name, b->name, strlen(b->name)) != 0) {
            return false;
        }
    }
    if (f->principal && strcmp(f->principal, b->principal) != 0)
        return false;
    if (f->host && strcmp(f->host, b->host) != 0)
        return false;
    if (f->op != ACL_OP_ANY && f->op != b->op)
        return false;
    return f->perm == ACL_PERM_ANY || f->perm == b->perm;
}

/* ---- the set -------------------------------------------------------------- */

struct acl_run { /* the bindings of one resource pattern */
    uint64_t hash;
    uint32_t first, count;
    size_t name_len; /* strlen of its name: names from the wire may hold NUL bytes */
};

struct acl_set {
    struct acl_binding *v; /* sorted by (rtype, pattern, name) */
    size_t n;
    struct acl_run *runs;
    size_t n_runs;
    int32_t *table; /* index into runs, -1 = empty; size mask + 1 */
    size_t mask;
    uint64_t prefix_lens[ACL_RT_COUNT][ACL_PREFIX_LEN_BITS / 64];
    bool frozen; /* set once built: checks read it without writing */
};

static uint64_t res_hash(int rtype, int pattern, const char *name, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    h = (h ^ (uint64_t)rtype) * 1099511628211ull;
    h = (h ^ (uint64_t)pattern) * 1099511628211ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)name[i]) * 1099511628211ull;
    return h;
}

static int binding_cmp(const void *pa, const void *pb)
{
    const struct acl_binding *a = pa, *b = pb;
    if (a->rtype != b->rtype)
        return a->rtype - b->rtype;
    if (a->pattern != b->pattern)
        return a->pattern - b->pattern;
    return strcmp(a->name, b->name);
}

void acl_set_free(struct acl_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        acl_binding_free(&s->v[i]);
    free(s->v);
    free(s->runs);
    free(s->table);
    free(s);
}

struct acl_set *acl_set_build(struct acl_binding *v, size_t n)
{
    struct acl_set *s = calloc(1, sizeof(*s));
    if (!s) {
        for (size_t i = 0; i < n; i++)
            acl_binding_free(&v[i]);
        free(v);
        return NULL;
    }
    s->v = v;
    s->n = n;
    if (n > 1)
        qsort(v, n, sizeof(*v), binding_cmp);
    size_t cap = 16;
    while (cap < 2 * n + 2)
        cap *= 2;
    s->mask = cap - 1;
    s->runs = calloc(n ? n : 1, sizeof(*s->runs));
    s->table = malloc(cap * sizeof(*s->table));
    if (!s->runs || !s->table) {
        acl_set_free(s);
        return NULL;
    }
    memset(s->table, 0xff, cap * sizeof(*s->table));
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && binding_cmp(&v[i], &v[j]) == 0)
            j++;
        struct acl_run *r = &s->runs[s->n_runs];
        size_t len = strlen(v[i].name);
        r->hash = res_hash(v[i].rtype, v[i].pattern, v[i].name, len);
        r->first = (uint32_t)i;
        r->count = (uint32_t)(j - i);
        r->name_len = len;
        size_t slot = r->hash & s->mask;
        while (s->table[slot] >= 0)
            slot = (slot + 1) & s->mask;
        s->table[slot] = (int32_t)s->n_runs++;
        if (v[i].pattern == ACL_PT_PREFIXED && len < ACL_PREFIX_LEN_BITS)
            s->prefix_lens[v[i].rtype][len / 64] |= 1ull << (len % 64);
        i = j;
    }
    s->frozen = true;
    return s;
}

size_t acl_set_count(const struct acl_set *s) { return s->n; }

const struct acl_binding *acl_set_at(const struct acl_set *s, size_t i)
{
    KASSERT(i < s->n);
    return &s->v[i];
}

static const struct acl_run *set_find(const struct acl_set *s, int rtype, int pattern,
                                      const char *name, size_t len)
{
    uint64_t h = res_hash(rtype, pattern, name, len);
    for (size_t slot = h & s->mask; s->table[slot] >= 0; slot = (slot + 1) & s->mask) {
        const struct acl_run *r = &s->runs[s->table[slot]];
        const struct acl_binding *b = &s->v[r->first];
        if (r->hash == h && r->name_len == len && b->rtype == rtype && b->pattern == pattern &&
            memcmp(b->name, name, len) == 0)
            return r;
    }
    return NULL;
}

/* Whether an ALLOW of acl_op grants op. */
static bool op_grants(int acl_op, int op)
{
    if (acl_op == op || acl_op == ACL_OP_ALL)
        return true;
    if (op == ACL_OP_DESCRIBE)
        return acl_op == ACL_OP_READ || acl_op == ACL_OP_WRITE || acl_op == ACL_OP_DELETE ||
               acl_op == ACL_OP_ALTER;
    if (op == ACL_OP_DESCRIBE_CONFIGS)
        return acl_op == ACL_OP_ALTER_CONFIGS;
    return false;
}

/* Walks one run: returns ACL_DENIED on a matching DENY, else notes an
 * ALLOW in *allowed. */
static enum acl_decision run_check(const struct acl_set *s, const struct acl_run *r,
                                   const char *principal, const char *host, int op, bool *allowed)
{
    for (uint32_t i = r->first; i < r->first + r->count; i++) {
        const struct acl_binding *b = &s->v[i];
        if (strcmp(b->principal, principal) != 0 &&
            strcmp(b->principal, ACL_WILDCARD_PRINCIPAL) != 0)
            continue;
        if (strcmp(b->host, host) != 0 && strcmp(b->host, ACL_WILDCARD) != 0)
            continue;
        if (b->perm == ACL_PERM_DENY) {
            if (b->op == op || b->op == ACL_OP_ALL)
                return ACL_DENIED;
        } else if (op_grants(b->op, op)) {
            *allowed = true;
        }
    }
    return ACL_NO_MATCH;
}

enum acl_decision acl_set_authorize(const struct acl_set *s, const char *principal,
                                    const char *host, int op, int rtype, const char *name,
                                    size_t len)
{
    KDASSERT(s->frozen);
    if (rtype < 0 || rtype >= ACL_RT_COUNT || s->n == 0)
        return ACL_NO_MATCH;
    bool found = false, allowed = false;
    const struct acl_run *r = set_find(s, rtype, ACL_PT_LITERAL, name, len);
    if (r) {
        found = true;
        if (run_check(s, r, principal, host, op, &allowed) == ACL_DENIED)
            return ACL_DENIED;
    }
    r = set_find(s, rtype, ACL_PT_LITERAL, ACL_WILDCARD, 1);
    if (r) {
        found = true;
        if (run_check(s, r, principal, host, op, &allowed) == ACL_DENIED)
            return ACL_DENIED;
    }
    const uint64_t *lens = s->prefix_lens[rtype];
    size_t max = len < ACL_PREFIX_LEN_BITS ? len : ACL_PREFIX_LEN_BITS - 1;
    for (size_t w = 0; w <= max / 64; w++) {
        uint64_t bits = lens[w];
        while (bits) {
            size_t l = w * 64 + (size_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            if (l > max)
                break;
            r = set_find(s, rtype, ACL_PT_PREFIXED, name, l);
            if (!r)
                continue;
            found = true;
            if (run_check(s, r, principal, host, op, &allowed) == ACL_DENIED)
                return ACL_DENIED;
        }
    }
    if (!found)
        return ACL_NO_MATCH;
    return allowed ? ACL_ALLOWED : ACL_DENIED;
}

/* ---- the authorizer ------------------------------------------------------- */

struct authorizer *authorizer_new(const char *super_users, bool allow_if_no_acl)
{
    struct authorizer *az = calloc(1, sizeof(*az));
    if (!az)
        return NULL;
    az->allow_if_no_acl = allow_if_no_acl;
    az->set = acl_set_build(NULL, 0);
    if (!az->set || pthread_rwlock_init(&az->lock, NULL) != 0) {
        acl_set_free(az->set);
        free(az);
        return NULL;
    }
    const char *p = super_users ? super_users : "";
    while (*p) {
        const char *e = strchr(p, ';');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        while (l && (*p == ' ' || *p == '\t'))
            p++, l--;
        while (l && (p[l - 1] == ' ' || p[l - 1] == '\t'))
            l--;
        if (l) {
            char **nv = realloc(az->super_users, (size_t)(az->n_super + 1) * sizeof(*nv));
            char *s = nv ? strndup(p, l) : NULL;
            if (nv)
                az->super_users = nv;
            if (!s) {
                authorizer_free(az);
                return NULL;
            }
            az->super_users[az->n_super++] = s;
        }
        if (!e)
            break;
        p = e + 1;
    }
    return az;
}

void authorizer_free(struct authorizer *az)
{
    if (!az)
        return;
    for (int i = 0; i < az->n_super; i++)
        free(az->super_users[i]);
    free(az->super_users);
    acl_set_free(az->set);
    pthread_rwlock_destroy(&az->lock);
    free(az);
}

void authorizer_swap(struct authorizer *az, struct acl_set *s)
{
    KASSERT(s && s->frozen);
    pthread_rwlock_wrlock(&az->lock);
    struct acl_set *old = az->set;
    az->set = s;
    pthread_rwlock_unlock(&az->lock);
    acl_set_free(old);
}

bool authorizer_is_super(const struct authorizer *az, const char *principal)
{
    for (int i = 0; i < az->n_super; i++)
        if (strcmp(az->super_users[i], principal) == 0)
            return true;
    return false;
}

bool authorizer_check(struct authorizer *az, const char *principal, const char *host, int op,
                      int rtype, const char *name, size_t len)
{
    if (authorizer_is_super(az, principal))
        return true;
    if (host && host[0] == '/')
        host++;
    pthread_rwlock_rdlock(&az->lock);
    enum acl_decision d =
        acl_set_authorize(az->set, principal, host ? host : "", op, rtype, name, len);
    pthread_rwlock_unlock(&az->lock);
    return d == ACL_ALLOWED || (d == ACL_NO_MATCH && az->allow_if_no_acl);
}

size_t authorizer_each(struct authorizer *az, const struct acl_filter *f,
                       void (*fn)(void *arg, const struct acl_binding *b), void *arg)
{
    size_t n = 0;
    pthread_rwlock_rdlock(&az->lock);
    for (size_t i = 0; i < az->set->n; i++)
        if (acl_filter_matches(f, &az->set->v[i])) {
            fn(arg, &az->set->v[i]);
            n++;
        }
    pthread_rwlock_unlock(&az->lock);
    return n;
}
