/*
 * tests/harness/zk_server.h — a real, throw-away ZooKeeper server for tests:
 * Debian's `zookeeper` package (ZooKeeperServerMain, standalone) on a free
 * loopback port, with its data and log in a fresh temporary directory.
 *
 * The server runs in its own process group, is killed (SIGKILL through
 * PR_SET_PDEATHSIG) if the thread that started it dies, and zk_server_stop()
 * kills the whole group and removes the directory. Because of the
 * PDEATHSIG rule, start it from a thread that outlives it (the test's main
 * thread).
 *
 * Environment overrides:
 *   GREGOR_JAVA            java binary (default "java" from PATH)
 *   GREGOR_ZK_CLASSPATH    classpath (default /usr/share/java/zookeeper.jar
 *                          plus slf4j-simple.jar; zookeeper.jar's manifest
 *                          brings its other dependencies)
 *   GREGOR_ZK_LOG_LEVEL    server log level (default "warn")
 *   GREGOR_KEEP_TMP        if set, the temp dir (zookeeper.log) is kept
 */
#ifndef GREGOR_TESTS_HARNESS_ZK_SERVER_H
#define GREGOR_TESTS_HARNESS_ZK_SERVER_H

#include <stdbool.h>

struct zk_server;

/* Starts a server and waits (<= 60 s) until it serves requests (`srvr`). Returns new
 * (release with zk_server_stop()), or NULL with the reason on stderr. */
struct zk_server *zk_server_start(void);

/* "127.0.0.1:PORT"; returns borrowed, valid until zk_server_stop(). */
const char *zk_server_connect(const struct zk_server *z);
int zk_server_port(const struct zk_server *z);

/* The server's temporary directory (zoo.cfg, data/, zookeeper.log). */
const char *zk_server_dir(const struct zk_server *z);

/* Kills the whole process group (SIGTERM, then SIGKILL after 5 s), waits for
 * it and removes the temporary directory. NULL is a no-op. */
void zk_server_stop(struct zk_server *z);

/* Stops the process (keeping its data) and starts it again on the same
 * port; sessions survive if clients reconnect within their timeout.
 * Returns false (reason on stderr) if it does not come back. */
bool zk_server_restart(struct zk_server *z);

/* SIGSTOP / SIGCONT the server: it stops answering without closing any
 * connection, as a hung or cut-off ZooKeeper does. */
void zk_server_pause(struct zk_server *z);
void zk_server_resume(struct zk_server *z);

#endif
