/*
 * tests/bench/produce_bench.c — produce throughput and delivery latency
 * against a running broker, through librdkafka with batching.
 *
 *   produce_bench BOOTSTRAP TOPIC RECORD_SIZE COUNT ACKS PARTITIONS [opt=value...]
 *
 * Creates TOPIC with PARTITIONS partitions (replication factor 1; an existing
 * topic is used as it is), waits until every partition has a leader, then
 * produces COUNT records of RECORD_SIZE random bytes (no key), record i to
 * partition i % PARTITIONS, and waits for every delivery report.
 *
 * Options (the rest are passed to librdkafka as configuration properties,
 * e.g. linger.ms=0 or batch.size=65536):
 *   rate=N      records/s to offer (0 = as fast as possible, the default);
 *               record i is due at start + i/N; the producer sleeps in
 *               steps of at least 100 us and sends what is due in a burst
 *   seconds=S   stop offering records after S seconds even if COUNT is not
 *               reached (0 = no limit)
 *   txn_ms=N    transactional: init_transactions() first (transactional.id
 *               produce-bench-<pid> unless given), then records go in
 *               transactions committed every N ms of offering (checked every
 *               64 records) and at the end; commit_transaction() latency
 *               (which includes flushing the transaction's records) is
 *               reported as txns, commit_p50_ms, commit_p99_ms, commit_max_ms
 *
 * Latency is measured per record from the produce() call to its delivery
 * report (rd_kafka_message_latency(): librdkafka's own enqueue timestamp, 1 us
 * resolution), served by a dedicated poller thread so that the report is
 * seen as soon as librdkafka has it. CPU time is this whole process (all librdkafka
 * threads), from the first produce() to the last delivery report.
 *
 * The process keeps freed memory (bench_malloc_keep() in bench_util.h).
 *
 * Prints one line of key=value results on stdout:
 *   records bytes errors elapsed_s records_per_s mb_per_s (MB = 10^6 bytes of
 *   record values) p50_ms p99_ms p999_ms max_ms cpu_user_s cpu_sys_s
 *   cpu_s_per_mb (and with txn_ms the commit figures above)
 * Exit status: 0 when every record was delivered, 1 otherwise, 2 on usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "bench_rk.h"
#include "bench_util.h"

struct prod {
    rd_kafka_t *rk;
    struct bench_hist hist; /* written by the poller thread only */
    atomic_uint_fast64_t delivered;
    atomic_uint_fast64_t failed;
    atomic_int stop;
    char first_err[256];
    struct bench_hist commits; /* txn_ms: commit_transaction() latency, offering thread */
    uint64_t txns;
};

static void prod_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct prod *p = opaque;
    /* librdkafka stamped the record at produce(); this reads the clock now */
    bench_hist_add(&p->hist, rd_kafka_message_latency(m) * 1000);
    if (m->err) {
        if (atomic_fetch_add(&p->failed, 1) == 0)
            snprintf(p->first_err, sizeof(p->first_err), "%s", rd_kafka_err2str(m->err));
    } else {
        atomic_fetch_add(&p->delivered, 1);
    }
}

static void *prod_poller(void *arg)
{
    struct prod *p = arg;
    while (!atomic_load(&p->stop))
        rd_kafka_poll(p->rk, 20);
    rd_kafka_poll(p->rk, 0);
    return NULL;
}

/* Creates the topic (an existing one is fine). Returns 0 or -1. */
static int topic_create(rd_kafka_t *rk, const char *topic, int partitions)
{
    char err[256];
    int rc = -1;
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, 1, err, sizeof(err));
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_event_t *ev = NULL;
    if (!nt) {
        fprintf(stderr, "produce_bench: NewTopic: %s\n", err);
        goto out;
    }
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    ev = rd_kafka_queue_poll(q, 30000);
    if (!ev || rd_kafka_event_error(ev)) {
        fprintf(stderr, "produce_bench: CreateTopics: %s\n",
                ev ? rd_kafka_event_error_string(ev) : "timed out");
        goto out;
    }
    size_t n = 0;
    const rd_kafka_topic_result_t **res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
        if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            fprintf(stderr, "produce_bench: create %s: %s\n", topic, rd_kafka_err2str(e));
            goto out;
        }
    }
    rc = 0;
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    return rc;
}

/* Waits up to 30 s until the topic has `partitions` partitions, each with a
 * leader. Returns 0 or -1. */
static int topic_wait_ready(rd_kafka_t *rk, rd_kafka_topic_t *rkt, int partitions)
{
    for (int tries = 0; tries < 300; tries++) {
        const struct rd_kafka_metadata *md = NULL;
        int ready = 0;
        if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (md->topic_cnt == 1 && md->topics[0].err == 0 && md->topics[0].partition_cnt > 0 &&
                md->topics[0].partition_cnt < partitions) {
                fprintf(stderr, "produce_bench: topic %s exists with %d partitions, not %d\n",
                        rd_kafka_topic_name(rkt), md->topics[0].partition_cnt, partitions);
                rd_kafka_metadata_destroy(md);
                return -1;
            }
            if (md->topic_cnt == 1 && md->topics[0].err == 0 &&
                md->topics[0].partition_cnt >= partitions) {
                ready = 1;
                for (int i = 0; i < md->topics[0].partition_cnt; i++)
                    if (md->topics[0].partitions[i].leader < 0 || md->topics[0].partitions[i].err)
                        ready = 0;
            }
            rd_kafka_metadata_destroy(md);
        }
        if (ready)
            return 0;
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "produce_bench: topic %s not ready after 30 s\n", rd_kafka_topic_name(rkt));
    return -1;
}

struct run_opts {
    long size;
    uint64_t count;
    int partitions;
    double rate;
    double seconds;
    double txn_ms; /* > 0: transactional */
};

/* Commits the open transaction (timing it) and, unless last, begins the next. 0 or -1. */
static int txn_roll(struct prod *p, int last)
{
    int64_t t = bench_now_ns();
    rd_kafka_error_t *e = rd_kafka_commit_transaction(p->rk, 60000);
    if (e) {
        fprintf(stderr, "produce_bench: commit_transaction: %s\n", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        return -1;
    }
    bench_hist_add(&p->commits, bench_now_ns() - t);
    p->txns++;
    if (!last && (e = rd_kafka_begin_transaction(p->rk))) {
        fprintf(stderr, "produce_bench: begin_transaction: %s\n", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        return -1;
    }
    return 0;
}

/* Offers the records; returns how many produce() accepted. */
static uint64_t prod_offer(struct prod *p, rd_kafka_topic_t *rkt, const struct run_opts *o,
                           const char *payload, int64_t t0)
{
    uint64_t i;
    int64_t deadline = o->seconds > 0 ? t0 + (int64_t)(o->seconds * 1e9) : INT64_MAX;
    int64_t txn_ns = (int64_t)(o->txn_ms * 1e6), txn_start = t0;
    for (i = 0; i < o->count; i++) {
        if (txn_ns > 0 && (i & 63) == 0 && bench_now_ns() - txn_start >= txn_ns) {
            if (txn_roll(p, 0))
                return i;
            txn_start = bench_now_ns();
        }
        if (o->rate > 0) {
            /* Sleep until 100 us past the due time, then send everything
             * due in one burst: one wakeup per 100 us, not per record. */
            int64_t due = t0 + (int64_t)((double)i * 1e9 / o->rate);
            if (bench_now_ns() < due)
                bench_sleep_until_ns(due + 100000);
        }
        if ((i & 1023) == 0 && bench_now_ns() > deadline)
            break;
        for (;;) {
            if (rd_kafka_produce(rkt, (int32_t)(i % (uint64_t)o->partitions), RD_KAFKA_MSG_F_COPY,
                                 (void *)payload, (size_t)o->size, NULL, 0, NULL) == 0)
                break;
            if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                fprintf(stderr, "produce_bench: produce: %s\n",
                        rd_kafka_err2str(rd_kafka_last_error()));
                return i;
            }
            struct timespec ts = {0, 200 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    return i;
}

static void prod_wait_all(struct prod *p, uint64_t offered)
{
    struct timespec ts = {0, 200 * 1000};
    while (atomic_load(&p->delivered) + atomic_load(&p->failed) < offered)
        nanosleep(&ts, NULL);
}

static void prod_report(struct prod *p, const struct run_opts *o, uint64_t offered, double elapsed,
                        double cpu_user, double cpu_sys)
{
    uint64_t ok = atomic_load(&p->delivered);
    double mb = (double)ok * (double)o->size / 1e6;
    printf("records=%" PRIu64 " bytes=%" PRIu64 " errors=%" PRIu64 " elapsed_s=%.3f"
           " records_per_s=%.0f mb_per_s=%.1f p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f"
           " max_ms=%.3f cpu_user_s=%.3f cpu_sys_s=%.3f cpu_s_per_mb=%.5f\n",
           ok, ok * (uint64_t)o->size, (uint64_t)atomic_load(&p->failed), elapsed,
           (double)ok / elapsed, mb / elapsed, bench_hist_quantile_ms(&p->hist, 0.50),
           bench_hist_quantile_ms(&p->hist, 0.99), bench_hist_quantile_ms(&p->hist, 0.999),
           (double)p->hist.max_ns / 1e6, cpu_user, cpu_sys,
           mb > 0 ? (cpu_user + cpu_sys) / mb : 0.0);
    if (atomic_load(&p->failed))
        fprintf(stderr, "produce_bench: %" PRIu64 " of %" PRIu64 " records failed, first: %s\n",
                (uint64_t)atomic_load(&p->failed), offered, p->first_err);
}

/* Producer defaults for a throughput run; command-line options override. */
static int conf_defaults(rd_kafka_conf_t *conf, const char *bootstrap, const char *acks)
{
    static const char *const kv[][2] = {
        {"linger.ms", "5"},
        {"batch.size", "1048576"},
        {"batch.num.messages", "1000000"},
        {"message.max.bytes", "1100000"},
        {"queue.buffering.max.messages", "1000000"},
        {"queue.buffering.max.kbytes", "1048576"},
        {"compression.codec", "none"},
        {"enable.idempotence", "false"},
        {"max.in.flight.requests.per.connection", "5"},
    };
    if (bench_conf_set("produce_bench", conf, "bootstrap.servers", bootstrap) ||
        bench_conf_set("produce_bench", conf, "acks", acks))
        return -1;
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
        if (bench_conf_set("produce_bench", conf, kv[i][0], kv[i][1]))
            return -1;
    return 0;
}

static int parse_opts(int argc, char **argv, struct run_opts *o, rd_kafka_conf_t *conf)
{
    o->size = strtol(argv[3], NULL, 10);
    o->count = strtoull(argv[4], NULL, 10);
    o->partitions = atoi(argv[6]);
    if (o->size <= 0 || o->count == 0 || o->partitions <= 0) {
        fprintf(stderr, "produce_bench: bad RECORD_SIZE, COUNT or PARTITIONS\n");
        return -1;
    }
    for (int i = 7; i < argc; i++) {
        char key[128];
        const char *eq = strchr(argv[i], '=');
        if (!eq || (size_t)(eq - argv[i]) >= sizeof(key)) {
            fprintf(stderr, "produce_bench: expected key=value, got %s\n", argv[i]);
            return -1;
        }
        snprintf(key, sizeof(key), "%.*s", (int)(eq - argv[i]), argv[i]);
        if (strcmp(key, "rate") == 0)
            o->rate = strtod(eq + 1, NULL);
        else if (strcmp(key, "seconds") == 0)
            o->seconds = strtod(eq + 1, NULL);
        else if (strcmp(key, "txn_ms") == 0)
            o->txn_ms = strtod(eq + 1, NULL);
        else if (bench_conf_set("produce_bench", conf, key, eq + 1))
            return -1;
    }
    if (o->txn_ms > 0) {
        char id[128];
        size_t n = sizeof(id);
        if (rd_kafka_conf_get(conf, "transactional.id", id, &n) != RD_KAFKA_CONF_OK || !id[0])
            snprintf(id, sizeof(id), "produce-bench-%d", (int)getpid());
        if (bench_conf_set("produce_bench", conf, "transactional.id", id) ||
            bench_conf_set("produce_bench", conf, "enable.idempotence", "true"))
            return -1;
    }
    return 0;
}

static int run(struct prod *p, const char *topic, const struct run_opts *o)
{
    int rc = 1;
    char *payload = malloc((size_t)o->size);
    rd_kafka_topic_t *rkt = NULL;
    pthread_t poller;
    /* Create first: a topic handle asks for metadata, which would have the
     * broker auto-create the topic with its default partition count. */
    if (!payload || topic_create(p->rk, topic, o->partitions))
        goto out;
    rkt = rd_kafka_topic_new(p->rk, topic, NULL);
    if (!rkt || topic_wait_ready(p->rk, rkt, o->partitions))
        goto out;
    srand(42);
    for (long i = 0; i < o->size; i++)
        payload[i] = (char)(rand() & 0xff);
    if (pthread_create(&poller, NULL, prod_poller, p) != 0)
        goto out;
    double u0, s0, u1, s1;
    rd_kafka_error_t *te = NULL;
    if (o->txn_ms > 0 && ((te = rd_kafka_init_transactions(p->rk, 60000)) ||
                          (te = rd_kafka_begin_transaction(p->rk)))) {
        fprintf(stderr, "produce_bench: init/begin transaction: %s\n", rd_kafka_error_string(te));
        rd_kafka_error_destroy(te);
        atomic_store(&p->stop, 1);
        pthread_join(poller, NULL);
        goto out;
    }
    bench_cpu(RUSAGE_SELF, &u0, &s0);
    int64_t t0 = bench_now_ns();
    uint64_t offered = prod_offer(p, rkt, o, payload, t0);
    if (o->txn_ms > 0 && txn_roll(p, 1))
        atomic_fetch_add(&p->failed, 1);
    prod_wait_all(p, offered);
    double elapsed = (double)(bench_now_ns() - t0) / 1e9;
    bench_cpu(RUSAGE_SELF, &u1, &s1);
    atomic_store(&p->stop, 1);
    pthread_join(poller, NULL);
    prod_report(p, o, offered, elapsed, u1 - u0, s1 - s0);
    if (o->txn_ms > 0)
        printf("txns=%" PRIu64 " commit_p50_ms=%.3f commit_p99_ms=%.3f commit_max_ms=%.3f\n",
               p->txns, bench_hist_quantile_ms(&p->commits, 0.50),
               bench_hist_quantile_ms(&p->commits, 0.99), (double)p->commits.max_ns / 1e6);
    rc = (atomic_load(&p->failed) == 0 && offered == atomic_load(&p->delivered)) ? 0 : 1;
out:
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    free(payload);
    return rc;
}

int main(int argc, char **argv)
{
    struct prod p;
    struct run_opts o = {0};
    char err[512];
    if (argc < 7) {
        fprintf(stderr, "usage: produce_bench BOOTSTRAP TOPIC RECORD_SIZE COUNT ACKS PARTITIONS"
                        " [rate=N] [seconds=S] [txn_ms=N] [librdkafka.key=value...]\n");
        return 2;
    }
    bench_malloc_keep();
    memset(&p, 0, sizeof(p));
    if (bench_hist_init(&p.hist) || bench_hist_init(&p.commits))
        return 1;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (conf_defaults(conf, argv[1], argv[5]) || parse_opts(argc, argv, &o, conf)) {
        rd_kafka_conf_destroy(conf);
        return 2;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, prod_on_delivery);
    rd_kafka_conf_set_opaque(conf, &p);
    p.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!p.rk) {
        fprintf(stderr, "produce_bench: %s\n", err);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    int rc = run(&p, argv[2], &o);
    rd_kafka_destroy(p.rk);
    bench_hist_destroy(&p.hist);
    bench_hist_destroy(&p.commits);
    return rc;
}
