/*
 * cli/group_admin.c — the librdkafka calls the `gregor group` commands
 * share (declared in group.h): --topic/--output parsing, connecting,
 * expanding topics to partitions, the setup, wait and checks around one
 * admin request and its one group result, DescribeConsumerGroups of one
 * group, committed offsets (ListConsumerGroupOffsets), OffsetDelete,
 * watermarks. Each call fails fast with one "gregor: ..." line when no
 * broker answers.
 *
 * Threads: main thread only.
 */
#include "cli/group.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/base.h"


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

int grp_connect(struct cli *cli, rd_kafka_t **rk)
{
    const struct rd_kafka_metadata *md = NULL;
    int rc = cli_cluster_metadata(cli, rk, &md);
    if (rc == CLI_OK)
        rd_kafka_metadata_destroy(md);
    return rc;
}

int grp_expand_topics(const struct rd_kafka_metadata *md, const struct grp_topic_arg *topics, int n,
                      rd_kafka_topic_partition_list_t **out)
{
    int rc = CLI_OK;
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
    if (rc != CLI_OK) {
        rd_kafka_topic_partition_list_destroy(l);
        return rc;
    }
    rd_kafka_topic_partition_list_sort(l, NULL, NULL);
    *out = l;
    return CLI_OK;
}

void grp_call_begin(rd_kafka_t *rk, rd_kafka_admin_op_t api, struct grp_call *c)
{
    c->q = rd_kafka_queue_new(rk);
    c->o = cli_admin_options(rk, api, GRP_TIMEOUT_MS);
}

rd_kafka_event_t *grp_call_end(struct cli *cli, rd_kafka_t *rk, struct grp_call *c,
                               rd_kafka_event_type_t type, const char *what, const char *group)
{
    rd_kafka_event_t *ev = cli_admin_wait(cli, rk, c->q, type, GRP_TIMEOUT_MS);
    rd_kafka_AdminOptions_destroy(c->o);
    rd_kafka_queue_destroy(c->q);
    if (ev && rd_kafka_event_error(ev)) {
        cli_fail("%s '%s': %s (%s)", what, group, rd_kafka_event_error_string(ev),
                 rd_kafka_err2name(rd_kafka_event_error(ev)));
        rd_kafka_event_destroy(ev);
        ev = NULL;
    }
    return ev;
}

const rd_kafka_group_result_t *grp_result_one(const rd_kafka_group_result_t **gr, size_t n,
                                              const char *what, const char *group)
{
    const rd_kafka_error_t *e = n == 1 ? rd_kafka_group_result_error(gr[0]) : NULL;
    if (n != 1)
        cli_fail("%s '%s': no answer for it", what, group);
    else if (e)
        cli_fail("%s '%s': %s (%s)", what, group, rd_kafka_error_string(e), rd_kafka_error_name(e));
    return n == 1 && !e ? gr[0] : NULL;
}

int grp_describe_one(struct cli *cli, rd_kafka_t *rk, const char *group, rd_kafka_event_t **ev,
                     const rd_kafka_ConsumerGroupDescription_t **d)
{
    struct grp_call c;
    grp_call_begin(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS, &c);
    const char *groups[1] = {group};
    rd_kafka_DescribeConsumerGroups(rk, groups, 1, c.o, c.q);
    *ev = grp_call_end(cli, rk, &c, RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT,
                       "cannot describe group", group);
    if (*ev == NULL)
        return CLI_FAIL;
    int rc = CLI_OK;
    size_t n = 0;
    const rd_kafka_ConsumerGroupDescription_t **ds = rd_kafka_DescribeConsumerGroups_result_groups(
        rd_kafka_event_DescribeConsumerGroups_result(*ev), &n);
    if (n != 1)
        rc = cli_fail("cannot describe group '%s': no answer for it", group);
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

int grp_committed(struct cli *cli, rd_kafka_t *rk, const char *group,
                  const rd_kafka_topic_partition_list_t *want,
                  rd_kafka_topic_partition_list_t **out)
{
    struct grp_call c;
    grp_call_begin(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS, &c);
    rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(group, want);
    rd_kafka_ListConsumerGroupOffsets(rk, &req, 1, c.o, c.q);
    rd_kafka_ListConsumerGroupOffsets_destroy(req);
    rd_kafka_event_t *ev = grp_call_end(cli, rk, &c, RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT,
                                        "cannot read the offsets of group", group);
    if (ev == NULL)
        return CLI_FAIL;
    size_t n = 0;
    const rd_kafka_group_result_t **gr = rd_kafka_ListConsumerGroupOffsets_result_groups(
        rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
    const rd_kafka_group_result_t *r =
        grp_result_one(gr, n, "cannot read the offsets of group", group);
    if (r)
        *out = rd_kafka_topic_partition_list_copy(rd_kafka_group_result_partitions(r));
    rd_kafka_event_destroy(ev);
    return r ? CLI_OK : CLI_FAIL;
}

int grp_delete_offsets(struct cli *cli, rd_kafka_t *rk, const char *group,
                       rd_kafka_topic_partition_list_t *parts)
{
    struct grp_call c;
    grp_call_begin(rk, RD_KAFKA_ADMIN_OP_DELETECONSUMERGROUPOFFSETS, &c);
    rd_kafka_DeleteConsumerGroupOffsets_t *req =
        rd_kafka_DeleteConsumerGroupOffsets_new(group, parts);
    rd_kafka_DeleteConsumerGroupOffsets(rk, &req, 1, c.o, c.q);
    rd_kafka_DeleteConsumerGroupOffsets_destroy(req);
    rd_kafka_event_t *ev =
        grp_call_end(cli, rk, &c, RD_KAFKA_EVENT_DELETECONSUMERGROUPOFFSETS_RESULT,
                     "cannot delete offsets of group", group);
    if (ev == NULL)
        return CLI_FAIL;
    size_t n = 0;
    const rd_kafka_group_result_t **gr = rd_kafka_DeleteConsumerGroupOffsets_result_groups(
        rd_kafka_event_DeleteConsumerGroupOffsets_result(ev), &n);
    const rd_kafka_group_result_t *r =
        grp_result_one(gr, n, "cannot delete offsets of group", group);
    const rd_kafka_topic_partition_list_t *res = r ? rd_kafka_group_result_partitions(r) : NULL;
    for (int i = 0; res && i < res->cnt; i++) {
        rd_kafka_topic_partition_t *p =
            rd_kafka_topic_partition_list_find(parts, res->elems[i].topic, res->elems[i].partition);
        if (p)
            p->err = res->elems[i].err;
    }
    rd_kafka_event_destroy(ev);
    return r ? CLI_OK : CLI_FAIL;
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

int grp_output_opt(void *ctx, int id, const char *val)
{
    bool *json = ctx;
    if (id == GRP_OPT_OUTPUT)
        return grp_parse_output(val, json);
    return CLI_OK;
}
