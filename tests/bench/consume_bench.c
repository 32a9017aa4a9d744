/*
 * tests/bench/consume_bench.c — consume throughput against a running broker,
 * through librdkafka.
 *
 *   consume_bench BOOTSTRAP TOPIC [subscribe] [librdkafka.key=value...]
 *
 * Assigns every partition of TOPIC from the beginning (no consumer group, no
 * commits) and reads until it has seen the end of every partition. Meant to
 * run right after produce_bench, so the broker serves from the page cache.
 * Elapsed time runs from assign() to the last partition's end. The process
 * keeps freed memory (bench_malloc_keep() in bench_util.h).
 *
 * With "subscribe" it joins a new consumer group instead
 * (rd_kafka_subscribe(), group.id gregor-consume-bench-sub-<pid>-<time>,
 * auto.offset.reset=earliest, no commits): elapsed time then runs from
 * subscribe() to the last partition's end, and join_s is the part of it
 * until the group handed this member its partitions (the rebalance
 * callback's assignment).
 *
 * Prints one line of key=value results on stdout:
 *   records bytes partitions elapsed_s records_per_s mb_per_s (MB = 10^6
 *   bytes of record values) cpu_user_s cpu_sys_s cpu_s_per_mb, and with
 *   subscribe also join_s records_per_s_after_join mb_per_s_after_join
 * Exit status: 0 on success, 1 on error, 2 on usage.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "bench_rk.h"
#include "bench_util.h"

#define BATCH 10000

/* Time of the first assignment in subscribe mode (0 until then). */
static int64_t assigned_ns;

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (!assigned_ns)
            assigned_ns = bench_now_ns();
        rd_kafka_assign(rk, parts);
    } else {
        rd_kafka_assign(rk, NULL);
    }
}

static int conf_build(rd_kafka_conf_t *conf, int argc, char **argv, int subscribe)
{
    static const char *const kv[][2] = {
        {"group.id", "gregor-consume-bench"},     {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},    {"enable.partition.eof", "true"},
        {"auto.offset.reset", "earliest"},        {"fetch.max.bytes", "52428800"},
        {"max.partition.fetch.bytes", "4194304"}, {"queued.max.messages.kbytes", "1048576"},
        {"queued.min.messages", "1000000"},       {"fetch.wait.max.ms", "100"},
    };
    if (bench_conf_set("consume_bench", conf, "bootstrap.servers", argv[1]))
        return -1;
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
        if (bench_conf_set("consume_bench", conf, kv[i][0], kv[i][1]))
            return -1;
    if (subscribe) {
        char group[128];
        snprintf(group, sizeof(group), "gregor-consume-bench-sub-%d-%lld", (int)getpid(),
                 (long long)(bench_now_ns() / 1000000));
        if (bench_conf_set("consume_bench", conf, "group.id", group))
            return -1;
        rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    }
    for (int i = 3 + subscribe; i < argc; i++) {
        char key[128];
        const char *eq = strchr(argv[i], '=');
        if (!eq || (size_t)(eq - argv[i]) >= sizeof(key)) {
            fprintf(stderr, "consume_bench: expected key=value, got %s\n", argv[i]);
            return -1;
        }
        snprintf(key, sizeof(key), "%.*s", (int)(eq - argv[i]), argv[i]);
        if (bench_conf_set("consume_bench", conf, key, eq + 1))
            return -1;
    }
    return 0;
}

struct totals {
    uint64_t records;
    uint64_t bytes;
    int eofs;
};

/* Reads until every partition reported its end (or 60 s without data).
 * Returns 0 or -1. */
static int consume_all(rd_kafka_t *rk, int partitions, struct totals *t)
{
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
    rd_kafka_message_t *msgs[BATCH];
    char *seen_eof = calloc((size_t)partitions, 1);
    int64_t last_data = bench_now_ns();
    int rc = -1;
    if (!q || !seen_eof)
        goto out;
    while (t->eofs < partitions) {
        ssize_t n = rd_kafka_consume_batch_queue(q, 100, msgs, BATCH);
        if (n < 0)
            goto out;
        if (n > 0)
            last_data = bench_now_ns();
        else if (bench_now_ns() - last_data > 60 * (int64_t)1000000000) {
            fprintf(stderr, "consume_bench: no data for 60 s\n");
            goto out;
        }
        for (ssize_t i = 0; i < n; i++) {
            rd_kafka_message_t *m = msgs[i];
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                if (m->partition >= 0 && m->partition < partitions && !seen_eof[m->partition]) {
                    seen_eof[m->partition] = 1;
                    t->eofs++;
                }
            } else if (m->err) {
                fprintf(stderr, "consume_bench: %s\n", rd_kafka_message_errstr(m));
            } else {
                t->records++;
                t->bytes += m->len;
            }
            rd_kafka_message_destroy(m);
        }
    }
    rc = 0;
out:
    free(seen_eof);
    if (q)
        rd_kafka_queue_destroy(q);
    return rc;
}

static int run(rd_kafka_t *rk, const char *topic, int subscribe)
{
    int partitions = bench_topic_partitions("consume_bench", rk, topic);
    if (partitions <= 0)
        return 1;
    rd_kafka_topic_partition_list_t *tpl = rd_kafka_topic_partition_list_new(partitions);
    if (subscribe)
        rd_kafka_topic_partition_list_add(tpl, topic, RD_KAFKA_PARTITION_UA);
    else
        for (int i = 0; i < partitions; i++)
            rd_kafka_topic_partition_list_add(tpl, topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
    struct totals t = {0};
    double u0, s0, u1, s1;
    bench_cpu(RUSAGE_SELF, &u0, &s0);
    int64_t t0 = bench_now_ns();
    rd_kafka_resp_err_t e = subscribe ? rd_kafka_subscribe(rk, tpl) : rd_kafka_assign(rk, tpl);
    rd_kafka_topic_partition_list_destroy(tpl);
    if (e) {
        fprintf(stderr, "consume_bench: %s: %s\n", subscribe ? "subscribe" : "assign",
                rd_kafka_err2str(e));
        return 1;
    }
    int rc = consume_all(rk, partitions, &t);
    int64_t t1 = bench_now_ns();
    double elapsed = (double)(t1 - t0) / 1e9;
    bench_cpu(RUSAGE_SELF, &u1, &s1);
    double mb = (double)t.bytes / 1e6;
    printf("records=%" PRIu64 " bytes=%" PRIu64 " partitions=%d elapsed_s=%.3f records_per_s=%.0f"
           " mb_per_s=%.1f cpu_user_s=%.3f cpu_sys_s=%.3f cpu_s_per_mb=%.5f",
           t.records, t.bytes, partitions, elapsed, (double)t.records / elapsed, mb / elapsed,
           u1 - u0, s1 - s0, mb > 0 ? (u1 - u0 + s1 - s0) / mb : 0.0);
    if (subscribe && assigned_ns) {
        double after = (double)(t1 - assigned_ns) / 1e9;
        printf(" join_s=%.3f records_per_s_after_join=%.0f mb_per_s_after_join=%.1f",
               (double)(assigned_ns - t0) / 1e9, (double)t.records / after, mb / after);
    }
    printf("\n");
    if (subscribe)
        rd_kafka_unsubscribe(rk);
    else
        rd_kafka_assign(rk, NULL);
    return rc == 0 && (!subscribe || assigned_ns) ? 0 : 1;
}

int main(int argc, char **argv)
{
    char err[512];
    if (argc < 3) {
        fprintf(stderr,
                "usage: consume_bench BOOTSTRAP TOPIC [subscribe] [librdkafka.key=value...]\n");
        return 2;
    }
    int subscribe = argc > 3 && strcmp(argv[3], "subscribe") == 0;
    bench_malloc_keep();
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (conf_build(conf, argc, argv, subscribe)) {
        rd_kafka_conf_destroy(conf);
        return 2;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "consume_bench: %s\n", err);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    rd_kafka_poll_set_consumer(rk);
    int rc = run(rk, argv[2], subscribe);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}
