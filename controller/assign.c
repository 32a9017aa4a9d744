/*
 * controller/assign.c — replica placement (Kafka's round-robin with shifted
 * followers, rack-aware when all brokers have a rack). The rules are stated
 * in assign.h; this file only implements them. Neighbours: the controller's
 * CreateTopics / CreatePartitions handling calls assign_replicas() and writes
 * the result to ZooKeeper through zk_store. No state, no I/O, any thread
 * (random() is used only when the caller asks for a random start).
 *
 * Both Kafka variants run through one code path: without racks every broker
 * is treated as being on the same single rack (R = 1), for which the
 * rack-aware follower search never skips a position and reduces exactly to
 * the rack-unaware formula.
 */
#include "controller/assign.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/base.h"

/* The arranged broker list (assign.h). Built and freed by one call. */
struct assign_list {
    int n;        /* number of brokers */
    int n_racks;  /* distinct racks; 1 without racks */
    int32_t *ids; /* [n] broker ids in arranged order; owned */
    int *rack_of; /* [n] rack number (0..n_racks-1) of each position; owned */
};

static bool assign_has_rack(const struct assign_broker *b)
{
    return b->rack != NULL && b->rack[0] != '\0';
}

static int assign_cmp_id(const void *a, const void *b)
{
    const struct assign_broker *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

static int assign_cmp_rack_id(const void *a, const void *b)
{
    const struct assign_broker *x = a, *y = b;
    int c = strcmp(x->rack, y->rack);
    return c != 0 ? c : assign_cmp_id(a, b);
}

static void assign_list_destroy(struct assign_list *al)
{
    free(al->ids);
    free(al->rack_of);
    al->ids = NULL;
    al->rack_of = NULL;
}

/* Interleaves sorted[0..n) (sorted by rack, then id) rack by rack into al:
 * first broker of each rack in rack order, then the second of each, ... */
static kerr_t assign_interleave(const struct assign_broker *sorted, int n, struct assign_list *al)
{
    int *start = malloc((size_t)(n + 1) * sizeof(*start));
    if (start == NULL)
        return KERR__NOMEM;
    int n_racks = 0;
    for (int i = 0; i < n; i++) {
        if (i == 0 || strcmp(sorted[i].rack, sorted[i - 1].rack) != 0)
            start[n_racks++] = i;
    }
    start[n_racks] = n;
    int pos = 0;
    for (int round = 0; pos < n; round++) {
        for (int r = 0; r < n_racks; r++) {
            if (start[r] + round >= start[r + 1])
                continue;
            al->ids[pos] = sorted[start[r] + round].id;
            al->rack_of[pos] = r;
            pos++;
        }
    }
    al->n_racks = n_racks;
    free(start);
    return KERR_NONE;
}

/* Builds the arranged list of brokers[0..n) (borrowed) into al; on success
 * the caller calls assign_list_destroy(al). n >= 1. */
static kerr_t assign_list_build(const struct assign_broker *brokers, int n, struct assign_list *al)
{
    int with_rack = 0;
    for (int i = 0; i < n; i++)
        with_rack += assign_has_rack(&brokers[i]);
    if (with_rack != 0 && with_rack != n)
        return KERR_INVALID_REPLICA_ASSIGNMENT;

    kerr_t err = KERR__NOMEM;
    struct assign_broker *sorted = malloc((size_t)n * sizeof(*sorted));
    al->n = n;
    al->n_racks = 1;
    al->ids = malloc((size_t)n * sizeof(*al->ids));
    al->rack_of = malloc((size_t)n * sizeof(*al->rack_of));
    if (sorted == NULL || al->ids == NULL || al->rack_of == NULL)
        goto out_free;

    memcpy(sorted, brokers, (size_t)n * sizeof(*sorted));
    qsort(sorted, (size_t)n, sizeof(*sorted), assign_cmp_id);
    err = KERR_INVALID_REPLICA_ASSIGNMENT;
    for (int i = 1; i < n; i++) {
        if (sorted[i].id == sorted[i - 1].id)
            goto out_free;
    }
    if (with_rack == 0) {
        for (int i = 0; i < n; i++) {
            al->ids[i] = sorted[i].id;
            al->rack_of[i] = 0;
        }
        err = KERR_NONE;
    } else {
        qsort(sorted, (size_t)n, sizeof(*sorted), assign_cmp_rack_id);
        err = assign_interleave(sorted, n, al);
    }

out_free:
    free(sorted);
    if (err != KERR_NONE)
        assign_list_destroy(al);
    return err;
}

/* Fills row[0..rf) for absolute partition p. used[] has al->n + al->n_racks
 * entries of scratch space (positions taken, then racks taken). */
static void assign_fill_row(const struct assign_list *al, int32_t p, int16_t rf, int start,
                            int shift, bool *used, int32_t *row)
{
    int n = al->n;
    bool *rack_used = used + n;
    int first = (int)(((int64_t)start + p) % n);

    memset(used, 0, (size_t)(n + al->n_racks) * sizeof(*used));
    row[0] = al->ids[first];
    used[first] = true;
    rack_used[al->rack_of[first]] = true;
    int racks_done = 1;
    if (rf == 1)
        return;

    /* n >= 2 here. Each search visits every other position within n - 1
     * steps, and a free position always exists (rf <= n), so k stays below
     * (rf - 1) * (n - 1). */
    int64_t base = ((int64_t)shift + p / n) * al->n_racks;
    int64_t k = 0;
    for (int r = 1; r < rf; r++) {
        for (;;) {
            KASSERT(k < (int64_t)rf * n);
            int pos = (int)((first + 1 + (base + k) % (n - 1)) % n);
            int rack = al->rack_of[pos];
            k++;
            if (used[pos] || (rack_used[rack] && racks_done < al->n_racks))
                continue;
            row[r] = al->ids[pos];
            used[pos] = true;
            if (!rack_used[rack]) {
                rack_used[rack] = true;
                racks_done++;
            }
            break;
        }
    }
}

kerr_t assign_replicas(const struct assign_broker *brokers, int n, int32_t n_parts, int16_t rf,
                       int32_t first_part, int start_index, int shift, int32_t *out)
{
    if (n_parts < 1 || first_part < 0 || n_parts - 1 > INT32_MAX - first_part)
        return KERR_INVALID_PARTITIONS;
    if (rf < 1 || rf > n)
        return KERR_INVALID_REPLICATION_FACTOR;

    struct assign_list al;
    kerr_t err = assign_list_build(brokers, n, &al);
    if (err != KERR_NONE)
        return err;
    bool *used = malloc((size_t)(n + al.n_racks) * sizeof(*used));
    if (used == NULL) {
        err = KERR__NOMEM;
        goto out_destroy;
    }

    int start = start_index < 0 ? (int)(random() % n) : start_index % n;
    if (n > 1) {
        if (shift < 0)
            shift = (int)(random() % n);
        shift %= n - 1;
    } else {
        shift = 0;
    }
    for (int32_t i = 0; i < n_parts; i++)
        assign_fill_row(&al, first_part + i, rf, start, shift, used, out + (size_t)i * (size_t)rf);
    free(used);

out_destroy:
    assign_list_destroy(&al);
    return err;
}

int assign_index_of(const struct assign_broker *brokers, int n, int32_t id)
{
    struct assign_list al;
    if (n < 1 || assign_list_build(brokers, n, &al) != KERR_NONE)
        return -1;
    int found = -1;
    for (int i = 0; i < n && found < 0; i++) {
        if (al.ids[i] == id)
            found = i;
    }
    assign_list_destroy(&al);
    return found;
}
