/*
 * common/loop/peer_tls.c — the inter-broker TLS client context and the
 * OpenSSL context settings shared with the listeners (common/loop/peer_tls.h).
 *
 * Formats read: a keystore is one PEM file with the certificate chain
 * (leaf first) and the private key; a truststore a PEM bundle of CA
 * certificates.
 *
 * Threads: peer_tls_configure() runs once at start, before any loop
 * connects. A context never changes once built: peer_tls_reload() builds a
 * new one and swaps the pointer under peer_lock; peer_bufferevent_new()
 * takes a reference under that lock, so SSL_new() (safe from several loops
 * at once on an unchanging OpenSSL 3 context) never meets a freed one.
 */
#include "common/loop/peer_tls.h"

#include <arpa/inet.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/evperr.h>
#include <openssl/pemerr.h>
#include <openssl/proverr.h>
#include <openssl/x509err.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static pthread_mutex_t peer_lock = PTHREAD_MUTEX_INITIALIZER;
static SSL_CTX *peer_ctx; /* peer_lock; NULL = plaintext */
/* The settings the context was built from (copies) and the files' stamps
 * then: peer_tls_configure() and peer_tls_reload() only. */
static struct peer_tls_config peer_cfg;
static struct tls_file_stamp peer_ks_stamp, peer_ts_stamp;

void tls_file_stamp(const char *path, struct tls_file_stamp *st)
{
    struct stat sb;
    memset(st, 0, sizeof(*st));
    if (!path || stat(path, &sb) != 0)
        return;
    st->present = true;
    st->dev = sb.st_dev;
    st->ino = sb.st_ino;
    st->size = sb.st_size;
    st->mtime = sb.st_mtim;
    st->ctime = sb.st_ctim;
}

bool tls_file_stamp_eq(const struct tls_file_stamp *a, const struct tls_file_stamp *b)
{
    return a->present == b->present && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
           a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

const char *tls_last_error(char *buf, size_t n)
{
    unsigned long e, last = 0;
    while ((e = ERR_get_error()) != 0)
        last = e;
    if (last)
        ERR_error_string_n(last, buf, n);
    else
        snprintf(buf, n, "no OpenSSL error recorded");
    return buf;
}

/* Hands OpenSSL ssl.key.password for an encrypted key; never prompts. */
static int password_cb(char *buf, int size, int rwflag, void *userdata)
{
    const char *pw = userdata;
    if (!pw)
        return 0;
    int len = (int)strlen(pw);
    if (len > size)
        return 0;
    memcpy(buf, pw, (size_t)len);
    return len;
}

bool tls_ctx_set_protocols(SSL_CTX *ctx, const char *list)
{
    bool v12 = strstr(list, "TLSv1.2") != NULL, v13 = strstr(list, "TLSv1.3") != NULL;
    int lo = v12 ? TLS1_2_VERSION : TLS1_3_VERSION, hi = v13 ? TLS1_3_VERSION : TLS1_2_VERSION;
    return SSL_CTX_set_min_proto_version(ctx, lo) && SSL_CTX_set_max_proto_version(ctx, hi);
}

static bool is_tls13_suite(const char *name)
{
    return strncmp(name, "TLS_AES_", 8) == 0 || strncmp(name, "TLS_CHACHA20_", 13) == 0;
}

/* ssl.cipher.suites: Kafka users write IANA names (TLS_ECDHE_RSA_WITH_...),
 * OpenSSL users its own (ECDHE-RSA-AES128-GCM-SHA256); both are taken. TLS
 * 1.3 suites go to SSL_CTX_set_ciphersuites(), the rest to the TLS 1.2
 * list. */
bool tls_ctx_set_ciphers(SSL_CTX *ctx, const char *list, char *err, size_t errlen)
{
    size_t cap = strlen(list) * 2 + 1;
    char *v12 = calloc(1, cap), *v13 = calloc(1, cap);
    bool ok = v12 && v13;
    const char *p = list;
    while (ok && *p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char one[128];
        while (len > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len > 0 && len < sizeof(one)) {
            memcpy(one, p, len);
            one[len] = '\0';
            char *dst = is_tls13_suite(one) ? v13 : v12;
            const char *name = one;
            if (!is_tls13_suite(one) && strncmp(one, "TLS_", 4) == 0) {
                name = OPENSSL_cipher_name(one);
                if (!name || strcmp(name, "(NONE)") == 0) {
                    snprintf(err, errlen, "ssl.cipher.suites: unknown cipher suite '%s'", one);
                    ok = false;
                    break;
                }
            }
            if (dst[0])
                strcat(dst, ":");
            strcat(dst, name);
        } else if (len >= sizeof(one)) {
            snprintf(err, errlen, "ssl.cipher.suites: name too long");
            ok = false;
        }
        p += (comma ? (size_t)(comma - p) + 1 : strlen(p));
    }
    char why[96];
    if (ok && v12[0] && SSL_CTX_set_cipher_list(ctx, v12) != 1) {
        snprintf(err, errlen, "ssl.cipher.suites: no usable TLS 1.2 cipher in '%.80s': %s", v12,
                 tls_last_error(why, sizeof(why)));
        ok = false;
    }
    if (ok && v13[0] && SSL_CTX_set_ciphersuites(ctx, v13) != 1) {
        snprintf(err, errlen, "ssl.cipher.suites: bad TLS 1.3 suites '%.80s': %s", v13,
                 tls_last_error(why, sizeof(why)));
        ok = false;
    }
    if (!v12 || !v13)
        snprintf(err, errlen, "out of memory");
    free(v12);
    free(v13);
    return ok;
}

bool tls_ctx_use_keystore(SSL_CTX *ctx, const char *path, const char *password, char *err,
                          size_t errlen)
{
    char why[160];
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(ctx, path) != 1) {
        snprintf(err, errlen, "cannot read the certificate chain of ssl.keystore.location %s: %s",
                 path, tls_last_error(why, sizeof(why)));
        return false;
    }
    SSL_CTX_set_default_passwd_cb(ctx, password_cb);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, (void *)password);
    int rc = SSL_CTX_use_PrivateKey_file(ctx, path, SSL_FILETYPE_PEM);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL); /* password is not ours to keep */
    if (rc != 1) {
        unsigned long e, first = 0;
        bool mismatch = false, decrypt = false;
        while ((e = ERR_get_error()) != 0) {
            int lib = ERR_GET_LIB(e), reason = ERR_GET_REASON(e);
            first = first ? first : e;
            mismatch = mismatch || (lib == ERR_LIB_X509 && reason == X509_R_KEY_VALUES_MISMATCH);
            decrypt = decrypt ||
                      (lib == ERR_LIB_PEM &&
                       (reason == PEM_R_BAD_DECRYPT || reason == PEM_R_BAD_PASSWORD_READ ||
                        reason == PEM_R_PROBLEMS_GETTING_PASSWORD)) ||
                      (lib == ERR_LIB_EVP && reason == EVP_R_BAD_DECRYPT) ||
                      (lib == ERR_LIB_PROV && reason == PROV_R_BAD_DECRYPT);
        }
        if (mismatch) {
            snprintf(err, errlen, "the private key in %s does not match its certificate", path);
            return false;
        }
        ERR_error_string_n(first, why, sizeof(why));
        snprintf(err, errlen, "cannot read the private key of ssl.keystore.location %s%s: %s", path,
                 !decrypt   ? ""
                 : password ? " (is ssl.key.password right?)"
                            : " (an encrypted key needs ssl.key.password)",
                 why);
        return false;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen, "the private key in %s does not match its certificate: %s", path,
                 tls_last_error(why, sizeof(why)));
        return false;
    }
    return true;
}

static bool verify_host_flag; /* ssl.endpoint.identification.algorithm=https; set at start */

/* A client context from c and the files as they are now; NULL with err. */
static SSL_CTX *peer_ctx_build(const struct peer_tls_config *c, char *err, size_t errlen)
{
    char why[256];
    if (!c->truststore) {
        snprintf(err, errlen,
                 "inter-broker TLS needs ssl.truststore.location (the CAs of the other brokers' "
                 "certificates)");
        return NULL;
    }
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        snprintf(err, errlen, "cannot create a TLS context: %s", tls_last_error(why, sizeof(why)));
        return NULL;
    }
    if (!tls_ctx_set_protocols(ctx, c->protocols ? c->protocols : "TLSv1.2,TLSv1.3")) {
        snprintf(err, errlen, "ssl.enabled.protocols: %s", tls_last_error(why, sizeof(why)));
        goto fail;
    }
    if (c->ciphers && c->ciphers[0] && !tls_ctx_set_ciphers(ctx, c->ciphers, err, errlen))
        goto fail;
    if (c->keystore && !tls_ctx_use_keystore(ctx, c->keystore, c->key_password, err, errlen))
        goto fail;
    if (SSL_CTX_load_verify_locations(ctx, c->truststore, NULL) != 1) {
        snprintf(err, errlen, "cannot read CA certificates from ssl.truststore.location %s: %s",
                 c->truststore, tls_last_error(why, sizeof(why)));
        goto fail;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

static void peer_swap(SSL_CTX *ctx)
{
    pthread_mutex_lock(&peer_lock);
    SSL_CTX *old = peer_ctx;
    peer_ctx = ctx;
    pthread_mutex_unlock(&peer_lock);
    SSL_CTX_free(old); /* connections made with it hold their own reference */
}

static void peer_cfg_clear(void)
{
    free((char *)peer_cfg.keystore);
    free((char *)peer_cfg.key_password);
    free((char *)peer_cfg.truststore);
    free((char *)peer_cfg.protocols);
    free((char *)peer_cfg.ciphers);
    memset(&peer_cfg, 0, sizeof(peer_cfg));
}

static char *dup_opt(const char *s) { return s ? strdup(s) : NULL; }

bool peer_tls_configure(const struct peer_tls_config *c, char *err, size_t errlen)
{
    SSL_CTX *ctx = peer_ctx_build(c, err, errlen);
    if (!ctx)
        return false;
    peer_cfg_clear();
    peer_cfg = (struct peer_tls_config){.keystore = dup_opt(c->keystore),
                                        .key_password = dup_opt(c->key_password),
                                        .truststore = dup_opt(c->truststore),
                                        .protocols = dup_opt(c->protocols),
                                        .ciphers = dup_opt(c->ciphers),
                                        .verify_host = c->verify_host};
    tls_file_stamp(c->keystore, &peer_ks_stamp);
    tls_file_stamp(c->truststore, &peer_ts_stamp);
    verify_host_flag = c->verify_host;
    peer_swap(ctx);
    return true;
}

int peer_tls_reload(char *err, size_t errlen)
{
    if (!peer_cfg.truststore)
        return 0; /* no TLS between brokers */
    struct tls_file_stamp ks, ts;
    tls_file_stamp(peer_cfg.keystore, &ks);
    tls_file_stamp(peer_cfg.truststore, &ts);
    if (tls_file_stamp_eq(&ks, &peer_ks_stamp) && tls_file_stamp_eq(&ts, &peer_ts_stamp))
        return 0;
    peer_ks_stamp = ks; /* a bad new file is reported once, not at every look */
    peer_ts_stamp = ts;
    SSL_CTX *ctx = peer_ctx_build(&peer_cfg, err, errlen);
    if (!ctx)
        return -1;
    peer_swap(ctx);
    return 1;
}

void peer_tls_shutdown(void)
{
    peer_swap(NULL);
    peer_cfg_clear();
}

bool peer_tls_enabled(void)
{
    pthread_mutex_lock(&peer_lock);
    bool on = peer_ctx != NULL;
    pthread_mutex_unlock(&peer_lock);
    return on;
}

struct bufferevent *peer_bufferevent_new(struct event_base *base, const char *host)
{
    pthread_mutex_lock(&peer_lock);
    SSL_CTX *ctx = peer_ctx;
    if (ctx)
        SSL_CTX_up_ref(ctx);
    pthread_mutex_unlock(&peer_lock);
    if (!ctx)
        return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    SSL *ssl = SSL_new(ctx);
    SSL_CTX_free(ctx); /* the session holds its own reference */
    if (!ssl)
        return NULL;
    unsigned char ip[16];
    bool literal = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
    if (!literal)
        SSL_set_tlsext_host_name(ssl, host); /* SNI: names only */
    if (verify_host_flag) {
        X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
        int ok = literal ? X509_VERIFY_PARAM_set1_ip_asc(vp, host)
                         : X509_VERIFY_PARAM_set1_host(vp, host, 0);
        if (ok != 1) {
            SSL_free(ssl);
            return NULL;
        }
    }
    struct bufferevent *bev = bufferevent_openssl_socket_new(
        base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
    if (bev) /* a broker closing without close_notify is a plain EOF */
        bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

bool peer_tls_error(struct bufferevent *bev, char *buf, size_t n)
{
    if (!bufferevent_openssl_get_ssl(bev))
        return false;
    unsigned long e, first = 0;
    while ((e = bufferevent_get_openssl_error(bev)) != 0)
        if (ERR_GET_LIB(e) != 0 && !first)
            first = e;
    if (!first)
        return false;
    ERR_error_string_n(first, buf, n);
    SSL *ssl = bufferevent_openssl_get_ssl(bev);
    long vr = SSL_get_verify_result(ssl);
    if (vr != X509_V_OK) {
        size_t len = strlen(buf);
        snprintf(buf + len, n - len, " (%s)", X509_verify_cert_error_string(vr));
    }
    return true;
}
