/*
 * broker/storage/segment.h — one segment of a partition log: the `.log`
 * file of record batches plus its `.index` and `.timeindex`, all named by
 * the segment's base offset zero-padded to 20 digits.
 *
 * Storage-internal: plog.c owns segments; the layout is visible to storage
 * files and tests only. Every function needs the owning partition's lock.
 */
#ifndef GREGOR_BROKER_STORAGE_SEGMENT_H
#define GREGOR_BROKER_STORAGE_SEGMENT_H

#include "broker/storage/batch.h"
#include "broker/storage/offset_index.h"
#include "broker/storage/time_index.h"

#define SEGMENT_NAME_DIGITS 20

/* Created by segment_open()/segment_create(), freed by segment_close() or
 * segment_remove(); owned by its plog, guarded by the partition lock. */
struct segment {
    int64_t base;              /* base offset; names the files */
    char *log_path;            /* owned: <dir>/<base>.log */
    int fd;                    /* the .log, O_RDWR, open for the segment's life */
    int64_t size;              /* bytes of whole batches; the file holds exactly these */
    int64_t next_offset;       /* last offset of the last batch + 1; base if empty */
    int64_t max_ts;            /* largest batch maxTimestamp, -1 if none */
    int64_t max_ts_offset;     /* base offset of the batch that first reached max_ts */
    int64_t roll_ts;           /* ms the segment's age counts from; -1 until first append */
    int64_t mtime_ms;          /* .log modification time at load (retention fallback) */
    int64_t bytes_since_index; /* bytes appended since the last offset index entry */
    int64_t checked_bytes;     /* bytes CRC-checked by the last segment_load() */
    bool index_ok;             /* indexes looked sane at open (else rebuilt by load) */
    bool active;               /* indexes preallocated; the plog's last segment */
    bool dirty;                /* written since the last fsync */
    bool sync_pending;         /* clean only once a flush plan's fsyncs are applied */
    struct offset_index oidx;  /* <base>.index */
    struct time_index tidx;    /* <base>.timeindex */
};

/* Writes "<dir>/<base zero-padded to 20>.<ext>" into buf (size n). */
bool segment_path(char *buf, size_t n, const char *dir, int64_t base, const char *ext);
/* Parses a file name "<20 digits>.log"; false if it is not one. */
bool segment_parse_name(const char *name, int64_t *base);
/* Suffix of the files of a removed segment, waiting to be unlinked. */
#define SEGMENT_DELETED_SUFFIX ".deleted"

/* Opens (creating if missing) the three files of the segment at base in dir
 * (borrowed) and checks the indexes' shape. Does not scan the log: call
 * segment_load() next. Returns new in *out (free with segment_close()). */
kerr_t segment_open(const char *dir, int64_t base, struct segment **out);
/* Makes the segment appendable: preallocates both indexes to
 * index_max_bytes. */
kerr_t segment_activate(struct segment *seg, int32_t index_max_bytes);
/* Scans the log to find next_offset and max_ts. recovery_point < 0 (the
 * segment is known to be on disk): from the last offset index entry, CRC-
 * checking each batch. recovery_point >= 0 (a crash may have torn what
 * follows it): from the last index entry at or below the point, walking
 * the headers of the batches below it and CRC-checking the batches that end
 * at or past it; an empty file, or one that ends at the point, reads no
 * batch at all. Bad indexes (torn, garbage after the valid entries, an
 * entry naming no batch, a time entry past the log's end) are rebuilt from
 * byte 0 (same CRC rule; recovery_point < 0 checks every batch).
 * Truncates the file at the first torn or corrupt batch and sets *dropped
 * to the bytes removed; seg->checked_bytes says how many bytes were
 * CRC-checked. A sealed segment whose indexes need rebuilding or trimming
 * is activated for it and sealed again (index_max_bytes sizes the
 * temporary preallocation). */
kerr_t segment_load(struct segment *seg, int64_t recovery_point, int32_t index_interval,
                    int32_t index_max_bytes, int64_t *dropped);
/* Appends len bytes of whole batches (borrowed; offsets already assigned)
 * at the end. On a write error the file is truncated back and the segment
 * is unchanged. now_ms starts the segment's age on its first append. */
kerr_t segment_append(struct segment *seg, const uint8_t *data, size_t len, int32_t index_interval,
                      int64_t now_ms);
/* Finds the first batch whose last offset is >= target: its position and
 * header. KERR__NOENT when every batch of the segment ends before target. */
kerr_t segment_find(struct segment *seg, int64_t target, int64_t *pos, struct batch_hdr *h);
/* From the batch at pos (header h), adds up whole batches whose base offset
 * is < max_offset while the total stays <= max_bytes; the first batch
 * counts whole when min_one. *len = bytes (0 if nothing fits). */
kerr_t segment_span_len(struct segment *seg, int64_t pos, const struct batch_hdr *h,
                        int64_t max_offset, int64_t max_bytes, bool min_one, int64_t *len);
/* Finds the first batch with a record timestamp >= ts (uncompressed: the
 * exact record; compressed: the batch base offset and maxTimestamp).
 * KERR__NOENT when none in this segment. */
kerr_t segment_offset_for_time(struct segment *seg, int64_t ts, int64_t *offset, int64_t *found_ts);
/* Removes every batch that holds an offset >= target (a batch containing
 * target goes whole) and rescans to fix next_offset and max_ts. */
kerr_t segment_truncate_to(struct segment *seg, int64_t target, int32_t index_interval);
/* Empties the segment (all data and index entries) keeping its files. */
kerr_t segment_truncate_all(struct segment *seg);
/* Seals an active segment: final time index entry, indexes trimmed. */
kerr_t segment_seal(struct segment *seg);
/* fsyncs the log and the active indexes if written since the last sync. */
kerr_t segment_sync(struct segment *seg);
/* The lock-free flush (plog_flush_begin): appends to fds (room for
 * SEGMENT_SYNC_FDS more) duplicates of the descriptors a sync of seg
 * fsyncs, if seg is dirty, and clears dirty. On a dup failure nothing is
 * added and seg stays dirty. */
#define SEGMENT_SYNC_FDS 3
kerr_t segment_sync_take(struct segment *seg, int *fds, int *n);
/* After those descriptors were fsynced: the segment is clean unless written
 * since, and a sealed segment's indexes give up the descriptors they kept
 * for that sync (index_file_seal). */
void segment_synced(struct segment *seg);
/* Seals if active, closes and frees. NULL is a no-op. */
void segment_close(struct segment *seg);
/* Closes, unlinks the three files and frees. NULL is a no-op. */
void segment_remove(struct segment *seg);

#endif
