/*
 * tests/unit/common/test_say.c — the rate-limited log lines of common/say.h:
 * one line per interval per call site, a count of the dropped ones on the
 * next printed line, and exactness when many threads hit one site.
 */
#include "common/say.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Redirects the log into a temp file; returns its fd. */
static int log_to_tmp(void)
{
    char path[] = "/tmp/gregor-test-say-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    unlink(path);
    say_setup(SAY_INFO, fd);
    return fd;
}

/* Returns new: everything written to fd so far. */
static char *slurp(int fd)
{
    off_t len = lseek(fd, 0, SEEK_END);
    char *s = calloc(1, (size_t)len + 1);
    cr_assert(s);
    cr_assert_eq(pread(fd, s, (size_t)len, 0), len);
    return s;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void warn_site(int i) { say_warn_every(200, "test", "refused n=%d", i); }

Test(say, one_line_per_interval_then_the_suppressed_count)
{
    int fd = log_to_tmp();
    for (int i = 0; i < 1000; i++)
        warn_site(i);
    char *s = slurp(fd);
    cr_assert_eq(count_lines(s), 1, "got:\n%s", s);
    cr_assert(strstr(s, "WARN test refused n=0\n"), "got:\n%s", s);
    free(s);
    sleep_ms(250);
    warn_site(1000);
    s = slurp(fd);
    cr_assert_eq(count_lines(s), 2, "got:\n%s", s);
    cr_assert(strstr(s, "refused n=1000 (999 similar suppressed)\n"), "got:\n%s", s);
    free(s);
    sleep_ms(250);
    warn_site(1001); /* nothing dropped since: no suffix */
    s = slurp(fd);
    cr_assert(strstr(s, "refused n=1001\n"), "got:\n%s", s);
    free(s);
    close(fd);
}

Test(say, call_sites_are_limited_separately)
{
    int fd = log_to_tmp();
    for (int i = 0; i < 10; i++) {
        say_warn_every(10000, "test", "site a");
        say_warn_every(10000, "test", "site b");
    }
    char *s = slurp(fd);
    cr_assert_eq(count_lines(s), 2, "got:\n%s", s);
    free(s);
    close(fd);
}

static struct say_every shared_site;

static void *hammer(void *arg)
{
    for (int i = 0; i < 10000; i++)
        say_every_log(&shared_site, SAY_WARN, 100000, "test", "hammer");
    return arg;
}

Test(say, threads_share_a_site_without_losing_counts)
{
    int fd = log_to_tmp();
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, hammer, NULL), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    char *s = slurp(fd);
    cr_assert_eq(count_lines(s), 1, "got:\n%s", s);
    free(s);
    cr_assert_eq(atomic_load(&shared_site.suppressed), 4 * 10000 - 1);
    close(fd);
}

Test(say, level_off_prints_nothing)
{
    int fd = log_to_tmp();
    say_setup(SAY_ERROR, fd);
    for (int i = 0; i < 5; i++)
        say_warn_every(1, "test", "hidden");
    char *s = slurp(fd);
    cr_assert_eq(s[0], '\0', "got:\n%s", s);
    free(s);
    close(fd);
}
