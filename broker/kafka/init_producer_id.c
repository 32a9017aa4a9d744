/*
 * broker/kafka/init_producer_id.c — InitProducerId (key 22, v0–4; v2+
 * flexible).
 *
 * Request: transactional_id nullable string, transaction_timeout_ms int32,
 * v3+: producer_id int64, producer_epoch int16 (-1/-1 for a new producer).
 * Response: throttle_time_ms int32, error_code int16, producer_id int64,
 * producer_epoch int16 (-1/-1 on an error).
 *
 * Idempotent producers (transactional_id null) are served by every broker
 * from broker/core/producer_ids.c: a new id at epoch 0, or with v3+ an epoch
 * bump of the id and epoch the request names (KIP-360). Their timeout is not
 * looked at. Transactional producers: an empty id (or one over TXN_ID_MAX
 * bytes) is INVALID_REQUEST and a timeout outside 1..transaction.max.timeout.ms
 * INVALID_TRANSACTION_TIMEOUT, on any broker, as Kafka; the rest goes to the
 * transaction coordinator (txn_requests.c). docs/protocol.md documents the
 * answers.
 */
#include "broker/config/config.h"
#include "broker/core/broker.h"
#include "broker/core/producer_ids.h"
#include "broker/kafka/authz.h"
#include "broker/kafka/dispatch.h"
#include "broker/kafka/txn_requests.h"
#include "broker/txn/txn_log_format.h"
#include "common/say.h"

static void ipi_answer(struct req *req, kerr_t err, int64_t id, int16_t epoch)
{
    struct kbuf *o = &req->out;
    kbuf_put_i32(o, 0); /* throttle_time_ms */
    kbuf_put_i16(o, err);
    kbuf_put_i64(o, err == KERR_NONE ? id : -1);
    kbuf_put_i16(o, err == KERR_NONE ? epoch : -1);
    kw_put_tags(o, req->flex);
}

kerr_t handle_init_producer_id(struct req *req)
{
    struct kslice *s = &req->body;
    bool flex = req->flex;
    struct kstr txn_id = kw_get_str(s, flex);
    int32_t timeout_ms = kslice_i32(s);
    int64_t cur_id = -1;
    int16_t cur_epoch = -1;
    if (req->api_version >= 3) {
        cur_id = kslice_i64(s);
        cur_epoch = kslice_i16(s);
    }
    kw_skip_tags(s, flex);
    if (!kslice_ok(s))
        return KERR__CLOSE;
    struct broker *b = req->broker;
    if (!kstr_is_null(txn_id)) {
        kerr_t err = KERR_NONE;
        if (txn_id.len == 0 || txn_id.len > TXN_ID_MAX)
            err = KERR_INVALID_REQUEST;
        else if (timeout_ms <= 0 || timeout_ms > b->cfg->transaction_max_timeout_ms)
            err = KERR_INVALID_TRANSACTION_TIMEOUT;
        else if ((cur_id == -1) != (cur_epoch == -1) || cur_id < -1 || cur_epoch < -1)
            err = KERR_INVALID_REQUEST;
        if (err == KERR_NONE)
            return txn_request_init_pid(req, txn_id, timeout_ms, cur_id, cur_epoch);
        say_info("pid", "InitProducerId for transactional_id=\"%.*s\" timeout_ms=%d answered %s",
                 txn_id.len > 64 ? 64 : (int)txn_id.len, txn_id.len ? txn_id.ptr : "", timeout_ms,
                 kerr_name(err));
        ipi_answer(req, err, -1, -1);
        return KERR_NONE;
    }
    /* an idempotent producer needs IDEMPOTENT_WRITE on the cluster */
    if (!authz_cluster(req, ACL_OP_IDEMPOTENT_WRITE)) {
        ipi_answer(req, KERR_CLUSTER_AUTHORIZATION_FAILED, -1, -1);
        return KERR_NONE;
    }
    /* KIP-360: both or neither (Kafka's request validation) */
    if ((cur_id == -1) != (cur_epoch == -1) || cur_id < -1 || cur_epoch < -1) {
        ipi_answer(req, KERR_INVALID_REQUEST, -1, -1);
        return KERR_NONE;
    }
    int64_t id = -1;
    int16_t epoch = -1;
    kerr_t err = KERR_COORDINATOR_NOT_AVAILABLE; /* no producer ids in this process */
    if (b->pids)
        err = pids_init(b->pids, cur_id, cur_epoch, req->api_version, &id, &epoch);
    if (err != KERR_NONE && err != KERR_COORDINATOR_LOAD_IN_PROGRESS)
        say_info("pid", "InitProducerId re-init producer_id=%lld epoch=%d answered %s",
                 (long long)cur_id, cur_epoch, kerr_name(err));
    ipi_answer(req, err, id, epoch);
    return KERR_NONE;
}
