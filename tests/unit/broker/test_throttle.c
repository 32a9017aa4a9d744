/*
 * tests/unit/broker/test_throttle.c — the replication throttles' pieces
 * without processes: the windowed byte-rate meter (broker/replication/
 * throttle.c) driven by a fake clock, its thread safety, the
 * leader/follower.replication.throttled.replicas value parser
 * (broker/config/topic_config.c) and the rate keys seeding struct
 * broker_dynamic. (The per-partition flags a topic's overrides set are in
 * test_topics.c.)
 */
#include "broker/config/config.h"
#include "broker/config/dynamic.h"
#include "broker/config/topic_config.h"
#include "broker/replication/throttle.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MB (1000 * 1000)

Test(throttle, empty_meter_has_rate_zero_and_is_never_over)
{
    struct throttle_meter m;
    throttle_meter_init(&m, 11, 1000);
    cr_assert_eq(throttle_meter_rate(&m, 5000), 0);
    cr_assert(!throttle_meter_exceeded(&m, 0 + 1, 5000));
    throttle_meter_destroy(&m);
}

/* A burst at rest: the elapsed time counts as at least one sample. */
Test(throttle, burst_counts_over_one_sample)
{
    struct throttle_meter m;
    throttle_meter_init(&m, 11, 1000);
    throttle_meter_record(&m, 3 * MB, 10000);
    cr_assert_eq(throttle_meter_rate(&m, 10000), 3 * MB);
    cr_assert(!throttle_meter_exceeded(&m, 4 * MB, 10000));
    throttle_meter_record(&m, 2 * MB, 10010);
    cr_assert_eq(throttle_meter_rate(&m, 10010), 5 * MB);
    cr_assert(throttle_meter_exceeded(&m, 4 * MB, 10010));
    /* 2.5 s later the same 5 MB spread over 2.5 s: 2 MB/s */
    cr_assert_eq(throttle_meter_rate(&m, 12500), 2 * MB);
    cr_assert(!throttle_meter_exceeded(&m, 4 * MB, 12500));
    /* INT64_MAX is unlimited */
    cr_assert(!throttle_meter_exceeded(&m, INT64_MAX, 10010));
    throttle_meter_destroy(&m);
}

/* Samples older than the window drop out: the rate forgets old traffic. */
Test(throttle, window_forgets_old_samples)
{
    struct throttle_meter m;
    throttle_meter_init(&m, 3, 1000);
    throttle_meter_record(&m, 9 * MB, 0);
    int64_t r = throttle_meter_rate(&m, 2999); /* 9 MB over 2.999 s */
    cr_assert(r > 3 * MB && r < 3 * MB + 10000, "%lld", (long long)r);
    cr_assert_eq(throttle_meter_rate(&m, 3000), 0); /* the sample left the window */
    throttle_meter_record(&m, 1 * MB, 3500);
    cr_assert_eq(throttle_meter_rate(&m, 3500), 1 * MB);
    throttle_meter_destroy(&m);
}

/* A sender that sends one chunk whenever the meter is under the limit
 * moves at about the limit once the window has filled. */
Test(throttle, steady_sender_holds_the_limit)
{
    struct throttle_meter m;
    throttle_meter_init(&m, 11, 1000);
    int64_t limit = 4 * MB, sent = 0;
    for (int64_t now = 0; now < 60000; now += 10) {
        if (!throttle_meter_exceeded(&m, limit, now)) {
            throttle_meter_record(&m, MB, now);
            sent += MB;
        }
    }
    /* 60 s at 4 MB/s is 240 MB; the first burst and chunking add a little */
    cr_assert(sent >= 235 * (int64_t)MB && sent <= 250 * (int64_t)MB, "sent %lld", (long long)sent);
    struct throttle_stats st;
    throttle_meter_stats(&m, 60000, &st);
    cr_assert_eq(st.bytes_total, (uint64_t)sent);
    cr_assert(st.rate >= 3 * MB && st.rate <= 5 * MB, "rate %lld", (long long)st.rate);
    cr_assert(st.holds > 0);
    /* held back most of the time: 10 ms steps, one 1 MB chunk each 250 ms */
    cr_assert(st.throttled_ms > 50000, "throttled_ms %lld", (long long)st.throttled_ms);
    throttle_meter_destroy(&m);
}

/* Held time runs from an exceeded check to the next check, at most one
 * sample each, and stops counting when nobody asks any more. */
Test(throttle, throttled_time_counts_gaps_of_at_most_one_sample)
{
    struct throttle_meter m;
    throttle_meter_init(&m, 11, 1000);
    throttle_meter_record(&m, 10 * MB, 0);
    cr_assert(throttle_meter_exceeded(&m, MB, 0));
    cr_assert(throttle_meter_exceeded(&m, MB, 400));
    cr_assert(throttle_meter_exceeded(&m, MB, 5400)); /* gap 5 s counts 1 s */
    struct throttle_stats st;
    throttle_meter_stats(&m, 100000, &st);
    cr_assert_eq(st.throttled_ms, 1400);
    cr_assert_eq(st.holds, 3);
    /* held at 5400, released by the check at 5700: 300 ms more */
    cr_assert(!throttle_meter_exceeded(&m, INT64_MAX, 5700));
    cr_assert(!throttle_meter_exceeded(&m, INT64_MAX, 9000)); /* not held: nothing added */
    throttle_meter_stats(&m, 100000, &st);
    cr_assert_eq(st.throttled_ms, 1700);
    cr_assert_eq(st.holds, 3);
    throttle_meter_destroy(&m);
}

struct hammer {
    struct throttle_meter *m;
    int n;
};

static void *hammer_run(void *arg)
{
    struct hammer *h = arg;
    for (int i = 0; i < h->n; i++) {
        throttle_meter_record(h->m, 100, i % 1000);
        (void)throttle_meter_exceeded(h->m, 1000, i % 1000);
    }
    return NULL;
}

Test(throttle, concurrent_records_are_all_counted)
{
    struct throttle_meter m;
    throttle_meter_init(&m, 11, 1000);
    pthread_t th[4];
    struct hammer h = {.m = &m, .n = 100000};
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, hammer_run, &h);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    struct throttle_stats st;
    throttle_meter_stats(&m, 1000, &st);
    cr_assert_eq(st.bytes_total, 4ull * 100000 * 100);
    throttle_meter_destroy(&m);
}

Test(throttle, replicas_value_parse)
{
    bool hit;
    cr_assert(topic_config_throttled_parse("", 0, 1, &hit) && !hit);
    cr_assert(topic_config_throttled_parse("*", 7, 3, &hit) && hit);
    cr_assert(topic_config_throttled_parse(" * ", 7, 3, &hit) && hit);
    cr_assert(topic_config_throttled_parse("0:1,1:2", 1, 2, &hit) && hit);
    cr_assert(topic_config_throttled_parse("0:1,1:2", 1, 1, &hit) && !hit);
    cr_assert(topic_config_throttled_parse("0:1, 1 : 2", 1, 2, &hit) && hit);
    cr_assert(topic_config_throttled_parse("0:1", 0, 2, NULL));
    const char *bad[] = {"x",        "1",     "1:",   ":1",    "1:2,",
                         "1:2,,3:4", "*,1:2", "-1:2", "1:2:3", "99999999999:1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert(!topic_config_throttled_parse(bad[i], 0, 0, &hit), "%s", bad[i]);
    char why[200];
    cr_assert(topic_config_validate("leader.replication.throttled.replicas", "0:1,2:3", why,
                                    sizeof(why)));
    cr_assert(
        !topic_config_validate("follower.replication.throttled.replicas", "0-1", why, sizeof(why)));
    cr_assert(strstr(why, "partition:broker") != NULL, "%s", why);
}

static struct broker_config *load_config(char **ov, int n)
{
    struct broker_config *cfg = calloc(1, sizeof(*cfg));
    char err[512];
    cr_assert(config_load(cfg, NULL, NULL, ov, n, err, sizeof(err)) == 0, "%s", err);
    return cfg;
}

Test(throttle, rate_keys_default_unlimited_and_seed_dynamic)
{
    char *none[] = {"zookeeper.connect=localhost:2181"};
    struct broker_config *cfg = load_config(none, 1);
    cr_assert_eq(cfg->leader_replication_throttled_rate, INT64_MAX);
    cr_assert_eq(cfg->follower_replication_throttled_rate, INT64_MAX);
    cr_assert_eq(cfg->replication_quota_window_num, 11);
    struct broker_dynamic d;
    broker_dynamic_init(&d, cfg);
    cr_assert_eq(dyn_load(&d.follower_replication_throttled_rate), INT64_MAX);
    config_free(cfg);
    free(cfg);
    char *set[] = {"zookeeper.connect=localhost:2181",
                   "follower.replication.throttled.rate=4000000"};
    cfg = load_config(set, 2);
    broker_dynamic_init(&d, cfg);
    cr_assert_eq(dyn_load(&d.follower_replication_throttled_rate), 4000000);
    cr_assert_eq(dyn_load(&d.leader_replication_throttled_rate), INT64_MAX);
    config_free(cfg);
    free(cfg);
}
