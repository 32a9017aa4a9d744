/*
 * broker/kafka/group_codec_common.c — helpers shared by the consumer-group wire codecs
 * (group_codec.h): non-null string reads, nullable-aware string writes, array counts and the
 * per-request arrays they size.
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

void *gcodec_calloc(int32_t n, size_t sz) { return n > 0 ? calloc((size_t)n, sz) : NULL; }

void *gcodec_get_array(struct kslice *s, bool flex, size_t min_elem, size_t sz, int32_t *count)
{
    *count = 0;
    int32_t n = kw_get_array_len(s, flex, min_elem);
    if (n < 0)
        kslice_fail(s);
    if (!kslice_ok(s))
        return NULL;
    void *a = gcodec_calloc(n, sz);
    if (n > 0 && !a) {
        kslice_fail(s);
        return NULL;
    }
    *count = n;
    return a;
}
