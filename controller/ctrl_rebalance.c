/*
 * controller/ctrl_rebalance.c — leader elections that are not failover
 * (docs/architecture.md §4): on request (controller_elect_leaders(): ElectLeaders, the
 * CLI), preferred or unclean, and the preferred election of the
 * auto-rebalance timer (auto.leader.rebalance.enable, every
 * leader.imbalance.check.interval.seconds).
 *
 * Preferred: a partition moves to its preferred replica (the first of its
 * assignment) when that one is live, not shutting down, in the ISR and not
 * leading already (election_preferred(); the leader epoch is bumped).
 * Unclean (KIP-460, whatever unclean.leader.election.enable says): a
 * partition without a live leader gets the first live ISR member, else the
 * first live replica with ISR = {it} (election_unclean_request()).
 * The timer follows Kafka: per broker, imbalance = partitions preferring it
 * but led by another / partitions preferring it; above
 * leader.imbalance.per.broker.percentage, those of its partitions that can
 * move, do.
 * This is the one controller file besides channel.c that includes libevent
 * (for the timer). Loop-owned: the controller's loop only.
 */
#include "controller/controller_int.h"
#include "controller/election.h"
#include "common/say.h"

#include <event2/event.h>

#include <stdlib.h>
#include <string.h>

/* What an election decides with; the id lists are owned by the caller. */
struct elect_ctx {
    int8_t type;             /* CONTROLLER_ELECT_PREFERRED or _UNCLEAN */
    const int32_t *live;     /* registered brokers */
    const int32_t *eligible; /* live and not shutting down */
    int n_live, n_eligible;
};

static bool elect_decide(struct controller *c, const struct ctopic *t, int p,
                         const struct zk_partition_state *cur, void *arg,
                         struct zk_partition_state *out)
{
    (void)c;
    const struct elect_ctx *ec = arg;
    const int32_t *reps = &t->replicas[p * t->rf];
    if (ec->type == CONTROLLER_ELECT_UNCLEAN)
        return election_unclean_request(reps, t->rf, cur, ec->live, ec->n_live, ec->eligible,
                                        ec->n_eligible, out);
    return election_preferred(reps, t->rf, cur, ec->eligible, ec->n_eligible, out);
}

/* The Kafka code for a partition the election left unchanged (state st). */
static kerr_t elect_unchanged_code(const struct elect_ctx *ec, const struct ctopic *t, int p)
{
    const struct zk_partition_state *st = &t->st[p];
    if (ec->type == CONTROLLER_ELECT_UNCLEAN)
        return st->leader >= 0 && election_is_live(ec->live, ec->n_live, st->leader)
                   ? KERR_ELECTION_NOT_NEEDED
                   : KERR_ELIGIBLE_LEADERS_NOT_AVAILABLE;
    if (t->rf > 0 && st->leader == t->replicas[p * t->rf])
        return KERR_ELECTION_NOT_NEEDED;
    return KERR_PREFERRED_LEADER_NOT_AVAILABLE;
}

/* Fills ec's live and eligible lists (new, free both); false on OOM. */
static bool elect_ctx_init(struct controller *c, int8_t type, struct elect_ctx *ec)
{
    *ec = (struct elect_ctx){.type = type};
    ec->live = ctrl_live_ids(c, false, &ec->n_live);
    ec->eligible = ctrl_live_ids(c, true, &ec->n_eligible);
    return ec->live && ec->eligible;
}

static void elect_ctx_destroy(struct elect_ctx *ec)
{
    free((void *)ec->live);
    free((void *)ec->eligible);
}

/* Runs ec's election for v[0..n) in one pipelined batch of writes;
 * codes[k] (n of them) gets the Kafka code for v[k]. Returns
 * KERR_NOT_CONTROLLER when fenced (the partitions not written then say
 * so too), else KERR_NONE. */
static kerr_t elect_many(struct controller *c, const struct ctrl_tp *v, int n, struct elect_ctx *ec,
                         struct ctrl_changes *changes, int16_t *codes)
{
    kerr_t *errs = calloc((size_t)(n ? n : 1), sizeof(*errs));
    bool *changed = calloc((size_t)(n ? n : 1), sizeof(*changed));
    kerr_t rc = errs && changed
                    ? ctrl_update_partitions(c, v, n, elect_decide, ec, changes, errs, changed)
                    : KERR__NOMEM;
    for (int k = 0; k < n; k++) {
        kerr_t e;
        if (rc == KERR__NOMEM)
            e = KERR_UNKNOWN_SERVER_ERROR;
        else if (changed[k])
            e = KERR_NONE;
        else if (rc == KERR_NOT_CONTROLLER)
            e = KERR_NOT_CONTROLLER;
        else if (errs[k] == KERR_UNKNOWN_TOPIC_OR_PARTITION)
            e = errs[k];
        else if (errs[k] != KERR_NONE)
            e = KERR_UNKNOWN_SERVER_ERROR;
        else
            e = elect_unchanged_code(ec, v[k].t, v[k].p);
        codes[k] = (int16_t)e;
    }
    free(errs);
    free(changed);
    return rc == KERR_NOT_CONTROLLER ? rc : KERR_NONE;
}

/* ---- on request ---------------------------------------------------------- */

struct elect_job {
    struct controller *c;
    int8_t type; /* CONTROLLER_ELECT_* */
    int n;
    char **topics;       /* n copies, owned */
    int32_t *partitions; /* n, owned */
    controller_elect_fn done;
    void *arg;
};

static void elect_job_free(struct elect_job *ej)
{
    for (int i = 0; ej->topics && i < ej->n; i++)
        free(ej->topics[i]);
    free(ej->topics);
    free(ej->partitions);
    free(ej);
}

/* n == 0: every partition. Fills the arrays (sized by the caller). */
static int elect_targets(struct controller *c, struct elect_job *ej, const char **names,
                         int32_t *parts, struct ctopic **tops)
{
    int k = 0;
    if (ej->n > 0) {
        for (int i = 0; i < ej->n; i++, k++) {
            names[k] = ej->topics[i];
            parts[k] = ej->partitions[i];
            tops[k] = ctrl_find_topic(c, ej->topics[i]);
        }
        return k;
    }
    for (int i = 0; i < c->n_topics; i++)
        for (int p = 0; p < c->topics[i]->n_parts; p++, k++) {
            names[k] = c->topics[i]->name;
            parts[k] = p;
            tops[k] = c->topics[i];
        }
    return k;
}

static int count_all(const struct controller *c)
{
    int n = 0;
    for (int i = 0; i < c->n_topics; i++)
        n += c->topics[i]->n_parts;
    return n;
}

/* Elects the known partitions among names/parts/tops[0..n) (the others
 * get UNKNOWN_TOPIC_OR_PARTITION) into errs. false when fenced. */
static bool elect_known(struct controller *c, struct elect_ctx *ec, int n, const int32_t *parts,
                        struct ctopic **tops, int16_t *errs, struct ctrl_changes *changes)
{
    struct ctrl_tp *todo = calloc((size_t)(n ? n : 1), sizeof(*todo));
    int *at = calloc((size_t)(n ? n : 1), sizeof(*at));
    int16_t *codes = calloc((size_t)(n ? n : 1), sizeof(*codes));
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (!todo || !at || !codes) {
            errs[i] = KERR_UNKNOWN_SERVER_ERROR;
        } else if (!tops[i] || parts[i] < 0 || parts[i] >= tops[i]->n_parts) {
            errs[i] = KERR_UNKNOWN_TOPIC_OR_PARTITION;
        } else {
            todo[m] = (struct ctrl_tp){tops[i], parts[i]};
            at[m++] = i;
        }
    }
    bool fenced = m > 0 && elect_many(c, todo, m, ec, changes, codes) == KERR_NOT_CONTROLLER;
    for (int k = 0; k < m; k++)
        errs[at[k]] = codes[k];
    free(todo);
    free(at);
    free(codes);
    return !fenced;
}

static void elect_run(struct controller *c, struct elect_job *ej)
{
    int cap = ej->n > 0 ? ej->n : count_all(c);
    const char **names = calloc((size_t)(cap ? cap : 1), sizeof(*names));
    int32_t *parts = calloc((size_t)(cap ? cap : 1), sizeof(*parts));
    struct ctopic **tops = calloc((size_t)(cap ? cap : 1), sizeof(*tops));
    int16_t *errs = calloc((size_t)(cap ? cap : 1), sizeof(*errs));
    struct ctrl_changes changes = {0};
    struct elect_ctx ec;
    bool ok = elect_ctx_init(c, ej->type, &ec) && names && parts && tops && errs;
    int n = ok ? elect_targets(c, ej, names, parts, tops) : 0;
    bool fenced = n > 0 && !elect_known(c, &ec, n, parts, tops, errs, &changes);
    ej->done(ej->arg, n, names, parts, errs);
    ctrl_push_or_resign(c, &changes, fenced);
    elect_ctx_destroy(&ec);
    free(names);
    free(parts);
    free(tops);
    free(errs);
}

/* Answers the job's named partitions with err, without electing. */
static void elect_job_refuse(struct elect_job *ej, kerr_t err)
{
    int16_t *errs = calloc((size_t)(ej->n ? ej->n : 1), sizeof(*errs));
    for (int i = 0; errs && i < ej->n; i++)
        errs[i] = (int16_t)err;
    ej->done(ej->arg, errs ? ej->n : 0, (const char *const *)ej->topics, ej->partitions, errs);
    free(errs);
}

static void elect_job_run(void *arg)
{
    struct elect_job *ej = arg;
    struct controller *c = ej->c;
    KASSERT(CTRL_ON_LOOP(c));
    if (!c->active || c->stopping)
        elect_job_refuse(ej, KERR_NOT_CONTROLLER);
    else if (ej->type != CONTROLLER_ELECT_PREFERRED && ej->type != CONTROLLER_ELECT_UNCLEAN)
        elect_job_refuse(ej, KERR_INVALID_REQUEST);
    else
        elect_run(c, ej);
    elect_job_free(ej);
}

void controller_elect_leaders(struct controller *c, int8_t type, int n, const char *const *topics,
                              const int32_t *partitions, controller_elect_fn done, void *arg)
{
    struct elect_job *ej = calloc(1, sizeof(*ej));
    if (ej) {
        *ej =
            (struct elect_job){.c = c, .type = type, .n = n > 0 ? n : 0, .done = done, .arg = arg};
        ej->topics = calloc((size_t)(ej->n ? ej->n : 1), sizeof(char *));
        ej->partitions = calloc((size_t)(ej->n ? ej->n : 1), sizeof(int32_t));
        bool ok = ej->topics && ej->partitions;
        for (int i = 0; ok && i < ej->n; i++) {
            ej->topics[i] = strdup(topics[i] ? topics[i] : "");
            ej->partitions[i] = partitions[i];
            ok = ej->topics[i] != NULL;
        }
        if (ok && c->env.post(c->env.post_ctx, elect_job_run, ej))
            return;
        elect_job_free(ej);
    }
    /* cannot reach the loop: nothing was decided */
    done(arg, 0, NULL, NULL, NULL);
}

/* ---- auto rebalance -------------------------------------------------------- */

/* Moves the partitions preferring broker b back to it when b's imbalance is
 * above the threshold. false when fenced. */
static bool rebalance_broker(struct controller *c, int32_t b, struct elect_ctx *ec,
                             struct ctrl_changes *changes)
{
    int total = 0, off = 0;
    for (int i = 0; i < c->n_topics; i++) {
        const struct ctopic *t = c->topics[i];
        for (int p = 0; t->rf > 0 && p < t->n_parts; p++) {
            if (t->replicas[p * t->rf] != b)
                continue;
            total++;
            off += t->st[p].leader != b;
        }
    }
    if (off == 0 || (int64_t)off * 100 <= (int64_t)c->env.leader_imbalance_pct * total)
        return true;
    say_info("ctrl", "leader imbalance broker=%d not_preferred=%d preferred=%d", b, off, total);
    struct ctrl_tp *todo = calloc((size_t)off, sizeof(*todo));
    int16_t *codes = calloc((size_t)off, sizeof(*codes));
    int m = 0;
    for (int i = 0; todo && codes && i < c->n_topics; i++) {
        struct ctopic *t = c->topics[i];
        for (int p = 0; t->rf > 0 && p < t->n_parts; p++)
            if (t->replicas[p * t->rf] == b && t->st[p].leader != b && m < off)
                todo[m++] = (struct ctrl_tp){t, p};
    }
    bool fenced = m > 0 && elect_many(c, todo, m, ec, changes, codes) == KERR_NOT_CONTROLLER;
    free(todo);
    free(codes);
    return !fenced;
}

static void rebalance_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct controller *c = arg;
    KASSERT(CTRL_ON_LOOP(c));
    if (!c->active || c->stopping)
        return;
    struct ctrl_changes changes = {0};
    struct elect_ctx ec;
    bool fenced = false;
    bool ok = elect_ctx_init(c, CONTROLLER_ELECT_PREFERRED, &ec);
    for (int i = 0; ok && i < ec.n_eligible && !fenced; i++)
        fenced = !rebalance_broker(c, ec.eligible[i], &ec, &changes);
    ctrl_push_or_resign(c, &changes, fenced);
    elect_ctx_destroy(&ec);
}

void ctrl_rebalance_start(struct controller *c)
{
    KASSERT(CTRL_ON_LOOP(c));
    if (c->rebalance_timer || !c->env.auto_leader_rebalance ||
        c->env.leader_imbalance_check_ms <= 0)
        return;
    c->rebalance_timer = event_new(c->env.base, -1, EV_PERSIST, rebalance_cb, c);
    if (!c->rebalance_timer)
        return;
    struct timeval tv = {.tv_sec = (time_t)(c->env.leader_imbalance_check_ms / 1000),
                         .tv_usec = (suseconds_t)(c->env.leader_imbalance_check_ms % 1000) * 1000};
    event_add(c->rebalance_timer, &tv);
}

void ctrl_rebalance_stop(struct controller *c)
{
    if (!c->rebalance_timer)
        return;
    event_free(c->rebalance_timer);
    c->rebalance_timer = NULL;
}
