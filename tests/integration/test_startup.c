/*
 * tests/integration/test_startup.c — what a broker does at start with
 * settings that point at the wrong place (docs/cluster.md, "Start-up
 * checks"), against a real ZooKeeper and real brokers:
 *   - a log dir whose meta.properties holds another cluster's id is
 *     refused, the message naming both ids, and the dir is left as it was;
 *   - a zookeeper.connect chroot that does not exist is created (as Kafka
 *     does), and it is a cluster of its own, with its own id;
 *   - an advertised host that does not resolve is logged, naming the
 *     listener and the host, and the broker starts all the same;
 *   - three brokers that advertise the name "localhost" on two listeners
 *     (clients, and INTERNAL for replication and control) replicate, fail
 *     over and rejoin: the controller's channels and the replica fetchers
 *     resolve names.
 * (A broker.id already live is refused in test_restart.c.)
 */
#include "tests/harness/broker_proc.h"
#include "tests/harness/zk_server.h"
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

static void up(void) { cr_assert(tcluster_fixture_up(1, overrides), "cluster did not start"); }

TestSuite(startup, .init = up, .fini = itest_fixture_down, .timeout = 300);

/* The cluster.id line of <dir>/meta.properties into id (size n). */
static bool meta_cluster_id(const char *dir, char *id, size_t n)
{
    char path[512], line[256];
    snprintf(path, sizeof(path), "%s/meta.properties", dir);
    FILE *f = fopen(path, "r");
    bool found = false;
    while (f && !found && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "cluster.id=", 11) == 0) {
            line[strcspn(line, "\r\n")] = '\0';
            snprintf(id, n, "%.100s", line + 11);
            found = true;
        }
    }
    if (f)
        fclose(f);
    return found;
}

/* Starts bp expecting it to exit by itself with status 2 (a refusal no
 * restart can mend: systemd's unit does not retry it, docs/deploy.md);
 * returns its log (new). */
static char *expect_refusal(struct broker_proc *bp)
{
    broker_proc_start_quiet(bp); /* may or may not open its port first */
    int rc = broker_proc_wait_exit(bp, 60);
    char *log = broker_proc_log(bp);
    cr_assert_neq(rc, -3, "broker still running after 60 s:\n%s", log ? log : "");
    cr_assert(rc == 2, "broker exited with status %d, expected 2 (refused):\n%s", rc,
              log ? log : "");
    cr_assert(log);
    return log;
}

Test(startup, log_dir_of_another_cluster_is_refused_naming_both_ids)
{
    struct broker_proc *own = tcluster_fixture()->broker[0];
    char id_a[128], id_after[128], chroot[256];
    cr_assert(meta_cluster_id(broker_proc_data_dir(own), id_a, sizeof(id_a)));
    cr_assert_eq(broker_proc_stop(own, 30), 0, "broker 0 did not stop cleanly");

    /* the same log dir and broker.id against another cluster: a chroot
     * that does not exist yet, so a new cluster id is made there */
    snprintf(chroot, sizeof(chroot), "%s/other-cluster", tcluster_zk_connect(tcluster_fixture()));
    char logdirs[600];
    snprintf(logdirs, sizeof(logdirs), "log.dirs=%s", broker_proc_data_dir(own));
    const char *const over[] = {logdirs, NULL};
    struct broker_proc *intruder = broker_proc_new(chroot, 0, over);
    cr_assert(intruder);
    char *log = expect_refusal(intruder);
    const char *msg = strstr(log, "refusing to start");
    cr_assert(msg, "no 'refusing to start' line:\n%s", log);
    cr_assert(strstr(msg, id_a), "message does not name the log dir's cluster id %s:\n%s", id_a,
              log);
    const char *other = strstr(msg, "the cluster's id ");
    cr_assert(other, "message does not name the cluster's id:\n%s", log);
    char id_b[64] = "";
    sscanf(other + strlen("the cluster's id "), "%63s", id_b);
    cr_assert(id_b[0] && strcmp(id_b, id_a) != 0, "both ids are the same (%s):\n%s", id_a, log);
    cr_assert(strstr(msg, "other-cluster"), "message does not name zookeeper.connect:\n%s", log);
    free(log);
    broker_proc_free(intruder);

    cr_assert(meta_cluster_id(broker_proc_data_dir(own), id_after, sizeof(id_after)));
    cr_assert_str_eq(id_after, id_a, "the refused start changed meta.properties");
    cr_assert_eq(broker_proc_start(own), 0, "broker 0 does not start on its own cluster again");
}

Test(startup, missing_chroot_is_created_as_a_cluster_of_its_own)
{
    char chroot[256];
    snprintf(chroot, sizeof(chroot), "%s/gregor/deep/chroot",
             tcluster_zk_connect(tcluster_fixture()));
    struct broker_proc *a = broker_proc_spawn(chroot, 1, overrides);
    cr_assert(a, "broker under a chroot that does not exist did not start");
    struct broker_proc *b = broker_proc_spawn(chroot, 2, overrides);
    cr_assert(b, "second broker under the new chroot did not start");

    /* both brokers of the chroot see each other, not broker 0 of the root */
    char *info = NULL;
    bool two = false;
    double end = icluster_now() + 60;
    while (!two && icluster_now() < end) {
        free(info);
        info = NULL;
        icluster_cli(&info, broker_proc_bootstrap(a), "cluster info --json");
        two = info && strstr(info, "\"id\": 1,") && strstr(info, "\"id\": 2,");
        if (!two)
            usleep(200 * 1000);
    }
    cr_assert(two, "the chroot's brokers do not see each other: %s", info ? info : "");
    cr_assert_null(strstr(info, "\"id\": 0,"), "broker 0 (root) is in the chroot's cluster: %s",
                   info);
    char id_root[128], id_chroot[128];
    cr_assert(meta_cluster_id(broker_proc_data_dir(tcluster_fixture()->broker[0]), id_root,
                              sizeof(id_root)));
    cr_assert(meta_cluster_id(broker_proc_data_dir(a), id_chroot, sizeof(id_chroot)));
    cr_assert_str_neq(id_root, id_chroot, "the chroot shares the root's cluster id");
    cr_assert(strstr(info, id_chroot), "cluster info does not show the chroot's id: %s", info);
    free(info);
    cr_assert_eq(broker_proc_stop(a, 30), 0);
    cr_assert_eq(broker_proc_stop(b, 30), 0);
    broker_proc_free(a);
    broker_proc_free(b);
}

Test(startup, unresolvable_advertised_host_is_logged_and_the_broker_starts)
{
    /* a second client listener, EXTERNAL, advertises a name that does not
     * resolve; PLAINTEXT, the inter-broker listener of the whole cluster,
     * stays numeric so that the controller reaches the broker */
    struct broker_proc *bp = broker_proc_new(tcluster_zk_connect(tcluster_fixture()), 7, overrides);
    cr_assert(bp);
    int port = broker_proc_port(bp), external = harness_free_port();
    char l[160], adv[160];
    snprintf(l, sizeof(l), "listeners=PLAINTEXT://127.0.0.1:%d,EXTERNAL://127.0.0.1:%d", port,
             external);
    snprintf(adv, sizeof(adv),
             "advertised.listeners=PLAINTEXT://127.0.0.1:%d,"
             "EXTERNAL://gregor-no-such-host.invalid:%d",
             port, external);
    cr_assert_eq(broker_proc_add_override(bp, l), 0);
    cr_assert_eq(broker_proc_add_override(bp, adv), 0);
    cr_assert_eq(broker_proc_add_override(
                     bp, "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,EXTERNAL:PLAINTEXT"),
                 0);
    cr_assert_eq(broker_proc_add_override(bp, "inter.broker.listener.name=PLAINTEXT"), 0);
    cr_assert_eq(broker_proc_start(bp), 0, "broker with an unresolvable advertised host refused");
    cr_assert(itest_api_versions_ok(broker_proc_port(bp)), "broker does not answer");
    char *log = broker_proc_log(bp);
    cr_assert(log);
    const char *w = strstr(log, "advertised listener host does not resolve");
    cr_assert(w, "no warning about the advertised host:\n%s", log);
    cr_assert(strstr(w, "listener=EXTERNAL") && strstr(w, "host=gregor-no-such-host.invalid"),
              "the warning does not name the listener and the host:\n%s", log);
    cr_assert(strstr(w, "clients given this address cannot connect"),
              "the warning does not say what it breaks:\n%s", log);
    free(log);
    cr_assert(broker_proc_alive(bp));
    cr_assert_eq(broker_proc_stop(bp, 30), 0);
    broker_proc_free(bp);

    /* the fixture's broker advertises 127.0.0.1: no such warning */
    log = broker_proc_log(tcluster_fixture()->broker[0]);
    cr_assert(log && !strstr(log, "does not resolve"), "warning for a numeric address:\n%s", log);
    free(log);
}

/* ---- three brokers advertising "localhost" ------------------------------ */

static struct tcluster *lc;

/* Adds broker id with a client and an INTERNAL listener, both bound to
 * 127.0.0.1 and advertised as localhost. */
static bool add_localhost_broker(int id)
{
    struct broker_proc *bp = broker_proc_new(zk_server_connect(lc->zk), id, overrides);
    int internal = harness_free_port();
    if (!bp || internal < 0)
        return false;
    int port = broker_proc_port(bp);
    char l[128], a[128];
    snprintf(l, sizeof(l), "listeners=PLAINTEXT://127.0.0.1:%d,INTERNAL://127.0.0.1:%d", port,
             internal);
    snprintf(a, sizeof(a), "advertised.listeners=PLAINTEXT://localhost:%d,INTERNAL://localhost:%d",
             port, internal);
    if (broker_proc_add_override(bp, l) || broker_proc_add_override(bp, a) ||
        broker_proc_add_override(
            bp, "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT") ||
        broker_proc_add_override(bp, "inter.broker.listener.name=INTERNAL") ||
        broker_proc_start(bp) != 0) {
        broker_proc_free(bp);
        return false;
    }
    lc->broker[lc->n++] = bp;
    size_t at = strlen(lc->bootstrap);
    snprintf(lc->bootstrap + at, sizeof(lc->bootstrap) - at, "%s%s", id ? "," : "",
             broker_proc_bootstrap(bp));
    return true;
}

static void up_localhost(void)
{
    lc = calloc(1, sizeof(*lc));
    cr_assert(lc && (lc->zk = zk_server_start()), "ZooKeeper did not start");
    for (int i = 0; i < 3; i++)
        cr_assert(add_localhost_broker(i), "broker %d did not start", i);
}

static void down_localhost(void)
{
    cr_expect_eq(tcluster_free(lc), 0, "a broker exited uncleanly");
}

TestSuite(startup_localhost, .init = up_localhost, .fini = down_localhost, .timeout = 300);

Test(startup_localhost, brokers_advertising_names_replicate_fail_over_and_rejoin)
{
    char topic[64], *out = NULL;
    itest_topic("named", topic, sizeof(topic));
    int rc = icluster_cli(&out, lc->bootstrap,
                          "topic create %s --partitions 4 --replication-factor 3 "
                          "--config min.insync.replicas=2",
                          topic);
    cr_assert_eq(rc, 0, "topic create failed: %s", out ? out : "");
    free(out);
    for (int p = 0; p < 4; p++) /* LeaderAndIsr reached every broker; followers fetch */
        cr_assert(icluster_wait_for(lc, 0, topic, p, icluster_isr_size_is, 3, 60),
                  "partition %d never had an ISR of 3", p);
    cr_assert_eq(icluster_produce_acked(lc->bootstrap, topic, 0, 200, 60), 200);

    struct pinfo pi[4];
    cr_assert_eq(icluster_describe(lc->bootstrap, topic, pi, 4, NULL), 4);
    int victim = pi[0].leader, via = (victim + 1) % 3;
    cr_assert_neq(broker_proc_kill(lc->broker[victim]), -1);
    cr_assert(icluster_wait_for(lc, via, topic, 0, icluster_led_by_other_than, victim, 60),
              "leadership did not move off the killed broker %d", victim);
    cr_assert_eq(icluster_produce_acked(broker_proc_bootstrap(lc->broker[via]), topic, 0, 100, 60),
                 100, "acks=all produce failed after failover");
    cr_assert_eq(broker_proc_start(lc->broker[victim]), 0);
    for (int p = 0; p < 4; p++)
        cr_assert(icluster_wait_for(lc, via, topic, p, icluster_isr_size_is, 3, 90),
                  "partition %d: the restarted broker did not rejoin the ISR", p);
    for (int i = 0; i < 3; i++) {
        char *log = broker_proc_log(lc->broker[i]);
        cr_assert(log && !strstr(log, "does not resolve") && !strstr(log, "cannot resolve"),
                  "broker %d could not resolve localhost:\n%s", i, log ? log : "");
        free(log);
    }
}
