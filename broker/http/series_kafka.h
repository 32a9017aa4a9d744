/*
 * broker/http/series_kafka.h — the Kafka-named series of /metrics: the names
 * the Prometheus JMX exporter gives a Kafka broker's MBeans with the
 * exporter's example Kafka rules (lower-case kafka_<domain>_<type>_<name>,
 * meters' counts as _total, timers as quantile gauges plus _count), so that
 * Kafka dashboards and alert rules work on a Gregor cluster unchanged
 * (docs/metrics.md "Kafka-named series").
 */
#ifndef GREGOR_BROKER_HTTP_SERIES_KAFKA_H
#define GREGOR_BROKER_HTTP_SERIES_KAFKA_H

struct broker;
struct evbuffer;

/* Appends the Kafka-named series to out. The HTTP loop; reads atomics, the
 * topic registry, partitions under their locks and the controller's stats;
 * takes this file's lock to move the quantile window. */
void series_kafka_write(struct evbuffer *out, struct broker *b);

#endif
