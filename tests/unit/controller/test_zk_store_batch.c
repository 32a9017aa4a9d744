/*
 * tests/unit/controller/test_zk_store_batch.c — the pipelined partition
 * state calls of controller/zk/zk_store_batch.c (zk_store_partition_states_
 * set_many / get_many) against a real ZooKeeper (tests/harness/zk_server.c),
 * one fresh server per test: per-partition outcomes (a conflict leaves the
 * others written), versions, parents created for new states, fencing by a
 * newer controller epoch. Label: integration.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/say.h"
#include "controller/zk/zk_store.h"
#include "tests/harness/zk_server.h"
#include "tests/unit/controller/zk_fixture.h"

#define NPARTS 1100 /* more than the in-flight window (512) */

TestSuite(zk_store_batch, .init = zk_up, .fini = zk_down, .timeout = 90);

static struct zk_store *open_store(void) { return zk_fixture_open("", true); }

/* Creates topic `name` with n partitions, RF 1 (replica 1). */
static void create_topic(struct zk_store *zs, const char *name, int n)
{
    int32_t *replicas = calloc((size_t)n, sizeof(*replicas));
    cr_assert_not_null(replicas);
    for (int p = 0; p < n; p++)
        replicas[p] = 1;
    struct zk_topic t;
    memset(&t, 0, sizeof(t));
    snprintf(t.name, sizeof(t.name), "%s", name);
    t.n_partitions = n;
    t.replication_factor = 1;
    t.replicas = replicas;
    cr_assert_eq(zk_store_topic_create(zs, &t), KERR_NONE);
    free(replicas);
}

/* A batch over partitions [0, n) of one or two topics. */
struct batch {
    int n;
    const char **topics;
    int *parts;
    struct zk_partition_state *st;
    kerr_t *res;
};

static void batch_init(struct batch *b, int n, const char *t0, const char *t1)
{
    b->n = n;
    b->topics = calloc((size_t)n, sizeof(*b->topics));
    b->parts = calloc((size_t)n, sizeof(*b->parts));
    b->st = calloc((size_t)n, sizeof(*b->st));
    b->res = calloc((size_t)n, sizeof(*b->res));
    cr_assert(b->topics && b->parts && b->st && b->res);
    for (int i = 0; i < n; i++) {
        b->topics[i] = (t1 && i >= n / 2) ? t1 : t0;
        b->parts[i] = (t1 && i >= n / 2) ? i - n / 2 : i;
        b->st[i] = (struct zk_partition_state){.leader = i % 3,
                                               .leader_epoch = 0,
                                               .controller_epoch = 1,
                                               .n_isr = 1,
                                               .isr = {i % 3},
                                               .version = ZK_VERSION_NEW};
    }
}

static void batch_destroy(struct batch *b)
{
    free(b->topics);
    free(b->parts);
    free(b->st);
    free(b->res);
}

static kerr_t batch_set(struct zk_store *zs, struct batch *b)
{
    return zk_store_partition_states_set_many(zs, b->n, b->topics, b->parts, b->st, b->res);
}

static kerr_t batch_get(struct zk_store *zs, struct batch *b)
{
    return zk_store_partition_states_get_many(zs, b->n, b->topics, b->parts, b->st, b->res);
}

Test(zk_store_batch, creates_many_states_across_topics_and_reads_them_back)
{
    struct zk_store *zs = open_store();
    create_topic(zs, "ba", NPARTS / 2);
    create_topic(zs, "bb", NPARTS / 2);
    struct batch b;
    batch_init(&b, NPARTS, "ba", "bb");
    for (int i = 0; i < b.n; i++)
        b.st[i].leader_epoch = i;
    cr_assert_eq(batch_set(zs, &b), KERR_NONE);
    for (int i = 0; i < b.n; i++) {
        cr_assert_eq(b.res[i], KERR_NONE, "partition %d: %s", i, kerr_name(b.res[i]));
        cr_assert_eq(b.st[i].version, 0);
    }
    /* the single call sees them */
    struct zk_partition_state one;
    cr_assert_eq(zk_store_partition_state_get(zs, "bb", NPARTS / 2 - 1, &one), KERR_NONE);
    cr_assert_eq(one.leader_epoch, NPARTS - 1);

    /* read back in a batch, plus a partition and a topic that have no state */
    struct batch r;
    batch_init(&r, NPARTS + 2, "ba", "bb");
    for (int i = 0; i < NPARTS; i++) {
        r.topics[i] = b.topics[i];
        r.parts[i] = b.parts[i];
    }
    r.topics[NPARTS] = "ba";
    r.parts[NPARTS] = NPARTS / 2 + 5;
    r.topics[NPARTS + 1] = "nosuchtopic";
    r.parts[NPARTS + 1] = 0;
    memset(r.st, 0xff, sizeof(*r.st) * (size_t)r.n);
    cr_assert_eq(batch_get(zs, &r), KERR_NONE);
    for (int i = 0; i < NPARTS; i++) {
        cr_assert_eq(r.res[i], KERR_NONE);
        cr_assert_eq(r.st[i].leader, i % 3);
        cr_assert_eq(r.st[i].leader_epoch, i);
        cr_assert_eq(r.st[i].n_isr, 1);
        cr_assert_eq(r.st[i].isr[0], i % 3);
        cr_assert_eq(r.st[i].version, 0);
    }
    cr_assert_eq(r.res[NPARTS], KERR__NOENT);
    cr_assert_eq(r.res[NPARTS + 1], KERR__NOENT);

    /* conditional sets on the versions read: each moves to version 1 */
    for (int i = 0; i < NPARTS; i++)
        r.st[i].leader_epoch = i + 1;
    r.n = NPARTS;
    cr_assert_eq(batch_set(zs, &r), KERR_NONE);
    for (int i = 0; i < NPARTS; i++) {
        cr_assert_eq(r.res[i], KERR_NONE);
        cr_assert_eq(r.st[i].version, 1);
    }
    cr_assert_eq(zk_store_partition_state_get(zs, "ba", 7, &one), KERR_NONE);
    cr_assert_eq(one.leader_epoch, 8);
    cr_assert_eq(one.version, 1);
    batch_destroy(&b);
    batch_destroy(&r);
    zk_store_close(zs);
}

Test(zk_store_batch, conflict_on_one_partition_leaves_the_others_written)
{
    struct zk_store *zs = open_store(), *other = open_store();
    create_topic(zs, "bc", NPARTS);
    struct batch b;
    batch_init(&b, NPARTS, "bc", NULL);
    cr_assert_eq(batch_set(zs, &b), KERR_NONE);

    /* someone else moves partition 17 on; a create over partition 3's
     * existing state conflicts too; partition 5 names a bad topic */
    struct zk_partition_state theirs;
    cr_assert_eq(zk_store_partition_state_get(other, "bc", 17, &theirs), KERR_NONE);
    theirs.leader = 42;
    cr_assert_eq(zk_store_partition_state_set(other, "bc", 17, &theirs), KERR_NONE);
    for (int i = 0; i < b.n; i++)
        b.st[i].leader_epoch = 5;
    b.st[3].version = ZK_VERSION_NEW;
    b.topics[5] = "bad/name";
    cr_assert_eq(batch_set(zs, &b), KERR_NONE);
    for (int i = 0; i < b.n; i++) {
        kerr_t want = i == 17 || i == 3 ? KERR__EXISTS : i == 5 ? KERR__INVALID : KERR_NONE;
        cr_assert_eq(b.res[i], want, "partition %d: %s", i, kerr_name(b.res[i]));
        cr_assert_eq(b.st[i].version, i == 17 || i == 5 ? 0 : i == 3 ? ZK_VERSION_NEW : 1);
    }
    struct zk_partition_state cur;
    cr_assert_eq(zk_store_partition_state_get(zs, "bc", 17, &cur), KERR_NONE);
    cr_assert_eq(cur.leader, 42, "the conflicting write did not land");
    cr_assert_eq(cur.leader_epoch, 0);
    cr_assert_eq(zk_store_partition_state_get(zs, "bc", 18, &cur), KERR_NONE);
    cr_assert_eq(cur.leader_epoch, 5, "its neighbour did");
    cr_assert_eq(zk_store_partition_state_get(zs, "bc", 3, &cur), KERR_NONE);
    cr_assert_eq(cur.leader_epoch, 0);

    /* a topic that is gone */
    b.topics[5] = "bc";
    b.topics[6] = "gone";
    b.st[6].version = 0;
    cr_assert_eq(zk_store_partition_states_set_many(zs, 7, b.topics, b.parts, b.st, b.res),
                 KERR_NONE);
    cr_assert_eq(b.res[6], KERR_UNKNOWN_TOPIC_OR_PARTITION);
    cr_assert_eq(b.res[5], KERR_NONE);
    batch_destroy(&b);
    zk_store_close(zs);
    zk_store_close(other);
}

Test(zk_store_batch, newer_controller_epoch_refuses_the_whole_batch)
{
    struct zk_store *a = open_store(), *b = open_store();
    int32_t id = -1, epoch = 0;
    cr_assert_eq(zk_store_controller_elect(a, 1, &id, &epoch), KERR_NONE);
    create_topic(a, "bf", NPARTS);
    struct batch w;
    batch_init(&w, NPARTS, "bf", NULL);
    cr_assert_eq(batch_set(a, &w), KERR_NONE, "elected: fenced writes pass");
    for (int i = 0; i < w.n; i++)
        cr_assert_eq(w.res[i], KERR_NONE);

    /* a loses its session; b is elected with a newer epoch */
    cr_assert_eq(zk_store_expire_session_for_test(a), KERR_NONE);
    int32_t got = -1;
    for (int i = 0; i < 100 && zk_store_controller_get(b, &got) == KERR_NONE; i++)
        usleep(50 * 1000);
    cr_assert_eq(zk_store_controller_elect(b, 2, &id, &epoch), KERR_NONE);
    cr_assert_eq(epoch, 2);
    cr_assert_eq(zk_store_reconnect(a), KERR_NONE);

    /* the zombie's batch: every write refused, nothing changed */
    for (int i = 0; i < w.n; i++)
        w.st[i].leader = 9;
    cr_assert_eq(batch_set(a, &w), KERR_NONE);
    for (int i = 0; i < w.n; i++) {
        cr_assert_eq(w.res[i], KERR_NOT_CONTROLLER, "partition %d: %s", i, kerr_name(w.res[i]));
        cr_assert_eq(w.st[i].version, 0);
    }
    struct batch r;
    batch_init(&r, NPARTS, "bf", NULL);
    cr_assert_eq(batch_get(b, &r), KERR_NONE);
    for (int i = 0; i < r.n; i++) {
        cr_assert_eq(r.res[i], KERR_NONE);
        cr_assert_neq(r.st[i].leader, 9);
        cr_assert_eq(r.st[i].version, 0);
    }
    /* the new controller's batch passes */
    for (int i = 0; i < r.n; i++)
        r.st[i].controller_epoch = 2;
    cr_assert_eq(batch_set(b, &r), KERR_NONE);
    for (int i = 0; i < r.n; i++)
        cr_assert_eq(r.res[i], KERR_NONE);
    batch_destroy(&w);
    batch_destroy(&r);
    zk_store_close(a);
    zk_store_close(b);
}

Test(zk_store_batch, empty_and_invalid_batches)
{
    struct zk_store *zs = open_store();
    cr_assert_eq(zk_store_partition_states_set_many(zs, 0, NULL, NULL, NULL, NULL), KERR_NONE);
    cr_assert_eq(zk_store_partition_states_get_many(zs, 0, NULL, NULL, NULL, NULL), KERR_NONE);
    cr_assert_eq(zk_store_partition_states_set_many(zs, 1, NULL, NULL, NULL, NULL), KERR__INVALID);
    struct batch b;
    batch_init(&b, 2, "bi", NULL);
    b.parts[1] = -1;
    cr_assert_eq(batch_get(zs, &b), KERR_NONE);
    cr_assert_eq(b.res[0], KERR__NOENT);
    cr_assert_eq(b.res[1], KERR__INVALID);
    batch_destroy(&b);
    zk_store_close(zs);
}

/* Every read of a missing state says so, however fast its answer comes
 * (a completion may run before the call that sent it has returned). */
Test(zk_store_batch, reads_of_missing_states_all_say_noent)
{
    struct zk_store *zs = open_store();
    create_topic(zs, "bm", NPARTS);
    struct batch r;
    batch_init(&r, NPARTS, "bm", NULL);
    for (int round = 0; round < 5; round++) {
        memset(r.st, 0, sizeof(*r.st) * (size_t)r.n);
        cr_assert_eq(batch_get(zs, &r), KERR_NONE);
        for (int i = 0; i < r.n; i++)
            cr_assert_eq(r.res[i], KERR__NOENT, "round %d partition %d: %s", round, i,
                         kerr_name(r.res[i]));
    }
    batch_destroy(&r);
    zk_store_close(zs);
}
