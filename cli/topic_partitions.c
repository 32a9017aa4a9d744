/*
 * cli/topic_partitions.c — `gregor topic alter-partitions NAME
 * --partitions N [--assignment B:B,B:B...] [--validate-only]`, like
 * kafka-topics.sh --alter --partitions N [--replica-assignment ...].
 *
 * Sends CreatePartitions through librdkafka's admin API
 * (rd_kafka_CreatePartitions). N is the new total number of partitions; a
 * topic cannot shrink. --assignment lists the replicas of each NEW
 * partition, in order: partitions separated by ',', broker ids by ':'
 * (first = preferred leader); without it the broker places them.
 *
 * Output (stdout, one line):
 *   Topic NAME now has N partitions.
 *   Topic NAME can have N partitions (not changed).     (--validate-only)
 * Errors: one line "gregor: ..." on stderr; exit 1 for broker/runtime
 * errors (unknown topic, N not larger, bad assignment), 2 for usage errors.
 *
 * Threads: main thread only.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TP_TIMEOUT_MS 30000
#define TP_MAX_REPLICAS 64

enum { TP_PARTITIONS = 1, TP_ASSIGNMENT, TP_VALIDATE };

static const struct cli_opt tp_opts[] = {
    {"partitions", 'p', true, TP_PARTITIONS},
    {"assignment", 'a', true, TP_ASSIGNMENT},
    {"replica-assignment", 0, true, TP_ASSIGNMENT},
    {"validate-only", 0, false, TP_VALIDATE},
    {NULL, 0, false, 0},
};

static const char tp_help[] =
    "Usage: gregor topic alter-partitions NAME --partitions N [--assignment LIST]\n"
    "Adds partitions to a topic (CreatePartitions); N is the new total and must\n"
    "be larger than the current count (partitions cannot be removed).\n"
    "  -p, --partitions N          the new number of partitions\n"
    "  -a, --assignment LIST       replicas of each new partition, in order:\n"
    "      --replica-assignment    partitions separated by ',', broker ids by ':'\n"
    "                              (e.g. 1:2,2:0 adds two partitions with two\n"
    "                              replicas each; first = preferred leader).\n"
    "                              Default: the broker spreads them\n"
    "      --validate-only         ask the broker to check, change nothing\n";

/* Options of one run; strings borrowed from argv. */
struct tp_args {
    int64_t partitions;     /* -1: not given */
    const char *assignment; /* NULL: the broker places */
    bool validate_only;
};

static int tp_opt(void *ctx, int id, const char *val)
{
    struct tp_args *a = ctx;
    switch (id) {
    case TP_PARTITIONS:
        if (!cli_parse_int(val, 1, INT32_MAX, &a->partitions))
            return cli_usage_error("--partitions: expected a number >= 1, got '%s'", val);
        return CLI_OK;
    case TP_ASSIGNMENT:
        a->assignment = val;
        return CLI_OK;
    case TP_VALIDATE:
        a->validate_only = true;
        return CLI_OK;
    }
    return CLI_USAGE;
}

/* Parses one partition's "B:B:..." (len bytes at s) into ids; returns the
 * count, or -1 after printing a usage error. */
static int tp_parse_row(const char *s, size_t len, int32_t *ids)
{
    int n = 0;
    size_t i = 0;
    while (i <= len) {
        size_t j = i;
        while (j < len && s[j] != ':')
            j++;
        char num[16];
        int64_t id;
        if (j - i == 0 || j - i >= sizeof(num) || n >= TP_MAX_REPLICAS)
            return cli_usage_error("--assignment: bad replica list '%.*s'", (int)len, s), -1;
        memcpy(num, s + i, j - i);
        num[j - i] = '\0';
        if (!cli_parse_int(num, 0, INT32_MAX, &id))
            return cli_usage_error("--assignment: '%s' is not a broker id", num), -1;
        ids[n++] = (int32_t)id;
        i = j + 1;
    }
    return n;
}

/* Sets the replicas of the new partitions from a->assignment on np.
 * Returns CLI_OK or CLI_USAGE (printed). */
static int tp_set_assignment(rd_kafka_NewPartitions_t *np, const char *list)
{
    int32_t ids[TP_MAX_REPLICAS];
    char errstr[256];
    int idx = 0;
    const char *p = list;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        int n = tp_parse_row(p, len, ids);
        if (n < 0)
            return CLI_USAGE;
        if (rd_kafka_NewPartitions_set_replica_assignment(np, idx++, ids, (size_t)n, errstr,
                                                          sizeof(errstr)))
            return cli_usage_error("--assignment: %s", errstr);
        if (!end)
            return CLI_OK;
        p = end + 1;
    }
}

/* Sends CreatePartitions for np (borrowed) and reports the result. */
static int tp_send(struct cli *cli, rd_kafka_t *rk, rd_kafka_NewPartitions_t *np, const char *name,
                   const struct tp_args *a)
{
    char errstr[256];
    int rc = CLI_FAIL;
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opts =
        cli_admin_options(rk, RD_KAFKA_ADMIN_OP_CREATEPARTITIONS, TP_TIMEOUT_MS);
    if (a->validate_only)
        rd_kafka_AdminOptions_set_validate_only(opts, 1, errstr, sizeof(errstr));
    rd_kafka_CreatePartitions(rk, &np, 1, opts, q);
    rd_kafka_event_t *ev =
        cli_admin_wait(cli, rk, q, RD_KAFKA_EVENT_CREATEPARTITIONS_RESULT, TP_TIMEOUT_MS);
    if (ev && rd_kafka_event_error(ev)) {
        rc = cli_fail("cannot add partitions to topic '%s': %s", name,
                      rd_kafka_event_error_string(ev));
    } else if (ev) {
        size_t cnt = 0;
        const rd_kafka_topic_result_t **res = rd_kafka_CreatePartitions_result_topics(
            rd_kafka_event_CreatePartitions_result(ev), &cnt);
        rd_kafka_resp_err_t err =
            cnt == 1 ? rd_kafka_topic_result_error(res[0]) : RD_KAFKA_RESP_ERR__BAD_MSG;
        const char *msg = cnt == 1 ? rd_kafka_topic_result_error_string(res[0]) : NULL;
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            rc = CLI_OK;
            printf(a->validate_only ? "Topic %s can have %d partitions (not changed).\n"
                                    : "Topic %s now has %d partitions.\n",
                   name, (int)a->partitions);
        } else {
            rc = cli_fail("cannot add partitions to topic '%s': %s (%s)", name,
                          msg && *msg ? msg : rd_kafka_err2str(err), rd_kafka_err2name(err));
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_queue_destroy(q);
    return rc;
}

int topic_alter_partitions(struct cli *cli, int argc, char **argv)
{
    struct tp_args a = {.partitions = -1};
    char errstr[256];
    int done, npos = cli_parse_cmd(cli, argc, argv, tp_opts, tp_opt, &a, tp_help, &done);
    if (npos < 0)
        return done;
    if (npos != 1)
        return cli_usage_positional(cli,
                                    npos == 0 ? "missing topic name" : "give exactly one topic");
    if (a.partitions < 0)
        return cli_usage_error("topic alter-partitions: --partitions N is required");
    rd_kafka_NewPartitions_t *np =
        rd_kafka_NewPartitions_new(argv[0], (size_t)a.partitions, errstr, sizeof(errstr));
    if (np == NULL)
        return cli_usage_error("topic '%s': %s", argv[0], errstr);
    int rc = a.assignment ? tp_set_assignment(np, a.assignment) : CLI_OK;
    rd_kafka_t *rk = NULL;
    if (rc == CLI_OK)
        rc = cli_admin_client(cli, &rk);
    if (rc == CLI_OK)
        rc = tp_send(cli, rk, np, argv[0], &a);
    rd_kafka_NewPartitions_destroy(np);
    if (rk)
        rd_kafka_destroy(rk);
    return rc;
}
