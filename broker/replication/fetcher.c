/*
 * broker/replication/fetcher.c — the follower side of replication
 * (fetcher.h, docs/architecture.md §6-§7).
 *
 * Threads: num.replica.fetchers workers (common/loop/worker.h). A partition
 * is fetched by thread leader_id % n; inside a thread there is one fetch
 * session (struct fsession: one TCP connection through a bufferevent) per
 * source broker, carrying every partition followed from that leader.
 * fetchers_add/remove post jobs; everything below struct fetchers is
 * loop-owned by its thread and touched without locks. Partition state is
 * changed only through partition.h (which takes the partition lock).
 *
 * Session loop (one request in flight at a time, responses in order):
 *
 *   DOWN --connect--> CONNECTING --connected--> IDLE --send--> WAITING
 *     ^                  |  (next address of getaddrinfo's list first)  |
 *     +---- backoff -----+----------- error / timeout / EOF ------------+
 *                                      IDLE <------- response ----------+
 *
 * In IDLE the session sends, for the partitions whose retry time has come:
 *   1. OffsetForLeaderEpoch v3 for partitions in FP_TRUNCATE, then truncates
 *      each to min(leader's end offset for our newest epoch, local LEO), or
 *      to the local HW when the leader knows no such epoch (-1/-1) — and
 *      without asking when the local epoch cache is empty (latest epoch -1):
 *      Kafka's rule for logs written without epochs;
 *   2. otherwise Fetch v11 for partitions in FP_FETCH, from the local LEO,
 *      and appends the whole batches of the answer (a trailing partial batch
 *      is cut, KIP-74) with the leader's HW and log start.
 * Nothing eligible: a timer fires at the earliest retry time. No partition
 * left: the session is freed. A Fetch waits at the leader at most until the
 * earliest retry time of a partition it leaves out (so a delayed partition
 * never waits behind a long poll), and a partition added while a Fetch is
 * in flight drops that Fetch and reconnects at once: otherwise, after a
 * failover, the new partitions would wait up to replica.fetch.wait.max.ms
 * behind a fetch parked at the new leader, and acks=all producers with
 * them. A repeated fetchers_add() (same leader and epoch) changes nothing.
 *
 * Follower replication throttle (follower_held()): a partition listed for
 * this broker in follower.replication.throttled.replicas that is behind the
 * leader's HW is left out of the Fetch while the bytes appended for such
 * partitions (throttle.h meter) exceed follower.replication.throttled.rate,
 * loaded from cfg.dyn on each use; it is looked at again every
 * FP_THROTTLE_RETRY_MS. Other partitions are never held.
 *
 * Errors per partition: OFFSET_OUT_OF_RANGE below the leader's log start
 * restarts the local log there (truncate fully; when that start lies
 * inside the first batch answered, the empty log restarts at the batch's
 * base instead, as Kafka does), else the partition goes back to
 * FP_TRUNCATE (with a backoff from the second time in a row). FENCED_LEADER_EPOCH (the leader is at a newer epoch:
 * a LeaderAndIsr for us is on its way) parks the partition in FP_FAILED
 * until fetchers_add() names it again. NOT_LEADER_OR_FOLLOWER,
 * UNKNOWN_LEADER_EPOCH, UNKNOWN_TOPIC_OR_PARTITION and anything else retry
 * after backoff_ms: the leader may simply not have applied its own
 * LeaderAndIsr yet, and parking would leave the follower out of the ISR
 * forever. partition_* answering FENCED_LEADER_EPOCH, or
 * partition_follower_position() answering false, mean this replica's own
 * role changed: the partition is dropped. Connection errors back off
 * backoff_ms; nothing spins.
 *
 * Wire (docs/protocol.md; both versions are non-flexible: request
 * header v1 with client_id, response header v0):
 *   OffsetForLeaderEpoch v3 req: replica_id, topics[topic, partitions[
 *     partition, current_leader_epoch, leader_epoch]]
 *   resp: throttle_time_ms, topics[topic, partitions[error_code, partition,
 *     leader_epoch, end_offset]]
 *   Fetch v11 req: replica_id, max_wait_ms, min_bytes, max_bytes,
 *     isolation_level, session_id 0, session_epoch -1, topics[topic,
 *     partitions[partition, current_leader_epoch, fetch_offset,
 *     log_start_offset -1, partition_max_bytes]], forgotten_topics [], rack ""
 *   resp: throttle_time_ms, error_code, session_id, responses[topic,
 *     partitions[index, error_code, high_watermark, last_stable_offset,
 *     log_start_offset, aborted_transactions, preferred_read_replica, records]]
 */
#include "broker/replication/fetcher.h"
#include "common/loop/peer_tls.h"
#include "common/loop/sasl_bev.h"
#include "common/loop/worker.h"
#include "broker/replication/partition.h"
#include "broker/storage/batch.h"
#include "broker/replication/topics.h"
#include "common/api_keys.h"
#include "common/base.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/kheader.h"
#include "common/kwire.h"
#include "common/say.h"
#include "common/vec.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define FETCH_VERSION 11
#define OFLE_VERSION 3
#define FETCHER_HOST_MAX 255

enum fp_state {
    FP_TRUNCATE, /* align with the leader (OffsetForLeaderEpoch) before fetching */
    FP_FETCH,    /* fetch from the local LEO */
    FP_FAILED,   /* fenced by the leader: wait for fetchers_add() */
};

/* One followed partition. Loop-owned by its thread; lives in exactly one
 * session's list; freed by part_reap() once dead and not in flight. */
#define FP_FIRST_RETRY_MS 20 /* first retry of a refused partition */

struct fpart {
    struct fpart *next;
    struct topic *t; /* referenced */
    int32_t index;
    int32_t epoch; /* leader epoch we follow under */
    enum fp_state state;
    bool dead;            /* removed; freed when no request names it */
    bool inflight;        /* named by the request in flight */
    int64_t retry_at_ms;  /* monotonic: not before this */
    int64_t fetch_offset; /* the offset sent in the last Fetch */
    int oor_streak;       /* consecutive OFFSET_OUT_OF_RANGE answers */
    int err_streak;       /* consecutive delays: the backoff doubles from FP_FIRST_RETRY_MS */
    int64_t empty_at;     /* the log was restarted empty here (-1: not empty) */
    int64_t leader_hw;    /* the leader's HW in its last answer (-1: none yet) */
};

enum fs_state { FS_DOWN, FS_CONNECTING, FS_IDLE, FS_WAITING };

struct fthread;

/* One source broker. Loop-owned by th; created by the first partition
 * added for leader_id, freed when its last partition goes. */
struct fsession {
    struct fsession *next;
    struct fthread *th;
    int32_t leader_id;
    char host[FETCHER_HOST_MAX + 1];
    int port;
    enum fs_state state;
    struct bufferevent *bev;  /* owned; NULL in FS_DOWN */
    struct sasl_bev *sasl;    /* owned: the SASL login running after connect, or NULL */
    struct addrinfo *ai_list; /* owned: getaddrinfo's answer */
    struct addrinfo *ai_cur;  /* address being tried (in ai_list) */
    struct event *retry_ev;   /* owned: backoff or delayed partitions */
    struct event *timeout_ev; /* owned: connect / request deadline */
    struct fpart *parts;      /* same-topic partitions kept adjacent */
    int n_live;               /* parts not dead */
    int16_t inflight_api;
    int32_t corr;
    int64_t sent_ms;      /* monotonic time of the last request */
    int32_t sent_wait_ms; /* max_wait_ms of the last Fetch sent */
    struct fpart **sent;  /* parts named by the request in flight */
    int n_sent;
    size_t cap_sent;
    int fails; /* consecutive connection failures */
};

/* One fetcher thread. `sessions` and `stopping` are loop-owned. */
struct fthread {
    struct fetchers *f;
    struct worker *w; /* owned */
    struct fsession *sessions;
    bool stopping; /* fetchers_free() began: refuse adds */
};

struct fetchers {
    struct fetcher_config cfg; /* immutable after fetchers_new() */
    char client_id[32];
    int n;
    struct fthread *th; /* n of them; owned */
    _Atomic int partitions;
    _Atomic uint64_t fetches, bytes, truncations, errors;
    struct throttle_meter throttle; /* follower-throttled bytes appended (its own lock) */
};

/* A job posted to a thread: add (t != NULL) or remove. Owned by the job. */
struct fjob {
    struct fthread *th;
    struct topic *t; /* referenced, add only */
    char topic[TOPIC_NAME_MAX_LEN + 1];
    int32_t p, leader_id, epoch;
    char host[FETCHER_HOST_MAX + 1];
    int port;
};

static void session_kick(struct fsession *s);
static void session_fail(struct fsession *s, const char *why);

static struct partition *fp_partition(const struct fpart *fp)
{
    return topic_part(fp->t, fp->index);
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* ---- partitions ---------------------------------------------------- */

static void part_kill(struct fsession *s, struct fpart *fp, const char *why)
{
    if (fp->dead)
        return;
    fp->dead = true;
    s->n_live--;
    atomic_fetch_sub(&s->th->f->partitions, 1);
    say_debug("repl", "fetcher drops partition topic=%s partition=%d leader=%d reason=%s",
              fp->t->name, fp->index, s->leader_id, why);
}

/* Frees dead partitions that no request in flight names. */
static void part_reap(struct fsession *s)
{
    struct fpart **pp = &s->parts;
    while (*pp) {
        struct fpart *fp = *pp;
        if (fp->dead && !fp->inflight) {
            *pp = fp->next;
            topic_unref(fp->t);
            free(fp);
        } else {
            pp = &fp->next;
        }
    }
}

/* Links fp after the last partition of the same topic (or at the end). */
static void part_link(struct fsession *s, struct fpart *fp)
{
    struct fpart **pp = &s->parts, **after = NULL;
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->t == fp->t)
            after = &(*pp)->next;
    if (!after)
        after = pp;
    fp->next = *after;
    *after = fp;
    s->n_live++;
    atomic_fetch_add(&s->th->f->partitions, 1);
}

/* The first retries come quickly: after a leader change the follower's
 * fetch often arrives a few ms before the new leader applied its own
 * LeaderAndIsr, and acks=all waits for that follower. Then the delay
 * doubles up to backoff_ms. */
static void part_delay(struct fsession *s, struct fpart *fp, int64_t now)
{
    int64_t ms = s->th->f->cfg.backoff_ms;
    if (fp->err_streak < 8)
        ms = min64(ms, (int64_t)FP_FIRST_RETRY_MS << fp->err_streak);
    fp->err_streak++;
    fp->retry_at_ms = now + ms;
}

static void part_count_error(struct fsession *s) { atomic_fetch_add(&s->th->f->errors, 1); }

/* Truncates fp to offset (fully: restarts the log there). Returns false if
 * the partition was dropped. */
static bool part_truncate(struct fsession *s, struct fpart *fp, int64_t offset, bool fully,
                          int64_t leo, int64_t now)
{
    kerr_t err = partition_truncate(fp_partition(fp), fp->epoch, offset, fully);
    if (err == KERR_FENCED_LEADER_EPOCH) {
        part_kill(s, fp, "role changed");
        return false;
    }
    if (err != KERR_NONE) {
        say_warn("repl",
                 "follower truncation failed topic=%s partition=%d offset=%" PRId64 " err=%s",
                 fp->t->name, fp->index, offset, kerr_name(err));
        part_count_error(s);
        part_delay(s, fp, now);
        fp->state = FP_TRUNCATE;
        return true;
    }
    if (fully || offset < leo) {
        atomic_fetch_add(&s->th->f->truncations, 1);
        say_debug("repl",
                  "follower truncated topic=%s partition=%d leo=%" PRId64 " to=%" PRId64
                  " fully=%d leader=%d epoch=%d",
                  fp->t->name, fp->index, leo, offset, (int)fully, s->leader_id, fp->epoch);
    }
    fp->empty_at = fully ? offset : -1;
    fp->state = FP_FETCH; /* oor_streak stays: only an append clears it */
    return true;
}

/* The local LEO and HW, or false (partition dropped) when this replica no
 * longer follows under fp->epoch. */
static bool part_position(struct fsession *s, struct fpart *fp, int64_t *leo, int64_t *hw)
{
    if (partition_follower_position(fp_partition(fp), fp->epoch, leo, hw))
        return true;
    part_kill(s, fp, "not a follower of this epoch");
    return false;
}

/* Errors the leader answers for a partition, other than out of range. */
static void part_leader_error(struct fsession *s, struct fpart *fp, int16_t err, int64_t now)
{
    part_count_error(s);
    if (err == KERR_FENCED_LEADER_EPOCH) {
        say_info("repl", "follower fenced by leader topic=%s partition=%d leader=%d epoch=%d",
                 fp->t->name, fp->index, s->leader_id, fp->epoch);
        fp->state = FP_FAILED;
        return;
    }
    say_debug("repl", "leader answered topic=%s partition=%d leader=%d err=%s", fp->t->name,
              fp->index, s->leader_id, kerr_name((kerr_t)err));
    part_delay(s, fp, now);
}

/* ---- request framing ------------------------------------------------ */

/* Starts a request frame at the start of b; session_send() ends it. */
static void frame_begin(struct fsession *s, struct kbuf *b, int16_t api, int16_t version)
{
    const char *client_id = s->th->f->client_id;
    struct khdr_req h = {api, version, ++s->corr, {client_id, (int32_t)strlen(client_id)}};
    khdr_frame_begin(b);
    khdr_put_req(b, khdr_req_version(api, version), &h);
}

static bool sent_push(struct fsession *s, struct fpart *fp)
{
    if (!VEC_RESERVE_AT(s->sent, s->cap_sent, (size_t)s->n_sent + 1))
        return false;
    s->sent[s->n_sent++] = fp;
    return true;
}

/* Writes the topics array of the request over s->sent (grouping runs of
 * the same topic); put_part writes one partition entry. */
static void encode_topics(struct fsession *s, struct kbuf *b,
                          void (*put_part)(struct fsession *, struct fpart *, struct kbuf *))
{
    int n_topics = 0;
    for (int i = 0; i < s->n_sent; i++)
        if (i == 0 || s->sent[i]->t != s->sent[i - 1]->t)
            n_topics++;
    kw_put_array_len(b, false, n_topics);
    for (int i = 0; i < s->n_sent;) {
        int j = i;
        while (j < s->n_sent && s->sent[j]->t == s->sent[i]->t)
            j++;
        kw_put_str(b, false, s->sent[i]->t->name);
        kw_put_array_len(b, false, j - i);
        for (int k = i; k < j; k++)
            put_part(s, s->sent[k], b);
        i = j;
    }
}

/* Sends the frame in b; the parts in s->sent become in flight. */
static void session_send(struct fsession *s, struct kbuf *b, int16_t api)
{
    kerr_t err = khdr_frame_end(b, 0, INT32_MAX);
    if (err != KERR_NONE) {
        session_fail(s, err == KERR__NOMEM ? "out of memory" : "request too large");
        return;
    }
    if (bufferevent_write(s->bev, b->data, b->len) != 0) {
        session_fail(s, "write failed");
        return;
    }
    for (int i = 0; i < s->n_sent; i++)
        s->sent[i]->inflight = true;
    s->inflight_api = api;
    s->state = FS_WAITING;
    s->sent_ms = clock_mono_ms();
    const struct fetcher_config *cfg = &s->th->f->cfg;
    struct timeval tv = {.tv_sec = (cfg->max_wait_ms + cfg->socket_timeout_ms) / 1000,
                         .tv_usec = (cfg->max_wait_ms + cfg->socket_timeout_ms) % 1000 * 1000};
    evtimer_add(s->timeout_ev, &tv);
}

/* ---- OffsetForLeaderEpoch -------------------------------------------- */

static void ofle_put_part(struct fsession *s, struct fpart *fp, struct kbuf *b)
{
    (void)s;
    kbuf_put_i32(b, fp->index);
    kbuf_put_i32(b, fp->epoch);
    kbuf_put_i32(b, partition_latest_epoch(fp_partition(fp)));
}

static void ofle_result(struct fsession *s, struct fpart *fp, int16_t err, int32_t end_epoch,
                        int64_t end_offset, int64_t now)
{
    if (err != KERR_NONE) {
        part_leader_error(s, fp, err, now);
        return;
    }
    int64_t leo, hw;
    if (!part_position(s, fp, &leo, &hw))
        return;
    int64_t to = end_epoch < 0 || end_offset < 0 ? min64(hw, leo) : min64(end_offset, leo);
    part_truncate(s, fp, to, false, leo, now);
}

/* Finds the sent partition (name, index); *cursor is the expected position
 * (responses list partitions in request order). */
static struct fpart *sent_find(struct fsession *s, struct kstr name, int32_t index, int *cursor)
{
    for (int k = 0; k < s->n_sent; k++) {
        int i = (*cursor + k) % s->n_sent;
        struct fpart *fp = s->sent[i];
        if (fp->index == index && kstr_eq(name, fp->t->name)) {
            *cursor = i + 1;
            return fp;
        }
    }
    return NULL;
}

static bool ofle_parse(struct fsession *s, struct kslice *in)
{
    int64_t now = clock_mono_ms();
    int cursor = 0;
    (void)kslice_i32(in); /* throttle_time_ms */
    int32_t n_topics = kw_get_array_len(in, false, 6);
    for (int32_t ti = 0; ti < n_topics && kslice_ok(in); ti++) {
        struct kstr name = kw_get_str(in, false);
        int32_t n_parts = kw_get_array_len(in, false, 18);
        for (int32_t pi = 0; pi < n_parts && kslice_ok(in); pi++) {
            int16_t err = kslice_i16(in);
            int32_t index = kslice_i32(in);
            int32_t end_epoch = kslice_i32(in);
            int64_t end_offset = kslice_i64(in);
            struct fpart *fp = kslice_ok(in) ? sent_find(s, name, index, &cursor) : NULL;
            if (fp && !fp->dead && fp->state == FP_TRUNCATE)
                ofle_result(s, fp, err, end_epoch, end_offset, now);
        }
    }
    return kslice_ok(in);
}

/* ---- Fetch ------------------------------------------------------------ */

/* How soon a partition held back by the follower throttle is looked at again. */
#define FP_THROTTLE_RETRY_MS 100

/* The follower replication throttle (as Kafka's shouldFollowerThrottle):
 * true when fp is listed in follower.replication.throttled.replicas for
 * this broker, is behind the leader's HW (or has not heard it yet), and the
 * bytes appended for such partitions exceed follower.replication.throttled.rate. */
static bool follower_held(struct fsession *s, struct fpart *fp, int64_t leo, int64_t now)
{
    struct fetchers *f = s->th->f;
    if (!f->cfg.dyn || !partition_follower_throttled(fp_partition(fp)))
        return false;
    if (fp->leader_hw >= 0 && leo >= fp->leader_hw)
        return false; /* in sync */
    return throttle_meter_exceeded(&f->throttle,
                                   dyn_load(&f->cfg.dyn->follower_replication_throttled_rate), now);
}

static void fetch_put_part(struct fsession *s, struct fpart *fp, struct kbuf *b)
{
    kbuf_put_i32(b, fp->index);
    kbuf_put_i32(b, fp->epoch);
    kbuf_put_i64(b, fp->fetch_offset);
    kbuf_put_i64(b, -1); /* log_start_offset: the leader does not need ours */
    kbuf_put_i32(b, s->th->f->cfg.max_bytes);
}

/* Collects into s->sent the partitions in `state` (FP_TRUNCATE: due for
 * OffsetForLeaderEpoch; FP_FETCH: due for a Fetch from the local LEO)
 * whose retry time has come; *next_retry gets the earliest of the others.
 * Partitions to truncate with an empty epoch cache are truncated to the
 * local HW on the spot. */
static void collect(struct fsession *s, enum fp_state state, int64_t now, int64_t *next_retry)
{
    for (struct fpart *fp = s->parts; fp; fp = fp->next) {
        if (fp->dead || fp->state != state)
            continue;
        if (fp->retry_at_ms > now) {
            *next_retry = min64(*next_retry, fp->retry_at_ms);
            continue;
        }
        int64_t leo, hw;
        if (!part_position(s, fp, &leo, &hw))
            continue;
        if (state == FP_TRUNCATE && partition_latest_epoch(fp_partition(fp)) < 0) {
            part_truncate(s, fp, min64(hw, leo), false, leo, now);
            continue;
        }
        if (state == FP_FETCH && follower_held(s, fp, leo, now)) {
            *next_retry = min64(*next_retry, now + FP_THROTTLE_RETRY_MS);
            continue;
        }
        if (state == FP_FETCH)
            fp->fetch_offset = leo;
        if (!sent_push(s, fp))
            return;
    }
}

/* Length of the whole batches at the start of p[0..len); a trailing
 * partial batch is left out. *skip = bytes of the leading batches entirely
 * below leo, *first_base = base offset of the batch after them (leo when
 * there is none). A malformed batch header makes the rest of the answer
 * count as whole, so that the append rejects it and reports it. */
static size_t whole_batches(const uint8_t *p, size_t len, int64_t leo, size_t *skip,
                            int64_t *first_base)
{
    struct batch_iter it;
    struct batch_hdr h;
    size_t at;
    kerr_t err;
    *skip = 0;
    *first_base = leo;
    batch_iter_init(&it, p, len);
    while ((err = batch_iter_next(&it, &h, &at)) == KERR_NONE) {
        if (at != *skip)
            continue;
        if (batch_last_offset(&h) < leo)
            *skip = it.pos;
        else
            *first_base = h.base_offset;
    }
    return err == KERR__CORRUPT ? len : it.pos;
}

/* The first batch answered may start below our LEO when the leader's log
 * start (DeleteRecords) lies inside it. A log that was just restarted
 * empty at the LEO then restarts at that batch's base instead, as Kafka
 * does; the leader's log start is applied again by the append. Returns
 * false when the batch cannot be appended (partition delayed or dropped). */
static bool fetch_straddle(struct fsession *s, struct fpart *fp, int64_t base, int64_t leo,
                           int64_t now)
{
    if (base >= leo)
        return true;
    if (fp->empty_at != leo) {
        say_warn("repl",
                 "leader sent a batch below the follower's LEO topic=%s partition=%d"
                 " base=%" PRId64 " leo=%" PRId64,
                 fp->t->name, fp->index, base, leo);
        part_count_error(s);
        part_delay(s, fp, now);
        fp->state = FP_TRUNCATE;
        return false;
    }
    return part_truncate(s, fp, base, true, leo, now) && fp->state == FP_FETCH;
}

/* Appends the records of one partition answer. Returns bytes appended. */
static size_t fetch_append(struct fsession *s, struct fpart *fp, const uint8_t *rec, int32_t n,
                           int64_t hw, int64_t log_start, int64_t now)
{
    int64_t leo, local_hw;
    if (!part_position(s, fp, &leo, &local_hw))
        return 0;
    if (leo != fp->fetch_offset)
        return 0; /* the log moved meanwhile: ask again */
    size_t skip = 0;
    int64_t first_base = leo;
    size_t whole = rec && n > 0 ? whole_batches(rec, (size_t)n, leo, &skip, &first_base) : 0;
    size_t len = whole - skip;
    if (len > 0 && !fetch_straddle(s, fp, first_base, leo, now))
        return 0;
    kerr_t err = partition_append_replica(fp_partition(fp), fp->epoch, len ? rec + skip : NULL, len,
                                          hw, log_start, clock_wall_ms());
    if (err == KERR_FENCED_LEADER_EPOCH) {
        part_kill(s, fp, "role changed");
        return 0;
    }
    if (err != KERR_NONE) {
        say_warn("repl",
                 "follower append failed topic=%s partition=%d offset=%" PRId64 " bytes=%zu err=%s",
                 fp->t->name, fp->index, leo, len, kerr_name(err));
        part_count_error(s);
        part_delay(s, fp, now);
        fp->state = FP_TRUNCATE;
        return 0;
    }
    fp->oor_streak = 0;
    fp->err_streak = 0;
    fp->leader_hw = hw;
    if (len > 0)
        fp->empty_at = -1;
    atomic_fetch_add(&s->th->f->bytes, len);
    if (partition_follower_throttled(fp_partition(fp)))
        throttle_meter_record(&s->th->f->throttle, (int64_t)len, now);
    return len;
}

static void fetch_out_of_range(struct fsession *s, struct fpart *fp, int64_t log_start, int64_t now)
{
    int64_t leo, hw;
    part_count_error(s);
    if (!part_position(s, fp, &leo, &hw))
        return;
    if (log_start >= 0 && leo < log_start) {
        part_truncate(s, fp, log_start, true, leo, now);
        return;
    }
    /* Our log may be ahead of the leader's: align again. Back off when
     * that did not help the last time (logs without epochs). */
    fp->state = FP_TRUNCATE;
    if (fp->oor_streak++ > 0)
        part_delay(s, fp, now);
}

struct fetch_answer {
    int16_t err;
    int64_t hw, log_start;
    const uint8_t *rec;
    int32_t n;
};

/* Reads one partition entry of a Fetch v11 response. */
static void fetch_read_part(struct kslice *in, int32_t *index, struct fetch_answer *a)
{
    *index = kslice_i32(in);
    a->err = kslice_i16(in);
    a->hw = kslice_i64(in);
    (void)kslice_i64(in); /* last_stable_offset */
    a->log_start = kslice_i64(in);
    int32_t n_aborted = kw_get_array_len(in, false, 16);
    if (n_aborted > 0)
        kslice_skip(in, (size_t)n_aborted * 16);
    (void)kslice_i32(in); /* preferred_read_replica */
    a->rec = kw_get_bytes(in, false, &a->n);
}

/* Parses a Fetch response and applies it. *moved: record bytes appended;
 * *errors: some partition answered an error. */
static bool fetch_parse(struct fsession *s, struct kslice *in, bool *moved, bool *errors)
{
    int64_t now = clock_mono_ms();
    int cursor = 0;
    (void)kslice_i32(in); /* throttle_time_ms */
    int16_t top_err = kslice_i16(in);
    (void)kslice_i32(in); /* session_id */
    int32_t n_topics = kw_get_array_len(in, false, 6);
    for (int32_t ti = 0; ti < n_topics && kslice_ok(in); ti++) {
        struct kstr name = kw_get_str(in, false);
        int32_t n_parts = kw_get_array_len(in, false, 42);
        for (int32_t pi = 0; pi < n_parts && kslice_ok(in); pi++) {
            int32_t index;
            struct fetch_answer a;
            fetch_read_part(in, &index, &a);
            struct fpart *fp = kslice_ok(in) ? sent_find(s, name, index, &cursor) : NULL;
            if (!fp || fp->dead || fp->state != FP_FETCH)
                continue;
            if (a.err == KERR_NONE) {
                *moved |= fetch_append(s, fp, a.rec, a.n, a.hw, a.log_start, now) > 0;
            } else if (a.err == KERR_OFFSET_OUT_OF_RANGE) {
                *errors = true;
                fetch_out_of_range(s, fp, a.log_start, now);
            } else {
                *errors = true;
                part_leader_error(s, fp, a.err, now);
            }
        }
    }
    if (top_err != KERR_NONE && kslice_ok(in)) {
        say_warn("repl", "fetch failed leader=%d err=%s", s->leader_id, kerr_name((kerr_t)top_err));
        *errors = true;
        for (int i = 0; i < s->n_sent; i++)
            part_delay(s, s->sent[i], now);
    }
    atomic_fetch_add(&s->th->f->fetches, 1);
    return kslice_ok(in);
}

/* ---- the session loop ------------------------------------------------- */

/* Sends the next request, or arms retry_ev for the earliest delayed
 * partition. Needs FS_IDLE. */
static void session_send_next(struct fsession *s)
{
    int64_t now = clock_mono_ms(), next_retry = INT64_MAX;
    struct kbuf b;
    kbuf_init(&b);
    s->n_sent = 0;
    collect(s, FP_TRUNCATE, now, &next_retry);
    if (s->n_sent > 0) {
        frame_begin(s, &b, API_OFFSET_FOR_LEADER_EPOCH, OFLE_VERSION);
        kbuf_put_i32(&b, s->th->f->cfg.self_id);
        encode_topics(s, &b, ofle_put_part);
        session_send(s, &b, API_OFFSET_FOR_LEADER_EPOCH);
        goto out;
    }
    collect(s, FP_FETCH, now, &next_retry);
    if (s->n_sent > 0) {
        const struct fetcher_config *cfg = &s->th->f->cfg;
        /* a delayed partition left out must not wait behind a long poll */
        s->sent_wait_ms = (int32_t)min64(cfg->max_wait_ms, next_retry - now);
        frame_begin(s, &b, API_FETCH, FETCH_VERSION);
        kbuf_put_i32(&b, cfg->self_id);
        kbuf_put_i32(&b, s->sent_wait_ms);
        kbuf_put_i32(&b, cfg->min_bytes);
        kbuf_put_i32(&b, cfg->response_max_bytes);
        kbuf_put_u8(&b, 0);   /* isolation_level: read_uncommitted */
        kbuf_put_i32(&b, 0);  /* session_id: no fetch session */
        kbuf_put_i32(&b, -1); /* session_epoch */
        encode_topics(s, &b, fetch_put_part);
        kw_put_array_len(&b, false, 0); /* forgotten_topics_data */
        kw_put_str(&b, false, "");      /* rack_id */
        session_send(s, &b, API_FETCH);
        goto out;
    }
    if (next_retry != INT64_MAX) {
        int64_t ms = next_retry - now;
        struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000};
        evtimer_add(s->retry_ev, &tv);
    }
out:
    kbuf_destroy(&b);
}

static void session_backoff(struct fsession *s)
{
    int ms = s->th->f->cfg.backoff_ms;
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000};
    evtimer_add(s->retry_ev, &tv);
}

static void session_close(struct fsession *s)
{
    sasl_bev_cancel(s->sasl);
    s->sasl = NULL;
    if (s->bev) {
        bufferevent_free(s->bev);
        s->bev = NULL;
    }
    evtimer_del(s->timeout_ev);
    for (int i = 0; i < s->n_sent; i++)
        s->sent[i]->inflight = false;
    s->n_sent = 0;
    s->inflight_api = 0;
    s->state = FS_DOWN;
}

static void session_free(struct fsession *s)
{
    struct fthread *th = s->th;
    for (struct fsession **pp = &th->sessions; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    session_close(s);
    for (struct fpart *fp = s->parts; fp; fp = fp->next)
        part_kill(s, fp, "session closed");
    part_reap(s);
    if (s->ai_list)
        freeaddrinfo(s->ai_list);
    event_free(s->retry_ev);
    event_free(s->timeout_ev);
    free(s->sent);
    free(s);
}

static void session_read_cb(struct bufferevent *bev, void *arg);
static void session_event_cb(struct bufferevent *bev, short what, void *arg);

/* Resolves the leader's host (blocking getaddrinfo: this thread does
 * nothing else meanwhile and names are local or numeric in practice). */
static bool session_resolve(struct fsession *s)
{
    if (s->ai_list)
        freeaddrinfo(s->ai_list);
    s->ai_list = s->ai_cur = NULL;
    char port[16];
    snprintf(port, sizeof(port), "%d", s->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int rc = getaddrinfo(s->host, port, &hints, &s->ai_list);
    if (rc != 0) {
        s->ai_list = NULL;
        say_warn("repl", "cannot resolve leader leader=%d host=%s err=%s", s->leader_id, s->host,
                 gai_strerror(rc));
        return false;
    }
    s->ai_cur = s->ai_list;
    return true;
}

static void session_connect(struct fsession *s)
{
    if (!s->ai_cur && !session_resolve(s)) {
        part_count_error(s);
        session_backoff(s);
        return;
    }
    s->bev = peer_bufferevent_new(worker_base(s->th->w), s->host); /* TLS: peer_tls.h */
    if (!s->bev) {
        session_fail(s, "out of memory");
        return;
    }
    bufferevent_setcb(s->bev, session_read_cb, NULL, session_event_cb, s);
    bufferevent_enable(s->bev, EV_READ | EV_WRITE);
    s->state = FS_CONNECTING;
    if (bufferevent_socket_connect(s->bev, s->ai_cur->ai_addr, (int)s->ai_cur->ai_addrlen) != 0) {
        session_fail(s, "connect failed");
        return;
    }
    int ms = s->th->f->cfg.socket_timeout_ms;
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000};
    evtimer_add(s->timeout_ev, &tv);
}

/* Drops the connection; tries the next resolved address at once while
 * connecting, else backs off. */
static void session_fail(struct fsession *s, const char *why)
{
    bool connecting = s->state == FS_CONNECTING;
    session_close(s);
    part_reap(s);
    part_count_error(s);
    if (s->fails++ == 0)
        say_warn("repl", "fetcher connection lost leader=%d host=%s port=%d reason=%s",
                 s->leader_id, s->host, s->port, why);
    else
        say_debug("repl", "fetcher connection failed leader=%d host=%s port=%d reason=%s",
                  s->leader_id, s->host, s->port, why);
    if (connecting && s->ai_cur && s->ai_cur->ai_next) {
        s->ai_cur = s->ai_cur->ai_next;
        session_connect(s);
        return;
    }
    s->ai_cur = NULL; /* resolve again next time */
    session_backoff(s);
}

/* Connected (and logged in): fetching starts. */
static void session_up(struct fsession *s)
{
    if (s->fails > 0)
        say_info("repl", "fetcher reconnected leader=%d host=%s port=%d", s->leader_id, s->host,
                 s->port);
    s->fails = 0;
    s->state = FS_IDLE;
    session_kick(s);
}

static void session_read_cb(struct bufferevent *bev, void *arg);
static void session_event_cb(struct bufferevent *bev, short what, void *arg);

/* The SASL login after connect ended (common/loop/sasl_bev.h). */
static void session_sasl_done(void *arg, const char *error)
{
    struct fsession *s = arg;
    s->sasl = NULL;
    if (error) {
        session_fail(s, error);
        session_kick(s);
        return;
    }
    bufferevent_setcb(s->bev, session_read_cb, NULL, session_event_cb, s);
    session_up(s);
}

static void session_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct fsession *s = arg;
    KASSERT(worker_is_current(s->th->w));
    if (what & BEV_EVENT_CONNECTED) {
        evtimer_del(s->timeout_ev);
        int one = 1;
        setsockopt(bufferevent_getfd(s->bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (!sasl_bev_enabled()) {
            session_up(s);
            return;
        }
        s->sasl = sasl_bev_start(s->bev, s->th->f->cfg.socket_timeout_ms, session_sasl_done, s);
        if (!s->sasl) {
            session_fail(s, "out of memory");
            session_kick(s);
        }
        return;
    }
    char why[160], tls[128];
    if (peer_tls_error(bev, tls, sizeof(tls)))
        snprintf(why, sizeof(why), "TLS: %s", tls);
    else
        snprintf(why, sizeof(why), "%s%s",
                 what & BEV_EVENT_EOF ? "closed by peer" : "socket error: ",
                 what & BEV_EVENT_EOF ? "" : evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    session_fail(s, why);
    session_kick(s);
}

/* Applies one response body (after the correlation id). */
static bool session_handle(struct fsession *s, const uint8_t *body, size_t len)
{
    struct kslice in;
    kslice_init(&in, body, len);
    if (s->inflight_api == API_OFFSET_FOR_LEADER_EPOCH)
        return ofle_parse(s, &in);
    bool moved = false, errors = false;
    bool ok = fetch_parse(s, &in, &moved, &errors);
    /* Guard against a leader that answers empty fetches at once: never spin. */
    const struct fetcher_config *cfg = &s->th->f->cfg;
    if (ok && !moved && !errors && clock_mono_ms() - s->sent_ms < s->sent_wait_ms / 4) {
        int64_t at = clock_mono_ms() + min64(cfg->backoff_ms, cfg->max_wait_ms);
        for (int i = 0; i < s->n_sent; i++)
            s->sent[i]->retry_at_ms = at;
    }
    return ok;
}

static void session_read_cb(struct bufferevent *bev, void *arg)
{
    struct fsession *s = arg;
    KASSERT(worker_is_current(s->th->w));
    struct evbuffer *in = bufferevent_get_input(bev);
    const struct fetcher_config *cfg = &s->th->f->cfg;
    size_t have = evbuffer_get_length(in);
    uint8_t hdr[4];
    if (have < 4)
        return;
    evbuffer_copyout(in, hdr, 4);
    size_t limit = 2 * (size_t)(cfg->response_max_bytes > cfg->max_bytes ? cfg->response_max_bytes
                                                                         : cfg->max_bytes) +
                   (16 << 20);
    size_t size = 0;
    kerr_t fr = khdr_frame_size(hdr, have, 4, limit, &size);
    if (fr == KERR__CORRUPT || s->state != FS_WAITING) {
        session_fail(s, s->state != FS_WAITING ? "unexpected response" : "bad frame size");
        session_kick(s);
        return;
    }
    if (fr == KERR__AGAIN)
        return;
    const uint8_t *frame = evbuffer_pullup(in, size + 4);
    struct kslice resp;
    int32_t corr = 0;
    if (frame)
        kslice_init(&resp, frame + 4, (size_t)size);
    int16_t version = s->inflight_api == API_FETCH ? FETCH_VERSION : OFLE_VERSION;
    int hv = khdr_resp_version(s->inflight_api, version);
    if (!frame || !khdr_get_resp(&resp, hv, &corr) || corr != s->corr) {
        session_fail(s, frame ? "wrong correlation id" : "out of memory");
        session_kick(s);
        return;
    }
    bool ok = session_handle(s, kslice_cur(&resp), kslice_remaining(&resp));
    evbuffer_drain(in, (size_t)size + 4);
    evtimer_del(s->timeout_ev);
    for (int i = 0; i < s->n_sent; i++)
        s->sent[i]->inflight = false;
    s->n_sent = 0;
    s->inflight_api = 0;
    s->state = FS_IDLE;
    if (!ok)
        session_fail(s, "malformed response");
    session_kick(s);
}

static void session_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct fsession *s = arg;
    KASSERT(worker_is_current(s->th->w));
    (void)fd, (void)what;
    session_fail(s, s->state == FS_CONNECTING ? "connect timed out" : "request timed out");
    session_kick(s);
}

static void session_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    struct fsession *s = arg;
    KASSERT(worker_is_current(s->th->w));
    (void)fd, (void)what;
    session_kick(s);
}

/* Moves the session on: frees it without partitions, connects when down
 * (unless backing off), sends when idle. May free s. */
static void session_kick(struct fsession *s)
{
    KASSERT(worker_is_current(s->th->w));
    part_reap(s);
    if (s->n_live == 0) {
        session_free(s);
        return;
    }
    switch (s->state) {
    case FS_DOWN:
        if (!evtimer_pending(s->retry_ev, NULL))
            session_connect(s);
        break;
    case FS_IDLE:
        evtimer_del(s->retry_ev);
        session_send_next(s);
        break;
    case FS_CONNECTING:
    case FS_WAITING:
        break;
    }
}

static struct fsession *session_get(struct fthread *th, int32_t leader_id, const char *host,
                                    int port)
{
    struct fsession *s;
    for (s = th->sessions; s; s = s->next)
        if (s->leader_id == leader_id)
            break;
    if (s) {
        if (strcmp(s->host, host) != 0 || s->port != port) {
            say_info("repl", "leader endpoint changed leader=%d host=%s port=%d", leader_id, host,
                     port);
            snprintf(s->host, sizeof(s->host), "%s", host);
            s->port = port;
            session_close(s);
            s->ai_cur = NULL;
            evtimer_del(s->retry_ev);
        }
        return s;
    }
    s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->th = th;
    s->leader_id = leader_id;
    snprintf(s->host, sizeof(s->host), "%s", host);
    s->port = port;
    s->retry_ev = evtimer_new(worker_base(th->w), session_retry_cb, s);
    s->timeout_ev = evtimer_new(worker_base(th->w), session_timeout_cb, s);
    if (!s->retry_ev || !s->timeout_ev) {
        if (s->retry_ev)
            event_free(s->retry_ev);
        if (s->timeout_ev)
            event_free(s->timeout_ev);
        free(s);
        return NULL;
    }
    s->next = th->sessions;
    th->sessions = s;
    return s;
}

/* ---- jobs (fetcher thread) -------------------------------------------- */

/* Drops (topic, p) from every session of th except the partition keep,
 * then kicks the sessions touched (one left empty is freed). */
static void thread_drop(struct fthread *th, const char *topic, int32_t p, const struct fpart *keep)
{
    struct fsession *s = th->sessions;
    while (s) {
        struct fsession *next = s->next;
        bool hit = false;
        for (struct fpart *fp = s->parts; fp; fp = fp->next) {
            if (fp != keep && !fp->dead && fp->index == p && strcmp(fp->t->name, topic) == 0) {
                part_kill(s, fp, "replaced or removed");
                hit = true;
            }
        }
        if (hit)
            session_kick(s);
        s = next;
    }
}

static void job_remove_cb(void *arg)
{
    struct fjob *j = arg;
    KASSERT(worker_is_current(j->th->w));
    if (!j->th->stopping)
        thread_drop(j->th, j->topic, j->p, NULL);
    free(j);
}

/* The live entry of (t, p) in s, or NULL. */
static struct fpart *session_find(struct fsession *s, const struct topic *t, int32_t p)
{
    for (struct fpart *fp = s->parts; fp; fp = fp->next)
        if (!fp->dead && fp->t == t && fp->index == p)
            return fp;
    return NULL;
}

static void job_add_cb(void *arg)
{
    struct fjob *j = arg;
    struct fthread *th = j->th;
    KASSERT(worker_is_current(th->w));
    if (th->stopping)
        goto out;
    struct fsession *s = session_get(th, j->leader_id, j->host, j->port);
    struct fpart *cur = s ? session_find(s, j->t, j->p) : NULL;
    if (cur && cur->epoch == j->epoch && cur->state != FP_FAILED) {
        /* a repeated LeaderAndIsr (same leader and epoch): carry on */
        thread_drop(th, j->topic, j->p, cur);
        goto out;
    }
    struct fpart *fp = s ? calloc(1, sizeof(*fp)) : NULL;
    if (!fp) {
        say_error("repl", "out of memory adding fetch topic=%s partition=%d", j->topic, j->p);
        if (s)
            session_kick(s); /* frees it if it has no partition */
        goto out;
    }
    fp->t = j->t;
    j->t = NULL;
    fp->index = j->p;
    fp->epoch = j->epoch;
    fp->state = FP_TRUNCATE;
    fp->empty_at = -1;
    fp->leader_hw = -1;
    part_link(s, fp);
    say_info("repl", "following topic=%s partition=%d leader=%d host=%s port=%d epoch=%d", j->topic,
             j->p, j->leader_id, j->host, j->port, j->epoch);
    /* s keeps fp, so dropping the old entry never frees s */
    thread_drop(th, j->topic, j->p, fp);
    if (s->state == FS_WAITING && s->inflight_api == API_FETCH) {
        /* the fetch in flight may sit parked at the leader for up to
         * replica.fetch.wait.max.ms, holding the new partition back (after
         * a failover: behind acks=all producers); drop it and reconnect */
        say_debug("repl", "fetcher restarts its fetch for a new partition leader=%d", s->leader_id);
        session_close(s);
        evtimer_del(s->retry_ev);
    }
    session_kick(s);
out:
    if (j->t)
        topic_unref(j->t);
    free(j);
}

static void job_stop_cb(void *arg)
{
    struct fthread *th = arg;
    KASSERT(worker_is_current(th->w));
    th->stopping = true;
    while (th->sessions)
        session_free(th->sessions);
}

/* ---- public API -------------------------------------------------------- */

static void config_fill(struct fetcher_config *c)
{
    if (c->n_threads < 1)
        c->n_threads = 1;
    if (c->max_wait_ms <= 0)
        c->max_wait_ms = 500;
    if (c->min_bytes <= 0)
        c->min_bytes = 1;
    if (c->max_bytes <= 0)
        c->max_bytes = 1 << 20;
    if (c->response_max_bytes <= 0)
        c->response_max_bytes = 10 << 20;
    if (c->socket_timeout_ms <= 0)
        c->socket_timeout_ms = 30000;
    if (c->backoff_ms <= 0)
        c->backoff_ms = 1000;
    if (c->quota_window_num <= 0)
        c->quota_window_num = 11;
    if (c->quota_window_ms <= 0)
        c->quota_window_ms = 1000;
}

struct fetchers *fetchers_new(const struct fetcher_config *cfg)
{
    struct fetchers *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->cfg = *cfg;
    config_fill(&f->cfg);
    throttle_meter_init(&f->throttle, f->cfg.quota_window_num, f->cfg.quota_window_ms);
    snprintf(f->client_id, sizeof(f->client_id), "gregor-replica-%d", (int)cfg->self_id);
    f->th = calloc((size_t)f->cfg.n_threads, sizeof(*f->th));
    if (!f->th)
        goto err;
    for (int i = 0; i < f->cfg.n_threads; i++) {
        char name[32];
        snprintf(name, sizeof(name), "fetcher-%d", i);
        f->th[i].f = f;
        f->th[i].w = worker_new(name);
        if (!f->th[i].w)
            goto err;
        f->n++;
    }
    return f;
err:
    say_error("repl", "cannot start replica fetchers threads=%d", f->cfg.n_threads);
    fetchers_free(f);
    return NULL;
}

void fetchers_free(struct fetchers *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->n; i++) {
        struct fthread *th = &f->th[i];
        if (!worker_post(th->w, job_stop_cb, th))
            say_error("repl", "cannot stop fetcher thread %d cleanly", i);
        worker_free(th->w); /* runs the stop job, joins */
    }
    free(f->th);
    throttle_meter_destroy(&f->throttle);
    free(f);
}

static struct fjob *job_new(struct fthread *th, const char *topic, int32_t p)
{
    struct fjob *j = calloc(1, sizeof(*j));
    if (!j)
        return NULL;
    j->th = th;
    snprintf(j->topic, sizeof(j->topic), "%s", topic);
    j->p = p;
    return j;
}

static void post_remove(struct fthread *th, const char *topic, int32_t p)
{
    struct fjob *j = job_new(th, topic, p);
    if (!j || !worker_post(th->w, job_remove_cb, j)) {
        say_error("repl", "out of memory removing fetch topic=%s partition=%d", topic, p);
        free(j);
    }
}

void fetchers_add(struct fetchers *f, struct topic *t, int32_t p, int32_t leader_id,
                  const char *host, int port, int32_t leader_epoch)
{
    if (p < 0 || p >= t->n_parts || !topic_part(t, p) || leader_id < 0) {
        say_warn("repl", "fetch refused topic=%s partition=%d leader=%d", t->name, p, leader_id);
        return;
    }
    int target = leader_id % f->n;
    for (int i = 0; i < f->n; i++)
        if (i != target)
            post_remove(&f->th[i], t->name, p);
    struct fjob *j = job_new(&f->th[target], t->name, p);
    if (!j) {
        say_error("repl", "out of memory adding fetch topic=%s partition=%d", t->name, p);
        return;
    }
    topic_ref(t);
    j->t = t;
    j->leader_id = leader_id;
    j->epoch = leader_epoch;
    snprintf(j->host, sizeof(j->host), "%s", host ? host : "");
    j->port = port;
    if (!worker_post(f->th[target].w, job_add_cb, j)) {
        topic_unref(t);
        free(j);
    }
}

void fetchers_remove(struct fetchers *f, const char *topic, int32_t p)
{
    for (int i = 0; i < f->n; i++)
        post_remove(&f->th[i], topic, p);
}

void fetchers_get_stats(struct fetchers *f, struct fetcher_stats *out)
{
    out->partitions = atomic_load(&f->partitions);
    out->fetches = atomic_load(&f->fetches);
    out->bytes = atomic_load(&f->bytes);
    out->truncations = atomic_load(&f->truncations);
    out->errors = atomic_load(&f->errors);
    throttle_meter_stats(&f->throttle, clock_mono_ms(), &out->throttle);
}
