/*
 * broker/kafka/api_versions.c — ApiVersions (key 18), v0-v3.
 *
 * v0: error_code, api_keys[key, min, max]; v1-v2: + throttle_time_ms;
 * v3: flexible body (compact array, per-entry tags, trailing tags) but the
 * response header stays v0. An unsupported version gets the v0 error body
 * with only our ApiVersions entry (KIP-511). The v3 request body
 * (ClientSoftwareName/Version) is read but not validated.
 */
#include "broker/kafka/dispatch.h"

void api_versions_write_unsupported(struct req *req)
{
    struct kbuf *o = &req->out;
    kbuf_put_i16(o, KERR_UNSUPPORTED_VERSION);
    kbuf_put_i32(o, 1);
    int n;
    const struct api_desc *apis = dispatch_apis(&n);
    for (int i = 0; i < n; i++) {
        if (apis[i].key == API_API_VERSIONS) {
            kbuf_put_i16(o, apis[i].key);
            kbuf_put_i16(o, apis[i].min_version);
            kbuf_put_i16(o, apis[i].max_version);
        }
    }
}

kerr_t handle_api_versions(struct req *req)
{
    bool flex = req->flex;
    if (req->api_version >= 3) {
        (void)kw_get_str(&req->body, true); /* ClientSoftwareName */
        (void)kw_get_str(&req->body, true); /* ClientSoftwareVersion */
        kw_skip_tags(&req->body, true);
        if (!kslice_ok(&req->body))
            return KERR__CLOSE;
    }
    struct kbuf *o = &req->out;
    int n;
    const struct api_desc *apis = dispatch_apis(&n);
    kbuf_put_i16(o, KERR_NONE);
    kw_put_array_len(o, flex, n);
    for (int i = 0; i < n; i++) {
        kbuf_put_i16(o, apis[i].key);
        kbuf_put_i16(o, apis[i].min_version);
        kbuf_put_i16(o, apis[i].max_version);
        kw_put_tags(o, flex);
    }
    if (req->api_version >= 1)
        kbuf_put_i32(o, 0); /* throttle_time_ms */
    kw_put_tags(o, flex);
    return KERR_NONE;
}
