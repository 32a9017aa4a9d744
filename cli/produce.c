/*
 * cli/produce.c — `gregor produce TOPIC`: every line read from stdin
 * becomes one record. The line's trailing "\n" is dropped; nothing else
 * is (a "\r" stays part of the value). With --key-separator SEP the line
 * is split at the first SEP into key and value; a line without SEP is an
 * error. Empty lines produce empty values.
 *
 * Records go through librdkafka's producer (batching, retries, acks);
 * every delivery report is counted. At EOF the producer is flushed; the
 * exit status is 1 if any record was not delivered, with the first error.
 * After the first failed delivery no more input is read.
 *
 * Threads: the delivery callback runs inside rd_kafka_poll()/flush() on
 * the main thread, so struct produce_state needs no lock.
 */
#include "cli/cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PO_KEYSEP = 1, PO_PARTITION, PO_ACKS, PO_COMPRESSION };

static const struct cli_opt produce_opts[] = {
    {"key-separator", 'K', true, PO_KEYSEP},
    {"partition", 'p', true, PO_PARTITION},
    {"acks", 'a', true, PO_ACKS},
    {"compression", 'z', true, PO_COMPRESSION},
    {NULL, 0, false, 0},
};

static const char produce_help[] =
    "Usage: gregor produce TOPIC [OPTIONS] < lines\n"
    "Writes each line of stdin as one record (value = the line without \"\\n\").\n"
    "  -K, --key-separator SEP   split each line at the first SEP into key and value\n"
    "  -p, --partition N         write to partition N (default: librdkafka's\n"
    "                            partitioner: by key hash, or spread if no key)\n"
    "  -a, --acks 0|1|all        acknowledgements to wait for (default: all)\n"
    "  -z, --compression CODEC   none, gzip, snappy, lz4 or zstd (default: none)\n"
    "Exits 1 if any record could not be delivered, printing the first error.\n";

struct produce_args {
    const char *topic;  /* borrowed from argv */
    const char *keysep; /* NULL: no keys */
    size_t keysep_len;
    int32_t partition;       /* RD_KAFKA_PARTITION_UA: partitioner decides */
    const char *acks;        /* "0", "1", "all" */
    const char *compression; /* NULL: librdkafka default */
};

/* Counters of one run; written by the delivery callback (main thread). */
struct produce_state {
    uint64_t queued;       /* records handed to librdkafka */
    uint64_t delivered;    /* delivery reports without error */
    uint64_t failed;       /* delivery reports with error, or refused */
    char first_error[512]; /* text of the first failure */
};

static int produce_opt(void *ctx, int id, const char *val)
{
    struct produce_args *a = ctx;
    int64_t v;
    switch (id) {
    case PO_KEYSEP:
        if (*val == '\0')
            return cli_usage_error("--key-separator must not be empty");
        a->keysep = val;
        a->keysep_len = strlen(val);
        return CLI_OK;
    case PO_PARTITION:
        if (!cli_parse_int(val, 0, INT32_MAX, &v))
            return cli_usage_error("--partition: expected a number >= 0, got '%s'", val);
        a->partition = (int32_t)v;
        return CLI_OK;
    case PO_ACKS:
        if (strcmp(val, "0") && strcmp(val, "1") && strcmp(val, "all") && strcmp(val, "-1"))
            return cli_usage_error("--acks: expected 0, 1 or all, got '%s'", val);
        a->acks = val;
        return CLI_OK;
    case PO_COMPRESSION:
        a->compression = val;
        return CLI_OK;
    }
    return CLI_USAGE;
}

/* Counts a failed record and remembers the first reason. */
static void produce_note_failure(struct produce_state *st, const char *what,
                                 rd_kafka_resp_err_t err)
{
    if (st->failed++ == 0)
        snprintf(st->first_error, sizeof(st->first_error), "%s%s (%s)", what, rd_kafka_err2str(err),
                 rd_kafka_err2name(err));
}

/* Delivery report: one per record. Main thread, inside poll/flush. */
static void produce_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    struct cli *cli = opaque;
    struct produce_state *st = cli->cmd_state;
    if (msg->err)
        produce_note_failure(st, "delivery failed: ", msg->err);
    else
        st->delivered++;
}

/* Queues one record; waits while librdkafka's queue is full. line is
 * borrowed (copied by librdkafka). Returns CLI_OK or CLI_FAIL (noted). */
static int produce_line(rd_kafka_t *rk, const struct produce_args *a, struct produce_state *st,
                        char *line, size_t len, uint64_t lineno)
{
    const char *key = NULL;
    size_t key_len = 0;
    if (a->keysep) {
        char *sep = memmem(line, len, a->keysep, a->keysep_len);
        if (sep == NULL) {
            if (st->failed++ == 0)
                snprintf(st->first_error, sizeof(st->first_error),
                         "line %" PRIu64 ": key separator '%s' not found", lineno, a->keysep);
            return CLI_FAIL;
        }
        key = line;
        key_len = (size_t)(sep - line);
        line = sep + a->keysep_len;
        len -= key_len + a->keysep_len;
    }
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(a->topic), RD_KAFKA_V_PARTITION(a->partition),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, key_len),
            RD_KAFKA_V_VALUE(line, len), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            st->queued++;
            return CLI_OK;
        }
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            produce_note_failure(st, "cannot produce: ", err);
            return CLI_FAIL;
        }
        rd_kafka_poll(rk, 100); /* let deliveries drain the queue */
    }
}

/* Reads stdin to EOF (or the first failure) and queues every line. */
static int produce_read_loop(rd_kafka_t *rk, const struct produce_args *a, struct produce_state *st)
{
    char *line = NULL;
    size_t cap = 0;
    uint64_t lineno = 0;
    ssize_t n;
    int rc = CLI_OK;
    while (st->failed == 0 && (n = getline(&line, &cap, stdin)) >= 0) {
        size_t len = (size_t)n;
        lineno++;
        if (len > 0 && line[len - 1] == '\n')
            len--;
        if ((rc = produce_line(rk, a, st, line, len, lineno)) != CLI_OK)
            break;
        rd_kafka_poll(rk, 0); /* serve delivery reports as we go */
    }
    if (rc == CLI_OK && ferror(stdin))
        rc = cli_fail("cannot read stdin: %s", strerror(errno));
    free(line);
    return rc;
}

/* Checks that the topic (and partition) exist before reading input. */
static int produce_check_topic(struct cli *cli, rd_kafka_t *rk, const struct produce_args *a)
{
    const struct rd_kafka_metadata *md = NULL;
    int rc = cli_metadata(cli, rk, a->topic, &md);
    if (rc != CLI_OK)
        return rc;
    const struct rd_kafka_metadata_topic *t = cli_md_topic(md, a->topic);
    if (t == NULL || t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
        rc = cli_fail("topic '%s' does not exist", a->topic);
    else if (a->partition != RD_KAFKA_PARTITION_UA && t->partition_cnt > 0 &&
             a->partition >= t->partition_cnt)
        rc = cli_fail("topic '%s' has no partition %d (it has %d)", a->topic, (int)a->partition,
                      t->partition_cnt);
    rd_kafka_metadata_destroy(md);
    return rc;
}

/* Builds the producer configuration; NULL after a usage error. */
static rd_kafka_conf_t *produce_conf(struct cli *cli, const struct produce_args *a)
{
    /* A CLI should not sit silently for librdkafka's default 5 minutes. */
    static const char *const defaults[] = {"message.timeout.ms", "30000", NULL};
    rd_kafka_conf_t *conf = cli_conf_new(cli, defaults);
    if (conf == NULL)
        return NULL;
    if (cli_conf_set(conf, "--acks", "acks", a->acks) != CLI_OK ||
        (a->compression &&
         cli_conf_set(conf, "--compression", "compression.codec", a->compression) != CLI_OK)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, produce_dr_cb);
    return conf;
}

static int produce_run(struct cli *cli, const struct produce_args *a)
{
    struct produce_state st;
    memset(&st, 0, sizeof(st));
    cli->cmd_state = &st;
    rd_kafka_conf_t *conf = produce_conf(cli, a);
    if (conf == NULL)
        return CLI_USAGE;
    rd_kafka_t *rk = cli_client_new(RD_KAFKA_PRODUCER, conf);
    if (rk == NULL)
        return CLI_FAIL;
    int rc = produce_check_topic(cli, rk, a);
    if (rc == CLI_OK)
        rc = produce_read_loop(rk, a, &st);
    rd_kafka_flush(rk, -1); /* bounded by message.timeout.ms */
    if (st.failed > 0)
        rc = cli_fail("%s (%" PRIu64 " failed, %" PRIu64 " delivered)", st.first_error, st.failed,
                      st.delivered);
    else if (cli->verbose > 0)
        fprintf(stderr, "gregor: %" PRIu64 " records delivered\n", st.delivered);
    rd_kafka_destroy(rk);
    cli->cmd_state = NULL;
    return rc;
}

int produce_main(struct cli *cli, int argc, char **argv)
{
    struct produce_args a = {.partition = RD_KAFKA_PARTITION_UA, .acks = "all"};
    int done,
        npos = cli_parse_cmd(cli, argc, argv, produce_opts, produce_opt, &a, produce_help, &done);
    if (npos < 0)
        return done;
    if (npos == 0)
        return cli_usage_positional(cli, "missing topic name");
    if (npos > 1)
        return cli_usage_positional(cli, "expected exactly one topic");
    a.topic = argv[0];
    return produce_run(cli, &a);
}
