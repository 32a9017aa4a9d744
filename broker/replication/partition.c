/*
 * broker/replication/partition.c — a partition replica: append as leader,
 * reads bounded by the high watermark, ListOffsets, and fetch waiters.
 *
 * Single-broker rule until replication lands (DESIGN.md §6): with an ISR of
 * one, the HW follows the LEO at every append.
 */
#include "broker/replication/partition.h"
#include "broker/storage/plog.h"
#include "common/say.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

struct partition *partition_new(const char *topic, int32_t index, const char *dir,
                                bool open_log, const struct topic_config *tc,
                                int64_t recovery_point, char *err, size_t errlen)
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
        part->hw = plog_end_offset(part->log);
    }
    return part;
}

void partition_free(struct partition *part, bool remove_files)
{
    if (!part)
        return;
    KASSERT(part->waiters == NULL);
    plog_close(part->log);
    if (remove_files)
        plog_remove_dir(part->dir);
    pthread_mutex_destroy(&part->lock);
    free(part->dir);
    free(part);
}

static void partition_wake_locked(struct partition *part)
{
    for (struct pwaiter *w = part->waiters; w; w = w->next)
        w->wake(w);
}

kerr_t partition_append(struct partition *part, uint8_t *batches, size_t len, int64_t now_ms,
                        int64_t *base_offset, int64_t *log_start)
{
    int64_t last;
    kerr_t rc;
    pthread_mutex_lock(&part->lock);
    if (part->deleted || !part->log) {
        rc = KERR_UNKNOWN_TOPIC_OR_PARTITION;
        goto out;
    }
    int segments = plog_segment_count(part->log);
    rc = plog_append(part->log, batches, len, part->leader_epoch, now_ms, base_offset, &last);
    if (rc != KERR_NONE) {
        /* the log is unchanged; say it once until an append succeeds again */
        if (rc == KERR_KAFKA_STORAGE_ERROR && !part->storage_error_logged)
            say_error("storage", "append failed, answering KAFKA_STORAGE_ERROR topic=%s "
                      "partition=%d", part->topic, part->index);
        part->storage_error_logged = rc == KERR_KAFKA_STORAGE_ERROR;
        goto out;
    }
    if (part->storage_error_logged)
        say_info("storage", "appends work again topic=%s partition=%d", part->topic, part->index);
    part->storage_error_logged = false;
    if (plog_segment_count(part->log) > segments)
        part->roll_flush_pending = true;
    if (part->n_isr <= 1)
        part->hw = last + 1;
    *log_start = plog_start_offset(part->log);
    partition_wake_locked(part);
out:
    pthread_mutex_unlock(&part->lock);
    return rc;
}

kerr_t partition_read(struct partition *part, int64_t offset, int64_t max_bytes, bool min_one,
                      bool to_leo, struct partition_read *out)
{
    struct file_span span = {.fd = -1};
    kerr_t rc;
    out->fd = -1;
    out->pos = out->len = 0;
    pthread_mutex_lock(&part->lock);
    if (part->deleted || !part->log) {
        rc = KERR_UNKNOWN_TOPIC_OR_PARTITION;
        goto out;
    }
    out->hw = out->lso = part->hw;
    out->log_start = plog_start_offset(part->log);
    out->leo = plog_end_offset(part->log);
    rc = plog_read(part->log, offset, to_leo ? out->leo : part->hw, max_bytes, min_one, &span);
    if (rc == KERR_NONE && span.len > 0) {
        out->fd = span.fd;
        out->pos = span.pos;
        out->len = span.len;
    }
out:
    pthread_mutex_unlock(&part->lock);
    return rc;
}

kerr_t partition_list_offset(struct partition *part, int64_t ts, int64_t *offset,
                             int64_t *found_ts)
{
    kerr_t rc = KERR_NONE;
    pthread_mutex_lock(&part->lock);
    if (part->deleted || !part->log) {
        rc = KERR_UNKNOWN_TOPIC_OR_PARTITION;
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
    pthread_mutex_unlock(&part->lock);
    return rc;
}

void partition_watch(struct partition *part, struct pwaiter *w)
{
    pthread_mutex_lock(&part->lock);
    w->next = part->waiters;
    part->waiters = w;
    pthread_mutex_unlock(&part->lock);
}

void partition_unwatch(struct partition *part, struct pwaiter *w)
{
    pthread_mutex_lock(&part->lock);
    for (struct pwaiter **pp = &part->waiters; *pp; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    }
    pthread_mutex_unlock(&part->lock);
}

void partition_mark_deleted(struct partition *part)
{
    pthread_mutex_lock(&part->lock);
    part->deleted = true;
    partition_wake_locked(part);
    pthread_mutex_unlock(&part->lock);
}

void partition_set_config(struct partition *part, const struct topic_config *tc)
{
    struct plog_config pc;
    plog_config_from(&pc, tc, -1);
    pthread_mutex_lock(&part->lock);
    part->tc = *tc;
    if (part->log)
        plog_set_config(part->log, &pc);
    pthread_mutex_unlock(&part->lock);
}

kerr_t partition_apply_retention(struct partition *part, int64_t now_ms, int *deleted)
{
    kerr_t rc = KERR_NONE;
    *deleted = 0;
    pthread_mutex_lock(&part->lock);
    if (part->log && !part->deleted) {
        struct plog_retention r = {
            .now_ms = now_ms,
            .retention_ms = part->tc.retention_ms,
            .retention_bytes = part->tc.retention_bytes,
            .max_offset = part->hw,
        };
        rc = plog_apply_retention(part->log, &r, deleted);
    }
    pthread_mutex_unlock(&part->lock);
    return rc;
}

kerr_t partition_delete_records(struct partition *part, int64_t offset, int64_t *low_watermark)
{
    kerr_t rc;
    *low_watermark = -1;
    pthread_mutex_lock(&part->lock);
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
                struct plog_retention r = {.retention_ms = -1, .retention_bytes = -1,
                                           .max_offset = part->hw};
                rc = plog_apply_retention(part->log, &r, &deleted);
            }
        }
        *low_watermark = plog_start_offset(part->log);
    }
    pthread_mutex_unlock(&part->lock);
    return rc;
}

kerr_t partition_flush(struct partition *part)
{
    kerr_t rc = KERR_NONE;
    pthread_mutex_lock(&part->lock);
    if (part->log && !part->deleted)
        rc = plog_flush(part->log);
    pthread_mutex_unlock(&part->lock);
    return rc;
}

bool partition_checkpoint(struct partition *part, int64_t *recovery_point, int64_t *log_start)
{
    bool have = false;
    pthread_mutex_lock(&part->lock);
    if (part->log && !part->deleted) {
        *recovery_point = plog_recovery_point(part->log);
        *log_start = plog_start_offset(part->log);
        have = true;
    }
    pthread_mutex_unlock(&part->lock);
    return have;
}

void partition_restore_log_start(struct partition *part, int64_t log_start)
{
    pthread_mutex_lock(&part->lock);
    if (part->log && log_start > plog_start_offset(part->log) &&
        log_start <= plog_end_offset(part->log))
        plog_advance_start_offset(part->log, log_start);
    pthread_mutex_unlock(&part->lock);
}

bool partition_take_roll_flush(struct partition *part)
{
    pthread_mutex_lock(&part->lock);
    bool pending = part->roll_flush_pending;
    part->roll_flush_pending = false;
    pthread_mutex_unlock(&part->lock);
    return pending;
}
