/*
 * broker/storage/batch_compress.h — compresses the records section of a
 * RecordBatch v2 with one of Kafka's codecs, as the Java producer writes
 * them: gzip (a gzip member, zlib), snappy (xerial framing: the 16-byte
 * header, then blocks of up to 32 KiB each behind a big-endian length),
 * lz4 (an LZ4 frame), zstd (one zstd frame). Decompression is
 * rv_decompress_records() (record_validate.h).
 *
 * Used by the log cleaner to rewrite a compressed batch with the same codec.
 * Threads: pure functions; any thread.
 */
#ifndef GREGOR_BROKER_STORAGE_BATCH_COMPRESS_H
#define GREGOR_BROKER_STORAGE_BATCH_COMPRESS_H

#include "common/buf.h"
#include "common/err.h"

/* Appends in/len compressed with codec (1..4) to out. KERR__INVALID for
 * another codec, KERR__NOMEM, KERR__IO if the library fails. */
kerr_t batch_compress(int codec, const uint8_t *in, size_t len, struct kbuf *out);

#endif
