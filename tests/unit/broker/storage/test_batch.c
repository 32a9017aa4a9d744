/*
 * tests/unit/broker/storage/test_batch.c — RecordBatch v2 parsing, Produce
 * validation (every error of docs/protocol.md §4.6 and their order), the
 * batch and record iterators.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "broker/storage/batch.h"
#include "common/crc32c.h"
#include "storage_test.h"

/* docs/protocol.md §4.5: two records, key "k" value "hello" header h=v at
 * ts 1700000000000, then null key value "world" at ts +5. */
static const char VECTOR[] =
    "0000000000000000 0000004e ffffffff 02 b1267df6 0000 00000001"
    "0000018bcfe56800 0000018bcfe56805 ffffffffffffffff ffff ffffffff 00000002"
    "20 00 00 00 02 6b 0a 68656c6c6f 02 02 68 02 76"
    "16 00 0a 02 01 0a 776f726c64 00";

/* COMMIT marker at offset 5, producer 1000 (§4.5). */
static const char MARKER[] =
    "0000000000000005 00000042 00000000 02 a1ac499f 0030 00000000"
    "0000018bcfe56800 0000018bcfe56800 00000000000003e8 0000 ffffffff 00000001"
    "20 00 00 00 08 00000001 0c 000000000000 00";

static struct kbuf b;

static void setup(void) { kbuf_init(&b); }
static void teardown(void) { kbuf_destroy(&b); }

TestSuite(batch, .init = setup, .fini = teardown, .timeout = 10);

static kerr_t validate(int *n) { return batch_validate_produce(b.data, b.len, 1000000, n); }

Test(batch, vector_parses_and_validates)
{
    struct batch_hdr h;
    int n = -1;

    st_hex(&b, VECTOR);
    cr_assert_eq(b.len, 90);
    cr_assert_eq(batch_parse_hdr(b.data, b.len, &h), KERR_NONE);
    cr_assert_eq(h.base_offset, 0);
    cr_assert_eq(h.batch_length, 0x4e);
    cr_assert_eq(batch_size(&h), 90);
    cr_assert_eq(h.leader_epoch, -1);
    cr_assert_eq(h.magic, 2);
    cr_assert_eq(h.crc, 0xb1267df6u);
    cr_assert_eq(h.attributes, 0);
    cr_assert_eq(h.last_offset_delta, 1);
    cr_assert_eq(h.base_ts, 1700000000000LL);
    cr_assert_eq(h.max_ts, 1700000000005LL);
    cr_assert_eq(h.producer_id, -1);
    cr_assert_eq(h.producer_epoch, -1);
    cr_assert_eq(h.base_seq, -1);
    cr_assert_eq(h.records_count, 2);
    cr_assert(batch_crc_is_valid(b.data, &h));
    cr_assert_eq(validate(&n), KERR_NONE);
    cr_assert_eq(n, 1);
}

Test(batch, two_batches_are_counted)
{
    int n = 0;

    st_hex(&b, VECTOR);
    st_hex(&b, VECTOR);
    cr_assert_eq(validate(&n), KERR_NONE);
    cr_assert_eq(n, 2);
}

Test(batch, built_batches_validate)
{
    int n = 0;

    st_simple(&b, 5, 10, 1000);
    st_simple(&b, 1, 0, 1000);
    cr_assert_eq(validate(&n), KERR_NONE);
    cr_assert_eq(n, 2);
}

Test(batch, empty_input_is_invalid_record)
{
    cr_assert_eq(batch_validate_produce((const uint8_t *)"", 0, 1000, NULL), KERR_INVALID_RECORD);
}

Test(batch, wrong_magic_is_invalid_record)
{
    st_hex(&b, VECTOR);
    b.data[BATCH_OFF_MAGIC] = 1;
    cr_assert_eq(validate(NULL), KERR_INVALID_RECORD);
}

Test(batch, wrong_magic_checked_before_crc)
{
    st_hex(&b, VECTOR);
    b.data[BATCH_OFF_MAGIC] = 0;
    b.data[70] ^= 0xff; /* CRC now wrong as well */
    cr_assert_eq(validate(NULL), KERR_INVALID_RECORD);
}

Test(batch, too_large_is_message_too_large)
{
    st_hex(&b, VECTOR);
    cr_assert_eq(batch_validate_produce(b.data, b.len, 89, NULL), KERR_MESSAGE_TOO_LARGE);
    cr_assert_eq(batch_validate_produce(b.data, b.len, 90, NULL), KERR_NONE);
}

Test(batch, size_checked_before_frame_and_crc)
{
    st_hex(&b, VECTOR);
    b.data[70] ^= 0xff;
    cr_assert_eq(batch_validate_produce(b.data, b.len, 50, NULL), KERR_MESSAGE_TOO_LARGE);
}

Test(batch, length_below_49_is_corrupt)
{
    st_hex(&b, VECTOR);
    be32_store(b.data + BATCH_OFF_LENGTH, 48);
    cr_assert_eq(validate(NULL), KERR_CORRUPT_MESSAGE);
    be32_store(b.data + BATCH_OFF_LENGTH, (uint32_t)-5);
    cr_assert_eq(validate(NULL), KERR_CORRUPT_MESSAGE);
}

Test(batch, length_past_end_is_corrupt)
{
    st_hex(&b, VECTOR);
    be32_store(b.data + BATCH_OFF_LENGTH, 0x4f);
    cr_assert_eq(validate(NULL), KERR_CORRUPT_MESSAGE);
}

Test(batch, truncated_input_is_corrupt)
{
    st_hex(&b, VECTOR);
    cr_assert_eq(batch_validate_produce(b.data, b.len - 1, 1000, NULL), KERR_CORRUPT_MESSAGE);
    cr_assert_eq(batch_validate_produce(b.data, 10, 1000, NULL), KERR_CORRUPT_MESSAGE);
}

Test(batch, trailing_partial_batch_is_corrupt)
{
    st_hex(&b, VECTOR);
    st_hex(&b, VECTOR);
    cr_assert_eq(batch_validate_produce(b.data, b.len - 30, 1000, NULL), KERR_CORRUPT_MESSAGE);
}

Test(batch, bad_crc_is_corrupt)
{
    st_hex(&b, VECTOR);
    b.data[80] ^= 0x01;
    cr_assert_eq(validate(NULL), KERR_CORRUPT_MESSAGE);
}

Test(batch, bad_crc_checked_before_record_checks)
{
    st_hex(&b, VECTOR);
    be32_store(b.data + BATCH_OFF_RECORDS_COUNT, 0); /* covered by the CRC, not fixed */
    cr_assert_eq(validate(NULL), KERR_CORRUPT_MESSAGE);
}

Test(batch, crc_does_not_cover_offset_and_epoch)
{
    struct batch_hdr h;

    st_hex(&b, VECTOR);
    batch_set_offset_epoch(b.data, 123456789012LL, 42);
    cr_assert_eq(batch_parse_hdr(b.data, b.len, &h), KERR_NONE);
    cr_assert_eq(h.base_offset, 123456789012LL);
    cr_assert_eq(h.leader_epoch, 42);
    cr_assert(batch_crc_is_valid(b.data, &h));
}

Test(batch, nonzero_base_offset_is_invalid_record)
{
    st_hex(&b, VECTOR);
    be64_store(b.data, 7);
    cr_assert_eq(validate(NULL), KERR_INVALID_RECORD);
}

Test(batch, zero_count_is_invalid_record)
{
    st_hex(&b, VECTOR);
    be32_store(b.data + BATCH_OFF_RECORDS_COUNT, 0);
    be32_store(b.data + BATCH_OFF_LAST_OFFSET_DELTA, (uint32_t)-1);
    st_fix_crc(b.data);
    cr_assert_eq(validate(NULL), KERR_INVALID_RECORD);
}

Test(batch, negative_count_is_invalid_record)
{
    st_hex(&b, VECTOR);
    be32_store(b.data + BATCH_OFF_RECORDS_COUNT, (uint32_t)-3);
    be32_store(b.data + BATCH_OFF_LAST_OFFSET_DELTA, (uint32_t)-4);
    st_fix_crc(b.data);
    cr_assert_eq(validate(NULL), KERR_INVALID_RECORD);
}

Test(batch, last_offset_delta_mismatch_is_invalid_record)
{
    st_hex(&b, VECTOR);
    be32_store(b.data + BATCH_OFF_LAST_OFFSET_DELTA, 2);
    st_fix_crc(b.data);
    cr_assert_eq(validate(NULL), KERR_INVALID_RECORD);
}

Test(batch, control_bit_is_invalid_record)
{
    st_hex(&b, VECTOR);
    be16_store(b.data + BATCH_OFF_ATTRIBUTES, BATCH_ATTR_CONTROL);
    st_fix_crc(b.data);
    cr_assert_eq(validate(NULL), KERR_INVALID_RECORD);
}

Test(batch, commit_marker_parses_but_is_refused_from_clients)
{
    struct batch_hdr h;

    st_hex(&b, MARKER);
    cr_assert_eq(batch_parse_hdr(b.data, b.len, &h), KERR_NONE);
    cr_assert(batch_crc_is_valid(b.data, &h));
    cr_assert(batch_is_control(&h));
    cr_assert(batch_is_transactional(&h));
    cr_assert_eq(h.base_offset, 5);
    cr_assert_eq(h.producer_id, 1000);
    /* base offset 5 is refused first; with base 0 the control bit is. */
    cr_assert_eq(validate(NULL), KERR_INVALID_RECORD);
    be64_store(b.data, 0);
    cr_assert_eq(validate(NULL), KERR_INVALID_RECORD);
}

Test(batch, producer_id_without_sequence_is_invalid_record)
{
    struct st_batch_opts o = {
        .nrec = 2, .ts0 = 10, .ts_step = 1, .value_len = 3, .producer_id = 1000, .base_seq = -1};

    st_batch(&b, &o);
    cr_assert_eq(validate(NULL), KERR_INVALID_RECORD);
    kbuf_reset(&b);
    o.base_seq = 0;
    st_batch(&b, &o);
    cr_assert_eq(validate(NULL), KERR_NONE);
}

Test(batch, invalid_codecs_are_unsupported_compression)
{
    for (int codec = 0; codec <= 7; codec++) {
        kbuf_reset(&b);
        st_hex(&b, VECTOR);
        be16_store(b.data + BATCH_OFF_ATTRIBUTES, (uint16_t)codec);
        st_fix_crc(b.data);
        cr_assert_eq(validate(NULL), codec <= 4 ? KERR_NONE : KERR_UNSUPPORTED_COMPRESSION_TYPE,
                     "codec %d", codec);
    }
}

Test(batch, second_batch_error_is_reported)
{
    size_t second;

    st_hex(&b, VECTOR);
    second = b.len;
    st_hex(&b, VECTOR);
    b.data[second + 85] ^= 0x10;
    cr_assert_eq(validate(NULL), KERR_CORRUPT_MESSAGE);
}

Test(batch, parse_header_needs_61_bytes)
{
    struct batch_hdr h;

    st_hex(&b, VECTOR);
    cr_assert_eq(batch_parse_hdr(b.data, 60, &h), KERR__AGAIN);
    cr_assert_eq(batch_parse_hdr(b.data, 61, &h), KERR_NONE);
    b.data[BATCH_OFF_MAGIC] = 1;
    cr_assert_eq(batch_parse_hdr(b.data, 61, &h), KERR__CORRUPT);
}

Test(batch, iterator_walks_batches_and_stops_at_partial)
{
    struct batch_iter it;
    struct batch_hdr h;
    size_t at;

    st_hex(&b, VECTOR);
    st_simple(&b, 3, 5, 100);
    batch_iter_init(&it, b.data, b.len);
    cr_assert_eq(batch_iter_next(&it, &h, &at), KERR_NONE);
    cr_assert_eq(at, 0);
    cr_assert_eq(h.records_count, 2);
    cr_assert_eq(batch_iter_next(&it, &h, &at), KERR_NONE);
    cr_assert_eq(at, 90);
    cr_assert_eq(h.records_count, 3);
    cr_assert_eq(batch_iter_next(&it, &h, &at), KERR__NOENT);

    batch_iter_init(&it, b.data, b.len - 1);
    cr_assert_eq(batch_iter_next(&it, &h, &at), KERR_NONE);
    cr_assert_eq(batch_iter_next(&it, &h, &at), KERR__AGAIN);
}

Test(batch, record_iterator_decodes_vector)
{
    struct batch_hdr h;
    struct record_iter it;
    struct batch_record r;

    st_hex(&b, VECTOR);
    batch_set_offset_epoch(b.data, 100, 3);
    cr_assert_eq(batch_parse_hdr(b.data, b.len, &h), KERR_NONE);
    cr_assert_eq(record_iter_init(&it, b.data, &h), KERR_NONE);

    cr_assert_eq(record_iter_next(&it, &r), KERR_NONE);
    cr_assert_eq(r.offset, 100);
    cr_assert_eq(r.ts, 1700000000000LL);
    cr_assert_eq(r.key_len, 1);
    cr_assert_eq(memcmp(r.key, "k", 1), 0);
    cr_assert_eq(r.value_len, 5);
    cr_assert_eq(memcmp(r.value, "hello", 5), 0);
    cr_assert_eq(r.headers_count, 1);
    cr_assert_eq(r.headers_len, 4);

    cr_assert_eq(record_iter_next(&it, &r), KERR_NONE);
    cr_assert_eq(r.offset, 101);
    cr_assert_eq(r.ts, 1700000000005LL);
    cr_assert_null(r.key);
    cr_assert_eq(r.key_len, -1);
    cr_assert_eq(memcmp(r.value, "world", 5), 0);
    cr_assert_eq(r.headers_count, 0);

    cr_assert_eq(record_iter_next(&it, &r), KERR__NOENT);
}

Test(batch, record_iterator_log_append_time_uses_max_ts)
{
    struct batch_hdr h;
    struct record_iter it;
    struct batch_record r;

    st_hex(&b, VECTOR);
    be16_store(b.data + BATCH_OFF_ATTRIBUTES, BATCH_ATTR_LOG_APPEND_TIME);
    st_fix_crc(b.data);
    cr_assert_eq(batch_parse_hdr(b.data, b.len, &h), KERR_NONE);
    cr_assert_eq(record_iter_init(&it, b.data, &h), KERR_NONE);
    cr_assert_eq(record_iter_next(&it, &r), KERR_NONE);
    cr_assert_eq(r.ts, 1700000000005LL);
}

Test(batch, record_iterator_refuses_compressed_and_detects_garbage)
{
    struct batch_hdr h;
    struct record_iter it;
    struct batch_record r;

    st_hex(&b, VECTOR);
    be16_store(b.data + BATCH_OFF_ATTRIBUTES, 1);
    cr_assert_eq(batch_parse_hdr(b.data, b.len, &h), KERR_NONE);
    cr_assert_eq(record_iter_init(&it, b.data, &h), KERR__INVALID);

    kbuf_reset(&b);
    st_hex(&b, VECTOR);
    b.data[61] = 0x7e; /* first record claims 63 bytes; only 28 remain */
    cr_assert_eq(batch_parse_hdr(b.data, b.len, &h), KERR_NONE);
    cr_assert_eq(record_iter_init(&it, b.data, &h), KERR_NONE);
    cr_assert_eq(record_iter_next(&it, &r), KERR__CORRUPT);
}
