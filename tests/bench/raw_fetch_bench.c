/*
 * tests/bench/raw_fetch_bench.c — the broker's own fetch ceiling: a consumer
 * that only reads the bytes and walks the batch headers, so that the broker
 * gets the CPU that librdkafka would otherwise use on a small machine.
 *
 *   raw_fetch_bench HOST:PORT TOPIC PARTITIONS RECORD_SIZE
 *                   [max_bytes=B] [partition_max_bytes=B] [max_requests=N]
 *
 * Sends Fetch v4 requests (replica -1, read_uncommitted) for partitions
 * 0..PARTITIONS-1 of TOPIC, one request at a time, from offset 0 until each
 * partition's offset reaches the high watermark seen in the first response.
 * Each response is read whole into a buffer (one copy, as any consumer) and
 * only its RecordBatch headers are decoded (baseOffset, batchLength,
 * lastOffsetDelta, recordsCount); a partial batch at the end of a partition's
 * data is fetched again next time. Defaults: max_bytes 52428800,
 * partition_max_bytes 4194304 (as consume_bench). max_requests=N stops
 * after N requests (max_requests=1: a probe that every partition answers
 * without an error, e.g. that the broker leads them again after a restart).
 *
 * Prints one line of key=value (MB = 10^6 bytes of record values, computed
 * as records * RECORD_SIZE; wire_bytes counts the batches as sent):
 *   records bytes wire_bytes requests partitions elapsed_s records_per_s
 *   mb_per_s cpu_user_s cpu_sys_s cpu_s_per_mb
 * The wire format is in docs/protocol.md; this file owns no format.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "raw_wire.h"

struct part {
    int64_t offset;
    int64_t hw; /* -1 until the first response */
};

struct fetch {
    const char *topic;
    int partitions;
    long record_size;
    int32_t max_bytes, part_max_bytes;
    struct part *parts;
    uint8_t *buf;
    size_t buf_cap;
    uint64_t records, wire_bytes, requests;
    uint64_t max_requests; /* 0: until every partition's high watermark */
};

static void encode_fetch(struct fetch *f, struct wbuf *req, uint32_t corr)
{
    req->len = 0;
    w_be(req, 0, 4); /* size, below */
    w_be(req, 1, 2); /* apiKey Fetch */
    w_be(req, 4, 2); /* apiVersion */
    w_be(req, corr, 4);
    w_str(req, "raw-fetch-bench");
    w_be(req, UINT32_MAX, 4); /* replica_id -1 */
    w_be(req, 100, 4);        /* max_wait_ms */
    w_be(req, 1, 4);          /* min_bytes */
    w_be(req, (uint32_t)f->max_bytes, 4);
    w_be(req, 0, 1); /* isolation_level: read_uncommitted */
    w_be(req, 1, 4); /* topics */
    w_str(req, f->topic);
    w_be(req, (uint32_t)f->partitions, 4);
    for (int i = 0; i < f->partitions; i++) {
        w_be(req, (uint32_t)i, 4);
        w_be(req, (uint64_t)f->parts[i].offset, 8);
        w_be(req, (uint32_t)f->part_max_bytes, 4);
    }
    put_be32(req->p, (uint32_t)(req->len - 4));
}

/* Walks the complete batches of one partition's records; advances its
 * offset past them. */
static void walk_records(struct fetch *f, struct part *pt, const uint8_t *p, size_t n)
{
    while (n >= 61) {
        uint32_t blen = get_be32(p + 8);
        if (blen < 49 || (size_t)blen + 12 > n)
            break;
        int64_t base = (int64_t)((uint64_t)get_be32(p) << 32 | get_be32(p + 4));
        int64_t last = base + (int64_t)get_be32(p + 23);
        if (last >= pt->offset) {
            f->records += get_be32(p + 57);
            pt->offset = last + 1;
        }
        f->wire_bytes += (uint64_t)blen + 12;
        p += (size_t)blen + 12;
        n -= (size_t)blen + 12;
    }
}

/* Decodes a Fetch v4 response body (after the correlation id). Returns 0,
 * or -1 when malformed or a partition reports an error. */
static int decode_fetch(struct fetch *f, const uint8_t *p, size_t n)
{
    struct rd r = {p, p + n, 0};
    r_be(&r, 4); /* throttle_time_ms */
    uint32_t topics = (uint32_t)r_be(&r, 4);
    for (uint32_t t = 0; t < topics && !r.bad; t++) {
        r_skip_str(&r);
        uint32_t parts = (uint32_t)r_be(&r, 4);
        for (uint32_t i = 0; i < parts && !r.bad; i++) {
            uint32_t idx = (uint32_t)r_be(&r, 4);
            int16_t err = (int16_t)r_be(&r, 2);
            int64_t hw = (int64_t)r_be(&r, 8);
            r_be(&r, 8); /* last_stable_offset */
            int32_t aborted = (int32_t)r_be(&r, 4);
            for (int32_t a = 0; a < aborted && !r.bad; a++) {
                r_be(&r, 8); /* producer_id */
                r_be(&r, 8); /* first_offset */
            }
            int32_t len = (int32_t)r_be(&r, 4);
            if (r.bad || idx >= (uint32_t)f->partitions || err != 0 ||
                (len > 0 && r.end - r.p < len)) {
                fprintf(stderr, "raw_fetch_bench: partition %u: error %d\n", idx, err);
                return -1;
            }
            struct part *pt = &f->parts[idx];
            if (pt->hw < 0)
                pt->hw = hw;
            if (len > 0) {
                walk_records(f, pt, r.p, (size_t)len);
                r.p += len;
            }
        }
    }
    return r.bad ? -1 : 0;
}

static int read_fetch_response(struct fetch *f, int fd, uint32_t corr)
{
    uint8_t hdr[8];
    if (read_all(fd, hdr, 8))
        return -1;
    uint32_t size = get_be32(hdr);
    if (size < 4 || get_be32(hdr + 4) != corr)
        return -1;
    if (size - 4 > f->buf_cap) {
        free(f->buf);
        f->buf_cap = size - 4;
        f->buf = malloc(f->buf_cap);
        if (!f->buf)
            return -1;
    }
    if (read_all(fd, f->buf, size - 4))
        return -1;
    return decode_fetch(f, f->buf, size - 4);
}

static int fetch_done(const struct fetch *f)
{
    for (int i = 0; i < f->partitions; i++)
        if (f->parts[i].hw < 0 || f->parts[i].offset < f->parts[i].hw)
            return 0;
    return 1;
}

static int fetch_all(struct fetch *f, int fd)
{
    struct wbuf req = {0};
    int rc = 0;
    for (uint32_t corr = 0; !fetch_done(f) && (!f->max_requests || f->requests < f->max_requests);
         corr++) {
        encode_fetch(f, &req, corr);
        if (write_all(fd, req.p, req.len) || read_fetch_response(f, fd, corr)) {
            rc = -1;
            break;
        }
        f->requests++;
    }
    free(req.p);
    return rc;
}

int main(int argc, char **argv)
{
    struct fetch f = {0};
    if (argc < 5) {
        fprintf(stderr, "usage: raw_fetch_bench HOST:PORT TOPIC PARTITIONS RECORD_SIZE"
                        " [max_bytes=B] [partition_max_bytes=B] [max_requests=N]\n");
        return 2;
    }
    f.topic = argv[2];
    f.partitions = atoi(argv[3]);
    f.record_size = strtol(argv[4], NULL, 10);
    f.max_bytes = 52428800;
    f.part_max_bytes = 4194304;
    for (int i = 5; i < argc; i++) {
        if (strncmp(argv[i], "max_bytes=", 10) == 0)
            f.max_bytes = atoi(argv[i] + 10);
        else if (strncmp(argv[i], "partition_max_bytes=", 20) == 0)
            f.part_max_bytes = atoi(argv[i] + 20);
        else if (strncmp(argv[i], "max_requests=", 13) == 0)
            f.max_requests = strtoull(argv[i] + 13, NULL, 10);
    }
    f.parts = calloc((size_t)(f.partitions > 0 ? f.partitions : 1), sizeof(*f.parts));
    if (f.partitions <= 0 || f.record_size <= 0 || f.max_bytes <= 0 || !f.parts)
        return 2;
    for (int i = 0; i < f.partitions; i++)
        f.parts[i].hw = -1;
    int fd = connect_to(argv[1]);
    if (fd < 0) {
        fprintf(stderr, "raw_fetch_bench: cannot connect to %s\n", argv[1]);
        return 1;
    }
    double u0, s0, u1, s1;
    bench_cpu(RUSAGE_SELF, &u0, &s0);
    int64_t t0 = bench_now_ns();
    int rc = fetch_all(&f, fd);
    double elapsed = (double)(bench_now_ns() - t0) / 1e9;
    bench_cpu(RUSAGE_SELF, &u1, &s1);
    close(fd);
    double mb = (double)f.records * (double)f.record_size / 1e6;
    printf("records=%" PRIu64 " bytes=%" PRIu64 " wire_bytes=%" PRIu64 " requests=%" PRIu64
           " partitions=%d elapsed_s=%.3f records_per_s=%.0f mb_per_s=%.1f cpu_user_s=%.3f"
           " cpu_sys_s=%.3f cpu_s_per_mb=%.5f\n",
           f.records, f.records * (uint64_t)f.record_size, f.wire_bytes, f.requests, f.partitions,
           elapsed, (double)f.records / elapsed, mb / elapsed, u1 - u0, s1 - s0,
           mb > 0 ? (u1 - u0 + s1 - s0) / mb : 0.0);
    free(f.buf);
    free(f.parts);
    return rc ? 1 : 0;
}
