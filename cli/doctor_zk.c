/*
 * cli/doctor_zk.c — the ZooKeeper-side checks of `gregor doctor`
 * (doctor.h), with the ZooKeeper C client (libzookeeper_mt).
 *
 * The ensemble is --zookeeper, else the zookeeper.connect a broker reports
 * in DescribeConfigs. A session is opened to every member alone: a member
 * that is down, or up but outside the quorum, grants none within
 * DRZ_CONNECT_MS. Since a member grants sessions only as part of a quorum,
 * one serving member shows the quorum holds; none serving is an error.
 *
 * Through a serving member the broker registrations (/brokers/ids/<id>,
 * proto/zk.proto BrokerRegistration: field 5 hostname, 6 pid, 7
 * start_time_ms, the broker's wall clock when it registered) are read and
 * compared with the znode's ctime (the ZooKeeper server's clock at the
 * same moment): a difference above --max-clock-skew-ms is clock skew. The
 * protobuf fields are decoded here (a varint walk) so the CLI needs no
 * protobuf library. A registration whose hostname is this host's and whose
 * pid runs here gives /proc/<pid>/limits (Max open files) and the count of
 * /proc/<pid>/fd to compare with the replicas the broker hosts.
 *
 * dr_zk_bootstrap() reads the same registrations' endpoints (field 2,
 * Endpoint: 2 host, 3 port) for doctor.c when -b does not answer.
 *
 * Findings (ids are stable): zookeeper.not_checked, zookeeper.member_down,
 * zookeeper.no_quorum, clock.skew, ulimit.exhausted, ulimit.low,
 * ulimit.unchecked.
 */
#include "cli/doctor.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

#define DRZ_MAX_MEMBERS 16
#define DRZ_CONNECT_MS 3000
#define DRZ_SESSION_MS 6000
#define DRZ_FDS_PER_REPLICA 3 /* an open segment: .log, .index, .timeindex */
#define DRZ_FD_ROOM 1000      /* connections, sockets to followers, spare */

static void drz_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx) {}

static int64_t drz_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A registration's fields doctor uses. */
struct drz_reg {
    char hostname[256];
    int32_t pid;
    int64_t start_time_ms;
    char endpoints[600]; /* "host:port,host:port" of its Endpoint messages (field 2) */
};

static bool drz_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return true;
    }
    return false;
}

/* Appends "host:port" of an Endpoint message (2 host, 3 port) to r->endpoints. */
static void drz_decode_endpoint(const uint8_t *p, const uint8_t *end, struct drz_reg *r)
{
    char host[256] = "";
    uint64_t port = 0;
    while (p < end) {
        uint64_t key, v;
        if (!drz_varint(&p, end, &key) || !drz_varint(&p, end, &v))
            return;
        if ((key & 7) == 2) {
            if (v > (uint64_t)(end - p))
                return;
            if (key >> 3 == 2 && v < sizeof(host)) {
                memcpy(host, p, v);
                host[v] = '\0';
            }
            p += v;
        } else if ((key & 7) == 0) {
            if (key >> 3 == 3)
                port = v;
        } else {
            return;
        }
    }
    size_t l = strlen(r->endpoints);
    if (host[0] && port > 0 && port < 65536 && l < sizeof(r->endpoints))
        snprintf(r->endpoints + l, sizeof(r->endpoints) - l, "%s%s:%d", l ? "," : "", host,
                 (int)port);
}

/* Decodes fields 2, 5, 6 and 7 of a BrokerRegistration; false if malformed. */
static bool drz_decode_reg(const uint8_t *p, size_t len, struct drz_reg *r)
{
    const uint8_t *end = p + len;
    memset(r, 0, sizeof(*r));
    while (p < end) {
        uint64_t key, v;
        if (!drz_varint(&p, end, &key))
            return false;
        switch (key & 7) {
        case 0:
            if (!drz_varint(&p, end, &v))
                return false;
            if (key >> 3 == 6)
                r->pid = (int32_t)v;
            else if (key >> 3 == 7)
                r->start_time_ms = (int64_t)v;
            break;
        case 2:
            if (!drz_varint(&p, end, &v) || v > (uint64_t)(end - p))
                return false;
            if (key >> 3 == 5 && v < sizeof(r->hostname)) {
                memcpy(r->hostname, p, v);
                r->hostname[v] = '\0';
            }
            if (key >> 3 == 2)
                drz_decode_endpoint(p, p + v, r);
            p += v;
            break;
        case 1:
            if (end - p < 8)
                return false;
            p += 8;
            break;
        case 5:
            if (end - p < 4)
                return false;
            p += 4;
            break;
        default:
            return false;
        }
    }
    return true;
}

/* Reads "Max open files" (soft) of pid; -1 if unknown, 0 for unlimited. */
static int64_t drz_nofile(int32_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/limits", pid);
    FILE *f = fopen(path, "r");
    int64_t lim = -1;
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "Max open files", 14) != 0)
            continue;
        char soft[32];
        if (sscanf(line + 14, "%31s", soft) == 1)
            lim = strcmp(soft, "unlimited") == 0 ? 0 : strtoll(soft, NULL, 10);
    }
    fclose(f);
    return lim;
}

static int64_t drz_open_fds(int32_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd", pid);
    DIR *dir = opendir(path);
    int64_t n = 0;
    if (dir == NULL)
        return -1;
    for (struct dirent *e; (e = readdir(dir)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(dir);
    return n;
}

/* `ulimit -n` of a broker running here; false when it cannot be checked. */
static bool drz_ulimit(struct doctor *d, int32_t id, const struct drz_reg *r)
{
    char host[256] = "", comm[64] = "", path[64];
    gethostname(host, sizeof(host) - 1);
    if (r->pid <= 0 || strcmp(host, r->hostname) != 0)
        return false;
    snprintf(path, sizeof(path), "/proc/%d/comm", r->pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    bool ours = fgets(comm, sizeof(comm), f) && strstr(comm, "gregor") != NULL;
    fclose(f);
    int64_t lim = ours ? drz_nofile(r->pid) : -1, open = ours ? drz_open_fds(r->pid) : -1;
    if (lim < 0 || open < 0)
        return false;
    if (lim == 0)
        return true;
    int replicas = 0;
    for (int i = 0; i < d->nbrokers; i++)
        if (d->brokers[i].id == id)
            replicas = d->brokers[i].replicas;
    char subject[64];
    snprintf(subject, sizeof(subject), "broker %d", id);
    int64_t need = (int64_t)replicas * DRZ_FDS_PER_REPLICA + DRZ_FD_ROOM;
    if (open * 10 >= lim * 9)
        dr_add(d, DR_ERROR, "ulimit.exhausted", subject,
               "Raise the broker's open-files limit (LimitNOFILE= in its systemd unit, or "
               "`ulimit -n` before starting it) and restart it.",
               "Broker %d (pid %d) has %" PRId64 " of its %" PRId64
               " file descriptors open: new connections and segments will fail.",
               id, r->pid, open, lim);
    else if (lim < need)
        dr_add(d, DR_WARNING, "ulimit.low", subject,
               "Raise the broker's open-files limit (LimitNOFILE= in its systemd unit, or "
               "`ulimit -n` before starting it) to at least the number named.",
               "Broker %d (pid %d) may open %" PRId64 " files (ulimit -n) but hosts %d "
               "replicas, which with room for connections need about %" PRId64 ".",
               id, r->pid, lim, replicas, need);
    return true;
}

/* Broker registrations: clock skew and ulimit. */
static void drz_registrations(struct doctor *d, zhandle_t *zh)
{
    struct String_vector ids = {0, NULL};
    if (zoo_get_children(zh, "/brokers/ids", 0, &ids) != ZOK)
        return;
    char remote[600] = "";
    size_t off = 0;
    for (int i = 0; i < ids.count; i++) {
        char path[300];
        static uint8_t buf[8192];
        int len = (int)sizeof(buf);
        struct Stat st;
        struct drz_reg r;
        snprintf(path, sizeof(path), "/brokers/ids/%s", ids.data[i]);
        if (zoo_get(zh, path, 0, (char *)buf, &len, &st) != ZOK || len < 0 ||
            !drz_decode_reg(buf, (size_t)len, &r))
            continue;
        int32_t id = (int32_t)strtol(ids.data[i], NULL, 10);
        int64_t skew = r.start_time_ms - st.ctime;
        if (r.start_time_ms > 0 && (skew > d->max_skew_ms || -skew > d->max_skew_ms)) {
            char subject[64];
            snprintf(subject, sizeof(subject), "broker %d", id);
            dr_add(d, DR_WARNING, "clock.skew", subject,
                   "Synchronise the clocks (chrony or systemd-timesyncd on every broker and "
                   "ZooKeeper host); time-based retention and timestamps depend on them.",
                   "Broker %d's clock was %" PRId64 " ms %s ZooKeeper's when it registered "
                   "(registration time vs znode ctime).",
                   id, skew > 0 ? skew : -skew, skew > 0 ? "ahead of" : "behind");
        }
        if (!drz_ulimit(d, id, &r) && off < sizeof(remote))
            off +=
                (size_t)snprintf(remote + off, sizeof(remote) - off, "%s%d", off ? ", " : "", id);
    }
    if (remote[0])
        dr_add(d, DR_INFO, "ulimit.unchecked", "brokers",
               "Run `gregor doctor` on each broker's host (as a user that may read "
               "/proc/<pid>/limits) to check it.",
               "The open-files limit of broker(s) %s was not checked: they do not run on this "
               "host, or their /proc entries are not readable.",
               remote);
    deallocate_String_vector(&ids);
}

bool dr_zk_bootstrap(struct doctor *d, char *out, size_t n)
{
    out[0] = '\0';
    if (d->zookeeper == NULL)
        return false;
    zoo_set_debug_level(d->cli->verbose > 0 ? ZOO_LOG_LEVEL_WARN : (ZooLogLevel)0);
    zhandle_t *zh = zookeeper_init(d->zookeeper, drz_watcher, DRZ_SESSION_MS, NULL, NULL, 0);
    int64_t deadline = drz_now_ms() + DRZ_CONNECT_MS;
    while (zh && zoo_state(zh) != ZOO_CONNECTED_STATE && drz_now_ms() < deadline)
        usleep(20000);
    struct String_vector ids = {0, NULL};
    if (zh && zoo_state(zh) == ZOO_CONNECTED_STATE &&
        zoo_get_children(zh, "/brokers/ids", 0, &ids) == ZOK) {
        for (int i = 0; i < ids.count; i++) {
            char path[300];
            static uint8_t buf[8192];
            int len = (int)sizeof(buf);
            struct drz_reg r;
            snprintf(path, sizeof(path), "/brokers/ids/%s", ids.data[i]);
            if (zoo_get(zh, path, 0, (char *)buf, &len, NULL) != ZOK || len < 0 ||
                !drz_decode_reg(buf, (size_t)len, &r) || !r.endpoints[0])
                continue;
            size_t l = strlen(out);
            if (l < n)
                snprintf(out + l, n - l, "%s%s", l ? "," : "", r.endpoints);
        }
        deallocate_String_vector(&ids);
    }
    if (zh)
        zookeeper_close(zh);
    return out[0] != '\0';
}

/* The ensemble to check: --zookeeper, else a broker's zookeeper.connect. */
static const char *drz_connect(const struct doctor *d)
{
    if (d->zookeeper)
        return d->zookeeper;
    for (int i = 0; i < d->nbrokers; i++)
        if (d->brokers[i].zk_connect[0])
            return d->brokers[i].zk_connect;
    return NULL;
}

void dr_check_zk(struct doctor *d)
{
    const char *conn = drz_connect(d);
    if (conn == NULL || !conn[0]) {
        dr_add(d, DR_INFO, "zookeeper.not_checked", "zookeeper",
               "Pass the ensemble with --zookeeper HOST:PORT[,HOST:PORT...][/chroot].",
               "ZooKeeper was not checked: no --zookeeper given and no broker reported its "
               "zookeeper.connect.");
        return;
    }
    char hosts[1024], chroot[256] = "";
    snprintf(hosts, sizeof(hosts), "%s", conn);
    char *slash = strchr(hosts, '/');
    if (slash) {
        snprintf(chroot, sizeof(chroot), "%s", slash);
        *slash = '\0';
    }
    zoo_set_debug_level(d->cli->verbose > 0 ? ZOO_LOG_LEVEL_WARN : (ZooLogLevel)0);
    char member[DRZ_MAX_MEMBERS][300];
    zhandle_t *zh[DRZ_MAX_MEMBERS] = {0};
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(hosts, ",", &save); tok && n < DRZ_MAX_MEMBERS;
         tok = strtok_r(NULL, ",", &save)) {
        char full[600];
        snprintf(member[n], sizeof(member[n]), "%s", tok);
        snprintf(full, sizeof(full), "%s%s", tok, chroot);
        zh[n++] = zookeeper_init(full, drz_watcher, DRZ_SESSION_MS, NULL, NULL, 0);
    }
    d->zk_members = n;
    int64_t deadline = drz_now_ms() + DRZ_CONNECT_MS;
    for (;;) {
        int up = 0;
        for (int i = 0; i < n; i++)
            up += zh[i] && zoo_state(zh[i]) == ZOO_CONNECTED_STATE;
        if (up == n || drz_now_ms() >= deadline)
            break;
        usleep(20000);
    }
    zhandle_t *use = NULL;
    for (int i = 0; i < n; i++) {
        if (zh[i] && zoo_state(zh[i]) == ZOO_CONNECTED_STATE) {
            d->zk_up++;
            if (use == NULL)
                use = zh[i];
            continue;
        }
        dr_add(d, DR_WARNING, "zookeeper.member_down", member[i],
               "Start the member or repair its network; check its log for why it is outside "
               "the quorum.",
               "ZooKeeper member %s grants no session within %d ms: it is down, unreachable "
               "from here, or outside the quorum.",
               member[i], DRZ_CONNECT_MS);
    }
    /* A member grants sessions only while it is part of a quorum. */
    if (d->zk_up == 0 && n > 0)
        dr_add(d, DR_ERROR, "zookeeper.no_quorum", "zookeeper",
               "Start the members, or enough of them for a majority, and check that they are "
               "reachable from here; until then no broker can change leaders, ISRs or topics.",
               "None of the %d ZooKeeper members listed grants a session: the ensemble is down, "
               "unreachable from here, or has lost its quorum.",
               n);
    if (use)
        drz_registrations(d, use);
    for (int i = 0; i < n; i++)
        if (zh[i])
            zookeeper_close(zh[i]);
}
