/*
 * tests/integration/test_restart.c — broker restarts keep the log:
 *   - SIGTERM (clean shutdown, exit code 0), start again: every record and
 *     offset is still there and new records continue the offsets;
 *   - SIGKILL, then an immediate restart comes back (within the start
 *     timeout) with every acknowledged record;
 *   - a second broker with the same broker.id, while the first runs, refuses
 *     to start: non-zero exit and a message naming broker.id; the first
 *     keeps serving;
 *   - 1,000 partitions (10 topics x 100, records in a few), SIGKILL, restart:
 *     the broker's "loaded N partitions in X ms" line stays under a second
 *     (one recovery thread, and in suite restart_parallel four) and every
 *     acknowledged record is still there.
 */
#include "tests/harness/broker_proc.h"
#include "tests/harness/kreq.h"
#include "tests/integration/itest.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void up(void) { cr_assert(tcluster_fixture_up(1, NULL), "cluster did not start"); }

TestSuite(restart, .init = up, .fini = itest_fixture_down, .timeout = 240);

static struct broker_proc *broker(void) { return tcluster_fixture()->broker[0]; }

static void produce_n(const char *topic, int32_t partition, int n)
{
    rd_kafka_t *p =
        itest_producer(tcluster_fixture()->bootstrap, (const char *const[]){"acks", "all", NULL});
    cr_assert(p);
    struct itest_produce_result res;
    cr_assert_eq(itest_produce(p, topic, partition, n, 60, &res), 0,
                 "%d of %d delivered (first error %s)", res.delivered, n,
                 rd_kafka_err2name(res.first_err));
    rd_kafka_destroy(p);
}

static void consume_n(const char *topic, int32_t partition, int n)
{
    rd_kafka_t *c = itest_consumer(tcluster_fixture()->bootstrap, NULL);
    cr_assert(c);
    int got = itest_consume_check(c, topic, partition, n, 60);
    cr_assert_eq(got, n, "partition %d: %d of %d records intact after restart", partition, got, n);
    rd_kafka_destroy(c);
}

static int64_t latest(const char *topic, int32_t partition)
{
    int16_t err = 0;
    int64_t off = itest_list_offset(broker_proc_port(broker()), topic, partition, -1, &err);
    cr_assert_geq(off, 0, "ListOffsets %s-%d: error %d", topic, partition, err);
    return off;
}

/* Appends one record with a raw Produce v3 and returns its base offset. */
static int64_t produce_one_raw(const char *topic, int32_t partition)
{
    struct kbytes batch, req;
    kbytes_init(&batch);
    kbytes_init(&req);
    struct krecord r = {.key = "after", .key_len = -1, .value = "restart", .value_len = -1};
    kbatch_append(&batch, 1700000000000LL, &r, 1);
    kreq_produce_v3(&req, 31, -1, 10000, topic, partition, batch.p, (int32_t)batch.len);
    int fd = kreq_connect(broker_proc_port(broker()));
    cr_assert_geq(fd, 0);
    uint8_t *frame = NULL;
    size_t len = 0;
    int64_t base = -1;
    struct kproduce_result res;
    for (int attempt = 0; attempt < 50; attempt++) {
        cr_assert_eq(kreq_roundtrip(fd, &req, 31, &frame, &len, 15000), 0, "no Produce answer");
        cr_assert_eq(kresp_produce_v3(frame, len, &res), 0);
        free(frame);
        /* Leadership may still be loading right after a restart: retry the
         * retriable errors the way clients do. */
        if (res.error != 5 && res.error != 6 && res.error != 3)
            break;
        usleep(200 * 1000);
    }
    cr_assert_eq(res.error, 0, "Produce error %d", res.error);
    base = res.base_offset;
    close(fd);
    kbytes_free(&batch);
    kbytes_free(&req);
    return base;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

Test(restart, sigterm_restart_keeps_records_and_offsets)
{
    char topic[64];
    itest_topic("restart-term", topic, sizeof(topic));
    cr_assert_eq(itest_create_topic(tcluster_fixture()->bootstrap, topic, 2, 30), 0);
    produce_n(topic, 0, 5000);
    produce_n(topic, 1, 1000);
    cr_assert_eq(latest(topic, 0), 5000);

    int rc = broker_proc_stop(broker(), 30);
    cr_assert_eq(rc, 0, "clean shutdown exited with %d", rc);
    cr_assert_eq(broker_proc_start(broker()), 0, "broker did not come back after SIGTERM");

    cr_assert_eq(latest(topic, 0), 5000, "partition 0 end offset changed across restart");
    cr_assert_eq(latest(topic, 1), 1000, "partition 1 end offset changed across restart");
    int16_t err = 0;
    cr_assert_eq(itest_list_offset(broker_proc_port(broker()), topic, 0, -2, &err), 0,
                 "earliest offset not 0 (error %d)", err);
    consume_n(topic, 0, 5000);
    consume_n(topic, 1, 1000);
    cr_assert_eq(produce_one_raw(topic, 0), 5000, "new record did not continue the offsets");
    cr_assert_eq(latest(topic, 0), 5001);
}

Test(restart, sigkill_then_immediate_restart_comes_back)
{
    char topic[64];
    itest_topic("restart-kill", topic, sizeof(topic));
    cr_assert_eq(itest_create_topic(tcluster_fixture()->bootstrap, topic, 1, 30), 0);
    produce_n(topic, 0, 3000);

    cr_assert_neq(broker_proc_kill(broker()), -1, "broker was not running");
    double t0 = now_s();
    cr_assert_eq(broker_proc_start(broker()), 0, "broker did not come back after SIGKILL");
    int64_t off = produce_one_raw(topic, 0);
    fprintf(stderr, "restart: serving again %.2f s after SIGKILL\n", now_s() - t0);
    cr_assert_eq(off, 3000, "first record after restart got offset %lld", (long long)off);
    consume_n(topic, 0, 3000);
    cr_assert_eq(latest(topic, 0), 3001);
}

Test(restart, duplicate_broker_id_refuses_to_start)
{
    struct broker_proc *dup = broker_proc_new(tcluster_zk_connect(tcluster_fixture()), 0, NULL);
    cr_assert(dup);
    broker_proc_start_quiet(dup); /* may or may not open its port first */
    int rc = broker_proc_wait_exit(dup, 60);
    char *log = broker_proc_log(dup);
    cr_assert_neq(rc, -3, "second broker with broker.id=0 still running after 60 s");
    cr_assert(rc > 0 && rc < 128,
              "second broker exited with status %d, expected an error exit:\n%s", rc,
              log ? log : "");
    cr_assert(log && strstr(log, "broker.id"), "exit message does not mention broker.id:\n%s",
              log ? log : "");
    free(log);
    broker_proc_free(dup);

    cr_assert(broker_proc_alive(broker()), "first broker died");
    cr_assert(itest_api_versions_ok(broker_proc_port(broker())), "first broker stopped answering");
}

/* ---- many partitions after SIGKILL ---- */

#define MANY_TOPICS 10
#define MANY_PARTS 100
#define MANY_RECORDS 500

/* The "loaded N partitions in X ms" line of the broker's log written after
 * the last start (the log file is appended to across restarts): N in *n,
 * returns X, or -1 if there is none after skip bytes. */
static long loaded_ms(size_t skip, long *n)
{
    char *log = broker_proc_log(broker());
    long ms = -1;
    *n = -1;
    if (!log)
        return -1;
    const char *p = strlen(log) > skip ? log + skip : "";
    const char *hit;
    while ((hit = strstr(p, "loaded ")) != NULL) {
        long a, b;
        if (sscanf(hit, "loaded %ld partitions in %ld ms", &a, &b) == 2) {
            *n = a;
            ms = b;
        }
        p = hit + 1;
    }
    free(log);
    return ms;
}

static size_t log_len(void)
{
    char *log = broker_proc_log(broker());
    size_t n = log ? strlen(log) : 0;
    free(log);
    return n;
}

/* Creates MANY_TOPICS x MANY_PARTS partitions with records in three of
 * them, SIGKILLs the broker, restarts it and checks the load time and the
 * records. */
static void many_partitions_sigkill(void)
{
    char topics[MANY_TOPICS][64];
    for (int i = 0; i < MANY_TOPICS; i++) {
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "many%d", i);
        itest_topic(prefix, topics[i], sizeof(topics[i]));
        cr_assert_eq(itest_create_topic(tcluster_fixture()->bootstrap, topics[i], MANY_PARTS, 120),
                     0, "cannot create topic %s", topics[i]);
    }
    produce_n(topics[0], 0, MANY_RECORDS);
    produce_n(topics[4], 57, MANY_RECORDS);
    produce_n(topics[9], 99, MANY_RECORDS);

    size_t skip = log_len();
    cr_assert_neq(broker_proc_kill(broker()), -1, "broker was not running");
    double t0 = now_s();
    cr_assert_eq(broker_proc_start(broker()), 0, "broker did not come back after SIGKILL");
    double started = now_s() - t0;
    long n, ms = loaded_ms(skip, &n);
    fprintf(stderr, "restart: %d partitions: log loading took %ld ms, port open after %.2f s\n",
            MANY_TOPICS * MANY_PARTS, ms, started);
    cr_assert_eq(n, MANY_TOPICS * MANY_PARTS, "no \"loaded %d partitions in X ms\" line (got %ld)",
                 MANY_TOPICS * MANY_PARTS, n);
    cr_assert_lt(ms, 1000, "loading %ld partitions took %ld ms after SIGKILL", n, ms);

    consume_n(topics[0], 0, MANY_RECORDS);
    consume_n(topics[4], 57, MANY_RECORDS);
    consume_n(topics[9], 99, MANY_RECORDS);
    cr_assert_eq(latest(topics[9], 99), MANY_RECORDS);
    for (int i = 0; i < MANY_TOPICS; i++)
        cr_assert_eq(latest(topics[i], 1), 0, "empty partition %s-1 gained records", topics[i]);
    cr_assert_eq(produce_one_raw(topics[4], 57), MANY_RECORDS,
                 "new record did not continue the offsets");
}

Test(restart, sigkill_with_1000_partitions_loads_fast, .timeout = 300)
{
    many_partitions_sigkill();
}

static void up_parallel(void)
{
    static const char *const ov[] = {"num.recovery.threads.per.data.dir=4", NULL};
    cr_assert(tcluster_fixture_up(1, ov), "cluster did not start");
}

TestSuite(restart_parallel, .init = up_parallel, .fini = itest_fixture_down, .timeout = 300);

Test(restart_parallel, sigkill_with_1000_partitions_four_recovery_threads)
{
    many_partitions_sigkill();
}
