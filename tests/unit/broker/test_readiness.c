/* tests/unit/broker/test_readiness.c — GET /readyz's verdict
 * (broker/http/readiness.c) on hand-built metadata snapshots: each
 * condition alone makes a broker not ready, and the body says which. */
#include "broker/core/metadata_cache.h"
#include "broker/http/readiness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A snapshot with controller ctrl, live brokers 0..n_brokers-1 and one
 * topic "t" of n_parts partitions, each replicated on 0, 1, 2 with ISR
 * {0, 1, 2}. */
static struct mc_snapshot *snap(int32_t ctrl, int n_brokers, int n_parts)
{
    struct mc_snapshot *s = mc_snapshot_new();
    cr_assert_not_null(s);
    s->controller_id = ctrl;
    s->controller_epoch = 1;
    s->brokers = calloc((size_t)n_brokers + 1, sizeof(*s->brokers));
    for (int i = 0; i < n_brokers; i++)
        s->brokers[i].id = i;
    s->n_brokers = n_brokers;
    s->topics = calloc(1, sizeof(*s->topics));
    snprintf(s->topics[0].name, sizeof(s->topics[0].name), "t");
    s->topics[0].n_parts = n_parts;
    s->topics[0].parts = calloc((size_t)n_parts + 1, sizeof(struct mc_partition));
    for (int p = 0; p < n_parts; p++) {
        struct mc_partition *mp = &s->topics[0].parts[p];
        mp->leader = p % 3;
        mp->n_replicas = mp->n_isr = 3;
        for (int r = 0; r < 3; r++)
            mp->replicas[r] = mp->isr[r] = r;
    }
    s->n_topics = 1;
    mc_snapshot_sort(s);
    return s;
}

static void drop_from_isr(struct mc_snapshot *s, int p, int32_t id)
{
    struct mc_partition *mp = &s->topics[0].parts[p];
    int k = 0;
    for (int i = 0; i < mp->n_isr; i++)
        if (mp->isr[i] != id)
            mp->isr[k++] = mp->isr[i];
    mp->n_isr = k;
}

Test(readiness, in_sync_registered_broker_is_ready)
{
    struct mc_snapshot *s = snap(2, 3, 4);
    char body[1024];
    struct readiness r = readiness_eval(s, 1, true, NULL, NULL, body, sizeof(body));
    cr_assert(r.ready);
    cr_assert_eq(r.replicas, 4);
    cr_assert_eq(r.out_of_isr, 0);
    cr_assert_eq(r.controller_id, 2);
    cr_assert(strncmp(body, "ready\n", 6) == 0, "%s", body);
    cr_assert_not_null(strstr(body, "controller: 2\n"), "%s", body);
    mc_put(s);
}

Test(readiness, unregistered_broker_is_not_ready)
{
    struct mc_snapshot *s = snap(0, 3, 2);
    char body[1024];
    cr_assert_not(readiness_eval(s, 1, false, NULL, NULL, body, sizeof(body)).ready);
    cr_assert(strncmp(body, "not ready\n", 10) == 0, "%s", body);
    cr_assert_not_null(strstr(body, "registered: no\n"), "%s", body);
    mc_put(s);
}

Test(readiness, lost_zookeeper_session_is_not_ready)
{
    struct mc_snapshot *s = snap(2, 3, 4);
    char body[1024];
    const char *why = "ZooKeeper session expired: not yet registered again";
    struct readiness r = readiness_eval(s, 1, true, why, NULL, body, sizeof(body));
    cr_assert_not(r.ready);
    cr_assert_not(r.session_ok);
    cr_assert(strncmp(body, "not ready\n", 10) == 0, "%s", body);
    cr_assert_not_null(strstr(body, "zookeeper session: ZooKeeper session expired"), "%s", body);
    r = readiness_eval(s, 1, true, NULL, NULL, body, sizeof(body));
    cr_assert(r.ready);
    cr_assert_not_null(strstr(body, "zookeeper session: ok\n"), "%s", body);
    mc_put(s);
}

Test(readiness, unknown_controller_is_not_ready)
{
    /* What a broker has before any UpdateMetadata: an empty snapshot. */
    struct mc_snapshot *s = mc_snapshot_new();
    s->controller_id = -1;
    char body[1024];
    struct readiness r = readiness_eval(s, 0, true, NULL, NULL, body, sizeof(body));
    cr_assert_not(r.ready);
    cr_assert_not(r.controller_known);
    cr_assert_not_null(strstr(body, "controller: unknown\n"), "%s", body);
    mc_put(s);
}

Test(readiness, broker_missing_from_the_controllers_live_list_is_not_ready)
{
    struct mc_snapshot *s = snap(0, 2, 2); /* brokers 0 and 1 only */
    char body[1024];
    struct readiness r = readiness_eval(s, 2, true, NULL, NULL, body, sizeof(body));
    cr_assert_not(r.ready);
    cr_assert_not(r.listed);
    cr_assert_not_null(strstr(body, "listed by controller: no\n"), "%s", body);
    mc_put(s);
}

Test(readiness, a_replica_out_of_the_isr_is_named)
{
    struct mc_snapshot *s = snap(0, 3, 3);
    drop_from_isr(s, 2, 1);
    char body[1024];
    struct readiness r = readiness_eval(s, 1, true, NULL, NULL, body, sizeof(body));
    cr_assert_not(r.ready);
    cr_assert_eq(r.replicas, 3);
    cr_assert_eq(r.out_of_isr, 1);
    cr_assert_not_null(strstr(body, "out of ISR: t-2\n"), "%s", body);
    /* The other brokers are still in every ISR. */
    cr_assert(readiness_eval(s, 0, true, NULL, NULL, body, sizeof(body)).ready);
    cr_assert(readiness_eval(s, 2, true, NULL, NULL, body, sizeof(body)).ready);
    mc_put(s);
}

Test(readiness, partitions_elsewhere_do_not_count)
{
    struct mc_snapshot *s = snap(0, 4, 2);
    drop_from_isr(s, 0, 1);
    char body[1024];
    struct readiness r = readiness_eval(s, 3, true, NULL, NULL, body, sizeof(body));
    cr_assert(r.ready, "broker 3 hosts no replica: %s", body);
    cr_assert_eq(r.replicas, 0);
    mc_put(s);
}

Test(readiness, long_lists_are_cut_and_counted)
{
    struct mc_snapshot *s = snap(0, 3, 25);
    for (int p = 0; p < 25; p++)
        drop_from_isr(s, p, 0);
    char body[4096];
    struct readiness r = readiness_eval(s, 0, true, NULL, NULL, body, sizeof(body));
    cr_assert_eq(r.out_of_isr, 25);
    cr_assert_not_null(strstr(body, "out of ISR: t-9\n"), "%s", body);
    cr_assert_null(strstr(body, "out of ISR: t-10\n"), "%s", body);
    cr_assert_not_null(strstr(body, "(15 more out of ISR)\n"), "%s", body);
    /* A small buffer truncates, NUL-terminated, verdict first. */
    char tiny[8];
    readiness_eval(s, 0, true, NULL, NULL, tiny, sizeof(tiny));
    cr_assert_str_eq(tiny, "not rea");
    mc_put(s);
}

Test(readiness, unresolvable_advertised_host_is_not_ready_and_named)
{
    /* In sync, registered and listed: only the advertised host is wrong. */
    struct mc_snapshot *s = snap(2, 3, 4);
    char body[1024];
    const char *why = "listener EXTERNAL host nonexistent.invalid: Name or service not known";
    struct readiness r = readiness_eval(s, 1, true, NULL, why, body, sizeof(body));
    cr_assert_not(r.ready);
    cr_assert_not(r.advertised_resolve);
    cr_assert(strncmp(body, "not ready\n", 10) == 0, "%s", body);
    cr_assert_not_null(strstr(body, "advertised hosts resolve: no\n"), "%s", body);
    cr_assert_not_null(strstr(body, "advertised listener does not resolve: listener EXTERNAL "
                                    "host nonexistent.invalid: Name or service not known"),
                       "%s", body);
    r = readiness_eval(s, 1, true, NULL, NULL, body, sizeof(body));
    cr_assert(r.ready && r.advertised_resolve);
    cr_assert_not_null(strstr(body, "advertised hosts resolve: yes\n"), "%s", body);
    cr_assert_null(strstr(body, "does not resolve"), "%s", body);
    mc_put(s);
}
