/*
 * broker/core/group_runtime.c — the group coordinator at run time
 * (group_runtime.h): one slot per `__consumer_offsets` partition (none,
 * loading, loaded), the replay of a partition in chunks, the appends of the
 * core's records with acks=all, the removal of deleted topics' offsets, and
 * the timer shared by the groups' deadlines, append timeouts and the offset
 * expiry pass. All state is owned by the group worker; other threads only
 * post jobs (and wake(), which posts).
 */
#include "broker/core/group_runtime.h"
#include "broker/core/broker.h"
#include "broker/core/coord_write.h"
#include "broker/core/log_load.h"
#include "broker/group/coord_hash.h"
#include "broker/replication/partition.h"
#include "broker/replication/topics.h"
#include "broker/storage/batch.h"
#include "broker/storage/batch_build.h"
#include "common/base.h"
#include "common/clock.h"
#include "common/loop/worker.h"
#include "common/say.h"
#include "common/vec.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GR_LOAD_CHUNK_MIN (64 << 10) /* bytes read per loading job, at least */

enum slot_state { SLOT_NONE, SLOT_LOADING, SLOT_LOADED };

/* One partition of `__consumer_offsets`. */
struct slot {
    struct group_runtime *gr;
    int32_t index;
    enum slot_state state;
    struct group_coord *gc; /* owned while LOADING or LOADED */
    int32_t leader_epoch;   /* the epoch it was loaded under */
    uint64_t gen;           /* bumped at every load and unload */
    struct topic *topic;    /* referenced while LOADING or LOADED */
    struct log_load load;   /* LOADING: the load's progress (log_load.h) */
    int64_t load_start_ms;
    struct pwaiter waiter; /* watches the partition while LOADED */
    bool watching;
    char **deleted; /* LOADING: topics deleted meanwhile, removed once loaded */
    size_t n_deleted, cap_deleted;
    struct txn_end *ended; /* LOADING: markers replicated meanwhile, applied once loaded */
    size_t n_ended, cap_ended;
};

/* A transaction marker of a producer on the slot's partition (group_txn_complete()). */
struct txn_end {
    int64_t producer_id;
    int64_t offset;
    bool commit;
};

/* An append waiting for the high watermark, or an outcome already known
 * waiting to be reported from the pending list's check job (coord_write.h). */
struct pending {
    struct coord_pending head; /* head.slot: the struct slot */
    void (*done)(struct group_runtime *gr, kerr_t err, void *arg);
    group_append_done_at *done_at; /* instead of done: reports base_offset too */
    void *arg;
};

struct group_runtime {
    struct broker *b;
    struct worker *w;
    struct event *timer;
    struct group_config cfg;
    struct slot **slots; /* n_slots (each allocated once: the partitions' waiter
                            lists point into them), grown to the topic's count */
    int32_t n_slots;
    struct coord_pending_list pend; /* appends waiting for replication (struct pending) */
    int64_t next_expiry_ms;
    bool stopping;             /* group worker: stop_job ran */
    pthread_mutex_t call_lock; /* guards closed, so no call is posted after the stop barrier */
    bool closed;               /* group_runtime_stop() began: calls are refused */
};

static void rearm(struct group_runtime *gr);
static void unload(struct slot *s, const char *why);

int64_t group_runtime_now(void) { return clock_wall_ms(); }

const struct group_config *group_runtime_config(const struct group_runtime *gr) { return &gr->cfg; }

static struct topic *offsets_topic(struct group_runtime *gr)
{
    return topics_get(gr->b->topics, TOPIC_CONSUMER_OFFSETS, strlen(TOPIC_CONSUMER_OFFSETS));
}

int32_t group_runtime_partitions(struct group_runtime *gr)
{
    struct topic *t = offsets_topic(gr);
    int32_t n = t ? atomic_load(&t->n_parts) : 0;
    topic_unref(t);
    return n;
}

/* --- the core's callbacks --------------------------------------------------------- */

static void join_cb(void *arg, void *ctx, const struct group_join_result *res)
{
    struct group_waiter *w = ctx;
    w->join(w, res);
}

static void sync_cb(void *arg, void *ctx, const struct group_sync_result *res)
{
    struct group_waiter *w = ctx;
    w->sync(w, res);
}

/* A group metadata record to store; with await the rebalance waits for it. */
struct store_wait {
    struct slot *slot;
    struct group_coord *gc;
    int32_t generation;
    bool await;
    char group_id[];
};

static void store_done(struct group_runtime *gr, kerr_t err, void *arg)
{
    struct store_wait *sw = arg;
    if (err != KERR_NONE)
        say_warn("group", "cannot store group metadata group=%s generation=%d err=%s", sw->group_id,
                 sw->generation, kerr_name(err));
    if (sw->await && group_runtime_current(gr, sw->gc))
        group_store_done(sw->gc, sw->group_id, sw->generation, err, group_runtime_now());
    free(sw);
}

static void store_cb(void *arg, const char *group_id, int32_t generation, bool await,
                     const struct group_record *rec)
{
    struct slot *s = arg;
    struct group_runtime *gr = s->gr;
    size_t idlen = strlen(group_id);
    struct store_wait *sw = malloc(sizeof(*sw) + idlen + 1);
    struct group_records recs;
    group_records_init(&recs);
    if (!sw || !group_records_add_copy(&recs, rec)) {
        group_records_destroy(&recs);
        free(sw);
        if (await)
            group_store_done(s->gc, group_id, generation, KERR__NOMEM, group_runtime_now());
        return;
    }
    sw->slot = s;
    sw->gc = s->gc;
    sw->generation = generation;
    sw->await = await;
    memcpy(sw->group_id, group_id, idlen + 1);
    group_runtime_append(gr, s->gc, &recs, store_done, sw);
}

/* --- slots: loading and unloading ------------------------------------------------- */

static struct slot *slot_of(struct group_runtime *gr, const struct group_coord *gc)
{
    for (int32_t i = 0; gc && i < gr->n_slots; i++)
        if (gr->slots[i]->gc == gc && gr->slots[i]->state == SLOT_LOADED)
            return gr->slots[i];
    return NULL;
}

bool group_runtime_current(struct group_runtime *gr, const struct group_coord *gc)
{
    KASSERT(worker_is_current(gr->w));
    return slot_of(gr, gc) != NULL;
}

/* Grows the slot array to the topic's partition count. */
static bool ensure_slots(struct group_runtime *gr, int32_t n)
{
    if (n <= gr->n_slots)
        return true;
    struct slot **ns = realloc(gr->slots, sizeof(*ns) * (size_t)n);
    if (!ns)
        return false;
    gr->slots = ns;
    for (; gr->n_slots < n; gr->n_slots++) {
        struct slot *s = calloc(1, sizeof(*s));
        if (!s)
            return false;
        *s = (struct slot){.gr = gr, .index = gr->n_slots};
        gr->slots[gr->n_slots] = s;
    }
    return true;
}

/* wake() of a loaded slot's partition: runs on an appending or fetching
 * thread under the partition lock, so it only posts. */
static void slot_wake(struct pwaiter *w)
{
    coord_pending_post_check(&((struct slot *)w->owner)->gr->pend);
}

/* The pending list's callbacks (coord_write.h). */
static struct partition *pending_partition(const struct coord_pending *p)
{
    const struct slot *s = p->slot;
    return s->gen == p->gen && s->state == SLOT_LOADED ? topic_part(s->topic, s->index) : NULL;
}

static void pending_finish(void *owner, struct coord_pending *head, kerr_t err)
{
    struct group_runtime *gr = owner;
    struct pending *p = (struct pending *)head;
    if (p->done_at)
        p->done_at(gr, err, err == KERR_NONE ? head->cw.base_offset : -1, p->arg);
    else
        p->done(gr, err, p->arg);
}

static void pending_checked(void *owner) { rearm(owner); }

static const struct coord_pending_ops pending_ops = {
    .partition = pending_partition, .finish = pending_finish, .checked = pending_checked};

static void forget_deleted(struct slot *s)
{
    for (size_t i = 0; i < s->n_deleted; i++)
        free(s->deleted[i]);
    free(s->deleted);
    s->deleted = NULL;
    s->n_deleted = s->cap_deleted = 0;
}

static void unload(struct slot *s, const char *why)
{
    forget_deleted(s);
    free(s->ended);
    s->ended = NULL;
    s->n_ended = s->cap_ended = 0;
    if (s->state == SLOT_NONE)
        return;
    struct group_runtime *gr = s->gr;
    if (s->watching)
        partition_unwatch(topic_part(s->topic, s->index), &s->waiter);
    s->watching = false;
    struct group_coord *gc = s->gc;
    s->gc = NULL;
    s->state = SLOT_NONE;
    s->gen++;
    say_info("group", "unloaded partition=%d reason=%s", s->index, why);
    group_coord_free(gc); /* parked joins and syncs: NOT_COORDINATOR */
    coord_pending_check(&gr->pend, group_runtime_now());
    topic_unref(s->topic);
    s->topic = NULL;
}

static void load_job(void *arg);
static void remove_deleted(struct slot *s, const char *const *names, size_t n);

struct load_ref {
    struct slot *slot;
    uint64_t gen;
};

static void post_load(struct slot *s)
{
    struct load_ref *lr = malloc(sizeof(*lr));
    if (lr) {
        *lr = (struct load_ref){s, s->gen};
        if (worker_post(s->gr->w, load_job, lr))
            return;
        free(lr);
    }
    unload(s, "out of memory");
}

static void load_marker(void *arg, const struct batch_hdr *h, bool commit);

static void begin_load(struct slot *s, struct topic *t, int32_t leader_epoch)
{
    struct group_runtime *gr = s->gr;
    struct group_ops ops = {.join_cb = join_cb, .sync_cb = sync_cb, .store_cb = store_cb, .arg = s};
    s->gc = group_coord_new(&gr->cfg, &ops);
    if (!s->gc)
        return;
    topic_ref(t);
    s->topic = t;
    s->state = SLOT_LOADING;
    s->leader_epoch = leader_epoch;
    s->gen++;
    log_load_init(&s->load, "group", s->index);
    s->load.marker = load_marker;
    s->load_start_ms = clock_mono_ms();
    say_info("group", "loading partition=%d leader_epoch=%d", s->index, leader_epoch);
    post_load(s);
}

/* Loads one record of `__consumer_offsets` into the slot's groups. */
static kerr_t load_record(void *arg, const struct batch_record *r)
{
    struct slot *s = arg;
    const struct batch_hdr *h = s->load.batch;
    int64_t producer_id = h && batch_is_transactional(h) ? h->producer_id : -1;
    return group_load_record_at(s->gc, r->key, (size_t)r->key_len, r->value,
                                r->value ? (size_t)r->value_len : 0, r->offset, producer_id,
                                group_runtime_now());
}

/* A transaction marker in the partition being loaded: its producer's pending offsets. */
static void load_marker(void *arg, const struct batch_hdr *h, bool commit)
{
    struct slot *s = arg;
    group_txn_complete(s->gc, h->producer_id, commit, h->base_offset);
}

/* Reads one chunk of the partition being loaded; reposts itself until the
 * LEO of the start is reached, then makes the groups live. */
static void load_job(void *arg)
{
    struct load_ref *lr = arg;
    struct slot *s = lr->slot;
    bool current = s->gen == lr->gen && s->state == SLOT_LOADING;
    free(lr);
    if (!current)
        return;
    struct group_runtime *gr = s->gr;
    struct partition *part = topic_part(s->topic, s->index);
    int64_t chunk = MAX((int64_t)gr->b->cfg->offsets_load_buffer_size, GR_LOAD_CHUNK_MIN);
    const char *why = NULL;
    switch (log_load_step(&s->load, part, s->leader_epoch, chunk, load_record, s, &why)) {
    case LOG_LOAD_MORE:
        post_load(s);
        return;
    case LOG_LOAD_FAILED:
        unload(s, why);
        return;
    case LOG_LOAD_DONE:
        break;
    }
    group_load_finish(s->gc, group_runtime_now());
    s->state = SLOT_LOADED;
    s->waiter = (struct pwaiter){.wake = slot_wake, .owner = s, .what = "group coordinator"};
    partition_watch(part, &s->waiter);
    s->watching = true;
    say_info("group", "loaded partition=%d records=%lld in %lld ms", s->index,
             (long long)s->load.records, (long long)(clock_mono_ms() - s->load_start_ms));
    if (s->n_deleted > 0)
        remove_deleted(s, (const char *const *)s->deleted, s->n_deleted);
    forget_deleted(s);
    /* markers the load may have read already: offsets after them are not touched */
    for (size_t i = 0; i < s->n_ended; i++)
        group_txn_complete(s->gc, s->ended[i].producer_id, s->ended[i].commit, s->ended[i].offset);
    free(s->ended);
    s->ended = NULL;
    s->n_ended = s->cap_ended = 0;
    rearm(gr);
}

/* Brings slot p in line with the partition's leadership: loads it when this
 * broker leads it (at a new epoch), unloads it when it does not. Returns the
 * slot, or NULL with *err when the topic or partition is unknown. */
static struct slot *sync_slot(struct group_runtime *gr, int32_t p, kerr_t *err)
{
    struct topic *t = offsets_topic(gr);
    int32_t n = t ? atomic_load(&t->n_parts) : 0;
    if (!t || p >= n || !ensure_slots(gr, n)) {
        topic_unref(t);
        *err = KERR_COORDINATOR_NOT_AVAILABLE;
        return NULL;
    }
    struct slot *s = gr->slots[p];
    struct partition *part = topic_part(t, p);
    int32_t epoch = -1;
    int32_t leader = partition_has_log(part) ? partition_leader(part, &epoch) : -1;
    if (leader != gr->b->id) {
        unload(s, "not the leader");
        *err = KERR_NOT_COORDINATOR;
    } else {
        if (s->state != SLOT_NONE && s->leader_epoch != epoch)
            unload(s, "new leader epoch");
        if (s->state == SLOT_NONE && !gr->stopping)
            begin_load(s, t, epoch);
        *err = s->state == SLOT_LOADED    ? KERR_NONE
               : s->state == SLOT_LOADING ? KERR_COORDINATOR_LOAD_IN_PROGRESS
                                          : KERR_COORDINATOR_NOT_AVAILABLE;
    }
    topic_unref(t);
    return s;
}

struct group_coord *group_runtime_route(struct group_runtime *gr, const char *p, size_t len,
                                        kerr_t *err)
{
    KASSERT(worker_is_current(gr->w));
    int32_t n = group_runtime_partitions(gr);
    if (n <= 0) {
        *err = KERR_COORDINATOR_NOT_AVAILABLE;
        return NULL;
    }
    struct slot *s = sync_slot(gr, coord_partition_for(p, len, n), err);
    return s && *err == KERR_NONE ? s->gc : NULL;
}

bool group_runtime_foreach(struct group_runtime *gr,
                           void (*each)(struct group_coord *gc, void *arg), void *arg)
{
    KASSERT(worker_is_current(gr->w));
    bool loading = false;
    for (int32_t i = 0; i < gr->n_slots; i++) {
        if (gr->slots[i]->state == SLOT_LOADED)
            each(gr->slots[i]->gc, arg);
        loading |= gr->slots[i]->state == SLOT_LOADING;
    }
    return loading;
}

struct changed_job {
    struct group_runtime *gr;
    int32_t p;
};

static void changed_job(void *arg)
{
    struct changed_job *cj = arg;
    kerr_t err;
    (void)sync_slot(cj->gr, cj->p, &err);
    rearm(cj->gr);
    free(cj);
}

void group_runtime_partition_changed(struct group_runtime *gr, int32_t p)
{
    struct changed_job *cj = malloc(sizeof(*cj));
    if (!cj)
        return; /* the next request for one of its groups loads it */
    *cj = (struct changed_job){gr, p};
    if (!worker_post(gr->w, changed_job, cj))
        free(cj);
}

struct deleted_job {
    struct group_runtime *gr;
    size_t n;
    char **names;
};

static void ignore_done(struct group_runtime *gr, kerr_t err, void *arg);

static void deleted_job_free(struct deleted_job *dj)
{
    for (size_t i = 0; i < dj->n; i++)
        free(dj->names[i]);
    free(dj->names);
    free(dj);
}

/* Removes the groups' offsets of the deleted topics from a loaded slot and
 * appends their tombstones. */
static void remove_deleted(struct slot *s, const char *const *names, size_t n)
{
    struct group_records recs;
    group_records_init(&recs);
    size_t removed = group_remove_topics(s->gc, names, n, group_runtime_now(), &recs);
    if (removed > 0)
        say_info("group", "removed offsets of deleted topics partition=%d count=%zu", s->index,
                 removed);
    group_runtime_append(s->gr, s->gc, &recs, ignore_done, NULL);
}

/* A loading slot remembers the names until its groups are loaded. */
static void defer_deleted(struct slot *s, char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *copy = strdup(names[i]);
        if (!copy || !VEC_RESERVE_AT(s->deleted, s->cap_deleted, s->n_deleted + 1)) {
            free(copy);
            say_warn("group", "cannot remember a deleted topic partition=%d topic=%s", s->index,
                     names[i]);
            continue;
        }
        s->deleted[s->n_deleted++] = copy;
    }
}

static void deleted_job(void *arg)
{
    struct deleted_job *dj = arg;
    struct group_runtime *gr = dj->gr;
    for (int32_t i = 0; i < gr->n_slots; i++) {
        struct slot *s = gr->slots[i];
        if (s->state == SLOT_LOADED)
            remove_deleted(s, (const char *const *)dj->names, dj->n);
        else if (s->state == SLOT_LOADING)
            defer_deleted(s, dj->names, dj->n);
    }
    deleted_job_free(dj);
    rearm(gr);
}

void group_runtime_topics_deleted(struct group_runtime *gr, const char *const *names, size_t n)
{
    struct deleted_job *dj = calloc(1, sizeof(*dj));
    if (!dj)
        return;
    dj->gr = gr;
    dj->names = calloc(n ? n : 1, sizeof(*dj->names));
    for (size_t i = 0; dj->names && i < n; i++) {
        dj->names[i] = strdup(names[i]);
        if (!dj->names[i])
            break;
        dj->n++;
    }
    if (dj->n != n || !worker_post(gr->w, deleted_job, dj)) {
        say_warn("group", "cannot remove the offsets of deleted topics count=%zu", n);
        deleted_job_free(dj);
    }
}

/* --- appends ---------------------------------------------------------------------- */

/* The appends of group_runtime_append and group_runtime_append_at: a batch of
 * producer_id (>= 0) is transactional with sequence 0 and checked for its
 * epoch only (partition_append_coordinator), as Kafka writes TxnOffsetCommit. */
static void append_batch(struct group_runtime *gr, struct group_coord *gc,
                         struct group_records *recs, int64_t producer_id, int16_t producer_epoch,
                         void (*done)(struct group_runtime *gr, kerr_t err, void *arg),
                         group_append_done_at *done_at, void *arg)
{
    KASSERT(worker_is_current(gr->w));
    struct slot *s = slot_of(gr, gc);
    int64_t now = group_runtime_now(), timeout = gr->b->cfg->offsets_commit_timeout_ms;
    struct pending p = {
        .head = {.cw = {.err = KERR_NONE, .base_offset = -1, .deadline_ms = now + timeout},
                 .slot = s,
                 .gen = s ? s->gen : 0},
        .done = done,
        .done_at = done_at,
        .arg = arg};
    if (recs->oom)
        p.head.cw.err = KERR__NOMEM;
    else if (!s)
        p.head.cw.err = KERR_NOT_LEADER_OR_FOLLOWER;
    else if (recs->n > 0) {
        struct batch_build_rec *br = calloc(recs->n, sizeof(*br));
        for (size_t i = 0; br && i < recs->n; i++)
            br[i] = (struct batch_build_rec){recs->v[i].key, recs->v[i].key_len, recs->v[i].value,
                                             recs->v[i].value_len};
        if (br) /* KERR__AGAIN: wait for the high watermark */
            coord_write_start(&p.head.cw, topic_part(s->topic, s->index), br, recs->n, now, timeout,
                              producer_id, producer_epoch);
        else
            p.head.cw.err = KERR__NOMEM;
        free(br);
    }
    group_records_destroy(recs);
    if (!coord_pending_add(&gr->pend, &p.head)) {
        kerr_t err =
            p.head.cw.err == KERR__AGAIN ? KERR__NOMEM : p.head.cw.err; /* out of memory: now */
        if (done_at)
            done_at(gr, err, -1, arg);
        else
            done(gr, err, arg);
        return;
    }
    rearm(gr);
}

void group_runtime_append(struct group_runtime *gr, struct group_coord *gc,
                          struct group_records *recs,
                          void (*done)(struct group_runtime *gr, kerr_t err, void *arg), void *arg)
{
    append_batch(gr, gc, recs, -1, -1, done, NULL, arg);
}

void group_runtime_append_at(struct group_runtime *gr, struct group_coord *gc,
                             struct group_records *recs, int64_t producer_id,
                             int16_t producer_epoch, group_append_done_at *done, void *arg)
{
    append_batch(gr, gc, recs, producer_id, producer_epoch, NULL, done, arg);
}

/* --- transaction markers ---------------------------------------------------------- */

struct marker_job {
    struct group_runtime *gr;
    int32_t p;
    int32_t leader_epoch;
    struct txn_end end;
};

static void marker_job(void *arg)
{
    struct marker_job mj = *(struct marker_job *)arg;
    struct group_runtime *gr = mj.gr;
    free(arg);
    struct slot *s = mj.p >= 0 && mj.p < gr->n_slots ? gr->slots[mj.p] : NULL;
    /* a load at another epoch (or none yet) reads the marker from the log itself */
    if (!s || s->state == SLOT_NONE || s->leader_epoch != mj.leader_epoch)
        return;
    if (s->state == SLOT_LOADING) {
        if (VEC_RESERVE_AT(s->ended, s->cap_ended, s->n_ended + 1))
            s->ended[s->n_ended++] = mj.end;
        else
            say_warn("group", "cannot remember a transaction marker partition=%d", s->index);
        return;
    }
    size_t n = group_txn_complete(s->gc, mj.end.producer_id, mj.end.commit, mj.end.offset);
    say_debug("group", "transaction %s partition=%d producer_id=%lld offsets=%zu",
              mj.end.commit ? "committed" : "aborted", s->index, (long long)mj.end.producer_id, n);
}

void group_runtime_txn_marker(struct group_runtime *gr, int32_t p, int32_t leader_epoch,
                              int64_t producer_id, bool commit, int64_t offset)
{
    struct marker_job *mj = malloc(sizeof(*mj));
    if (!mj) {
        say_warn("group", "cannot apply a transaction marker partition=%d", p);
        return;
    }
    *mj = (struct marker_job){gr, p, leader_epoch, {producer_id, offset, commit}};
    if (!worker_post(gr->w, marker_job, mj)) {
        say_warn("group", "cannot apply a transaction marker partition=%d", p);
        free(mj);
    }
}

/* --- timers ----------------------------------------------------------------------- */

static void ignore_done(struct group_runtime *gr, kerr_t err, void *arg) {}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct group_runtime *gr = arg;
    int64_t now = group_runtime_now();
    bool expire = now >= gr->next_expiry_ms;
    if (expire)
        gr->next_expiry_ms = now + gr->b->cfg->offsets_retention_check_interval_ms;
    for (int32_t i = 0; i < gr->n_slots; i++) {
        struct slot *s = gr->slots[i];
        if (s->state != SLOT_LOADED)
            continue;
        group_tick(s->gc, now);
        if (expire && s->state == SLOT_LOADED) {
            struct group_records recs;
            group_records_init(&recs);
            size_t n = group_expire_offsets(s->gc, now, &recs);
            if (n > 0)
                say_info("group", "expired offsets partition=%d count=%zu", s->index, n);
            group_runtime_append(gr, s->gc, &recs, ignore_done, NULL);
        }
    }
    coord_pending_check(&gr->pend, now);
    rearm(gr);
}

static void rearm(struct group_runtime *gr)
{
    if (gr->stopping)
        return;
    int64_t next = gr->next_expiry_ms;
    for (int32_t i = 0; i < gr->n_slots; i++)
        if (gr->slots[i]->state == SLOT_LOADED)
            next = MIN(next, group_next_deadline(gr->slots[i]->gc));
    next = coord_pending_next_deadline(&gr->pend, next);
    int64_t delay = next - group_runtime_now();
    if (delay < 0)
        delay = 0;
    struct timeval tv = {(time_t)(delay / 1000), (suseconds_t)((delay % 1000) * 1000)};
    evtimer_add(gr->timer, &tv);
}

/* --- jobs and lifetime ------------------------------------------------------------ */

struct call_job {
    struct group_runtime *gr;
    void (*fn)(struct group_runtime *gr, void *arg);
    void *arg;
};

static void call_job(void *arg)
{
    struct call_job cj = *(struct call_job *)arg;
    free(arg);
    cj.fn(cj.gr, cj.arg);
    rearm(cj.gr);
}

bool group_runtime_call(struct group_runtime *gr, void (*fn)(struct group_runtime *gr, void *arg),
                        void *arg)
{
    struct call_job *cj = malloc(sizeof(*cj));
    if (!cj)
        return false;
    *cj = (struct call_job){gr, fn, arg};
    pthread_mutex_lock(&gr->call_lock);
    bool posted = !gr->closed && worker_post(gr->w, call_job, cj);
    pthread_mutex_unlock(&gr->call_lock);
    if (!posted)
        free(cj);
    return posted;
}

static void config_from(struct group_config *c, const struct broker_config *cfg)
{
    group_config_defaults(c);
    c->min_session_timeout_ms = cfg->group_min_session_timeout_ms;
    c->max_session_timeout_ms = cfg->group_max_session_timeout_ms;
    c->initial_rebalance_delay_ms = cfg->group_initial_rebalance_delay_ms;
    c->max_size = cfg->group_max_size;
    c->offsets_retention_ms = (int64_t)cfg->offsets_retention_minutes * 60000;
    c->offset_metadata_max_bytes = cfg->offset_metadata_max_bytes;
    c->member_id_seed = (uint64_t)clock_wall_ms() ^ ((uint64_t)getpid() << 32);
}

struct group_runtime *group_runtime_new(struct broker *b)
{
    struct group_runtime *gr = calloc(1, sizeof(*gr));
    if (!gr)
        return NULL;
    gr->b = b;
    pthread_mutex_init(&gr->call_lock, NULL);
    config_from(&gr->cfg, b->cfg);
    gr->w = worker_new("group");
    if (!gr->w) {
        free(gr);
        return NULL;
    }
    gr->timer = evtimer_new(worker_base(gr->w), timer_cb, gr);
    if (!gr->timer) {
        worker_free(gr->w);
        free(gr);
        return NULL;
    }
    coord_pending_init(&gr->pend, &pending_ops, gr, gr->w, sizeof(struct pending));
    gr->next_expiry_ms = group_runtime_now() + b->cfg->offsets_retention_check_interval_ms;
    return gr;
}

static void start_job(struct group_runtime *gr, void *arg) { (void)arg; }

bool group_runtime_start(struct group_runtime *gr)
{
    return group_runtime_call(gr, start_job, NULL); /* arms the timer on the worker */
}

static void stop_job(void *arg)
{
    struct group_runtime *gr = arg;
    if (gr->stopping)
        return;
    gr->stopping = true;
    for (int32_t i = 0; i < gr->n_slots; i++)
        unload(gr->slots[i], "shutdown");
    coord_pending_drain(&gr->pend);
    event_free(gr->timer); /* an event of the worker's base: freed on its loop */
    gr->timer = NULL;
}

/* Refuses new calls, then waits until the worker has run every job posted
 * before (the stop job last), so their answers are posted to the network
 * loops while those still run. */
void group_runtime_stop(struct group_runtime *gr)
{
    if (!gr)
        return;
    pthread_mutex_lock(&gr->call_lock);
    gr->closed = true;
    pthread_mutex_unlock(&gr->call_lock);
    if (worker_post(gr->w, stop_job, gr))
        (void)worker_sync(gr->w);
}

void group_runtime_free(struct group_runtime *gr)
{
    if (!gr)
        return;
    (void)worker_post(gr->w, stop_job, gr); /* a no-op after group_runtime_stop() */
    worker_free(gr->w);                     /* runs the jobs still queued, then joins */
    coord_pending_destroy(&gr->pend);
    for (int32_t i = 0; i < gr->n_slots; i++)
        free(gr->slots[i]);
    free(gr->slots);
    pthread_mutex_destroy(&gr->call_lock);
    free(gr);
}
