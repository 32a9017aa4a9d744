/*
 * tests/unit/broker/test_partition.c — broker/replication/partition.c on
 * real logs: the leader's high watermark (the minimum LEO over the ISR,
 * only forward), the ISR proposals (shrink after the lag time, expand when
 * caught up, the in-flight union, the controller's answer), acks=all
 * status, reads, ListOffsets, DeleteRecords and retention bounded by the
 * HW, leader epoch changes fencing the old epoch, a follower
 * replicating from a leader in the same process, and appends going on
 * while a flush waits for the disk.
 *
 * Brokers are ids 1..3; the partition under test is broker 1 unless said
 * otherwise. Times are made-up monotonic milliseconds.
 */
#include "tests/unit/broker/partition_test.h"
#include "broker/storage/plog.h"
#include "tests/unit/broker/storage/storage_test.h"

#include "broker/storage/fileio.h"
#include "common/clock.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#define LAG 30000 /* replica.lag.time.max.ms */

TestSuite(partition, .init = pt_setup, .fini = pt_teardown, .timeout = 30);

static const int32_t ISR_123[] = {1, 2, 3};
static const int32_t ISR_12[] = {1, 2};
static const int32_t ISR_1[] = {1};

/* Broker 1 leads with replicas 1..3, ISR isr, epoch 5, partition epoch 10. */
static struct partition *leader(const int32_t *isr, int n_isr)
{
    struct partition *p = pt_new("p-0");
    cr_assert_eq(pt_state(p, 1, 1, 5, 10, 3, isr, n_isr, 1000, NULL), KERR_NONE);
    return p;
}

static int64_t fetch(struct partition *p, int32_t id, int64_t offset, int64_t now)
{
    int64_t hw = -7;
    cr_assert_eq(pt_fetch(p, id, offset, now, &hw, NULL, NULL), KERR_NONE);
    return hw;
}

/* ---- high watermark ---- */

Test(partition, hw_is_the_minimum_leo_of_the_isr)
{
    struct partition *p = leader(ISR_123, 3);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(pt_append(p, 2, false, 1000, NULL), KERR_NONE);
    cr_assert_eq(pt_leo(p), 6);
    cr_assert_eq(pt_hw(p), 0, "no follower has fetched");
    fetch(p, 2, 4, 1001);
    cr_assert_eq(pt_hw(p), 0, "follower 3 is unknown");
    fetch(p, 3, 2, 1002);
    cr_assert_eq(pt_hw(p), 2);
    fetch(p, 2, 6, 1003);
    cr_assert_eq(pt_hw(p), 2, "follower 3 holds it at 2");
    cr_assert_eq(fetch(p, 3, 5, 1004), 5, "the fetch response carries the new HW");
    fetch(p, 3, 6, 1005);
    cr_assert_eq(pt_hw(p), 6);
    /* the consumer view stops at the HW */
    cr_assert_eq(pt_append(p, 1, false, 1006, NULL), KERR_NONE);
    cr_assert_eq(pt_leo(p), 7);
    cr_assert_eq(pt_hw(p), 6);
    partition_free(p, false);
}

Test(partition, hw_never_moves_back)
{
    struct partition *p = leader(ISR_123, 3);
    cr_assert_eq(pt_append(p, 4, false, 1000, NULL), KERR_NONE);
    fetch(p, 2, 4, 1001);
    fetch(p, 3, 4, 1001);
    cr_assert_eq(pt_hw(p), 4);
    /* a follower that truncated fetches from lower down */
    fetch(p, 3, 1, 1002);
    cr_assert_eq(pt_hw(p), 4);
    /* a new ISR with a lagging member does not lower it either */
    partition_isr_result(p, KERR_NONE, 5, ISR_123, 3, 11);
    cr_assert_eq(pt_hw(p), 4);
    /* nor does a restored checkpoint below it */
    partition_restore_hw(p, 2);
    cr_assert_eq(pt_hw(p), 4);
    partition_free(p, false);
}

Test(partition, hw_ignores_replicas_outside_the_isr)
{
    struct partition *p = leader(ISR_12, 2);
    cr_assert_eq(pt_append(p, 3, false, 1000, NULL), KERR_NONE);
    fetch(p, 3, 0, 1001); /* out of the ISR and far behind */
    fetch(p, 2, 3, 1001);
    cr_assert_eq(pt_hw(p), 3);
    partition_free(p, false);
}

Test(partition, a_leader_alone_in_the_isr_commits_at_once)
{
    struct partition *p = leader(ISR_1, 1);
    struct pt_counter c;
    pt_counter_init(&c);
    partition_watch(p, &c.w);
    cr_assert_eq(pt_append(p, 3, false, 1000, NULL), KERR_NONE);
    cr_assert_eq(pt_hw(p), 3);
    cr_assert_geq(c.wakes, 1, "the append wakes the waiters");
    partition_unwatch(p, &c.w);
    cr_assert_eq(pt_append(p, 1, false, 1000, NULL), KERR_NONE);
    cr_assert_eq(pt_hw(p), 4);
    partition_free(p, false);
}

Test(partition, waiters_wake_when_the_hw_moves)
{
    struct partition *p = leader(ISR_12, 2);
    struct pt_counter c;
    cr_assert_eq(pt_append(p, 2, false, 1000, NULL), KERR_NONE);
    pt_counter_init(&c);
    partition_watch(p, &c.w);
    fetch(p, 2, 1, 1001);
    cr_assert_eq(pt_hw(p), 1);
    cr_assert_eq(c.wakes, 1);
    fetch(p, 2, 1, 1002); /* nothing moves */
    cr_assert_eq(c.wakes, 1);
    fetch(p, 2, 2, 1003);
    cr_assert_eq(c.wakes, 2);
    partition_unwatch(p, &c.w);
    partition_free(p, false);
}

static int64_t be64(const uint8_t *b)
{
    int64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | b[i];
    return v;
}

static int32_t be32(const uint8_t *b)
{
    return (int32_t)((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]);
}

Test(partition, a_consumer_reads_up_to_the_hw_a_follower_up_to_the_leo)
{
    struct partition *p = leader(ISR_12, 2);
    uint8_t *data;
    size_t len;
    int64_t off, ts;
    cr_assert_eq(pt_append(p, 2, false, 1000, NULL), KERR_NONE); /* timestamps 1000, 1001 */
    struct kbuf b;
    int64_t base, last, log_start;
    int32_t epoch;
    kbuf_init(&b);
    st_simple(&b, 2, 10, 5000); /* offsets 2, 3 at timestamps 5000, 5001 */
    cr_assert_eq(partition_append(p, b.data, b.len, 1000, false, &base, &last, &epoch, &log_start),
                 KERR_NONE);
    kbuf_destroy(&b);
    fetch(p, 2, 2, 1001);
    cr_assert_eq(pt_hw(p), 2);

    cr_assert_eq(pt_fetch(p, -1, 0, 1002, NULL, &data, &len), KERR_NONE);
    cr_assert_geq(len, 12);
    cr_assert_eq(be64(data), 0);
    cr_assert_eq(len, (size_t)be32(data + 8) + 12, "only the batch below the HW");
    free(data);
    cr_assert_eq(pt_fetch(p, -1, 2, 1002, NULL, &data, &len), KERR_NONE);
    cr_assert_eq(len, 0, "nothing committed at the HW");
    cr_assert_eq(pt_fetch(p, 2, 2, 1002, NULL, &data, &len), KERR_NONE);
    cr_assert_gt(len, 12);
    cr_assert_eq(be64(data), 2, "the follower gets the uncommitted batch");
    free(data);
    cr_assert_eq(pt_fetch(p, -1, 5, 1002, NULL, NULL, NULL), KERR_OFFSET_OUT_OF_RANGE);

    cr_assert_eq(partition_list_offset(p, -2, &off, &ts), KERR_NONE);
    cr_assert_eq(off, 0);
    cr_assert_eq(partition_list_offset(p, 1001, &off, &ts), KERR_NONE);
    cr_assert_eq(off, 1, "record 1 has timestamp 1001");
    cr_assert_eq(partition_list_offset(p, 5000, &off, &ts), KERR_NONE);
    cr_assert_eq(off, -1, "offset 2 is not committed yet");
    cr_assert_eq(ts, -1);
    partition_free(p, false);
}

Test(partition, delete_records_and_retention_stop_at_the_hw)
{
    int64_t low = -7, off, ts;
    int deleted = -1;
    pt_tc.segment_bytes = 100; /* one batch a segment */
    pt_tc.retention_bytes = 1; /* everything is over the limit */
    struct partition *p = leader(ISR_12, 2);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(pt_append(p, 1, false, 1000, NULL), KERR_NONE);
    fetch(p, 2, 2, 1001);
    cr_assert_eq(pt_hw(p), 2);

    cr_assert_eq(partition_apply_retention(p, 2000, &deleted), KERR_NONE);
    cr_assert_eq(deleted, 2, "only the segments below the HW go (deleted %d)", deleted);
    cr_assert_eq(partition_list_offset(p, -2, &off, &ts), KERR_NONE);
    cr_assert_eq(off, 2);
    cr_assert_eq(pt_leo(p), 4);

    cr_assert_eq(partition_delete_records(p, 3, &low), KERR_OFFSET_OUT_OF_RANGE, "above the HW");
    cr_assert_eq(low, 2);
    fetch(p, 2, 4, 1002);
    cr_assert_eq(partition_delete_records(p, -1, &low), KERR_NONE);
    cr_assert_eq(low, 4, "-1 means the HW");
    cr_assert_eq(pt_fetch(p, -1, 3, 1003, NULL, NULL, NULL), KERR_OFFSET_OUT_OF_RANGE);
    partition_free(p, false);
}

/* ---- ISR changes ---- */

static bool propose(struct partition *p, int64_t now, int32_t *isr, int *n, int32_t *le,
                    int32_t *pe)
{
    return partition_isr_proposal(p, now, LAG, isr, n, le, pe);
}

Test(partition, isr_shrinks_when_a_follower_lags_past_the_lag_time)
{
    struct partition *p = leader(ISR_123, 3);
    int32_t isr[PARTITION_MAX_REPLICAS], le = -1, pe = -1;
    int n = -1;
    cr_assert_eq(pt_append(p, 2, false, 1000, NULL), KERR_NONE);
    fetch(p, 2, 2, 20000); /* follower 2 is caught up; 3 never fetches */
    cr_assert_eq(pt_hw(p), 0, "follower 3 holds the HW");
    cr_assert_not(propose(p, 1000 + LAG, isr, &n, &le, &pe), "lag time not exceeded yet");
    cr_assert(propose(p, 1000 + LAG + 1, isr, &n, &le, &pe));
    cr_assert_eq(n, 2);
    cr_assert_eq(isr[0], 1);
    cr_assert_eq(isr[1], 2);
    cr_assert_eq(le, 5);
    cr_assert_eq(pe, 10);
    cr_assert_not(propose(p, 1000 + LAG + 2, isr, &n, &le, &pe), "one proposal at a time");
    cr_assert_eq(p->n_isr, 3, "the ISR changes only when the controller answers");
    cr_assert_eq(pt_hw(p), 0);

    cr_assert_eq(partition_isr_result(p, KERR_NONE, 5, ISR_12, 2, 11), -1, "a shrink by one");
    cr_assert_eq(p->n_isr, 2);
    cr_assert_eq(p->partition_epoch, 11);
    cr_assert_eq(pt_hw(p), 2, "the HW no longer waits for follower 3");
    cr_assert_not(propose(p, 1000 + LAG + 3, isr, &n, &le, &pe), "nothing left to change");
    partition_free(p, false);
}

/* Kafka's caught-up rule: a fetch behind the LEO still shows the follower
 * had everything the leader had at its previous fetch. */
Test(partition, a_follower_fetching_what_was_there_at_its_last_fetch_stays_caught_up)
{
    struct partition *p = leader(ISR_123, 3);
    int32_t isr[PARTITION_MAX_REPLICAS], le, pe;
    int n;
    cr_assert_eq(pt_append(p, 2, false, 1000, NULL), KERR_NONE);  /* LEO 2 */
    fetch(p, 2, 2, 10000);                                        /* at the LEO */
    fetch(p, 3, 0, 10000);                                        /* behind */
    cr_assert_eq(pt_append(p, 2, false, 11000, NULL), KERR_NONE); /* LEO 4 */
    fetch(p, 2, 2, 35000);                                        /* had all of LEO 2 at 10000 */
    fetch(p, 3, 1, 35000); /* still behind LEO 2 of its last fetch */
    cr_assert_eq(pt_append(p, 2, false, 36000, NULL), KERR_NONE); /* LEO 6 */
    fetch(p, 2, 4, 50000);                                        /* had all of LEO 4 at 35000 */
    fetch(p, 3, 3, 50000);                                        /* behind LEO 4 */
    cr_assert(propose(p, 35000 + LAG, isr, &n, &le, &pe));
    cr_assert_eq(n, 2, "only follower 3 leaves");
    cr_assert_eq(isr[0], 1);
    cr_assert_eq(isr[1], 2);
    partition_free(p, false);
}

Test(partition, isr_expands_when_a_replica_catches_up)
{
    struct partition *p = leader(ISR_12, 2);
    int32_t isr[PARTITION_MAX_REPLICAS], le, pe;
    int n;
    cr_assert_eq(pt_append(p, 4, false, 1000, NULL), KERR_NONE);
    fetch(p, 2, 4, 1001);
    cr_assert_eq(pt_hw(p), 4);
    fetch(p, 3, 2, 1002);
    cr_assert_not(propose(p, 1003, isr, &n, &le, &pe), "follower 3 is below the HW");
    fetch(p, 3, 4, 1004);
    cr_assert(propose(p, 1005, isr, &n, &le, &pe));
    cr_assert_eq(n, 3);
    cr_assert_eq(isr[2], 3);

    /* while the proposal is in flight the HW also waits for follower 3 */
    cr_assert_eq(pt_append(p, 2, false, 1006, NULL), KERR_NONE);
    fetch(p, 2, 6, 1007);
    cr_assert_eq(pt_hw(p), 4, "the proposed member holds the HW");
    fetch(p, 3, 6, 1008);
    cr_assert_eq(pt_hw(p), 6);

    cr_assert_eq(partition_isr_result(p, KERR_NONE, 5, ISR_123, 3, 11), 1, "an expansion by one");
    cr_assert_eq(p->n_isr, 3);
    cr_assert_not(p->isr_inflight);
    partition_free(p, false);
}

Test(partition, a_refused_proposal_keeps_the_isr_and_may_be_made_again)
{
    struct partition *p = leader(ISR_123, 3);
    int32_t isr[PARTITION_MAX_REPLICAS], le, pe;
    int n;
    fetch(p, 2, 0, 20000);
    cr_assert(propose(p, 1000 + LAG + 1, isr, &n, &le, &pe));
    cr_assert_eq(partition_isr_result(p, KERR_INVALID_UPDATE_VERSION, le, NULL, 0, 0), 0);
    cr_assert_eq(p->n_isr, 3);
    cr_assert_eq(p->partition_epoch, 10);
    cr_assert_not(p->isr_inflight);
    cr_assert(propose(p, 1000 + LAG + 2, isr, &n, &le, &pe), "proposed again");
    cr_assert_eq(n, 2);
    partition_free(p, false);
}

Test(partition, an_answer_for_an_older_leader_epoch_is_not_applied)
{
    struct partition *p = leader(ISR_123, 3);
    int32_t isr[PARTITION_MAX_REPLICAS], le, pe;
    int n;
    fetch(p, 2, 0, 20000);
    cr_assert(propose(p, 1000 + LAG + 1, isr, &n, &le, &pe));
    /* the controller bumps the epoch meanwhile (same leader, same ISR) */
    cr_assert_eq(pt_state(p, 1, 1, 6, 12, 3, ISR_123, 3, 1000 + LAG + 2, NULL), KERR_NONE);
    cr_assert_eq(partition_isr_result(p, KERR_NONE, le, isr, n, 13), 0, "not applied");
    cr_assert_eq(p->n_isr, 3, "an answer to the epoch-5 proposal");
    cr_assert_eq(p->partition_epoch, 12);
    partition_free(p, false);
}

/* What /metrics counts (broker/http/series.c). */
Test(partition, health_reports_leadership_isr_and_min_isr)
{
    struct partition *p = leader(ISR_12, 2);
    struct partition_health h;
    partition_health(p, &h);
    cr_assert(h.hosted && h.leader && !h.offline);
    cr_assert_eq(h.n_replicas, 3);
    cr_assert_eq(h.n_isr, 2, "under-replicated: ISR 2 of 3 replicas");
    cr_assert_eq(h.min_isr, p->tc.min_insync_replicas);
    /* a follower of broker 2 now */
    cr_assert_eq(pt_state(p, 1, 2, 6, 11, 3, ISR_123, 3, 2000, NULL), KERR_NONE);
    partition_health(p, &h);
    cr_assert(h.hosted && !h.leader && !h.offline);
    cr_assert_eq(h.n_isr, 3);
    partition_free(p, false);
}

/* ---- acks=all ---- */

Test(partition, acks_all_completes_when_the_hw_passes_the_offset)
{
    pt_tc.min_insync_replicas = 2;
    struct partition *p = leader(ISR_123, 3);
    struct pt_counter c;
    int64_t last = -1;
    cr_assert_eq(pt_append(p, 3, true, 1000, &last), KERR_NONE);
    cr_assert_eq(last, 2);
    pt_counter_init(&c);
    partition_watch(p, &c.w);
    cr_assert_eq(partition_ack_status(p, last, 5), KERR__AGAIN);
    fetch(p, 2, 3, 1001);
    cr_assert_eq(partition_ack_status(p, last, 5), KERR__AGAIN, "follower 3 has not fetched");
    fetch(p, 3, 2, 1002);
    cr_assert_eq(partition_ack_status(p, last, 5), KERR__AGAIN, "the HW is at the offset");
    int wakes = c.wakes;
    fetch(p, 3, 3, 1003);
    cr_assert_gt(c.wakes, wakes, "the waiter is woken when the HW moves");
    cr_assert_eq(partition_ack_status(p, last, 5), KERR_NONE);
    cr_assert_eq(partition_ack_status(p, 1, 5), KERR_NONE, "earlier offsets too");
    partition_unwatch(p, &c.w);
    partition_free(p, false);
}

Test(partition, acks_all_needs_min_insync_replicas)
{
    pt_tc.min_insync_replicas = 2;
    struct partition *p = leader(ISR_1, 1);
    int64_t last;
    cr_assert_eq(pt_append(p, 1, true, 1000, NULL), KERR_NOT_ENOUGH_REPLICAS);
    cr_assert_eq(pt_leo(p), 0, "nothing appended");
    cr_assert_eq(pt_append(p, 1, false, 1000, NULL), KERR_NONE, "acks=1 is accepted");
    cr_assert_eq(pt_leo(p), 1);
    partition_free(p, false);

    /* the ISR shrinks below min.insync.replicas after the append */
    p = pt_new("p-1");
    cr_assert_eq(pt_state(p, 1, 1, 5, 10, 2, ISR_12, 2, 1000, NULL), KERR_NONE);
    cr_assert_eq(pt_append(p, 2, true, 1000, &last), KERR_NONE);
    cr_assert_eq(partition_ack_status(p, last, 5), KERR__AGAIN);
    int32_t isr[PARTITION_MAX_REPLICAS], le, pe;
    int n;
    cr_assert(propose(p, 1000 + LAG + 1, isr, &n, &le, &pe));
    partition_isr_result(p, KERR_NONE, le, isr, n, pe + 1);
    cr_assert_eq(pt_hw(p), 2, "the leader alone commits");
    cr_assert_eq(partition_ack_status(p, last, 5), KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND);
    partition_free(p, false);
}

Test(partition, a_deleted_partition_wakes_its_waiters_and_refuses)
{
    struct partition *p = leader(ISR_12, 2);
    struct pt_counter c;
    int64_t last;
    cr_assert_eq(pt_append(p, 1, true, 1000, &last), KERR_NONE);
    pt_counter_init(&c);
    partition_watch(p, &c.w);
    partition_mark_deleted(p);
    cr_assert_eq(c.wakes, 1);
    cr_assert_eq(partition_ack_status(p, last, 5), KERR_UNKNOWN_TOPIC_OR_PARTITION);
    cr_assert_eq(pt_append(p, 1, false, 1000, NULL), KERR_UNKNOWN_TOPIC_OR_PARTITION);
    partition_unwatch(p, &c.w);
    partition_free(p, false);
}

/* ---- leader epochs ---- */

Test(partition, becoming_follower_fences_the_old_epoch)
{
    struct partition *p = leader(ISR_123, 3);
    struct pt_counter c;
    int64_t last;
    bool changed = false;
    cr_assert_eq(pt_append(p, 2, true, 1000, &last), KERR_NONE);
    pt_counter_init(&c);
    partition_watch(p, &c.w);

    cr_assert_eq(pt_state(p, 1, 2, 6, 11, 3, ISR_123, 3, 2000, &changed), KERR_NONE);
    cr_assert(changed);
    cr_assert_geq(c.wakes, 1, "parked operations re-check their role");
    cr_assert_eq(partition_ack_status(p, last, 5), KERR_NOT_LEADER_OR_FOLLOWER);
    cr_assert_eq(pt_append(p, 1, false, 2000, NULL), KERR_NOT_LEADER_OR_FOLLOWER);
    cr_assert_eq(pt_fetch(p, -1, 0, 2000, NULL, NULL, NULL), KERR_NOT_LEADER_OR_FOLLOWER);
    cr_assert_eq(pt_fetch(p, 3, 0, 2000, NULL, NULL, NULL), KERR_NOT_LEADER_OR_FOLLOWER);

    struct partition_fetch f = {.replica_id = -1, .offset = 0, .max_bytes = 100, .now_ms = 2000};
    struct partition_read out;
    f.current_leader_epoch = 5;
    cr_assert_eq(partition_read(p, &f, &out), KERR_FENCED_LEADER_EPOCH);
    f.current_leader_epoch = 7;
    cr_assert_eq(partition_read(p, &f, &out), KERR_UNKNOWN_LEADER_EPOCH);

    /* the follower side: epoch 6 is current, 5 is fenced */
    int64_t leo, hw;
    cr_assert(partition_follower_position(p, 6, &leo, &hw));
    cr_assert_eq(leo, 2);
    cr_assert_not(partition_follower_position(p, 5, &leo, &hw));
    cr_assert_eq(partition_append_replica(p, 5, NULL, 0, 2, 0, 2000), KERR_FENCED_LEADER_EPOCH);
    cr_assert_eq(partition_truncate(p, 5, 0, false), KERR_FENCED_LEADER_EPOCH);
    cr_assert_eq(pt_leo(p), 2);

    /* an older LeaderAndIsr is refused and changes nothing */
    cr_assert_eq(pt_state(p, 1, 1, 4, 12, 3, ISR_123, 3, 2001, &changed), KERR_FENCED_LEADER_EPOCH);
    cr_assert_not(p->is_leader);
    cr_assert_eq(p->leader_epoch, 6);
    partition_unwatch(p, &c.w);
    partition_free(p, false);
}

Test(partition, leading_again_under_a_new_epoch_fences_the_old_one)
{
    struct partition *p = leader(ISR_1, 1);
    int64_t last, last7;
    int32_t end_epoch;
    int64_t end_offset;
    cr_assert_eq(pt_append(p, 2, true, 1000, &last), KERR_NONE);
    cr_assert_eq(pt_state(p, 1, 2, 6, 11, 3, ISR_1, 1, 2000, NULL), KERR_NONE);
    cr_assert_eq(pt_state(p, 1, 1, 7, 12, 3, ISR_1, 1, 3000, NULL), KERR_NONE);
    cr_assert_eq(partition_ack_status(p, last, 5), KERR_NOT_LEADER_OR_FOLLOWER,
                 "written under epoch 5: it may not survive");
    cr_assert_eq(pt_append(p, 3, true, 3000, &last7), KERR_NONE);
    cr_assert_eq(partition_ack_status(p, last7, 7), KERR_NONE);
    cr_assert_eq(partition_latest_epoch(p), 7);
    /* epoch 5 ended where epoch 7 started */
    cr_assert_eq(partition_end_offset_for_epoch(p, 1, true, 7, 5, &end_epoch, &end_offset),
                 KERR_NONE);
    cr_assert_eq(end_epoch, 5);
    cr_assert_eq(end_offset, 2);
    cr_assert_eq(partition_end_offset_for_epoch(p, 1, true, 6, 5, &end_epoch, &end_offset),
                 KERR_FENCED_LEADER_EPOCH);
    cr_assert_eq(partition_end_offset_for_epoch(p, 2, true, -1, 5, &end_epoch, &end_offset),
                 KERR_NOT_LEADER_OR_FOLLOWER);
    partition_free(p, false);
}

Test(partition, a_bumped_epoch_for_the_same_leader_keeps_the_followers_progress)
{
    struct partition *p = leader(ISR_123, 3);
    bool changed = false;
    cr_assert_eq(pt_append(p, 4, false, 1000, NULL), KERR_NONE);
    fetch(p, 2, 2, 1001);
    fetch(p, 3, 4, 1001);
    cr_assert_eq(pt_hw(p), 2);
    cr_assert_eq(pt_state(p, 1, 1, 6, 11, 3, ISR_123, 3, 2000, &changed), KERR_NONE);
    cr_assert(changed, "the epoch changed");
    fetch(p, 2, 4, 2001);
    cr_assert_eq(pt_hw(p), 4, "follower 3's LEO (4) from before the bump still counts");

    /* the same epoch again only refreshes the ISR: no role change */
    cr_assert_eq(pt_state(p, 1, 1, 6, 12, 3, ISR_12, 2, 2003, &changed), KERR_NONE);
    cr_assert_not(changed);
    cr_assert_eq(p->n_isr, 2);
    partition_free(p, false);
}

Test(partition, a_new_leader_forgets_the_followers_progress)
{
    struct partition *p = leader(ISR_123, 3);
    cr_assert_eq(pt_append(p, 2, false, 1000, NULL), KERR_NONE);
    fetch(p, 2, 2, 1001);
    fetch(p, 3, 2, 1001);
    cr_assert_eq(pt_state(p, 1, 2, 6, 11, 3, ISR_123, 3, 2000, NULL), KERR_NONE);
    cr_assert_eq(pt_state(p, 1, 1, 7, 12, 3, ISR_123, 3, 3000, NULL), KERR_NONE);
    cr_assert_eq(pt_append(p, 2, false, 3000, NULL), KERR_NONE);
    fetch(p, 2, 4, 3001);
    cr_assert_eq(pt_hw(p), 2, "follower 3's LEO is unknown again");
    fetch(p, 3, 4, 3002);
    cr_assert_eq(pt_hw(p), 4);
    partition_free(p, false);
}

/* ---- a follower replicating from a leader ---- */

/* One fetch round: the follower fetches at its LEO from the leader and
 * appends what it got with the leader's HW. */
static void replicate(struct partition *lead, struct partition *fol, int64_t now)
{
    uint8_t *data;
    size_t len;
    int64_t hw = -1, leo, fhw;
    cr_assert(partition_follower_position(fol, 5, &leo, &fhw));
    cr_assert_eq(pt_fetch(lead, 2, leo, now, &hw, &data, &len), KERR_NONE);
    cr_assert_eq(partition_append_replica(fol, 5, data, len, hw, 0, now), KERR_NONE);
    free(data);
}

Test(partition, a_follower_takes_the_leader_hw_capped_by_its_leo)
{
    struct partition *lead = leader(ISR_12, 2);
    struct partition *fol = pt_new("f-0");
    cr_assert_eq(pt_state(fol, 2, 1, 5, 10, 3, ISR_12, 2, 1000, NULL), KERR_NONE);
    cr_assert_not(fol->is_leader);
    for (int i = 0; i < 3; i++) /* one record a batch: truncation is exact */
        cr_assert_eq(pt_append(lead, 1, false, 1000, NULL), KERR_NONE);

    replicate(lead, fol, 1001); /* gets 0..2; the leader's HW was 0 */
    cr_assert_eq(pt_leo(fol), 3);
    cr_assert_eq(fol->hw, 0);
    cr_assert_eq(pt_hw(lead), 0, "the fetch at 0 showed nothing yet");
    replicate(lead, fol, 1002); /* fetch at 3: the leader commits 3 */
    cr_assert_eq(pt_hw(lead), 3);
    cr_assert_eq(fol->hw, 3);
    cr_assert_eq(partition_latest_epoch(fol), 5, "the batches carry the leader's epoch");

    /* a leader HW above the follower's LEO is capped */
    cr_assert_eq(partition_append_replica(fol, 5, NULL, 0, 10, 0, 1003), KERR_NONE);
    cr_assert_eq(fol->hw, 3);
    /* truncation lowers the HW to the new LEO, never raises it */
    cr_assert_eq(partition_truncate(fol, 5, 1, false), KERR_NONE);
    cr_assert_eq(pt_leo(fol), 1);
    cr_assert_eq(fol->hw, 1);
    cr_assert_eq(partition_truncate(fol, 5, 3, false), KERR_NONE);
    cr_assert_eq(fol->hw, 1);
    partition_free(fol, false);
    partition_free(lead, false);
}

/* ---- flush ---- */

/* fsync through fileio's ops table, slowed down while slow_fsync is set */
static _Atomic bool slow_fsync;
static _Atomic int fsyncs_started;

static int fsync_slow(int fd)
{
    atomic_fetch_add(&fsyncs_started, 1);
    if (atomic_load(&slow_fsync))
        usleep(400 * 1000);
    return fsync(fd);
}

static void *flush_thread(void *arg)
{
    cr_assert_eq(partition_flush(arg), KERR_NONE);
    return NULL;
}

Test(partition, appends_go_on_while_a_flush_waits_for_the_disk)
{
    static struct fileio_ops ops;
    struct partition *p = leader(ISR_1, 1);
    int64_t rp, ls, hw, t0, took;
    pthread_t th;

    for (int i = 0; i < 5; i++)
        cr_assert_eq(pt_append(p, 2, false, 1000, NULL), KERR_NONE);
    ops = fileio_default_ops;
    ops.fsync = fsync_slow;
    fileio_set_ops(&ops);
    atomic_store(&slow_fsync, true);
    atomic_store(&fsyncs_started, 0);
    cr_assert_eq(pthread_create(&th, NULL, flush_thread, p), 0);
    while (atomic_load(&fsyncs_started) == 0)
        usleep(1000);
    /* the flush sits in a 400 ms fsync: an append does not wait for it */
    t0 = clock_mono_us();
    cr_assert_eq(pt_append(p, 3, false, 1001, NULL), KERR_NONE);
    took = clock_mono_us() - t0;
    cr_assert_lt(took, 200 * 1000, "the append waited %lld us for the flush", (long long)took);
    pthread_join(th, NULL);
    atomic_store(&slow_fsync, false);
    /* the recovery point is the end the flush began with, not the records after it */
    cr_assert(partition_checkpoint(p, &rp, &ls, &hw));
    cr_assert_eq(rp, 10);
    cr_assert_eq(partition_flush(p), KERR_NONE);
    cr_assert(partition_checkpoint(p, &rp, &ls, &hw));
    cr_assert_eq(rp, 13);
    fileio_set_ops(NULL);
    partition_free(p, false);
}
