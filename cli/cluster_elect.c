/*
 * cli/cluster_elect.c — `gregor cluster elect-leaders`: preferred leader
 * election, or with --unclean an unclean one (a partition without a live
 * leader gets a live replica, out of the ISR if need be: records may be
 * lost), through Kafka's ElectLeaders request (API key 43), sent to the
 * controller with the raw client (kraw.h), since librdkafka 2.0.2 has no
 * ElectLeaders admin call. The controller's host:port comes from
 * librdkafka's metadata (rd_kafka_controllerid() + the broker list).
 *
 * Wire format (Kafka's ElectLeadersRequest/Response schemas; v2 flexible):
 *   request:  [election_type INT8 (v1+, 0 = preferred, 1 = unclean)]
 *             topic_partitions ARRAY (null = every partition) of
 *               {topic STRING, partitions ARRAY of INT32}
 *             timeout_ms INT32
 *   response: throttle_time_ms INT32, [error_code INT16 (v1+)],
 *             results ARRAY of {topic STRING, partition_results ARRAY of
 *               {partition_id INT32, error_code INT16, error_message NULLABLE_STRING}}
 * The version sent is the highest of 0..2 the controller lists in
 * ApiVersions (--unclean needs v1+: a controller with only v0 gets the
 * message "the broker's ElectLeaders has no unclean election" and exit
 * status 1). A broker that does not list API key 43, or closes the
 * connection on the request (how Gregor answers unknown keys), gets the
 * message "the broker does not support ElectLeaders" and exit status 1.
 *
 * Output: one line per partition result, sorted by topic and partition,
 *   TOPIC-PARTITION<TAB>elected
 *   TOPIC-PARTITION<TAB>ELECTION_NOT_NEEDED
 *   TOPIC-PARTITION<TAB>ERROR_NAME[<TAB>message]
 * (ELECTION_NOT_NEEDED may carry a message too). With --all (a null list)
 * brokers leave out the partitions that needed no election, as Kafka does;
 * an empty answer prints "No partition needed a leader election.".
 * Exit status 0 when every partition is elected or ELECTION_NOT_NEEDED.
 */
#include "cli/cli.h"
#include "cli/kraw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/kwire.h"
#include "common/names.h"
#include "common/vec.h"

#define ELECT_MAX_VERSION 2
#define ELECT_DEFAULT_TIMEOUT_MS 30000
#define ELECT_CONTROLLER_WAIT_MS 5000

#define ELECT_TYPE_PREFERRED 0
#define ELECT_TYPE_UNCLEAN 1

enum { EL_TOPIC = 1, EL_PARTITION, EL_ALL, EL_TIMEOUT, EL_UNCLEAN };

static const struct cli_opt elect_opts[] = {
    {"topic", 't', true, EL_TOPIC},
    {"partition", 'p', true, EL_PARTITION},
    {"all", 'a', false, EL_ALL},
    {"all-topic-partitions", 0, false, EL_ALL},
    {"timeout-ms", 0, true, EL_TIMEOUT},
    {"unclean", 0, false, EL_UNCLEAN},
    {NULL, 0, false, 0},
};

static const char elect_help[] =
    "Usage: gregor cluster elect-leaders (--all | --topic T [--partition P]) [--unclean]\n"
    "Asks the controller to make each partition's preferred replica (the first\n"
    "in its replica list) the leader again, where that replica is alive and in\n"
    "sync (Kafka's ElectLeaders, preferred election). With --unclean, each\n"
    "partition without a live leader gets one: the first live replica in the\n"
    "ISR, else the first live replica at all, whose ISR becomes just itself\n"
    "(unclean election: records may be lost), whatever the\n"
    "unclean.leader.election.enable setting. Prints one line per partition:\n"
    "elected, ELECTION_NOT_NEEDED, or the error.\n"
    "  -a, --all               every partition of every topic\n"
    "                          (alias --all-topic-partitions)\n"
    "  -t, --topic T           the partitions of topic T\n"
    "  -p, --partition P       only partition P of --topic\n"
    "      --unclean           unclean election (Kafka's --election-type unclean)\n"
    "      --timeout-ms MS     how long the controller may take (default 30000)\n"
    "Exit status 1 if any partition failed, or the broker does not support\n"
    "ElectLeaders.\n";

struct elect_args {
    const char *topic; /* borrowed from argv; NULL with --all */
    int64_t partition; /* -1: every partition of topic */
    bool all;
    int8_t type; /* ELECT_TYPE_* */
    int64_t timeout_ms;
};

/* One partition result, decoded from the response. */
struct elect_result {
    char topic[TOPIC_NAME_MAX_LEN + 1];
    int32_t partition;
    int16_t err;
    char msg[256];
};

static int elect_opt(void *ctx, int id, const char *val)
{
    struct elect_args *a = ctx;
    switch (id) {
    case EL_TOPIC:
        a->topic = val;
        return CLI_OK;
    case EL_PARTITION:
        if (!cli_parse_int(val, 0, INT32_MAX, &a->partition))
            return cli_usage_error("--partition: expected a number >= 0, got '%s'", val);
        return CLI_OK;
    case EL_ALL:
        a->all = true;
        return CLI_OK;
    case EL_UNCLEAN:
        a->type = ELECT_TYPE_UNCLEAN;
        return CLI_OK;
    case EL_TIMEOUT:
        if (!cli_parse_int(val, 1, INT32_MAX, &a->timeout_ms))
            return cli_usage_error("--timeout-ms: expected a number >= 1, got '%s'", val);
        return CLI_OK;
    }
    return CLI_USAGE;
}

/* Encodes the request body for `version` into body. With topic NULL the
 * partition list is null (every partition). */
static void elect_encode(struct kbuf *body, int16_t version, const struct elect_args *a,
                         const struct rd_kafka_metadata_topic *t)
{
    bool flex = api_is_flexible(API_ELECT_LEADERS, version);
    if (version >= 1)
        kbuf_put_u8(body, (uint8_t)a->type); /* election_type */
    if (t == NULL) {
        kw_put_array_len(body, flex, -1);
    } else {
        kw_put_array_len(body, flex, 1);
        kw_put_str(body, flex, t->topic);
        if (a->partition >= 0) {
            kw_put_array_len(body, flex, 1);
            kbuf_put_i32(body, (int32_t)a->partition);
        } else {
            kw_put_array_len(body, flex, t->partition_cnt);
            for (int i = 0; i < t->partition_cnt; i++)
                kbuf_put_i32(body, t->partitions[i].id);
        }
        kw_put_tags(body, flex);
    }
    kbuf_put_i32(body, (int32_t)a->timeout_ms);
    kw_put_tags(body, flex);
}

/* Decodes the partition results of one topic entry into res (n used, room
 * for *cap; grown as needed). Returns false on malformed input or
 * allocation failure. */
static bool elect_decode_topic(struct kslice *s, bool flex, struct elect_result **res, int *n,
                               size_t *cap)
{
    struct kstr topic = kw_get_str(s, flex);
    int32_t np = kw_get_array_len(s, flex, 7);
    if (!kslice_ok(s))
        return false;
    if (np < 0)
        np = 0;
    if (!VEC_RESERVE_AT(*res, *cap, (size_t)*n + (size_t)np))
        return false;
    struct elect_result *grown = *res;
    for (int32_t i = 0; i < np && kslice_ok(s); i++) {
        struct elect_result *r = &grown[*n];
        memset(r, 0, sizeof(*r));
        if (!kstr_copy(topic, r->topic, sizeof(r->topic)))
            snprintf(r->topic, sizeof(r->topic), "?");
        r->partition = kslice_i32(s);
        r->err = kslice_i16(s);
        struct kstr msg = kw_get_str(s, flex);
        if (!kstr_is_null(msg) && !kstr_copy(msg, r->msg, sizeof(r->msg)))
            snprintf(r->msg, sizeof(r->msg), "%.*s", (int)sizeof(r->msg) - 1, msg.ptr);
        kw_skip_tags(s, flex);
        (*n)++;
    }
    kw_skip_tags(s, flex);
    return kslice_ok(s);
}

/* Decodes a response body. On true *top_err, *res (new) and *n are set. */
static bool elect_decode(const uint8_t *p, size_t len, int16_t version, int16_t *top_err,
                         struct elect_result **res, int *n)
{
    bool flex = api_is_flexible(API_ELECT_LEADERS, version);
    struct kslice s;
    size_t cap = 0;
    kslice_init(&s, p, len);
    *res = NULL;
    *n = 0;
    (void)kslice_i32(&s); /* throttle_time_ms */
    *top_err = version >= 1 ? kslice_i16(&s) : 0;
    int32_t nt = kw_get_array_len(&s, flex, 3);
    for (int32_t i = 0; i < nt && kslice_ok(&s); i++) {
        if (!elect_decode_topic(&s, flex, res, n, &cap))
            kslice_fail(&s);
    }
    kw_skip_tags(&s, flex);
    if (kslice_ok(&s))
        return true;
    free(*res);
    *res = NULL;
    return false;
}

static int elect_cmp(const void *a, const void *b)
{
    const struct elect_result *ra = a, *rb = b;
    int c = strcmp(ra->topic, rb->topic);
    if (c != 0)
        return c;
    return (ra->partition > rb->partition) - (ra->partition < rb->partition);
}

/* Prints the results; returns the exit code. */
static int elect_print(struct elect_result *res, int n)
{
    int failed = 0;
    if (n == 0) {
        /* Only for --all: the broker leaves out ELECTION_NOT_NEEDED there. */
        printf("No partition needed a leader election.\n");
        return CLI_OK;
    }
    qsort(res, (size_t)n, sizeof(*res), elect_cmp);
    for (int i = 0; i < n; i++) {
        const struct elect_result *r = &res[i];
        if (r->err == 0) {
            printf("%s-%d\telected\n", r->topic, r->partition);
            continue;
        }
        printf("%s-%d\t%s%s%s\n", r->topic, r->partition,
               rd_kafka_err2name((rd_kafka_resp_err_t)r->err), r->msg[0] ? "\t" : "", r->msg);
        if (r->err != RD_KAFKA_RESP_ERR_ELECTION_NOT_NEEDED)
            failed++;
    }
    if (failed > 0)
        return cli_fail("leader election failed for %d of %d partition(s)", failed, n);
    return CLI_OK;
}

/* Reports a broker without ElectLeaders; returns CLI_FAIL. */
static int elect_unsupported(int32_t id, const struct kraw *k, const char *why)
{
    return cli_fail("the broker does not support ElectLeaders (controller %d at %s %s)", id,
                    k->addr, why);
}

/* Sends the request to the controller `b` and prints the outcome. */
static int elect_send(const struct elect_args *a, const struct rd_kafka_metadata_broker *b,
                      const struct rd_kafka_metadata_topic *t)
{
    struct kraw k;
    struct kbuf body;
    uint8_t *resp = NULL;
    size_t len = 0;
    int16_t max = -1, top_err = 0;
    struct elect_result *res = NULL;
    int n = 0, rc = CLI_FAIL;

    kbuf_init(&body);
    if (kraw_connect(&k, b->host, b->port, (int)a->timeout_ms + 5000) != KRAW_OK) {
        cli_fail("%s", k.reason);
        goto out;
    }
    int krc = kraw_api_max_version(&k, API_ELECT_LEADERS, &max);
    if (krc != KRAW_OK) {
        cli_fail("ApiVersions failed: %s", k.reason);
        goto out;
    }
    if (max < 0) {
        elect_unsupported(b->id, &k, "does not list API key 43 in ApiVersions");
        goto out;
    }
    int16_t version = max < ELECT_MAX_VERSION ? max : ELECT_MAX_VERSION;
    if (version < 1 && a->type != ELECT_TYPE_PREFERRED) {
        cli_fail("the broker's ElectLeaders has no unclean election (controller %d at %s "
                 "lists only v0)",
                 b->id, k.addr);
        goto out;
    }
    elect_encode(&body, version, a, t);
    krc = kraw_call(&k, API_ELECT_LEADERS, version, &body, &resp, &len);
    if (krc == KRAW_CLOSED) {
        elect_unsupported(b->id, &k, "closed the connection on the request");
        goto out;
    }
    if (krc != KRAW_OK) {
        cli_fail("ElectLeaders failed: %s", k.reason);
        goto out;
    }
    if (!elect_decode(resp, len, version, &top_err, &res, &n)) {
        cli_fail("malformed ElectLeaders v%d response from %s", version, k.addr);
        goto out;
    }
    if (top_err != 0)
        cli_fail("ElectLeaders failed: %s", rd_kafka_err2name((rd_kafka_resp_err_t)top_err));
    else
        rc = elect_print(res, n);
out:
    free(res);
    free(resp);
    kbuf_destroy(&body);
    kraw_close(&k);
    return rc;
}

/* Checks the options against md; sets *t to the named topic (or NULL for
 * --all). Returns CLI_OK or the exit code after printing. */
static int elect_check_target(const struct elect_args *a, const struct rd_kafka_metadata *md,
                              const struct rd_kafka_metadata_topic **t)
{
    *t = NULL;
    if (a->all)
        return CLI_OK;
    *t = cli_md_topic(md, a->topic);
    if (*t == NULL || (*t)->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
        return cli_fail("topic '%s' does not exist", a->topic);
    if (a->partition < 0)
        return CLI_OK;
    for (int i = 0; i < (*t)->partition_cnt; i++) {
        if ((*t)->partitions[i].id == a->partition)
            return CLI_OK;
    }
    return cli_fail("topic '%s' has no partition %d", a->topic, (int)a->partition);
}

/* Finds the controller among md's brokers; NULL after printing. */
static const struct rd_kafka_metadata_broker *elect_controller(rd_kafka_t *rk,
                                                               const struct rd_kafka_metadata *md)
{
    int32_t id = rd_kafka_controllerid(rk, ELECT_CONTROLLER_WAIT_MS);
    if (id < 0) {
        cli_fail("no controller is known (the cluster has no active controller)");
        return NULL;
    }
    const struct rd_kafka_metadata_broker *b = cli_md_broker(md, id);
    if (b == NULL)
        cli_fail("the controller (broker %d) is not in the broker list", id);
    return b;
}

int cluster_elect_leaders(struct cli *cli, int argc, char **argv)
{
    struct elect_args a = {NULL, -1, false, ELECT_TYPE_PREFERRED, ELECT_DEFAULT_TIMEOUT_MS};
    const struct rd_kafka_metadata *md = NULL;
    const struct rd_kafka_metadata_topic *t = NULL;
    int done, npos = cli_parse_cmd(cli, argc, argv, elect_opts, elect_opt, &a, elect_help, &done);
    if (npos < 0)
        return done;
    if (npos > 0)
        return cli_usage_positional(cli, "unexpected argument");
    if (a.all == (a.topic != NULL))
        return cli_usage_positional(cli, "give either --all or --topic");
    if (a.partition >= 0 && a.topic == NULL)
        return cli_usage_positional(cli, "--partition needs --topic");
    rd_kafka_t *rk;
    int rc = cli_cluster_metadata(cli, &rk, &md);
    if (rc != CLI_OK)
        return rc;
    rc = elect_check_target(&a, md, &t);
    const struct rd_kafka_metadata_broker *b = rc == CLI_OK ? elect_controller(rk, md) : NULL;
    if (rc == CLI_OK)
        rc = b ? elect_send(&a, b, t) : CLI_FAIL;
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return rc;
}
