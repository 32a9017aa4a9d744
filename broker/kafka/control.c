/*
 * broker/kafka/control.c — the private control-plane keys 10000-10004
 * (controller/rpc.h, proto/control.proto): the request body is one packed
 * protobuf message, the response body another; api_version is always 0.
 *
 * They are accepted only on the inter-broker listener (elsewhere the
 * connection is closed, as for any unknown key), and are fenced by the
 * controller id and epoch ZooKeeper names (broker/core/controller_watch.c), the
 * broker epoch and the leader epoch in broker/core/replica_manager.c
 * and the controller. They are not authenticated: the inter-broker listener
 * must be reachable by brokers only (docs/cluster.md).
 *   LeaderAndIsr, UpdateMetadata, StopReplica -> replica manager, on the
 *     admin worker (it may read ZooKeeper for a new topic);
 *   AlterIsr, ControlledShutdown -> this broker's controller, which answers
 *     NOT_CONTROLLER unless it is the active one.
 * All five complete later (KERR__PENDING).
 */
#include "broker/kafka/authz.h"
#include "broker/kafka/dispatch.h"
#include "common/loop/worker.h"
#include "broker/core/replica_manager.h"
#include "broker/core/broker.h"
#include "controller/controller.h"
#include "controller/rpc.h"
#include "common/say.h"

#include <string.h>

static void control_job(void *arg)
{
    struct req *req = arg;
    struct broker *b = req->broker;
    KASSERT(worker_is_current(b->admin));
    const uint8_t *body = req->body.p + req->body.pos;
    size_t len = req->body.len - req->body.pos;
    switch (req->api_key) {
    case RPC_LEADER_AND_ISR:
        rm_leader_and_isr(b, body, len, &req->out);
        break;
    case RPC_UPDATE_METADATA:
        rm_update_metadata(b, body, len, &req->out);
        break;
    default:
        rm_stop_replica(b, body, len, &req->out);
        break;
    }
    req_complete(req);
}

/* Controller loop: copy the answer and send it. */
static void controller_done(void *arg, const uint8_t *resp, size_t len)
{
    struct req *req = arg;
    kbuf_put(&req->out, resp, len);
    req_complete(req);
}

kerr_t handle_control(struct req *req)
{
    struct broker *b = req->broker;
    const char *inter = b->cfg->listener[b->cfg->inter_broker_listener].name;
    if (!b->rm)
        return KERR__CLOSE; /* not part of a cluster (tests that run handlers alone) */
    if (!req->listener || strcmp(req->listener, inter) != 0) {
        say_warn_every(1000, "kafka",
                       "control request on a client listener refused key=%d listener=%s",
                       req->api_key, req->listener ? req->listener : "?");
        return KERR__CLOSE;
    }
    if (!authz_cluster(req, ACL_OP_CLUSTER_ACTION)) {
        say_warn_every(1000, "kafka",
                       "control request refused: no ClusterAction key=%d "
                       "principal=%s",
                       req->api_key, req->principal ? req->principal : "?");
        return KERR__CLOSE;
    }
    kerr_t rc = KERR__CLOSE;
    pthread_rwlock_rdlock(&b->control_gate);
    if (!b->control_open || !b->controller) {
        /* starting (no controller yet) or shutting down (the loops below go away) */
    } else if (req->api_key == RPC_LEADER_AND_ISR || req->api_key == RPC_UPDATE_METADATA ||
               req->api_key == RPC_STOP_REPLICA) {
        if (worker_post(b->admin, control_job, req))
            rc = KERR__PENDING;
    } else if (req->api_key == RPC_ALTER_ISR || req->api_key == RPC_CONTROLLED_SHUTDOWN) {
        controller_handle_request(b->controller, req->api_key, req->body.p + req->body.pos,
                                  req->body.len - req->body.pos, controller_done, req);
        rc = KERR__PENDING;
    }
    pthread_rwlock_unlock(&b->control_gate);
    return rc;
}
