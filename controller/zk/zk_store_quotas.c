/*
 * controller/zk/zk_store_quotas.c — the configs of users and client ids in
 * ZooKeeper (Kafka's /config/users and /config/clients; see zk_store.h).
 *
 * Owns the znodes /config/users/<user>, /config/users/<user>/clients/<id>
 * and /config/clients/<id> (<user> and <id> may be "<default>"):
 * persistent, payload Kafka's JSON {"version":1,"config":{"key":"value",...}}
 * with string values. Several features keep keys in one znode (client
 * quotas, SCRAM credentials), so a write replaces only the keys it names
 * and keeps the others: read, merge, write conditional on the version
 * read, retried when another writer came in between. After a write the
 * change is announced as a config change notification of entity type
 * "users" or "clients" and entity name the rest of the path
 * ("alice", "alice/clients/app", "app").
 */
#include "controller/zk/zk_store_int.h"
#include "common/say.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Kafka's config JSON ---- */

static const char *zq_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

/* Reads a JSON string at p into a new NUL-terminated *out; returns the
 * position after it, or NULL. Escapes: \" \\ \/ \b \f \n \r \t and \u00XX. */
static const char *zq_str(const char *p, char **out)
{
    p = zq_ws(p);
    if (*p != '"')
        return NULL;
    p++;
    size_t cap = strlen(p) + 1, n = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    while (*p && *p != '"') {
        char c = *p++;
        if (c == '\\') {
            c = *p++;
            switch (c) {
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
                unsigned v;
                if (sscanf(p, "%4x", &v) != 1 || v > 0x7f) {
                    free(s);
                    return NULL;
                }
                p += 4;
                c = (char)v;
                break;
            }
            case '"':
            case '\\':
            case '/':
                break;
            default:
                free(s);
                return NULL;
            }
        }
        s[n++] = c;
    }
    if (*p != '"') {
        free(s);
        return NULL;
    }
    s[n] = '\0';
    *out = s;
    return p + 1;
}

void zk_entity_config_destroy(struct zk_entity_config *c)
{
    for (int i = 0; i < c->n; i++) {
        free(c->keys[i]);
        free(c->values[i]);
    }
    free(c->keys);
    free(c->values);
    memset(c, 0, sizeof(*c));
}

/* Adds (or replaces) key = value, taking both. false on OOM (both freed). */
static bool zq_put(struct zk_entity_config *c, char *key, char *value)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->keys[i], key) == 0) {
            free(key);
            free(c->values[i]);
            c->values[i] = value;
            return true;
        }
    char **k = realloc(c->keys, (size_t)(c->n + 1) * sizeof(*k));
    if (k)
        c->keys = k;
    char **v = k ? realloc(c->values, (size_t)(c->n + 1) * sizeof(*v)) : NULL;
    if (v)
        c->values = v;
    if (!k || !v) {
        free(key);
        free(value);
        return false;
    }
    c->keys[c->n] = key;
    c->values[c->n] = value;
    c->n++;
    return true;
}

/* Parses {"version":1,"config":{...}} (other top-level keys with scalar
 * values are skipped). Numbers as config values are kept as their text. */
static kerr_t zq_parse(const char *text, struct zk_entity_config *c)
{
    memset(c, 0, sizeof(*c));
    const char *p = zq_ws(text);
    if (*p++ != '{')
        return KERR__INVALID;
    for (p = zq_ws(p); *p && *p != '}';) {
        char *key;
        if (!(p = zq_str(p, &key)))
            goto bad;
        p = zq_ws(p);
        if (*p++ != ':') {
            free(key);
            goto bad;
        }
        p = zq_ws(p);
        bool config = strcmp(key, "config") == 0;
        free(key);
        if (config && *p == '{') {
            for (p = zq_ws(p + 1); *p && *p != '}';) {
                char *k, *v = NULL;
                if (!(p = zq_str(p, &k)))
                    goto bad;
                p = zq_ws(p);
                if (*p++ != ':') {
                    free(k);
                    goto bad;
                }
                p = zq_ws(p);
                if (*p == '"') {
                    p = zq_str(p, &v);
                } else {
                    size_t n = strcspn(p, ",}");
                    v = strndup(p, n);
                    while (v && n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\n'))
                        v[--n] = '\0';
                    p += n;
                }
                if (!p || !v || !zq_put(c, k, v)) {
                    if (!p || !v) {
                        free(k);
                        free(v);
                    }
                    goto bad;
                }
                p = zq_ws(p);
                if (*p == ',')
                    p = zq_ws(p + 1);
            }
            if (*p++ != '}')
                goto bad;
        } else {
            p += strcspn(p, ",}"); /* "version": 1 and other scalars */
        }
        p = zq_ws(p);
        if (*p == ',')
            p = zq_ws(p + 1);
    }
    if (*p != '}')
        goto bad;
    return KERR_NONE;
bad:
    zk_entity_config_destroy(c);
    return KERR__INVALID;
}

static bool zq_put_json_str(char **buf, size_t *len, size_t *cap, const char *s)
{
    size_t need = *len + strlen(s) * 6 + 8; /* quotes, and a ',' or ':' after */
    if (need > *cap) {
        size_t nc = need * 2;
        char *nb = realloc(*buf, nc);
        if (!nb)
            return false;
        *buf = nb;
        *cap = nc;
    }
    char *o = *buf + *len;
    *o++ = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            *o++ = '\\';
            *o++ = (char)*p;
        } else if (*p < 0x20) {
            o += sprintf(o, "\\u%04x", *p);
        } else {
            *o++ = (char)*p;
        }
    }
    *o++ = '"';
    *len = (size_t)(o - *buf);
    return true;
}

/* Kafka's JSON for c: new NUL-terminated string, or NULL on OOM. */
static char *zq_encode(const struct zk_entity_config *c)
{
    size_t cap = 64, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    len = (size_t)sprintf(buf, "{\"version\":1,\"config\":{");
    for (int i = 0; i < c->n; i++) {
        if (i > 0)
            buf[len++] = ','; /* zq_put_json_str left room */
        if (!zq_put_json_str(&buf, &len, &cap, c->keys[i]))
            goto oom;
        buf[len++] = ':';
        if (!zq_put_json_str(&buf, &len, &cap, c->values[i]))
            goto oom;
    }
    char *nb = realloc(buf, len + 3);
    if (!nb)
        goto oom;
    memcpy(nb + len, "}}", 3);
    return nb;
oom:
    free(buf);
    return NULL;
}

/* ---- entity paths ---- */

/* A user name or client id as one path component: not empty, no '/', not
 * "." or "..", and under 120 bytes (a user/client entity name then fits a
 * config change notification). */
static bool zq_name_ok(const char *s, size_t n)
{
    return n > 0 && n < 120 && memchr(s, '/', n) == NULL && !(n == 1 && s[0] == '.') &&
           !(n == 2 && s[0] == '.' && s[1] == '.');
}

bool zk_entity_path_ok(const char *entity_path)
{
    const char *p = entity_path;
    if (strncmp(p, "clients/", 8) == 0)
        return zq_name_ok(p + 8, strlen(p + 8));
    if (strncmp(p, "users/", 6) != 0)
        return false;
    p += 6;
    const char *slash = strchr(p, '/');
    if (!slash)
        return zq_name_ok(p, strlen(p));
    return zq_name_ok(p, (size_t)(slash - p)) && strncmp(slash, "/clients/", 9) == 0 &&
           zq_name_ok(slash + 9, strlen(slash + 9));
}

/* Reads /config/<entity_path> into *c and *version (-1: no znode). */
static kerr_t zq_read(zhandle_t *zh, const char *path, struct zk_entity_config *c, int32_t *version)
{
    memset(c, 0, sizeof(*c));
    *version = -1;
    uint8_t *data;
    int len;
    struct Stat st;
    int rc = zs_read(zh, path, &data, &len, &st);
    if (rc == ZNONODE)
        return KERR_NONE;
    if (rc != ZOK)
        return zs_err(rc, "get", path);
    char *text = strndup(data ? (const char *)data : "", len > 0 ? (size_t)len : 0);
    free(data);
    if (!text)
        return KERR__NOMEM;
    kerr_t err = len > 0 ? zq_parse(text, c) : KERR_NONE;
    free(text);
    if (err != KERR_NONE) {
        say_warn("zk", "unreadable entity config path=%s; treated as empty", path);
        memset(c, 0, sizeof(*c));
        err = KERR_NONE;
    }
    *version = st.version;
    return err;
}

kerr_t zk_store_entity_config_get(struct zk_store *zs, const char *entity_path,
                                  struct zk_entity_config *c)
{
    memset(c, 0, sizeof(*c));
    if (!zk_entity_path_ok(entity_path))
        return KERR__INVALID;
    char path[ZS_PATH_MAX];
    snprintf(path, sizeof(path), "/config/%s", entity_path);
    kerr_t err = zs_enter(zs);
    if (err != KERR_NONE)
        return err;
    int32_t version;
    return zs_leave(zs, zq_read(zs->zh, path, c, &version));
}

/* Creates every missing ancestor of path (persistent, empty). */
static void zq_parents(struct zk_store *zs, const char *path)
{
    char buf[ZS_PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = strchr(buf + 1, '/'); p; p = strchr(p + 1, '/')) {
        *p = '\0';
        int rc = zoo_create(zs->zh, buf, NULL, -1, zs_acl(zs, buf), 0, NULL, 0);
        if (rc != ZOK && rc != ZNODEEXISTS)
            (void)zs_err(rc, "create", buf);
        *p = '/';
    }
}

kerr_t zk_store_entity_config_update(struct zk_store *zs, const char *entity_path,
                                     const char *const *keys, const char *const *values, int n)
{
    if (!zk_entity_path_ok(entity_path))
        return KERR__INVALID;
    char path[ZS_PATH_MAX];
    snprintf(path, sizeof(path), "/config/%s", entity_path);
    kerr_t err = zs_enter(zs);
    if (err != KERR_NONE)
        return err;
    err = KERR__EXISTS;
    for (int attempt = 0; err == KERR__EXISTS && attempt < ZS_RETRIES; attempt++) {
        struct zk_entity_config c;
        int32_t version;
        err = zq_read(zs->zh, path, &c, &version);
        if (err != KERR_NONE)
            break;
        for (int i = 0; err == KERR_NONE && i < n; i++) {
            if (values[i]) {
                char *k = strdup(keys[i]), *v = strdup(values[i]);
                if (!k || !v) {
                    free(k);
                    free(v);
                    err = KERR__NOMEM;
                } else if (!zq_put(&c, k, v)) {
                    err = KERR__NOMEM;
                }
                continue;
            }
            for (int j = 0; j < c.n; j++)
                if (strcmp(c.keys[j], keys[i]) == 0) {
                    free(c.keys[j]);
                    free(c.values[j]);
                    c.keys[j] = c.keys[c.n - 1];
                    c.values[j] = c.values[c.n - 1];
                    c.n--;
                    break;
                }
        }
        char *json = err == KERR_NONE ? zq_encode(&c) : NULL;
        zk_entity_config_destroy(&c);
        if (err != KERR_NONE)
            break;
        if (!json) {
            err = KERR__NOMEM;
            break;
        }
        int rc;
        if (version < 0) {
            zq_parents(zs, path);
            rc = zoo_create(zs->zh, path, json, (int)strlen(json), zs_acl(zs, path), 0, NULL, 0);
        } else {
            rc = zoo_set(zs->zh, path, json, (int)strlen(json), version);
        }
        free(json);
        err = zs_err(rc, version < 0 ? "create" : "set", path);
    }
    zs_leave(zs, err);
    if (err != KERR_NONE)
        return err;
    bool users = strncmp(entity_path, "users/", 6) == 0;
    return zk_store_config_change_notify(zs, users ? "users" : "clients",
                                         entity_path + (users ? 6 : 8));
}

/* Appends "<prefix><name>" for each child of path. */
static kerr_t zq_list(zhandle_t *zh, const char *path, const char *prefix, char ***out, int *n,
                      size_t *cap)
{
    char **names;
    int nn;
    kerr_t err = zs_children(zh, path, &names, &nn);
    if (err == KERR__NOENT)
        return KERR_NONE;
    if (err != KERR_NONE)
        return err;
    for (int i = 0; err == KERR_NONE && i < nn; i++) {
        if ((size_t)*n == *cap) {
            size_t nc = *cap ? *cap * 2 : 16;
            char **v = realloc(*out, nc * sizeof(*v));
            if (!v) {
                err = KERR__NOMEM;
                break;
            }
            *out = v;
            *cap = nc;
        }
        size_t len = strlen(prefix) + strlen(names[i]) + 1;
        char *s = malloc(len);
        if (!s) {
            err = KERR__NOMEM;
            break;
        }
        snprintf(s, len, "%s%s", prefix, names[i]);
        (*out)[(*n)++] = s;
    }
    zk_names_free(names, nn);
    return err;
}

kerr_t zk_store_entity_list(struct zk_store *zs, char ***out, int *n)
{
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    kerr_t err = zs_enter(zs);
    if (err != KERR_NONE)
        return err;
    err = zq_list(zs->zh, "/config/clients", "clients/", out, n, &cap);
    int users_from = *n;
    if (err == KERR_NONE)
        err = zq_list(zs->zh, "/config/users", "users/", out, n, &cap);
    int users_to = *n;
    for (int i = users_from; err == KERR_NONE && i < users_to; i++) {
        char path[ZS_PATH_MAX], prefix[ZS_PATH_MAX];
        snprintf(path, sizeof(path), "/config/%s/clients", (*out)[i]);
        snprintf(prefix, sizeof(prefix), "%s/clients/", (*out)[i]);
        err = zq_list(zs->zh, path, prefix, out, n, &cap);
    }
    if (err != KERR_NONE) {
        zk_names_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return zs_leave(zs, err);
}
