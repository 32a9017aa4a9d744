/*
 * tests/integration/test_cli_runner.c — runs the CLI engineer's
 * tests/integration/test_cli.sh (which needs a running broker) against a
 * fresh ZooKeeper + broker, with GREGOR_BOOTSTRAP and GREGOR_CLI set. The
 * script's own "ok -" / "not ok -" lines are printed; it must exit 0.
 */
#include "tests/harness/broker_proc.h"
#include "tests/integration/itest.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void up(void) { cr_assert(tcluster_fixture_up(1, NULL), "cluster did not start"); }

TestSuite(cli, .init = up, .fini = itest_fixture_down, .timeout = 600);

Test(cli, test_cli_sh_passes)
{
    const char *src = getenv("GREGOR_SOURCE_DIR");
    cr_assert(src, "GREGOR_SOURCE_DIR not set (run through ctest)");
    char cli[512];
    harness_bin_path("gregor", cli, sizeof(cli));
    char *out = NULL;
    int rc = harness_shf(
        &out, 540, "GREGOR_BOOTSTRAP=%s GREGOR_CLI=%s bash %s/tests/integration/test_cli.sh 2>&1",
        tcluster_fixture()->bootstrap, cli, src);
    fprintf(stderr, "%s", out ? out : "");
    cr_assert_eq(rc, 0, "test_cli.sh exited %d (output above)", rc);
    cr_assert(out && strstr(out, " passed, 0 failed"), "no '0 failed' summary from test_cli.sh");
    free(out);
}
