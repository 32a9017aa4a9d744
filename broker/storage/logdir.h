/*
 * broker/storage/logdir.h — files of a log directory as a whole (docs/architecture.md
 * §5): `meta.properties` (identity), the exclusive `.lock`, the clean-
 * shutdown marker `.gregor_clean_shutdown`, and the offset checkpoint files
 * (`recovery-point-offset-checkpoint`, `replication-offset-checkpoint`,
 * `log-start-offset-checkpoint`) plus a partition's `leader-epoch-checkpoint`,
 * in Kafka's text formats so operators recognise them.
 *
 * Every file is replaced atomically: temp file, fsync, rename, fsync dir.
 * Threads: start-up and the background loop; no shared state.
 */
#ifndef GREGOR_BROKER_STORAGE_LOGDIR_H
#define GREGOR_BROKER_STORAGE_LOGDIR_H

#include "common/base.h"
#include "common/err.h"
#include "common/names.h"

#define LOGDIR_META_FILE "meta.properties"
#define LOGDIR_LOCK_FILE ".lock"
#define LOGDIR_CLEAN_FILE ".gregor_clean_shutdown"
#define LOGDIR_RECOVERY_CKPT "recovery-point-offset-checkpoint"
#define LOGDIR_REPLICATION_CKPT "replication-offset-checkpoint"
#define LOGDIR_LOG_START_CKPT "log-start-offset-checkpoint"
#define LOGDIR_EPOCH_CKPT "leader-epoch-checkpoint"
#define LOGDIR_ID_LEN 22 /* base64url of 16 random bytes, unpadded */

/* Contents of meta.properties. Plain value. */
struct logdir_meta {
    int32_t version;                      /* 0 */
    int32_t broker_id;                    /* -1 = not recorded */
    char cluster_id[64];                  /* "" = not recorded */
    char directory_id[LOGDIR_ID_LEN + 1]; /* "" = not recorded */
};

/* Takes the exclusive lock on dir/.lock (created if missing) with
 * flock(LOCK_EX | LOCK_NB). *fd_out receives the descriptor, to keep open
 * for the process lifetime (logdir_unlock() releases). KERR__EXISTS (with
 * a message in err) when another process holds it; KERR__IO otherwise. */
kerr_t logdir_lock(const char *dir, int *fd_out, char *err, size_t errlen);
/* Releases and closes a lock fd from logdir_lock(); -1 is a no-op. */
void logdir_unlock(int fd);

/* Reads dir/meta.properties into *m. KERR__NOENT if missing, KERR__CORRUPT
 * if it cannot be parsed (missing version, bad numbers). */
kerr_t logdir_meta_read(const char *dir, struct logdir_meta *m);
/* Writes dir/meta.properties atomically. */
kerr_t logdir_meta_write(const char *dir, const struct logdir_meta *m);
/* Fills out with a new random 22-character base64url id (NUL-terminated). */
kerr_t logdir_new_id(char out[LOGDIR_ID_LEN + 1]);
/* Compares a read meta with this broker's identity; a field that either
 * side does not know (-1 / "") is not compared. KERR__INVALID with a
 * message naming both values on a mismatch. */
kerr_t logdir_meta_check(const struct logdir_meta *m, int32_t broker_id, const char *cluster_id,
                         char *err, size_t errlen);
/* Start-up helper: reads meta.properties (creating it with a new directory
 * id if missing), checks it against broker_id/cluster_id, fills in the
 * fields the file did not record yet and rewrites it if it changed. *out
 * (may be NULL) receives the final contents. */
kerr_t logdir_meta_ensure(const char *dir, int32_t broker_id, const char *cluster_id,
                          struct logdir_meta *out, char *err, size_t errlen);

/* Clean-shutdown marker: created (and dir fsynced) as the last step of a
 * clean shutdown, checked and removed at start. */
kerr_t logdir_clean_shutdown_mark(const char *dir);
bool logdir_clean_shutdown_exists(const char *dir);
kerr_t logdir_clean_shutdown_clear(const char *dir);

/* One line of an offset checkpoint file. Plain value. */
struct logdir_ckpt_entry {
    char topic[TOPIC_NAME_MAX_LEN + 1];
    int32_t partition;
    int64_t offset;
};

/* Offset checkpoint file: "0\n<count>\n<topic> <partition> <offset>\n"...
 * Written atomically. n may be 0. */
kerr_t logdir_ckpt_write(const char *path, const struct logdir_ckpt_entry *e, int n);
/* Reads a checkpoint; *out returns new (free()), *n entries. A missing file
 * is KERR__NOENT; a malformed one KERR__CORRUPT. */
kerr_t logdir_ckpt_read(const char *path, struct logdir_ckpt_entry **out, int *n);

/* One line of a leader-epoch-checkpoint. Plain value. */
struct logdir_epoch_entry {
    int32_t epoch;        /* leader epoch */
    int64_t start_offset; /* first offset written in that epoch */
};

/* leader-epoch-checkpoint: "0\n<count>\n<epoch> <start_offset>\n"...
 * Written through a temporary file and a rename; durable: fsynced too, as
 * the other checkpoints (without: whole for readers and across a crash of
 * the process, not of the machine). */
kerr_t logdir_epoch_ckpt_write(const char *path, const struct logdir_epoch_entry *e, int n,
                               bool durable);
/* *out returns new (free()). KERR__NOENT / KERR__CORRUPT as above. */
kerr_t logdir_epoch_ckpt_read(const char *path, struct logdir_epoch_entry **out, int *n);

#endif
