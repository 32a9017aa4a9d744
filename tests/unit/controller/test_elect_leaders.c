/*
 * tests/unit/controller/test_elect_leaders.c — ElectLeaders (key 43, v0-v2,
 * broker/kafka/elect_leaders.c) against a real two-broker cluster
 * (tests/harness tcluster: ZooKeeper + gregor-broker processes), on the
 * wire: NOT_CONTROLLER from the broker that is not the controller,
 * ELECTION_NOT_NEEDED / UNKNOWN_TOPIC_OR_PARTITION / INVALID_REQUEST
 * (unclean) from the controller, the null list, and a real preferred
 * election after the preferred replica was killed and came back into the
 * ISR.
 */
#include "controller/zk_store.h"
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
#define ELECTION_NOT_NEEDED 84

static void up(void)
{
    say_setup(SAY_WARN, 2);
    cr_assert_not_null(tcluster_fixture_up(2, NULL), "cluster did not start");
}

static void down(void)
{
    cr_expect_eq(tcluster_fixture_down(), 0, "a broker exited uncleanly");
}

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
    struct zk_store *zs = zk_store_open(tcluster_zk_connect(tcluster_fixture()), 6000, err,
                                        sizeof(err));
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
    cr_assert(id == 0 || id == 1, "no controller (%d)", id);
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

    for (int16_t v = 0; v <= 2; v++) {
        elect(oport, v, 0, 1, tops, parts, &res);
        cr_assert_eq(res.n, 1, "v%d", v);
        cr_assert_eq(res.err[0], NOT_CONTROLLER, "v%d: %d", v, res.err[0]);
        if (v >= 1)
            cr_assert_eq(res.top_err, NOT_CONTROLLER);

        elect(cport, v, 0, 2, tops, parts, &res);
        cr_assert_eq(res.top_err, 0);
        cr_assert_eq(res.n, 2, "v%d: %d results", v, res.n);
        cr_assert_str_eq(res.topic[0], "el");
        cr_assert_eq(res.err[0], ELECTION_NOT_NEEDED, "v%d: %d", v, res.err[0]);
        cr_assert_str_eq(res.topic[1], "nope");
        cr_assert_eq(res.err[1], UNKNOWN_TOPIC_OR_PARTITION);

        elect(cport, v, 0, -1, NULL, NULL, &res);
        cr_assert_eq(res.top_err, 0);
        cr_assert_eq(res.n, 0, "v%d: nothing needed an election, got %d", v, res.n);
    }
    elect(cport, 1, 1, 1, tops, parts, &res);
    cr_assert_eq(res.n, 1);
    cr_assert_eq(res.err[0], INVALID_REQUEST, "unclean is not implemented: %d", res.err[0]);
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
