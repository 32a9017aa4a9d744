/*
 * cli/kraw.c — a blocking one-request-at-a-time Kafka client (see kraw.h):
 * non-blocking socket + poll() so that every connect, write and read is
 * bounded by the caller's timeout; optionally TLS (OpenSSL, on the same
 * non-blocking socket: SSL_ERROR_WANT_READ / WANT_WRITE become poll waits)
 * and a SASL login after it.
 *
 * Owned format: none beyond the Kafka request/response framing (request
 * header v1/v2, response header v0/v1) described in kraw.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli/kraw.h"
#include "common/sasl_cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/api_keys.h"
#include "common/kheader.h"
#include "common/err.h"
#include "common/kwire.h"

#define KRAW_CLIENT_ID "gregor-cli"
#define KRAW_MAX_RESPONSE (64 * 1024 * 1024)

static int64_t kraw_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int kraw_fail(struct kraw *k, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets k->reason from fmt; returns rc. */
static int kraw_fail(struct kraw *k, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(k->reason, sizeof(k->reason), fmt, ap);
    va_end(ap);
    return rc;
}

/* Waits until fd is ready for `events` or the deadline passes. Returns
 * KRAW_OK or KRAW_ERR (timeout or poll failure). */
static int kraw_wait(struct kraw *k, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - kraw_now_ms();
        if (left <= 0)
            return kraw_fail(k, KRAW_ERR, "%s: no answer within the timeout", k->addr);
        struct pollfd pfd = {.fd = k->fd, .events = events};
        int n = poll(&pfd, 1, (int)left);
        if (n > 0)
            return KRAW_OK;
        if (n < 0 && errno != EINTR)
            return kraw_fail(k, KRAW_ERR, "%s: poll: %s", k->addr, strerror(errno));
    }
}

/* Starts a non-blocking connect to one address and waits for it. */
static int kraw_try_addr(struct kraw *k, const struct addrinfo *ai, int64_t deadline)
{
    k->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (k->fd < 0)
        return kraw_fail(k, KRAW_ERR, "%s: socket: %s", k->addr, strerror(errno));
    if (connect(k->fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return KRAW_OK;
    if (errno != EINPROGRESS)
        goto out_errno;
    if (kraw_wait(k, POLLOUT, deadline) != KRAW_OK)
        goto out_close;
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
        goto out_errno;
    if (soerr == 0)
        return KRAW_OK;
    errno = soerr;
out_errno:
    kraw_fail(k, KRAW_ERR, "cannot connect to %s: %s", k->addr, strerror(errno));
out_close:
    close(k->fd);
    k->fd = -1;
    return KRAW_ERR;
}

/* The TLS settings every connection uses (kraw_set_tls()); ctx is built
 * from them at the first connect. */
static struct {
    bool on;
    bool verify_cert;
    bool check_host;
    char ca[1024];
    char cert[1024];
    char key[1024];
    SSL_CTX *ctx;
} kraw_tls;

void kraw_set_tls(const char *ca_file, const char *cert_file, const char *key_file,
                  bool verify_cert, bool check_host)
{
    /* OpenSSL writes with write(2), not send(MSG_NOSIGNAL): a broker that
     * closed the connection must give EPIPE, not kill the command. */
    signal(SIGPIPE, SIG_IGN);
    if (kraw_tls.ctx)
        SSL_CTX_free(kraw_tls.ctx);
    kraw_tls.ctx = NULL;
    kraw_tls.on = true;
    kraw_tls.verify_cert = verify_cert;
    kraw_tls.check_host = check_host;
    snprintf(kraw_tls.ca, sizeof(kraw_tls.ca), "%s", ca_file ? ca_file : "");
    snprintf(kraw_tls.cert, sizeof(kraw_tls.cert), "%s", cert_file ? cert_file : "");
    snprintf(kraw_tls.key, sizeof(kraw_tls.key), "%s", key_file ? key_file : "");
}

/* OpenSSL's first queued error as text (emptying the queue), or `dflt`. */
static const char *kraw_ssl_errstr(char *buf, size_t size, const char *dflt)
{
    unsigned long e = ERR_get_error();
    if (e == 0)
        return dflt;
    ERR_error_string_n(e, buf, size);
    ERR_clear_error();
    return buf;
}

/* Builds kraw_tls.ctx from the settings; on failure sets k->reason. */
static int kraw_tls_ctx(struct kraw *k)
{
    char ebuf[256];
    if (kraw_tls.ctx)
        return KRAW_OK;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL)
        return kraw_fail(k, KRAW_ERR, "TLS: cannot create a context: %s",
                         kraw_ssl_errstr(ebuf, sizeof(ebuf), "?"));
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    int ok = kraw_tls.ca[0] ? SSL_CTX_load_verify_locations(ctx, kraw_tls.ca, NULL)
                            : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) {
        SSL_CTX_free(ctx);
        return kraw_fail(k, KRAW_ERR,
                         "TLS: cannot load the CA certificates of ssl.ca.location %s: %s",
                         kraw_tls.ca, kraw_ssl_errstr(ebuf, sizeof(ebuf), "?"));
    }
    if (kraw_tls.cert[0] || kraw_tls.key[0]) {
        if (!kraw_tls.cert[0] || !kraw_tls.key[0]) {
            SSL_CTX_free(ctx);
            return kraw_fail(k, KRAW_ERR,
                             "TLS: a client certificate needs both "
                             "ssl.certificate.location and ssl.key.location");
        }
        if (SSL_CTX_use_certificate_chain_file(ctx, kraw_tls.cert) != 1) {
            SSL_CTX_free(ctx);
            return kraw_fail(k, KRAW_ERR, "TLS: cannot load ssl.certificate.location %s: %s",
                             kraw_tls.cert, kraw_ssl_errstr(ebuf, sizeof(ebuf), "?"));
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, kraw_tls.key, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(ctx) != 1) {
            SSL_CTX_free(ctx);
            return kraw_fail(k, KRAW_ERR, "TLS: cannot use ssl.key.location %s: %s", kraw_tls.key,
                             kraw_ssl_errstr(ebuf, sizeof(ebuf), "?"));
        }
    }
    SSL_CTX_set_verify(ctx, kraw_tls.verify_cert ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    kraw_tls.ctx = ctx;
    return KRAW_OK;
}

/* Why the handshake on k failed: the certificate check's result when
 * that is what failed, else OpenSSL's error. */
static int kraw_tls_failed(struct kraw *k, int ssl_err)
{
    char ebuf[256];
    long vr = SSL_get_verify_result(k->ssl);
    if (vr != X509_V_OK)
        return kraw_fail(k, KRAW_ERR,
                         "TLS handshake with %s failed: certificate verify failed (%s)", k->addr,
                         X509_verify_cert_error_string(vr));
    if (ssl_err == SSL_ERROR_SYSCALL || ssl_err == SSL_ERROR_ZERO_RETURN) {
        const char *e = kraw_ssl_errstr(ebuf, sizeof(ebuf), NULL);
        return kraw_fail(k, KRAW_ERR, "TLS handshake with %s failed: %s", k->addr,
                         e ? e : "the broker closed the connection (not a TLS listener?)");
    }
    return kraw_fail(k, KRAW_ERR, "TLS handshake with %s failed: %s", k->addr,
                     kraw_ssl_errstr(ebuf, sizeof(ebuf), "unknown error"));
}

static int kraw_wait(struct kraw *k, short events, int64_t deadline);

/* Waits for what an SSL call returning `r` needs; KRAW_OK to retry it,
 * KRAW_CLOSED when the peer closed, else KRAW_ERR with *ssl_err set. */
static int kraw_ssl_retry(struct kraw *k, int r, int64_t deadline, int *ssl_err)
{
    int e = SSL_get_error(k->ssl, r);
    *ssl_err = e;
    if (e == SSL_ERROR_WANT_READ)
        return kraw_wait(k, POLLIN, deadline);
    if (e == SSL_ERROR_WANT_WRITE)
        return kraw_wait(k, POLLOUT, deadline);
    if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0))
        return KRAW_CLOSED;
    return KRAW_ERR;
}

/* The TLS handshake on k->fd, connected to host. */
static int kraw_tls_handshake(struct kraw *k, const char *host, int64_t deadline)
{
    if (kraw_tls_ctx(k) != KRAW_OK)
        return KRAW_ERR;
    ERR_clear_error();
    k->ssl = SSL_new(kraw_tls.ctx);
    if (k->ssl == NULL || SSL_set_fd(k->ssl, k->fd) != 1)
        return kraw_fail(k, KRAW_ERR, "TLS: cannot set up a session for %s", k->addr);
    unsigned char ip[16];
    bool is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
    if (!is_ip)
        SSL_set_tlsext_host_name(k->ssl, host);
    if (kraw_tls.verify_cert && kraw_tls.check_host) {
        X509_VERIFY_PARAM *vp = SSL_get0_param(k->ssl);
        X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, host)
                       : X509_VERIFY_PARAM_set1_host(vp, host, 0);
        if (ok != 1)
            return kraw_fail(k, KRAW_ERR, "TLS: cannot check host name %s", host);
    }
    for (;;) {
        int r = SSL_connect(k->ssl);
        if (r == 1)
            return KRAW_OK;
        int ssl_err = SSL_ERROR_SSL;
        int rc = kraw_ssl_retry(k, r, deadline, &ssl_err);
        if (rc == KRAW_OK)
            continue;
        if (ssl_err == SSL_ERROR_WANT_READ || ssl_err == SSL_ERROR_WANT_WRITE)
            return rc; /* timeout: reason set by kraw_wait */
        return kraw_tls_failed(k, ssl_err);
    }
}

/* The SASL login every connection makes (kraw_set_sasl()); mech[0] == 0: none. */
static struct {
    char mech[32];
    char user[256];
    char password[256];
} kraw_sasl;

void kraw_set_sasl(const char *mechanism, const char *user, const char *password)
{
    snprintf(kraw_sasl.mech, sizeof(kraw_sasl.mech), "%s", mechanism ? mechanism : "");
    snprintf(kraw_sasl.user, sizeof(kraw_sasl.user), "%s", user ? user : "");
    snprintf(kraw_sasl.password, sizeof(kraw_sasl.password), "%s", password ? password : "");
}

/* SaslHandshake v1 and SaslAuthenticate v1 rounds with kraw_sasl. */
static int kraw_authenticate(struct kraw *k)
{
    struct sasl_cli c;
    if (!sasl_cli_init(&c, kraw_sasl.mech, kraw_sasl.user, kraw_sasl.password))
        return kraw_fail(k, KRAW_ERR, "SASL mechanism '%s' or its user is not usable",
                         kraw_sasl.mech);
    struct kbuf body;
    kbuf_init(&body);
    kw_put_str(&body, false, sasl_cli_mechanism(&c));
    uint8_t *resp = NULL;
    size_t len = 0;
    int rc = kraw_call(k, API_SASL_HANDSHAKE, 1, &body, &resp, &len);
    kbuf_destroy(&body);
    if (rc != KRAW_OK) {
        sasl_cli_done(&c);
        return rc;
    }
    int16_t err = len >= 2 ? (int16_t)be16_load(resp) : -1;
    free(resp);
    resp = NULL;
    if (err != KERR_NONE) {
        sasl_cli_done(&c);
        return kraw_fail(k, KRAW_ERR, "SASL handshake with %s: %s", k->addr, kerr_name(err));
    }
    uint8_t tok[1024], *in = NULL;
    size_t tok_len = 0, in_len = 0;
    char why[256];
    for (;;) {
        int step = sasl_cli_step(&c, in, in_len, tok, sizeof(tok), &tok_len, why, sizeof(why));
        free(resp); /* in pointed into it */
        resp = NULL;
        in = NULL;
        if (step < 0) {
            sasl_cli_done(&c);
            return kraw_fail(k, KRAW_ERR, "SASL with %s: %s", k->addr, why);
        }
        if (step == 0)
            break;
        kbuf_init(&body);
        kw_put_bytes(&body, false, tok, (int32_t)tok_len);
        rc = kraw_call(k, API_SASL_AUTHENTICATE, 1, &body, &resp, &len);
        kbuf_destroy(&body);
        if (rc != KRAW_OK) {
            sasl_cli_done(&c);
            return rc;
        }
        struct kslice s;
        kslice_init(&s, resp, len);
        err = kslice_i16(&s);
        struct kstr msg = kw_get_str(&s, false);
        int32_t n = 0;
        const uint8_t *b = kw_get_bytes(&s, false, &n);
        if (!kslice_ok(&s) || err != KERR_NONE) {
            rc = kraw_fail(k, KRAW_ERR, "SASL authentication with %s failed: %s%s%.*s", k->addr,
                           kerr_name(err), msg.ptr ? ": " : "", msg.ptr ? (int)msg.len : 0,
                           msg.ptr ? msg.ptr : "");
            free(resp);
            sasl_cli_done(&c);
            return rc;
        }
        in = (uint8_t *)b;
        in_len = b ? (size_t)n : 0;
    }
    sasl_cli_done(&c);
    return KRAW_OK;
}

int kraw_connect(struct kraw *k, const char *host, int port, int timeout_ms)
{
    char service[16];
    struct addrinfo hints, *res = NULL;
    memset(k, 0, sizeof(*k));
    k->fd = -1;
    k->corr = 1;
    k->timeout_ms = timeout_ms;
    snprintf(k->addr, sizeof(k->addr), "%s:%d", host, port);
    snprintf(service, sizeof(service), "%d", port);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int gai = getaddrinfo(host, service, &hints, &res);
    if (gai != 0)
        return kraw_fail(k, KRAW_ERR, "cannot resolve %s: %s", k->addr, gai_strerror(gai));
    int64_t deadline = kraw_now_ms() + timeout_ms;
    int rc = KRAW_ERR;
    for (const struct addrinfo *ai = res; ai && rc != KRAW_OK; ai = ai->ai_next)
        rc = kraw_try_addr(k, ai, deadline);
    freeaddrinfo(res);
    if (rc == KRAW_OK && kraw_tls.on)
        rc = kraw_tls_handshake(k, host, deadline);
    if (rc == KRAW_OK && kraw_sasl.mech[0])
        rc = kraw_authenticate(k);
    if (rc != KRAW_OK && k->fd >= 0) {
        char reason[sizeof(k->reason)];
        memcpy(reason, k->reason, sizeof(reason));
        kraw_close(k);
        memcpy(k->reason, reason, sizeof(reason));
    }
    return rc;
}

void kraw_close(struct kraw *k)
{
    if (k->ssl) {
        SSL_shutdown(k->ssl); /* one try: sends close_notify if the socket takes it */
        SSL_free(k->ssl);
        ERR_clear_error();
    }
    k->ssl = NULL;
    if (k->fd >= 0)
        close(k->fd);
    k->fd = -1;
}

/* SSL_write()s all n bytes of p. */
static int kraw_ssl_write_all(struct kraw *k, const uint8_t *p, size_t n, int64_t deadline)
{
    char ebuf[256];
    while (n > 0) {
        int w = SSL_write(k->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        int ssl_err = SSL_ERROR_SSL;
        int rc = kraw_ssl_retry(k, w, deadline, &ssl_err);
        if (rc == KRAW_CLOSED)
            return kraw_fail(k, KRAW_CLOSED, "%s closed the connection", k->addr);
        if (rc != KRAW_OK)
            return ssl_err == SSL_ERROR_WANT_READ || ssl_err == SSL_ERROR_WANT_WRITE
                       ? rc
                       : kraw_fail(k, KRAW_ERR, "%s: TLS write: %s", k->addr,
                                   kraw_ssl_errstr(ebuf, sizeof(ebuf), "connection lost"));
    }
    return KRAW_OK;
}

/* SSL_read()s exactly n bytes into p; KRAW_CLOSED on EOF or reset. */
static int kraw_ssl_read_all(struct kraw *k, uint8_t *p, size_t n, int64_t deadline)
{
    char ebuf[256];
    while (n > 0) {
        int r = SSL_read(k->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
        if (r > 0) {
            p += r;
            n -= (size_t)r;
            continue;
        }
        int ssl_err = SSL_ERROR_SSL;
        int rc = kraw_ssl_retry(k, r, deadline, &ssl_err);
        if (rc == KRAW_CLOSED)
            return kraw_fail(k, KRAW_CLOSED, "%s closed the connection", k->addr);
        if (rc != KRAW_OK)
            return ssl_err == SSL_ERROR_WANT_READ || ssl_err == SSL_ERROR_WANT_WRITE
                       ? rc
                       : kraw_fail(k, KRAW_CLOSED, "%s: TLS read: %s", k->addr,
                                   kraw_ssl_errstr(ebuf, sizeof(ebuf), "connection lost"));
    }
    return KRAW_OK;
}

/* Writes all n bytes of p. */
static int kraw_write_all(struct kraw *k, const uint8_t *p, size_t n, int64_t deadline)
{
    if (k->ssl)
        return kraw_ssl_write_all(k, p, n, deadline);
    while (n > 0) {
        ssize_t w = send(k->fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (kraw_wait(k, POLLOUT, deadline) != KRAW_OK)
                return KRAW_ERR;
            continue;
        }
        if (errno == EPIPE || errno == ECONNRESET)
            return kraw_fail(k, KRAW_CLOSED, "%s closed the connection", k->addr);
        return kraw_fail(k, KRAW_ERR, "%s: send: %s", k->addr, strerror(errno));
    }
    return KRAW_OK;
}

/* Reads exactly n bytes into p; KRAW_CLOSED on EOF or reset. */
static int kraw_read_all(struct kraw *k, uint8_t *p, size_t n, int64_t deadline)
{
    if (k->ssl)
        return kraw_ssl_read_all(k, p, n, deadline);
    while (n > 0) {
        ssize_t r = recv(k->fd, p, n, 0);
        if (r > 0) {
            p += r;
            n -= (size_t)r;
            continue;
        }
        if (r == 0 || (r < 0 && errno == ECONNRESET))
            return kraw_fail(k, KRAW_CLOSED, "%s closed the connection", k->addr);
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return kraw_fail(k, KRAW_ERR, "%s: recv: %s", k->addr, strerror(errno));
        if (kraw_wait(k, POLLIN, deadline) != KRAW_OK)
            return KRAW_ERR;
    }
    return KRAW_OK;
}

/* Builds size + header + body into frame (initialised by the caller).
 * Returns KERR_NONE, KERR__NOMEM or KERR__INVALID (frame too large). */
static kerr_t kraw_frame(struct kraw *k, struct kbuf *frame, int16_t api_key, int16_t version,
                         const struct kbuf *body)
{
    struct khdr_req h = {api_key, version, k->corr, {KRAW_CLIENT_ID, sizeof(KRAW_CLIENT_ID) - 1}};
    size_t at = khdr_frame_begin(frame);
    khdr_put_req(frame, khdr_req_version(api_key, version), &h);
    if (body && body->len > 0)
        kbuf_put(frame, body->data, body->len);
    return khdr_frame_end(frame, at, INT32_MAX);
}

/* Reads one response frame; on KRAW_OK *data (new) holds *len bytes. */
static int kraw_read_frame(struct kraw *k, int64_t deadline, uint8_t **data, size_t *len)
{
    uint8_t hdr[4];
    int rc = kraw_read_all(k, hdr, sizeof(hdr), deadline);
    if (rc != KRAW_OK)
        return rc;
    size_t size = 0;
    if (khdr_frame_size(hdr, sizeof(hdr), 4, KRAW_MAX_RESPONSE, &size) == KERR__CORRUPT)
        return kraw_fail(k, KRAW_ERR, "%s: bad response size", k->addr);
    uint8_t *buf = malloc((size_t)size);
    if (buf == NULL)
        return kraw_fail(k, KRAW_ERR, "%s: out of memory", k->addr);
    rc = kraw_read_all(k, buf, (size_t)size, deadline);
    if (rc != KRAW_OK) {
        free(buf);
        return rc;
    }
    *data = buf;
    *len = (size_t)size;
    return KRAW_OK;
}

int kraw_call(struct kraw *k, int16_t api_key, int16_t version, const struct kbuf *body,
              uint8_t **resp, size_t *resp_len)
{
    struct kbuf frame;
    uint8_t *data = NULL;
    size_t len = 0;
    int64_t deadline = kraw_now_ms() + k->timeout_ms;
    int32_t corr = k->corr;
    if (k->fd < 0)
        return kraw_fail(k, KRAW_ERR, "%s: not connected", k->addr);
    kbuf_init(&frame);
    kerr_t err = kraw_frame(k, &frame, api_key, version, body);
    k->corr++;
    int rc = err ? kraw_fail(k, KRAW_ERR, "%s: %s", k->addr,
                             err == KERR__NOMEM ? "out of memory" : "request too large")
                 : kraw_write_all(k, frame.data, frame.len, deadline);
    kbuf_destroy(&frame);
    if (rc == KRAW_OK)
        rc = kraw_read_frame(k, deadline, &data, &len);
    if (rc != KRAW_OK)
        return rc;
    struct kslice s;
    kslice_init(&s, data, len);
    int32_t got = 0;
    if (!khdr_get_resp(&s, khdr_resp_version(api_key, version), &got) || got != corr) {
        free(data);
        return kraw_fail(k, KRAW_ERR, "%s: response with a wrong correlation id", k->addr);
    }
    *resp_len = kslice_remaining(&s);
    memmove(data, kslice_cur(&s), *resp_len);
    *resp = data;
    return KRAW_OK;
}

int kraw_api_max_version(struct kraw *k, int16_t api_key, int16_t *max_version)
{
    uint8_t *resp = NULL;
    size_t len = 0;
    *max_version = -1;
    int rc = kraw_call(k, API_API_VERSIONS, 0, NULL, &resp, &len);
    if (rc != KRAW_OK)
        return rc;
    struct kslice s;
    kslice_init(&s, resp, len);
    int16_t err = kslice_i16(&s);
    int32_t n = kw_get_array_len(&s, false, 6);
    for (int32_t i = 0; i < n && kslice_ok(&s); i++) {
        int16_t key = kslice_i16(&s);
        (void)kslice_i16(&s); /* min version */
        int16_t max = kslice_i16(&s);
        if (key == api_key)
            *max_version = max;
    }
    bool ok = kslice_ok(&s);
    free(resp);
    if (!ok)
        return kraw_fail(k, KRAW_ERR, "%s: malformed ApiVersions response", k->addr);
    if (err != 0)
        return kraw_fail(k, KRAW_ERR, "%s: ApiVersions failed with error code %d", k->addr, err);
    return KRAW_OK;
}
