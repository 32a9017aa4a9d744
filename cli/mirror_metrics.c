/*
 * cli/mirror_metrics.c — the HTTP endpoint of `gregor mirror --metrics-port`:
 * GET /metrics answers the mirror's counters in Prometheus' text format and
 * GET /api/mirror the same as one JSON object for the brokers' web console
 * (both listed in docs/operations.md, "gregor mirror"); anything else is
 * 404. One thread of its own running a libevent evhttp server.
 *
 * Threads: the HTTP thread reads struct mirror under mirror->lock.
 */
#include "cli/mirror.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static struct event_base *mr_base;
static struct evhttp *mr_http;
static pthread_t mr_thread;
static bool mr_running;

static void mr_labels(struct evbuffer *b, const struct mr_part *p)
{
    evbuffer_add_printf(b, "{topic=\"%s\",partition=\"%" PRId32 "\",target_topic=\"%s\"}",
                        p->src_topic, p->partition, p->dst_topic);
}

static void mr_series(struct evbuffer *b, const struct mirror *m, const char *name,
                      const char *type, const char *help, int field)
{
    evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    for (size_t i = 0; i < m->nparts; i++) {
        const struct mr_part *p = &m->parts[i];
        if (p->dst_topic[0] == '\0')
            continue; /* a position of a topic no longer matched */
        int64_t v = field == 0   ? p->records
                    : field == 1 ? p->bytes
                    : field == 2 ? p->lag
                                 : p->committed;
        evbuffer_add_printf(b, "%s", name);
        mr_labels(b, p);
        evbuffer_add_printf(b, " %" PRId64 "\n", v);
    }
}

static bool mr_path_is(const char *uri, const char *path)
{
    size_t n = strlen(path);
    return strncmp(uri, path, n) == 0 && (uri[n] == '\0' || uri[n] == '?');
}

/*
 * /api/mirror: {"alias":..,"up":..,"sessions":..,"partitions":[{"topic":..,
 * "partition":..,"target_topic":..,"position":..,"lag_records":..,
 * "records_total":..,"bytes_total":..}]}.
 */
static void mr_json_str(struct evbuffer *b, const char *s)
{
    evbuffer_add(b, "\"", 1);
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            evbuffer_add_printf(b, "\\%c", ch);
        else if (ch < 0x20)
            evbuffer_add_printf(b, "\\u%04x", ch);
        else
            evbuffer_add(b, s, 1);
    }
    evbuffer_add(b, "\"", 1);
}

static void mr_json(struct evbuffer *b, const struct mirror *m)
{
    evbuffer_add_printf(b, "{\"alias\":");
    mr_json_str(b, m->alias);
    evbuffer_add_printf(b, ",\"up\":%s,\"sessions\":%" PRId64 ",\"partitions\":[",
                        m->up ? "true" : "false", m->sessions);
    bool first = true;
    for (size_t i = 0; i < m->nparts; i++) {
        const struct mr_part *p = &m->parts[i];
        if (p->dst_topic[0] == '\0')
            continue; /* a position of a topic no longer matched */
        evbuffer_add_printf(b, "%s{\"topic\":", first ? "" : ",");
        mr_json_str(b, p->src_topic);
        evbuffer_add_printf(b, ",\"partition\":%" PRId32 ",\"target_topic\":", p->partition);
        mr_json_str(b, p->dst_topic);
        evbuffer_add_printf(b,
                            ",\"position\":%" PRId64 ",\"lag_records\":%" PRId64
                            ",\"records_total\":%" PRId64 ",\"bytes_total\":%" PRId64 "}",
                            p->committed, p->lag, p->records, p->bytes);
        first = false;
    }
    evbuffer_add_printf(b, "]}\n");
}

static void mr_handle(struct evhttp_request *req, void *arg)
{
    struct mirror *m = arg;
    const char *uri = evhttp_request_get_uri(req);
    bool api = uri != NULL && mr_path_is(uri, "/api/mirror");
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET || uri == NULL ||
        (!api && !mr_path_is(uri, "/metrics"))) {
        evhttp_send_error(req, HTTP_NOTFOUND, "only GET /metrics and GET /api/mirror are served");
        return;
    }
    struct evbuffer *b = evbuffer_new();
    if (b == NULL) {
        evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
        return;
    }
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    if (api) {
        pthread_mutex_lock(&m->lock);
        mr_json(b, m);
        pthread_mutex_unlock(&m->lock);
        evhttp_add_header(h, "Content-Type", "application/json");
        evhttp_add_header(h, "Cache-Control", "no-store");
        evhttp_add_header(h, "Access-Control-Allow-Origin", "*");
        evhttp_send_reply(req, HTTP_OK, "OK", b);
        evbuffer_free(b);
        return;
    }
    pthread_mutex_lock(&m->lock);
    evbuffer_add_printf(b,
                        "# HELP gregor_mirror_up 1 while a session copies records\n"
                        "# TYPE gregor_mirror_up gauge\ngregor_mirror_up{alias=\"%s\"} %d\n"
                        "# HELP gregor_mirror_sessions_total sessions started (restarts after "
                        "errors add one)\n"
                        "# TYPE gregor_mirror_sessions_total counter\n"
                        "gregor_mirror_sessions_total{alias=\"%s\"} %" PRId64 "\n",
                        m->alias, m->up ? 1 : 0, m->alias, m->sessions);
    mr_series(b, m, "gregor_mirror_records_total", "counter",
              "records copied and committed on the target by this process", 0);
    mr_series(b, m, "gregor_mirror_bytes_total", "counter",
              "key and value bytes copied and committed on the target by this process", 1);
    mr_series(b, m, "gregor_mirror_lag_records", "gauge",
              "source high watermark minus the next offset to copy (-1: unknown)", 2);
    mr_series(b, m, "gregor_mirror_position", "gauge",
              "next source offset to copy; everything below it is on the target", 3);
    pthread_mutex_unlock(&m->lock);
    evhttp_add_header(h, "Content-Type", "text/plain; version=0.0.4");
    evhttp_send_reply(req, HTTP_OK, "OK", b);
    evbuffer_free(b);
}

static void *mr_run(void *arg)
{
    (void)arg;
    event_base_dispatch(mr_base);
    return NULL;
}

int mr_metrics_start(struct mirror *m, const char *addr, int port)
{
    evthread_use_pthreads();
    mr_base = event_base_new();
    mr_http = mr_base ? evhttp_new(mr_base) : NULL;
    if (mr_http == NULL)
        return cli_fail("cannot start the metrics server: out of memory");
    evhttp_set_gencb(mr_http, mr_handle, m);
    if (evhttp_bind_socket(mr_http, addr, (uint16_t)port) != 0) {
        evhttp_free(mr_http);
        event_base_free(mr_base);
        mr_base = NULL;
        return cli_fail("cannot listen on %s:%d for --metrics-port", addr, port);
    }
    if (pthread_create(&mr_thread, NULL, mr_run, NULL) != 0) {
        evhttp_free(mr_http);
        event_base_free(mr_base);
        mr_base = NULL;
        return cli_fail("cannot start the metrics thread");
    }
    mr_running = true;
    return CLI_OK;
}

void mr_metrics_stop(void)
{
    if (!mr_running)
        return;
    event_base_loopbreak(mr_base);
    pthread_join(mr_thread, NULL);
    evhttp_free(mr_http);
    event_base_free(mr_base);
    mr_running = false;
}
