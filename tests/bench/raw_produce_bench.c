/*
 * tests/bench/raw_produce_bench.c — the broker's own produce ceiling: a
 * client that costs almost nothing, so that the broker gets the CPU that
 * librdkafka would otherwise use on a small machine.
 *
 *   raw_produce_bench HOST:PORT TOPIC RECORD_SIZE PARTITIONS [seconds=S]
 *                     [inflight=N] [batch_bytes=B] [acks=A] [pid=P] [recrc=1]
 *
 * Encodes one RecordBatch v2 (magic 2, uncompressed, no keys, RECORD_SIZE
 * random value bytes per record, as many records as fit in batch_bytes,
 * default 1 MiB) once, then sends Produce v7 requests (acks=1 by default),
 * one partition per request, round-robin over partitions 0..PARTITIONS-1,
 * with up to `inflight` (default 5, as librdkafka) requests outstanding,
 * for `seconds` (default 10). The broker assigns the offsets, so the same
 * bytes can be sent again and again. TOPIC must already exist with at least
 * PARTITIONS partitions (tests/bench/run creates it with produce_bench).
 * With pid=P (>= 0) the batches are idempotent: producer id P, epoch 0, and
 * per partition consecutive sequences, so every request's baseSequence is
 * patched and its CRC recomputed (slicing-by-8, on the client's CPU: the
 * cpu_* keys include it) before it is sent; the broker checks and records
 * each one (docs/storage.md "Producer state"). recrc=1 recomputes the CRC
 * of every request in either mode, so that plain and idempotent runs cost
 * the client the same and differ only in the broker's work.
 *
 * Every response is decoded and each partition's error code checked.
 * Prints one line of key=value (same keys as produce_bench; latency is per
 * request, from write to response):
 *   records bytes errors requests elapsed_s records_per_s mb_per_s p50_ms
 *   p99_ms p999_ms max_ms cpu_user_s cpu_sys_s cpu_s_per_mb
 * The wire format is in docs/protocol.md; this file owns no format.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "bench_util.h"
#include "raw_wire.h"

#define MAX_INFLIGHT 64

static uint32_t crc_tab[8][256];

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1u)));
        crc_tab[0][i] = c;
    }
    for (int t = 1; t < 8; t++)
        for (int i = 0; i < 256; i++)
            crc_tab[t][i] = (crc_tab[t - 1][i] >> 8) ^ crc_tab[0][crc_tab[t - 1][i] & 0xff];
}

/* CRC-32C, slicing-by-8 (little-endian loads). */
static uint32_t crc32c_sw(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xffffffffu;
    while (n >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                             (uint32_t)p[3] << 24);
        crc = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^ crc_tab[5][(lo >> 16) & 0xff] ^
              crc_tab[4][lo >> 24] ^ crc_tab[3][p[4]] ^ crc_tab[2][p[5]] ^ crc_tab[1][p[6]] ^
              crc_tab[0][p[7]];
        p += 8;
        n -= 8;
    }
    while (n--)
        crc = (crc >> 8) ^ crc_tab[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

/* Appends one RecordBatch v2 with `count` records of `size` bytes. */
static void encode_batch(struct wbuf *b, int count, long size, const uint8_t *value, int64_t pid)
{
    struct wbuf recs = {0};
    for (int i = 0; i < count; i++) {
        struct wbuf r = {0};
        uint8_t zero = 0;
        w_bytes(&r, &zero, 1); /* attributes */
        w_varint(&r, 0);       /* timestampDelta */
        w_varint(&r, i);       /* offsetDelta */
        w_varint(&r, -1);      /* key: null */
        w_varint(&r, size);
        w_bytes(&r, value, (size_t)size);
        w_varint(&r, 0); /* headers */
        w_varint(&recs, (int64_t)r.len);
        w_bytes(&recs, r.p, r.len);
        free(r.p);
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    int64_t now_ms = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
    size_t start = b->len;
    w_be(b, 0, 8);                         /* baseOffset */
    w_be(b, 49 + recs.len, 4);             /* batchLength: from partitionLeaderEpoch on */
    w_be(b, (uint32_t)-1, 4);              /* partitionLeaderEpoch */
    w_be(b, 2, 1);                         /* magic */
    w_be(b, 0, 4);                         /* crc, below */
    w_be(b, 0, 2);                         /* attributes */
    w_be(b, (uint64_t)(count - 1), 4);     /* lastOffsetDelta */
    w_be(b, (uint64_t)now_ms, 8);          /* firstTimestamp */
    w_be(b, (uint64_t)now_ms, 8);          /* maxTimestamp */
    w_be(b, (uint64_t)pid, 8);             /* producerId (-1: none) */
    w_be(b, pid >= 0 ? 0 : 0xffff, 2);     /* producerEpoch */
    w_be(b, pid >= 0 ? 0 : UINT32_MAX, 4); /* baseSequence */
    w_be(b, (uint64_t)count, 4);
    w_bytes(b, recs.p, recs.len);
    free(recs.p);
    put_be32(b->p + start + 17, crc32c_sw(b->p + start + 21, b->len - start - 21));
}

/* One Produce v7 request per partition, correlation id patched per send. */
static void encode_request(struct wbuf *req, const char *topic, int partition, int16_t acks,
                           const struct wbuf *batch)
{
    w_be(req, 0, 4); /* size, below */
    w_be(req, 0, 2); /* apiKey Produce */
    w_be(req, 7, 2); /* apiVersion */
    w_be(req, 0, 4); /* correlationId, patched */
    w_str(req, "raw-produce-bench");
    w_be(req, 0xffff, 2); /* transactionalId: null */
    w_be(req, (uint16_t)acks, 2);
    w_be(req, 30000, 4); /* timeoutMs */
    w_be(req, 1, 4);     /* topics */
    w_str(req, topic);
    w_be(req, 1, 4); /* partitions */
    w_be(req, (uint32_t)partition, 4);
    w_be(req, batch->len, 4);
    w_bytes(req, batch->p, batch->len);
    put_be32(req->p, (uint32_t)(req->len - 4));
}

/* ---- response ------------------------------------------------------------ */

/* Decodes a Produce v7 response body (after the correlation id); returns the
 * first non-zero partition error code, 0, or -1 when malformed. */
static int decode_response(const uint8_t *p, size_t n)
{
    struct rd r = {p, p + n, 0};
    int err = 0;
    uint32_t topics = (uint32_t)r_be(&r, 4);
    for (uint32_t t = 0; t < topics && !r.bad; t++) {
        r_skip_str(&r);
        uint32_t parts = (uint32_t)r_be(&r, 4);
        for (uint32_t i = 0; i < parts && !r.bad; i++) {
            r_be(&r, 4);
            int16_t e = (int16_t)r_be(&r, 2);
            r_be(&r, 8);
            r_be(&r, 8);
            r_be(&r, 8);
            if (e && !err)
                err = e;
        }
    }
    r_be(&r, 4); /* throttle_time_ms */
    return r.bad ? -1 : err;
}

/* Reads one response; checks its correlation id. Returns the error code
 * (0 = ok) or -1 on a broken connection or a malformed response. */
static int read_response(int fd, uint32_t want_corr)
{
    static uint8_t buf[1 << 16];
    uint8_t hdr[8];
    if (read_all(fd, hdr, 8))
        return -1;
    uint32_t size = get_be32(hdr), corr = get_be32(hdr + 4);
    if (size < 4 || size - 4 > sizeof(buf) || corr != want_corr || read_all(fd, buf, size - 4))
        return -1;
    return decode_response(buf, size - 4);
}

/* ---- main ---------------------------------------------------------------- */

struct opts {
    const char *addr, *topic;
    long size;
    int partitions, inflight, acks;
    double seconds;
    long batch_bytes;
    int64_t pid;      /* -1: plain batches */
    int recrc;        /* recompute each request's CRC even without pid */
    int count;        /* records per batch */
    size_t batch_len; /* bytes of the batch at the end of each request */
};

struct stats {
    uint64_t requests, errors;
    int first_err;
    struct bench_hist hist;
};

/* Sends for o->seconds with a window of o->inflight requests. */
static int pump(int fd, const struct opts *o, struct wbuf *reqs, struct stats *st)
{
    int64_t sent_at[MAX_INFLIGHT];
    uint32_t next_send = 0, next_recv = 0;
    int64_t end = bench_now_ns() + (int64_t)(o->seconds * 1e9);
    for (;;) {
        int sending = bench_now_ns() < end;
        if (sending && next_send - next_recv < (uint32_t)o->inflight) {
            uint32_t part = next_send % (uint32_t)o->partitions;
            struct wbuf *rq = &reqs[part];
            put_be32(rq->p + 8, next_send);
            uint8_t *bt = rq->p + rq->len - o->batch_len;
            if (o->pid >= 0) /* the partition's next sequence; the CRC covers it */
                put_be32(bt + 53, (uint32_t)((uint64_t)(next_send / (uint32_t)o->partitions) *
                                             (uint64_t)o->count % 0x80000000u));
            if (o->pid >= 0 || o->recrc)
                put_be32(bt + 17, crc32c_sw(bt + 21, o->batch_len - 21));
            sent_at[next_send % MAX_INFLIGHT] = bench_now_ns();
            if (write_all(fd, rq->p, rq->len))
                return -1;
            next_send++;
            continue;
        }
        if (next_recv == next_send)
            return 0;
        int e = read_response(fd, next_recv);
        if (e < 0)
            return -1;
        bench_hist_add(&st->hist, bench_now_ns() - sent_at[next_recv % MAX_INFLIGHT]);
        if (e > 0 && st->errors++ == 0)
            st->first_err = e;
        next_recv++;
        st->requests++;
    }
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    o->addr = argv[1];
    o->topic = argv[2];
    o->size = strtol(argv[3], NULL, 10);
    o->partitions = atoi(argv[4]);
    o->inflight = 5;
    o->acks = 1;
    o->seconds = 10;
    o->batch_bytes = 1 << 20;
    o->pid = -1;
    o->recrc = 0;
    for (int i = 5; i < argc; i++) {
        if (strncmp(argv[i], "seconds=", 8) == 0)
            o->seconds = strtod(argv[i] + 8, NULL);
        else if (strncmp(argv[i], "inflight=", 9) == 0)
            o->inflight = atoi(argv[i] + 9);
        else if (strncmp(argv[i], "batch_bytes=", 12) == 0)
            o->batch_bytes = strtol(argv[i] + 12, NULL, 10);
        else if (strncmp(argv[i], "acks=", 5) == 0)
            o->acks = atoi(argv[i] + 5);
        else if (strncmp(argv[i], "pid=", 4) == 0)
            o->pid = strtoll(argv[i] + 4, NULL, 10);
        else if (strncmp(argv[i], "recrc=", 6) == 0)
            o->recrc = atoi(argv[i] + 6);
        else
            return -1;
    }
    if (o->size <= 0 || o->partitions <= 0 || o->inflight <= 0 || o->inflight > MAX_INFLIGHT ||
        o->seconds <= 0 || o->batch_bytes < 1024 || o->acks == 0)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    struct stats st = {0};
    if (argc < 5 || parse_opts(argc, argv, &o)) {
        fprintf(stderr,
                "usage: raw_produce_bench HOST:PORT TOPIC RECORD_SIZE PARTITIONS"
                " [seconds=S] [inflight=N] [batch_bytes=B] [acks=1|-1] [pid=P] [recrc=1]\n");
        return 2;
    }
    uint8_t *value = malloc((size_t)o.size);
    struct wbuf batch = {0}, *reqs = calloc((size_t)o.partitions, sizeof(*reqs));
    if (!value || !reqs || bench_hist_init(&st.hist))
        return 1;
    srand(42);
    for (long i = 0; i < o.size; i++)
        value[i] = (uint8_t)(rand() & 0xff);
    int count = (int)((o.batch_bytes - 61) / (o.size + 12)); /* 12 >= per-record framing */
    if (count < 1)
        count = 1;
    crc_init();
    encode_batch(&batch, count, o.size, value, o.pid);
    o.count = count;
    o.batch_len = batch.len;
    for (int p = 0; p < o.partitions; p++)
        encode_request(&reqs[p], o.topic, p, (int16_t)o.acks, &batch);
    int fd = connect_to(o.addr);
    if (fd < 0) {
        fprintf(stderr, "raw_produce_bench: cannot connect to %s\n", o.addr);
        return 1;
    }
    double u0, s0, u1, s1;
    bench_cpu(RUSAGE_SELF, &u0, &s0);
    int64_t t0 = bench_now_ns();
    int rc = pump(fd, &o, reqs, &st);
    double elapsed = (double)(bench_now_ns() - t0) / 1e9;
    bench_cpu(RUSAGE_SELF, &u1, &s1);
    close(fd);
    uint64_t ok = (st.requests - st.errors) * (uint64_t)count;
    double mb = (double)ok * (double)o.size / 1e6;
    printf("records=%" PRIu64 " bytes=%" PRIu64 " errors=%" PRIu64 " requests=%" PRIu64
           " records_per_batch=%d elapsed_s=%.3f records_per_s=%.0f mb_per_s=%.1f p50_ms=%.3f"
           " p99_ms=%.3f p999_ms=%.3f max_ms=%.3f cpu_user_s=%.3f cpu_sys_s=%.3f"
           " cpu_s_per_mb=%.5f\n",
           ok, ok * (uint64_t)o.size, st.errors, st.requests, count, elapsed, (double)ok / elapsed,
           mb / elapsed, bench_hist_quantile_ms(&st.hist, 0.5),
           bench_hist_quantile_ms(&st.hist, 0.99), bench_hist_quantile_ms(&st.hist, 0.999),
           (double)st.hist.max_ns / 1e6, u1 - u0, s1 - s0, mb > 0 ? (u1 - u0 + s1 - s0) / mb : 0.0);
    if (rc)
        fprintf(stderr, "raw_produce_bench: connection failed after %" PRIu64 " requests\n",
                st.requests);
    if (st.errors)
        fprintf(stderr, "raw_produce_bench: %" PRIu64 " requests failed, first error code %d\n",
                st.errors, st.first_err);
    for (int p = 0; p < o.partitions; p++)
        free(reqs[p].p);
    free(reqs);
    free(batch.p);
    free(value);
    bench_hist_destroy(&st.hist);
    return rc || st.errors ? 1 : 0;
}
