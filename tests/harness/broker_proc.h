/*
 * tests/harness/broker_proc.h — start, stop, kill and restart gregor-broker
 * processes for integration tests, plus a shell-command runner and a
 * "cluster" fixture (one ZooKeeper from zk_server.h + N brokers).
 *
 * A broker runs $GREGOR_BUILD_DIR/bin/gregor-broker (or $GREGOR_BROKER_BIN)
 * with a generated server.properties in its own temp dir, listening on a
 * free loopback port, with stdout/stderr in <dir>/broker.log. Children get
 * PR_SET_PDEATHSIG(SIGKILL), so a test process that crashes leaks nothing.
 *
 * Set GREGOR_KEEP_TMP=1 to keep temp dirs (their paths are printed).
 *
 * Threads: none; call from the test's main thread. Each Criterion test runs
 * in its own process, so a fixture lives exactly as long as one test.
 */
#ifndef GREGOR_TESTS_HARNESS_BROKER_PROC_H
#define GREGOR_TESTS_HARNESS_BROKER_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct broker_proc;
struct zk_server;

/* Creates (does not start) a broker with id broker_id against the ZooKeeper
 * at zk_connect ("host:port"), a fresh temp dir (data in <dir>/data) and a
 * free port. overrides: NULL-terminated "key=value" strings passed as
 * --override after the generated file (so they win); borrowed. Returns new
 * (broker_proc_free()), or NULL with a reason on stderr. */
struct broker_proc *broker_proc_new(const char *zk_connect, int32_t broker_id,
                                    const char *const *overrides);
/* Adds one "key=value" override (copied) after those given to
 * broker_proc_new(); takes effect at the next start. Returns 0, or -1 if
 * there are too many or out of memory. */
int broker_proc_add_override(struct broker_proc *bp, const char *kv);
/* Sets RLIMIT_NOFILE (soft and hard) of the process at the next start;
 * 0 = inherit the test's limit. */
void broker_proc_set_nofile(struct broker_proc *bp, int nofile);
/* Starts the process and waits until its port accepts connections
 * (timeout: $GREGOR_TEST_START_TIMEOUT seconds, default 30). Returns 0; -1
 * if it exited first (see broker_proc_exit_status()) or timed out (then it
 * is killed); the log tail is printed on failure unless quiet. */
int broker_proc_start(struct broker_proc *bp);
int broker_proc_start_quiet(struct broker_proc *bp);
/* new + start. Returns new or NULL. */
struct broker_proc *broker_proc_spawn(const char *zk_connect, int32_t broker_id,
                                      const char *const *overrides);
/* SIGKILL and reap. Returns the wait status, or -1 if it was not running. */
int broker_proc_kill(struct broker_proc *bp);
/* SIGTERM and wait up to timeout_s (then SIGKILL). Returns the exit code
 * (0..255), 128 + signal if killed by a signal, -1 if not running, -2 if
 * it had to be SIGKILLed after the timeout. */
int broker_proc_stop(struct broker_proc *bp, int timeout_s);
/* Stops (SIGTERM) if running, then starts again with the same id, port,
 * config and data. Returns broker_proc_start()'s result. */
int broker_proc_restart(struct broker_proc *bp);
/* Waits up to timeout_s for the process to exit by itself; returns like
 * broker_proc_stop(), or -3 on timeout (still running). */
int broker_proc_wait_exit(struct broker_proc *bp, int timeout_s);
/* True while the process runs (reaps it if it has exited). */
bool broker_proc_alive(struct broker_proc *bp);
/* Kills (SIGKILL) if running and removes the temp dir. NULL ok. */
void broker_proc_free(struct broker_proc *bp);

int broker_proc_port(const struct broker_proc *bp);
int32_t broker_proc_id(const struct broker_proc *bp);
pid_t broker_proc_pid(const struct broker_proc *bp); /* 0 when not running */
/* The last exit status as returned by broker_proc_stop(); -1 = none yet. */
int broker_proc_exit_status(const struct broker_proc *bp);
/* Returns borrowed strings valid until broker_proc_free(). */
const char *broker_proc_bootstrap(const struct broker_proc *bp); /* "127.0.0.1:PORT" */
const char *broker_proc_dir(const struct broker_proc *bp);       /* temp dir */
const char *broker_proc_data_dir(const struct broker_proc *bp);  /* log.dirs */
const char *broker_proc_log_path(const struct broker_proc *bp);
/* Returns new: the whole log file (NUL-terminated), or NULL. */
char *broker_proc_log(const struct broker_proc *bp);
/* Prints the last n lines of the log to stderr (diagnostics). */
void broker_proc_log_tail(const struct broker_proc *bp, int n);

/* ---- shell ---- */

/* Runs `/bin/sh -c cmd` (stdin /dev/null unless cmd redirects; stderr goes
 * to the test's stderr), capturing stdout. *out (returns new, NUL-
 * terminated; may be NULL to discard) and *out_len (may be NULL). Kills
 * the command's process group after timeout_s. Returns the exit code
 * (0..255), 128 + signal if it died of a signal, -1 if it could not run,
 * -2 on timeout. */
int harness_sh(const char *cmd, char **out, size_t *out_len, int timeout_s);
/* Like harness_sh() with a printf-style command (no output capture other
 * than into *out). */
int harness_shf(char **out, int timeout_s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Returns new: a fresh directory under $TMPDIR (default /tmp), or NULL. */
char *harness_mkdtemp(const char *prefix);
/* rm -rf path (no-op for NULL). */
void harness_rmtree(const char *path);
/* True if 127.0.0.1:port accepts a TCP connection. */
bool harness_port_open(int port);
/* Returns a currently free loopback TCP port, or -1. */
int harness_free_port(void);
/* Path of a built binary: $GREGOR_BUILD_DIR/bin/<name> into buf. */
const char *harness_bin_path(const char *name, char *buf, size_t n);

/* ---- cluster fixture ---- */

#define TCLUSTER_MAX_BROKERS 8

struct tcluster {
    struct zk_server *zk;                             /* owned */
    int n;                                            /* brokers */
    struct broker_proc *broker[TCLUSTER_MAX_BROKERS]; /* owned; ids 0..n-1 */
    char bootstrap[TCLUSTER_MAX_BROKERS * 24];        /* "127.0.0.1:P1,127.0.0.1:P2" */
};

/* Starts a ZooKeeper and n brokers (ids 0..n-1), each with overrides
 * (borrowed, NULL-terminated, may be NULL). Returns new (tcluster_free()) or
 * NULL with everything already started torn down. */
struct tcluster *tcluster_start(int n, const char *const *overrides);
/* Stops brokers (SIGTERM, 10 s, then SIGKILL), then ZooKeeper; NULL ok.
 * Returns how many brokers did not exit with status 0 (died earlier, or
 * exited non-zero / by a signal after SIGTERM); their log tails are printed. */
int tcluster_free(struct tcluster *c);
/* zk_server_connect() of the cluster's ZooKeeper (borrowed). */
const char *tcluster_zk_connect(const struct tcluster *c);

/*
 * One cluster per test process for Criterion suites:
 *   static void up(void) { cr_assert(tcluster_fixture_up(1, NULL)); }
 *   static void down(void) { cr_expect_eq(tcluster_fixture_down(), 0); }
 *   TestSuite(x, .init = up, .fini = down, .timeout = 120);
 *   ... tcluster_fixture()->bootstrap ...
 */
struct tcluster *tcluster_fixture_up(int n, const char *const *overrides);
struct tcluster *tcluster_fixture(void);
/* tcluster_free() of the fixture; returns its unclean count (wrap it in a
 * void function for .fini, like tests/integration's itest_fixture_down(),
 * which fails the test on an unclean broker exit). */
int tcluster_fixture_down(void);

#endif
