/*
 * tests/harness/zk_server.c — starts and stops a real ZooKeeper for tests.
 *
 * Layout of the temporary directory ($TMPDIR or /tmp, gregor-zk-XXXXXX):
 *   zoo.cfg          generated config (below)
 *   data/            snapshots and transaction log
 *   zookeeper.log    the server's stdout+stderr (slf4j-simple)
 *   owner            pid of the test process; zk_server_start() removes dirs
 *                    whose owner is dead (a test killed before its cleanup)
 *
 * The command line (also what deploy/ scripts need):
 *   java -Xms16m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1
 *        -Djava.awt.headless=true -Dorg.slf4j.simpleLogger.defaultLogLevel=warn
 *        -cp /usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar
 *        org.apache.zookeeper.server.ZooKeeperServerMain <dir>/zoo.cfg
 *
 * The server process: own process group (setpgid), PR_SET_PDEATHSIG =
 * SIGKILL so it dies with the thread that forked it, cwd = the temp dir.
 * Readiness: the `srvr` four-letter word reports a Mode (`ruok` answers too
 * early, before the server accepts sessions).
 */
#include "tests/harness/zk_server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ZKS_START_TIMEOUT_MS 60000
#define ZKS_STOP_GRACE_MS 5000
#define ZKS_DEFAULT_CP "/usr/share/java/zookeeper.jar"
#define ZKS_SLF4J_SIMPLE "/usr/share/java/slf4j-simple.jar"
#define ZKS_MAIN "org.apache.zookeeper.server.ZooKeeperServerMain"

/* Owned by the test that started it; not thread-safe. */
struct zk_server {
    pid_t pid; /* leader of the server's process group; 0 if not running */
    int port;
    char dir[PATH_MAX]; /* temp dir, removed by zk_server_stop() */
    char connect[64];   /* "127.0.0.1:PORT" */
};

static long zks_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void zks_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* A loopback port that was free a moment ago (the server may still lose a
 * race for it; zk_server_start() retries). 0 on failure. */
static int zks_free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    int port = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &al) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static bool zks_write_cfg(const struct zk_server *z)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/zoo.cfg", z->dir);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "zk_server: cannot write %s: %s\n", path, strerror(errno));
        return false;
    }
    fprintf(f,
            "tickTime=500\n"
            "minSessionTimeout=1000\n"
            "maxSessionTimeout=60000\n"
            "dataDir=%s/data\n"
            "clientPort=%d\n"
            "clientPortAddress=127.0.0.1\n"
            "maxClientCnxns=0\n"
            "admin.enableServer=false\n"
            "4lw.commands.whitelist=*\n"
            "forceSync=no\n"
            "preAllocSize=1024\n",
            z->dir, z->port);
    return fclose(f) == 0;
}

/* In the child: never returns. */
static void zks_exec(const struct zk_server *z, pid_t parent)
{
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) /* the parent died before prctl */
        _exit(1);
    char log[PATH_MAX + 32], cfg[PATH_MAX + 16], cp[PATH_MAX * 2], lvl[96];
    snprintf(log, sizeof(log), "%s/zookeeper.log", z->dir);
    snprintf(cfg, sizeof(cfg), "%s/zoo.cfg", z->dir);
    const char *env_cp = getenv("GREGOR_ZK_CLASSPATH");
    if (env_cp != NULL && env_cp[0] != '\0')
        snprintf(cp, sizeof(cp), "%s", env_cp);
    else if (access(ZKS_SLF4J_SIMPLE, R_OK) == 0)
        snprintf(cp, sizeof(cp), "%s:%s", ZKS_DEFAULT_CP, ZKS_SLF4J_SIMPLE);
    else
        snprintf(cp, sizeof(cp), "%s", ZKS_DEFAULT_CP);
    const char *env_lvl = getenv("GREGOR_ZK_LOG_LEVEL");
    snprintf(lvl, sizeof(lvl), "-Dorg.slf4j.simpleLogger.defaultLogLevel=%s",
             env_lvl && env_lvl[0] ? env_lvl : "warn");
    const char *java = getenv("GREGOR_JAVA");
    if (java == NULL || java[0] == '\0')
        java = "java";
    int in = open("/dev/null", O_RDONLY);
    int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || out < 0 || chdir(z->dir) != 0)
        _exit(126);
    dup2(in, 0);
    dup2(out, 1);
    dup2(out, 2);
    char *argv[] = {(char *)java,
                    "-Xms16m",
                    "-Xmx256m",
                    "-XX:+UseSerialGC",
                    "-XX:TieredStopAtLevel=1",
                    "-Djava.awt.headless=true",
                    lvl,
                    "-cp",
                    cp,
                    ZKS_MAIN,
                    cfg,
                    NULL};
    execvp(java, argv);
    fprintf(stderr, "zk_server: cannot exec %s: %s\n", java, strerror(errno));
    _exit(127);
}

/* True if the server is serving requests. `ruok` answers `imok` as soon as
 * the port is bound, before the database is loaded (clients connecting then
 * are dropped with "ZooKeeperServer not running"), so ask `srvr`, which
 * reports "Mode: standalone" only once the server runs. */
static bool zks_serving(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {1, 0};
    char buf[2048];
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    size_t got = 0;
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        send(fd, "srvr", 4, MSG_NOSIGNAL) == 4) {
        ssize_t n;
        while (got < sizeof(buf) - 1 && (n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0)
            got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    return strstr(buf, "Mode: ") != NULL;
}

/* Prints the end of the server log to stderr, for failure reports. */
static void zks_dump_log(const struct zk_server *z)
{
    char path[PATH_MAX + 32], buf[4096];
    snprintf(path, sizeof(path), "%s/zookeeper.log", z->dir);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return;
    off_t end = lseek(fd, 0, SEEK_END);
    lseek(fd, end > (off_t)sizeof(buf) ? end - (off_t)sizeof(buf) : 0, SEEK_SET);
    ssize_t n = read(fd, buf, sizeof(buf));
    close(fd);
    if (n > 0)
        fprintf(stderr, "zk_server: --- tail of %s ---\n%.*s\n", path, (int)n, buf);
}

/* Kills the process group and reaps the leader. */
static void zks_kill(struct zk_server *z)
{
    if (z->pid <= 0)
        return;
    kill(-z->pid, SIGTERM);
    kill(-z->pid, SIGCONT); /* a paused server must run to see SIGTERM */
    long deadline = zks_now_ms() + ZKS_STOP_GRACE_MS;
    int status;
    pid_t r = 0;
    while ((r = waitpid(z->pid, &status, WNOHANG)) == 0 && zks_now_ms() < deadline)
        zks_sleep_ms(20);
    kill(-z->pid, SIGKILL); /* whatever is left of the group */
    if (r == 0)
        waitpid(z->pid, &status, 0);
    z->pid = 0;
}

/* Forks the server on z->port and waits until it serves. 1: up; 0: the process
 * exited (port taken?); -1: hard failure. */
static int zks_spawn(struct zk_server *z)
{
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "zk_server: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0)
        zks_exec(z, parent);
    setpgid(pid, pid);
    z->pid = pid;
    long deadline = zks_now_ms() + ZKS_START_TIMEOUT_MS;
    while (zks_now_ms() < deadline) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            z->pid = 0;
            kill(-pid, SIGKILL);
            return 0;
        }
        if (zks_serving(z->port))
            return 1;
        zks_sleep_ms(100);
    }
    fprintf(stderr, "zk_server: no answer on port %d after %d ms\n", z->port, ZKS_START_TIMEOUT_MS);
    zks_kill(z);
    return -1;
}

static int zks_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    remove(path);
    return 0;
}

/* Removes tmp/gregor-zk-* dirs whose owner process is gone (their server
 * died with it through PDEATHSIG; only the files remain). */
static void zks_sweep_stale(const char *tmp)
{
    DIR *d = opendir(tmp);
    struct dirent *e;
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        char path[PATH_MAX], owner[PATH_MAX + 8];
        long pid = 0;
        if (strncmp(e->d_name, "gregor-zk-", 10) != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", tmp, e->d_name);
        snprintf(owner, sizeof(owner), "%s/owner", path);
        FILE *f = fopen(owner, "r");
        if (f == NULL)
            continue; /* being created, or not ours */
        if (fscanf(f, "%ld", &pid) == 1 && pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH)
            nftw(path, zks_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        fclose(f);
    }
    closedir(d);
}

/* Creates z->dir and its owner file. */
static bool zks_make_dir(struct zk_server *z)
{
    const char *tmp = getenv("TMPDIR");
    tmp = tmp && tmp[0] ? tmp : "/tmp";
    zks_sweep_stale(tmp);
    snprintf(z->dir, sizeof(z->dir), "%s/gregor-zk-XXXXXX", tmp);
    if (mkdtemp(z->dir) == NULL) {
        fprintf(stderr, "zk_server: mkdtemp %s: %s\n", z->dir, strerror(errno));
        return false;
    }
    char owner[PATH_MAX + 8];
    snprintf(owner, sizeof(owner), "%s/owner", z->dir);
    FILE *f = fopen(owner, "w");
    if (f != NULL) {
        fprintf(f, "%ld\n", (long)getpid());
        fclose(f);
    }
    return true;
}

struct zk_server *zk_server_start(void)
{
    struct zk_server *z = calloc(1, sizeof(*z));
    if (z == NULL)
        return NULL;
    if (!zks_make_dir(z)) {
        free(z);
        return NULL;
    }
    int up = 0;
    for (int attempt = 0; attempt < 3 && up == 0; attempt++) {
        z->port = zks_free_port();
        if (z->port == 0 || !zks_write_cfg(z)) {
            up = -1;
            break;
        }
        up = zks_spawn(z);
    }
    if (up != 1) {
        fprintf(stderr, "zk_server: ZooKeeper did not start (is the `zookeeper` package "
                        "and java installed?)\n");
        zks_dump_log(z);
        zk_server_stop(z);
        return NULL;
    }
    snprintf(z->connect, sizeof(z->connect), "127.0.0.1:%d", z->port);
    return z;
}

const char *zk_server_connect(const struct zk_server *z) { return z->connect; }

int zk_server_port(const struct zk_server *z) { return z->port; }

const char *zk_server_dir(const struct zk_server *z) { return z->dir; }

void zk_server_stop(struct zk_server *z)
{
    if (z == NULL)
        return;
    zks_kill(z);
    const char *keep = getenv("GREGOR_KEEP_TMP");
    if (keep != NULL && keep[0] != '\0')
        fprintf(stderr, "zk_server: kept %s\n", z->dir);
    else
        nftw(z->dir, zks_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(z);
}

bool zk_server_restart(struct zk_server *z)
{
    zks_kill(z);
    for (int attempt = 0; attempt < 50; attempt++) { /* the port may linger briefly */
        int up = zks_spawn(z);
        if (up == 1)
            return true;
        if (up < 0)
            break;
        zks_sleep_ms(100);
    }
    fprintf(stderr, "zk_server: restart on port %d failed\n", z->port);
    zks_dump_log(z);
    return false;
}

void zk_server_pause(struct zk_server *z)
{
    if (z->pid > 0)
        kill(-z->pid, SIGSTOP);
}

void zk_server_resume(struct zk_server *z)
{
    if (z->pid > 0)
        kill(-z->pid, SIGCONT);
}
