/*
 * broker/core/quotas.h — client quotas (Kafka's KIP-13, KIP-55, KIP-124):
 * the byte rates of Produce and Fetch and the share of a request-handling
 * thread's time a client may use, per user, per client id, or per both,
 * with <default> entities.
 *
 * Configuration: quotas_set_entity() replaces the values of one entity
 * (user and/or client id, either of which may be QUOTA_DEFAULT), as
 * config_watch.c reads them from ZooKeeper. Resolution (KIP-55): for each
 * quota type separately, the most specific entity with a value for that
 * type wins, in this order:
 *   user/client, user/<default>, user, <default>/client,
 *   <default>/<default>, <default>, client, <default client>.
 * A client matched through a <default> entity gets a quota of its own (its
 * own rate measured); clients matched through one named entity share it.
 *
 * Measuring (Kafka's Rate): a sensor holds quota.window.num samples of
 * quota.window.size.seconds; rate = sum of the live samples / time since
 * the oldest began, that time counting at least window.num - 1 whole
 * samples. Recording adds the value, then if the rate is above the quota
 * the throttle time is (rate - quota) / quota * that time, capped at
 * window.num * window size.
 *
 * Threads: any thread may call quotas_record() (network loops, io
 * workers). The entity table and the per-client cache are guarded by an
 * rwlock (readers on the request path; writers on configuration changes
 * and on the first request of a new user/client pair); each sensor has its
 * own mutex. When no quota is configured for a type, quotas_record() is one
 * atomic load and a branch. A (user, client id) pair that records nothing
 * for quota.window.num windows is forgotten, with the sensors no other pair
 * uses (their samples have all expired by then, so nothing changes for a
 * client that comes back): the tables hold the clients of the last
 * windows, however many client ids peers make up. A recorder holds the
 * read lock while it records, so a sweep never frees a sensor in use.
 */
#ifndef GREGOR_BROKER_CORE_QUOTAS_H
#define GREGOR_BROKER_CORE_QUOTAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QUOTA_DEFAULT "<default>"

enum quota_type {
    QUOTA_PRODUCE = 0, /* producer_byte_rate: bytes/s of Produce record sets */
    QUOTA_FETCH,       /* consumer_byte_rate: bytes/s of Fetch responses */
    QUOTA_REQUEST,     /* request_percentage: % of one handler thread's time */
    QUOTA_N
};

/* Kafka's config key of each type ("producer_byte_rate", ...). */
const char *quota_type_key(enum quota_type t);
/* The type of a config key; -1 if it is not a quota key. */
int quota_type_of(const char *key);

struct quotas;

struct quota_stats {
    uint64_t throttle_ms[QUOTA_N]; /* throttle time handed out, summed */
    uint64_t throttled[QUOTA_N];   /* responses throttled */
    size_t clients;                /* (user, client id) pairs known */
    size_t sensors;                /* rates measured */
};

/* window_num samples of window_ms each (both >= 1). NULL on OOM. */
struct quotas *quotas_new(int window_num, int64_t window_ms);
void quotas_free(struct quotas *q);

/* Replaces the values of the entity (user, client): either may be NULL
 * (not part of the entity) or QUOTA_DEFAULT, not both NULL. v[t] < 0: no
 * value for type t. All values < 0 remove the entity. false on OOM or a
 * bad entity. */
bool quotas_set_entity(struct quotas *q, const char *user, const char *client,
                       const double v[QUOTA_N]);
/* Removes every entity (before a full reload). */
void quotas_clear(struct quotas *q);

/* Records value (bytes; for QUOTA_REQUEST, microseconds of handler time)
 * for the client (user name, client id; not NUL-terminated) at now_ms
 * (monotonic) and returns the throttle time in ms (0: within quota). */
int32_t quotas_record(struct quotas *q, enum quota_type t, const char *user, size_t user_len,
                      const char *client, size_t client_len, double value, int64_t now_ms);

/* Takes back a value recorded by quotas_record() whose response was not
 * sent after all (a throttled Fetch answers without its records). */
void quotas_unrecord(struct quotas *q, enum quota_type t, const char *user, size_t user_len,
                     const char *client, size_t client_len, double value, int64_t now_ms);
/* Whether any entity has a value of type t (one atomic load). */
bool quotas_active(struct quotas *q, enum quota_type t);

/* The quota that applies to the client for type t, as KIP-55 resolves it;
 * -1 if none. */
double quotas_resolve(struct quotas *q, enum quota_type t, const char *user, const char *client);

void quotas_stats(struct quotas *q, struct quota_stats *out);

/* The user name of a principal "User:NAME" (the whole string otherwise). */
const char *quota_principal_user(const char *principal, size_t *len);

#endif
