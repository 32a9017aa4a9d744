/*
 * broker/kafka/admin_wait.h — how admin requests (CreateTopics,
 * DeleteTopics, CreatePartitions) wait until this broker's metadata cache
 * shows their result: polling on the admin worker, at most timeout_ms.
 */
#ifndef GREGOR_BROKER_KAFKA_ADMIN_WAIT_H
#define GREGOR_BROKER_KAFKA_ADMIN_WAIT_H

#include <stdbool.h>
#include <stdint.h>

struct broker;

/* want: true when `name` is in the metadata cache with at least min_parts
 * partitions, every one with a leader; !want: true when it is absent. Any
 * thread. */
bool admin_cache_shows(struct broker *b, const char *name, bool want, int32_t min_parts);

/* Calls finish(job, timed_out) on the admin worker once ready(job) is true
 * or timeout_ms has passed (capped at 60 s; timeout_ms <= 0 waits up to a
 * short grace period and never reports a time-out, since Kafka answers at
 * once there). ready() is polled every 20 ms on the admin worker. job is
 * borrowed until finish(), which owns it. Admin worker. */
void admin_wait_start(struct broker *b, int64_t timeout_ms, bool (*ready)(void *job),
                      void (*finish)(void *job, bool timed_out), void *job);

#endif
