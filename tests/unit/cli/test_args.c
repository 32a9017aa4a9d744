/*
 * tests/unit/cli/test_args.c — the option parser of the gregor command
 * (cli/args.c, cli_parse() on getopt_long()): both long forms, short
 * options alone, grouped and with attached values, positionals and "--",
 * the global options, and the one-line usage messages of each error.
 */
#include "cli/cli.h"

#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { T_PARTS = 1, T_ALL, T_IF, T_BROKER };

/* A command's table: two flags, one option with a value. */
static const struct cli_opt t_opts[] = {
    {"partitions", 'p', true, T_PARTS},
    {"all", 'a', false, T_ALL},
    {"if-exists", 'i', false, T_IF},
    {NULL, 0, false, 0},
};

/* What the callback saw, in order. */
struct seen {
    int n;
    int id[16];
    const char *val[16];
    int fail_id; /* the callback refuses this id (0: none) */
};

static int t_cb(void *ctx, int id, const char *val)
{
    struct seen *s = ctx;
    if (id == s->fail_id)
        return cli_usage_error("refused %d", id);
    s->id[s->n] = id;
    s->val[s->n] = val;
    s->n++;
    return CLI_OK;
}

static struct cli cli;
static struct seen seen;

static void setup(void)
{
    memset(&cli, 0, sizeof(cli));
    memset(&seen, 0, sizeof(seen));
    cli.cmd = "topic create";
    cr_redirect_stderr();
}

TestSuite(args, .init = setup, .timeout = 10);

/* Parses the words (NULL-terminated, at most 15) with t_opts. */
static int parse(bool stop, ...)
{
    static char *argv[16];
    int argc = 0;
    va_list ap;
    va_start(ap, stop);
    for (char *w; (w = va_arg(ap, char *)) != NULL;) {
        cr_assert_lt(argc, 15);
        argv[argc++] = w;
    }
    va_end(ap);
    argv[argc] = NULL;
    return cli_parse(&cli, argc, argv, t_opts, t_cb, &seen, stop);
}

#define PARSE(stop, ...) parse((stop), __VA_ARGS__, (char *)NULL)

static void expect_stderr(const char *line)
{
    fflush(stderr);
    cr_assert_stderr_eq_str(line);
}

Test(args, long_option_with_equals_and_with_separate_value)
{
    cr_assert_eq(PARSE(false, "--partitions=3", "--partitions", "4"), 0);
    cr_assert_eq(seen.n, 2);
    cr_assert_eq(seen.id[0], T_PARTS);
    cr_assert_str_eq(seen.val[0], "3");
    cr_assert_str_eq(seen.val[1], "4");
}

Test(args, empty_value_after_equals_is_a_value)
{
    cr_assert_eq(PARSE(false, "--partitions="), 0);
    cr_assert_eq(seen.n, 1);
    cr_assert_str_eq(seen.val[0], "");
}

Test(args, value_may_start_with_a_dash)
{
    cr_assert_eq(PARSE(false, "--partitions", "-1", "-p", "--all"), 0);
    cr_assert_eq(seen.n, 2);
    cr_assert_str_eq(seen.val[0], "-1");
    cr_assert_str_eq(seen.val[1], "--all");
}

Test(args, short_options_alone_attached_and_grouped)
{
    cr_assert_eq(PARSE(false, "-p", "5", "-p6", "-ai", "-ap7"), 0);
    cr_assert_eq(seen.n, 6);
    int ids[] = {T_PARTS, T_PARTS, T_ALL, T_IF, T_ALL, T_PARTS};
    for (int i = 0; i < 6; i++)
        cr_assert_eq(seen.id[i], ids[i], "occurrence %d", i);
    cr_assert_str_eq(seen.val[0], "5");
    cr_assert_str_eq(seen.val[1], "6");
    cr_assert_null(seen.val[2]);
    cr_assert_str_eq(seen.val[5], "7");
}

Test(args, positionals_move_to_the_front_in_order)
{
    char *argv[] = {"one", "--all", "two", "-", "-p", "1", "three", NULL};
    cr_assert_eq(cli_parse(&cli, 7, argv, t_opts, t_cb, &seen, false), 4);
    cr_assert_str_eq(argv[0], "one");
    cr_assert_str_eq(argv[1], "two");
    cr_assert_str_eq(argv[2], "-");
    cr_assert_str_eq(argv[3], "three");
    cr_assert_eq(seen.n, 2);
}

Test(args, double_dash_ends_the_options)
{
    char *argv[] = {"--all", "--", "--partitions", "-a", NULL};
    cr_assert_eq(cli_parse(&cli, 4, argv, t_opts, t_cb, &seen, false), 2);
    cr_assert_str_eq(argv[0], "--partitions");
    cr_assert_str_eq(argv[1], "-a");
    cr_assert_eq(seen.n, 1);
}

Test(args, stop_at_positional_leaves_the_rest_alone)
{
    char *argv[] = {"-v", "topic", "create", "--all", "x", NULL};
    cr_assert_eq(cli_parse(&cli, 5, argv, t_opts, t_cb, &seen, true), 4);
    cr_assert_str_eq(argv[0], "topic");
    cr_assert_str_eq(argv[1], "create");
    cr_assert_str_eq(argv[2], "--all");
    cr_assert_str_eq(argv[3], "x");
    cr_assert_eq(seen.n, 0, "--all after the command name is the command's");
    cr_assert_eq(cli.verbose, 1);
}

Test(args, global_options_are_accepted_with_any_table)
{
    cr_assert_eq(PARSE(false, "-b", "h:1", "--property=a=b", "-Xc=d", "-vv", "--verbose", "-h"), 0);
    cr_assert_str_eq(cli.bootstrap, "h:1");
    cr_assert_eq(cli.nprops, 2);
    cr_assert_str_eq(cli.props[0], "a=b");
    cr_assert_str_eq(cli.props[1], "c=d");
    cr_assert_eq(cli.verbose, 3);
    cr_assert(cli.help);
    cr_assert_eq(seen.n, 0);
    char *argv[] = {"--bootstrap-server", "h:2", NULL};
    cr_assert_eq(cli_parse(&cli, 2, argv, NULL, NULL, NULL, false), 0);
    cr_assert_str_eq(cli.bootstrap, "h:2");
}

Test(args, a_commands_letter_shadows_a_global_one)
{
    static const struct cli_opt own_b[] = {{"broker", 'b', true, T_BROKER}, {NULL, 0, false, 0}};
    char *argv[] = {"-b", "7", NULL};
    cr_assert_eq(cli_parse(&cli, 2, argv, own_b, t_cb, &seen, false), 0);
    cr_assert_eq(seen.n, 1);
    cr_assert_eq(seen.id[0], T_BROKER);
    cr_assert_null(cli.bootstrap);
}

Test(args, unknown_long_option)
{
    cr_assert_eq(PARSE(false, "--nope=1"), -1);
    expect_stderr("gregor: unknown option '--nope' (see 'gregor topic create --help')\n");
}

Test(args, abbreviated_long_option_is_unknown)
{
    /* getopt_long() alone would take a unique prefix as --partitions */
    cr_assert_eq(PARSE(false, "--part", "3"), -1);
    cr_assert_eq(seen.n, 0);
    expect_stderr("gregor: unknown option '--part' (see 'gregor topic create --help')\n");
}

Test(args, unknown_short_option_inside_a_group)
{
    cr_assert_eq(PARSE(false, "-aZ"), -1);
    expect_stderr("gregor: unknown option '-Z' (see 'gregor topic create --help')\n");
}

Test(args, long_option_missing_its_value)
{
    cr_assert_eq(PARSE(false, "--all", "--partitions"), -1);
    expect_stderr(
        "gregor: option '--partitions' requires a value (see 'gregor topic create --help')\n");
}

Test(args, short_option_missing_its_value)
{
    cr_assert_eq(PARSE(false, "-ap"), -1);
    expect_stderr("gregor: option '-p' requires a value (see 'gregor topic create --help')\n");
}

Test(args, flag_given_a_value)
{
    cr_assert_eq(PARSE(false, "--all=yes"), -1);
    expect_stderr("gregor: option '--all' takes no value (see 'gregor topic create --help')\n");
}

Test(args, without_a_command_the_message_points_at_gregor_help)
{
    cli.cmd = NULL;
    cr_assert_eq(PARSE(true, "--bogus"), -1);
    expect_stderr("gregor: unknown option '--bogus' (see 'gregor --help')\n");
}

Test(args, a_refusing_callback_stops_the_parse)
{
    seen.fail_id = T_ALL;
    cr_assert_eq(PARSE(false, "-p1", "--all", "-p2"), -1);
    cr_assert_eq(seen.n, 1);
    expect_stderr("gregor: refused 2\n");
}

Test(args, a_bad_property_is_a_usage_error)
{
    cr_assert_eq(PARSE(false, "-X", "novalue"), -1);
    expect_stderr("gregor: -X expects key=value, got 'novalue'\n");
}

Test(args, each_parse_starts_afresh)
{
    /* the first parse stops inside the group "-aZi"; the next one must not
     * resume there */
    cr_assert_eq(PARSE(false, "-aZi"), -1);
    memset(&seen, 0, sizeof(seen));
    cr_assert_eq(PARSE(false, "-p", "9"), 0);
    cr_assert_eq(seen.n, 1);
    cr_assert_eq(seen.id[0], T_PARTS);
    cr_assert_str_eq(seen.val[0], "9");
}
