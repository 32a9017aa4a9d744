/* tests/unit/broker/test_topics.c — topic_grow(): partitions added in
 * place keep the old partition objects, open logs for local replicas only,
 * take the topic's current settings, and lock-free readers never index
 * past the array they loaded; topic_create() at start-up with several
 * recovery threads recovers every partition's log (after a crash, with a
 * torn tail) and fails cleanly when one cannot open. */
#include "broker/config.h"
#include "broker/storage/plog.h"
#include "broker/topics.h"
#include "tests/unit/broker/storage/storage_test.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

/* ---- start-up: logs opened by several threads ---- */

static int64_t lookup_zero(void *arg, const char *topic, int32_t partition)
{
    (void)arg;
    (void)topic;
    (void)partition;
    return 0; /* no checkpoint: recover every log from offset 0 */
}

/* In a child that exits without closing anything (a crash): partition p of
 * topic gets p % 4 batches of 2 records. */
static void crash_with_logs(const char *topic, int n)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        for (int p = 0; p < n; p++) {
            char path[512];
            struct plog_config pc;
            plog_config_default(&pc);
            snprintf(path, sizeof(path), "%s/%s-%d", dir, topic, p);
            struct plog *log = plog_open(path, &pc, NULL, 0);
            if (!log)
                _exit(2);
            for (int i = 0; i < p % 4; i++) {
                struct kbuf b;
                int64_t f, l;
                kbuf_init(&b);
                st_simple(&b, 2, 20, 1000 + i);
                if (plog_append(log, b.data, b.len, 1, 0, &f, &l) != KERR_NONE)
                    _exit(3);
                kbuf_destroy(&b);
            }
        }
        _exit(0);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

Test(topics, startup_recovers_every_partition_with_several_threads)
{
    enum { N = 48 };
    char err[256], path[512];
    int32_t reps[N] = {0}; /* rf 1, all local */
    crash_with_logs("par", N);
    /* partition 7 (3 batches) lost the end of its last batch */
    snprintf(path, sizeof(path), "%s/par-7/00000000000000000000.log", dir);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(truncate(path, st.st_size - 5), 0);

    struct recovery_points rp = {.lookup = lookup_zero, .threads = 4};
    struct topic *t = topic_create("par", N, 1, reps, NULL, 0, &defaults, dir, 0, &rp, err,
                                   sizeof(err));
    cr_assert_not_null(t, "%s", err);
    for (int p = 0; p < N; p++) {
        cr_assert_not_null(t->parts[p], "partition %d", p);
        cr_assert_not_null(t->parts[p]->log, "partition %d has no log", p);
        int64_t want = p == 7 ? 4 : 2 * (p % 4);
        cr_assert_eq(plog_end_offset(t->parts[p]->log), want, "partition %d: end offset %lld",
                     p, (long long)plog_end_offset(t->parts[p]->log));
    }
    topic_unref(t);
}

Test(topics, startup_with_several_threads_fails_cleanly_on_one_bad_partition)
{
    char err[256] = "", path[512];
    int32_t reps[16] = {0};
    /* partition 9's directory is a regular file: its log cannot open */
    snprintf(path, sizeof(path), "%s/bad-9", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fclose(f);
    struct recovery_points rp = {.lookup = lookup_zero, .threads = 4};
    struct topic *t = topic_create("bad", 16, 1, reps, NULL, 0, &defaults, dir, 0, &rp, err,
                                   sizeof(err));
    cr_assert_null(t);
    cr_assert(strstr(err, "bad-9"), "error does not name the partition: %s", err);
}
