/*
 * broker/core/txn_runtime.c — the transaction coordinator's tables at run time
 * (txn_runtime.h): one slot per `__transaction_state` partition (none, loading, loaded), the
 * replay of a partition in chunks on leadership and the drop on its loss, the acks=all writes
 * of transitions (coord_write.h) and the timer of the coordinator's passes and write
 * deadlines. All state is owned by the txn worker; other threads only post jobs.
 */
#include "broker/core/txn_runtime.h"
#include "broker/core/broker.h"
#include "broker/core/coord_write.h"
#include "broker/core/log_load.h"
#include "broker/core/txn_coord.h"
#include "broker/core/txn_markers.h"
#include "broker/group/coord_hash.h"
#include "broker/replication/partition.h"
#include "broker/replication/topics.h"
#include "broker/storage/batch.h"
#include "common/base.h"
#include "common/clock.h"
#include "common/loop/worker.h"
#include "common/say.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TR_LOAD_CHUNK (1 << 20) /* bytes read per loading job */

enum slot_state { SLOT_NONE, SLOT_LOADING, SLOT_LOADED };

struct slot {
    struct txn_runtime *tr;
    int32_t index;
    enum slot_state state;
    struct txn_table *table; /* owned while LOADING or LOADED */
    int32_t leader_epoch;    /* the epoch it was loaded under */
    uint64_t gen;            /* bumped at every load and unload */
    struct topic *topic;     /* referenced while LOADING or LOADED */
    struct log_load load;    /* LOADING: the load's progress (log_load.h) */
    int64_t load_start_ms;
    struct pwaiter waiter; /* watches the partition while LOADED (write acks) */
    bool watching;
};

/* A transition being written (txn_runtime_write()). */
struct pending {
    struct coord_pending head; /* head.slot: the struct slot */
    struct txn_meta *m;        /* valid while the slot's gen == head.gen */
    char *id;                  /* m's id, to find the entry after apply/abandon */
    size_t id_len;
    txn_write_done done;
    void *arg;
};

struct txn_runtime {
    struct broker *b;
    struct worker *w;
    struct slot **slots; /* n_slots, grown to the topic's partition count */
    int32_t n_slots;
    struct event *timer; /* passes and write deadlines */
    struct txn_markers *markers;
    struct coord_pending_list pend; /* transitions being written (struct pending) */
    int64_t next_abort_ms, next_expire_ms;
    bool stopping;             /* txn worker: stop_job ran */
    pthread_mutex_t call_lock; /* guards closed */
    bool closed;
};

static struct topic *txn_topic(struct txn_runtime *tr)
{
    return topics_get(tr->b->topics, TOPIC_TRANSACTION_STATE, strlen(TOPIC_TRANSACTION_STATE));
}

static bool ensure_slots(struct txn_runtime *tr, int32_t n)
{
    if (n <= tr->n_slots)
        return true;
    struct slot **v = realloc(tr->slots, (size_t)n * sizeof(*v));
    if (!v)
        return false;
    tr->slots = v;
    for (; tr->n_slots < n; tr->n_slots++) {
        struct slot *s = calloc(1, sizeof(*s));
        if (!s)
            return false;
        *s = (struct slot){.tr = tr, .index = tr->n_slots, .state = SLOT_NONE};
        tr->slots[tr->n_slots] = s;
    }
    return true;
}

int64_t txn_runtime_now(void) { return clock_wall_ms(); }

struct txn_markers *txn_runtime_markers(struct txn_runtime *tr) { return tr->markers; }

struct broker *txn_runtime_broker(struct txn_runtime *tr) { return tr->b; }

static void rearm(struct txn_runtime *tr);

static void unload(struct slot *s, const char *why)
{
    if (s->state == SLOT_NONE)
        return;
    if (s->watching)
        partition_unwatch(topic_part(s->topic, s->index), &s->waiter);
    s->watching = false;
    if (s->tr->markers)
        txn_markers_cancel_partition(s->tr->markers, s->index);
    say_info("txn", "unloaded partition=%d ids=%zu reason=%s", s->index, txn_table_count(s->table),
             why);
    txn_table_free(s->table);
    s->table = NULL;
    s->state = SLOT_NONE;
    s->gen++;
    coord_pending_post_check(
        &s->tr->pend); /* its writes end NOT_LEADER_OR_FOLLOWER (from a job: no re-entry) */
    topic_unref(s->topic);
    s->topic = NULL;
}

/* wake() of a loaded slot's partition: under the partition lock, so it only posts. */
static void slot_wake(struct pwaiter *w)
{
    coord_pending_post_check(&((struct slot *)w->owner)->tr->pend);
}

static void load_job(void *arg);

struct load_ref {
    struct slot *slot;
    uint64_t gen;
};

static void post_load(struct slot *s)
{
    struct load_ref *lr = malloc(sizeof(*lr));
    if (lr) {
        *lr = (struct load_ref){s, s->gen};
        if (worker_post(s->tr->w, load_job, lr))
            return;
        free(lr);
    }
    unload(s, "out of memory");
}

static void begin_load(struct slot *s, struct topic *t, int32_t leader_epoch)
{
    s->table = txn_table_new();
    if (!s->table)
        return;
    txn_table_set_stats(s->table, &s->tr->b->txn_stats);
    topic_ref(t);
    s->topic = t;
    s->state = SLOT_LOADING;
    s->leader_epoch = leader_epoch;
    s->gen++;
    log_load_init(&s->load, "txn", s->index);
    s->load_start_ms = clock_mono_ms();
    say_info("txn", "loading partition=%d leader_epoch=%d", s->index, leader_epoch);
    post_load(s);
}

/* Loads one record of `__transaction_state` into the slot's table. */
static kerr_t load_record(void *arg, const struct batch_record *r)
{
    struct slot *s = arg;
    return txn_table_load_record(s->table, r->key, (size_t)r->key_len, r->value,
                                 r->value ? (size_t)r->value_len : 0);
}

/* Reads one chunk of the partition being loaded; reposts itself until the LEO of the start
 * is reached, then makes the table live. */
static void load_job(void *arg)
{
    struct load_ref *lr = arg;
    struct slot *s = lr->slot;
    bool current = s->gen == lr->gen && s->state == SLOT_LOADING;
    free(lr);
    if (!current)
        return;
    struct partition *part = topic_part(s->topic, s->index);
    const char *why = NULL;
    switch (log_load_step(&s->load, part, s->leader_epoch, TR_LOAD_CHUNK, load_record, s, &why)) {
    case LOG_LOAD_MORE:
        post_load(s);
        return;
    case LOG_LOAD_FAILED:
        unload(s, why);
        return;
    case LOG_LOAD_DONE:
        break;
    }
    s->state = SLOT_LOADED;
    s->waiter = (struct pwaiter){.wake = slot_wake, .owner = s, .what = "txn coordinator"};
    partition_watch(part, &s->waiter);
    s->watching = true;
    say_info("txn", "loaded partition=%d records=%lld ids=%zu in %lld ms", s->index,
             (long long)s->load.records, txn_table_count(s->table),
             (long long)(clock_mono_ms() - s->load_start_ms));
    txn_coord_loaded(s->tr, s->table, s->index);
    rearm(s->tr);
}

/* Brings slot p in line with the partition's leadership. */
static struct slot *sync_slot(struct txn_runtime *tr, int32_t p, kerr_t *err)
{
    struct topic *t = txn_topic(tr);
    int32_t n = t ? atomic_load(&t->n_parts) : 0;
    if (!t || p >= n || !ensure_slots(tr, n)) {
        topic_unref(t);
        *err = KERR_COORDINATOR_NOT_AVAILABLE;
        return NULL;
    }
    struct slot *s = tr->slots[p];
    struct partition *part = topic_part(t, p);
    int32_t epoch = -1;
    int32_t leader = partition_has_log(part) ? partition_leader(part, &epoch) : -1;
    if (leader != tr->b->id) {
        unload(s, "not the leader");
        *err = KERR_NOT_COORDINATOR;
    } else {
        if (s->state != SLOT_NONE && s->leader_epoch != epoch)
            unload(s, "new leader epoch");
        if (s->state == SLOT_NONE && !tr->stopping)
            begin_load(s, t, epoch);
        *err = s->state == SLOT_LOADED    ? KERR_NONE
               : s->state == SLOT_LOADING ? KERR_COORDINATOR_LOAD_IN_PROGRESS
                                          : KERR_COORDINATOR_NOT_AVAILABLE;
    }
    topic_unref(t);
    return s;
}

bool txn_runtime_locate(struct txn_runtime *tr, const char *p, size_t len, struct txn_route *out,
                        kerr_t *err)
{
    KASSERT(worker_is_current(tr->w));
    struct topic *t = txn_topic(tr);
    int32_t n = t ? atomic_load(&t->n_parts) : 0;
    topic_unref(t);
    if (n <= 0) {
        *err = KERR_COORDINATOR_NOT_AVAILABLE;
        return false;
    }
    struct slot *s = sync_slot(tr, coord_partition_for(p, len, n), err);
    if (!s || *err != KERR_NONE)
        return false;
    *out = (struct txn_route){s->table, s->index, s->leader_epoch};
    return true;
}

struct txn_table *txn_runtime_route(struct txn_runtime *tr, const char *p, size_t len, kerr_t *err)
{
    struct txn_route rt;
    return txn_runtime_locate(tr, p, len, &rt, err) ? rt.table : NULL;
}

/* --- writes ----------------------------------------------------------------------- */

/* The pending list's callbacks (coord_write.h). */
static struct partition *pending_partition(const struct coord_pending *p)
{
    const struct slot *s = p->slot;
    return s->gen == p->gen && s->state == SLOT_LOADED ? topic_part(s->topic, s->index) : NULL;
}

/* Applies or abandons the transition, then reports it; at shutdown (stop_job) every write
 * ends NOT_LEADER_OR_FOLLOWER. */
static void pending_finish(void *owner, struct coord_pending *head, kerr_t err)
{
    struct txn_runtime *tr = owner;
    struct pending *p = (struct pending *)head;
    struct slot *s = head->slot;
    struct txn_meta *m = NULL;
    if (s->gen == head->gen && s->state == SLOT_LOADED) {
        if (err == KERR_NONE)
            txn_apply(s->table, p->m);
        else
            txn_abandon(s->table, p->m);
        m = txn_table_get(s->table, p->id, p->id_len);
    } else if (err == KERR_NONE || tr->stopping) {
        err = KERR_NOT_LEADER_OR_FOLLOWER;
    }
    free(p->id);
    p->done(tr, err, m, p->arg);
}

static void pending_checked(void *owner) { rearm(owner); }

static const struct coord_pending_ops pending_ops = {
    .partition = pending_partition, .finish = pending_finish, .checked = pending_checked};

/* A copy of the id's id_len bytes: a transactional id is a Kafka string and may hold NUL bytes,
 * so it is never copied or measured as a C string. NULL when out of memory. */
static char *id_copy(const char *id, size_t len)
{
    char *c = malloc(len + 1);
    if (c) {
        memcpy(c, id, len);
        c[len] = '\0';
    }
    return c;
}

void txn_runtime_write(struct txn_runtime *tr, const struct txn_route *rt, struct txn_meta *m,
                       txn_write_done done, void *arg)
{
    KASSERT(worker_is_current(tr->w));
    KASSERT(m->pending);
    int64_t now = txn_runtime_now();
    struct slot *s = tr->slots[rt->partition];
    KASSERT(s->table == rt->table && s->state == SLOT_LOADED);
    struct pending p = {
        .head = {.cw = {.err = KERR__NOMEM, .deadline_ms = now + TXN_WRITE_TIMEOUT_MS},
                 .slot = s,
                 .gen = s->gen},
        .m = m,
        .id = id_copy(m->id, m->id_len),
        .id_len = m->id_len,
        .done = done,
        .arg = arg};
    struct kbuf key, value;
    kbuf_init(&key);
    kbuf_init(&value);
    bool tombstone = false;
    if (p.id && txn_transit_record(m, &m->to, &key, &value, &tombstone) == KERR_NONE) {
        struct batch_build_rec rec = {key.data, key.len, tombstone ? NULL : value.data,
                                      tombstone ? 0 : value.len};
        coord_write_start(&p.head.cw, topic_part(s->topic, s->index), &rec, 1, now,
                          TXN_WRITE_TIMEOUT_MS, -1, -1);
    }
    kbuf_destroy(&key);
    kbuf_destroy(&value);
    if (!p.id || !coord_pending_add(&tr->pend, &p.head)) {
        txn_abandon(s->table, m); /* out of memory: answered now */
        struct txn_meta *left = p.id ? txn_table_get(s->table, p.id, p.id_len) : NULL;
        free(p.id);
        done(tr, KERR__NOMEM, left, arg);
        return;
    }
    rearm(tr);
}

/* --- timer ------------------------------------------------------------------------ */

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct txn_runtime *tr = arg;
    const struct broker_config *cfg = tr->b->cfg;
    int64_t now = txn_runtime_now();
    bool abort = now >= tr->next_abort_ms, expire = now >= tr->next_expire_ms;
    if (abort)
        tr->next_abort_ms = now + cfg->txn_abort_interval_ms;
    if (expire)
        tr->next_expire_ms = now + cfg->txn_remove_interval_ms;
    for (int32_t i = 0; i < tr->n_slots; i++) {
        struct slot *s = tr->slots[i];
        if (abort && s->state == SLOT_LOADED)
            txn_coord_abort_pass(tr, s->table, s->index, now);
        if (expire && s->state == SLOT_LOADED)
            txn_coord_expire_pass(tr, s->table, s->index, now);
    }
    coord_pending_check(&tr->pend, now);
    rearm(tr);
}

static void rearm(struct txn_runtime *tr)
{
    if (tr->stopping || !tr->timer)
        return;
    int64_t next = MIN(tr->next_abort_ms, tr->next_expire_ms);
    next = coord_pending_next_deadline(&tr->pend, next);
    int64_t delay = next - txn_runtime_now();
    if (delay < 0)
        delay = 0;
    struct timeval tv = {(time_t)(delay / 1000), (suseconds_t)((delay % 1000) * 1000)};
    evtimer_add(tr->timer, &tv);
}

int txn_runtime_foreach_loaded(struct txn_runtime *tr,
                               void (*fn)(int32_t p, struct txn_table *t, void *arg), void *arg)
{
    KASSERT(worker_is_current(tr->w));
    int loading = 0;
    for (int32_t i = 0; i < tr->n_slots; i++) {
        struct slot *s = tr->slots[i];
        if (s->state == SLOT_LOADED)
            fn(i, s->table, arg);
        loading += s->state == SLOT_LOADING;
    }
    return loading;
}

struct changed_job {
    struct txn_runtime *tr;
    int32_t p;
};

static void changed_job(void *arg)
{
    struct changed_job *cj = arg;
    kerr_t err;
    if (!cj->tr->stopping)
        (void)sync_slot(cj->tr, cj->p, &err);
    rearm(cj->tr);
    free(cj);
}

void txn_runtime_partition_changed(struct txn_runtime *tr, int32_t p)
{
    struct changed_job *cj = malloc(sizeof(*cj));
    if (!cj)
        return; /* the next request for one of its ids loads it */
    *cj = (struct changed_job){tr, p};
    pthread_mutex_lock(&tr->call_lock);
    bool posted = !tr->closed && worker_post(tr->w, changed_job, cj);
    pthread_mutex_unlock(&tr->call_lock);
    if (!posted)
        free(cj);
}

struct call_job {
    struct txn_runtime *tr;
    void (*fn)(struct txn_runtime *tr, void *arg);
    void *arg;
};

static void call_job(void *arg)
{
    struct call_job cj = *(struct call_job *)arg;
    free(arg);
    cj.fn(cj.tr, cj.arg);
    rearm(cj.tr);
}

bool txn_runtime_call(struct txn_runtime *tr, void (*fn)(struct txn_runtime *tr, void *arg),
                      void *arg)
{
    struct call_job *cj = malloc(sizeof(*cj));
    if (!cj)
        return false;
    *cj = (struct call_job){tr, fn, arg};
    pthread_mutex_lock(&tr->call_lock);
    bool posted = !tr->closed && worker_post(tr->w, call_job, cj);
    pthread_mutex_unlock(&tr->call_lock);
    if (!posted)
        free(cj);
    return posted;
}

struct txn_runtime *txn_runtime_new(struct broker *b)
{
    struct txn_runtime *tr = calloc(1, sizeof(*tr));
    if (!tr)
        return NULL;
    tr->b = b;
    pthread_mutex_init(&tr->call_lock, NULL);
    tr->w = worker_new("txn");
    if (!tr->w) {
        pthread_mutex_destroy(&tr->call_lock);
        free(tr);
        return NULL;
    }
    coord_pending_init(&tr->pend, &pending_ops, tr, tr->w, sizeof(struct pending));
    return tr;
}

/* Loads the partitions this broker already leads (those it learnt of before the worker ran). */
static void start_job(struct txn_runtime *tr, void *arg)
{
    (void)arg;
    const struct broker_config *cfg = tr->b->cfg;
    int64_t now = txn_runtime_now();
    tr->next_abort_ms = now + cfg->txn_abort_interval_ms;
    tr->next_expire_ms = now + cfg->txn_remove_interval_ms;
    tr->timer = evtimer_new(worker_base(tr->w), timer_cb, tr);
    tr->markers = txn_markers_new(tr->b, tr->w, txn_coord_markers_done, tr);
    if (!tr->timer || !tr->markers)
        say_error("txn", "out of memory: no transaction timeouts or markers");
    struct topic *t = txn_topic(tr);
    int32_t n = t ? atomic_load(&t->n_parts) : 0;
    topic_unref(t);
    for (int32_t p = 0; p < n; p++) {
        kerr_t err;
        (void)sync_slot(tr, p, &err);
    }
}

bool txn_runtime_start(struct txn_runtime *tr) { return txn_runtime_call(tr, start_job, NULL); }

static void stop_job(void *arg)
{
    struct txn_runtime *tr = arg;
    if (tr->stopping)
        return;
    tr->stopping = true;
    for (int32_t i = 0; i < tr->n_slots; i++)
        unload(tr->slots[i], "shutdown");
    coord_pending_drain(&tr->pend); /* slots unloaded: every write ends NOT_LEADER_OR_FOLLOWER */
    txn_markers_free(tr->markers);
    tr->markers = NULL;
    if (tr->timer)
        event_free(tr->timer); /* an event of the worker's base: freed on its loop */
    tr->timer = NULL;
}

void txn_runtime_stop(struct txn_runtime *tr)
{
    if (!tr)
        return;
    pthread_mutex_lock(&tr->call_lock);
    tr->closed = true;
    pthread_mutex_unlock(&tr->call_lock);
    if (worker_post(tr->w, stop_job, tr))
        (void)worker_sync(tr->w);
}

void txn_runtime_free(struct txn_runtime *tr)
{
    if (!tr)
        return;
    (void)worker_post(tr->w, stop_job, tr); /* a no-op after txn_runtime_stop() */
    worker_free(tr->w);                     /* runs the jobs still queued, then joins */
    coord_pending_destroy(&tr->pend);
    for (int32_t i = 0; i < tr->n_slots; i++)
        free(tr->slots[i]);
    free(tr->slots);
    pthread_mutex_destroy(&tr->call_lock);
    free(tr);
}
