/*
 * cli/consume.c — `gregor consume TOPIC`: prints records to stdout, one
 * per line: [partition:offset<TAB>][key<TAB>]value<LF>. Keys and values
 * are written as raw bytes; a missing key or value prints as empty.
 *
 * Two modes:
 *  - no --group (default): every partition (or the one given by
 *    --partition) is read from the chosen start offset with librdkafka's
 *    simple (legacy) consumer API, all partitions feeding one queue. No
 *    group, no coordinator, no commits: this works against brokers that
 *    do not implement consumer groups. (rd_kafka_assign() is not usable
 *    here: librdkafka refuses it without a group.id.)
 *  - --group G: rd_kafka_subscribe() in group G with auto-commit;
 *    --from-beginning then means auto.offset.reset=earliest.
 *
 * Stops after -n records, after --timeout-ms without records, when every
 * partition reached its end (-e), or on SIGINT/SIGTERM (all exit 0).
 *
 * Threads: all on the main thread. The only global is the signal flag.
 */
#include "cli/cli.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/base.h"

enum {
    CO_FROM_BEGINNING = 1,
    CO_PARTITION,
    CO_OFFSET,
    CO_MAX,
    CO_PRINT_KEY,
    CO_PRINT_OFFSET,
    CO_TIMEOUT,
    CO_EXIT_AT_END,
    CO_GROUP,
};

static const struct cli_opt consume_opts[] = {
    {"from-beginning", 0, false, CO_FROM_BEGINNING},
    {"partition", 'p', true, CO_PARTITION},
    {"offset", 'o', true, CO_OFFSET},
    {"max-messages", 'n', true, CO_MAX},
    {"print-key", 0, false, CO_PRINT_KEY},
    {"print-offset", 0, false, CO_PRINT_OFFSET},
    {"timeout-ms", 0, true, CO_TIMEOUT},
    {"exit-at-end", 'e', false, CO_EXIT_AT_END},
    {"group", 'g', true, CO_GROUP},
    {NULL, 0, false, 0},
};

static const char consume_help[] =
    "Usage: gregor consume TOPIC [OPTIONS]\n"
    "Prints records as [partition:offset<TAB>][key<TAB>]value, one per line.\n"
    "      --from-beginning      start at the oldest record (default: only new ones)\n"
    "  -p, --partition N         read only partition N (default: all)\n"
    "  -o, --offset K            start at offset K: a number, beginning, end, or -N\n"
    "                            for the last N records of each partition\n"
    "  -n, --max-messages COUNT  exit after COUNT records\n"
    "      --print-key           print the key and a TAB before the value\n"
    "      --print-offset        print partition:offset and a TAB first\n"
    "      --timeout-ms T        exit after T ms without a record\n"
    "  -e, --exit-at-end         exit when the end of every partition is reached\n"
    "  -g, --group G             consume as member of consumer group G (subscribe,\n"
    "                            committed offsets); not with --partition/--offset\n"
    "Without -n, --timeout-ms or -e it runs until interrupted (exit 0).\n";

struct consume_args {
    const char *topic; /* borrowed from argv */
    bool from_beginning;
    int32_t partition; /* -1: all */
    bool offset_set;
    int64_t offset; /* absolute or RD_KAFKA_OFFSET_* logical */
    int64_t max;    /* 0: unlimited */
    bool print_key;
    bool print_offset;
    int64_t timeout_ms; /* -1: none */
    bool exit_at_end;
    const char *group; /* NULL: simple consumer, no group */
};

/* State of one run; main thread only. */
struct consume_state {
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt; /* simple mode: the topic handle */
    rd_kafka_queue_t *q;   /* simple mode: all partitions feed it */
    int32_t *started;      /* simple mode: partitions started */
    int nstarted;
    bool *at_end;                    /* by partition id: EOF seen since last record */
    int32_t at_end_size;             /* entries in at_end */
    uint64_t count;                  /* records printed */
    int64_t last_ms;                 /* when the last record (or the start) was */
    rd_kafka_resp_err_t last_warned; /* last transient error reported */
};

static volatile sig_atomic_t consume_stop;

static void consume_on_signal(int sig) { consume_stop = 1; }

static int64_t consume_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Parses --offset: a number >= 0, beginning/earliest, end/latest, or -N. */
static int consume_parse_offset(struct consume_args *a, const char *val)
{
    int64_t v;
    if (strcmp(val, "beginning") == 0 || strcmp(val, "earliest") == 0)
        a->offset = RD_KAFKA_OFFSET_BEGINNING;
    else if (strcmp(val, "end") == 0 || strcmp(val, "latest") == 0)
        a->offset = RD_KAFKA_OFFSET_END;
    else if (cli_parse_int(val, 0, INT64_MAX, &v))
        a->offset = v;
    else if (cli_parse_int(val, -INT32_MAX, -1, &v))
        a->offset = RD_KAFKA_OFFSET_TAIL(-v);
    else
        return cli_usage_error("--offset: expected a number, beginning, end or -N, got '%s'", val);
    a->offset_set = true;
    return CLI_OK;
}

static int consume_opt(void *ctx, int id, const char *val)
{
    struct consume_args *a = ctx;
    int64_t v;
    switch (id) {
    case CO_FROM_BEGINNING:
        a->from_beginning = true;
        return CLI_OK;
    case CO_PRINT_KEY:
        a->print_key = true;
        return CLI_OK;
    case CO_PRINT_OFFSET:
        a->print_offset = true;
        return CLI_OK;
    case CO_EXIT_AT_END:
        a->exit_at_end = true;
        return CLI_OK;
    case CO_GROUP:
        a->group = val;
        return CLI_OK;
    case CO_OFFSET:
        return consume_parse_offset(a, val);
    case CO_PARTITION:
        if (!cli_parse_int(val, 0, INT32_MAX, &v))
            return cli_usage_error("--partition: expected a number >= 0, got '%s'", val);
        a->partition = (int32_t)v;
        return CLI_OK;
    case CO_MAX:
        if (!cli_parse_int(val, 1, INT64_MAX, &a->max))
            return cli_usage_error("--max-messages: expected a number >= 1, got '%s'", val);
        return CLI_OK;
    case CO_TIMEOUT:
        if (!cli_parse_int(val, 0, INT32_MAX, &a->timeout_ms))
            return cli_usage_error("--timeout-ms: expected a number >= 0, got '%s'", val);
        return CLI_OK;
    }
    return CLI_USAGE;
}

/* Checks combinations the parser cannot see. */
static int consume_validate(const struct consume_args *a)
{
    if (a->from_beginning && a->offset_set)
        return cli_usage_error("--from-beginning and --offset cannot be combined");
    if (a->group && (a->partition >= 0 || a->offset_set))
        return cli_usage_error("--group cannot be combined with --partition or --offset");
    if (a->group && *a->group == '\0')
        return cli_usage_error("--group must not be empty");
    return CLI_OK;
}

/* Builds the consumer configuration; NULL after a usage error. */
static rd_kafka_conf_t *consume_conf(struct cli *cli, const struct consume_args *a)
{
    const char *defaults[] = {
        "enable.partition.eof",
        a->exit_at_end ? "true" : "false",
        "auto.offset.reset",
        a->from_beginning ? "earliest" : "latest",
        "enable.auto.commit",
        a->group ? "true" : "false",
        NULL,
    };
    rd_kafka_conf_t *conf = cli_conf_new(cli, defaults);
    if (conf && a->group && cli_conf_set(conf, "--group", "group.id", a->group) != CLI_OK) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

/* Simple mode: starts every wanted partition of t on one queue. */
static int consume_start_simple(struct consume_state *st, const struct consume_args *a,
                                const struct rd_kafka_metadata_topic *t)
{
    int64_t start = a->offset_set       ? a->offset
                    : a->from_beginning ? RD_KAFKA_OFFSET_BEGINNING
                                        : RD_KAFKA_OFFSET_END;
    st->q = rd_kafka_queue_new(st->rk);
    st->rkt = rd_kafka_topic_new(st->rk, a->topic, NULL);
    st->started = calloc((size_t)t->partition_cnt + 1, sizeof(*st->started));
    if (st->rkt == NULL || st->started == NULL)
        return cli_fail("cannot set up the consumer: %s", rd_kafka_err2str(rd_kafka_last_error()));
    for (int i = 0; i < t->partition_cnt; i++) {
        int32_t p = t->partitions[i].id;
        if (a->partition >= 0 && p != a->partition)
            continue;
        if (rd_kafka_consume_start_queue(st->rkt, p, start, st->q) == -1)
            return cli_fail("cannot start partition %d: %s", (int)p,
                            rd_kafka_err2str(rd_kafka_last_error()));
        st->started[st->nstarted++] = p;
    }
    return CLI_OK;
}

/* Group mode: subscribes to the topic. */
static int consume_start_group(struct consume_state *st, const struct consume_args *a)
{
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, a->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(st->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err)
        return cli_fail("cannot subscribe to '%s': %s", a->topic, rd_kafka_err2str(err));
    rd_kafka_poll_set_consumer(st->rk);
    return CLI_OK;
}

/* Looks the topic up and starts consuming in the chosen mode. */
static int consume_start(struct cli *cli, struct consume_state *st, const struct consume_args *a)
{
    const struct rd_kafka_metadata *md = NULL;
    int rc = cli_metadata(cli, st->rk, a->topic, &md);
    if (rc != CLI_OK)
        return rc;
    const struct rd_kafka_metadata_topic *t = cli_md_topic(md, a->topic);
    if (t == NULL || t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || t->partition_cnt == 0) {
        rc = cli_fail("topic '%s' does not exist", a->topic);
    } else if (a->partition >= t->partition_cnt) {
        rc = cli_fail("topic '%s' has no partition %d (it has %d)", a->topic, (int)a->partition,
                      t->partition_cnt);
    } else {
        st->at_end_size = t->partition_cnt;
        st->at_end = calloc((size_t)t->partition_cnt, sizeof(*st->at_end));
        rc = a->group ? consume_start_group(st, a) : consume_start_simple(st, a, t);
    }
    rd_kafka_metadata_destroy(md);
    return rc;
}

/* Writes one record to stdout in the documented format. */
static void consume_print(const struct consume_args *a, const rd_kafka_message_t *m)
{
    if (a->print_offset)
        printf("%" PRId32 ":%" PRId64 "\t", m->partition, m->offset);
    if (a->print_key) {
        if (m->key_len > 0)
            fwrite(m->key, 1, m->key_len, stdout);
        putchar('\t');
    }
    if (m->len > 0)
        fwrite(m->payload, 1, m->len, stdout);
    putchar('\n');
}

/* True when every consumed partition has reported EOF since its last
 * record. In group mode the partitions are the current assignment. */
static bool consume_all_at_end(const struct consume_state *st, const struct consume_args *a)
{
    if (!a->group) {
        for (int i = 0; i < st->nstarted; i++) {
            if (!st->at_end[st->started[i]])
                return false;
        }
        return st->nstarted > 0;
    }
    rd_kafka_topic_partition_list_t *asg = NULL;
    if (rd_kafka_assignment(st->rk, &asg) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return false;
    bool done = asg->cnt > 0;
    for (int i = 0; i < asg->cnt && done; i++) {
        int32_t p = asg->elems[i].partition;
        done = p >= 0 && p < st->at_end_size && st->at_end[p];
    }
    rd_kafka_topic_partition_list_destroy(asg);
    return done;
}

/*
 * Handles an error event: CLI_FAIL for errors that will not go away (the
 * topic vanished from the cluster, no permission, fatal client error).
 * Others are retried by librdkafka (a broker answering
 * UNKNOWN_TOPIC_OR_PARTITION may just not know a new topic yet); they are
 * reported as a warning, once per distinct error in a row (always with -v).
 */
static int consume_error(const struct cli *cli, struct consume_state *st,
                         const rd_kafka_message_t *m)
{
    switch (m->err) {
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR__FATAL:
        return cli_fail("consume failed: %s (%s)", rd_kafka_message_errstr(m),
                        rd_kafka_err2name(m->err));
    default:
        if (cli->verbose > 0 || m->err != st->last_warned)
            cli_warn("warning: %s (%s); retrying", rd_kafka_message_errstr(m),
                     rd_kafka_err2name(m->err));
        st->last_warned = m->err;
        return CLI_OK;
    }
}

/* Returns the next event (new, or NULL when idle), serving callbacks. */
static rd_kafka_message_t *consume_next(struct consume_state *st, const struct consume_args *a,
                                        int timeout_ms)
{
    if (a->group)
        return rd_kafka_consumer_poll(st->rk, timeout_ms);
    rd_kafka_poll(st->rk, 0); /* error and log callbacks */
    return rd_kafka_consume_queue(st->q, timeout_ms);
}

/* Handles one event; sets *done when the run should end. */
static int consume_event(const struct cli *cli, struct consume_state *st,
                         const struct consume_args *a, const rd_kafka_message_t *m, bool *done)
{
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (m->partition >= 0 && m->partition < st->at_end_size)
            st->at_end[m->partition] = true;
        *done = a->exit_at_end && consume_all_at_end(st, a);
        return CLI_OK;
    }
    if (m->err)
        return consume_error(cli, st, m);
    consume_print(a, m);
    st->last_warned = RD_KAFKA_RESP_ERR_NO_ERROR;
    st->count++;
    st->last_ms = consume_now_ms();
    if (m->partition >= 0 && m->partition < st->at_end_size)
        st->at_end[m->partition] = false;
    *done = a->max > 0 && st->count >= (uint64_t)a->max;
    return CLI_OK;
}

static int consume_loop(const struct cli *cli, struct consume_state *st,
                        const struct consume_args *a)
{
    bool done = false;
    int rc = CLI_OK;
    st->last_ms = consume_now_ms();
    while (!done && !consume_stop && rc == CLI_OK) {
        int slice = 200;
        if (a->timeout_ms >= 0) {
            int64_t left = st->last_ms + a->timeout_ms - consume_now_ms();
            if (left <= 0)
                break;
            slice = (int)MIN(left, (int64_t)slice);
        }
        rd_kafka_message_t *m = consume_next(st, a, slice);
        if (m == NULL) {
            fflush(stdout); /* idle: let readers of a pipe see what we have */
            continue;
        }
        rc = consume_event(cli, st, a, m, &done);
        rd_kafka_message_destroy(m);
    }
    fflush(stdout);
    return rc;
}

/* Stops consuming and frees everything in st. */
static void consume_teardown(struct consume_state *st, const struct consume_args *a)
{
    for (int i = 0; i < st->nstarted; i++)
        rd_kafka_consume_stop(st->rkt, st->started[i]);
    if (st->q)
        rd_kafka_queue_destroy(st->q);
    if (st->rkt)
        rd_kafka_topic_destroy(st->rkt);
    if (a->group)
        rd_kafka_consumer_close(st->rk);
    rd_kafka_destroy(st->rk);
    free(st->started);
    free(st->at_end);
}

static int consume_run(struct cli *cli, const struct consume_args *a)
{
    struct consume_state st;
    memset(&st, 0, sizeof(st));
    rd_kafka_conf_t *conf = consume_conf(cli, a);
    if (conf == NULL)
        return CLI_USAGE;
    if ((st.rk = cli_client_new(RD_KAFKA_CONSUMER, conf)) == NULL)
        return CLI_FAIL;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = consume_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int rc = consume_start(cli, &st, a);
    if (rc == CLI_OK)
        rc = consume_loop(cli, &st, a);
    if (cli->verbose > 0)
        fprintf(stderr, "gregor: %" PRIu64 " records consumed\n", st.count);
    consume_teardown(&st, a);
    return rc;
}

int consume_main(struct cli *cli, int argc, char **argv)
{
    struct consume_args a = {.partition = -1, .timeout_ms = -1};
    int done,
        npos = cli_parse_cmd(cli, argc, argv, consume_opts, consume_opt, &a, consume_help, &done);
    if (npos < 0)
        return done;
    if (npos == 0)
        return cli_usage_positional(cli, "missing topic name");
    if (npos > 1)
        return cli_usage_positional(cli, "expected exactly one topic");
    if (consume_validate(&a) != CLI_OK)
        return CLI_USAGE;
    a.topic = argv[0];
    return consume_run(cli, &a);
}
