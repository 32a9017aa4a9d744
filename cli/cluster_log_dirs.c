/*
 * cli/cluster_log_dirs.c — `gregor cluster log-dirs [--broker ID]`: each
 * broker's log directories with their space and the size and offset lag of
 * every replica in them, through Kafka's DescribeLogDirs request (API key
 * 35), sent to every live broker (or the one named) with the raw client
 * (kraw.h): librdkafka 2.0.2 has no DescribeLogDirs. The broker list comes
 * from librdkafka's metadata.
 *
 * Wire format (Kafka's DescribeLogDirsRequest/Response schemas; v2+
 * flexible): request topics ARRAY, null = every replica. Response:
 * throttle_time_ms INT32, [error_code INT16 (v3+)], results ARRAY of
 * {error_code INT16, log_dir STRING, topics ARRAY of {name STRING,
 * partitions ARRAY of {partition_index INT32, partition_size INT64,
 * offset_lag INT64, is_future_key BOOL}}, [total_bytes INT64,
 * usable_bytes INT64 (v4+)]}. The version sent is the highest of 0..4 the
 * broker lists in ApiVersions.
 *
 * Text output, per broker (sorted by id):
 *   Broker <id> (<host>:<port>)
 *     <path>  total <bytes|unknown>  usable <bytes|unknown>  [ERROR_NAME]
 *       TOPIC  PARTITION  SIZE  OFFSET_LAG     (header, then one row each)
 * A broker that cannot be asked prints "  error: <reason>" instead.
 * --output json: one object {"brokers": [{"id", "host", "port", "error":
 * str|null, "log_dirs": [{"path", "error": str|null, "total_bytes": int|null,
 * "usable_bytes": int|null, "partitions": [{"topic", "partition", "size",
 * "offset_lag", "is_future": bool}]}]}]}.
 * Exit status 1 if a broker could not be asked or a log dir has an error.
 */
#include "cli/cli.h"
#include "cli/group_plan.h"
#include "cli/kraw.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/kwire.h"

#define LD_MAX_VERSION 4
#define LD_TIMEOUT_MS 10000

enum { LD_BROKER = 1, LD_OUTPUT, LD_JSON };

static const struct cli_opt ld_opts[] = {
    {"broker", 'b', true, LD_BROKER},
    {"output", 'o', true, LD_OUTPUT},
    {"json", 'j', false, LD_JSON},
    {NULL, 0, false, 0},
};

static const char ld_help[] =
    "Usage: gregor cluster log-dirs [--broker ID] [--output text|json]\n"
    "Asks each live broker (or only broker ID) for its log directories\n"
    "(Kafka's DescribeLogDirs) and prints per directory its path, total and\n"
    "usable bytes, and per partition replica its size on disk and offset lag\n"
    "(on a follower: how far its log end is behind the leader's high\n"
    "watermark; 0 on the leader). A directory that is gone or not writable\n"
    "shows KAFKA_STORAGE_ERROR.\n"
    "  -b, --broker ID     only this broker\n"
    "  -o, --output FMT    text (default) or json (one object)\n"
    "  -j, --json          the same as --output json\n"
    "Exit status 1 if a broker could not be asked or a directory has an error.\n";

struct ld_args {
    int64_t broker; /* -1: every broker */
    bool json;
};

static int ld_opt(void *ctx, int id, const char *val)
{
    struct ld_args *a = ctx;
    switch (id) {
    case LD_BROKER:
        if (!cli_parse_int(val, 0, INT32_MAX, &a->broker))
            return cli_usage_error("--broker: expected a broker id >= 0, got '%s'", val);
        return CLI_OK;
    case LD_OUTPUT:
        if (strcmp(val, "json") == 0)
            a->json = true;
        else if (strcmp(val, "text") == 0)
            a->json = false;
        else
            return cli_usage_error("--output: expected text or json, got '%s'", val);
        return CLI_OK;
    case LD_JSON:
        a->json = true;
        return CLI_OK;
    }
    return CLI_USAGE;
}

/* Prints one response body (already checked to be of `version`); returns
 * false if malformed. *dir_errors counts directories with an error. With
 * json the log_dirs array is printed, else the text lines. */
static bool ld_print(const uint8_t *p, size_t len, int16_t version, bool json, int *dir_errors)
{
    bool flex = api_is_flexible(API_DESCRIBE_LOG_DIRS, version);
    struct kslice s;
    kslice_init(&s, p, len);
    (void)kslice_i32(&s); /* throttle_time_ms */
    int16_t top = version >= 3 ? kslice_i16(&s) : 0;
    int32_t nd = kw_get_array_len(&s, flex, 4);
    if (!kslice_ok(&s))
        return false;
    if (top != 0) {
        (*dir_errors)++;
        if (!json)
            printf("  error: %s\n", rd_kafka_err2name((rd_kafka_resp_err_t)top));
    }
    if (json)
        fputs("[", stdout);
    for (int32_t d = 0; d < nd && kslice_ok(&s); d++) {
        int16_t err = kslice_i16(&s);
        struct kstr path = kw_get_str(&s, flex);
        char pathz[4096];
        if (!kstr_copy(path, pathz, sizeof(pathz)))
            snprintf(pathz, sizeof(pathz), "?");
        if (err != 0)
            (*dir_errors)++;
        const char *ename = err ? rd_kafka_err2name((rd_kafka_resp_err_t)err) : NULL;
        /* The sizes follow the topics on the wire: print the partitions
         * into a buffer first. */
        char *rows = NULL;
        size_t rows_len = 0;
        FILE *rf = open_memstream(&rows, &rows_len);
        if (!rf)
            return false;
        int nrows = 0;
        int32_t nt = kw_get_array_len(&s, flex, 3);
        for (int32_t t = 0; t < nt && kslice_ok(&s); t++) {
            struct kstr name = kw_get_str(&s, flex);
            char namez[256];
            if (!kstr_copy(name, namez, sizeof(namez)))
                snprintf(namez, sizeof(namez), "?");
            int32_t np = kw_get_array_len(&s, flex, 21);
            for (int32_t i = 0; i < np && kslice_ok(&s); i++) {
                int32_t part = kslice_i32(&s);
                int64_t size = kslice_i64(&s);
                int64_t lag = kslice_i64(&s);
                bool future = kslice_u8(&s) != 0;
                kw_skip_tags(&s, flex);
                if (json) {
                    fprintf(rf, "%s{\"topic\": ", nrows ? ", " : "");
                    gp_json_str(rf, namez);
                    fprintf(rf,
                            ", \"partition\": %d, \"size\": %" PRId64 ", \"offset_lag\": %" PRId64
                            ", \"is_future\": %s}",
                            part, size, lag, future ? "true" : "false");
                } else {
                    fprintf(rf, "      %-30s %9d %14" PRId64 " %10" PRId64 "%s\n", namez, part,
                            size, lag, future ? "  (future)" : "");
                }
                nrows++;
            }
            kw_skip_tags(&s, flex);
        }
        int64_t total = -1, usable = -1;
        if (version >= 4) {
            total = kslice_i64(&s);
            usable = kslice_i64(&s);
        }
        kw_skip_tags(&s, flex);
        fclose(rf);
        if (json) {
            printf("%s{\"path\": ", d ? ", " : "");
            gp_json_str(stdout, pathz);
            fputs(", \"error\": ", stdout);
            gp_json_str(stdout, ename);
            if (total >= 0)
                printf(", \"total_bytes\": %" PRId64, total);
            else
                fputs(", \"total_bytes\": null", stdout);
            if (usable >= 0)
                printf(", \"usable_bytes\": %" PRId64, usable);
            else
                fputs(", \"usable_bytes\": null", stdout);
            printf(", \"partitions\": [%s]}", rows ? rows : "");
        } else {
            printf("  %s", pathz);
            if (total >= 0)
                printf("  total %" PRId64, total);
            else
                printf("  total unknown");
            if (usable >= 0)
                printf("  usable %" PRId64, usable);
            else
                printf("  usable unknown");
            printf("%s%s\n", ename ? "  " : "", ename ? ename : "");
            if (nrows > 0)
                printf("      %-30s %9s %14s %10s\n%s", "TOPIC", "PARTITION", "SIZE", "OFFSET_LAG",
                       rows);
        }
        free(rows);
    }
    if (json)
        fputs("]", stdout);
    kw_skip_tags(&s, flex);
    return kslice_ok(&s) && s.pos == s.len;
}

/* Asks one broker; prints its entry. Returns CLI_OK or CLI_FAIL. */
static int ld_broker(const struct rd_kafka_metadata_broker *b, bool json, bool first)
{
    struct kraw k;
    struct kbuf body;
    uint8_t *resp = NULL;
    size_t len = 0;
    int16_t max = -1;
    char why[600] = "";
    int dir_errors = 0;

    kbuf_init(&body);
    if (json) {
        printf("%s{\"id\": %d, \"host\": ", first ? "" : ", ", b->id);
        gp_json_str(stdout, b->host);
        printf(", \"port\": %d, ", b->port);
    } else {
        printf("Broker %d (%s:%d)\n", b->id, b->host, b->port);
    }
    int krc = kraw_connect(&k, b->host, b->port, LD_TIMEOUT_MS);
    if (krc == KRAW_OK)
        krc = kraw_api_max_version(&k, API_DESCRIBE_LOG_DIRS, &max);
    int16_t version = max < LD_MAX_VERSION ? max : LD_MAX_VERSION;
    if (krc != KRAW_OK) {
        snprintf(why, sizeof(why), "%s", k.reason);
    } else if (max < 0) {
        snprintf(why, sizeof(why), "the broker does not support DescribeLogDirs");
    } else {
        kw_put_array_len(&body, api_is_flexible(API_DESCRIBE_LOG_DIRS, version), -1);
        kw_put_tags(&body, api_is_flexible(API_DESCRIBE_LOG_DIRS, version));
        krc = kraw_call(&k, API_DESCRIBE_LOG_DIRS, version, &body, &resp, &len);
        if (krc != KRAW_OK)
            snprintf(why, sizeof(why), "DescribeLogDirs failed: %s", k.reason);
    }
    if (!why[0]) {
        if (json)
            fputs("\"error\": null, \"log_dirs\": ", stdout);
        if (!ld_print(resp, len, version, json, &dir_errors)) {
            snprintf(why, sizeof(why), "malformed DescribeLogDirs v%d response", version);
            if (json)
                fputs("[], \"malformed\": true", stdout);
        }
    } else if (json) {
        fputs("\"error\": ", stdout);
        gp_json_str(stdout, why);
        fputs(", \"log_dirs\": []", stdout);
    }
    if (json)
        fputs("}", stdout);
    else if (why[0])
        printf("  error: %s\n", why);
    free(resp);
    kbuf_destroy(&body);
    kraw_close(&k);
    return why[0] || dir_errors ? CLI_FAIL : CLI_OK;
}

int cluster_log_dirs(struct cli *cli, int argc, char **argv)
{
    struct ld_args a = {-1, false};
    const struct rd_kafka_metadata *md = NULL;
    int done, npos = cli_parse_cmd(cli, argc, argv, ld_opts, ld_opt, &a, ld_help, &done);
    if (npos < 0)
        return done;
    if (npos > 0)
        return cli_usage_positional(cli, "unexpected argument");
    rd_kafka_t *rk;
    int rc = cli_cluster_metadata(cli, &rk, &md);
    if (rc != CLI_OK)
        return rc;
    int n = md->broker_cnt;
    int *order = calloc((size_t)n + 1, sizeof(int));
    if (!order) {
        rd_kafka_metadata_destroy(md);
        rd_kafka_destroy(rk);
        return cli_fail("out of memory");
    }
    for (int i = 0; i < n; i++) {
        int j = i;
        while (j > 0 && md->brokers[order[j - 1]].id > md->brokers[i].id) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    if (a.broker >= 0 && !cli_md_broker(md, (int32_t)a.broker)) {
        rc = cli_fail("broker %d is not a live broker of the cluster", (int)a.broker);
    } else {
        bool first = true, failed = false;
        if (a.json)
            fputs("{\"brokers\": [", stdout);
        for (int i = 0; i < n; i++) {
            const struct rd_kafka_metadata_broker *b = &md->brokers[order[i]];
            if (a.broker >= 0 && b->id != a.broker)
                continue;
            failed |= ld_broker(b, a.json, first) != CLI_OK;
            first = false;
        }
        if (a.json)
            fputs("]}\n", stdout);
        fflush(stdout);
        rc = failed ? cli_fail("some log directories could not be described") : CLI_OK;
    }
    free(order);
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return rc;
}
