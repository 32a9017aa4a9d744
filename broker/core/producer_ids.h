/*
 * broker/core/producer_ids.h — producer ids for idempotent producers
 * (InitProducerId with a null transactional id), served by every broker.
 *
 * Ids come from blocks of ZK_PRODUCER_ID_BLOCK_SIZE claimed in ZooKeeper
 * (/latest_producer_id_block, controller/zk/zk_store_pid.c), so no two
 * brokers, and no two incarnations of one broker, hand out the same id. A
 * claim runs on the admin worker, never on a network loop: the first at
 * start, the next once 90 % of the current block is used. While no id is
 * left (ZooKeeper unreachable, or the first claim not done yet) a request is
 * answered COORDINATOR_LOAD_IN_PROGRESS (retriable) at once and another claim
 * is posted, at most one a second.
 *
 * Epochs: the broker remembers the epoch of every id it handed out or bumped
 * (in memory, up to PIDS_EPOCHS_MAX ids; the table is cleared when full). A
 * re-init naming (id, epoch) (InitProducerId v3+, KIP-360) with the
 * remembered epoch bumps it, same id; at epoch 32766 it gets a new id at
 * epoch 0. Naming the epoch before the remembered one answers the remembered
 * epoch again (a retry whose response was lost). Any other epoch is fenced:
 * PRODUCER_FENCED for v4+, INVALID_PRODUCER_EPOCH before. An id this broker
 * does not remember (handed out by another broker, or before a restart)
 * gets a new id at epoch 0, as Kafka answers every idempotent re-init.
 *
 * Threads: pids_init() from any thread (a mutex); claims on the admin
 * worker. The pid_alloc and pid_epochs parts below are pure (no locks, no
 * ZooKeeper) and unit-tested on their own.
 */
#ifndef GREGOR_BROKER_CORE_PRODUCER_IDS_H
#define GREGOR_BROKER_CORE_PRODUCER_IDS_H

#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct broker;
struct producer_ids;

#define PIDS_EPOCH_MAX 32767      /* INT16_MAX: Kafka's epochs are int16 */
#define PIDS_EPOCHS_MAX (1 << 16) /* remembered ids per broker */
#define PIDS_PREFETCH_PCT 90      /* claim the next block at this use of the current one */

/* ---- pure allocator: the current block and a prefetched next one ------- */

struct pid_range {
    int64_t start, end; /* inclusive; start > end: empty */
};

struct pid_alloc {
    struct pid_range cur;  /* ids being handed out */
    int64_t next_id;       /* next id of cur */
    struct pid_range next; /* prefetched block, empty if none */
};

void pid_alloc_init(struct pid_alloc *a);
/* Takes the next id: KERR_NONE, or KERR_COORDINATOR_LOAD_IN_PROGRESS when
 * both blocks are used up. Moves to the prefetched block when cur is done. */
kerr_t pid_alloc_take(struct pid_alloc *a, int64_t *id);
/* True when a new block should be claimed: no prefetched block and the
 * current one is used up to PIDS_PREFETCH_PCT (or empty). */
bool pid_alloc_wants_block(const struct pid_alloc *a);
/* Adds a claimed block (as cur when cur is used up, else as next). */
void pid_alloc_add(struct pid_alloc *a, struct pid_range r);

/* ---- pure epoch table ---------------------------------------------------- */

struct pid_epochs {
    int64_t *ids;   /* open addressing; -1: free slot */
    int16_t *epoch; /* epoch of ids[i] */
    size_t cap;     /* a power of two */
    size_t n;
};

bool pid_epochs_init(struct pid_epochs *t, size_t cap);
void pid_epochs_destroy(struct pid_epochs *t);
/* Remembers (id, epoch); clears the table first when it is 3/4 full. */
void pid_epochs_put(struct pid_epochs *t, int64_t id, int16_t epoch);
/* The remembered epoch of id, or -1. */
int16_t pid_epochs_get(const struct pid_epochs *t, int64_t id);

/* What a re-init of (cur_id, cur_epoch) gets from the table (pure):
 * PIDS_NEW_ID (take a new id at epoch 0), PIDS_SAME (answer *epoch again:
 * a lost-response retry), PIDS_BUMP (*epoch is the bumped epoch, already
 * stored) or PIDS_FENCED. */
enum pids_decision { PIDS_NEW_ID, PIDS_SAME, PIDS_BUMP, PIDS_FENCED };
enum pids_decision pid_epochs_reinit(struct pid_epochs *t, int64_t cur_id, int16_t cur_epoch,
                                     int16_t *epoch);

/* ---- the broker's producer ids ------------------------------------------ */

/* Returns new, NULL on OOM. Uses b->zk (NULL: every claim fails), b->admin
 * and b->id. Main thread. */
struct producer_ids *pids_new(struct broker *b);
/* Posts the first block claim to the admin worker. Main thread, after the
 * admin worker started. */
void pids_start(struct producer_ids *p);
/* Hands p the ids start..end (inclusive) as if claimed: for brokers without
 * ZooKeeper (the fuzz target) and tests. Any thread. */
void pids_add_block(struct producer_ids *p, int64_t start, int64_t end);
/* Frees p; after the admin worker and the network loops stopped. NULL ok. */
void pids_free(struct producer_ids *p);

/* An idempotent InitProducerId: cur_id/cur_epoch are the request's (-1/-1
 * for a new producer or versions before 3). Returns KERR_NONE with *id and
 * *epoch, KERR_COORDINATOR_LOAD_IN_PROGRESS (no id available now),
 * KERR_PRODUCER_FENCED (api_version >= 4) or KERR_INVALID_PRODUCER_EPOCH.
 * Any thread; never blocks on ZooKeeper. */
kerr_t pids_init(struct producer_ids *p, int64_t cur_id, int16_t cur_epoch, int16_t api_version,
                 int64_t *id, int16_t *epoch);

#endif
