/*
 * tests/unit/controller/test_zk_store_acl.c — controller/zk/zk_store_acl.c
 * against a real ZooKeeper (tests/harness/zk_server.c): many resource
 * patterns written and read at once, a conflict failing its own pattern
 * alone, one change notification per written pattern and none for a failed
 * write, the change lists trimmed to their newest ZK_ACL_CHANGES_KEEP (give
 * or take a trim), the listing of both layouts. Label: integration.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zookeeper/zookeeper.h>

#include "common/say.h"
#include "controller/zk/zk_store.h"
#include "tests/harness/zk_server.h"
#include "tests/unit/controller/zk_fixture.h"

#define JSON_A "{\"version\":1,\"acls\":[]}"
#define JSON_B "{\"version\":1,\"acls\":[{\"principal\":\"User:b\"}]}"

TestSuite(zk_store_acl, .init = zk_up, .fini = zk_down, .timeout = 60);

static struct zk_store *open_store(void) { return zk_fixture_open("", true); }

static void quiet_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)type;
    (void)state;
    (void)path;
    (void)ctx;
}

/* The number of children of path, read on a session of its own. */
static int children(const char *path)
{
    zhandle_t *zh = zookeeper_init(zk_server_connect(zk), quiet_watcher, 10000, NULL, NULL, 0);
    cr_assert_not_null(zh);
    for (int i = 0; i < 100 && zoo_state(zh) != ZOO_CONNECTED_STATE; i++)
        usleep(50 * 1000);
    struct String_vector sv = {0, NULL};
    int rc = zoo_get_children(zh, path, 0, &sv);
    cr_assert_eq(rc, ZOK, "get_children %s: %d", path, rc);
    int n = sv.count;
    deallocate_String_vector(&sv);
    zookeeper_close(zh);
    return n;
}

static struct zk_acl_rec rec(bool prefixed, const char *name, const char *json, int32_t version)
{
    return (struct zk_acl_rec){.prefixed = prefixed,
                               .type = "Topic",
                               .name = name,
                               .json = (char *)json,
                               .len = json ? strlen(json) : 0,
                               .version = version};
}

/* Writes of many patterns, in batches and one at a time: every write is
 * announced, and the literal list holds its newest ZK_ACL_CHANGES_KEEP
 * notifications, at most ZK_ACL_TRIM_EVERY more, after each round. */
static void check_trimming(struct zk_store *zs)
{
    enum { N = 160 };
    static char names[N][16];
    static struct zk_acl_rec v[N];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++) {
            snprintf(names[i], sizeof(names[i]), "r%d-%d", round, i);
            v[i] = rec(false, names[i], JSON_A, ZK_VERSION_NEW);
        }
        int batch = round == 0 ? N : N / 2;
        cr_assert_eq(zk_store_acl_set_many(zs, v, batch), KERR_NONE);
        for (int i = batch; i < N; i++)
            cr_assert_eq(zk_store_acl_set_many(zs, &v[i], 1), KERR_NONE);
        for (int i = 0; i < N; i++)
            cr_assert_eq(v[i].err, KERR_NONE);
        int n = children(ZK_PATH_ACL_CHANGES);
        cr_assert(n >= ZK_ACL_CHANGES_KEEP && n <= ZK_ACL_CHANGES_KEEP + ZK_ACL_TRIM_EVERY,
                  "round %d: %d notifications", round, n);
    }
}

/* One server for everything (starting one costs more than the checks). */
Test(zk_store_acl, many_patterns_at_once_conflicts_alone_lists_trimmed)
{
    struct zk_store *zs = open_store();
    enum { N = 40 };
    char names[N][16];
    struct zk_acl_rec v[N + 1];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "p%d", i);
        v[i] = rec(i % 2 == 1, names[i], JSON_A, ZK_VERSION_NEW);
    }
    v[N] = rec(false, "a/b", JSON_A, ZK_VERSION_NEW);
    cr_assert_eq(zk_store_acl_set_many(zs, v, N + 1), KERR_NONE);
    for (int i = 0; i < N; i++)
        cr_assert_eq(v[i].err, KERR_NONE, "p%d: %s", i, kerr_name(v[i].err));
    cr_assert_eq(v[N].err, KERR__INVALID);
    /* one notification per pattern written, on its pattern type's list */
    cr_assert_eq(children(ZK_PATH_ACL_CHANGES), N / 2);
    cr_assert_eq(children(ZK_PATH_ACL_EXTENDED_CHANGES), N / 2);

    for (int i = 0; i < N; i++)
        v[i] = rec(i % 2 == 1, names[i], NULL, 99);
    cr_assert_eq(zk_store_acl_get_many(zs, v, N), KERR_NONE);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(v[i].err, KERR_NONE);
        cr_assert_str_eq(v[i].json, JSON_A);
        cr_assert_eq(v[i].len, strlen(JSON_A));
        cr_assert_eq(v[i].version, 0);
        free(v[i].json);
    }

    /* p0 set on its version, p2 on a stale one, p4 created again, p6
     * deleted, p8 (never written) nothing to do: only p2 and p4 fail */
    struct zk_acl_rec w[] = {rec(false, "p0", JSON_B, 0), rec(false, "p2", JSON_B, 3),
                             rec(false, "p4", JSON_B, ZK_VERSION_NEW), rec(false, "p6", NULL, 0),
                             rec(false, "p80", NULL, ZK_VERSION_NEW)};
    cr_assert_eq(zk_store_acl_set_many(zs, w, 5), KERR_NONE);
    cr_assert_eq(w[0].err, KERR_NONE);
    cr_assert_eq(w[1].err, KERR__EXISTS);
    cr_assert_eq(w[2].err, KERR__EXISTS);
    cr_assert_eq(w[3].err, KERR_NONE);
    cr_assert_eq(w[4].err, KERR_NONE);
    cr_assert_eq(children(ZK_PATH_ACL_CHANGES), N / 2 + 2, "failed writes announce nothing");

    struct zk_acl_rec r[] = {rec(false, "p0", NULL, 0), rec(false, "p2", NULL, 0),
                             rec(false, "p6", NULL, 0), rec(false, "..", NULL, 0)};
    cr_assert_eq(zk_store_acl_get_many(zs, r, 4), KERR_NONE);
    cr_assert_str_eq(r[0].json, JSON_B);
    cr_assert_eq(r[0].version, 1);
    cr_assert_str_eq(r[1].json, JSON_A, "the conflict left p2 alone");
    cr_assert_null(r[2].json, "p6 deleted");
    cr_assert_eq(r[2].version, ZK_VERSION_NEW);
    cr_assert_eq(r[2].err, KERR_NONE);
    cr_assert_eq(r[3].err, KERR__INVALID);
    free(r[0].json);
    free(r[1].json);

    struct zk_acl_node *nodes;
    int nn;
    cr_assert_eq(zk_store_acl_list(zs, &nodes, &nn), KERR_NONE);
    cr_assert_eq(nn, N - 1);
    int prefixed = 0;
    for (int i = 0; i < nn; i++) {
        prefixed += nodes[i].prefixed;
        cr_assert_str_eq(nodes[i].type, "Topic");
        cr_assert_str_eq(nodes[i].json, strcmp(nodes[i].name, "p0") ? JSON_A : JSON_B);
    }
    cr_assert_eq(prefixed, N / 2);
    zk_acl_nodes_free(nodes, nn);

    check_trimming(zs);
    zk_store_close(zs);
}
