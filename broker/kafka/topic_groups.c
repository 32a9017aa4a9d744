/*
 * broker/kafka/topic_groups.c — the topics[name, partitions[...]] arrays
 * of requests and responses (see topic_groups.h): the per-topic part of
 * the classic encoding; each handler owns its partition fields.
 */
#include "broker/kafka/authz.h"
#include "broker/kafka/topic_groups.h"
#include "broker/kafka/request.h"
#include "broker/core/broker.h"
#include "broker/replication/topics.h"

#include <stdlib.h>

bool topic_groups_init(struct topic_groups *g, int32_t n_topics)
{
    size_t room = (size_t)(n_topics > 0 ? n_topics : 1);
    g->n = 0;
    g->start = calloc(room, sizeof(*g->start));
    g->names = calloc(room, sizeof(*g->names));
    return g->start && g->names;
}

void topic_groups_add(struct topic_groups *g, struct kstr name, int first)
{
    g->names[g->n] = name;
    g->start[g->n++] = first;
}

void topic_groups_destroy(struct topic_groups *g)
{
    free(g->start);
    free(g->names);
    g->start = NULL;
    g->names = NULL;
    g->n = 0;
}

int topic_groups_put(const struct topic_groups *g, struct kbuf *o, int ti, int n_parts, int *end)
{
    int first = g->start[ti];
    *end = ti + 1 < g->n ? g->start[ti + 1] : n_parts;
    kw_put_kstr(o, false, g->names[ti]);
    kw_put_array_len(o, false, *end - first);
    return first;
}

bool topic_groups_answer(struct req *req, int32_t n_topics, int32_t min_part_bytes, int op,
                         void (*part)(struct req *req, struct topic *t, kerr_t denied))
{
    struct kslice *s = &req->body;
    struct kbuf *o = &req->out;
    kw_put_array_len(o, false, n_topics < 0 ? 0 : n_topics);
    for (int32_t i = 0; i < n_topics && kslice_ok(s); i++) {
        struct kstr name = kw_get_str(s, false);
        int32_t np = kw_get_array_len(s, false, min_part_bytes);
        if (!kslice_ok(s) || !name.ptr)
            return false;
        kerr_t denied = authz_topic(req, op, name.ptr, (size_t)name.len)
                            ? KERR_NONE
                            : KERR_TOPIC_AUTHORIZATION_FAILED;
        struct topic *t =
            denied ? NULL : topics_get(req->broker->topics, name.ptr, (size_t)name.len);
        kw_put_kstr(o, false, name);
        kw_put_array_len(o, false, np < 0 ? 0 : np);
        for (int32_t j = 0; j < np && kslice_ok(s); j++)
            part(req, t, denied);
        topic_unref(t);
    }
    return kslice_ok(s);
}
