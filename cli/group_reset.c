/*
 * cli/group_reset.c — `gregor group reset-offsets GROUP`: computes new
 * committed offsets for the partitions of --topic T[:P,...] (or those of
 * an undo file given with --from-file), prints the plan, and with
 * --execute commits it (AlterConsumerGroupOffsets; partitions an undo file
 * lists with a null offset get their commit deleted) after writing an undo
 * file holding the offsets before the change (format in group_plan.h).
 * --to-mirror ALIAS takes the new offsets from the checkpoints `gregor
 * mirror --alias ALIAS` wrote to this cluster (mirror_offsets.c), like an
 * undo file; --topic then only narrows the topics.
 *
 * Text output: a table TOPIC PARTITION CURRENT-OFFSET NEW-OFFSET, then one
 * line saying whether it was applied (and the undo file) or only planned.
 * JSON output: {"group", "executed", "undo_file", "partitions": [{"topic",
 * "partition", "current_offset", "new_offset"}]} (null: no offset).
 *
 * Refuses --execute while the group has members (state not Empty/Dead):
 * their commits would overwrite the reset.
 *
 * Threads: main thread only.
 */
#include "cli/group.h"
#include "cli/group_plan.h"
#include "cli/mirror.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/base.h"

enum {
    GR_OUTPUT = 1,
    GR_TOPIC,
    GR_EARLIEST,
    GR_LATEST,
    GR_OFFSET,
    GR_DATETIME,
    GR_DURATION,
    GR_SHIFT,
    GR_EXECUTE,
    GR_UNDO_FILE,
    GR_FROM_FILE,
    GR_MIRROR,
};

static const struct cli_opt reset_opts[] = {
    {"output", 'o', true, GR_OUTPUT},
    {"topic", 't', true, GR_TOPIC},
    {"to-earliest", 0, false, GR_EARLIEST},
    {"to-latest", 0, false, GR_LATEST},
    {"to-offset", 0, true, GR_OFFSET},
    {"to-datetime", 0, true, GR_DATETIME},
    {"by-duration", 0, true, GR_DURATION},
    {"shift-by", 0, true, GR_SHIFT},
    {"execute", 0, false, GR_EXECUTE},
    {"undo-file", 0, true, GR_UNDO_FILE},
    {"from-file", 0, true, GR_FROM_FILE},
    {"to-mirror", 0, true, GR_MIRROR},
    {NULL, 0, false, 0},
};

static const char reset_help[] =
    "Usage: gregor group reset-offsets GROUP --topic T[:P,P...]... MODE [--execute]\n"
    "       gregor group reset-offsets GROUP --from-file PATH [--execute]\n"
    "Prints the new committed offsets of the group's partitions; applies them only\n"
    "with --execute, which the group must have no members for.\n"
    "  -t, --topic T[:P,...]    the topic (all partitions, or those listed); repeatable\n"
    "MODE, exactly one of:\n"
    "      --to-earliest        the log start offset\n"
    "      --to-latest          the log end offset\n"
    "      --to-offset N        offset N (clamped to the log's range)\n"
    "      --to-datetime TIME   first record at or after TIME, ISO-8601\n"
    "                           (2026-12-06T10:00:00Z, +01:00 or no zone = UTC)\n"
    "      --by-duration D      first record at or after now - D (ISO-8601: PT1H, P1DT30M)\n"
    "      --shift-by N         the committed offset plus N (N may be negative)\n"
    "      --from-file PATH     the offsets of an undo file (instead of --topic and MODE)\n"
    "      --to-mirror ALIAS    the group's source offsets translated by `gregor mirror\n"
    "                           --alias ALIAS` into this cluster's (--topic optional)\n"
    "      --execute            commit the plan; first writes an undo file\n"
    "      --undo-file PATH     where (default ./GROUP-reset-<UTC time>.json)\n"
    "  -o, --output json        one JSON document instead of text\n";

struct reset_args {
    const char *group;
    bool json;
    struct grp_topic_arg topics[GRP_MAX_TOPICS];
    int ntopics;
    enum gp_mode mode;
    int nmodes;  /* modes given, must be 1 */
    int64_t arg; /* --to-offset, --shift-by; --to-datetime/--by-duration: the time (ms) */
    bool execute;
    const char *undo_file;
    const char *from_file;
    const char *to_mirror;
};

static int reset_set_mode(struct reset_args *a, enum gp_mode m)
{
    a->mode = m;
    a->nmodes++;
    return CLI_OK;
}

static int reset_opt(void *ctx, int id, const char *val)
{
    struct reset_args *a = ctx;
    int64_t v;
    switch (id) {
    case GR_OUTPUT:
        return grp_parse_output(val, &a->json);
    case GR_TOPIC: {
        if (a->ntopics >= GRP_MAX_TOPICS)
            return cli_usage_error("too many --topic options (at most %d)", GRP_MAX_TOPICS);
        int rc = grp_parse_topic_arg(val, &a->topics[a->ntopics]);
        a->ntopics += rc == CLI_OK;
        return rc;
    }
    case GR_EARLIEST:
        return reset_set_mode(a, GP_EARLIEST);
    case GR_LATEST:
        return reset_set_mode(a, GP_LATEST);
    case GR_OFFSET:
        if (!cli_parse_int(val, 0, INT64_MAX, &a->arg))
            return cli_usage_error("--to-offset: expected a number >= 0, got '%s'", val);
        return reset_set_mode(a, GP_OFFSET);
    case GR_SHIFT:
        if (!cli_parse_int(val, INT64_MIN + 1, INT64_MAX, &a->arg))
            return cli_usage_error("--shift-by: expected a number, got '%s'", val);
        return reset_set_mode(a, GP_SHIFT);
    case GR_DATETIME:
        if (!gp_parse_datetime(val, &a->arg))
            return cli_usage_error("--to-datetime: expected an ISO-8601 date-time such as "
                                   "2026-12-06T10:00:00Z, got '%s'",
                                   val);
        return reset_set_mode(a, GP_DATETIME);
    case GR_DURATION:
        if (!gp_parse_duration(val, &v))
            return cli_usage_error("--by-duration: expected an ISO-8601 duration such as "
                                   "PT1H or P1DT30M, got '%s'",
                                   val);
        a->arg = grp_wall_ms() - v;
        return reset_set_mode(a, GP_DURATION);
    case GR_EXECUTE:
        a->execute = true;
        return CLI_OK;
    case GR_UNDO_FILE:
        a->undo_file = val;
        return CLI_OK;
    case GR_FROM_FILE:
        a->from_file = val;
        return reset_set_mode(a, GP_FILE);
    case GR_MIRROR:
        a->to_mirror = val;
        return reset_set_mode(a, GP_FILE);
    }
    return CLI_USAGE;
}

static int reset_validate(const struct cli *cli, const struct reset_args *a)
{
    if (a->nmodes != 1)
        return cli_usage_error("%s: give exactly one of --to-earliest, --to-latest, "
                               "--to-offset, --to-datetime, --by-duration, --shift-by, "
                               "--from-file, --to-mirror",
                               cli->cmd);
    if (a->from_file && a->ntopics > 0)
        return cli_usage_error("%s: --from-file takes its partitions from the file, not --topic",
                               cli->cmd);
    if (!a->from_file && !a->to_mirror && a->ntopics == 0)
        return cli_usage_error("%s: --topic is required", cli->cmd);
    if (a->undo_file && !a->execute)
        return cli_usage_error("%s: --undo-file is written only with --execute", cli->cmd);
    return CLI_OK;
}

/* Reads the undo file named by --from-file into *u. */
static int reset_read_file(const struct reset_args *a, struct gp_undo *u)
{
    FILE *f = fopen(a->from_file, "r");
    if (f == NULL)
        return cli_fail("cannot open %s: %s", a->from_file, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *text = malloc(cap);
    while (text) {
        n += fread(text + n, 1, cap - n - 1, f);
        if (n < cap - 1)
            break;
        char *nt = realloc(text, cap * 2);
        if (nt == NULL) {
            free(text);
            text = NULL;
        }
        text = nt;
        cap *= 2;
    }
    bool rerr = ferror(f);
    fclose(f);
    if (text == NULL || rerr) {
        free(text);
        return cli_fail("cannot read %s", a->from_file);
    }
    text[n] = '\0';
    char err[128];
    bool ok = gp_undo_parse(text, u, err, sizeof(err));
    free(text);
    if (!ok)
        return cli_fail("%s is not an undo file: %s", a->from_file, err);
    if (strcmp(u->group, a->group) != 0) {
        int rc = cli_fail("%s is the undo file of group '%s', not '%s'", a->from_file, u->group,
                          a->group);
        gp_undo_free(u);
        return rc;
    }
    return CLI_OK;
}

/* For --to-mirror: whether a checkpoint's topic is one of --topic's (all
 * without --topic). */
static bool reset_mirror_topic(void *ctx, const char *topic)
{
    const struct reset_args *a = ctx;
    for (int i = 0; i < a->ntopics; i++) {
        if (strcmp(a->topics[i].topic, topic) == 0)
            return true;
    }
    return a->ntopics == 0;
}

/* The partitions of the reset, with topics copied and committed offsets,
 * log ranges and (for time modes) the offsets for the time filled in. */
struct reset_state {
    struct gp_part *parts;
    size_t n;
    struct gp_undo undo; /* --from-file */
};

static int reset_collect(struct cli *cli, rd_kafka_t *rk, const struct rd_kafka_metadata *md,
                         const struct reset_args *a, struct reset_state *st)
{
    rd_kafka_topic_partition_list_t *want = NULL;
    int rc;
    if (a->from_file || a->to_mirror) {
        rc = a->from_file ? reset_read_file(a, &st->undo)
                          : mr_checkpoints_read(cli, a->to_mirror, a->group, reset_mirror_topic,
                                                (void *)a, &st->undo);
        if (rc != CLI_OK)
            return rc;
        want = rd_kafka_topic_partition_list_new((int)st->undo.n + 1);
        for (size_t i = 0; i < st->undo.n; i++)
            rd_kafka_topic_partition_list_add(want, st->undo.parts[i].topic,
                                              st->undo.parts[i].partition);
    } else if ((rc = grp_expand_topics(md, a->topics, a->ntopics, &want)) != CLI_OK) {
        return rc;
    }
    rd_kafka_topic_partition_list_t *committed = NULL;
    rc = grp_committed(cli, rk, a->group, want, &committed);
    st->parts = calloc((size_t)want->cnt + 1, sizeof(*st->parts));
    if (rc == CLI_OK && st->parts == NULL)
        rc = cli_fail("out of memory");
    for (int i = 0; rc == CLI_OK && i < want->cnt; i++) {
        struct gp_part *p = &st->parts[st->n];
        const rd_kafka_topic_partition_t *w = &want->elems[i];
        const rd_kafka_topic_partition_t *c =
            rd_kafka_topic_partition_list_find(committed, w->topic, w->partition);
        p->topic = strdup(w->topic);
        p->partition = w->partition;
        p->current = c && c->offset >= 0 ? c->offset : -1;
        p->by_time = -1;
        p->target = a->from_file || a->to_mirror ? st->undo.parts[i].target : -1;
        st->n++;
        if (p->topic == NULL)
            rc = cli_fail("out of memory");
        else
            rc = grp_watermarks(cli, rk, p->topic, p->partition, &p->start, &p->end);
    }
    if (rc == CLI_OK && (a->mode == GP_DATETIME || a->mode == GP_DURATION)) {
        for (int i = 0; i < want->cnt; i++)
            want->elems[i].offset = a->arg;
        rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk, want, GRP_TIMEOUT_MS);
        if (err)
            rc = cli_fail("cannot look up offsets by time: %s", rd_kafka_err2str(err));
        for (int i = 0; rc == CLI_OK && i < want->cnt; i++) {
            if (want->elems[i].err)
                rc = cli_fail("cannot look up %s:%d by time: %s", want->elems[i].topic,
                              (int)want->elems[i].partition, rd_kafka_err2str(want->elems[i].err));
            st->parts[i].by_time = want->elems[i].offset >= 0 ? want->elems[i].offset : -1;
        }
    }
    if (committed)
        rd_kafka_topic_partition_list_destroy(committed);
    rd_kafka_topic_partition_list_destroy(want);
    return rc;
}

/* Fails when the group has members (state other than Empty or Dead). */
static int reset_check_inactive(struct cli *cli, rd_kafka_t *rk, const char *group)
{
    rd_kafka_event_t *ev = NULL;
    const rd_kafka_ConsumerGroupDescription_t *d = NULL;
    int rc = grp_describe_one(cli, rk, group, &ev, &d);
    if (rc != CLI_OK)
        return rc;
    rd_kafka_consumer_group_state_t s = rd_kafka_ConsumerGroupDescription_state(d);
    size_t members = rd_kafka_ConsumerGroupDescription_member_count(d);
    if (members > 0 ||
        (s != RD_KAFKA_CONSUMER_GROUP_STATE_EMPTY && s != RD_KAFKA_CONSUMER_GROUP_STATE_DEAD &&
         s != RD_KAFKA_CONSUMER_GROUP_STATE_UNKNOWN))
        rc = cli_fail("group '%s' has %zu member(s) (state %s): stop its consumers first", group,
                      members, rd_kafka_consumer_group_state_name(s));
    rd_kafka_event_destroy(ev);
    return rc;
}

/* Writes the undo file (never overwriting one); its path into path. */
static int reset_write_undo(const struct reset_args *a, const struct reset_state *st, char *path,
                            size_t len)
{
    int64_t now = grp_wall_ms();
    if (a->undo_file) {
        snprintf(path, len, "%s", a->undo_file);
    } else {
        time_t secs = (time_t)(now / 1000);
        struct tm tm;
        char stamp[32];
        gmtime_r(&secs, &tm);
        strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
        snprintf(path, len, "%s-reset-%s.%03dZ.json", a->group, stamp, (int)(now % 1000));
        for (char *p = path; *p; p++) {
            if (*p == '/')
                *p = '_'; /* a group name is not a directory */
        }
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0)
        return cli_fail("cannot create undo file %s: %s (nothing changed)", path, strerror(errno));
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        return cli_fail("cannot write undo file %s: %s (nothing changed)", path, strerror(errno));
    }
    bool ok = gp_undo_write(f, a->group, now, st->parts, st->n);
    ok = fflush(f) == 0 && ok;
    ok = fsync(fileno(f)) == 0 && ok;
    ok = fclose(f) == 0 && ok;
    if (!ok)
        return cli_fail("cannot write undo file %s (nothing changed)", path);
    return CLI_OK;
}

/* Commits the plan: alters the offsets of parts with a new offset and
 * deletes the commits of parts whose new offset is -1. */
static int reset_apply(struct cli *cli, rd_kafka_t *rk, const char *group,
                       const struct reset_state *st)
{
    rd_kafka_topic_partition_list_t *alter = rd_kafka_topic_partition_list_new((int)st->n + 1);
    rd_kafka_topic_partition_list_t *del = rd_kafka_topic_partition_list_new((int)st->n + 1);
    for (size_t i = 0; i < st->n; i++) {
        const struct gp_part *p = &st->parts[i];
        if (p->new_offset >= 0)
            rd_kafka_topic_partition_list_add(alter, p->topic, p->partition)->offset =
                p->new_offset;
        else if (p->current >= 0)
            rd_kafka_topic_partition_list_add(del, p->topic, p->partition);
    }
    int rc = CLI_OK;
    if (alter->cnt > 0) {
        struct grp_call c;
        grp_call_begin(rk, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS, &c);
        rd_kafka_AlterConsumerGroupOffsets_t *req =
            rd_kafka_AlterConsumerGroupOffsets_new(group, alter);
        rd_kafka_AlterConsumerGroupOffsets(rk, &req, 1, c.o, c.q);
        rd_kafka_AlterConsumerGroupOffsets_destroy(req);
        rd_kafka_event_t *ev =
            grp_call_end(cli, rk, &c, RD_KAFKA_EVENT_ALTERCONSUMERGROUPOFFSETS_RESULT,
                         "cannot commit the offsets of group", group);
        const rd_kafka_group_result_t *r = NULL;
        if (ev) {
            size_t n = 0;
            const rd_kafka_group_result_t **gr = rd_kafka_AlterConsumerGroupOffsets_result_groups(
                rd_kafka_event_AlterConsumerGroupOffsets_result(ev), &n);
            r = grp_result_one(gr, n, "cannot commit the offsets of group", group);
        }
        rc = r ? CLI_OK : CLI_FAIL;
        const rd_kafka_topic_partition_list_t *res = r ? rd_kafka_group_result_partitions(r) : NULL;
        for (int i = 0; res && rc == CLI_OK && i < res->cnt; i++) {
            if (res->elems[i].err)
                rc = cli_fail("cannot commit %s:%d for group '%s': %s (%s)", res->elems[i].topic,
                              (int)res->elems[i].partition, group,
                              rd_kafka_err2str(res->elems[i].err),
                              rd_kafka_err2name(res->elems[i].err));
        }
        if (ev)
            rd_kafka_event_destroy(ev);
    }
    if (rc == CLI_OK && del->cnt > 0) {
        rc = grp_delete_offsets(cli, rk, group, del);
        for (int i = 0; rc == CLI_OK && i < del->cnt; i++) {
            if (del->elems[i].err)
                rc = cli_fail("cannot delete the offset of %s:%d for group '%s': %s",
                              del->elems[i].topic, (int)del->elems[i].partition, group,
                              rd_kafka_err2name(del->elems[i].err));
        }
    }
    rd_kafka_topic_partition_list_destroy(alter);
    rd_kafka_topic_partition_list_destroy(del);
    return rc;
}

static void reset_print(const struct reset_args *a, const struct reset_state *st,
                        const char *undo_path)
{
    if (a->json) {
        fputs("{\"group\": ", stdout);
        gp_json_str(stdout, a->group);
        printf(", \"executed\": %s, \"undo_file\": ", a->execute ? "true" : "false");
        gp_json_str(stdout, undo_path);
        fputs(",\n \"partitions\": [", stdout);
        for (size_t i = 0; i < st->n; i++) {
            const struct gp_part *p = &st->parts[i];
            fputs(i ? ",\n  {\"topic\": " : "\n  {\"topic\": ", stdout);
            gp_json_str(stdout, p->topic);
            printf(", \"partition\": %" PRId32 ", \"current_offset\": ", p->partition);
            if (p->current >= 0)
                printf("%" PRId64, p->current);
            else
                fputs("null", stdout);
            if (p->new_offset >= 0)
                printf(", \"new_offset\": %" PRId64 "}", p->new_offset);
            else
                fputs(", \"new_offset\": null}", stdout);
        }
        fputs("]}\n", stdout);
        return;
    }
    int tw = 5;
    for (size_t i = 0; i < st->n; i++)
        tw = MAX(tw, (int)strlen(st->parts[i].topic));
    printf("%-*s  %9s  %14s  %10s\n", tw, "TOPIC", "PARTITION", "CURRENT-OFFSET", "NEW-OFFSET");
    for (size_t i = 0; i < st->n; i++) {
        const struct gp_part *p = &st->parts[i];
        char cur[24] = "-", nw[24] = "-";
        if (p->current >= 0)
            snprintf(cur, sizeof(cur), "%" PRId64, p->current);
        if (p->new_offset >= 0)
            snprintf(nw, sizeof(nw), "%" PRId64, p->new_offset);
        printf("%-*s  %9" PRId32 "  %14s  %10s\n", tw, p->topic, p->partition, cur, nw);
    }
    if (a->execute)
        printf("Reset the offsets of group %s; undo with: gregor group reset-offsets %s "
               "--from-file %s --execute\n",
               a->group, a->group, undo_path);
    else
        printf("Plan only, nothing changed: add --execute to apply it.\n");
}

static int reset_run(struct cli *cli, struct reset_args *a)
{
    rd_kafka_t *rk;
    const struct rd_kafka_metadata *md = NULL;
    int rc = cli_cluster_metadata(cli, &rk, &md);
    if (rc != CLI_OK)
        return rc;
    struct reset_state st;
    memset(&st, 0, sizeof(st));
    char undo_path[4096] = "";
    rc = reset_collect(cli, rk, md, a, &st);
    rd_kafka_metadata_destroy(md);
    if (rc == CLI_OK)
        gp_plan(a->mode, a->arg, st.parts, st.n);
    if (rc == CLI_OK && a->execute) {
        rc = reset_check_inactive(cli, rk, a->group);
        if (rc == CLI_OK)
            rc = reset_write_undo(a, &st, undo_path, sizeof(undo_path));
        if (rc == CLI_OK)
            rc = reset_apply(cli, rk, a->group, &st);
    }
    if (rc == CLI_OK)
        reset_print(a, &st, undo_path[0] ? undo_path : NULL);
    for (size_t i = 0; i < st.n; i++)
        free(st.parts[i].topic);
    free(st.parts);
    gp_undo_free(&st.undo);
    rd_kafka_destroy(rk);
    return rc;
}

int group_reset_offsets(struct cli *cli, int argc, char **argv)
{
    struct reset_args a = {0};
    int done, npos = cli_parse_cmd(cli, argc, argv, reset_opts, reset_opt, &a, reset_help, &done);
    int rc;
    if (npos < 0)
        rc = done;
    else if (npos != 1)
        rc = cli_usage_positional(cli, npos ? "expected exactly one group" : "missing group");
    else if (reset_validate(cli, &a) != CLI_OK)
        rc = CLI_USAGE;
    else {
        a.group = argv[0];
        rc = reset_run(cli, &a);
    }
    for (int i = 0; i < a.ntopics; i++)
        grp_topic_arg_free(&a.topics[i]);
    return rc;
}
