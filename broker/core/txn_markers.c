/*
 * broker/core/txn_markers.c — the coordinator's WriteTxnMarkers sender (txn_markers.h).
 *
 * A transaction (struct mjob) keeps its partitions as UNSENT, IN FLIGHT or DONE. kick() looks up
 * the leader of every UNSENT partition in the metadata cache and puts one request per leader
 * (struct mreq, the whole frame encoded at once) on that broker's connection (struct mconn).
 * A connection sends its queued requests as soon as it is up; the responses come back in
 * order. A job is freed once it is finished (or cancelled) and no request of it is in flight.
 *
 * Wire (both flexible; request header v2 with client_id "gregor-txn-<broker id>", response
 * header v1):
 *   WriteTxnMarkers v1 req: markers[producer_id INT64, producer_epoch INT16,
 *     transaction_result BOOLEAN, topics[name, partition_indexes INT32[]],
 *     coordinator_epoch INT32]
 *   resp: markers[producer_id, topics[name, partitions[partition_index, error_code]]]
 */
#include "broker/core/txn_markers.h"
#include "broker/core/broker.h"
#include "broker/core/metadata_cache.h"
#include "common/api_keys.h"
#include "common/base.h"
#include "common/loop/sasl_bev.h"
#include "common/kheader.h"
#include "common/kwire.h"
#include "common/loop/peer_tls.h"
#include "common/loop/worker.h"
#include "common/say.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define WTM_VERSION 1
#define RESP_MAX (16 << 20)

enum mp_state { MP_UNSENT, MP_INFLIGHT, MP_DONE };

struct mpart {
    char *topic;
    int32_t partition;
    enum mp_state st;
};

struct mjob {
    struct txn_markers *mk;
    char *id;
    size_t id_len;
    int32_t coord_partition, coord_epoch;
    int64_t producer_id;
    int16_t producer_epoch;
    bool commit;
    struct mpart *parts;
    size_t n_parts;
    int inflight;  /* requests of this job on connections */
    bool finished; /* done was called, or cancelled */
    kerr_t fatal;  /* a fencing error answered */
    struct event *retry_ev;
    struct mjob *next;
};

struct mreq {
    struct mjob *job;
    int32_t corr;
    size_t *idx; /* the job's parts in this request */
    size_t n_idx;
    struct evbuffer *frame; /* until sent */
    struct mreq *next;
};

enum mc_state { MC_DOWN, MC_CONNECTING, MC_UP };

struct mconn {
    struct txn_markers *mk;
    int32_t id;
    char host[256];
    int port;
    enum mc_state state;
    struct bufferevent *bev;
    struct sasl_bev *sasl; /* the SASL login after connect (MC_CONNECTING), or NULL */
    struct event *timeout_ev;
    struct mreq *queue; /* sent ones first (in order), then unsent */
    int32_t corr;
    struct mconn *next;
};

struct txn_markers {
    struct broker *b;
    struct worker *w;
    struct event_base *base;
    txn_markers_done done;
    void *ctx;
    struct mjob *jobs;
    struct mconn *conns;
    char client_id[32];
};

static void kick(struct mjob *j);

/* ---- jobs ------------------------------------------------------------------------------ */

static void job_free(struct mjob *j)
{
    struct mjob **pp = &j->mk->jobs;
    while (*pp && *pp != j)
        pp = &(*pp)->next;
    if (*pp)
        *pp = j->next;
    for (size_t i = 0; i < j->n_parts; i++)
        free(j->parts[i].topic);
    free(j->parts);
    if (j->retry_ev)
        event_free(j->retry_ev);
    free(j->id);
    free(j);
}

/* Calls back once nothing is left to send (or a fencing error came), frees once nothing of the
 * job is in flight. May free j. */
static void job_check(struct mjob *j)
{
    if (!j->finished) {
        size_t done = 0;
        for (size_t i = 0; i < j->n_parts; i++)
            done += j->parts[i].st == MP_DONE;
        kerr_t err = j->fatal;
        if (err == KERR_NONE && done < j->n_parts)
            return;
        j->finished = true;
        event_del(j->retry_ev);
        j->mk->done(j->mk->ctx, j->id, j->id_len, j->coord_partition, err);
    }
    if (j->inflight == 0)
        job_free(j);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    kick(arg);
}

static void job_retry_later(struct mjob *j)
{
    if (j->finished || evtimer_pending(j->retry_ev, NULL))
        return;
    struct timeval tv = {0, TXN_MARKERS_RETRY_MS * 1000};
    evtimer_add(j->retry_ev, &tv);
}

/* ---- connections ------------------------------------------------------------------------ */

static void conn_read_cb(struct bufferevent *bev, void *arg);
static void conn_event_cb(struct bufferevent *bev, short what, void *arg);

static void mreq_free(struct mreq *r)
{
    if (r->frame)
        evbuffer_free(r->frame);
    free(r->idx);
    free(r);
}

/* The request is over: its partitions still IN FLIGHT go back to UNSENT (retried later). */
static void mreq_end(struct mreq *r)
{
    struct mjob *j = r->job;
    bool retry = false;
    for (size_t i = 0; i < r->n_idx; i++) {
        struct mpart *p = &j->parts[r->idx[i]];
        if (p->st == MP_INFLIGHT) {
            p->st = MP_UNSENT;
            retry = true;
        }
    }
    j->inflight--;
    mreq_free(r);
    if (retry)
        job_retry_later(j);
    job_check(j);
}

/* Drops the connection and fails every request on it. */
static void conn_fail(struct mconn *c, const char *why)
{
    sasl_bev_cancel(c->sasl);
    c->sasl = NULL;
    if (c->bev)
        bufferevent_free(c->bev);
    c->bev = NULL;
    c->state = MC_DOWN;
    evtimer_del(c->timeout_ev);
    struct mreq *q = c->queue;
    c->queue = NULL;
    if (q)
        say_warn_every(10000, "txn", "marker connection failed broker=%d host=%s port=%d reason=%s",
                       c->id, c->host, c->port, why);
    while (q) {
        struct mreq *next = q->next;
        mreq_end(q);
        q = next;
    }
}

static void arm_timeout(struct mconn *c)
{
    struct timeval tv = {TXN_MARKERS_TIMEOUT_MS / 1000, (TXN_MARKERS_TIMEOUT_MS % 1000) * 1000};
    evtimer_add(c->timeout_ev, &tv);
}

static void conn_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct mconn *c = arg;
    conn_fail(c, c->state == MC_CONNECTING ? "connect timed out" : "request timed out");
}

/* Writes the queued requests not sent yet. */
static void conn_flush(struct mconn *c)
{
    if (c->state != MC_UP)
        return;
    bool sent = false;
    for (struct mreq *r = c->queue; r; r = r->next) {
        if (!r->frame)
            continue;
        if (bufferevent_write_buffer(c->bev, r->frame) != 0) {
            conn_fail(c, "out of memory");
            return;
        }
        evbuffer_free(r->frame);
        r->frame = NULL;
        sent = true;
    }
    if (sent && !evtimer_pending(c->timeout_ev, NULL))
        arm_timeout(c);
}

static void conn_connect(struct mconn *c)
{
    struct txn_markers *mk = c->mk;
    c->bev = peer_bufferevent_new(mk->base, c->host); /* TLS: common/loop/peer_tls.h */
    if (!c->bev) {
        conn_fail(c, "out of memory");
        return;
    }
    bufferevent_setcb(c->bev, conn_read_cb, NULL, conn_event_cb, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    c->state = MC_CONNECTING;
    arm_timeout(c);
    /* no DNS base: a blocking getaddrinfo, as the replica fetcher's (names are local) */
    if (bufferevent_socket_connect_hostname(c->bev, NULL, AF_UNSPEC, c->host, c->port) != 0)
        conn_fail(c, "connect failed");
}

static void conn_up(struct mconn *c)
{
    evtimer_del(c->timeout_ev);
    c->state = MC_UP;
    conn_flush(c);
}

static void conn_read_cb(struct bufferevent *bev, void *arg);
static void conn_event_cb(struct bufferevent *bev, short what, void *arg);

/* The SASL login after connect ended (common/loop/sasl_bev.h). */
static void conn_sasl_done(void *arg, const char *error)
{
    struct mconn *c = arg;
    c->sasl = NULL;
    if (error) {
        conn_fail(c, error);
        return;
    }
    bufferevent_setcb(c->bev, conn_read_cb, NULL, conn_event_cb, c);
    conn_up(c);
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct mconn *c = arg;
    if (what & BEV_EVENT_CONNECTED) {
        int one = 1;
        setsockopt(bufferevent_getfd(c->bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (!sasl_bev_enabled()) {
            conn_up(c);
            return;
        }
        /* the connect timer (still armed) bounds the login too */
        c->sasl = sasl_bev_start(c->bev, TXN_MARKERS_TIMEOUT_MS, conn_sasl_done, c);
        if (!c->sasl)
            conn_fail(c, "out of memory");
        return;
    }
    char tls[128];
    if (peer_tls_error(bev, tls, sizeof(tls)))
        conn_fail(c, tls);
    else
        conn_fail(c, what & BEV_EVENT_EOF ? "closed by peer"
                                          : evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

/* Applies one partition's answer. */
static void apply_error(struct mjob *j, struct mreq *r, struct kstr topic, int32_t partition,
                        kerr_t err)
{
    for (size_t i = 0; i < r->n_idx; i++) {
        struct mpart *p = &j->parts[r->idx[i]];
        if (p->st != MP_INFLIGHT || p->partition != partition || !kstr_eq(topic, p->topic))
            continue;
        switch (err) {
        case KERR_NONE:
        case KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
            p->st = MP_DONE;
            break;
        case KERR_INVALID_PRODUCER_EPOCH:
        case KERR_TRANSACTION_COORDINATOR_FENCED:
            p->st = MP_UNSENT;
            j->fatal = err;
            say_warn("txn", "markers refused transactional_id=%s topic=%s partition=%d err=%s",
                     j->id, p->topic, p->partition, kerr_name(err));
            break;
        default:
            p->st = MP_UNSENT; /* retried: mreq_end() */
            say_warn_every(10000, "txn",
                           "marker retried transactional_id=%s topic=%s partition=%d err=%s", j->id,
                           p->topic, p->partition, kerr_name(err));
            job_retry_later(j);
            break;
        }
        return;
    }
}

/* Parses a WriteTxnMarkers v1 response body for r. False when malformed. */
static bool parse_response(struct mreq *r, struct kslice *s)
{
    struct mjob *j = r->job;
    int32_t nm = kw_get_array_len(s, true, 9);
    for (int32_t m = 0; kslice_ok(s) && m < nm; m++) {
        (void)kslice_i64(s);
        int32_t nt = kw_get_array_len(s, true, 2);
        for (int32_t t = 0; kslice_ok(s) && t < nt; t++) {
            struct kstr topic = kw_get_str(s, true);
            int32_t np = kw_get_array_len(s, true, 7);
            for (int32_t p = 0; kslice_ok(s) && p < np; p++) {
                int32_t index = kslice_i32(s);
                kerr_t err = (kerr_t)kslice_i16(s);
                kw_skip_tags(s, true);
                if (kslice_ok(s) && topic.ptr)
                    apply_error(j, r, topic, index, err);
            }
            kw_skip_tags(s, true);
        }
        kw_skip_tags(s, true);
    }
    kw_skip_tags(s, true);
    return kslice_ok(s) && nm >= 0;
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
    struct mconn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        size_t have = evbuffer_get_length(in), size = 0;
        uint8_t hdr[4];
        if (have < 4)
            return;
        evbuffer_copyout(in, hdr, 4);
        kerr_t fr = khdr_frame_size(hdr, have, 4, RESP_MAX, &size);
        if (fr == KERR__AGAIN)
            return;
        struct mreq *r = c->queue;
        if (fr != KERR_NONE || !r || r->frame) {
            conn_fail(c, r && !r->frame ? "bad frame size" : "unexpected response");
            return;
        }
        const uint8_t *frame = evbuffer_pullup(in, (ssize_t)size + 4);
        struct kslice s;
        int32_t corr = 0;
        if (frame)
            kslice_init(&s, frame + 4, size);
        if (!frame ||
            !khdr_get_resp(&s, khdr_resp_version(API_WRITE_TXN_MARKERS, WTM_VERSION), &corr) ||
            corr != r->corr || !parse_response(r, &s)) {
            conn_fail(c, "malformed response");
            return;
        }
        evbuffer_drain(in, size + 4);
        c->queue = r->next;
        evtimer_del(c->timeout_ev);
        if (c->queue && !c->queue->frame)
            arm_timeout(c); /* the next sent request's turn */
        mreq_end(r);
    }
}

static struct mconn *conn_get(struct txn_markers *mk, int32_t id, const char *host, int port)
{
    struct mconn *c;
    for (c = mk->conns; c; c = c->next)
        if (c->id == id)
            break;
    if (c) {
        if (strcmp(c->host, host) != 0 || c->port != port) {
            conn_fail(c, "endpoint changed");
            snprintf(c->host, sizeof(c->host), "%s", host);
            c->port = port;
        }
        return c;
    }
    c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->mk = mk;
    c->id = id;
    snprintf(c->host, sizeof(c->host), "%s", host);
    c->port = port;
    c->timeout_ev = evtimer_new(mk->base, conn_timeout_cb, c);
    if (!c->timeout_ev) {
        free(c);
        return NULL;
    }
    c->next = mk->conns;
    mk->conns = c;
    return c;
}

/* ---- requests --------------------------------------------------------------------------- */

/* Encodes the request for the job's parts idx[n] (one marker; runs of a topic grouped). */
static struct evbuffer *encode(struct mjob *j, int32_t corr, const size_t *idx, size_t n)
{
    struct kbuf b;
    kbuf_init(&b);
    const char *cid = j->mk->client_id;
    struct khdr_req h = {API_WRITE_TXN_MARKERS, WTM_VERSION, corr, {cid, (int32_t)strlen(cid)}};
    size_t at = khdr_frame_begin(&b);
    khdr_put_req(&b, khdr_req_version(API_WRITE_TXN_MARKERS, WTM_VERSION), &h);
    kw_put_array_len(&b, true, 1);
    kbuf_put_i64(&b, j->producer_id);
    kbuf_put_i16(&b, j->producer_epoch);
    kbuf_put_u8(&b, j->commit ? 1 : 0);
    int32_t nt = 0;
    for (size_t i = 0; i < n; i++)
        nt += i == 0 || strcmp(j->parts[idx[i]].topic, j->parts[idx[i - 1]].topic) != 0;
    kw_put_array_len(&b, true, nt);
    for (size_t i = 0; i < n;) {
        size_t e = i + 1;
        while (e < n && strcmp(j->parts[idx[e]].topic, j->parts[idx[i]].topic) == 0)
            e++;
        kw_put_str(&b, true, j->parts[idx[i]].topic);
        kw_put_array_len(&b, true, (int32_t)(e - i));
        for (size_t k = i; k < e; k++)
            kbuf_put_i32(&b, j->parts[idx[k]].partition);
        kw_put_tags(&b, true);
        i = e;
    }
    kbuf_put_i32(&b, j->coord_epoch);
    kw_put_tags(&b, true);
    kw_put_tags(&b, true);
    struct evbuffer *eb = NULL;
    if (!b.oom && khdr_frame_end(&b, at, RESP_MAX) == KERR_NONE) {
        eb = evbuffer_new();
        if (eb && evbuffer_add(eb, b.data, b.len) != 0) {
            evbuffer_free(eb);
            eb = NULL;
        }
    }
    kbuf_destroy(&b);
    return eb;
}

/* Queues one request for the UNSENT parts idx[n] of j led by broker bi. */
static void send_to(struct mjob *j, const struct broker_info *bi, size_t *idx, size_t n)
{
    struct txn_markers *mk = j->mk;
    const struct broker_config *cfg = mk->b->cfg;
    const struct broker_endpoint *ep =
        broker_endpoint_for(bi, cfg->listener[cfg->inter_broker_listener].name);
    struct mconn *c = ep ? conn_get(mk, bi->id, ep->host, ep->port) : NULL;
    struct mreq *r = c ? calloc(1, sizeof(*r)) : NULL;
    if (r) {
        r->idx = malloc(n * sizeof(*r->idx));
        r->corr = ++c->corr;
        r->frame = r->idx ? encode(j, r->corr, idx, n) : NULL;
    }
    if (!r || !r->frame) {
        if (r)
            mreq_free(r);
        job_retry_later(j);
        return;
    }
    memcpy(r->idx, idx, n * sizeof(*idx));
    r->n_idx = n;
    r->job = j;
    for (size_t i = 0; i < n; i++)
        j->parts[idx[i]].st = MP_INFLIGHT;
    j->inflight++;
    struct mreq **pp = &c->queue;
    while (*pp)
        pp = &(*pp)->next;
    *pp = r;
    if (c->state == MC_DOWN)
        conn_connect(c);
    else
        conn_flush(c);
}

static const struct broker_info *find_broker(const struct mc_snapshot *s, int32_t id)
{
    for (int i = 0; i < s->n_brokers; i++)
        if (s->brokers[i].id == id)
            return &s->brokers[i];
    return NULL;
}

/* Sends the UNSENT partitions to their leaders. May free j. */
static void kick(struct mjob *j)
{
    if (j->finished) {
        job_check(j);
        return;
    }
    struct mc_snapshot *s = mc_get(j->mk->b->mc);
    size_t *idx = calloc(j->n_parts ? j->n_parts : 1, sizeof(*idx));
    int32_t *leader = calloc(j->n_parts ? j->n_parts : 1, sizeof(*leader));
    if (!idx || !leader) {
        free(idx);
        free(leader);
        mc_put(s);
        job_retry_later(j);
        return;
    }
    for (size_t i = 0; i < j->n_parts; i++) {
        struct mpart *p = &j->parts[i];
        leader[i] = -1;
        if (p->st != MP_UNSENT)
            continue;
        const struct mc_topic *t = mc_find_topic(s, p->topic, strlen(p->topic));
        if (p->partition < 0 || (mc_from_controller(s) && (!t || p->partition >= t->n_parts))) {
            say_info("txn",
                     "marker dropped: topic deleted transactional_id=%s topic=%s "
                     "partition=%d",
                     j->id, p->topic, p->partition);
            p->st = MP_DONE;
            continue;
        }
        leader[i] = t && p->partition < t->n_parts ? t->parts[p->partition].leader : -1;
        if (leader[i] < 0 || !find_broker(s, leader[i])) {
            leader[i] = -1;
            job_retry_later(j);
        }
    }
    j->inflight++; /* send_to() may fail a connection and end requests: keep j */
    for (size_t i = 0; i < j->n_parts; i++) {
        if (leader[i] < 0 || j->parts[i].st != MP_UNSENT)
            continue;
        size_t n = 0;
        for (size_t k = i; k < j->n_parts; k++)
            if (leader[k] == leader[i] && j->parts[k].st == MP_UNSENT)
                idx[n++] = k;
        int32_t id = leader[i];
        for (size_t k = 0; k < n; k++)
            leader[idx[k]] = -1;
        send_to(j, find_broker(s, id), idx, n);
    }
    j->inflight--;
    free(idx);
    free(leader);
    mc_put(s);
    job_check(j);
}

bool txn_markers_send(struct txn_markers *mk, const struct txn_markers_txn *t)
{
    KASSERT(worker_is_current(mk->w));
    struct mjob *j = calloc(1, sizeof(*j));
    if (!j)
        return false;
    j->mk = mk;
    j->id = malloc(t->id_len + 1);
    j->parts = calloc(t->n_parts ? t->n_parts : 1, sizeof(*j->parts));
    j->retry_ev = evtimer_new(mk->base, retry_cb, j);
    bool ok = j->id && j->parts && j->retry_ev;
    for (size_t i = 0; ok && i < t->n_parts; i++) {
        j->parts[i] = (struct mpart){strdup(t->parts[i].topic), t->parts[i].partition, MP_UNSENT};
        j->n_parts++;
        ok = j->parts[i].topic != NULL;
    }
    j->next = mk->jobs;
    mk->jobs = j;
    if (!ok) {
        job_free(j);
        return false;
    }
    memcpy(j->id, t->id, t->id_len);
    j->id[t->id_len] = '\0';
    j->id_len = t->id_len;
    j->coord_partition = t->coord_partition;
    j->coord_epoch = t->coord_epoch;
    j->producer_id = t->producer_id;
    j->producer_epoch = t->producer_epoch;
    j->commit = t->commit;
    /* the first kick from the loop: done never runs inside this call */
    struct timeval now = {0, 0};
    evtimer_add(j->retry_ev, &now);
    return true;
}

bool txn_markers_active(const struct txn_markers *mk, const char *p, size_t len)
{
    KASSERT(worker_is_current(mk->w));
    for (const struct mjob *j = mk->jobs; j; j = j->next)
        if (!j->finished && j->id_len == len && memcmp(j->id, p, len) == 0)
            return true;
    return false;
}

void txn_markers_cancel_partition(struct txn_markers *mk, int32_t p)
{
    KASSERT(worker_is_current(mk->w));
    struct mjob *j = mk->jobs;
    while (j) {
        struct mjob *next = j->next;
        if (!j->finished && j->coord_partition == p) {
            j->finished = true;
            event_del(j->retry_ev);
            if (j->inflight == 0)
                job_free(j);
        }
        j = next;
    }
}

struct txn_markers *txn_markers_new(struct broker *b, struct worker *w, txn_markers_done done,
                                    void *ctx)
{
    struct txn_markers *mk = calloc(1, sizeof(*mk));
    if (!mk)
        return NULL;
    *mk = (struct txn_markers){.b = b, .w = w, .base = worker_base(w), .done = done, .ctx = ctx};
    snprintf(mk->client_id, sizeof(mk->client_id), "gregor-txn-%d", (int)b->id);
    return mk;
}

void txn_markers_free(struct txn_markers *mk)
{
    if (!mk)
        return;
    KASSERT(worker_is_current(mk->w));
    for (struct mjob *j = mk->jobs; j; j = j->next)
        j->finished = true; /* no callbacks from here on */
    while (mk->conns) {
        struct mconn *c = mk->conns;
        mk->conns = c->next;
        conn_fail(c, "shutdown");
        event_free(c->timeout_ev);
        free(c);
    }
    while (mk->jobs)
        job_free(mk->jobs);
    free(mk);
}
