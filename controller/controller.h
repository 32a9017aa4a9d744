/*
 * controller/controller.h — the cluster controller (DESIGN.md §4), the only
 * controller header the broker includes.
 *
 * Every broker runs one; the one that wins the ephemeral /controller znode
 * is active. The active controller loads the cluster state from ZooKeeper,
 * elects partition leaders, and pushes state to the brokers with the
 * control RPCs (LeaderAndIsr, UpdateMetadata, StopReplica) over its
 * channels — also to its own broker, through the same TCP path.
 *
 * Threads: the controller is loop-owned by the event_base in its env; all
 * its work runs there. ZooKeeper watch callbacks only post to that loop.
 * The broker reaches it only through controller_*() calls, which post.
 */
#ifndef GREGOR_CONTROLLER_CONTROLLER_H
#define GREGOR_CONTROLLER_CONTROLLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct zk_store;
struct controller;

/* What the controller needs from its host process. Borrowed for the
 * controller's lifetime. */
struct controller_env {
    struct zk_store *zk;           /* shared store (synchronous calls) */
    int32_t broker_id;             /* this broker */
    struct event_base *base;       /* the controller's loop */
    /* Runs fn(arg) on base's thread; any thread may call it. */
    bool (*post)(void *ctx, void (*fn)(void *arg), void *arg);
    void *post_ctx;
    const char *listener;          /* inter-broker listener name */
    bool unclean_leader_election;  /* unclean.leader.election.enable */
};

/* Creates the controller (inactive). Returns new; free with controller_free(). */
struct controller *controller_new(const struct controller_env *env);
/* Starts taking part in elections (posts). Call after the broker registered. */
void controller_start(struct controller *c);
/* Resigns if active, closes its channels and ignores later events (posts;
 * call before stopping the loop). */
void controller_stop(struct controller *c);
/* Frees the memory. Only after the controller's loop has stopped (so no
 * posted job can still run). NULL ok. */
void controller_free(struct controller *c);
/* Tells the controller the ZooKeeper session was replaced (posts). */
void controller_session_renewed(struct controller *c);

#endif
