/*
 * broker/core/config_watch.h — topic config changes from other brokers reach
 * this broker's live topics (config_watch.c; /config/changes).
 */
#ifndef GREGOR_BROKER_CORE_CONFIG_WATCH_H
#define GREGOR_BROKER_CORE_CONFIG_WATCH_H

#include <stdbool.h>

struct broker;

/* Start-up, before the topics are loaded: remembers the newest
 * notification (b->zk connected). */
void config_watch_init(struct broker *b);
/* Once the admin worker runs: subscribes to watch events and posts the
 * first check (which arms the watch). false on failure. */
bool config_watch_start(struct broker *b);
/* On the admin worker after a new session: re-arms and catches up. */
void config_watch_resync(struct broker *b);
/* Before the admin worker stops: no more checks are posted. */
void config_watch_stop(struct broker *b);

#endif
