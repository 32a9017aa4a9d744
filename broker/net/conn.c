/*
 * broker/net/conn.c — Kafka framing on one connection.
 *
 * How a frame becomes a request and a response:
 *   input  : [int32 size][size bytes: request header + body] ...
 *   A size < 0 or > socket.request.max.bytes closes the connection (Kafka
 *   does the same; there is no generic error response). When a whole frame
 *   is received and no request of this connection is in flight, it becomes
 *   a struct req and dispatch_request() runs it. Exactly one request per
 *   connection is in flight, so responses leave in request order
 *   (docs/protocol.md §1.1); later frames wait in the input buffer, and
 *   reading pauses when that buffer grows large.
 *   output : [int32 size][response header v0/v1, common/kheader.h][req->out
 *   with req->files spliced in].
 *
 * Receiving a frame: the bufferevent reads the socket into its input
 * buffer (libevent reads at most 4 KiB per event), and a small frame is
 * copied from there into its frame buffer. A large frame (at least
 * CONN_LARGE_READ_MIN still missing once its memory is reserved) is read
 * straight into its own frame buffer instead (rx_frame): what the input
 * buffer holds of it moves there (nothing follows it in the input, since
 * it is incomplete), the bufferevent stops reading, and rx_event reads the
 * rest from the socket in reads of up to CONN_LARGE_READ_MAX, never past
 * the frame's end, so the next frame's bytes stay in the socket for the
 * bufferevent, which reads again once the frame is complete. The buffer
 * then becomes the request without a copy (TLS: see below). This also happens while a
 * request is in flight (an offloaded Produce): complete frames then wait
 * in a ring (ready, up to CONN_RX_READY_MAX; when it is full, frames are
 * received in the input buffer), ahead of anything in the input buffer,
 * and count as input for the pause on large input. EOF or a socket error
 * mid-frame closes the connection (the buffer goes back to the cache, its
 * reservation to the pool).
 *
 * Response writes: when the connection's output buffer is empty (the usual
 * case: the previous response has left), conn_send() writes the response
 * straight to the socket on the handler's path, without the bufferevent's
 * write event (which costs an epoll_ctl to arm, an epoll_wait and an
 * epoll_ctl to disarm per response): one sendmsg(2) of the header and the
 * bytes of req->out up to the first file piece, then sendfile(2) of that
 * piece (gregor.fetch.sendfile=true), and so on. What the socket does not
 * take (a partial write or EAGAIN: a slow reader, a full send buffer), and
 * everything from the first file piece on when file bytes are copied, goes
 * into the output buffer in wire order, and libevent sends it when the
 * socket is writable: file pieces with evbuffer_add_file() (sendfile) or a
 * pread copy. When the output buffer is not empty the whole response goes
 * there behind what is queued. One request per connection is in flight, so
 * a response never overtakes another. A write error closes the connection.
 * The direct path needs a plain socket under the bufferevent.
 *
 * TLS (listeners whose protocol is SSL or SASL_SSL; docs/architecture.md
 * §7): the connection's TLS layer (net/tls_io.h; its SSL made from the
 * listener's context by net/tls.c) reads and writes the socket. rx_event
 * is the connection's only read event: it runs the handshake, then
 * decrypts records into the input buffer (at most CONN_TLS_MAX_SINGLE_IO
 * per event), or a large frame straight into its own buffer as above
 * (SSL_read into rx_frame up to the frame's end). Received bytes the TLS
 * layer holds (it reads the socket in large pieces) do not make the socket
 * readable, so the event is made active for them. Reading on and off (pool, pauses, mutes: conn_read_set)
 * adds and removes that event where a plaintext connection enables the
 * bufferevent's reading, which a TLS connection never does: its
 * bufferevent only writes. A response goes through the TLS layer, which
 * gathers small pieces into full records, reads file pieces with pread (no
 * sendfile), sends the ciphertext straight to the socket when the output
 * buffer is empty and appends what the socket does not take to it. When
 * the handshake completes, a client certificate sets the principal
 * (tls_peer_principal()). Plaintext connections never test anything TLS on
 * their path but the conn's tls flag.
 *
 * Frame buffers come from the loop's cache (net/bufpool.h) and go back to
 * it when the request is freed, on the same loop.
 *
 * Request memory (queued.max.request.bytes, net/limits.h): as soon as a
 * frame's 4-byte size is buffered, its size is reserved from the broker-wide
 * pool (in_scan marks how far into the input the frames are reserved). If
 * the pool has no room, reading pauses on this connection (pool_wait) and a
 * timer retries, after 20 ms doubling to 320 ms (so thousands of paused
 * connections do not keep the loop busy); only reserved frames are taken or
 * read straight into their own buffer (a frame in rx_frame stays counted
 * in in_reserved). The reservation moves to the request when the frame is
 * taken and returns to the pool when the request is freed, so what the
 * broker holds of requests being read and run stays within the pool plus
 * one socket read per connection (or one frame larger than the pool, read
 * alone).
 *
 * Request read timeout (gregor.request.read.timeout.ms): while a frame is
 * partly received, read_timer runs; it records the absolute input offset
 * at which that frame ends (timed_end: drained counts every received byte
 * that left the input buffer, including those read into rx_frame, so
 * drained + the input's length is what was received). When it fires with
 * fewer bytes received and reading not paused by the broker, the
 * connection is closed; otherwise it is re-armed for the frame then partly
 * received, if any.
 *
 * SASL listeners: the conn owns a struct sasl_session (broker/security/
 * sasl_server.h) that requests carry (req->sasl). Until the first
 * authentication, frames larger than sasl.server.max.receive.size close the
 * connection, and auth_timer closes it when
 * gregor.sasl.authentication.timeout.ms passes first. After a successful
 * step the conn takes the session's principal (conn_set_principal). A
 * response marked close_after (a failed step) is the last: reading stops
 * and the socket closes once the output has left.
 *
 * Threads: a conn is loop-owned: created, used and freed on its worker's
 * thread only. req_complete() may be called from any thread: it posts the
 * completion to the conn's worker. A conn whose socket closed while a
 * request is pending lingers (dead = true) until that request completes.
 */
#include "broker/net/conn.h"
#include "broker/net/bufpool.h"
#include "broker/net/limits.h"
#include "broker/net/tls.h"
#include "broker/net/tls_io.h"
#include "common/loop/worker.h"
#include "broker/kafka/dispatch.h"
#include "broker/core/quotas.h"
#include "broker/kafka/request.h"
#include "broker/config/metrics.h"
#include "broker/security/sasl_server.h"
#include "common/clock.h"
#include "common/say.h"
#include "common/vec.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <openssl/ssl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define CONN_PAUSE_INPUT_BYTES (16u << 20)  /* stop reading past this while busy */
#define CONN_OUTPUT_HIGH (4u << 20)         /* stop taking requests past this */
#define CONN_LARGE_READ_MIN (64u << 10)     /* frame bytes missing before reading big */
#define CONN_LARGE_READ_MAX (1u << 20)      /* largest single read */
#define CONN_POOL_RETRY_MIN_MS 20           /* first retry of a paused reservation */
#define CONN_POOL_RETRY_MAX_MS 320          /* retries double up to this */
#define CONN_RX_READY_MAX 8                 /* large frames received, waiting their turn */
#define CONN_TLS_MAX_SINGLE_IO (256u << 10) /* TLS bytes read or written per event, at most */
#define CONN_TLS_READ_ROOM (64u << 10)      /* input room per SSL_read (it fills a record) */

/* A large frame received whole into its own buffer, waiting to be taken. */
struct rx_ready {
    uint8_t *frame; /* owned (bufpool) */
    size_t size;
};

struct conn {
    struct broker *broker;   /* borrowed */
    struct worker *worker;   /* borrowed: the loop that owns this conn */
    struct bufpool *pool;    /* borrowed: the loop's frame buffers (freed with the worker) */
    struct bufferevent *bev; /* owned; NULL once closed */
    struct conn_limits lim;
    struct req *inflight;   /* the one request being handled, or NULL */
    bool dead;              /* socket closed; free when inflight completes */
    bool write_blocked;     /* waiting for output to drain */
    bool broken;            /* a response could not be built: close */
    bool pool_wait;         /* reading paused: no room in the request pool */
    bool tls;               /* a TLS listener's: tio reads and writes the socket */
    bool tls_ready;         /* its handshake completed */
    bool tls_read_on;       /* TLS: input is read (a plaintext bufferevent's EV_READ) */
    struct tls_io *tio;     /* owned: the TLS layer (net/tls_io.h); NULL for plaintext */
    int pool_retry_ms;      /* next retry delay while pool_wait */
    struct net_slot slot;   /* admission (net/limits.h); released on close */
    size_t in_scan;         /* input bytes covered by reserved frames */
    int64_t in_reserved;    /* pool bytes reserved for frames not yet taken */
    int64_t req_reserved;   /* pool bytes held by the in-flight request */
    uint64_t drained;       /* input bytes received that left the input buffer, ever */
    uint64_t timed_end;     /* drained + offset where the timed frame ends */
    uint8_t *rx_frame;      /* owned (bufpool): a large frame being read from the socket */
    size_t rx_size;         /* its size (without the prefix); reserved in in_reserved */
    size_t rx_have;         /* bytes of it received */
    struct event *rx_event; /* owned: the socket's read event while rx_frame is short; TLS:
                             * its only read event (conn_tls_cb) */
    /* frames read whole into their own buffers, oldest at ready_head */
    struct rx_ready ready[CONN_RX_READY_MAX];
    int ready_head, ready_count;
    size_t ready_bytes;       /* their sizes, summed; in in_reserved */
    struct event *read_timer; /* owned: request read timeout */
    struct event *pool_timer; /* owned: reservation retry */
    struct conn *prev, *next; /* registry of all conns; conns_lock */
    char peer[64];            /* "address:port", for logs */
    char peer_host[64];       /* "/address", as Kafka names a client's host */
    char listener[32];
    /* who the peer is, "User:NAME" as Kafka writes a principal: User:ANONYMOUS
     * until TLS or SASL authenticates it (conn_set_principal) */
    char principal[256];
    struct sasl_session *sasl; /* owned; NULL unless the listener is SASL_* */
    struct event *auth_timer;  /* owned: gregor.sasl.authentication.timeout.ms */
    bool closing;              /* the last response is leaving; then close */
    /* client quotas (docs/security.md "Quotas"): while muted no request is
     * taken and reading is off, until mute_timer fires */
    bool muted;
    int32_t req_throttle_ms;  /* request_percentage throttle of the in-flight request */
    struct event *mute_timer; /* owned */
};

static _Atomic int64_t conn_open_count;

/* Every live struct conn, so shutdown can close them (each conn is still
 * touched only by its own loop; the lock guards the links). */
static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static struct conn *conns_head;

void conn_set_principal(struct conn *conn, const char *principal)
{
    KASSERT(worker_is_current(conn->worker));
    snprintf(conn->principal, sizeof(conn->principal), "%s", principal);
}

int64_t conn_count(void) { return atomic_load(&conn_open_count); }

/* ---- SASL (see the header comment) ---- */

/* The largest frame this connection accepts now. */
static size_t conn_frame_limit(const struct conn *conn)
{
    int32_t max = conn->lim.max_request_bytes;
    return (size_t)(conn->sasl ? sasl_session_frame_limit(conn->sasl, max) : max);
}

static void conn_close(struct conn *conn, const char *why);
static void conn_read_set(struct conn *conn, bool on);

static void conn_auth_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *conn = arg;
    KASSERT(worker_is_current(conn->worker));
    if (conn->bev && !conn->sasl->authenticated) {
        say_info("sasl",
                 "closing connection peer=%s listener=%s: not authenticated within "
                 "gregor.sasl.authentication.timeout.ms=%lld",
                 conn->peer, conn->listener, (long long)conn->sasl->cfg->auth_timeout_ms);
        conn_close(conn, "SASL authentication timeout");
    }
}

/* On a SASL listener: the session and its timer. false on out of memory. */
static bool conn_sasl_start(struct conn *conn)
{
    const struct sasl_listener *l = sasl_listener_find(conn->listener);
    if (!l)
        return true;
    conn->sasl = malloc(sizeof(*conn->sasl));
    if (!conn->sasl)
        return false;
    sasl_session_init(conn->sasl, l);
    conn->auth_timer = evtimer_new(worker_base(conn->worker), conn_auth_timeout_cb, conn);
    if (!conn->auth_timer)
        return false;
    struct timeval tv = {l->auth_timeout_ms / 1000, (l->auth_timeout_ms % 1000) * 1000};
    return evtimer_add(conn->auth_timer, &tv) == 0;
}

/* After a request: takes a newly authenticated principal; a response that
 * ends the exchange (close_after) makes the connection close once its
 * output has left. Returns false if the connection was closed. */
static bool conn_sasl_after(struct conn *conn, bool close_after)
{
    if (conn->sasl && conn->sasl->principal_changed) {
        conn->sasl->principal_changed = false;
        conn_set_principal(conn, conn->sasl->principal);
        if (conn->auth_timer)
            evtimer_del(conn->auth_timer);
    }
    if (!close_after)
        return true;
    if (evbuffer_get_length(bufferevent_get_output(conn->bev)) == 0) {
        conn_close(conn, "SASL authentication failed");
        return false;
    }
    conn->closing = true;
    conn_read_set(conn, false);
    bufferevent_setwatermark(conn->bev, EV_WRITE, 0, 0);
    return true;
}

static void conn_register(struct conn *conn)
{
    pthread_mutex_lock(&conns_lock);
    conn->next = conns_head;
    if (conns_head)
        conns_head->prev = conn;
    conns_head = conn;
    pthread_mutex_unlock(&conns_lock);
}

static void conn_unregister(struct conn *conn)
{
    pthread_mutex_lock(&conns_lock);
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        conns_head = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    pthread_mutex_unlock(&conns_lock);
}

static void conn_process(struct conn *conn);
static void conn_watch_partial(struct conn *conn);

/* TLS: the layer reported the end of the stream or an error; closes. */
static void conn_tls_lost(struct conn *conn, int rc)
{
    if (rc == TLS_IO_EOF) {
        conn_close(conn, "peer closed");
        return;
    }
    say_debug("tls", "TLS error peer=%s listener=%s: %s", conn->peer, conn->listener,
              tls_io_why(conn->tio));
    conn_close(conn, "TLS error");
}

/* Whether a large frame is being read straight into rx_frame: the
 * bufferevent's reading is off and rx_event watches the socket. */
static bool conn_rx_short(const struct conn *conn) { return conn->rx_frame != NULL; }

/* Received bytes waiting to be taken as frames: the input buffer and the
 * large frames read whole into their own buffers. */
static size_t conn_input_bytes(struct conn *conn)
{
    return evbuffer_get_length(bufferevent_get_input(conn->bev)) + conn->ready_bytes;
}

/* Adds rx_event with the idle timeout (connections.max.idle.ms, none when
 * 0). Returns event_add()'s result. */
static int conn_rx_event_add(struct conn *conn)
{
    struct timeval tv = {conn->lim.idle_ms / 1000, (conn->lim.idle_ms % 1000) * 1000};
    return event_add(conn->rx_event, conn->lim.idle_ms > 0 ? &tv : NULL);
}

/* TLS: rx_event is pending while input is read or a large frame is being
 * received. Bytes the TLS layer holds do not make the socket readable, so
 * whenever reading is wanted with such bytes waiting (the event just added
 * back, or pending all along) it is made active. */
static void conn_tls_watch(struct conn *conn)
{
    if (!conn->rx_event)
        return; /* closed */
    bool want = conn->tls_read_on || conn_rx_short(conn);
    bool pending = event_pending(conn->rx_event, EV_READ, NULL);
    if (!want) {
        if (pending)
            event_del(conn->rx_event);
        return;
    }
    if (!pending)
        conn_rx_event_add(conn);
    if (tls_io_pending(conn->tio))
        event_active(conn->rx_event, EV_READ, 0);
}

/* Whether the connection reads input: the bufferevent's reading, or for
 * TLS conn_tls_watch()'s. */
static void conn_read_set(struct conn *conn, bool on)
{
    if (conn->tls) {
        conn->tls_read_on = on;
        conn_tls_watch(conn);
    } else if (on) {
        bufferevent_enable(conn->bev, EV_READ);
    } else {
        bufferevent_disable(conn->bev, EV_READ);
    }
}

static bool conn_read_enabled(const struct conn *conn)
{
    return conn->tls ? conn->tls_read_on : (bufferevent_get_enabled(conn->bev) & EV_READ) != 0;
}

/* Turns reading back on after the broker paused it (unless the pool still
 * has no room or a large frame is being read into its own buffer, whose
 * bytes must not go to the input buffer). */
static void conn_resume_read(struct conn *conn)
{
    if (!conn->pool_wait && !conn_rx_short(conn) && !conn->muted)
        conn_read_set(conn, true);
}

/* Frees req; its frame buffer goes back to the loop's cache. */
static void req_free(struct conn *conn, struct req *req)
{
    for (int i = 0; i < req->n_files; i++)
        if (req->files[i].fd >= 0)
            close(req->files[i].fd);
    free(req->files);
    kbuf_destroy(&req->out);
    bufpool_put(conn->pool, req->frame);
    free(req);
}

static void conn_free(struct conn *conn)
{
    conn_unregister(conn);
    free(conn->sasl);
    free(conn);
}

/* Frees a finished request, counting it by API key (failed: refused, or no
 * response could be built; config/metrics.h), and returns its reservation
 * to the request memory pool. */
static void conn_req_done(struct conn *conn, struct req *req, bool failed)
{
    metrics_request_done(conn->lim.metrics, req->api_key, clock_mono_us() - req->start_us,
                         req->queue_us, failed);
    req_free(conn, req);
    net_pool_release(conn->req_reserved);
    conn->req_reserved = 0;
}

/* Closes the socket now; the struct lives on while a request is pending. */
static void conn_close(struct conn *conn, const char *why)
{
    if (conn->bev) {
        say_debug("net", "connection closed peer=%s reason=%s", conn->peer, why);
        if (conn->rx_event)
            event_free(conn->rx_event);
        conn->rx_event = NULL;
        bufferevent_free(conn->bev);
        conn->bev = NULL;
        tls_io_free(conn->tio);
        conn->tio = NULL;
        atomic_fetch_sub(&conn_open_count, 1);
        net_limits_release(&conn->slot);
        net_pool_release(conn->in_reserved);
        conn->in_reserved = 0;
        conn->in_scan = 0;
        if (conn->read_timer)
            event_free(conn->read_timer);
        if (conn->pool_timer)
            event_free(conn->pool_timer);
        if (conn->auth_timer)
            event_free(conn->auth_timer);
        if (conn->mute_timer)
            event_free(conn->mute_timer);
        conn->read_timer = conn->pool_timer = conn->auth_timer = NULL;
        conn->mute_timer = NULL;
        bufpool_put(conn->pool, conn->rx_frame);
        conn->rx_frame = NULL;
        conn->rx_size = conn->rx_have = 0;
        for (; conn->ready_count > 0; conn->ready_count--) {
            bufpool_put(conn->pool, conn->ready[conn->ready_head].frame);
            conn->ready_head = (conn->ready_head + 1) % CONN_RX_READY_MAX;
        }
        conn->ready_bytes = 0;
    }
    conn->dead = true;
    /* a parked request (a long-polling Fetch) is answered now, into the
     * void, rather than holding partition waiters until its timer fires */
    if (conn->inflight && conn->inflight->cancel)
        conn->inflight->cancel(conn->inflight);
    if (!conn->inflight)
        conn_free(conn);
}

/* Adds the bytes of f to out: by sendfile (the evbuffer takes the fd), or
 * copied with pread when gregor.fetch.sendfile is off. A short read (the
 * file shrank under us) pads with nothing: the frame size was already
 * written, so the connection is closed instead of sending a wrong frame. */
static void conn_add_file(struct conn *conn, struct evbuffer *out, struct req_file *f)
{
    if (conn->lim.sendfile) {
        if (evbuffer_add_file(out, f->fd, f->pos, f->len) == 0) {
            f->fd = -1; /* the evbuffer closes it */
            metrics_add(&conn->lim.metrics->fetch_sendfile_bytes, (uint64_t)f->len);
            return;
        }
    }
    struct evbuffer_iovec vec;
    if (evbuffer_reserve_space(out, f->len, &vec, 1) == 1) {
        ssize_t got = pread(f->fd, vec.iov_base, (size_t)f->len, f->pos);
        if (got == f->len) {
            vec.iov_len = (size_t)got;
            evbuffer_commit_space(out, &vec, 1);
            metrics_add(&conn->lim.metrics->fetch_copied_bytes, (uint64_t)got);
            return;
        }
    }
    say_error("net", "cannot read fetch data peer=%s bytes=%lld", conn->peer, (long long)f->len);
    conn->broken = true;
}

/* Where a response being sent stands: the header bytes still to go, then
 * req->out from done on, with req->files from file on spliced in. */
struct send_pos {
    const uint8_t *hdr;
    size_t hlen;
    size_t done; /* bytes of req->out written or queued */
    int file;    /* next piece of req->files */
};

/* Queues the rest of the response (from sp) in the output buffer, in wire
 * order; libevent writes it when the socket takes it. */
static void conn_queue_rest(struct conn *conn, struct req *req, struct send_pos *sp)
{
    struct evbuffer *out = bufferevent_get_output(conn->bev);
    evbuffer_add(out, sp->hdr, sp->hlen);
    for (; sp->file < req->n_files; sp->file++) {
        struct req_file *f = &req->files[sp->file];
        evbuffer_add(out, req->out.data + sp->done, f->at - sp->done);
        sp->done = f->at;
        conn_add_file(conn, out, f);
    }
    evbuffer_add(out, req->out.data + sp->done, req->out.len - sp->done);
}

/* One sendmsg(2) of iov[0..n) (MSG_MORE when a file piece follows, so the
 * small bytes before it need not leave as a packet of their own). Returns
 * the bytes written, 0 if the socket would block, -1 on an error (errno). */
static ssize_t conn_write_iov(int fd, struct iovec *iov, int n, bool more)
{
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    for (;;) {
        ssize_t w = sendmsg(fd, &msg, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
        if (w >= 0)
            return w;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

/* Sends file piece f with sendfile(2); what was sent leaves f (pos and len
 * move on). A short send means the socket buffer is full: the rest waits
 * for the event loop, so one large response does not keep the loop from
 * its other connections. Returns 1 when all of it went, 0 when the socket
 * is full, -1 on an error (a file shorter than the span the response
 * announced is one: its size prefix is already out). */
static int conn_write_file(struct conn *conn, int fd, struct req_file *f)
{
    while (f->len > 0) {
        off_t pos = (off_t)f->pos;
        ssize_t w = sendfile(fd, f->fd, &pos, (size_t)f->len);
        if (w > 0) {
            metrics_add(&conn->lim.metrics->fetch_sendfile_bytes, (uint64_t)w);
            f->pos += w;
            f->len -= w;
            if (f->len > 0)
                return 0;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (w == 0) {
            say_error("net", "fetch data shorter than announced peer=%s bytes_missing=%lld",
                      conn->peer, (long long)f->len);
            errno = EIO;
        }
        return -1;
    }
    return 1;
}

/* Writes the response from sp straight to the socket, as far as it takes
 * it; sp is moved past what was written. Returns 1 when all of it went, 0
 * when the rest must be queued, -1 on a socket error (errno). */
static int conn_write_direct(struct conn *conn, struct req *req, struct send_pos *sp)
{
    int fd = bufferevent_getfd(conn->bev);
    for (;;) {
        bool file_next = sp->file < req->n_files;
        size_t end = file_next ? req->files[sp->file].at : req->out.len;
        struct iovec iov[2];
        int n = 0;
        if (sp->hlen)
            iov[n++] = (struct iovec){(void *)sp->hdr, sp->hlen};
        if (end > sp->done)
            iov[n++] = (struct iovec){req->out.data + sp->done, end - sp->done};
        size_t want = (n > 0 ? iov[0].iov_len : 0) + (n > 1 ? iov[1].iov_len : 0);
        if (want > 0) {
            ssize_t w = conn_write_iov(fd, iov, n, file_next);
            if (w < 0)
                return -1;
            size_t left = (size_t)w, h = MIN(left, sp->hlen);
            sp->hdr += h;
            sp->hlen -= h;
            sp->done += left - h;
            if ((size_t)w < want)
                return 0;
        }
        if (!file_next)
            return 1;
        if (!conn->lim.sendfile)
            return 0; /* copied file bytes go through the output buffer */
        int rc = conn_write_file(conn, fd, &req->files[sp->file]);
        if (rc <= 0)
            return rc;
        sp->file++;
    }
}

/* TLS: the response from sp through the TLS layer, which sends the
 * ciphertext straight to the socket when nothing is queued before it, the
 * rest through the output buffer. File pieces are read with pread (an
 * unreadable or shrunk file marks the conn broken, as conn_add_file()).
 * Returns false on an error (the caller closes the connection). */
static bool conn_tls_send(struct conn *conn, struct req *req, struct send_pos *sp)
{
    struct tls_io *t = conn->tio;
    bool ok = tls_io_write(t, sp->hdr, sp->hlen);
    for (; ok && sp->file < req->n_files; sp->file++) {
        struct req_file *f = &req->files[sp->file];
        ok = tls_io_write(t, req->out.data + sp->done, f->at - sp->done);
        sp->done = f->at;
        int rc = ok ? tls_io_write_file(t, f->fd, (off_t)f->pos, (size_t)f->len) : -1;
        if (rc == 0) {
            say_error("net", "cannot read fetch data peer=%s bytes=%lld", conn->peer,
                      (long long)f->len);
            conn->broken = true;
            tls_io_flush(t);
            return true;
        }
        ok = rc > 0;
        if (ok)
            metrics_add(&conn->lim.metrics->fetch_copied_bytes, (uint64_t)f->len);
    }
    ok = ok && tls_io_write(t, req->out.data + sp->done, req->out.len - sp->done);
    ok = tls_io_flush(t) && ok;
    if (!ok)
        say_debug("tls", "response write failed peer=%s: %s", conn->peer, tls_io_why(t));
    return ok;
}

/* Sends the response frame of req: straight to the socket when nothing is
 * queued before it, the rest (or all of it) through the output buffer.
 * Returns false on a socket error (the caller closes the connection). */
static bool conn_send(struct conn *conn, struct req *req)
{
    uint8_t hdr[KHDR_RESP_PREFIX_MAX];
    struct send_pos sp = {.hdr = hdr};
    if (req->raw_response) { /* a bare SASL token: the size only */
        be32_store(hdr, (uint32_t)req->out.len);
        sp.hlen = 4;
    } else {
        sp.hlen = khdr_resp_prefix(hdr, req->resp_header_version, req->correlation_id,
                                   (int64_t)req->out.len + req->files_len);
    }
    if (conn->tls)
        return conn_tls_send(conn, req, &sp);
    if (evbuffer_get_length(bufferevent_get_output(conn->bev)) == 0) {
        int rc = conn_write_direct(conn, req, &sp);
        if (rc < 0) {
            say_debug("net", "response write failed peer=%s errno=%d", conn->peer, errno);
            return false;
        }
        if (rc > 0)
            return true;
    }
    conn_queue_rest(conn, req, &sp);
    return true;
}

/* ---- client quotas: muting (KIP-219) ----
 *
 * A response that carries a throttle time (req->throttle_ms: the byte-rate
 * quotas of Produce and Fetch, set by their handlers) or whose request
 * went over the request_percentage quota (measured below) mutes its
 * connection for that long after it is sent: no further request is taken
 * and reading stops, so a client that ignores throttle_time_ms waits too.
 * Request time is the wall time of the handler's call on the network loop
 * (dispatch_request() up to its return; a parked or offloaded request's
 * wait is not counted). It is known only once the handler has built the
 * response, so the request throttle is written into the built response:
 * its throttle_time_ms (at req->throttle_at) becomes the larger of the two
 * throttles, as in Kafka (req_throttle_raise()). ApiVersions, SASL and the
 * control-plane keys, and every request of a peer authenticated as a
 * broker, are exempt (Kafka exempts them too). */

static void conn_process(struct conn *conn);

static void conn_mute_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct conn *conn = arg;
    KASSERT(worker_is_current(conn->worker));
    conn->muted = false;
    conn_resume_read(conn);
    conn_process(conn);
}

static void conn_mute(struct conn *conn, int32_t ms)
{
    if (!conn->mute_timer)
        conn->mute_timer = evtimer_new(worker_base(conn->worker), conn_mute_cb, conn);
    if (!conn->mute_timer)
        return; /* out of memory: the client is only told */
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    conn->muted = true;
    conn_read_set(conn, false);
    evtimer_add(conn->mute_timer, &tv);
}

/* Records the handler's time of req against its request_percentage quota
 * (the conn keeps the throttle until the response is sent). */
static void conn_request_quota(struct conn *conn, struct req *req, int64_t start_us)
{
    int k = req->api_key;
    if (k < 0 || k == API_API_VERSIONS || k == 17 /* SaslHandshake */ ||
        k == 36 /* SaslAuthenticate */ || api_key_is_control(k) || req->from_broker)
        return;
    /* percent of one thread over a second: microseconds / 10^4 */
    int32_t ms = req_quota_measure(req, QUOTA_REQUEST, (double)(clock_mono_us() - start_us) / 1e4);
    if (ms > conn->req_throttle_ms)
        conn->req_throttle_ms = ms;
}

/* Sends the response of a finished request (if it has one) and frees the
 * request. Returns false if the connection was closed (conn may be freed). */
static bool conn_respond(struct conn *conn, struct req *req)
{
    if (conn->req_throttle_ms > 0 && !req->no_response)
        (void)req_throttle_raise(req, conn->req_throttle_ms);
    bool written = req->no_response || conn_send(conn, req);
    int32_t throttle = MAX(req->throttle_ms, conn->req_throttle_ms);
    conn->req_throttle_ms = 0;
    if (written && throttle > 0 && !conn->broken)
        conn_mute(conn, throttle);
    conn_req_done(conn, req, conn->broken);
    if (conn->broken) {
        conn_close(conn, "response could not be built");
        return false;
    }
    if (!written) {
        conn_close(conn, "socket error");
        return false;
    }
    return true;
}

/* Finishes the in-flight request on the conn's loop: send, free, go on. */
static void conn_finish(struct conn *conn, struct req *req)
{
    conn->inflight = NULL;
    if (conn->dead) {
        conn_req_done(conn, req, false);
        conn_free(conn);
        return;
    }
    if (req->out.oom) {
        conn_req_done(conn, req, true);
        conn_close(conn, "out of memory building response");
        return;
    }
    if (!conn_respond(conn, req))
        return;
    conn_resume_read(conn);
    conn_process(conn);
}

/* A request's completion (req_complete(), kafka/request.c), run on the
 * connection's loop. */
static void conn_req_complete_job(void *arg)
{
    struct req *req = arg;
    KASSERT(worker_is_current(req->conn->worker));
    conn_finish(req->conn, req);
}

/* Takes the next whole frame into a new req: the oldest large frame read
 * whole into its own buffer (ready), or else the first frame of the input,
 * copied out (while a large frame is being read, the input is empty).
 * NULL if none yet, or with *oom set when memory ran out. Only a frame
 * whose memory is reserved is taken: conn_reserve() has then checked its
 * size prefix (and closed the connection on a bad one). */
static struct req *conn_next_frame(struct conn *conn, struct evbuffer *in, bool *oom)
{
    uint8_t szb[4];
    *oom = false;
    uint8_t *frame = NULL;
    size_t size = 0;
    if (conn->ready_count > 0) {
        size = conn->ready[conn->ready_head].size;
    } else {
        if (conn->in_scan < 4 || evbuffer_copyout(in, szb, 4) < 4)
            return NULL;
        int32_t ssize = (int32_t)be32_load(szb);
        KASSERT(ssize >= 0 && ssize <= conn->lim.max_request_bytes);
        size = (size_t)ssize;
        if (evbuffer_get_length(in) < 4 + size || conn->in_scan < 4 + size)
            return NULL;
    }
    struct req *req = calloc(1, sizeof(*req));
    if (!req) {
        *oom = true;
        return NULL;
    }
    if (conn->ready_count > 0) {
        frame = conn->ready[conn->ready_head].frame; /* drained counted its bytes */
        conn->ready_head = (conn->ready_head + 1) % CONN_RX_READY_MAX;
        conn->ready_count--;
        conn->ready_bytes -= size;
    } else {
        frame = bufpool_get(conn->pool, size);
        if (!frame) {
            free(req);
            *oom = true;
            return NULL;
        }
        evbuffer_drain(in, 4);
        evbuffer_remove(in, frame, size);
        conn->in_scan -= 4 + size;
        conn->drained += 4 + (uint64_t)size;
    }
    conn->in_reserved -= (int64_t)size;
    conn->req_reserved = (int64_t)size;
    req->frame = frame;
    req->frame_len = size;
    req->conn = conn;
    req->worker = conn->worker;
    req->client_host = conn->peer_host;
    req->complete_job = conn_req_complete_job;
    req->broker = conn->broker;
    req->listener = conn->listener;
    req->principal = conn->principal;
    req->sasl = conn->sasl;
    req->start_us = clock_mono_us();
    req->api_key = -1;     /* until dispatch reads the header */
    req->throttle_at = -1; /* until dispatch finds the API */
    kbuf_init(&req->out);
    return req;
}

/* Handles buffered frames until one is pending or the input runs dry.
 * Returns false if the connection was closed (conn may be freed). */
static bool conn_process_frames(struct conn *conn)
{
    while (!conn->dead && !conn->inflight && !conn->closing && !conn->muted) {
        struct evbuffer *out = bufferevent_get_output(conn->bev);
        if (evbuffer_get_length(out) > CONN_OUTPUT_HIGH) {
            conn->write_blocked = true;
            return true;
        }
        struct evbuffer *in = bufferevent_get_input(conn->bev);
        bool oom;
        struct req *req = conn_next_frame(conn, in, &oom);
        if (oom) {
            conn_close(conn, "out of memory");
            return false;
        }
        if (!req)
            return true;
        conn->inflight = req;
        metrics_add(&conn->lim.metrics->requests, 1);
        int64_t t0 = clock_mono_us();
        req->queue_us = t0 - req->start_us;
        kerr_t rc = dispatch_request(req);
        if (rc != KERR__CLOSE)
            conn_request_quota(conn, req, t0);
        if (rc == KERR__PENDING) {
            if (conn_input_bytes(conn) > CONN_PAUSE_INPUT_BYTES)
                conn_read_set(conn, false);
            return true;
        }
        if (rc == KERR__CLOSE) {
            conn->inflight = NULL;
            conn_req_done(conn, req, true);
            conn_close(conn, "malformed or unsupported request");
            return false;
        }
        conn->inflight = NULL;
        bool close_after = req->close_after;
        if (!conn_respond(conn, req) || !conn_sasl_after(conn, close_after))
            return false;
        if (conn->closing)
            return true;
    }
    return !conn->dead;
}

static void conn_process(struct conn *conn)
{
    if (conn_process_frames(conn))
        conn_watch_partial(conn);
}

/* Reads the rest of rx_frame from the socket, never past its end (the next
 * frame's bytes stay in the socket for the bufferevent). Returns 1 when
 * the frame is complete (it then joins the ready ring), 0 when the socket
 * has nothing more for now, -1 when the connection was closed on EOF or an
 * error (conn may be freed). */
static int conn_rx_read(struct conn *conn)
{
    evutil_socket_t fd = bufferevent_getfd(conn->bev);
    while (conn->rx_have < conn->rx_size) {
        size_t want = MIN(conn->rx_size - conn->rx_have, (size_t)CONN_LARGE_READ_MAX);
        if (conn->tls) { /* a record per call: read on until the TLS layer has no more */
            ssize_t got = tls_io_read(conn->tio, conn->rx_frame + conn->rx_have, want);
            if (got == TLS_IO_AGAIN)
                return 0;
            if (got < 0) {
                say_debug("net", "large request cut short peer=%s missing=%zu", conn->peer,
                          conn->rx_size - conn->rx_have);
                conn_tls_lost(conn, (int)got);
                return -1;
            }
            conn->rx_have += (size_t)got;
            conn->drained += (uint64_t)got;
            continue;
        }
        ssize_t got = read(fd, conn->rx_frame + conn->rx_have, want);
        if (got > 0) {
            conn->rx_have += (size_t)got;
            conn->drained += (uint64_t)got;
            if ((size_t)got < want)
                return 0; /* the socket has no more for now */
            continue;
        }
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        say_debug("net", "large request cut short peer=%s missing=%zu errno=%d", conn->peer,
                  conn->rx_size - conn->rx_have, got < 0 ? errno : 0);
        conn_close(conn, got == 0 ? "peer closed" : "socket error");
        return -1;
    }
    KASSERT(conn->ready_count < CONN_RX_READY_MAX); /* conn_rx_start() checked */
    int tail = (conn->ready_head + conn->ready_count) % CONN_RX_READY_MAX;
    conn->ready[tail] = (struct rx_ready){conn->rx_frame, conn->rx_size};
    conn->ready_count++;
    conn->ready_bytes += conn->rx_size;
    conn->rx_frame = NULL;
    conn->rx_size = conn->rx_have = 0;
    return 1;
}

static void conn_rx_cb(evutil_socket_t fd, short what, void *arg);

/* Waits for the socket through rx_event instead of the bufferevent. The
 * event is added before the bufferevent's read is disabled, and removed
 * after it is enabled again (conn_rx_stop()), so the descriptor's epoll
 * registration never changes. Its timeout stands in for the bufferevent's
 * (connections.max.idle.ms). Returns false if the connection was closed. */
static bool conn_rx_wait(struct conn *conn)
{
    if (conn->tls) { /* rx_event is already its read event */
        conn_tls_watch(conn);
        return true;
    }
    if (!conn->rx_event)
        conn->rx_event = event_new(worker_base(conn->worker), bufferevent_getfd(conn->bev),
                                   EV_READ | EV_PERSIST, conn_rx_cb, conn);
    if (!conn->rx_event || conn_rx_event_add(conn) != 0) {
        conn_close(conn, "out of memory");
        return false;
    }
    bufferevent_disable(conn->bev, EV_READ);
    return true;
}

/* rx_frame is complete (in the ready ring): the bufferevent reads the
 * socket again. */
static void conn_rx_stop(struct conn *conn)
{
    if (conn->rx_event && event_pending(conn->rx_event, EV_READ, NULL)) {
        conn_resume_read(conn);
        event_del(conn->rx_event);
    }
}

/* libevent 2.1 reads at most 4 KiB per readable event (EVBUFFER_MAX_READ),
 * so a 1 MiB Produce would cost ~256 reads, each a syscall plus an
 * event-loop round, and on a VM syscalls dominate (docs/PERFORMANCE.md
 * §6.1, §26). When the first frame of the input is reserved and at least
 * CONN_LARGE_READ_MIN of it is still missing, its bytes move out of the
 * input into a frame buffer of its own (rx_frame) and the rest is read
 * straight from the socket into that buffer, in reads of up to
 * CONN_LARGE_READ_MAX; the frame then becomes the request without another
 * copy. Returns false if the connection was closed. */
static bool conn_rx_start(struct conn *conn)
{
    if (conn->rx_frame || conn->ready_count == CONN_RX_READY_MAX)
        return true;
    struct evbuffer *in = bufferevent_get_input(conn->bev);
    size_t have = evbuffer_get_length(in);
    uint8_t szb[4];
    if (have < 4 || evbuffer_copyout(in, szb, 4) < 4)
        return true;
    size_t size = 0;
    if (khdr_frame_size(szb, have, 0, conn_frame_limit(conn), &size) != KERR__AGAIN)
        return true; /* conn_process() refuses it, or it is complete */
    if (conn->in_scan < 4 + size)
        return true; /* its memory is not reserved yet */
    if (4 + size - have < CONN_LARGE_READ_MIN)
        return true;
    /* the frame is reserved and incomplete, so the input holds nothing after it */
    KASSERT(conn->in_scan == 4 + size);
    uint8_t *frame = bufpool_get(conn->pool, size);
    if (!frame) {
        conn_close(conn, "out of memory");
        return false;
    }
    evbuffer_drain(in, 4);
    int moved = evbuffer_remove(in, frame, have - 4);
    KASSERT(moved == (int)(have - 4));
    conn->in_scan = 0;
    conn->drained += have;
    conn->rx_frame = frame;
    conn->rx_size = size;
    conn->rx_have = have - 4;
    int rc = conn_rx_read(conn);
    if (rc < 0)
        return false;
    return rc > 0 || conn_rx_wait(conn);
}

/* Whether a read event fired for the idle timeout rather than input: the
 * connection is then closed, unless a request is in flight (idle while a
 * request is handled is fine). */
static bool conn_idle_timeout(struct conn *conn, short what)
{
    if (what & EV_READ)
        return false;
    if (!conn->inflight)
        conn_close(conn, "idle timeout (connections.max.idle.ms)");
    return true;
}

/* rx_event: the socket is readable (or idle) while rx_frame is short. */
static void conn_rx_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *conn = arg;
    KASSERT(worker_is_current(conn->worker));
    if (!conn->bev)
        return;
    if (conn_idle_timeout(conn, what))
        return;
    int rc = conn_rx_read(conn);
    if (rc <= 0)
        return;
    conn_rx_stop(conn);
    conn_process(conn);
}

static void conn_pool_retry_cb(evutil_socket_t fd, short what, void *arg);

/* Reserves pool memory for every frame whose size prefix is buffered past
 * in_scan. On no room, pauses reading and schedules a retry. Returns false
 * if the connection was closed (bad size). */
static bool conn_reserve(struct conn *conn)
{
    struct evbuffer *in = bufferevent_get_input(conn->bev);
    size_t have = evbuffer_get_length(in);
    while (have >= conn->in_scan + 4) {
        uint8_t szb[4];
        struct evbuffer_ptr at;
        if (evbuffer_ptr_set(in, &at, conn->in_scan, EVBUFFER_PTR_SET) != 0 ||
            evbuffer_copyout_from(in, &at, szb, 4) != 4)
            break;
        size_t fsize = 0;
        if (khdr_frame_size(szb, 4, 0, conn_frame_limit(conn), &fsize) == KERR__CORRUPT) {
            say_warn_every(1000, "net", "bad request size peer=%s size=%d max=%zu", conn->peer,
                           (int32_t)be32_load(szb), conn_frame_limit(conn));
            conn_close(conn, "bad frame size");
            return false;
        }
        int32_t size = (int32_t)fsize; /* <= max.request.bytes, an int32 */
        if (!net_pool_reserve(size)) {
            if (!conn->pool_wait) {
                conn->pool_wait = true;
                conn->pool_retry_ms = CONN_POOL_RETRY_MIN_MS;
                say_debug("net", "request memory exhausted peer=%s size=%d pool.used=%lld",
                          conn->peer, size, (long long)net_pool_used());
            }
            conn_read_set(conn, false);
            if (!conn->pool_timer)
                conn->pool_timer = evtimer_new(worker_base(conn->worker), conn_pool_retry_cb, conn);
            struct timeval tv = {0, conn->pool_retry_ms * 1000};
            if (conn->pool_timer && !evtimer_pending(conn->pool_timer, NULL)) {
                evtimer_add(conn->pool_timer, &tv);
                conn->pool_retry_ms = MIN(conn->pool_retry_ms * 2, CONN_POOL_RETRY_MAX_MS);
            }
            return true;
        }
        conn->in_reserved += size;
        conn->in_scan += 4 + (size_t)size;
    }
    if (conn->pool_wait) {
        conn->pool_wait = false;
        if (!conn->inflight || have + conn->ready_bytes <= CONN_PAUSE_INPUT_BYTES)
            conn_resume_read(conn);
    }
    return true;
}

static void conn_read_timeout_cb(evutil_socket_t fd, short what, void *arg);

/* Runs read_timer while a frame is partly received (and reading is not
 * paused by the pool), stops it otherwise. */
static void conn_watch_partial(struct conn *conn)
{
    if (conn->lim.read_timeout_ms <= 0 || !conn->bev)
        return;
    size_t have = evbuffer_get_length(bufferevent_get_input(conn->bev));
    bool partial = conn_rx_short(conn) || have != conn->in_scan;
    if (!partial || conn->pool_wait) {
        if (conn->read_timer)
            evtimer_del(conn->read_timer);
        return;
    }
    if (!conn->read_timer) {
        conn->read_timer = evtimer_new(worker_base(conn->worker), conn_read_timeout_cb, conn);
        if (!conn->read_timer)
            return;
    }
    if (evtimer_pending(conn->read_timer, NULL))
        return;
    /* the first incomplete frame: the one read into rx_frame (the input is
     * empty then), else the last reserved one if it is short, else the one
     * whose size prefix is still arriving */
    if (conn_rx_short(conn))
        conn->timed_end = conn->drained + (conn->rx_size - conn->rx_have);
    else
        conn->timed_end = conn->drained + conn->in_scan + (have < conn->in_scan ? 0 : 4);
    int64_t ms = conn->lim.read_timeout_ms;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(conn->read_timer, &tv);
}

static void conn_read_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *conn = arg;
    KASSERT(worker_is_current(conn->worker));
    if (!conn->bev)
        return;
    uint64_t received = conn->drained + evbuffer_get_length(bufferevent_get_input(conn->bev));
    bool reading = conn_rx_short(conn) || conn_read_enabled(conn);
    bool paused = conn->pool_wait || !reading;
    if (received < conn->timed_end && !paused) {
        say_warn_every(1000, "net",
                       "closing connection peer=%s: a request was not received "
                       "within gregor.request.read.timeout.ms=%lld (%llu of its bytes missing)",
                       conn->peer, (long long)conn->lim.read_timeout_ms,
                       (unsigned long long)(conn->timed_end - received));
        conn_close(conn, "request read timeout");
        return;
    }
    conn_watch_partial(conn); /* that frame arrived (or we paused it): time the next one */
}

static void conn_pool_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *conn = arg;
    KASSERT(worker_is_current(conn->worker));
    if (!conn->bev || !conn_reserve(conn))
        return;
    if (conn->pool_wait)
        return; /* still no room; conn_reserve() re-armed the retry */
    conn_process(conn);
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
    struct conn *conn = arg;
    KASSERT(worker_is_current(conn->worker));
    if (!conn_reserve(conn) || !conn_rx_start(conn))
        return;
    conn_process(conn);
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
    struct conn *conn = arg;
    KASSERT(worker_is_current(conn->worker));
    if (conn->closing) {
        if (evbuffer_get_length(bufferevent_get_output(conn->bev)) == 0)
            conn_close(conn, "SASL authentication failed");
        return;
    }
    if (conn->write_blocked) {
        conn->write_blocked = false;
        conn_process(conn);
    }
}

/* The TLS handshake completed: a client certificate names the principal.
 * Returns false when the connection was closed (conn may be freed). */
static bool conn_tls_ready(struct conn *conn)
{
    SSL *ssl = tls_io_ssl(conn->tio);
    char principal[sizeof(conn->principal)];
    conn->tls_ready = true;
    int rc = tls_peer_principal(ssl, principal, sizeof(principal));
    if (rc < 0) {
        say_warn_every(1000, "tls",
                       "client certificate refused peer=%s listener=%s: no rule of "
                       "ssl.principal.mapping.rules matches subject %s",
                       conn->peer, conn->listener, principal);
        conn_close(conn, "no principal mapping rule matches the client certificate");
        return false;
    }
    if (rc > 0)
        conn_set_principal(conn, principal);
    say_debug("tls", "handshake done peer=%s listener=%s version=%s cipher=%s principal=%s",
              conn->peer, conn->listener, SSL_get_version(ssl), SSL_get_cipher_name(ssl),
              conn->principal);
    return true;
}

/* One step of the TLS handshake. Returns true once it has completed and
 * the connection is open (false: still going, or closed). */
static bool conn_tls_handshake(struct conn *conn)
{
    int rc = tls_io_handshake(conn->tio);
    if (rc == TLS_IO_AGAIN)
        return false;
    if (rc < 0) {
        say_warn_every(1000, "tls", "TLS handshake failed peer=%s listener=%s: %s", conn->peer,
                       conn->listener, tls_io_why(conn->tio));
        conn_close(conn, "TLS handshake failed");
        return false;
    }
    return conn_tls_ready(conn);
}

/* TLS: decrypts into the input buffer (a large frame straight into its own
 * buffer: conn_rx_start()) until the TLS layer and the socket have nothing more,
 * at most CONN_TLS_MAX_SINGLE_IO per event, then handles the frames. */
static void conn_tls_read(struct conn *conn)
{
    struct evbuffer *in = bufferevent_get_input(conn->bev);
    size_t budget = CONN_TLS_MAX_SINGLE_IO;
    while (conn->tls_read_on && !conn_rx_short(conn)) {
        if (budget == 0) {
            /* the socket's level-triggered event comes back; bytes
             * held by the TLS layer need the event made active */
            conn_tls_watch(conn);
            break;
        }
        struct evbuffer_iovec v;
        if (evbuffer_reserve_space(in, CONN_TLS_READ_ROOM, &v, 1) != 1) {
            conn_close(conn, "out of memory");
            return;
        }
        ssize_t got = tls_io_read(conn->tio, v.iov_base, v.iov_len);
        if (got == TLS_IO_AGAIN)
            break;
        if (got < 0) {
            conn_tls_lost(conn, (int)got);
            return;
        }
        v.iov_len = (size_t)got;
        evbuffer_commit_space(in, &v, 1);
        budget -= MIN(budget, (size_t)got);
        if (!conn_reserve(conn) || !conn_rx_start(conn))
            return;
    }
    conn_process(conn);
}

/* TLS: rx_event, the connection's read event: the socket is readable (or
 * the TLS layer holds received bytes), or it stayed idle. */
static void conn_tls_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *conn = arg;
    KASSERT(worker_is_current(conn->worker));
    if (!conn->bev)
        return;
    if (conn_idle_timeout(conn, what))
        return;
    if (!conn->tls_ready && !conn_tls_handshake(conn))
        return;
    if (conn_rx_short(conn)) {
        int rc = conn_rx_read(conn);
        if (rc <= 0)
            return;
        conn_tls_watch(conn); /* the large frame is in: reading goes on if it is on */
    }
    conn_tls_read(conn);
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct conn *conn = arg;
    KASSERT(worker_is_current(conn->worker));
    if (conn->tls && !conn->tls_ready && (what & BEV_EVENT_ERROR))
        say_warn_every(1000, "tls", "TLS handshake failed peer=%s listener=%s: socket error: %s",
                       conn->peer, conn->listener, strerror(EVUTIL_SOCKET_ERROR()));
    if (what & BEV_EVENT_TIMEOUT) {
        if (conn->inflight) {
            conn_resume_read(conn);
            return;
        }
        conn_close(conn, "idle timeout (connections.max.idle.ms)");
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        conn_close(conn, (what & BEV_EVENT_EOF) ? "peer closed" : "socket error");
}

void conn_close_all(struct worker *w)
{
    KASSERT(worker_is_current(w));
    struct conn **mine = NULL;
    size_t n = 0, cap = 0;
    pthread_mutex_lock(&conns_lock);
    for (struct conn *c = conns_head; c; c = c->next) {
        if (c->worker != w || c->dead)
            continue;
        if (!VEC_RESERVE_AT(mine, cap, n + 1))
            break;
        mine[n++] = c;
    }
    pthread_mutex_unlock(&conns_lock);
    for (size_t i = 0; i < n; i++) {
        struct conn *c = mine[i];
        if (c->inflight && c->inflight->cancel)
            c->inflight->cancel(c->inflight);
        conn_close(c, "broker shutting down");
    }
    free(mine);
}

static void conn_describe_peer(int fd, char *out, size_t n, char *host_out, size_t host_n)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
            port = ntohs(a->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
            port = ntohs(a->sin6_port);
        }
    }
    snprintf(out, n, "%s:%d", host, port);
    snprintf(host_out, host_n, "/%s", host);
}

void conn_adopt(struct broker *b, struct worker *w, int fd, const struct conn_limits *lim,
                const char *listener_name, const struct net_slot *slot)
{
    conn_adopt_tls(b, w, fd, lim, listener_name, slot, NULL);
}

void conn_adopt_tls(struct broker *b, struct worker *w, int fd, const struct conn_limits *lim,
                    const char *listener_name, const struct net_slot *slot, SSL *ssl)
{
    KASSERT(worker_is_current(w));
    struct conn *conn = calloc(1, sizeof(*conn));
    if (!conn) {
        struct net_slot s = *slot;
        net_limits_release(&s);
        close(fd);
        SSL_free(ssl);
        return;
    }
    conn->slot = *slot;
    conn->broker = b;
    conn->worker = w;
    conn->pool = bufpool_of(w);
    conn->lim = *lim;
    snprintf(conn->listener, sizeof(conn->listener), "%s", listener_name);
    snprintf(conn->principal, sizeof(conn->principal), "User:ANONYMOUS");
    conn_describe_peer(fd, conn->peer, sizeof(conn->peer), conn->peer_host,
                       sizeof(conn->peer_host));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (lim->sndbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &lim->sndbuf, sizeof(lim->sndbuf));
    if (lim->rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &lim->rcvbuf, sizeof(lim->rcvbuf));
    evutil_make_socket_nonblocking(fd);
    conn->tls = ssl != NULL;
    conn->bev =
        conn->pool ? bufferevent_socket_new(worker_base(w), fd, BEV_OPT_CLOSE_ON_FREE) : NULL;
    if (!conn->bev) {
        SSL_free(ssl);
        net_limits_release(&conn->slot);
        close(fd);
        free(conn);
        return;
    }
    atomic_fetch_add(&conn_open_count, 1);
    metrics_add(&lim->metrics->connections_accepted, 1);
    conn_register(conn);
    bufferevent_setcb(conn->bev, conn_read_cb, conn_write_cb, conn_event_cb, conn);
    bufferevent_setwatermark(conn->bev, EV_WRITE, CONN_OUTPUT_HIGH / 4, 0);
    if (ssl) {
        /* the bufferevent only writes (ciphertext the socket did not take
         * at once); rx_event reads, through the TLS layer */
        conn->tio = tls_io_new(ssl, fd, bufferevent_get_output(conn->bev), conn->pool);
        /* the bufferevent keeps its input's end frozen but for its own
         * reads, which it never does here: plaintext is added by us */
        evbuffer_unfreeze(bufferevent_get_input(conn->bev), 0);
        conn->rx_event = event_new(worker_base(w), fd, EV_READ | EV_PERSIST, conn_tls_cb, conn);
        bufferevent_set_max_single_write(conn->bev, CONN_TLS_MAX_SINGLE_IO);
    } else if (lim->idle_ms > 0) {
        struct timeval tv = {lim->idle_ms / 1000, (lim->idle_ms % 1000) * 1000};
        bufferevent_set_timeouts(conn->bev, &tv, NULL);
    }
    if ((ssl && (!conn->tio || !conn->rx_event)) || !conn_sasl_start(conn)) {
        conn_close(conn, "out of memory");
        return;
    }
    bufferevent_enable(conn->bev, ssl ? EV_WRITE : EV_READ | EV_WRITE);
    if (ssl)
        conn_read_set(conn, true); /* the handshake starts with the client's hello */
    say_debug("net", "connection accepted peer=%s listener=%s loop=%s", conn->peer, conn->listener,
              worker_name(w));
}
