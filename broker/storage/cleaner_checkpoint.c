/*
 * broker/storage/cleaner_checkpoint.c — `cleaner-offset-checkpoint` (see
 * cleaner_checkpoint.h), read and written with logdir.c's checkpoint code.
 */
#include "broker/storage/cleaner_checkpoint.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/storage/logdir.h"
#include "common/say.h"

static pthread_mutex_t ckpt_mu = PTHREAD_MUTEX_INITIALIZER;

static bool ckpt_path(char *buf, size_t n, const char *data_dir)
{
    int w = snprintf(buf, n, "%s/%s", data_dir, CLEANER_CKPT_FILE);

    return w > 0 && (size_t)w < n;
}

kerr_t cleaner_ckpt_get(const char *data_dir, const char *topic, int32_t partition, int64_t *offset)
{
    char path[PATH_MAX];
    struct logdir_ckpt_entry *e = NULL;
    int n = 0;
    kerr_t err;

    if (!ckpt_path(path, sizeof(path), data_dir))
        return KERR__INVALID;
    pthread_mutex_lock(&ckpt_mu);
    err = logdir_ckpt_read(path, &e, &n);
    pthread_mutex_unlock(&ckpt_mu);
    if (err != KERR_NONE)
        return err;
    err = KERR__NOENT;
    for (int i = 0; i < n; i++) {
        if (e[i].partition == partition && strcmp(e[i].topic, topic) == 0) {
            *offset = e[i].offset;
            err = KERR_NONE;
        }
    }
    free(e);
    return err;
}

kerr_t cleaner_ckpt_set(const char *data_dir, const char *topic, int32_t partition, int64_t offset)
{
    char path[PATH_MAX];
    struct logdir_ckpt_entry *e = NULL, *grown;
    int n = 0, found = -1;
    kerr_t err;

    if (!ckpt_path(path, sizeof(path), data_dir) || strlen(topic) >= sizeof(e->topic))
        return KERR__INVALID;
    pthread_mutex_lock(&ckpt_mu);
    err = logdir_ckpt_read(path, &e, &n);
    if (err == KERR__CORRUPT)
        say_warn("storage", "replacing corrupt %s", path);
    if (err != KERR_NONE) {
        free(e);
        e = NULL;
        n = 0;
    }
    for (int i = 0; i < n && found < 0; i++)
        if (e[i].partition == partition && strcmp(e[i].topic, topic) == 0)
            found = i;
    err = KERR_NONE;
    if (found >= 0 && offset < 0) {
        memmove(&e[found], &e[found + 1], (size_t)(n - found - 1) * sizeof(*e));
        n--;
    } else if (found >= 0) {
        e[found].offset = offset;
    } else if (offset >= 0) {
        grown = realloc(e, (size_t)(n + 1) * sizeof(*e));
        if (!grown) {
            err = KERR__NOMEM;
        } else {
            e = grown;
            memset(&e[n], 0, sizeof(*e));
            snprintf(e[n].topic, sizeof(e[n].topic), "%s", topic);
            e[n].partition = partition;
            e[n].offset = offset;
            n++;
        }
    }
    if (err == KERR_NONE)
        err = logdir_ckpt_write(path, e, n);
    pthread_mutex_unlock(&ckpt_mu);
    free(e);
    return err;
}
