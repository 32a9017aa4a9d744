/*
 * broker/http/series.h — the /metrics series operators alert on, in
 * Prometheus text exposition format (docs/metrics.md lists each with the
 * Kafka JMX name it corresponds to): replica health of this broker, the
 * active controller's view of the cluster, requests by API and per-topic
 * traffic. http.c writes the rest.
 */
#ifndef GREGOR_BROKER_HTTP_SERIES_H
#define GREGOR_BROKER_HTTP_SERIES_H

#include <stddef.h>

struct broker;
struct evbuffer;

/* ---- shared with series_kafka.c (the same figures under Kafka's names) ---- */

/* "# HELP" and "# TYPE" lines; one() adds a single unlabelled sample. */
void series_head(struct evbuffer *out, const char *name, const char *type, const char *help);
void series_one(struct evbuffer *out, const char *name, const char *type, const char *help,
                long long v);

/* This broker's replicas: hosted, led, and of those it leads the ones under-replicated,
 * under / at min.insync.replicas; replicas without a usable log. */
struct series_replicas {
    long long hosted, leaders, under_replicated, under_min_isr, at_min_isr, offline;
};
void series_count_replicas(struct broker *b, struct series_replicas *rc);

/* Per-topic counters of struct topic (an _Atomic uint64_t at `off`), one series each:
 * name{topic="..."} value. */
struct series_topic_col {
    const char *name, *help;
    size_t off;
};
void series_topic_counters(struct evbuffer *out, struct broker *b,
                           const struct series_topic_col *cols, size_t n_cols);

/* The API name of a metrics slot ("Unknown" for none). */
const char *series_slot_name(int slot);

/* Appends every series of this file to out. The HTTP loop; reads only
 * atomics, the topic registry and partitions under their locks. */
void series_write(struct evbuffer *out, struct broker *b);

#endif
