/*
 * cli/mirror.h — shared declarations of `gregor mirror` (mirror.c: the copy
 * loop; mirror_offsets.c: the offsets topic on the target and the offset
 * translation; mirror_metrics.c: the /metrics HTTP endpoint) and of the
 * checkpoint reader `gregor group reset-offsets --to-mirror` uses.
 *
 * The offsets topic MIRROR_OFFSETS_TOPIC on the target (1 partition,
 * cleanup.policy=compact) holds two kinds of records, keys and values in
 * ASCII, written only inside the mirror's transactions:
 *   key "position ALIAS SRC_TOPIC PARTITION"
 *     value "SRC_NEXT TGT_NEXT": every source record below SRC_NEXT is on
 *     the target (committed in the same transaction as this record), and
 *     the next one mirrored lands at TGT_NEXT or later.
 *   key "checkpoint ALIAS TGT_TOPIC PARTITION GROUP" (GROUP: the rest of the
 *     key, may hold spaces)
 *     value "TGT_OFFSET SRC_OFFSET": the group committed SRC_OFFSET on the
 *     source; TGT_OFFSET is the matching position on the target.
 * Topic names and the alias never hold spaces (Kafka's topic name alphabet).
 *
 * Threads: everything on the main thread, except mirror_metrics.c's HTTP
 * thread, which reads struct mr_part counters under mirror->lock.
 */
#ifndef GREGOR_CLI_MIRROR_H
#define GREGOR_CLI_MIRROR_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/cli.h"
#include "cli/group_plan.h"

#define MIRROR_OFFSETS_TOPIC "__gregor_mirror_offsets"
#define MIRROR_ALIAS_MAX 100

/* One pair of the offset translation: the source record at `src` is at
 * `tgt` on the target. */
struct mr_sync {
    int64_t src, tgt;
};

/* One mirrored partition. */
struct mr_part {
    char *src_topic, *dst_topic; /* owned */
    int32_t partition;
    int64_t committed;      /* next source offset; below it all is on the target (-1: none yet) */
    int64_t tgt_next;       /* target offset after the last mirrored record (-1: unknown) */
    int64_t records, bytes; /* copied by this process (committed transactions) */
    int64_t lag;            /* source high watermark - committed, -1 unknown */
    /* offsets of the open transaction: source offsets produced, in order,
     * and the target offsets their delivery reports gave */
    int64_t *pend_src;
    struct mr_sync *pend;
    size_t npend_src, npend, cap_src, cap_pend;
    int64_t pend_bytes;
    bool failed;           /* a delivery report of the transaction failed */
    struct mr_sync *syncs; /* committed translation pairs, ascending */
    size_t nsyncs, cap_syncs;
};

struct mirror {
    pthread_mutex_t lock; /* guards parts/nparts and the counters for the HTTP thread */
    struct mr_part *parts;
    size_t nparts, cap_parts;
    const char *alias;
    int64_t sessions; /* sessions started (1 + restarts after errors) */
    bool up;          /* a session is copying */
};

/* ---- mirror_offsets.c ---------------------------------------------------- */

/* Returns the partition, adding it (with committed = -1) when absent; NULL
 * when out of memory. Caller holds m->lock. */
struct mr_part *mr_part_get(struct mirror *m, const char *src_topic, const char *dst_topic,
                            int32_t partition);

/* Finds a partition by source topic and number, NULL when absent. */
struct mr_part *mr_part_find(struct mirror *m, const char *src_topic, int32_t partition);

/* Adds a translation pair (ascending src); keeps at most a bounded number,
 * dropping the oldest half when full. */
void mr_sync_add(struct mr_part *p, int64_t src, int64_t tgt);

/* The target offset for source offset `src` (a group's committed offset),
 * or -1 when the pairs kept cannot tell (older than the oldest). */
int64_t mr_translate(const struct mr_part *p, int64_t src);

/* Reads the offsets topic on the target through a read_committed consumer
 * made from `conf` (taken) and sets committed/tgt_next of every partition of
 * `alias` that has a position record (creating entries for them). CLI_OK or
 * CLI_FAIL after a warning. */
int mr_positions_load(struct cli *cli, struct mirror *m, rd_kafka_conf_t *conf);

/* Produces the position record of p (inside the open transaction). */
rd_kafka_resp_err_t mr_position_produce(rd_kafka_t *prod, const char *alias,
                                        const struct mr_part *p);

/* Produces a checkpoint record (inside the open transaction). */
rd_kafka_resp_err_t mr_checkpoint_produce(rd_kafka_t *prod, const char *alias, const char *group,
                                          const char *dst_topic, int32_t partition, int64_t tgt,
                                          int64_t src);

/*
 * Reads the checkpoints of `group` written by the mirror `alias` from the
 * offsets topic of the cluster cli->bootstrap points at, into u (group,
 * parts with topic, partition and target = the translated offset); only
 * topics for which want_topic() is true (NULL: all). CLI_OK, or CLI_FAIL
 * after printing (also when there are none).
 */
int mr_checkpoints_read(struct cli *cli, const char *alias, const char *group,
                        bool (*want_topic)(void *ctx, const char *topic), void *ctx,
                        struct gp_undo *u);

/* ---- mirror_metrics.c ---------------------------------------------------- */

/* Starts the HTTP thread serving GET /metrics on addr:port. CLI_OK or
 * CLI_FAIL after printing. */
int mr_metrics_start(struct mirror *m, const char *addr, int port);
void mr_metrics_stop(void);

#endif
