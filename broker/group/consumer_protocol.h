/*
 * broker/group/consumer_protocol.h — the little the coordinator reads of the "consumer"
 * protocol's member metadata, which is otherwise opaque to it.
 *
 * ConsumerProtocolSubscription (every version, classic encoding, not flexible) starts with
 *   version INT16, topics ARRAY[STRING] (INT32 count, INT16-length strings), ...
 * Kafka reads the topics to keep OffsetDelete from deleting offsets of a topic a member of a
 * live consumer group still subscribes to (GROUP_SUBSCRIBED_TO_TOPIC) and to expire the
 * offsets of topics nobody subscribes to any more. Threads: none; pure functions.
 */
#ifndef GREGOR_BROKER_GROUP_CONSUMER_PROTOCOL_H
#define GREGOR_BROKER_GROUP_CONSUMER_PROTOCOL_H

#include <stdbool.h>
#include <stdint.h>

/* Sets *found to whether the subscription meta[0..len) lists topic. Returns false when the
 * bytes do not parse as a subscription (then *found is false). */
bool consumer_subscription_has_topic(const uint8_t *meta, int32_t len, const char *topic,
                                     bool *found);

#endif
