/*
 * controller/zk/zk_store.c — synchronous ZooKeeper access for Gregor: with
 * zk_store_batch.c (pipelined partition states; internals shared through
 * zk_store_int.h) the only files that include <zookeeper/zookeeper.h>
 * (libzookeeper-mt). Payload
 * encoding lives in zk_codec.c; this file knows the paths and the protocol
 * of every read and write.
 *
 * Znodes touched (relative to the connect string's chroot; payloads are the
 * proto/zk.proto messages):
 *
 *   /brokers, /config, /admin, /cluster           persistent, empty parents
 *   /brokers/ids, /brokers/topics                 persistent, empty
 *   /config/topics, /admin/delete_topics          persistent, empty
 *   /cluster/id                                   persistent  ClusterId, written once
 *   /brokers/ids/<id>                             EPHEMERAL   BrokerRegistration;
 *                                                             czxid = broker epoch
 *   /brokers/topics/<t>                           persistent  TopicAssignment
 *   /brokers/topics/<t>/partitions[/<p>]          persistent, empty parents
 *   /brokers/topics/<t>/partitions/<p>/state      persistent  PartitionState
 *   /config/topics/<t>                            persistent  TopicConfig
 *   /config/brokers/<id>|<default>                persistent  TopicConfig (zk_store_config.c)
 *   /admin/delete_topics/<t>                      persistent, empty (deletion request)
 *   /controller                                   EPHEMERAL   ControllerInfo (zk_store_controller.c)
 *   /controller_epoch                             persistent  ControllerEpoch (zk_store_controller.c)
 *
 * Writes of persistent znodes are conditional: create (must not exist) or
 * set on the version read. Once this store won the election, partition
 * state and assignment writes run as a multi-op with a check that
 * /controller_epoch is still at the version we wrote ("fence"), as Kafka's
 * controller does with its controllerEpochZkVersion.
 *
 * Threads: API calls run on the caller's thread and are serialised by
 * op_lock. The ZooKeeper library calls zs_watcher()/zs_watch_fn() on its
 * completion thread; those touch only the `sess` fields (under sess.lock) and
 * forward to the user's callbacks, which only post. ZooKeeper's own log
 * lines go through zs_log_cb() to say_*("zk") at warn level.
 */
#include "controller/zk/zk_store.h"
#include "controller/zk/zk_store_int.h"
#include "common/clock.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "common/base.h"
#include "common/clock.h"
#include "common/names.h"
#include "common/say.h"
#include "controller/zk/zk_codec.h"

/* ---- plumbing ----------------------------------------------------------- */

/* Rate limit for ZooKeeper's log lines: while a server is unreachable the
 * library logs the same errors every few milliseconds. A line from a site
 * (function@line) printed less than ZS_LOG_QUIET_MS ago is counted, not
 * printed; the site's next printed line reports the count. */
#define ZS_LOG_QUIET_MS 1000
#define ZS_LOG_SITES 8
static pthread_mutex_t zs_log_lock = PTHREAD_MUTEX_INITIALIZER;
static struct zs_log_site {
    char site[64];
    int64_t last_ms;          /* when a line from this site was last printed */
    int suppressed;           /* lines dropped since */
} zs_log_sites[ZS_LOG_SITES]; /* guarded by zs_log_lock */

/* Returns false if this line should be dropped; else *suppressed is the
 * number of lines from the same site dropped before it. */
static bool zs_log_admit(const char *site, size_t site_len, int *suppressed)
{
    int64_t now = clock_mono_ms();
    struct zs_log_site *slot = &zs_log_sites[0];
    bool admit = true;
    site_len = MIN(site_len, sizeof(slot->site) - 1);
    pthread_mutex_lock(&zs_log_lock);
    for (int i = 0; i < ZS_LOG_SITES; i++) {
        struct zs_log_site *x = &zs_log_sites[i];
        if (strncmp(x->site, site, site_len) == 0 && x->site[site_len] == '\0') {
            slot = x;
            break;
        }
        if (x->last_ms < slot->last_ms) /* else reuse the least recent */
            slot = x;
    }
    if (strncmp(slot->site, site, site_len) == 0 && slot->site[site_len] == '\0' &&
        now - slot->last_ms < ZS_LOG_QUIET_MS) {
        slot->suppressed++;
        admit = false;
    } else {
        *suppressed = slot->site[site_len] == '\0' && strncmp(slot->site, site, site_len) == 0
                          ? slot->suppressed
                          : 0;
        memcpy(slot->site, site, site_len);
        slot->site[site_len] = '\0';
        slot->last_ms = now;
        slot->suppressed = 0;
    }
    pthread_mutex_unlock(&zs_log_lock);
    return admit;
}

/* ZooKeeper log line -> say. Format of the library's lines:
 * "<time>:<pid>(0x<tid>):ZOO_<LEVEL>@<function>@<line>: <message>". Runs on
 * any thread (say is thread-safe). */
static void zs_log_cb(const char *msg)
{
    static const struct {
        const char *tag;
        enum say_level lvl;
    } tags[] = {
        {"ZOO_ERROR@", SAY_ERROR},
        {"ZOO_WARN@", SAY_WARN},
        {"ZOO_INFO@", SAY_INFO},
        {"ZOO_DEBUG@", SAY_DEBUG},
    };
    enum say_level lvl = SAY_WARN;
    const char *text = msg;
    for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
        const char *p = strstr(msg, tags[i].tag);
        if (p != NULL) {
            lvl = tags[i].lvl;
            text = p + strlen(tags[i].tag);
            break;
        }
    }
    if ((int)lvl > say_level_current)
        return;
    int suppressed = 0;
    if (!zs_log_admit(text, strcspn(text, ":"), &suppressed))
        return;
    size_t len = strcspn(text, "\r\n");
    if (suppressed > 0)
        say_log(lvl, "zk", "client %.*s (suppressed=%d similar lines)", (int)len, text, suppressed);
    else
        say_log(lvl, "zk", "client %.*s", (int)len, text);
}

void zs_cond_init_monotonic(pthread_cond_t *cond)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(cond, &ca);
    pthread_condattr_destroy(&ca);
}

void zs_deadline(struct timespec *dl, int timeout_ms)
{
    clock_gettime(CLOCK_MONOTONIC, dl);
    dl->tv_sec += timeout_ms / 1000;
    dl->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl->tv_nsec >= 1000000000L) {
        dl->tv_sec++;
        dl->tv_nsec -= 1000000000L;
    }
}

static void zs_sess_init(struct zs_sess *s)
{
    zs_cond_init_monotonic(&s->cond);
    pthread_mutex_init(&s->lock, NULL);
    s->zstate = 0;
}

static void zs_sess_destroy(struct zs_sess *s)
{
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
}

/* Records a session state change; call with s->lock held. */
static void zs_sess_set_locked(struct zs_sess *s, int state)
{
    if (state == ZOO_CONNECTED_STATE) {
        s->down_since_ms = 0;
        s->heard_ms = clock_mono_ms();
    } else if (s->down_since_ms == 0)
        s->down_since_ms = clock_mono_ms();
    s->zstate = state;
    pthread_cond_broadcast(&s->cond);
}

/* Waits until the session is connected, expired or refused (or, with
 * only_expired, until it is expired), at most timeout_ms. Returns the state
 * (ZOO_CONNECTED_STATE on success) or 0 on timeout. */
static int zs_sess_wait(struct zs_sess *s, int timeout_ms, bool only_expired)
{
    struct timespec dl;
    zs_deadline(&dl, timeout_ms);
    pthread_mutex_lock(&s->lock);
    for (;;) {
        int st = s->zstate;
        if (st == ZOO_EXPIRED_SESSION_STATE ||
            (!only_expired && (st == ZOO_CONNECTED_STATE || st == ZOO_AUTH_FAILED_STATE)))
            break;
        if (pthread_cond_timedwait(&s->cond, &s->lock, &dl) != 0) {
            pthread_mutex_unlock(&s->lock);
            return 0;
        }
    }
    int st = s->zstate;
    pthread_mutex_unlock(&s->lock);
    return st;
}

/* Watcher of auxiliary handles (chroot bootstrap, test expiry): ctx is a
 * struct zs_sess. ZooKeeper completion thread. */
static void zs_aux_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    struct zs_sess *s = ctx;
    if (type != ZOO_SESSION_EVENT)
        return;
    pthread_mutex_lock(&s->lock);
    zs_sess_set_locked(s, state);
    pthread_mutex_unlock(&s->lock);
}

static enum zk_session_event zs_session_event_of(int state)
{
    if (state == ZOO_CONNECTED_STATE)
        return ZK_SESSION_CONNECTED;
    if (state == ZOO_EXPIRED_SESSION_STATE)
        return ZK_SESSION_EXPIRED;
    if (state == ZOO_AUTH_FAILED_STATE)
        return ZK_SESSION_AUTH_FAILED;
    if (state == ZOO_CONNECTING_STATE || state == ZOO_ASSOCIATING_STATE ||
        state == ZOO_NOTCONNECTED_STATE)
        return ZK_SESSION_DISCONNECTED;
    return 0;
}

/* The store's session watcher; ZooKeeper completion thread; ctx is zs. */
static void zs_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    struct zk_store *zs = ctx;
    if (type != ZOO_SESSION_EVENT)
        return;
    enum zk_session_event ev = zs_session_event_of(state);
    pthread_mutex_lock(&zs->sess.lock);
    zs_sess_set_locked(&zs->sess, state);
    zk_session_cb cb = zs->quiet ? NULL : zs->session_cb;
    void *arg = zs->session_arg;
    pthread_mutex_unlock(&zs->sess.lock);
    if (ev == ZK_SESSION_EXPIRED)
        say_warn("zk", "session expired");
    if (cb != NULL && ev != 0)
        cb(arg, ev);
}

/* One-shot node/children watches armed by zk_store_watch_*(); completion
 * thread; ctx is zs. Session events also reach these watchers: ignored. */
static void zs_watch_fn(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    struct zk_store *zs = ctx;
    enum zk_watch_event ev;
    if (type == ZOO_CREATED_EVENT)
        ev = ZK_WATCH_CREATED;
    else if (type == ZOO_DELETED_EVENT)
        ev = ZK_WATCH_DELETED;
    else if (type == ZOO_CHANGED_EVENT)
        ev = ZK_WATCH_CHANGED;
    else if (type == ZOO_CHILD_EVENT)
        ev = ZK_WATCH_CHILDREN;
    else
        return;
    int n = 0;
    zk_watch_cb cb[ZK_WATCHERS_MAX];
    void *arg[ZK_WATCHERS_MAX];
    pthread_mutex_lock(&zs->sess.lock);
    for (int i = 0; !zs->quiet && i < ZK_WATCHERS_MAX; i++)
        if (zs->watchers[i].cb != NULL) {
            cb[n] = zs->watchers[i].cb;
            arg[n++] = zs->watchers[i].arg;
        }
    pthread_mutex_unlock(&zs->sess.lock);
    for (int i = 0; i < n; i++)
        cb[i](arg[i], ev, path ? path : "");
}

kerr_t zs_err(int rc, const char *op, const char *path)
{
    switch (rc) {
    case ZOK:
        return KERR_NONE;
    case ZNONODE:
        return KERR__NOENT;
    case ZNODEEXISTS:
    case ZBADVERSION:
    case ZNOTEMPTY:
        return KERR__EXISTS;
    case ZNOAUTH:
        say_error("zk",
                  "ZooKeeper refused op=%s path=%s: the znode's ACL does not admit this "
                  "session's credentials (zookeeper.set.acl, gregor.zookeeper.auth.digest)",
                  op, path);
        return KERR__ZK;
    default:
        break;
    }
    say_warn("zk", "request failed op=%s path=%s rc=%d err=\"%s\"", op, path, rc, zerror(rc));
    return rc == ZOPERATIONTIMEOUT ? KERR__TIMEOUT : KERR__ZK;
}

/* Opens a handle and waits for its session. Returns new, or NULL. */
static zhandle_t *zs_handle_open(const char *connect, int timeout_ms, watcher_fn fn, void *ctx,
                                 struct zs_sess *s, const clientid_t *cid, const char *digest)
{
    pthread_mutex_lock(&s->lock);
    zs_sess_set_locked(s, 0);
    pthread_mutex_unlock(&s->lock);
    zhandle_t *zh = zookeeper_init2(connect, fn, timeout_ms, cid, ctx, 0, zs_log_cb);
    if (zh == NULL) {
        say_syserror("zk", "zookeeper_init failed connect=%s", connect);
        return NULL;
    }
    int st = zs_sess_wait(s, timeout_ms, false);
    if (st != ZOO_CONNECTED_STATE) {
        say_warn("zk", "no session connect=%s state=%s", connect,
                 st == 0                           ? "timeout"
                 : st == ZOO_EXPIRED_SESSION_STATE ? "expired"
                                                   : "auth_failed");
        zookeeper_close(zh);
        return NULL;
    }
    if (digest != NULL && zs_auth_add(zh, digest, timeout_ms) != ZOK) {
        zookeeper_close(zh);
        return NULL;
    }
    return zh;
}

/* Creates an empty persistent znode; ZNODEEXISTS counts as success. */
static int zs_create_empty(zhandle_t *zh, const char *path, struct ACL_vector *acl)
{
    int rc = zoo_create(zh, path, NULL, -1, acl, 0, NULL, 0);
    return rc == ZNODEEXISTS ? ZOK : rc;
}

/* Reads path into a new buffer (*data, free() it; *len may be 0). Returns
 * the ZooKeeper rc. */
int zs_read(zhandle_t *zh, const char *path, uint8_t **data, int *len, struct Stat *st)
{
    int cap = 1024;
    for (int tries = 0; tries < ZS_RETRIES; tries++) {
        char *b = malloc((size_t)cap);
        if (b == NULL)
            return ZSYSTEMERROR;
        int n = cap;
        int rc = zoo_get(zh, path, 0, b, &n, st);
        if (rc != ZOK) {
            free(b);
            return rc;
        }
        if (st->dataLength <= cap) {
            *data = (uint8_t *)b;
            *len = n < 0 ? 0 : n;
            return ZOK;
        }
        free(b);
        cap = st->dataLength; /* grew between calls or larger than guessed */
    }
    return ZSYSTEMERROR;
}

void zs_write_ops(struct zk_store *zs, struct zs_write_req *w, const char *path,
                  const uint8_t *data, size_t len, int32_t version, bool fenced)
{
    memset(w, 0, sizeof(*w));
    w->version = version;
    if (fenced && zs->fence_version >= 0)
        zoo_check_op_init(&w->ops[w->n++], ZS_EPOCH_PATH, zs->fence_version);
    w->di = w->n;
    if (version == ZK_VERSION_NEW)
        zoo_create_op_init(&w->ops[w->n++], path, (const char *)data, (int)len, zs_acl(zs, path), 0,
                           NULL, 0);
    else
        zoo_set_op_init(&w->ops[w->n++], path, (const char *)data, (int)len, version, &w->st);
}

int zs_write_outcome(const struct zs_write_req *w, int rc, int32_t *new_version)
{
    if (rc == ZOK) {
        /* a set conditional on version v leaves v + 1 */
        *new_version = w->version == ZK_VERSION_NEW ? 0 : w->version + 1;
        return ZOK;
    }
    if (w->di == 1 && (w->res[0].err == ZBADVERSION || w->res[0].err == ZNONODE))
        return ZS_RC_FENCED;
    int e = w->res[w->di].err;
    if (e == ZNODEEXISTS || e == ZBADVERSION || e == ZNONODE)
        return e;
    return rc;
}

/* Writes path = data conditionally: creates it (version == ZK_VERSION_NEW)
 * or sets it on `version`. When `fenced` and this store is the elected
 * controller, the write is a multi-op that also checks /controller_epoch.
 * Returns the rc of the data op, ZS_RC_FENCED, or a session-level rc;
 * *new_version is the version after the write. Call with op_lock held. */
static int zs_write(struct zk_store *zs, const char *path, const uint8_t *data, size_t len,
                    int32_t version, bool fenced, int32_t *new_version)
{
    struct zs_write_req w;
    zs_write_ops(zs, &w, path, data, len, version, fenced);
    int rc = zoo_multi(zs->zh, w.n, w.ops, w.res);
    return zs_write_outcome(&w, rc, new_version);
}

/* Lists the children of path as new strdup'd names, sorted. */
static int zs_names_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

kerr_t zs_children(zhandle_t *zh, const char *path, char ***names, int *n)
{
    struct String_vector sv = {0, NULL};
    *names = NULL;
    *n = 0;
    int rc = zoo_get_children(zh, path, 0, &sv);
    if (rc != ZOK)
        return zs_err(rc, "get_children", path);
    kerr_t err = KERR_NONE;
    char **out = calloc(sv.count > 0 ? (size_t)sv.count : 1, sizeof(*out));
    if (out == NULL) {
        err = KERR__NOMEM;
        goto out_free;
    }
    for (int i = 0; i < sv.count; i++) {
        out[i] = strdup(sv.data[i]);
        if (out[i] == NULL) {
            zk_names_free(out, i);
            err = KERR__NOMEM;
            goto out_free;
        }
    }
    qsort(out, (size_t)sv.count, sizeof(*out), zs_names_cmp);
    *names = out;
    *n = sv.count;
out_free:
    deallocate_String_vector(&sv);
    return err;
}

/* Entry and exit of every API call: takes op_lock, checks there is a handle. */
kerr_t zs_enter(struct zk_store *zs)
{
    pthread_mutex_lock(&zs->op_lock);
    if (zs->zh == NULL) {
        pthread_mutex_unlock(&zs->op_lock);
        say_warn("zk", "no ZooKeeper session (reconnect failed?)");
        return KERR__ZK;
    }
    return KERR_NONE;
}

kerr_t zs_leave(struct zk_store *zs, kerr_t err)
{
    pthread_mutex_unlock(&zs->op_lock);
    return err;
}

/* ---- session ------------------------------------------------------------ */

/* If connect has a chroot ("hosts/a/b"), creates /a and /a/b through a
 * session without chroot: the library requires the chroot to exist. */
static kerr_t zs_ensure_chroot(const char *connect, int timeout_ms, const char *digest,
                               bool set_acl)
{
    const char *slash = strchr(connect, '/');
    if (slash == NULL || slash[1] == '\0')
        return KERR_NONE;
    char *hosts = strndup(connect, (size_t)(slash - connect));
    if (hosts == NULL)
        return KERR__NOMEM;
    struct zs_sess s;
    zs_sess_init(&s);
    kerr_t err = KERR__ZK;
    zhandle_t *zh = zs_handle_open(hosts, timeout_ms, zs_aux_watcher, &s, &s, NULL, digest);
    if (zh == NULL)
        goto out_free;
    char path[ZS_PATH_MAX];
    int rc = ZOK;
    for (const char *p = slash + 1; rc == ZOK; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        snprintf(path, sizeof(path), "%.*s", (int)(p - slash), slash);
        rc = zs_create_empty(zh, path, zs_acl_pick(set_acl, path));
        if (*p == '\0')
            break;
    }
    err = zs_err(rc, "create_chroot", path);
    zookeeper_close(zh);
out_free:
    zs_sess_destroy(&s);
    free(hosts);
    return err;
}

static void *zs_hb_main(void *arg);

struct zk_store *zk_store_open(const char *connect, int session_timeout_ms, char *err,
                               size_t errlen)
{
    return zk_store_open_auth(connect, session_timeout_ms, NULL, err, errlen);
}

struct zk_store *zk_store_open_auth(const char *connect, int session_timeout_ms,
                                    const struct zk_store_auth *auth, char *err, size_t errlen)
{
    if (connect == NULL || connect[0] == '\0' || session_timeout_ms <= 0) {
        snprintf(err, errlen, "invalid ZooKeeper connect string or session timeout");
        return NULL;
    }
    const char *digest = auth ? auth->digest : NULL;
    if (digest != NULL && !zs_digest_valid(digest)) {
        snprintf(err, errlen, "ZooKeeper digest credentials must be user:password");
        return NULL;
    }
    if (auth != NULL && auth->set_acl && digest == NULL) {
        snprintf(err, errlen, "ZooKeeper ACLs (set_acl) need credentials to create znodes with");
        return NULL;
    }
    zoo_set_debug_level(ZOO_LOG_LEVEL_WARN);
    struct zk_store *zs = calloc(1, sizeof(*zs));
    if (zs == NULL || (zs->connect = strdup(connect)) == NULL) {
        free(zs);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&zs->op_lock, NULL);
    zs_sess_init(&zs->sess);
    zs->fence_version = -1;
    zs->session_timeout_ms = session_timeout_ms;
    zs->set_acl = auth != NULL && auth->set_acl;
    if (digest != NULL && (zs->digest = strdup(digest)) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out_free;
    }
    if (zs_ensure_chroot(connect, session_timeout_ms, zs->digest, zs->set_acl) != KERR_NONE) {
        snprintf(err, errlen, "cannot create the chroot of %s in ZooKeeper", connect);
        goto out_free;
    }
    zs->zh =
        zs_handle_open(connect, session_timeout_ms, zs_watcher, zs, &zs->sess, NULL, zs->digest);
    if (zs->zh == NULL) {
        snprintf(err, errlen, "cannot connect to ZooKeeper at %s within %d ms", connect,
                 session_timeout_ms);
        goto out_free;
    }
    say_info("zk", "session established connect=%s session=0x%" PRIx64 " timeout_ms=%d", connect,
             (uint64_t)zoo_client_id(zs->zh)->client_id, zoo_recv_timeout(zs->zh));
    zs->hb_running = pthread_create(&zs->hb_thread, NULL, zs_hb_main, zs) == 0;
    if (!zs->hb_running)
        say_warn("zk", "no heartbeat thread: ZooKeeper silence is not measured");
    return zs;
out_free:
    zk_store_close(zs);
    return NULL;
}

/* Heartbeat completion (ZooKeeper completion thread): an answer from the
 * server. Errors (connection loss, expired session, closing) are not. */
static void zs_hb_done(int rc, const struct Stat *st, const void *data)
{
    struct zk_store *zs = (struct zk_store *)data;
    (void)st;
    if (rc != ZOK && rc != ZNONODE)
        return;
    pthread_mutex_lock(&zs->sess.lock);
    zs->sess.heard_ms = clock_mono_ms();
    pthread_mutex_unlock(&zs->sess.lock);
}

/* The heartbeat thread: an asynchronous exists("/") every third of the
 * session timeout, so zk_store_silent_ms() counts from the server's last
 * answer whatever the client library has noticed (its I/O thread can be
 * stuck, e.g. resolving the servers' names while the network is gone). */
static void *zs_hb_main(void *arg)
{
    struct zk_store *zs = arg;
    int every = zs->session_timeout_ms / 3 > 100 ? zs->session_timeout_ms / 3 : 100;
    pthread_mutex_lock(&zs->sess.lock);
    while (!zs->hb_stop) {
        pthread_mutex_unlock(&zs->sess.lock);
        pthread_mutex_lock(&zs->op_lock);
        if (zs->zh != NULL)
            (void)zoo_aexists(zs->zh, "/", 0, zs_hb_done, zs);
        pthread_mutex_unlock(&zs->op_lock);
        struct timespec dl;
        zs_deadline(&dl, every);
        pthread_mutex_lock(&zs->sess.lock);
        while (!zs->hb_stop && pthread_cond_timedwait(&zs->sess.cond, &zs->sess.lock, &dl) == 0)
            ; /* woken by a session change: wait out the period */
    }
    pthread_mutex_unlock(&zs->sess.lock);
    return NULL;
}

/* Closes the current handle without delivering its events. op_lock held
 * (or the store not shared yet). */
static void zs_drop_handle(struct zk_store *zs)
{
    if (zs->zh == NULL)
        return;
    pthread_mutex_lock(&zs->sess.lock);
    zs->quiet = true;
    pthread_mutex_unlock(&zs->sess.lock);
    zookeeper_close(zs->zh);
    zs->zh = NULL;
    pthread_mutex_lock(&zs->sess.lock);
    zs->quiet = false;
    pthread_mutex_unlock(&zs->sess.lock);
}

void zk_store_close(struct zk_store *zs)
{
    if (zs == NULL)
        return;
    if (zs->hb_running) {
        pthread_mutex_lock(&zs->sess.lock);
        zs->hb_stop = true;
        pthread_cond_broadcast(&zs->sess.cond);
        pthread_mutex_unlock(&zs->sess.lock);
        pthread_join(zs->hb_thread, NULL);
    }
    zs_drop_handle(zs);
    zs_sess_destroy(&zs->sess);
    pthread_mutex_destroy(&zs->op_lock);
    free(zs->connect);
    free(zs->digest);
    free(zs);
}

void zk_store_set_session_cb(struct zk_store *zs, zk_session_cb cb, void *arg)
{
    pthread_mutex_lock(&zs->sess.lock);
    zs->session_cb = cb;
    zs->session_arg = arg;
    pthread_mutex_unlock(&zs->sess.lock);
}

bool zk_store_watch_subscribe(struct zk_store *zs, zk_watch_cb cb, void *arg)
{
    bool ok = false;
    pthread_mutex_lock(&zs->sess.lock);
    for (int i = 0; !ok && i < ZK_WATCHERS_MAX; i++)
        if (zs->watchers[i].cb == NULL) {
            zs->watchers[i].cb = cb;
            zs->watchers[i].arg = arg;
            ok = true;
        }
    pthread_mutex_unlock(&zs->sess.lock);
    return ok;
}

void zk_store_watch_unsubscribe(struct zk_store *zs, zk_watch_cb cb, void *arg)
{
    pthread_mutex_lock(&zs->sess.lock);
    for (int i = 0; i < ZK_WATCHERS_MAX; i++)
        if (zs->watchers[i].cb == cb && zs->watchers[i].arg == arg)
            zs->watchers[i].cb = NULL;
    pthread_mutex_unlock(&zs->sess.lock);
}

kerr_t zk_store_reconnect(struct zk_store *zs)
{
    pthread_mutex_lock(&zs->op_lock);
    zs_drop_handle(zs);
    zs->zh = zs_handle_open(zs->connect, zs->session_timeout_ms, zs_watcher, zs, &zs->sess, NULL,
                            zs->digest);
    kerr_t err = KERR__ZK;
    if (zs->zh != NULL) {
        say_info("zk", "new session established session=0x%" PRIx64,
                 (uint64_t)zoo_client_id(zs->zh)->client_id);
        err = KERR_NONE;
    }
    return zs_leave(zs, err);
}

int64_t zk_store_session_id(struct zk_store *zs)
{
    pthread_mutex_lock(&zs->op_lock);
    int64_t id = zs->zh ? zoo_client_id(zs->zh)->client_id : 0;
    pthread_mutex_unlock(&zs->op_lock);
    return id;
}

int64_t zk_store_down_ms(struct zk_store *zs)
{
    pthread_mutex_lock(&zs->sess.lock);
    int64_t since = zs->sess.down_since_ms;
    pthread_mutex_unlock(&zs->sess.lock);
    if (since == 0)
        return 0;
    int64_t d = clock_mono_ms() - since;
    return d > 0 ? d : 1;
}

int64_t zk_store_silent_ms(struct zk_store *zs)
{
    pthread_mutex_lock(&zs->sess.lock);
    int64_t heard = zs->sess.heard_ms;
    pthread_mutex_unlock(&zs->sess.lock);
    int64_t d = clock_mono_ms() - heard;
    return d > 0 ? d : 0;
}

kerr_t zk_store_expire_session_for_test(struct zk_store *zs)
{
    kerr_t err = zs_enter(zs);
    if (err != KERR_NONE)
        return err;
    clientid_t cid = *zoo_client_id(zs->zh);
    struct zs_sess s;
    zs_sess_init(&s);
    /* Racy by nature: our own handle may take the session back before the
     * second one closes it (then the close is not sent). Check and retry. */
    err = KERR__ZK;
    for (int tries = 0; tries < ZS_RETRIES && err != KERR_NONE; tries++) {
        zhandle_t *zh2 = zs_handle_open(zs->connect, zs->session_timeout_ms, zs_aux_watcher, &s, &s,
                                        &cid, zs->digest);
        if (zh2 != NULL)
            zookeeper_close(zh2); /* sends closeSession: the server ends the session */
        if (zs_sess_wait(&zs->sess, 3000, true) == ZOO_EXPIRED_SESSION_STATE)
            err = KERR_NONE;
    }
    zs_sess_destroy(&s);
    return zs_leave(zs, err);
}

/* ---- cluster ------------------------------------------------------------ */

kerr_t zk_store_ensure_paths(struct zk_store *zs)
{
    static const char *const paths[] = {
        "/brokers",
        "/brokers/ids",
        "/brokers/topics",
        "/config",
        "/config/topics",
        ZK_PATH_CONFIG_CHANGES,
        ZK_PATH_CONFIG_BROKERS,
        ZK_PATH_CONFIG_USERS,
        "/admin",
        "/admin/delete_topics",
        "/cluster",
        ZK_PATH_ACL,
        ZK_PATH_ACL_EXTENDED,
        ZK_PATH_ACL_EXTENDED "/prefixed",
        ZK_PATH_ACL_CHANGES,
        ZK_PATH_ACL_EXTENDED_CHANGES,
    };
    kerr_t err = zs_enter(zs);
    if (err != KERR_NONE)
        return err;
    for (size_t i = 0; err == KERR_NONE && i < sizeof(paths) / sizeof(paths[0]); i++)
        err = zs_err(zs_create_empty(zs->zh, paths[i], zs_acl(zs, paths[i])), "create", paths[i]);
    return zs_leave(zs, err);
}

/* A random (version 4) UUID as 22 base64url characters without padding,
 * the form Kafka uses for cluster ids. out has room for 23 bytes. */
static kerr_t zs_random_id(char out[23])
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t b[18] = {0};
    if (getrandom(b, 16, 0) != 16) {
        say_syserror("zk", "getrandom failed");
        return KERR__IO;
    }
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    for (int i = 0, o = 0; i < 18; i += 3) {
        uint32_t v = (uint32_t)b[i] << 16 | (uint32_t)b[i + 1] << 8 | b[i + 2];
        for (int k = 0; k < 4 && o < 22; k++)
            out[o++] = b64[(v >> (18 - 6 * k)) & 0x3f];
    }
    out[22] = '\0';
    return KERR_NONE;
}

/* Creates /cluster/id = a new random id. Returns the ZooKeeper rc. */
static int zs_cluster_id_create(zhandle_t *zh, struct ACL_vector *acl, char id[23])
{
    uint8_t *data;
    size_t len;
    if (zs_random_id(id) != KERR_NONE || zk_codec_cluster_id_encode(id, &data, &len))
        return ZSYSTEMERROR;
    int rc = zs_create_empty(zh, "/cluster", acl);
    if (rc == ZOK)
        rc = zoo_create(zh, "/cluster/id", (const char *)data, (int)len, acl, 0, NULL, 0);
    free(data);
    return rc;
}

kerr_t zk_store_cluster_id(struct zk_store *zs, char *id, size_t n)
{
    if (n < 23)
        return KERR__INVALID;
    kerr_t err = zs_enter(zs);
    if (err != KERR_NONE)
        return err;
    err = KERR__ZK;
    for (int tries = 0; tries < ZS_RETRIES; tries++) {
        uint8_t *data;
        int len;
        struct Stat st;
        int rc = zs_read(zs->zh, "/cluster/id", &data, &len, &st);
        if (rc == ZOK) {
            err = zk_codec_cluster_id_decode(data, (size_t)len, id, n);
            free(data);
            break;
        }
        if (rc != ZNONODE) {
            err = zs_err(rc, "get", "/cluster/id");
            break;
        }
        char fresh[23];
        rc = zs_cluster_id_create(zs->zh, zs_acl(zs, "/cluster/id"), fresh);
        if (rc == ZOK) {
            say_info("zk", "cluster id created id=%s", fresh);
            snprintf(id, n, "%s", fresh);
            err = KERR_NONE;
            break;
        }
        if (rc != ZNODEEXISTS) { /* ZNODEEXISTS: another broker won; read its id */
            err = zs_err(rc, "create", "/cluster/id");
            break;
        }
    }
    return zs_leave(zs, err);
}

/* ---- brokers ------------------------------------------------------------ */

/* Handles an existing /brokers/ids/<id> found while registering `reg`:
 * deletes it if it is our own stale registration (same directory_id), else
 * reports the other broker in err. Returns KERR__AGAIN to retry the create,
 * KERR__EXISTS for a live duplicate, or another error. op_lock held. */
static kerr_t zs_register_conflict(struct zk_store *zs, const char *path,
                                   const struct zk_broker_reg *reg, char *err, size_t errlen)
{
    uint8_t *data;
    int len;
    struct Stat st;
    struct zk_broker_reg old;
    int rc = zs_read(zs->zh, path, &data, &len, &st);
    if (rc == ZNONODE)
        return KERR__AGAIN;
    if (rc != ZOK)
        return zs_err(rc, "get", path);
    memset(&old, 0, sizeof(old));
    kerr_t derr = zk_codec_broker_decode(data, (size_t)len, &old);
    free(data);
    if (derr == KERR_NONE && reg->directory_id[0] != '\0' &&
        strcmp(old.directory_id, reg->directory_id) == 0) {
        say_warn("zk",
                 "replacing stale registration broker=%d old_pid=%d old_hostname=%s "
                 "directory_id=%s",
                 reg->id, old.pid, old.hostname, old.directory_id);
        zs->dead_session = st.ephemeralOwner;
        rc = zoo_delete(zs->zh, path, st.version);
        if (rc == ZOK || rc == ZNONODE || rc == ZBADVERSION)
            return KERR__AGAIN;
        return zs_err(rc, "delete", path);
    }
    if (err != NULL)
        snprintf(err, errlen,
                 "broker id %d is already registered by another live broker: "
                 "host=%s port=%d pid=%d hostname=%s directory_id=%s%s",
                 reg->id, old.n_endpoints > 0 ? old.ep[0].host : "?",
                 old.n_endpoints > 0 ? old.ep[0].port : -1, old.pid, old.hostname, old.directory_id,
                 derr != KERR_NONE ? " (unreadable registration)" : "");
    return KERR__EXISTS;
}

kerr_t zk_store_register_broker(struct zk_store *zs, const struct zk_broker_reg *reg,
                                int64_t *broker_epoch, char *err, size_t errlen)
{
    char path[ZS_PATH_MAX];
    uint8_t *data;
    size_t len;
    if (reg->id < 0 || zk_codec_broker_encode(reg, &data, &len) != KERR_NONE)
        return KERR__INVALID;
    snprintf(path, sizeof(path), "/brokers/ids/%" PRId32, reg->id);
    kerr_t e = zs_enter(zs);
    if (e != KERR_NONE)
        goto out_free;
    e = KERR__ZK;
    for (int tries = 0; tries < ZS_RETRIES && e == KERR__ZK; tries++) {
        struct Stat st;
        int rc = zoo_create2(zs->zh, path, (const char *)data, (int)len, zs_acl(zs, path),
                             ZOO_EPHEMERAL, NULL, 0, &st);
        if (rc == ZOK) {
            *broker_epoch = st.czxid;
            say_info("zk", "broker registered id=%d epoch=%" PRId64, reg->id, st.czxid);
            e = KERR_NONE;
        } else if (rc == ZNODEEXISTS) {
            e = zs_register_conflict(zs, path, reg, err, errlen);
            e = e == KERR__AGAIN ? KERR__ZK : e;
        } else {
            e = zs_err(rc, "create", path);
            break;
        }
    }
    if (e != KERR_NONE && e != KERR__EXISTS && err != NULL)
        snprintf(err, errlen, "cannot register broker %d in ZooKeeper (%s)%s", reg->id,
                 kerr_name(e), e == KERR__NOENT ? ": /brokers/ids is missing" : "");
    zs_leave(zs, e);
out_free:
    free(data);
    return e;
}

static int zs_reg_cmp(const void *a, const void *b)
{
    const struct zk_broker_reg *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

/* Reads /brokers/ids/<name> into *r. KERR__NOENT if it vanished meanwhile. */
static kerr_t zs_broker_read(zhandle_t *zh, const char *name, struct zk_broker_reg *r)
{
    char path[ZS_PATH_MAX];
    uint8_t *data;
    int len;
    struct Stat st;
    snprintf(path, sizeof(path), "/brokers/ids/%s", name);
    int rc = zs_read(zh, path, &data, &len, &st);
    if (rc != ZOK)
        return zs_err(rc, "get", path);
    memset(r, 0, sizeof(*r));
    kerr_t err = zk_codec_broker_decode(data, (size_t)len, r);
    free(data);
    r->epoch = st.czxid;
    if (err != KERR_NONE)
        say_warn("zk", "ignoring unreadable broker registration path=%s", path);
    return err;
}

kerr_t zk_store_list_brokers(struct zk_store *zs, struct zk_broker_reg **regs, int *n)
{
    char **names;
    int nn;
    *regs = NULL;
    *n = 0;
    kerr_t err = zs_enter(zs);
    if (err != KERR_NONE)
        return err;
    err = zs_children(zs->zh, ZK_PATH_BROKER_IDS, &names, &nn);
    if (err != KERR_NONE)
        return zs_leave(zs, err);
    struct zk_broker_reg *out = calloc(nn > 0 ? (size_t)nn : 1, sizeof(*out));
    int k = 0;
    err = out == NULL ? KERR__NOMEM : KERR_NONE;
    for (int i = 0; err == KERR_NONE && i < nn; i++) {
        kerr_t e = zs_broker_read(zs->zh, names[i], &out[k]);
        if (e == KERR_NONE)
            k++;
        else if (e != KERR__NOENT && e != KERR__CORRUPT)
            err = e;
    }
    zk_names_free(names, nn);
    if (err != KERR_NONE || k == 0) {
        free(out);
        return zs_leave(zs, err);
    }
    qsort(out, (size_t)k, sizeof(*out), zs_reg_cmp);
    *regs = out;
    *n = k;
    return zs_leave(zs, KERR_NONE);
}

/* ---- topics ------------------------------------------------------------- */

/* Kafka's rule (common/names.c). Also keeps names safe to put in a znode
 * path. */
bool zs_topic_name_ok(const char *name) { return topic_name_legal_z(name); }

static bool zs_topic_shape_ok(const struct zk_topic *t)
{
    return t->n_partitions >= 1 && t->replication_factor >= 1 && t->replicas != NULL &&
           t->n_configs >= 0 &&
           (t->n_configs == 0 || (t->config_keys != NULL && t->config_values != NULL));
}

/* One attempt at the create transaction: config (create or set on its
 * version) + assignment (create). Returns KERR__AGAIN to retry. */
static kerr_t zs_topic_create_once(struct zk_store *zs, const char *tpath, const char *cpath,
                                   const uint8_t *asg, size_t asg_len, const uint8_t *cfg,
                                   size_t cfg_len)
{
    struct Stat st, cst, sst; /* sst: the library writes a set's stat there */
    zoo_op_t ops[2];
    zoo_op_result_t res[2];
    memset(res, 0, sizeof(res));
    int rc = zoo_exists(zs->zh, tpath, 0, &st);
    if (rc == ZOK)
        return KERR_TOPIC_ALREADY_EXISTS;
    if (rc != ZNONODE)
        return zs_err(rc, "exists", tpath);
    rc = zoo_exists(zs->zh, cpath, 0, &cst);
    bool cfg_exists = rc == ZOK;
    if (rc == ZOK) /* left over from an interrupted create or delete: replace it */
        zoo_set_op_init(&ops[0], cpath, (const char *)cfg, (int)cfg_len, cst.version, &sst);
    else if (rc == ZNONODE)
        zoo_create_op_init(&ops[0], cpath, (const char *)cfg, (int)cfg_len, zs_acl(zs, cpath), 0,
                           NULL, 0);
    else
        return zs_err(rc, "exists", cpath);
    zoo_create_op_init(&ops[1], tpath, (const char *)asg, (int)asg_len, zs_acl(zs, tpath), 0, NULL,
                       0);
    rc = zoo_multi(zs->zh, 2, ops, res);
    if (rc == ZOK)
        return KERR_NONE;
    if (res[1].err == ZNODEEXISTS)
        return KERR_TOPIC_ALREADY_EXISTS;
    if (res[0].err == ZNONODE && !cfg_exists)
        return zs_err(res[0].err, "create", cpath); /* no /config/topics: ensure_paths */
    if (res[0].err == ZNODEEXISTS || res[0].err == ZBADVERSION || res[0].err == ZNONODE)
        return KERR__AGAIN;
    return zs_err(rc, "multi_create_topic", tpath);
}

kerr_t zk_store_topic_create(struct zk_store *zs, const struct zk_topic *t)
{
    char tpath[ZS_PATH_MAX], cpath[ZS_PATH_MAX];
    uint8_t *asg = NULL, *cfg = NULL;
    size_t asg_len, cfg_len;
    if (!zs_topic_name_ok(t->name))
        return KERR_INVALID_TOPIC_EXCEPTION;
    if (!zs_topic_shape_ok(t))
        return KERR__INVALID;
    kerr_t err = zk_codec_assignment_encode(t, &asg, &asg_len);
    if (err == KERR_NONE)
        err = zk_codec_config_encode(t, &cfg, &cfg_len);
    if (err != KERR_NONE)
        goto out_free;
    snprintf(tpath, sizeof(tpath), "/brokers/topics/%s", t->name);
    snprintf(cpath, sizeof(cpath), "/config/topics/%s", t->name);
    err = zs_enter(zs);
    if (err != KERR_NONE)
        goto out_free;
    err = KERR__AGAIN;
    for (int tries = 0; tries < ZS_RETRIES && err == KERR__AGAIN; tries++)
        err = zs_topic_create_once(zs, tpath, cpath, asg, asg_len, cfg, cfg_len);
    if (err == KERR__AGAIN)
        err = KERR__ZK;
    if (err == KERR_NONE)
        say_info("zk", "topic created topic=%s partitions=%d replication_factor=%d", t->name,
                 t->n_partitions, t->replication_factor);
    zs_leave(zs, err);
out_free:
    free(asg);
    free(cfg);
    return err;
}

/* Reads the assignment and config of `t->name` into t. op_lock held. */
static kerr_t zs_topic_read(zhandle_t *zh, struct zk_topic *t)
{
    char path[ZS_PATH_MAX];
    uint8_t *data;
    int len;
    struct Stat st;
    snprintf(path, sizeof(path), "/brokers/topics/%s", t->name);
    int rc = zs_read(zh, path, &data, &len, &st);
    if (rc == ZNONODE)
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    if (rc != ZOK)
        return zs_err(rc, "get", path);
    kerr_t err = zk_codec_assignment_decode(data, (size_t)len, t);
    free(data);
    if (err != KERR_NONE)
        return err;
    t->assignment_version = st.version;
    snprintf(path, sizeof(path), "/config/topics/%s", t->name);
    rc = zs_read(zh, path, &data, &len, &st);
    if (rc == ZNONODE)
        return KERR_NONE;
    if (rc != ZOK)
        return zs_err(rc, "get", path);
    err = zk_codec_config_decode(data, (size_t)len, t);
    free(data);
    if (err == KERR_NONE)
        t->config_version = st.version;
    return err;
}

kerr_t zk_store_topic_get(struct zk_store *zs, const char *name, struct zk_topic *t)
{
    memset(t, 0, sizeof(*t));
    t->assignment_version = ZK_VERSION_NEW;
    t->config_version = ZK_VERSION_NEW;
    if (!zs_topic_name_ok(name))
        return KERR_INVALID_TOPIC_EXCEPTION;
    snprintf(t->name, sizeof(t->name), "%s", name);
    kerr_t err = zs_enter(zs);
    if (err != KERR_NONE)
        return err;
    err = zs_topic_read(zs->zh, t);
    if (err != KERR_NONE)
        zk_topic_destroy(t);
    return zs_leave(zs, err);
}

/* Maps the rc of zs_write() on a topic's znode. */
kerr_t zs_write_err(int rc, const char *path)
{
    if (rc == ZS_RC_FENCED) {
        say_warn("zk", "write refused: another controller was elected path=%s", path);
        return KERR_NOT_CONTROLLER;
    }
    if (rc == ZNONODE)
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    return zs_err(rc, "write", path);
}

/* Encodes one of topic t's znodes with encode() and writes it to
 * dir + t->name at `version` (create: it may not exist yet), as one entry
 * of the session. Returns the encoder's or zs_enter()'s error, else
 * KERR_NONE with *rc zs_write()'s rc and path the znode's path. */
static kerr_t zs_topic_write(struct zk_store *zs, const struct zk_topic *t,
                             kerr_t (*encode)(const struct zk_topic *, uint8_t **, size_t *),
                             const char *dir, int32_t version, bool create, char *path, int *rc)
{
    uint8_t *data;
    size_t len;
    int32_t nv;
    kerr_t err = encode(t, &data, &len);
    if (err != KERR_NONE)
        return err;
    snprintf(path, ZS_PATH_MAX, "%s%s", dir, t->name);
    err = zs_enter(zs);
    if (err == KERR_NONE)
        zs_leave(zs, (*rc = zs_write(zs, path, data, len, version, create, &nv), KERR_NONE));
    free(data);
    return err;
}

kerr_t zk_store_topic_assignment_set(struct zk_store *zs, const struct zk_topic *t)
{
    char path[ZS_PATH_MAX];
    int rc;
    if (!zs_topic_name_ok(t->name))
        return KERR_INVALID_TOPIC_EXCEPTION;
    if (t->assignment_version < 0 || !zs_topic_shape_ok(t))
        return KERR__INVALID;
    kerr_t err = zs_topic_write(zs, t, zk_codec_assignment_encode, "/brokers/topics/",
                                t->assignment_version, true, path, &rc);
    return err != KERR_NONE ? err : zs_write_err(rc, path);
}

kerr_t zk_store_topic_config_set(struct zk_store *zs, const struct zk_topic *t)
{
    char path[ZS_PATH_MAX];
    int rc;
    if (!zs_topic_name_ok(t->name))
        return KERR_INVALID_TOPIC_EXCEPTION;
    kerr_t err = zs_topic_write(zs, t, zk_codec_config_encode, "/config/topics/", t->config_version,
                                false, path, &rc);
    if (err != KERR_NONE)
        return err;
    return rc == ZNONODE ? KERR__NOENT : zs_err(rc, "write", path);
}

kerr_t zk_store_topic_list(struct zk_store *zs, char ***names, int *n)
{
    kerr_t err = zs_enter(zs);
    if (err != KERR_NONE)
        return err;
    return zs_leave(zs, zs_children(zs->zh, ZK_PATH_TOPICS, names, n));
}

kerr_t zk_store_delete_requests_list(struct zk_store *zs, char ***names, int *n)
{
    kerr_t err = zs_enter(zs);
    if (err != KERR_NONE)
        return err;
    return zs_leave(zs, zs_children(zs->zh, ZK_PATH_DELETE_TOPICS, names, n));
}

/* Deletes path and everything below it. Returns ZOK, ZNONODE (nothing was
 * there) or an error rc. Depth is bounded by our layout (< 8). */
static int zs_delete_tree(zhandle_t *zh, const char *path, int depth)
{
    int rc = ZNOTEMPTY;
    for (int tries = 0; tries < ZS_RETRIES && rc == ZNOTEMPTY; tries++) {
        struct String_vector sv = {0, NULL};
        rc = zoo_get_children(zh, path, 0, &sv);
        if (rc != ZOK)
            return rc;
        for (int i = 0; i < sv.count && depth < 8; i++) {
            char child[ZS_PATH_MAX];
            if (snprintf(child, sizeof(child), "%s/%s", path, sv.data[i]) >= (int)sizeof(child)) {
                rc = ZBADARGUMENTS; /* cannot be: paths are bounded by our own names */
                continue;
            }
            int crc = zs_delete_tree(zh, child, depth + 1);
            if (crc != ZOK && crc != ZNONODE)
                rc = crc;
        }
        deallocate_String_vector(&sv);
        if (rc != ZOK)
            return rc;
        rc = zoo_delete(zh, path, -1); /* ZNOTEMPTY: a child appeared meanwhile */
    }
    return rc;
}

kerr_t zk_store_topic_delete(struct zk_store *zs, const char *name)
{
    char path[ZS_PATH_MAX];
    if (!zs_topic_name_ok(name))
        return KERR_INVALID_TOPIC_EXCEPTION;
    kerr_t err = zs_enter(zs);
    if (err != KERR_NONE)
        return err;
    bool existed = false;
    snprintf(path, sizeof(path), "/brokers/topics/%s", name);
    int rc = zs_delete_tree(zs->zh, path, 0);
    existed |= rc == ZOK;
    if (rc == ZOK || rc == ZNONODE) {
        snprintf(path, sizeof(path), "/config/topics/%s", name);
        rc = zoo_delete(zs->zh, path, -1);
        existed |= rc == ZOK;
    }
    if (rc == ZOK || rc == ZNONODE) {
        snprintf(path, sizeof(path), "/admin/delete_topics/%s", name);
        rc = zoo_delete(zs->zh, path, -1);
    }
    if (rc != ZOK && rc != ZNONODE)
        err = zs_err(rc, "delete", path);
    else if (!existed)
        err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
    else
        say_info("zk", "topic deleted topic=%s", name);
    return zs_leave(zs, err);
}

kerr_t zk_store_topic_mark_deleted(struct zk_store *zs, const char *name)
{
    char path[ZS_PATH_MAX];
    struct Stat st;
    if (!zs_topic_name_ok(name))
        return KERR_INVALID_TOPIC_EXCEPTION;
    kerr_t err = zs_enter(zs);
    if (err != KERR_NONE)
        return err;
    snprintf(path, sizeof(path), "/brokers/topics/%s", name);
    int rc = zoo_exists(zs->zh, path, 0, &st);
    if (rc == ZOK) {
        snprintf(path, sizeof(path), "/admin/delete_topics/%s", name);
        rc = zs_create_empty(zs->zh, path, zs_acl(zs, path));
    }
    err = rc == ZNONODE ? KERR_UNKNOWN_TOPIC_OR_PARTITION : zs_err(rc, "create", path);
    return zs_leave(zs, err);
}

void zk_topic_destroy(struct zk_topic *t)
{
    if (t == NULL)
        return;
    free(t->replicas);
    free(t->adding);
    free(t->removing);
    free(t->config_keys);
    free(t->config_values);
    t->replicas = NULL;
    t->adding = NULL;
    t->removing = NULL;
    t->config_keys = NULL;
    t->config_values = NULL;
    t->n_partitions = 0;
    t->n_configs = 0;
}

void zk_names_free(char **names, int n)
{
    if (names == NULL)
        return;
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* ---- partition state ---------------------------------------------------- */

kerr_t zk_store_partition_state_get(struct zk_store *zs, const char *topic, int p,
                                    struct zk_partition_state *st)
{
    char path[ZS_PATH_MAX];
    uint8_t *data;
    int len;
    struct Stat zst;
    if (!zs_topic_name_ok(topic) || p < 0)
        return KERR__INVALID;
    snprintf(path, sizeof(path), "/brokers/topics/%s/partitions/%d/state", topic, p);
    kerr_t err = zs_enter(zs);
    if (err != KERR_NONE)
        return err;
    int rc = zs_read(zs->zh, path, &data, &len, &zst);
    if (rc != ZOK)
        return zs_leave(zs, zs_err(rc, "get", path));
    memset(st, 0, sizeof(*st));
    err = zk_codec_state_decode(data, (size_t)len, st);
    free(data);
    st->version = zst.version;
    st->mzxid = zst.mzxid;
    return zs_leave(zs, err);
}

/* Creates /brokers/topics/<t>/partitions and .../<p> if missing. */
static int zs_partition_parents(struct zk_store *zs, const char *topic, int p)
{
    char path[ZS_PATH_MAX];
    snprintf(path, sizeof(path), "/brokers/topics/%s/partitions", topic);
    int rc = zs_create_empty(zs->zh, path, zs_acl(zs, path));
    if (rc != ZOK)
        return rc;
    snprintf(path, sizeof(path), "/brokers/topics/%s/partitions/%d", topic, p);
    return zs_create_empty(zs->zh, path, zs_acl(zs, path));
}

kerr_t zk_store_partition_state_set(struct zk_store *zs, const char *topic, int p,
                                    struct zk_partition_state *st)
{
    char path[ZS_PATH_MAX];
    uint8_t *data;
    size_t len;
    if (!zs_topic_name_ok(topic) || p < 0 || st->version < ZK_VERSION_NEW)
        return KERR__INVALID;
    kerr_t err = zk_codec_state_encode(st, &data, &len);
    if (err != KERR_NONE)
        return err;
    snprintf(path, sizeof(path), "/brokers/topics/%s/partitions/%d/state", topic, p);
    err = zs_enter(zs);
    if (err != KERR_NONE)
        goto out_free;
    int rc = ZOK;
    if (st->version == ZK_VERSION_NEW)
        rc = zs_partition_parents(zs, topic, p);
    int32_t nv = 0;
    if (rc == ZOK)
        rc = zs_write(zs, path, data, len, st->version, true, &nv);
    if (rc == ZOK) {
        st->version = nv;
        st->mzxid = 0; /* written, not read */
    }
    zs_leave(zs, err = zs_write_err(rc, path));
out_free:
    free(data);
    return err;
}

/* ---- watches ------------------------------------------------------------ */

kerr_t zk_store_watch_children(struct zk_store *zs, const char *path)
{
    struct String_vector sv = {0, NULL};
    kerr_t err = zs_enter(zs);
    if (err != KERR_NONE)
        return err;
    int rc = zoo_wget_children(zs->zh, path, zs_watch_fn, zs, &sv);
    if (rc == ZOK)
        deallocate_String_vector(&sv);
    return zs_leave(zs, zs_err(rc, "wget_children", path));
}

kerr_t zk_store_watch_node(struct zk_store *zs, const char *path, bool *exists)
{
    struct Stat st;
    kerr_t err = zs_enter(zs);
    if (err != KERR_NONE)
        return err;
    int rc = zoo_wexists(zs->zh, path, zs_watch_fn, zs, &st);
    if (exists != NULL)
        *exists = rc == ZOK;
    return zs_leave(zs, rc == ZNONODE ? KERR_NONE : zs_err(rc, "wexists", path));
}
