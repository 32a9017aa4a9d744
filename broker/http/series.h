/*
 * broker/http/series.h — the /metrics series operators alert on, in
 * Prometheus text exposition format (docs/metrics.md lists each with the
 * Kafka JMX name it corresponds to): replica health of this broker, the
 * active controller's view of the cluster, requests by API and per-topic
 * traffic. http.c writes the rest.
 */
#ifndef GREGOR_BROKER_HTTP_SERIES_H
#define GREGOR_BROKER_HTTP_SERIES_H

struct broker;
struct evbuffer;

/* Appends every series of this file to out. The HTTP loop; reads only
 * atomics, the topic registry and partitions under their locks. */
void series_write(struct evbuffer *out, struct broker *b);

#endif
