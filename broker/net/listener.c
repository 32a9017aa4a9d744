/*
 * broker/net/listener.c — evconnlistener sockets on the main loop; each
 * accepted socket is handed to the next network worker (round-robin), where
 * conn_adopt() takes it over. A TLS listener's socket also gets a new SSL
 * from the listener's context (net/tls.h) here on the main loop, which
 * owns the context, before it moves to its worker.
 *
 * Admission (net/limits.h): a connection over max.connections, over its
 * address's limit, or landing in the descriptor reserve is closed right
 * after accept, with at most one log line per second per reason. Gregor
 * closes rather than stops accepting at max.connections (Kafka blocks its
 * acceptor): a refused client sees the close at once and retries with its
 * backoff instead of waiting in the kernel backlog.
 *
 * Accept failures other than the transient ones libevent retries itself
 * (EAGAIN, EINTR, ECONNABORTED) — typically "out of descriptors or memory":
 * EMFILE, ENFILE, ENOBUFS, ENOMEM — leave the pending connection in the
 * backlog, so the socket stays readable; instead of retrying at once (a
 * busy loop), every listening socket is disabled for a back-off period
 * (100 ms, doubling up to 1 s while the failures go on, reset by a
 * successful accept) and the failure is logged at most once per second
 * with a count of the others.
 */
#include "broker/net/listener.h"
#include "broker/net/limits.h"
#include "broker/net/tls.h"
#include "common/loop/worker.h"
#include "common/base.h"
#include "common/say.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_SOCKETS 32
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 1000

struct lsock {
    struct evconnlistener *evl;
    struct listeners *owner;
    char name[32];
    int port;
    struct tls_server *tls; /* borrowed from the owner's tls[]; NULL = plaintext */
};

struct listeners {
    struct broker *broker;
    struct worker **workers;
    int n_workers;
    unsigned next; /* round-robin cursor; main loop only */
    struct conn_limits lim;
    struct lsock socks[MAX_SOCKETS];
    int n_socks;
    struct event_base *base;             /* the main loop */
    struct event *resume;                /* owned: ends an accept back-off */
    int backoff_ms;                      /* next back-off; 0 = none yet; main loop only */
    bool paused;                         /* sockets disabled by a back-off */
    struct tls_server *tls[MAX_SOCKETS]; /* owned: the TLS listeners' contexts */
    int n_tls;
    struct tls_server *binding_tls; /* given to the sockets bind_one() makes now */
};

/* Self-contained: listeners_free() may run before a network loop gets to
 * the job, so it copies what conn_adopt() needs instead of pointing at ls. */
struct adopt_job {
    struct broker *broker;
    struct conn_limits lim;
    struct worker *w;
    int fd;
    char name[32];
    struct net_slot slot;
    SSL *ssl; /* owned until conn_adopt_tls(); NULL = plaintext */
};

static void adopt_job_cb(void *arg)
{
    struct adopt_job *j = arg;
    conn_adopt_tls(j->broker, j->w, j->fd, &j->lim, j->name, &j->slot, j->ssl);
    free(j);
}

/* Closes a connection refused by admission; logs once a second per reason. */
static void refuse(int fd, enum net_admit why, const struct net_slot *slot, const char *listener,
                   const struct conn_limits *lim)
{
    close(fd);
    switch (why) {
    case NET_REFUSE_TOTAL:
        say_warn_every(1000, "net",
                       "connection refused peer=%s listener=%s: max.connections "
                       "(%d) reached",
                       slot->ip, listener, net_limits_max_connections());
        break;
    case NET_REFUSE_IP:
        say_warn_every(1000, "net",
                       "connection refused peer=%s listener=%s: the address has "
                       "its limit of connections (max.connections.per.ip or its overrides)",
                       slot->ip, listener);
        break;
    case NET_REFUSE_FDS:
        say_warn_every(1000, "net",
                       "connection refused peer=%s listener=%s: file descriptors "
                       "nearly exhausted (the last %d are kept for log files; raise ulimit -n)",
                       slot->ip, listener, net_limits_fd_reserve());
        break;
    case NET_ADMIT_OK:
        break;
    }
}

static void accept_cb(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg)
{
    struct lsock *s = arg;
    struct listeners *ls = s->owner;
    ls->backoff_ms = 0;
    struct net_slot slot;
    bool count_total = strcmp(s->name, ls->lim.inter_broker_listener) != 0;
    enum net_admit ok = net_limits_admit(fd, sa, count_total, &slot);
    if (ok != NET_ADMIT_OK) {
        refuse(fd, ok, &slot, s->name, &ls->lim);
        return;
    }
    struct adopt_job *j = malloc(sizeof(*j));
    SSL *ssl = s->tls ? tls_server_ssl_new(s->tls) : NULL;
    if (!j || (s->tls && !ssl)) {
        free(j);
        SSL_free(ssl);
        net_limits_release(&slot);
        close(fd);
        return;
    }
    j->ssl = ssl;
    j->broker = ls->broker;
    j->lim = ls->lim;
    j->w = ls->workers[ls->next++ % (unsigned)ls->n_workers];
    j->fd = fd;
    j->slot = slot;
    snprintf(j->name, sizeof(j->name), "%s", s->name);
    if (!worker_post(j->w, adopt_job_cb, j)) {
        net_limits_release(&j->slot);
        SSL_free(j->ssl);
        close(fd);
        free(j);
    }
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
    struct listeners *ls = arg;
    ls->paused = false;
    for (int i = 0; i < ls->n_socks; i++)
        evconnlistener_enable(ls->socks[i].evl);
}

static void accept_error_cb(struct evconnlistener *evl, void *arg)
{
    struct lsock *s = arg;
    struct listeners *ls = s->owner;
    int e = EVUTIL_SOCKET_ERROR();
    if (ls->paused)
        return;
    ls->backoff_ms = ls->backoff_ms ? MIN(ls->backoff_ms * 2, BACKOFF_MAX_MS) : BACKOFF_MIN_MS;
    say_warn_every(1000, "net",
                   "accept failed listener=%s errno=%d (%s): not accepting for "
                   "%d ms (open connections %lld)",
                   s->name, e, evutil_socket_error_to_string(e), ls->backoff_ms,
                   (long long)net_limits_open());
    struct timeval tv = {ls->backoff_ms / 1000, (ls->backoff_ms % 1000) * 1000};
    if (!ls->resume)
        ls->resume = evtimer_new(ls->base, resume_cb, ls);
    if (!ls->resume || evtimer_add(ls->resume, &tv) != 0)
        return; /* cannot schedule the resume: keep accepting rather than stop for good */
    ls->paused = true;
    for (int i = 0; i < ls->n_socks; i++)
        evconnlistener_disable(ls->socks[i].evl);
}

static int bind_one(struct listeners *ls, struct event_base *base, const char *name,
                    const struct sockaddr *sa, socklen_t salen, char *err, size_t errlen)
{
    if (ls->n_socks == MAX_SOCKETS) {
        snprintf(err, errlen, "too many listening sockets");
        return -1;
    }
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto syserr;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (sa->sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, sa, salen) != 0 || listen(fd, 1024) != 0) {
        close(fd);
        goto syserr;
    }
    struct lsock *s = &ls->socks[ls->n_socks];
    s->owner = ls;
    s->tls = ls->binding_tls;
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->evl = evconnlistener_new(base, accept_cb, s, LEV_OPT_CLOSE_ON_FREE, -1, fd);
    if (!s->evl) {
        close(fd);
        snprintf(err, errlen, "cannot create listener %s", name);
        return -1;
    }
    evconnlistener_set_error_cb(s->evl, accept_error_cb);
    struct sockaddr_storage got;
    socklen_t gl = sizeof(got);
    getsockname(fd, (struct sockaddr *)&got, &gl);
    s->port = ntohs(got.ss_family == AF_INET ? ((struct sockaddr_in *)&got)->sin_port
                                             : ((struct sockaddr_in6 *)&got)->sin6_port);
    ls->n_socks++;
    return 0;
syserr : {
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, host, sizeof(host));
        port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
    } else {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, host, sizeof(host));
        port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    }
    snprintf(err, errlen, "cannot listen on %s port %d for listener %s: %s", host, port, name,
             strerror(errno));
    return -1;
}
}

/* Binds a literal address; IPv6 failures are tolerated when IPv6 is off. */
static int bind_literal(struct listeners *ls, struct event_base *base, const char *name,
                        const char *addr, int port, bool optional, char *err, size_t errlen)
{
    struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
    int rc;
    if (inet_pton(AF_INET, addr, &a4.sin_addr) == 1)
        rc = bind_one(ls, base, name, (struct sockaddr *)&a4, sizeof(a4), err, errlen);
    else if (inet_pton(AF_INET6, addr, &a6.sin6_addr) == 1)
        rc = bind_one(ls, base, name, (struct sockaddr *)&a6, sizeof(a6), err, errlen);
    else
        return -1;
    if (rc != 0 && optional) {
        say_warn("net", "optional listen address skipped: %s", err);
        return 0;
    }
    return rc;
}

static int bind_host(struct listeners *ls, struct event_base *base, const char *name,
                     const char *host, int port, char *err, size_t errlen)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    int gai = getaddrinfo(host, portstr, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "cannot resolve listener host '%s': %s", host, gai_strerror(gai));
        return -1;
    }
    int rc = 0;
    for (struct addrinfo *ai = res; ai && rc == 0; ai = ai->ai_next)
        rc = bind_one(ls, base, name, ai->ai_addr, ai->ai_addrlen, err, errlen);
    freeaddrinfo(res);
    return rc;
}

int listeners_add(struct listeners **lsp, struct broker *b, struct event_base *base,
                  struct worker **workers, int n_workers, const struct conn_limits *lim,
                  const char *name, const char *host, int port, char *err, size_t errlen)
{
    return listeners_add_tls(lsp, b, base, workers, n_workers, lim, name, host, port, NULL, err,
                             errlen);
}

static int listeners_bind(struct listeners *ls, struct event_base *base, const char *name,
                          const char *host, int port, char *err, size_t errlen);

int listeners_add_tls(struct listeners **lsp, struct broker *b, struct event_base *base,
                      struct worker **workers, int n_workers, const struct conn_limits *lim,
                      const char *name, const char *host, int port, struct tls_server *tls,
                      char *err, size_t errlen)
{
    struct listeners *ls = *lsp;
    if (!ls) {
        ls = calloc(1, sizeof(*ls));
        if (!ls) {
            snprintf(err, errlen, "out of memory");
            tls_server_free(tls);
            return -1;
        }
        ls->broker = b;
        ls->workers = workers;
        ls->n_workers = n_workers;
        ls->lim = *lim;
        ls->base = base;
        *lsp = ls;
    }
    if (tls) {
        if (ls->n_tls == MAX_SOCKETS) {
            snprintf(err, errlen, "too many TLS listeners");
            tls_server_free(tls);
            return -1;
        }
        ls->tls[ls->n_tls++] = tls;
    }
    ls->binding_tls = tls;
    int rc = listeners_bind(ls, base, name, host, port, err, errlen);
    ls->binding_tls = NULL;
    return rc;
}

static int listeners_bind(struct listeners *ls, struct event_base *base, const char *name,
                          const char *host, int port, char *err, size_t errlen)
{
    if (host[0] == '\0') {
        if (bind_literal(ls, base, name, "0.0.0.0", port, false, err, errlen) != 0)
            return -1;
        /* same port as the IPv4 socket got (matters when port was 0) */
        return bind_literal(ls, base, name, "::", ls->socks[ls->n_socks - 1].port, true, err,
                            errlen);
    }
    if (strcmp(host, "localhost") == 0) {
        if (bind_literal(ls, base, name, "127.0.0.1", port, false, err, errlen) != 0)
            return -1;
        return bind_literal(ls, base, name, "::1", ls->socks[ls->n_socks - 1].port, true, err,
                            errlen);
    }
    return bind_host(ls, base, name, host, port, err, errlen);
}

void listeners_free(struct listeners *ls)
{
    if (!ls)
        return;
    for (int i = 0; i < ls->n_socks; i++)
        evconnlistener_free(ls->socks[i].evl);
    if (ls->resume)
        event_free(ls->resume);
    for (int i = 0; i < ls->n_tls; i++)
        tls_server_free(ls->tls[i]);
    free(ls);
}

int listeners_port(const struct listeners *ls, const char *name)
{
    for (int i = 0; ls && i < ls->n_socks; i++)
        if (strcmp(ls->socks[i].name, name) == 0)
            return ls->socks[i].port;
    return -1;
}
