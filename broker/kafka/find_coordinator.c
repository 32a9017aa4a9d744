/*
 * broker/kafka/find_coordinator.c — FindCoordinator (key 10), v0-v2.
 *
 * Request: key, key_type (v1+). Response: throttle (v1+), error_code,
 * error_message (v1+), node_id, host, port.
 * Consumer groups and transactions are not implemented yet, so every key
 * is answered with COORDINATOR_NOT_AVAILABLE. The API is advertised
 * because librdkafka keys features on it (LZ4, groups; docs/protocol.md
 * §2.3) and clients retry this error.
 */
#include "broker/kafka/dispatch.h"

kerr_t handle_find_coordinator(struct req *req)
{
    struct kslice *s = &req->body;
    (void)kw_get_str(s, false);
    if (req->api_version >= 1)
        (void)kslice_u8(s);
    if (!kslice_ok(s))
        return KERR__CLOSE;
    struct kbuf *o = &req->out;
    if (req->api_version >= 1)
        kbuf_put_i32(o, 0);
    kbuf_put_i16(o, KERR_COORDINATOR_NOT_AVAILABLE);
    if (req->api_version >= 1)
        kw_put_nstr(o, false, "consumer groups are not implemented yet");
    kbuf_put_i32(o, -1);
    kw_put_str(o, false, "");
    kbuf_put_i32(o, -1);
    return KERR_NONE;
}
