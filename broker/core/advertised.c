/*
 * broker/core/advertised.c — the start-up check that the advertised
 * listener hosts resolve (advertised.h). Numeric addresses are taken as
 * they are; names go through the system resolver (/etc/hosts, DNS), as
 * the replica fetcher and the controller's channels will resolve them.
 *
 * Threads: advertised_check() on any thread that may block; the result is
 * published under b->advertised_lock and read by advertised_unresolved().
 */
#include "broker/core/advertised.h"
#include "broker/core/broker.h"
#include "common/say.h"

#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* 0 when host resolves; else a gai error code. */
static int advertised_resolve(const char *host)
{
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST;
    int rc = getaddrinfo(host, NULL, &hints, &ai);
    if (rc != 0) {
        hints.ai_flags = 0;
        rc = getaddrinfo(host, NULL, &hints, &ai);
    }
    if (rc == 0)
        freeaddrinfo(ai);
    return rc;
}

int advertised_check(struct broker *b)
{
    const struct broker_config *cfg = b->cfg;
    char first[sizeof(b->advertised_why)] = "";
    int bad = 0;
    for (int i = 0; i < cfg->n_advertised; i++) {
        const struct config_listener *a = &cfg->advertised[i];
        int rc = advertised_resolve(a->host);
        if (rc == 0)
            continue;
        bool inter = i == cfg->inter_broker_listener;
        say_warn("net",
                 "advertised listener host does not resolve listener=%s host=%s reason=\"%s\"%s",
                 a->name, a->host, gai_strerror(rc),
                 inter ? " (the inter-broker listener: other brokers cannot replicate from "
                         "this one or send it control requests)"
                       : " (clients given this address cannot connect)");
        if (bad++ == 0)
            snprintf(first, sizeof(first), "listener %s host %s: %s", a->name, a->host,
                     gai_strerror(rc));
    }
    pthread_mutex_lock(&b->advertised_lock);
    b->advertised_bad = bad;
    memcpy(b->advertised_why, first, sizeof(first));
    pthread_mutex_unlock(&b->advertised_lock);
    return bad;
}

bool advertised_unresolved(struct broker *b, char *why, size_t n)
{
    pthread_mutex_lock(&b->advertised_lock);
    bool bad = b->advertised_bad > 0;
    if (bad && why && n > 0)
        snprintf(why, n, "%s", b->advertised_why);
    pthread_mutex_unlock(&b->advertised_lock);
    return bad;
}
