/*
 * controller/zk/zk_store_acl.c — ACLs in ZooKeeper, in Kafka's layout (see
 * zk_store.h "ACLs").
 *
 * Owns /kafka-acl/<Type>/<name> and /kafka-acl-extended/prefixed/<Type>/<name>
 * (persistent, Kafka's JSON, written conditionally on the version read and
 * deleted when the last ACL of the resource goes), and the change lists
 * /kafka-acl-changes and /kafka-acl-extended-changes (persistent sequential
 * acl_changes_<seq>, the newest ZK_ACL_CHANGES_KEEP kept). Readers watch the
 * children of both change lists.
 */
#include "controller/zk/zk_store_int.h"
#include "common/say.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZSA_CHANGE_PREFIX "acl_changes_"

/* The znode of a resource pattern; false when type or name cannot be a
 * path component. */
static bool zsa_path(char *out, size_t cap, bool prefixed, const char *type, const char *name)
{
    if (!type[0] || strchr(type, '/') || !name[0] || strchr(name, '/') || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0)
        return false;
    int n = snprintf(out, cap, "%s/%s/%s",
                     prefixed ? ZK_PATH_ACL_EXTENDED "/prefixed" : ZK_PATH_ACL, type, name);
    return n > 0 && (size_t)n < cap;
}

kerr_t zk_store_acl_get(struct zk_store *zs, bool prefixed, const char *type, const char *name,
                        char **json, size_t *len, int32_t *version)
{
    *json = NULL;
    *len = 0;
    *version = ZK_VERSION_NEW;
    char path[ZS_PATH_MAX];
    if (!zsa_path(path, sizeof(path), prefixed, type, name))
        return KERR__INVALID;
    kerr_t err = zs_enter(zs);
    if (err != KERR_NONE)
        return err;
    uint8_t *data;
    int n;
    struct Stat st;
    int rc = zs_read(zs->zh, path, &data, &n, &st);
    if (rc == ZNONODE)
        return zs_leave(zs, KERR_NONE);
    if (rc != ZOK)
        return zs_leave(zs, zs_err(rc, "get", path));
    char *s = malloc((size_t)(n > 0 ? n : 0) + 1);
    if (!s) {
        free(data);
        return zs_leave(zs, KERR__NOMEM);
    }
    if (n > 0)
        memcpy(s, data, (size_t)n);
    s[n > 0 ? n : 0] = '\0';
    free(data);
    *json = s;
    *len = (size_t)(n > 0 ? n : 0);
    *version = st.version;
    return zs_leave(zs, KERR_NONE);
}

static int zsa_seq_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b); /* fixed-width counters */
}

/* Adds a notification to list and trims it. op_lock held. */
static void zsa_notify(struct zk_store *zs, const char *list, const char *payload)
{
    char path[ZS_PATH_MAX];
    snprintf(path, sizeof(path), "%s/" ZSA_CHANGE_PREFIX, list);
    int rc = zoo_create(zs->zh, path, payload, (int)strlen(payload), zs_acl(zs, path),
                        ZOO_PERSISTENT_SEQUENTIAL, NULL, 0);
    if (rc != ZOK) {
        (void)zs_err(rc, "create", path);
        return;
    }
    char **names;
    int n;
    if (zs_children(zs->zh, list, &names, &n) != KERR_NONE)
        return;
    qsort(names, (size_t)n, sizeof(*names), zsa_seq_cmp);
    for (int i = 0; i < n - ZK_ACL_CHANGES_KEEP; i++) {
        snprintf(path, sizeof(path), "%s/%s", list, names[i]);
        rc = zoo_delete(zs->zh, path, -1);
        if (rc != ZOK && rc != ZNONODE)
            (void)zs_err(rc, "delete", path);
    }
    zk_names_free(names, n);
}

kerr_t zk_store_acl_set(struct zk_store *zs, bool prefixed, const char *type, const char *name,
                        const char *json, int32_t version)
{
    char path[ZS_PATH_MAX], parent[ZS_PATH_MAX];
    if (!zsa_path(path, sizeof(path), prefixed, type, name))
        return KERR__INVALID;
    snprintf(parent, sizeof(parent), "%.*s", (int)(strrchr(path, '/') - path), path);
    kerr_t err = zs_enter(zs);
    if (err != KERR_NONE)
        return err;
    int rc;
    if (json == NULL) {
        rc = version == ZK_VERSION_NEW ? ZOK : zoo_delete(zs->zh, path, version);
    } else if (version == ZK_VERSION_NEW) {
        rc = zoo_create(zs->zh, parent, NULL, -1, zs_acl(zs, parent), 0, NULL, 0);
        if (rc == ZOK || rc == ZNODEEXISTS)
            rc = zoo_create(zs->zh, path, json, (int)strlen(json), zs_acl(zs, path), 0, NULL, 0);
    } else {
        rc = zoo_set(zs->zh, path, json, (int)strlen(json), version);
    }
    if (rc == ZNODEEXISTS || rc == ZBADVERSION || rc == ZNONODE)
        return zs_leave(zs, KERR__EXISTS);
    if (rc != ZOK)
        return zs_leave(zs, zs_err(rc, "write", path));
    char payload[3 * ZS_PATH_MAX];
    if (prefixed) {
        /* names are checked by the caller (acl.h): no quotes or backslashes
         * reach a path, but escape them anyway */
        char esc[2 * ZS_PATH_MAX], *o = esc;
        for (const char *p = name; *p && o < esc + sizeof(esc) - 3; p++) {
            if (*p == '"' || *p == '\\')
                *o++ = '\\';
            *o++ = *p;
        }
        *o = '\0';
        snprintf(payload, sizeof(payload),
                 "{\"version\":1,\"resourceType\":\"%s\",\"name\":\"%s\","
                 "\"patternType\":\"PREFIXED\"}",
                 type, esc);
        zsa_notify(zs, ZK_PATH_ACL_EXTENDED_CHANGES, payload);
    } else {
        snprintf(payload, sizeof(payload), "%s:%s", type, name);
        zsa_notify(zs, ZK_PATH_ACL_CHANGES, payload);
    }
    return zs_leave(zs, KERR_NONE);
}

void zk_acl_nodes_free(struct zk_acl_node *v, int n)
{
    for (int i = 0; v && i < n; i++) {
        free(v[i].name);
        free(v[i].json);
    }
    free(v);
}

/* Reads the resources under root/<type>/ for every type into *v. op_lock held. */
static kerr_t zsa_list_root(struct zk_store *zs, const char *root, bool prefixed,
                            struct zk_acl_node **v, int *n, int *cap)
{
    char **types;
    int nt;
    kerr_t err = zs_children(zs->zh, root, &types, &nt);
    if (err == KERR__NOENT)
        return KERR_NONE;
    for (int t = 0; err == KERR_NONE && t < nt; t++) {
        if (strlen(types[t]) >= sizeof((*v)->type))
            continue;
        char dir[ZS_PATH_MAX];
        snprintf(dir, sizeof(dir), "%s/%s", root, types[t]);
        char **names;
        int nn;
        kerr_t e = zs_children(zs->zh, dir, &names, &nn);
        if (e == KERR__NOENT)
            continue;
        if (e != KERR_NONE) {
            err = e;
            break;
        }
        for (int i = 0; err == KERR_NONE && i < nn; i++) {
            char path[ZS_PATH_MAX];
            if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= (int)sizeof(path))
                continue;
            uint8_t *data;
            int len;
            struct Stat st;
            int rc = zs_read(zs->zh, path, &data, &len, &st);
            if (rc == ZNONODE)
                continue;
            if (rc != ZOK) {
                err = zs_err(rc, "get", path);
                break;
            }
            if (*n == *cap) {
                int nc = *cap ? 2 * *cap : 16;
                struct zk_acl_node *g = realloc(*v, (size_t)nc * sizeof(**v));
                if (!g) {
                    free(data);
                    err = KERR__NOMEM;
                    break;
                }
                *v = g;
                *cap = nc;
            }
            struct zk_acl_node *a = &(*v)[*n];
            memset(a, 0, sizeof(*a));
            a->prefixed = prefixed;
            snprintf(a->type, sizeof(a->type), "%s", types[t]);
            a->name = strdup(names[i]);
            a->len = (size_t)(len > 0 ? len : 0);
            a->json = malloc(a->len + 1);
            if (a->json) {
                if (a->len)
                    memcpy(a->json, data, a->len);
                a->json[a->len] = '\0';
            }
            free(data);
            (*n)++;
            if (!a->name || !a->json)
                err = KERR__NOMEM;
        }
        zk_names_free(names, nn);
    }
    zk_names_free(types, nt);
    return err;
}

kerr_t zk_store_acl_list(struct zk_store *zs, struct zk_acl_node **out, int *n)
{
    *out = NULL;
    *n = 0;
    int cap = 0;
    kerr_t err = zs_enter(zs);
    if (err != KERR_NONE)
        return err;
    err = zsa_list_root(zs, ZK_PATH_ACL, false, out, n, &cap);
    if (err == KERR_NONE)
        err = zsa_list_root(zs, ZK_PATH_ACL_EXTENDED "/prefixed", true, out, n, &cap);
    if (err != KERR_NONE) {
        zk_acl_nodes_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return zs_leave(zs, err);
}
