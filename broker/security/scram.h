/*
 * broker/security/scram.h — SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802,
 * RFC 7677) as Kafka uses them: the stored credential, its text form in
 * ZooKeeper, and the server side of the exchange.
 *
 * Credential text (the value under "SCRAM-SHA-256" in /config/users/<user>,
 * as Kafka writes it): "salt=<b64>,stored_key=<b64>,server_key=<b64>,
 * iterations=<n>". The password is never kept: only
 *   SaltedPassword = PBKDF2-HMAC-H(password, salt, iterations)
 *   StoredKey = H(HMAC(SaltedPassword, "Client Key"))
 *   ServerKey = HMAC(SaltedPassword, "Server Key").
 *
 * Exchange (server side): client-first "n,[a=authzid],n=user,r=cnonce"
 * -> server-first "r=cnonce+snonce,s=salt,i=n"; client-final
 * "c=biws,r=nonce,p=proof" -> server-final "v=signature". Channel binding is
 * not offered ("p=" refused); an authzid other than the user is refused, as
 * Kafka does; the proof is compared in constant time. The client-final
 * nonce must end with the server-first one (Kafka's rule: librdkafka puts
 * its own nonce in front again).
 *
 * Threads: none shared; a struct scram_server belongs to one connection.
 */
#ifndef GREGOR_BROKER_SECURITY_SCRAM_H
#define GREGOR_BROKER_SECURITY_SCRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum scram_hash { SCRAM_SHA_256 = 0, SCRAM_SHA_512 = 1 };

#define SCRAM_N_HASHES 2
#define SCRAM_KEY_MAX 64  /* SHA-512 output */
#define SCRAM_SALT_MAX 64 /* bytes of salt accepted */
#define SCRAM_MIN_ITERATIONS 4096
#define SCRAM_MAX_ITERATIONS 16384 /* Kafka's bounds */
#define SCRAM_USER_MAX 240         /* bytes of a user name, with its NUL */

struct scram_cred {
    enum scram_hash hash;
    uint8_t salt[SCRAM_SALT_MAX];
    size_t salt_len;
    uint8_t stored_key[SCRAM_KEY_MAX];
    uint8_t server_key[SCRAM_KEY_MAX];
    int32_t iterations;
};

/* "SCRAM-SHA-256" / "SCRAM-SHA-512". */
const char *scram_mech_name(enum scram_hash h);
/* Parses a mechanism name (exact, upper case). */
bool scram_mech_parse(const char *name, size_t len, enum scram_hash *out);
/* Digest length in bytes (32 or 64). */
size_t scram_key_len(enum scram_hash h);

/* SaltedPassword; out holds scram_key_len(h) bytes. */
bool scram_salted_password(enum scram_hash h, const char *password, size_t pw_len,
                           const uint8_t *salt, size_t salt_len, int32_t iterations, uint8_t *out);
/* Derives the stored credential from a salted password (what
 * AlterUserScramCredentials carries). */
bool scram_cred_from_salted(enum scram_hash h, const uint8_t *salt, size_t salt_len,
                            const uint8_t *salted, size_t salted_len, int32_t iterations,
                            struct scram_cred *out);

/* Writes the credential's text form; returns its length, or 0 if n is short. */
size_t scram_cred_format(const struct scram_cred *c, char *out, size_t n);
/* Parses the text form for hash h; false on anything malformed. */
bool scram_cred_parse(enum scram_hash h, const char *text, size_t len, struct scram_cred *out);

/* Base64 (RFC 4648, padded). enc: returns the length written (with NUL),
 * 0 if n is short. dec: returns the bytes written, -1 on bad input or
 * if n is short. */
size_t scram_b64_encode(const uint8_t *in, size_t len, char *out, size_t n);
long scram_b64_decode(const char *in, size_t len, uint8_t *out, size_t n);

/* Looks up the credential of user for hash h; false if there is none. */
typedef bool (*scram_lookup_fn)(void *arg, const char *user, enum scram_hash h,
                                struct scram_cred *out);

enum sasl_step {
    SASL_STEP_CONTINUE = 0, /* send the response, expect another token */
    SASL_STEP_DONE = 1,     /* authenticated: send the response (may be empty) */
    SASL_STEP_FAIL = -1,    /* authentication failed: error says why */
};

struct scram_server {
    enum scram_hash hash;
    int state; /* 0: expects client-first; 1: client-final; 2: done */
    char user[SCRAM_USER_MAX];
    char nonce[160];             /* client nonce + server nonce */
    char client_first_bare[512]; /* for the AuthMessage */
    char server_first[512];
    struct scram_cred cred;
};

void scram_server_init(struct scram_server *s, enum scram_hash h);
/*
 * Takes the next client message in[0..len) and writes the reply into out
 * (size n, *out_len its length). server_nonce: the server's nonce part, or
 * NULL for 24 random bytes (tests pass RFC 7677's). error (size errlen) gets
 * the reason on SASL_STEP_FAIL. The user name, once known, is s->user.
 */
enum sasl_step scram_server_step(struct scram_server *s, const uint8_t *in, size_t len,
                                 scram_lookup_fn lookup, void *lookup_arg, const char *server_nonce,
                                 char *out, size_t n, size_t *out_len, char *error, size_t errlen);

/* Constant-time comparison of a[0..n) and b[0..n). */
bool scram_ct_equal(const uint8_t *a, const uint8_t *b, size_t n);

#endif
