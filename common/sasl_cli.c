/*
 * common/sasl_cli.c — SASL PLAIN and SCRAM-SHA-256/512 client exchanges
 * (sasl_cli.h), on OpenSSL's PBKDF2, HMAC, SHA-2 and RAND_bytes.
 */
#include "common/sasl_cli.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const sc_names[] = {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"};

bool sasl_cli_init(struct sasl_cli *c, const char *mechanism, const char *user,
                   const char *password)
{
    memset(c, 0, sizeof(*c));
    c->mech = -1;
    for (int m = 0; m < 3; m++)
        if (strcasecmp(mechanism, sc_names[m]) == 0)
            c->mech = m;
    if (c->mech < 0 || strlen(user) >= sizeof(c->user) || strlen(password) >= sizeof(c->password) ||
        !user[0])
        return false;
    snprintf(c->user, sizeof(c->user), "%s", user);
    snprintf(c->password, sizeof(c->password), "%s", password);
    return true;
}

const char *sasl_cli_mechanism(const struct sasl_cli *c) { return sc_names[c->mech]; }

void sasl_cli_done(struct sasl_cli *c) { OPENSSL_cleanse(c, sizeof(*c)); }

static int sc_fail(struct sasl_cli *c, char *why, size_t whylen, const char *msg)
{
    snprintf(why, whylen, "%s", msg);
    c->state = 4;
    return -1;
}

/* The value of attribute `key` ("r", "s", ...) in a SCRAM message, copied
 * into out (size n). */
static bool sc_attr(const char *m, size_t len, char key, char *out, size_t n)
{
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && m[j] != ',')
            j++;
        if (j - i >= 2 && m[i] == key && m[i + 1] == '=') {
            size_t vl = j - i - 2;
            if (vl >= n)
                return false;
            memcpy(out, m + i + 2, vl);
            out[vl] = '\0';
            return true;
        }
        i = j + 1;
    }
    return false;
}

static int sc_scram_final(struct sasl_cli *c, const uint8_t *in, size_t len, uint8_t *out, size_t n,
                          size_t *out_len, char *why, size_t whylen)
{
    const EVP_MD *md = c->mech == 2 ? EVP_sha512() : EVP_sha256();
    int kl = c->mech == 2 ? 64 : 32;
    const char *m = (const char *)in;
    char nonce[200], salt_b64[200], iters[16];
    if (sc_attr(m, len, 'e', nonce, sizeof(nonce)))
        return sc_fail(c, why, whylen, "the server refused the SCRAM exchange");
    if (!sc_attr(m, len, 'r', nonce, sizeof(nonce)) ||
        !sc_attr(m, len, 's', salt_b64, sizeof(salt_b64)) ||
        !sc_attr(m, len, 'i', iters, sizeof(iters)))
        return sc_fail(c, why, whylen, "malformed SCRAM server-first message");
    size_t cl = strlen(c->cnonce);
    if (strlen(nonce) <= cl || memcmp(nonce, c->cnonce, cl) != 0)
        return sc_fail(c, why, whylen, "SCRAM server nonce does not extend ours");
    int it = atoi(iters);
    uint8_t salt[160];
    size_t sl = strlen(salt_b64);
    if (it < 1 || it > 1000000 || sl == 0 || sl % 4 != 0 || sl / 4 * 3 > sizeof(salt))
        return sc_fail(c, why, whylen, "bad SCRAM salt or iteration count");
    int got = EVP_DecodeBlock(salt, (const unsigned char *)salt_b64, (int)sl);
    if (got < 0)
        return sc_fail(c, why, whylen, "bad SCRAM salt");
    got -= (salt_b64[sl - 1] == '=') + (salt_b64[sl - 2] == '=');
    uint8_t salted[64], ckey[64], stored[64], csig[64], skey[64], ssig[64], proof[64];
    unsigned int ol;
    char without[300], am[1600];
    snprintf(without, sizeof(without), "c=biws,r=%s", nonce);
    int aml = snprintf(am, sizeof(am), "%s,%.*s,%s", c->client_first_bare, (int)len, m, without);
    if (aml < 0 || (size_t)aml >= sizeof(am))
        return sc_fail(c, why, whylen, "SCRAM message too long");
    bool ok = PKCS5_PBKDF2_HMAC(c->password, (int)strlen(c->password), salt, got, it, md, kl,
                                salted) == 1 &&
              HMAC(md, salted, kl, (const uint8_t *)"Client Key", 10, ckey, &ol) &&
              EVP_Digest(ckey, (size_t)kl, stored, &ol, md, NULL) == 1 &&
              HMAC(md, stored, kl, (const uint8_t *)am, (size_t)aml, csig, &ol) &&
              HMAC(md, salted, kl, (const uint8_t *)"Server Key", 10, skey, &ol) &&
              HMAC(md, skey, kl, (const uint8_t *)am, (size_t)aml, ssig, &ol);
    if (!ok)
        return sc_fail(c, why, whylen, "SCRAM computation failed");
    for (int i = 0; i < kl; i++)
        proof[i] = ckey[i] ^ csig[i];
    char pb[100];
    EVP_EncodeBlock((unsigned char *)pb, proof, kl);
    EVP_EncodeBlock((unsigned char *)c->server_sig_b64, ssig, kl);
    OPENSSL_cleanse(salted, sizeof(salted));
    OPENSSL_cleanse(ckey, sizeof(ckey));
    int w = snprintf((char *)out, n, "%s,p=%s", without, pb);
    if (w < 0 || (size_t)w >= n)
        return sc_fail(c, why, whylen, "SCRAM message too long");
    *out_len = (size_t)w;
    c->state = 2;
    return 1;
}

int sasl_cli_step(struct sasl_cli *c, const uint8_t *in, size_t len, uint8_t *out, size_t n,
                  size_t *out_len, char *why, size_t whylen)
{
    *out_len = 0;
    if (c->state == 0 && c->mech == 0) {
        size_t ul = strlen(c->user), pl = strlen(c->password);
        if (ul + pl + 2 > n)
            return sc_fail(c, why, whylen, "credentials too long");
        out[0] = '\0';
        memcpy(out + 1, c->user, ul);
        out[1 + ul] = '\0';
        memcpy(out + 2 + ul, c->password, pl);
        *out_len = ul + pl + 2;
        c->state = 1;
        return 1;
    }
    if (c->state == 0) {
        uint8_t rnd[24];
        if (RAND_bytes(rnd, sizeof(rnd)) != 1)
            return sc_fail(c, why, whylen, "no random bytes");
        EVP_EncodeBlock((unsigned char *)c->cnonce, rnd, sizeof(rnd));
        /* saslname: ',' and '=' escaped */
        char name[480];
        size_t k = 0;
        for (const char *p = c->user; *p && k + 4 < sizeof(name); p++) {
            if (*p == ',')
                k += (size_t)snprintf(name + k, sizeof(name) - k, "=2C");
            else if (*p == '=')
                k += (size_t)snprintf(name + k, sizeof(name) - k, "=3D");
            else
                name[k++] = *p;
        }
        name[k] = '\0';
        snprintf(c->client_first_bare, sizeof(c->client_first_bare), "n=%s,r=%s", name, c->cnonce);
        int w = snprintf((char *)out, n, "n,,%s", c->client_first_bare);
        if (w < 0 || (size_t)w >= n)
            return sc_fail(c, why, whylen, "SCRAM message too long");
        *out_len = (size_t)w;
        c->state = 1;
        return 1;
    }
    if (c->state == 1 && c->mech == 0) {
        c->state = 3;
        return 0;
    }
    if (c->state == 1)
        return sc_scram_final(c, in ? in : (const uint8_t *)"", in ? len : 0, out, n, out_len, why,
                              whylen);
    if (c->state == 2) {
        char v[120];
        if (!in || !sc_attr((const char *)in, len, 'v', v, sizeof(v)) ||
            CRYPTO_memcmp(v, c->server_sig_b64, strlen(c->server_sig_b64) + 1) != 0)
            return sc_fail(c, why, whylen, "the server's SCRAM signature does not verify");
        c->state = 3;
        return 0;
    }
    return sc_fail(c, why, whylen, "SASL exchange already finished");
}
