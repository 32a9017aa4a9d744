/*
 * cli/doctor.c — `gregor doctor [--zookeeper CONNECT] [--output json]`:
 * runs the checks of doctor_kafka.c and doctor_zk.c against the cluster
 * found through -b (and ZooKeeper through --zookeeper or the brokers'
 * zookeeper.connect) and prints every finding with its fix. When no broker
 * answers at -b but --zookeeper names the ensemble, the brokers registered
 * there are used instead (finding bootstrap.from_zookeeper).
 *
 * Text output, findings sorted by severity (errors first), then a summary:
 *   ERROR    listener.unresolvable  broker 2
 *            Broker 2 advertises ... (one sentence)
 *            fix: ... (one sentence)
 *   doctor: 1 error, 0 warnings, 1 info (3 brokers, 4 topics, 40 partitions,
 *   ZooKeeper 1 of 1 members serving)
 * --output json: one object {"status": "ok"|"warning"|"error",
 * "brokers": int, "topics": int, "partitions": int, "zookeeper_members":
 * int, "zookeeper_serving": int, "findings": [{"severity":
 * "error"|"warning"|"info", "id", "subject", "message", "fix"}]}.
 *
 * Exit status: 0 no finding above info, 1 warnings only, 2 at least one
 * error (also 2 for bad usage, with "gregor: ..." on stderr).
 */
#include "cli/doctor.h"
#include "cli/group_plan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { DR_OPT_ZK = 1, DR_OPT_OUTPUT, DR_OPT_JSON, DR_OPT_SKEW };

static const struct cli_opt dr_opts[] = {
    {"zookeeper", 'z', true, DR_OPT_ZK},
    {"output", 'o', true, DR_OPT_OUTPUT},
    {"json", 'j', false, DR_OPT_JSON},
    {"max-clock-skew-ms", 0, true, DR_OPT_SKEW},
    {NULL, 0, false, 0},
};

static const char dr_help[] =
    "Usage: gregor doctor [--zookeeper HOST:PORT[,...][/chroot]] [--output text|json]\n"
    "                     [--max-clock-skew-ms MS]\n"
    "Checks the cluster from here and explains each problem with its fix:\n"
    "advertised listeners (resolve, reachable), ZooKeeper members and quorum, one\n"
    "controller, brokers' clock skew, open-files limits of brokers on this host,\n"
    "log dir space, offline and under-replicated partitions, leader imbalance,\n"
    "replication factor 1, min.insync.replicas >= replication factor, internal\n"
    "topics' replication factor, and config drift between brokers.\n"
    "  -z, --zookeeper CONNECT    the ensemble (default: the brokers' zookeeper.connect)\n"
    "  -o, --output FMT           text (default) or json\n"
    "  -j, --json                 the same as --output json\n"
    "      --max-clock-skew-ms MS clock difference reported as skew (default 5000)\n"
    "Exit status: 0 healthy, 1 warnings only, 2 errors.\n";

struct dr_args {
    const char *zk;
    bool json;
    int64_t skew;
};

static int dr_opt(void *ctx, int id, const char *val)
{
    struct dr_args *a = ctx;
    switch (id) {
    case DR_OPT_ZK:
        a->zk = val;
        break;
    case DR_OPT_OUTPUT:
        if (strcmp(val, "json") == 0)
            a->json = true;
        else if (strcmp(val, "text") == 0)
            a->json = false;
        else
            return cli_usage_error("--output: expected text or json, got '%s'", val);
        break;
    case DR_OPT_JSON:
        a->json = true;
        break;
    case DR_OPT_SKEW:
        if (!cli_parse_int(val, 1, INT64_C(86400000), &a->skew))
            return cli_usage_error("--max-clock-skew-ms: expected 1..86400000, got '%s'", val);
        break;
    }
    return CLI_OK;
}

void dr_add(struct doctor *d, enum dr_sev sev, const char *id, const char *subject, const char *fix,
            const char *fmt, ...)
{
    if (d->n == d->cap) {
        int cap = d->cap ? d->cap * 2 : 16;
        struct dr_finding *f = realloc(d->f, (size_t)cap * sizeof(*f));
        if (f == NULL)
            return;
        d->f = f;
        d->cap = cap;
    }
    struct dr_finding *f = &d->f[d->n++];
    f->sev = sev;
    snprintf(f->id, sizeof(f->id), "%s", id);
    snprintf(f->subject, sizeof(f->subject), "%s", subject);
    snprintf(f->fix, sizeof(f->fix), "%s", fix);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof(f->message), fmt, ap);
    va_end(ap);
}

static const char *const dr_sev_name[] = {"info", "warning", "error"};

/* Stable sort by severity, highest first (a handful of findings). */
static void dr_sort(struct doctor *d)
{
    for (int i = 1; i < d->n; i++) {
        struct dr_finding cur = d->f[i];
        int j = i;
        while (j > 0 && d->f[j - 1].sev < cur.sev) {
            d->f[j] = d->f[j - 1];
            j--;
        }
        d->f[j] = cur;
    }
}

static void dr_print_json(const struct doctor *d, enum dr_sev worst)
{
    printf("{\"status\": \"%s\", \"brokers\": %d, \"topics\": %d, \"partitions\": %d, "
           "\"zookeeper_members\": %d, \"zookeeper_serving\": %d, \"findings\": [",
           d->n && worst > DR_INFO ? dr_sev_name[worst] : "ok", d->nbrokers, d->topics,
           d->partitions, d->zk_members, d->zk_up);
    for (int i = 0; i < d->n; i++) {
        const struct dr_finding *f = &d->f[i];
        printf("%s\n  {\"severity\": \"%s\", \"id\": ", i ? "," : "", dr_sev_name[f->sev]);
        gp_json_str(stdout, f->id);
        fputs(", \"subject\": ", stdout);
        gp_json_str(stdout, f->subject);
        fputs(", \"message\": ", stdout);
        gp_json_str(stdout, f->message);
        fputs(", \"fix\": ", stdout);
        gp_json_str(stdout, f->fix);
        fputs("}", stdout);
    }
    printf("%s]}\n", d->n ? "\n" : "");
}

static void dr_print_text(const struct doctor *d)
{
    int count[3] = {0, 0, 0};
    for (int i = 0; i < d->n; i++) {
        const struct dr_finding *f = &d->f[i];
        count[f->sev]++;
        char sev[16];
        snprintf(sev, sizeof(sev), "%s", dr_sev_name[f->sev]);
        for (char *p = sev; *p; p++)
            *p = (char)(*p - 'a' + 'A');
        printf("%-8s %s  %s\n         %s\n         fix: %s\n", sev, f->id, f->subject, f->message,
               f->fix);
    }
    printf("doctor: %d error%s, %d warning%s, %d info (%d brokers, %d topics, %d partitions, "
           "ZooKeeper %d of %d members serving)\n",
           count[DR_ERROR], count[DR_ERROR] == 1 ? "" : "s", count[DR_WARNING],
           count[DR_WARNING] == 1 ? "" : "s", count[DR_INFO], d->nbrokers, d->topics, d->partitions,
           d->zk_up, d->zk_members);
}

int doctor_main(struct cli *cli, int argc, char **argv)
{
    struct dr_args a = {.skew = 5000};
    int done, npos = cli_parse_cmd(cli, argc, argv, dr_opts, dr_opt, &a, dr_help, &done);
    if (npos < 0)
        return done;
    if (npos > 0)
        return cli_usage_positional(cli, "unexpected argument");
    struct doctor *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return cli_fail("out of memory");
    d->cli = cli;
    d->zookeeper = a.zk;
    d->max_skew_ms = a.skew;
    d->controller_md = -1;
    dr_check_kafka(d);
    char zk_bootstrap[2048];
    if (d->nbrokers == 0 && dr_zk_bootstrap(d, zk_bootstrap, sizeof(zk_bootstrap))) {
        /* -b did not answer, but ZooKeeper names the brokers: check through them */
        const char *given = cli->bootstrap;
        if (d->n > 0 && strcmp(d->f[d->n - 1].id, "bootstrap.unreachable") == 0)
            d->n--; /* replaced by bootstrap.from_zookeeper below */
        cli->bootstrap = zk_bootstrap;
        dr_check_kafka(d);
        dr_add(d, DR_INFO, "bootstrap.from_zookeeper", given,
               "Pass one of the brokers ZooKeeper names with -b.",
               "No broker answered at %s; the brokers registered in ZooKeeper (%s) were used.",
               given, zk_bootstrap);
    }
    dr_check_zk(d);
    dr_sort(d);
    enum dr_sev worst = d->n ? d->f[0].sev : DR_INFO;
    if (a.json)
        dr_print_json(d, worst);
    else
        dr_print_text(d);
    int rc = worst == DR_ERROR ? 2 : worst == DR_WARNING ? 1 : 0;
    free(d->f);
    free(d);
    return rc;
}
