/*
 * cli/cluster_config.c — `gregor cluster config describe|set`: dynamic
 * broker configs (docs/configuration.md, "Dynamic broker configs"), like
 * kafka-configs.sh --entity-type brokers. librdkafka 2.0.2 has no
 * IncrementalAlterConfigs, so both go through the raw client (kraw.h):
 *
 *   describe [--broker ID | --default]
 *     DescribeConfigs v1 of BROKER resource ID (sent to broker ID) or ""
 *     (the cluster-wide default, sent to any broker). Output, one line per
 *     key, sorted as the broker lists them:
 *       KEY=VALUE<TAB>SOURCE<TAB>dynamic|read-only
 *     SOURCE is Kafka's name: DYNAMIC_BROKER_CONFIG,
 *     DYNAMIC_DEFAULT_BROKER_CONFIG, STATIC_BROKER_CONFIG, DEFAULT_CONFIG.
 *     With --default only the keys the default sets are listed; none
 *     prints "No cluster-wide dynamic broker configs.". Without --broker
 *     or --default: --default. --output json: {"broker": ID|null,
 *     "configs": [{"name", "value": str|null, "source", "read_only"}]}.
 *
 *   set [--broker ID | --default] [KEY=VALUE]... [--delete KEY]...
 *       [--validate-only]
 *     IncrementalAlterConfigs v0 (SET / DELETE) of that resource, sent to
 *     broker ID (or any broker for --default). Prints
 *       Updated dynamic config of broker ID: N change(s)
 *       Updated cluster-wide dynamic broker config: N change(s)
 *     With --validate-only: "Config of broker ID is valid (not updated): N
 *     change(s)" or "Cluster-wide dynamic broker config is valid (not
 *     updated): N change(s)".
 *
 * Wire (Kafka's schemas): DescribeConfigs v1 request: resources[type INT8,
 * name STRING, keys NULLABLE ARRAY], include_synonyms BOOL; response:
 * throttle INT32, results[error INT16, message NULLABLE_STRING, type INT8,
 * name STRING, configs[name STRING, value NULLABLE_STRING, read_only BOOL,
 * source INT8, sensitive BOOL, synonyms[name, value, source]]].
 * IncrementalAlterConfigs v0 request: resources[type INT8, name STRING,
 * configs[name STRING, op INT8, value NULLABLE_STRING]], validate_only
 * BOOL; response: throttle INT32, responses[error INT16, message
 * NULLABLE_STRING, type INT8, name STRING].
 * Errors: "gregor: ..." on stderr with the broker's error name and
 * message, exit 1; usage errors exit 2. Threads: main thread only.
 */
#include "cli/cli.h"
#include "cli/group_plan.h"
#include "cli/kraw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/kwire.h"

#define CC_TIMEOUT_MS 15000
#define CC_MAX_CHANGES 128
#define RES_BROKER 4

enum { CC_BROKER = 1, CC_DEFAULT, CC_DELETE, CC_VALIDATE, CC_OUTPUT };

static const struct cli_opt cc_opts[] = {
    {"broker", 0, true, CC_BROKER},   {"default", 0, false, CC_DEFAULT},
    {"delete", 'd', true, CC_DELETE}, {"validate-only", 0, false, CC_VALIDATE},
    {"output", 'o', true, CC_OUTPUT}, {NULL, 0, false, 0},
};

static const char cc_describe_help[] =
    "Usage: gregor cluster config describe [--broker ID | --default] [--output text|json]\n"
    "Shows the configuration of broker ID (every key: KEY=VALUE, where the\n"
    "value comes from, and whether it can be changed at run time), or the\n"
    "cluster-wide dynamic defaults (--default, the default).\n"
    "  -o, --output json   one JSON object: {\"broker\": ID|null, \"configs\": [{\"name\",\n"
    "                      \"value\": str|null, \"source\", \"read_only\": bool}]}\n";

static const char cc_set_help[] =
    "Usage: gregor cluster config set [--broker ID | --default] [KEY=VALUE]...\n"
    "                                 [--delete KEY]... [--validate-only]\n"
    "Changes dynamic broker configs without a restart: for broker ID, or for\n"
    "every broker (--default; a broker's own value wins over it). Only keys\n"
    "that are dynamic can be set (docs/configuration.md).\n"
    "  --broker ID       one broker's override\n"
    "  --default         the cluster-wide default\n"
    "  -d, --delete KEY  remove an override (repeatable)\n"
    "  --validate-only   check, change nothing\n";

struct cc_args {
    int64_t broker; /* -1: --default */
    bool have_broker, have_default, validate;
    bool json; /* describe --output json */
    const char *del[CC_MAX_CHANGES];
    int n_del;
};

static int cc_opt(void *ctx, int id, const char *val)
{
    struct cc_args *a = ctx;
    switch (id) {
    case CC_BROKER:
        if (!cli_parse_int(val, 0, INT32_MAX, &a->broker))
            return cli_usage_error("--broker: expected a broker id, got '%s'", val);
        a->have_broker = true;
        return CLI_OK;
    case CC_DEFAULT:
        a->have_default = true;
        return CLI_OK;
    case CC_DELETE:
        if (a->n_del >= CC_MAX_CHANGES)
            return cli_usage_error("too many --delete options (at most %d)", CC_MAX_CHANGES);
        a->del[a->n_del++] = val;
        return CLI_OK;
    case CC_VALIDATE:
        a->validate = true;
        return CLI_OK;
    case CC_OUTPUT:
        return cli_parse_output(val, &a->json);
    }
    return CLI_USAGE;
}

/* Connects k to broker a->broker, or to any live broker for --default. */
static int cc_connect(struct cli *cli, const struct cc_args *a, struct kraw *k)
{
    rd_kafka_t *rk;
    const struct rd_kafka_metadata *md;
    int rc = cli_cluster_metadata(cli, &rk, &md);
    if (rc != CLI_OK)
        return rc;
    const struct rd_kafka_metadata_broker *b = NULL;
    if (a->have_broker)
        b = cli_md_broker(md, (int32_t)a->broker);
    else if (md->broker_cnt > 0)
        b = &md->brokers[0];
    if (!b)
        rc = a->have_broker
                 ? cli_fail("broker %d is not a live broker of the cluster", (int)a->broker)
                 : cli_fail("the cluster lists no broker");
    else if (kraw_connect(k, b->host, b->port, CC_TIMEOUT_MS) != KRAW_OK)
        rc = cli_fail("%s", k->reason);
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return rc;
}

static const char *cc_source_name(int8_t s)
{
    switch (s) {
    case 1:
        return "DYNAMIC_TOPIC_CONFIG";
    case 2:
        return "DYNAMIC_BROKER_CONFIG";
    case 3:
        return "DYNAMIC_DEFAULT_BROKER_CONFIG";
    case 4:
        return "STATIC_BROKER_CONFIG";
    case 5:
        return "DEFAULT_CONFIG";
    }
    return "UNKNOWN";
}

/* Prints a DescribeConfigs v1 response body; returns the exit code. */
static int cc_print_describe(const uint8_t *p, size_t len, const struct cc_args *a)
{
    bool is_default = !a->have_broker;
    if (a->json) {
        fputs("{\"broker\": ", stdout);
        if (is_default)
            fputs("null", stdout);
        else
            printf("%d", (int)a->broker);
        fputs(", \"configs\": [", stdout);
    }
    struct kslice s;
    kslice_init(&s, p, len);
    (void)kslice_i32(&s);
    int32_t n = kw_get_array_len(&s, false, 1);
    int rc = CLI_OK, printed = 0;
    for (int32_t i = 0; i < n && kslice_ok(&s); i++) {
        int16_t err = kslice_i16(&s);
        struct kstr msg = kw_get_str(&s, false);
        (void)kslice_u8(&s);
        (void)kw_get_str(&s, false);
        int32_t nc = kw_get_array_len(&s, false, 5);
        if (kslice_ok(&s) && err != 0)
            rc =
                cli_fail("DescribeConfigs failed: %s%s%.*s",
                         rd_kafka_err2name((rd_kafka_resp_err_t)err), kstr_is_null(msg) ? "" : ": ",
                         kstr_is_null(msg) ? 0 : (int)msg.len, msg.ptr ? msg.ptr : "");
        for (int32_t c = 0; c < nc && kslice_ok(&s); c++) {
            struct kstr name = kw_get_str(&s, false), value = kw_get_str(&s, false);
            uint8_t ro = kslice_u8(&s);
            int8_t src = (int8_t)kslice_u8(&s);
            (void)kslice_u8(&s);
            int32_t ns = kw_get_array_len(&s, false, 5);
            for (int32_t k = 0; k < ns && kslice_ok(&s); k++) {
                (void)kw_get_str(&s, false);
                (void)kw_get_str(&s, false);
                (void)kslice_u8(&s);
            }
            if (!kslice_ok(&s))
                break;
            if (a->json) {
                char nz[256], vz[4096];
                printf("%s{\"name\": ", printed ? ", " : "");
                gp_json_str(stdout, kstr_copy(name, nz, sizeof(nz)) ? nz : "");
                fputs(", \"value\": ", stdout);
                gp_json_str(stdout,
                            !kstr_is_null(value) && kstr_copy(value, vz, sizeof(vz)) ? vz : NULL);
                printf(", \"source\": \"%s\", \"read_only\": %s}", cc_source_name(src),
                       ro ? "true" : "false");
            } else {
                printf("%.*s=%.*s\t%s\t%s\n", (int)name.len, name.ptr,
                       kstr_is_null(value) ? 0 : (int)value.len, value.ptr ? value.ptr : "",
                       cc_source_name(src), ro ? "read-only" : "dynamic");
            }
            printed++;
        }
    }
    if (a->json)
        fputs("]}\n", stdout);
    if (!kslice_ok(&s))
        return cli_fail("malformed DescribeConfigs response");
    if (rc == CLI_OK && is_default && printed == 0 && !a->json)
        printf("No cluster-wide dynamic broker configs.\n");
    return rc;
}

static int cc_describe(struct cli *cli, int argc, char **argv)
{
    struct cc_args a = {.broker = -1};
    int done, npos = cli_parse_cmd(cli, argc, argv, cc_opts, cc_opt, &a, cc_describe_help, &done);
    if (npos < 0)
        return done;
    if (npos > 0 || a.n_del > 0 || a.validate)
        return cli_usage_positional(cli, "unexpected argument");
    if (a.have_broker && a.have_default)
        return cli_usage_error("give either --broker or --default");
    struct kraw k;
    int rc = cc_connect(cli, &a, &k);
    if (rc != CLI_OK)
        return rc;
    char name[16] = "";
    if (a.have_broker)
        snprintf(name, sizeof(name), "%d", (int)a.broker);
    struct kbuf body;
    kbuf_init(&body);
    kw_put_array_len(&body, false, 1);
    kbuf_put_u8(&body, RES_BROKER);
    kw_put_str(&body, false, name);
    kw_put_array_len(&body, false, -1);
    kbuf_put_u8(&body, 0); /* include_synonyms */
    uint8_t *resp = NULL;
    size_t len = 0;
    int krc = kraw_call(&k, API_DESCRIBE_CONFIGS, 1, &body, &resp, &len);
    if (krc != KRAW_OK)
        rc = cli_fail("DescribeConfigs failed: %s", k.reason);
    else
        rc = cc_print_describe(resp, len, &a);
    free(resp);
    kbuf_destroy(&body);
    kraw_close(&k);
    return rc;
}

static int cc_set(struct cli *cli, int argc, char **argv)
{
    struct cc_args a = {.broker = -1};
    int done, npos = cli_parse_cmd(cli, argc, argv, cc_opts, cc_opt, &a, cc_set_help, &done);
    if (npos < 0)
        return done;
    if (a.json)
        return cli_usage_error("--output is for cluster config describe");
    if (a.have_broker && a.have_default)
        return cli_usage_error("give either --broker or --default");
    if (npos + a.n_del == 0)
        return cli_usage_positional(cli, "nothing to change: give KEY=VALUE or --delete KEY");
    if (npos > CC_MAX_CHANGES)
        return cli_usage_error("too many changes (at most %d)", CC_MAX_CHANGES);
    for (int i = 0; i < npos; i++) {
        const char *eq = strchr(argv[i], '=');
        if (!eq || eq == argv[i])
            return cli_usage_error("expected KEY=VALUE, got '%s'", argv[i]);
    }
    struct kraw k;
    int rc = cc_connect(cli, &a, &k);
    if (rc != CLI_OK)
        return rc;
    char name[16] = "";
    if (a.have_broker)
        snprintf(name, sizeof(name), "%d", (int)a.broker);
    struct kbuf body;
    kbuf_init(&body);
    kw_put_array_len(&body, false, 1);
    kbuf_put_u8(&body, RES_BROKER);
    kw_put_str(&body, false, name);
    kw_put_array_len(&body, false, npos + a.n_del);
    for (int i = 0; i < npos; i++) {
        const char *eq = strchr(argv[i], '=');
        kw_put_strn(&body, false, argv[i], (size_t)(eq - argv[i]));
        kbuf_put_u8(&body, 0); /* SET */
        kw_put_str(&body, false, eq + 1);
    }
    for (int i = 0; i < a.n_del; i++) {
        kw_put_str(&body, false, a.del[i]);
        kbuf_put_u8(&body, 1); /* DELETE */
        kw_put_nstr(&body, false, NULL);
    }
    kbuf_put_u8(&body, a.validate);
    uint8_t *resp = NULL;
    size_t len = 0;
    int krc = kraw_call(&k, API_INCREMENTAL_ALTER_CONFIGS, 0, &body, &resp, &len);
    if (krc != KRAW_OK) {
        rc = cli_fail("IncrementalAlterConfigs failed: %s", k.reason);
    } else {
        struct kslice s;
        kslice_init(&s, resp, len);
        (void)kslice_i32(&s);
        int32_t n = kw_get_array_len(&s, false, 1);
        int16_t err = n == 1 ? kslice_i16(&s) : -1;
        struct kstr msg = kw_get_str(&s, false);
        if (!kslice_ok(&s) || n != 1)
            rc = cli_fail("malformed IncrementalAlterConfigs response");
        else if (err != 0)
            rc = cli_fail("%s%s%.*s", rd_kafka_err2name((rd_kafka_resp_err_t)err),
                          kstr_is_null(msg) ? "" : ": ", kstr_is_null(msg) ? 0 : (int)msg.len,
                          msg.ptr ? msg.ptr : "");
        else if (a.have_broker && a.validate)
            printf("Config of broker %d is valid (not updated): %d change(s)\n", (int)a.broker,
                   npos + a.n_del);
        else if (a.have_broker)
            printf("Updated dynamic config of broker %d: %d change(s)\n", (int)a.broker,
                   npos + a.n_del);
        else if (a.validate)
            printf("Cluster-wide dynamic broker config is valid (not updated): %d change(s)\n",
                   npos + a.n_del);
        else
            printf("Updated cluster-wide dynamic broker config: %d change(s)\n", npos + a.n_del);
    }
    free(resp);
    kbuf_destroy(&body);
    kraw_close(&k);
    return rc;
}

static const char cc_help[] =
    "Usage: gregor cluster config <describe|set> [ARGS]\n"
    "  describe [--broker ID | --default]       a broker's config, or the\n"
    "                                           cluster-wide dynamic defaults\n"
    "  set [--broker ID | --default] KEY=VALUE... [--delete KEY]... [--validate-only]\n"
    "                                           change dynamic configs live\n"
    "Run 'gregor cluster config <subcommand> --help' for details.\n";

static const struct cli_sub cc_subs[] = {
    {"describe", "cluster config describe", cc_describe},
    {"set", "cluster config set", cc_set},
};

int cluster_config_main(struct cli *cli, int argc, char **argv)
{
    return cli_run_sub(cli, argc, argv, cc_subs, sizeof(cc_subs) / sizeof(cc_subs[0]), cc_help);
}
