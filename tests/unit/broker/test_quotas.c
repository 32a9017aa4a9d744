/*
 * tests/unit/broker/test_quotas.c — the client quota engine
 * (broker/core/quotas.c) without processes: KIP-55 precedence, Kafka's
 * rate windows and throttle time on a fake clock, idle clients forgotten,
 * and recording from several threads at once.
 */
#include "broker/core/quotas.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define D QUOTA_DEFAULT

static void set1(struct quotas *q, const char *u, const char *c, enum quota_type t, double v)
{
    double vals[QUOTA_N] = {-1, -1, -1};
    vals[t] = v;
    cr_assert(quotas_set_entity(q, u, c, vals));
}

static double res(struct quotas *q, const char *u, const char *c)
{
    return quotas_resolve(q, QUOTA_PRODUCE, u, c);
}

/* Each entity added in reverse precedence order takes over from the last. */
Test(quotas, precedence_most_specific_wins)
{
    struct quotas *q = quotas_new(11, 1000);
    cr_assert_eq(res(q, "alice", "app"), -1);
    set1(q, NULL, D, QUOTA_PRODUCE, 8);
    cr_assert_eq(res(q, "alice", "app"), 8);
    set1(q, NULL, "app", QUOTA_PRODUCE, 7);
    cr_assert_eq(res(q, "alice", "app"), 7);
    cr_assert_eq(res(q, "alice", "other"), 8);
    set1(q, D, NULL, QUOTA_PRODUCE, 6);
    cr_assert_eq(res(q, "alice", "app"), 6);
    set1(q, D, D, QUOTA_PRODUCE, 5);
    cr_assert_eq(res(q, "alice", "app"), 5);
    set1(q, D, "app", QUOTA_PRODUCE, 4);
    cr_assert_eq(res(q, "alice", "app"), 4);
    cr_assert_eq(res(q, "alice", "other"), 5);
    set1(q, "alice", NULL, QUOTA_PRODUCE, 3);
    cr_assert_eq(res(q, "alice", "app"), 3);
    cr_assert_eq(res(q, "bob", "app"), 4);
    set1(q, "alice", D, QUOTA_PRODUCE, 2);
    cr_assert_eq(res(q, "alice", "app"), 2);
    set1(q, "alice", "app", QUOTA_PRODUCE, 1);
    cr_assert_eq(res(q, "alice", "app"), 1);
    cr_assert_eq(res(q, "alice", "other"), 2);
    /* types resolve separately; removing an entity falls back */
    cr_assert_eq(quotas_resolve(q, QUOTA_FETCH, "alice", "app"), -1);
    set1(q, "alice", "app", QUOTA_PRODUCE, -1);
    cr_assert_eq(res(q, "alice", "app"), 2);
    quotas_clear(q);
    cr_assert_eq(res(q, "alice", "app"), -1);
    quotas_free(q);
}

/* 11 samples of 1 s: the elapsed time counts at least 10 s, so a client at
 * rest may send 10 s worth at once; past that, the throttle time is
 * (rate - quota) / quota * elapsed. */
Test(quotas, rate_window_and_throttle_time)
{
    struct quotas *q = quotas_new(11, 1000);
    set1(q, NULL, "app", QUOTA_PRODUCE, 1000);
    int64_t t0 = 1000000;
    cr_assert_eq(quotas_record(q, QUOTA_PRODUCE, "u", 1, "app", 3, 10000, t0), 0);
    /* 20000 bytes over 10 s = 2000/s: (2000 - 1000) / 1000 * 10000 ms */
    cr_assert_eq(quotas_record(q, QUOTA_PRODUCE, "u", 1, "app", 3, 10000, t0), 10000);
    /* capped at 11 windows */
    cr_assert_eq(quotas_record(q, QUOTA_PRODUCE, "u", 1, "app", 3, 100000, t0), 11000);
    /* another client id has no quota */
    cr_assert_eq(quotas_record(q, QUOTA_PRODUCE, "u", 1, "x", 1, 1e9, t0), 0);
    /* samples older than 11 windows are forgotten */
    cr_assert_eq(quotas_record(q, QUOTA_PRODUCE, "u", 1, "app", 3, 1, t0 + 12000), 0);
    struct quota_stats st;
    quotas_stats(q, &st);
    cr_assert_eq(st.throttled[QUOTA_PRODUCE], 2);
    cr_assert_eq(st.throttle_ms[QUOTA_PRODUCE], 21000);
    quotas_free(q);
}

/* Steady sending at twice the quota over full windows: rate = total /
 * elapsed since the oldest live sample. */
Test(quotas, steady_rate_over_full_windows)
{
    struct quotas *q = quotas_new(2, 1000);
    set1(q, "bob", NULL, QUOTA_FETCH, 150);
    int64_t t = 0;
    int32_t ms = 0;
    for (int i = 0; i < 40; i++, t += 100)
        ms = quotas_record(q, QUOTA_FETCH, "bob", 3, "c", 1, 20, t);
    /* at t = 3900 the live samples began at 3000 and 2000: 400 bytes
     * over 1.9 s, 210.5/s: (210.5 - 150) / 150 * 1900 ms = 766.7 ms */
    cr_assert_eq(ms, 767, "got %d", ms);
    /* another client of bob shares the user's sensor */
    cr_assert(quotas_record(q, QUOTA_FETCH, "bob", 3, "d", 1, 1, t) > 0);
    quotas_free(q);
}

/* <default> entities give every user its own sensor. */
Test(quotas, default_entity_measures_each_user_alone)
{
    struct quotas *q = quotas_new(2, 1000);
    set1(q, D, NULL, QUOTA_PRODUCE, 100);
    cr_assert_eq(quotas_record(q, QUOTA_PRODUCE, "a", 1, "c", 1, 100, 0), 0);
    cr_assert_eq(quotas_record(q, QUOTA_PRODUCE, "b", 1, "c", 1, 100, 0), 0);
    cr_assert(quotas_record(q, QUOTA_PRODUCE, "a", 1, "c", 1, 100, 0) > 0);
    quotas_free(q);
}

/* Client ids that record nothing for a whole window (2 x 1 s here) are
 * forgotten with the sensors only they used; a sensor another client still
 * uses stays. A peer making up client ids cannot grow the tables past the
 * clients of the last window. */
Test(quotas, idle_clients_are_forgotten)
{
    struct quotas *q = quotas_new(2, 1000);
    set1(q, NULL, D, QUOTA_PRODUCE, 100); /* every client id measured alone */
    set1(q, "shared", NULL, QUOTA_PRODUCE, 50);
    char id[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(id, sizeof(id), "made-up-%d", i);
        cr_assert_eq(quotas_record(q, QUOTA_PRODUCE, "", 0, id, strlen(id), 1, 0), 0);
    }
    /* 90 bytes against 50/s over the minimum 1 s: throttled */
    cr_assert(quotas_record(q, QUOTA_PRODUCE, "shared", 6, "a", 1, 90, 0) > 0);
    struct quota_stats st;
    quotas_stats(q, &st);
    cr_assert_eq(st.clients, 10001);
    cr_assert_eq(st.sensors, 10001);
    /* the shared sensor is still measuring at 1.5 s, through another client */
    cr_assert(quotas_record(q, QUOTA_PRODUCE, "shared", 6, "b", 1, 0, 1500) > 0);
    /* at 2.5 s a new client sweeps: the made-up ids and shared/a are gone */
    cr_assert_eq(quotas_record(q, QUOTA_PRODUCE, "", 0, "late", 4, 1, 2500), 0);
    quotas_stats(q, &st);
    cr_assert_eq(st.clients, 2, "clients %zu", st.clients);
    cr_assert_eq(st.sensors, 2, "sensors %zu", st.sensors);
    /* a forgotten client comes back to a fresh rate */
    cr_assert_eq(quotas_record(q, QUOTA_PRODUCE, "", 0, "made-up-1", 9, 1, 2600), 0);
    quotas_stats(q, &st);
    cr_assert_eq(st.clients, 3);
    quotas_free(q);
}

Test(quotas, keys_and_principals)
{
    cr_assert_eq(quota_type_of("producer_byte_rate"), QUOTA_PRODUCE);
    cr_assert_eq(quota_type_of("consumer_byte_rate"), QUOTA_FETCH);
    cr_assert_eq(quota_type_of("request_percentage"), QUOTA_REQUEST);
    cr_assert_eq(quota_type_of("SCRAM-SHA-256"), -1);
    size_t n;
    const char *u = quota_principal_user("User:alice", &n);
    cr_assert(n == 5 && memcmp(u, "alice", 5) == 0);
}

struct thr_arg {
    struct quotas *q;
    int id;
};

static void *hammer(void *arg)
{
    struct thr_arg *a = arg;
    char client[16];
    snprintf(client, sizeof(client), "c%d", a->id % 3);
    for (int i = 0; i < 20000; i++) {
        (void)quotas_record(a->q, QUOTA_PRODUCE, "u", 1, client, strlen(client), 1, i / 10);
        if (a->id == 0 && i % 1000 == 0)
            set1(a->q, NULL, D, QUOTA_PRODUCE, 1000 + i);
    }
    return NULL;
}

/* Several threads record while another changes the configuration; every
 * byte lands in exactly one sensor (1000000 over 11 s with the user's
 * shared quota: throttled, never crashing or losing the lock). */
Test(quotas, concurrent_recording)
{
    struct quotas *q = quotas_new(11, 1000);
    set1(q, "u", NULL, QUOTA_PRODUCE, 10);
    pthread_t th[4];
    struct thr_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct thr_arg){q, i};
        pthread_create(&th[i], NULL, hammer, &args[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    /* 80000 bytes in the one shared sensor, over 10 s (the minimum): 8000/s */
    int32_t ms = quotas_record(q, QUOTA_PRODUCE, "u", 1, "c1", 2, 0, 1999);
    cr_assert_eq(ms, 11000, "got %d", ms);
    struct quota_stats st;
    quotas_stats(q, &st);
    cr_assert(st.throttled[QUOTA_PRODUCE] > 70000);
    quotas_free(q);
}
