/*
 * tests/unit/broker/storage/cleaner_test.h — helpers for the log cleaner
 * tests: keyed batches (optionally compressed), a partition lock made of
 * a mutex, reading a whole log back as (offset, key, value) records, and
 * copying a log directory (crash images).
 */
#ifndef GREGOR_TESTS_UNIT_BROKER_STORAGE_CLEANER_TEST_H
#define GREGOR_TESTS_UNIT_BROKER_STORAGE_CLEANER_TEST_H

#include <pthread.h>

#include "broker/storage/cleaner.h"
#include "broker/storage/plog.h"
#include "common/buf.h"

/* One record to build: key NULL = no key, value NULL = tombstone. */
struct ct_rec {
    const char *key;
    const char *value;
};

/* Appends one batch of n records (timestamps ts, ts+1, ...) compressed with
 * codec (0-4) and producer id pid (-1: none) to b. */
void ct_batch(struct kbuf *b, const struct ct_rec *recs, int n, int codec, int64_t ts, int64_t pid);
/* Appends a batch to log (fails the test on error); returns its first offset. */
int64_t ct_append(struct plog *log, const struct ct_rec *recs, int n, int codec, int64_t ts);
/* Shorthand: one record per batch. */
int64_t ct_put(struct plog *log, const char *key, const char *value, int64_t ts);

/* A record read back. Strings owned by the ct_log. */
struct ct_read {
    int64_t offset;
    char *key;   /* NULL: none */
    char *value; /* NULL: tombstone */
    int codec;   /* of its batch */
};
#define CT_MAX_MARKERS 64
struct ct_log {
    struct ct_read *r;
    int n;
    int batches;
    int empty_batches;
    int markers; /* control batches (counted in batches; their records not in r) */
    int64_t marker_offsets[CT_MAX_MARKERS];
};
/* Reads every record of the log from its start to the LEO. */
void ct_read_log(struct plog *log, struct ct_log *out);
void ct_log_free(struct ct_log *l);
/* The latest record of key in l (NULL if none). */
const struct ct_read *ct_find_latest(const struct ct_log *l, const char *key);
int ct_count_key(const struct ct_log *l, const char *key);

/* A partition lock for cleaner_clean(): a mutex plus a held flag, and an
 * optional hook run at each lock (after taking it) with the count. */
struct ct_lock {
    pthread_mutex_t mu;
    pthread_t owner;
    bool held;
    int locks;
    int64_t max_offset; /* -1: the LEO */
    struct plog *log;
    void (*hook)(struct ct_lock *l, int n);
    struct cleaner_lock ops;
};
void ct_lock_init(struct ct_lock *l, struct plog *log);

/* Opens the test log at st_dir/t-0 with segment_bytes. */
struct plog *ct_open(int32_t segment_bytes);
/* Copies every regular file of directory from into to (created). */
void ct_copy_dir(const char *from, const char *to);
/* Sets the modification time of the segment .log of dir at base. */
void ct_set_mtime(const char *dir, int64_t base, int64_t mtime_ms);

#endif
