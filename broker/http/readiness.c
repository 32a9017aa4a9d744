/*
 * broker/http/readiness.c — GET /readyz's verdict and text from a metadata
 * snapshot (readiness.h).
 */
#include "broker/http/readiness.h"
#include "broker/core/metadata_cache.h"

#include <stdarg.h>
#include <stdio.h>

struct out {
    char *p;
    size_t len, cap;
};

static void put(struct out *o, const char *fmt, ...)
{
    if (o->cap == 0 || o->len >= o->cap - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len += (size_t)n < o->cap - o->len ? (size_t)n : o->cap - o->len - 1;
}

static bool has(const int32_t *ids, int n, int32_t id)
{
    for (int i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

struct readiness readiness_eval(const struct mc_snapshot *s, int32_t self, bool registered,
                                const char *session_lost, const char *unresolved, char *out,
                                size_t outlen)
{
    struct readiness r = {.registered = registered,
                          .session_ok = session_lost == NULL,
                          .controller_id = s->controller_id,
                          .advertised_resolve = unresolved == NULL};
    r.controller_known = s->controller_id >= 0;
    for (int i = 0; i < s->n_brokers && !r.listed; i++)
        r.listed = s->brokers[i].id == self;

    /* Body lines after the verdict; the verdict is known only at the end. */
    char named[READINESS_MAX_NAMED * 300] = "";
    struct out nm = {named, 0, sizeof(named)};
    int n_named = 0;
    for (int t = 0; t < s->n_topics; t++) {
        const struct mc_topic *tp = &s->topics[t];
        for (int p = 0; p < tp->n_parts; p++) {
            const struct mc_partition *mp = &tp->parts[p];
            if (!has(mp->replicas, mp->n_replicas, self))
                continue;
            r.replicas++;
            if (has(mp->isr, mp->n_isr, self))
                continue;
            r.out_of_isr++;
            if (n_named++ < READINESS_MAX_NAMED)
                put(&nm, "out of ISR: %s-%d\n", tp->name, p);
        }
    }
    r.ready = r.registered && r.session_ok && r.controller_known && r.listed && r.out_of_isr == 0 &&
              r.advertised_resolve;

    struct out o = {out, 0, outlen};
    if (outlen)
        out[0] = '\0';
    put(&o, "%s\n", r.ready ? "ready" : "not ready");
    put(&o, "registered: %s\n", r.registered ? "yes" : "no");
    if (session_lost)
        put(&o, "zookeeper session: %s\n", session_lost);
    else
        put(&o, "zookeeper session: ok\n");
    if (r.controller_known)
        put(&o, "controller: %d\n", (int)r.controller_id);
    else
        put(&o, "controller: unknown\n");
    put(&o, "listed by controller: %s\n", r.listed ? "yes" : "no");
    put(&o, "advertised hosts resolve: %s\n", r.advertised_resolve ? "yes" : "no");
    if (unresolved)
        put(&o,
            "advertised listener does not resolve: %s (clients and brokers given this name "
            "cannot connect; re-checked every 5 s)\n",
            unresolved);
    put(&o, "replicas: %d\nout of ISR: %d\n", r.replicas, r.out_of_isr);
    put(&o, "%s", named);
    if (r.out_of_isr > READINESS_MAX_NAMED)
        put(&o, "(%d more out of ISR)\n", r.out_of_isr - READINESS_MAX_NAMED);
    return r;
}
