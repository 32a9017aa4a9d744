/*
 * broker/net/conn.h — one client or broker connection on a network loop.
 */
#ifndef GREGOR_BROKER_NET_CONN_H
#define GREGOR_BROKER_NET_CONN_H

#include <stdbool.h>
#include <stdint.h>

struct metrics;
struct net_slot;

struct broker;
struct worker;

/* Limits a connection applies (from the broker config). */
struct conn_limits {
    int32_t max_request_bytes;      /* socket.request.max.bytes */
    int64_t idle_ms;                /* connections.max.idle.ms */
    int64_t read_timeout_ms;        /* gregor.request.read.timeout.ms; -1 = none */
    char inter_broker_listener[32]; /* not counted against max.connections */
    int32_t sndbuf, rcvbuf;         /* -1 = OS default */
    bool sendfile;                  /* gregor.fetch.sendfile */
    struct metrics *metrics;        /* borrowed: the broker's counters */
};

/* Adopts an accepted socket on worker w. Must run on w's thread. Takes fd
 * (closed on failure) and the admission slot (released when the socket
 * closes, or on failure). */
void conn_adopt(struct broker *b, struct worker *w, int fd, const struct conn_limits *lim,
                const char *listener_name, const struct net_slot *slot);

/* As conn_adopt(), over TLS: ssl (taken; freed on failure) is a
 * server-side session from the listener's context (net/tls.h), and the
 * handshake runs before the first request; NULL = plaintext. */
typedef struct ssl_st SSL;
void conn_adopt_tls(struct broker *b, struct worker *w, int fd, const struct conn_limits *lim,
                    const char *listener_name, const struct net_slot *slot, SSL *ssl);

/* Sets the principal ("User:NAME") requests on conn carry from now on (after a
 * TLS client certificate or a SASL exchange authenticated the peer). Must run
 * on conn's loop. */
struct conn;
void conn_set_principal(struct conn *conn, const char *principal);

/* Number of open connections (all loops); for metrics and tests. */
int64_t conn_count(void);

/* Closes every connection of worker w, answering parked requests first
 * (req->cancel). Must run on w's thread; used at shutdown. */
void conn_close_all(struct worker *w);

#endif
