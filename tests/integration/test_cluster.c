/*
 * tests/integration/test_cluster.c — three real brokers and a real
 * ZooKeeper (docs/architecture.md §4, §6):
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
 *     metadata and disk;
 *   - the controller killed and restarted before its ZooKeeper session
 *     expires is handled as a bounced broker by the next controller (even
 *     when that is itself again): its leaderships move to other ISR
 *     members, and it rejoins the ISRs.
 * ZooKeeper sessions are short (zookeeper.session.timeout.ms=4000) so that
 * failure detection is quick.
 */
#include "tests/harness/broker_proc.h"
#include "tests/integration/icluster.h"
#include "tests/integration/itest.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const overrides[] = {"zookeeper.session.timeout.ms=4000",
                                        "replica.lag.time.max.ms=6000",
                                        "leader.imbalance.check.interval.seconds=3600", NULL};

static void up(void) { cr_assert(tcluster_fixture_up(3, overrides), "cluster did not start"); }

TestSuite(cluster, .init = up, .fini = itest_fixture_down, .timeout = 300);

static struct tcluster *cl(void) { return tcluster_fixture(); }

static int create_rf3(const char *topic, int partitions)
{
    char *out = NULL;
    int rc = icluster_cli(&out, cl()->bootstrap,
                          "topic create %s --partitions %d --replication-factor 3 "
                          "--config min.insync.replicas=2",
                          topic, partitions);
    if (rc != 0)
        fprintf(stderr, "topic create failed: %s\n", out ? out : "");
    free(out);
    return rc;
}

Test(cluster, every_broker_gives_the_same_metadata_and_placement_is_even)
{
    char topic[64];
    itest_topic("even", topic, sizeof(topic));
    cr_assert_eq(create_rf3(topic, 12), 0);
    for (int b = 0; b < 3; b++) /* each broker applies UpdateMetadata on its own */
        cr_assert(icluster_wait_for(cl(), b, topic, 11, icluster_isr_size_is, 3, 30));
    struct pinfo ref[16];
    int32_t ctrl_ref = -2;
    for (int b = 0; b < 3; b++) {
        struct pinfo pi[16] = {{0}};
        int32_t ctrl = -2;
        cr_assert_eq(
            icluster_describe(broker_proc_bootstrap(cl()->broker[b]), topic, pi, 16, &ctrl), 12);
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

Test(cluster, acks_all_records_survive_sigkill_of_the_leader)
{
    char topic[64];
    itest_topic("failover", topic, sizeof(topic));
    cr_assert_eq(create_rf3(topic, 1), 0);
    cr_assert(icluster_wait_for(cl(), 0, topic, 0, icluster_isr_size_is, 3, 30));
    cr_assert_eq(icluster_produce_acked(cl()->bootstrap, topic, 0, 300, 60), 300);

    struct pinfo pi[1] = {{0}};
    cr_assert_eq(icluster_describe(cl()->bootstrap, topic, pi, 1, NULL), 1);
    int old = pi[0].leader;
    cr_assert_geq(broker_proc_kill(cl()->broker[old]), 0);
    double t0 = icluster_now();
    int via = (old + 1) % 3;
    cr_assert(icluster_wait_for(cl(), via, topic, 0, icluster_led_by_other_than, old, 30),
              "no new leader");
    fprintf(stderr, "cluster: new leader after %.1f s\n", icluster_now() - t0);

    /* the producer carries on through the new leader; the first 300 are
     * still there, in order, followed by the next 300 */
    /* at offsets 300..899 */
    cr_assert_eq(icluster_produce_acked(cl()->bootstrap, topic, 0, 600, 60), 600);

    cr_assert_eq(broker_proc_restart(cl()->broker[old]), 0);
    cr_assert(icluster_wait_for(cl(), via, topic, 0, icluster_isr_size_is, 3, 40),
              "restarted broker did not rejoin");
    rd_kafka_t *c = itest_consumer(cl()->bootstrap, NULL);
    cr_assert_eq(itest_consume_check(c, topic, 0, 300, 30), 300);
    rd_kafka_destroy(c);
    struct pinfo now[1] = {{0}};
    cr_assert_eq(icluster_describe(cl()->bootstrap, topic, now, 1, NULL), 1);
    int16_t err = 0;
    cr_assert_eq(
        itest_list_offset(broker_proc_port(cl()->broker[now[0].leader]), topic, 0, -1, &err), 900,
        "err %d", err);
}

Test(cluster, sigterm_moves_leaderships_away_before_exit)
{
    char topic[64];
    itest_topic("bounce", topic, sizeof(topic));
    cr_assert_eq(create_rf3(topic, 6), 0);
    cr_assert(icluster_wait_for(cl(), 1, topic, 5, icluster_isr_size_is, 3, 30));
    cr_assert(icluster_wait_for(cl(), 1, topic, 0, icluster_isr_size_is, 3, 30));
    double t0 = icluster_now();
    cr_assert_eq(broker_proc_stop(cl()->broker[0], 30), 0);
    double took = icluster_now() - t0;
    cr_assert_eq(broker_proc_exit_status(cl()->broker[0]), 0);
    fprintf(stderr, "cluster: controlled shutdown took %.2f s\n", took);
    /* well under the session timeout: the leaders moved, nobody waited for
     * the session to expire */
    struct pinfo pi[8] = {{0}};
    cr_assert_eq(icluster_describe(broker_proc_bootstrap(cl()->broker[1]), topic, pi, 8, NULL), 6);
    for (int p = 0; p < 6; p++)
        cr_assert(pi[p].leader == 1 || pi[p].leader == 2, "partition %d led by %d", p,
                  pi[p].leader);
    cr_assert_eq(icluster_produce_acked(cl()->bootstrap, topic, 0, 100, 30), 100);
    cr_assert_eq(broker_proc_restart(cl()->broker[0]), 0);
    cr_assert(icluster_wait_for(cl(), 1, topic, 0, icluster_isr_size_is, 3, 40));
}

Test(cluster, acks_all_fails_with_two_of_three_replicas_down)
{
    char topic[64];
    itest_topic("minisr", topic, sizeof(topic));
    cr_assert_eq(create_rf3(topic, 1), 0);
    cr_assert(icluster_wait_for(cl(), 0, topic, 0, icluster_isr_size_is, 3, 30));
    struct pinfo pi[1] = {{0}};
    cr_assert_eq(icluster_describe(cl()->bootstrap, topic, pi, 1, NULL), 1);
    int leader = pi[0].leader;
    int a = (leader + 1) % 3, b = (leader + 2) % 3;
    cr_assert_geq(broker_proc_kill(cl()->broker[a]), 0);
    cr_assert_geq(broker_proc_kill(cl()->broker[b]), 0);
    cr_assert(icluster_wait_for(cl(), leader, topic, 0, icluster_isr_size_is, 1, 30),
              "ISR did not shrink to 1");

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
    cr_assert(icluster_wait_for(cl(), leader, topic, 0, icluster_isr_size_is, 3, 40));
    cr_assert_eq(icluster_produce_acked(cl()->bootstrap, topic, 0, 10, 30), 10);
}

Test(cluster, topic_deleted_through_one_broker_is_gone_everywhere)
{
    char topic[64];
    itest_topic("gone", topic, sizeof(topic));
    cr_assert_eq(create_rf3(topic, 2), 0);
    cr_assert(icluster_wait_for(cl(), 0, topic, 1, icluster_isr_size_is, 3, 30));
    cr_assert_eq(icluster_produce_acked(cl()->bootstrap, topic, 0, 10, 30), 10);
    char *out = NULL;
    cr_assert_eq(
        icluster_cli(&out, broker_proc_bootstrap(cl()->broker[2]), "topic delete %s", topic), 0,
        "%s", out);
    free(out);
    double end = icluster_now() + 20;
    bool gone = false;
    while (!gone && icluster_now() < end) {
        gone = true;
        for (int b = 0; b < 3; b++) {
            char dir[1024];
            struct stat st;
            snprintf(dir, sizeof(dir), "%s/%s-0", broker_proc_data_dir(cl()->broker[b]), topic);
            struct pinfo pi[2];
            if (stat(dir, &st) == 0 ||
                icluster_describe(broker_proc_bootstrap(cl()->broker[b]), topic, pi, 2, NULL) >= 0)
                gone = false;
        }
        if (!gone)
            usleep(200 * 1000);
    }
    cr_assert(gone, "topic still visible or on disk somewhere");
}

Test(cluster, fast_restart_of_the_controller_moves_its_leaderships)
{
    char topic[64];
    itest_topic("ctlbounce", topic, sizeof(topic));
    cr_assert_eq(create_rf3(topic, 3), 0);
    for (int p = 0; p < 3; p++)
        cr_assert(icluster_wait_for(cl(), 0, topic, p, icluster_isr_size_is, 3, 30));
    int32_t ctrl = -1;
    struct pinfo pi[3] = {{0}};
    cr_assert_eq(icluster_describe(cl()->bootstrap, topic, pi, 3, &ctrl), 3);
    cr_assert(ctrl >= 0 && ctrl < 3, "no controller");
    int led = -1;
    for (int p = 0; p < 3; p++)
        if (pi[p].leader == ctrl)
            led = p;
    cr_assert_geq(led, 0, "the controller leads no partition");
    cr_assert_eq(icluster_produce_acked(cl()->bootstrap, topic, led, 50, 30), 50);

    /* SIGKILL and start again at once: its old session (and /controller)
     * lives on for the 4 s session timeout */
    cr_assert_geq(broker_proc_kill(cl()->broker[ctrl]), 0);
    cr_assert_eq(broker_proc_restart(cl()->broker[ctrl]), 0);
    int via = (ctrl + 1) % 3;
    cr_assert(icluster_wait_for(cl(), via, topic, led, icluster_led_by_other_than, ctrl, 30),
              "the restarted controller still leads partition %d at its old epoch", led);
    cr_assert_eq(icluster_produce_acked(cl()->bootstrap, topic, led, 100, 30), 100);
    cr_assert(icluster_wait_for(cl(), via, topic, led, icluster_isr_size_is, 3, 40),
              "the restarted broker did not rejoin the ISR");
    rd_kafka_t *c = itest_consumer(cl()->bootstrap, NULL);
    cr_assert_eq(itest_consume_check(c, topic, led, 50, 30), 50); /* the first 50, in order */
    rd_kafka_destroy(c);
}
