/*
 * common/say.c — the log sink. Each line is formatted into a stack buffer
 * and written with a single write(2), so lines from different threads never
 * interleave. Format: ISO-8601 UTC time, level, facility, message.
 * say_every_log() rate-limits one call site: a compare-and-swap on the
 * site's next-allowed time picks the single thread that prints; the others
 * count themselves as suppressed.
 */
#include "common/say.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

int say_level_current = SAY_INFO;
static int say_fd = 2;

static const char *const say_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void say_setup(enum say_level level, int fd)
{
    say_level_current = level;
    say_fd = fd;
}

bool say_level_parse(const char *s, enum say_level *out)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *out = (enum say_level)i;
            return true;
        }
    }
    return false;
}

__attribute__((format(printf, 4, 0))) static void
say_vlog(enum say_level level, const char *fac, const char *suffix, const char *fmt, va_list ap)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, say_names[level], fac);
    if (n < 0)
        return;
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    if (m < 0)
        return;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    if (suffix) {
        int k = snprintf(line + len, sizeof(line) - len - 1, "%s", suffix);
        if (k > 0)
            len += (size_t)k;
        if (len > sizeof(line) - 2)
            len = sizeof(line) - 2;
    }
    line[len++] = '\n';
    ssize_t w = write(say_fd, line, len);
    (void)w;
}

void say_log(enum say_level level, const char *fac, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say_vlog(level, fac, NULL, fmt, ap);
    va_end(ap);
}

void say_syserror_impl(const char *fac, const char *fmt, ...)
{
    int e = errno;
    char suffix[160];
    char ebuf[128];
    const char *msg = strerror_r(e, ebuf, sizeof(ebuf));
    snprintf(suffix, sizeof(suffix), " errno=%d (%s)", e, msg);
    va_list ap;
    va_start(ap, fmt);
    say_vlog(SAY_ERROR, fac, suffix, fmt, ap);
    va_end(ap);
}

static long long say_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool say_every_log(struct say_every *st, enum say_level level, int interval_ms, const char *fac,
                   const char *fmt, ...)
{
    long long now = say_mono_ms();
    long long next = atomic_load(&st->next_ms);
    if (now < next || !atomic_compare_exchange_strong(&st->next_ms, &next,
                                                      now + (interval_ms > 0 ? interval_ms : 0))) {
        atomic_fetch_add(&st->suppressed, 1);
        return false;
    }
    long long dropped = atomic_exchange(&st->suppressed, 0);
    if ((int)level > say_level_current)
        return false;
    char suffix[64];
    if (dropped > 0)
        snprintf(suffix, sizeof(suffix), " (%lld similar suppressed)", dropped);
    va_list ap;
    va_start(ap, fmt);
    say_vlog(level, fac, dropped > 0 ? suffix : NULL, fmt, ap);
    va_end(ap);
    return true;
}
