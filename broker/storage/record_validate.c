/*
 * broker/storage/record_validate.c — record-level validation of RecordBatch
 * v2 (Kafka's LogValidator rules; docs/storage.md "Record validation").
 *
 * Two layers:
 *   - a pull-based byte source (struct rv_src): the raw records section of
 *     an uncompressed batch, or a decompressor writing into a fixed window
 *     (64 KiB; snappy blocks need their whole output, bounded by the limit);
 *   - one record parser on top, reading a byte at a time for varints and
 *     skipping keys, values and header bytes without copying them.
 *
 * Compressed payload formats (Kafka's, attributes bits 0-2):
 *   1 gzip    a gzip stream (zlib, 16 + MAX_WBITS)
 *   2 snappy  a raw snappy block (librdkafka), or xerial framing (Java):
 *             "\x82SNAPPY\0", INT32 version, INT32 compatible version,
 *             then [INT32 BE length][snappy block] chunks
 *   3 lz4     an LZ4 frame (lz4frame.h)
 *   4 zstd    zstd frames (ZSTD_decompressStream), window <= zstd_wlog()
 *
 * Record layout (zigzag varints): length VARINT, attributes INT8,
 * timestampDelta VARLONG, offsetDelta VARINT, keyLength VARINT, key,
 * valueLength VARINT, value, headersCount VARINT, then per header
 * keyLength VARINT (>= 0), key, valueLength VARINT (>= -1), value.
 *
 * Threads: pure functions; any thread.
 */
#include "broker/storage/record_validate.h"

#include <lz4frame.h>
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "common/crc32c.h"
#include "common/kwire.h"

#define RV_WINDOW (64 * 1024)
#define RV_MIN_RECORD 7     /* length + attributes + 3 deltas/lengths + headersCount */
#define RV_ZSTD_WLOG_MIN 20 /* 1 MiB: any zstd frame of a ~1 MiB batch fits */

enum { CODEC_NONE = 0, CODEC_GZIP = 1, CODEC_SNAPPY = 2, CODEC_LZ4 = 3, CODEC_ZSTD = 4 };

static const uint8_t XERIAL_MAGIC[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
#define XERIAL_HDR 16

/* A source of decoded record bytes. On validate_records()' stack. */
struct rv_src {
    int codec;
    const uint8_t *in; /* records section of the batch (borrowed) */
    size_t in_len, in_pos;
    const uint8_t *out; /* decoded bytes not yet consumed: out[out_pos, out_len) */
    size_t out_len, out_pos;
    uint8_t *win; /* owned output window of the decompressor */
    size_t win_cap;
    int64_t total; /* decoded bytes so far */
    int64_t limit; /* most decoded bytes allowed */
    bool done;     /* the decoder has no more output */
    kerr_t err;    /* sticky source error */
    const char *why;
    z_stream z;
    bool z_live;
    LZ4F_dctx *lz4;
    ZSTD_DCtx *zstd;
};

int64_t rv_decompressed_limit(int32_t max_message_bytes)
{
    int64_t m = (int64_t)max_message_bytes * RV_DECOMPRESSED_RATIO;
    return m > RV_DECOMPRESSED_MIN_LIMIT ? m : RV_DECOMPRESSED_MIN_LIMIT;
}

void rv_opts_stored(struct rv_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->ts_diff_max_ms = -1;
    o->max_decompressed = RV_DECOMPRESSED_MIN_LIMIT;
}

/* ---- byte source ---------------------------------------------------------- */

static kerr_t src_fail(struct rv_src *s, kerr_t err, const char *why)
{
    if (s->err == KERR_NONE) {
        s->err = err;
        s->why = why;
    }
    return err;
}

/* The largest zstd window accepted: the biggest power of two within the
 * decompressed-size limit, between 2^RV_ZSTD_WLOG_MIN and 2^27 (zstd's own
 * default cap, the one Kafka's broker uses). A window is memory the
 * decoder allocates, so it stays within the same bound as the output. */
static int zstd_wlog(int64_t limit)
{
    int w = RV_ZSTD_WLOG_MIN;

    while (w < 27 && ((int64_t)1 << (w + 1)) <= limit)
        w++;
    return w;
}

static kerr_t src_open(struct rv_src *s, int codec, const uint8_t *in, size_t len, int64_t limit)
{
    memset(s, 0, sizeof(*s));
    s->codec = codec;
    s->in = in;
    s->in_len = len;
    s->limit = limit;
    switch (codec) {
    case CODEC_NONE:
        s->out = in;
        s->out_len = len;
        s->done = true;
        return KERR_NONE;
    case CODEC_GZIP:
        if (inflateInit2(&s->z, 16 + MAX_WBITS) != Z_OK)
            return KERR__NOMEM;
        s->z_live = true;
        break;
    case CODEC_SNAPPY:
        if (len >= XERIAL_HDR && memcmp(in, XERIAL_MAGIC, sizeof(XERIAL_MAGIC)) == 0)
            s->in_pos = XERIAL_HDR;
        else
            s->codec = -CODEC_SNAPPY; /* raw: one block */
        return KERR_NONE;
    case CODEC_LZ4:
        if (LZ4F_isError(LZ4F_createDecompressionContext(&s->lz4, LZ4F_VERSION)))
            return KERR__NOMEM;
        break;
    case CODEC_ZSTD:
        s->zstd = ZSTD_createDCtx();
        if (!s->zstd)
            return KERR__NOMEM;
        (void)ZSTD_DCtx_setParameter(s->zstd, ZSTD_d_windowLogMax, zstd_wlog(limit));
        break;
    default:
        return KERR_UNSUPPORTED_COMPRESSION_TYPE;
    }
    s->win = malloc(RV_WINDOW);
    if (!s->win)
        return KERR__NOMEM;
    s->win_cap = RV_WINDOW;
    return KERR_NONE;
}

static void src_close(struct rv_src *s)
{
    if (s->z_live)
        inflateEnd(&s->z);
    if (s->lz4)
        LZ4F_freeDecompressionContext(s->lz4);
    ZSTD_freeDCtx(s->zstd);
    free(s->win);
}

/* Decodes one snappy block of clen bytes at in into the window. */
static kerr_t snappy_block(struct rv_src *s, const uint8_t *in, size_t clen, size_t *n)
{
    size_t ulen = 0;

    if (snappy_uncompressed_length((const char *)in, clen, &ulen) != SNAPPY_OK)
        return src_fail(s, KERR_CORRUPT_MESSAGE, "snappy block header is corrupt");
    if ((int64_t)ulen > s->limit - s->total)
        return src_fail(s, KERR_INVALID_RECORD, "decompressed size over the limit");
    if (ulen > s->win_cap) {
        uint8_t *w = realloc(s->win, ulen);
        if (!w)
            return src_fail(s, KERR__NOMEM, "out of memory");
        s->win = w;
        s->win_cap = ulen;
    }
    if (ulen > 0 && snappy_uncompress((const char *)in, clen, (char *)s->win, &ulen) != SNAPPY_OK)
        return src_fail(s, KERR_CORRUPT_MESSAGE, "snappy block is corrupt");
    *n = ulen;
    return KERR_NONE;
}

static kerr_t step_snappy(struct rv_src *s, size_t *n)
{
    if (s->codec < 0) { /* raw snappy: the whole input is one block */
        s->done = true;
        return snappy_block(s, s->in, s->in_len, n);
    }
    if (s->in_pos == s->in_len) {
        s->done = true;
        return KERR_NONE;
    }
    if (s->in_len - s->in_pos < 4)
        return src_fail(s, KERR_CORRUPT_MESSAGE, "xerial snappy chunk length cut short");
    uint32_t clen = be32_load(s->in + s->in_pos);
    s->in_pos += 4;
    if (clen > s->in_len - s->in_pos)
        return src_fail(s, KERR_CORRUPT_MESSAGE, "xerial snappy chunk past the batch end");
    const uint8_t *blk = s->in + s->in_pos;
    s->in_pos += clen;
    return snappy_block(s, blk, clen, n);
}

static kerr_t step_gzip(struct rv_src *s, size_t *n)
{
    size_t avail = s->in_len - s->in_pos;

    s->z.next_in = (Bytef *)(uintptr_t)(s->in + s->in_pos);
    s->z.avail_in = (uInt)MIN(avail, (size_t)UINT32_MAX);
    s->z.next_out = s->win;
    s->z.avail_out = (uInt)s->win_cap;
    int rc = inflate(&s->z, Z_NO_FLUSH);
    size_t used = (size_t)MIN(avail, (size_t)UINT32_MAX) - s->z.avail_in;
    s->in_pos += used;
    *n = s->win_cap - s->z.avail_out;
    if (rc == Z_STREAM_END) {
        s->done = true;
        return KERR_NONE;
    }
    if ((rc == Z_OK || rc == Z_BUF_ERROR) && (*n > 0 || used > 0))
        return KERR_NONE;
    if (rc == Z_OK || rc == Z_BUF_ERROR)
        return src_fail(s, KERR_CORRUPT_MESSAGE, "gzip stream cut short");
    return src_fail(s, KERR_CORRUPT_MESSAGE, "gzip stream is corrupt");
}

static kerr_t step_lz4(struct rv_src *s, size_t *n)
{
    size_t dst = s->win_cap, src = s->in_len - s->in_pos;
    size_t r = LZ4F_decompress(s->lz4, s->win, &dst, s->in + s->in_pos, &src, NULL);

    if (LZ4F_isError(r))
        return src_fail(s, KERR_CORRUPT_MESSAGE, "lz4 frame is corrupt");
    s->in_pos += src;
    *n = dst;
    if (r == 0)
        s->done = true;
    else if (dst == 0 && src == 0)
        return src_fail(s, KERR_CORRUPT_MESSAGE, "lz4 frame cut short");
    return KERR_NONE;
}

static kerr_t step_zstd(struct rv_src *s, size_t *n)
{
    ZSTD_inBuffer ib = {s->in, s->in_len, s->in_pos};
    ZSTD_outBuffer ob = {s->win, s->win_cap, 0};
    size_t r = ZSTD_decompressStream(s->zstd, &ob, &ib);

    if (ZSTD_isError(r))
        return src_fail(s, KERR_CORRUPT_MESSAGE, "zstd frame is corrupt");
    size_t used = ib.pos - s->in_pos;
    s->in_pos = ib.pos;
    *n = ob.pos;
    if (r == 0 && s->in_pos == s->in_len)
        s->done = true;
    else if (ob.pos == 0 && used == 0)
        return src_fail(s, KERR_CORRUPT_MESSAGE, "zstd frame cut short");
    return KERR_NONE;
}

/* Makes decoded bytes available. false at the end of the bytes or on an
 * error (s->err). */
static bool src_fill(struct rv_src *s)
{
    while (s->out_pos == s->out_len) {
        size_t n = 0;
        kerr_t err;
        if (s->err != KERR_NONE || s->done)
            return false;
        switch (s->codec) {
        case CODEC_GZIP:
            err = step_gzip(s, &n);
            break;
        case CODEC_LZ4:
            err = step_lz4(s, &n);
            break;
        case CODEC_ZSTD:
            err = step_zstd(s, &n);
            break;
        default:
            err = step_snappy(s, &n);
            break;
        }
        if (err != KERR_NONE)
            return false;
        s->total += (int64_t)n;
        if (s->total > s->limit) {
            src_fail(s, KERR_INVALID_RECORD, "decompressed size over the limit");
            return false;
        }
        s->out = s->win;
        s->out_len = n;
        s->out_pos = 0;
    }
    return true;
}

kerr_t rv_decompress_records(const uint8_t *p, const struct batch_hdr *h, int64_t limit,
                             struct kbuf *out)
{
    struct rv_src s;
    kerr_t err = src_open(&s, batch_compression(h), p + BATCH_HDR_SIZE,
                          (size_t)(batch_size(h) - BATCH_HDR_SIZE), limit);

    while (err == KERR_NONE && src_fill(&s)) {
        kbuf_put(out, s.out + s.out_pos, s.out_len - s.out_pos);
        s.out_pos = s.out_len;
    }
    if (err == KERR_NONE)
        err = s.err;
    if (err == KERR_NONE && out->oom)
        err = KERR__NOMEM;
    src_close(&s);
    return err;
}

/* ---- record parser -------------------------------------------------------- */

/* Parser state over one batch. */
struct rv_parse {
    struct rv_src *s;
    int64_t left;    /* bytes left in the current record */
    const char *why; /* reason of a parse failure */
};

static bool fail(struct rv_parse *ps, const char *why)
{
    if (!ps->why)
        ps->why = why;
    return false;
}

/* Reads a zigzag varint of at most max_bytes bytes, whose unsigned form is
 * below 2^bits, within the current record. */
static bool rd_varint(struct rv_parse *ps, int max_bytes, int bits, int64_t *out)
{
    uint64_t v = 0;

    for (int i = 0; i < max_bytes; i++) {
        if (ps->left <= 0)
            return fail(ps, "varint runs past the record end");
        if (!src_fill(ps->s))
            return fail(ps, "varint runs past the batch end");
        uint8_t b = ps->s->out[ps->s->out_pos++];
        ps->left--;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if (bits < 64 && (v >> bits) != 0)
                return fail(ps, "varint overflows 32 bits");
            if (bits == 64 && i == 9 && b > 1)
                return fail(ps, "varlong overflows 64 bits");
            *out = (int64_t)((v >> 1) ^ (~(v & 1) + 1));
            return true;
        }
    }
    return fail(ps, "varint too long");
}

/* Skips n bytes of the current record. */
static bool rd_skip(struct rv_parse *ps, int64_t n, const char *what)
{
    if (n > ps->left)
        return fail(ps, what);
    ps->left -= n;
    while (n > 0) {
        if (!src_fill(ps->s))
            return fail(ps, "record runs past the batch end");
        size_t k = MIN((size_t)n, ps->s->out_len - ps->s->out_pos);
        ps->s->out_pos += k;
        n -= (int64_t)k;
    }
    return true;
}

/* Per-batch facts the record parser checks against. */
struct rv_batch {
    const struct batch_hdr *h;
    const struct rv_opts *o;
    int64_t prev_delta; /* offsetDelta of the previous record, -1 at start */
    int64_t max_ts;
    bool ts_bad;
};

static bool ts_out_of_range(const struct rv_opts *o, int64_t ts)
{
    if (o->ts_diff_max_ms < 0 || o->ts_diff_max_ms == INT64_MAX || ts == -1)
        return false;
    uint64_t d =
        ts > o->now_ms ? (uint64_t)ts - (uint64_t)o->now_ms : (uint64_t)o->now_ms - (uint64_t)ts;
    return d > (uint64_t)o->ts_diff_max_ms;
}

/* Parses record number i. */
static bool parse_record(struct rv_parse *ps, struct rv_batch *b, int32_t i)
{
    int64_t len, ts_delta, off_delta, klen, vlen, hcount;

    ps->left = INT64_MAX;
    if (!src_fill(ps->s))
        return fail(ps, "batch holds fewer records than recordsCount");
    if (!rd_varint(ps, 5, 32, &len))
        return false;
    if (len < 0)
        return fail(ps, "negative record length");
    ps->left = len;
    if (!rd_skip(ps, 1, "record too short for its attributes") ||
        !rd_varint(ps, 10, 64, &ts_delta) || !rd_varint(ps, 5, 32, &off_delta))
        return false;
    if (b->o->produce ? off_delta != i
                      : (off_delta <= b->prev_delta || off_delta > b->h->last_offset_delta))
        return fail(ps, "offsetDelta out of sequence");
    b->prev_delta = off_delta;
    if (!rd_varint(ps, 5, 32, &klen))
        return false;
    if (klen < -1)
        return fail(ps, "negative key length");
    if (klen == -1 && b->o->compacted)
        return fail(ps, "null key in a compacted topic");
    if (klen > 0 && !rd_skip(ps, klen, "key runs past the record end"))
        return false;
    if (!rd_varint(ps, 5, 32, &vlen))
        return false;
    if (vlen < -1)
        return fail(ps, "negative value length");
    if (vlen > 0 && !rd_skip(ps, vlen, "value runs past the record end"))
        return false;
    if (!rd_varint(ps, 5, 32, &hcount))
        return false;
    if (hcount < 0)
        return fail(ps, "negative header count");
    for (int64_t j = 0; j < hcount; j++) {
        int64_t hk, hv;
        if (!rd_varint(ps, 5, 32, &hk))
            return false;
        if (hk < 0)
            return fail(ps, "negative header key length");
        if (!rd_skip(ps, hk, "header key runs past the record end") || !rd_varint(ps, 5, 32, &hv))
            return false;
        if (hv < -1)
            return fail(ps, "negative header value length");
        if (hv > 0 && !rd_skip(ps, hv, "header value runs past the record end"))
            return false;
    }
    if (ps->left != 0)
        return fail(ps, "record length does not match its contents");
    if (!(b->h->attributes & BATCH_ATTR_LOG_APPEND_TIME)) {
        int64_t ts = (int64_t)((uint64_t)b->h->base_ts + (uint64_t)ts_delta);
        if (ts > b->max_ts)
            b->max_ts = ts;
        if (ts_out_of_range(b->o, ts))
            b->ts_bad = true;
    }
    return true;
}

/* Header-level rules that need no record bytes. */
static const char *check_header(const struct batch_hdr *h, const struct rv_opts *o, kerr_t *err)
{
    *err = KERR_INVALID_RECORD;
    if (h->magic != BATCH_MAGIC)
        return "magic is not 2";
    if (batch_compression(h) > BATCH_COMPRESSION_MAX) {
        *err = KERR_UNSUPPORTED_COMPRESSION_TYPE;
        return "compression codec 5-7";
    }
    if (h->records_count < 0 || h->last_offset_delta < 0)
        return "negative recordsCount or lastOffsetDelta";
    if (o->produce && batch_is_control(h))
        return "control batch from a client";
    if (o->produce ? (h->records_count == 0 || h->last_offset_delta != h->records_count - 1)
                   : h->records_count > (int64_t)h->last_offset_delta + 1)
        return "recordsCount does not match lastOffsetDelta";
    if (batch_compression(h) == 0 &&
        (int64_t)h->records_count * RV_MIN_RECORD > batch_size(h) - BATCH_HDR_SIZE)
        return "batch holds fewer records than recordsCount";
    return NULL;
}

kerr_t record_validate_batch(const uint8_t *p, const struct batch_hdr *h, const struct rv_opts *o,
                             struct rv_result *res)
{
    struct rv_src s;
    struct rv_parse ps = {.s = &s};
    struct rv_batch b = {.h = h, .o = o, .prev_delta = -1, .max_ts = -1};
    kerr_t err;
    const char *why = check_header(h, o, &err);

    if (res) {
        res->max_ts = -1;
        res->reason = why;
    }
    if (why)
        return err;
    err = src_open(&s, batch_compression(h), p + BATCH_HDR_SIZE,
                   (size_t)batch_size(h) - BATCH_HDR_SIZE, o->max_decompressed);
    if (err != KERR_NONE) {
        src_close(&s);
        if (res)
            res->reason = "cannot start the decompressor";
        return err;
    }
    err = KERR_NONE;
    for (int32_t i = 0; i < h->records_count && err == KERR_NONE; i++)
        if (!parse_record(&ps, &b, i))
            err = KERR_INVALID_RECORD;
    if (err == KERR_NONE && src_fill(&s))
        err = KERR_INVALID_RECORD, ps.why = "bytes past the last of recordsCount records";
    if (s.err != KERR_NONE) {
        err = s.err;
        ps.why = s.why;
    }
    src_close(&s);
    if (err == KERR_NONE && b.ts_bad) {
        err = KERR_INVALID_TIMESTAMP;
        ps.why = "record timestamp outside message.timestamp.difference.max.ms";
    }
    if (res) {
        res->max_ts = b.max_ts;
        res->reason = err == KERR_NONE ? NULL : ps.why;
    }
    return err;
}

bool batch_is_intact(const uint8_t *p, const struct batch_hdr *h)
{
    struct rv_opts o;

    rv_opts_stored(&o);
    return batch_crc_is_valid(p, h) && record_validate_batch(p, h, &o, NULL) == KERR_NONE;
}

kerr_t record_validate_stored_batches(const uint8_t *buf, size_t len, const char **reason)
{
    struct batch_iter it;
    struct batch_hdr h;
    struct rv_opts o;
    struct rv_result res;
    size_t at;
    kerr_t err;

    rv_opts_stored(&o);
    if (reason)
        *reason = NULL;
    batch_iter_init(&it, buf, len);
    while ((err = batch_iter_next(&it, &h, &at)) == KERR_NONE) {
        if (!batch_crc_is_valid(buf + at, &h)) {
            if (reason)
                *reason = "crc mismatch";
            return KERR_CORRUPT_MESSAGE;
        }
        err = record_validate_batch(buf + at, &h, &o, &res);
        if (err != KERR_NONE) {
            if (reason)
                *reason = res.reason;
            return err;
        }
    }
    if (err == KERR__CORRUPT) {
        if (reason)
            *reason = "bad batch header";
        return KERR_CORRUPT_MESSAGE;
    }
    return KERR_NONE;
}
