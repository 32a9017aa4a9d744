/*
 * broker/security/jaas.h — Kafka's JAAS configuration text
 * (sasl.jaas.config), as far as Gregor reads it:
 *
 *   <LoginModule class> <required|requisite|sufficient|optional>
 *       key=value key="quoted value" ... ;
 *
 * Values are unquoted tokens (no blanks, ';' or '"') or double-quoted
 * strings in which \" and \\ escape. Exactly one login module; the ';'
 * ends it and only blanks may follow. Keys are Java identifiers with
 * '.', '-' and '_' allowed. For PLAIN the options are username/password (the
 * broker's own credentials) and user_<name>=<password> (the accounts).
 *
 * Threads: a struct jaas_config is immutable after jaas_parse().
 */
#ifndef GREGOR_BROKER_SECURITY_JAAS_H
#define GREGOR_BROKER_SECURITY_JAAS_H

#include <stdbool.h>
#include <stddef.h>

struct jaas_option {
    char *key;   /* owned */
    char *value; /* owned */
};

struct jaas_config {
    char module[256];        /* the login module class */
    char flag[16];           /* required, ... */
    struct jaas_option *opt; /* owned, n entries */
    int n;
};

/* Parses text; false with the reason in err (no secret is quoted in it).
 * out is freed with jaas_free() either way. */
bool jaas_parse(const char *text, struct jaas_config *out, char *err, size_t errlen);
/* The value of key, or NULL. */
const char *jaas_get(const struct jaas_config *c, const char *key);
void jaas_free(struct jaas_config *c);

#endif
