/*
 * tests/fuzz/fuzz_request.c — libFuzzer target: arbitrary bytes as one
 * Kafka request frame, decoded by dispatch_request() and handled by the real
 * API handlers of an in-process broker without ZooKeeper.
 *
 * The broker: a struct broker with a loaded config (no file), a fake live
 * broker list and metadata cache (itself, PLAINTEXT 127.0.0.1:9092), a
 * cluster id, one network
 * worker and an admin worker (common/loop/worker.h), and a topic registry
 * holding one topic "fuzz" with 2 local partitions led by this broker, in a
 * temporary log dir (1 MiB segments, retention applied every 256 inputs so
 * the disk stays small); producer ids (InitProducerId) from one block of
 * 2^40 ids handed over at start, as no ZooKeeper is there to claim blocks.
 * The transaction coordinator runs for real: `__transaction_state` has 2
 * local partitions (replication factor 1, so its acks=all writes complete at
 * once) and a txn runtime (core/txn_runtime.c) loads them at start, so
 * InitProducerId with a transactional id, AddPartitionsToTxn,
 * AddOffsetsToTxn, EndTxn, DescribeTransactions and ListTransactions reach
 * the txn worker and the state machine, and their state carries over from
 * one input to the next. The broker's endpoint (metadata cache, live
 * brokers) is a listening socket of this process on 127.0.0.1 (an ephemeral
 * port; an accept thread hands each connection to the network worker as
 * net/listener.c would), so the coordinator's marker sender
 * (core/txn_markers.c) delivers WriteTxnMarkers to this same broker and a
 * transaction completes. Before the first input the transactional id "t" is
 * initialised (InitProducerId: producer id 0, epoch 0, the first of the
 * block), which the transaction seeds of the corpus name.
 *
 * How an input travels: a request needs a struct conn for req_complete()
 * and req_base() (pending handlers, e.g. a parked Fetch), and that struct
 * is private to broker/net/conn.c. So the input goes through the real
 * connection code: one end of a socketpair is adopted by the network worker
 * (conn_adopt()), and the fuzzer writes [size][input] followed by an
 * ApiVersions v0 "ping" with a reserved correlation id. conn.c builds the
 * req, calls dispatch_request(), sends req->out and frees the req; one
 * request is in flight per connection, so once the ping's answer arrives
 * the fuzzed request is finished (answered, or silent for acks=0). If the
 * broker closes the connection instead, the next input uses a new one.
 *
 * Rewrites before sending (documented limits of this target):
 *   - API keys whose handlers need ZooKeeper on the admin worker or the
 *     controller (CreateTopics 19, DeleteTopics 20, AlterConfigs 33,
 *     CreatePartitions 37,
 *     ElectLeaders 43, IncrementalAlterConfigs 44) become a local API of
 *     similar shape; the private control keys 10000-10004 reach their
 *     handler, which closes the connection (no replica manager or
 *     controller here: their decoders have unit tests);
 *   - a Fetch's max_wait_ms is cut to 0-3 ms (a parked Fetch must not stall
 *     the fuzzer; parking itself is still exercised);
 *   - a correlation id equal to the ping's is changed.
 * Checks (abort = a finding): no response within 10 s (a hang or a lost
 * pending request), a response frame shorter than its header, more than one
 * response to the fuzzed request, or responses out of order.
 *
 * Environment: FUZZ_LOG=debug|info|warn|error sends broker log lines to
 * stderr (default: none); FUZZ_TRACE=1 prints what happened to each input.
 */
#include <errno.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/config/config.h"
#include "broker/core/metadata_cache.h"
#include "broker/core/producer_ids.h"
#include "broker/core/txn_runtime.h"
#include "broker/net/conn.h"
#include "broker/net/limits.h"
#include "common/loop/worker.h"
#include "broker/replication/partition.h"
#include "broker/core/broker.h"
#include "broker/replication/topics.h"
#include "common/buf.h"
#include "common/say.h"

#define PING_CORR 0x7eadbeef
#define PING_FRAME_LEN 14 /* size(4) key(2) version(2) corr(4) client_id(2: null) */
#define RESPONSE_TIMEOUT_MS 10000
#define RETENTION_EVERY 256
#define WARMUP_TRIES 500 /* 10 ms apart: the coordinator's partitions load meanwhile */

static struct {
    struct broker_config cfg;
    struct broker b;
    struct worker *net;
    char dir[256];
    int fd;   /* our end of the current connection, -1 if none */
    int lfd;  /* the inter-broker listening socket */
    int port; /* its port: the broker's endpoint */
    pthread_t acceptor;
    int16_t last_err; /* the first INT16 after the last response's header and throttle time */
    uint64_t runs;    /* inputs so far */
    bool trace;       /* FUZZ_TRACE set: one line per input on stderr */
} F = {.fd = -1, .lfd = -1};

#define FUZZ_DIE(...)                                                                              \
    do {                                                                                           \
        fprintf(stderr, "fuzz_request: " __VA_ARGS__);                                             \
        fputc('\n', stderr);                                                                       \
        abort();                                                                                   \
    } while (0)

/* ---- the in-process broker --------------------------------------------- */

static void setup_config(void)
{
    char logdirs[300], err[512];
    char *ov[] = {"broker.id=0",
                  "zookeeper.connect=127.0.0.1:1",
                  logdirs,
                  "listeners=PLAINTEXT://127.0.0.1:9092",
                  "auto.create.topics.enable=false",
                  "transaction.state.log.num.partitions=2",
                  "transaction.state.log.replication.factor=1",
                  "transaction.state.log.min.isr=1"};

    snprintf(logdirs, sizeof(logdirs), "log.dirs=%s", F.dir);
    if (config_load(&F.cfg, NULL, NULL, ov, (int)ARRAY_LEN(ov), err, sizeof(err)) != 0)
        FUZZ_DIE("config: %s", err);
}

static void setup_live_brokers(struct broker *b)
{
    b->live = calloc(1, sizeof(*b->live));
    if (!b->live)
        FUZZ_DIE("out of memory");
    b->live[0].id = 0;
    b->live[0].n_endpoints = 1;
    snprintf(b->live[0].ep[0].listener, sizeof(b->live[0].ep[0].listener), "PLAINTEXT");
    snprintf(b->live[0].ep[0].host, sizeof(b->live[0].ep[0].host), "127.0.0.1");
    b->live[0].ep[0].port = F.port;
    b->n_live = 1;
}

/* Topic name: 2 partitions, replica and leader = this broker. */
static void setup_topic(struct broker *b, const char *name)
{
    static const int32_t replicas[] = {0, 0};
    struct topic_config tc = b->topic_defaults;
    char err[512] = "";
    struct topic *t;

    tc.segment_bytes = 1 << 20;
    tc.retention_bytes = 4 << 20;
    tc.min_insync_replicas = 1;
    b->topic_defaults = tc;
    t = topic_create(name, 2, 1, replicas, NULL, 0, &tc, F.dir, 0, NULL, err, sizeof(err));
    if (!t)
        FUZZ_DIE("topic_create: %s", err);
    static const int32_t self[] = {0};
    struct partition_state st = {
        .leader = 0, .n_isr = 1, .isr = self, .n_replicas = 1, .replicas = self};
    for (int32_t p = 0; p < t->n_parts; p++) {
        bool changed;
        if (partition_apply_state(topic_part(t, p), 0, &st, 0, &changed) != KERR_NONE)
            FUZZ_DIE("partition_apply_state failed");
    }
    if (!topics_add(b->topics, t))
        FUZZ_DIE("topics_add failed");
}

/* The metadata cache as the controller would push it: broker 0 and the
 * topics "__consumer_offsets", "__transaction_state" and "fuzz" (sorted by
 * name) led by it, so FindCoordinator names broker 0 (and never asks the
 * admin worker, which has no ZooKeeper here, to create a coordinator topic);
 * the group APIs answer COORDINATOR_NOT_AVAILABLE without a group runtime. */
static void setup_metadata(struct broker *b)
{
    struct mc_snapshot *s = mc_snapshot_new();
    b->mc = mc_new();
    if (!s || !b->mc)
        FUZZ_DIE("out of memory");
    s->controller_id = 0;
    s->brokers = calloc(1, sizeof(*s->brokers));
    s->topics = calloc(3, sizeof(*s->topics));
    if (!s->brokers || !s->topics)
        FUZZ_DIE("out of memory");
    s->brokers[0] = b->live[0];
    s->n_brokers = 1;
    const char *names[] = {"__consumer_offsets", "__transaction_state", "fuzz"};
    for (int i = 0; i < 3; i++) {
        struct mc_topic *t = &s->topics[i];
        snprintf(t->name, sizeof(t->name), "%s", names[i]);
        t->n_parts = 2;
        t->parts = calloc(2, sizeof(*t->parts));
        if (!t->parts)
            FUZZ_DIE("out of memory");
        for (int p = 0; p < 2; p++)
            t->parts[p] = (struct mc_partition){.leader = 0, .n_replicas = 1, .n_isr = 1};
    }
    s->n_topics = 3;
    if (!mc_set(b->mc, s))
        FUZZ_DIE("mc_set failed");
}

static void setup_logging(void)
{
    const char *lvl = getenv("FUZZ_LOG");
    enum say_level level;
    int fd;

    if (lvl && say_level_parse(lvl, &level)) {
        say_setup(level, 2);
        return;
    }
    fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    say_setup(SAY_ERROR, fd >= 0 ? fd : 2);
}

static void teardown(void);
static void adopt_job(void *arg);
static void warm_up(void);

/* The inter-broker listening socket on 127.0.0.1, an ephemeral port (F.port). */
static void setup_listener(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);

    F.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (F.lfd < 0 || bind(F.lfd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(F.lfd, 16) != 0 ||
        getsockname(F.lfd, (struct sockaddr *)&a, &alen) != 0)
        FUZZ_DIE("inter-broker listener: %s", strerror(errno));
    F.port = ntohs(a.sin_port);
}

/* Accepts until the socket is shut down; each connection goes to the network worker. */
static void *accept_main(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = accept4(F.lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
            continue;
        if (fd < 0)
            return NULL; /* shut down by teardown() */
        if (!worker_post(F.net, adopt_job, (void *)(intptr_t)fd))
            close(fd);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tmp = getenv("TMPDIR");
    struct broker *b = &F.b;

    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);
    evthread_use_pthreads();
    setup_logging();
    F.trace = getenv("FUZZ_TRACE") != NULL;
    snprintf(F.dir, sizeof(F.dir), "%s/gregor-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(F.dir))
        FUZZ_DIE("mkdtemp %s: %s", F.dir, strerror(errno));
    setup_config();
    setup_listener();
    b->cfg = &F.cfg;
    b->id = 0;
    snprintf(b->cluster_id, sizeof(b->cluster_id), "fuzz-cluster-id-000001");
    b->data_dir = F.dir;
    b->logdir_lock_fd = -1;
    pthread_mutex_init(&b->brokers_lock, NULL);
    topic_config_defaults(&b->topic_defaults, &F.cfg);
    setup_live_brokers(b);
    b->topics = topics_new();
    F.net = worker_new("net-0");
    b->admin = worker_new("admin");
    if (!b->topics || !F.net || !b->admin)
        FUZZ_DIE("cannot start the broker's workers");
    b->net = &F.net;
    b->n_net = 1;
    if (pthread_create(&F.acceptor, NULL, accept_main, NULL) != 0)
        FUZZ_DIE("cannot start the accept thread");
    setup_topic(b, "fuzz");
    setup_topic(b, "__transaction_state");
    setup_metadata(b);
    b->pids = pids_new(b);
    if (!b->pids)
        FUZZ_DIE("cannot create the producer ids");
    pids_add_block(b->pids, 0, ((int64_t)1 << 40) - 1);
    b->txns = txn_runtime_new(b);
    if (!b->txns || !txn_runtime_start(b->txns))
        FUZZ_DIE("cannot start the transaction coordinator");
    warm_up();
    atexit(teardown);
    return 0;
}

static void close_all_job(void *arg) { conn_close_all(arg); }

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* At exit (the order of server_shutdown()): the coordinator stopped, connections closed (parked
 * requests answered) on their loop, workers joined, logs closed, the temp dir removed. */
static void teardown(void)
{
    if (F.fd >= 0)
        close(F.fd);
    F.fd = -1;
    txn_runtime_stop(F.b.txns); /* the marker sender's connections closed */
    shutdown(F.lfd, SHUT_RDWR); /* wakes accept() */
    pthread_join(F.acceptor, NULL);
    close(F.lfd);
    worker_post(F.net, close_all_job, F.net);
    worker_free(F.net);
    worker_free(F.b.admin);
    txn_runtime_free(F.b.txns);
    pids_free(F.b.pids);
    topics_free(F.b.topics);
    mc_free(F.b.mc);
    free(F.b.live);
    pthread_mutex_destroy(&F.b.brokers_lock);
    config_free(&F.cfg);
    nftw(F.dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Keeps the topics' logs small (retention.bytes of the topic); the coordinator's tables are in
 * memory, so deleting old `__transaction_state` segments changes no answer. */
static void apply_retention(void)
{
    static const char *const names[] = {"fuzz", "__transaction_state"};
    int deleted;

    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        struct topic *t = topics_get(F.b.topics, names[i], strlen(names[i]));
        if (!t)
            continue;
        for (int32_t p = 0; p < t->n_parts; p++)
            (void)partition_apply_retention(topic_part(t, p), 0, &deleted);
        topic_unref(t);
    }
}

/* ---- the connection ----------------------------------------------------- */

static void adopt_job(void *arg)
{
    struct conn_limits lim = {
        .max_request_bytes = F.cfg.socket_request_max_bytes,
        .idle_ms = 0,
        .sndbuf = -1,
        .rcvbuf = -1,
        .sendfile = F.cfg.gregor_fetch_sendfile,
        .metrics = &F.b.metrics,
    };

    const struct net_slot unlimited = {.held = false}; /* not counted against any limit */
    conn_adopt(&F.b, F.net, (int)(intptr_t)arg, &lim, "PLAINTEXT", &unlimited);
}

static void ensure_connected(void)
{
    int sv[2];

    if (F.fd >= 0)
        return;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        FUZZ_DIE("socketpair: %s", strerror(errno));
    if (!worker_post(F.net, adopt_job, (void *)(intptr_t)sv[1]))
        FUZZ_DIE("worker_post failed");
    F.fd = sv[0];
}

static void disconnect(void)
{
    close(F.fd);
    F.fd = -1;
}

/* Writes all of p; false if the broker closed the connection. */
static bool send_all(const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(F.fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Reads exactly n bytes (timeout: a hang). false at EOF or reset. */
static bool recv_all(uint8_t *p, size_t n)
{
    while (n > 0) {
        struct pollfd pfd = {.fd = F.fd, .events = POLLIN};
        ssize_t r;
        int pr = poll(&pfd, 1, RESPONSE_TIMEOUT_MS);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0)
            FUZZ_DIE("no response within %d ms (hang or lost pending request)",
                     RESPONSE_TIMEOUT_MS);
        r = recv(F.fd, p, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        p += r;
        n -= (size_t)r;
    }
    return true;
}

/* Reads one response frame; returns its correlation id in *corr. false if
 * the connection closed first. */
static bool recv_response(int32_t *corr)
{
    uint8_t hdr[8], *body;
    int32_t size;

    if (!recv_all(hdr, 4))
        return false;
    size = (int32_t)be32_load(hdr);
    if (size < 4)
        FUZZ_DIE("response frame of %d bytes", size);
    if (!recv_all(hdr + 4, 4))
        return false;
    *corr = (int32_t)be32_load(hdr + 4);
    body = malloc((size_t)size - 4 + 1);
    if (!body)
        FUZZ_DIE("out of memory");
    if (!recv_all(body, (size_t)size - 4)) {
        free(body);
        return false;
    }
    if (*corr != PING_CORR)
        F.last_err = size >= 4 + 6 ? (int16_t)be16_load(body + 4) : -1;
    free(body);
    return true;
}

/* ---- one input ------------------------------------------------------------ */

/* API keys whose handlers go to ZooKeeper, and the local API each becomes. */
static const int16_t zk_keys[][2] = {{19, 3}, {20, 1}, {33, 32}, {37, 3}, {43, 3}, {44, 32}};

/* Applies the rewrites described at the top to the frame f (n bytes). */
static void rewrite(uint8_t *f, size_t n)
{
    int16_t key;

    if (n < 2)
        return;
    key = (int16_t)be16_load(f);
    for (size_t i = 0; i < ARRAY_LEN(zk_keys); i++)
        if (key == zk_keys[i][0])
            be16_store(f, (uint16_t)(key = zk_keys[i][1]));
    if (n >= 8 && (int32_t)be32_load(f + 4) == PING_CORR)
        be32_store(f + 4, PING_CORR ^ 1);
    if (key == 1 && n >= 10) {
        int16_t clen = (int16_t)be16_load(f + 8);
        size_t body = 10 + (size_t)(clen > 0 ? clen : 0);
        if (n >= body + 8) /* replica_id INT32, max_wait_ms INT32 */
            be32_store(f + body + 4, be32_load(f + body + 4) % 4);
    }
}

static void put_ping(uint8_t *p)
{
    be32_store(p, PING_FRAME_LEN - 4);
    be16_store(p + 4, 18); /* ApiVersions */
    be16_store(p + 6, 0);
    be32_store(p + 8, PING_CORR);
    be16_store(p + 12, 0xffff); /* null client id */
}

/* Sends the frame and the ping; reads until the ping's answer. Returns
 * the number of answers to the fuzzed request, or -1 if the broker closed
 * the connection (allowed for a bad request). */
static int exchange(const uint8_t *msg, size_t len, int32_t fuzz_corr, bool has_corr)
{
    int answers = 0;
    int32_t corr;

    ensure_connected();
    if (!send_all(msg, len)) {
        disconnect();
        return -1;
    }
    for (;;) {
        if (!recv_response(&corr)) {
            disconnect();
            return -1;
        }
        if (corr == PING_CORR)
            return answers;
        if (!has_corr || corr != fuzz_corr)
            FUZZ_DIE("response with correlation id %d (request %d)", corr, fuzz_corr);
        if (++answers > 1)
            FUZZ_DIE("two responses to one request (correlation id %d)", corr);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t len = 4 + size + PING_FRAME_LEN;
    uint8_t *msg = malloc(len);
    int32_t corr = 0;
    int answers;

    if (!msg || size > INT32_MAX - 16)
        FUZZ_DIE("input too large");
    be32_store(msg, (uint32_t)size);
    memcpy(msg + 4, data, size);
    rewrite(msg + 4, size);
    if (size >= 8)
        corr = (int32_t)be32_load(msg + 8);
    put_ping(msg + 4 + size);
    answers = exchange(msg, len, corr, size >= 8);
    if (F.trace)
        fprintf(stderr, "fuzz_request: key=%d version=%d bytes=%zu -> %s\n",
                size >= 2 ? (int16_t)be16_load(msg + 4) : -1,
                size >= 4 ? (int16_t)be16_load(msg + 6) : -1, size,
                answers < 0 ? "connection closed"
                : answers   ? "answered"
                            : "no response");
    free(msg);
    if (++F.runs % RETENTION_EVERY == 0)
        apply_retention();
    return 0;
}

/* Initialises the transactional id "t" (InitProducerId v0, timeout 60 s) before the first input,
 * retried while the coordinator's partitions load: producer id 0, epoch 0. */
static void warm_up(void)
{
    static const uint8_t init_t[] = {0, 22,   0,    0, 0, 0,    0,
                                     1, 0xff, 0xff, /* header, no client */
                                     0, 1,    't',  0, 0, 0xea, 0x60};
    for (int i = 0; i < WARMUP_TRIES; i++) {
        F.last_err = -1;
        (void)LLVMFuzzerTestOneInput(init_t, sizeof(init_t));
        if (F.last_err == 0)
            return;
        usleep(10000);
    }
    FUZZ_DIE("InitProducerId of \"t\" not answered NONE (last error %d)", F.last_err);
}
