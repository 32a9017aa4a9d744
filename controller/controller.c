/*
 * controller/controller.c — election, ZooKeeper events and the partition
 * state machine of the active controller (docs/architecture.md §3, §4).
 *
 * Election: try to create /controller (zk_store_controller_elect, which
 * also bumps /controller_epoch and fences our later writes); on failure,
 * watch /controller and try again when it disappears.
 * Active: watch /brokers/ids, /brokers/topics, /admin/delete_topics,
 * /admin/reassign_partitions (ctrl_reassign.c), /config/changes (ctrl_config.c: per-topic unclean election) and
 * each /brokers/topics/<t> (its data: CreatePartitions grows it); keep
 * the cluster state in memory; after each change decide leaders
 * (election.c), write the changed partition states conditionally (those
 * of one change as one pipelined batch: ctrl_update_partitions() with
 * zk_store_partition_states_set_many(); loading reads them the same way),
 * and push (ctrl_push.c): after a broker change or an election everything
 * (ctrl_push_all), after AlterIsr, controlled shutdown, preferred election
 * and new partitions LeaderAndIsr for the changed partitions only
 * (ctrl_push_changes); UpdateMetadata always carries the whole cluster.
 * Brokers treat a repeat as a no-op (same leader epoch). Broker change:
 * election_settle() (leader from the ISR, dead replicas out of the ISR,
 * epoch bumped on any change); a re-registered ("bounced") broker is first
 * settled as dead, then as live (brokers_changed()); on becoming
 * controller, so is a live broker whose registration is newer than the
 * last write of a state naming it (bounced_on_load(): zxids compared).
 * Requests from brokers (AlterIsr, ControlledShutdown) arrive through
 * controller_handle_request(): copied, posted, answered on the loop.
 * Watch callbacks run on ZooKeeper's thread: they copy the path and post.
 */
#include "controller/controller_int.h"
#include "controller/election.h"
#include "controller/rpc.h"
#include "common/clock.h"
#include "common/say.h"
#include "common/vec.h"

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
    free(t->adding);
    free(t->removing);
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
    c->topics_cap = 0;
}

int32_t *ctrl_live_ids(const struct controller *c, bool eligible_only, int *n)
{
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)(c->n_brokers ? c->n_brokers : 1));
    *n = 0;
    for (int i = 0; ids && i < c->n_brokers; i++)
        if (!eligible_only || !c->brokers[i].shutting_down)
            ids[(*n)++] = c->brokers[i].reg.id;
    return ids;
}

void ctrl_resign(struct controller *c, const char *why)
{
    KASSERT(CTRL_ON_LOOP(c));
    if (!c->active)
        return;
    say_warn("ctrl", "resigning as controller id=%d epoch=%d reason=\"%s\"", c->env.broker_id,
             c->epoch, why);
    c->active = false;
    ctrl_rebalance_stop(c);
    (void)zk_store_controller_resign(c->env.zk);
    ctrl_close_channels(c);
    free(c->brokers);
    c->brokers = NULL;
    c->n_brokers = 0;
    forget_topics(c);
}

static bool isr_equal(const struct zk_partition_state *a, const struct zk_partition_state *b)
{
    return a->n_isr == b->n_isr && memcmp(a->isr, b->isr, sizeof(int32_t) * (size_t)a->n_isr) == 0;
}

static void log_state(const struct ctopic *t, int p, const struct zk_partition_state *old,
                      const struct zk_partition_state *next)
{
    if (next->leader != old->leader || old->version == ZK_VERSION_NEW)
        say_info("ctrl", "partition leader topic=%s partition=%d leader=%d epoch=%d", t->name, p,
                 next->leader, next->leader_epoch);
    else if (!isr_equal(old, next))
        say_info("ctrl", "partition isr topic=%s partition=%d leader=%d epoch=%d n_isr=%d", t->name,
                 p, next->leader, next->leader_epoch, next->n_isr);
}

/* Scratch arrays of one batched update: slot k is partition v[idx[k]]. */
struct upd_scratch {
    const char **names;
    int *parts;
    struct zk_partition_state *st;
    kerr_t *res;
    int *idx;
    int *pend;     /* indexes into v still to decide */
    kerr_t *errs;  /* per partition of v */
    bool *changed; /* per partition of v */
};

static void upd_scratch_free(struct upd_scratch *u)
{
    free(u->names);
    free(u->parts);
    free(u->st);
    free(u->res);
    free(u->idx);
    free(u->pend);
    free(u->errs);
    free(u->changed);
}

static bool upd_scratch_init(struct upd_scratch *u, int n)
{
    size_t k = (size_t)(n > 0 ? n : 1);
    u->names = calloc(k, sizeof(*u->names));
    u->parts = calloc(k, sizeof(*u->parts));
    u->st = calloc(k, sizeof(*u->st));
    u->res = calloc(k, sizeof(*u->res));
    u->idx = calloc(k, sizeof(*u->idx));
    u->pend = calloc(k, sizeof(*u->pend));
    u->errs = calloc(k, sizeof(*u->errs));
    u->changed = calloc(k, sizeof(*u->changed));
    if (u->names && u->parts && u->st && u->res && u->idx && u->pend && u->errs && u->changed)
        return true;
    upd_scratch_free(u);
    return false;
}

/* Decides every pending partition; fills the slots of those to write.
 * Returns their count. */
static int upd_decide(struct controller *c, const struct ctrl_tp *v, struct upd_scratch *u, int np,
                      ctrl_decide_fn fn, void *ctx, kerr_t *errs)
{
    int m = 0;
    for (int k = 0; k < np; k++) {
        int i = u->pend[k];
        struct ctopic *t = v[i].t;
        errs[i] = KERR_NONE;
        if (!fn(c, t, v[i].p, &t->st[v[i].p], ctx, &u->st[m]))
            continue;
        u->st[m].controller_epoch = c->epoch;
        u->names[m] = t->name;
        u->parts[m] = v[i].p;
        u->idx[m++] = i;
    }
    return m;
}

/* Re-reads the states of the np pending partitions (after a conflict). */
static void upd_reread(struct controller *c, const struct ctrl_tp *v, struct upd_scratch *u, int np)
{
    for (int k = 0; k < np; k++) {
        u->names[k] = v[u->pend[k]].t->name;
        u->parts[k] = v[u->pend[k]].p;
    }
    if (zk_store_partition_states_get_many(c->env.zk, np, u->names, u->parts, u->st, u->res) !=
        KERR_NONE)
        for (int k = 0; k < np; k++)
            u->res[k] = KERR__ZK;
    for (int k = 0; k < np; k++) {
        const struct ctrl_tp *tp = &v[u->pend[k]];
        if (u->res[k] == KERR_NONE)
            tp->t->st[tp->p] = u->st[k];
        else
            tp->t->st[tp->p].version = ZK_VERSION_NEW;
    }
}

/* Takes the results of the m writes: memory, logs, changes; queues the
 * conflicting ones in u->pend. Returns their count, or -1 when fenced. */
static int upd_apply(struct controller *c, const struct ctrl_tp *v, struct upd_scratch *u, int m,
                     struct ctrl_changes *changes, kerr_t *errs, bool *changed)
{
    int np = 0;
    bool fenced = false;
    for (int k = 0; k < m; k++) {
        int i = u->idx[k];
        struct ctopic *t = v[i].t;
        int p = v[i].p;
        errs[i] = u->res[k];
        if (u->res[k] == KERR_NONE) {
            log_state(t, p, &t->st[p], &u->st[k]);
            ctrl_stats_count_state(c, &t->st[p], &u->st[k]);
            t->st[p] = u->st[k];
            changed[i] = true;
            if (changes)
                (void)ctrl_changes_add(changes, t, p);
        } else if (u->res[k] == KERR_NOT_CONTROLLER) {
            fenced = true;
        } else if (u->res[k] != KERR_UNKNOWN_TOPIC_OR_PARTITION) {
            u->pend[np++] = i; /* changed under us (or created): re-read, decide again */
        }
    }
    return fenced ? -1 : np;
}

kerr_t ctrl_update_partitions(struct controller *c, const struct ctrl_tp *v, int n,
                              ctrl_decide_fn fn, void *ctx, struct ctrl_changes *changes,
                              kerr_t *errs, bool *changed)
{
    KASSERT(CTRL_ON_LOOP(c));
    struct upd_scratch u;
    if (!upd_scratch_init(&u, n))
        return KERR__NOMEM;
    int np = n;
    for (int i = 0; i < n; i++)
        u.pend[i] = i;
    kerr_t rc = KERR_NONE;
    for (int attempt = 0; attempt < 3 && np > 0; attempt++) {
        int m = upd_decide(c, v, &u, np, fn, ctx, u.errs);
        if (m == 0)
            break;
        int64_t t0 = clock_mono_us();
        kerr_t brc =
            zk_store_partition_states_set_many(c->env.zk, m, u.names, u.parts, u.st, u.res);
        if (m >= 100)
            say_info("ctrl", "partition states written n=%d attempt=%d ms=%.1f", m, attempt + 1,
                     (double)(clock_mono_us() - t0) / 1000.0);
        for (int k = 0; brc != KERR_NONE && k < m; k++)
            u.res[k] = brc;
        np = upd_apply(c, v, &u, m, changes, u.errs, u.changed);
        if (np < 0) {
            rc = KERR_NOT_CONTROLLER;
            break;
        }
        if (np > 0)
            upd_reread(c, v, &u, np);
    }
    if (errs)
        memcpy(errs, u.errs, sizeof(*errs) * (size_t)n);
    if (changed)
        memcpy(changed, u.changed, sizeof(*changed) * (size_t)n);
    upd_scratch_free(&u);
    return rc;
}

kerr_t ctrl_update_partition(struct controller *c, struct ctopic *t, int p, ctrl_decide_fn fn,
                             void *ctx, bool *changed)
{
    KASSERT(CTRL_ON_LOOP(c));
    struct ctrl_tp tp = {t, p};
    kerr_t err = KERR_NONE;
    kerr_t rc = ctrl_update_partitions(c, &tp, 1, fn, ctx, NULL, &err, changed);
    return rc != KERR_NONE ? rc : err;
}

struct settle_ctx {
    const int32_t *live, *eligible;
    int n_live, n_eligible;
};

static bool settle_decide(struct controller *c, const struct ctopic *t, int p,
                          const struct zk_partition_state *cur, void *arg,
                          struct zk_partition_state *out)
{
    const struct settle_ctx *sc = arg;
    return election_settle(&t->replicas[p * t->rf], t->rf, cur, sc->live, sc->n_live, sc->eligible,
                           sc->n_eligible, ctrl_topic_unclean(c, t), out);
}

/* Arms the one-shot watch on /brokers/topics/<name> (its data: the
 * assignment, which CreatePartitions grows). *exists: whether it exists. */
static kerr_t watch_topic(struct controller *c, const char *name, bool *exists)
{
    char path[TOPIC_NAME_MAX_LEN + sizeof(ZK_PATH_TOPICS) + 2];
    snprintf(path, sizeof(path), "%s/%s", ZK_PATH_TOPICS, name);
    return zk_store_watch_node(c->env.zk, path, exists);
}

/* Reads the states of t's partitions [from, n_parts) in one pipelined
 * batch; those without a state (or unreadable) get an offline one with
 * ZK_VERSION_NEW. */
static void load_states(struct controller *c, struct ctopic *t, int from)
{
    int n = t->n_parts - from;
    const char **names = calloc((size_t)(n > 0 ? n : 1), sizeof(*names));
    int *parts = calloc((size_t)(n > 0 ? n : 1), sizeof(*parts));
    kerr_t *res = calloc((size_t)(n > 0 ? n : 1), sizeof(*res));
    for (int k = 0; names && parts && res && k < n; k++) {
        names[k] = t->name;
        parts[k] = from + k;
    }
    if (!names || !parts || !res ||
        zk_store_partition_states_get_many(c->env.zk, n, names, parts, &t->st[from], res) !=
            KERR_NONE)
        for (int k = 0; res && k < n; k++)
            res[k] = KERR__ZK;
    for (int k = 0; k < n; k++)
        if (!res || res[k] != KERR_NONE)
            t->st[from + k] = (struct zk_partition_state){.leader = -1, .version = ZK_VERSION_NEW};
    free(names);
    free(parts);
    free(res);
}

static struct ctopic *load_topic(struct controller *c, const char *name)
{
    struct zk_topic zt;
    bool exists = false;
    if (watch_topic(c, name, &exists) != KERR_NONE || !exists ||
        zk_store_topic_get(c->env.zk, name, &zt) != KERR_NONE)
        return NULL;
    struct ctopic *t = calloc(1, sizeof(*t));
    if (t) {
        snprintf(t->name, sizeof(t->name), "%s", name);
        t->n_parts = zt.n_partitions;
        t->rf = zt.replication_factor;
        t->replicas = zt.replicas; /* take them */
        t->adding = zt.adding;
        t->removing = zt.removing;
        zt.replicas = zt.adding = zt.removing = NULL;
        t->unclean = ctrl_config_unclean_of(&zt);
        t->st = calloc((size_t)(t->n_parts ? t->n_parts : 1), sizeof(*t->st));
    }
    zk_topic_destroy(&zt);
    if (!t || !t->st) {
        ctopic_free(t);
        return NULL;
    }
    load_states(c, t, 0);
    return t;
}

static struct ctopic *find_topic(struct controller *c, const char *name, int *idx)
{
    if (!name)
        return NULL;
    for (int i = 0; i < c->n_topics; i++)
        if (strcmp(c->topics[i]->name, name) == 0) {
            if (idx)
                *idx = i;
            return c->topics[i];
        }
    return NULL;
}

struct ctopic *ctrl_find_topic(struct controller *c, const char *name)
{
    return find_topic(c, name, NULL);
}

struct cbroker *ctrl_find_broker(struct controller *c, int32_t id)
{
    for (int i = 0; i < c->n_brokers; i++)
        if (c->brokers[i].reg.id == id)
            return &c->brokers[i];
    return NULL;
}

bool ctrl_changes_add(struct ctrl_changes *ch, struct ctopic *t, int p)
{
    if (!VEC_RESERVE_AT(ch->v, ch->cap, (size_t)ch->n + 1))
        return false;
    ch->v[ch->n++] = (struct ctrl_tp){t, p};
    return true;
}

void ctrl_changes_destroy(struct ctrl_changes *ch)
{
    free(ch->v);
    *ch = (struct ctrl_changes){0};
}

void ctrl_push_or_resign(struct controller *c, struct ctrl_changes *ch, bool fenced)
{
    KASSERT(CTRL_ON_LOOP(c));
    if (fenced)
        ctrl_resign(c, "fenced by a newer controller");
    else
        ctrl_push_changes(c, ch);
    ctrl_changes_destroy(ch);
}

static bool add_topic(struct controller *c, struct ctopic *t)
{
    if (!VEC_RESERVE_AT(c->topics, c->topics_cap, (size_t)c->n_topics + 1))
        return false;
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
    for (int i = 0; i < n; i++) {
        c->brokers[i].reg = regs[i];
        /* shutting down until it disappears or re-registers (new epoch) */
        for (int k = 0; k < n_old; k++)
            if (old[k].reg.id == regs[i].id && old[k].reg.epoch == regs[i].epoch)
                c->brokers[i].shutting_down = old[k].shutting_down;
    }
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

/* Removes the ids in gone[0..n_gone) from ids[0..*n). */
static void drop_ids(int32_t *ids, int *n, const int32_t *gone, int n_gone)
{
    int k = 0;
    for (int i = 0; ids && i < *n; i++) {
        bool drop = false;
        for (int g = 0; g < n_gone && !drop; g++)
            drop = ids[i] == gone[g];
        if (!drop)
            ids[k++] = ids[i];
    }
    *n = k;
}

/* Settles every partition (one pipelined batch of writes) as if the brokers
 * in gone[] were dead, and pushes the state. */
static void settle_and_push_without(struct controller *c, const int32_t *gone, int n_gone)
{
    struct settle_ctx sc;
    int32_t *live = ctrl_live_ids(c, false, &sc.n_live);
    int32_t *eligible = ctrl_live_ids(c, true, &sc.n_eligible);
    struct ctrl_changes all = {0};
    bool ok = live && eligible, fenced = false;
    drop_ids(live, &sc.n_live, gone, n_gone);
    drop_ids(eligible, &sc.n_eligible, gone, n_gone);
    sc.live = live;
    sc.eligible = eligible;
    for (int i = 0; ok && i < c->n_topics; i++)
        for (int p = 0; ok && p < c->topics[i]->n_parts; p++)
            ok = ctrl_changes_add(&all, c->topics[i], p);
    if (ok)
        fenced = ctrl_update_partitions(c, all.v, all.n, settle_decide, &sc, NULL, NULL, NULL) ==
                 KERR_NOT_CONTROLLER;
    if (ok && !fenced)
        ctrl_push_all(c);
    ctrl_changes_destroy(&all);
    free(live);
    free(eligible);
    if (fenced)
        ctrl_resign(c, "fenced by a newer controller");
}

static void settle_and_push(struct controller *c) { settle_and_push_without(c, NULL, 0); }

/* Re-reads /brokers/ids and settles when it changed (always_settle: also
 * when it did not). A broker whose registration was replaced (same id, new
 * epoch: restarted before its old session expired) is handled as Kafka
 * handles a "bounced" broker: first as failed — its leaderships move to
 * other ISR members and it leaves the ISRs, with bumped epochs, because the
 * new process may have lost the end of its log (a machine crash) — then as
 * started: it gets its replicas and rejoins the ISRs once caught up. */
static void brokers_changed(struct controller *c, bool always_settle)
{
    int n_before = c->n_brokers;
    struct zk_broker_reg *before = malloc(sizeof(*before) * (size_t)(n_before ? n_before : 1));
    if (!before)
        return;
    for (int i = 0; i < n_before; i++)
        before[i] = c->brokers[i].reg;
    if (!load_brokers(c)) {
        free(before);
        return;
    }
    int32_t *bounced = malloc(sizeof(int32_t) * (size_t)(c->n_brokers ? c->n_brokers : 1));
    int n_bounced = 0;
    bool same = n_before == c->n_brokers;
    for (int i = 0; i < c->n_brokers; i++) {
        const struct zk_broker_reg *r = &c->brokers[i].reg;
        for (int k = 0; k < n_before; k++)
            if (before[k].id == r->id && before[k].epoch != r->epoch && bounced) {
                say_info("ctrl",
                         "broker re-registered: handled as failed, then started "
                         "broker=%d old_epoch=%lld epoch=%lld",
                         r->id, (long long)before[k].epoch, (long long)r->epoch);
                bounced[n_bounced++] = r->id;
            }
        same = same && i < n_before && before[i].id == r->id && before[i].epoch == r->epoch;
    }
    if (n_bounced > 0)
        settle_and_push_without(c, bounced, n_bounced);
    if (c->active && (always_settle || !same))
        settle_and_push(c);
    if (c->active)
        ctrl_reassign_progress(c);
    free(bounced);
    free(before);
}

void ctrl_refresh_brokers(struct controller *c)
{
    KASSERT(CTRL_ON_LOOP(c));
    brokers_changed(c, false);
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

/* Fills sc with the live and eligible broker ids (new arrays: free
 * sc->live and sc->eligible). false on OOM. */
static bool settle_ctx_init(struct controller *c, struct settle_ctx *sc)
{
    sc->live = ctrl_live_ids(c, false, &sc->n_live);
    sc->eligible = ctrl_live_ids(c, true, &sc->n_eligible);
    return sc->live && sc->eligible;
}

static void settle_ctx_destroy(struct settle_ctx *sc)
{
    free((void *)sc->live);
    free((void *)sc->eligible);
}

void ctrl_settle_some(struct controller *c, const struct ctrl_changes *todo)
{
    KASSERT(CTRL_ON_LOOP(c));
    struct settle_ctx sc;
    struct ctrl_changes ch = {0};
    bool fenced = false;
    if (!settle_ctx_init(c, &sc)) {
        settle_ctx_destroy(&sc);
        return;
    }
    fenced = ctrl_update_partitions(c, todo->v, todo->n, settle_decide, &sc, &ch, NULL, NULL) ==
             KERR_NOT_CONTROLLER;
    settle_ctx_destroy(&sc);
    ctrl_push_or_resign(c, &ch, fenced);
}

/* Adopts the grown assignment zt (its rows past t->n_parts; the rows of
 * the existing partitions stay as the controller knows them, reassignments
 * included; rows laid out at the wider of the two widths) and reads the new
 * partitions' states (a previous controller may have written them). false
 * on OOM (nothing changed). */
static bool grow_topic(struct controller *c, struct ctopic *t, struct zk_topic *zt)
{
    int old = t->n_parts, n = zt->n_partitions;
    int w = zt->replication_factor > t->rf ? zt->replication_factor : t->rf;
    struct zk_partition_state *st = realloc(t->st, sizeof(*st) * (size_t)n);
    if (!st)
        return false;
    t->st = st;
    size_t cells = (size_t)n * (size_t)w;
    int32_t *reps = malloc(sizeof(int32_t) * cells);
    int32_t *add = t->adding ? malloc(sizeof(int32_t) * cells) : NULL;
    int32_t *rem = t->removing ? malloc(sizeof(int32_t) * cells) : NULL;
    if (!reps || (t->adding && !add) || (t->removing && !rem)) {
        free(reps);
        free(add);
        free(rem);
        return false;
    }
    for (int p = 0; p < n; p++)
        for (int r = 0; r < w; r++) {
            bool mine = p < old; /* existing rows from memory, new ones from zt */
            const int32_t *src = mine ? t->replicas : zt->replicas;
            int sw = mine ? t->rf : zt->replication_factor;
            reps[p * w + r] = r < sw ? src[p * sw + r] : ZK_NO_REPLICA;
            if (add)
                add[p * w + r] = mine && r < t->rf ? t->adding[p * t->rf + r] : ZK_NO_REPLICA;
            if (rem)
                rem[p * w + r] = mine && r < t->rf ? t->removing[p * t->rf + r] : ZK_NO_REPLICA;
        }
    free(t->replicas);
    free(t->adding);
    free(t->removing);
    t->replicas = reps;
    t->adding = add;
    t->removing = rem;
    t->rf = w;
    t->n_parts = n;
    load_states(c, t, old);
    say_info("ctrl", "partitions added topic=%s partitions=%d from=%d", t->name, n, old);
    return true;
}

/* /brokers/topics/<name> changed: re-arm its watch, and when its partition
 * count grew, elect leaders for the new partitions and push them
 * (LeaderAndIsr to their replicas, UpdateMetadata to every broker). */
static void topic_changed(struct controller *c, const char *name)
{
    struct ctopic *t = find_topic(c, name, NULL);
    bool exists = false;
    struct zk_topic zt;
    if (!t || watch_topic(c, name, &exists) != KERR_NONE || !exists ||
        zk_store_topic_get(c->env.zk, name, &zt) != KERR_NONE)
        return; /* unknown topics come through the children watch, deletions elsewhere */
    int old = t->n_parts;
    bool grown = zt.n_partitions > old && grow_topic(c, t, &zt);
    zk_topic_destroy(&zt);
    struct ctrl_changes todo = {0};
    bool ok = grown;
    for (int p = old; p < t->n_parts && ok; p++)
        ok = ctrl_changes_add(&todo, t, p);
    if (ok)
        ctrl_settle_some(c, &todo);
    ctrl_changes_destroy(&todo);
}

/* The topic name if path is /brokers/topics/<name>, else NULL. */
static const char *topic_of_path(const char *path)
{
    size_t n = strlen(ZK_PATH_TOPICS);
    if (strncmp(path, ZK_PATH_TOPICS, n) != 0 || path[n] != '/' || path[n + 1] == '\0' ||
        strchr(path + n + 1, '/'))
        return NULL;
    return path + n + 1;
}

/* Appends id to ids[0..*n) unless present. */
static void add_id(int32_t *ids, int *n, int32_t id)
{
    for (int i = 0; i < *n; i++)
        if (ids[i] == id)
            return;
    ids[(*n)++] = id;
}

/* Live brokers that registered after the last write of a partition state
 * naming them leader or ISR member: they restarted while no controller
 * was watching (the controller itself, restarted before its old session
 * expired, or a broker restarted during a controller change). Returns new
 * (free()), *n the count. */
static int32_t *bounced_on_load(struct controller *c, int *n)
{
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)(c->n_brokers ? c->n_brokers : 1));
    *n = 0;
    for (int i = 0; ids && i < c->n_topics; i++) {
        const struct ctopic *t = c->topics[i];
        for (int p = 0; p < t->n_parts; p++) {
            const struct zk_partition_state *st = &t->st[p];
            if (st->version == ZK_VERSION_NEW || st->mzxid <= 0)
                continue;
            for (int k = -1; k < st->n_isr; k++) {
                int32_t id = k < 0 ? st->leader : st->isr[k];
                const struct cbroker *cb = id >= 0 ? ctrl_find_broker(c, id) : NULL;
                if (cb && cb->reg.epoch > st->mzxid)
                    add_id(ids, n, id);
            }
        }
    }
    return ids;
}

static void elect(struct controller *c);

static void become_active(struct controller *c, int32_t epoch)
{
    c->active = true;
    c->epoch = epoch;
    say_info("ctrl", "became controller id=%d epoch=%d", c->env.broker_id, epoch);
    int64_t t0 = clock_mono_us();
    if (!load_brokers(c) || !ctrl_config_start(c) || !load_new_topics(c)) {
        ctrl_resign(c, "cannot load the cluster state from ZooKeeper");
        return;
    }
    int n_parts = 0;
    for (int i = 0; i < c->n_topics; i++)
        n_parts += c->topics[i]->n_parts;
    say_info("ctrl", "cluster state loaded brokers=%d topics=%d partitions=%d ms=%.1f",
             c->n_brokers, c->n_topics, n_parts, (double)(clock_mono_us() - t0) / 1000.0);
    int n_bounced = 0;
    int32_t *bounced = bounced_on_load(c, &n_bounced);
    for (int i = 0; i < n_bounced; i++)
        say_info("ctrl",
                 "broker registered after its partition states were written: handled as "
                 "failed, then started broker=%d",
                 bounced[i]);
    if (n_bounced > 0)
        settle_and_push_without(c, bounced, n_bounced);
    free(bounced);
    if (c->active)
        settle_and_push(c);
    if (c->active)
        process_deletions(c);
    if (c->active) /* resume the reassignments a previous controller started */
        ctrl_reassign_progress(c);
    if (c->active)
        ctrl_reassign_znode(c);
    if (c->active)
        ctrl_rebalance_start(c);
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
    KASSERT(CTRL_ON_LOOP(c));
    if (c->stopping) {
        free(we);
        return;
    }
    if (strcmp(we->path, ZK_PATH_CONTROLLER) == 0) {
        if (!c->active)
            elect(c);
    } else if (c->active && strcmp(we->path, ZK_PATH_BROKER_IDS) == 0) {
        brokers_changed(c, true);
    } else if (c->active && strcmp(we->path, ZK_PATH_TOPICS) == 0) {
        if (load_new_topics(c))
            settle_and_push(c);
    } else if (c->active && strcmp(we->path, ZK_PATH_DELETE_TOPICS) == 0) {
        process_deletions(c);
    } else if (c->active && strcmp(we->path, ZK_PATH_REASSIGN) == 0) {
        ctrl_reassign_znode(c);
    } else if (c->active && strcmp(we->path, ZK_PATH_CONFIG_CHANGES) == 0) {
        ctrl_config_changed(c);
    } else if (c->active && topic_of_path(we->path)) {
        topic_changed(c, topic_of_path(we->path));
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
    c->unclean_dynamic = -1;
    if (!zk_store_watch_subscribe(env->zk, watch_cb, c)) {
        free(c);
        return NULL;
    }
    return c;
}

static void start_job(void *arg) { elect(arg); }

void controller_start(struct controller *c) { c->env.post(c->env.post_ctx, start_job, c); }

static void renewed_job(void *arg)
{
    struct controller *c = arg;
    KASSERT(CTRL_ON_LOOP(c));
    /* the old session's /controller and watches are gone */
    if (c->active)
        say_warn("ctrl", "ZooKeeper session expired: no longer controller id=%d epoch=%d",
                 c->env.broker_id, c->epoch);
    c->active = false;
    ctrl_rebalance_stop(c);
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
    KASSERT(CTRL_ON_LOOP(c));
    c->stopping = true;
    ctrl_resign(c, "shutting down");
    ctrl_rebalance_stop(c);
    ctrl_close_channels(c);
}

void controller_stop(struct controller *c)
{
    zk_store_watch_unsubscribe(c->env.zk, watch_cb, c);
    c->env.post(c->env.post_ctx, stop_job, c);
}

void controller_free(struct controller *c)
{
    if (!c)
        return;
    ctrl_rebalance_stop(c);
    free(c->brokers);
    forget_topics(c);
    free(c);
}

/* ---- requests from brokers ------------------------------------------------ */

kerr_t ctrl_check_broker_epoch(struct controller *c, int32_t id, int64_t epoch)
{
    KASSERT(CTRL_ON_LOOP(c));
    const struct cbroker *cb = ctrl_find_broker(c, id);
    if (cb && cb->reg.epoch == epoch)
        return KERR_NONE;
    if (!cb || cb->reg.epoch < epoch) /* maybe registered after our last read */
        ctrl_refresh_brokers(c);
    if (!c->active)
        return KERR_NOT_CONTROLLER;
    cb = ctrl_find_broker(c, id);
    return cb && cb->reg.epoch == epoch ? KERR_NONE : KERR_STALE_BROKER_EPOCH;
}

struct request_job {
    struct controller *c;
    int api_key;
    controller_reply_fn done;
    void *arg;
    size_t len;
    uint8_t body[]; /* the request, copied */
};

/* Appends a response for api_key carrying only a top-level error. */
static void reply_error(int api_key, kerr_t err, struct kbuf *out)
{
    if (api_key == RPC_CONTROLLED_SHUTDOWN) {
        struct rpc_controlled_shutdown_resp r = {.error_code = (int16_t)err};
        (void)rpc_controlled_shutdown_resp_encode(&r, out);
    } else {
        /* AlterIsr, and any other key: every response has error_code = 1 */
        struct rpc_alter_isr_resp r = {.error_code = (int16_t)err};
        (void)rpc_alter_isr_resp_encode(&r, out);
    }
}

static void request_job(void *arg)
{
    struct request_job *rj = arg;
    struct controller *c = rj->c;
    KASSERT(CTRL_ON_LOOP(c));
    struct kbuf out;
    kbuf_init(&out);
    if (!c->active || c->stopping)
        reply_error(rj->api_key, KERR_NOT_CONTROLLER, &out);
    else if (rj->api_key == RPC_ALTER_ISR)
        ctrl_alter_isr(c, rj->body, rj->len, &out);
    else if (rj->api_key == RPC_CONTROLLED_SHUTDOWN)
        ctrl_controlled_shutdown(c, rj->body, rj->len, &out);
    else
        reply_error(rj->api_key, KERR_INVALID_REQUEST, &out);
    rj->done(rj->arg, out.data, out.oom ? 0 : out.len);
    kbuf_destroy(&out);
    free(rj);
}

void controller_handle_request(struct controller *c, int api_key, const uint8_t *body, size_t len,
                               controller_reply_fn done, void *arg)
{
    struct request_job *rj = malloc(sizeof(*rj) + (len ? len : 1));
    if (rj) {
        *rj =
            (struct request_job){.c = c, .api_key = api_key, .done = done, .arg = arg, .len = len};
        if (len)
            memcpy(rj->body, body, len);
        if (c->env.post(c->env.post_ctx, request_job, rj))
            return;
        free(rj);
    }
    /* cannot reach the loop (stopped, or out of memory): answer here */
    struct kbuf out;
    kbuf_init(&out);
    reply_error(api_key, KERR_NOT_CONTROLLER, &out);
    done(arg, out.data, out.oom ? 0 : out.len);
    kbuf_destroy(&out);
}

bool controller_is_active(const struct controller *c)
{
    return atomic_load(&((struct controller *)c)->active);
}
