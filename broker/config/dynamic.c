/*
 * broker/config/dynamic.c — initial values of the run-time settings
 * (dynamic.h) from the static configuration.
 */
#include "broker/config/dynamic.h"
#include "broker/config/config.h"

void broker_dynamic_init(struct broker_dynamic *d, const struct broker_config *cfg)
{
    atomic_init(&d->leader_replication_throttled_rate, cfg->leader_replication_throttled_rate);
    atomic_init(&d->follower_replication_throttled_rate, cfg->follower_replication_throttled_rate);
}
