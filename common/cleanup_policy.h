/*
 * common/cleanup_policy.h — Kafka's `cleanup.policy` value rule, shared by
 * the broker key `log.cleanup.policy` (broker/config/config.c) and the topic key
 * `cleanup.policy` (broker/config/topic_config.c).
 *
 * A legal value is a comma-separated list of the words "delete" and
 * "compact": blanks (isspace) around an item are allowed, an empty item,
 * another word or a word given twice is not. The canonical text of a
 * policy is "delete", "compact" or "delete,compact".
 */
#ifndef GREGOR_COMMON_CLEANUP_POLICY_H
#define GREGOR_COMMON_CLEANUP_POLICY_H

enum {
    CLEANUP_DELETE = 1u << 0,  /* old segments are deleted by retention */
    CLEANUP_COMPACT = 1u << 1, /* the log is compacted by key */
};

/* The CLEANUP_* flags of the policy `value` (never 0 for a legal value),
 * or 0 when value is NULL or not a legal policy. */
unsigned cleanup_policy_parse(const char *value);

/* The canonical text of a non-zero set of CLEANUP_* flags; "" for 0. */
const char *cleanup_policy_name(unsigned flags);

#endif
