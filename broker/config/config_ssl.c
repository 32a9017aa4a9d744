/*
 * broker/config/config_ssl.c — the TLS keys' syntax (ssl.keystore.type,
 * ssl.truststore.type, ssl.client.auth, ssl.enabled.protocols) and the
 * per-listener form Kafka users write, listener.name.<name>.<key> (any key
 * of the table, such as the ssl.* and sasl.* keys, or a mechanism's JAAS
 * text <mechanism>.sasl.jaas.config), which overrides the broker-wide key
 * for that listener (docs/security.md). Files, keys and cipher names are
 * checked when the listener's TLS context is built (broker/net/tls.c), at
 * start.
 *
 * The per-listener settings live in broker_config.listener_kv[]: the key
 * as written with the listener name lower-cased, and its value, checked
 * with the broker-wide key's own check.
 */
#include "broker/config/config.h"
#include "broker/config/config_parse.h"
#include "common/base.h"

#include <stdlib.h>
#include <strings.h>

#define LISTENER_PREFIX "listener.name."

bool check_pem_type(char *value, char *why, size_t whylen)
{
    if (strcasecmp(value, "PEM") != 0) {
        why_set(why, whylen, "only PEM is supported (JKS and PKCS12 stores are not)");
        return false;
    }
    memcpy(value, "PEM", 4);
    return true;
}

bool check_client_auth(char *value, char *why, size_t whylen)
{
    static const char *const modes[] = {"none", "requested", "required"};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        if (strcasecmp(value, modes[i]) == 0) {
            memcpy(value, modes[i], strlen(modes[i]) + 1);
            return true;
        }
    }
    why_set(why, whylen, "must be none, requested or required");
    return false;
}

bool check_tls_protocols(char *value, char *why, size_t whylen)
{
    const char *p = value;
    int n = 0;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char one[32];
        if (!copy_trimmed(p, len, one, sizeof(one)) ||
            (strcmp(one, "TLSv1.2") != 0 && strcmp(one, "TLSv1.3") != 0)) {
            why_set(why, whylen, "unknown or unsupported protocol '%.*s' (TLSv1.2, TLSv1.3)",
                    (int)len, p);
            return false;
        }
        n++;
        p += len + (comma ? 1 : 0);
    }
    if (n == 0) {
        why_set(why, whylen, "names no protocol (TLSv1.2, TLSv1.3)");
        return false;
    }
    return true;
}

bool check_endpoint_identification(char *value, char *why, size_t whylen)
{
    if (strcasecmp(value, "https") != 0) {
        why_set(why, whylen, "must be https or empty (no host name check)");
        return false;
    }
    memcpy(value, "https", 6);
    return true;
}

bool config_key_is_sensitive(const char *key) { return strstr(key, "password") != NULL; }

bool config_protocol_is_tls(const char *protocol)
{
    return strcmp(protocol, "SSL") == 0 || strcmp(protocol, "SASL_SSL") == 0;
}

/* Splits "listener.name.<name>.<rest>": returns rest, with the name's
 * length in *name_len, or NULL if key does not have that form. */
static const char *listener_key_rest(const char *key, size_t *name_len)
{
    size_t pl = strlen(LISTENER_PREFIX);
    if (strncmp(key, LISTENER_PREFIX, pl) != 0)
        return NULL;
    const char *name = key + pl;
    const char *dot = strchr(name, '.');
    if (!dot || dot == name)
        return NULL;
    *name_len = (size_t)(dot - name);
    return dot + 1;
}

int config_listener_kv_set(struct broker_config *cfg, const char *key, const char *value, char *why,
                           size_t whylen)
{
    size_t name_len = 0;
    const char *rest = listener_key_rest(key, &name_len);
    if (!rest)
        return 0;
    /* a key of the table, or a mechanism's JAAS text */
    static const char *const jaas[] = {"plain.sasl.jaas.config", "scram-sha-256.sasl.jaas.config",
                                       "scram-sha-512.sasl.jaas.config"};
    int idx = config_key_find(rest);
    bool is_jaas = false;
    for (size_t i = 0; i < ARRAY_LEN(jaas); i++)
        is_jaas = is_jaas || strcmp(rest, jaas[i]) == 0;
    if ((idx < 0 && !is_jaas) || name_len >= 32) {
        why_set(why, whylen, "unknown per-listener key");
        return -1;
    }
    if (idx >= 0 && !config_key_check(idx, value, why, whylen))
        return -1;
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        why_set(why, whylen, "out of memory");
        return -1;
    }
    for (size_t i = strlen(LISTENER_PREFIX); i < strlen(LISTENER_PREFIX) + name_len; i++)
        k[i] = (char)tolower((unsigned char)k[i]);
    for (int i = 0; i < cfg->n_listener_kv; i++) {
        if (strcmp(cfg->listener_kv[i].key, k) == 0) {
            free(cfg->listener_kv[i].key);
            free(cfg->listener_kv[i].value);
            cfg->listener_kv[i] = (struct config_listener_kv){k, v};
            return 1;
        }
    }
    if (cfg->n_listener_kv == CONFIG_MAX_LISTENER_KV) {
        free(k);
        free(v);
        why_set(why, whylen, "more than %d listener.name.* settings", CONFIG_MAX_LISTENER_KV);
        return -1;
    }
    cfg->listener_kv[cfg->n_listener_kv++] = (struct config_listener_kv){k, v};
    return 1;
}

void config_listener_kv_free(struct broker_config *cfg)
{
    for (int i = 0; i < cfg->n_listener_kv; i++) {
        free(cfg->listener_kv[i].key);
        free(cfg->listener_kv[i].value);
    }
    cfg->n_listener_kv = 0;
}

bool config_listener_kv_copy(struct broker_config *out)
{
    bool ok = true;
    for (int i = 0; i < out->n_listener_kv; i++) {
        struct config_listener_kv *e = &out->listener_kv[i];
        e->key = e->key ? strdup(e->key) : NULL;
        e->value = e->value ? strdup(e->value) : NULL;
        ok = ok && e->key && e->value;
    }
    return ok;
}

const char *config_listener_value(const struct broker_config *cfg, const char *name,
                                  const char *key)
{
    char full[160];
    int n = snprintf(full, sizeof(full), LISTENER_PREFIX "%s.%s", name, key);
    if (n > 0 && (size_t)n < sizeof(full)) {
        for (size_t i = strlen(LISTENER_PREFIX); full[i] && full[i] != '.'; i++)
            full[i] = (char)tolower((unsigned char)full[i]);
        for (int i = 0; i < cfg->n_listener_kv; i++)
            if (strcmp(cfg->listener_kv[i].key, full) == 0)
                return cfg->listener_kv[i].value;
    }
    return config_str_value(cfg, key);
}
