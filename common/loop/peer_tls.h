/*
 * common/loop/peer_tls.h — TLS for the broker's own connections to other
 * brokers' inter-broker listener (replica fetchers, controller channels,
 * the transaction marker sender), and the OpenSSL context settings the
 * broker's TLS listeners share with them (broker/net/tls.c).
 *
 * One process-wide client context, set once at start (peer_tls_configure())
 * before any loop connects, when the inter-broker listener's protocol is
 * SSL; without it peer_bufferevent_new() makes plaintext bufferevents.
 */
#ifndef GREGOR_COMMON_LOOP_PEER_TLS_H
#define GREGOR_COMMON_LOOP_PEER_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

struct bufferevent;
struct event_base;

/* The inter-broker client settings (the inter-broker listener's ssl.*
 * keys). Strings are read during the call only. */
struct peer_tls_config {
    const char *keystore;     /* chain + key presented as client certificate; NULL = none */
    const char *key_password; /* NULL = key not encrypted */
    const char *truststore;   /* CAs the other brokers' certificates must chain to (required) */
    const char *protocols;    /* ssl.enabled.protocols */
    const char *ciphers;      /* ssl.cipher.suites; NULL/"" = OpenSSL's defaults */
    bool verify_host;         /* ssl.endpoint.identification.algorithm=https */
};

/* Builds the client context (every file checked). Call once, before any
 * connection, on one thread. false with the reason in err. */
bool peer_tls_configure(const struct peer_tls_config *c, char *err, size_t errlen);
/* Drops the client context (at exit; connections hold their own reference). */
void peer_tls_shutdown(void);
/* Whether brokers' connections to each other run TLS. */
bool peer_tls_enabled(void);

/* A new, unconnected bufferevent (BEV_OPT_CLOSE_ON_FREE) for a connection
 * to host, connected afterwards with bufferevent_socket_connect*(): TLS
 * (checking host against the certificate with verify_host) when
 * configured, plaintext otherwise. BEV_EVENT_CONNECTED then means the
 * handshake completed. NULL when out of memory. Any thread. */
struct bufferevent *peer_bufferevent_new(struct event_base *base, const char *host);
/* After a BEV_EVENT_ERROR on a bufferevent of peer_bufferevent_new(): the
 * TLS reason (e.g. "certificate verify failed") into buf (size n), or
 * false if the error was not TLS's. */
bool peer_tls_error(struct bufferevent *bev, char *buf, size_t n);

/* Shared with the listeners' contexts: */
/* ssl.enabled.protocols ("TLSv1.2,TLSv1.3", already checked) as min/max versions. */
bool tls_ctx_set_protocols(SSL_CTX *ctx, const char *list);
/* ssl.cipher.suites: IANA (TLS_ECDHE_RSA_WITH_...) or OpenSSL names for TLS
 * 1.2, TLS_AES_* / TLS_CHACHA20_* suites for TLS 1.3. false with err. */
bool tls_ctx_set_ciphers(SSL_CTX *ctx, const char *list, char *err, size_t errlen);
/* Loads a PEM certificate chain + private key file (password for an
 * encrypted key; never prompts) and checks that they match. false with err. */
bool tls_ctx_use_keystore(SSL_CTX *ctx, const char *path, const char *password, char *err,
                          size_t errlen);
/* The last OpenSSL error of this thread as text (emptying the queue). */
const char *tls_last_error(char *buf, size_t n);

#endif
