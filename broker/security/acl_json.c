/*
 * broker/security/acl_json.c — the JSON of one resource's ACL znode, as
 * Kafka's ZooKeeper mode writes it (/kafka-acl/<Type>/<name>,
 * /kafka-acl-extended/prefixed/<Type>/<name>; see acl.h):
 *
 *   {"version":1,"acls":[{"principal":"User:alice","permissionType":"Allow",
 *                         "operation":"Read","host":"*"}, ...]}
 *
 * The reader is a small strict JSON parser for this shape: objects, arrays,
 * strings (escapes \" \\ \/ \b \f \n \r \t and \u00XX), integers, true,
 * false, null; unknown keys are skipped, so a newer writer's extra fields do
 * not make the znode unreadable.
 */
#include "broker/security/acl.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_DEPTH_MAX 16

struct jp {
    const char *p, *end;
    bool ok;
};

static void ws(struct jp *j)
{
    while (j->p < j->end && isspace((unsigned char)*j->p))
        j->p++;
}

static bool lit(struct jp *j, char c)
{
    ws(j);
    if (j->p < j->end && *j->p == c) {
        j->p++;
        return true;
    }
    return false;
}

/* Reads a string into a new buffer (NULL and !ok on error). */
static char *jstr(struct jp *j)
{
    if (!lit(j, '"')) {
        j->ok = false;
        return NULL;
    }
    size_t cap = (size_t)(j->end - j->p) + 1;
    char *out = malloc(cap), *o = out;
    if (!out) {
        j->ok = false;
        return NULL;
    }
    while (j->p < j->end && *j->p != '"') {
        char c = *j->p++;
        if ((unsigned char)c < 0x20)
            goto fail;
        if (c == '\\') {
            if (j->p >= j->end)
                goto fail;
            c = *j->p++;
            switch (c) {
            case '"':
            case '\\':
            case '/':
                break;
            case 'b':
                c = '\b';
                break;
            case 'f':
                c = '\f';
                break;
            case 'n':
                c = '\n';
                break;
            case 'r':
                c = '\r';
                break;
            case 't':
                c = '\t';
                break;
            case 'u': {
                if (j->end - j->p < 4)
                    goto fail;
                unsigned v = 0;
                for (int k = 0; k < 4; k++) {
                    char h = *j->p++;
                    if (!isxdigit((unsigned char)h))
                        goto fail;
                    v = v * 16 +
                        (unsigned)(isdigit((unsigned char)h) ? h - '0' : (h | 0x20) - 'a' + 10);
                }
                if (v == 0 || v > 0x7f)
                    goto fail; /* names in ACLs are ASCII */
                c = (char)v;
                break;
            }
            default:
                goto fail;
            }
        }
        *o++ = c;
    }
    if (j->p >= j->end)
        goto fail;
    j->p++;
    *o = '\0';
    return out;
fail:
    free(out);
    j->ok = false;
    return NULL;
}

static void skip_value(struct jp *j, int depth);

static void skip_container(struct jp *j, char close, bool object, int depth)
{
    if (depth > JSON_DEPTH_MAX) {
        j->ok = false;
        return;
    }
    if (lit(j, close))
        return;
    do {
        if (object) {
            free(jstr(j));
            if (!j->ok || !lit(j, ':')) {
                j->ok = false;
                return;
            }
        }
        skip_value(j, depth + 1);
    } while (j->ok && lit(j, ','));
    if (j->ok && !lit(j, close))
        j->ok = false;
}

static void skip_value(struct jp *j, int depth)
{
    ws(j);
    if (j->p >= j->end) {
        j->ok = false;
        return;
    }
    char c = *j->p;
    if (c == '"') {
        free(jstr(j));
    } else if (c == '{') {
        j->p++;
        skip_container(j, '}', true, depth);
    } else if (c == '[') {
        j->p++;
        skip_container(j, ']', false, depth);
    } else {
        const char *s = j->p;
        while (j->p < j->end &&
               (isalnum((unsigned char)*j->p) || *j->p == '-' || *j->p == '+' || *j->p == '.'))
            j->p++;
        if (j->p == s)
            j->ok = false;
    }
}

/* One {"principal":..,"permissionType":..,"operation":..,"host":..}. */
static bool read_entry(struct jp *j, struct acl_binding *b)
{
    char *perm = NULL, *op = NULL;
    if (!lit(j, '{'))
        return false;
    if (!lit(j, '}')) {
        do {
            char *k = jstr(j);
            if (!j->ok || !lit(j, ':')) {
                free(k);
                j->ok = false;
                break;
            }
            char **dst = !strcmp(k, "principal")        ? &b->principal
                         : !strcmp(k, "permissionType") ? &perm
                         : !strcmp(k, "operation")      ? &op
                         : !strcmp(k, "host")           ? &b->host
                                                        : NULL;
            free(k);
            if (dst) {
                free(*dst);
                *dst = jstr(j);
            } else {
                skip_value(j, 2);
            }
        } while (j->ok && lit(j, ','));
        if (j->ok && !lit(j, '}'))
            j->ok = false;
    }
    int pv = perm ? acl_perm_parse(perm) : -1;
    int ov = op ? acl_op_parse(op) : -1;
    free(perm);
    free(op);
    if (!j->ok || !b->principal || !b->host || (pv != ACL_PERM_ALLOW && pv != ACL_PERM_DENY) ||
        ov < ACL_OP_ALL)
        return false;
    b->perm = (int8_t)pv;
    b->op = (int8_t)ov;
    return true;
}

kerr_t acl_json_decode(const char *json, size_t len, int rtype, int pattern, const char *name,
                       struct acl_binding **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    struct jp j = {json, json + len, true};
    ws(&j);
    if (j.p == j.end)
        return KERR_NONE;
    struct acl_binding *v = NULL;
    size_t nv = 0, cap = 0;
    bool version_ok = false;
    if (!lit(&j, '{'))
        return KERR__CORRUPT;
    if (!lit(&j, '}')) {
        do {
            char *k = jstr(&j);
            if (!j.ok || !lit(&j, ':')) {
                free(k);
                j.ok = false;
                break;
            }
            if (!strcmp(k, "version")) {
                ws(&j);
                version_ok = j.end - j.p >= 1 && *j.p == '1' &&
                             (j.end - j.p == 1 || !isdigit((unsigned char)j.p[1]));
                skip_value(&j, 1);
            } else if (!strcmp(k, "acls")) {
                if (!lit(&j, '[')) {
                    j.ok = false;
                } else if (!lit(&j, ']')) {
                    do {
                        if (nv == cap) {
                            size_t nc = cap ? 2 * cap : 4;
                            struct acl_binding *g = realloc(v, nc * sizeof(*v));
                            if (!g) {
                                j.ok = false;
                                break;
                            }
                            v = g;
                            cap = nc;
                        }
                        struct acl_binding *b = &v[nv];
                        memset(b, 0, sizeof(*b));
                        b->rtype = (int8_t)rtype;
                        b->pattern = (int8_t)pattern;
                        bool got = read_entry(&j, b);
                        if (got)
                            b->name = strdup(name);
                        if (!got || !b->name) {
                            acl_binding_free(b);
                            j.ok = false;
                            break;
                        }
                        nv++;
                    } while (lit(&j, ','));
                    if (j.ok && !lit(&j, ']'))
                        j.ok = false;
                }
            } else {
                skip_value(&j, 1);
            }
            free(k);
        } while (j.ok && lit(&j, ','));
        if (j.ok && !lit(&j, '}'))
            j.ok = false;
    }
    ws(&j);
    if (!j.ok || !version_ok || j.p != j.end) {
        for (size_t i = 0; i < nv; i++)
            acl_binding_free(&v[i]);
        free(v);
        return KERR__CORRUPT;
    }
    *out = v;
    *n = nv;
    return KERR_NONE;
}

/* Appends s as a JSON string; false when it does not fit. */
static bool put_str(char **o, char *end, const char *s)
{
    if (*o >= end)
        return false;
    *(*o)++ = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        int w;
        if (c == '"' || c == '\\')
            w = snprintf(*o, (size_t)(end - *o), "\\%c", c);
        else if (c < 0x20)
            w = snprintf(*o, (size_t)(end - *o), "\\u%04x", c);
        else
            w = snprintf(*o, (size_t)(end - *o), "%c", c);
        if (w < 0 || w >= end - *o)
            return false;
        *o += w;
    }
    if (*o >= end)
        return false;
    *(*o)++ = '"';
    return true;
}

static bool put_raw(char **o, char *end, const char *s)
{
    size_t l = strlen(s);
    if ((size_t)(end - *o) <= l)
        return false;
    memcpy(*o, s, l);
    *o += l;
    return true;
}

char *acl_json_encode(const struct acl_binding *v, size_t n)
{
    size_t cap = 64;
    for (size_t i = 0; i < n; i++)
        cap += 96 + 6 * (strlen(v[i].principal) + strlen(v[i].host));
    char *buf = malloc(cap), *o = buf, *end = buf + cap;
    if (!buf)
        return NULL;
    bool ok = put_raw(&o, end, "{\"version\":1,\"acls\":[");
    for (size_t i = 0; ok && i < n; i++) {
        ok = put_raw(&o, end, i ? ",{\"principal\":" : "{\"principal\":") &&
             put_str(&o, end, v[i].principal) && put_raw(&o, end, ",\"permissionType\":") &&
             put_str(&o, end, acl_perm_zk_name(v[i].perm)) && put_raw(&o, end, ",\"operation\":") &&
             put_str(&o, end, acl_op_zk_name(v[i].op)) && put_raw(&o, end, ",\"host\":") &&
             put_str(&o, end, v[i].host) && put_raw(&o, end, "}");
    }
    ok = ok && put_raw(&o, end, "]}");
    if (!ok) {
        free(buf);
        return NULL;
    }
    *o = '\0';
    return buf;
}
