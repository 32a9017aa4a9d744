/*
 * tests/bench/raw_group_bench.c — how long the group coordinator takes to
 * rebalance a consumer group, without any client timer in the figure.
 *
 *   raw_group_bench HOST:PORT [members=10] [reps=5] [hb_interval_ms=0]
 *
 * Each repetition uses a new group and MEMBERS members, each on its own
 * connection, speaking JoinGroup v5, SyncGroup v3, Heartbeat v3 and
 * LeaveGroup v3 directly (one request in flight per connection):
 *
 *   join:  every member sends JoinGroup (no member id; MEMBER_ID_REQUIRED is
 *          answered by rejoining with the id given), the leader assigns one
 *          partition number to each member of its JoinGroup answer, and every
 *          member sends SyncGroup. Members that already have an assignment
 *          keep heartbeating and rejoin on REBALANCE_IN_PROGRESS (with
 *          group.initial.rebalance.delay.ms=0 the first members' generation
 *          completes before the last ones join). Time: from the first
 *          JoinGroup sent to the moment every member holds a non-empty
 *          assignment of one and the same generation.
 *   leave: the last member sends LeaveGroup; the others learn of the
 *          rebalance from a heartbeat, rejoin and sync. Time: from the
 *          LeaveGroup sent to every remaining member holding a non-empty
 *          assignment of a newer generation.
 *
 * Heartbeats go back-to-back (the next one as soon as the previous answer
 * arrives) unless hb_interval_ms > 0, which waits that long between them;
 * that interval is reported on its own (hb_interval_ms) and, when > 0, is
 * part of both figures. Before timing, FindCoordinator and a Heartbeat are
 * repeated until the group's coordinator is ready (not timed). This is a
 * single-broker bench: every connection goes to HOST:PORT, which must be the
 * coordinator.
 * Afterwards the remaining members leave in one batched LeaveGroup.
 *
 * Prints one line of key=value (times in ms):
 *   members reps hb_interval_ms join_ms_median join_ms_max join_ms_runs
 *   join_generations_max leave_ms_median leave_ms_max leave_ms_runs
 *   cpu_user_s cpu_sys_s
 * Exit status: 0 on success, 1 on error, 2 on usage. The wire formats are
 * Kafka's (docs/protocol.md) and the consumer protocol's subscription and
 * assignment v0; this file owns no format.
 */
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "raw_wire.h"

#define MAX_MEMBERS 64
#define CLIENT_ID "raw-group-bench"
#define TOPIC "raw-group-bench"
#define DEADLINE_NS (60 * (int64_t)1000000000)

enum {
    ERR_NONE = 0,
    ERR_COORDINATOR_LOAD_IN_PROGRESS = 14,
    ERR_COORDINATOR_NOT_AVAILABLE = 15,
    ERR_NOT_COORDINATOR = 16,
    ERR_ILLEGAL_GENERATION = 22,
    ERR_UNKNOWN_MEMBER_ID = 25,
    ERR_REBALANCE_IN_PROGRESS = 27,
    ERR_MEMBER_ID_REQUIRED = 79,
};

enum inflight { IF_NONE, IF_JOIN, IF_SYNC, IF_HB, IF_LEAVE };

struct member {
    int fd;
    uint32_t corr;
    enum inflight inflight;
    char id[256];
    int32_t generation; /* of the last JoinGroup answer */
    int32_t synced;     /* generation of the last non-empty assignment, or -1 */
    int active;         /* still a member (has not left) */
    int leaving;        /* send LeaveGroup when the request in flight is answered */
    int64_t next_hb_ns; /* when the next heartbeat may go */
    int n_assign;       /* leader only: members in its JoinGroup answer */
    char (*assign_ids)[256];
};

struct bench {
    const char *group;
    struct member m[MAX_MEMBERS];
    int n;
    int64_t hb_interval_ns;
    int32_t max_generation;
    struct wbuf req;
    uint8_t *buf;
    size_t cap;
};

static int send_req(struct bench *b, struct member *m, enum inflight what)
{
    w_end_request(&b->req);
    if (write_all(m->fd, b->req.p, b->req.len)) {
        fprintf(stderr, "raw_group_bench: write failed\n");
        return -1;
    }
    m->inflight = what;
    return 0;
}

static void w_subscription(struct wbuf *w)
{
    struct wbuf s = {0};
    w_be(&s, 0, 2); /* version */
    w_be(&s, 1, 4);
    w_str(&s, TOPIC);
    w_be(&s, UINT32_MAX, 4); /* user_data: null */
    w_be(w, s.len, 4);
    w_bytes(w, s.p, s.len);
    free(s.p);
}

static int send_join(struct bench *b, struct member *m)
{
    w_begin_request(&b->req, 11, 5, ++m->corr, CLIENT_ID);
    w_str(&b->req, b->group);
    w_be(&b->req, 10000, 4); /* session_timeout_ms */
    w_be(&b->req, 10000, 4); /* rebalance_timeout_ms */
    w_str(&b->req, m->id);
    w_be(&b->req, 0xffff, 2); /* group_instance_id: null */
    w_str(&b->req, "consumer");
    w_be(&b->req, 1, 4);
    w_str(&b->req, "range");
    w_subscription(&b->req);
    m->synced = -1;
    return send_req(b, m, IF_JOIN);
}

/* The leader's SyncGroup carries one assignment per member of its join
 * answer: partition i of TOPIC to the i-th member. */
static int send_sync(struct bench *b, struct member *m)
{
    w_begin_request(&b->req, 14, 3, ++m->corr, CLIENT_ID);
    w_str(&b->req, b->group);
    w_be(&b->req, (uint32_t)m->generation, 4);
    w_str(&b->req, m->id);
    w_be(&b->req, 0xffff, 2); /* group_instance_id: null */
    w_be(&b->req, (uint32_t)m->n_assign, 4);
    for (int i = 0; i < m->n_assign; i++) {
        w_str(&b->req, m->assign_ids[i]);
        w_be(&b->req, 2 + 4 + 2 + strlen(TOPIC) + 4 + 4 + 4, 4);
        w_be(&b->req, 0, 2); /* version */
        w_be(&b->req, 1, 4);
        w_str(&b->req, TOPIC);
        w_be(&b->req, 1, 4);
        w_be(&b->req, (uint32_t)i, 4);
        w_be(&b->req, UINT32_MAX, 4); /* user_data: null */
    }
    return send_req(b, m, IF_SYNC);
}

static int send_heartbeat(struct bench *b, struct member *m)
{
    w_begin_request(&b->req, 12, 3, ++m->corr, CLIENT_ID);
    w_str(&b->req, b->group);
    w_be(&b->req, (uint32_t)m->generation, 4);
    w_str(&b->req, m->id);
    w_be(&b->req, 0xffff, 2);
    return send_req(b, m, IF_HB);
}

/* LeaveGroup v3 from m for the count members starting at first. */
static int send_leave(struct bench *b, struct member *m, struct member *first, int count)
{
    w_begin_request(&b->req, 13, 3, ++m->corr, CLIENT_ID);
    w_str(&b->req, b->group);
    w_be(&b->req, (uint32_t)count, 4);
    for (int i = 0; i < count; i++) {
        w_str(&b->req, first[i].id);
        w_be(&b->req, 0xffff, 2);
    }
    return send_req(b, m, IF_LEAVE);
}

static int on_join(struct bench *b, struct member *m, struct rd *r)
{
    r_be(r, 4); /* throttle_time_ms */
    int16_t err = (int16_t)r_be(r, 2);
    int32_t gen = (int32_t)r_be(r, 4);
    char protocol[64], leader[256];
    r_str(r, protocol, sizeof(protocol));
    r_str(r, leader, sizeof(leader));
    r_str(r, m->id, sizeof(m->id));
    if (err == ERR_MEMBER_ID_REQUIRED)
        return send_join(b, m);
    if (err != ERR_NONE || r->bad) {
        fprintf(stderr, "raw_group_bench: JoinGroup: error %d\n", err);
        return -1;
    }
    m->generation = gen;
    if (gen > b->max_generation)
        b->max_generation = gen;
    int32_t n = (int32_t)r_be(r, 4);
    m->n_assign = 0;
    for (int32_t i = 0; i < n && i < MAX_MEMBERS && !r->bad; i++) {
        char inst[256];
        r_str(r, m->assign_ids[m->n_assign++], sizeof(m->assign_ids[0]));
        r_str(r, inst, sizeof(inst));
        int32_t len = (int32_t)r_be(r, 4);
        if (len > 0 && r->end - r->p >= len)
            r->p += len;
    }
    if (r->bad || (strcmp(leader, m->id) == 0) != (n > 0)) {
        fprintf(stderr, "raw_group_bench: JoinGroup: bad answer\n");
        return -1;
    }
    return send_sync(b, m);
}

static int on_sync(struct bench *b, struct member *m, struct rd *r, int64_t now)
{
    r_be(r, 4);
    int16_t err = (int16_t)r_be(r, 2);
    int32_t len = (int32_t)r_be(r, 4);
    if (err == ERR_REBALANCE_IN_PROGRESS || err == ERR_ILLEGAL_GENERATION)
        return send_join(b, m);
    if (err != ERR_NONE || r->bad) {
        fprintf(stderr, "raw_group_bench: SyncGroup: error %d\n", err);
        return -1;
    }
    if (len > 0)
        m->synced = m->generation;
    m->inflight = IF_NONE;
    m->next_hb_ns = now + b->hb_interval_ns;
    return 0;
}

static int on_heartbeat(struct bench *b, struct member *m, struct rd *r, int64_t now)
{
    r_be(r, 4);
    int16_t err = (int16_t)r_be(r, 2);
    if (err == ERR_REBALANCE_IN_PROGRESS || err == ERR_ILLEGAL_GENERATION)
        return send_join(b, m);
    if (err == ERR_UNKNOWN_MEMBER_ID) {
        m->id[0] = '\0';
        return send_join(b, m);
    }
    if (err != ERR_NONE || r->bad) {
        fprintf(stderr, "raw_group_bench: Heartbeat: error %d\n", err);
        return -1;
    }
    m->inflight = IF_NONE;
    m->next_hb_ns = now + b->hb_interval_ns;
    return 0;
}

/* Reads and handles the answer waiting on m's connection. */
static int on_answer(struct bench *b, struct member *m)
{
    ssize_t n = read_frame(m->fd, m->corr, &b->buf, &b->cap);
    if (n < 0)
        return -1;
    struct rd r = {b->buf, b->buf + n, 0};
    int64_t now = bench_now_ns();
    switch (m->inflight) {
    case IF_JOIN:
        return on_join(b, m, &r);
    case IF_SYNC:
        return on_sync(b, m, &r, now);
    case IF_HB:
        return on_heartbeat(b, m, &r, now);
    case IF_LEAVE:
        r_be(&r, 4);
        m->inflight = IF_NONE;
        if ((int16_t)r_be(&r, 2) != ERR_NONE) {
            fprintf(stderr, "raw_group_bench: LeaveGroup failed\n");
            return -1;
        }
        return 0;
    case IF_NONE:
        break;
    }
    return -1;
}

/* 1 when every active member holds an assignment of the same generation,
 * newer than after. */
static int stable_after(const struct bench *b, int32_t after)
{
    int32_t gen = -1;
    for (int i = 0; i < b->n; i++) {
        const struct member *m = &b->m[i];
        if (!m->active)
            continue;
        if (m->synced <= after || (gen >= 0 && m->synced != gen))
            return 0;
        gen = m->synced;
    }
    return 1;
}

/* Serves answers and heartbeats until the group is stable in a generation
 * newer than after (and nobody waits to leave). Returns the time it became
 * so, or -1. */
static int64_t run_until_stable(struct bench *b, int32_t after)
{
    struct pollfd pfd[MAX_MEMBERS];
    int64_t deadline = bench_now_ns() + DEADLINE_NS;
    for (;;) {
        int64_t now = bench_now_ns(), wake = now + 100000000;
        int busy = 0;
        for (int i = 0; i < b->n; i++) {
            struct member *m = &b->m[i];
            if (m->inflight == IF_NONE && m->leaving) {
                m->leaving = 0;
                m->active = 0;
                if (send_leave(b, m, m, 1))
                    return -1;
            } else if (m->inflight == IF_NONE && m->active) {
                if (m->next_hb_ns <= now) {
                    if (send_heartbeat(b, m))
                        return -1;
                } else if (m->next_hb_ns < wake) {
                    wake = m->next_hb_ns;
                }
            }
            pfd[i] = (struct pollfd){.fd = m->inflight == IF_NONE ? -1 : m->fd, .events = POLLIN};
            busy |= m->inflight == IF_LEAVE;
        }
        if (!busy && stable_after(b, after))
            return now;
        if (now > deadline) {
            fprintf(stderr, "raw_group_bench: group %s not stable after 60 s\n", b->group);
            return -1;
        }
        int timeout = (int)((wake - now) / 1000000);
        if (poll(pfd, (nfds_t)b->n, timeout) < 0)
            return -1;
        for (int i = 0; i < b->n; i++)
            if ((pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) && on_answer(b, &b->m[i]))
                return -1;
    }
}

/* Sends one request from m (a FindCoordinator v1 for the group, or a
 * Heartbeat for an unknown member) and returns its error code, or -1. */
static int probe(struct bench *b, struct member *m, int find)
{
    if (find) {
        w_begin_request(&b->req, 10, 1, ++m->corr, CLIENT_ID);
        w_str(&b->req, b->group);
        w_be(&b->req, 0, 1); /* key_type: group */
        if (send_req(b, m, IF_HB))
            return -1;
    } else {
        snprintf(m->id, sizeof(m->id), "probe");
        m->generation = -1;
        if (send_heartbeat(b, m))
            return -1;
        m->id[0] = '\0';
    }
    m->inflight = IF_NONE;
    ssize_t n = read_frame(m->fd, m->corr, &b->buf, &b->cap);
    if (n < 6)
        return -1;
    struct rd r = {b->buf, b->buf + n, 0};
    r_be(&r, 4); /* throttle_time_ms */
    return (int16_t)r_be(&r, 2);
}

/* Waits until the group's coordinator is this broker and loaded:
 * FindCoordinator (which creates __consumer_offsets the first time) answers
 * without error, then a Heartbeat for an unknown member answers anything but
 * the three coordinator errors. */
static int wait_coordinator(struct bench *b)
{
    struct member *m = &b->m[0];
    for (int tries = 0; tries < 600; tries++) {
        int err = probe(b, m, 1);
        if (err == 0)
            err = probe(b, m, 0);
        if (err < 0)
            return -1;
        if (err != ERR_COORDINATOR_LOAD_IN_PROGRESS && err != ERR_COORDINATOR_NOT_AVAILABLE &&
            err != ERR_NOT_COORDINATOR)
            return 0;
        usleep(100000);
    }
    fprintf(stderr, "raw_group_bench: no coordinator for %s\n", b->group);
    return -1;
}

/* Waits for every request in flight to be answered (heartbeats stop). */
static int drain(struct bench *b)
{
    for (int i = 0; i < b->n; i++) {
        struct member *m = &b->m[i];
        if (m->inflight != IF_NONE && on_answer(b, m))
            return -1;
        if (m->inflight != IF_NONE && on_answer(b, m)) /* a rejoin it started */
            return -1;
        if (m->inflight != IF_NONE)
            return -1;
    }
    return 0;
}

/* One repetition: join, leave of the last member, then everyone leaves. */
static int run_rep(struct bench *b, double *join_ms, double *leave_ms)
{
    if (wait_coordinator(b))
        return -1;
    b->max_generation = 0;
    for (int i = 0; i < b->n; i++) {
        struct member *m = &b->m[i];
        m->id[0] = '\0';
        m->active = 1;
        m->leaving = 0;
        m->generation = -1;
        m->synced = -1;
    }
    int64_t t0 = bench_now_ns();
    for (int i = 0; i < b->n; i++)
        if (send_join(b, &b->m[i]))
            return -1;
    int64_t t1 = run_until_stable(b, -1);
    if (t1 < 0)
        return -1;
    *join_ms = (double)(t1 - t0) / 1e6;

    struct member *last = &b->m[b->n - 1];
    int32_t gen = last->synced;
    int64_t t2 = bench_now_ns();
    if (last->inflight == IF_NONE) {
        last->active = 0;
        if (send_leave(b, last, last, 1))
            return -1;
    } else {
        last->leaving = 1; /* after its heartbeat's answer, counted from now */
    }
    int64_t t3 = run_until_stable(b, gen);
    if (t3 < 0)
        return -1;
    *leave_ms = (double)(t3 - t2) / 1e6;

    if (drain(b))
        return -1;
    return send_leave(b, &b->m[0], b->m, b->n - 1) || on_answer(b, &b->m[0]) ? -1 : 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void print_series(const char *name, double *v, int n)
{
    double sorted[256];
    memcpy(sorted, v, (size_t)n * sizeof(*v));
    qsort(sorted, (size_t)n, sizeof(*sorted), cmp_double);
    printf(" %s_ms_median=%.2f %s_ms_max=%.2f %s_ms_runs=", name, sorted[(n - 1) / 2], name,
           sorted[n - 1], name);
    for (int i = 0; i < n; i++)
        printf("%s%.1f", i ? "," : "", v[i]);
}

int main(int argc, char **argv)
{
    static struct bench b;
    static char assign_ids[MAX_MEMBERS][MAX_MEMBERS][256];
    int reps = 5;
    long hb_ms = 0;
    if (argc < 2) {
        fprintf(stderr, "usage: raw_group_bench HOST:PORT [members=10] [reps=5]"
                        " [hb_interval_ms=0]\n");
        return 2;
    }
    b.n = 10;
    for (int i = 2; i < argc; i++) {
        if (strncmp(argv[i], "members=", 8) == 0)
            b.n = atoi(argv[i] + 8);
        else if (strncmp(argv[i], "reps=", 5) == 0)
            reps = atoi(argv[i] + 5);
        else if (strncmp(argv[i], "hb_interval_ms=", 15) == 0)
            hb_ms = atol(argv[i] + 15);
        else
            return 2;
    }
    if (b.n < 2 || b.n > MAX_MEMBERS || reps < 1 || reps > 256 || hb_ms < 0)
        return 2;
    b.hb_interval_ns = hb_ms * 1000000;
    for (int i = 0; i < b.n; i++) {
        b.m[i].fd = connect_to(argv[1]);
        b.m[i].assign_ids = assign_ids[i];
        if (b.m[i].fd < 0) {
            fprintf(stderr, "raw_group_bench: cannot connect to %s\n", argv[1]);
            return 1;
        }
    }
    double join[256], leave[256], u0, s0, u1, s1;
    int32_t max_gen = 0;
    char group[128];
    bench_cpu(RUSAGE_SELF, &u0, &s0);
    for (int rep = 0; rep < reps; rep++) {
        snprintf(group, sizeof(group), "raw-group-bench-%d-%d", (int)getpid(), rep);
        b.group = group;
        if (run_rep(&b, &join[rep], &leave[rep]))
            return 1;
        if (b.max_generation > max_gen)
            max_gen = b.max_generation;
    }
    bench_cpu(RUSAGE_SELF, &u1, &s1);
    printf("members=%d reps=%d hb_interval_ms=%ld", b.n, reps, hb_ms);
    print_series("join", join, reps);
    printf(" join_generations_max=%d", (int)max_gen);
    print_series("leave", leave, reps);
    printf(" cpu_user_s=%.3f cpu_sys_s=%.3f\n", u1 - u0, s1 - s0);
    for (int i = 0; i < b.n; i++)
        close(b.m[i].fd);
    free(b.req.p);
    free(b.buf);
    return 0;
}
