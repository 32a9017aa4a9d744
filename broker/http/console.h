/*
 * broker/http/console.h — the web console on the broker's HTTP port
 * (docs/operations.md, "Web console"): the page at / and /console (embedded
 * in the binary from broker/http/console/index.html), the JSON endpoints
 * /api/cluster, /api/topics and /api/groups, and the event feed /api/events
 * (server-sent events; the events of console_events.h), and, with
 * gregor.console.actions.enable and no authorizer, the action POST
 * /api/actions/elect-preferred (on the active controller). Owns the JSON field
 * names of those endpoints. Everything runs on the main thread's loop (the
 * HTTP server's), never on the network workers; the groups are read on the
 * group worker through group_runtime_call() and handed over under a lock.
 */
#ifndef GREGOR_BROKER_HTTP_CONSOLE_H
#define GREGOR_BROKER_HTTP_CONSOLE_H

struct broker;
struct evhttp;
struct console;

/* Registers the console's routes on http and starts its timer (metadata
 * diff for the event feed, byte rates). http_port: the port the server is
 * bound to, reported in /api/cluster. Returns NULL on failure (logged). Main
 * thread. */
struct console *console_start(struct broker *b, struct evhttp *http, int http_port);
/* Stops the timer. The event-stream clients are dropped by evhttp_free()
 * (their close callbacks), which must come before console_free(). NULL ok. */
void console_stop(struct console *c);
/* Drops the HTTP server's reference (a groups job in flight holds its own). NULL ok. */
void console_free(struct console *c);

#endif
