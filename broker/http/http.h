/*
 * broker/http/http.h — the broker's HTTP endpoint (gregor.http.port):
 * GET /metrics (Prometheus text format), GET /healthz (liveness),
 * GET /readyz (readiness: readiness.h) and the web console at / and
 * /api/... (console.h).
 */
#ifndef GREGOR_BROKER_HTTP_HTTP_H
#define GREGOR_BROKER_HTTP_HTTP_H

struct broker;
struct http_server;

/* Starts serving on b->main_base when gregor.http.port >= 0. Main thread.
 * Returns 0 (also when disabled) or -1 (logged, naming the key). */
int http_start(struct broker *b);
void http_stop(struct broker *b);

#endif
