/*
 * broker/replication/topics.c — topic registry: a chained hash map from name to a
 * reference-counted struct topic, guarded by one rwlock. Lookups on the
 * produce/fetch paths take the read lock for a hash probe only.
 */
#include "broker/replication/topics.h"
#include "common/base.h"
#include "common/par.h"
#include "common/say.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOPICS_BUCKETS 1024

/* An array replaced by topic_grow(), kept until the topic is freed because
 * lock-free readers may still hold a pointer to it. */
struct topic_retired {
    void *ptr; /* owned */
    struct topic_retired *next;
};

struct topics {
    pthread_rwlock_t lock;
    struct topic *buckets[TOPICS_BUCKETS];
    int count;
};

static unsigned name_hash(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 16777619u;
    return h % TOPICS_BUCKETS;
}

struct topics *topics_new(void)
{
    struct topics *ts = calloc(1, sizeof(*ts));
    if (ts)
        pthread_rwlock_init(&ts->lock, NULL);
    return ts;
}

void topics_free(struct topics *ts)
{
    if (!ts)
        return;
    for (int i = 0; i < TOPICS_BUCKETS; i++) {
        struct topic *t = ts->buckets[i];
        while (t) {
            struct topic *next = t->next;
            topic_unref(t);
            t = next;
        }
    }
    pthread_rwlock_destroy(&ts->lock);
    free(ts);
}

struct topic *topics_get(struct topics *ts, const char *name, size_t len)
{
    pthread_rwlock_rdlock(&ts->lock);
    struct topic *t = ts->buckets[name_hash(name, len)];
    for (; t; t = t->next)
        if (strlen(t->name) == len && memcmp(t->name, name, len) == 0)
            break;
    if (t)
        topic_ref(t);
    pthread_rwlock_unlock(&ts->lock);
    return t;
}

void topic_ref(struct topic *t) { atomic_fetch_add(&t->refs, 1); }

static void topic_destroy(struct topic *t)
{
    for (int32_t p = 0; p < t->n_parts; p++)
        if (t->parts_ && t->parts_[p])
            partition_free(t->parts_[p], t->delete_files);
    if (t->delete_files)
        say_info("storage", "topic deleted from disk topic=%s", t->name);
    for (int i = 0; t->config_kv && i < 2 * t->n_config; i++)
        free(t->config_kv[i]);
    free(t->config_kv);
    pthread_mutex_destroy(&t->config_lock);
    free(t->parts_);
    free(t->replicas_);
    while (t->retired) {
        struct topic_retired *r = t->retired;
        t->retired = r->next;
        free(r->ptr);
        free(r);
    }
    free(t->data_dir);
    free(t);
}

void topic_unref(struct topic *t)
{
    if (t && atomic_fetch_sub(&t->refs, 1) == 1)
        topic_destroy(t);
}

static int topic_cmp(const void *a, const void *b)
{
    return strcmp((*(struct topic *const *)a)->name, (*(struct topic *const *)b)->name);
}

struct topic **topics_list(struct topics *ts, int *n)
{
    pthread_rwlock_rdlock(&ts->lock);
    struct topic **list = malloc(sizeof(*list) * (size_t)(ts->count ? ts->count : 1));
    int k = 0;
    for (int i = 0; list && i < TOPICS_BUCKETS; i++)
        for (struct topic *t = ts->buckets[i]; t; t = t->next) {
            topic_ref(t);
            list[k++] = t;
        }
    pthread_rwlock_unlock(&ts->lock);
    if (list)
        qsort(list, (size_t)k, sizeof(*list), topic_cmp);
    *n = k;
    return list;
}

void topics_list_free(struct topic **list, int n)
{
    for (int i = 0; i < n; i++)
        topic_unref(list[i]);
    free(list);
}

bool topics_add(struct topics *ts, struct topic *t)
{
    size_t len = strlen(t->name);
    unsigned h = name_hash(t->name, len);
    pthread_rwlock_wrlock(&ts->lock);
    for (struct topic *x = ts->buckets[h]; x; x = x->next) {
        if (strcmp(x->name, t->name) == 0) {
            pthread_rwlock_unlock(&ts->lock);
            return false;
        }
    }
    t->next = ts->buckets[h];
    ts->buckets[h] = t;
    ts->count++;
    pthread_rwlock_unlock(&ts->lock);
    return true;
}

struct topic *topics_remove(struct topics *ts, const char *name)
{
    unsigned h = name_hash(name, strlen(name));
    struct topic *found = NULL;
    pthread_rwlock_wrlock(&ts->lock);
    for (struct topic **pp = &ts->buckets[h]; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->name, name) == 0) {
            found = *pp;
            *pp = found->next;
            found->next = NULL;
            ts->count--;
            break;
        }
    }
    pthread_rwlock_unlock(&ts->lock);
    return found;
}

const char *topic_partition_dir(const struct topic *t, int32_t p, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s-%d", t->data_dir, t->name, p);
    return buf;
}

static bool has_replica(const int32_t *row, int16_t rf, int32_t id)
{
    for (int i = 0; i < rf; i++)
        if (row[i] == id)
            return true;
    return false;
}

static void kv_free(char **kv, int n)
{
    for (int i = 0; kv && i < 2 * n; i++)
        free(kv[i]);
    free(kv);
}

/* Returns new copy of 2*n strings, or NULL on OOM. */
static char **kv_copy(char *const *kv, int n)
{
    char **out = calloc((size_t)(2 * n + 1), sizeof(char *));
    for (int i = 0; out && i < 2 * n; i++) {
        if (!(out[i] = strdup(kv[i] ? kv[i] : ""))) {
            kv_free(out, n);
            return NULL;
        }
    }
    return out;
}

static bool topic_copy_config(struct topic *t, char *const *config_kv, int n_config)
{
    t->config_kv = kv_copy(config_kv, n_config);
    if (!t->config_kv)
        return false;
    t->n_config = n_config;
    for (int i = 0; i < n_config; i++)
        topic_config_apply(&t->tc, config_kv[2 * i], config_kv[2 * i + 1]);
    return true;
}

/* Sets part's throttle flags from the overrides kv (n pairs): whether
 * (part->index, self_id) is listed by leader/follower.replication.throttled.replicas. */
static void mark_throttled(struct partition *part, char *const *kv, int n, int32_t self_id)
{
    bool leader = false, follower = false;
    for (int i = 0; i < n; i++) {
        const char *k = kv[2 * i], *v = kv[2 * i + 1];
        if (strcmp(k, "leader.replication.throttled.replicas") == 0)
            topic_config_throttled_parse(v, part->index, self_id, &leader);
        else if (strcmp(k, "follower.replication.throttled.replicas") == 0)
            topic_config_throttled_parse(v, part->index, self_id, &follower);
    }
    atomic_store_explicit(&part->leader_throttled, leader, memory_order_relaxed);
    atomic_store_explicit(&part->follower_throttled, follower, memory_order_relaxed);
}

bool topic_set_config(struct topic *t, char *const *config_kv, int n_config,
                      const struct topic_config *defaults)
{
    char **kv = kv_copy(config_kv, n_config);
    if (!kv)
        return false;
    struct topic_config tc = *defaults;
    for (int i = 0; i < n_config; i++)
        topic_config_apply(&tc, kv[2 * i], kv[2 * i + 1]);
    pthread_mutex_lock(&t->config_lock);
    char **old = t->config_kv;
    int n_old = t->n_config;
    t->config_kv = kv;
    t->n_config = n_config;
    t->tc = tc;
    for (int32_t p = 0; p < t->n_parts; p++) {
        partition_set_config(t->parts_[p], &tc);
        mark_throttled(t->parts_[p], kv, n_config, t->self_id);
    }
    pthread_mutex_unlock(&t->config_lock);
    kv_free(old, n_old);
    return true;
}

char **topic_get_config(struct topic *t, int *n)
{
    pthread_mutex_lock(&t->config_lock);
    char **kv = kv_copy(t->config_kv, t->n_config);
    *n = kv ? t->n_config : 0;
    pthread_mutex_unlock(&t->config_lock);
    return kv;
}

void topic_effective_config(struct topic *t, struct topic_config *tc)
{
    pthread_mutex_lock(&t->config_lock);
    *tc = t->tc;
    pthread_mutex_unlock(&t->config_lock);
}

/* Returns a new partition p of t with replica row `row` (width ids, ending
 * early at a negative one; its log opened when self_id is a replica), or
 * NULL with err. */
static struct partition *topic_partition_new(const struct topic *t, int32_t p, const int32_t *row,
                                             int width, int32_t self_id,
                                             const struct topic_config *tc, int64_t from, char *err,
                                             size_t errlen)
{
    char dir[4096];
    bool local = has_replica(row, (int16_t)width, self_id);
    struct partition *part = partition_new(t->name, p, topic_partition_dir(t, p, dir, sizeof(dir)),
                                           local, tc, from, err, errlen);
    if (!part)
        return NULL;
    mark_throttled(part, t->config_kv, t->n_config, self_id);
    int n = 0; /* a row shorter than its width ends in -1 (partitions' counts differ) */
    while (n < width && row[n] >= 0)
        n++;
    part->n_replicas = MIN(n, PARTITION_MAX_REPLICAS);
    memcpy(part->replicas, row, sizeof(int32_t) * (size_t)part->n_replicas);
    memcpy(part->isr, row, sizeof(int32_t) * (size_t)part->n_replicas);
    part->n_isr = part->n_replicas;
    return part;
}

/* Start-up log opening: what open_one() needs for every partition index. */
struct open_ctx {
    struct topic *t;
    int32_t self_id;
    const struct recovery_points *rp;
    _Atomic bool err_taken; /* the first failure writes err */
    char *err;
    size_t errlen;
};

/* Creates partition p of the topic (opening its log). Each index is taken
 * by one thread and writes its own t->parts_[] slot; the topic is not
 * published yet. */
static bool open_one(void *arg, int p)
{
    struct open_ctx *c = arg;
    struct topic *t = c->t;
    char err[256] = "";
    int64_t from = c->rp && c->rp->lookup ? c->rp->lookup(c->rp->arg, t->name, p) : 0;
    KASSERT(t->parts_[p] == NULL); /* each index is taken once */
    t->parts_[p] = topic_partition_new(t, p, &t->replicas_[p * t->rf], t->rf, c->self_id, &t->tc,
                                       from, err, sizeof(err));
    if (!t->parts_[p] && !atomic_exchange(&c->err_taken, true))
        snprintf(c->err, c->errlen, "%s", err);
    return t->parts_[p] != NULL;
}

/* Creates every partition of t (opening the local logs), with up to
 * rp->threads threads, this one included (num.recovery.threads.per.data.dir:
 * after an unclean shutdown, opening recovers each log). false with err. */
static bool open_partitions(struct topic *t, int32_t self_id, const struct recovery_points *rp,
                            char *err, size_t errlen)
{
    struct open_ctx c = {.t = t, .self_id = self_id, .rp = rp, .err = err, .errlen = errlen};
    atomic_init(&c.err_taken, false);
    return par_for(t->n_parts, rp ? rp->threads : 1, open_one, &c);
}

struct topic *topic_create(const char *name, int32_t n_parts, int16_t rf, const int32_t *replicas,
                           char *const *config_kv, int n_config,
                           const struct topic_config *defaults, const char *data_dir,
                           int32_t self_id, const struct recovery_points *rp, char *err,
                           size_t errlen)
{
    struct topic *t = calloc(1, sizeof(*t));
    if (!t)
        goto oom;
    atomic_init(&t->refs, 1);
    pthread_mutex_init(&t->config_lock, NULL);
    snprintf(t->name, sizeof(t->name), "%s", name);
    t->n_parts = n_parts;
    t->rf = rf;
    t->tc = *defaults;
    t->self_id = self_id;
    t->internal = topic_name_internal(name, strlen(name));
    t->data_dir = strdup(data_dir);
    t->replicas_ = malloc(sizeof(int32_t) * (size_t)n_parts * (size_t)rf);
    t->parts_ = calloc((size_t)n_parts, sizeof(*t->parts_));
    if (!t->data_dir || !t->replicas_ || !t->parts_ || !topic_copy_config(t, config_kv, n_config))
        goto oom;
    memcpy(t->replicas_, replicas, sizeof(int32_t) * (size_t)n_parts * (size_t)rf);
    if (!open_partitions(t, self_id, rp, err, errlen)) {
        topic_unref(t);
        return NULL;
    }
    return t;
oom:
    snprintf(err, errlen, "out of memory");
    if (t)
        topic_unref(t);
    return NULL;
}

/* Puts ptr on t's retired list, using the node r (taken). */
static void topic_retire(struct topic *t, struct topic_retired *r, void *ptr)
{
    *r = (struct topic_retired){ptr, t->retired};
    t->retired = r;
}

/* Frees parts[from..to) (new, unpublished partitions) and the arrays. */
static void grow_abort(struct partition **parts, int32_t from, int32_t to, int32_t *replicas)
{
    for (int32_t p = from; p < to; p++)
        if (parts[p])
            partition_free(parts[p], false);
    free(parts);
    free(replicas);
}

kerr_t topic_grow(struct topic *t, int32_t new_n, const int32_t *replicas, int src_rf,
                  int32_t self_id, char *err, size_t errlen)
{
    int32_t old_n = atomic_load_explicit(&t->n_parts, memory_order_relaxed);
    if (new_n <= old_n)
        return KERR_NONE;
    size_t rf = (size_t)t->rf;
    struct partition **parts = calloc((size_t)new_n, sizeof(*parts));
    int32_t *reps = malloc(sizeof(int32_t) * (size_t)new_n * rf);
    struct topic_retired *r1 = malloc(sizeof(*r1)), *r2 = malloc(sizeof(*r2));
    if (!parts || !reps || !r1 || !r2) {
        free(r1);
        free(r2);
        grow_abort(parts, 0, 0, reps);
        snprintf(err, errlen, "out of memory");
        return KERR__NOMEM;
    }
    struct partition **old_parts = atomic_load_explicit(&t->parts_, memory_order_relaxed);
    int32_t *old_reps = atomic_load_explicit(&t->replicas_, memory_order_relaxed);
    memcpy(parts, old_parts, sizeof(*parts) * (size_t)old_n);
    memcpy(reps, old_reps, sizeof(int32_t) * (size_t)old_n * rf);
    /* new rows re-laid from width src_rf to rf (padded with -1 or cut: the
     * replica set itself comes with LeaderAndIsr) */
    for (int32_t p = old_n; p < new_n; p++)
        for (size_t r = 0; r < rf; r++)
            reps[(size_t)p * rf + r] =
                (int)r < src_rf ? replicas[(size_t)p * (size_t)src_rf + r] : -1;
    /* under the config lock: new partitions take the current settings, and
     * topic_set_config() sees either the old count or every new partition */
    pthread_mutex_lock(&t->config_lock);
    for (int32_t p = old_n; p < new_n; p++) {
        parts[p] = topic_partition_new(t, p, &replicas[(size_t)p * (size_t)src_rf], src_rf, self_id,
                                       &t->tc, 0, err, errlen);
        if (!parts[p]) {
            pthread_mutex_unlock(&t->config_lock);
            free(r1);
            free(r2);
            grow_abort(parts, old_n, p, reps);
            return KERR_KAFKA_STORAGE_ERROR;
        }
    }
    topic_retire(t, r1, old_parts);
    topic_retire(t, r2, old_reps);
    atomic_store_explicit(&t->replicas_, reps, memory_order_release);
    atomic_store_explicit(&t->parts_, parts, memory_order_release);
    atomic_store_explicit(&t->n_parts, new_n, memory_order_release);
    pthread_mutex_unlock(&t->config_lock);
    say_info("storage", "topic grown topic=%s partitions=%d from=%d", t->name, new_n, old_n);
    return KERR_NONE;
}
