/*
 * broker/http/console.c — the web console's routes and state (console.h).
 *
 * A 250 ms timer on the main loop compares the metadata cache's snapshot
 * with the previous one (a pointer compare when nothing changed) and turns a
 * new one into events (console_diff()); they go to a ring of the last
 * CONSOLE_RING events and to every /api/events client as
 * "id: N\ndata: {json}\n\n". Once a second the same timer samples the
 * topics' byte and record counters into per-second rates, and, while
 * someone asked /api/groups in the last minute, posts a job to the group
 * worker that writes the groups this broker coordinates into a buffer the
 * HTTP handler serves.
 */
#include "broker/http/console.h"
#include "broker/http/console_events.h"
#include "broker/http/console_reset.h"
#include "broker/core/broker.h"
#include "broker/core/group_runtime.h"
#include "broker/core/metadata_cache.h"
#include "broker/net/conn.h"
#include "broker/replication/partition.h"
#include "broker/replication/topics.h"
#include "common/clock.h"
#include "controller/controller.h"
#include "common/say.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <ctype.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

/* generated from broker/http/console/index.html (broker/http/CMakeLists.txt) */
extern const unsigned char console_page_html[];
extern const unsigned int console_page_html_len;

#define CONSOLE_RING 512
#define CONSOLE_BACKLOG 100 /* events a new client gets first */
#define CONSOLE_TICK_MS 250
#define CONSOLE_PING_TICKS (15000 / CONSOLE_TICK_MS) /* keep-alive comment */
#define CONSOLE_GROUPS_IDLE_MS 60000
#define CONSOLE_CLIENT_MAX_QUEUED (4u << 20) /* a client this far behind is dropped */

struct sse_client {
    struct console *c;
    struct evhttp_request *req;
    struct evhttp_connection *conn;
    struct sse_client *next;
};

struct console {
    _Atomic int refs;
    struct broker *b;
    int http_port;
    struct event *tick;
    unsigned ticks;
    struct mc_snapshot *last; /* the snapshot the events are relative to */
    uint64_t next_id;         /* id of the next event; ring[id % CONSOLE_RING] */
    char *ring[CONSOLE_RING];
    struct sse_client *clients;
    /* per-second rates of this broker (its topics' counters) */
    int64_t rate_ms;
    uint64_t in_prev, out_prev, msgs_prev;
    double in_rate, out_rate, msgs_rate;
    /* groups: written by the group worker, read by the handler */
    pthread_mutex_t groups_lock;
    struct evbuffer *groups; /* the last answer, or NULL */
    atomic_bool groups_busy; /* a job is posted */
    int64_t groups_wanted_ms;
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void console_unref(struct console *c)
{
    if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    while (c->clients) { /* none after evhttp_free()'s close callbacks, unless one was missed:
                            its request went with its connection */
        struct sse_client *cl = c->clients;
        c->clients = cl->next;
        free(cl);
    }
    for (int i = 0; i < CONSOLE_RING; i++)
        free(c->ring[i]);
    if (c->last)
        mc_put(c->last);
    if (c->groups)
        evbuffer_free(c->groups);
    pthread_mutex_destroy(&c->groups_lock);
    free(c);
}

/* ---- JSON ---------------------------------------------------------------------- */

static void json_str(struct evbuffer *out, const char *s)
{
    evbuffer_add(out, "\"", 1);
    const char *run = s;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch != '"' && ch != '\\' && ch >= 0x20)
            continue;
        evbuffer_add(out, run, (size_t)(s - run));
        if (ch == '"' || ch == '\\')
            evbuffer_add_printf(out, "\\%c", ch);
        else
            evbuffer_add_printf(out, "\\u%04x", ch);
        run = s + 1;
    }
    evbuffer_add(out, run, (size_t)(s - run));
    evbuffer_add(out, "\"", 1);
}

static void json_ids(struct evbuffer *out, const int32_t *ids, int n)
{
    evbuffer_add(out, "[", 1);
    for (int i = 0; i < n; i++)
        evbuffer_add_printf(out, "%s%d", i ? "," : "", ids[i]);
    evbuffer_add(out, "]", 1);
}

static void send_json(struct evhttp_request *r, struct evbuffer *out)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(r);
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "Cache-Control", "no-store");
    /* the page merges every broker's answers: it asks the others cross-origin */
    evhttp_add_header(h, "Access-Control-Allow-Origin", "*");
    evhttp_send_reply(r, 200, "OK", out);
}

static bool ids_has(const int32_t *ids, int n, int32_t id)
{
    for (int i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

static bool broker_live(const struct mc_snapshot *s, int32_t id)
{
    for (int i = 0; i < s->n_brokers; i++)
        if (s->brokers[i].id == id)
            return true;
    return false;
}

/* ---- /api/cluster -------------------------------------------------------------- */

#define CONSOLE_MAX_DEAD 64

/* gregor.console.mirrors (checked comma-separated URLs) as JSON strings, trimmed,
 * without a trailing slash */
static void mirrors_json(struct evbuffer *out, const char *list)
{
    bool first = true;
    for (const char *s = list; s != NULL && *s != '\0';) {
        const char *comma = strchr(s, ',');
        const char *end = comma ? comma : s + strlen(s);
        while (s < end && isspace((unsigned char)*s))
            s++;
        while (end > s && (isspace((unsigned char)end[-1]) || end[-1] == '/'))
            end--;
        if (end > s) {
            char url[1024];
            size_t n = (size_t)(end - s) < sizeof(url) ? (size_t)(end - s) : sizeof(url) - 1;
            memcpy(url, s, n);
            url[n] = '\0';
            evbuffer_add_printf(out, "%s", first ? "" : ",");
            json_str(out, url);
            first = false;
        }
        s = comma ? comma + 1 : NULL;
    }
}

static void cluster_cb(struct evhttp_request *r, void *arg)
{
    struct console *c = arg;
    struct broker *b = c->b;
    struct evbuffer *out = evbuffer_new();
    if (!out)
        return;
    int n_clients = 0;
    for (struct sse_client *cl = c->clients; cl; cl = cl->next)
        n_clients++;
    struct mc_snapshot *s = mc_get(b->mc);
    long total = 0, offline = 0, under = 0, not_pref = 0;
    int32_t dead[CONSOLE_MAX_DEAD];
    int n_dead = 0;
    for (int t = 0; t < s->n_topics; t++)
        for (int32_t p = 0; p < s->topics[t].n_parts; p++) {
            const struct mc_partition *mp = &s->topics[t].parts[p];
            total++;
            offline += mp->leader < 0;
            under += mp->n_isr < mp->n_replicas;
            not_pref += mp->leader >= 0 && mp->n_replicas > 0 && mp->leader != mp->replicas[0];
            for (int i = 0; i < mp->n_replicas; i++)
                if (n_dead < CONSOLE_MAX_DEAD && !broker_live(s, mp->replicas[i]) &&
                    !ids_has(dead, n_dead, mp->replicas[i]))
                    dead[n_dead++] = mp->replicas[i];
        }
    evbuffer_add_printf(out, "{\"cluster_id\":");
    json_str(out, b->cluster_id);
    evbuffer_add_printf(out,
                        ",\"broker_id\":%d,\"http_port\":%d,\"time_ms\":%lld,"
                        "\"controller_id\":%d,\"controller_epoch\":%d,\"brokers\":[",
                        b->id, c->http_port, (long long)wall_ms(), s->controller_id,
                        s->controller_epoch);
    for (int i = 0; i < s->n_brokers; i++) {
        const struct broker_info *bi = &s->brokers[i];
        long led = 0, replicas = 0;
        for (int t = 0; t < s->n_topics; t++)
            for (int32_t p = 0; p < s->topics[t].n_parts; p++) {
                const struct mc_partition *mp = &s->topics[t].parts[p];
                led += mp->leader == bi->id;
                replicas += ids_has(mp->replicas, mp->n_replicas, bi->id);
            }
        evbuffer_add_printf(out,
                            "%s{\"id\":%d,\"alive\":true,\"controller\":%s,\"rack\":", i ? "," : "",
                            bi->id, bi->id == s->controller_id ? "true" : "false");
        json_str(out, bi->rack);
        evbuffer_add_printf(out, ",\"host\":");
        json_str(out, bi->n_endpoints > 0 ? bi->ep[0].host : "");
        evbuffer_add_printf(out, ",\"port\":%d,\"partitions_led\":%ld,\"replicas\":%ld}",
                            bi->n_endpoints > 0 ? bi->ep[0].port : -1, led, replicas);
    }
    for (int i = 0; i < n_dead; i++)
        evbuffer_add_printf(out,
                            "%s{\"id\":%d,\"alive\":false,\"controller\":false,\"rack\":\"\","
                            "\"host\":\"\",\"port\":-1,\"partitions_led\":0,\"replicas\":-1}",
                            s->n_brokers + i ? "," : "", dead[i]);
    evbuffer_add_printf(out,
                        "],\"partitions\":{\"total\":%ld,\"offline\":%ld,\"under_replicated\":%ld,"
                        "\"not_preferred\":%ld},\"self\":{\"bytes_in_per_sec\":%.1f,"
                        "\"bytes_out_per_sec\":%.1f,\"messages_in_per_sec\":%.1f,"
                        "\"connections\":%lld,\"event_clients\":%d},\"actions_enabled\":%s,"
                        "\"mirrors\":[",
                        total, offline, under, not_pref, c->in_rate, c->out_rate, c->msgs_rate,
                        (long long)conn_count(), n_clients,
                        b->cfg->gregor_console_actions_enable && !b->authz ? "true" : "false");
    mirrors_json(out, b->cfg->gregor_console_mirrors);
    evbuffer_add_printf(out, "]}\n");
    mc_put(s);
    send_json(r, out);
    evbuffer_free(out);
}

/* ---- /api/topics --------------------------------------------------------------- */

/* This broker's replica of (t, p): offsets and size, or "null". */
static bool local_part(struct evbuffer *out, struct topic *lt, int32_t p)
{
    if (!lt || p >= atomic_load(&lt->n_parts))
        return false;
    struct partition *part = topic_part(lt, p);
    int64_t rp, log_start, hw, size, lag;
    if (!partition_checkpoint(part, &rp, &log_start, &hw) ||
        !partition_log_dir_info(part, &size, &lag))
        return false;
    evbuffer_add_printf(out,
                        "{\"log_start_offset\":%" PRId64 ",\"end_offset\":%" PRId64
                        ",\"size_bytes\":%" PRId64 ",\"offset_lag\":%" PRId64 "}",
                        log_start, hw, size, lag);
    return true;
}

static void topics_cb(struct evhttp_request *r, void *arg)
{
    struct console *c = arg;
    struct broker *b = c->b;
    const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(r));
    bool only_local = q && strstr(q, "local=1");
    struct evbuffer *out = evbuffer_new();
    struct evbuffer *part = evbuffer_new();
    if (!out || !part) {
        if (out)
            evbuffer_free(out);
        if (part)
            evbuffer_free(part);
        return;
    }
    struct mc_snapshot *s = mc_get(b->mc);
    evbuffer_add_printf(out, "{\"broker_id\":%d,\"time_ms\":%lld,\"topics\":[", b->id,
                        (long long)wall_ms());
    int shown = 0;
    for (int t = 0; t < s->n_topics; t++) {
        const struct mc_topic *mt = &s->topics[t];
        struct topic *lt = topics_get(b->topics, mt->name, strlen(mt->name));
        int parts = 0;
        evbuffer_drain(part, evbuffer_get_length(part));
        for (int32_t p = 0; p < mt->n_parts; p++) {
            const struct mc_partition *mp = &mt->parts[p];
            size_t mark = evbuffer_get_length(part);
            evbuffer_add_printf(part,
                                "%s{\"partition\":%d,\"leader\":%d,\"leader_epoch\":%d,"
                                "\"replicas\":",
                                parts ? "," : "", p, mp->leader, mp->leader_epoch);
            json_ids(part, mp->replicas, mp->n_replicas);
            evbuffer_add_printf(part, ",\"isr\":");
            json_ids(part, mp->isr, mp->n_isr);
            evbuffer_add_printf(
                part, ",\"offline\":%s,\"under_replicated\":%s,\"not_preferred\":%s,\"local\":",
                mp->leader < 0 ? "true" : "false", mp->n_isr < mp->n_replicas ? "true" : "false",
                mp->leader >= 0 && mp->n_replicas > 0 && mp->leader != mp->replicas[0] ? "true"
                                                                                       : "false");
            if (!local_part(part, lt, p)) {
                if (only_local) {
                    /* drop what this partition wrote */
                    struct evbuffer *keep = evbuffer_new();
                    if (keep) {
                        evbuffer_remove_buffer(part, keep, mark);
                        evbuffer_drain(part, evbuffer_get_length(part));
                        evbuffer_add_buffer(part, keep);
                        evbuffer_free(keep);
                    }
                    continue;
                }
                evbuffer_add(part, "null", 4);
            }
            evbuffer_add(part, "}", 1);
            parts++;
        }
        if (lt)
            topic_unref(lt);
        if (only_local && parts == 0)
            continue;
        evbuffer_add_printf(out, "%s{\"name\":\"%s\",\"internal\":%s,\"partitions\":[",
                            shown++ ? "," : "", mt->name,
                            strncmp(mt->name, "__", 2) == 0 ? "true" : "false");
        evbuffer_add_buffer(out, part);
        evbuffer_add(out, "]}", 2);
    }
    evbuffer_add(out, "]}\n", 3);
    mc_put(s);
    evbuffer_free(part);
    send_json(r, out);
    evbuffer_free(out);
}

/* ---- /api/groups (group worker) ------------------------------------------------ */

struct groups_ctx {
    struct evbuffer *out;
    struct group_coord *gc;
    int groups;
    int offsets;
};

static void each_offset(void *arg, const char *topic, int32_t partition,
                        const struct group_offset *o)
{
    struct groups_ctx *x = arg;
    evbuffer_add_printf(x->out, "%s{\"topic\":", x->offsets++ ? "," : "");
    json_str(x->out, topic);
    evbuffer_add_printf(x->out,
                        ",\"partition\":%d,\"committed_offset\":%" PRId64
                        ",\"commit_time_ms\":%" PRId64 "}",
                        partition, o->offset, o->commit_ts);
}

static void each_group(void *arg, const struct group_info *g)
{
    struct groups_ctx *x = arg;
    struct evbuffer *out = x->out;
    evbuffer_add_printf(out, "%s{\"group_id\":", x->groups++ ? "," : "");
    json_str(out, g->group_id);
    evbuffer_add_printf(out, ",\"state\":\"%s\",\"protocol_type\":", group_state_name(g->state));
    json_str(out, g->protocol_type ? g->protocol_type : "");
    evbuffer_add_printf(out, ",\"protocol\":");
    json_str(out, g->protocol_name ? g->protocol_name : "");
    evbuffer_add_printf(out, ",\"generation\":%d,\"members\":[", g->generation);
    for (int32_t i = 0; i < g->member_count; i++) {
        struct group_member_info m;
        if (!group_member_at(x->gc, g->group_id, i, &m))
            break;
        evbuffer_add_printf(out, "%s{\"member_id\":", i ? "," : "");
        json_str(out, m.member_id ? m.member_id : "");
        evbuffer_add_printf(out, ",\"client_id\":");
        json_str(out, m.client_id ? m.client_id : "");
        evbuffer_add_printf(out, ",\"client_host\":");
        json_str(out, m.client_host ? m.client_host : "");
        evbuffer_add(out, "}", 1);
    }
    evbuffer_add_printf(out, "],\"offsets\":[");
    x->offsets = 0;
    group_offsets_foreach(x->gc, g->group_id, each_offset, x);
    evbuffer_add(out, "]}", 2);
}

static void each_coord(struct group_coord *gc, void *arg)
{
    struct groups_ctx *x = arg;
    x->gc = gc;
    group_foreach(gc, each_group, x);
}

static void groups_job(struct group_runtime *gr, void *arg)
{
    struct console *c = arg;
    struct groups_ctx x = {.out = evbuffer_new()};
    if (x.out) {
        evbuffer_add_printf(x.out, "{\"broker_id\":%d,\"time_ms\":%lld,\"groups\":[", c->b->id,
                            (long long)wall_ms());
        bool loading = group_runtime_foreach(gr, each_coord, &x);
        evbuffer_add_printf(x.out, "],\"loading\":%s}\n", loading ? "true" : "false");
        pthread_mutex_lock(&c->groups_lock);
        struct evbuffer *old = c->groups;
        c->groups = x.out;
        pthread_mutex_unlock(&c->groups_lock);
        if (old)
            evbuffer_free(old);
    }
    atomic_store(&c->groups_busy, false);
    console_unref(c);
}

static void groups_refresh(struct console *c)
{
    if (!c->b->groups || atomic_exchange(&c->groups_busy, true))
        return;
    atomic_fetch_add(&c->refs, 1);
    if (!group_runtime_call(c->b->groups, groups_job, c)) {
        atomic_store(&c->groups_busy, false);
        atomic_fetch_sub(&c->refs, 1); /* the HTTP server still holds one */
    }
}

static void groups_cb(struct evhttp_request *r, void *arg)
{
    struct console *c = arg;
    bool idle = clock_mono_ms() - c->groups_wanted_ms > CONSOLE_GROUPS_IDLE_MS;
    c->groups_wanted_ms = clock_mono_ms();
    if (idle) /* the cached answer is old: refresh now, serve it meanwhile */
        groups_refresh(c);
    struct evbuffer *out = evbuffer_new();
    if (!out)
        return;
    pthread_mutex_lock(&c->groups_lock);
    if (c->groups)
        evbuffer_add(out, evbuffer_pullup(c->groups, -1), evbuffer_get_length(c->groups));
    pthread_mutex_unlock(&c->groups_lock);
    if (evbuffer_get_length(out) == 0)
        evbuffer_add_printf(out,
                            "{\"broker_id\":%d,\"time_ms\":%lld,\"groups\":[],"
                            "\"loading\":true}\n",
                            c->b->id, (long long)wall_ms());
    send_json(r, out);
    evbuffer_free(out);
}

/* ---- /api/events (server-sent events) ------------------------------------------ */

/* Takes cl off the list and frees it. A stream whose client went away is
 * detached from its connection by libevent (an unfinished reply stays the
 * handler's), so its request is freed here; at evhttp_free() the connection
 * still holds it and frees it itself. */
static void sse_drop(struct sse_client *cl)
{
    struct console *c = cl->c;
    for (struct sse_client **pp = &c->clients; *pp; pp = &(*pp)->next)
        if (*pp == cl) {
            *pp = cl->next;
            break;
        }
    if (evhttp_request_get_connection(cl->req) == NULL)
        evhttp_request_free(cl->req);
    free(cl);
}

static void sse_closed(struct evhttp_connection *conn, void *arg) { sse_drop(arg); }

/* Drops the clients whose connection failed without a close callback. */
static void sse_reap(struct console *c)
{
    struct sse_client *cl = c->clients;
    while (cl) {
        struct sse_client *next = cl->next;
        if (evhttp_request_get_connection(cl->req) == NULL)
            sse_drop(cl);
        cl = next;
    }
}

static void sse_send(struct sse_client *cl, const char *text, size_t len)
{
    struct evbuffer *chunk = evbuffer_new();
    if (!chunk)
        return;
    evbuffer_add(chunk, text, len);
    evhttp_send_reply_chunk(cl->req, chunk);
    evbuffer_free(chunk);
}

static void sse_event(struct sse_client *cl, uint64_t id, const char *json)
{
    char head[48];
    int n = snprintf(head, sizeof(head), "id: %" PRIu64 "\ndata: ", id);
    struct evbuffer *chunk = evbuffer_new();
    if (!chunk)
        return;
    evbuffer_add(chunk, head, (size_t)n);
    evbuffer_add(chunk, json, strlen(json));
    evbuffer_add(chunk, "\n\n", 2);
    evhttp_send_reply_chunk(cl->req, chunk);
    evbuffer_free(chunk);
}

static void events_cb(struct evhttp_request *r, void *arg)
{
    struct console *c = arg;
    struct sse_client *cl = calloc(1, sizeof(*cl));
    if (!cl) {
        evhttp_send_error(r, 503, "out of memory");
        return;
    }
    cl->c = c;
    cl->req = r;
    cl->conn = evhttp_request_get_connection(r);
    struct evkeyvalq *h = evhttp_request_get_output_headers(r);
    evhttp_add_header(h, "Content-Type", "text/event-stream");
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_add_header(h, "Access-Control-Allow-Origin", "*");
    evhttp_send_reply_start(r, 200, "OK");
    evhttp_connection_set_closecb(cl->conn, sse_closed, cl);
    cl->next = c->clients;
    c->clients = cl;
    /* the backlog: after Last-Event-ID when the browser reconnects, else the newest */
    uint64_t first = c->next_id > CONSOLE_BACKLOG ? c->next_id - CONSOLE_BACKLOG : 0;
    const char *last = evhttp_find_header(evhttp_request_get_input_headers(r), "Last-Event-ID");
    if (last) {
        char *end;
        unsigned long long v = strtoull(last, &end, 10);
        if (end != last && *end == '\0' && v < c->next_id)
            first = v + 1;
    }
    if (c->next_id > CONSOLE_RING && first < c->next_id - CONSOLE_RING)
        first = c->next_id - CONSOLE_RING;
    sse_send(cl, "retry: 2000\n\n", 13);
    for (uint64_t id = first; id < c->next_id; id++)
        sse_event(cl, id, c->ring[id % CONSOLE_RING]);
}

static void push_event(void *arg, const char *json)
{
    struct console *c = arg;
    char *copy = strdup(json);
    if (!copy)
        return;
    uint64_t id = c->next_id++;
    free(c->ring[id % CONSOLE_RING]);
    c->ring[id % CONSOLE_RING] = copy;
    sse_reap(c);
    for (struct sse_client *cl = c->clients; cl; cl = cl->next)
        sse_event(cl, id, copy);
}

/* Drops clients that do not read (their queued bytes past the limit). */
static void sse_prune(struct console *c)
{
    sse_reap(c);
    struct sse_client *cl = c->clients;
    while (cl) {
        struct sse_client *next = cl->next;
        struct bufferevent *bev = evhttp_connection_get_bufferevent(cl->conn);
        if (bev && evbuffer_get_length(bufferevent_get_output(bev)) > CONSOLE_CLIENT_MAX_QUEUED) {
            say_warn("http", "console event stream client dropped: not reading");
            evhttp_connection_free(cl->conn); /* runs sse_closed(), which frees cl */
        }
        cl = next;
    }
}

/* ---- actions ------------------------------------------------------------------ */

static void action_refuse(struct evhttp_request *r, int code, const char *reason, const char *why,
                          int32_t controller_id)
{
    struct evbuffer *out = evbuffer_new();
    if (!out)
        return;
    evbuffer_add_printf(out, "{\"error\":");
    json_str(out, why);
    evbuffer_add_printf(out, ",\"controller_id\":%d}\n", controller_id);
    struct evkeyvalq *h = evhttp_request_get_output_headers(r);
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "Access-Control-Allow-Origin", "*");
    evhttp_send_reply(r, code, reason, out);
    evbuffer_free(out);
}

/* The election's outcome shows in the event feed (leader_changed); nothing to keep. */
static void elect_done(void *arg, int n, const char *const *topics, const int32_t *partitions,
                       const int16_t *errors)
{
    int moved = 0;
    for (int i = 0; i < n; i++)
        moved += errors[i] == 0;
    say_info("http", "console: preferred leader election moved %d of %d partitions", moved, n);
}

/* POST /api/actions/elect-preferred[?topic=T&partition=P]: a preferred leader
 * election of every partition, or of one, on the active controller. */
static void elect_cb(struct evhttp_request *r, void *arg)
{
    struct console *c = arg;
    struct broker *b = c->b;
    struct mc_snapshot *s = mc_get(b->mc);
    int32_t ctl = s->controller_id;
    mc_put(s);
    if (evhttp_request_get_command(r) != EVHTTP_REQ_POST) {
        action_refuse(r, 405, "Method Not Allowed", "actions are POST requests", ctl);
        return;
    }
    if (!b->cfg->gregor_console_actions_enable) {
        action_refuse(r, 403, "Forbidden",
                      "console actions are disabled (gregor.console.actions.enable=false)", ctl);
        return;
    }
    if (b->authz) {
        action_refuse(r, 403, "Forbidden",
                      "console actions are refused while an authorizer is configured: "
                      "use gregor cluster elect-leaders as an authorized principal",
                      ctl);
        return;
    }
    if (!b->controller || !controller_is_active(b->controller)) {
        action_refuse(r, 421, "Misdirected Request",
                      "this broker is not the active controller: ask controller_id", ctl);
        return;
    }
    struct evkeyvalq q;
    memset(&q, 0, sizeof(q));
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(r));
    if (query && evhttp_parse_query_str(query, &q) != 0) {
        action_refuse(r, 400, "Bad Request", "the query string does not parse", ctl);
        return;
    }
    const char *topic = evhttp_find_header(&q, "topic");
    const char *pstr = evhttp_find_header(&q, "partition");
    char *end = NULL;
    long p = pstr ? strtol(pstr, &end, 10) : -1;
    if ((topic == NULL) != (pstr == NULL) ||
        (pstr && (*end || end == pstr || p < 0 || p > INT32_MAX))) {
        evhttp_clear_headers(&q);
        action_refuse(r, 400, "Bad Request",
                      "give both topic and partition (a partition number), or neither", ctl);
        return;
    }
    int32_t part = (int32_t)p;
    const char *topics[1] = {topic};
    controller_elect_leaders(b->controller, CONTROLLER_ELECT_PREFERRED, topic ? 1 : 0, topics,
                             &part, elect_done, NULL); /* copies topics */
    struct evbuffer *out = evbuffer_new();
    if (!out) {
        evhttp_clear_headers(&q);
        return;
    }
    evbuffer_add_printf(out, "{\"requested\":\"preferred leader election\",\"scope\":");
    if (topic) {
        json_str(out, topic);
        evbuffer_add_printf(out, ",\"partition\":%d}\n", part);
    } else {
        evbuffer_add_printf(out, "\"all\"}\n");
    }
    evhttp_clear_headers(&q); /* topic points into q */
    struct evkeyvalq *h = evhttp_request_get_output_headers(r);
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "Access-Control-Allow-Origin", "*");
    evhttp_send_reply(r, 202, "Accepted", out);
    evbuffer_free(out);
}

/* ---- the timer ----------------------------------------------------------------- */

static void rates_sample(struct console *c)
{
    int n;
    struct topic **list = topics_list(c->b->topics, &n);
    uint64_t in = 0, outb = 0, msgs = 0;
    for (int i = 0; i < n; i++) {
        in += atomic_load_explicit(&list[i]->bytes_in, memory_order_relaxed);
        outb += atomic_load_explicit(&list[i]->bytes_out, memory_order_relaxed);
        msgs += atomic_load_explicit(&list[i]->messages_in, memory_order_relaxed);
    }
    topics_list_free(list, n);
    int64_t now = clock_mono_ms();
    if (c->rate_ms > 0 && now > c->rate_ms) {
        double sec = (double)(now - c->rate_ms) / 1000.0;
        /* a deleted topic takes its counts along: never a negative rate */
        c->in_rate = in >= c->in_prev ? (double)(in - c->in_prev) / sec : 0;
        c->out_rate = outb >= c->out_prev ? (double)(outb - c->out_prev) / sec : 0;
        c->msgs_rate = msgs >= c->msgs_prev ? (double)(msgs - c->msgs_prev) / sec : 0;
    }
    c->rate_ms = now;
    c->in_prev = in;
    c->out_prev = outb;
    c->msgs_prev = msgs;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct console *c = arg;
    struct mc_snapshot *s = mc_get(c->b->mc);
    if (s != c->last) {
        /* the first snapshot from the controller is the starting point, not news */
        if (mc_from_controller(c->last))
            console_diff(c->last, s, wall_ms(), push_event, c);
        mc_put(c->last);
        c->last = s;
    } else {
        mc_put(s);
    }
    c->ticks++;
    if (c->ticks % (1000 / CONSOLE_TICK_MS) == 0) {
        rates_sample(c);
        if (clock_mono_ms() - c->groups_wanted_ms <= CONSOLE_GROUPS_IDLE_MS)
            groups_refresh(c);
        sse_prune(c);
    }
    if (c->ticks % CONSOLE_PING_TICKS == 0) {
        sse_reap(c);
        for (struct sse_client *cl = c->clients; cl; cl = cl->next)
            sse_send(cl, ": ping\n\n", 8);
    }
}

/* ---- the page ------------------------------------------------------------------ */

static void page_cb(struct evhttp_request *r, void *arg)
{
    struct evbuffer *out = evbuffer_new();
    if (!out)
        return;
    evbuffer_add_reference(out, console_page_html, console_page_html_len, NULL, NULL);
    struct evkeyvalq *h = evhttp_request_get_output_headers(r);
    evhttp_add_header(h, "Content-Type", "text/html; charset=utf-8");
    evhttp_add_header(h, "Cache-Control", "no-cache");
    evhttp_send_reply(r, 200, "OK", out);
    evbuffer_free(out);
}

struct console *console_start(struct broker *b, struct evhttp *http, int http_port)
{
    struct console *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    atomic_init(&c->refs, 1);
    c->b = b;
    c->http_port = http_port;
    c->groups_wanted_ms = clock_mono_ms() - 2 * CONSOLE_GROUPS_IDLE_MS;
    pthread_mutex_init(&c->groups_lock, NULL);
    c->last = mc_get(b->mc);
    c->tick = event_new(b->main_base, -1, EV_PERSIST, tick_cb, c);
    struct timeval tv = {0, CONSOLE_TICK_MS * 1000};
    if (!c->tick || event_add(c->tick, &tv) != 0) {
        say_error("http", "console: cannot start its timer");
        if (c->tick)
            event_free(c->tick);
        console_unref(c);
        return NULL;
    }
    evhttp_set_cb(http, "/", page_cb, c);
    evhttp_set_cb(http, "/console", page_cb, c);
    evhttp_set_cb(http, "/api/cluster", cluster_cb, c);
    evhttp_set_cb(http, "/api/topics", topics_cb, c);
    evhttp_set_cb(http, "/api/groups", groups_cb, c);
    evhttp_set_cb(http, "/api/events", events_cb, c);
    evhttp_set_cb(http, "/api/actions/elect-preferred", elect_cb, c);
    evhttp_set_cb(http, "/api/actions/reset-offsets", console_reset_cb, b);
    return c;
}

void console_stop(struct console *c)
{
    if (c && c->tick) {
        event_free(c->tick);
        c->tick = NULL;
    }
    if (c)
        sse_reap(c); /* streams already detached from their connection */
}

void console_free(struct console *c) { console_unref(c); }
