/* tests/unit/broker/test_topics.c — topic_grow(): partitions added in
 * place keep the old partition objects, open logs for local replicas only,
 * take the topic's current settings, and lock-free readers never index
 * past the array they loaded; topic_create() at start-up with several
 * recovery threads recovers every partition's log (after a crash, with a
 * torn tail) and fails cleanly when one cannot open. */
#include "broker/config/config.h"
#include "broker/storage/plog.h"
#include "broker/replication/topics.h"
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
    struct topic *t =
        topic_create("t", 2, 2, reps, NULL, 0, &defaults, dir, 0, NULL, err, sizeof(err));
    cr_assert_not_null(t, "%s", err);
    struct partition *p0 = topic_part(t, 0), *p1 = topic_part(t, 1);
    cr_assert_eq(topic_grow(t, 5, reps, 2, 0, err, sizeof(err)), KERR_NONE, "%s", err);
    cr_assert_eq(t->n_parts, 5);
    cr_assert_eq(topic_part(t, 0), p0, "old partitions are not replaced");
    cr_assert_eq(topic_part(t, 1), p1);
    cr_assert_not_null(topic_part(t, 2)->log, "local replica gets a log");
    cr_assert_not_null(topic_part(t, 3)->log);
    cr_assert_null(topic_part(t, 4)->log, "remote-only partition has no log");
    cr_assert(is_dir("t", 2) && is_dir("t", 3) && !is_dir("t", 4));
    cr_assert_eq(topic_part(t, 4)->n_replicas, 2);
    cr_assert_eq(topic_part(t, 4)->replicas[0], 1);
    cr_assert_eq(topic_part(t, 4)->replicas[1], 2);
    cr_assert_eq(topic_part(t, 2)->index, 2);
    cr_assert_eq(topic_replicas(t)[3 * 2 + 1], 2);
    /* not larger: nothing happens */
    cr_assert_eq(topic_grow(t, 3, reps, 2, 0, err, sizeof(err)), KERR_NONE);
    cr_assert_eq(t->n_parts, 5);
    topic_unref(t);
}

/* The assignment's rows may be wider than the topic's (a partition
 * reassigned to more replicas): locality comes from the whole new row. */
Test(topics, grow_from_a_wider_assignment)
{
    char err[256];
    int32_t reps[] = {1, 2};
    struct topic *t =
        topic_create("w", 1, 2, reps, NULL, 0, &defaults, dir, 0, NULL, err, sizeof(err));
    cr_assert_not_null(t, "%s", err);
    /* width 3: partition 0 [1,2,-1], partition 1 [1,2,0] (broker 0 third) */
    int32_t wide[] = {1, 2, -1, 1, 2, 0};
    cr_assert_eq(topic_grow(t, 2, wide, 3, 0, err, sizeof(err)), KERR_NONE, "%s", err);
    cr_assert_not_null(topic_part(t, 1)->log, "broker 0 is the third replica of partition 1");
    cr_assert(is_dir("w", 1));
    cr_assert_eq(topic_part(t, 1)->n_replicas, 3);
    cr_assert_eq(topic_replicas(t)[1 * 2 + 1], 2);
    topic_unref(t);
}

Test(topics, grown_partitions_take_the_current_config)
{
    char err[256];
    int32_t reps[] = {0, 0, 0};
    char *kv[] = {"retention.ms", "12345"};
    struct topic *t =
        topic_create("c", 1, 1, reps, kv, 1, &defaults, dir, 0, NULL, err, sizeof(err));
    cr_assert_not_null(t, "%s", err);
    char *kv2[] = {"retention.ms", "777"};
    cr_assert(topic_set_config(t, kv2, 1, &defaults));
    cr_assert_eq(topic_grow(t, 3, reps, 1, 0, err, sizeof(err)), KERR_NONE, "%s", err);
    cr_assert_eq(topic_part(t, 2)->tc.retention_ms, 777);
    cr_assert_eq(topic_part(t, 0)->tc.retention_ms, 777);
    topic_unref(t);
}

/* leader/follower.replication.throttled.replicas mark the partitions listed
 * with this broker's id (0 here), at creation, on a config change and when
 * the topic grows. */
Test(topics, throttled_replicas_mark_this_brokers_partitions)
{
    char err[256];
    int32_t reps[] = {0, 0, 0};
    char *kv[] = {"follower.replication.throttled.replicas", "1:0,0:7",
                  "leader.replication.throttled.replicas", ""};
    struct topic *t =
        topic_create("th", 2, 1, reps, kv, 2, &defaults, dir, 0, NULL, err, sizeof(err));
    cr_assert_not_null(t, "%s", err);
    cr_assert(!partition_follower_throttled(topic_part(t, 0))); /* 0:7 is another broker */
    cr_assert(partition_follower_throttled(topic_part(t, 1)));
    cr_assert(!partition_leader_throttled(topic_part(t, 0)) &&
              !partition_leader_throttled(topic_part(t, 1)));
    char *kv2[] = {"leader.replication.throttled.replicas", "*"};
    cr_assert(topic_set_config(t, kv2, 1, &defaults));
    cr_assert(partition_leader_throttled(topic_part(t, 0)) &&
              partition_leader_throttled(topic_part(t, 1)));
    cr_assert(!partition_follower_throttled(topic_part(t, 1)));
    cr_assert_eq(topic_grow(t, 3, reps, 1, 0, err, sizeof(err)), KERR_NONE, "%s", err);
    cr_assert(partition_leader_throttled(topic_part(t, 2)));
    cr_assert(topic_set_config(t, NULL, 0, &defaults));
    for (int p = 0; p < 3; p++)
        cr_assert(!partition_leader_throttled(topic_part(t, p)));
    topic_unref(t);
}

struct reader {
    struct topic *t;
    int16_t rf;
    atomic_bool stop;
    atomic_long passes; /* whole passes over the partitions */
    /* written by the reader only; read by the test after the join */
    long reads;
    int32_t last_count;  /* n_parts of the latest pass */
    int32_t counts_seen; /* distinct n_parts values seen, in order */
    long bad;            /* reads that saw an inconsistent partition */
    char first_bad[160];
};

static void reader_fail(struct reader *r, const char *what, int32_t p)
{
    if (r->bad++ == 0)
        snprintf(r->first_bad, sizeof(r->first_bad), "pass %ld partition %d: %s",
                 (long)atomic_load(&r->passes), p, what);
}

/* Reads every partition the way handlers do: count first, then the array.
 * Each partition read must be the one at that index, of this topic, with
 * its replica row intact; the count never shrinks. Failures are counted
 * here and asserted by the test (Criterion asserts only on its own thread). */
static void *reader_main(void *arg)
{
    struct reader *r = arg;
    while (!atomic_load(&r->stop)) {
        int32_t n = atomic_load_explicit(&r->t->n_parts, memory_order_acquire);
        if (n < r->last_count)
            reader_fail(r, "partition count went down", n);
        if (n != r->last_count)
            r->counts_seen++;
        r->last_count = n;
        struct partition **parts = atomic_load_explicit(&r->t->parts_, memory_order_acquire);
        int32_t *reps = atomic_load_explicit(&r->t->replicas_, memory_order_acquire);
        for (int32_t p = 0; p < n; p++) {
            struct partition *part = parts[p];
            if (!part) {
                reader_fail(r, "NULL partition", p);
                continue;
            }
            if (part->index != p)
                reader_fail(r, "partition has another index", p);
            if (part->topic != r->t->name || strcmp(part->topic, "r") != 0)
                reader_fail(r, "partition of another topic", p);
            if (part->n_replicas != r->rf)
                reader_fail(r, "replica count differs", p);
            for (int k = 0; k < r->rf; k++)
                if (reps[(size_t)p * (size_t)r->rf + (size_t)k] != 1 + k ||
                    part->replicas[k] != 1 + k)
                    reader_fail(r, "replica row differs", p);
            r->reads++;
        }
        atomic_fetch_add(&r->passes, 1);
    }
    return NULL;
}

/* Waits until the reader has made a whole pass that started after now. */
static void wait_for_a_pass(struct reader *r)
{
    long start = atomic_load(&r->passes);
    while (atomic_load(&r->passes) < start + 2)
        usleep(50);
}

Test(topics, readers_see_a_consistent_array_while_it_grows)
{
    char err[256];
    enum { MAX = 64, RF = 2 };
    int32_t reps[MAX * RF];
    for (int i = 0; i < MAX * RF; i++)
        reps[i] = 1 + i % RF; /* brokers 1 and 2: no local logs, so growing is fast */
    struct topic *t =
        topic_create("r", 1, RF, reps, NULL, 0, &defaults, dir, 0, NULL, err, sizeof(err));
    cr_assert_not_null(t, "%s", err);
    struct reader r = {.t = t, .rf = RF};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, reader_main, &r), 0);
    wait_for_a_pass(&r);
    for (int n = 2; n <= MAX; n++) {
        cr_assert_eq(topic_grow(t, n, reps, RF, 0, err, sizeof(err)), KERR_NONE, "%s", err);
        wait_for_a_pass(&r); /* the reader runs during every growth and sees its result */
    }
    atomic_store(&r.stop, true);
    pthread_join(th, NULL);
    cr_assert_eq(t->n_parts, MAX);
    cr_assert_eq(r.bad, 0, "%ld inconsistent reads, first: %s", r.bad, r.first_bad);
    cr_assert_eq(r.last_count, MAX);
    cr_assert_eq(r.counts_seen, MAX, "the reader saw %d of the %d sizes", r.counts_seen, MAX);
    cr_assert_geq(r.reads, (long)MAX * (MAX + 1) / 2, "reads=%ld", r.reads);
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
    struct topic *t =
        topic_create("par", N, 1, reps, NULL, 0, &defaults, dir, 0, &rp, err, sizeof(err));
    cr_assert_not_null(t, "%s", err);
    for (int p = 0; p < N; p++) {
        cr_assert_not_null(topic_part(t, p), "partition %d", p);
        cr_assert_not_null(topic_part(t, p)->log, "partition %d has no log", p);
        int64_t want = p == 7 ? 4 : 2 * (p % 4);
        cr_assert_eq(plog_end_offset(topic_part(t, p)->log), want, "partition %d: end offset %lld",
                     p, (long long)plog_end_offset(topic_part(t, p)->log));
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
    struct topic *t =
        topic_create("bad", 16, 1, reps, NULL, 0, &defaults, dir, 0, &rp, err, sizeof(err));
    cr_assert_null(t);
    cr_assert(strstr(err, "bad-9"), "error does not name the partition: %s", err);
}
