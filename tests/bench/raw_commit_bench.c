/*
 * tests/bench/raw_commit_bench.c — the broker's own OffsetCommit ceiling:
 * commits acknowledged per second through one group coordinator, from a
 * client that costs almost nothing.
 *
 *   raw_commit_bench HOST:PORT TOPIC PARTITIONS [seconds=3] [inflight=8]
 *                    [conns=1]
 *
 * Sends OffsetCommit v7 requests for one new group as a simple consumer
 * (generation -1, empty member id), each carrying an offset for every
 * partition 0..PARTITIONS-1 of TOPIC (the offsets grow by one per request),
 * on CONNS connections with INFLIGHT requests pipelined on each, for SECONDS;
 * then waits for the answers still due. A commit counts when its answer
 * arrives with no partition error.
 *
 * Prints one line of key=value:
 *   partitions conns inflight commits offsets errors elapsed_s commits_per_s
 *   offsets_per_s p50_ms p99_ms cpu_user_s cpu_sys_s
 * (p50/p99: request sent -> answer read). Exit status: 0 on success, 1 on
 * error or when any commit failed, 2 on usage. The wire format is Kafka's
 * (docs/protocol.md); this file owns no format.
 */
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "raw_wire.h"

#define MAX_CONNS 64
#define MAX_INFLIGHT 256

struct conn {
    int fd;
    uint32_t next_corr, due_corr; /* next to send, next answer expected */
    int64_t sent_ns[MAX_INFLIGHT];
};

struct commit {
    const char *topic;
    char group[128];
    int partitions;
    uint64_t commits, offsets, errors;
    int64_t next_offset;
    struct wbuf req;
    uint8_t *buf;
    size_t cap;
    struct bench_hist hist;
};

static int send_commit(struct commit *c, struct conn *k)
{
    struct wbuf *w = &c->req;
    w_begin_request(w, 8, 7, k->next_corr, "raw-commit-bench");
    w_str(w, c->group);
    w_be(w, UINT32_MAX, 4); /* generation_id -1 */
    w_str(w, "");           /* member_id */
    w_be(w, 0xffff, 2);     /* group_instance_id: null */
    w_be(w, 1, 4);
    w_str(w, c->topic);
    w_be(w, (uint32_t)c->partitions, 4);
    int64_t off = ++c->next_offset;
    for (int i = 0; i < c->partitions; i++) {
        w_be(w, (uint32_t)i, 4);
        w_be(w, (uint64_t)off, 8);
        w_be(w, UINT32_MAX, 4); /* committed_leader_epoch -1 */
        w_str(w, "");           /* committed_metadata */
    }
    w_end_request(w);
    k->sent_ns[k->next_corr % MAX_INFLIGHT] = bench_now_ns();
    k->next_corr++;
    return write_all(k->fd, w->p, w->len);
}

static int read_commit(struct commit *c, struct conn *k)
{
    ssize_t n = read_frame(k->fd, k->due_corr, &c->buf, &c->cap);
    if (n < 0)
        return -1;
    bench_hist_add(&c->hist, bench_now_ns() - k->sent_ns[k->due_corr % MAX_INFLIGHT]);
    k->due_corr++;
    struct rd r = {c->buf, c->buf + n, 0};
    r_be(&r, 4); /* throttle_time_ms */
    uint32_t topics = (uint32_t)r_be(&r, 4);
    int failed = 0, parts = 0;
    for (uint32_t t = 0; t < topics && !r.bad; t++) {
        r_skip_str(&r);
        uint32_t np = (uint32_t)r_be(&r, 4);
        for (uint32_t i = 0; i < np && !r.bad; i++) {
            r_be(&r, 4);
            int16_t err = (int16_t)r_be(&r, 2);
            if (err != 0 && c->errors == 0)
                fprintf(stderr, "raw_commit_bench: partition error %d\n", err);
            failed |= err != 0;
            parts++;
        }
    }
    if (r.bad || failed || parts != c->partitions) {
        c->errors++;
        return 0;
    }
    c->commits++;
    c->offsets += (uint64_t)parts;
    return 0;
}

int main(int argc, char **argv)
{
    static struct commit c;
    static struct conn k[MAX_CONNS];
    double seconds = 3;
    int inflight = 8, conns = 1;
    if (argc < 4) {
        fprintf(stderr, "usage: raw_commit_bench HOST:PORT TOPIC PARTITIONS [seconds=3]"
                        " [inflight=8] [conns=1]\n");
        return 2;
    }
    c.topic = argv[2];
    c.partitions = atoi(argv[3]);
    for (int i = 4; i < argc; i++) {
        if (strncmp(argv[i], "seconds=", 8) == 0)
            seconds = atof(argv[i] + 8);
        else if (strncmp(argv[i], "inflight=", 9) == 0)
            inflight = atoi(argv[i] + 9);
        else if (strncmp(argv[i], "conns=", 6) == 0)
            conns = atoi(argv[i] + 6);
        else
            return 2;
    }
    if (c.partitions <= 0 || inflight < 1 || inflight > MAX_INFLIGHT || conns < 1 ||
        conns > MAX_CONNS || seconds <= 0 || bench_hist_init(&c.hist))
        return 2;
    snprintf(c.group, sizeof(c.group), "raw-commit-bench-%d", (int)getpid());
    struct pollfd pfd[MAX_CONNS];
    for (int i = 0; i < conns; i++) {
        k[i].fd = connect_to(argv[1]);
        if (k[i].fd < 0) {
            fprintf(stderr, "raw_commit_bench: cannot connect to %s\n", argv[1]);
            return 1;
        }
        pfd[i] = (struct pollfd){.fd = k[i].fd, .events = POLLIN};
    }
    double u0, s0, u1, s1;
    bench_cpu(RUSAGE_SELF, &u0, &s0);
    int64_t t0 = bench_now_ns(), end = t0 + (int64_t)(seconds * 1e9);
    int rc = 0, sending = 1;
    for (;;) {
        int64_t now = bench_now_ns();
        sending = sending && now < end;
        int pending = 0;
        for (int i = 0; i < conns && rc == 0; i++) {
            while (sending && k[i].next_corr - k[i].due_corr < (uint32_t)inflight)
                if (send_commit(&c, &k[i])) {
                    rc = -1;
                    break;
                }
            pending += k[i].next_corr != k[i].due_corr;
        }
        if (rc || !pending)
            break;
        if (poll(pfd, (nfds_t)conns, 10000) <= 0) {
            fprintf(stderr, "raw_commit_bench: no answer for 10 s\n");
            rc = -1;
            break;
        }
        for (int i = 0; i < conns && rc == 0; i++)
            if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
                rc = read_commit(&c, &k[i]);
    }
    double elapsed = (double)(bench_now_ns() - t0) / 1e9;
    bench_cpu(RUSAGE_SELF, &u1, &s1);
    printf("partitions=%d conns=%d inflight=%d commits=%" PRIu64 " offsets=%" PRIu64
           " errors=%" PRIu64 " elapsed_s=%.3f commits_per_s=%.0f offsets_per_s=%.0f"
           " p50_ms=%.3f p99_ms=%.3f cpu_user_s=%.3f cpu_sys_s=%.3f\n",
           c.partitions, conns, inflight, c.commits, c.offsets, c.errors, elapsed,
           (double)c.commits / elapsed, (double)c.offsets / elapsed,
           bench_hist_quantile_ms(&c.hist, 0.5), bench_hist_quantile_ms(&c.hist, 0.99), u1 - u0,
           s1 - s0);
    for (int i = 0; i < conns; i++)
        close(k[i].fd);
    bench_hist_destroy(&c.hist);
    free(c.req.p);
    free(c.buf);
    return rc || c.errors ? 1 : 0;
}
