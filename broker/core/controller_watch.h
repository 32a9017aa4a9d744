/*
 * broker/core/controller_watch.h — the active controller as ZooKeeper names it
 * (/controller, /controller_epoch), and the check that a control request
 * (LeaderAndIsr, UpdateMetadata, StopReplica) comes from it
 * (controller_watch.c).
 */
#ifndef GREGOR_BROKER_CORE_CONTROLLER_WATCH_H
#define GREGOR_BROKER_CORE_CONTROLLER_WATCH_H

#include "common/err.h"

#include <stdbool.h>
#include <stdint.h>

struct broker;

/* Start-up, before the admin worker runs: no controller known yet. */
void controller_watch_init(struct broker *b);
/* Once the admin worker runs: subscribes to the store's watch events and
 * posts the first read (which arms the watches). false on failure. */
bool controller_watch_start(struct broker *b);
/* On the admin worker after a new session: re-arms and re-reads. */
void controller_watch_resync(struct broker *b);
/* Before the admin worker stops: no more reads are posted. */
void controller_watch_stop(struct broker *b);

/* On the admin worker: may a control request from controller_id at
 * controller_epoch be applied? KERR_NONE when ZooKeeper names that broker
 * and that epoch (re-read once when the request is newer than what this
 * broker knows: the watch can lag an election); KERR_STALE_CONTROLLER_EPOCH
 * for an older epoch; KERR_NOT_CONTROLLER otherwise (a higher epoch than
 * ZooKeeper's, another broker at the current epoch, no controller, or
 * ZooKeeper unreachable), logged. Never adopts an epoch from a request. */
kerr_t controller_watch_check(struct broker *b, int32_t controller_id, int32_t controller_epoch);

#endif
