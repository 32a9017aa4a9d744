/*
 * broker/topic_config.c — topic-level config keys (Kafka's names), their
 * value checks, and how each one changes the effective topic settings.
 * Keys that Kafka accepts but Gregor does not act on yet are still accepted
 * (so tools that set them keep working) and validated by type.
 */
#include "broker/topic_config.h"
#include "broker/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum tc_type { TC_INT, TC_LONG, TC_BOOL, TC_POLICY, TC_TSTYPE, TC_STRING, TC_DOUBLE };

struct tc_key {
    const char *name;
    enum tc_type type;
    int64_t min;
};

static const struct tc_key tc_keys[] = {
    {"cleanup.policy", TC_POLICY, 0},
    {"compression.type", TC_STRING, 0},
    {"delete.retention.ms", TC_LONG, 0},
    {"file.delete.delay.ms", TC_LONG, 0},
    {"flush.messages", TC_LONG, 1},
    {"flush.ms", TC_LONG, 0},
    {"follower.replication.throttled.replicas", TC_STRING, 0},
    {"index.interval.bytes", TC_INT, 0},
    {"leader.replication.throttled.replicas", TC_STRING, 0},
    {"local.retention.bytes", TC_LONG, -2},
    {"local.retention.ms", TC_LONG, -2},
    {"max.compaction.lag.ms", TC_LONG, 1},
    {"max.message.bytes", TC_INT, 0},
    {"message.downconversion.enable", TC_BOOL, 0},
    {"message.format.version", TC_STRING, 0},
    {"message.timestamp.difference.max.ms", TC_LONG, 0},
    {"message.timestamp.type", TC_TSTYPE, 0},
    {"min.cleanable.dirty.ratio", TC_DOUBLE, 0},
    {"min.compaction.lag.ms", TC_LONG, 0},
    {"min.insync.replicas", TC_INT, 1},
    {"preallocate", TC_BOOL, 0},
    {"retention.bytes", TC_LONG, -1},
    {"retention.ms", TC_LONG, -1},
    {"segment.bytes", TC_INT, 14},
    {"segment.index.bytes", TC_INT, 4},
    {"segment.jitter.ms", TC_LONG, 0},
    {"segment.ms", TC_LONG, 1},
    {"unclean.leader.election.enable", TC_BOOL, 0},
};

static const struct tc_key *tc_find(const char *key)
{
    for (size_t i = 0; i < sizeof(tc_keys) / sizeof(tc_keys[0]); i++)
        if (strcmp(tc_keys[i].name, key) == 0)
            return &tc_keys[i];
    return NULL;
}

static bool parse_i64(const char *v, int64_t *out)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end != '\0')
        return false;
    *out = x;
    return true;
}

static bool policy_ok(const char *v)
{
    return strcmp(v, "delete") == 0 || strcmp(v, "compact") == 0 ||
           strcmp(v, "delete,compact") == 0 || strcmp(v, "compact,delete") == 0;
}

bool topic_config_validate(const char *key, const char *value, char *err, size_t errlen)
{
    const struct tc_key *k = tc_find(key);
    if (!k) {
        snprintf(err, errlen, "unknown topic config '%s'", key);
        return false;
    }
    if (!value) {
        snprintf(err, errlen, "null value for topic config '%s'", key);
        return false;
    }
    int64_t x;
    switch (k->type) {
    case TC_INT:
    case TC_LONG:
        if (!parse_i64(value, &x) || x < k->min || (k->type == TC_INT && x > INT32_MAX)) {
            snprintf(err, errlen, "invalid value '%s' for topic config '%s'", value, key);
            return false;
        }
        return true;
    case TC_BOOL:
        if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
            snprintf(err, errlen, "invalid value '%s' for '%s': expected true or false", value, key);
            return false;
        }
        return true;
    case TC_POLICY:
        if (!policy_ok(value)) {
            snprintf(err, errlen, "invalid value '%s' for cleanup.policy", value);
            return false;
        }
        return true;
    case TC_TSTYPE:
        if (strcmp(value, "CreateTime") != 0 && strcmp(value, "LogAppendTime") != 0) {
            snprintf(err, errlen, "invalid value '%s' for message.timestamp.type", value);
            return false;
        }
        return true;
    case TC_DOUBLE: {
        char *end;
        double d = strtod(value, &end);
        if (end == value || *end != '\0' || d < 0 || d > 1) {
            snprintf(err, errlen, "invalid value '%s' for '%s'", value, key);
            return false;
        }
        return true;
    }
    case TC_STRING:
        return true;
    }
    return true;
}

void topic_config_defaults(struct topic_config *tc, const struct broker_config *cfg)
{
    memset(tc, 0, sizeof(*tc));
    tc->segment_bytes = cfg->log_segment_bytes;
    tc->segment_ms = config_roll_ms(cfg);
    tc->retention_ms = config_retention_ms(cfg);
    tc->retention_bytes = cfg->log_retention_bytes;
    tc->max_message_bytes = cfg->message_max_bytes;
    tc->min_insync_replicas = cfg->min_insync_replicas;
    tc->index_interval_bytes = cfg->log_index_interval_bytes;
    tc->segment_index_bytes = cfg->log_index_size_max_bytes;
    tc->flush_messages = cfg->log_flush_interval_messages;
    tc->flush_ms = cfg->log_flush_interval_ms;
    tc->compact = cfg->log_cleanup_policy && strstr(cfg->log_cleanup_policy, "compact");
    tc->log_append_time = cfg->log_message_timestamp_type &&
                          strcmp(cfg->log_message_timestamp_type, "LogAppendTime") == 0;
}

void topic_config_apply(struct topic_config *tc, const char *key, const char *value)
{
    int64_t x = 0;
    bool num = parse_i64(value, &x);
    if (strcmp(key, "segment.bytes") == 0 && num)
        tc->segment_bytes = (int32_t)x;
    else if (strcmp(key, "segment.ms") == 0 && num)
        tc->segment_ms = x;
    else if (strcmp(key, "retention.ms") == 0 && num)
        tc->retention_ms = x;
    else if (strcmp(key, "retention.bytes") == 0 && num)
        tc->retention_bytes = x;
    else if (strcmp(key, "max.message.bytes") == 0 && num)
        tc->max_message_bytes = (int32_t)x;
    else if (strcmp(key, "min.insync.replicas") == 0 && num)
        tc->min_insync_replicas = (int32_t)x;
    else if (strcmp(key, "index.interval.bytes") == 0 && num)
        tc->index_interval_bytes = (int32_t)x;
    else if (strcmp(key, "segment.index.bytes") == 0 && num)
        tc->segment_index_bytes = (int32_t)x;
    else if (strcmp(key, "flush.messages") == 0 && num)
        tc->flush_messages = x;
    else if (strcmp(key, "flush.ms") == 0 && num)
        tc->flush_ms = x;
    else if (strcmp(key, "cleanup.policy") == 0)
        tc->compact = strstr(value, "compact") != NULL;
    else if (strcmp(key, "message.timestamp.type") == 0)
        tc->log_append_time = strcmp(value, "LogAppendTime") == 0;
}
