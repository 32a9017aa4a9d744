/*
 * tests/integration/icluster.h — helpers for the tests that run three
 * brokers (test_cluster.c, test_cluster_configs.c): a partition as one
 * broker's Metadata shows it, waiting for a condition on it, acks=all
 * produce, and running the gregor CLI.
 *
 * Like itest.h, helpers return a status and never assert.
 */
#ifndef GREGOR_TESTS_INTEGRATION_ICLUSTER_H
#define GREGOR_TESTS_INTEGRATION_ICLUSTER_H

#include <stdbool.h>
#include <stdint.h>

struct tcluster;

/* One partition as a broker's Metadata shows it. */
struct pinfo {
    int32_t leader;
    int n_replicas, n_isr;
    int32_t replicas[8], isr[8];
};

/* Monotonic seconds. */
double icluster_now(void);

/* Metadata of `topic` from the broker at bootstrap (a single broker) into
 * out[0..max) by partition id; *controller (may be NULL) the controller it
 * names. Returns the partition count, or -1. Never auto-creates the topic. */
int icluster_describe(const char *bootstrap, const char *topic, struct pinfo *out, int max,
                      int32_t *controller);

/* Waits up to timeout_s until partition p of topic, seen from broker index
 * `via` of tc, satisfies want(pinfo, arg). */
bool icluster_wait_for(struct tcluster *tc, int via, const char *topic, int p,
                       bool (*want)(const struct pinfo *, int), int arg, int timeout_s);

/* want() predicates: a live leader other than broker id `arg`; a leader
 * and an ISR of `arg` members; no leader; led by broker id `arg`. */
bool icluster_led_by_other_than(const struct pinfo *pi, int id);
bool icluster_isr_size_is(const struct pinfo *pi, int n);
bool icluster_offline(const struct pinfo *pi, int unused);
bool icluster_led_by(const struct pinfo *pi, int id);

/* Produces n records (itest_produce()) with acks=all through bootstrap;
 * returns how many were acknowledged. */
int icluster_produce_acked(const char *bootstrap, const char *topic, int32_t partition, int n,
                           int timeout_s);

/* Runs `gregor --bootstrap-server <bootstrap> <args...>` (printf-style
 * args); *out (may be NULL) gets its output (free()). Returns its exit
 * status, -1 when it could not run. */
int icluster_cli(char **out, const char *bootstrap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
