/*
 * broker/core/advertised.c — the start-up check that the advertised
 * listener hosts resolve (advertised.h). Numeric addresses are taken as
 * they are; names go through the system resolver (/etc/hosts, DNS), as
 * the replica fetcher and the controller's channels will resolve them.
 *
 * Threads: advertised_check() on any thread that may block (start-up: the
 * main thread; then the re-check thread of advertised_watch_start()); the
 * result is published under b->advertised_lock and read by
 * advertised_unresolved().
 */
#include "broker/core/advertised.h"
#include "broker/core/broker.h"
#include "common/say.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

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

/* Resolves every advertised host and publishes the result. only_changes:
 * log nothing unless the outcome differs from the published one. */
static int advertised_run(struct broker *b, bool only_changes)
{
    const struct broker_config *cfg = b->cfg;
    char first[sizeof(b->advertised_why)] = "";
    int rcs[CONFIG_MAX_LISTENERS] = {0};
    int bad = 0;
    int n = cfg->n_advertised < CONFIG_MAX_LISTENERS ? cfg->n_advertised : CONFIG_MAX_LISTENERS;
    for (int i = 0; i < n; i++) {
        const struct config_listener *a = &cfg->advertised[i];
        rcs[i] = advertised_resolve(a->host);
        if (rcs[i] != 0 && bad++ == 0)
            snprintf(first, sizeof(first), "listener %s host %s: %s", a->name, a->host,
                     gai_strerror(rcs[i]));
    }
    pthread_mutex_lock(&b->advertised_lock);
    bool changed = bad != b->advertised_bad || strcmp(first, b->advertised_why) != 0;
    b->advertised_bad = bad;
    memcpy(b->advertised_why, first, sizeof(first));
    pthread_mutex_unlock(&b->advertised_lock);
    if (only_changes && !changed)
        return bad;
    if (bad == 0 && only_changes)
        say_info("net", "every advertised listener host resolves now");
    for (int i = 0; i < n; i++) {
        if (rcs[i] == 0)
            continue;
        const struct config_listener *a = &cfg->advertised[i];
        bool inter = i == cfg->inter_broker_listener;
        say_warn("net",
                 "advertised listener host does not resolve listener=%s host=%s reason=\"%s\"%s",
                 a->name, a->host, gai_strerror(rcs[i]),
                 inter ? " (the inter-broker listener: other brokers cannot replicate from "
                         "this one or send it control requests)"
                       : " (clients given this address cannot connect)");
    }
    return bad;
}

int advertised_check(struct broker *b) { return advertised_run(b, false); }

static void *advertised_main(void *arg)
{
    struct broker *b = arg;
    pthread_mutex_lock(&b->advertised_lock);
    while (!b->advertised_stop) {
        int ms = b->advertised_bad > 0 ? ADVERTISED_RECHECK_MS : ADVERTISED_RECHECK_OK_MS;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += ms / 1000;
        ts.tv_nsec += (long)(ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        while (!b->advertised_stop &&
               pthread_cond_timedwait(&b->advertised_cond, &b->advertised_lock, &ts) != ETIMEDOUT)
            ;
        if (b->advertised_stop)
            break;
        pthread_mutex_unlock(&b->advertised_lock);
        (void)advertised_run(b, true);
        pthread_mutex_lock(&b->advertised_lock);
    }
    pthread_mutex_unlock(&b->advertised_lock);
    return NULL;
}

bool advertised_watch_start(struct broker *b)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->advertised_cond, &ca);
    pthread_condattr_destroy(&ca);
    b->advertised_stop = false;
    if (pthread_create(&b->advertised_thread, NULL, advertised_main, b) != 0) {
        say_warn("net", "cannot start the advertised-host re-check thread");
        pthread_cond_destroy(&b->advertised_cond);
        return false;
    }
    b->advertised_running = true;
    return true;
}

void advertised_watch_stop(struct broker *b)
{
    if (!b->advertised_running)
        return;
    pthread_mutex_lock(&b->advertised_lock);
    b->advertised_stop = true;
    pthread_cond_signal(&b->advertised_cond);
    pthread_mutex_unlock(&b->advertised_lock);
    pthread_join(b->advertised_thread, NULL);
    pthread_cond_destroy(&b->advertised_cond);
    b->advertised_running = false;
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
