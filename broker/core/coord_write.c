/*
 * broker/core/coord_write.c — a coordinator's acks=all write of its own records to an
 * internal partition, and the list of its writes waiting for their outcome (coord_write.h).
 */
#include "broker/core/coord_write.h"
#include "broker/replication/partition.h"
#include "common/base.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/loop/worker.h"
#include "common/vec.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

void coord_write_start(struct coord_write *w, struct partition *part,
                       const struct batch_build_rec *recs, size_t n, int64_t now_ms,
                       int64_t timeout_ms, int64_t producer_id, int16_t producer_epoch)
{
    *w = (struct coord_write){
        .err = KERR__AGAIN, .base_offset = -1, .deadline_ms = now_ms + timeout_ms};
    struct kbuf batch;
    kbuf_init(&batch);
    kerr_t err = producer_id < 0 ? batch_build(&batch, recs, n, now_ms)
                                 : batch_build_producer(&batch, recs, n, now_ms, producer_id,
                                                        producer_epoch, 0, true);
    if (err == KERR_NONE) {
        int64_t base, log_start;
        err = producer_id < 0
                  ? partition_append(part, batch.data, batch.len, now_ms, true, &base,
                                     &w->last_offset, &w->leader_epoch, &log_start)
                  : partition_append_coordinator(part, batch.data, batch.len, now_ms, &base,
                                                 &w->last_offset, &w->leader_epoch, &log_start);
        if (err == KERR_NONE)
            w->base_offset = base;
    }
    kbuf_destroy(&batch);
    if (err != KERR_NONE)
        w->err = err;
}

kerr_t coord_write_poll(struct coord_write *w, struct partition *part, int64_t now_ms)
{
    if (w->err != KERR__AGAIN)
        return w->err;
    kerr_t err = partition_ack_status(part, w->last_offset, w->leader_epoch);
    if (err == KERR__AGAIN && now_ms >= w->deadline_ms)
        err = KERR_REQUEST_TIMED_OUT;
    w->err = err;
    return err;
}

/* --- the pending list ------------------------------------------------------------- */

static struct coord_pending *entry(const struct coord_pending_list *l, size_t i)
{
    return (struct coord_pending *)(void *)(l->v + i * l->size);
}

void coord_pending_init(struct coord_pending_list *l, const struct coord_pending_ops *ops,
                        void *owner, struct worker *w, size_t size)
{
    KASSERT(size >= sizeof(struct coord_pending) && size <= COORD_PENDING_MAX);
    *l = (struct coord_pending_list){.ops = ops, .owner = owner, .w = w, .size = size};
    atomic_init(&l->check_posted, false);
}

void coord_pending_destroy(struct coord_pending_list *l)
{
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

bool coord_pending_add(struct coord_pending_list *l, const struct coord_pending *p)
{
    KASSERT(worker_is_current(l->w));
    if (!vec_reserve(&l->v, &l->cap, l->n + 1, l->size))
        return false;
    memcpy(entry(l, l->n++), p, l->size);
    coord_pending_post_check(l);
    return true;
}

/* Takes entry i off the list (the last one moves into its place) and reports err. */
static void finish(struct coord_pending_list *l, size_t i, kerr_t err)
{
    union {
        alignas(max_align_t) unsigned char bytes[COORD_PENDING_MAX];
        struct coord_pending head;
    } copy;
    memcpy(copy.bytes, entry(l, i), l->size);
    if (i != --l->n)
        memcpy(entry(l, i), entry(l, l->n), l->size);
    l->ops->finish(l->owner, &copy.head, err);
}

void coord_pending_check(struct coord_pending_list *l, int64_t now)
{
    KASSERT(worker_is_current(l->w));
    for (size_t i = 0; i < l->n;) {
        struct coord_pending *p = entry(l, i);
        kerr_t err = p->cw.err;
        if (err == KERR__AGAIN) {
            struct partition *part = l->ops->partition(p);
            err = part ? coord_write_poll(&p->cw, part, now) : KERR_NOT_LEADER_OR_FOLLOWER;
        }
        if (err == KERR__AGAIN) {
            i++;
            continue;
        }
        finish(l, i, err); /* may add: the array may move, i stays valid */
    }
}

static void check_job(void *arg)
{
    struct coord_pending_list *l = arg;
    atomic_store(&l->check_posted, false);
    coord_pending_check(l, clock_wall_ms());
    l->ops->checked(l->owner);
}

void coord_pending_post_check(struct coord_pending_list *l)
{
    if (!atomic_exchange(&l->check_posted, true) && !worker_post(l->w, check_job, l))
        atomic_store(&l->check_posted, false); /* the owner's timer checks again */
}

int64_t coord_pending_next_deadline(const struct coord_pending_list *l, int64_t next)
{
    for (size_t i = 0; i < l->n; i++)
        next = MIN(next, entry(l, i)->cw.deadline_ms);
    return next;
}

void coord_pending_drain(struct coord_pending_list *l)
{
    KASSERT(worker_is_current(l->w));
    while (l->n > 0) {
        kerr_t err = entry(l, l->n - 1)->cw.err;
        finish(l, l->n - 1, err != KERR__AGAIN ? err : KERR_NOT_LEADER_OR_FOLLOWER);
    }
}
