/*
 * controller/channel.h — one outbound connection to one broker with an
 * ordered request queue (docs/architecture.md §4). The controller keeps a channel per
 * live broker; a broker may use one to reach the controller (AlterIsr,
 * ControlledShutdown).
 *
 * Behaviour:
 *   - Requests are sent in channel_send() order, pipelined (at most
 *     CHANNEL_MAX_INFLIGHT written and unanswered), framed by
 *     controller/rpc.h with a fresh correlation id per transmission.
 *     Replies must come back in order with the matching correlation id;
 *     anything else is a protocol error that drops the connection.
 *   - Every request's callback runs exactly once, in request order: with
 *     KERR_NONE and the reply body, or with an error when the channel is
 *     freed first. A dropped connection is not an error for the request.
 *   - The first send connects (non-blocking). When a connection fails or
 *     drops, the channel retries after a backoff that starts at
 *     CHANNEL_BACKOFF_MIN_MS and doubles up to CHANNEL_BACKOFF_MAX_MS
 *     (reset by a successful connect), and then *resends every request that
 *     was written but not answered*. The receiver may therefore see a
 *     request twice and must treat a repeat as a no-op (controller/broker
 *     epochs and leader epochs make every control RPC idempotent).
 *   - A request unanswered for the request timeout (default
 *     CHANNEL_REQUEST_TIMEOUT_MS) counts as a dead connection: reconnect
 *     and resend.
 *   - Hosts are numeric addresses (IPv4/IPv6 literals) or names resolved
 *     with the system resolver at each connect (blocking the channel's
 *     loop for that lookup: fine for /etc/hosts names such as "localhost"
 *     and for a controller loop that serves nothing else).
 * Threads: a channel is loop-owned. Create it on the thread that runs
 * `base` (asserted), and call every function only there. Callbacks run on
 * that thread. Other threads post work to that loop instead.
 */
#ifndef GREGOR_CONTROLLER_CHANNEL_H
#define GREGOR_CONTROLLER_CHANNEL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "common/err.h"

struct event_base;
struct channel;

#define CHANNEL_MAX_INFLIGHT 32 /* written, unanswered requests */
#define CHANNEL_BACKOFF_MIN_MS 100
#define CHANNEL_BACKOFF_MAX_MS 2000
#define CHANNEL_REQUEST_TIMEOUT_MS 30000
#define CHANNEL_CLIENT_ID "gregor-channel" /* client_id of every request */

/* Called once per request on the channel's loop.
 *   err == KERR_NONE: body/len is the response's protobuf message (the
 *       frame after the correlation id), borrowed for the call: decode it
 *       with the matching rpc_*_resp_decode().
 *   err == KERR__CLOSE: the channel was freed before a reply came
 *       (body NULL, len 0).
 *   err == KERR__NOMEM / KERR__INVALID: channel_send() could not queue the
 *       request (out of memory, or the frame would exceed RPC_MAX_FRAME);
 *       only in this case the callback runs inside channel_send().
 * The callback may call channel_send(), channel_set_endpoint() and
 * channel_free() on the same channel. */
typedef void (*channel_reply_cb)(void *arg, kerr_t err, const uint8_t *body, size_t len);

/* Counters for tests and /metrics. */
struct channel_stats {
    uint64_t connects;         /* connections established */
    uint64_t connect_failures; /* attempts that failed (refused, DNS, ...) */
    uint64_t disconnects;      /* established connections lost or dropped */
    uint64_t timeouts;         /* requests that hit the request timeout */
    uint64_t sent;             /* request frames written, resends included */
    uint64_t resent;           /* frames written again after a reconnect */
    uint64_t replies;          /* replies delivered to callbacks */
    int queued;                /* requests now waiting for their reply */
    bool connected;            /* a connection is up now */
};

/* Creates a channel to broker dest_id at host:port on base; borrows base
 * (it must outlive the channel) and copies host (at most 255 bytes). Does
 * not connect until the first send. Returns new (channel_free()), or NULL
 * on bad arguments or out of memory. Thread: the one running base. */
struct channel *channel_new(struct event_base *base, int32_t dest_id, const char *host, int port);

/* Closes the connection, runs the callback of every queued request with
 * KERR__CLOSE (in order), and frees the channel. NULL is a no-op. Inside a
 * reply callback of this channel the free happens when that callback
 * returns (the remaining requests still get KERR__CLOSE). */
void channel_free(struct channel *ch);

/* Queues a request: api_key is a control key (RPC_*, common/api_keys.h), body/len the packed
 * protobuf request (borrowed: copied before returning). cb(arg, ...) runs
 * exactly once, later (see channel_reply_cb). */
void channel_send(struct channel *ch, int16_t api_key, const uint8_t *body, size_t len,
                  channel_reply_cb cb, void *arg);

/* Changes the destination (copies host). If it differs, the current
 * connection (if any) is dropped, written requests are requeued, and the
 * channel reconnects at once if anything is queued. */
void channel_set_endpoint(struct channel *ch, const char *host, int port);

/* Sets the request timeout (ms > 0), effective at once. */
void channel_set_request_timeout(struct channel *ch, int timeout_ms);

int32_t channel_dest_id(const struct channel *ch);
void channel_get_stats(const struct channel *ch, struct channel_stats *out);

#endif
