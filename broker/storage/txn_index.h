/*
 * broker/storage/txn_index.h — the aborted transaction index of a partition
 * log (Kafka's TransactionIndex / AbortedTxn; docs/storage.md "Aborted
 * transaction index").
 *
 * Format of `<base zero-padded to 20>.txnindex`, one per segment, holding
 * the transactions aborted by a marker inside that segment, in marker
 * order: entries of TXNIDX_ENTRY_SIZE = 34 bytes, big-endian: version
 * INT16 (0), producer_id INT64, first_offset INT64 (the transaction's first
 * batch), last_offset INT64 (the abort marker), last_stable_offset INT64
 * (the LSO right after the marker). No header, no checksum: a length that is
 * not a multiple of 34, a version other than 0 or first > last makes the
 * file corrupt (rebuilt from the log).
 *
 * In memory a log keeps every entry of every segment in one array ordered
 * by last_offset (struct txnidx_list), loaded at open and appended as
 * markers arrive; reads select from it without touching the files.
 *
 * Threads: a list is owned by its plog and guarded by the partition lock;
 * the codec is pure.
 */
#ifndef GREGOR_BROKER_STORAGE_TXN_INDEX_H
#define GREGOR_BROKER_STORAGE_TXN_INDEX_H

#include "common/base.h"
#include "common/err.h"

#define TXNIDX_SUFFIX ".txnindex"
#define TXNIDX_ENTRY_SIZE 34
#define TXNIDX_VERSION 0

/* One aborted transaction. Plain value. */
struct aborted_txn {
    int64_t producer_id;
    int64_t first_offset;
    int64_t last_offset; /* the abort marker's offset */
    int64_t last_stable_offset;
};

/* Writes e as one 34-byte entry into out. */
void txnidx_encode(const struct aborted_txn *e, uint8_t out[TXNIDX_ENTRY_SIZE]);
/* Decodes len bytes (whole entries) into *out (malloc'd, *n entries; NULL
 * when none). KERR__CORRUPT with a static reason in *why for a bad length,
 * version or entry; KERR__NOMEM. */
kerr_t txnidx_decode(const uint8_t *p, size_t len, struct aborted_txn **out, size_t *n,
                     const char **why);

/* A log's entries, ordered by last_offset. Zero-initialised = empty. */
struct txnidx_list {
    struct aborted_txn *v; /* owned */
    size_t n, cap;
};

void txnidx_list_free(struct txnidx_list *l);
/* Appends e (its last_offset must not be below the list's last); false on
 * OOM. */
bool txnidx_list_push(struct txnidx_list *l, const struct aborted_txn *e);
/* Removes the entries whose last_offset is in [lo, hi). */
void txnidx_list_drop(struct txnidx_list *l, int64_t lo, int64_t hi);
/* Removes the entries whose last_offset is one of the n ascending offsets
 * at gone (markers the log cleaner removed). */
void txnidx_list_remove(struct txnidx_list *l, const int64_t *gone, size_t n);
/* The entries a read_committed fetch of [from, upto) must report (Kafka's
 * collectAbortedTxns): last_offset >= from and first_offset < upto, in
 * order. *out is malloc'd (NULL when none); false on OOM. */
bool txnidx_list_select(const struct txnidx_list *l, int64_t from, int64_t upto,
                        struct aborted_txn **out, int *n);

/* ---- files ---- */
/* Appends e to dir's `<base>.txnindex` (created when missing). */
kerr_t txnidx_file_append(const char *dir, int64_t base, const struct aborted_txn *e);
/* Reads dir's `<base>.txnindex` into l (appended). A missing file is empty
 * (KERR_NONE, *missing set); a corrupt one gives KERR__CORRUPT and *why. */
kerr_t txnidx_file_load(const char *dir, int64_t base, struct txnidx_list *l, bool *missing,
                        const char **why);
/* Rewrites `<base>.txnindex` with the entries of l whose last_offset is in
 * [lo, hi) (deleting the file when there is none). */
kerr_t txnidx_file_rewrite(const char *dir, int64_t base, const struct txnidx_list *l, int64_t lo,
                           int64_t hi);
/* Renames `<base>.txnindex` to `.txnindex.deleted` (swept later) if it
 * exists. */
void txnidx_file_retire(const char *dir, int64_t base);

#endif
