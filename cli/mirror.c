/*
 * cli/mirror.c — `gregor mirror`: copies the topics of a source cluster
 * whose names match a regular expression to a target cluster (any Kafka
 * protocol clusters), optionally renamed with a prefix, keeping each
 * record's partition, key, value, headers and timestamp; creates missing
 * target topics with the source's partition count and topic configs; picks
 * up new matching source topics; writes offset translations (checkpoints)
 * of the source's consumer groups to the target. Runs until SIGINT/SIGTERM.
 *
 * Exactly once across crashes: the target producer is transactional
 * (transactional.id "gregor-mirror-ALIAS", which implies idempotence).
 * Each transaction holds a batch of copied records and, for every
 * partition in it, a position record in the target's offsets topic saying
 * the next source offset to copy (formats in mirror.h). A session starts
 * with init_transactions, which aborts whatever transaction a previous
 * (killed) instance left open, then reads the positions back read_committed
 * and assigns the source partitions there. Copied records and positions are
 * thus committed together or not at all: no loss, no duplicates. Any error
 * in a session (commit failure, fencing, timeouts) ends it and a new one
 * starts from the target's positions after a second.
 *
 * Threads: main thread, plus mirror_metrics.c's HTTP thread and
 * librdkafka's; delivery reports run on the main thread (rd_kafka_flush).
 */
#include "cli/group.h"
#include "cli/mirror.h"

#include <inttypes.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MR_TXN_MAX_RECORDS 50000
#define MR_CALL_MS 15000

static volatile sig_atomic_t mr_stop;

static void mr_on_signal(int sig) { mr_stop = 1; }

enum {
    MO_SOURCE = 1,
    MO_TARGET,
    MO_TOPICS,
    MO_PREFIX,
    MO_ALIAS,
    MO_GROUPS,
    MO_METRICS,
    MO_RF,
    MO_REFRESH,
    MO_CHECKPOINT,
    MO_COMMIT,
};

static const struct cli_opt mirror_opts[] = {
    {"source", 's', true, MO_SOURCE},
    {"target", 't', true, MO_TARGET},
    {"topics", 0, true, MO_TOPICS},
    {"prefix", 0, true, MO_PREFIX},
    {"alias", 0, true, MO_ALIAS},
    {"groups", 0, true, MO_GROUPS},
    {"metrics-port", 0, true, MO_METRICS},
    {"replication-factor", 0, true, MO_RF},
    {"refresh-interval", 0, true, MO_REFRESH},
    {"checkpoint-interval", 0, true, MO_CHECKPOINT},
    {"commit-interval", 0, true, MO_COMMIT},
    {NULL, 0, false, 0},
};

static const char mirror_help[] =
    "Usage: gregor mirror --source HOST:PORT[,...] --target HOST:PORT[,...] [OPTIONS]\n"
    "Copies topics from the source cluster to the target until SIGINT/SIGTERM,\n"
    "exactly once across restarts (transactional target producer).\n"
    "  -s, --source SERVERS         bootstrap servers of the source cluster\n"
    "  -t, --target SERVERS         bootstrap servers of the target cluster\n"
    "      --topics REGEX           source topics to copy: POSIX extended regular\n"
    "                               expression matching the whole name (default .*);\n"
    "                               names starting with __ are never copied\n"
    "      --prefix P               target topic = P + source topic (default none)\n"
    "      --alias NAME             name of this mirror: transactional id\n"
    "                               gregor-mirror-NAME, key of its positions and\n"
    "                               checkpoints (default source)\n"
    "      --groups REGEX           source groups whose offsets are translated\n"
    "                               (default .*)\n"
    "      --metrics-port [ADDR:]N  serve GET /metrics on ADDR (default 0.0.0.0) port N\n"
    "      --replication-factor N   of created target topics (default -1: the\n"
    "                               target's default.replication.factor)\n"
    "      --refresh-interval MS    look for new source topics (default 10000)\n"
    "      --checkpoint-interval MS translate group offsets (default 5000)\n"
    "      --commit-interval MS     longest transaction (default 200)\n"
    "-X properties apply to the clients of both clusters.\n";

struct mr_opts {
    const char *source, *target, *topics, *prefix, *alias, *groups;
    char metrics_addr[256];
    int metrics_port;
    int64_t rf, refresh_ms, checkpoint_ms, commit_ms;
};

static int mr_opt(void *ctx, int id, const char *val)
{
    struct mr_opts *o = ctx;
    switch (id) {
    case MO_SOURCE:
        o->source = val;
        return CLI_OK;
    case MO_TARGET:
        o->target = val;
        return CLI_OK;
    case MO_TOPICS:
        o->topics = val;
        return CLI_OK;
    case MO_PREFIX:
        o->prefix = val;
        return CLI_OK;
    case MO_ALIAS:
        o->alias = val;
        return CLI_OK;
    case MO_GROUPS:
        o->groups = val;
        return CLI_OK;
    case MO_METRICS: {
        const char *colon = strrchr(val, ':');
        const char *port = colon ? colon + 1 : val;
        int64_t n;
        if (!cli_parse_int(port, 1, 65535, &n))
            return cli_usage_error("--metrics-port: expected [ADDR:]PORT, got '%s'", val);
        if (colon && (size_t)(colon - val) < sizeof(o->metrics_addr))
            snprintf(o->metrics_addr, sizeof(o->metrics_addr), "%.*s", (int)(colon - val), val);
        o->metrics_port = (int)n;
        return CLI_OK;
    }
    case MO_RF:
        if (!cli_parse_int(val, -1, 32767, &o->rf) || o->rf == 0)
            return cli_usage_error("--replication-factor: expected -1 or 1..32767, got '%s'", val);
        return CLI_OK;
    case MO_REFRESH:
    case MO_CHECKPOINT:
    case MO_COMMIT: {
        int64_t *dst = id == MO_REFRESH      ? &o->refresh_ms
                       : id == MO_CHECKPOINT ? &o->checkpoint_ms
                                             : &o->commit_ms;
        if (!cli_parse_int(val, 1, 86400000, dst))
            return cli_usage_error("expected milliseconds (1..86400000), got '%s'", val);
        return CLI_OK;
    }
    }
    return CLI_USAGE;
}

static int64_t mr_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One session: the clients and compiled patterns. */
struct mr_session {
    struct cli *cli;
    struct mirror *m;
    const struct mr_opts *o;
    regex_t *topics_re, *groups_re;
    rd_kafka_t *cons, *prod;
    char group_id[MIRROR_ALIAS_MAX + 32];
    int64_t next_refresh, next_checkpoint;
};

/* A configuration for one cluster: the CLI's (-X applied), then bootstrap. */
static rd_kafka_conf_t *mr_conf(struct cli *cli, const char *servers, const char *const *defaults)
{
    rd_kafka_conf_t *conf = cli_conf_new(cli, defaults);
    if (conf && cli_conf_set(conf, "--source/--target", "bootstrap.servers", servers) != CLI_OK) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

/* Delivery reports: pairs each copied record's target offset with its
 * source offset (produce order = report order per partition). */
static void mr_dr(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    struct mr_part *p = msg->_private;
    if (p == NULL) /* a position or checkpoint record */
        return;
    if (msg->err || p->npend >= p->npend_src) {
        p->failed = true;
        return;
    }
    if (p->npend == p->cap_pend) {
        size_t cap = p->cap_pend ? p->cap_pend * 2 : 256;
        struct mr_sync *np = realloc(p->pend, cap * sizeof(*np));
        if (np == NULL) {
            p->failed = true;
            return;
        }
        p->pend = np;
        p->cap_pend = cap;
    }
    p->pend[p->npend] = (struct mr_sync){p->pend_src[p->npend], msg->offset};
    p->npend++;
}

static void mr_pend_clear(struct mirror *m)
{
    for (size_t i = 0; i < m->nparts; i++) {
        m->parts[i].npend = m->parts[i].npend_src = 0;
        m->parts[i].pend_bytes = 0;
        m->parts[i].failed = false;
    }
}

/* CreateTopics of one topic on the target; TOPIC_ALREADY_EXISTS is fine. */
static int mr_create_topic(struct mr_session *s, rd_kafka_NewTopic_t *nt, const char *name)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(s->prod);
    rd_kafka_AdminOptions_t *ao =
        cli_admin_options(s->prod, RD_KAFKA_ADMIN_OP_CREATETOPICS, MR_CALL_MS);
    rd_kafka_CreateTopics(s->prod, &nt, 1, ao, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, MR_CALL_MS + 5000);
    int rc = CLI_FAIL;
    if (ev == NULL) {
        cli_warn("cannot create topic %s on the target: no answer", name);
    } else if (rd_kafka_event_error(ev)) {
        cli_warn("cannot create topic %s on the target: %s", name, rd_kafka_event_error_string(ev));
    } else {
        size_t n = 0;
        const rd_kafka_topic_result_t **tr =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        rd_kafka_resp_err_t err =
            n == 1 ? rd_kafka_topic_result_error(tr[0]) : RD_KAFKA_RESP_ERR__FAIL;
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
            rc = CLI_OK;
        else
            cli_warn("cannot create topic %s on the target: %s", name,
                     n == 1 && rd_kafka_topic_result_error_string(tr[0])
                         ? rd_kafka_topic_result_error_string(tr[0])
                         : rd_kafka_err2str(err));
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_queue_destroy(q);
    return rc;
}

/* Copies the source topic's own configs (set on the topic, not defaults)
 * into nt. Failing to read them is a warning: the topic is made anyway. */
static void mr_copy_configs(struct mr_session *s, const char *topic, rd_kafka_NewTopic_t *nt)
{
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
    rd_kafka_queue_t *q = rd_kafka_queue_new(s->cons);
    rd_kafka_AdminOptions_t *ao =
        cli_admin_options(s->cons, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, MR_CALL_MS);
    rd_kafka_DescribeConfigs(s->cons, &res, 1, ao, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, MR_CALL_MS + 5000);
    if (ev == NULL || rd_kafka_event_error(ev)) {
        cli_warn("cannot read the configs of source topic %s: %s", topic,
                 ev ? rd_kafka_event_error_string(ev) : "no answer");
    } else {
        size_t nres = 0, ncfg = 0;
        const rd_kafka_ConfigResource_t **rs = rd_kafka_DescribeConfigs_result_resources(
            rd_kafka_event_DescribeConfigs_result(ev), &nres);
        const rd_kafka_ConfigEntry_t **cfg =
            nres == 1 ? rd_kafka_ConfigResource_configs(rs[0], &ncfg) : NULL;
        for (size_t i = 0; i < ncfg; i++) {
            if (rd_kafka_ConfigEntry_source(cfg[i]) !=
                    RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG ||
                rd_kafka_ConfigEntry_value(cfg[i]) == NULL)
                continue;
            rd_kafka_NewTopic_set_config(nt, rd_kafka_ConfigEntry_name(cfg[i]),
                                         rd_kafka_ConfigEntry_value(cfg[i]));
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_queue_destroy(q);
    rd_kafka_ConfigResource_destroy(res);
}

/* The target's partition count of `topic`, waiting up to 10 s for a topic
 * just created to appear; -1 when it does not. */
static int mr_target_partitions(struct mr_session *s, const char *topic)
{
    int64_t end = mr_now_ms() + 10000;
    do {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(s->prod, topic, NULL);
        const struct rd_kafka_metadata *md = NULL;
        int n = -1;
        if (rkt && rd_kafka_metadata(s->prod, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
            n = md->topics[0].partition_cnt;
        if (md)
            rd_kafka_metadata_destroy(md);
        if (rkt)
            rd_kafka_topic_destroy(rkt);
        if (n > 0)
            return n;
        usleep(200 * 1000);
    } while (mr_now_ms() < end && !mr_stop);
    return -1;
}

/* Makes sure `dst` exists on the target with at least `nparts` partitions. */
static bool mr_ensure_target(struct mr_session *s, const char *src, const char *dst, int nparts)
{
    char err[256];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(dst, nparts, (int)s->o->rf, err, sizeof(err));
    if (nt == NULL) {
        cli_warn("cannot create topic %s on the target: %s", dst, err);
        return false;
    }
    mr_copy_configs(s, src, nt);
    int rc = mr_create_topic(s, nt, dst);
    rd_kafka_NewTopic_destroy(nt);
    if (rc != CLI_OK)
        return false;
    int have = mr_target_partitions(s, dst);
    if (have < nparts) {
        cli_warn("target topic %s has %d partitions, source topic %s has %d: not copied", dst, have,
                 src, nparts);
        return false;
    }
    return true;
}

static bool mr_topic_wanted(const struct mr_session *s, const char *name)
{
    if (strncmp(name, "__", 2) == 0)
        return false;
    if (s->o->prefix[0] && strncmp(name, s->o->prefix, strlen(s->o->prefix)) == 0)
        return false; /* a copy (mirroring a cluster into itself) */
    return regexec(s->topics_re, name, 0, NULL, 0) == 0;
}

/* Assigns every mirrored partition at its position (start: earliest). */
static void mr_assign(struct mr_session *s)
{
    struct mirror *m = s->m;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)m->nparts + 1);
    for (size_t i = 0; i < m->nparts; i++) {
        const struct mr_part *p = &m->parts[i];
        if (p->dst_topic[0])
            rd_kafka_topic_partition_list_add(l, p->src_topic, p->partition)->offset =
                p->committed >= 0 ? p->committed : RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_resp_err_t err = rd_kafka_assign(s->cons, l);
    if (err)
        cli_warn("cannot assign the source partitions: %s", rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(l);
}

/* Finds matching source topics not mirrored yet, creates their target
 * topics and assigns them. Called between transactions only. */
static void mr_refresh(struct mr_session *s)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(s->cons, 1, NULL, &md, MR_CALL_MS);
    if (err) {
        cli_warn("cannot list the source topics: %s", rd_kafka_err2str(err));
        return;
    }
    bool changed = false;
    for (int t = 0; t < md->topic_cnt && !mr_stop; t++) {
        const struct rd_kafka_metadata_topic *mt = &md->topics[t];
        if (mt->err || mt->partition_cnt <= 0 || !mr_topic_wanted(s, mt->topic))
            continue;
        bool known = true;
        pthread_mutex_lock(&s->m->lock);
        for (int i = 0; i < mt->partition_cnt && known; i++) {
            const struct mr_part *p = mr_part_find(s->m, mt->topic, i);
            known = p && p->dst_topic[0];
        }
        pthread_mutex_unlock(&s->m->lock);
        if (known)
            continue;
        char dst[512];
        snprintf(dst, sizeof(dst), "%s%s", s->o->prefix, mt->topic);
        if (!mr_ensure_target(s, mt->topic, dst, mt->partition_cnt))
            continue;
        pthread_mutex_lock(&s->m->lock);
        for (int i = 0; i < mt->partition_cnt; i++) {
            struct mr_part *p = mr_part_get(s->m, mt->topic, dst, i);
            if (p && p->dst_topic[0] == '\0') {
                char *d = strdup(dst);
                if (d) {
                    free(p->dst_topic);
                    p->dst_topic = d;
                }
            }
        }
        pthread_mutex_unlock(&s->m->lock);
        changed = true;
        fprintf(stderr, "gregor: mirroring %s (%d partitions) to %s\n", mt->topic,
                mt->partition_cnt, dst);
    }
    rd_kafka_metadata_destroy(md);
    if (changed)
        mr_assign(s);
}

/* Copies one source record into the open transaction. */
static int mr_copy(struct mr_session *s, rd_kafka_message_t *msg)
{
    if (msg->err) {
        if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF && s->cli->verbose)
            cli_warn("source: %s", rd_kafka_message_errstr(msg));
        return CLI_OK; /* transient: librdkafka retries */
    }
    struct mr_part *p = mr_part_find(s->m, rd_kafka_topic_name(msg->rkt), msg->partition);
    if (p == NULL || p->dst_topic[0] == '\0')
        return CLI_OK;
    if ((p->committed >= 0 && msg->offset < p->committed) ||
        (p->npend_src > 0 && msg->offset <= p->pend_src[p->npend_src - 1]))
        return CLI_OK; /* already copied */
    if (p->npend_src == p->cap_src) {
        size_t cap = p->cap_src ? p->cap_src * 2 : 256;
        int64_t *ns = realloc(p->pend_src, cap * sizeof(*ns));
        if (ns == NULL)
            return cli_fail("out of memory");
        p->pend_src = ns;
        p->cap_src = cap;
    }
    rd_kafka_headers_t *hdrs = NULL, *copy = NULL;
    if (rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR)
        copy = rd_kafka_headers_copy(hdrs);
    rd_kafka_timestamp_type_t tst;
    int64_t ts = rd_kafka_message_timestamp(msg, &tst);
    if (tst == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE)
        ts = 0;
    rd_kafka_resp_err_t err;
    for (;;) {
        if (copy)
            err = rd_kafka_producev(
                s->prod, RD_KAFKA_V_TOPIC(p->dst_topic), RD_KAFKA_V_PARTITION(p->partition),
                RD_KAFKA_V_KEY(msg->key, msg->key_len), RD_KAFKA_V_VALUE(msg->payload, msg->len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_TIMESTAMP(ts),
                RD_KAFKA_V_OPAQUE(p), RD_KAFKA_V_HEADERS(copy), RD_KAFKA_V_END);
        else
            err = rd_kafka_producev(
                s->prod, RD_KAFKA_V_TOPIC(p->dst_topic), RD_KAFKA_V_PARTITION(p->partition),
                RD_KAFKA_V_KEY(msg->key, msg->key_len), RD_KAFKA_V_VALUE(msg->payload, msg->len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_TIMESTAMP(ts),
                RD_KAFKA_V_OPAQUE(p), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || mr_stop)
            break;
        rd_kafka_poll(s->prod, 20);
    }
    if (err) {
        if (copy)
            rd_kafka_headers_destroy(copy);
        cli_warn("cannot produce to %s: %s", p->dst_topic, rd_kafka_err2str(err));
        return CLI_FAIL;
    }
    p->pend_src[p->npend_src++] = msg->offset;
    p->pend_bytes += (int64_t)(msg->key_len + msg->len);
    return CLI_OK;
}

/* Commits the open transaction; on failure aborts it. */
static int mr_commit(struct mr_session *s, const char *what)
{
    rd_kafka_error_t *e = rd_kafka_commit_transaction(s->prod, 60000);
    if (e == NULL)
        return CLI_OK;
    cli_warn("cannot commit the %s transaction: %s", what, rd_kafka_error_string(e));
    if (rd_kafka_error_txn_requires_abort(e)) {
        rd_kafka_error_t *a = rd_kafka_abort_transaction(s->prod, 30000);
        if (a)
            rd_kafka_error_destroy(a);
    }
    rd_kafka_error_destroy(e);
    return CLI_FAIL;
}

static int mr_begin(struct mr_session *s)
{
    rd_kafka_error_t *e = rd_kafka_begin_transaction(s->prod);
    if (e == NULL)
        return CLI_OK;
    cli_warn("cannot begin a transaction: %s", rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    return CLI_FAIL;
}

/* One transaction: `first` and what else arrives within --commit-interval,
 * with the positions of the partitions copied. */
static int mr_txn(struct mr_session *s, rd_kafka_message_t *first)
{
    struct mirror *m = s->m;
    if (mr_begin(s) != CLI_OK) {
        rd_kafka_message_destroy(first);
        return CLI_FAIL;
    }
    int rc = mr_copy(s, first);
    rd_kafka_message_destroy(first);
    int64_t end = mr_now_ms() + s->o->commit_ms;
    int n = 1;
    while (rc == CLI_OK && n < MR_TXN_MAX_RECORDS && !mr_stop) {
        int64_t left = end - mr_now_ms();
        if (left <= 0)
            break;
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(s->cons, (int)left);
        if (msg == NULL)
            continue;
        rc = mr_copy(s, msg);
        rd_kafka_message_destroy(msg);
        n++;
    }
    if (rc == CLI_OK && rd_kafka_flush(s->prod, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        cli_warn("the target did not acknowledge the copied records in 60 s");
        rc = CLI_FAIL;
    }
    for (size_t i = 0; rc == CLI_OK && i < m->nparts; i++) {
        struct mr_part *p = &m->parts[i];
        if (p->npend_src == 0)
            continue;
        if (p->failed || p->npend != p->npend_src) {
            cli_warn("copying %s [%" PRId32 "] failed", p->src_topic, p->partition);
            rc = CLI_FAIL;
            break;
        }
        struct mr_part next = *p;
        next.committed = p->pend_src[p->npend_src - 1] + 1;
        next.tgt_next = p->pend[p->npend - 1].tgt + 1;
        if (mr_position_produce(s->prod, m->alias, &next) != RD_KAFKA_RESP_ERR_NO_ERROR)
            rc = CLI_FAIL;
    }
    if (rc == CLI_OK)
        rc = mr_commit(s, "copy");
    else {
        rd_kafka_error_t *a = rd_kafka_abort_transaction(s->prod, 30000);
        if (a)
            rd_kafka_error_destroy(a);
    }
    if (rc == CLI_OK) {
        pthread_mutex_lock(&m->lock);
        for (size_t i = 0; i < m->nparts; i++) {
            struct mr_part *p = &m->parts[i];
            if (p->npend == 0)
                continue;
            for (size_t j = 0; j < p->npend; j++)
                mr_sync_add(p, p->pend[j].src, p->pend[j].tgt);
            p->committed = p->pend[p->npend - 1].src + 1;
            p->tgt_next = p->pend[p->npend - 1].tgt + 1;
            p->records += (int64_t)p->npend;
            p->bytes += p->pend_bytes;
        }
        pthread_mutex_unlock(&m->lock);
    }
    mr_pend_clear(m);
    return rc;
}

/* Updates each partition's lag from the source high watermarks the
 * consumer last saw. */
static void mr_update_lag(struct mr_session *s)
{
    pthread_mutex_lock(&s->m->lock);
    for (size_t i = 0; i < s->m->nparts; i++) {
        struct mr_part *p = &s->m->parts[i];
        int64_t lo = -1, hi = -1;
        if (p->dst_topic[0] &&
            rd_kafka_get_watermark_offsets(s->cons, p->src_topic, p->partition, &lo, &hi) ==
                RD_KAFKA_RESP_ERR_NO_ERROR &&
            hi >= 0)
            p->lag = hi - (p->committed >= 0 ? p->committed : (lo >= 0 ? lo : 0));
        if (p->lag < -1)
            p->lag = 0;
    }
    pthread_mutex_unlock(&s->m->lock);
}

/* Translates the committed offsets of the source's groups and writes them
 * as checkpoints in one transaction. Errors reading the source skip a
 * round; a failed transaction ends the session. */
static int mr_checkpoints(struct mr_session *s)
{
    struct grp_call c;
    grp_call_begin(s->cons, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS, &c);
    rd_kafka_ListConsumerGroups(s->cons, c.o, c.q);
    rd_kafka_event_t *ev =
        grp_call_end(s->cli, s->cons, &c, RD_KAFKA_EVENT_LISTCONSUMERGROUPS_RESULT,
                     "cannot list the groups of", "the source");
    if (ev == NULL)
        return CLI_OK;
    size_t ng = 0;
    const rd_kafka_ConsumerGroupListing_t **gl =
        rd_kafka_ListConsumerGroups_result_valid(rd_kafka_event_ListConsumerGroups_result(ev), &ng);
    int rc = CLI_OK;
    bool open = false;
    for (size_t g = 0; g < ng && rc == CLI_OK && !mr_stop; g++) {
        const char *group = rd_kafka_ConsumerGroupListing_group_id(gl[g]);
        if (strcmp(group, s->group_id) == 0 || regexec(s->groups_re, group, 0, NULL, 0) != 0)
            continue;
        rd_kafka_topic_partition_list_t *off = NULL;
        if (grp_committed(s->cli, s->cons, group, NULL, &off) != CLI_OK)
            continue;
        for (int i = 0; off && rc == CLI_OK && i < off->cnt; i++) {
            const rd_kafka_topic_partition_t *e = &off->elems[i];
            pthread_mutex_lock(&s->m->lock);
            const struct mr_part *p = mr_part_find(s->m, e->topic, e->partition);
            int64_t tgt = p && p->dst_topic[0] ? mr_translate(p, e->offset) : -1;
            char dst[512];
            snprintf(dst, sizeof(dst), "%s", p ? p->dst_topic : "");
            pthread_mutex_unlock(&s->m->lock);
            if (tgt < 0)
                continue;
            if (!open && (rc = mr_begin(s)) == CLI_OK)
                open = true;
            if (rc == CLI_OK &&
                mr_checkpoint_produce(s->prod, s->m->alias, group, dst, e->partition, tgt,
                                      e->offset) != RD_KAFKA_RESP_ERR_NO_ERROR)
                rc = CLI_FAIL;
        }
        if (off)
            rd_kafka_topic_partition_list_destroy(off);
    }
    rd_kafka_event_destroy(ev);
    if (open)
        rc = rc == CLI_OK ? mr_commit(s, "checkpoint") : CLI_FAIL;
    return rc;
}

/* Ensures the offsets topic exists on the target (compacted, 1 partition). */
static int mr_offsets_topic(struct mr_session *s)
{
    char err[256];
    rd_kafka_NewTopic_t *nt =
        rd_kafka_NewTopic_new(MIRROR_OFFSETS_TOPIC, 1, (int)s->o->rf, err, sizeof(err));
    if (nt == NULL)
        return cli_fail("cannot create %s: %s", MIRROR_OFFSETS_TOPIC, err);
    rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
    int rc = mr_create_topic(s, nt, MIRROR_OFFSETS_TOPIC);
    rd_kafka_NewTopic_destroy(nt);
    if (rc == CLI_OK && mr_target_partitions(s, MIRROR_OFFSETS_TOPIC) < 1)
        rc = CLI_FAIL;
    return rc;
}

static int mr_session_start(struct mr_session *s)
{
    char txn_id[MIRROR_ALIAS_MAX + 32];
    snprintf(txn_id, sizeof(txn_id), "gregor-mirror-%s", s->m->alias);
    const char *const pdef[] = {"transactional.id",       txn_id,  "linger.ms", "5",
                                "transaction.timeout.ms", "60000", NULL};
    rd_kafka_conf_t *pc = mr_conf(s->cli, s->o->target, pdef);
    if (pc == NULL)
        return CLI_FAIL;
    rd_kafka_conf_set_dr_msg_cb(pc, mr_dr);
    s->prod = cli_client_new(RD_KAFKA_PRODUCER, pc);
    if (s->prod == NULL)
        return CLI_FAIL;
    rd_kafka_error_t *e = rd_kafka_init_transactions(s->prod, 60000);
    if (e) {
        cli_warn("cannot start the target's transactions: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        return CLI_FAIL;
    }
    if (mr_offsets_topic(s) != CLI_OK)
        return CLI_FAIL;
    pthread_mutex_lock(&s->m->lock);
    for (size_t i = 0; i < s->m->nparts; i++)
        s->m->parts[i].committed = s->m->parts[i].tgt_next = -1;
    pthread_mutex_unlock(&s->m->lock);
    rd_kafka_conf_t *oc = mr_conf(s->cli, s->o->target, NULL);
    if (oc == NULL || mr_positions_load(s->cli, s->m, oc) != CLI_OK)
        return CLI_FAIL;
    const char *const cdef[] = {"group.id",
                                s->group_id,
                                "enable.auto.commit",
                                "false",
                                "isolation.level",
                                "read_committed",
                                "auto.offset.reset",
                                "earliest",
                                "enable.partition.eof",
                                "false",
                                NULL};
    rd_kafka_conf_t *cc = mr_conf(s->cli, s->o->source, cdef);
    if (cc == NULL)
        return CLI_FAIL;
    s->cons = cli_client_new(RD_KAFKA_CONSUMER, cc);
    if (s->cons == NULL)
        return CLI_FAIL;
    mr_assign(s); /* the partitions with positions, before any refresh */
    s->next_refresh = 0;
    s->next_checkpoint = mr_now_ms() + s->o->checkpoint_ms;
    return CLI_OK;
}

static void mr_session_end(struct mr_session *s)
{
    if (s->cons) {
        rd_kafka_consumer_close(s->cons);
        rd_kafka_destroy(s->cons);
    }
    if (s->prod)
        rd_kafka_destroy(s->prod);
    s->cons = s->prod = NULL;
    mr_pend_clear(s->m);
}

/* Runs one session until an error or a signal. */
static int mr_session(struct mr_session *s)
{
    int rc = mr_session_start(s);
    if (rc == CLI_OK) {
        pthread_mutex_lock(&s->m->lock);
        s->m->up = true;
        pthread_mutex_unlock(&s->m->lock);
    }
    while (rc == CLI_OK && !mr_stop) {
        int64_t now = mr_now_ms();
        if (now >= s->next_refresh) {
            mr_refresh(s);
            s->next_refresh = mr_now_ms() + s->o->refresh_ms;
        }
        if (now >= s->next_checkpoint) {
            rc = mr_checkpoints(s);
            s->next_checkpoint = mr_now_ms() + s->o->checkpoint_ms;
        }
        rd_kafka_message_t *msg = rc == CLI_OK ? rd_kafka_consumer_poll(s->cons, 100) : NULL;
        if (msg)
            rc = mr_txn(s, msg);
        rd_kafka_poll(s->prod, 0);
        mr_update_lag(s);
    }
    pthread_mutex_lock(&s->m->lock);
    s->m->up = false;
    pthread_mutex_unlock(&s->m->lock);
    mr_session_end(s);
    return rc;
}

static int mr_compile(const char *what, const char *pattern, regex_t *re)
{
    size_t len = strlen(pattern) + 8;
    char *full = malloc(len);
    if (full == NULL)
        return cli_fail("out of memory");
    snprintf(full, len, "^(%s)$", pattern);
    int err = regcomp(re, full, REG_EXTENDED | REG_NOSUB);
    free(full);
    if (err) {
        char msg[256];
        regerror(err, re, msg, sizeof(msg));
        return cli_usage_error("%s: bad regular expression '%s': %s", what, pattern, msg);
    }
    return CLI_OK;
}

static int mr_run(struct cli *cli, struct mr_opts *o)
{
    regex_t topics_re, groups_re;
    if (mr_compile("--topics", o->topics, &topics_re) != CLI_OK)
        return CLI_USAGE;
    if (mr_compile("--groups", o->groups, &groups_re) != CLI_OK) {
        regfree(&topics_re);
        return CLI_USAGE;
    }
    struct mirror m;
    memset(&m, 0, sizeof(m));
    pthread_mutex_init(&m.lock, NULL);
    m.alias = o->alias;
    int rc = CLI_OK;
    if (o->metrics_port > 0)
        rc =
            mr_metrics_start(&m, o->metrics_addr[0] ? o->metrics_addr : "0.0.0.0", o->metrics_port);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = mr_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    struct mr_session s = {
        .cli = cli, .m = &m, .o = o, .topics_re = &topics_re, .groups_re = &groups_re};
    snprintf(s.group_id, sizeof(s.group_id), "gregor-mirror-%s", o->alias);
    while (rc == CLI_OK && !mr_stop) {
        pthread_mutex_lock(&m.lock);
        m.sessions++;
        pthread_mutex_unlock(&m.lock);
        if (mr_session(&s) == CLI_OK || mr_stop)
            break;
        cli_warn("mirror session ended; starting again from the target's positions in 1 s");
        for (int i = 0; i < 10 && !mr_stop; i++)
            usleep(100 * 1000);
    }
    mr_metrics_stop();
    for (size_t i = 0; i < m.nparts; i++) {
        free(m.parts[i].src_topic);
        free(m.parts[i].dst_topic);
        free(m.parts[i].pend_src);
        free(m.parts[i].pend);
        free(m.parts[i].syncs);
    }
    free(m.parts);
    pthread_mutex_destroy(&m.lock);
    regfree(&topics_re);
    regfree(&groups_re);
    return rc;
}

int mirror_main(struct cli *cli, int argc, char **argv)
{
    struct mr_opts o = {.topics = ".*",
                        .prefix = "",
                        .alias = "source",
                        .groups = ".*",
                        .rf = -1,
                        .refresh_ms = 10000,
                        .checkpoint_ms = 5000,
                        .commit_ms = 200};
    int done, npos = cli_parse_cmd(cli, argc, argv, mirror_opts, mr_opt, &o, mirror_help, &done);
    if (npos < 0)
        return done;
    if (npos > 0)
        return cli_usage_positional(cli, "unexpected argument");
    if (o.source == NULL || o.target == NULL)
        return cli_usage_error("mirror: --source and --target are required");
    if (o.alias[0] == '\0' || strlen(o.alias) > MIRROR_ALIAS_MAX || strchr(o.alias, ' '))
        return cli_usage_error("--alias: expected 1..%d characters without spaces",
                               MIRROR_ALIAS_MAX);
    if (strchr(o.prefix, ' '))
        return cli_usage_error("--prefix: a topic name holds no spaces");
    return mr_run(cli, &o);
}
