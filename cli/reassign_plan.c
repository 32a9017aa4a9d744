/*
 * cli/reassign_plan.c — the replica-reassignment planner (rules in
 * reassign_plan.h): validation, replacement of removed brokers' replicas,
 * replica balancing per topic and overall, preferred-leader spreading, and
 * the per-broker summary. Pure computation on the caller's arrays.
 *
 * Every balancing step moves one replica (or swaps two positions of one
 * list) from a broker holding more than one above another; each step lowers
 * the sum of squares of the counts it balances and never raises the ones
 * balanced before it, so every loop ends.
 */
#include "cli/reassign_plan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The planner's working state; broker indexes are into in->brokers. */
struct rp {
    const struct rp_input *in;
    int nb, nt;        /* live brokers, topics */
    int *tix;          /* per part: topic index */
    int *order;        /* part indexes sorted by (topic, partition) */
    bool *eligible;    /* per broker: live and not removed */
    bool *mutable_;    /* per part: may be reordered by the leader pass */
    int *cnt, *lcnt;   /* per broker: replicas, leaders */
    int *tcnt, *ltcnt; /* per topic * nb + broker */
    bool rack_aware;
};

static int rp_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int rp_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int rp_bidx(const struct rp *r, int32_t id)
{
    for (int b = 0; b < r->nb; b++) {
        if (r->in->brokers[b].id == id)
            return b;
    }
    return -1;
}

static bool rp_in_list(const int32_t *ids, int n, int32_t id)
{
    for (int i = 0; i < n; i++) {
        if (ids[i] == id)
            return true;
    }
    return false;
}

static const char *rp_rack(const struct rp *r, int32_t id)
{
    int b = rp_bidx(r, id);
    if (b < 0 || r->in->brokers[b].rack == NULL || r->in->brokers[b].rack[0] == '\0')
        return NULL;
    return r->in->brokers[b].rack;
}

/* Distinct racks of p->next with position `pos` holding `id` instead
 * (pos -1: as is). A replica without a known rack counts as a rack of its
 * own. */
static int rp_racks(const struct rp *r, const struct rp_partition *p, int pos, int32_t id)
{
    const char *seen[RP_MAX_RF];
    int n = 0, distinct = 0;
    for (int k = 0; k < p->nreplicas; k++) {
        const char *rack = rp_rack(r, k == pos ? id : p->next[k]);
        if (rack == NULL) {
            distinct++;
            continue;
        }
        bool dup = false;
        for (int i = 0; i < n && !dup; i++)
            dup = strcmp(seen[i], rack) == 0;
        if (!dup) {
            seen[n++] = rack;
            distinct++;
        }
    }
    return distinct;
}

/* True when moving p's replica at pos to broker `to` keeps the rules:
 * `to` not already a replica, rack spread not lowered. */
static bool rp_move_ok(const struct rp *r, const struct rp_partition *p, int pos, int32_t to)
{
    if (rp_in_list(p->next, p->nreplicas, to))
        return false;
    if (!r->rack_aware)
        return true;
    return rp_racks(r, p, pos, to) >= rp_racks(r, p, -1, 0);
}

/* Counts of replicas and leaders on eligible brokers, from every next. */
static void rp_count(struct rp *r)
{
    memset(r->cnt, 0, sizeof(int) * (size_t)r->nb);
    memset(r->lcnt, 0, sizeof(int) * (size_t)r->nb);
    memset(r->tcnt, 0, sizeof(int) * (size_t)r->nb * (size_t)r->nt);
    memset(r->ltcnt, 0, sizeof(int) * (size_t)r->nb * (size_t)r->nt);
    for (int i = 0; i < r->in->nparts; i++) {
        const struct rp_partition *p = &r->in->parts[i];
        for (int k = 0; k < p->nreplicas; k++) {
            int b = rp_bidx(r, p->next[k]);
            if (b < 0 || !r->eligible[b])
                continue;
            r->cnt[b]++;
            r->tcnt[r->tix[i] * r->nb + b]++;
            if (k == 0) {
                r->lcnt[b]++;
                r->ltcnt[r->tix[i] * r->nb + b]++;
            }
        }
    }
}

/* Moves part i's replica at pos to broker index `to`, keeping the counts. */
static void rp_move(struct rp *r, int i, int pos, int to)
{
    struct rp_partition *p = &r->in->parts[i];
    int from = rp_bidx(r, p->next[pos]);
    int t = r->tix[i];
    if (from >= 0 && r->eligible[from]) {
        r->cnt[from]--;
        r->tcnt[t * r->nb + from]--;
        if (pos == 0) {
            r->lcnt[from]--;
            r->ltcnt[t * r->nb + from]--;
        }
    }
    p->next[pos] = r->in->brokers[to].id;
    r->cnt[to]++;
    r->tcnt[t * r->nb + to]++;
    if (pos == 0) {
        r->lcnt[to]++;
        r->ltcnt[t * r->nb + to]++;
    }
}

/* ---- --remove-broker: replace the removed brokers' replicas ------------- */

static int rp_replace_removed(struct rp *r, char *err, size_t errlen)
{
    const struct rp_input *in = r->in;
    for (int o = 0; o < in->nparts; o++) {
        int i = r->order[o];
        struct rp_partition *p = &in->parts[i];
        for (int k = 0; k < p->nreplicas; k++) {
            if (!rp_in_list(in->remove, in->nremove, p->next[k]))
                continue;
            int best = -1, best_key[4] = {0, 0, 0, 0};
            for (int b = 0; b < r->nb; b++) {
                if (!r->eligible[b] || rp_in_list(p->next, p->nreplicas, in->brokers[b].id))
                    continue;
                /* fewest shared racks, fewest of the topic, fewest overall, lowest id */
                int key[4] = {r->rack_aware ? -rp_racks(r, p, k, in->brokers[b].id) : 0,
                              r->tcnt[r->tix[i] * r->nb + b], r->cnt[b], in->brokers[b].id};
                int j = 0;
                while (j < 3 && key[j] == best_key[j])
                    j++;
                if (best < 0 || key[j] < best_key[j]) {
                    best = b;
                    memcpy(best_key, key, sizeof(key));
                }
            }
            if (best < 0)
                return rp_err(err, errlen,
                              "no live broker can take the replica of %s-%d on broker %d", p->topic,
                              p->partition, p->next[k]);
            rp_move(r, i, k, best);
            r->mutable_[i] = true;
        }
    }
    return 0;
}

/* ---- --add-broker: replica balance ---------------------------------------- */

/* Finds a replica of topic t (t < 0: any topic, with the per-topic count of
 * `hi` above `lo`'s) on broker index hi that may move to lo; moves it.
 * Non-leader replicas first, so leadership stays put where it can. */
static bool rp_try_move(struct rp *r, int t, int hi, int lo)
{
    int32_t hid = r->in->brokers[hi].id, lid = r->in->brokers[lo].id;
    for (int pass = 0; pass < 2; pass++) {
        for (int o = 0; o < r->in->nparts; o++) {
            int i = r->order[o];
            int pt = r->tix[i];
            if (t >= 0 && pt != t)
                continue;
            if (t < 0 && r->tcnt[pt * r->nb + hi] <= r->tcnt[pt * r->nb + lo])
                continue;
            struct rp_partition *p = &r->in->parts[i];
            for (int k = pass == 0 ? 1 : 0; k < (pass == 0 ? p->nreplicas : 1); k++) {
                if (p->next[k] == hid && rp_move_ok(r, p, k, lid)) {
                    rp_move(r, i, k, lo);
                    return true;
                }
            }
        }
    }
    return false;
}

/* Balances counts c (per broker, c[b]) by moving replicas of topic t (or
 * any, t < 0) from a broker more than one above another; pairs with the
 * widest gap first. */
static void rp_balance(struct rp *r, int t)
{
    for (;;) {
        const int *c = t >= 0 ? &r->tcnt[t * r->nb] : r->cnt;
        bool moved = false;
        for (int gap = 0; !moved; gap++) {
            /* gap counts down from the widest difference */
            int widest = -1;
            for (int hi = 0; hi < r->nb; hi++) {
                for (int lo = 0; lo < r->nb; lo++) {
                    if (r->eligible[hi] && r->eligible[lo] && c[hi] - c[lo] > widest)
                        widest = c[hi] - c[lo];
                }
            }
            int want = widest - gap;
            if (want <= 1)
                break;
            for (int hi = 0; hi < r->nb && !moved; hi++) {
                for (int lo = 0; lo < r->nb && !moved; lo++) {
                    if (!r->eligible[hi] || !r->eligible[lo] || c[hi] - c[lo] != want)
                        continue;
                    moved = rp_try_move(r, t, hi, lo);
                }
            }
        }
        if (!moved)
            return;
    }
}

/* ---- preferred leaders ----------------------------------------------------- */

/* One swap of a mutable partition's first replica with a later one whose
 * broker leads more than one fewer (of topic t; t < 0: overall, keeping
 * the per-topic order). */
static bool rp_try_swap(struct rp *r, int t)
{
    for (int o = 0; o < r->in->nparts; o++) {
        int i = r->order[o];
        int pt = r->tix[i];
        if (!r->mutable_[i] || (t >= 0 && pt != t))
            continue;
        struct rp_partition *p = &r->in->parts[i];
        const int *lt = &r->ltcnt[pt * r->nb];
        int l = rp_bidx(r, p->next[0]);
        if (l < 0 || !r->eligible[l])
            continue;
        int best = -1, bestb = -1;
        for (int k = 1; k < p->nreplicas; k++) {
            int b = rp_bidx(r, p->next[k]);
            if (b < 0 || !r->eligible[b])
                continue;
            bool ok = t >= 0 ? lt[l] - lt[b] > 1 : (r->lcnt[l] - r->lcnt[b] > 1 && lt[l] > lt[b]);
            if (ok && (best < 0 || lt[b] < lt[bestb] ||
                       (lt[b] == lt[bestb] && r->lcnt[b] < r->lcnt[bestb]))) {
                best = k;
                bestb = b;
            }
        }
        if (best < 0)
            continue;
        int32_t tmp = p->next[0];
        p->next[0] = p->next[best];
        p->next[best] = tmp;
        r->lcnt[l]--;
        r->ltcnt[pt * r->nb + l]--;
        r->lcnt[bestb]++;
        r->ltcnt[pt * r->nb + bestb]++;
        return true;
    }
    return false;
}

static void rp_spread_leaders(struct rp *r)
{
    for (int t = 0; t < r->nt; t++) {
        while (rp_try_swap(r, t))
            ;
    }
    while (rp_try_swap(r, -1))
        ;
}

/* ---- set-up, validation, summary ----------------------------------------- */

static const struct rp_input *rp_sort_in; /* qsort has no context argument */

static int rp_cmp_part(const void *a, const void *b)
{
    const struct rp_partition *x = &rp_sort_in->parts[*(const int *)a];
    const struct rp_partition *y = &rp_sort_in->parts[*(const int *)b];
    int c = strcmp(x->topic, y->topic);
    if (c != 0)
        return c;
    return (x->partition > y->partition) - (x->partition < y->partition);
}

static int rp_validate(const struct rp *r, int *eligible_n, char *err, size_t errlen)
{
    const struct rp_input *in = r->in;
    if (in->nadd > 0 && in->nremove > 0)
        return rp_err(err, errlen, "--add-broker and --remove-broker cannot be combined");
    if (in->nadd == 0 && in->nremove == 0)
        return rp_err(err, errlen,
                      "give brokers to add (--add-broker) or remove (--remove-broker)");
    const int32_t *named = in->nadd > 0 ? in->add : in->remove;
    int nnamed = in->nadd > 0 ? in->nadd : in->nremove;
    for (int i = 0; i < nnamed; i++) {
        if (rp_bidx(r, named[i]) < 0)
            return rp_err(err, errlen, "broker %d is not a live broker of the cluster", named[i]);
    }
    *eligible_n = 0;
    for (int b = 0; b < r->nb; b++)
        *eligible_n += r->eligible[b];
    for (int i = 0; i < in->nparts; i++) {
        const struct rp_partition *p = &in->parts[i];
        if (p->nreplicas < 1 || p->nreplicas > RP_MAX_RF)
            return rp_err(err, errlen, "%s-%d has %d replicas (1..%d can be planned)", p->topic,
                          p->partition, p->nreplicas, RP_MAX_RF);
        for (int k = 0; k < p->nreplicas; k++) {
            if (rp_in_list(p->replicas, k, p->replicas[k]))
                return rp_err(err, errlen, "%s-%d lists broker %d twice", p->topic, p->partition,
                              p->replicas[k]);
        }
        if (in->nremove > 0 && p->nreplicas > *eligible_n)
            return rp_err(err, errlen,
                          "removing %d broker(s) leaves %d live broker(s), fewer than the "
                          "replication factor %d of %s-%d",
                          in->nremove, *eligible_n, p->nreplicas, p->topic, p->partition);
    }
    return 0;
}

/* Adds id's before/after counts to the stats array (found or appended). */
static struct rp_broker_stat *rp_stat(struct rp_result *res, int32_t id)
{
    for (int i = 0; i < res->nstats; i++) {
        if (res->stats[i].id == id)
            return &res->stats[i];
    }
    struct rp_broker_stat *s = &res->stats[res->nstats++];
    memset(s, 0, sizeof(*s));
    s->id = id;
    return s;
}

static int rp_cmp_stat(const void *a, const void *b)
{
    int32_t x = ((const struct rp_broker_stat *)a)->id, y = ((const struct rp_broker_stat *)b)->id;
    return (x > y) - (x < y);
}

static int rp_summarize(const struct rp *r, struct rp_result *res)
{
    const struct rp_input *in = r->in;
    size_t cap = (size_t)r->nb + 1;
    for (int i = 0; i < in->nparts; i++)
        cap += (size_t)in->parts[i].nreplicas;
    res->stats = calloc(cap, sizeof(*res->stats));
    if (res->stats == NULL)
        return -1;
    for (int b = 0; b < r->nb; b++)
        rp_stat(res, in->brokers[b].id)->live = true;
    res->move_bytes = 0;
    for (int i = 0; i < in->nparts; i++) {
        const struct rp_partition *p = &in->parts[i];
        res->changed += rp_changed(p);
        for (int k = 0; k < p->nreplicas; k++) {
            struct rp_broker_stat *s = rp_stat(res, p->replicas[k]);
            s->replicas_before++;
            s->leaders_before += k == 0;
            s = rp_stat(res, p->next[k]);
            s->replicas_after++;
            s->leaders_after += k == 0;
            if (!rp_in_list(p->replicas, p->nreplicas, p->next[k])) {
                res->moved++;
                if (p->size_bytes < 0 || res->move_bytes < 0)
                    res->move_bytes = -1;
                else
                    res->move_bytes += p->size_bytes;
            }
        }
    }
    qsort(res->stats, (size_t)res->nstats, sizeof(*res->stats), rp_cmp_stat);
    return 0;
}

bool rp_changed(const struct rp_partition *p)
{
    return memcmp(p->replicas, p->next, sizeof(int32_t) * (size_t)p->nreplicas) != 0;
}

static void rp_free(struct rp *r)
{
    free(r->tix);
    free(r->order);
    free(r->eligible);
    free(r->mutable_);
    free(r->cnt);
    free(r->lcnt);
    free(r->tcnt);
    free(r->ltcnt);
}

/* Allocates the state and assigns topic indexes; -1 on out of memory. */
static int rp_setup(struct rp *r, const struct rp_input *in)
{
    int nb = in->nbrokers, np = in->nparts;
    memset(r, 0, sizeof(*r));
    r->in = in;
    r->nb = nb;
    r->tix = calloc((size_t)np + 1, sizeof(int));
    r->order = calloc((size_t)np + 1, sizeof(int));
    r->eligible = calloc((size_t)nb + 1, sizeof(bool));
    r->mutable_ = calloc((size_t)np + 1, sizeof(bool));
    r->cnt = calloc((size_t)nb + 1, sizeof(int));
    r->lcnt = calloc((size_t)nb + 1, sizeof(int));
    if (!r->tix || !r->order || !r->eligible || !r->mutable_ || !r->cnt || !r->lcnt)
        return -1;
    for (int i = 0; i < np; i++)
        r->order[i] = i;
    rp_sort_in = in;
    qsort(r->order, (size_t)np, sizeof(int), rp_cmp_part);
    for (int o = 0; o < np; o++) {
        int i = r->order[o];
        if (o > 0 && strcmp(in->parts[i].topic, in->parts[r->order[o - 1]].topic) != 0)
            r->nt++;
        r->tix[i] = r->nt;
    }
    r->nt += np > 0;
    r->tcnt = calloc((size_t)r->nt * (size_t)nb + 1, sizeof(int));
    r->ltcnt = calloc((size_t)r->nt * (size_t)nb + 1, sizeof(int));
    if (!r->tcnt || !r->ltcnt)
        return -1;
    r->rack_aware = nb > 0;
    for (int b = 0; b < nb; b++) {
        r->eligible[b] = !rp_in_list(in->remove, in->nremove, in->brokers[b].id);
        if (in->brokers[b].rack == NULL || in->brokers[b].rack[0] == '\0')
            r->rack_aware = false;
    }
    for (int i = 0; i < np; i++) {
        struct rp_partition *p = &in->parts[i];
        if (p->nreplicas >= 1 && p->nreplicas <= RP_MAX_RF)
            memcpy(p->next, p->replicas, sizeof(int32_t) * (size_t)p->nreplicas);
        r->mutable_[i] = in->nadd > 0;
    }
    return 0;
}

int rp_plan(const struct rp_input *in, struct rp_result *res, char *err, size_t errlen)
{
    struct rp r;
    int eligible_n = 0;
    memset(res, 0, sizeof(*res));
    if (rp_setup(&r, in) != 0) {
        rp_free(&r);
        return rp_err(err, errlen, "out of memory");
    }
    int rc = rp_validate(&r, &eligible_n, err, errlen);
    if (rc == 0) {
        res->rack_aware = r.rack_aware;
        rp_count(&r);
        if (in->nremove > 0) {
            rc = rp_replace_removed(&r, err, errlen);
        } else {
            for (int t = 0; t < r.nt; t++)
                rp_balance(&r, t);
            rp_balance(&r, -1);
        }
    }
    if (rc == 0) {
        rp_spread_leaders(&r);
        if (rp_summarize(&r, res) != 0) {
            free(res->stats);
            memset(res, 0, sizeof(*res));
            rc = rp_err(err, errlen, "out of memory");
        }
    }
    rp_free(&r);
    return rc;
}
