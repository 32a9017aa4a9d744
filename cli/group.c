/*
 * cli/group.c — `gregor group list | describe | delete | delete-offsets`,
 * the `group` dispatcher (reset-offsets is group_reset.c) and the
 * librdkafka helpers the group commands share (group.h).
 *
 * Text output (TAB-free, aligned columns):
 *   list:      GROUP  STATE  PROTOCOL-TYPE   (one line per group, sorted)
 *   describe:  a "Group: ..." header, one "Member: ..." line per member,
 *              then a table TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET
 *              LAG LAG-SECONDS MEMBER-ID (sorted by topic, partition)
 * JSON output (--output json): one document per run, shapes in docs/cli.md.
 * Lag in seconds is wall-clock now minus the timestamp of the record at
 * the committed offset (the next one the group would read), fetched with a
 * group-less consumer; "-" (JSON 0) when caught up, "-" (JSON null) when
 * unknown.
 *
 * Threads: main thread only.
 */
#include "cli/group.h"
#include "cli/group_plan.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/base.h"

/* ---- shared helpers (group.h) -------------------------------------------- */

int64_t grp_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int grp_parse_output(const char *val, bool *json)
{
    if (strcmp(val, "json") == 0)
        *json = true;
    else if (strcmp(val, "text") == 0)
        *json = false;
    else
        return cli_usage_error("--output: expected json or text, got '%s'", val);
    return CLI_OK;
}

int grp_parse_topic_arg(const char *val, struct grp_topic_arg *t)
{
    memset(t, 0, sizeof(*t));
    const char *colon = strrchr(val, ':');
    size_t len = colon ? (size_t)(colon - val) : strlen(val);
    if (len == 0)
        return cli_usage_error("--topic: expected T or T:P,P..., got '%s'", val);
    t->topic = strndup(val, len);
    if (t->topic == NULL)
        return cli_fail("out of memory");
    if (colon == NULL)
        return CLI_OK;
    const char *p = colon + 1;
    do {
        char num[16];
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        int64_t v;
        snprintf(num, sizeof(num), "%.*s", (int)MIN(n, sizeof(num) - 1), p);
        if (n == 0 || n >= sizeof(num) || !cli_parse_int(num, 0, INT32_MAX, &v)) {
            grp_topic_arg_free(t);
            return cli_usage_error("--topic: bad partition list in '%s'", val);
        }
        int32_t *np = realloc(t->parts, (size_t)(t->nparts + 1) * sizeof(*np));
        if (np == NULL) {
            grp_topic_arg_free(t);
            return cli_fail("out of memory");
        }
        t->parts = np;
        t->parts[t->nparts++] = (int32_t)v;
        p = comma ? comma + 1 : NULL;
    } while (p);
    return CLI_OK;
}

void grp_topic_arg_free(struct grp_topic_arg *t)
{
    free(t->topic);
    free(t->parts);
    memset(t, 0, sizeof(*t));
}

int grp_expand_topics(struct cli *cli, rd_kafka_t *rk, const struct grp_topic_arg *topics, int n,
                      rd_kafka_topic_partition_list_t **out)
{
    const struct rd_kafka_metadata *md = NULL;
    int rc = cli_metadata(cli, rk, NULL, &md);
    if (rc != CLI_OK)
        return rc;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16);
    for (int i = 0; i < n && rc == CLI_OK; i++) {
        const struct rd_kafka_metadata_topic *t = cli_md_topic(md, topics[i].topic);
        if (t == NULL || t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
            t->partition_cnt == 0) {
            rc = cli_fail("topic '%s' does not exist", topics[i].topic);
            break;
        }
        if (topics[i].parts == NULL) {
            for (int p = 0; p < t->partition_cnt; p++)
                rd_kafka_topic_partition_list_add(l, t->topic, t->partitions[p].id);
            continue;
        }
        for (int k = 0; k < topics[i].nparts && rc == CLI_OK; k++) {
            int32_t p = topics[i].parts[k];
            if (p >= t->partition_cnt)
                rc = cli_fail("topic '%s' has no partition %d (it has %d)", t->topic, (int)p,
                              t->partition_cnt);
            else
                rd_kafka_topic_partition_list_add(l, t->topic, p);
        }
    }
    rd_kafka_metadata_destroy(md);
    if (rc != CLI_OK) {
        rd_kafka_topic_partition_list_destroy(l);
        return rc;
    }
    rd_kafka_topic_partition_list_sort(l, NULL, NULL);
    *out = l;
    return CLI_OK;
}

/* Fails with the error of an admin result event, if any. */
static int grp_event_error(rd_kafka_event_t *ev, const char *what, const char *group)
{
    if (rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR_NO_ERROR)
        return CLI_OK;
    return cli_fail("%s '%s': %s (%s)", what, group, rd_kafka_event_error_string(ev),
                    rd_kafka_err2name(rd_kafka_event_error(ev)));
}

int grp_describe_one(struct cli *cli, rd_kafka_t *rk, const char *group, rd_kafka_event_t **ev,
                     const rd_kafka_ConsumerGroupDescription_t **d)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o =
        cli_admin_options(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS, GRP_TIMEOUT_MS);
    const char *groups[1] = {group};
    rd_kafka_DescribeConsumerGroups(rk, groups, 1, o, q);
    *ev = cli_admin_wait(cli, rk, q, RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT, GRP_TIMEOUT_MS);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    if (*ev == NULL)
        return CLI_FAIL;
    int rc = grp_event_error(*ev, "cannot describe group", group);
    size_t n = 0;
    const rd_kafka_ConsumerGroupDescription_t **ds = NULL;
    if (rc == CLI_OK) {
        ds = rd_kafka_DescribeConsumerGroups_result_groups(
            rd_kafka_event_DescribeConsumerGroups_result(*ev), &n);
        if (n != 1)
            rc = cli_fail("cannot describe group '%s': no answer for it", group);
    }
    if (rc == CLI_OK) {
        const rd_kafka_error_t *e = rd_kafka_ConsumerGroupDescription_error(ds[0]);
        if (e && rd_kafka_error_code(e) != RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND)
            rc = cli_fail("cannot describe group '%s': %s (%s)", group, rd_kafka_error_string(e),
                          rd_kafka_error_name(e));
        *d = ds[0];
    }
    if (rc != CLI_OK) {
        rd_kafka_event_destroy(*ev);
        *ev = NULL;
    }
    return rc;
}

/* True when the described group does not exist (Dead, or not found). */
static bool grp_is_dead(const rd_kafka_ConsumerGroupDescription_t *d)
{
    const rd_kafka_error_t *e = rd_kafka_ConsumerGroupDescription_error(d);
    return (e && rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND) ||
           rd_kafka_ConsumerGroupDescription_state(d) == RD_KAFKA_CONSUMER_GROUP_STATE_DEAD;
}

int grp_committed(struct cli *cli, rd_kafka_t *rk, const char *group,
                  const rd_kafka_topic_partition_list_t *want,
                  rd_kafka_topic_partition_list_t **out)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o =
        cli_admin_options(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS, GRP_TIMEOUT_MS);
    rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(group, want);
    rd_kafka_ListConsumerGroupOffsets(rk, &req, 1, o, q);
    rd_kafka_ListConsumerGroupOffsets_destroy(req);
    rd_kafka_event_t *ev =
        cli_admin_wait(cli, rk, q, RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT, GRP_TIMEOUT_MS);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    if (ev == NULL)
        return CLI_FAIL;
    int rc = grp_event_error(ev, "cannot read the offsets of group", group);
    if (rc == CLI_OK) {
        size_t n = 0;
        const rd_kafka_group_result_t **gr = rd_kafka_ListConsumerGroupOffsets_result_groups(
            rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
        const rd_kafka_error_t *e = n == 1 ? rd_kafka_group_result_error(gr[0]) : NULL;
        if (n != 1)
            rc = cli_fail("cannot read the offsets of group '%s': no answer for it", group);
        else if (e)
            rc = cli_fail("cannot read the offsets of group '%s': %s (%s)", group,
                          rd_kafka_error_string(e), rd_kafka_error_name(e));
        else
            *out = rd_kafka_topic_partition_list_copy(rd_kafka_group_result_partitions(gr[0]));
    }
    rd_kafka_event_destroy(ev);
    return rc;
}

int grp_delete_offsets(struct cli *cli, rd_kafka_t *rk, const char *group,
                       rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o =
        cli_admin_options(rk, RD_KAFKA_ADMIN_OP_DELETECONSUMERGROUPOFFSETS, GRP_TIMEOUT_MS);
    rd_kafka_DeleteConsumerGroupOffsets_t *req =
        rd_kafka_DeleteConsumerGroupOffsets_new(group, parts);
    rd_kafka_DeleteConsumerGroupOffsets(rk, &req, 1, o, q);
    rd_kafka_DeleteConsumerGroupOffsets_destroy(req);
    rd_kafka_event_t *ev = cli_admin_wait(
        cli, rk, q, RD_KAFKA_EVENT_DELETECONSUMERGROUPOFFSETS_RESULT, GRP_TIMEOUT_MS);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    if (ev == NULL)
        return CLI_FAIL;
    int rc = grp_event_error(ev, "cannot delete offsets of group", group);
    if (rc == CLI_OK) {
        size_t n = 0;
        const rd_kafka_group_result_t **gr = rd_kafka_DeleteConsumerGroupOffsets_result_groups(
            rd_kafka_event_DeleteConsumerGroupOffsets_result(ev), &n);
        const rd_kafka_error_t *e = n == 1 ? rd_kafka_group_result_error(gr[0]) : NULL;
        if (n != 1) {
            rc = cli_fail("cannot delete offsets of group '%s': no answer for it", group);
        } else if (e) {
            rc = cli_fail("cannot delete offsets of group '%s': %s (%s)", group,
                          rd_kafka_error_string(e), rd_kafka_error_name(e));
        } else {
            const rd_kafka_topic_partition_list_t *res = rd_kafka_group_result_partitions(gr[0]);
            for (int i = 0; res && i < res->cnt; i++) {
                rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(
                    parts, res->elems[i].topic, res->elems[i].partition);
                if (p)
                    p->err = res->elems[i].err;
            }
        }
    }
    rd_kafka_event_destroy(ev);
    return rc;
}

int grp_watermarks(struct cli *cli, rd_kafka_t *rk, const char *topic, int32_t partition,
                   int64_t *start, int64_t *end)
{
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(rk, topic, partition, start, end, GRP_TIMEOUT_MS);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
        return CLI_OK;
    if (cli->all_down)
        return cli_fail_unreachable(cli);
    return cli_fail("cannot read the offsets of %s:%d: %s", topic, (int)partition,
                    rd_kafka_err2str(err));
}

/* ---- group list ---------------------------------------------------------- */

enum { GO_OUTPUT = 1, GO_STATE, GO_TOPIC };

struct grp_list_args {
    bool json;
    const char *states; /* --state, comma separated; NULL: all */
};

static int grp_list_opt(void *ctx, int id, const char *val)
{
    struct grp_list_args *a = ctx;
    if (id == GO_OUTPUT)
        return grp_parse_output(val, &a->json);
    if (id == GO_STATE)
        a->states = val;
    return CLI_OK;
}

static const char *const grp_state_names[] = {"Empty", "Stable", "PreparingRebalance",
                                              "CompletingRebalance", "Dead"};

/* Checks --state's names (case-insensitive). */
static int grp_check_states(const char *states)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", states);
    char *save = NULL;
    for (char *s = strtok_r(buf, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
        bool known = false;
        for (size_t i = 0; i < sizeof(grp_state_names) / sizeof(grp_state_names[0]); i++)
            known = known || strcasecmp(s, grp_state_names[i]) == 0;
        if (!known)
            return cli_usage_error("--state: unknown state '%s' (Empty, Stable, "
                                   "PreparingRebalance, CompletingRebalance, Dead)",
                                   s);
    }
    return CLI_OK;
}

static bool grp_state_wanted(const char *states, const char *state)
{
    if (states == NULL)
        return true;
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", states);
    char *save = NULL;
    for (char *s = strtok_r(buf, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
        if (strcasecmp(s, state ? state : "") == 0)
            return true;
    }
    return false;
}

static int grp_info_cmp(const void *a, const void *b)
{
    const struct rd_kafka_group_info *x = *(const struct rd_kafka_group_info *const *)a;
    const struct rd_kafka_group_info *y = *(const struct rd_kafka_group_info *const *)b;
    return strcmp(x->group, y->group);
}

static void grp_list_print(const struct grp_list_args *a, const struct rd_kafka_group_info **g,
                           int n)
{
    if (a->json) {
        fputs("{\"groups\": [", stdout);
        for (int i = 0; i < n; i++) {
            fputs(i ? ",\n  {\"group\": " : "\n  {\"group\": ", stdout);
            gp_json_str(stdout, g[i]->group);
            fputs(", \"state\": ", stdout);
            gp_json_str(stdout, g[i]->state ? g[i]->state : "");
            fputs(", \"protocol_type\": ", stdout);
            gp_json_str(stdout, g[i]->protocol_type ? g[i]->protocol_type : "");
            putchar('}');
        }
        fputs("]}\n", stdout);
        return;
    }
    int w = 5;
    for (int i = 0; i < n; i++)
        w = MAX(w, (int)strlen(g[i]->group));
    printf("%-*s  %-19s  %s\n", w, "GROUP", "STATE", "PROTOCOL-TYPE");
    for (int i = 0; i < n; i++) {
        const char *pt = g[i]->protocol_type && g[i]->protocol_type[0] ? g[i]->protocol_type : "-";
        printf("%-*s  %-19s  %s\n", w, g[i]->group, g[i]->state ? g[i]->state : "-", pt);
    }
}

static int group_list(struct cli *cli, int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"output", 'o', true, GO_OUTPUT},
        {"state", 's', true, GO_STATE},
        {NULL, 0, false, 0},
    };
    struct grp_list_args a = {0};
    int npos = cli_parse(cli, argc, argv, opts, grp_list_opt, &a, false);
    if (npos < 0)
        return CLI_USAGE;
    if (cli->help)
        return fputs("Usage: gregor group list [--state S[,S...]] [--output json]\n"
                     "Lists the consumer groups: name, state and protocol type.\n"
                     "  -s, --state S[,S...]  only groups in these states (Empty, Stable,\n"
                     "                        PreparingRebalance, CompletingRebalance, Dead)\n"
                     "  -o, --output json     one JSON document instead of the table\n",
                     stdout),
               CLI_OK;
    if (npos > 0)
        return cli_usage_positional(cli, "takes no arguments");
    if (a.states && grp_check_states(a.states) != CLI_OK)
        return CLI_USAGE;

    rd_kafka_t *rk;
    int rc = cli_admin_client(cli, &rk);
    if (rc != CLI_OK)
        return rc;
    const struct rd_kafka_metadata *md = NULL;
    rc = cli_metadata(cli, rk, NULL, &md); /* fails fast when no broker answers */
    if (rc == CLI_OK)
        rd_kafka_metadata_destroy(md);
    const struct rd_kafka_group_list *gl = NULL;
    rd_kafka_resp_err_t err = rc == CLI_OK ? rd_kafka_list_groups(rk, NULL, &gl, GRP_TIMEOUT_MS)
                                           : RD_KAFKA_RESP_ERR_NO_ERROR;
    if (rc == CLI_OK && err == RD_KAFKA_RESP_ERR__PARTIAL)
        cli_warn("warning: not every broker answered; the list may be incomplete");
    else if (rc == CLI_OK && err)
        rc = cli_fail("cannot list groups: %s (%s)", rd_kafka_err2str(err), rd_kafka_err2name(err));
    if (rc == CLI_OK) {
        const struct rd_kafka_group_info **g = calloc((size_t)gl->group_cnt + 1, sizeof(*g));
        int n = 0;
        for (int i = 0; g && i < gl->group_cnt; i++) {
            if (gl->groups[i].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
                grp_state_wanted(a.states, gl->groups[i].state))
                g[n++] = &gl->groups[i];
        }
        if (g == NULL) {
            rc = cli_fail("out of memory");
        } else {
            qsort(g, (size_t)n, sizeof(*g), grp_info_cmp);
            grp_list_print(&a, g, n);
        }
        free(g);
        rd_kafka_group_list_destroy(gl);
    }
    rd_kafka_destroy(rk);
    return rc;
}

/* ---- group describe ------------------------------------------------------ */

/* One partition line of `describe`. */
struct grp_row {
    const char *topic; /* borrowed from the lists it came from */
    int32_t partition;
    int64_t committed; /* -1: none */
    int64_t end;       /* log end offset, -1: unknown */
    double lag_s;      /* -1: unknown */
    const char *member;
};

struct grp_describe_args {
    bool json;
};

static int grp_out_opt(void *ctx, int id, const char *val)
{
    bool *json = ctx;
    if (id == GO_OUTPUT)
        return grp_parse_output(val, json);
    return CLI_OK;
}

static int grp_row_cmp(const void *a, const void *b)
{
    const struct grp_row *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

/* Adds every partition of the committed list and of the members'
 * assignments to rows (one row per partition). */
static struct grp_row *grp_rows(const rd_kafka_ConsumerGroupDescription_t *d,
                                const rd_kafka_topic_partition_list_t *committed, size_t *nrows)
{
    size_t cap = (size_t)committed->cnt + 1, n = 0;
    size_t nm = rd_kafka_ConsumerGroupDescription_member_count(d);
    for (size_t m = 0; m < nm; m++) {
        const rd_kafka_MemberDescription_t *md = rd_kafka_ConsumerGroupDescription_member(d, m);
        const rd_kafka_topic_partition_list_t *al =
            rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(md));
        cap += al ? (size_t)al->cnt : 0;
    }
    struct grp_row *rows = calloc(cap, sizeof(*rows));
    if (rows == NULL)
        return NULL;
    for (int i = 0; i < committed->cnt; i++) {
        const rd_kafka_topic_partition_t *p = &committed->elems[i];
        rows[n++] =
            (struct grp_row){p->topic, p->partition, p->offset >= 0 ? p->offset : -1, -1, -1, NULL};
    }
    for (size_t m = 0; m < nm; m++) {
        const rd_kafka_MemberDescription_t *md = rd_kafka_ConsumerGroupDescription_member(d, m);
        const rd_kafka_topic_partition_list_t *al =
            rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(md));
        for (int i = 0; al && i < al->cnt; i++) {
            size_t k = 0;
            while (k < n && !(rows[k].partition == al->elems[i].partition &&
                              strcmp(rows[k].topic, al->elems[i].topic) == 0))
                k++;
            if (k == n)
                rows[n++] =
                    (struct grp_row){al->elems[i].topic, al->elems[i].partition, -1, -1, -1, NULL};
            rows[k].member = rd_kafka_MemberDescription_consumer_id(md);
        }
    }
    qsort(rows, n, sizeof(*rows), grp_row_cmp);
    *nrows = n;
    return rows;
}

/*
 * Fills lag_s of the rows that lag: starts a group-less consumer at each
 * committed offset and takes the timestamp of the first record it gets.
 * Rows it cannot read within the time limit keep -1 (shown as unknown).
 */
static void grp_lag_seconds(struct cli *cli, struct grp_row *rows, size_t n)
{
    size_t want = 0;
    for (size_t i = 0; i < n; i++)
        want += rows[i].committed >= 0 && rows[i].end > rows[i].committed;
    if (want == 0)
        return;
    static const char *const defaults[] = {"auto.offset.reset", "earliest", "enable.partition.eof",
                                           "false", NULL};
    rd_kafka_conf_t *conf = cli_conf_new(cli, defaults);
    rd_kafka_t *ck = conf ? cli_client_new(RD_KAFKA_CONSUMER, conf) : NULL;
    if (ck == NULL)
        return;
    rd_kafka_queue_t *q = rd_kafka_queue_new(ck);
    rd_kafka_topic_t **rkts = calloc(n, sizeof(*rkts));
    for (size_t i = 0; rkts && i < n; i++) {
        if (rows[i].committed < 0 || rows[i].end <= rows[i].committed)
            continue;
        rkts[i] = rd_kafka_topic_new(ck, rows[i].topic, NULL);
        if (rkts[i] &&
            rd_kafka_consume_start_queue(rkts[i], rows[i].partition, rows[i].committed, q) == -1) {
            rd_kafka_topic_destroy(rkts[i]);
            rkts[i] = NULL;
        }
    }
    int64_t deadline = grp_wall_ms() + GRP_TIMEOUT_MS;
    size_t got = 0;
    while (rkts && got < want && grp_wall_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consume_queue(q, 200);
        if (m == NULL)
            continue;
        for (size_t i = 0; !m->err && i < n; i++) {
            if (rkts[i] == NULL || rows[i].lag_s >= 0 || rows[i].partition != m->partition ||
                strcmp(rows[i].topic, rd_kafka_topic_name(m->rkt)) != 0)
                continue;
            int64_t ts = rd_kafka_message_timestamp(m, NULL);
            if (ts >= 0) {
                int64_t d = grp_wall_ms() - ts;
                rows[i].lag_s = d > 0 ? (double)d / 1000.0 : 0.0;
            }
            got++;
            break;
        }
        rd_kafka_message_destroy(m);
    }
    for (size_t i = 0; rkts && i < n; i++) {
        if (rkts[i]) {
            rd_kafka_consume_stop(rkts[i], rows[i].partition);
            rd_kafka_topic_destroy(rkts[i]);
        }
    }
    free(rkts);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(ck);
}

/* Writes the assignment of a member as "t:0,1 u:3" (text). */
static void grp_print_assignment(const rd_kafka_topic_partition_list_t *al)
{
    if (al == NULL || al->cnt == 0) {
        fputs("-", stdout);
        return;
    }
    for (int i = 0; i < al->cnt; i++) {
        bool same = i > 0 && strcmp(al->elems[i].topic, al->elems[i - 1].topic) == 0;
        if (same)
            printf(",%" PRId32, al->elems[i].partition);
        else
            printf("%s%s:%" PRId32, i ? " " : "", al->elems[i].topic, al->elems[i].partition);
    }
}

static void grp_describe_text(const char *group, const rd_kafka_ConsumerGroupDescription_t *d,
                              const struct grp_row *rows, size_t n)
{
    const rd_kafka_Node_t *co = rd_kafka_ConsumerGroupDescription_coordinator(d);
    const char *assignor = rd_kafka_ConsumerGroupDescription_partition_assignor(d);
    size_t nm = rd_kafka_ConsumerGroupDescription_member_count(d);
    printf("Group: %s  State: %s  ProtocolType: %s  Protocol: %s  Coordinator: %d  Members: %zu\n",
           group, rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(d)),
           rd_kafka_ConsumerGroupDescription_is_simple_consumer_group(d) ? "-" : "consumer",
           assignor && assignor[0] ? assignor : "-", co ? rd_kafka_Node_id(co) : -1, nm);
    for (size_t m = 0; m < nm; m++) {
        const rd_kafka_MemberDescription_t *md = rd_kafka_ConsumerGroupDescription_member(d, m);
        printf("Member: %s  ClientId: %s  Host: %s  Assignment: ",
               rd_kafka_MemberDescription_consumer_id(md), rd_kafka_MemberDescription_client_id(md),
               rd_kafka_MemberDescription_host(md));
        grp_print_assignment(
            rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(md)));
        putchar('\n');
    }
    if (n == 0)
        return;
    int tw = 5;
    for (size_t i = 0; i < n; i++)
        tw = MAX(tw, (int)strlen(rows[i].topic));
    printf("\n%-*s  %9s  %14s  %14s  %10s  %11s  %s\n", tw, "TOPIC", "PARTITION", "CURRENT-OFFSET",
           "LOG-END-OFFSET", "LAG", "LAG-SECONDS", "MEMBER-ID");
    for (size_t i = 0; i < n; i++) {
        const struct grp_row *r = &rows[i];
        char cur[24] = "-", end[24] = "-", lag[24] = "-", lag_s[32] = "-";
        if (r->committed >= 0)
            snprintf(cur, sizeof(cur), "%" PRId64, r->committed);
        if (r->end >= 0)
            snprintf(end, sizeof(end), "%" PRId64, r->end);
        if (r->committed >= 0 && r->end >= 0)
            snprintf(lag, sizeof(lag), "%" PRId64, MAX(r->end - r->committed, (int64_t)0));
        if (r->lag_s >= 0)
            snprintf(lag_s, sizeof(lag_s), "%.1f", r->lag_s);
        printf("%-*s  %9" PRId32 "  %14s  %14s  %10s  %11s  %s\n", tw, r->topic, r->partition, cur,
               end, lag, lag_s, r->member ? r->member : "-");
    }
}

static void grp_json_i64(const char *key, int64_t v, bool known)
{
    if (known)
        printf(", \"%s\": %" PRId64, key, v);
    else
        printf(", \"%s\": null", key);
}

static void grp_describe_json(const char *group, const rd_kafka_ConsumerGroupDescription_t *d,
                              const struct grp_row *rows, size_t n)
{
    const rd_kafka_Node_t *co = rd_kafka_ConsumerGroupDescription_coordinator(d);
    const char *assignor = rd_kafka_ConsumerGroupDescription_partition_assignor(d);
    fputs("{\"group\": ", stdout);
    gp_json_str(stdout, group);
    fputs(", \"state\": ", stdout);
    gp_json_str(stdout,
                rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(d)));
    printf(", \"protocol_type\": \"%s\", \"protocol\": ",
           rd_kafka_ConsumerGroupDescription_is_simple_consumer_group(d) ? "" : "consumer");
    gp_json_str(stdout, assignor ? assignor : "");
    printf(", \"coordinator\": %d,\n \"members\": [", co ? rd_kafka_Node_id(co) : -1);
    size_t nm = rd_kafka_ConsumerGroupDescription_member_count(d);
    for (size_t m = 0; m < nm; m++) {
        const rd_kafka_MemberDescription_t *md = rd_kafka_ConsumerGroupDescription_member(d, m);
        fputs(m ? ",\n  {\"member_id\": " : "\n  {\"member_id\": ", stdout);
        gp_json_str(stdout, rd_kafka_MemberDescription_consumer_id(md));
        fputs(", \"client_id\": ", stdout);
        gp_json_str(stdout, rd_kafka_MemberDescription_client_id(md));
        fputs(", \"host\": ", stdout);
        gp_json_str(stdout, rd_kafka_MemberDescription_host(md));
        fputs(", \"assignment\": [", stdout);
        const rd_kafka_topic_partition_list_t *al =
            rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(md));
        for (int i = 0; al && i < al->cnt; i++) {
            fputs(i ? ", {\"topic\": " : "{\"topic\": ", stdout);
            gp_json_str(stdout, al->elems[i].topic);
            printf(", \"partition\": %" PRId32 "}", al->elems[i].partition);
        }
        fputs("]}", stdout);
    }
    fputs("],\n \"partitions\": [", stdout);
    for (size_t i = 0; i < n; i++) {
        const struct grp_row *r = &rows[i];
        bool lag_known = r->committed >= 0 && r->end >= 0;
        fputs(i ? ",\n  {\"topic\": " : "\n  {\"topic\": ", stdout);
        gp_json_str(stdout, r->topic);
        printf(", \"partition\": %" PRId32, r->partition);
        grp_json_i64("committed_offset", r->committed, r->committed >= 0);
        grp_json_i64("log_end_offset", r->end, r->end >= 0);
        grp_json_i64("lag", MAX(r->end - r->committed, (int64_t)0), lag_known);
        if (r->lag_s >= 0)
            printf(", \"lag_seconds\": %.3f", r->lag_s);
        else if (lag_known && r->end <= r->committed)
            fputs(", \"lag_seconds\": 0", stdout);
        else
            fputs(", \"lag_seconds\": null", stdout);
        fputs(", \"member_id\": ", stdout);
        gp_json_str(stdout, r->member);
        putchar('}');
    }
    fputs("]}\n", stdout);
}

static int group_describe(struct cli *cli, int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"output", 'o', true, GO_OUTPUT},
        {NULL, 0, false, 0},
    };
    bool json = false;
    int npos = cli_parse(cli, argc, argv, opts, grp_out_opt, &json, false);
    if (npos < 0)
        return CLI_USAGE;
    if (cli->help)
        return fputs("Usage: gregor group describe GROUP [--output json]\n"
                     "Shows a group's state, protocol and members, and per partition the\n"
                     "committed offset, log end offset and lag in records and in seconds\n"
                     "(now minus the timestamp of the record at the committed offset).\n"
                     "  -o, --output json  one JSON document instead of text\n",
                     stdout),
               CLI_OK;
    if (npos != 1)
        return cli_usage_positional(cli, npos ? "expected exactly one group" : "missing group");
    const char *group = argv[0];

    rd_kafka_t *rk;
    int rc = cli_admin_client(cli, &rk);
    if (rc != CLI_OK)
        return rc;
    rd_kafka_event_t *ev = NULL;
    const rd_kafka_ConsumerGroupDescription_t *d = NULL;
    rd_kafka_topic_partition_list_t *committed = NULL;
    struct grp_row *rows = NULL;
    size_t n = 0;
    const struct rd_kafka_metadata *md = NULL;
    rc = cli_metadata(cli, rk, NULL, &md); /* fails fast when no broker answers */
    if (rc == CLI_OK) {
        rd_kafka_metadata_destroy(md);
        rc = grp_describe_one(cli, rk, group, &ev, &d);
    }
    if (rc == CLI_OK)
        rc = grp_committed(cli, rk, group, NULL, &committed);
    if (rc == CLI_OK && grp_is_dead(d) && committed->cnt == 0)
        rc = cli_fail("group '%s' does not exist", group);
    if (rc == CLI_OK && (rows = grp_rows(d, committed, &n)) == NULL)
        rc = cli_fail("out of memory");
    for (size_t i = 0; rc == CLI_OK && i < n; i++) {
        int64_t start;
        rc = grp_watermarks(cli, rk, rows[i].topic, rows[i].partition, &start, &rows[i].end);
    }
    if (rc == CLI_OK) {
        grp_lag_seconds(cli, rows, n);
        if (json)
            grp_describe_json(group, d, rows, n);
        else
            grp_describe_text(group, d, rows, n);
    }
    free(rows);
    if (committed)
        rd_kafka_topic_partition_list_destroy(committed);
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_destroy(rk);
    return rc;
}

/* ---- group delete / delete-offsets --------------------------------------- */

static int group_delete(struct cli *cli, int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"output", 'o', true, GO_OUTPUT},
        {NULL, 0, false, 0},
    };
    bool json = false;
    int npos = cli_parse(cli, argc, argv, opts, grp_out_opt, &json, false);
    if (npos < 0)
        return CLI_USAGE;
    if (cli->help)
        return fputs("Usage: gregor group delete GROUP [--output json]\n"
                     "Deletes a group that has no members, with its committed offsets.\n"
                     "  -o, --output json  one JSON document instead of text\n",
                     stdout),
               CLI_OK;
    if (npos != 1)
        return cli_usage_positional(cli, npos ? "expected exactly one group" : "missing group");
    const char *group = argv[0];
    rd_kafka_t *rk;
    int rc = cli_admin_client(cli, &rk);
    if (rc != CLI_OK)
        return rc;
    const struct rd_kafka_metadata *md = NULL;
    rc = cli_metadata(cli, rk, NULL, &md);
    if (rc == CLI_OK) {
        rd_kafka_metadata_destroy(md);
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_AdminOptions_t *o =
            cli_admin_options(rk, RD_KAFKA_ADMIN_OP_DELETEGROUPS, GRP_TIMEOUT_MS);
        rd_kafka_DeleteGroup_t *del = rd_kafka_DeleteGroup_new(group);
        rd_kafka_DeleteGroups(rk, &del, 1, o, q);
        rd_kafka_DeleteGroup_destroy(del);
        rd_kafka_event_t *ev =
            cli_admin_wait(cli, rk, q, RD_KAFKA_EVENT_DELETEGROUPS_RESULT, GRP_TIMEOUT_MS);
        rd_kafka_AdminOptions_destroy(o);
        rd_kafka_queue_destroy(q);
        rc = ev ? grp_event_error(ev, "cannot delete group", group) : CLI_FAIL;
        if (rc == CLI_OK) {
            size_t n = 0;
            const rd_kafka_group_result_t **gr =
                rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev), &n);
            const rd_kafka_error_t *e = n == 1 ? rd_kafka_group_result_error(gr[0]) : NULL;
            if (n != 1)
                rc = cli_fail("cannot delete group '%s': no answer for it", group);
            else if (e && rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND)
                rc = cli_fail("group '%s' does not exist", group);
            else if (e)
                rc = cli_fail("cannot delete group '%s': %s (%s)", group, rd_kafka_error_string(e),
                              rd_kafka_error_name(e));
        }
        if (ev)
            rd_kafka_event_destroy(ev);
    }
    if (rc == CLI_OK && json) {
        fputs("{\"group\": ", stdout);
        gp_json_str(stdout, group);
        fputs(", \"deleted\": true}\n", stdout);
    } else if (rc == CLI_OK) {
        printf("Deleted group %s.\n", group);
    }
    rd_kafka_destroy(rk);
    return rc;
}

struct grp_delofs_args {
    bool json;
    struct grp_topic_arg topics[GRP_MAX_TOPICS];
    int ntopics;
    int rc; /* an option's parse failure */
};

static int grp_delofs_opt(void *ctx, int id, const char *val)
{
    struct grp_delofs_args *a = ctx;
    if (id == GO_OUTPUT)
        return grp_parse_output(val, &a->json);
    if (id == GO_TOPIC) {
        if (a->ntopics >= GRP_MAX_TOPICS)
            return cli_usage_error("too many --topic options (at most %d)", GRP_MAX_TOPICS);
        int rc = grp_parse_topic_arg(val, &a->topics[a->ntopics]);
        if (rc == CLI_OK)
            a->ntopics++;
        return rc;
    }
    return CLI_OK;
}

static int grp_delofs_print(const struct grp_delofs_args *a, const char *group,
                            const rd_kafka_topic_partition_list_t *parts)
{
    int failed = 0;
    if (a->json) {
        fputs("{\"group\": ", stdout);
        gp_json_str(stdout, group);
        fputs(", \"partitions\": [", stdout);
    }
    for (int i = 0; i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *p = &parts->elems[i];
        failed += p->err != RD_KAFKA_RESP_ERR_NO_ERROR;
        if (a->json) {
            fputs(i ? ",\n  {\"topic\": " : "\n  {\"topic\": ", stdout);
            gp_json_str(stdout, p->topic);
            printf(", \"partition\": %" PRId32 ", \"error\": ", p->partition);
            gp_json_str(stdout, p->err ? rd_kafka_err2name(p->err) : NULL);
            putchar('}');
        } else if (p->err) {
            printf("%s:%" PRId32 "\tnot deleted: %s (%s)\n", p->topic, p->partition,
                   rd_kafka_err2str(p->err), rd_kafka_err2name(p->err));
        } else {
            printf("%s:%" PRId32 "\tdeleted\n", p->topic, p->partition);
        }
    }
    if (a->json)
        fputs("]}\n", stdout);
    if (failed)
        return cli_fail("%d partition(s) of group '%s' kept their offsets", failed, group);
    return CLI_OK;
}

static int group_delete_offsets(struct cli *cli, int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"output", 'o', true, GO_OUTPUT},
        {"topic", 't', true, GO_TOPIC},
        {NULL, 0, false, 0},
    };
    struct grp_delofs_args a = {0};
    int npos = cli_parse(cli, argc, argv, opts, grp_delofs_opt, &a, false);
    int rc = npos < 0 ? CLI_USAGE : CLI_OK;
    if (rc == CLI_OK && cli->help) {
        fputs("Usage: gregor group delete-offsets GROUP --topic T[:P,P...]... [--output json]\n"
              "Deletes the group's committed offsets of a topic (all its partitions, or\n"
              "those listed). The broker refuses partitions the group is subscribed to.\n"
              "  -t, --topic T[:P,...]  the topic (and partitions); repeatable\n"
              "  -o, --output json      one JSON document instead of text\n",
              stdout);
        goto out;
    }
    if (rc == CLI_OK && npos != 1)
        rc = cli_usage_positional(cli, npos ? "expected exactly one group" : "missing group");
    if (rc == CLI_OK && a.ntopics == 0)
        rc = cli_usage_error("%s: --topic is required", cli->cmd);
    if (rc != CLI_OK)
        goto out;
    rd_kafka_t *rk;
    rc = cli_admin_client(cli, &rk);
    if (rc != CLI_OK)
        goto out;
    rd_kafka_topic_partition_list_t *parts = NULL;
    rc = grp_expand_topics(cli, rk, a.topics, a.ntopics, &parts);
    if (rc == CLI_OK)
        rc = grp_delete_offsets(cli, rk, argv[0], parts);
    if (rc == CLI_OK)
        rc = grp_delofs_print(&a, argv[0], parts);
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_destroy(rk);
out:
    for (int i = 0; i < a.ntopics; i++)
        grp_topic_arg_free(&a.topics[i]);
    return rc;
}

/* ---- dispatcher ---------------------------------------------------------- */

static const char group_help[] =
    "Usage: gregor group <subcommand> [ARGS]\n"
    "Consumer groups: list, describe (lag in records and seconds), reset offsets,\n"
    "delete. Every subcommand takes --output json.\n"
    "\n"
    "  list [--state S[,S...]]                  groups with state and protocol type\n"
    "  describe GROUP                           members, offsets, lag\n"
    "  reset-offsets GROUP --topic T[:P,...] (--to-earliest | --to-latest |\n"
    "      --to-offset N | --to-datetime ISO8601 | --by-duration PnDTnHnMnS |\n"
    "      --shift-by N) [--execute [--undo-file PATH]]\n"
    "  reset-offsets GROUP --from-file PATH [--execute [--undo-file PATH]]\n"
    "  delete GROUP                             delete an empty group\n"
    "  delete-offsets GROUP --topic T[:P,...]   delete committed offsets\n"
    "Run 'gregor group <subcommand> --help' for details.\n";

static const struct cli_sub group_subs[] = {
    {"list", "group list", group_list},
    {"describe", "group describe", group_describe},
    {"reset-offsets", "group reset-offsets", group_reset_offsets},
    {"delete", "group delete", group_delete},
    {"delete-offsets", "group delete-offsets", group_delete_offsets},
};

int group_main(struct cli *cli, int argc, char **argv)
{
    return cli_run_sub(cli, argc, argv, group_subs, sizeof(group_subs) / sizeof(group_subs[0]),
                       group_help);
}
