/*
 * broker/kafka/configs.c — DescribeConfigs (key 32, v0-v2), AlterConfigs
 * (key 33, v0-v1) and IncrementalAlterConfigs (key 44, v0).
 *
 * DescribeConfigs request: resources[resource_type INT8, resource_name,
 * configuration_keys NULLABLE ARRAY (null = all)], include_synonyms (v1+).
 * Response: throttle, results[error_code, error_message, resource_type,
 * resource_name, configs[name, value, read_only, is_default (v0) |
 * config_source (v1+), is_sensitive, synonyms[name, value, source] (v1+)]].
 * Resource types: 2 = topic (every topic key with its effective value),
 * 4 = broker (name = our id or "" for the cluster default;
 * configs_broker.c). Config sources: 1 dynamic topic, 2 dynamic broker,
 * 3 dynamic default broker, 4 static broker, 5 default.
 *
 * AlterConfigs request: resources[type, name, configs[name, value]],
 * validate_only; it REPLACES the topic's overrides. IncrementalAlterConfigs:
 * resources[type, name, configs[name, op (0 SET, 1 DELETE, 2 APPEND,
 * 3 SUBTRACT), value]], validate_only; ops apply to the current overrides.
 * Both answer: throttle, responses[error_code, error_message, type, name].
 * Broker resources (name = a registered broker id, or "" for the
 * cluster-wide default) change the dynamic broker configs
 * (broker/core/dyncfg.c): only dynamic keys, SET and DELETE.
 * Each resource is checked before its keys, as in Kafka: a type other than
 * topic or broker is INVALID_REQUEST, an illegal topic name (common/names.h)
 * INVALID_TOPIC_EXCEPTION, a missing topic UNKNOWN_TOPIC_OR_PARTITION, and
 * only then a bad key or value INVALID_CONFIG.
 * The changes run on the admin worker (ZooKeeper /config/topics/<t>,
 * /config/brokers/<id|<default>>).
 */
#include "broker/kafka/authz.h"
#include "broker/kafka/dispatch.h"
#include "broker/core/admin.h"
#include "common/loop/worker.h"
#include "broker/core/broker.h"
#include "broker/core/dyncfg.h"
#include "broker/kafka/configs_broker.h"
#include "broker/replication/topics.h"
#include "common/names.h"
#include "common/vec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RES_TOPIC 2
#define RES_BROKER 4

/* ---------------------------------------------------------- describe */

struct cfg_entry {
    const char *name;
    const char *value; /* NULL = null */
    int8_t source;
    bool read_only;
    const char *syn_name; /* broker-level synonym, or NULL */
    const char *syn_value;
    int8_t syn_source;
};

static void put_entry(struct req *req, const struct cfg_entry *e, bool synonyms)
{
    struct kbuf *o = &req->out;
    int16_t v = req->api_version;
    kw_put_str(o, false, e->name);
    kw_put_nstr(o, false, e->value);
    kbuf_put_u8(o, e->read_only);
    if (v == 0)
        kbuf_put_u8(o, e->source == SRC_DEFAULT);
    else
        kbuf_put_u8(o, (uint8_t)e->source);
    kbuf_put_u8(o, 0); /* is_sensitive */
    if (v < 1)
        return;
    if (!synonyms) {
        kw_put_array_len(o, false, 0);
        return;
    }
    /* the entry itself, then the broker key it falls back to */
    int n = e->syn_name && strcmp(e->syn_name, e->name) != 0 ? 2 : 1;
    kw_put_array_len(o, false, n);
    kw_put_str(o, false, e->name);
    kw_put_nstr(o, false, e->value);
    kbuf_put_u8(o, (uint8_t)e->source);
    if (n == 2) {
        kw_put_str(o, false, e->syn_name);
        kw_put_nstr(o, false, e->syn_value);
        kbuf_put_u8(o, (uint8_t)e->syn_source);
    }
}

/* Writes the configs array of one topic. */
static void describe_topic(struct req *req, struct topic *t, const struct kstr *keys,
                           int32_t n_keys, bool synonyms)
{
    const struct broker_config *cfg = req->broker->cfg;
    int n_over;
    char **over = topic_get_config(t, &n_over);
    size_t at = kw_reserve_array_len(&req->out, false);
    int32_t count = 0;
    for (int i = 0; i < topic_config_key_count(); i++) {
        const char *name = topic_config_key_name(i);
        if (!configs_key_wanted(keys, n_keys, name))
            continue;
        char def[256];
        bool from_file;
        bool have_def = topic_config_default_value(cfg, i, def, sizeof(def), &from_file);
        struct cfg_entry e = {.name = name,
                              .value = have_def ? def : NULL,
                              .source = from_file ? SRC_STATIC_BROKER : SRC_DEFAULT,
                              .syn_name = topic_config_broker_synonym(i)};
        /* a dynamic broker override of the synonym is the default now */
        if (e.syn_name && dynamic_key_is_dynamic(e.syn_name)) {
            if (dynamic_override(&req->broker->dyn, true, e.syn_name, def, sizeof(def))) {
                e.value = def;
                e.source = SRC_DYNAMIC_BROKER;
            } else if (dynamic_override(&req->broker->dyn, false, e.syn_name, def, sizeof(def))) {
                e.value = def;
                e.source = SRC_DYNAMIC_DEFAULT_BROKER;
            }
        }
        e.syn_value = e.value;
        e.syn_source = e.source;
        for (int k = 0; over && k < n_over; k++)
            if (strcmp(over[2 * k], name) == 0) {
                e.value = over[2 * k + 1];
                e.source = SRC_DYNAMIC_TOPIC;
            }
        put_entry(req, &e, synonyms);
        count++;
    }
    kw_patch_array_len(&req->out, false, at, count);
    for (int k = 0; over && k < 2 * n_over; k++)
        free(over[k]);
    free(over);
}

static bool describe_one(struct req *req, struct kslice *s, bool synonyms_pending)
{
    struct kbuf *o = &req->out;
    int8_t type = (int8_t)kslice_u8(s);
    struct kstr name = kw_get_str(s, false);
    int32_t n_keys = kw_get_array_len(s, false, 2);
    if (!kslice_ok(s) || !name.ptr)
        return false;
    struct kstr *keys = n_keys > 0 ? calloc((size_t)n_keys, sizeof(*keys)) : NULL;
    if (n_keys > 0 && !keys)
        return false;
    for (int32_t i = 0; i < n_keys; i++)
        keys[i] = kw_get_str(s, false);
    bool synonyms = synonyms_pending;
    char id[16];
    snprintf(id, sizeof(id), "%d", req->broker->id);
    struct topic *t =
        type == RES_TOPIC ? topics_get(req->broker->topics, name.ptr, (size_t)name.len) : NULL;
    kerr_t err = KERR_NONE;
    const char *msg = NULL;
    if (type == RES_TOPIC &&
        !authz_topic(req, ACL_OP_DESCRIBE_CONFIGS, name.ptr, (size_t)name.len)) {
        err = KERR_TOPIC_AUTHORIZATION_FAILED;
    } else if (type == RES_BROKER && !authz_cluster(req, ACL_OP_DESCRIBE_CONFIGS)) {
        err = KERR_CLUSTER_AUTHORIZATION_FAILED;
    } else if (type == RES_TOPIC && !t) {
        err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
        msg = "topic does not exist";
    } else if (type == RES_BROKER && !kstr_eq(name, id) && name.len > 0) {
        err = KERR_INVALID_REQUEST;
        msg = "only this broker's own configuration can be described here";
    } else if (type != RES_TOPIC && type != RES_BROKER) {
        err = KERR_INVALID_REQUEST;
        msg = "unsupported resource type";
    }
    kbuf_put_i16(o, err);
    kw_put_nstr(o, false, msg);
    kbuf_put_u8(o, (uint8_t)type);
    kw_put_kstr(o, false, name);
    if (err != KERR_NONE)
        kw_put_array_len(o, false, 0);
    else if (t)
        describe_topic(req, t, keys, n_keys, synonyms);
    else
        configs_broker_describe(req, name.len == 0, keys, n_keys, synonyms);
    topic_unref(t);
    free(keys);
    return kslice_ok(s);
}

kerr_t handle_describe_configs(struct req *req)
{
    struct kslice *s = &req->body;
    int32_t n = kw_get_array_len(s, false, 7);
    if (!kslice_ok(s))
        return KERR__CLOSE;
    /* include_synonyms follows the resources: peek at it first */
    struct kslice scan = *s;
    for (int32_t i = 0; i < n && kslice_ok(&scan); i++) {
        (void)kslice_u8(&scan);
        (void)kw_get_str(&scan, false);
        int32_t nk = kw_get_array_len(&scan, false, 2);
        for (int32_t k = 0; k < nk; k++)
            (void)kw_get_str(&scan, false);
    }
    bool synonyms = req->api_version >= 1 && kslice_u8(&scan) != 0;
    if (!kslice_ok(&scan))
        return KERR__CLOSE;
    kbuf_put_i32(&req->out, 0); /* throttle_time_ms */
    kw_put_array_len(&req->out, false, n < 0 ? 0 : n);
    for (int32_t i = 0; i < n; i++)
        if (!describe_one(req, s, synonyms))
            return KERR__CLOSE;
    return KERR_NONE;
}

/* ---------------------------------------------------------- alter */

struct alter_res {
    int8_t type;
    char name[TOPIC_NAME_MAX_LEN + 1]; /* "" when the wire name is not a legal topic name */
    char *wire_name;                   /* the name as sent (any bytes), owned, for the answer */
    int32_t wire_len;
    char **kv; /* resulting overrides (pairs), owned */
    int n_kv;
    size_t kv_cap; /* room in kv, in strings (common/vec.h) */
    kerr_t err;    /* decode-time error */
    char msg[256];
    struct dyncfg_op *ops; /* broker resources: the changes as sent, owned */
    int n_ops;
    size_t ops_cap;
};

struct alter_job {
    struct req *req;
    bool validate_only;
    bool incremental;
    int n;
    struct alter_res *res;
};

static void alter_job_free(struct alter_job *job)
{
    for (int i = 0; i < job->n; i++) {
        for (int k = 0; k < 2 * job->res[i].n_kv; k++)
            free(job->res[i].kv[k]);
        free(job->res[i].kv);
        free(job->res[i].wire_name);
        for (int k = 0; k < job->res[i].n_ops; k++) {
            free((char *)job->res[i].ops[k].key);
            free((char *)job->res[i].ops[k].value);
        }
        free(job->res[i].ops);
    }
    free(job->res);
    free(job);
}

static void alter_job_run(void *arg)
{
    struct alter_job *job = arg;
    struct req *req = job->req;
    KASSERT(worker_is_current(req->broker->admin));
    struct kbuf *o = &req->out;
    kbuf_put_i32(o, 0);
    kw_put_array_len(o, false, job->n);
    for (int i = 0; i < job->n; i++) {
        struct alter_res *r = &job->res[i];
        kerr_t err = r->err;
        /* the resource first (as Kafka): a missing topic is reported as
         * such even when its keys are bad too */
        if (r->type == RES_TOPIC && r->name[0] &&
            (err == KERR_NONE || err == KERR_INVALID_CONFIG)) {
            kerr_t exists = admin_topic_check(req->broker, r->name, r->msg, sizeof(r->msg));
            if (exists != KERR_NONE)
                err = exists;
        }
        if (err == KERR_NONE && r->type == RES_BROKER)
            err = dyncfg_alter(req->broker, r->wire_name, r->ops, r->n_ops, job->incremental,
                               job->validate_only, r->msg, sizeof(r->msg));
        else if (err == KERR_NONE)
            err = admin_alter_topic_config(req->broker, r->name, r->kv, r->n_kv, job->validate_only,
                                           r->msg, sizeof(r->msg));
        kbuf_put_i16(o, err);
        kw_put_nstr(o, false, err == KERR_NONE ? NULL : r->msg);
        kbuf_put_u8(o, (uint8_t)r->type);
        kw_put_strn(o, false, r->wire_name, (size_t)r->wire_len);
    }
    alter_job_free(job);
    req_complete(req);
}

/* Sets key to value in r's pairs (value NULL deletes). */
static bool res_set(struct alter_res *r, const char *key, const char *value)
{
    for (int i = 0; i < r->n_kv; i++) {
        if (strcmp(r->kv[2 * i], key) != 0)
            continue;
        free(r->kv[2 * i + 1]);
        if (value) {
            r->kv[2 * i + 1] = strdup(value);
            return r->kv[2 * i + 1] != NULL;
        }
        free(r->kv[2 * i]);
        r->kv[2 * i] = r->kv[2 * (r->n_kv - 1)];
        r->kv[2 * i + 1] = r->kv[2 * (r->n_kv - 1) + 1];
        r->n_kv--;
        return true;
    }
    if (!value)
        return true;
    if (!VEC_RESERVE_AT(r->kv, r->kv_cap, 2 * (size_t)r->n_kv + 2))
        return false;
    r->kv[2 * r->n_kv] = strdup(key);
    r->kv[2 * r->n_kv + 1] = strdup(value);
    r->n_kv++;
    return r->kv[2 * r->n_kv - 2] && r->kv[2 * r->n_kv - 1];
}

static const char *res_get(const struct alter_res *r, const char *key)
{
    for (int i = 0; i < r->n_kv; i++)
        if (strcmp(r->kv[2 * i], key) == 0)
            return r->kv[2 * i + 1];
    return NULL;
}

/* APPEND (add=true) or SUBTRACT value to/from the comma list of key. */
static bool res_list_op(struct alter_res *r, const char *key, const char *value, bool add)
{
    const char *cur = res_get(r, key);
    size_t cap = (cur ? strlen(cur) : 0) + strlen(value) + 2; /* the list, ',', value, NUL */
    char *out = malloc(cap);
    char *copy = strdup(cur ? cur : "");
    if (!out || !copy) {
        free(out);
        free(copy);
        return false;
    }
    size_t len = 0;
    bool present = false;
    out[0] = 0;
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (strcmp(tok, value) == 0) {
            present = true;
            if (!add)
                continue;
        }
        len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? "," : "", tok);
    }
    if (add && !present)
        len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? "," : "", value);
    free(copy);
    bool ok = res_set(r, key, len ? out : NULL);
    free(out);
    return ok;
}

/* Applies one decoded (key, op, value) to r; records errors in r. */
static void apply_op(struct alter_res *r, struct kstr key, int8_t op, struct kstr value)
{
    char *k = kstr_dup(key), *v = kstr_dup(value);
    int idx = k ? topic_config_key_find(k) : -1;
    bool ok = true;
    if (r->err != KERR_NONE) {
        /* keep the first error */
    } else if ((key.ptr && memchr(key.ptr, 0, (size_t)key.len)) ||
               (value.ptr && memchr(value.ptr, 0, (size_t)value.len))) {
        r->err = KERR_INVALID_CONFIG;
        snprintf(r->msg, sizeof(r->msg), "a config key or value contains a NUL byte");
    } else if (!k || idx < 0) {
        r->err = KERR_INVALID_CONFIG;
        snprintf(r->msg, sizeof(r->msg), "unknown topic config '%s'", k ? k : "");
    } else if (op == 0) {
        ok = res_set(r, k, v ? v : "");
    } else if (op == 1) {
        ok = res_set(r, k, NULL);
    } else if ((op == 2 || op == 3) && topic_config_key_is_list(idx) && v) {
        ok = res_list_op(r, k, v, op == 2);
    } else {
        r->err = KERR_INVALID_CONFIG;
        snprintf(r->msg, sizeof(r->msg), "operation %d is not valid for '%s'", op, k);
    }
    if (!ok) {
        r->err = KERR_UNKNOWN_SERVER_ERROR;
        snprintf(r->msg, sizeof(r->msg), "out of memory");
    }
    free(k);
    free(v);
}

/* Records one change of a broker resource (checked on the admin worker). */
static void broker_op(struct alter_res *r, struct kstr key, int8_t op, struct kstr value)
{
    if (r->err != KERR_NONE)
        return;
    if (!key.ptr || memchr(key.ptr, 0, (size_t)key.len) ||
        (value.ptr && memchr(value.ptr, 0, (size_t)value.len))) {
        r->err = KERR_INVALID_REQUEST; /* as every refusal of a broker config */
        snprintf(r->msg, sizeof(r->msg),
                 "a config key is null, or a key or value contains a "
                 "NUL byte");
        return;
    }
    if (!VEC_RESERVE_AT(r->ops, r->ops_cap, (size_t)r->n_ops + 1)) {
        r->err = KERR_UNKNOWN_SERVER_ERROR;
        snprintf(r->msg, sizeof(r->msg), "out of memory");
        return;
    }
    struct dyncfg_op *o = &r->ops[r->n_ops++];
    o->key = kstr_dup(key);
    o->op = op;
    o->value = value.ptr ? kstr_dup(value) : NULL;
    if (!o->key || (value.ptr && !o->value)) {
        r->err = KERR_UNKNOWN_SERVER_ERROR;
        snprintf(r->msg, sizeof(r->msg), "out of memory");
    }
}

static bool decode_resource(struct req *req, struct kslice *s, struct alter_res *r,
                            bool incremental)
{
    r->type = (int8_t)kslice_u8(s);
    struct kstr name = kw_get_str(s, false);
    int32_t n = kw_get_array_len(s, false, 4);
    if (!kslice_ok(s) || !name.ptr)
        return false;
    r->wire_name = kstr_dup(name);
    r->wire_len = name.len;
    if (!r->wire_name)
        return false;
    if (r->type == RES_BROKER) {
        if (memchr(name.ptr, 0, (size_t)name.len)) {
            r->err = KERR_INVALID_REQUEST;
            snprintf(r->msg, sizeof(r->msg), "a broker resource name contains a NUL byte");
        }
    } else if (r->type != RES_TOPIC) {
        r->err = KERR_INVALID_REQUEST;
        snprintf(r->msg, sizeof(r->msg), "only topic and broker configs can be altered");
    } else {
        r->err = topic_name_take(name, r->name, sizeof(r->name), r->msg, sizeof(r->msg));
    }
    struct topic *t = NULL;
    if (incremental && r->type == RES_TOPIC && r->err == KERR_NONE &&
        (t = topics_get(req->broker->topics, name.ptr, (size_t)name.len))) {
        int n_cur;
        char **cur = topic_get_config(t, &n_cur);
        r->kv = cur;
        r->n_kv = cur ? n_cur : 0;
        r->kv_cap = 2 * (size_t)r->n_kv;
        topic_unref(t);
    }
    for (int32_t i = 0; i < n && kslice_ok(s); i++) {
        struct kstr key = kw_get_str(s, false);
        int8_t op = incremental ? (int8_t)kslice_u8(s) : 0;
        struct kstr value = kw_get_str(s, false);
        if (kslice_ok(s) && r->type == RES_BROKER)
            broker_op(r, key, op, value);
        else if (kslice_ok(s))
            apply_op(r, key, op, value);
    }
    kerr_t denied = KERR_NONE;
    if (r->type == RES_TOPIC && !authz_topic(req, ACL_OP_ALTER_CONFIGS, name.ptr, (size_t)name.len))
        denied = KERR_TOPIC_AUTHORIZATION_FAILED;
    else if (r->type == RES_BROKER && !authz_cluster(req, ACL_OP_ALTER_CONFIGS))
        denied = KERR_CLUSTER_AUTHORIZATION_FAILED;
    if (denied) {
        r->err = denied;
        r->msg[0] = '\0';
    }
    return kslice_ok(s);
}

static kerr_t handle_alter(struct req *req, bool incremental)
{
    struct kslice *s = &req->body;
    int32_t n = kw_get_array_len(s, false, 7);
    struct alter_job *job = calloc(1, sizeof(*job));
    if (!job || !kslice_ok(s) || n < 0)
        goto bad;
    job->req = req;
    job->incremental = incremental;
    job->res = calloc((size_t)(n ? n : 1), sizeof(*job->res));
    if (!job->res)
        goto bad;
    for (int32_t i = 0; i < n; i++) {
        job->n = i + 1;
        if (!decode_resource(req, s, &job->res[i], incremental))
            goto bad;
    }
    job->validate_only = kslice_u8(s) != 0;
    if (!kslice_ok(s) || !worker_post(req->broker->admin, alter_job_run, job))
        goto bad;
    return KERR__PENDING;
bad:
    if (job)
        alter_job_free(job);
    return KERR__CLOSE;
}

kerr_t handle_alter_configs(struct req *req) { return handle_alter(req, false); }

kerr_t handle_incremental_alter_configs(struct req *req) { return handle_alter(req, true); }
