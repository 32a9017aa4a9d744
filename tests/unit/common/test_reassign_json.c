/*
 * tests/unit/common/test_reassign_json.c — the reassignment JSON reader and
 * writer (common/reassign_json.c): Kafka's plan files as
 * kafka-reassign-partitions.sh writes them, and bad files (truncated, wrong
 * types, out of range, duplicates, illegal topic names) refused with a
 * message naming the line and the problem.
 */
#include "common/reassign_json.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static kerr_t parse(const char *s, struct reassign_entry **v, int *n, char *err)
{
    return reassign_json_parse(s, strlen(s), v, n, err, 256);
}

/* Asserts s is refused with a message containing want. */
static void refused(const char *s, const char *want)
{
    struct reassign_entry *v = (void *)1;
    int n = -1;
    char err[256] = "";
    cr_assert_eq(parse(s, &v, &n, err), KERR__INVALID, "accepted: %s", s);
    cr_assert_null(v);
    cr_assert_eq(n, 0);
    cr_assert(strstr(err, want) != NULL, "message '%s' lacks '%s' for %s", err, want, s);
}

Test(reassign_json, kafka_plan_file)
{
    const char *s = "{\"version\":1,\n"
                    " \"partitions\":[\n"
                    "  {\"topic\":\"orders\",\"partition\":0,\"replicas\":[3,1,2],"
                    "\"log_dirs\":[\"any\",\"any\",\"any\"]},\n"
                    "  {\"topic\":\"orders\",\"partition\":1,\"replicas\":null},\n"
                    "  {\"partition\":2,\"replicas\":[4],\"topic\":\"a.b-c_d\",\"x\":{\"y\":[1,"
                    "{\"z\":true}]}}\n"
                    " ]}\n";
    struct reassign_entry *v;
    int n;
    char err[256];
    cr_assert_eq(parse(s, &v, &n, err), KERR_NONE, "%s", err);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(v[0].topic, "orders");
    cr_assert_eq(v[0].partition, 0);
    cr_assert_eq(v[0].n_replicas, 3);
    cr_assert_eq(v[0].replicas[0], 3);
    cr_assert_eq(v[0].replicas[2], 2);
    cr_assert_eq(v[1].n_replicas, -1);
    cr_assert_str_eq(v[2].topic, "a.b-c_d");
    cr_assert_eq(v[2].replicas[0], 4);
    /* the writer's output reads back the same */
    char buf[1024];
    size_t len = reassign_json_write(v, n, buf, sizeof(buf));
    cr_assert_lt(len, sizeof(buf));
    struct reassign_entry *w;
    int m;
    cr_assert_eq(reassign_json_parse(buf, len, &w, &m, err, sizeof(err)), KERR_NONE, "%s", err);
    cr_assert_eq(m, n);
    cr_assert_arr_eq(w, v, sizeof(*v) * (size_t)n);
    free(v);
    free(w);
}

Test(reassign_json, empty_plan_and_escapes)
{
    struct reassign_entry *v;
    int n;
    char err[256];
    cr_assert_eq(parse("{\"partitions\":[]}", &v, &n, err), KERR_NONE, "%s", err);
    cr_assert_eq(n, 0);
    free(v);
    cr_assert_eq(
        parse("{\"partitions\":[{\"topic\":\"t\\u0031\",\"partition\":0,\"replicas\":[]}]}", &v, &n,
              err),
        KERR_NONE, "%s", err);
    cr_assert_str_eq(v[0].topic, "t1");
    cr_assert_eq(v[0].n_replicas, 0); /* empty: the controller refuses it, naming why */
    free(v);
}

Test(reassign_json, truncated)
{
    refused("", "end of the file");
    refused("{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[1,",
            "line 1");
    refused("{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[1]}",
            "truncated");
    refused("{\"version\":1,\"partitions\":[{\"topic\":\"t", "unterminated string");
}

Test(reassign_json, wrong_types)
{
    refused("[]", "JSON object");
    refused("{\"partitions\":{}}", "\"partitions\" must be an array");
    refused("{\"partitions\":[{\"topic\":1,\"partition\":0,\"replicas\":[1]}]}",
            "\"topic\" must be a string");
    refused("{\"partitions\":[{\"topic\":\"t\",\"partition\":\"0\",\"replicas\":[1]}]}",
            "\"partition\" must be a number, not a string");
    refused("{\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":\"1,2\"}]}",
            "\"replicas\" of t-0 must be an array");
    refused("{\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[1.5]}]}",
            "whole number");
    refused("{\"partitions\":[{\"topic\":\"t\",\"partition\":-1,\"replicas\":[1]}]}",
            "out of range");
}

Test(reassign_json, missing_and_bad_fields)
{
    refused("{\"version\":2,\"partitions\":[]}", "unsupported \"version\" 2");
    refused("{\"version\":1}", "no \"partitions\"");
    refused("{\"partitions\":[{\"partition\":0,\"replicas\":[1]}]}", "without \"topic\"");
    refused("{\"partitions\":[{\"topic\":\"t\",\"replicas\":[1]}]}", "no \"partition\"");
    refused("{\"partitions\":[{\"topic\":\"t\",\"partition\":0}]}", "t-0: no \"replicas\"");
    refused("{\"partitions\":[{\"topic\":\"a b\",\"partition\":0,\"replicas\":[1]}]}",
            "not a legal name");
    refused("{\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[1]},\n"
            "{\"topic\":\"t\",\"partition\":0,\"replicas\":[2]}]}",
            "line 2: t-0 is listed twice");
    refused("{\"partitions\":[]} x", "after the JSON object");
    refused("{\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":"
            "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]}]}",
            "more than 16 replicas");
}
