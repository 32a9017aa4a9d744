/*
 * broker/storage/producer_state.c — the per-partition producer map and the
 * idempotence rules (see producer_state.h; Kafka's ProducerStateEntry and
 * ProducerAppendInfo.checkProducerEpoch / checkSequence).
 *
 * The map is open addressing with linear probing over a power-of-two
 * array, at most 1/2 full; removal shifts the following cluster back
 * (no tombstones), so lookups stay short after expiry.
 */
#include "broker/storage/producer_state.h"

#include <stdlib.h>
#include <string.h>

#define PSTATE_MIN_CAP 16

static size_t slot_of(int64_t pid, size_t cap)
{
    uint64_t h = (uint64_t)pid * 0x9E3779B97F4A7C15ULL; /* Fibonacci hashing */
    return (size_t)(h >> 32) & (cap - 1);
}

void pstate_init(struct pstate_map *m) { *m = (struct pstate_map){0}; }

void pstate_destroy(struct pstate_map *m)
{
    free(m->slots);
    *m = (struct pstate_map){0};
}

void pstate_clear(struct pstate_map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        m->slots[i].producer_id = -1;
    m->n = 0;
    m->n_open = 0;
}

/* Recounts the open transactions and the oldest one's first offset: after
 * the oldest ended, or an entry was replaced whole. */
static void rescan_open(struct pstate_map *m)
{
    m->n_open = 0;
    m->first_unstable = -1;
    for (size_t i = 0; i < m->cap; i++) {
        const struct pstate_entry *e = &m->slots[i];
        if (e->producer_id < 0 || e->txn_first_offset < 0)
            continue;
        if (m->n_open++ == 0 || e->txn_first_offset < m->first_unstable)
            m->first_unstable = e->txn_first_offset;
    }
}

static struct pstate_entry *find_slot(const struct pstate_map *m, int64_t pid)
{
    if (m->cap == 0)
        return NULL;
    for (size_t i = slot_of(pid, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->slots[i].producer_id == pid)
            return &m->slots[i];
        if (m->slots[i].producer_id < 0)
            return NULL;
    }
}

const struct pstate_entry *pstate_find(const struct pstate_map *m, int64_t producer_id)
{
    return producer_id < 0 ? NULL : find_slot(m, producer_id);
}

const struct pstate_entry *pstate_next(const struct pstate_map *m, size_t *pos)
{
    while (*pos < m->cap) {
        const struct pstate_entry *e = &m->slots[(*pos)++];
        if (e->producer_id >= 0)
            return e;
    }
    return NULL;
}

/* Places e (not present) without growing. */
static struct pstate_entry *place(struct pstate_map *m, int64_t pid)
{
    size_t i = slot_of(pid, m->cap);
    while (m->slots[i].producer_id >= 0)
        i = (i + 1) & (m->cap - 1);
    m->n++;
    return &m->slots[i];
}

static kerr_t grow(struct pstate_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : PSTATE_MIN_CAP;
    struct pstate_entry *old = m->slots, *s = malloc(cap * sizeof(*s));
    size_t oldcap = m->cap;

    if (!s)
        return KERR__NOMEM;
    for (size_t i = 0; i < cap; i++)
        s[i].producer_id = -1;
    m->slots = s;
    m->cap = cap;
    m->n = 0;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].producer_id >= 0)
            *place(m, old[i].producer_id) = old[i];
    free(old);
    return KERR_NONE;
}

/* Removes the entry at slot i, shifting the rest of its cluster back. */
static void remove_at(struct pstate_map *m, size_t i)
{
    size_t mask = m->cap - 1, j = i;

    m->slots[i].producer_id = -1;
    m->n--;
    for (;;) {
        j = (j + 1) & mask;
        if (m->slots[j].producer_id < 0)
            return;
        size_t home = slot_of(m->slots[j].producer_id, m->cap);
        /* j may move to the hole at i when its home is not in (i, j]. */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            m->slots[i] = m->slots[j];
            m->slots[j].producer_id = -1;
            i = j;
        }
    }
}

int32_t pstate_seq_add(int32_t base, int32_t delta)
{
    if (base > INT32_MAX - delta)
        return delta - (INT32_MAX - base) - 1;
    return base + delta;
}

static bool in_sequence(int32_t last, int32_t next)
{
    return (int64_t)next == (int64_t)last + 1 || (next == 0 && last == INT32_MAX);
}

kerr_t pstate_check(const struct pstate_entry *e, int16_t epoch, int32_t first_seq,
                    int32_t last_seq, const struct pstate_batch **dup, const char **why)
{
    const char *dummy;

    if (!why)
        why = &dummy;
    *why = NULL;
    if (dup)
        *dup = NULL;
    if (!e || e->epoch == PSTATE_NO_EPOCH)
        return KERR_NONE; /* unknown producer: any sequence (Kafka >= 2.5) */
    if (epoch == e->epoch) {
        for (int i = 0; i < e->n; i++) {
            const struct pstate_batch *b = &e->batches[(e->head + i) % PSTATE_WINDOW];
            if (b->first_seq == first_seq && b->last_seq == last_seq) {
                if (dup)
                    *dup = b;
                *why = "duplicate of a recent batch";
                return KERR_DUPLICATE_SEQUENCE_NUMBER;
            }
        }
    }
    if (epoch < e->epoch) {
        *why = "producer epoch older than the current one";
        return KERR_INVALID_PRODUCER_EPOCH;
    }
    if (epoch > e->epoch) {
        if (first_seq != 0) {
            *why = "a new producer epoch must start at sequence 0";
            return KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
        }
        return KERR_NONE;
    }
    if (e->n > 0 && !in_sequence(pstate_last_seq(e), first_seq)) {
        *why = "sequence is not the last sequence + 1";
        return KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
    }
    return KERR_NONE;
}

static struct pstate_entry *get_or_add(struct pstate_map *m, int64_t pid, kerr_t *err)
{
    struct pstate_entry *e = find_slot(m, pid);

    *err = KERR_NONE;
    if (e)
        return e;
    if ((m->n + 1) * 2 > m->cap && (*err = grow(m)) != KERR_NONE)
        return NULL;
    e = place(m, pid);
    *e = (struct pstate_entry){.producer_id = pid,
                               .epoch = PSTATE_NO_EPOCH,
                               .coordinator_epoch = -1,
                               .txn_first_offset = -1};
    return e;
}

kerr_t pstate_update(struct pstate_map *m, int64_t producer_id, int16_t epoch,
                     const struct pstate_batch *b, int64_t now_ms)
{
    kerr_t err;
    struct pstate_entry *e = get_or_add(m, producer_id, &err);

    if (!e)
        return err;
    if (e->epoch != epoch) {
        e->epoch = epoch;
        e->n = 0;
        e->head = 0;
    }
    if (e->n == PSTATE_WINDOW) {
        e->head = (uint8_t)((e->head + 1) % PSTATE_WINDOW);
        e->n--;
    }
    e->batches[(e->head + e->n) % PSTATE_WINDOW] = *b;
    e->n++;
    e->last_update_ms = now_ms;
    return KERR_NONE;
}

void pstate_txn_data(struct pstate_map *m, int64_t producer_id, int64_t first_offset)
{
    struct pstate_entry *e = producer_id < 0 ? NULL : find_slot(m, producer_id);
    if (!e || e->txn_first_offset >= 0)
        return;
    e->txn_first_offset = first_offset;
    if (m->n_open++ == 0 || first_offset < m->first_unstable)
        m->first_unstable = first_offset;
}

kerr_t pstate_check_marker(const struct pstate_entry *e, int16_t epoch, int32_t coordinator_epoch)
{
    if (!e)
        return KERR_NONE;
    if (e->epoch != PSTATE_NO_EPOCH && epoch < e->epoch)
        return KERR_INVALID_PRODUCER_EPOCH;
    if (coordinator_epoch < e->coordinator_epoch)
        return KERR_TRANSACTION_COORDINATOR_FENCED;
    return KERR_NONE;
}

kerr_t pstate_end_txn(struct pstate_map *m, int64_t producer_id, int16_t epoch,
                      int32_t coordinator_epoch, int64_t now_ms, int64_t *txn_first)
{
    kerr_t err;
    struct pstate_entry *e = get_or_add(m, producer_id, &err);

    if (txn_first)
        *txn_first = -1;
    if (!e)
        return err;
    if (e->epoch != epoch) {
        e->epoch = epoch;
        e->n = 0;
        e->head = 0;
    }
    if (txn_first)
        *txn_first = e->txn_first_offset;
    if (e->txn_first_offset >= 0) {
        int64_t ended = e->txn_first_offset;
        e->txn_first_offset = -1;
        if (--m->n_open > 0 && ended <= m->first_unstable)
            rescan_open(m);
    }
    e->coordinator_epoch = coordinator_epoch;
    e->last_update_ms = now_ms;
    return KERR_NONE;
}

int64_t pstate_first_unstable_offset(const struct pstate_map *m)
{
    return m->n_open > 0 ? m->first_unstable : -1;
}

kerr_t pstate_put(struct pstate_map *m, const struct pstate_entry *src)
{
    kerr_t err;
    struct pstate_entry *e;

    if (src->producer_id < 0 || src->n > PSTATE_WINDOW || src->head >= PSTATE_WINDOW)
        return KERR__INVALID;
    e = get_or_add(m, src->producer_id, &err);
    if (!e)
        return err;
    bool was_open = e->txn_first_offset >= 0;
    *e = *src;
    if (was_open)
        rescan_open(m); /* snapshot load: rare */
    else if (e->txn_first_offset >= 0 &&
             (m->n_open++ == 0 || e->txn_first_offset < m->first_unstable))
        m->first_unstable = e->txn_first_offset;
    return KERR_NONE;
}

int pstate_expire(struct pstate_map *m, int64_t now_ms, int64_t expiration_ms)
{
    int removed = 0;

    for (size_t i = 0; i < m->cap;) {
        struct pstate_entry *e = &m->slots[i];
        if (e->producer_id >= 0 && e->txn_first_offset < 0 &&
            now_ms - e->last_update_ms > expiration_ms) {
            remove_at(m, i); /* a later entry may have moved into i */
            removed++;
            continue;
        }
        i++;
    }
    return removed;
}

int pstate_remove_before(struct pstate_map *m, int64_t offset)
{
    int removed = 0;

    for (size_t i = 0; i < m->cap;) {
        struct pstate_entry *e = &m->slots[i];
        if (e->producer_id >= 0 && e->txn_first_offset < 0 &&
            (e->n == 0 || pstate_last_batch(e)->last_offset < offset)) {
            remove_at(m, i);
            removed++;
            continue;
        }
        i++;
    }
    return removed;
}

bool pstate_truncate_needs_rebuild(const struct pstate_map *m, int64_t offset)
{
    for (size_t i = 0; i < m->cap; i++) {
        const struct pstate_entry *e = &m->slots[i];
        if (e->producer_id < 0)
            continue;
        if (e->n > 0 && pstate_last_batch(e)->last_offset >= offset)
            return true;
        /* a removed marker reopens a transaction; a removed data batch may
         * have opened one */
        if (e->txn_first_offset >= offset || e->coordinator_epoch >= 0)
            return true;
    }
    return false;
}
