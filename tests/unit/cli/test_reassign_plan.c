/*
 * tests/unit/cli/test_reassign_plan.c — the reassignment planner of
 * `gregor cluster reassign --plan` (cli/reassign_plan.c): fair shares after
 * adding brokers (per topic, overall, preferred leaders), nothing left on
 * removed brokers, the fewest moves, rack awareness, no broker twice in a
 * list, and the refusals.
 */
#include "cli/reassign_plan.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXP 512

struct fixture {
    struct rp_broker brokers[32];
    int nb;
    struct rp_partition parts[MAXP];
    int np;
    char names[16][16];
};

static void add_brokers(struct fixture *f, int n, const char *const *racks)
{
    for (int i = 0; i < n; i++) {
        f->brokers[f->nb].id = f->nb;
        f->brokers[f->nb].rack = racks ? racks[i] : NULL;
        f->nb++;
    }
}

/* A topic of n partitions, RF rf, replicas placed round-robin on brokers
 * 0..on-1 (Kafka's default layout without racks). */
static void add_topic(struct fixture *f, int t, int n, int rf, int on)
{
    snprintf(f->names[t], sizeof(f->names[t]), "t%d", t);
    for (int p = 0; p < n; p++) {
        struct rp_partition *x = &f->parts[f->np++];
        memset(x, 0, sizeof(*x));
        x->topic = f->names[t];
        x->partition = p;
        x->nreplicas = rf;
        x->size_bytes = 1000;
        for (int k = 0; k < rf; k++)
            x->replicas[k] = (p + t + k) % on;
    }
}

static int plan(struct fixture *f, const int32_t *add, int nadd, const int32_t *rm, int nrm,
                struct rp_result *res, char *err)
{
    struct rp_input in = {f->brokers, f->nb, f->parts, f->np, add, nadd, rm, nrm};
    return rp_plan(&in, res, err, 256);
}

/* Every proposed list: same RF, no broker twice. */
static void assert_lists_valid(const struct fixture *f)
{
    for (int i = 0; i < f->np; i++) {
        const struct rp_partition *p = &f->parts[i];
        for (int a = 0; a < p->nreplicas; a++) {
            for (int b = a + 1; b < p->nreplicas; b++)
                cr_assert_neq(p->next[a], p->next[b], "%s-%d has broker %d twice", p->topic,
                              p->partition, p->next[a]);
        }
    }
}

/* max - min of the per-broker counts over brokers 0..nb-1 except `skip`
 * (-1: none): replicas (leaders when `leaders`) of topic `topic` (NULL: all). */
static int spread(const struct fixture *f, const char *topic, bool leaders, int skip)
{
    int cnt[32] = {0};
    for (int i = 0; i < f->np; i++) {
        const struct rp_partition *p = &f->parts[i];
        if (topic && strcmp(p->topic, topic) != 0)
            continue;
        for (int k = 0; k < (leaders ? 1 : p->nreplicas); k++)
            cnt[p->next[k]]++;
    }
    int lo = 1 << 30, hi = -1;
    for (int b = 0; b < f->nb; b++) {
        if (b == skip)
            continue;
        lo = cnt[b] < lo ? cnt[b] : lo;
        hi = cnt[b] > hi ? cnt[b] : hi;
    }
    return hi - lo;
}

static int count_on(const struct fixture *f, int32_t id)
{
    int n = 0;
    for (int i = 0; i < f->np; i++) {
        for (int k = 0; k < f->parts[i].nreplicas; k++)
            n += f->parts[i].next[k] == id;
    }
    return n;
}

Test(reassign_plan, add_one_broker_fair_share_fewest_moves)
{
    static struct fixture f;
    memset(&f, 0, sizeof(f));
    add_brokers(&f, 4, NULL);
    add_topic(&f, 0, 12, 3, 3);
    struct rp_result res;
    char err[256];
    int32_t add[] = {3};
    cr_assert_eq(plan(&f, add, 1, NULL, 0, &res, err), 0, "%s", err);
    assert_lists_valid(&f);
    /* 36 replicas over 4 brokers: 9 each; the new broker's 9 are the only moves */
    for (int b = 0; b < 4; b++)
        cr_assert_eq(count_on(&f, b), 9, "broker %d holds %d", b, count_on(&f, b));
    cr_assert_eq(res.moved, 9);
    cr_assert_eq(res.move_bytes, 9000);
    cr_assert_eq(spread(&f, NULL, true, -1), 0, "12 leaders over 4 brokers: 3 each");
    cr_assert_eq(res.nstats, 4);
    cr_assert_eq(res.stats[3].id, 3);
    cr_assert_eq(res.stats[3].replicas_before, 0);
    cr_assert_eq(res.stats[3].replicas_after, 9);
    cr_assert_eq(res.stats[3].leaders_after, 3);
    cr_assert_eq(res.stats[0].replicas_before, 12);
    free(res.stats);
}

Test(reassign_plan, add_two_brokers_many_topics_per_topic_and_overall)
{
    static struct fixture f;
    memset(&f, 0, sizeof(f));
    add_brokers(&f, 7, NULL);
    add_topic(&f, 0, 10, 3, 5);
    add_topic(&f, 1, 7, 2, 5);
    add_topic(&f, 2, 1, 3, 5);
    add_topic(&f, 3, 1, 3, 5);
    add_topic(&f, 4, 1, 3, 5);
    add_topic(&f, 5, 25, 1, 5);
    struct rp_result res;
    char err[256];
    int32_t add[] = {5, 6};
    cr_assert_eq(plan(&f, add, 2, NULL, 0, &res, err), 0, "%s", err);
    assert_lists_valid(&f);
    for (int t = 0; t < 6; t++)
        cr_assert_leq(spread(&f, f.names[t], false, -1), 1, "topic %s unbalanced", f.names[t]);
    cr_assert_leq(spread(&f, NULL, false, -1), 1, "overall replica counts unbalanced");
    cr_assert_leq(spread(&f, NULL, true, -1), 1, "overall leader counts unbalanced");
    cr_assert_gt(count_on(&f, 5), 0);
    cr_assert_gt(count_on(&f, 6), 0);
    /* only what the new brokers need moved: they hold every moved replica,
     * give or take the overall correction */
    cr_assert_leq(res.moved, count_on(&f, 5) + count_on(&f, 6) + 2);
    free(res.stats);
}

Test(reassign_plan, balanced_cluster_changes_nothing)
{
    static struct fixture f;
    memset(&f, 0, sizeof(f));
    add_brokers(&f, 3, NULL);
    add_topic(&f, 0, 6, 3, 3);
    struct rp_result res;
    char err[256];
    int32_t add[] = {2}; /* already holds its share */
    cr_assert_eq(plan(&f, add, 1, NULL, 0, &res, err), 0, "%s", err);
    cr_assert_eq(res.changed, 0);
    cr_assert_eq(res.moved, 0);
    for (int i = 0; i < f.np; i++)
        cr_assert_not(rp_changed(&f.parts[i]));
    free(res.stats);
}

Test(reassign_plan, remove_broker_moves_only_its_replicas)
{
    static struct fixture f;
    memset(&f, 0, sizeof(f));
    add_brokers(&f, 4, NULL);
    add_topic(&f, 0, 8, 3, 4);
    add_topic(&f, 1, 3, 2, 4);
    struct rp_partition before[MAXP];
    memcpy(before, f.parts, sizeof(before));
    int on0 = 0;
    for (int i = 0; i < f.np; i++) {
        for (int k = 0; k < f.parts[i].nreplicas; k++)
            on0 += f.parts[i].replicas[k] == 0;
    }
    struct rp_result res;
    char err[256];
    int32_t rm[] = {0};
    cr_assert_eq(plan(&f, NULL, 0, rm, 1, &res, err), 0, "%s", err);
    assert_lists_valid(&f);
    cr_assert_eq(count_on(&f, 0), 0, "broker 0 still holds replicas");
    cr_assert_eq(res.moved, on0);
    for (int i = 0; i < f.np; i++) {
        bool had0 = false;
        for (int k = 0; k < before[i].nreplicas; k++)
            had0 |= before[i].replicas[k] == 0;
        if (!had0)
            cr_assert_not(rp_changed(&f.parts[i]), "%s-%d changed without a replica on 0",
                          f.parts[i].topic, f.parts[i].partition);
        cr_assert_eq(f.parts[i].nreplicas, before[i].nreplicas);
    }
    cr_assert_leq(spread(&f, f.names[0], false, 0), 1);
    cr_assert_eq(res.stats[0].replicas_after, 0);
    cr_assert_eq(res.stats[0].replicas_before, on0);
    free(res.stats);
}

Test(reassign_plan, remove_with_racks_keeps_racks_apart)
{
    static struct fixture f;
    memset(&f, 0, sizeof(f));
    static const char *const racks[] = {"a", "a", "b", "b", "c", "c"};
    add_brokers(&f, 6, racks);
    /* every partition on one broker per rack: {0|1, 2|3, 4|5} */
    snprintf(f.names[0], sizeof(f.names[0]), "r");
    for (int p = 0; p < 8; p++) {
        struct rp_partition *x = &f.parts[f.np++];
        x->topic = f.names[0];
        x->partition = p;
        x->nreplicas = 3;
        x->size_bytes = -1;
        x->replicas[0] = (p % 2) + 2 * (p % 3);
        x->replicas[1] = ((p / 2) % 2) + 2 * ((p + 1) % 3);
        x->replicas[2] = ((p / 4) % 2) + 2 * ((p + 2) % 3);
    }
    struct rp_result res;
    char err[256];
    int32_t rm[] = {0};
    cr_assert_eq(plan(&f, NULL, 0, rm, 1, &res, err), 0, "%s", err);
    cr_assert(res.rack_aware);
    cr_assert_eq(res.move_bytes, -1, "sizes unknown: bytes unknown");
    assert_lists_valid(&f);
    cr_assert_eq(count_on(&f, 0), 0);
    for (int i = 0; i < f.np; i++) {
        bool seen[3] = {false, false, false};
        for (int k = 0; k < 3; k++) {
            int rack = racks[f.parts[i].next[k]][0] - 'a';
            cr_assert_not(seen[rack], "r-%d has two replicas in rack %c", i, 'a' + rack);
            seen[rack] = true;
        }
    }
    free(res.stats);
}

Test(reassign_plan, add_with_racks_never_shares_a_rack)
{
    static struct fixture f;
    memset(&f, 0, sizeof(f));
    static const char *const racks[] = {"a", "b", "c", "a", "b", "c"};
    add_brokers(&f, 6, racks);
    add_topic(&f, 0, 12, 3, 3); /* on 0,1,2: racks a,b,c */
    struct rp_result res;
    char err[256];
    int32_t add[] = {3, 4, 5};
    cr_assert_eq(plan(&f, add, 3, NULL, 0, &res, err), 0, "%s", err);
    assert_lists_valid(&f);
    cr_assert_leq(spread(&f, NULL, false, -1), 1);
    cr_assert_leq(spread(&f, NULL, true, -1), 1);
    for (int i = 0; i < f.np; i++) {
        bool seen[3] = {false, false, false};
        for (int k = 0; k < 3; k++) {
            int rack = racks[f.parts[i].next[k]][0] - 'a';
            cr_assert_not(seen[rack], "t0-%d has two replicas in rack %c", i, 'a' + rack);
            seen[rack] = true;
        }
    }
    free(res.stats);
}

Test(reassign_plan, refusals)
{
    static struct fixture f;
    memset(&f, 0, sizeof(f));
    add_brokers(&f, 3, NULL);
    add_topic(&f, 0, 4, 3, 3);
    struct rp_result res;
    char err[256];
    int32_t one[] = {1}, dead[] = {7}, two[] = {0, 1};
    cr_assert_eq(plan(&f, one, 1, one, 1, &res, err), -1);
    cr_assert(strstr(err, "cannot be combined"), "%s", err);
    cr_assert_eq(plan(&f, NULL, 0, NULL, 0, &res, err), -1);
    cr_assert(strstr(err, "--add-broker"), "%s", err);
    cr_assert_eq(plan(&f, dead, 1, NULL, 0, &res, err), -1);
    cr_assert(strstr(err, "broker 7 is not a live broker"), "%s", err);
    cr_assert_eq(plan(&f, NULL, 0, dead, 1, &res, err), -1);
    cr_assert(strstr(err, "broker 7 is not a live broker"), "%s", err);
    cr_assert_eq(plan(&f, NULL, 0, one, 1, &res, err), -1);
    cr_assert(strstr(err, "fewer than the replication factor 3"), "%s", err);
    cr_assert_eq(plan(&f, NULL, 0, two, 2, &res, err), -1);
    cr_assert(strstr(err, "leaves 1 live broker"), "%s", err);
    f.parts[2].replicas[1] = f.parts[2].replicas[0];
    cr_assert_eq(plan(&f, one, 1, NULL, 0, &res, err), -1);
    cr_assert(strstr(err, "t0-2 lists broker"), "%s", err);
}

Test(reassign_plan, replicas_on_dead_brokers_stay)
{
    static struct fixture f;
    memset(&f, 0, sizeof(f));
    add_brokers(&f, 4, NULL);
    add_topic(&f, 0, 6, 3, 3);
    f.parts[0].replicas[2] = 9; /* broker 9 is gone */
    struct rp_result res;
    char err[256];
    int32_t add[] = {3};
    cr_assert_eq(plan(&f, add, 1, NULL, 0, &res, err), 0, "%s", err);
    assert_lists_valid(&f);
    cr_assert_eq(f.parts[0].next[2], 9);
    cr_assert_gt(count_on(&f, 3), 0);
    bool found9 = false;
    for (int i = 0; i < res.nstats; i++)
        found9 |= res.stats[i].id == 9 && !res.stats[i].live;
    cr_assert(found9);
    free(res.stats);
}

/* Pseudo-random layouts: the rules hold whatever the start. */
Test(reassign_plan, random_layouts)
{
    static struct fixture f;
    unsigned seed = 12345;
    for (int round = 0; round < 40; round++) {
        memset(&f, 0, sizeof(f));
        int nb = 3 + round % 6;
        add_brokers(&f, nb + 1, NULL);
        int nt = 1 + round % 4;
        for (int t = 0; t < nt; t++) {
            snprintf(f.names[t], sizeof(f.names[t]), "t%d", t);
            int np = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 20;
            int rf = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 3;
            for (int p = 0; p < np && f.np < MAXP; p++) {
                struct rp_partition *x = &f.parts[f.np++];
                x->topic = f.names[t];
                x->partition = p;
                x->nreplicas = rf;
                x->size_bytes = 10;
                int start = (int)((seed = seed * 1103515245u + 12345u) >> 16) % nb;
                for (int k = 0; k < rf; k++)
                    x->replicas[k] = (start + k) % nb;
            }
        }
        struct rp_result res;
        char err[256];
        int32_t add[] = {nb};
        cr_assert_eq(plan(&f, add, 1, NULL, 0, &res, err), 0, "%s", err);
        assert_lists_valid(&f);
        for (int t = 0; t < nt; t++)
            cr_assert_leq(spread(&f, f.names[t], false, -1), 1, "round %d topic %d", round, t);
        cr_assert_leq(spread(&f, NULL, false, -1), 1, "round %d overall", round);
        free(res.stats);
        /* and removing the new broker again leaves it empty */
        for (int i = 0; i < f.np; i++)
            memcpy(f.parts[i].replicas, f.parts[i].next, sizeof(f.parts[i].replicas));
        int32_t rm[] = {nb};
        cr_assert_eq(plan(&f, NULL, 0, rm, 1, &res, err), 0, "%s", err);
        assert_lists_valid(&f);
        cr_assert_eq(count_on(&f, nb), 0, "round %d", round);
        free(res.stats);
    }
}

/* A large cluster: 40 topics of 100 partitions, RF 3, on 12 brokers, 3 added. */
Test(reassign_plan, large_cluster, .timeout = 20)
{
    static struct rp_broker brokers[15];
    static struct rp_partition parts[4000];
    static char names[40][16];
    for (int b = 0; b < 15; b++)
        brokers[b] = (struct rp_broker){b, NULL};
    int np = 0;
    for (int t = 0; t < 40; t++) {
        snprintf(names[t], sizeof(names[t]), "big%d", t);
        for (int p = 0; p < 100; p++, np++) {
            parts[np] = (struct rp_partition){
                .topic = names[t], .partition = p, .nreplicas = 3, .size_bytes = 1};
            for (int k = 0; k < 3; k++)
                parts[np].replicas[k] = (p + t + k) % 12;
        }
    }
    int32_t add[] = {12, 13, 14};
    struct rp_input in = {brokers, 15, parts, np, add, 3, NULL, 0};
    struct rp_result res;
    char err[256];
    cr_assert_eq(rp_plan(&in, &res, err, sizeof(err)), 0, "%s", err);
    int cnt[15] = {0}, lead[15] = {0};
    for (int i = 0; i < np; i++) {
        lead[parts[i].next[0]]++;
        for (int k = 0; k < 3; k++)
            cnt[parts[i].next[k]]++;
    }
    for (int b = 0; b < 15; b++) {
        cr_assert(cnt[b] == 800, "broker %d holds %d of 12000", b, cnt[b]);
        cr_assert(lead[b] >= 266 && lead[b] <= 267, "broker %d leads %d", b, lead[b]);
    }
    cr_assert_eq(res.moved, 2400, "moved %d: only the new brokers' shares", res.moved);
    free(res.stats);
}
