/* tests/unit/broker/test_topics.c — topic_grow(): partitions added in
 * place keep the old partition objects, open logs for local replicas only,
 * take the topic's current settings, and lock-free readers never index
 * past the array they loaded. */
#include "broker/config.h"
#include "broker/topics.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];
static struct broker_config cfg;
static struct topic_config defaults;

static void setup(void)
{
    char logdirs[300], err[512];
    snprintf(dir, sizeof(dir), "/tmp/gregor-test-topics-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(logdirs, sizeof(logdirs), "log.dirs=%s", dir);
    char *ov[] = {"broker.id=0", "zookeeper.connect=127.0.0.1:1", logdirs};
    cr_assert_eq(config_load(&cfg, NULL, NULL, ov, 3, err, sizeof(err)), 0, "%s", err);
    topic_config_defaults(&defaults, &cfg);
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    (void)system(cmd);
    config_free(&cfg);
}

TestSuite(topics, .init = setup, .fini = teardown, .timeout = 30);

static bool is_dir(const char *topic, int p)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s-%d", dir, topic, p);
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

Test(topics, grow_keeps_old_partitions_and_opens_local_ones)
{
    char err[256];
    /* rf 2; broker 0 is a replica of partitions 0, 2 and 3 */
    int32_t reps[] = {0, 1, 1, 2, 2, 0, 0, 2, 1, 2};
    struct topic *t = topic_create("t", 2, 2, reps, NULL, 0, &defaults, dir, 0, NULL, err,
                                   sizeof(err));
    cr_assert_not_null(t, "%s", err);
    struct partition *p0 = t->parts[0], *p1 = t->parts[1];
    cr_assert_eq(topic_grow(t, 5, reps, 0, err, sizeof(err)), KERR_NONE, "%s", err);
    cr_assert_eq(t->n_parts, 5);
    cr_assert_eq(t->parts[0], p0, "old partitions are not replaced");
    cr_assert_eq(t->parts[1], p1);
    cr_assert_not_null(t->parts[2]->log, "local replica gets a log");
    cr_assert_not_null(t->parts[3]->log);
    cr_assert_null(t->parts[4]->log, "remote-only partition has no log");
    cr_assert(is_dir("t", 2) && is_dir("t", 3) && !is_dir("t", 4));
    cr_assert_eq(t->parts[4]->n_replicas, 2);
    cr_assert_eq(t->parts[4]->replicas[0], 1);
    cr_assert_eq(t->parts[4]->replicas[1], 2);
    cr_assert_eq(t->parts[2]->index, 2);
    cr_assert_eq(t->replicas[3 * 2 + 1], 2);
    /* not larger: nothing happens */
    cr_assert_eq(topic_grow(t, 3, reps, 0, err, sizeof(err)), KERR_NONE);
    cr_assert_eq(t->n_parts, 5);
    topic_unref(t);
}

Test(topics, grown_partitions_take_the_current_config)
{
    char err[256];
    int32_t reps[] = {0, 0, 0};
    char *kv[] = {"retention.ms", "12345"};
    struct topic *t = topic_create("c", 1, 1, reps, kv, 1, &defaults, dir, 0, NULL, err,
                                   sizeof(err));
    cr_assert_not_null(t, "%s", err);
    char *kv2[] = {"retention.ms", "777"};
    cr_assert(topic_set_config(t, kv2, 1, &defaults));
    cr_assert_eq(topic_grow(t, 3, reps, 0, err, sizeof(err)), KERR_NONE, "%s", err);
    cr_assert_eq(t->parts[2]->tc.retention_ms, 777);
    cr_assert_eq(t->parts[0]->tc.retention_ms, 777);
    topic_unref(t);
}

struct reader {
    struct topic *t;
    atomic_bool stop;
    long reads;
};

/* Reads every partition the way handlers do: count first, then the array. */
static void *reader_main(void *arg)
{
    struct reader *r = arg;
    while (!atomic_load(&r->stop)) {
        for (int32_t p = 0; p < r->t->n_parts; p++) {
            struct partition *part = r->t->parts[p];
            cr_assert_not_null(part);
            cr_assert_eq(part->index, p);
            r->reads++;
        }
    }
    return NULL;
}

Test(topics, readers_see_a_consistent_array_while_it_grows)
{
    char err[256];
    enum { MAX = 64 };
    int32_t reps[MAX];
    for (int i = 0; i < MAX; i++)
        reps[i] = 1; /* no local replicas: no logs, so growing is fast */
    struct topic *t = topic_create("r", 1, 1, reps, NULL, 0, &defaults, dir, 0, NULL, err,
                                   sizeof(err));
    cr_assert_not_null(t, "%s", err);
    struct reader r = {.t = t};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, reader_main, &r), 0);
    for (int n = 2; n <= MAX; n++) {
        cr_assert_eq(topic_grow(t, n, reps, 0, err, sizeof(err)), KERR_NONE, "%s", err);
        usleep(200);
    }
    atomic_store(&r.stop, true);
    pthread_join(th, NULL);
    cr_assert_eq(t->n_parts, MAX);
    cr_assert_gt(r.reads, 0);
    topic_unref(t);
}
