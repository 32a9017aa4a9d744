/*
 * common/names.c — Kafka's topic-name rule (see names.h).
 */
#include "common/names.h"

#include <stdio.h>
#include <string.h>

const char *topic_name_problem(const char *name, size_t len)
{
    if (!name || len == 0)
        return "is empty";
    if (len > TOPIC_NAME_MAX_LEN)
        return "is longer than 249 bytes";
    if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
        return "cannot be \".\" or \"..\"";
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok)
            return "contains a byte outside [a-zA-Z0-9._-]";
    }
    return NULL;
}

bool topic_name_legal(const char *name, size_t len)
{
    return topic_name_problem(name, len) == NULL;
}

bool topic_name_legal_z(const char *name) { return name && topic_name_legal(name, strlen(name)); }

static bool same_name(const char *name, size_t len, const char *z)
{
    return len == strlen(z) && memcmp(name, z, len) == 0;
}

bool topic_name_internal(const char *name, size_t len)
{
    return same_name(name, len, TOPIC_CONSUMER_OFFSETS) ||
           same_name(name, len, TOPIC_TRANSACTION_STATE);
}

kerr_t topic_name_take(struct kstr name, char *dst, size_t dst_len, char *msg, size_t msg_len)
{
    const char *why = topic_name_problem(name.ptr, name.ptr ? (size_t)name.len : 0);
    if (why) {
        snprintf(msg, msg_len, "topic name %s", why);
        return KERR_INVALID_TOPIC_EXCEPTION;
    }
    return kstr_copy(name, dst, dst_len) ? KERR_NONE : KERR_INVALID_TOPIC_EXCEPTION;
}
