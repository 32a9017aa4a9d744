/*
 * broker/kafka/group_codec_common.c — helpers shared by the consumer-group wire codecs
 * (group_codec.h): non-null string reads, nullable-aware string writes, per-request arrays.
 * Owns no format of its own.
 */
#include <stdlib.h>

#include "broker/kafka/group_codec.h"

struct kstr gcodec_get_str(struct kslice *s, bool flex)
{
    struct kstr r = kw_get_str(s, flex);
    if (kslice_ok(s) && kstr_is_null(r))
        kslice_fail(s);
    return r;
}

void gcodec_put_str(struct kbuf *b, bool flex, bool nullable, const char *z)
{
    if (z == NULL && !nullable)
        z = "";
    kw_put_nstr(b, flex, z);
}

int32_t gcodec_get_count(struct kslice *s, bool flex, size_t min_elem)
{
    int32_t n = kw_get_array_len(s, flex, min_elem);
    if (n < 0)
        kslice_fail(s);
    return n;
}

void *gcodec_calloc(int32_t n, size_t sz) { return n > 0 ? calloc((size_t)n, sz) : NULL; }
