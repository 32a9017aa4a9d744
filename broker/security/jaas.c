/*
 * broker/security/jaas.c — parser of the JAAS configuration text (the
 * grammar is in jaas.h).
 */
#include "broker/security/jaas.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void skip_blank(const char **p)
{
    while (**p && isspace((unsigned char)**p))
        (*p)++;
}

static bool is_word_char(char c)
{
    return isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-' || c == '$';
}

/* Reads a word into out (size n); false if empty or too long. */
static bool read_word(const char **p, char *out, size_t n)
{
    size_t k = 0;
    while (is_word_char(**p)) {
        if (k + 1 >= n)
            return false;
        out[k++] = *(*p)++;
    }
    out[k] = '\0';
    return k > 0;
}

static bool add_opt(struct jaas_config *c, char *key, char *value)
{
    struct jaas_option *o = realloc(c->opt, sizeof(*o) * (size_t)(c->n + 1));
    if (!o)
        return false;
    c->opt = o;
    c->opt[c->n++] = (struct jaas_option){key, value};
    return true;
}

/* Reads a value: a quoted string (with \" and \\) or a bare token. Returns
 * a malloc'd copy, NULL on a syntax error (*oom set if memory ran out). */
static char *read_value(const char **p, bool *oom)
{
    const char *s = *p;
    size_t cap = strlen(s) + 1;
    char *out = malloc(cap);
    size_t k = 0;
    if (!out) {
        *oom = true;
        return NULL;
    }
    if (*s == '"') {
        s++;
        while (*s && *s != '"') {
            if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
                s++;
            out[k++] = *s++;
        }
        if (*s != '"') {
            free(out);
            return NULL;
        }
        s++;
    } else {
        while (*s && !isspace((unsigned char)*s) && *s != ';' && *s != '"' && *s != '=')
            out[k++] = *s++;
        if (k == 0) {
            free(out);
            return NULL;
        }
    }
    out[k] = '\0';
    *p = s;
    return out;
}

bool jaas_parse(const char *text, struct jaas_config *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    const char *p = text;
    skip_blank(&p);
    if (!read_word(&p, out->module, sizeof(out->module))) {
        snprintf(err, errlen, "expected a login module class name");
        return false;
    }
    skip_blank(&p);
    if (!read_word(&p, out->flag, sizeof(out->flag)) ||
        (strcmp(out->flag, "required") != 0 && strcmp(out->flag, "requisite") != 0 &&
         strcmp(out->flag, "sufficient") != 0 && strcmp(out->flag, "optional") != 0)) {
        snprintf(err, errlen,
                 "expected a control flag (required, requisite, sufficient, optional) after %s",
                 out->module);
        return false;
    }
    for (;;) {
        skip_blank(&p);
        if (*p == ';')
            break;
        if (*p == '\0') {
            snprintf(err, errlen, "missing ';' at the end of the login module options");
            return false;
        }
        char key[256];
        if (!read_word(&p, key, sizeof(key))) {
            snprintf(err, errlen, "expected an option name at offset %d", (int)(p - text));
            return false;
        }
        skip_blank(&p);
        if (*p != '=') {
            snprintf(err, errlen, "expected '=' after option %s", key);
            return false;
        }
        p++;
        skip_blank(&p);
        bool oom = false;
        char *value = read_value(&p, &oom);
        char *k = value ? strdup(key) : NULL;
        if (!value || !k || !add_opt(out, k, value)) {
            free(value);
            free(k);
            snprintf(err, errlen, oom || value ? "out of memory" : "bad value for option %s", key);
            return false;
        }
    }
    p++;
    skip_blank(&p);
    if (*p != '\0') {
        snprintf(err, errlen, "only one login module is supported: text after ';'");
        return false;
    }
    return true;
}

const char *jaas_get(const struct jaas_config *c, const char *key)
{
    for (int i = c->n - 1; i >= 0; i--)
        if (strcmp(c->opt[i].key, key) == 0)
            return c->opt[i].value;
    return NULL;
}

void jaas_free(struct jaas_config *c)
{
    for (int i = 0; i < c->n; i++) {
        free(c->opt[i].key);
        if (c->opt[i].value) {
            memset(c->opt[i].value, 0, strlen(c->opt[i].value)); /* passwords */
            free(c->opt[i].value);
        }
    }
    free(c->opt);
    memset(c, 0, sizeof(*c));
}
