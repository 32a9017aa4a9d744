/*
 * broker/core/quota_load.c — brings the client quotas stored in ZooKeeper
 * (/config/users, /config/clients; controller/zk/zk_store_quotas.c) into
 * the broker's quota engine (b->quotas, quotas.h).
 *
 * quota_load_all() runs at start-up (main thread, before the listeners
 * open) and on the admin worker when notifications were trimmed;
 * quota_load_entity() runs on the admin worker for each "users" /
 * "clients" config change notification (config_watch.c). Only the quota
 * keys of a znode are read; the others (SCRAM credentials) are left to
 * their owners. A value that is not a non-negative number is ignored with
 * a warning.
 */
#include "broker/core/quota_load.h"
#include "broker/core/broker.h"
#include "broker/core/quotas.h"
#include "controller/zk/zk_store.h"
#include "common/say.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Splits an entity path into user / client (NULL when absent), in buf. */
static bool split(const char *entity_path, char *buf, size_t n, const char **user,
                  const char **client)
{
    if (!zk_entity_path_ok(entity_path) || strlen(entity_path) >= n)
        return false;
    strcpy(buf, entity_path);
    *user = *client = NULL;
    if (strncmp(buf, "clients/", 8) == 0) {
        *client = buf + 8;
        return true;
    }
    *user = buf + 6;
    char *slash = strchr(buf + 6, '/');
    if (slash) {
        *slash = '\0';
        *client = slash + 9; /* "/clients/" */
    }
    return true;
}

void quota_load_entity(struct broker *b, const char *entity_path)
{
    char buf[512], ubuf[256], cbuf[256];
    const char *user, *client;
    if (!b->quotas || !split(entity_path, buf, sizeof(buf), &user, &client))
        return;
    /* the path holds the names as Kafka's Sanitizer writes them */
    if ((user && !zk_entity_name_decode(user, ubuf, sizeof(ubuf))) ||
        (client && !zk_entity_name_decode(client, cbuf, sizeof(cbuf)))) {
        say_warn("kafka", "ignoring the quotas of %s: a malformed name", entity_path);
        return;
    }
    user = user ? ubuf : NULL;
    client = client ? cbuf : NULL;
    struct zk_entity_config c;
    kerr_t err = zk_store_entity_config_get(b->zk, entity_path, &c);
    if (err != KERR_NONE) {
        say_warn("zk", "cannot read quotas of %s err=%s", entity_path, kerr_name(err));
        return;
    }
    double v[QUOTA_N] = {-1, -1, -1};
    for (int i = 0; i < c.n; i++) {
        int t = quota_type_of(c.keys[i]);
        if (t < 0)
            continue;
        char *end;
        double d = strtod(c.values[i], &end);
        if (end == c.values[i] || *end != '\0' || !(d >= 0))
            say_warn("kafka", "ignoring quota %s=%s of %s: not a non-negative number", c.keys[i],
                     c.values[i], entity_path);
        else
            v[t] = d;
    }
    zk_entity_config_destroy(&c);
    if (!quotas_set_entity(b->quotas, user, client, v))
        say_warn("kafka", "cannot apply the quotas of %s: out of memory", entity_path);
    else
        say_info("kafka", "quotas of %s: produce=%g fetch=%g request=%g", entity_path, v[0], v[1],
                 v[2]);
}

void quota_load_all(struct broker *b)
{
    if (!b->quotas)
        return;
    char **paths;
    int n;
    if (zk_store_entity_list(b->zk, &paths, &n) != KERR_NONE) {
        say_warn("zk", "cannot list /config/users and /config/clients; quotas unchanged");
        return;
    }
    quotas_clear(b->quotas);
    for (int i = 0; i < n; i++)
        quota_load_entity(b, paths[i]);
    zk_names_free(paths, n);
}

void quota_config_changed(struct broker *b, const char *type, const char *name)
{
    char path[512];
    if (snprintf(path, sizeof(path), "%s/%s", type, name) < (int)sizeof(path))
        quota_load_entity(b, path);
}
