/*
 * broker/net/listener.c — evconnlistener sockets on the main loop; each
 * accepted socket is handed to the next network worker (round-robin), where
 * conn_adopt() takes it over.
 */
#include "broker/net/listener.h"
#include "broker/net/worker.h"
#include "common/say.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/listener.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_SOCKETS 32

struct lsock {
    struct evconnlistener *evl;
    struct listeners *owner;
    char name[32];
    int port;
};

struct listeners {
    struct broker *broker;
    struct worker **workers;
    int n_workers;
    unsigned next;               /* round-robin cursor; main loop only */
    struct conn_limits lim;
    struct lsock socks[MAX_SOCKETS];
    int n_socks;
};

struct adopt_job {
    struct listeners *ls;
    struct worker *w;
    int fd;
    char name[32];
};

static void adopt_job_cb(void *arg)
{
    struct adopt_job *j = arg;
    conn_adopt(j->ls->broker, j->w, j->fd, &j->ls->lim, j->name);
    free(j);
}

static void accept_cb(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg)
{
    struct lsock *s = arg;
    struct listeners *ls = s->owner;
    struct adopt_job *j = malloc(sizeof(*j));
    if (!j) {
        close(fd);
        return;
    }
    j->ls = ls;
    j->w = ls->workers[ls->next++ % (unsigned)ls->n_workers];
    j->fd = fd;
    snprintf(j->name, sizeof(j->name), "%s", s->name);
    if (!worker_post(j->w, adopt_job_cb, j)) {
        close(fd);
        free(j);
    }
}

static void accept_error_cb(struct evconnlistener *evl, void *arg)
{
    int e = EVUTIL_SOCKET_ERROR();
    say_warn("net", "accept failed errno=%d (%s)", e, evutil_socket_error_to_string(e));
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
syserr: {
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
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
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
    struct listeners *ls = *lsp;
    if (!ls) {
        ls = calloc(1, sizeof(*ls));
        if (!ls) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        ls->broker = b;
        ls->workers = workers;
        ls->n_workers = n_workers;
        ls->lim = *lim;
        *lsp = ls;
    }
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
    free(ls);
}

int listeners_port(const struct listeners *ls, const char *name)
{
    for (int i = 0; ls && i < ls->n_socks; i++)
        if (strcmp(ls->socks[i].name, name) == 0)
            return ls->socks[i].port;
    return -1;
}
