/*
 * broker/kafka/topic_groups.h — the topic entries of a request whose
 * partitions a handler keeps in one flat array (Produce, Fetch): each
 * entry's name as sent and the index of its first partition, so that the
 * response repeats the request's topics[name, partitions[...]] shape.
 */
#ifndef GREGOR_BROKER_KAFKA_TOPIC_GROUPS_H
#define GREGOR_BROKER_KAFKA_TOPIC_GROUPS_H

#include "common/kwire.h"

#include <stdbool.h>
#include <stdint.h>

struct topic_groups {
    int n;              /* entries, in request order */
    int *start;         /* first partition index of each entry (owned) */
    struct kstr *names; /* name of each entry: views into the frame (owned array) */
};

/* Makes room for n_topics entries (n_topics < 0 counts as 0); false when
 * memory is short (topic_groups_destroy() still applies). */
bool topic_groups_init(struct topic_groups *g, int32_t n_topics);
/* Appends an entry named `name` whose partitions start at index first.
 * At most the n_topics given to topic_groups_init(). */
void topic_groups_add(struct topic_groups *g, struct kstr name, int first);
void topic_groups_destroy(struct topic_groups *g);

/* Writes entry ti's name and its partition count (classic encoding);
 * n_parts is the flat array's length. Returns the entry's first partition
 * index and sets *end to one past its last. */
int topic_groups_put(const struct topic_groups *g, struct kbuf *o, int ti, int n_parts, int *end);

#endif
