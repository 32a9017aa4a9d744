/*
 * tests/unit/broker/test_listener.c — the listener in this process, with
 * its descriptor table filled up: accept(2) failing with EMFILE must not
 * turn the main loop into a busy loop or flood the log (the listener backs
 * off), and pending connections are accepted once descriptors free up.
 */
#include "broker/config/metrics.h"
#include "broker/net/conn.h"
#include "broker/net/listener.h"
#include "common/loop/worker.h"
#include "common/say.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CLIENTS 5

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void run_loop_ms(struct event_base *base, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
}

static int count_substr(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static char *slurp(int fd)
{
    off_t len = lseek(fd, 0, SEEK_END);
    char *s = calloc(1, (size_t)len + 1);
    cr_assert(s);
    cr_assert_eq(pread(fd, s, (size_t)len, 0), len);
    return s;
}

static void close_all_job(void *arg) { conn_close_all(arg); }

Test(listener, out_of_descriptors_backs_off_then_recovers)
{
    evthread_use_pthreads();
    char logpath[] = "/tmp/gregor-test-listener-XXXXXX";
    int logfd = mkstemp(logpath);
    cr_assert_geq(logfd, 0);
    unlink(logpath);
    say_setup(SAY_INFO, logfd);

    struct event_base *base = event_base_new();
    struct worker *w = worker_new("net-test");
    cr_assert(base && w);
    struct metrics m;
    memset(&m, 0, sizeof(m));
    struct conn_limits lim = {.max_request_bytes = 1 << 20,
                              .idle_ms = -1,
                              .read_timeout_ms = -1,
                              .sndbuf = -1,
                              .rcvbuf = -1,
                              .metrics = &m};
    struct listeners *ls = NULL;
    char err[256];
    cr_assert_eq(
        listeners_add(&ls, NULL, base, &w, 1, &lim, "PLAINTEXT", "127.0.0.1", 0, err, sizeof(err)),
        0, "%s", err);
    int port = listeners_port(ls, "PLAINTEXT");

    /* clients connect (the kernel completes the handshakes into the
     * backlog), then every free descriptor of this process is taken */
    int cl[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        cl[i] = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        cr_assert_eq(connect(cl[i], (struct sockaddr *)&sa, sizeof(sa)), 0);
    }
    struct rlimit old, low;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = 256;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    static int fill[256];
    int n_fill = 0;
    while (n_fill < 256) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            break;
        fill[n_fill++] = fd;
    }

    double cpu0 = cpu_seconds();
    run_loop_ms(base, 1500);
    double used = cpu_seconds() - cpu0;
    cr_assert_lt(used, 0.3, "%.2f s of CPU in 1.5 s while accept(2) fails", used);
    cr_assert_eq(metrics_get(&m.connections_accepted), 0);
    char *log = slurp(logfd);
    int lines = count_substr(log, "accept failed");
    cr_assert_geq(lines, 1, "the failure is logged:\n%s", log);
    cr_assert_leq(lines, 3, "%d lines in 1.5 s:\n%s", lines, log);
    cr_assert(strstr(log, "not accepting for"), "%s", log);
    free(log);

    /* descriptors come back: the pending connections are accepted */
    for (int i = 0; i < n_fill; i++)
        close(fill[i]);
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
    for (int i = 0; i < 40 && metrics_get(&m.connections_accepted) < CLIENTS; i++)
        run_loop_ms(base, 100);
    cr_assert_eq(metrics_get(&m.connections_accepted), CLIENTS);

    listeners_free(ls);
    worker_post(w, close_all_job, w);
    worker_free(w);
    event_base_free(base);
    for (int i = 0; i < CLIENTS; i++)
        close(cl[i]);
    close(logfd);
}
