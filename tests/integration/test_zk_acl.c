/*
 * tests/integration/test_zk_acl.c — ZooKeeper access control
 * (zookeeper.set.acl, gregor.zookeeper.auth.digest; docs/security.md,
 * "ZooKeeper"), against a real ZooKeeper and real brokers:
 *   - a broker with set.acl and digest credentials creates every znode it
 *     writes (registration, controller, topics, partition state, config
 *     changes) readable by all and changeable only by its credentials, and a
 *     SCRAM user's znode readable by nobody else: a session without
 *     credentials walks the whole tree, reads the ACL of each znode, cannot
 *     read /config/users/<user> and cannot create under /brokers/topics;
 *   - a second broker with other credentials, or none, cannot join (it
 *     cannot register) and says why;
 *   - set.acl without credentials is refused at start, naming the key.
 */
#include "controller/zk/zk_store.h"
#include "tests/harness/broker_proc.h"
#include "tests/harness/zk_server.h"
#include "tests/integration/itest.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

#define DIGEST "gregor:s3cret"
#define CHROOT "/acl-cluster"

static struct zk_server *g_zk;
static struct broker_proc *g_b1;
static char g_connect[256];

static void up(void)
{
    g_zk = zk_server_start();
    cr_assert(g_zk, "ZooKeeper did not start");
    snprintf(g_connect, sizeof(g_connect), "%s" CHROOT, zk_server_connect(g_zk));
    g_b1 = broker_proc_new(g_connect, 1, NULL);
    cr_assert(g_b1);
    broker_proc_add_override(g_b1, "zookeeper.set.acl=true");
    broker_proc_add_override(g_b1, "gregor.zookeeper.auth.digest=" DIGEST);
    broker_proc_add_override(g_b1, "offsets.topic.replication.factor=1");
    cr_assert_eq(broker_proc_start(g_b1), 0, "broker with set.acl did not start");
}

static void down(void)
{
    broker_proc_free(g_b1);
    zk_server_stop(g_zk);
}

TestSuite(zk_acl, .init = up, .fini = down, .timeout = 120);

static void zk_quiet_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh, (void)type, (void)state, (void)path, (void)ctx;
}

/* A session without credentials on the cluster's chroot. */
static zhandle_t *anonymous_session(void)
{
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    zhandle_t *zh = zookeeper_init(g_connect, zk_quiet_watcher, 10000, NULL, NULL, 0);
    cr_assert(zh);
    for (int i = 0; i < 100 && zoo_state(zh) != ZOO_CONNECTED_STATE; i++)
        usleep(50 * 1000);
    cr_assert_eq(zoo_state(zh), ZOO_CONNECTED_STATE, "no anonymous ZooKeeper session");
    return zh;
}

static volatile int g_auth_rc = 1;

static void auth_done(int rc, const void *data)
{
    (void)data;
    g_auth_rc = rc;
}

/* A session with the brokers' credentials. */
static zhandle_t *broker_session(void)
{
    zhandle_t *zh = anonymous_session();
    g_auth_rc = 1;
    cr_assert_eq(zoo_add_auth(zh, "digest", DIGEST, (int)strlen(DIGEST), auth_done, NULL), ZOK);
    for (int i = 0; i < 100 && g_auth_rc == 1; i++)
        usleep(50 * 1000);
    cr_assert_eq(g_auth_rc, ZOK, "digest credentials not accepted");
    return zh;
}

struct walk {
    zhandle_t *anon, *own; /* without and with the brokers' credentials */
    int znodes;
    int sensitive;
};

/* Checks path's ACL and recurses into its children. */
static void walk(const char *path, struct walk *w)
{
    zhandle_t *zh = w->anon;
    struct ACL_vector acl;
    struct Stat st;
    bool sensitive = strncmp(path, "/config/users/", 14) == 0;
    int rc = zoo_get_acl(zh, path, &acl, &st);
    if (sensitive) {
        /* reading an ACL needs READ: a SCRAM user's znode does not even show its ACL */
        cr_assert_eq(rc, ZNOAUTH, "get_acl %s anonymously: %s", path, zerror(rc));
        rc = zoo_get_acl(w->own, path, &acl, &st);
    }
    if (rc == ZNONODE)
        return; /* removed meanwhile (a sequential notification) */
    cr_assert_eq(rc, ZOK, "get_acl %s: %s", path, zerror(rc));
    int world = -1, digest_all = 0;
    for (int i = 0; i < acl.count; i++) {
        if (strcmp(acl.data[i].id.scheme, "world") == 0)
            world = acl.data[i].perms;
        else if (strcmp(acl.data[i].id.scheme, "digest") == 0 &&
                 strncmp(acl.data[i].id.id, "gregor:", 7) == 0 && acl.data[i].perms == ZOO_PERM_ALL)
            digest_all++;
    }
    deallocate_ACL_vector(&acl);
    cr_assert_eq(digest_all, 1, "%s: no ALL entry for the broker's digest identity", path);
    if (sensitive) {
        cr_assert_eq(world, -1, "%s: a SCRAM user's znode is readable by the world", path);
        w->sensitive++;
    } else {
        cr_assert_eq(world, ZOO_PERM_READ, "%s: world permissions %d, expected READ only", path,
                     world);
    }
    w->znodes++;
    if (sensitive)
        return; /* children of a sensitive znode cannot be listed anonymously */
    struct String_vector kids;
    rc = zoo_get_children(zh, path, 0, &kids);
    if (rc == ZNONODE)
        return;
    cr_assert_eq(rc, ZOK, "get_children %s: %s", path, zerror(rc));
    for (int i = 0; i < kids.count; i++) {
        char child[512];
        snprintf(child, sizeof(child), "%s/%s", strcmp(path, "/") == 0 ? "" : path, kids.data[i]);
        walk(child, w);
    }
    deallocate_String_vector(&kids);
}

Test(zk_acl, every_znode_is_read_only_to_others_and_scram_users_hidden)
{
    cr_assert_eq(itest_create_topic(broker_proc_bootstrap(g_b1), "acl-topic", 2, 30), 0);
    /* a SCRAM user's znode, written as the broker writes it (same credentials) */
    char err[256];
    struct zk_store_auth auth = {.digest = DIGEST, .set_acl = true};
    struct zk_store *zs = zk_store_open_auth(g_connect, 10000, &auth, err, sizeof(err));
    cr_assert(zs, "%s", err);
    struct zk_user_config c = {.n = 1, .version = ZK_VERSION_NEW};
    snprintf(c.name, sizeof(c.name), "alice");
    snprintf(c.key[0], sizeof(c.key[0]), "SCRAM-SHA-256");
    snprintf(c.value[0], sizeof(c.value[0]),
             "salt=c2FsdA==,stored_key=AAAA,server_key=BBBB,iterations=4096");
    cr_assert_eq(zk_store_user_config_set(zs, &c), KERR_NONE);
    zk_store_close(zs);

    zhandle_t *zh = anonymous_session();
    struct walk w = {.anon = zh, .own = broker_session()};
    walk("/", &w);
    zookeeper_close(w.own);
    cr_log_info("%d znodes checked, %d of them sensitive", w.znodes, w.sensitive);
    cr_assert_geq(w.znodes, 20, "only %d znodes under the chroot", w.znodes);
    cr_assert_eq(w.sensitive, 1);

    char buf[256];
    int len = sizeof(buf);
    int rc = zoo_get(zh, "/config/users/alice", 0, buf, &len, NULL);
    cr_assert_eq(rc, ZNOAUTH, "reading a SCRAM user anonymously: %s", zerror(rc));
    rc = zoo_create(zh, "/brokers/topics/intruder", "x", 1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    cr_assert_eq(rc, ZNOAUTH, "creating a topic anonymously: %s", zerror(rc));
    rc = zoo_set(zh, "/brokers/topics/acl-topic", "x", 1, -1);
    cr_assert_eq(rc, ZNOAUTH, "rewriting a topic anonymously: %s", zerror(rc));
    zookeeper_close(zh);
    /* the broker still works with what it created */
    cr_assert_eq(itest_create_topic(broker_proc_bootstrap(g_b1), "acl-topic-2", 1, 30), 0);
}

/* Starts broker 2 with the given overrides; it must exit by itself, and its
 * log must hold `says`. */
static void refused(const char *const *kv, const char *says)
{
    struct broker_proc *b2 = broker_proc_new(g_connect, 2, NULL);
    cr_assert(b2);
    for (int i = 0; kv[i]; i++)
        broker_proc_add_override(b2, kv[i]);
    broker_proc_start_quiet(b2);
    int rc = broker_proc_wait_exit(b2, 60);
    char *log = broker_proc_log(b2);
    cr_assert_neq(rc, -3, "broker 2 still running after 60 s:\n%s", log ? log : "");
    cr_assert_neq(rc, 0, "broker 2 exited with status 0");
    cr_assert(log && strstr(log, says), "broker 2's log lacks \"%s\":\n%s", says, log ? log : "");
    free(log);
    broker_proc_free(b2);
}

Test(zk_acl, other_credentials_cannot_join)
{
    const char *const wrong[] = {"gregor.zookeeper.auth.digest=gregor:wrong", NULL};
    refused(wrong, "does not admit this session's credentials");
    const char *const none[] = {"zookeeper.set.acl=false", NULL};
    refused(none, "does not admit this session's credentials");
    /* broker 1 is unharmed */
    cr_assert(itest_api_versions_ok(broker_proc_port(g_b1)));
}

Test(zk_acl, set_acl_without_credentials_is_refused_at_start)
{
    const char *const kv[] = {"zookeeper.set.acl=true", NULL};
    refused(kv, "zookeeper.set.acl=true needs gregor.zookeeper.auth.digest");
}
