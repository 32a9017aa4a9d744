/*
 * broker/security/sasl_server.h — the server side of SASL on a listener:
 * each SASL listener's settings (mechanisms, PLAIN accounts from JAAS,
 * re-authentication and pre-authentication limits) and one connection's
 * authentication state (struct sasl_session).
 *
 * A session goes: START --SaslHandshake v1--> TOKENS (tokens in
 * SaslAuthenticate) or --SaslHandshake v0--> RAW (tokens as bare
 * size-prefixed frames) --last token--> AUTHENTICATED. An authenticated
 * session may re-authenticate (SaslHandshake + SaslAuthenticate again, v1
 * only, same mechanism, same principal); until then requests keep being
 * served. A failed exchange leaves the session FAILED: the connection is
 * closed after the error response.
 *
 * Threads: the listener table is built by sasl_configure() before the
 * listeners open and read-only after; a session belongs to its connection's
 * network loop.
 */
#ifndef GREGOR_BROKER_SECURITY_SASL_SERVER_H
#define GREGOR_BROKER_SECURITY_SASL_SERVER_H

#include "broker/security/jaas.h"
#include "broker/security/scram.h"

#include <stdbool.h>
#include <stdint.h>

struct broker_config;

enum sasl_mech {
    SASL_MECH_PLAIN = 0,
    SASL_MECH_SCRAM_SHA_256,
    SASL_MECH_SCRAM_SHA_512,
    SASL_N_MECHS
};

/* "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512". */
const char *sasl_mech_name(enum sasl_mech m);
bool sasl_mech_parse(const char *name, size_t len, enum sasl_mech *out);

/* One SASL listener's settings. */
struct sasl_listener {
    char name[32];
    unsigned enabled;                   /* bit (1 << enum sasl_mech) per enabled mechanism */
    enum sasl_mech order[SASL_N_MECHS]; /* enabled, in configured order */
    int n_enabled;
    struct jaas_config plain; /* PLAIN's login module options (user_<name>) */
    bool have_plain;
    int64_t reauth_ms;       /* connections.max.reauth.ms; 0 = no re-authentication */
    int32_t max_receive;     /* sasl.server.max.receive.size */
    int64_t auth_timeout_ms; /* gregor.sasl.authentication.timeout.ms */
};

/* Builds the table from cfg's SASL_PLAINTEXT/SASL_SSL listeners. -1 with a
 * reason in err (an unsupported mechanism, PLAIN without accounts, a bad
 * JAAS text). Call once at start-up. */
int sasl_configure(const struct broker_config *cfg, char *err, size_t errlen);
/* The broker's own login for its connections to other brokers, when the
 * inter-broker listener is SASL_*: sasl.mechanism.inter.broker.protocol
 * (which that listener must enable) and the username / password of the
 * listener's JAAS text for it (listener.name.<l>.<mech>.sasl.jaas.config,
 * then listener.name.<l>.sasl.jaas.config, then sasl.jaas.config). Returns
 * 1 with *mech (static), user and password filled, 0 when the inter-broker
 * listener is not SASL, -1 with a reason in err. */
int sasl_inter_broker_login(const struct broker_config *cfg, const char **mech, char *user,
                            size_t user_n, char *password, size_t pw_n, char *err, size_t errlen);
/* The settings of a SASL listener, NULL for any other listener. */
const struct sasl_listener *sasl_listener_find(const char *name);
void sasl_unconfigure(void);

enum sasl_state { SASL_START, SASL_TOKENS, SASL_RAW, SASL_AUTHENTICATED, SASL_FAILED };

struct sasl_session {
    const struct sasl_listener *cfg; /* borrowed (sasl_configure's table) */
    enum sasl_state state;
    bool authenticated;    /* once, and still (re-authentication keeps it) */
    bool reauthenticating; /* a handshake after authentication */
    enum sasl_mech mech;
    struct scram_server scram;
    char user[SCRAM_USER_MAX]; /* the user of the last exchange (logs) */
    char principal[256];       /* "User:NAME" once authenticated */
    bool principal_changed;    /* set on success; the connection takes it */
    int64_t expires_mono_ms;   /* session end (connections.max.reauth.ms); 0 = never */
};

void sasl_session_init(struct sasl_session *s, const struct sasl_listener *cfg);
/* The largest frame accepted: sasl.server.max.receive.size until the first
 * authentication, normal after. */
int32_t sasl_session_frame_limit(const struct sasl_session *s, int32_t normal);
/* Whether a request of api_key may be served now (the pre-authentication
 * gate and the end of an expired session). */
bool sasl_session_allows(const struct sasl_session *s, int api_key, int64_t now_mono_ms);
/* A SaslHandshake for mechanism name (version 0 or 1): KERR_NONE, or
 * UNSUPPORTED_SASL_MECHANISM / ILLEGAL_SASL_STATE. */
int sasl_session_handshake(struct sasl_session *s, const char *name, size_t len, int version);
/* The next client token; writes the reply into out (size n). On
 * SASL_STEP_FAIL the session is FAILED and err says why (never a secret).
 * now_mono_ms starts the session's lifetime on success. */
enum sasl_step sasl_session_token(struct sasl_session *s, const uint8_t *in, size_t len, char *out,
                                  size_t n, size_t *out_len, int64_t now_mono_ms, char *err,
                                  size_t errlen);
/* Writes the enabled mechanisms as "A, B" (for error messages). */
void sasl_listener_mech_list(const struct sasl_listener *l, char *out, size_t n);

#endif
