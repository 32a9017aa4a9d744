/*
 * tests/integration/test_cluster.c — three real brokers and a real
 * ZooKeeper (DESIGN.md §4, §6):
 *   - every broker answers Metadata with the same view (controller,
 *     leaders, ISRs) and CreateTopics spreads leaders and replicas evenly;
 *   - acks=all records survive SIGKILL of the partition leader: a follower
 *     from the ISR takes over with a bumped leader epoch, the producer
 *     carries on, every acknowledged record is read back in order, and the
 *     killed broker rejoins the ISR after a restart;
 *   - SIGTERM is a controlled shutdown: leaderships move away before the
 *     process exits, and producing goes on;
 *   - with two of three replicas gone, acks=all never succeeds
 *     (min.insync.replicas=2);
 *   - a topic deleted through one broker disappears from every broker's
 *     metadata and disk.
 * ZooKeeper sessions are short (zookeeper.session.timeout.ms=4000) so that
 * failure detection is quick.
 */
#include "tests/harness/broker_proc.h"
#include "tests/integration/itest.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const overrides[] = {
    "zookeeper.session.timeout.ms=4000", "replica.lag.time.max.ms=6000",
    "leader.imbalance.check.interval.seconds=3600", NULL};

static void up(void) { cr_assert(tcluster_fixture_up(3, overrides), "cluster did not start"); }

TestSuite(cluster, .init = up, .fini = itest_fixture_down, .timeout = 300);

static struct tcluster *cl(void) { return tcluster_fixture(); }

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One partition as a broker's Metadata shows it. */
struct pinfo {
    int32_t leader;
    int n_replicas, n_isr;
    int32_t replicas[8], isr[8];
};

/* Metadata of `topic` from the broker at bootstrap (a single broker).
 * Returns the partition count, or -1. */
static int describe(const char *bootstrap, const char *topic, struct pinfo *out, int max,
                    int32_t *controller)
{
    rd_kafka_t *rk = itest_producer(bootstrap, NULL);
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

static int create_rf3(const char *topic, int partitions)
{
    char *out = NULL;
    char cli[512];
    int rc = harness_shf(&out, 60,
                         "%s --bootstrap-server %s topic create %s --partitions %d "
                         "--replication-factor 3 --config min.insync.replicas=2",
                         harness_bin_path("gregor", cli, sizeof(cli)), cl()->bootstrap, topic,
                         partitions);
    if (rc != 0)
        fprintf(stderr, "topic create failed: %s\n", out ? out : "");
    free(out);
    return rc;
}

/* Waits until partition p of topic, seen from broker `via`, satisfies
 * want(pinfo, arg). */
static bool wait_for(int via, const char *topic, int p, bool (*want)(const struct pinfo *, int),
                     int arg, int timeout_s)
{
    double end = now_s() + timeout_s;
    while (now_s() < end) {
        struct pinfo pi[16] = {{0}};
        if (describe(broker_proc_bootstrap(cl()->broker[via]), topic, pi, 16, NULL) > p &&
            want(&pi[p], arg))
            return true;
        usleep(200 * 1000);
    }
    return false;
}

static bool led_by_other_than(const struct pinfo *pi, int id)
{
    return pi->leader >= 0 && pi->leader != id;
}

static bool isr_size_is(const struct pinfo *pi, int n) { return pi->leader >= 0 && pi->n_isr == n; }

Test(cluster, every_broker_gives_the_same_metadata_and_placement_is_even)
{
    char topic[64];
    itest_topic("even", topic, sizeof(topic));
    cr_assert_eq(create_rf3(topic, 12), 0);
    for (int b = 0; b < 3; b++) /* each broker applies UpdateMetadata on its own */
        cr_assert(wait_for(b, topic, 11, isr_size_is, 3, 30));
    struct pinfo ref[16];
    int32_t ctrl_ref = -2;
    for (int b = 0; b < 3; b++) {
        struct pinfo pi[16] = {{0}};
        int32_t ctrl = -2;
        cr_assert_eq(describe(broker_proc_bootstrap(cl()->broker[b]), topic, pi, 16, &ctrl), 12);
        cr_assert_geq(ctrl, 0, "broker %d names no controller", b);
        if (b == 0) {
            memcpy(ref, pi, sizeof(ref));
            ctrl_ref = ctrl;
            continue;
        }
        cr_assert_eq(ctrl, ctrl_ref, "brokers disagree on the controller");
        for (int p = 0; p < 12; p++)
            cr_assert_eq(pi[p].leader, ref[p].leader, "broker %d: leader of partition %d", b, p);
    }
    int leaders[3] = {0}, replicas[3] = {0};
    for (int p = 0; p < 12; p++) {
        cr_assert_eq(ref[p].n_replicas, 3);
        cr_assert_eq(ref[p].leader, ref[p].replicas[0], "partition %d not on its preferred", p);
        leaders[ref[p].leader]++;
        for (int r = 0; r < 3; r++)
            replicas[ref[p].replicas[r]]++;
    }
    for (int b = 0; b < 3; b++) {
        cr_expect_eq(leaders[b], 4, "broker %d leads %d partitions", b, leaders[b]);
        cr_expect_eq(replicas[b], 12, "broker %d holds %d replicas", b, replicas[b]);
    }
}

/* Produces n records (itest_produce) with acks=all; returns how many were
 * acknowledged. */
static int produce_acked(const char *topic, int32_t partition, int n, int timeout_s)
{
    static const char *const kv[] = {"acks", "all", "message.timeout.ms", "60000",
                                     "retry.backoff.ms", "100", NULL};
    rd_kafka_t *p = itest_producer(cl()->bootstrap, kv);
    cr_assert_not_null(p);
    struct itest_produce_result res = {0};
    (void)itest_produce(p, topic, partition, n, timeout_s, &res);
    rd_kafka_destroy(p);
    return res.delivered;
}

Test(cluster, acks_all_records_survive_sigkill_of_the_leader)
{
    char topic[64];
    itest_topic("failover", topic, sizeof(topic));
    cr_assert_eq(create_rf3(topic, 1), 0);
    cr_assert(wait_for(0, topic, 0, isr_size_is, 3, 30));
    cr_assert_eq(produce_acked(topic, 0, 300, 60), 300);

    struct pinfo pi[1] = {{0}};
    cr_assert_eq(describe(cl()->bootstrap, topic, pi, 1, NULL), 1);
    int old = pi[0].leader;
    cr_assert_geq(broker_proc_kill(cl()->broker[old]), 0);
    double t0 = now_s();
    int via = (old + 1) % 3;
    cr_assert(wait_for(via, topic, 0, led_by_other_than, old, 30), "no new leader");
    fprintf(stderr, "cluster: new leader after %.1f s\n", now_s() - t0);

    /* the producer carries on through the new leader; the first 300 are
     * still there, in order, followed by the next 300 */
    cr_assert_eq(produce_acked(topic, 0, 600, 60), 600); /* at offsets 300..899 */

    cr_assert_eq(broker_proc_restart(cl()->broker[old]), 0);
    cr_assert(wait_for(via, topic, 0, isr_size_is, 3, 40), "restarted broker did not rejoin");
    rd_kafka_t *c = itest_consumer(cl()->bootstrap, NULL);
    cr_assert_eq(itest_consume_check(c, topic, 0, 300, 30), 300);
    rd_kafka_destroy(c);
    struct pinfo now[1] = {{0}};
    cr_assert_eq(describe(cl()->bootstrap, topic, now, 1, NULL), 1);
    int16_t err = 0;
    cr_assert_eq(itest_list_offset(broker_proc_port(cl()->broker[now[0].leader]), topic, 0, -1,
                                   &err), 900, "err %d", err);
}

Test(cluster, sigterm_moves_leaderships_away_before_exit)
{
    char topic[64];
    itest_topic("bounce", topic, sizeof(topic));
    cr_assert_eq(create_rf3(topic, 6), 0);
    cr_assert(wait_for(1, topic, 5, isr_size_is, 3, 30));
    cr_assert(wait_for(1, topic, 0, isr_size_is, 3, 30));
    double t0 = now_s();
    cr_assert_eq(broker_proc_stop(cl()->broker[0], 30), 0);
    double took = now_s() - t0;
    cr_assert_eq(broker_proc_exit_status(cl()->broker[0]), 0);
    fprintf(stderr, "cluster: controlled shutdown took %.2f s\n", took);
    /* well under the session timeout: the leaders moved, nobody waited for
     * the session to expire */
    struct pinfo pi[8] = {{0}};
    cr_assert_eq(describe(broker_proc_bootstrap(cl()->broker[1]), topic, pi, 8, NULL), 6);
    for (int p = 0; p < 6; p++)
        cr_assert(pi[p].leader == 1 || pi[p].leader == 2, "partition %d led by %d", p,
                  pi[p].leader);
    cr_assert_eq(produce_acked(topic, 0, 100, 30), 100);
    cr_assert_eq(broker_proc_restart(cl()->broker[0]), 0);
    cr_assert(wait_for(1, topic, 0, isr_size_is, 3, 40));
}

Test(cluster, acks_all_fails_with_two_of_three_replicas_down)
{
    char topic[64];
    itest_topic("minisr", topic, sizeof(topic));
    cr_assert_eq(create_rf3(topic, 1), 0);
    cr_assert(wait_for(0, topic, 0, isr_size_is, 3, 30));
    struct pinfo pi[1] = {{0}};
    cr_assert_eq(describe(cl()->bootstrap, topic, pi, 1, NULL), 1);
    int leader = pi[0].leader;
    int a = (leader + 1) % 3, b = (leader + 2) % 3;
    cr_assert_geq(broker_proc_kill(cl()->broker[a]), 0);
    cr_assert_geq(broker_proc_kill(cl()->broker[b]), 0);
    cr_assert(wait_for(leader, topic, 0, isr_size_is, 1, 30), "ISR did not shrink to 1");

    static const char *const kv[] = {"acks", "all", "message.timeout.ms", "4000", NULL};
    rd_kafka_t *p = itest_producer(broker_proc_bootstrap(cl()->broker[leader]), kv);
    struct itest_produce_result res = {0};
    (void)itest_produce(p, topic, 0, 20, 20, &res);
    rd_kafka_destroy(p);
    cr_assert_eq(res.delivered, 0, "%d records acknowledged below min.insync.replicas",
                 res.delivered);
    cr_assert_eq(res.failed, 20);
    cr_assert(res.first_err == RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS ||
                  res.first_err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT,
              "unexpected error %s", rd_kafka_err2name(res.first_err));
    cr_assert_eq(broker_proc_restart(cl()->broker[a]), 0);
    cr_assert_eq(broker_proc_restart(cl()->broker[b]), 0);
    cr_assert(wait_for(leader, topic, 0, isr_size_is, 3, 40));
    cr_assert_eq(produce_acked(topic, 0, 10, 30), 10);
}

Test(cluster, topic_deleted_through_one_broker_is_gone_everywhere)
{
    char topic[64];
    itest_topic("gone", topic, sizeof(topic));
    cr_assert_eq(create_rf3(topic, 2), 0);
    cr_assert(wait_for(0, topic, 1, isr_size_is, 3, 30));
    cr_assert_eq(produce_acked(topic, 0, 10, 30), 10);
    char *out = NULL;
    char cli[512];
    cr_assert_eq(harness_shf(&out, 60, "%s --bootstrap-server %s topic delete %s",
                             harness_bin_path("gregor", cli, sizeof(cli)),
                             broker_proc_bootstrap(cl()->broker[2]), topic), 0, "%s", out);
    free(out);
    double end = now_s() + 20;
    bool gone = false;
    while (!gone && now_s() < end) {
        gone = true;
        for (int b = 0; b < 3; b++) {
            char dir[1024];
            struct stat st;
            snprintf(dir, sizeof(dir), "%s/%s-0", broker_proc_data_dir(cl()->broker[b]), topic);
            struct pinfo pi[2];
            if (stat(dir, &st) == 0 ||
                describe(broker_proc_bootstrap(cl()->broker[b]), topic, pi, 2, NULL) >= 0)
                gone = false;
        }
        if (!gone)
            usleep(200 * 1000);
    }
    cr_assert(gone, "topic still visible or on disk somewhere");
}
