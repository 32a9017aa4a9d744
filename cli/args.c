/*
 * cli/args.c — command-line parsing and messages for the `gregor` command.
 *
 * Syntax accepted (getopt_long(), with its messages off so they are ours):
 *   --name value | --name=value | -x value | -xvalue | -abc (flags)
 *   "--" ends the options; "-" alone is a positional argument. Long names
 *   must be given in full (getopt_long()'s unique prefixes are refused).
 * Options and positionals may be mixed unless the caller asks to stop at
 * the first positional (main.c does, so global options come before the
 * command name, and the command parses the rest itself).
 * The global options -b/--bootstrap-server, -X/--property, --command-config
 * FILE (a properties file of librdkafka keys, each applied as -X in file
 * order, where it stands among the -X options; bootstrap.servers in it
 * sets the bootstrap), -v/--verbose and -h/--help are accepted by every
 * command and stored in struct cli.
 *
 * Messages: every error is one line "gregor: reason" on stderr.
 */
#include "cli/cli.h"

#include "common/base.h"
#include "common/props.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { GOPT_BOOTSTRAP = 1, GOPT_PROP, GOPT_VERBOSE, GOPT_HELP, GOPT_COMMAND_CONFIG };

static const struct cli_opt cli_global_opts[] = {
    {"bootstrap-server", 'b', true, GOPT_BOOTSTRAP},
    {"property", 'X', true, GOPT_PROP},
    {"command-config", 0, true, GOPT_COMMAND_CONFIG},
    {"verbose", 'v', false, GOPT_VERBOSE},
    {"help", 'h', false, GOPT_HELP},
    {NULL, 0, false, 0},
};

static void cli_vmsg(const char *fmt, va_list ap)
{
    char line[1024];
    vsnprintf(line, sizeof(line), fmt, ap);
    /* Keep it one line even if a library message carries a newline. */
    for (char *p = line; *p; p++) {
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    }
    fprintf(stderr, "gregor: %s\n", line);
}

int cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cli_vmsg(fmt, ap);
    va_end(ap);
    return CLI_USAGE;
}

int cli_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cli_vmsg(fmt, ap);
    va_end(ap);
    return CLI_FAIL;
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cli_vmsg(fmt, ap);
    va_end(ap);
}

int cli_parse_output(const char *val, bool *json)
{
    if (strcmp(val, "json") == 0)
        *json = true;
    else if (strcmp(val, "text") == 0)
        *json = false;
    else
        return cli_usage_error("--output: expected text or json, got '%s'", val);
    return CLI_OK;
}

bool cli_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end = NULL;
    if (s == NULL || *s == '\0')
        return false;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return false;
    *out = (int64_t)v;
    return true;
}

int cli_usage_positional(const struct cli *cli, const char *what)
{
    return cli_usage_error("%s: %s (see 'gregor %s --help')", cli->cmd, what, cli->cmd);
}

/* The strings --command-config made: they live until the process exits
 * (held here, so they stay reachable). */
static char *cli_cc_strings[CLI_MAX_PROPS + 1];
static int cli_cc_n;

/* --command-config FILE: its entries become -X properties. */
static int cli_load_command_config(struct cli *cli, const char *path)
{
    struct props props;
    char err[512];
    props_init(&props);
    if (props_load_file(&props, path, err, sizeof(err)) != KERR_NONE) {
        props_destroy(&props);
        return cli_usage_error("--command-config: %s", err);
    }
    for (size_t i = 0; i < props.n; i++) {
        const struct props_entry *e = &props.entry[i];
        if (cli_cc_n >= (int)ARRAY_LEN(cli_cc_strings) || cli->nprops >= CLI_MAX_PROPS) {
            props_destroy(&props);
            return cli_usage_error("too many properties (at most %d)", CLI_MAX_PROPS);
        }
        bool boot = strcmp(e->key, "bootstrap.servers") == 0;
        size_t n = strlen(e->key) + strlen(e->value) + 2;
        char *kv = boot ? strdup(e->value) : malloc(n);
        if (!kv) {
            props_destroy(&props);
            return cli_fail("out of memory");
        }
        cli_cc_strings[cli_cc_n++] = kv;
        if (boot) {
            cli->bootstrap = kv;
            continue;
        }
        snprintf(kv, n, "%s=%s", e->key, e->value);
        cli->props[cli->nprops++] = kv;
    }
    props_destroy(&props);
    return CLI_OK;
}

int cli_parse_cmd(struct cli *cli, int argc, char **argv, const struct cli_opt *opts, cli_opt_cb cb,
                  void *ctx, const char *help, int *done)
{
    int npos = cli_parse(cli, argc, argv, opts, cb, ctx, false);
    *done = CLI_USAGE;
    if (npos >= 0 && cli->help) {
        fputs(help, stdout);
        *done = CLI_OK;
        return -1;
    }
    return npos;
}

int cli_run_sub(struct cli *cli, int argc, char **argv, const struct cli_sub *subs, size_t n,
                const char *help)
{
    int npos = cli_parse(cli, argc, argv, NULL, NULL, NULL, true);
    if (npos < 0)
        return CLI_USAGE;
    if (npos == 0) {
        if (cli->help)
            return fputs(help, stdout), CLI_OK;
        char what[512] = "missing subcommand (";
        for (size_t i = 0; i < n; i++) {
            size_t l = strlen(what);
            snprintf(what + l, sizeof(what) - l, "%s%s", i ? ", " : "", subs[i].name);
        }
        size_t l = strlen(what);
        snprintf(what + l, sizeof(what) - l, ")");
        return cli_usage_positional(cli, what);
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(argv[0], subs[i].name) == 0) {
            cli->cmd = subs[i].full;
            return subs[i].run(cli, npos - 1, argv + 1);
        }
    }
    return cli_usage_error("%s: unknown subcommand '%s' (see 'gregor %s --help')", cli->cmd,
                           argv[0], cli->cmd);
}

/* Reports a malformed option, with a pointer to the right --help. */
static int cli_bad_option(const struct cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int cli_bad_option(const struct cli *cli, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (cli->cmd)
        return cli_usage_error("%s (see 'gregor %s --help')", what, cli->cmd);
    return cli_usage_error("%s (see 'gregor --help')", what);
}

static int cli_global_opt(struct cli *cli, int id, const char *val)
{
    switch (id) {
    case GOPT_BOOTSTRAP:
        if (*val == '\0')
            return cli_usage_error("--bootstrap-server needs HOST:PORT");
        cli->bootstrap = val;
        return CLI_OK;
    case GOPT_PROP: {
        const char *eq = strchr(val, '=');
        if (eq == NULL || eq == val)
            return cli_usage_error("-X expects key=value, got '%s'", val);
        if (cli->nprops >= CLI_MAX_PROPS)
            return cli_usage_error("too many -X properties (at most %d)", CLI_MAX_PROPS);
        cli->props[cli->nprops++] = val;
        return CLI_OK;
    }
    case GOPT_COMMAND_CONFIG:
        return cli_load_command_config(cli, val);
    case GOPT_VERBOSE:
        cli->verbose++;
        return CLI_OK;
    case GOPT_HELP:
        cli->help = true;
        return CLI_OK;
    }
    return CLI_USAGE;
}

/* Options one cli_parse() call accepts: the command's, then the global
 * ones, so a command's letter or name shadows a global one. */
#define CLI_PARSE_MAX_OPTS 64
/* getopt_long() returns a long option as this plus its index in the
 * merged table, a short one as its letter (always below it). */
#define CLI_LONG_BASE 256

struct cli_parse_ctx {
    struct cli *cli;
    cli_opt_cb cb;
    void *ctx;
    const struct cli_opt *all[CLI_PARSE_MAX_OPTS]; /* merged table */
    bool global[CLI_PARSE_MAX_OPTS];               /* all[i] is a global option */
    int n;
    struct option longs[CLI_PARSE_MAX_OPTS + 1];
    char shorts[2 * CLI_PARSE_MAX_OPTS + 3];
};

/* Builds the merged table and getopt_long()'s option string and array.
 * The option string starts with '-' (every positional is returned in
 * order as option 1) or '+' (stop at the first positional), then ':' (a
 * missing value is reported as ':' and no message is printed). */
static void cli_parse_tables(struct cli_parse_ctx *pc, const struct cli_opt *opts,
                             bool stop_at_positional)
{
    const struct cli_opt *tables[2] = {opts, cli_global_opts};
    size_t ns = 0;

    pc->shorts[ns++] = stop_at_positional ? '+' : '-';
    pc->shorts[ns++] = ':';
    for (int t = 0; t < 2; t++) {
        for (const struct cli_opt *o = tables[t]; o && o->id != 0; o++) {
            KASSERT(pc->n < CLI_PARSE_MAX_OPTS);
            pc->all[pc->n] = o;
            pc->global[pc->n] = (t == 1);
            pc->longs[pc->n] =
                (struct option){o->lname, o->has_arg ? required_argument : no_argument, NULL,
                                CLI_LONG_BASE + pc->n};
            if (o->sname != 0) {
                pc->shorts[ns++] = (char)o->sname;
                if (o->has_arg)
                    pc->shorts[ns++] = ':';
            }
            pc->n++;
        }
    }
    pc->longs[pc->n] = (struct option){NULL, 0, NULL, 0};
    pc->shorts[ns] = '\0';
}

/* The merged-table index of short option `letter`, -1 if none. */
static int cli_short_index(const struct cli_parse_ctx *pc, int letter)
{
    for (int i = 0; i < pc->n; i++) {
        if (pc->all[i]->sname != 0 && pc->all[i]->sname == letter)
            return i;
    }
    return -1;
}

/* The length of the name in the long-option element `arg` ("--name" or
 * "--name=value"), dashes excluded. */
static size_t cli_long_name_len(const char *arg)
{
    const char *eq = strchr(arg + 2, '=');
    return eq ? (size_t)(eq - (arg + 2)) : strlen(arg + 2);
}

/* True when the long-option element `arg` names option i exactly:
 * getopt_long() also accepts unique prefixes, the CLI does not. */
static bool cli_long_exact(const struct cli_parse_ctx *pc, int i, const char *arg)
{
    size_t len = cli_long_name_len(arg);
    return strlen(pc->all[i]->lname) == len && strncmp(pc->all[i]->lname, arg + 2, len) == 0;
}

static int cli_unknown_long(const struct cli_parse_ctx *pc, const char *arg)
{
    size_t len = cli_long_name_len(arg);
    return cli_bad_option(pc->cli, "unknown option '--%.*s'", (int)MIN(len, 100), arg + 2);
}

/* Handles one getopt_long() result other than a positional or the end;
 * `arg` is the argv element it came from when that element is a long
 * option. Returns CLI_OK or CLI_USAGE after printing the reason. */
static int cli_parse_one(struct cli_parse_ctx *pc, int c, const char *arg)
{
    int i;

    if (c == '?' || c == ':') {
        int bad = optopt;
        if (bad >= CLI_LONG_BASE && !cli_long_exact(pc, bad - CLI_LONG_BASE, arg))
            return cli_unknown_long(pc, arg);
        if (c == ':' && bad >= CLI_LONG_BASE)
            return cli_bad_option(pc->cli, "option '--%s' requires a value",
                                  pc->all[bad - CLI_LONG_BASE]->lname);
        if (c == ':')
            return cli_bad_option(pc->cli, "option '-%c' requires a value", bad);
        if (bad >= CLI_LONG_BASE)
            return cli_bad_option(pc->cli, "option '--%s' takes no value",
                                  pc->all[bad - CLI_LONG_BASE]->lname);
        if (bad == 0)
            return cli_unknown_long(pc, arg);
        return cli_bad_option(pc->cli, "unknown option '-%c'", bad);
    }
    if (c >= CLI_LONG_BASE) {
        i = c - CLI_LONG_BASE;
        if (!cli_long_exact(pc, i, arg))
            return cli_unknown_long(pc, arg);
    } else {
        i = cli_short_index(pc, c);
        KASSERT(i >= 0); /* getopt_long() returns only letters of the option string */
    }
    if (pc->global[i])
        return cli_global_opt(pc->cli, pc->all[i]->id, optarg);
    return pc->cb(pc->ctx, pc->all[i]->id, optarg);
}

int cli_parse(struct cli *cli, int argc, char **argv, const struct cli_opt *opts, cli_opt_cb cb,
              void *ctx, bool stop_at_positional)
{
    struct cli_parse_ctx pc = {.cli = cli, .cb = cb, .ctx = ctx};
    cli_parse_tables(&pc, opts, stop_at_positional);

    /* getopt_long() wants a program name in front and a NULL at the end. */
    char **args = calloc((size_t)argc + 2, sizeof(*args));
    if (args == NULL) {
        cli_fail("out of memory parsing the arguments");
        return -1;
    }
    args[0] = "gregor";
    memcpy(args + 1, argv, (size_t)argc * sizeof(*argv));

    int npos = 0, rc = CLI_OK;
    optind = 0; /* glibc: a full restart, as cli_parse() runs once per command level */
    opterr = 0;
    for (;;) {
        /* Outside a group of short flags, getopt_long() reads args[optind]
         * next, so a long option's element is the one at `at`. */
        int at = optind == 0 ? 1 : optind;
        int c = getopt_long(argc + 1, args, pc.shorts, pc.longs, NULL);
        if (c == -1)
            break;
        if (c == 1) {
            argv[npos++] = optarg;
            continue;
        }
        rc = cli_parse_one(&pc, c, args[at]);
        if (rc != CLI_OK)
            break;
    }
    if (rc == CLI_OK) {
        for (int k = optind; k <= argc; k++)
            argv[npos++] = args[k];
    }
    free(args);
    return rc == CLI_OK ? npos : -1;
}
