/*
 * broker/kafka/fetch.c — Fetch (key 1), v4-v11, with long polling.
 *
 * Request: replica_id, max_wait_ms, min_bytes, max_bytes (v3+),
 * isolation_level (v4+), session_id + session_epoch (v7+), topics[topic,
 * partitions[partition, current_leader_epoch (v9+), fetch_offset,
 * log_start_offset (v5+), partition_max_bytes]], forgotten_topics (v7+),
 * rack_id (v11+).
 * Response: throttle_time_ms, error_code + session_id (v7+), responses[topic,
 * partitions[index, error_code, high_watermark, last_stable_offset,
 * log_start_offset (v5+), aborted_transactions[producer_id INT64,
 * first_offset INT64] (null for read_uncommitted and followers),
 * preferred_read_replica (v11+, -1), records]].
 *
 * Transactions (docs/protocol.md §6.8): last_stable_offset is the LSO
 * (min(first offset of an open transaction, HW)); a read_committed
 * consumer (isolation_level 1) gets records below the LSO only, with the
 * aborted transactions whose marker is at or after the fetch offset and
 * that started below the LSO, for the client to drop their records.
 *
 * Record bytes come from storage as file spans and leave by sendfile.
 * Limits (KIP-74): stop at max_bytes / partition_max_bytes, except that the
 * first batch of the first non-empty partition is returned whole.
 * Long polling (docs/protocol.md §6.3): answer once bytes >= min_bytes, any partition has an
 * error, or max_wait_ms has passed; otherwise the request is parked with a
 * timer and a waiter on each partition (woken by appends). Sessions are not
 * kept: session_id 0 is always answered ("no session").
 *
 * Leader replication throttle (docs/architecture.md §6): in a follower's
 * fetch (replica_id >= 0), a partition listed for this broker in
 * leader.replication.throttled.replicas whose follower is not in the ISR
 * is answered without records while the bytes answered for such
 * partitions (b->leader_throttle) exceed leader.replication.throttled.rate
 * (b->dyn, loaded on each evaluation), as Kafka's shouldLeaderThrottle. The
 * follower's position still counts; consumers are never throttled.
 *
 * A stale leader (docs/architecture.md §3, "A broker back from a partition"):
 * an offset beyond the log end while this broker cannot vouch for its
 * leadership (broker_leadership_unconfirmed(): ZooKeeper disconnected, or the
 * session expired and no controller has spoken to the new registration yet)
 * is answered NOT_LEADER_OR_FOLLOWER, not OFFSET_OUT_OF_RANGE: the position
 * may be valid on the partition's real leader, and a client without leader
 * epochs (KIP-320) would reset to the log start on OFFSET_OUT_OF_RANGE. The
 * retriable error makes it refresh metadata and try again.
 */
#include "broker/kafka/authz.h"
#include "broker/kafka/delayed.h"
#include "broker/kafka/dispatch.h"
#include "broker/kafka/topic_groups.h"
#include "broker/core/broker.h"
#include "broker/core/quotas.h"
#include "broker/replication/topics.h"
#include "broker/storage/txn_index.h"
#include "common/clock.h"
#include "common/vec.h"

#include <event2/event.h>
#include <stdlib.h>
#include <unistd.h>

struct fetch_part {
    struct topic *t; /* referenced; NULL when unknown */
    int32_t index;
    int64_t offset;
    int32_t max_bytes;
    int32_t current_leader_epoch; /* v9+; -1 = not checked */
    struct partition_read rd;
    kerr_t err;
    kerr_t denied; /* TOPIC_AUTHORIZATION_FAILED: never read (t is NULL) */
    bool watched;
    struct pwaiter waiter; /* this part's node in its partition's waiter list */
};

struct fetch_op {
    struct req *req;
    int32_t replica_id;
    int32_t min_bytes, max_bytes;
    int8_t isolation;
    int64_t deadline_ms; /* monotonic */
    int n;
    struct fetch_part *parts;
    struct topic_groups topics; /* the request's topic entries over parts */
    struct delayed d;           /* parked: the delayed operation */
};

static void fetch_op_free(struct fetch_op *op)
{
    for (int i = 0; i < op->n; i++) {
        struct fetch_part *fp = &op->parts[i];
        if (fp->watched)
            partition_unwatch(topic_part(fp->t, fp->index), &fp->waiter);
        if (fp->rd.fd >= 0)
            close(fp->rd.fd);
        free(fp->rd.aborted);
        topic_unref(fp->t);
    }
    delayed_release(&op->d);
    free(op->parts);
    topic_groups_destroy(&op->topics);
    free(op);
}

static void fetch_op_destroy(void *op) { fetch_op_free(op); }

static struct partition *fp_partition(struct fetch_part *fp)
{
    if (!fp->t || fp->index < 0 || fp->index >= fp->t->n_parts)
        return NULL;
    return topic_part(fp->t, fp->index);
}

/* Reads every partition once. Returns the bytes found; *errors tells if any
 * partition has an error (which ends the wait). */
static int64_t fetch_read_all(struct fetch_op *op, bool *errors)
{
    int64_t total = 0;
    int over = -1; /* leader throttle exceeded: -1 not checked yet */
    struct broker *b = op->req->broker;
    int64_t now = clock_mono_ms();
    *errors = false;
    for (int i = 0; i < op->n; i++) {
        struct fetch_part *fp = &op->parts[i];
        if (fp->rd.fd >= 0)
            close(fp->rd.fd);
        free(fp->rd.aborted);
        fp->rd = (struct partition_read){.fd = -1, .hw = -1, .lso = -1, .log_start = -1};
        struct partition *part = fp_partition(fp);
        if (fp->denied) {
            fp->err = fp->denied;
        } else if (!part) {
            fp->err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
        } else {
            int64_t room = op->max_bytes - total;
            int64_t limit = room < fp->max_bytes ? room : fp->max_bytes;
            if (limit < 0)
                limit = 0;
            struct partition_fetch f = {.replica_id = op->replica_id,
                                        .current_leader_epoch = fp->current_leader_epoch,
                                        .offset = fp->offset,
                                        .max_bytes = limit,
                                        .min_one = total == 0,
                                        .now_ms = now,
                                        .read_committed = op->replica_id < 0 && op->isolation == 1};
            if (op->replica_id >= 0 && partition_leader_throttled(part)) {
                if (over < 0)
                    over = throttle_meter_exceeded(
                        &b->leader_throttle, dyn_load(&b->dyn.leader_replication_throttled_rate),
                        now);
                f.throttle_out_of_sync = over;
            }
            fp->err = partition_read(part, &f, &fp->rd);
            if (fp->err == KERR_OFFSET_OUT_OF_RANGE && fp->offset > fp->rd.leo &&
                broker_leadership_unconfirmed(b))
                fp->err = KERR_NOT_LEADER_OR_FOLLOWER; /* maybe a stale leader: see above */
            total += fp->rd.len;
        }
        if (fp->err != KERR_NONE)
            *errors = true;
    }
    return total;
}

static void fetch_encode(struct fetch_op *op)
{
    struct req *req = op->req;
    int64_t now = clock_mono_ms();
    struct kbuf *o = &req->out;
    int16_t v = req->api_version;
    size_t throttle_at = o->len;
    kbuf_put_i32(o, 0); /* throttle_time_ms, set below */
    if (v >= 7) {
        kbuf_put_i16(o, KERR_NONE);
        kbuf_put_i32(o, 0); /* session_id: no session */
    }
    size_t topics_at = o->len;
    int first_file = req->n_files;
    int64_t files_before = req->files_len;
    kw_put_array_len(o, false, op->topics.n);
    for (int ti = 0; ti < op->topics.n; ti++) {
        int end;
        for (int i = topic_groups_put(&op->topics, o, ti, op->n, &end); i < end; i++) {
            struct fetch_part *fp = &op->parts[i];
            kbuf_put_i32(o, fp->index);
            kbuf_put_i16(o, fp->err);
            kbuf_put_i64(o, fp->rd.hw);
            kbuf_put_i64(o, fp->rd.lso);
            if (v >= 5)
                kbuf_put_i64(o, fp->rd.log_start);
            if (op->isolation == 1 && op->replica_id < 0) {
                kw_put_array_len(o, false, fp->rd.n_aborted);
                for (int k = 0; k < fp->rd.n_aborted; k++) {
                    kbuf_put_i64(o, fp->rd.aborted[k].producer_id);
                    kbuf_put_i64(o, fp->rd.aborted[k].first_offset);
                }
            } else {
                kw_put_array_len(o, false, -1); /* aborted_transactions: null */
            }
            if (v >= 11)
                kbuf_put_i32(o, -1); /* preferred_read_replica */
            kbuf_put_i32(o, (int32_t)fp->rd.len);
            if (fp->rd.len > 0 && op->replica_id >= 0 &&
                partition_leader_throttled(fp_partition(fp)))
                throttle_meter_record(&req->broker->leader_throttle, fp->rd.len, now);
            if (fp->rd.len > 0) {
                req_add_file(req, fp->rd.fd, fp->rd.pos, fp->rd.len);
                fp->rd.fd = -1; /* now the req's */
            }
        }
    }
    if (op->replica_id >= 0)
        return; /* client quotas: consumers only, never followers */
    /* As Kafka: the whole response counts against the consumer's byte rate;
     * over it, the response goes without its partitions (the measure taken
     * back, since their records are not sent) and says how long to wait. */
    double size = (double)o->len + (double)req->files_len;
    int32_t ms = req_quota_record(req, QUOTA_FETCH, size);
    kbuf_patch_i32(o, throttle_at, ms);
    if (ms > 0) {
        req_quota_unrecord(req, QUOTA_FETCH, size);
        for (int i = first_file; i < req->n_files; i++)
            close(req->files[i].fd);
        req->n_files = first_file;
        req->files_len = files_before;
        o->len = topics_at;
        kw_put_array_len(o, false, 0);
        return;
    }
    for (int i = 0; i < op->n; i++)
        if (op->parts[i].t && op->parts[i].rd.len > 0)
            metrics_add(&op->parts[i].t->bytes_out, (uint64_t)op->parts[i].rd.len);
}

/* Evaluates the fetch; true when the response is written. */
static bool fetch_try_complete(struct fetch_op *op, bool timed_out)
{
    bool errors;
    int64_t bytes = fetch_read_all(op, &errors);
    if (!timed_out && !errors && bytes < op->min_bytes && clock_mono_ms() < op->deadline_ms)
        return false;
    fetch_encode(op);
    return true;
}

static bool fetch_check(void *op, bool timed_out) { return fetch_try_complete(op, timed_out); }

static kerr_t fetch_park(struct fetch_op *op)
{
    if (!delayed_init(&op->d, op->req, fetch_check, fetch_op_destroy, op))
        return KERR__NOMEM;
    /* one node per partition entry: a node can sit in one list only */
    for (int i = 0; i < op->n; i++) {
        struct fetch_part *fp = &op->parts[i];
        struct partition *part = fp_partition(fp);
        if (!part)
            continue;
        fp->waiter =
            (struct pwaiter){.wake = delayed_waiter_wake, .owner = &op->d, .what = "fetch"};
        partition_watch(part, &fp->waiter);
        fp->watched = true;
    }
    return delayed_park(&op->d, op->deadline_ms - clock_mono_ms());
}

static bool fetch_decode_parts(struct fetch_op *op, struct kslice *s, int32_t n_topics)
{
    struct broker *b = op->req->broker;
    int16_t v = op->req->api_version;
    size_t cap = 0; /* room in op->parts */
    if (!topic_groups_init(&op->topics, n_topics))
        return false;
    /* a follower's fetch needs CLUSTER_ACTION, a consumer's READ on each topic */
    bool replica_ok = op->replica_id < 0 || authz_cluster(op->req, ACL_OP_CLUSTER_ACTION);
    for (int32_t ti = 0; ti < n_topics && kslice_ok(s); ti++) {
        struct kstr name = kw_get_str(s, false);
        int32_t np = kw_get_array_len(s, false, 16);
        if (!kslice_ok(s) || !name.ptr || np < 0)
            return false;
        topic_groups_add(&op->topics, name, op->n);
        bool allowed = op->replica_id >= 0
                           ? replica_ok
                           : authz_topic(op->req, ACL_OP_READ, name.ptr, (size_t)name.len);
        struct topic *t = allowed ? topics_get(b->topics, name.ptr, (size_t)name.len) : NULL;
        for (int32_t j = 0; j < np && kslice_ok(s); j++) {
            if (!VEC_RESERVE_AT(op->parts, cap, (size_t)op->n + 1)) {
                topic_unref(t);
                return false;
            }
            struct fetch_part *fp = &op->parts[op->n++];
            *fp = (struct fetch_part){.rd = {.fd = -1}, .current_leader_epoch = -1};
            fp->index = kslice_i32(s);
            if (v >= 9)
                fp->current_leader_epoch = kslice_i32(s);
            fp->offset = kslice_i64(s);
            if (v >= 5)
                (void)kslice_i64(s); /* log_start_offset (followers) */
            fp->max_bytes = kslice_i32(s);
            fp->denied = allowed ? KERR_NONE : KERR_TOPIC_AUTHORIZATION_FAILED;
            if (t)
                topic_ref(t);
            fp->t = t;
        }
        topic_unref(t);
    }
    return kslice_ok(s);
}

kerr_t handle_fetch(struct req *req)
{
    struct kslice *s = &req->body;
    int16_t v = req->api_version;
    struct fetch_op *op = calloc(1, sizeof(*op));
    if (!op)
        return KERR__CLOSE;
    op->req = req;
    op->replica_id = kslice_i32(s);
    int32_t max_wait = kslice_i32(s);
    op->min_bytes = kslice_i32(s);
    op->max_bytes = kslice_i32(s);
    op->isolation = (int8_t)kslice_u8(s);
    if (v >= 7) {
        (void)kslice_i32(s); /* session_id */
        (void)kslice_i32(s); /* session_epoch */
    }
    int32_t n_topics = kw_get_array_len(s, false, 6);
    if (!kslice_ok(s) || !fetch_decode_parts(op, s, n_topics)) {
        fetch_op_free(op);
        return KERR__CLOSE;
    }
    /* forgotten_topics (v7+) and rack_id (v11+) need no action without sessions */
    if (max_wait < 0)
        max_wait = 0;
    op->deadline_ms = clock_mono_ms() + max_wait;
    if (fetch_try_complete(op, max_wait == 0)) {
        fetch_op_free(op);
        return KERR_NONE;
    }
    kerr_t rc = fetch_park(op);
    if (rc != KERR__PENDING) {
        fetch_try_complete(op, true);
        fetch_op_free(op);
        return KERR_NONE;
    }
    return KERR__PENDING;
}
