/*
 * tests/bench/group_rebalance_bench.c — rebalance time of a consumer group
 * of librdkafka high-level consumers, client timers included.
 *
 *   group_rebalance_bench BOOTSTRAP TOPIC [members=10] [reps=3]
 *                         [heartbeat_ms=100]
 *
 * Each repetition creates MEMBERS consumers of a new group (eager "range"
 * assignment, heartbeat.interval.ms=HEARTBEAT_MS, session.timeout.ms=6000),
 * each served by its own thread (rd_kafka_consumer_poll() with its
 * rebalance callback), then:
 *   join:  times from the first rd_kafka_subscribe() to the moment every
 *          member holds a non-empty assignment and the assignments add up to
 *          the partitions of TOPIC (one generation: with eager assignment a
 *          member holds nothing between revoke and assign);
 *   leave: the last member calls rd_kafka_consumer_close(); times from that
 *          call to the same condition over the remaining members.
 * TOPIC should have at least MEMBERS partitions. Unlike raw_group_bench this
 * includes librdkafka's own timers (the heartbeat interval above all: the
 * remaining members learn of the rebalance from a heartbeat).
 *
 * Prints one line of key=value (times in ms):
 *   members reps heartbeat_interval_ms join_ms_median join_ms_max
 *   join_ms_runs leave_ms_median leave_ms_max leave_ms_runs
 * Exit status: 0 on success, 1 on error, 2 on usage.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "bench_rk.h"
#include "bench_util.h"

#define MAX_MEMBERS 64
#define DEADLINE_NS (60 * (int64_t)1000000000)

struct member {
    rd_kafka_t *rk;
    pthread_t thread;
    atomic_int assigned; /* partitions held now */
    atomic_int leave;    /* set by main: close now */
    atomic_int stop;     /* set by main: close and end the thread */
};

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct member *m = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        rd_kafka_assign(rk, parts);
        atomic_store(&m->assigned, parts->cnt);
    } else {
        atomic_store(&m->assigned, 0);
        rd_kafka_assign(rk, NULL);
    }
}

static void *serve(void *arg)
{
    struct member *m = arg;
    while (!atomic_load(&m->stop) && !atomic_load(&m->leave)) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(m->rk, 20);
        if (msg)
            rd_kafka_message_destroy(msg);
    }
    rd_kafka_consumer_close(m->rk);
    return NULL;
}

static rd_kafka_t *member_new(struct member *m, const char *bootstrap, const char *group,
                              const char *heartbeat_ms)
{
    static const char *const kv[][2] = {
        {"session.timeout.ms", "6000"},  {"partition.assignment.strategy", "range"},
        {"enable.auto.commit", "false"}, {"auto.offset.reset", "latest"},
        {"fetch.wait.max.ms", "100"},
    };
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int bad = rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof(err)) ||
              rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err)) ||
              rd_kafka_conf_set(conf, "heartbeat.interval.ms", heartbeat_ms, err, sizeof(err));
    for (size_t i = 0; !bad && i < sizeof(kv) / sizeof(kv[0]); i++)
        bad = rd_kafka_conf_set(conf, kv[i][0], kv[i][1], err, sizeof(err)) != RD_KAFKA_CONF_OK;
    if (bad) {
        fprintf(stderr, "group_rebalance_bench: %s\n", err);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_opaque(conf, m);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "group_rebalance_bench: %s\n", err);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

/* Waits until members 0..active-1 each hold partitions adding up to
 * partitions. Returns the time that became so, or -1. */
static int64_t wait_stable(struct member *m, int active, int partitions)
{
    int64_t deadline = bench_now_ns() + DEADLINE_NS;
    while (bench_now_ns() < deadline) {
        int sum = 0, empty = 0;
        for (int i = 0; i < active; i++) {
            int a = atomic_load(&m[i].assigned);
            sum += a;
            empty |= a == 0;
        }
        if (!empty && sum == partitions)
            return bench_now_ns();
        usleep(200);
    }
    fprintf(stderr, "group_rebalance_bench: group not stable after 60 s\n");
    return -1;
}

static int run_rep(struct member *m, int n, const char *bootstrap, const char *topic,
                   const char *group, const char *heartbeat_ms, double *join_ms, double *leave_ms)
{
    int rc = -1, started = 0, partitions = -1;
    for (int i = 0; i < n; i++) {
        memset(&m[i], 0, sizeof(m[i]));
        if (!(m[i].rk = member_new(&m[i], bootstrap, group, heartbeat_ms)))
            goto out;
    }
    partitions = bench_topic_partitions("group_rebalance_bench", m[0].rk, topic);
    if (partitions < n) {
        fprintf(stderr, "group_rebalance_bench: %s has %d partitions, fewer than %d members\n",
                topic, partitions, n);
        goto out;
    }
    rd_kafka_topic_partition_list_t *tpl = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(tpl, topic, RD_KAFKA_PARTITION_UA);
    for (; started < n; started++)
        if (pthread_create(&m[started].thread, NULL, serve, &m[started]))
            break;
    int64_t t0 = bench_now_ns();
    int bad = started < n;
    for (int i = 0; i < n && !bad; i++)
        bad = rd_kafka_subscribe(m[i].rk, tpl) != RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_topic_partition_list_destroy(tpl);
    int64_t t1 = bad ? -1 : wait_stable(m, n, partitions);
    if (t1 < 0)
        goto out;
    *join_ms = (double)(t1 - t0) / 1e6;
    int64_t t2 = bench_now_ns();
    atomic_store(&m[n - 1].leave, 1);
    int64_t t3 = wait_stable(m, n - 1, partitions);
    if (t3 < 0)
        goto out;
    *leave_ms = (double)(t3 - t2) / 1e6;
    rc = 0;
out:
    for (int i = 0; i < started; i++)
        atomic_store(&m[i].stop, 1);
    for (int i = 0; i < started; i++)
        pthread_join(m[i].thread, NULL);
    for (int i = 0; i < n; i++)
        if (m[i].rk)
            rd_kafka_destroy(m[i].rk);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void print_series(const char *name, const double *v, int n)
{
    double sorted[256];
    memcpy(sorted, v, (size_t)n * sizeof(*v));
    qsort(sorted, (size_t)n, sizeof(*sorted), cmp_double);
    printf(" %s_ms_median=%.1f %s_ms_max=%.1f %s_ms_runs=", name, sorted[(n - 1) / 2], name,
           sorted[n - 1], name);
    for (int i = 0; i < n; i++)
        printf("%s%.1f", i ? "," : "", v[i]);
}

int main(int argc, char **argv)
{
    static struct member m[MAX_MEMBERS];
    int n = 10, reps = 3;
    const char *heartbeat_ms = "100";
    if (argc < 3) {
        fprintf(stderr, "usage: group_rebalance_bench BOOTSTRAP TOPIC [members=10] [reps=3]"
                        " [heartbeat_ms=100]\n");
        return 2;
    }
    for (int i = 3; i < argc; i++) {
        if (strncmp(argv[i], "members=", 8) == 0)
            n = atoi(argv[i] + 8);
        else if (strncmp(argv[i], "reps=", 5) == 0)
            reps = atoi(argv[i] + 5);
        else if (strncmp(argv[i], "heartbeat_ms=", 13) == 0)
            heartbeat_ms = argv[i] + 13;
        else
            return 2;
    }
    if (n < 2 || n > MAX_MEMBERS || reps < 1 || reps > 256 || atoi(heartbeat_ms) < 1)
        return 2;
    double join[256], leave[256];
    char group[128];
    for (int rep = 0; rep < reps; rep++) {
        snprintf(group, sizeof(group), "gregor-rebalance-bench-%d-%d", (int)getpid(), rep);
        if (run_rep(m, n, argv[1], argv[2], group, heartbeat_ms, &join[rep], &leave[rep]))
            return 1;
    }
    printf("members=%d reps=%d heartbeat_interval_ms=%s", n, reps, heartbeat_ms);
    print_series("join", join, reps);
    print_series("leave", leave, reps);
    printf("\n");
    return 0;
}
