/*
 * cli/mirror_offsets.c — the mirror's offsets topic on the target
 * (MIRROR_OFFSETS_TOPIC; record formats in mirror.h): reading the resume
 * positions at start, writing positions and checkpoints inside the
 * mirror's transactions, the per-partition offset translation pairs, and
 * reading checkpoints back for `gregor group reset-offsets --to-mirror`.
 *
 * Threads: main thread; callers hold mirror->lock where mirror.h says so.
 */
#include "cli/mirror.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MR_SYNCS_MAX 65536 /* translation pairs kept per partition */
#define MR_SCAN_TIMEOUT_MS 30000

struct mr_part *mr_part_find(struct mirror *m, const char *src_topic, int32_t partition)
{
    for (size_t i = 0; i < m->nparts; i++) {
        struct mr_part *p = &m->parts[i];
        if (p->partition == partition && strcmp(p->src_topic, src_topic) == 0)
            return p;
    }
    return NULL;
}

struct mr_part *mr_part_get(struct mirror *m, const char *src_topic, const char *dst_topic,
                            int32_t partition)
{
    struct mr_part *p = mr_part_find(m, src_topic, partition);
    if (p)
        return p;
    if (m->nparts == m->cap_parts) {
        size_t cap = m->cap_parts ? m->cap_parts * 2 : 16;
        struct mr_part *np = realloc(m->parts, cap * sizeof(*np));
        if (np == NULL)
            return NULL;
        m->parts = np;
        m->cap_parts = cap;
    }
    p = &m->parts[m->nparts];
    memset(p, 0, sizeof(*p));
    p->src_topic = strdup(src_topic);
    p->dst_topic = strdup(dst_topic);
    if (p->src_topic == NULL || p->dst_topic == NULL) {
        free(p->src_topic);
        free(p->dst_topic);
        return NULL;
    }
    p->partition = partition;
    p->committed = -1;
    p->tgt_next = -1;
    p->lag = -1;
    m->nparts++;
    return p;
}

void mr_sync_add(struct mr_part *p, int64_t src, int64_t tgt)
{
    if (p->nsyncs > 0 && p->syncs[p->nsyncs - 1].src >= src)
        return; /* only ascending pairs */
    if (p->nsyncs == MR_SYNCS_MAX) {
        size_t half = MR_SYNCS_MAX / 2;
        memmove(p->syncs, p->syncs + half, (p->nsyncs - half) * sizeof(*p->syncs));
        p->nsyncs -= half;
    }
    if (p->nsyncs == p->cap_syncs) {
        size_t cap = p->cap_syncs ? p->cap_syncs * 2 : 256;
        struct mr_sync *ns = realloc(p->syncs, cap * sizeof(*ns));
        if (ns == NULL)
            return; /* a pair less: translation falls back to older checkpoints */
        p->syncs = ns;
        p->cap_syncs = cap;
    }
    p->syncs[p->nsyncs++] = (struct mr_sync){src, tgt};
}

int64_t mr_translate(const struct mr_part *p, int64_t src)
{
    if (src < 0)
        return -1;
    if (p->committed >= 0 && src >= p->committed)
        return p->tgt_next; /* at (or past) what is mirrored: the target's mirrored end */
    if (p->nsyncs == 0 || src < p->syncs[0].src)
        return -1;
    size_t lo = 0, hi = p->nsyncs; /* first pair with pair.src >= src */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->syncs[mid].src < src)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < p->nsyncs ? p->syncs[lo].tgt : p->tgt_next;
}

rd_kafka_resp_err_t mr_position_produce(rd_kafka_t *prod, const char *alias,
                                        const struct mr_part *p)
{
    char key[512], val[64];
    int kl =
        snprintf(key, sizeof(key), "position %s %s %" PRId32, alias, p->src_topic, p->partition);
    int vl = snprintf(val, sizeof(val), "%" PRId64 " %" PRId64, p->committed, p->tgt_next);
    return rd_kafka_producev(prod, RD_KAFKA_V_TOPIC(MIRROR_OFFSETS_TOPIC), RD_KAFKA_V_PARTITION(0),
                             RD_KAFKA_V_KEY(key, (size_t)kl), RD_KAFKA_V_VALUE(val, (size_t)vl),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
}

rd_kafka_resp_err_t mr_checkpoint_produce(rd_kafka_t *prod, const char *alias, const char *group,
                                          const char *dst_topic, int32_t partition, int64_t tgt,
                                          int64_t src)
{
    char key[1024], val[64];
    int kl = snprintf(key, sizeof(key), "checkpoint %s %s %" PRId32 " %s", alias, dst_topic,
                      partition, group);
    if (kl < 0 || (size_t)kl >= sizeof(key))
        return RD_KAFKA_RESP_ERR__INVALID_ARG;
    int vl = snprintf(val, sizeof(val), "%" PRId64 " %" PRId64, tgt, src);
    return rd_kafka_producev(prod, RD_KAFKA_V_TOPIC(MIRROR_OFFSETS_TOPIC), RD_KAFKA_V_PARTITION(0),
                             RD_KAFKA_V_KEY(key, (size_t)kl), RD_KAFKA_V_VALUE(val, (size_t)vl),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
}

/* Calls fn for every committed record of the offsets topic, oldest first,
 * keys and values NUL-terminated copies. Takes conf. */
static int mr_scan(struct cli *cli, rd_kafka_conf_t *conf,
                   void (*fn)(void *ctx, const char *key, const char *val), void *ctx)
{
    static const char *const props[][2] = {
        {"isolation.level", "read_committed"},
        {"enable.partition.eof", "true"},
        {"enable.auto.commit", "false"},
        {"auto.offset.reset", "earliest"},
        {"group.id", "gregor-mirror-offsets-reader"}, /* assign() needs one; never joined */
    };
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++) {
        if (cli_conf_set(conf, "offsets reader", props[i][0], props[i][1]) != CLI_OK) {
            rd_kafka_conf_destroy(conf);
            return CLI_FAIL;
        }
    }
    rd_kafka_t *c = cli_client_new(RD_KAFKA_CONSUMER, conf);
    if (c == NULL)
        return CLI_FAIL;
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(tp, MIRROR_OFFSETS_TOPIC, 0)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t aerr = rd_kafka_assign(c, tp);
    rd_kafka_topic_partition_list_destroy(tp);
    if (aerr) {
        cli_warn("cannot read %s: %s", MIRROR_OFFSETS_TOPIC, rd_kafka_err2str(aerr));
        rd_kafka_destroy(c);
        return CLI_FAIL;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t end = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + MR_SCAN_TIMEOUT_MS;
    int rc = CLI_FAIL;
    char *key = NULL, *val = NULL;
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        if ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 > end) {
            cli_warn("cannot read %s: no end reached in %d s (%s)", MIRROR_OFFSETS_TOPIC,
                     MR_SCAN_TIMEOUT_MS / 1000, cli->last_error[0] ? cli->last_error : "no error");
            break;
        }
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(c, 200);
        if (msg == NULL)
            continue;
        if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rd_kafka_message_destroy(msg);
            rc = CLI_OK;
            break;
        }
        if (msg->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
            msg->err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION) {
            rd_kafka_message_destroy(msg);
            continue; /* a topic just created: its metadata is on its way */
        }
        if (msg->err) {
            rd_kafka_message_destroy(msg);
            continue; /* transient (a broker down): retried by librdkafka */
        }
        key = realloc(key, msg->key_len + 1);
        val = realloc(val, msg->len + 1);
        if (key && val) {
            memcpy(key, msg->key ? msg->key : "", msg->key_len);
            key[msg->key_len] = '\0';
            memcpy(val, msg->payload ? msg->payload : "", msg->len);
            val[msg->len] = '\0';
            fn(ctx, key, val);
        }
        rd_kafka_message_destroy(msg);
    }
    free(key);
    free(val);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    return rc;
}

struct mr_load_ctx {
    struct mirror *m;
    const char *prefix; /* "position ALIAS " */
    size_t prefix_len;
};

static void mr_load_one(void *ctx, const char *key, const char *val)
{
    struct mr_load_ctx *l = ctx;
    if (strncmp(key, l->prefix, l->prefix_len) != 0)
        return;
    char topic[256];
    int32_t part;
    int64_t src, tgt;
    if (sscanf(key + l->prefix_len, "%255s %" SCNd32, topic, &part) != 2 ||
        sscanf(val, "%" SCNd64 " %" SCNd64, &src, &tgt) != 2 || part < 0)
        return;
    pthread_mutex_lock(&l->m->lock);
    struct mr_part *p = mr_part_get(l->m, topic, "", part);
    if (p) {
        p->committed = src;
        p->tgt_next = tgt;
    }
    pthread_mutex_unlock(&l->m->lock);
}

int mr_positions_load(struct cli *cli, struct mirror *m, rd_kafka_conf_t *conf)
{
    char prefix[MIRROR_ALIAS_MAX + 16];
    snprintf(prefix, sizeof(prefix), "position %s ", m->alias);
    struct mr_load_ctx l = {m, prefix, strlen(prefix)};
    int rc = mr_scan(cli, conf, mr_load_one, &l);
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->nparts; i++) {
        struct mr_part *p = &m->parts[i];
        p->nsyncs = 0;
        if (p->committed >= 0 && p->tgt_next >= 0)
            mr_sync_add(p, p->committed, p->tgt_next);
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

struct mr_ckpt_ctx {
    const char *prefix; /* "checkpoint ALIAS " */
    size_t prefix_len;
    const char *group;
    bool (*want_topic)(void *ctx, const char *topic);
    void *want_ctx;
    struct gp_undo *u;
    size_t cap;
    bool oom;
};

static void mr_ckpt_one(void *ctx, const char *key, const char *val)
{
    struct mr_ckpt_ctx *c = ctx;
    if (strncmp(key, c->prefix, c->prefix_len) != 0)
        return;
    char topic[256];
    int32_t part;
    int n = 0;
    int64_t tgt, src;
    if (sscanf(key + c->prefix_len, "%255s %" SCNd32 " %n", topic, &part, &n) != 2 || n == 0 ||
        strcmp(key + c->prefix_len + n, c->group) != 0 ||
        sscanf(val, "%" SCNd64 " %" SCNd64, &tgt, &src) != 2 || part < 0 || tgt < 0)
        return;
    if (c->want_topic && !c->want_topic(c->want_ctx, topic))
        return;
    struct gp_undo *u = c->u;
    for (size_t i = 0; i < u->n; i++) {
        if (u->parts[i].partition == part && strcmp(u->parts[i].topic, topic) == 0) {
            u->parts[i].target = tgt; /* a later checkpoint replaces the earlier */
            return;
        }
    }
    if (u->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        struct gp_part *np = realloc(u->parts, cap * sizeof(*np));
        if (np == NULL) {
            c->oom = true;
            return;
        }
        u->parts = np;
        c->cap = cap;
    }
    struct gp_part *p = &u->parts[u->n];
    memset(p, 0, sizeof(*p));
    p->topic = strdup(topic);
    if (p->topic == NULL) {
        c->oom = true;
        return;
    }
    p->partition = part;
    p->target = tgt;
    u->n++;
}

int mr_checkpoints_read(struct cli *cli, const char *alias, const char *group,
                        bool (*want_topic)(void *ctx, const char *topic), void *ctx,
                        struct gp_undo *u)
{
    memset(u, 0, sizeof(*u));
    if (strlen(alias) > MIRROR_ALIAS_MAX || strchr(alias, ' '))
        return cli_fail("--to-mirror: '%s' is not a mirror alias", alias);
    u->group = strdup(group);
    if (u->group == NULL)
        return cli_fail("out of memory");
    rd_kafka_conf_t *conf = cli_conf_new(cli, NULL);
    if (conf == NULL)
        return CLI_USAGE;
    char prefix[MIRROR_ALIAS_MAX + 16];
    snprintf(prefix, sizeof(prefix), "checkpoint %s ", alias);
    struct mr_ckpt_ctx c = {prefix, strlen(prefix), group, want_topic, ctx, u, 0, false};
    int rc = mr_scan(cli, conf, mr_ckpt_one, &c);
    if (rc != CLI_OK)
        return cli_fail("cannot read the checkpoints of mirror '%s' in %s", alias,
                        MIRROR_OFFSETS_TOPIC);
    if (c.oom)
        return cli_fail("out of memory");
    if (u->n == 0)
        return cli_fail("no checkpoint of group '%s' from mirror '%s' in %s", group, alias,
                        MIRROR_OFFSETS_TOPIC);
    return CLI_OK;
}
