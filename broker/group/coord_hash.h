/*
 * broker/group/coord_hash.h — which `__consumer_offsets` partition owns a group.
 *
 * Kafka places a group on partition Utils.abs(groupId.hashCode()) % partitions, where hashCode
 * is Java's String.hashCode: h = 31 * h + c over the UTF-16 code units of the string, in 32-bit
 * two's-complement arithmetic, and Utils.abs(n) is Math.abs(n) except that INT_MIN maps to 0
 * (not a mask of the sign bit: "my-group", hashCode -1906497762, is on partition 12 of 50).
 * Reproducing it exactly means a Kafka client's expectations and a Kafka data directory agree
 * with Gregor about where each group lives. Threads: none; pure functions.
 */
#ifndef GREGOR_BROKER_GROUP_COORD_HASH_H
#define GREGOR_BROKER_GROUP_COORD_HASH_H

#include <stddef.h>
#include <stdint.h>

/* Java's String.hashCode of the UTF-8 string p[0..len): code points are decoded and those
 * above U+FFFF are hashed as their surrogate pair. Bytes that are not valid UTF-8 hash as
 * U+FFFD, the replacement character Java's UTF-8 decoder substitutes. */
int32_t coord_java_hash(const char *p, size_t len);

/* The partition of `__consumer_offsets` (of `partitions` > 0) coordinating group p[0..len). */
int32_t coord_partition_for(const char *p, size_t len, int32_t partitions);

#endif
