/*
 * broker/storage/logdir.c — the per-log-directory files.
 *
 * Formats owned here:
 *   meta.properties   Java properties, as Kafka writes it:
 *                       version=0
 *                       broker.id=<int>
 *                       cluster.id=<id>
 *                       directory.id=<22-char base64url>
 *   .lock             empty; held with flock(LOCK_EX|LOCK_NB) while running
 *   .gregor_clean_shutdown  empty; present only after a clean shutdown
 *   *-offset-checkpoint     "0\n<count>\n" then "<topic> <partition> <offset>\n"
 *   leader-epoch-checkpoint "0\n<count>\n" then "<epoch> <start offset>\n"
 *
 * Writes go to "<file>.tmp", are fsynced, renamed over the file, and the
 * directory is fsynced, so a crash leaves the old or the new file whole;
 * but for leader-epoch-checkpoint when the caller asks for no fsync (the
 * epoch cache: epoch_cache.c says why a rename is enough there).
 * Threads: start-up and the background loop.
 */
#include "broker/storage/logdir.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>

#include "broker/storage/fileio.h"
#include "common/buf.h"
#include "common/props.h"
#include "common/say.h"

#define MAX_FILE_BYTES (64 << 20)

/* Builds "<dir>/<name>" into buf. */
static bool join(char *buf, size_t n, const char *dir, const char *name)
{
    int w = snprintf(buf, n, "%s/%s", dir, name);

    return w > 0 && (size_t)w < n;
}

/* Writes data to path atomically (temp file, fsync, rename, fsync dir). */
/* Writes data to path through "<path>.tmp" and a rename; durable: with the
 * fsyncs of the file and the directory. */
static kerr_t write_atomic(const char *path, const void *data, size_t len, bool durable)
{
    char tmp[PATH_MAX], dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    int fd;
    kerr_t err;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return KERR__INVALID;
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    err = fileio_open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644, &fd);
    if (err != KERR_NONE)
        return err;
    err = fileio_pwrite_all(fd, data, len, 0);
    if (err == KERR_NONE && durable)
        err = fileio_fsync(fd);
    fileio_close(fd);
    if (err == KERR_NONE)
        err = fileio_rename(tmp, path);
    if (err == KERR_NONE && durable)
        err = fileio_fsync_dir(dir[0] ? dir : "/");
    if (err != KERR_NONE)
        (void)fileio_unlink(tmp);
    return err;
}

/* Reads the whole file at path; *data returns new (NUL-terminated). */
static kerr_t read_file(const char *path, char **data, size_t *len)
{
    int64_t size;
    size_t got;
    int fd;
    kerr_t err = fileio_open(path, O_RDONLY, 0, &fd);

    *data = NULL;
    if (err != KERR_NONE)
        return err;
    err = fileio_size(fd, &size);
    if (err == KERR_NONE && (size < 0 || size > MAX_FILE_BYTES))
        err = KERR__CORRUPT;
    if (err == KERR_NONE && !(*data = malloc((size_t)size + 1)))
        err = KERR__NOMEM;
    if (err == KERR_NONE)
        err = fileio_pread_full(fd, *data, (size_t)size, 0, &got);
    fileio_close(fd);
    if (err != KERR_NONE) {
        free(*data);
        *data = NULL;
        return err;
    }
    (*data)[got] = '\0';
    *len = got;
    return KERR_NONE;
}

/* ---- lock and marker -------------------------------------------------- */

kerr_t logdir_lock(const char *dir, int *fd_out, char *errbuf, size_t errlen)
{
    char path[PATH_MAX];
    int fd;
    kerr_t err;

    *fd_out = -1;
    if (!join(path, sizeof(path), dir, LOGDIR_LOCK_FILE))
        return KERR__INVALID;
    err = fileio_open(path, O_RDWR | O_CREAT, 0644, &fd);
    if (err != KERR_NONE) {
        snprintf(errbuf, errlen, "cannot open lock file %s: %s", path, kerr_name(err));
        return err;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        fileio_close(fd);
        if (e == EWOULDBLOCK) {
            snprintf(errbuf, errlen, "log directory %s is in use by another process (%s held)", dir,
                     path);
            return KERR__EXISTS;
        }
        snprintf(errbuf, errlen, "cannot lock %s: %s", path, strerror(e));
        return KERR__IO;
    }
    *fd_out = fd;
    return KERR_NONE;
}

void logdir_unlock(int fd)
{
    if (fd < 0)
        return;
    (void)flock(fd, LOCK_UN);
    fileio_close(fd);
}

kerr_t logdir_clean_shutdown_mark(const char *dir)
{
    char path[PATH_MAX];

    if (!join(path, sizeof(path), dir, LOGDIR_CLEAN_FILE))
        return KERR__INVALID;
    return write_atomic(path, "", 0, true);
}

bool logdir_clean_shutdown_exists(const char *dir)
{
    char path[PATH_MAX];

    return join(path, sizeof(path), dir, LOGDIR_CLEAN_FILE) && fileio_exists(path);
}

kerr_t logdir_clean_shutdown_clear(const char *dir)
{
    char path[PATH_MAX];
    kerr_t err;

    if (!join(path, sizeof(path), dir, LOGDIR_CLEAN_FILE))
        return KERR__INVALID;
    err = fileio_unlink(path);
    if (err == KERR__NOENT)
        return KERR_NONE;
    return err == KERR_NONE ? fileio_fsync_dir(dir) : err;
}

/* ---- meta.properties -------------------------------------------------- */

kerr_t logdir_new_id(char out[LOGDIR_ID_LEN + 1])
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t raw[16];
    size_t o = 0;

    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
        say_syserror("storage", "getrandom failed");
        return KERR__IO;
    }
    /* 16 bytes = 5 groups of 3 (20 chars) + 1 byte (2 chars). */
    for (size_t i = 0; i < 15; i += 3) {
        uint32_t v = ((uint32_t)raw[i] << 16) | ((uint32_t)raw[i + 1] << 8) | raw[i + 2];
        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = b64[(v >> 6) & 63];
        out[o++] = b64[v & 63];
    }
    out[o++] = b64[raw[15] >> 2];
    out[o++] = b64[(raw[15] & 3) << 4];
    out[o] = '\0';
    return KERR_NONE;
}

/* Parses a decimal int64 that fills the whole string. */
static bool parse_i64(const char *s, int64_t *v)
{
    char *end;

    if (!s || !*s)
        return false;
    errno = 0;
    *v = strtoll(s, &end, 10);
    return errno == 0 && *end == '\0';
}

static kerr_t meta_from_props(const struct props *p, struct logdir_meta *m)
{
    const char *cid = props_get(p, "cluster.id"), *did = props_get(p, "directory.id");
    const char *bid = props_get(p, "broker.id");
    int64_t v;

    memset(m, 0, sizeof(*m));
    m->broker_id = -1;
    if (!parse_i64(props_get(p, "version"), &v) || v != 0)
        return KERR__CORRUPT;
    m->version = 0;
    if (bid) {
        if (!parse_i64(bid, &v) || v < -1 || v > INT32_MAX)
            return KERR__CORRUPT;
        m->broker_id = (int32_t)v;
    }
    if (cid &&
        snprintf(m->cluster_id, sizeof(m->cluster_id), "%s", cid) >= (int)sizeof(m->cluster_id))
        return KERR__CORRUPT;
    if (did && snprintf(m->directory_id, sizeof(m->directory_id), "%s", did) >=
                   (int)sizeof(m->directory_id))
        return KERR__CORRUPT;
    return KERR_NONE;
}

kerr_t logdir_meta_read(const char *dir, struct logdir_meta *m)
{
    char path[PATH_MAX], perr[256];
    struct props p;
    char *text;
    size_t len;
    kerr_t err;

    if (!join(path, sizeof(path), dir, LOGDIR_META_FILE))
        return KERR__INVALID;
    err = read_file(path, &text, &len);
    if (err != KERR_NONE)
        return err;
    props_init(&p);
    err = props_parse(&p, text, len, perr, sizeof(perr));
    if (err == KERR_NONE)
        err = meta_from_props(&p, m);
    else if (err == KERR__INVALID)
        err = KERR__CORRUPT;
    if (err == KERR__CORRUPT)
        say_error("storage", "unreadable meta.properties path=%s", path);
    props_destroy(&p);
    free(text);
    return err;
}

kerr_t logdir_meta_write(const char *dir, const struct logdir_meta *m)
{
    char path[PATH_MAX], text[512];
    int n = snprintf(text, sizeof(text), "#\n#Written by gregor-broker\nversion=%d\n", m->version);

    if (m->broker_id >= 0)
        n += snprintf(text + n, sizeof(text) - (size_t)n, "broker.id=%d\n", m->broker_id);
    if (m->cluster_id[0])
        n += snprintf(text + n, sizeof(text) - (size_t)n, "cluster.id=%s\n", m->cluster_id);
    if (m->directory_id[0])
        n += snprintf(text + n, sizeof(text) - (size_t)n, "directory.id=%s\n", m->directory_id);
    if (n >= (int)sizeof(text) || !join(path, sizeof(path), dir, LOGDIR_META_FILE))
        return KERR__INVALID;
    return write_atomic(path, text, (size_t)n, true);
}

kerr_t logdir_meta_check(const struct logdir_meta *m, int32_t broker_id, const char *cluster_id,
                         char *errbuf, size_t errlen)
{
    if (m->broker_id >= 0 && broker_id >= 0 && m->broker_id != broker_id) {
        snprintf(errbuf, errlen,
                 "broker.id %d in meta.properties does not match configured broker.id %d",
                 m->broker_id, broker_id);
        return KERR__INVALID;
    }
    if (m->cluster_id[0] && cluster_id && cluster_id[0] && strcmp(m->cluster_id, cluster_id) != 0) {
        snprintf(errbuf, errlen,
                 "cluster.id %s in meta.properties does not match the cluster's id %s in "
                 "ZooKeeper: this log dir belongs to another cluster",
                 m->cluster_id, cluster_id);
        return KERR__INVALID;
    }
    return KERR_NONE;
}

kerr_t logdir_meta_ensure(const char *dir, int32_t broker_id, const char *cluster_id,
                          struct logdir_meta *out, char *errbuf, size_t errlen)
{
    struct logdir_meta m, orig;
    kerr_t err = logdir_meta_read(dir, &m);

    if (err == KERR__NOENT) {
        memset(&m, 0, sizeof(m));
        m.broker_id = -1;
    } else if (err != KERR_NONE) {
        snprintf(errbuf, errlen, "cannot read %s/%s: %s", dir, LOGDIR_META_FILE, kerr_name(err));
        return err;
    }
    orig = m;
    err = logdir_meta_check(&m, broker_id, cluster_id, errbuf, errlen);
    if (err != KERR_NONE)
        return err;
    if (m.broker_id < 0)
        m.broker_id = broker_id;
    if (!m.cluster_id[0] && cluster_id)
        snprintf(m.cluster_id, sizeof(m.cluster_id), "%s", cluster_id);
    if (!m.directory_id[0] && (err = logdir_new_id(m.directory_id)) != KERR_NONE)
        return err;
    if (memcmp(&m, &orig, sizeof(m)) != 0 && (err = logdir_meta_write(dir, &m)) != KERR_NONE) {
        snprintf(errbuf, errlen, "cannot write %s/%s: %s", dir, LOGDIR_META_FILE, kerr_name(err));
        return err;
    }
    if (out)
        *out = m;
    return KERR_NONE;
}

/* ---- checkpoint files ------------------------------------------------- */

/* Reads a "0\n<count>\n<lines>" file: *text returns new, *lines points at
 * the first entry line, *count is the declared count. */
static kerr_t ckpt_open(const char *path, char **text, char **lines, int *count)
{
    size_t len;
    char *p, *end;
    long v;
    kerr_t err = read_file(path, text, &len);

    if (err != KERR_NONE)
        return err;
    p = *text;
    v = strtol(p, &end, 10);
    if (end == p || v != 0 || *end != '\n')
        goto corrupt;
    p = end + 1;
    v = strtol(p, &end, 10);
    if (end == p || v < 0 || v > (long)len || *end != '\n')
        goto corrupt;
    *count = (int)v;
    *lines = end + 1;
    return KERR_NONE;
corrupt:
    say_error("storage", "malformed checkpoint path=%s", path);
    free(*text);
    *text = NULL;
    return KERR__CORRUPT;
}

/* Reads a "0\n<count>\n<lines>" file into *out, a new array of count
 * entries of `size` bytes (free()), each parsed by line(), which reads one
 * line at *p into the entry and advances *p. */
static kerr_t ckpt_read(const char *path, size_t size, bool (*line)(char **p, void *entry),
                        void **out, int *n)
{
    char *text, *p;
    int count;
    kerr_t err = ckpt_open(path, &text, &p, &count);

    *out = NULL;
    *n = 0;
    if (err != KERR_NONE)
        return err;
    *out = calloc((size_t)count + 1, size);
    if (!*out) {
        free(text);
        return KERR__NOMEM;
    }
    for (int i = 0; i < count; i++) {
        if (!line(&p, (char *)*out + (size_t)i * size)) {
            say_error("storage", "malformed checkpoint line path=%s line=%d", path, i + 3);
            free(*out);
            *out = NULL;
            free(text);
            return KERR__CORRUPT;
        }
    }
    *n = count;
    free(text);
    return KERR_NONE;
}

/* Writes a "0\n<n>\n<lines>" file (durable: see write_atomic()); line()
 * formats entry i into buf and returns its length (cut at size - 1). */
static kerr_t ckpt_write(const char *path, int n,
                         int (*line)(const void *e, int i, char *buf, size_t size), const void *e,
                         bool durable)
{
    struct kbuf b;
    char buf[320];
    kerr_t err;

    kbuf_init(&b);
    kbuf_put(&b, buf, (size_t)snprintf(buf, sizeof(buf), "0\n%d\n", n));
    for (int i = 0; i < n; i++) {
        int w = line(e, i, buf, sizeof(buf));
        kbuf_put(&b, buf, (size_t)MIN(w, (int)sizeof(buf) - 1));
    }
    err = b.oom ? KERR__NOMEM : write_atomic(path, b.data, b.len, durable);
    kbuf_destroy(&b);
    return err;
}

/* Parses one "<topic> <partition> <offset>" line at *p and advances. */
static bool offset_line_read(char **p, void *entry)
{
    struct logdir_ckpt_entry *e = entry;
    char *s = *p, *sp = strchr(s, ' '), *end;
    long long part, off;

    if (!sp || sp == s || (size_t)(sp - s) >= sizeof(e->topic))
        return false;
    memcpy(e->topic, s, (size_t)(sp - s));
    e->topic[sp - s] = '\0';
    part = strtoll(sp + 1, &end, 10);
    if (end == sp + 1 || *end != ' ' || part < 0 || part > INT32_MAX)
        return false;
    s = end + 1;
    off = strtoll(s, &end, 10);
    if (end == s || *end != '\n')
        return false;
    e->partition = (int32_t)part;
    e->offset = off;
    *p = end + 1;
    return true;
}

static int offset_line_write(const void *entries, int i, char *buf, size_t size)
{
    const struct logdir_ckpt_entry *e = entries;
    return snprintf(buf, size, "%s %d %" PRId64 "\n", e[i].topic, e[i].partition, e[i].offset);
}

/* Parses one "<epoch> <start_offset>" line at *p and advances. */
static bool epoch_line_read(char **p, void *entry)
{
    struct logdir_epoch_entry *e = entry;
    char *end;
    long long ep = strtoll(*p, &end, 10), off;

    if (end == *p || *end != ' ' || ep < 0 || ep > INT32_MAX)
        return false;
    *p = end + 1;
    off = strtoll(*p, &end, 10);
    if (end == *p || *end != '\n')
        return false;
    *p = end + 1;
    e->epoch = (int32_t)ep;
    e->start_offset = off;
    return true;
}

static int epoch_line_write(const void *entries, int i, char *buf, size_t size)
{
    const struct logdir_epoch_entry *e = entries;
    return snprintf(buf, size, "%d %" PRId64 "\n", e[i].epoch, e[i].start_offset);
}

kerr_t logdir_ckpt_read(const char *path, struct logdir_ckpt_entry **out, int *n)
{
    void *v;
    kerr_t err = ckpt_read(path, sizeof(**out), offset_line_read, &v, n);
    *out = v;
    return err;
}

kerr_t logdir_ckpt_write(const char *path, const struct logdir_ckpt_entry *e, int n)
{
    return ckpt_write(path, n, offset_line_write, e, true);
}

kerr_t logdir_epoch_ckpt_write(const char *path, const struct logdir_epoch_entry *e, int n,
                               bool durable)
{
    return ckpt_write(path, n, epoch_line_write, e, durable);
}

kerr_t logdir_epoch_ckpt_read(const char *path, struct logdir_epoch_entry **out, int *n)
{
    void *v;
    kerr_t err = ckpt_read(path, sizeof(**out), epoch_line_read, &v, n);
    *out = v;
    return err;
}
