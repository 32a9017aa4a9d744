/*
 * tests/harness/kreq.h — a tiny, independent Kafka request encoder and
 * response reader for tests that talk to a broker over raw TCP sockets
 * (bad input, exact version checks).
 *
 * Deliberately shares no code with common/kwire.c: it is the test oracle,
 * so a bug in the broker's codec cannot hide behind the same bug here.
 * Covers exactly what the integration tests send: ApiVersions v0..v3,
 * Metadata v1, Produce v3, ListOffsets v1, and RecordBatch v2
 * (docs/protocol.md §1-§4).
 *
 * Ownership: struct kbytes owns its memory (kbytes_free()); struct kresp
 * borrows the bytes it reads. Single-threaded, test processes only.
 */
#ifndef GREGOR_TESTS_HARNESS_KREQ_H
#define GREGOR_TESTS_HARNESS_KREQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    KREQ_PRODUCE = 0,
    KREQ_FETCH = 1,
    KREQ_LIST_OFFSETS = 2,
    KREQ_METADATA = 3,
    KREQ_API_VERSIONS = 18,
};

/* ---- growable byte buffer (big-endian writers) ---- */

struct kbytes {
    uint8_t *p;  /* owned, NULL when cap == 0 */
    size_t len;  /* bytes written */
    size_t cap;  /* bytes allocated; 0 <= len <= cap */
    size_t mark; /* start of the current frame (kreq_begin) */
};

void kbytes_init(struct kbytes *b);
void kbytes_free(struct kbytes *b); /* frees memory; the buffer can be re-initialised */
/* Appends bytes; aborts the process on allocation failure (tests only). */
void kbytes_put(struct kbytes *b, const void *p, size_t n);
void kbytes_i8(struct kbytes *b, int8_t v);
void kbytes_i16(struct kbytes *b, int16_t v);
void kbytes_i32(struct kbytes *b, int32_t v);
void kbytes_i64(struct kbytes *b, int64_t v);
void kbytes_uvarint(struct kbytes *b, uint64_t v);
void kbytes_varint(struct kbytes *b, int64_t v);               /* zigzag */
void kbytes_str(struct kbytes *b, const char *s);              /* INT16 length; NULL -> -1 */
void kbytes_cstr(struct kbytes *b, const char *s);             /* compact; NULL -> 0 */
void kbytes_bytes(struct kbytes *b, const void *p, int32_t n); /* INT32 length; n < 0 -> null */
void kbytes_patch_i32(struct kbytes *b, size_t at, int32_t v);

/* ---- request frames ---- */

/* Starts a frame in b (appending; several frames may be pipelined in one
 * buffer): size placeholder, api_key, api_version, correlation_id,
 * client_id (INT16 length, NULL -> null), and an empty tag section when
 * flex_header (request header v2). */
void kreq_begin(struct kbytes *b, int16_t api_key, int16_t api_version, int32_t corr,
                const char *client_id, bool flex_header);
/* Patches the size of the frame started by the last kreq_begin(). */
void kreq_end(struct kbytes *b);

/* Complete requests appended to b. */
void kreq_api_versions(struct kbytes *b, int16_t version, int32_t corr);
/* Metadata v1; n_topics < 0 sends a null array (all topics). */
void kreq_metadata_v1(struct kbytes *b, int32_t corr, const char *const *topics, int n_topics);
/* Produce v3 with one topic and one partition; records borrowed, n < 0 = null. */
void kreq_produce_v3(struct kbytes *b, int32_t corr, int16_t acks, int32_t timeout_ms,
                     const char *topic, int32_t partition, const void *records, int32_t n);
/* ListOffsets v1 for one partition; timestamp -1 = latest, -2 = earliest. */
void kreq_list_offsets_v1(struct kbytes *b, int32_t corr, const char *topic, int32_t partition,
                          int64_t timestamp);

/* ---- record batches ---- */

struct krecord {
    const char *key;   /* NULL = null key */
    int32_t key_len;   /* used when key != NULL; < 0 = strlen(key) */
    const char *value; /* NULL = null value */
    int32_t value_len; /* < 0 = strlen(value) */
    const char *hkey;  /* one header, NULL = none */
    const char *hvalue;
    int64_t ts_delta;
};

/* Appends one RecordBatch v2 (magic 2, uncompressed, base offset 0,
 * leader epoch -1, not idempotent) holding recs[0..n), first timestamp ts,
 * with a correct CRC-32C. Returns the batch's start position in b. */
size_t kbatch_append(struct kbytes *b, int64_t ts, const struct krecord *recs, int n);
/* Recomputes the CRC of the batch at b->p + at (after editing it). */
void kbatch_fix_crc(struct kbytes *b, size_t at);
/* CRC-32C (Castagnoli), initial/final XOR 0xFFFFFFFF. */
uint32_t kreq_crc32c(const void *p, size_t n);

/* ---- sockets ---- */

/* Connects to 127.0.0.1:port; returns a blocking fd (TCP_NODELAY), or -1. */
int kreq_connect(int port);
/* Writes all n bytes; 0 or -1 (EPIPE etc.; SIGPIPE is ignored by the harness). */
int kreq_send(int fd, const void *p, size_t n);
/* Reads one response frame within timeout_ms. Returns 0 and *frame (returns
 * new: caller frees) with *len bytes after the size prefix; 1 if the peer
 * closed the connection before a full frame; -1 on timeout or error. */
int kreq_recv(int fd, uint8_t **frame, size_t *len, int timeout_ms);
/* True if the peer closes the connection (EOF or reset) within timeout_ms,
 * discarding anything it sends before; false on timeout. */
bool kreq_wait_closed(int fd, int timeout_ms);
/* Sends the frame(s) in req, reads one response, checks its correlation id
 * equals corr. Returns 0 with *frame (returns new) or nonzero like
 * kreq_recv() (2 = wrong correlation id). */
int kreq_roundtrip(int fd, const struct kbytes *req, int32_t corr, uint8_t **frame, size_t *len,
                   int timeout_ms);

/* ---- response reader (sticky error) ---- */

struct kresp {
    const uint8_t *p; /* borrowed */
    size_t len;
    size_t pos;
    bool err; /* a read ran past the end */
};

void kresp_init(struct kresp *r, const void *p, size_t len);
int8_t kresp_i8(struct kresp *r);
int16_t kresp_i16(struct kresp *r);
int32_t kresp_i32(struct kresp *r);
int64_t kresp_i64(struct kresp *r);
uint64_t kresp_uvarint(struct kresp *r);
/* INT16-length string into dst (size n, NUL-terminated, truncated); returns
 * the wire length (-1 = null). */
int kresp_str(struct kresp *r, char *dst, size_t n);
int kresp_cstr(struct kresp *r, char *dst, size_t n); /* compact string */
void kresp_skip_tags(struct kresp *r);
static inline size_t kresp_left(const struct kresp *r) { return r->len - r->pos; }

/* ---- decoded responses ---- */

#define KREQ_MAX_APIS 128
struct kapi_versions {
    int16_t error;
    int n;
    struct {
        int16_t key, min, max;
    } api[KREQ_MAX_APIS];
    int32_t throttle_ms; /* v1+ */
};
/* Decodes an ApiVersions response body of the given version (frame = after
 * the size prefix, including the correlation id). Returns 0, or -1 when the
 * body is malformed or has bytes left over. */
int kresp_api_versions(const uint8_t *frame, size_t len, int16_t version,
                       struct kapi_versions *out);

#define KREQ_MAX_PARTS 64
struct kmeta_topic {
    int16_t error;
    char name[256];
    int n_parts;
    struct {
        int16_t error;
        int32_t index, leader;
        int n_replicas, n_isr;
    } part[KREQ_MAX_PARTS];
};
#define KREQ_MAX_TOPICS 32
struct kmetadata {
    int n_brokers;
    struct {
        int32_t node_id;
        char host[256];
        int32_t port;
    } broker[16];
    int32_t controller_id;
    int n_topics;
    struct kmeta_topic topic[KREQ_MAX_TOPICS];
};
int kresp_metadata_v1(const uint8_t *frame, size_t len, struct kmetadata *out);

struct kproduce_result {
    char topic[256];
    int32_t partition;
    int16_t error;
    int64_t base_offset;
    int64_t log_append_time;
    int32_t throttle_ms;
};
/* Decodes a Produce v3 response with one topic and one partition. */
int kresp_produce_v3(const uint8_t *frame, size_t len, struct kproduce_result *out);

struct klist_offsets_result {
    int32_t partition;
    int16_t error;
    int64_t timestamp;
    int64_t offset;
};
/* Decodes a ListOffsets v1 response with one topic and one partition. */
int kresp_list_offsets_v1(const uint8_t *frame, size_t len, struct klist_offsets_result *out);

#endif
