/*
 * broker/storage/batch_compress.c — one-shot compression of a records
 * section (see batch_compress.h for the formats).
 */
#include "broker/storage/batch_compress.h"

#include <lz4frame.h>
#include <snappy-c.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#define SNAPPY_BLOCK (32 * 1024)

static const uint8_t XERIAL_HDR[16] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0,
                                       0,    0,   0,   1,   0,   0,   0,   1};

static kerr_t gzip_compress(const uint8_t *in, size_t len, struct kbuf *out)
{
    z_stream z;
    int rc;

    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return KERR__NOMEM;
    size_t bound = deflateBound(&z, (uLong)len) + 32;
    if (!kbuf_reserve(out, bound)) {
        deflateEnd(&z);
        return KERR__NOMEM;
    }
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)len;
    z.next_out = out->data + out->len;
    z.avail_out = (uInt)bound;
    rc = deflate(&z, Z_FINISH);
    if (rc == Z_STREAM_END)
        out->len += bound - z.avail_out;
    deflateEnd(&z);
    return rc == Z_STREAM_END ? KERR_NONE : KERR__IO;
}

static kerr_t snappy_compress_xerial(const uint8_t *in, size_t len, struct kbuf *out)
{
    kbuf_put(out, XERIAL_HDR, sizeof(XERIAL_HDR));
    for (size_t pos = 0; pos < len; pos += SNAPPY_BLOCK) {
        size_t n = MIN((size_t)SNAPPY_BLOCK, len - pos);
        size_t clen = snappy_max_compressed_length(n);
        size_t at;
        if (!kbuf_reserve(out, clen + 4))
            return KERR__NOMEM;
        at = kbuf_skip(out, 4);
        if (snappy_compress((const char *)in + pos, n, (char *)out->data + out->len, &clen) !=
            SNAPPY_OK)
            return KERR__IO;
        out->len += clen;
        kbuf_patch_i32(out, at, (int32_t)clen);
    }
    return out->oom ? KERR__NOMEM : KERR_NONE;
}

static kerr_t lz4_compress(const uint8_t *in, size_t len, struct kbuf *out)
{
    LZ4F_preferences_t prefs;
    size_t bound, n;

    memset(&prefs, 0, sizeof(prefs));
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    bound = LZ4F_compressFrameBound(len, &prefs);
    if (!kbuf_reserve(out, bound))
        return KERR__NOMEM;
    n = LZ4F_compressFrame(out->data + out->len, bound, in, len, &prefs);
    if (LZ4F_isError(n))
        return KERR__IO;
    out->len += n;
    return KERR_NONE;
}

static kerr_t zstd_compress(const uint8_t *in, size_t len, struct kbuf *out)
{
    size_t bound = ZSTD_compressBound(len), n;

    if (!kbuf_reserve(out, bound))
        return KERR__NOMEM;
    n = ZSTD_compress(out->data + out->len, bound, in, len, 3);
    if (ZSTD_isError(n))
        return KERR__IO;
    out->len += n;
    return KERR_NONE;
}

kerr_t batch_compress(int codec, const uint8_t *in, size_t len, struct kbuf *out)
{
    switch (codec) {
    case 1:
        return gzip_compress(in, len, out);
    case 2:
        return snappy_compress_xerial(in, len, out);
    case 3:
        return lz4_compress(in, len, out);
    case 4:
        return zstd_compress(in, len, out);
    default:
        return KERR__INVALID;
    }
}
