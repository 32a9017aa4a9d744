/*
 * broker/core/log_load.h — reading an internal topic's partition into a
 * coordinator's memory (the group runtime's `__consumer_offsets`, the txn
 * runtime's `__transaction_state`): from the log start to the log end
 * offset seen at the first read, one chunk per step, so a coordinator's
 * worker thread stays free for other jobs between steps.
 *
 * Every record with a key of every uncompressed data batch is handed to the
 * caller's function (its batch header readable in ll->batch meanwhile, for a
 * coordinator that tells transactional batches apart); control batches are
 * handed to ll->marker when set (transaction markers) and passed over
 * otherwise, and compressed
 * batches (the coordinators write none) are skipped with a warning, as is a
 * record the function refuses. Formats: RecordBatch v2 (broker/storage/batch.h).
 *
 * Threads: a struct log_load belongs to the one thread that steps it.
 */
#ifndef GREGOR_BROKER_CORE_LOG_LOAD_H
#define GREGOR_BROKER_CORE_LOG_LOAD_H

#include "broker/replication/partition.h"
#include "broker/storage/batch.h"
#include "common/err.h"

#include <stdint.h>

struct log_load {
    const char *who; /* the log subsystem of warnings, e.g. "group" */
    int32_t index;   /* the partition, for warnings */
    int64_t next;    /* next offset to replay, -1 before the first read */
    int64_t end;     /* the log end offset at the first read, -1 before it */
    int64_t records; /* records handed to the function */
    /* while the function runs: the header of the record's batch */
    const struct batch_hdr *batch;
    /* optional, set after log_load_init(): a commit or abort marker (h: its
     * control batch, at h->base_offset) */
    void (*marker)(void *arg, const struct batch_hdr *h, bool commit);
};

/* Handles one record; an error is logged and the record skipped. */
typedef kerr_t (*log_load_fn)(void *arg, const struct batch_record *r);

enum log_load_step {
    LOG_LOAD_MORE,  /* step again */
    LOG_LOAD_DONE,  /* every record up to the end was handed over */
    LOG_LOAD_FAILED /* *why says what went wrong */
};

/* Starts a load of partition index (who names the subsystem in warnings). */
void log_load_init(struct log_load *ll, const char *who, int32_t index);

/* Reads and replays up to chunk bytes of part, as leader at leader_epoch. */
enum log_load_step log_load_step(struct log_load *ll, struct partition *part, int32_t leader_epoch,
                                 int64_t chunk, log_load_fn fn, void *arg, const char **why);

#endif
