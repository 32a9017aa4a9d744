/*
 * broker/replication/partition.h — one partition replica on this broker:
 * its log, high watermark, leadership and the fetches waiting for data.
 *
 * Lock-guarded: every field below `lock` is read and written with
 * part->lock held (short critical sections: validation happens before).
 * Lifetime: created and freed by the topic registry (broker/topics.c); a
 * partition is reachable only through a referenced struct topic.
 */
#ifndef GREGOR_BROKER_REPLICATION_PARTITION_H
#define GREGOR_BROKER_REPLICATION_PARTITION_H

#include "broker/topic_config.h"
#include "common/err.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct plog;
struct file_span;

#define PARTITION_MAX_REPLICAS 16

/* A parked operation to wake when the partition's log or HW moves. The
 * owner must call partition_unwatch() before freeing it. wake() runs on the
 * appending thread with part->lock held: it must only post or activate. */
struct pwaiter {
    void (*wake)(struct pwaiter *w);
    struct pwaiter *next; /* guarded by the partition lock */
    void *owner;
};

struct partition {
    const char *topic;            /* borrowed from the owning struct topic */
    char *dir;                    /* owned: the partition directory */
    int32_t index;
    pthread_mutex_t lock;
    struct plog *log;             /* owned; NULL when not a local replica */
    struct topic_config tc;       /* effective topic settings */
    int64_t hw;                   /* high watermark */
    int32_t leader;               /* broker id of the leader, -1 = none */
    int32_t leader_epoch;
    int32_t replicas[PARTITION_MAX_REPLICAS];
    int n_replicas;
    int32_t isr[PARTITION_MAX_REPLICAS];
    int n_isr;
    bool deleted;                 /* topic being deleted: refuse everything */
    bool storage_error_logged;    /* a disk error was logged; cleared by a good append */
    int64_t last_flush_ms;        /* monotonic; background worker only (not locked) */
    bool roll_flush_pending;      /* a segment rolled: fsync it (background worker) */
    struct pwaiter *waiters;
};

/* Creates a partition; opens (or creates) its log under dir when
 * open_log, scanning it from recovery_point (plog_config: -1 after a clean
 * shutdown, 0 = scan everything). Returns new, NULL with err on failure. */
struct partition *partition_new(const char *topic, int32_t index, const char *dir,
                                bool open_log, const struct topic_config *tc,
                                int64_t recovery_point, char *err, size_t errlen);
/* Closes the log (flushing it) and frees; remove_files deletes part->dir. NULL ok. */
void partition_free(struct partition *part, bool remove_files);

/* Appends validated batches as leader. Modifies bytes in place (offsets,
 * leader epoch). Wakes waiters. Locks part->lock. */
kerr_t partition_append(struct partition *part, uint8_t *batches, size_t len, int64_t now_ms,
                        int64_t *base_offset, int64_t *log_start);

/* What a fetch of one partition gets back. */
struct partition_read {
    int64_t hw, lso, log_start, leo;
    int fd;                       /* -1 when no bytes */
    int64_t pos, len;
};
/* Reads from offset for a consumer (up to the HW) or a follower (up to the
 * LEO). max_bytes/min_one as plog_read. Locks part->lock. */
kerr_t partition_read(struct partition *part, int64_t offset, int64_t max_bytes, bool min_one,
                      bool to_leo, struct partition_read *out);

/* ListOffsets: -1 latest (HW), -2 earliest, else by timestamp. */
kerr_t partition_list_offset(struct partition *part, int64_t ts, int64_t *offset,
                             int64_t *found_ts);

/* Applies new effective topic settings (AlterConfigs). Locks part->lock. */
void partition_set_config(struct partition *part, const struct topic_config *tc);
/* Deletes whole segments past retention.ms/retention.bytes (never at or
 * above the HW); *deleted = segments removed. Locks part->lock. */
kerr_t partition_apply_retention(struct partition *part, int64_t now_ms, int *deleted);
/* DeleteRecords: moves the log start offset to offset (-1 = the HW);
 * OFFSET_OUT_OF_RANGE above the HW. *low_watermark = the new log start. */
kerr_t partition_delete_records(struct partition *part, int64_t offset, int64_t *low_watermark);
/* fsyncs the log (flush policy). Locks part->lock. */
kerr_t partition_flush(struct partition *part);
/* True (once) when a segment rolled since the last call: the background
 * worker then fsyncs the log, so closed segments reach the disk without
 * an fsync on the produce path. Locks part->lock. */
bool partition_take_roll_flush(struct partition *part);
/* Reads the values the checkpoint files keep; false if no local log. */
bool partition_checkpoint(struct partition *part, int64_t *recovery_point, int64_t *log_start);
/* Restores a checkpointed log start offset at start-up. */
void partition_restore_log_start(struct partition *part, int64_t log_start);

void partition_watch(struct partition *part, struct pwaiter *w);
void partition_unwatch(struct partition *part, struct pwaiter *w);
/* Marks deleted and wakes all waiters (they see the error on re-read). */
void partition_mark_deleted(struct partition *part);

#endif
