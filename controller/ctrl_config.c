/*
 * controller/ctrl_config.c — the topic configs the controller acts on:
 * unclean.leader.election.enable per topic (docs/architecture.md §4), kept current
 * through the config change notifications (/config/changes, zk_store.h).
 *
 * A topic's override (ctopic.unclean) is read with the topic; the broker's
 * unclean.leader.election.enable is the default: its dynamic value
 * (/config/brokers/<this broker's id>, else /config/brokers/<default>,
 * read at start and on each notification naming either), else the static
 * one. On becoming controller
 * the watch on /config/changes is armed before topics are loaded and the
 * newest notification is remembered; each later notification naming a
 * topic re-reads that topic's config. When a topic's effective setting
 * (or the broker default, for topics without an override) turns on, its
 * offline partitions are elected at once (as Kafka does),
 * possibly from outside the ISR. When notifications were trimmed past the
 * last one handled, every topic's config is re-read.
 * Loop-owned: the controller's loop only.
 */
#include "controller/controller_int.h"
#include "common/say.h"

#include <stdint.h>
#include <stdio.h>
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

static bool broker_unclean(const struct controller *c)
{
    return c->unclean_dynamic >= 0 ? c->unclean_dynamic == 1 : c->env.unclean_leader_election;
}

bool ctrl_topic_unclean(const struct controller *c, const struct ctopic *t)
{
    return t->unclean >= 0 ? t->unclean == 1 : broker_unclean(c);
}

/* Re-reads the dynamic broker value. Returns true when the broker default
 * turned on. A read failure keeps the value held. */
static bool reload_broker(struct controller *c)
{
    char id[16];
    snprintf(id, sizeof(id), "%d", c->env.broker_id);
    struct zk_topic mine, def;
    if (zk_store_broker_config_get(c->env.zk, id, &mine) != KERR_NONE)
        return false;
    if (zk_store_broker_config_get(c->env.zk, ZK_BROKER_CONFIG_DEFAULT, &def) != KERR_NONE) {
        zk_topic_destroy(&mine);
        return false;
    }
    bool was = broker_unclean(c);
    int8_t v = ctrl_config_unclean_of(&mine);
    c->unclean_dynamic = v >= 0 ? v : ctrl_config_unclean_of(&def);
    zk_topic_destroy(&mine);
    zk_topic_destroy(&def);
    bool now = broker_unclean(c);
    if (was != now)
        say_info("ctrl", "broker config unclean.leader.election.enable=%s", now ? "true" : "false");
    return now && !was;
}

/* Appends t's partitions without a leader to todo; false on OOM. */
static bool add_offline(struct ctrl_changes *todo, struct ctopic *t);

/* The broker default turned on: topics without an override elect their
 * offline partitions. */
static bool add_offline_defaulted(struct controller *c, struct ctrl_changes *todo)
{
    bool ok = true;
    for (int i = 0; ok && i < c->n_topics; i++)
        if (c->topics[i]->unclean < 0)
            ok = add_offline(todo, c->topics[i]);
    return ok;
}

/* True if a notification's entity is this broker's or the default's. */
static bool concerns_broker(const struct controller *c, const struct zk_config_change *ch)
{
    char id[16];
    snprintf(id, sizeof(id), "%d", c->env.broker_id);
    return strcmp(ch->entity_type, "brokers") == 0 &&
           (strcmp(ch->entity_name, id) == 0 ||
            strcmp(ch->entity_name, ZK_BROKER_CONFIG_DEFAULT) == 0);
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
    c->unclean_dynamic = -1;
    (void)reload_broker(c); /* topics load after: no partition is offline for it yet */
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
        if (reload_broker(c))
            ok = add_offline_defaulted(c, &todo);
        for (int i = 0; ok && i < c->n_topics; i++)
            if (reload_topic(c, c->topics[i]))
                ok = add_offline(&todo, c->topics[i]);
    } else {
        bool broker = false;
        for (int i = 0; ok && i < n; i++) {
            struct ctopic *t = strcmp(v[i].entity_type, "topics") == 0
                                   ? ctrl_find_topic(c, v[i].entity_name)
                                   : NULL;
            broker |= concerns_broker(c, &v[i]);
            if (t && reload_topic(c, t))
                ok = add_offline(&todo, t);
        }
        if (ok && broker && reload_broker(c))
            ok = add_offline_defaulted(c, &todo);
    }
    if (newest > c->config_seq)
        c->config_seq = newest;
    free(v);
    if (todo.n > 0)
        ctrl_settle_some(c, &todo);
    ctrl_changes_destroy(&todo);
}
