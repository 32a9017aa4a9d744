/*
 * broker/config/config_listeners.c — the syntax of the listener keys and of
 * max.connections.per.ip.overrides (declared in config_parse.h).
 *
 * Listener syntax: "NAME://host:port[,NAME://host:port...]". NAME is
 * [A-Za-z0-9_-], at most 31 chars, compared upper-cased. host is empty
 * (wildcard), a hostname, an IPv4 address, or an IPv6 address in brackets
 * (stored without them). port is 0..65535; 0 means "any free port" for a
 * listener and "the port actually bound" for an advertised listener.
 * listener.security.protocol.map is "NAME:PROTOCOL,..." with Kafka's four
 * security protocols.
 *
 * Threads: called from config_load() before other threads exist. No state.
 */
#include "broker/config/config_parse.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/base.h"

static void str_upper(char *s)
{
    for (; *s; s++)
        *s = (char)toupper((unsigned char)*s);
}

/* True if s is a non-empty run of [A-Za-z0-9_-] shorter than 32 chars. */
static bool is_listener_name(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n >= sizeof(((struct config_listener *)0)->name))
        return false;
    for (; *s; s++) {
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
            return false;
    }
    return true;
}

/* Parses a decimal port 0..65535 (the whole string). */
static bool parse_port(const char *s, int *port)
{
    long v = 0;

    if (*s == '\0' || strlen(s) > 5)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10 + (*s - '0');
    }
    if (v > 65535)
        return false;
    *port = (int)v;
    return true;
}

/* Checks a host that is not bracketed: a hostname or an IPv4 address. */
static bool is_plain_host(const char *s)
{
    struct in_addr a4;
    bool numeric = true;

    if (*s == '-' || *s == '.')
        return false;
    for (const char *p = s; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
            return false;
        if (!isdigit((unsigned char)*p) && *p != '.')
            numeric = false;
    }
    return !numeric || inet_pton(AF_INET, s, &a4) == 1;
}

/* Checks the inside of "[...]": an IPv6 address, optionally "%zone". */
static bool is_ipv6_host(const char *s)
{
    char addr[64];
    const char *pct = strchr(s, '%');
    size_t n = pct ? (size_t)(pct - s) : strlen(s);
    struct in6_addr a6;

    if (n == 0 || n >= sizeof(addr))
        return false;
    memcpy(addr, s, n);
    addr[n] = '\0';
    if (inet_pton(AF_INET6, addr, &a6) != 1)
        return false;
    if (pct == NULL)
        return true;
    if (pct[1] == '\0')
        return false;
    for (const char *p = pct + 1; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
            return false;
    }
    return true;
}

/* ---- listeners ---- */

/* Splits "host:port" (host possibly "[v6]") into l->host and l->port. */
bool listener_parse_hostport(char *hp, struct config_listener *l, char *why, size_t whylen)
{
    char *colon;

    if (hp[0] == '[') {
        char *close = strchr(hp, ']');

        if (close == NULL || close[1] != ':') {
            why_set(why, whylen, "expected '[ipv6]:port' after '://'");
            return false;
        }
        *close = '\0';
        colon = close + 1;
        if (!is_ipv6_host(hp + 1)) {
            why_set(why, whylen, "'%s' is not an IPv6 address", hp + 1);
            return false;
        }
        snprintf(l->host, sizeof(l->host), "%s", hp + 1);
    } else {
        colon = strrchr(hp, ':');
        if (colon == NULL) {
            why_set(why, whylen, "missing ':port'");
            return false;
        }
        *colon = '\0';
        if (strchr(hp, ':') != NULL) {
            why_set(why, whylen, "IPv6 address '%s' must be written in brackets", hp);
            return false;
        }
        if (hp[0] != '\0' && (strlen(hp) >= sizeof(l->host) || !is_plain_host(hp))) {
            why_set(why, whylen, "'%s' is not a valid host name or address", hp);
            return false;
        }
        snprintf(l->host, sizeof(l->host), "%s", hp);
    }
    if (!parse_port(colon + 1, &l->port)) {
        why_set(why, whylen, "port '%s' is not a number in 0..65535", colon + 1);
        return false;
    }
    return true;
}

/* Parses one trimmed entry "NAME://host:port" (entry is modified). */
static bool listener_parse_one(char *entry, struct config_listener *l, char *why, size_t whylen)
{
    char *sep = strstr(entry, "://");

    memset(l, 0, sizeof(*l));
    if (sep == NULL) {
        why_set(why, whylen, "'%s' is not NAME://host:port", entry);
        return false;
    }
    *sep = '\0';
    if (!is_listener_name(entry)) {
        why_set(why, whylen, "bad listener name '%s' (1-31 of A-Z 0-9 _ -)", entry);
        return false;
    }
    snprintf(l->name, sizeof(l->name), "%.31s", entry); /* length checked above */
    str_upper(l->name);
    return listener_parse_hostport(sep + 3, l, why, whylen);
}

/* Checks names (and, for bound listeners, non-zero ports) are unique among
 * out[0..n). */
static bool listeners_unique(const struct config_listener *out, int n, bool bound, char *why,
                             size_t whylen)
{
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < i; j++) {
            if (strcmp(out[i].name, out[j].name) == 0) {
                why_set(why, whylen, "listener name '%s' is used twice", out[i].name);
                return false;
            }
            if (bound && out[i].port != 0 && out[i].port == out[j].port) {
                why_set(why, whylen, "port %d is used by listeners '%s' and '%s'", out[i].port,
                        out[j].name, out[i].name);
                return false;
            }
        }
    }
    return true;
}

/*
 * Parses a comma list of listeners into out[0..*n). bound: these are
 * listeners to bind (ports must differ), not advertised ones. Protocols are
 * left empty.
 */
bool listeners_parse(const char *s, struct config_listener *out, int *n, bool bound, char *why,
                     size_t whylen)
{
    char entry[512];

    *n = 0;
    for (;;) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);

        if (!copy_trimmed(s, len, entry, sizeof(entry))) {
            why_set(why, whylen, "listener entry too long");
            return false;
        }
        if (entry[0] == '\0') {
            why_set(why, whylen, "empty listener entry");
            return false;
        }
        if (*n == CONFIG_MAX_LISTENERS) {
            why_set(why, whylen, "more than %d listeners", CONFIG_MAX_LISTENERS);
            return false;
        }
        if (!listener_parse_one(entry, &out[*n], why, whylen))
            return false;
        (*n)++;
        if (comma == NULL)
            break;
        s = comma + 1;
    }
    return listeners_unique(out, *n, bound, why, whylen);
}

bool check_listeners(char *value, char *why, size_t whylen)
{
    struct config_listener tmp[CONFIG_MAX_LISTENERS];
    int n;

    return listeners_parse(value, tmp, &n, true, why, whylen);
}

bool check_advertised(char *value, char *why, size_t whylen)
{
    struct config_listener tmp[CONFIG_MAX_LISTENERS];
    int n;

    if (!listeners_parse(value, tmp, &n, false, why, whylen))
        return false;
    for (int i = 0; i < n; i++) {
        if (strcmp(tmp[i].host, "0.0.0.0") == 0 || strcmp(tmp[i].host, "::") == 0) {
            why_set(why, whylen, "cannot advertise the wildcard address '%s' (listener '%s')",
                    tmp[i].host, tmp[i].name);
            return false;
        }
    }
    return true;
}

/* ---- listener.security.protocol.map ---- */


static bool is_security_protocol(const char *s)
{
    static const char *const protos[] = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"};

    for (size_t i = 0; i < ARRAY_LEN(protos); i++) {
        if (strcmp(s, protos[i]) == 0)
            return true;
    }
    return false;
}

/* Adds the trimmed, upper-cased "NAME:PROTO" entry to map. */
static bool protocol_map_add(struct protocol_map *map, const char *s, size_t len, char *why,
                             size_t whylen)
{
    char entry[128], *colon;

    if (!copy_trimmed(s, len, entry, sizeof(entry)) || map->n == CONFIG_MAX_MAP) {
        why_set(why, whylen, "entry too long or too many entries");
        return false;
    }
    str_upper(entry);
    colon = strchr(entry, ':');
    if (colon == NULL) {
        why_set(why, whylen, "'%s' is not NAME:PROTOCOL", entry);
        return false;
    }
    *colon = '\0';
    if (!copy_trimmed(entry, strlen(entry), map->name[map->n], 32) ||
        !is_listener_name(map->name[map->n])) {
        why_set(why, whylen, "bad listener name '%s'", entry);
        return false;
    }
    if (!copy_trimmed(colon + 1, strlen(colon + 1), map->proto[map->n], 32) ||
        !is_security_protocol(map->proto[map->n])) {
        why_set(why, whylen,
                "unknown security protocol '%s' (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL)",
                colon + 1);
        return false;
    }
    for (int i = 0; i < map->n; i++) {
        if (strcmp(map->name[i], map->name[map->n]) == 0) {
            why_set(why, whylen, "listener name '%s' is mapped twice", map->name[i]);
            return false;
        }
    }
    map->n++;
    return true;
}

bool protocol_map_parse(const char *s, struct protocol_map *map, char *why, size_t whylen)
{
    map->n = 0;
    for (;;) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);

        if (!protocol_map_add(map, s, len, why, whylen))
            return false;
        if (comma == NULL)
            return true;
        s = comma + 1;
    }
}

const char *protocol_map_find(const struct protocol_map *map, const char *name)
{
    for (int i = 0; i < map->n; i++) {
        if (strcmp(map->name[i], name) == 0)
            return map->proto[i];
    }
    return NULL;
}

bool check_protocol_map(char *value, char *why, size_t whylen)
{
    struct protocol_map map;

    return protocol_map_parse(value, &map, why, whylen);
}

bool check_listener_name(char *value, char *why, size_t whylen)
{
    if (!is_listener_name(value)) {
        why_set(why, whylen, "not a listener name (1-31 of A-Z 0-9 _ -)");
        return false;
    }
    str_upper(value);
    return true;
}

/* ---- max.connections.per.ip.overrides ---- */

/*
 * Parses "host:count,host:count" (Kafka's syntax: each entry splits at its
 * last ':', so an IPv6 address needs no brackets; brackets are accepted
 * too). host is an IPv4/IPv6 address or a host name; count is 0..INT32_MAX.
 * out may be NULL (check only).
 */
bool ip_overrides_parse(const char *s, struct config_ip_override *out, int *n, char *why,
                        size_t whylen)
{
    char entry[320];

    *n = 0;
    for (;;) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);

        if (!copy_trimmed(s, len, entry, sizeof(entry)) || entry[0] == '\0') {
            why_set(why, whylen, "empty or too long entry (expected host:count,...)");
            return false;
        }
        if (*n == CONFIG_MAX_IP_OVERRIDES) {
            why_set(why, whylen, "more than %d entries", CONFIG_MAX_IP_OVERRIDES);
            return false;
        }
        char *colon = strrchr(entry, ':');
        char *end = NULL;
        if (colon == NULL || colon == entry) {
            why_set(why, whylen, "'%s' is not host:count", entry);
            return false;
        }
        *colon = '\0';
        errno = 0;
        long long count = strtoll(colon + 1, &end, 10);
        if (colon[1] == '\0' || *end != '\0' || errno != 0 || count < 0 || count > INT32_MAX) {
            why_set(why, whylen, "count '%s' for '%s' is not a number in 0..%d", colon + 1, entry,
                    INT32_MAX);
            return false;
        }
        char *host = entry;
        size_t hl = strlen(host);
        if (hl >= sizeof(out->host)) {
            why_set(why, whylen, "host name too long");
            return false;
        }
        if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
            host[hl - 1] = '\0';
            host++;
        }
        if (!is_plain_host(host) && !is_ipv6_host(host)) {
            why_set(why, whylen, "'%s' is not a host name or address", host);
            return false;
        }
        if (out != NULL) {
            snprintf(out[*n].host, sizeof(out[*n].host), "%.255s", host);
            out[*n].count = (int32_t)count;
        }
        (*n)++;
        if (comma == NULL)
            return true;
        s = comma + 1;
    }
}

bool check_ip_overrides(char *value, char *why, size_t whylen)
{
    int n;

    return ip_overrides_parse(value, NULL, &n, why, whylen);
}
