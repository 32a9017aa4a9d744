/*
 * controller/controller.c — election, ZooKeeper events and the partition
 * state machine of the active controller (DESIGN.md §3, §4).
 *
 * Election: try to create /controller (zk_store_controller_elect, which
 * also bumps /controller_epoch and fences our later writes); on failure,
 * watch /controller and try again when it disappears.
 * Active: watch /brokers/ids, /brokers/topics, /admin/delete_topics; keep
 * the cluster state in memory; after each change decide leaders
 * (election.c), write the changed partition states conditionally, and push
 * the whole state to every live broker (ctrl_push.c). Pushing everything is
 * simple and idempotent on the brokers (same leader epoch = no change); a
 * later step can push deltas.
 * Watch callbacks run on ZooKeeper's thread: they copy the path and post.
 */
#include "controller/controller_int.h"
#include "controller/election.h"
#include "common/say.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct watch_event {
    struct controller *c;
    enum zk_watch_event ev;
    char path[512];
};

static void ctopic_free(struct ctopic *t)
{
    if (!t)
        return;
    free(t->replicas);
    free(t->st);
    free(t);
}

static void forget_topics(struct controller *c)
{
    for (int i = 0; i < c->n_topics; i++)
        ctopic_free(c->topics[i]);
    free(c->topics);
    c->topics = NULL;
    c->n_topics = 0;
}

static int32_t *live_ids(const struct controller *c)
{
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)(c->n_brokers ? c->n_brokers : 1));
    for (int i = 0; ids && i < c->n_brokers; i++)
        ids[i] = c->brokers[i].reg.id;
    return ids;
}

static void resign(struct controller *c, const char *why)
{
    if (!c->active)
        return;
    say_warn("ctrl", "resigning as controller id=%d epoch=%d reason=\"%s\"", c->env.broker_id,
             c->epoch, why);
    c->active = false;
    (void)zk_store_controller_resign(c->env.zk);
    ctrl_close_channels(c);
    free(c->brokers);
    c->brokers = NULL;
    c->n_brokers = 0;
    forget_topics(c);
}

/* Decides and writes the state of every partition of t. false when fenced. */
static bool settle_topic(struct controller *c, struct ctopic *t, const int32_t *live, int n_live)
{
    for (int p = 0; p < t->n_parts; p++) {
        for (int attempt = 0; attempt < 3; attempt++) {
            struct zk_partition_state next;
            if (!election_decide(&t->replicas[p * t->rf], t->rf, &t->st[p], live, n_live,
                                 c->env.unclean_leader_election, &next))
                break;
            next.controller_epoch = c->epoch;
            kerr_t rc = zk_store_partition_state_set(c->env.zk, t->name, p, &next);
            if (rc == KERR_NONE) {
                if (next.leader != t->st[p].leader)
                    say_info("ctrl", "partition leader topic=%s partition=%d leader=%d epoch=%d",
                             t->name, p, next.leader, next.leader_epoch);
                t->st[p] = next;
                break;
            }
            if (rc == KERR_NOT_CONTROLLER)
                return false;
            /* changed under us (or created): re-read and decide again */
            if (zk_store_partition_state_get(c->env.zk, t->name, p, &t->st[p]) != KERR_NONE)
                t->st[p].version = ZK_VERSION_NEW;
        }
    }
    return true;
}

static struct ctopic *load_topic(struct controller *c, const char *name)
{
    struct zk_topic zt;
    if (zk_store_topic_get(c->env.zk, name, &zt) != KERR_NONE)
        return NULL;
    struct ctopic *t = calloc(1, sizeof(*t));
    if (t) {
        snprintf(t->name, sizeof(t->name), "%s", name);
        t->n_parts = zt.n_partitions;
        t->rf = zt.replication_factor;
        t->replicas = zt.replicas; /* take it */
        zt.replicas = NULL;
        t->st = calloc((size_t)(t->n_parts ? t->n_parts : 1), sizeof(*t->st));
    }
    zk_topic_destroy(&zt);
    if (!t || !t->st) {
        ctopic_free(t);
        return NULL;
    }
    for (int p = 0; p < t->n_parts; p++)
        if (zk_store_partition_state_get(c->env.zk, name, p, &t->st[p]) != KERR_NONE)
            t->st[p] = (struct zk_partition_state){.leader = -1, .version = ZK_VERSION_NEW};
    return t;
}

static struct ctopic *find_topic(struct controller *c, const char *name, int *idx)
{
    for (int i = 0; i < c->n_topics; i++)
        if (strcmp(c->topics[i]->name, name) == 0) {
            if (idx)
                *idx = i;
            return c->topics[i];
        }
    return NULL;
}

static bool add_topic(struct controller *c, struct ctopic *t)
{
    struct ctopic **v = realloc(c->topics, sizeof(*v) * (size_t)(c->n_topics + 1));
    if (!v)
        return false;
    c->topics = v;
    c->topics[c->n_topics++] = t;
    return true;
}

/* Reads /brokers/ids into c->brokers (re-arming the watch); keeps channels. */
static bool load_brokers(struct controller *c)
{
    struct zk_broker_reg *regs = NULL;
    int n = 0;
    if (zk_store_watch_children(c->env.zk, ZK_PATH_BROKER_IDS) != KERR_NONE ||
        zk_store_list_brokers(c->env.zk, &regs, &n) != KERR_NONE)
        return false;
    struct cbroker *old = c->brokers;
    int n_old = c->n_brokers;
    c->brokers = calloc((size_t)(n ? n : 1), sizeof(*c->brokers));
    if (!c->brokers) {
        c->brokers = old;
        free(regs);
        return false;
    }
    for (int i = 0; i < n; i++)
        c->brokers[i].reg = regs[i];
    c->n_brokers = n;
    free(regs);
    ctrl_sync_channels(c, old, n_old);
    free(old);
    return true;
}

/* Loads topics not known yet (re-arming the watch). */
static bool load_new_topics(struct controller *c)
{
    char **names = NULL;
    int n = 0;
    if (zk_store_watch_children(c->env.zk, ZK_PATH_TOPICS) != KERR_NONE ||
        zk_store_topic_list(c->env.zk, &names, &n) != KERR_NONE)
        return false;
    for (int i = 0; i < n; i++) {
        if (find_topic(c, names[i], NULL))
            continue;
        struct ctopic *t = load_topic(c, names[i]);
        if (t && !add_topic(c, t))
            ctopic_free(t);
    }
    zk_names_free(names, n);
    return true;
}

/* Settles every partition and pushes the state. */
static void settle_and_push(struct controller *c)
{
    int32_t *live = live_ids(c);
    if (!live)
        return;
    for (int i = 0; i < c->n_topics; i++) {
        if (!settle_topic(c, c->topics[i], live, c->n_brokers)) {
            free(live);
            resign(c, "fenced by a newer controller");
            return;
        }
    }
    free(live);
    ctrl_push_all(c);
}

/* Handles /admin/delete_topics: stop replicas, delete znodes, forget. */
static void process_deletions(struct controller *c)
{
    char **names = NULL;
    int n = 0;
    if (zk_store_watch_children(c->env.zk, ZK_PATH_DELETE_TOPICS) != KERR_NONE ||
        zk_store_delete_requests_list(c->env.zk, &names, &n) != KERR_NONE)
        return;
    bool changed = false;
    for (int i = 0; i < n; i++) {
        int idx;
        struct ctopic *t = find_topic(c, names[i], &idx);
        if (t)
            ctrl_push_stop_topic(c, t);
        kerr_t rc = zk_store_topic_delete(c->env.zk, names[i]);
        if (rc != KERR_NONE && rc != KERR_UNKNOWN_TOPIC_OR_PARTITION) {
            say_warn("ctrl", "topic deletion failed topic=%s err=%s", names[i], kerr_name(rc));
            continue;
        }
        say_info("ctrl", "topic deleted topic=%s", names[i]);
        if (t) {
            ctopic_free(t);
            c->topics[idx] = c->topics[--c->n_topics];
            changed = true;
        }
    }
    zk_names_free(names, n);
    if (changed)
        ctrl_push_all(c);
}

static void elect(struct controller *c);

static void become_active(struct controller *c, int32_t epoch)
{
    c->active = true;
    c->epoch = epoch;
    say_info("ctrl", "became controller id=%d epoch=%d", c->env.broker_id, epoch);
    if (!load_brokers(c) || !load_new_topics(c)) {
        resign(c, "cannot load the cluster state from ZooKeeper");
        return;
    }
    settle_and_push(c);
    if (c->active)
        process_deletions(c);
}

static void elect(struct controller *c)
{
    if (c->active || c->stopping)
        return;
    int32_t other = -1, epoch = 0;
    kerr_t rc = zk_store_controller_elect(c->env.zk, c->env.broker_id, &other, &epoch);
    if (rc == KERR_NONE) {
        become_active(c, epoch);
        return;
    }
    bool exists = true;
    if (zk_store_watch_node(c->env.zk, ZK_PATH_CONTROLLER, &exists) == KERR_NONE && !exists) {
        elect(c); /* it went away between the two calls */
        return;
    }
    say_debug("ctrl", "controller is broker id=%d", other);
}

static void watch_job(void *arg)
{
    struct watch_event *we = arg;
    struct controller *c = we->c;
    if (c->stopping) {
        free(we);
        return;
    }
    if (strcmp(we->path, ZK_PATH_CONTROLLER) == 0) {
        if (!c->active)
            elect(c);
    } else if (c->active && strcmp(we->path, ZK_PATH_BROKER_IDS) == 0) {
        if (load_brokers(c))
            settle_and_push(c);
    } else if (c->active && strcmp(we->path, ZK_PATH_TOPICS) == 0) {
        if (load_new_topics(c))
            settle_and_push(c);
    } else if (c->active && strcmp(we->path, ZK_PATH_DELETE_TOPICS) == 0) {
        process_deletions(c);
    }
    free(we);
}

/* ZooKeeper's thread: copy and post only. */
static void watch_cb(void *arg, enum zk_watch_event ev, const char *path)
{
    struct controller *c = arg;
    struct watch_event *we = calloc(1, sizeof(*we));
    if (!we)
        return;
    we->c = c;
    we->ev = ev;
    snprintf(we->path, sizeof(we->path), "%s", path);
    if (!c->env.post(c->env.post_ctx, watch_job, we))
        free(we);
}

struct controller *controller_new(const struct controller_env *env)
{
    struct controller *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->env = *env;
    zk_store_set_watch_cb(env->zk, watch_cb, c);
    return c;
}

static void start_job(void *arg)
{
    elect(arg);
}

void controller_start(struct controller *c)
{
    c->env.post(c->env.post_ctx, start_job, c);
}

static void renewed_job(void *arg)
{
    struct controller *c = arg;
    /* the old session's /controller and watches are gone */
    c->active = false;
    ctrl_close_channels(c);
    free(c->brokers);
    c->brokers = NULL;
    c->n_brokers = 0;
    forget_topics(c);
    elect(c);
}

void controller_session_renewed(struct controller *c)
{
    c->env.post(c->env.post_ctx, renewed_job, c);
}

static void stop_job(void *arg)
{
    struct controller *c = arg;
    c->stopping = true;
    resign(c, "shutting down");
    ctrl_close_channels(c);
}

void controller_stop(struct controller *c)
{
    zk_store_set_watch_cb(c->env.zk, NULL, NULL);
    c->env.post(c->env.post_ctx, stop_job, c);
}

void controller_free(struct controller *c)
{
    if (!c)
        return;
    free(c->brokers);
    forget_topics(c);
    free(c);
}
