/*
 * tests/unit/broker/storage/storage_test.h — helpers shared by the storage
 * unit tests: a per-test temp directory, a RecordBatch v2 builder with a
 * valid CRC, and small file helpers.
 */
#ifndef GREGOR_TESTS_UNIT_BROKER_STORAGE_STORAGE_TEST_H
#define GREGOR_TESTS_UNIT_BROKER_STORAGE_STORAGE_TEST_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* The temp directory of the running test (set by st_tmpdir_up). */
extern char st_dir[256];

/* Criterion .init/.fini: create / recursively remove st_dir. */
void st_tmpdir_up(void);
void st_tmpdir_down(void);

/* How st_batch() builds a batch. */
struct st_batch_opts {
    int nrec;    /* records (>= 0) */
    int64_t ts0; /* first record timestamp; record i gets ts0 + i * ts_step */
    int64_t ts_step;
    size_t value_len; /* bytes per value (filled with 'a' + i % 26) */
    int16_t attributes;
    int64_t producer_id; /* -1 for none */
    int32_t base_seq;
};

/* Appends one valid batch (base offset 0, epoch -1, CRC set) to b; returns
 * its start position in b. */
size_t st_batch(struct kbuf *b, const struct st_batch_opts *o);
/* Shorthand: nrec records with value_len-byte values at ts0, ts0+1, ... */
size_t st_simple(struct kbuf *b, int nrec, size_t value_len, int64_t ts0);
/* Recomputes the CRC of the batch at p (after editing covered fields). */
void st_fix_crc(uint8_t *p);
/* Decodes hex (spaces/newlines ignored) into b. */
void st_hex(struct kbuf *b, const char *hex);

/* Path "<st_dir>/<rel>" into a static buffer (valid until the next call). */
const char *st_path(const char *rel);
/* File size, or -1 if missing. */
int64_t st_file_size(const char *path);
/* Reads len bytes at off of path into buf; returns bytes read. */
size_t st_read_at(const char *path, int64_t off, void *buf, size_t len);
size_t st_read_fd(int fd, int64_t off, void *buf, size_t len);
void st_write_at(const char *path, int64_t off, const void *buf, size_t len);
void st_truncate(const char *path, int64_t len);
/* Number of files in dir whose name ends with suffix. */
int st_count_files(const char *dir, const char *suffix);

#endif
