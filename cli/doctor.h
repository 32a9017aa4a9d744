/*
 * cli/doctor.h — shared state of `gregor doctor` (docs/cli.md, "doctor";
 * docs/operations.md, "gregor doctor"): the findings list that the checks
 * fill and doctor.c prints, and what the Kafka-side checks
 * (doctor_kafka.c) learn for the ZooKeeper-side checks (doctor_zk.c).
 *
 * A finding: severity (error, warning, info), a stable id
 * ("listener.unresolvable"), a subject ("broker 2", "topic t"), one
 * sentence saying what is wrong and one saying how to fix it.
 *
 * Threads: main thread only.
 */
#ifndef GREGOR_CLI_DOCTOR_H
#define GREGOR_CLI_DOCTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "cli/cli.h"

enum dr_sev { DR_INFO = 0, DR_WARNING = 1, DR_ERROR = 2 };

struct dr_finding {
    enum dr_sev sev;
    char id[48];
    char subject[160];
    char message[600];
    char fix[400];
};

#define DR_MAX_BROKERS 64

/* A broker as the Kafka-side checks saw it. */
struct dr_broker {
    int32_t id;
    char host[256];
    int port;
    bool reachable;       /* a Kafka connection worked from here */
    int replicas;         /* partition replicas it hosts (metadata) */
    char zk_connect[512]; /* its zookeeper.connect (DescribeConfigs), "" if unknown */
};

struct doctor {
    struct cli *cli;
    const char *zookeeper; /* --zookeeper, or NULL: the brokers' zookeeper.connect */
    int64_t max_skew_ms;   /* --max-clock-skew-ms */
    struct dr_finding *f;  /* owned */
    int n, cap;
    int nbrokers; /* from the metadata; 0 when no broker answered */
    struct dr_broker brokers[DR_MAX_BROKERS];
    int32_t controller_md;  /* controller per librdkafka's metadata, -1 if none */
    int topics, partitions; /* counted by the Kafka checks */
    int zk_members, zk_up;  /* counted by the ZooKeeper checks */
};

/* Adds a finding; message is printf-style. Out of memory drops it. */
void dr_add(struct doctor *d, enum dr_sev sev, const char *id, const char *subject, const char *fix,
            const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* The Kafka-side checks (doctor_kafka.c): listeners, controller, partition
 * health, replication factors, min.insync.replicas, log dir space, broker
 * config drift. Fills d->brokers. */
void dr_check_kafka(struct doctor *d);

/* The ZooKeeper-side checks (doctor_zk.c): members reachable and serving,
 * quorum, the controller znode, clock skew from the broker registrations,
 * and `ulimit -n` of brokers running on this host. */
void dr_check_zk(struct doctor *d);

/* The advertised endpoints ("host:port,...") of every broker registered in
 * the --zookeeper ensemble into out; false when there is no --zookeeper,
 * no session, or no registration. */
bool dr_zk_bootstrap(struct doctor *d, char *out, size_t n);

/* doctor.c: `gregor doctor`. */
int doctor_main(struct cli *cli, int argc, char **argv);

#endif
