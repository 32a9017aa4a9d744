/*
 * broker/kafka/md_wait.h — holding a request that answers from the metadata
 * cache (Metadata, DescribeCluster) until the broker has the controller's
 * first UpdateMetadata.
 *
 * A broker that just started knows no topic, broker or controller until the
 * controller's first UpdateMetadata (sent as soon as it registers);
 * answering then would describe an empty cluster. Such a request is parked
 * on its connection's loop, polled every MD_WAIT_POLL_MS, until the cache is
 * known or MD_WAIT_FIRST_MS passes (no controller reaches the broker), or
 * the broker shuts down; then it is answered from whatever the cache holds.
 * Loop-owned: the parked state lives on the request's network loop.
 */
#ifndef GREGOR_BROKER_KAFKA_MD_WAIT_H
#define GREGOR_BROKER_KAFKA_MD_WAIT_H

#include "broker/kafka/request.h"

#include <stdbool.h>

#define MD_WAIT_POLL_MS 10
#define MD_WAIT_FIRST_MS 10000

/* True when req should wait: the broker is part of a cluster (it has a
 * replica manager) and its cache has had no UpdateMetadata yet. */
bool md_wait_needed(struct req *req);
/* True when the broker's cache came from the controller. Any thread. */
bool md_cache_known(struct broker *b);

/* Parks req (see above); when it is time, calls answer(req, arg) to write
 * the response, then free_arg(arg) and req_complete(req). Takes arg (freed
 * with free_arg also on failure). Returns KERR__PENDING, or KERR__CLOSE on
 * OOM. */
kerr_t md_wait_park(struct req *req, void (*answer)(struct req *req, void *arg), void *arg,
                    void (*free_arg)(void *arg));

#endif
