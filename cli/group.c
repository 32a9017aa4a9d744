/*
 * cli/group.c — `gregor group list | delete | delete-offsets` and the
 * `group` dispatcher; describe is group_describe.c, reset-offsets
 * group_reset.c, the shared librdkafka calls group_admin.c.
 *
 * Text output: list prints GROUP STATE PROTOCOL-TYPE (one line per group,
 * sorted by name); delete prints "Deleted group G."; delete-offsets one
 * "topic:partition<TAB>deleted" (or "not deleted: reason") line per
 * partition. JSON output (--output json): one document, shapes in
 * docs/cli.md.
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

#include "common/base.h"

/* ---- group list ---------------------------------------------------------- */

enum { GO_OUTPUT = GRP_OPT_OUTPUT, GO_STATE, GO_TOPIC };

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

static const char group_list_help[] =
    "Usage: gregor group list [--state S[,S...]] [--output json]\n"
    "Lists the consumer groups: name, state and protocol type.\n"
    "  -s, --state S[,S...]  only groups in these states (Empty, Stable,\n"
    "                        PreparingRebalance, CompletingRebalance, Dead)\n"
    "  -o, --output json     one JSON document instead of the table\n";

static int group_list(struct cli *cli, int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"output", 'o', true, GO_OUTPUT},
        {"state", 's', true, GO_STATE},
        {NULL, 0, false, 0},
    };
    struct grp_list_args a = {0};
    int done, npos = cli_parse_cmd(cli, argc, argv, opts, grp_list_opt, &a, group_list_help, &done);
    if (npos < 0)
        return done;
    if (npos > 0)
        return cli_usage_positional(cli, "takes no arguments");
    if (a.states && grp_check_states(a.states) != CLI_OK)
        return CLI_USAGE;

    rd_kafka_t *rk;
    int rc = grp_connect(cli, &rk);
    if (rc != CLI_OK)
        return rc;
    const struct rd_kafka_group_list *gl = NULL;
    rd_kafka_resp_err_t err = rd_kafka_list_groups(rk, NULL, &gl, GRP_TIMEOUT_MS);
    if (err == RD_KAFKA_RESP_ERR__PARTIAL)
        cli_warn("warning: not every broker answered; the list may be incomplete");
    else if (err)
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

/* ---- group delete / delete-offsets --------------------------------------- */

static const char group_delete_help[] =
    "Usage: gregor group delete GROUP [--output json]\n"
    "Deletes a group that has no members, with its committed offsets.\n"
    "  -o, --output json  one JSON document instead of text\n";

static int group_delete(struct cli *cli, int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"output", 'o', true, GO_OUTPUT},
        {NULL, 0, false, 0},
    };
    bool json = false;
    int done, npos = cli_parse_cmd(cli, argc, argv, opts, grp_output_opt, &json, group_delete_help,
                                   &done);
    if (npos < 0)
        return done;
    if (npos != 1)
        return cli_usage_positional(cli, npos ? "expected exactly one group" : "missing group");
    const char *group = argv[0];
    rd_kafka_t *rk;
    int rc = grp_connect(cli, &rk);
    if (rc != CLI_OK)
        return rc;
    struct grp_call c;
    grp_call_begin(rk, RD_KAFKA_ADMIN_OP_DELETEGROUPS, &c);
    rd_kafka_DeleteGroup_t *del = rd_kafka_DeleteGroup_new(group);
    rd_kafka_DeleteGroups(rk, &del, 1, c.o, c.q);
    rd_kafka_DeleteGroup_destroy(del);
    rd_kafka_event_t *ev =
        grp_call_end(cli, rk, &c, RD_KAFKA_EVENT_DELETEGROUPS_RESULT, "cannot delete group", group);
    rc = ev ? CLI_OK : CLI_FAIL;
    if (rc == CLI_OK) {
        size_t n = 0;
        const rd_kafka_group_result_t **gr =
            rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev), &n);
        const rd_kafka_error_t *e = n == 1 ? rd_kafka_group_result_error(gr[0]) : NULL;
        if (e && rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND)
            rc = cli_fail("group '%s' does not exist", group);
        else if (!grp_result_one(gr, n, "cannot delete group", group))
            rc = CLI_FAIL;
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

static const char group_delofs_help[] =
    "Usage: gregor group delete-offsets GROUP --topic T[:P,P...]... [--output json]\n"
    "Deletes the group's committed offsets of a topic (all its partitions, or\n"
    "those listed). The broker refuses partitions the group is subscribed to.\n"
    "  -t, --topic T[:P,...]  the topic (and partitions); repeatable\n"
    "  -o, --output json      one JSON document instead of text\n";

static int group_delete_offsets(struct cli *cli, int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"output", 'o', true, GO_OUTPUT},
        {"topic", 't', true, GO_TOPIC},
        {NULL, 0, false, 0},
    };
    struct grp_delofs_args a = {0};
    int done,
        npos = cli_parse_cmd(cli, argc, argv, opts, grp_delofs_opt, &a, group_delofs_help, &done);
    int rc = npos < 0 ? done : CLI_OK;
    if (npos >= 0 && npos != 1)
        rc = cli_usage_positional(cli, npos ? "expected exactly one group" : "missing group");
    else if (npos == 1 && a.ntopics == 0)
        rc = cli_usage_error("%s: --topic is required", cli->cmd);
    if (npos < 0 || rc != CLI_OK)
        goto out;
    rd_kafka_t *rk;
    const struct rd_kafka_metadata *md = NULL;
    rc = cli_cluster_metadata(cli, &rk, &md);
    if (rc != CLI_OK)
        goto out;
    rd_kafka_topic_partition_list_t *parts = NULL;
    rc = grp_expand_topics(md, a.topics, a.ntopics, &parts);
    rd_kafka_metadata_destroy(md);
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
