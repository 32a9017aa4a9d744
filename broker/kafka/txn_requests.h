/*
 * broker/kafka/txn_requests.h — the transaction coordinator's request handlers
 * (txn_requests.c); InitProducerId's transactional branch enters here from
 * init_producer_id.c. Network loop; the answers are completed from the txn worker.
 */
#ifndef GREGOR_BROKER_KAFKA_TXN_REQUESTS_H
#define GREGOR_BROKER_KAFKA_TXN_REQUESTS_H

#include "broker/kafka/request.h"

/* InitProducerId with transactional id `id` (non-null), decoded: KERR__PENDING, KERR_NONE
 * (answered now) or KERR__CLOSE. */
kerr_t txn_request_init_pid(struct req *req, struct kstr id, int32_t timeout_ms, int64_t pid,
                            int16_t epoch);

#endif
