/*
 * broker/config/config_parse.h — private to broker/config/: the parsers of
 * the listener keys (listeners, advertised.listeners,
 * listener.security.protocol.map, inter.broker.listener.name) and of
 * max.connections.per.ip.overrides, written in config_listeners.c and used
 * by config.c's key table and derivation step, plus two string helpers both
 * files use.
 *
 * A check function has the key table's shape: it may normalise value in
 * place and, on failure, writes the reason into why.
 */
#ifndef GREGOR_BROKER_CONFIG_CONFIG_PARSE_H
#define GREGOR_BROKER_CONFIG_CONFIG_PARSE_H

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "broker/config/config.h"

static inline void why_set(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline void why_set(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

/* Copies s[0..n) trimmed of blanks into out (size outlen). False if it
 * does not fit. */
static inline bool copy_trimmed(const char *s, size_t n, char *out, size_t outlen)
{
    while (n > 0 && isspace((unsigned char)s[0])) {
        s++;
        n--;
    }
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    if (n >= outlen)
        return false;
    memcpy(out, s, n);
    out[n] = '\0';
    return true;
}

/* listener.security.protocol.map, parsed */
#define CONFIG_MAX_MAP 32

struct protocol_map {
    char name[CONFIG_MAX_MAP][32];  /* listener names, upper case */
    char proto[CONFIG_MAX_MAP][32]; /* their security protocols */
    int n;
};

/* "host:port" (host may be empty, a name, IPv4 or [IPv6]) into l. */
bool listener_parse_hostport(char *hp, struct config_listener *l, char *why, size_t whylen);
/* A listener list into out[*n]; bound: listeners (port 0 = any), else advertised. */
bool listeners_parse(const char *s, struct config_listener *out, int *n, bool bound, char *why,
                     size_t whylen);
bool protocol_map_parse(const char *s, struct protocol_map *map, char *why, size_t whylen);
/* The security protocol of listener name, or NULL. */
const char *protocol_map_find(const struct protocol_map *map, const char *name);
/* max.connections.per.ip.overrides into out[*n] (out may be NULL: check only). */
bool ip_overrides_parse(const char *s, struct config_ip_override *out, int *n, char *why,
                        size_t whylen);

bool check_listeners(char *value, char *why, size_t whylen);
bool check_advertised(char *value, char *why, size_t whylen);
bool check_protocol_map(char *value, char *why, size_t whylen);
bool check_listener_name(char *value, char *why, size_t whylen);
bool check_ip_overrides(char *value, char *why, size_t whylen);

/* config_ssl.c: the TLS keys' checks and the listener.name.<name>.ssl.* settings */
bool check_pem_type(char *value, char *why, size_t whylen);
bool check_client_auth(char *value, char *why, size_t whylen);
bool check_tls_protocols(char *value, char *why, size_t whylen);
bool check_endpoint_identification(char *value, char *why, size_t whylen);
/* Stores key=value if key is listener.name.<name>.<ssl key> (value checked
 * as that key's). Returns 0 if key is not of the listener.name. form, 1 when
 * stored, -1 with the reason in why. */
int config_listener_kv_set(struct broker_config *cfg, const char *key, const char *value, char *why,
                           size_t whylen);
void config_listener_kv_free(struct broker_config *cfg);
/* Replaces out's listener_kv strings (shallow copies) with copies of their own. */
bool config_listener_kv_copy(struct broker_config *out);
/* The value of string key `key` (config.c), or NULL if unset or not a string key. */
const char *config_str_value(const struct broker_config *cfg, const char *key);

#endif
