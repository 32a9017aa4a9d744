/*
 * tests/unit/controller/test_controller.c — the active controller against a
 * real ZooKeeper (tests/harness/zk_server.c): AlterIsr, ControlledShutdown,
 * broker failure and return, preferred and automatic leader election,
 * failover to a second controller.
 *
 * Each controller runs on its own event_base thread with its own ZooKeeper
 * session. "Brokers" are registrations made from separate sessions (closing
 * one is a broker dying); their endpoints point at a capture server in this
 * test that decodes LeaderAndIsr/UpdateMetadata with rpc.c, records them
 * and answers. Requests reach the controller through
 * controller_handle_request(), as the broker's inter-broker listener does.
 */
#include "controller/controller.h"
#include "controller/rpc.h"
#include "controller/zk/zk_store.h"

#include "common/buf.h"
#include "common/clock.h"
#include "common/say.h"
#include "tests/harness/zk_server.h"

#include <criterion/criterion.h>
#include <event2/event.h>
#include <event2/thread.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SESSION_MS 6000
#define WAIT_MS 15000


static struct zk_server *zk;

/* ---- capture server: records LeaderAndIsr / UpdateMetadata ---------------- */

struct seen {
    int16_t key;
    int64_t broker_epoch;
    char topic[64];
    int32_t partition, leader, leader_epoch, partition_epoch;
    int n_isr;
    int32_t isr[ZK_MAX_ISR];
};

#define MAX_SEEN 8192
#define MAX_CONNS 32

static struct {
    int lfd, port;
    pthread_t thr;
    atomic_bool stop;
    pthread_mutex_t mu;
    struct seen v[MAX_SEEN];
    int n;
} cap;

static bool read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

static void cap_record(int16_t key, int64_t be, const struct rpc_partition_state *ps, int n)
{
    pthread_mutex_lock(&cap.mu);
    for (int i = 0; i < n && cap.n < MAX_SEEN; i++) {
        struct seen *s = &cap.v[cap.n++];
        *s = (struct seen){.key = key,
                           .broker_epoch = be,
                           .partition = ps[i].partition,
                           .leader = ps[i].leader,
                           .leader_epoch = ps[i].leader_epoch,
                           .partition_epoch = ps[i].partition_epoch,
                           .n_isr = ps[i].n_isr};
        snprintf(s->topic, sizeof(s->topic), "%s", ps[i].topic);
        memcpy(s->isr, ps[i].isr, sizeof(int32_t) * (size_t)ps[i].n_isr);
    }
    pthread_mutex_unlock(&cap.mu);
}

/* Answers one frame on fd; false when the connection is done. */
static bool cap_serve_one(int fd)
{
    uint8_t sz[4];
    size_t flen;
    /* with only the prefix, khdr_frame_size() says AGAIN but checks the bounds */
    if (!read_full(fd, sz, 4) || khdr_frame_size(sz, 4, 0, RPC_MAX_FRAME, &flen) == KERR__CORRUPT)
        return false;
    flen = (size_t)sz[0] << 24 | (size_t)sz[1] << 16 | (size_t)sz[2] << 8 | sz[3];
    uint8_t *frame = malloc(flen ? flen : 1);
    struct khdr_req h;
    const uint8_t *b;
    size_t n;
    struct kbuf body, out;
    kbuf_init(&body);
    kbuf_init(&out);
    bool ok = read_full(fd, frame, flen) && rpc_request_parse(frame, flen, &h, &b, &n) == 0;
    if (ok && h.api_key == RPC_LEADER_AND_ISR) {
        struct rpc_leader_and_isr_req m;
        if (rpc_leader_and_isr_req_decode(b, n, &m) == KERR_NONE) {
            cap_record(h.api_key, m.broker_epoch, m.partitions, m.n_partitions);
            rpc_leader_and_isr_req_destroy(&m);
        }
        struct rpc_leader_and_isr_resp r = {0};
        rpc_leader_and_isr_resp_encode(&r, &body);
    } else if (ok && h.api_key == RPC_UPDATE_METADATA) {
        struct rpc_update_metadata_req m;
        if (rpc_update_metadata_req_decode(b, n, &m) == KERR_NONE) {
            cap_record(h.api_key, m.broker_epoch, m.partitions, m.n_partitions);
            rpc_update_metadata_req_destroy(&m);
        }
        struct rpc_update_metadata_resp r = {0};
        rpc_update_metadata_resp_encode(&r, &body);
    } else if (ok) {
        struct rpc_stop_replica_resp r = {0};
        rpc_stop_replica_resp_encode(&r, &body);
    }
    if (ok)
        ok = rpc_response_frame(&out, h.correlation_id, body.data, body.len) == KERR_NONE &&
             write(fd, out.data, out.len) == (ssize_t)out.len;
    kbuf_destroy(&body);
    kbuf_destroy(&out);
    free(frame);
    return ok;
}

static void *cap_main(void *arg)
{
    (void)arg;
    struct pollfd pfd[MAX_CONNS + 1];
    int n = 1;
    pfd[0] = (struct pollfd){.fd = cap.lfd, .events = POLLIN};
    while (!atomic_load(&cap.stop)) {
        if (poll(pfd, (nfds_t)n, 20) <= 0)
            continue;
        for (int i = n - 1; i >= 1; i--) {
            if (pfd[i].revents && !cap_serve_one(pfd[i].fd)) {
                close(pfd[i].fd);
                pfd[i] = pfd[--n];
            }
        }
        if (pfd[0].revents & POLLIN) {
            int fd = accept(cap.lfd, NULL, NULL);
            if (fd >= 0 && n <= MAX_CONNS)
                pfd[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
            else if (fd >= 0)
                close(fd);
        }
    }
    for (int i = 1; i < n; i++)
        close(pfd[i].fd);
    return NULL;
}

static void cap_start(void)
{
    pthread_mutex_init(&cap.mu, NULL);
    cap.n = 0;
    atomic_store(&cap.stop, false);
    cap.lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    cr_assert_eq(bind(cap.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(cap.lfd, 64), 0);
    getsockname(cap.lfd, (struct sockaddr *)&a, &al);
    cap.port = ntohs(a.sin_port);
    pthread_create(&cap.thr, NULL, cap_main, NULL);
}

static void cap_stop(void)
{
    atomic_store(&cap.stop, true);
    pthread_join(cap.thr, NULL);
    close(cap.lfd);
}

/* Was a request of `key` for broker epoch be (0: any) seen about topic/p at
 * partition_epoch pe (-2: any) with leader epoch le (-2: any) and this ISR
 * (n_isr < 0: any)? */
static bool cap_saw(int16_t key, int64_t be, const char *topic, int p, int32_t pe, int32_t le,
                    int n_isr, const int32_t *isr)
{
    bool found = false;
    pthread_mutex_lock(&cap.mu);
    for (int i = 0; i < cap.n && !found; i++) {
        const struct seen *s = &cap.v[i];
        found = s->key == key && (be == 0 || s->broker_epoch == be) &&
                strcmp(s->topic, topic) == 0 && s->partition == p &&
                (pe == -2 || s->partition_epoch == pe) && (le == -2 || s->leader_epoch == le) &&
                (n_isr < 0 ||
                 (s->n_isr == n_isr && memcmp(s->isr, isr, sizeof(int32_t) * (size_t)n_isr) == 0));
    }
    if (!found && getenv("CAP_DUMP"))
        for (int i = 0; i < cap.n; i++)
            fprintf(stderr, "seen key=%d be=%lld %s-%d leader=%d le=%d pe=%d n_isr=%d\n",
                    cap.v[i].key, (long long)cap.v[i].broker_epoch, cap.v[i].topic,
                    cap.v[i].partition, cap.v[i].leader, cap.v[i].leader_epoch,
                    cap.v[i].partition_epoch, cap.v[i].n_isr);
    pthread_mutex_unlock(&cap.mu);
    return found;
}

static int cap_mark(void)
{
    pthread_mutex_lock(&cap.mu);
    int n = cap.n;
    pthread_mutex_unlock(&cap.mu);
    return n;
}

/* Was a request of `key` for broker epoch be recorded at index >= mark? */
static bool cap_saw_after(int mark, int16_t key, int64_t be)
{
    bool found = false;
    pthread_mutex_lock(&cap.mu);
    for (int i = mark; i < cap.n && !found; i++)
        found = cap.v[i].key == key && cap.v[i].broker_epoch == be;
    pthread_mutex_unlock(&cap.mu);
    return found;
}

/* ---- helpers -------------------------------------------------------------- */

#define WAIT_UNTIL(cond)                                                                           \
    do {                                                                                           \
        int64_t end_ = clock_mono_ms() + WAIT_MS;                                                  \
        while (!(cond) && clock_mono_ms() < end_)                                                  \
            usleep(20000);                                                                         \
    } while (0)

static struct zk_store *open_store(void)
{
    char err[256] = "";
    struct zk_store *zs = zk_store_open(zk_server_connect(zk), SESSION_MS, err, sizeof(err));
    cr_assert_not_null(zs, "open failed: %s", err);
    cr_assert_eq(zk_store_ensure_paths(zs), KERR_NONE);
    return zs;
}

/* A fake broker: a registration from its own session. */
struct fbroker {
    struct zk_store *zs;
    int64_t epoch;
};

static void fb_up(struct fbroker *fb, int32_t id)
{
    struct zk_broker_reg r;
    memset(&r, 0, sizeof(r));
    r.id = id;
    r.n_endpoints = 1;
    snprintf(r.ep[0].listener, sizeof(r.ep[0].listener), "PLAINTEXT");
    snprintf(r.ep[0].host, sizeof(r.ep[0].host), "127.0.0.1");
    r.ep[0].port = cap.port;
    snprintf(r.ep[0].protocol, sizeof(r.ep[0].protocol), "PLAINTEXT");
    fb->zs = open_store();
    char err[256] = "";
    cr_assert_eq(zk_store_register_broker(fb->zs, &r, &fb->epoch, err, sizeof(err)), KERR_NONE,
                 "register %d: %s", id, err);
}

static void fb_down(struct fbroker *fb)
{
    zk_store_close(fb->zs);
    fb->zs = NULL;
}

/* A controller on its own loop thread and session. */
struct tctl {
    struct zk_store *zs;
    struct event_base *base;
    pthread_t thr;
    struct controller *c;
};

struct post_job {
    void (*fn)(void *);
    void *arg;
};

static void post_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct post_job *pj = arg;
    pj->fn(pj->arg);
    free(pj);
}

static bool tpost(void *ctx, void (*fn)(void *arg), void *arg)
{
    struct post_job *pj = malloc(sizeof(*pj));
    struct timeval tv0 = {0, 0};
    pj->fn = fn;
    pj->arg = arg;
    if (event_base_once(ctx, -1, EV_TIMEOUT, post_cb, pj, &tv0) == 0)
        return true;
    free(pj);
    return false;
}

static _Thread_local bool on_ctl_loop; /* this thread runs a controller's loop */

static bool ton_loop(void *ctx)
{
    (void)ctx;
    return on_ctl_loop;
}

static void *loop_main(void *arg)
{
    on_ctl_loop = true;
    event_base_loop(arg, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

static void tctl_start(struct tctl *t, int32_t id, bool rebalance)
{
    t->zs = open_store();
    t->base = event_base_new();
    struct controller_env env = {.zk = t->zs,
                                 .broker_id = id,
                                 .base = t->base,
                                 .post = tpost,
                                 .post_ctx = t->base,
                                 .on_loop = ton_loop,
                                 .listener = "PLAINTEXT",
                                 .auto_leader_rebalance = rebalance,
                                 .leader_imbalance_check_ms = 300,
                                 .leader_imbalance_pct = 10};
    t->c = controller_new(&env);
    cr_assert_not_null(t->c);
    pthread_create(&t->thr, NULL, loop_main, t->base);
    controller_start(t->c);
}

static void break_job(void *arg) { event_base_loopbreak(arg); }

static void tctl_stop(struct tctl *t)
{
    controller_stop(t->c);
    tpost(t->base, break_job, t->base); /* runs after stop_job */
    pthread_join(t->thr, NULL);
    controller_free(t->c);
    event_base_free(t->base);
    zk_store_close(t->zs);
}

static bool st_get(struct zk_store *zs, const char *topic, int p, struct zk_partition_state *st)
{
    return zk_store_partition_state_get(zs, topic, p, st) == KERR_NONE;
}

static bool isr_is(const struct zk_partition_state *st, int n, const int32_t *v)
{
    return st->n_isr == n && memcmp(st->isr, v, sizeof(int32_t) * (size_t)n) == 0;
}

#define IDS(...) ((const int32_t[]){__VA_ARGS__})
#define NIDS(...) ((int)(sizeof((const int32_t[]){__VA_ARGS__}) / sizeof(int32_t)))

/* Creates a topic with rows of `rf` replicas (n_parts rows). */
static void topic_create(struct zk_store *zs, const char *name, int n_parts, int rf,
                         const int32_t *replicas)
{
    struct zk_topic t;
    memset(&t, 0, sizeof(t));
    snprintf(t.name, sizeof(t.name), "%s", name);
    t.n_partitions = n_parts;
    t.replication_factor = rf;
    t.replicas = (int32_t *)replicas;
    cr_assert_eq(zk_store_topic_create(zs, &t), KERR_NONE);
}

/* Waits until every partition of topic has a state with a leader. */
static void wait_led(struct zk_store *zs, const char *topic, int n_parts)
{
    for (int p = 0; p < n_parts; p++) {
        struct zk_partition_state st = {.leader = -1};
        WAIT_UNTIL(st_get(zs, topic, p, &st) && st.leader >= 0);
        cr_assert_geq(st.leader, 0, "%s-%d has no leader", topic, p);
    }
}

/* ---- requests ------------------------------------------------------------- */

struct reply {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
    uint8_t *buf;
    size_t len;
};

static void reply_fn(void *arg, const uint8_t *resp, size_t len)
{
    struct reply *r = arg;
    pthread_mutex_lock(&r->mu);
    r->calls++;
    free(r->buf);
    r->buf = malloc(len ? len : 1);
    memcpy(r->buf, resp, len);
    r->len = len;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* Sends body to the controller and waits for the reply (asserting one). */
static void call(struct controller *c, int key, const struct kbuf *body, struct reply *r)
{
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->calls = 0;
    r->buf = NULL;
    controller_handle_request(c, key, body->data, body->len, reply_fn, r);
    pthread_mutex_lock(&r->mu);
    int64_t end = clock_mono_ms() + WAIT_MS;
    while (r->calls == 0 && clock_mono_ms() < end) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    }
    pthread_mutex_unlock(&r->mu);
    cr_assert_eq(r->calls, 1, "expected one reply, got %d", r->calls);
}

/* One AlterIsr proposal; fills *resp (destroy it). */
static void alter_isr(struct controller *c, int32_t broker, int64_t be, const char *topic, int p,
                      int32_t le, int32_t pe, int n_isr, const int32_t *isr,
                      struct rpc_alter_isr_resp *resp)
{
    struct rpc_isr_proposal pr = {topic, p, le, n_isr, isr, pe};
    struct rpc_alter_isr_req m = {
        .broker_id = broker, .broker_epoch = be, .n_partitions = 1, .partitions = &pr};
    struct kbuf body;
    struct reply r;
    kbuf_init(&body);
    cr_assert_eq(rpc_alter_isr_req_encode(&m, &body), KERR_NONE);
    call(c, RPC_ALTER_ISR, &body, &r);
    cr_assert_eq(rpc_alter_isr_resp_decode(r.buf, r.len, resp), KERR_NONE);
    free(r.buf);
    kbuf_destroy(&body);
}

static void controlled_shutdown(struct controller *c, int32_t broker, int64_t be,
                                struct rpc_controlled_shutdown_resp *resp)
{
    struct rpc_controlled_shutdown_req m = {.broker_id = broker, .broker_epoch = be};
    struct kbuf body;
    struct reply r;
    kbuf_init(&body);
    cr_assert_eq(rpc_controlled_shutdown_req_encode(&m, &body), KERR_NONE);
    call(c, RPC_CONTROLLED_SHUTDOWN, &body, &r);
    cr_assert_eq(rpc_controlled_shutdown_resp_decode(r.buf, r.len, resp), KERR_NONE);
    free(r.buf);
    kbuf_destroy(&body);
}

struct elect_result {
    pthread_mutex_t mu;
    int calls, n;
    char topics[64][64];
    int32_t parts[64];
    int16_t errs[64];
};

static void elect_fn(void *arg, int n, const char *const *topics, const int32_t *partitions,
                     const int16_t *errors)
{
    struct elect_result *er = arg;
    pthread_mutex_lock(&er->mu);
    er->calls++;
    er->n = n;
    for (int i = 0; i < n && i < 64; i++) {
        snprintf(er->topics[i], sizeof(er->topics[i]), "%s", topics[i]);
        er->parts[i] = partitions[i];
        er->errs[i] = errors[i];
    }
    pthread_mutex_unlock(&er->mu);
}

static int elect_calls(struct elect_result *er)
{
    pthread_mutex_lock(&er->mu);
    int n = er->calls;
    pthread_mutex_unlock(&er->mu);
    return n;
}

static void elect(struct controller *c, int n, const char *const *topics, const int32_t *parts,
                  struct elect_result *er)
{
    memset(er, 0, sizeof(*er));
    pthread_mutex_init(&er->mu, NULL);
    controller_elect_leaders(c, CONTROLLER_ELECT_PREFERRED, n, topics, parts, elect_fn, er);
    WAIT_UNTIL(elect_calls(er) > 0);
    cr_assert_eq(elect_calls(er), 1);
}

/* ---- fixtures --------------------------------------------------------------- */

static void setup(void)
{
    say_setup(getenv("CTRL_TEST_DEBUG") ? SAY_DEBUG : SAY_WARN, 2);
    evthread_use_pthreads();
    zk = zk_server_start();
    cr_assert_not_null(zk, "ZooKeeper did not start");
    cap_start();
}

static void teardown(void)
{
    cap_stop();
    zk_server_stop(zk);
    zk = NULL;
}

TestSuite(controller, .init = setup, .fini = teardown, .timeout = 120);

static void wait_active(struct tctl *t)
{
    WAIT_UNTIL(controller_is_active(t->c));
    cr_assert(controller_is_active(t->c), "controller did not become active");
}

/* ---- tests ------------------------------------------------------------------ */

Test(controller, alter_isr)
{
    struct fbroker b1, b2, b3;
    fb_up(&b1, 1);
    fb_up(&b2, 2);
    fb_up(&b3, 3);
    struct zk_store *adm = open_store();
    topic_create(adm, "t", 1, 3, IDS(1, 2, 3));
    struct tctl ctl;
    tctl_start(&ctl, 100, false);
    wait_active(&ctl);
    wait_led(adm, "t", 1);
    struct zk_partition_state st;
    cr_assert(st_get(adm, "t", 0, &st));
    cr_assert_eq(st.leader, 1);
    cr_assert(isr_is(&st, 3, IDS(1, 2, 3)));
    int32_t le = st.leader_epoch, pe = st.version;
    struct rpc_alter_isr_resp resp;

    /* shrink: accepted, same leader and leader epoch, partition epoch moves on */
    alter_isr(ctl.c, 1, b1.epoch, "t", 0, le, pe, 2, IDS(1, 2), &resp);
    cr_assert_eq(resp.error_code, 0);
    cr_assert_eq(resp.n_partitions, 1);
    cr_assert_eq(resp.partitions[0].error_code, 0);
    cr_assert_eq(resp.partitions[0].leader, 1);
    cr_assert_eq(resp.partitions[0].leader_epoch, le);
    cr_assert_eq(resp.partitions[0].n_isr, 2);
    cr_assert_eq(resp.partitions[0].partition_epoch, pe + 1);
    rpc_alter_isr_resp_destroy(&resp);
    cr_assert(st_get(adm, "t", 0, &st));
    cr_assert(isr_is(&st, 2, IDS(1, 2)));
    cr_assert_eq(st.leader_epoch, le);
    cr_assert_eq(st.version, pe + 1);
    /* pushed: LeaderAndIsr to the replicas, UpdateMetadata to everybody */
    WAIT_UNTIL(cap_saw(RPC_LEADER_AND_ISR, b3.epoch, "t", 0, pe + 1, le, 2, IDS(1, 2)) &&
               cap_saw(RPC_LEADER_AND_ISR, b1.epoch, "t", 0, pe + 1, le, 2, IDS(1, 2)) &&
               cap_saw(RPC_UPDATE_METADATA, b2.epoch, "t", 0, pe + 1, le, 2, IDS(1, 2)));
    cr_assert(cap_saw(RPC_LEADER_AND_ISR, b3.epoch, "t", 0, pe + 1, le, 2, IDS(1, 2)));
    cr_assert(cap_saw(RPC_LEADER_AND_ISR, b1.epoch, "t", 0, pe + 1, le, 2, IDS(1, 2)));
    cr_assert(cap_saw(RPC_UPDATE_METADATA, b2.epoch, "t", 0, pe + 1, le, 2, IDS(1, 2)));

    /* the same request again (a resend): answered with the current state */
    alter_isr(ctl.c, 1, b1.epoch, "t", 0, le, pe, 2, IDS(1, 2), &resp);
    cr_assert_eq(resp.partitions[0].error_code, 0);
    cr_assert_eq(resp.partitions[0].partition_epoch, pe + 1);
    rpc_alter_isr_resp_destroy(&resp);

    /* stale partition epoch: rejected with the current state */
    alter_isr(ctl.c, 1, b1.epoch, "t", 0, le, pe, 1, IDS(1), &resp);
    cr_assert_eq(resp.partitions[0].error_code, KERR_INVALID_UPDATE_VERSION);
    cr_assert_eq(resp.partitions[0].partition_epoch, pe + 1);
    cr_assert_eq(resp.partitions[0].n_isr, 2);
    rpc_alter_isr_resp_destroy(&resp);

    /* not the leader; wrong leader epoch; stale broker epoch */
    alter_isr(ctl.c, 2, b2.epoch, "t", 0, le, pe + 1, 1, IDS(2), &resp);
    cr_assert_eq(resp.partitions[0].error_code, KERR_NOT_LEADER_OR_FOLLOWER);
    rpc_alter_isr_resp_destroy(&resp);
    alter_isr(ctl.c, 1, b1.epoch, "t", 0, le - 1, pe + 1, 1, IDS(1), &resp);
    cr_assert_eq(resp.partitions[0].error_code, KERR_FENCED_LEADER_EPOCH);
    rpc_alter_isr_resp_destroy(&resp);
    alter_isr(ctl.c, 1, b1.epoch - 1, "t", 0, le, pe + 1, 1, IDS(1), &resp);
    cr_assert_eq(resp.error_code, KERR_STALE_BROKER_EPOCH);
    rpc_alter_isr_resp_destroy(&resp);

    /* malformed ISRs: without the leader, with a non-replica, empty, duplicate */
    alter_isr(ctl.c, 1, b1.epoch, "t", 0, le, pe + 1, 1, IDS(2), &resp);
    cr_assert_eq(resp.partitions[0].error_code, KERR_INVALID_REQUEST);
    rpc_alter_isr_resp_destroy(&resp);
    alter_isr(ctl.c, 1, b1.epoch, "t", 0, le, pe + 1, 2, IDS(1, 9), &resp);
    cr_assert_eq(resp.partitions[0].error_code, KERR_INVALID_REQUEST);
    rpc_alter_isr_resp_destroy(&resp);
    alter_isr(ctl.c, 1, b1.epoch, "t", 0, le, pe + 1, 0, NULL, &resp);
    cr_assert_eq(resp.partitions[0].error_code, KERR_INVALID_REQUEST);
    rpc_alter_isr_resp_destroy(&resp);
    alter_isr(ctl.c, 1, b1.epoch, "t", 0, le, pe + 1, 2, IDS(1, 1), &resp);
    cr_assert_eq(resp.partitions[0].error_code, KERR_INVALID_REQUEST);
    rpc_alter_isr_resp_destroy(&resp);

    /* unknown topic / partition */
    alter_isr(ctl.c, 1, b1.epoch, "nope", 0, le, pe + 1, 1, IDS(1), &resp);
    cr_assert_eq(resp.partitions[0].error_code, KERR_UNKNOWN_TOPIC_OR_PARTITION);
    rpc_alter_isr_resp_destroy(&resp);
    alter_isr(ctl.c, 1, b1.epoch, "t", 5, le, pe + 1, 1, IDS(1), &resp);
    cr_assert_eq(resp.partitions[0].error_code, KERR_UNKNOWN_TOPIC_OR_PARTITION);
    rpc_alter_isr_resp_destroy(&resp);
    cr_assert(st_get(adm, "t", 0, &st));
    cr_assert_eq(st.version, pe + 1, "no rejected proposal was written");

    /* expanding with a dead broker: KERR_INELIGIBLE_REPLICA; with a live one: ok */
    int mark = cap_mark();
    fb_down(&b3);
    /* the broker change ends with a full push: then the controller knows */
    WAIT_UNTIL(cap_saw_after(mark, RPC_UPDATE_METADATA, b1.epoch));
    cr_assert(cap_saw_after(mark, RPC_UPDATE_METADATA, b1.epoch));
    alter_isr(ctl.c, 1, b1.epoch, "t", 0, le, pe + 1, 3, IDS(1, 2, 3), &resp);
    cr_assert_eq(resp.partitions[0].error_code, KERR_INELIGIBLE_REPLICA);
    rpc_alter_isr_resp_destroy(&resp);
    alter_isr(ctl.c, 1, b1.epoch, "t", 0, le, pe + 1, 1, IDS(1), &resp);
    cr_assert_eq(resp.partitions[0].error_code, 0);
    cr_assert_eq(resp.partitions[0].partition_epoch, pe + 2);
    rpc_alter_isr_resp_destroy(&resp);
    alter_isr(ctl.c, 1, b1.epoch, "t", 0, le, pe + 2, 2, IDS(1, 2), &resp);
    cr_assert_eq(resp.partitions[0].error_code, 0);
    cr_assert_eq(resp.partitions[0].partition_epoch, pe + 3);
    rpc_alter_isr_resp_destroy(&resp);

    /* a controller that is not active answers NOT_CONTROLLER */
    struct tctl other;
    tctl_start(&other, 101, false);
    usleep(300 * 1000);
    cr_assert_not(controller_is_active(other.c));
    alter_isr(other.c, 1, b1.epoch, "t", 0, le, pe + 3, 1, IDS(1), &resp);
    cr_assert_eq(resp.error_code, KERR_NOT_CONTROLLER);
    rpc_alter_isr_resp_destroy(&resp);
    /* an undecodable body */
    struct kbuf junk;
    struct reply r;
    kbuf_init(&junk);
    kbuf_put(&junk, "\xff\xff\xff", 3);
    call(ctl.c, RPC_ALTER_ISR, &junk, &r);
    cr_assert_eq(rpc_alter_isr_resp_decode(r.buf, r.len, &resp), KERR_NONE);
    cr_assert_eq(resp.error_code, KERR_INVALID_REQUEST);
    rpc_alter_isr_resp_destroy(&resp);
    free(r.buf);
    kbuf_destroy(&junk);

    tctl_stop(&other);
    tctl_stop(&ctl);
    fb_down(&b1);
    fb_down(&b2);
    zk_store_close(adm);
}

Test(controller, controlled_shutdown)
{
    struct fbroker b1, b2, b3;
    fb_up(&b1, 1);
    fb_up(&b2, 2);
    fb_up(&b3, 3);
    struct zk_store *adm = open_store();
    topic_create(adm, "a", 3, 3, IDS(1, 2, 3, 2, 3, 1, 3, 1, 2));
    topic_create(adm, "b", 1, 1, IDS(1));
    struct tctl ctl;
    tctl_start(&ctl, 100, false);
    wait_active(&ctl);
    wait_led(adm, "a", 3);
    wait_led(adm, "b", 1);
    struct zk_partition_state a0, a1, a2, b0;
    cr_assert(st_get(adm, "a", 0, &a0) && st_get(adm, "a", 1, &a1) && st_get(adm, "a", 2, &a2));
    cr_assert_eq(a0.leader, 1);

    struct rpc_controlled_shutdown_resp resp;
    controlled_shutdown(ctl.c, 1, b1.epoch, &resp);
    cr_assert_eq(resp.error_code, 0);
    cr_assert_eq(resp.n_remaining, 1, "only b-0 (rf 1) stays, got %d", resp.n_remaining);
    cr_assert_str_eq(resp.remaining[0].topic, "b");
    cr_assert_eq(resp.remaining[0].partition, 0);
    rpc_controlled_shutdown_resp_destroy(&resp);

    struct zk_partition_state n0, n1, n2;
    cr_assert(st_get(adm, "a", 0, &n0) && st_get(adm, "a", 1, &n1) && st_get(adm, "a", 2, &n2));
    cr_assert_eq(n0.leader, 2, "next ISR member in assignment order, got %d", n0.leader);
    cr_assert_eq(n0.leader_epoch, a0.leader_epoch + 1);
    cr_assert(isr_is(&n0, 2, IDS(2, 3)));
    cr_assert_eq(n1.leader, 2, "follower partitions keep their leader");
    cr_assert(isr_is(&n1, 2, IDS(2, 3)));
    cr_assert_eq(n1.leader_epoch, a1.leader_epoch + 1, "ISR change bumps the epoch (Kafka ZK)");
    cr_assert_eq(n2.leader, 3);
    cr_assert(isr_is(&n2, 2, IDS(3, 2)));
    cr_assert(st_get(adm, "b", 0, &b0));
    cr_assert_eq(b0.leader, 1);
    cr_assert(isr_is(&b0, 1, IDS(1)));
    WAIT_UNTIL(
        cap_saw(RPC_LEADER_AND_ISR, b2.epoch, "a", 0, n0.version, n0.leader_epoch, 2, IDS(2, 3)));
    cr_assert(
        cap_saw(RPC_LEADER_AND_ISR, b2.epoch, "a", 0, n0.version, n0.leader_epoch, 2, IDS(2, 3)));
    WAIT_UNTIL(cap_saw(RPC_UPDATE_METADATA, b1.epoch, "a", 0, n0.version, -2, 2, IDS(2, 3)));
    cr_assert(cap_saw(RPC_UPDATE_METADATA, b1.epoch, "a", 0, n0.version, -2, 2, IDS(2, 3)));

    /* a repeat changes nothing and answers the same */
    controlled_shutdown(ctl.c, 1, b1.epoch, &resp);
    cr_assert_eq(resp.error_code, 0);
    cr_assert_eq(resp.n_remaining, 1);
    rpc_controlled_shutdown_resp_destroy(&resp);
    struct zk_partition_state m0;
    cr_assert(st_get(adm, "a", 0, &m0));
    cr_assert_eq(m0.version, n0.version);

    /* stale epoch */
    controlled_shutdown(ctl.c, 2, b2.epoch + 1000, &resp);
    cr_assert_eq(resp.error_code, KERR_STALE_BROKER_EPOCH);
    rpc_controlled_shutdown_resp_destroy(&resp);

    /* broker 1 (shutting down) is not eligible: when 2 dies a-0 goes to 3,
     * and broker 1 cannot rejoin an ISR */
    fb_down(&b2);
    WAIT_UNTIL(st_get(adm, "a", 0, &m0) && m0.leader == 3);
    cr_assert_eq(m0.leader, 3);
    cr_assert(isr_is(&m0, 1, IDS(3)));
    struct rpc_alter_isr_resp ar;
    alter_isr(ctl.c, 3, b3.epoch, "a", 0, m0.leader_epoch, m0.version, 2, IDS(3, 1), &ar);
    cr_assert_eq(ar.partitions[0].error_code, KERR_INELIGIBLE_REPLICA);
    rpc_alter_isr_resp_destroy(&ar);

    /* broker 1 comes back with a new epoch: eligible again */
    fb_down(&b1);
    usleep(300 * 1000);
    fb_up(&b1, 1);
    cr_assert(st_get(adm, "a", 0, &m0));
    int64_t end = clock_mono_ms() + WAIT_MS;
    do {
        alter_isr(ctl.c, 3, b3.epoch, "a", 0, m0.leader_epoch, m0.version, 2, IDS(3, 1), &ar);
        int16_t e = ar.partitions[0].error_code;
        rpc_alter_isr_resp_destroy(&ar);
        if (e == 0)
            break;
        usleep(100 * 1000);
        cr_assert(st_get(adm, "a", 0, &m0));
    } while (clock_mono_ms() < end);
    cr_assert(st_get(adm, "a", 0, &m0));
    cr_assert(isr_is(&m0, 2, IDS(3, 1)), "n_isr=%d", m0.n_isr);

    tctl_stop(&ctl);
    fb_down(&b1);
    fb_down(&b3);
    zk_store_close(adm);
}

Test(controller, broker_failure)
{
    struct fbroker b1, b2, b3;
    fb_up(&b1, 1);
    fb_up(&b2, 2);
    fb_up(&b3, 3);
    struct zk_store *adm = open_store();
    struct tctl ctl;
    tctl_start(&ctl, 100, false);
    wait_active(&ctl);
    topic_create(adm, "t", 1, 3, IDS(1, 2, 3));
    wait_led(adm, "t", 1);
    struct zk_partition_state st, s0;
    cr_assert(st_get(adm, "t", 0, &s0));
    cr_assert_eq(s0.leader, 1);

    /* the leader dies: the next ISR member leads, epoch bumped */
    fb_down(&b1);
    WAIT_UNTIL(st_get(adm, "t", 0, &st) && st.leader == 2);
    cr_assert_eq(st.leader, 2);
    cr_assert_eq(st.leader_epoch, s0.leader_epoch + 1);
    cr_assert(isr_is(&st, 2, IDS(2, 3)));
    WAIT_UNTIL(
        cap_saw(RPC_LEADER_AND_ISR, b3.epoch, "t", 0, st.version, st.leader_epoch, 2, IDS(2, 3)));
    cr_assert(
        cap_saw(RPC_LEADER_AND_ISR, b3.epoch, "t", 0, st.version, st.leader_epoch, 2, IDS(2, 3)));

    /* a follower dies: it leaves the ISR, the leader stays, epoch bumped */
    s0 = st;
    fb_down(&b3);
    WAIT_UNTIL(st_get(adm, "t", 0, &st) && st.n_isr == 1);
    cr_assert_eq(st.leader, 2);
    cr_assert(isr_is(&st, 1, IDS(2)));
    cr_assert_eq(st.leader_epoch, s0.leader_epoch + 1);

    /* the last ISR member dies: offline, ISR kept */
    s0 = st;
    fb_down(&b2);
    WAIT_UNTIL(st_get(adm, "t", 0, &st) && st.leader == -1);
    cr_assert_eq(st.leader, -1);
    cr_assert(isr_is(&st, 1, IDS(2)));
    cr_assert_eq(st.leader_epoch, s0.leader_epoch + 1);

    /* a replica outside the ISR returns: still offline (no unclean election) */
    fb_up(&b3, 3);
    usleep(1000 * 1000);
    cr_assert(st_get(adm, "t", 0, &st));
    cr_assert_eq(st.leader, -1);

    /* the ISR member returns: it leads again */
    s0 = st;
    fb_up(&b2, 2);
    WAIT_UNTIL(st_get(adm, "t", 0, &st) && st.leader == 2);
    cr_assert_eq(st.leader, 2);
    cr_assert_eq(st.leader_epoch, s0.leader_epoch + 1);
    cr_assert(isr_is(&st, 1, IDS(2)));
    WAIT_UNTIL(
        cap_saw(RPC_LEADER_AND_ISR, b2.epoch, "t", 0, st.version, st.leader_epoch, 1, IDS(2)));
    cr_assert(
        cap_saw(RPC_LEADER_AND_ISR, b2.epoch, "t", 0, st.version, st.leader_epoch, 1, IDS(2)));

    tctl_stop(&ctl);
    fb_down(&b2);
    fb_down(&b3);
    zk_store_close(adm);
}

/* Brings t-0 (replicas 1,2) to leader 2 with ISR {2,1}. */
static void make_unpreferred(struct controller *c, struct zk_store *adm, struct fbroker *b1,
                             struct fbroker *b2)
{
    fb_down(b1);
    struct zk_partition_state st;
    WAIT_UNTIL(st_get(adm, "t", 0, &st) && st.leader == 2);
    cr_assert_eq(st.leader, 2);
    fb_up(b1, 1);
    struct rpc_alter_isr_resp ar;
    int16_t e = -1;
    int64_t end = clock_mono_ms() + WAIT_MS;
    while (e != 0 && clock_mono_ms() < end) {
        cr_assert(st_get(adm, "t", 0, &st));
        alter_isr(c, 2, b2->epoch, "t", 0, st.leader_epoch, st.version, 2, IDS(2, 1), &ar);
        e = ar.partitions[0].error_code;
        rpc_alter_isr_resp_destroy(&ar);
        if (e != 0)
            usleep(100 * 1000);
    }
    cr_assert_eq(e, 0);
}

Test(controller, preferred_election)
{
    struct fbroker b1, b2;
    fb_up(&b1, 1);
    fb_up(&b2, 2);
    struct zk_store *adm = open_store();
    topic_create(adm, "t", 1, 2, IDS(1, 2));
    topic_create(adm, "u", 1, 2, IDS(2, 1));
    struct tctl ctl;
    tctl_start(&ctl, 100, false);
    wait_active(&ctl);
    wait_led(adm, "t", 1);
    wait_led(adm, "u", 1);

    /* u-0 leads on its preferred replica already */
    struct elect_result er;
    elect(ctl.c, 1, (const char *const[]){"u"}, IDS(0), &er);
    cr_assert_eq(er.n, 1);
    cr_assert_eq(er.errs[0], KERR_ELECTION_NOT_NEEDED);

    make_unpreferred(ctl.c, adm, &b1, &b2);
    struct zk_partition_state before, st;
    cr_assert(st_get(adm, "t", 0, &before));
    cr_assert_eq(before.leader, 2);

    /* named partitions: moved, not needed, unknown */
    elect(ctl.c, 3, (const char *const[]){"t", "u", "zz"}, IDS(0, 0, 0), &er);
    cr_assert_eq(er.n, 3);
    cr_assert_eq(er.errs[0], 0);
    cr_assert_eq(er.errs[1], KERR_ELECTION_NOT_NEEDED);
    cr_assert_eq(er.errs[2], KERR_UNKNOWN_TOPIC_OR_PARTITION);
    cr_assert_str_eq(er.topics[2], "zz");
    cr_assert(st_get(adm, "t", 0, &st));
    cr_assert_eq(st.leader, 1);
    cr_assert_eq(st.leader_epoch, before.leader_epoch + 1);
    cr_assert(isr_is(&st, 2, IDS(2, 1)));
    WAIT_UNTIL(
        cap_saw(RPC_LEADER_AND_ISR, b1.epoch, "t", 0, st.version, st.leader_epoch, -1, NULL));
    cr_assert(cap_saw(RPC_LEADER_AND_ISR, b1.epoch, "t", 0, st.version, st.leader_epoch, -1, NULL));

    /* preferred replica out of the ISR: not available */
    make_unpreferred(ctl.c, adm, &b1, &b2);
    cr_assert(st_get(adm, "t", 0, &st));
    struct rpc_alter_isr_resp ar;
    alter_isr(ctl.c, 2, b2.epoch, "t", 0, st.leader_epoch, st.version, 1, IDS(2), &ar);
    cr_assert_eq(ar.partitions[0].error_code, 0);
    rpc_alter_isr_resp_destroy(&ar);
    elect(ctl.c, 0, NULL, NULL, &er);
    cr_assert_eq(er.n, 2, "every partition is listed");
    for (int i = 0; i < er.n; i++) {
        int16_t want = strcmp(er.topics[i], "t") == 0 ? KERR_PREFERRED_LEADER_NOT_AVAILABLE
                                                      : KERR_ELECTION_NOT_NEEDED;
        cr_assert_eq(er.errs[i], want, "%s: %d", er.topics[i], er.errs[i]);
    }

    tctl_stop(&ctl);
    fb_down(&b1);
    fb_down(&b2);
    zk_store_close(adm);
}

Test(controller, auto_rebalance)
{
    struct fbroker b1, b2;
    fb_up(&b1, 1);
    fb_up(&b2, 2);
    struct zk_store *adm = open_store();
    topic_create(adm, "t", 1, 2, IDS(1, 2));
    struct tctl ctl;
    tctl_start(&ctl, 100, true);
    wait_active(&ctl);
    wait_led(adm, "t", 1);
    fb_down(&b1);
    struct zk_partition_state st;
    WAIT_UNTIL(st_get(adm, "t", 0, &st) && st.leader == 2);
    cr_assert_eq(st.leader, 2);
    fb_up(&b1, 1);
    /* back, but out of the ISR: the timer must not move leadership */
    usleep(1000 * 1000);
    cr_assert(st_get(adm, "t", 0, &st));
    cr_assert_eq(st.leader, 2);
    /* in the ISR: the timer moves it back */
    struct rpc_alter_isr_resp ar;
    int16_t e = -1;
    int64_t end = clock_mono_ms() + WAIT_MS;
    while (e != 0 && clock_mono_ms() < end) {
        cr_assert(st_get(adm, "t", 0, &st));
        alter_isr(ctl.c, 2, b2.epoch, "t", 0, st.leader_epoch, st.version, 2, IDS(2, 1), &ar);
        e = ar.partitions[0].error_code;
        rpc_alter_isr_resp_destroy(&ar);
        if (e != 0)
            usleep(100 * 1000);
    }
    cr_assert_eq(e, 0);
    WAIT_UNTIL(st_get(adm, "t", 0, &st) && st.leader == 1);
    cr_assert_eq(st.leader, 1, "auto rebalance did not move leadership back");

    tctl_stop(&ctl);
    fb_down(&b1);
    fb_down(&b2);
    zk_store_close(adm);
}

Test(controller, failover)
{
    struct fbroker b1, b2;
    fb_up(&b1, 1);
    fb_up(&b2, 2);
    struct zk_store *adm = open_store();
    topic_create(adm, "t", 2, 2, IDS(1, 2, 2, 1));
    struct tctl first, second;
    tctl_start(&first, 100, false);
    wait_active(&first);
    tctl_start(&second, 101, false);
    wait_led(adm, "t", 2);
    usleep(300 * 1000);
    cr_assert_not(controller_is_active(second.c));
    int32_t epoch1 = 0, who = -1;
    cr_assert_eq(zk_store_controller_epoch_get(adm, &epoch1), KERR_NONE);
    struct zk_partition_state st;
    cr_assert(st_get(adm, "t", 0, &st));
    struct rpc_alter_isr_resp ar;
    alter_isr(first.c, 1, b1.epoch, "t", 0, st.leader_epoch, st.version, 1, IDS(1), &ar);
    cr_assert_eq(ar.partitions[0].error_code, 0);
    rpc_alter_isr_resp_destroy(&ar);

    /* the first controller's session expires: the second takes over */
    cr_assert_eq(zk_store_expire_session_for_test(first.zs), KERR_NONE);
    wait_active(&second);
    int32_t epoch2 = 0;
    cr_assert_eq(zk_store_controller_epoch_get(adm, &epoch2), KERR_NONE);
    cr_assert_eq(epoch2, epoch1 + 1);
    cr_assert_eq(zk_store_controller_get(adm, &who), KERR_NONE);
    cr_assert_eq(who, 101);
    /* it loaded the same state: the next proposal builds on the last one */
    struct zk_partition_state now;
    cr_assert(st_get(adm, "t", 0, &now));
    cr_assert_eq(now.leader, 1);
    cr_assert(isr_is(&now, 1, IDS(1)));
    alter_isr(second.c, 1, b1.epoch, "t", 0, now.leader_epoch, now.version, 2, IDS(1, 2), &ar);
    cr_assert_eq(ar.partitions[0].error_code, 0);
    cr_assert_eq(ar.partitions[0].partition_epoch, now.version + 1);
    rpc_alter_isr_resp_destroy(&ar);
    /* and pushes with its own epoch; broker failure is handled by it */
    fb_down(&b1);
    WAIT_UNTIL(st_get(adm, "t", 0, &st) && st.leader == 2);
    cr_assert_eq(st.leader, 2);
    cr_assert_eq(st.controller_epoch, epoch2);

    tctl_stop(&second);
    tctl_stop(&first);
    fb_down(&b2);
    zk_store_close(adm);
}
