/*
 * broker/storage/cleaner_txn.c — producer and transaction bookkeeping of a
 * log cleaner pass (the rules are in cleaner_txn.h): a hash table of the
 * producer ids met, and the pass's copy of the aborted transaction list
 * walked by first offset.
 */
#include "broker/storage/cleaner_txn.h"

#include <stdlib.h>
#include <string.h>

#define SLOTS_MIN 16

static size_t pid_hash(int64_t pid)
{
    uint64_t x = (uint64_t)pid + 0x9e3779b97f4a7c15ULL; /* splitmix64 finaliser */
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return (size_t)(x ^ (x >> 31));
}

static struct cleaner_pid *slot_find(const struct cleaner_txn *t, int64_t pid)
{
    if (t->cap == 0)
        return NULL;
    for (size_t i = pid_hash(pid) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        if (t->slots[i].pid == pid)
            return &t->slots[i];
        if (t->slots[i].pid < 0)
            return NULL;
    }
}

static void slots_clear(struct cleaner_pid *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (struct cleaner_pid){.pid = -1, .last_data = -1, .last_ctrl = -1};
}

/* Doubles the table (load kept at most 1/2). */
static bool slots_grow(struct cleaner_txn *t)
{
    size_t cap = t->cap ? t->cap * 2 : SLOTS_MIN;
    struct cleaner_pid *v = malloc(cap * sizeof(*v));

    if (!v || cap < t->cap) {
        free(v);
        return false;
    }
    slots_clear(v, cap);
    for (size_t k = 0; k < t->cap; k++) {
        if (t->slots[k].pid < 0)
            continue;
        size_t i = pid_hash(t->slots[k].pid) & (cap - 1);
        while (v[i].pid >= 0)
            i = (i + 1) & (cap - 1);
        v[i] = t->slots[k];
    }
    free(t->slots);
    t->slots = v;
    t->cap = cap;
    return true;
}

/* The slot of pid (>= 0), added when missing; NULL on OOM. */
static struct cleaner_pid *slot_get(struct cleaner_txn *t, int64_t pid)
{
    struct cleaner_pid *s = slot_find(t, pid);
    size_t i;

    if (s)
        return s;
    if ((t->used + 1) * 2 > t->cap && !slots_grow(t))
        return NULL;
    for (i = pid_hash(pid) & (t->cap - 1); t->slots[i].pid >= 0; i = (i + 1) & (t->cap - 1))
        ;
    t->slots[i].pid = pid;
    t->used++;
    return &t->slots[i];
}

/* True if entry a walks before entry b: by first offset, then marker. */
static bool walks_before(const struct aborted_txn *a, const struct aborted_txn *b)
{
    return a->first_offset < b->first_offset ||
           (a->first_offset == b->first_offset && a->last_offset < b->last_offset);
}

/* Insertion sort of the indexes by first offset: the list is ordered by
 * marker and transactions overlap only across producers, so it is nearly
 * sorted already (the cost is the number of overlapping pairs). */
static void sort_by_first(size_t *idx, size_t n, const struct aborted_txn *v)
{
    for (size_t i = 1; i < n; i++) {
        size_t x = idx[i], j = i;
        while (j > 0 && walks_before(&v[x], &v[idx[j - 1]])) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = x;
    }
}

kerr_t cleaner_txn_init(struct cleaner_txn *t, const struct txnidx_list *l, int64_t upto)
{
    size_t n = 0;

    memset(t, 0, sizeof(*t));
    for (size_t i = 0; i < l->n; i++)
        n += l->v[i].first_offset < upto;
    if (n == 0)
        return KERR_NONE;
    t->aborted = malloc(n * sizeof(*t->aborted));
    t->by_first = malloc(n * sizeof(*t->by_first));
    if (!t->aborted || !t->by_first) {
        cleaner_txn_free(t);
        return KERR__NOMEM;
    }
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].first_offset < upto) {
            t->by_first[t->naborted] = t->naborted;
            t->aborted[t->naborted++] = l->v[i];
        }
    sort_by_first(t->by_first, t->naborted, t->aborted);
    return KERR_NONE;
}

void cleaner_txn_free(struct cleaner_txn *t)
{
    free(t->slots);
    free(t->aborted);
    free(t->by_first);
    memset(t, 0, sizeof(*t));
}

kerr_t cleaner_txn_note_last(struct cleaner_txn *t, const struct batch_hdr *h)
{
    struct cleaner_pid *s = slot_get(t, h->producer_id);

    if (!s)
        return KERR__NOMEM;
    if (batch_is_control(h)) {
        s->last_ctrl = h->base_offset;
        s->ctrl_epoch = h->producer_epoch;
    } else {
        s->last_data = h->base_offset;
        s->data_epoch = h->producer_epoch;
        s->last_ctrl = -1;
    }
    return KERR_NONE;
}

bool cleaner_txn_is_last_data(const struct cleaner_txn *t, const struct batch_hdr *h)
{
    const struct cleaner_pid *s = slot_find(t, h->producer_id);
    return s && !batch_is_control(h) && s->last_data == h->base_offset;
}

bool cleaner_txn_is_needed_marker(const struct cleaner_txn *t, const struct batch_hdr *h)
{
    const struct cleaner_pid *s = slot_find(t, h->producer_id);
    return s && batch_is_control(h) && s->last_ctrl == h->base_offset &&
           (s->last_data < 0 || s->ctrl_epoch != s->data_epoch);
}

void cleaner_txn_rewind(struct cleaner_txn *t, int64_t from)
{
    for (size_t i = 0; i < t->cap; i++) {
        t->slots[i].txn = CLEANER_TXN_NONE;
        t->slots[i].observed = false;
    }
    t->next = 0;
    t->from = from;
}

/* Makes every aborted transaction starting at or below offset ongoing. */
static kerr_t consume_up_to(struct cleaner_txn *t, int64_t offset)
{
    while (t->next < t->naborted && t->aborted[t->by_first[t->next]].first_offset <= offset) {
        const struct aborted_txn *e = &t->aborted[t->by_first[t->next]];
        if (e->last_offset >= t->from) {
            struct cleaner_pid *s = slot_get(t, e->producer_id);
            if (!s)
                return KERR__NOMEM;
            if (s->txn != CLEANER_TXN_ABORTED) {
                s->txn = CLEANER_TXN_ABORTED;
                s->observed = false;
            }
        }
        t->next++;
    }
    return KERR_NONE;
}

kerr_t cleaner_txn_data(struct cleaner_txn *t, const struct batch_hdr *h, bool *aborted)
{
    struct cleaner_pid *s;
    kerr_t err = consume_up_to(t, batch_last_offset(h));

    *aborted = false;
    if (err != KERR_NONE || h->producer_id < 0 || !batch_is_transactional(h))
        return err;
    s = slot_get(t, h->producer_id);
    if (!s)
        return KERR__NOMEM;
    if (s->txn == CLEANER_TXN_NONE)
        s->txn = CLEANER_TXN_COMMITTED;
    s->observed = true;
    *aborted = s->txn == CLEANER_TXN_ABORTED;
    return KERR_NONE;
}

kerr_t cleaner_txn_control(struct cleaner_txn *t, const struct batch_hdr *h, int type,
                           bool *discardable)
{
    struct cleaner_pid *s;
    kerr_t err = consume_up_to(t, batch_last_offset(h));

    *discardable = false;
    if (err != KERR_NONE)
        return err;
    if (h->records_count == 0) {
        *discardable = true; /* an emptied marker (Kafka writes them) */
        return KERR_NONE;
    }
    if (type < 0 || h->producer_id < 0)
        return KERR_NONE; /* unreadable: kept */
    s = slot_find(t, h->producer_id);
    if (!s) {
        *discardable = true;
        return KERR_NONE;
    }
    /* an ABORT ends an aborted transaction, a COMMIT a committed one; a
     * marker that does not match what the walk knows ends whatever is
     * ongoing, and goes only if nothing of it was read */
    *discardable = s->txn == CLEANER_TXN_NONE || !s->observed;
    s->txn = CLEANER_TXN_NONE;
    s->observed = false;
    return KERR_NONE;
}
