/*
 * tests/integration/test_large_frames.c — large request frames, which the
 * broker reads straight from the socket into a frame buffer of their own
 * (broker/net/conn.c, docs/architecture.md §8), over raw TCP: a frame sent
 * in small pieces with pauses arrives intact (its records' CRC checks out),
 * one sent slower than gregor.request.read.timeout.ms allows is closed, a
 * large frame followed by small ones in the same send gets every answer in
 * order (also with more large frames waiting behind a parked request than
 * the broker holds read whole), a peer that closes or resets mid-frame (also while an earlier
 * request is parked) gives its request memory back, and a frame larger than
 * queued.max.request.bytes is read alone.
 *
 * The broker runs with gregor.request.read.timeout.ms=2000 and
 * queued.max.request.bytes=1048576. The request memory pool is not
 * exported, so its accounting is checked through its effect: a frame that
 * needs most of the pool is answered only if nothing is left reserved
 * (net_pool_reserve() lets a frame that does not fit in through only when
 * the pool is empty).
 */
#include "tests/harness/broker_proc.h"
#include "tests/harness/kreq.h"
#include "tests/integration/itest.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define POOL_BYTES (1 << 20)
#define READ_TIMEOUT_MS 2000
#define VALUE_BYTES (600 << 10) /* one record of a large Produce */

static const char *const overrides[] = {
    "gregor.request.read.timeout.ms=2000",
    "queued.max.request.bytes=1048576",
    NULL,
};

static char g_topic[64];
static int g_port;

static void up(void)
{
    cr_assert(tcluster_fixture_up(1, overrides), "cluster did not start");
    g_port = broker_proc_port(tcluster_fixture()->broker[0]);
    itest_topic("large", g_topic, sizeof(g_topic));
    cr_assert_eq(itest_create_topic(tcluster_fixture()->bootstrap, g_topic, 1, 30), 0);
}

TestSuite(large_frames, .init = up, .fini = itest_fixture_down, .timeout = 120);

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int connect_or_fail(void)
{
    int fd = kreq_connect(g_port);
    cr_assert_geq(fd, 0, "connect failed");
    return fd;
}

/* Appends a Produce v3 (acks=1) of one record of VALUE_BYTES bytes whose
 * value is a pattern seeded by seed, so a lost, repeated or reordered byte
 * fails the batch CRC. */
static void large_produce(struct kbytes *b, int32_t corr, unsigned seed)
{
    char *value = malloc(VALUE_BYTES);
    cr_assert(value);
    for (size_t i = 0; i < VALUE_BYTES; i++)
        value[i] = (char)((i * 131 + seed) ^ (i >> 9));
    struct kbytes batch;
    kbytes_init(&batch);
    struct krecord r = {.key = NULL, .value = value, .value_len = VALUE_BYTES};
    kbatch_append(&batch, 1700000000000LL, &r, 1);
    kreq_produce_v3(b, corr, 1, 10000, g_topic, 0, batch.p, (int32_t)batch.len);
    kbytes_free(&batch);
    free(value);
}

/* Appends an ApiVersions v0 frame padded with zeros to size bytes after the
 * size prefix (the broker reads the request and ignores the rest). */
static void padded_api_versions(struct kbytes *b, int32_t corr, size_t size)
{
    size_t at = b->len;
    kreq_api_versions(b, 0, corr);
    size_t body = b->len - at - 4;
    cr_assert_geq(size, body);
    char *zeros = calloc(1, size - body);
    cr_assert(zeros);
    kbytes_put(b, zeros, size - body);
    free(zeros);
    kbytes_patch_i32(b, at, (int32_t)size);
}

/* Reads one response on fd and checks its correlation id; returns it (new). */
static uint8_t *expect_response(int fd, int32_t corr, size_t *len, const char *what)
{
    uint8_t *frame = NULL;
    int rc = kreq_recv(fd, &frame, len, 15000);
    cr_assert_eq(rc, 0, "%s: no response (rc %d: 1 = closed, -1 = timeout)", what, rc);
    cr_assert_geq(*len, 4);
    int32_t got = (int32_t)((uint32_t)frame[0] << 24 | (uint32_t)frame[1] << 16 |
                            (uint32_t)frame[2] << 8 | frame[3]);
    cr_assert_eq(got, corr, "%s: correlation id %d, expected %d", what, got, corr);
    return frame;
}

static void expect_produce_ok(int fd, int32_t corr, const char *what)
{
    size_t len = 0;
    uint8_t *frame = expect_response(fd, corr, &len, what);
    struct kproduce_result res;
    cr_assert_eq(kresp_produce_v3(frame, len, &res), 0, "%s: malformed Produce response", what);
    cr_assert_eq(res.error, 0, "%s: Produce error %d", what, res.error);
    free(frame);
}

/* A frame needing most of the request pool is answered on a new
 * connection: nothing of the pool is still held. */
static void assert_pool_free(const char *after)
{
    cr_assert(broker_proc_alive(tcluster_fixture()->broker[0]), "broker died after %s", after);
    int fd = connect_or_fail();
    struct kbytes b;
    kbytes_init(&b);
    padded_api_versions(&b, 901, POOL_BYTES - (64 << 10));
    cr_assert_eq(kreq_send(fd, b.p, b.len), 0);
    size_t len = 0;
    free(expect_response(fd, 901, &len, after));
    kbytes_free(&b);
    close(fd);
}

Test(large_frames, slow_pieces_arrive_intact)
{
    struct kbytes b;
    kbytes_init(&b);
    large_produce(&b, 11, 7);
    int fd = connect_or_fail();
    /* 12 pieces 100 ms apart: the whole frame within the read timeout */
    size_t piece = b.len / 12 + 1;
    int64_t t0 = now_ms();
    for (size_t off = 0; off < b.len; off += piece) {
        size_t n = b.len - off < piece ? b.len - off : piece;
        cr_assert_eq(kreq_send(fd, b.p + off, n), 0, "the broker closed at byte %zu", off);
        sleep_ms(100);
    }
    cr_assert_lt(now_ms() - t0, READ_TIMEOUT_MS, "the pieces took longer than the timeout");
    expect_produce_ok(fd, 11, "a frame sent in pieces");
    int16_t err = 0;
    cr_assert_eq(itest_list_offset(g_port, g_topic, 0, -1, &err), 1, "error %d", err);
    kbytes_free(&b);
    close(fd);
}

Test(large_frames, slower_than_the_read_timeout_is_closed)
{
    struct kbytes b;
    kbytes_init(&b);
    padded_api_versions(&b, 12, 512 << 10);
    int fd = connect_or_fail();
    /* 64 KiB every 300 ms: 8 pieces need 2.4 s, the timeout is 2 s */
    int64_t t0 = now_ms();
    size_t off = 0;
    for (; off < b.len; off += 64 << 10) {
        size_t n = b.len - off < (64 << 10) ? b.len - off : (64 << 10);
        if (kreq_send(fd, b.p + off, n) != 0)
            break;
        sleep_ms(300);
        if (now_ms() - t0 > READ_TIMEOUT_MS + 1000)
            break;
    }
    cr_assert(kreq_wait_closed(fd, 5000), "a frame too slow for the read timeout was kept");
    int64_t took = now_ms() - t0;
    cr_assert_geq(took, READ_TIMEOUT_MS - 200, "closed after %lld ms", (long long)took);
    char *log = broker_proc_log(tcluster_fixture()->broker[0]);
    cr_assert(strstr(log, "gregor.request.read.timeout.ms"), "the close is logged");
    free(log);
    kbytes_free(&b);
    close(fd);
    assert_pool_free("a read timeout mid-frame");
}

Test(large_frames, pipelined_large_then_small_frames)
{
    struct kbytes b;
    kbytes_init(&b);
    large_produce(&b, 21, 3);
    kreq_api_versions(&b, 0, 22);
    kreq_api_versions(&b, 1, 23);
    large_produce(&b, 24, 4);
    kreq_api_versions(&b, 2, 25);
    int fd = connect_or_fail();
    cr_assert_eq(kreq_send(fd, b.p, b.len), 0);
    expect_produce_ok(fd, 21, "first large frame");
    for (int32_t corr = 22; corr <= 23; corr++) {
        size_t len = 0;
        free(expect_response(fd, corr, &len, "small frame after a large one"));
    }
    expect_produce_ok(fd, 24, "second large frame");
    size_t len = 0;
    free(expect_response(fd, 25, &len, "last small frame"));
    int16_t err = 0;
    cr_assert_eq(itest_list_offset(g_port, g_topic, 0, -1, &err), 2, "error %d", err);
    kbytes_free(&b);
    close(fd);
    assert_pool_free("pipelined frames");
}

/* Sends the first part bytes of a frame of size bytes, then closes the
 * connection: an orderly close, or a reset (SO_LINGER 0) when rst. */
static void send_part_and_close(size_t size, size_t part, bool rst)
{
    struct kbytes b;
    kbytes_init(&b);
    padded_api_versions(&b, 31, size);
    int fd = connect_or_fail();
    cr_assert_eq(kreq_send(fd, b.p, part), 0);
    sleep_ms(100);
    if (rst) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    close(fd);
    kbytes_free(&b);
}

Test(large_frames, peer_closing_mid_frame_gives_its_memory_back)
{
    size_t size = POOL_BYTES - (64 << 10);
    send_part_and_close(size, 300 << 10, false);
    assert_pool_free("an orderly close mid-frame");
    send_part_and_close(size, 300 << 10, true);
    assert_pool_free("a reset mid-frame");
    send_part_and_close(size, 4 + size - 1, false); /* all but the last byte */
    assert_pool_free("a close one byte short");
}

/* Appends a Fetch v4 of g_topic partition 0 from offset 0 (the end of the
 * empty partition) that waits up to max_wait_ms for a byte. */
static void parked_fetch(struct kbytes *b, int32_t corr, int32_t max_wait_ms)
{
    kreq_begin(b, 1, 4, corr, "large-frames", false);
    kbytes_i32(b, -1);          /* replica_id */
    kbytes_i32(b, max_wait_ms); /* max_wait_ms */
    kbytes_i32(b, 1);           /* min_bytes */
    kbytes_i32(b, 1 << 20);     /* max_bytes */
    kbytes_i8(b, 0);            /* isolation_level */
    kbytes_i32(b, 1);           /* topics */
    kbytes_str(b, g_topic);
    kbytes_i32(b, 1); /* partitions */
    kbytes_i32(b, 0);
    kbytes_i64(b, 0);
    kbytes_i32(b, 1 << 20);
    kreq_end(b);
}

Test(large_frames, close_while_a_request_is_parked)
{
    /* a long-polling Fetch holds the connection's one request slot while a
     * large frame behind it is read, whole or in part; then the peer goes */
    size_t size = POOL_BYTES - (64 << 10);
    for (int whole = 0; whole <= 1; whole++) {
        struct kbytes b;
        kbytes_init(&b);
        parked_fetch(&b, 41, 5000);
        size_t fetch_len = b.len;
        padded_api_versions(&b, 42, size);
        int fd = connect_or_fail();
        size_t n = whole ? b.len : fetch_len + (300 << 10);
        cr_assert_eq(kreq_send(fd, b.p, n), 0);
        sleep_ms(300);
        close(fd);
        kbytes_free(&b);
        assert_pool_free(whole ? "a close with a whole frame waiting"
                               : "a close with a partial frame waiting");
    }
    /* and when the peer stays, the parked request is answered first */
    struct kbytes b;
    kbytes_init(&b);
    parked_fetch(&b, 43, 500);
    padded_api_versions(&b, 44, size);
    int fd = connect_or_fail();
    cr_assert_eq(kreq_send(fd, b.p, b.len), 0);
    size_t len = 0;
    free(expect_response(fd, 43, &len, "the parked Fetch"));
    free(expect_response(fd, 44, &len, "the large frame behind it"));
    kbytes_free(&b);
    close(fd);
}

Test(large_frames, frame_larger_than_the_pool_is_read_alone)
{
    struct kbytes big, small;
    kbytes_init(&big);
    kbytes_init(&small);
    padded_api_versions(&big, 51, 3 * POOL_BYTES / 2 + 12345);
    padded_api_versions(&small, 52, 200 << 10);
    int a = connect_or_fail();
    int c = connect_or_fail();
    cr_assert_eq(kreq_send(a, big.p, big.len), 0);
    cr_assert_eq(kreq_send(c, small.p, small.len), 0);
    size_t len = 0;
    free(expect_response(a, 51, &len, "a frame larger than the pool"));
    free(expect_response(c, 52, &len, "a frame sent beside it"));
    kbytes_free(&big);
    kbytes_free(&small);
    close(a);
    close(c);
    assert_pool_free("a frame larger than the pool");
}

Test(large_frames, many_large_frames_behind_a_parked_request_keep_their_order)
{
    /* more large frames than the broker holds read whole (8) arrive while
     * a Fetch is parked: the rest wait in the input buffer, and every
     * answer comes back in request order */
    struct kbytes b;
    kbytes_init(&b);
    parked_fetch(&b, 60, 1000);
    for (int32_t i = 1; i <= 11; i++)
        padded_api_versions(&b, 60 + i, 72 << 10);
    int fd = connect_or_fail();
    cr_assert_eq(kreq_send(fd, b.p, b.len), 0);
    for (int32_t corr = 60; corr <= 71; corr++) {
        size_t len = 0;
        free(expect_response(fd, corr, &len, "a frame behind the parked Fetch"));
    }
    kbytes_free(&b);
    close(fd);
    assert_pool_free("frames behind a parked request");
}
