/*
 * tests/integration/test_limits.c — a broker under hostile clients stays
 * bounded (docs/limits.md): connection limits per address and broker-wide,
 * a low descriptor limit flooded with connections (no busy loop, bounded
 * log, checkpoints written and segments rolled, service resumes), the
 * request memory pool (queued.max.request.bytes) against several huge
 * half-sent frames, the request read timeout against a stalled half frame,
 * and the refusal of listeners that are not PLAINTEXT.
 *
 * Each test runs its own ZooKeeper and broker (different settings). Client
 * addresses other than 127.0.0.1 (127.0.0.2, ...) keep the per-address
 * counts free of the broker's own connections to itself.
 */
#include "tests/harness/broker_proc.h"
#include "tests/harness/kreq.h"
#include "tests/harness/zk_server.h"
#include "tests/integration/itest.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static struct zk_server *g_zk;
static struct broker_proc *g_bp;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Creates the broker (not started) against a fresh ZooKeeper. */
static struct broker_proc *broker_new(const char *const *overrides)
{
    g_zk = zk_server_start();
    cr_assert(g_zk, "ZooKeeper did not start");
    g_bp = broker_proc_new(zk_server_connect(g_zk), 0, overrides);
    cr_assert(g_bp);
    return g_bp;
}

static int broker_up(void)
{
    cr_assert_eq(broker_proc_start(g_bp), 0, "broker did not start");
    return broker_proc_port(g_bp);
}

static void teardown(void)
{
    if (g_bp) {
        int st = broker_proc_stop(g_bp, 15);
        if (st != 0)
            broker_proc_log_tail(g_bp, 40);
        cr_expect_eq(st, 0, "broker did not exit cleanly (status %d)", st);
        broker_proc_free(g_bp);
        g_bp = NULL;
    }
    zk_server_stop(g_zk);
    g_zk = NULL;
}

TestSuite(limits, .fini = teardown, .timeout = 120);

/* Connects from source address src (NULL = any) to 127.0.0.1:port. */
static int connect_from(const char *src, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0, "socket: %s", strerror(errno));
    if (src) {
        struct sockaddr_in me = {.sin_family = AF_INET};
        inet_pton(AF_INET, src, &me.sin_addr);
        cr_assert_eq(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0, "bind %s: %s", src,
                     strerror(errno));
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect: %s",
                 strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* An ApiVersions v0 round trip on fd: true if answered. */
static bool api_versions_on(int fd, int timeout_ms)
{
    struct kbytes req;
    kbytes_init(&req);
    kreq_api_versions(&req, 0, 42);
    uint8_t *frame = NULL;
    size_t len = 0;
    int rc = kreq_roundtrip(fd, &req, 42, &frame, &len, timeout_ms);
    free(frame);
    kbytes_free(&req);
    return rc == 0;
}

/* Sends ApiVersions on each of fds[0..n) and counts the answers. */
static int count_served(const int *fds, int n)
{
    int ok = 0;
    for (int i = 0; i < n; i++)
        ok += api_versions_on(fds[i], 5000);
    return ok;
}

static int count_substr(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* utime + stime of pid, in clock ticks. */
static long long cpu_ticks(pid_t pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    cr_assert(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    cr_assert(p);
    long long ut = 0, st = 0;
    /* fields after ")": state(3) ... utime(14) stime(15) */
    cr_assert_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld", &ut, &st),
                 2);
    return ut + st;
}

static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    cr_assert(f);
    long kb = -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* ---- connection limits ---------------------------------------------- */

Test(limits, per_ip_limit_and_overrides)
{
    static const char *const ov[] = {
        "max.connections.per.ip=3",
        "max.connections.per.ip.overrides=127.0.0.3:5,127.0.0.4:0",
        NULL,
    };
    broker_new(ov);
    int port = broker_up();

    int a[5], b[7];
    for (int i = 0; i < 5; i++)
        a[i] = connect_from("127.0.0.2", port);
    for (int i = 0; i < 7; i++)
        b[i] = connect_from("127.0.0.3", port);
    int c = connect_from("127.0.0.4", port);
    cr_assert_eq(count_served(a, 5), 3, "127.0.0.2 is limited by max.connections.per.ip=3");
    cr_assert_eq(count_served(b, 7), 5, "127.0.0.3 is raised to 5 by its override");
    cr_assert_eq(count_served(&c, 1), 0, "127.0.0.4 is refused by its override 0");

    /* a freed slot is usable again */
    for (int i = 0; i < 5; i++)
        close(a[i]);
    sleep_ms(1000);
    int d[3];
    for (int i = 0; i < 3; i++)
        d[i] = connect_from("127.0.0.2", port);
    cr_assert_eq(count_served(d, 3), 3, "slots of closed connections are given back");

    char *log = broker_proc_log(g_bp);
    cr_assert(log);
    int refused = count_substr(log, "connection refused peer=");
    cr_assert_geq(refused, 1, "refusals are logged");
    cr_assert_lt(refused, 5, "refusal lines are rate-limited (5 refusals, %d lines)", refused);
    free(log);
    for (int i = 0; i < 7; i++)
        close(b[i]);
    for (int i = 0; i < 3; i++)
        close(d[i]);
    close(c);
}

Test(limits, max_connections_spares_the_inter_broker_listener)
{
    static const char *const ov[] = {"max.connections=4", NULL};
    broker_new(ov);
    int port = broker_proc_port(g_bp);
    int cport = harness_free_port();
    char l[256], adv[256];
    snprintf(l, sizeof(l), "listeners=PLAINTEXT://127.0.0.1:%d,CLIENT://127.0.0.1:%d", port, cport);
    snprintf(adv, sizeof(adv),
             "advertised.listeners=PLAINTEXT://127.0.0.1:%d,CLIENT://127.0.0.1:%d", port, cport);
    cr_assert_eq(broker_proc_add_override(g_bp, l), 0);
    cr_assert_eq(broker_proc_add_override(g_bp, adv), 0);
    cr_assert_eq(broker_proc_add_override(
                     g_bp, "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CLIENT:PLAINTEXT"),
                 0);
    cr_assert_eq(broker_proc_add_override(g_bp, "inter.broker.listener.name=PLAINTEXT"), 0);
    broker_up();

    int cl[6], ib[6];
    for (int i = 0; i < 6; i++)
        cl[i] = connect_from("127.0.0.2", cport);
    cr_assert_eq(count_served(cl, 6), 4, "the client listener is limited by max.connections=4");
    for (int i = 0; i < 6; i++)
        ib[i] = connect_from("127.0.0.2", port);
    cr_assert_eq(count_served(ib, 6), 6, "the inter-broker listener is not limited");
    for (int i = 0; i < 6; i++)
        close(cl[i]);
    sleep_ms(1000);
    int again = connect_from("127.0.0.2", cport);
    cr_assert(api_versions_on(again, 5000), "a slot freed by a close is usable");
    close(again);
    for (int i = 0; i < 6; i++)
        close(ib[i]);
}

/* ---- descriptor exhaustion ------------------------------------------ */

#define FLOOD 600

Test(limits, descriptor_flood_does_not_spin_and_service_resumes)
{
    static const char *const ov[] = {
        "replica.high.watermark.checkpoint.interval.ms=300",
        "log.flush.offset.checkpoint.interval.ms=300",
        "log.flush.start.offset.checkpoint.interval.ms=300",
        "log.segment.bytes=2048",
        NULL,
    };
    broker_new(ov);
    broker_proc_set_nofile(g_bp, 256);
    int port = broker_up();
    pid_t pid = broker_proc_pid(g_bp);
    char topic[64];
    itest_topic("limits-fd", topic, sizeof(topic));
    cr_assert_eq(itest_create_topic(broker_proc_bootstrap(g_bp), topic, 4, 30), 0);

    int keep = connect_from(NULL, port);
    cr_assert(api_versions_on(keep, 5000));
    char *log0 = broker_proc_log(g_bp);
    int lines0 = count_substr(log0, "\n");
    free(log0);

    int64_t t0 = now_ms();
    int64_t flood_wall = (int64_t)time(NULL) + 1;
    long long cpu0 = cpu_ticks(pid);
    static int flood[FLOOD];
    for (int i = 0; i < FLOOD; i++)
        flood[i] = connect_from("127.0.0.2", port);
    sleep_ms(3000);
    long long cpu1 = cpu_ticks(pid);
    /* checkpoints (which open a temporary file) were written meanwhile */
    char ckpt[600];
    struct stat st;
    snprintf(ckpt, sizeof(ckpt), "%s/replication-offset-checkpoint", broker_proc_data_dir(g_bp));
    cr_assert_eq(stat(ckpt, &st), 0, "%s: %s", ckpt, strerror(errno));
    cr_assert_geq((int64_t)st.st_mtime, flood_wall - 1, "no checkpoint written during the flood");
    double secs = (double)(now_ms() - t0) / 1000.0;
    double share = (double)(cpu1 - cpu0) / (double)sysconf(_SC_CLK_TCK) / secs;
    cr_assert_lt(share, 0.3, "broker used %.0f%% of a core while flooded", share * 100);

    /* the connection opened before the flood is still served */
    struct kbytes req;
    kbytes_init(&req);
    kreq_metadata_v1(&req, 9, NULL, 0);
    uint8_t *frame = NULL;
    size_t len = 0;
    cr_assert_eq(kreq_roundtrip(keep, &req, 9, &frame, &len, 5000), 0,
                 "an existing client is not served during the flood");
    free(frame);
    kbytes_free(&req);

    /* Produce on it while flooded: segments roll (new files) every ~2 KiB */
    static char value[1000];
    memset(value, 'v', sizeof(value) - 1);
    for (int i = 0; i < 6; i++) {
        struct kbytes batch, preq;
        kbytes_init(&batch);
        kbytes_init(&preq);
        struct krecord rec = {.key = NULL, .value = value, .value_len = -1};
        kbatch_append(&batch, 1700000000000LL + i, &rec, 1);
        kreq_produce_v3(&preq, 100 + i, 1, 10000, topic, 0, batch.p, (int32_t)batch.len);
        cr_assert_eq(kreq_roundtrip(keep, &preq, 100 + i, &frame, &len, 10000), 0,
                     "no Produce answer while flooded");
        struct kproduce_result res;
        cr_assert_eq(kresp_produce_v3(frame, len, &res), 0);
        cr_assert_eq(res.error, 0, "Produce %d failed with error %d while flooded", i, res.error);
        free(frame);
        kbytes_free(&preq);
        kbytes_free(&batch);
    }
    char *ls_out = NULL;
    cr_assert_eq(harness_shf(&ls_out, 10, "ls %s/%s-0 | grep -c '\\.log$'",
                             broker_proc_data_dir(g_bp), topic),
                 0);
    cr_assert_geq(atoi(ls_out), 3, "segments did not roll while flooded (%s files)", ls_out);
    free(ls_out);

    char *log = broker_proc_log(g_bp);
    cr_assert(log);
    int lines = count_substr(log, "\n") - lines0;
    cr_assert_lt(lines, 100, "the flood wrote %d log lines", lines);
    cr_assert_eq(count_substr(log, " ERROR "), 0, "errors logged while flooded:\n%s", log);
    cr_assert_eq(count_substr(log, "cannot write checkpoint"), 0,
                 "checkpoints failed while flooded:\n%s", log);
    cr_assert_geq(count_substr(log, "file descriptors nearly exhausted"), 1);
    free(log);

    for (int i = 0; i < FLOOD; i++)
        close(flood[i]);
    sleep_ms(1000);
    int fresh[20];
    for (int i = 0; i < 20; i++)
        fresh[i] = connect_from("127.0.0.2", port);
    cr_assert_eq(count_served(fresh, 20), 20, "new connections work after the flood");
    for (int i = 0; i < 20; i++)
        close(fresh[i]);
    close(keep);
}

/* ---- request memory --------------------------------------------------- */

#define BIG_FRAME (24 << 20) /* size prefix of each hostile frame */
#define BIG_SENT (20 << 20)  /* how much of it each connection sends */
#define N_BIG 8

/* Sends up to want bytes of zeros on a non-blocking fd; returns bytes sent. */
static size_t send_some(int fd, size_t want)
{
    static char zeros[1 << 16];
    size_t done = 0;
    while (done < want) {
        size_t n = want - done < sizeof(zeros) ? want - done : sizeof(zeros);
        ssize_t w = send(fd, zeros, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    return done;
}

Test(limits, request_memory_is_bounded_by_the_pool)
{
    static const char *const ov[] = {"queued.max.request.bytes=67108864", NULL};
    broker_new(ov);
    int port = broker_up();
    pid_t pid = broker_proc_pid(g_bp);
    sleep_ms(500);
    long base_kb = rss_kb(pid);

    int fds[N_BIG];
    size_t sent[N_BIG] = {0};
    for (int i = 0; i < N_BIG; i++) {
        fds[i] = connect_from("127.0.0.2", port);
        uint8_t hdr[4] = {BIG_FRAME >> 24, (BIG_FRAME >> 16) & 0xff, (BIG_FRAME >> 8) & 0xff,
                          BIG_FRAME & 0xff};
        cr_assert_eq(kreq_send(fds[i], hdr, 4), 0);
    }
    /* push the bodies, round-robin, until all is sent or nothing moves for 2 s */
    int64_t last_progress = now_ms();
    for (;;) {
        bool all = true, moved = false;
        for (int i = 0; i < N_BIG; i++) {
            if (sent[i] >= BIG_SENT)
                continue;
            size_t n = send_some(fds[i], BIG_SENT - sent[i]);
            sent[i] += n;
            moved |= n > 0;
            all &= sent[i] >= BIG_SENT;
        }
        if (moved)
            last_progress = now_ms();
        if (all || now_ms() - last_progress > 2000)
            break;
        sleep_ms(5);
    }
    sleep_ms(500);
    long grown_mb = (rss_kb(pid) - base_kb) / 1024;
    size_t total = 0;
    for (int i = 0; i < N_BIG; i++)
        total += sent[i];
    cr_log_info("sent %zu MiB in total; broker RSS grew by %ld MiB", total >> 20, grown_mb);
    cr_assert_lt(grown_mb, 64 + 16, "RSS grew by %ld MiB with a 64 MiB request pool", grown_mb);

    /* a small request on another connection is still answered */
    int small = connect_from("127.0.0.5", port);
    cr_assert(api_versions_on(small, 5000), "a small request is starved by the paused ones");

    /* memory given back resumes a paused connection: drop the big ones but
     * one whose reservation fails until then, which then sends a whole
     * (padded) ApiVersions and gets its answer */
    int late = connect_from("127.0.0.6", port);
    struct kbytes req;
    kbytes_init(&req);
    kreq_api_versions(&req, 0, 77);
    size_t body = req.len - 4;
    size_t padded = 60u << 20; /* needs most of the pool */
    uint8_t hdr[4] = {(uint8_t)(padded >> 24), (uint8_t)(padded >> 16), (uint8_t)(padded >> 8),
                      (uint8_t)padded};
    cr_assert_eq(kreq_send(late, hdr, 4), 0);
    cr_assert_eq(kreq_send(late, req.p + 4, body), 0);
    sleep_ms(300);
    for (int i = 0; i < N_BIG; i++)
        close(fds[i]);
    int fl = fcntl(late, F_GETFL);
    fcntl(late, F_SETFL, fl & ~O_NONBLOCK);
    static char zeros[1 << 16];
    size_t left = padded - body;
    while (left > 0) {
        size_t n = left < sizeof(zeros) ? left : sizeof(zeros);
        cr_assert_eq(kreq_send(late, zeros, n), 0, "the paused connection is not read again");
        left -= n;
    }
    uint8_t *frame = NULL;
    size_t len = 0;
    int rc = kreq_recv(late, &frame, &len, 15000);
    cr_assert_eq(rc, 0, "no answer to the request that waited for memory (rc %d)", rc);
    free(frame);
    kbytes_free(&req);
    close(late);
    close(small);
}

/* ---- request read timeout -------------------------------------------- */

Test(limits, half_frame_is_closed_after_the_read_timeout)
{
    static const char *const ov[] = {"gregor.request.read.timeout.ms=1000", NULL};
    broker_new(ov);
    int port = broker_up();

    int idle = connect_from(NULL, port);
    int half = connect_from(NULL, port);
    uint8_t part[14] = {0, 0, 0, 100, 0, 18, 0, 0, 0, 0, 0, 1, 0, 0};
    int64_t t0 = now_ms();
    cr_assert_eq(kreq_send(half, part, sizeof(part)), 0);
    cr_assert(kreq_wait_closed(half, 6000), "a stalled half frame keeps its connection open");
    int64_t took = now_ms() - t0;
    cr_assert_geq(took, 800, "closed after %lld ms, before the timeout", (long long)took);
    /* a connection that sent nothing is not affected (connections.max.idle.ms) */
    cr_assert(api_versions_on(idle, 5000), "an idle connection was closed");
    char *log = broker_proc_log(g_bp);
    cr_assert(strstr(log, "gregor.request.read.timeout.ms"), "the close is logged");
    free(log);
    close(half);
    close(idle);
}

/* ---- TLS and SASL listeners -------------------------------------------- */

static void expect_refused_listener(const char *const *ov, const char *needle)
{
    struct broker_proc *bp = broker_proc_new("127.0.0.1:1", 0, ov);
    cr_assert(bp);
    cr_assert_neq(broker_proc_start_quiet(bp), 0, "the broker started");
    int st = broker_proc_wait_exit(bp, 10);
    if (st == -1)
        st = broker_proc_exit_status(bp);
    cr_assert(st > 0 && st < 128, "exit status %d", st);
    char *log = broker_proc_log(bp);
    cr_assert(log && strstr(log, needle), "log lacks \"%s\":\n%s", needle, log ? log : "");
    free(log);
    broker_proc_free(bp);
}

/* A TLS or SASL listener without what it needs stops the broker at start,
 * saying which setting is missing, rather than serve under a secure name. */
Test(limits, ssl_and_sasl_listeners_without_their_settings_stop_the_broker)
{
    static const char *const ssl[] = {
        "listeners=PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0",
        "advertised.listeners=PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0",
        "inter.broker.listener.name=PLAINTEXT", NULL};
    expect_refused_listener(ssl, "listener SSL: ssl.keystore.location is required for TLS");
    static const char *const sasl[] = {
        "listeners=PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
        "advertised.listeners=PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
        "inter.broker.listener.name=PLAINTEXT", NULL};
    expect_refused_listener(sasl, "listener SASL_PLAINTEXT enables PLAIN but has no JAAS");
}
