/*
 * broker/core/broker.h — struct broker: the broker's shared state and the
 * services every layer above replication/ reaches through it (topics,
 * metadata cache, replica manager, admin worker, ZooKeeper store, counters).
 * server.c (broker root) creates it and runs the start-up / shutdown order;
 * the layers see the services through this header only (docs/architecture.md §2).
 *
 * Threads: main thread (listeners, signals), num.network.threads network
 * workers (connections and request handling), one admin worker (ZooKeeper
 * writes for topic creation/deletion, broker-list refresh). Fields set
 * before the workers start are immutable afterwards unless a comment names
 * their lock. Fields of types from layers above core/ (listeners, HTTP) are
 * opaque here and used by server.c only.
 */
#ifndef GREGOR_BROKER_CORE_BROKER_H
#define GREGOR_BROKER_CORE_BROKER_H

#include "broker/config/config.h"
#include "broker/config/dynamic.h"
#include "broker/config/metrics.h"
#include "broker/config/topic_config.h"
#include "broker/replication/throttle.h"
#include "broker/replication/topics.h"
#include "broker/txn/txn_stats.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct log_checkpoints;
struct worker;
struct zk_store;
struct producer_ids;
struct listeners;
struct event_base;
struct event;
struct evhttp;
struct console;
struct controller;
struct metadata_cache;
struct fetchers;
struct replica_manager;
struct cleaner_pool;
struct group_runtime;
struct txn_runtime;
struct authorizer;
struct quotas;

/* A live broker as clients should reach it on one listener. */
struct broker_endpoint {
    char listener[32];
    char host[256];
    int port;
};
struct broker_info {
    int32_t id;
    char rack[64];
    int n_endpoints;
    struct broker_endpoint ep[CONFIG_MAX_LISTENERS];
};

struct broker {
    const struct broker_config *cfg; /* borrowed, immutable */
    int32_t id;                      /* broker.id (resolved) */
    char cluster_id[64];
    const char *data_dir; /* borrowed from cfg */
    /* effective topic defaults (static + dynamic configs): written only by
     * the admin worker after start (dyncfg.c) */
    struct topic_config topic_defaults;
    struct topics *topics; /* owned */
    struct zk_store *zk;   /* owned; used on the admin worker only after start */
    int64_t broker_epoch;  /* czxid of our registration; __atomic loads and
                                          stores (start-up writes, admin worker reads) */
    int64_t zk_lost_epoch; /* the broker epoch whose ZooKeeper session expired, until an
                              UpdateMetadata for a newer registration is applied; 0: none
                              (broker.c; __atomic, any thread) */
    int logdir_lock_fd;
    struct recovery_points recovery; /* start-up log recovery points (log_manager.c) */
    struct log_checkpoints *ckpt;    /* owned: checkpoints read at start-up */
    int64_t recovery_start_us;       /* start-up: when log loading began (mono) */
    struct worker *bg;               /* owned: background worker (retention, flush,
                                          checkpoints) */
    struct event *retention_ev, *flush_ev, *ckpt_ev, *hw_ckpt_ev; /* bg worker only */
    struct cleaner_pool *cleaner; /* owned: log cleaner threads; NULL when disabled */
    struct event *cleaner_ev;     /* bg worker only: registers compacted logs */
    struct worker **net;          /* owned: network workers */
    int n_net;
    struct worker **io; /* owned: io workers (num.io.threads): large produce appends */
    int n_io;
    struct worker *admin;              /* owned: admin worker */
    struct event_base *main_base;      /* owned: main thread */
    struct listeners *listeners;       /* owned: main thread */
    struct evhttp *http;               /* owned: main thread (broker/http) */
    struct console *console;           /* owned: main thread (broker/http/console.c) */
    struct metrics metrics;            /* counters, any thread (atomics) */
    struct worker *ctrl_worker;        /* owned: the controller's loop */
    struct controller *controller;     /* owned: this broker's controller candidate */
    struct metadata_cache *mc;         /* owned: cluster view from UpdateMetadata */
    struct fetchers *fetchers;         /* owned: replica fetchers */
    struct replica_manager *rm;        /* owned: control-plane state (admin worker) */
    struct group_runtime *groups;      /* owned: the group coordinator (core/group_runtime.c) */
    struct txn_runtime *txns;          /* owned: transaction tables (core/txn_runtime.c) */
    struct txn_stats txn_stats;        /* the tables' counters (txn_stats.h), any thread */
    struct producer_ids *pids;         /* owned: idempotent producer ids (core/producer_ids.c) */
    struct authorizer *authz;          /* owned: ACL checks (core/acl_store.c); NULL when
                                          authorizer.class.name is empty; the pointer is
                                          immutable after start-up */
    int64_t acl_changes_seen;          /* the ACL change lists' state
                                          (zk_store_acl_changes_version()) read before the
                                          ACLs were last loaded, -1 unknown (admin worker
                                          after start; core/acl_store.c) */
    int64_t config_seq;                /* newest /config/changes handled (admin worker
                                          after start; config_watch.c) */
    int32_t zk_controller_id;          /* the active controller as ZooKeeper names it,
                                          -1: none (admin worker; controller_watch.c) */
    int32_t zk_controller_epoch;       /* /controller_epoch as last read (same) */
    atomic_bool offsets_topic_pending; /* a creation of __consumer_offsets is queued (admin.c) */
    atomic_bool txn_topic_pending;     /* a creation of __transaction_state is queued (admin.c) */
    /* Control requests (kafka/control.c) post to the admin worker and the
     * controller's loop under the read lock, while control_open; shutdown
     * clears it under the write lock before those loops go away. */
    pthread_rwlock_t control_gate;
    bool control_open;

    /* advertised.c: hosts of advertised.listeners that did not resolve at
     * the last advertised_check(), under advertised_lock */
    pthread_mutex_t advertised_lock;
    int advertised_bad;       /* how many */
    char advertised_why[384]; /* the first: "listener L host H: reason" */
    /* the re-check thread (advertised_watch_start()); the flag and the
     * condition under advertised_lock, the thread handle main thread only */
    pthread_cond_t advertised_cond;
    bool advertised_stop;
    bool advertised_running;
    pthread_t advertised_thread;

    pthread_mutex_t brokers_lock; /* guards live/n_live */
    struct broker_info *live;     /* live brokers, sorted by id */
    int n_live;

    /* run-time settings (config/dynamic.h: the live values of the dynamic
     * broker configs), any thread (atomics; stored by core/dyncfg.c) */
    struct broker_dynamic dyn;
    /* bytes of leader-throttled replicas answered to followers
     * (kafka/fetch.c, docs/architecture.md §6); its own lock, any thread */
    struct throttle_meter leader_throttle;
    /* client quotas (core/quotas.h: its own locks, any thread); made before
     * the listeners open, freed after the network loops are gone */
    struct quotas *quotas;
};

/* The endpoint of broker bi that clients of this listener should use: the
 * one with the same listener name, else the broker's first. */
const struct broker_endpoint *broker_endpoint_for(const struct broker_info *bi,
                                                  const char *listener);

/* Copies the live broker list (under brokers_lock). Returns new array. */
struct broker_info *broker_live_brokers(struct broker *b, int *n);

/* ZooKeeper session trust (docs/architecture.md §3, "A broker back from a
 * partition"). broker_session_expired(): the session of the current
 * registration is gone (admin worker, before registering again).
 * broker_controller_heard(): an UpdateMetadata passed the fences for the
 * current registration (admin worker); it ends the doubt once that
 * registration is newer than the expired one. */
void broker_session_expired(struct broker *b);
void broker_controller_heard(struct broker *b);

/* True while this broker cannot vouch for the leaderships it holds: its
 * ZooKeeper session is not connected or ZooKeeper has not answered for two
 * thirds of the session timeout, or the session expired and no controller
 * has spoken to the new registration yet. Any thread. */
bool broker_leadership_unconfirmed(struct broker *b);

/* For /readyz: writes why the session is known or presumed lost (expired
 * and not yet confirmed again; or nothing heard from ZooKeeper for longer
 * than zookeeper.session.timeout.ms) into why and returns true; false when
 * neither holds. Any thread. */
bool broker_session_lost(struct broker *b, char *why, size_t len);

#endif
