/*
 * controller/zk/zk_store_controller.c — the controller election in
 * ZooKeeper (see zk_store.h): /controller (ephemeral, the elected broker's
 * id) and /controller_epoch (persistent, bumped by every election), read and
 * written as controller/zk/zk_codec.h encodes them.
 */
#include "controller/zk/zk_store.h"
#include "controller/zk/zk_store_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base.h"
#include "common/clock.h"
#include "common/say.h"
#include "controller/zk/zk_codec.h"

/* Reads /controller_epoch: *epoch and its *version (0 / ZK_VERSION_NEW when
 * absent). Returns the ZooKeeper rc (ZOK also when absent). */
static int zs_epoch_read(zhandle_t *zh, int32_t *epoch, int32_t *version)
{
    uint8_t *data;
    int len;
    struct Stat st;
    int rc = zs_read(zh, ZS_EPOCH_PATH, &data, &len, &st);
    *epoch = 0;
    *version = ZK_VERSION_NEW;
    if (rc == ZNONODE)
        return ZOK;
    if (rc != ZOK)
        return rc;
    kerr_t err = zk_codec_epoch_decode(data, (size_t)len, epoch);
    free(data);
    *version = st.version;
    return err == KERR_NONE ? ZOK : ZMARSHALLINGERROR;
}

/* Reads /controller into *id. Returns the ZooKeeper rc. */
static int zs_controller_read(zhandle_t *zh, int32_t *id, struct Stat *st)
{
    uint8_t *data;
    int len;
    int rc = zs_read(zh, ZK_PATH_CONTROLLER, &data, &len, st);
    if (rc != ZOK)
        return rc;
    kerr_t err = zk_codec_controller_decode(data, (size_t)len, id);
    free(data);
    return err == KERR_NONE ? ZOK : ZMARSHALLINGERROR;
}

/* /controller (id, stat st) names broker_id but belongs to the session of
 * the registration zk_store_register_broker() replaced: the controller of a
 * dead incarnation of this broker (restarted before its session expired;
 * holding the log directory proves the old process gone). Nobody controls
 * the cluster until that session expires, so the znode is deleted now
 * (conditionally on its version) and true is returned to elect again.
 * op_lock held. */
static bool zs_dead_controller(struct zk_store *zs, int32_t id, int32_t broker_id,
                               const struct Stat *st)
{
    if (id != broker_id || zs->dead_session == 0 || st->ephemeralOwner != zs->dead_session)
        return false;
    int rc = zoo_delete(zs->zh, ZK_PATH_CONTROLLER, st->version);
    if (rc == ZOK)
        say_warn("zk",
                 "removed the controller registration of a dead incarnation of this broker "
                 "broker=%d session=0x%llx",
                 broker_id, (unsigned long long)st->ephemeralOwner);
    return rc == ZOK || rc == ZNONODE || rc == ZBADVERSION;
}

/* One election attempt. KERR__AGAIN: the epoch moved under us, or a dead
 * incarnation's /controller was removed: retry. */
static kerr_t zs_elect_once(struct zk_store *zs, int32_t broker_id, int32_t *controller_id,
                            int32_t *epoch)
{
    int32_t cur, ver;
    uint8_t *cdata = NULL, *edata = NULL;
    size_t clen, elen;
    zoo_op_t ops[2];
    zoo_op_result_t res[2];
    struct Stat est, cst;
    memset(res, 0, sizeof(res));
    memset(&est, 0, sizeof(est));
    int rc = zs_epoch_read(zs->zh, &cur, &ver);
    if (rc != ZOK)
        return zs_err(rc, "get", ZS_EPOCH_PATH);
    kerr_t err = zk_codec_controller_encode(broker_id, clock_wall_ms(), &cdata, &clen);
    if (err == KERR_NONE)
        err = zk_codec_epoch_encode(cur + 1, &edata, &elen);
    if (err != KERR_NONE)
        goto out_free;
    zoo_create_op_init(&ops[0], ZK_PATH_CONTROLLER, (const char *)cdata, (int)clen,
                       zs_acl(zs, ZK_PATH_CONTROLLER), ZOO_EPHEMERAL, NULL, 0);
    if (ver == ZK_VERSION_NEW)
        zoo_create_op_init(&ops[1], ZS_EPOCH_PATH, (const char *)edata, (int)elen,
                           zs_acl(zs, ZS_EPOCH_PATH), 0, NULL, 0);
    else
        zoo_set_op_init(&ops[1], ZS_EPOCH_PATH, (const char *)edata, (int)elen, ver, &est);
    rc = zoo_multi(zs->zh, 2, ops, res);
    if (rc == ZOK) {
        zs->fence_version = ver == ZK_VERSION_NEW ? 0 : est.version;
        *epoch = cur + 1;
        *controller_id = broker_id;
        say_info("zk", "elected controller broker=%d epoch=%d", broker_id, cur + 1);
    } else if (res[0].err == ZNODEEXISTS) {
        rc = zs_controller_read(zs->zh, controller_id, &cst);
        err = rc == ZOK       ? KERR__EXISTS
              : rc == ZNONODE ? KERR__AGAIN
                              : zs_err(rc, "get", ZK_PATH_CONTROLLER);
        if (err == KERR__EXISTS && zs_dead_controller(zs, *controller_id, broker_id, &cst))
            err = KERR__AGAIN;
    } else if (res[1].err == ZBADVERSION || res[1].err == ZNODEEXISTS) {
        err = KERR__AGAIN;
    } else {
        err = zs_err(rc, "multi_elect", ZK_PATH_CONTROLLER);
    }
out_free:
    free(cdata);
    free(edata);
    return err;
}

kerr_t zk_store_controller_elect(struct zk_store *zs, int32_t broker_id, int32_t *controller_id,
                                 int32_t *epoch)
{
    kerr_t err = zs_enter(zs);
    if (err != KERR_NONE)
        return err;
    err = KERR__AGAIN;
    for (int tries = 0; tries < ZS_RETRIES && err == KERR__AGAIN; tries++)
        err = zs_elect_once(zs, broker_id, controller_id, epoch);
    return zs_leave(zs, err == KERR__AGAIN ? KERR__ZK : err);
}

kerr_t zk_store_controller_get(struct zk_store *zs, int32_t *controller_id)
{
    struct Stat st;
    kerr_t err = zs_enter(zs);
    if (err != KERR_NONE)
        return err;
    int rc = zs_controller_read(zs->zh, controller_id, &st);
    return zs_leave(zs, rc == ZMARSHALLINGERROR ? KERR__CORRUPT
                                                : zs_err(rc, "get", ZK_PATH_CONTROLLER));
}

kerr_t zk_store_controller_epoch_get(struct zk_store *zs, int32_t *epoch)
{
    int32_t ver;
    kerr_t err = zs_enter(zs);
    if (err != KERR_NONE)
        return err;
    int rc = zs_epoch_read(zs->zh, epoch, &ver);
    return zs_leave(zs, rc == ZMARSHALLINGERROR ? KERR__CORRUPT : zs_err(rc, "get", ZS_EPOCH_PATH));
}

kerr_t zk_store_controller_resign(struct zk_store *zs)
{
    struct Stat st;
    int32_t id;
    kerr_t err = zs_enter(zs);
    if (err != KERR_NONE)
        return err;
    zs->fence_version = -1;
    int rc = zs_controller_read(zs->zh, &id, &st);
    if ((rc == ZOK || rc == ZMARSHALLINGERROR) &&
        st.ephemeralOwner == zoo_client_id(zs->zh)->client_id)
        rc = zoo_delete(zs->zh, ZK_PATH_CONTROLLER, st.version);
    else if (rc == ZMARSHALLINGERROR)
        rc = ZOK; /* someone else's, unreadable: not ours to touch */
    if (rc == ZOK)
        say_info("zk", "controller resigned");
    return zs_leave(zs, rc == ZNONODE || rc == ZBADVERSION
                            ? KERR_NONE
                            : zs_err(rc, "delete", ZK_PATH_CONTROLLER));
}
