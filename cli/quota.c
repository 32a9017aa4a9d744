/*
 * cli/quota.c — `gregor quota set|delete|list`: client quotas (docs/security.md
 * "Quotas") through AlterClientQuotas (key 49) and DescribeClientQuotas
 * (key 48), v0, sent with the raw client (kraw.h) to any live broker:
 * librdkafka 2.0.2 has no client-quota admin API.
 *
 * An entity is --user U and/or --client-id C; --default-user and
 * --default-client name the <default> entities (null names on the wire).
 *
 * list prints "ENTITY QUOTAS" then one line per entity: "user=alice
 * client-id=<default>" and "key=value" per quota. --output json: {"quotas":
 * [{"entity": {"user"|"client-id": str|null (null: <default>)}, "quotas":
 * {KEY: number}}]}.
 */
#include "cli/cli.h"
#include "cli/group_plan.h"
#include "cli/kraw.h"
#include "common/base.h"
#include "common/kwire.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUOTA_TIMEOUT_MS 10000

enum {
    Q_USER = 1,
    Q_CLIENT,
    Q_DEF_USER,
    Q_DEF_CLIENT,
    Q_PRODUCE,
    Q_FETCH,
    Q_REQUEST,
    Q_OUTPUT,
};

static const char *const q_keys[3] = {"producer_byte_rate", "consumer_byte_rate",
                                      "request_percentage"};

struct q_args {
    bool user, client;             /* the entity has this part */
    const char *user_name, *cname; /* NULL: the default */
    bool set[3];                   /* a value (set) or a key to delete (delete) */
    double val[3];
    bool deleting;
    bool json; /* list --output json */
};

static const struct cli_opt q_set_opts[] = {
    {"user", 0, true, Q_USER},
    {"client-id", 0, true, Q_CLIENT},
    {"default-user", 0, false, Q_DEF_USER},
    {"default-client", 0, false, Q_DEF_CLIENT},
    {"producer-byte-rate", 0, true, Q_PRODUCE},
    {"consumer-byte-rate", 0, true, Q_FETCH},
    {"request-percentage", 0, true, Q_REQUEST},
    {NULL, 0, false, 0},
};

static const struct cli_opt q_del_opts[] = {
    {"user", 0, true, Q_USER},
    {"client-id", 0, true, Q_CLIENT},
    {"default-user", 0, false, Q_DEF_USER},
    {"default-client", 0, false, Q_DEF_CLIENT},
    {"producer-byte-rate", 0, false, Q_PRODUCE},
    {"consumer-byte-rate", 0, false, Q_FETCH},
    {"request-percentage", 0, false, Q_REQUEST},
    {NULL, 0, false, 0},
};

static const struct cli_opt q_list_opts[] = {
    {"user", 0, true, Q_USER},
    {"client-id", 0, true, Q_CLIENT},
    {"default-user", 0, false, Q_DEF_USER},
    {"default-client", 0, false, Q_DEF_CLIENT},
    {"output", 'o', true, Q_OUTPUT},
    {NULL, 0, false, 0},
};

static const char q_help[] =
    "Usage: gregor quota set ENTITY [--producer-byte-rate N] [--consumer-byte-rate N]\n"
    "                               [--request-percentage P]\n"
    "       gregor quota delete ENTITY [--producer-byte-rate] [--consumer-byte-rate]\n"
    "                                  [--request-percentage]   (none named: all three)\n"
    "       gregor quota list [--user U | --default-user] [--client-id C | --default-client]\n"
    "                         [--output text|json]\n"
    "ENTITY is --user U, --client-id C, both, or --default-user / --default-client\n"
    "in place of either (Kafka's <default> entities). Byte rates are bytes/s per\n"
    "broker; the request percentage is the share of one request-handling thread.\n"
    "list shows every entity with a quota that matches the options given.\n";

static int q_opt(void *ctx, int id, const char *val)
{
    struct q_args *a = ctx;
    switch (id) {
    case Q_USER:
    case Q_DEF_USER:
        if (a->user)
            return cli_usage_error("one user per entity");
        a->user = true;
        a->user_name = val;
        return CLI_OK;
    case Q_CLIENT:
    case Q_DEF_CLIENT:
        if (a->client)
            return cli_usage_error("one client id per entity");
        a->client = true;
        a->cname = val;
        return CLI_OK;
    case Q_OUTPUT:
        return cli_parse_output(val, &a->json);
    default:
        break;
    }
    int k = id - Q_PRODUCE;
    if (k < 0 || k > 2)
        return CLI_USAGE;
    a->set[k] = true;
    if (a->deleting)
        return CLI_OK;
    char *end;
    double d = strtod(val, &end);
    if (end == val || *end || !(d >= 0) || isinf(d) || (k < 2 && d != floor(d)))
        return cli_usage_error("--%s: expected a non-negative %s, got '%s'",
                               q_set_opts[k + 4].lname, k < 2 ? "whole number" : "number", val);
    a->val[k] = d;
    return CLI_OK;
}

/* Connects to the first live broker the bootstrap server names. */
static int q_connect(struct cli *cli, struct kraw *k)
{
    rd_kafka_t *rk;
    const struct rd_kafka_metadata *md;
    int rc = cli_cluster_metadata(cli, &rk, &md);
    if (rc != CLI_OK)
        return rc;
    if (md->broker_cnt == 0)
        rc = cli_fail("the cluster lists no broker");
    else if (kraw_connect(k, md->brokers[0].host, md->brokers[0].port, QUOTA_TIMEOUT_MS) != KRAW_OK)
        rc = cli_fail("%s", k->reason);
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return rc;
}

static void put_f64(struct kbuf *b, double d)
{
    int64_t bits;
    memcpy(&bits, &d, sizeof(bits));
    kbuf_put_i64(b, bits);
}

static double get_f64(struct kslice *s)
{
    int64_t bits = kslice_i64(s);
    double d;
    memcpy(&d, &bits, sizeof(d));
    return d;
}

static int q_alter(struct cli *cli, int argc, char **argv, bool deleting)
{
    struct q_args a = {.deleting = deleting};
    int done, npos = cli_parse_cmd(cli, argc, argv, deleting ? q_del_opts : q_set_opts, q_opt, &a,
                                   q_help, &done);
    if (npos < 0)
        return done;
    if (npos > 0)
        return cli_usage_positional(cli, "no positional arguments");
    if (!a.user && !a.client)
        return cli_usage_error("name an entity: --user, --client-id, --default-user or "
                               "--default-client");
    int n_ops = 0;
    for (int k = 0; k < 3; k++)
        n_ops += a.set[k];
    if (n_ops == 0 && !deleting)
        return cli_usage_error("nothing to set: give --producer-byte-rate, "
                               "--consumer-byte-rate or --request-percentage");
    if (n_ops == 0)
        for (int k = 0; k < 3; k++)
            a.set[k] = true, n_ops++;
    struct kbuf b;
    kbuf_init(&b);
    kw_put_array_len(&b, false, 1);
    kw_put_array_len(&b, false, (int32_t)a.user + (int32_t)a.client);
    if (a.user) {
        kw_put_str(&b, false, "user");
        kw_put_nstr(&b, false, a.user_name);
    }
    if (a.client) {
        kw_put_str(&b, false, "client-id");
        kw_put_nstr(&b, false, a.cname);
    }
    kw_put_array_len(&b, false, n_ops);
    for (int k = 0; k < 3; k++) {
        if (!a.set[k])
            continue;
        kw_put_str(&b, false, q_keys[k]);
        put_f64(&b, deleting ? 0 : a.val[k]);
        kbuf_put_u8(&b, deleting ? 1 : 0);
    }
    kbuf_put_u8(&b, 0); /* validate_only */
    struct kraw k = {.fd = -1};
    int rc = q_connect(cli, &k);
    uint8_t *resp = NULL;
    size_t len = 0;
    if (rc == CLI_OK && kraw_call(&k, API_ALTER_CLIENT_QUOTAS, 0, &b, &resp, &len) != KRAW_OK)
        rc = cli_fail("AlterClientQuotas: %s", k.reason);
    if (rc == CLI_OK) {
        struct kslice s;
        kslice_init(&s, resp, len);
        (void)kslice_i32(&s);
        int32_t n = kw_get_array_len(&s, false, 2);
        int16_t err = n == 1 ? kslice_i16(&s) : -1;
        struct kstr msg = kw_get_str(&s, false);
        if (!kslice_ok(&s) || n != 1)
            rc = cli_fail("AlterClientQuotas: malformed response");
        else if (err != 0)
            rc = cli_fail("AlterClientQuotas: %.*s (error %d)", msg.ptr ? (int)msg.len : 0,
                          msg.ptr ? msg.ptr : "", err);
        else
            printf("%s quotas\n", deleting ? "deleted" : "set");
    }
    free(resp);
    kbuf_destroy(&b);
    kraw_close(&k);
    return rc;
}

static int q_set(struct cli *cli, int argc, char **argv) { return q_alter(cli, argc, argv, false); }

static int q_delete(struct cli *cli, int argc, char **argv)
{
    return q_alter(cli, argc, argv, true);
}

static int q_list(struct cli *cli, int argc, char **argv)
{
    struct q_args a = {.deleting = true};
    int done, npos = cli_parse_cmd(cli, argc, argv, q_list_opts, q_opt, &a, q_help, &done);
    if (npos < 0)
        return done;
    if (npos > 0)
        return cli_usage_positional(cli, "no positional arguments");
    struct kbuf b;
    kbuf_init(&b);
    /* with no option, two calls: any user (with or without a client id),
     * then client ids alone */
    bool any = !a.user && !a.client;
    kw_put_array_len(&b, false, (int32_t)a.user + (int32_t)a.client);
    if (a.user) {
        kw_put_str(&b, false, "user");
        kbuf_put_u8(&b, a.user_name ? 0 : 1);
        kw_put_nstr(&b, false, a.user_name);
    }
    if (a.client) {
        kw_put_str(&b, false, "client-id");
        kbuf_put_u8(&b, a.cname ? 0 : 1);
        kw_put_nstr(&b, false, a.cname);
    }
    kbuf_put_u8(&b, 0); /* strict */
    struct kraw k = {.fd = -1};
    int rc = q_connect(cli, &k);
    int shown = 0;
    if (a.json)
        fputs("{\"quotas\": [", stdout);
    else
        printf("%-40s %s\n", "ENTITY", "QUOTAS");
    for (int pass = 0; rc == CLI_OK && pass < (any ? 2 : 1); pass++) {
        if (any) {
            b.len = 0;
            kw_put_array_len(&b, false, 1);
            kw_put_str(&b, false, pass == 0 ? "user" : "client-id");
            kbuf_put_u8(&b, 2);
            kw_put_nstr(&b, false, NULL);
            kbuf_put_u8(&b, pass == 1); /* client ids alone the second time */
        }
        uint8_t *resp = NULL;
        size_t len = 0;
        if (kraw_call(&k, API_DESCRIBE_CLIENT_QUOTAS, 0, &b, &resp, &len) != KRAW_OK) {
            rc = cli_fail("DescribeClientQuotas: %s", k.reason);
            break;
        }
        struct kslice s;
        kslice_init(&s, resp, len);
        (void)kslice_i32(&s);
        int16_t err = kslice_i16(&s);
        (void)kw_get_str(&s, false);
        int32_t n = kw_get_array_len(&s, false, 8);
        if (err != 0)
            rc = cli_fail("DescribeClientQuotas: %s", rd_kafka_err2str(err));
        for (int32_t i = 0; rc == CLI_OK && i < n && kslice_ok(&s); i++) {
            char ent[600] = "";
            int32_t ne = kw_get_array_len(&s, false, 4);
            if (a.json)
                printf("%s{\"entity\": {", shown++ ? ", " : "");
            for (int32_t j = 0; j < ne && kslice_ok(&s); j++) {
                struct kstr t = kw_get_str(&s, false), nm = kw_get_str(&s, false);
                if (a.json) {
                    char tz[64], nz[512];
                    if (!kstr_copy(t, tz, sizeof(tz)))
                        tz[0] = '\0';
                    printf("%s", j ? ", " : "");
                    gp_json_str(stdout, tz);
                    fputs(": ", stdout);
                    gp_json_str(stdout, nm.ptr && kstr_copy(nm, nz, sizeof(nz)) ? nz : NULL);
                    continue;
                }
                size_t l = strlen(ent);
                snprintf(ent + l, sizeof(ent) - l, "%s%.*s=%.*s", l ? " " : "",
                         t.ptr ? (int)t.len : 0, t.ptr ? t.ptr : "", nm.ptr ? (int)nm.len : 9,
                         nm.ptr ? nm.ptr : "<default>");
            }
            if (a.json)
                fputs("}, \"quotas\": {", stdout);
            else
                printf("%-40s", ent);
            int32_t nv = kw_get_array_len(&s, false, 10);
            for (int32_t j = 0; j < nv && kslice_ok(&s); j++) {
                struct kstr key = kw_get_str(&s, false);
                double v = get_f64(&s);
                char kz[128];
                if (a.json && kstr_copy(key, kz, sizeof(kz))) {
                    printf("%s", j ? ", " : "");
                    gp_json_str(stdout, kz);
                    printf(": %.17g", v);
                } else if (!a.json) {
                    printf(" %.*s=%.17g", key.ptr ? (int)key.len : 0, key.ptr ? key.ptr : "", v);
                }
            }
            fputs(a.json ? "}}" : "\n", stdout);
        }
        if (rc == CLI_OK && !kslice_ok(&s))
            rc = cli_fail("DescribeClientQuotas: malformed response");
        free(resp);
    }
    if (a.json && rc == CLI_OK)
        fputs("]}\n", stdout);
    fflush(stdout);
    kbuf_destroy(&b);
    kraw_close(&k);
    return rc;
}

static const struct cli_sub q_subs[] = {
    {"set", "quota set", q_set},
    {"delete", "quota delete", q_delete},
    {"list", "quota list", q_list},
};

int quota_main(struct cli *cli, int argc, char **argv)
{
    return cli_run_sub(cli, argc, argv, q_subs, ARRAY_LEN(q_subs), q_help);
}
