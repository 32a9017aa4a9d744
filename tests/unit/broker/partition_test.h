/*
 * tests/unit/broker/partition_test.h — helpers shared by the partition and
 * delayed-operation unit tests: real partitions (real plog) in a per-test
 * temp directory, LeaderAndIsr states, appends and follower fetches.
 */
#ifndef GREGOR_TESTS_UNIT_BROKER_PARTITION_TEST_H
#define GREGOR_TESTS_UNIT_BROKER_PARTITION_TEST_H

#include "broker/replication/partition.h"

#include <stdbool.h>
#include <stdint.h>

/* Criterion .init/.fini: temp dir (st_dir) and broker-default topic settings. */
void pt_setup(void);
void pt_teardown(void);

/* The topic settings new partitions get (broker defaults); tests may edit. */
extern struct topic_config pt_tc;

/* Partition 0 of topic "t" with a log in <st_dir>/<name>. */
struct partition *pt_new(const char *name);

/* Applies a LeaderAndIsr state with replicas 1..n_replicas (ids) and the
 * given ISR; returns what partition_apply_state() returns. */
kerr_t pt_state(struct partition *part, int32_t self, int32_t leader, int32_t leader_epoch,
                int32_t partition_epoch, int n_replicas, const int32_t *isr, int n_isr,
                int64_t now_ms, bool *role_changed);

/* Appends one batch of nrec records as leader; *last (may be NULL) = its
 * last offset. */
kerr_t pt_append(struct partition *part, int nrec, bool acks_all, int64_t now_ms, int64_t *last);

/* A follower's fetch at offset (its LEO); *hw (may be NULL) = the HW the
 * leader returned. When data is non-NULL the fetched bytes are copied into
 * a malloc()ed *data of *len bytes (NULL/0 when none). */
kerr_t pt_fetch(struct partition *part, int32_t replica_id, int64_t offset, int64_t now_ms,
                int64_t *hw, uint8_t **data, size_t *len);

/* The high watermark as ListOffsets(latest) reports it. */
int64_t pt_hw(struct partition *part);
/* The log end offset. */
int64_t pt_leo(struct partition *part);

/* A pwaiter that counts its wake-ups. */
struct pt_counter {
    struct pwaiter w;
    int wakes;
};
void pt_counter_init(struct pt_counter *c);

#endif
