/*
 * tests/bench/raw_produce_bench.c — the broker's own produce ceiling: a
 * client that costs almost nothing, so that the broker gets the CPU that
 * librdkafka would otherwise use on a small machine.
 *
 *   raw_produce_bench HOST:PORT TOPIC RECORD_SIZE PARTITIONS [seconds=S]
 *                     [inflight=N] [batch_bytes=B] [acks=A] [pid=P] [recrc=1]
 *                     [conns=C] [spread=rr|all|slice] [broker_pid=PID] [rate=R]
 *
 * Encodes RecordBatch v2 batches (magic 2, uncompressed, no keys,
 * RECORD_SIZE random value bytes per record) once, then sends Produce v7
 * requests (acks=1 by default) over C connections (default 1, one thread
 * each), each with up to `inflight` (default 5, as librdkafka) requests
 * outstanding, for `seconds` (default 10). A request carries batch_bytes
 * (default 1 MiB) of batches in all, split evenly over its partitions:
 *   spread=rr (default)  one partition per request, round-robin over
 *                        partitions 0..PARTITIONS-1 (each connection);
 *   spread=all           every request holds all PARTITIONS partitions;
 *   spread=slice         connection i writes to its own slice, partitions
 *                        [i*P/C, (i+1)*P/C) (partition i mod P when C > P),
 *                        all of them in each request.
 * The broker assigns the offsets, so the same bytes can be sent again and
 * again. TOPIC must already exist with at least PARTITIONS partitions
 * (tests/bench/run creates it). With pid=P (>= 0) the batches are
 * idempotent: producer id P, epoch 0, and per partition consecutive
 * sequences, so every request's baseSequence fields are patched and their
 * CRCs recomputed (slicing-by-8, on the client's CPU: the cpu_* keys include
 * it) before it is sent; the broker checks and records each one
 * (docs/storage.md "Producer state"); it needs one writer per partition
 * (conns=1, or spread=slice with C <= P). recrc=1 recomputes the CRCs of
 * every request in either mode, so that plain and idempotent runs cost the
 * client the same and differ only in the broker's work. With broker_pid,
 * the CPU that process used during the run (/proc/PID/stat) is reported
 * per request and per partition in a request.
 *
 * With rate=R (requests per second over all connections), each connection
 * sends its requests on a schedule (request n due at start + n * C / R)
 * instead of as fast as the window allows, still at most `inflight`
 * outstanding; a request's latency then runs from the time it was due, so a
 * stall delays and counts against every request due meanwhile (no
 * coordinated omission). batch_bytes=1024 with RECORD_SIZE 1024 makes each
 * request one record: the broker's latency at a given record rate without a
 * client library's batching and timers in the figure.
 *
 * Every response is decoded and each partition's error code checked.
 * Prints one line of key=value (the keys of produce_bench and more; latency
 * is per request, from write to response):
 *   records bytes errors requests partition_requests conns partitions spread
 *   records_per_batch elapsed_s records_per_s mb_per_s requests_per_s p50_ms
 *   p99_ms p999_ms max_ms cpu_user_s cpu_sys_s cpu_s_per_mb
 *   [broker_s broker_s_per_mb broker_us_per_request broker_us_per_partition]
 * The wire format is in docs/protocol.md; this file owns no format.
 */
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "bench_util.h"
#include "raw_wire.h"

#define MAX_INFLIGHT 64
#define MAX_CONNS 1000

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

/* One Produce v7 request for the partitions parts[0..n-1], each with a copy
 * of batch; the offset of each copy in the request goes to batch_at[]. */
static void encode_request(struct wbuf *req, const char *topic, const int *parts, int n,
                           int16_t acks, const struct wbuf *batch, size_t *batch_at)
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
    w_be(req, (uint32_t)n, 4); /* partitions */
    for (int i = 0; i < n; i++) {
        w_be(req, (uint32_t)parts[i], 4);
        w_be(req, batch->len, 4);
        batch_at[i] = req->len;
        w_bytes(req, batch->p, batch->len);
    }
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

/* Reads one response into *buf; checks its correlation id. Returns the
 * error code (0 = ok) or -1 on a broken connection or a malformed response. */
static int read_response(int fd, uint32_t want_corr, uint8_t **buf, size_t *cap)
{
    ssize_t n = read_frame(fd, want_corr, buf, cap);
    return n < 0 ? -1 : decode_response(*buf, (size_t)n);
}

/* ---- connections ----------------------------------------------------------- */

enum spread { SPREAD_RR, SPREAD_ALL, SPREAD_SLICE };

struct opts {
    const char *addr, *topic;
    long size;
    int partitions, inflight, acks, conns;
    enum spread spread;
    double seconds;
    long batch_bytes; /* bytes of record batches per request */
    int64_t pid;      /* -1: plain batches */
    int recrc;        /* recompute each request's CRC even without pid */
    long broker_pid;  /* > 0: report that process's CPU per request and partition */
    double rate;      /* > 0: requests per second over all connections, paced */
};

/* One connection: its requests (rr: one per partition; all, slice: one
 * holding every partition of the connection), what they carry, and its
 * counts. */
struct conn {
    const struct opts *o;
    int fd;
    int nparts; /* partitions this connection writes to */
    int *parts;
    int nreqs;
    struct wbuf *reqs;
    size_t **batch_at; /* per request, the offset of each batch in it */
    int per_req;       /* batches per request */
    int count;         /* records per batch */
    size_t batch_len;  /* bytes per batch */
    uint64_t requests, errors;
    int first_err, rc;
    pthread_t thread;
};

static struct bench_hist hist;
static pthread_mutex_t hist_lock = PTHREAD_MUTEX_INITIALIZER;

/* Partitions of connection i: rr and all take every partition; slice takes
 * [i*P/C, (i+1)*P/C) when C <= P, else partition i mod P. */
static int conn_partitions(const struct opts *o, int i, int *parts)
{
    int n = 0;
    if (o->spread != SPREAD_SLICE) {
        for (int p = 0; p < o->partitions; p++)
            parts[n++] = p;
    } else if (o->conns > o->partitions) {
        parts[n++] = i % o->partitions;
    } else {
        int from = (int)((int64_t)i * o->partitions / o->conns);
        int to = (int)((int64_t)(i + 1) * o->partitions / o->conns);
        for (int p = from; p < to; p++)
            parts[n++] = p;
    }
    return n;
}

/* Encodes connection c's batch and requests (value: RECORD_SIZE bytes). */
static int conn_init(struct conn *c, const struct opts *o, int i, const uint8_t *value)
{
    c->o = o;
    c->parts = calloc((size_t)o->partitions, sizeof(*c->parts));
    if (!c->parts)
        return -1;
    c->nparts = conn_partitions(o, i, c->parts);
    c->per_req = o->spread == SPREAD_RR ? 1 : c->nparts;
    c->nreqs = o->spread == SPREAD_RR ? c->nparts : 1;
    long budget = o->batch_bytes / c->per_req;
    c->count = (int)((budget - 61) / (o->size + 12)); /* 12 >= per-record framing */
    if (c->count < 1)
        c->count = 1;
    struct wbuf batch = {0};
    encode_batch(&batch, c->count, o->size, value, o->pid);
    c->batch_len = batch.len;
    c->reqs = calloc((size_t)c->nreqs, sizeof(*c->reqs));
    c->batch_at = calloc((size_t)c->nreqs, sizeof(*c->batch_at));
    if (!c->reqs || !c->batch_at)
        return -1;
    for (int r = 0; r < c->nreqs; r++) {
        c->batch_at[r] = calloc((size_t)c->per_req, sizeof(**c->batch_at));
        if (!c->batch_at[r])
            return -1;
        encode_request(&c->reqs[r], o->topic, o->spread == SPREAD_RR ? &c->parts[r] : c->parts,
                       c->per_req, (int16_t)o->acks, &batch, c->batch_at[r]);
    }
    free(batch.p);
    c->fd = connect_to(o->addr);
    return c->fd < 0 ? -1 : 0;
}

static void conn_destroy(struct conn *c)
{
    for (int r = 0; c->reqs && r < c->nreqs; r++)
        free(c->reqs[r].p);
    for (int r = 0; c->batch_at && r < c->nreqs; r++)
        free(c->batch_at[r]);
    free(c->reqs);
    free(c->batch_at);
    free(c->parts);
    if (c->fd >= 0)
        close(c->fd);
}

/* Patches request number n (sequence numbers when idempotent, CRCs). The
 * k-th request to a partition carries sequences from k * count. */
static void patch_request(struct conn *c, struct wbuf *rq, size_t *batch_at, uint32_t n)
{
    const struct opts *o = c->o;
    uint32_t k = o->spread == SPREAD_RR ? n / (uint32_t)c->nparts : n;
    put_be32(rq->p + 8, n);
    for (int i = 0; i < c->per_req; i++) {
        uint8_t *bt = rq->p + batch_at[i];
        if (o->pid >= 0) /* the partition's next sequence; the CRC covers it */
            put_be32(bt + 53, (uint32_t)((uint64_t)k * (uint64_t)c->count % 0x80000000u));
        if (o->pid >= 0 || o->recrc)
            put_be32(bt + 17, crc32c_sw(bt + 21, c->batch_len - 21));
    }
}

/* Waits until fd is readable or the monotonic time due_ns (whichever is
 * first). Returns 1 when readable. */
static int wait_readable(int fd, int64_t due_ns)
{
    int64_t left = due_ns - bench_now_ns();
    if (left <= 0)
        return 0;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int ms = (int)((left + 999999) / 1000000);
    return poll(&pfd, 1, ms) > 0;
}

/* Sends for o->seconds with a window of o->inflight requests (paced by
 * o->rate when set). */
static void *pump(void *arg)
{
    struct conn *c = arg;
    const struct opts *o = c->o;
    int64_t sent_at[MAX_INFLIGHT];
    uint32_t next_send = 0, next_recv = 0;
    uint8_t *buf = NULL;
    size_t cap = 0;
    int64_t start = bench_now_ns();
    int64_t end = start + (int64_t)(o->seconds * 1e9);
    double gap_ns = o->rate > 0 ? 1e9 * o->conns / o->rate : 0;
    c->rc = 0;
    for (;;) {
        int64_t now = bench_now_ns();
        int sending = now < end;
        int64_t due = start + (int64_t)(gap_ns * next_send);
        int room = next_send - next_recv < (uint32_t)o->inflight;
        if (sending && room && now >= due) {
            int r = (int)(next_send % (uint32_t)c->nreqs);
            patch_request(c, &c->reqs[r], c->batch_at[r], next_send);
            sent_at[next_send % MAX_INFLIGHT] = gap_ns > 0 ? due : bench_now_ns();
            if (write_all(c->fd, c->reqs[r].p, c->reqs[r].len)) {
                c->rc = -1;
                break;
            }
            next_send++;
            continue;
        }
        if (next_recv == next_send) {
            if (!sending)
                break;
            bench_sleep_until_ns(due);
            continue;
        }
        /* paced, with room: read only what has arrived before the next is due */
        if (sending && room && !wait_readable(c->fd, due))
            continue;
        int e = read_response(c->fd, next_recv, &buf, &cap);
        if (e < 0) {
            c->rc = -1;
            break;
        }
        int64_t lat = bench_now_ns() - sent_at[next_recv % MAX_INFLIGHT];
        pthread_mutex_lock(&hist_lock);
        bench_hist_add(&hist, lat);
        pthread_mutex_unlock(&hist_lock);
        if (e > 0 && c->errors++ == 0)
            c->first_err = e;
        next_recv++;
        c->requests++;
    }
    free(buf);
    return NULL;
}

/* ---- main ---------------------------------------------------------------- */

/* CPU seconds (user + system) process pid has used, -1 when unreadable. */
static double proc_cpu_s(long pid)
{
    char path[64], line[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(line, 1, sizeof(line) - 1, f);
    fclose(f);
    line[n] = '\0';
    const char *p = strrchr(line, ')'); /* the command name may hold blanks */
    unsigned long long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
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
    o->conns = 1;
    o->spread = SPREAD_RR;
    o->broker_pid = 0;
    o->rate = 0;
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
        else if (strncmp(argv[i], "conns=", 6) == 0)
            o->conns = atoi(argv[i] + 6);
        else if (strcmp(argv[i], "spread=rr") == 0)
            o->spread = SPREAD_RR;
        else if (strcmp(argv[i], "spread=all") == 0)
            o->spread = SPREAD_ALL;
        else if (strcmp(argv[i], "spread=slice") == 0)
            o->spread = SPREAD_SLICE;
        else if (strncmp(argv[i], "broker_pid=", 11) == 0)
            o->broker_pid = strtol(argv[i] + 11, NULL, 10);
        else if (strncmp(argv[i], "rate=", 5) == 0)
            o->rate = strtod(argv[i] + 5, NULL);
        else
            return -1;
    }
    /* idempotent sequences need one writer per partition */
    if (o->pid >= 0 && o->conns > 1 && (o->spread != SPREAD_SLICE || o->conns > o->partitions))
        return -1;
    if (o->size <= 0 || o->partitions <= 0 || o->inflight <= 0 || o->inflight > MAX_INFLIGHT ||
        o->seconds <= 0 || o->batch_bytes < 1024 || o->acks == 0 || o->conns <= 0 ||
        o->conns > MAX_CONNS || o->rate < 0)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    if (argc < 5 || parse_opts(argc, argv, &o)) {
        fprintf(stderr, "usage: raw_produce_bench HOST:PORT TOPIC RECORD_SIZE PARTITIONS"
                        " [seconds=S] [inflight=N] [batch_bytes=B] [acks=1|-1] [pid=P] [recrc=1]"
                        " [conns=C] [spread=rr|all|slice] [broker_pid=PID] [rate=R]\n");
        return 2;
    }
    uint8_t *value = malloc((size_t)o.size);
    struct conn *conns = calloc((size_t)o.conns, sizeof(*conns));
    if (!value || !conns || bench_hist_init(&hist))
        return 1;
    srand(42);
    for (long i = 0; i < o.size; i++)
        value[i] = (uint8_t)(rand() & 0xff);
    crc_init();
    for (int i = 0; i < o.conns; i++)
        conns[i].fd = -1;
    for (int i = 0; i < o.conns; i++) {
        if (conn_init(&conns[i], &o, i, value)) {
            fprintf(stderr, "raw_produce_bench: cannot set up connection %d to %s\n", i, o.addr);
            return 1;
        }
    }
    double u0, s0, u1, s1, b0 = o.broker_pid > 0 ? proc_cpu_s(o.broker_pid) : -1, b1 = -1;
    bench_cpu(RUSAGE_SELF, &u0, &s0);
    int64_t t0 = bench_now_ns();
    for (int i = 0; i < o.conns; i++)
        if (pthread_create(&conns[i].thread, NULL, pump, &conns[i]) != 0)
            return 1;
    for (int i = 0; i < o.conns; i++)
        pthread_join(conns[i].thread, NULL);
    double elapsed = (double)(bench_now_ns() - t0) / 1e9;
    bench_cpu(RUSAGE_SELF, &u1, &s1);
    if (b0 >= 0)
        b1 = proc_cpu_s(o.broker_pid);
    uint64_t ok = 0, requests = 0, errors = 0, part_reqs = 0;
    int rc = 0, first_err = 0;
    for (int i = 0; i < o.conns; i++) {
        struct conn *c = &conns[i];
        ok += (c->requests - c->errors) * (uint64_t)c->per_req * (uint64_t)c->count;
        requests += c->requests;
        part_reqs += c->requests * (uint64_t)c->per_req;
        errors += c->errors;
        if (c->errors && !first_err)
            first_err = c->first_err;
        rc |= c->rc;
    }
    double mb = (double)ok * (double)o.size / 1e6;
    static const char *const spread_names[] = {"rr", "all", "slice"};
    printf("records=%" PRIu64 " bytes=%" PRIu64 " errors=%" PRIu64 " requests=%" PRIu64
           " partition_requests=%" PRIu64 " conns=%d partitions=%d spread=%s"
           " records_per_batch=%d elapsed_s=%.3f records_per_s=%.0f mb_per_s=%.1f"
           " requests_per_s=%.0f p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f"
           " cpu_user_s=%.3f cpu_sys_s=%.3f cpu_s_per_mb=%.5f",
           ok, ok * (uint64_t)o.size, errors, requests, part_reqs, o.conns, o.partitions,
           spread_names[o.spread], conns[0].count, elapsed, (double)ok / elapsed, mb / elapsed,
           (double)requests / elapsed, bench_hist_quantile_ms(&hist, 0.5),
           bench_hist_quantile_ms(&hist, 0.99), bench_hist_quantile_ms(&hist, 0.999),
           (double)hist.max_ns / 1e6, u1 - u0, s1 - s0, mb > 0 ? (u1 - u0 + s1 - s0) / mb : 0.0);
    if (b0 >= 0 && b1 >= 0) {
        double b = b1 - b0;
        printf(" broker_s=%.3f broker_s_per_mb=%.5f broker_us_per_request=%.1f"
               " broker_us_per_partition=%.2f",
               b, mb > 0 ? b / mb : 0.0, requests ? b * 1e6 / (double)requests : 0.0,
               part_reqs ? b * 1e6 / (double)part_reqs : 0.0);
    }
    printf("\n");
    if (rc)
        fprintf(stderr, "raw_produce_bench: a connection failed (%" PRIu64 " requests answered)\n",
                requests);
    if (errors)
        fprintf(stderr, "raw_produce_bench: %" PRIu64 " requests failed, first error code %d\n",
                errors, first_err);
    for (int i = 0; i < o.conns; i++)
        conn_destroy(&conns[i]);
    free(conns);
    free(value);
    bench_hist_destroy(&hist);
    return rc || errors ? 1 : 0;
}
