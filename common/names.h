/*
 * common/names.h — Kafka's topic-name rule, shared by the broker (every
 * request that carries a topic name), the ZooKeeper store and the CLI.
 * A legal name is 1..249 bytes of [a-zA-Z0-9._-] and is not "." or "..";
 * anything else (a NUL byte included) is refused, never truncated.
 */
#ifndef GREGOR_COMMON_NAMES_H
#define GREGOR_COMMON_NAMES_H

#include "common/err.h"
#include "common/kwire.h"

#include <stdbool.h>
#include <stddef.h>

#define TOPIC_NAME_MAX_LEN 249 /* Kafka's limit, in bytes */

/* True when the len bytes at name form a legal topic name. name need not
 * be NUL-terminated; a NUL inside the len bytes makes it illegal. */
bool topic_name_legal(const char *name, size_t len);

/* Why the len bytes at name are not a legal topic name ("is empty",
 * "is longer than 249 bytes", "cannot be \".\" or \"..\"", "contains a
 * byte outside [a-zA-Z0-9._-]"), or NULL when they are. */
const char *topic_name_problem(const char *name, size_t len);

/* topic_name_legal() of a C string (NULL is illegal). */
bool topic_name_legal_z(const char *name);

/* A topic name as a request carries it: when legal, copies it into dst
 * (dst_len > TOPIC_NAME_MAX_LEN) and returns KERR_NONE; otherwise leaves
 * dst alone, writes "topic name <problem>" into msg and returns
 * INVALID_TOPIC_EXCEPTION. */
kerr_t topic_name_take(struct kstr name, char *dst, size_t dst_len, char *msg, size_t msg_len);

/* Kafka's internal topics: the group coordinator's committed offsets and
 * group records, and the transaction coordinator's state. Clients cannot
 * produce to them or delete them; Metadata marks them is_internal. */
#define TOPIC_CONSUMER_OFFSETS "__consumer_offsets"
#define TOPIC_TRANSACTION_STATE "__transaction_state"

/* True when the len bytes at name are one of the internal topics' names. */
bool topic_name_internal(const char *name, size_t len);

#endif
