/*
 * controller/zk/zk_store_acl.c — ACLs in ZooKeeper, in Kafka's layout (see
 * zk_store.h "ACLs").
 *
 * Owns /kafka-acl/<Type>/<name> and /kafka-acl-extended/prefixed/<Type>/<name>
 * (persistent, Kafka's JSON, written conditionally on the version read and
 * deleted when the last ACL of the resource goes), and the change lists
 * /kafka-acl-changes and /kafka-acl-extended-changes (persistent sequential
 * acl_changes_<seq>, one per resource pattern written). Readers watch the
 * children of both change lists.
 *
 * Every call works on many resource patterns at once, pipelined through the
 * store's request window (struct zsb, zk_store_batch.c): reads are
 * asynchronous gets, writes asynchronous multis of the conditional write
 * and its notification, one per pattern, each independent of the others
 * (a conflict on one pattern fails that pattern alone). A request of a
 * thousand patterns then costs a few round trips, not thousands.
 *
 * Trimming the change lists: a notification's sequence number is the list's
 * child version, which every create and every delete of a child advances
 * by one, so among any ZK_ACL_TRIM_EVERY notifications in a row one has a
 * multiple for its number (a trim's deletes may skip one, the creates
 * after it reach the next). The writer that made that one lists the
 * children and deletes all but the newest ZK_ACL_CHANGES_KEEP (pipelined;
 * a child another writer deleted first is no error). A list so holds about
 * ZK_ACL_CHANGES_KEEP to ZK_ACL_CHANGES_KEEP + ZK_ACL_TRIM_EVERY
 * notifications, plus what concurrent writers add.
 *
 * Threads: the calling thread holds op_lock for the whole call, sends and
 * waits; ZooKeeper's completion thread runs zsa_*_done(), which record the
 * result (copying a read's payload) and count down.
 */
#include "controller/zk/zk_store_int.h"
#include "common/say.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZSA_CHANGE_PREFIX "acl_changes_"
#define ZSA_CREATED_MAX 96 /* a notification's path: its list, the prefix, 10 digits */

/* One asynchronous read and its outcome. */
struct zsa_read {
    struct zsb *b;
    int rc;          /* ZooKeeper rc: set by the completion (or the sender when it
                        could not send); read after zsb_wait() */
    bool nomem;      /* the payload could not be copied */
    char *json;      /* new: the payload, NUL-terminated */
    size_t len;      /* its length */
    int32_t version; /* the znode's version */
};

/* One pattern's multi (write + notification) and its outcome. */
struct zsa_write {
    struct zsb *b;
    int rc;                        /* as in struct zsa_read */
    zoo_op_t ops[2];               /* the write, then the notification */
    zoo_op_result_t res[2];        /* filled by the completion */
    struct Stat st;                /* the set's result */
    char created[ZSA_CREATED_MAX]; /* the notification's path as created */
};

/* The znode of a resource pattern; false when type or name cannot be a
 * path component. */
static bool zsa_path(char *out, size_t cap, bool prefixed, const char *type, const char *name)
{
    if (!type || !name || !type[0] || strchr(type, '/') || !name[0] || strchr(name, '/') ||
        strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return false;
    int n = snprintf(out, cap, "%s/%s/%s",
                     prefixed ? ZK_PATH_ACL_EXTENDED "/prefixed" : ZK_PATH_ACL, type, name);
    return n > 0 && (size_t)n < cap;
}

static void zsa_read_done(int rc, const char *value, int value_len, const struct Stat *stat,
                          const void *data)
{
    struct zsa_read *r = (struct zsa_read *)data;
    r->rc = rc;
    if (rc == ZOK) {
        size_t len = value && value_len > 0 ? (size_t)value_len : 0;
        r->json = malloc(len + 1);
        if (r->json) {
            if (len)
                memcpy(r->json, value, len);
            r->json[len] = '\0';
            r->len = len;
        }
        r->nomem = !r->json;
        r->version = stat->version;
    }
    zsb_count_down(r->b);
}

/* Sends the read of path (copied by the client before it returns). */
static void zsa_send_read(struct zk_store *zs, struct zsb *b, struct zsa_read *r, const char *path)
{
    r->b = b;
    zsb_reserve(b);
    /* r->rc is the completion's: it may run before zoo_aget returns */
    int rc = zoo_aget(zs->zh, path, 0, zsa_read_done, r);
    if (rc != ZOK) {
        r->rc = rc;
        zsb_unreserve(b);
    }
}

kerr_t zk_store_acl_get_many(struct zk_store *zs, struct zk_acl_rec *v, int n)
{
    if (n <= 0)
        return KERR_NONE;
    struct zsa_read *r = calloc((size_t)n, sizeof(*r));
    if (!r)
        return KERR__NOMEM;
    kerr_t err = zs_enter(zs);
    for (int i = 0; i < n; i++) {
        v[i].json = NULL;
        v[i].len = 0;
        v[i].version = ZK_VERSION_NEW;
        v[i].err = err;
    }
    if (err != KERR_NONE) {
        free(r);
        return err;
    }
    struct zsb b;
    zsb_init(&b);
    for (int i = 0; i < n; i++) {
        char path[ZS_PATH_MAX];
        if (zsa_path(path, sizeof(path), v[i].prefixed, v[i].type, v[i].name))
            zsa_send_read(zs, &b, &r[i], path);
        else
            v[i].err = KERR__INVALID;
    }
    zsb_wait(&b, 0);
    zsb_destroy(&b);
    bool logged = false;
    for (int i = 0; i < n; i++) {
        if (v[i].err != KERR_NONE || r[i].rc == ZNONODE)
            continue;
        if (r[i].rc != ZOK) {
            char path[ZS_PATH_MAX];
            zsa_path(path, sizeof(path), v[i].prefixed, v[i].type, v[i].name);
            v[i].err = logged ? KERR__ZK : zs_err(r[i].rc, "get", path);
            logged = true;
        } else if (r[i].nomem) {
            v[i].err = KERR__NOMEM;
        } else {
            v[i].json = r[i].json;
            v[i].len = r[i].len;
            v[i].version = r[i].version;
        }
    }
    free(r);
    return zs_leave(zs, KERR_NONE);
}

/* Writes a notification's payload for a pattern into out (false if it does
 * not fit): "<Type>:<name>" for a literal one, Kafka's JSON for a prefixed
 * one. */
static bool zsa_payload(char *out, size_t cap, bool prefixed, const char *type, const char *name)
{
    int n;
    if (!prefixed) {
        n = snprintf(out, cap, "%s:%s", type, name);
        return n > 0 && (size_t)n < cap;
    }
    /* names are checked by the caller (acl.h): no quotes or backslashes
     * reach a path, but escape them anyway */
    char esc[2 * ZS_PATH_MAX], *o = esc;
    for (const char *p = name; *p && o < esc + sizeof(esc) - 3; p++) {
        if (*p == '"' || *p == '\\')
            *o++ = '\\';
        *o++ = *p;
    }
    *o = '\0';
    n = snprintf(out, cap,
                 "{\"version\":1,\"resourceType\":\"%s\",\"name\":\"%s\","
                 "\"patternType\":\"PREFIXED\"}",
                 type, esc);
    return n > 0 && (size_t)n < cap;
}

static void zsa_ignore_done(int rc, const void *data)
{
    (void)rc;
    zsb_count_down((struct zsb *)data);
}

static void zsa_ignore_string_done(int rc, const char *value, const void *data)
{
    (void)value;
    zsa_ignore_done(rc, data);
}

static void zsa_write_done(int rc, const void *data)
{
    struct zsa_write *w = (struct zsa_write *)data;
    w->rc = rc;
    zsb_count_down(w->b);
}

/* Sends the create of a type's znode under its root (its outcome does not
 * matter: it exists already, or the pattern's create after it fails) when it
 * is not the parent sent last (*last). */
static void zsa_send_parent(struct zk_store *zs, struct zsb *b, const char *path, char *last,
                            size_t cap)
{
    char parent[ZS_PATH_MAX];
    snprintf(parent, sizeof(parent), "%.*s", (int)(strrchr(path, '/') - path), path);
    if (strcmp(parent, last) == 0)
        return;
    snprintf(last, cap, "%s", parent);
    zsb_reserve(b);
    if (zoo_acreate(zs->zh, parent, NULL, -1, zs_acl(zs, parent), 0, zsa_ignore_string_done, b) !=
        ZOK)
        zsb_unreserve(b);
}

/* Sends one record's multi; false (w->rc set) when it could not be built. */
static bool zsa_send_write(struct zk_store *zs, struct zsb *b, const struct zk_acl_rec *rec,
                           struct zsa_write *w, char *last_parent, size_t cap)
{
    char path[ZS_PATH_MAX], list[ZS_PATH_MAX], payload[3 * ZS_PATH_MAX];
    w->b = b;
    w->rc = ZBADARGUMENTS;
    if (!zsa_path(path, sizeof(path), rec->prefixed, rec->type, rec->name) ||
        !zsa_payload(payload, sizeof(payload), rec->prefixed, rec->type, rec->name))
        return false;
    const char *changes = rec->prefixed ? ZK_PATH_ACL_EXTENDED_CHANGES : ZK_PATH_ACL_CHANGES;
    snprintf(list, sizeof(list), "%s/" ZSA_CHANGE_PREFIX, changes);
    if (rec->json && rec->version == ZK_VERSION_NEW) {
        zsa_send_parent(zs, b, path, last_parent, cap);
        zoo_create_op_init(&w->ops[0], path, rec->json, (int)rec->len, zs_acl(zs, path), 0, NULL,
                           0);
    } else if (rec->json) {
        zoo_set_op_init(&w->ops[0], path, rec->json, (int)rec->len, rec->version, &w->st);
    } else {
        zoo_delete_op_init(&w->ops[0], path, rec->version);
    }
    zoo_create_op_init(&w->ops[1], list, payload, (int)strlen(payload), zs_acl(zs, list),
                       ZOO_PERSISTENT_SEQUENTIAL, w->created, (int)sizeof(w->created));
    zsb_reserve(b);
    /* the client serialises paths and payloads before it returns; res, st
     * and created stay with w until the completion */
    int rc = zoo_amulti(zs->zh, 2, w->ops, w->res, zsa_write_done, w);
    if (rc != ZOK) {
        w->rc = rc;
        zsb_unreserve(b);
    }
    return true;
}

/* Deletes all but the newest ZK_ACL_CHANGES_KEEP notifications of list.
 * op_lock held; the window b is idle. */
static void zsa_trim(struct zk_store *zs, struct zsb *b, const char *list)
{
    char **names;
    int n;
    if (zs_children(zs->zh, list, &names, &n) != KERR_NONE)
        return;
    /* sorted by name: fixed-width sequence numbers, oldest first */
    for (int i = 0; i < n - ZK_ACL_CHANGES_KEEP; i++) {
        char path[ZS_PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", list, names[i]);
        zsb_reserve(b);
        if (zoo_adelete(zs->zh, path, -1, zsa_ignore_done, b) != ZOK)
            zsb_unreserve(b);
    }
    zsb_wait(b, 0);
    zk_names_free(names, n);
}

/* The sequence number of a created notification's path, or -1. */
static long long zsa_seq(const char *created)
{
    const char *u = strrchr(created, '_');
    if (!u || !u[1])
        return -1;
    char *end;
    long long seq = strtoll(u + 1, &end, 10);
    return *end == '\0' ? seq : -1;
}

/* The outcome of a record's multi; *trim[0/1] set when its notification
 * (literal / prefixed list) falls on a trim. Logs the first unexpected
 * failure of a call only (*logged). */
static kerr_t zsa_write_result(const struct zk_acl_rec *rec, const struct zsa_write *w,
                               bool trim[2], bool *logged)
{
    if (w->rc == ZOK) {
        long long seq = zsa_seq(w->created);
        if (seq >= 0 && seq % ZK_ACL_TRIM_EVERY == 0)
            trim[rec->prefixed] = true;
        return KERR_NONE;
    }
    if (w->rc == ZBADARGUMENTS)
        return KERR__INVALID;
    int e = w->res[0].err;
    if (e == ZNODEEXISTS || e == ZBADVERSION || e == ZNONODE)
        return KERR__EXISTS;
    if (*logged)
        return KERR__ZK;
    *logged = true;
    char path[ZS_PATH_MAX];
    zsa_path(path, sizeof(path), rec->prefixed, rec->type, rec->name);
    say_warn("zk", "cannot write ACL znode path=%s rc=%d write=%d notification=%d", path, w->rc, e,
             w->res[1].err);
    return KERR__ZK;
}

kerr_t zk_store_acl_set_many(struct zk_store *zs, struct zk_acl_rec *v, int n)
{
    if (n <= 0)
        return KERR_NONE;
    struct zsa_write *w = calloc((size_t)n, sizeof(*w));
    if (!w)
        return KERR__NOMEM;
    kerr_t err = zs_enter(zs);
    for (int i = 0; i < n; i++)
        v[i].err = err;
    if (err != KERR_NONE) {
        free(w);
        return err;
    }
    struct zsb b;
    zsb_init(&b);
    char last_parent[ZS_PATH_MAX] = "";
    for (int i = 0; i < n; i++) {
        if (!v[i].json && v[i].version == ZK_VERSION_NEW)
            continue; /* no znode, none wanted */
        if (!zsa_send_write(zs, &b, &v[i], &w[i], last_parent, sizeof(last_parent)))
            v[i].err = KERR__INVALID;
    }
    zsb_wait(&b, 0);
    bool trim[2] = {false, false}, logged = false;
    for (int i = 0; i < n; i++)
        if (v[i].err == KERR_NONE && (v[i].json || v[i].version != ZK_VERSION_NEW))
            v[i].err = zsa_write_result(&v[i], &w[i], trim, &logged);
    if (trim[0])
        zsa_trim(zs, &b, ZK_PATH_ACL_CHANGES);
    if (trim[1])
        zsa_trim(zs, &b, ZK_PATH_ACL_EXTENDED_CHANGES);
    zsb_destroy(&b);
    free(w);
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

/* Appends a node for root/type/name (no payload yet) to *v. */
static kerr_t zsa_push_node(struct zk_acl_node **v, int *n, int *cap, bool prefixed,
                            const char *type, const char *name)
{
    if (*n == *cap) {
        int nc = *cap ? 2 * *cap : 16;
        struct zk_acl_node *g = realloc(*v, (size_t)nc * sizeof(**v));
        if (!g)
            return KERR__NOMEM;
        *v = g;
        *cap = nc;
    }
    struct zk_acl_node *a = &(*v)[*n];
    memset(a, 0, sizeof(*a));
    a->prefixed = prefixed;
    snprintf(a->type, sizeof(a->type), "%s", type);
    a->name = strdup(name);
    if (!a->name)
        return KERR__NOMEM;
    (*n)++;
    return KERR_NONE;
}

/* Lists the resources under root/<type>/ for every type into *v (names
 * only). op_lock held. */
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
            if (zsa_path(path, sizeof(path), prefixed, types[t], names[i]))
                err = zsa_push_node(v, n, cap, prefixed, types[t], names[i]);
        }
        zk_names_free(names, nn);
    }
    zk_names_free(types, nt);
    return err;
}

/* Reads the payload of every listed node, pipelined, and drops the nodes
 * deleted since they were listed. op_lock held. */
static kerr_t zsa_read_nodes(struct zk_store *zs, struct zk_acl_node *v, int *n)
{
    if (*n == 0)
        return KERR_NONE;
    struct zsa_read *r = calloc((size_t)*n, sizeof(*r));
    if (!r)
        return KERR__NOMEM;
    struct zsb b;
    zsb_init(&b);
    for (int i = 0; i < *n; i++) {
        char path[ZS_PATH_MAX];
        zsa_path(path, sizeof(path), v[i].prefixed, v[i].type, v[i].name); /* checked listing */
        zsa_send_read(zs, &b, &r[i], path);
    }
    zsb_wait(&b, 0);
    zsb_destroy(&b);
    kerr_t err = KERR_NONE;
    int keep = 0;
    for (int i = 0; i < *n; i++) {
        if (err == KERR_NONE && r[i].rc != ZOK && r[i].rc != ZNONODE) {
            char path[ZS_PATH_MAX];
            zsa_path(path, sizeof(path), v[i].prefixed, v[i].type, v[i].name);
            err = zs_err(r[i].rc, "get", path);
        } else if (err == KERR_NONE && r[i].nomem) {
            err = KERR__NOMEM;
        }
        if (r[i].rc == ZOK && r[i].json) {
            v[i].json = r[i].json;
            v[i].len = r[i].len;
            v[keep++] = v[i];
        } else {
            free(v[i].name);
        }
    }
    *n = keep;
    free(r);
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
    if (err == KERR_NONE)
        err = zsa_read_nodes(zs, *out, n);
    if (err != KERR_NONE) {
        zk_acl_nodes_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return zs_leave(zs, err);
}

kerr_t zk_store_acl_changes_version(struct zk_store *zs, int64_t *version)
{
    *version = -1;
    kerr_t err = zs_enter(zs);
    if (err != KERR_NONE)
        return err;
    static const char *const lists[] = {ZK_PATH_ACL_CHANGES, ZK_PATH_ACL_EXTENDED_CHANGES};
    uint64_t v = 0;
    for (size_t i = 0; i < 2 && err == KERR_NONE; i++) {
        struct Stat st = {0};
        int rc = zoo_exists(zs->zh, lists[i], 0, &st);
        if (rc != ZOK && rc != ZNONODE)
            err = zs_err(rc, "exists", lists[i]);
        v = v << 31 | ((uint32_t)st.cversion & 0x7fffffffu);
    }
    *version = (int64_t)v;
    if (err != KERR_NONE)
        *version = -1;
    return zs_leave(zs, err);
}
