/*
 * tests/bench/commit_bench.c — offset commits acknowledged per second
 * through librdkafka's consumer.
 *
 *   commit_bench BOOTSTRAP TOPIC all|single [seconds=3] [window=64]
 *
 * One consumer of a new group (no subscription: commits as a simple
 * consumer, generation -1) commits asynchronously for SECONDS, keeping at
 * most WINDOW commits unanswered. It calls rd_kafka_commit_queue(), the
 * asynchronous rd_kafka_commit() with its callbacks on a queue of their own,
 * served by rd_kafka_queue_poll_callback(), which returns as soon as a
 * callback ran (rd_kafka_consumer_poll() would wait out its timeout for a
 * message):
 *   all     every call commits an offset for every partition of TOPIC;
 *   single  every call commits one partition's offset (partitions in turn).
 * Offsets grow by one per call. A commit counts when its offset commit
 * callback reports no error for the call and for each partition; the run
 * then waits for the callbacks still due. One synchronous commit of every
 * partition before the timed part finds the group coordinator.
 *
 * Prints one line of key=value:
 *   mode partitions window commits offsets errors elapsed_s commits_per_s
 *   offsets_per_s cpu_user_s cpu_sys_s
 * Exit status: 0 on success, 1 on error or when any commit failed, 2 on usage.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "bench_rk.h"
#include "bench_util.h"

struct counts {
    uint64_t answered, commits, offsets, errors;
};

static void on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    struct counts *c = opaque;
    int failed = err != RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int i = 0; offsets && i < offsets->cnt; i++)
        failed |= offsets->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR;
    if (failed && c->errors == 0)
        fprintf(stderr, "commit_bench: commit failed: %s\n", rd_kafka_err2str(err));
    c->answered++;
    if (failed) {
        c->errors++;
    } else {
        c->commits++;
        c->offsets += offsets ? (uint64_t)offsets->cnt : 0;
    }
}

int main(int argc, char **argv)
{
    static struct counts c;
    double seconds = 3;
    int window = 64;
    char err[512], group[128];
    if (argc < 4 || (strcmp(argv[3], "all") != 0 && strcmp(argv[3], "single") != 0)) {
        fprintf(stderr, "usage: commit_bench BOOTSTRAP TOPIC all|single [seconds=3] [window=64]\n");
        return 2;
    }
    int all = strcmp(argv[3], "all") == 0;
    for (int i = 4; i < argc; i++) {
        if (strncmp(argv[i], "seconds=", 8) == 0)
            seconds = atof(argv[i] + 8);
        else if (strncmp(argv[i], "window=", 7) == 0)
            window = atoi(argv[i] + 7);
        else
            return 2;
    }
    if (seconds <= 0 || window < 1)
        return 2;
    bench_malloc_keep();
    snprintf(group, sizeof(group), "gregor-commit-bench-%d-%s", (int)getpid(), argv[3]);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (bench_conf_set("commit_bench", conf, "bootstrap.servers", argv[1]) ||
        bench_conf_set("commit_bench", conf, "group.id", group) ||
        bench_conf_set("commit_bench", conf, "enable.auto.commit", "false")) {
        rd_kafka_conf_destroy(conf);
        return 2;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "commit_bench: %s\n", err);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    rd_kafka_poll_set_consumer(rk);
    int partitions = bench_topic_partitions("commit_bench", rk, argv[2]);
    if (partitions <= 0) {
        fprintf(stderr, "commit_bench: no metadata for %s\n", argv[2]);
        rd_kafka_destroy(rk);
        return 1;
    }
    rd_kafka_topic_partition_list_t *tpl = rd_kafka_topic_partition_list_new(partitions);
    for (int i = 0; i < partitions; i++)
        rd_kafka_topic_partition_list_add(tpl, argv[2], i)->offset = 0;

    rd_kafka_resp_err_t e = rd_kafka_commit(rk, tpl, 0);
    if (e) {
        fprintf(stderr, "commit_bench: first commit: %s\n", rd_kafka_err2str(e));
        rd_kafka_topic_partition_list_destroy(tpl);
        rd_kafka_destroy(rk);
        return 1;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    double u0, s0, u1, s1;
    bench_cpu(RUSAGE_SELF, &u0, &s0);
    int64_t t0 = bench_now_ns(), end = t0 + (int64_t)(seconds * 1e9);
    int64_t last_answer = t0;
    uint64_t issued = 0;
    int rc = 0;
    while (rc == 0) {
        int64_t now = bench_now_ns();
        int sending = now < end;
        if (!sending && c.answered == issued)
            break;
        while (sending && issued - c.answered < (uint64_t)window) {
            int64_t off = (int64_t)issued + 1;
            if (all) {
                for (int i = 0; i < partitions; i++)
                    tpl->elems[i].offset = off;
                rc = rd_kafka_commit_queue(rk, tpl, q, on_commit, &c) ? -1 : 0;
            } else {
                rd_kafka_topic_partition_list_t *one = rd_kafka_topic_partition_list_new(1);
                rd_kafka_topic_partition_list_add(one, argv[2], (int32_t)(issued % partitions))
                    ->offset = off;
                rc = rd_kafka_commit_queue(rk, one, q, on_commit, &c) ? -1 : 0;
                rd_kafka_topic_partition_list_destroy(one);
            }
            if (rc) {
                fprintf(stderr, "commit_bench: rd_kafka_commit_queue refused\n");
                break;
            }
            issued++;
        }
        uint64_t before = c.answered;
        rd_kafka_queue_poll_callback(q, 10);
        if (c.answered != before)
            last_answer = bench_now_ns();
        else if (bench_now_ns() - last_answer > 30 * (int64_t)1000000000) {
            fprintf(stderr, "commit_bench: no commit answered for 30 s\n");
            rc = -1;
        }
    }
    double elapsed = (double)(bench_now_ns() - t0) / 1e9;
    bench_cpu(RUSAGE_SELF, &u1, &s1);
    printf("mode=%s partitions=%d window=%d commits=%" PRIu64 " offsets=%" PRIu64 " errors=%" PRIu64
           " elapsed_s=%.3f commits_per_s=%.0f offsets_per_s=%.0f"
           " cpu_user_s=%.3f cpu_sys_s=%.3f\n",
           argv[3], partitions, window, c.commits, c.offsets, c.errors, elapsed,
           (double)c.commits / elapsed, (double)c.offsets / elapsed, u1 - u0, s1 - s0);
    rd_kafka_topic_partition_list_destroy(tpl);
    rd_kafka_queue_destroy(q);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc || c.errors ? 1 : 0;
}
