/*
 * broker/http/series_kafka.c — /metrics series named as the Prometheus JMX
 * exporter names a Kafka broker's MBeans (series_kafka.h; the list with the
 * MBean behind each is in docs/metrics.md). Every value is computed from the
 * same state and counters as Gregor's own series:
 *   gauges      kafka_server_replicamanager_*, kafka_controller_kafkacontroller_*,
 *               kafka_server_delayedoperationpurgatory_purgatorysize{delayedOperation}
 *   counters    *_total: ISR shrinks/expands, unclean elections, requests by
 *               API, bytes and messages by topic
 *   timers      kafka_network_requestmetrics_{totaltimems,requestqueuetimems}
 *               {request,quantile} and kafka_log_logflushstats_logflushrateandtimems
 *               {quantile} in milliseconds: summaries, with _sum (ms) and
 *               _count since the start as Prometheus summaries have. The
 *               quantiles are interpolated in the latency buckets of
 *               config/metrics.h over a window: what happened since the
 *               older of two snapshots taken at scrapes at least 60 s apart
 *               (struct metrics_window), so they follow recent latency as
 *               Kafka's decaying reservoirs do; 0 when the window is empty.
 */
#include "broker/http/series_kafka.h"
#include "broker/http/series.h"
#include "broker/config/metrics.h"
#include "broker/core/broker.h"
#include "broker/replication/topics.h"
#include "common/clock.h"
#include "controller/controller.h"

#include <event2/buffer.h>
#include <pthread.h>
#include <string.h>

#define WINDOW_MS 60000
#define NB (METRICS_LATENCY_BUCKETS + 1)

/* guards every broker's struct metrics_window (scrapes are rare) */
static pthread_mutex_t window_lock = PTHREAD_MUTEX_INITIALIZER;

static const struct {
    const char *label;
    double q;
} quantiles[] = {{"0.50", 0.50}, {"0.75", 0.75}, {"0.95", 0.95},
                 {"0.98", 0.98}, {"0.99", 0.99}, {"0.999", 0.999}};
#define NQ (sizeof(quantiles) / sizeof(quantiles[0]))

static double quantile_ms(const uint64_t c[NB], double q)
{
    uint64_t total = 0;
    for (int k = 0; k < NB; k++)
        total += c[k];
    if (total == 0)
        return 0;
    double rank = q * (double)total, cum = 0;
    for (int k = 0; k < NB; k++) {
        double lo = k == 0 ? 0 : (double)metrics_latency_le_us(k - 1);
        if (k == METRICS_LATENCY_BUCKETS)
            return lo / 1000.0;
        double hi = (double)metrics_latency_le_us(k);
        if (c[k] > 0 && cum + (double)c[k] >= rank) {
            double frac = (rank - cum) / (double)c[k];
            return (lo + (hi - lo) * frac) / 1000.0;
        }
        cum += (double)c[k];
    }
    return 0;
}

static void load(uint64_t dst[NB], _Atomic uint64_t src[NB])
{
    for (int k = 0; k < NB; k++)
        dst[k] = metrics_get(&src[k]);
}

/* The counts now, and (base) those at the window's start. Lock held. */
struct window_view {
    struct metrics_snap now;
    const struct metrics_snap *base; /* NULL: since the broker started */
};

static void window_take(struct metrics *m, struct window_view *v)
{
    struct metrics_window *w = &m->window;
    v->now.at_ms = clock_mono_ms();
    for (int s = 0; s < METRICS_API_SLOTS; s++) {
        load(v->now.total[s], m->api[s].latency);
        load(v->now.queue[s], m->api[s].queue);
    }
    load(v->now.flush, m->log_flush.b);
    if (w->snap[1].at_ms == 0 || v->now.at_ms - w->snap[1].at_ms >= WINDOW_MS) {
        w->snap[0] = w->snap[1];
        w->snap[1] = v->now;
    }
    v->base = w->snap[0].at_ms ? &w->snap[0] : NULL;
}

static void delta(uint64_t d[NB], const uint64_t now[NB], const uint64_t *base)
{
    for (int k = 0; k < NB; k++)
        d[k] = base ? now[k] - base[k] : now[k];
}

static void replica_gauges(struct evbuffer *out, struct broker *b)
{
    struct series_replicas rc;
    series_count_replicas(b, &rc);
    long long hosted = rc.hosted, leaders = rc.leaders, under = rc.under_replicated,
              under_min = rc.under_min_isr, at_min = rc.at_min_isr, offline = rc.offline;
    series_one(out, "kafka_server_replicamanager_partitioncount", "gauge",
               "partition replicas this broker hosts", hosted);
    series_one(out, "kafka_server_replicamanager_leadercount", "gauge",
               "partitions this broker leads", leaders);
    series_one(out, "kafka_server_replicamanager_underreplicatedpartitions", "gauge",
               "partitions this broker leads whose ISR is smaller than their replica set", under);
    series_one(out, "kafka_server_replicamanager_underminisrpartitioncount", "gauge",
               "partitions this broker leads whose ISR is below min.insync.replicas", under_min);
    series_one(out, "kafka_server_replicamanager_atminisrpartitioncount", "gauge",
               "partitions this broker leads whose ISR equals min.insync.replicas", at_min);
    series_one(out, "kafka_server_replicamanager_offlinereplicacount", "gauge",
               "replicas assigned to this broker without a usable log", offline);
    struct metrics *m = &b->metrics;
    series_one(out, "kafka_server_replicamanager_isrshrinks_total", "counter",
               "ISR shrinks of partitions this broker leads",
               (long long)metrics_get(&m->isr_shrinks));
    series_one(out, "kafka_server_replicamanager_isrexpands_total", "counter",
               "ISR expansions of partitions this broker leads",
               (long long)metrics_get(&m->isr_expands));
}

static void controller_gauges(struct evbuffer *out, struct broker *b)
{
    struct controller_stats s = {0};
    if (b->controller)
        controller_get_stats(b->controller, &s);
    series_one(out, "kafka_controller_kafkacontroller_activecontrollercount", "gauge",
               "1 on the active controller, else 0", s.active);
    series_one(out, "kafka_controller_kafkacontroller_offlinepartitionscount", "gauge",
               "partitions without a leader (active controller only)", s.offline_partitions);
    series_one(
        out, "kafka_controller_kafkacontroller_preferredreplicaimbalancecount", "gauge",
        "partitions led by a replica other than their preferred one (active controller only)",
        s.preferred_imbalance);
    series_one(out, "kafka_controller_kafkacontroller_globalpartitioncount", "gauge",
               "partitions in the cluster (active controller only)", s.partitions);
    series_one(out, "kafka_controller_kafkacontroller_globaltopiccount", "gauge",
               "topics in the cluster (active controller only)", s.topics);
    series_one(out, "kafka_controller_controllerstats_uncleanleaderelections_total", "counter",
               "leaders this broker's controller elected from outside the ISR",
               (long long)s.unclean_elections);
}

static void purgatory(struct evbuffer *out, struct broker *b)
{
    const char *n = "kafka_server_delayedoperationpurgatory_purgatorysize";
    series_head(out, n, "gauge", "requests parked until partitions move or their timeout");
    evbuffer_add_printf(out, "%s{delayedOperation=\"Produce\"} %lld\n", n,
                        (long long)atomic_load(&b->metrics.parked_produce));
    evbuffer_add_printf(out, "%s{delayedOperation=\"Fetch\"} %lld\n", n,
                        (long long)atomic_load(&b->metrics.parked_fetch));
}

/* The summary name{request,quantile}, name_sum, name_count for every used
 * API. */
static void request_timer(struct evbuffer *out, struct metrics *m, const struct window_view *v,
                          bool queue, const char *name, const char *help)
{
    series_head(out, name, "summary", help);
    for (int s = 0; s < METRICS_API_SLOTS; s++) {
        struct metrics_api *a = &m->api[s];
        if (!metrics_get(&a->requests))
            continue;
        const uint64_t *now = queue ? v->now.queue[s] : v->now.total[s];
        uint64_t d[NB], cnt = 0;
        delta(d, now, v->base ? (queue ? v->base->queue[s] : v->base->total[s]) : NULL);
        for (size_t q = 0; q < NQ; q++)
            evbuffer_add_printf(out, "%s{request=\"%s\",quantile=\"%s\"} %.3f\n", name,
                                series_slot_name(s), quantiles[q].label,
                                quantile_ms(d, quantiles[q].q));
        for (int k = 0; k < NB; k++)
            cnt += now[k];
        uint64_t sum_us = metrics_get(queue ? &a->queue_us_sum : &a->latency_us_sum);
        evbuffer_add_printf(out, "%s_sum{request=\"%s\"} %.3f\n%s_count{request=\"%s\"} %llu\n",
                            name, series_slot_name(s), (double)sum_us / 1000.0, name,
                            series_slot_name(s), (unsigned long long)cnt);
    }
}

static void requests(struct evbuffer *out, struct broker *b, const struct window_view *v)
{
    struct metrics *m = &b->metrics;
    series_head(out, "kafka_network_requestmetrics_requests_total", "counter",
                "requests finished, by API");
    for (int s = 0; s < METRICS_API_SLOTS; s++) {
        uint64_t n = metrics_get(&m->api[s].requests);
        if (n)
            evbuffer_add_printf(
                out, "kafka_network_requestmetrics_requests_total{request=\"%s\"} %llu\n",
                series_slot_name(s), (unsigned long long)n);
    }
    request_timer(out, m, v, false, "kafka_network_requestmetrics_totaltimems",
                  "ms from a request's arrival to its response being queued, by API (recent "
                  "window)");
    request_timer(out, m, v, true, "kafka_network_requestmetrics_requestqueuetimems",
                  "ms from a request's arrival to its handler starting, by API (recent window)");
}

static void log_flush(struct evbuffer *out, struct broker *b, const struct window_view *v)
{
    const char *n = "kafka_log_logflushstats_logflushrateandtimems";
    uint64_t d[NB];
    delta(d, v->now.flush, v->base ? v->base->flush : NULL);
    series_head(out, n, "summary",
                "ms a background log flush (fsync of a partition's segments) took");
    for (size_t q = 0; q < NQ; q++)
        evbuffer_add_printf(out, "%s{quantile=\"%s\"} %.3f\n", n, quantiles[q].label,
                            quantile_ms(d, quantiles[q].q));
    evbuffer_add_printf(out, "%s_sum %.3f\n%s_count %llu\n", n,
                        (double)metrics_get(&b->metrics.log_flush.us_sum) / 1000.0, n,
                        (unsigned long long)metrics_get(&b->metrics.log_flush.count));
}

static void topic_counters(struct evbuffer *out, struct broker *b)
{
    static const struct series_topic_col cols[] = {
        {"kafka_server_brokertopicmetrics_bytesin_total",
         "record batch bytes appended by Produce, by topic", offsetof(struct topic, bytes_in)},
        {"kafka_server_brokertopicmetrics_messagesin_total",
         "records appended by Produce, by topic", offsetof(struct topic, messages_in)},
        {"kafka_server_brokertopicmetrics_bytesout_total",
         "record bytes sent to consumers by Fetch, by topic", offsetof(struct topic, bytes_out)},
    };
    series_topic_counters(out, b, cols, sizeof(cols) / sizeof(cols[0]));
}

void series_kafka_write(struct evbuffer *out, struct broker *b)
{
    static struct window_view v; /* large; only used under window_lock */
    replica_gauges(out, b);
    controller_gauges(out, b);
    purgatory(out, b);
    topic_counters(out, b);
    pthread_mutex_lock(&window_lock);
    window_take(&b->metrics, &v);
    requests(out, b, &v);
    log_flush(out, b, &v);
    pthread_mutex_unlock(&window_lock);
}
