/*
 * broker/group/group_load.c — the coordinator's side of `__consumer_offsets`: the records it
 * writes (offset commits, group metadata, tombstones; formats in offsets_format.h) and the
 * replay of a partition's records when this broker becomes its leader.
 *
 * Written versions are Kafka 2.3+'s: key v1 for offsets, key v2 for groups; OffsetCommit value
 * v3 (v1 when the commit carries an explicit expire timestamp); GroupMetadata value v3.
 * Replay applies records in log order, so the latest record per key wins and a tombstone
 * deletes: an offset tombstone removes that offset, a group tombstone removes the group's
 * membership but not its offsets (they have their own tombstones). Records of transactional
 * batches change only their producer's pending offsets (group_txn.c), applied at its marker.
 * Threads: the coordinator's owner.
 */
#include "broker/group/group_int.h"
#include "common/vec.h"

#include <stdlib.h>
#include <string.h>

#include "broker/group/offsets_format.h"

void group_records_init(struct group_records *r) { memset(r, 0, sizeof(*r)); }

void group_records_destroy(struct group_records *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].key);
        free(r->v[i].value);
    }
    free(r->v);
    memset(r, 0, sizeof(*r));
}

/* Takes the bytes of key and value (value NULL: a tombstone); kbufs are left empty. */
bool group_records_add(struct group_records *r, struct kbuf *key, struct kbuf *value)
{
    if (key->oom || (value && value->oom) || r->oom)
        goto out_fail;
    if (!VEC_RESERVE_AT(r->v, r->cap, r->n + 1))
        goto out_fail;
    struct group_record *rec = &r->v[r->n++];
    rec->key = kbuf_steal(key, &rec->key_len);
    rec->value = NULL;
    rec->value_len = 0;
    if (value)
        rec->value = kbuf_steal(value, &rec->value_len);
    return true;
out_fail:
    r->oom = true;
    kbuf_destroy(key);
    if (value)
        kbuf_destroy(value);
    return false;
}

bool group_records_add_copy(struct group_records *r, const struct group_record *rec)
{
    struct kbuf key, value;
    kbuf_init(&key);
    kbuf_init(&value);
    kbuf_put(&key, rec->key, rec->key_len);
    if (rec->value) { /* reserved first: an empty value stays a value, not a tombstone */
        kbuf_reserve(&value, 1);
        kbuf_put(&value, rec->value, rec->value_len);
    }
    return group_records_add(r, &key, rec->value ? &value : NULL);
}

void group_records_offset_tombstone(struct group_records *r, const char *group, const char *topic,
                                    int32_t partition)
{
    struct kbuf key;
    kbuf_init(&key);
    okey_put_offset(&key, 1, group, topic, partition);
    group_records_add(r, &key, NULL);
}

void group_records_group_tombstone(struct group_records *r, const char *group)
{
    struct kbuf key;
    kbuf_init(&key);
    okey_put_group(&key, group);
    group_records_add(r, &key, NULL);
}

static struct kstr zstr(const char *z) { return (struct kstr){z, z ? (int32_t)strlen(z) : 0}; }

bool group_records_commit(struct group_records *r, const char *group, const struct goffset *o)
{
    struct kbuf key, value;
    kbuf_init(&key);
    kbuf_init(&value);
    okey_put_offset(&key, 1, group, o->topic, o->partition);
    struct ocommit_value v = {
        .version = o->expire_ts >= 0 ? 1 : 3,
        .offset = o->offset,
        .leader_epoch = o->leader_epoch,
        .metadata = zstr(o->metadata ? o->metadata : ""),
        .commit_ts = o->commit_ts,
        .expire_ts = o->expire_ts,
    };
    ocommit_value_put(&value, &v);
    return group_records_add(r, &key, &value);
}

kerr_t group_metadata_record(const struct group_coord *gc, const char *group_id,
                             struct group_records *out)
{
    const struct group *g = group_find(gc, group_id);
    if (!g)
        return KERR__NOENT;
    struct kbuf key, value;
    kbuf_init(&key);
    okey_put_group(&key, g->id);
    if (g->state == GROUP_DEAD)
        return group_records_add(out, &key, NULL) ? KERR_NONE : KERR__NOMEM;
    struct ogroup_member *ms = calloc(g->nmembers > 0 ? (size_t)g->nmembers : 1, sizeof(*ms));
    if (!ms) {
        kbuf_destroy(&key);
        return KERR__NOMEM;
    }
    for (int32_t i = 0; i < g->nmembers; i++) {
        const struct gmember *m = g->members[i];
        const struct gproto *p = gmember_proto(m, g->protocol_name);
        ms[i] = (struct ogroup_member){
            .member_id = zstr(m->id),
            .instance_id = zstr(m->instance_id),
            .client_id = zstr(m->client_id),
            .client_host = zstr(m->client_host),
            .rebalance_timeout = m->rebalance_timeout_ms,
            .session_timeout = m->session_timeout_ms,
            .subscription = p ? p->meta : NULL,
            .subscription_len = p ? p->len : 0,
            .assignment = m->assignment,
            .assignment_len = m->assignment_len,
        };
    }
    struct ogroup_value v = {
        .version = 3,
        .protocol_type = zstr(g->protocol_type ? g->protocol_type : ""),
        .generation = g->generation,
        .protocol = zstr(g->protocol_name),
        .leader = zstr(g->leader ? g->leader->id : NULL),
        .state_ts = g->state_ts,
        .members = ms,
        .member_count = g->nmembers,
    };
    kbuf_init(&value);
    ogroup_value_put(&value, &v);
    free(ms);
    return group_records_add(out, &key, &value) ? KERR_NONE : KERR__NOMEM;
}

void group_store(struct group_coord *gc, struct group *g, bool await, int64_t now_ms)
{
    struct group_records recs;
    kerr_t err = KERR_NONE;
    if (!gc->ops.store_cb)
        goto out_done;
    group_records_init(&recs);
    err = group_metadata_record(gc, g->id, &recs);
    if (!err && (recs.oom || recs.n != 1))
        err = KERR__NOMEM;
    if (!err)
        gc->ops.store_cb(gc->ops.arg, g->id, g->generation, await, &recs.v[0]);
    group_records_destroy(&recs);
    if (!err)
        return;
out_done:
    if (await)
        group_store_done(gc, g->id, g->generation, err, now_ms);
}

static kerr_t load_offset(struct group_coord *gc, const struct okey *k, const void *value,
                          size_t value_len, int64_t log_offset, int64_t producer_id, int64_t now_ms)
{
    char *group = kstr_dup(k->group), *topic = kstr_dup(k->topic);
    kerr_t err = KERR_NONE;
    if (!group || !topic) {
        err = KERR__NOMEM;
        goto out;
    }
    if (!value) {
        struct group *g = group_find(gc, group);
        struct goffset o = {.topic = topic, .partition = k->partition, .log_offset = log_offset};
        if (g && producer_id >= 0)
            group_txn_load(g, producer_id, &o, true);
        else if (g)
            group_offset_remove(g, topic, k->partition);
        goto out;
    }
    struct ocommit_value v;
    err = ocommit_value_decode(value, value_len, &v);
    if (err)
        goto out;
    char *meta = kstr_dup(v.metadata);
    struct group *g = meta ? group_get_or_create(gc, group, now_ms) : NULL;
    struct goffset o = {topic, k->partition, v.offset,    v.leader_epoch,
                        meta,  v.commit_ts,  v.expire_ts, log_offset};
    bool ok = g && (producer_id >= 0 ? group_txn_load(g, producer_id, &o, false)
                                     : group_offset_put(g, &o));
    if (!ok)
        err = KERR__NOMEM;
    free(meta);
out:
    free(group);
    free(topic);
    return err;
}

static void clear_membership(struct group *g)
{
    while (g->nmembers > 0)
        group_remove_member(g, g->members[g->nmembers - 1]);
    g->leader = NULL;
    gset_str(&g->protocol_type, NULL);
    gset_str(&g->protocol_name, NULL);
    g->has_metadata = false;
}

/* Rebuilds one member from its record: its one protocol is the group's selected protocol with
 * the stored subscription. */
static struct gmember *member_from_record(const struct ogroup_member *om, const char *protocol)
{
    struct gmember *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->id = kstr_dup(om->member_id);
    m->instance_id = kstr_dup(om->instance_id);
    m->client_id = kstr_dup(om->client_id);
    m->client_host = kstr_dup(om->client_host);
    m->session_timeout_ms = om->session_timeout;
    m->rebalance_timeout_ms = om->rebalance_timeout;
    m->assignment = malloc(om->assignment_len > 0 ? (size_t)om->assignment_len : 1);
    struct group_protocol p = {protocol ? protocol : "", om->subscription, om->subscription_len};
    if (!m->id || !m->client_id || !m->client_host || !m->assignment ||
        (!kstr_is_null(om->instance_id) && !m->instance_id) || !gmember_set_protocols(m, &p, 1)) {
        gmember_free(m);
        return NULL;
    }
    if (om->assignment_len > 0)
        memcpy(m->assignment, om->assignment, (size_t)om->assignment_len);
    m->assignment_len = om->assignment_len;
    return m;
}

static kerr_t load_group(struct group_coord *gc, const struct okey *k, const void *value,
                         size_t value_len, int64_t now_ms)
{
    char *id = kstr_dup(k->group);
    if (!id)
        return KERR__NOMEM;
    struct group *g = group_find(gc, id);
    kerr_t err = KERR_NONE;
    if (!value) {
        if (g)
            clear_membership(g);
        goto out;
    }
    struct ogroup_value v;
    err = ogroup_value_decode(value, value_len, &v);
    if (err)
        goto out;
    g = group_get_or_create(gc, id, now_ms);
    if (!g) {
        err = KERR__NOMEM;
        goto out_destroy;
    }
    clear_membership(g);
    g->has_metadata = true;
    g->generation = v.generation;
    g->state_ts = v.state_ts;
    char *ptype = kstr_dup(v.protocol_type), *pname = kstr_dup(v.protocol);
    free(g->protocol_type);
    free(g->protocol_name);
    g->protocol_type = ptype && *ptype ? ptype : NULL;
    g->protocol_name = pname;
    if (ptype && !*ptype)
        free(ptype);
    for (int32_t i = 0; i < v.member_count; i++) {
        struct gmember *m = member_from_record(&v.members[i], g->protocol_name);
        if (!m || !group_add_member(g, m)) {
            gmember_free(m);
            err = KERR__NOMEM;
            break;
        }
        if (!kstr_is_null(v.leader) && kstr_eq(v.leader, m->id))
            g->leader = m;
    }
out_destroy:
    ogroup_value_destroy(&v);
out:
    free(id);
    return err;
}

kerr_t group_load_record_at(struct group_coord *gc, const void *key, size_t key_len,
                            const void *value, size_t value_len, int64_t log_offset,
                            int64_t producer_id, int64_t now_ms)
{
    struct okey k;
    kerr_t err = okey_decode(key, key_len, &k);
    if (err)
        return err;
    if (k.kind == OKEY_OFFSET)
        return load_offset(gc, &k, value, value_len, log_offset, producer_id, now_ms);
    return load_group(gc, &k, value, value_len, now_ms);
}

kerr_t group_load_record(struct group_coord *gc, const void *key, size_t key_len, const void *value,
                         size_t value_len, int64_t now_ms)
{
    return group_load_record_at(gc, key, key_len, value, value_len, -1, -1, now_ms);
}

void group_load_finish(struct group_coord *gc, int64_t now_ms)
{
    for (size_t b = 0; b < gc->nbuckets; b++) {
        struct group *next;
        for (struct group *g = gc->buckets[b]; g; g = next) {
            next = g->next;
            if (!g->has_metadata && g->noffsets == 0 && g->ntxn == 0) {
                group_destroy(gc, g);
                continue;
            }
            g->state = g->nmembers > 0 ? GROUP_STABLE : GROUP_EMPTY;
            for (int32_t i = 0; i < g->nmembers; i++)
                group_touch(g, g->members[i], now_ms);
        }
    }
}
