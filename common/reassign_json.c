/*
 * common/reassign_json.c — reader and writer of Kafka's reassignment JSON
 * (format in reassign_json.h): a small recursive-descent JSON reader that
 * knows the one document shape it accepts and skips unknown keys.
 */
#include "common/reassign_json.h"
#include "common/vec.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RJ_MAX_DEPTH 32

struct rj {
    const char *s;
    size_t n, i;
    int line;
    bool failed;
    char *err;
    size_t errlen;
};

static bool rj_fail(struct rj *r, const char *fmt, ...)
{
    if (r->failed)
        return false;
    r->failed = true;
    int k = snprintf(r->err, r->errlen, "line %d: ", r->line);
    va_list ap;
    va_start(ap, fmt);
    if (k >= 0 && (size_t)k < r->errlen)
        vsnprintf(r->err + k, r->errlen - (size_t)k, fmt, ap);
    va_end(ap);
    return false;
}

static void rj_ws(struct rj *r)
{
    while (r->i < r->n) {
        char c = r->s[r->i];
        if (c == '\n')
            r->line++;
        else if (c != ' ' && c != '\t' && c != '\r')
            return;
        r->i++;
    }
}

/* The next significant character (0 at the end), not consumed. */
static char rj_peek(struct rj *r)
{
    rj_ws(r);
    return r->i < r->n ? r->s[r->i] : '\0';
}

static bool rj_expect(struct rj *r, char c, const char *what)
{
    char got = rj_peek(r);
    if (got != c)
        return got ? rj_fail(r, "expected %s, found '%c'", what, got)
                   : rj_fail(r, "expected %s, found the end of the file (truncated?)", what);
    r->i++;
    return true;
}

static bool rj_word(struct rj *r, const char *w)
{
    size_t k = strlen(w);
    if (r->n - r->i < k || memcmp(r->s + r->i, w, k) != 0)
        return false;
    r->i += k;
    return true;
}

/* Reads a string into out (cap bytes with the NUL; out NULL: skip). */
static bool rj_string(struct rj *r, char *out, size_t cap, const char *what)
{
    if (!rj_expect(r, '"', what))
        return false;
    size_t k = 0;
    while (r->i < r->n) {
        char c = r->s[r->i++];
        if (c == '"') {
            if (out)
                out[k] = '\0';
            return true;
        }
        if ((unsigned char)c < 0x20)
            return rj_fail(r, "control character inside a string");
        if (c == '\\') {
            if (r->i >= r->n)
                break;
            char e = r->s[r->i++];
            const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
            const char *at = strchr(from, e);
            if (e == 'u') {
                unsigned v = 0;
                for (int d = 0; d < 4; d++) {
                    char h = r->i < r->n ? r->s[r->i++] : '\0';
                    int x = h >= '0' && h <= '9'   ? h - '0'
                            : h >= 'a' && h <= 'f' ? h - 'a' + 10
                            : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                                   : -1;
                    if (x < 0)
                        return rj_fail(r, "bad \\u escape in a string");
                    v = v * 16 + (unsigned)x;
                }
                c = v < 0x80 ? (char)v : '?';
            } else if (e && at) {
                c = to[at - from];
            } else {
                return rj_fail(r, "bad escape \\%c in a string", e);
            }
        }
        if (out) {
            if (k + 1 >= cap)
                return rj_fail(r, "%s is too long (at most %zu bytes)", what, cap - 1);
            out[k++] = c;
        }
    }
    return rj_fail(r, "unterminated string (truncated?)");
}

/* Reads an integer in [lo, hi]. */
static bool rj_int(struct rj *r, int64_t lo, int64_t hi, int64_t *v, const char *what)
{
    char c = rj_peek(r);
    if (c != '-' && (c < '0' || c > '9'))
        return c == '"' ? rj_fail(r, "%s must be a number, not a string", what)
                        : rj_fail(r, "%s must be a number", what);
    bool neg = c == '-';
    if (neg)
        r->i++;
    int64_t x = 0;
    int digits = 0;
    while (r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9') {
        if (x > (INT64_MAX - 9) / 10)
            return rj_fail(r, "%s is out of range", what);
        x = x * 10 + (r->s[r->i++] - '0');
        digits++;
    }
    if (digits == 0)
        return rj_fail(r, "%s must be a number", what);
    if (r->i < r->n && (r->s[r->i] == '.' || r->s[r->i] == 'e' || r->s[r->i] == 'E'))
        return rj_fail(r, "%s must be a whole number", what);
    x = neg ? -x : x;
    if (x < lo || x > hi)
        return rj_fail(r, "%s %lld is out of range [%lld, %lld]", what, (long long)x, (long long)lo,
                       (long long)hi);
    *v = x;
    return true;
}

/* Skips any JSON value. */
static bool rj_skip(struct rj *r, int depth)
{
    if (depth > RJ_MAX_DEPTH)
        return rj_fail(r, "nested too deeply");
    char c = rj_peek(r);
    if (c == '"')
        return rj_string(r, NULL, 0, "a string");
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        r->i++;
        if (rj_peek(r) == close) {
            r->i++;
            return true;
        }
        for (;;) {
            if (c == '{' && (!rj_string(r, NULL, 0, "a key") || !rj_expect(r, ':', "':'")))
                return false;
            if (!rj_skip(r, depth + 1))
                return false;
            if (rj_peek(r) == ',') {
                r->i++;
                continue;
            }
            return rj_expect(r, close, close == '}' ? "',' or '}'" : "',' or ']'");
        }
    }
    if (rj_word(r, "true") || rj_word(r, "false") || rj_word(r, "null"))
        return true;
    if (c == '-' || (c >= '0' && c <= '9')) {
        r->i++;
        while (r->i < r->n && strchr("0123456789.eE+-", r->s[r->i]))
            r->i++;
        return true;
    }
    return c ? rj_fail(r, "unexpected '%c'", c) : rj_fail(r, "unexpected end of the file");
}

static bool rj_replicas(struct rj *r, struct reassign_entry *e)
{
    if (rj_peek(r) == 'n' && rj_word(r, "null")) {
        e->n_replicas = -1;
        return true;
    }
    if (rj_peek(r) != '[')
        return rj_fail(r, "\"replicas\" of %s-%d must be an array of broker ids (or null)",
                       e->topic, e->partition);
    r->i++;
    e->n_replicas = 0;
    if (rj_peek(r) == ']') {
        r->i++;
        return true;
    }
    for (;;) {
        int64_t v;
        if (e->n_replicas >= REASSIGN_MAX_REPLICAS)
            return rj_fail(r, "more than %d replicas", REASSIGN_MAX_REPLICAS);
        if (!rj_int(r, 0, INT32_MAX, &v, "a broker id"))
            return false;
        e->replicas[e->n_replicas++] = (int32_t)v;
        if (rj_peek(r) == ',') {
            r->i++;
            continue;
        }
        return rj_expect(r, ']', "',' or ']'");
    }
}

static bool rj_entry(struct rj *r, struct reassign_entry *e)
{
    *e = (struct reassign_entry){.partition = -1, .n_replicas = -2};
    int line = r->line;
    if (!rj_expect(r, '{', "'{' (a partition)"))
        return false;
    bool first = true;
    while (rj_peek(r) != '}') {
        if (!first && !rj_expect(r, ',', "',' or '}'"))
            return false;
        first = false;
        char key[32];
        if (!rj_string(r, key, sizeof(key), "a key") || !rj_expect(r, ':', "':'"))
            return false;
        int64_t v;
        if (strcmp(key, "topic") == 0) {
            if (rj_peek(r) != '"')
                return rj_fail(r, "\"topic\" must be a string");
            if (!rj_string(r, e->topic, sizeof(e->topic), "\"topic\""))
                return false;
            const char *why = topic_name_problem(e->topic, strlen(e->topic));
            if (why)
                return rj_fail(r, "topic '%s' is not a legal name: %s", e->topic, why);
        } else if (strcmp(key, "partition") == 0) {
            if (!rj_int(r, 0, INT32_MAX, &v, "\"partition\""))
                return false;
            e->partition = (int32_t)v;
        } else if (strcmp(key, "replicas") == 0) {
            if (!rj_replicas(r, e))
                return false;
        } else if (!rj_skip(r, 1)) { /* log_dirs and anything else */
            return false;
        }
    }
    r->i++;
    int at = r->line;
    r->line = line;
    bool ok = true;
    if (!e->topic[0])
        ok = rj_fail(r, "a partition without \"topic\"");
    else if (e->partition < 0)
        ok = rj_fail(r, "%s: no \"partition\"", e->topic);
    else if (e->n_replicas == -2)
        ok = rj_fail(r, "%s-%d: no \"replicas\"", e->topic, e->partition);
    r->line = at;
    return ok;
}

kerr_t reassign_json_parse(const char *text, size_t len, struct reassign_entry **out, int *n,
                           char *err, size_t errlen)
{
    struct rj r = {.s = text, .n = len, .line = 1, .err = err, .errlen = errlen};
    struct reassign_entry *v = NULL;
    size_t cap = 0;
    int cnt = 0;
    bool seen_parts = false;
    *out = NULL;
    *n = 0;
    if (!rj_expect(&r, '{', "'{' (the document must be a JSON object)"))
        goto fail;
    bool first = true;
    while (rj_peek(&r) != '}') {
        if (!first && !rj_expect(&r, ',', "',' or '}'"))
            goto fail;
        first = false;
        char key[32];
        if (!rj_string(&r, key, sizeof(key), "a key") || !rj_expect(&r, ':', "':'"))
            goto fail;
        if (strcmp(key, "version") == 0) {
            int64_t ver;
            if (!rj_int(&r, INT32_MIN, INT32_MAX, &ver, "\"version\""))
                goto fail;
            if (ver != 1) {
                rj_fail(&r, "unsupported \"version\" %lld (only 1)", (long long)ver);
                goto fail;
            }
        } else if (strcmp(key, "partitions") == 0) {
            seen_parts = true;
            if (rj_peek(&r) != '[') {
                rj_fail(&r, "\"partitions\" must be an array");
                goto fail;
            }
            r.i++;
            while (rj_peek(&r) != ']') {
                if (cnt > 0 && !rj_expect(&r, ',', "',' or ']'"))
                    goto fail;
                if (cnt >= REASSIGN_MAX_PARTITIONS) {
                    rj_fail(&r, "more than %d partitions", REASSIGN_MAX_PARTITIONS);
                    goto fail;
                }
                if (!VEC_RESERVE_AT(v, cap, (size_t)cnt + 1)) {
                    rj_fail(&r, "out of memory");
                    goto fail;
                }
                if (!rj_entry(&r, &v[cnt]))
                    goto fail;
                for (int k = 0; k < cnt; k++)
                    if (v[k].partition == v[cnt].partition &&
                        strcmp(v[k].topic, v[cnt].topic) == 0) {
                        rj_fail(&r, "%s-%d is listed twice", v[cnt].topic, v[cnt].partition);
                        goto fail;
                    }
                cnt++;
            }
            r.i++;
        } else if (!rj_skip(&r, 1)) {
            goto fail;
        }
    }
    r.i++;
    if (rj_peek(&r) != '\0') {
        rj_fail(&r, "unexpected text after the JSON object");
        goto fail;
    }
    if (!seen_parts) {
        rj_fail(&r, "no \"partitions\" array");
        goto fail;
    }
    *out = v;
    *n = cnt;
    return KERR_NONE;
fail:
    free(v);
    return KERR__INVALID;
}

size_t reassign_json_write(const struct reassign_entry *v, int n, char *buf, size_t cap)
{
    size_t k = 0;
#define RJ_PUT(...)                                                                                \
    do {                                                                                           \
        int w_ = snprintf(k < cap ? buf + k : NULL, k < cap ? cap - k : 0, __VA_ARGS__);           \
        if (w_ > 0)                                                                                \
            k += (size_t)w_;                                                                       \
    } while (0)
    RJ_PUT("{\"version\":1,\"partitions\":[");
    for (int i = 0; i < n; i++) {
        RJ_PUT("%s\n  {\"topic\":\"%s\",\"partition\":%d,\"replicas\":", i ? "," : "", v[i].topic,
               v[i].partition);
        if (v[i].n_replicas < 0) {
            RJ_PUT("null");
        } else {
            RJ_PUT("[");
            for (int r = 0; r < v[i].n_replicas; r++)
                RJ_PUT("%s%d", r ? "," : "", v[i].replicas[r]);
            RJ_PUT("]");
        }
        RJ_PUT("}");
    }
    RJ_PUT("\n]}\n");
#undef RJ_PUT
    return k;
}
