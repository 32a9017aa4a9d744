/*
 * broker/core/config_watch.c — brings topic config changes made through any
 * broker (AlterConfigs, IncrementalAlterConfigs) to this broker's live
 * topics without a restart, through the config change notifications of
 * ZooKeeper (/config/changes, controller/zk/zk_store.h).
 *
 * At start-up, before topics are loaded, the newest notification is
 * remembered (topics load with their current configs). Once the admin
 * worker runs, this broker subscribes to the store's watch events and arms
 * a children watch on /config/changes; each event (and each session
 * renewal: watches die with the session) posts a check to the admin
 * worker, which re-arms the watch, reads the notifications newer than the
 * last handled and re-reads /config/topics/<t> for each topic named,
 * replacing the live topic's overrides (topic_set_config()). A broker that
 * missed trimmed notifications re-reads the config of every topic it has.
 * The broker that made a change applies it twice; the second is a no-op.
 * Notifications naming "brokers" / <this broker's id> or <default> re-read
 * the dynamic broker configs (dyncfg.c); a broker that missed trimmed
 * notifications re-reads those too. Notifications naming "users" re-read
 * that user's SCRAM credentials (scram_users.c; trimmed ones, every user)
 * and, with those naming "clients", that entity's client quotas
 * (quota_load.c).
 */
#include "broker/core/config_watch.h"
#include "broker/core/admin.h"
#include "common/loop/worker.h"
#include "broker/core/broker.h"
#include "broker/core/dyncfg.h"
#include "broker/core/scram_users.h"
#include "broker/core/quota_load.h"
#include "broker/replication/topics.h"
#include "controller/zk/zk_store.h"
#include "common/base.h"
#include "common/say.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void config_watch_init(struct broker *b)
{
    struct zk_config_change *v = NULL;
    int n = 0;
    int64_t oldest = -1, newest = -1;
    if (zk_store_config_changes_since(b->zk, INT64_MAX, &v, &n, &oldest, &newest) != KERR_NONE)
        say_warn("zk", "cannot read /config/changes; later topic config changes are read "
                       "from their notifications only");
    free(v);
    b->config_seq = newest;
}

/* Re-reads name's overrides from ZooKeeper into the live topic, if this
 * broker has it. */
static void reload_topic(struct broker *b, const char *name)
{
    struct topic *t = topics_get(b->topics, name, strlen(name));
    if (!t)
        return; /* loaded with its current config when it arrives */
    struct zk_topic zt;
    kerr_t rc = zk_store_topic_get(b->zk, name, &zt);
    if (rc != KERR_NONE) {
        if (rc != KERR_UNKNOWN_TOPIC_OR_PARTITION && rc != KERR__NOENT)
            say_warn("zk", "cannot read topic config topic=%s err=%s", name, kerr_name(rc));
        topic_unref(t);
        return;
    }
    char **kv = admin_topic_kv(&zt);
    if (kv && topic_set_config(t, kv, zt.n_configs, &b->topic_defaults))
        say_info("kafka", "topic config reloaded topic=%s overrides=%d", name, zt.n_configs);
    else
        say_warn("kafka", "cannot apply the new topic config topic=%s: out of memory", name);
    free(kv);
    zk_topic_destroy(&zt);
    topic_unref(t);
}

static void reload_all(struct broker *b)
{
    int n = 0;
    struct topic **all = topics_list(b->topics, &n);
    for (int i = 0; all && i < n; i++)
        if (!all[i]->internal)
            reload_topic(b, all[i]->name);
    topics_list_free(all, n);
}

static void check_job(void *arg)
{
    struct broker *b = arg;
    KASSERT(worker_is_current(b->admin));
    struct zk_config_change *v = NULL;
    int n = 0;
    int64_t oldest, newest;
    if (zk_store_watch_children(b->zk, ZK_PATH_CONFIG_CHANGES) != KERR_NONE ||
        zk_store_config_changes_since(b->zk, b->config_seq, &v, &n, &oldest, &newest) !=
            KERR_NONE) {
        say_warn("zk", "cannot read /config/changes; retried on the next change");
        return;
    }
    if (oldest > b->config_seq + 1) {
        say_info("zk", "config change notifications were trimmed; re-reading every topic");
        reload_all(b);
        dyncfg_load(b);
        scram_users_load_all(b);
        quota_load_all(b);
    } else {
        bool brokers = false;
        for (int i = 0; i < n; i++)
            if (strcmp(v[i].entity_type, "topics") == 0)
                reload_topic(b, v[i].entity_name);
            else if (strcmp(v[i].entity_type, "brokers") == 0)
                brokers |= dyncfg_concerns(b, v[i].entity_name);
            else if (strcmp(v[i].entity_type, "users") == 0) {
                char user[ZK_CONFIG_ENTITY_MAX];
                /* not "<user>/clients/<id>" (quotas); names come encoded as in the path */
                if (!strchr(v[i].entity_name, '/') &&
                    zk_entity_name_decode(v[i].entity_name, user, sizeof(user)))
                    scram_users_reload(b, user);
                quota_config_changed(b, v[i].entity_type, v[i].entity_name);
            } else if (strcmp(v[i].entity_type, "clients") == 0)
                quota_config_changed(b, v[i].entity_type, v[i].entity_name);
        if (brokers)
            dyncfg_load(b);
    }
    if (newest > b->config_seq)
        b->config_seq = newest;
    free(v);
}

/* ZooKeeper's thread: post only. */
static void watch_cb(void *arg, enum zk_watch_event ev, const char *path)
{
    struct broker *b = arg;
    if (ev == ZK_WATCH_CHILDREN && strcmp(path, ZK_PATH_CONFIG_CHANGES) == 0)
        (void)worker_post(b->admin, check_job, b);
}

bool config_watch_start(struct broker *b)
{
    if (!zk_store_watch_subscribe(b->zk, watch_cb, b))
        return false;
    return worker_post(b->admin, check_job, b);
}

void config_watch_resync(struct broker *b) { check_job(b); }

void config_watch_stop(struct broker *b)
{
    if (b->zk)
        zk_store_watch_unsubscribe(b->zk, watch_cb, b);
}
