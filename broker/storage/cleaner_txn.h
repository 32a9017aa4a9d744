/*
 * broker/storage/cleaner_txn.h — what a log cleaner pass knows about
 * producers and transactions (Kafka's CleanedTransactionMetadata and the
 * cleaner's lastRecordsOfActiveProducers; docs/storage.md "Compaction"):
 *
 *  - which data batches belong to an aborted transaction: a walk over the
 *    log in offset order meets the log's aborted transactions (the
 *    in-memory .txnindex entries, txn_index.h) by their first offset; from
 *    there until its ABORT marker every transactional batch of that
 *    producer id is aborted (its records are removed, and the offset map
 *    skips them so an aborted key never shadows a committed value);
 *  - whether a transaction marker may go: a COMMIT or ABORT marker is
 *    needed while any batch of its transaction was read in the same walk
 *    (kept, even emptied, batches are read again by the next pass), so a
 *    marker goes only in a pass after the one that removed its data (and,
 *    the caller decides, once its segment is past the delete horizon);
 *    a control batch without a record is a marker already cleaned;
 *  - each producer id's last batches in the rewritten part: its last data
 *    batch (sequence and epoch: kept, emptied if needed, so producer state
 *    rebuilds), and its last marker when that is its newest batch and
 *    carries an epoch newer than its last data batch (the bumped epoch is
 *    needed for fencing).
 *
 * A walk is started with cleaner_txn_rewind(); every batch from there on
 * is fed in offset order, data batches to cleaner_txn_data(), control
 * batches to cleaner_txn_control().
 *
 * Threads: owned by one cleaner pass on its thread; cleaner_txn_init() reads
 * the log's aborted list, so the caller holds the partition lock then.
 */
#ifndef GREGOR_BROKER_STORAGE_CLEANER_TXN_H
#define GREGOR_BROKER_STORAGE_CLEANER_TXN_H

#include "broker/storage/batch.h"
#include "broker/storage/txn_index.h"
#include "common/err.h"

/* One producer id in the pass. Internal; in the table of struct cleaner_txn. */
struct cleaner_pid {
    int64_t pid;       /* -1: free slot */
    int64_t last_data; /* base offset of its last data batch, -1 */
    int64_t last_ctrl; /* base offset of its last marker if newer than last_data, -1 */
    int16_t data_epoch, ctrl_epoch;
    int8_t txn;    /* CLEANER_TXN_*: the transaction the walk is in for this pid */
    bool observed; /* a batch of its ongoing (aborted or committed) transaction was read */
};

#define CLEANER_TXN_NONE 0
#define CLEANER_TXN_COMMITTED 1 /* data of a transaction not in the aborted list */
#define CLEANER_TXN_ABORTED 2

/* Zero-initialised, then cleaner_txn_init(). */
struct cleaner_txn {
    struct cleaner_pid *slots; /* open addressing; cap a power of two */
    size_t cap, used;
    struct aborted_txn *aborted; /* copy, ordered by last_offset */
    size_t naborted;
    size_t *by_first; /* indexes into aborted, ordered by first_offset */
    size_t next;      /* next of by_first the walk has not reached */
    int64_t from;     /* entries ending below it are not part of the walk */
};

/* Copies the entries of l whose first offset is below upto. KERR__NOMEM. */
kerr_t cleaner_txn_init(struct cleaner_txn *t, const struct txnidx_list *l, int64_t upto);
void cleaner_txn_free(struct cleaner_txn *t);

/* Notes a batch of producer h->producer_id (>= 0) read by the scan of the
 * rewritten part, in offset order. KERR__NOMEM. */
kerr_t cleaner_txn_note_last(struct cleaner_txn *t, const struct batch_hdr *h);
/* True if the data batch h is its producer's last data batch noted. */
bool cleaner_txn_is_last_data(const struct cleaner_txn *t, const struct batch_hdr *h);
/* True if the control batch h is its producer's newest batch noted and
 * carries a newer epoch than the producer's last data batch (or there is
 * none). */
bool cleaner_txn_is_needed_marker(const struct cleaner_txn *t, const struct batch_hdr *h);

/* Starts a walk at offset from: no transaction is ongoing; aborted
 * transactions whose marker is below from are not met. */
void cleaner_txn_rewind(struct cleaner_txn *t, int64_t from);
/* Feeds a data batch; *aborted: it belongs to an aborted transaction.
 * KERR__NOMEM. */
kerr_t cleaner_txn_data(struct cleaner_txn *t, const struct batch_hdr *h, bool *aborted);
/* Feeds a control batch of type (0 ABORT, 1 COMMIT, -1 no record or
 * unreadable); *discardable: no batch of the transaction it ends was read
 * in this walk (or it has no record). KERR__NOMEM. */
kerr_t cleaner_txn_control(struct cleaner_txn *t, const struct batch_hdr *h, int type,
                           bool *discardable);

#endif
