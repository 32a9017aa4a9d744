/*
 * tests/integration/icluster.c — helpers for the three-broker tests (see
 * icluster.h).
 */
#include "tests/integration/icluster.h"
#include "tests/harness/broker_proc.h"
#include "tests/integration/itest.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double icluster_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int icluster_describe(const char *bootstrap, const char *topic, struct pinfo *out, int max,
                      int32_t *controller)
{
    /* a describe must not create the topic (a deleted one would come back) */
    static const char *const kv[] = {"allow.auto.create.topics", "false", NULL};
    rd_kafka_t *rk = itest_producer(bootstrap, kv);
    if (!rk)
        return -1;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int n = -1;
    if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const rd_kafka_metadata_topic_t *t = &md->topics[0];
        n = t->partition_cnt < max ? t->partition_cnt : max;
        for (int i = 0; i < n; i++) {
            const rd_kafka_metadata_partition_t *p = &t->partitions[i];
            struct pinfo *pi = &out[p->id < max ? p->id : 0];
            pi->leader = p->leader;
            pi->n_replicas = p->replica_cnt < 8 ? p->replica_cnt : 8;
            pi->n_isr = p->isr_cnt < 8 ? p->isr_cnt : 8;
            memcpy(pi->replicas, p->replicas, sizeof(int32_t) * (size_t)pi->n_replicas);
            memcpy(pi->isr, p->isrs, sizeof(int32_t) * (size_t)pi->n_isr);
        }
    }
    if (md)
        rd_kafka_metadata_destroy(md);
    if (controller)
        *controller = rd_kafka_controllerid(rk, 2000);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return n;
}

bool icluster_wait_for(struct tcluster *tc, int via, const char *topic, int p,
                       bool (*want)(const struct pinfo *, int), int arg, int timeout_s)
{
    double end = icluster_now() + timeout_s;
    while (icluster_now() < end) {
        struct pinfo pi[16] = {{0}};
        if (icluster_describe(broker_proc_bootstrap(tc->broker[via]), topic, pi, 16, NULL) > p &&
            want(&pi[p], arg))
            return true;
        usleep(200 * 1000);
    }
    return false;
}

bool icluster_led_by_other_than(const struct pinfo *pi, int id)
{
    return pi->leader >= 0 && pi->leader != id;
}

bool icluster_isr_size_is(const struct pinfo *pi, int n)
{
    return pi->leader >= 0 && pi->n_isr == n;
}

bool icluster_offline(const struct pinfo *pi, int unused)
{
    (void)unused;
    return pi->leader < 0;
}

bool icluster_led_by(const struct pinfo *pi, int id) { return pi->leader == id; }

int icluster_produce_acked(const char *bootstrap, const char *topic, int32_t partition, int n,
                           int timeout_s)
{
    static const char *const kv[] = {
        "acks", "all", "message.timeout.ms", "60000", "retry.backoff.ms", "100", NULL};
    rd_kafka_t *p = itest_producer(bootstrap, kv);
    if (!p)
        return 0;
    struct itest_produce_result res = {0};
    (void)itest_produce(p, topic, partition, n, timeout_s, &res);
    rd_kafka_destroy(p);
    return res.delivered;
}

int icluster_cli(char **out, const char *bootstrap, const char *fmt, ...)
{
    char args[2048], cli[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(args))
        return -1;
    char *buf = NULL;
    int rc = harness_shf(&buf, 60, "%s --bootstrap-server %s %s",
                         harness_bin_path("gregor", cli, sizeof(cli)), bootstrap, args);
    if (out)
        *out = buf;
    else
        free(buf);
    return rc;
}
