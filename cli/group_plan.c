/*
 * cli/group_plan.c — ISO-8601 parsing, the reset plan, the undo file and
 * JSON string output of the `gregor group` commands (see group_plan.h for
 * the formats). Pure code: no I/O besides the FILE handed in.
 */
#include "cli/group_plan.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- ISO-8601 ------------------------------------------------------------ */

/* Reads exactly `n` digits at *p into *v, advancing *p. */
static bool gp_digits(const char **p, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return false;
        x = x * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *v = x;
    return true;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t gp_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int gp_month_days(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* Reads an optional fraction ".fff..." (or ",fff") as milliseconds. */
static bool gp_fraction_ms(const char **p, int *ms)
{
    *ms = 0;
    if (**p != '.' && **p != ',')
        return true;
    (*p)++;
    if (!isdigit((unsigned char)**p))
        return false;
    int scale = 100;
    while (isdigit((unsigned char)**p)) {
        *ms += (**p - '0') * scale;
        scale /= 10;
        (*p)++;
    }
    return true;
}

/* Reads the zone suffix at p (Z, ±HH, ±HH:MM, ±HHMM or nothing) as an
 * offset east of UTC in minutes; false if anything else follows. */
static bool gp_zone(const char *p, int *minutes)
{
    int h = 0, m = 0;
    *minutes = 0;
    if (*p == '\0')
        return true;
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
        return true;
    if (*p != '+' && *p != '-')
        return false;
    int sign = *p == '-' ? -1 : 1;
    p++;
    if (!gp_digits(&p, 2, &h))
        return false;
    if (*p == ':')
        p++;
    if (*p != '\0' && !gp_digits(&p, 2, &m))
        return false;
    if (*p != '\0' || h > 23 || m > 59)
        return false;
    *minutes = sign * (h * 60 + m);
    return true;
}

bool gp_parse_datetime(const char *s, int64_t *ms)
{
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, zone = 0;
    if (!gp_digits(&p, 4, &y) || *p++ != '-' || !gp_digits(&p, 2, &mo) || *p++ != '-' ||
        !gp_digits(&p, 2, &d))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > gp_month_days(y, mo))
        return false;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (!gp_digits(&p, 2, &h) || *p++ != ':' || !gp_digits(&p, 2, &mi))
            return false;
        if (*p == ':') {
            p++;
            if (!gp_digits(&p, 2, &sec) || !gp_fraction_ms(&p, &frac))
                return false;
        }
        if (h > 23 || mi > 59 || sec > 59)
            return false;
    }
    if (!gp_zone(p, &zone))
        return false;
    int64_t secs = gp_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - zone * 60;
    *ms = secs * 1000 + frac;
    return true;
}

bool gp_parse_duration(const char *s, int64_t *ms)
{
    /* Unit letters in the order they must appear, with their length. */
    static const struct {
        char unit;
        bool time; /* after the 'T' */
        int64_t ms;
    } units[] = {
        {'W', false, 7 * 86400000LL}, {'D', false, 86400000LL}, {'H', true, 3600000LL},
        {'M', true, 60000LL},         {'S', true, 1000LL},
    };
    const char *p = s;
    size_t next = 0; /* first unit still allowed */
    bool in_time = false, any = false;
    int64_t total = 0;

    if (toupper((unsigned char)*p++) != 'P')
        return false;
    while (*p) {
        if (toupper((unsigned char)*p) == 'T') {
            if (in_time)
                return false;
            in_time = true;
            p++;
            if (*p == '\0')
                return false; /* "PT" alone, or a trailing T */
            continue;
        }
        if (!isdigit((unsigned char)*p))
            return false;
        int64_t v = 0;
        while (isdigit((unsigned char)*p)) {
            if (v > (INT64_MAX - 9) / 10)
                return false;
            v = v * 10 + (*p++ - '0');
        }
        int frac = 0;
        bool has_frac = *p == '.' || *p == ',';
        if (has_frac && !gp_fraction_ms(&p, &frac))
            return false;
        char u = (char)toupper((unsigned char)*p++);
        size_t i = next;
        while (i < sizeof(units) / sizeof(units[0]) && units[i].unit != u)
            i++;
        /* Unknown or out-of-order unit, a time unit before 'T' (M would be
         * months there), or a date unit after it. */
        if (i == sizeof(units) / sizeof(units[0]) || units[i].time != in_time)
            return false;
        if (has_frac && u != 'S')
            return false;
        if (v > (INT64_MAX / 2) / units[i].ms)
            return false;
        total += v * units[i].ms + frac;
        if (total > INT64_MAX / 2)
            return false;
        next = i + 1;
        any = true;
    }
    if (!any)
        return false;
    *ms = total;
    return true;
}

/* ---- the plan ------------------------------------------------------------ */

static int64_t gp_clamp(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

void gp_plan(enum gp_mode mode, int64_t arg, struct gp_part *parts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct gp_part *p = &parts[i];
        int64_t v;
        switch (mode) {
        case GP_EARLIEST:
            v = p->start;
            break;
        case GP_LATEST:
            v = p->end;
            break;
        case GP_OFFSET:
            v = arg;
            break;
        case GP_DATETIME:
        case GP_DURATION:
            v = p->by_time >= 0 ? p->by_time : p->end;
            break;
        case GP_SHIFT: {
            int64_t base = p->current >= 0 ? p->current : p->end;
            /* Saturating add: the clamp below handles the rest. */
            if (arg > 0 && base > INT64_MAX - arg)
                v = INT64_MAX;
            else if (arg < 0 && base < INT64_MIN - arg)
                v = INT64_MIN;
            else
                v = base + arg;
            break;
        }
        case GP_FILE:
            if (p->target < 0) {
                p->new_offset = -1;
                continue;
            }
            v = p->target;
            break;
        default:
            v = p->current;
            break;
        }
        p->new_offset = gp_clamp(v, p->start, p->end);
    }
}

/* ---- JSON ---------------------------------------------------------------- */

void gp_json_str(FILE *f, const char *s)
{
    if (s == NULL) {
        fputs("null", f);
        return;
    }
    putc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                putc(*p, f);
        }
    }
    putc('"', f);
}

bool gp_undo_write(FILE *f, const char *group, int64_t created_ms, const struct gp_part *parts,
                   size_t n)
{
    fputs("{\"group\": ", f);
    gp_json_str(f, group);
    fprintf(f, ", \"created_ms\": %" PRId64 ",\n \"offsets\": [", created_ms);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ",\n  {\"topic\": " : "\n  {\"topic\": ", f);
        gp_json_str(f, parts[i].topic);
        fprintf(f, ", \"partition\": %" PRId32 ", \"offset\": ", parts[i].partition);
        if (parts[i].current >= 0)
            fprintf(f, "%" PRId64 "}", parts[i].current);
        else
            fputs("null}", f);
    }
    fputs("]}\n", f);
    return !ferror(f);
}

/* A cursor over the undo file's text; err set on the first failure. */
struct gp_rd {
    const char *p;
    char *err;
    size_t errlen;
    bool failed;
};

static bool gp_rd_fail(struct gp_rd *r, const char *what)
{
    if (!r->failed)
        snprintf(r->err, r->errlen, "%s", what);
    r->failed = true;
    return false;
}

static void gp_rd_ws(struct gp_rd *r)
{
    while (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')
        r->p++;
}

static bool gp_rd_char(struct gp_rd *r, char c)
{
    gp_rd_ws(r);
    if (*r->p != c) {
        char what[64];
        snprintf(what, sizeof(what), "expected '%c'", c);
        return gp_rd_fail(r, what);
    }
    r->p++;
    return true;
}

/* Reads a JSON string into a new NUL-terminated buffer (\u escapes of
 * code points below 0x80 only; the writer produces no others). */
static char *gp_rd_str(struct gp_rd *r)
{
    if (!gp_rd_char(r, '"'))
        return NULL;
    size_t cap = strlen(r->p) + 1, n = 0;
    char *out = malloc(cap);
    if (out == NULL)
        return gp_rd_fail(r, "out of memory"), NULL;
    while (*r->p != '"') {
        char c = *r->p++;
        if (c == '\0' || (unsigned char)c < 0x20)
            goto bad;
        if (c == '\\') {
            c = *r->p++;
            switch (c) {
            case '"':
            case '\\':
            case '/':
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
                unsigned v = 0;
                for (int i = 0; i < 4; i++) {
                    char h = *r->p++;
                    if (!isxdigit((unsigned char)h))
                        goto bad;
                    v = v * 16 +
                        (unsigned)(isdigit((unsigned char)h) ? h - '0' : (tolower(h) - 'a' + 10));
                }
                if (v == 0 || v >= 0x80)
                    goto bad;
                c = (char)v;
                break;
            }
            default:
                goto bad;
            }
        }
        out[n++] = c;
    }
    r->p++;
    out[n] = '\0';
    return out;
bad:
    free(out);
    gp_rd_fail(r, "bad string");
    return NULL;
}

/* Reads an integer or null (*is_null). */
static bool gp_rd_int(struct gp_rd *r, int64_t *v, bool *is_null)
{
    gp_rd_ws(r);
    *is_null = false;
    if (strncmp(r->p, "null", 4) == 0) {
        r->p += 4;
        *is_null = true;
        return true;
    }
    char *end = NULL;
    if (*r->p != '-' && !isdigit((unsigned char)*r->p))
        return gp_rd_fail(r, "expected a number");
    long long x = strtoll(r->p, &end, 10);
    if (end == r->p || *end == '.' || *end == 'e' || *end == 'E')
        return gp_rd_fail(r, "expected an integer");
    r->p = end;
    *v = x;
    return true;
}

/* Skips a scalar value of an unknown member. */
static bool gp_rd_skip(struct gp_rd *r)
{
    gp_rd_ws(r);
    if (*r->p == '"') {
        free(gp_rd_str(r));
        return !r->failed;
    }
    if (strncmp(r->p, "true", 4) == 0 || strncmp(r->p, "null", 4) == 0) {
        r->p += 4;
        return true;
    }
    if (strncmp(r->p, "false", 5) == 0) {
        r->p += 5;
        return true;
    }
    if (*r->p == '-' || isdigit((unsigned char)*r->p)) {
        strtod(r->p, (char **)&r->p);
        return true;
    }
    return gp_rd_fail(r, "unsupported value");
}

/* Reads one element of "offsets" into p. */
static bool gp_rd_entry(struct gp_rd *r, struct gp_part *p)
{
    bool have_p = false, have_o = false, is_null = false;
    int64_t v = 0;
    memset(p, 0, sizeof(*p));
    if (!gp_rd_char(r, '{'))
        return false;
    gp_rd_ws(r);
    while (!r->failed && *r->p != '}') {
        char *key = gp_rd_str(r);
        if (key == NULL || !gp_rd_char(r, ':')) {
            free(key);
            return false;
        }
        if (strcmp(key, "topic") == 0) {
            free(p->topic);
            p->topic = gp_rd_str(r);
        } else if (strcmp(key, "partition") == 0) {
            if (gp_rd_int(r, &v, &is_null) && (is_null || v < 0 || v > INT32_MAX))
                gp_rd_fail(r, "bad partition");
            p->partition = (int32_t)v;
            have_p = true;
        } else if (strcmp(key, "offset") == 0) {
            if (gp_rd_int(r, &v, &is_null) && !is_null && v < 0)
                gp_rd_fail(r, "negative offset");
            p->target = is_null ? -1 : v;
            have_o = true;
        } else {
            gp_rd_skip(r);
        }
        free(key);
        gp_rd_ws(r);
        if (*r->p == ',')
            r->p++, gp_rd_ws(r);
        else if (*r->p != '}')
            gp_rd_fail(r, "expected ',' or '}'");
    }
    if (!r->failed && (p->topic == NULL || !have_p || !have_o))
        gp_rd_fail(r, "an offsets entry lacks topic, partition or offset");
    return !r->failed && gp_rd_char(r, '}');
}

static bool gp_rd_offsets(struct gp_rd *r, struct gp_undo *u)
{
    if (!gp_rd_char(r, '['))
        return false;
    gp_rd_ws(r);
    while (!r->failed && *r->p != ']') {
        struct gp_part *np = realloc(u->parts, (u->n + 1) * sizeof(*np));
        if (np == NULL)
            return gp_rd_fail(r, "out of memory");
        u->parts = np;
        bool ok = gp_rd_entry(r, &u->parts[u->n]);
        u->n++; /* counted either way so gp_undo_free() frees its topic */
        if (!ok)
            return false;
        gp_rd_ws(r);
        if (*r->p == ',')
            r->p++, gp_rd_ws(r);
        else if (*r->p != ']')
            return gp_rd_fail(r, "expected ',' or ']'");
    }
    return gp_rd_char(r, ']');
}

bool gp_undo_parse(const char *text, struct gp_undo *u, char *err, size_t errlen)
{
    struct gp_rd r = {.p = text, .err = err, .errlen = errlen};
    bool have_offsets = false;
    memset(u, 0, sizeof(*u));
    if (gp_rd_char(&r, '{')) {
        gp_rd_ws(&r);
        while (!r.failed && *r.p != '}') {
            char *key = gp_rd_str(&r);
            if (key == NULL || !gp_rd_char(&r, ':')) {
                free(key);
                break;
            }
            bool is_null;
            if (strcmp(key, "group") == 0) {
                free(u->group);
                u->group = gp_rd_str(&r);
            } else if (strcmp(key, "created_ms") == 0) {
                gp_rd_int(&r, &u->created_ms, &is_null);
            } else if (strcmp(key, "offsets") == 0) {
                have_offsets = gp_rd_offsets(&r, u);
            } else {
                gp_rd_skip(&r);
            }
            free(key);
            gp_rd_ws(&r);
            if (*r.p == ',')
                r.p++, gp_rd_ws(&r);
            else if (*r.p != '}')
                gp_rd_fail(&r, "expected ',' or '}'");
        }
        if (!r.failed && gp_rd_char(&r, '}')) {
            gp_rd_ws(&r);
            if (*r.p != '\0')
                gp_rd_fail(&r, "text after the document");
        }
    }
    if (!r.failed && (u->group == NULL || !have_offsets))
        gp_rd_fail(&r, "missing \"group\" or \"offsets\"");
    if (r.failed) {
        gp_undo_free(u);
        return false;
    }
    return true;
}

void gp_undo_free(struct gp_undo *u)
{
    for (size_t i = 0; i < u->n; i++)
        free(u->parts[i].topic);
    free(u->parts);
    free(u->group);
    memset(u, 0, sizeof(*u));
}
