/*
 * cli/describe_fmt.h — the topic header line of `gregor topic describe`
 * (kafka-topics.sh --describe format), kept apart from the librdkafka
 * calls so it can be tested without a broker.
 */
#ifndef GREGOR_CLI_DESCRIBE_FMT_H
#define GREGOR_CLI_DESCRIBE_FMT_H

#include <stdbool.h>
#include <stddef.h>

/* The Configs field of one topic: its overrides, or why they are unknown. */
struct describe_cfg {
    bool known; /* text: the overrides, "k=v,k2=v2" ("" = none); else the reason */
    char text[4096];
};

/* Marks c unavailable for reason (NULL or "" = "no answer"). */
void describe_cfg_unavailable(struct describe_cfg *c, const char *reason);

/* Writes the header line, with its newline, into out (truncated to n):
 *   "Topic: t<TAB>PartitionCount: 2<TAB>ReplicationFactor: 1<TAB>Configs: k=v\n"
 * An unknown Configs field reads "Configs: (unavailable: <reason>)"; an
 * empty one means the topic has no overrides. */
void describe_fmt_header(char *out, size_t n, const char *topic, int partitions, int rf,
                         const struct describe_cfg *cfg);

#endif
