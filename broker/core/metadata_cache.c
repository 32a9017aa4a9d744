/*
 * broker/core/metadata_cache.c — reference-counted immutable snapshots of the
 * cluster metadata, swapped under a mutex that guards only the pointer.
 */
#include "broker/core/metadata_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct metadata_cache {
    pthread_mutex_t lock;    /* guards cur */
    struct mc_snapshot *cur; /* owned reference */
};

struct mc_snapshot *mc_snapshot_new(void)
{
    struct mc_snapshot *s = calloc(1, sizeof(*s));
    if (s) {
        atomic_init(&s->refs, 1);
        s->controller_id = -1;
    }
    return s;
}

static void snapshot_free(struct mc_snapshot *s)
{
    for (int i = 0; i < s->n_topics; i++)
        free(s->topics[i].parts);
    free(s->topics);
    free(s->brokers);
    free(s);
}

void mc_put(struct mc_snapshot *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1)
        snapshot_free(s);
}

void mc_snapshot_ref(struct mc_snapshot *s) { atomic_fetch_add(&s->refs, 1); }

struct metadata_cache *mc_new(void)
{
    struct metadata_cache *mc = calloc(1, sizeof(*mc));
    if (!mc)
        return NULL;
    pthread_mutex_init(&mc->lock, NULL);
    mc->cur = mc_snapshot_new();
    if (!mc->cur) {
        free(mc);
        return NULL;
    }
    return mc;
}

void mc_free(struct metadata_cache *mc)
{
    if (!mc)
        return;
    mc_put(mc->cur);
    pthread_mutex_destroy(&mc->lock);
    free(mc);
}

struct mc_snapshot *mc_get(struct metadata_cache *mc)
{
    pthread_mutex_lock(&mc->lock);
    struct mc_snapshot *s = mc->cur;
    atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&mc->lock);
    return s;
}

bool mc_set(struct metadata_cache *mc, struct mc_snapshot *s)
{
    pthread_mutex_lock(&mc->lock);
    struct mc_snapshot *old = mc->cur;
    if (s->controller_epoch < old->controller_epoch) {
        pthread_mutex_unlock(&mc->lock);
        mc_put(s);
        return false;
    }
    mc->cur = s;
    pthread_mutex_unlock(&mc->lock);
    mc_put(old);
    return true;
}

static int topic_cmp(const void *a, const void *b)
{
    return strcmp(((const struct mc_topic *)a)->name, ((const struct mc_topic *)b)->name);
}

static int broker_cmp(const void *a, const void *b)
{
    int32_t x = ((const struct broker_info *)a)->id, y = ((const struct broker_info *)b)->id;
    return (x > y) - (x < y);
}

void mc_snapshot_sort(struct mc_snapshot *s)
{
    if (s->n_topics > 1)
        qsort(s->topics, (size_t)s->n_topics, sizeof(*s->topics), topic_cmp);
    if (s->n_brokers > 1)
        qsort(s->brokers, (size_t)s->n_brokers, sizeof(*s->brokers), broker_cmp);
}

const struct mc_topic *mc_find_topic(const struct mc_snapshot *s, const char *name, size_t len)
{
    int lo = 0, hi = s->n_topics - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        /* name is len bytes, not NUL-terminated, and may hold NUL bytes or be longer than any
         * topic's: compared by bytes, then by length (strcmp's order for real names) */
        const char *n = s->topics[mid].name;
        size_t n_len = strlen(n);
        int c = memcmp(n, name, MIN(n_len, len));
        if (c == 0)
            c = (n_len > len) - (n_len < len);
        if (c == 0)
            return &s->topics[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}
