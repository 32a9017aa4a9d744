/*
 * controller/controller_int.h — the controller's state, shared by its files
 * (controller.c: election and events; ctrl_push.c: RPCs to brokers).
 * Loop-owned: every field is touched only on env.base's thread.
 */
#ifndef GREGOR_CONTROLLER_CONTROLLER_INT_H
#define GREGOR_CONTROLLER_CONTROLLER_INT_H

#include "controller/controller.h"
#include "controller/zk_store.h"

struct channel;

/* A topic as the controller knows it. */
struct ctopic {
    char name[ZK_TOPIC_NAME_MAX + 1];
    int n_parts;
    int rf;
    int32_t *replicas;                  /* n_parts * rf, owned */
    struct zk_partition_state *st;      /* n_parts, owned */
};

/* A live broker and the channel to it. */
struct cbroker {
    struct zk_broker_reg reg;
    struct channel *ch;                 /* owned */
};

struct controller {
    struct controller_env env;
    bool active;
    bool stopping;
    int32_t epoch;                      /* controller epoch while active */
    struct cbroker *brokers;            /* sorted by id, owned */
    int n_brokers;
    struct ctopic **topics;             /* owned, unsorted */
    int n_topics;
};

/* ctrl_push.c */
/* Sends every broker the full metadata (UpdateMetadata) and each replica
 * its partitions' states (LeaderAndIsr). */
void ctrl_push_all(struct controller *c);
/* Tells the replicas of t to stop and delete it (StopReplica). */
void ctrl_push_stop_topic(struct controller *c, const struct ctopic *t);
/* Opens channels to brokers that have none, closes those of gone brokers
 * (old[0..n_old) is the previous list, whose channels are reused or freed). */
void ctrl_sync_channels(struct controller *c, struct cbroker *old, int n_old);
void ctrl_close_channels(struct controller *c);

#endif
