/*
 * broker/storage/offset_map.h — the log cleaner's dedupe map (Kafka's
 * SkimpyOffsetMap): a 128-bit hash of each record key -> the largest offset
 * seen for that key, in a fixed block of memory
 * (log.cleaner.dedupe.buffer.size / log.cleaner.threads).
 *
 * Keys are not stored, only their hashes: two keys with the same 128-bit
 * hash would be taken for one (the older record of the other would be
 * removed); at 2^-128 per pair this is the risk Kafka takes with MD5.
 * The map holds at most load_factor (0.9) x capacity entries; the cleaner
 * stops adding when offset_map_full() says a batch would not fit.
 *
 * Threads: one map per cleaner thread, never shared.
 */
#ifndef GREGOR_BROKER_STORAGE_OFFSET_MAP_H
#define GREGOR_BROKER_STORAGE_OFFSET_MAP_H

#include "common/base.h"

#define OFFSET_MAP_ENTRY_SIZE 24 /* hash 16 + offset 8 */
#define OFFSET_MAP_LOAD_FACTOR 0.9

struct offset_map;

/* A map using at most memory_bytes (at least 16 entries). NULL: no memory. */
struct offset_map *offset_map_new(int64_t memory_bytes);
void offset_map_free(struct offset_map *m);
/* Empties the map (latest offset back to -1). */
void offset_map_clear(struct offset_map *m);
/* Records offset as the latest for key (key_len bytes, borrowed). The
 * caller checks offset_map_full() first; a full map refuses (false). */
bool offset_map_put(struct offset_map *m, const uint8_t *key, size_t key_len, int64_t offset);
/* The latest offset recorded for key, or -1. */
int64_t offset_map_get(const struct offset_map *m, const uint8_t *key, size_t key_len);
/* Entries in use, and the most the load factor allows. */
int64_t offset_map_size(const struct offset_map *m);
int64_t offset_map_slots(const struct offset_map *m);
/* True if n more keys might not fit under the load factor. */
bool offset_map_full(const struct offset_map *m, int64_t n);
/* The largest offset put since the last clear, -1 if none. */
int64_t offset_map_latest(const struct offset_map *m);

#endif
