/*
 * broker/txn/txn_state.c — the transaction metadata table and Kafka's transaction state
 * machine (the rules are in txn_state.h): a chained hash table of entries by transactional
 * id, the checks of InitProducerId / AddPartitionsToTxn / EndTxn, marker completion, timeout
 * fencing, id expiry, the two-step apply of transitions and the replay of
 * `__transaction_state` records, and the counters of txn_stats.h. Threads: the table's owner.
 */
#include "broker/txn/txn_state.h"
#include "common/base.h"

#include <stdlib.h>
#include <string.h>

struct txn_table {
    struct txn_meta **buckets;
    size_t nbuckets;
    size_t count;
    struct txn_stats *stats; /* borrowed; NULL: not counted */
};

static bool status_open(enum txn_status s)
{
    return s == TXN_ONGOING || s == TXN_PREPARE_COMMIT || s == TXN_PREPARE_ABORT ||
           s == TXN_PREPARE_EPOCH_FENCE;
}

/* An entry of t moves from state `from` to `to` (-1: none, for a new or removed entry). */
static void count_open(struct txn_table *t, int from, int to)
{
    int64_t d = (to >= 0 && status_open((enum txn_status)to)) -
                (from >= 0 && status_open((enum txn_status)from));
    if (t->stats && d)
        atomic_fetch_add_explicit(&t->stats->open, d, memory_order_relaxed);
}

/* txn_stats.h: what the pending transition of m is about to apply. */
static void count_transition(struct txn_table *t, struct txn_meta *m)
{
    const struct txn_transit *c = &m->cur, *to = &m->to;
    bool bumped = to->producer_id != c->producer_id || to->producer_epoch != c->producer_epoch;
    bool fence = bumped && c->state == TXN_ONGOING; /* open transaction fenced and aborted */
    bool fenced = bumped && c->producer_epoch >= 0 && to->last_producer_epoch == -1 &&
                  c->producer_epoch != m->unowned_epoch;
    if (bumped)
        m->unowned_epoch = fence ? to->producer_epoch : -1;
    if (to->state != TXN_DEAD) /* a Dead entry is removed: meta_remove() counts it */
        count_open(t, (int)c->state, (int)to->state);
    if (!t->stats)
        return;
    if (to->state == TXN_COMPLETE_COMMIT)
        atomic_fetch_add_explicit(&t->stats->committed, 1, memory_order_relaxed);
    else if (to->state == TXN_COMPLETE_ABORT)
        atomic_fetch_add_explicit(&t->stats->aborted, 1, memory_order_relaxed);
    if (fenced)
        atomic_fetch_add_explicit(&t->stats->fenced, 1, memory_order_relaxed);
}

static uint64_t id_hash(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 1099511628211ULL;
    return h;
}

struct txn_table *txn_table_new(void)
{
    struct txn_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->nbuckets = 64;
    t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
    if (!t->buckets) {
        free(t);
        return NULL;
    }
    return t;
}

static void parts_free(struct txn_tp *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(p[i].topic);
    free(p);
}

static void transit_clear(struct txn_transit *x)
{
    parts_free(x->parts, x->nparts);
    x->parts = NULL;
    x->nparts = 0;
}

static void meta_free(struct txn_meta *m)
{
    transit_clear(&m->cur);
    transit_clear(&m->to);
    free(m->id);
    free(m);
}

void txn_table_free(struct txn_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct txn_meta *m = t->buckets[i];
        while (m) {
            struct txn_meta *next = m->next;
            count_open(t, (int)m->cur.state, -1);
            meta_free(m);
            m = next;
        }
    }
    free(t->buckets);
    free(t);
}

size_t txn_table_count(const struct txn_table *t) { return t->count; }

void txn_table_set_stats(struct txn_table *t, struct txn_stats *s)
{
    KASSERT(t->count == 0);
    t->stats = s;
}

struct txn_meta *txn_table_get(const struct txn_table *t, const char *id, size_t id_len)
{
    for (struct txn_meta *m = t->buckets[id_hash(id, id_len) % t->nbuckets]; m; m = m->next)
        if (m->id_len == id_len && memcmp(m->id, id, id_len) == 0)
            return m;
    return NULL;
}

void txn_table_foreach(struct txn_table *t, void (*fn)(struct txn_meta *m, void *arg), void *arg)
{
    for (size_t i = 0; i < t->nbuckets; i++)
        for (struct txn_meta *m = t->buckets[i]; m; m = m->next)
            fn(m, arg);
}

static void table_grow(struct txn_table *t)
{
    size_t nb = t->nbuckets * 2;
    struct txn_meta **b = calloc(nb, sizeof(*b));
    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct txn_meta *m = t->buckets[i];
        while (m) {
            struct txn_meta *next = m->next;
            size_t h = id_hash(m->id, m->id_len) % nb;
            m->next = b[h];
            b[h] = m;
            m = next;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
}

/* A new entry (Empty, epoch -1) inserted into the table; NULL when memory is short. */
static struct txn_meta *meta_add(struct txn_table *t, const char *id, size_t id_len)
{
    struct txn_meta *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->id = malloc(id_len + 1);
    if (!m->id) {
        free(m);
        return NULL;
    }
    memcpy(m->id, id, id_len);
    m->id[id_len] = '\0';
    m->id_len = id_len;
    m->cur.producer_id = -1;
    m->cur.last_producer_id = -1;
    m->cur.producer_epoch = -1;
    m->cur.last_producer_epoch = -1;
    m->cur.state = TXN_EMPTY;
    m->cur.start_ms = -1;
    m->cur.last_update_ms = -1;
    m->unowned_epoch = -1;
    if (t->count >= t->nbuckets)
        table_grow(t);
    size_t h = id_hash(id, id_len) % t->nbuckets;
    m->next = t->buckets[h];
    t->buckets[h] = m;
    t->count++;
    return m;
}

static void meta_remove(struct txn_table *t, struct txn_meta *m)
{
    struct txn_meta **pp = &t->buckets[id_hash(m->id, m->id_len) % t->nbuckets];
    while (*pp && *pp != m)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = m->next;
        t->count--;
    }
    count_open(t, (int)m->cur.state, -1);
    meta_free(m);
}

bool txn_transition_legal(enum txn_status from, enum txn_status to)
{
    switch (to) {
    case TXN_EMPTY:
        return from == TXN_EMPTY || from == TXN_COMPLETE_COMMIT || from == TXN_COMPLETE_ABORT;
    case TXN_ONGOING:
        return from == TXN_ONGOING || from == TXN_EMPTY || from == TXN_COMPLETE_COMMIT ||
               from == TXN_COMPLETE_ABORT;
    case TXN_PREPARE_COMMIT:
        return from == TXN_ONGOING;
    case TXN_PREPARE_ABORT:
        return from == TXN_ONGOING || from == TXN_PREPARE_EPOCH_FENCE;
    case TXN_COMPLETE_COMMIT:
        return from == TXN_PREPARE_COMMIT;
    case TXN_COMPLETE_ABORT:
        return from == TXN_PREPARE_ABORT;
    case TXN_DEAD:
        return from == TXN_EMPTY || from == TXN_COMPLETE_COMMIT || from == TXN_COMPLETE_ABORT;
    case TXN_PREPARE_EPOCH_FENCE:
        return from == TXN_ONGOING;
    }
    return false;
}

static int tp_cmp(const void *a, const void *b)
{
    const struct txn_tp *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    if (c)
        return c;
    return (x->partition > y->partition) - (x->partition < y->partition);
}

static bool tp_has(const struct txn_transit *x, const struct txn_tp *tp)
{
    return bsearch(tp, x->parts, x->nparts, sizeof(*tp), tp_cmp) != NULL;
}

/* dst = src's partitions plus add[n] (sorted, unique); false when memory is short. */
static bool parts_union(struct txn_transit *dst, const struct txn_transit *src,
                        const struct txn_tp *add, size_t n)
{
    size_t cap = src->nparts + n;
    dst->parts = cap ? calloc(cap, sizeof(*dst->parts)) : NULL;
    dst->nparts = 0;
    if (cap && !dst->parts)
        return false;
    for (size_t i = 0; i < cap; i++) {
        const struct txn_tp *s = i < src->nparts ? &src->parts[i] : &add[i - src->nparts];
        char *topic = strdup(s->topic);
        if (!topic) {
            transit_clear(dst);
            return false;
        }
        dst->parts[dst->nparts++] = (struct txn_tp){topic, s->partition};
    }
    if (dst->nparts > 1)
        qsort(dst->parts, dst->nparts, sizeof(*dst->parts), tp_cmp);
    size_t w = 0;
    for (size_t i = 0; i < dst->nparts; i++) {
        if (w > 0 && tp_cmp(&dst->parts[w - 1], &dst->parts[i]) == 0) {
            free(dst->parts[i].topic);
            continue;
        }
        dst->parts[w++] = dst->parts[i];
    }
    dst->nparts = w;
    return true;
}

/* Makes m pending towards a copy of cur with state and partitions set by the caller next. */
static struct txn_result begin(struct txn_meta *m, enum txn_status state, int64_t now_ms,
                               bool keep_parts, const struct txn_tp *add, size_t n)
{
    struct txn_result r = {KERR_NONE, true, &m->to, m};
    struct txn_transit *to = &m->to;
    transit_clear(to);
    *to = m->cur;
    to->parts = NULL;
    to->nparts = 0;
    to->state = state;
    to->last_update_ms = now_ms;
    static const struct txn_transit none = {0};
    if (!parts_union(to, keep_parts ? &m->cur : &none, add, n)) {
        r.err = KERR__NOMEM;
        r.write = false;
        r.to = NULL;
        return r;
    }
    m->pending = true;
    return r;
}

static struct txn_result answer(struct txn_meta *m, kerr_t err)
{
    return (struct txn_result){err, false, NULL, m};
}

/* PrepareAbort of m's open transaction, fencing its producer: the epoch is bumped (Kafka's
 * prepareFenceProducerEpoch), unless it is already INT16_MAX, where no bump is possible: the
 * abort keeps the epoch (its markers still close the transaction on every partition, as they
 * only need an epoch at least the producer's) and the next InitProducerId rotates the id, as
 * for any epoch at or above TXN_EPOCH_EXHAUSTED. */
static struct txn_result fence_and_abort(struct txn_meta *m, int64_t now_ms)
{
    struct txn_result r = begin(m, TXN_PREPARE_ABORT, now_ms, true, NULL, 0);
    if (r.write) {
        if (m->cur.producer_epoch < INT16_MAX)
            m->to.producer_epoch = (int16_t)(m->cur.producer_epoch + 1);
        m->to.last_producer_epoch = -1;
    }
    return r;
}

static bool id_valid(const char *id, size_t id_len)
{
    return id && id_len > 0 && id_len <= TXN_ID_MAX;
}

struct txn_result txn_init_pid(struct txn_table *t, const char *id, size_t id_len,
                               int32_t timeout_ms, int32_t max_timeout_ms, int64_t expect_pid,
                               int16_t expect_epoch, bool fenced_ok, int64_t new_pid,
                               bool *used_new_pid, int64_t now_ms)
{
    *used_new_pid = false;
    if (!id_valid(id, id_len))
        return answer(NULL, KERR_INVALID_REQUEST);
    if (timeout_ms <= 0 || timeout_ms > max_timeout_ms)
        return answer(NULL, KERR_INVALID_TRANSACTION_TIMEOUT);
    bool expected = expect_pid >= 0 || expect_epoch >= 0;
    struct txn_meta *m = txn_table_get(t, id, id_len);
    if (!m) {
        m = meta_add(t, id, id_len);
        if (!m)
            return answer(NULL, KERR__NOMEM);
        m->cur.producer_id = new_pid;
        m->cur.timeout_ms = timeout_ms;
        m->cur.last_update_ms = now_ms;
        *used_new_pid = true;
    }
    struct txn_transit *c = &m->cur;
    if (m->pending)
        return answer(m, KERR_CONCURRENT_TRANSACTIONS);
    /* Kafka's isValidProducerId: a fresh entry, the current id, or a retry of a rotation. */
    if (expected && c->producer_epoch != -1 && expect_pid != c->producer_id &&
        !(expect_pid == c->last_producer_id && expect_epoch >= TXN_EPOCH_EXHAUSTED))
        return answer(m, txn_fenced_error(fenced_ok));
    struct txn_result r;
    switch (c->state) {
    case TXN_PREPARE_COMMIT:
    case TXN_PREPARE_ABORT:
    case TXN_DEAD:
    case TXN_PREPARE_EPOCH_FENCE:
        return answer(m, KERR_CONCURRENT_TRANSACTIONS);
    case TXN_ONGOING:
        /* Fence the open transaction and abort it; the client retries. */
        r = fence_and_abort(m, now_ms);
        if (r.write)
            r.err = KERR_CONCURRENT_TRANSACTIONS;
        return r;
    case TXN_EMPTY:
    case TXN_COMPLETE_COMMIT:
    case TXN_COMPLETE_ABORT:
        break;
    }
    if (c->producer_epoch >= TXN_EPOCH_EXHAUSTED &&
        (!expected || expect_epoch == c->producer_epoch)) {
        /* Rotation: a new producer id at epoch 0. */
        r = begin(m, TXN_EMPTY, now_ms, false, NULL, 0);
        if (r.write) {
            if (c->producer_id != new_pid)
                *used_new_pid = true;
            m->to.last_producer_id = c->producer_id;
            m->to.producer_id = new_pid;
            m->to.producer_epoch = 0;
            m->to.last_producer_epoch = expected ? c->producer_epoch : -1;
            m->to.timeout_ms = timeout_ms;
            m->to.start_ms = -1;
        }
        return r;
    }
    int16_t epoch, last_epoch;
    if (!expected || c->producer_epoch == -1 || expect_epoch == c->producer_epoch) {
        epoch = (int16_t)(c->producer_epoch + 1);
        last_epoch = expected ? c->producer_epoch : -1;
    } else if (expect_epoch == c->last_producer_epoch) {
        /* A retry of a bump whose answer was lost: answer the same epoch again. */
        epoch = c->producer_epoch;
        last_epoch = c->last_producer_epoch;
    } else {
        return answer(m, txn_fenced_error(fenced_ok));
    }
    r = begin(m, TXN_EMPTY, now_ms, false, NULL, 0);
    if (r.write) {
        m->to.producer_epoch = epoch;
        m->to.last_producer_epoch = last_epoch;
        m->to.timeout_ms = timeout_ms;
        m->to.start_ms = -1;
    }
    return r;
}

/* The producer checks shared by AddPartitionsToTxn and EndTxn. */
static kerr_t check_producer(const struct txn_meta *m, int64_t pid, int16_t epoch, bool fenced_ok)
{
    if (!m || m->cur.producer_id != pid)
        return KERR_INVALID_PRODUCER_ID_MAPPING;
    if (m->cur.producer_epoch != epoch)
        return txn_fenced_error(fenced_ok);
    return KERR_NONE;
}

struct txn_result txn_add_partitions(struct txn_table *t, const char *id, size_t id_len,
                                     int64_t pid, int16_t epoch, const struct txn_tp *parts,
                                     size_t n, bool fenced_ok, int64_t now_ms)
{
    if (!id_valid(id, id_len))
        return answer(NULL, KERR_INVALID_REQUEST);
    struct txn_meta *m = txn_table_get(t, id, id_len);
    kerr_t err = check_producer(m, pid, epoch, fenced_ok);
    if (err)
        return answer(m, err);
    struct txn_transit *c = &m->cur;
    if (m->pending || c->state == TXN_PREPARE_COMMIT || c->state == TXN_PREPARE_ABORT)
        return answer(m, KERR_CONCURRENT_TRANSACTIONS);
    if (c->state == TXN_DEAD || c->state == TXN_PREPARE_EPOCH_FENCE)
        return answer(m, KERR_INVALID_TXN_STATE);
    if (c->state == TXN_ONGOING) {
        size_t i = 0;
        while (i < n && tp_has(c, &parts[i]))
            i++;
        if (i == n)
            return answer(m, KERR_NONE);
    }
    bool open = c->state == TXN_ONGOING;
    struct txn_result r = begin(m, TXN_ONGOING, now_ms, open, parts, n);
    if (r.write && !open)
        m->to.start_ms = now_ms;
    return r;
}

struct txn_result txn_end(struct txn_table *t, const char *id, size_t id_len, int64_t pid,
                          int16_t epoch, bool commit, bool fenced_ok, int64_t now_ms)
{
    if (!id_valid(id, id_len))
        return answer(NULL, KERR_INVALID_REQUEST);
    struct txn_meta *m = txn_table_get(t, id, id_len);
    kerr_t err = check_producer(m, pid, epoch, fenced_ok);
    if (err)
        return answer(m, err);
    if (m->pending)
        return answer(m, KERR_CONCURRENT_TRANSACTIONS);
    switch (m->cur.state) {
    case TXN_ONGOING:
        return begin(m, commit ? TXN_PREPARE_COMMIT : TXN_PREPARE_ABORT, now_ms, true, NULL, 0);
    case TXN_COMPLETE_COMMIT:
        return answer(m, commit ? KERR_NONE : KERR_INVALID_TXN_STATE);
    case TXN_COMPLETE_ABORT:
        return answer(m, commit ? KERR_INVALID_TXN_STATE : KERR_NONE);
    case TXN_PREPARE_COMMIT:
        return answer(m, commit ? KERR_CONCURRENT_TRANSACTIONS : KERR_INVALID_TXN_STATE);
    case TXN_PREPARE_ABORT:
        return answer(m, commit ? KERR_INVALID_TXN_STATE : KERR_CONCURRENT_TRANSACTIONS);
    case TXN_EMPTY:
    case TXN_DEAD:
    case TXN_PREPARE_EPOCH_FENCE:
        break;
    }
    return answer(m, KERR_INVALID_TXN_STATE);
}

struct txn_result txn_complete(struct txn_table *t, struct txn_meta *m, int64_t now_ms)
{
    (void)t;
    if (m->pending)
        return answer(m, KERR_CONCURRENT_TRANSACTIONS);
    if (m->cur.state == TXN_PREPARE_COMMIT)
        return begin(m, TXN_COMPLETE_COMMIT, now_ms, false, NULL, 0);
    if (m->cur.state == TXN_PREPARE_ABORT)
        return begin(m, TXN_COMPLETE_ABORT, now_ms, false, NULL, 0);
    return answer(m, KERR_INVALID_TXN_STATE);
}

struct txn_result txn_fence_timed_out(struct txn_table *t, struct txn_meta *m, int64_t now_ms)
{
    (void)t;
    if (m->pending)
        return answer(m, KERR_CONCURRENT_TRANSACTIONS);
    if (m->cur.state != TXN_ONGOING || m->cur.start_ms + m->cur.timeout_ms > now_ms)
        return answer(m, KERR_INVALID_TXN_STATE);
    return fence_and_abort(m, now_ms);
}

struct txn_result txn_expire(struct txn_table *t, struct txn_meta *m, int64_t expiration_ms,
                             int64_t now_ms)
{
    (void)t;
    if (m->pending)
        return answer(m, KERR_CONCURRENT_TRANSACTIONS);
    if (!txn_transition_legal(m->cur.state, TXN_DEAD) ||
        m->cur.last_update_ms + expiration_ms > now_ms)
        return answer(m, KERR_INVALID_TXN_STATE);
    return begin(m, TXN_DEAD, now_ms, false, NULL, 0);
}

void txn_apply(struct txn_table *t, struct txn_meta *m)
{
    if (!m->pending)
        return;
    m->pending = false;
    count_transition(t, m);
    if (m->to.state == TXN_DEAD) {
        meta_remove(t, m);
        return;
    }
    transit_clear(&m->cur);
    m->cur = m->to;
    memset(&m->to, 0, sizeof(m->to));
}

void txn_abandon(struct txn_table *t, struct txn_meta *m)
{
    m->pending = false;
    transit_clear(&m->to);
    if (m->cur.producer_epoch == -1 && m->cur.state == TXN_EMPTY)
        meta_remove(t, m); /* created by txn_init_pid() and never written */
}

kerr_t txn_transit_record(const struct txn_meta *m, const struct txn_transit *to, struct kbuf *key,
                          struct kbuf *value, bool *tombstone)
{
    txn_log_key_put(key, m->id, m->id_len);
    *tombstone = to->state == TXN_DEAD;
    if (*tombstone)
        return key->oom ? KERR__NOMEM : KERR_NONE;
    /* One topic entry per run of equal topics in the sorted partition list. */
    struct txn_log_topic *topics = to->nparts ? calloc(to->nparts, sizeof(*topics)) : NULL;
    int32_t *ids = to->nparts ? calloc(to->nparts, sizeof(*ids)) : NULL;
    if (to->nparts && (!topics || !ids)) {
        free(topics);
        free(ids);
        return KERR__NOMEM;
    }
    int32_t nt = 0;
    for (size_t i = 0; i < to->nparts; i++) {
        ids[i] = to->parts[i].partition;
        if (nt > 0 && strcmp(topics[nt - 1].topic.ptr, to->parts[i].topic) == 0) {
            topics[nt - 1].count++;
            continue;
        }
        topics[nt++] = (struct txn_log_topic){
            {to->parts[i].topic, (int32_t)strlen(to->parts[i].topic)}, &ids[i], 1};
    }
    struct txn_log_value v = {
        .version = to->last_producer_id != -1 ? 1 : 0,
        .producer_id = to->producer_id,
        .producer_epoch = to->producer_epoch,
        .timeout_ms = to->timeout_ms,
        .status = (int8_t)to->state,
        .topics = topics,
        .topic_count = nt,
        .last_update_ms = to->last_update_ms,
        .start_ms = to->start_ms,
        .prev_producer_id = to->last_producer_id,
        .next_producer_id = -1,
    };
    kerr_t err = txn_log_value_put(value, &v);
    free(topics);
    free(ids);
    if (!err && (key->oom || value->oom))
        err = KERR__NOMEM;
    return err;
}

kerr_t txn_table_load_record(struct txn_table *t, const void *key, size_t key_len,
                             const void *value, size_t value_len)
{
    struct kstr id;
    if (txn_log_key_decode(key, key_len, &id) != KERR_NONE || !id_valid(id.ptr, (size_t)id.len))
        return KERR__CORRUPT;
    struct txn_meta *m = txn_table_get(t, id.ptr, (size_t)id.len);
    if (!value) {
        if (m)
            meta_remove(t, m);
        return KERR_NONE;
    }
    struct txn_log_value v;
    kerr_t err = txn_log_value_decode(value, value_len, &v);
    if (err) {
        txn_log_value_destroy(&v);
        return err;
    }
    struct txn_transit x = {
        .producer_id = v.producer_id,
        .last_producer_id = v.prev_producer_id,
        .producer_epoch = v.producer_epoch,
        .last_producer_epoch = -1,
        .timeout_ms = v.timeout_ms,
        .state = (enum txn_status)v.status,
        .start_ms = v.start_ms,
        .last_update_ms = v.last_update_ms,
    };
    size_t n = 0;
    bool counts_ok = v.topic_count >= 0;
    for (int32_t i = 0; counts_ok && i < v.topic_count; i++) {
        counts_ok = v.topics[i].count >= 0;
        n += counts_ok ? (size_t)v.topics[i].count : 0;
    }
    if (!counts_ok) { /* the decoder never gives negative counts; a record must not either */
        txn_log_value_destroy(&v);
        return KERR__CORRUPT;
    }
    struct txn_tp *add = n ? calloc(n, sizeof(*add)) : NULL;
    char **names = v.topic_count > 0 ? calloc((size_t)v.topic_count, sizeof(*names)) : NULL;
    bool ok = (!n || add) && (!v.topic_count || names);
    size_t k = 0;
    for (int32_t i = 0; ok && i < v.topic_count; i++) {
        names[i] = kstr_dup(v.topics[i].topic);
        ok = names[i] != NULL;
        for (int32_t j = 0; ok && j < v.topics[i].count; j++)
            add[k++] = (struct txn_tp){names[i], v.topics[i].partitions[j]};
    }
    static const struct txn_transit none = {0};
    ok = ok && parts_union(&x, &none, add, k);
    for (int32_t i = 0; names && i < v.topic_count; i++)
        free(names[i]);
    free(names);
    free(add);
    txn_log_value_destroy(&v);
    if (!ok)
        return KERR__NOMEM;
    if (!m) {
        m = meta_add(t, id.ptr, (size_t)id.len);
        if (!m) {
            transit_clear(&x);
            return KERR__NOMEM;
        }
    }
    count_open(t, (int)m->cur.state, (int)x.state);
    transit_clear(&m->cur);
    transit_clear(&m->to);
    m->pending = false;
    m->unowned_epoch = -1;
    m->markers_refused = false;
    m->markers_done = false;
    m->cur = x;
    return KERR_NONE;
}
