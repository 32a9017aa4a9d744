/*
 * broker/storage/cleaner_swap.h — how a cleaned segment replaces the
 * segments it was made from, crash-safely (Kafka's replaceSegments), and
 * how a log directory is repaired at open after a crash in the middle.
 *
 * File sequence for a group whose first segment has base B:
 *   1. the cleaner writes and fsyncs <B>.log.cleaned, <B>.index.cleaned,
 *      <B>.timeindex.cleaned (no lock held);
 *   2. under the partition lock: the indexes, then the log, are renamed
 *      *.cleaned -> *.swap and the directory fsynced: from here the clean
 *      is committed;
 *   3. the old segments are retired (segment_remove(): renamed *.deleted,
 *      unlinked later by plog_sweep_deleted()); readers holding a dup()ed
 *      descriptor of an old .log keep reading it;
 *   4. the .swap files are renamed to their final names (indexes, then the
 *      log), the directory fsynced, and the new segment opened in place of
 *      the old ones in the plog's array.
 *
 * Recovery at open (cleaner_swap_recover(), before the segments are
 * listed): every *.cleaned file is deleted (step 1 or 2 interrupted: the
 * old segments are intact); for every <B>.log.swap, whose last offset L is
 * read from its batch headers, every segment <b>.log with B <= b <= L (the
 * old ones not yet retired) is deleted with its indexes, then the .swap
 * files of B are renamed into place (step 2 done, 3 or 4 interrupted); an
 * index .swap without its .log.swap is deleted (rebuilt at load).
 *
 * Threads: cleaner_swap_install() under the partition lock on a cleaner
 * thread; cleaner_swap_recover() from plog_open() (the log not shared yet).
 */
#ifndef GREGOR_BROKER_STORAGE_CLEANER_SWAP_H
#define GREGOR_BROKER_STORAGE_CLEANER_SWAP_H

#include "common/base.h"
#include "common/err.h"

struct plog;
struct segment;

#define CLEANER_CLEANED_SUFFIX ".cleaned"
#define CLEANER_SWAP_SUFFIX ".swap"

/* "<dir>/<base zero-padded>.<ext><suffix>" into buf (size n). */
bool cleaner_file_path(char *buf, size_t n, const char *dir, int64_t base, const char *ext,
                       const char *suffix);
/* Unlinks the three <base>.*.cleaned files (a pass that gave up). */
void cleaner_discard_cleaned(const char *dir, int64_t base);

/* Steps 2-4 for the group of n segments starting at index i of log,
 * expected to be olds[0..n) with the sizes sizes[0..n) (snapshot of the
 * plan). KERR__AGAIN (the .cleaned files deleted, log unchanged) if the log
 * no longer has them unchanged and closed. On KERR_NONE *out is the new
 * segment, now at index i. Other errors: before the commit point the log
 * is unchanged; after it the error is logged and the old segments are gone
 * from the array (a restart repairs the directory). gone: the offsets
 * (ngone, ascending) of the ABORT markers the cleaned segment no longer
 * has; their aborted transactions leave the log's list, and base's
 * .txnindex is rewritten with what the group's range still lists.
 * Partition lock held. */
kerr_t cleaner_swap_install(struct plog *log, int i, int n, struct segment *const *olds,
                            const int64_t *sizes, int64_t base, const int64_t *gone, size_t ngone,
                            struct segment **out);

/* Repairs dir after a crash during a clean (see above). */
kerr_t cleaner_swap_recover(const char *dir);

#endif
