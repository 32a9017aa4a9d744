/*
 * tests/fuzz/fuzz_batch_validate.c — libFuzzer target for the RecordBatch v2
 * code that sees untrusted bytes first (broker/storage/batch.c): Produce
 * validation (batch_validate_produce), the batch iterator and the record
 * iterator of uncompressed batches.
 *
 * Input: one mode byte, then the records bytes of one Produce partition.
 *   mode bit 0: fix up the CRC of every whole batch before validating, so
 *               that the fuzzer reaches the checks after the CRC;
 *   mode bits 1-3: max_message_bytes = 0 (no limit) or 64 << (bits - 1).
 * The bytes are copied into a buffer of exactly their length so that ASan
 * sees any read past the end.
 *
 * Invariants checked (abort on violation): when validation accepts the
 * input, the iterator walks exactly n_batches whole batches that cover the
 * buffer, each with magic 2, a valid CRC, recordsCount > 0 and
 * lastOffsetDelta = recordsCount - 1; the record iterator never reads out
 * of bounds and never returns more records than recordsCount, and returns
 * exactly recordsCount for an uncompressed batch that batch_is_intact()
 * (record_validate.c) accepts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/storage/batch.h"
#include "broker/storage/record_validate.h"
#include "common/buf.h"
#include "common/crc32c.h"

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_batch_validate: invariant failed: %s (line %d)\n", #cond,        \
                    __LINE__);                                                                     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Rewrites the CRC of every whole batch in buf (a frame too short or too
 * long for the buffer ends the walk). */
static void fix_crcs(uint8_t *buf, size_t len)
{
    size_t pos = 0;

    while (len - pos >= BATCH_HDR_SIZE) {
        int32_t blen = (int32_t)be32_load(buf + pos + BATCH_OFF_LENGTH);
        size_t total;
        if (blen < BATCH_MIN_LENGTH || (size_t)blen > len - pos - BATCH_LOG_OVERHEAD)
            return;
        total = (size_t)blen + BATCH_LOG_OVERHEAD;
        be32_store(buf + pos + BATCH_OFF_CRC,
                   crc32c(0, buf + pos + BATCH_OFF_ATTRIBUTES, total - BATCH_OFF_ATTRIBUTES));
        pos += total;
    }
}

/* Touches every byte a record view points at (ASan checks the bounds). */
static unsigned touch(const uint8_t *p, int32_t n)
{
    unsigned sum = 0;

    for (int32_t i = 0; p && i < n; i++)
        sum += p[i];
    return sum;
}

/* Walks the records of one batch; returns how many were decoded. */
static int32_t walk_records(const uint8_t *p, const struct batch_hdr *h)
{
    struct record_iter it;
    struct batch_record rec;
    int32_t n = 0;
    volatile unsigned sink = 0;

    if (record_iter_init(&it, p, h) != KERR_NONE)
        return -1; /* compressed */
    while (record_iter_next(&it, &rec) == KERR_NONE) {
        FUZZ_CHECK(rec.key_len >= -1 && rec.value_len >= -1);
        sink += touch(rec.key, rec.key_len);
        sink += touch(rec.value, rec.value_len);
        sink += touch(rec.headers, (int32_t)rec.headers_len);
        n++;
        FUZZ_CHECK(n <= h->records_count);
    }
    (void)sink;
    return n;
}

/* Iterates the batches; returns how many whole ones were found and sets
 * *end to where the last one ends. */
static int walk_batches(const uint8_t *buf, size_t len, bool accepted, size_t *end)
{
    struct batch_iter it;
    struct batch_hdr h;
    size_t at;
    int n = 0;

    *end = 0;
    batch_iter_init(&it, buf, len);
    while (batch_iter_next(&it, &h, &at) == KERR_NONE) {
        FUZZ_CHECK(at == *end && batch_size(&h) <= (int64_t)(len - at));
        if (accepted) {
            FUZZ_CHECK(h.magic == BATCH_MAGIC);
            FUZZ_CHECK(batch_crc_is_valid(buf + at, &h));
            FUZZ_CHECK(h.records_count > 0 && h.last_offset_delta == h.records_count - 1);
        }
        (void)batch_crc_is_valid(buf + at, &h);
        int32_t walked = walk_records(buf + at, &h);
        if (batch_is_intact(buf + at, &h) && batch_compression(&h) == 0)
            FUZZ_CHECK(walked == h.records_count);
        *end = at + (size_t)batch_size(&h);
        n++;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t mode, *buf;
    size_t len, end;
    int32_t max_bytes;
    int n_batches = -1, walked;
    kerr_t err;

    if (size < 1)
        return 0;
    mode = data[0];
    len = size - 1;
    buf = malloc(len ? len : 1);
    if (!buf)
        return 0;
    memcpy(buf, data + 1, len);
    if (mode & 1)
        fix_crcs(buf, len);
    max_bytes = (mode >> 1 & 7) ? 64 << ((mode >> 1 & 7) - 1) : 0;
    err = batch_validate_produce(buf, len, max_bytes, &n_batches);
    walked = walk_batches(buf, len, err == KERR_NONE, &end);
    if (err == KERR_NONE) {
        FUZZ_CHECK(n_batches >= 1 && walked == n_batches && end == len);
    } else {
        FUZZ_CHECK(err > 0); /* a Kafka error code for the response, never internal */
    }
    free(buf);
    return 0;
}
