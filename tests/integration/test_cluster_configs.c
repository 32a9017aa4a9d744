/*
 * tests/integration/test_cluster_configs.c — topic configs across three
 * real brokers and a real ZooKeeper:
 *   - a config change made through one broker reaches the others' live
 *     topics (config change notifications, /config/changes): the leader
 *     enforces a max.message.bytes set through another broker;
 *   - unclean.leader.election.enable as a topic override: a partition
 *     whose only ISR member is dead stays offline while a live replica out
 *     of the ISR could lead; enabling the override on the topic elects that
 *     replica at once (ISR = {it}, bumped epoch) and writes go on;
 *   - the same with unclean.leader.election.enable=true as the cluster-wide
 *     dynamic broker default (`gregor cluster config set --default`): the
 *     controller re-reads /config/brokers/<default> on the notification
 *     and elects at once.
 * Brokers run with unclean.leader.election.enable=false (the default) and
 * short ZooKeeper sessions (4 s).
 */
#include "tests/harness/broker_proc.h"
#include "tests/integration/icluster.h"
#include "tests/integration/itest.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const overrides[] = {"zookeeper.session.timeout.ms=4000",
                                        "replica.lag.time.max.ms=6000",
                                        "leader.imbalance.check.interval.seconds=3600", NULL};

static void up(void) { cr_assert(tcluster_fixture_up(3, overrides), "cluster did not start"); }

TestSuite(cluster_configs, .init = up, .fini = itest_fixture_down, .timeout = 300);

static struct tcluster *cl(void) { return tcluster_fixture(); }

static const char *bs(int i) { return broker_proc_bootstrap(cl()->broker[i]); }

/* Produces one record of `size` bytes to (topic, p) with acks=all; returns
 * the delivery error (NO_ERROR when acknowledged). */
static rd_kafka_resp_err_t produce_one(const char *topic, int32_t p, size_t size)
{
    static const char *const kv[] = {
        "acks", "all", "message.timeout.ms", "20000", "retry.backoff.ms", "100", NULL};
    rd_kafka_t *rk = itest_producer(cl()->bootstrap, kv);
    cr_assert_not_null(rk);
    char *val = malloc(size);
    cr_assert_not_null(val);
    memset(val, 'x', size);
    struct itest_produce_result res = {0};
    rd_kafka_resp_err_t e = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(p), RD_KAFKA_V_VALUE(val, size),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&res), RD_KAFKA_V_END);
    free(val);
    cr_assert_eq(e, RD_KAFKA_RESP_ERR_NO_ERROR, "%s", rd_kafka_err2str(e));
    rd_kafka_flush(rk, 30000);
    rd_kafka_poll(rk, 0);
    rd_kafka_destroy(rk);
    cr_assert_eq(res.delivered + res.failed, 1, "no delivery report");
    return res.delivered == 1 ? RD_KAFKA_RESP_ERR_NO_ERROR : res.first_err;
}

Test(cluster_configs, change_through_one_broker_reaches_the_leader)
{
    char topic[64], *out = NULL;
    itest_topic("cfgprop", topic, sizeof(topic));
    cr_assert_eq(icluster_cli(&out, bs(0), "topic create %s -p 1 -r 3", topic), 0, "%s", out);
    free(out);
    cr_assert(icluster_wait_for(cl(), 0, topic, 0, icluster_isr_size_is, 3, 30));
    struct pinfo pi[1] = {{0}};
    cr_assert_eq(icluster_describe(bs(0), topic, pi, 1, NULL), 1);
    int leader = pi[0].leader;
    int other = (leader + 1) % 3;
    cr_assert_eq(produce_one(topic, 0, 1000), RD_KAFKA_RESP_ERR_NO_ERROR);

    /* through a broker that is not the leader */
    cr_assert_eq(
        icluster_cli(&out, bs(other), "topic alter-config %s --set max.message.bytes=200", topic),
        0, "%s", out);
    free(out);
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    double end = icluster_now() + 15;
    while (icluster_now() < end && (e = produce_one(topic, 0, 1000)) == RD_KAFKA_RESP_ERR_NO_ERROR)
        usleep(300 * 1000);
    cr_assert_eq(e, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE,
                 "leader %d still takes 1000-byte records: %s", leader, rd_kafka_err2name(e));
    cr_assert_eq(produce_one(topic, 0, 100), RD_KAFKA_RESP_ERR_NO_ERROR);

    /* and back: deleting the override restores the broker default */
    cr_assert_eq(
        icluster_cli(&out, bs(other), "topic alter-config %s --delete max.message.bytes", topic), 0,
        "%s", out);
    free(out);
    end = icluster_now() + 15;
    while (icluster_now() < end && (e = produce_one(topic, 0, 1000)) != RD_KAFKA_RESP_ERR_NO_ERROR)
        usleep(300 * 1000);
    cr_assert_eq(e, RD_KAFKA_RESP_ERR_NO_ERROR, "%s", rd_kafka_err2name(e));
}

/* A partition of topic (3 partitions, RF 2) whose replicas do not include
 * the controller; *first / *second its replicas in order. */
static int partition_without(const char *topic, int32_t controller, int *first, int *second)
{
    struct pinfo pi[3] = {{0}};
    cr_assert_eq(icluster_describe(cl()->bootstrap, topic, pi, 3, NULL), 3);
    for (int p = 0; p < 3; p++)
        if (pi[p].n_replicas == 2 && pi[p].replicas[0] != controller &&
            pi[p].replicas[1] != controller) {
            *first = pi[p].replicas[0];
            *second = pi[p].replicas[1];
            return p;
        }
    return -1;
}

static bool isr_is_only(const struct pinfo *pi, int id)
{
    return pi->leader == id && pi->n_isr == 1 && pi->isr[0] == id;
}

Test(cluster_configs, unclean_election_follows_the_topic_override)
{
    char topic[64], *out = NULL;
    itest_topic("unclean", topic, sizeof(topic));
    cr_assert_eq(icluster_cli(&out, bs(0), "topic create %s -p 3 -r 2", topic), 0, "%s", out);
    free(out);
    for (int p = 0; p < 3; p++)
        cr_assert(icluster_wait_for(cl(), 0, topic, p, icluster_isr_size_is, 2, 30));
    int32_t ctrl = -1;
    struct pinfo pi[3] = {{0}};
    cr_assert_eq(icluster_describe(bs(0), topic, pi, 3, &ctrl), 3);
    cr_assert(ctrl >= 0 && ctrl < 3, "no controller");
    int a, b;
    int p = partition_without(topic, ctrl, &a, &b);
    cr_assert_geq(p, 0, "every partition has the controller as a replica");
    cr_assert(icluster_wait_for(cl(), ctrl, topic, p, icluster_led_by, a, 30));
    cr_assert_eq(icluster_produce_acked(cl()->bootstrap, topic, p, 10, 30), 10);

    /* the follower dies: the ISR shrinks to the leader, which takes more */
    cr_assert_geq(broker_proc_kill(cl()->broker[b]), 0);
    cr_assert(icluster_wait_for(cl(), ctrl, topic, p, isr_is_only, a, 30), "ISR did not shrink");
    cr_assert_eq(icluster_produce_acked(cl()->bootstrap, topic, p, 10, 30), 10);
    /* the leader dies too; the stale follower returns */
    cr_assert_geq(broker_proc_kill(cl()->broker[a]), 0);
    cr_assert(icluster_wait_for(cl(), ctrl, topic, p, icluster_offline, 0, 30));
    cr_assert_eq(broker_proc_restart(cl()->broker[b]), 0);
    /* clean election only: b is live but not in the ISR, so nobody leads */
    double end = icluster_now() + 6;
    while (icluster_now() < end) {
        cr_assert_eq(icluster_describe(bs(ctrl), topic, pi, 3, NULL), 3);
        cr_assert_lt(pi[p].leader, 0, "broker %d was elected uncleanly", pi[p].leader);
        usleep(300 * 1000);
    }

    /* the topic allows unclean elections: b leads at once, alone in the ISR */
    cr_assert_eq(icluster_cli(&out, bs(ctrl),
                              "topic alter-config %s --set unclean.leader.election.enable=true",
                              topic),
                 0, "%s", out);
    free(out);
    cr_assert(icluster_wait_for(cl(), ctrl, topic, p, isr_is_only, b, 15),
              "the out-of-sync replica was not elected");
    cr_assert_eq(icluster_produce_acked(cl()->bootstrap, topic, p, 5, 30), 5);
    /* the old leader returns as a follower of the new epoch */
    cr_assert_eq(broker_proc_restart(cl()->broker[a]), 0);
    cr_assert(icluster_wait_for(cl(), ctrl, topic, p, icluster_isr_size_is, 2, 40),
              "the old leader did not rejoin the ISR");
}

/* Makes partition p of a new topic offline with only an out-of-sync replica
 * alive (as above); returns p, the controller in *ctrl, the live replica in
 * *live and the dead former leader in *dead. */
static int offline_with_stale_replica(const char *topic, int32_t *ctrl, int *live, int *dead)
{
    char *out = NULL;
    cr_assert_eq(icluster_cli(&out, bs(0), "topic create %s -p 3 -r 2", topic), 0, "%s", out);
    free(out);
    for (int p = 0; p < 3; p++)
        cr_assert(icluster_wait_for(cl(), 0, topic, p, icluster_isr_size_is, 2, 30));
    struct pinfo pi[3] = {{0}};
    cr_assert_eq(icluster_describe(bs(0), topic, pi, 3, ctrl), 3);
    cr_assert(*ctrl >= 0 && *ctrl < 3, "no controller");
    int a, b;
    int p = partition_without(topic, *ctrl, &a, &b);
    cr_assert_geq(p, 0, "every partition has the controller as a replica");
    cr_assert(icluster_wait_for(cl(), *ctrl, topic, p, icluster_led_by, a, 30));
    cr_assert_eq(icluster_produce_acked(cl()->bootstrap, topic, p, 10, 30), 10);
    cr_assert_geq(broker_proc_kill(cl()->broker[b]), 0);
    cr_assert(icluster_wait_for(cl(), *ctrl, topic, p, isr_is_only, a, 30), "ISR did not shrink");
    cr_assert_geq(broker_proc_kill(cl()->broker[a]), 0);
    cr_assert(icluster_wait_for(cl(), *ctrl, topic, p, icluster_offline, 0, 30));
    cr_assert_eq(broker_proc_restart(cl()->broker[b]), 0);
    double end = icluster_now() + 4;
    while (icluster_now() < end) {
        cr_assert_eq(icluster_describe(bs(*ctrl), topic, pi, 3, NULL), 3);
        cr_assert_lt(pi[p].leader, 0, "broker %d was elected uncleanly", pi[p].leader);
        usleep(300 * 1000);
    }
    *live = b;
    *dead = a;
    return p;
}

Test(cluster_configs, unclean_election_follows_the_dynamic_broker_default)
{
    char topic[64], *out = NULL;
    itest_topic("uncleandyn", topic, sizeof(topic));
    int32_t ctrl;
    int a, b;
    int p = offline_with_stale_replica(topic, &ctrl, &b, &a);
    /* the cluster-wide default allows unclean elections: b leads at once
     * (the topic has no override of its own) */
    cr_assert_eq(icluster_cli(&out, bs(ctrl),
                              "cluster config set --default unclean.leader.election.enable=true"),
                 0, "%s", out);
    free(out);
    cr_assert(icluster_wait_for(cl(), ctrl, topic, p, isr_is_only, b, 15),
              "the out-of-sync replica was not elected");
    cr_assert_eq(icluster_produce_acked(cl()->bootstrap, topic, p, 5, 30), 5);
    cr_assert_eq(broker_proc_restart(cl()->broker[a]), 0);
    cr_assert(icluster_wait_for(cl(), ctrl, topic, p, icluster_isr_size_is, 2, 40),
              "the old leader did not rejoin the ISR");
}
