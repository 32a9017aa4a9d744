/*
 * broker/net/tls_io.h — the TLS layer of one connection accepted on an SSL
 * or SASL_SSL listener: the server handshake, reading plaintext (the
 * socket read in large pieces, many records per read(2)), and writing
 * responses (plaintext gathered into full records, ciphertext sent in large
 * writes). net/conn.c drives it from its own read event; the connection's
 * bufferevent writes what the socket did not take.
 */
#ifndef GREGOR_BROKER_NET_TLS_IO_H
#define GREGOR_BROKER_NET_TLS_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <openssl/ssl.h>

struct bufpool;
struct evbuffer;
struct tls_io;

/* Results of tls_io_handshake() and tls_io_read() besides data. */
#define TLS_IO_AGAIN 0  /* nothing more until the socket is readable */
#define TLS_IO_EOF (-1) /* the peer closed (with close_notify or without) */
#define TLS_IO_ERR (-2) /* a TLS or socket error: tls_io_why() says which */

/* Returns new: the TLS layer of the non-blocking socket fd (not owned) for
 * ssl (taken: freed with the tls_io, or here on failure), a server-side
 * session. Ciphertext goes straight to fd while out (borrowed: the
 * connection's output buffer) is empty, else behind what out holds. pool
 * (borrowed: the loop's buffer cache) lends the buffer a response is
 * gathered in. NULL on out of memory. On the connection's loop only. */
struct tls_io *tls_io_new(SSL *ssl, int fd, struct evbuffer *out, struct bufpool *pool);
/* Frees t and its SSL; the socket stays open. NULL ok. */
void tls_io_free(struct tls_io *t);
/* Borrowed: t's session (for the peer's certificate, version, cipher). */
SSL *tls_io_ssl(struct tls_io *t);
/* Why the last call failed, for the log: OpenSSL's first error, and the
 * reason a client certificate was refused when one was. */
const char *tls_io_why(const struct tls_io *t);

/* Runs the server handshake as far as the received bytes allow and sends
 * its replies. Returns 1 when it completed, TLS_IO_AGAIN, TLS_IO_EOF or
 * TLS_IO_ERR. */
int tls_io_handshake(struct tls_io *t);
/* Decrypts at most n bytes (at most one TLS record's) into buf. Returns
 * the byte count (> 0), TLS_IO_AGAIN, TLS_IO_EOF or TLS_IO_ERR. */
ssize_t tls_io_read(struct tls_io *t, void *buf, size_t n);
/* Whether bytes received from the socket wait inside the layer: they do
 * not make the socket readable again, so the caller must come back for
 * them. */
bool tls_io_pending(struct tls_io *t);

/* The pieces of one response, in order: n bytes at p, and len bytes of file
 * fd from pos (read with pread). Small pieces are gathered so that records
 * are full; ciphertext leaves whenever enough is waiting. tls_io_write()
 * returns false on an error (out of memory, socket); tls_io_write_file()
 * returns 1, 0 when the file holds fewer bytes than asked, -1 on an error.
 * tls_io_flush() ends the response: everything gathered is encrypted and
 * sent or queued in out. Returns false on an error. */
bool tls_io_write(struct tls_io *t, const void *p, size_t n);
int tls_io_write_file(struct tls_io *t, int fd, off_t pos, size_t len);
bool tls_io_flush(struct tls_io *t);

#endif
