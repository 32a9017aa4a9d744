/*
 * broker/config/topic_config.h — per-topic configuration: the keys Kafka accepts
 * for a topic (CreateTopics configs, /config/topics/<topic>), their
 * validation, and the effective values the broker uses (topic override,
 * else the broker default from server.properties).
 */
#ifndef GREGOR_BROKER_CONFIG_TOPIC_CONFIG_H
#define GREGOR_BROKER_CONFIG_TOPIC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct broker_config;

/* Effective settings of one topic. Plain values: copied freely. */
struct topic_config {
    int32_t segment_bytes;
    int64_t segment_ms;
    int64_t retention_ms;    /* -1 = forever */
    int64_t retention_bytes; /* -1 = unlimited */
    int32_t max_message_bytes;
    int32_t min_insync_replicas;
    int32_t index_interval_bytes;
    int32_t segment_index_bytes;
    int64_t flush_messages;
    int64_t flush_ms;
    bool compact;           /* cleanup.policy contains compact */
    bool log_append_time;   /* message.timestamp.type=LogAppendTime */
    int64_t ts_diff_max_ms; /* message.timestamp.difference.max.ms */
    /* compaction (storage/cleaner.h) */
    double min_cleanable_ratio;    /* min.cleanable.dirty.ratio */
    int64_t delete_retention_ms;   /* delete.retention.ms */
    int64_t min_compaction_lag_ms; /* min.compaction.lag.ms */
    int64_t max_compaction_lag_ms; /* max.compaction.lag.ms */
};

/* Fills tc with the broker-wide defaults of cfg. */
void topic_config_defaults(struct topic_config *tc, const struct broker_config *cfg);
/* Validates one "key=value" override; false with a reason in err if the key
 * is unknown or the value invalid (CreateTopics answers INVALID_CONFIG). */
bool topic_config_validate(const char *key, const char *value, char *err, size_t errlen);
/* Applies a validated override to tc (unknown keys ignored). */
void topic_config_apply(struct topic_config *tc, const char *key, const char *value);

/* Parses a value of leader/follower.replication.throttled.replicas ("" none,
 * "*" all, else "P:B,P:B" partition:broker pairs, blanks allowed around
 * numbers). false if malformed; else *listed (may be NULL) tells whether
 * (partition, broker) is throttled by it. */
bool topic_config_throttled_parse(const char *value, int32_t partition, int32_t broker,
                                  bool *listed);

/* The topic keys, in a fixed order (DescribeConfigs lists them all). */
int topic_config_key_count(void);
const char *topic_config_key_name(int i);   /* NULL if out of range */
int topic_config_key_find(const char *key); /* -1 if not a topic key */
bool topic_config_key_is_list(int i);       /* comma list (APPEND/SUBTRACT) */
/* The broker key a topic key takes its default from (NULL if none). */
const char *topic_config_broker_synonym(int i);
/* Writes key i's default (from the broker's configuration) into buf;
 * *from_broker_file tells whether the broker's value was set explicitly
 * (file, environment or override) rather than Kafka's default. false when
 * the default is null. */
bool topic_config_default_value(const struct broker_config *cfg, int i, char *buf, size_t n,
                                bool *from_broker_file);

#endif
