/*
 * broker/group/consumer_protocol.c — reads the topic list at the start of a "consumer"
 * protocol subscription (layout in consumer_protocol.h). Only the prefix is parsed; whatever
 * follows the topics (user data, owned partitions, rack) is not looked at. Threads: none.
 */
#include "broker/group/consumer_protocol.h"

#include <string.h>

#include "common/buf.h"

bool consumer_subscription_has_topic(const uint8_t *meta, int32_t len, const char *topic,
                                     bool *found)
{
    struct kslice s;
    size_t want = strlen(topic);
    *found = false;
    if (!meta || len < 0)
        return false;
    kslice_init(&s, meta, (size_t)len);
    int16_t version = kslice_i16(&s);
    int32_t n = kslice_i32(&s);
    if (!kslice_ok(&s) || version < 0 || n < 0 || (size_t)n > kslice_remaining(&s) / 2)
        return false;
    for (int32_t i = 0; i < n; i++) {
        int16_t l = kslice_i16(&s);
        const uint8_t *p = l >= 0 ? kslice_take(&s, (size_t)l) : NULL;
        if (!p)
            return false;
        if ((size_t)l == want && memcmp(p, topic, want) == 0)
            *found = true;
    }
    return true;
}
