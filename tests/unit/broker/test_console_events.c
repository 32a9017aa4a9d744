/* tests/unit/broker/test_console_events.c — the web console's event feed
 * (broker/http/console_events.c) on hand-built metadata snapshots: no
 * change gives no event; brokers leaving and joining, the controller moving,
 * leaders, ISRs, replica sets and topics changing each give their event with
 * the fields docs/operations.md names; JSON strings are escaped. */
#include "broker/core/metadata_cache.h"
#include "broker/http/console_events.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Controller ctrl, live brokers 0..n_brokers-1, topics "a" and "b" of
 * n_parts partitions replicated on 0, 1, 2 with ISR {0, 1, 2}, leader p % 3. */
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
    s->topics = calloc(2, sizeof(*s->topics));
    for (int t = 0; t < 2; t++) {
        snprintf(s->topics[t].name, sizeof(s->topics[t].name), "%c", 'a' + t);
        s->topics[t].n_parts = n_parts;
        s->topics[t].parts = calloc((size_t)n_parts + 1, sizeof(struct mc_partition));
        for (int p = 0; p < n_parts; p++) {
            struct mc_partition *mp = &s->topics[t].parts[p];
            mp->leader = p % 3;
            mp->n_replicas = mp->n_isr = 3;
            for (int r = 0; r < 3; r++)
                mp->replicas[r] = mp->isr[r] = r;
        }
    }
    s->n_topics = 2;
    mc_snapshot_sort(s);
    return s;
}

struct got {
    int n;
    char ev[16][1024];
};

static void collect(void *arg, const char *json)
{
    struct got *g = arg;
    cr_assert_lt(g->n, 16);
    snprintf(g->ev[g->n++], sizeof(g->ev[0]), "%s", json);
}

static int diff(const struct mc_snapshot *o, const struct mc_snapshot *c, struct got *g)
{
    memset(g, 0, sizeof(*g));
    return console_diff(o, c, 1700000000000, collect, g);
}

Test(console_events, same_cluster_no_event)
{
    struct mc_snapshot *o = snap(0, 3, 4), *c = snap(0, 3, 4);
    struct got g;
    cr_assert_eq(diff(o, c, &g), 0);
    mc_put(o);
    mc_put(c);
}

Test(console_events, failover_of_a_broker)
{
    struct mc_snapshot *o = snap(0, 3, 3), *c = snap(1, 3, 3);
    c->n_brokers = 2; /* broker 2 gone: ids 0, 1 */
    struct mc_partition *p2 = &c->topics[0].parts[2];
    p2->leader = 0;
    p2->leader_epoch = 1;
    p2->n_isr = 2; /* {0, 1} */
    struct got g;
    cr_assert_eq(diff(o, c, &g), 4);
    cr_assert_str_eq(g.ev[0], "{\"type\":\"controller_changed\",\"time_ms\":1700000000000,"
                              "\"controller\":1,\"previous\":0,\"controller_epoch\":1}");
    cr_assert_str_eq(
        g.ev[1], "{\"type\":\"broker_left\",\"time_ms\":1700000000000,\"broker\":2,\"rack\":\"\"}");
    cr_assert_str_eq(g.ev[2],
                     "{\"type\":\"leader_changed\",\"time_ms\":1700000000000,\"topic\":\"a\","
                     "\"partition\":2,\"previous_leader\":2,\"leader\":0,\"leader_epoch\":1,"
                     "\"replicas\":[0,1,2],\"isr\":[0,1]}");
    cr_assert_str_eq(g.ev[3],
                     "{\"type\":\"isr_shrank\",\"time_ms\":1700000000000,\"topic\":\"a\","
                     "\"partition\":2,\"previous_isr\":[0,1,2],\"added\":[],\"removed\":[2],"
                     "\"leader\":0,\"leader_epoch\":1,\"replicas\":[0,1,2],\"isr\":[0,1]}");
    /* and back: joined, ISR expanded */
    cr_assert_eq(diff(c, o, &g), 4);
    cr_assert(strstr(g.ev[1], "\"type\":\"broker_joined\"") && strstr(g.ev[1], "\"broker\":2"));
    cr_assert(strstr(g.ev[3], "\"type\":\"isr_expanded\"") && strstr(g.ev[3], "\"added\":[2]"));
    mc_put(o);
    mc_put(c);
}

Test(console_events, topics_and_replica_sets)
{
    struct mc_snapshot *o = snap(0, 3, 2), *c = snap(0, 3, 3);
    c->n_topics = 1; /* "b" deleted; "a" grew to 3 partitions */
    c->topics[0].parts[1].replicas[2] = 5;
    struct got g;
    cr_assert_eq(diff(o, c, &g), 3);
    cr_assert(strstr(g.ev[0], "\"type\":\"replicas_changed\"") &&
              strstr(g.ev[0], "\"previous_replicas\":[0,1,2]") &&
              strstr(g.ev[0], "\"replicas\":[0,1,5]"));
    cr_assert(strstr(g.ev[1], "\"type\":\"partitions_added\"") &&
              strstr(g.ev[1], "\"partitions\":3"));
    cr_assert(strstr(g.ev[2], "\"type\":\"topic_deleted\"") && strstr(g.ev[2], "\"topic\":\"b\""));
    cr_assert_eq(diff(c, o, &g), 2); /* "a" shrinking is not an event; "b" created */
    cr_assert(strstr(g.ev[1], "\"type\":\"topic_created\"") && strstr(g.ev[1], "\"partitions\":2"));
    c->topics[0].parts[1].replicas[2] = 2;
    c->n_topics = 2;
    mc_put(o);
    mc_put(c);
}

Test(console_events, rack_is_escaped)
{
    struct mc_snapshot *o = snap(0, 2, 1), *c = snap(0, 3, 1);
    snprintf(c->brokers[2].rack, sizeof(c->brokers[2].rack), "r\"1\\\n");
    struct got g;
    cr_assert_eq(diff(o, c, &g), 1);
    cr_assert(strstr(g.ev[0], "\"rack\":\"r\\\"1\\\\\\u000a\""), "%s", g.ev[0]);
    mc_put(o);
    mc_put(c);
}

Test(console_events, json_str_truncates_inside_the_buffer)
{
    char buf[12];
    size_t len = 0;
    console_json_str(buf, sizeof(buf), &len, "abcdefghijklmnop");
    cr_assert_lt(len, sizeof(buf));
    cr_assert_eq(strlen(buf), len);
    cr_assert_eq(buf[0], '"');
    cr_assert_eq(buf[len - 1], '"');
}
