/*
 * broker/core/replica_manager.h — the broker's side of the control
 * plane (docs/architecture.md §4, §6): applies the controller's LeaderAndIsr,
 * UpdateMetadata and StopReplica requests to the local partitions, the
 * metadata cache and the replica fetchers; proposes ISR changes (AlterIsr)
 * and asks for a controlled shutdown (ControlledShutdown) over a channel to
 * the active controller.
 *
 * Fencing: a request from an older controller epoch than the newest seen
 * gets STALE_CONTROLLER_EPOCH; one meant for another incarnation of this
 * broker (broker epoch = czxid of our registration) gets
 * STALE_BROKER_EPOCH; per partition, an older leader epoch gets
 * FENCED_LEADER_EPOCH. Repeats are no-ops.
 *
 * Threads: everything runs on the admin worker (it may read topic
 * assignments and configs from ZooKeeper); rm_start/rm_stop and
 * rm_controlled_shutdown are called from the main thread.
 */
#ifndef GREGOR_BROKER_CORE_REPLICA_MANAGER_H
#define GREGOR_BROKER_CORE_REPLICA_MANAGER_H

#include "common/buf.h"
#include "common/err.h"

#include <stddef.h>
#include <stdint.h>

struct broker;

/* Creates the manager, the metadata cache and the fetchers, and starts the
 * ISR check timer on the admin worker. 0 or -1 (logged). Main thread. */
int rm_start(struct broker *b);
/* Stops fetchers and timers (waits for the admin worker). Main thread;
 * before the admin worker is freed. */
void rm_stop(struct broker *b);
/* Frees what rm_start made; after every worker has stopped. NULL-safe. */
void rm_free(struct broker *b);

/* Control requests (admin worker): body/len the packed protobuf request,
 * the packed response appended to out. */
void rm_leader_and_isr(struct broker *b, const uint8_t *body, size_t len, struct kbuf *out);
void rm_update_metadata(struct broker *b, const uint8_t *body, size_t len, struct kbuf *out);
void rm_stop_replica(struct broker *b, const uint8_t *body, size_t len, struct kbuf *out);

/* Controlled shutdown (SIGTERM): asks the controller to move this broker's
 * leaderships away, retrying controlled.shutdown.max.retries times.
 * Returns true when no partition is led here any more. Blocks the caller
 * (main thread) up to about timeout_ms. */
bool rm_controlled_shutdown(struct broker *b, int64_t timeout_ms);
/* Makes a running rm_controlled_shutdown() return at once. Any thread. */
void rm_controlled_shutdown_abort(struct broker *b);

#endif
