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
    part->tc = *tc;
    part->leader = -1;
    pthread_mutex_init(&part->lock, NULL);
    if (open_log) {
        struct plog_config pc = {
            .segment_bytes = tc->segment_bytes,
            .segment_ms = tc->segment_ms,
            .index_interval_bytes = tc->index_interval_bytes,
            .index_max_bytes = tc->segment_index_bytes,
            .flush_interval_messages = tc->flush_messages,
            .recovery_point = recovery_point,
        };
        part->log = plog_open(dir, &pc, err, errlen);
        if (!part->log) {
            pthread_mutex_destroy(&part->lock);
            free(part);
            return NULL;
        }
        part->hw = plog_end_offset(part->log);
    }
    return part;
}

void partition_free(struct partition *part, const char *dir, bool remove_files)
{
    if (!part)
        return;
    KASSERT(part->waiters == NULL);
    plog_close(part->log);
    if (remove_files && dir)
        plog_remove_dir(dir);
    pthread_mutex_destroy(&part->lock);
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
    if (part->storage_failed) {
        rc = KERR_KAFKA_STORAGE_ERROR;
        goto out;
    }
    rc = plog_append(part->log, batches, len, part->leader_epoch, now_ms, base_offset, &last);
    if (rc != KERR_NONE) {
        if (rc == KERR_KAFKA_STORAGE_ERROR && !part->storage_failed) {
            say_error("storage", "partition storage failed topic=%s partition=%d", part->topic,
                      part->index);
        }
        goto out;
    }
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
