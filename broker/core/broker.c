/*
 * broker/core/broker.c — accessors of struct broker's shared state that take
 * its locks or atomics (broker/core/broker.h): the live broker list and the
 * trust in this broker's ZooKeeper session.
 */
#include "broker/core/broker.h"
#include "common/say.h"
#include "controller/zk/zk_store.h"

#include <stdio.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

const struct broker_endpoint *broker_endpoint_for(const struct broker_info *bi,
                                                  const char *listener)
{
    for (int e = 0; e < bi->n_endpoints; e++)
        if (listener && strcmp(bi->ep[e].listener, listener) == 0)
            return &bi->ep[e];
    return &bi->ep[0];
}

struct broker_info *broker_live_brokers(struct broker *b, int *n)
{
    pthread_mutex_lock(&b->brokers_lock);
    struct broker_info *copy = malloc(sizeof(*copy) * (size_t)(b->n_live ? b->n_live : 1));
    *n = 0;
    if (copy) {
        memcpy(copy, b->live, sizeof(*copy) * (size_t)b->n_live);
        *n = b->n_live;
    }
    pthread_mutex_unlock(&b->brokers_lock);
    return copy;
}

void broker_session_expired(struct broker *b)
{
    int64_t epoch = __atomic_load_n(&b->broker_epoch, __ATOMIC_ACQUIRE);
    int64_t none = 0;
    /* keep the oldest lost epoch if expiries follow each other */
    (void)__atomic_compare_exchange_n(&b->zk_lost_epoch, &none, epoch > 0 ? epoch : -1, false,
                                      __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

void broker_controller_heard(struct broker *b)
{
    int64_t lost = __atomic_load_n(&b->zk_lost_epoch, __ATOMIC_ACQUIRE);
    int64_t epoch = __atomic_load_n(&b->broker_epoch, __ATOMIC_ACQUIRE);
    if (lost == 0 || epoch <= 0 || epoch == lost)
        return;
    if (__atomic_compare_exchange_n(&b->zk_lost_epoch, &lost, 0, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
        say_info("zk",
                 "registration confirmed by the controller after a session expiry "
                 "old_epoch=%lld epoch=%lld",
                 (long long)lost, (long long)epoch);
}

bool broker_leadership_unconfirmed(struct broker *b)
{
    if (__atomic_load_n(&b->zk_lost_epoch, __ATOMIC_ACQUIRE) != 0)
        return true;
    /* heartbeats come every third of the session timeout: two thirds of
     * silence is when the client library itself gives the connection up */
    return b->zk &&
           (zk_store_down_ms(b->zk) > 0 ||
            zk_store_silent_ms(b->zk) > 2 * (int64_t)b->cfg->zookeeper_session_timeout_ms / 3);
}

bool broker_session_lost(struct broker *b, char *why, size_t len)
{
    if (__atomic_load_n(&b->zk_lost_epoch, __ATOMIC_ACQUIRE) != 0) {
        snprintf(why, len,
                 "ZooKeeper session expired: not yet registered again and confirmed by the "
                 "controller");
        return true;
    }
    /* nothing heard for a whole session timeout: the server has expired the
     * session, unless it has lost its quorum too */
    int64_t silent = b->zk ? zk_store_silent_ms(b->zk) : 0;
    int32_t timeout = b->cfg->zookeeper_session_timeout_ms;
    if (silent > timeout) {
        snprintf(why, len,
                 "ZooKeeper session presumed expired: nothing heard from ZooKeeper for %lld ms "
                 "(zookeeper.session.timeout.ms=%d)",
                 (long long)silent, (int)timeout);
        return true;
    }
    return false;
}
