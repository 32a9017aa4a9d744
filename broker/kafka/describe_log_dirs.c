/*
 * broker/kafka/describe_log_dirs.c — DescribeLogDirs (key 35, v0-v4; v2+
 * flexible).
 *
 * Request: topics (nullable: null = every replica on this broker) [topic
 * string, partitions int32[]].
 * Response: throttle_time_ms int32, error_code int16 (v3+), results [
 * error_code int16, log_dir string, topics [name string, partitions [
 * partition_index int32, partition_size int64, offset_lag int64,
 * is_future_key bool]], total_bytes int64 (v4+), usable_bytes int64 (v4+)].
 *
 * The answer is about the replicas on THIS broker (clients ask each broker),
 * one result per log directory: Gregor uses one (the first of log.dirs), so
 * there is one result, its path made absolute. A directory that is gone or
 * not writable is reported as Kafka reports an offline log dir:
 * KAFKA_STORAGE_ERROR with no topics (total/usable -1). Sizes are the log's
 * running total of its segment files (partition_log_dir_info(), no stat
 * per segment); total/usable bytes come from statvfs(2) of the directory
 * (usable: the blocks available to unprivileged users, as Java's
 * File.getUsableSpace()). Offset lag: 0 on the leader; on a follower the
 * leader's high watermark (from its last fetch answer) minus this log's
 * end offset, never below 0. Topics and partitions asked for but not
 * hosted here are left out, as Kafka does; duplicates are answered once.
 * Runs on the network loop: the topic registry's read lock and each
 * partition's lock, briefly, as other handlers take them.
 */
#include "broker/kafka/authz.h"
#include "broker/kafka/dispatch.h"
#include "broker/core/broker.h"
#include "broker/replication/topics.h"
#include "common/vec.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* One requested topic: its partitions are int32s read from the frame. */
struct dld_topic {
    struct kstr name;
    const uint8_t *parts; /* n big-endian int32s, into the request frame */
    int32_t n;
};

struct dld_query {
    bool all;
    struct dld_topic *topics; /* owned, sorted by name */
    int n;
    size_t cap;
};

static int dld_cmp(const void *a, const void *b)
{
    const struct dld_topic *x = a, *y = b;
    size_t n = (size_t)MIN(x->name.len, y->name.len);
    int c = memcmp(x->name.ptr, y->name.ptr, n);
    if (c)
        return c;
    return x->name.len < y->name.len ? -1 : x->name.len > y->name.len;
}

static bool dld_decode(struct req *req, struct dld_query *q)
{
    struct kslice *s = &req->body;
    bool flex = req->flex;
    int32_t nt = kw_get_array_len(s, flex, 2);
    q->all = nt < 0;
    for (int32_t i = 0; i < nt && kslice_ok(s); i++) {
        struct dld_topic t;
        t.name = kw_get_str(s, flex);
        t.n = kw_get_array_len(s, flex, 4);
        if (!kslice_ok(s) || !t.name.ptr || t.n < 0)
            return false;
        t.parts = s->p + s->pos;
        kslice_skip(s, (size_t)t.n * 4);
        kw_skip_tags(s, flex);
        if (!VEC_RESERVE_AT(q->topics, q->cap, (size_t)q->n + 1))
            return false;
        q->topics[q->n++] = t;
    }
    kw_skip_tags(s, flex);
    if (!kslice_ok(s))
        return false;
    if (q->n > 1)
        qsort(q->topics, (size_t)q->n, sizeof(*q->topics), dld_cmp);
    return true;
}

static int32_t be32_at(const uint8_t *p)
{
    return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}

/* Writes the partitions of t that have a local log and, unless want is
 * NULL, are marked in want (t->n_parts entries). Returns how many. */
static int32_t put_partitions(struct kbuf *o, bool flex, struct topic *t, const bool *want,
                              int32_t n_parts)
{
    size_t at = kw_reserve_array_len(o, flex);
    int32_t n = 0;
    for (int32_t p = 0; p < n_parts; p++) {
        int64_t size, lag;
        if (want && !want[p])
            continue;
        if (!partition_log_dir_info(topic_part(t, p), &size, &lag))
            continue;
        kbuf_put_i32(o, p);
        kbuf_put_i64(o, size);
        kbuf_put_i64(o, lag);
        kbuf_put_u8(o, 0); /* is_future_key: no AlterReplicaLogDirs */
        kw_put_tags(o, flex);
        n++;
    }
    kw_patch_array_len(o, flex, at, n);
    return n;
}

/* Writes one topic entry (name, partitions) unless it has no partition to
 * report: then out is rolled back. Returns whether it was written. */
static bool put_topic(struct kbuf *o, bool flex, struct topic *t, const bool *want)
{
    size_t mark = o->len;
    kw_put_str(o, flex, t->name);
    int32_t n_parts = atomic_load(&t->n_parts);
    if (put_partitions(o, flex, t, want, n_parts) == 0) {
        o->len = mark;
        return false;
    }
    kw_put_tags(o, flex);
    return true;
}

/* The topics array of the one log dir. Returns false on OOM. */
static bool put_topics(struct req *req, const struct dld_query *q)
{
    struct kbuf *o = &req->out;
    bool flex = req->flex;
    size_t at = kw_reserve_array_len(o, flex);
    int32_t n = 0;
    if (q->all) {
        int nt = 0;
        struct topic **list = topics_list(req->broker->topics, &nt);
        if (!list && nt > 0)
            return false;
        for (int i = 0; i < nt; i++)
            n += put_topic(o, flex, list[i], NULL);
        topics_list_free(list, nt);
    } else {
        for (int i = 0; i < q->n; i++) {
            if (i > 0 && dld_cmp(&q->topics[i - 1], &q->topics[i]) == 0)
                continue; /* answered with the first of its name */
            struct kstr name = q->topics[i].name;
            struct topic *t = topics_get(req->broker->topics, name.ptr, (size_t)name.len);
            if (!t)
                continue; /* not hosted here: left out, as Kafka does */
            int32_t n_parts = atomic_load(&t->n_parts);
            bool *want = calloc((size_t)n_parts + 1, sizeof(bool));
            if (!want) {
                topic_unref(t);
                return false;
            }
            for (int j = i; j < q->n && dld_cmp(&q->topics[i], &q->topics[j]) == 0; j++)
                for (int32_t k = 0; k < q->topics[j].n; k++) {
                    int32_t p = be32_at(q->topics[j].parts + 4 * k);
                    if (p >= 0 && p < n_parts)
                        want[p] = true;
                }
            n += put_topic(o, flex, t, want);
            free(want);
            topic_unref(t);
        }
    }
    kw_patch_array_len(o, flex, at, n);
    return true;
}

/* The log dir's absolute path into buf. */
static const char *abs_dir(const char *dir, char *buf, size_t n)
{
    char cwd[PATH_MAX];
    if (dir[0] == '/' || !getcwd(cwd, sizeof(cwd)))
        snprintf(buf, n, "%s", dir);
    else
        snprintf(buf, n, "%s/%s", cwd, dir);
    return buf;
}

/* Whether the directory is there and writable; fills total/usable bytes
 * (-1 when unknown). */
static bool dir_online(const char *dir, int64_t *total, int64_t *usable)
{
    struct stat st;
    struct statvfs vfs;
    *total = *usable = -1;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || access(dir, W_OK | X_OK) != 0)
        return false;
    if (statvfs(dir, &vfs) == 0) {
        if (vfs.f_flag & ST_RDONLY)
            return false;
        *total = (int64_t)vfs.f_blocks * (int64_t)vfs.f_frsize;
        *usable = (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize;
    }
    return true;
}

kerr_t handle_describe_log_dirs(struct req *req)
{
    struct dld_query q = {0};
    if (!dld_decode(req, &q)) {
        free(q.topics);
        return KERR__CLOSE;
    }
    struct kbuf *o = &req->out;
    bool flex = req->flex;
    int16_t v = req->api_version;
    if (!authz_cluster(req, ACL_OP_DESCRIBE)) { /* Kafka answers no directories */
        free(q.topics);
        kbuf_put_i32(o, 0);
        if (v >= 3)
            kbuf_put_i16(o, KERR_CLUSTER_AUTHORIZATION_FAILED);
        kw_put_array_len(o, flex, 0);
        kw_put_tags(o, flex);
        return KERR_NONE;
    }
    char path[PATH_MAX + 64];
    int64_t total, usable;
    bool online = dir_online(req->broker->data_dir, &total, &usable);

    kbuf_put_i32(o, 0); /* throttle_time_ms */
    if (v >= 3)
        kbuf_put_i16(o, KERR_NONE);
    kw_put_array_len(o, flex, 1);
    kbuf_put_i16(o, online ? KERR_NONE : KERR_KAFKA_STORAGE_ERROR);
    kw_put_str(o, flex, abs_dir(req->broker->data_dir, path, sizeof(path)));
    bool ok = true;
    if (online)
        ok = put_topics(req, &q);
    else
        kw_put_array_len(o, flex, 0);
    free(q.topics);
    if (!ok)
        return KERR__NOMEM;
    if (v >= 4) {
        kbuf_put_i64(o, total);
        kbuf_put_i64(o, usable);
    }
    kw_put_tags(o, flex); /* the result */
    kw_put_tags(o, flex); /* the response */
    return KERR_NONE;
}
