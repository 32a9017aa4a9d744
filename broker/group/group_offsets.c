/*
 * broker/group/group_offsets.c — committed offsets of a group: Kafka's OffsetCommit rules,
 * the offset cache OffsetFetch reads, offset expiry and DeleteGroups.
 *
 * Commit rules (GroupCoordinator.validateOffsetCommit): a commit naming a member, instance or
 * generation >= 0 must come from a current member of the current generation (FENCED_INSTANCE_ID,
 * UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION otherwise); a commit with none of them (a simple
 * consumer) is only accepted while the group is Empty (UNKNOWN_MEMBER_ID otherwise), and creates
 * an unknown group; generation >= 0 for an unknown group is ILLEGAL_GENERATION. Members commit
 * in Stable and PreparingRebalance; CompletingRebalance answers REBALANCE_IN_PROGRESS. Metadata
 * longer than offset.metadata.max.bytes is OFFSET_METADATA_TOO_LARGE for that partition.
 *
 * A commit is pending from group_commit_prepare() to group_commit_apply() (Kafka's
 * pendingOffsetCommits): OffsetFetch with require_stable answers UNSTABLE_OFFSET_COMMIT for
 * its partition (as for a transactional offset awaiting its marker, group_txn.c), expiry keeps that partition's offset, and an offset removed meanwhile (its
 * topic deleted, OffsetDelete) is not brought back by the commit's apply.
 *
 * A group's offsets are an array sorted by (topic, partition), found by binary search.
 * Threads: the coordinator's owner.
 */
#include "broker/group/group_int.h"
#include "common/vec.h"

#include <stdlib.h>
#include <string.h>

#include "broker/group/consumer_protocol.h"

static int offset_cmp(const struct goffset *o, const char *topic, int32_t partition)
{
    int c = strcmp(o->topic, topic);
    if (c)
        return c;
    return o->partition < partition ? -1 : o->partition > partition;
}

/* Index of (topic, partition) if present, else where it would go (as -(pos) - 1). */
static int32_t offset_search(const struct group *g, const char *topic, int32_t partition)
{
    int32_t lo = 0, hi = g->noffsets - 1;
    while (lo <= hi) {
        int32_t mid = lo + (hi - lo) / 2;
        int c = offset_cmp(&g->offsets[mid], topic, partition);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -lo - 1;
}

struct goffset *group_offset_find(const struct group *g, const char *topic, int32_t partition)
{
    int32_t i = offset_search(g, topic, partition);
    return i >= 0 ? &g->offsets[i] : NULL;
}

bool group_offset_put(struct group *g, const struct goffset *o)
{
    char *meta = gstrdup(o->metadata ? o->metadata : "");
    if (!meta)
        return false;
    int32_t i = offset_search(g, o->topic, o->partition);
    if (i >= 0) {
        struct goffset *d = &g->offsets[i];
        free(d->metadata);
        d->metadata = meta;
        d->offset = o->offset;
        d->leader_epoch = o->leader_epoch;
        d->commit_ts = o->commit_ts;
        d->expire_ts = o->expire_ts;
        d->log_offset = o->log_offset;
        return true;
    }
    char *topic = gstrdup(o->topic);
    if (!topic)
        goto out_free_meta;
    if (!VEC_RESERVE_AT(g->offsets, g->offsets_cap, (size_t)g->noffsets + 1))
        goto out_free_topic;
    int32_t at = -i - 1;
    memmove(&g->offsets[at + 1], &g->offsets[at], (size_t)(g->noffsets - at) * sizeof(*g->offsets));
    g->offsets[at] = *o;
    g->offsets[at].topic = topic;
    g->offsets[at].metadata = meta;
    g->noffsets++;
    return true;
out_free_topic:
    free(topic);
out_free_meta:
    free(meta);
    return false;
}

static int32_t pending_index(const struct group *g, const char *topic, int32_t partition)
{
    for (int32_t i = 0; i < g->npcommits; i++)
        if (g->pcommits[i].partition == partition && strcmp(g->pcommits[i].topic, topic) == 0)
            return i;
    return -1;
}

bool group_commit_is_pending(const struct group *g, const char *topic, int32_t partition)
{
    return pending_index(g, topic, partition) >= 0;
}

/* Counts one more prepared commit of (topic, partition); false on allocation failure. */
static bool pending_add(struct group *g, const char *topic, int32_t partition)
{
    int32_t i = pending_index(g, topic, partition);
    if (i >= 0) {
        g->pcommits[i].count++;
        return true;
    }
    if (!VEC_RESERVE_AT(g->pcommits, g->pcommits_cap, (size_t)g->npcommits + 1))
        return false;
    char *t = gstrdup(topic);
    if (!t)
        return false;
    g->pcommits[g->npcommits++] = (struct gpending_commit){t, partition, 1};
    return true;
}

static void pending_drop(struct group *g, int32_t i)
{
    free(g->pcommits[i].topic);
    g->pcommits[i] = g->pcommits[--g->npcommits];
}

/* Ends one prepared commit of (topic, partition). False when none was pending: the offset was
 * removed meanwhile (its topic deleted, OffsetDelete), and the commit must not bring it back. */
static bool pending_done(struct group *g, const char *topic, int32_t partition)
{
    int32_t i = pending_index(g, topic, partition);
    if (i < 0)
        return false;
    if (--g->pcommits[i].count == 0)
        pending_drop(g, i);
    return true;
}

void group_offset_remove(struct group *g, const char *topic, int32_t partition)
{
    int32_t pi = pending_index(g, topic, partition);
    if (pi >= 0) /* Kafka's removeOffsets: a commit in flight is not stored either */
        pending_drop(g, pi);
    int32_t i = offset_search(g, topic, partition);
    if (i < 0)
        return;
    free(g->offsets[i].topic);
    free(g->offsets[i].metadata);
    memmove(&g->offsets[i], &g->offsets[i + 1],
            (size_t)(g->noffsets - i - 1) * sizeof(*g->offsets));
    g->noffsets--;
}

void group_offsets_free(struct group *g)
{
    for (int32_t i = 0; i < g->noffsets; i++) {
        free(g->offsets[i].topic);
        free(g->offsets[i].metadata);
    }
    free(g->offsets);
    g->offsets = NULL;
    g->noffsets = g->offsets_cap = 0;
    while (g->npcommits > 0)
        pending_drop(g, g->npcommits - 1);
    free(g->pcommits);
    g->pcommits = NULL;
    g->pcommits_cap = 0;
    group_txn_remove(g, NULL, -1);
}

static kerr_t validate_commit(struct group *g, const struct group_commit_req *req, int64_t now_ms)
{
    const char *mid = req->member_id ? req->member_id : "";
    if (g->state == GROUP_DEAD)
        return KERR_COORDINATOR_NOT_AVAILABLE;
    if (req->generation >= 0 || *mid || req->instance_id) {
        if (group_is_fenced(g, mid, req->instance_id))
            return KERR_FENCED_INSTANCE_ID;
        struct gmember *m = group_member(g, mid);
        if (!m)
            return KERR_UNKNOWN_MEMBER_ID;
        if (req->generation != g->generation)
            return KERR_ILLEGAL_GENERATION;
        if (g->state == GROUP_COMPLETING_REBALANCE)
            return KERR_REBALANCE_IN_PROGRESS;
        group_touch(g, m, now_ms);
        return KERR_NONE;
    }
    /* a simple consumer: only while nobody manages the group */
    return g->state == GROUP_EMPTY ? KERR_NONE : KERR_UNKNOWN_MEMBER_ID;
}

kerr_t group_commit_part_check(const struct group_coord *gc, struct group_commit *c, kerr_t err)
{
    if (!err && c->metadata && strlen(c->metadata) > (size_t)gc->cfg.offset_metadata_max_bytes)
        err = KERR_OFFSET_METADATA_TOO_LARGE;
    c->err = err;
    return err;
}

struct goffset group_commit_offset(const struct group_commit_req *req, const struct group_commit *c)
{
    return (struct goffset){
        .topic = (char *)c->topic,
        .partition = c->partition,
        .offset = c->offset,
        .leader_epoch = c->leader_epoch,
        .metadata = (char *)(c->metadata ? c->metadata : ""),
        .commit_ts = c->commit_ts > 0 ? c->commit_ts : req->commit_ts,
        .expire_ts = c->expire_ts,
        .log_offset = req->log_offset,
    };
}

kerr_t group_commit_prepare(struct group_coord *gc, struct group_commit_req *req, int64_t now_ms,
                            struct group_records *out)
{
    req->commit_ts = now_ms;
    kerr_t err = group_check_id(gc, req->group_id);
    struct group *g = err ? NULL : group_find(gc, req->group_id);
    if (!err && !g) {
        if (req->generation < 0) {
            g = group_get_or_create(gc, req->group_id, now_ms);
            if (!g)
                err = KERR_COORDINATOR_NOT_AVAILABLE;
        } else {
            err = KERR_ILLEGAL_GENERATION;
        }
    }
    if (!err)
        err = validate_commit(g, req, now_ms);
    for (int32_t i = 0; i < req->count; i++) {
        struct group_commit *c = &req->parts[i];
        if (group_commit_part_check(gc, c, err))
            continue;
        struct goffset o = group_commit_offset(req, c);
        if (!pending_add(g, c->topic, c->partition))
            c->err = KERR_COORDINATOR_NOT_AVAILABLE;
        else if (!group_records_commit(out, req->group_id, &o)) {
            pending_done(g, c->topic, c->partition);
            c->err = KERR_COORDINATOR_NOT_AVAILABLE;
        }
    }
    return err;
}

void group_commit_apply(struct group_coord *gc, struct group_commit_req *req, kerr_t err)
{
    struct group *g = group_find(gc, req->group_id);
    err = group_append_error(err, true);
    for (int32_t i = 0; i < req->count; i++) {
        struct group_commit *c = &req->parts[i];
        if (c->err)
            continue;
        bool staged = g && pending_done(g, c->topic, c->partition);
        if (err || !g) {
            c->err = err ? err : KERR_NOT_COORDINATOR;
            continue;
        }
        struct goffset o = group_commit_offset(req, c);
        /* a transactional commit later in the log may have landed first (Kafka's olderThan) */
        const struct goffset *cur = group_offset_find(g, c->topic, c->partition);
        bool newer =
            cur && cur->log_offset >= 0 && o.log_offset >= 0 && cur->log_offset > o.log_offset;
        if (staged && !newer && !group_offset_put(g, &o))
            c->err = KERR_COORDINATOR_NOT_AVAILABLE;
    }
}

static void offset_view(const struct goffset *o, struct group_offset *out)
{
    *out =
        (struct group_offset){o->offset, o->leader_epoch, o->metadata, o->commit_ts, o->expire_ts};
}

kerr_t group_offset_fetch(const struct group_coord *gc, const char *group_id, const char *topic,
                          int32_t partition, struct group_offset *out)
{
    const struct group *g = group_find(gc, group_id);
    const struct goffset *o = g ? group_offset_find(g, topic, partition) : NULL;
    if (!o)
        return KERR__NOENT;
    offset_view(o, out);
    return KERR_NONE;
}

bool group_offset_pending(const struct group_coord *gc, const char *group_id, const char *topic,
                          int32_t partition)
{
    const struct group *g = group_find(gc, group_id);
    return g && (group_commit_is_pending(g, topic, partition) ||
                 group_txn_is_pending(g, topic, partition));
}

void group_offsets_foreach(const struct group_coord *gc, const char *group_id,
                           void (*cb)(void *arg, const char *topic, int32_t partition,
                                      const struct group_offset *o),
                           void *arg)
{
    const struct group *g = group_find(gc, group_id);
    for (int32_t i = 0; g && i < g->noffsets; i++) {
        struct group_offset v;
        offset_view(&g->offsets[i], &v);
        cb(arg, g->offsets[i].topic, g->offsets[i].partition, &v);
    }
}

/* Whether a member of a "consumer" group subscribes to topic, read from the members'
 * metadata for the selected protocol: 1 yes, 0 no, -1 unknown (another protocol type, no
 * protocol selected, or metadata that does not parse), Kafka's isSubscribedToTopic. */
static int subscribed(const struct group *g, const char *topic)
{
    if (!g->protocol_type || strcmp(g->protocol_type, "consumer") != 0 || !g->protocol_name ||
        g->nmembers == 0)
        return -1;
    int any = 0;
    for (int32_t i = 0; i < g->nmembers; i++) {
        const struct gproto *p = gmember_proto(g->members[i], g->protocol_name);
        bool found;
        if (!p || !consumer_subscription_has_topic(p->meta, p->len, topic, &found))
            return -1;
        any |= found;
    }
    return any;
}

/* Kafka's removeExpiredOffsets: for an Empty group the retention counts from when it became
 * Empty (or from the commit when that time is unknown); for a Stable consumer group, from the
 * commit, for topics no member subscribes to; for a group without a protocol type (simple
 * consumers) from the commit. An explicit expire timestamp (OffsetCommit v1-v4) wins. */
static size_t expire_group(struct group_coord *gc, struct group *g, int64_t now_ms,
                           struct group_records *out)
{
    bool empty_managed = g->protocol_type && g->state == GROUP_EMPTY;
    /* subscribed() answers -1 for any topic when the subscriptions cannot be read */
    bool stable_consumer = g->state == GROUP_STABLE && subscribed(g, "") >= 0;
    if (g->protocol_type && !empty_managed && !stable_consumer)
        return 0;
    size_t n = 0;
    for (int32_t i = 0; i < g->noffsets;) {
        struct goffset *o = &g->offsets[i];
        int64_t base = empty_managed && g->state_ts >= 0 ? g->state_ts : o->commit_ts;
        bool expired = o->expire_ts >= 0 ? now_ms >= o->expire_ts
                                         : now_ms - base >= gc->cfg.offsets_retention_ms;
        if (!expired || (stable_consumer && subscribed(g, o->topic) != 0) ||
            group_commit_is_pending(g, o->topic, o->partition)) {
            i++;
            continue;
        }
        group_records_offset_tombstone(out, g->id, o->topic, o->partition);
        group_offset_remove(g, o->topic, o->partition);
        n++;
    }
    return n;
}

/* An Empty group left without offsets (nor pending members) is Dead: its tombstone goes to
 * out and it is freed. */
static void maybe_remove_empty(struct group_coord *gc, struct group *g, int64_t now_ms,
                               struct group_records *out)
{
    if (g->state == GROUP_EMPTY && g->noffsets == 0 && g->npending == 0 && g->npcommits == 0 &&
        g->ntxn == 0) {
        group_transition(g, GROUP_DEAD, now_ms);
        group_records_group_tombstone(out, g->id);
        group_destroy(gc, g);
    }
}

/* What one sweep over the groups does to each live group: the records it writes go to out. */
struct sweep {
    struct group_coord *gc;
    int64_t now_ms;
    struct group_records *out;
    const char *const *topics; /* group_remove_topics(): the deleted topics */
    size_t ntopics;
};

/* Calls fn on every group that is not Dead, then removes the group if fn left it Empty
 * without offsets (maybe_remove_empty()). Returns the sum of what fn returned. */
static size_t sweep_groups(struct sweep *sw, size_t (*fn)(struct sweep *sw, struct group *g))
{
    size_t n = 0;
    for (size_t b = 0; b < sw->gc->nbuckets; b++) {
        struct group *next;
        for (struct group *g = sw->gc->buckets[b]; g; g = next) {
            next = g->next;
            if (g->state == GROUP_DEAD)
                continue;
            n += fn(sw, g);
            maybe_remove_empty(sw->gc, g, sw->now_ms, sw->out);
        }
    }
    return n;
}

static size_t sweep_expire(struct sweep *sw, struct group *g)
{
    return expire_group(sw->gc, g, sw->now_ms, sw->out);
}

size_t group_expire_offsets(struct group_coord *gc, int64_t now_ms, struct group_records *out)
{
    struct sweep sw = {.gc = gc, .now_ms = now_ms, .out = out};
    return sweep_groups(&sw, sweep_expire);
}

static bool listed(const char *topic, const char *const *topics, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(topic, topics[i]) == 0)
            return true;
    return false;
}

/* Drops the pending commits and the offsets of sw's topics from g. */
static size_t sweep_remove_topics(struct sweep *sw, struct group *g)
{
    size_t removed = 0;
    for (size_t k = 0; k < sw->ntopics; k++)
        group_txn_remove(g, sw->topics[k], -1);
    for (int32_t i = 0; i < g->npcommits;) {
        if (listed(g->pcommits[i].topic, sw->topics, sw->ntopics))
            pending_drop(g, i);
        else
            i++;
    }
    for (int32_t i = 0; i < g->noffsets;) {
        struct goffset *o = &g->offsets[i];
        if (!listed(o->topic, sw->topics, sw->ntopics)) {
            i++;
            continue;
        }
        group_records_offset_tombstone(sw->out, g->id, o->topic, o->partition);
        group_offset_remove(g, o->topic, o->partition);
        removed++;
    }
    return removed;
}

size_t group_remove_topics(struct group_coord *gc, const char *const *topics, size_t n,
                           int64_t now_ms, struct group_records *out)
{
    struct sweep sw = {.gc = gc, .now_ms = now_ms, .out = out, .topics = topics, .ntopics = n};
    return sweep_groups(&sw, sweep_remove_topics);
}

/* The group a delete names, or NULL with *err: the id's error, or GROUP_ID_NOT_FOUND when there
 * is no such group or it is Dead. */
static struct group *live_group(struct group_coord *gc, const char *group_id, kerr_t *err)
{
    *err = group_check_id(gc, group_id);
    struct group *g = *err ? NULL : group_find(gc, group_id);
    if (!*err && (!g || g->state == GROUP_DEAD)) {
        *err = KERR_GROUP_ID_NOT_FOUND;
        g = NULL;
    }
    return g;
}

kerr_t group_delete(struct group_coord *gc, const char *group_id, struct group_records *out)
{
    kerr_t err;
    struct group *g = live_group(gc, group_id, &err);
    if (!g)
        return err;
    if (g->state != GROUP_EMPTY)
        return KERR_NON_EMPTY_GROUP;
    for (int32_t i = 0; i < g->noffsets; i++)
        group_records_offset_tombstone(out, g->id, g->offsets[i].topic, g->offsets[i].partition);
    group_records_group_tombstone(out, g->id);
    group_destroy(gc, g);
    return KERR_NONE;
}

kerr_t group_offsets_delete(struct group_coord *gc, const char *group_id,
                            struct group_offset_delete *parts, int32_t count, int64_t now_ms,
                            struct group_records *out)
{
    kerr_t err;
    struct group *g = live_group(gc, group_id, &err);
    if (!g)
        return err;
    bool live_consumer =
        g->state != GROUP_EMPTY && g->protocol_type && strcmp(g->protocol_type, "consumer") == 0;
    if (g->state != GROUP_EMPTY && !live_consumer)
        return KERR_NON_EMPTY_GROUP;
    for (int32_t i = 0; i < count; i++) {
        struct group_offset_delete *d = &parts[i];
        if (live_consumer && subscribed(g, d->topic) == 1) {
            d->err = KERR_GROUP_SUBSCRIBED_TO_TOPIC;
            continue;
        }
        d->err = KERR_NONE;
        group_txn_remove(g, d->topic, d->partition);
        if (group_offset_find(g, d->topic, d->partition)) {
            group_records_offset_tombstone(out, g->id, d->topic, d->partition);
            group_offset_remove(g, d->topic, d->partition);
        }
    }
    maybe_remove_empty(gc, g, now_ms, out);
    return KERR_NONE;
}
