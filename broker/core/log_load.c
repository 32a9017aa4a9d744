/*
 * broker/core/log_load.c — chunked replay of an internal topic's partition
 * into a coordinator (log_load.h).
 */
#include "broker/core/log_load.h"
#include "common/say.h"

#include <stdlib.h>
#include <unistd.h>

void log_load_init(struct log_load *ll, const char *who, int32_t index)
{
    *ll = (struct log_load){.who = who, .index = index, .next = -1, .end = -1};
}

/* Hands a control batch's transaction marker (key: version INT16 0, type
 * INT16: 0 abort, 1 commit) to ll->marker, if set. */
static void replay_marker(struct log_load *ll, const uint8_t *batch, const struct batch_hdr *h,
                          void *arg)
{
    struct record_iter ri;
    struct batch_record r;
    if (!ll->marker)
        return;
    if (record_iter_init(&ri, batch, h) != KERR_NONE || record_iter_next(&ri, &r) != KERR_NONE ||
        !r.key || r.key_len < 4 || r.key[0] != 0 || r.key[1] != 0 || r.key[2] != 0 ||
        r.key[3] > 1) {
        say_warn(ll->who, "skipping a control batch that is no marker partition=%d offset=%lld",
                 ll->index, (long long)h->base_offset);
        return;
    }
    ll->marker(arg, h, r.key[3] == 1);
}

/* Hands the keyed records of buf's batches to fn, advancing ll->next past each batch. */
static void replay(struct log_load *ll, const uint8_t *buf, size_t len, log_load_fn fn, void *arg)
{
    struct batch_iter it;
    struct batch_hdr h;
    size_t at;
    batch_iter_init(&it, buf, len);
    while (batch_iter_next(&it, &h, &at) == KERR_NONE) {
        ll->next = batch_last_offset(&h) + 1;
        if (batch_is_control(&h)) {
            replay_marker(ll, buf + at, &h, arg);
            continue;
        }
        struct record_iter ri;
        if (record_iter_init(&ri, buf + at, &h) != KERR_NONE) {
            say_warn(ll->who, "skipping a compressed batch partition=%d offset=%lld", ll->index,
                     (long long)h.base_offset);
            continue;
        }
        struct batch_record r;
        ll->batch = &h;
        while (record_iter_next(&ri, &r) == KERR_NONE) {
            if (!r.key)
                continue;
            if (fn(arg, &r) != KERR_NONE)
                say_warn(ll->who, "skipping a record that does not decode partition=%d offset=%lld",
                         ll->index, (long long)r.offset);
            ll->records++;
        }
        ll->batch = NULL;
    }
}

enum log_load_step log_load_step(struct log_load *ll, struct partition *part, int32_t leader_epoch,
                                 int64_t chunk, log_load_fn fn, void *arg, const char **why)
{
    struct partition_read rd;
    kerr_t rc = partition_read_local(part, leader_epoch, ll->next < 0 ? 0 : ll->next, chunk, &rd);
    if (rc == KERR_OFFSET_OUT_OF_RANGE && ll->next < 0) { /* log start > 0 */
        ll->next = rd.log_start;
        return LOG_LOAD_MORE;
    }
    if (rc != KERR_NONE) {
        *why = kerr_name(rc);
        return LOG_LOAD_FAILED;
    }
    if (ll->end < 0)
        ll->end = rd.leo;
    if (ll->next < 0)
        ll->next = rd.log_start;
    if (rd.len <= 0 || ll->next >= ll->end) {
        if (rd.fd >= 0)
            close(rd.fd);
        return LOG_LOAD_DONE;
    }
    uint8_t *buf = malloc((size_t)rd.len);
    ssize_t got = buf ? pread(rd.fd, buf, (size_t)rd.len, rd.pos) : -1;
    int64_t before = ll->next;
    if (got == rd.len)
        replay(ll, buf, (size_t)got, fn, arg);
    free(buf);
    close(rd.fd);
    if (got != rd.len || ll->next <= before) {
        *why = got != rd.len ? "cannot read the log" : "no progress reading the log";
        return LOG_LOAD_FAILED;
    }
    return ll->next < ll->end ? LOG_LOAD_MORE : LOG_LOAD_DONE;
}
