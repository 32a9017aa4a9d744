/*
 * broker/core/quotas.c — client quotas: the entity table, KIP-55
 * resolution, the per-client cache and the rate sensors (quotas.h says
 * what they mean and which lock guards what).
 *
 * Owns no persistent format: values come from ZooKeeper through
 * config_watch.c (controller/zk/zk_quotas.c reads the znodes).
 *
 * Data: entities in a list (few; scanned only when a client's quotas are
 * resolved); clients (user, client id) in a fixed-size hash table whose
 * entries point at their sensor per type and remember the configuration
 * generation they were resolved at; sensors in a hash table keyed by type
 * and the tags of the winning entity (the user and/or client id it names,
 * the client's own name for a <default> part), so clients resolved to one
 * named entity share one sensor.
 */
#include "broker/core/quotas.h"
#include "common/base.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define QUOTA_MAX_SAMPLES 64
#define QUOTA_BUCKETS 1024

struct qentity {
    char *user;   /* NULL: not part of the entity; may be QUOTA_DEFAULT */
    char *client; /* same */
    double v[QUOTA_N];
    struct qentity *next;
};

struct qsensor {
    pthread_mutex_t lock; /* guards bound and the samples */
    double bound;
    int cur;
    struct {
        int64_t start_ms; /* INT64_MIN: unused */
        double v;
    } s[QUOTA_MAX_SAMPLES];
    enum quota_type type;
    char *key; /* "<user>\n<client>" tags; immutable */
    uint32_t hash;
    bool mark;            /* sweep_idle(): a client still uses it (q->lock write) */
    struct qsensor *next; /* hash chain: q->lock (write) */
};

struct qclient {
    char *key; /* user "\0" client, key_len bytes */
    size_t key_len;
    uint32_t hash;
    uint64_t gen;                    /* q->gen when resolved */
    struct qsensor *sensor[QUOTA_N]; /* NULL: no quota of that type */
    _Atomic int64_t last_ms;         /* when it last recorded (any lock mode) */
    struct qclient *next;
};

struct quotas {
    pthread_rwlock_t lock; /* entities, clients' fields, sensor table, gen */
    int window_num;
    int64_t window_ms;
    uint64_t gen;
    struct qentity *entities;
    struct qclient *clients[QUOTA_BUCKETS];
    struct qsensor *sensors[QUOTA_BUCKETS];
    size_t n_clients, n_sensors;    /* entries in the two tables */
    int64_t next_sweep_ms;          /* sweep_idle() is due (monotonic ms) */
    atomic_int configured[QUOTA_N]; /* entities with a value of the type */
    atomic_uint_fast64_t throttle_ms[QUOTA_N], throttled[QUOTA_N];
};

static const char *const type_keys[QUOTA_N] = {"producer_byte_rate", "consumer_byte_rate",
                                               "request_percentage"};

const char *quota_type_key(enum quota_type t) { return type_keys[t]; }

int quota_type_of(const char *key)
{
    for (int t = 0; t < QUOTA_N; t++)
        if (strcmp(key, type_keys[t]) == 0)
            return t;
    return -1;
}

const char *quota_principal_user(const char *principal, size_t *len)
{
    if (!principal)
        principal = "";
    if (strncmp(principal, "User:", 5) == 0)
        principal += 5;
    *len = strlen(principal);
    return principal;
}

static uint32_t fnv(const char *p, size_t n, uint32_t h)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 16777619u;
    return h;
}

struct quotas *quotas_new(int window_num, int64_t window_ms)
{
    if (window_num < 1 || window_ms < 1)
        return NULL;
    struct quotas *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    pthread_rwlock_init(&q->lock, NULL);
    q->window_num = MIN(window_num, QUOTA_MAX_SAMPLES);
    q->window_ms = window_ms;
    return q;
}

static void entity_free(struct qentity *e)
{
    free(e->user);
    free(e->client);
    free(e);
}

void quotas_free(struct quotas *q)
{
    if (!q)
        return;
    for (struct qentity *e = q->entities, *n; e; e = n) {
        n = e->next;
        entity_free(e);
    }
    for (int i = 0; i < QUOTA_BUCKETS; i++) {
        for (struct qclient *c = q->clients[i], *n; c; c = n) {
            n = c->next;
            free(c->key);
            free(c);
        }
        for (struct qsensor *s = q->sensors[i], *n; s; s = n) {
            n = s->next;
            pthread_mutex_destroy(&s->lock);
            free(s->key);
            free(s);
        }
    }
    pthread_rwlock_destroy(&q->lock);
    free(q);
}

static bool str_eq_opt(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* Recounts which types have any value. Write lock held. */
static void recount(struct quotas *q)
{
    int n[QUOTA_N] = {0};
    for (struct qentity *e = q->entities; e; e = e->next)
        for (int t = 0; t < QUOTA_N; t++)
            n[t] += e->v[t] >= 0;
    for (int t = 0; t < QUOTA_N; t++)
        atomic_store(&q->configured[t], n[t]);
    q->gen++;
}

bool quotas_set_entity(struct quotas *q, const char *user, const char *client,
                       const double v[QUOTA_N])
{
    if (!user && !client)
        return false;
    bool any = false;
    for (int t = 0; t < QUOTA_N; t++)
        any |= v[t] >= 0;
    pthread_rwlock_wrlock(&q->lock);
    struct qentity **pp = &q->entities;
    while (*pp && !(str_eq_opt((*pp)->user, user) && str_eq_opt((*pp)->client, client)))
        pp = &(*pp)->next;
    bool ok = true;
    if (*pp && !any) {
        struct qentity *e = *pp;
        *pp = e->next;
        entity_free(e);
    } else if (*pp) {
        memcpy((*pp)->v, v, sizeof((*pp)->v));
    } else if (any) {
        struct qentity *e = calloc(1, sizeof(*e));
        if (e) {
            e->user = user ? strdup(user) : NULL;
            e->client = client ? strdup(client) : NULL;
        }
        if (!e || (user && !e->user) || (client && !e->client)) {
            if (e)
                entity_free(e);
            ok = false;
        } else {
            memcpy(e->v, v, sizeof(e->v));
            e->next = q->entities;
            q->entities = e;
        }
    }
    recount(q);
    pthread_rwlock_unlock(&q->lock);
    return ok;
}

void quotas_clear(struct quotas *q)
{
    pthread_rwlock_wrlock(&q->lock);
    for (struct qentity *e = q->entities, *n; e; e = n) {
        n = e->next;
        entity_free(e);
    }
    q->entities = NULL;
    recount(q);
    pthread_rwlock_unlock(&q->lock);
}

/* The entity exactly (user, client), or NULL. Lock held. */
static const struct qentity *entity_find(const struct quotas *q, const char *user,
                                         const char *client)
{
    for (const struct qentity *e = q->entities; e; e = e->next)
        if (str_eq_opt(e->user, user) && str_eq_opt(e->client, client))
            return e;
    return NULL;
}

/* KIP-55: the most specific entity with a value of type t for (user,
 * client); *has_user / *has_client say whether it names a user / client
 * part (its sensor's tags). Lock held. */
static double resolve(const struct quotas *q, enum quota_type t, const char *user,
                      const char *client, bool *has_user, bool *has_client)
{
    const char *D = QUOTA_DEFAULT;
    const struct {
        const char *u, *c;
    } order[] = {{user, client}, {user, D}, {user, NULL},   {D, client},
                 {D, D},         {D, NULL}, {NULL, client}, {NULL, D}};
    for (size_t i = 0; i < ARRAY_LEN(order); i++) {
        const struct qentity *e = entity_find(q, order[i].u, order[i].c);
        if (e && e->v[t] >= 0) {
            *has_user = order[i].u != NULL;
            *has_client = order[i].c != NULL;
            return e->v[t];
        }
    }
    return -1;
}

double quotas_resolve(struct quotas *q, enum quota_type t, const char *user, const char *client)
{
    bool hu, hc;
    pthread_rwlock_rdlock(&q->lock);
    double v = resolve(q, t, user, client, &hu, &hc);
    pthread_rwlock_unlock(&q->lock);
    return v;
}

/* The sensor of type t tagged (user, client), made if new. Write lock. */
static struct qsensor *sensor_get(struct quotas *q, enum quota_type t, const char *user,
                                  const char *client)
{
    size_t ul = strlen(user), cl = strlen(client);
    uint32_t h = fnv(client, cl, fnv("\n", 1, fnv(user, ul, 2166136261u ^ (uint32_t)t)));
    for (struct qsensor *s = q->sensors[h % QUOTA_BUCKETS]; s; s = s->next)
        if (s->hash == h && s->type == t && strncmp(s->key, user, ul) == 0 && s->key[ul] == '\n' &&
            strcmp(s->key + ul + 1, client) == 0)
            return s;
    struct qsensor *s = calloc(1, sizeof(*s));
    char *key = malloc(ul + cl + 2);
    if (!s || !key) {
        free(s);
        free(key);
        return NULL;
    }
    memcpy(key, user, ul);
    key[ul] = '\n';
    memcpy(key + ul + 1, client, cl + 1);
    pthread_mutex_init(&s->lock, NULL);
    for (int i = 0; i < QUOTA_MAX_SAMPLES; i++)
        s->s[i].start_ms = INT64_MIN;
    s->type = t;
    s->key = key;
    s->hash = h;
    s->next = q->sensors[h % QUOTA_BUCKETS];
    q->sensors[h % QUOTA_BUCKETS] = s;
    q->n_sensors++;
    return s;
}

/* (Re)resolves the client's sensors at the current generation. Write lock
 * held. Out of memory leaves a type unthrottled. */
static void client_resolve(struct quotas *q, struct qclient *c)
{
    const char *user = c->key, *client = c->key + strlen(c->key) + 1;
    for (int t = 0; t < QUOTA_N; t++) {
        bool hu = false, hc = false;
        double v = resolve(q, (enum quota_type)t, user, client, &hu, &hc);
        c->sensor[t] = NULL;
        if (v < 0)
            continue;
        struct qsensor *s = sensor_get(q, (enum quota_type)t, hu ? user : "", hc ? client : "");
        if (s) {
            pthread_mutex_lock(&s->lock);
            s->bound = v;
            pthread_mutex_unlock(&s->lock);
        }
        c->sensor[t] = s;
    }
    c->gen = q->gen;
}

static struct qclient *client_find(struct quotas *q, const char *key, size_t len, uint32_t h)
{
    for (struct qclient *c = q->clients[h % QUOTA_BUCKETS]; c; c = c->next)
        if (c->hash == h && c->key_len == len && memcmp(c->key, key, len) == 0)
            return c;
    return NULL;
}

/* Drops the clients that recorded nothing for a whole window (their samples
 * have all expired, so a client coming back starts from the same empty
 * state), then the sensors no client uses any more (those of idle clients
 * of <default> entities, of removed entities). Keeps the tables as large as
 * the clients of the last window, whatever number of client ids a peer
 * makes up. Write lock held. */
static void sweep_idle(struct quotas *q, int64_t now)
{
    int64_t span = (int64_t)q->window_num * q->window_ms;
    for (int i = 0; i < QUOTA_BUCKETS; i++) {
        for (struct qclient **pc = &q->clients[i], *c; (c = *pc) != NULL;) {
            if (now - atomic_load_explicit(&c->last_ms, memory_order_relaxed) > span) {
                *pc = c->next;
                free(c->key);
                free(c);
                q->n_clients--;
                continue;
            }
            for (int t = 0; t < QUOTA_N; t++)
                if (c->sensor[t])
                    c->sensor[t]->mark = true;
            pc = &c->next;
        }
    }
    for (int i = 0; i < QUOTA_BUCKETS; i++) {
        for (struct qsensor **ps = &q->sensors[i], *s; (s = *ps) != NULL;) {
            if (!s->mark) {
                *ps = s->next;
                pthread_mutex_destroy(&s->lock);
                free(s->key);
                free(s);
                q->n_sensors--;
                continue;
            }
            s->mark = false;
            ps = &s->next;
        }
    }
    q->next_sweep_ms = now + span;
}

/* The client's sensor of type t, resolving it when new or stale, marked as
 * used at now. Returns it with q->lock held (read or write: the caller
 * unlocks), so that no sweep frees it while it records; NULL (no quota, or
 * out of memory) with the lock released. */
static struct qsensor *client_sensor_hold(struct quotas *q, enum quota_type t, const char *user,
                                          size_t ul, const char *client, size_t cl, int64_t now)
{
    size_t len = ul + 1 + cl + 1;
    char stackkey[512];
    char *key = len <= sizeof(stackkey) ? stackkey : malloc(len);
    if (!key)
        return NULL;
    memcpy(key, user, ul);
    key[ul] = '\0';
    memcpy(key + ul + 1, client, cl);
    key[len - 1] = '\0';
    /* a NUL inside the user or client id would cut the key short: such a
     * name is resolved under its prefix, which only one party can name */
    uint32_t h = fnv(key, len, 2166136261u);
    struct qsensor *s = NULL;
    pthread_rwlock_rdlock(&q->lock);
    struct qclient *c = client_find(q, key, len, h);
    if (c && c->gen == q->gen) {
        atomic_store_explicit(&c->last_ms, now, memory_order_relaxed);
        s = c->sensor[t];
    } else {
        pthread_rwlock_unlock(&q->lock);
        pthread_rwlock_wrlock(&q->lock);
        c = client_find(q, key, len, h);
        if (!c && (c = calloc(1, sizeof(*c))) != NULL) {
            c->key = malloc(len);
            if (!c->key) {
                free(c);
                c = NULL;
            } else {
                memcpy(c->key, key, len);
                c->key_len = len;
                c->hash = h;
                c->gen = q->gen - 1;
                c->next = q->clients[h % QUOTA_BUCKETS];
                q->clients[h % QUOTA_BUCKETS] = c;
                q->n_clients++;
            }
        }
        if (c) {
            atomic_store_explicit(&c->last_ms, now, memory_order_relaxed);
            if (c->gen != q->gen)
                client_resolve(q, c);
        }
        if (now >= q->next_sweep_ms)
            sweep_idle(q, now); /* c was used at now: it stays, and so do its sensors */
        s = c ? c->sensor[t] : NULL;
    }
    if (key != stackkey)
        free(key);
    if (!s)
        pthread_rwlock_unlock(&q->lock);
    return s;
}

/* Records v at now and returns the throttle time. Sensor lock held. */
static int32_t sensor_record(struct quotas *q, struct qsensor *s, double v, int64_t now)
{
    int n = q->window_num;
    int64_t w = q->window_ms;
    if (s->s[s->cur].start_ms == INT64_MIN) {
        s->s[s->cur].start_ms = now;
        s->s[s->cur].v = 0;
    } else if (now - s->s[s->cur].start_ms >= w) {
        s->cur = (s->cur + 1) % n;
        s->s[s->cur].start_ms = now;
        s->s[s->cur].v = 0;
    }
    s->s[s->cur].v += v;
    double total = 0;
    int64_t oldest = now;
    for (int i = 0; i < n; i++) {
        if (s->s[i].start_ms == INT64_MIN)
            continue;
        if (now - s->s[i].start_ms >= (int64_t)n * w) { /* obsolete */
            s->s[i].start_ms = INT64_MIN;
            s->s[i].v = 0;
            continue;
        }
        total += s->s[i].v;
        oldest = MIN(oldest, s->s[i].start_ms);
    }
    int64_t elapsed = now - oldest;
    int64_t full = elapsed / w;
    if (full < n - 1)
        elapsed += (n - 1 - full) * w;
    if (elapsed < 1)
        elapsed = 1;
    double rate = total * 1000.0 / (double)elapsed;
    if (s->bound <= 0)
        return rate > 0 ? (int32_t)MIN((int64_t)n * w, INT32_MAX) : 0;
    if (rate <= s->bound)
        return 0;
    double ms = (rate - s->bound) / s->bound * (double)elapsed;
    double cap = (double)n * (double)w;
    return (int32_t)ceil(MIN(ms, cap));
}

bool quotas_active(struct quotas *q, enum quota_type t)
{
    return atomic_load_explicit(&q->configured[t], memory_order_relaxed) != 0;
}

int32_t quotas_record(struct quotas *q, enum quota_type t, const char *user, size_t user_len,
                      const char *client, size_t client_len, double value, int64_t now_ms)
{
    if (!q || atomic_load_explicit(&q->configured[t], memory_order_relaxed) == 0)
        return 0;
    struct qsensor *s = client_sensor_hold(q, t, user ? user : "", user ? user_len : 0,
                                           client ? client : "", client ? client_len : 0, now_ms);
    if (!s)
        return 0;
    pthread_mutex_lock(&s->lock);
    int32_t ms = sensor_record(q, s, value, now_ms);
    pthread_mutex_unlock(&s->lock);
    pthread_rwlock_unlock(&q->lock);
    if (ms > 0) {
        atomic_fetch_add(&q->throttle_ms[t], (uint64_t)ms);
        atomic_fetch_add(&q->throttled[t], 1);
    }
    return ms;
}

void quotas_unrecord(struct quotas *q, enum quota_type t, const char *user, size_t user_len,
                     const char *client, size_t client_len, double value, int64_t now_ms)
{
    if (!q || atomic_load_explicit(&q->configured[t], memory_order_relaxed) == 0)
        return;
    struct qsensor *s = client_sensor_hold(q, t, user ? user : "", user ? user_len : 0,
                                           client ? client : "", client ? client_len : 0, now_ms);
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    (void)sensor_record(q, s, -value, now_ms);
    pthread_mutex_unlock(&s->lock);
    pthread_rwlock_unlock(&q->lock);
}

void quotas_stats(struct quotas *q, struct quota_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!q)
        return;
    pthread_rwlock_rdlock(&q->lock);
    out->clients = q->n_clients;
    out->sensors = q->n_sensors;
    pthread_rwlock_unlock(&q->lock);
    for (int t = 0; t < QUOTA_N; t++) {
        out->throttle_ms[t] = atomic_load(&q->throttle_ms[t]);
        out->throttled[t] = atomic_load(&q->throttled[t]);
    }
}
