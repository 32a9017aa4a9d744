/*
 * broker/core/log_manager.c — retention, flush and checkpoints for every local
 * partition log, driven by timers on the background worker.
 *
 * Files owned (per log dir, Kafka's text format, written atomically by
 * storage/logdir.c: temp file, fsync, rename, fsync dir):
 *   recovery-point-offset-checkpoint  per partition, the offset below which
 *       the log is known to be on disk; after a crash recovery scans only
 *       past it (every log is scanned when the file is missing).
 *   log-start-offset-checkpoint       per partition, the log start offset
 *       moved by DeleteRecords (retention moves it by deleting segments).
 *   replication-offset-checkpoint     per partition, the high watermark
 *       (docs/architecture.md §5, §6), every replica.high.watermark.checkpoint.interval.ms
 *       and at shutdown; restored at start so a replica never exposes
 *       records beyond what was committed before it stopped.
 * Timers: log.retention.check.interval.ms (retention), a 1 s flush tick
 * (per-topic flush.ms, and an fsync of every log whose segment rolled),
 * log.flush.offset.checkpoint.interval.ms (both checkpoints), and every
 * log.cleaner.backoff.ms (at least 1 s) the registration of compacted logs
 * with the log cleaner (storage/cleaner_pool.h), whose threads run on
 * their own and write cleaner-offset-checkpoint.
 */
#include "broker/core/log_manager.h"
#include "common/loop/worker.h"
#include "broker/core/broker.h"
#include "broker/storage/cleaner_pool.h"
#include "broker/storage/logdir.h"
#include "broker/storage/plog.h"
#include "broker/replication/topics.h"
#include "common/clock.h"
#include "common/say.h"
#include "common/vec.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CKPT_RECOVERY "recovery-point-offset-checkpoint"
#define CKPT_LOG_START "log-start-offset-checkpoint"
#define CKPT_HW "replication-offset-checkpoint"
#define FLUSH_TICK_MS 1000

struct log_checkpoints {
    bool clean;                   /* clean-shutdown marker was present */
    struct logdir_ckpt_entry *rp; /* recovery points, sorted */
    int n_rp;
    struct logdir_ckpt_entry *ls; /* log start offsets, sorted */
    int n_ls;
    struct logdir_ckpt_entry *hw; /* high watermarks, sorted */
    int n_hw;
};

static int ckpt_cmp(const void *a, const void *b)
{
    const struct logdir_ckpt_entry *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

static const struct logdir_ckpt_entry *ckpt_find(const struct logdir_ckpt_entry *e, int n,
                                                 const char *topic, int32_t p)
{
    struct logdir_ckpt_entry key = {.partition = p};
    snprintf(key.topic, sizeof(key.topic), "%s", topic);
    return n ? bsearch(&key, e, (size_t)n, sizeof(*e), ckpt_cmp) : NULL;
}

static int64_t recovery_lookup(void *arg, const char *topic, int32_t p)
{
    struct log_checkpoints *ck = arg;
    if (ck->clean)
        return -1;
    const struct logdir_ckpt_entry *e = ckpt_find(ck->rp, ck->n_rp, topic, p);
    return e ? e->offset : 0;
}

static void ckpt_read(const char *dir, const char *name, struct logdir_ckpt_entry **e, int *n)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    *e = NULL;
    *n = 0;
    kerr_t rc = logdir_ckpt_read(path, e, n);
    if (rc != KERR_NONE && rc != KERR__NOENT)
        say_warn("storage", "ignoring unreadable checkpoint file=%s err=%s", path, kerr_name(rc));
    if (rc != KERR_NONE) {
        free(*e);
        *e = NULL;
        *n = 0;
        return;
    }
    qsort(*e, (size_t)*n, sizeof(**e), ckpt_cmp);
}

int log_manager_load(struct broker *b)
{
    struct log_checkpoints *ck = calloc(1, sizeof(*ck));
    if (!ck)
        return -1;
    ck->clean = logdir_clean_shutdown_exists(b->data_dir);
    ckpt_read(b->data_dir, CKPT_RECOVERY, &ck->rp, &ck->n_rp);
    ckpt_read(b->data_dir, CKPT_LOG_START, &ck->ls, &ck->n_ls);
    ckpt_read(b->data_dir, CKPT_HW, &ck->hw, &ck->n_hw);
    if (!ck->clean)
        say_info("storage",
                 "no clean-shutdown marker: logs are recovered from their checkpointed "
                 "recovery points dir=%s checkpoints=%d",
                 b->data_dir, ck->n_rp);
    b->ckpt = ck;
    b->recovery.lookup = recovery_lookup;
    b->recovery.arg = ck;
    b->recovery.threads = b->cfg->num_recovery_threads_per_data_dir;
    b->recovery_start_us = clock_mono_us();
    return 0;
}

void log_manager_restore(struct broker *b, struct partition *part)
{
    const struct logdir_ckpt_entry *e =
        b->ckpt ? ckpt_find(b->ckpt->ls, b->ckpt->n_ls, part->topic, part->index) : NULL;
    if (e)
        partition_restore_log_start(part, e->offset);
    e = b->ckpt ? ckpt_find(b->ckpt->hw, b->ckpt->n_hw, part->topic, part->index) : NULL;
    if (e)
        partition_restore_hw(part, e->offset);
}

/* Calls fn on every local partition (topic references held meanwhile). */
static void for_each_partition(struct broker *b,
                               void (*fn)(struct broker *, struct partition *, void *), void *arg)
{
    int n;
    struct topic **list = topics_list(b->topics, &n);
    for (int i = 0; list && i < n; i++)
        for (int32_t p = 0; p < list[i]->n_parts; p++)
            if (partition_has_log(topic_part(list[i], p)))
                fn(b, topic_part(list[i], p), arg);
    topics_list_free(list, n);
}

static void count_one(struct broker *b, struct partition *part, void *arg) { (*(int *)arg)++; }

void log_manager_loaded(struct broker *b)
{
    int n = 0;
    for_each_partition(b, count_one, &n);
    int64_t us = clock_mono_us() - b->recovery_start_us;
    say_info("storage",
             "loaded %d partitions in %" PRId64 " ms dir=%s clean_shutdown=%s "
             "recovery_threads=%d",
             n, us / 1000, b->data_dir, b->ckpt && b->ckpt->clean ? "true" : "false",
             b->recovery.threads);
}

static void retention_one(struct broker *b, struct partition *part, void *arg)
{
    int deleted = 0;
    kerr_t rc = partition_apply_retention(part, clock_wall_ms(), &deleted);
    (void)partition_expire_producers(part, clock_wall_ms(), b->cfg->producer_id_expiration_ms);
    if (rc != KERR_NONE)
        say_warn("storage", "retention failed topic=%s partition=%d err=%s", part->topic,
                 part->index, kerr_name(rc));
    else if (deleted > 0)
        say_info("storage", "retention deleted segments topic=%s partition=%d count=%d",
                 part->topic, part->index, deleted);
    /* unlink what retention (or DeleteRecords, truncation) retired, outside
     * the partition lock */
    (void)plog_sweep_deleted(part->dir);
}

void log_manager_retention_now(struct broker *b) { for_each_partition(b, retention_one, NULL); }

static void flush_one(struct broker *b, struct partition *part, void *arg)
{
    int64_t now = *(int64_t *)arg;
    struct topic_config tc;
    partition_config(part, &tc);
    int64_t every = tc.flush_ms;
    bool rolled = partition_take_roll_flush(part);
    bool due = every >= 0 && every != INT64_MAX && now - part->last_flush_ms >= every;
    if (!rolled && !due)
        return;
    part->last_flush_ms = now; /* bg worker only */
    int64_t t0 = clock_mono_us();
    kerr_t rc = partition_flush(part);
    metrics_hist_add(&b->metrics.log_flush, clock_mono_us() - t0);
    if (rc != KERR_NONE)
        say_warn("storage", "flush failed topic=%s partition=%d", part->topic, part->index);
}

struct ckpt_acc {
    struct logdir_ckpt_entry *rp, *ls, *hw;
    int n;
    size_t cap_rp, cap_ls, cap_hw; /* the three arrays grow together */
};

static bool ckpt_grow(struct ckpt_acc *acc)
{
    size_t need = (size_t)acc->n + 1;
    return VEC_RESERVE_AT(acc->rp, acc->cap_rp, need) &&
           VEC_RESERVE_AT(acc->ls, acc->cap_ls, need) && VEC_RESERVE_AT(acc->hw, acc->cap_hw, need);
}

static void ckpt_one(struct broker *b, struct partition *part, void *arg)
{
    struct ckpt_acc *acc = arg;
    int64_t rp, ls, hw;
    if (!partition_checkpoint(part, &rp, &ls, &hw) || !ckpt_grow(acc))
        return;
    struct logdir_ckpt_entry e = {.partition = part->index};
    snprintf(e.topic, sizeof(e.topic), "%s", part->topic);
    e.offset = rp;
    acc->rp[acc->n] = e;
    e.offset = ls;
    acc->ls[acc->n] = e;
    e.offset = hw;
    acc->hw[acc->n++] = e;
}

static void write_one(struct broker *b, const char *name, const struct logdir_ckpt_entry *e, int n)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", b->data_dir, name);
    if (logdir_ckpt_write(path, e, n) != KERR_NONE)
        say_warn("storage", "cannot write checkpoint file=%s", path);
}

/* Writes the log checkpoints (recovery points, log starts) and/or the HWs. */
static void write_checkpoints(struct broker *b, bool logs, bool hws)
{
    struct ckpt_acc acc = {0};
    for_each_partition(b, ckpt_one, &acc);
    if (logs) {
        write_one(b, CKPT_RECOVERY, acc.rp, acc.n);
        write_one(b, CKPT_LOG_START, acc.ls, acc.n);
    }
    if (hws)
        write_one(b, CKPT_HW, acc.hw, acc.n);
    free(acc.rp);
    free(acc.ls);
    free(acc.hw);
}

static void cleaner_sync_one(struct broker *b, struct partition *part, void *arg)
{
    partition_cleaner_sync(part, b->cleaner, b->data_dir);
}

static void cleaner_cb(evutil_socket_t fd, short what, void *arg)
{
    struct broker *b = arg;
    for_each_partition(b, cleaner_sync_one, NULL);
}

/* Creates and starts the cleaner threads (log.cleaner.enable, threads > 0). */
static int cleaner_start(struct broker *b)
{
    const struct broker_config *cfg = b->cfg;
    struct cleaner_pool_config pc;
    double rate = atomic_load(&b->dyn.log_cleaner_io_max_bytes_per_second); /* dynamic */
    if (!cfg->log_cleaner_enable || cfg->log_cleaner_threads <= 0)
        return 0;
    cleaner_pool_config_default(&pc);
    pc.threads = cfg->log_cleaner_threads;
    pc.dedupe_buffer_bytes = cfg->log_cleaner_dedupe_buffer_size;
    pc.io_max_bytes_per_sec = rate;
    pc.backoff_ms = cfg->log_cleaner_backoff_ms;
    b->cleaner = cleaner_pool_new(&pc);
    if (!b->cleaner || cleaner_pool_start(b->cleaner) != KERR_NONE) {
        cleaner_pool_free(b->cleaner);
        b->cleaner = NULL;
        return -1;
    }
    return 0;
}

static void retention_cb(evutil_socket_t fd, short what, void *arg)
{
    log_manager_retention_now(arg);
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
    int64_t now = clock_mono_ms();
    for_each_partition(arg, flush_one, &now);
}

static void ckpt_cb(evutil_socket_t fd, short what, void *arg)
{
    write_checkpoints(arg, true, false);
}

static void hw_ckpt_cb(evutil_socket_t fd, short what, void *arg)
{
    write_checkpoints(arg, false, true);
}

static struct event *start_timer(struct broker *b, int64_t ms, event_callback_fn cb)
{
    if (ms <= 0 || ms == INT64_MAX)
        return NULL;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    struct event *ev = event_new(worker_base(b->bg), -1, EV_PERSIST, cb, b);
    if (ev)
        event_add(ev, &tv);
    return ev;
}

static void start_job(void *arg)
{
    struct broker *b = arg;
    const struct broker_config *cfg = b->cfg;
    b->retention_ev = start_timer(b, cfg->log_retention_check_interval_ms, retention_cb);
    b->flush_ev = start_timer(b, FLUSH_TICK_MS, flush_cb);
    b->ckpt_ev = start_timer(b, cfg->log_flush_offset_checkpoint_interval_ms, ckpt_cb);
    b->hw_ckpt_ev = start_timer(b, cfg->replica_high_watermark_checkpoint_interval_ms, hw_ckpt_cb);
    if (b->cleaner) {
        b->cleaner_ev = start_timer(b, MAX(cfg->log_cleaner_backoff_ms, 1000), cleaner_cb);
        cleaner_cb(-1, 0, b);
    }
}

int log_manager_start(struct broker *b)
{
    if (cleaner_start(b) != 0)
        return -1;
    b->bg = worker_new("bg");
    if (!b->bg || !worker_post(b->bg, start_job, b))
        return -1;
    return 0;
}

static void stop_job(void *arg)
{
    struct broker *b = arg;
    struct event **evs[] = {&b->retention_ev, &b->flush_ev, &b->ckpt_ev, &b->hw_ckpt_ev,
                            &b->cleaner_ev};
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
        if (*evs[i])
            event_free(*evs[i]);
        *evs[i] = NULL;
    }
}

void log_manager_stop(struct broker *b)
{
    if (b->bg) {
        worker_post(b->bg, stop_job, b);
        worker_free(b->bg);
        b->bg = NULL;
    }
    if (b->cleaner) {
        /* passes give up; the logs leave the pool before it goes */
        cleaner_pool_stop(b->cleaner);
        struct cleaner_pool *pool = b->cleaner;
        b->cleaner = NULL;
        if (b->topics)
            for_each_partition(b, cleaner_sync_one, NULL);
        cleaner_pool_free(pool);
    }
    if (b->topics)
        write_checkpoints(b, true, true);
    if (b->ckpt) {
        free(b->ckpt->rp);
        free(b->ckpt->ls);
        free(b->ckpt->hw);
        free(b->ckpt);
        b->ckpt = NULL;
    }
}
