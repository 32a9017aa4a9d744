/*
 * tests/unit/broker/storage/test_batch_build.c — batches written by
 * batch_build() are what a Kafka client would send: the header fields, a CRC
 * the validator accepts, and records (null keys and tombstones included)
 * that the record iterator reads back byte for byte.
 */
#include "broker/storage/batch.h"
#include "broker/storage/batch_build.h"
#include "broker/storage/record_validate.h"

#include <criterion/criterion.h>
#include <string.h>

Test(batch_build, records_read_back_through_the_iterator_and_validator)
{
    const struct batch_build_rec recs[] = {
        {(const uint8_t *)"k1", 2, (const uint8_t *)"value-one", 9},
        {NULL, 0, (const uint8_t *)"no key", 6},
        {(const uint8_t *)"k3", 2, NULL, 0}, /* tombstone */
    };
    struct kbuf b;
    kbuf_init(&b);
    cr_assert_eq(batch_build(&b, recs, 3, 1700000000123), KERR_NONE);
    struct batch_hdr h;
    cr_assert_eq(batch_parse_hdr(b.data, b.len, &h), KERR_NONE);
    cr_assert_eq(batch_size(&h), (int64_t)b.len, "one batch, nothing else");
    cr_assert_eq(h.magic, 2);
    cr_assert_eq(h.records_count, 3);
    cr_assert_eq(h.last_offset_delta, 2);
    cr_assert_eq(h.base_ts, 1700000000123);
    cr_assert_eq(h.max_ts, 1700000000123);
    cr_assert_eq(h.producer_id, -1);
    cr_assert_eq(h.attributes, 0);
    cr_assert(batch_crc_is_valid(b.data, &h));
    struct rv_opts o;
    rv_opts_stored(&o);
    cr_assert_eq(record_validate_batch(b.data, &h, &o, NULL), KERR_NONE);
    cr_assert_eq(batch_validate_produce(b.data, b.len, 1 << 20, NULL), KERR_NONE);

    struct record_iter it;
    cr_assert_eq(record_iter_init(&it, b.data, &h), KERR_NONE);
    struct batch_record r;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(record_iter_next(&it, &r), KERR_NONE);
        cr_assert_eq(r.offset, i);
        cr_assert_eq(r.ts, 1700000000123);
        cr_assert_eq(r.headers_count, 0);
        if (recs[i].key) {
            cr_assert_eq(r.key_len, (int32_t)recs[i].key_len);
            cr_assert_eq(memcmp(r.key, recs[i].key, recs[i].key_len), 0);
        } else {
            cr_assert_null(r.key);
        }
        if (recs[i].value) {
            cr_assert_eq(r.value_len, (int32_t)recs[i].value_len);
            cr_assert_eq(memcmp(r.value, recs[i].value, recs[i].value_len), 0);
        } else {
            cr_assert_null(r.value, "tombstone");
        }
    }
    cr_assert_eq(record_iter_next(&it, &r), KERR__NOENT);
    kbuf_destroy(&b);
}

Test(batch_build, appends_after_what_the_buffer_holds)
{
    const struct batch_build_rec one = {(const uint8_t *)"k", 1, (const uint8_t *)"v", 1};
    struct kbuf b;
    kbuf_init(&b);
    cr_assert_eq(batch_build(&b, &one, 1, 5), KERR_NONE);
    size_t first = b.len;
    cr_assert_eq(batch_build(&b, &one, 1, 6), KERR_NONE);
    cr_assert_eq(b.len, 2 * first);
    struct batch_iter it;
    batch_iter_init(&it, b.data, b.len);
    struct batch_hdr h;
    size_t at;
    int n = 0;
    while (batch_iter_next(&it, &h, &at) == KERR_NONE) {
        cr_assert(batch_crc_is_valid(b.data + at, &h));
        cr_assert_eq(h.base_ts, 5 + n);
        n++;
    }
    cr_assert_eq(n, 2);
    kbuf_destroy(&b);
}

Test(batch_build, refuses_an_empty_batch)
{
    struct kbuf b;
    kbuf_init(&b);
    cr_assert_eq(batch_build(&b, NULL, 0, 0), KERR__INVALID);
    kbuf_destroy(&b);
}
