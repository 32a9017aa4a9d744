/*
 * controller/zk/zk_store_int.h — internals shared by zk_store.c (synchronous
 * calls), zk_store_batch.c (pipelined partition-state reads and writes,
 * and the window of asynchronous requests other files pipeline with),
 * zk_store_config.c (config change notifications), zk_store_sync.c
 * (ZooKeeper's sync), zk_store_pid.c, zk_store_reassign.c, zk_store_acl.c
 * (ACLs), zk_store_users.c, zk_store_quotas.c, zk_store_controller.c (the
 * election) and zk_store_auth.c (credentials and znode ACLs). Private to those files, the only ones that include <zookeeper/zookeeper.h>.
 */
#ifndef GREGOR_CONTROLLER_ZK_ZK_STORE_INT_H
#define GREGOR_CONTROLLER_ZK_ZK_STORE_INT_H

#include <pthread.h>

#include <zookeeper/zookeeper.h>

#include "controller/zk/zk_store.h"

#define ZS_PATH_MAX 512
#define ZS_RETRIES 5          /* bound on optimistic-concurrency retry loops */
#define ZS_RC_FENCED (-10000) /* our own rc: the controller-epoch check failed */
#define ZS_EPOCH_PATH "/controller_epoch"

/* Session state shared with the ZooKeeper completion thread. */
struct zs_sess {
    pthread_mutex_t lock;
    pthread_cond_t cond;   /* signalled on every session state change */
    int zstate;            /* last ZOO_*_STATE seen; 0 before the first */
    int64_t down_since_ms; /* monotonic ms when zstate stopped being connected;
                              0 while connected */
    int64_t heard_ms;      /* monotonic ms of the server's last answer: a connect or
                              a heartbeat (zs_hb_main()) */
};

/* Created by zk_store_open(), freed by zk_store_close(). */
struct zk_store {
    pthread_mutex_t op_lock; /* serialises API calls; guards zh and fence_version */
    zhandle_t *zh;           /* NULL after a failed reconnect */
    int32_t fence_version;   /* /controller_epoch version we wrote when last elected; -1
                                 if never or resigned. Kept across reconnects: a controller
                                 that lost its session stays fenced until it wins again. */
    int64_t dead_session;    /* ephemeralOwner of our own stale registration replaced by
                                 zk_store_register_broker() (a dead incarnation of this
                                 broker), 0 if none; its /controller is removed on election */
    char *connect;           /* immutable after open */
    int session_timeout_ms;  /* immutable after open */
    char *digest;            /* "user:password" presented on every session, or NULL;
                                immutable after open */
    bool set_acl;            /* znodes created readable by all, changeable only by
                                sessions with our credentials; immutable after open */

    struct zs_sess sess; /* the fields below are guarded by sess.lock too */
    bool quiet;          /* closing a handle: drop its events */
    bool hb_stop;        /* zk_store_close(): the heartbeat thread ends */
    bool hb_running;     /* hb_thread was started */
    pthread_t hb_thread; /* zs_hb_main() */
    zk_session_cb session_cb;
    void *session_arg;
    struct {
        zk_watch_cb cb;
        void *arg;
    } watchers[ZK_WATCHERS_MAX]; /* cb NULL: free slot */
};

/* One conditional write as a multi-op (see zs_write_ops()). */
struct zs_write_req {
    zoo_op_t ops[2];
    zoo_op_result_t res[2];
    struct Stat st;
    int n;           /* ops used */
    int di;          /* index of the data op */
    int32_t version; /* the version the write is conditional on */
};

/* A window of asynchronous requests on the store's session
 * (zk_store_batch.c): the sender reserves a place before each request,
 * the request's completion (ZooKeeper's completion thread) counts it down,
 * and the sender waits for what is in flight. At most ZSB_WINDOW requests
 * are in flight. Used with op_lock held, for the whole batch. */
#define ZSB_WINDOW 512
struct zsb {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int inflight;
    int wake_at; /* the waiter's target: signal at or below it; -1: none */
};
void zsb_init(struct zsb *b);
void zsb_destroy(struct zsb *b);
/* Makes room for one more request (waits while the window is full) and
 * counts it. */
void zsb_reserve(struct zsb *b);
/* Gives back a reservation whose request was not sent. */
void zsb_unreserve(struct zsb *b);
/* Completion thread: one request of the batch is done. */
void zsb_count_down(struct zsb *b);
/* Waits until at most `max` requests are in flight (0: all done). */
void zsb_wait(struct zsb *b, int max);

/* The ACL to create path with (zk_store_auth.c): open to all without set_acl;
 * else ALL for our credentials and READ for the world, no world READ under
 * /config/users/. */
struct ACL_vector *zs_acl(const struct zk_store *zs, const char *path);
struct ACL_vector *zs_acl_pick(bool set_acl, const char *path);
/* "user:password" with a non-empty user. */
bool zs_digest_valid(const char *digest);
/* Presents digest credentials on zh and waits for the answer (at most
 * timeout_ms). Returns the ZooKeeper rc, logging a failure. */
int zs_auth_add(zhandle_t *zh, const char *digest, int timeout_ms);

/* A condition variable timed on CLOCK_MONOTONIC, and a deadline timeout_ms
 * from now on that clock, for pthread_cond_timedwait(). */
void zs_cond_init_monotonic(pthread_cond_t *cond);
void zs_deadline(struct timespec *dl, int timeout_ms);

/* Takes op_lock and checks there is a handle (KERR__ZK, unlocked, if not). */
kerr_t zs_enter(struct zk_store *zs);
/* Releases op_lock; returns err. */
kerr_t zs_leave(struct zk_store *zs, kerr_t err);
/* Reads path into *data (new, free()) and *st. Returns a ZooKeeper rc. */
int zs_read(zhandle_t *zh, const char *path, uint8_t **data, int *len, struct Stat *st);
/* Lists path's children sorted by name (new: zk_names_free()). */
kerr_t zs_children(zhandle_t *zh, const char *path, char ***names, int *n);
/* Maps a ZooKeeper rc to kerr_t, logging the unexpected ones. */
kerr_t zs_err(int rc, const char *op, const char *path);
/* Maps the rc of a (fenced) write of a topic's znode. */
kerr_t zs_write_err(int rc, const char *path);
/* Kafka's topic name rule (also keeps names safe in a path). */
bool zs_topic_name_ok(const char *name);
/* A user name as a znode name and back (zk_store_users.c): percent-encoded
 * as Kafka's Sanitizer does. false if it does not fit, is empty, or (encode)
 * is "." or "..". */
bool zs_user_name_encode(const char *name, char *out, size_t n);
bool zs_user_name_decode(const char *enc, char *out, size_t n);
/* Fills w for path = data (borrowed until the request is sent): create when
 * version == ZK_VERSION_NEW, else set on version; with a check of
 * /controller_epoch first when `fenced` and this store was elected. Call
 * with op_lock held. */
void zs_write_ops(struct zk_store *zs, struct zs_write_req *w, const char *path,
                  const uint8_t *data, size_t len, int32_t version, bool fenced);
/* The outcome of w's multi that returned rc: ZOK (*new_version set), the
 * data op's ZNODEEXISTS / ZBADVERSION / ZNONODE, ZS_RC_FENCED, or rc. */
int zs_write_outcome(const struct zs_write_req *w, int rc, int32_t *new_version);

#endif
