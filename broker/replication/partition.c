/*
 * broker/replication/partition.c — a partition replica: append as leader,
 * reads bounded by the high watermark, ListOffsets, and fetch waiters.
 *
 * Replication state (docs/architecture.md §6): the leader tracks each follower's LEO
 * (its fetch offset) and caught-up time, the HW is the minimum LEO over the
 * ISR, and ISR changes are proposed to the controller (isr.c sends them).
 * A follower appends what its fetcher brings and takes the leader's HW.
 */
#include "broker/replication/partition.h"
#include "broker/storage/cleaner_pool.h"
#include "broker/storage/plog.h"
#include "broker/storage/producer_state.h"
#include "common/base.h"
#include "common/say.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --- the partition lock ------------------------------------------------
 * partition_lock()/partition_unlock() wrap part->lock; with
 * GREGOR_LOCK_CHECKS they record the holder as the address of a
 * thread-local byte (unique per live thread, no system call), so
 * partition_assert_locked() is a load and a compare. Relaxed atomics: the
 * value only needs to be exact for the thread asking about itself. */

#ifdef GREGOR_LOCK_CHECKS
static _Thread_local char thread_tag;

static uintptr_t self_tag(void) { return (uintptr_t)&thread_tag; }

void partition_assert_locked(const struct partition *part)
{
    KASSERT(atomic_load_explicit(&part->lock_owner, memory_order_relaxed) == self_tag());
}
#endif

static void partition_lock(struct partition *part)
{
    pthread_mutex_lock(&part->lock);
#ifdef GREGOR_LOCK_CHECKS
    atomic_store_explicit(&part->lock_owner, self_tag(), memory_order_relaxed);
#endif
}

static void partition_unlock(struct partition *part)
{
#ifdef GREGOR_LOCK_CHECKS
    partition_assert_locked(part);
    atomic_store_explicit(&part->lock_owner, 0, memory_order_relaxed);
#endif
    pthread_mutex_unlock(&part->lock);
}

static void plog_config_from(struct plog_config *pc, const struct topic_config *tc,
                             int64_t recovery_point)
{
    *pc = (struct plog_config){
        .segment_bytes = tc->segment_bytes,
        .segment_ms = tc->segment_ms,
        .index_interval_bytes = tc->index_interval_bytes,
        .index_max_bytes = tc->segment_index_bytes,
        .flush_interval_messages = tc->flush_messages == INT64_MAX ? -1 : tc->flush_messages,
        .recovery_point = recovery_point,
    };
}

struct partition *partition_new(const char *topic, int32_t index, const char *dir, bool open_log,
                                const struct topic_config *tc, int64_t recovery_point, char *err,
                                size_t errlen)
{
    struct partition *part = calloc(1, sizeof(*part));
    if (!part) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    part->topic = topic;
    part->index = index;
    part->dir = strdup(dir);
    if (!part->dir) {
        free(part);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    part->tc = *tc;
    part->leader = -1;
    part->leader_hw = -1;
    pthread_mutex_init(&part->lock, NULL);
    if (open_log) {
        struct plog_config pc;
        plog_config_from(&pc, tc, recovery_point);
        part->log = plog_open(dir, &pc, err, errlen);
        if (!part->log) {
            pthread_mutex_destroy(&part->lock);
            free(part->dir);
            free(part);
            return NULL;
        }
        /* the HW is known again once a leader's state arrives (leader: from
         * the ISR's LEOs; follower: from fetch responses) */
        part->hw = plog_start_offset(part->log);
    }
    return part;
}

void partition_free(struct partition *part, bool remove_files)
{
    if (!part)
        return;
    if (part->waiters)
        say_error("replica", "partition freed with a waiter topic=%s partition=%d waiter=%s",
                  part->topic, part->index, part->waiters->what ? part->waiters->what : "?");
    KASSERT(part->waiters == NULL);
    if (part->cleaner)
        cleaner_pool_remove(part->cleaner_pool, part->cleaner, remove_files);
    plog_close(part->log);
    if (remove_files)
        plog_remove_dir(part->dir);
    pthread_mutex_destroy(&part->lock);
    free(part->dir);
    free(part);
}

/* The partition lock as the log cleaner takes it (storage/cleaner.h). */
static void cleaner_lock_cb(void *arg) { partition_lock(arg); }
static void cleaner_unlock_cb(void *arg) { partition_unlock(arg); }
static bool cleaner_held_cb(void *arg)
{
    partition_assert_locked(arg);
    return true;
}
static int64_t cleaner_hw_cb(void *arg)
{
    struct partition *part = arg;

    partition_assert_locked(part);
    return part->hw;
}

void partition_cleaner_sync(struct partition *part, struct cleaner_pool *pool, const char *data_dir)
{
    struct cleaner_log_desc d;
    bool want;

    memset(&d, 0, sizeof(d));
    partition_lock(part);
    want = pool && part->log && part->tc.compact && !part->deleted;
    cleaner_log_config_default(&d.cfg);
    d.cfg.min_cleanable_ratio = part->tc.min_cleanable_ratio;
    d.cfg.delete_retention_ms = part->tc.delete_retention_ms;
    d.cfg.min_lag_ms = part->tc.min_compaction_lag_ms;
    d.cfg.max_lag_ms = part->tc.max_compaction_lag_ms;
    partition_unlock(part);
    if (part->cleaner && (!want || pool != part->cleaner_pool)) {
        cleaner_pool_remove(part->cleaner_pool, part->cleaner, false);
        part->cleaner = NULL;
        part->cleaner_pool = NULL;
    }
    if (!want)
        return;
    if (part->cleaner) {
        cleaner_pool_set_log_config(pool, part->cleaner, &d.cfg);
        return;
    }
    d.log = part->log;
    snprintf(d.topic, sizeof(d.topic), "%s", part->topic);
    d.partition = part->index;
    snprintf(d.data_dir, sizeof(d.data_dir), "%s", data_dir);
    d.lock.lock = cleaner_lock_cb;
    d.lock.unlock = cleaner_unlock_cb;
    d.lock.held = cleaner_held_cb;
    d.lock.max_offset = cleaner_hw_cb;
    d.lock.arg = part;
    part->cleaner = cleaner_pool_add(pool, &d);
    part->cleaner_pool = part->cleaner ? pool : NULL;
}

static void partition_wake_locked(struct partition *part)
{
    partition_assert_locked(part);
    for (struct pwaiter *w = part->waiters; w; w = w->next)
        w->wake(w);
}

/* The HW counts the ISR and, while a proposal is in flight, its members
 * too (so a replica joining the ISR never lacks a committed record). */
static bool hw_member_locked(const struct partition *part, int32_t id)
{
    partition_assert_locked(part);
    for (int i = 0; i < part->n_isr; i++)
        if (part->isr[i] == id)
            return true;
    for (int i = 0; part->isr_inflight && i < part->n_pending_isr; i++)
        if (part->pending_isr[i] == id)
            return true;
    return false;
}

/* Leader: HW = min LEO over the HW members; it only moves forward. */
static void update_hw_locked(struct partition *part)
{
    partition_assert_locked(part);
    if (!part->is_leader || !part->log)
        return;
    int64_t hw = plog_end_offset(part->log);
    for (int i = 0; i < part->n_followers; i++) {
        const struct replica_progress *rp = &part->followers[i];
        if (hw_member_locked(part, rp->id) && rp->leo < hw)
            hw = rp->leo;
    }
    if (hw > part->hw) {
        part->hw = hw;
        plog_txn_replicated(part->log, hw);
        partition_wake_locked(part);
    }
}

/* Whether part (locked) takes an append as leader: KERR_NONE, or why not; with min_isr, an
 * ISR below min.insync.replicas refuses it (NOT_ENOUGH_REPLICAS), as acks=all does. */
static kerr_t leader_may_append(const struct partition *part, bool min_isr)
{
    if (part->deleted || !part->log)
        return part->deleted ? KERR_UNKNOWN_TOPIC_OR_PARTITION : KERR_NOT_LEADER_OR_FOLLOWER;
    if (!part->is_leader)
        return KERR_NOT_LEADER_OR_FOLLOWER;
    if (min_isr && part->n_isr < part->tc.min_insync_replicas)
        return KERR_NOT_ENOUGH_REPLICAS;
    return KERR_NONE;
}

/* partition_append and partition_append_coordinator. */
static kerr_t append_leader(struct partition *part, uint8_t *batches, size_t len, int64_t now_ms,
                            bool acks_all, bool coordinator, int64_t *base_offset,
                            int64_t *last_offset, int32_t *leader_epoch, int64_t *log_start)
{
    partition_lock(part);
    kerr_t rc = leader_may_append(part, acks_all);
    if (rc != KERR_NONE)
        goto out;
    int segments = plog_segment_count(part->log);
    rc = coordinator ? plog_append_coordinator(part->log, batches, len, part->leader_epoch, now_ms,
                                               base_offset, last_offset)
                     : plog_append(part->log, batches, len, part->leader_epoch, now_ms, base_offset,
                                   last_offset);
    if (rc == KERR_DUPLICATE_SEQUENCE_NUMBER) { /* nothing written: the original's offsets */
        *leader_epoch = part->leader_epoch;
        *log_start = plog_start_offset(part->log);
        goto out;
    }
    if (rc != KERR_NONE) {
        /* the log is unchanged; say it once until an append succeeds again */
        if (rc == KERR_KAFKA_STORAGE_ERROR && !part->storage_error_logged)
            say_error("storage",
                      "append failed, answering KAFKA_STORAGE_ERROR topic=%s "
                      "partition=%d",
                      part->topic, part->index);
        part->storage_error_logged = rc == KERR_KAFKA_STORAGE_ERROR;
        goto out;
    }
    if (part->storage_error_logged)
        say_info("storage", "appends work again topic=%s partition=%d", part->topic, part->index);
    part->storage_error_logged = false;
    if (plog_segment_count(part->log) > segments)
        part->roll_flush_pending = true;
    *leader_epoch = part->leader_epoch;
    *log_start = plog_start_offset(part->log);
    partition_wake_locked(part); /* followers long-poll on the LEO */
    update_hw_locked(part);
out:
    partition_unlock(part);
    return rc;
}

kerr_t partition_append(struct partition *part, uint8_t *batches, size_t len, int64_t now_ms,
                        bool acks_all, int64_t *base_offset, int64_t *last_offset,
                        int32_t *leader_epoch, int64_t *log_start)
{
    return append_leader(part, batches, len, now_ms, acks_all, false, base_offset, last_offset,
                         leader_epoch, log_start);
}

kerr_t partition_append_coordinator(struct partition *part, uint8_t *batches, size_t len,
                                    int64_t now_ms, int64_t *base_offset, int64_t *last_offset,
                                    int32_t *leader_epoch, int64_t *log_start)
{
    return append_leader(part, batches, len, now_ms, true, true, base_offset, last_offset,
                         leader_epoch, log_start);
}

kerr_t partition_ack_status(struct partition *part, int64_t last_offset, int32_t leader_epoch)
{
    kerr_t rc = KERR__AGAIN;
    partition_lock(part);
    if (part->deleted || !part->log)
        rc = KERR_UNKNOWN_TOPIC_OR_PARTITION;
    else if (!part->is_leader || part->leader_epoch != leader_epoch)
        rc = KERR_NOT_LEADER_OR_FOLLOWER;
    else if (part->hw > last_offset)
        rc = part->n_isr < part->tc.min_insync_replicas ? KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND
                                                        : KERR_NONE;
    partition_unlock(part);
    return rc;
}

static struct replica_progress *follower_locked(struct partition *part, int32_t id)
{
    partition_assert_locked(part);
    for (int i = 0; i < part->n_followers; i++)
        if (part->followers[i].id == id)
            return &part->followers[i];
    return NULL;
}

/* A follower fetched at `offset` (= its LEO): Kafka's caught-up rule. */
static void follower_fetched_locked(struct partition *part, struct replica_progress *rp,
                                    int64_t offset, int64_t now_ms)
{
    partition_assert_locked(part);
    int64_t leo = plog_end_offset(part->log);
    if (offset >= leo)
        rp->caught_up_ms = MAX(rp->caught_up_ms, now_ms);
    else if (offset >= rp->last_fetch_leader_leo && rp->last_fetch_ms > 0)
        rp->caught_up_ms = MAX(rp->caught_up_ms, rp->last_fetch_ms);
    rp->last_fetch_leader_leo = leo;
    rp->last_fetch_ms = now_ms;
    rp->leo = offset;
    update_hw_locked(part);
}

static kerr_t check_epoch_locked(const struct partition *part, int32_t current)
{
    partition_assert_locked(part);
    if (current < 0 || current == part->leader_epoch)
        return KERR_NONE;
    return current < part->leader_epoch ? KERR_FENCED_LEADER_EPOCH : KERR_UNKNOWN_LEADER_EPOCH;
}

/* Fills out's offsets and reads from offset up to max_offset (plog_read()):
 * what both kinds of read return. */
static kerr_t read_locked(struct partition *part, int64_t offset, int64_t max_offset,
                          int64_t max_bytes, bool min_one, struct partition_read *out)
{
    partition_assert_locked(part);
    struct file_span span = {.fd = -1};
    out->hw = out->lso = part->hw;
    out->log_start = plog_start_offset(part->log);
    out->leo = plog_end_offset(part->log);
    kerr_t rc = plog_read(part->log, offset, max_offset, max_bytes, min_one, &span);
    if (rc == KERR_NONE && span.len > 0) {
        out->fd = span.fd;
        out->pos = span.pos;
        out->len = span.len;
    }
    return rc;
}

kerr_t partition_read(struct partition *part, const struct partition_fetch *f,
                      struct partition_read *out)
{
    kerr_t rc;
    out->fd = -1;
    out->pos = out->len = 0;
    out->throttled = false;
    out->aborted = NULL;
    out->n_aborted = 0;
    partition_lock(part);
    if (part->deleted || !part->log) {
        rc = part->deleted ? KERR_UNKNOWN_TOPIC_OR_PARTITION : KERR_NOT_LEADER_OR_FOLLOWER;
        goto out;
    }
    rc = check_epoch_locked(part, f->current_leader_epoch);
    if (rc == KERR_NONE && !part->is_leader)
        rc = KERR_NOT_LEADER_OR_FOLLOWER;
    struct replica_progress *rp = NULL;
    if (rc == KERR_NONE && f->replica_id >= 0) {
        rp = follower_locked(part, f->replica_id);
        if (!rp)
            rc = KERR_NOT_LEADER_OR_FOLLOWER; /* not a replica of this partition */
        else if (f->offset <= plog_end_offset(part->log))
            follower_fetched_locked(part, rp, f->offset, f->now_ms);
    }
    if (rc != KERR_NONE)
        goto out;
    out->throttled = rp && f->throttle_out_of_sync && !hw_member_locked(part, f->replica_id);
    int64_t lso = plog_last_stable_offset(part->log, part->hw);
    int64_t upto = rp ? plog_end_offset(part->log) : f->read_committed ? lso : part->hw;
    rc = read_locked(part, f->offset, upto, out->throttled ? 0 : f->max_bytes,
                     f->min_one && !out->throttled, out);
    out->lso = lso;
    if (rc == KERR_NONE && !rp && f->read_committed && out->len > 0 &&
        !plog_aborted_txns(part->log, f->offset, lso, &out->aborted, &out->n_aborted)) {
        if (out->fd >= 0)
            close(out->fd);
        out->fd = -1;
        out->len = 0;
        rc = KERR__NOMEM;
    }
out:
    partition_unlock(part);
    return rc;
}

kerr_t partition_read_local(struct partition *part, int32_t leader_epoch, int64_t offset,
                            int64_t max_bytes, struct partition_read *out)
{
    kerr_t rc = KERR_NOT_LEADER_OR_FOLLOWER;
    out->fd = -1;
    out->pos = out->len = 0;
    partition_lock(part);
    if (part->log && !part->deleted && part->is_leader && part->leader_epoch == leader_epoch)
        rc = read_locked(part, offset, plog_end_offset(part->log), max_bytes, true, out);
    partition_unlock(part);
    return rc;
}

int32_t partition_leader(struct partition *part, int32_t *leader_epoch)
{
    partition_lock(part);
    int32_t leader = part->leader;
    *leader_epoch = part->leader_epoch;
    partition_unlock(part);
    return leader;
}

static bool contains(const int32_t *v, int n, int32_t id);

void partition_health(struct partition *part, struct partition_health *h)
{
    partition_lock(part);
    bool assigned = part->has_state && contains(part->replicas, part->n_replicas, part->self_id);
    *h = (struct partition_health){
        .hosted = part->log != NULL,
        .leader = part->log && part->is_leader && !part->deleted,
        .offline = (assigned && !part->log) || (part->log && part->storage_error_logged),
        .n_replicas = part->n_replicas,
        .n_isr = part->n_isr,
        .min_isr = part->tc.min_insync_replicas,
    };
    partition_unlock(part);
}

int partition_isr_view(struct partition *part, bool *is_leader)
{
    partition_lock(part);
    int n = part->n_isr;
    *is_leader = part->is_leader;
    partition_unlock(part);
    return n;
}

kerr_t partition_last_stable_offset(struct partition *part, int64_t *offset)
{
    kerr_t rc = KERR_NONE;
    partition_lock(part);
    if (part->deleted || !part->log)
        rc = part->deleted ? KERR_UNKNOWN_TOPIC_OR_PARTITION : KERR_NOT_LEADER_OR_FOLLOWER;
    else if (!part->is_leader)
        rc = KERR_NOT_LEADER_OR_FOLLOWER;
    else
        *offset = plog_last_stable_offset(part->log, part->hw);
    partition_unlock(part);
    return rc;
}

kerr_t partition_append_marker(struct partition *part, const struct plog_marker *m, int64_t now_ms,
                               int64_t *offset, int32_t *leader_epoch)
{
    partition_lock(part);
    kerr_t rc = leader_may_append(part, true);
    if (rc != KERR_NONE)
        goto out;
    int segments = plog_segment_count(part->log);
    rc = plog_append_marker(part->log, m, part->leader_epoch, now_ms, offset);
    if (rc != KERR_NONE)
        goto out;
    if (plog_segment_count(part->log) > segments)
        part->roll_flush_pending = true;
    *leader_epoch = part->leader_epoch;
    partition_wake_locked(part);
    update_hw_locked(part);
out:
    partition_unlock(part);
    return rc;
}

kerr_t partition_list_offset(struct partition *part, int64_t ts, int64_t *offset, int64_t *found_ts)
{
    kerr_t rc = KERR_NONE;
    partition_lock(part);
    if (part->deleted || !part->log) {
        rc = part->deleted ? KERR_UNKNOWN_TOPIC_OR_PARTITION : KERR_NOT_LEADER_OR_FOLLOWER;
    } else if (ts == -1) {
        *offset = part->hw;
        *found_ts = -1;
    } else if (ts == -2) {
        *offset = plog_start_offset(part->log);
        *found_ts = -1;
    } else {
        rc = plog_offset_for_time(part->log, ts, offset, found_ts);
        if (rc == KERR_NONE && *offset >= part->hw) {
            *offset = -1;
            *found_ts = -1;
        }
    }
    partition_unlock(part);
    return rc;
}

void partition_watch(struct partition *part, struct pwaiter *w)
{
    partition_lock(part);
    w->next = part->waiters;
    part->waiters = w;
    partition_unlock(part);
}

void partition_unwatch(struct partition *part, struct pwaiter *w)
{
    partition_lock(part);
    for (struct pwaiter **pp = &part->waiters; *pp; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    }
    partition_unlock(part);
}

bool partition_has_log(struct partition *part)
{
    partition_lock(part);
    bool has = part->log != NULL;
    partition_unlock(part);
    return has;
}

kerr_t partition_make_local(struct partition *part, char *err, size_t errlen)
{
    partition_lock(part);
    kerr_t rc = KERR_NONE;
    if (part->deleted) {
        snprintf(err, errlen, "the topic is being deleted");
        rc = KERR_UNKNOWN_TOPIC_OR_PARTITION;
    } else if (!part->log) {
        struct plog_config pc;
        plog_config_from(&pc, &part->tc, 0);
        part->log = plog_open(part->dir, &pc, err, errlen);
        if (part->log)
            part->hw = plog_start_offset(part->log);
        else
            rc = KERR_KAFKA_STORAGE_ERROR;
    }
    partition_unlock(part);
    return rc;
}

bool partition_drop_local(struct partition *part)
{
    partition_lock(part);
    struct plog *log = part->log;
    bool compacted = part->tc.compact || part->cleaner;
    if (log && !compacted) {
        part->log = NULL;
        part->is_leader = false;
        part->has_state = false;
        part->leader = -1;
        part->n_followers = 0;
        part->isr_inflight = false;
        part->hw = 0;
        partition_wake_locked(part);
    }
    partition_unlock(part);
    if (!log || compacted)
        return !log;
    plog_close(log);
    (void)plog_remove_dir(part->dir);
    return true;
}

void partition_mark_deleted(struct partition *part)
{
    partition_lock(part);
    part->deleted = true;
    partition_wake_locked(part);
    partition_unlock(part);
}

void partition_config(struct partition *part, struct topic_config *tc)
{
    partition_lock(part);
    *tc = part->tc;
    partition_unlock(part);
}

void partition_set_config(struct partition *part, const struct topic_config *tc)
{
    struct plog_config pc;
    plog_config_from(&pc, tc, -1);
    partition_lock(part);
    part->tc = *tc;
    if (part->log)
        plog_set_config(part->log, &pc);
    partition_unlock(part);
}

kerr_t partition_apply_retention(struct partition *part, int64_t now_ms, int *deleted)
{
    kerr_t rc = KERR_NONE;
    *deleted = 0;
    partition_lock(part);
    if (part->log && !part->deleted) {
        struct plog_retention r = {
            .now_ms = now_ms,
            .retention_ms = part->tc.retention_ms,
            .retention_bytes = part->tc.retention_bytes,
            .max_offset = part->hw,
        };
        rc = plog_apply_retention(part->log, &r, deleted);
    }
    partition_unlock(part);
    return rc;
}

kerr_t partition_producers(struct partition *part, struct pstate_entry **out, size_t *n)
{
    kerr_t rc = KERR_NONE;
    *out = NULL;
    *n = 0;
    partition_lock(part);
    if (!part->log || part->deleted) {
        rc = KERR_UNKNOWN_TOPIC_OR_PARTITION;
    } else if (!part->is_leader) {
        rc = KERR_NOT_LEADER_OR_FOLLOWER;
    } else {
        const struct pstate_map *m = plog_producers(part->log);
        const struct pstate_entry *e;
        size_t pos = 0;
        if (m->n > 0 && !(*out = malloc(m->n * sizeof(**out))))
            rc = KERR__NOMEM;
        while (rc == KERR_NONE && (e = pstate_next(m, &pos)) != NULL)
            (*out)[(*n)++] = *e;
    }
    partition_unlock(part);
    return rc;
}

int partition_expire_producers(struct partition *part, int64_t now_ms, int64_t expiration_ms)
{
    int n = 0;
    partition_lock(part);
    if (part->log && !part->deleted)
        n = plog_expire_producers(part->log, now_ms, expiration_ms);
    partition_unlock(part);
    return n;
}

kerr_t partition_delete_records(struct partition *part, int64_t offset, int64_t *low_watermark)
{
    kerr_t rc;
    *low_watermark = -1;
    partition_lock(part);
    if (!part->log || part->deleted) {
        rc = KERR_UNKNOWN_TOPIC_OR_PARTITION;
    } else {
        if (offset == -1)
            offset = part->hw;
        if (offset < 0 || offset > part->hw) {
            rc = KERR_OFFSET_OUT_OF_RANGE;
        } else {
            rc = plog_advance_start_offset(part->log, offset);
            int deleted = 0;
            if (rc == KERR_NONE) {
                /* whole segments now below the start offset can go */
                struct plog_retention r = {
                    .retention_ms = -1, .retention_bytes = -1, .max_offset = part->hw};
                rc = plog_apply_retention(part->log, &r, &deleted);
            }
        }
        *low_watermark = plog_start_offset(part->log);
    }
    partition_unlock(part);
    return rc;
}

kerr_t partition_flush(struct partition *part)
{
    struct plog_flush_plan plan;
    struct plog *log;
    kerr_t rc = KERR_NONE;

    /* the fsyncs run unlocked: a rolled segment's writeback can take
     * hundreds of milliseconds, which appends must not wait for */
    partition_lock(part);
    log = part->deleted ? NULL : part->log;
    if (log)
        rc = plog_flush_begin(log, &plan);
    partition_unlock(part);
    if (!log || rc != KERR_NONE)
        return rc;
    rc = plog_flush_sync(&plan);
    partition_lock(part);
    if (part->log && !part->deleted) /* plog_flush_end checks it is the same log */
        rc = plog_flush_end(part->log, &plan, rc);
    partition_unlock(part);
    return rc;
}

bool partition_checkpoint(struct partition *part, int64_t *recovery_point, int64_t *log_start,
                          int64_t *hw)
{
    bool have = false;
    partition_lock(part);
    if (part->log && !part->deleted) {
        *recovery_point = plog_recovery_point(part->log);
        *log_start = plog_start_offset(part->log);
        *hw = part->hw;
        have = true;
    }
    partition_unlock(part);
    return have;
}

bool partition_log_dir_info(struct partition *part, int64_t *size_bytes, int64_t *offset_lag)
{
    bool have = false;
    partition_lock(part);
    if (part->log && !part->deleted) {
        *size_bytes = plog_size_bytes(part->log);
        int64_t lag = 0;
        if (!part->is_leader && part->leader_hw >= 0)
            lag = part->leader_hw - plog_end_offset(part->log);
        *offset_lag = lag > 0 ? lag : 0;
        have = true;
    }
    partition_unlock(part);
    return have;
}

void partition_restore_log_start(struct partition *part, int64_t log_start)
{
    partition_lock(part);
    if (part->log && log_start > plog_start_offset(part->log) &&
        log_start <= plog_end_offset(part->log))
        plog_advance_start_offset(part->log, log_start);
    partition_unlock(part);
}

void partition_restore_hw(struct partition *part, int64_t hw)
{
    partition_lock(part);
    if (part->log && hw > part->hw)
        part->hw = MIN(hw, plog_end_offset(part->log));
    partition_unlock(part);
}

bool partition_take_roll_flush(struct partition *part)
{
    partition_lock(part);
    bool pending = part->roll_flush_pending;
    part->roll_flush_pending = false;
    partition_unlock(part);
    return pending;
}

/* --- replication state ------------------------------------------------- */

static bool contains(const int32_t *v, int n, int32_t id)
{
    for (int i = 0; i < n; i++)
        if (v[i] == id)
            return true;
    return false;
}

/* Leader: one progress entry per other replica, all unknown and caught up
 * now (Kafka resets them when leadership starts). Keeps known entries when
 * the epoch is unchanged. */
static void reset_followers_locked(struct partition *part, bool keep, int64_t now_ms)
{
    partition_assert_locked(part);
    struct replica_progress old[PARTITION_MAX_REPLICAS];
    int n_old = part->n_followers;
    memcpy(old, part->followers, sizeof(old));
    part->n_followers = 0;
    for (int i = 0; i < part->n_replicas; i++) {
        int32_t id = part->replicas[i];
        if (id == part->self_id)
            continue;
        struct replica_progress rp = {
            .id = id, .leo = -1, .caught_up_ms = now_ms, .last_fetch_leader_leo = -1};
        for (int k = 0; keep && k < n_old; k++)
            if (old[k].id == id)
                rp = old[k];
        part->followers[part->n_followers++] = rp;
    }
}

kerr_t partition_apply_state(struct partition *part, int32_t self_id,
                             const struct partition_state *st, int64_t now_ms, bool *role_changed)
{
    *role_changed = false;
    if (st->n_isr > PARTITION_MAX_REPLICAS || st->n_replicas > PARTITION_MAX_REPLICAS ||
        st->n_isr < 0 || st->n_replicas < 0)
        return KERR_INVALID_REQUEST;
    kerr_t rc = KERR_NONE;
    partition_lock(part);
    bool known = part->has_state && part->self_id == self_id;
    if (known && st->leader_epoch < part->leader_epoch) {
        rc = KERR_FENCED_LEADER_EPOCH;
        goto out;
    }
    bool same = known && st->leader_epoch == part->leader_epoch && st->leader == part->leader;
    /* still the leader under a bumped epoch (e.g. a dead follower left the
     * ISR): the followers' positions stay valid, and forgetting them would
     * stall the HW until each fetched again */
    bool stays_leader = known && part->is_leader && st->leader == self_id;
    part->has_state = true;
    part->self_id = self_id;
    part->leader = st->leader;
    part->leader_epoch = st->leader_epoch;
    if (!same || st->partition_epoch >= part->partition_epoch) {
        part->partition_epoch = st->partition_epoch;
        part->n_isr = st->n_isr;
        memcpy(part->isr, st->isr, sizeof(int32_t) * (size_t)st->n_isr);
        part->isr_inflight = false;
    }
    part->n_replicas = st->n_replicas;
    memcpy(part->replicas, st->replicas, sizeof(int32_t) * (size_t)st->n_replicas);
    part->is_leader = st->leader == self_id;
    if (!same)
        part->leader_hw = -1; /* a new leader's HW comes with its first fetch answer */
    if (part->is_leader && part->log)
        (void)plog_assign_epoch(part->log, st->leader_epoch); /* the epoch starts at the LEO */
    if (part->is_leader)
        reset_followers_locked(part, same || stays_leader, now_ms);
    else
        part->n_followers = 0;
    *role_changed = !same;
    if (part->is_leader)
        update_hw_locked(part);
    partition_wake_locked(part); /* parked fetches and produces re-check their role */
out:
    partition_unlock(part);
    return rc;
}

bool partition_follower_position(struct partition *part, int32_t leader_epoch, int64_t *leo,
                                 int64_t *hw)
{
    partition_lock(part);
    bool ok = part->log && !part->deleted && !part->is_leader && part->leader_epoch == leader_epoch;
    if (ok) {
        *leo = plog_end_offset(part->log);
        *hw = part->hw;
    }
    partition_unlock(part);
    return ok;
}

static kerr_t follower_check_locked(const struct partition *part, int32_t leader_epoch)
{
    partition_assert_locked(part);
    if (part->deleted || !part->log)
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    if (part->is_leader || part->leader_epoch != leader_epoch)
        return KERR_FENCED_LEADER_EPOCH;
    return KERR_NONE;
}

kerr_t partition_append_replica(struct partition *part, int32_t leader_epoch,
                                const uint8_t *batches, size_t len, int64_t leader_hw,
                                int64_t leader_log_start, int64_t now_ms)
{
    partition_lock(part);
    kerr_t rc = follower_check_locked(part, leader_epoch);
    if (rc == KERR_NONE && len > 0) {
        int64_t first, last;
        int segments = plog_segment_count(part->log);
        rc = plog_append_replica(part->log, batches, len, now_ms, &first, &last);
        if (rc == KERR_NONE && plog_segment_count(part->log) > segments)
            part->roll_flush_pending = true;
    }
    if (rc == KERR_NONE) {
        part->leader_hw = leader_hw;
        if (leader_log_start > plog_start_offset(part->log) &&
            leader_log_start <= plog_end_offset(part->log))
            (void)plog_advance_start_offset(part->log, leader_log_start);
        int64_t hw = MIN(leader_hw, plog_end_offset(part->log));
        if (hw > part->hw) {
            part->hw = hw;
            plog_txn_replicated(part->log, hw);
            partition_wake_locked(part);
        }
    }
    partition_unlock(part);
    return rc;
}

kerr_t partition_truncate(struct partition *part, int32_t leader_epoch, int64_t offset, bool fully)
{
    partition_lock(part);
    kerr_t rc = follower_check_locked(part, leader_epoch);
    if (rc == KERR_NONE) {
        int64_t before = plog_end_offset(part->log);
        rc = fully ? plog_truncate_fully(part->log, offset) : plog_truncate_to(part->log, offset);
        int64_t leo = plog_end_offset(part->log);
        if (fully)
            part->hw = leo;
        else if (part->hw > leo)
            part->hw = leo;
        if (rc == KERR_NONE && (leo != before || fully))
            say_info("replica", "truncated topic=%s partition=%d from=%lld to=%lld fully=%d",
                     part->topic, part->index, (long long)before, (long long)leo, fully);
    }
    partition_unlock(part);
    return rc;
}

int32_t partition_latest_epoch(struct partition *part)
{
    partition_lock(part);
    int32_t e = part->log ? plog_latest_epoch(part->log) : -1;
    partition_unlock(part);
    return e;
}

kerr_t partition_end_offset_for_epoch(struct partition *part, int32_t self_id, bool need_leader,
                                      int32_t current_leader_epoch, int32_t epoch,
                                      int32_t *end_epoch, int64_t *end_offset)
{
    *end_epoch = -1;
    *end_offset = -1;
    partition_lock(part);
    kerr_t rc = KERR_NONE;
    if (part->deleted || !part->log)
        rc = KERR_UNKNOWN_TOPIC_OR_PARTITION;
    else if (need_leader && !(part->is_leader && part->self_id == self_id))
        rc = KERR_NOT_LEADER_OR_FOLLOWER;
    else
        rc = check_epoch_locked(part, current_leader_epoch);
    if (rc == KERR_NONE)
        rc = plog_end_offset_for_epoch(part->log, epoch, end_epoch, end_offset);
    partition_unlock(part);
    return rc;
}

bool partition_isr_proposal(struct partition *part, int64_t now_ms, int64_t lag_ms,
                            int32_t *new_isr, int *n_new_isr, int32_t *leader_epoch,
                            int32_t *partition_epoch)
{
    bool change = false;
    partition_lock(part);
    if (!part->is_leader || part->isr_inflight || part->deleted || !part->log)
        goto out;
    int n = 0;
    for (int i = 0; i < part->n_isr; i++) {
        int32_t id = part->isr[i];
        const struct replica_progress *rp = follower_locked(part, id);
        if (id != part->self_id && (!rp || now_ms - rp->caught_up_ms > lag_ms)) {
            change = true; /* lagging (or no longer a replica): shrink */
            continue;
        }
        new_isr[n++] = id;
    }
    for (int i = 0; i < part->n_followers; i++) {
        const struct replica_progress *rp = &part->followers[i];
        if (!contains(part->isr, part->n_isr, rp->id) && rp->leo >= part->hw &&
            now_ms - rp->caught_up_ms <= lag_ms && n < PARTITION_MAX_REPLICAS) {
            new_isr[n++] = rp->id; /* caught up: expand */
            change = true;
        }
    }
    if (change) {
        *n_new_isr = n;
        *leader_epoch = part->leader_epoch;
        *partition_epoch = part->partition_epoch;
        part->isr_inflight = true;
        part->n_pending_isr = n;
        memcpy(part->pending_isr, new_isr, sizeof(int32_t) * (size_t)n);
    }
out:
    partition_unlock(part);
    return change;
}

int partition_isr_result(struct partition *part, kerr_t err, int32_t leader_epoch,
                         const int32_t *isr, int n_isr, int32_t partition_epoch)
{
    int delta = 0;
    partition_lock(part);
    part->isr_inflight = false;
    if (err == KERR_NONE && part->is_leader && part->leader_epoch == leader_epoch && n_isr > 0 &&
        n_isr <= PARTITION_MAX_REPLICAS && partition_epoch >= part->partition_epoch) {
        say_info("replica", "isr changed topic=%s partition=%d isr_size=%d->%d", part->topic,
                 part->index, part->n_isr, n_isr);
        delta = n_isr - part->n_isr;
        part->n_isr = n_isr;
        memcpy(part->isr, isr, sizeof(int32_t) * (size_t)n_isr);
        part->partition_epoch = partition_epoch;
    }
    update_hw_locked(part);
    partition_wake_locked(part);
    partition_unlock(part);
    return delta;
}
