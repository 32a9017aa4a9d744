/*
 * cli/cluster_watch.c — `gregor cluster watch`: the cluster as a live stream
 * of timestamped events, one line each, until Ctrl-C / SIGTERM.
 *
 * Source: a raw Metadata v7 request for all topics (kraw.h) every
 * --interval ms on one kept connection. v7 carries what the events need:
 * the live brokers (with racks), the controller id, and per partition the
 * leader, its leader epoch, the replicas and the ISR. The previous answer
 * is diffed against the new one. When the broker in use stops answering,
 * the next one is tried: the brokers of the last answer, then the
 * bootstrap list. Metadata carries no controller epoch, so controller
 * events name the controller only.
 *
 * Events (text: "<time> <event> key=value...", lists as [1,2], flags as
 * offline,under-replicated or -; --output json: one object per line
 * {"time": "2026-01-02T03:04:05.678Z", "event": "<event>", ...}):
 *   cluster            first answer: cluster_id, controller, brokers (ids),
 *                      topics, partitions, offline, under_replicated,
 *                      not_preferred_leader (counts), via (host:port asked)
 *   broker_joined      broker, host, port, rack
 *   broker_left        broker
 *   controller_changed controller, previous (-1: none)
 *   topic_created      topic, partitions, replication_factor
 *   topic_deleted      topic
 *   partition_added / partition_removed, leader_changed (previous_leader),
 *   isr_shrank / isr_expanded / isr_changed (previous_isr, added,
 *   removed), replicas_changed (previous_replicas), flags_changed
 *   (previous_flags): topic, partition, the event's own fields, then the
 *   partition's state: leader (-1: none), leader_epoch, replicas, isr,
 *   flags.
 *   unreachable        reason: no broker answered (once, until one does)
 *   reachable          via: host:port that answers again
 *   source_changed     via: the broker in use stopped answering and this
 *                      host:port answers instead (its view may differ)
 * Flags are cli_part_flags()'s rules: offline, under-replicated,
 * not-preferred-leader. Internal topics ("__") only with --all.
 *
 * Threads: main thread only. The only global is the signal flag.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli/cli.h"
#include "cli/group_plan.h"
#include "cli/kraw.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/kwire.h"
#include "common/names.h"

#define WATCH_MAX_IDS 16        /* replicas / ISR kept per partition */
#define WATCH_CALL_TIMEOUT 2000 /* ms per connect and per Metadata call */
#define WATCH_MAX_CANDIDATES 64

static volatile sig_atomic_t watch_stop;

static void watch_on_signal(int sig) { watch_stop = 1; }

enum { W_OPT_INTERVAL = 1, W_OPT_OUTPUT, W_OPT_TOPIC, W_OPT_ALL };

static const struct cli_opt watch_opts[] = {
    {"interval", 'i', true, W_OPT_INTERVAL},
    {"output", 'o', true, W_OPT_OUTPUT},
    {"topic", 't', true, W_OPT_TOPIC},
    {"all", 'a', false, W_OPT_ALL},
    {NULL, 0, false, 0},
};

static const char watch_help[] =
    "Usage: gregor cluster watch [--interval MS] [--output text|json] [--topic T] [--all]\n"
    "Shows the cluster live, one timestamped line per event, until Ctrl-C:\n"
    "brokers joining and leaving, the controller moving, topics created and\n"
    "deleted, and each partition's leader, ISR, replicas and flags (offline,\n"
    "under-replicated, not-preferred-leader) changing. Polls Metadata.\n"
    "  -i, --interval MS   time between polls (default 500, 50..60000)\n"
    "  -o, --output FMT    text (default) or json (one object per line)\n"
    "  -t, --topic T       only this topic's events (brokers and controller always)\n"
    "  -a, --all           include internal topics (names starting with \"__\")\n";

struct watch_opts_val {
    int interval_ms;
    bool json;
    const char *topic; /* NULL: every topic */
    bool all;
};

/* One partition of one Metadata answer. `topic` is owned by the view. */
struct wpart {
    char *topic;
    int32_t part, leader, epoch;
    int nrep, nisr;
    int32_t rep[WATCH_MAX_IDS], isr[WATCH_MAX_IDS];
    unsigned flags; /* CLI_PART_* */
};

struct wbroker {
    int32_t id, port;
    char host[256], rack[128];
};

/* One Metadata answer, brokers sorted by id, partitions by (topic, id). */
struct wview {
    bool valid;
    char cluster_id[128];
    int32_t controller;
    struct wbroker *brokers;
    int nb;
    struct wpart *parts;
    int np;
};

static void wview_clear(struct wview *v)
{
    for (int i = 0; i < v->np; i++)
        free(v->parts[i].topic);
    free(v->parts);
    free(v->brokers);
    memset(v, 0, sizeof(*v));
}

/* ---- output ---------------------------------------------------------------- */

static bool watch_json;

static void ev_begin(const char *event)
{
    struct timespec ts;
    struct tm tm;
    char when[40];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof(when) - n, ".%03ldZ", ts.tv_nsec / 1000000);
    if (watch_json)
        printf("{\"time\": \"%s\", \"event\": \"%s\"", when, event);
    else
        printf("%s %s", when, event);
}

static void ev_int(const char *key, int64_t v)
{
    printf(watch_json ? ", \"%s\": %lld" : " %s=%lld", key, (long long)v);
}

static void ev_str(const char *key, const char *s)
{
    if (!watch_json) {
        printf(" %s=%s", key, s && *s ? s : "-");
        return;
    }
    printf(", \"%s\": ", key);
    gp_json_str(stdout, s);
}

static void ev_ids(const char *key, const int32_t *ids, int n)
{
    printf(watch_json ? ", \"%s\": [" : " %s=[", key);
    for (int i = 0; i < n; i++)
        printf(watch_json ? "%s%d" : "%s%d", i ? (watch_json ? ", " : ",") : "", ids[i]);
    putchar(']');
}

static void ev_flags(const char *key, unsigned flags)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{CLI_PART_OFFLINE, "offline"},
                 {CLI_PART_UNDER_REPLICATED, "under-replicated"},
                 {CLI_PART_NOT_PREFERRED, "not-preferred-leader"}};
    int n = 0;
    printf(watch_json ? ", \"%s\": [" : " %s=", key);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!(flags & names[i].bit))
            continue;
        if (watch_json)
            printf("%s\"%s\"", n ? ", " : "", names[i].name);
        else
            printf("%s%s", n ? "," : "", names[i].name);
        n++;
    }
    if (watch_json)
        putchar(']');
    else if (n == 0)
        putchar('-');
}

static void ev_end(void)
{
    puts(watch_json ? "}" : "");
    fflush(stdout);
}

/* ---- Metadata v7 ------------------------------------------------------------ */

/* Reads an INT32 array, keeping the first WATCH_MAX_IDS. */
static int read_ids(struct kslice *s, int32_t *ids)
{
    int32_t n = kw_get_array_len(s, false, 4);
    int kept = 0;
    for (int32_t i = 0; i < n && kslice_ok(s); i++) {
        int32_t id = kslice_i32(s);
        if (kept < WATCH_MAX_IDS)
            ids[kept++] = id;
    }
    return kept;
}

static int wpart_cmp(const void *a, const void *b)
{
    const struct wpart *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->part > y->part) - (x->part < y->part);
}

static int wbroker_cmp(const void *a, const void *b)
{
    const struct wbroker *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

static bool wview_has_broker(const struct wview *v, int32_t id)
{
    for (int i = 0; i < v->nb; i++)
        if (v->brokers[i].id == id)
            return true;
    return false;
}

/* Decodes the brokers, cluster id and controller of a v7 answer into v. */
static bool parse_brokers(struct kslice *s, struct wview *v)
{
    (void)kslice_i32(s); /* throttle_time_ms */
    int32_t n = kw_get_array_len(s, false, 14);
    v->brokers = calloc((size_t)(n > 0 ? n : 0) + 1, sizeof(*v->brokers));
    if (!v->brokers)
        return false;
    for (int32_t i = 0; i < n && kslice_ok(s); i++) {
        struct wbroker *b = &v->brokers[v->nb++];
        b->id = kslice_i32(s);
        if (!kstr_copy(kw_get_str(s, false), b->host, sizeof(b->host)))
            b->host[0] = '\0';
        b->port = kslice_i32(s);
        struct kstr rack = kw_get_str(s, false);
        if (kstr_is_null(rack) || !kstr_copy(rack, b->rack, sizeof(b->rack)))
            b->rack[0] = '\0';
    }
    struct kstr cid = kw_get_str(s, false);
    if (kstr_is_null(cid) || !kstr_copy(cid, v->cluster_id, sizeof(v->cluster_id)))
        v->cluster_id[0] = '\0';
    v->controller = kslice_i32(s);
    qsort(v->brokers, (size_t)v->nb, sizeof(*v->brokers), wbroker_cmp);
    return kslice_ok(s);
}

/* Decodes one topic's partitions into v (those the options keep). */
static bool parse_topic(struct kslice *s, struct wview *v, const struct watch_opts_val *o, int *cap)
{
    (void)kslice_i16(s); /* topic error_code */
    struct kstr name = kw_get_str(s, false);
    (void)kslice_u8(s); /* is_internal */
    int32_t n = kw_get_array_len(s, false, 26);
    if (!kslice_ok(s) || kstr_is_null(name))
        return false;
    char *topic = kstr_dup(name);
    if (!topic)
        return false;
    bool keep = (o->all || !topic_name_internal(topic, strlen(topic))) &&
                (!o->topic || strcmp(o->topic, topic) == 0);
    for (int32_t i = 0; i < n && kslice_ok(s); i++) {
        struct wpart p = {0};
        (void)kslice_i16(s); /* partition error_code */
        p.part = kslice_i32(s);
        p.leader = kslice_i32(s);
        p.epoch = kslice_i32(s);
        p.nrep = read_ids(s, p.rep);
        p.nisr = read_ids(s, p.isr);
        int32_t offline[WATCH_MAX_IDS];
        (void)read_ids(s, offline);
        if (!keep)
            continue;
        if (v->np == *cap) {
            int ncap = *cap ? *cap * 2 : 64;
            struct wpart *np = realloc(v->parts, (size_t)ncap * sizeof(*np));
            if (!np)
                break;
            v->parts = np;
            *cap = ncap;
        }
        p.topic = strdup(topic);
        if (p.topic)
            v->parts[v->np++] = p;
    }
    free(topic);
    return kslice_ok(s);
}

static void wview_flags(struct wview *v)
{
    for (int i = 0; i < v->np; i++) {
        struct wpart *p = &v->parts[i];
        p->flags = 0;
        if (p->leader < 0 || !wview_has_broker(v, p->leader))
            p->flags |= CLI_PART_OFFLINE;
        if (p->nisr < p->nrep)
            p->flags |= CLI_PART_UNDER_REPLICATED;
        if (!(p->flags & CLI_PART_OFFLINE) && p->nrep > 0 && p->leader != p->rep[0])
            p->flags |= CLI_PART_NOT_PREFERRED;
    }
}

/* Decodes a Metadata v7 response body into v (cleared first). */
static bool parse_metadata(const uint8_t *resp, size_t len, const struct watch_opts_val *o,
                           struct wview *v)
{
    struct kslice s;
    int cap = 0;
    memset(v, 0, sizeof(*v));
    kslice_init(&s, resp, len);
    if (!parse_brokers(&s, v))
        return false;
    int32_t n = kw_get_array_len(&s, false, 9);
    for (int32_t i = 0; i < n && kslice_ok(&s); i++)
        if (!parse_topic(&s, v, o, &cap))
            return false;
    if (!kslice_ok(&s))
        return false;
    if (v->np > 1)
        qsort(v->parts, (size_t)v->np, sizeof(*v->parts), wpart_cmp);
    wview_flags(v);
    v->valid = true;
    return true;
}

/* ---- polling ----------------------------------------------------------------- */

struct wcand {
    char host[256];
    int port;
};

/* The connection and where to go when it fails. */
struct wconn {
    struct kraw k;
    bool open;
    int next;              /* next candidate to try */
    bool unreachable;      /* an "unreachable" event was printed */
    bool answered;         /* some broker answered before */
    struct wcand boot[16]; /* from -b */
    int nboot;
};

static void wconn_parse_bootstrap(struct wconn *c, const char *list)
{
    const char *p = list;
    while (*p && c->nboot < (int)(sizeof(c->boot) / sizeof(c->boot[0]))) {
        size_t len = strcspn(p, ",");
        char item[300];
        snprintf(item, sizeof(item), "%.*s", (int)len, p);
        char *colon = strrchr(item, ':');
        int port = 9092;
        if (colon) {
            *colon = '\0';
            port = atoi(colon + 1);
        }
        struct wcand *w = &c->boot[c->nboot++];
        snprintf(w->host, sizeof(w->host), "%.255s", item);
        w->port = port;
        p += len;
        if (*p == ',')
            p++;
    }
}

/* Candidates: the brokers of the last answer, then the bootstrap list. */
static int watch_candidates(const struct wconn *c, const struct wview *v, struct wcand *out)
{
    int n = 0;
    for (int i = 0; i < v->nb && n < WATCH_MAX_CANDIDATES - c->nboot; i++) {
        snprintf(out[n].host, sizeof(out[n].host), "%s", v->brokers[i].host);
        out[n++].port = v->brokers[i].port;
    }
    for (int i = 0; i < c->nboot; i++)
        out[n++] = c->boot[i];
    return n;
}

/* One Metadata v7 call on the open connection; *resp new on KRAW_OK. */
static int watch_call(struct wconn *c, uint8_t **resp, size_t *len)
{
    struct kbuf body;
    kbuf_init(&body);
    kw_put_array_len(&body, false, -1); /* null: every topic */
    kbuf_put_u8(&body, 0);              /* allow_auto_topic_creation */
    int rc = kraw_call(&c->k, API_METADATA, 7, &body, resp, len);
    kbuf_destroy(&body);
    return rc;
}

/* Gets a Metadata answer from the broker in use, else from the next
 * candidate that answers. Returns true with *resp new; false (printing
 * "unreachable" once) when none answered or a signal came. */
static bool watch_poll(struct wconn *c, const struct wview *prev, uint8_t **resp, size_t *len)
{
    if (c->open && watch_call(c, resp, len) == KRAW_OK)
        return true;
    if (c->open) {
        kraw_close(&c->k);
        c->open = false;
    }
    struct wcand cand[WATCH_MAX_CANDIDATES];
    int n = watch_candidates(c, prev, cand);
    char reason[512] = "no broker to ask";
    for (int i = 0; i < n && !watch_stop; i++) {
        const struct wcand *w = &cand[(c->next + i) % n];
        if (kraw_connect(&c->k, w->host, w->port, WATCH_CALL_TIMEOUT) == KRAW_OK &&
            watch_call(c, resp, len) == KRAW_OK) {
            c->open = true;
            c->next = (c->next + i + 1) % n;
            if (c->unreachable || c->answered) { /* events come from another view now */
                ev_begin(c->unreachable ? "reachable" : "source_changed");
                ev_str("via", c->k.addr);
                ev_end();
            }
            c->unreachable = false;
            c->answered = true;
            return true;
        }
        snprintf(reason, sizeof(reason), "%s", c->k.reason);
        kraw_close(&c->k);
    }
    if (!c->unreachable && !watch_stop) {
        c->unreachable = true;
        ev_begin("unreachable");
        ev_str("reason", reason);
        ev_end();
    }
    return false;
}

/* ---- diff ---------------------------------------------------------------------- */

static void ev_part_state(const struct wpart *p)
{
    ev_int("leader", p->leader);
    ev_int("leader_epoch", p->epoch);
    ev_ids("replicas", p->rep, p->nrep);
    ev_ids("isr", p->isr, p->nisr);
    ev_flags("flags", p->flags);
}

static void ev_part_begin(const char *event, const struct wpart *p)
{
    ev_begin(event);
    ev_str("topic", p->topic);
    ev_int("partition", p->part);
}

static bool ids_has(const int32_t *ids, int n, int32_t id)
{
    for (int i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

/* a \ b into out; returns the count. */
static int ids_minus(const int32_t *a, int na, const int32_t *b, int nb, int32_t *out)
{
    int n = 0;
    for (int i = 0; i < na; i++)
        if (!ids_has(b, nb, a[i]))
            out[n++] = a[i];
    return n;
}

static void diff_isr(const struct wpart *o, const struct wpart *p)
{
    int32_t added[WATCH_MAX_IDS], removed[WATCH_MAX_IDS];
    int na = ids_minus(p->isr, p->nisr, o->isr, o->nisr, added);
    int nr = ids_minus(o->isr, o->nisr, p->isr, p->nisr, removed);
    if (na == 0 && nr == 0)
        return;
    ev_part_begin(na == 0 ? "isr_shrank" : nr == 0 ? "isr_expanded" : "isr_changed", p);
    ev_ids("previous_isr", o->isr, o->nisr);
    ev_ids("added", added, na);
    ev_ids("removed", removed, nr);
    ev_part_state(p);
    ev_end();
}

/* Events of one partition present before and now. */
static void diff_part(const struct wpart *o, const struct wpart *p)
{
    bool changed = false;
    if (o->leader != p->leader) {
        ev_part_begin("leader_changed", p);
        ev_int("previous_leader", o->leader);
        ev_part_state(p);
        ev_end();
        changed = true;
    }
    if (o->nisr != p->nisr || memcmp(o->isr, p->isr, (size_t)p->nisr * sizeof(int32_t)) != 0) {
        diff_isr(o, p);
        changed = true;
    }
    if (o->nrep != p->nrep || memcmp(o->rep, p->rep, (size_t)p->nrep * sizeof(int32_t)) != 0) {
        ev_part_begin("replicas_changed", p);
        ev_ids("previous_replicas", o->rep, o->nrep);
        ev_part_state(p);
        ev_end();
        changed = true;
    }
    if (!changed && o->flags != p->flags) { /* e.g. the leader's broker left the list */
        ev_part_begin("flags_changed", p);
        ev_flags("previous_flags", o->flags);
        ev_part_state(p);
        ev_end();
    }
}

/* Events of one topic: [oi, oe) of the old view, [ni, ne) of the new. */
static void diff_topic(const struct wview *ov, int oi, int oe, const struct wview *nv, int ni,
                       int ne)
{
    if (oi == oe) {
        ev_begin("topic_created");
        ev_str("topic", nv->parts[ni].topic);
        ev_int("partitions", ne - ni);
        ev_int("replication_factor", nv->parts[ni].nrep);
        ev_end();
        return;
    }
    if (ni == ne) {
        ev_begin("topic_deleted");
        ev_str("topic", ov->parts[oi].topic);
        ev_end();
        return;
    }
    while (oi < oe || ni < ne) {
        const struct wpart *o = oi < oe ? &ov->parts[oi] : NULL;
        const struct wpart *p = ni < ne ? &nv->parts[ni] : NULL;
        if (o && p && o->part == p->part) {
            diff_part(o, p);
            oi++, ni++;
        } else if (p && (!o || p->part < o->part)) {
            ev_part_begin("partition_added", p);
            ev_part_state(p);
            ev_end();
            ni++;
        } else {
            ev_part_begin("partition_removed", o);
            ev_end();
            oi++;
        }
    }
}

static int topic_end(const struct wview *v, int i)
{
    int e = i;
    while (e < v->np && strcmp(v->parts[e].topic, v->parts[i].topic) == 0)
        e++;
    return e;
}

static void diff_partitions(const struct wview *ov, const struct wview *nv)
{
    int oi = 0, ni = 0;
    while (oi < ov->np || ni < nv->np) {
        int c = oi == ov->np   ? 1
                : ni == nv->np ? -1
                               : strcmp(ov->parts[oi].topic, nv->parts[ni].topic);
        int oe = c <= 0 ? topic_end(ov, oi) : oi;
        int ne = c >= 0 ? topic_end(nv, ni) : ni;
        diff_topic(ov, oi, oe, nv, ni, ne);
        oi = oe;
        ni = ne;
    }
}

static void diff_brokers(const struct wview *ov, const struct wview *nv)
{
    int i = 0, j = 0;
    while (i < ov->nb || j < nv->nb) {
        const struct wbroker *o = i < ov->nb ? &ov->brokers[i] : NULL;
        const struct wbroker *b = j < nv->nb ? &nv->brokers[j] : NULL;
        if (o && b && o->id == b->id) {
            i++, j++;
        } else if (b && (!o || b->id < o->id)) {
            ev_begin("broker_joined");
            ev_int("broker", b->id);
            ev_str("host", b->host);
            ev_int("port", b->port);
            ev_str("rack", b->rack[0] ? b->rack : NULL);
            ev_end();
            j++;
        } else {
            ev_begin("broker_left");
            ev_int("broker", o->id);
            ev_end();
            i++;
        }
    }
}

static void ev_cluster(const struct wview *v, const char *via)
{
    int32_t ids[WATCH_MAX_CANDIDATES];
    int nid = 0, topics = 0, offline = 0, under = 0, imbalance = 0;
    for (int i = 0; i < v->nb && nid < WATCH_MAX_CANDIDATES; i++)
        ids[nid++] = v->brokers[i].id;
    for (int i = 0; i < v->np; i++) {
        topics += i == 0 || strcmp(v->parts[i - 1].topic, v->parts[i].topic) != 0;
        offline += (v->parts[i].flags & CLI_PART_OFFLINE) != 0;
        under += (v->parts[i].flags & CLI_PART_UNDER_REPLICATED) != 0;
        imbalance += (v->parts[i].flags & CLI_PART_NOT_PREFERRED) != 0;
    }
    ev_begin("cluster");
    ev_str("cluster_id", v->cluster_id[0] ? v->cluster_id : NULL);
    ev_int("controller", v->controller);
    ev_ids("brokers", ids, nid);
    ev_int("topics", topics);
    ev_int("partitions", v->np);
    ev_int("offline", offline);
    ev_int("under_replicated", under);
    ev_int("not_preferred_leader", imbalance);
    ev_str("via", via);
    ev_end();
}

/* Prints the events that lead from ov to nv (the "cluster" summary when ov
 * is not valid yet; `via` is the broker that answered). Broker and
 * controller events come first. */
static void watch_diff(const struct wview *ov, const struct wview *nv, const char *via)
{
    if (!ov->valid) {
        ev_cluster(nv, via);
        return;
    }
    diff_brokers(ov, nv);
    if (ov->controller != nv->controller) {
        ev_begin("controller_changed");
        ev_int("controller", nv->controller);
        ev_int("previous", ov->controller);
        ev_end();
    }
    diff_partitions(ov, nv);
}

/* ---- the command ------------------------------------------------------------- */

static int watch_opt(void *ctx, int id, const char *val)
{
    struct watch_opts_val *o = ctx;
    int64_t v;
    switch (id) {
    case W_OPT_INTERVAL:
        if (!cli_parse_int(val, 50, 60000, &v))
            return cli_usage_error("--interval: expected milliseconds in 50..60000, got '%s'", val);
        o->interval_ms = (int)v;
        return CLI_OK;
    case W_OPT_OUTPUT:
        if (strcmp(val, "json") != 0 && strcmp(val, "text") != 0)
            return cli_usage_error("--output: expected text or json, got '%s'", val);
        o->json = strcmp(val, "json") == 0;
        return CLI_OK;
    case W_OPT_TOPIC:
        o->topic = val;
        return CLI_OK;
    default:
        o->all = true;
        return CLI_OK;
    }
}

/* Sleeps ms unless a signal comes first. */
static void watch_sleep(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    while (!watch_stop && nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int cluster_watch(struct cli *cli, int argc, char **argv)
{
    struct watch_opts_val o = {.interval_ms = 500};
    int done, npos = cli_parse_cmd(cli, argc, argv, watch_opts, watch_opt, &o, watch_help, &done);
    if (npos < 0)
        return done;
    if (npos > 0)
        return cli_usage_positional(cli, "unexpected argument");
    watch_json = o.json;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = watch_on_signal; /* no SA_RESTART: a sleep ends at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    struct wconn c;
    memset(&c, 0, sizeof(c));
    c.k.fd = -1;
    wconn_parse_bootstrap(&c, cli->bootstrap);
    struct wview prev = {0}, cur;
    while (!watch_stop) {
        uint8_t *resp = NULL;
        size_t len = 0;
        if (watch_poll(&c, &prev, &resp, &len)) {
            if (parse_metadata(resp, len, &o, &cur)) {
                watch_diff(&prev, &cur, c.k.addr);
                wview_clear(&prev);
                prev = cur;
            } else {
                wview_clear(&cur);
                kraw_close(&c.k); /* a malformed answer: ask another broker */
                c.open = false;
            }
        }
        free(resp);
        watch_sleep(o.interval_ms);
    }
    if (c.open)
        kraw_close(&c.k);
    wview_clear(&prev);
    return ferror(stdout) ? cli_fail("cannot write output") : CLI_OK;
}
