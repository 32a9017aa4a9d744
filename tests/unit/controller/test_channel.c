/*
 * tests/unit/controller/test_channel.c — controller/rpc.c codecs and
 * controller/channel.c against a tiny Kafka-framed server on 127.0.0.1.
 *
 * The server (struct tsrv) runs in its own thread with plain blocking
 * sockets: it reads request frames, decodes them with rpc.c, keeps the last
 * decoded request of each kind for field checks, and answers with a
 * response derived from the request. Knobs make it close connections
 * mid-stream, stay silent, or answer with a wrong correlation id. The
 * channel runs on the test's own event_base in the main thread.
 */
#include "controller/channel.h"
#include "controller/rpc.h"

#include "common/buf.h"
#include "common/clock.h"

#include <criterion/criterion.h>
#include <event2/event.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- test server ------------------------------------------------------------ */

struct tsrv {
    int lfd;
    int port;
    pthread_t thr;
    bool started;
    atomic_bool stop;
    /* knobs, set before tsrv_start() */
    int close_every;         /* >0: close a connection after this many requests */
    int close_conns;         /* ... on connections 1..close_conns */
    bool close_before_reply; /* the request that triggers the close is not answered */
    bool silent_first;       /* never answer on connection 1 */
    bool bad_corr_first;     /* first reply on connection 1 has a wrong correlation id */
    /* results, under mu */
    pthread_mutex_t mu;
    int n_conns;
    int n_requests;  /* frames read, duplicates included */
    int n_errors;    /* frames the server could not parse */
    int64_t max_seq; /* highest ControlledShutdown broker_epoch seen */
    int n_dups;      /* ControlledShutdown requests seen again */
    int16_t last_version;
    char last_client_id[64];
    struct rpc_leader_and_isr_req lai;
    struct rpc_update_metadata_req um;
    struct rpc_stop_replica_req sr;
    struct rpc_alter_isr_req ai;
    struct rpc_controlled_shutdown_req cs;
};

static void tsrv_init(struct tsrv *ts)
{
    memset(ts, 0, sizeof(*ts));
    ts->lfd = -1;
    ts->max_seq = -1;
    pthread_mutex_init(&ts->mu, NULL);
}

/* Reads exactly n bytes; false on EOF, error or stop. */
static bool tsrv_read(struct tsrv *ts, int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (atomic_load(&ts->stop))
            return false;
        if (poll(&pfd, 1, 20) <= 0)
            continue;
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

static bool tsrv_write(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Returns a new frame (without its size prefix) or NULL. */
static uint8_t *tsrv_read_frame(struct tsrv *ts, int fd, size_t *len)
{
    uint8_t sz[4];
    size_t flen;
    if (!tsrv_read(ts, fd, sz, 4))
        return NULL;
    if (khdr_frame_size(sz, 4, 0, RPC_MAX_FRAME, &flen) == KERR__CORRUPT)
        return NULL;
    uint8_t *frame = malloc(flen ? flen : 1);
    if (!tsrv_read(ts, fd, frame, flen)) {
        free(frame);
        return NULL;
    }
    *len = flen;
    return frame;
}

static kerr_t tsrv_lai(struct tsrv *ts, const uint8_t *b, size_t n, struct kbuf *out)
{
    struct rpc_leader_and_isr_req req;
    struct rpc_partition_error errs[16];
    kerr_t err = rpc_leader_and_isr_req_decode(b, n, &req);
    if (err || req.n_partitions > 16)
        return KERR__CORRUPT;
    for (int i = 0; i < req.n_partitions; i++)
        errs[i] = (struct rpc_partition_error){req.partitions[i].topic, req.partitions[i].partition,
                                               (int16_t)(req.partitions[i].leader_epoch % 100)};
    struct rpc_leader_and_isr_resp resp = {
        .error_code = 0, .n_partition_errors = req.n_partitions, .partition_errors = errs};
    err = rpc_leader_and_isr_resp_encode(&resp, out);
    pthread_mutex_lock(&ts->mu);
    rpc_leader_and_isr_req_destroy(&ts->lai);
    ts->lai = req; /* moves the decoded memory */
    pthread_mutex_unlock(&ts->mu);
    return err;
}

static kerr_t tsrv_um(struct tsrv *ts, const uint8_t *b, size_t n, struct kbuf *out)
{
    struct rpc_update_metadata_req req;
    kerr_t err = rpc_update_metadata_req_decode(b, n, &req);
    if (err)
        return err;
    struct rpc_update_metadata_resp resp = {.error_code =
                                                (int16_t)(req.n_brokers * 10 + req.n_partitions)};
    err = rpc_update_metadata_resp_encode(&resp, out);
    pthread_mutex_lock(&ts->mu);
    rpc_update_metadata_req_destroy(&ts->um);
    ts->um = req;
    pthread_mutex_unlock(&ts->mu);
    return err;
}

static kerr_t tsrv_sr(struct tsrv *ts, const uint8_t *b, size_t n, struct kbuf *out)
{
    struct rpc_stop_replica_req req;
    struct rpc_partition_error errs[16];
    kerr_t err = rpc_stop_replica_req_decode(b, n, &req);
    if (err || req.n_partitions > 16)
        return KERR__CORRUPT;
    for (int i = 0; i < req.n_partitions; i++)
        errs[i] = (struct rpc_partition_error){req.partitions[i].topic, req.partitions[i].partition,
                                               (int16_t)req.partitions[i].leader_epoch};
    struct rpc_stop_replica_resp resp = {.error_code = req.delete_partitions ? 1 : 0,
                                         .n_partition_errors = req.n_partitions,
                                         .partition_errors = errs};
    err = rpc_stop_replica_resp_encode(&resp, out);
    pthread_mutex_lock(&ts->mu);
    rpc_stop_replica_req_destroy(&ts->sr);
    ts->sr = req;
    pthread_mutex_unlock(&ts->mu);
    return err;
}

static kerr_t tsrv_ai(struct tsrv *ts, const uint8_t *b, size_t n, struct kbuf *out)
{
    struct rpc_alter_isr_req req;
    struct rpc_isr_result res[16];
    kerr_t err = rpc_alter_isr_req_decode(b, n, &req);
    if (err || req.n_partitions > 16)
        return KERR__CORRUPT;
    for (int i = 0; i < req.n_partitions; i++) {
        const struct rpc_isr_proposal *p = &req.partitions[i];
        res[i] = (struct rpc_isr_result){p->topic,      p->partition,          0,
                                         req.broker_id, p->leader_epoch + 1,   p->n_new_isr,
                                         p->new_isr,    p->partition_epoch + 1};
    }
    struct rpc_alter_isr_resp resp = {
        .error_code = 0, .n_partitions = req.n_partitions, .partitions = res};
    err = rpc_alter_isr_resp_encode(&resp, out);
    pthread_mutex_lock(&ts->mu);
    rpc_alter_isr_req_destroy(&ts->ai);
    ts->ai = req;
    pthread_mutex_unlock(&ts->mu);
    return err;
}

/* ControlledShutdown doubles as the sequence RPC: broker_epoch is the
 * sequence number, echoed as remaining[0].partition. */
static kerr_t tsrv_cs(struct tsrv *ts, const uint8_t *b, size_t n, struct kbuf *out)
{
    struct rpc_controlled_shutdown_req req;
    kerr_t err = rpc_controlled_shutdown_req_decode(b, n, &req);
    if (err)
        return err;
    struct rpc_topic_partition tp = {"seq", (int32_t)req.broker_epoch, req.broker_id};
    struct rpc_controlled_shutdown_resp resp = {
        .error_code = 0, .n_remaining = 1, .remaining = &tp};
    err = rpc_controlled_shutdown_resp_encode(&resp, out);
    pthread_mutex_lock(&ts->mu);
    if (req.broker_epoch <= ts->max_seq)
        ts->n_dups++;
    else
        ts->max_seq = req.broker_epoch;
    ts->cs = req;
    pthread_mutex_unlock(&ts->mu);
    return err;
}

/* Decodes one request frame and appends the whole response frame to out. */
static kerr_t tsrv_answer(struct tsrv *ts, const uint8_t *frame, size_t len, int32_t corr_delta,
                          struct kbuf *out)
{
    struct khdr_req h;
    const uint8_t *b;
    size_t n;
    struct kbuf body;
    kerr_t err = rpc_request_parse(frame, len, &h, &b, &n);
    if (err)
        return err;
    pthread_mutex_lock(&ts->mu);
    ts->last_version = h.api_version;
    kstr_copy(h.client_id, ts->last_client_id, sizeof(ts->last_client_id));
    pthread_mutex_unlock(&ts->mu);
    kbuf_init(&body);
    switch (h.api_key) {
    case RPC_LEADER_AND_ISR:
        err = tsrv_lai(ts, b, n, &body);
        break;
    case RPC_UPDATE_METADATA:
        err = tsrv_um(ts, b, n, &body);
        break;
    case RPC_STOP_REPLICA:
        err = tsrv_sr(ts, b, n, &body);
        break;
    case RPC_ALTER_ISR:
        err = tsrv_ai(ts, b, n, &body);
        break;
    case RPC_CONTROLLED_SHUTDOWN:
        err = tsrv_cs(ts, b, n, &body);
        break;
    default:
        err = KERR__CORRUPT;
        break;
    }
    if (!err)
        err = rpc_response_frame(out, h.correlation_id + corr_delta, body.data, body.len);
    kbuf_destroy(&body);
    return err;
}

static void tsrv_serve(struct tsrv *ts, int fd, int conn_no)
{
    int on_conn = 0;
    uint8_t *frame;
    size_t len;
    struct kbuf out;
    kbuf_init(&out);
    while ((frame = tsrv_read_frame(ts, fd, &len)) != NULL) {
        on_conn++;
        pthread_mutex_lock(&ts->mu);
        ts->n_requests++;
        pthread_mutex_unlock(&ts->mu);
        bool closing =
            ts->close_every > 0 && conn_no <= ts->close_conns && on_conn >= ts->close_every;
        bool answer = !(closing && ts->close_before_reply) && !(ts->silent_first && conn_no == 1);
        int32_t delta = ts->bad_corr_first && conn_no == 1 && on_conn == 1 ? 7 : 0;
        kbuf_reset(&out);
        if (answer && tsrv_answer(ts, frame, len, delta, &out) != KERR_NONE) {
            pthread_mutex_lock(&ts->mu);
            ts->n_errors++;
            pthread_mutex_unlock(&ts->mu);
            answer = false;
        }
        free(frame);
        if (answer && !tsrv_write(fd, out.data, out.len))
            break;
        if (closing)
            break;
    }
    kbuf_destroy(&out);
    close(fd);
}

static void *tsrv_main(void *arg)
{
    struct tsrv *ts = arg;
    while (!atomic_load(&ts->stop)) {
        struct pollfd pfd = {.fd = ts->lfd, .events = POLLIN};
        if (poll(&pfd, 1, 20) <= 0)
            continue;
        int fd = accept(ts->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&ts->mu);
        int conn_no = ++ts->n_conns;
        pthread_mutex_unlock(&ts->mu);
        tsrv_serve(ts, fd, conn_no);
    }
    return NULL;
}

/* Binds 127.0.0.1:port (0: any free port) and returns the fd, or -1. */
static int listen_on(int port, int *bound)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    socklen_t sl = sizeof(sa);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 16) != 0) {
        close(fd);
        return -1;
    }
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    *bound = ntohs(sa.sin_port);
    return fd;
}

static void tsrv_start(struct tsrv *ts, int port)
{
    ts->lfd = listen_on(port, &ts->port);
    cr_assert(ts->lfd >= 0, "cannot listen on port %d: %s", port, strerror(errno));
    cr_assert_eq(pthread_create(&ts->thr, NULL, tsrv_main, ts), 0);
    ts->started = true;
}

static void tsrv_stop(struct tsrv *ts)
{
    if (ts->started) {
        atomic_store(&ts->stop, true);
        pthread_join(ts->thr, NULL);
        close(ts->lfd);
        ts->started = false;
    }
    rpc_leader_and_isr_req_destroy(&ts->lai);
    rpc_update_metadata_req_destroy(&ts->um);
    rpc_stop_replica_req_destroy(&ts->sr);
    rpc_alter_isr_req_destroy(&ts->ai);
    pthread_mutex_destroy(&ts->mu);
}

static int tsrv_get(struct tsrv *ts, const int *field)
{
    pthread_mutex_lock(&ts->mu);
    int v = *field;
    pthread_mutex_unlock(&ts->mu);
    return v;
}

/* A port that nothing listens on (bound once, then released). */
static int free_port(void)
{
    int port = 0, fd = listen_on(0, &port);
    cr_assert(fd >= 0);
    close(fd);
    return port;
}

/* ---- loop helpers --------------------------------------------------------- */

static struct event_base *base;
static struct event *ticker;

static void tick_cb(evutil_socket_t fd, short what, void *arg) {}

static void loop_up(void)
{
    signal(SIGPIPE, SIG_IGN);
    base = event_base_new();
    cr_assert(base);
    ticker = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
    struct timeval tv = {0, 5000};
    event_add(ticker, &tv);
}

static void loop_down(void)
{
    event_free(ticker);
    event_base_free(base);
}

TestSuite(rpc, .timeout = 10);
TestSuite(channel, .init = loop_up, .fini = loop_down, .timeout = 30);

/* Runs the loop until *done or timeout_ms passed; returns *done. */
static bool run_until(const bool *done, int timeout_ms)
{
    int64_t end = clock_mono_ms() + timeout_ms;
    while (!*done && clock_mono_ms() < end)
        event_base_loop(base, EVLOOP_ONCE);
    return *done;
}

static void run_for(int ms)
{
    bool never = false;
    run_until(&never, ms);
}

/* ---- sequence requests (ControlledShutdown, broker_epoch = seq) ---------- */

struct seq {
    int n;      /* requests sent */
    int next;   /* seq the next callback must carry */
    int calls;  /* callbacks so far */
    int ok;     /* KERR_NONE callbacks whose body echoed the right seq */
    int closed; /* KERR__CLOSE callbacks */
    bool in_order;
    bool all_done;
    int *per_req; /* callbacks per request */
    int free_at;  /* >= 0: channel_free() inside the callback of this seq */
    int move_at;  /* with move_port: channel_set_endpoint() inside this seq's callback */
    int move_port;
    struct channel *ch;
};

struct seq_item {
    struct seq *sq;
    int seq;
};

static void seq_cb(void *arg, kerr_t err, const uint8_t *body, size_t len)
{
    struct seq_item *it = arg;
    struct seq *sq = it->sq;
    if (it->seq != sq->next)
        sq->in_order = false;
    sq->next = it->seq + 1;
    sq->calls++;
    sq->per_req[it->seq]++;
    if (err == KERR_NONE) {
        struct rpc_controlled_shutdown_resp resp;
        if (rpc_controlled_shutdown_resp_decode(body, len, &resp) == KERR_NONE &&
            resp.n_remaining == 1 && resp.remaining[0].partition == it->seq &&
            strcmp(resp.remaining[0].topic, "seq") == 0)
            sq->ok++;
        rpc_controlled_shutdown_resp_destroy(&resp);
    } else if (err == KERR__CLOSE) {
        sq->closed++;
    }
    if (sq->calls == sq->n)
        sq->all_done = true;
    if (sq->move_port && it->seq == sq->move_at)
        channel_set_endpoint(sq->ch, "127.0.0.1", sq->move_port);
    if (it->seq == sq->free_at)
        channel_free(sq->ch);
}

static struct seq_item *seq_send(struct seq *sq, struct channel *ch, int n)
{
    struct seq_item *items = calloc((size_t)n, sizeof(*items));
    sq->n = n;
    sq->next = 0;
    sq->in_order = true;
    sq->per_req = calloc((size_t)n, sizeof(int));
    sq->ch = ch;
    for (int i = 0; i < n; i++) {
        struct kbuf b;
        kbuf_init(&b);
        struct rpc_controlled_shutdown_req req = {.broker_id = 3, .broker_epoch = i};
        cr_assert_eq(rpc_controlled_shutdown_req_encode(&req, &b), KERR_NONE);
        items[i] = (struct seq_item){sq, i};
        channel_send(ch, RPC_CONTROLLED_SHUTDOWN, b.data, b.len, seq_cb, &items[i]);
        kbuf_destroy(&b);
    }
    return items;
}

static void seq_assert_exactly_once(const struct seq *sq)
{
    for (int i = 0; i < sq->n; i++)
        cr_assert_eq(sq->per_req[i], 1, "request %d got %d callbacks", i, sq->per_req[i]);
    cr_assert(sq->in_order);
}

/* ---- sample messages and comparisons ------------------------------------- */

static const int32_t isr0[] = {1, 2, 3}, rep0[] = {1, 2, 3, 4}, isr1[] = {2}, rep1[] = {2, 5};
static const struct rpc_partition_state states[] = {
    {"orders", 0, 1, 7, 3, isr0, 4, rep0, 42, true},
    {"\xc3\xa9v\xc3\xa9nements.2", 5, 2, INT32_MAX, 1, isr1, 2, rep1, -1, false},
    {"", 0, -1, 0, 0, NULL, 0, NULL, 0, false},
};
static const struct rpc_live_leader leaders[] = {{1, "10.0.0.1", 9092}, {2, "::1", 19092}};
static const struct rpc_endpoint eps1[] = {
    {"PLAINTEXT", "10.0.0.1", 9092, "PLAINTEXT"},
    {"INTERNAL", "192.168.1.1", 9093, "SASL_SSL"},
};
static const struct rpc_endpoint eps2[] = {{"PLAINTEXT", "10.0.0.2", 9092, "SSL"}};
static const struct rpc_live_broker brokers[] = {
    {1, "rack-a", 2, eps1},
    {2, "", 1, eps2},
    {3, NULL, 0, NULL},
};
static const struct rpc_topic_partition tps[] = {{"orders", 0, 7}, {"logs", 11, -1}};
static const int32_t new_isr0[] = {1, 3}, new_isr1[] = {4, 5, 6};
static const struct rpc_isr_proposal proposals[] = {
    {"orders", 0, 7, 2, new_isr0, 42},
    {"logs", 3, 1, 3, new_isr1, 0},
};

static const struct rpc_leader_and_isr_req sample_lai = {.controller_id = 1,
                                                         .controller_epoch = 9,
                                                         .broker_epoch = INT64_C(0x123456789abc),
                                                         .n_partitions = 3,
                                                         .partitions = states,
                                                         .n_live_leaders = 2,
                                                         .live_leaders = leaders};
static const struct rpc_update_metadata_req sample_um = {.controller_id = 2,
                                                         .controller_epoch = 10,
                                                         .broker_epoch = -1,
                                                         .n_partitions = 2,
                                                         .partitions = states,
                                                         .n_brokers = 3,
                                                         .brokers = brokers};
static const struct rpc_stop_replica_req sample_sr = {.controller_id = 3,
                                                      .controller_epoch = 11,
                                                      .broker_epoch = 77,
                                                      .delete_partitions = true,
                                                      .n_partitions = 2,
                                                      .partitions = tps};
static const struct rpc_alter_isr_req sample_ai = {
    .broker_id = 4, .broker_epoch = INT64_MAX, .n_partitions = 2, .partitions = proposals};

static void assert_ints(const int32_t *a, int na, const int32_t *b, int nb)
{
    cr_assert_eq(na, nb);
    for (int i = 0; i < na; i++)
        cr_assert_eq(a[i], b[i]);
}

static void assert_str(const char *got, const char *want)
{
    cr_assert_str_eq(got, want ? want : "");
}

static void assert_states(const struct rpc_partition_state *a, const struct rpc_partition_state *b,
                          int n)
{
    for (int i = 0; i < n; i++) {
        assert_str(a[i].topic, b[i].topic);
        cr_assert_eq(a[i].partition, b[i].partition);
        cr_assert_eq(a[i].leader, b[i].leader);
        cr_assert_eq(a[i].leader_epoch, b[i].leader_epoch);
        assert_ints(a[i].isr, a[i].n_isr, b[i].isr, b[i].n_isr);
        assert_ints(a[i].replicas, a[i].n_replicas, b[i].replicas, b[i].n_replicas);
        cr_assert_eq(a[i].partition_epoch, b[i].partition_epoch);
        cr_assert_eq(a[i].is_new, b[i].is_new);
    }
}

static void assert_lai(const struct rpc_leader_and_isr_req *a,
                       const struct rpc_leader_and_isr_req *b)
{
    cr_assert_eq(a->controller_id, b->controller_id);
    cr_assert_eq(a->controller_epoch, b->controller_epoch);
    cr_assert_eq(a->broker_epoch, b->broker_epoch);
    cr_assert_eq(a->n_partitions, b->n_partitions);
    assert_states(a->partitions, b->partitions, b->n_partitions);
    cr_assert_eq(a->n_live_leaders, b->n_live_leaders);
    for (int i = 0; i < b->n_live_leaders; i++) {
        cr_assert_eq(a->live_leaders[i].id, b->live_leaders[i].id);
        assert_str(a->live_leaders[i].host, b->live_leaders[i].host);
        cr_assert_eq(a->live_leaders[i].port, b->live_leaders[i].port);
    }
}

static void assert_um(const struct rpc_update_metadata_req *a,
                      const struct rpc_update_metadata_req *b)
{
    cr_assert_eq(a->controller_id, b->controller_id);
    cr_assert_eq(a->controller_epoch, b->controller_epoch);
    cr_assert_eq(a->broker_epoch, b->broker_epoch);
    cr_assert_eq(a->n_partitions, b->n_partitions);
    assert_states(a->partitions, b->partitions, b->n_partitions);
    cr_assert_eq(a->n_brokers, b->n_brokers);
    for (int i = 0; i < b->n_brokers; i++) {
        const struct rpc_live_broker *x = &a->brokers[i], *y = &b->brokers[i];
        cr_assert_eq(x->id, y->id);
        assert_str(x->rack, y->rack);
        cr_assert_eq(x->n_endpoints, y->n_endpoints);
        for (int j = 0; j < y->n_endpoints; j++) {
            assert_str(x->endpoints[j].listener, y->endpoints[j].listener);
            assert_str(x->endpoints[j].host, y->endpoints[j].host);
            cr_assert_eq(x->endpoints[j].port, y->endpoints[j].port);
            assert_str(x->endpoints[j].security_protocol, y->endpoints[j].security_protocol);
        }
    }
}

static void assert_tps(const struct rpc_topic_partition *a, const struct rpc_topic_partition *b,
                       int n)
{
    for (int i = 0; i < n; i++) {
        assert_str(a[i].topic, b[i].topic);
        cr_assert_eq(a[i].partition, b[i].partition);
        cr_assert_eq(a[i].leader_epoch, b[i].leader_epoch);
    }
}

static void assert_sr(const struct rpc_stop_replica_req *a, const struct rpc_stop_replica_req *b)
{
    cr_assert_eq(a->controller_id, b->controller_id);
    cr_assert_eq(a->controller_epoch, b->controller_epoch);
    cr_assert_eq(a->broker_epoch, b->broker_epoch);
    cr_assert_eq(a->delete_partitions, b->delete_partitions);
    cr_assert_eq(a->n_partitions, b->n_partitions);
    assert_tps(a->partitions, b->partitions, b->n_partitions);
}

static void assert_ai(const struct rpc_alter_isr_req *a, const struct rpc_alter_isr_req *b)
{
    cr_assert_eq(a->broker_id, b->broker_id);
    cr_assert_eq(a->broker_epoch, b->broker_epoch);
    cr_assert_eq(a->n_partitions, b->n_partitions);
    for (int i = 0; i < b->n_partitions; i++) {
        const struct rpc_isr_proposal *x = &a->partitions[i], *y = &b->partitions[i];
        assert_str(x->topic, y->topic);
        cr_assert_eq(x->partition, y->partition);
        cr_assert_eq(x->leader_epoch, y->leader_epoch);
        assert_ints(x->new_isr, x->n_new_isr, y->new_isr, y->n_new_isr);
        cr_assert_eq(x->partition_epoch, y->partition_epoch);
    }
}

/* ---- rpc codec tests ------------------------------------------------------- */

Test(rpc, request_messages_round_trip)
{
    struct kbuf b;
    kbuf_init(&b);
    struct rpc_leader_and_isr_req lai;
    cr_assert_eq(rpc_leader_and_isr_req_encode(&sample_lai, &b), KERR_NONE);
    cr_assert_eq(rpc_leader_and_isr_req_decode(b.data, b.len, &lai), KERR_NONE);
    assert_lai(&lai, &sample_lai);
    rpc_leader_and_isr_req_destroy(&lai);
    cr_assert_null(lai.partitions);

    struct rpc_update_metadata_req um;
    kbuf_reset(&b);
    cr_assert_eq(rpc_update_metadata_req_encode(&sample_um, &b), KERR_NONE);
    cr_assert_eq(rpc_update_metadata_req_decode(b.data, b.len, &um), KERR_NONE);
    assert_um(&um, &sample_um);
    rpc_update_metadata_req_destroy(&um);

    struct rpc_stop_replica_req sr;
    kbuf_reset(&b);
    cr_assert_eq(rpc_stop_replica_req_encode(&sample_sr, &b), KERR_NONE);
    cr_assert_eq(rpc_stop_replica_req_decode(b.data, b.len, &sr), KERR_NONE);
    assert_sr(&sr, &sample_sr);
    rpc_stop_replica_req_destroy(&sr);

    struct rpc_alter_isr_req ai;
    kbuf_reset(&b);
    cr_assert_eq(rpc_alter_isr_req_encode(&sample_ai, &b), KERR_NONE);
    cr_assert_eq(rpc_alter_isr_req_decode(b.data, b.len, &ai), KERR_NONE);
    assert_ai(&ai, &sample_ai);
    rpc_alter_isr_req_destroy(&ai);

    struct rpc_controlled_shutdown_req cs, cs_in = {.broker_id = 5, .broker_epoch = -9};
    kbuf_reset(&b);
    cr_assert_eq(rpc_controlled_shutdown_req_encode(&cs_in, &b), KERR_NONE);
    cr_assert_eq(rpc_controlled_shutdown_req_decode(b.data, b.len, &cs), KERR_NONE);
    cr_assert_eq(cs.broker_id, 5);
    cr_assert_eq(cs.broker_epoch, -9);
    rpc_controlled_shutdown_req_destroy(&cs);
    kbuf_destroy(&b);
}

Test(rpc, response_messages_round_trip)
{
    struct kbuf b;
    kbuf_init(&b);
    const struct rpc_partition_error pe[] = {{"orders", 1, KERR_NOT_LEADER_OR_FOLLOWER},
                                             {"x", 2, -1}};
    struct rpc_leader_and_isr_resp lai, lai_in = {KERR_NOT_CONTROLLER, 2, pe, NULL};
    cr_assert_eq(rpc_leader_and_isr_resp_encode(&lai_in, &b), KERR_NONE);
    cr_assert_eq(rpc_leader_and_isr_resp_decode(b.data, b.len, &lai), KERR_NONE);
    cr_assert_eq(lai.error_code, KERR_NOT_CONTROLLER);
    cr_assert_eq(lai.n_partition_errors, 2);
    cr_assert_str_eq(lai.partition_errors[0].topic, "orders");
    cr_assert_eq(lai.partition_errors[0].partition, 1);
    cr_assert_eq(lai.partition_errors[0].error_code, KERR_NOT_LEADER_OR_FOLLOWER);
    cr_assert_eq(lai.partition_errors[1].error_code, -1);
    rpc_leader_and_isr_resp_destroy(&lai);

    struct rpc_update_metadata_resp um, um_in = {KERR_UNKNOWN_SERVER_ERROR, NULL};
    kbuf_reset(&b);
    cr_assert_eq(rpc_update_metadata_resp_encode(&um_in, &b), KERR_NONE);
    cr_assert_eq(rpc_update_metadata_resp_decode(b.data, b.len, &um), KERR_NONE);
    cr_assert_eq(um.error_code, KERR_UNKNOWN_SERVER_ERROR);

    struct rpc_stop_replica_resp sr, sr_in = {0, 1, pe, NULL};
    kbuf_reset(&b);
    cr_assert_eq(rpc_stop_replica_resp_encode(&sr_in, &b), KERR_NONE);
    cr_assert_eq(rpc_stop_replica_resp_decode(b.data, b.len, &sr), KERR_NONE);
    cr_assert_eq(sr.error_code, 0);
    cr_assert_eq(sr.n_partition_errors, 1);
    cr_assert_str_eq(sr.partition_errors[0].topic, "orders");
    rpc_stop_replica_resp_destroy(&sr);

    const int32_t isr[] = {3, 1};
    const struct rpc_isr_result res[] = {{"orders", 0, 0, 3, 8, 2, isr, 43},
                                         {"t", 1, KERR_INVALID_REQUEST, -1, 0, 0, NULL, 0}};
    struct rpc_alter_isr_resp ai, ai_in = {0, 2, res, NULL};
    kbuf_reset(&b);
    cr_assert_eq(rpc_alter_isr_resp_encode(&ai_in, &b), KERR_NONE);
    cr_assert_eq(rpc_alter_isr_resp_decode(b.data, b.len, &ai), KERR_NONE);
    cr_assert_eq(ai.n_partitions, 2);
    cr_assert_str_eq(ai.partitions[0].topic, "orders");
    cr_assert_eq(ai.partitions[0].leader, 3);
    cr_assert_eq(ai.partitions[0].leader_epoch, 8);
    assert_ints(ai.partitions[0].isr, ai.partitions[0].n_isr, isr, 2);
    cr_assert_eq(ai.partitions[0].partition_epoch, 43);
    cr_assert_eq(ai.partitions[1].error_code, KERR_INVALID_REQUEST);
    cr_assert_eq(ai.partitions[1].leader, -1);
    cr_assert_eq(ai.partitions[1].n_isr, 0);
    rpc_alter_isr_resp_destroy(&ai);

    struct rpc_controlled_shutdown_resp cs, cs_in = {KERR_NONE, 2, tps, NULL};
    kbuf_reset(&b);
    cr_assert_eq(rpc_controlled_shutdown_resp_encode(&cs_in, &b), KERR_NONE);
    cr_assert_eq(rpc_controlled_shutdown_resp_decode(b.data, b.len, &cs), KERR_NONE);
    cr_assert_eq(cs.n_remaining, 2);
    assert_tps(cs.remaining, tps, 2);
    rpc_controlled_shutdown_resp_destroy(&cs);
    kbuf_destroy(&b);
}

Test(rpc, empty_body_decodes_to_zero_defaults)
{
    struct rpc_leader_and_isr_req lai;
    cr_assert_eq(rpc_leader_and_isr_req_decode((const uint8_t *)"", 0, &lai), KERR_NONE);
    cr_assert_eq(lai.n_partitions, 0);
    cr_assert_eq(lai.controller_epoch, 0);
    rpc_leader_and_isr_req_destroy(&lai);
}

Test(rpc, corrupt_bytes_are_rejected_and_leave_nothing)
{
    static const uint8_t junk[] = {0xff, 0xff, 0xff};
    /* field 1 (error_code) = 70000: outside int16 */
    static const uint8_t big_code[] = {0x08, 0xf0, 0xa2, 0x04};
    struct rpc_stop_replica_req sr;
    struct rpc_update_metadata_resp um;
    struct rpc_leader_and_isr_req lai;
    struct kbuf b;

    cr_assert_eq(rpc_stop_replica_req_decode(junk, sizeof(junk), &sr), KERR__CORRUPT);
    cr_assert_null(sr.mem);
    cr_assert_eq(rpc_update_metadata_resp_decode(big_code, sizeof(big_code), &um), KERR__CORRUPT);
    kbuf_init(&b);
    cr_assert_eq(rpc_leader_and_isr_req_encode(&sample_lai, &b), KERR_NONE);
    cr_assert_eq(rpc_leader_and_isr_req_decode(b.data, b.len - 1, &lai), KERR__CORRUPT);
    cr_assert_eq(lai.n_partitions, 0);
    cr_assert_null(lai.mem);
    /* every prefix either decodes or fails cleanly (ASan checks the rest) */
    for (size_t n = 0; n < b.len; n++) {
        if (rpc_leader_and_isr_req_decode(b.data, n, &lai) == KERR_NONE)
            rpc_leader_and_isr_req_destroy(&lai);
    }
    kbuf_destroy(&b);
}

Test(rpc, encoder_rejects_inconsistent_arrays)
{
    struct kbuf b;
    kbuf_init(&b);
    struct rpc_stop_replica_req sr = {.n_partitions = 1, .partitions = NULL};
    cr_assert_eq(rpc_stop_replica_req_encode(&sr, &b), KERR__INVALID);
    sr.n_partitions = -1;
    sr.partitions = tps;
    cr_assert_eq(rpc_stop_replica_req_encode(&sr, &b), KERR__INVALID);
    struct rpc_partition_state st = {.topic = "t", .n_isr = 2, .isr = NULL};
    struct rpc_leader_and_isr_req lai = {.n_partitions = 1, .partitions = &st};
    cr_assert_eq(rpc_leader_and_isr_req_encode(&lai, &b), KERR__INVALID);
    cr_assert_eq(b.len, 0);
    kbuf_destroy(&b);
}

Test(rpc, request_frame_layout_and_parse)
{
    static const uint8_t want[] = {0,    0,    0, 16, 0x27, 0x10, 0,   0,   0,   0,
                                   0x01, 0x02, 0, 3,  'a',  'b',  'c', 'x', 'y', 'z'};
    struct kbuf b;
    struct khdr_req h;
    const uint8_t *body;
    size_t blen, flen;

    kbuf_init(&b);
    cr_assert_eq(rpc_request_frame(&b, RPC_LEADER_AND_ISR, 0x102, "abc", "xyz", 3), KERR_NONE);
    cr_assert_eq(b.len, sizeof(want));
    cr_assert_arr_eq(b.data, want, sizeof(want));
    for (size_t n = 0; n < b.len; n++)
        cr_assert_eq(khdr_frame_size(b.data, n, 0, RPC_MAX_FRAME, &flen), KERR__AGAIN);
    cr_assert_eq(khdr_frame_size(b.data, b.len, 0, RPC_MAX_FRAME, &flen), KERR_NONE);
    cr_assert_eq(flen, 16);
    cr_assert_eq(khdr_frame_size(b.data, b.len, 0, 15, &flen), KERR__CORRUPT);
    cr_assert_eq(rpc_request_parse(b.data + 4, flen, &h, &body, &blen), KERR_NONE);
    cr_assert_eq(h.api_key, RPC_LEADER_AND_ISR);
    cr_assert_eq(h.api_version, 0);
    cr_assert_eq(h.correlation_id, 0x102);
    cr_assert(kstr_eq(h.client_id, "abc"));
    cr_assert_eq(blen, 3);
    cr_assert_arr_eq(body, "xyz", 3);
    cr_assert_eq(rpc_request_parse(b.data + 4, 9, &h, &body, &blen), KERR__CORRUPT);

    kbuf_reset(&b);
    cr_assert_eq(rpc_request_frame(&b, RPC_ALTER_ISR, 1, NULL, NULL, 0), KERR_NONE);
    cr_assert_eq(rpc_request_parse(b.data + 4, b.len - 4, &h, &body, &blen), KERR_NONE);
    cr_assert(kstr_is_null(h.client_id));
    cr_assert_eq(blen, 0);

    static const uint8_t negative[] = {0xff, 0xff, 0xff, 0xfe};
    cr_assert_eq(khdr_frame_size(negative, 4, 0, RPC_MAX_FRAME, &flen), KERR__CORRUPT);
    kbuf_destroy(&b);
}

Test(rpc, response_frame_layout_and_parse)
{
    static const uint8_t want[] = {0, 0, 0, 6, 0xff, 0xff, 0xff, 0xfe, 'o', 'k'};
    struct kbuf b;
    int32_t corr;
    const uint8_t *body;
    size_t blen;

    kbuf_init(&b);
    cr_assert_eq(rpc_response_frame(&b, -2, "ok", 2), KERR_NONE);
    cr_assert_arr_eq(b.data, want, sizeof(want));
    cr_assert_eq(rpc_response_parse(b.data + 4, 6, &corr, &body, &blen), KERR_NONE);
    cr_assert_eq(corr, -2);
    cr_assert_eq(blen, 2);
    cr_assert_arr_eq(body, "ok", 2);
    cr_assert_eq(rpc_response_parse(b.data + 4, 3, &corr, &body, &blen), KERR__CORRUPT);
    kbuf_destroy(&b);
}

Test(rpc, api_keys_and_names)
{
    cr_assert(rpc_is_api_key(10000));
    cr_assert(rpc_is_api_key(10004));
    cr_assert_not(rpc_is_api_key(9999));
    cr_assert_not(rpc_is_api_key(10005));
    cr_assert_not(rpc_is_api_key(4)); /* Kafka's own LeaderAndIsr */
    cr_assert_str_eq(rpc_api_name(RPC_UPDATE_METADATA), "UpdateMetadata");
    cr_assert_str_eq(rpc_api_name(RPC_CONTROLLED_SHUTDOWN), "ControlledShutdown");
    cr_assert_str_eq(rpc_api_name(3), "Unknown");
}

/* ---- channel tests --------------------------------------------------------- */

struct capture {
    bool done;
    int calls;
    kerr_t err;
    uint8_t *body; /* copy, freed by capture_clear */
    size_t len;
};

static void capture_cb(void *arg, kerr_t err, const uint8_t *body, size_t len)
{
    struct capture *c = arg;
    c->calls++;
    c->done = true;
    c->err = err;
    c->len = len;
    c->body = malloc(len ? len : 1);
    if (len)
        memcpy(c->body, body, len);
}

static void capture_clear(struct capture *c)
{
    free(c->body);
    memset(c, 0, sizeof(*c));
}

/* Encodes with enc into a new buffer and sends it, capturing the reply. */
#define SEND_MSG(ch, key, enc, msg, cap)                                                           \
    do {                                                                                           \
        struct kbuf b_;                                                                            \
        kbuf_init(&b_);                                                                            \
        cr_assert_eq(enc((msg), &b_), KERR_NONE);                                                  \
        channel_send((ch), (key), b_.data, b_.len, capture_cb, (cap));                             \
        kbuf_destroy(&b_);                                                                         \
    } while (0)

Test(channel, every_message_type_round_trips)
{
    struct tsrv ts;
    struct capture cap[5] = {0};
    struct rpc_controlled_shutdown_req cs = {.broker_id = 6, .broker_epoch = 1234};

    tsrv_init(&ts);
    tsrv_start(&ts, 0);
    struct channel *ch = channel_new(base, 7, "127.0.0.1", ts.port);
    cr_assert_not_null(ch);
    cr_assert_eq(channel_dest_id(ch), 7);
    SEND_MSG(ch, RPC_LEADER_AND_ISR, rpc_leader_and_isr_req_encode, &sample_lai, &cap[0]);
    SEND_MSG(ch, RPC_UPDATE_METADATA, rpc_update_metadata_req_encode, &sample_um, &cap[1]);
    SEND_MSG(ch, RPC_STOP_REPLICA, rpc_stop_replica_req_encode, &sample_sr, &cap[2]);
    SEND_MSG(ch, RPC_ALTER_ISR, rpc_alter_isr_req_encode, &sample_ai, &cap[3]);
    SEND_MSG(ch, RPC_CONTROLLED_SHUTDOWN, rpc_controlled_shutdown_req_encode, &cs, &cap[4]);
    cr_assert(run_until(&cap[4].done, 5000));
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(cap[i].calls, 1);
        cr_assert_eq(cap[i].err, KERR_NONE);
    }

    /* what the server decoded */
    pthread_mutex_lock(&ts.mu);
    assert_lai(&ts.lai, &sample_lai);
    assert_um(&ts.um, &sample_um);
    assert_sr(&ts.sr, &sample_sr);
    assert_ai(&ts.ai, &sample_ai);
    cr_assert_eq(ts.cs.broker_id, 6);
    cr_assert_eq(ts.cs.broker_epoch, 1234);
    cr_assert_eq(ts.last_version, RPC_API_VERSION);
    cr_assert_str_eq(ts.last_client_id, CHANNEL_CLIENT_ID);
    cr_assert_eq(ts.n_errors, 0);
    pthread_mutex_unlock(&ts.mu);

    /* what the channel handed back */
    struct rpc_leader_and_isr_resp lai;
    cr_assert_eq(rpc_leader_and_isr_resp_decode(cap[0].body, cap[0].len, &lai), KERR_NONE);
    cr_assert_eq(lai.n_partition_errors, 3);
    cr_assert_str_eq(lai.partition_errors[0].topic, "orders");
    cr_assert_eq(lai.partition_errors[0].error_code, 7);
    cr_assert_str_eq(lai.partition_errors[1].topic, states[1].topic);
    cr_assert_eq(lai.partition_errors[1].partition, 5);
    cr_assert_eq(lai.partition_errors[1].error_code, INT32_MAX % 100);
    rpc_leader_and_isr_resp_destroy(&lai);

    struct rpc_update_metadata_resp um;
    cr_assert_eq(rpc_update_metadata_resp_decode(cap[1].body, cap[1].len, &um), KERR_NONE);
    cr_assert_eq(um.error_code, 32);

    struct rpc_stop_replica_resp sr;
    cr_assert_eq(rpc_stop_replica_resp_decode(cap[2].body, cap[2].len, &sr), KERR_NONE);
    cr_assert_eq(sr.error_code, 1);
    cr_assert_eq(sr.n_partition_errors, 2);
    cr_assert_str_eq(sr.partition_errors[1].topic, "logs");
    cr_assert_eq(sr.partition_errors[1].partition, 11);
    cr_assert_eq(sr.partition_errors[1].error_code, -1);
    rpc_stop_replica_resp_destroy(&sr);

    struct rpc_alter_isr_resp ai;
    cr_assert_eq(rpc_alter_isr_resp_decode(cap[3].body, cap[3].len, &ai), KERR_NONE);
    cr_assert_eq(ai.n_partitions, 2);
    cr_assert_str_eq(ai.partitions[1].topic, "logs");
    cr_assert_eq(ai.partitions[1].leader, 4);
    cr_assert_eq(ai.partitions[1].leader_epoch, 2);
    assert_ints(ai.partitions[1].isr, ai.partitions[1].n_isr, new_isr1, 3);
    cr_assert_eq(ai.partitions[1].partition_epoch, 1);
    rpc_alter_isr_resp_destroy(&ai);

    struct rpc_controlled_shutdown_resp csr;
    cr_assert_eq(rpc_controlled_shutdown_resp_decode(cap[4].body, cap[4].len, &csr), KERR_NONE);
    cr_assert_eq(csr.n_remaining, 1);
    cr_assert_eq(csr.remaining[0].partition, 1234);
    cr_assert_eq(csr.remaining[0].leader_epoch, 6);
    rpc_controlled_shutdown_resp_destroy(&csr);

    struct channel_stats st;
    channel_get_stats(ch, &st);
    cr_assert_eq(st.connects, 1);
    cr_assert_eq(st.sent, 5);
    cr_assert_eq(st.replies, 5);
    cr_assert_eq(st.resent, 0);
    cr_assert_eq(st.queued, 0);
    cr_assert(st.connected);
    channel_free(ch);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(cap[i].calls, 1); /* free calls nothing more */
        capture_clear(&cap[i]);
    }
    tsrv_stop(&ts);
}

Test(channel, thousand_queued_requests_answer_in_order)
{
    struct tsrv ts;
    struct seq sq = {.free_at = -1};
    tsrv_init(&ts);
    tsrv_start(&ts, 0);
    struct channel *ch = channel_new(base, 1, "127.0.0.1", ts.port);
    struct seq_item *items = seq_send(&sq, ch, 1000);
    struct channel_stats st;
    channel_get_stats(ch, &st);
    cr_assert_eq(st.queued, 1000);
    cr_assert(run_until(&sq.all_done, 20000));
    seq_assert_exactly_once(&sq);
    cr_assert_eq(sq.ok, 1000);
    cr_assert_eq(tsrv_get(&ts, &ts.n_requests), 1000);
    cr_assert_eq(tsrv_get(&ts, &ts.n_dups), 0);
    channel_get_stats(ch, &st);
    cr_assert_eq(st.connects, 1);
    cr_assert_eq(st.queued, 0);
    channel_free(ch);
    free(items);
    free(sq.per_req);
    tsrv_stop(&ts);
}

/* The server drops the connection after every 7th request on its first 6
 * connections, answering that request on odd connections and not on even
 * ones: every request still gets exactly one callback, in order. */
static void close_mid_stream(bool before_reply)
{
    struct tsrv ts;
    struct seq sq = {.free_at = -1};
    tsrv_init(&ts);
    ts.close_every = 7;
    ts.close_conns = 6;
    ts.close_before_reply = before_reply;
    tsrv_start(&ts, 0);
    struct channel *ch = channel_new(base, 1, "127.0.0.1", ts.port);
    struct seq_item *items = seq_send(&sq, ch, 200);
    cr_assert(run_until(&sq.all_done, 20000));
    seq_assert_exactly_once(&sq);
    cr_assert_eq(sq.ok, 200);

    struct channel_stats st;
    channel_get_stats(ch, &st);
    cr_assert_geq(tsrv_get(&ts, &ts.n_conns), 7);
    cr_assert_geq(st.connects, 7);
    cr_assert_geq(st.disconnects, 6);
    cr_assert_gt(st.resent, 0);
    cr_assert_eq(st.replies, 200);
    /* Written but unread frames die with the server's socket, so only the
     * unanswered 7th requests surely reach the server twice (a reset may
     * also swallow replies the server did send: those are resent too). */
    if (before_reply)
        cr_assert_gt(tsrv_get(&ts, &ts.n_requests), 200);
    channel_free(ch);
    free(items);
    free(sq.per_req);
    tsrv_stop(&ts);
}

Test(channel, server_closing_after_reply_loses_nothing) { close_mid_stream(false); }

Test(channel, server_closing_before_reply_resends_and_loses_nothing) { close_mid_stream(true); }

Test(channel, free_fails_queued_requests_in_order)
{
    struct seq sq = {.free_at = -1};
    struct channel *ch = channel_new(base, 1, "127.0.0.1", free_port());
    struct seq_item *items = seq_send(&sq, ch, 10);
    run_for(150); /* a refused connect or two */
    cr_assert_eq(sq.calls, 0);
    struct channel_stats st;
    channel_get_stats(ch, &st);
    cr_assert_geq(st.connect_failures, 1);
    cr_assert_eq(st.queued, 10);
    channel_free(ch);
    seq_assert_exactly_once(&sq);
    cr_assert_eq(sq.closed, 10);
    free(items);
    free(sq.per_req);
}

Test(channel, free_fails_written_unanswered_requests)
{
    struct tsrv ts;
    struct seq sq = {.free_at = -1};
    tsrv_init(&ts);
    ts.silent_first = true;
    tsrv_start(&ts, 0);
    struct channel *ch = channel_new(base, 1, "127.0.0.1", ts.port);
    struct seq_item *items = seq_send(&sq, ch, 50);
    int64_t end = clock_mono_ms() + 5000;
    while (tsrv_get(&ts, &ts.n_requests) < CHANNEL_MAX_INFLIGHT && clock_mono_ms() < end)
        run_for(10);
    cr_assert_eq(tsrv_get(&ts, &ts.n_requests), CHANNEL_MAX_INFLIGHT); /* the window */
    cr_assert_eq(sq.calls, 0);
    channel_free(ch);
    seq_assert_exactly_once(&sq);
    cr_assert_eq(sq.closed, 50);
    free(items);
    free(sq.per_req);
    tsrv_stop(&ts);
}

Test(channel, free_inside_a_reply_callback_fails_the_rest)
{
    struct tsrv ts;
    struct seq sq = {.free_at = 2};
    tsrv_init(&ts);
    tsrv_start(&ts, 0);
    struct channel *ch = channel_new(base, 1, "127.0.0.1", ts.port);
    struct seq_item *items = seq_send(&sq, ch, 20);
    cr_assert(run_until(&sq.all_done, 5000));
    seq_assert_exactly_once(&sq);
    cr_assert_eq(sq.ok, 3);      /* seq 0, 1, 2 */
    cr_assert_eq(sq.closed, 17); /* the rest, after the callback of seq 2 returned */
    free(items);
    free(sq.per_req);
    tsrv_stop(&ts);
}

static void resend_on_close_cb(void *arg, kerr_t err, const uint8_t *body, size_t len)
{
    struct capture *c = arg;
    capture_cb(arg, err, body, len);
    if (c[1].calls == 0 && c[1].err == KERR_NONE) {
        /* a send from inside a KERR__CLOSE callback is failed too, not lost */
        c[1].err = KERR__INVALID;
        channel_send(*(struct channel **)(c + 2), RPC_UPDATE_METADATA, NULL, 0, capture_cb, &c[1]);
    }
}

Test(channel, send_during_free_is_failed_not_lost)
{
    struct capture c[3] = {0};
    struct channel *ch = channel_new(base, 1, "127.0.0.1", free_port());
    memcpy(&c[2], &ch, sizeof(ch)); /* smuggle the channel to the callback */
    channel_send(ch, RPC_UPDATE_METADATA, NULL, 0, resend_on_close_cb, &c[0]);
    channel_free(ch);
    cr_assert_eq(c[0].calls, 1);
    cr_assert_eq(c[0].err, KERR__CLOSE);
    cr_assert_eq(c[1].calls, 1);
    cr_assert_eq(c[1].err, KERR__CLOSE);
    free(c[0].body);
    free(c[1].body);
}

Test(channel, server_down_at_first_then_up_gets_everything_after_backoff)
{
    struct tsrv ts;
    struct seq sq = {.free_at = -1};
    int port = free_port();
    struct channel *ch = channel_new(base, 1, "127.0.0.1", port);
    struct seq_item *items = seq_send(&sq, ch, 20);
    int64_t t0 = clock_mono_ms();
    run_for(800);
    struct channel_stats st;
    channel_get_stats(ch, &st);
    cr_assert_eq(sq.calls, 0);
    cr_assert_eq(st.connects, 0);
    /* attempts at ~0, 100, 300, 700 ms: the delay doubles */
    cr_assert_geq(st.connect_failures, 3);
    cr_assert_leq(st.connect_failures, 5);

    tsrv_init(&ts);
    tsrv_start(&ts, port);
    cr_assert(run_until(&sq.all_done, 5000));
    int64_t took = clock_mono_ms() - t0;
    seq_assert_exactly_once(&sq);
    cr_assert_eq(sq.ok, 20);
    channel_get_stats(ch, &st);
    cr_assert_eq(st.connects, 1);
    cr_assert_eq(st.resent, 0);
    cr_assert_lt(took, 800 + CHANNEL_BACKOFF_MAX_MS + 1000);
    cr_assert_eq(tsrv_get(&ts, &ts.n_requests), 20);
    channel_free(ch);
    free(items);
    free(sq.per_req);
    tsrv_stop(&ts);
}

Test(channel, set_endpoint_moves_queued_requests_to_the_new_address)
{
    struct tsrv ts;
    struct seq sq = {.free_at = -1};
    struct channel *ch = channel_new(base, 1, "not-an-ip.invalid", 9092);
    cr_assert_not_null(ch);
    struct seq_item *items = seq_send(&sq, ch, 5);
    run_for(50);
    struct channel_stats st;
    channel_get_stats(ch, &st);
    cr_assert_geq(st.connect_failures, 1); /* .invalid never resolves */
    cr_assert_eq(sq.calls, 0);

    tsrv_init(&ts);
    tsrv_start(&ts, 0);
    int64_t t0 = clock_mono_ms();
    channel_set_endpoint(ch, "127.0.0.1", ts.port);
    cr_assert(run_until(&sq.all_done, 5000));
    cr_assert_lt(clock_mono_ms() - t0, 1000); /* at once, not after a backoff */
    seq_assert_exactly_once(&sq);
    cr_assert_eq(sq.ok, 5);
    channel_free(ch);
    free(items);
    free(sq.per_req);
    tsrv_stop(&ts);
}

Test(channel, set_endpoint_inside_a_reply_callback_moves_the_rest)
{
    struct tsrv a, b;
    struct seq sq = {.free_at = -1, .move_at = 4};
    tsrv_init(&a);
    tsrv_init(&b);
    tsrv_start(&a, 0);
    tsrv_start(&b, 0);
    sq.move_port = b.port;
    struct channel *ch = channel_new(base, 1, "127.0.0.1", a.port);
    struct seq_item *items = seq_send(&sq, ch, 100);
    cr_assert(run_until(&sq.all_done, 5000));
    seq_assert_exactly_once(&sq);
    cr_assert_eq(sq.ok, 100);
    /* replies 0..4 came from a; everything after was (re)sent to b */
    cr_assert_geq(tsrv_get(&a, &a.n_requests), 5);
    cr_assert_eq(tsrv_get(&b, &b.n_requests), 95);
    struct channel_stats st;
    channel_get_stats(ch, &st);
    cr_assert_eq(st.connects, 2);
    channel_free(ch);
    free(items);
    free(sq.per_req);
    tsrv_stop(&a);
    tsrv_stop(&b);
}

Test(channel, unanswered_request_times_out_and_is_resent)
{
    struct tsrv ts;
    struct seq sq = {.free_at = -1};
    tsrv_init(&ts);
    ts.silent_first = true;
    tsrv_start(&ts, 0);
    struct channel *ch = channel_new(base, 1, "127.0.0.1", ts.port);
    channel_set_request_timeout(ch, 200);
    struct seq_item *items = seq_send(&sq, ch, 3);
    cr_assert(run_until(&sq.all_done, 5000));
    seq_assert_exactly_once(&sq);
    cr_assert_eq(sq.ok, 3);
    struct channel_stats st;
    channel_get_stats(ch, &st);
    cr_assert_eq(st.timeouts, 1);
    cr_assert_eq(st.connects, 2);
    cr_assert_eq(st.resent, 3);
    channel_free(ch);
    free(items);
    free(sq.per_req);
    tsrv_stop(&ts);
}

Test(channel, wrong_correlation_id_drops_the_connection_and_resends)
{
    struct tsrv ts;
    struct seq sq = {.free_at = -1};
    tsrv_init(&ts);
    ts.bad_corr_first = true;
    tsrv_start(&ts, 0);
    struct channel *ch = channel_new(base, 1, "127.0.0.1", ts.port);
    struct seq_item *items = seq_send(&sq, ch, 10);
    cr_assert(run_until(&sq.all_done, 5000));
    seq_assert_exactly_once(&sq);
    cr_assert_eq(sq.ok, 10);
    struct channel_stats st;
    channel_get_stats(ch, &st);
    cr_assert_eq(st.connects, 2);
    cr_assert_geq(st.resent, 1);
    cr_assert_gt(tsrv_get(&ts, &ts.n_dups), 0);
    channel_free(ch);
    free(items);
    free(sq.per_req);
    tsrv_stop(&ts);
}

Test(channel, new_rejects_bad_arguments)
{
    cr_assert_null(channel_new(base, 1, "127.0.0.1", 0));
    cr_assert_null(channel_new(base, 1, "127.0.0.1", 65536));
    cr_assert_null(channel_new(base, 1, "", 9092));
    cr_assert_null(channel_new(base, 1, NULL, 9092));
    cr_assert_null(channel_new(NULL, 1, "127.0.0.1", 9092));
    channel_free(NULL);
}

/* The table-driven codec writes the protobuf field numbers of
 * proto/control.proto: fixed bytes, so a table naming the wrong field fails. */
Test(rpc, encodings_match_control_proto_field_numbers)
{
    struct kbuf b;
    kbuf_init(&b);
    const struct rpc_controlled_shutdown_req cs = {.broker_id = 5, .broker_epoch = 7};
    static const uint8_t cs_want[] = {0x08, 5, 0x10, 7};
    cr_assert_eq(rpc_controlled_shutdown_req_encode(&cs, &b), KERR_NONE);
    cr_assert_eq(b.len, sizeof(cs_want));
    cr_assert_arr_eq(b.data, cs_want, sizeof(cs_want));

    const struct rpc_partition_error pe[] = {{"t", 1, 2}};
    const struct rpc_stop_replica_resp sr = {
        .error_code = 3, .n_partition_errors = 1, .partition_errors = pe};
    /* 1: error_code 3; 2: PartitionError{1: "t", 2: 1, 3: 2} */
    static const uint8_t sr_want[] = {0x08, 3, 0x12, 7, 0x0a, 1, 't', 0x10, 1, 0x18, 2};
    kbuf_reset(&b);
    cr_assert_eq(rpc_stop_replica_resp_encode(&sr, &b), KERR_NONE);
    cr_assert_eq(b.len, sizeof(sr_want));
    cr_assert_arr_eq(b.data, sr_want, sizeof(sr_want));

    const int32_t isr[] = {1, 2};
    const struct rpc_isr_proposal prop[] = {{"t", 0, 4, 2, isr, 9}};
    const struct rpc_alter_isr_req ai = {
        .broker_id = 1, .broker_epoch = 2, .n_partitions = 1, .partitions = prop};
    /* 1: 1; 2: 2; 3: AlterIsrPartition{1: "t", 3: 4, 4: packed [1, 2], 5: 9}
     * (proto3 leaves out the zero partition) */
    static const uint8_t ai_want[] = {0x08, 1, 0x10, 2, 0x1a, 11, 0x0a, 1, 't',
                                      0x18, 4, 0x22, 2, 1,    2,  0x28, 9};
    kbuf_reset(&b);
    cr_assert_eq(rpc_alter_isr_req_encode(&ai, &b), KERR_NONE);
    cr_assert_eq(b.len, sizeof(ai_want));
    cr_assert_arr_eq(b.data, ai_want, sizeof(ai_want));
    kbuf_destroy(&b);
}
