/*
 * tests/unit/broker/txn/test_txn_log_format.c — the `__transaction_state` key and values
 * (broker/txn/txn_log_format.c) against byte vectors written out by hand from Kafka's
 * TransactionLogKey / TransactionLogValue schemas (v0 classic, v1 flexible with tagged
 * fields), round trips, and rejection of truncated, trailing and malformed input.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "broker/txn/txn_log_format.h"

static void assert_bytes(const struct kbuf *b, const uint8_t *want, size_t n)
{
    cr_assert_not(b->oom);
    cr_assert_eq(b->len, n, "encoded %zu bytes, want %zu", b->len, n);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(b->data[i], want[i], "byte %zu: 0x%02x, want 0x%02x", i, b->data[i], want[i]);
}

static const uint8_t KEY_V0[] = {0x00, 0x00, 0x00, 0x03, 't', 'x', '1'};

/* v0: pid 1000, epoch 5, timeout 60000, Ongoing, [("ab", [0, 2]), ("c", [])], 7, 3 */
static const uint8_t VALUE_V0[] = {
    0x00, 0x00,                                     /* version 0 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xe8, /* producer id 1000 */
    0x00, 0x05,                                     /* epoch 5 */
    0x00, 0x00, 0xea, 0x60,                         /* timeout 60000 */
    0x01,                                           /* Ongoing */
    0x00, 0x00, 0x00, 0x02,                         /* 2 topics */
    0x00, 0x02, 'a',  'b',                          /* "ab" */
    0x00, 0x00, 0x00, 0x02,                         /* 2 partitions */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, /* 0, 2 */
    0x00, 0x01, 'c',                                /* "c" */
    0x00, 0x00, 0x00, 0x00,                         /* no partitions */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, /* last update 7 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, /* start 3 */
};

/* v1: pid 1, epoch 0, timeout 10, CompleteCommit, [("t", [4])], 9, -1,
 * tags: previous producer id 0x0102 (tag 0), client transaction version 2 (tag 2) */
static const uint8_t VALUE_V1[] = {
    0x00, 0x01,                                                 /* version 1 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,             /* producer id 1 */
    0x00, 0x00,                                                 /* epoch 0 */
    0x00, 0x00, 0x00, 0x0a,                                     /* timeout 10 */
    0x04,                                                       /* CompleteCommit */
    0x02,                                                       /* compact: 1 topic */
    0x02, 't',                                                  /* compact "t" */
    0x02, 0x00, 0x00, 0x00, 0x04,                               /* [4] */
    0x00,                                                       /* topic tags */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09,             /* last update 9 */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,             /* start -1 */
    0x02,                                                       /* 2 tags */
    0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, /* tag 0 */
    0x02, 0x02, 0x00, 0x02,                                     /* tag 2 */
};

Test(txn_log_format, key_v0_bytes_and_decode)
{
    struct kbuf b;
    kbuf_init(&b);
    txn_log_key_put(&b, "tx1", 3);
    assert_bytes(&b, KEY_V0, sizeof(KEY_V0));
    struct kstr id;
    cr_assert_eq(txn_log_key_decode(KEY_V0, sizeof(KEY_V0), &id), KERR_NONE);
    cr_assert(kstr_eq(id, "tx1"));
    kbuf_destroy(&b);
}

Test(txn_log_format, key_rejects_bad_input)
{
    struct kstr id;
    for (size_t n = 0; n < sizeof(KEY_V0); n++)
        cr_assert_eq(txn_log_key_decode(KEY_V0, n, &id), KERR__CORRUPT, "prefix %zu", n);
    uint8_t trailing[sizeof(KEY_V0) + 1];
    memcpy(trailing, KEY_V0, sizeof(KEY_V0));
    trailing[sizeof(KEY_V0)] = 0;
    cr_assert_eq(txn_log_key_decode(trailing, sizeof(trailing), &id), KERR__CORRUPT);
    const uint8_t v1[] = {0x00, 0x01, 0x00, 0x01, 'x'};
    cr_assert_eq(txn_log_key_decode(v1, sizeof(v1), &id), KERR__CORRUPT);
    const uint8_t null_id[] = {0x00, 0x00, 0xff, 0xff};
    cr_assert_eq(txn_log_key_decode(null_id, sizeof(null_id), &id), KERR__CORRUPT);
}

Test(txn_log_format, value_v0_bytes_and_decode)
{
    int32_t p1[] = {0, 2};
    struct txn_log_topic topics[] = {{{"ab", 2}, p1, 2}, {{"c", 1}, NULL, 0}};
    struct txn_log_value v = {.version = 0,
                              .producer_id = 1000,
                              .producer_epoch = 5,
                              .timeout_ms = 60000,
                              .status = TXN_ONGOING,
                              .topics = topics,
                              .topic_count = 2,
                              .last_update_ms = 7,
                              .start_ms = 3,
                              .prev_producer_id = 55, /* v0 has no tags: not written */
                              .next_producer_id = -1};
    struct kbuf b;
    kbuf_init(&b);
    cr_assert_eq(txn_log_value_put(&b, &v), KERR_NONE);
    assert_bytes(&b, VALUE_V0, sizeof(VALUE_V0));
    kbuf_destroy(&b);

    struct txn_log_value d;
    cr_assert_eq(txn_log_value_decode(VALUE_V0, sizeof(VALUE_V0), &d), KERR_NONE);
    cr_assert_eq(d.version, 0);
    cr_assert_eq(d.producer_id, 1000);
    cr_assert_eq(d.producer_epoch, 5);
    cr_assert_eq(d.timeout_ms, 60000);
    cr_assert_eq(d.status, TXN_ONGOING);
    cr_assert_eq(d.topic_count, 2);
    cr_assert(kstr_eq(d.topics[0].topic, "ab"));
    cr_assert_eq(d.topics[0].count, 2);
    cr_assert_eq(d.topics[0].partitions[1], 2);
    cr_assert(kstr_eq(d.topics[1].topic, "c"));
    cr_assert_eq(d.topics[1].count, 0);
    cr_assert_eq(d.last_update_ms, 7);
    cr_assert_eq(d.start_ms, 3);
    cr_assert_eq(d.prev_producer_id, -1);
    cr_assert_eq(d.next_producer_id, -1);
    cr_assert_eq(d.client_txn_version, 0);
    txn_log_value_destroy(&d);
}

Test(txn_log_format, value_v1_bytes_and_decode)
{
    int32_t p[] = {4};
    struct txn_log_topic topics[] = {{{"t", 1}, p, 1}};
    struct txn_log_value v = {.version = 1,
                              .producer_id = 1,
                              .producer_epoch = 0,
                              .timeout_ms = 10,
                              .status = TXN_COMPLETE_COMMIT,
                              .topics = topics,
                              .topic_count = 1,
                              .last_update_ms = 9,
                              .start_ms = -1,
                              .prev_producer_id = 0x0102,
                              .next_producer_id = -1,
                              .client_txn_version = 2};
    struct kbuf b;
    kbuf_init(&b);
    cr_assert_eq(txn_log_value_put(&b, &v), KERR_NONE);
    assert_bytes(&b, VALUE_V1, sizeof(VALUE_V1));
    kbuf_destroy(&b);

    struct txn_log_value d;
    cr_assert_eq(txn_log_value_decode(VALUE_V1, sizeof(VALUE_V1), &d), KERR_NONE);
    cr_assert_eq(d.version, 1);
    cr_assert_eq(d.status, TXN_COMPLETE_COMMIT);
    cr_assert_eq(d.topic_count, 1);
    cr_assert(kstr_eq(d.topics[0].topic, "t"));
    cr_assert_eq(d.topics[0].partitions[0], 4);
    cr_assert_eq(d.start_ms, -1);
    cr_assert_eq(d.prev_producer_id, 0x0102);
    cr_assert_eq(d.next_producer_id, -1);
    cr_assert_eq(d.client_txn_version, 2);
    txn_log_value_destroy(&d);
}

Test(txn_log_format, value_v1_unknown_tag_skipped_null_partitions)
{
    const uint8_t v[] = {
        0x00, 0x01, 0,    0,    0,    0,    0, 0, 0, 7, 0x00, 0x01, 0, 0, 0, 1, 0x00, /* Empty */
        0x00,                                                                   /* null array */
        0,    0,    0,    0,    0,    0,    0, 1, 0, 0, 0,    0,    0, 0, 0, 2, /* timestamps */
        0x01, 0x09, 0x03, 0xaa, 0xbb, 0xcc,                                     /* tag 9, 3 bytes */
    };
    struct txn_log_value d;
    cr_assert_eq(txn_log_value_decode(v, sizeof(v), &d), KERR_NONE);
    cr_assert_eq(d.producer_id, 7);
    cr_assert_eq(d.topic_count, 0);
    cr_assert_eq(d.status, TXN_EMPTY);
    txn_log_value_destroy(&d);
}

static void expect_corrupt(const uint8_t *p, size_t n, const char *what)
{
    struct txn_log_value d;
    cr_assert_eq(txn_log_value_decode(p, n, &d), KERR__CORRUPT, "%s", what);
    txn_log_value_destroy(&d);
}

Test(txn_log_format, value_rejects_bad_input)
{
    for (size_t n = 0; n < sizeof(VALUE_V0); n++)
        expect_corrupt(VALUE_V0, n, "v0 prefix");
    for (size_t n = 0; n < sizeof(VALUE_V1); n++)
        expect_corrupt(VALUE_V1, n, "v1 prefix");
    uint8_t buf[sizeof(VALUE_V0) + 1];
    memcpy(buf, VALUE_V0, sizeof(VALUE_V0));
    buf[sizeof(VALUE_V0)] = 0;
    expect_corrupt(buf, sizeof(buf), "trailing byte");
    memcpy(buf, VALUE_V0, sizeof(VALUE_V0));
    buf[1] = 2;
    expect_corrupt(buf, sizeof(VALUE_V0), "version 2");
    memcpy(buf, VALUE_V0, sizeof(VALUE_V0));
    buf[16] = 8;
    expect_corrupt(buf, sizeof(VALUE_V0), "status 8");
    buf[16] = 0xff;
    expect_corrupt(buf, sizeof(VALUE_V0), "status -1");
    memcpy(buf, VALUE_V0, sizeof(VALUE_V0));
    buf[17] = 0x7f; /* topic count 0x7f000002 */
    expect_corrupt(buf, sizeof(VALUE_V0), "huge topic count");
    memcpy(buf, VALUE_V0, sizeof(VALUE_V0));
    buf[21] = 0xff;
    buf[22] = 0xfe; /* topic length -2 */
    expect_corrupt(buf, sizeof(VALUE_V0), "negative topic length");
    memcpy(buf, VALUE_V0, sizeof(VALUE_V0));
    buf[22] = 0xff;
    buf[21] = 0xff; /* topic length -1: null */
    expect_corrupt(buf, sizeof(VALUE_V0), "null topic");
    memcpy(buf, VALUE_V0, sizeof(VALUE_V0));
    buf[25] = 0xff; /* partition count negative */
    expect_corrupt(buf, sizeof(VALUE_V0), "negative partition count");

    uint8_t b1[sizeof(VALUE_V1)];
    memcpy(b1, VALUE_V1, sizeof(VALUE_V1));
    b1[18] = 0x00; /* null topic name */
    expect_corrupt(b1, sizeof(b1), "v1 null topic");
    memcpy(b1, VALUE_V1, sizeof(VALUE_V1));
    b1[44] = 0x07; /* tag 0 with 7 bytes */
    expect_corrupt(b1, sizeof(b1), "v1 tag 0 of the wrong size");
    memcpy(b1, VALUE_V1, sizeof(VALUE_V1));
    b1[42] = 0x05; /* 5 tags, only 2 present */
    expect_corrupt(b1, sizeof(b1), "v1 missing tags");
}

Test(txn_log_format, value_put_refuses_bad_fields)
{
    struct kbuf b;
    kbuf_init(&b);
    struct txn_log_value v = {.version = 2, .prev_producer_id = -1, .next_producer_id = -1};
    cr_assert_eq(txn_log_value_put(&b, &v), KERR__INVALID);
    v.version = 0;
    v.status = 8;
    cr_assert_eq(txn_log_value_put(&b, &v), KERR__INVALID);
    static char long_name[32768];
    memset(long_name, 'x', sizeof(long_name));
    struct txn_log_topic big = {{long_name, 32768}, NULL, 0};
    v.status = TXN_ONGOING;
    v.topics = &big;
    v.topic_count = 1;
    for (int16_t ver = 0; ver <= 1; ver++) {
        v.version = ver;
        kbuf_reset(&b);
        cr_assert_eq(txn_log_value_put(&b, &v), KERR__INVALID, "a STRING over 32767 bytes, v%d",
                     ver);
    }
    big.topic.len = 32767;
    v.version = 1;
    kbuf_reset(&b);
    cr_assert_eq(txn_log_value_put(&b, &v), KERR_NONE);
    struct txn_log_value d;
    cr_assert_eq(txn_log_value_decode(b.data, b.len, &d), KERR_NONE);
    cr_assert_eq(d.topics[0].topic.len, 32767);
    txn_log_value_destroy(&d);
    /* the same value with a 32768-byte compact name: its length varint says 32769 */
    kbuf_reset(&b);
    struct kbuf big_v1;
    kbuf_init(&big_v1);
    kbuf_put_i16(&big_v1, 1);
    kbuf_put_i64(&big_v1, 1);
    kbuf_put_i16(&big_v1, 0);
    kbuf_put_i32(&big_v1, 1);
    kbuf_put_u8(&big_v1, TXN_ONGOING);
    kbuf_put_uvarint(&big_v1, 2);
    kbuf_put_uvarint(&big_v1, 32769);
    kbuf_put(&big_v1, long_name, 32768);
    kbuf_put_uvarint(&big_v1, 1);
    kbuf_put_u8(&big_v1, 0);
    kbuf_put_i64(&big_v1, 0);
    kbuf_put_i64(&big_v1, 0);
    kbuf_put_u8(&big_v1, 0);
    cr_assert_eq(txn_log_value_decode(big_v1.data, big_v1.len, &d), KERR__CORRUPT);
    txn_log_value_destroy(&d);
    kbuf_destroy(&big_v1);
    kbuf_destroy(&b);
    cr_assert_str_eq(txn_status_name(TXN_PREPARE_EPOCH_FENCE), "PrepareEpochFence");
    cr_assert_str_eq(txn_status_name(9), "Unknown");
}

Test(txn_log_format, round_trip_every_status_and_version)
{
    int32_t p[] = {1, 2, 3};
    struct txn_log_topic topics[] = {{{"x", 1}, p, 3}, {{"yy", 2}, p, 1}};
    for (int16_t ver = 0; ver <= 1; ver++)
        for (int st = 0; st < TXN_STATUS_COUNT; st++) {
            struct txn_log_value v = {.version = ver,
                                      .producer_id = 123456789012LL,
                                      .producer_epoch = 32000,
                                      .timeout_ms = 900000,
                                      .status = (int8_t)st,
                                      .topics = topics,
                                      .topic_count = 2,
                                      .last_update_ms = 1700000000000LL,
                                      .start_ms = 1699999999999LL,
                                      .prev_producer_id = ver ? 42 : -1,
                                      .next_producer_id = ver ? 43 : -1,
                                      .client_txn_version = 0};
            struct kbuf b;
            kbuf_init(&b);
            cr_assert_eq(txn_log_value_put(&b, &v), KERR_NONE);
            struct txn_log_value d;
            cr_assert_eq(txn_log_value_decode(b.data, b.len, &d), KERR_NONE);
            cr_assert_eq(d.status, st);
            cr_assert_eq(d.producer_id, v.producer_id);
            cr_assert_eq(d.producer_epoch, 32000);
            cr_assert_eq(d.topic_count, 2);
            cr_assert_eq(d.topics[0].count, 3);
            cr_assert_eq(d.topics[0].partitions[2], 3);
            cr_assert(kstr_eq(d.topics[1].topic, "yy"));
            cr_assert_eq(d.prev_producer_id, v.prev_producer_id);
            cr_assert_eq(d.next_producer_id, v.next_producer_id);
            txn_log_value_destroy(&d);
            kbuf_destroy(&b);
        }
}
