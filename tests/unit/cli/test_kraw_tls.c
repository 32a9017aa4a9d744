/*
 * tests/unit/cli/test_kraw_tls.c — the raw client's TLS (cli/kraw.c,
 * kraw_set_tls()) against a real OpenSSL server in a thread of this test,
 * with certificates made by deploy/make-certs.sh: a trusted certificate
 * passes, an untrusted one, a host name or address not in it, a key that
 * does not match its certificate, a missing CA file and a plaintext server
 * each fail with a reason that names the cause; ssl.endpoint.identification
 * .algorithm=none accepts the address; a client certificate reaches the
 * server. The exchange over the session (SSL_read / SSL_write) is exercised
 * by integration_secure_cluster.
 */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "cli/kraw.h"

static char certs[256];
static int tls_fd = -1, plain_fd = -1;
static int tls_port, plain_port;
static SSL_CTX *server_ctx;
static pthread_t tls_thread, plain_thread;
static char peer_subject[256]; /* the last client certificate's subject, or "" */
static atomic_int peer_seen;

static char *cert_path(const char *name)
{
    static char buf[4][300];
    static int i;
    char *p = buf[i++ % 4];
    snprintf(p, 300, "%s/%s", certs, name);
    return p;
}

/* A listening socket on 127.0.0.1 and an ephemeral port (bound by the kernel, no race). */
static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY)};
    cr_assert(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    cr_assert(listen(fd, 16) == 0);
    socklen_t len = sizeof(a);
    cr_assert(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* Accepts connections, runs the TLS handshake (a client certificate is asked
 * for, not required) and records the client's subject; reads to EOF. */
static void *tls_server(void *arg)
{
    (void)arg;
    for (;;) {
        int c = accept(tls_fd, NULL, NULL);
        if (c < 0)
            return NULL;
        SSL *ssl = SSL_new(server_ctx);
        SSL_set_fd(ssl, c);
        if (SSL_accept(ssl) == 1) {
            X509 *peer = SSL_get1_peer_certificate(ssl);
            peer_subject[0] = 0;
            if (peer) {
                X509_NAME_oneline(X509_get_subject_name(peer), peer_subject, sizeof(peer_subject));
                X509_free(peer);
            }
            atomic_store(&peer_seen, 1);
            char buf[256];
            while (SSL_read(ssl, buf, sizeof(buf)) > 0) {
            }
        }
        SSL_free(ssl);
        close(c);
    }
}

/* A plaintext "broker": answers anything with a Kafka-looking frame and closes. */
static void *plain_server(void *arg)
{
    (void)arg;
    for (;;) {
        int c = accept(plain_fd, NULL, NULL);
        if (c < 0)
            return NULL;
        char buf[512];
        (void)!read(c, buf, sizeof(buf));
        static const char frame[] = "\0\0\0\5hello";
        (void)!write(c, frame, sizeof(frame) - 1);
        close(c);
    }
}

/* The certificates are made once, in the runner before the tests (each runs
 * in a process of its own), and deleted after them; the tests find them
 * through GREGOR_KRAW_TLS_CERTS. */
ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    (void)set;
    const char *src = getenv("GREGOR_SOURCE_DIR");
    snprintf(certs, sizeof(certs), "/tmp/gregor-kraw-tls-%d", (int)getpid());
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s/deploy/make-certs.sh %s >/dev/null", src ? src : ".", certs);
    if (src && system(cmd) == 0)
        setenv("GREGOR_KRAW_TLS_CERTS", certs, 1);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    const char *dir = getenv("GREGOR_KRAW_TLS_CERTS");
    char cmd[512];
    if (dir) {
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        (void)!system(cmd);
    }
}

static void setup(void)
{
    const char *dir = getenv("GREGOR_KRAW_TLS_CERTS");
    cr_assert(dir, "no certificates: GREGOR_SOURCE_DIR must name the source tree (and "
                   "deploy/make-certs.sh work)");
    snprintf(certs, sizeof(certs), "%s", dir);
    signal(SIGPIPE, SIG_IGN); /* the server's writes to a client that has gone */
    server_ctx = SSL_CTX_new(TLS_server_method());
    cr_assert(SSL_CTX_use_certificate_chain_file(server_ctx, cert_path("broker.crt")) == 1);
    cr_assert(SSL_CTX_use_PrivateKey_file(server_ctx, cert_path("broker.key"), SSL_FILETYPE_PEM) ==
              1);
    cr_assert(SSL_CTX_load_verify_locations(server_ctx, cert_path("ca.pem"), NULL) == 1);
    SSL_CTX_set_verify(server_ctx, SSL_VERIFY_PEER, NULL);
    tls_fd = listen_any(&tls_port);
    plain_fd = listen_any(&plain_port);
    cr_assert(pthread_create(&tls_thread, NULL, tls_server, NULL) == 0);
    cr_assert(pthread_create(&plain_thread, NULL, plain_server, NULL) == 0);
}

static void teardown(void)
{
    shutdown(tls_fd, SHUT_RDWR);
    shutdown(plain_fd, SHUT_RDWR);
    pthread_join(tls_thread, NULL);
    pthread_join(plain_thread, NULL);
    close(tls_fd);
    close(plain_fd);
    SSL_CTX_free(server_ctx);
}

TestSuite(kraw_tls, .init = setup, .fini = teardown, .timeout = 60);

/* kraw_connect() with the current settings; returns its result, reason in k. */
static int try_connect(struct kraw *k, const char *host, int port)
{
    int rc = kraw_connect(k, host, port, 5000);
    if (rc == KRAW_OK)
        kraw_close(k);
    return rc;
}

Test(kraw_tls, trusted_certificate_and_host_pass)
{
    struct kraw k;
    kraw_set_tls(cert_path("ca.pem"), NULL, NULL, true, true);
    cr_assert_eq(try_connect(&k, "localhost", tls_port), KRAW_OK, "%s", k.reason);
    cr_assert_eq(try_connect(&k, "127.0.0.1", tls_port), KRAW_OK, "%s", k.reason);
}

Test(kraw_tls, untrusted_certificate_fails_with_verify_reason)
{
    struct kraw k;
    kraw_set_tls(cert_path("admin.crt"), NULL, NULL, true, true);
    cr_assert_eq(try_connect(&k, "localhost", tls_port), KRAW_ERR);
    cr_assert(strstr(k.reason, "certificate verify failed"), "%s", k.reason);
    cr_assert_eq(k.fd, -1);
    /* enable.ssl.certificate.verification=false accepts it */
    kraw_set_tls(cert_path("admin.crt"), NULL, NULL, false, true);
    cr_assert_eq(try_connect(&k, "localhost", tls_port), KRAW_OK, "%s", k.reason);
}

Test(kraw_tls, address_not_in_certificate_fails_unless_check_off)
{
    struct kraw k;
    kraw_set_tls(cert_path("ca.pem"), NULL, NULL, true, true);
    cr_assert_eq(try_connect(&k, "127.0.0.2", tls_port), KRAW_ERR);
    cr_assert(strstr(k.reason, "certificate verify failed (IP address mismatch)"), "%s", k.reason);
    kraw_set_tls(cert_path("ca.pem"), NULL, NULL, true, false); /* algorithm=none */
    cr_assert_eq(try_connect(&k, "127.0.0.2", tls_port), KRAW_OK, "%s", k.reason);
}

Test(kraw_tls, client_certificate_reaches_the_server)
{
    struct kraw k;
    atomic_store(&peer_seen, 0);
    kraw_set_tls(cert_path("ca.pem"), cert_path("alice.crt"), cert_path("alice.key"), true, true);
    cr_assert_eq(kraw_connect(&k, "localhost", tls_port, 5000), KRAW_OK, "%s", k.reason);
    for (int i = 0; i < 200 && !atomic_load(&peer_seen); i++)
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    kraw_close(&k);
    cr_assert(atomic_load(&peer_seen));
    cr_assert(strstr(peer_subject, "CN=alice"), "subject '%s'", peer_subject);
}

Test(kraw_tls, bad_files_fail_with_their_name)
{
    struct kraw k;
    kraw_set_tls(cert_path("ca.pem"), cert_path("alice.crt"), cert_path("admin.key"), true, true);
    cr_assert_eq(try_connect(&k, "localhost", tls_port), KRAW_ERR);
    cr_assert(strstr(k.reason, "cannot use ssl.key.location"), "%s", k.reason);
    kraw_set_tls(cert_path("ca.pem"), cert_path("alice.crt"), NULL, true, true);
    cr_assert_eq(try_connect(&k, "localhost", tls_port), KRAW_ERR);
    cr_assert(strstr(k.reason, "needs both"), "%s", k.reason);
    kraw_set_tls("/nonexistent/ca.pem", NULL, NULL, true, true);
    cr_assert_eq(try_connect(&k, "localhost", tls_port), KRAW_ERR);
    cr_assert(strstr(k.reason, "ssl.ca.location /nonexistent/ca.pem"), "%s", k.reason);
}

Test(kraw_tls, plaintext_server_fails_the_handshake)
{
    struct kraw k;
    kraw_set_tls(cert_path("ca.pem"), NULL, NULL, true, true);
    cr_assert_eq(try_connect(&k, "localhost", plain_port), KRAW_ERR);
    cr_assert(strstr(k.reason, "TLS handshake with localhost"), "%s", k.reason);
    cr_assert_eq(k.fd, -1);
}
