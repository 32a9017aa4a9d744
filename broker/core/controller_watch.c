/*
 * broker/core/controller_watch.c — this broker's view of the active controller,
 * read from ZooKeeper, which fences the control requests (private keys
 * 10000-10002, broker/kafka/control.c): they are applied only when they
 * carry the controller id and epoch ZooKeeper names. A number in a request
 * is never trusted on its own: a client that forges controller_epoch=1000000
 * is refused, and the real controller keeps control.
 *
 * State: b->zk_controller_id / b->zk_controller_epoch, owned by the admin
 * worker (the control requests run there too, replica_manager.c).
 * Reads: /controller_epoch, /controller, /controller_epoch again; an
 * election writes both in one transaction, so when the two epoch reads
 * agree the id read between them belongs to that epoch (retried a few
 * times otherwise). The epoch only grows: an older value (a lagging
 * ZooKeeper server) is ignored.
 * Watches: data/existence watches on /controller and /controller_epoch
 * (every election creates /controller, every resignation or expiry deletes
 * it); each event, and each new session (watches die with the session),
 * posts a re-read to the admin worker. A request newer than the view (the
 * watch lags a new controller's first requests) triggers one synchronous
 * re-read, after a ZooKeeper sync, before it is refused.
 */
#include "broker/core/controller_watch.h"
#include "common/loop/worker.h"
#include "broker/core/broker.h"
#include "controller/zk/zk_store.h"
#include "common/base.h"
#include "common/say.h"

#include <string.h>

#define CW_READ_TRIES 3

/* Reads (and, with arm, watches) the controller; updates the view. */
static kerr_t refresh(struct broker *b, bool arm)
{
    KASSERT(worker_is_current(b->admin));
    kerr_t rc = KERR_NONE;
    if (arm && ((rc = zk_store_watch_node(b->zk, ZK_PATH_CONTROLLER, NULL)) != KERR_NONE ||
                (rc = zk_store_watch_node(b->zk, ZK_PATH_CONTROLLER_EPOCH, NULL)) != KERR_NONE))
        return rc;
    /* a request's re-read must see an election the request's sender saw
     * (our ZooKeeper server may lag the ensemble's leader) */
    if (!arm && (rc = zk_store_sync(b->zk, ZK_PATH_CONTROLLER_EPOCH)) != KERR_NONE)
        return rc;
    for (int i = 0; i < CW_READ_TRIES; i++) {
        int32_t e1 = 0, e2 = 0, id = -1;
        if ((rc = zk_store_controller_epoch_get(b->zk, &e1)) != KERR_NONE)
            return rc;
        rc = zk_store_controller_get(b->zk, &id);
        if (rc == KERR__NOENT)
            id = -1;
        else if (rc != KERR_NONE)
            return rc;
        if ((rc = zk_store_controller_epoch_get(b->zk, &e2)) != KERR_NONE)
            return rc;
        if (e1 != e2)
            continue; /* an election between the reads: read again */
        if (e1 < b->zk_controller_epoch)
            return KERR_NONE; /* older than what we know */
        if (id != b->zk_controller_id || e1 != b->zk_controller_epoch)
            say_info("replica", "active controller per ZooKeeper controller=%d epoch=%d", id, e1);
        b->zk_controller_id = id;
        b->zk_controller_epoch = e1;
        return KERR_NONE;
    }
    return KERR__ZK;
}

static void refresh_job(void *arg)
{
    struct broker *b = arg;
    kerr_t rc = refresh(b, true);
    if (rc != KERR_NONE)
        say_warn("zk",
                 "cannot read the active controller err=%s; read again on the next "
                 "control request or session",
                 kerr_name(rc));
}

/* ZooKeeper's thread: post only. */
static void watch_cb(void *arg, enum zk_watch_event ev, const char *path)
{
    struct broker *b = arg;
    if (ev != ZK_WATCH_CHILDREN &&
        (strcmp(path, ZK_PATH_CONTROLLER) == 0 || strcmp(path, ZK_PATH_CONTROLLER_EPOCH) == 0))
        (void)worker_post(b->admin, refresh_job, b);
}

void controller_watch_init(struct broker *b)
{
    b->zk_controller_id = -1;
    b->zk_controller_epoch = 0;
}

bool controller_watch_start(struct broker *b)
{
    if (!zk_store_watch_subscribe(b->zk, watch_cb, b))
        return false;
    return worker_post(b->admin, refresh_job, b);
}

void controller_watch_resync(struct broker *b) { refresh_job(b); }

void controller_watch_stop(struct broker *b)
{
    if (b->zk)
        zk_store_watch_unsubscribe(b->zk, watch_cb, b);
}

static bool named(const struct broker *b, int32_t id, int32_t epoch)
{
    return id >= 0 && id == b->zk_controller_id && epoch == b->zk_controller_epoch;
}

kerr_t controller_watch_check(struct broker *b, int32_t controller_id, int32_t controller_epoch)
{
    KASSERT(worker_is_current(b->admin));
    if (named(b, controller_id, controller_epoch))
        return KERR_NONE;
    if (controller_epoch < b->zk_controller_epoch)
        return KERR_STALE_CONTROLLER_EPOCH;
    /* newer than our view, or not the broker it names: ask ZooKeeper */
    kerr_t rc = refresh(b, false);
    if (named(b, controller_id, controller_epoch))
        return KERR_NONE;
    if (controller_epoch < b->zk_controller_epoch)
        return KERR_STALE_CONTROLLER_EPOCH;
    say_warn("replica",
             "control request refused controller=%d epoch=%d zk_controller=%d "
             "zk_epoch=%d%s",
             controller_id, controller_epoch, b->zk_controller_id, b->zk_controller_epoch,
             rc == KERR_NONE ? "" : " zk_read=failed");
    return KERR_NOT_CONTROLLER;
}
