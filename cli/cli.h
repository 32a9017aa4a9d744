/*
 * cli/cli.h — shared declarations of the `gregor` command: the per-run
 * context (struct cli), exit codes, the option parser (args.c), the
 * librdkafka client helpers (client.c) and the command entry points
 * (topic.c, topic_describe.c, topic_config.c, produce.c, consume.c,
 * dump_log.c, cluster.c, cluster_elect.c, cluster_watch.c, cluster_log_dirs.c,
 * cluster_config.c, cluster_reassign.c, cluster_reassign_plan.c, group.c),
 * dispatched from main.c. The raw Kafka client for requests librdkafka lacks
 * is in kraw.h.
 *
 * Exit codes: CLI_OK (0) success; CLI_FAIL (1) runtime failure, one line
 * "gregor: reason" on stderr; CLI_USAGE (2) bad options or arguments, one
 * line "gregor: reason" on stderr.
 *
 * Threads: everything runs on the main thread except librdkafka's log
 * callback, which may run on librdkafka's internal threads and therefore only
 * reads fields that are immutable once the options are parsed.
 */
#ifndef GREGOR_CLI_CLI_H
#define GREGOR_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "common/version.h"

#define CLI_VERSION GREGOR_VERSION
#define CLI_DEFAULT_BOOTSTRAP "127.0.0.1:9092"
#define CLI_MAX_PROPS 64

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/*
 * One run of the command. Lives on main()'s stack for the whole run; the
 * strings point into argv or the environment (borrowed, never freed).
 * Fields above `cmd` are set while parsing options and immutable after.
 */
struct cli {
    const char *bootstrap;            /* -b, $GREGOR_BOOTSTRAP or the default */
    const char *props[CLI_MAX_PROPS]; /* -X key=value, in order given */
    int nprops;                       /* entries used in props */
    int verbose;                      /* -v count: librdkafka logs shown if > 0 */
    bool help;                        /* -h/--help seen: print help, exit 0 */
    const char *cmd;                  /* "topic create" etc., for messages */
    void *cmd_state;                  /* the running command's state, for callbacks */
    bool all_down;                    /* error_cb saw ALL_BROKERS_DOWN (main thread) */
    char last_error[512];             /* last error_cb text (main thread) */
};

/* ---- args.c: option parsing and messages ------------------------------ */

/* One option a command accepts. `lname` without dashes ("partitions"),
 * `sname` a letter or 0, `has_arg` whether it takes a value, `id` > 0 is
 * handed to the command's callback. */
struct cli_opt {
    const char *lname;
    int sname;
    bool has_arg;
    int id;
};

/* Called once per option occurrence; `val` is borrowed from argv (NULL for
 * flags). Returns CLI_OK, or CLI_USAGE after printing the reason. */
typedef int (*cli_opt_cb)(void *ctx, int id, const char *val);

/*
 * Parses argv[0..argc) (argv[0] is the first argument, not the program).
 * Options from `opts` (terminated by a zero entry) go to `cb`; the global
 * options -b/-X/-v/-h are accepted everywhere and stored in `cli`.
 * Positional arguments are moved to the front of argv, in order. With
 * `stop_at_positional`, parsing stops at the first positional and the
 * rest of argv is left untouched and counted as positional.
 * Returns the number of positionals (>= 0) or -1 after printing a usage
 * error.
 */
int cli_parse(struct cli *cli, int argc, char **argv, const struct cli_opt *opts, cli_opt_cb cb,
              void *ctx, bool stop_at_positional);

/* cli_parse() for a command that takes its options anywhere, with the two
 * answers every such command gives: a usage error (CLI_USAGE), and -h /
 * --help, which prints `help` (CLI_OK). Returns the number of positionals,
 * or -1 with *done set to what the command returns at once. */
int cli_parse_cmd(struct cli *cli, int argc, char **argv, const struct cli_opt *opts, cli_opt_cb cb,
                  void *ctx, const char *help, int *done);

/* Prints "gregor: <message>" to stderr; returns CLI_USAGE / CLI_FAIL. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "gregor: <message>" to stderr (warnings); no exit code. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The value of --output: "json" sets *json, "text" clears it; anything
 * else is a usage error (CLI_USAGE after printing). */
int cli_parse_output(const char *val, bool *json);

/* Parses a whole decimal integer in [min, max]; false if not. */
bool cli_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);

/* Reports a missing or excess positional for `cli->cmd`; returns CLI_USAGE. */
int cli_usage_positional(const struct cli *cli, const char *what);

/* A subcommand of a command group (`topic`, `cluster`). */
struct cli_sub {
    const char *name; /* as typed: "create" */
    const char *full; /* cli->cmd while it runs */
    int (*run)(struct cli *cli, int argc, char **argv);
};

/* Runs the subcommand of group cli->cmd that argv[0] names, out of
 * subs[0..n); without one prints `help` (--help) or a usage error listing
 * the subcommands; an unknown one is a usage error. */
int cli_run_sub(struct cli *cli, int argc, char **argv, const struct cli_sub *subs, size_t n,
                const char *help);

/* ---- client.c: librdkafka set-up ---------------------------------------- */

/*
 * Returns a new configuration with bootstrap.servers, quiet logging and
 * error tracking set, then `defaults` (NULL-terminated key, value pairs;
 * may be NULL), then the user's -X properties, so -X overrides defaults.
 * NULL after printing a usage error (bad -X property). The opaque is `cli`.
 */
rd_kafka_conf_t *cli_conf_new(struct cli *cli, const char *const *defaults);

/* Sets one property; on failure prints "gregor: key: reason" and returns
 * CLI_USAGE. `what` names the option for the message ("--acks"). */
int cli_conf_set(rd_kafka_conf_t *conf, const char *what, const char *key, const char *val);

/* Creates a client; takes `conf` (also on failure). NULL after printing. */
rd_kafka_t *cli_client_new(rd_kafka_type_t type, rd_kafka_conf_t *conf);

/* The client of the metadata and admin commands (a producer handle with
 * the user's -X properties): CLI_OK with *rk new, else CLI_USAGE or
 * CLI_FAIL after printing. */
int cli_admin_client(struct cli *cli, rd_kafka_t **rk);

/*
 * Fetches metadata for all topics (`topic` NULL) or one topic, failing fast
 * when no broker can be reached. On CLI_OK *md is new (free with
 * rd_kafka_metadata_destroy()). On failure prints the reason, returns
 * CLI_FAIL. Main thread.
 */
int cli_metadata(struct cli *cli, rd_kafka_t *rk, const char *topic,
                 const struct rd_kafka_metadata **md);

/* cli_admin_client(), then cli_metadata() of every topic. On CLI_OK *rk and
 * *md are new (the caller frees both); on failure, after printing the
 * reason, nothing is left to free. Main thread. */
int cli_cluster_metadata(struct cli *cli, rd_kafka_t **rk, const struct rd_kafka_metadata **md);

/* Returns the topic named `name` in `md` (borrowed from md) or NULL. */
const struct rd_kafka_metadata_topic *cli_md_topic(const struct rd_kafka_metadata *md,
                                                   const char *name);

/*
 * Waits up to timeout_ms for an admin result event of type `type` on `q`,
 * serving rk's callbacks and failing fast when no broker is reachable.
 * Returns the new event (rd_kafka_event_destroy() it) or NULL after
 * printing the reason.
 */
rd_kafka_event_t *cli_admin_wait(struct cli *cli, rd_kafka_t *rk, rd_kafka_queue_t *q,
                                 rd_kafka_event_type_t type, int timeout_ms);

/* Returns new admin options for `api` with request and operation timeouts
 * of timeout_ms; NULL only on allocation failure. */
rd_kafka_AdminOptions_t *cli_admin_options(rd_kafka_t *rk, rd_kafka_admin_op_t api, int timeout_ms);

/* Prints the reason no broker could be reached; returns CLI_FAIL. */
int cli_fail_unreachable(const struct cli *cli);

/* Returns the broker with `id` in md's live broker list (borrowed) or NULL. */
const struct rd_kafka_metadata_broker *cli_md_broker(const struct rd_kafka_metadata *md,
                                                     int32_t id);

/* ---- partition health (topic_describe.c) --------------------------------- */

enum {
    CLI_PART_OFFLINE = 1u << 0,          /* no leader, or a leader not among md's brokers */
    CLI_PART_UNDER_REPLICATED = 1u << 1, /* ISR smaller than the replica list */
    CLI_PART_NOT_PREFERRED = 1u << 2,    /* online, leader is not the first replica */
};

/* Returns the CLI_PART_* flags of partition p of a topic in md. */
unsigned cli_part_flags(const struct rd_kafka_metadata *md,
                        const struct rd_kafka_metadata_partition *p);

/* ---- commands: argv[0] is the first argument after the command name ---- */

int topic_main(struct cli *cli, int argc, char **argv);
int user_main(struct cli *cli, int argc, char **argv);              /* user.c */
int topic_describe(struct cli *cli, int argc, char **argv);         /* topic_describe.c */
int topic_alter_config(struct cli *cli, int argc, char **argv);     /* topic_config.c */
int topic_alter_partitions(struct cli *cli, int argc, char **argv); /* topic_partitions.c */
int topic_producers(struct cli *cli, int argc, char **argv);        /* topic_producers.c */
/* True for internal topic names ("__consumer_offsets"), hidden without --all. */
/* cluster.c: `cluster info`; dispatches `cluster elect-leaders`. */
int cluster_main(struct cli *cli, int argc, char **argv);
int cluster_elect_leaders(struct cli *cli, int argc, char **argv); /* cluster_elect.c */
int cluster_watch(struct cli *cli, int argc, char **argv);         /* cluster_watch.c */
int cluster_log_dirs(struct cli *cli, int argc, char **argv);      /* cluster_log_dirs.c */
int cluster_config_main(struct cli *cli, int argc, char **argv);   /* cluster_config.c */
int cluster_reassign(struct cli *cli, int argc, char **argv);      /* cluster_reassign.c */
/* cluster_reassign_plan.c: `cluster reassign --plan` (argv may hold --plan itself). */
int cluster_reassign_plan(struct cli *cli, int argc, char **argv);
int produce_main(struct cli *cli, int argc, char **argv);
int consume_main(struct cli *cli, int argc, char **argv);
/* group.c: `group list|describe|reset-offsets|delete|delete-offsets` (with group_*.c). */
int group_main(struct cli *cli, int argc, char **argv);
/* acl.c: `gregor acl add|list|remove` */
int acl_main(struct cli *cli, int argc, char **argv);
/* transactions.c: `transactions list|describe`. */
int transactions_main(struct cli *cli, int argc, char **argv);
/* dump_log.c: offline; reads segment files, never contacts a broker. */
int dump_log_main(struct cli *cli, int argc, char **argv);
int quota_main(struct cli *cli, int argc, char **argv);  /* quota.c */
int mirror_main(struct cli *cli, int argc, char **argv); /* mirror.c (mirror.h) */

#endif
