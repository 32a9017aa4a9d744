/*
 * common/sasl_cli.h — the client side of SASL PLAIN (RFC 4616) and
 * SCRAM-SHA-256/512 (RFC 5802, RFC 7677) as a pure state machine: it makes
 * the tokens to send and checks the server's; the caller carries them
 * (SaslHandshake v1 + SaslAuthenticate, docs/protocol.md §6.12). Used by
 * the CLI's raw client (cli/kraw.c).
 *
 * PLAIN: one token "\0user\0password"; the server's (empty) reply ends it.
 * SCRAM: client-first "n,,n=user,r=cnonce" (24 random bytes, base64);
 * client-final with the proof; the server-final's signature is verified.
 *
 * Threads: a struct sasl_cli belongs to one thread.
 */
#ifndef GREGOR_COMMON_SASL_CLI_H
#define GREGOR_COMMON_SASL_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sasl_cli {
    int mech;  /* 0 PLAIN, 1 SCRAM-SHA-256, 2 SCRAM-SHA-512 */
    int state; /* 0 first token, 1 expects server-first / PLAIN's reply, 2 server-final, 3 done */
    char user[256];
    char password[256];
    char cnonce[64];
    char client_first_bare[600];
    char server_sig_b64[100];
};

/* Sets up an exchange for mechanism ("PLAIN", "SCRAM-SHA-256",
 * "SCRAM-SHA-512", any case). false for another mechanism or a long name. */
bool sasl_cli_init(struct sasl_cli *c, const char *mechanism, const char *user,
                   const char *password);
/* The canonical name of c's mechanism. */
const char *sasl_cli_mechanism(const struct sasl_cli *c);
/*
 * Takes the server's last token (in, len; NULL before the first) and writes
 * the next token to send into out (size n). Returns 1 with a token to send,
 * 0 when the exchange is complete and verified, -1 on an error (why).
 */
int sasl_cli_step(struct sasl_cli *c, const uint8_t *in, size_t len, uint8_t *out, size_t n,
                  size_t *out_len, char *why, size_t whylen);
/* Wipes the password. */
void sasl_cli_done(struct sasl_cli *c);

#endif
