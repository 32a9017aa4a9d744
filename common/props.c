/*
 * common/props.c — Java-properties parser (syntax in props.h).
 *
 * Two passes per entry: the reader splits the text into natural lines
 * (ended by \n, \r or \r\n) and joins continued lines into one logical
 * line in a scratch buffer; props_entry_parse() then splits the logical
 * line into key and value and resolves escapes. Escapes never grow text
 * (the longest, a surrogate pair \uXXXX\uXXXX, is 12 bytes in and 4 out),
 * so an unescaped string fits in the logical line's length plus one.
 *
 * Threads: none of its own; every function works on caller-owned memory.
 */
#include "common/props.h"
#include "common/vec.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A file larger than this is surely not a properties file. */
#define PROPS_MAX_FILE_BYTES (16u << 20)

/* Walks text natural line by natural line. */
struct props_reader {
    const char *p;   /* next unread byte */
    const char *end; /* one past the last byte */
    int line;        /* number of the line last returned (1-based) */
};

/* A growable byte buffer for the logical line being assembled. */
struct props_line {
    char *buf;
    size_t len;
    size_t cap;
};

static void props_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void props_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static bool props_is_blank(char c) { return c == ' ' || c == '\t' || c == '\f'; }

void props_init(struct props *props)
{
    props->entry = NULL;
    props->n = 0;
    props->cap = 0;
}

void props_destroy(struct props *props)
{
    for (size_t i = 0; i < props->n; i++) {
        free(props->entry[i].key);
        free(props->entry[i].value);
    }
    free(props->entry);
    props_init(props);
}

const char *props_get(const struct props *props, const char *key)
{
    for (size_t i = props->n; i > 0; i--) {
        if (strcmp(props->entry[i - 1].key, key) == 0)
            return props->entry[i - 1].value;
    }
    return NULL;
}

/* Returns the next natural line (without its terminator) in *s and *n, or false
 * at the end of the text. */
static bool props_reader_next(struct props_reader *rd, const char **s, size_t *n)
{
    const char *q;

    if (rd->p >= rd->end)
        return false;
    q = rd->p;
    while (q < rd->end && *q != '\n' && *q != '\r')
        q++;
    *s = rd->p;
    *n = (size_t)(q - rd->p);
    if (q < rd->end && *q == '\r') {
        q++;
        if (q < rd->end && *q == '\n')
            q++;
    } else if (q < rd->end) {
        q++; /* '\n' */
    }
    rd->p = q;
    rd->line++;
    return true;
}

static kerr_t props_line_append(struct props_line *ln, const char *s, size_t n)
{
    if (!VEC_RESERVE_AT(ln->buf, ln->cap, ln->len + n + 1))
        return KERR__NOMEM;
    memcpy(ln->buf + ln->len, s, n);
    ln->len += n;
    ln->buf[ln->len] = '\0';
    return KERR_NONE;
}

/* True if s[0..n) ends in an odd number of backslashes (a continuation). */
static bool props_continues(const char *s, size_t n)
{
    size_t k = 0;

    while (k < n && s[n - 1 - k] == '\\')
        k++;
    return (k & 1) != 0;
}

/* Reads 4 hex digits at s[0..n); returns the value or -1. */
static long props_hex4(const char *s, size_t n)
{
    long v = 0;

    if (n < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int d;

        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Writes code point cp as UTF-8 at out; returns the byte count. */
static size_t props_utf8(unsigned long cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/*
 * Decodes the \u escape whose 'u' is at s[*i] (so s[*i+1..] are the hex
 * digits), combining a surrogate pair. Appends UTF-8 at out[*o]. Returns
 * false on a malformed escape, a lone surrogate or \u0000.
 */
static bool props_unescape_u(const char *s, size_t n, size_t *i, char *out, size_t *o)
{
    long hi = props_hex4(s + *i + 1, n - *i - 1);
    unsigned long cp;

    if (hi <= 0)
        return false;
    *i += 5;
    cp = (unsigned long)hi;
    if (hi >= 0xdc00 && hi <= 0xdfff)
        return false;
    if (hi >= 0xd800 && hi <= 0xdbff) {
        long lo;

        if (n - *i < 6 || s[*i] != '\\' || s[*i + 1] != 'u')
            return false;
        lo = props_hex4(s + *i + 2, n - *i - 2);
        if (lo < 0xdc00 || lo > 0xdfff)
            return false;
        *i += 6;
        cp = 0x10000 + (((unsigned long)hi - 0xd800) << 10) + ((unsigned long)lo - 0xdc00);
    }
    *o += props_utf8(cp, out + *o);
    return true;
}

/*
 * Unescapes the backslash sequence at s[*i] (s[*i] == '\\') into out[*o],
 * advancing both. Returns false on a malformed \u escape.
 */
static bool props_unescape(const char *s, size_t n, size_t *i, char *out, size_t *o)
{
    char c;

    (*i)++;
    if (*i >= n)
        return true; /* a lone trailing backslash stands for nothing */
    c = s[*i];
    if (c == 'u')
        return props_unescape_u(s, n, i, out, o);
    switch (c) {
    case 't':
        c = '\t';
        break;
    case 'n':
        c = '\n';
        break;
    case 'r':
        c = '\r';
        break;
    case 'f':
        c = '\f';
        break;
    default:
        break;
    }
    out[(*o)++] = c;
    (*i)++;
    return true;
}

/* Appends (key, value) to props, taking both strings (freed on failure). */
static kerr_t props_add(struct props *props, char *key, char *value, int line)
{
    if (!VEC_RESERVE_AT(props->entry, props->cap, props->n + 1)) {
        free(key);
        free(value);
        return KERR__NOMEM;
    }
    props->entry[props->n].key = key;
    props->entry[props->n].value = value;
    props->entry[props->n].line = line;
    props->n++;
    return KERR_NONE;
}

/*
 * Splits the logical line s[0..n) (leading blanks already removed, not a
 * comment) into key and value and appends them to props.
 */
static kerr_t props_entry_parse(struct props *props, const char *s, size_t n, int line, char *err,
                                size_t errlen)
{
    char *key = malloc(n + 1), *value = malloc(n + 1);
    size_t i = 0, klen = 0, vlen = 0, vkeep = 0;
    bool sep = false;

    if (key == NULL || value == NULL)
        goto out_nomem;
    while (i < n && s[i] != '=' && s[i] != ':' && !props_is_blank(s[i])) {
        if (s[i] != '\\')
            key[klen++] = s[i++];
        else if (!props_unescape(s, n, &i, key, &klen))
            goto out_bad_escape;
    }
    key[klen] = '\0';
    while (i < n && props_is_blank(s[i]))
        i++;
    if (i < n && (s[i] == '=' || s[i] == ':')) {
        sep = true;
        i++;
    }
    while (i < n && props_is_blank(s[i]))
        i++;
    if (klen == 0) {
        props_err(err, errlen, "line %d: empty key", line);
        goto out_invalid;
    }
    if (!sep && i == n) {
        props_err(err, errlen, "line %d: missing '=' after key '%s'", line, key);
        goto out_invalid;
    }
    while (i < n) {
        if (s[i] != '\\') {
            value[vlen++] = s[i];
            if (!props_is_blank(s[i++]))
                vkeep = vlen;
        } else if (!props_unescape(s, n, &i, value, &vlen)) {
            goto out_bad_escape;
        } else {
            vkeep = vlen; /* an escaped blank is kept */
        }
    }
    value[vkeep] = '\0';
    return props_add(props, key, value, line);

out_bad_escape:
    props_err(err, errlen, "line %d: malformed \\uXXXX escape", line);
out_invalid:
    free(key);
    free(value);
    return KERR__INVALID;
out_nomem:
    free(key);
    free(value);
    props_err(err, errlen, "line %d: out of memory", line);
    return KERR__NOMEM;
}

/* Joins the natural line s[0..n) and its continuations into ln. */
static kerr_t props_join(struct props_reader *rd, struct props_line *ln, const char *s, size_t n)
{
    kerr_t rc;

    ln->len = 0;
    for (;;) {
        bool cont = props_continues(s, n);

        rc = props_line_append(ln, s, cont ? n - 1 : n);
        if (rc != KERR_NONE || !cont || !props_reader_next(rd, &s, &n))
            return rc;
        while (n > 0 && props_is_blank(*s)) {
            s++;
            n--;
        }
    }
}

kerr_t props_parse(struct props *props, const char *text, size_t len, char *err, size_t errlen)
{
    struct props_reader rd = {.p = text, .end = text + len, .line = 0};
    struct props_line ln = {NULL, 0, 0};
    const char *s;
    size_t n;
    kerr_t rc = KERR_NONE;

    while (rc == KERR_NONE && props_reader_next(&rd, &s, &n)) {
        int first = rd.line;

        while (n > 0 && props_is_blank(*s)) {
            s++;
            n--;
        }
        if (n == 0 || *s == '#' || *s == '!')
            continue;
        rc = props_join(&rd, &ln, s, n);
        if (rc == KERR__NOMEM)
            props_err(err, errlen, "line %d: out of memory", first);
        else if (rc == KERR_NONE && memchr(ln.buf, '\0', ln.len) != NULL) {
            props_err(err, errlen, "line %d: NUL character in entry", first);
            rc = KERR__INVALID;
        } else if (rc == KERR_NONE)
            rc = props_entry_parse(props, ln.buf, ln.len, first, err, errlen);
    }
    free(ln.buf);
    return rc;
}

/* Reads the whole file at path into a new NUL-terminated buffer. */
static kerr_t props_read_file(const char *path, char **out, size_t *outlen, char *err,
                              size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;

    if (f == NULL)
        goto out_errno;
    for (;;) {
        size_t got;

        if (len + 4096 + 1 > cap) {
            char *nb;

            cap = cap ? cap * 2 : 8192;
            if (cap > PROPS_MAX_FILE_BYTES + 8192) {
                props_err(err, errlen, "%s: file too large", path);
                goto out_fail;
            }
            nb = realloc(buf, cap);
            if (nb == NULL) {
                props_err(err, errlen, "%s: out of memory", path);
                free(buf);
                fclose(f);
                return KERR__NOMEM;
            }
            buf = nb;
        }
        got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(f))
        goto out_errno;
    fclose(f);
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    return KERR_NONE;

out_errno:
    props_err(err, errlen, "%s: %s", path, strerror(errno));
out_fail:
    free(buf);
    if (f != NULL)
        fclose(f);
    return KERR__IO;
}

kerr_t props_load_file(struct props *props, const char *path, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    char why[512];
    kerr_t rc;

    rc = props_read_file(path, &text, &len, err, errlen);
    if (rc != KERR_NONE)
        return rc;
    why[0] = '\0';
    rc = props_parse(props, text, len, why, sizeof(why));
    if (rc != KERR_NONE)
        props_err(err, errlen, "%s: %s", path, why);
    free(text);
    return rc;
}
