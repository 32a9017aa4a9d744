/*
 * broker/security/scram_store.c — the in-memory SCRAM credential table
 * (scram_store.h): a list of users, each with up to one credential per hash.
 */
#include "broker/security/scram_store.h"

#include <openssl/crypto.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct scram_user {
    char *name;
    bool has[SCRAM_N_HASHES];
    struct scram_cred cred[SCRAM_N_HASHES];
    struct scram_user *next;
};

static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
static struct scram_user *store_head;

static void user_free(struct scram_user *u)
{
    OPENSSL_cleanse(u->cred, sizeof(u->cred));
    free(u->name);
    free(u);
}

bool scram_store_put(const char *user, const struct scram_cred *const creds[SCRAM_N_HASHES])
{
    bool any = false;
    for (int h = 0; h < SCRAM_N_HASHES; h++)
        any |= creds[h] != NULL;
    struct scram_user *fresh = NULL;
    if (any) {
        fresh = calloc(1, sizeof(*fresh));
        if (!fresh || !(fresh->name = strdup(user))) {
            free(fresh);
            return false;
        }
        for (int h = 0; h < SCRAM_N_HASHES; h++) {
            if (creds[h]) {
                fresh->has[h] = true;
                fresh->cred[h] = *creds[h];
            }
        }
    }
    pthread_mutex_lock(&store_lock);
    struct scram_user **pp = &store_head;
    while (*pp && strcmp((*pp)->name, user) != 0)
        pp = &(*pp)->next;
    struct scram_user *old = *pp;
    if (old)
        *pp = old->next;
    if (fresh) {
        fresh->next = store_head;
        store_head = fresh;
    }
    pthread_mutex_unlock(&store_lock);
    if (old)
        user_free(old);
    return true;
}

bool scram_store_get(const char *user, enum scram_hash h, struct scram_cred *out)
{
    bool found = false;
    pthread_mutex_lock(&store_lock);
    for (struct scram_user *u = store_head; u; u = u->next) {
        if (strcmp(u->name, user) == 0) {
            if (u->has[h]) {
                *out = u->cred[h];
                found = true;
            }
            break;
        }
    }
    pthread_mutex_unlock(&store_lock);
    return found;
}

bool scram_store_lookup(void *arg, const char *user, enum scram_hash h, struct scram_cred *out)
{
    (void)arg;
    return scram_store_get(user, h, out);
}

void scram_store_each(void (*fn)(void *arg, const char *user), void *arg)
{
    pthread_mutex_lock(&store_lock);
    for (struct scram_user *u = store_head; u; u = u->next)
        fn(arg, u->name);
    pthread_mutex_unlock(&store_lock);
}

void scram_store_clear(void)
{
    pthread_mutex_lock(&store_lock);
    struct scram_user *u = store_head;
    store_head = NULL;
    pthread_mutex_unlock(&store_lock);
    while (u) {
        struct scram_user *next = u->next;
        user_free(u);
        u = next;
    }
}
