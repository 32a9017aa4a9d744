/*
 * tests/integration/test_fetcher.c — the replica fetcher
 * (broker/replication/fetcher.c) against a real gregor-broker leader.
 *
 * Setup per test: ZooKeeper + brokers 0 and 1; a topic with one partition
 * assigned [0, 1] (leader 0). Broker 1 is then stopped cleanly and this
 * test process plays replica 1: it builds the partition locally
 * (topic_create() with self id 1 in a temp dir, partition_apply_state() as
 * a follower of broker 0 at the leader's current epoch, read with Metadata
 * v7) and runs fetchers_new() + fetchers_add() towards broker 0.
 *
 *   - catch_up: records produced before and after the fetcher starts reach
 *     the local log; its segment file is byte-identical to the leader's
 *     (same batches, offsets, epochs), every record key is in place, and
 *     the HW moves on both sides. The leader is named "localhost".
 *   - truncation: the local log holds extra records the leader never had
 *     (a diverged tail); OffsetForLeaderEpoch truncates them before
 *     fetching, and the log then equals the leader's byte for byte.
 *   - real_follower: broker 1 stays up and follows with its own fetcher
 *     (inside gregor-broker): acks=all records appear in its segment file
 *     exactly as in the leader's.
 *   - added_partition_does_not_wait_behind_a_parked_fetch: a partition
 *     added while the session's long poll is parked at the leader is
 *     fetched at once, and the other partition carries on.
 *   - fetcher_backoff (no cluster): a leader that refuses connections is
 *     retried at backoff_ms, not in a loop.
 */
#include "broker/replication/fetcher.h"
#include "broker/replication/partition.h"
#include "broker/storage/plog.h"
#include "broker/replication/topics.h"
#include "common/buf.h"
#include "tests/harness/broker_proc.h"
#include "tests/harness/kreq.h"
#include "tests/integration/itest.h"

#include <criterion/criterion.h>
#include <event2/thread.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Controlled shutdown is off: stopping broker 1 must not wait for the
 * controller (the harness allows 10 s for a SIGTERM). */
static const char *const overrides[] = {"controlled.shutdown.enable=false", NULL};

/* worker_post() wakes a loop from another thread: libevent must be
 * thread-aware, as broker/main.c makes it. */
static void threads_up(void) { cr_assert_eq(evthread_use_pthreads(), 0); }

static void up(void)
{
    threads_up();
    cr_assert(tcluster_fixture_up(2, overrides), "cluster did not start");
}

TestSuite(fetcher, .init = up, .fini = itest_fixture_down, .timeout = 240);

static struct broker_proc *leader_proc(void) { return tcluster_fixture()->broker[0]; }

/* Creates topic with one partition assigned [0, 1] and waits for leader 0. */
static void create_topic_01(const char *topic)
{
    char err[512];
    rd_kafka_t *rk = itest_producer(tcluster_fixture()->bootstrap, NULL);
    cr_assert(rk);
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, 1, -1, err, sizeof(err));
    cr_assert(nt, "%s", err);
    int32_t replicas[2] = {0, 1};
    cr_assert_eq(rd_kafka_NewTopic_set_replica_assignment(nt, 0, replicas, 2, err, sizeof(err)),
                 RD_KAFKA_RESP_ERR_NO_ERROR, "%s", err);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    cr_assert(ev, "CreateTopics timed out");
    const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
    size_t n = 0;
    const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(rd_kafka_topic_result_error(tr[0]), RD_KAFKA_RESP_ERR_NO_ERROR, "%s",
                 rd_kafka_topic_result_error_string(tr[0]));
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_destroy(rk);
}

/* Metadata v7 for one topic on the broker at port: leader and leader
 * epoch of partition 0. Returns 0, or -1. */
static int leader_of(int port, const char *topic, int32_t *leader, int32_t *epoch)
{
    struct kbytes req;
    kbytes_init(&req);
    kreq_begin(&req, KREQ_METADATA, 7, 7, "test-fetcher", false);
    kbytes_i32(&req, 1);
    kbytes_str(&req, topic);
    kbytes_i8(&req, 0); /* allow_auto_topic_creation */
    kreq_end(&req);
    int fd = kreq_connect(port);
    uint8_t *frame = NULL;
    size_t len = 0;
    int rc = fd < 0 ? -1 : kreq_roundtrip(fd, &req, 7, &frame, &len, 10000);
    if (fd >= 0)
        close(fd);
    kbytes_free(&req);
    if (rc != 0)
        return -1;
    struct kresp r;
    char buf[256];
    kresp_init(&r, frame, len);
    kresp_i32(&r); /* correlation id */
    kresp_i32(&r); /* throttle */
    for (int32_t i = 0, n = kresp_i32(&r); i < n && !r.err; i++) {
        kresp_i32(&r);
        kresp_str(&r, buf, sizeof(buf));
        kresp_i32(&r);
        kresp_str(&r, buf, sizeof(buf));
    }
    kresp_str(&r, buf, sizeof(buf)); /* cluster id */
    kresp_i32(&r);                   /* controller */
    rc = -1;
    for (int32_t i = 0, n = kresp_i32(&r); i < n && !r.err; i++) {
        int16_t terr = kresp_i16(&r);
        kresp_str(&r, buf, sizeof(buf));
        kresp_i8(&r);
        for (int32_t k = 0, np = kresp_i32(&r); k < np && !r.err; k++) {
            int16_t perr = kresp_i16(&r);
            int32_t index = kresp_i32(&r);
            int32_t l = kresp_i32(&r), e = kresp_i32(&r);
            for (int a = 0; a < 3 && !r.err; a++) /* replicas, isr, offline */
                for (int32_t m = 0, cnt = kresp_i32(&r); m < cnt && !r.err; m++)
                    kresp_i32(&r);
            if (!r.err && terr == 0 && perr == 0 && index == 0 && l >= 0) {
                *leader = l;
                *epoch = e;
                rc = 0;
            }
        }
    }
    free(frame);
    return r.err ? -1 : rc;
}

/* Waits until partition 0 has leader 0 and its epoch stays the same for
 * a second; returns that epoch. */
static int32_t stable_epoch(const char *topic)
{
    int32_t last = -2;
    int64_t since = now_ms(), deadline = now_ms() + 60000;
    while (now_ms() < deadline) {
        int32_t leader = -1, epoch = -1;
        if (leader_of(broker_proc_port(leader_proc()), topic, &leader, &epoch) == 0 &&
            leader == 0) {
            if (epoch != last) {
                last = epoch;
                since = now_ms();
            } else if (now_ms() - since >= 1000) {
                return epoch;
            }
        }
        usleep(100 * 1000);
    }
    cr_assert_fail("partition 0 of %s has no stable leader 0", topic);
    return -1;
}

static void produce_n(const char *topic, int n, const char *acks)
{
    rd_kafka_t *p =
        itest_producer(tcluster_fixture()->bootstrap, (const char *const[]){"acks", acks, NULL});
    cr_assert(p);
    struct itest_produce_result res;
    cr_assert_eq(itest_produce(p, topic, 0, n, 60, &res), 0, "%d of %d delivered (first %s)",
                 res.delivered, n, rd_kafka_err2name(res.first_err));
    rd_kafka_destroy(p);
}

/* Stops broker 1 cleanly so that this process can play replica 1. */
static void stop_broker1(void)
{
    cr_assert_eq(broker_proc_stop(tcluster_fixture()->broker[1], 20), 0, "broker 1 exit");
}

/* Creates a topic named after prefix (into topic, size n) on [0, 1],
 * stops broker 1 and produces `records` to the leader alone; returns the
 * leader's settled epoch. */
static int32_t topic_on_leader_alone(const char *prefix, char *topic, size_t n, int records)
{
    itest_topic(prefix, topic, n);
    create_topic_01(topic);
    stop_broker1();
    produce_n(topic, records, "1");
    return stable_epoch(topic);
}

/* The local replica 1 of (topic, 0) in dir, following broker 0 at epoch. */
static struct topic *local_follower(const char *topic, const char *dir, int32_t epoch)
{
    struct topic_config tc = {.segment_bytes = 1 << 30,
                              .segment_ms = INT64_MAX / 4,
                              .retention_ms = -1,
                              .retention_bytes = -1,
                              .max_message_bytes = 1 << 20,
                              .min_insync_replicas = 1,
                              .index_interval_bytes = 4096,
                              .segment_index_bytes = 1 << 20,
                              .flush_messages = INT64_MAX,
                              .flush_ms = INT64_MAX};
    int32_t replicas[2] = {0, 1};
    char err[256] = "";
    struct topic *t =
        topic_create(topic, 1, 2, replicas, NULL, 0, &tc, dir, 1, NULL, err, sizeof(err));
    cr_assert(t, "topic_create: %s", err);
    cr_assert(topic_part(t, 0)->log, "no local log for replica 1");
    int32_t isr[1] = {0};
    struct partition_state st = {.leader = 0,
                                 .leader_epoch = epoch,
                                 .partition_epoch = 0,
                                 .n_isr = 1,
                                 .isr = isr,
                                 .n_replicas = 2,
                                 .replicas = replicas};
    bool changed = false;
    cr_assert_eq(partition_apply_state(topic_part(t, 0), 1, &st, 0, &changed), KERR_NONE);
    return t;
}

static struct fetchers *start_fetchers_wait(int32_t max_wait_ms)
{
    struct fetcher_config cfg = {.self_id = 1,
                                 .n_threads = 2,
                                 .max_wait_ms = max_wait_ms,
                                 .min_bytes = 1,
                                 .max_bytes = 64 * 1024,
                                 .response_max_bytes = 1 << 20,
                                 .socket_timeout_ms = 10000,
                                 .backoff_ms = 200};
    struct fetchers *f = fetchers_new(&cfg);
    cr_assert(f);
    return f;
}

static struct fetchers *start_fetchers(void) { return start_fetchers_wait(200); }

/* Waits until the local LEO is leo (and the local HW hw, unless hw < 0). */
static void wait_position(struct partition *part, int32_t epoch, int64_t leo, int64_t hw,
                          struct fetchers *f)
{
    int64_t deadline = now_ms() + 60000, l = -1, h = -1;
    while (now_ms() < deadline) {
        cr_assert(partition_follower_position(part, epoch, &l, &h),
                  "local replica stopped following epoch %d", epoch);
        if (l == leo && (hw < 0 || h == hw))
            return;
        usleep(50 * 1000);
    }
    struct fetcher_stats st;
    fetchers_get_stats(f, &st);
    cr_assert_fail("local LEO %" PRId64 " HW %" PRId64 ", want %" PRId64 "/%" PRId64
                   " (fetches %" PRIu64 " errors %" PRIu64 " partitions %d)",
                   l, h, leo, hw, st.fetches, st.errors, st.partitions);
}

/* Returns new: the whole file (NULL if missing); *len its size. */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    uint8_t *buf = NULL;
    size_t cap = 0;
    *len = 0;
    for (;;) {
        if (*len == cap) {
            cap = cap ? cap * 2 : 65536;
            buf = realloc(buf, cap);
            cr_assert(buf);
        }
        size_t got = fread(buf + *len, 1, cap - *len, fp);
        if (got == 0)
            break;
        *len += got;
    }
    fclose(fp);
    return buf;
}

static const char *segment_path_at(char *buf, size_t n, const char *data_dir, const char *topic,
                                   int64_t base)
{
    snprintf(buf, n, "%s/%s-0/%020" PRId64 ".log", data_dir, topic, base);
    return buf;
}

static const char *segment_path(char *buf, size_t n, const char *data_dir, const char *topic)
{
    return segment_path_at(buf, n, data_dir, topic, 0);
}

static int64_t read_varint(const uint8_t *p, size_t len, size_t *pos)
{
    uint64_t v = 0;
    for (int shift = 0; *pos < len && shift < 64; shift += 7) {
        uint8_t b = p[(*pos)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
    }
    cr_assert_fail("bad varint");
    return 0;
}

/* Checks the batches of a segment: contiguous offsets from start to end, and
 * the record at offset o has key "key-<o - base>" where base is 0 below
 * split and split above it (two produce runs). */
static void check_records(const uint8_t *seg, size_t len, int64_t start, int64_t end, int64_t split)
{
    size_t pos = 0;
    int64_t next = start;
    while (pos < len) {
        cr_assert_geq(len - pos, 61, "torn batch header at %zu", pos);
        const uint8_t *b = seg + pos;
        int64_t base = (int64_t)be64_load(b);
        int32_t blen = (int32_t)be32_load(b + 8);
        int32_t count = (int32_t)be32_load(b + 57);
        cr_assert_eq(base, next, "batch at %zu starts at %" PRId64 ", want %" PRId64, pos, base,
                     next);
        cr_assert_eq(be16_load(b + 21) & 7, 0, "compressed batch");
        size_t rp = 61, bend = 12 + (size_t)blen;
        for (int32_t i = 0; i < count; i++) {
            int64_t rlen = read_varint(b, bend, &rp);
            size_t rstart = rp;
            rp++;                                      /* attributes */
            read_varint(b, bend, &rp);                 /* timestamp delta */
            int64_t delta = read_varint(b, bend, &rp); /* offset delta */
            int64_t klen = read_varint(b, bend, &rp);
            int64_t off = base + delta;
            char want[32];
            snprintf(want, sizeof(want), "key-%" PRId64, off < split ? off : off - split);
            cr_assert_eq(klen, (int64_t)strlen(want), "offset %" PRId64 ": key length", off);
            cr_assert(memcmp(b + rp, want, (size_t)klen) == 0, "offset %" PRId64 ": key", off);
            cr_assert_eq(off, next, "record offset %" PRId64 " want %" PRId64, off, next);
            next++;
            rp = rstart + (size_t)rlen;
        }
        pos += bend;
    }
    cr_assert_eq(next, end, "records up to %" PRId64 ", want %" PRId64, next, end);
}

/* The local segment equals the leader's byte for byte and holds [0, end). */
static void check_same_log(const char *local_data, const char *leader_data, const char *topic,
                           int64_t end, int64_t split)
{
    char p1[1024], p2[1024];
    size_t n1 = 0, n2 = 0;
    uint8_t *a = slurp(segment_path(p1, sizeof(p1), local_data, topic), &n1);
    uint8_t *b = slurp(segment_path(p2, sizeof(p2), leader_data, topic), &n2);
    cr_assert(a, "missing %s", p1);
    cr_assert(b, "missing %s", p2);
    cr_assert_eq(n1, n2, "local segment %zu bytes, leader's %zu", n1, n2);
    cr_assert(memcmp(a, b, n1) == 0, "local segment differs from the leader's");
    check_records(a, n1, 0, end, split);
    free(a);
    free(b);
}

static int64_t leader_hw(const char *topic)
{
    int16_t err = 0;
    return itest_list_offset(broker_proc_port(leader_proc()), topic, 0, -1, &err);
}

static void wait_leader_hw(const char *topic, int64_t want)
{
    int64_t deadline = now_ms() + 30000, hw = -1;
    while (now_ms() < deadline && (hw = leader_hw(topic)) != want)
        usleep(100 * 1000);
    cr_assert_eq(hw, want, "leader HW %" PRId64 ", want %" PRId64, hw, want);
}

Test(fetcher, catch_up)
{
    char topic[64];
    int32_t epoch = topic_on_leader_alone("fetch-catchup", topic, sizeof(topic), 300);

    char *dir = harness_mkdtemp("fetcher-local");
    cr_assert(dir);
    struct topic *t = local_follower(topic, dir, epoch);
    struct partition *part = topic_part(t, 0);
    struct fetchers *f = start_fetchers();
    fetchers_add(f, t, 0, 0, "localhost", broker_proc_port(leader_proc()), epoch);

    wait_position(part, epoch, 300, 300, f);
    check_same_log(dir, broker_proc_data_dir(leader_proc()), topic, 300, 300);
    wait_leader_hw(topic, 300);

    produce_n(topic, 120, "1");
    wait_position(part, epoch, 420, 420, f);
    check_same_log(dir, broker_proc_data_dir(leader_proc()), topic, 420, 300);

    struct fetcher_stats st;
    fetchers_get_stats(f, &st);
    cr_expect_eq(st.partitions, 1);
    cr_expect_gt(st.fetches, 0);
    cr_expect_gt(st.bytes, 0);
    cr_expect_eq(st.truncations, 0);

    /* removal stops the fetch and releases the topic reference */
    fetchers_remove(f, topic, 0);
    int64_t deadline = now_ms() + 5000;
    while (now_ms() < deadline) {
        fetchers_get_stats(f, &st);
        if (st.partitions == 0)
            break;
        usleep(20 * 1000);
    }
    cr_expect_eq(st.partitions, 0, "partition still fetched after fetchers_remove");
    produce_n(topic, 10, "1");
    usleep(600 * 1000);
    int64_t leo = -1, hw = -1;
    cr_assert(partition_follower_position(part, epoch, &leo, &hw));
    cr_expect_eq(leo, 420, "appended after fetchers_remove");
    cr_expect_eq(atomic_load(&t->refs), 1, "fetcher still holds a topic reference");

    fetchers_free(f);
    topic_unref(t);
    harness_rmtree(dir);
    free(dir);
}

/* A partition added while the session's fetch sits parked at the leader
 * (max_wait 5 s, nothing new to read) is fetched at once, not after the
 * wait: after a failover, acks=all producers wait for exactly this. */
Test(fetcher, added_partition_does_not_wait_behind_a_parked_fetch)
{
    char ta[64], tb[64];
    itest_topic("fetch-parked", ta, sizeof(ta));
    itest_topic("fetch-added", tb, sizeof(tb));
    create_topic_01(ta);
    create_topic_01(tb);
    stop_broker1();
    produce_n(ta, 5, "1");
    produce_n(tb, 20, "1");
    int32_t ea = stable_epoch(ta), eb = stable_epoch(tb);
    char *dir = harness_mkdtemp("fetcher-parked");
    cr_assert(dir);
    struct topic *a = local_follower(ta, dir, ea), *b = local_follower(tb, dir, eb);
    struct fetchers *f = start_fetchers_wait(5000);
    int port = broker_proc_port(leader_proc());
    fetchers_add(f, a, 0, 0, "localhost", port, ea);
    wait_position(topic_part(a, 0), ea, 5, 5, f);
    usleep(300 * 1000); /* the next fetch of a is parked now */

    int64_t t0 = now_ms();
    fetchers_add(f, b, 0, 0, "localhost", port, eb);
    wait_position(topic_part(b, 0), eb, 20, -1, f);
    int64_t took = now_ms() - t0;
    fprintf(stderr, "fetcher: added partition caught up in %" PRId64 " ms\n", took);
    cr_expect_lt(took, 2500, "the added partition waited %" PRId64 " ms behind a parked fetch",
                 took);
    /* a keeps following on the new connection */
    produce_n(ta, 3, "1");
    wait_position(topic_part(a, 0), ea, 8, -1, f);

    fetchers_free(f);
    topic_unref(a);
    topic_unref(b);
    harness_rmtree(dir);
    free(dir);
}

/* Appends n fake records at offset base under epoch, as a diverged tail. */
static void append_fake(struct partition *part, int32_t epoch, int64_t base, int n, int64_t hw)
{
    struct kbytes b;
    kbytes_init(&b);
    struct krecord recs[8];
    cr_assert_leq(n, 8);
    for (int i = 0; i < n; i++)
        recs[i] =
            (struct krecord){.key = "diverged", .key_len = -1, .value = "lost", .value_len = -1};
    size_t at = kbatch_append(&b, 1700000000000LL, recs, n);
    for (int k = 0; k < 8; k++)
        b.p[at + k] = (uint8_t)((uint64_t)base >> (56 - 8 * k));
    for (int k = 0; k < 4; k++)
        b.p[at + 12 + k] = (uint8_t)((uint32_t)epoch >> (24 - 8 * k));
    cr_assert_eq(
        partition_append_replica(part, epoch, b.p + at, b.len - at, hw, -1, 1700000000000LL),
        KERR_NONE);
    kbytes_free(&b);
}

Test(fetcher, truncation)
{
    char topic[64];
    int32_t epoch = topic_on_leader_alone("fetch-trunc", topic, sizeof(topic), 50);

    char *dir = harness_mkdtemp("fetcher-local");
    cr_assert(dir);
    struct topic *t = local_follower(topic, dir, epoch);
    struct partition *part = topic_part(t, 0);
    struct fetchers *f = start_fetchers();
    char host[32];
    snprintf(host, sizeof(host), "127.0.0.1");
    fetchers_add(f, t, 0, 0, host, broker_proc_port(leader_proc()), epoch);
    wait_position(part, epoch, 50, -1, f);
    fetchers_free(f);

    /* a tail the leader never had, in the epoch we follow */
    append_fake(part, epoch, 50, 5, 50);
    int64_t leo = -1, hw = -1;
    cr_assert(partition_follower_position(part, epoch, &leo, &hw));
    cr_assert_eq(leo, 55);
    cr_assert_eq(partition_latest_epoch(part), epoch);

    f = start_fetchers();
    fetchers_add(f, t, 0, 0, host, broker_proc_port(leader_proc()), epoch);
    struct fetcher_stats st = {0};
    int64_t deadline = now_ms() + 30000;
    while (now_ms() < deadline) {
        fetchers_get_stats(f, &st);
        if (st.truncations > 0)
            break;
        usleep(20 * 1000);
    }
    cr_assert_eq(st.truncations, 1, "no truncation (errors %" PRIu64 ")", st.errors);
    wait_position(part, epoch, 50, -1, f);

    produce_n(topic, 30, "1");
    wait_position(part, epoch, 80, 80, f);
    check_same_log(dir, broker_proc_data_dir(leader_proc()), topic, 80, 50);

    fetchers_free(f);
    cr_expect_eq(atomic_load(&t->refs), 1, "fetchers_free kept a topic reference");
    topic_unref(t);
    harness_rmtree(dir);
    free(dir);
}

Test(fetcher, real_follower)
{
    char topic[64];
    itest_topic("fetch-real", topic, sizeof(topic));
    create_topic_01(topic);
    produce_n(topic, 200, "all");
    struct broker_proc *b1 = tcluster_fixture()->broker[1];
    char p0[1024], p1[1024];
    segment_path(p0, sizeof(p0), broker_proc_data_dir(leader_proc()), topic);
    segment_path(p1, sizeof(p1), broker_proc_data_dir(b1), topic);
    size_t n0 = 0, n1 = 0;
    uint8_t *a = NULL, *b = NULL;
    int64_t deadline = now_ms() + 30000;
    while (now_ms() < deadline) {
        free(a);
        free(b);
        a = slurp(p0, &n0);
        b = slurp(p1, &n1);
        if (a && b && n0 == n1 && memcmp(a, b, n0) == 0)
            break;
        usleep(100 * 1000);
    }
    cr_assert(a && b, "segment files missing");
    cr_assert_eq(n1, n0, "broker 1 holds %zu bytes, the leader %zu", n1, n0);
    cr_assert(memcmp(a, b, n0) == 0, "broker 1's segment differs from the leader's");
    check_records(b, n1, 0, 200, 200);
    free(a);
    free(b);
}

/* DeleteRecords (topic, 0) below offset through librdkafka. */
static void delete_records(const char *topic, int64_t offset)
{
    rd_kafka_t *rk = itest_producer(tcluster_fixture()->bootstrap, NULL);
    cr_assert(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, 0)->offset = offset;
    rd_kafka_DeleteRecords_t *del = rd_kafka_DeleteRecords_new(l);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DeleteRecords(rk, &del, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    cr_assert(ev, "DeleteRecords timed out");
    cr_assert_eq(rd_kafka_event_error(ev), RD_KAFKA_RESP_ERR_NO_ERROR, "%s",
                 rd_kafka_event_error_string(ev));
    const rd_kafka_topic_partition_list_t *res =
        rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(ev));
    cr_assert(res && res->cnt == 1);
    cr_assert_eq(res->elems[0].err, RD_KAFKA_RESP_ERR_NO_ERROR, "%s",
                 rd_kafka_err2name(res->elems[0].err));
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_DeleteRecords_destroy(del);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
}

/* A new replica whose LEO (0) is below the leader's log start gets
 * OFFSET_OUT_OF_RANGE and restarts its log at the leader's log start. */
Test(fetcher, restart_at_leader_log_start)
{
    char topic[64];
    int32_t epoch = topic_on_leader_alone("fetch-oor", topic, sizeof(topic), 100);

    /* a first replica moves the leader's HW, so that records can go */
    char *dir = harness_mkdtemp("fetcher-local");
    cr_assert(dir);
    struct topic *t = local_follower(topic, dir, epoch);
    struct fetchers *f = start_fetchers();
    fetchers_add(f, t, 0, 0, "127.0.0.1", broker_proc_port(leader_proc()), epoch);
    wait_position(topic_part(t, 0), epoch, 100, -1, f);
    fetchers_free(f);
    topic_unref(t);
    harness_rmtree(dir);
    free(dir);
    wait_leader_hw(topic, 100);
    delete_records(topic, 60);

    dir = harness_mkdtemp("fetcher-local");
    cr_assert(dir);
    t = local_follower(topic, dir, epoch);
    f = start_fetchers();
    fetchers_add(f, t, 0, 0, "127.0.0.1", broker_proc_port(leader_proc()), epoch);
    wait_position(topic_part(t, 0), epoch, 100, 100, f);
    struct fetcher_stats st;
    fetchers_get_stats(f, &st);
    /* restarted at 60, then (60 lies inside a batch) at that batch's base */
    cr_expect_geq(st.truncations, 1, "truncations %" PRIu64, st.truncations);
    pthread_mutex_lock(&topic_part(t, 0)->lock);
    int64_t start = plog_start_offset(topic_part(t, 0)->log);
    int n_segs = plog_segment_count(topic_part(t, 0)->log);
    int64_t base = plog_segment_base(topic_part(t, 0)->log, 0);
    pthread_mutex_unlock(&topic_part(t, 0)->lock);
    cr_expect_eq(start, 60, "local log start %" PRId64, start);
    cr_assert_eq(n_segs, 1);
    cr_assert_leq(base, 60);
    char path[1024];
    size_t n = 0;
    uint8_t *seg = slurp(segment_path_at(path, sizeof(path), dir, topic, base), &n);
    cr_assert(seg, "missing %s", path);
    check_records(seg, n, base, 100, 100);
    free(seg);
    fetchers_free(f);
    topic_unref(t);
    harness_rmtree(dir);
    free(dir);
}

TestSuite(fetcher_alone, .init = threads_up, .timeout = 60);

Test(fetcher_alone, refused_connection_backs_off)
{
    char *dir = harness_mkdtemp("fetcher-alone");
    cr_assert(dir);
    struct topic *t = local_follower("alone", dir, 3);
    int port = harness_free_port();
    cr_assert_gt(port, 0);
    struct fetcher_config cfg = {.self_id = 1, .n_threads = 1, .backoff_ms = 300};
    struct fetchers *f = fetchers_new(&cfg);
    cr_assert(f);
    fetchers_add(f, t, 0, 0, "127.0.0.1", port, 3);
    usleep(1500 * 1000);
    struct fetcher_stats st;
    fetchers_get_stats(f, &st);
    cr_expect_eq(st.partitions, 1);
    cr_expect_eq(st.fetches, 0);
    /* 1.5 s at 300 ms backoff: about 5 attempts, never a tight loop */
    cr_expect_geq(st.errors, 2, "errors %" PRIu64, st.errors);
    cr_expect_leq(st.errors, 8, "errors %" PRIu64 ": the fetcher spins", st.errors);
    /* re-adding under another leader replaces the earlier fetch */
    fetchers_add(f, t, 0, 7, "::1", port, 3);
    usleep(400 * 1000);
    fetchers_get_stats(f, &st);
    cr_expect_eq(st.partitions, 1, "re-adding did not replace the earlier fetch");
    fetchers_free(f);
    cr_expect_eq(atomic_load(&t->refs), 1);
    topic_unref(t);
    harness_rmtree(dir);
    free(dir);
}
