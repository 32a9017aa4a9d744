/*
 * tests/harness/kreq.c — hand-written Kafka request encoder and response
 * reader for raw-socket tests (see kreq.h). Independent of common/: this is
 * the oracle the broker's own codec is checked against.
 *
 * Wire layouts used here (docs/protocol.md):
 *   frame            INT32 size, then header + body
 *   request header   v1: api_key INT16, api_version INT16, correlation_id
 *                    INT32, client_id NULLABLE_STRING; v2 adds TAGGED_FIELDS
 *   response header  v0: correlation_id INT32 (every response read here)
 *   RecordBatch v2   §4.1 (61-byte header), records §4.3, CRC-32C §4.5
 */
#include "tests/harness/kreq.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- kbytes ---------------------------------------------------------- */

void kbytes_init(struct kbytes *b) { memset(b, 0, sizeof(*b)); }

void kbytes_free(struct kbytes *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

void kbytes_put(struct kbytes *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *np = realloc(b->p, cap);
        if (!np) {
            fprintf(stderr, "kreq: out of memory\n");
            abort();
        }
        b->p = np;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

void kbytes_i8(struct kbytes *b, int8_t v) { kbytes_put(b, &v, 1); }

void kbytes_i16(struct kbytes *b, int16_t v)
{
    uint8_t x[2] = {(uint8_t)((uint16_t)v >> 8), (uint8_t)v};
    kbytes_put(b, x, 2);
}

void kbytes_i32(struct kbytes *b, int32_t v)
{
    uint32_t u = (uint32_t)v;
    uint8_t x[4] = {(uint8_t)(u >> 24), (uint8_t)(u >> 16), (uint8_t)(u >> 8), (uint8_t)u};
    kbytes_put(b, x, 4);
}

void kbytes_i64(struct kbytes *b, int64_t v)
{
    kbytes_i32(b, (int32_t)((uint64_t)v >> 32));
    kbytes_i32(b, (int32_t)(uint32_t)v);
}

void kbytes_uvarint(struct kbytes *b, uint64_t v)
{
    while (v >= 0x80) {
        uint8_t c = (uint8_t)(v | 0x80);
        kbytes_put(b, &c, 1);
        v >>= 7;
    }
    uint8_t c = (uint8_t)v;
    kbytes_put(b, &c, 1);
}

void kbytes_varint(struct kbytes *b, int64_t v)
{
    kbytes_uvarint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void kbytes_str(struct kbytes *b, const char *s)
{
    if (!s) {
        kbytes_i16(b, -1);
        return;
    }
    size_t n = strlen(s);
    kbytes_i16(b, (int16_t)n);
    kbytes_put(b, s, n);
}

void kbytes_cstr(struct kbytes *b, const char *s)
{
    if (!s) {
        kbytes_uvarint(b, 0);
        return;
    }
    size_t n = strlen(s);
    kbytes_uvarint(b, n + 1);
    kbytes_put(b, s, n);
}

void kbytes_bytes(struct kbytes *b, const void *p, int32_t n)
{
    kbytes_i32(b, n < 0 ? -1 : n);
    if (n > 0)
        kbytes_put(b, p, (size_t)n);
}

void kbytes_patch_i32(struct kbytes *b, size_t at, int32_t v)
{
    uint32_t u = (uint32_t)v;
    b->p[at] = (uint8_t)(u >> 24);
    b->p[at + 1] = (uint8_t)(u >> 16);
    b->p[at + 2] = (uint8_t)(u >> 8);
    b->p[at + 3] = (uint8_t)u;
}

/* ---- requests -------------------------------------------------------- */

void kreq_begin(struct kbytes *b, int16_t api_key, int16_t api_version, int32_t corr,
                const char *client_id, bool flex_header)
{
    b->mark = b->len;
    kbytes_i32(b, 0);
    kbytes_i16(b, api_key);
    kbytes_i16(b, api_version);
    kbytes_i32(b, corr);
    kbytes_str(b, client_id);
    if (flex_header)
        kbytes_uvarint(b, 0);
}

void kreq_end(struct kbytes *b) { kbytes_patch_i32(b, b->mark, (int32_t)(b->len - b->mark - 4)); }

void kreq_api_versions(struct kbytes *b, int16_t version, int32_t corr)
{
    bool flex = version >= 3;
    kreq_begin(b, KREQ_API_VERSIONS, version, corr, "gregor-test", flex);
    if (flex) {
        kbytes_cstr(b, "gregor-test");
        kbytes_cstr(b, "1.0");
        kbytes_uvarint(b, 0);
    }
    kreq_end(b);
}

void kreq_metadata_v1(struct kbytes *b, int32_t corr, const char *const *topics, int n_topics)
{
    kreq_begin(b, KREQ_METADATA, 1, corr, "gregor-test", false);
    kbytes_i32(b, n_topics < 0 ? -1 : n_topics);
    for (int i = 0; i < n_topics; i++)
        kbytes_str(b, topics[i]);
    kreq_end(b);
}

void kreq_produce_v3(struct kbytes *b, int32_t corr, int16_t acks, int32_t timeout_ms,
                     const char *topic, int32_t partition, const void *records, int32_t n)
{
    kreq_begin(b, KREQ_PRODUCE, 3, corr, "gregor-test", false);
    kbytes_str(b, NULL); /* transactional_id */
    kbytes_i16(b, acks);
    kbytes_i32(b, timeout_ms);
    kbytes_i32(b, 1);
    kbytes_str(b, topic);
    kbytes_i32(b, 1);
    kbytes_i32(b, partition);
    kbytes_bytes(b, records, n);
    kreq_end(b);
}

void kreq_list_offsets_v1(struct kbytes *b, int32_t corr, const char *topic, int32_t partition,
                          int64_t timestamp)
{
    kreq_begin(b, KREQ_LIST_OFFSETS, 1, corr, "gregor-test", false);
    kbytes_i32(b, -1); /* replica_id */
    kbytes_i32(b, 1);
    kbytes_str(b, topic);
    kbytes_i32(b, 1);
    kbytes_i32(b, partition);
    kbytes_i64(b, timestamp);
    kreq_end(b);
}

/* ---- record batches -------------------------------------------------- */

uint32_t kreq_crc32c(const void *p, size_t n)
{
    static uint32_t table[256];
    static bool ready;
    if (!ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
            table[i] = c;
        }
        ready = true;
    }
    const uint8_t *q = p;
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++)
        crc = table[(crc ^ q[i]) & 0xFF] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
}

static int32_t rec_len(const char *p, int32_t n) { return n < 0 ? (int32_t)strlen(p) : n; }

static void record_append(struct kbytes *b, int32_t offset_delta, const struct krecord *r)
{
    struct kbytes body;
    kbytes_init(&body);
    kbytes_i8(&body, 0);
    kbytes_varint(&body, r->ts_delta);
    kbytes_varint(&body, offset_delta);
    if (r->key) {
        int32_t n = rec_len(r->key, r->key_len);
        kbytes_varint(&body, n);
        kbytes_put(&body, r->key, (size_t)n);
    } else {
        kbytes_varint(&body, -1);
    }
    if (r->value) {
        int32_t n = rec_len(r->value, r->value_len);
        kbytes_varint(&body, n);
        kbytes_put(&body, r->value, (size_t)n);
    } else {
        kbytes_varint(&body, -1);
    }
    if (r->hkey) {
        kbytes_varint(&body, 1);
        kbytes_varint(&body, (int64_t)strlen(r->hkey));
        kbytes_put(&body, r->hkey, strlen(r->hkey));
        if (r->hvalue) {
            kbytes_varint(&body, (int64_t)strlen(r->hvalue));
            kbytes_put(&body, r->hvalue, strlen(r->hvalue));
        } else {
            kbytes_varint(&body, -1);
        }
    } else {
        kbytes_varint(&body, 0);
    }
    kbytes_varint(b, (int64_t)body.len);
    kbytes_put(b, body.p, body.len);
    kbytes_free(&body);
}

void kbatch_fix_crc(struct kbytes *b, size_t at)
{
    uint32_t batch_len = ((uint32_t)b->p[at + 8] << 24) | ((uint32_t)b->p[at + 9] << 16) |
                         ((uint32_t)b->p[at + 10] << 8) | b->p[at + 11];
    size_t end = at + 12 + batch_len;
    if (end > b->len)
        end = b->len;
    kbytes_patch_i32(b, at + 17, (int32_t)kreq_crc32c(b->p + at + 21, end - (at + 21)));
}

size_t kbatch_append(struct kbytes *b, int64_t ts, const struct krecord *recs, int n)
{
    size_t at = b->len;
    int64_t max_delta = 0;
    for (int i = 0; i < n; i++)
        if (recs[i].ts_delta > max_delta)
            max_delta = recs[i].ts_delta;
    kbytes_i64(b, 0);     /* baseOffset */
    kbytes_i32(b, 0);     /* batchLength, patched */
    kbytes_i32(b, -1);    /* partitionLeaderEpoch */
    kbytes_i8(b, 2);      /* magic */
    kbytes_i32(b, 0);     /* crc, patched */
    kbytes_i16(b, 0);     /* attributes */
    kbytes_i32(b, n - 1); /* lastOffsetDelta */
    kbytes_i64(b, ts);    /* baseTimestamp */
    kbytes_i64(b, ts + max_delta);
    kbytes_i64(b, -1); /* producerId */
    kbytes_i16(b, -1); /* producerEpoch */
    kbytes_i32(b, -1); /* baseSequence */
    kbytes_i32(b, n);  /* recordsCount */
    for (int i = 0; i < n; i++)
        record_append(b, i, &recs[i]);
    kbytes_patch_i32(b, at + 8, (int32_t)(b->len - at - 12));
    kbatch_fix_crc(b, at);
    return at;
}

/* ---- sockets --------------------------------------------------------- */

int kreq_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

int kreq_send(int fd, const void *p, size_t n)
{
    const uint8_t *q = p;
    while (n > 0) {
        ssize_t w = send(fd, q, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        q += w;
        n -= (size_t)w;
    }
    return 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads exactly n bytes before deadline: 0, 1 = EOF/reset, -1 = timeout/error. */
static int read_full(int fd, uint8_t *p, size_t n, int64_t deadline)
{
    while (n > 0) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return -1;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int pr = poll(&pfd, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            return -1;
        ssize_t r = recv(fd, p, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0 || (r < 0 && (errno == ECONNRESET || errno == EPIPE)))
            return 1;
        if (r < 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int kreq_recv(int fd, uint8_t **frame, size_t *len, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    uint8_t hdr[4];
    *frame = NULL;
    *len = 0;
    int rc = read_full(fd, hdr, 4, deadline);
    if (rc != 0)
        return rc;
    uint32_t n =
        ((uint32_t)hdr[0] << 24) | ((uint32_t)hdr[1] << 16) | ((uint32_t)hdr[2] << 8) | hdr[3];
    if (n > (256u << 20)) {
        fprintf(stderr, "kreq: response size %u is absurd\n", n);
        return -1;
    }
    uint8_t *p = malloc(n ? n : 1);
    if (!p)
        return -1;
    rc = read_full(fd, p, n, deadline);
    if (rc != 0) {
        free(p);
        return rc;
    }
    *frame = p;
    *len = n;
    return 0;
}

bool kreq_wait_closed(int fd, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    uint8_t sink[4096];
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return false;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int pr = poll(&pfd, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            return false;
        ssize_t r = recv(fd, sink, sizeof(sink), 0);
        if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
            return true;
    }
}

int kreq_roundtrip(int fd, const struct kbytes *req, int32_t corr, uint8_t **frame, size_t *len,
                   int timeout_ms)
{
    *frame = NULL;
    if (kreq_send(fd, req->p, req->len) != 0)
        return 1;
    int rc = kreq_recv(fd, frame, len, timeout_ms);
    if (rc != 0)
        return rc;
    struct kresp r;
    kresp_init(&r, *frame, *len);
    if (kresp_i32(&r) != corr || r.err) {
        free(*frame);
        *frame = NULL;
        return 2;
    }
    return 0;
}

/* ---- reader ---------------------------------------------------------- */

void kresp_init(struct kresp *r, const void *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->pos = 0;
    r->err = false;
}

static const uint8_t *take(struct kresp *r, size_t n)
{
    if (r->err || r->len - r->pos < n) {
        r->err = true;
        return NULL;
    }
    const uint8_t *p = r->p + r->pos;
    r->pos += n;
    return p;
}

int8_t kresp_i8(struct kresp *r)
{
    const uint8_t *p = take(r, 1);
    return p ? (int8_t)p[0] : 0;
}

int16_t kresp_i16(struct kresp *r)
{
    const uint8_t *p = take(r, 2);
    return p ? (int16_t)(((uint16_t)p[0] << 8) | p[1]) : 0;
}

int32_t kresp_i32(struct kresp *r)
{
    const uint8_t *p = take(r, 4);
    if (!p)
        return 0;
    return (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) |
                     p[3]);
}

int64_t kresp_i64(struct kresp *r)
{
    uint64_t hi = (uint32_t)kresp_i32(r);
    uint64_t lo = (uint32_t)kresp_i32(r);
    return (int64_t)((hi << 32) | lo);
}

uint64_t kresp_uvarint(struct kresp *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        const uint8_t *p = take(r, 1);
        if (!p)
            return 0;
        v |= (uint64_t)(p[0] & 0x7F) << shift;
        if (!(p[0] & 0x80))
            return v;
    }
    r->err = true;
    return 0;
}

static void copy_out(const uint8_t *p, size_t n, char *dst, size_t cap)
{
    if (!dst || cap == 0)
        return;
    size_t k = n < cap - 1 ? n : cap - 1;
    if (p && k)
        memcpy(dst, p, k);
    dst[k] = '\0';
}

int kresp_str(struct kresp *r, char *dst, size_t n)
{
    int16_t len = kresp_i16(r);
    if (len < 0) {
        copy_out(NULL, 0, dst, n);
        return -1;
    }
    const uint8_t *p = take(r, (size_t)len);
    copy_out(p, p ? (size_t)len : 0, dst, n);
    return len;
}

int kresp_cstr(struct kresp *r, char *dst, size_t n)
{
    uint64_t len = kresp_uvarint(r);
    if (len == 0) {
        copy_out(NULL, 0, dst, n);
        return -1;
    }
    const uint8_t *p = take(r, (size_t)(len - 1));
    copy_out(p, p ? (size_t)(len - 1) : 0, dst, n);
    return (int)(len - 1);
}

void kresp_skip_tags(struct kresp *r)
{
    uint64_t n = kresp_uvarint(r);
    for (uint64_t i = 0; i < n && !r->err; i++) {
        (void)kresp_uvarint(r);
        uint64_t sz = kresp_uvarint(r);
        take(r, (size_t)sz);
    }
}

/* ---- decoded responses ----------------------------------------------- */

int kresp_api_versions(const uint8_t *frame, size_t len, int16_t version, struct kapi_versions *out)
{
    struct kresp r;
    bool flex = version >= 3;
    memset(out, 0, sizeof(*out));
    kresp_init(&r, frame, len);
    (void)kresp_i32(&r); /* correlation id; response header v0 always */
    out->error = kresp_i16(&r);
    int64_t n = flex ? (int64_t)kresp_uvarint(&r) - 1 : kresp_i32(&r);
    if (n < 0 || n > KREQ_MAX_APIS)
        return -1;
    out->n = (int)n;
    for (int i = 0; i < out->n; i++) {
        out->api[i].key = kresp_i16(&r);
        out->api[i].min = kresp_i16(&r);
        out->api[i].max = kresp_i16(&r);
        if (flex)
            kresp_skip_tags(&r);
    }
    if (version >= 1)
        out->throttle_ms = kresp_i32(&r);
    if (flex)
        kresp_skip_tags(&r);
    return (r.err || kresp_left(&r) != 0) ? -1 : 0;
}

static int int_array_skip(struct kresp *r)
{
    int32_t n = kresp_i32(r);
    if (n < 0 || (size_t)n * 4 > kresp_left(r)) {
        r->err = true;
        return 0;
    }
    for (int32_t i = 0; i < n; i++)
        (void)kresp_i32(r);
    return n;
}

static void meta_topic(struct kresp *r, struct kmeta_topic *t)
{
    t->error = kresp_i16(r);
    kresp_str(r, t->name, sizeof(t->name));
    (void)kresp_i8(r); /* is_internal */
    int32_t np = kresp_i32(r);
    if (np < 0 || np > KREQ_MAX_PARTS) {
        r->err = true;
        return;
    }
    t->n_parts = np;
    for (int j = 0; j < np; j++) {
        t->part[j].error = kresp_i16(r);
        t->part[j].index = kresp_i32(r);
        t->part[j].leader = kresp_i32(r);
        t->part[j].n_replicas = int_array_skip(r);
        t->part[j].n_isr = int_array_skip(r);
    }
}

int kresp_metadata_v1(const uint8_t *frame, size_t len, struct kmetadata *out)
{
    struct kresp r;
    memset(out, 0, sizeof(*out));
    kresp_init(&r, frame, len);
    (void)kresp_i32(&r);
    int32_t nb = kresp_i32(&r);
    if (nb < 0 || nb > 16)
        return -1;
    out->n_brokers = nb;
    for (int i = 0; i < nb; i++) {
        out->broker[i].node_id = kresp_i32(&r);
        kresp_str(&r, out->broker[i].host, sizeof(out->broker[i].host));
        out->broker[i].port = kresp_i32(&r);
        kresp_str(&r, NULL, 0); /* rack */
    }
    out->controller_id = kresp_i32(&r);
    int32_t nt = kresp_i32(&r);
    if (nt < 0 || nt > KREQ_MAX_TOPICS)
        return -1;
    out->n_topics = nt;
    for (int i = 0; i < nt && !r.err; i++)
        meta_topic(&r, &out->topic[i]);
    return (r.err || kresp_left(&r) != 0) ? -1 : 0;
}

int kresp_produce_v3(const uint8_t *frame, size_t len, struct kproduce_result *out)
{
    struct kresp r;
    memset(out, 0, sizeof(*out));
    kresp_init(&r, frame, len);
    (void)kresp_i32(&r);
    if (kresp_i32(&r) != 1)
        return -1;
    kresp_str(&r, out->topic, sizeof(out->topic));
    if (kresp_i32(&r) != 1)
        return -1;
    out->partition = kresp_i32(&r);
    out->error = kresp_i16(&r);
    out->base_offset = kresp_i64(&r);
    out->log_append_time = kresp_i64(&r);
    out->throttle_ms = kresp_i32(&r);
    return (r.err || kresp_left(&r) != 0) ? -1 : 0;
}

int kresp_list_offsets_v1(const uint8_t *frame, size_t len, struct klist_offsets_result *out)
{
    struct kresp r;
    memset(out, 0, sizeof(*out));
    kresp_init(&r, frame, len);
    (void)kresp_i32(&r);
    if (kresp_i32(&r) != 1)
        return -1;
    kresp_str(&r, NULL, 0);
    if (kresp_i32(&r) != 1)
        return -1;
    out->partition = kresp_i32(&r);
    out->error = kresp_i16(&r);
    out->timestamp = kresp_i64(&r);
    out->offset = kresp_i64(&r);
    return (r.err || kresp_left(&r) != 0) ? -1 : 0;
}
