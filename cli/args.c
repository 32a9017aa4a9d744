/*
 * cli/args.c — command-line parsing and messages for the `gregor` command.
 *
 * Syntax accepted (GNU style, no getopt so the messages are ours):
 *   --name value | --name=value | -x value | -xvalue | -abc (flags)
 *   "--" ends the options; "-" alone is a positional argument.
 * Options and positionals may be mixed unless the caller asks to stop at
 * the first positional (main.c does, so global options come before the
 * command name, and the command parses the rest itself).
 * The global options -b/--bootstrap-server, -X/--property, -v/--verbose and
 * -h/--help are accepted by every command and stored in struct cli.
 *
 * Messages: every error is one line "gregor: reason" on stderr.
 */
#include "cli/cli.h"

#include "common/base.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { GOPT_BOOTSTRAP = 1, GOPT_PROP, GOPT_VERBOSE, GOPT_HELP };

static const struct cli_opt cli_global_opts[] = {
    {"bootstrap-server", 'b', true, GOPT_BOOTSTRAP},
    {"property", 'X', true, GOPT_PROP},
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
    case GOPT_VERBOSE:
        cli->verbose++;
        return CLI_OK;
    case GOPT_HELP:
        cli->help = true;
        return CLI_OK;
    }
    return CLI_USAGE;
}

/* Finds an option by long name (name_len chars) or, if name is NULL, by
 * short letter. Sets *global when it is one of the global options. */
static const struct cli_opt *cli_find_opt(const struct cli_opt *opts, const char *name,
                                          size_t name_len, int letter, bool *global)
{
    const struct cli_opt *tables[2] = {opts, cli_global_opts};
    for (int t = 0; t < 2; t++) {
        for (const struct cli_opt *o = tables[t]; o && o->id != 0; o++) {
            bool hit = name ? (strlen(o->lname) == name_len &&
                               strncmp(o->lname, name, name_len) == 0)
                            : (o->sname != 0 && o->sname == letter);
            if (hit) {
                *global = (t == 1);
                return o;
            }
        }
    }
    return NULL;
}

struct cli_parse_ctx {
    struct cli *cli;
    const struct cli_opt *opts;
    cli_opt_cb cb;
    void *ctx;
};

static int cli_dispatch(struct cli_parse_ctx *pc, const struct cli_opt *o, bool global,
                        const char *val)
{
    if (global)
        return cli_global_opt(pc->cli, o->id, val);
    return pc->cb(pc->ctx, o->id, val);
}

/* Handles argv[i] = "--name[=value]". Returns how many extra argv entries
 * were consumed (0 or 1), or -1 after printing a usage error. */
static int cli_parse_long(struct cli_parse_ctx *pc, int argc, char **argv, int i)
{
    const char *name = argv[i] + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    bool global = false;
    const struct cli_opt *o = cli_find_opt(pc->opts, name, len, 0, &global);
    if (o == NULL) {
        char shown[128];
        snprintf(shown, sizeof(shown), "--%.*s", (int)MIN(len, 100), name);
        cli_bad_option(pc->cli, "unknown option '%s'", shown);
        return -1;
    }
    const char *val = NULL;
    int used = 0;
    if (o->has_arg) {
        if (eq) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[i + 1];
            used = 1;
        } else {
            cli_bad_option(pc->cli, "option '%s' requires a value", argv[i]);
            return -1;
        }
    } else if (eq) {
        cli_bad_option(pc->cli, "option '--%s' takes no value", o->lname);
        return -1;
    }
    return cli_dispatch(pc, o, global, val) == CLI_OK ? used : -1;
}

/* Handles argv[i] = "-abc" or "-xVALUE"; same returns as cli_parse_long. */
static int cli_parse_short(struct cli_parse_ctx *pc, int argc, char **argv, int i)
{
    const char *arg = argv[i];
    for (int j = 1; arg[j] != '\0'; j++) {
        char opt[3] = {'-', arg[j], '\0'};
        bool global = false;
        const struct cli_opt *o = cli_find_opt(pc->opts, NULL, 0, arg[j], &global);
        if (o == NULL) {
            cli_bad_option(pc->cli, "unknown option '%s'", opt);
            return -1;
        }
        if (!o->has_arg) {
            if (cli_dispatch(pc, o, global, NULL) != CLI_OK)
                return -1;
            continue;
        }
        if (arg[j + 1] != '\0')
            return cli_dispatch(pc, o, global, arg + j + 1) == CLI_OK ? 0 : -1;
        if (i + 1 >= argc) {
            cli_bad_option(pc->cli, "option '%s' requires a value", opt);
            return -1;
        }
        return cli_dispatch(pc, o, global, argv[i + 1]) == CLI_OK ? 1 : -1;
    }
    return 0;
}

int cli_parse(struct cli *cli, int argc, char **argv, const struct cli_opt *opts,
              cli_opt_cb cb, void *ctx, bool stop_at_positional)
{
    struct cli_parse_ctx pc = {cli, opts, cb, ctx};
    int npos = 0;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        bool positional = arg[0] != '-' || arg[1] == '\0';
        if (strcmp(arg, "--") == 0 || (positional && stop_at_positional)) {
            int from = strcmp(arg, "--") == 0 ? i + 1 : i;
            for (int k = from; k < argc; k++)
                argv[npos++] = argv[k];
            break;
        }
        if (positional) {
            argv[npos++] = argv[i];
            continue;
        }
        int used = arg[1] == '-' ? cli_parse_long(&pc, argc, argv, i)
                                 : cli_parse_short(&pc, argc, argv, i);
        if (used < 0)
            return -1;
        i += used;
    }
    return npos;
}
