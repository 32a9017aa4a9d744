/*
 * broker/config/topic_config.c — topic-level config keys (Kafka's names), their
 * value checks, and how each one changes the effective topic settings.
 * Keys that Kafka accepts but Gregor does not act on yet are still accepted
 * (so tools that set them keep working) and validated by type.
 */
#include "broker/config/topic_config.h"
#include "broker/config/config.h"
#include "common/cleanup_policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum tc_type { TC_INT, TC_LONG, TC_BOOL, TC_POLICY, TC_TSTYPE, TC_STRING, TC_DOUBLE, TC_REPLICAS };

/* One topic key: its type, smallest value, the broker key that gives its
 * default (NULL: fixed default_text), and whether it is a list (APPEND and
 * SUBTRACT of IncrementalAlterConfigs). */
struct tc_key {
    const char *name;
    enum tc_type type;
    int64_t min;
    const char *broker_key;
    const char *default_text;
    bool list;
};

static const struct tc_key tc_keys[] = {
    {"cleanup.policy", TC_POLICY, 0, "log.cleanup.policy", NULL, true},
    {"compression.type", TC_STRING, 0, "compression.type", NULL, false},
    {"delete.retention.ms", TC_LONG, 0, "log.cleaner.delete.retention.ms", NULL, false},
    {"file.delete.delay.ms", TC_LONG, 0, "log.segment.delete.delay.ms", NULL, false},
    {"flush.messages", TC_LONG, 1, "log.flush.interval.messages", NULL, false},
    {"flush.ms", TC_LONG, 0, NULL, "9223372036854775807", false},
    {"follower.replication.throttled.replicas", TC_REPLICAS, 0, NULL, "", true},
    {"index.interval.bytes", TC_INT, 0, "log.index.interval.bytes", NULL, false},
    {"leader.replication.throttled.replicas", TC_REPLICAS, 0, NULL, "", true},
    {"local.retention.bytes", TC_LONG, -2, NULL, "-2", false},
    {"local.retention.ms", TC_LONG, -2, NULL, "-2", false},
    {"max.compaction.lag.ms", TC_LONG, 1, "log.cleaner.max.compaction.lag.ms", NULL, false},
    {"max.message.bytes", TC_INT, 0, "message.max.bytes", NULL, false},
    {"message.downconversion.enable", TC_BOOL, 0, NULL, "true", false},
    {"message.format.version", TC_STRING, 0, NULL, "3.0-IV1", false},
    {"message.timestamp.difference.max.ms", TC_LONG, 0, "log.message.timestamp.difference.max.ms",
     NULL, false},
    {"message.timestamp.type", TC_TSTYPE, 0, "log.message.timestamp.type", NULL, false},
    {"min.cleanable.dirty.ratio", TC_DOUBLE, 0, "log.cleaner.min.cleanable.ratio", NULL, false},
    {"min.compaction.lag.ms", TC_LONG, 0, "log.cleaner.min.compaction.lag.ms", NULL, false},
    {"min.insync.replicas", TC_INT, 1, "min.insync.replicas", NULL, false},
    {"preallocate", TC_BOOL, 0, "log.preallocate", NULL, false},
    {"retention.bytes", TC_LONG, -1, "log.retention.bytes", NULL, false},
    {"retention.ms", TC_LONG, -1, NULL, NULL, false}, /* from log.retention.{ms,minutes,hours} */
    {"segment.bytes", TC_INT, 14, "log.segment.bytes", NULL, false},
    {"segment.index.bytes", TC_INT, 4, "log.index.size.max.bytes", NULL, false},
    {"segment.jitter.ms", TC_LONG, 0, NULL, "0", false},
    {"segment.ms", TC_LONG, 1, NULL, NULL, false}, /* from log.roll.{ms,hours} */
    {"unclean.leader.election.enable", TC_BOOL, 0, "unclean.leader.election.enable", NULL, false},
};

int topic_config_key_count(void) { return (int)(sizeof(tc_keys) / sizeof(tc_keys[0])); }

const char *topic_config_key_name(int i)
{
    return i >= 0 && i < topic_config_key_count() ? tc_keys[i].name : NULL;
}

int topic_config_key_find(const char *key)
{
    for (int i = 0; i < topic_config_key_count(); i++)
        if (strcmp(tc_keys[i].name, key) == 0)
            return i;
    return -1;
}

bool topic_config_key_is_list(int i)
{
    return i >= 0 && i < topic_config_key_count() && tc_keys[i].list;
}

const char *topic_config_broker_synonym(int i)
{
    if (i < 0 || i >= topic_config_key_count())
        return NULL;
    if (strcmp(tc_keys[i].name, "retention.ms") == 0)
        return "log.retention.ms";
    if (strcmp(tc_keys[i].name, "segment.ms") == 0)
        return "log.roll.ms";
    return tc_keys[i].broker_key;
}

bool topic_config_default_value(const struct broker_config *cfg, int i, char *buf, size_t n,
                                bool *from_broker_file)
{
    const struct tc_key *k = &tc_keys[i];
    *from_broker_file = false;
    if (strcmp(k->name, "retention.ms") == 0) {
        snprintf(buf, n, "%lld", (long long)config_retention_ms(cfg));
        return true;
    }
    if (strcmp(k->name, "segment.ms") == 0) {
        snprintf(buf, n, "%lld", (long long)config_roll_ms(cfg));
        return true;
    }
    if (k->broker_key) {
        int idx = config_key_find(k->broker_key);
        if (idx >= 0) {
            *from_broker_file = config_key_source(cfg, idx) != CONFIG_SOURCE_DEFAULT;
            return config_key_value(cfg, idx, buf, n);
        }
    }
    snprintf(buf, n, "%s", k->default_text ? k->default_text : "");
    return true;
}

static const struct tc_key *tc_find(const char *key)
{
    int i = topic_config_key_find(key);
    return i >= 0 ? &tc_keys[i] : NULL;
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
            snprintf(err, errlen, "invalid value '%s' for '%s': expected true or false", value,
                     key);
            return false;
        }
        return true;
    case TC_POLICY:
        if (cleanup_policy_parse(value) == 0) {
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
    case TC_REPLICAS:
        if (!topic_config_throttled_parse(value, -1, -1, NULL)) {
            snprintf(err, errlen,
                     "invalid value '%s' for '%s': expected \"\", \"*\" or"
                     " partition:broker pairs separated by commas",
                     value, key);
            return false;
        }
        return true;
    case TC_STRING:
        return true;
    }
    return true;
}

static const char *skip_blank(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* Reads a decimal int32 at *p (leading and trailing blanks skipped). */
static bool parse_id(const char **p, int32_t *out)
{
    const char *q = skip_blank(*p);
    if (*q < '0' || *q > '9')
        return false;
    int64_t x = 0;
    while (*q >= '0' && *q <= '9') {
        x = x * 10 + (*q++ - '0');
        if (x > INT32_MAX)
            return false;
    }
    *out = (int32_t)x;
    *p = skip_blank(q);
    return true;
}

bool topic_config_throttled_parse(const char *value, int32_t partition, int32_t broker,
                                  bool *listed)
{
    bool hit = false;
    const char *p = skip_blank(value);
    if (*p == '*' && *skip_blank(p + 1) == '\0') {
        hit = true;
    } else if (*p != '\0') {
        for (;;) {
            int32_t part, b;
            if (!parse_id(&p, &part) || *p++ != ':' || !parse_id(&p, &b))
                return false;
            hit |= part == partition && b == broker;
            if (*p == '\0')
                break;
            if (*p++ != ',')
                return false;
        }
    }
    if (listed)
        *listed = hit;
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
    tc->flush_ms = config_flush_interval_ms(cfg);
    tc->compact = (cleanup_policy_parse(cfg->log_cleanup_policy) & CLEANUP_COMPACT) != 0;
    tc->log_append_time = cfg->log_message_timestamp_type &&
                          strcmp(cfg->log_message_timestamp_type, "LogAppendTime") == 0;
    tc->ts_diff_max_ms = cfg->log_message_timestamp_difference_max_ms;
    tc->min_cleanable_ratio = cfg->log_cleaner_min_cleanable_ratio
                                  ? strtod(cfg->log_cleaner_min_cleanable_ratio, NULL)
                                  : 0.5;
    tc->delete_retention_ms = cfg->log_cleaner_delete_retention_ms;
    tc->min_compaction_lag_ms = cfg->log_cleaner_min_compaction_lag_ms;
    tc->max_compaction_lag_ms = cfg->log_cleaner_max_compaction_lag_ms;
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
        tc->compact = (cleanup_policy_parse(value) & CLEANUP_COMPACT) != 0;
    else if (strcmp(key, "message.timestamp.type") == 0)
        tc->log_append_time = strcmp(value, "LogAppendTime") == 0;
    else if (strcmp(key, "message.timestamp.difference.max.ms") == 0 && num)
        tc->ts_diff_max_ms = x;
    else if (strcmp(key, "min.cleanable.dirty.ratio") == 0)
        tc->min_cleanable_ratio = strtod(value, NULL);
    else if (strcmp(key, "delete.retention.ms") == 0 && num)
        tc->delete_retention_ms = x;
    else if (strcmp(key, "min.compaction.lag.ms") == 0 && num)
        tc->min_compaction_lag_ms = x;
    else if (strcmp(key, "max.compaction.lag.ms") == 0 && num)
        tc->max_compaction_lag_ms = x;
}
