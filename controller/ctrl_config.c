/*
 * controller/ctrl_config.c — the topic configs the controller acts on:
 * unclean.leader.election.enable per topic (docs/architecture.md §4), kept current
 * through the config change notifications (/config/changes, zk_store.h).
 *
 * A topic's override (ctopic.unclean) is read with the topic; the broker's
 * unclean.leader.election.enable is the default. On becoming controller
 * the watch on /config/changes is armed before topics are loaded and the
 * newest notification is remembered; each later notification naming a
 * topic re-reads that topic's config. When a topic's effective setting
 * turns on, its offline partitions are elected at once (as Kafka does),
 * possibly from outside the ISR. When notifications were trimmed past the
 * last one handled, every topic's config is re-read.
 * Loop-owned: the controller's loop only.
 */
#include "controller/controller_int.h"
#include "common/say.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define UNCLEAN_KEY "unclean.leader.election.enable"

int8_t ctrl_config_unclean_of(const struct zk_topic *zt)
{
    for (int i = 0; i < zt->n_configs; i++)
        if (strcmp(zt->config_keys[i], UNCLEAN_KEY) == 0) {
            if (strcasecmp(zt->config_values[i], "true") == 0)
                return 1;
            if (strcasecmp(zt->config_values[i], "false") == 0)
                return 0;
        }
    return -1;
}

bool ctrl_topic_unclean(const struct controller *c, const struct ctopic *t)
{
    return t->unclean >= 0 ? t->unclean == 1 : c->env.unclean_leader_election;
}

bool ctrl_config_start(struct controller *c)
{
    KASSERT(CTRL_ON_LOOP(c));
    struct zk_config_change *v;
    int n;
    int64_t oldest, newest;
    if (zk_store_watch_children(c->env.zk, ZK_PATH_CONFIG_CHANGES) != KERR_NONE ||
        zk_store_config_changes_since(c->env.zk, INT64_MAX, &v, &n, &oldest, &newest) != KERR_NONE)
        return false;
    free(v);
    c->config_seq = newest;
    return true;
}

/* Re-reads t's config. Returns true when its unclean election setting
 * turned on. */
static bool reload_topic(struct controller *c, struct ctopic *t)
{
    struct zk_topic zt;
    if (zk_store_topic_get(c->env.zk, t->name, &zt) != KERR_NONE)
        return false;
    bool was = ctrl_topic_unclean(c, t);
    t->unclean = ctrl_config_unclean_of(&zt);
    zk_topic_destroy(&zt);
    bool now = ctrl_topic_unclean(c, t);
    if (was != now)
        say_info("ctrl", "topic config topic=%s unclean.leader.election.enable=%s", t->name,
                 now ? "true" : "false");
    return now && !was;
}

/* Appends t's partitions without a leader to todo; false on OOM. */
static bool add_offline(struct ctrl_changes *todo, struct ctopic *t)
{
    for (int p = 0; p < t->n_parts; p++)
        if (t->st[p].leader < 0 && !ctrl_changes_add(todo, t, p))
            return false;
    return true;
}

void ctrl_config_changed(struct controller *c)
{
    KASSERT(CTRL_ON_LOOP(c));
    struct zk_config_change *v = NULL;
    int n = 0;
    int64_t oldest, newest;
    if (zk_store_watch_children(c->env.zk, ZK_PATH_CONFIG_CHANGES) != KERR_NONE ||
        zk_store_config_changes_since(c->env.zk, c->config_seq, &v, &n, &oldest, &newest) !=
            KERR_NONE)
        return;
    struct ctrl_changes todo = {0};
    bool ok = true;
    if (oldest > c->config_seq + 1) {
        say_info("ctrl", "config change notifications were trimmed; re-reading every topic");
        for (int i = 0; ok && i < c->n_topics; i++)
            if (reload_topic(c, c->topics[i]))
                ok = add_offline(&todo, c->topics[i]);
    } else {
        for (int i = 0; ok && i < n; i++) {
            struct ctopic *t = strcmp(v[i].entity_type, "topics") == 0
                                   ? ctrl_find_topic(c, v[i].entity_name)
                                   : NULL;
            if (t && reload_topic(c, t))
                ok = add_offline(&todo, t);
        }
    }
    if (newest > c->config_seq)
        c->config_seq = newest;
    free(v);
    if (todo.n > 0)
        ctrl_settle_some(c, &todo);
    ctrl_changes_destroy(&todo);
}
