/*
 * broker/server.h — the daemon's start-up and shutdown order (server.c):
 * creates struct broker (broker/core/broker.h), loads logs, registers in
 * ZooKeeper, starts the workers, listeners and HTTP endpoint, and tears them
 * down in reverse on SIGTERM/SIGINT.
 */
#ifndef GREGOR_BROKER_SERVER_H
#define GREGOR_BROKER_SERVER_H

#include "broker/config/config.h"

/* Runs the broker until SIGTERM/SIGINT. Returns the process exit status: 0
 * after a stop, 1 when the start failed in a way a retry may mend (ZooKeeper
 * unreachable, a disk error, the broker.id live elsewhere), 2 when it was
 * refused in a way only a changed configuration mends (no broker.id, a log
 * dir of another broker or cluster). */
int server_run(const struct broker_config *cfg);

#endif
