/*
 * tests/integration/test_cli_json.c — runs tests/integration/py/check_cli_json.py (the
 * `--output json` documents of the gregor commands, parsed by Python's json module) against a
 * fresh ZooKeeper + one broker, with GREGOR_BOOTSTRAP and GREGOR_CLI set. The script's
 * "ok -" / "not ok -" lines are printed; it must exit 0.
 */
#include "tests/harness/broker_proc.h"
#include "tests/integration/itest.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The authorizer on (acl list needs it), everyone allowed where no ACL names a resource. */
static const char *const overrides[] = {
    "authorizer.class.name=gregor.security.authorizer.AclAuthorizer",
    "allow.everyone.if.no.acl.found=true", NULL};

static void up(void) { cr_assert(tcluster_fixture_up(1, overrides), "cluster did not start"); }

TestSuite(cli_json, .init = up, .fini = itest_fixture_down, .timeout = 120);

Test(cli_json, every_document_parses)
{
    const char *src = getenv("GREGOR_SOURCE_DIR");
    cr_assert(src, "GREGOR_SOURCE_DIR not set (run through ctest)");
    char cli[512];
    harness_bin_path("gregor", cli, sizeof(cli));
    char *out = NULL;
    int rc = harness_shf(&out, 100,
                         "GREGOR_BOOTSTRAP=%s GREGOR_CLI=%s /usr/bin/python3 "
                         "%s/tests/integration/py/check_cli_json.py 2>&1",
                         tcluster_fixture()->bootstrap, cli, src);
    fprintf(stderr, "%s", out ? out : "");
    cr_assert_eq(rc, 0, "check_cli_json.py exited %d (output above)", rc);
    cr_assert(out && strstr(out, "check_cli_json: all passed"));
    free(out);
}
