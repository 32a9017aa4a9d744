/*
 * common/reassign_json.h — Kafka's partition reassignment JSON, the format
 * of kafka-reassign-partitions.sh plan files and of the
 * /admin/reassign_partitions znode:
 *
 *   {"version":1,"partitions":[
 *     {"topic":"t","partition":0,"replicas":[1,2,3],"log_dirs":["any","any","any"]}]}
 *
 * "version" must be 1 when present; "log_dirs" and any other key are
 * accepted and ignored; "replicas" may be null (a cancel, as the
 * AlterPartitionReassignments API has it) and is required otherwise.
 * The reader checks the shape only (types, ranges, the topic-name rule,
 * no duplicate partition): whether topics and brokers exist is the
 * caller's business.
 */
#ifndef GREGOR_COMMON_REASSIGN_JSON_H
#define GREGOR_COMMON_REASSIGN_JSON_H

#include "common/err.h"
#include "common/names.h"

#include <stddef.h>
#include <stdint.h>

#define REASSIGN_MAX_REPLICAS 16
#define REASSIGN_MAX_PARTITIONS 100000

struct reassign_entry {
    char topic[TOPIC_NAME_MAX_LEN + 1];
    int32_t partition;
    int n_replicas; /* -1: "replicas": null */
    int32_t replicas[REASSIGN_MAX_REPLICAS];
};

/* Parses text[0..len). On success *out (new, free(); NULL when *n == 0)
 * and *n. On failure KERR__INVALID with a message in err naming the line
 * and what was wrong. */
kerr_t reassign_json_parse(const char *text, size_t len, struct reassign_entry **out, int *n,
                           char *err, size_t errlen);

/* Writes entries v[0..n) as that JSON (one partition per line) into buf;
 * returns the length it needs (like snprintf). */
size_t reassign_json_write(const struct reassign_entry *v, int n, char *buf, size_t cap);

#endif
