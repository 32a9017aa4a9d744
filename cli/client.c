/*
 * cli/client.c — librdkafka set-up shared by the `gregor` commands:
 * building the configuration (bootstrap, -X properties, quiet logging),
 * creating clients, and the blocking waits (metadata, admin results) that
 * fail fast with one line when no broker can be reached, instead of
 * retrying silently until a long timeout as librdkafka would.
 *
 * Threads: the log callback runs on librdkafka's threads and only reads
 * cli->verbose (immutable after parsing). The error callback is served by
 * rd_kafka_poll()/rd_kafka_consumer_poll() on the main thread and writes
 * cli->all_down and cli->last_error.
 */
#include "cli/cli.h"
#include "cli/kraw.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/base.h"

#define CLI_METADATA_TIMEOUT_MS 15000
#define CLI_ADMIN_SLICE_MS 200

static int64_t cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* librdkafka's logs: silent unless -v. Any thread. */
static void cli_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    const struct cli *cli = rd_kafka_opaque(rk);
    if (cli == NULL || cli->verbose == 0)
        return;
    fprintf(stderr, "rdkafka: %d %s %s: %s\n", level, rd_kafka_name(rk), fac, buf);
}

/* Client-level errors: remembered for the failure message. Main thread. */
static void cli_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct cli *cli = opaque;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        cli->all_down = true;
    else
        snprintf(cli->last_error, sizeof(cli->last_error), "%s", reason);
    if (cli->verbose > 0)
        fprintf(stderr, "rdkafka: error %s: %s\n", rd_kafka_err2name(err), reason);
}

int cli_conf_set(rd_kafka_conf_t *conf, const char *what, const char *key, const char *val)
{
    char errstr[512];
    if (rd_kafka_conf_set(conf, key, val, errstr, sizeof(errstr)) == RD_KAFKA_CONF_OK)
        return CLI_OK;
    if (what)
        return cli_usage_error("%s %s: %s", what, val, errstr);
    return cli_usage_error("%s=%s: %s", key, val, errstr);
}

/* Applies the -X key=value properties in order. */
static int cli_conf_apply_props(struct cli *cli, rd_kafka_conf_t *conf)
{
    for (int i = 0; i < cli->nprops; i++) {
        const char *kv = cli->props[i];
        const char *eq = strchr(kv, '=');
        char key[256];
        if (eq == NULL || (size_t)(eq - kv) >= sizeof(key))
            return cli_usage_error("-X %s: bad property", kv);
        memcpy(key, kv, (size_t)(eq - kv));
        key[eq - kv] = '\0';
        if (cli_conf_set(conf, NULL, key, eq + 1) != CLI_OK)
            return CLI_USAGE;
        if (strcmp(key, "bootstrap.servers") == 0 || strcmp(key, "metadata.broker.list") == 0)
            cli->bootstrap = eq + 1;
    }
    return CLI_OK;
}

rd_kafka_conf_t *cli_conf_new(struct cli *cli, const char *const *defaults)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_opaque(conf, cli);
    rd_kafka_conf_set_log_cb(conf, cli_log_cb);
    rd_kafka_conf_set_error_cb(conf, cli_error_cb);
    if (cli_conf_set(conf, "--bootstrap-server", "bootstrap.servers", cli->bootstrap) != CLI_OK)
        goto out_destroy;
    if (cli_conf_set(conf, NULL, "client.id", "gregor-cli") != CLI_OK)
        goto out_destroy;
    for (int i = 0; defaults && defaults[i]; i += 2) {
        if (cli_conf_set(conf, NULL, defaults[i], defaults[i + 1]) != CLI_OK)
            goto out_destroy;
    }
    if (cli_conf_apply_props(cli, conf) != CLI_OK)
        goto out_destroy;
    return conf;
out_destroy:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

rd_kafka_t *cli_client_new(rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf); /* rd_kafka_new() takes it only on success */
        cli_fail("cannot create client: %s", errstr);
    }
    return rk;
}

/* The value of -X key (the last one given), or NULL. */
static const char *cli_prop(const struct cli *cli, const char *key)
{
    const char *v = NULL;
    size_t kl = strlen(key);
    for (int i = 0; i < cli->nprops; i++)
        if (strncmp(cli->props[i], key, kl) == 0 && cli->props[i][kl] == '=')
            v = cli->props[i] + kl + 1;
    return v;
}

/* The raw client (kraw.h) connects as librdkafka does: TLS on ssl and
 * sasl_ssl, a SASL login on sasl_plaintext and sasl_ssl, from the same
 * keys. */
static void cli_kraw_configure(const struct cli *cli)
{
    const char *proto = cli_prop(cli, "security.protocol");
    const char *mech = cli_prop(cli, "sasl.mechanism");
    if (!mech)
        mech = cli_prop(cli, "sasl.mechanisms");
    if (proto && (strcasecmp(proto, "ssl") == 0 || strcasecmp(proto, "sasl_ssl") == 0)) {
        const char *verify = cli_prop(cli, "enable.ssl.certificate.verification");
        const char *ident = cli_prop(cli, "ssl.endpoint.identification.algorithm");
        bool check_host = !ident || strcasecmp(ident, "none") != 0;
        kraw_set_tls(cli_prop(cli, "ssl.ca.location"), cli_prop(cli, "ssl.certificate.location"),
                     cli_prop(cli, "ssl.key.location"), !verify || strcasecmp(verify, "false") != 0,
                     check_host);
    }
    if (proto && (strcasecmp(proto, "sasl_plaintext") == 0 || strcasecmp(proto, "sasl_ssl") == 0))
        kraw_set_sasl(mech ? mech : "GSSAPI", cli_prop(cli, "sasl.username"),
                      cli_prop(cli, "sasl.password"));
}

int cli_admin_client(struct cli *cli, rd_kafka_t **rk)
{
    cli_kraw_configure(cli);
    rd_kafka_conf_t *conf = cli_conf_new(cli, NULL);
    if (conf == NULL)
        return CLI_USAGE;
    *rk = cli_client_new(RD_KAFKA_PRODUCER, conf);
    return *rk ? CLI_OK : CLI_FAIL;
}

int cli_fail_unreachable(const struct cli *cli)
{
    if (cli->last_error[0])
        return cli_fail("cannot reach any broker at %s: %s", cli->bootstrap, cli->last_error);
    return cli_fail("cannot reach any broker at %s", cli->bootstrap);
}

int cli_metadata(struct cli *cli, rd_kafka_t *rk, const char *topic,
                 const struct rd_kafka_metadata **md)
{
    rd_kafka_topic_t *rkt = topic ? rd_kafka_topic_new(rk, topic, NULL) : NULL;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
    int64_t deadline = cli_now_ms() + CLI_METADATA_TIMEOUT_MS;
    int slice = 500;

    if (topic && rkt == NULL)
        return cli_fail("topic '%s': %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
    /* Short slices so an unreachable broker is noticed within a second;
     * they grow so a slow broker is not flooded with repeated requests. */
    for (;;) {
        int64_t left = deadline - cli_now_ms();
        if (left <= 0)
            break;
        err = rd_kafka_metadata(rk, rkt == NULL, rkt, md, (int)MIN(left, (int64_t)slice));
        if (err != RD_KAFKA_RESP_ERR__TIMED_OUT && err != RD_KAFKA_RESP_ERR__TRANSPORT)
            break;
        rd_kafka_poll(rk, 0); /* serves cli_error_cb */
        if (cli->all_down)
            break;
        slice = MIN(slice * 2, 4000);
    }
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
        return CLI_OK;
    if (cli->all_down || err == RD_KAFKA_RESP_ERR__TRANSPORT)
        return cli_fail_unreachable(cli);
    return cli_fail("metadata request failed: %s", rd_kafka_err2str(err));
}

int cli_cluster_metadata(struct cli *cli, rd_kafka_t **rk, const struct rd_kafka_metadata **md)
{
    int rc = cli_admin_client(cli, rk);
    if (rc != CLI_OK)
        return rc;
    rc = cli_metadata(cli, *rk, NULL, md);
    if (rc != CLI_OK) {
        rd_kafka_destroy(*rk);
        *rk = NULL;
    }
    return rc;
}

const struct rd_kafka_metadata_topic *cli_md_topic(const struct rd_kafka_metadata *md,
                                                   const char *name)
{
    for (int i = 0; i < md->topic_cnt; i++) {
        if (strcmp(md->topics[i].topic, name) == 0)
            return &md->topics[i];
    }
    return NULL;
}

const struct rd_kafka_metadata_broker *cli_md_broker(const struct rd_kafka_metadata *md, int32_t id)
{
    for (int i = 0; i < md->broker_cnt; i++) {
        if (md->brokers[i].id == id)
            return &md->brokers[i];
    }
    return NULL;
}

rd_kafka_AdminOptions_t *cli_admin_options(rd_kafka_t *rk, rd_kafka_admin_op_t api, int timeout_ms)
{
    char errstr[256];
    rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, api);
    if (opts == NULL)
        return NULL;
    rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, errstr, sizeof(errstr));
    if (api == RD_KAFKA_ADMIN_OP_CREATETOPICS || api == RD_KAFKA_ADMIN_OP_DELETETOPICS)
        rd_kafka_AdminOptions_set_operation_timeout(opts, timeout_ms, errstr, sizeof(errstr));
    return opts;
}

rd_kafka_event_t *cli_admin_wait(struct cli *cli, rd_kafka_t *rk, rd_kafka_queue_t *q,
                                 rd_kafka_event_type_t type, int timeout_ms)
{
    /* librdkafka answers with a timed-out result after the request timeout;
     * the margin only guards against that never coming. */
    int64_t deadline = cli_now_ms() + timeout_ms + 5000;
    while (cli_now_ms() < deadline) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, CLI_ADMIN_SLICE_MS);
        if (ev && rd_kafka_event_type(ev) == type)
            return ev;
        if (ev)
            rd_kafka_event_destroy(ev);
        rd_kafka_poll(rk, 0); /* serves cli_error_cb */
        if (cli->all_down) {
            cli_fail_unreachable(cli);
            return NULL;
        }
    }
    cli_fail("no answer from the broker within %d ms", timeout_ms);
    return NULL;
}
