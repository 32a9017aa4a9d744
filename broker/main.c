/*
 * broker/main.c — gregor-broker entry point: arguments, configuration,
 * logging, then server_run().
 *
 * Usage: gregor-broker [server.properties] [--override key=value]...
 *        gregor-broker --help | --version
 * Globals: the log sink (common/say.c) and nothing else.
 */
#include "broker/config/config.h"
#include "broker/server.h"
#include "common/say.h"
#include "common/version.h"

#include <event2/thread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: gregor-broker [server.properties] [--override key=value]...\n"
            "       gregor-broker --help | --version\n"
            "  Starts a Gregor broker. Configuration keys are Kafka's (see\n"
            "  deploy/config/server.properties); GREGOR_<KEY> environment variables\n"
            "  (dots as underscores, e.g. GREGOR_LOG_DIRS) and --override win over the file.\n");
}

static int parse_args(int argc, char **argv, const char **path, char **overrides, int *n)
{
    *n = 0;
    *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("gregor-broker %s\n", GREGOR_VERSION);
            exit(0);
        } else if (strcmp(argv[i], "--override") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "gregor-broker: --override needs key=value\n");
                return -1;
            }
            overrides[(*n)++] = argv[++i];
        } else if (strncmp(argv[i], "--override=", 11) == 0) {
            overrides[(*n)++] = argv[i] + 11;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "gregor-broker: unknown option '%s'\n", argv[i]);
            return -1;
        } else if (!*path) {
            *path = argv[i];
        } else {
            fprintf(stderr, "gregor-broker: more than one configuration file given\n");
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *path;
    char **overrides = calloc((size_t)argc + 1, sizeof(char *));
    int n_over;
    if (!overrides || parse_args(argc, argv, &path, overrides, &n_over) != 0) {
        usage(stderr);
        return 2;
    }
    struct broker_config cfg;
    char err[1024];
    if (config_load(&cfg, path, environ, overrides, n_over, err, sizeof(err)) != 0) {
        fprintf(stderr, "gregor-broker: configuration error: %s\n", err);
        free(overrides);
        return 2;
    }
    enum say_level level = SAY_INFO;
    if (cfg.gregor_log_level)
        say_level_parse(cfg.gregor_log_level, &level);
    int fd = 2;
    if (cfg.gregor_log_file) {
        fd = open(cfg.gregor_log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0) {
            fprintf(stderr, "gregor-broker: cannot open gregor.log.file '%s'\n",
                    cfg.gregor_log_file);
            return 2;
        }
    }
    say_setup(level, fd);
    evthread_use_pthreads();
    int rc = server_run(&cfg);
    config_free(&cfg);
    free(overrides);
    return rc;
}
