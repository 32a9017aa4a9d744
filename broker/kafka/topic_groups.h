/*
 * broker/kafka/topic_groups.h — the topics[name, partitions[...]] arrays
 * that requests carry and their responses repeat in the same shape:
 *  - struct topic_groups, for a handler that keeps the partitions in one
 *    flat array and answers later (Produce, Fetch): each entry's name as
 *    sent and the index of its first partition;
 *  - topic_groups_answer(), for a handler that answers each partition at
 *    once (ListOffsets, DeleteRecords).
 */
#ifndef GREGOR_BROKER_KAFKA_TOPIC_GROUPS_H
#define GREGOR_BROKER_KAFKA_TOPIC_GROUPS_H

#include "common/err.h"
#include "common/kwire.h"

struct req;
struct topic;

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

/* Reads n_topics topic entries from req->body (classic encoding; a null
 * array, n_topics < 0 or a null partitions array, counts as empty) and
 * answers them in the same shape into req->out: the count, then each name
 * and partition count, and for each partition part(req, t), which reads
 * that partition's fields from req->body and, when they are whole, appends
 * its answer. t is the topic, NULL when unknown; it is held during the
 * calls. min_part_bytes: the fewest bytes a partition entry takes. op: the
 * ACL operation (broker/security/acl.h) a topic needs; a topic the
 * principal may not do it on is answered with t NULL and denied
 * TOPIC_AUTHORIZATION_FAILED (else KERR_NONE). Returns false when the
 * request is malformed. */
bool topic_groups_answer(struct req *req, int32_t n_topics, int32_t min_part_bytes, int op,
                         void (*part)(struct req *req, struct topic *t, kerr_t denied));

#endif
