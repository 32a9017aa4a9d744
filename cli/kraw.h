/*
 * cli/kraw.h — a tiny blocking Kafka protocol client for the requests that
 * librdkafka 2.0.2 has no API for (ElectLeaders, Metadata fields it drops
 * such as a broker's rack). One TCP connection (TLS and a SASL login on it
 * when configured, as librdkafka's security.protocol), one request in flight.
 *
 * Framing: int32 size, then the request header (common/kheader.h) v1, or
 * v2 for flexible versions (common/api_keys.h api_is_flexible()), then the body encoded by the caller with
 * common/kwire.h. The response header (version by khdr_resp_version()) is
 * read and checked here and only the body is handed back. API keys are
 * common/api_keys.h.
 *
 * Threads: a struct kraw belongs to one thread. Errors are printed by the
 * caller; kraw only fills a short reason string.
 */
#ifndef GREGOR_CLI_KRAW_H
#define GREGOR_CLI_KRAW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/api_keys.h"
#include "common/buf.h"

/* Results of kraw_connect() / kraw_call(). */
enum kraw_rc {
    KRAW_OK = 0,
    KRAW_ERR = 1,    /* connect failed, timeout, malformed answer: see reason */
    KRAW_CLOSED = 2, /* the peer closed the connection instead of answering */
};

struct ssl_st;

struct kraw {
    int fd;             /* -1 when closed */
    struct ssl_st *ssl; /* the TLS session over fd (kraw_set_tls()), or NULL */
    int32_t corr;       /* next correlation id */
    int timeout_ms;     /* per connect and per call */
    char addr[300];     /* "host:port", for messages */
    char reason[512];   /* why the last call failed */
};

/* Connects to host:port within timeout_ms (used for every later call too).
 * Returns KRAW_OK or KRAW_ERR (k->reason set). k is initialised either way. */
int kraw_connect(struct kraw *k, const char *host, int port, int timeout_ms);

/*
 * Sends one request (api_key, version; the header versions follow
 * khdr_req_version() and khdr_resp_version()) with `body` (borrowed; the
 * caller encodes it flexibly when api_is_flexible()) and waits for its
 * response. On KRAW_OK *resp is new (free() it) and holds *resp_len bytes
 * of the response body, after the header. KRAW_CLOSED when the peer closed
 * the connection before a full answer arrived; KRAW_ERR otherwise.
 */
int kraw_call(struct kraw *k, int16_t api_key, int16_t version, const struct kbuf *body,
              uint8_t **resp, size_t *resp_len);

/*
 * ApiVersions v0 on k: stores the highest version the broker supports for
 * api_key into *max_version, or -1 when the key is not listed. Returns a
 * kraw_rc (KRAW_ERR also for an error code in the response).
 */
int kraw_api_max_version(struct kraw *k, int16_t api_key, int16_t *max_version);

/* Makes every later kraw_connect() log in with SASL (SaslHandshake v1 and
 * SaslAuthenticate; PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, common/sasl_cli.h)
 * as user; mechanism NULL or "" turns it off. The CLI sets it from the
 * sasl.* properties of a sasl_plaintext or sasl_ssl security.protocol; on
 * sasl_ssl the login follows the TLS handshake. */
void kraw_set_sasl(const char *mechanism, const char *user, const char *password);

/* Makes every later kraw_connect() run TLS (OpenSSL) over its socket,
 * before any SASL login, with librdkafka's meaning of the settings: ca_file
 * (ssl.ca.location; NULL: the system's CAs) verifies the broker's
 * certificate unless verify_cert is false
 * (enable.ssl.certificate.verification=false); check_host compares the
 * name or address connected to with the certificate
 * (ssl.endpoint.identification.algorithm=https, the default); cert_file and
 * key_file (ssl.certificate.location, ssl.key.location; both or neither)
 * are the client certificate for mutual TLS. The files are read at the
 * first connect, which fails with the reason when one does not load.
 * Ignores SIGPIPE for the process (OpenSSL writes with write(2)). */
void kraw_set_tls(const char *ca_file, const char *cert_file, const char *key_file,
                  bool verify_cert, bool check_host);

/* Closes the connection; safe to call twice. */
void kraw_close(struct kraw *k);

#endif
