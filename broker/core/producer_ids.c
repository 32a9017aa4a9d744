/*
 * broker/core/producer_ids.c — producer ids for idempotent producers: the
 * block allocator, the epoch table and the block claims in ZooKeeper on
 * the admin worker (see producer_ids.h). Owns no format: the block znode's
 * JSON is controller/zk/zk_store_pid.c's.
 */
#include "broker/core/producer_ids.h"
#include "broker/core/broker.h"
#include "common/clock.h"
#include "common/loop/worker.h"
#include "common/say.h"
#include "controller/zk/zk_store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define PIDS_CLAIM_RETRY_MS 1000 /* after a failed claim, wait this long before the next */

/* ---- pure allocator ------------------------------------------------------ */

static const struct pid_range EMPTY_RANGE = {.start = 0, .end = -1};

void pid_alloc_init(struct pid_alloc *a)
{
    a->cur = EMPTY_RANGE;
    a->next_id = 0;
    a->next = EMPTY_RANGE;
}

static bool range_empty(struct pid_range r) { return r.start > r.end; }

kerr_t pid_alloc_take(struct pid_alloc *a, int64_t *id)
{
    if (range_empty(a->cur) || a->next_id > a->cur.end) {
        if (range_empty(a->next))
            return KERR_COORDINATOR_LOAD_IN_PROGRESS;
        a->cur = a->next;
        a->next_id = a->cur.start;
        a->next = EMPTY_RANGE;
    }
    *id = a->next_id++;
    return KERR_NONE;
}

bool pid_alloc_wants_block(const struct pid_alloc *a)
{
    if (!range_empty(a->next))
        return false;
    if (range_empty(a->cur) || a->next_id > a->cur.end)
        return true;
    int64_t size = a->cur.end - a->cur.start + 1;
    int64_t used = a->next_id - a->cur.start;
    return used * 100 >= size * PIDS_PREFETCH_PCT;
}

void pid_alloc_add(struct pid_alloc *a, struct pid_range r)
{
    if (range_empty(r))
        return;
    if (range_empty(a->cur) || a->next_id > a->cur.end) {
        if (range_empty(a->next)) {
            a->cur = r;
            a->next_id = r.start;
            return;
        }
        a->cur = a->next; /* the older block first */
        a->next_id = a->cur.start;
    }
    a->next = r;
}

/* ---- pure epoch table ------------------------------------------------------ */

bool pid_epochs_init(struct pid_epochs *t, size_t cap)
{
    t->ids = malloc(cap * sizeof(*t->ids));
    t->epoch = malloc(cap * sizeof(*t->epoch));
    if (!t->ids || !t->epoch) {
        free(t->ids);
        free(t->epoch);
        t->ids = NULL;
        t->epoch = NULL;
        return false;
    }
    t->cap = cap;
    t->n = 0;
    for (size_t i = 0; i < cap; i++)
        t->ids[i] = -1;
    return true;
}

void pid_epochs_destroy(struct pid_epochs *t)
{
    free(t->ids);
    free(t->epoch);
    t->ids = NULL;
    t->epoch = NULL;
}

static size_t slot_of(const struct pid_epochs *t, int64_t id)
{
    uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ull;
    size_t i = (size_t)(h >> 17) & (t->cap - 1);
    while (t->ids[i] != -1 && t->ids[i] != id)
        i = (i + 1) & (t->cap - 1);
    return i;
}

void pid_epochs_put(struct pid_epochs *t, int64_t id, int16_t epoch)
{
    size_t i = slot_of(t, id);
    if (t->ids[i] == -1) {
        if ((t->n + 1) * 4 > t->cap * 3) {
            for (size_t k = 0; k < t->cap; k++)
                t->ids[k] = -1;
            t->n = 0;
            i = slot_of(t, id);
        }
        t->ids[i] = id;
        t->n++;
    }
    t->epoch[i] = epoch;
}

int16_t pid_epochs_get(const struct pid_epochs *t, int64_t id)
{
    if (id < 0)
        return -1;
    size_t i = slot_of(t, id);
    return t->ids[i] == id ? t->epoch[i] : -1;
}

enum pids_decision pid_epochs_reinit(struct pid_epochs *t, int64_t cur_id, int16_t cur_epoch,
                                     int16_t *epoch)
{
    int16_t known = pid_epochs_get(t, cur_id);
    if (known < 0)
        return PIDS_NEW_ID;
    if (cur_epoch == known) {
        if (known >= PIDS_EPOCH_MAX - 1)
            return PIDS_NEW_ID; /* epoch exhausted: a new id, as Kafka does */
        *epoch = (int16_t)(known + 1);
        pid_epochs_put(t, cur_id, *epoch);
        return PIDS_BUMP;
    }
    if (cur_epoch >= 0 && cur_epoch == known - 1) {
        *epoch = known;
        return PIDS_SAME;
    }
    return PIDS_FENCED;
}

/* ---- the broker's producer ids ---------------------------------------------- */

struct producer_ids {
    struct broker *b;
    pthread_mutex_t lock;
    struct pid_alloc alloc;   /* under lock */
    struct pid_epochs epochs; /* under lock */
    bool claiming;            /* a claim is posted or running; under lock */
    int64_t claim_failed_ms;  /* monotonic time of the last failed claim, 0 if none */
};

struct producer_ids *pids_new(struct broker *b)
{
    struct producer_ids *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    if (!pid_epochs_init(&p->epochs, PIDS_EPOCHS_MAX)) {
        free(p);
        return NULL;
    }
    p->b = b;
    pthread_mutex_init(&p->lock, NULL);
    pid_alloc_init(&p->alloc);
    return p;
}

void pids_free(struct producer_ids *p)
{
    if (!p)
        return;
    pid_epochs_destroy(&p->epochs);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* Admin worker: claims one block in ZooKeeper. */
static void claim_job(void *arg)
{
    struct producer_ids *p = arg;
    struct zk_pid_block blk;
    kerr_t err = KERR__ZK;
    if (p->b->zk)
        err = zk_store_claim_pid_block(p->b->zk, p->b->id, ZK_PRODUCER_ID_BLOCK_SIZE, &blk);
    pthread_mutex_lock(&p->lock);
    p->claiming = false;
    if (err == KERR_NONE) {
        pid_alloc_add(&p->alloc, (struct pid_range){.start = blk.start, .end = blk.end});
        p->claim_failed_ms = 0;
    } else {
        p->claim_failed_ms = clock_mono_ms();
    }
    pthread_mutex_unlock(&p->lock);
    if (err == KERR_NONE)
        say_info("pid", "claimed producer id block start=%lld end=%lld", (long long)blk.start,
                 (long long)blk.end);
    else
        say_warn("pid",
                 "producer id block claim failed err=%s: InitProducerId answers "
                 "COORDINATOR_LOAD_IN_PROGRESS once the ids run out",
                 kerr_name(err));
}

/* With p->lock held: posts a claim when one is due. */
static void maybe_claim(struct producer_ids *p)
{
    if (p->claiming || !pid_alloc_wants_block(&p->alloc))
        return;
    if (p->claim_failed_ms && clock_mono_ms() - p->claim_failed_ms < PIDS_CLAIM_RETRY_MS)
        return;
    p->claiming = worker_post(p->b->admin, claim_job, p);
}

void pids_add_block(struct producer_ids *p, int64_t start, int64_t end)
{
    pthread_mutex_lock(&p->lock);
    pid_alloc_add(&p->alloc, (struct pid_range){.start = start, .end = end});
    pthread_mutex_unlock(&p->lock);
}

void pids_start(struct producer_ids *p)
{
    pthread_mutex_lock(&p->lock);
    maybe_claim(p);
    pthread_mutex_unlock(&p->lock);
}

kerr_t pids_init(struct producer_ids *p, int64_t cur_id, int16_t cur_epoch, int16_t api_version,
                 int64_t *id, int16_t *epoch)
{
    kerr_t err = KERR_NONE;
    pthread_mutex_lock(&p->lock);
    enum pids_decision d = PIDS_NEW_ID;
    if (cur_id >= 0)
        d = pid_epochs_reinit(&p->epochs, cur_id, cur_epoch, epoch);
    switch (d) {
    case PIDS_BUMP:
    case PIDS_SAME:
        *id = cur_id;
        break;
    case PIDS_FENCED:
        err = api_version >= 4 ? KERR_PRODUCER_FENCED : KERR_INVALID_PRODUCER_EPOCH;
        break;
    case PIDS_NEW_ID:
        err = pid_alloc_take(&p->alloc, id);
        if (err == KERR_NONE) {
            *epoch = 0;
            pid_epochs_put(&p->epochs, *id, 0);
        }
        break;
    }
    maybe_claim(p);
    pthread_mutex_unlock(&p->lock);
    return err;
}
