/*
 * broker/http/http.c — evhttp on the main loop. Endpoints:
 *   GET /healthz  200 "ok" while the process serves (liveness)
 *   GET /readyz   200 when ready to take its share of traffic, else 503; the
 *                 body says why (readiness.h)
 *   GET /metrics  counters of broker/config/metrics.h plus gauges (connections,
 *                 topics, partitions) and the series of series.c (replica
 *                 health, controller, per-API, per-topic), Prometheus text
 *                 exposition format
 *   GET /, /console, /api/...  the web console (console.h)
 * Handlers only read atomics and the topic registry: nothing blocks.
 */
#include "broker/http/http.h"
#include "broker/http/console.h"
#include "broker/http/readiness.h"
#include "broker/http/series.h"
#include "broker/http/series_kafka.h"
#include "broker/core/advertised.h"
#include "broker/core/metadata_cache.h"
#include "broker/config/metrics.h"
#include "broker/net/conn.h"
#include "broker/core/broker.h"
#include "broker/core/quotas.h"
#include "broker/replication/fetcher.h"
#include "broker/replication/topics.h"
#include "broker/storage/cleaner_pool.h"
#include "common/clock.h"
#include "common/say.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static void healthz_cb(struct evhttp_request *r, void *arg)
{
    struct evbuffer *out = evbuffer_new();
    if (!out)
        return;
    evbuffer_add_printf(out, "ok\n");
    evhttp_send_reply(r, 200, "OK", out);
    evbuffer_free(out);
}

static void readyz_cb(struct evhttp_request *r, void *arg)
{
    struct broker *b = arg;
    struct evbuffer *out = evbuffer_new();
    if (!out)
        return;
    bool registered = __atomic_load_n(&b->broker_epoch, __ATOMIC_ACQUIRE) > 0;
    struct mc_snapshot *s = mc_get(b->mc);
    char body[4096], why[sizeof(b->advertised_why)];
    bool unresolved = advertised_unresolved(b, why, sizeof(why));
    char lost[256];
    bool session_lost = broker_session_lost(b, lost, sizeof(lost));
    struct readiness rd = readiness_eval(s, b->id, registered, session_lost ? lost : NULL,
                                         unresolved ? why : NULL, body, sizeof(body));
    mc_put(s);
    evbuffer_add(out, body, strlen(body));
    evhttp_add_header(evhttp_request_get_output_headers(r), "Content-Type", "text/plain");
    if (rd.ready)
        evhttp_send_reply(r, 200, "OK", out);
    else
        evhttp_send_reply(r, 503, "Service Unavailable", out);
    evbuffer_free(out);
}

static void counter(struct evbuffer *out, const char *name, const char *help, uint64_t v)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
                        (unsigned long long)v);
}

static void gauge(struct evbuffer *out, const char *name, const char *help, long long v)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s gauge\n%s %lld\n", name, help, name, name, v);
}

/* The log cleaner's counters (storage/cleaner_pool.h). */
static void cleaner_metrics(struct evbuffer *out, struct cleaner_pool *pool)
{
    struct cleaner_stats st;
    cleaner_pool_stats(pool, &st);
    gauge(out, "gregor_log_cleaner_logs", "logs of compacted topics registered with the cleaner",
          st.logs);
    counter(out, "gregor_log_cleaner_passes_total", "cleaner passes that rewrote segments",
            (uint64_t)st.passes);
    counter(out, "gregor_log_cleaner_passes_aborted_total",
            "cleaner passes given up because the log changed or was closed",
            (uint64_t)st.passes_aborted);
    counter(out, "gregor_log_cleaner_passes_failed_total", "cleaner passes that hit an error",
            (uint64_t)st.passes_failed);
    counter(out, "gregor_log_cleaner_read_bytes_total", "segment bytes read by the cleaner",
            (uint64_t)st.bytes_read);
    counter(out, "gregor_log_cleaner_written_bytes_total", "cleaned segment bytes written",
            (uint64_t)st.bytes_written);
    counter(out, "gregor_log_cleaner_removed_records_total", "records removed by compaction",
            (uint64_t)st.records_removed);
    counter(out, "gregor_log_cleaner_throttled_us_total",
            "microseconds the cleaner slept in log.cleaner.io.max.bytes.per.second",
            (uint64_t)st.throttled_us);
    gauge(out, "gregor_log_cleaner_last_pass_ms", "duration of the last cleaner pass",
          st.last_pass_ms);
    evbuffer_add_printf(out,
                        "# HELP gregor_log_cleaner_max_dirty_ratio largest dirty ratio of the "
                        "last selection\n# TYPE gregor_log_cleaner_max_dirty_ratio gauge\n"
                        "gregor_log_cleaner_max_dirty_ratio %.4f\n",
                        st.max_dirty_ratio);
}

/* The client quotas (core/quotas.h): throttle time handed out and responses throttled, per
 * quota type, labelled as Kafka names its sensors' types. */
static void client_quota_metrics(struct evbuffer *out, struct quotas *q)
{
    static const char *const type[QUOTA_N] = {"Produce", "Fetch", "Request"};
    struct quota_stats st;
    quotas_stats(q, &st);
    evbuffer_add_printf(out, "# HELP gregor_quota_throttle_time_ms_total throttle time given to "
                             "clients over their quotas (Kafka's throttle-time)\n"
                             "# TYPE gregor_quota_throttle_time_ms_total counter\n");
    for (int t = 0; t < QUOTA_N; t++)
        evbuffer_add_printf(out, "gregor_quota_throttle_time_ms_total{quota=\"%s\"} %llu\n",
                            type[t], (unsigned long long)st.throttle_ms[t]);
    evbuffer_add_printf(out, "# HELP gregor_quota_throttled_total responses throttled by a "
                             "client quota\n# TYPE gregor_quota_throttled_total counter\n");
    for (int t = 0; t < QUOTA_N; t++)
        evbuffer_add_printf(out, "gregor_quota_throttled_total{quota=\"%s\"} %llu\n", type[t],
                            (unsigned long long)st.throttled[t]);
}

/* The replication throttles (replication/throttle.h): one side's meter and limit. */
static void throttle_metrics(struct evbuffer *out, const char *side,
                             const struct throttle_stats *st, int64_t limit)
{
    char name[96], help[160];
    snprintf(name, sizeof(name), "gregor_replication_%s_throttled_bytes_total", side);
    snprintf(help, sizeof(help), "replication bytes of %s-throttled replicas", side);
    counter(out, name, help, st->bytes_total);
    snprintf(name, sizeof(name), "gregor_replication_%s_throttled_ms_total", side);
    snprintf(help, sizeof(help), "milliseconds the %s replication throttle held partitions back",
             side);
    counter(out, name, help, (uint64_t)st->throttled_ms);
    snprintf(name, sizeof(name), "gregor_replication_%s_throttle_holds_total", side);
    snprintf(help, sizeof(help), "checks that found the %s throttled rate exceeded", side);
    counter(out, name, help, st->holds);
    snprintf(name, sizeof(name), "gregor_replication_%s_throttled_rate_bytes", side);
    snprintf(help, sizeof(help), "current byte rate of %s-throttled replication (bytes/s)", side);
    gauge(out, name, help, st->rate);
    snprintf(name, sizeof(name), "gregor_replication_%s_throttled_rate_limit_bytes", side);
    snprintf(help, sizeof(help), "%s.replication.throttled.rate (bytes/s; -1 = unlimited)", side);
    gauge(out, name, help, limit == INT64_MAX ? -1 : limit);
}

static void metrics_cb(struct evhttp_request *r, void *arg)
{
    struct broker *b = arg;
    struct metrics *m = &b->metrics;
    struct evbuffer *out = evbuffer_new();
    if (!out)
        return;
    counter(out, "gregor_requests_total", "Kafka requests handled", metrics_get(&m->requests));
    counter(out, "gregor_produce_records_total", "records appended by Produce",
            metrics_get(&m->produce_records));
    counter(out, "gregor_produce_bytes_total", "record batch bytes appended by Produce",
            metrics_get(&m->produce_bytes));
    counter(out, "gregor_produce_offloaded_requests_total",
            "Produce requests whose appends ran on the io workers (gregor.produce.offload.bytes)",
            metrics_get(&m->produce_offloaded));
    counter(out, "gregor_fetch_sendfile_bytes_total",
            "Fetch record bytes sent from segment files with sendfile (zero copy)",
            metrics_get(&m->fetch_sendfile_bytes));
    counter(out, "gregor_fetch_copied_bytes_total",
            "Fetch record bytes copied through user space (gregor.fetch.sendfile=false, or TLS)",
            metrics_get(&m->fetch_copied_bytes));
    counter(out, "gregor_connections_accepted_total", "client and broker connections accepted",
            metrics_get(&m->connections_accepted));
    if (b->cleaner)
        cleaner_metrics(out, b->cleaner);
    struct throttle_stats ts;
    throttle_meter_stats(&b->leader_throttle, clock_mono_ms(), &ts);
    throttle_metrics(out, "leader", &ts, dyn_load(&b->dyn.leader_replication_throttled_rate));
    if (b->fetchers) {
        struct fetcher_stats fs;
        fetchers_get_stats(b->fetchers, &fs);
        throttle_metrics(out, "follower", &fs.throttle,
                         dyn_load(&b->dyn.follower_replication_throttled_rate));
    }
    client_quota_metrics(out, b->quotas);
    gauge(out, "gregor_connections", "open connections", (long long)conn_count());
    int n;
    struct topic **list = topics_list(b->topics, &n);
    long long parts = 0;
    for (int i = 0; i < n; i++)
        parts += list[i]->n_parts;
    topics_list_free(list, n);
    gauge(out, "gregor_topics", "topics known to this broker", n);
    gauge(out, "gregor_partitions", "partitions known to this broker", parts);
    series_write(out, b);
    series_kafka_write(out, b);
    evhttp_add_header(evhttp_request_get_output_headers(r), "Content-Type",
                      "text/plain; version=0.0.4");
    evhttp_send_reply(r, 200, "OK", out);
    evbuffer_free(out);
}

static int sock_port(evutil_socket_t fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
        return -1;
    return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)&ss)->sin_port);
}

int http_start(struct broker *b)
{
    const struct broker_config *cfg = b->cfg;
    if (cfg->gregor_http_port < 0)
        return 0;
    if (cfg->gregor_http_port > 65535) {
        say_error("config", "invalid value '%d' for gregor.http.port: not a port",
                  cfg->gregor_http_port);
        return -1;
    }
    b->http = evhttp_new(b->main_base);
    if (!b->http)
        return -1;
    evhttp_set_cb(b->http, "/healthz", healthz_cb, b);
    evhttp_set_cb(b->http, "/readyz", readyz_cb, b);
    evhttp_set_cb(b->http, "/metrics", metrics_cb, b);
    struct evhttp_bound_socket *s = evhttp_bind_socket_with_handle(
        b->http, cfg->gregor_http_host, (ev_uint16_t)cfg->gregor_http_port);
    if (!s) {
        say_error("http", "cannot listen on gregor.http.host=%s gregor.http.port=%d",
                  cfg->gregor_http_host, cfg->gregor_http_port);
        return -1;
    }
    int port = sock_port(evhttp_bound_socket_get_fd(s));
    b->console = console_start(b, b->http, port);
    if (!b->console)
        return -1;
    say_info("http", "listening host=%s port=%d (web console at /)", cfg->gregor_http_host, port);
    return 0;
}

void http_stop(struct broker *b)
{
    console_stop(b->console);
    if (b->http)
        evhttp_free(b->http); /* closes the console's event streams */
    b->http = NULL;
    console_free(b->console);
    b->console = NULL;
}
