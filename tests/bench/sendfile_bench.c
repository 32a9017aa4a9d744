/*
 * tests/bench/sendfile_bench.c — the two ways a broker can serve a fetch from
 * a cached log segment, measured over loopback TCP on this machine.
 *
 *   sendfile_bench FILE sendfile|readwrite [PASSES] [CHUNK_KIB]
 *
 * A server (this process) listens on 127.0.0.1:0 and forks a client that
 * connects and reads everything into a 1 MiB buffer, discarding it. The
 * server sends FILE PASSES times (default 3): with sendfile(2) in CHUNK_KIB
 * pieces (default 1024), or with pread(2) into a CHUNK_KIB user buffer and
 * write(2) of it. FILE should already be in the page cache.
 *
 * Prints one line of key=value:
 *   mode bytes elapsed_s gb_per_s (10^9 bytes/s) server_cpu_s client_cpu_s
 *   server_cpu_s_per_gb total_cpu_s_per_gb
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

/* Child: connect to port, read until EOF, exit 0 (1 on error). */
static void client_run(uint16_t port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char *buf = malloc(1 << 20);
    if (fd < 0 || !buf || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        _exit(1);
    for (;;) {
        ssize_t n = read(fd, buf, 1 << 20);
        if (n == 0)
            _exit(0);
        if (n < 0 && errno != EINTR)
            _exit(1);
    }
}

static int write_all(int sock, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(sock, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Sends size bytes of fd to sock once. Returns 0 or -1. */
static int send_file_once(int sock, int fd, off_t size, int use_sendfile, char *buf, size_t chunk)
{
    off_t off = 0;
    while (off < size) {
        size_t want = (size_t)(size - off) < chunk ? (size_t)(size - off) : chunk;
        if (use_sendfile) {
            ssize_t n = sendfile(sock, fd, &off, want);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return -1;
        } else {
            ssize_t n = pread(fd, buf, want, off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0 || write_all(sock, buf, (size_t)n))
                return -1;
            off += n;
        }
    }
    return 0;
}

static int listen_loopback(uint16_t *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 1) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

struct opts {
    const char *file;
    int use_sendfile;
    int passes;
    size_t chunk;
};

static int serve(const struct opts *o, int fd, off_t size)
{
    uint16_t port = 0;
    int lfd = listen_loopback(&port), sock = -1, rc = 1, status = 0;
    char *buf = o->use_sendfile ? NULL : malloc(o->chunk);
    if (lfd < 0 || (!o->use_sendfile && !buf)) {
        perror("sendfile_bench: listen");
        goto out;
    }
    pid_t pid = fork();
    if (pid == 0)
        client_run(port);
    if (pid < 0 || (sock = accept(lfd, NULL, NULL)) < 0) {
        perror("sendfile_bench: fork/accept");
        goto out;
    }
    double su0, ss0, su1, ss1, cu, cs;
    bench_cpu(RUSAGE_SELF, &su0, &ss0);
    int64_t t0 = bench_now_ns();
    for (int i = 0; i < o->passes; i++)
        if (send_file_once(sock, fd, size, o->use_sendfile, buf, o->chunk)) {
            perror("sendfile_bench: send");
            goto out;
        }
    close(sock);
    sock = -1;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "sendfile_bench: client failed\n");
        goto out;
    }
    double elapsed = (double)(bench_now_ns() - t0) / 1e9;
    bench_cpu(RUSAGE_SELF, &su1, &ss1);
    bench_cpu(RUSAGE_CHILDREN, &cu, &cs);
    double gb = (double)size * o->passes / 1e9, server = su1 - su0 + ss1 - ss0;
    printf("mode=%s bytes=%" PRIu64 " elapsed_s=%.3f gb_per_s=%.2f server_cpu_s=%.3f"
           " client_cpu_s=%.3f server_cpu_s_per_gb=%.3f total_cpu_s_per_gb=%.3f\n",
           o->use_sendfile ? "sendfile" : "readwrite", (uint64_t)size * (uint64_t)o->passes,
           elapsed, gb / elapsed, server, cu + cs, server / gb, (server + cu + cs) / gb);
    rc = 0;
out:
    if (sock >= 0)
        close(sock);
    if (lfd >= 0)
        close(lfd);
    free(buf);
    return rc;
}

int main(int argc, char **argv)
{
    struct opts o = {0};
    if (argc < 3 || (strcmp(argv[2], "sendfile") != 0 && strcmp(argv[2], "readwrite") != 0)) {
        fprintf(stderr, "usage: sendfile_bench FILE sendfile|readwrite [PASSES] [CHUNK_KIB]\n");
        return 2;
    }
    o.file = argv[1];
    o.use_sendfile = strcmp(argv[2], "sendfile") == 0;
    o.passes = argc > 3 ? atoi(argv[3]) : 3;
    o.chunk = (size_t)(argc > 4 ? atoi(argv[4]) : 1024) << 10;
    if (o.passes <= 0 || o.chunk == 0) {
        fprintf(stderr, "sendfile_bench: bad PASSES or CHUNK_KIB\n");
        return 2;
    }
    int fd = open(o.file, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0) {
        perror(o.file);
        return 1;
    }
    int rc = serve(&o, fd, st.st_size);
    close(fd);
    return rc;
}
