/*
 * tests/unit/controller/test_assign.c — controller/assign.c: Kafka's replica
 * placement. Fixed tables worked out by hand from the rules in assign.h
 * (they match Kafka's own AdminUtils test expectations), plus property loops
 * over many sizes and starting points: no broker twice in a partition, even
 * leader and follower spread, distinct racks, continuation from first_part,
 * and the error cases. The loops use a local PRNG with a fixed seed, so every
 * run checks the same cases.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base.h"
#include "controller/assign.h"

TestSuite(assign, .timeout = 30);

#define MAX_B 9
#define MAX_P 50

static uint32_t rng_state = 12345;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* Brokers with ids 10, 20, ... (sorted), no racks. */
static void make_brokers(struct assign_broker *b, int n)
{
    for (int i = 0; i < n; i++) {
        b[i].id = 10 * (i + 1);
        b[i].rack = NULL;
    }
}

/* Index of id in b[0..n), or -1. */
static int broker_pos(const struct assign_broker *b, int n, int32_t id)
{
    for (int i = 0; i < n; i++) {
        if (b[i].id == id)
            return i;
    }
    return -1;
}

/* Every id of rows[n_parts][rf] is a broker, and no row has one twice. */
static void check_rows_valid(const struct assign_broker *b, int n, const int32_t *rows, int n_parts,
                             int rf)
{
    for (int p = 0; p < n_parts; p++) {
        for (int r = 0; r < rf; r++) {
            int32_t id = rows[p * rf + r];
            cr_assert_geq(broker_pos(b, n, id), 0, "p=%d r=%d id=%d not a broker", p, r, id);
            for (int q = 0; q < r; q++)
                cr_assert_neq(rows[p * rf + q], id, "p=%d has broker %d twice", p, id);
        }
    }
}

/* cnt[i][r] = partitions in which broker b[i] holds replica position r. */
static void count_positions(const struct assign_broker *b, int n, const int32_t *rows, int n_parts,
                            int rf, int cnt[MAX_B][MAX_B])
{
    memset(cnt, 0, sizeof(int) * MAX_B * MAX_B);
    for (int p = 0; p < n_parts; p++) {
        for (int r = 0; r < rf; r++)
            cnt[broker_pos(b, n, rows[p * rf + r])][r]++;
    }
}

Test(assign, kafka_five_brokers_ten_partitions_table)
{
    static const int32_t want[10][3] = {
        {0, 1, 2}, {1, 2, 3}, {2, 3, 4}, {3, 4, 0}, {4, 0, 1},
        {0, 2, 3}, {1, 3, 4}, {2, 4, 0}, {3, 0, 1}, {4, 1, 2},
    };
    struct assign_broker b[5];
    int32_t out[30];
    for (int i = 0; i < 5; i++)
        b[i] = (struct assign_broker){.id = i, .rack = NULL};
    cr_assert_eq(assign_replicas(b, 5, 10, 3, 0, 0, 0, out), KERR_NONE);
    for (int p = 0; p < 10; p++) {
        for (int r = 0; r < 3; r++)
            cr_assert_eq(out[p * 3 + r], want[p][r], "p=%d r=%d", p, r);
    }
}

Test(assign, start_index_and_shift_move_leader_and_followers)
{
    struct assign_broker b[5];
    int32_t out[15];
    for (int i = 0; i < 5; i++)
        b[i] = (struct assign_broker){.id = i, .rack = ""};
    /* leader (2 + p) % 5; followers at offsets 1 + (3 + j) % 4 = 4, 1. */
    cr_assert_eq(assign_replicas(b, 5, 5, 3, 0, 2, 3, out), KERR_NONE);
    static const int32_t want[5][3] = {{2, 1, 3}, {3, 2, 4}, {4, 3, 0}, {0, 4, 1}, {1, 0, 2}};
    for (int p = 0; p < 5; p++) {
        for (int r = 0; r < 3; r++)
            cr_assert_eq(out[p * 3 + r], want[p][r], "p=%d r=%d", p, r);
    }
}

Test(assign, three_brokers_twelve_partitions_rf3_exactly_even)
{
    struct assign_broker b[3];
    int32_t out[36];
    int cnt[MAX_B][MAX_B];
    make_brokers(b, 3);
    for (int start = 0; start < 3; start++) {
        for (int shift = 0; shift < 4; shift++) {
            cr_assert_eq(assign_replicas(b, 3, 12, 3, 0, start, shift, out), KERR_NONE);
            check_rows_valid(b, 3, out, 12, 3);
            count_positions(b, 3, out, 12, 3, cnt);
            for (int i = 0; i < 3; i++) {
                cr_assert_eq(cnt[i][0], 4, "broker %d leads %d", i, cnt[i][0]);
                cr_assert_eq(cnt[i][1], 4, "broker %d first follower %d", i, cnt[i][1]);
                cr_assert_eq(cnt[i][2], 4, "broker %d second follower %d", i, cnt[i][2]);
                cr_assert_eq(cnt[i][0] + cnt[i][1] + cnt[i][2], 12);
            }
        }
    }
}

Test(assign, input_order_does_not_matter)
{
    struct assign_broker shuffled[4] = {{11, NULL}, {3, NULL}, {42, NULL}, {7, NULL}};
    struct assign_broker sorted[4] = {{3, NULL}, {7, NULL}, {11, NULL}, {42, NULL}};
    int32_t a[40], c[40];
    cr_assert_eq(assign_replicas(shuffled, 4, 20, 2, 0, 1, 2, a), KERR_NONE);
    cr_assert_eq(assign_replicas(sorted, 4, 20, 2, 0, 1, 2, c), KERR_NONE);
    cr_assert_arr_eq(a, c, sizeof(a));
    for (int p = 0; p < 20; p++)
        cr_assert_eq(a[p * 2], sorted[(1 + p) % 4].id, "leader of p=%d", p);
    cr_assert_eq(shuffled[0].id, 11, "input not modified");
    cr_assert_eq(assign_index_of(shuffled, 4, 42), 3);
    cr_assert_eq(assign_index_of(shuffled, 4, 5), -1);
}

/*
 * Without racks, for every n 1..9, rf 1..n, n_parts 1..50 and several
 * starting points, with first_part = 0:
 *  - no row repeats a broker;
 *  - for every replica position r (leader, first follower, ...), the number
 *    of partitions in which each broker holds position r is n_parts / n
 *    rounded down or up (so counts differ by at most 1 across brokers);
 *  - when n divides n_parts, exactly n_parts / n for every broker and
 *    position (so n_parts * rf / n replicas per broker).
 * For any first_part, leader counts still differ by at most 1.
 */
Test(assign, no_rack_properties)
{
    struct assign_broker b[MAX_B];
    int32_t out[MAX_P * MAX_B];
    int cnt[MAX_B][MAX_B];
    for (int n = 1; n <= MAX_B; n++) {
        make_brokers(b, n);
        for (int rf = 1; rf <= n; rf++) {
            for (int parts = 1; parts <= MAX_P; parts++) {
                for (int t = 0; t < 3; t++) {
                    int start = (int)(rng() % 100), shift = (int)(rng() % 100);
                    int32_t first = t == 0 ? 0 : (int32_t)(rng() % 1000);
                    cr_assert_eq(
                        assign_replicas(b, n, parts, (int16_t)rf, first, start, shift, out),
                        KERR_NONE);
                    check_rows_valid(b, n, out, parts, rf);
                    count_positions(b, n, out, parts, rf, cnt);
                    int lo = parts / n, hi = (parts + n - 1) / n;
                    for (int i = 0; i < n; i++) {
                        cr_assert(cnt[i][0] >= lo && cnt[i][0] <= hi, "n=%d rf=%d parts=%d", n, rf,
                                  parts);
                        for (int r = 1; r < rf && first == 0; r++) {
                            cr_assert(cnt[i][r] >= lo && cnt[i][r] <= hi,
                                      "n=%d rf=%d parts=%d broker=%d pos=%d count=%d", n, rf, parts,
                                      i, r, cnt[i][r]);
                        }
                    }
                }
            }
        }
    }
}

/* A call from first_part = k gives exactly rows k.. of a call from 0. */
static void check_continuation(const struct assign_broker *b, int n, int rf, int total, int start,
                               int shift)
{
    int32_t full[MAX_P * MAX_B], part[MAX_P * MAX_B];
    cr_assert_eq(assign_replicas(b, n, total, (int16_t)rf, 0, start, shift, full), KERR_NONE);
    for (int k = 1; k < total; k++) {
        cr_assert_eq(assign_replicas(b, n, total - k, (int16_t)rf, k, start, shift, part),
                     KERR_NONE);
        cr_assert_arr_eq(part, full + k * rf, sizeof(int32_t) * (size_t)((total - k) * rf),
                         "n=%d rf=%d total=%d k=%d", n, rf, total, k);
    }
}

Test(assign, first_part_continues_the_pattern)
{
    struct assign_broker b[MAX_B];
    static const char *racks[] = {"a", "b", "c"};
    for (int n = 1; n <= MAX_B; n++) {
        make_brokers(b, n);
        for (int rf = 1; rf <= n; rf++)
            check_continuation(b, n, rf, 40, (int)(rng() % 50), (int)(rng() % 50));
        for (int i = 0; i < n; i++)
            b[i].rack = racks[rng() % 3];
        for (int rf = 1; rf <= n; rf++)
            check_continuation(b, n, rf, 40, (int)(rng() % 50), (int)(rng() % 50));
    }
}

Test(assign, rack_alternated_list_and_kafka_table)
{
    struct assign_broker b[6] = {{0, "rack1"}, {1, "rack3"}, {2, "rack3"},
                                 {3, "rack2"}, {4, "rack2"}, {5, "rack1"}};
    static const int32_t order[6] = {0, 3, 1, 5, 4, 2};
    for (int i = 0; i < 6; i++)
        cr_assert_eq(assign_index_of(b, 6, order[i]), i, "broker %d", order[i]);

    static const int32_t want[7][3] = {{0, 3, 1}, {3, 1, 5}, {1, 5, 4}, {5, 4, 2},
                                       {4, 2, 0}, {2, 0, 3}, {0, 4, 2}};
    int32_t out[21];
    cr_assert_eq(assign_replicas(b, 6, 7, 3, 0, 0, 0, out), KERR_NONE);
    for (int p = 0; p < 7; p++) {
        for (int r = 0; r < 3; r++)
            cr_assert_eq(out[p * 3 + r], want[p][r], "p=%d r=%d", p, r);
    }
}

Test(assign, uneven_racks_skip_to_an_empty_rack)
{
    /* Arranged list: a1 b1 a2 a3 (rack a has 3 brokers, rack b one). */
    struct assign_broker b[4] = {{1, "a"}, {2, "a"}, {3, "a"}, {9, "b"}};
    static const int32_t order[4] = {1, 9, 2, 3};
    for (int i = 0; i < 4; i++)
        cr_assert_eq(assign_index_of(b, 4, order[i]), i);
    int32_t out[8];
    /* p=2: leader at pos 2 (broker 2, rack a); the first candidate, pos 3
     * (broker 3, rack a), is skipped because rack b has no replica yet. */
    cr_assert_eq(assign_replicas(b, 4, 4, 2, 0, 0, 0, out), KERR_NONE);
    static const int32_t want[4][2] = {{1, 9}, {9, 2}, {2, 9}, {3, 9}};
    for (int p = 0; p < 4; p++) {
        for (int r = 0; r < 2; r++)
            cr_assert_eq(out[p * 2 + r], want[p][r], "p=%d r=%d", p, r);
    }
}

/* Number of distinct racks in row[0..rf). */
static int row_racks(const struct assign_broker *b, int n, const int32_t *row, int rf)
{
    int distinct = 0;
    for (int r = 0; r < rf; r++) {
        const char *rack = b[broker_pos(b, n, row[r])].rack;
        bool seen = false;
        for (int q = 0; q < r; q++)
            seen = seen || strcmp(b[broker_pos(b, n, row[q])].rack, rack) == 0;
        distinct += !seen;
    }
    return distinct;
}

/*
 * With racks (random, usually uneven, rack sizes; n 1..9, rf 1..n, n_parts
 * 1..50, any first_part): no row repeats a broker; every partition spans
 * min(rf, number of racks) racks, so rf <= racks gives a distinct rack per
 * replica; the leader of partition p is the broker at arranged position
 * (start + p) % n, so leader counts differ by at most 1.
 */
Test(assign, rack_properties)
{
    static const char *names[] = {"r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8"};
    struct assign_broker b[MAX_B];
    int32_t out[MAX_P * MAX_B];
    int cnt[MAX_B][MAX_B];
    for (int n = 1; n <= MAX_B; n++) {
        for (int t = 0; t < 12; t++) {
            int want_racks = 1 + (int)(rng() % (uint32_t)n);
            bool has[MAX_B] = {false};
            int n_racks = 0;
            for (int i = 0; i < n; i++) {
                int r = i < want_racks ? i : (int)(rng() % (uint32_t)want_racks);
                b[i] = (struct assign_broker){.id = (int32_t)(100 - 7 * i), .rack = names[r]};
                n_racks += !has[r];
                has[r] = true;
            }
            for (int rf = 1; rf <= n; rf++) {
                int parts = 1 + (int)(rng() % MAX_P);
                int start = (int)(rng() % 20), shift = (int)(rng() % 20);
                int32_t first = t % 2 == 0 ? 0 : (int32_t)(rng() % 100);
                cr_assert_eq(assign_replicas(b, n, parts, (int16_t)rf, first, start, shift, out),
                             KERR_NONE);
                check_rows_valid(b, n, out, parts, rf);
                for (int p = 0; p < parts; p++) {
                    cr_assert_eq(row_racks(b, n, out + p * rf, rf), rf < n_racks ? rf : n_racks,
                                 "n=%d racks=%d rf=%d p=%d", n, n_racks, rf, p);
                    cr_assert_eq(assign_index_of(b, n, out[p * rf]), (start + first + p) % n);
                }
                count_positions(b, n, out, parts, rf, cnt);
                for (int i = 0; i < n; i++)
                    cr_assert(cnt[i][0] >= parts / n && cnt[i][0] <= (parts + n - 1) / n);
            }
        }
    }
}

Test(assign, one_rack_or_one_rack_per_broker_matches_no_racks)
{
    struct assign_broker plain[7], same[7], own[7];
    static const char *names[] = {"a", "b", "c", "d", "e", "f", "g"};
    int32_t x[30 * 7], y[30 * 7], z[30 * 7];
    make_brokers(plain, 7);
    for (int i = 0; i < 7; i++) {
        same[i] = (struct assign_broker){.id = plain[i].id, .rack = "only"};
        own[i] = (struct assign_broker){.id = plain[i].id, .rack = names[i]};
    }
    for (int rf = 1; rf <= 7; rf++) {
        cr_assert_eq(assign_replicas(plain, 7, 30, (int16_t)rf, 0, 3, 5, x), KERR_NONE);
        cr_assert_eq(assign_replicas(same, 7, 30, (int16_t)rf, 0, 3, 5, y), KERR_NONE);
        cr_assert_eq(assign_replicas(own, 7, 30, (int16_t)rf, 0, 3, 5, z), KERR_NONE);
        cr_assert_arr_eq(x, y, sizeof(int32_t) * 30 * (size_t)rf, "rf=%d", rf);
        cr_assert_arr_eq(x, z, sizeof(int32_t) * 30 * (size_t)rf, "rf=%d", rf);
    }
}

Test(assign, errors_leave_out_untouched)
{
    struct assign_broker b[3];
    int32_t out[8];
    make_brokers(b, 3);
    memset(out, 0x5a, sizeof(out));
    cr_assert_eq(assign_replicas(b, 3, 0, 1, 0, 0, 0, out), KERR_INVALID_PARTITIONS);
    cr_assert_eq(assign_replicas(b, 3, -1, 1, 0, 0, 0, out), KERR_INVALID_PARTITIONS);
    cr_assert_eq(assign_replicas(b, 3, 1, 1, -1, 0, 0, out), KERR_INVALID_PARTITIONS);
    cr_assert_eq(assign_replicas(b, 3, 2, 1, INT32_MAX, 0, 0, out), KERR_INVALID_PARTITIONS);
    cr_assert_eq(assign_replicas(b, 3, 1, 0, 0, 0, 0, out), KERR_INVALID_REPLICATION_FACTOR);
    cr_assert_eq(assign_replicas(b, 3, 1, -2, 0, 0, 0, out), KERR_INVALID_REPLICATION_FACTOR);
    cr_assert_eq(assign_replicas(b, 3, 1, 4, 0, 0, 0, out), KERR_INVALID_REPLICATION_FACTOR);
    cr_assert_eq(assign_replicas(b, 0, 1, 1, 0, 0, 0, out), KERR_INVALID_REPLICATION_FACTOR);

    b[1].rack = "r1"; /* the others have NULL */
    cr_assert_eq(assign_replicas(b, 3, 1, 1, 0, 0, 0, out), KERR_INVALID_REPLICA_ASSIGNMENT);
    b[0].rack = "";
    b[2].rack = "r2"; /* "" counts as no rack */
    cr_assert_eq(assign_replicas(b, 3, 1, 1, 0, 0, 0, out), KERR_INVALID_REPLICA_ASSIGNMENT);
    cr_assert_eq(assign_index_of(b, 3, b[1].id), -1);
    b[0].rack = "r0";
    cr_assert_eq(assign_replicas(b, 3, 1, 3, 0, 0, 0, out), KERR_NONE, "all racks: fine");
    memset(out, 0x5a, sizeof(out));

    b[2].id = b[0].id;
    cr_assert_eq(assign_replicas(b, 3, 1, 1, 0, 0, 0, out), KERR_INVALID_REPLICA_ASSIGNMENT,
                 "duplicate id");
    for (size_t i = 0; i < 8; i++)
        cr_assert_eq(out[i], 0x5a5a5a5a, "out[%zu] written on error", i);
}

Test(assign, writes_exactly_n_parts_rows)
{
    struct assign_broker b[4];
    int32_t out[3 * 2 + 4];
    make_brokers(b, 4);
    for (size_t i = 0; i < ARRAY_LEN(out); i++)
        out[i] = -7;
    cr_assert_eq(assign_replicas(b, 4, 3, 2, 5, 0, 0, out), KERR_NONE);
    check_rows_valid(b, 4, out, 3, 2);
    for (size_t i = 6; i < ARRAY_LEN(out); i++)
        cr_assert_eq(out[i], -7);
    /* Huge start/shift values are reduced, not overflowed. */
    cr_assert_eq(assign_replicas(b, 4, 3, 2, 1000000, 1999999999, 2147483647, out), KERR_NONE);
    check_rows_valid(b, 4, out, 3, 2);
    cr_assert_eq(out[0], b[(1999999999 % 4 + 1000000) % 4].id);
}

Test(assign, negative_start_picks_random_valid_starts)
{
    struct assign_broker b[5];
    int32_t out[10 * 3];
    bool leader_seen[5] = {false}, follower_seen[5] = {false};
    make_brokers(b, 5);
    srandom(7);
    for (int t = 0; t < 200; t++) {
        cr_assert_eq(assign_replicas(b, 5, 10, 3, 0, -1, -1, out), KERR_NONE);
        check_rows_valid(b, 5, out, 10, 3);
        /* Leaders are still a round-robin from some start. */
        int s = broker_pos(b, 5, out[0]);
        for (int p = 0; p < 10; p++)
            cr_assert_eq(out[p * 3], b[(s + p) % 5].id);
        leader_seen[s] = true;
        follower_seen[(broker_pos(b, 5, out[1]) - s + 5) % 5] = true;
    }
    for (int i = 0; i < 5; i++)
        cr_assert(leader_seen[i], "start %d never picked", i);
    for (int off = 1; off < 5; off++)
        cr_assert(follower_seen[off], "shift giving offset %d never picked", off);

    int32_t one[4];
    cr_assert_eq(assign_replicas(b, 1, 4, 1, 0, -1, -1, one), KERR_NONE);
    for (int p = 0; p < 4; p++)
        cr_assert_eq(one[p], b[0].id);
}
