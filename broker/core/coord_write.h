/*
 * broker/core/coord_write.h — what both coordinators (group_runtime.c, txn_runtime.c) do to
 * write their own records to the internal partition they lead: one uncompressed batch
 * (storage/batch_build.h) appended as leader with acks=all semantics, then polled until the
 * high watermark passed it, the append failed, leadership moved, or the deadline passed; and
 * the list of a coordinator's writes still waiting (coord_pending_list), checked from a job of
 * the coordinator's worker, which reports each outcome to the coordinator once known.
 *
 * A coord_write holds no references: the caller keeps the partition alive (its slot holds
 * the topic) and polls from its own thread. Threads: the caller's (a coordinator worker);
 * coord_pending_post_check() may be called from any thread.
 */
#ifndef GREGOR_BROKER_CORE_COORD_WRITE_H
#define GREGOR_BROKER_CORE_COORD_WRITE_H

#include "broker/storage/batch_build.h"
#include "common/err.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct partition;
struct worker;

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

/* The head of every entry of a coord_pending_list: the write and the coordinator's slot
 * (partition) it went to, at the slot's generation of then. A coordinator's entry type starts
 * with it and adds what it reports the outcome with. */
struct coord_pending {
    struct coord_write cw; /* cw.err: the outcome, or KERR__AGAIN while waiting for the HW */
    void *slot;
    uint64_t gen;
};

struct coord_pending_ops {
    /* The partition to poll for p, or NULL when p's slot is no longer loaded at p->gen (the
     * write then ends NOT_LEADER_OR_FOLLOWER). */
    struct partition *(*partition)(const struct coord_pending *p);
    /* Reports p's outcome: p is a copy of the entry, already off the list, so finish may add
     * entries. */
    void (*finish)(void *owner, struct coord_pending *p, kerr_t err);
    /* Runs after the check job's pass (the owner rearms its timer). */
    void (*checked)(void *owner);
};

/* The largest entry (a coordinator's entry type) a list holds. */
#define COORD_PENDING_MAX 192

/* The writes of one coordinator waiting for their outcome; owned by its worker. An outcome
 * is never reported inside the call that added the entry (which may be one of the
 * coordinator's callbacks, not to be re-entered): coord_pending_add() posts the check job. */
struct coord_pending_list {
    const struct coord_pending_ops *ops;
    void *owner;
    struct worker *w;
    size_t size;      /* bytes of one entry */
    unsigned char *v; /* n entries, room for cap */
    size_t n, cap;
    atomic_bool check_posted; /* a check job is queued (post_check coalescing) */
};

/* An empty list of entries of `size` bytes (<= COORD_PENDING_MAX, a coord_pending first)
 * whose check job runs on w. */
void coord_pending_init(struct coord_pending_list *l, const struct coord_pending_ops *ops,
                        void *owner, struct worker *w, size_t size);
void coord_pending_destroy(struct coord_pending_list *l);

/* Copies the entry p (size bytes) onto the list and posts the check job: false when out of
 * memory (nothing added, the caller answers now). Worker thread. */
bool coord_pending_add(struct coord_pending_list *l, const struct coord_pending *p);

/* Reports the entries whose outcome is known at now: replicated, failed, timed out, or
 * orphaned (NOT_LEADER_OR_FOLLOWER). Worker thread. */
void coord_pending_check(struct coord_pending_list *l, int64_t now);

/* Has the check job (coord_pending_check(), then ops->checked) run soon, once however many
 * ask. Any thread: a partition's wake() under its lock posts through it. */
void coord_pending_post_check(struct coord_pending_list *l);

/* The earlier of next and the entries' deadlines. */
int64_t coord_pending_next_deadline(const struct coord_pending_list *l, int64_t next);

/* Reports every entry: its outcome when known, else NOT_LEADER_OR_FOLLOWER (stop). */
void coord_pending_drain(struct coord_pending_list *l);

#endif
