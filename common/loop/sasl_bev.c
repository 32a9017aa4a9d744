/*
 * common/loop/sasl_bev.c — the broker's own SASL login on a bufferevent
 * (sasl_bev.h). Requests: header v1 (api key, version, correlation id,
 * client id "gregor-broker"); SaslHandshake v1 body: mechanism;
 * SaslAuthenticate v1 body: auth_bytes. Responses: [int32 size][int32
 * correlation id][body]; SaslHandshake: error_code, mechanisms[];
 * SaslAuthenticate: error_code, error_message, auth_bytes,
 * session_lifetime_ms.
 */
#include "common/loop/sasl_bev.h"
#include "common/api_keys.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/kwire.h"
#include "common/sasl_cli.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SB_FRAME_MAX 65536
#define SB_CLIENT_ID "gregor-broker"

static struct {
    char mechanism[32];
    char user[256];
    char password[256];
} sb_login;

void sasl_bev_configure(const char *mechanism, const char *user, const char *password)
{
    snprintf(sb_login.mechanism, sizeof(sb_login.mechanism), "%s", mechanism ? mechanism : "");
    snprintf(sb_login.user, sizeof(sb_login.user), "%s", user ? user : "");
    snprintf(sb_login.password, sizeof(sb_login.password), "%s", password ? password : "");
}

bool sasl_bev_enabled(void) { return sb_login.mechanism[0] != '\0'; }

struct sasl_bev {
    struct bufferevent *bev; /* borrowed */
    struct event *timer;     /* owned */
    struct sasl_cli cli;
    sasl_bev_done_fn done;
    void *arg;
    int32_t corr;
    bool handshaken; /* the handshake's answer came */
};

void sasl_bev_cancel(struct sasl_bev *sb)
{
    if (!sb)
        return;
    bufferevent_setcb(sb->bev, NULL, NULL, NULL, NULL);
    if (sb->timer)
        event_free(sb->timer);
    sasl_cli_done(&sb->cli);
    free(sb);
}

static void sb_finish(struct sasl_bev *sb, const char *error)
{
    char why[1024];
    sasl_bev_done_fn done = sb->done;
    void *arg = sb->arg;
    if (error)
        snprintf(why, sizeof(why), "SASL login as %s (%s): %s", sb_login.user, sb_login.mechanism,
                 error);
    sasl_bev_cancel(sb);
    done(arg, error ? why : NULL);
}

static void sb_send(struct sasl_bev *sb, int16_t key, const struct kbuf *body)
{
    struct kbuf b;
    kbuf_init(&b);
    kbuf_put_i32(&b, 0); /* size, patched */
    kbuf_put_i16(&b, key);
    kbuf_put_i16(&b, 1);
    kbuf_put_i32(&b, ++sb->corr);
    kw_put_str(&b, false, SB_CLIENT_ID);
    kbuf_put(&b, body->data, body->len);
    if (!b.oom) {
        be32_store(b.data, (uint32_t)(b.len - 4));
        bufferevent_write(sb->bev, b.data, b.len);
    }
    kbuf_destroy(&b);
}

/* Makes the next token and sends it (true), or finishes (false: sb is
 * gone). */
static bool sb_next(struct sasl_bev *sb, const uint8_t *in, size_t in_len)
{
    uint8_t tok[1024];
    size_t tl = 0;
    char why[256];
    int rc = sasl_cli_step(&sb->cli, in, in_len, tok, sizeof(tok), &tl, why, sizeof(why));
    if (rc <= 0) {
        sb_finish(sb, rc < 0 ? why : NULL);
        return false;
    }
    struct kbuf body;
    kbuf_init(&body);
    kw_put_bytes(&body, false, tok, (int32_t)tl);
    sb_send(sb, API_SASL_AUTHENTICATE, &body);
    kbuf_destroy(&body);
    return true;
}

/* Handles one response body (after the correlation id). false: finished
 * (sb is gone). */
static bool sb_response(struct sasl_bev *sb, const uint8_t *p, size_t n)
{
    struct kslice s;
    kslice_init(&s, p, n);
    int16_t err = kslice_i16(&s);
    char why[300];
    if (!sb->handshaken) {
        if (!kslice_ok(&s) || err != KERR_NONE) {
            snprintf(why, sizeof(why), "SaslHandshake answered %s",
                     kslice_ok(&s) ? kerr_name(err) : "malformed");
            sb_finish(sb, why);
            return false;
        }
        sb->handshaken = true;
        return sb_next(sb, NULL, 0);
    }
    struct kstr msg = kw_get_str(&s, false);
    int32_t tl = 0;
    const uint8_t *tok = kw_get_bytes(&s, false, &tl);
    if (!kslice_ok(&s) || err != KERR_NONE) {
        snprintf(why, sizeof(why), "SaslAuthenticate answered %s%s%.*s",
                 kslice_ok(&s) ? kerr_name(err) : "malformed", msg.ptr ? ": " : "",
                 msg.ptr ? (int)msg.len : 0, msg.ptr ? msg.ptr : "");
        sb_finish(sb, why);
        return false;
    }
    uint8_t copy[1024];
    size_t cl = tok && tl > 0 ? (size_t)tl : 0;
    if (cl > sizeof(copy)) {
        sb_finish(sb, "SASL token too long");
        return false;
    }
    if (cl)
        memcpy(copy, tok, cl);
    return sb_next(sb, copy, cl);
}

static void sb_read_cb(struct bufferevent *bev, void *arg)
{
    struct sasl_bev *sb = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        uint8_t hdr[8];
        if (evbuffer_copyout(in, hdr, 8) < 8)
            return;
        uint32_t size = be32_load(hdr);
        if (size < 4 || size > SB_FRAME_MAX) {
            sb_finish(sb, "bad response frame");
            return;
        }
        if (evbuffer_get_length(in) < 4 + (size_t)size)
            return;
        uint8_t *frame = malloc(size);
        if (!frame) {
            sb_finish(sb, "out of memory");
            return;
        }
        evbuffer_drain(in, 4);
        evbuffer_remove(in, frame, size);
        if ((int32_t)be32_load(frame) != sb->corr) {
            free(frame);
            sb_finish(sb, "response to another request");
            return;
        }
        bool more = sb_response(sb, frame + 4, size - 4);
        free(frame);
        if (!more)
            return; /* finished: sb is gone */
    }
}

static void sb_event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct sasl_bev *sb = arg;
    sb_finish(sb,
              what & BEV_EVENT_EOF ? "closed by the peer (wrong credentials?)" : "socket error");
}

static void sb_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sb_finish(arg, "timed out");
}

struct sasl_bev *sasl_bev_start(struct bufferevent *bev, int timeout_ms, sasl_bev_done_fn done,
                                void *arg)
{
    struct sasl_bev *sb = calloc(1, sizeof(*sb));
    if (!sb)
        return NULL;
    sb->bev = bev;
    sb->done = done;
    sb->arg = arg;
    sb->timer = evtimer_new(bufferevent_get_base(bev), sb_timeout_cb, sb);
    if (!sb->timer ||
        !sasl_cli_init(&sb->cli, sb_login.mechanism, sb_login.user, sb_login.password)) {
        if (sb->timer)
            event_free(sb->timer);
        free(sb);
        return NULL;
    }
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    evtimer_add(sb->timer, &tv);
    bufferevent_setcb(bev, sb_read_cb, NULL, sb_event_cb, sb);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    struct kbuf body;
    kbuf_init(&body);
    kw_put_str(&body, false, sasl_cli_mechanism(&sb->cli));
    sb_send(sb, API_SASL_HANDSHAKE, &body);
    kbuf_destroy(&body);
    return sb;
}
