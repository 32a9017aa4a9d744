/*
 * broker/net/limits.h — process-wide accounting the network layer enforces:
 * open connections (max.connections, max.connections.per.ip and its
 * overrides), the file-descriptor headroom kept free for files, and the
 * memory pool of requests being read (queued.max.request.bytes).
 *
 * Configured once by net_limits_configure() on the main thread before any
 * connection is accepted (max.connections and max.connections.per.ip may
 * then change through the live values it is given, and the per-address
 * overrides through net_limits_set_overrides()); everything else is
 * thread-safe (connections are
 * admitted on the main loop and released on the network workers).
 */
#ifndef GREGOR_BROKER_NET_LIMITS_H
#define GREGOR_BROKER_NET_LIMITS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct config_ip_override;

struct net_limits_config {
    int32_t max_connections;                    /* broker-wide, INT32_MAX = none */
    int32_t max_per_ip;                         /* per client address */
    const struct config_ip_override *overrides; /* borrowed for the call */
    int n_overrides;
    int64_t pool_bytes; /* queued.max.request.bytes; -1 = none */
    /* the live max.connections / max.connections.per.ip (dynamic configs,
     * broker/config/dynamic.h), read at each admission; NULL = the values
     * above, fixed. Borrowed: must outlive the listeners. */
    const _Atomic int32_t *live_max_connections;
    const _Atomic int32_t *live_max_per_ip;
};

/* The slot an admitted connection holds; released exactly once. */
struct net_slot {
    char ip[48]; /* client address as text ("127.0.0.1", "::1") */
    bool total;  /* counted against max.connections */
    bool held;   /* false once released (or never admitted) */
};

enum net_admit {
    NET_ADMIT_OK,
    NET_REFUSE_TOTAL, /* max.connections reached */
    NET_REFUSE_IP,    /* the address's limit reached */
    NET_REFUSE_FDS,   /* the descriptor would eat into the reserve */
};

/* Sets the limits (resolving host names of the overrides; an unresolvable
 * one is logged and skipped). Main thread, before the first accept. */
void net_limits_configure(const struct net_limits_config *c);
/* Replaces the per-address overrides (max.connections.per.ip.overrides, a
 * dynamic config), resolving host names first (an unresolvable one is
 * logged and skipped); later admissions use them, open connections stay.
 * Any thread; blocks on DNS. */
void net_limits_set_overrides(const struct config_ip_override *ov, int n);
/* Admits the connection on descriptor fd from address sa, filling slot.
 * count_total: false for the inter-broker listener. Any thread. */
enum net_admit net_limits_admit(int fd, const struct sockaddr *sa, bool count_total,
                                struct net_slot *slot);
/* Gives the slot back (no-op if not held). Any thread. */
void net_limits_release(struct net_slot *slot);
/* The max.connections in force now (the live value when configured with
 * one). Any thread. */
int32_t net_limits_max_connections(void);
/* Connections currently admitted (all listeners); for tests and metrics. */
int64_t net_limits_open(void);
/* Descriptors kept free for log segments, checkpoints and ZooKeeper. */
int net_limits_fd_reserve(void);

/* Request memory: reserves n bytes for a frame being read. Succeeds when
 * the pool has room, or when it is empty (so a frame larger than the pool
 * can still be read, alone). Any thread. */
bool net_pool_reserve(int64_t n);
void net_pool_release(int64_t n);
int64_t net_pool_used(void);

#endif
