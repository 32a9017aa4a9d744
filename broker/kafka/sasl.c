/*
 * broker/kafka/sasl.c — SaslHandshake (key 17, v0-v1), SaslAuthenticate
 * (key 36, v0-v2) and the bare tokens that follow a v0 handshake.
 *
 * SaslHandshake: req mechanism; resp error_code, mechanisms[] (the
 * listener's enabled ones). SaslAuthenticate: req auth_bytes; resp
 * error_code, error_message, auth_bytes, session_lifetime_ms (v1+); v2 is
 * flexible. After a v0 handshake the client sends each token as a bare
 * size-prefixed frame and gets the reply the same way (no Kafka header);
 * a failure there can only close the connection. Any failed step answers
 * (when it can) and closes the connection, as Kafka does.
 *
 * The session state and the exchanges are broker/security/sasl_server.c;
 * the connection (net/conn.c) owns the session, takes the principal after
 * a successful step and applies the pre-authentication limits.
 */
#include "broker/kafka/dispatch.h"
#include "broker/security/sasl_server.h"
#include "common/clock.h"
#include "common/say.h"

#include <stdio.h>
#include <string.h>

#define SASL_TOKEN_MAX 1024 /* our replies: SCRAM server-first/final */

static void put_mechanisms(struct req *req)
{
    const struct sasl_listener *l = req->sasl ? req->sasl->cfg : NULL;
    int n = l ? l->n_enabled : 0;
    kw_put_array_len(&req->out, false, n);
    for (int i = 0; i < n; i++)
        kw_put_str(&req->out, false, sasl_mech_name(l->order[i]));
}

kerr_t handle_sasl_handshake(struct req *req)
{
    struct kstr mech = kw_get_str(&req->body, false);
    if (!kslice_ok(&req->body) || kstr_is_null(mech))
        return KERR__CLOSE;
    kerr_t err = KERR_ILLEGAL_SASL_STATE; /* not a SASL listener */
    if (req->sasl)
        err =
            (kerr_t)sasl_session_handshake(req->sasl, mech.ptr, (size_t)mech.len, req->api_version);
    kbuf_put_i16(&req->out, err);
    put_mechanisms(req);
    if (err != KERR_NONE) {
        say_info("sasl", "handshake refused peer=%s listener=%s mechanism=%.*s error=%s",
                 req->client_host, req->listener, (int)mech.len, mech.ptr, kerr_name(err));
        req->close_after = req->sasl != NULL;
    }
    return KERR_NONE;
}

kerr_t handle_sasl_authenticate(struct req *req)
{
    bool flex = req->flex;
    int32_t n = 0;
    const uint8_t *tok = kw_get_bytes(&req->body, flex, &n);
    kw_skip_tags(&req->body, flex);
    if (!kslice_ok(&req->body))
        return KERR__CLOSE;
    char out[SASL_TOKEN_MAX], why[256] = "";
    size_t out_len = 0;
    kerr_t err = KERR_NONE;
    enum sasl_step step = SASL_STEP_FAIL;
    if (!req->sasl || req->sasl->state != SASL_TOKENS) {
        err = KERR_ILLEGAL_SASL_STATE;
        snprintf(why, sizeof(why), "Unexpected SaslAuthenticate: no SaslHandshake v1 before it");
        if (req->sasl)
            req->sasl->state = SASL_FAILED;
    } else {
        step = sasl_session_token(req->sasl, tok ? tok : (const uint8_t *)"", tok ? (size_t)n : 0,
                                  out, sizeof(out), &out_len, clock_mono_ms(), why, sizeof(why));
        if (step == SASL_STEP_FAIL)
            err = KERR_SASL_AUTHENTICATION_FAILED;
    }
    struct kbuf *o = &req->out;
    kbuf_put_i16(o, err);
    kw_put_nstr(o, flex, err != KERR_NONE ? why : NULL);
    kw_put_bytes(o, flex, out, (int32_t)out_len);
    if (req->api_version >= 1) {
        int64_t life = 0;
        if (step == SASL_STEP_DONE && req->sasl->cfg->reauth_ms > 0)
            life = req->sasl->cfg->reauth_ms;
        kbuf_put_i64(o, life);
    }
    kw_put_tags(o, flex);
    if (err != KERR_NONE) {
        say_info("sasl", "authentication failed peer=%s listener=%s user=%s: %s", req->client_host,
                 req->listener,
                 req->sasl && req->sasl->mech != SASL_MECH_PLAIN ? req->sasl->scram.user : "-",
                 why);
        req->close_after = true;
    } else if (step == SASL_STEP_DONE) {
        say_debug("sasl", "authenticated peer=%s principal=%s mechanism=%s", req->client_host,
                  req->sasl->principal, sasl_mech_name(req->sasl->mech));
    }
    return KERR_NONE;
}

kerr_t sasl_raw_token(struct req *req)
{
    char out[SASL_TOKEN_MAX], why[256] = "";
    size_t out_len = 0;
    req->raw_response = true;
    enum sasl_step step =
        sasl_session_token(req->sasl, req->frame, req->frame_len, out, sizeof(out), &out_len,
                           clock_mono_ms(), why, sizeof(why));
    if (step == SASL_STEP_FAIL) {
        say_info("sasl", "authentication failed peer=%s listener=%s user=%s (SaslHandshake v0): %s",
                 req->client_host, req->listener, req->sasl->user[0] ? req->sasl->user : "-", why);
        return KERR__CLOSE;
    }
    kbuf_put(&req->out, out, out_len);
    return KERR_NONE;
}
