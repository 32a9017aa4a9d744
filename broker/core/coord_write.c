/*
 * broker/core/coord_write.c — a coordinator's acks=all write of its own records to an
 * internal partition (coord_write.h).
 */
#include "broker/core/coord_write.h"
#include "broker/replication/partition.h"
#include "common/buf.h"

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
