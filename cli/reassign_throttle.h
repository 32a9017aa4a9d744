/*
 * cli/reassign_throttle.h — the replication throttle of a reassignment
 * (`gregor cluster reassign --execute --throttle RATE`), as Kafka's
 * kafka-reassign-partitions.sh sets and clears it:
 *   brokers: the dynamic per-broker configs leader.replication.throttled.rate
 *            and follower.replication.throttled.rate = RATE (bytes/s) on
 *            every broker holding an old or a new replica of a moving
 *            partition;
 *   topics:  leader.replication.throttled.replicas gets P:B for every
 *            current replica B of each moving partition P, and
 *            follower.replication.throttled.replicas P:B for every replica
 *            being added; merged into the topic's current lists ("*" stays).
 * All writes are one IncrementalAlterConfigs v0 (SET / DELETE) and the
 * reads DescribeConfigs v1, on the caller's connection (kraw.h); the broker
 * applies broker resources of any registered id (broker/kafka/configs.c).
 * Threads: main thread only.
 */
#ifndef GREGOR_CLI_REASSIGN_THROTTLE_H
#define GREGOR_CLI_REASSIGN_THROTTLE_H

#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "cli/kraw.h"
#include "common/reassign_json.h"

/*
 * Throttles the moves of v[0..n) (entries with "replicas": null are
 * skipped; current replicas from md) at rate bytes/s, and sets the rate on
 * the extra brokers too (replicas of moves already in progress); brokers
 * not live in md get no rate. Prints
 *   Throttle: RATE B/s on brokers A,B,C; throttled replicas set on topic(s) T1,T2
 * Returns CLI_OK, or CLI_FAIL after printing the broker's error.
 */
int ra_throttle_set(struct kraw *k, const struct rd_kafka_metadata *md,
                    const struct reassign_entry *v, int n, int64_t rate, const int32_t *extra,
                    int n_extra);

/* Sets only the two rates on brokers b[0..nb). Prints
 *   Throttle: RATE B/s on brokers A,B,C (reassignments already in progress) */
int ra_throttle_rate(struct kraw *k, const int32_t *b, int nb, int64_t rate);

/*
 * When any of the topics t[0..nt) has a throttled-replicas list set:
 * deletes both lists on those topics and both rates on every live broker of
 * md, and prints
 *   Throttle removed from brokers A,B,C and topic(s) T1,T2
 * Prints nothing when no topic has one. Returns CLI_OK or CLI_FAIL.
 */
int ra_throttle_clear(struct kraw *k, const struct rd_kafka_metadata *md, const char *const *t,
                      int nt);

#endif
