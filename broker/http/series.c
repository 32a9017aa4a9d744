/*
 * broker/http/series.c — /metrics series with Kafka-equivalent meaning
 * (docs/metrics.md):
 *   gregor_replica_*        this broker's replicas: one walk of the topic
 *                           registry per scrape, each partition read under
 *                           its lock (partition_health())
 *   gregor_controller_*     the active controller's gauges (controller_get_stats())
 *   gregor_api_*            requests, failures and latency per API key
 *                           (config/metrics.h)
 *   gregor_topic_*          bytes in/out and records in, one label per topic
 *   gregor_txn_*            the transaction coordinator's counters (struct
 *                           txn_stats in struct broker, broker/txn/txn_stats.h)
 * Label values are topic names ([a-zA-Z0-9._-], no escaping needed) and
 * API names from common/api_keys.h.
 */
#include "broker/http/series.h"
#include "broker/config/metrics.h"
#include "broker/core/broker.h"
#include "broker/replication/partition.h"
#include "broker/replication/topics.h"
#include "common/api_keys.h"
#include "controller/controller.h"

#include <event2/buffer.h>
#include <stddef.h>

void series_head(struct evbuffer *out, const char *name, const char *type, const char *help)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void series_one(struct evbuffer *out, const char *name, const char *type, const char *help,
                long long v)
{
    series_head(out, name, type, help);
    evbuffer_add_printf(out, "%s %lld\n", name, v);
}

void series_count_replicas(struct broker *b, struct series_replicas *rc)
{
    *rc = (struct series_replicas){0};
    int n;
    struct topic **list = topics_list(b->topics, &n);
    for (int i = 0; i < n; i++) {
        struct topic *t = list[i];
        int32_t np = atomic_load(&t->n_parts);
        for (int32_t p = 0; p < np; p++) {
            struct partition_health h;
            partition_health(topic_part(t, p), &h);
            rc->hosted += h.hosted;
            rc->offline += h.offline;
            if (!h.leader)
                continue;
            rc->leaders++;
            rc->under_replicated += h.n_isr < h.n_replicas;
            rc->under_min_isr += h.n_isr < h.min_isr;
            rc->at_min_isr += h.n_isr == h.min_isr;
        }
    }
    topics_list_free(list, n);
}

static void replica_series(struct evbuffer *out, struct broker *b)
{
    struct series_replicas rc;
    series_count_replicas(b, &rc);
    struct metrics *m = &b->metrics;
    series_one(out, "gregor_replica_partitions", "gauge", "partition replicas this broker hosts",
               rc.hosted);
    series_one(out, "gregor_replica_leaders", "gauge", "partitions this broker leads", rc.leaders);
    series_one(out, "gregor_replica_under_replicated_partitions", "gauge",
               "partitions this broker leads whose ISR is smaller than their replica set",
               rc.under_replicated);
    series_one(out, "gregor_replica_under_min_isr_partitions", "gauge",
               "partitions this broker leads whose ISR is below min.insync.replicas",
               rc.under_min_isr);
    series_one(out, "gregor_replica_at_min_isr_partitions", "gauge",
               "partitions this broker leads whose ISR equals min.insync.replicas", rc.at_min_isr);
    series_one(
        out, "gregor_replica_offline", "gauge",
        "replicas assigned to this broker without a usable log (not opened, or a disk error)",
        rc.offline);
    series_one(out, "gregor_replica_isr_shrinks_total", "counter",
               "ISR shrinks of partitions this broker leads",
               (long long)metrics_get(&m->isr_shrinks));
    series_one(out, "gregor_replica_isr_expands_total", "counter",
               "ISR expansions of partitions this broker leads",
               (long long)metrics_get(&m->isr_expands));
    series_one(out, "gregor_replica_leader_elections_total", "counter",
               "times this broker became a partition's leader",
               (long long)metrics_get(&m->leader_elections));
}

static void controller_series(struct evbuffer *out, struct broker *b)
{
    struct controller_stats s = {0};
    if (b->controller)
        controller_get_stats(b->controller, &s);
    series_one(out, "gregor_controller_active", "gauge", "1 on the active controller, else 0",
               s.active);
    series_one(out, "gregor_controller_epoch", "gauge", "controller epoch (active controller only)",
               s.epoch);
    series_one(out, "gregor_controller_offline_partitions", "gauge",
               "partitions without a leader (active controller only)", s.offline_partitions);
    series_one(
        out, "gregor_controller_preferred_replica_imbalance", "gauge",
        "partitions led by a replica other than their preferred (first) one (active controller "
        "only)",
        s.preferred_imbalance);
    series_one(out, "gregor_controller_partitions", "gauge",
               "partitions in the cluster (active controller only)", s.partitions);
    series_one(out, "gregor_controller_topics", "gauge",
               "topics in the cluster (active controller only)", s.topics);
    series_one(out, "gregor_controller_reassigning_partitions", "gauge",
               "partitions being reassigned (active controller only)", s.reassigning);
    series_one(out, "gregor_controller_unclean_elections_total", "counter",
               "leaders this broker's controller elected from outside the ISR",
               (long long)s.unclean_elections);
}

static void txn_series(struct evbuffer *out, struct broker *b)
{
    struct txn_stats_view v;
    txn_stats_read(&b->txn_stats, &v);
    series_one(out, "gregor_txn_open_transactions", "gauge",
               "transactions Ongoing or Prepare* in the __transaction_state partitions this broker "
               "leads",
               (long long)v.open);
    series_one(out, "gregor_txn_committed_total", "counter",
               "transactions this broker's coordinator completed with a commit",
               (long long)v.committed);
    series_one(out, "gregor_txn_aborted_total", "counter",
               "transactions this broker's coordinator completed with an abort",
               (long long)v.aborted);
    series_one(out, "gregor_txn_producers_fenced_total", "counter",
               "producers this broker's coordinator fenced (a new instance, or an open transaction "
               "fenced by InitProducerId or its timeout)",
               (long long)v.fenced);
}

const char *series_slot_name(int slot)
{
    int key = metrics_slot_api_key(slot);
    return key < 0 ? "Unknown" : api_key_name(key);
}

static void api_series(struct evbuffer *out, struct broker *b)
{
    struct metrics *m = &b->metrics;
    series_head(out, "gregor_api_requests_total", "counter", "requests finished, by API");
    for (int s = 0; s < METRICS_API_SLOTS; s++) {
        uint64_t n = metrics_get(&m->api[s].requests);
        if (n)
            evbuffer_add_printf(out, "gregor_api_requests_total{api=\"%s\"} %llu\n",
                                series_slot_name(s), (unsigned long long)n);
    }
    series_head(
        out, "gregor_api_errors_total", "counter",
        "requests refused (malformed, unsupported) or whose response could not be built, by "
        "API");
    for (int s = 0; s < METRICS_API_SLOTS; s++) {
        if (!metrics_get(&m->api[s].requests))
            continue;
        evbuffer_add_printf(out, "gregor_api_errors_total{api=\"%s\"} %llu\n", series_slot_name(s),
                            (unsigned long long)metrics_get(&m->api[s].errors));
    }
    series_head(out, "gregor_api_request_duration_seconds", "histogram",
                "time from a request's arrival to its response being queued, by API");
    for (int s = 0; s < METRICS_API_SLOTS; s++) {
        struct metrics_api *a = &m->api[s];
        if (!metrics_get(&a->requests))
            continue;
        const char *name = series_slot_name(s);
        uint64_t cum = 0;
        for (int k = 0; k <= METRICS_LATENCY_BUCKETS; k++) {
            cum += metrics_get(&a->latency[k]);
            if (k < METRICS_LATENCY_BUCKETS)
                evbuffer_add_printf(out,
                                    "gregor_api_request_duration_seconds_bucket{api=\"%s\","
                                    "le=\"%g\"} %llu\n",
                                    name, (double)metrics_latency_le_us(k) / 1e6,
                                    (unsigned long long)cum);
            else
                evbuffer_add_printf(out,
                                    "gregor_api_request_duration_seconds_bucket{api=\"%s\","
                                    "le=\"+Inf\"} %llu\n",
                                    name, (unsigned long long)cum);
        }
        evbuffer_add_printf(out, "gregor_api_request_duration_seconds_sum{api=\"%s\"} %.6f\n", name,
                            (double)metrics_get(&a->latency_us_sum) / 1e6);
        evbuffer_add_printf(out, "gregor_api_request_duration_seconds_count{api=\"%s\"} %llu\n",
                            name, (unsigned long long)cum);
    }
}

static void topic_series(struct evbuffer *out, struct broker *b)
{
    static const struct series_topic_col cols[] = {
        {"gregor_topic_bytes_in_total", "record batch bytes appended by Produce, by topic",
         offsetof(struct topic, bytes_in)},
        {"gregor_topic_messages_in_total", "records appended by Produce, by topic",
         offsetof(struct topic, messages_in)},
        {"gregor_topic_bytes_out_total", "record bytes sent to consumers by Fetch, by topic",
         offsetof(struct topic, bytes_out)},
    };
    series_topic_counters(out, b, cols, sizeof(cols) / sizeof(cols[0]));
}

void series_topic_counters(struct evbuffer *out, struct broker *b,
                           const struct series_topic_col *cols, size_t n_cols)
{
    int n;
    struct topic **list = topics_list(b->topics, &n);
    for (size_t c = 0; c < n_cols; c++) {
        series_head(out, cols[c].name, "counter", cols[c].help);
        for (int i = 0; i < n; i++) {
            _Atomic uint64_t *v = (_Atomic uint64_t *)((char *)list[i] + cols[c].off);
            evbuffer_add_printf(out, "%s{topic=\"%s\"} %llu\n", cols[c].name, list[i]->name,
                                (unsigned long long)metrics_get(v));
        }
    }
    topics_list_free(list, n);
}

void series_write(struct evbuffer *out, struct broker *b)
{
    replica_series(out, b);
    controller_series(out, b);
    txn_series(out, b);
    api_series(out, b);
    topic_series(out, b);
}
