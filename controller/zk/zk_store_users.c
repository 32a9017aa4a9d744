/*
 * controller/zk/zk_store_users.c — users' configs in ZooKeeper, as Kafka's
 * ZooKeeper mode keeps them (zk_store.h: /config/users/<user>, Kafka's
 * JSON, the name percent-encoded).
 *
 * The JSON reader accepts exactly the shape Kafka writes: an object with
 * "version" (a number) and "config" (an object of string values; escapes
 * \" \\ \/ \n \t \r \b \f and \u00XX); anything else is KERR__CORRUPT.
 */
#include "controller/zk/zk_store_int.h"
#include "common/say.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZU_JSON_MAX 16384

static bool zu_plain_char(unsigned char c)
{
    return isalnum(c) || c == '.' || c == '_' || c == '-';
}

bool zs_user_name_encode(const char *name, char *out, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t k = 0;
    if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return false;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (k + 4 > n)
            return false;
        if (zu_plain_char(*p)) {
            out[k++] = (char)*p;
        } else {
            out[k++] = '%';
            out[k++] = hex[*p >> 4];
            out[k++] = hex[*p & 15];
        }
    }
    out[k] = '\0';
    return true;
}

static int zu_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

bool zs_user_name_decode(const char *enc, char *out, size_t n)
{
    size_t k = 0;
    for (const char *p = enc; *p; p++) {
        char c = *p;
        if (c == '%') {
            int hi = zu_hex(p[1]), lo = hi >= 0 ? zu_hex(p[2]) : -1;
            if (lo < 0)
                return false;
            c = (char)(hi * 16 + lo);
            p += 2;
        }
        if (k + 1 >= n || c == '\0')
            return false;
        out[k++] = c;
    }
    out[k] = '\0';
    return k > 0;
}

bool zk_entity_name_encode(const char *name, char *out, size_t n)
{
    if (strcmp(name, "<default>") == 0) {
        if (n < sizeof("<default>"))
            return false;
        memcpy(out, "<default>", sizeof("<default>"));
        return true;
    }
    return zs_user_name_encode(name, out, n);
}

bool zk_entity_name_decode(const char *enc, char *out, size_t n)
{
    if (strcmp(enc, "<default>") == 0) {
        if (n < sizeof("<default>"))
            return false;
        memcpy(out, "<default>", sizeof("<default>"));
        return true;
    }
    return zs_user_name_decode(enc, out, n);
}

static size_t zu_put_json_str(char *buf, size_t cap, size_t k, const char *s)
{
    if (k < cap)
        buf[k] = '"';
    k++;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        int w;
        if (*p == '"' || *p == '\\')
            w = snprintf(esc, sizeof(esc), "\\%c", *p);
        else if (*p < 0x20)
            w = snprintf(esc, sizeof(esc), "\\u%04x", *p);
        else
            w = snprintf(esc, sizeof(esc), "%c", *p);
        for (int i = 0; i < w; i++, k++)
            if (k < cap)
                buf[k] = esc[i];
    }
    if (k < cap)
        buf[k] = '"';
    return k + 1;
}

int zk_user_config_encode(const struct zk_user_config *c, char *buf, size_t cap)
{
    size_t k = (size_t)snprintf(buf, cap, "{\"version\":1,\"config\":{");
    for (int i = 0; i < c->n; i++) {
        if (i > 0) {
            if (k < cap)
                buf[k] = ',';
            k++;
        }
        k = zu_put_json_str(buf, cap, k, c->key[i]);
        if (k < cap)
            buf[k] = ':';
        k++;
        k = zu_put_json_str(buf, cap, k, c->value[i]);
    }
    if (k + 3 > cap)
        return -1;
    buf[k++] = '}';
    buf[k++] = '}';
    buf[k] = '\0';
    return (int)k;
}

struct zu_json {
    const char *p, *end;
};

static void zu_ws(struct zu_json *j)
{
    while (j->p < j->end && isspace((unsigned char)*j->p))
        j->p++;
}

static bool zu_eat(struct zu_json *j, char c)
{
    zu_ws(j);
    if (j->p < j->end && *j->p == c) {
        j->p++;
        return true;
    }
    return false;
}

/* Reads a JSON string into out (size n). */
static bool zu_str(struct zu_json *j, char *out, size_t n)
{
    if (!zu_eat(j, '"'))
        return false;
    size_t k = 0;
    while (j->p < j->end && *j->p != '"') {
        char c = *j->p++;
        if ((unsigned char)c < 0x20)
            return false;
        if (c == '\\') {
            if (j->p >= j->end)
                return false;
            char e = *j->p++;
            switch (e) {
            case '"':
            case '\\':
            case '/':
                c = e;
                break;
            case 'n':
                c = '\n';
                break;
            case 't':
                c = '\t';
                break;
            case 'r':
                c = '\r';
                break;
            case 'b':
                c = '\b';
                break;
            case 'f':
                c = '\f';
                break;
            case 'u': {
                if (j->end - j->p < 4 || j->p[0] != '0' || j->p[1] != '0')
                    return false;
                int hi = zu_hex(j->p[2]), lo = zu_hex(j->p[3]);
                if (hi < 0 || lo < 0 || hi * 16 + lo == 0)
                    return false;
                c = (char)(hi * 16 + lo);
                j->p += 4;
                break;
            }
            default:
                return false;
            }
        }
        if (k + 1 >= n)
            return false;
        out[k++] = c;
    }
    if (j->p >= j->end)
        return false;
    j->p++;
    out[k] = '\0';
    return true;
}

bool zk_user_config_decode(const char *json, size_t len, struct zk_user_config *c)
{
    struct zu_json j = {json, json + len};
    bool have_version = false, have_config = false;
    c->n = 0;
    if (!zu_eat(&j, '{'))
        return false;
    if (zu_eat(&j, '}'))
        return false;
    do {
        char key[32];
        if (!zu_str(&j, key, sizeof(key)) || !zu_eat(&j, ':'))
            return false;
        if (strcmp(key, "version") == 0 && !have_version) {
            zu_ws(&j);
            const char *start = j.p;
            while (j.p < j.end && isdigit((unsigned char)*j.p))
                j.p++;
            if (j.p == start)
                return false;
            have_version = true;
        } else if (strcmp(key, "config") == 0 && !have_config) {
            if (!zu_eat(&j, '{'))
                return false;
            have_config = true;
            if (zu_eat(&j, '}'))
                continue;
            do {
                if (c->n == ZK_USER_CONFIG_MAX || !zu_str(&j, c->key[c->n], sizeof(c->key[c->n])) ||
                    !zu_eat(&j, ':') || !zu_str(&j, c->value[c->n], sizeof(c->value[c->n])))
                    return false;
                c->n++;
            } while (zu_eat(&j, ','));
            if (!zu_eat(&j, '}'))
                return false;
        } else {
            return false;
        }
    } while (zu_eat(&j, ','));
    if (!zu_eat(&j, '}'))
        return false;
    zu_ws(&j);
    return j.p == j.end && have_config;
}

kerr_t zk_store_user_config_get(struct zk_store *zs, const char *user, struct zk_user_config *c)
{
    memset(c, 0, sizeof(*c));
    c->version = ZK_VERSION_NEW;
    char enc[ZS_PATH_MAX - 32], path[ZS_PATH_MAX];
    if (strlen(user) >= sizeof(c->name) || !zs_user_name_encode(user, enc, sizeof(enc)))
        return KERR__INVALID;
    snprintf(c->name, sizeof(c->name), "%s", user);
    snprintf(path, sizeof(path), "%s/%s", ZK_PATH_CONFIG_USERS, enc);
    kerr_t err = zs_enter(zs);
    if (err != KERR_NONE)
        return err;
    uint8_t *data;
    int len;
    struct Stat st;
    int rc = zs_read(zs->zh, path, &data, &len, &st);
    if (rc == ZNONODE)
        return zs_leave(zs, KERR_NONE);
    if (rc != ZOK)
        return zs_leave(zs, zs_err(rc, "get", path));
    bool ok = zk_user_config_decode((const char *)data, (size_t)(len > 0 ? len : 0), c);
    free(data);
    if (!ok) {
        say_warn("zk", "unreadable user config path=%s", path);
        c->n = 0;
        return zs_leave(zs, KERR__CORRUPT);
    }
    c->version = st.version;
    return zs_leave(zs, KERR_NONE);
}

kerr_t zk_store_user_config_set(struct zk_store *zs, const struct zk_user_config *c)
{
    char enc[ZS_PATH_MAX - 32], path[ZS_PATH_MAX];
    if (!zs_user_name_encode(c->name, enc, sizeof(enc)))
        return KERR__INVALID;
    snprintf(path, sizeof(path), "%s/%s", ZK_PATH_CONFIG_USERS, enc);
    char *json = malloc(ZU_JSON_MAX);
    if (!json)
        return KERR__NOMEM;
    int len = zk_user_config_encode(c, json, ZU_JSON_MAX);
    if (len < 0) {
        free(json);
        return KERR__INVALID;
    }
    kerr_t err = zs_enter(zs);
    if (err == KERR_NONE) {
        int rc;
        if (c->n == 0) {
            rc = c->version == ZK_VERSION_NEW ? ZOK : zoo_delete(zs->zh, path, c->version);
        } else if (c->version == ZK_VERSION_NEW) {
            rc = zoo_create(zs->zh, path, json, len, zs_acl(zs, path), ZOO_PERSISTENT, NULL, 0);
        } else {
            rc = zoo_set(zs->zh, path, json, len, c->version);
        }
        if (rc == ZNODEEXISTS || rc == ZBADVERSION || rc == ZNONODE)
            err = KERR__EXISTS;
        else
            err = zs_err(rc, c->n == 0 ? "delete" : "write", path);
        zs_leave(zs, err);
    }
    free(json);
    return err;
}

kerr_t zk_store_users_list(struct zk_store *zs, char ***names, int *n)
{
    *names = NULL;
    *n = 0;
    kerr_t err = zs_enter(zs);
    if (err != KERR_NONE)
        return err;
    char **raw;
    int nr;
    err = zs_children(zs->zh, ZK_PATH_CONFIG_USERS, &raw, &nr);
    if (err != KERR_NONE)
        return zs_leave(zs, err);
    int k = 0;
    for (int i = 0; i < nr; i++) {
        char dec[ZK_USER_NAME_MAX];
        if (!zs_user_name_decode(raw[i], dec, sizeof(dec))) {
            free(raw[i]);
            continue;
        }
        free(raw[i]);
        raw[k] = strdup(dec);
        if (raw[k])
            k++;
    }
    *names = raw;
    *n = k;
    return zs_leave(zs, KERR_NONE);
}
