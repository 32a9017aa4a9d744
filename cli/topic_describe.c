/*
 * cli/topic_describe.c — `gregor topic describe [NAME...]` and the
 * partition health rules shared with `gregor cluster info`
 * (cli_part_flags()).
 *
 * Partitions, leaders, replicas and ISR come from a Metadata request for
 * all topics; the topic config overrides from DescribeConfigs, best
 * effort: if that fails for a topic (a broker without DescribeConfigs, a
 * timeout, an error for the topic) its "Configs:" field says so,
 * "Configs: (unavailable: <reason>)", the rest is printed as usual and the
 * command still succeeds. An empty Configs field means the topic has no
 * overrides.
 *
 * Output format (as kafka-topics.sh --describe, TAB separated):
 *   Topic: t<TAB>PartitionCount: 2<TAB>ReplicationFactor: 1<TAB>Configs: k=v,k2=v2
 *   <TAB>Topic: t<TAB>Partition: 0<TAB>Leader: 1<TAB>Replicas: 1,2<TAB>Isr: 1,2
 * Partitions are sorted by id; "Leader: none" when the partition has no
 * leader. A partition line of an unhealthy partition ends with
 * "<TAB>Flags: offline,under-replicated,not-preferred-leader" (those that
 * apply, in that order); healthy lines have no Flags field. Topics are
 * printed in the order named, or sorted by name when none are named
 * (internal "__" topics only with --all). With --under-replicated and/or
 * --offline only the matching partition lines are printed (no topic header
 * lines), like kafka-topics.sh --under-replicated-partitions /
 * --unavailable-partitions.
 *
 * --output json: one object {"topics": [{"name", "partition_count",
 * "replication_factor", "configs": {KEY: VALUE}|null, "configs_error":
 * str|null, "partitions": [{"partition", "leader": int|null, "replicas":
 * [int], "isr": [int], "flags": ["offline"|"under-replicated"|
 * "not-preferred-leader"]}]}]}; with a filter only topics with a matching
 * partition are listed, with those partitions, and configs are null.
 */
#include "cli/cli.h"
#include "cli/describe_fmt.h"
#include "cli/group_plan.h"
#include "common/names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DESCRIBE_CONFIGS_TIMEOUT_MS 5000

enum { TD_ALL = 1, TD_UNDER_REPLICATED, TD_OFFLINE, TD_OUTPUT };

static const struct cli_opt describe_opts[] = {
    {"all", 'a', false, TD_ALL},
    {"under-replicated", 0, false, TD_UNDER_REPLICATED},
    {"under-replicated-partitions", 0, false, TD_UNDER_REPLICATED},
    {"offline", 0, false, TD_OFFLINE},
    {"unavailable-partitions", 0, false, TD_OFFLINE},
    {"output", 'o', true, TD_OUTPUT},
    {NULL, 0, false, 0},
};

static const char describe_help[] =
    "Usage: gregor topic describe [NAME...] [--all] [--under-replicated] [--offline]\n"
    "                            [--output text|json]\n"
    "Prints each topic's partitions with leader, replicas and in-sync replicas,\n"
    "in the format of kafka-topics.sh --describe. Without NAME: every topic.\n"
    "Unhealthy partitions get a Flags field: offline (no live leader),\n"
    "under-replicated (ISR smaller than the replicas), not-preferred-leader\n"
    "(leader is not the first replica).\n"
    "  -a, --all                 include internal topics (names starting with \"__\")\n"
    "      --under-replicated    only partitions whose ISR is smaller than their\n"
    "                            replicas (alias --under-replicated-partitions)\n"
    "      --offline             only partitions without a live leader\n"
    "                            (alias --unavailable-partitions)\n"
    "With --under-replicated and/or --offline only the matching partition lines\n"
    "are printed (either filter matching), without topic header lines.\n"
    "  -o, --output json         one JSON object (shape in docs/cli.md)\n";

struct describe_args {
    bool all, json;
    unsigned filter; /* CLI_PART_* bits; 0: no filter */
};

static int describe_opt(void *ctx, int id, const char *val)
{
    struct describe_args *a = ctx;
    if (id == TD_OUTPUT)
        return cli_parse_output(val, &a->json);
    if (id == TD_ALL)
        a->all = true;
    else if (id == TD_UNDER_REPLICATED)
        a->filter |= CLI_PART_UNDER_REPLICATED;
    else if (id == TD_OFFLINE)
        a->filter |= CLI_PART_OFFLINE;
    return CLI_OK;
}

unsigned cli_part_flags(const struct rd_kafka_metadata *md,
                        const struct rd_kafka_metadata_partition *p)
{
    unsigned flags = 0;
    if (p->leader < 0 || cli_md_broker(md, p->leader) == NULL)
        flags |= CLI_PART_OFFLINE;
    if (p->isr_cnt < p->replica_cnt)
        flags |= CLI_PART_UNDER_REPLICATED;
    if (!(flags & CLI_PART_OFFLINE) && p->replica_cnt > 0 && p->leader != p->replicas[0])
        flags |= CLI_PART_NOT_PREFERRED;
    return flags;
}

/* Writes the names of the set flags, comma separated, into out. */
static void describe_fmt_flags(char *out, size_t size, unsigned flags)
{
    snprintf(out, size, "%s%s%s%s%s", (flags & CLI_PART_OFFLINE) ? "offline" : "",
             (flags & CLI_PART_OFFLINE) && (flags & ~CLI_PART_OFFLINE) ? "," : "",
             (flags & CLI_PART_UNDER_REPLICATED) ? "under-replicated" : "",
             (flags & CLI_PART_UNDER_REPLICATED) && (flags & CLI_PART_NOT_PREFERRED) ? "," : "",
             (flags & CLI_PART_NOT_PREFERRED) ? "not-preferred-leader" : "");
}

/* Appends "k=v" to out (comma separated), truncating silently. */
static void describe_append(char *out, size_t size, const char *k, const char *v)
{
    size_t len = strlen(out);
    if (len + 1 < size)
        snprintf(out + len, size - len, "%s%s=%s", len ? "," : "", k, v ? v : "");
}

/* Appends "k": "v" to out (comma separated, JSON), truncating silently. */
static void describe_append_json(char *out, size_t size, const char *k, const char *v)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL)
        return;
    gp_json_str(f, k);
    fputs(": ", f);
    gp_json_str(f, v);
    fclose(f);
    size_t have = strlen(out);
    if (have + len + 3 < size)
        snprintf(out + have, size - have, "%s%s", have ? ", " : "", buf);
    free(buf);
}

/* Formats the overrides of one DescribeConfigs resource into out: "k=v,..."
 * or, with json, the members of a JSON object. */
static void describe_format_configs(const rd_kafka_ConfigResource_t *res, char *out, size_t size,
                                    bool json)
{
    size_t cnt = 0;
    const rd_kafka_ConfigEntry_t **entries = rd_kafka_ConfigResource_configs(res, &cnt);
    out[0] = '\0';
    for (size_t i = 0; i < cnt; i++) {
        rd_kafka_ConfigSource_t src = rd_kafka_ConfigEntry_source(entries[i]);
        bool override = src == RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG ||
                        (src == RD_KAFKA_CONFIG_SOURCE_UNKNOWN_CONFIG &&
                         !rd_kafka_ConfigEntry_is_default(entries[i]));
        if (override && json)
            describe_append_json(out, size, rd_kafka_ConfigEntry_name(entries[i]),
                                 rd_kafka_ConfigEntry_value(entries[i]));
        else if (override)
            describe_append(out, size, rd_kafka_ConfigEntry_name(entries[i]),
                            rd_kafka_ConfigEntry_value(entries[i]));
    }
}

/* Stores the configs (or the per-topic error) of every resource in the
 * result into cfgs[] (one per name in names[]). */
static void describe_store_configs(rd_kafka_event_t *ev, const char **names, size_t n,
                                   struct describe_cfg *cfgs, bool json)
{
    size_t cnt = 0;
    const rd_kafka_ConfigResource_t **res =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &cnt);
    for (size_t r = 0; r < cnt; r++) {
        for (size_t i = 0; i < n; i++) {
            if (strcmp(names[i], rd_kafka_ConfigResource_name(res[r])) != 0)
                continue;
            if (rd_kafka_ConfigResource_error(res[r]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
                describe_cfg_unavailable(&cfgs[i], rd_kafka_ConfigResource_error_string(res[r]));
                continue;
            }
            describe_format_configs(res[r], cfgs[i].text, sizeof(cfgs[i].text), json);
            cfgs[i].known = true;
        }
    }
}

/*
 * Fills cfgs (n entries) with the config overrides of names[0..n). Best
 * effort: a topic whose configs could not be read gets the reason instead
 * (also reported on stderr with -v).
 */
static void describe_fetch_configs(const struct cli *cli, rd_kafka_t *rk, const char **names,
                                   size_t n, struct describe_cfg *cfgs, bool json)
{
    for (size_t i = 0; i < n; i++)
        describe_cfg_unavailable(&cfgs[i], "no answer for this topic");
    char errstr[256];
    rd_kafka_ConfigResource_t **res = calloc(n, sizeof(*res));
    for (size_t i = 0; i < n; i++)
        res[i] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, names[i]);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opts =
        rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    rd_kafka_AdminOptions_set_request_timeout(opts, DESCRIBE_CONFIGS_TIMEOUT_MS, errstr,
                                              sizeof(errstr));
    rd_kafka_DescribeConfigs(rk, res, n, opts, q);
    /* librdkafka posts a (timed-out) result after the request timeout. */
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, DESCRIBE_CONFIGS_TIMEOUT_MS + 2000);
    if (ev && rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        describe_store_configs(ev, names, n, cfgs, json);
    } else {
        const char *why = ev ? rd_kafka_event_error_string(ev) : "no answer";
        for (size_t i = 0; i < n; i++)
            describe_cfg_unavailable(&cfgs[i], why);
        if (cli->verbose > 0)
            cli_warn("DescribeConfigs failed, Configs unavailable: %s", why);
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_queue_destroy(q);
    rd_kafka_ConfigResource_destroy_array(res, n);
    free(res);
}

/* Writes ids joined by commas into out. */
static void describe_fmt_ids(char *out, size_t size, const int32_t *ids, int cnt)
{
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < cnt && len + 1 < size; i++) {
        int n = snprintf(out + len, size - len, "%s%d", i ? "," : "", ids[i]);
        if (n < 0)
            break;
        len += (size_t)n;
    }
}

static int describe_cmp_part(const void *a, const void *b)
{
    const struct rd_kafka_metadata_partition *pa =
        *(const struct rd_kafka_metadata_partition *const *)a;
    const struct rd_kafka_metadata_partition *pb =
        *(const struct rd_kafka_metadata_partition *const *)b;
    return (pa->id > pb->id) - (pa->id < pb->id);
}

/* Prints one partition line (with its Flags field when unhealthy). */
static void describe_print_part(const char *topic, const struct rd_kafka_metadata_partition *p,
                                unsigned flags)
{
    char leader[16], replicas[512], isr[512], fl[64];
    if (p->leader < 0)
        snprintf(leader, sizeof(leader), "none");
    else
        snprintf(leader, sizeof(leader), "%d", p->leader);
    describe_fmt_ids(replicas, sizeof(replicas), p->replicas, p->replica_cnt);
    describe_fmt_ids(isr, sizeof(isr), p->isrs, p->isr_cnt);
    describe_fmt_flags(fl, sizeof(fl), flags);
    printf("\tTopic: %s\tPartition: %d\tLeader: %s\tReplicas: %s\tIsr: %s%s%s\n", topic, p->id,
           leader, replicas, isr, fl[0] ? "\tFlags: " : "", fl);
}

/* Prints ids as a JSON array. */
static void describe_json_ids(const int32_t *ids, int cnt)
{
    putchar('[');
    for (int i = 0; i < cnt; i++)
        printf("%s%d", i ? ", " : "", ids[i]);
    putchar(']');
}

/* Prints one topic as a JSON object (see the file comment); returns false
 * (nothing printed) when a filter leaves no partition. */
static bool describe_json_topic(const struct rd_kafka_metadata *md,
                                const struct rd_kafka_metadata_topic *t,
                                const struct rd_kafka_metadata_partition **parts, int rf,
                                const struct describe_cfg *cfg, unsigned filter, bool first)
{
    int shown = 0;
    for (int i = 0; i < t->partition_cnt; i++)
        shown += filter == 0 || (cli_part_flags(md, parts[i]) & filter) != 0;
    if (filter != 0 && shown == 0)
        return false;
    printf("%s{\"name\": ", first ? "" : ", ");
    gp_json_str(stdout, t->topic);
    printf(", \"partition_count\": %d, \"replication_factor\": %d, \"configs\": ", t->partition_cnt,
           rf);
    if (filter == 0 && cfg->known)
        printf("{%s}", cfg->text);
    else
        fputs("null", stdout);
    fputs(", \"configs_error\": ", stdout);
    gp_json_str(stdout, filter == 0 && !cfg->known ? cfg->text : NULL);
    fputs(", \"partitions\": [", stdout);
    shown = 0;
    for (int i = 0; i < t->partition_cnt; i++) {
        const struct rd_kafka_metadata_partition *p = parts[i];
        unsigned flags = cli_part_flags(md, p);
        if (filter != 0 && (flags & filter) == 0)
            continue;
        printf("%s{\"partition\": %d, \"leader\": ", shown++ ? ", " : "", p->id);
        if (p->leader < 0)
            fputs("null", stdout);
        else
            printf("%d", p->leader);
        fputs(", \"replicas\": ", stdout);
        describe_json_ids(p->replicas, p->replica_cnt);
        fputs(", \"isr\": ", stdout);
        describe_json_ids(p->isrs, p->isr_cnt);
        printf(", \"flags\": [%s%s%s%s%s]}", (flags & CLI_PART_OFFLINE) ? "\"offline\"" : "",
               (flags & CLI_PART_OFFLINE) && (flags & ~CLI_PART_OFFLINE) ? ", " : "",
               (flags & CLI_PART_UNDER_REPLICATED) ? "\"under-replicated\"" : "",
               (flags & CLI_PART_UNDER_REPLICATED) && (flags & CLI_PART_NOT_PREFERRED) ? ", " : "",
               (flags & CLI_PART_NOT_PREFERRED) ? "\"not-preferred-leader\"" : "");
    }
    fputs("]}", stdout);
    return true;
}

/* Prints one topic: the header line (not with a filter), then one line per
 * partition (with a filter: only the partitions having a filtered flag). */
static bool describe_print_topic(const struct rd_kafka_metadata *md,
                                 const struct rd_kafka_metadata_topic *t,
                                 const struct describe_cfg *cfg, unsigned filter, bool json,
                                 bool first)
{
    const struct rd_kafka_metadata_partition **parts =
        calloc((size_t)t->partition_cnt + 1, sizeof(*parts));
    int rf = 0;
    for (int i = 0; i < t->partition_cnt; i++) {
        parts[i] = &t->partitions[i];
        if (parts[i]->replica_cnt > rf)
            rf = parts[i]->replica_cnt;
    }
    qsort(parts, (size_t)t->partition_cnt, sizeof(*parts), describe_cmp_part);
    if (json) {
        bool printed = describe_json_topic(md, t, parts, rf, cfg, filter, first);
        free(parts);
        return printed;
    }
    if (filter == 0) {
        char line[sizeof(cfg->text) + 512];
        describe_fmt_header(line, sizeof(line), t->topic, t->partition_cnt, rf, cfg);
        fputs(line, stdout);
    }
    for (int i = 0; i < t->partition_cnt; i++) {
        unsigned flags = cli_part_flags(md, parts[i]);
        if (filter == 0 || (flags & filter) != 0)
            describe_print_part(t->topic, parts[i], flags);
    }
    free(parts);
    return true;
}

static int describe_cmp_topic(const void *a, const void *b)
{
    const struct rd_kafka_metadata_topic *ta = *(const struct rd_kafka_metadata_topic *const *)a;
    const struct rd_kafka_metadata_topic *tb = *(const struct rd_kafka_metadata_topic *const *)b;
    return strcmp(ta->topic, tb->topic);
}

/*
 * Selects the topics to print into out (md->topic_cnt + names entries):
 * the named ones in order, or all (sorted). Returns the count, or -1 after
 * printing "topic 'x' does not exist".
 */
static int describe_select(const struct rd_kafka_metadata *md, char **names, int nnames, bool all,
                           const struct rd_kafka_metadata_topic **out)
{
    int n = 0;
    if (nnames == 0) {
        for (int i = 0; i < md->topic_cnt; i++) {
            if (all || !topic_name_internal(md->topics[i].topic, strlen(md->topics[i].topic)))
                out[n++] = &md->topics[i];
        }
        qsort(out, (size_t)n, sizeof(*out), describe_cmp_topic);
        return n;
    }
    for (int i = 0; i < nnames; i++) {
        const struct rd_kafka_metadata_topic *t = cli_md_topic(md, names[i]);
        if (t == NULL || t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
            cli_fail("topic '%s' does not exist", names[i]);
            return -1;
        }
        out[n++] = t;
    }
    return n;
}

/* Prints the selected topics of md; returns the exit code. */
static int describe_print(const struct cli *cli, rd_kafka_t *rk, const struct rd_kafka_metadata *md,
                          char **names, int nnames, const struct describe_args *a)
{
    const struct rd_kafka_metadata_topic **sel =
        calloc((size_t)md->topic_cnt + (size_t)nnames + 1, sizeof(*sel));
    int n = describe_select(md, names, nnames, a->all, sel);
    if (n < 0) {
        free(sel);
        return CLI_FAIL;
    }
    const char **tnames = calloc((size_t)n + 1, sizeof(*tnames));
    struct describe_cfg *cfgs = calloc((size_t)n + 1, sizeof(*cfgs));
    if (!tnames || !cfgs) {
        free(tnames);
        free(cfgs);
        free(sel);
        cli_fail("out of memory");
        return CLI_FAIL;
    }
    for (int i = 0; i < n; i++)
        tnames[i] = sel[i]->topic;
    if (n > 0 && a->filter == 0) /* configs only appear in header lines */
        describe_fetch_configs(cli, rk, tnames, (size_t)n, cfgs, a->json);
    if (a->json)
        fputs("{\"topics\": [", stdout);
    bool first = true;
    for (int i = 0; i < n; i++)
        if (describe_print_topic(md, sel[i], &cfgs[i], a->filter, a->json, first))
            first = false;
    if (a->json)
        fputs("]}\n", stdout);
    free(cfgs);
    free(tnames);
    free(sel);
    return CLI_OK;
}

int topic_describe(struct cli *cli, int argc, char **argv)
{
    struct describe_args a = {false, false, 0};
    const struct rd_kafka_metadata *md = NULL;
    int done, npos = cli_parse_cmd(cli, argc, argv, describe_opts, describe_opt, &a, describe_help,
                                   &done);
    if (npos < 0)
        return done;
    rd_kafka_t *rk;
    int rc = cli_cluster_metadata(cli, &rk, &md);
    if (rc != CLI_OK)
        return rc;
    rc = describe_print(cli, rk, md, argv, npos, &a);
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return rc;
}
