/*
 * broker/core/acl_store.c — keeps the authorizer's ACLs (b->authz) equal to
 * what ZooKeeper holds, and writes the changes of CreateAcls / DeleteAcls.
 *
 * Loading reads every ACL znode (controller/zk/zk_store.h "ACLs": Kafka's
 * /kafka-acl and /kafka-acl-extended layouts), decodes each with
 * broker/security/acl_json.c, builds a new immutable set and swaps it into
 * the authorizer; network threads keep checking against the old set until
 * the swap. It runs at start-up (the broker refuses to start when the ACLs
 * cannot be read: it would otherwise authorize against nothing) and on the
 * admin worker whenever a child appears in /kafka-acl-changes or
 * /kafka-acl-extended-changes (any broker's write), after a session renewal,
 * and right after this broker's own writes. A reload reads everything, so a
 * missed or trimmed notification loses nothing. A watch that fires when the
 * change lists are as the last load found them (their child versions, read
 * before that load) reloads nothing: it announced what was loaded already, such as
 * this broker's own writes.
 *
 * Writes are read-modify-write of each resource pattern's znode,
 * conditional on the version read: a request's bindings (or the patterns
 * its filters select) are grouped per pattern, every pattern's znode is
 * read at once, and every changed one written at once with its change
 * notification (zk_store_acl_get_many(), zk_store_acl_set_many(): pipelined,
 * a few ZooKeeper round trips per request); the patterns another writer
 * changed in between are read and written again. A znode is deleted with
 * its last ACL. ZooKeeper calls block: everything here but the start-up
 * load runs on the admin worker (asserted).
 */
#include "broker/core/acl_store.h"
#include "broker/core/broker.h"
#include "common/loop/worker.h"
#include "controller/zk/zk_store.h"
#include "common/base.h"
#include "common/say.h"

#include <stdlib.h>
#include <string.h>

#define ACL_WRITE_RETRIES 20

void acl_store_bindings_free(struct acl_binding *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        acl_binding_free(&v[i]);
    free(v);
}

/* Reads every ACL into a new set. NULL when ZooKeeper cannot be read. */
static struct acl_set *load_set(struct broker *b)
{
    struct zk_acl_node *nodes;
    int nn;
    kerr_t err = zk_store_acl_list(b->zk, &nodes, &nn);
    if (err != KERR_NONE) {
        say_warn("acl", "cannot read the ACLs from ZooKeeper err=%s", kerr_name(err));
        return NULL;
    }
    struct acl_binding *all = NULL;
    size_t n = 0, cap = 0;
    bool oom = false;
    for (int i = 0; i < nn && !oom; i++) {
        int rtype = acl_rtype_parse(nodes[i].type);
        if (rtype < ACL_RT_TOPIC || rtype > ACL_RT_TRANSACTIONAL_ID) {
            say_warn_every(60000, "acl", "ignoring ACLs of unknown resource type %s",
                           nodes[i].type);
            continue;
        }
        struct acl_binding *v;
        size_t nv;
        err = acl_json_decode(nodes[i].json, nodes[i].len, rtype,
                              nodes[i].prefixed ? ACL_PT_PREFIXED : ACL_PT_LITERAL, nodes[i].name,
                              &v, &nv);
        if (err != KERR_NONE) {
            say_warn("acl", "ignoring unreadable ACL znode type=%s name=%s prefixed=%d",
                     nodes[i].type, nodes[i].name, nodes[i].prefixed);
            continue;
        }
        if (n + nv > cap) {
            size_t nc = MAX(2 * cap, n + nv);
            struct acl_binding *g = realloc(all, nc * sizeof(*all));
            if (!g) {
                acl_store_bindings_free(v, nv);
                oom = true;
                break;
            }
            all = g;
            cap = nc;
        }
        memcpy(all + n, v, nv * sizeof(*v));
        n += nv;
        free(v);
    }
    zk_acl_nodes_free(nodes, nn);
    if (oom) {
        acl_store_bindings_free(all, n);
        return NULL;
    }
    return acl_set_build(all, n);
}

/* Reads every ACL into the authorizer, remembering the change lists' state
 * read before (a change after it makes a later comparison differ). */
static bool reload(struct broker *b)
{
    int64_t seen;
    if (zk_store_acl_changes_version(b->zk, &seen) != KERR_NONE)
        seen = -1;
    struct acl_set *s = load_set(b);
    if (!s)
        return false;
    size_t n = acl_set_count(s);
    authorizer_swap(b->authz, s);
    b->acl_changes_seen = seen;
    say_debug("acl", "ACLs loaded count=%zu", n);
    return true;
}

bool acl_store_init(struct broker *b)
{
    const struct broker_config *cfg = b->cfg;
    b->acl_changes_seen = -1;
    if (!cfg->authorizer_class_name)
        return true;
    b->authz = authorizer_new(cfg->super_users, cfg->allow_everyone_if_no_acl_found);
    if (!b->authz)
        return false;
    if (!reload(b))
        return false;
    say_info("acl", "authorizer on class=%s super_users=%d allow_if_no_acl=%d",
             cfg->authorizer_class_name, b->authz->n_super, cfg->allow_everyone_if_no_acl_found);
    return true;
}

/* Re-arms the watches and reloads; unless forced, not when the change lists
 * have not changed since the last load (the watch fired for notifications
 * that load already covered, such as this broker's own writes, which it
 * loads right after writing). */
static void reload_watched(struct broker *b, bool force)
{
    KASSERT(worker_is_current(b->admin));
    if (zk_store_watch_children(b->zk, ZK_PATH_ACL_CHANGES) != KERR_NONE ||
        zk_store_watch_children(b->zk, ZK_PATH_ACL_EXTENDED_CHANGES) != KERR_NONE)
        say_warn("acl", "cannot watch the ACL change lists; ACLs are re-read on the next "
                        "session or change");
    int64_t now;
    if (!force && b->acl_changes_seen >= 0 &&
        zk_store_acl_changes_version(b->zk, &now) == KERR_NONE && now == b->acl_changes_seen)
        return;
    if (!reload(b))
        say_warn("acl", "keeping the previous ACLs until the next change");
}

static void reload_job(void *arg) { reload_watched(arg, false); }

/* ZooKeeper's thread: post only. */
static void watch_cb(void *arg, enum zk_watch_event ev, const char *path)
{
    struct broker *b = arg;
    if (ev == ZK_WATCH_CHILDREN &&
        (strcmp(path, ZK_PATH_ACL_CHANGES) == 0 || strcmp(path, ZK_PATH_ACL_EXTENDED_CHANGES) == 0))
        (void)worker_post(b->admin, reload_job, b);
}

bool acl_store_start(struct broker *b)
{
    if (!b->authz)
        return true;
    if (!zk_store_watch_subscribe(b->zk, watch_cb, b))
        return false;
    return worker_post(b->admin, reload_job, b);
}

void acl_store_resync(struct broker *b)
{
    if (b->authz)
        reload_watched(b, true);
}

void acl_store_stop(struct broker *b)
{
    if (b->authz && b->zk)
        zk_store_watch_unsubscribe(b->zk, watch_cb, b);
}

void acl_store_free(struct broker *b)
{
    authorizer_free(b->authz);
    b->authz = NULL;
}

static bool same_entry(const struct acl_binding *a, const struct acl_binding *c)
{
    return a->op == c->op && a->perm == c->perm && strcmp(a->principal, c->principal) == 0 &&
           strcmp(a->host, c->host) == 0;
}

/* One resource pattern a CreateAcls or DeleteAcls request changes. */
struct pat {
    int8_t rtype, pattern;
    const char *name;         /* borrowed (from a binding of the request or the set) */
    size_t first, count;      /* create: its bindings, by[first .. first + count) */
    kerr_t err;               /* its outcome */
    bool pending;             /* still to be read and written */
    struct acl_binding *gone; /* delete: what the last plan removes (owned) */
    size_t n_gone;
};

/* Decides a pattern's new entries from its current ones (cur, n; borrowed):
 * *write false when nothing changes, else *json the new payload (new; NULL:
 * delete the znode). */
typedef kerr_t (*plan_fn)(void *ctx, struct pat *p, const struct acl_binding *cur, size_t n,
                          bool *write, char **json);

/* Reads the pending patterns' znodes (all at once), plans each, writes the
 * changed ones (all at once, each conditional on the version read) and
 * repeats for those another writer changed in between, at most
 * ACL_WRITE_RETRIES times. Sets every pattern's err. Admin worker. */
static void update_patterns(struct broker *b, struct pat *pats, size_t np, plan_fn plan, void *ctx)
{
    struct zk_acl_rec *recs = calloc(np ? np : 1, sizeof(*recs));
    size_t *at = calloc(np ? np : 1, sizeof(*at)); /* recs[j] is pats[at[j]] */
    for (size_t i = 0; i < np; i++) {
        pats[i].pending = recs && at;
        pats[i].err = recs && at ? KERR_NONE : KERR__NOMEM;
    }
    for (int attempt = 0; recs && at && attempt < ACL_WRITE_RETRIES; attempt++) {
        size_t k = 0;
        for (size_t i = 0; i < np; i++) {
            if (!pats[i].pending)
                continue;
            recs[k] = (struct zk_acl_rec){.prefixed = pats[i].pattern == ACL_PT_PREFIXED,
                                          .type = acl_rtype_zk_name(pats[i].rtype),
                                          .name = pats[i].name};
            at[k++] = i;
        }
        if (k == 0)
            break;
        (void)zk_store_acl_get_many(b->zk, recs, (int)k); /* errors are per record */
        size_t w = 0;
        for (size_t j = 0; j < k; j++) {
            struct pat *p = &pats[at[j]];
            struct zk_acl_rec r = recs[j];
            struct acl_binding *cur = NULL;
            size_t n = 0;
            bool write = false;
            char *json = NULL;
            kerr_t err = r.err;
            if (err == KERR_NONE && r.json)
                err = acl_json_decode(r.json, r.len, p->rtype, p->pattern, p->name, &cur, &n);
            free(r.json);
            if (err == KERR_NONE)
                err = plan(ctx, p, cur, n, &write, &json);
            acl_store_bindings_free(cur, n);
            if (err != KERR_NONE || !write) {
                p->err = err;
                p->pending = false;
                continue;
            }
            r.json = json;
            r.len = json ? strlen(json) : 0;
            recs[w] = r; /* w <= j: recs[j] is read already */
            at[w++] = at[j];
        }
        (void)zk_store_acl_set_many(b->zk, recs, (int)w);
        for (size_t j = 0; j < w; j++) {
            struct pat *p = &pats[at[j]];
            free(recs[j].json);
            if (recs[j].err != KERR__EXISTS) { /* written, or failed for good */
                p->err = recs[j].err;
                p->pending = false;
            }
        }
    }
    for (size_t i = 0; i < np; i++) {
        if (pats[i].pending)
            pats[i].err = KERR__EXISTS; /* changed under us every time */
        pats[i].pending = false;
    }
    free(recs);
    free(at);
}

/* Orders the bindings of a request by resource pattern, the pattern type
 * first so that patterns sharing a parent znode are written together. */
static int by_pattern_cmp(const void *x, const void *y)
{
    const struct acl_binding *a = *(const struct acl_binding *const *)x;
    const struct acl_binding *c = *(const struct acl_binding *const *)y;
    if (a->pattern != c->pattern)
        return a->pattern - c->pattern;
    if (a->rtype != c->rtype)
        return a->rtype - c->rtype;
    return strcmp(a->name, c->name);
}

/* CreateAcls: the current entries plus the pattern's bindings not there yet. */
static kerr_t plan_create(void *ctx, struct pat *p, const struct acl_binding *cur, size_t n,
                          bool *write, char **json)
{
    const struct acl_binding *const *by = ctx;
    /* shallow: the strings stay with cur and the request */
    struct acl_binding *all = malloc((n + p->count) * sizeof(*all));
    if (!all)
        return KERR__NOMEM;
    if (n)
        memcpy(all, cur, n * sizeof(*all));
    size_t total = n;
    for (size_t i = p->first; i < p->first + p->count; i++) {
        bool present = false;
        for (size_t j = 0; j < total && !present; j++)
            present = same_entry(&all[j], by[i]);
        if (!present)
            all[total++] = *by[i];
    }
    *write = total > n;
    *json = *write ? acl_json_encode(all, total) : NULL;
    free(all);
    return *write && !*json ? KERR__NOMEM : KERR_NONE;
}

void acl_store_create(struct broker *b, const struct acl_binding *v, size_t n, kerr_t *errs)
{
    KASSERT(worker_is_current(b->admin));
    const struct acl_binding **by = malloc((n ? n : 1) * sizeof(*by));
    struct pat *pats = calloc(n ? n : 1, sizeof(*pats));
    size_t np = 0;
    for (size_t i = 0; by && i < n; i++)
        by[i] = &v[i];
    if (by && pats) {
        qsort(by, n, sizeof(*by), by_pattern_cmp);
        for (size_t i = 0; i < n; i++) {
            if (i == 0 || by_pattern_cmp(&by[i - 1], &by[i]) != 0)
                pats[np++] = (struct pat){.rtype = by[i]->rtype,
                                          .pattern = by[i]->pattern,
                                          .name = by[i]->name,
                                          .first = i};
            pats[np - 1].count++;
        }
        update_patterns(b, pats, np, plan_create, by);
    }
    for (size_t i = 0; i < n; i++)
        errs[i] = by && pats ? KERR_NONE : KERR_UNKNOWN_SERVER_ERROR;
    for (size_t k = 0; k < np; k++) {
        const struct pat *p = &pats[k];
        if (p->err == KERR_NONE)
            continue;
        say_warn("acl", "cannot create ACLs type=%s name=%s pattern=%s count=%zu err=%s",
                 acl_rtype_name(p->rtype), p->name, acl_pattern_name(p->pattern), p->count,
                 kerr_name(p->err));
        for (size_t i = p->first; i < p->first + p->count; i++)
            errs[by[i] - v] = KERR_UNKNOWN_SERVER_ERROR;
    }
    free(by);
    free(pats);
    if (b->authz)
        (void)reload(b);
}

/* Appends a copy of a to out[f]. */
static bool push_copy(struct acl_binding **out, size_t *n_out, size_t *cap,
                      const struct acl_binding *a)
{
    if (*n_out == *cap) {
        size_t nc = *cap ? 2 * *cap : 4;
        struct acl_binding *g = realloc(*out, nc * sizeof(**out));
        if (!g)
            return false;
        *out = g;
        *cap = nc;
    }
    if (!acl_binding_copy(&(*out)[*n_out], a))
        return false;
    (*n_out)++;
    return true;
}

/* The filters of a DeleteAcls request. */
struct del_ctx {
    const struct acl_filter *f;
    size_t nf;
};

static bool any_filter_matches(const struct del_ctx *d, const struct acl_binding *a)
{
    for (size_t k = 0; k < d->nf; k++)
        if (acl_filter_matches(&d->f[k], a))
            return true;
    return false;
}

/* DeleteAcls: the current entries no filter selects; the others go to
 * p->gone (what this resource holds now is what gets removed and
 * reported). */
static kerr_t plan_delete(void *ctx, struct pat *p, const struct acl_binding *cur, size_t n,
                          bool *write, char **json)
{
    const struct del_ctx *d = ctx;
    acl_store_bindings_free(p->gone, p->n_gone); /* an earlier attempt's */
    p->gone = NULL;
    p->n_gone = 0;
    struct acl_binding *keep = malloc((n ? n : 1) * sizeof(*keep)); /* shallow */
    if (!keep)
        return KERR__NOMEM;
    size_t nk = 0, cap = 0;
    kerr_t err = KERR_NONE;
    for (size_t i = 0; i < n && err == KERR_NONE; i++) {
        if (!any_filter_matches(d, &cur[i]))
            keep[nk++] = cur[i];
        else if (!push_copy(&p->gone, &p->n_gone, &cap, &cur[i]))
            err = KERR__NOMEM;
    }
    *write = err == KERR_NONE && p->n_gone > 0;
    *json = *write && nk > 0 ? acl_json_encode(keep, nk) : NULL;
    free(keep);
    if (*write && nk > 0 && !*json)
        err = KERR__NOMEM;
    return err;
}

/* The resource patterns of set that hold an entry some filter selects:
 * *pats new (names borrowed from set), *np their count. */
static bool patterns_matching(const struct acl_set *set, const struct del_ctx *d, struct pat **pats,
                              size_t *np)
{
    size_t total = acl_set_count(set), cap = 0;
    *pats = NULL;
    *np = 0;
    /* the set is sorted by resource: visit each resource with a match once */
    for (size_t i = 0; i < total; i++) {
        const struct acl_binding *a = acl_set_at(set, i);
        if (i > 0) {
            const struct acl_binding *p = acl_set_at(set, i - 1);
            if (p->rtype == a->rtype && p->pattern == a->pattern && !strcmp(p->name, a->name))
                continue;
        }
        bool any = false;
        for (size_t j = i; j < total && !any; j++) {
            const struct acl_binding *c = acl_set_at(set, j);
            if (c->rtype != a->rtype || c->pattern != a->pattern || strcmp(c->name, a->name))
                break;
            any = any_filter_matches(d, c);
        }
        if (!any)
            continue;
        if (*np == cap) {
            cap = cap ? 2 * cap : 8;
            struct pat *g = realloc(*pats, cap * sizeof(**pats));
            if (!g)
                return false;
            *pats = g;
        }
        (*pats)[(*np)++] = (struct pat){.rtype = a->rtype, .pattern = a->pattern, .name = a->name};
    }
    return true;
}

void acl_store_delete(struct broker *b, const struct acl_filter *f, size_t n,
                      struct acl_binding **out, size_t *n_out, kerr_t *errs)
{
    KASSERT(worker_is_current(b->admin));
    size_t *caps = calloc(n ? n : 1, sizeof(*caps));
    for (size_t k = 0; k < n; k++) {
        out[k] = NULL;
        n_out[k] = 0;
        errs[k] = KERR_NONE;
    }
    struct del_ctx d = {f, n};
    struct pat *pats = NULL;
    size_t np = 0;
    struct acl_set *before = caps ? load_set(b) : NULL;
    if (!before || !patterns_matching(before, &d, &pats, &np)) {
        for (size_t k = 0; k < n; k++)
            errs[k] = KERR_UNKNOWN_SERVER_ERROR;
        np = 0;
    }
    update_patterns(b, pats, np, plan_delete, &d);
    for (size_t i = 0; i < np; i++) {
        struct pat *p = &pats[i];
        if (p->err != KERR_NONE) {
            say_warn("acl", "cannot delete ACLs type=%s name=%s pattern=%s err=%s",
                     acl_rtype_name(p->rtype), p->name, acl_pattern_name(p->pattern),
                     kerr_name(p->err));
            for (size_t k = 0; k < n; k++)
                errs[k] = KERR_UNKNOWN_SERVER_ERROR;
        }
        for (size_t j = 0; p->err == KERR_NONE && j < p->n_gone; j++)
            for (size_t k = 0; k < n; k++)
                if (acl_filter_matches(&f[k], &p->gone[j]) &&
                    !push_copy(&out[k], &n_out[k], &caps[k], &p->gone[j]))
                    errs[k] = KERR_UNKNOWN_SERVER_ERROR;
        acl_store_bindings_free(p->gone, p->n_gone);
    }
    free(pats);
    acl_set_free(before);
    free(caps);
    if (b->authz)
        (void)reload(b);
}
