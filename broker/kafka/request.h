/*
 * broker/kafka/request.h — one Kafka request on its way through the broker,
 * and the response being built for it.
 *
 * conn.c creates a req for each complete frame, dispatch.c decodes the
 * header and calls the API's handler. A handler reads req->body (a kslice
 * positioned after the request header) and writes the response BODY into
 * req->out; conn.c adds the size prefix and the response header. Record
 * bytes that should leave by sendfile are added with req_add_file(): the
 * handler writes the length field itself, then calls req_add_file() at the
 * place the bytes belong (handlers never touch sockets or evbuffers).
 *
 * Completion: a handler returns KERR_NONE (respond now), KERR__CLOSE (close
 * the connection) or KERR__PENDING (it keeps the req and later calls
 * req_complete() from any thread; conn.c then sends req->out).
 *
 * Ownership: conn.c creates and frees reqs. A pending req outlives a closed
 * connection: the response is then dropped when it completes.
 */
#ifndef GREGOR_BROKER_KAFKA_REQUEST_H
#define GREGOR_BROKER_KAFKA_REQUEST_H

#include "common/buf.h"
#include "common/kheader.h"
#include "common/kwire.h"
#include "common/err.h"

struct broker;
struct conn;
struct sasl_session;
struct worker;

/* A piece of a segment file to send after out[at]. The fd is owned by the
 * req (closed when the req is freed or the bytes have been sent). */
struct req_file {
    size_t at; /* position in out where these bytes go */
    int fd;
    int64_t pos;
    int64_t len;
};

struct req {
    struct broker *broker; /* borrowed */
    struct conn *conn;     /* the connection; owned by its network loop, opaque here */
    struct worker *worker; /* the connection's network loop */
    /* Run on `worker` by req_complete(): the connection sends the response
     * (set by net/conn.c, which owns the connection). */
    void (*complete_job)(void *req);
    int16_t api_key;
    int16_t api_version;
    int32_t correlation_id;
    bool flex;                  /* request uses flexible (compact) encoding */
    int8_t resp_header_version; /* 0 or 1 (common/kheader.h) */
    bool no_response;           /* produce with acks=0 */
    bool from_broker;           /* the peer authenticated as a broker (inter-broker) */
    struct kstr client_id;      /* view into frame */
    const char *listener;       /* name of the listener the request came in on; valid
                                while the request is being handled on its loop */
    const char *principal;      /* "User:NAME" of the connection (borrowed, like
                                   client_host); User:ANONYMOUS if unauthenticated */
    const char *client_host;    /* "/address" of the client (borrowed from the
                                   connection, which outlives its requests) */
    /* the connection's SASL state on a SASL listener, else NULL (borrowed
     * like client_host; only its loop touches it: kafka/sasl.c) */
    struct sasl_session *sasl;
    bool raw_response; /* a bare SASL token: size prefix, no response header */
    bool close_after;  /* close the connection once the response has left */
    uint8_t *frame;    /* owned: the whole request frame without size */
    size_t frame_len;
    struct kslice body;     /* view into frame after the header */
    struct kbuf out;        /* the response body */
    struct req_file *files; /* owned array */
    int n_files;
    size_t cap_files;
    int64_t files_len; /* sum of files[].len */
    int64_t start_us;  /* monotonic receive time */
    /* time from receipt until the handler started (us): set at dispatch; a
     * Produce appended on the io workers adds its first job's queue wait */
    int64_t queue_us;
    void *handler_state; /* owned by the handler while pending */
    /* Set by a handler that parks the request on the connection's loop (a
     * waiting Fetch); called on that loop at shutdown, it must answer the
     * request now (it ends in req_complete()). NULL for other requests. */
    void (*cancel)(struct req *req);
    /* Client quotas: the longest throttle time this request earned (ms;
     * req_quota_record()); net/conn.c mutes the connection that long after
     * sending the response (KIP-219). */
    int32_t throttle_ms;
    /* Where out holds the response's throttle_time_ms (a position in out),
     * -1 when the response has none: set by dispatch.c from the API table
     * (dispatch_throttle_at()) or by a handler whose field is not at a
     * fixed place (Produce). net/conn.c raises the value there to the
     * request_percentage throttle it measured (req_throttle_raise()). */
    int32_t throttle_at;
};

/* Records that len bytes of fd starting at pos go at the current end of
 * req->out. Takes fd (closed with the req). Returns false on OOM (fd closed). */
bool req_add_file(struct req *req, int fd, int64_t pos, int64_t len);
/* Finishes a pending request from any thread; conn.c sends req->out on the
 * connection's loop (or drops it if the connection is gone). */
void req_complete(struct req *req);
/* Returns the network loop's event_base the request arrived on (for timers
 * of delayed operations); only valid while pending. */
struct event_base *req_base(struct req *req);
/* Records value for the request's user and client id against the client
 * quota of type (enum quota_type, core/quotas.h), raises req->throttle_ms
 * and returns the throttle time in ms (0: within quota, or no quota). */
int32_t req_quota_record(struct req *req, int type, double value);
/* The same without touching req (net/conn.c, for the handling time of a
 * request another thread may be completing). */
int32_t req_quota_measure(const struct req *req, int type, double value);
/* Takes back value recorded against the client quota of type: what a
 * throttled response did not send after all. */
void req_quota_unrecord(const struct req *req, int type, double value);
/* Makes the response's throttle_time_ms (at req->throttle_at) at least
 * ms, as Kafka answers with the larger of the byte-rate and request-time
 * throttles. Returns false when the response has no such field (throttle_at
 * -1, or not inside req->out), leaving it unchanged. The connection's loop,
 * before the response is sent. */
bool req_throttle_raise(struct req *req, int32_t ms);

#endif
