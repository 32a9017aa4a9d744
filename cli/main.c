/*
 * cli/main.c — entry point of the `gregor` command: parses the global
 * options that precede the command name, picks the bootstrap server
 * (-b, else $GREGOR_BOOTSTRAP, else 127.0.0.1:9092) and dispatches to the
 * command table below. Commands live in topic.c, cluster.c, produce.c,
 * consume.c, group.c, transactions.c, acl.c, doctor.c and dump_log.c; option parsing in args.c; librdkafka set-up in client.c.
 *
 * Globals: none; the per-run context (struct cli) lives on main()'s stack.
 */
#include "cli/cli.h"
#include "cli/doctor.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cli_cmd {
    const char *name;                                   /* as typed */
    int (*run)(struct cli *cli, int argc, char **argv); /* returns the exit code */
    const char *summary;                                /* one line for --help */
};

static const struct cli_cmd cli_cmds[] = {
    {"topic", topic_main, "create, list, describe and delete topics"},
    {"cluster", cluster_main, "controller, brokers and partition health; leader election"},
    {"produce", produce_main, "write lines from stdin as records to a topic"},
    {"consume", consume_main, "print records of a topic to stdout"},
    {"group", group_main, "consumer groups: list, describe (lag), reset offsets, delete"},
    {"transactions", transactions_main, "transactional ids: list, describe"},
    {"acl", acl_main, "ACLs of the authorizer: add, list, remove"},
    {"user", user_main, "SCRAM credentials of users: set, delete, list"},
    {"quota", quota_main, "client quotas: set, delete, list (byte rates, request share)"},
    {"doctor", doctor_main, "check the cluster and explain each problem with its fix"},
    {"mirror", mirror_main, "copy topics from one cluster to another, exactly once"},
    {"dump-log", dump_log_main, "print and check segment files (.log, .index, .timeindex)"},
};

static void main_print_help(void)
{
    printf("Usage: gregor [GLOBAL OPTIONS] <command> [ARGS]\n"
           "\n"
           "Commands:\n");
    int width = (int)strlen("help"); /* one column for every summary: the longest name's */
    for (size_t i = 0; i < sizeof(cli_cmds) / sizeof(cli_cmds[0]); i++)
        if ((int)strlen(cli_cmds[i].name) > width)
            width = (int)strlen(cli_cmds[i].name);
    for (size_t i = 0; i < sizeof(cli_cmds) / sizeof(cli_cmds[0]); i++)
        printf("  %-*s  %s\n", width, cli_cmds[i].name, cli_cmds[i].summary);
    printf("  %-*s  %s\n", width, "help", "show help of a command (gregor help topic)");
    printf("\n"
           "Global options (accepted before or after the command):\n"
           "  -b, --bootstrap-server HOST:PORT  broker to contact first (default:\n"
           "                                    $GREGOR_BOOTSTRAP or " CLI_DEFAULT_BOOTSTRAP ")\n"
           "  -X, --property KEY=VALUE          set any librdkafka property; repeatable\n"
           "      --command-config FILE         librdkafka properties from a file (as -X)\n"
           "  -v, --verbose                     show librdkafka's logs on stderr\n"
           "  -h, --help                        show help (of a command, after it)\n"
           "      --version                     print the version and exit\n"
           "\n"
           "Exit status: 0 success, 1 runtime failure, 2 bad usage.\n"
           "Run 'gregor <command> --help' for the options of a command.\n");
}

enum { MAIN_OPT_VERSION = 1 };

static const struct cli_opt main_opts[] = {
    {"version", 0, false, MAIN_OPT_VERSION},
    {NULL, 0, false, 0},
};

static int main_opt_cb(void *ctx, int id, const char *val)
{
    bool *version = ctx;
    if (id == MAIN_OPT_VERSION)
        *version = true;
    return CLI_OK;
}

static const struct cli_cmd *main_find_cmd(const char *name)
{
    for (size_t i = 0; i < sizeof(cli_cmds) / sizeof(cli_cmds[0]); i++) {
        if (strcmp(cli_cmds[i].name, name) == 0)
            return &cli_cmds[i];
    }
    return NULL;
}

/* Parses the global options and runs the command; returns the exit code. */
static int main_run(struct cli *cli, int argc, char **argv)
{
    bool version = false;
    int npos = cli_parse(cli, argc, argv, main_opts, main_opt_cb, &version, true);
    if (npos < 0)
        return CLI_USAGE;
    if (version) {
        printf("gregor %s (librdkafka %s)\n", CLI_VERSION, rd_kafka_version_str());
        return CLI_OK;
    }
    if (npos > 0 && strcmp(argv[0], "help") == 0) {
        cli->help = true; /* "gregor help topic" == "gregor topic --help" */
        argv++;
        npos--;
    }
    if (npos == 0) {
        if (cli->help) {
            main_print_help();
            return CLI_OK;
        }
        return cli_usage_error("missing command (see 'gregor --help')");
    }
    const struct cli_cmd *cmd = main_find_cmd(argv[0]);
    if (cmd == NULL)
        return cli_usage_error("unknown command '%s' (see 'gregor --help')", argv[0]);
    cli->cmd = cmd->name;
    return cmd->run(cli, npos - 1, argv + 1);
}

int main(int argc, char **argv)
{
    struct cli cli;
    memset(&cli, 0, sizeof(cli));
    const char *env = getenv("GREGOR_BOOTSTRAP");
    cli.bootstrap = (env && *env) ? env : CLI_DEFAULT_BOOTSTRAP;

    int rc = main_run(&cli, argc - 1, argv + 1);
    /* Output that cannot be written is a failure (disk full, closed pipe). */
    if (fflush(stdout) != 0 && rc == CLI_OK)
        rc = cli_fail("cannot write output: %s", strerror(errno));
    return rc;
}
