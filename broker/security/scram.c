/*
 * broker/security/scram.c — SCRAM-SHA-256/512 credentials and the server
 * side of the exchange (scram.h has the formats), on OpenSSL's PBKDF2,
 * HMAC, SHA-2 and RAND_bytes.
 */
#include "broker/security/scram.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *scram_mech_name(enum scram_hash h)
{
    return h == SCRAM_SHA_512 ? "SCRAM-SHA-512" : "SCRAM-SHA-256";
}

bool scram_mech_parse(const char *name, size_t len, enum scram_hash *out)
{
    if (len == 13 && memcmp(name, "SCRAM-SHA-256", 13) == 0) {
        *out = SCRAM_SHA_256;
        return true;
    }
    if (len == 13 && memcmp(name, "SCRAM-SHA-512", 13) == 0) {
        *out = SCRAM_SHA_512;
        return true;
    }
    return false;
}

size_t scram_key_len(enum scram_hash h) { return h == SCRAM_SHA_512 ? 64 : 32; }

static const EVP_MD *scram_md(enum scram_hash h)
{
    return h == SCRAM_SHA_512 ? EVP_sha512() : EVP_sha256();
}

bool scram_ct_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

bool scram_salted_password(enum scram_hash h, const char *password, size_t pw_len,
                           const uint8_t *salt, size_t salt_len, int32_t iterations, uint8_t *out)
{
    if (iterations < 1 || pw_len > INT32_MAX || salt_len > INT32_MAX)
        return false;
    return PKCS5_PBKDF2_HMAC(password, (int)pw_len, salt, (int)salt_len, iterations, scram_md(h),
                             (int)scram_key_len(h), out) == 1;
}

static bool scram_hmac(enum scram_hash h, const uint8_t *key, size_t key_len, const void *msg,
                       size_t msg_len, uint8_t *out)
{
    unsigned int n = 0;
    return HMAC(scram_md(h), key, (int)key_len, msg, msg_len, out, &n) != NULL &&
           n == scram_key_len(h);
}

static bool scram_digest(enum scram_hash h, const uint8_t *in, size_t len, uint8_t *out)
{
    unsigned int n = 0;
    return EVP_Digest(in, len, out, &n, scram_md(h), NULL) == 1 && n == scram_key_len(h);
}

bool scram_cred_from_salted(enum scram_hash h, const uint8_t *salt, size_t salt_len,
                            const uint8_t *salted, size_t salted_len, int32_t iterations,
                            struct scram_cred *out)
{
    size_t kl = scram_key_len(h);
    uint8_t client_key[SCRAM_KEY_MAX];
    if (salt_len == 0 || salt_len > SCRAM_SALT_MAX || salted_len != kl || iterations < 1)
        return false;
    memset(out, 0, sizeof(*out));
    out->hash = h;
    memcpy(out->salt, salt, salt_len);
    out->salt_len = salt_len;
    out->iterations = iterations;
    bool ok = scram_hmac(h, salted, kl, "Client Key", 10, client_key) &&
              scram_digest(h, client_key, kl, out->stored_key) &&
              scram_hmac(h, salted, kl, "Server Key", 10, out->server_key);
    OPENSSL_cleanse(client_key, sizeof(client_key));
    return ok;
}

size_t scram_b64_encode(const uint8_t *in, size_t len, char *out, size_t n)
{
    size_t need = 4 * ((len + 2) / 3) + 1;
    if (need > n || len > INT32_MAX)
        return 0;
    int w = EVP_EncodeBlock((unsigned char *)out, in, (int)len);
    return w < 0 ? 0 : (size_t)w;
}

long scram_b64_decode(const char *in, size_t len, uint8_t *out, size_t n)
{
    if (len % 4 != 0 || len > INT32_MAX)
        return -1;
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '+' || c == '/' || (c == '=' && i >= len - 2);
        if (!ok)
            return -1;
    }
    if (in[len - 2] == '=' && in[len - 1] != '=')
        return -1;
    size_t pad = (in[len - 1] == '=') + (in[len - 2] == '=');
    size_t out_len = len / 4 * 3 - pad;
    uint8_t *tmp = malloc(len / 4 * 3);
    if (!tmp)
        return -1;
    int w = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)len);
    long rc = -1;
    if (w >= 0 && (size_t)w == len / 4 * 3 && out_len <= n) {
        memcpy(out, tmp, out_len);
        rc = (long)out_len;
    }
    free(tmp);
    return rc;
}

size_t scram_cred_format(const struct scram_cred *c, char *out, size_t n)
{
    char salt[4 * SCRAM_SALT_MAX / 3 + 8], sk[4 * SCRAM_KEY_MAX / 3 + 8],
        vk[4 * SCRAM_KEY_MAX / 3 + 8];
    size_t kl = scram_key_len(c->hash);
    if (!scram_b64_encode(c->salt, c->salt_len, salt, sizeof(salt)) ||
        !scram_b64_encode(c->stored_key, kl, sk, sizeof(sk)) ||
        !scram_b64_encode(c->server_key, kl, vk, sizeof(vk)))
        return 0;
    int w = snprintf(out, n, "salt=%s,stored_key=%s,server_key=%s,iterations=%d", salt, sk, vk,
                     (int)c->iterations);
    return w < 0 || (size_t)w >= n ? 0 : (size_t)w;
}

/* Finds "key=" among the comma-separated attributes of text[0..len);
 * returns a view of its value. */
static bool attr_find(const char *text, size_t len, const char *key, const char **val,
                      size_t *val_len)
{
    size_t kl = strlen(key);
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && text[j] != ',')
            j++;
        if (j - i > kl && memcmp(text + i, key, kl) == 0 && text[i + kl] == '=') {
            *val = text + i + kl + 1;
            *val_len = j - i - kl - 1;
            return true;
        }
        i = j + 1;
    }
    return false;
}

bool scram_cred_parse(enum scram_hash h, const char *text, size_t len, struct scram_cred *out)
{
    const char *v;
    size_t vl;
    size_t kl = scram_key_len(h);
    memset(out, 0, sizeof(*out));
    out->hash = h;
    long got;
    if (!attr_find(text, len, "salt", &v, &vl) ||
        (got = scram_b64_decode(v, vl, out->salt, sizeof(out->salt))) <= 0)
        return false;
    out->salt_len = (size_t)got;
    if (!attr_find(text, len, "stored_key", &v, &vl) ||
        scram_b64_decode(v, vl, out->stored_key, sizeof(out->stored_key)) != (long)kl)
        return false;
    if (!attr_find(text, len, "server_key", &v, &vl) ||
        scram_b64_decode(v, vl, out->server_key, sizeof(out->server_key)) != (long)kl)
        return false;
    if (!attr_find(text, len, "iterations", &v, &vl) || vl == 0 || vl > 9)
        return false;
    int32_t it = 0;
    for (size_t i = 0; i < vl; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        it = it * 10 + (v[i] - '0');
    }
    if (it < 1)
        return false;
    out->iterations = it;
    return true;
}

void scram_server_init(struct scram_server *s, enum scram_hash h)
{
    memset(s, 0, sizeof(*s));
    s->hash = h;
}

static enum sasl_step fail(char *error, size_t errlen, const char *why)
{
    snprintf(error, errlen, "%s", why);
    return SASL_STEP_FAIL;
}

/* Decodes a saslname ("=2C" -> ',', "=3D" -> '='); false on a bad escape
 * or if it does not fit. */
static bool saslname_decode(const char *in, size_t len, char *out, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '=') {
            if (i + 3 <= len && memcmp(in + i, "=2C", 3) == 0)
                c = ',';
            else if (i + 3 <= len && memcmp(in + i, "=3D", 3) == 0)
                c = '=';
            else
                return false;
            i += 2;
        } else if (c == ',' || c == '\0') {
            return false;
        }
        if (o + 1 >= n)
            return false;
        out[o++] = c;
    }
    out[o] = '\0';
    return o > 0;
}

static bool printable_nonce(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] < 0x21 || p[i] > 0x7e || p[i] == ',')
            return false;
    return len > 0;
}

static enum sasl_step scram_client_first(struct scram_server *s, const char *m, size_t len,
                                         scram_lookup_fn lookup, void *arg,
                                         const char *server_nonce, char *out, size_t n,
                                         size_t *out_len, char *error, size_t errlen)
{
    /* gs2-header: "n," or "y," then optional "a=authzid", then "," */
    if (len < 3 || (m[0] != 'n' && m[0] != 'y') || m[1] != ',')
        return fail(error, errlen,
                    len >= 1 && m[0] == 'p' ? "channel binding is not supported"
                                            : "malformed client-first message");
    size_t i = 2;
    const char *authz = NULL;
    size_t authz_len = 0;
    if (m[i] == 'a' && i + 1 < len && m[i + 1] == '=') {
        authz = m + i + 2;
        while (i < len && m[i] != ',')
            i++;
        authz_len = (size_t)(m + i - authz);
    }
    if (i >= len || m[i] != ',')
        return fail(error, errlen, "malformed client-first message");
    i++;
    const char *bare = m + i;
    size_t bare_len = len - i;
    if (bare_len >= sizeof(s->client_first_bare))
        return fail(error, errlen, "client-first message too long");
    /* "n=user,r=nonce[,extensions]" */
    if (bare_len < 2 || memcmp(bare, "n=", 2) != 0)
        return fail(error, errlen, "malformed client-first message");
    size_t j = 2;
    while (j < bare_len && bare[j] != ',')
        j++;
    if (!saslname_decode(bare + 2, j - 2, s->user, sizeof(s->user)))
        return fail(error, errlen, "malformed user name");
    if (j + 2 >= bare_len || memcmp(bare + j, ",r=", 3) != 0)
        return fail(error, errlen, "malformed client-first message");
    const char *cn = bare + j + 3;
    size_t k = j + 3;
    while (k < bare_len && bare[k] != ',')
        k++;
    size_t cn_len = (size_t)(bare + k - cn);
    if (!printable_nonce(cn, cn_len) || cn_len > 64)
        return fail(error, errlen, "malformed client nonce");
    if (authz) {
        char az[256];
        if (!saslname_decode(authz, authz_len, az, sizeof(az)) || strcmp(az, s->user) != 0)
            return fail(error, errlen, "authorization id must be the user name");
    }
    if (!lookup || !lookup(arg, s->user, s->hash, &s->cred))
        return fail(error, errlen, "Authentication failed: Invalid user credentials");
    char snonce[64];
    if (server_nonce) {
        snprintf(snonce, sizeof(snonce), "%s", server_nonce);
    } else {
        uint8_t rnd[24];
        if (RAND_bytes(rnd, sizeof(rnd)) != 1 ||
            !scram_b64_encode(rnd, sizeof(rnd), snonce, sizeof(snonce)))
            return fail(error, errlen, "no random bytes");
    }
    snprintf(s->nonce, sizeof(s->nonce), "%.*s%s", (int)cn_len, cn, snonce);
    memcpy(s->client_first_bare, bare, bare_len);
    s->client_first_bare[bare_len] = '\0';
    char salt[4 * SCRAM_SALT_MAX / 3 + 8];
    if (!scram_b64_encode(s->cred.salt, s->cred.salt_len, salt, sizeof(salt)))
        return fail(error, errlen, "bad stored salt");
    int w = snprintf(s->server_first, sizeof(s->server_first), "r=%s,s=%s,i=%d", s->nonce, salt,
                     (int)s->cred.iterations);
    if (w < 0 || (size_t)w >= sizeof(s->server_first) || (size_t)w > n)
        return fail(error, errlen, "server-first message too long");
    memcpy(out, s->server_first, (size_t)w);
    *out_len = (size_t)w;
    s->state = 1;
    return SASL_STEP_CONTINUE;
}

static enum sasl_step scram_client_final(struct scram_server *s, const char *m, size_t len,
                                         char *out, size_t n, size_t *out_len, char *error,
                                         size_t errlen)
{
    enum scram_hash h = s->hash;
    size_t kl = scram_key_len(h);
    /* "c=<b64 gs2 header>,r=<nonce>[,ext...],p=<proof>"; p is last */
    const char *p = NULL;
    for (size_t i = len; i >= 3; i--) {
        if (memcmp(m + i - 3, ",p=", 3) == 0) {
            p = m + i - 3;
            break;
        }
    }
    if (!p)
        return fail(error, errlen, "malformed client-final message");
    size_t without_proof = (size_t)(p - m);
    const char *v;
    size_t vl;
    if (!attr_find(m, without_proof, "c", &v, &vl) || v != m + 2)
        return fail(error, errlen, "malformed client-final message");
    /* we offer no channel binding: "n,," or "y,," (or with an authzid) */
    uint8_t cb[300];
    long cbl = scram_b64_decode(v, vl, cb, sizeof(cb));
    if (cbl < 3 || (cb[0] != 'n' && cb[0] != 'y') || cb[1] != ',' || cb[cbl - 1] != ',')
        return fail(error, errlen, "invalid channel binding");
    /* the nonce must end with the one we sent: Kafka accepts a longer one
     * because librdkafka sends its own nonce again in front of it */
    size_t nl = strlen(s->nonce);
    if (!attr_find(m, without_proof, "r", &v, &vl) || vl < nl ||
        memcmp(v + vl - nl, s->nonce, nl) != 0)
        return fail(error, errlen, "invalid nonce");
    uint8_t proof[SCRAM_KEY_MAX];
    const char *pv = p + 3;
    size_t pl = len - without_proof - 3;
    if (scram_b64_decode(pv, pl, proof, sizeof(proof)) != (long)kl)
        return fail(error, errlen, "invalid proof");
    /* AuthMessage = client-first-bare "," server-first "," client-final-without-proof */
    size_t cfb = strlen(s->client_first_bare), sf = strlen(s->server_first);
    size_t am_len = cfb + 1 + sf + 1 + without_proof;
    char *am = malloc(am_len);
    if (!am)
        return fail(error, errlen, "out of memory");
    memcpy(am, s->client_first_bare, cfb);
    am[cfb] = ',';
    memcpy(am + cfb + 1, s->server_first, sf);
    am[cfb + 1 + sf] = ',';
    memcpy(am + cfb + 2 + sf, m, without_proof);
    uint8_t client_sig[SCRAM_KEY_MAX], client_key[SCRAM_KEY_MAX], stored[SCRAM_KEY_MAX],
        server_sig[SCRAM_KEY_MAX];
    bool ok = scram_hmac(h, s->cred.stored_key, kl, am, am_len, client_sig) &&
              scram_hmac(h, s->cred.server_key, kl, am, am_len, server_sig);
    free(am);
    if (!ok)
        return fail(error, errlen, "hmac failed");
    for (size_t i = 0; i < kl; i++)
        client_key[i] = proof[i] ^ client_sig[i];
    if (!scram_digest(h, client_key, kl, stored) || !scram_ct_equal(stored, s->cred.stored_key, kl))
        return fail(error, errlen, "Authentication failed: Invalid user credentials");
    char sig[4 * SCRAM_KEY_MAX / 3 + 8];
    if (!scram_b64_encode(server_sig, kl, sig, sizeof(sig)))
        return fail(error, errlen, "encoding failed");
    int w = snprintf(out, n, "v=%s", sig);
    if (w < 0 || (size_t)w >= n)
        return fail(error, errlen, "server-final message too long");
    *out_len = (size_t)w;
    s->state = 2;
    return SASL_STEP_DONE;
}

enum sasl_step scram_server_step(struct scram_server *s, const uint8_t *in, size_t len,
                                 scram_lookup_fn lookup, void *lookup_arg, const char *server_nonce,
                                 char *out, size_t n, size_t *out_len, char *error, size_t errlen)
{
    *out_len = 0;
    const char *m = (const char *)in;
    if (memchr(m, '\0', len))
        return fail(error, errlen, "NUL in SCRAM message");
    enum sasl_step rc;
    if (s->state == 0)
        rc = scram_client_first(s, m, len, lookup, lookup_arg, server_nonce, out, n, out_len, error,
                                errlen);
    else if (s->state == 1)
        rc = scram_client_final(s, m, len, out, n, out_len, error, errlen);
    else
        rc = fail(error, errlen, "SCRAM exchange already complete");
    if (rc == SASL_STEP_FAIL)
        s->state = 3;
    return rc;
}
