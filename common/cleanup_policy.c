/*
 * common/cleanup_policy.c — parses Kafka's `cleanup.policy` list (the rule
 * is in cleanup_policy.h).
 */
#include "common/cleanup_policy.h"

#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* The flag of the word s[0..n), 0 if it is neither "delete" nor "compact". */
static unsigned policy_word(const char *s, size_t n)
{
    if (n == 6 && memcmp(s, "delete", 6) == 0)
        return CLEANUP_DELETE;
    if (n == 7 && memcmp(s, "compact", 7) == 0)
        return CLEANUP_COMPACT;
    return 0;
}

unsigned cleanup_policy_parse(const char *value)
{
    unsigned flags = 0;
    const char *s = value;

    if (value == NULL)
        return 0;
    for (;;) {
        const char *comma = strchr(s, ',');
        const char *end = comma ? comma : s + strlen(s);

        while (s < end && isspace((unsigned char)*s))
            s++;
        while (end > s && isspace((unsigned char)end[-1]))
            end--;
        unsigned word = policy_word(s, (size_t)(end - s));
        if (word == 0 || (flags & word) != 0)
            return 0;
        flags |= word;
        if (comma == NULL)
            return flags;
        s = comma + 1;
    }
}

const char *cleanup_policy_name(unsigned flags)
{
    bool del = (flags & CLEANUP_DELETE) != 0, compact = (flags & CLEANUP_COMPACT) != 0;

    return del && compact ? "delete,compact" : del ? "delete" : compact ? "compact" : "";
}
