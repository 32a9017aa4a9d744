/*
 * controller/zk/zk_store_config.c — config change notifications in ZooKeeper
 * (Kafka's /config/changes; see zk_store.h).
 *
 * Owns the znodes /config/changes/config_change_<seq>: persistent
 * sequential, ZooKeeper's 10-digit counter as <seq>, payload a ConfigChange
 * (proto/zk.proto) naming the entity whose /config/<type>/<name> changed;
 * for users and clients, Kafka's own JSON {"version":2,"entity_path":
 * "users/<user>[/clients/<id>]"} or "clients/<id>" (each name encoded as in
 * the znode path, zk_entity_name_encode()), which readers accept for any
 * entity type, so a change Kafka's tools notify is seen too.
 * The writer of a config znode adds one after its write; readers watch the
 * children of /config/changes and re-read the named config for each
 * notification newer than the last they handled. The writer trims the
 * list to the newest ZK_CONFIG_CHANGES_KEEP.
 *
 * Also owns /config/brokers/<id> and /config/brokers/<default> (dynamic
 * broker configs): persistent, payload a TopicConfig (the key/value map),
 * written conditionally on the version read.
 */
#include "controller/zk/zk_codec.h"
#include "controller/zk/zk_store_int.h"
#include "common/say.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZSC_PREFIX "config_change_"
#define ZSC_PATH_MAX ZS_PATH_MAX

/* The sequence number of a child named config_change_<digits>, or -1. */
static int64_t zsc_seq(const char *name)
{
    size_t n = strlen(ZSC_PREFIX);
    if (strncmp(name, ZSC_PREFIX, n) != 0 || name[n] == '\0')
        return -1;
    int64_t v = 0;
    for (const char *p = name + n; *p; p++) {
        if (*p < '0' || *p > '9' || v > INT64_MAX / 10 - 10)
            return -1;
        v = v * 10 + (*p - '0');
    }
    return v;
}

static int zsc_seq_cmp(const void *a, const void *b)
{
    int64_t x = zsc_seq(*(char *const *)a), y = zsc_seq(*(char *const *)b);
    return (x > y) - (x < y);
}

/* Deletes all but the newest ZK_CONFIG_CHANGES_KEEP notifications (best
 * effort: another writer may be trimming too). op_lock held. */
static void zsc_trim(struct zk_store *zs)
{
    char **names;
    int n;
    if (zs_children(zs->zh, ZK_PATH_CONFIG_CHANGES, &names, &n) != KERR_NONE)
        return;
    qsort(names, (size_t)n, sizeof(*names), zsc_seq_cmp);
    for (int i = 0; i < n - ZK_CONFIG_CHANGES_KEEP; i++) {
        char path[ZSC_PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", ZK_PATH_CONFIG_CHANGES, names[i]);
        int rc = zoo_delete(zs->zh, path, -1);
        if (rc != ZOK && rc != ZNONODE)
            (void)zs_err(rc, "delete", path);
    }
    zk_names_free(names, n);
}

/* Kafka's notification: {"version":2,"entity_path":"<type>/<name>"}, the
 * name as it is in the znode path (already encoded by the caller). */
static kerr_t zsc_json_encode(const struct zk_config_change *c, uint8_t **data, size_t *len)
{
    const char *enc = c->entity_name;
    for (const char *p = enc; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
            return KERR__INVALID; /* never in an encoded name */
    size_t cap = strlen(enc) + 96;
    char *out = malloc(cap);
    if (!out)
        return KERR__NOMEM;
    int n = snprintf(out, cap, "{\"version\":2,\"entity_path\":\"%s/%s\"}", c->entity_type, enc);
    *data = (uint8_t *)out;
    *len = (size_t)n;
    return KERR_NONE;
}

/* Reads Kafka's JSON notification into c (entity_path "<type>/<name>",
 * the name kept as written: encoded as in the znode path). */
static bool zsc_json_decode(const uint8_t *data, size_t len, struct zk_config_change *c)
{
    static const char key[] = "\"entity_path\"";
    char text[1024];
    if (len >= sizeof(text))
        return false;
    memcpy(text, data, len);
    text[len] = '\0';
    const char *p = strstr(text, key);
    if (!p)
        return false;
    p += sizeof(key) - 1;
    while (*p == ' ' || *p == ':')
        p++;
    if (*p++ != '"')
        return false;
    const char *end = strchr(p, '"');
    const char *slash = end ? memchr(p, '/', (size_t)(end - p)) : NULL;
    if (!slash || slash == p || (size_t)(slash - p) >= sizeof(c->entity_type))
        return false;
    memcpy(c->entity_type, p, (size_t)(slash - p));
    c->entity_type[slash - p] = '\0';
    size_t el = (size_t)(end - slash - 1);
    if (el == 0 || el >= sizeof(c->entity_name))
        return false;
    memcpy(c->entity_name, slash + 1, el);
    c->entity_name[el] = '\0';
    return true;
}

kerr_t zk_store_config_change_notify(struct zk_store *zs, const char *entity_type,
                                     const char *entity_name)
{
    struct zk_config_change c = {0};
    if (snprintf(c.entity_type, sizeof(c.entity_type), "%s", entity_type) >=
            (int)sizeof(c.entity_type) ||
        snprintf(c.entity_name, sizeof(c.entity_name), "%s", entity_name) >=
            (int)sizeof(c.entity_name))
        return KERR__INVALID;
    bool kafka_json = strcmp(entity_type, "users") == 0 || strcmp(entity_type, "clients") == 0;
    if (!kafka_json && strlen(entity_name) > TOPIC_NAME_MAX_LEN)
        return KERR__INVALID; /* a topic or broker entity */
    uint8_t *data;
    size_t len;
    kerr_t err = kafka_json ? zsc_json_encode(&c, &data, &len)
                            : zk_codec_config_change_encode(&c, &data, &len);
    if (err != KERR_NONE)
        return err;
    err = zs_enter(zs);
    if (err == KERR_NONE) {
        char made[ZSC_PATH_MAX];
        int rc = zoo_create(zs->zh, ZK_PATH_CONFIG_CHANGES "/" ZSC_PREFIX, (const char *)data,
                            (int)len, zs_acl(zs, ZK_PATH_CONFIG_CHANGES), ZOO_PERSISTENT_SEQUENTIAL,
                            made, (int)sizeof(made));
        err = zs_err(rc, "create", ZK_PATH_CONFIG_CHANGES "/" ZSC_PREFIX);
        if (err == KERR_NONE)
            zsc_trim(zs);
        zs_leave(zs, err);
    }
    free(data);
    return err;
}

/* Reads the notification `name` into *c. false when gone or unreadable. */
static bool zsc_read(zhandle_t *zh, const char *name, struct zk_config_change *c)
{
    char path[ZSC_PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", ZK_PATH_CONFIG_CHANGES, name);
    uint8_t *data;
    int len;
    struct Stat st;
    int rc = zs_read(zh, path, &data, &len, &st);
    if (rc != ZOK) {
        if (rc != ZNONODE)
            (void)zs_err(rc, "get", path);
        return false;
    }
    memset(c, 0, sizeof(*c));
    size_t n = (size_t)(len > 0 ? len : 0);
    kerr_t err = n > 0 && data[0] == '{' ? (zsc_json_decode(data, n, c) ? KERR_NONE : KERR__CORRUPT)
                                         : zk_codec_config_change_decode(data, n, c);
    free(data);
    if (err != KERR_NONE) {
        say_warn("zk", "ignoring unreadable config change notification path=%s", path);
        return false;
    }
    c->seq = zsc_seq(name);
    return true;
}

kerr_t zk_store_config_changes_since(struct zk_store *zs, int64_t after,
                                     struct zk_config_change **out, int *n, int64_t *oldest,
                                     int64_t *newest)
{
    *out = NULL;
    *n = 0;
    *oldest = *newest = -1;
    char **names;
    int nn;
    kerr_t err = zs_enter(zs);
    if (err != KERR_NONE)
        return err;
    err = zs_children(zs->zh, ZK_PATH_CONFIG_CHANGES, &names, &nn);
    if (err != KERR_NONE)
        return zs_leave(zs, err);
    qsort(names, (size_t)nn, sizeof(*names), zsc_seq_cmp);
    struct zk_config_change *v = calloc((size_t)(nn > 0 ? nn : 1), sizeof(*v));
    if (v == NULL)
        err = KERR__NOMEM;
    for (int i = 0; v && i < nn; i++) {
        int64_t seq = zsc_seq(names[i]);
        if (seq < 0)
            continue;
        if (*oldest < 0)
            *oldest = seq;
        *newest = seq;
        if (seq > after && zsc_read(zs->zh, names[i], &v[*n]))
            (*n)++;
    }
    zk_names_free(names, nn);
    *out = v;
    return zs_leave(zs, err);
}

/* A broker config entity: decimal id or the default's name. */
static bool zsc_entity_ok(const char *e)
{
    if (strcmp(e, ZK_BROKER_CONFIG_DEFAULT) == 0)
        return true;
    if (!*e || strlen(e) > 10)
        return false;
    for (const char *p = e; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

kerr_t zk_store_broker_config_get(struct zk_store *zs, const char *entity, struct zk_topic *t)
{
    memset(t, 0, sizeof(*t));
    t->assignment_version = ZK_VERSION_NEW;
    t->config_version = ZK_VERSION_NEW;
    if (!zsc_entity_ok(entity))
        return KERR__INVALID;
    snprintf(t->name, sizeof(t->name), "%s", entity);
    char path[ZSC_PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", ZK_PATH_CONFIG_BROKERS, entity);
    kerr_t err = zs_enter(zs);
    if (err != KERR_NONE)
        return err;
    uint8_t *data;
    int len;
    struct Stat st;
    int rc = zs_read(zs->zh, path, &data, &len, &st);
    if (rc == ZNONODE)
        return zs_leave(zs, KERR_NONE);
    if (rc != ZOK)
        return zs_leave(zs, zs_err(rc, "get", path));
    err = zk_codec_config_decode(data, (size_t)(len > 0 ? len : 0), t);
    free(data);
    if (err == KERR_NONE)
        t->config_version = st.version;
    else
        zk_topic_destroy(t);
    return zs_leave(zs, err);
}

kerr_t zk_store_broker_config_set(struct zk_store *zs, const struct zk_topic *t)
{
    if (!zsc_entity_ok(t->name))
        return KERR__INVALID;
    char path[ZSC_PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", ZK_PATH_CONFIG_BROKERS, t->name);
    uint8_t *data;
    size_t len;
    kerr_t err = zk_codec_config_encode(t, &data, &len);
    if (err != KERR_NONE)
        return err;
    err = zs_enter(zs);
    if (err == KERR_NONE) {
        struct zs_write_req w;
        int32_t nv;
        zs_write_ops(zs, &w, path, data, len, t->config_version, false);
        int rc = zs_write_outcome(&w, zoo_multi(zs->zh, w.n, w.ops, w.res), &nv);
        if (rc == ZNODEEXISTS || rc == ZBADVERSION || rc == ZNONODE)
            err = KERR__EXISTS;
        else
            err = zs_err(rc, "write", path);
        zs_leave(zs, err);
    }
    free(data);
    return err;
}
