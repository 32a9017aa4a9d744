/*
 * tests/integration/test_kcat.c — the kcat checks against one
 * broker: `kcat -L` lists the broker and the topics; 100,000 keyed records
 * produced into a 4-partition topic with `kcat -P -K:` come back from
 * `kcat -C -e` byte-identical, each exactly once, in order within each
 * partition with offsets 0, 1, 2, ... .
 */
#include "tests/harness/broker_proc.h"
#include "tests/integration/itest.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_RECORDS 100000
#define N_PARTS 4

static void up(void) { cr_assert(tcluster_fixture_up(1, NULL), "cluster did not start"); }

TestSuite(kcat, .init = up, .fini = itest_fixture_down, .timeout = 300);

Test(kcat, list_shows_broker_and_topics)
{
    struct tcluster *c = tcluster_fixture();
    char topic[64];
    itest_topic("kcat-list", topic, sizeof(topic));
    cr_assert_eq(itest_create_topic(c->bootstrap, topic, 3, 30), 0);
    char *out = NULL;
    int rc = harness_shf(&out, 60, "kcat -b %s -L -m 10", c->bootstrap);
    cr_assert_eq(rc, 0, "kcat -L exited %d:\n%s", rc, out);
    char want[128];
    snprintf(want, sizeof(want), "broker 0 at 127.0.0.1:%d", broker_proc_port(c->broker[0]));
    cr_assert(strstr(out, " 1 brokers:"), "no '1 brokers:' in:\n%s", out);
    cr_assert(strstr(out, want), "no '%s' in:\n%s", want, out);
    snprintf(want, sizeof(want), "topic \"%s\" with 3 partitions:", topic);
    cr_assert(strstr(out, want), "no '%s' in:\n%s", want, out);
    for (int p = 0; p < 3; p++) {
        snprintf(want, sizeof(want), "partition %d, leader 0,", p);
        cr_assert(strstr(out, want), "no '%s' in:\n%s", want, out);
    }
    free(out);
}

/* Parses "<partition> <offset> <key> <value>" lines and checks them. */
static void check_consumed(char *out)
{
    static char seen[N_RECORDS];
    long next_off[N_PARTS] = {0};
    long last_idx[N_PARTS] = {-1, -1, -1, -1};
    long lines = 0;
    memset(seen, 0, sizeof(seen));
    for (char *save = NULL, *line = strtok_r(out, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        int p = -1, i = -1, j = -1;
        long off = -1;
        int used = 0;
        int got = sscanf(line, "%d %ld key-%d value-%d%n", &p, &off, &i, &j, &used);
        cr_assert(got == 4 && p >= 0 && p < N_PARTS, "bad line '%s'", line);
        cr_assert(i >= 0 && i < N_RECORDS && i == j, "key/value mismatch in '%s'", line);
        char want[64];
        snprintf(want, sizeof(want), "value-%d-payload-%d", i, i * 7);
        cr_assert_str_eq(strchr(strchr(strchr(line, ' ') + 1, ' ') + 1, ' ') + 1, want,
                         "value differs in '%s'", line);
        cr_assert_eq(off, next_off[p], "partition %d: offset %ld, expected %ld", p, off,
                     next_off[p]);
        cr_assert_gt(i, last_idx[p], "partition %d: key-%d after key-%ld (order)", p, i,
                     last_idx[p]);
        cr_assert_eq(seen[i], 0, "key-%d consumed twice", i);
        seen[i] = 1;
        next_off[p]++;
        last_idx[p] = i;
        lines++;
    }
    cr_assert_eq(lines, N_RECORDS, "consumed %ld records, produced %d", lines, N_RECORDS);
    for (int p = 0; p < N_PARTS; p++)
        cr_assert_gt(next_off[p], 0, "partition %d received nothing", p);
}

Test(kcat, hundred_thousand_keyed_records_round_trip)
{
    struct tcluster *c = tcluster_fixture();
    char topic[64];
    itest_topic("kcat-100k", topic, sizeof(topic));
    cr_assert_eq(itest_create_topic(c->bootstrap, topic, N_PARTS, 30), 0);

    char path[512];
    snprintf(path, sizeof(path), "%s/input.txt", broker_proc_dir(c->broker[0]));
    FILE *f = fopen(path, "w");
    cr_assert(f);
    for (int i = 0; i < N_RECORDS; i++)
        fprintf(f, "key-%d:value-%d-payload-%d\n", i, i, i * 7);
    cr_assert_eq(fclose(f), 0);

    int rc = harness_shf(NULL, 180, "kcat -b %s -P -t %s -K: -X acks=all < %s", c->bootstrap, topic,
                         path);
    cr_assert_eq(rc, 0, "kcat -P exited %d", rc);

    char *out = NULL;
    rc = harness_shf(&out, 180, "kcat -b %s -C -t %s -o beginning -e -q -f '%%p %%o %%k %%s\\n'",
                     c->bootstrap, topic);
    cr_assert_eq(rc, 0, "kcat -C exited %d", rc);
    check_consumed(out);
    free(out);

    /* The log end offsets add up to the record count. */
    int64_t total = 0;
    for (int p = 0; p < N_PARTS; p++) {
        int16_t err = 0;
        int64_t leo = itest_list_offset(broker_proc_port(c->broker[0]), topic, p, -1, &err);
        cr_assert_geq(leo, 0, "ListOffsets partition %d error %d", p, err);
        total += leo;
    }
    cr_assert_eq(total, N_RECORDS);
}
