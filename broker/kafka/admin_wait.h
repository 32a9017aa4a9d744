/*
 * broker/kafka/admin_wait.h — what the per-topic admin requests
 * (CreateTopics, DeleteTopics, CreatePartitions) share: one answer per
 * topic of the request (the name as sent, error code and message), and
 * the wait, polling on the admin worker at most timeout_ms, until this
 * broker's metadata cache shows their result.
 */
#ifndef GREGOR_BROKER_KAFKA_ADMIN_WAIT_H
#define GREGOR_BROKER_KAFKA_ADMIN_WAIT_H

#include "common/buf.h"
#include "common/err.h"
#include "common/kwire.h"

#include <stdbool.h>
#include <stdint.h>

struct broker;

/* The answer for one topic of an admin request. */
struct admin_answer {
    const char *name;  /* borrowed: the checked name, "" when illegal (or NULL) */
    char *wire_name;   /* owned: the name as sent (may hold any byte), NUL-terminated */
    int32_t wire_len;  /* its length on the wire */
    kerr_t decode_err; /* found while decoding (duplicate topic, bad shape or config) */
    kerr_t err;        /* the outcome */
    char msg[256];     /* its message when err is set */
};

/* n (>= 0) zeroed answers; NULL when memory is short. */
struct admin_answer *admin_answers_new(int32_t n);
/* Frees the answers and their wire names (ans may be NULL). */
void admin_answers_free(struct admin_answer *ans, int n);

/* Starts answer a for a topic sent as `wire` whose checked name will be at
 * `checked` (borrowed): keeps a copy of the name as sent. False when memory
 * is short. */
bool admin_answer_start(struct admin_answer *a, struct kstr wire, const char *checked);

/* Marks every answer whose legal name another answer has too with
 * INVALID_REQUEST (decode_err and msg), as Kafka does for a topic listed
 * twice. */
void admin_mark_duplicates(struct admin_answer *ans, int n);

/* Appends the n answers as a response array: [name as sent, error_code,
 * error_message (when with_msg; null on success), tagged fields (when
 * flex)]. */
void admin_answers_put(struct kbuf *o, bool flex, const struct admin_answer *ans, int n,
                       bool with_msg);

/* want: true when `name` is in the metadata cache with at least min_parts
 * partitions, every one with a leader; !want: true when it is absent. Any
 * thread. */
bool admin_cache_shows(struct broker *b, const char *name, bool want, int32_t min_parts);

/* Calls finish(job) on the admin worker once visible(job, i) is true for
 * every answer i < n without an error, or timeout_ms has passed: then each
 * answer still not visible gets REQUEST_TIMED_OUT and late_msg (when not
 * NULL). timeout_ms is capped at 60 s; timeout_ms <= 0 waits up to a short
 * grace period and never times an answer out, since Kafka answers at once
 * there. visible() is polled every 20 ms on the admin worker. job and ans
 * are borrowed until finish(), which owns them. Admin worker. */
void admin_wait_start(struct broker *b, int64_t timeout_ms, struct admin_answer *ans, int n,
                      bool (*visible)(void *job, int i), const char *late_msg,
                      void (*finish)(void *job), void *job);

#endif
