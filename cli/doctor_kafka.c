/*
 * cli/doctor_kafka.c — the Kafka-side checks of `gregor doctor`
 * (doctor.h): everything learnt through the Kafka protocol from where the
 * user stands.
 *
 * librdkafka's Metadata of every topic gives the brokers and partitions.
 * Then each advertised listener is resolved (getaddrinfo) and connected to
 * with the raw client (kraw.h), and on that connection the broker is asked
 * for its Metadata v1 (the controller it knows), DescribeConfigs v1 of its
 * BROKER resource (config drift, zookeeper.connect) and DescribeLogDirs
 * (space per log dir). DescribeConfigs v1 of every topic (min.insync.replicas)
 * goes to the first reachable broker. Wire formats are Kafka's schemas, as
 * cluster_config.c and cluster_log_dirs.c describe them.
 *
 * Findings (ids are stable): bootstrap.unreachable, listener.unresolvable,
 * listener.unreachable, controller.none, controller.disagree,
 * partition.offline, partition.under_replicated, leader.not_preferred,
 * topic.rf1, topic.min_isr_unreachable, topic.min_isr_equals_rf,
 * internal.rf_low, logdir.offline, disk.full, disk.low, config.drift.
 */
#include "cli/doctor.h"
#include "cli/kraw.h"

#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/kwire.h"

#define DRK_TIMEOUT_MS 3000
#define DRK_RES_TOPIC 2
#define DRK_RES_BROKER 4
#define DRK_DISK_ERROR_PCT 5    /* usable below this share of total: error */
#define DRK_DISK_WARNING_PCT 15 /* below this: warning */

/* Broker keys whose values should be the same on every broker: a
 * difference makes topics behave differently depending on the broker
 * that created or leads them. */
static const char *const drk_cluster_keys[] = {
    "default.replication.factor",
    "min.insync.replicas",
    "num.partitions",
    "auto.create.topics.enable",
    "unclean.leader.election.enable",
    "delete.topic.enable",
    "auto.leader.rebalance.enable",
    "log.retention.ms",
    "log.retention.hours",
    "log.retention.bytes",
    "log.segment.bytes",
    "log.cleanup.policy",
    "log.message.timestamp.type",
    "message.max.bytes",
    "compression.type",
    "offsets.topic.replication.factor",
    "transaction.state.log.replication.factor",
    "transaction.state.log.min.isr",
    "replica.lag.time.max.ms",
    "zookeeper.session.timeout.ms",
    NULL,
};
#define DRK_NKEYS (sizeof(drk_cluster_keys) / sizeof(drk_cluster_keys[0]) - 1)

/* Per broker, the values of drk_cluster_keys ("" when not listed). */
struct drk_state {
    struct doctor *d;
    const struct rd_kafka_metadata *md;
    char vals[DR_MAX_BROKERS][DRK_NKEYS][128];
    int32_t controllers[DR_MAX_BROKERS]; /* per broker index: the controller it names */
};

static bool drk_is_internal(const char *topic) { return topic[0] == '_' && topic[1] == '_'; }

/* Sends Metadata v1 with no topics on k; returns the controller id the
 * broker names, -1 for none, -2 when the call failed. */
static int32_t drk_controller(struct kraw *k)
{
    struct kbuf body;
    uint8_t *resp = NULL;
    size_t len = 0;
    int32_t ctl = -2;
    kbuf_init(&body);
    kw_put_array_len(&body, false, 0);
    if (kraw_call(k, API_METADATA, 1, &body, &resp, &len) == KRAW_OK) {
        struct kslice s;
        kslice_init(&s, resp, len);
        int32_t n = kw_get_array_len(&s, false, 12);
        for (int32_t i = 0; i < n && kslice_ok(&s); i++) {
            (void)kslice_i32(&s);
            (void)kw_get_str(&s, false);
            (void)kslice_i32(&s);
            (void)kw_get_str(&s, false);
        }
        int32_t c = kslice_i32(&s);
        if (kslice_ok(&s))
            ctl = c;
    }
    free(resp);
    kbuf_destroy(&body);
    return ctl;
}

/* Called per config entry of a DescribeConfigs answer. */
typedef void (*drk_entry_cb)(void *ctx, const char *resource, const char *name, const char *value);

/* DescribeConfigs v1 of resources names[0..n) of `type` on k; every entry
 * goes to cb. False when the call failed or the answer is malformed. */
static bool drk_describe_configs(struct kraw *k, int8_t type, const char *const *names, int n,
                                 drk_entry_cb cb, void *ctx)
{
    struct kbuf body;
    uint8_t *resp = NULL;
    size_t len = 0;
    bool ok = false;
    kbuf_init(&body);
    kw_put_array_len(&body, false, n);
    for (int i = 0; i < n; i++) {
        kbuf_put_u8(&body, (uint8_t)type);
        kw_put_str(&body, false, names[i]);
        kw_put_array_len(&body, false, -1);
    }
    kbuf_put_u8(&body, 0); /* include_synonyms */
    if (kraw_call(k, API_DESCRIBE_CONFIGS, 1, &body, &resp, &len) == KRAW_OK) {
        struct kslice s;
        kslice_init(&s, resp, len);
        (void)kslice_i32(&s);
        int32_t nr = kw_get_array_len(&s, false, 8);
        for (int32_t r = 0; r < nr && kslice_ok(&s); r++) {
            (void)kslice_i16(&s);
            (void)kw_get_str(&s, false); /* message */
            (void)kslice_u8(&s);
            char res[256], name[256], value[512];
            if (!kstr_copy(kw_get_str(&s, false), res, sizeof(res)))
                res[0] = '\0';
            int32_t nc = kw_get_array_len(&s, false, 8);
            for (int32_t c = 0; c < nc && kslice_ok(&s); c++) {
                struct kstr kn = kw_get_str(&s, false), kv = kw_get_str(&s, false);
                (void)kslice_u8(&s); /* read_only */
                (void)kslice_u8(&s); /* source */
                (void)kslice_u8(&s); /* sensitive */
                int32_t ns = kw_get_array_len(&s, false, 5);
                for (int32_t y = 0; y < ns && kslice_ok(&s); y++) {
                    (void)kw_get_str(&s, false);
                    (void)kw_get_str(&s, false);
                    (void)kslice_u8(&s);
                }
                if (kslice_ok(&s) && kstr_copy(kn, name, sizeof(name))) {
                    if (kstr_is_null(kv) || !kstr_copy(kv, value, sizeof(value)))
                        value[0] = '\0';
                    cb(ctx, res, name, value);
                }
            }
        }
        ok = kslice_ok(&s);
    }
    free(resp);
    kbuf_destroy(&body);
    return ok;
}

struct drk_broker_ctx {
    struct drk_state *st;
    int bi;
};

static void drk_broker_entry(void *ctx, const char *resource, const char *name, const char *value)
{
    struct drk_broker_ctx *c = ctx;
    if (strcmp(name, "zookeeper.connect") == 0)
        snprintf(c->st->d->brokers[c->bi].zk_connect, sizeof(c->st->d->brokers[c->bi].zk_connect),
                 "%s", value);
    for (size_t i = 0; i < DRK_NKEYS; i++)
        if (strcmp(name, drk_cluster_keys[i]) == 0)
            snprintf(c->st->vals[c->bi][i], sizeof(c->st->vals[c->bi][i]), "%s", value);
}

/* DescribeLogDirs on k: findings for offline dirs and low space. */
static void drk_log_dirs(struct doctor *d, struct kraw *k, const struct dr_broker *b)
{
    int16_t max = -1;
    if (kraw_api_max_version(k, API_DESCRIBE_LOG_DIRS, &max) != KRAW_OK || max < 0)
        return;
    int16_t v = max < 4 ? max : 4;
    bool flex = api_is_flexible(API_DESCRIBE_LOG_DIRS, v);
    struct kbuf body;
    uint8_t *resp = NULL;
    size_t len = 0;
    kbuf_init(&body);
    kw_put_array_len(&body, flex, -1);
    kw_put_tags(&body, flex);
    char subject[64];
    snprintf(subject, sizeof(subject), "broker %d", b->id);
    if (kraw_call(k, API_DESCRIBE_LOG_DIRS, v, &body, &resp, &len) == KRAW_OK) {
        struct kslice s;
        kslice_init(&s, resp, len);
        (void)kslice_i32(&s);
        if (v >= 3)
            (void)kslice_i16(&s);
        int32_t nd = kw_get_array_len(&s, flex, 4);
        for (int32_t i = 0; i < nd && kslice_ok(&s); i++) {
            int16_t err = kslice_i16(&s);
            char path[1024];
            if (!kstr_copy(kw_get_str(&s, flex), path, sizeof(path)))
                snprintf(path, sizeof(path), "?");
            int32_t nt = kw_get_array_len(&s, flex, 3);
            for (int32_t t = 0; t < nt && kslice_ok(&s); t++) {
                (void)kw_get_str(&s, flex);
                int32_t np = kw_get_array_len(&s, flex, 21);
                for (int32_t p = 0; p < np && kslice_ok(&s); p++) {
                    (void)kslice_i32(&s);
                    (void)kslice_i64(&s);
                    (void)kslice_i64(&s);
                    (void)kslice_u8(&s);
                    kw_skip_tags(&s, flex);
                }
                kw_skip_tags(&s, flex);
            }
            int64_t total = v >= 4 ? kslice_i64(&s) : -1;
            int64_t usable = v >= 4 ? kslice_i64(&s) : -1;
            kw_skip_tags(&s, flex);
            if (!kslice_ok(&s))
                break;
            if (err != 0) {
                dr_add(d, DR_ERROR, "logdir.offline", subject,
                       "Check the disk and the broker's log for I/O errors, then restart the "
                       "broker; its replicas there are served by the other brokers meanwhile.",
                       "Log directory %s of broker %d is offline (%s).", path, b->id,
                       rd_kafka_err2name((rd_kafka_resp_err_t)err));
                continue;
            }
            if (total <= 0 || usable < 0)
                continue;
            int64_t pct = usable * 100 / total;
            if (pct < DRK_DISK_WARNING_PCT)
                dr_add(d, pct < DRK_DISK_ERROR_PCT ? DR_ERROR : DR_WARNING,
                       pct < DRK_DISK_ERROR_PCT ? "disk.full" : "disk.low", subject,
                       "Free space (shorter retention.ms / retention.bytes, delete unused "
                       "topics), grow the volume, or move replicas away with "
                       "`gregor cluster reassign`.",
                       "Log directory %s of broker %d has %" PRId64 " of %" PRId64
                       " bytes usable (%" PRId64 "%%).",
                       path, b->id, usable, total, pct);
        }
    }
    free(resp);
    kbuf_destroy(&body);
}

/* Resolves and connects to each broker; asks the connected ones. */
static void drk_brokers(struct drk_state *st)
{
    struct doctor *d = st->d;
    for (int i = 0; i < d->nbrokers; i++) {
        struct dr_broker *b = &d->brokers[i];
        char subject[64], port[16];
        snprintf(subject, sizeof(subject), "broker %d", b->id);
        snprintf(port, sizeof(port), "%d", b->port);
        st->controllers[i] = -2;
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
        int gai = getaddrinfo(b->host, port, &hints, &ai);
        if (ai)
            freeaddrinfo(ai);
        if (gai != 0) {
            dr_add(d, DR_ERROR, "listener.unresolvable", subject,
                   "Set advertised.listeners of that broker to a name clients can resolve (or an "
                   "address), or make the name resolve here (DNS, /etc/hosts).",
                   "Broker %d advertises %s:%d, but '%s' does not resolve from here (%s); "
                   "clients bootstrap and then cannot reach it.",
                   b->id, b->host, b->port, b->host, gai_strerror(gai));
            continue;
        }
        struct kraw k;
        if (kraw_connect(&k, b->host, b->port, DRK_TIMEOUT_MS) != KRAW_OK) {
            dr_add(d, DR_ERROR, "listener.unreachable", subject,
                   "Make advertised.listeners name an address routable from the clients, and "
                   "open the port in firewalls; check that the broker is listening there.",
                   "Broker %d advertises %s:%d, which is not reachable from here: %s.", b->id,
                   b->host, b->port, k.reason);
            kraw_close(&k);
            continue;
        }
        b->reachable = true;
        st->controllers[i] = drk_controller(&k);
        char idname[16];
        snprintf(idname, sizeof(idname), "%d", b->id);
        const char *names[1] = {idname};
        struct drk_broker_ctx c = {st, i};
        (void)drk_describe_configs(&k, DRK_RES_BROKER, names, 1, drk_broker_entry, &c);
        drk_log_dirs(d, &k, b);
        kraw_close(&k);
    }
}

/* The controller each reachable broker names (-1: none): they must name
 * the same one. */
static void drk_controller_check(struct drk_state *st)
{
    struct doctor *d = st->d;
    int32_t first = -2; /* the first answer; -2: none yet */
    bool disagree = false, named = false;
    char list[512] = "";
    size_t off = 0;
    for (int i = 0; i < d->nbrokers; i++) {
        int32_t c = st->controllers[i];
        if (c == -2) /* not asked: unreachable */
            continue;
        if (first == -2)
            first = c;
        disagree |= c != first;
        named |= c >= 0;
        char named_id[16];
        snprintf(named_id, sizeof(named_id), c < 0 ? "none" : "%d", c);
        if (off < sizeof(list))
            off += (size_t)snprintf(list + off, sizeof(list) - off, "%sbroker %d: %s",
                                    off ? ", " : "", d->brokers[i].id, named_id);
    }
    if (disagree)
        dr_add(d, DR_ERROR, "controller.disagree", "cluster",
               "Wait a few seconds and run doctor again; if it persists restart the brokers "
               "that name a different controller (their ZooKeeper session may be stale).",
               "The brokers do not agree on one controller (%s).", list);
    else if (!named && d->controller_md < 0)
        dr_add(d, DR_ERROR, "controller.none", "cluster",
               "Check that the brokers reach ZooKeeper (see the zookeeper.* findings) and read "
               "the brokers' logs for election errors.",
               "No broker is the controller, so no leader can move and no topic can be created.");
}

static void drk_drift(struct drk_state *st)
{
    struct doctor *d = st->d;
    for (size_t k = 0; k < DRK_NKEYS; k++) {
        int first = -1;
        bool differ = false;
        for (int i = 0; i < d->nbrokers; i++) {
            if (!d->brokers[i].reachable || !st->vals[i][k][0])
                continue;
            if (first < 0)
                first = i;
            else if (strcmp(st->vals[first][k], st->vals[i][k]) != 0)
                differ = true;
        }
        if (!differ)
            continue;
        char list[600] = "";
        size_t off = 0;
        for (int i = 0; i < d->nbrokers && off < sizeof(list); i++)
            if (d->brokers[i].reachable && st->vals[i][k][0])
                off += (size_t)snprintf(list + off, sizeof(list) - off, "%sbroker %d: %s",
                                        off ? ", " : "", d->brokers[i].id, st->vals[i][k]);
        dr_add(d, DR_WARNING, "config.drift", drk_cluster_keys[k],
               "Give every broker the same value (server.properties, or once for all with "
               "`gregor cluster config set --default`).",
               "%s differs between brokers (%s).", drk_cluster_keys[k], list);
    }
}

static void drk_topic_entry(void *ctx, const char *resource, const char *name, const char *value)
{
    struct drk_state *st = ctx;
    if (strcmp(name, "min.insync.replicas") != 0)
        return;
    const struct rd_kafka_metadata_topic *t = cli_md_topic(st->md, resource);
    if (t == NULL || t->partition_cnt == 0)
        return;
    int rf = t->partitions[0].replica_cnt;
    long mir = strtol(value, NULL, 10);
    char subject[300];
    snprintf(subject, sizeof(subject), "topic %s", resource);
    if (mir > rf)
        dr_add(st->d, DR_ERROR, "topic.min_isr_unreachable", subject,
               "Lower min.insync.replicas of the topic below its replication factor "
               "(gregor topic alter-config), or add replicas.",
               "Topic %s has min.insync.replicas=%ld above its replication factor %d: no "
               "acks=all produce can ever succeed.",
               resource, mir, rf);
    else if (mir == rf && rf > 1)
        dr_add(st->d, DR_WARNING, "topic.min_isr_equals_rf", subject,
               "Set min.insync.replicas to at most replication factor - 1 (usually 2 of 3).",
               "Topic %s has min.insync.replicas=%ld equal to its replication factor: one "
               "broker down stops every acks=all producer.",
               resource, mir);
}

/* Partition health and replication factors from the metadata. */
static void drk_partitions(struct drk_state *st)
{
    struct doctor *d = st->d;
    const struct rd_kafka_metadata *md = st->md;
    int not_preferred = 0;
    for (int t = 0; t < md->topic_cnt; t++) {
        const struct rd_kafka_metadata_topic *tp = &md->topics[t];
        if (tp->err != 0 || tp->partition_cnt == 0)
            continue;
        d->topics++;
        int offline = 0, under = 0, rf = tp->partitions[0].replica_cnt;
        for (int p = 0; p < tp->partition_cnt; p++) {
            unsigned f = cli_part_flags(md, &tp->partitions[p]);
            d->partitions++;
            offline += (f & CLI_PART_OFFLINE) != 0;
            under +=
                (f & (CLI_PART_UNDER_REPLICATED | CLI_PART_OFFLINE)) == CLI_PART_UNDER_REPLICATED;
            not_preferred += (f & CLI_PART_NOT_PREFERRED) != 0;
            for (int r = 0; r < tp->partitions[p].replica_cnt; r++)
                for (int b = 0; b < d->nbrokers; b++)
                    d->brokers[b].replicas += d->brokers[b].id == tp->partitions[p].replicas[r];
        }
        char subject[300];
        snprintf(subject, sizeof(subject), "topic %s", tp->topic);
        if (offline)
            dr_add(d, DR_ERROR, "partition.offline", subject,
                   "Bring back the brokers holding its replicas; as a last resort, "
                   "`gregor cluster elect-leaders --unclean` accepts losing records.",
                   "Topic %s has %d of %d partitions offline (no live leader): they can be "
                   "neither written nor read.",
                   tp->topic, offline, tp->partition_cnt);
        if (under)
            dr_add(d, DR_WARNING, "partition.under_replicated", subject,
                   "Restart the missing brokers or find why followers lag (disk, network, "
                   "replica.lag.time.max.ms); the ISR grows back by itself.",
                   "Topic %s has %d of %d partitions under-replicated (ISR smaller than the "
                   "replicas): one more failure can lose or block them.",
                   tp->topic, under, tp->partition_cnt);
        bool internal = drk_is_internal(tp->topic);
        int want = d->nbrokers < 3 ? d->nbrokers : 3;
        if (internal && rf < want)
            dr_add(d, DR_WARNING, "internal.rf_low", subject,
                   "Reassign the topic to more brokers (gregor cluster reassign) and set "
                   "offsets.topic.replication.factor / transaction.state.log.replication.factor "
                   "to 3.",
                   "Internal topic %s has replication factor %d with %d brokers alive: losing "
                   "one broker loses committed offsets or transaction state.",
                   tp->topic, rf, d->nbrokers);
        else if (!internal && rf == 1 && d->nbrokers > 1)
            dr_add(d, DR_WARNING, "topic.rf1", subject,
                   "Raise its replication factor with `gregor cluster reassign` (a plan with "
                   "more replicas per partition).",
                   "Topic %s has replication factor 1: a single broker failure makes it "
                   "unavailable and a lost disk loses its records.",
                   tp->topic);
    }
    if (not_preferred)
        dr_add(d, not_preferred * 10 > d->partitions ? DR_WARNING : DR_INFO, "leader.not_preferred",
               "cluster",
               "Run `gregor cluster elect-leaders --all` to move leadership back to the "
               "preferred replicas.",
               "%d of %d partitions are led by a broker other than their preferred (first) "
               "replica, so the load is unevenly spread.",
               not_preferred, d->partitions);
}

/* min.insync.replicas of every topic, from the first reachable broker. */
static void drk_topic_configs(struct drk_state *st)
{
    struct doctor *d = st->d;
    const struct rd_kafka_metadata *md = st->md;
    const char **names = calloc((size_t)md->topic_cnt + 1, sizeof(*names));
    if (names == NULL)
        return;
    int n = 0;
    for (int t = 0; t < md->topic_cnt; t++)
        if (md->topics[t].err == 0)
            names[n++] = md->topics[t].topic;
    for (int i = 0; i < d->nbrokers && n > 0; i++) {
        if (!d->brokers[i].reachable)
            continue;
        struct kraw k;
        bool done =
            kraw_connect(&k, d->brokers[i].host, d->brokers[i].port, DRK_TIMEOUT_MS) == KRAW_OK &&
            drk_describe_configs(&k, DRK_RES_TOPIC, names, n, drk_topic_entry, st);
        kraw_close(&k);
        if (done)
            break;
    }
    free(names);
}

void dr_check_kafka(struct doctor *d)
{
    rd_kafka_t *rk;
    const struct rd_kafka_metadata *md;
    if (cli_cluster_metadata(d->cli, &rk, &md) != CLI_OK) {
        dr_add(d, DR_ERROR, "bootstrap.unreachable", d->cli->bootstrap,
               "Check the address given with -b (or $GREGOR_BOOTSTRAP), that a broker runs "
               "there, and the -X security settings.",
               "No broker answered at %s, so the Kafka-side checks were skipped.",
               d->cli->bootstrap);
        return;
    }
    struct drk_state *st = calloc(1, sizeof(*st));
    if (st == NULL) {
        rd_kafka_metadata_destroy(md);
        rd_kafka_destroy(rk);
        return;
    }
    st->d = d;
    st->md = md;
    d->controller_md = rd_kafka_controllerid(rk, DRK_TIMEOUT_MS);
    for (int i = 0; i < md->broker_cnt && d->nbrokers < DR_MAX_BROKERS; i++) {
        struct dr_broker *b = &d->brokers[d->nbrokers++];
        b->id = md->brokers[i].id;
        snprintf(b->host, sizeof(b->host), "%s", md->brokers[i].host);
        b->port = md->brokers[i].port;
    }
    drk_brokers(st);
    drk_controller_check(st);
    drk_partitions(st);
    drk_topic_configs(st);
    drk_drift(st);
    free(st);
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
}
