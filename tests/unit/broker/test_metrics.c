/*
 * tests/unit/broker/test_metrics.c — the per-API request counters of
 * broker/config/metrics.h: which slot a key lands in and which latency
 * bucket a duration lands in (bounds are inclusive, as Prometheus' le).
 */
#include "broker/config/metrics.h"
#include "common/api_keys.h"

#include <criterion/criterion.h>
#include <stdlib.h>

Test(metrics, kafka_control_and_unknown_keys_have_their_slots)
{
    cr_assert_eq(metrics_api_slot(API_PRODUCE), 0);
    cr_assert_eq(metrics_slot_api_key(metrics_api_slot(API_DESCRIBE_CLUSTER)),
                 API_DESCRIBE_CLUSTER);
    cr_assert_eq(metrics_slot_api_key(metrics_api_slot(RPC_LEADER_AND_ISR)), RPC_LEADER_AND_ISR);
    cr_assert_eq(metrics_slot_api_key(metrics_api_slot(RPC_CONTROLLED_SHUTDOWN)),
                 RPC_CONTROLLED_SHUTDOWN);
    cr_assert_eq(metrics_slot_api_key(metrics_api_slot(-1)), -1);
    cr_assert_eq(metrics_slot_api_key(metrics_api_slot(9999)), -1);
    cr_assert_eq(metrics_slot_api_key(metrics_api_slot(10005)), -1);
    cr_assert_eq(metrics_slot_api_key(metrics_api_slot(METRICS_KAFKA_KEYS)), -1);
}

Test(metrics, durations_land_in_the_first_bucket_whose_bound_holds_them)
{
    struct metrics *m = calloc(1, sizeof(*m));
    metrics_request_done(m, API_METADATA, 500, 0, false);          /* le 0.0005 */
    metrics_request_done(m, API_METADATA, 501, 501, false);        /* le 0.001 */
    metrics_request_done(m, API_METADATA, -5, -5, true);           /* clock step: 0 */
    metrics_request_done(m, API_METADATA, 1LL << 40, 2000, false); /* +Inf */
    struct metrics_api *a = &m->api[API_METADATA];
    cr_assert_eq(metrics_get(&a->requests), 4);
    cr_assert_eq(metrics_get(&a->errors), 1);
    cr_assert_eq(metrics_get(&a->latency[0]), 2);
    cr_assert_eq(metrics_get(&a->latency[1]), 1);
    cr_assert_eq(metrics_get(&a->latency[METRICS_LATENCY_BUCKETS]), 1);
    cr_assert_eq(metrics_get(&a->latency_us_sum), 500 + 501 + (1ULL << 40));
    cr_assert_eq(metrics_get(&a->queue[0]), 2); /* 0 and the clamped -5 */
    cr_assert_eq(metrics_get(&a->queue[1]), 1);
    cr_assert_eq(metrics_get(&a->queue[2]), 1);
    cr_assert_eq(metrics_get(&a->queue_us_sum), 501 + 2000);
    cr_assert_eq(metrics_get(&m->api[API_PRODUCE].requests), 0);
    free(m);
}
