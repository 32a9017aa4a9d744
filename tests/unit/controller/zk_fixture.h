/*
 * tests/unit/controller/zk_fixture.h — the ZooKeeper fixture the zk_store
 * unit tests share: a real ZooKeeper server started before each test and
 * stopped after it (tests/harness/zk_server.c, as a TestSuite's .init and
 * .fini: zk_up, zk_down), and stores opened on it. Included by one test
 * file each; its definitions are static.
 */
#ifndef GREGOR_TESTS_UNIT_CONTROLLER_ZK_FIXTURE_H
#define GREGOR_TESTS_UNIT_CONTROLLER_ZK_FIXTURE_H

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>

#include "common/say.h"
#include "controller/zk/zk_store.h"
#include "tests/harness/zk_server.h"

#define ZK_FIXTURE_SESSION_MS 6000

static struct zk_server *zk;

static inline void zk_up(void)
{
    say_setup(SAY_WARN, 2);
    zk = zk_server_start();
    cr_assert_not_null(zk, "ZooKeeper did not start");
}

static inline void zk_down(void)
{
    zk_server_stop(zk);
    zk = NULL;
}

/* Opens a store on the test server under chroot ("" for none) with a
 * ZK_FIXTURE_SESSION_MS session, and creates the standard paths when
 * paths is true. */
static inline struct zk_store *zk_fixture_open(const char *chroot, bool paths)
{
    char connect[128], err[256] = "";
    snprintf(connect, sizeof(connect), "%s%s", zk_server_connect(zk), chroot);
    struct zk_store *zs = zk_store_open(connect, ZK_FIXTURE_SESSION_MS, err, sizeof(err));
    cr_assert_not_null(zs, "open failed: %s", err);
    if (paths)
        cr_assert_eq(zk_store_ensure_paths(zs), KERR_NONE);
    return zs;
}

#endif
