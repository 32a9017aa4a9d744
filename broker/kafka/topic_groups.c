/*
 * broker/kafka/topic_groups.c — the topic entries of a flat partition
 * array (see topic_groups.h). Owns no wire format of its own: it writes a
 * topic entry's name and partition count as the response arrays of
 * Produce and Fetch have them.
 */
#include "broker/kafka/topic_groups.h"

#include <stdlib.h>

bool topic_groups_init(struct topic_groups *g, int32_t n_topics)
{
    size_t room = (size_t)(n_topics > 0 ? n_topics : 1);
    g->n = 0;
    g->start = calloc(room, sizeof(*g->start));
    g->names = calloc(room, sizeof(*g->names));
    return g->start && g->names;
}

void topic_groups_add(struct topic_groups *g, struct kstr name, int first)
{
    g->names[g->n] = name;
    g->start[g->n++] = first;
}

void topic_groups_destroy(struct topic_groups *g)
{
    free(g->start);
    free(g->names);
    g->start = NULL;
    g->names = NULL;
    g->n = 0;
}

int topic_groups_put(const struct topic_groups *g, struct kbuf *o, int ti, int n_parts, int *end)
{
    int first = g->start[ti];
    *end = ti + 1 < g->n ? g->start[ti + 1] : n_parts;
    kw_put_kstr(o, false, g->names[ti]);
    kw_put_array_len(o, false, *end - first);
    return first;
}
