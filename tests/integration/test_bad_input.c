/*
 * tests/integration/test_bad_input.c — malformed input over raw TCP never
 * crashes, hangs or corrupts the broker (docs/architecture.md §9,
 * docs/protocol.md §1.1, §2.2, §4.6).
 *
 * The broker runs with socket.request.max.bytes=200000 and
 * message.max.bytes=20000. Each test starts from a topic holding one valid
 * batch of two records (log end offset 2), sends one kind of bad input,
 * checks the answer (error code or closed connection), then checks that a
 * new connection still gets an ApiVersions answer and that the log end
 * offset is still 2.
 */
#include "tests/harness/broker_proc.h"
#include "tests/harness/kreq.h"
#include "tests/integration/itest.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REQUEST_MAX 200000
#define MESSAGE_MAX 20000

static const char *const overrides[] = {
    "socket.request.max.bytes=200000",
    "message.max.bytes=20000",
    NULL,
};

static char g_topic[64];
static int g_port;
static int64_t g_leo;

static struct kbytes valid_batch(void)
{
    struct kbytes b;
    kbytes_init(&b);
    struct krecord recs[2] = {
        {.key = "k", .key_len = -1, .value = "hello", .value_len = -1, .hkey = "h", .hvalue = "v"},
        {.key = NULL, .value = "world", .value_len = -1, .ts_delta = 5},
    };
    kbatch_append(&b, 1700000000000LL, recs, 2);
    return b;
}

/* Sends Produce v3 (acks=1) with records on a new connection; returns the
 * partition error, failing the test if no well-formed answer arrives. */
static int16_t produce(const void *records, int32_t n, int64_t *base_offset)
{
    int fd = kreq_connect(g_port);
    cr_assert_geq(fd, 0);
    struct kbytes req;
    kbytes_init(&req);
    kreq_produce_v3(&req, 77, 1, 10000, g_topic, 0, records, n);
    uint8_t *frame = NULL;
    size_t len = 0;
    int rc = kreq_roundtrip(fd, &req, 77, &frame, &len, 15000);
    cr_assert_eq(rc, 0, "no Produce response (rc %d: 1 = connection closed, -1 = timeout)", rc);
    struct kproduce_result res;
    cr_assert_eq(kresp_produce_v3(frame, len, &res), 0, "malformed Produce v3 response");
    cr_assert_str_eq(res.topic, g_topic);
    cr_assert_eq(res.partition, 0);
    if (base_offset)
        *base_offset = res.base_offset;
    free(frame);
    kbytes_free(&req);
    close(fd);
    return res.error;
}

static void up(void)
{
    cr_assert(tcluster_fixture_up(1, overrides), "cluster did not start");
    g_port = broker_proc_port(tcluster_fixture()->broker[0]);
    itest_topic("bad", g_topic, sizeof(g_topic));
    cr_assert_eq(itest_create_topic(tcluster_fixture()->bootstrap, g_topic, 1, 30), 0);
    struct kbytes b = valid_batch();
    int64_t base = -1;
    int16_t err = produce(b.p, (int32_t)b.len, &base);
    cr_assert_eq(err, 0, "valid batch refused with error %d", err);
    cr_assert_eq(base, 0, "first batch got base offset %lld", (long long)base);
    kbytes_free(&b);
    int16_t lerr = 0;
    g_leo = itest_list_offset(g_port, g_topic, 0, -1, &lerr);
    cr_assert_eq(g_leo, 2, "log end offset %lld (ListOffsets error %d), expected 2",
                 (long long)g_leo, lerr);
}

TestSuite(bad_input, .init = up, .fini = itest_fixture_down, .timeout = 120);

/* The broker is alive, answers ApiVersions on a new connection, and the
 * log end offset did not move. */
static void assert_healthy(void)
{
    cr_assert(broker_proc_alive(tcluster_fixture()->broker[0]), "broker process died");
    cr_assert(itest_api_versions_ok(g_port), "ApiVersions on a new connection failed");
    int16_t err = 0;
    int64_t leo = itest_list_offset(g_port, g_topic, 0, -1, &err);
    cr_assert_eq(leo, g_leo, "log end offset moved: %lld (error %d), expected %lld", (long long)leo,
                 err, (long long)g_leo);
}

static int connect_or_fail(void)
{
    int fd = kreq_connect(g_port);
    cr_assert_geq(fd, 0, "connect failed");
    return fd;
}

static void send_expect_close(const void *p, size_t n, const char *what)
{
    int fd = connect_or_fail();
    kreq_send(fd, p, n); /* may fail if the broker already closed: fine */
    cr_assert(kreq_wait_closed(fd, 5000), "%s: connection not closed within 5 s", what);
    close(fd);
    assert_healthy();
}

Test(bad_input, truncated_frame_then_close)
{
    struct kbytes b;
    kbytes_init(&b);
    kreq_api_versions(&b, 0, 1);
    kbytes_patch_i32(&b, 0, 100); /* claims 100 bytes, sends fewer */
    int fd = connect_or_fail();
    cr_assert_eq(kreq_send(fd, b.p, b.len), 0);
    close(fd);
    usleep(200 * 1000);
    kbytes_free(&b);
    assert_healthy();
}

Test(bad_input, truncated_frame_then_silence_keeps_others_served)
{
    int fd = connect_or_fail();
    const uint8_t partial[] = {0, 0, 0, 50, 0, 18, 0};
    cr_assert_eq(kreq_send(fd, partial, sizeof(partial)), 0);
    assert_healthy(); /* a stalled client must not block other connections */
    close(fd);
}

Test(bad_input, negative_size_prefix_closes)
{
    const uint8_t b[] = {0xff, 0xff, 0xff, 0xf0, 0, 18, 0, 0, 0, 0, 0, 1, 0, 0};
    send_expect_close(b, sizeof(b), "negative size");
}

Test(bad_input, huge_size_prefix_closes)
{
    const uint8_t b[] = {0x7f, 0xff, 0xff, 0xff, 0, 18, 0, 0, 0, 0, 0, 1, 0, 0};
    send_expect_close(b, sizeof(b), "size 2^31-1");
}

Test(bad_input, size_over_socket_request_max_bytes_closes)
{
    /* Header of a Metadata request claiming REQUEST_MAX + 1 bytes; the
     * broker must refuse from the size alone, without waiting for them. */
    struct kbytes b;
    kbytes_init(&b);
    kreq_metadata_v1(&b, 3, NULL, -1);
    kbytes_patch_i32(&b, 0, REQUEST_MAX + 1);
    send_expect_close(b.p, b.len, "size over socket.request.max.bytes");
    kbytes_free(&b);
}

Test(bad_input, request_just_under_limit_is_read)
{
    /* A ~150 kB Produce (under socket.request.max.bytes, over
     * message.max.bytes) is read and answered, not dropped. */
    struct kbytes b;
    kbytes_init(&b);
    char *big = malloc(150000);
    memset(big, 'x', 150000);
    struct krecord r = {.key = NULL, .value = big, .value_len = 150000};
    kbatch_append(&b, 1700000000000LL, &r, 1);
    int16_t err = produce(b.p, (int32_t)b.len, NULL);
    cr_assert_eq(err, 10, "error %d, expected MESSAGE_TOO_LARGE (10)", err);
    free(big);
    kbytes_free(&b);
    assert_healthy();
}

Test(bad_input, unknown_api_key_closes)
{
    struct kbytes b;
    kbytes_init(&b);
    kreq_begin(&b, 9999, 0, 5, "gregor-test", false);
    kbytes_i32(&b, 0);
    kreq_end(&b);
    send_expect_close(b.p, b.len, "api key 9999");
    kbytes_free(&b);
}

Test(bad_input, negative_api_key_closes)
{
    struct kbytes b;
    kbytes_init(&b);
    kreq_begin(&b, -1, 0, 5, "gregor-test", false);
    kreq_end(&b);
    send_expect_close(b.p, b.len, "api key -1");
    kbytes_free(&b);
}

Test(bad_input, api_versions_v99_gets_v0_error_35)
{
    int fd = connect_or_fail();
    struct kbytes b;
    kbytes_init(&b);
    kreq_api_versions(&b, 99, 9);
    uint8_t *frame = NULL;
    size_t len = 0;
    cr_assert_eq(kreq_roundtrip(fd, &b, 9, &frame, &len, 5000), 0, "no answer to ApiVersions v99");
    struct kapi_versions *av = malloc(sizeof(*av));
    cr_assert_eq(kresp_api_versions(frame, len, 0, av), 0, "answer is not a v0 body");
    cr_assert_eq(av->error, 35);
    free(av);
    free(frame);
    kbytes_free(&b);
    close(fd);
    assert_healthy();
}

Test(bad_input, metadata_v99_closes)
{
    struct kbytes b;
    kbytes_init(&b);
    kreq_begin(&b, KREQ_METADATA, 99, 5, "gregor-test", true);
    kbytes_uvarint(&b, 1); /* empty compact array */
    kbytes_uvarint(&b, 0);
    kreq_end(&b);
    send_expect_close(b.p, b.len, "Metadata v99");
    kbytes_free(&b);
}

Test(bad_input, fetch_v3_below_min_closes)
{
    /* Fetch v3 (advertised range starts at 4): replica_id, max_wait_ms,
     * min_bytes, max_bytes, topics[name, partitions[index, offset, max]]. */
    struct kbytes b;
    kbytes_init(&b);
    kreq_begin(&b, KREQ_FETCH, 3, 5, "gregor-test", false);
    kbytes_i32(&b, -1);
    kbytes_i32(&b, 100);
    kbytes_i32(&b, 1);
    kbytes_i32(&b, 1 << 20);
    kbytes_i32(&b, 1);
    kbytes_str(&b, g_topic);
    kbytes_i32(&b, 1);
    kbytes_i32(&b, 0);
    kbytes_i64(&b, 0);
    kbytes_i32(&b, 1 << 20);
    kreq_end(&b);
    send_expect_close(b.p, b.len, "Fetch v3");
    kbytes_free(&b);
}

Test(bad_input, garbage_bytes_close)
{
    srand(12345);
    for (int round = 0; round < 20; round++) {
        uint8_t junk[512];
        for (size_t i = 0; i < sizeof(junk); i++)
            junk[i] = (uint8_t)rand();
        int fd = connect_or_fail();
        kreq_send(fd, junk, sizeof(junk));
        /* Either the broker closes, or it waits for the rest of a frame
         * the junk announced; both are fine as long as it survives. */
        kreq_wait_closed(fd, 200);
        close(fd);
        cr_assert(broker_proc_alive(tcluster_fixture()->broker[0]), "broker died (round %d)",
                  round);
    }
    assert_healthy();
}

/* A well-framed request of api/version whose body is random; after it an
 * ApiVersions request on the same connection. The broker must close the
 * connection or answer (possibly both requests): never hang, never crash. */
static void garbage_body(int16_t api, int16_t version, bool flex, unsigned seed)
{
    srand(seed);
    struct kbytes b;
    kbytes_init(&b);
    kreq_begin(&b, api, version, 1000, "gregor-test", flex);
    int n = rand() % 200;
    for (int i = 0; i < n; i++)
        kbytes_i8(&b, (int8_t)rand());
    kreq_end(&b);
    kreq_api_versions(&b, 0, 1001);
    int fd = connect_or_fail();
    kreq_send(fd, b.p, b.len);
    bool settled = false;
    for (int i = 0; i < 2 && !settled; i++) {
        uint8_t *frame = NULL;
        size_t len = 0;
        int rc = kreq_recv(fd, &frame, &len, 5000);
        cr_assert_neq(rc, -1, "api %d v%d seed %u: neither answer nor close within 5 s", api,
                      version, seed);
        if (rc == 1) {
            settled = true; /* closed */
        } else {
            struct kresp r;
            kresp_init(&r, frame, len);
            settled = kresp_i32(&r) == 1001;
        }
        free(frame);
    }
    close(fd);
    kbytes_free(&b);
    cr_assert(broker_proc_alive(tcluster_fixture()->broker[0]), "broker died: api %d v%d seed %u",
              api, version, seed);
}

Test(bad_input, garbage_bodies_never_hang_or_crash)
{
    for (unsigned seed = 1; seed <= 15; seed++) {
        garbage_body(KREQ_API_VERSIONS, 3, true, seed);
        garbage_body(KREQ_METADATA, 1, false, seed);
        garbage_body(KREQ_PRODUCE, 3, false, seed);
        garbage_body(KREQ_LIST_OFFSETS, 1, false, seed);
        garbage_body(KREQ_FETCH, 4, false, seed);
    }
    assert_healthy();
}

Test(bad_input, produce_bad_crc_is_corrupt_message)
{
    struct kbytes b = valid_batch();
    b.p[b.len - 1] ^= 0x55; /* last byte of the last record; CRC now wrong */
    int16_t err = produce(b.p, (int32_t)b.len, NULL);
    cr_assert_eq(err, 2, "error %d, expected CORRUPT_MESSAGE (2)", err);
    kbytes_free(&b);
    assert_healthy();
}

Test(bad_input, produce_wrong_magic_is_rejected)
{
    struct kbytes b = valid_batch();
    b.p[16] = 1; /* magic 1 in a v3 produce */
    int16_t err = produce(b.p, (int32_t)b.len, NULL);
    cr_assert(err == 87 || err == 2,
              "error %d, expected INVALID_RECORD (87) or CORRUPT_MESSAGE (2)", err);
    kbytes_free(&b);
    assert_healthy();
}

Test(bad_input, produce_batch_length_past_end_is_corrupt_message)
{
    struct kbytes b = valid_batch();
    int32_t bl = (int32_t)b.len - 12;
    kbytes_patch_i32(&b, 8, bl + 100);
    int16_t err = produce(b.p, (int32_t)b.len, NULL);
    cr_assert_eq(err, 2, "error %d, expected CORRUPT_MESSAGE (2)", err);
    kbytes_free(&b);
    assert_healthy();
}

Test(bad_input, produce_batch_length_below_header_is_corrupt_message)
{
    struct kbytes b = valid_batch();
    kbytes_patch_i32(&b, 8, 10);
    int16_t err = produce(b.p, (int32_t)b.len, NULL);
    cr_assert(err == 2 || err == 87, "error %d, expected CORRUPT_MESSAGE (2)", err);
    kbytes_free(&b);
    assert_healthy();
}

Test(bad_input, produce_record_count_mismatch_is_invalid_record)
{
    struct kbytes b = valid_batch();
    kbytes_patch_i32(&b, 23, 5); /* lastOffsetDelta 5 with 2 records */
    kbatch_fix_crc(&b, 0);
    int16_t err = produce(b.p, (int32_t)b.len, NULL);
    cr_assert(err == 87 || err == 2, "error %d, expected INVALID_RECORD (87)", err);
    kbytes_free(&b);
    assert_healthy();
}

Test(bad_input, produce_over_message_max_bytes_is_message_too_large)
{
    struct kbytes b;
    kbytes_init(&b);
    char *big = malloc(MESSAGE_MAX * 2);
    memset(big, 'y', MESSAGE_MAX * 2);
    struct krecord r = {.key = "big", .key_len = -1, .value = big, .value_len = MESSAGE_MAX * 2};
    kbatch_append(&b, 1700000000000LL, &r, 1);
    int16_t err = produce(b.p, (int32_t)b.len, NULL);
    cr_assert_eq(err, 10, "error %d, expected MESSAGE_TOO_LARGE (10)", err);
    free(big);
    kbytes_free(&b);
    assert_healthy();
}

Test(bad_input, produce_null_records_is_rejected)
{
    int16_t err = produce(NULL, -1, NULL);
    cr_assert(err == 87 || err == 2, "error %d, expected INVALID_RECORD (87)", err);
    assert_healthy();
}

Test(bad_input, valid_produce_after_bad_input_still_appends)
{
    struct kbytes bad = valid_batch();
    bad.p[30] ^= 1;
    cr_assert_eq(produce(bad.p, (int32_t)bad.len, NULL), 2);
    assert_healthy();
    struct kbytes good = valid_batch();
    int64_t base = -1;
    cr_assert_eq(produce(good.p, (int32_t)good.len, &base), 0);
    cr_assert_eq(base, g_leo, "base offset %lld, expected %lld", (long long)base, (long long)g_leo);
    g_leo += 2;
    assert_healthy();
    kbytes_free(&bad);
    kbytes_free(&good);
}
