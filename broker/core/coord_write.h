/*
 * broker/core/coord_write.h — what both coordinators (group_runtime.c, txn_runtime.c) do to
 * write their own records to the internal partition they lead: one uncompressed batch
 * (storage/batch_build.h) appended as leader with acks=all semantics, then polled until the
 * high watermark passed it, the append failed, leadership moved, or the deadline passed.
 *
 * A coord_write holds no references: the caller keeps the partition alive (its slot holds
 * the topic) and polls from its own thread. Threads: the caller's (a coordinator worker).
 */
#ifndef GREGOR_BROKER_CORE_COORD_WRITE_H
#define GREGOR_BROKER_CORE_COORD_WRITE_H

#include "broker/storage/batch_build.h"
#include "common/err.h"

#include <stddef.h>
#include <stdint.h>

struct partition;

struct coord_write {
    kerr_t err;           /* the outcome, or KERR__AGAIN while waiting for the HW */
    int64_t base_offset;  /* the batch's first offset; -1 when nothing was appended */
    int64_t last_offset;  /* the batch's last offset */
    int32_t leader_epoch; /* the epoch it was written under */
    int64_t deadline_ms;  /* wall clock: REQUEST_TIMED_OUT after it */
};

/* Appends recs[n] (n >= 1) as one batch stamped now_ms to part (acks=all) and fills *w:
 * err KERR__AGAIN on success (poll it), else the append's error (or KERR__NOMEM). With
 * producer_id >= 0 the batch is that producer's transactional batch with base sequence 0,
 * checked for its epoch only (partition_append_coordinator(): what Kafka writes for
 * TxnOffsetCommit); -1/-1 for a plain batch. */
void coord_write_start(struct coord_write *w, struct partition *part,
                       const struct batch_build_rec *recs, size_t n, int64_t now_ms,
                       int64_t timeout_ms, int64_t producer_id, int16_t producer_epoch);

/* The write's state at now_ms: KERR__AGAIN while the HW has not passed it, KERR_NONE once it
 * has, the append's or replication's error (partition_ack_status), or REQUEST_TIMED_OUT
 * once the deadline passed. Stores a final outcome in w->err. */
kerr_t coord_write_poll(struct coord_write *w, struct partition *part, int64_t now_ms);

#endif
