/*
 * cli/cluster_reassign.c — `gregor cluster reassign`: start, follow and
 * cancel partition reassignments (Kafka's kafka-reassign-partitions.sh
 * --execute / --verify / --cancel, KIP-455) through
 * AlterPartitionReassignments (API key 45, v0) and
 * ListPartitionReassignments (key 46, v0), sent to the controller with the
 * raw client (kraw.h; librdkafka 2.0.2 has neither admin call). The plan
 * file is Kafka's reassignment JSON (common/reassign_json.h; "log_dirs"
 * accepted and ignored).
 *
 * Wire format (Kafka's schemas; v0 is flexible):
 *   Alter request:  timeout_ms INT32, topics [name STRING, partitions
 *                   [partition INT32, replicas NULLABLE ARRAY of INT32]]
 *   Alter response: throttle INT32, error_code INT16, error_message
 *                   NULLABLE_STRING, responses [name, partitions [partition
 *                   INT32, error_code INT16, error_message NULLABLE_STRING]]
 *   List request:   timeout_ms INT32, topics NULLABLE [name, partitions
 *                   ARRAY of INT32] (we send null: every reassignment)
 *   List response:  throttle, error_code, error_message, topics [name,
 *                   partitions [partition INT32, replicas, adding_replicas,
 *                   removing_replicas ARRAY of INT32]]
 *
 * Output, one line per partition, sorted:
 *   --execute  TOPIC-P<TAB>started | TOPIC-P<TAB>ERROR_NAME<TAB>message
 *   --status   TOPIC-P<TAB>complete | in progress (adding X, removing Y)
 *              | not started (replicas A,B; target C,D)   (with --file)
 *              TOPIC-P<TAB>in progress (adding X, removing Y)<TAB>replicas A,B,C
 *                                                         (without --file)
 *   --cancel   TOPIC-P<TAB>cancelled | TOPIC-P<TAB>ERROR_NAME<TAB>message
 * --execute --throttle RATE first throttles the move (cli/reassign_throttle.h)
 * and prints "Throttle: ..."; when every partition of the plan is already
 * moving it only changes the rate on the brokers of those moves and sends no
 * AlterPartitionReassignments; when the controller starts none of them, the
 * throttle just set is removed again. --status with --file, once every partition is
 * complete, and --cancel remove the throttle of the plan's topics (when one
 * is set) and print "Throttle removed ...".
 * Exit status: 0 when every partition started / is complete / was
 * cancelled; 1 otherwise (and for an unreadable plan, an unknown topic or
 * partition, which are checked before anything is sent); 2 for usage.
 * --status without --file exits 0 whatever is in progress.
 */
#include "cli/cli.h"
#include "cli/kraw.h"
#include "cli/reassign_throttle.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/kwire.h"
#include "common/reassign_json.h"
#include "common/vec.h"

#define RA_DEFAULT_TIMEOUT_MS 30000
#define RA_CONTROLLER_WAIT_MS 5000
#define RA_MAX_FILE (64 << 20)

enum { RA_EXECUTE = 1, RA_STATUS, RA_CANCEL, RA_FILE, RA_TIMEOUT, RA_THROTTLE };

static const struct cli_opt ra_opts[] = {
    {"execute", 0, false, RA_EXECUTE},
    {"status", 0, false, RA_STATUS},
    {"verify", 0, false, RA_STATUS},
    {"cancel", 0, false, RA_CANCEL},
    {"file", 'f', true, RA_FILE},
    {"reassignment-json-file", 0, true, RA_FILE},
    {"timeout-ms", 0, true, RA_TIMEOUT},
    {"throttle", 0, true, RA_THROTTLE},
    {NULL, 0, false, 0},
};

static const char ra_help[] =
    "Usage: gregor cluster reassign --execute --file PLAN.json [--throttle BYTES_PER_S]\n"
    "       gregor cluster reassign --status [--file PLAN.json]\n"
    "       gregor cluster reassign --cancel [--file PLAN.json]\n"
    "       gregor cluster reassign --plan (--add-broker ID[,ID] | --remove-broker ID[,ID])\n"
    "                               (writes a plan; 'gregor cluster reassign --plan --help')\n"
    "Moves partitions between brokers (Kafka's partition reassignment). The\n"
    "plan is Kafka's reassignment JSON:\n"
    "  {\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[3,1,2]}]}\n"
    "(\"log_dirs\" is accepted and ignored). The new replicas copy the partition\n"
    "from its leader; once they are in sync the old ones are removed and the\n"
    "first replica of the list becomes the preferred leader.\n"
    "  --execute           start the reassignments of --file\n"
    "      --throttle RATE with --execute: limit the copy to RATE bytes/s\n"
    "                      (leader and follower replication throttles on the\n"
    "                      brokers and topics involved); on moves already in\n"
    "                      progress, only change the rate. --status removes the\n"
    "                      throttle once every partition is complete\n"
    "  --status            the reassignments in progress; with --file, whether\n"
    "                      each partition of the plan has its target replicas\n"
    "                      (alias --verify)\n"
    "  --cancel            cancel the reassignments of --file (without --file:\n"
    "                      every one in progress): back to the original replicas;\n"
    "                      removes the throttle of their topics\n"
    "  -f, --file FILE     the plan (alias --reassignment-json-file)\n"
    "      --timeout-ms MS how long the controller may take (default 30000)\n"
    "Exit status 0 when every partition started, is complete (--status with\n"
    "--file) or was cancelled; 1 otherwise.\n";

struct ra_args {
    int mode; /* RA_EXECUTE, RA_STATUS, RA_CANCEL; 0 none yet */
    bool twice;
    const char *file;
    int64_t timeout_ms;
    int64_t throttle; /* bytes/s; 0: none */
};

/* One partition in progress, from ListPartitionReassignments. */
struct ra_ongoing {
    char topic[TOPIC_NAME_MAX_LEN + 1];
    int32_t partition;
    int n[3];                              /* replicas, adding, removing */
    int32_t ids[3][REASSIGN_MAX_REPLICAS]; /* the same three lists */
};

static int ra_opt(void *ctx, int id, const char *val)
{
    struct ra_args *a = ctx;
    switch (id) {
    case RA_EXECUTE:
    case RA_STATUS:
    case RA_CANCEL:
        a->twice = a->twice || (a->mode != 0 && a->mode != id);
        a->mode = id;
        return CLI_OK;
    case RA_FILE:
        a->file = val;
        return CLI_OK;
    case RA_THROTTLE:
        if (!cli_parse_int(val, 1, INT64_MAX, &a->throttle))
            return cli_usage_error("--throttle: expected bytes per second >= 1, got '%s'", val);
        return CLI_OK;
    case RA_TIMEOUT:
        if (!cli_parse_int(val, 1, INT32_MAX, &a->timeout_ms))
            return cli_usage_error("--timeout-ms: expected a number >= 1, got '%s'", val);
        return CLI_OK;
    }
    return CLI_USAGE;
}

/* Reads and parses the plan file. CLI_OK with *v (new) and *n. */
static int ra_read_plan(const char *path, struct reassign_entry **v, int *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return cli_fail("%s: %s", path, strerror(errno));
    char *text = malloc(RA_MAX_FILE + 1);
    size_t len = text ? fread(text, 1, RA_MAX_FILE + 1, f) : 0;
    bool bad = !text || ferror(f);
    fclose(f);
    if (bad || len > RA_MAX_FILE) {
        free(text);
        return cli_fail("%s: %s", path, bad ? "cannot read it" : "larger than 64 MiB");
    }
    char err[300];
    kerr_t rc = reassign_json_parse(text, len, v, n, err, sizeof(err));
    free(text);
    if (rc != KERR_NONE)
        return cli_fail("%s: %s", path, err);
    return CLI_OK;
}

/* Every topic and partition of the plan exists in md (else prints). */
static int ra_check_plan(const char *path, const struct reassign_entry *v, int n,
                         const struct rd_kafka_metadata *md)
{
    for (int i = 0; i < n; i++) {
        const struct rd_kafka_metadata_topic *t = cli_md_topic(md, v[i].topic);
        if (!t || t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
            return cli_fail("%s: topic '%s' does not exist", path, v[i].topic);
        bool found = false;
        for (int k = 0; k < t->partition_cnt && !found; k++)
            found = t->partitions[k].id == v[i].partition;
        if (!found)
            return cli_fail("%s: topic '%s' has no partition %d", path, v[i].topic, v[i].partition);
    }
    return CLI_OK;
}

static int ra_entry_cmp(const void *a, const void *b)
{
    const struct reassign_entry *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

/* Sends one request to the controller; CLI_OK with *resp (new), *len. */
static int ra_call(struct kraw *k, int16_t key, const struct kbuf *body, uint8_t **resp,
                   size_t *len)
{
    int16_t max = -1;
    int krc = kraw_api_max_version(k, key, &max);
    if (krc != KRAW_OK)
        return cli_fail("ApiVersions failed: %s", k->reason);
    if (max < 0)
        return cli_fail("the controller at %s does not support %s", k->addr, api_key_name(key));
    krc = kraw_call(k, key, 0, body, resp, len);
    if (krc == KRAW_CLOSED)
        return cli_fail("the controller at %s closed the connection on %s", k->addr,
                        api_key_name(key));
    if (krc != KRAW_OK)
        return cli_fail("%s failed: %s", api_key_name(key), k->reason);
    return CLI_OK;
}

/* Reads a top-level error; prints it and returns CLI_FAIL when set. */
static int ra_top_error(struct kslice *s, int16_t key)
{
    (void)kslice_i32(s); /* throttle_time_ms */
    int16_t err = kslice_i16(s);
    struct kstr msg = kw_get_str(s, true);
    if (!kslice_ok(s))
        return cli_fail("malformed %s response", api_key_name(key));
    if (err != 0)
        return cli_fail("%s failed: %s%s%.*s", api_key_name(key),
                        rd_kafka_err2name((rd_kafka_resp_err_t)err), msg.ptr ? ": " : "",
                        msg.ptr ? (int)msg.len : 0, msg.ptr ? msg.ptr : "");
    return CLI_OK;
}

/* AlterPartitionReassignments for v[0..n) (cancel: every replicas null);
 * prints a line per partition; *n_ok (may be NULL) = partitions accepted. */
static int ra_alter(struct kraw *k, const struct ra_args *a, struct reassign_entry *v, int n,
                    bool cancel, int *n_ok)
{
    if (n_ok)
        *n_ok = 0;
    struct kbuf body;
    kbuf_init(&body);
    qsort(v, (size_t)n, sizeof(*v), ra_entry_cmp);
    kbuf_put_i32(&body, (int32_t)a->timeout_ms);
    int n_topics = 0;
    for (int i = 0; i < n; i++)
        n_topics += i == 0 || strcmp(v[i].topic, v[i - 1].topic) != 0;
    kw_put_array_len(&body, true, n_topics);
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && strcmp(v[j].topic, v[i].topic) == 0)
            j++;
        kw_put_str(&body, true, v[i].topic);
        kw_put_array_len(&body, true, j - i);
        for (int e = i; e < j; e++) {
            kbuf_put_i32(&body, v[e].partition);
            int nr = cancel ? -1 : v[e].n_replicas;
            kw_put_array_len(&body, true, nr);
            for (int r = 0; r < nr; r++)
                kbuf_put_i32(&body, v[e].replicas[r]);
            kw_put_tags(&body, true);
        }
        kw_put_tags(&body, true);
        i = j;
    }
    kw_put_tags(&body, true);
    uint8_t *resp = NULL;
    size_t len = 0;
    int rc = ra_call(k, API_ALTER_PARTITION_REASSIGNMENTS, &body, &resp, &len);
    kbuf_destroy(&body);
    if (rc != CLI_OK)
        return rc;
    struct kslice s;
    kslice_init(&s, resp, len);
    rc = ra_top_error(&s, API_ALTER_PARTITION_REASSIGNMENTS);
    int failed = 0, total = 0;
    int32_t nt = rc == CLI_OK ? kw_get_array_len(&s, true, 3) : 0;
    for (int32_t i = 0; i < nt && kslice_ok(&s); i++) {
        struct kstr topic = kw_get_str(&s, true);
        int32_t np = kw_get_array_len(&s, true, 8);
        for (int32_t p = 0; p < np && kslice_ok(&s); p++) {
            int32_t part = kslice_i32(&s);
            int16_t err = kslice_i16(&s);
            struct kstr msg = kw_get_str(&s, true);
            kw_skip_tags(&s, true);
            if (!kslice_ok(&s))
                break;
            total++;
            if (err == 0 && n_ok)
                (*n_ok)++;
            if (err == 0) {
                printf("%.*s-%d\t%s\n", (int)topic.len, topic.ptr, part,
                       cancel ? "cancelled" : "started");
                continue;
            }
            failed++;
            printf("%.*s-%d\t%s%s%.*s\n", (int)topic.len, topic.ptr, part,
                   rd_kafka_err2name((rd_kafka_resp_err_t)err), msg.ptr ? "\t" : "",
                   msg.ptr ? (int)msg.len : 0, msg.ptr ? msg.ptr : "");
        }
        kw_skip_tags(&s, true);
    }
    free(resp);
    if (rc != CLI_OK)
        return rc;
    if (!kslice_ok(&s))
        return cli_fail("malformed AlterPartitionReassignments response");
    if (failed > 0)
        return cli_fail("%d of %d partition(s) failed", failed, total);
    return CLI_OK;
}

/* ListPartitionReassignments (every one): *out new, *n. */
static int ra_list(struct kraw *k, const struct ra_args *a, struct ra_ongoing **out, int *n)
{
    struct kbuf body;
    kbuf_init(&body);
    kbuf_put_i32(&body, (int32_t)a->timeout_ms);
    kw_put_array_len(&body, true, -1);
    kw_put_tags(&body, true);
    uint8_t *resp = NULL;
    size_t len = 0;
    *out = NULL;
    *n = 0;
    int rc = ra_call(k, API_LIST_PARTITION_REASSIGNMENTS, &body, &resp, &len);
    kbuf_destroy(&body);
    if (rc != CLI_OK)
        return rc;
    struct kslice s;
    kslice_init(&s, resp, len);
    rc = ra_top_error(&s, API_LIST_PARTITION_REASSIGNMENTS);
    size_t cap = 0;
    int32_t nt = rc == CLI_OK ? kw_get_array_len(&s, true, 3) : 0;
    for (int32_t i = 0; i < nt && kslice_ok(&s); i++) {
        struct kstr topic = kw_get_str(&s, true);
        int32_t np = kw_get_array_len(&s, true, 8);
        for (int32_t p = 0; p < np && kslice_ok(&s); p++) {
            if (!VEC_RESERVE_AT(*out, cap, (size_t)*n + 1)) {
                kslice_fail(&s);
                break;
            }
            struct ra_ongoing *o = &(*out)[*n];
            memset(o, 0, sizeof(*o));
            if (!kstr_copy(topic, o->topic, sizeof(o->topic)))
                kslice_fail(&s);
            o->partition = kslice_i32(&s);
            for (int l = 0; l < 3; l++) {
                int32_t m = kw_get_array_len(&s, true, 4);
                for (int32_t r = 0; r < m && kslice_ok(&s); r++) {
                    int32_t id = kslice_i32(&s);
                    if (o->n[l] < REASSIGN_MAX_REPLICAS)
                        o->ids[l][o->n[l]++] = id;
                }
            }
            kw_skip_tags(&s, true);
            (*n)++;
        }
        kw_skip_tags(&s, true);
    }
    free(resp);
    if (rc == CLI_OK && !kslice_ok(&s))
        rc = cli_fail("malformed ListPartitionReassignments response");
    if (rc != CLI_OK) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

static void ra_print_ids(const int32_t *v, int n)
{
    for (int i = 0; i < n; i++)
        printf("%s%d", i ? "," : "", v[i]);
    if (n == 0)
        printf("none");
}

static void ra_print_progress(const struct ra_ongoing *o)
{
    printf("in progress (adding ");
    ra_print_ids(o->ids[1], o->n[1]);
    printf(", removing ");
    ra_print_ids(o->ids[2], o->n[2]);
    printf(")");
}

static const struct ra_ongoing *ra_find(const struct ra_ongoing *v, int n, const char *topic,
                                        int32_t p)
{
    for (int i = 0; i < n; i++)
        if (v[i].partition == p && strcmp(v[i].topic, topic) == 0)
            return &v[i];
    return NULL;
}

/* Removes the throttle of the topics of v[0..n) (ra_throttle_clear). */
static int ra_clear(struct kraw *k, const struct rd_kafka_metadata *md,
                    const struct reassign_entry *v, int n)
{
    const char **names = malloc(sizeof(*names) * (size_t)(n ? n : 1));
    if (!names)
        return cli_fail("out of memory");
    for (int i = 0; i < n; i++)
        names[i] = v[i].topic;
    int rc = ra_throttle_clear(k, md, names, n);
    free(names);
    return rc;
}

/* --status: prints the plan's partitions (or every one in progress). */
static int ra_status(struct kraw *k, const struct ra_args *a, struct reassign_entry *v, int n,
                     const struct rd_kafka_metadata *md)
{
    struct ra_ongoing *on = NULL;
    int n_on = 0;
    int rc = ra_list(k, a, &on, &n_on);
    if (rc != CLI_OK)
        return rc;
    if (!v) {
        if (n_on == 0)
            printf("No reassignment in progress.\n");
        for (int i = 0; i < n_on; i++) {
            printf("%s-%d\t", on[i].topic, on[i].partition);
            ra_print_progress(&on[i]);
            printf("\treplicas ");
            ra_print_ids(on[i].ids[0], on[i].n[0]);
            printf("\n");
        }
        free(on);
        return CLI_OK;
    }
    qsort(v, (size_t)n, sizeof(*v), ra_entry_cmp);
    int open = 0;
    for (int i = 0; i < n; i++) {
        printf("%s-%d\t", v[i].topic, v[i].partition);
        const struct ra_ongoing *o = ra_find(on, n_on, v[i].topic, v[i].partition);
        if (o) {
            ra_print_progress(o);
            printf("\n");
            open++;
            continue;
        }
        const struct rd_kafka_metadata_topic *t = cli_md_topic(md, v[i].topic);
        const struct rd_kafka_metadata_partition *mp = NULL;
        for (int p = 0; t && p < t->partition_cnt && !mp; p++)
            if (t->partitions[p].id == v[i].partition)
                mp = &t->partitions[p];
        bool same = mp && v[i].n_replicas >= 0 && mp->replica_cnt == v[i].n_replicas;
        for (int r = 0; same && r < v[i].n_replicas; r++)
            same = mp->replicas[r] == v[i].replicas[r];
        if (same) {
            printf("complete\n");
            continue;
        }
        open++;
        printf("not started (replicas ");
        ra_print_ids(mp ? mp->replicas : NULL, mp ? mp->replica_cnt : 0);
        printf("; target ");
        ra_print_ids(v[i].replicas, v[i].n_replicas > 0 ? v[i].n_replicas : 0);
        printf(")\n");
    }
    free(on);
    if (open > 0)
        return cli_fail("%d of %d partition(s) do not have their target replicas yet", open, n);
    return ra_clear(k, md, v, n);
}

/* --execute: with --throttle, throttles the partitions not moving yet (or,
 * when every one already moves, only changes the rate) before starting. */
static int ra_execute(struct kraw *k, const struct ra_args *a, struct reassign_entry *v, int n,
                      const struct rd_kafka_metadata *md)
{
    if (a->throttle <= 0)
        return ra_alter(k, a, v, n, false, NULL);
    struct ra_ongoing *on = NULL;
    int n_on = 0;
    int rc = ra_list(k, a, &on, &n_on);
    if (rc != CLI_OK)
        return rc;
    struct reassign_entry *fresh = calloc((size_t)n, sizeof(*fresh));
    int32_t *moving = NULL;
    size_t cap = 0;
    int n_fresh = 0, n_moving = 0;
    bool all_moving = true;
    for (int i = 0; i < n && fresh; i++) {
        const struct ra_ongoing *o = ra_find(on, n_on, v[i].topic, v[i].partition);
        all_moving = all_moving && o && v[i].n_replicas >= 0;
        if (!o) {
            fresh[n_fresh++] = v[i];
            continue;
        }
        for (int r = 0; r < o->n[0]; r++) {
            if (!VEC_RESERVE_AT(moving, cap, (size_t)n_moving + 1))
                break;
            moving[n_moving++] = o->ids[0][r];
        }
    }
    if (!fresh)
        rc = cli_fail("out of memory");
    else if (all_moving)
        rc = ra_throttle_rate(k, moving, n_moving, a->throttle);
    else
        rc = ra_throttle_set(k, md, fresh, n_fresh, a->throttle, moving, n_moving);
    int n_ok = 0;
    if (rc == CLI_OK && !all_moving) {
        rc = ra_alter(k, a, v, n, false, &n_ok);
        if (n_ok == 0) /* nothing started: the throttle would only linger */
            (void)ra_clear(k, md, fresh, n_fresh);
    }
    free(fresh);
    free(moving);
    free(on);
    return rc;
}

/* --cancel without a file: every reassignment in progress. */
static int ra_cancel_all(struct kraw *k, const struct ra_args *a,
                         const struct rd_kafka_metadata *md)
{
    struct ra_ongoing *on = NULL;
    int n_on = 0;
    int rc = ra_list(k, a, &on, &n_on);
    if (rc != CLI_OK)
        return rc;
    if (n_on == 0) {
        free(on);
        printf("No reassignment in progress.\n");
        return CLI_OK;
    }
    struct reassign_entry *v = calloc((size_t)n_on, sizeof(*v));
    if (!v) {
        free(on);
        return cli_fail("out of memory");
    }
    for (int i = 0; i < n_on; i++) {
        snprintf(v[i].topic, sizeof(v[i].topic), "%s", on[i].topic);
        v[i].partition = on[i].partition;
        v[i].n_replicas = -1;
    }
    free(on);
    rc = ra_alter(k, a, v, n_on, true, NULL);
    int crc = ra_clear(k, md, v, n_on);
    free(v);
    return rc != CLI_OK ? rc : crc;
}

static int ra_run(const struct ra_args *a, rd_kafka_t *rk, const struct rd_kafka_metadata *md,
                  struct reassign_entry *v, int n)
{
    int32_t id = rd_kafka_controllerid(rk, RA_CONTROLLER_WAIT_MS);
    if (id < 0)
        return cli_fail("no controller is known (the cluster has no active controller)");
    const struct rd_kafka_metadata_broker *b = cli_md_broker(md, id);
    if (!b)
        return cli_fail("the controller (broker %d) is not in the broker list", id);
    struct kraw k;
    int rc;
    if (kraw_connect(&k, b->host, b->port, (int)a->timeout_ms + 5000) != KRAW_OK)
        rc = cli_fail("%s", k.reason);
    else if (a->mode == RA_EXECUTE)
        rc = ra_execute(&k, a, v, n, md);
    else if (a->mode == RA_STATUS)
        rc = ra_status(&k, a, v, n, md);
    else if (!v)
        rc = ra_cancel_all(&k, a, md);
    else {
        rc = ra_alter(&k, a, v, n, true, NULL);
        int crc = ra_clear(&k, md, v, n);
        rc = rc != CLI_OK ? rc : crc;
    }
    kraw_close(&k);
    return rc;
}

int cluster_reassign(struct cli *cli, int argc, char **argv)
{
    for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--plan") == 0)
            return cluster_reassign_plan(cli, argc, argv); /* cluster_reassign_plan.c */
    }
    struct ra_args a = {.timeout_ms = RA_DEFAULT_TIMEOUT_MS};
    int done, npos = cli_parse_cmd(cli, argc, argv, ra_opts, ra_opt, &a, ra_help, &done);
    if (npos < 0)
        return done;
    if (npos > 0)
        return cli_usage_positional(cli, "unexpected argument");
    if (a.mode == 0 || a.twice)
        return cli_usage_positional(cli, "give one of --execute, --status, --cancel");
    if (a.mode == RA_EXECUTE && !a.file)
        return cli_usage_positional(cli, "--execute needs --file PLAN.json");
    if (a.throttle > 0 && a.mode != RA_EXECUTE)
        return cli_usage_positional(cli, "--throttle goes with --execute");
    struct reassign_entry *v = NULL;
    int n = 0;
    int rc = a.file ? ra_read_plan(a.file, &v, &n) : CLI_OK;
    if (rc != CLI_OK)
        return rc;
    if (a.file && n == 0) {
        free(v);
        return cli_fail("%s: the plan lists no partition", a.file);
    }
    rd_kafka_t *rk;
    const struct rd_kafka_metadata *md;
    rc = cli_cluster_metadata(cli, &rk, &md);
    if (rc != CLI_OK) {
        free(v);
        return rc;
    }
    rc = a.file ? ra_check_plan(a.file, v, n, md) : CLI_OK;
    if (rc == CLI_OK)
        rc = ra_run(&a, rk, md, v, n);
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    free(v);
    return rc;
}
