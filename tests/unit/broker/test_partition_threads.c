/* tests/unit/broker/test_partition_threads.c — the partition's thread
 * rules: partition_config() gives a consistent copy of the topic settings
 * while partition_set_config() replaces them from another thread (no torn
 * mix of old and new fields); with GREGOR_LOCK_CHECKS the lock knows its
 * owner, so partition_assert_locked() passes inside a waiter's wake()
 * (which runs with the lock held) and aborts on a thread that does not
 * hold it. */
#include "broker/replication/partition.h"
#include "common/clock.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

/* Every field derived from one number, so a copy mixing two configs shows. */
static struct topic_config config_of(int64_t v)
{
    return (struct topic_config){
        .segment_bytes = (int32_t)v,
        .segment_ms = v,
        .retention_ms = v,
        .retention_bytes = v,
        .max_message_bytes = (int32_t)v,
        .min_insync_replicas = (int32_t)v,
        .index_interval_bytes = (int32_t)v,
        .segment_index_bytes = (int32_t)v,
        .flush_messages = v,
        .flush_ms = v,
        .compact = v % 2 == 1,
        .log_append_time = v % 2 == 1,
        .ts_diff_max_ms = v,
    };
}

/* Field by field: padding bytes are not part of a copy. */
static bool same_config(const struct topic_config *a, const struct topic_config *b)
{
    return a->segment_bytes == b->segment_bytes && a->segment_ms == b->segment_ms &&
           a->retention_ms == b->retention_ms && a->retention_bytes == b->retention_bytes &&
           a->max_message_bytes == b->max_message_bytes &&
           a->min_insync_replicas == b->min_insync_replicas &&
           a->index_interval_bytes == b->index_interval_bytes &&
           a->segment_index_bytes == b->segment_index_bytes &&
           a->flush_messages == b->flush_messages && a->flush_ms == b->flush_ms &&
           a->compact == b->compact && a->log_append_time == b->log_append_time &&
           a->ts_diff_max_ms == b->ts_diff_max_ms;
}

static bool consistent(const struct topic_config *tc)
{
    struct topic_config want = config_of(tc->retention_ms);
    return same_config(tc, &want);
}

static struct partition *new_partition(void)
{
    char err[128];
    struct topic_config tc = config_of(1);
    struct partition *part =
        partition_new("t", 0, "/nonexistent", false, &tc, -1, err, sizeof(err));
    cr_assert_not_null(part, "%s", err);
    return part;
}

Test(partition_threads, config_copy_follows_set_config)
{
    struct partition *part = new_partition();
    struct topic_config tc;
    partition_config(part, &tc);
    cr_assert_eq(tc.retention_ms, 1);
    struct topic_config next = config_of(42);
    partition_set_config(part, &next);
    partition_config(part, &tc);
    cr_assert(same_config(&tc, &next));
    partition_free(part, false);
}

struct writer_arg {
    struct partition *part;
    atomic_bool stop;
};

static void *writer_main(void *arg)
{
    struct writer_arg *w = arg;
    for (int64_t v = 2; !atomic_load(&w->stop); v++) {
        struct topic_config tc = config_of(v);
        partition_set_config(w->part, &tc);
    }
    return NULL;
}

Test(partition_threads, config_copy_is_never_torn_by_a_concurrent_set)
{
    struct writer_arg w = {.part = new_partition()};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, writer_main, &w), 0);
    int64_t last = 0;
    int changes = 0;
    /* at least 200000 reads, and on until the writer has been seen to run
     * (a busy machine may not schedule it at once), for at most 10 s */
    int64_t give_up = clock_mono_us() + 10 * 1000000;
    for (int i = 0; i < 200000 || (changes < 3 && clock_mono_us() < give_up); i++) {
        struct topic_config tc;
        partition_config(w.part, &tc);
        cr_assert(consistent(&tc), "torn copy at read %d (retention.ms=%lld)", i,
                  (long long)tc.retention_ms);
        cr_assert_geq(tc.retention_ms, last, "settings went backwards");
        changes += tc.retention_ms != last;
        last = tc.retention_ms;
    }
    atomic_store(&w.stop, true);
    pthread_join(th, NULL);
    cr_assert_geq(changes, 3, "the writer ran concurrently");
    partition_free(w.part, false);
}

#ifdef GREGOR_LOCK_CHECKS

struct probe {
    struct pwaiter waiter;
    struct partition *part;
    bool checked;
    bool other_thread; /* check from a thread that does not hold the lock */
};

static void *assert_main(void *arg)
{
    partition_assert_locked(arg); /* aborts: this thread does not hold it */
    return NULL;
}

static void probe_wake(struct pwaiter *w)
{
    struct probe *p = w->owner;
    if (p->other_thread) {
        pthread_t th;
        if (pthread_create(&th, NULL, assert_main, p->part) == 0)
            pthread_join(th, NULL);
    }
    partition_assert_locked(p->part); /* wake() runs with the lock held */
    p->checked = true;
}

static void run_probe(bool other_thread)
{
    struct probe p = {.part = new_partition(), .other_thread = other_thread};
    p.waiter = (struct pwaiter){.wake = probe_wake, .owner = &p, .what = "probe"};
    partition_watch(p.part, &p.waiter);
    partition_mark_deleted(p.part);
    cr_assert(p.checked, "wake() ran");
    partition_unwatch(p.part, &p.waiter);
    partition_free(p.part, false);
}

Test(partition_threads, lock_owner_is_known_inside_wake) { run_probe(false); }

Test(partition_threads, assert_locked_aborts_without_the_lock, .signal = SIGABRT)
{
    struct partition *part = new_partition();
    partition_assert_locked(part);
}

Test(partition_threads, assert_locked_aborts_on_another_thread, .signal = SIGABRT)
{
    run_probe(true);
}

#endif
