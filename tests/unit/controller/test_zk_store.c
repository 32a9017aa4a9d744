/*
 * tests/unit/controller/test_zk_store.c — controller/zk/zk_store.c against a
 * real ZooKeeper (tests/harness/zk_server.c), one fresh server per test.
 * Label: integration.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/say.h"
#include "controller/zk/zk_store.h"
#include "tests/harness/zk_server.h"
#include "tests/unit/controller/zk_fixture.h"

#define SESSION_MS ZK_FIXTURE_SESSION_MS

TestSuite(zk_store, .init = zk_up, .fini = zk_down, .timeout = 60);

/* A store on the test server (optionally under a chroot suffix) with the
 * standard paths. */
static struct zk_store *open_store_at(const char *chroot) { return zk_fixture_open(chroot, true); }

static struct zk_store *open_store(void) { return open_store_at(""); }

static struct zk_broker_reg make_reg(int32_t id, const char *dir, const char *host, int port,
                                     int32_t pid)
{
    struct zk_broker_reg r;
    memset(&r, 0, sizeof(r));
    r.id = id;
    snprintf(r.directory_id, sizeof(r.directory_id), "%s", dir);
    snprintf(r.hostname, sizeof(r.hostname), "%s", host);
    snprintf(r.rack, sizeof(r.rack), "rack-a");
    snprintf(r.version, sizeof(r.version), "0.1.0");
    r.pid = pid;
    r.start_time_ms = 1700000000123;
    r.n_endpoints = 2;
    snprintf(r.ep[0].listener, sizeof(r.ep[0].listener), "PLAINTEXT");
    snprintf(r.ep[0].host, sizeof(r.ep[0].host), "%s", host);
    r.ep[0].port = port;
    snprintf(r.ep[0].protocol, sizeof(r.ep[0].protocol), "PLAINTEXT");
    snprintf(r.ep[1].listener, sizeof(r.ep[1].listener), "INTERNAL");
    snprintf(r.ep[1].host, sizeof(r.ep[1].host), "%s", host);
    r.ep[1].port = port + 1;
    snprintf(r.ep[1].protocol, sizeof(r.ep[1].protocol), "SASL_SSL");
    return r;
}

/* ---- cluster id ---- */

Test(zk_store, cluster_id_created_once_and_read_back)
{
    struct zk_store *a = open_store(), *b = open_store();
    char id1[64], id2[64], id3[64];
    cr_assert_eq(zk_store_cluster_id(a, id1, sizeof(id1)), KERR_NONE);
    cr_assert_eq(strlen(id1), 22);
    cr_assert_eq(strspn(id1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                 22, "not base64url: %s", id1);
    cr_assert_eq(zk_store_cluster_id(b, id2, sizeof(id2)), KERR_NONE);
    cr_assert_str_eq(id1, id2);
    cr_assert_eq(zk_store_cluster_id(a, id3, sizeof(id3)), KERR_NONE);
    cr_assert_str_eq(id1, id3);
    cr_assert_eq(zk_store_cluster_id(a, id3, 10), KERR__INVALID);
    zk_store_close(a);
    zk_store_close(b);
}

Test(zk_store, cluster_id_differs_between_clusters)
{
    struct zk_store *a = open_store_at("/c1"), *b = open_store_at("/c2");
    char id1[64], id2[64];
    cr_assert_eq(zk_store_cluster_id(a, id1, sizeof(id1)), KERR_NONE);
    cr_assert_eq(zk_store_cluster_id(b, id2, sizeof(id2)), KERR_NONE);
    cr_assert_str_neq(id1, id2);
    zk_store_close(a);
    zk_store_close(b);
}

Test(zk_store, open_fails_without_server)
{
    char err[256] = "";
    zk_server_stop(zk);
    zk = NULL;
    struct zk_store *zs = zk_store_open("127.0.0.1:1", 1500, err, sizeof(err));
    cr_assert_null(zs);
    cr_assert(strstr(err, "127.0.0.1:1") != NULL, "err: %s", err);
}

/* ---- brokers ---- */

Test(zk_store, registration_is_ephemeral_and_vanishes_on_close)
{
    struct zk_store *a = open_store(), *b = open_store();
    struct zk_broker_reg r = make_reg(1, "dir-a", "host-a", 9092, 111);
    int64_t epoch = 0;
    char err[256] = "";
    cr_assert_eq(zk_store_register_broker(a, &r, &epoch, err, sizeof(err)), KERR_NONE, "%s", err);
    cr_assert_gt(epoch, 0);

    struct zk_broker_reg *regs;
    int n;
    cr_assert_eq(zk_store_list_brokers(b, &regs, &n), KERR_NONE);
    cr_assert_eq(n, 1);
    cr_assert_eq(regs[0].id, 1);
    cr_assert_eq(regs[0].epoch, epoch);
    cr_assert_eq(regs[0].pid, 111);
    cr_assert_eq(regs[0].start_time_ms, 1700000000123);
    cr_assert_str_eq(regs[0].rack, "rack-a");
    cr_assert_str_eq(regs[0].directory_id, "dir-a");
    cr_assert_str_eq(regs[0].version, "0.1.0");
    cr_assert_eq(regs[0].n_endpoints, 2);
    cr_assert_str_eq(regs[0].ep[1].listener, "INTERNAL");
    cr_assert_str_eq(regs[0].ep[1].host, "host-a");
    cr_assert_eq(regs[0].ep[1].port, 9093);
    cr_assert_str_eq(regs[0].ep[1].protocol, "SASL_SSL");
    free(regs);

    zk_store_close(a); /* closes the session now: the ephemeral goes with it */
    cr_assert_eq(zk_store_list_brokers(b, &regs, &n), KERR_NONE);
    cr_assert_eq(n, 0);
    cr_assert_null(regs);
    zk_store_close(b);
}

Test(zk_store, list_brokers_sorted_by_id)
{
    struct zk_store *a = open_store(), *b = open_store(), *c = open_store();
    struct zk_broker_reg r10 = make_reg(10, "d10", "h", 1, 1), r2 = make_reg(2, "d2", "h", 1, 1),
                         r7 = make_reg(7, "d7", "h", 1, 1);
    int64_t e;
    cr_assert_eq(zk_store_register_broker(a, &r10, &e, NULL, 0), KERR_NONE);
    cr_assert_eq(zk_store_register_broker(b, &r2, &e, NULL, 0), KERR_NONE);
    cr_assert_eq(zk_store_register_broker(c, &r7, &e, NULL, 0), KERR_NONE);
    struct zk_broker_reg *regs;
    int n;
    cr_assert_eq(zk_store_list_brokers(a, &regs, &n), KERR_NONE);
    cr_assert_eq(n, 3);
    cr_assert_eq(regs[0].id, 2);
    cr_assert_eq(regs[1].id, 7);
    cr_assert_eq(regs[2].id, 10);
    /* registered in the order 10, 2, 7: epochs (czxids) follow that order */
    cr_assert(regs[2].epoch < regs[0].epoch && regs[0].epoch < regs[1].epoch,
              "epochs follow creation order");
    free(regs);
    zk_store_close(a);
    zk_store_close(b);
    zk_store_close(c);
}

Test(zk_store, second_live_broker_with_same_id_is_refused)
{
    struct zk_store *a = open_store(), *b = open_store();
    struct zk_broker_reg ra = make_reg(1, "dir-a", "host-a", 9092, 111);
    struct zk_broker_reg rb = make_reg(1, "dir-b", "host-b", 9192, 222);
    int64_t ea = 0, eb = 0;
    char err[512] = "";
    cr_assert_eq(zk_store_register_broker(a, &ra, &ea, NULL, 0), KERR_NONE);
    cr_assert_eq(zk_store_register_broker(b, &rb, &eb, err, sizeof(err)), KERR__EXISTS);
    cr_assert(strstr(err, "host-a") != NULL, "err: %s", err);
    cr_assert(strstr(err, "9092") != NULL, "err: %s", err);
    cr_assert(strstr(err, "111") != NULL, "err: %s", err);

    struct zk_broker_reg *regs;
    int n;
    cr_assert_eq(zk_store_list_brokers(b, &regs, &n), KERR_NONE);
    cr_assert_eq(n, 1);
    cr_assert_eq(regs[0].pid, 111, "the first registration is untouched");
    cr_assert_eq(regs[0].epoch, ea);
    free(regs);
    zk_store_close(a);
    zk_store_close(b);
}

Test(zk_store, same_directory_replaces_stale_registration)
{
    struct zk_store *a = open_store(), *b = open_store();
    struct zk_broker_reg ra = make_reg(1, "dir-x", "host-a", 9092, 111);
    struct zk_broker_reg rb = make_reg(1, "dir-x", "host-a", 9092, 222);
    int64_t ea = 0, eb = 0;
    char err[256] = "";
    cr_assert_eq(zk_store_register_broker(a, &ra, &ea, NULL, 0), KERR_NONE);
    /* a's session is still alive: b is the restarted broker after a SIGKILL */
    cr_assert_eq(zk_store_register_broker(b, &rb, &eb, err, sizeof(err)), KERR_NONE, "%s", err);
    cr_assert_gt(eb, ea, "a new znode, so a new broker epoch");

    struct zk_broker_reg *regs;
    int n;
    cr_assert_eq(zk_store_list_brokers(b, &regs, &n), KERR_NONE);
    cr_assert_eq(n, 1);
    cr_assert_eq(regs[0].pid, 222);
    cr_assert_eq(regs[0].epoch, eb);
    free(regs);

    zk_store_close(a); /* the old session ending must not remove b's node */
    cr_assert_eq(zk_store_list_brokers(b, &regs, &n), KERR_NONE);
    cr_assert_eq(n, 1);
    cr_assert_eq(regs[0].pid, 222);
    free(regs);
    zk_store_close(b);
}

Test(zk_store, restarted_controller_replaces_its_dead_incarnation_s_controller)
{
    struct zk_store *a = open_store(), *b = open_store(), *other = open_store();
    struct zk_broker_reg ra = make_reg(1, "dir-x", "host-a", 9092, 111);
    struct zk_broker_reg rb = make_reg(1, "dir-x", "host-a", 9092, 222);
    int64_t ea = 0, eb = 0;
    int32_t id = -1, epoch = 0;
    cr_assert_eq(zk_store_register_broker(a, &ra, &ea, NULL, 0), KERR_NONE);
    cr_assert_eq(zk_store_controller_elect(a, 1, &id, &epoch), KERR_NONE);
    cr_assert_eq(epoch, 1);
    /* another broker cannot take the dead incarnation's /controller */
    cr_assert_eq(zk_store_controller_elect(other, 2, &id, &epoch), KERR__EXISTS);
    cr_assert_eq(id, 1);
    /* a's session is still alive (SIGKILLed, not expired); b is broker 1 restarted: it
     * replaces the registration and then the controller of that session */
    cr_assert_eq(zk_store_register_broker(b, &rb, &eb, NULL, 0), KERR_NONE);
    cr_assert_eq(zk_store_controller_elect(b, 1, &id, &epoch), KERR_NONE);
    cr_assert_eq(id, 1);
    cr_assert_eq(epoch, 2, "a new election, so a new epoch");
    /* b's own /controller is not a dead incarnation's: a second run leaves it */
    cr_assert_eq(zk_store_controller_elect(b, 1, &id, &epoch), KERR__EXISTS);
    cr_assert_eq(zk_store_controller_elect(other, 2, &id, &epoch), KERR__EXISTS);
    cr_assert_eq(id, 1);
    int32_t e = 0;
    cr_assert_eq(zk_store_controller_epoch_get(other, &e), KERR_NONE);
    cr_assert_eq(e, 2);
    zk_store_close(a);
    zk_store_close(b);
    zk_store_close(other);
}

Test(zk_store, controller_of_a_live_session_is_never_replaced)
{
    /* broker 1 is controller on session a; a store that registered without replacing
     * anything (a fresh start, another directory) must not touch it */
    struct zk_store *a = open_store(), *b = open_store();
    struct zk_broker_reg ra = make_reg(1, "dir-x", "host-a", 9092, 111);
    struct zk_broker_reg rb = make_reg(2, "dir-y", "host-b", 9192, 222);
    int64_t ea = 0, eb = 0;
    int32_t id = -1, epoch = 0;
    cr_assert_eq(zk_store_register_broker(a, &ra, &ea, NULL, 0), KERR_NONE);
    cr_assert_eq(zk_store_controller_elect(a, 1, &id, &epoch), KERR_NONE);
    cr_assert_eq(zk_store_register_broker(b, &rb, &eb, NULL, 0), KERR_NONE);
    cr_assert_eq(zk_store_controller_elect(b, 1, &id, &epoch), KERR__EXISTS,
                 "same id, but not the session b replaced");
    cr_assert_eq(id, 1);
    int32_t e = 0;
    cr_assert_eq(zk_store_controller_epoch_get(b, &e), KERR_NONE);
    cr_assert_eq(e, 1);
    zk_store_close(a);
    zk_store_close(b);
}

/* ---- topics ---- */

static int32_t replicas3x2[] = {0, 1, 1, 2, 2, 0};
static char cfg_keys[2][128] = {"retention.ms", "cleanup.policy"};
static char cfg_vals[2][256] = {"1000", "compact"};

static struct zk_topic make_topic(const char *name)
{
    struct zk_topic t;
    memset(&t, 0, sizeof(t));
    snprintf(t.name, sizeof(t.name), "%s", name);
    t.n_partitions = 3;
    t.replication_factor = 2;
    t.replicas = replicas3x2;
    t.n_configs = 2;
    t.config_keys = cfg_keys;
    t.config_values = cfg_vals;
    return t;
}

Test(zk_store, topic_create_get_list_delete_round_trip)
{
    struct zk_store *zs = open_store();
    struct zk_topic t = make_topic("orders"), u = make_topic("audit-log_1.x");
    u.n_configs = 0;
    cr_assert_eq(zk_store_topic_create(zs, &t), KERR_NONE);
    cr_assert_eq(zk_store_topic_create(zs, &u), KERR_NONE);

    struct zk_topic g;
    cr_assert_eq(zk_store_topic_get(zs, "orders", &g), KERR_NONE);
    cr_assert_str_eq(g.name, "orders");
    cr_assert_eq(g.n_partitions, 3);
    cr_assert_eq(g.replication_factor, 2);
    cr_assert_arr_eq(g.replicas, replicas3x2, sizeof(replicas3x2));
    cr_assert_eq(g.n_configs, 2);
    cr_assert_str_eq(g.config_keys[0], "cleanup.policy"); /* sorted by key */
    cr_assert_str_eq(g.config_values[0], "compact");
    cr_assert_str_eq(g.config_keys[1], "retention.ms");
    cr_assert_str_eq(g.config_values[1], "1000");
    cr_assert_eq(g.assignment_version, 0);
    cr_assert_eq(g.config_version, 0);
    zk_topic_destroy(&g);
    zk_topic_destroy(&g); /* idempotent */

    char **names;
    int n;
    cr_assert_eq(zk_store_topic_list(zs, &names, &n), KERR_NONE);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(names[0], "audit-log_1.x");
    cr_assert_str_eq(names[1], "orders");
    zk_names_free(names, n);

    struct zk_partition_state st = {
        .leader = 0, .leader_epoch = 0, .n_isr = 2, .isr = {0, 1}, .version = ZK_VERSION_NEW};
    cr_assert_eq(zk_store_partition_state_set(zs, "orders", 0, &st), KERR_NONE);

    cr_assert_eq(zk_store_topic_delete(zs, "orders"), KERR_NONE);
    cr_assert_eq(zk_store_topic_get(zs, "orders", &g), KERR_UNKNOWN_TOPIC_OR_PARTITION);
    cr_assert_null(g.replicas);
    cr_assert_eq(zk_store_partition_state_get(zs, "orders", 0, &st), KERR__NOENT);
    cr_assert_eq(zk_store_topic_list(zs, &names, &n), KERR_NONE);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(names[0], "audit-log_1.x");
    zk_names_free(names, n);
    cr_assert_eq(zk_store_topic_delete(zs, "orders"), KERR_UNKNOWN_TOPIC_OR_PARTITION);

    /* the name is free again, configs included */
    t.n_configs = 1;
    cr_assert_eq(zk_store_topic_create(zs, &t), KERR_NONE);
    cr_assert_eq(zk_store_topic_get(zs, "orders", &g), KERR_NONE);
    cr_assert_eq(g.n_configs, 1);
    cr_assert_str_eq(g.config_keys[0], "retention.ms");
    zk_topic_destroy(&g);
    zk_store_close(zs);
}

Test(zk_store, topic_create_twice_is_topic_already_exists)
{
    struct zk_store *a = open_store(), *b = open_store();
    struct zk_topic t = make_topic("dup");
    cr_assert_eq(zk_store_topic_create(a, &t), KERR_NONE);
    t.n_partitions = 1;
    cr_assert_eq(zk_store_topic_create(b, &t), KERR_TOPIC_ALREADY_EXISTS);
    struct zk_topic g;
    cr_assert_eq(zk_store_topic_get(a, "dup", &g), KERR_NONE);
    cr_assert_eq(g.n_partitions, 3, "the first assignment stays");
    zk_topic_destroy(&g);
    zk_store_close(a);
    zk_store_close(b);
}

Test(zk_store, topic_names_and_shapes_are_validated)
{
    struct zk_store *zs = open_store();
    struct zk_topic t = make_topic("../etc");
    cr_assert_eq(zk_store_topic_create(zs, &t), KERR_INVALID_TOPIC_EXCEPTION);
    t = make_topic("a/b");
    cr_assert_eq(zk_store_topic_create(zs, &t), KERR_INVALID_TOPIC_EXCEPTION);
    t = make_topic("..");
    cr_assert_eq(zk_store_topic_create(zs, &t), KERR_INVALID_TOPIC_EXCEPTION);
    t = make_topic("");
    cr_assert_eq(zk_store_topic_create(zs, &t), KERR_INVALID_TOPIC_EXCEPTION);
    t = make_topic("ok");
    t.n_partitions = 0;
    cr_assert_eq(zk_store_topic_create(zs, &t), KERR__INVALID);
    struct zk_topic g;
    cr_assert_eq(zk_store_topic_get(zs, "ok", &g), KERR_UNKNOWN_TOPIC_OR_PARTITION);
    zk_store_close(zs);
}

Test(zk_store, topic_config_and_assignment_updates_are_conditional)
{
    struct zk_store *zs = open_store();
    struct zk_topic t = make_topic("cfg");
    cr_assert_eq(zk_store_topic_create(zs, &t), KERR_NONE);
    struct zk_topic g1, g2;
    cr_assert_eq(zk_store_topic_get(zs, "cfg", &g1), KERR_NONE);
    cr_assert_eq(zk_store_topic_get(zs, "cfg", &g2), KERR_NONE);
    snprintf(g1.config_values[1], sizeof(g1.config_values[1]), "2000");
    cr_assert_eq(zk_store_topic_config_set(zs, &g1), KERR_NONE);
    cr_assert_eq(zk_store_topic_config_set(zs, &g2), KERR__EXISTS, "stale version");

    int32_t more[] = {0, 1, 1, 2, 2, 0, 0, 2};
    int32_t *owned = g1.replicas;
    g1.replicas = more; /* borrowed for the two calls */
    g1.n_partitions = 4;
    cr_assert_eq(zk_store_topic_assignment_set(zs, &g1), KERR_NONE);
    cr_assert_eq(zk_store_topic_assignment_set(zs, &g1), KERR__EXISTS, "stale version");
    g1.replicas = owned;
    zk_topic_destroy(&g1);
    zk_topic_destroy(&g2);

    cr_assert_eq(zk_store_topic_get(zs, "cfg", &g1), KERR_NONE);
    cr_assert_eq(g1.n_partitions, 4);
    cr_assert_eq(g1.replicas[7], 2);
    cr_assert_eq(g1.assignment_version, 1);
    cr_assert_str_eq(g1.config_values[1], "2000");
    cr_assert_eq(g1.config_version, 1);
    zk_topic_destroy(&g1);
    zk_store_close(zs);
}

/* ---- partition state ---- */

Test(zk_store, partition_state_conditional_set_detects_conflicts)
{
    struct zk_store *zs = open_store();
    struct zk_topic t = make_topic("ps");
    cr_assert_eq(zk_store_topic_create(zs, &t), KERR_NONE);

    struct zk_partition_state st = {.leader = 1,
                                    .leader_epoch = 0,
                                    .controller_epoch = 3,
                                    .n_isr = 2,
                                    .isr = {1, 2},
                                    .version = ZK_VERSION_NEW};
    cr_assert_eq(zk_store_partition_state_get(zs, "ps", 2, &st), KERR__NOENT);
    st.version = ZK_VERSION_NEW;
    cr_assert_eq(zk_store_partition_state_set(zs, "ps", 2, &st), KERR_NONE);
    cr_assert_eq(st.version, 0);
    struct zk_partition_state again = st;
    again.version = ZK_VERSION_NEW;
    cr_assert_eq(zk_store_partition_state_set(zs, "ps", 2, &again), KERR__EXISTS,
                 "create over an existing state");

    struct zk_partition_state a, b;
    cr_assert_eq(zk_store_partition_state_get(zs, "ps", 2, &a), KERR_NONE);
    cr_assert_eq(a.leader, 1);
    cr_assert_eq(a.controller_epoch, 3);
    cr_assert_eq(a.n_isr, 2);
    cr_assert_eq(a.isr[1], 2);
    cr_assert_eq(a.version, 0);
    b = a;
    a.leader = 2;
    a.leader_epoch = 1;
    a.n_isr = 1;
    a.isr[0] = 2;
    cr_assert_eq(zk_store_partition_state_set(zs, "ps", 2, &a), KERR_NONE);
    cr_assert_eq(a.version, 1);
    b.leader = 3;
    cr_assert_eq(zk_store_partition_state_set(zs, "ps", 2, &b), KERR__EXISTS);
    cr_assert_eq(b.version, 0, "unchanged on failure");

    struct zk_partition_state c;
    cr_assert_eq(zk_store_partition_state_get(zs, "ps", 2, &c), KERR_NONE);
    cr_assert_eq(c.leader, 2);
    cr_assert_eq(c.leader_epoch, 1);
    cr_assert_eq(c.n_isr, 1);
    cr_assert_eq(c.version, 1);

    st.version = ZK_VERSION_NEW;
    cr_assert_eq(zk_store_partition_state_set(zs, "nope", 0, &st), KERR_UNKNOWN_TOPIC_OR_PARTITION);
    zk_store_close(zs);
}

/* ---- controller ---- */

Test(zk_store, controller_election_and_zombie_fencing)
{
    struct zk_store *a = open_store(), *b = open_store();
    int32_t id = -1, epoch = 0;
    cr_assert_eq(zk_store_controller_get(a, &id), KERR__NOENT);
    cr_assert_eq(zk_store_controller_elect(a, 1, &id, &epoch), KERR_NONE);
    cr_assert_eq(id, 1);
    cr_assert_eq(epoch, 1);
    cr_assert_eq(zk_store_controller_elect(b, 2, &id, &epoch), KERR__EXISTS);
    cr_assert_eq(id, 1);
    cr_assert_eq(zk_store_controller_get(b, &id), KERR_NONE);
    cr_assert_eq(id, 1);

    struct zk_topic t = make_topic("f");
    cr_assert_eq(zk_store_topic_create(a, &t), KERR_NONE);
    struct zk_partition_state st = {.leader = 1, .n_isr = 1, .isr = {1}, .version = ZK_VERSION_NEW};
    cr_assert_eq(zk_store_partition_state_set(a, "f", 0, &st), KERR_NONE, "fenced write ok");

    /* a loses its session (and /controller); b takes over */
    cr_assert_eq(zk_store_expire_session_for_test(a), KERR_NONE);
    int32_t got = -1;
    for (int i = 0; i < 100 && zk_store_controller_get(b, &got) == KERR_NONE; i++)
        usleep(50 * 1000);
    cr_assert_eq(zk_store_controller_elect(b, 2, &id, &epoch), KERR_NONE);
    cr_assert_eq(epoch, 2);
    int32_t e = 0;
    cr_assert_eq(zk_store_controller_epoch_get(b, &e), KERR_NONE);
    cr_assert_eq(e, 2);

    /* a comes back with a new session but is a zombie controller: fenced */
    cr_assert_eq(zk_store_reconnect(a), KERR_NONE);
    st.leader = 9;
    cr_assert_eq(zk_store_partition_state_set(a, "f", 0, &st), KERR_NOT_CONTROLLER);
    struct zk_partition_state cur;
    cr_assert_eq(zk_store_partition_state_get(b, "f", 0, &cur), KERR_NONE);
    cr_assert_eq(cur.leader, 1);
    cur.leader = 2;
    cr_assert_eq(zk_store_partition_state_set(b, "f", 0, &cur), KERR_NONE);

    /* b resigns: /controller is gone and a can win with epoch 3 */
    cr_assert_eq(zk_store_controller_resign(b), KERR_NONE);
    cr_assert_eq(zk_store_controller_get(a, &id), KERR__NOENT);
    cr_assert_eq(zk_store_controller_elect(a, 1, &id, &epoch), KERR_NONE);
    cr_assert_eq(epoch, 3);
    cr_assert_eq(zk_store_partition_state_get(a, "f", 0, &cur), KERR_NONE);
    cur.leader = 1;
    cr_assert_eq(zk_store_partition_state_set(a, "f", 0, &cur), KERR_NONE);
    zk_store_close(a);
    zk_store_close(b);
}

/* ---- session events and watches ---- */

struct events {
    pthread_mutex_t lock;
    int session[8];
    int n_session;
    int watch[8];
    char watch_path[8][64];
    int n_watch;
};

static struct events ev = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void on_session(void *arg, enum zk_session_event e)
{
    struct events *x = arg;
    pthread_mutex_lock(&x->lock);
    if (x->n_session < 8)
        x->session[x->n_session++] = e;
    pthread_mutex_unlock(&x->lock);
}

static void on_watch(void *arg, enum zk_watch_event e, const char *path)
{
    struct events *x = arg;
    pthread_mutex_lock(&x->lock);
    if (x->n_watch < 8) {
        snprintf(x->watch_path[x->n_watch], sizeof(x->watch_path[0]), "%s", path);
        x->watch[x->n_watch++] = e;
    }
    pthread_mutex_unlock(&x->lock);
}

/* Waits up to 10 s for a session event e; true if seen. */
static bool wait_session_event(int e)
{
    for (int i = 0; i < 200; i++) {
        pthread_mutex_lock(&ev.lock);
        for (int k = 0; k < ev.n_session; k++)
            if (ev.session[k] == e) {
                pthread_mutex_unlock(&ev.lock);
                return true;
            }
        pthread_mutex_unlock(&ev.lock);
        usleep(50 * 1000);
    }
    return false;
}

/* Waits up to 10 s for the n-th watch event; returns it (0 on timeout). */
static int wait_watch_event(int nth, char *path, size_t n)
{
    for (int i = 0; i < 200; i++) {
        pthread_mutex_lock(&ev.lock);
        int e = ev.n_watch > nth ? ev.watch[nth] : 0;
        if (e)
            snprintf(path, n, "%s", ev.watch_path[nth]);
        pthread_mutex_unlock(&ev.lock);
        if (e)
            return e;
        usleep(50 * 1000);
    }
    return 0;
}

Test(zk_store, session_expiry_is_reported_and_reconnect_recovers)
{
    struct zk_store *a = open_store(), *b = open_store();
    zk_store_set_session_cb(a, on_session, &ev);
    struct zk_broker_reg r = make_reg(4, "dir-4", "h4", 9092, 44);
    int64_t e1 = 0, e2 = 0;
    cr_assert_eq(zk_store_register_broker(a, &r, &e1, NULL, 0), KERR_NONE);
    int64_t sid = zk_store_session_id(a);
    cr_assert_neq(sid, 0);

    cr_assert_eq(zk_store_down_ms(a), 0, "connected");
    cr_assert_eq(zk_store_expire_session_for_test(a), KERR_NONE);
    cr_assert(wait_session_event(ZK_SESSION_EXPIRED), "no ZK_SESSION_EXPIRED event");
    cr_assert_gt(zk_store_down_ms(a), 0, "an expired session is down");
    struct zk_broker_reg *regs;
    int n;
    cr_assert_eq(zk_store_list_brokers(b, &regs, &n), KERR_NONE);
    cr_assert_eq(n, 0, "the ephemeral went with the session");
    cr_assert_neq(zk_store_list_brokers(a, &regs, &n), KERR_NONE, "expired handle fails");

    cr_assert_eq(zk_store_reconnect(a), KERR_NONE);
    cr_assert_eq(zk_store_down_ms(a), 0, "connected again");
    cr_assert_neq(zk_store_session_id(a), sid);
    cr_assert_eq(zk_store_register_broker(a, &r, &e2, NULL, 0), KERR_NONE);
    cr_assert_gt(e2, e1);
    cr_assert_eq(zk_store_list_brokers(b, &regs, &n), KERR_NONE);
    cr_assert_eq(n, 1);
    free(regs);
    zk_store_close(a);
    zk_store_close(b);
}

/* The heartbeat (an exists every third of the session timeout) keeps the
 * server's last answer recent: after 1.75 thirds of the session, silence is
 * under 1.5 thirds (the connect alone would leave it at 1.75). */
Test(zk_store, heartbeat_keeps_silence_short)
{
    struct zk_store *a = open_store();
    cr_assert_lt(zk_store_silent_ms(a), 1000);
    usleep(SESSION_MS / 3 * 1750);
    int64_t silent = zk_store_silent_ms(a);
    cr_assert_lt(silent, SESSION_MS / 3 * 3 / 2, "silent %lld ms", (long long)silent);
    zk_store_close(a);
}

static atomic_int second_watcher_events;

static void on_watch_count(void *arg, enum zk_watch_event e, const char *path)
{
    (void)e;
    (void)path;
    atomic_fetch_add((atomic_int *)arg, 1);
}

Test(zk_store, watches_fire_once_on_changes)
{
    struct zk_store *a = open_store(), *b = open_store();
    cr_assert(zk_store_watch_subscribe(a, on_watch, &ev));
    cr_assert(zk_store_watch_subscribe(a, on_watch_count, &second_watcher_events));
    char path[64];
    bool exists = true;
    cr_assert_eq(zk_store_watch_children(a, ZK_PATH_BROKER_IDS), KERR_NONE);
    cr_assert_eq(zk_store_watch_node(a, ZK_PATH_CONTROLLER, &exists), KERR_NONE);
    cr_assert_not(exists);

    struct zk_broker_reg r = make_reg(5, "d5", "h5", 9092, 55);
    int64_t e;
    cr_assert_eq(zk_store_register_broker(b, &r, &e, NULL, 0), KERR_NONE);
    cr_assert_eq(wait_watch_event(0, path, sizeof(path)), ZK_WATCH_CHILDREN);
    cr_assert_str_eq(path, "/brokers/ids");

    int32_t id, epoch;
    cr_assert_eq(zk_store_controller_elect(b, 5, &id, &epoch), KERR_NONE);
    cr_assert_eq(wait_watch_event(1, path, sizeof(path)), ZK_WATCH_CREATED);
    cr_assert_str_eq(path, "/controller");

    /* one-shot: a second change without re-arming is not reported */
    r.id = 6;
    snprintf(r.directory_id, sizeof(r.directory_id), "d6");
    struct zk_store *c = open_store();
    cr_assert_eq(zk_store_register_broker(c, &r, &e, NULL, 0), KERR_NONE);
    usleep(300 * 1000);
    pthread_mutex_lock(&ev.lock);
    int nw = ev.n_watch;
    pthread_mutex_unlock(&ev.lock);
    cr_assert_eq(nw, 2);
    cr_assert_eq(atomic_load(&second_watcher_events), 2, "every subscriber sees every event");
    zk_store_watch_unsubscribe(a, on_watch_count, &second_watcher_events);
    zk_store_close(c);
    zk_store_close(a);
    zk_store_close(b);
}

Test(zk_store, chroot_isolates_clusters)
{
    struct zk_store *plain = open_store(), *ch = open_store_at("/gregor/one");
    struct zk_topic t = make_topic("only-in-chroot");
    cr_assert_eq(zk_store_topic_create(ch, &t), KERR_NONE);
    char **names;
    int n;
    cr_assert_eq(zk_store_topic_list(ch, &names, &n), KERR_NONE);
    cr_assert_eq(n, 1);
    zk_names_free(names, n);
    cr_assert_eq(zk_store_topic_list(plain, &names, &n), KERR_NONE);
    cr_assert_eq(n, 0);
    zk_names_free(names, n);
    zk_store_close(ch);
    zk_store_close(plain);
}

Test(zk_store, delete_request_marks_and_lists)
{
    struct zk_store *zs = open_store();
    struct zk_topic t = make_topic("gone");
    cr_assert_eq(zk_store_topic_mark_deleted(zs, "gone"), KERR_UNKNOWN_TOPIC_OR_PARTITION);
    cr_assert_eq(zk_store_topic_create(zs, &t), KERR_NONE);
    cr_assert_eq(zk_store_topic_mark_deleted(zs, "gone"), KERR_NONE);
    cr_assert_eq(zk_store_topic_mark_deleted(zs, "gone"), KERR_NONE, "idempotent");
    char **names;
    int n;
    cr_assert_eq(zk_store_delete_requests_list(zs, &names, &n), KERR_NONE);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(names[0], "gone");
    zk_names_free(names, n);
    cr_assert_eq(zk_store_topic_create(zs, &t), KERR_TOPIC_ALREADY_EXISTS, "pending deletion");
    cr_assert_eq(zk_store_topic_delete(zs, "gone"), KERR_NONE);
    cr_assert_eq(zk_store_delete_requests_list(zs, &names, &n), KERR_NONE);
    cr_assert_eq(n, 0, "deletion removes the request too");
    zk_names_free(names, n);
    zk_store_close(zs);
}

/* Notifications since `after`; asserts the call works. */
static struct zk_config_change *changes_since(struct zk_store *zs, int64_t after, int *n,
                                              int64_t *oldest, int64_t *newest)
{
    struct zk_config_change *v = NULL;
    cr_assert_eq(zk_store_config_changes_since(zs, after, &v, n, oldest, newest), KERR_NONE);
    return v;
}

Test(zk_store, config_changes_are_sequenced_and_trimmed)
{
    struct zk_store *zs = open_store();
    int n;
    int64_t oldest, newest, start;
    free(changes_since(zs, INT64_MAX, &n, &oldest, &start));
    cr_assert_eq(n, 0);
    cr_assert_eq(zk_store_config_change_notify(zs, "topics", "a"), KERR_NONE);
    cr_assert_eq(zk_store_config_change_notify(zs, "topics", "b"), KERR_NONE);
    struct zk_config_change *v = changes_since(zs, start, &n, &oldest, &newest);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(v[0].entity_type, "topics");
    cr_assert_str_eq(v[0].entity_name, "a");
    cr_assert_str_eq(v[1].entity_name, "b");
    cr_assert_lt(v[0].seq, v[1].seq);
    cr_assert_eq(newest, v[1].seq);
    int64_t a_seq = v[0].seq;
    free(v);
    v = changes_since(zs, a_seq, &n, &oldest, &newest);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(v[0].entity_name, "b", "only the newer one");
    free(v);

    /* the writer keeps the newest ZK_CONFIG_CHANGES_KEEP */
    for (int i = 0; i < ZK_CONFIG_CHANGES_KEEP + 5; i++) {
        char name[32];
        snprintf(name, sizeof(name), "t%d", i);
        cr_assert_eq(zk_store_config_change_notify(zs, "topics", name), KERR_NONE);
    }
    v = changes_since(zs, -1, &n, &oldest, &newest);
    cr_assert_eq(n, ZK_CONFIG_CHANGES_KEEP);
    cr_assert_eq(oldest, newest - (ZK_CONFIG_CHANGES_KEEP - 1));
    cr_assert_gt(oldest, a_seq + 1, "a reader that saw only 'a' can tell it missed some");
    char last[32];
    snprintf(last, sizeof(last), "t%d", ZK_CONFIG_CHANGES_KEEP + 4);
    cr_assert_str_eq(v[n - 1].entity_name, last);
    free(v);

    char longname[TOPIC_NAME_MAX_LEN + 2];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    cr_assert_eq(zk_store_config_change_notify(zs, "topics", longname), KERR__INVALID);
    zk_store_close(zs);
}

Test(zk_store, session_and_ephemerals_survive_a_zookeeper_restart)
{
    struct zk_store *a = open_store();
    zk_store_set_session_cb(a, on_session, &ev);
    struct zk_broker_reg r = make_reg(8, "d8", "h8", 9092, 88);
    int64_t e;
    cr_assert_eq(zk_store_register_broker(a, &r, &e, NULL, 0), KERR_NONE);
    int64_t sid = zk_store_session_id(a);
    cr_assert(zk_server_restart(zk), "restart failed");
    cr_assert(wait_session_event(ZK_SESSION_DISCONNECTED), "no ZK_SESSION_DISCONNECTED");

    /* the library reconnects by itself within the session timeout */
    struct zk_broker_reg *regs = NULL;
    int n = 0;
    kerr_t err = KERR__ZK;
    for (int i = 0; i < 100 && err != KERR_NONE; i++) {
        err = zk_store_list_brokers(a, &regs, &n);
        if (err != KERR_NONE)
            usleep(100 * 1000);
    }
    cr_assert_eq(err, KERR_NONE);
    cr_assert_eq(n, 1, "the ephemeral survived");
    cr_assert_eq(regs[0].epoch, e);
    free(regs);
    cr_assert_eq(zk_store_session_id(a), sid);
    cr_assert(wait_session_event(ZK_SESSION_CONNECTED));
    pthread_mutex_lock(&ev.lock);
    for (int k = 0; k < ev.n_session; k++)
        cr_assert_neq(ev.session[k], ZK_SESSION_EXPIRED);
    pthread_mutex_unlock(&ev.lock);
    zk_store_close(a);
}

Test(zk_store, sync_then_read_sees_another_session_s_election)
{
    struct zk_store *a = open_store(), *b = open_store();
    int32_t id = -1, epoch = 0, seen = 0;
    cr_assert_eq(zk_store_controller_elect(a, 3, &id, &epoch), KERR_NONE);
    cr_assert_eq(zk_store_sync(b, ZK_PATH_CONTROLLER_EPOCH), KERR_NONE);
    cr_assert_eq(zk_store_controller_epoch_get(b, &seen), KERR_NONE);
    cr_assert_eq(seen, epoch);
    cr_assert_eq(zk_store_sync(b, "/no/such/path"), KERR_NONE, "sync needs no znode");
    zk_store_close(a);
    zk_store_close(b);
}
