/*
 * tests/bench/bench_rk.h — librdkafka helpers shared by the bench programs
 * that use it (produce_bench, consume_bench, commit_bench,
 * group_rebalance_bench): setting a configuration key with a message naming
 * the program, and a topic's partition count from Metadata.
 */
#ifndef GREGOR_TESTS_BENCH_RK_H
#define GREGOR_TESTS_BENCH_RK_H

#include <stdio.h>

#include <librdkafka/rdkafka.h>

/* Sets key=val; on failure prints "PROG: key=val: reason" and returns -1. */
static inline int bench_conf_set(const char *prog, rd_kafka_conf_t *conf, const char *key,
                                 const char *val)
{
    char err[256];
    if (rd_kafka_conf_set(conf, key, val, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "%s: %s=%s: %s\n", prog, key, val, err);
        return -1;
    }
    return 0;
}

/* The partition count of topic, or -1 (with "PROG: metadata of TOPIC: reason"). */
static inline int bench_topic_partitions(const char *prog, rd_kafka_t *rk, const char *topic)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int n = -1;
    if (!rkt)
        return -1;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 && md->topics[0].err == 0)
        n = md->topics[0].partition_cnt;
    else
        fprintf(stderr, "%s: metadata of %s: %s\n", prog, topic,
                e ? rd_kafka_err2str(e) : rd_kafka_err2str(md->topics[0].err));
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return n;
}

#endif
