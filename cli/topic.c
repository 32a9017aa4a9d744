/*
 * cli/topic.c — `gregor topic create|list|delete` and the dispatch of the
 * topic subcommands (describe lives in topic_describe.c, alter-config in
 * topic_config.c, alter-partitions in topic_partitions.c, producers in
 * topic_producers.c).
 *
 * create and delete use librdkafka's admin API (CreateTopics v4 /
 * DeleteTopics); list uses a Metadata request for all topics. Output:
 *   create: "Created topic NAME." per topic (nothing with --if-not-exists
 *           when it already exists; "Topic NAME is valid." with
 *           --validate-only)
 *   delete: "Deleted topic NAME." per topic
 *   list:   one name per line, sorted; names starting with "__" (internal
 *           topics) only with --all; --output json: {"topics": [{"name",
 *           "partitions", "replication_factor", "internal": bool}]}
 */
#include "cli/cli.h"
#include "cli/group_plan.h"
#include "common/names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOPIC_ADMIN_TIMEOUT_MS 30000


/* ---- create -------------------------------------------------------------- */

enum { TC_PARTITIONS = 1, TC_REPLICAS, TC_CONFIG, TC_IF_NOT_EXISTS, TC_VALIDATE };

static const struct cli_opt topic_create_opts[] = {
    {"partitions", 'p', true, TC_PARTITIONS},
    {"replication-factor", 'r', true, TC_REPLICAS},
    {"replicas", 0, true, TC_REPLICAS},
    {"config", 'c', true, TC_CONFIG},
    {"if-not-exists", 0, false, TC_IF_NOT_EXISTS},
    {"validate-only", 0, false, TC_VALIDATE},
    {NULL, 0, false, 0},
};

static const char topic_create_help[] =
    "Usage: gregor topic create NAME... [-p PARTITIONS] [-r REPLICAS] [-c KEY=VALUE]...\n"
    "Creates topics (CreateTopics).\n"
    "  -p, --partitions N              number of partitions (default: broker's\n"
    "                                  num.partitions)\n"
    "  -r, --replication-factor N      replicas per partition (default: broker's\n"
    "      --replicas N                default.replication.factor)\n"
    "  -c, --config KEY=VALUE          topic config override; repeatable\n"
    "      --if-not-exists             succeed quietly if the topic exists\n"
    "      --validate-only             ask the broker to check, not create\n";

struct topic_create_args {
    int64_t partitions;                 /* -1: broker default */
    int64_t replicas;                   /* -1: broker default */
    const char *configs[CLI_MAX_PROPS]; /* borrowed from argv */
    int nconfigs;
    bool if_not_exists;
    bool validate_only;
};

static int topic_create_opt(void *ctx, int id, const char *val)
{
    struct topic_create_args *a = ctx;
    switch (id) {
    case TC_PARTITIONS:
        if (!cli_parse_int(val, 1, INT32_MAX, &a->partitions))
            return cli_usage_error("--partitions: expected a number >= 1, got '%s'", val);
        return CLI_OK;
    case TC_REPLICAS:
        if (!cli_parse_int(val, 1, INT16_MAX, &a->replicas))
            return cli_usage_error("--replication-factor: expected a number >= 1, got '%s'", val);
        return CLI_OK;
    case TC_CONFIG:
        if (strchr(val, '=') == NULL || val[0] == '=')
            return cli_usage_error("--config expects KEY=VALUE, got '%s'", val);
        if (a->nconfigs >= CLI_MAX_PROPS)
            return cli_usage_error("too many --config options");
        a->configs[a->nconfigs++] = val;
        return CLI_OK;
    case TC_IF_NOT_EXISTS:
        a->if_not_exists = true;
        return CLI_OK;
    case TC_VALIDATE:
        a->validate_only = true;
        return CLI_OK;
    }
    return CLI_USAGE;
}

/* Returns a new NewTopic for `name` with a's settings, or NULL after
 * printing a usage error. */
static rd_kafka_NewTopic_t *topic_new_topic(const char *name, const struct topic_create_args *a)
{
    char errstr[256];
    rd_kafka_NewTopic_t *nt =
        rd_kafka_NewTopic_new(name, (int)a->partitions, (int)a->replicas, errstr, sizeof(errstr));
    if (nt == NULL) {
        cli_usage_error("topic '%s': %s", name, errstr);
        return NULL;
    }
    for (int i = 0; i < a->nconfigs; i++) {
        char key[256];
        const char *eq = strchr(a->configs[i], '=');
        snprintf(key, sizeof(key), "%.*s", (int)(eq - a->configs[i]), a->configs[i]);
        if (rd_kafka_NewTopic_set_config(nt, key, eq + 1) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            cli_usage_error("--config %s: rejected", a->configs[i]);
            rd_kafka_NewTopic_destroy(nt);
            return NULL;
        }
    }
    return nt;
}

/*
 * Prints one line per topic result: ok_pre NAME ok_post on success to stdout, "gregor: cannot <verb> topic 'x': reason" to stderr on
 * failure. An error equal to `ignore` counts as success, silently.
 * Returns CLI_OK or CLI_FAIL if any topic failed.
 */
static int topic_report(const rd_kafka_topic_result_t **res, size_t cnt, const char *verb,
                        const char *ok_pre, const char *ok_post, rd_kafka_resp_err_t ignore)
{
    int rc = CLI_OK;
    for (size_t i = 0; i < cnt; i++) {
        const char *name = rd_kafka_topic_result_name(res[i]);
        rd_kafka_resp_err_t err = rd_kafka_topic_result_error(res[i]);
        const char *msg = rd_kafka_topic_result_error_string(res[i]);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            printf("%s%s%s", ok_pre, name, ok_post);
            continue;
        }
        if (err == ignore)
            continue;
        rc = cli_fail("cannot %s topic '%s': %s (%s)", verb, name,
                      msg && *msg ? msg : rd_kafka_err2str(err), rd_kafka_err2name(err));
    }
    return rc;
}

/* Sends CreateTopics for nts[0..n) (borrowed) and reports the results. */
static int topic_create_send(struct cli *cli, rd_kafka_t *rk, rd_kafka_NewTopic_t **nts, size_t n,
                             const struct topic_create_args *a)
{
    char errstr[256];
    int rc = CLI_FAIL;
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opts =
        cli_admin_options(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS, TOPIC_ADMIN_TIMEOUT_MS);
    if (a->validate_only)
        rd_kafka_AdminOptions_set_validate_only(opts, 1, errstr, sizeof(errstr));
    rd_kafka_CreateTopics(rk, nts, n, opts, q);
    rd_kafka_event_t *ev =
        cli_admin_wait(cli, rk, q, RD_KAFKA_EVENT_CREATETOPICS_RESULT, TOPIC_ADMIN_TIMEOUT_MS);
    if (ev == NULL)
        goto out;
    if (rd_kafka_event_error(ev)) {
        rc = cli_fail("cannot create topics: %s", rd_kafka_event_error_string(ev));
    } else {
        size_t cnt = 0;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
        rc = topic_report(res, cnt, "create", a->validate_only ? "Topic " : "Created topic ",
                          a->validate_only ? " is valid (not created).\n" : ".\n",
                          a->if_not_exists ? RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS
                                           : RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    rd_kafka_event_destroy(ev);
out:
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_queue_destroy(q);
    return rc;
}

static int topic_create(struct cli *cli, int argc, char **argv)
{
    struct topic_create_args a = {.partitions = -1, .replicas = -1};
    int done, npos = cli_parse_cmd(cli, argc, argv, topic_create_opts, topic_create_opt, &a,
                                   topic_create_help, &done);
    if (npos < 0)
        return done;
    if (npos == 0)
        return cli_usage_positional(cli, "missing topic name");

    rd_kafka_NewTopic_t **nts = calloc((size_t)npos, sizeof(*nts));
    rd_kafka_t *rk = NULL;
    int rc = CLI_USAGE;
    int built = 0;
    for (; built < npos; built++) {
        if ((nts[built] = topic_new_topic(argv[built], &a)) == NULL)
            goto out;
    }
    if ((rc = cli_admin_client(cli, &rk)) != CLI_OK)
        goto out;
    rc = topic_create_send(cli, rk, nts, (size_t)npos, &a);
out:
    rd_kafka_NewTopic_destroy_array(nts, (size_t)built);
    free(nts);
    if (rk)
        rd_kafka_destroy(rk);
    return rc;
}

/* ---- delete -------------------------------------------------------------- */

enum { TD_IF_EXISTS = 1 };

static const struct cli_opt topic_delete_opts[] = {
    {"if-exists", 0, false, TD_IF_EXISTS},
    {NULL, 0, false, 0},
};

static const char topic_delete_help[] =
    "Usage: gregor topic delete NAME... [--if-exists]\n"
    "Deletes topics (DeleteTopics).\n"
    "      --if-exists   succeed quietly for topics that do not exist\n";

static int topic_flag_opt(void *ctx, int id, const char *val)
{
    *(bool *)ctx = true;
    return CLI_OK;
}

/* Sends DeleteTopics for names[0..n) and reports the results. */
static int topic_delete_send(struct cli *cli, rd_kafka_t *rk, char **names, size_t n,
                             bool if_exists)
{
    int rc = CLI_FAIL;
    rd_kafka_DeleteTopic_t **dts = calloc(n, sizeof(*dts));
    for (size_t i = 0; i < n; i++)
        dts[i] = rd_kafka_DeleteTopic_new(names[i]);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opts =
        cli_admin_options(rk, RD_KAFKA_ADMIN_OP_DELETETOPICS, TOPIC_ADMIN_TIMEOUT_MS);
    rd_kafka_DeleteTopics(rk, dts, n, opts, q);
    rd_kafka_event_t *ev =
        cli_admin_wait(cli, rk, q, RD_KAFKA_EVENT_DELETETOPICS_RESULT, TOPIC_ADMIN_TIMEOUT_MS);
    if (ev && rd_kafka_event_error(ev)) {
        rc = cli_fail("cannot delete topics: %s", rd_kafka_event_error_string(ev));
    } else if (ev) {
        size_t cnt = 0;
        const rd_kafka_topic_result_t **res =
            rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &cnt);
        rc = topic_report(res, cnt, "delete", "Deleted topic ", ".\n",
                          if_exists ? RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART
                                    : RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_queue_destroy(q);
    rd_kafka_DeleteTopic_destroy_array(dts, n);
    free(dts);
    return rc;
}

static int topic_delete(struct cli *cli, int argc, char **argv)
{
    bool if_exists = false;
    int done, npos = cli_parse_cmd(cli, argc, argv, topic_delete_opts, topic_flag_opt, &if_exists,
                                   topic_delete_help, &done);
    if (npos < 0)
        return done;
    if (npos == 0)
        return cli_usage_positional(cli, "missing topic name");
    rd_kafka_t *rk = NULL;
    int crc = cli_admin_client(cli, &rk);
    if (crc != CLI_OK)
        return crc;
    int rc = topic_delete_send(cli, rk, argv, (size_t)npos, if_exists);
    rd_kafka_destroy(rk);
    return rc;
}

/* ---- list ---------------------------------------------------------------- */

enum { TL_ALL = 1, TL_OUTPUT };

static const struct cli_opt topic_list_opts[] = {
    {"all", 'a', false, TL_ALL},
    {"output", 'o', true, TL_OUTPUT},
    {NULL, 0, false, 0},
};

static const char topic_list_help[] =
    "Usage: gregor topic list [--all] [--output text|json]\n"
    "Prints the topic names, one per line, sorted.\n"
    "  -a, --all           include internal topics (names starting with \"__\")\n"
    "  -o, --output json   one JSON object: {\"topics\": [{\"name\", \"partitions\",\n"
    "                      \"replication_factor\", \"internal\"}]}\n";

struct topic_list_args {
    bool all, json;
};

static int topic_list_opt(void *ctx, int id, const char *val)
{
    struct topic_list_args *a = ctx;
    if (id == TL_OUTPUT)
        return cli_parse_output(val, &a->json);
    a->all = true;
    return CLI_OK;
}

static int topic_cmp_names(const void *a, const void *b)
{
    const struct rd_kafka_metadata_topic *x = *(const struct rd_kafka_metadata_topic *const *)a;
    const struct rd_kafka_metadata_topic *y = *(const struct rd_kafka_metadata_topic *const *)b;
    return strcmp(x->topic, y->topic);
}

static int topic_list(struct cli *cli, int argc, char **argv)
{
    struct topic_list_args a = {false, false};
    const struct rd_kafka_metadata *md = NULL;
    int done, npos = cli_parse_cmd(cli, argc, argv, topic_list_opts, topic_list_opt, &a,
                                   topic_list_help, &done);
    if (npos < 0)
        return done;
    if (npos > 0)
        return cli_usage_positional(cli, "unexpected argument");
    rd_kafka_t *rk;
    int rc = cli_cluster_metadata(cli, &rk, &md);
    if (rc != CLI_OK)
        return rc;
    const struct rd_kafka_metadata_topic **t = calloc((size_t)md->topic_cnt + 1, sizeof(*t));
    size_t n = 0;
    for (int i = 0; t && i < md->topic_cnt; i++) {
        if (a.all || !topic_name_internal(md->topics[i].topic, strlen(md->topics[i].topic)))
            t[n++] = &md->topics[i];
    }
    if (t == NULL) {
        rc = cli_fail("out of memory");
        n = 0;
    } else {
        qsort(t, n, sizeof(*t), topic_cmp_names);
    }
    if (a.json && t)
        fputs("{\"topics\": [", stdout);
    for (size_t i = 0; i < n; i++) {
        if (!a.json) {
            printf("%s\n", t[i]->topic);
            continue;
        }
        printf("%s{\"name\": ", i ? ", " : "");
        gp_json_str(stdout, t[i]->topic);
        printf(", \"partitions\": %d, \"replication_factor\": %d, \"internal\": %s}",
               t[i]->partition_cnt, t[i]->partition_cnt ? t[i]->partitions[0].replica_cnt : 0,
               topic_name_internal(t[i]->topic, strlen(t[i]->topic)) ? "true" : "false");
    }
    if (a.json && t)
        fputs("]}\n", stdout);
    free(t);
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return rc;
}

/* ---- dispatch ------------------------------------------------------------ */

static const struct cli_sub topic_subs[] = {
    {"create", "topic create", topic_create},
    {"list", "topic list", topic_list},
    {"describe", "topic describe", topic_describe},
    {"delete", "topic delete", topic_delete},
    {"alter-config", "topic alter-config", topic_alter_config},
    {"alter-partitions", "topic alter-partitions", topic_alter_partitions},
    {"producers", "topic producers", topic_producers},
};

static const char topic_help[] =
    "Usage: gregor topic <create|list|describe|delete|alter-config|alter-partitions|producers>"
    " [ARGS]\n"
    "  create NAME... [-p N] [-r N] [-c K=V]...   create topics\n"
    "  list [--all] [--output json]             list topic names\n"
    "  describe [NAME...] [--all] [--under-replicated] [--offline]\n"
    "                                           partitions, leaders, replicas, ISR,\n"
    "                                           health flags, config overrides\n"
    "  delete NAME... [--if-exists]             delete topics\n"
    "  alter-config NAME [--set K=V]... [--delete K]...\n"
    "                                           change config overrides\n"
    "  alter-partitions NAME -p N [-a LIST]     add partitions\n"
    "  producers NAME [-p N]...                 idempotent producers per partition\n"
    "Run 'gregor topic <subcommand> --help' for details.\n";

int topic_main(struct cli *cli, int argc, char **argv)
{
    return cli_run_sub(cli, argc, argv, topic_subs, sizeof(topic_subs) / sizeof(topic_subs[0]),
                       topic_help);
}
