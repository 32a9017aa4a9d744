/*
 * broker/storage/producer_snapshot.c — the producer state snapshot codec
 * (`<offset>.snapshot`, Kafka's ProducerStateManager file format version 1;
 * the layout is in producer_state.h). Pure functions on memory; plog_producers.c
 * reads and writes the files.
 */
#include "broker/storage/producer_state.h"

#include "common/buf.h"
#include "common/crc32c.h"

bool pstate_snapshot_encode(const struct pstate_map *m, struct kbuf *out)
{
    size_t start = out->len, pos = 0;
    const struct pstate_entry *e;

    kbuf_put_i16(out, PSTATE_SNAPSHOT_VERSION);
    kbuf_put_i32(out, 0); /* crc, patched below */
    kbuf_put_i32(out, (int32_t)m->n);
    while ((e = pstate_next(m, &pos)) != NULL) {
        const struct pstate_batch *b = e->n ? pstate_last_batch(e) : NULL;
        kbuf_put_i64(out, e->producer_id);
        kbuf_put_i16(out, e->epoch);
        kbuf_put_i32(out, b ? b->last_seq : -1);
        kbuf_put_i64(out, b ? b->last_offset : -1);
        kbuf_put_i32(out, b ? b->offset_delta : 0);
        kbuf_put_i64(out, b ? b->timestamp : e->last_update_ms);
        kbuf_put_i32(out, e->coordinator_epoch);
        kbuf_put_i64(out, e->txn_first_offset);
    }
    if (out->oom)
        return false;
    be32_store(out->data + start + 2, crc32c(0, out->data + start + 6, out->len - start - 6));
    return true;
}

kerr_t pstate_snapshot_decode(const uint8_t *p, size_t len, struct pstate_map *m, const char **why)
{
    int32_t count;

    pstate_clear(m);
    if (len < PSTATE_SNAPSHOT_HDR_SIZE) {
        *why = "shorter than its header";
        return KERR__CORRUPT;
    }
    if ((int16_t)be16_load(p) != PSTATE_SNAPSHOT_VERSION) {
        *why = "unknown version";
        return KERR__CORRUPT;
    }
    if (be32_load(p + 2) != crc32c(0, p + 6, len - 6)) {
        *why = "CRC mismatch";
        return KERR__CORRUPT;
    }
    count = (int32_t)be32_load(p + 6);
    if (count < 0 || (size_t)count * PSTATE_SNAPSHOT_ENTRY_SIZE != len - PSTATE_SNAPSHOT_HDR_SIZE) {
        *why = "entry count disagrees with the file size";
        return KERR__CORRUPT;
    }
    for (int32_t i = 0; i < count; i++) {
        const uint8_t *q = p + PSTATE_SNAPSHOT_HDR_SIZE + (size_t)i * PSTATE_SNAPSHOT_ENTRY_SIZE;
        struct pstate_entry e = {.producer_id = (int64_t)be64_load(q),
                                 .epoch = (int16_t)be16_load(q + 8),
                                 .coordinator_epoch = (int32_t)be32_load(q + 34),
                                 .txn_first_offset = (int64_t)be64_load(q + 38)};
        struct pstate_batch b = {.last_seq = (int32_t)be32_load(q + 10),
                                 .last_offset = (int64_t)be64_load(q + 14),
                                 .offset_delta = (int32_t)be32_load(q + 22),
                                 .timestamp = (int64_t)be64_load(q + 26)};
        kerr_t err;
        if (e.producer_id < 0 || b.offset_delta < 0 || pstate_find(m, e.producer_id)) {
            *why = "bad or repeated producer entry";
            pstate_clear(m);
            return KERR__CORRUPT;
        }
        e.last_update_ms = b.timestamp;
        if (b.last_seq >= 0 && b.last_offset >= 0) {
            /* Kafka's decrementSequence: the first sequence of the last batch */
            b.first_seq = b.last_seq - b.offset_delta >= 0
                              ? b.last_seq - b.offset_delta
                              : INT32_MAX - (b.offset_delta - b.last_seq) + 1;
            e.batches[0] = b;
            e.n = 1;
        }
        if ((err = pstate_put(m, &e)) != KERR_NONE) {
            *why = "out of memory";
            pstate_clear(m);
            return err;
        }
    }
    return KERR_NONE;
}
