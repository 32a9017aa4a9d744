/*
 * broker/storage/plog_priv.h — the layout of struct plog, shared by the
 * files that implement one partition log: plog.c (append, read,
 * retention, truncation) and cleaner_swap.c (installing cleaned segments).
 * Storage-internal: nothing outside broker/storage/ includes it.
 *
 * Threads: every field is guarded by the owning partition's lock.
 */
#ifndef GREGOR_BROKER_STORAGE_PLOG_PRIV_H
#define GREGOR_BROKER_STORAGE_PLOG_PRIV_H

#include "broker/storage/plog.h"
#include "broker/storage/segment.h"

struct epoch_cache;

/* Created by plog_open(), freed by plog_close(); guarded by the partition
 * lock. */
struct plog {
    char *dir;              /* owned */
    struct plog_config cfg; /* copy */
    struct segment **segs;  /* owned, sorted by base; nsegs >= 1 once open */
    int nsegs;
    size_t cap;                 /* room in segs (common/vec.h) */
    int64_t start_offset;       /* log start offset */
    int64_t recovery_point;     /* offsets below are fsynced */
    int64_t unflushed;          /* records appended since the last flush */
    int64_t checked_bytes;      /* bytes CRC-checked while opening */
    struct epoch_cache *epochs; /* owned: leader epoch -> start offset */
};

#endif
