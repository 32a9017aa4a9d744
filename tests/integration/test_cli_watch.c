/*
 * tests/integration/test_cli_watch.c — `gregor cluster watch --output json`
 * against three real brokers and a real ZooKeeper (docs/cli.md, "cluster
 * watch"): the watch runs as its own process while the controller broker,
 * which also leads a partition of a replicated topic, is SIGKILLed and
 * restarted; its events must show, in this order, the broker leaving, a
 * leader moving away from it, an ISR without it (flags under-replicated),
 * the broker joining again and an ISR taking it back (flags no longer
 * under-replicated), and a controller_changed event from the killed broker
 * to a live one. Every line must be one JSON object with an ISO-8601 UTC
 * time, the first the "cluster" summary, and SIGINT must end the watch
 * with status 0.
 * ZooKeeper sessions are short (zookeeper.session.timeout.ms=4000) so that
 * the kill is noticed quickly.
 */
#include "tests/harness/broker_proc.h"
#include "tests/integration/icluster.h"
#include "tests/integration/itest.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *const overrides[] = {"zookeeper.session.timeout.ms=4000",
                                        "replica.lag.time.max.ms=6000",
                                        "leader.imbalance.check.interval.seconds=3600", NULL};

static void up(void) { cr_assert(tcluster_fixture_up(3, overrides), "cluster did not start"); }

TestSuite(cli_watch, .init = up, .fini = itest_fixture_down, .timeout = 300);

static struct tcluster *cl(void) { return tcluster_fixture(); }

/* Starts `gregor -b <bootstrap> cluster watch --output json --interval 200`
 * with stdout into path; returns its pid or -1. */
static pid_t start_watch(const char *path)
{
    char cli[512];
    harness_bin_path("gregor", cli, sizeof(cli));
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlives a crashed test */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        _exit(127);
    dup2(fd, 1);
    execl(cli, cli, "-b", cl()->bootstrap, "cluster", "watch", "--output", "json", "--interval",
          "200", (char *)NULL);
    _exit(127);
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n < 1024) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

/* True when the line's JSON list `"key": [...]` holds id. */
static bool list_has(const char *line, const char *key, int id)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\": [", key);
    const char *p = strstr(line, pat);
    if (!p)
        return false;
    p += strlen(pat);
    while (*p && *p != ']') {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p)
            return false;
        if (v == id)
            return true;
        p = end;
        while (*p == ',' || *p == ' ')
            p++;
    }
    return false;
}

static bool int_is(const char *line, const char *key, int v)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\": %d,", key, v);
    if (strstr(line, pat))
        return true;
    snprintf(pat, sizeof(pat), "\"%s\": %d}", key, v);
    return strstr(line, pat) != NULL;
}

enum { EV_LEFT, EV_LEADER, EV_SHRANK, EV_JOINED, EV_EXPANDED, EV_N };

static const char *const ev_names[EV_N] = {"broker_left", "leader_changed", "isr_shrank",
                                           "broker_joined", "isr_expanded"};

/* Whether the line is step `ev` of the story about broker `victim` on
 * `topic`. */
static bool line_is(const char *line, int ev, int victim, const char *topic)
{
    char pat[128];
    snprintf(pat, sizeof(pat), "\"event\": \"%s\"", ev_names[ev]);
    if (!strstr(line, pat))
        return false;
    snprintf(pat, sizeof(pat), "\"topic\": \"%s\"", topic);
    switch (ev) {
    case EV_LEFT:
    case EV_JOINED:
        return int_is(line, "broker", victim);
    case EV_LEADER:
        return strstr(line, pat) && int_is(line, "previous_leader", victim);
    case EV_SHRANK:
        return strstr(line, pat) && list_has(line, "removed", victim);
    default:
        return strstr(line, pat) && list_has(line, "added", victim);
    }
}

/* Line numbers (from 1) of the first line of each step, each searched
 * after the previous step's line; 0 = not found. */
static void find_story(char *text, int victim, const char *topic, int at[EV_N])
{
    memset(at, 0, sizeof(int) * EV_N);
    int lineno = 0, step = 0;
    for (char *line = strtok(text, "\n"); line && step < EV_N; line = strtok(NULL, "\n")) {
        lineno++;
        /* leader_changed and isr_shrank of one partition come from the same
         * answer, in either order relative to other partitions' events */
        if (step == EV_LEADER || step == EV_SHRANK) {
            if (!at[EV_LEADER] && line_is(line, EV_LEADER, victim, topic))
                at[EV_LEADER] = lineno;
            if (!at[EV_SHRANK] && line_is(line, EV_SHRANK, victim, topic))
                at[EV_SHRANK] = lineno;
            if (at[EV_LEADER] && at[EV_SHRANK])
                step = EV_JOINED;
            continue;
        }
        if (line_is(line, step, victim, topic)) {
            at[step] = lineno;
            step = step == EV_LEFT ? EV_LEADER : step + 1;
        }
    }
}

static bool wait_for_text(const char *path, const char *needle, int timeout_s)
{
    double end = icluster_now() + timeout_s;
    while (icluster_now() < end) {
        char *t = read_all(path);
        bool hit = t && strstr(t, needle);
        free(t);
        if (hit)
            return true;
        usleep(100 * 1000);
    }
    return false;
}

Test(cli_watch, kill_and_restart_of_a_leader_shows_as_events_in_order)
{
    char topic[64], path[256];
    itest_topic("watch", topic, sizeof(topic));
    char *out = NULL;
    int rc = icluster_cli(&out, cl()->bootstrap,
                          "topic create %s --partitions 6 --replication-factor 3", topic);
    cr_assert_eq(rc, 0, "topic create failed: %s", out ? out : "");
    free(out);
    for (int p = 0; p < 6; p++)
        cr_assert(icluster_wait_for(cl(), 0, topic, p, icluster_isr_size_is, 3, 60));

    snprintf(path, sizeof(path), "%s/watch.jsonl", broker_proc_dir(cl()->broker[0]));
    pid_t watch = start_watch(path);
    cr_assert_gt(watch, 0);
    cr_assert(wait_for_text(path, "\"event\": \"cluster\"", 30), "no cluster event");

    /* the victim is the controller, and leads partition vp */
    struct pinfo pi[8];
    int32_t victim = -1;
    cr_assert_eq(icluster_describe(cl()->bootstrap, topic, pi, 8, &victim), 6);
    cr_assert(victim >= 0 && victim < 3, "no controller named (%d)", victim);
    int vp = -1;
    for (int p = 0; p < 6 && vp < 0; p++)
        if (pi[p].leader == victim)
            vp = p;
    cr_assert_geq(vp, 0, "the controller (broker %d) leads no partition of %s", victim, topic);
    int via = (victim + 1) % 3;
    cr_assert_neq(broker_proc_kill(cl()->broker[victim]), -1);
    cr_assert(icluster_wait_for(cl(), via, topic, vp, icluster_led_by_other_than, victim, 60),
              "leadership of partition %d did not move off broker %d", vp, victim);
    cr_assert(wait_for_text(path, "\"event\": \"broker_left\"", 60), "no broker_left event");
    cr_assert(wait_for_text(path, "\"event\": \"controller_changed\"", 30),
              "no controller_changed event after the controller was killed");

    cr_assert_eq(broker_proc_start(cl()->broker[victim]), 0, "broker %d did not restart", victim);
    for (int p = 0; p < 6; p++)
        cr_assert(icluster_wait_for(cl(), via, topic, p, icluster_isr_size_is, 3, 90),
                  "partition %d did not get its ISR of 3 back", p);
    cr_assert(wait_for_text(path, "\"event\": \"isr_expanded\"", 30), "no isr_expanded event");
    usleep(500 * 1000); /* a last poll or two */

    cr_assert_eq(kill(watch, SIGINT), 0);
    int st = 0;
    cr_assert_eq(waitpid(watch, &st, 0), watch);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "watch did not exit 0 on SIGINT (status %d)",
              st);

    char *text = read_all(path);
    cr_assert(text);
    fprintf(stderr, "watch output (victim %d, partition %d):\n%s\n", victim, vp, text);

    /* every line one JSON object with an ISO-8601 UTC time; the controller
     * moved from the victim to a live broker; partition vp's flags */
    const char *src = getenv("GREGOR_SOURCE_DIR");
    cr_assert(src, "GREGOR_SOURCE_DIR not set (run through ctest)");
    char *check = NULL;
    rc = harness_shf(&check, 60,
                     "/usr/bin/python3 %s/tests/integration/py/check_watch_events.py "
                     "%s %d %s %d 2>&1",
                     src, path, victim, topic, vp);
    fprintf(stderr, "%s", check ? check : "");
    cr_assert_eq(rc, 0, "check_watch_events.py failed (output above)");
    free(check);

    int at[EV_N];
    find_story(text, victim, topic, at);
    for (int e = 0; e < EV_N; e++)
        cr_assert_gt(at[e], 0, "no %s event for broker %d in order", ev_names[e], victim);
    cr_assert_lt(at[EV_LEFT], at[EV_LEADER]);
    cr_assert_lt(at[EV_LEFT], at[EV_SHRANK]);
    cr_assert_gt(at[EV_JOINED], at[EV_LEADER]);
    cr_assert_gt(at[EV_JOINED], at[EV_SHRANK]);
    cr_assert_gt(at[EV_EXPANDED], at[EV_JOINED]);
    free(text);
}
