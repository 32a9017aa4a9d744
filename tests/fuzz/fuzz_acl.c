/*
 * tests/fuzz/fuzz_acl.c — libFuzzer target: arbitrary bytes as the JSON of an ACL znode
 * (broker/security/acl_json.c), and what decodes as an ACL set (broker/security/acl.c).
 *
 * Input: the znode payload. Checks (abort = a finding): JSON that decodes re-encodes and
 * decodes again to the same entries; the decoded bindings (named by a resource the first byte
 * picks) build a set whose size is theirs, and a check against it of a name taken from the
 * input gives the same answer as a linear scan of the bindings by the rules of acl.h;
 * ASan/UBSan and the leak checker catch the rest.
 */
#include <stdlib.h>
#include <string.h>

#include "broker/security/acl.h"

static void check(bool ok)
{
    if (!ok)
        abort();
}

static bool same(const struct acl_binding *a, const struct acl_binding *b)
{
    return a->op == b->op && a->perm == b->perm && !strcmp(a->principal, b->principal) &&
           !strcmp(a->host, b->host) && !strcmp(a->name, b->name);
}

/* acl_set_authorize() by a scan of every binding. */
static enum acl_decision scan(const struct acl_binding *v, size_t n, const char *principal,
                              const char *host, int op, int rtype, const char *name)
{
    bool found = false, allowed = false;
    for (size_t i = 0; i < n; i++) {
        const struct acl_binding *b = &v[i];
        bool match = b->rtype == rtype &&
                     (b->pattern == ACL_PT_LITERAL ? !strcmp(b->name, name) || !strcmp(b->name, "*")
                                                   : !strncmp(b->name, name, strlen(b->name)));
        if (!match)
            continue;
        found = true;
        if (strcmp(b->principal, principal) && strcmp(b->principal, "User:*"))
            continue;
        if (strcmp(b->host, host) && strcmp(b->host, "*"))
            continue;
        if (b->perm == ACL_PERM_DENY && (b->op == op || b->op == ACL_OP_ALL))
            return ACL_DENIED;
        if (b->perm == ACL_PERM_ALLOW &&
            (b->op == op || b->op == ACL_OP_ALL ||
             (op == ACL_OP_DESCRIBE && (b->op == ACL_OP_READ || b->op == ACL_OP_WRITE ||
                                        b->op == ACL_OP_DELETE || b->op == ACL_OP_ALTER)) ||
             (op == ACL_OP_DESCRIBE_CONFIGS && b->op == ACL_OP_ALTER_CONFIGS)))
            allowed = true;
    }
    return !found ? ACL_NO_MATCH : allowed ? ACL_ALLOWED : ACL_DENIED;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int pattern = data[0] & 1 ? ACL_PT_PREFIXED : ACL_PT_LITERAL;
    const char *name = data[0] & 2 ? "ab" : "*";
    if (pattern == ACL_PT_PREFIXED && name[0] == '*')
        name = "a";
    struct acl_binding *v;
    size_t n;
    if (acl_json_decode((const char *)data + 1, size - 1, ACL_RT_TOPIC, pattern, name, &v, &n) !=
        KERR_NONE)
        return 0;
    char *js = acl_json_encode(v, n);
    check(js != NULL);
    struct acl_binding *w;
    size_t m;
    check(acl_json_decode(js, strlen(js), ACL_RT_TOPIC, pattern, name, &w, &m) == KERR_NONE);
    check(m == n);
    for (size_t i = 0; i < n; i++)
        check(same(&v[i], &w[i]));
    for (size_t i = 0; i < m; i++)
        acl_binding_free(&w[i]);
    free(w);
    free(js);

    struct acl_binding *copy = calloc(n ? n : 1, sizeof(*copy));
    check(copy != NULL);
    for (size_t i = 0; i < n; i++)
        check(acl_binding_copy(&copy[i], &v[i]));
    struct acl_set *s = acl_set_build(copy, n);
    check(s != NULL && acl_set_count(s) == n);
    static const char *const names[] = {"ab", "abc", "a", "b", "*"};
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
        for (int op = ACL_OP_ALL; op < ACL_OP_COUNT; op++) {
            const char *principal = n ? v[k % n].principal : "User:x";
            const char *host = n ? v[(k + 1) % n].host : "h";
            check(acl_set_authorize(s, principal, host, op, ACL_RT_TOPIC, names[k],
                                    strlen(names[k])) ==
                  scan(v, n, principal, host, op, ACL_RT_TOPIC, names[k]));
        }
    acl_set_free(s);
    for (size_t i = 0; i < n; i++)
        acl_binding_free(&v[i]);
    free(v);
    return 0;
}
