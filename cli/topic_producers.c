/*
 * cli/topic_producers.c — `gregor topic producers TOPIC [-p N]...`: the
 * idempotent producers each partition's leader knows (docs/storage.md
 * "Producer state"), through Kafka's DescribeProducers request (API key
 * 61, v0, flexible), sent with the raw client (kraw.h) to the leader of
 * each partition found in librdkafka's metadata: librdkafka 2.0.2 has no
 * DescribeProducers.
 *
 * Wire format (Kafka's DescribeProducersRequest/Response v0): request
 * topics [name, partition_indexes [int32]]; response throttle_time_ms,
 * topics [name, partitions [partition_index, error_code, error_message
 * (nullable), active_producers [producer_id int64, producer_epoch int32,
 * last_sequence int32, last_timestamp int64, coordinator_epoch int32,
 * current_txn_start_offset int64]]], tagged fields after each struct.
 *
 * Output: a header line "PARTITION PRODUCER_ID EPOCH LAST_SEQUENCE
 * LAST_TIMESTAMP COORDINATOR_EPOCH TXN_START_OFFSET", then one row per
 * producer (partitions in order, producers by id; -1 is printed as -1: no
 * transaction marker seen yet / no open transaction); a partition whose
 * leader cannot be asked or answers an error prints "PARTITION error:
 * REASON". Exit status 1 on any such partition.
 * --output json: {"topic", "partitions": [{"partition", "error": str|null,
 * "producers": [{"producer_id", "epoch", "last_sequence", "last_timestamp",
 * "coordinator_epoch", "txn_start_offset"}]}]}.
 */
#include "cli/cli.h"
#include "cli/group_plan.h"
#include "cli/kraw.h"

#include <stdarg.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/kwire.h"

#define TP_TIMEOUT_MS 10000

struct tp_row {
    int64_t pid, ts, txn_start;
    int32_t epoch, seq, coord_epoch;
};

/* Where the rows go: text lines, or the JSON partitions array. */
struct tp_out {
    bool json;
    int shown; /* partitions printed (JSON commas) */
};

/* Prints one partition's error (text line, or a JSON object). */
static void tp_error(struct tp_out *o, int32_t partition, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void tp_error(struct tp_out *o, int32_t partition, const char *fmt, ...)
{
    char why[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    if (!o->json) {
        printf("%-9" PRId32 " error: %s\n", partition, why);
        return;
    }
    printf("%s{\"partition\": %" PRId32 ", \"error\": ", o->shown++ ? ", " : "", partition);
    gp_json_str(stdout, why);
    fputs(", \"producers\": []}", stdout);
}

static int tp_cmp(const void *a, const void *b)
{
    const struct tp_row *x = a, *y = b;
    return (x->pid > y->pid) - (x->pid < y->pid);
}

/* Decodes the answer for one partition; prints it. false if malformed. */
static bool tp_print(struct tp_out *o, const uint8_t *p, size_t len, int32_t partition,
                     bool *failed)
{
    struct kslice s;
    struct tp_row *rows = NULL;
    int32_t n = 0;
    bool ok = false;

    kslice_init(&s, p, len);
    (void)kslice_i32(&s); /* throttle */
    if (kw_get_array_len(&s, true, 2) != 1)
        return false;
    (void)kw_get_str(&s, true);
    if (kw_get_array_len(&s, true, 8) != 1)
        return false;
    (void)kslice_i32(&s);
    int16_t err = kslice_i16(&s);
    struct kstr msg = kw_get_str(&s, true);
    n = kw_get_array_len(&s, true, 28);
    if (!kslice_ok(&s) || n < 0 || (n > 0 && !(rows = calloc((size_t)n, sizeof(*rows)))))
        return false;
    for (int32_t i = 0; i < n; i++) {
        rows[i].pid = kslice_i64(&s);
        rows[i].epoch = kslice_i32(&s);
        rows[i].seq = kslice_i32(&s);
        rows[i].ts = kslice_i64(&s);
        rows[i].coord_epoch = kslice_i32(&s);
        rows[i].txn_start = kslice_i64(&s);
        kw_skip_tags(&s, true);
    }
    if (kslice_ok(&s)) {
        ok = true;
        if (err != 0) {
            tp_error(o, partition, "%s%s%.*s", kerr_name((kerr_t)err), msg.ptr ? ": " : "",
                     msg.ptr ? (int)msg.len : 0, msg.ptr ? msg.ptr : "");
            *failed = true;
        }
        if (n > 1)
            qsort(rows, (size_t)n, sizeof(*rows), tp_cmp);
        if (o->json && err == 0)
            printf("%s{\"partition\": %" PRId32 ", \"error\": null, \"producers\": [",
                   o->shown++ ? ", " : "", partition);
        for (int32_t i = 0; i < n && !(o->json && err != 0); i++) {
            if (o->json)
                printf("%s{\"producer_id\": %" PRId64 ", \"epoch\": %" PRId32
                       ", \"last_sequence\": %" PRId32 ", \"last_timestamp\": %" PRId64
                       ", \"coordinator_epoch\": %" PRId32 ", \"txn_start_offset\": %" PRId64 "}",
                       i ? ", " : "", rows[i].pid, rows[i].epoch, rows[i].seq, rows[i].ts,
                       rows[i].coord_epoch, rows[i].txn_start);
            else
                printf("%-9" PRId32 " %-19" PRId64 " %-5" PRId32 " %-13" PRId32 " %-14" PRId64
                       " %-17" PRId32 " %" PRId64 "\n",
                       partition, rows[i].pid, rows[i].epoch, rows[i].seq, rows[i].ts,
                       rows[i].coord_epoch, rows[i].txn_start);
        }
        if (o->json && err == 0)
            fputs("]}", stdout);
    }
    free(rows);
    return ok;
}

/* Asks the leader of one partition. */
static void tp_partition(struct tp_out *o, const struct rd_kafka_metadata *md, const char *topic,
                         int32_t partition, int32_t leader, bool *failed)
{
    const struct rd_kafka_metadata_broker *b = leader >= 0 ? cli_md_broker(md, leader) : NULL;
    struct kraw k;
    struct kbuf body;
    uint8_t *resp = NULL;
    size_t len = 0;
    int16_t max = -1;

    if (!b) {
        tp_error(o, partition, "no live leader");
        *failed = true;
        return;
    }
    kbuf_init(&body);
    int krc = kraw_connect(&k, b->host, b->port, TP_TIMEOUT_MS);
    if (krc == KRAW_OK)
        krc = kraw_api_max_version(&k, API_DESCRIBE_PRODUCERS, &max);
    if (krc == KRAW_OK && max >= 0) {
        kw_put_array_len(&body, true, 1);
        kw_put_str(&body, true, topic);
        kw_put_array_len(&body, true, 1);
        kbuf_put_i32(&body, partition);
        kw_put_tags(&body, true);
        kw_put_tags(&body, true);
        krc = kraw_call(&k, API_DESCRIBE_PRODUCERS, 0, &body, &resp, &len);
    }
    if (krc != KRAW_OK) {
        tp_error(o, partition, "broker %d: %s", b->id, k.reason);
        *failed = true;
    } else if (max < 0) {
        tp_error(o, partition, "broker %d does not support DescribeProducers", b->id);
        *failed = true;
    } else if (!tp_print(o, resp, len, partition, failed)) {
        tp_error(o, partition, "malformed DescribeProducers response from broker %d", b->id);
        *failed = true;
    }
    free(resp);
    kbuf_destroy(&body);
    kraw_close(&k);
}

static const struct cli_opt tp_opts[] = {
    {"partition", 'p', true, 1},
    {"output", 'o', true, 2},
    {NULL, 0, false, 0},
};

static const char tp_help[] =
    "Usage: gregor topic producers TOPIC [-p N]... [--output text|json]\n"
    "Lists the idempotent producers each partition's leader knows (Kafka's\n"
    "DescribeProducers): producer id, epoch, last sequence, the timestamp of its\n"
    "last batch, the coordinator epoch of its last transaction marker and the\n"
    "first offset of its open transaction (-1: none).\n"
    "  -p, --partition N   only this partition (repeatable)\n"
    "  -o, --output json   one JSON object (shape in docs/cli.md)\n"
    "Exit status 1 if a partition's leader could not be asked or answered an error.\n";

struct tp_args {
    int64_t parts[64];
    int n;
    bool json;
};

static int tp_opt(void *ctx, int id, const char *val)
{
    struct tp_args *a = ctx;
    if (id == 2)
        return cli_parse_output(val, &a->json);
    if (a->n >= (int)(sizeof(a->parts) / sizeof(a->parts[0])))
        return cli_usage_error("--partition: at most 64");
    if (!cli_parse_int(val, 0, INT32_MAX, &a->parts[a->n]))
        return cli_usage_error("--partition: expected a partition >= 0, got '%s'", val);
    a->n++;
    return CLI_OK;
}

int topic_producers(struct cli *cli, int argc, char **argv)
{
    struct tp_args a = {.n = 0};
    const struct rd_kafka_metadata *md = NULL;
    int done, npos = cli_parse_cmd(cli, argc, argv, tp_opts, tp_opt, &a, tp_help, &done);
    if (npos < 0)
        return done;
    if (npos != 1)
        return cli_usage_positional(cli, npos == 0 ? "missing TOPIC" : "one TOPIC only");
    rd_kafka_t *rk;
    int rc = cli_cluster_metadata(cli, &rk, &md);
    if (rc != CLI_OK)
        return rc;
    const struct rd_kafka_metadata_topic *t = cli_md_topic(md, argv[0]);
    if (!t || t->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rc = cli_fail("topic %s: %s", argv[0], t ? rd_kafka_err2str(t->err) : "no such topic");
    } else {
        bool failed = false;
        for (int i = 0; i < a.n; i++)
            if (a.parts[i] >= t->partition_cnt)
                failed = true;
        if (failed) {
            rc = cli_fail("topic %s has %d partitions", argv[0], t->partition_cnt);
        } else {
            struct tp_out o = {a.json, 0};
            if (a.json) {
                fputs("{\"topic\": ", stdout);
                gp_json_str(stdout, argv[0]);
                fputs(", \"partitions\": [", stdout);
            } else {
                printf("%-9s %-19s %-5s %-13s %-14s %-17s %s\n", "PARTITION", "PRODUCER_ID",
                       "EPOCH", "LAST_SEQUENCE", "LAST_TIMESTAMP", "COORDINATOR_EPOCH",
                       "TXN_START_OFFSET");
            }
            for (int p = 0; p < t->partition_cnt; p++) {
                bool want = a.n == 0;
                for (int i = 0; i < a.n; i++)
                    want |= a.parts[i] == p;
                for (int j = 0; want && j < t->partition_cnt; j++)
                    if (t->partitions[j].id == p)
                        tp_partition(&o, md, argv[0], p, t->partitions[j].leader, &failed);
            }
            if (a.json)
                fputs("]}\n", stdout);
            fflush(stdout);
            rc = failed ? cli_fail("some partitions could not be described") : CLI_OK;
        }
    }
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return rc;
}
