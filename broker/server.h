/*
 * broker/server.h — the daemon's start-up and shutdown order (server.c):
 * creates struct broker (broker/core/broker.h), loads logs, registers in
 * ZooKeeper, starts the workers, listeners and HTTP endpoint, and tears them
 * down in reverse on SIGTERM/SIGINT.
 */
#ifndef GREGOR_BROKER_SERVER_H
#define GREGOR_BROKER_SERVER_H

#include "broker/config/config.h"

/* Runs the broker until SIGTERM/SIGINT. Returns the process exit status. */
int server_run(const struct broker_config *cfg);

#endif
