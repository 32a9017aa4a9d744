/*
 * cli/group_describe.c — `gregor group describe GROUP`: state, protocol,
 * members (client id, host, assignment) and per partition the committed
 * offset, log end offset, lag in records and lag in seconds.
 *
 * Text output: a "Group: ..." header, one "Member: ..." line per member,
 * then a table TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG
 * LAG-SECONDS MEMBER-ID (sorted by topic, partition; "-" for unknown).
 * JSON output (--output json): one document, shape in docs/cli.md.
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
#include <sys/types.h>
#include <string.h>

#include "common/base.h"

/* True when the described group does not exist (Dead, or not found). */
static bool grp_is_dead(const rd_kafka_ConsumerGroupDescription_t *d)
{
    const rd_kafka_error_t *e = rd_kafka_ConsumerGroupDescription_error(d);
    return (e && rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND) ||
           rd_kafka_ConsumerGroupDescription_state(d) == RD_KAFKA_CONSUMER_GROUP_STATE_DEAD;
}


/* One partition line of `describe`. */
struct grp_row {
    const char *topic; /* borrowed from the lists it came from */
    int32_t partition;
    int64_t committed; /* -1: none */
    int64_t end;       /* log end offset, -1: unknown */
    double lag_s;      /* -1: unknown */
    const char *member;
};

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

/* The row of (topic, partition) among rows[0..n) that is still waiting
 * for its record (started[i] and not done[i]), or -1. */
static ssize_t grp_lag_row(const struct grp_row *rows, size_t n, const bool *started,
                           const bool *done, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < n; i++) {
        if (started[i] && !done[i] && rows[i].partition == partition &&
            strcmp(rows[i].topic, topic) == 0)
            return (ssize_t)i;
    }
    return -1;
}

/*
 * Fills lag_s of the rows that lag: starts a group-less consumer at each
 * committed offset and takes the timestamp of the first record it gets.
 * A partition that reports its end first (only transaction markers left)
 * or an error, or that sends nothing within GRP_TIMEOUT_MS, keeps -1
 * (shown as unknown).
 */
static void grp_lag_seconds(struct cli *cli, struct grp_row *rows, size_t n)
{
    static const char *const defaults[] = {"auto.offset.reset", "earliest", "enable.partition.eof",
                                           "true", NULL};
    rd_kafka_conf_t *conf = cli_conf_new(cli, defaults);
    rd_kafka_t *ck = conf ? cli_client_new(RD_KAFKA_CONSUMER, conf) : NULL;
    if (ck == NULL)
        return;
    rd_kafka_queue_t *q = rd_kafka_queue_new(ck);
    rd_kafka_topic_t **rkts = calloc(n + 1, sizeof(*rkts));
    bool *started = calloc(n + 1, sizeof(*started));
    bool *done = calloc(n + 1, sizeof(*done));
    size_t want = 0, got = 0;
    if (rkts == NULL || started == NULL || done == NULL)
        n = 0; /* out of memory: every lag stays unknown */
    for (size_t i = 0; i < n; i++) {
        if (rows[i].committed < 0 || rows[i].end <= rows[i].committed)
            continue;
        rkts[i] = rd_kafka_topic_new(ck, rows[i].topic, NULL);
        started[i] = rkts[i] && rd_kafka_consume_start_queue(rkts[i], rows[i].partition,
                                                             rows[i].committed, q) == 0;
        want += started[i];
    }
    int64_t deadline = grp_wall_ms() + GRP_TIMEOUT_MS;
    while (got < want && grp_wall_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consume_queue(q, 200);
        if (m == NULL)
            continue;
        ssize_t i =
            m->rkt ? grp_lag_row(rows, n, started, done, rd_kafka_topic_name(m->rkt), m->partition)
                   : -1;
        if (i >= 0 && m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            int64_t ts = rd_kafka_message_timestamp(m, NULL);
            int64_t d = grp_wall_ms() - ts;
            if (ts >= 0)
                rows[i].lag_s = d > 0 ? (double)d / 1000.0 : 0.0;
        }
        if (i >= 0) {
            done[i] = true;
            got++;
        }
        rd_kafka_message_destroy(m);
    }
    for (size_t i = 0; i < n; i++) {
        if (started[i])
            rd_kafka_consume_stop(rkts[i], rows[i].partition);
        if (rkts[i])
            rd_kafka_topic_destroy(rkts[i]);
    }
    free(rkts);
    free(started);
    free(done);
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

static const char describe_help[] =
    "Usage: gregor group describe GROUP [--output json]\n"
    "Shows a group's state, protocol and members, and per partition the\n"
    "committed offset, log end offset and lag in records and in seconds\n"
    "(now minus the timestamp of the record at the committed offset).\n"
    "  -o, --output json  one JSON document instead of text\n";

int group_describe(struct cli *cli, int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"output", 'o', true, GRP_OPT_OUTPUT},
        {NULL, 0, false, 0},
    };
    bool json = false;
    int done,
        npos = cli_parse_cmd(cli, argc, argv, opts, grp_output_opt, &json, describe_help, &done);
    if (npos < 0)
        return done;
    if (npos != 1)
        return cli_usage_positional(cli, npos ? "expected exactly one group" : "missing group");
    const char *group = argv[0];

    rd_kafka_t *rk;
    int rc = grp_connect(cli, &rk);
    if (rc != CLI_OK)
        return rc;
    rd_kafka_event_t *ev = NULL;
    const rd_kafka_ConsumerGroupDescription_t *d = NULL;
    rd_kafka_topic_partition_list_t *committed = NULL;
    struct grp_row *rows = NULL;
    size_t n = 0;
    rc = grp_describe_one(cli, rk, group, &ev, &d);
    if (rc == CLI_OK)
        rc = grp_committed(cli, rk, group, NULL, &committed);
    if (rc == CLI_OK && grp_is_dead(d) && committed->cnt == 0)
        rc = cli_fail("group '%s' does not exist", group);
    if (rc == CLI_OK && (rows = grp_rows(d, committed, &n)) == NULL)
        rc = cli_fail("out of memory");
    /* A partition whose log end cannot be read (offline, topic deleted)
     * is shown with "-"; the rest of the group is still described. */
    for (size_t i = 0; rc == CLI_OK && i < n; i++) {
        int64_t start;
        rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
            rk, rows[i].topic, rows[i].partition, &start, &rows[i].end, GRP_TIMEOUT_MS);
        if (err && cli->all_down) {
            rc = cli_fail_unreachable(cli);
        } else if (err) {
            rows[i].end = -1;
            cli_warn("warning: log end offset of %s:%d unknown: %s", rows[i].topic,
                     (int)rows[i].partition, rd_kafka_err2str(err));
        }
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
