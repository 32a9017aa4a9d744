/*
 * controller/controller_int.h — the controller's state, shared by its files
 * (controller.c: election, events, requests; ctrl_push.c: RPCs to brokers;
 * ctrl_isr.c: AlterIsr; ctrl_shutdown.c: ControlledShutdown;
 * ctrl_rebalance.c: preferred leader election and its timer;
 * ctrl_config.c: topic configs the controller acts on;
 * ctrl_reassign.c: partition reassignments).
 * Loop-owned: every field is touched only on env.base's thread, except
 * `active`, which any thread may read (controller_is_active()), and
 * `stats`, relaxed atomics written on the loop and read by any thread
 * (controller_get_stats()).
 */
#ifndef GREGOR_CONTROLLER_CONTROLLER_INT_H
#define GREGOR_CONTROLLER_CONTROLLER_INT_H

#include "common/base.h"
#include "controller/controller.h"
#include "controller/zk/zk_store.h"

#include <stdatomic.h>

struct channel;
struct event;
struct kbuf;

/* True on the controller's loop thread (or when env.on_loop is NULL);
 * loop-owned entry points start with KASSERT(CTRL_ON_LOOP(c)). */
#define CTRL_ON_LOOP(c) (!(c)->env.on_loop || (c)->env.on_loop((c)->env.post_ctx))

/* A topic as the controller knows it. */
struct ctopic {
    char name[TOPIC_NAME_MAX_LEN + 1];
    int n_parts;
    int rf;
    int32_t *replicas;             /* n_parts * rf, owned; rf is the longest row,
                                      shorter rows end in ZK_NO_REPLICA */
    int32_t *adding;               /* reassignments in progress (ctrl_reassign.c): */
    int32_t *removing;             /* rows as in replicas; NULL when none, owned */
    struct zk_partition_state *st; /* n_parts, owned */
    int8_t unclean;                /* unclean.leader.election.enable override:
                                           -1 none (the broker's), 0 false, 1 true */
};

/* The number of replicas of t's partition p (its row up to the padding). */
static inline int ctrl_row_len(const int32_t *rows, int rf, int p)
{
    int n = 0;
    while (rows && n < rf && rows[p * rf + n] != ZK_NO_REPLICA)
        n++;
    return n;
}

/* A live broker and the channel to it. */
struct cbroker {
    struct zk_broker_reg reg;
    struct channel *ch; /* owned */
    bool shutting_down; /* sent ControlledShutdown with this epoch */
};

/* A partition whose state changed, for targeted pushes. */
struct ctrl_tp {
    struct ctopic *t; /* borrowed from the controller */
    int p;
};

/* A growable list of changed partitions (duplicates allowed). */
struct ctrl_changes {
    struct ctrl_tp *v; /* owned */
    int n;
    size_t cap; /* room in v (common/vec.h) */
};

/* Decides the next state of t's partition p from its current state cur;
 * true when *out differs and must be written. */
typedef bool (*ctrl_decide_fn)(struct controller *c, const struct ctopic *t, int p,
                               const struct zk_partition_state *cur, void *ctx,
                               struct zk_partition_state *out);

/* What ctrl_stats.c publishes (see struct controller_stats). */
struct ctrl_stats {
    _Atomic int64_t topics, partitions, offline, imbalance, reassigning;
    _Atomic int32_t epoch;
    _Atomic uint64_t unclean_elections;
};

struct controller {
    struct controller_env env;
    atomic_bool active; /* any thread may read */
    bool stopping;
    int32_t epoch;           /* controller epoch while active */
    struct cbroker *brokers; /* sorted by id, owned */
    int n_brokers;
    struct ctopic **topics; /* owned, unsorted */
    int n_topics;
    size_t topics_cap;             /* room in topics (common/vec.h) */
    struct event *rebalance_timer; /* owned (ctrl_rebalance.c); NULL when off */
    int64_t config_seq;            /* newest /config/changes notification handled */
    int8_t unclean_dynamic;        /* unclean.leader.election.enable as a dynamic broker
                                      config (own broker's, else the default's): 1, 0,
                                      -1 = none (env's static value); ctrl_config.c */
    struct ctrl_stats stats;
};

/* controller.c */
/* Live broker ids (eligible_only: without those shutting down). Returns
 * new (free()), NULL on OOM; *n the count. */
int32_t *ctrl_live_ids(const struct controller *c, bool eligible_only, int *n);
struct ctopic *ctrl_find_topic(struct controller *c, const char *name);
/* Returns borrowed (valid until the broker list is reloaded) or NULL. */
struct cbroker *ctrl_find_broker(struct controller *c, int32_t id);
/* Re-reads /brokers/ids; if the set changed, settles and pushes like a
 * watch event would. */
void ctrl_refresh_brokers(struct controller *c);
/* Decides with fn and writes t's partition p conditionally, re-reading and
 * deciding again on a version conflict (3 attempts). *changed tells whether
 * a new state was written (memory updated). KERR_NOT_CONTROLLER: fenced
 * (the caller resigns with ctrl_resign()); KERR__EXISTS: still conflicting;
 * other errors from zk_store. */
kerr_t ctrl_update_partition(struct controller *c, struct ctopic *t, int p, ctrl_decide_fn fn,
                             void *ctx, bool *changed);
/* The same for many partitions at once: decides each of v[0..n) with fn and
 * writes the changed states in one pipelined batch
 * (zk_store_partition_states_set_many()); the ones that conflicted are
 * re-read (one batch) and decided again, up to 3 attempts in all, as the
 * single call does. Written partitions are updated in memory, logged and
 * appended to changes (may be NULL). errs[i] / changed[i] (either may be
 * NULL) get what ctrl_update_partition() would return for v[i].
 * KERR_NOT_CONTROLLER when fenced (some may have been written before:
 * the caller resigns), KERR__NOMEM, otherwise KERR_NONE. */
kerr_t ctrl_update_partitions(struct controller *c, const struct ctrl_tp *v, int n,
                              ctrl_decide_fn fn, void *ctx, struct ctrl_changes *changes,
                              kerr_t *errs, bool *changed);
void ctrl_resign(struct controller *c, const char *why);
/* Checks a request's broker epoch against the broker's registration
 * (re-reading /brokers/ids once when it does not match, in case the watch
 * has not fired yet). KERR_NONE, KERR_STALE_BROKER_EPOCH, or
 * KERR_NOT_CONTROLLER when the controller resigned meanwhile. */
kerr_t ctrl_check_broker_epoch(struct controller *c, int32_t id, int64_t epoch);
/* Settles the partitions in todo (as after a broker change: elections
 * from the ISR, unclean where the topic allows it), writes the changed
 * ones and pushes them; resigns when fenced. */
void ctrl_settle_some(struct controller *c, const struct ctrl_changes *todo);
/* Appends (t, p) to ch; false on OOM. */
bool ctrl_changes_add(struct ctrl_changes *ch, struct ctopic *t, int p);
void ctrl_changes_destroy(struct ctrl_changes *ch);
/* Ends a batch of state writes: pushes ch (ctrl_push_changes()), or, when
 * fenced, resigns instead; then empties ch. */
void ctrl_push_or_resign(struct controller *c, struct ctrl_changes *ch, bool fenced);

/* ctrl_isr.c: decodes an AlterIsr request (borrowed) and appends the packed
 * response to out. */
void ctrl_alter_isr(struct controller *c, const uint8_t *body, size_t len, struct kbuf *out);
/* ctrl_shutdown.c: the same for ControlledShutdown. */
void ctrl_controlled_shutdown(struct controller *c, const uint8_t *body, size_t len,
                              struct kbuf *out);
/* ctrl_rebalance.c: arms the auto-rebalance timer (if configured) / disarms it. */
void ctrl_rebalance_start(struct controller *c);
void ctrl_rebalance_stop(struct controller *c);

/* ctrl_reassign.c */
/* Moves every partition of the reassignments in progress whose adding
 * replicas are all in the ISR to its target (call after ISR changes, on
 * election and on broker changes). */
void ctrl_reassign_progress(struct controller *c);
/* Arms the watch on /admin/reassign_partitions and starts what it holds
 * (call on election and when the watch fires). */
void ctrl_reassign_znode(struct controller *c);

/* Whether t's partition p is being reassigned (adding or removing replicas). */
bool ctrl_reassign_in_progress(const struct ctopic *t, int p);

/* ctrl_stats.c */
/* Recomputes the published gauges from the topic table (a walk of every
 * partition's in-memory state). Loop. */
void ctrl_stats_refresh(struct controller *c);
/* Counts an unclean election when next's leader was not in old's ISR. Loop. */
void ctrl_stats_count_state(struct controller *c, const struct zk_partition_state *old,
                            const struct zk_partition_state *next);

/* ctrl_config.c */
/* The topic's unclean.leader.election.enable override in zt's configs
 * (-1: none or not a boolean). */
int8_t ctrl_config_unclean_of(const struct zk_topic *zt);
/* Whether t may elect a leader from outside its ISR. */
bool ctrl_topic_unclean(const struct controller *c, const struct ctopic *t);
/* Arms the watch on /config/changes and remembers the newest notification
 * (call before loading topics). false on ZooKeeper errors. */
bool ctrl_config_start(struct controller *c);
/* The watch fired: re-arms it and applies the new notifications. */
void ctrl_config_changed(struct controller *c);

/* ctrl_push.c */
/* Sends every broker the full metadata (UpdateMetadata) and each replica
 * its partitions' states (LeaderAndIsr). */
void ctrl_push_all(struct controller *c);
/* Sends LeaderAndIsr for the changed partitions to their replicas, then the
 * full metadata (UpdateMetadata) to every broker. No-op when ch is empty. */
void ctrl_push_changes(struct controller *c, const struct ctrl_changes *ch);
/* Tells the replicas of t to stop and delete it (StopReplica). */
void ctrl_push_stop_topic(struct controller *c, const struct ctopic *t);
/* Tells broker id to stop (and with del, delete) its replica of t's
 * partition p (StopReplica). */
void ctrl_push_stop_partition(struct controller *c, const struct ctopic *t, int p, int32_t id,
                              bool del);
/* Opens channels to brokers that have none, closes those of gone brokers
 * (old[0..n_old) is the previous list, whose channels are reused or freed). */
void ctrl_sync_channels(struct controller *c, struct cbroker *old, int n_old);
void ctrl_close_channels(struct controller *c);

#endif
