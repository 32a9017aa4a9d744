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
 * missed or trimmed notification loses nothing.
 *
 * Writes are read-modify-write of one resource's znode, conditional on the
 * version read, retried on a conflict; the znode is deleted with its last
 * ACL. ZooKeeper calls block: everything here but the start-up load runs on
 * the admin worker (asserted).
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

static bool reload(struct broker *b)
{
    struct acl_set *s = load_set(b);
    if (!s)
        return false;
    size_t n = acl_set_count(s);
    authorizer_swap(b->authz, s);
    say_debug("acl", "ACLs loaded count=%zu", n);
    return true;
}

bool acl_store_init(struct broker *b)
{
    const struct broker_config *cfg = b->cfg;
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

static void reload_job(void *arg)
{
    struct broker *b = arg;
    KASSERT(worker_is_current(b->admin));
    if (zk_store_watch_children(b->zk, ZK_PATH_ACL_CHANGES) != KERR_NONE ||
        zk_store_watch_children(b->zk, ZK_PATH_ACL_EXTENDED_CHANGES) != KERR_NONE)
        say_warn("acl", "cannot watch the ACL change lists; ACLs are re-read on the next "
                        "session or change");
    if (!reload(b))
        say_warn("acl", "keeping the previous ACLs until the next change");
}

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
        reload_job(b);
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

/* Reads one resource's entries: *v, *n and *version. */
static kerr_t read_resource(struct broker *b, int rtype, int pattern, const char *name,
                            struct acl_binding **v, size_t *n, int32_t *version)
{
    char *json;
    size_t len;
    kerr_t err = zk_store_acl_get(b->zk, pattern == ACL_PT_PREFIXED, acl_rtype_zk_name(rtype), name,
                                  &json, &len, version);
    if (err != KERR_NONE)
        return err;
    err = json ? acl_json_decode(json, len, rtype, pattern, name, v, n) : KERR_NONE;
    if (!json) {
        *v = NULL;
        *n = 0;
    }
    free(json);
    return err;
}

/* Writes one resource's entries (none: deletes the znode). */
static kerr_t write_resource(struct broker *b, int rtype, int pattern, const char *name,
                             const struct acl_binding *v, size_t n, int32_t version)
{
    char *json = NULL;
    if (n > 0 && !(json = acl_json_encode(v, n)))
        return KERR__NOMEM;
    kerr_t err = zk_store_acl_set(b->zk, pattern == ACL_PT_PREFIXED, acl_rtype_zk_name(rtype), name,
                                  json, version);
    free(json);
    return err;
}

static kerr_t create_one(struct broker *b, const struct acl_binding *a)
{
    for (int attempt = 0; attempt < ACL_WRITE_RETRIES; attempt++) {
        struct acl_binding *v;
        size_t n;
        int32_t version;
        kerr_t err = read_resource(b, a->rtype, a->pattern, a->name, &v, &n, &version);
        if (err != KERR_NONE)
            return err;
        bool present = false;
        for (size_t i = 0; i < n && !present; i++)
            present = same_entry(&v[i], a);
        struct acl_binding *g = present ? v : realloc(v, (n + 1) * sizeof(*v));
        if (!g) {
            acl_store_bindings_free(v, n);
            return KERR__NOMEM;
        }
        v = g;
        if (!present) {
            if (!acl_binding_copy(&v[n], a)) {
                acl_store_bindings_free(v, n);
                return KERR__NOMEM;
            }
            n++;
        }
        err = present ? KERR_NONE : write_resource(b, a->rtype, a->pattern, a->name, v, n, version);
        acl_store_bindings_free(v, n);
        if (err != KERR__EXISTS)
            return err;
    }
    return KERR__EXISTS;
}

void acl_store_create(struct broker *b, const struct acl_binding *v, size_t n, kerr_t *errs)
{
    KASSERT(worker_is_current(b->admin));
    for (size_t i = 0; i < n; i++) {
        kerr_t err = create_one(b, &v[i]);
        if (err != KERR_NONE)
            say_warn("acl", "cannot create ACL type=%s name=%s principal=%s err=%s",
                     acl_rtype_name(v[i].rtype), v[i].name, v[i].principal, kerr_name(err));
        errs[i] = err == KERR_NONE ? KERR_NONE : KERR_UNKNOWN_SERVER_ERROR;
    }
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

/* Removes from one resource the entries any filter selects, recording them
 * per filter. */
static kerr_t delete_in(struct broker *b, int rtype, int pattern, const char *name,
                        const struct acl_filter *f, size_t nf)
{
    for (int attempt = 0; attempt < ACL_WRITE_RETRIES; attempt++) {
        struct acl_binding *v;
        size_t n;
        int32_t version;
        kerr_t err = read_resource(b, rtype, pattern, name, &v, &n, &version);
        if (err != KERR_NONE)
            return err;
        size_t keep = 0;
        for (size_t i = 0; i < n; i++) {
            bool hit = false;
            for (size_t k = 0; k < nf; k++)
                hit |= acl_filter_matches(&f[k], &v[i]);
            if (hit) {
                acl_binding_free(&v[i]);
            } else {
                v[keep++] = v[i];
            }
        }
        if (keep == n) {
            acl_store_bindings_free(v, keep);
            return KERR_NONE;
        }
        err = write_resource(b, rtype, pattern, name, v, keep, version);
        acl_store_bindings_free(v, keep);
        if (err == KERR__EXISTS)
            continue;
        if (err != KERR_NONE)
            return err;
        return KERR_NONE;
    }
    return KERR__EXISTS;
}

void acl_store_delete(struct broker *b, const struct acl_filter *f, size_t n,
                      struct acl_binding **out, size_t *n_out, kerr_t *errs)
{
    KASSERT(worker_is_current(b->admin));
    size_t *caps = calloc(n ? n : 1, sizeof(*caps));
    for (size_t k = 0; k < n; k++) {
        out[k] = NULL;
        n_out[k] = 0;
        errs[k] = caps ? KERR_NONE : KERR_UNKNOWN_SERVER_ERROR;
    }
    struct acl_set *before = caps ? load_set(b) : NULL;
    if (!before) {
        for (size_t k = 0; k < n; k++)
            errs[k] = KERR_UNKNOWN_SERVER_ERROR;
        free(caps);
        return;
    }
    /* the set is sorted by resource: visit each resource with a match once */
    size_t total = acl_set_count(before);
    for (size_t i = 0; i < total; i++) {
        const struct acl_binding *a = acl_set_at(before, i);
        if (i > 0) {
            const struct acl_binding *p = acl_set_at(before, i - 1);
            if (p->rtype == a->rtype && p->pattern == a->pattern && !strcmp(p->name, a->name))
                continue;
        }
        bool any = false;
        for (size_t j = i; j < total && !any; j++) {
            const struct acl_binding *c = acl_set_at(before, j);
            if (c->rtype != a->rtype || c->pattern != a->pattern || strcmp(c->name, a->name))
                break;
            for (size_t k = 0; k < n && !any; k++)
                any = acl_filter_matches(&f[k], c);
        }
        if (!any)
            continue;
        /* what this resource holds now is what gets removed and reported */
        struct acl_binding *cur;
        size_t nc;
        int32_t version;
        if (read_resource(b, a->rtype, a->pattern, a->name, &cur, &nc, &version) == KERR_NONE) {
            for (size_t j = 0; j < nc; j++)
                for (size_t k = 0; k < n; k++)
                    if (acl_filter_matches(&f[k], &cur[j]) &&
                        !push_copy(&out[k], &n_out[k], &caps[k], &cur[j]))
                        errs[k] = KERR_UNKNOWN_SERVER_ERROR;
            acl_store_bindings_free(cur, nc);
        }
        kerr_t err = delete_in(b, a->rtype, a->pattern, a->name, f, n);
        if (err != KERR_NONE) {
            say_warn("acl", "cannot delete ACLs type=%s name=%s err=%s", acl_rtype_name(a->rtype),
                     a->name, kerr_name(err));
            for (size_t k = 0; k < n; k++)
                errs[k] = KERR_UNKNOWN_SERVER_ERROR;
        }
    }
    acl_set_free(before);
    free(caps);
    if (b->authz)
        (void)reload(b);
}
