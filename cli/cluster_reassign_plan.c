/*
 * cli/cluster_reassign_plan.c — `gregor cluster reassign --plan`: reads the
 * cluster (live brokers with their racks, every partition's ordered replica
 * list) with one raw Metadata v1 request for all topics (kraw.h; librdkafka
 * 2.0.2 drops racks and the internal flag), runs the planner
 * (reassign_plan.h) for --add-broker or --remove-broker, and prints the
 * proposal. Nothing in the cluster changes: `reassign --execute --file`
 * applies the output.
 *
 * Metadata v1 (Kafka's MetadataRequest/Response schemas):
 *   request:  topics NULLABLE ARRAY (null = all topics) of {name STRING}
 *   response: brokers ARRAY of {node_id INT32, host STRING, port INT32,
 *             rack NULLABLE_STRING}, controller_id INT32, topics ARRAY of
 *             {error_code INT16, name STRING, is_internal BOOLEAN,
 *             partitions ARRAY of {error_code INT16, partition_index INT32,
 *             leader_id INT32, replica_nodes ARRAY of INT32, isr_nodes ARRAY
 *             of INT32}}
 * Sizes, best effort: each live broker is asked DescribeLogDirs v1 (API key
 * 35, when its ApiVersions lists v1+) for every replica it hosts:
 *   request:  topics NULLABLE ARRAY (null = all) of {topic, partitions ARRAY of INT32}
 *   response: throttle_time_ms INT32, results ARRAY of {error_code INT16,
 *             log_dir STRING, topics ARRAY of {name STRING, partitions ARRAY
 *             of {partition_index INT32, partition_size INT64, offset_lag
 *             INT64, is_future_key BOOLEAN}}}
 * A partition's size is the largest any replica reports; a moved replica of
 * a partition no broker reported makes the bytes to move "unknown".
 *
 * Output, stdout or --output FILE (Kafka's reassignment JSON, one line,
 * only the partitions whose replica list changes, sorted by topic and
 * partition):
 *   {"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2,3]}]}
 * and a summary on stderr:
 *   Plan: add broker(s) 3 (racks: a,b,c | racks not set), N topic(s), M partition(s)
 *   Broker  Replicas   Leaders
 *   0       12 -> 9    4 -> 3
 *   3 (not live) ...
 *   Partitions changed: C of M; replicas moved: K; bytes to move: B | unknown
 * Exit status: 0 with a plan (possibly empty), 1 when the cluster cannot
 * be read or the plan is refused, 2 on bad usage.
 */
#include "cli/cli.h"
#include "cli/group_plan.h"
#include "cli/kraw.h"
#include "cli/reassign_plan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/kwire.h"
#include "common/names.h"
#include "common/vec.h"

#define RPLAN_TIMEOUT_MS 10000
#define RPLAN_MAX_IDS 64
#define RPLAN_MAX_TOPICS 256
#define RPLAN_API_DESCRIBE_LOG_DIRS 35 /* Kafka's API key; answered by brokers that list it */

enum { RO_PLAN = 1, RO_ADD, RO_REMOVE, RO_TOPICS, RO_EXCL_INTERNAL, RO_OUTPUT };

static const struct cli_opt rplan_opts[] = {
    {"plan", 0, false, RO_PLAN},
    {"add-broker", 0, true, RO_ADD},
    {"remove-broker", 0, true, RO_REMOVE},
    {"topics", 0, true, RO_TOPICS},
    {"exclude-internal", 0, false, RO_EXCL_INTERNAL},
    {"output", 'o', true, RO_OUTPUT},
    {NULL, 0, false, 0},
};

static const char rplan_help[] =
    "Usage: gregor cluster reassign --plan (--add-broker ID[,ID] | --remove-broker ID[,ID])\n"
    "                               [--topics T1,T2] [--exclude-internal] [--output FILE]\n"
    "Proposes new replica lists (nothing changes in the cluster):\n"
    "  --add-broker ID[,ID]     new brokers: replicas move to them until every live\n"
    "                           broker holds a fair share (within one of the mean,\n"
    "                           per topic and overall), preferred leaders likewise\n"
    "  --remove-broker ID[,ID]  brokers to decommission: their replicas move to the\n"
    "                           other live brokers; nothing else moves\n"
    "  --topics T1,T2           plan only these topics (default: every topic)\n"
    "  --exclude-internal       leave __consumer_offsets alone\n"
    "  -o, --output FILE        write the plan there instead of stdout\n"
    "Replication factors are kept and racks stay apart when every broker has one.\n"
    "Prints Kafka's reassignment JSON, listing only the partitions that change,\n"
    "and a summary (replicas per broker before -> after) on stderr. Apply it with\n"
    "'gregor cluster reassign --execute --file FILE'.\n";

struct rplan_args {
    int32_t add[RPLAN_MAX_IDS], remove[RPLAN_MAX_IDS];
    int nadd, nremove;
    char *topics[RPLAN_MAX_TOPICS]; /* borrowed from argv (split in place) */
    int ntopics;
    bool exclude_internal;
    const char *output;
};

/* What Metadata v1 told: owned strings. */
struct rplan_cluster {
    struct rp_broker *brokers;
    char **racks; /* per broker, owned, NULL when none */
    char **hosts; /* per broker, owned */
    int32_t *ports;
    int nbrokers;
    size_t bcap;
    struct rp_partition *parts;
    int nparts;
    size_t pcap;
    char **topic_names; /* owned, one per topic seen (parts point into them) */
    int ntopics;
    size_t tcap;
};

static int rplan_ids(const char *opt, char *val, int32_t *ids, int *n)
{
    for (char *save = NULL, *tok = strtok_r(val, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        int64_t id;
        if (!cli_parse_int(tok, 0, INT32_MAX, &id))
            return cli_usage_error("%s: expected broker ids (0,1,...), got '%s'", opt, tok);
        if (*n >= RPLAN_MAX_IDS)
            return cli_usage_error("%s: at most %d brokers", opt, RPLAN_MAX_IDS);
        ids[(*n)++] = (int32_t)id;
    }
    return CLI_OK;
}

static int rplan_opt(void *ctx, int id, const char *val)
{
    struct rplan_args *a = ctx;
    switch (id) {
    case RO_PLAN:
        return CLI_OK;
    case RO_ADD:
        return rplan_ids("--add-broker", (char *)val, a->add, &a->nadd);
    case RO_REMOVE:
        return rplan_ids("--remove-broker", (char *)val, a->remove, &a->nremove);
    case RO_TOPICS:
        for (char *save = NULL, *tok = strtok_r((char *)val, ",", &save); tok;
             tok = strtok_r(NULL, ",", &save)) {
            if (a->ntopics >= RPLAN_MAX_TOPICS)
                return cli_usage_error("--topics: at most %d topics", RPLAN_MAX_TOPICS);
            a->topics[a->ntopics++] = tok;
        }
        return CLI_OK;
    case RO_EXCL_INTERNAL:
        a->exclude_internal = true;
        return CLI_OK;
    case RO_OUTPUT:
        a->output = val;
        return CLI_OK;
    }
    return CLI_USAGE;
}

static bool rplan_topic_wanted(const struct rplan_args *a, struct kstr name, bool internal)
{
    if (internal && a->exclude_internal)
        return false;
    if (a->ntopics == 0)
        return true;
    for (int i = 0; i < a->ntopics; i++) {
        if (kstr_eq(name, a->topics[i]))
            return true;
    }
    return false;
}

static bool rplan_decode_brokers(struct kslice *s, struct rplan_cluster *c)
{
    int32_t n = kw_get_array_len(s, false, 14);
    for (int32_t i = 0; i < n && kslice_ok(s); i++) {
        if (!VEC_RESERVE_AT(c->brokers, c->bcap, (size_t)c->nbrokers + 1))
            return false;
        size_t rcap = c->bcap;
        char **racks = realloc(c->racks, rcap * sizeof(*racks));
        if (racks != NULL)
            c->racks = racks;
        char **hosts = realloc(c->hosts, rcap * sizeof(*hosts));
        if (hosts != NULL)
            c->hosts = hosts;
        int32_t *ports = realloc(c->ports, rcap * sizeof(*ports));
        if (ports != NULL)
            c->ports = ports;
        if (racks == NULL || hosts == NULL || ports == NULL)
            return false;
        struct rp_broker *b = &c->brokers[c->nbrokers];
        b->id = kslice_i32(s);
        c->hosts[c->nbrokers] = kstr_dup(kw_get_str(s, false));
        c->ports[c->nbrokers] = kslice_i32(s);
        struct kstr rack = kw_get_str(s, false);
        c->racks[c->nbrokers] = kstr_is_null(rack) ? NULL : kstr_dup(rack);
        b->rack = c->racks[c->nbrokers];
        c->nbrokers++;
    }
    return kslice_ok(s);
}

/* Decodes one partition entry into the next rp_partition (kept when
 * `keep`); false on malformed input or out of memory. */
static bool rplan_decode_partition(struct kslice *s, struct rplan_cluster *c, const char *topic,
                                   bool keep, char *why, size_t whylen)
{
    (void)kslice_i16(s); /* error_code: a partition without a leader still has replicas */
    int32_t index = kslice_i32(s);
    (void)kslice_i32(s); /* leader_id */
    int32_t nr = kw_get_array_len(s, false, 4);
    int32_t reps[RP_MAX_RF];
    for (int32_t k = 0; k < nr && kslice_ok(s); k++) {
        int32_t id = kslice_i32(s);
        if (k < RP_MAX_RF)
            reps[k] = id;
    }
    int32_t ni = kw_get_array_len(s, false, 4);
    for (int32_t k = 0; k < ni && kslice_ok(s); k++)
        (void)kslice_i32(s);
    if (!kslice_ok(s) || !keep)
        return kslice_ok(s);
    if (nr < 1 || nr > RP_MAX_RF) {
        snprintf(why, whylen, "%s-%d has %d replicas (1..%d can be planned)", topic, index, nr,
                 RP_MAX_RF);
        return false;
    }
    if (!VEC_RESERVE_AT(c->parts, c->pcap, (size_t)c->nparts + 1)) {
        snprintf(why, whylen, "out of memory");
        return false;
    }
    struct rp_partition *p = &c->parts[c->nparts++];
    memset(p, 0, sizeof(*p));
    p->topic = topic;
    p->partition = index;
    p->nreplicas = nr;
    p->size_bytes = -1;
    memcpy(p->replicas, reps, sizeof(int32_t) * (size_t)nr);
    return true;
}

/* Decodes a Metadata v1 response into c, keeping the wanted topics and
 * marking each named one found. false with `why` set on failure. */
static bool rplan_decode(const uint8_t *resp, size_t len, const struct rplan_args *a, bool *found,
                         struct rplan_cluster *c, char *why, size_t whylen)
{
    struct kslice s;
    kslice_init(&s, resp, len);
    snprintf(why, whylen, "malformed Metadata response");
    if (!rplan_decode_brokers(&s, c))
        return false;
    (void)kslice_i32(&s); /* controller_id */
    int32_t nt = kw_get_array_len(&s, false, 9);
    for (int32_t t = 0; t < nt && kslice_ok(&s); t++) {
        int16_t err = kslice_i16(&s);
        struct kstr name = kw_get_str(&s, false);
        bool internal = kslice_u8(&s) != 0;
        bool keep = kslice_ok(&s) && !kstr_is_null(name) && err == 0 &&
                    rplan_topic_wanted(a, name, internal);
        char *topic = NULL;
        if (keep) {
            if (!VEC_RESERVE_AT(c->topic_names, c->tcap, (size_t)c->ntopics + 1) ||
                (topic = kstr_dup(name)) == NULL) {
                snprintf(why, whylen, "out of memory");
                return false;
            }
            c->topic_names[c->ntopics++] = topic;
            for (int i = 0; i < a->ntopics; i++)
                found[i] |= strcmp(a->topics[i], topic) == 0;
        }
        int32_t np = kw_get_array_len(&s, false, 18);
        for (int32_t p = 0; p < np && kslice_ok(&s); p++) {
            if (!rplan_decode_partition(&s, c, topic, keep, why, whylen))
                return false;
        }
    }
    return kslice_ok(&s);
}

static void rplan_cluster_free(struct rplan_cluster *c)
{
    for (int i = 0; i < c->nbrokers; i++) {
        free(c->racks[i]);
        free(c->hosts[i]);
    }
    free(c->racks);
    free(c->hosts);
    free(c->ports);
    free(c->brokers);
    free(c->parts);
    for (int i = 0; i < c->ntopics; i++)
        free(c->topic_names[i]);
    free(c->topic_names);
}

/* Reads the cluster: librdkafka finds a reachable broker (failing fast
 * with the usual message), then Metadata v1 for all topics goes to it. */
static int rplan_read(struct cli *cli, const struct rplan_args *a, struct rplan_cluster *c)
{
    rd_kafka_t *rk;
    const struct rd_kafka_metadata *md;
    int rc = cli_admin_client(cli, &rk);
    if (rc != CLI_OK)
        return rc;
    rc = cli_metadata(cli, rk, NULL, &md);
    if (rc != CLI_OK) {
        rd_kafka_destroy(rk);
        return rc;
    }
    const struct rd_kafka_metadata_broker *b = cli_md_broker(md, md->orig_broker_id);
    if (b == NULL && md->broker_cnt > 0)
        b = &md->brokers[0];
    struct kraw k;
    struct kbuf body;
    uint8_t *resp = NULL;
    size_t len = 0;
    char why[256];
    bool found[RPLAN_MAX_TOPICS] = {false};
    kbuf_init(&body);
    kw_put_array_len(&body, false, -1); /* null: every topic */
    if (b == NULL) {
        rc = cli_fail("no broker in the cluster's metadata");
    } else if (kraw_connect(&k, b->host, b->port, RPLAN_TIMEOUT_MS) != KRAW_OK ||
               kraw_call(&k, API_METADATA, 1, &body, &resp, &len) != KRAW_OK) {
        rc = cli_fail("Metadata from %s:%d: %s", b->host, b->port, k.reason);
    } else if (!rplan_decode(resp, len, a, found, c, why, sizeof(why))) {
        rc = cli_fail("Metadata from %s:%d: %s", b->host, b->port, why);
    }
    if (b != NULL)
        kraw_close(&k);
    for (int i = 0; i < a->ntopics && rc == CLI_OK; i++) {
        if (!found[i])
            rc = cli_fail("topic '%s' does not exist", a->topics[i]);
    }
    free(resp);
    kbuf_destroy(&body);
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return rc;
}

static int rplan_cmp_part(const void *x, const void *y)
{
    const struct rp_partition *a = x, *b = y;
    int c = strcmp(a->topic, b->topic);
    return c ? c : (a->partition > b->partition) - (a->partition < b->partition);
}

/* Records a size DescribeLogDirs reported: a partition's size is the largest
 * any of its replicas has (c->parts sorted by topic and partition). */
static void rplan_note_size(struct rplan_cluster *c, struct kstr topic, int32_t partition,
                            int64_t size)
{
    int lo = 0, hi = c->nparts - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        struct rp_partition *p = &c->parts[mid];
        size_t n = strlen(p->topic);
        int cmp = memcmp(p->topic, topic.ptr, n < (size_t)topic.len ? n : (size_t)topic.len);
        if (cmp == 0)
            cmp = (n > (size_t)topic.len) - (n < (size_t)topic.len);
        if (cmp == 0)
            cmp = (p->partition > partition) - (p->partition < partition);
        if (cmp == 0) {
            if (size > p->size_bytes)
                p->size_bytes = size;
            return;
        }
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
}

/* Decodes a DescribeLogDirs v1 response body into the partition sizes. */
static bool rplan_decode_sizes(const uint8_t *resp, size_t len, struct rplan_cluster *c)
{
    struct kslice s;
    kslice_init(&s, resp, len);
    (void)kslice_i32(&s); /* throttle_time_ms */
    int32_t nd = kw_get_array_len(&s, false, 8);
    for (int32_t d = 0; d < nd && kslice_ok(&s); d++) {
        int16_t err = kslice_i16(&s);
        (void)kw_get_str(&s, false); /* log_dir */
        int32_t nt = kw_get_array_len(&s, false, 6);
        for (int32_t t = 0; t < nt && kslice_ok(&s); t++) {
            struct kstr name = kw_get_str(&s, false);
            int32_t np = kw_get_array_len(&s, false, 21);
            for (int32_t p = 0; p < np && kslice_ok(&s); p++) {
                int32_t index = kslice_i32(&s);
                int64_t size = kslice_i64(&s);
                (void)kslice_i64(&s); /* offset_lag */
                bool future = kslice_u8(&s) != 0;
                if (kslice_ok(&s) && err == 0 && !future && !kstr_is_null(name) && size >= 0)
                    rplan_note_size(c, name, index, size);
            }
        }
    }
    return kslice_ok(&s);
}

/* Asks live broker b for the sizes of the replicas it hosts (DescribeLogDirs
 * v1, every topic). false with k.reason-like text in why when it cannot. */
static bool rplan_broker_sizes(struct rplan_cluster *c, int b, char *why, size_t whylen)
{
    struct kraw k;
    struct kbuf body;
    uint8_t *resp = NULL;
    size_t len = 0;
    int16_t maxv = -1;
    bool ok = false;
    kbuf_init(&body);
    kw_put_array_len(&body, false, -1); /* null: every replica */
    if (c->hosts[b] == NULL)
        snprintf(why, whylen, "no host");
    else if (kraw_connect(&k, c->hosts[b], c->ports[b], RPLAN_TIMEOUT_MS) != KRAW_OK ||
             kraw_api_max_version(&k, RPLAN_API_DESCRIBE_LOG_DIRS, &maxv) != KRAW_OK)
        snprintf(why, whylen, "%s", k.reason);
    else if (maxv < 1)
        snprintf(why, whylen, "DescribeLogDirs v1 not supported");
    else if (kraw_call(&k, RPLAN_API_DESCRIBE_LOG_DIRS, 1, &body, &resp, &len) != KRAW_OK)
        snprintf(why, whylen, "%s", k.reason);
    else if (!(ok = rplan_decode_sizes(resp, len, c)))
        snprintf(why, whylen, "malformed DescribeLogDirs response");
    if (c->hosts[b] != NULL)
        kraw_close(&k);
    free(resp);
    kbuf_destroy(&body);
    return ok;
}

/* Best effort: partition sizes from every live broker; what no broker
 * reports stays unknown (-1), and so do the bytes to move. */
static void rplan_fetch_sizes(const struct cli *cli, struct rplan_cluster *c)
{
    char why[600];
    for (int b = 0; b < c->nbrokers; b++) {
        if (!rplan_broker_sizes(c, b, why, sizeof(why)) && cli->verbose > 0)
            cli_warn("sizes from broker %d unknown: %s", c->brokers[b].id, why);
    }
}

static void rplan_print_json(FILE *f, const struct rplan_cluster *c)
{
    bool first = true;
    fputs("{\"version\":1,\"partitions\":[", f);
    for (int i = 0; i < c->nparts; i++) {
        const struct rp_partition *p = &c->parts[i];
        if (!rp_changed(p))
            continue;
        fputs(first ? "{\"topic\":" : ",{\"topic\":", f);
        gp_json_str(f, p->topic);
        fprintf(f, ",\"partition\":%d,\"replicas\":[", p->partition);
        for (int k = 0; k < p->nreplicas; k++)
            fprintf(f, "%s%d", k ? "," : "", p->next[k]);
        fputs("]}", f);
        first = false;
    }
    fputs("]}\n", f);
}

static void rplan_print_ids(const int32_t *ids, int n)
{
    for (int i = 0; i < n; i++)
        fprintf(stderr, "%s%d", i ? "," : "", ids[i]);
}

static void rplan_print_summary(const struct rplan_args *a, const struct rplan_cluster *c,
                                const struct rp_result *res)
{
    fprintf(stderr, "Plan: %s broker(s) ", a->nadd ? "add" : "remove");
    rplan_print_ids(a->nadd ? a->add : a->remove, a->nadd ? a->nadd : a->nremove);
    fprintf(stderr, " (%s), %d topic(s), %d partition(s)\n",
            res->rack_aware ? "rack-aware" : "racks not set", c->ntopics, c->nparts);
    fprintf(stderr, "Broker        Replicas      Leaders\n");
    for (int i = 0; i < res->nstats; i++) {
        const struct rp_broker_stat *s = &res->stats[i];
        char id[32], rep[32];
        snprintf(id, sizeof(id), "%d%s", s->id, s->live ? "" : " (not live)");
        snprintf(rep, sizeof(rep), "%d -> %d", s->replicas_before, s->replicas_after);
        fprintf(stderr, "%-13s %-13s %d -> %d\n", id, rep, s->leaders_before, s->leaders_after);
    }
    fprintf(stderr,
            "Partitions changed: %d of %d; replicas moved: %d; bytes to move: ", res->changed,
            c->nparts, res->moved);
    if (res->move_bytes >= 0)
        fprintf(stderr, "%lld\n", (long long)res->move_bytes);
    else
        fprintf(stderr, "unknown\n");
}

/* Racks on some brokers only: Kafka refuses; the plan ignores them. */
static void rplan_check_racks(const struct rplan_cluster *c)
{
    int with = 0;
    for (int i = 0; i < c->nbrokers; i++)
        with += c->brokers[i].rack != NULL && c->brokers[i].rack[0] != '\0';
    if (with > 0 && with < c->nbrokers)
        cli_warn("only %d of %d brokers have a rack: planning without racks", with, c->nbrokers);
}

static int rplan_write(const struct rplan_args *a, const struct rplan_cluster *c)
{
    if (a->output == NULL) {
        rplan_print_json(stdout, c);
        return CLI_OK;
    }
    FILE *f = fopen(a->output, "w");
    if (f == NULL)
        return cli_fail("%s: %s", a->output, strerror(errno));
    rplan_print_json(f, c);
    if (fclose(f) != 0)
        return cli_fail("%s: %s", a->output, strerror(errno));
    fprintf(stderr, "Plan written to %s\n", a->output);
    return CLI_OK;
}

int cluster_reassign_plan(struct cli *cli, int argc, char **argv)
{
    struct rplan_args a;
    struct rplan_cluster c;
    memset(&a, 0, sizeof(a));
    memset(&c, 0, sizeof(c));
    int done, npos = cli_parse_cmd(cli, argc, argv, rplan_opts, rplan_opt, &a, rplan_help, &done);
    if (npos < 0)
        return done;
    if (npos > 0)
        return cli_usage_positional(cli, "unexpected argument");
    if (a.nadd > 0 && a.nremove > 0)
        return cli_usage_error("--add-broker and --remove-broker cannot be combined");
    if (a.nadd == 0 && a.nremove == 0)
        return cli_usage_error("--plan needs --add-broker ID[,ID] or --remove-broker ID[,ID]");
    int rc = rplan_read(cli, &a, &c);
    if (rc != CLI_OK) {
        rplan_cluster_free(&c);
        return rc;
    }
    rplan_check_racks(&c);
    qsort(c.parts, (size_t)c.nparts, sizeof(*c.parts), rplan_cmp_part);
    rplan_fetch_sizes(cli, &c);
    struct rp_input in = {c.brokers, c.nbrokers, c.parts,  c.nparts,
                          a.add,     a.nadd,     a.remove, a.nremove};
    struct rp_result res;
    char err[512];
    if (rp_plan(&in, &res, err, sizeof(err)) != 0) {
        rc = cli_fail("%s", err);
    } else {
        rplan_print_summary(&a, &c, &res);
        rc = rplan_write(&a, &c);
        free(res.stats);
    }
    rplan_cluster_free(&c);
    return rc;
}
