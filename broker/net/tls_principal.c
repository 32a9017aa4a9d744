/*
 * broker/net/tls_principal.c — ssl.principal.mapping.rules (Kafka's
 * SslPrincipalMapper syntax):
 *
 *   rules  := rule { ("," | "\n") rule }
 *   rule   := "DEFAULT" | "RULE:" pattern "/" replacement "/" [ "L" | "U" ]
 *
 * pattern and replacement end at the first "/" not escaped by a backslash.
 * A RULE applies when its pattern matches the whole DN; the name is then
 * the replacement with $N replaced by group N (a backslash escapes the next
 * character), lower- or upper-cased with L or U. DEFAULT applies to every
 * DN and keeps it as it is. Rules are tried in order; Java regular
 * expressions are read as POSIX extended ones (glibc accepts Kafka's usual
 * lazy ".*?", which then matches greedily; the whole DN must match, so the
 * usual rules give the same groups).
 */
#include "broker/net/tls_principal.h"

#include <ctype.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TLS_RULES_MAX 32
#define TLS_RULE_GROUPS 10

struct tls_rule {
    bool is_default;
    regex_t re;
    char *replacement;
    char casing; /* 0, 'L' or 'U' */
};

struct tls_rules {
    struct tls_rule rule[TLS_RULES_MAX];
    int n;
};

static void why_fmt(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void why_fmt(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

void tls_rules_free(struct tls_rules *rules)
{
    if (!rules)
        return;
    for (int i = 0; i < rules->n; i++) {
        if (!rules->rule[i].is_default)
            regfree(&rules->rule[i].re);
        free(rules->rule[i].replacement);
    }
    free(rules);
}

/* Copies the text from *p up to an unescaped '/' into a new string, "\/"
 * unescaped (other escapes kept for the regex / replacement); *p moves past
 * the '/'. NULL if there is no closing '/'. */
static char *take_part(const char **p)
{
    const char *s = *p;
    size_t len = strlen(s);
    char *out = malloc(len + 1);
    size_t o = 0;
    if (!out)
        return NULL;
    for (; *s; s++) {
        if (*s == '\\' && s[1] == '/') {
            out[o++] = '/';
            s++;
        } else if (*s == '\\' && s[1]) {
            out[o++] = *s++;
            out[o++] = *s;
        } else if (*s == '/') {
            out[o] = '\0';
            *p = s + 1;
            return out;
        } else {
            out[o++] = *s;
        }
    }
    free(out);
    return NULL;
}

static const char *skip_blanks(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r')
        s++;
    return s;
}

struct tls_rules *tls_rules_parse(const char *text, char *why, size_t whylen)
{
    struct tls_rules *rules = calloc(1, sizeof(*rules));
    if (!rules) {
        why_fmt(why, whylen, "out of memory");
        return NULL;
    }
    const char *p = skip_blanks(text);
    while (*p) {
        if (rules->n == TLS_RULES_MAX) {
            why_fmt(why, whylen, "more than %d rules", TLS_RULES_MAX);
            goto fail;
        }
        struct tls_rule *r = &rules->rule[rules->n];
        if (strncmp(p, "DEFAULT", 7) == 0) {
            r->is_default = true;
            p += 7;
            rules->n++;
        } else if (strncmp(p, "RULE:", 5) == 0) {
            const char *start = p;
            p += 5;
            char *pattern = take_part(&p);
            char *repl = pattern ? take_part(&p) : NULL;
            if (!pattern || !repl) {
                free(pattern);
                why_fmt(why, whylen, "rule '%.60s' lacks its closing '/'", start);
                goto fail;
            }
            if (*p == 'L' || *p == 'U')
                r->casing = *p++;
            /* anchored: the whole DN must match (Java's Matcher.matches()) */
            size_t plen = strlen(pattern);
            char *anchored = malloc(plen + 5);
            if (!anchored) {
                free(pattern);
                free(repl);
                why_fmt(why, whylen, "out of memory");
                goto fail;
            }
            snprintf(anchored, plen + 5, "^(%s)$", pattern);
            int rc = regcomp(&r->re, anchored, REG_EXTENDED);
            free(anchored);
            if (rc != 0) {
                char msg[128];
                regerror(rc, &r->re, msg, sizeof(msg));
                why_fmt(why, whylen, "bad pattern '%s': %s", pattern, msg);
                free(pattern);
                free(repl);
                goto fail;
            }
            free(pattern);
            r->replacement = repl;
            rules->n++;
        } else {
            why_fmt(why, whylen, "invalid rule '%.60s' (DEFAULT or RULE:pattern/replacement/[LU])",
                    p);
            goto fail;
        }
        p = skip_blanks(p);
        if (*p == ',' || *p == '\n')
            p = skip_blanks(p + 1);
        else if (*p) {
            why_fmt(why, whylen, "unexpected text '%.60s' after a rule", p);
            goto fail;
        }
    }
    if (rules->n == 0) {
        why_fmt(why, whylen, "no rules");
        goto fail;
    }
    return rules;
fail:
    tls_rules_free(rules);
    return NULL;
}

/* Writes r's replacement for the groups m of dn into out. */
static int expand(const struct tls_rule *r, const char *dn, const regmatch_t *m, char *out,
                  size_t n)
{
    size_t o = 0;
    for (const char *s = r->replacement; *s; s++) {
        const char *piece = s;
        size_t len = 1;
        if (*s == '\\' && s[1]) {
            piece = ++s;
        } else if (*s == '$' && isdigit((unsigned char)s[1])) {
            int g = s[1] - '0' + 1; /* +1: the whole pattern is group 1 after anchoring */
            s++;
            if (g >= TLS_RULE_GROUPS + 1 || m[g].rm_so < 0) {
                len = 0;
            } else {
                piece = dn + m[g].rm_so;
                len = (size_t)(m[g].rm_eo - m[g].rm_so);
            }
        }
        if (o + len >= n)
            return 0;
        memcpy(out + o, piece, len);
        o += len;
    }
    out[o] = '\0';
    for (size_t i = 0; i < o; i++) {
        if (r->casing == 'L')
            out[i] = (char)tolower((unsigned char)out[i]);
        else if (r->casing == 'U')
            out[i] = (char)toupper((unsigned char)out[i]);
    }
    return 1;
}

int tls_rules_apply(const struct tls_rules *rules, const char *dn, char *out, size_t n)
{
    for (int i = 0; i < rules->n; i++) {
        const struct tls_rule *r = &rules->rule[i];
        if (r->is_default) {
            if (strlen(dn) >= n)
                return 0;
            memcpy(out, dn, strlen(dn) + 1);
            return 1;
        }
        regmatch_t m[TLS_RULE_GROUPS + 2];
        if (regexec(&r->re, dn, TLS_RULE_GROUPS + 2, m, 0) == 0)
            return expand(r, dn, m, out, n);
    }
    return 0;
}
