/*
 * broker/net/tls.h — the TLS side of a listener whose security protocol is
 * SSL or SASL_SSL: its OpenSSL context (certificate chain and key, trusted
 * CAs, client authentication, protocol versions, ciphers), kept fresh when
 * the PEM files change, and the principal of a client certificate.
 */
#ifndef GREGOR_BROKER_NET_TLS_H
#define GREGOR_BROKER_NET_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

struct event_base;
struct tls_server;

/* A listener's TLS settings (the ssl.* keys as config_listener_value()
 * gives them for that listener; docs/security.md). Strings are copied. */
struct tls_server_config {
    const char *listener;        /* its name, for logs */
    const char *keystore;        /* ssl.keystore.location (required) */
    const char *key_password;    /* ssl.key.password, NULL = key not encrypted */
    const char *truststore;      /* ssl.truststore.location, NULL = none */
    const char *client_auth;     /* none | requested | required */
    const char *protocols;       /* ssl.enabled.protocols */
    const char *ciphers;         /* ssl.cipher.suites, NULL = OpenSSL's defaults */
    const char *principal_rules; /* ssl.principal.mapping.rules */
    int reload_ms;               /* look at the files' stat this often; 0 = never */
};

/* Builds the listener's context, checking every file (a missing file, a
 * key that does not match the certificate, a wrong password, an unknown
 * cipher are errors). With reload_ms > 0 a timer on base (the main loop)
 * rebuilds it when the keystore or truststore file changes; a new file
 * that does not load is logged and the old context kept. Returns NULL with
 * the reason in err. Call on base's thread. */
struct tls_server *tls_server_new(const struct tls_server_config *c, struct event_base *base,
                                  char *err, size_t errlen);
/* Stops the timer and drops the context (connections keep theirs). Call on
 * base's thread. NULL ok. */
void tls_server_free(struct tls_server *ts);
/* A new server-side SSL object on the current context, or NULL (logged).
 * Call on base's thread (the accepting loop); the SSL may then move to a
 * network loop. */
SSL *tls_server_ssl_new(struct tls_server *ts);
/* How many times the context was rebuilt from changed files; for tests. */
int tls_server_reloads(const struct tls_server *ts);

/* After the handshake of ssl: the client certificate's principal,
 * "User:" + the mapped subject (ssl.principal.mapping.rules of the context
 * ssl came from) in out (size n). Returns 1, 0 when the client sent no
 * certificate (out untouched: the connection stays User:ANONYMOUS), -1
 * when no mapping rule matches (out holds the DN; Kafka refuses such a
 * client). Thread-safe for distinct ssl. */
int tls_peer_principal(SSL *ssl, char *out, size_t n);
/* The subject of cert in Kafka's (Java's X500Principal) RFC 2253 form:
 * most specific attribute first, "," between them, RFC 2253 escapes
 * ("CN=alice,OU=eng,O=Acme"). Returns false if it does not fit in n. */
bool tls_subject_dn(X509 *cert, char *out, size_t n);

#endif
