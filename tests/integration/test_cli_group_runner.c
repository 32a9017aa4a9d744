/*
 * tests/integration/test_cli_group_runner.c — runs
 * tests/integration/test_cli_group.sh (`gregor group` and `gregor consume
 * --group`) against a fresh ZooKeeper + one broker, which the harness
 * configures with offsets.topic.replication.factor=1 and
 * group.initial.rebalance.delay.ms=0 (tests/harness/broker_proc.c, also
 * passed here explicitly). The script's "ok -" / "not ok -" lines are
 * printed; it must exit 0.
 */
#include "tests/harness/broker_proc.h"
#include "tests/integration/itest.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void up(void)
{
    static const char *const overrides[] = {"offsets.topic.replication.factor=1",
                                            "group.initial.rebalance.delay.ms=0", NULL};
    cr_assert(tcluster_fixture_up(1, overrides), "cluster did not start");
}

TestSuite(cli_group, .init = up, .fini = itest_fixture_down, .timeout = 600);

Test(cli_group, test_cli_group_sh_passes)
{
    const char *src = getenv("GREGOR_SOURCE_DIR");
    cr_assert(src, "GREGOR_SOURCE_DIR not set (run through ctest)");
    char cli[512];
    harness_bin_path("gregor", cli, sizeof(cli));
    char *out = NULL;
    int rc = harness_shf(
        &out, 540,
        "GREGOR_BOOTSTRAP=%s GREGOR_CLI=%s bash %s/tests/integration/test_cli_group.sh 2>&1",
        tcluster_fixture()->bootstrap, cli, src);
    fprintf(stderr, "%s", out ? out : "");
    cr_assert_eq(rc, 0, "test_cli_group.sh exited %d (output above)", rc);
    cr_assert(out && strstr(out, " passed, 0 failed"), "no '0 failed' summary");
    free(out);
}
