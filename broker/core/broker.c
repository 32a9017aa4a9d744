/*
 * broker/core/broker.c — accessors of struct broker's shared state that take
 * its locks (broker/core/broker.h).
 */
#include "broker/core/broker.h"

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
