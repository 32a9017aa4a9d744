/*
 * tests/unit/broker/test_sasl.c — broker/security/: SCRAM (RFC 7677's
 * SCRAM-SHA-256 exchange byte for byte, a SCRAM-SHA-512 round trip with a
 * client written here, the credential text), the JAAS parser, and the PLAIN
 * and SCRAM sessions of sasl_server.c with their states.
 */
#include <criterion/criterion.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdio.h>
#include <string.h>

#include "broker/security/jaas.h"
#include "broker/security/sasl_server.h"
#include "broker/security/scram.h"
#include "broker/security/scram_store.h"
#include "controller/zk/zk_store.h"
#include "common/api_keys.h"
#include "common/sasl_cli.h"
#include "common/err.h"

/* RFC 7677 §3 */
#define R_SALT "W22ZaJ0SNY7soEsUEjb6gQ=="
#define R_CFIRST "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define R_SNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define R_SFIRST                                                                                   \
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define R_CFINAL                                                                                   \
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+"               \
    "Ute9ytag9zjfMHgs"                                                                             \
    "qmmiz7AndVQ="
#define R_SFINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static struct scram_cred make_cred(enum scram_hash h, const char *pw, const uint8_t *salt,
                                   size_t salt_len, int iterations)
{
    uint8_t salted[SCRAM_KEY_MAX];
    struct scram_cred c;
    cr_assert(scram_salted_password(h, pw, strlen(pw), salt, salt_len, iterations, salted));
    cr_assert(scram_cred_from_salted(h, salt, salt_len, salted, scram_key_len(h), iterations, &c));
    return c;
}

static struct scram_cred rfc_cred;

static bool rfc_lookup(void *arg, const char *user, enum scram_hash h, struct scram_cred *out)
{
    (void)arg;
    if (strcmp(user, "user") != 0 || h != SCRAM_SHA_256)
        return false;
    *out = rfc_cred;
    return true;
}

static enum sasl_step step(struct scram_server *s, const char *in, const char *nonce, char *out,
                           size_t *n, char *why)
{
    return scram_server_step(s, (const uint8_t *)in, strlen(in), rfc_lookup, NULL, nonce, out, 1024,
                             n, why, 256);
}

Test(scram, rfc7677_sha256_exchange)
{
    uint8_t salt[32];
    long sl = scram_b64_decode(R_SALT, strlen(R_SALT), salt, sizeof(salt));
    cr_assert_eq(sl, 16);
    rfc_cred = make_cred(SCRAM_SHA_256, "pencil", salt, (size_t)sl, 4096);
    struct scram_server s;
    scram_server_init(&s, SCRAM_SHA_256);
    char out[1024], why[256];
    size_t n;
    cr_assert_eq(step(&s, R_CFIRST, R_SNONCE, out, &n, why), SASL_STEP_CONTINUE, "%s", why);
    cr_assert_eq(n, strlen(R_SFIRST));
    cr_assert(memcmp(out, R_SFIRST, n) == 0, "%.*s", (int)n, out);
    cr_assert_str_eq(s.user, "user");
    cr_assert_eq(step(&s, R_CFINAL, NULL, out, &n, why), SASL_STEP_DONE, "%s", why);
    cr_assert_eq(n, strlen(R_SFINAL));
    cr_assert(memcmp(out, R_SFINAL, n) == 0, "%.*s", (int)n, out);
}

Test(scram, rfc7677_wrong_proof_and_bad_messages_fail)
{
    uint8_t salt[32];
    long sl = scram_b64_decode(R_SALT, strlen(R_SALT), salt, sizeof(salt));
    rfc_cred = make_cred(SCRAM_SHA_256, "pencil2", salt, (size_t)sl, 4096);
    struct scram_server s;
    char out[1024], why[256];
    size_t n;
    scram_server_init(&s, SCRAM_SHA_256);
    cr_assert_eq(step(&s, R_CFIRST, R_SNONCE, out, &n, why), SASL_STEP_CONTINUE);
    cr_assert_eq(step(&s, R_CFINAL, NULL, out, &n, why), SASL_STEP_FAIL);
    cr_assert(strstr(why, "Invalid user credentials"), "%s", why);
    /* unknown user, channel binding, malformed, wrong nonce */
    const char *bad_first[] = {"n,,n=nobody,r=abc",
                               "p=tls-unique,,n=user,r=abc",
                               "n,,r=abc",
                               "x",
                               "n,a=other,n=user,r=abc",
                               ""};
    for (size_t i = 0; i < sizeof(bad_first) / sizeof(bad_first[0]); i++) {
        scram_server_init(&s, SCRAM_SHA_256);
        cr_assert_eq(step(&s, bad_first[i], R_SNONCE, out, &n, why), SASL_STEP_FAIL, "%s",
                     bad_first[i]);
    }
    scram_server_init(&s, SCRAM_SHA_256);
    cr_assert_eq(step(&s, R_CFIRST, R_SNONCE, out, &n, why), SASL_STEP_CONTINUE);
    cr_assert_eq(step(&s, "c=biws,r=rOprNGfwEbeRWgbNEkqOX,p=AAAA", NULL, out, &n, why),
                 SASL_STEP_FAIL);
    cr_assert(strstr(why, "nonce"), "%s", why);
}

/* A SCRAM client, written from RFC 5802 §3, for the SHA-512 round trip. */
static void client_final(enum scram_hash h, const char *pw, const char *cfirst_bare,
                         const char *sfirst, char *out, size_t n)
{
    const EVP_MD *md = h == SCRAM_SHA_512 ? EVP_sha512() : EVP_sha256();
    size_t kl = scram_key_len(h);
    char nonce[256], salt_b64[128];
    int it = 0;
    cr_assert_eq(sscanf(sfirst, "r=%255[^,],s=%127[^,],i=%d", nonce, salt_b64, &it), 3);
    uint8_t salt[64], salted[64], ckey[64], stored[64], csig[64], proof[64];
    long sl = scram_b64_decode(salt_b64, strlen(salt_b64), salt, sizeof(salt));
    cr_assert(scram_salted_password(h, pw, strlen(pw), salt, (size_t)sl, it, salted));
    unsigned int len;
    HMAC(md, salted, (int)kl, (const uint8_t *)"Client Key", 10, ckey, &len);
    EVP_Digest(ckey, kl, stored, &len, md, NULL);
    char without[512], am[1536];
    snprintf(without, sizeof(without), "c=biws,r=%s", nonce);
    snprintf(am, sizeof(am), "%s,%s,%s", cfirst_bare, sfirst, without);
    HMAC(md, stored, (int)kl, (const uint8_t *)am, strlen(am), csig, &len);
    for (size_t i = 0; i < kl; i++)
        proof[i] = ckey[i] ^ csig[i];
    char pb[128];
    scram_b64_encode(proof, kl, pb, sizeof(pb));
    snprintf(out, n, "%s,p=%s", without, pb);
}

static void scram_round_trip(enum scram_hash h, const char *user_on_wire, const char *user)
{
    const uint8_t salt[] = "0123456789abcdef0123";
    struct scram_cred c = make_cred(h, "s3cr=t,pw", salt, 20, 4096);
    const struct scram_cred *creds[SCRAM_N_HASHES] = {NULL, NULL};
    creds[h] = &c;
    cr_assert(scram_store_put(user, creds));
    struct scram_server s;
    scram_server_init(&s, h);
    char cfirst[300], bare[256], out[1024], fin[1024], why[256];
    size_t n;
    snprintf(bare, sizeof(bare), "n=%s,r=clientnonce123", user_on_wire);
    snprintf(cfirst, sizeof(cfirst), "n,,%s", bare);
    cr_assert_eq(scram_server_step(&s, (const uint8_t *)cfirst, strlen(cfirst), scram_store_lookup,
                                   NULL, NULL, out, sizeof(out), &n, why, sizeof(why)),
                 SASL_STEP_CONTINUE, "%s", why);
    out[n] = '\0';
    cr_assert(strncmp(out, "r=clientnonce123", 16) == 0 && strlen(out) > 40, "%s", out);
    client_final(h, "s3cr=t,pw", bare, out, fin, sizeof(fin));
    cr_assert_eq(scram_server_step(&s, (const uint8_t *)fin, strlen(fin), NULL, NULL, NULL, out,
                                   sizeof(out), &n, why, sizeof(why)),
                 SASL_STEP_DONE, "%s", why);
    cr_assert(n > 2 && memcmp(out, "v=", 2) == 0);
    cr_assert_str_eq(s.user, user);
    /* the other hash has no credential for this user */
    struct scram_cred other;
    cr_assert_not(
        scram_store_get(user, h == SCRAM_SHA_256 ? SCRAM_SHA_512 : SCRAM_SHA_256, &other));
    scram_store_clear();
}

Test(scram, sha512_round_trip) { scram_round_trip(SCRAM_SHA_512, "alice", "alice"); }

Test(scram, sha256_round_trip_with_escaped_user_name)
{
    scram_round_trip(SCRAM_SHA_256, "a=2Cb=3Dc", "a,b=c");
}

Test(scram, credential_text_round_trips)
{
    const uint8_t salt[] = "saltsaltsalt";
    struct scram_cred c = make_cred(SCRAM_SHA_512, "pw", salt, 12, 8192), d;
    char text[512];
    size_t n = scram_cred_format(&c, text, sizeof(text));
    cr_assert(n > 0);
    cr_assert(strncmp(text, "salt=", 5) == 0 && strstr(text, ",iterations=8192"), "%s", text);
    cr_assert(scram_cred_parse(SCRAM_SHA_512, text, n, &d));
    cr_assert_eq(d.iterations, 8192);
    cr_assert_eq(d.salt_len, 12);
    cr_assert(memcmp(d.stored_key, c.stored_key, 64) == 0);
    cr_assert(memcmp(d.server_key, c.server_key, 64) == 0);
    /* a SHA-512 credential is not a SHA-256 one; garbage is refused */
    cr_assert_not(scram_cred_parse(SCRAM_SHA_256, text, n, &d));
    cr_assert_not(scram_cred_parse(SCRAM_SHA_512, "salt=@@@@,iterations=1", 22, &d));
    cr_assert_not(scram_cred_parse(SCRAM_SHA_512, "", 0, &d));
}

Test(jaas, plain_login_module)
{
    struct jaas_config c;
    char err[256];
    cr_assert(jaas_parse("org.apache.kafka.common.security.plain.PlainLoginModule required\n"
                         "  username=\"admin\" password=\"admin-secret\"\n"
                         "  user_admin=\"admin-secret\" user_alice=\"al;ice \\\"q\\\"\"  "
                         "user_bob=bobpw;  ",
                         &c, err, sizeof(err)),
              "%s", err);
    cr_assert_str_eq(c.module, "org.apache.kafka.common.security.plain.PlainLoginModule");
    cr_assert_str_eq(c.flag, "required");
    cr_assert_eq(c.n, 5);
    cr_assert_str_eq(jaas_get(&c, "username"), "admin");
    cr_assert_str_eq(jaas_get(&c, "user_alice"), "al;ice \"q\"");
    cr_assert_str_eq(jaas_get(&c, "user_bob"), "bobpw");
    cr_assert_null(jaas_get(&c, "user_carol"));
    jaas_free(&c);
}

Test(jaas, malformed_texts_are_refused)
{
    const char *bad[] = {"",
                         "Mod",
                         "Mod maybe a=b;",
                         "Mod required a=b",
                         "Mod required a=\"b;",
                         "Mod required a;",
                         "Mod required =b;",
                         "Mod required a=b; Other required;"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct jaas_config c;
        char err[256] = "";
        cr_assert_not(jaas_parse(bad[i], &c, err, sizeof(err)), "accepted: %s", bad[i]);
        cr_assert(err[0] != '\0');
        jaas_free(&c);
    }
}

static struct sasl_listener listener(unsigned mechs)
{
    struct sasl_listener l;
    char err[256];
    memset(&l, 0, sizeof(l));
    snprintf(l.name, sizeof(l.name), "SASL");
    for (int m = 0; m < SASL_N_MECHS; m++) {
        if (mechs & (1u << m)) {
            l.enabled |= 1u << m;
            l.order[l.n_enabled++] = (enum sasl_mech)m;
        }
    }
    cr_assert(jaas_parse("x.PlainLoginModule required user_alice=\"alice-secret\";", &l.plain, err,
                         sizeof(err)));
    l.have_plain = true;
    l.max_receive = 100;
    l.reauth_ms = 1000;
    return l;
}

static enum sasl_step plain(struct sasl_session *s, const char *authz, const char *user,
                            const char *pw, char *why)
{
    uint8_t msg[256];
    size_t n = (size_t)snprintf((char *)msg, sizeof(msg), "%s%c%s%c%s", authz, 0, user, 0, pw);
    char out[64];
    size_t out_len;
    return sasl_session_token(s, msg, n, out, sizeof(out), &out_len, 5000, why, 256);
}

Test(sasl_session, plain_success_gate_and_expiry)
{
    struct sasl_listener l = listener(1u << SASL_MECH_PLAIN);
    struct sasl_session s;
    char why[256];
    sasl_session_init(&s, &l);
    cr_assert_eq(sasl_session_frame_limit(&s, 1000), 100);
    cr_assert(sasl_session_allows(&s, API_API_VERSIONS, 0));
    cr_assert_not(sasl_session_allows(&s, API_METADATA, 0));
    cr_assert_eq(sasl_session_handshake(&s, "SCRAM-SHA-256", 13, 1),
                 KERR_UNSUPPORTED_SASL_MECHANISM);
    cr_assert_eq(sasl_session_handshake(&s, "PLAIN", 5, 1), KERR_NONE);
    cr_assert_eq(plain(&s, "", "alice", "alice-secret", why), SASL_STEP_DONE, "%s", why);
    cr_assert_str_eq(s.principal, "User:alice");
    cr_assert(s.principal_changed);
    cr_assert_eq(sasl_session_frame_limit(&s, 1000), 1000);
    cr_assert(sasl_session_allows(&s, API_METADATA, 5999));
    cr_assert_not(sasl_session_allows(&s, API_METADATA, 6000)); /* 5000 + reauth 1000 */
    /* re-authentication: v1 only, same principal */
    cr_assert_eq(sasl_session_handshake(&s, "PLAIN", 5, 0), KERR_ILLEGAL_SASL_STATE);
    cr_assert_eq(sasl_session_handshake(&s, "PLAIN", 5, 1), KERR_NONE);
    cr_assert_eq(plain(&s, "", "alice", "alice-secret", why), SASL_STEP_DONE, "%s", why);
    jaas_free(&l.plain);
}

Test(sasl_session, plain_failures)
{
    struct sasl_listener l = listener(1u << SASL_MECH_PLAIN);
    struct sasl_session s;
    char why[256];
    const char *cases[][3] = {{"", "alice", "wrong"},
                              {"", "mallory", "alice-secret"},
                              {"bob", "alice", "alice-secret"},
                              {"", "", "x"}};
    for (size_t i = 0; i < 4; i++) {
        sasl_session_init(&s, &l);
        cr_assert_eq(sasl_session_handshake(&s, "PLAIN", 5, 1), KERR_NONE);
        cr_assert_eq(plain(&s, cases[i][0], cases[i][1], cases[i][2], why), SASL_STEP_FAIL);
        cr_assert_eq(s.state, SASL_FAILED);
        cr_assert_not(s.authenticated);
        cr_assert_not(sasl_session_allows(&s, API_METADATA, 0));
    }
    /* a token without a handshake */
    sasl_session_init(&s, &l);
    cr_assert_eq(plain(&s, "", "alice", "alice-secret", why), SASL_STEP_FAIL);
    /* no NULs */
    sasl_session_init(&s, &l);
    cr_assert_eq(sasl_session_handshake(&s, "PLAIN", 5, 0), KERR_NONE);
    cr_assert_eq(s.state, SASL_RAW);
    char out[16];
    size_t ol;
    cr_assert_eq(sasl_session_token(&s, (const uint8_t *)"alice", 5, out, sizeof(out), &ol, 0, why,
                                    sizeof(why)),
                 SASL_STEP_FAIL);
    jaas_free(&l.plain);
}

/* /config/users/<user>: Kafka's JSON (controller/zk/zk_store_users.c). */
Test(zk_users, json_round_trip_and_kafka_form)
{
    struct zk_user_config c, d;
    memset(&c, 0, sizeof(c));
    c.n = 2;
    snprintf(c.key[0], sizeof(c.key[0]), "SCRAM-SHA-256");
    snprintf(c.value[0], sizeof(c.value[0]),
             "salt=c2FsdA==,stored_key=AAAA,server_key=BBBB,iterations=4096");
    snprintf(c.key[1], sizeof(c.key[1]), "consumer_byte_rate");
    snprintf(c.value[1], sizeof(c.value[1]), "q\"uo\\te");
    char buf[2048];
    int n = zk_user_config_encode(&c, buf, sizeof(buf));
    cr_assert(n > 0);
    cr_assert(strncmp(buf, "{\"version\":1,\"config\":{\"SCRAM-SHA-256\":\"salt=c2FsdA==,", 50) ==
                  0,
              "%s", buf);
    memset(&d, 0, sizeof(d));
    cr_assert(zk_user_config_decode(buf, (size_t)n, &d), "%s", buf);
    cr_assert_eq(d.n, 2);
    cr_assert_str_eq(d.value[1], "q\"uo\\te");
    /* as Kafka writes it, with blanks and escapes */
    const char *kafka = " { \"version\" : 1 , \"config\" : { \"SCRAM-SHA-512\" : "
                        "\"salt=a\\/b,iterations=4096\" } } ";
    cr_assert(zk_user_config_decode(kafka, strlen(kafka), &d));
    cr_assert_eq(d.n, 1);
    cr_assert_str_eq(d.value[0], "salt=a/b,iterations=4096");
    const char *bad[] = {"",
                         "{}",
                         "{\"version\":1}",
                         "{\"config\":{\"a\":1}}",
                         "{\"config\":{\"a\":\"b\"}",
                         "{\"config\":{}} x",
                         "[1]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_not(zk_user_config_decode(bad[i], strlen(bad[i]), &d), "%s", bad[i]);
}

/* common/sasl_cli.c (the CLI's SASL client) against the broker's server side. */
Test(sasl_cli, scram_and_plain_against_the_server)
{
    const uint8_t salt[] = "abcdefghijklmnop";
    for (int h = 0; h < SCRAM_N_HASHES; h++) {
        struct scram_cred cred = make_cred((enum scram_hash)h, "pw,=x", salt, 16, 4096);
        const struct scram_cred *creds[SCRAM_N_HASHES] = {NULL, NULL};
        creds[h] = &cred;
        cr_assert(scram_store_put("u=1,2", creds));
        for (int wrong = 0; wrong < 2; wrong++) {
            struct sasl_cli c;
            cr_assert(sasl_cli_init(&c, h ? "scram-sha-512" : "SCRAM-SHA-256", "u=1,2",
                                    wrong ? "bad" : "pw,=x"));
            struct scram_server s;
            scram_server_init(&s, (enum scram_hash)h);
            uint8_t tok[1024];
            char reply[1024], why[256];
            size_t tl, rl = 0;
            int step = sasl_cli_step(&c, NULL, 0, tok, sizeof(tok), &tl, why, sizeof(why));
            enum sasl_step srv = SASL_STEP_CONTINUE;
            while (step == 1 && srv != SASL_STEP_FAIL) {
                srv = scram_server_step(&s, tok, tl, scram_store_lookup, NULL, NULL, reply,
                                        sizeof(reply), &rl, why, sizeof(why));
                if (srv == SASL_STEP_FAIL)
                    break;
                step = sasl_cli_step(&c, (const uint8_t *)reply, rl, tok, sizeof(tok), &tl, why,
                                     sizeof(why));
            }
            if (wrong) {
                cr_assert_eq(srv, SASL_STEP_FAIL);
            } else {
                cr_assert_eq(step, 0, "%s", why);
                cr_assert_eq(srv, SASL_STEP_DONE);
                cr_assert_str_eq(s.user, "u=1,2");
            }
            sasl_cli_done(&c);
        }
        scram_store_clear();
    }
    struct sasl_cli c;
    uint8_t tok[64];
    size_t tl;
    char why[64];
    cr_assert(sasl_cli_init(&c, "PLAIN", "alice", "pw"));
    cr_assert_eq(sasl_cli_step(&c, NULL, 0, tok, sizeof(tok), &tl, why, sizeof(why)), 1);
    cr_assert_eq(tl, 9);
    cr_assert(memcmp(tok, "\0alice\0pw", 9) == 0);
    cr_assert_eq(sasl_cli_step(&c, tok, 0, tok, sizeof(tok), &tl, why, sizeof(why)), 0);
    cr_assert_not(sasl_cli_init(&c, "GSSAPI", "a", "b"));
}
