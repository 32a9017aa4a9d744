/*
 * tests/bench/raw_wire.h — just enough of the Kafka wire format (big-endian
 * integers, zigzag varints, INT16-length strings) and of blocking TCP I/O
 * for the raw benchmark clients (raw_produce_bench, raw_fetch_bench,
 * raw_group_bench, raw_commit_bench), which talk to the broker without
 * librdkafka so that the client costs almost nothing. Header-only; the formats are those of docs/protocol.md.
 */
#ifndef GREGOR_BENCH_RAW_WIRE_H
#define GREGOR_BENCH_RAW_WIRE_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct wbuf {
    uint8_t *p;
    size_t len, cap;
};

/* Not inlined: GCC's -Wstringop-overflow otherwise misjudges the buffer
 * size after a realloc() it cannot see through. */
__attribute__((noinline, unused)) static void w_reserve(struct wbuf *b, size_t n)
{
    if (b->len + n <= b->cap)
        return;
    size_t cap = b->cap ? b->cap * 2 : 4096;
    while (cap < b->len + n)
        cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p) {
        fprintf(stderr, "raw bench: out of memory\n");
        exit(1);
    }
    b->p = p;
    b->cap = cap;
}

static inline void w_bytes(struct wbuf *b, const void *p, size_t n)
{
    w_reserve(b, n);
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static inline void w_be(struct wbuf *b, uint64_t v, int n)
{
    uint8_t t[8];
    for (int i = 0; i < n; i++)
        t[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    w_bytes(b, t, (size_t)n);
}

static inline void w_varint(struct wbuf *b, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    while (z >= 0x80) {
        uint8_t c = (uint8_t)(z | 0x80);
        w_bytes(b, &c, 1);
        z >>= 7;
    }
    uint8_t c = (uint8_t)z;
    w_bytes(b, &c, 1);
}

static inline void w_str(struct wbuf *b, const char *s)
{
    w_be(b, strlen(s), 2);
    w_bytes(b, s, strlen(s));
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

struct rd {
    const uint8_t *p, *end;
    int bad;
};

static inline uint64_t r_be(struct rd *r, int n)
{
    uint64_t v = 0;
    if (r->end - r->p < n) {
        r->bad = 1;
        return 0;
    }
    for (int i = 0; i < n; i++)
        v = (v << 8) | *r->p++;
    return v;
}

static inline void r_skip_str(struct rd *r)
{
    int16_t n = (int16_t)r_be(r, 2);
    if (n > 0 && r->end - r->p >= n)
        r->p += n;
    else if (n > 0)
        r->bad = 1;
}

/* Connects to "a.b.c.d:port" with TCP_NODELAY; returns the fd or -1. */
static inline int connect_to(const char *hostport)
{
    char host[256];
    const char *colon = strrchr(hostport, ':');
    if (!colon || (size_t)(colon - hostport) >= sizeof(host))
        return -1;
    snprintf(host, sizeof(host), "%.*s", (int)(colon - hostport), hostport);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0)
        return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static inline int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static inline int read_all(int fd, uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static inline uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Starts a request: the size (patched by w_end_request()) and a v1 request
 * header (api key, version, correlation id, client id). */
static inline void w_begin_request(struct wbuf *b, int api_key, int api_version, uint32_t corr,
                                   const char *client_id)
{
    b->len = 0;
    w_be(b, 0, 4);
    w_be(b, (uint64_t)api_key, 2);
    w_be(b, (uint64_t)api_version, 2);
    w_be(b, corr, 4);
    w_str(b, client_id);
}

static inline void w_end_request(struct wbuf *b) { put_be32(b->p, (uint32_t)(b->len - 4)); }

/* Copies an INT16-length string into out (truncated to cap - 1 bytes; a
 * null string reads as ""). */
static inline void r_str(struct rd *r, char *out, size_t cap)
{
    int16_t n = (int16_t)r_be(r, 2);
    out[0] = '\0';
    if (n <= 0)
        return;
    if (r->end - r->p < n) {
        r->bad = 1;
        return;
    }
    size_t c = (size_t)n < cap ? (size_t)n : cap - 1;
    memcpy(out, r->p, c);
    out[c] = '\0';
    r->p += n;
}

/* Reads one response frame into *buf (grown as needed) and checks its
 * correlation id. Returns the body length after the correlation id, or -1. */
static inline ssize_t read_frame(int fd, uint32_t corr, uint8_t **buf, size_t *cap)
{
    uint8_t hdr[8];
    if (read_all(fd, hdr, 8))
        return -1;
    uint32_t size = get_be32(hdr);
    if (size < 4 || get_be32(hdr + 4) != corr) {
        fprintf(stderr, "raw bench: response %u out of order (expected %u)\n", get_be32(hdr + 4),
                corr);
        return -1;
    }
    if (size - 4 > *cap) {
        uint8_t *p = realloc(*buf, size - 4);
        if (!p)
            return -1;
        *buf = p;
        *cap = size - 4;
    }
    if (read_all(fd, *buf, size - 4))
        return -1;
    return (ssize_t)(size - 4);
}

#endif
