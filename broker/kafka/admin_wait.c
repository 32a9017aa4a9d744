/*
 * broker/kafka/admin_wait.c — the per-topic answers of admin requests and
 * the wait for the metadata cache after them (see admin_wait.h). The wait
 * is a persistent timer event on the admin worker's base that polls the
 * answers; the wait object frees itself before finish() runs. Admin worker
 * only, but for admin_cache_shows() and the answer helpers.
 */
#include "broker/kafka/admin_wait.h"
#include "broker/core/metadata_cache.h"
#include "common/loop/worker.h"
#include "broker/core/broker.h"
#include "common/base.h"
#include "common/clock.h"
#include "common/kwire.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADMIN_POLL_MS 20
#define ADMIN_WAIT_MAX_MS 60000
#define ADMIN_NOWAIT_GRACE_MS 2000

/* One wait in progress (admin worker); owned by its timer callback. */
struct cache_wait {
    struct event *ev;    /* owned */
    int64_t deadline_ms; /* clock_mono_ms() */
    bool may_time_out;   /* the request gave a timeout_ms > 0 */
    struct admin_answer *ans;
    int n;
    bool (*visible)(void *job, int i);
    const char *late_msg;
    void (*finish)(void *job);
    void *job; /* borrowed; finish() owns it */
};

struct admin_answer *admin_answers_new(int32_t n)
{
    return calloc((size_t)(n > 0 ? n : 1), sizeof(struct admin_answer));
}

void admin_answers_free(struct admin_answer *ans, int n)
{
    for (int i = 0; ans && i < n; i++)
        free(ans[i].wire_name);
    free(ans);
}

bool admin_answer_start(struct admin_answer *a, struct kstr wire, const char *checked)
{
    a->name = checked;
    a->wire_name = kstr_dup(wire);
    a->wire_len = wire.len;
    return a->wire_name != NULL;
}

void admin_mark_duplicates(struct admin_answer *ans, int n)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (i != j && ans[i].name && ans[i].name[0] && ans[j].name &&
                strcmp(ans[i].name, ans[j].name) == 0) {
                ans[i].decode_err = KERR_INVALID_REQUEST;
                snprintf(ans[i].msg, sizeof(ans[i].msg),
                         "topic listed more than once in the request");
            }
}

void admin_answers_put(struct kbuf *o, bool flex, const struct admin_answer *ans, int n,
                       bool with_msg)
{
    kw_put_array_len(o, flex, n);
    for (int i = 0; i < n; i++) {
        kw_put_strn(o, flex, ans[i].wire_name, (size_t)ans[i].wire_len);
        kbuf_put_i16(o, ans[i].err);
        if (with_msg)
            kw_put_nstr(o, flex, ans[i].err == KERR_NONE ? NULL : ans[i].msg);
        kw_put_tags(o, flex);
    }
}

bool admin_cache_shows(struct broker *b, const char *name, bool want, int32_t min_parts)
{
    struct mc_snapshot *s = mc_get(b->mc);
    const struct mc_topic *t = mc_find_topic(s, name, strlen(name));
    bool ok = want ? t != NULL && t->n_parts >= min_parts : t == NULL;
    for (int p = 0; want && t && p < t->n_parts; p++)
        ok &= t->parts[p].leader >= 0;
    mc_put(s);
    return ok;
}

/* True when answer i has an error (nothing to wait for) or is visible. */
static bool answer_done(const struct cache_wait *w, int i)
{
    return w->ans[i].err != KERR_NONE || w->visible(w->job, i);
}

static bool all_done(const struct cache_wait *w)
{
    for (int i = 0; i < w->n; i++)
        if (!answer_done(w, i))
            return false;
    return true;
}

static void cache_wait_cb(evutil_socket_t fd, short what, void *arg)
{
    struct cache_wait *w = arg;
    (void)fd;
    (void)what;
    bool ready = all_done(w);
    if (!ready && clock_mono_ms() < w->deadline_ms)
        return;
    for (int i = 0; !ready && w->may_time_out && i < w->n; i++)
        if (!answer_done(w, i)) {
            w->ans[i].err = KERR_REQUEST_TIMED_OUT;
            if (w->late_msg)
                snprintf(w->ans[i].msg, sizeof(w->ans[i].msg), "%s", w->late_msg);
        }
    void (*finish)(void *) = w->finish;
    void *job = w->job;
    event_free(w->ev);
    free(w);
    finish(job);
}

void admin_wait_start(struct broker *b, int64_t timeout_ms, struct admin_answer *ans, int n,
                      bool (*visible)(void *, int), const char *late_msg, void (*finish)(void *),
                      void *job)
{
    KASSERT(worker_is_current(b->admin));
    struct cache_wait *w = calloc(1, sizeof(*w));
    if (w) {
        *w = (struct cache_wait){NULL, 0, timeout_ms > 0, ans, n, visible, late_msg, finish, job};
        w->ev = event_new(worker_base(b->admin), -1, EV_PERSIST, cache_wait_cb, w);
    }
    if (!w || !w->ev || all_done(w)) {
        if (w && w->ev)
            event_free(w->ev);
        free(w);
        finish(job);
        return;
    }
    if (timeout_ms > ADMIN_WAIT_MAX_MS)
        timeout_ms = ADMIN_WAIT_MAX_MS;
    if (timeout_ms <= 0) /* Kafka answers at once; a short wait makes the new state */
        timeout_ms = ADMIN_NOWAIT_GRACE_MS; /* visible here first (never "timed out") */
    w->deadline_ms = clock_mono_ms() + timeout_ms;
    struct timeval tv = {0, ADMIN_POLL_MS * 1000};
    event_add(w->ev, &tv);
}
