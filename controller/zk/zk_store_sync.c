/*
 * controller/zk/zk_store_sync.c — zk_store_sync(): brings the ZooKeeper
 * server this session is connected to up to date with the ensemble's
 * leader before a read (ZooKeeper's "sync"; see zk_store.h). Shares
 * zk_store.c's internals (zk_store_int.h).
 *
 * Threads: the caller holds op_lock, sends the asynchronous sync and waits
 * on a condition variable; ZooKeeper's completion thread records the rc
 * and signals. Every sent request gets exactly one completion (with
 * ZCONNECTIONLOSS / ZSESSIONEXPIRED when the session goes), so the wait
 * always ends.
 */
#include "controller/zk/zk_store_int.h"

#include <stdbool.h>

struct zss {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    int rc;
};

/* Completion thread: record and wake the caller. */
static void zss_done(int rc, const char *value, const void *data)
{
    struct zss *s = (struct zss *)data;
    (void)value;
    pthread_mutex_lock(&s->lock);
    s->rc = rc;
    s->done = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

kerr_t zk_store_sync(struct zk_store *zs, const char *path)
{
    kerr_t err = zs_enter(zs);
    if (err != KERR_NONE)
        return err;
    struct zss s = {.done = false, .rc = ZOK};
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.cond, NULL);
    int rc = zoo_async(zs->zh, path, zss_done, &s);
    if (rc == ZOK) {
        pthread_mutex_lock(&s.lock);
        while (!s.done)
            pthread_cond_wait(&s.cond, &s.lock);
        rc = s.rc;
        pthread_mutex_unlock(&s.lock);
    }
    pthread_mutex_destroy(&s.lock);
    pthread_cond_destroy(&s.cond);
    return zs_leave(zs, zs_err(rc, "sync", path));
}
