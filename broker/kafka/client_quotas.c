/*
 * broker/kafka/client_quotas.c — DescribeClientQuotas (key 48) and
 * AlterClientQuotas (key 49), v0-v1 (v1 flexible).
 *
 * DescribeClientQuotas request: components[entity_type STRING, match_type
 * INT8 (0 exact, 1 default, 2 any), match NULLABLE_STRING], strict BOOLEAN.
 * Response: throttle_time_ms, error_code, error_message, entries (nullable)
 * [entity[entity_type, entity_name (null: the default)], values[key,
 * value FLOAT64]].
 * AlterClientQuotas request: entries[entity[entity_type, entity_name
 * (null: the default)], ops[key, value FLOAT64, remove BOOLEAN]],
 * validate_only BOOLEAN. Response: throttle_time_ms, entries[error_code,
 * error_message, entity[entity_type, entity_name]].
 *
 * Entity types are "user" and "client-id" (each at most once per entity);
 * keys producer_byte_rate, consumer_byte_rate (whole numbers) and
 * request_percentage, never negative. A bad entity, key or value answers
 * INVALID_REQUEST for its entry (or the whole Describe) and changes
 * nothing of that entry. The work runs on the admin worker: an alter
 * writes /config/users/... or /config/clients/... keeping other keys
 * (controller/zk/zk_store_quotas.c), posts the change notification that
 * brings it to every broker, and applies it here at once; a describe
 * reads the znodes.
 */
#include "broker/kafka/dispatch.h"
#include "broker/core/broker.h"
#include "broker/core/quota_load.h"
#include "broker/core/quotas.h"
#include "controller/zk/zk_store.h"
#include "common/loop/worker.h"
#include "common/say.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CQ_MAX_OPS QUOTA_N

struct cq_entity {
    bool has_user, has_client;
    char *user, *client; /* owned; QUOTA_DEFAULT for the default */
};

struct cq_entry {
    struct cq_entity e;
    /* as sent, for the answer */
    int n_parts;
    struct {
        char *type, *name; /* owned; name NULL: default */
    } parts[2];
    int n_ops;
    struct {
        int type; /* enum quota_type */
        double value;
        bool remove;
    } ops[CQ_MAX_OPS];
    kerr_t err;
    char msg[128];
};

struct cq_component {
    char *type; /* owned */
    int8_t match_type;
    char *match; /* owned; NULL: null */
};

struct cq_job {
    struct req *req;
    bool describe;
    bool validate_only;
    bool strict;
    int n;
    struct cq_entry *entries;
    struct cq_component *comps;
    kerr_t err;
    char msg[128];
};

static void cq_job_free(struct cq_job *job)
{
    for (int i = 0; job->entries && i < job->n; i++) {
        struct cq_entry *en = &job->entries[i];
        free(en->e.user);
        free(en->e.client);
        for (int k = 0; k < en->n_parts; k++) {
            free(en->parts[k].type);
            free(en->parts[k].name);
        }
    }
    for (int i = 0; job->comps && i < job->n; i++) {
        free(job->comps[i].type);
        free(job->comps[i].match);
    }
    free(job->entries);
    free(job->comps);
    free(job);
}

static double get_f64(struct kslice *s)
{
    uint64_t bits = (uint64_t)kslice_i64(s);
    double d;
    memcpy(&d, &bits, sizeof(d));
    return d;
}

static void put_f64(struct kbuf *o, double d)
{
    int64_t bits;
    memcpy(&bits, &d, sizeof(bits));
    kbuf_put_i64(o, bits);
}

/* Checks a name for use in an entity path (zk_store.h rules). */
/* A name fits a znode path once encoded (zk_entity_name_encode()). */
static bool cq_name_ok(const char *type, const char *name)
{
    char enc[400], path[600];
    if (!zk_entity_name_encode(name, enc, sizeof(enc)))
        return false;
    snprintf(path, sizeof(path), "%s/%s", type, enc);
    return zk_entity_path_ok(path);
}

static void cq_fail(struct cq_entry *en, const char *msg)
{
    if (en->err != KERR_NONE)
        return;
    en->err = KERR_INVALID_REQUEST;
    snprintf(en->msg, sizeof(en->msg), "%s", msg);
}

/* Decodes one entity part into en. */
static void cq_part(struct cq_entry *en, struct kstr type, struct kstr name)
{
    if (en->n_parts < 2) {
        en->parts[en->n_parts].type = kstr_dup(type);
        en->parts[en->n_parts].name = name.ptr ? kstr_dup(name) : NULL;
        en->n_parts++;
    } else {
        cq_fail(en, "an entity has at most a user and a client-id");
        return;
    }
    char *n = name.ptr ? kstr_dup(name) : strdup(QUOTA_DEFAULT);
    bool user = kstr_eq(type, "user"), client = kstr_eq(type, "client-id");
    if (!n || (!user && !client) || (user && en->e.has_user) || (client && en->e.has_client) ||
        (name.ptr && (memchr(name.ptr, 0, (size_t)name.len) || !cq_name_ok("clients", n)))) {
        cq_fail(en, !user && !client ? "unknown entity type (user and client-id are known)"
                                     : "bad entity: a type twice, or an unusable name");
        free(n);
        return;
    }
    if (user) {
        en->e.has_user = true;
        en->e.user = n;
    } else {
        en->e.has_client = true;
        en->e.client = n;
    }
}

static bool cq_decode_alter(struct cq_job *job, struct kslice *s, bool flex)
{
    int32_t n = kw_get_array_len(s, flex, 2);
    if (!kslice_ok(s) || n < 0)
        return false;
    job->entries = calloc((size_t)(n ? n : 1), sizeof(*job->entries));
    if (!job->entries)
        return false;
    for (int32_t i = 0; i < n && kslice_ok(s); i++) {
        struct cq_entry *en = &job->entries[i];
        job->n = i + 1;
        int32_t np = kw_get_array_len(s, flex, 2);
        for (int32_t k = 0; k < np && kslice_ok(s); k++) {
            struct kstr type = kw_get_str(s, flex);
            struct kstr name = kw_get_str(s, flex);
            kw_skip_tags(s, flex);
            if (kslice_ok(s) && type.ptr)
                cq_part(en, type, name);
            else if (kslice_ok(s))
                cq_fail(en, "null entity type");
        }
        if (np == 0)
            cq_fail(en, "empty entity");
        int32_t no = kw_get_array_len(s, flex, 10);
        for (int32_t k = 0; k < no && kslice_ok(s); k++) {
            struct kstr key = kw_get_str(s, flex);
            double value = get_f64(s);
            bool remove = kslice_u8(s) != 0;
            kw_skip_tags(s, flex);
            if (!kslice_ok(s))
                break;
            char kz[64];
            int t = key.ptr && kstr_copy(key, kz, sizeof(kz)) ? quota_type_of(kz) : -1;
            if (t < 0) {
                cq_fail(en, "unknown quota key");
                continue;
            }
            for (int j = 0; j < en->n_ops; j++)
                if (en->ops[j].type == t)
                    cq_fail(en, "a key twice in one entity");
            if (!remove && (!(value >= 0) || isinf(value)))
                cq_fail(en, "a quota value must be a non-negative number");
            else if (!remove && t != QUOTA_REQUEST && value != floor(value))
                cq_fail(en, "a byte rate must be a whole number");
            else if (!remove && value > 9.2e18)
                cq_fail(en, "a quota value is too large");
            if (en->err == KERR_NONE && en->n_ops < CQ_MAX_OPS) {
                en->ops[en->n_ops].type = t;
                en->ops[en->n_ops].value = value;
                en->ops[en->n_ops].remove = remove;
                en->n_ops++;
            }
        }
        kw_skip_tags(s, flex);
    }
    job->validate_only = kslice_u8(s) != 0;
    kw_skip_tags(s, flex);
    return kslice_ok(s);
}

/* The entity's znode path under /config, its names encoded as Kafka's
 * Sanitizer does (cq_name_ok() checked that they fit). */
static void cq_entity_path(const struct cq_entity *e, char *out, size_t n)
{
    char u[400] = "", c[400] = "";
    if (e->has_user)
        (void)zk_entity_name_encode(e->user, u, sizeof(u));
    if (e->has_client)
        (void)zk_entity_name_encode(e->client, c, sizeof(c));
    if (e->has_user && e->has_client)
        snprintf(out, n, "users/%s/clients/%s", u, c);
    else if (e->has_user)
        snprintf(out, n, "users/%s", u);
    else
        snprintf(out, n, "clients/%s", c);
}

static void cq_alter_run(struct cq_job *job)
{
    struct broker *b = job->req->broker;
    for (int i = 0; i < job->n; i++) {
        struct cq_entry *en = &job->entries[i];
        if (en->err != KERR_NONE || job->validate_only || en->n_ops == 0)
            continue;
        if (!b->zk) { /* a broker without ZooKeeper (the fuzz target's) */
            en->err = KERR_UNKNOWN_SERVER_ERROR;
            snprintf(en->msg, sizeof(en->msg), "no ZooKeeper");
            continue;
        }
        char path[600];
        cq_entity_path(&en->e, path, sizeof(path));
        const char *keys[CQ_MAX_OPS], *vals[CQ_MAX_OPS];
        char buf[CQ_MAX_OPS][48];
        for (int k = 0; k < en->n_ops; k++) {
            keys[k] = quota_type_key((enum quota_type)en->ops[k].type);
            if (en->ops[k].remove) {
                vals[k] = NULL;
                continue;
            }
            if (en->ops[k].type == QUOTA_REQUEST)
                snprintf(buf[k], sizeof(buf[k]), "%.17g", en->ops[k].value);
            else
                snprintf(buf[k], sizeof(buf[k]), "%.0f", en->ops[k].value);
            vals[k] = buf[k];
        }
        kerr_t err = zk_store_entity_config_update(b->zk, path, keys, vals, en->n_ops);
        if (err != KERR_NONE) {
            en->err = KERR_UNKNOWN_SERVER_ERROR;
            snprintf(en->msg, sizeof(en->msg), "cannot write ZooKeeper: %s", kerr_name(err));
            say_warn("kafka", "AlterClientQuotas %s failed err=%s", path, kerr_name(err));
            continue;
        }
        quota_load_entity(b, path); /* the notification brings it to the others */
    }
    struct req *req = job->req;
    struct kbuf *o = &req->out;
    bool flex = req->flex;
    kbuf_put_i32(o, 0); /* throttle_time_ms */
    kw_put_array_len(o, flex, job->n);
    for (int i = 0; i < job->n; i++) {
        struct cq_entry *en = &job->entries[i];
        kbuf_put_i16(o, en->err);
        kw_put_nstr(o, flex, en->err != KERR_NONE ? en->msg : NULL);
        kw_put_array_len(o, flex, en->n_parts);
        for (int k = 0; k < en->n_parts; k++) {
            kw_put_str(o, flex, en->parts[k].type ? en->parts[k].type : "");
            kw_put_nstr(o, flex, en->parts[k].name);
            kw_put_tags(o, flex);
        }
        kw_put_tags(o, flex);
    }
    kw_put_tags(o, flex);
}

/* ---- describe ---- */

static bool cq_decode_describe(struct cq_job *job, struct kslice *s, bool flex)
{
    int32_t n = kw_get_array_len(s, flex, 3);
    if (!kslice_ok(s) || n < 0)
        return false;
    job->comps = calloc((size_t)(n ? n : 1), sizeof(*job->comps));
    if (!job->comps)
        return false;
    bool seen_user = false, seen_client = false;
    for (int32_t i = 0; i < n && kslice_ok(s); i++) {
        struct cq_component *c = &job->comps[i];
        job->n = i + 1;
        struct kstr type = kw_get_str(s, flex);
        c->match_type = (int8_t)kslice_u8(s);
        struct kstr match = kw_get_str(s, flex);
        kw_skip_tags(s, flex);
        if (!kslice_ok(s))
            break;
        c->type = type.ptr ? kstr_dup(type) : NULL;
        c->match = match.ptr ? kstr_dup(match) : NULL;
        bool user = c->type && strcmp(c->type, "user") == 0;
        bool client = c->type && strcmp(c->type, "client-id") == 0;
        if ((!user && !client) || (user && seen_user) || (client && seen_client) ||
            c->match_type < 0 || c->match_type > 2 || (c->match_type == 0 && !c->match)) {
            job->err = KERR_INVALID_REQUEST;
            snprintf(job->msg, sizeof(job->msg), "bad filter component");
        }
        seen_user |= user;
        seen_client |= client;
    }
    job->strict = kslice_u8(s) != 0;
    kw_skip_tags(s, flex);
    return kslice_ok(s);
}

/* Whether the entity (user, client: NULL when absent) passes the filter. */
static bool cq_matches(const struct cq_job *job, const char *user, const char *client)
{
    bool want_user = false, want_client = false;
    for (int i = 0; i < job->n; i++) {
        const struct cq_component *c = &job->comps[i];
        bool is_user = strcmp(c->type, "user") == 0;
        const char *have = is_user ? user : client;
        if (is_user)
            want_user = true;
        else
            want_client = true;
        if (!have)
            return false;
        if (c->match_type == 0 && strcmp(have, c->match) != 0)
            return false;
        if (c->match_type == 1 && strcmp(have, QUOTA_DEFAULT) != 0)
            return false;
    }
    if (job->strict && ((user && !want_user) || (client && !want_client)))
        return false;
    return true;
}

static void cq_put_part(struct kbuf *o, bool flex, const char *type, const char *name)
{
    kw_put_str(o, flex, type);
    kw_put_nstr(o, flex, strcmp(name, QUOTA_DEFAULT) == 0 ? NULL : name);
    kw_put_tags(o, flex);
}

static void cq_describe_run(struct cq_job *job)
{
    struct req *req = job->req;
    struct broker *b = req->broker;
    struct kbuf *o = &req->out;
    bool flex = req->flex;
    char **paths = NULL;
    int np = 0;
    if (job->err == KERR_NONE &&
        (!b->zk || zk_store_entity_list(b->zk, &paths, &np) != KERR_NONE)) {
        job->err = KERR_UNKNOWN_SERVER_ERROR;
        snprintf(job->msg, sizeof(job->msg), "cannot read ZooKeeper");
    }
    kbuf_put_i32(o, 0); /* throttle_time_ms */
    kbuf_put_i16(o, job->err);
    kw_put_nstr(o, flex, job->err != KERR_NONE ? job->msg : NULL);
    if (job->err != KERR_NONE) {
        kw_put_array_len(o, flex, -1);
        kw_put_tags(o, flex);
        return;
    }
    size_t at = kw_reserve_array_len(o, flex);
    int count = 0;
    for (int i = 0; i < np; i++) {
        char buf[600], ubuf[256], cbuf[256];
        snprintf(buf, sizeof(buf), "%s", paths[i]);
        const char *user = NULL, *client = NULL;
        if (strncmp(buf, "clients/", 8) == 0) {
            client = buf + 8;
        } else {
            user = buf + 6;
            char *slash = strchr(buf + 6, '/');
            if (slash) {
                *slash = '\0';
                client = slash + 9;
            }
        }
        /* the znode names are encoded (Kafka's Sanitizer) */
        if ((user && !zk_entity_name_decode(user, ubuf, sizeof(ubuf))) ||
            (client && !zk_entity_name_decode(client, cbuf, sizeof(cbuf))))
            continue;
        user = user ? ubuf : NULL;
        client = client ? cbuf : NULL;
        if (!cq_matches(job, user, client))
            continue;
        struct zk_entity_config c;
        if (zk_store_entity_config_get(b->zk, paths[i], &c) != KERR_NONE)
            continue;
        int nq = 0;
        for (int k = 0; k < c.n; k++)
            nq += quota_type_of(c.keys[k]) >= 0;
        if (nq > 0) {
            count++;
            kw_put_array_len(o, flex, (user != NULL) + (client != NULL));
            if (user)
                cq_put_part(o, flex, "user", user);
            if (client)
                cq_put_part(o, flex, "client-id", client);
            kw_put_array_len(o, flex, nq);
            for (int k = 0; k < c.n; k++) {
                if (quota_type_of(c.keys[k]) < 0)
                    continue;
                kw_put_str(o, flex, c.keys[k]);
                put_f64(o, strtod(c.values[k], NULL));
                kw_put_tags(o, flex);
            }
            kw_put_tags(o, flex);
        }
        zk_entity_config_destroy(&c);
    }
    zk_names_free(paths, np);
    kw_patch_array_len(o, flex, at, count);
    kw_put_tags(o, flex);
}

static void cq_job_run(void *arg)
{
    struct cq_job *job = arg;
    KASSERT(worker_is_current(job->req->broker->admin));
    if (job->describe)
        cq_describe_run(job);
    else
        cq_alter_run(job);
    struct req *req = job->req;
    cq_job_free(job);
    req_complete(req);
}

static kerr_t cq_start(struct req *req, bool describe)
{
    struct cq_job *job = calloc(1, sizeof(*job));
    if (!job)
        return KERR__CLOSE;
    job->req = req;
    job->describe = describe;
    bool ok = describe ? cq_decode_describe(job, &req->body, req->flex)
                       : cq_decode_alter(job, &req->body, req->flex);
    if (!ok || !worker_post(req->broker->admin, cq_job_run, job)) {
        cq_job_free(job);
        return KERR__CLOSE;
    }
    return KERR__PENDING;
}

kerr_t handle_describe_client_quotas(struct req *req) { return cq_start(req, true); }

kerr_t handle_alter_client_quotas(struct req *req) { return cq_start(req, false); }
