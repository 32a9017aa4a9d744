/*
 * broker/net/listener.h — the broker's listening sockets.
 */
#ifndef GREGOR_BROKER_NET_LISTENER_H
#define GREGOR_BROKER_NET_LISTENER_H

#include "broker/net/conn.h"

#include <stddef.h>

struct broker;
struct event_base;
struct worker;
struct listeners;

/* Binds every address of "host:port" for listener `name` (host "" = all
 * interfaces on IPv4 and IPv6, "localhost" = 127.0.0.1 and ::1) on base and
 * spreads accepted sockets round-robin over workers[0..n_workers). Call on
 * base's thread before the loop runs. Returns 0, or -1 with err set. */
int listeners_add(struct listeners **ls, struct broker *b, struct event_base *base,
                  struct worker **workers, int n_workers, const struct conn_limits *lim,
                  const char *name, const char *host, int port, char *err, size_t errlen);
/* As listeners_add(), for a TLS listener: its sockets' connections run
 * TLS with tls (net/tls.h), which ls takes over (freed by listeners_free(),
 * or at once on failure). tls NULL = plaintext. */
struct tls_server;
int listeners_add_tls(struct listeners **ls, struct broker *b, struct event_base *base,
                      struct worker **workers, int n_workers, const struct conn_limits *lim,
                      const char *name, const char *host, int port, struct tls_server *tls,
                      char *err, size_t errlen);
/* Closes every listening socket; NULL ok. */
void listeners_free(struct listeners *ls);
/* Returns the actual port of the first socket of listener `name` (useful
 * when port 0 was asked), -1 if none. */
int listeners_port(const struct listeners *ls, const char *name);

#endif
