/*
 * common/kheader.h — the Kafka request and response headers and the frame
 * around them (docs/protocol.md, framing and flexible versions). Every
 * component that speaks Kafka framing (the broker's connections, the
 * replica fetcher, the controller's channel, the CLI's raw client) encodes
 * and decodes headers here.
 *
 * Frame: [INT32 size][header][body]; `size` counts the bytes after itself.
 *
 * Request header:
 *   v0  api_key INT16, api_version INT16, correlation_id INT32
 *   v1  v0 + client_id NULLABLE_STRING (INT16 length, -1 = null)
 *   v2  v1 + TAGGED_FIELDS; client_id keeps its INT16 length (KIP-482)
 * Response header:
 *   v0  correlation_id INT32
 *   v1  v0 + TAGGED_FIELDS
 *
 * Which version: a request uses v2 when its (api_key, api_version) is
 * flexible (api_is_flexible(), common/api_keys.h), else v1; the response
 * uses v1 when the request was flexible, except ApiVersions, which always
 * answers with v0 so that a client can read the answer before it knows the
 * broker's versions. Gregor's control keys are never flexible (v1 / v0).
 *
 * Encoders write an empty tagged-field section; decoders skip every tag
 * (unknown tags are ignored). Decoders borrow the input: client_id is a
 * view into it.
 *
 * Threads: no state; any thread.
 */
#ifndef GREGOR_COMMON_KHEADER_H
#define GREGOR_COMMON_KHEADER_H

#include "common/buf.h"
#include "common/err.h"
#include "common/kwire.h"

#define KHDR_SIZE_PREFIX 4           /* the INT32 frame size */
#define KHDR_RESP_PREFIX_MAX (4 + 5) /* size prefix + the largest response header we write */

struct khdr_req {
    int16_t api_key;
    int16_t api_version;
    int32_t correlation_id;
    struct kstr client_id; /* ptr NULL = null; a decoder's view into its input */
};

/* Request header version of (api_key, api_version): 2 when flexible
 * (api_is_flexible()), else 1. */
int khdr_req_version(int api_key, int api_version);
/* Response header version answering (api_key, api_version): 1 when the
 * request is flexible, else 0; ApiVersions always 0. */
int khdr_resp_version(int api_key, int api_version);

/* Appends a request header of version 0, 1 or 2. Returns false (nothing
 * written) for another version or a client_id longer than INT16_MAX. */
bool khdr_put_req(struct kbuf *b, int version, const struct khdr_req *h);
/* Reads a request header of version 0, 1 or 2 (v0 leaves client_id null).
 * A reader that learns the version only from api_key and api_version reads
 * version 1 and then khdr_get_req_tags(). Returns kslice_ok(s). */
bool khdr_get_req(struct kslice *s, int version, struct khdr_req *h);
/* Skips the tagged fields that end a v2 request header; nothing for v0/v1.
 * Returns kslice_ok(s). */
bool khdr_get_req_tags(struct kslice *s, int version);

/* Appends a response header of version 0 or 1. */
void khdr_put_resp(struct kbuf *b, int version, int32_t correlation_id);
/* Reads a response header of version 0 or 1. Returns kslice_ok(s). */
bool khdr_get_resp(struct kslice *s, int version, int32_t *correlation_id);

/* Reads a frame's INT32 size prefix from the avail bytes at p: KERR__CORRUPT
 * if the size is outside [min, max] (checked as soon as the prefix is
 * there), KERR__AGAIN if the prefix or the rest of the frame has not all
 * arrived, else KERR_NONE. *frame_len gets the size (without the prefix)
 * whenever the prefix is there and in bounds. */
kerr_t khdr_frame_size(const uint8_t *p, size_t avail, size_t min, size_t max, size_t *frame_len);

/* Starts a frame: reserves the size prefix; returns its position for
 * khdr_frame_end(). */
size_t khdr_frame_begin(struct kbuf *b);
/* Ends the frame begun at `at`: writes the size of what followed the
 * prefix. Returns KERR_NONE, KERR__NOMEM if b ran out of memory, or
 * KERR__INVALID (size left unpatched) if that size exceeds max. */
kerr_t khdr_frame_end(struct kbuf *b, size_t at, size_t max);
/* Writes the size prefix and a response header of `version` for a body of
 * body_len bytes into out; returns the bytes written (at most
 * KHDR_RESP_PREFIX_MAX). For writers that send the body from elsewhere. */
size_t khdr_resp_prefix(uint8_t out[KHDR_RESP_PREFIX_MAX], int version, int32_t correlation_id,
                        int64_t body_len);

#endif
