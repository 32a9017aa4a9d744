/*
 * broker/kafka/configs_broker.h — the BROKER resources (type 4) of
 * DescribeConfigs (configs_broker.c); configs.c decodes the request and
 * calls in here.
 */
#ifndef GREGOR_BROKER_KAFKA_CONFIGS_BROKER_H
#define GREGOR_BROKER_KAFKA_CONFIGS_BROKER_H

#include "broker/kafka/request.h"

#include <stdbool.h>
#include <stdint.h>

/* Kafka's ConfigSource numbers (DescribeConfigs v1+). */
#define SRC_DYNAMIC_TOPIC 1
#define SRC_DYNAMIC_BROKER 2
#define SRC_DYNAMIC_DEFAULT_BROKER 3
#define SRC_STATIC_BROKER 4
#define SRC_DEFAULT 5

/* Writes the configs array of this broker (is_default false: every key with
 * its effective value, source and synonyms) or of the cluster-wide default
 * (true: only the keys the default overrides, as Kafka). keys: the
 * requested names (n_keys < 0: all). */
void configs_broker_describe(struct req *req, bool is_default, const struct kstr *keys,
                             int32_t n_keys, bool synonyms);

/* Whether DescribeConfigs asked for key name: keys are the requested names, n < 0 all. */
static inline bool configs_key_wanted(const struct kstr *keys, int32_t n, const char *name)
{
    if (n < 0)
        return true;
    for (int32_t i = 0; i < n; i++)
        if (kstr_eq(keys[i], name))
            return true;
    return false;
}

#endif
