/*
 * broker/group/group_txn.c — transactional offset commits of a group (TxnOffsetCommit, Kafka's
 * GroupMetadata pendingTransactionalOffsetCommits): pending offsets per (producer id, topic,
 * partition), made committed or dropped by the producer's transaction marker.
 *
 * Lifecycle of one pending offset: group_txn_commit_prepare() holds it with log_offset -1 and
 * writes its record (Kafka's offset commit key v1 / value v3, offsets_format.h) for the runtime
 * to append as one transactional batch; group_txn_commit_apply() stores where the batch went
 * (or drops it when the append failed); group_txn_complete() at the producer's COMMIT marker
 * moves it into the committed offsets unless the partition's committed offset comes from a
 * record later in the log (Kafka decides by log offset, not by arrival), and drops it at an
 * ABORT. A second commit of the same partition by the same producer replaces the first.
 * Loading replays the same states from the log (group_txn_load(), then group_txn_complete()
 * at each marker); offsets whose marker never came stay pending.
 *
 * Threads: the coordinator's owner.
 */
#include "broker/group/group_int.h"
#include "common/vec.h"

#include <stdlib.h>
#include <string.h>

static int32_t txn_index(const struct group *g, int64_t producer_id, const char *topic,
                         int32_t partition)
{
    for (int32_t i = 0; i < g->ntxn; i++) {
        const struct gtxn_offset *t = &g->txn[i];
        if (t->producer_id == producer_id && t->o.partition == partition &&
            strcmp(t->o.topic, topic) == 0)
            return i;
    }
    return -1;
}

static void txn_drop(struct group *g, int32_t i)
{
    free(g->txn[i].o.topic);
    free(g->txn[i].o.metadata);
    g->txn[i] = g->txn[--g->ntxn];
}

bool group_txn_is_pending(const struct group *g, const char *topic, int32_t partition)
{
    for (int32_t i = 0; i < g->ntxn; i++)
        if (g->txn[i].o.partition == partition && strcmp(g->txn[i].o.topic, topic) == 0)
            return true;
    return false;
}

void group_txn_remove(struct group *g, const char *topic, int32_t partition)
{
    for (int32_t i = 0; i < g->ntxn;) {
        const struct goffset *o = &g->txn[i].o;
        if (!topic ||
            (strcmp(o->topic, topic) == 0 && (partition < 0 || o->partition == partition)))
            txn_drop(g, i);
        else
            i++;
    }
    if (!topic) {
        free(g->txn);
        g->txn = NULL;
        g->txn_cap = 0;
    }
}

/* Holds o (borrowed; strings copied) as producer_id's pending offset of its partition,
 * replacing an earlier one. False on allocation failure (nothing changed). */
static bool txn_put(struct group *g, int64_t producer_id, const struct goffset *o)
{
    char *meta = gstrdup(o->metadata ? o->metadata : "");
    if (!meta)
        return false;
    int32_t i = txn_index(g, producer_id, o->topic, o->partition);
    if (i >= 0) {
        struct goffset *d = &g->txn[i].o;
        char *topic = d->topic;
        free(d->metadata);
        *d = *o;
        d->topic = topic;
        d->metadata = meta;
        return true;
    }
    char *topic = gstrdup(o->topic);
    if (!topic || !VEC_RESERVE_AT(g->txn, g->txn_cap, (size_t)g->ntxn + 1)) {
        free(topic);
        free(meta);
        return false;
    }
    struct gtxn_offset *t = &g->txn[g->ntxn++];
    t->producer_id = producer_id;
    t->o = *o;
    t->o.topic = topic;
    t->o.metadata = meta;
    return true;
}

bool group_txn_load(struct group *g, int64_t producer_id, const struct goffset *o, bool tombstone)
{
    if (!tombstone)
        return txn_put(g, producer_id, o);
    int32_t i = txn_index(g, producer_id, o->topic, o->partition);
    if (i >= 0)
        txn_drop(g, i);
    return true;
}

/* Kafka's doTxnCommitOffsets checks; g may be NULL only when it could not be created. */
static kerr_t validate_txn_commit(const struct group *g, const struct group_commit_req *req)
{
    const char *mid = req->member_id ? req->member_id : "";
    if (!g || g->state == GROUP_DEAD)
        return KERR_COORDINATOR_NOT_AVAILABLE;
    if (group_is_fenced(g, mid, req->instance_id))
        return KERR_FENCED_INSTANCE_ID;
    if (*mid && !group_member(g, mid))
        return KERR_UNKNOWN_MEMBER_ID;
    if (req->generation >= 0 && req->generation != g->generation)
        return KERR_ILLEGAL_GENERATION;
    return KERR_NONE;
}

kerr_t group_txn_commit_prepare(struct group_coord *gc, struct group_commit_req *req,
                                int64_t producer_id, int64_t now_ms, struct group_records *out)
{
    req->commit_ts = now_ms;
    kerr_t err = group_check_id(gc, req->group_id);
    struct group *g = NULL;
    if (!err) {
        g = group_get_or_create(gc, req->group_id, now_ms);
        err = validate_txn_commit(g, req);
    }
    for (int32_t i = 0; i < req->count; i++) {
        struct group_commit *c = &req->parts[i];
        if (group_commit_part_check(gc, c, err))
            continue;
        /* committed now, without expiry; no log offset before the append */
        struct goffset o = group_commit_offset(req, c);
        o.commit_ts = now_ms;
        o.expire_ts = -1;
        o.log_offset = -1;
        if (!txn_put(g, producer_id, &o))
            c->err = KERR_COORDINATOR_NOT_AVAILABLE;
        else if (!group_records_commit(out, req->group_id, &o)) {
            txn_drop(g, txn_index(g, producer_id, c->topic, c->partition));
            c->err = KERR_COORDINATOR_NOT_AVAILABLE;
        }
    }
    return err;
}

void group_txn_commit_apply(struct group_coord *gc, struct group_commit_req *req,
                            int64_t producer_id, kerr_t err, int64_t log_offset)
{
    struct group *g = group_find(gc, req->group_id);
    err = group_append_error(err, true);
    for (int32_t i = 0; i < req->count; i++) {
        struct group_commit *c = &req->parts[i];
        if (c->err)
            continue;
        int32_t at = g ? txn_index(g, producer_id, c->topic, c->partition) : -1;
        /* still the one this request holds (not completed, aborted or replaced meanwhile) */
        struct goffset *o = at >= 0 ? &g->txn[at].o : NULL;
        bool ours = o && o->log_offset < 0 && o->offset == c->offset &&
                    strcmp(o->metadata, c->metadata ? c->metadata : "") == 0;
        if (err) {
            c->err = err;
            if (ours)
                txn_drop(g, at);
        } else if (!g) {
            c->err = KERR_NOT_COORDINATOR;
        } else if (ours) {
            o->log_offset = log_offset;
        }
    }
}

/* Commits or drops producer_id's offsets of g appended before marker_offset. */
static size_t complete_group(struct group *g, int64_t producer_id, bool commit,
                             int64_t marker_offset)
{
    size_t n = 0;
    for (int32_t i = 0; i < g->ntxn;) {
        struct gtxn_offset *t = &g->txn[i];
        if (t->producer_id != producer_id || t->o.log_offset >= marker_offset) {
            i++;
            continue;
        }
        if (commit && t->o.log_offset >= 0) {
            const struct goffset *cur = group_offset_find(g, t->o.topic, t->o.partition);
            if (!cur || cur->log_offset < 0 || cur->log_offset < t->o.log_offset) {
                if (group_offset_put(g, &t->o))
                    n++;
            }
        }
        txn_drop(g, i);
    }
    return n;
}

size_t group_txn_complete(struct group_coord *gc, int64_t producer_id, bool commit,
                          int64_t marker_offset)
{
    size_t n = 0;
    for (size_t b = 0; b < gc->nbuckets; b++)
        for (struct group *g = gc->buckets[b]; g; g = g->next)
            if (g->ntxn > 0)
                n += complete_group(g, producer_id, commit, marker_offset);
    return n;
}

size_t group_txn_pending_count(const struct group_coord *gc)
{
    size_t n = 0;
    for (size_t b = 0; b < gc->nbuckets; b++)
        for (const struct group *g = gc->buckets[b]; g; g = g->next)
            n += (size_t)g->ntxn;
    return n;
}
