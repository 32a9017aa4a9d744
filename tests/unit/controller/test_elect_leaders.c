/*
 * tests/unit/controller/test_elect_leaders.c — ElectLeaders (key 43, v0-v2,
 * broker/kafka/elect_leaders.c) against real clusters (tests/harness
 * tcluster: ZooKeeper + gregor-broker processes), on the wire.
 * Two brokers: NOT_CONTROLLER from the broker that is not the controller,
 * ELECTION_NOT_NEEDED / UNKNOWN_TOPIC_OR_PARTITION from the controller for
 * both election types, INVALID_REQUEST for an unknown type, the null list,
 * and a real preferred election after the preferred replica was killed
 * and came back into the ISR.
 * Three brokers (short ZooKeeper sessions), unclean election (type 1): a
 * partition whose only ISR member is dead while another replica is alive
 * out of the ISR stays offline (unclean.leader.election.enable=false) until
 * ElectLeaders type 1 elects that replica (ISR = {it}, epoch bumped, as
 * ZooKeeper shows); with no live replica, ELIGIBLE_LEADERS_NOT_AVAILABLE.
 */
#include "controller/zk/zk_store.h"
#include "common/clock.h"
#include "common/say.h"
#include "tests/harness/broker_proc.h"
#include "tests/harness/kreq.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOT_CONTROLLER 41
#define INVALID_REQUEST 42
#define UNKNOWN_TOPIC_OR_PARTITION 3
#define ELIGIBLE_LEADERS_NOT_AVAILABLE 83
#define ELECTION_NOT_NEEDED 84

static void up(void)
{
    say_setup(SAY_WARN, 2);
    cr_assert_not_null(tcluster_fixture_up(2, NULL), "cluster did not start");
}

static void down(void) { cr_expect_eq(tcluster_fixture_down(), 0, "a broker exited uncleanly"); }

TestSuite(elect_leaders, .init = up, .fini = down, .timeout = 180);

struct result {
    int16_t top_err;
    int n;
    char topic[16][64];
    int32_t part[16];
    int16_t err[16];
};

/* One partition list entry per (topics[i], parts[i]); n < 0: null list. */
static void elect(int port, int16_t v, int8_t type, int n, const char *const *topics,
                  const int32_t *parts, struct result *res)
{
    bool flex = v >= 2;
    struct kbytes b;
    kbytes_init(&b);
    kreq_begin(&b, 43, v, 7, "test", flex);
    if (v >= 1)
        kbytes_i8(&b, type);
    if (n < 0) {
        if (flex)
            kbytes_uvarint(&b, 0);
        else
            kbytes_i32(&b, -1);
    } else {
        if (flex)
            kbytes_uvarint(&b, (uint64_t)n + 1);
        else
            kbytes_i32(&b, n);
        for (int i = 0; i < n; i++) { /* one topic entry per partition */
            if (flex) {
                kbytes_cstr(&b, topics[i]);
                kbytes_uvarint(&b, 2);
            } else {
                kbytes_str(&b, topics[i]);
                kbytes_i32(&b, 1);
            }
            kbytes_i32(&b, parts[i]);
            if (flex)
                kbytes_uvarint(&b, 0);
        }
    }
    kbytes_i32(&b, 10000);
    if (flex)
        kbytes_uvarint(&b, 0);
    kreq_end(&b);
    int fd = kreq_connect(port);
    cr_assert_geq(fd, 0);
    uint8_t *frame = NULL;
    size_t len = 0;
    cr_assert_eq(kreq_roundtrip(fd, &b, 7, &frame, &len, 15000), 0, "no ElectLeaders answer");
    close(fd);
    kbytes_free(&b);

    struct kresp r;
    kresp_init(&r, frame, len);
    (void)kresp_i32(&r); /* correlation id */
    if (flex)
        kresp_skip_tags(&r);
    (void)kresp_i32(&r); /* throttle */
    memset(res, 0, sizeof(*res));
    res->top_err = v >= 1 ? kresp_i16(&r) : 0;
    int nt = flex ? (int)kresp_uvarint(&r) - 1 : kresp_i32(&r);
    for (int t = 0; t < nt && !r.err; t++) {
        char name[64];
        if (flex)
            kresp_cstr(&r, name, sizeof(name));
        else
            kresp_str(&r, name, sizeof(name));
        int np = flex ? (int)kresp_uvarint(&r) - 1 : kresp_i32(&r);
        for (int p = 0; p < np && !r.err && res->n < 16; p++) {
            snprintf(res->topic[res->n], 64, "%s", name);
            res->part[res->n] = kresp_i32(&r);
            res->err[res->n] = kresp_i16(&r);
            char msg[256];
            if (flex) {
                kresp_cstr(&r, msg, sizeof(msg));
                kresp_skip_tags(&r);
            } else {
                kresp_str(&r, msg, sizeof(msg));
            }
            res->n++;
        }
        if (flex)
            kresp_skip_tags(&r);
    }
    if (flex)
        kresp_skip_tags(&r);
    cr_assert_not(r.err, "truncated ElectLeaders v%d response", v);
    cr_assert_eq(kresp_left(&r), 0, "trailing bytes in ElectLeaders v%d response", v);
    free(frame);
}

static struct zk_store *open_zk(void)
{
    char err[256] = "";
    struct zk_store *zs =
        zk_store_open(tcluster_zk_connect(tcluster_fixture()), 6000, err, sizeof(err));
    cr_assert_not_null(zs, "%s", err);
    return zs;
}

/* Broker index (ids are 0..n-1) of the active controller. */
static int controller_index(struct zk_store *zs)
{
    int32_t id = -1;
    int64_t end = clock_mono_ms() + 15000;
    while (zk_store_controller_get(zs, &id) != KERR_NONE && clock_mono_ms() < end)
        usleep(50000);
    cr_assert(id >= 0 && id < tcluster_fixture()->n, "no controller (%d)", id);
    return id;
}

static void create_topic(struct zk_store *zs, const char *name, int32_t a, int32_t b)
{
    struct zk_topic t;
    memset(&t, 0, sizeof(t));
    snprintf(t.name, sizeof(t.name), "%s", name);
    t.n_partitions = 1;
    t.replication_factor = 2;
    int32_t reps[2] = {a, b};
    t.replicas = reps;
    cr_assert_eq(zk_store_topic_create(zs, &t), KERR_NONE);
    struct zk_partition_state st = {.leader = -1};
    int64_t end = clock_mono_ms() + 15000;
    while ((zk_store_partition_state_get(zs, name, 0, &st) != KERR_NONE || st.leader < 0) &&
           clock_mono_ms() < end)
        usleep(50000);
    cr_assert_eq(st.leader, a);
}

Test(elect_leaders, not_controller_and_controller_answers)
{
    struct tcluster *tc = tcluster_fixture();
    struct zk_store *zs = open_zk();
    int ci = controller_index(zs);
    int other = 1 - ci;
    create_topic(zs, "el", ci, other);
    int cport = broker_proc_port(tc->broker[ci]), oport = broker_proc_port(tc->broker[other]);
    struct result res;
    const char *tops[] = {"el", "nope"};
    const int32_t parts[] = {0, 0};

    /* preferred (type 0, v0+) and unclean (type 1, v1+): "el" has a live
     * leader on its preferred replica, so neither needs an election */
    for (int8_t type = 0; type <= 1; type++) {
        for (int16_t v = type; v <= 2; v++) {
            elect(oport, v, type, 1, tops, parts, &res);
            cr_assert_eq(res.n, 1, "v%d type %d", v, type);
            cr_assert_eq(res.err[0], NOT_CONTROLLER, "v%d type %d: %d", v, type, res.err[0]);
            if (v >= 1)
                cr_assert_eq(res.top_err, NOT_CONTROLLER);

            elect(cport, v, type, 2, tops, parts, &res);
            cr_assert_eq(res.top_err, 0);
            cr_assert_eq(res.n, 2, "v%d type %d: %d results", v, type, res.n);
            cr_assert_str_eq(res.topic[0], "el");
            cr_assert_eq(res.err[0], ELECTION_NOT_NEEDED, "v%d type %d: %d", v, type, res.err[0]);
            cr_assert_str_eq(res.topic[1], "nope");
            cr_assert_eq(res.err[1], UNKNOWN_TOPIC_OR_PARTITION);

            elect(cport, v, type, -1, NULL, NULL, &res);
            cr_assert_eq(res.top_err, 0);
            cr_assert_eq(res.n, 0, "v%d type %d: nothing needed an election, got %d", v, type,
                         res.n);
        }
    }
    struct zk_partition_state st;
    cr_assert_eq(zk_store_partition_state_get(zs, "el", 0, &st), KERR_NONE);
    cr_assert_eq(st.leader, ci, "an election that was not needed moved the leader");
    elect(cport, 1, 2, 1, tops, parts, &res);
    cr_assert_eq(res.n, 1);
    cr_assert_eq(res.err[0], INVALID_REQUEST, "election type 2 does not exist: %d", res.err[0]);
    zk_store_close(zs);
}

Test(elect_leaders, moves_leadership_back)
{
    struct tcluster *tc = tcluster_fixture();
    struct zk_store *zs = open_zk();
    int ci = controller_index(zs);
    int other = 1 - ci;
    /* preferred = the broker that is not the controller, so it can be killed */
    create_topic(zs, "mv", other, ci);
    cr_assert_neq(broker_proc_kill(tc->broker[other]), -1);
    struct zk_partition_state st;
    int64_t end = clock_mono_ms() + 30000;
    while ((zk_store_partition_state_get(zs, "mv", 0, &st) != KERR_NONE || st.leader != ci) &&
           clock_mono_ms() < end)
        usleep(100000);
    cr_assert_eq(st.leader, ci, "leader did not move after the kill");
    cr_assert_eq(broker_proc_restart(tc->broker[other]), 0);
    /* wait until the returning broker is back in the ISR (replication) */
    end = clock_mono_ms() + 60000;
    while ((zk_store_partition_state_get(zs, "mv", 0, &st) != KERR_NONE || st.n_isr != 2) &&
           clock_mono_ms() < end)
        usleep(100000);
    cr_assert_eq(st.n_isr, 2, "the restarted broker never rejoined the ISR");
    struct result res;
    const char *tops[] = {"mv"};
    const int32_t parts[] = {0};
    elect(broker_proc_port(tc->broker[ci]), 2, 0, 1, tops, parts, &res);
    cr_assert_eq(res.n, 1);
    cr_assert_eq(res.err[0], 0, "election failed: %d", res.err[0]);
    cr_assert_eq(zk_store_partition_state_get(zs, "mv", 0, &st), KERR_NONE);
    cr_assert_eq(st.leader, other);
    zk_store_close(zs);
}

/* ---- unclean election: three brokers ----------------------------------- */

static const char *const short_sessions[] = {"zookeeper.session.timeout.ms=4000", NULL};

static void up3(void)
{
    say_setup(SAY_WARN, 2);
    cr_assert_not_null(tcluster_fixture_up(3, short_sessions), "cluster did not start");
}

TestSuite(elect_unclean, .init = up3, .fini = down, .timeout = 240);

/* Waits up to ms for topic-0's state to have leader `leader` and ISR
 * exactly isr[0..n_isr) (any order); returns the last state read. */
static struct zk_partition_state wait_state(struct zk_store *zs, const char *topic, int32_t leader,
                                            const int32_t *isr, int n_isr, int ms)
{
    struct zk_partition_state st = {.leader = -2};
    int64_t end = clock_mono_ms() + ms;
    for (;;) {
        bool match = zk_store_partition_state_get(zs, topic, 0, &st) == KERR_NONE &&
                     st.leader == leader && st.n_isr == n_isr;
        for (int i = 0; match && i < n_isr; i++) {
            bool found = false;
            for (int k = 0; k < st.n_isr; k++)
                found = found || st.isr[k] == isr[i];
            match = found;
        }
        if (match || clock_mono_ms() >= end)
            return st;
        usleep(100000);
    }
}

Test(elect_unclean, elects_live_replica_out_of_isr)
{
    struct tcluster *tc = tcluster_fixture();
    struct zk_store *zs = open_zk();
    int ci = controller_index(zs);
    int a = (ci + 1) % 3, b = (ci + 2) % 3; /* the controller stays up */
    create_topic(zs, "un", a, b);
    int cport = broker_proc_port(tc->broker[ci]);
    const char *tops[] = {"un"};
    const int32_t parts[] = {0};
    struct result res;

    /* (a) a live leader: nothing to do */
    struct zk_partition_state st = wait_state(zs, "un", a, (int32_t[]){a, b}, 2, 30000);
    cr_assert(st.leader == a && st.n_isr == 2, "ISR never became {%d,%d}", a, b);
    elect(cport, 2, 1, 1, tops, parts, &res);
    cr_assert(res.n == 1 && res.err[0] == ELECTION_NOT_NEEDED, "live leader: %d", res.err[0]);

    /* the follower dies: the ISR shrinks to the leader; then the leader dies */
    cr_assert_neq(broker_proc_kill(tc->broker[b]), -1);
    st = wait_state(zs, "un", a, (int32_t[]){a}, 1, 30000);
    cr_assert(st.leader == a && st.n_isr == 1, "ISR did not shrink to {%d}: leader %d n_isr %d", a,
              st.leader, st.n_isr);
    cr_assert_neq(broker_proc_kill(tc->broker[a]), -1);
    st = wait_state(zs, "un", -1, (int32_t[]){a}, 1, 30000);
    cr_assert(st.leader == -1 && st.n_isr == 1, "partition did not go offline: leader %d",
              st.leader);
    int32_t offline_epoch = st.leader_epoch;

    /* the out-of-ISR follower returns: no clean candidate, so it stays offline */
    cr_assert_eq(broker_proc_restart(tc->broker[b]), 0);
    int64_t end = clock_mono_ms() + 20000;
    do { /* until the controller has seen b register */
        cr_assert_eq(zk_store_partition_state_get(zs, "un", 0, &st), KERR_NONE);
        cr_assert_eq(st.leader, -1, "elected %d without being asked", st.leader);
        elect(cport, 1, 1, 1, tops, parts, &res);
        cr_assert_eq(res.n, 1);
        cr_assert(res.err[0] == 0 || res.err[0] == ELIGIBLE_LEADERS_NOT_AVAILABLE, "got %d",
                  res.err[0]);
        if (res.err[0] != 0)
            usleep(200000);
    } while (res.err[0] != 0 && clock_mono_ms() < end);
    cr_assert_eq(res.err[0], 0, "unclean election failed: %d", res.err[0]);
    cr_assert_eq(zk_store_partition_state_get(zs, "un", 0, &st), KERR_NONE);
    cr_assert_eq(st.leader, b, "leader %d, expected the out-of-ISR replica %d", st.leader, b);
    cr_assert(st.n_isr == 1 && st.isr[0] == b, "ISR must be {%d}: n_isr %d", b, st.n_isr);
    cr_assert_eq(st.leader_epoch, offline_epoch + 1, "epoch %d after %d", st.leader_epoch,
                 offline_epoch);
    elect(cport, 2, 1, 1, tops, parts, &res);
    cr_assert(res.n == 1 && res.err[0] == ELECTION_NOT_NEEDED, "after election: %d", res.err[0]);

    /* (c) no live replica at all */
    cr_assert_neq(broker_proc_kill(tc->broker[b]), -1);
    st = wait_state(zs, "un", -1, (int32_t[]){b}, 1, 30000);
    cr_assert_eq(st.leader, -1, "partition did not go offline after %d died", b);
    elect(cport, 2, 1, 1, tops, parts, &res);
    cr_assert(res.n == 1 && res.err[0] == ELIGIBLE_LEADERS_NOT_AVAILABLE, "no live replica: %d",
              res.err[0]);
    elect(cport, 2, 1, -1, NULL, NULL, &res); /* the null list reports it too */
    cr_assert(res.n == 1 && strcmp(res.topic[0], "un") == 0 &&
                  res.err[0] == ELIGIBLE_LEADERS_NOT_AVAILABLE,
              "null list: n %d", res.n);
    cr_assert_eq(zk_store_partition_state_get(zs, "un", 0, &st), KERR_NONE);
    cr_assert_eq(st.leader, -1);

    /* back up, so that the fixture stops every broker cleanly */
    cr_assert_eq(broker_proc_restart(tc->broker[a]), 0);
    cr_assert_eq(broker_proc_restart(tc->broker[b]), 0);
    zk_store_close(zs);
}
