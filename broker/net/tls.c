/*
 * broker/net/tls.c — one TLS context per SSL / SASL_SSL listener
 * (broker/net/tls.h), built from PEM files with OpenSSL 3, and the
 * principal of a client certificate.
 *
 * Formats read: ssl.keystore.location is a PEM file holding the
 * certificate chain (leaf first) and the private key (PKCS#8 or
 * traditional, encrypted with ssl.key.password or not);
 * ssl.truststore.location is a PEM bundle of CA certificates.
 *
 * Threads: a tls_server lives on the main loop (the one that accepts):
 * tls_server_ssl_new() and the reload timer run there only, so the current
 * context needs no lock. Each SSL holds a reference on the context it was
 * made from, so a reload never pulls a context from under a connection;
 * the principal rules travel with the context (ex_data, freed with it).
 * SSL_CTX objects are safe to share between threads once set up.
 */
#include "broker/net/tls.h"
#include "broker/net/tls_principal.h"
#include "common/loop/peer_tls.h"
#include "common/say.h"

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TLS_DEFAULT_SUITES                                                                         \
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"

struct tls_server {
    char *listener, *keystore, *key_password, *truststore, *client_auth, *protocols, *ciphers,
        *rules;
    SSL_CTX *ctx; /* current; owned (one reference) */
    struct event *timer;
    struct tls_file_stamp ks_stamp, ts_stamp;
    int reloads;
};

static int rules_index = -1; /* SSL_CTX ex_data slot: struct tls_rules * */
static pthread_once_t rules_once = PTHREAD_ONCE_INIT;

static void rules_free_cb(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                          void *argp)
{
    tls_rules_free(ptr);
}

static void rules_index_init(void)
{
    rules_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, rules_free_cb);
}

/* Builds a context from ts's settings and the files as they are now. */
static SSL_CTX *ctx_build(const struct tls_server *ts, char *err, size_t errlen)
{
    char why[256];
    pthread_once(&rules_once, rules_index_init);
    if (!ts->keystore) {
        snprintf(err, errlen, "listener %s: ssl.keystore.location is required for TLS",
                 ts->listener);
        return NULL;
    }
    if (strcmp(ts->client_auth, "none") != 0 && !ts->truststore) {
        snprintf(err, errlen,
                 "listener %s: ssl.client.auth=%s needs ssl.truststore.location (the CAs "
                 "client certificates are checked against)",
                 ts->listener, ts->client_auth);
        return NULL;
    }
    struct tls_rules *rules = tls_rules_parse(ts->rules, why, sizeof(why));
    if (!rules) {
        snprintf(err, errlen, "listener %s: ssl.principal.mapping.rules: %s", ts->listener, why);
        return NULL;
    }
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx || SSL_CTX_set_ex_data(ctx, rules_index, rules) != 1) {
        snprintf(err, errlen, "listener %s: cannot create a TLS context: %s", ts->listener,
                 tls_last_error(why, sizeof(why)));
        tls_rules_free(rules);
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    static const unsigned char sid_ctx[] = "gregor";
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
    if (!tls_ctx_set_protocols(ctx, ts->protocols)) {
        snprintf(err, errlen, "listener %s: ssl.enabled.protocols: %s", ts->listener,
                 tls_last_error(why, sizeof(why)));
        goto fail;
    }
    if (ts->ciphers && ts->ciphers[0] && !tls_ctx_set_ciphers(ctx, ts->ciphers, why, sizeof(why))) {
        snprintf(err, errlen, "listener %s: %s", ts->listener, why);
        goto fail;
    }
    /* without ssl.cipher.suites: OpenSSL's TLS 1.3 suites, AES-128-GCM first
     * (OpenSSL puts AES-256-GCM first, and the server's order decides; the
     * 128-bit key costs both sides less CPU per byte: docs/PERFORMANCE.md §32) */
    if ((!ts->ciphers || !ts->ciphers[0]) &&
        SSL_CTX_set_ciphersuites(ctx, TLS_DEFAULT_SUITES) != 1) {
        snprintf(err, errlen, "listener %s: cannot set the TLS 1.3 suites: %s", ts->listener,
                 tls_last_error(why, sizeof(why)));
        goto fail;
    }
    if (!tls_ctx_use_keystore(ctx, ts->keystore, ts->key_password, why, sizeof(why))) {
        snprintf(err, errlen, "listener %s: %s", ts->listener, why);
        goto fail;
    }
    if (ts->truststore) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ts->truststore);
        if (SSL_CTX_load_verify_locations(ctx, ts->truststore, NULL) != 1 || !names) {
            snprintf(err, errlen,
                     "listener %s: cannot read CA certificates from ssl.truststore.location "
                     "%s: %s",
                     ts->listener, ts->truststore, tls_last_error(why, sizeof(why)));
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            goto fail;
        }
        SSL_CTX_set_client_CA_list(ctx, names);
    }
    int mode = SSL_VERIFY_NONE;
    if (strcmp(ts->client_auth, "requested") == 0)
        mode = SSL_VERIFY_PEER;
    else if (strcmp(ts->client_auth, "required") == 0)
        mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, mode, NULL);
    return ctx;
fail:
    SSL_CTX_free(ctx); /* frees rules through ex_data */
    return NULL;
}

static void reload_cb(evutil_socket_t fd, short what, void *arg)
{
    struct tls_server *ts = arg;
    struct tls_file_stamp ks, tr;
    tls_file_stamp(ts->keystore, &ks);
    tls_file_stamp(ts->truststore, &tr);
    if (tls_file_stamp_eq(&ks, &ts->ks_stamp) && tls_file_stamp_eq(&tr, &ts->ts_stamp))
        return;
    ts->ks_stamp = ks; /* a bad new file is reported once, not every tick */
    ts->ts_stamp = tr;
    char err[512];
    SSL_CTX *ctx = ctx_build(ts, err, sizeof(err));
    if (!ctx) {
        say_error("tls", "certificate files changed but do not load; keeping the old ones: %s",
                  err);
        return;
    }
    SSL_CTX_free(ts->ctx);
    ts->ctx = ctx;
    ts->reloads++;
    say_info("tls", "listener %s: certificates reloaded from %s%s%s", ts->listener, ts->keystore,
             ts->truststore ? " and " : "", ts->truststore ? ts->truststore : "");
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

void tls_server_free(struct tls_server *ts)
{
    if (!ts)
        return;
    if (ts->timer)
        event_free(ts->timer);
    SSL_CTX_free(ts->ctx);
    free(ts->listener);
    free(ts->keystore);
    free(ts->key_password);
    free(ts->truststore);
    free(ts->client_auth);
    free(ts->protocols);
    free(ts->ciphers);
    free(ts->rules);
    free(ts);
}

struct tls_server *tls_server_new(const struct tls_server_config *c, struct event_base *base,
                                  char *err, size_t errlen)
{
    struct tls_server *ts = calloc(1, sizeof(*ts));
    if (!ts) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ts->listener = dup_or_null(c->listener);
    ts->keystore = dup_or_null(c->keystore);
    ts->key_password = dup_or_null(c->key_password);
    ts->truststore = dup_or_null(c->truststore);
    ts->client_auth = dup_or_null(c->client_auth ? c->client_auth : "none");
    ts->protocols = dup_or_null(c->protocols ? c->protocols : "TLSv1.2,TLSv1.3");
    ts->ciphers = dup_or_null(c->ciphers);
    ts->rules = dup_or_null(c->principal_rules ? c->principal_rules : "DEFAULT");
    if (!ts->listener || !ts->client_auth || !ts->protocols || !ts->rules) {
        snprintf(err, errlen, "out of memory");
        tls_server_free(ts);
        return NULL;
    }
    tls_file_stamp(ts->keystore, &ts->ks_stamp);
    tls_file_stamp(ts->truststore, &ts->ts_stamp);
    ts->ctx = ctx_build(ts, err, errlen);
    if (!ts->ctx) {
        tls_server_free(ts);
        return NULL;
    }
    if (c->reload_ms > 0) {
        ts->timer = event_new(base, -1, EV_PERSIST, reload_cb, ts);
        struct timeval tv = {c->reload_ms / 1000, (c->reload_ms % 1000) * 1000};
        if (!ts->timer || event_add(ts->timer, &tv) != 0) {
            snprintf(err, errlen, "out of memory");
            tls_server_free(ts);
            return NULL;
        }
    }
    return ts;
}

SSL *tls_server_ssl_new(struct tls_server *ts)
{
    SSL *ssl = SSL_new(ts->ctx);
    if (!ssl) {
        char why[256];
        say_error("tls", "listener %s: cannot create a TLS session: %s", ts->listener,
                  tls_last_error(why, sizeof(why)));
    }
    return ssl;
}

int tls_server_reloads(const struct tls_server *ts) { return ts->reloads; }

bool tls_subject_dn(X509 *cert, char *out, size_t n)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio)
        return false;
    /* XN_FLAG_RFC2253: reversed (most specific first), "," without spaces,
     * RFC 2253 escapes, as Java's X500Principal.getName() */
    bool ok = X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0;
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    ok = ok && len >= 0 && (size_t)len < n;
    if (ok) {
        memcpy(out, data, (size_t)len);
        out[len] = '\0';
    }
    BIO_free(bio);
    return ok;
}

int tls_peer_principal(SSL *ssl, char *out, size_t n)
{
    X509 *cert = SSL_get1_peer_certificate(ssl);
    if (!cert)
        return 0;
    char dn[1024], name[1024];
    bool ok = tls_subject_dn(cert, dn, sizeof(dn));
    X509_free(cert);
    if (!ok) {
        snprintf(out, n, "(subject too long)");
        return -1;
    }
    const struct tls_rules *rules = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), rules_index);
    if (!rules || !tls_rules_apply(rules, dn, name, sizeof(name))) {
        snprintf(out, n, "%s", dn);
        return -1;
    }
    snprintf(out, n, "User:%s", name);
    return 1;
}
