/*
 * controller/zk/zk_store_auth.c — who the store is to ZooKeeper and who may
 * change what it creates (zookeeper.set.acl).
 *
 * Credentials: the "digest" scheme with "user:password"
 * (gregor.zookeeper.auth.digest), presented on every session the store opens
 * with zoo_add_auth(); the client library presents them again itself after a
 * reconnect. ZooKeeper accepts any digest credentials and identifies the
 * session as digest:user:base64(sha1(user:password)); what they are worth is
 * decided by each znode's ACL.
 *
 * ACLs, when set.acl is on (as Kafka's zookeeper.set.acl): a znode is created
 * with ("auth", "") ALL — every identity the creating session authenticated
 * as — and ("world", "anyone") READ, so tools and other clients still read
 * the cluster's layout but only sessions holding the same credentials change
 * it. /config/users/<user> and below (SCRAM credentials) get no world READ.
 * With set.acl off every znode is open (world ALL), as Kafka's default.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/say.h"
#include "controller/zk/zk_store_int.h"

static char s_auth[] = "auth", s_empty[] = "", s_world[] = "world", s_anyone[] = "anyone";

/* The permission bits are variables of the library (not constants), so the
 * vectors get them once at first use. */
static struct ACL acl_read_world[] = {{0, {s_auth, s_empty}}, {0, {s_world, s_anyone}}};
static struct ACL acl_creator_only[] = {{0, {s_auth, s_empty}}};
static struct ACL_vector acl_secure = {2, acl_read_world};
static struct ACL_vector acl_sensitive = {1, acl_creator_only};
static pthread_once_t acl_once = PTHREAD_ONCE_INIT;

static void zs_acl_init(void)
{
    acl_read_world[0].perms = ZOO_PERM_ALL;
    acl_read_world[1].perms = ZOO_PERM_READ;
    acl_creator_only[0].perms = ZOO_PERM_ALL;
}

#define ZS_SENSITIVE_PREFIX "/config/users/"

struct ACL_vector *zs_acl_pick(bool set_acl, const char *path)
{
    if (!set_acl)
        return &ZOO_OPEN_ACL_UNSAFE;
    pthread_once(&acl_once, zs_acl_init);
    if (path != NULL && strncmp(path, ZS_SENSITIVE_PREFIX, strlen(ZS_SENSITIVE_PREFIX)) == 0)
        return &acl_sensitive;
    return &acl_secure;
}

struct ACL_vector *zs_acl(const struct zk_store *zs, const char *path)
{
    return zs_acl_pick(zs->set_acl, path);
}

bool zs_digest_valid(const char *digest)
{
    const char *colon = digest ? strchr(digest, ':') : NULL;
    return colon != NULL && colon != digest;
}

/* One zoo_add_auth() answer. Owned by the waiter and the completion: the
 * last of the two to let go frees it (the waiter may give up first). */
struct zs_auth_wait {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int refs;
    bool done;
    int rc;
};

static void zs_auth_unref(struct zs_auth_wait *w)
{
    pthread_mutex_lock(&w->lock);
    bool last = --w->refs == 0;
    pthread_mutex_unlock(&w->lock);
    if (last) {
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        free(w);
    }
}

/* ZooKeeper completion thread. */
static void zs_auth_done(int rc, const void *data)
{
    struct zs_auth_wait *w = (struct zs_auth_wait *)data;
    pthread_mutex_lock(&w->lock);
    w->rc = rc;
    w->done = true;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    zs_auth_unref(w);
}

int zs_auth_add(zhandle_t *zh, const char *digest, int timeout_ms)
{
    struct zs_auth_wait *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return ZSYSTEMERROR;
    pthread_mutex_init(&w->lock, NULL);
    zs_cond_init_monotonic(&w->cond);
    w->refs = 2;
    int rc = zoo_add_auth(zh, "digest", digest, (int)strlen(digest), zs_auth_done, w);
    if (rc != ZOK) {
        w->refs = 1; /* the completion will not run */
        zs_auth_unref(w);
        return rc;
    }
    struct timespec dl;
    zs_deadline(&dl, timeout_ms);
    pthread_mutex_lock(&w->lock);
    int wrc = 0;
    while (!w->done && wrc != ETIMEDOUT)
        wrc = pthread_cond_timedwait(&w->cond, &w->lock, &dl);
    rc = w->done ? w->rc : ZOPERATIONTIMEOUT;
    pthread_mutex_unlock(&w->lock);
    zs_auth_unref(w);
    if (rc != ZOK)
        say_error("zk",
                  "ZooKeeper refused the digest credentials (gregor.zookeeper.auth.digest) "
                  "rc=%d err=\"%s\"",
                  rc, zerror(rc));
    return rc;
}
