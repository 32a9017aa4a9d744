/*
 * cli/topic_config.c — `gregor topic alter-config NAME [--set KEY=VALUE]...
 * [--delete KEY]... [--validate-only]`, like kafka-configs.sh --alter
 * --add-config/--delete-config for one topic.
 *
 * librdkafka 2.0.2 has no IncrementalAlterConfigs, and AlterConfigs
 * REPLACES all overrides of a topic, so this is a read-modify-write:
 *   1. DescribeConfigs(topic): the current overrides are the entries whose
 *      source is DYNAMIC_TOPIC_CONFIG; every described entry name is a key
 *      the broker knows (used to reject --delete of an unknown key);
 *   2. apply the --set and --delete options to that list;
 *   3. AlterConfigs(topic) with the complete resulting list (empty = drop
 *      all overrides), validate_only with --validate-only.
 * A change made by someone else between steps 1 and 3 is overwritten.
 *
 * Output (stdout, one line; the resulting overrides comma separated, sorted
 * by key, which is the order `topic describe` shows them in):
 *   Updated config of topic NAME: k=v,k2=v2
 *   Config of topic NAME is valid (not updated): k=v,k2=v2   (--validate-only)
 * Errors: one line "gregor: ..." on stderr; exit 1 for broker/runtime
 * errors (unknown topic or key, invalid value), 2 for usage errors.
 *
 * Threads: main thread only.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/vec.h"

#define TC_TIMEOUT_MS 30000

enum { TA_SET = 1, TA_DELETE, TA_VALIDATE };

static const struct cli_opt tc_opts[] = {
    {"set", 's', true, TA_SET},
    {"delete", 'd', true, TA_DELETE},
    {"validate-only", 0, false, TA_VALIDATE},
    {NULL, 0, false, 0},
};

static const char tc_help[] =
    "Usage: gregor topic alter-config NAME [--set KEY=VALUE]... [--delete KEY]...\n"
    "Changes the config overrides of a topic (DescribeConfigs, then AlterConfigs\n"
    "with the complete resulting set); other overrides are kept. Prints the\n"
    "resulting overrides.\n"
    "  -s, --set KEY=VALUE      set an override; repeatable\n"
    "  -d, --delete KEY         remove an override (back to the broker default);\n"
    "                           repeatable\n"
    "      --validate-only      ask the broker to check the result, change nothing\n";

/* Options of one run; strings borrowed from argv. */
struct tc_args {
    const char *sets[CLI_MAX_PROPS]; /* "key=value", in order given */
    int nsets;
    const char *dels[CLI_MAX_PROPS]; /* "key" */
    int ndels;
    bool validate_only;
};

/* A topic's overrides: owned key/value copies, in order. Lives on
 * topic_alter_config()'s stack; tc_list_destroy() frees the strings. */
struct tc_list {
    char **key;                /* key[i] owned */
    char **value;              /* value[i] owned */
    size_t n;                  /* entries used */
    size_t key_cap, value_cap; /* room in key and value (common/vec.h) */
};

static int tc_opt(void *ctx, int id, const char *val)
{
    struct tc_args *a = ctx;
    switch (id) {
    case TA_SET:
        if (strchr(val, '=') == NULL || val[0] == '=')
            return cli_usage_error("--set expects KEY=VALUE, got '%s'", val);
        if (a->nsets >= CLI_MAX_PROPS)
            return cli_usage_error("too many --set options");
        a->sets[a->nsets++] = val;
        return CLI_OK;
    case TA_DELETE:
        if (val[0] == '\0' || strchr(val, '=') != NULL)
            return cli_usage_error("--delete expects a KEY, got '%s'", val);
        if (a->ndels >= CLI_MAX_PROPS)
            return cli_usage_error("too many --delete options");
        a->dels[a->ndels++] = val;
        return CLI_OK;
    case TA_VALIDATE:
        a->validate_only = true;
        return CLI_OK;
    }
    return CLI_USAGE;
}

/* True if "key=value" `kv` has the key `key`. */
static bool tc_set_has_key(const char *kv, const char *key)
{
    size_t klen = (size_t)(strchr(kv, '=') - kv);
    return strlen(key) == klen && strncmp(kv, key, klen) == 0;
}

/* Rejects a key that is both set and deleted; returns CLI_OK or CLI_USAGE. */
static int tc_check_args(const struct tc_args *a)
{
    if (a->nsets == 0 && a->ndels == 0)
        return cli_usage_error("topic alter-config: nothing to change (give --set KEY=VALUE "
                               "or --delete KEY)");
    for (int d = 0; d < a->ndels; d++) {
        for (int s = 0; s < a->nsets; s++) {
            if (tc_set_has_key(a->sets[s], a->dels[d]))
                return cli_usage_error("'%s' is both set and deleted", a->dels[d]);
        }
    }
    return CLI_OK;
}

static void tc_list_destroy(struct tc_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->key[i]);
        free(l->value[i]);
    }
    free(l->key);
    free(l->value);
    memset(l, 0, sizeof(*l));
}

/* Returns the index of `key` in l (klen bytes), or -1. */
static long tc_list_find(const struct tc_list *l, const char *key, size_t klen)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strlen(l->key[i]) == klen && strncmp(l->key[i], key, klen) == 0)
            return (long)i;
    }
    return -1;
}

/*
 * Sets key (klen bytes, borrowed) to value (borrowed, copied) in l,
 * replacing an existing entry in place or appending. Returns false on
 * allocation failure (l unchanged).
 */
static bool tc_list_set(struct tc_list *l, const char *key, size_t klen, const char *value)
{
    char *v = strdup(value);
    long at = tc_list_find(l, key, klen);
    if (v == NULL)
        return false;
    if (at >= 0) {
        free(l->value[at]);
        l->value[at] = v;
        return true;
    }
    if (!VEC_RESERVE_AT(l->key, l->key_cap, l->n + 1) ||
        !VEC_RESERVE_AT(l->value, l->value_cap, l->n + 1)) {
        free(v);
        return false;
    }
    if ((l->key[l->n] = strndup(key, klen)) == NULL) {
        free(v);
        return false;
    }
    l->value[l->n++] = v;
    return true;
}

/* Removes `key` from l if present, keeping the order of the others. */
static void tc_list_delete(struct tc_list *l, const char *key)
{
    long at = tc_list_find(l, key, strlen(key));
    if (at < 0)
        return;
    free(l->key[at]);
    free(l->value[at]);
    size_t rest = l->n - (size_t)at - 1;
    memmove(&l->key[at], &l->key[at + 1], rest * sizeof(*l->key));
    memmove(&l->value[at], &l->value[at + 1], rest * sizeof(*l->value));
    l->n--;
}

/* Sorts l by key (insertion sort: a topic has a few dozen keys at most). */
static void tc_list_sort(struct tc_list *l)
{
    for (size_t i = 1; i < l->n; i++) {
        char *k = l->key[i], *v = l->value[i];
        size_t j = i;
        for (; j > 0 && strcmp(l->key[j - 1], k) > 0; j--) {
            l->key[j] = l->key[j - 1];
            l->value[j] = l->value[j - 1];
        }
        l->key[j] = k;
        l->value[j] = v;
    }
}

/* Returns true if the described resource has an entry named `key`. */
static bool tc_res_knows(const rd_kafka_ConfigResource_t *res, const char *key)
{
    size_t cnt = 0;
    const rd_kafka_ConfigEntry_t **entries = rd_kafka_ConfigResource_configs(res, &cnt);
    for (size_t i = 0; i < cnt; i++) {
        if (strcmp(rd_kafka_ConfigEntry_name(entries[i]), key) == 0)
            return true;
    }
    return false;
}

/*
 * Copies the DYNAMIC_TOPIC_CONFIG entries of `res` (borrowed) into `cur`.
 * Refuses (CLI_FAIL after printing) when the overrides cannot be rewritten
 * faithfully: a broker that reports no config sources (DescribeConfigs v0)
 * or an override whose value is hidden (sensitive).
 */
static int tc_res_overrides(const char *name, const rd_kafka_ConfigResource_t *res,
                            struct tc_list *cur)
{
    size_t cnt = 0;
    const rd_kafka_ConfigEntry_t **entries = rd_kafka_ConfigResource_configs(res, &cnt);
    for (size_t i = 0; i < cnt; i++) {
        const char *key = rd_kafka_ConfigEntry_name(entries[i]);
        const char *value = rd_kafka_ConfigEntry_value(entries[i]);
        rd_kafka_ConfigSource_t src = rd_kafka_ConfigEntry_source(entries[i]);
        if (src == RD_KAFKA_CONFIG_SOURCE_UNKNOWN_CONFIG)
            return cli_fail("cannot alter config of topic '%s': the broker does not report "
                            "config sources (DescribeConfigs v1 needed)",
                            name);
        if (src != RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG)
            continue;
        if (value == NULL)
            return cli_fail("cannot alter config of topic '%s': the value of '%s' is hidden, "
                            "so the overrides cannot be rewritten",
                            name, key);
        if (!tc_list_set(cur, key, strlen(key), value))
            return cli_fail("out of memory");
    }
    return CLI_OK;
}

/* Checks the --delete keys against `res` and copies its overrides into
 * cur. Returns CLI_OK or CLI_FAIL after printing. */
static int tc_read_result(const char *name, const struct tc_args *a, rd_kafka_event_t *ev,
                          struct tc_list *cur)
{
    size_t cnt = 0;
    const rd_kafka_ConfigResource_t **res =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &cnt);
    if (cnt != 1)
        return cli_fail("cannot describe config of topic '%s': %zu results", name, cnt);
    rd_kafka_resp_err_t err = rd_kafka_ConfigResource_error(res[0]);
    const char *msg = rd_kafka_ConfigResource_error_string(res[0]);
    if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
        return cli_fail("topic '%s' does not exist", name);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        return cli_fail("cannot describe config of topic '%s': %s (%s)", name,
                        msg && *msg ? msg : rd_kafka_err2str(err), rd_kafka_err2name(err));
    for (int d = 0; d < a->ndels; d++) {
        if (!tc_res_knows(res[0], a->dels[d]))
            return cli_fail("cannot alter config of topic '%s': unknown topic config '%s' "
                            "(INVALID_CONFIG)",
                            name, a->dels[d]);
    }
    return tc_res_overrides(name, res[0], cur);
}

/* Reads the current overrides of topic `name` into cur (DescribeConfigs).
 * Returns CLI_OK or CLI_FAIL after printing. */
static int tc_describe(struct cli *cli, rd_kafka_t *rk, const char *name, const struct tc_args *a,
                       struct tc_list *cur)
{
    int rc = CLI_FAIL;
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opts =
        cli_admin_options(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, TC_TIMEOUT_MS);
    rd_kafka_DescribeConfigs(rk, &res, 1, opts, q);
    rd_kafka_event_t *ev =
        cli_admin_wait(cli, rk, q, RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT, TC_TIMEOUT_MS);
    if (ev == NULL)
        goto out;
    if (rd_kafka_event_error(ev))
        rc = cli_fail("cannot describe config of topic '%s': %s", name,
                      rd_kafka_event_error_string(ev));
    else
        rc = tc_read_result(name, a, ev, cur);
    rd_kafka_event_destroy(ev);
out:
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_queue_destroy(q);
    rd_kafka_ConfigResource_destroy(res);
    return rc;
}

/* Applies the --delete then --set options to cur and sorts it by key;
 * CLI_FAIL on OOM. */
static int tc_apply(const struct tc_args *a, struct tc_list *cur)
{
    for (int d = 0; d < a->ndels; d++)
        tc_list_delete(cur, a->dels[d]);
    for (int s = 0; s < a->nsets; s++) {
        const char *eq = strchr(a->sets[s], '=');
        if (!tc_list_set(cur, a->sets[s], (size_t)(eq - a->sets[s]), eq + 1))
            return cli_fail("out of memory");
    }
    tc_list_sort(cur);
    return CLI_OK;
}

/* Checks the single AlterConfigs resource result; prints on failure. */
static int tc_alter_result(const char *name, rd_kafka_event_t *ev)
{
    size_t cnt = 0;
    const rd_kafka_ConfigResource_t **res =
        rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(ev), &cnt);
    if (cnt != 1)
        return cli_fail("cannot alter config of topic '%s': %zu results", name, cnt);
    rd_kafka_resp_err_t err = rd_kafka_ConfigResource_error(res[0]);
    const char *msg = rd_kafka_ConfigResource_error_string(res[0]);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
        return CLI_OK;
    return cli_fail("cannot alter config of topic '%s': %s (%s)", name,
                    msg && *msg ? msg : rd_kafka_err2str(err), rd_kafka_err2name(err));
}

/* Writes `cur` as the complete override set of `name` (AlterConfigs).
 * Returns CLI_OK or CLI_FAIL after printing. */
static int tc_alter(struct cli *cli, rd_kafka_t *rk, const char *name, const struct tc_list *cur,
                    bool validate_only)
{
    char errstr[256];
    int rc = CLI_FAIL;
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name);
    for (size_t i = 0; i < cur->n; i++) {
        if (rd_kafka_ConfigResource_set_config(res, cur->key[i], cur->value[i]) !=
            RD_KAFKA_RESP_ERR_NO_ERROR) {
            rd_kafka_ConfigResource_destroy(res);
            return cli_fail("cannot alter config of topic '%s': '%s' rejected", name, cur->key[i]);
        }
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opts =
        cli_admin_options(rk, RD_KAFKA_ADMIN_OP_ALTERCONFIGS, TC_TIMEOUT_MS);
    if (validate_only)
        rd_kafka_AdminOptions_set_validate_only(opts, 1, errstr, sizeof(errstr));
    rd_kafka_AlterConfigs(rk, &res, 1, opts, q);
    rd_kafka_event_t *ev =
        cli_admin_wait(cli, rk, q, RD_KAFKA_EVENT_ALTERCONFIGS_RESULT, TC_TIMEOUT_MS);
    if (ev && rd_kafka_event_error(ev))
        rc = cli_fail("cannot alter config of topic '%s': %s", name,
                      rd_kafka_event_error_string(ev));
    else if (ev)
        rc = tc_alter_result(name, ev);
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_queue_destroy(q);
    rd_kafka_ConfigResource_destroy(res);
    return rc;
}

static void tc_print(const char *name, const struct tc_list *cur, bool validate_only)
{
    if (validate_only)
        printf("Config of topic %s is valid (not updated): ", name);
    else
        printf("Updated config of topic %s: ", name);
    for (size_t i = 0; i < cur->n; i++)
        printf("%s%s=%s", i ? "," : "", cur->key[i], cur->value[i]);
    putchar('\n');
}

/*
 * `gregor topic alter-config`: argv[0..argc) are the arguments after the
 * subcommand (borrowed). Returns the exit code. Main thread.
 */
int topic_alter_config(struct cli *cli, int argc, char **argv)
{
    struct tc_args a;
    struct tc_list cur;
    memset(&a, 0, sizeof(a));
    memset(&cur, 0, sizeof(cur));
    int done, npos = cli_parse_cmd(cli, argc, argv, tc_opts, tc_opt, &a, tc_help, &done);
    if (npos < 0)
        return done;
    if (npos != 1)
        return cli_usage_positional(cli, npos == 0 ? "missing topic name" : "unexpected argument");
    if (tc_check_args(&a) != CLI_OK)
        return CLI_USAGE;
    rd_kafka_t *rk = NULL;
    int crc = cli_admin_client(cli, &rk);
    if (crc != CLI_OK)
        return crc;
    int rc = tc_describe(cli, rk, argv[0], &a, &cur);
    if (rc == CLI_OK)
        rc = tc_apply(&a, &cur);
    if (rc == CLI_OK)
        rc = tc_alter(cli, rk, argv[0], &cur, a.validate_only);
    if (rc == CLI_OK)
        tc_print(argv[0], &cur, a.validate_only);
    tc_list_destroy(&cur);
    rd_kafka_destroy(rk);
    return rc;
}
