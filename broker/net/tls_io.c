/*
 * broker/net/tls_io.c — the TLS layer of one client connection
 * (broker/net/tls_io.h), on OpenSSL 3 with a BIO of ours for both
 * directions:
 *
 * Reading: the BIO reads the socket with one read(2) of up to TLS_IO_RECV
 * into a buffer from the loop's cache (given back when OpenSSL has taken
 * every byte), and OpenSSL takes each record's header and body from it.
 * OpenSSL's own read-ahead is not used: it moves the unread rest of its
 * buffer to the front at every record, which cost more than the copy
 * here. SSL_read() decrypts one record per call and copies it to the
 * caller's buffer: conn.c's input buffer, or a large request's own frame
 * buffer. Received bytes the BIO or OpenSSL still holds do not make the
 * socket readable again (tls_io_pending()).
 *
 * Writing: the BIO appends every TLS record OpenSSL writes to an evbuffer
 * (cipher). It never refuses, so SSL_write() and the handshake never wait
 * on the socket and none of OpenSSL's retry rules apply; the socket's pace
 * is kept by conn.c, which takes no request while its output buffer is
 * large. cipher goes to the socket with writev(2) while the connection's
 * output buffer is empty (the usual case) and is appended to that buffer
 * otherwise (the connection's bufferevent writes it when the socket is
 * writable), so the bytes leave in the order they were made. cipher is
 * empty whenever a call returns.
 *
 * A response is written in pieces (its header, the encoded body, file
 * spans of fetched records): pieces shorter than TLS_IO_DIRECT_MIN, and
 * file bytes (read with pread(2)), are gathered in a TLS_IO_STAGE buffer
 * from the loop's cache, so records are full and SSL_write() calls few;
 * longer pieces are encrypted where they are. Ciphertext is sent whenever
 * TLS_IO_SEND_AT of it is waiting, so a large fetch response streams out
 * rather than being encrypted whole first.
 *
 * Threads: a tls_io is used on its connection's loop only. The BIO method
 * is made once per process.
 */
#include "broker/net/tls_io.h"
#include "broker/net/bufpool.h"
#include "common/base.h"

#include <event2/buffer.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TLS_IO_RECV (256u << 10)      /* ciphertext bytes per read(2), at most */
#define TLS_IO_STAGE (256u << 10)     /* plaintext gathered per SSL_write() */
#define TLS_IO_DIRECT_MIN (16u << 10) /* longer pieces are encrypted in place */
#define TLS_IO_SEND_AT (256u << 10)   /* ciphertext waiting that is sent at once */

struct tls_io {
    SSL *ssl;                 /* owned */
    int fd;                   /* borrowed */
    struct evbuffer *out;     /* borrowed: the connection's output buffer */
    struct evbuffer *cipher;  /* owned: ciphertext made by the current call */
    struct bufpool *pool;     /* borrowed */
    uint8_t *recv;            /* from pool while it holds received bytes */
    size_t recv_at, recv_end; /* the bytes OpenSSL has not taken: [recv_at, recv_end) */
    uint8_t *stage;           /* from pool while a response is gathered */
    size_t staged;            /* bytes in stage */
    bool broken;              /* a write to the socket failed */
    char why[320];
};

/* ---- the BIO: reads the socket in large pieces, writes into cipher ---- */

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static void tls_io_recv_done(struct tls_io *t)
{
    bufpool_put(t->pool, t->recv);
    t->recv = NULL;
    t->recv_at = t->recv_end = 0;
}

/* OpenSSL asks for a record's header, then for its body: both come from
 * recv, refilled with one read(2) of up to TLS_IO_RECV when empty. */
static int bio_read(BIO *b, char *out, int len)
{
    struct tls_io *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (t->recv_at == t->recv_end) {
        if (!t->recv && !(t->recv = bufpool_get(t->pool, TLS_IO_RECV))) {
            errno = ENOMEM;
            return -1;
        }
        ssize_t got;
        do
            got = read(t->fd, t->recv, TLS_IO_RECV);
        while (got < 0 && errno == EINTR);
        if (got <= 0) {
            int e = errno;
            tls_io_recv_done(t);
            errno = e;
            if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                BIO_set_retry_read(b);
            return (int)got; /* 0: the peer closed */
        }
        t->recv_at = 0;
        t->recv_end = (size_t)got;
    }
    size_t k = MIN((size_t)len, t->recv_end - t->recv_at);
    memcpy(out, t->recv + t->recv_at, k);
    t->recv_at += k;
    if (t->recv_at == t->recv_end)
        tls_io_recv_done(t);
    return (int)k;
}

static int bio_write(BIO *b, const char *data, int len)
{
    struct tls_io *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    return evbuffer_add(t->cipher, data, (size_t)len) == 0 ? len : -1;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0; /* nothing is held back */
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static void bio_init(void)
{
    int type = BIO_get_new_index();
    BIO_METHOD *m = type < 0 ? NULL : BIO_meth_new(type | BIO_TYPE_SOURCE_SINK, "gregor tls");
    if (m && BIO_meth_set_read(m, bio_read) && BIO_meth_set_write(m, bio_write) &&
        BIO_meth_set_ctrl(m, bio_ctrl) && BIO_meth_set_create(m, bio_create))
        bio_method = m;
    else
        BIO_meth_free(m);
}

/* ---- the session ---- */

struct tls_io *tls_io_new(SSL *ssl, int fd, struct evbuffer *out, struct bufpool *pool)
{
    pthread_once(&bio_once, bio_init);
    struct tls_io *t = calloc(1, sizeof(*t));
    BIO *bio = NULL;
    if (!t || !bio_method || !(t->cipher = evbuffer_new()) || !(bio = BIO_new(bio_method))) {
        if (t && t->cipher)
            evbuffer_free(t->cipher);
        free(t);
        SSL_free(ssl);
        return NULL;
    }
    BIO_set_data(bio, t);
    SSL_set_bio(ssl, bio, bio); /* one reference, both directions */
    SSL_set_accept_state(ssl);
    /* a peer closing without close_notify is a plain end of stream (and
     * SSL_MODE_RELEASE_BUFFERS stays off: it costs a malloc and a free of
     * a record buffer per record) */
    SSL_set_options(ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
    t->ssl = ssl;
    t->fd = fd;
    t->out = out;
    t->pool = pool;
    return t;
}

void tls_io_free(struct tls_io *t)
{
    if (!t)
        return;
    SSL_free(t->ssl); /* and its BIO */
    evbuffer_free(t->cipher);
    bufpool_put(t->pool, t->stage);
    bufpool_put(t->pool, t->recv);
    free(t);
}

SSL *tls_io_ssl(struct tls_io *t) { return t->ssl; }

const char *tls_io_why(const struct tls_io *t) { return t->why; }

bool tls_io_pending(struct tls_io *t)
{
    return t->recv_at < t->recv_end || SSL_has_pending(t->ssl) == 1;
}

/* Sends cipher: straight to the socket while the output buffer is empty,
 * the rest (what the socket does not take now) behind it. */
static bool tls_io_send(struct tls_io *t)
{
    if (t->broken)
        return false;
    while (evbuffer_get_length(t->cipher) > 0 && evbuffer_get_length(t->out) == 0) {
        int w = evbuffer_write(t->cipher, t->fd);
        if (w > 0)
            continue;
        if (w < 0 && errno == EINTR)
            continue;
        if (w == 0 || errno == EAGAIN || errno == EWOULDBLOCK)
            break;
        snprintf(t->why, sizeof(t->why), "socket error: %s", strerror(errno));
        t->broken = true;
        return false;
    }
    if (evbuffer_get_length(t->cipher) > 0 && evbuffer_add_buffer(t->out, t->cipher) != 0) {
        snprintf(t->why, sizeof(t->why), "out of memory");
        return false;
    }
    return true;
}

/* Why OpenSSL's call failed with SSL_get_error() code err (sys_errno: errno
 * right after it), into t->why. Returns TLS_IO_EOF or TLS_IO_ERR. */
static int tls_io_failed(struct tls_io *t, int err, int sys_errno)
{
    unsigned long e, first = 0;
    while ((e = ERR_get_error()) != 0)
        if (!first && ERR_GET_LIB(e) != 0)
            first = e;
    int rc = TLS_IO_ERR;
    if (t->broken)
        ; /* tls_io_send() said why */
    else if (first)
        ERR_error_string_n(first, t->why, sizeof(t->why));
    else if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && sys_errno == 0)) {
        snprintf(t->why, sizeof(t->why), "connection closed by the peer");
        rc = TLS_IO_EOF;
    } else if (err == SSL_ERROR_SYSCALL)
        snprintf(t->why, sizeof(t->why), "socket error: %s", strerror(sys_errno));
    else
        snprintf(t->why, sizeof(t->why), "TLS protocol error");
    /* a refused client certificate: say why (expired, unknown CA, ...) */
    long vr = SSL_get_verify_result(t->ssl);
    if (vr != X509_V_OK) {
        size_t len = strlen(t->why);
        snprintf(t->why + len, sizeof(t->why) - len, " (client certificate: %s)",
                 X509_verify_cert_error_string(vr));
    }
    return rc;
}

int tls_io_handshake(struct tls_io *t)
{
    ERR_clear_error();
    errno = 0;
    int rc = SSL_do_handshake(t->ssl);
    int sys_errno = errno;
    int err = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(t->ssl, rc);
    bool sent = tls_io_send(t); /* its flight, or the alert that ends it */
    if (rc == 1 && sent)
        return 1;
    if (sent && (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE))
        return TLS_IO_AGAIN;
    return tls_io_failed(t, err, sys_errno);
}

ssize_t tls_io_read(struct tls_io *t, void *buf, size_t n)
{
    ERR_clear_error();
    errno = 0;
    int got = SSL_read(t->ssl, buf, (int)MIN(n, (size_t)INT_MAX));
    int sys_errno = errno;
    int err = got > 0 ? SSL_ERROR_NONE : SSL_get_error(t->ssl, got);
    /* reading may answer the peer (an alert, a key update) */
    if (evbuffer_get_length(t->cipher) > 0 && !tls_io_send(t))
        return tls_io_failed(t, err, sys_errno);
    if (got > 0)
        return got;
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
        return TLS_IO_AGAIN;
    return tls_io_failed(t, err, sys_errno);
}

/* Encrypts n bytes at p, sending as it goes. */
static bool tls_io_encrypt(struct tls_io *t, const uint8_t *p, size_t n)
{
    while (n > 0) {
        size_t k = MIN(n, (size_t)TLS_IO_SEND_AT);
        ERR_clear_error();
        errno = 0;
        int w = SSL_write(t->ssl, p, (int)k); /* all of it: the BIO never refuses */
        if (w <= 0) {
            int sys_errno = errno;
            tls_io_failed(t, SSL_get_error(t->ssl, w), sys_errno);
            return false;
        }
        p += w;
        n -= (size_t)w;
        if (evbuffer_get_length(t->cipher) >= TLS_IO_SEND_AT && !tls_io_send(t))
            return false;
    }
    return true;
}

/* Encrypts what is gathered in stage. */
static bool tls_io_push(struct tls_io *t)
{
    size_t n = t->staged;
    t->staged = 0;
    return tls_io_encrypt(t, t->stage, n);
}

static bool tls_io_stage(struct tls_io *t)
{
    if (!t->stage && !(t->stage = bufpool_get(t->pool, TLS_IO_STAGE))) {
        snprintf(t->why, sizeof(t->why), "out of memory");
        return false;
    }
    return true;
}

bool tls_io_write(struct tls_io *t, const void *p, size_t n)
{
    const uint8_t *s = p;
    while (n > 0) {
        if (t->staged == 0 && n >= TLS_IO_DIRECT_MIN)
            return tls_io_encrypt(t, s, n);
        if (!tls_io_stage(t))
            return false;
        size_t k = MIN(n, TLS_IO_STAGE - t->staged);
        memcpy(t->stage + t->staged, s, k);
        t->staged += k;
        s += k;
        n -= k;
        if (t->staged == TLS_IO_STAGE && !tls_io_push(t))
            return false;
    }
    return true;
}

int tls_io_write_file(struct tls_io *t, int fd, off_t pos, size_t len)
{
    while (len > 0) {
        if (!tls_io_stage(t))
            return -1;
        size_t k = MIN(len, TLS_IO_STAGE - t->staged);
        ssize_t got = pread(fd, t->stage + t->staged, k, pos);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return 0;
        t->staged += (size_t)got;
        pos += got;
        len -= (size_t)got;
        if (t->staged == TLS_IO_STAGE && !tls_io_push(t))
            return -1;
    }
    return 1;
}

bool tls_io_flush(struct tls_io *t)
{
    bool ok = (t->staged == 0 || tls_io_push(t)) && tls_io_send(t);
    bufpool_put(t->pool, t->stage);
    t->stage = NULL;
    t->staged = 0;
    evbuffer_drain(t->cipher, evbuffer_get_length(t->cipher)); /* after an error */
    return ok;
}
