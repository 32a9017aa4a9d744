/*
 * tests/tsan/tsan_threads.c — the broker's shared structures driven from
 * several threads at once, for the ThreadSanitizer build (make test-tsan).
 *
 * Criterion cannot start under ThreadSanitizer (its BoxFort arena is mapped
 * at random fixed addresses that TSan's memory layout reserves), so this
 * is a plain program: each scenario runs its threads, checks what it can
 * see, and exits 1 on a wrong value; TSan itself fails the run (exit code
 * 66, reports under TSAN_OPTIONS log_path) on a data race or a lock-order
 * inversion. Scenarios:
 *   config    AlterConfigs (topic_set_config) against produce-side reads
 *             (partition_config, partition_leader) and LeaderAndIsr-style
 *             state changes
 *   topics    registry add/remove against lookups and listings
 *   worker    jobs posted from several threads, run on the worker's thread
 *   mcache    metadata snapshots swapped while readers hold references
 * (tsan_cleaner.c: the log cleaner against a writer and a reader.)
 * Usage: tsan_threads [scenario...] (none: all).
 */
#include "broker/core/metadata_cache.h"
#include "common/loop/worker.h"
#include "broker/replication/partition.h"
#include "broker/replication/topics.h"
#include "common/base.h"

#include <event2/thread.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUNDS 20000
#define READERS 3

static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "tsan_threads: %s:%d: ", __FILE__, __LINE__);                          \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static void run_threads(void *(*fn)(void *), void **args, int n)
{
    pthread_t th[8];
    for (int i = 0; i < n; i++)
        if (pthread_create(&th[i], NULL, fn, args[i]) != 0)
            abort();
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
}

/* --- config ------------------------------------------------------------ */

static struct topic_config base_config(void)
{
    return (struct topic_config){.segment_bytes = 1 << 20,
                                 .segment_ms = 3600000,
                                 .retention_ms = 1000,
                                 .retention_bytes = -1,
                                 .max_message_bytes = 1 << 20,
                                 .min_insync_replicas = 1,
                                 .index_interval_bytes = 4096,
                                 .segment_index_bytes = 1 << 20,
                                 .flush_messages = INT64_MAX,
                                 .flush_ms = INT64_MAX,
                                 .ts_diff_max_ms = INT64_MAX};
}

struct config_ctx {
    struct topic *t;
    atomic_bool stop;
    int role; /* 0 writer, 1 state changer, >= 2 reader */
};

static void *config_main(void *arg)
{
    struct config_ctx *c = arg;
    struct topic_config defaults = base_config();
    struct topic *t = c->t;
    if (c->role == 0) {
        for (int i = 0; i < ROUNDS / 10; i++) {
            char value[32];
            snprintf(value, sizeof(value), "%d", 2000 + i % 2 * 1000);
            char *kv[] = {"retention.ms", value, "max.message.bytes", value};
            CHECK(topic_set_config(t, kv, 2, &defaults), "topic_set_config failed");
        }
        atomic_store(&c->stop, true);
    } else if (c->role == 1) {
        int32_t replicas[] = {0, 1}, isr[] = {0, 1};
        for (int32_t epoch = 1; !atomic_load(&c->stop); epoch++) {
            struct partition_state st = {.leader = epoch % 2,
                                         .leader_epoch = epoch,
                                         .partition_epoch = epoch,
                                         .n_isr = 2,
                                         .isr = isr,
                                         .n_replicas = 2,
                                         .replicas = replicas};
            bool changed;
            for (int p = 0; p < t->n_parts; p++)
                (void)partition_apply_state(topic_part(t, p), 0, &st, epoch, &changed);
        }
    } else {
        while (!atomic_load(&c->stop)) {
            for (int p = 0; p < t->n_parts; p++) {
                struct topic_config tc;
                partition_config(topic_part(t, p), &tc);
                CHECK(tc.retention_ms == 1000 || tc.retention_ms == 2000 || tc.retention_ms == 3000,
                      "retention.ms %lld", (long long)tc.retention_ms);
                CHECK(tc.max_message_bytes == tc.retention_ms ||
                          (tc.retention_ms == 1000 && tc.max_message_bytes == 1 << 20),
                      "torn copy: retention.ms %lld, max.message.bytes %d",
                      (long long)tc.retention_ms, tc.max_message_bytes);
                (void)partition_ack_status(topic_part(t, p), 0, 1);
                int32_t epoch, leader = partition_leader(topic_part(t, p), &epoch);
                CHECK(epoch == 0 || leader == epoch % 2, "leader %d with epoch %d", leader, epoch);
            }
        }
    }
    return NULL;
}

static void scenario_config(void)
{
    struct topic_config defaults = base_config();
    int32_t replicas[] = {1, 1, 1, 1};
    char err[256];
    struct topic *t = topic_create("cfg", 4, 1, replicas, NULL, 0, &defaults, "/nonexistent", 0,
                                   NULL, err, sizeof(err));
    CHECK(t != NULL, "topic_create: %s", err);
    if (!t)
        return;
    /* the writer's end stops the others */
    struct config_ctx ctx[2 + READERS];
    pthread_t th[2 + READERS];
    for (int i = 0; i < 2 + READERS; i++) {
        ctx[i] = (struct config_ctx){.t = t, .role = i};
        if (pthread_create(&th[i], NULL, config_main, &ctx[i]) != 0)
            abort();
    }
    pthread_join(th[0], NULL);
    for (int i = 1; i < 2 + READERS; i++)
        atomic_store(&ctx[i].stop, true);
    for (int i = 1; i < 2 + READERS; i++)
        pthread_join(th[i], NULL);
    topic_unref(t);
}

/* --- topics ------------------------------------------------------------ */

struct topics_ctx {
    struct topics *ts;
    atomic_bool *stop;
    bool writer;
};

static void *topics_main(void *arg)
{
    struct topics_ctx *c = arg;
    struct topic_config defaults = base_config();
    int32_t replicas[] = {1, 1};
    char err[256], name[16];
    if (c->writer) {
        for (int i = 0; i < ROUNDS / 10; i++) {
            snprintf(name, sizeof(name), "t%d", i % 8);
            struct topic *old = topics_remove(c->ts, name);
            topic_unref(old);
            struct topic *t = topic_create(name, 2, 1, replicas, NULL, 0, &defaults, "/nonexistent",
                                           0, NULL, err, sizeof(err));
            CHECK(t != NULL, "topic_create: %s", err);
            if (t && !topics_add(c->ts, t))
                topic_unref(t);
        }
        atomic_store(c->stop, true);
        return NULL;
    }
    while (!atomic_load(c->stop)) {
        for (int i = 0; i < 8; i++) {
            snprintf(name, sizeof(name), "t%d", i);
            struct topic *t = topics_get(c->ts, name, strlen(name));
            if (t) {
                CHECK(strcmp(t->name, name) == 0, "got %s for %s", t->name, name);
                struct topic_config tc;
                partition_config(topic_part(t, t->n_parts - 1), &tc);
                topic_unref(t);
            }
        }
        int n;
        struct topic **list = topics_list(c->ts, &n);
        topics_list_free(list, n);
    }
    return NULL;
}

static void scenario_topics(void)
{
    atomic_bool stop = false;
    struct topics *ts = topics_new();
    struct topics_ctx ctx[1 + READERS];
    void *args[1 + READERS];
    for (int i = 0; i < 1 + READERS; i++) {
        ctx[i] = (struct topics_ctx){.ts = ts, .stop = &stop, .writer = i == 0};
        args[i] = &ctx[i];
    }
    run_threads(topics_main, args, 1 + READERS);
    topics_free(ts);
}

/* --- worker ------------------------------------------------------------ */

struct worker_ctx {
    struct worker *w;
    long count; /* touched only on the worker's thread */
};

static void count_job(void *arg)
{
    struct worker_ctx *c = arg;
    KASSERT(worker_is_current(c->w));
    c->count++;
}

static void *poster_main(void *arg)
{
    struct worker_ctx *c = arg;
    for (int i = 0; i < ROUNDS; i++)
        CHECK(worker_post(c->w, count_job, c), "worker_post failed");
    return NULL;
}

static void scenario_worker(void)
{
    struct worker_ctx c = {.w = worker_new("tsan")};
    CHECK(c.w != NULL, "worker_new failed");
    if (!c.w)
        return;
    CHECK(!worker_is_current(c.w), "the main thread is not the worker");
    void *args[READERS] = {&c, &c, &c};
    run_threads(poster_main, args, READERS);
    worker_free(c.w); /* runs every posted job, joined: count is ours to read */
    CHECK(c.count == (long)READERS * ROUNDS, "ran %ld of %d jobs", c.count, READERS * ROUNDS);
}

/* --- metadata cache ------------------------------------------------------ */

struct mcache_ctx {
    struct metadata_cache *mc;
    atomic_bool *stop;
    bool writer;
};

static void *mcache_main(void *arg)
{
    struct mcache_ctx *c = arg;
    if (c->writer) {
        for (int32_t epoch = 1; epoch <= ROUNDS / 10; epoch++) {
            struct mc_snapshot *s = mc_snapshot_new();
            CHECK(s != NULL, "mc_snapshot_new failed");
            if (!s)
                break;
            s->controller_id = epoch;
            s->controller_epoch = epoch;
            mc_snapshot_sort(s);
            CHECK(mc_set(c->mc, s), "mc_set refused epoch %d", epoch);
        }
        atomic_store(c->stop, true);
        return NULL;
    }
    int32_t last = -1;
    while (!atomic_load(c->stop)) {
        struct mc_snapshot *s = mc_get(c->mc);
        CHECK(s->controller_epoch >= last, "snapshot went back %d -> %d", last,
              s->controller_epoch);
        CHECK(s->controller_id == s->controller_epoch || s->controller_id == -1, "torn snapshot");
        last = s->controller_epoch;
        mc_put(s);
    }
    return NULL;
}

static void scenario_mcache(void)
{
    atomic_bool stop = false;
    struct metadata_cache *mc = mc_new();
    CHECK(mc != NULL, "mc_new failed");
    if (!mc)
        return;
    struct mcache_ctx ctx[1 + READERS];
    void *args[1 + READERS];
    for (int i = 0; i < 1 + READERS; i++) {
        ctx[i] = (struct mcache_ctx){.mc = mc, .stop = &stop, .writer = i == 0};
        args[i] = &ctx[i];
    }
    run_threads(mcache_main, args, 1 + READERS);
    mc_free(mc);
}

static const struct {
    const char *name;
    void (*run)(void);
} scenarios[] = {
    {"config", scenario_config},
    {"topics", scenario_topics},
    {"worker", scenario_worker},
    {"mcache", scenario_mcache},
};

int main(int argc, char **argv)
{
    if (evthread_use_pthreads() != 0) /* as main.c: worker_post() from any thread */
        return 1;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (size_t i = 0; i < ARRAY_LEN(scenarios); i++) {
        bool wanted = argc < 2;
        for (int a = 1; a < argc; a++)
            wanted |= strcmp(argv[a], scenarios[i].name) == 0;
        if (!wanted)
            continue;
        int before = failures;
        scenarios[i].run();
        printf("%s %s\n", failures == before ? "PASS" : "FAIL", scenarios[i].name);
    }
    return failures ? 1 : 0;
}
