/*
 * broker/security/sasl_server.c — SASL listener settings and the
 * per-connection exchange for PLAIN (RFC 4616) and SCRAM (scram.c); the
 * states are in sasl_server.h.
 */
#include "broker/security/sasl_server.h"
#include "broker/security/scram_store.h"
#include "broker/config/config.h"
#include "common/api_keys.h"
#include "common/err.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct sasl_listener sasl_listeners[CONFIG_MAX_LISTENERS];
static int n_sasl_listeners;

static const char *const mech_names[SASL_N_MECHS] = {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"};

const char *sasl_mech_name(enum sasl_mech m) { return mech_names[m]; }

bool sasl_mech_parse(const char *name, size_t len, enum sasl_mech *out)
{
    for (int m = 0; m < SASL_N_MECHS; m++) {
        if (strlen(mech_names[m]) == len && memcmp(mech_names[m], name, len) == 0) {
            *out = (enum sasl_mech)m;
            return true;
        }
    }
    return false;
}

void sasl_listener_mech_list(const struct sasl_listener *l, char *out, size_t n)
{
    size_t k = 0;
    out[0] = '\0';
    for (int i = 0; i < l->n_enabled && k < n; i++) {
        int w = snprintf(out + k, n - k, "%s%s", i ? ", " : "", sasl_mech_name(l->order[i]));
        if (w < 0)
            break;
        k += (size_t)w;
    }
}

/* Parses "A,B" (blanks allowed) into l's enabled mechanisms. */
static bool parse_mechanisms(struct sasl_listener *l, const char *text, char *err, size_t errlen)
{
    const char *p = text;
    while (*p) {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        const char *start = p;
        while (*p && *p != ',' && !isspace((unsigned char)*p))
            p++;
        size_t len = (size_t)(p - start);
        if (len == 0)
            continue;
        enum sasl_mech m;
        if (!sasl_mech_parse(start, len, &m)) {
            snprintf(err, errlen,
                     "listener %s: SASL mechanism '%.*s' in sasl.enabled.mechanisms is not "
                     "supported (Gregor offers PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)",
                     l->name, (int)len, start);
            return false;
        }
        if (l->enabled & (1u << m))
            continue;
        l->enabled |= 1u << m;
        l->order[l->n_enabled++] = m;
    }
    if (l->n_enabled == 0) {
        snprintf(err, errlen, "listener %s: sasl.enabled.mechanisms is empty", l->name);
        return false;
    }
    return true;
}

/* The JAAS text for PLAIN on listener name: listener.name.<l>.plain.sasl.jaas.config,
 * then listener.name.<l>.sasl.jaas.config, then sasl.jaas.config. */
static const char *plain_jaas_text(const struct broker_config *cfg, const char *name)
{
    const char *t = config_listener_value(cfg, name, "plain.sasl.jaas.config");
    if (!t)
        t = config_listener_value(cfg, name, "sasl.jaas.config");
    return t ? t : cfg->sasl_jaas_config;
}

static bool configure_one(const struct broker_config *cfg, const char *name,
                          struct sasl_listener *l, char *err, size_t errlen)
{
    memset(l, 0, sizeof(*l));
    snprintf(l->name, sizeof(l->name), "%s", name);
    const char *mechs = config_listener_value(cfg, name, "sasl.enabled.mechanisms");
    if (!parse_mechanisms(l, mechs ? mechs : cfg->sasl_enabled_mechanisms, err, errlen))
        return false;
    l->max_receive = cfg->sasl_server_max_receive_size;
    l->auth_timeout_ms = cfg->gregor_sasl_authentication_timeout_ms;
    l->reauth_ms = cfg->connections_max_reauth_ms;
    const char *reauth = config_listener_value(cfg, name, "connections.max.reauth.ms");
    if (reauth) {
        char *end = NULL;
        long long v = strtoll(reauth, &end, 10);
        if (!end || *end || v < 0) {
            snprintf(err, errlen, "listener %s: bad connections.max.reauth.ms '%s'", name, reauth);
            return false;
        }
        l->reauth_ms = v;
    }
    if (l->enabled & (1u << SASL_MECH_PLAIN)) {
        const char *text = plain_jaas_text(cfg, name);
        char why[256];
        if (!text) {
            snprintf(err, errlen,
                     "listener %s enables PLAIN but has no JAAS configuration: set "
                     "listener.name.%s.plain.sasl.jaas.config (or sasl.jaas.config) to "
                     "PlainLoginModule with user_<name>=\"<password>\" entries",
                     name, name);
            return false;
        }
        if (!jaas_parse(text, &l->plain, why, sizeof(why))) {
            snprintf(err, errlen, "listener %s: PLAIN sasl.jaas.config: %s", name, why);
            jaas_free(&l->plain);
            return false;
        }
        const char *mod = l->plain.module;
        size_t ml = strlen(mod);
        if (ml < 16 || strcmp(mod + ml - 16, "PlainLoginModule") != 0) {
            snprintf(err, errlen,
                     "listener %s: PLAIN sasl.jaas.config names login module %s, expected "
                     "org.apache.kafka.common.security.plain.PlainLoginModule",
                     name, mod);
            jaas_free(&l->plain);
            return false;
        }
        l->have_plain = true;
    }
    return true;
}

int sasl_configure(const struct broker_config *cfg, char *err, size_t errlen)
{
    sasl_unconfigure();
    for (int i = 0; i < cfg->n_listeners; i++) {
        const struct config_listener *cl = &cfg->listener[i];
        if (strncmp(cl->protocol, "SASL_", 5) != 0)
            continue;
        if (!configure_one(cfg, cl->name, &sasl_listeners[n_sasl_listeners], err, errlen)) {
            sasl_unconfigure();
            return -1;
        }
        n_sasl_listeners++;
    }
    return 0;
}

int sasl_inter_broker_login(const struct broker_config *cfg, const char **mech, char *user,
                            size_t user_n, char *password, size_t pw_n, char *err, size_t errlen)
{
    const struct config_listener *ib = &cfg->listener[cfg->inter_broker_listener];
    if (strncmp(ib->protocol, "SASL_", 5) != 0)
        return 0;
    const char *want = cfg->sasl_mechanism_inter_broker_protocol;
    enum sasl_mech m;
    if (!sasl_mech_parse(want, strlen(want), &m)) {
        snprintf(err, errlen, "sasl.mechanism.inter.broker.protocol=%s is not supported", want);
        return -1;
    }
    const struct sasl_listener *l = sasl_listener_find(ib->name);
    if (!l || !(l->enabled & (1u << m))) {
        snprintf(err, errlen,
                 "sasl.mechanism.inter.broker.protocol=%s is not enabled on the inter-broker "
                 "listener %s",
                 want, ib->name);
        return -1;
    }
    char key[64];
    snprintf(key, sizeof(key), "%s.sasl.jaas.config", want);
    for (char *c = key; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    const char *text = config_listener_value(cfg, ib->name, key);
    if (!text)
        text = config_listener_value(cfg, ib->name, "sasl.jaas.config");
    if (!text)
        text = cfg->sasl_jaas_config;
    struct jaas_config j;
    char why[256];
    const char *u = NULL, *p = NULL;
    bool ok = text && jaas_parse(text, &j, why, sizeof(why));
    if (ok) {
        u = jaas_get(&j, "username");
        p = jaas_get(&j, "password");
    }
    if (!ok || !u || !p || !*u || strlen(u) >= user_n || strlen(p) >= pw_n) {
        snprintf(err, errlen,
                 "the inter-broker listener %s is SASL: its JAAS text for %s (listener.name.%s.%s "
                 "or sasl.jaas.config) must give the broker's username and password",
                 ib->name, want, ib->name, key);
        if (text)
            jaas_free(&j);
        return -1;
    }
    snprintf(user, user_n, "%s", u);
    snprintf(password, pw_n, "%s", p);
    jaas_free(&j);
    *mech = sasl_mech_name(m);
    return 1;
}

const struct sasl_listener *sasl_listener_find(const char *name)
{
    for (int i = 0; i < n_sasl_listeners; i++)
        if (strcmp(sasl_listeners[i].name, name) == 0)
            return &sasl_listeners[i];
    return NULL;
}

void sasl_unconfigure(void)
{
    for (int i = 0; i < n_sasl_listeners; i++)
        jaas_free(&sasl_listeners[i].plain);
    n_sasl_listeners = 0;
}

void sasl_session_init(struct sasl_session *s, const struct sasl_listener *cfg)
{
    memset(s, 0, sizeof(*s));
    s->cfg = cfg;
    s->state = SASL_START;
}

int32_t sasl_session_frame_limit(const struct sasl_session *s, int32_t normal)
{
    if (s->authenticated || s->cfg->max_receive >= normal)
        return normal;
    return s->cfg->max_receive;
}

bool sasl_session_allows(const struct sasl_session *s, int api_key, int64_t now_mono_ms)
{
    if (api_key == API_API_VERSIONS || api_key == API_SASL_HANDSHAKE ||
        api_key == API_SASL_AUTHENTICATE)
        return s->state != SASL_FAILED;
    if (!s->authenticated || s->state == SASL_FAILED)
        return false;
    return s->expires_mono_ms == 0 || now_mono_ms < s->expires_mono_ms;
}

int sasl_session_handshake(struct sasl_session *s, const char *name, size_t len, int version)
{
    enum sasl_mech m;
    bool reauth = s->authenticated && s->state == SASL_AUTHENTICATED;
    if (s->state != SASL_START && !reauth)
        return KERR_ILLEGAL_SASL_STATE;
    if (reauth && version < 1)
        return KERR_ILLEGAL_SASL_STATE; /* re-authentication needs SaslAuthenticate */
    if (!sasl_mech_parse(name, len, &m) || !(s->cfg->enabled & (1u << m)))
        return KERR_UNSUPPORTED_SASL_MECHANISM;
    if (reauth && m != s->mech)
        return KERR_ILLEGAL_SASL_STATE; /* Kafka: the mechanism may not change */
    s->mech = m;
    s->reauthenticating = reauth;
    s->state = version == 0 ? SASL_RAW : SASL_TOKENS;
    if (m != SASL_MECH_PLAIN)
        scram_server_init(&s->scram, m == SASL_MECH_SCRAM_SHA_512 ? SCRAM_SHA_512 : SCRAM_SHA_256);
    return KERR_NONE;
}

/* Constant-time equality of two strings of any lengths: their SHA-256
 * digests are compared, so neither the length nor a prefix leaks. */
static bool secret_equal(const char *a, size_t al, const char *b, size_t bl)
{
    uint8_t da[32], db[32];
    unsigned int n1 = 0, n2 = 0;
    bool ok = EVP_Digest(a, al, da, &n1, EVP_sha256(), NULL) == 1 &&
              EVP_Digest(b, bl, db, &n2, EVP_sha256(), NULL) == 1;
    return ok && CRYPTO_memcmp(da, db, sizeof(da)) == 0 && al == bl;
}

/* PLAIN: "authzid NUL authcid NUL passwd". */
static enum sasl_step plain_step(struct sasl_session *s, const uint8_t *in, size_t len, char *user,
                                 size_t user_n, char *err, size_t errlen)
{
    const char *m = (const char *)in;
    const char *z1 = memchr(m, '\0', len);
    const char *z2 = z1 ? memchr(z1 + 1, '\0', len - (size_t)(z1 + 1 - m)) : NULL;
    if (!z1 || !z2) {
        snprintf(err, errlen, "Invalid SASL/PLAIN response: expected 3 tokens");
        return SASL_STEP_FAIL;
    }
    size_t azl = (size_t)(z1 - m), ul = (size_t)(z2 - z1 - 1);
    const char *pw = z2 + 1;
    size_t pl = len - (size_t)(pw - m);
    if (ul == 0 || ul >= user_n || pl == 0) {
        snprintf(err, errlen, "Invalid SASL/PLAIN response: empty or long user name or password");
        return SASL_STEP_FAIL;
    }
    memcpy(user, z1 + 1, ul);
    user[ul] = '\0';
    if (azl && (azl != ul || memcmp(m, user, ul) != 0)) {
        snprintf(err, errlen,
                 "Authentication failed: Client requested an authorization id that "
                 "is different from username");
        return SASL_STEP_FAIL;
    }
    char key[300];
    snprintf(key, sizeof(key), "user_%s", user);
    const char *expect = s->cfg->have_plain ? jaas_get(&s->cfg->plain, key) : NULL;
    /* unknown users are compared too, so the time does not tell them apart */
    bool ok = secret_equal(pw, pl, expect ? expect : "", expect ? strlen(expect) : 0);
    if (!expect || !ok) {
        snprintf(err, errlen, "Authentication failed: Invalid username or password");
        return SASL_STEP_FAIL;
    }
    return SASL_STEP_DONE;
}

enum sasl_step sasl_session_token(struct sasl_session *s, const uint8_t *in, size_t len, char *out,
                                  size_t n, size_t *out_len, int64_t now_mono_ms, char *err,
                                  size_t errlen)
{
    *out_len = 0;
    if (s->state != SASL_TOKENS && s->state != SASL_RAW) {
        snprintf(err, errlen, "Unexpected SASL token: no SaslHandshake before it");
        s->state = SASL_FAILED;
        return SASL_STEP_FAIL;
    }
    char user[SCRAM_USER_MAX] = "";
    enum sasl_step rc;
    if (s->mech == SASL_MECH_PLAIN) {
        rc = plain_step(s, in, len, user, sizeof(user), err, errlen);
    } else {
        rc = scram_server_step(&s->scram, in, len, scram_store_lookup, NULL, NULL, out, n, out_len,
                               err, errlen);
        snprintf(user, sizeof(user), "%s", s->scram.user);
    }
    if (s->mech == SASL_MECH_PLAIN && rc == SASL_STEP_FAIL && user[0] == '\0')
        snprintf(s->user, sizeof(s->user), "-");
    else
        snprintf(s->user, sizeof(s->user), "%s", user);
    if (rc == SASL_STEP_FAIL) {
        s->state = SASL_FAILED;
        return rc;
    }
    if (rc == SASL_STEP_CONTINUE)
        return rc;
    char principal[sizeof(s->principal)];
    snprintf(principal, sizeof(principal), "User:%s", user);
    if (s->reauthenticating && strcmp(principal, s->principal) != 0) {
        snprintf(err, errlen, "Cannot change principals during re-authentication from %s",
                 s->principal);
        s->state = SASL_FAILED;
        return SASL_STEP_FAIL;
    }
    snprintf(s->principal, sizeof(s->principal), "%s", principal);
    s->principal_changed = true;
    s->authenticated = true;
    s->reauthenticating = false;
    s->state = SASL_AUTHENTICATED;
    s->expires_mono_ms = s->cfg->reauth_ms > 0 ? now_mono_ms + s->cfg->reauth_ms : 0;
    return SASL_STEP_DONE;
}
