/*
 * controller/ctrl_stats.c — the gauges and counters the active controller
 * publishes for /metrics (struct controller_stats in controller.h): Kafka's
 * KafkaController and ControllerStats series. ctrl_stats_refresh() walks the
 * controller's topic table on its loop whenever the cluster's state is sent
 * to the brokers (every change ends in an UpdateMetadata, ctrl_push.c) and
 * stores the results in relaxed atomics; controller_get_stats() reads them
 * from any thread.
 */
#include "controller/controller_int.h"

/* The partition's preferred replica is its first; an offline partition
 * (leader -1) counts as offline, not as imbalanced. */
static bool imbalanced(const struct ctopic *t, int p)
{
    int32_t leader = t->st[p].leader;
    return leader >= 0 && ctrl_row_len(t->replicas, t->rf, p) > 0 &&
           t->replicas[p * t->rf] != leader;
}

void ctrl_stats_refresh(struct controller *c)
{
    KASSERT(CTRL_ON_LOOP(c));
    int64_t parts = 0, offline = 0, imbalance = 0, moving = 0;
    for (int i = 0; i < c->n_topics; i++) {
        const struct ctopic *t = c->topics[i];
        parts += t->n_parts;
        for (int p = 0; t->st && p < t->n_parts; p++) {
            offline += t->st[p].leader < 0;
            imbalance += imbalanced(t, p);
            moving += ctrl_reassign_in_progress(t, p);
        }
    }
    struct ctrl_stats *s = &c->stats;
    atomic_store_explicit(&s->topics, c->n_topics, memory_order_relaxed);
    atomic_store_explicit(&s->partitions, parts, memory_order_relaxed);
    atomic_store_explicit(&s->offline, offline, memory_order_relaxed);
    atomic_store_explicit(&s->imbalance, imbalance, memory_order_relaxed);
    atomic_store_explicit(&s->reassigning, moving, memory_order_relaxed);
    atomic_store_explicit(&s->epoch, c->epoch, memory_order_relaxed);
}

void ctrl_stats_count_state(struct controller *c, const struct zk_partition_state *old,
                            const struct zk_partition_state *next)
{
    KASSERT(CTRL_ON_LOOP(c));
    if (next->leader < 0 || next->leader == old->leader || old->version == ZK_VERSION_NEW)
        return;
    for (int i = 0; i < old->n_isr; i++)
        if (old->isr[i] == next->leader)
            return;
    atomic_fetch_add_explicit(&c->stats.unclean_elections, 1, memory_order_relaxed);
}

void controller_get_stats(const struct controller *c, struct controller_stats *out)
{
    struct ctrl_stats *s = &((struct controller *)c)->stats;
    *out = (struct controller_stats){
        .unclean_elections = atomic_load_explicit(&s->unclean_elections, memory_order_relaxed)};
    out->active = controller_is_active(c);
    if (!out->active)
        return;
    out->epoch = atomic_load_explicit(&s->epoch, memory_order_relaxed);
    out->topics = atomic_load_explicit(&s->topics, memory_order_relaxed);
    out->partitions = atomic_load_explicit(&s->partitions, memory_order_relaxed);
    out->offline_partitions = atomic_load_explicit(&s->offline, memory_order_relaxed);
    out->preferred_imbalance = atomic_load_explicit(&s->imbalance, memory_order_relaxed);
    out->reassigning = atomic_load_explicit(&s->reassigning, memory_order_relaxed);
}
