/*
 * broker/group/group.c — the group registry of one coordinator and the parts of a group every
 * request shares: members and pending members, static-member lookup, Kafka's protocol vote,
 * state transitions, member id generation, answering parked requests, and the read-only views
 * for DescribeGroups/ListGroups. The request rules live in group_join.c, group_sync.c and
 * group_offsets.c; group.h describes the model. Threads: the coordinator's owner only.
 */
#include "broker/group/group_int.h"
#include "common/vec.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *group_state_name(enum group_state st)
{
    switch (st) {
    case GROUP_EMPTY:
        return "Empty";
    case GROUP_PREPARING_REBALANCE:
        return "PreparingRebalance";
    case GROUP_COMPLETING_REBALANCE:
        return "CompletingRebalance";
    case GROUP_STABLE:
        return "Stable";
    case GROUP_DEAD:
        return "Dead";
    }
    return "Unknown";
}

void group_config_defaults(struct group_config *c)
{
    c->min_session_timeout_ms = 6000;
    c->max_session_timeout_ms = 1800000;
    c->initial_rebalance_delay_ms = 3000;
    c->max_size = INT32_MAX;
    c->new_member_join_timeout_ms = 300000;
    c->offsets_retention_ms = 7LL * 24 * 3600 * 1000;
    c->offset_metadata_max_bytes = 4096;
    c->max_group_id_len = 255;
    c->max_member_metadata_bytes = 1 << 20;
    c->member_id_seed = 0x9E3779B97F4A7C15ull;
}

char *gstrdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

bool gset_str(char **dst, const char *s)
{
    char *d = gstrdup(s);
    if (s && !d)
        return false;
    free(*dst);
    *dst = d;
    return true;
}

static bool streq(const char *a, const char *b) { return a == b || (a && b && strcmp(a, b) == 0); }

/* FNV-1a; only for the hash table (placement uses coord_hash.c). */
static size_t id_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)h;
}

struct group_coord *group_coord_new(const struct group_config *cfg, const struct group_ops *ops)
{
    struct group_coord *gc = calloc(1, sizeof(*gc));
    if (!gc)
        return NULL;
    gc->cfg = *cfg;
    gc->ops = *ops;
    gc->nbuckets = 64;
    gc->buckets = calloc(gc->nbuckets, sizeof(*gc->buckets));
    if (!gc->buckets) {
        free(gc);
        return NULL;
    }
    gc->id_state = cfg->member_id_seed;
    return gc;
}

void group_coord_free(struct group_coord *gc)
{
    if (!gc)
        return;
    for (size_t b = 0; b < gc->nbuckets; b++) {
        while (gc->buckets[b]) {
            struct group *g = gc->buckets[b];
            for (int32_t i = 0; i < g->nmembers; i++) {
                group_join_error(gc, g, g->members[i], KERR_NOT_COORDINATOR);
                struct group_sync_result sr = {.err = KERR_NOT_COORDINATOR};
                group_invoke_sync(gc, g->members[i], &sr);
            }
            group_destroy(gc, g);
        }
    }
    free(gc->buckets);
    free(gc);
}

void group_cancel_ctx(struct group_coord *gc, void *ctx)
{
    for (size_t b = 0; b < gc->nbuckets; b++) {
        for (struct group *g = gc->buckets[b]; g; g = g->next) {
            for (int32_t i = 0; i < g->nmembers; i++) {
                struct gmember *m = g->members[i];
                /* the member stays, as in Kafka: it counts as having rejoined and is still
                 * expected to sync; only the answer is dropped */
                if (m->awaiting_join && m->join_ctx == ctx)
                    m->join_ctx = NULL;
                if (m->awaiting_sync && m->sync_ctx == ctx)
                    m->sync_ctx = NULL;
            }
        }
    }
}

kerr_t group_append_error(kerr_t err, bool offset_commit)
{
    switch (kerr_to_wire(err)) {
    case KERR_NONE:
        return KERR_NONE;
    case KERR_UNKNOWN_TOPIC_OR_PARTITION:
    case KERR_NOT_ENOUGH_REPLICAS:
    case KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
        return KERR_COORDINATOR_NOT_AVAILABLE;
    case KERR_NOT_LEADER_OR_FOLLOWER:
    case KERR_KAFKA_STORAGE_ERROR:
        return KERR_NOT_COORDINATOR;
    case KERR_REQUEST_TIMED_OUT:
        return offset_commit ? KERR_REQUEST_TIMED_OUT : KERR_REBALANCE_IN_PROGRESS;
    case KERR_MESSAGE_TOO_LARGE:
    case KERR_RECORD_LIST_TOO_LARGE:
    case KERR_INVALID_FETCH_SIZE:
        return offset_commit ? KERR_INVALID_COMMIT_OFFSET_SIZE : KERR_UNKNOWN_SERVER_ERROR;
    default:
        return kerr_to_wire(err);
    }
}

kerr_t group_check_id(const struct group_coord *gc, const char *group_id)
{
    if (!group_id || !*group_id || strlen(group_id) > (size_t)gc->cfg.max_group_id_len)
        return KERR_INVALID_GROUP_ID;
    return KERR_NONE;
}

struct group *group_find(const struct group_coord *gc, const char *id)
{
    if (!id)
        return NULL;
    for (struct group *g = gc->buckets[id_hash(id) & (gc->nbuckets - 1)]; g; g = g->next)
        if (strcmp(g->id, id) == 0)
            return g;
    return NULL;
}

static void coord_grow(struct group_coord *gc)
{
    size_t n = gc->nbuckets * 2;
    struct group **nb = calloc(n, sizeof(*nb));
    if (!nb)
        return; /* longer chains, still correct */
    for (size_t b = 0; b < gc->nbuckets; b++) {
        while (gc->buckets[b]) {
            struct group *g = gc->buckets[b];
            gc->buckets[b] = g->next;
            size_t h = id_hash(g->id) & (n - 1);
            g->next = nb[h];
            nb[h] = g;
        }
    }
    free(gc->buckets);
    gc->buckets = nb;
    gc->nbuckets = n;
}

struct group *group_get_or_create(struct group_coord *gc, const char *id, int64_t now_ms)
{
    struct group *g = group_find(gc, id);
    if (g)
        return g;
    g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    g->id = gstrdup(id);
    if (!g->id) {
        free(g);
        return NULL;
    }
    g->state = GROUP_EMPTY;
    g->state_ts = now_ms;
    g->join_deadline = GROUP_NO_DEADLINE;
    g->sync_deadline = GROUP_NO_DEADLINE;
    if (gc->ngroups + 1 > gc->nbuckets)
        coord_grow(gc);
    size_t h = id_hash(id) & (gc->nbuckets - 1);
    g->next = gc->buckets[h];
    gc->buckets[h] = g;
    gc->ngroups++;
    return g;
}

void group_destroy(struct group_coord *gc, struct group *g)
{
    struct group **pp = &gc->buckets[id_hash(g->id) & (gc->nbuckets - 1)];
    while (*pp && *pp != g)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = g->next;
        gc->ngroups--;
    }
    for (int32_t i = 0; i < g->nmembers; i++)
        gmember_free(g->members[i]);
    free(g->members);
    for (int32_t i = 0; i < g->npending; i++)
        free(g->pending[i].id);
    free(g->pending);
    group_offsets_free(g);
    free(g->protocol_type);
    free(g->protocol_name);
    free(g->id);
    free(g);
}

void group_transition(struct group *g, enum group_state st, int64_t now_ms)
{
    g->state = st;
    g->state_ts = now_ms;
}

struct gmember *group_member(const struct group *g, const char *member_id)
{
    for (int32_t i = 0; i < g->nmembers; i++)
        if (strcmp(g->members[i]->id, member_id) == 0)
            return g->members[i];
    return NULL;
}

struct gmember *group_static_member(const struct group *g, const char *instance_id)
{
    if (!instance_id)
        return NULL;
    for (int32_t i = 0; i < g->nmembers; i++)
        if (streq(g->members[i]->instance_id, instance_id))
            return g->members[i];
    return NULL;
}

bool group_is_pending(const struct group *g, const char *member_id)
{
    for (int32_t i = 0; i < g->npending; i++)
        if (strcmp(g->pending[i].id, member_id) == 0)
            return true;
    return false;
}

void group_remove_pending(struct group *g, const char *member_id)
{
    for (int32_t i = 0; i < g->npending; i++) {
        if (g->pending[i].id == member_id || strcmp(g->pending[i].id, member_id) == 0) {
            free(g->pending[i].id);
            g->pending[i] = g->pending[--g->npending];
            return;
        }
    }
}

bool group_add_pending(struct group *g, const char *member_id, int64_t expire_at)
{
    if (!VEC_RESERVE_AT(g->pending, g->pending_cap, (size_t)g->npending + 1))
        return false;
    char *id = gstrdup(member_id);
    if (!id)
        return false;
    g->pending[g->npending++] = (struct gpending){id, expire_at};
    return true;
}

bool group_add_member(struct group *g, struct gmember *m)
{
    if (!VEC_RESERVE_AT(g->members, g->members_cap, (size_t)g->nmembers + 1))
        return false;
    g->members[g->nmembers++] = m;
    if (!g->leader)
        g->leader = m;
    if (m->awaiting_join)
        g->num_awaiting_join++;
    group_remove_pending(g, m->id);
    return true;
}

void group_remove_member(struct group *g, struct gmember *m)
{
    for (int32_t i = 0; i < g->nmembers; i++) {
        if (g->members[i] != m)
            continue;
        memmove(&g->members[i], &g->members[i + 1],
                (size_t)(g->nmembers - i - 1) * sizeof(*g->members));
        g->nmembers--;
        break;
    }
    if (m->awaiting_join)
        g->num_awaiting_join--;
    if (g->leader == m)
        g->leader = g->nmembers > 0 ? g->members[0] : NULL;
    group_remove_pending(g, m->id);
    gmember_free(m);
}

static void protos_free(struct gproto *p, int32_t n)
{
    for (int32_t i = 0; i < n; i++) {
        free(p[i].name);
        free(p[i].meta);
    }
    free(p);
}

void gmember_free(struct gmember *m)
{
    if (!m)
        return;
    free(m->id);
    free(m->instance_id);
    free(m->client_id);
    free(m->client_host);
    protos_free(m->protos, m->nprotos);
    free(m->assignment);
    free(m);
}

bool gmember_set_protocols(struct gmember *m, const struct group_protocol *p, int32_t n)
{
    struct gproto *np = calloc(n > 0 ? (size_t)n : 1, sizeof(*np));
    if (!np)
        return false;
    for (int32_t i = 0; i < n; i++) {
        np[i].name = gstrdup(p[i].name ? p[i].name : "");
        np[i].len = p[i].metadata_len > 0 ? p[i].metadata_len : 0;
        np[i].meta = malloc(np[i].len > 0 ? (size_t)np[i].len : 1);
        if (!np[i].name || !np[i].meta) {
            protos_free(np, i + 1);
            return false;
        }
        if (np[i].len > 0)
            memcpy(np[i].meta, p[i].metadata, (size_t)np[i].len);
    }
    protos_free(m->protos, m->nprotos);
    m->protos = np;
    m->nprotos = n;
    return true;
}

struct gmember *gmember_new(const struct group_join_req *req, const char *member_id)
{
    struct gmember *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->id = gstrdup(member_id);
    m->instance_id = gstrdup(req->instance_id);
    m->client_id = gstrdup(req->client_id ? req->client_id : "");
    m->client_host = gstrdup(req->client_host ? req->client_host : "");
    m->session_timeout_ms = req->session_timeout_ms;
    m->rebalance_timeout_ms = req->rebalance_timeout_ms;
    if (!m->id || (req->instance_id && !m->instance_id) || !m->client_id || !m->client_host ||
        !gmember_set_protocols(m, req->protocols, req->protocol_count)) {
        gmember_free(m);
        return NULL;
    }
    return m;
}

bool gmember_matches(const struct gmember *m, const struct group_protocol *p, int32_t n)
{
    if (m->nprotos != n)
        return false;
    for (int32_t i = 0; i < n; i++) {
        int32_t len = p[i].metadata_len > 0 ? p[i].metadata_len : 0;
        if (!streq(m->protos[i].name, p[i].name ? p[i].name : "") || m->protos[i].len != len ||
            (len > 0 && memcmp(m->protos[i].meta, p[i].metadata, (size_t)len) != 0))
            return false;
    }
    return true;
}

const struct gproto *gmember_proto(const struct gmember *m, const char *name)
{
    for (int32_t i = 0; name && i < m->nprotos; i++)
        if (strcmp(m->protos[i].name, name) == 0)
            return &m->protos[i];
    return NULL;
}

bool group_is_fenced(const struct group *g, const char *member_id, const char *instance_id)
{
    struct gmember *m = group_static_member(g, instance_id);
    return m && strcmp(m->id, member_id) != 0;
}

/* How many members list protocol `name`. */
static int32_t proto_support(const struct group *g, const char *name)
{
    int32_t n = 0;
    for (int32_t i = 0; i < g->nmembers; i++)
        if (gmember_proto(g->members[i], name))
            n++;
    return n;
}

bool group_supports(const struct group *g, const char *protocol_type,
                    const struct group_protocol *p, int32_t n)
{
    if (g->state == GROUP_EMPTY)
        return protocol_type && *protocol_type && n > 0;
    if (!streq(g->protocol_type, protocol_type))
        return false;
    for (int32_t i = 0; i < n; i++)
        if (p[i].name && proto_support(g, p[i].name) == g->nmembers)
            return true;
    return false;
}

/* The first protocol of m that every member supports, or NULL. */
static const char *member_vote(const struct group *g, const struct gmember *m)
{
    for (int32_t i = 0; i < m->nprotos; i++)
        if (proto_support(g, m->protos[i].name) == g->nmembers)
            return m->protos[i].name;
    return NULL;
}

const char *group_select_protocol(const struct group *g)
{
    const char *best = NULL;
    int32_t best_votes = 0;
    for (int32_t i = 0; i < g->nmembers; i++) {
        const char *cand = member_vote(g, g->members[i]);
        if (!cand || streq(cand, best))
            continue;
        int32_t votes = 0;
        for (int32_t j = 0; j < g->nmembers; j++)
            if (streq(member_vote(g, g->members[j]), cand))
                votes++;
        if (votes > best_votes) {
            best = cand;
            best_votes = votes;
        }
    }
    return best;
}

int32_t group_rebalance_timeout(const struct group *g)
{
    int32_t t = 0;
    for (int32_t i = 0; i < g->nmembers; i++)
        if (g->members[i]->rebalance_timeout_ms > t)
            t = g->members[i]->rebalance_timeout_ms;
    return t;
}

/* splitmix64: a uuid-shaped suffix that is unique per coordinator and seed. */
static uint64_t next_id(struct group_coord *gc)
{
    uint64_t z = (gc->id_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

char *group_new_member_id(struct group_coord *gc, const char *prefix)
{
    uint64_t a = next_id(gc), b = next_id(gc);
    size_t n = strlen(prefix) + 40;
    char *id = malloc(n);
    if (!id)
        return NULL;
    snprintf(id, n, "%s-%08" PRIx32 "-%04" PRIx32 "-%04" PRIx32 "-%04" PRIx32 "-%012" PRIx64,
             prefix, (uint32_t)(a >> 32), (uint32_t)(a >> 16) & 0xFFFFu, (uint32_t)a & 0xFFFFu,
             (uint32_t)(b >> 48), (uint64_t)(b & 0xFFFFFFFFFFFFu));
    return id;
}

void group_invoke_join(struct group_coord *gc, struct group *g, struct gmember *m,
                       const struct group_join_result *res)
{
    if (!m->awaiting_join)
        return;
    void *ctx = m->join_ctx;
    m->awaiting_join = false;
    m->join_ctx = NULL;
    g->num_awaiting_join--;
    if (ctx) /* NULL: withdrawn by group_cancel_ctx() */
        gc->ops.join_cb(gc->ops.arg, ctx, res);
}

void group_invoke_sync(struct group_coord *gc, struct gmember *m,
                       const struct group_sync_result *res)
{
    if (!m->awaiting_sync)
        return;
    void *ctx = m->sync_ctx;
    m->awaiting_sync = false;
    m->sync_ctx = NULL;
    if (ctx)
        gc->ops.sync_cb(gc->ops.arg, ctx, res);
}

void group_join_error(struct group_coord *gc, struct group *g, struct gmember *m, kerr_t err)
{
    struct group_join_result r = {.err = err, .member_id = m->id, .generation = -1};
    group_invoke_join(gc, g, m, &r);
}

static void info_fill(const struct group *g, struct group_info *out)
{
    out->group_id = g->id;
    out->state = g->state;
    out->protocol_type = g->protocol_type ? g->protocol_type : "";
    /* Kafka's GroupMetadata.summary: the protocol only once the group is Stable */
    out->protocol_name = g->state == GROUP_STABLE && g->protocol_name ? g->protocol_name : "";
    out->generation = g->generation;
    out->leader_id = g->leader ? g->leader->id : NULL;
    out->member_count = g->nmembers;
    out->pending_count = g->npending;
}

bool group_describe(const struct group_coord *gc, const char *group_id, struct group_info *out)
{
    const struct group *g = group_find(gc, group_id);
    if (!g)
        return false;
    info_fill(g, out);
    return true;
}

bool group_member_at(const struct group_coord *gc, const char *group_id, int32_t i,
                     struct group_member_info *out)
{
    const struct group *g = group_find(gc, group_id);
    if (!g || i < 0 || i >= g->nmembers)
        return false;
    const struct gmember *m = g->members[i];
    bool stable = g->state == GROUP_STABLE;
    const struct gproto *p = stable ? gmember_proto(m, g->protocol_name) : NULL;
    *out = (struct group_member_info){
        .member_id = m->id,
        .instance_id = m->instance_id,
        .client_id = m->client_id,
        .client_host = m->client_host,
        .session_timeout_ms = m->session_timeout_ms,
        .rebalance_timeout_ms = m->rebalance_timeout_ms,
        .metadata = p ? p->meta : NULL,
        .metadata_len = p ? p->len : 0,
        .assignment = stable ? m->assignment : NULL,
        .assignment_len = stable ? m->assignment_len : 0,
    };
    return true;
}

void group_foreach(const struct group_coord *gc, void (*cb)(void *arg, const struct group_info *g),
                   void *arg)
{
    for (size_t b = 0; b < gc->nbuckets; b++) {
        for (const struct group *g = gc->buckets[b]; g; g = g->next) {
            if (g->state == GROUP_DEAD)
                continue;
            struct group_info info;
            info_fill(g, &info);
            cb(arg, &info);
        }
    }
}
