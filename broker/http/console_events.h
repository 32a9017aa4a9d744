/*
 * broker/http/console_events.h — the console's event feed vocabulary: the
 * differences between two metadata snapshots (broker/core/metadata_cache.h)
 * as JSON objects, one per event, in the words of `gregor cluster watch`
 * (cli/cluster_watch.c): broker_joined, broker_left, controller_changed,
 * topic_created, topic_deleted, leader_changed, isr_shrank, isr_expanded,
 * isr_changed, replicas_changed. Owns the event object format documented in
 * docs/operations.md ("Web console", /api/events). Pure: no I/O, no locks.
 */
#ifndef GREGOR_BROKER_HTTP_CONSOLE_EVENTS_H
#define GREGOR_BROKER_HTTP_CONSOLE_EVENTS_H

#include <stddef.h>
#include <stdint.h>

struct mc_snapshot;

/* Receives one event: a NUL-terminated JSON object (borrowed for the call). */
typedef void console_event_fn(void *arg, const char *json);

/* Calls emit for every event that leads from snapshot old to snapshot cur,
 * each stamped "time_ms": now_ms (wall clock). old may be a snapshot that
 * never came from the controller (no brokers, no topics): then only what
 * cur adds is reported. Returns the number of events. */
int console_diff(const struct mc_snapshot *old, const struct mc_snapshot *cur, int64_t now_ms,
                 console_event_fn *emit, void *arg);

/* Appends s as a JSON string (quoted, escaped) to buf of size cap at *len;
 * stops (keeping buf NUL-terminated) when full. */
void console_json_str(char *buf, size_t cap, size_t *len, const char *s);

#endif
