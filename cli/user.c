/*
 * cli/user.c — `gregor user scram set | delete | list`: users' SCRAM credentials, as Kafka's
 * `kafka-configs.sh --alter --add-config 'SCRAM-SHA-256=[password=...]' --entity-type users`
 * and `kafka-configs.sh --describe --entity-type users` manage them, through Kafka's
 * AlterUserScramCredentials (API key 51) and DescribeUserScramCredentials (key 50), both v0 and
 * flexible (KIP-554), sent with the raw client (kraw.h): librdkafka 2.0.2 has neither.
 *
 * set salts and hashes the password here (32 random bytes of salt, PBKDF2-HMAC-SHA-256/512
 * with --iterations, default 4096) and sends only the salt and the salted password; the
 * password never leaves this process. delete without --mechanism removes every mechanism the
 * user has. The request goes to the broker that answered the cluster metadata.
 *
 * Wire formats (v0): Alter request deletions [name, mechanism int8], upsertions [name,
 * mechanism int8, iterations int32, salt bytes, salted_password bytes]; response
 * throttle_time_ms, results [user, error_code, error_message]. Describe request users [name]
 * (null: all); response throttle_time_ms, error_code, error_message, results [user,
 * error_code, error_message, credential_infos [mechanism int8, iterations int32]]. Compact
 * strings, bytes and arrays, tagged fields after every struct. Mechanisms: 1 SCRAM-SHA-256,
 * 2 SCRAM-SHA-512.
 *
 * Output: set / delete print "user NAME: MECHANISM set|deleted"; list prints "USER MECHANISM
 * ITERATIONS" rows sorted by user; list --output json: {"credentials": [{"user",
 * "mechanism", "iterations"}]}. Exit status 1 on a broker error, 2 for bad usage.
 *
 * Threads: main thread only.
 */
#include "cli/cli.h"
#include "cli/group_plan.h"
#include "cli/kraw.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base.h"
#include "common/err.h"
#include "common/kwire.h"

#define USER_TIMEOUT_MS 15000
#define USER_SALT_BYTES 32

static const char *const mech_names[] = {"UNKNOWN", "SCRAM-SHA-256", "SCRAM-SHA-512"};

static const char user_set_help[] =
    "Usage: gregor user scram set NAME --password PASSWORD [--mechanism M] [--iterations N]\n"
    "\n"
    "Creates or replaces NAME's SCRAM credential. Only a salt and the salted password\n"
    "are sent; every broker accepts the new password within a second.\n"
    "\n"
    "Options:\n"
    "  --password PASSWORD  the password (required)\n"
    "  --mechanism M        SCRAM-SHA-256 (default) or SCRAM-SHA-512\n"
    "  --iterations N       PBKDF2 iterations, 4096 (default) to 16384\n";

static const char user_delete_help[] =
    "Usage: gregor user scram delete NAME [--mechanism M]\n"
    "\n"
    "Removes NAME's SCRAM credential for mechanism M, or for every mechanism.\n";

static const char user_list_help[] =
    "Usage: gregor user scram list [NAME...] [--output text|json]\n"
    "\n"
    "Lists users with SCRAM credentials: USER MECHANISM ITERATIONS.\n"
    "  -o, --output json   one JSON object: {\"credentials\": [{\"user\", \"mechanism\",\n"
    "                      \"iterations\"}]}\n";

static const char user_scram_help[] = "Usage: gregor user scram <set|delete|list> ...\n";
static const char user_help[] = "Usage: gregor user scram <set|delete|list> ...\n"
                                "\n"
                                "Manages users' SCRAM credentials (SCRAM-SHA-256, "
                                "SCRAM-SHA-512).\n";

static int parse_mech(const char *v, int8_t *out)
{
    for (int8_t m = 1; m <= 2; m++) {
        if (strcasecmp(v, mech_names[m]) == 0) {
            *out = m;
            return CLI_OK;
        }
    }
    return cli_usage_error("--mechanism: expected SCRAM-SHA-256 or SCRAM-SHA-512, got '%s'", v);
}

/* Connects to the broker that answered the cluster metadata. */
static int user_connect(struct cli *cli, struct kraw *k)
{
    rd_kafka_t *rk;
    const struct rd_kafka_metadata *md;
    int rc = cli_cluster_metadata(cli, &rk, &md);
    if (rc != CLI_OK)
        return rc;
    const struct rd_kafka_metadata_broker *b = cli_md_broker(md, md->orig_broker_id);
    if (!b && md->broker_cnt > 0)
        b = &md->brokers[0];
    char host[256] = "";
    int port = 0;
    if (b) {
        snprintf(host, sizeof(host), "%s", b->host);
        port = b->port;
    }
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    if (!b)
        return cli_fail("no broker in the cluster metadata");
    if (kraw_connect(k, host, port, USER_TIMEOUT_MS) != KRAW_OK)
        return cli_fail("%s", k->reason);
    return CLI_OK;
}

/* Sends an AlterUserScramCredentials body; prints the user's result. */
static int user_alter(struct cli *cli, const struct kbuf *body, const char *what)
{
    struct kraw k;
    int rc = user_connect(cli, &k);
    if (rc != CLI_OK)
        return rc;
    uint8_t *resp = NULL;
    size_t len = 0;
    if (kraw_call(&k, API_ALTER_USER_SCRAM_CREDENTIALS, 0, body, &resp, &len) != KRAW_OK) {
        rc = cli_fail("AlterUserScramCredentials: %s", k.reason);
        kraw_close(&k);
        return rc;
    }
    kraw_close(&k);
    struct kslice s;
    kslice_init(&s, resp, len);
    (void)kslice_i32(&s); /* throttle_time_ms */
    int32_t n = kw_get_array_len(&s, true, 4);
    rc = CLI_OK;
    for (int32_t i = 0; i < n && kslice_ok(&s); i++) {
        struct kstr user = kw_get_str(&s, true);
        int16_t err = kslice_i16(&s);
        struct kstr msg = kw_get_str(&s, true);
        kw_skip_tags(&s, true);
        if (!kslice_ok(&s))
            break;
        if (err != KERR_NONE)
            rc = cli_fail("user %.*s: %s%s%.*s", (int)user.len, user.ptr, kerr_name(err),
                          msg.ptr ? ": " : "", msg.ptr ? (int)msg.len : 0, msg.ptr ? msg.ptr : "");
        else
            printf("user %.*s: %s\n", (int)user.len, user.ptr, what);
    }
    if (!kslice_ok(&s))
        rc = cli_fail("malformed AlterUserScramCredentials response");
    free(resp);
    return rc;
}

struct set_args {
    const char *password;
    int8_t mech;
    int64_t iterations;
};

enum { US_PASSWORD = 1, US_MECH, US_ITER };

static int set_opt(void *ctx, int id, const char *val)
{
    struct set_args *a = ctx;
    if (id == US_PASSWORD) {
        a->password = val;
        return CLI_OK;
    }
    if (id == US_MECH)
        return parse_mech(val, &a->mech);
    if (!cli_parse_int(val, 4096, 16384, &a->iterations))
        return cli_usage_error("--iterations: expected 4096 to 16384, got '%s'", val);
    return CLI_OK;
}

static int user_set(struct cli *cli, int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"password", 0, true, US_PASSWORD},
        {"mechanism", 0, true, US_MECH},
        {"iterations", 0, true, US_ITER},
        {NULL, 0, false, 0},
    };
    struct set_args a = {NULL, 1, 4096};
    int done, npos = cli_parse_cmd(cli, argc, argv, opts, set_opt, &a, user_set_help, &done);
    if (npos < 0)
        return done;
    if (npos != 1)
        return cli_usage_positional(cli, npos == 0 ? "missing NAME" : "one NAME only");
    if (!argv[0][0])
        return cli_usage_error("the user name is empty");
    if (!a.password || !a.password[0])
        return cli_usage_error("--password is required and not empty");
    uint8_t salt[USER_SALT_BYTES], salted[64];
    const EVP_MD *md = a.mech == 2 ? EVP_sha512() : EVP_sha256();
    int klen = a.mech == 2 ? 64 : 32;
    if (RAND_bytes(salt, sizeof(salt)) != 1 ||
        PKCS5_PBKDF2_HMAC(a.password, (int)strlen(a.password), salt, sizeof(salt),
                          (int)a.iterations, md, klen, salted) != 1)
        return cli_fail("cannot salt the password (OpenSSL)");
    struct kbuf body;
    kbuf_init(&body);
    kw_put_array_len(&body, true, 0); /* deletions */
    kw_put_array_len(&body, true, 1); /* upsertions */
    kw_put_str(&body, true, argv[0]);
    kbuf_put_u8(&body, (uint8_t)a.mech);
    kbuf_put_i32(&body, (int32_t)a.iterations);
    kw_put_bytes(&body, true, salt, sizeof(salt));
    kw_put_bytes(&body, true, salted, klen);
    kw_put_tags(&body, true);
    kw_put_tags(&body, true);
    char what[64];
    snprintf(what, sizeof(what), "%s set", mech_names[a.mech]);
    int rc = user_alter(cli, &body, what);
    OPENSSL_cleanse(salted, sizeof(salted));
    OPENSSL_cleanse(body.data, body.len);
    kbuf_destroy(&body);
    return rc;
}

/* One user's credentials from a Describe answer. */
struct user_row {
    char name[256];
    int16_t err;
    int n;
    int8_t mech[4];
    int32_t iterations[4];
};

/* DescribeUserScramCredentials for names[0..n) (n < 0: every user). */
static int user_describe(struct cli *cli, char **names, int n, struct user_row **rows, int *nrows)
{
    *rows = NULL;
    *nrows = 0;
    struct kraw k;
    int rc = user_connect(cli, &k);
    if (rc != CLI_OK)
        return rc;
    struct kbuf body;
    kbuf_init(&body);
    kw_put_array_len(&body, true, n);
    for (int i = 0; i < n; i++) {
        kw_put_str(&body, true, names[i]);
        kw_put_tags(&body, true);
    }
    kw_put_tags(&body, true);
    uint8_t *resp = NULL;
    size_t len = 0;
    int krc = kraw_call(&k, API_DESCRIBE_USER_SCRAM_CREDENTIALS, 0, &body, &resp, &len);
    kbuf_destroy(&body);
    if (krc != KRAW_OK) {
        rc = cli_fail("DescribeUserScramCredentials: %s", k.reason);
        kraw_close(&k);
        return rc;
    }
    kraw_close(&k);
    struct kslice s;
    kslice_init(&s, resp, len);
    (void)kslice_i32(&s);
    int16_t top = kslice_i16(&s);
    (void)kw_get_str(&s, true);
    int32_t nr = kw_get_array_len(&s, true, 5);
    struct user_row *v = calloc((size_t)(nr > 0 ? nr : 1), sizeof(*v));
    if (!v) {
        free(resp);
        return cli_fail("out of memory");
    }
    for (int32_t i = 0; i < nr && kslice_ok(&s); i++) {
        struct kstr user = kw_get_str(&s, true);
        v[i].err = kslice_i16(&s);
        (void)kw_get_str(&s, true);
        int32_t nc = kw_get_array_len(&s, true, 6);
        for (int32_t j = 0; j < nc && kslice_ok(&s); j++) {
            int8_t m = (int8_t)kslice_u8(&s);
            int32_t it = kslice_i32(&s);
            kw_skip_tags(&s, true);
            if (v[i].n < 4) {
                v[i].mech[v[i].n] = m;
                v[i].iterations[v[i].n++] = it;
            }
        }
        kw_skip_tags(&s, true);
        if (!kstr_copy(user, v[i].name, sizeof(v[i].name)))
            v[i].name[0] = '\0';
        *nrows = i + 1;
    }
    free(resp);
    if (!kslice_ok(&s) || top != KERR_NONE) {
        free(v);
        *nrows = 0;
        return cli_fail("DescribeUserScramCredentials: %s",
                        top != KERR_NONE ? kerr_name(top) : "malformed response");
    }
    *rows = v;
    return CLI_OK;
}

static int del_opt(void *ctx, int id, const char *val)
{
    (void)id;
    return parse_mech(val, ctx);
}

static int user_delete(struct cli *cli, int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"mechanism", 0, true, US_MECH},
        {NULL, 0, false, 0},
    };
    int8_t mech = 0;
    int done, npos = cli_parse_cmd(cli, argc, argv, opts, del_opt, &mech, user_delete_help, &done);
    if (npos < 0)
        return done;
    if (npos != 1)
        return cli_usage_positional(cli, npos == 0 ? "missing NAME" : "one NAME only");
    int8_t mechs[2];
    int n = 0;
    if (mech) {
        mechs[n++] = mech;
    } else {
        struct user_row *rows;
        int nrows;
        int rc = user_describe(cli, argv, 1, &rows, &nrows);
        if (rc != CLI_OK)
            return rc;
        for (int j = 0; nrows == 1 && j < rows[0].n && n < 2; j++)
            if (rows[0].mech[j] == 1 || rows[0].mech[j] == 2)
                mechs[n++] = rows[0].mech[j];
        free(rows);
        if (n == 0)
            return cli_fail("user %s has no SCRAM credential", argv[0]);
    }
    struct kbuf body;
    kbuf_init(&body);
    kw_put_array_len(&body, true, n);
    for (int i = 0; i < n; i++) {
        kw_put_str(&body, true, argv[0]);
        kbuf_put_u8(&body, (uint8_t)mechs[i]);
        kw_put_tags(&body, true);
    }
    kw_put_array_len(&body, true, 0);
    kw_put_tags(&body, true);
    char what[64];
    snprintf(what, sizeof(what), "%s deleted",
             n == 1 ? mech_names[mechs[0]] : "SCRAM-SHA-256 and SCRAM-SHA-512");
    int rc = user_alter(cli, &body, what);
    kbuf_destroy(&body);
    return rc;
}

static int row_cmp(const void *a, const void *b)
{
    return strcmp(((const struct user_row *)a)->name, ((const struct user_row *)b)->name);
}

static int list_opt(void *ctx, int id, const char *val) { return cli_parse_output(val, ctx); }

static int user_list(struct cli *cli, int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"output", 'o', true, 1},
        {NULL, 0, false, 0},
    };
    bool json = false;
    int done, npos = cli_parse_cmd(cli, argc, argv, opts, list_opt, &json, user_list_help, &done);
    if (npos < 0)
        return done;
    struct user_row *rows;
    int nrows;
    int rc = user_describe(cli, argv, npos > 0 ? npos : -1, &rows, &nrows);
    if (rc != CLI_OK)
        return rc;
    qsort(rows, (size_t)nrows, sizeof(*rows), row_cmp);
    if (json)
        fputs("{\"credentials\": [", stdout);
    else
        printf("%-24s %-14s %s\n", "USER", "MECHANISM", "ITERATIONS");
    int shown = 0;
    for (int i = 0; i < nrows; i++) {
        if (rows[i].err != KERR_NONE) {
            rc = cli_fail("user %s: %s", rows[i].name, kerr_name(rows[i].err));
            continue;
        }
        for (int j = 0; j < rows[i].n; j++) {
            const char *mech =
                mech_names[rows[i].mech[j] >= 1 && rows[i].mech[j] <= 2 ? rows[i].mech[j] : 0];
            if (!json) {
                printf("%-24s %-14s %d\n", rows[i].name, mech, (int)rows[i].iterations[j]);
                continue;
            }
            printf("%s{\"user\": ", shown++ ? ", " : "");
            gp_json_str(stdout, rows[i].name);
            printf(", \"mechanism\": \"%s\", \"iterations\": %d}", mech,
                   (int)rows[i].iterations[j]);
        }
    }
    if (json)
        fputs("]}\n", stdout);
    free(rows);
    return rc;
}

static const struct cli_sub scram_subs[] = {
    {"set", "user scram set", user_set},
    {"delete", "user scram delete", user_delete},
    {"list", "user scram list", user_list},
};

static int user_scram(struct cli *cli, int argc, char **argv)
{
    return cli_run_sub(cli, argc, argv, scram_subs, ARRAY_LEN(scram_subs), user_scram_help);
}

static const struct cli_sub user_subs[] = {
    {"scram", "user scram", user_scram},
};

int user_main(struct cli *cli, int argc, char **argv)
{
    return cli_run_sub(cli, argc, argv, user_subs, ARRAY_LEN(user_subs), user_help);
}
