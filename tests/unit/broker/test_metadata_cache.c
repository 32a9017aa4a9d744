/* tests/unit/broker/test_metadata_cache.c — snapshots: lookup, epoch
 * fencing, and readers keeping an old snapshot alive across a swap. */
#include "broker/core/metadata_cache.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct mc_snapshot *snap(int32_t epoch, const char *const *names, int n)
{
    struct mc_snapshot *s = mc_snapshot_new();
    cr_assert_not_null(s);
    s->controller_epoch = epoch;
    s->topics = calloc((size_t)n, sizeof(*s->topics));
    for (int i = 0; i < n; i++) {
        snprintf(s->topics[i].name, sizeof(s->topics[i].name), "%s", names[i]);
        s->topics[i].n_parts = i + 1;
        s->topics[i].parts = calloc((size_t)(i + 1), sizeof(struct mc_partition));
    }
    s->n_topics = n;
    mc_snapshot_sort(s);
    return s;
}

Test(metadata_cache, finds_topics_by_exact_name)
{
    const char *names[] = {"zeta", "alpha", "alp", "alpha-2", "m"};
    struct mc_snapshot *s = snap(1, names, 5);
    cr_assert_eq(mc_find_topic(s, "alpha", 5)->n_parts, 2);
    cr_assert_eq(mc_find_topic(s, "alp", 3)->n_parts, 3);
    cr_assert_eq(mc_find_topic(s, "alpha-2", 7)->n_parts, 4);
    cr_assert_eq(mc_find_topic(s, "zeta", 4)->n_parts, 1);
    cr_assert_null(mc_find_topic(s, "al", 2));
    cr_assert_null(mc_find_topic(s, "alphab", 6));
    cr_assert_eq(mc_find_topic(s, "alphaXYZ", 5)->n_parts, 2, "only len bytes count");
    mc_put(s);
}

Test(metadata_cache, a_name_with_nul_bytes_or_too_long_is_not_found)
{
    /* a request's name is len bytes: NUL bytes in it, and a length past any topic name's
     * buffer, find nothing (and read only the stored names) */
    const char *names[] = {"zeta", "alpha", "m"};
    struct mc_snapshot *s = snap(1, names, 3);
    char big[TOPIC_NAME_MAX_LEN + 64];
    memset(big, 0, sizeof(big));
    memcpy(big, "zeta", 4);
    cr_assert_null(mc_find_topic(s, big, sizeof(big)));
    cr_assert_null(mc_find_topic(s, "zeta\0x", 6));
    cr_assert_null(mc_find_topic(s, "alpha\0", 6));
    cr_assert_eq(mc_find_topic(s, "alpha\0", 5)->n_parts, 2);
    mc_put(s);
}

Test(metadata_cache, older_controller_epoch_is_refused)
{
    struct metadata_cache *mc = mc_new();
    const char *a[] = {"a"}, *b[] = {"b"};
    cr_assert(mc_set(mc, snap(5, a, 1)));
    cr_assert_not(mc_set(mc, snap(4, b, 1)), "a zombie controller's metadata is ignored");
    struct mc_snapshot *s = mc_get(mc);
    cr_assert_not_null(mc_find_topic(s, "a", 1));
    cr_assert_null(mc_find_topic(s, "b", 1));
    mc_put(s);
    cr_assert(mc_set(mc, snap(5, b, 1)), "same epoch: newer push from the same controller");
    mc_free(mc);
}

Test(metadata_cache, readers_keep_their_snapshot_across_a_swap)
{
    struct metadata_cache *mc = mc_new();
    const char *a[] = {"a"}, *b[] = {"b"};
    mc_set(mc, snap(1, a, 1));
    struct mc_snapshot *held = mc_get(mc);
    mc_set(mc, snap(2, b, 1));
    cr_assert_not_null(mc_find_topic(held, "a", 1), "still readable after the swap");
    mc_put(held);
    struct mc_snapshot *now = mc_get(mc);
    cr_assert_not_null(mc_find_topic(now, "b", 1));
    mc_put(now);
    mc_free(mc);
}
