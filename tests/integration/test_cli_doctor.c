/*
 * tests/integration/test_cli_doctor.c — `gregor doctor` (docs/cli.md,
 * "doctor") against a real ZooKeeper and real brokers broken on purpose,
 * in three stages on one cluster so that the brokers start once:
 *
 *   1. three healthy brokers and a replicated topic: exit 0, no warning;
 *   2. a follower SIGKILLed, an RF-1 topic and one with min.insync.replicas
 *      equal to its RF created: exit 1 with partition.under_replicated,
 *      topic.rf1 and topic.min_isr_equals_rf, also with -b answering nothing
 *      and --zookeeper naming the brokers (bootstrap.from_zookeeper);
 *   3. three more brokers: one advertising a name that does not resolve on
 *      its EXTERNAL listener (doctor bootstrapped through that listener
 *      finds listener.unresolvable), one under libfaketime two hours ahead
 *      with another log.retention.ms (clock.skew, config.drift), one whose
 *      log dir is a nearly full tmpfs and whose open-files limit is 500
 *      (disk.full, ulimit.low); doctor is given a ZooKeeper list with a
 *      dead member (zookeeper.member_down), and a topic's
 *      min.insync.replicas exceeds its RF (topic.min_isr_unreachable).
 *      Exit 2. The JSON output is parsed with Python's json module.
 *
 * Needs root (mount) and libfaketime (deploy/install-deps.sh).
 */
#include "tests/harness/broker_proc.h"
#include "tests/harness/zk_server.h"
#include "tests/integration/icluster.h"
#include "tests/integration/itest.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FAKETIME_LIB "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"

static const char *const overrides[] = {
    "zookeeper.session.timeout.ms=4000", "replica.lag.time.max.ms=4000",
    "offsets.topic.replication.factor=3", "leader.imbalance.check.interval.seconds=3600", NULL};

TestSuite(cli_doctor, .timeout = 240);

/* Runs doctor with args into the file `out`; returns its exit status. */
static int doctor(const char *bootstrap, const char *out, const char *args)
{
    char cli[512];
    return harness_shf(NULL, 60, "%s -b %s doctor %s >%s",
                       harness_bin_path("gregor", cli, sizeof(cli)), bootstrap, args, out);
}

/* The findings of a JSON report, "id@subject" separated by newlines (new),
 * parsed by Python's json module; NULL when it does not parse. */
static char *findings(const char *path)
{
    char *out = NULL;
    int rc = harness_shf(&out, 30,
                         "/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); "
                         "assert d[\"status\"] in (\"ok\",\"warning\",\"error\"); "
                         "[print(f[\"id\"]+\"@\"+f[\"subject\"], f[\"severity\"]) for f in "
                         "d[\"findings\"] if f[\"message\"] and f[\"fix\"]]' %s",
                         path);
    if (rc != 0) {
        free(out);
        return NULL;
    }
    return out;
}

/* Waits until the cluster's metadata no longer lists broker `id` (its
 * ZooKeeper session expired). */
static bool broker_gone(const char *bootstrap, int id, int timeout_s)
{
    char want[32];
    snprintf(want, sizeof(want), "{\"id\": %d,", id);
    for (double end = icluster_now() + timeout_s; icluster_now() < end; usleep(200000)) {
        char *out = NULL;
        bool gone =
            icluster_cli(&out, bootstrap, "cluster info --json") == 0 && out && !strstr(out, want);
        free(out);
        if (gone)
            return true;
    }
    return false;
}

static struct broker_proc *start_extra(struct tcluster *tc, int id, const char *const *extra)
{
    struct broker_proc *bp = broker_proc_new(tcluster_zk_connect(tc), id, overrides);
    cr_assert(bp);
    for (int i = 0; extra && extra[i]; i++)
        cr_assert_eq(broker_proc_add_override(bp, extra[i]), 0);
    return bp;
}

Test(cli_doctor, finds_what_was_broken)
{
    cr_assert_eq(access(FAKETIME_LIB, R_OK), 0, "%s missing: run deploy/install-deps.sh",
                 FAKETIME_LIB);
    cr_assert_eq(geteuid(), 0, "needs root (mounts a tmpfs for the full-disk broker)");
    char dir[] = "/tmp/gregor-doctor-XXXXXX", out[600];
    cr_assert(mkdtemp(dir));
    snprintf(out, sizeof(out), "%s/report", dir);
    struct tcluster *tc = tcluster_start(3, overrides);
    cr_assert(tc, "cluster did not start");

    /* 1. healthy */
    cr_assert_eq(icluster_cli(NULL, tc->bootstrap, "topic create rf3 -p 2 -r 3"), 0);
    cr_assert(icluster_wait_for(tc, 0, "rf3", 1, icluster_isr_size_is, 3, 20));
    int rc = doctor(tc->bootstrap, out, "--output json");
    char *f = findings(out);
    cr_assert(f, "doctor's JSON does not parse");
    cr_assert_eq(rc, 0, "healthy cluster: exit %d, findings:\n%s", rc, f);
    cr_assert(!strstr(f, " warning") && !strstr(f, " error"), "healthy cluster:\n%s", f);
    free(f);

    /* 2. a follower of rf3/p0 killed; an RF-1 topic */
    struct pinfo pi[2];
    cr_assert_eq(icluster_describe(broker_proc_bootstrap(tc->broker[0]), "rf3", pi, 2, NULL), 2);
    int victim = -1;
    for (int b = 0; b < 3 && victim < 0; b++)
        if (b != pi[0].leader && b != pi[1].leader)
            victim = b;
    if (victim < 0)
        victim = pi[0].leader == 0 ? 1 : 0;
    cr_assert_neq(broker_proc_kill(tc->broker[victim]), -1);
    int via = victim == 0 ? 1 : 0;
    cr_assert(icluster_wait_for(tc, via, "rf3", 0, icluster_isr_size_is, 2, 30));
    const char *bs = broker_proc_bootstrap(tc->broker[via]);
    cr_assert(broker_gone(bs, victim, 20), "broker %d still listed", victim);
    cr_assert_eq(icluster_cli(NULL, bs, "topic create rf1 -p 1 -r 1"), 0);
    cr_assert_eq(icluster_cli(NULL, bs, "topic create mir -p 1 -r 2 -c min.insync.replicas=2"), 0);
    rc = doctor(bs, out, "--output json");
    f = findings(out);
    cr_assert(f);
    cr_assert_eq(rc, 1, "exit %d:\n%s", rc, f);
    cr_assert(strstr(f, "partition.under_replicated@topic rf3 warning"), "%s", f);
    cr_assert(strstr(f, "topic.rf1@topic rf1 warning"), "%s", f);
    cr_assert(strstr(f, "topic.min_isr_equals_rf@topic mir warning"), "%s", f);
    free(f);

    /* the same through ZooKeeper when -b does not answer */
    char zk_only[300];
    snprintf(zk_only, sizeof(zk_only), "--zookeeper %s --output json", tcluster_zk_connect(tc));
    rc = doctor("127.0.0.1:1", out, zk_only);
    f = findings(out);
    cr_assert(f);
    cr_assert_eq(rc, 1, "exit %d:\n%s", rc, f);
    cr_assert(strstr(f, "bootstrap.from_zookeeper@127.0.0.1:1 info"), "%s", f);
    cr_assert(strstr(f, "partition.under_replicated@topic rf3 warning"), "%s", f);
    free(f);

    /* min.insync.replicas above the replication factor: an error, seen in stage 3 */
    cr_assert_eq(icluster_cli(NULL, bs, "topic create mir3 -p 1 -r 1 -c min.insync.replicas=2"), 0);

    /* 3a. an advertised name that does not resolve (EXTERNAL listener) */
    int external = harness_free_port();
    struct broker_proc *adv = start_extra(tc, 3, NULL);
    char l[200], a[200];
    snprintf(l, sizeof(l), "listeners=PLAINTEXT://127.0.0.1:%d,EXTERNAL://127.0.0.1:%d",
             broker_proc_port(adv), external);
    snprintf(a, sizeof(a),
             "advertised.listeners=PLAINTEXT://127.0.0.1:%d,EXTERNAL://doctor-bogus.invalid:%d",
             broker_proc_port(adv), external);
    cr_assert_eq(broker_proc_add_override(adv, l), 0);
    cr_assert_eq(broker_proc_add_override(adv, a), 0);
    cr_assert_eq(broker_proc_add_override(
                     adv, "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,EXTERNAL:PLAINTEXT"),
                 0);
    cr_assert_eq(broker_proc_add_override(adv, "inter.broker.listener.name=PLAINTEXT"), 0);
    cr_assert_eq(broker_proc_start(adv), 0);

    /* 3b. a clock two hours ahead, and a different log.retention.ms */
    const char *const skew_extra[] = {"log.retention.ms=3600000", NULL};
    struct broker_proc *skew = start_extra(tc, 4, skew_extra);
    setenv("LD_PRELOAD", FAKETIME_LIB, 1);
    setenv("FAKETIME", "+2h", 1);
    rc = broker_proc_start(skew);
    unsetenv("LD_PRELOAD");
    unsetenv("FAKETIME");
    cr_assert_eq(rc, 0, "broker under libfaketime did not start");

    /* 3c. a nearly full log dir, and a low open-files limit */
    struct broker_proc *full = start_extra(tc, 5, NULL);
    const char *data = broker_proc_data_dir(full);
    cr_assert_eq(harness_shf(NULL, 30,
                             "mkdir -p %s && mount -t tmpfs -o size=8m doctor-full %s && "
                             "fallocate -l 7900k %s/.filler",
                             data, data, data),
                 0, "cannot mount the tmpfs");
    broker_proc_set_nofile(full, 500);
    rc = broker_proc_start(full);

    char zk[300];
    snprintf(zk, sizeof(zk), "--zookeeper %s,127.0.0.1:%d --output json", tcluster_zk_connect(tc),
             harness_free_port());
    int rc_b = rc == 0 ? doctor(bs, out, zk) : -1;
    char *fb = rc == 0 ? findings(out) : NULL;
    char bs_ext[64];
    snprintf(bs_ext, sizeof(bs_ext), "127.0.0.1:%d", external);
    int rc_a = doctor(bs_ext, out, "--output json");
    char *fa = findings(out);

    broker_proc_stop(full, 20);
    harness_shf(NULL, 30, "umount %s", data);
    cr_assert_eq(rc, 0, "broker on the tmpfs did not start");
    cr_assert(fa && fb);
    cr_assert_eq(rc_a, 2, "exit %d:\n%s", rc_a, fa);
    cr_assert(strstr(fa, "listener.unresolvable@broker 3 error"), "%s", fa);
    cr_assert_eq(rc_b, 2, "exit %d:\n%s", rc_b, fb);
    cr_assert(strstr(fb, "clock.skew@broker 4 warning"), "%s", fb);
    cr_assert(strstr(fb, "config.drift@log.retention.ms warning"), "%s", fb);
    cr_assert(strstr(fb, "disk.full@broker 5 error"), "%s", fb);
    cr_assert(strstr(fb, "topic.min_isr_unreachable@topic mir3 error"), "%s", fb);
    cr_assert(strstr(fb, "ulimit.low@broker 5 warning"), "%s", fb);
    cr_assert(strstr(fb, "zookeeper.member_down@127.0.0.1:"), "%s", fb);
    cr_assert(strstr(fb, "partition.under_replicated@topic rf3"), "%s", fb);
    cr_assert(!strstr(fb, "clock.skew@broker 0") && !strstr(fb, "ulimit.low@broker 0"), "%s", fb);
    free(fa);
    free(fb);

    broker_proc_stop(skew, 20);
    broker_proc_stop(adv, 20);
    broker_proc_free(full);
    broker_proc_free(skew);
    broker_proc_free(adv);
    tcluster_free(tc);
    harness_rmtree(dir);
}
