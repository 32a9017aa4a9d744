/*
 * broker/storage/cleaner_pool.c — the cleaner threads, the registry of
 * compacted logs and the selection of the next log to clean (see
 * cleaner_pool.h).
 *
 * State of an entry: pins > 0 while a thread plans it without the pool
 * mutex; busy while a pass runs on it. Removal waits for both to clear.
 * Lock order: pool mutex, then a partition lock (only while planning with
 * the entry pinned, the pool mutex released: so no partition lock is ever
 * taken under the pool mutex).
 */
#include "broker/storage/cleaner_pool.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/storage/cleaner_checkpoint.h"
#include "broker/storage/io_throttle.h"
#include "broker/storage/offset_map.h"
#include "broker/storage/plog.h"
#include "common/clock.h"
#include "common/say.h"

#define FAIL_BACKOFF_FACTOR 10
#define MIN_BACKOFF_MS 10 /* an idle thread sleeps at least this long */

/* A registered log. Owned by the pool; fields under the pool mutex. */
struct cleaner_entry {
    struct cleaner_log_desc d;
    int64_t checkpoint;  /* -1: none */
    int pins;            /* threads planning it */
    bool busy;           /* a pass runs on it */
    int64_t retry_at_ms; /* after a failed pass: not before (mono ms) */
    atomic_bool cancel;  /* set by remove/stop: a pass on it gives up */
};

/* Created by cleaner_pool_new(); shared by the broker and the threads. */
struct cleaner_pool {
    struct cleaner_pool_config cfg;
    pthread_mutex_t mu;
    pthread_cond_t cond;            /* wakes threads (work, stop) and removers (not busy) */
    struct cleaner_entry **entries; /* owned */
    size_t n, cap;
    pthread_t *threads;
    int nthreads;
    bool stop;
    struct io_throttle *thr;
    struct cleaner_stats stats;
};

void cleaner_pool_config_default(struct cleaner_pool_config *c)
{
    c->threads = 1;
    c->dedupe_buffer_bytes = 134217728;
    c->io_max_bytes_per_sec = -1;
    c->backoff_ms = 15000;
}

struct cleaner_pool *cleaner_pool_new(const struct cleaner_pool_config *cfg)
{
    struct cleaner_pool *p = calloc(1, sizeof(*p));

    if (!p)
        return NULL;
    p->cfg = *cfg;
    if (p->cfg.threads < 1)
        p->cfg.threads = 1;
    p->thr = io_throttle_new(cfg->io_max_bytes_per_sec);
    if (!p->thr) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cond, NULL);
    return p;
}

/* Copies the pass counters into the stats. Pool mutex held. */
static void account(struct cleaner_pool *p, const struct cleaner_result *r, kerr_t err, int64_t ms)
{
    p->stats.bytes_read += r->bytes_read;
    p->stats.bytes_written += r->bytes_written;
    p->stats.records_removed += r->records_removed;
    if (err != KERR_NONE)
        p->stats.passes_failed++;
    else if (r->aborted)
        p->stats.passes_aborted++;
    else if (r->segments_before > 0)
        p->stats.passes++;
    p->stats.last_pass_ms = ms;
}

/* Runs a pass on e (busy, set by the caller) with map; records the
 * checkpoint. Called without the pool mutex. */
static kerr_t run_pass(struct cleaner_pool *p, struct cleaner_entry *e, struct offset_map *map,
                       int64_t now_ms, struct cleaner_result *res)
{
    int64_t t0 = clock_mono_ms(), ckpt;
    struct cleaner_log_config cfg;
    kerr_t err;

    pthread_mutex_lock(&p->mu);
    ckpt = e->checkpoint;
    cfg = e->d.cfg;
    pthread_mutex_unlock(&p->mu);
    err = cleaner_clean(e->d.log, &e->d.lock, &cfg, ckpt, map, p->thr, now_ms, res);
    /* the checkpoint moves forward, or back only after a pass that
     * restarted from the log start (a checkpoint past the log end) */
    bool moved = err == KERR_NONE && !res->aborted &&
                 (res->end_offset > ckpt || (res->segments_before > 0 && res->end_offset != ckpt));
    if (moved &&
        cleaner_ckpt_set(e->d.data_dir, e->d.topic, e->d.partition, res->end_offset) != KERR_NONE)
        say_warn("storage", "cannot write cleaner checkpoint dir=%s topic=%s partition=%d",
                 e->d.data_dir, e->d.topic, e->d.partition);
    (void)plog_sweep_deleted(plog_dir(e->d.log));
    pthread_mutex_lock(&p->mu);
    if (moved)
        e->checkpoint = res->end_offset;
    if (err != KERR_NONE)
        e->retry_at_ms = clock_mono_ms() + FAIL_BACKOFF_FACTOR * p->cfg.backoff_ms;
    else if (res->aborted)
        e->retry_at_ms = clock_mono_ms() + p->cfg.backoff_ms;
    account(p, res, err, clock_mono_ms() - t0);
    pthread_mutex_unlock(&p->mu);
    return err;
}

/* Plans every idle entry and marks the one to clean busy; NULL if none is
 * due. Pool mutex held on entry and return (released while planning). */
static struct cleaner_entry *pick(struct cleaner_pool *p, int64_t now_ms)
{
    struct cleaner_entry **cand;
    struct cleaner_entry *best = NULL;
    double best_ratio = -1, max_ratio = 0;
    bool best_overdue = false;
    size_t n = 0;
    int64_t mono = clock_mono_ms();

    cand = calloc(p->n ? p->n : 1, sizeof(*cand));
    if (!cand)
        return NULL;
    for (size_t i = 0; i < p->n; i++) {
        struct cleaner_entry *e = p->entries[i];
        if (!e->busy && e->retry_at_ms <= mono) {
            e->pins++;
            cand[n++] = e;
        }
    }
    pthread_mutex_unlock(&p->mu);
    double *ratio = calloc(n ? n : 1, sizeof(*ratio));
    bool *due = calloc(n ? n : 1, sizeof(*due)), *overdue = calloc(n ? n : 1, sizeof(*overdue));
    for (size_t i = 0; i < n && ratio && due && overdue; i++) {
        struct cleaner_entry *e = cand[i];
        struct cleaner_plan plan;
        struct cleaner_log_config cfg;
        int64_t ckpt, max_off;
        pthread_mutex_lock(&p->mu);
        cfg = e->d.cfg;
        ckpt = e->checkpoint;
        pthread_mutex_unlock(&p->mu);
        e->d.lock.lock(e->d.lock.arg);
        max_off =
            e->d.lock.max_offset ? e->d.lock.max_offset(e->d.lock.arg) : plog_end_offset(e->d.log);
        cleaner_plan(e->d.log, &cfg, ckpt, max_off, now_ms, &plan);
        e->d.lock.unlock(e->d.lock.arg);
        ratio[i] = plan.dirty_ratio;
        due[i] = cleaner_plan_due(&plan, &cfg, now_ms);
        overdue[i] = due[i] && plan.dirty_ratio < cfg.min_cleanable_ratio;
    }
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < n; i++) {
        struct cleaner_entry *e = cand[i];
        e->pins--;
        if (!ratio || !due || !overdue)
            continue;
        max_ratio = MAX(max_ratio, ratio[i]);
        if (!due[i] || e->busy)
            continue;
        if (!best || (overdue[i] && !best_overdue) ||
            (overdue[i] == best_overdue && ratio[i] > best_ratio)) {
            best = e;
            best_ratio = ratio[i];
            best_overdue = overdue[i];
        }
    }
    if (n > 0)
        pthread_cond_broadcast(&p->cond); /* removers wait for pins */
    p->stats.max_dirty_ratio = max_ratio;
    if (best)
        best->busy = true;
    free(cand);
    free(ratio);
    free(due);
    free(overdue);
    return best;
}

static void *thread_main(void *arg)
{
    struct cleaner_pool *p = arg;
    struct offset_map *map =
        offset_map_new(p->cfg.dedupe_buffer_bytes / (p->cfg.threads > 0 ? p->cfg.threads : 1));

    if (!map) {
        say_error("storage", "cleaner thread has no memory for its offset map");
        return NULL;
    }
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        struct cleaner_entry *e = pick(p, clock_wall_ms());
        if (p->stop && e) {
            e->busy = false;
            pthread_cond_broadcast(&p->cond);
            break;
        }
        if (!e) {
            struct timespec ts;
            int64_t ms = MAX(p->cfg.backoff_ms, MIN_BACKOFF_MS);
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += ms / 1000;
            ts.tv_nsec += (ms % 1000) * 1000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            if (!p->stop)
                pthread_cond_timedwait(&p->cond, &p->mu, &ts);
            continue;
        }
        pthread_mutex_unlock(&p->mu);
        struct cleaner_result res;
        (void)run_pass(p, e, map, clock_wall_ms(), &res);
        pthread_mutex_lock(&p->mu);
        e->busy = false;
        pthread_cond_broadcast(&p->cond);
    }
    pthread_mutex_unlock(&p->mu);
    offset_map_free(map);
    return NULL;
}

kerr_t cleaner_pool_start(struct cleaner_pool *p)
{
    p->threads = calloc((size_t)p->cfg.threads, sizeof(*p->threads));
    if (!p->threads)
        return KERR__NOMEM;
    p->stop = false;
    for (int i = 0; i < p->cfg.threads; i++) {
        if (pthread_create(&p->threads[i], NULL, thread_main, p) != 0) {
            say_error("storage", "cannot start cleaner thread %d", i);
            cleaner_pool_stop(p);
            return KERR__NOMEM;
        }
        p->nthreads++;
    }
    say_info("storage", "log cleaner started threads=%d dedupe_buffer=%" PRId64, p->nthreads,
             p->cfg.dedupe_buffer_bytes);
    return KERR_NONE;
}

void cleaner_pool_stop(struct cleaner_pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    for (size_t i = 0; i < p->n; i++)
        atomic_store(&p->entries[i]->cancel, true);
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < p->n; i++)
        atomic_store(&p->entries[i]->cancel, false);
    pthread_mutex_unlock(&p->mu);
    p->nthreads = 0;
    free(p->threads);
    p->threads = NULL;
}

void cleaner_pool_free(struct cleaner_pool *p)
{
    if (!p)
        return;
    cleaner_pool_stop(p);
    for (size_t i = 0; i < p->n; i++)
        free(p->entries[i]);
    free(p->entries);
    io_throttle_free(p->thr);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

struct cleaner_entry *cleaner_pool_add(struct cleaner_pool *p, const struct cleaner_log_desc *d)
{
    struct cleaner_entry *e = calloc(1, sizeof(*e));
    int64_t ckpt;

    if (!e)
        return NULL;
    e->d = *d;
    e->d.lock.cancel = &e->cancel;
    atomic_init(&e->cancel, false);
    e->checkpoint = -1;
    if (cleaner_ckpt_get(d->data_dir, d->topic, d->partition, &ckpt) == KERR_NONE)
        e->checkpoint = ckpt;
    pthread_mutex_lock(&p->mu);
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        struct cleaner_entry **n = realloc(p->entries, cap * sizeof(*n));
        if (!n) {
            pthread_mutex_unlock(&p->mu);
            free(e);
            return NULL;
        }
        p->entries = n;
        p->cap = cap;
    }
    p->entries[p->n++] = e;
    p->stats.logs = (int64_t)p->n;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->mu);
    return e;
}

void cleaner_pool_remove(struct cleaner_pool *p, struct cleaner_entry *e, bool forget)
{
    if (!e)
        return;
    atomic_store(&e->cancel, true);
    pthread_mutex_lock(&p->mu);
    while (e->busy || e->pins > 0)
        pthread_cond_wait(&p->cond, &p->mu);
    for (size_t i = 0; i < p->n; i++) {
        if (p->entries[i] == e) {
            p->entries[i] = p->entries[--p->n];
            break;
        }
    }
    p->stats.logs = (int64_t)p->n;
    pthread_mutex_unlock(&p->mu);
    if (forget)
        (void)cleaner_ckpt_set(e->d.data_dir, e->d.topic, e->d.partition, -1);
    free(e);
}

void cleaner_pool_set_log_config(struct cleaner_pool *p, struct cleaner_entry *e,
                                 const struct cleaner_log_config *cfg)
{
    pthread_mutex_lock(&p->mu);
    e->d.cfg = *cfg;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->mu);
}

int64_t cleaner_pool_checkpoint(struct cleaner_pool *p, struct cleaner_entry *e)
{
    int64_t v;

    pthread_mutex_lock(&p->mu);
    v = e->checkpoint;
    pthread_mutex_unlock(&p->mu);
    return v;
}

kerr_t cleaner_pool_clean_now(struct cleaner_pool *p, struct cleaner_entry *e, int64_t now_ms,
                              struct cleaner_result *res)
{
    struct offset_map *map =
        offset_map_new(p->cfg.dedupe_buffer_bytes / (p->cfg.threads > 0 ? p->cfg.threads : 1));
    kerr_t err;

    if (!map)
        return KERR__NOMEM;
    pthread_mutex_lock(&p->mu);
    while (e->busy)
        pthread_cond_wait(&p->cond, &p->mu);
    e->busy = true;
    pthread_mutex_unlock(&p->mu);
    err = run_pass(p, e, map, now_ms, res);
    pthread_mutex_lock(&p->mu);
    e->busy = false;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->mu);
    offset_map_free(map);
    return err;
}

void cleaner_pool_wake(struct cleaner_pool *p)
{
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->mu);
}

void cleaner_pool_stats(struct cleaner_pool *p, struct cleaner_stats *out)
{
    pthread_mutex_lock(&p->mu);
    *out = p->stats;
    pthread_mutex_unlock(&p->mu);
    out->throttled_us = io_throttle_slept_us(p->thr);
}

void cleaner_pool_set_io_rate(struct cleaner_pool *p, double bytes_per_sec)
{
    io_throttle_set_rate(p->thr, bytes_per_sec);
}
