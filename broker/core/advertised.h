/*
 * broker/core/advertised.h — whether the hosts this broker advertises
 * (advertised.listeners, registered in /brokers/ids/<id>) resolve. Clients
 * and the other brokers connect to those names: one that does not resolve
 * here most likely does not resolve for them either. Like Kafka, the broker
 * still starts; it says so in its log, and keeps the answer in struct broker
 * for health checks (advertised_unresolved(), /readyz). DNS may learn a
 * name later (a container whose name is registered after it starts), so a
 * thread of its own re-resolves them (every ADVERTISED_RECHECK_MS while one
 * fails, ADVERTISED_RECHECK_OK_MS while all resolve; off every event loop:
 * getaddrinfo() blocks) and logs only changes.
 */
#ifndef GREGOR_BROKER_CORE_ADVERTISED_H
#define GREGOR_BROKER_CORE_ADVERTISED_H

#include <stdbool.h>
#include <stddef.h>

struct broker;

/* How often advertised_watch_start()'s thread resolves the hosts again:
 * while one does not resolve (to notice the name appearing), and while all
 * do (to notice one disappearing, without asking DNS too often). */
#define ADVERTISED_RECHECK_MS 5000
#define ADVERTISED_RECHECK_OK_MS 30000

/*
 * Resolves the host of every advertised listener (getaddrinfo(); blocking,
 * so never on a network or controller loop: start-up calls it on the main
 * thread before the loops run). Logs one warning per host that does not
 * resolve, naming the listener, the host and the resolver's reason, and
 * stores the result for advertised_unresolved(). Returns how many did not
 * resolve. Any thread.
 */
int advertised_check(struct broker *b);

/*
 * True when an advertised host did not resolve at the last
 * advertised_check(); then the first such one is written to why (size n,
 * may be NULL) as "listener INTERNAL host broker-2.example: <reason>".
 * Never blocks; any thread.
 */
bool advertised_unresolved(struct broker *b, char *why, size_t n);

/*
 * Starts the thread re-running the check (intervals above); it
 * logs a warning when a host stops resolving (or the reason changes) and
 * an info line when every host resolves again. false if the thread could
 * not be created (the start-up answer then stays). Main thread, once.
 */
bool advertised_watch_start(struct broker *b);
/* Stops and joins that thread (no-op if not started); returns promptly,
 * after any getaddrinfo() in progress. Main thread. */
void advertised_watch_stop(struct broker *b);

#endif
