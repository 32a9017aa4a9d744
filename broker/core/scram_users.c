/*
 * broker/core/scram_users.c — SCRAM credentials from ZooKeeper into the
 * in-memory table, and their changes (scram_users.h).
 */
#include "broker/core/scram_users.h"
#include "broker/core/broker.h"
#include "broker/security/scram_store.h"
#include "controller/zk/zk_store.h"
#include "common/loop/worker.h"
#include "common/say.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCRAM_ALTER_RETRIES 10

/* The credentials in c, parsed into creds[] (NULL where absent or bad). */
static void creds_of(const struct zk_user_config *c, struct scram_cred parsed[SCRAM_N_HASHES],
                     const struct scram_cred *creds[SCRAM_N_HASHES])
{
    for (int h = 0; h < SCRAM_N_HASHES; h++)
        creds[h] = NULL;
    for (int i = 0; i < c->n; i++) {
        enum scram_hash h;
        if (!scram_mech_parse(c->key[i], strlen(c->key[i]), &h))
            continue; /* another user config (a quota) */
        if (!scram_cred_parse(h, c->value[i], strlen(c->value[i]), &parsed[h])) {
            say_warn("sasl", "ignoring a malformed %s credential of user %s in ZooKeeper",
                     c->key[i], c->name);
            continue;
        }
        creds[h] = &parsed[h];
    }
}

void scram_users_reload(struct broker *b, const char *user)
{
    struct zk_user_config *c = malloc(sizeof(*c));
    if (!c)
        return;
    kerr_t rc = zk_store_user_config_get(b->zk, user, c);
    if (rc == KERR_NONE || rc == KERR__CORRUPT) {
        struct scram_cred parsed[SCRAM_N_HASHES];
        const struct scram_cred *creds[SCRAM_N_HASHES];
        creds_of(c, parsed, creds);
        if (!scram_store_put(user, creds))
            say_warn("sasl", "cannot keep the credentials of user %s: out of memory", user);
    } else {
        say_warn("sasl", "cannot read the credentials of user %s: %s", user, kerr_name(rc));
    }
    free(c);
}

void scram_users_load_all(struct broker *b)
{
    char **names = NULL;
    int n = 0;
    if (zk_store_users_list(b->zk, &names, &n) != KERR_NONE) {
        say_warn("sasl", "cannot list /config/users; SCRAM users load from notifications only");
        return;
    }
    scram_store_clear();
    for (int i = 0; i < n; i++)
        scram_users_reload(b, names[i]);
    zk_names_free(names, n);
    if (n > 0)
        say_info("sasl", "SCRAM users loaded users=%d", n);
}

/* Sets or removes key in c; false if c is full. */
static bool config_put(struct zk_user_config *c, const char *key, const char *value)
{
    for (int i = 0; i < c->n; i++) {
        if (strcmp(c->key[i], key) != 0)
            continue;
        if (value) {
            snprintf(c->value[i], sizeof(c->value[i]), "%s", value);
        } else {
            c->n--;
            memmove(c->key[i], c->key[c->n], sizeof(c->key[i]));
            memmove(c->value[i], c->value[c->n], sizeof(c->value[i]));
        }
        return true;
    }
    if (!value)
        return true;
    if (c->n == ZK_USER_CONFIG_MAX)
        return false;
    snprintf(c->key[c->n], sizeof(c->key[c->n]), "%s", key);
    snprintf(c->value[c->n], sizeof(c->value[c->n]), "%s", value);
    c->n++;
    return true;
}

static bool config_has(const struct zk_user_config *c, const char *key)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->key[i], key) == 0)
            return true;
    return false;
}

kerr_t scram_users_alter(struct broker *b, const char *user, enum scram_hash h,
                         const struct scram_cred *cred, char *msg, size_t msglen)
{
    KASSERT(worker_is_current(b->admin));
    const char *mech = scram_mech_name(h);
    char text[512];
    if (cred && scram_cred_format(cred, text, sizeof(text)) == 0) {
        snprintf(msg, msglen, "credential too large");
        return KERR_UNACCEPTABLE_CREDENTIAL;
    }
    struct zk_user_config *c = malloc(sizeof(*c));
    if (!c) {
        snprintf(msg, msglen, "out of memory");
        return KERR_UNKNOWN_SERVER_ERROR;
    }
    kerr_t rc = KERR__EXISTS;
    for (int attempt = 0; attempt < SCRAM_ALTER_RETRIES && rc == KERR__EXISTS; attempt++) {
        rc = zk_store_user_config_get(b->zk, user, c);
        if (rc == KERR__INVALID) {
            snprintf(msg, msglen, "user name cannot be stored");
            rc = KERR_UNACCEPTABLE_CREDENTIAL;
            break;
        }
        if (rc == KERR__CORRUPT) { /* start over: the credential replaces garbage */
            c->n = 0;
            rc = KERR_NONE;
        }
        if (rc != KERR_NONE)
            break;
        if (!cred && !config_has(c, mech)) {
            snprintf(msg, msglen,
                     "Attempt to delete a user credential that does not exist: %s of %s", mech,
                     user);
            free(c);
            return KERR_RESOURCE_NOT_FOUND;
        }
        if (!config_put(c, mech, cred ? text : NULL)) {
            snprintf(msg, msglen, "too many configs for user %s", user);
            free(c);
            return KERR_UNACCEPTABLE_CREDENTIAL;
        }
        rc = zk_store_user_config_set(b->zk, c);
    }
    free(c);
    if (rc != KERR_NONE) {
        snprintf(msg, msglen, "cannot write /config/users/%s: %s", user, kerr_name(rc));
        return KERR_UNKNOWN_SERVER_ERROR;
    }
    char enc[ZK_CONFIG_ENTITY_MAX];
    if (!zk_entity_name_encode(user, enc, sizeof(enc)) ||
        zk_store_config_change_notify(b->zk, "users", enc) != KERR_NONE)
        say_warn("sasl",
                 "cannot notify the change of user %s; other brokers see it at their "
                 "next restart or notification",
                 user);
    scram_users_reload(b, user);
    say_info("sasl", "SCRAM credential %s user=%s mechanism=%s", cred ? "set" : "deleted", user,
             mech);
    return KERR_NONE;
}
