/*
 * broker/storage/cleaner_checkpoint.h — `cleaner-offset-checkpoint` of a
 * data directory: for each compacted partition log in it, the offset below
 * which the log is clean (the first dirty offset of the next pass). Kafka's
 * text format, the same as the other offset checkpoints (logdir.h):
 * "0\n<count>\n<topic> <partition> <offset>\n"..., replaced atomically.
 *
 * Threads: any; a process-wide mutex serialises the read-modify-write of
 * a file by the cleaner threads.
 */
#ifndef GREGOR_BROKER_STORAGE_CLEANER_CHECKPOINT_H
#define GREGOR_BROKER_STORAGE_CLEANER_CHECKPOINT_H

#include "common/base.h"
#include "common/err.h"

#define CLEANER_CKPT_FILE "cleaner-offset-checkpoint"

/* The entry of (topic, partition) in data_dir's file: KERR_NONE with
 * *offset, KERR__NOENT (no file or no entry), KERR__CORRUPT. */
kerr_t cleaner_ckpt_get(const char *data_dir, const char *topic, int32_t partition,
                        int64_t *offset);
/* Sets the entry (offset >= 0) or removes it (offset < 0), keeping the
 * other entries; a corrupt file is replaced (logged). */
kerr_t cleaner_ckpt_set(const char *data_dir, const char *topic, int32_t partition, int64_t offset);

#endif
