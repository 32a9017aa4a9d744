/*
 * broker/kafka/describe_cluster.c — DescribeCluster (key 60, v0, flexible).
 *
 * Request: include_cluster_authorized_operations bool.
 * Response: throttle_time_ms int32, error_code int16, error_message
 * nullable string, cluster_id string, controller_id int32, brokers [
 * broker_id int32, host string, port int32, rack nullable string],
 * cluster_authorized_operations int32.
 *
 * Answered from the metadata cache, as Metadata is: the live brokers with
 * the endpoint of the listener the request came in on, and the controller.
 * Like Metadata, a request that reaches a broker before the controller's
 * first UpdateMetadata waits for it (md_wait.h), at most 10 s; after that
 * the answer has controller -1 and no brokers.
 * cluster_authorized_operations: INT32_MIN ("not computed") unless the
 * request asks; then the operations the principal may do on the cluster
 * (authz_cluster_operations(): 0 without DESCRIBE on it).
 */
#include "broker/kafka/dispatch.h"
#include "broker/core/broker.h"
#include "broker/core/metadata_cache.h"
#include "broker/kafka/authz.h"
#include "broker/kafka/md_wait.h"

#include <stdint.h>

/* arg: non-NULL when the request asked for the cluster's authorized operations. */
static void dc_answer(struct req *req, void *arg)
{
    struct broker *b = req->broker;
    struct kbuf *o = &req->out;
    struct mc_snapshot *snap = mc_get(b->mc);
    kbuf_put_i32(o, 0); /* throttle_time_ms */
    kbuf_put_i16(o, KERR_NONE);
    kw_put_nstr(o, true, NULL); /* error_message */
    kw_put_str(o, true, b->cluster_id);
    kbuf_put_i32(o, snap->controller_id);
    kw_put_array_len(o, true, snap->n_brokers);
    for (int i = 0; i < snap->n_brokers; i++) {
        const struct broker_info *bi = &snap->brokers[i];
        const struct broker_endpoint *ep = broker_endpoint_for(bi, req->listener);
        kbuf_put_i32(o, bi->id);
        kw_put_str(o, true, ep->host);
        kbuf_put_i32(o, ep->port);
        kw_put_nstr(o, true, bi->rack[0] ? bi->rack : NULL);
        kw_put_tags(o, true);
    }
    kbuf_put_i32(o, arg ? authz_cluster_operations(req) : AUTHZ_OPS_NOT_COMPUTED);
    kw_put_tags(o, true);
    mc_put(snap);
}

static void dc_free(void *arg) { (void)arg; }

kerr_t handle_describe_cluster(struct req *req)
{
    struct kslice *s = &req->body;
    static char asked;                             /* a non-NULL arg for dc_answer() */
    void *arg = kslice_u8(s) != 0 ? &asked : NULL; /* include_cluster_authorized_operations */
    kw_skip_tags(s, true);
    if (!kslice_ok(s))
        return KERR__CLOSE;
    if (md_wait_needed(req))
        return md_wait_park(req, dc_answer, arg, dc_free);
    dc_answer(req, arg);
    return KERR_NONE;
}
