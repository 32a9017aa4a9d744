/*
 * cli/group.h — declarations shared by the `gregor group` commands:
 * group.c (list, delete, delete-offsets, the dispatcher), group_describe.c,
 * group_reset.c (reset-offsets) and the librdkafka helpers of
 * group_admin.c declared below.
 *
 * Threads: main thread only, like the rest of the CLI.
 */
#ifndef GREGOR_CLI_GROUP_H
#define GREGOR_CLI_GROUP_H

#include "cli/cli.h"

/* Per request to a broker (admin calls, watermarks, offsets for times). */
#define GRP_TIMEOUT_MS 15000
/* At most this many --topic options per command. */
#define GRP_MAX_TOPICS 32

/* One --topic T[:P,P...] option: `parts` NULL means every partition. */
struct grp_topic_arg {
    char *topic;    /* owned */
    int32_t *parts; /* owned, nparts entries */
    int nparts;
};

/* Parses --topic's value into *t. CLI_OK or CLI_USAGE after printing. */
int grp_parse_topic_arg(const char *val, struct grp_topic_arg *t);
void grp_topic_arg_free(struct grp_topic_arg *t);

/* Parses --output's value: "json" sets *json, "text" clears it. */
int grp_parse_output(const char *val, bool *json);

/* The id of --output in a command's option table, and an option callback
 * for commands whose only option it is (ctx: bool *json). */
enum { GRP_OPT_OUTPUT = 1 };
int grp_output_opt(void *ctx, int id, const char *val);

/*
 * One admin request: grp_call_begin() makes its options (for `api`, with
 * GRP_TIMEOUT_MS) and result queue, the caller sends the request with c.o
 * and c.q, and grp_call_end() waits for the result event of `type` and
 * frees c. The event (rd_kafka_event_destroy() it) is returned when it
 * came without a request-level error; else NULL after printing the reason
 * ("<what> '<group>': reason (NAME)" for an error).
 */
struct grp_call {
    rd_kafka_queue_t *q;
    rd_kafka_AdminOptions_t *o;
};
void grp_call_begin(rd_kafka_t *rk, rd_kafka_admin_op_t api, struct grp_call *c);
rd_kafka_event_t *grp_call_end(struct cli *cli, rd_kafka_t *rk, struct grp_call *c,
                               rd_kafka_event_type_t type, const char *what, const char *group);

/* The group result of a request about one group, out of a result event's
 * gr[0..n): gr[0] when it is the only one and has no error, else NULL after
 * printing "<what> '<group>': no answer for it" or its error. */
const rd_kafka_group_result_t *grp_result_one(const rd_kafka_group_result_t **gr, size_t n,
                                              const char *what, const char *group);

/*
 * Expands topic options into a partition list (offsets unset) checked
 * against the cluster's metadata md (all topics): every topic must exist
 * and every listed partition must be one of its partitions. CLI_OK with
 * *out new, else CLI_FAIL after printing.
 */
int grp_expand_topics(const struct rd_kafka_metadata *md, const struct grp_topic_arg *topics, int n,
                      rd_kafka_topic_partition_list_t **out);

/* A new admin client *rk, once a broker has answered (cli_cluster_metadata);
 * CLI_FAIL after printing, with nothing to free, when none does. */
int grp_connect(struct cli *cli, rd_kafka_t **rk);

/*
 * DescribeConsumerGroups for one group. On CLI_OK *ev holds the result
 * (destroy it after use) and *d points into it; a group that does not
 * exist is reported as state DEAD with no members, as brokers do.
 */
int grp_describe_one(struct cli *cli, rd_kafka_t *rk, const char *group, rd_kafka_event_t **ev,
                     const rd_kafka_ConsumerGroupDescription_t **d);

/*
 * The committed offsets of `group`: for the partitions in `want`, or all
 * the group has when `want` is NULL. On CLI_OK *out is a new list whose
 * offsets are the committed ones (RD_KAFKA_OFFSET_INVALID: none).
 */
int grp_committed(struct cli *cli, rd_kafka_t *rk, const char *group,
                  const rd_kafka_topic_partition_list_t *want,
                  rd_kafka_topic_partition_list_t **out);

/*
 * Deletes the committed offsets of `parts` in `group`. Per-partition
 * errors are written into parts' err fields. Returns CLI_OK when the
 * request itself succeeded (check the err fields), else CLI_FAIL after
 * printing.
 */
int grp_delete_offsets(struct cli *cli, rd_kafka_t *rk, const char *group,
                       rd_kafka_topic_partition_list_t *parts);

/* Log start and end offsets of one partition; CLI_OK or CLI_FAIL after
 * printing. */
int grp_watermarks(struct cli *cli, rd_kafka_t *rk, const char *topic, int32_t partition,
                   int64_t *start, int64_t *end);

/* Milliseconds since the epoch (wall clock). */
int64_t grp_wall_ms(void);

/* The subcommands outside group.c. */
int group_describe(struct cli *cli, int argc, char **argv);      /* group_describe.c */
int group_reset_offsets(struct cli *cli, int argc, char **argv); /* group_reset.c */

#endif
