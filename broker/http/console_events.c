/*
 * broker/http/console_events.c — diffs two metadata snapshots into the
 * console's events (console_events.h). Topics are sorted by name and brokers
 * by id in a snapshot, so one merge walk of each finds what came, went and
 * changed: O(brokers + partitions) per new snapshot.
 */
#include "broker/http/console_events.h"
#include "broker/core/metadata_cache.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* One event being written: fixed buffer, truncation keeps it a valid string
 * (an event never comes close: ids and a topic name). */
struct ev {
    char buf[1024];
    size_t len;
};

static void ev_add(struct ev *e, const char *fmt, ...)
{
    if (e->len >= sizeof(e->buf) - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->buf + e->len, sizeof(e->buf) - e->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        e->len += (size_t)n < sizeof(e->buf) - e->len ? (size_t)n : sizeof(e->buf) - 1 - e->len;
}

void console_json_str(char *buf, size_t cap, size_t *len, const char *s)
{
    size_t n = *len;
    if (n + 3 > cap) /* room for "" and the NUL */
        return;
    buf[n++] = '"';
    for (; *s && n + 8 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[n++] = '\\';
            buf[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(buf + n, cap - n, "\\u%04x", c);
        } else {
            buf[n++] = (char)c;
        }
    }
    buf[n++] = '"';
    buf[n] = '\0';
    *len = n;
}

static void ev_begin(struct ev *e, const char *type, int64_t now_ms)
{
    e->len = 0;
    e->buf[0] = '\0';
    ev_add(e, "{\"type\":\"%s\",\"time_ms\":%lld", type, (long long)now_ms);
}

static void ev_ids(struct ev *e, const char *key, const int32_t *ids, int n)
{
    ev_add(e, ",\"%s\":[", key);
    for (int i = 0; i < n; i++)
        ev_add(e, "%s%d", i ? "," : "", ids[i]);
    ev_add(e, "]");
}

static int ev_end(struct ev *e, console_event_fn *emit, void *arg)
{
    ev_add(e, "}");
    emit(arg, e->buf);
    return 1;
}

static bool ids_has(const int32_t *ids, int n, int32_t id)
{
    for (int i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

static int ids_minus(const int32_t *a, int na, const int32_t *b, int nb, int32_t *out)
{
    int n = 0;
    for (int i = 0; i < na; i++)
        if (!ids_has(b, nb, a[i]))
            out[n++] = a[i];
    return n;
}

static void part_head(struct ev *e, const char *type, int64_t now, const char *topic, int32_t p)
{
    ev_begin(e, type, now);
    ev_add(e, ",\"topic\":\"%s\",\"partition\":%d", topic, p); /* topic names need no escaping */
}

static void part_state(struct ev *e, const struct mc_partition *p)
{
    ev_add(e, ",\"leader\":%d,\"leader_epoch\":%d", p->leader, p->leader_epoch);
    ev_ids(e, "replicas", p->replicas, p->n_replicas);
    ev_ids(e, "isr", p->isr, p->n_isr);
}

static int diff_part(const char *topic, int32_t i, const struct mc_partition *o,
                     const struct mc_partition *p, int64_t now, console_event_fn *emit, void *arg)
{
    struct ev e;
    int n = 0;
    if (o->leader != p->leader) {
        part_head(&e, "leader_changed", now, topic, i);
        ev_add(&e, ",\"previous_leader\":%d", o->leader);
        part_state(&e, p);
        n += ev_end(&e, emit, arg);
    }
    int32_t added[MC_MAX_REPLICAS], removed[MC_MAX_REPLICAS];
    int na = ids_minus(p->isr, p->n_isr, o->isr, o->n_isr, added);
    int nr = ids_minus(o->isr, o->n_isr, p->isr, p->n_isr, removed);
    if (na || nr) {
        part_head(&e,
                  na == 0   ? "isr_shrank"
                  : nr == 0 ? "isr_expanded"
                            : "isr_changed",
                  now, topic, i);
        ev_ids(&e, "previous_isr", o->isr, o->n_isr);
        ev_ids(&e, "added", added, na);
        ev_ids(&e, "removed", removed, nr);
        part_state(&e, p);
        n += ev_end(&e, emit, arg);
    }
    if (o->n_replicas != p->n_replicas ||
        memcmp(o->replicas, p->replicas, (size_t)p->n_replicas * sizeof(int32_t)) != 0) {
        part_head(&e, "replicas_changed", now, topic, i);
        ev_ids(&e, "previous_replicas", o->replicas, o->n_replicas);
        part_state(&e, p);
        n += ev_end(&e, emit, arg);
    }
    return n;
}

static int topic_event(const char *type, const struct mc_topic *t, int64_t now,
                       console_event_fn *emit, void *arg)
{
    struct ev e;
    ev_begin(&e, type, now);
    ev_add(&e, ",\"topic\":\"%s\",\"partitions\":%d", t->name, t->n_parts);
    return ev_end(&e, emit, arg);
}

static int broker_event(const char *type, const struct broker_info *bi, int64_t now,
                        console_event_fn *emit, void *arg)
{
    struct ev e;
    ev_begin(&e, type, now);
    ev_add(&e, ",\"broker\":%d,\"rack\":", bi->id);
    console_json_str(e.buf, sizeof(e.buf), &e.len, bi->rack);
    return ev_end(&e, emit, arg);
}

int console_diff(const struct mc_snapshot *old, const struct mc_snapshot *cur, int64_t now_ms,
                 console_event_fn *emit, void *arg)
{
    int n = 0;
    struct ev e;
    if (mc_from_controller(cur) && old->controller_id != cur->controller_id) {
        ev_begin(&e, "controller_changed", now_ms);
        ev_add(&e, ",\"controller\":%d,\"previous\":%d,\"controller_epoch\":%d", cur->controller_id,
               old->controller_id, cur->controller_epoch);
        n += ev_end(&e, emit, arg);
    }
    int i = 0, j = 0;
    while (i < old->n_brokers || j < cur->n_brokers) {
        if (j >= cur->n_brokers ||
            (i < old->n_brokers && old->brokers[i].id < cur->brokers[j].id)) {
            n += broker_event("broker_left", &old->brokers[i++], now_ms, emit, arg);
        } else if (i >= old->n_brokers || cur->brokers[j].id < old->brokers[i].id) {
            n += broker_event("broker_joined", &cur->brokers[j++], now_ms, emit, arg);
        } else {
            i++;
            j++;
        }
    }
    i = j = 0;
    while (i < old->n_topics || j < cur->n_topics) {
        int c = i >= old->n_topics   ? 1
                : j >= cur->n_topics ? -1
                                     : strcmp(old->topics[i].name, cur->topics[j].name);
        if (c < 0) {
            n += topic_event("topic_deleted", &old->topics[i++], now_ms, emit, arg);
        } else if (c > 0) {
            n += topic_event("topic_created", &cur->topics[j++], now_ms, emit, arg);
        } else {
            const struct mc_topic *ot = &old->topics[i++], *ct = &cur->topics[j++];
            int32_t np = ot->n_parts < ct->n_parts ? ot->n_parts : ct->n_parts;
            for (int32_t p = 0; p < np; p++)
                n += diff_part(ct->name, p, &ot->parts[p], &ct->parts[p], now_ms, emit, arg);
            if (ct->n_parts > ot->n_parts) {
                ev_begin(&e, "partitions_added", now_ms);
                ev_add(&e, ",\"topic\":\"%s\",\"partitions\":%d,\"previous_partitions\":%d",
                       ct->name, ct->n_parts, ot->n_parts);
                n += ev_end(&e, emit, arg);
            }
        }
    }
    return n;
}
