/*
 * controller/channel.c — one outbound control-plane connection with an
 * ordered, pipelined request queue (controller/channel.h, docs/architecture.md §4).
 * Frames come from controller/rpc.c; this is the only file of controller/
 * that uses libevent (docs/architecture.md §11: evbuffer only in broker/net/ and here).
 *
 * Queue: a FIFO of struct chreq. The prefix [head, unsent) has been written
 * on the current connection and waits for replies (n_inflight of them, at
 * most CHANNEL_MAX_INFLIGHT); [unsent, tail] waits to be written. A reply
 * always answers `head`: its correlation id must equal head->corr, else
 * the connection is dropped. Dropping a connection moves `unsent` back to
 * `head`, so everything unanswered is written again, with new correlation
 * ids, once the next connection is up.
 *
 * States:
 *   IDLE       no connection, nothing scheduled; channel_send() connects
 *   CONNECTING bufferevent connect (or evdns lookup + connect) in progress
 *   UP         connected; requests are written as the window allows
 *   BACKOFF    retry_ev armed; fires -> CONNECTING (or IDLE if queue empty)
 * Any failure in CONNECTING or UP -> BACKOFF, with the delay doubling from
 * CHANNEL_BACKOFF_MIN_MS to CHANNEL_BACKOFF_MAX_MS; a connect resets it.
 *
 * Re-entrancy: user callbacks run only from ch_read_cb() (replies) and
 * ch_destroy() (KERR__CLOSE), plus the out-of-memory path of
 * channel_send(). While one runs, `depth` > 0 and channel_free() only sets
 * free_pending; the reply loop reaps the channel when the callback returns
 * (docs/architecture.md §11, "mark it closing and reap it at a safe point"). Reply
 * bodies are copied out of the evbuffer before the callback, so a callback
 * that drops the connection (channel_set_endpoint) frees nothing it reads.
 *
 * Threads: loop-owned; every function runs on the thread of ch->base
 * (KASSERT against the creating thread).
 */
#include "controller/channel.h"
#include "controller/rpc.h"

#include "common/base.h"
#include "common/loop/peer_tls.h"
#include "common/loop/sasl_bev.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/say.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define CH_HOST_MAX 255

/* One queued request. Owned by its channel's queue; freed after its
 * callback ran. */
struct chreq {
    struct chreq *next; /* toward the tail */
    int16_t api_key;
    int32_t corr;    /* correlation id of the last transmission */
    bool resend;     /* written on an earlier connection already */
    int64_t sent_ms; /* monotonic time of the last transmission */
    channel_reply_cb cb;
    void *arg;
    size_t len;     /* body bytes */
    uint8_t body[]; /* packed protobuf request (owned copy) */
};

enum ch_state { CH_IDLE, CH_CONNECTING, CH_UP, CH_BACKOFF };

/* Loop-owned: created by channel_new(), freed by channel_free(); every
 * field is touched only on base's thread. */
struct channel {
    struct event_base *base; /* borrowed */
    pthread_t owner;         /* thread that created the channel (runs base) */
    int32_t dest_id;         /* broker id, for logs */
    char host[CH_HOST_MAX + 1];
    int port;
    enum ch_state state;
    struct bufferevent *bev;  /* owned; non-NULL in CONNECTING and UP */
    struct sasl_bev *sasl;    /* owned: the SASL login after connect (CONNECTING), or NULL */
    struct evdns_base *dns;   /* owned; created on the first non-numeric host */
    struct event *retry_ev;   /* owned; backoff timer */
    struct event *timeout_ev; /* owned; request timeout of head */
    int backoff_ms;           /* delay before the next retry */
    int timeout_ms;           /* request timeout */
    bool warned;              /* connect failure logged since last connect */
    unsigned addr_next;       /* which of the host's addresses to connect to: the
                                 next one after a failed connect (a name such as
                                 localhost may give ::1 first to a listener on
                                 127.0.0.1 only) */
    struct chreq *head;       /* oldest request; its reply comes next */
    struct chreq *tail;
    struct chreq *unsent; /* first request not written on this connection */
    int n_inflight;       /* written, unanswered: [head, unsent) */
    int32_t next_corr;
    struct kbuf frame; /* scratch for building frames */
    int depth;         /* > 0 while a user callback runs */
    bool free_pending; /* channel_free() called inside a callback */
    bool closing;      /* ch_destroy() is draining the queue */
    struct channel_stats stats;
};

static void ch_connect(struct channel *ch);
static void ch_pump(struct channel *ch);

static void ch_assert_thread(const struct channel *ch)
{
    KASSERT(pthread_equal(pthread_self(), ch->owner));
}

static int ch_queued(const struct channel *ch)
{
    int n = 0;
    for (const struct chreq *r = ch->head; r; r = r->next)
        n++;
    return n;
}

/* Arms timeout_ev for head's deadline, or disarms it when nothing waits. */
static void ch_arm_timeout(struct channel *ch)
{
    if (ch->state != CH_UP || ch->n_inflight == 0) {
        evtimer_del(ch->timeout_ev);
        return;
    }
    int64_t left = ch->head->sent_ms + ch->timeout_ms - clock_mono_ms();
    if (left < 1)
        left = 1;
    struct timeval tv = {(time_t)(left / 1000), (suseconds_t)(left % 1000) * 1000};
    evtimer_add(ch->timeout_ev, &tv);
}

/* Frees the connection and requeues every written request for resending.
 * Does not schedule anything. */
static void ch_disconnect(struct channel *ch)
{
    sasl_bev_cancel(ch->sasl);
    ch->sasl = NULL;
    if (ch->bev) {
        bufferevent_free(ch->bev);
        ch->bev = NULL;
    }
    for (struct chreq *r = ch->head; r != ch->unsent; r = r->next)
        r->resend = true;
    ch->unsent = ch->head;
    ch->n_inflight = 0;
    evtimer_del(ch->timeout_ev);
    ch->state = CH_IDLE;
}

/* Drops the connection (if any) and retries after the current backoff. */
static void ch_fail(struct channel *ch)
{
    ch_disconnect(ch);
    struct timeval tv = {ch->backoff_ms / 1000, (ch->backoff_ms % 1000) * 1000};
    ch->state = CH_BACKOFF;
    evtimer_add(ch->retry_ev, &tv);
    ch->backoff_ms = MIN(ch->backoff_ms * 2, CHANNEL_BACKOFF_MAX_MS);
}

static void ch_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    struct channel *ch = arg;
    if (ch->state != CH_BACKOFF)
        return;
    if (ch->head)
        ch_connect(ch);
    else
        ch->state = CH_IDLE;
}

static void ch_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct channel *ch = arg;
    if (ch->state != CH_UP || ch->n_inflight == 0)
        return;
    if (clock_mono_ms() - ch->head->sent_ms < ch->timeout_ms) {
        ch_arm_timeout(ch);
        return;
    }
    ch->stats.timeouts++;
    ch->stats.disconnects++;
    say_warn("ctrl", "channel request timed out broker=%d api=%s timeout_ms=%d", ch->dest_id,
             rpc_api_name(ch->head->api_key), ch->timeout_ms);
    ch_fail(ch);
}

/* Logs a failed connect attempt: warn once, then debug until a connect. */
static void ch_log_connect_failure(struct channel *ch, const char *why)
{
    ch->stats.connect_failures++;
    if (!ch->warned)
        say_warn("ctrl", "channel connect failed broker=%d host=%s port=%d error=%s", ch->dest_id,
                 ch->host, ch->port, why);
    else
        say_debug("ctrl", "channel connect failed broker=%d host=%s port=%d error=%s", ch->dest_id,
                  ch->host, ch->port, why);
    ch->warned = true;
}

static void ch_on_connected(struct channel *ch)
{
    int one = 1;
    evutil_socket_t fd = bufferevent_getfd(ch->bev);
    if (fd >= 0)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ch->state = CH_UP;
    ch->backoff_ms = CHANNEL_BACKOFF_MIN_MS;
    ch->warned = false;
    ch->stats.connects++;
    say_debug("ctrl", "channel connected broker=%d host=%s port=%d queued=%d", ch->dest_id,
              ch->host, ch->port, ch_queued(ch));
    ch_pump(ch);
}

static void ch_read_cb(struct bufferevent *bev, void *arg);
static void ch_event_cb(struct bufferevent *bev, short what, void *arg);

/* The SASL login after connect ended (common/loop/sasl_bev.h). */
static void ch_sasl_done(void *arg, const char *error)
{
    struct channel *ch = arg;
    ch->sasl = NULL;
    if (error) {
        ch_log_connect_failure(ch, error);
        ch_fail(ch);
        return;
    }
    bufferevent_setcb(ch->bev, ch_read_cb, NULL, ch_event_cb, ch);
    ch_on_connected(ch);
}

static void ch_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct channel *ch = arg;
    char why[128];

    if (bev != ch->bev)
        return;
    if (what & BEV_EVENT_CONNECTED) {
        if (!sasl_bev_enabled()) {
            ch_on_connected(ch);
            return;
        }
        ch->sasl = sasl_bev_start(bev, ch->timeout_ms, ch_sasl_done, ch);
        if (!ch->sasl) {
            ch_log_connect_failure(ch, "out of memory");
            ch_fail(ch);
        }
        return;
    }
    int dns_err = bufferevent_socket_get_dns_error(bev);
    char tls[100];
    if (peer_tls_error(bev, tls, sizeof(tls)))
        snprintf(why, sizeof(why), "TLS: %s", tls);
    else if (dns_err)
        snprintf(why, sizeof(why), "dns: %s", evutil_gai_strerror(dns_err));
    else if (what & BEV_EVENT_EOF)
        snprintf(why, sizeof(why), "closed by peer");
    else
        snprintf(why, sizeof(why), "%s", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    if (ch->state == CH_CONNECTING) {
        ch_log_connect_failure(ch, why);
        ch->addr_next++; /* try the host's next address, if it has one */
    } else {
        ch->stats.disconnects++;
        say_info("ctrl", "channel disconnected broker=%d host=%s port=%d inflight=%d error=%s",
                 ch->dest_id, ch->host, ch->port, ch->n_inflight, why);
    }
    ch_fail(ch);
}

/* Drops the connection after a bad response. */
static void ch_protocol_error(struct channel *ch, const char *what)
{
    say_error("ctrl", "channel protocol error broker=%d host=%s port=%d error=%s", ch->dest_id,
              ch->host, ch->port, what);
    ch->stats.disconnects++;
    ch_fail(ch);
}

/* Frees the connection, the timers and ch; the queue must be empty. */
static void ch_release(struct channel *ch)
{
    KASSERT(!ch->head);
    sasl_bev_cancel(ch->sasl);
    if (ch->bev)
        bufferevent_free(ch->bev);
    if (ch->dns)
        evdns_base_free(ch->dns, 0);
    if (ch->retry_ev)
        event_free(ch->retry_ev);
    if (ch->timeout_ev)
        event_free(ch->timeout_ev);
    kbuf_destroy(&ch->frame);
    free(ch);
}

/* channel_free's real work: fail every queued request, then release. */
static void ch_destroy(struct channel *ch)
{
    ch->closing = true;
    ch_disconnect(ch);
    evtimer_del(ch->retry_ev);
    while (ch->head) {
        struct chreq *r = ch->head;
        ch->head = r->next;
        if (!ch->head)
            ch->tail = NULL;
        ch->unsent = ch->head;
        ch->depth++;
        r->cb(r->arg, KERR__CLOSE, NULL, 0);
        ch->depth--;
        free(r);
    }
    ch_release(ch);
}

/* Takes head off the queue (it was answered). Returns it. */
static struct chreq *ch_pop_head(struct channel *ch)
{
    struct chreq *r = ch->head;
    ch->head = r->next;
    if (!ch->head)
        ch->tail = NULL;
    ch->n_inflight--;
    return r;
}

/* Extracts the next reply frame, which must answer head. Returns KERR_NONE
 * with *body (new; NULL when *len == 0), KERR__AGAIN if incomplete, or an
 * error with *what set (the connection must be dropped). */
static kerr_t ch_take_reply(struct channel *ch, struct evbuffer *in, uint8_t **body, size_t *len,
                            const char **what)
{
    uint8_t size_buf[4];
    size_t avail = evbuffer_get_length(in), flen = 0;
    const uint8_t *frame, *b;
    int32_t corr;

    if (avail < sizeof(size_buf))
        return KERR__AGAIN;
    evbuffer_copyout(in, size_buf, sizeof(size_buf));
    kerr_t err = khdr_frame_size(size_buf, avail, 0, RPC_MAX_FRAME, &flen);
    if (err == KERR__AGAIN)
        return err;
    *what = "bad frame size";
    if (err)
        return KERR__CORRUPT;
    frame = evbuffer_pullup(in, (ev_ssize_t)(4 + flen));
    if (!frame || rpc_response_parse(frame + 4, flen, &corr, &b, len) != KERR_NONE)
        return KERR__CORRUPT;
    *what = "reply without a request";
    if (ch->n_inflight == 0)
        return KERR__CORRUPT;
    *what = "correlation id mismatch";
    if (corr != ch->head->corr)
        return KERR__CORRUPT;
    *body = NULL;
    if (*len) {
        *what = "out of memory";
        *body = malloc(*len);
        if (!*body)
            return KERR__NOMEM;
        memcpy(*body, b, *len);
    }
    evbuffer_drain(in, 4 + flen);
    return KERR_NONE;
}

/* Delivers every complete reply in order, then writes more requests. */
static void ch_read_cb(struct bufferevent *bev, void *arg)
{
    struct channel *ch = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    const char *what = NULL;
    uint8_t *body;
    size_t len;

    while (bev == ch->bev && !ch->free_pending) {
        kerr_t err = ch_take_reply(ch, in, &body, &len, &what);
        if (err == KERR__AGAIN)
            break;
        if (err) {
            ch_protocol_error(ch, what);
            return;
        }
        struct chreq *r = ch_pop_head(ch);
        ch->stats.replies++;
        ch->depth++;
        r->cb(r->arg, KERR_NONE, body, len);
        ch->depth--;
        free(body);
        free(r);
    }
    if (ch->free_pending) {
        if (ch->depth == 0)
            ch_destroy(ch);
        return;
    }
    if (bev == ch->bev) {
        ch_pump(ch);
        ch_arm_timeout(ch);
    }
}

/* Writes queued requests while connected and the window allows. */
static void ch_pump(struct channel *ch)
{
    bool was_idle = ch->n_inflight == 0;

    while (ch->state == CH_UP && ch->unsent && ch->n_inflight < CHANNEL_MAX_INFLIGHT) {
        struct chreq *r = ch->unsent;
        r->corr = ch->next_corr;
        ch->next_corr = ch->next_corr == INT32_MAX ? 0 : ch->next_corr + 1;
        kbuf_reset(&ch->frame);
        kerr_t err =
            rpc_request_frame(&ch->frame, r->api_key, r->corr, CHANNEL_CLIENT_ID, r->body, r->len);
        if (err || bufferevent_write(ch->bev, ch->frame.data, ch->frame.len) != 0) {
            say_error("ctrl", "channel cannot write broker=%d error=%s", ch->dest_id,
                      kerr_name(err ? err : KERR__NOMEM));
            ch->stats.disconnects++;
            ch_fail(ch);
            return;
        }
        r->sent_ms = clock_mono_ms();
        ch->stats.sent++;
        if (r->resend)
            ch->stats.resent++;
        ch->unsent = r->next;
        ch->n_inflight++;
    }
    if (was_idle)
        ch_arm_timeout(ch);
}

/* Starts a connect to ch->host:ch->port on bev, to the address
 * ch->addr_next picks among those the host resolves to. Returns 0 when
 * started, -1 with why filled when it failed at once. Numeric hosts never
 * block; names go through getaddrinfo(). */
static int ch_start_connect(struct channel *ch, struct bufferevent *bev, char *why, size_t n)
{
    struct evutil_addrinfo hints, *ai = NULL;
    char port[16];

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = EVUTIL_AI_NUMERICHOST | EVUTIL_AI_NUMERICSERV;
    snprintf(port, sizeof(port), "%d", ch->port);
    int gai = evutil_getaddrinfo(ch->host, port, &hints, &ai);
    if (gai != 0) {
        /* a name: resolve it through the system resolver (/etc/hosts for
         * "localhost"; a slow DNS server delays only this channel's loop) */
        hints.ai_flags = EVUTIL_AI_NUMERICSERV | EVUTIL_AI_ADDRCONFIG;
        gai = evutil_getaddrinfo(ch->host, port, &hints, &ai);
    }
    if (gai != 0) {
        snprintf(why, n, "cannot resolve host (%s)", evutil_gai_strerror(gai));
        return -1;
    }
    unsigned count = 0;
    for (const struct evutil_addrinfo *a = ai; a; a = a->ai_next)
        count++;
    const struct evutil_addrinfo *pick = ai;
    for (unsigned i = ch->addr_next % count; i > 0; i--)
        pick = pick->ai_next;
    int rc = bufferevent_socket_connect(bev, pick->ai_addr, (int)pick->ai_addrlen);
    if (rc < 0)
        snprintf(why, n, "%s", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    evutil_freeaddrinfo(ai);
    return rc;
}

/* IDLE/BACKOFF -> CONNECTING (or BACKOFF again if it fails at once). */
static void ch_connect(struct channel *ch)
{
    char why[160] = "out of memory";
    struct bufferevent *bev = peer_bufferevent_new(ch->base, ch->host); /* TLS: peer_tls.h */

    KASSERT(!ch->bev);
    if (!bev) {
        ch_log_connect_failure(ch, why);
        ch_fail(ch);
        return;
    }
    bufferevent_setcb(bev, ch_read_cb, NULL, ch_event_cb, ch);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    ch->bev = bev;
    ch->state = CH_CONNECTING;
    /* Failures reported through ch_event_cb may already have replaced bev. */
    if (ch_start_connect(ch, bev, why, sizeof(why)) < 0 && ch->bev == bev) {
        ch_log_connect_failure(ch, why);
        ch->addr_next++;
        ch_fail(ch);
    }
}

/* ---- public API ----------------------------------------------------------- */

static bool ch_endpoint_ok(const char *host, int port)
{
    return host && host[0] && strlen(host) <= CH_HOST_MAX && port > 0 && port <= 65535;
}

struct channel *channel_new(struct event_base *base, int32_t dest_id, const char *host, int port)
{
    if (!base || !ch_endpoint_ok(host, port))
        return NULL;
    struct channel *ch = calloc(1, sizeof(*ch));
    if (!ch)
        return NULL;
    ch->base = base;
    ch->owner = pthread_self();
    ch->dest_id = dest_id;
    snprintf(ch->host, sizeof(ch->host), "%s", host);
    ch->port = port;
    ch->state = CH_IDLE;
    ch->backoff_ms = CHANNEL_BACKOFF_MIN_MS;
    ch->timeout_ms = CHANNEL_REQUEST_TIMEOUT_MS;
    kbuf_init(&ch->frame);
    ch->retry_ev = evtimer_new(base, ch_retry_cb, ch);
    ch->timeout_ev = evtimer_new(base, ch_timeout_cb, ch);
    if (!ch->retry_ev || !ch->timeout_ev) {
        ch_release(ch);
        return NULL;
    }
    return ch;
}

void channel_free(struct channel *ch)
{
    if (!ch)
        return;
    ch_assert_thread(ch);
    if (ch->closing)
        return; /* called again from a KERR__CLOSE callback */
    if (ch->depth > 0) {
        ch->free_pending = true;
        return; /* ch_read_cb reaps it after the callback */
    }
    ch_destroy(ch);
}

void channel_send(struct channel *ch, int16_t api_key, const uint8_t *body, size_t len,
                  channel_reply_cb cb, void *arg)
{
    ch_assert_thread(ch);
    KASSERT(cb);
    if (len > RPC_MAX_FRAME - 64) {
        cb(arg, KERR__INVALID, NULL, 0);
        return;
    }
    struct chreq *r = malloc(sizeof(*r) + len);
    if (!r) {
        cb(arg, KERR__NOMEM, NULL, 0);
        return;
    }
    memset(r, 0, sizeof(*r));
    r->api_key = api_key;
    r->cb = cb;
    r->arg = arg;
    r->len = len;
    if (len)
        memcpy(r->body, body, len);
    if (ch->tail)
        ch->tail->next = r;
    else
        ch->head = r;
    ch->tail = r;
    if (!ch->unsent)
        ch->unsent = r;
    if (ch->closing || ch->free_pending)
        return; /* ch_destroy() fails it with KERR__CLOSE */
    if (ch->state == CH_IDLE)
        ch_connect(ch);
    else if (ch->state == CH_UP)
        ch_pump(ch);
}

void channel_set_endpoint(struct channel *ch, const char *host, int port)
{
    ch_assert_thread(ch);
    if (ch->closing || ch->free_pending)
        return;
    if (!ch_endpoint_ok(host, port)) {
        say_error("ctrl", "channel bad endpoint broker=%d port=%d", ch->dest_id, port);
        return;
    }
    if (port == ch->port && strcmp(host, ch->host) == 0)
        return;
    say_info("ctrl", "channel endpoint changed broker=%d host=%s port=%d", ch->dest_id, host, port);
    snprintf(ch->host, sizeof(ch->host), "%s", host);
    ch->port = port;
    ch_disconnect(ch);
    evtimer_del(ch->retry_ev);
    ch->backoff_ms = CHANNEL_BACKOFF_MIN_MS;
    ch->warned = false;
    if (ch->head)
        ch_connect(ch);
}

void channel_set_request_timeout(struct channel *ch, int timeout_ms)
{
    ch_assert_thread(ch);
    if (timeout_ms <= 0)
        return;
    ch->timeout_ms = timeout_ms;
    ch_arm_timeout(ch);
}

int32_t channel_dest_id(const struct channel *ch) { return ch->dest_id; }

void channel_get_stats(const struct channel *ch, struct channel_stats *out)
{
    ch_assert_thread(ch);
    *out = ch->stats;
    out->queued = ch_queued(ch);
    out->connected = ch->state == CH_UP;
}
