/*
 * controller/zk/zk_store_batch.c — many partition states at once: pipelined
 * asynchronous requests on the store's session (zk_store.h, "partition
 * state, many at once"), and the window those requests go through (struct
 * zsb, zk_store_int.h), which zk_store_acl.c pipelines with too. Shares
 * zk_store.c's internals (zk_store_int.h); together they are the only files
 * that include <zookeeper/zookeeper.h>.
 *
 * Why pipelining and not one big multi: a multi is all-or-nothing, so one
 * partition whose state changed under us (version conflict) would fail the
 * whole batch. Here every partition is its own request, exactly the
 * request the single call sends (a multi of the /controller_epoch check
 * and the conditional create/set: fencing and versions are unchanged), but
 * up to ZSB_WINDOW of them are in flight at once. ZooKeeper handles one
 * session's requests in order and commits many transactions per log fsync,
 * so the batch costs about one round trip per window instead of one
 * (fsync-bound) round trip per partition, and each result is independent.
 *
 * Threads: the caller holds op_lock for the whole batch, sends, and waits
 * on the batch's condition variable; ZooKeeper's completion thread runs
 * zsb_*_done(), which only record a result (and copy a read's payload),
 * count down and signal. Every sent request gets exactly one completion
 * (with ZCONNECTIONLOSS / ZSESSIONEXPIRED when the session goes), so the
 * wait always ends and no completion runs after the batch is freed.
 */
#include "controller/zk/zk_store.h"
#include "controller/zk/zk_store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/say.h"
#include "controller/zk/zk_codec.h"

/* One partition's request (write or read) and its outcome. */
struct zsb_item {
    struct zsb *b;
    char path[ZS_PATH_MAX];
    uint8_t *data; /* owned: the encoded state (writes) */
    size_t len;
    struct zs_write_req w;         /* writes: ops and results, live until completion */
    const char *topic;             /* borrowed: the partition's topic */
    int part;                      /* and index */
    struct zk_partition_state *st; /* borrowed: reads fill it on the completion thread */
    int rc;                        /* ZooKeeper rc of the request: set by its completion
                                   (or by the sender when it could not be sent); read
                                   after zsb_wait(), whose lock orders the two threads */
    kerr_t decoded;                /* reads: the payload's decode result */
};

void zsb_init(struct zsb *b)
{
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->cond, NULL);
    b->inflight = 0;
    b->wake_at = -1;
}

void zsb_destroy(struct zsb *b)
{
    pthread_mutex_destroy(&b->lock);
    pthread_cond_destroy(&b->cond);
}

/* Wakes the sender only when it has reached what the sender waits for,
 * not once per completion (a context switch per request would cost more
 * than the request on a busy machine). */
void zsb_count_down(struct zsb *b)
{
    pthread_mutex_lock(&b->lock);
    b->inflight--;
    if (b->inflight <= b->wake_at)
        pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->lock);
}

void zsb_wait(struct zsb *b, int max)
{
    pthread_mutex_lock(&b->lock);
    b->wake_at = max;
    while (b->inflight > max)
        pthread_cond_wait(&b->cond, &b->lock);
    b->wake_at = -1;
    pthread_mutex_unlock(&b->lock);
}

/* When the window is full, waits until half of it has drained, then
 * refills in a burst. */
void zsb_reserve(struct zsb *b)
{
    pthread_mutex_lock(&b->lock);
    bool full = b->inflight >= ZSB_WINDOW;
    pthread_mutex_unlock(&b->lock);
    if (full)
        zsb_wait(b, ZSB_WINDOW / 2);
    pthread_mutex_lock(&b->lock);
    b->inflight++;
    pthread_mutex_unlock(&b->lock);
}

void zsb_unreserve(struct zsb *b) { zsb_count_down(b); }

static void zsb_ignore_done(int rc, const char *value, const void *data)
{
    (void)rc;
    (void)value;
    zsb_count_down((struct zsb *)data);
}

static void zsb_write_done(int rc, const void *data)
{
    struct zsb_item *it = (struct zsb_item *)data;
    it->rc = rc;
    zsb_count_down(it->b);
}

static void zsb_read_done(int rc, const char *value, int value_len, const struct Stat *stat,
                          const void *data)
{
    struct zsb_item *it = (struct zsb_item *)data;
    it->rc = rc;
    if (rc == ZOK) {
        memset(it->st, 0, sizeof(*it->st));
        it->decoded = zk_codec_state_decode((const uint8_t *)value,
                                            value_len > 0 ? (size_t)value_len : 0, it->st);
        it->st->version = stat->version;
        it->st->mzxid = stat->mzxid;
    }
    zsb_count_down(it->b);
}

/* Sends an asynchronous create of an empty persistent znode whose outcome
 * does not matter (a parent: ZNODEEXISTS is fine, and any other failure
 * fails the state's create that follows it in the same session). */
static void zsb_create_parent(struct zk_store *zs, struct zsb *b, const char *path)
{
    zsb_reserve(b);
    if (zoo_acreate(zs->zh, path, NULL, -1, zs_acl(zs, path), 0, zsb_ignore_done, b) != ZOK)
        zsb_unreserve(b);
}

/* Sends the parents of a new state: .../partitions once per run of equal
 * topics (prev: the topic of the previous new state, or NULL), then
 * .../partitions/<p>. */
static void zsb_send_parents(struct zk_store *zs, struct zsb *b, const char *topic, int p,
                             const char *prev)
{
    char path[ZS_PATH_MAX];
    if (!prev || strcmp(prev, topic) != 0) {
        snprintf(path, sizeof(path), "/brokers/topics/%s/partitions", topic);
        zsb_create_parent(zs, b, path);
    }
    snprintf(path, sizeof(path), "/brokers/topics/%s/partitions/%d", topic, p);
    zsb_create_parent(zs, b, path);
}

/* The items of a batch of n partitions (checks the arguments of the
 * *_many calls): each names its topic, partition and state; its path is
 * the state znode's when the topic name and index are legal, else "".
 * NULL with *err set when there is nothing to do (KERR_NONE for n == 0). */
static struct zsb_item *zsb_items_new(int n, const char *const *topics, const int *parts,
                                      struct zk_partition_state *states, const kerr_t *results,
                                      kerr_t *err)
{
    *err = KERR_NONE;
    if (n < 0 || (n > 0 && (!topics || !parts || !states || !results)))
        *err = KERR__INVALID;
    struct zsb_item *items = n > 0 && !*err ? calloc((size_t)n, sizeof(*items)) : NULL;
    if (n > 0 && !*err && !items)
        *err = KERR__NOMEM;
    for (int i = 0; items && i < n; i++) {
        items[i].topic = topics[i];
        items[i].part = parts[i];
        items[i].st = &states[i];
        if (zs_topic_name_ok(topics[i]) && parts[i] >= 0)
            snprintf(items[i].path, sizeof(items[i].path), "/brokers/topics/%s/partitions/%d/state",
                     topics[i], parts[i]);
    }
    return items;
}

/* Runs send() over the items inside one entry of the store's session, with
 * the batch every item counts down on. Returns zs_enter()'s error. */
static kerr_t zsb_run(struct zk_store *zs, struct zsb_item *items, int n,
                      void (*send)(struct zk_store *, struct zsb *, struct zsb_item *, int))
{
    kerr_t err = zs_enter(zs);
    if (err != KERR_NONE)
        return err;
    struct zsb b;
    zsb_init(&b);
    for (int i = 0; i < n; i++)
        items[i].b = &b;
    send(zs, &b, items, n);
    zsb_destroy(&b);
    zs_leave(zs, KERR_NONE);
    return KERR_NONE;
}

/* Encodes the item's state (KERR__INVALID for bad arguments); clears the
 * path of an item that is not to be sent. */
static kerr_t zsb_prepare_write(struct zsb_item *it)
{
    kerr_t err = KERR__INVALID;
    if (it->path[0] && it->st->version >= ZK_VERSION_NEW)
        err = zk_codec_state_encode(it->st, &it->data, &it->len);
    if (err != KERR_NONE)
        it->path[0] = '\0';
    return err;
}

/* Sends every prepared write (path set) and waits for all. */
static void zsb_send_writes(struct zk_store *zs, struct zsb *b, struct zsb_item *items, int n)
{
    const char *prev = NULL;
    for (int i = 0; i < n; i++) {
        struct zsb_item *it = &items[i];
        if (!it->path[0])
            continue;
        if (it->st->version == ZK_VERSION_NEW) {
            zsb_send_parents(zs, b, it->topic, it->part, prev);
            prev = it->topic;
        }
        zs_write_ops(zs, &it->w, it->path, it->data, it->len, it->st->version, true);
        zsb_reserve(b);
        /* it->rc is the completion's: it may run before zoo_amulti returns */
        int rc = zoo_amulti(zs->zh, it->w.n, it->w.ops, it->w.res, zsb_write_done, it);
        if (rc != ZOK) {
            it->rc = rc;
            zsb_unreserve(b);
        }
    }
    zsb_wait(b, 0);
}

/* Maps the outcome of a sent (or refused) write; sets st->version on
 * success. Logs only the first failure of a batch that is not a plain
 * conflict (*logged), so that a fenced or disconnected batch of thousands
 * logs one line. */
static kerr_t zsb_write_result(const struct zsb_item *it, struct zk_partition_state *st,
                               bool *logged)
{
    int32_t nv = 0;
    int rc = zs_write_outcome(&it->w, it->rc, &nv);
    if (rc == ZOK) {
        st->version = nv;
        st->mzxid = 0; /* written, not read */
        return KERR_NONE;
    }
    if (rc == ZNONODE)
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    if (rc == ZNODEEXISTS || rc == ZBADVERSION)
        return KERR__EXISTS;
    if (*logged)
        return rc == ZS_RC_FENCED        ? KERR_NOT_CONTROLLER
               : rc == ZOPERATIONTIMEOUT ? KERR__TIMEOUT
                                         : KERR__ZK;
    *logged = true;
    return zs_write_err(rc, it->path);
}

kerr_t zk_store_partition_states_set_many(struct zk_store *zs, int n, const char *const *topics,
                                          const int *parts, struct zk_partition_state *states,
                                          kerr_t *results)
{
    kerr_t err;
    struct zsb_item *items = zsb_items_new(n, topics, parts, states, results, &err);
    if (!items)
        return err;
    for (int i = 0; i < n; i++)
        results[i] = zsb_prepare_write(&items[i]);
    err = zsb_run(zs, items, n, zsb_send_writes);
    bool logged = false;
    for (int i = 0; i < n; i++) {
        if (results[i] == KERR_NONE)
            results[i] = err != KERR_NONE ? err : zsb_write_result(&items[i], &states[i], &logged);
        free(items[i].data);
    }
    free(items);
    return err;
}

/* Sends every read whose path is set and waits for all. */
static void zsb_send_reads(struct zk_store *zs, struct zsb *b, struct zsb_item *items, int n)
{
    for (int i = 0; i < n; i++) {
        struct zsb_item *it = &items[i];
        if (!it->path[0])
            continue;
        zsb_reserve(b);
        /* it->rc is the completion's: it may run before zoo_aget returns */
        int rc = zoo_aget(zs->zh, it->path, 0, zsb_read_done, it);
        if (rc != ZOK) {
            it->rc = rc;
            zsb_unreserve(b);
        }
    }
    zsb_wait(b, 0);
}

kerr_t zk_store_partition_states_get_many(struct zk_store *zs, int n, const char *const *topics,
                                          const int *parts, struct zk_partition_state *states,
                                          kerr_t *results)
{
    kerr_t err;
    struct zsb_item *items = zsb_items_new(n, topics, parts, states, results, &err);
    if (!items)
        return err;
    for (int i = 0; i < n; i++)
        results[i] = KERR__INVALID;
    err = zsb_run(zs, items, n, zsb_send_reads);
    bool logged = false;
    for (int i = 0; i < n; i++) {
        const struct zsb_item *it = &items[i];
        if (!it->path[0])
            continue;
        if (err != KERR_NONE || it->rc == ZOK)
            results[i] = err != KERR_NONE ? err : it->decoded;
        else if (it->rc == ZNONODE || logged)
            results[i] = it->rc == ZNONODE ? KERR__NOENT : KERR__ZK;
        else
            logged = (results[i] = zs_err(it->rc, "get", it->path)) != KERR__NOENT;
    }
    free(items);
    return err;
}
