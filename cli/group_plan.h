/*
 * cli/group_plan.h — the pure parts of the `gregor group` commands, kept
 * apart from librdkafka so they can be tested without a broker:
 *  - ISO-8601 date-times ("2026-12-06T23:20:00.5+01:00") and durations
 *    ("PT1H", "P1DT30M") as used by `reset-offsets --to-datetime /
 *    --by-duration`;
 *  - the reset plan: each partition's new committed offset from its current
 *    one, its log start/end offsets and the chosen mode;
 *  - the undo file of `reset-offsets --execute` (format below);
 *  - JSON string output.
 *
 * Undo file (UTF-8 JSON, one document, written and read here):
 *   {"group": "G", "created_ms": 1765063200000,
 *    "offsets": [{"topic": "t", "partition": 0, "offset": 42},
 *                {"topic": "t", "partition": 1, "offset": null}]}
 * "offset" is the committed offset before the reset; null means the
 * partition had no committed offset (applying the file deletes it).
 * The reader accepts any JSON whitespace and member order, ignores unknown
 * members, and refuses anything else (nested values, bad escapes).
 */
#ifndef GREGOR_CLI_GROUP_PLAN_H
#define GREGOR_CLI_GROUP_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Parses an ISO-8601 date-time: YYYY-MM-DD, optionally followed by
 * 'T' (or ' ') HH:MM[:SS[.fff...]], optionally followed by Z or a zone
 * offset ±HH[:MM] / ±HHMM. No zone means UTC. Stores milliseconds since
 * the epoch in *ms. False on anything malformed or out of range. */
bool gp_parse_datetime(const char *s, int64_t *ms);

/* Parses an ISO-8601 duration P[nW][nD][T[nH][nM][n[.fff]S]] (at least one
 * part, case-insensitive, no sign; years and months are refused as their
 * length varies). Stores the length in milliseconds in *ms. */
bool gp_parse_duration(const char *s, int64_t *ms);

/* How `reset-offsets` picks the new offset. */
enum gp_mode {
    GP_NONE = 0,
    GP_EARLIEST, /* log start offset */
    GP_LATEST,   /* log end offset */
    GP_OFFSET,   /* arg, clamped to [start, end] */
    GP_DATETIME, /* first offset with timestamp >= arg (ms), looked up by the caller */
    GP_DURATION, /* like GP_DATETIME with now - arg */
    GP_SHIFT,    /* current + arg, clamped; no current: from the log end */
    GP_FILE,     /* the offset read from an undo file */
};

/* One partition of a reset. The caller fills everything but new_offset. */
struct gp_part {
    char *topic;        /* owned by the caller (or by struct gp_undo) */
    int32_t partition;  /* >= 0 */
    int64_t current;    /* committed offset, -1 when none */
    int64_t start, end; /* log start and end offsets */
    int64_t by_time;    /* GP_DATETIME/DURATION: offset found for the time, -1: none (end) */
    int64_t target;     /* GP_FILE: offset from the file, -1: delete the commit */
    int64_t new_offset; /* set by gp_plan(); -1 only for GP_FILE deletions */
};

/* Computes new_offset of parts[0..n) for `mode` with argument `arg`
 * (GP_OFFSET: the offset, GP_SHIFT: the shift; others ignore it). */
void gp_plan(enum gp_mode mode, int64_t arg, struct gp_part *parts, size_t n);

/* Writes s as a JSON string (quotes, escapes; bytes >= 0x80 pass through),
 * or null for NULL. The one JSON string writer of the CLI (group, cluster
 * info and cluster watch output). */
void gp_json_str(FILE *f, const char *s);

/* The contents of an undo file. */
struct gp_undo {
    char *group;           /* owned */
    int64_t created_ms;    /* 0 when absent */
    struct gp_part *parts; /* owned, with their topics; only topic, partition, target set */
    size_t n;
};

/* Writes the undo file for parts[0..n) (their `current` offsets) of group
 * to f. Returns false when the write failed. */
bool gp_undo_write(FILE *f, const char *group, int64_t created_ms, const struct gp_part *parts,
                   size_t n);

/* Parses an undo file's text (NUL-terminated). On success fills *u (free
 * with gp_undo_free()) and returns true; otherwise false with a one-line
 * reason in err. */
bool gp_undo_parse(const char *text, struct gp_undo *u, char *err, size_t errlen);

void gp_undo_free(struct gp_undo *u);

#endif
