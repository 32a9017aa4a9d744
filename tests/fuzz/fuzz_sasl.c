/*
 * tests/fuzz/fuzz_sasl.c — libFuzzer target: what a client controls before it
 * authenticates, and the texts SASL reads: arbitrary bytes drive a SASL
 * session of broker/security/sasl_server.c (handshake, then tokens, with
 * re-authentication), or go to the JAAS parser, the /config/users JSON
 * codec (controller/zk/zk_store_users.c) and the SCRAM credential text.
 *
 * Input: byte 0 picks the listener's mechanisms (bits 0-2; none = all) and
 * byte 1 the mode: 0-3 a session, 4 JAAS, 5 user JSON, 6 credential text.
 * A session reads chunks [u8 length][bytes]: the first is SaslHandshake's
 * mechanism (version 0 when bit 0 of the mode is set), the rest are tokens;
 * after a success the next chunk re-authenticates (a handshake again).
 * The SCRAM table holds user "u" (SHA-256 and SHA-512, password "p"), the
 * PLAIN accounts are user_u="p". Invariants checked: a session is
 * authenticated only as User:u, the frame limit is the SASL one until
 * then, and a failed session serves nothing.
 */
#include "broker/security/jaas.h"
#include "broker/security/sasl_server.h"
#include "broker/security/scram.h"
#include "broker/security/scram_store.h"
#include "controller/zk/zk_store.h"
#include "common/api_keys.h"
#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct sasl_listener listeners[8];
static bool ready;

static void setup(void)
{
    const uint8_t salt[] = "fuzzsaltfuzzsalt";
    struct scram_cred c[SCRAM_N_HASHES];
    const struct scram_cred *cp[SCRAM_N_HASHES];
    for (int h = 0; h < SCRAM_N_HASHES; h++) {
        uint8_t salted[SCRAM_KEY_MAX];
        if (!scram_salted_password((enum scram_hash)h, "p", 1, salt, 16, 4096, salted) ||
            !scram_cred_from_salted((enum scram_hash)h, salt, 16, salted,
                                    scram_key_len((enum scram_hash)h), 4096, &c[h]))
            abort();
        cp[h] = &c[h];
    }
    if (!scram_store_put("u", cp))
        abort();
    for (unsigned m = 0; m < 8; m++) {
        struct sasl_listener *l = &listeners[m];
        char err[128];
        snprintf(l->name, sizeof(l->name), "FUZZ");
        for (int k = 0; k < SASL_N_MECHS; k++) {
            if ((m ? m : 7) & (1u << k)) {
                l->enabled |= 1u << k;
                l->order[l->n_enabled++] = (enum sasl_mech)k;
            }
        }
        if (!jaas_parse("x.PlainLoginModule required user_u=\"p\";", &l->plain, err, sizeof(err)))
            abort();
        l->have_plain = true;
        l->max_receive = 4096;
        l->reauth_ms = m & 1 ? 1000 : 0;
    }
    ready = true;
}

static void session(const struct sasl_listener *l, int mode, const uint8_t *p, size_t n)
{
    struct sasl_session s;
    sasl_session_init(&s, l);
    bool handshake = true;
    int64_t now = 1000;
    while (n > 0) {
        size_t len = p[0];
        p++, n--;
        if (len > n)
            len = n;
        if (handshake) {
            (void)sasl_session_handshake(&s, (const char *)p, len, mode & 1 ? 0 : 1);
            handshake = false;
        } else {
            char out[1024], why[256];
            size_t out_len;
            enum sasl_step st =
                sasl_session_token(&s, p, len, out, sizeof(out), &out_len, now, why, sizeof(why));
            if (out_len > sizeof(out))
                abort();
            if (st == SASL_STEP_DONE) {
                if (strcmp(s.principal, "User:u") != 0 || !s.authenticated)
                    abort();
                handshake = true; /* the next chunk re-authenticates */
            }
            if (st == SASL_STEP_FAIL && sasl_session_allows(&s, API_METADATA, now))
                abort();
        }
        if (!s.authenticated && sasl_session_frame_limit(&s, 1 << 20) != 4096)
            abort();
        now += 100;
        p += len, n -= len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready)
        setup();
    if (size < 2)
        return 0;
    const struct sasl_listener *l = &listeners[data[0] & 7];
    int mode = data[1] % 7;
    const uint8_t *p = data + 2;
    size_t n = size - 2;
    char *text = malloc(n + 1);
    if (!text)
        return 0;
    memcpy(text, p, n);
    text[n] = '\0';
    if (mode <= 3) {
        session(l, mode, p, n);
    } else if (mode == 4) {
        struct jaas_config c;
        char err[256];
        (void)jaas_parse(text, &c, err, sizeof(err));
        jaas_free(&c);
    } else if (mode == 5) {
        struct zk_user_config *c = calloc(1, sizeof(*c));
        if (c && zk_user_config_decode(text, n, c)) {
            char *buf = malloc(65536);
            if (buf && zk_user_config_encode(c, buf, 65536) < 0)
                abort(); /* what was read can be written back */
            free(buf);
        }
        free(c);
    } else {
        struct scram_cred c;
        (void)scram_cred_parse(SCRAM_SHA_256, text, n, &c);
        (void)scram_cred_parse(SCRAM_SHA_512, text, n, &c);
    }
    free(text);
    return 0;
}
