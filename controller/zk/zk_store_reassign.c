/*
 * controller/zk/zk_store_reassign.c — Kafka's legacy reassignment request
 * znode, /admin/reassign_partitions (see zk_store.h).
 *
 * Owns /admin/reassign_partitions: persistent, payload Kafka's JSON
 * {"version":1,"partitions":[{"topic":..,"partition":..,"replicas":[..]}]}
 * as an operator or an old tool writes it (this file only moves the bytes;
 * common/reassign_json.c reads them). The controller watches it, starts
 * the reassignments it lists and deletes it, conditional on the version
 * it read.
 */
#include "controller/zk/zk_store_int.h"
#include "common/say.h"

#include <stdlib.h>
#include <string.h>

kerr_t zk_store_reassign_request_get(struct zk_store *zs, char **json, size_t *len,
                                     int32_t *version)
{
    *json = NULL;
    *len = 0;
    kerr_t err = zs_enter(zs);
    if (err != KERR_NONE)
        return err;
    uint8_t *data = NULL;
    int n = 0;
    struct Stat st;
    int rc = zs_read(zs->zh, ZK_PATH_REASSIGN, &data, &n, &st);
    if (rc == ZNONODE)
        return zs_leave(zs, KERR__NOENT);
    if (rc != ZOK)
        return zs_leave(zs, zs_err(rc, "get", ZK_PATH_REASSIGN));
    char *s = malloc((size_t)n + 1);
    if (!s) {
        free(data);
        return zs_leave(zs, KERR__NOMEM);
    }
    if (n > 0)
        memcpy(s, data, (size_t)n);
    s[n] = '\0';
    free(data);
    *json = s;
    *len = (size_t)n;
    *version = st.version;
    return zs_leave(zs, KERR_NONE);
}

kerr_t zk_store_reassign_request_delete(struct zk_store *zs, int32_t version)
{
    kerr_t err = zs_enter(zs);
    if (err != KERR_NONE)
        return err;
    int rc = zoo_delete(zs->zh, ZK_PATH_REASSIGN, version);
    if (rc == ZOK || rc == ZNONODE)
        return zs_leave(zs, rc == ZOK ? KERR_NONE : KERR__NOENT);
    if (rc == ZBADVERSION)
        return zs_leave(zs, KERR__EXISTS);
    return zs_leave(zs, zs_err(rc, "delete", ZK_PATH_REASSIGN));
}

kerr_t zk_store_reassign_request_create_for_test(struct zk_store *zs, const char *json)
{
    kerr_t err = zs_enter(zs);
    if (err != KERR_NONE)
        return err;
    int rc = zoo_create(zs->zh, ZK_PATH_REASSIGN, json, (int)strlen(json),
                        zs_acl(zs, ZK_PATH_REASSIGN), 0, NULL, 0);
    if (rc == ZNODEEXISTS)
        return zs_leave(zs, KERR__EXISTS);
    return zs_leave(zs, rc == ZOK ? KERR_NONE : zs_err(rc, "create", ZK_PATH_REASSIGN));
}
