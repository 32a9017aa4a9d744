/*
 * controller/zk/zk_store_pid.c — producer id blocks in ZooKeeper, as Kafka's
 * ZooKeeper mode keeps them (see zk_store.h).
 *
 * Owns /latest_producer_id_block: persistent, payload Kafka's JSON
 * {"version":1,"broker":<id>,"block_start":"<n>","block_end":"<n>"} with the
 * two ids written as decimal strings. It names the latest block any broker
 * claimed; a claim reads it and writes the following block conditional on
 * the version read, so concurrent claims by different brokers never get
 * overlapping ranges.
 */
#include "controller/zk/zk_store_int.h"
#include "common/say.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PID_JSON_MAX 256
#define PID_CLAIM_RETRIES 50 /* conflicts only happen when brokers claim at once */

int zk_pid_block_encode(const struct zk_pid_block *b, char *buf, size_t cap)
{
    int n = snprintf(buf, cap,
                     "{\"version\":1,\"broker\":%" PRId32 ",\"block_start\":\"%" PRId64
                     "\",\"block_end\":\"%" PRId64 "\"}",
                     b->broker, b->start, b->end);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

/* A minimal reader for the flat object above: finds "key" at the top level
 * and returns a pointer to its value (after the colon and spaces), or NULL. */
static const char *json_find(const char *s, const char *key)
{
    size_t kl = strlen(key);
    int depth = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '{' || *p == '[') {
            depth++;
        } else if (*p == '}' || *p == ']') {
            depth--;
        } else if (*p == '"') {
            const char *q = strchr(p + 1, '"');
            if (!q)
                return NULL;
            bool is_key = depth == 1 && (size_t)(q - p - 1) == kl && !memcmp(p + 1, key, kl);
            p = q;
            const char *v = q + 1;
            while (isspace((unsigned char)*v))
                v++;
            if (*v != ':')
                continue;
            if (is_key) {
                v++;
                while (isspace((unsigned char)*v))
                    v++;
                return v;
            }
        }
    }
    return NULL;
}

/* Parses an int64 at v, quoted ("123") when quoted is true, else bare. */
static bool json_i64(const char *v, bool quoted, int64_t *out)
{
    if (!v)
        return false;
    if (quoted) {
        if (*v != '"')
            return false;
        v++;
    }
    if (!isdigit((unsigned char)*v) && *v != '-')
        return false;
    errno = 0;
    char *end = NULL;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v)
        return false;
    if (quoted && *end != '"')
        return false;
    if (!quoted && *end && *end != ',' && *end != '}' && !isspace((unsigned char)*end))
        return false;
    *out = (int64_t)x;
    return true;
}

kerr_t zk_pid_block_decode(const char *json, size_t len, struct zk_pid_block *b)
{
    if (len == 0 || len >= PID_JSON_MAX)
        return KERR__CORRUPT;
    char s[PID_JSON_MAX];
    memcpy(s, json, len);
    s[len] = '\0';
    if (memchr(s, '\0', len))
        return KERR__CORRUPT;
    const char *p = s;
    while (isspace((unsigned char)*p))
        p++;
    if (*p != '{')
        return KERR__CORRUPT;
    int64_t version, broker, start, end;
    if (!json_i64(json_find(s, "version"), false, &version) || version != 1)
        return KERR__CORRUPT;
    if (!json_i64(json_find(s, "broker"), false, &broker) || broker < 0 || broker > INT32_MAX)
        return KERR__CORRUPT;
    if (!json_i64(json_find(s, "block_start"), true, &start) ||
        !json_i64(json_find(s, "block_end"), true, &end))
        return KERR__CORRUPT;
    if (start < 0 || end < start)
        return KERR__CORRUPT;
    b->broker = (int32_t)broker;
    b->start = start;
    b->end = end;
    return KERR_NONE;
}

kerr_t zk_store_claim_pid_block(struct zk_store *zs, int32_t broker_id, int64_t size,
                                struct zk_pid_block *out)
{
    if (size <= 0)
        return KERR__INVALID;
    kerr_t err = zs_enter(zs);
    if (err != KERR_NONE)
        return err;
    for (int attempt = 0; attempt < PID_CLAIM_RETRIES; attempt++) {
        uint8_t *data = NULL;
        int n = 0;
        struct Stat st;
        int rc = zs_read(zs->zh, ZK_PATH_PRODUCER_ID_BLOCK, &data, &n, &st);
        if (rc != ZOK && rc != ZNONODE)
            return zs_leave(zs, zs_err(rc, "get", ZK_PATH_PRODUCER_ID_BLOCK));
        int64_t next = 0;
        if (rc == ZOK && n > 0) {
            struct zk_pid_block cur;
            err = zk_pid_block_decode((const char *)data, (size_t)n, &cur);
            if (err != KERR_NONE) {
                say_error("zk", "unreadable producer id block path=%s len=%d: not claiming",
                          ZK_PATH_PRODUCER_ID_BLOCK, n);
                free(data);
                return zs_leave(zs, KERR__CORRUPT);
            }
            next = cur.end + 1;
        }
        free(data);
        if (next < 0 || next > INT64_MAX - size) {
            say_error("zk", "producer id space exhausted path=%s", ZK_PATH_PRODUCER_ID_BLOCK);
            return zs_leave(zs, KERR__INVALID);
        }
        struct zk_pid_block nb = {.broker = broker_id, .start = next, .end = next + size - 1};
        char json[PID_JSON_MAX];
        int jl = zk_pid_block_encode(&nb, json, sizeof(json));
        if (jl < 0)
            return zs_leave(zs, KERR__INVALID);
        if (rc == ZNONODE)
            rc = zoo_create(zs->zh, ZK_PATH_PRODUCER_ID_BLOCK, json, jl,
                            zs_acl(zs, ZK_PATH_PRODUCER_ID_BLOCK), 0, NULL, 0);
        else
            rc = zoo_set(zs->zh, ZK_PATH_PRODUCER_ID_BLOCK, json, jl, st.version);
        if (rc == ZOK) {
            *out = nb;
            return zs_leave(zs, KERR_NONE);
        }
        if (rc != ZBADVERSION && rc != ZNODEEXISTS && rc != ZNONODE)
            return zs_leave(zs, zs_err(rc, "set", ZK_PATH_PRODUCER_ID_BLOCK));
        /* another broker claimed in between: read again */
    }
    say_warn("zk", "producer id block claim kept conflicting path=%s attempts=%d",
             ZK_PATH_PRODUCER_ID_BLOCK, PID_CLAIM_RETRIES);
    return zs_leave(zs, KERR__EXISTS);
}
