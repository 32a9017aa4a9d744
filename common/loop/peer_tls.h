/*
 * common/loop/peer_tls.h — TLS for the broker's own connections to other
 * brokers' inter-broker listener (replica fetchers, controller channels,
 * the transaction marker sender), and the OpenSSL context settings the
 * broker's TLS listeners share with them (broker/net/tls.c).
 *
 * One process-wide client context, set at start (peer_tls_configure())
 * before any loop connects, when the inter-broker listener's protocol is
 * SSL; without it peer_bufferevent_new() makes plaintext bufferevents.
 * peer_tls_reload() rebuilds it when the keystore or truststore file
 * changed; connections made before keep the context they were made with.
 */
#ifndef GREGOR_COMMON_LOOP_PEER_TLS_H
#define GREGOR_COMMON_LOOP_PEER_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

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

/* Builds the client context (every file checked) and keeps c's settings for
 * peer_tls_reload(). Call once, before any connection, on one thread. false
 * with the reason in err. */
bool peer_tls_configure(const struct peer_tls_config *c, char *err, size_t errlen);
/* When the keystore or truststore file changed since the context was built
 * (or last looked at): rebuilds it from the files as they are now. 1:
 * rebuilt; 0: nothing changed (or no TLS); -1: the new files do not load (the
 * old context stays; reason in err; reported once per change). One thread at
 * a time (the broker's main loop timer). */
int peer_tls_reload(char *err, size_t errlen);
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
/* What a reload compares: a file with another inode, size, mtime or ctime is
 * a new file. */
struct tls_file_stamp {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime, ctime;
    bool present;
};
/* The stamp of path (present false when it is missing or path NULL). */
void tls_file_stamp(const char *path, struct tls_file_stamp *st);
bool tls_file_stamp_eq(const struct tls_file_stamp *a, const struct tls_file_stamp *b);
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
