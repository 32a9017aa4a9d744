/*
 * cli/cluster.c — `gregor cluster info` and the dispatch of the cluster
 * subcommands (elect-leaders lives in cluster_elect.c, watch in
 * cluster_watch.c, log-dirs in cluster_log_dirs.c, config in cluster_config.c,
 * reassign in cluster_reassign.c, which hands --plan to
 * cluster_reassign_plan.c).
 *
 * cluster info: the cluster id (rd_kafka_clusterid()), the controller id
 * (rd_kafka_controllerid()), the live brokers from a Metadata request for
 * all topics, and partition health counts over every topic (internal ones
 * included) using the rules of cli_part_flags(). librdkafka 2.0.2 drops
 * the brokers' racks, so they come from one raw Metadata v1 request with
 * an empty topic list (kraw.h), best effort: on failure racks are unknown.
 *
 * Text output:
 *   Cluster id: <id or "unknown">
 *   Controller: <id or "none">
 *   Brokers: <n>
 *     <id><TAB><host>:<port>[<TAB>rack: <rack>][<TAB>(controller)]
 *   Topics: <n>
 *   Partitions: <n>
 *   Offline partitions: <n>
 *   Under-replicated partitions: <n>
 *   Preferred-leader imbalance: <n>
 * --output json (or --json): one object {"cluster_id": str|null, "controller_id": int (-1 if
 * unknown), "brokers": [{"id", "host", "port", "rack": str|null,
 * "controller": bool}], "topics", "partitions", "offline_partitions",
 * "under_replicated_partitions", "preferred_leader_imbalance"}.
 * Brokers are sorted by id.
 */
#include "cli/cli.h"
#include "cli/group_plan.h"
#include "cli/kraw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/kwire.h"

#define CLUSTER_TIMEOUT_MS 5000

static const struct cli_opt cluster_info_opts[] = {
    {"json", 'j', false, 1},
    {"output", 'o', true, 2},
    {NULL, 0, false, 0},
};

static const char cluster_info_help[] =
    "Usage: gregor cluster info [--output text|json]\n"
    "Prints the cluster id, the controller, every live broker (id, host:port,\n"
    "rack) and partition health over all topics: offline partitions (no live\n"
    "leader), under-replicated partitions (ISR smaller than the replicas) and\n"
    "the preferred-leader imbalance (leader is not the first replica).\n"
    "  -o, --output json   print one JSON object instead of text\n"
    "  -j, --json          the same as --output json\n";

/* What `cluster info` shows, gathered before printing. Strings borrowed
 * from the metadata or owned as noted. */
struct cluster_view {
    const struct rd_kafka_metadata *md;
    char *cluster_id;   /* owned (rd_kafka_mem_free); NULL if unknown */
    int32_t controller; /* -1 if unknown */
    char (*racks)[128]; /* owned; per md->brokers index; "" if none */
    int *order;         /* owned; md->brokers indexes sorted by id */
    int topics, partitions, offline, under_replicated, imbalance;
};

static int cluster_flag_opt(void *ctx, int id, const char *val)
{
    if (id == 2)
        return cli_parse_output(val, ctx);
    *(bool *)ctx = true;
    return CLI_OK;
}

static void cluster_summarize(struct cluster_view *v)
{
    const struct rd_kafka_metadata *md = v->md;
    for (int t = 0; t < md->topic_cnt; t++) {
        if (md->topics[t].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
            continue;
        v->topics++;
        for (int p = 0; p < md->topics[t].partition_cnt; p++) {
            unsigned f = cli_part_flags(md, &md->topics[t].partitions[p]);
            v->partitions++;
            v->offline += (f & CLI_PART_OFFLINE) != 0;
            v->under_replicated += (f & CLI_PART_UNDER_REPLICATED) != 0;
            v->imbalance += (f & CLI_PART_NOT_PREFERRED) != 0;
        }
    }
}

/* Decodes a Metadata v1 response body and stores each listed broker's
 * rack into v->racks. Unknown brokers are ignored. */
static void cluster_parse_racks(struct cluster_view *v, const uint8_t *resp, size_t len)
{
    struct kslice s;
    kslice_init(&s, resp, len);
    int32_t n = kw_get_array_len(&s, false, 12);
    for (int32_t i = 0; i < n && kslice_ok(&s); i++) {
        int32_t id = kslice_i32(&s);
        (void)kw_get_str(&s, false); /* host */
        (void)kslice_i32(&s);        /* port */
        struct kstr rack = kw_get_str(&s, false);
        if (!kslice_ok(&s) || kstr_is_null(rack))
            continue;
        for (int b = 0; b < v->md->broker_cnt; b++) {
            if (v->md->brokers[b].id == id && !kstr_copy(rack, v->racks[b], sizeof(v->racks[b])))
                v->racks[b][0] = '\0';
        }
    }
}

/* Best effort: asks the broker that answered the metadata for the racks. */
static void cluster_fetch_racks(const struct cli *cli, struct cluster_view *v)
{
    const struct rd_kafka_metadata_broker *b = cli_md_broker(v->md, v->md->orig_broker_id);
    struct kraw k;
    struct kbuf body;
    uint8_t *resp = NULL;
    size_t len = 0;
    if (b == NULL)
        return;
    kbuf_init(&body);
    kw_put_array_len(&body, false, 0); /* no topics: brokers only */
    int rc = kraw_connect(&k, b->host, b->port, CLUSTER_TIMEOUT_MS);
    if (rc == KRAW_OK)
        rc = kraw_call(&k, API_METADATA, 1, &body, &resp, &len);
    if (rc == KRAW_OK)
        cluster_parse_racks(v, resp, len);
    else if (cli->verbose > 0)
        cli_warn("racks unknown: %s", k.reason);
    free(resp);
    kraw_close(&k);
    kbuf_destroy(&body);
}

/* Sorts v->order (md->brokers indexes) by broker id; a handful of brokers,
 * so insertion sort. */
static void cluster_sort_brokers(struct cluster_view *v)
{
    for (int i = 1; i < v->md->broker_cnt; i++) {
        int cur = v->order[i], j = i;
        while (j > 0 && v->md->brokers[v->order[j - 1]].id > v->md->brokers[cur].id) {
            v->order[j] = v->order[j - 1];
            j--;
        }
        v->order[j] = cur;
    }
}

static void cluster_print_json(const struct cluster_view *v)
{
    fputs("{\"cluster_id\": ", stdout);
    gp_json_str(stdout, v->cluster_id);
    printf(", \"controller_id\": %d, \"brokers\": [", v->controller);
    for (int i = 0; i < v->md->broker_cnt; i++) {
        const struct rd_kafka_metadata_broker *b = &v->md->brokers[v->order[i]];
        printf("%s{\"id\": %d, \"host\": ", i ? ", " : "", b->id);
        gp_json_str(stdout, b->host);
        printf(", \"port\": %d, \"rack\": ", b->port);
        gp_json_str(stdout, v->racks[v->order[i]][0] ? v->racks[v->order[i]] : NULL);
        printf(", \"controller\": %s}", b->id == v->controller ? "true" : "false");
    }
    printf("], \"topics\": %d, \"partitions\": %d, \"offline_partitions\": %d, "
           "\"under_replicated_partitions\": %d, \"preferred_leader_imbalance\": %d}\n",
           v->topics, v->partitions, v->offline, v->under_replicated, v->imbalance);
}

static void cluster_print_text(const struct cluster_view *v)
{
    printf("Cluster id: %s\n", v->cluster_id ? v->cluster_id : "unknown");
    if (v->controller >= 0)
        printf("Controller: %d\n", v->controller);
    else
        printf("Controller: none\n");
    printf("Brokers: %d\n", v->md->broker_cnt);
    for (int i = 0; i < v->md->broker_cnt; i++) {
        const struct rd_kafka_metadata_broker *b = &v->md->brokers[v->order[i]];
        const char *rack = v->racks[v->order[i]];
        printf("  %d\t%s:%d%s%s%s\n", b->id, b->host, b->port, rack[0] ? "\track: " : "", rack,
               b->id == v->controller ? "\t(controller)" : "");
    }
    printf("Topics: %d\nPartitions: %d\nOffline partitions: %d\n"
           "Under-replicated partitions: %d\nPreferred-leader imbalance: %d\n",
           v->topics, v->partitions, v->offline, v->under_replicated, v->imbalance);
}

/* Fills v from md and the client's cached cluster id / controller. */
static void cluster_gather(const struct cli *cli, rd_kafka_t *rk, struct cluster_view *v)
{
    int n = v->md->broker_cnt;
    v->cluster_id = rd_kafka_clusterid(rk, CLUSTER_TIMEOUT_MS);
    v->controller = rd_kafka_controllerid(rk, CLUSTER_TIMEOUT_MS);
    v->racks = calloc((size_t)n + 1, sizeof(*v->racks));
    v->order = calloc((size_t)n + 1, sizeof(*v->order));
    if (v->racks == NULL || v->order == NULL)
        return;
    for (int i = 0; i < n; i++)
        v->order[i] = i;
    cluster_sort_brokers(v);
    cluster_summarize(v);
    cluster_fetch_racks(cli, v);
}

static int cluster_info(struct cli *cli, int argc, char **argv)
{
    bool json = false;
    struct cluster_view v;
    memset(&v, 0, sizeof(v));
    int done, npos = cli_parse_cmd(cli, argc, argv, cluster_info_opts, cluster_flag_opt, &json,
                                   cluster_info_help, &done);
    if (npos < 0)
        return done;
    if (npos > 0)
        return cli_usage_positional(cli, "unexpected argument");
    rd_kafka_t *rk;
    int rc = cli_cluster_metadata(cli, &rk, &v.md);
    if (rc != CLI_OK)
        return rc;
    cluster_gather(cli, rk, &v);
    if (v.racks == NULL || v.order == NULL)
        rc = cli_fail("out of memory");
    else if (json)
        cluster_print_json(&v);
    else
        cluster_print_text(&v);
    rd_kafka_metadata_destroy(v.md);
    if (v.cluster_id)
        rd_kafka_mem_free(rk, v.cluster_id);
    free(v.racks);
    free(v.order);
    rd_kafka_destroy(rk);
    return rc;
}

/* ---- dispatch ------------------------------------------------------------ */

static const char cluster_help[] =
    "Usage: gregor cluster <info|watch|elect-leaders|log-dirs|config|reassign> [ARGS]\n"
    "  info [--output json]                     controller, brokers, partition health\n"
    "  watch [--interval MS] [--output json]    live events: brokers, controller,\n"
    "                                           leaders, ISRs, partition flags\n"
    "  elect-leaders (--all | --topic T [--partition P]) [--unclean]\n"
    "                                           move leadership back to the\n"
    "                                           preferred (first) replicas, or\n"
    "                                           (--unclean) elect offline ones\n"
    "  log-dirs [--broker ID] [--output json]   each broker's log directories: space,\n"
    "                                           replica sizes and offset lags\n"
    "  config describe [--broker ID | --default]\n"
    "  config set [--broker ID | --default] KEY=VALUE... [--delete KEY]...\n"
    "                                           dynamic broker configs, live\n"
    "  reassign (--execute --file F | --status [--file F] | --cancel [--file F])\n"
    "                                           move partitions between brokers\n"
    "  reassign --plan (--add-broker ID[,ID] | --remove-broker ID[,ID])\n"
    "                                           propose replica moves (JSON)\n"
    "Run 'gregor cluster <subcommand> --help' for details.\n";

static const struct cli_sub cluster_subs[] = {
    {"info", "cluster info", cluster_info},
    {"watch", "cluster watch", cluster_watch},
    {"elect-leaders", "cluster elect-leaders", cluster_elect_leaders},
    {"log-dirs", "cluster log-dirs", cluster_log_dirs},
    {"config", "cluster config", cluster_config_main},
    {"reassign", "cluster reassign", cluster_reassign},
};

int cluster_main(struct cli *cli, int argc, char **argv)
{
    return cli_run_sub(cli, argc, argv, cluster_subs,
                       sizeof(cluster_subs) / sizeof(cluster_subs[0]), cluster_help);
}
