/*
 * broker/core/broker.c — accessors of struct broker's shared state that take
 * its locks (broker/core/broker.h).
 */
#include "broker/core/broker.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

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
