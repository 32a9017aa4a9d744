/*
 * broker/kafka/scram_admin.c — DescribeUserScramCredentials (key 50, v0)
 * and AlterUserScramCredentials (key 51, v0), KIP-554; both flexible.
 *
 * Describe: req users[name] (null: all); resp throttle_time_ms,
 * error_code, error_message, results[user, error_code, error_message,
 * credential_infos[mechanism, iterations]]. Read from this broker's
 * credential table (kept in step with ZooKeeper, broker/core/scram_users.h).
 * Alter: req deletions[name, mechanism], upsertions[name, mechanism,
 * iterations, salt, salted_password]; resp throttle_time_ms, results[user,
 * error_code, error_message], one per user named. The client sends the
 * salted password (never the password); the broker derives StoredKey and
 * ServerKey and writes them to ZooKeeper on the admin worker.
 * Mechanism codes: 1 SCRAM-SHA-256, 2 SCRAM-SHA-512 (0 unknown).
 */
#include "broker/kafka/dispatch.h"
#include "broker/core/broker.h"
#include "broker/core/scram_users.h"
#include "broker/security/scram_store.h"
#include "common/loop/worker.h"
#include "common/say.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool mech_of(int8_t code, enum scram_hash *h)
{
    if (code == 1 || code == 2) {
        *h = code == 1 ? SCRAM_SHA_256 : SCRAM_SHA_512;
        return true;
    }
    return false;
}

/* ---- Describe ---- */

struct name_list {
    char **v;
    int n, cap;
};

static void collect(void *arg, const char *user)
{
    struct name_list *l = arg;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        char **v = realloc(l->v, sizeof(*v) * (size_t)cap);
        if (!v)
            return;
        l->v = v;
        l->cap = cap;
    }
    if ((l->v[l->n] = strdup(user)) != NULL)
        l->n++;
}

static void put_user_result(struct kbuf *o, const char *user, size_t len, bool duplicate)
{
    kw_put_strn(o, true, user, len);
    char name[SCRAM_USER_MAX];
    struct scram_cred c[SCRAM_N_HASHES];
    bool has[SCRAM_N_HASHES] = {false, false};
    int n = 0;
    if (!duplicate && len < sizeof(name)) {
        memcpy(name, user, len);
        name[len] = '\0';
        for (int h = 0; h < SCRAM_N_HASHES; h++)
            n += has[h] = scram_store_get(name, (enum scram_hash)h, &c[h]);
    }
    if (duplicate) {
        kbuf_put_i16(o, KERR_DUPLICATE_RESOURCE);
        kw_put_nstr(o, true, "Cannot describe the same user more than once");
    } else if (n == 0) {
        kbuf_put_i16(o, KERR_RESOURCE_NOT_FOUND);
        kw_put_nstr(o, true, "Attempt to describe a user credential that does not exist");
    } else {
        kbuf_put_i16(o, KERR_NONE);
        kw_put_nstr(o, true, NULL);
    }
    kw_put_array_len(o, true, n);
    for (int h = 0; h < SCRAM_N_HASHES; h++) {
        if (!has[h])
            continue;
        kbuf_put_u8(o, (uint8_t)(h + 1));
        kbuf_put_i32(o, c[h].iterations);
        kw_put_tags(o, true);
    }
    kw_put_tags(o, true);
}

/* Two requested names are the same user when both are null or both hold
 * the same bytes (a null name has no bytes to compare). */
static bool same_name(struct kstr a, struct kstr b)
{
    if (!a.ptr || !b.ptr)
        return !a.ptr && !b.ptr;
    return a.len == b.len && (a.len <= 0 || memcmp(a.ptr, b.ptr, (size_t)a.len) == 0);
}

kerr_t handle_describe_user_scram_credentials(struct req *req)
{
    struct kslice *s = &req->body;
    int32_t n = kw_get_array_len(s, true, 2);
    struct kstr *names = NULL;
    if (n > 0 && !(names = calloc((size_t)n, sizeof(*names))))
        return KERR__CLOSE;
    for (int32_t i = 0; i < n && kslice_ok(s); i++) {
        names[i] = kw_get_str(s, true);
        kw_skip_tags(s, true);
    }
    kw_skip_tags(s, true);
    if (!kslice_ok(s)) {
        free(names);
        return KERR__CLOSE;
    }
    struct kbuf *o = &req->out;
    kbuf_put_i32(o, 0); /* throttle_time_ms */
    kbuf_put_i16(o, KERR_NONE);
    kw_put_nstr(o, true, NULL);
    if (n < 0) {
        struct name_list all = {0};
        scram_store_each(collect, &all);
        kw_put_array_len(o, true, all.n);
        for (int i = 0; i < all.n; i++) {
            put_user_result(o, all.v[i], strlen(all.v[i]), false);
            free(all.v[i]);
        }
        free(all.v);
    } else {
        kw_put_array_len(o, true, n);
        for (int32_t i = 0; i < n; i++) {
            bool dup = false;
            for (int32_t j = 0; j < n && !dup; j++)
                dup = j != i && same_name(names[i], names[j]);
            put_user_result(o, names[i].ptr ? names[i].ptr : "",
                            names[i].ptr ? (size_t)names[i].len : 0, dup);
        }
    }
    kw_put_tags(o, true);
    free(names);
    return KERR_NONE;
}

/* ---- Alter ---- */

struct alter_op {
    char user[SCRAM_USER_MAX];
    int8_t mech;
    bool upsert;
    struct scram_cred cred;
    kerr_t err; /* found while decoding; else the outcome */
    char msg[200];
};

struct alter_job {
    struct req *req;
    struct alter_op *ops;
    int n;
};

static void alter_job_run(void *arg)
{
    struct alter_job *job = arg;
    struct req *req = job->req;
    struct broker *b = req->broker;
    for (int i = 0; i < job->n; i++) {
        struct alter_op *op = &job->ops[i];
        enum scram_hash h;
        if (op->err != KERR_NONE || !mech_of(op->mech, &h))
            continue;
        /* a user with a failed operation gets no change at all (as Kafka) */
        bool user_failed = false;
        for (int j = 0; j < job->n; j++)
            user_failed |= strcmp(job->ops[j].user, op->user) == 0 && job->ops[j].err != KERR_NONE;
        if (user_failed)
            continue;
        op->err = scram_users_alter(b, op->user, h, op->upsert ? &op->cred : NULL, op->msg,
                                    sizeof(op->msg));
    }
    struct kbuf *o = &req->out;
    kbuf_put_i32(o, 0); /* throttle_time_ms */
    size_t at = kw_reserve_array_len(o, true);
    int32_t count = 0;
    for (int i = 0; i < job->n; i++) {
        bool seen = false;
        for (int j = 0; j < i && !seen; j++)
            seen = strcmp(job->ops[j].user, job->ops[i].user) == 0;
        if (seen)
            continue;
        /* the user's first error, if any */
        const struct alter_op *first = &job->ops[i];
        for (int j = i; j < job->n; j++) {
            if (strcmp(job->ops[j].user, job->ops[i].user) == 0 && job->ops[j].err != KERR_NONE) {
                first = &job->ops[j];
                break;
            }
        }
        kw_put_str(o, true, job->ops[i].user);
        kbuf_put_i16(o, first->err);
        kw_put_nstr(o, true, first->err != KERR_NONE ? first->msg : NULL);
        kw_put_tags(o, true);
        count++;
    }
    kw_patch_array_len(o, true, at, count);
    kw_put_tags(o, true);
    memset(job->ops, 0, sizeof(*job->ops) * (size_t)job->n);
    free(job->ops);
    free(job);
    req_complete(req);
}

static void op_fail(struct alter_op *op, kerr_t err, const char *msg)
{
    if (op->err == KERR_NONE) {
        op->err = err;
        snprintf(op->msg, sizeof(op->msg), "%s", msg);
    }
}

/* Reads one deletion or upsertion into op, checking what can be checked
 * without ZooKeeper. false when the request is malformed. */
static bool decode_op(struct kslice *s, struct alter_op *op, bool upsert)
{
    struct kstr name = kw_get_str(s, true);
    op->mech = (int8_t)kslice_u8(s);
    op->upsert = upsert;
    int32_t iterations = 0, salt_len = 0, salted_len = 0;
    const uint8_t *salt = NULL, *salted = NULL;
    if (upsert) {
        iterations = kslice_i32(s);
        salt = kw_get_bytes(s, true, &salt_len);
        salted = kw_get_bytes(s, true, &salted_len);
    }
    kw_skip_tags(s, true);
    if (!kslice_ok(s) || kstr_is_null(name))
        return false;
    if (name.len == 0 || !kstr_copy(name, op->user, sizeof(op->user)) ||
        memchr(name.ptr, '\0', (size_t)name.len)) {
        snprintf(op->user, sizeof(op->user), "%.*s", (int)MIN(name.len, 100), name.ptr);
        op_fail(op, KERR_UNACCEPTABLE_CREDENTIAL,
                name.len == 0 ? "Username must not be empty" : "Username is not acceptable");
        return true;
    }
    enum scram_hash h;
    if (!mech_of(op->mech, &h)) {
        op_fail(op, KERR_UNSUPPORTED_SASL_MECHANISM, "Unknown SCRAM mechanism");
        return true;
    }
    if (!upsert)
        return true;
    if (iterations < SCRAM_MIN_ITERATIONS || iterations > SCRAM_MAX_ITERATIONS) {
        char m[120];
        snprintf(m, sizeof(m), "Iterations %d must be between %d and %d", (int)iterations,
                 SCRAM_MIN_ITERATIONS, SCRAM_MAX_ITERATIONS);
        op_fail(op, KERR_UNACCEPTABLE_CREDENTIAL, m);
        return true;
    }
    if (!salt || !salted || salt_len <= 0 || salt_len > SCRAM_SALT_MAX ||
        !scram_cred_from_salted(h, salt, (size_t)salt_len, salted, (size_t)salted_len, iterations,
                                &op->cred))
        op_fail(op, KERR_UNACCEPTABLE_CREDENTIAL,
                "Salt or salted password is empty or of the wrong length");
    return true;
}

kerr_t handle_alter_user_scram_credentials(struct req *req)
{
    struct kslice *s = &req->body;
    struct alter_job *job = calloc(1, sizeof(*job));
    if (!job)
        return KERR__CLOSE;
    job->req = req;
    int32_t nd = kw_get_array_len(s, true, 3);
    struct alter_op *ops = NULL;
    int total = 0;
    bool ok = kslice_ok(s) && nd >= 0;
    for (int pass = 0; ok && pass < 2; pass++) {
        int32_t n = pass == 0 ? nd : kw_get_array_len(s, true, 11);
        if (!kslice_ok(s) || n < 0) {
            ok = false;
            break;
        }
        struct alter_op *grown = realloc(ops, sizeof(*ops) * (size_t)(total + n + 1));
        if (!grown) {
            ok = false;
            break;
        }
        ops = grown;
        memset(ops + total, 0, sizeof(*ops) * (size_t)(n + 1));
        for (int32_t i = 0; ok && i < n; i++)
            ok = decode_op(s, &ops[total++], pass == 1);
    }
    kw_skip_tags(s, true);
    if (!ok || !kslice_ok(s)) {
        free(ops);
        free(job);
        return KERR__CLOSE;
    }
    /* the same user and mechanism twice */
    for (int i = 0; i < total; i++)
        for (int j = 0; j < i; j++)
            if (ops[i].mech == ops[j].mech && strcmp(ops[i].user, ops[j].user) == 0) {
                op_fail(&ops[i], KERR_DUPLICATE_RESOURCE,
                        "A user credential cannot be altered twice in the same request");
                op_fail(&ops[j], KERR_DUPLICATE_RESOURCE,
                        "A user credential cannot be altered twice in the same request");
            }
    job->ops = ops;
    job->n = total;
    if (!worker_post(req->broker->admin, alter_job_run, job)) {
        free(ops);
        free(job);
        return KERR__CLOSE;
    }
    return KERR__PENDING;
}
