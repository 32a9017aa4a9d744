/*
 * broker/net/limits.c — connection counts, descriptor headroom and the
 * request memory pool (see limits.h).
 *
 * Connection counts: one total (admitted connections of the counted
 * listeners) and a per-address table (chained hash of "ip" -> open count),
 * both under one mutex, since an admit must check and take both at once.
 * An address's limit is its entry in max.connections.per.ip.overrides (host
 * names resolved when the overrides are set, at configure time and on a
 * dynamic change, every address they resolve to), else
 * max.connections.per.ip.
 *
 * Descriptor headroom: accept(2) returns the lowest free descriptor, so a
 * connection landing at or above (RLIMIT_NOFILE - reserve) means fewer than
 * `reserve` descriptors are left below the limit. Refusing it keeps those
 * for segment files, checkpoints (which open a temporary file) and
 * ZooKeeper, instead of letting clients take the last descriptor.
 * reserve = RLIMIT_NOFILE / 10, clamped to 32..1024.
 *
 * Memory pool: one atomic counter of reserved bytes; see net_pool_reserve().
 */
#include "broker/net/limits.h"
#include "broker/config/config.h"
#include "common/say.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define IP_BUCKETS 1024
#define MAX_RESOLVED 256

struct ip_count {
    struct ip_count *next;
    int32_t open;
    char ip[48];
};

struct resolved_override {
    char ip[48];
    int32_t count;
};

static pthread_mutex_t lim_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ip_count *ip_table[IP_BUCKETS]; /* lim_lock */
static int64_t open_total;                    /* lim_lock: counted connections */
static _Atomic int64_t open_all;              /* every admitted connection */
static int32_t max_total = INT32_MAX;         /* immutable after configure */
static int32_t max_per_ip = INT32_MAX;
static const _Atomic int32_t *live_total; /* live values (dynamic configs), or NULL */
static const _Atomic int32_t *live_per_ip;
static struct resolved_override overrides[MAX_RESOLVED];
static int n_overrides;
static int fd_limit = -1; /* -1: no check */
static int fd_reserve = 32;
static int64_t pool_max = -1;
static _Atomic int64_t pool_used;

/* Writes the text form of sa's address; IPv4-mapped IPv6 as plain IPv4. */
static void addr_text(const struct sockaddr *sa, char *out, size_t n)
{
    snprintf(out, n, "?");
    if (sa == NULL)
        return;
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)n);
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a))
            inet_ntop(AF_INET, &a->s6_addr[12], out, (socklen_t)n);
        else
            inet_ntop(AF_INET6, a, out, (socklen_t)n);
    }
}

/* Resolves host into out[*n] (its addresses not yet there). */
static void add_resolved(const char *host, int32_t count, struct resolved_override *out, int *n)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, NULL, &hints, &res);
    if (gai != 0) {
        say_warn("net", "max.connections.per.ip.overrides: cannot resolve '%s' (%s); entry ignored",
                 host, gai_strerror(gai));
        return;
    }
    for (struct addrinfo *ai = res; ai && *n < MAX_RESOLVED; ai = ai->ai_next) {
        char ip[48];
        addr_text(ai->ai_addr, ip, sizeof(ip));
        bool dup = false;
        for (int i = 0; i < *n && !dup; i++)
            dup = strcmp(out[i].ip, ip) == 0;
        if (dup)
            continue;
        snprintf(out[*n].ip, sizeof(out[*n].ip), "%s", ip);
        out[(*n)++].count = count;
    }
    freeaddrinfo(res);
}

void net_limits_set_overrides(const struct config_ip_override *ov, int n)
{
    /* resolved outside the lock: admissions go on meanwhile */
    static struct resolved_override fresh[MAX_RESOLVED];
    static pthread_mutex_t set_lock = PTHREAD_MUTEX_INITIALIZER; /* one setter at a time */
    pthread_mutex_lock(&set_lock);
    int nf = 0;
    for (int i = 0; i < n; i++)
        add_resolved(ov[i].host, ov[i].count, fresh, &nf);
    pthread_mutex_lock(&lim_lock);
    memcpy(overrides, fresh, sizeof(fresh[0]) * (size_t)nf);
    n_overrides = nf;
    pthread_mutex_unlock(&lim_lock);
    pthread_mutex_unlock(&set_lock);
}

void net_limits_configure(const struct net_limits_config *c)
{
    pthread_mutex_lock(&lim_lock);
    max_total = c->max_connections;
    max_per_ip = c->max_per_ip;
    live_total = c->live_max_connections;
    live_per_ip = c->live_max_per_ip;
    pool_max = c->pool_bytes;
    pthread_mutex_unlock(&lim_lock);
    net_limits_set_overrides(c->overrides, c->n_overrides);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < (rlim_t)INT32_MAX) {
        fd_limit = (int)rl.rlim_cur;
        fd_reserve = fd_limit / 10;
        fd_reserve = fd_reserve < 32 ? 32 : fd_reserve > 1024 ? 1024 : fd_reserve;
    }
    say_info("net",
             "connection limits max.connections=%d max.connections.per.ip=%d "
             "overrides=%d fd.limit=%d fd.reserve=%d queued.max.request.bytes=%lld",
             max_total, max_per_ip, n_overrides, fd_limit, fd_reserve, (long long)pool_max);
}

int32_t net_limits_max_connections(void)
{
    return live_total ? atomic_load(live_total) : max_total;
}

static uint32_t ip_hash(const char *ip)
{
    uint32_t h = 2166136261u;
    for (; *ip; ip++)
        h = (h ^ (uint8_t)*ip) * 16777619u;
    return h % IP_BUCKETS;
}

static int32_t ip_limit(const char *ip)
{
    for (int i = 0; i < n_overrides; i++)
        if (strcmp(overrides[i].ip, ip) == 0)
            return overrides[i].count;
    return live_per_ip ? atomic_load(live_per_ip) : max_per_ip;
}

enum net_admit net_limits_admit(int fd, const struct sockaddr *sa, bool count_total,
                                struct net_slot *slot)
{
    memset(slot, 0, sizeof(*slot));
    addr_text(sa, slot->ip, sizeof(slot->ip));
    if (fd_limit > 0 && fd >= fd_limit - fd_reserve)
        return NET_REFUSE_FDS;
    pthread_mutex_lock(&lim_lock);
    if (count_total && open_total >= (live_total ? atomic_load(live_total) : max_total)) {
        pthread_mutex_unlock(&lim_lock);
        return NET_REFUSE_TOTAL;
    }
    uint32_t h = ip_hash(slot->ip);
    struct ip_count *e = ip_table[h];
    while (e && strcmp(e->ip, slot->ip) != 0)
        e = e->next;
    int32_t limit = ip_limit(slot->ip);
    if ((e ? e->open : 0) >= limit) {
        pthread_mutex_unlock(&lim_lock);
        return NET_REFUSE_IP;
    }
    if (!e) {
        e = calloc(1, sizeof(*e));
        if (!e) {
            pthread_mutex_unlock(&lim_lock);
            return NET_REFUSE_TOTAL;
        }
        snprintf(e->ip, sizeof(e->ip), "%s", slot->ip);
        e->next = ip_table[h];
        ip_table[h] = e;
    }
    e->open++;
    if (count_total)
        open_total++;
    pthread_mutex_unlock(&lim_lock);
    atomic_fetch_add(&open_all, 1);
    slot->total = count_total;
    slot->held = true;
    return NET_ADMIT_OK;
}

void net_limits_release(struct net_slot *slot)
{
    if (!slot->held)
        return;
    slot->held = false;
    pthread_mutex_lock(&lim_lock);
    struct ip_count **pp = &ip_table[ip_hash(slot->ip)];
    while (*pp && strcmp((*pp)->ip, slot->ip) != 0)
        pp = &(*pp)->next;
    if (*pp && --(*pp)->open == 0) {
        struct ip_count *dead = *pp;
        *pp = dead->next;
        free(dead);
    }
    if (slot->total)
        open_total--;
    pthread_mutex_unlock(&lim_lock);
    atomic_fetch_sub(&open_all, 1);
}

int64_t net_limits_open(void) { return atomic_load(&open_all); }

int net_limits_fd_reserve(void) { return fd_reserve; }

bool net_pool_reserve(int64_t n)
{
    if (pool_max < 0) {
        atomic_fetch_add(&pool_used, n);
        return true;
    }
    int64_t used = atomic_load(&pool_used);
    for (;;) {
        if (used != 0 && used + n > pool_max)
            return false;
        if (atomic_compare_exchange_weak(&pool_used, &used, used + n))
            return true;
    }
}

void net_pool_release(int64_t n) { atomic_fetch_sub(&pool_used, n); }

int64_t net_pool_used(void) { return atomic_load(&pool_used); }
