/*
 * cli/transactions.c — `gregor transactions list | describe`: the transaction coordinators'
 * view of transactional ids, as Kafka's kafka-transactions.sh shows it, through Kafka's
 * ListTransactions (API key 66) and DescribeTransactions (key 65) requests, both v0 and
 * flexible, sent with the raw client (kraw.h): librdkafka 2.0.2 has neither.
 *
 * list asks every broker of the cluster's metadata (each coordinates the ids of the
 * `__transaction_state` partitions it leads) with the --state and --producer-id filters;
 * describe asks FindCoordinator (v1, key_type 1) for the id's coordinator, then that broker.
 * Retriable answers (COORDINATOR_LOAD_IN_PROGRESS, NOT_COORDINATOR after a move,
 * COORDINATOR_NOT_AVAILABLE) are retried for up to TX_TIMEOUT_MS.
 *
 * Wire formats (Kafka's, v0): ListTransactions request state_filters [string],
 * producer_id_filters [int64]; response throttle_time_ms, error_code, unknown_state_filters
 * [string], transaction_states [transactional_id, producer_id int64, transaction_state].
 * DescribeTransactions request transactional_ids [string]; response throttle_time_ms,
 * transaction_states [error_code, transactional_id, transaction_state, transaction_timeout_ms
 * int32, transaction_start_time_ms int64, producer_id int64, producer_epoch int32, topics [name,
 * partition_indexes [int32]]]. Compact strings and arrays, tagged fields after every struct.
 *
 * Text output: list prints "TRANSACTIONAL_ID COORDINATOR PRODUCER_ID STATE", one row per id
 * sorted by id; describe prints "Key: value" lines. JSON (--output json): one document, shapes
 * in docs/cli.md. Exit status 1 when a broker could not be asked (list: the rows of the others
 * are printed) or the id is not found; 2 for bad usage.
 *
 * Threads: main thread only.
 */
#include "cli/cli.h"
#include "cli/group.h"
#include "cli/group_plan.h"
#include "cli/kraw.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/base.h"
#include "common/err.h"
#include "common/kwire.h"

#define TX_TIMEOUT_MS 15000 /* per command, retries included */
#define TX_RETRY_MS 200
#define TX_MAX_FILTERS 64

/* Kafka's transaction state names (TransactionState.name), the ListTransactions filters. */
static const char *const tx_states[] = {"Empty",        "Ongoing",          "PrepareCommit",
                                        "PrepareAbort", "CompleteCommit",   "CompleteAbort",
                                        "Dead",         "PrepareEpochFence"};

static int64_t tx_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void tx_sleep(void)
{
    struct timespec ts = {0, TX_RETRY_MS * 1000000L};
    nanosleep(&ts, NULL);
}

static bool tx_retriable(int16_t err)
{
    return err == KERR_COORDINATOR_LOAD_IN_PROGRESS || err == KERR_NOT_COORDINATOR ||
           err == KERR_COORDINATOR_NOT_AVAILABLE;
}

/* Connects to host:port and checks that it serves api_key v0. KRAW_OK, else KRAW_ERR with
 * *why set (k is closed by the caller either way). */
static int tx_open(struct kraw *k, const char *host, int port, int16_t api_key, const char **why)
{
    int16_t max = -1;
    int rc = kraw_connect(k, host, port, TX_TIMEOUT_MS);
    if (rc == KRAW_OK)
        rc = kraw_api_max_version(k, api_key, &max);
    *why = k->reason;
    if (rc == KRAW_OK && max < 0) {
        *why = "does not support the request (not in ApiVersions)";
        rc = KRAW_ERR;
    }
    return rc;
}

/* ---- transactions list --------------------------------------------------- */

struct tx_row {
    char *id; /* owned */
    int32_t coordinator;
    int64_t pid;
    char state[24];
};

struct tx_list_args {
    bool json;
    const char *states[TX_MAX_FILTERS]; /* Kafka's spelling (tx_states) */
    int n_states;
    int64_t pids[TX_MAX_FILTERS];
    int n_pids;
};

enum { TL_OUTPUT = GRP_OPT_OUTPUT, TL_STATE, TL_PID };

static int tx_list_opt(void *ctx, int id, const char *val)
{
    struct tx_list_args *a = ctx;
    if (id == TL_OUTPUT)
        return grp_parse_output(val, &a->json);
    if (id == TL_PID) {
        if (a->n_pids >= TX_MAX_FILTERS)
            return cli_usage_error("--producer-id: at most %d", TX_MAX_FILTERS);
        if (!cli_parse_int(val, 0, INT64_MAX, &a->pids[a->n_pids]))
            return cli_usage_error("--producer-id: expected a producer id >= 0, got '%s'", val);
        a->n_pids++;
        return CLI_OK;
    }
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", val);
    char *save = NULL;
    for (char *s = strtok_r(buf, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
        const char *known = NULL;
        for (size_t i = 0; i < ARRAY_LEN(tx_states); i++)
            if (strcasecmp(s, tx_states[i]) == 0)
                known = tx_states[i];
        if (!known)
            return cli_usage_error("--state: unknown state '%s' (Empty, Ongoing, PrepareCommit, "
                                   "PrepareAbort, CompleteCommit, CompleteAbort, "
                                   "PrepareEpochFence)",
                                   s);
        if (a->n_states >= TX_MAX_FILTERS)
            return cli_usage_error("--state: at most %d", TX_MAX_FILTERS);
        a->states[a->n_states++] = known;
    }
    return CLI_OK;
}

/* Decodes one ListTransactions answer of broker `node` into rows. KERR_NONE, the answer's
 * error, or KERR__CORRUPT. */
static kerr_t tx_list_decode(const uint8_t *p, size_t len, int32_t node, struct tx_row **rows,
                             size_t *n, size_t *cap)
{
    struct kslice s;
    kslice_init(&s, p, len);
    (void)kslice_i32(&s); /* throttle */
    int16_t err = kslice_i16(&s);
    int32_t nu = kw_get_array_len(&s, true, 1);
    for (int32_t i = 0; i < nu; i++)
        (void)kw_get_str(&s, true);
    int32_t nr = kw_get_array_len(&s, true, 11);
    if (!kslice_ok(&s) || nu < 0 || nr < 0)
        return KERR__CORRUPT;
    for (int32_t i = 0; i < nr; i++) {
        struct kstr id = kw_get_str(&s, true);
        int64_t pid = kslice_i64(&s);
        struct kstr st = kw_get_str(&s, true);
        kw_skip_tags(&s, true);
        if (!kslice_ok(&s) || !id.ptr || !st.ptr)
            return KERR__CORRUPT;
        if (*n == *cap) {
            size_t nc = *cap ? *cap * 2 : 16;
            struct tx_row *v = realloc(*rows, nc * sizeof(*v));
            if (!v)
                return KERR__NOMEM;
            *rows = v;
            *cap = nc;
        }
        struct tx_row *r = &(*rows)[*n];
        r->id = kstr_dup(id);
        if (!r->id)
            return KERR__NOMEM;
        r->coordinator = node;
        r->pid = pid;
        if (!kstr_copy(st, r->state, sizeof(r->state)))
            snprintf(r->state, sizeof(r->state), "?");
        (*n)++;
    }
    kw_skip_tags(&s, true);
    if (!kslice_ok(&s) || kslice_remaining(&s) != 0)
        return KERR__CORRUPT;
    return (kerr_t)err;
}

/* Asks one broker, retrying a retriable error until the deadline. false after printing. */
static bool tx_list_broker(const struct rd_kafka_metadata_broker *b, const struct tx_list_args *a,
                           int64_t deadline, struct tx_row **rows, size_t *n, size_t *cap)
{
    struct kbuf body;
    kbuf_init(&body);
    kw_put_array_len(&body, true, a->n_states);
    for (int i = 0; i < a->n_states; i++)
        kw_put_str(&body, true, a->states[i]);
    kw_put_array_len(&body, true, a->n_pids);
    for (int i = 0; i < a->n_pids; i++)
        kbuf_put_i64(&body, a->pids[i]);
    kw_put_tags(&body, true);
    bool ok = false;
    for (;;) {
        struct kraw k;
        const char *why = NULL;
        uint8_t *resp = NULL;
        size_t len = 0, before = *n;
        kerr_t err = KERR__CORRUPT;
        int rc = tx_open(&k, b->host, b->port, API_LIST_TRANSACTIONS, &why);
        if (rc == KRAW_OK)
            rc = kraw_call(&k, API_LIST_TRANSACTIONS, 0, &body, &resp, &len);
        if (rc == KRAW_OK)
            err = tx_list_decode(resp, len, b->id, rows, n, cap);
        free(resp);
        if (rc != KRAW_OK) {
            cli_warn("broker %d (%s:%d): %s", b->id, b->host, b->port, why ? why : k.reason);
        } else if (err == KERR_NONE) {
            ok = true;
        } else {
            for (size_t i = before; i < *n; i++)
                free((*rows)[i].id);
            *n = before;
            if (tx_retriable((int16_t)err) && tx_now_ms() + TX_RETRY_MS < deadline) {
                kraw_close(&k);
                tx_sleep();
                continue;
            }
            cli_warn("broker %d (%s:%d): %s", b->id, b->host, b->port,
                     err == KERR__CORRUPT ? "malformed ListTransactions response" : kerr_name(err));
        }
        kraw_close(&k);
        break;
    }
    kbuf_destroy(&body);
    return ok;
}

static int tx_row_cmp(const void *x, const void *y)
{
    const struct tx_row *a = x, *b = y;
    int c = strcmp(a->id, b->id);
    return c ? c : (a->coordinator > b->coordinator) - (a->coordinator < b->coordinator);
}

static void tx_list_print(const struct tx_list_args *a, const struct tx_row *rows, size_t n)
{
    if (a->json) {
        fputs("{\"transactions\": [", stdout);
        for (size_t i = 0; i < n; i++) {
            fputs(i ? ",\n  {\"transactional_id\": " : "\n  {\"transactional_id\": ", stdout);
            gp_json_str(stdout, rows[i].id);
            printf(", \"coordinator\": %" PRId32 ", \"producer_id\": %" PRId64 ", \"state\": ",
                   rows[i].coordinator, rows[i].pid);
            gp_json_str(stdout, rows[i].state);
            putchar('}');
        }
        fputs("]}\n", stdout);
        return;
    }
    int w = (int)strlen("TRANSACTIONAL_ID");
    for (size_t i = 0; i < n; i++)
        w = MAX(w, (int)strlen(rows[i].id));
    printf("%-*s  %-11s  %-19s  %s\n", w, "TRANSACTIONAL_ID", "COORDINATOR", "PRODUCER_ID",
           "STATE");
    for (size_t i = 0; i < n; i++)
        printf("%-*s  %-11" PRId32 "  %-19" PRId64 "  %s\n", w, rows[i].id, rows[i].coordinator,
               rows[i].pid, rows[i].state);
}

static const char tx_list_help[] =
    "Usage: gregor transactions list [--state S[,S...]]... [--producer-id P]... [--output json]\n"
    "Lists the transactional ids every broker coordinates (Kafka's ListTransactions):\n"
    "id, coordinator, producer id and state.\n"
    "  -s, --state S[,S...]   only ids in these states (Empty, Ongoing, PrepareCommit,\n"
    "                         PrepareAbort, CompleteCommit, CompleteAbort,\n"
    "                         PrepareEpochFence); repeatable\n"
    "  -p, --producer-id P    only ids of this producer id; repeatable\n"
    "  -o, --output json      one JSON document instead of the table\n"
    "Exit status 1 if a broker could not be asked (the others' ids are printed).\n";

static int tx_list(struct cli *cli, int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"output", 'o', true, TL_OUTPUT},
        {"state", 's', true, TL_STATE},
        {"producer-id", 'p', true, TL_PID},
        {NULL, 0, false, 0},
    };
    struct tx_list_args a = {0};
    int done, npos = cli_parse_cmd(cli, argc, argv, opts, tx_list_opt, &a, tx_list_help, &done);
    if (npos < 0)
        return done;
    if (npos > 0)
        return cli_usage_positional(cli, "takes no arguments");
    rd_kafka_t *rk;
    const struct rd_kafka_metadata *md;
    int rc = cli_cluster_metadata(cli, &rk, &md);
    if (rc != CLI_OK)
        return rc;
    struct tx_row *rows = NULL;
    size_t n = 0, cap = 0;
    bool failed = false;
    int64_t deadline = tx_now_ms() + TX_TIMEOUT_MS;
    for (int i = 0; i < md->broker_cnt; i++)
        failed |= !tx_list_broker(&md->brokers[i], &a, deadline, &rows, &n, &cap);
    if (n > 1)
        qsort(rows, n, sizeof(*rows), tx_row_cmp);
    tx_list_print(&a, rows, n);
    fflush(stdout);
    for (size_t i = 0; i < n; i++)
        free(rows[i].id);
    free(rows);
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return failed ? cli_fail("some brokers could not be asked; the list is incomplete") : CLI_OK;
}

/* ---- transactions describe ----------------------------------------------- */

/* FindCoordinator v1 (key_type 1) for id on any broker of md: KERR_NONE with the
 * coordinator's address, the answer's error, or KERR__IO (printed in *why). */
static kerr_t tx_find(const struct rd_kafka_metadata *md, const char *id, int32_t *node, char *host,
                      size_t host_len, int *port, char *why, size_t why_len)
{
    struct kbuf body;
    kbuf_init(&body);
    kw_put_str(&body, false, id);
    kbuf_put_u8(&body, 1); /* key_type: transaction */
    kerr_t err = KERR__IO;
    snprintf(why, why_len, "no broker to ask");
    for (int i = 0; i < md->broker_cnt && err == KERR__IO; i++) {
        struct kraw k;
        uint8_t *resp = NULL;
        size_t len = 0;
        int rc = kraw_connect(&k, md->brokers[i].host, md->brokers[i].port, TX_TIMEOUT_MS);
        if (rc == KRAW_OK)
            rc = kraw_call(&k, API_FIND_COORDINATOR, 1, &body, &resp, &len);
        if (rc != KRAW_OK) {
            snprintf(why, why_len, "broker %d: %s", md->brokers[i].id, k.reason);
        } else {
            struct kslice s;
            kslice_init(&s, resp, len);
            (void)kslice_i32(&s);
            int16_t e = kslice_i16(&s);
            (void)kw_get_str(&s, false);
            *node = kslice_i32(&s);
            struct kstr h = kw_get_str(&s, false);
            *port = kslice_i32(&s);
            if (!kslice_ok(&s) || !h.ptr || !kstr_copy(h, host, host_len))
                snprintf(why, why_len, "broker %d: malformed FindCoordinator response",
                         md->brokers[i].id);
            else
                err = (kerr_t)e;
        }
        free(resp);
        kraw_close(&k);
    }
    kbuf_destroy(&body);
    return err;
}

struct tx_part {
    char *topic; /* owned */
    int32_t partition;
};

struct tx_desc {
    int16_t err;
    char state[24];
    int32_t timeout_ms, epoch;
    int64_t start_ms, pid;
    struct tx_part *parts; /* owned, n_parts */
    size_t n_parts;
};

static void tx_desc_free(struct tx_desc *d)
{
    for (size_t i = 0; i < d->n_parts; i++)
        free(d->parts[i].topic);
    free(d->parts);
    d->parts = NULL;
    d->n_parts = 0;
}

/* Decodes a DescribeTransactions answer for one id into *d (zeroed first). false if
 * malformed or out of memory. */
static bool tx_desc_decode(const uint8_t *p, size_t len, struct tx_desc *d)
{
    struct kslice s;
    kslice_init(&s, p, len);
    (void)kslice_i32(&s);
    if (kw_get_array_len(&s, true, 1) != 1)
        return false;
    d->err = kslice_i16(&s);
    (void)kw_get_str(&s, true);
    struct kstr st = kw_get_str(&s, true);
    d->timeout_ms = kslice_i32(&s);
    d->start_ms = kslice_i64(&s);
    d->pid = kslice_i64(&s);
    d->epoch = kslice_i32(&s);
    int32_t nt = kw_get_array_len(&s, true, 2);
    if (!kslice_ok(&s) || !st.ptr || nt < 0 || !kstr_copy(st, d->state, sizeof(d->state)))
        return false;
    for (int32_t i = 0; i < nt; i++) {
        struct kstr name = kw_get_str(&s, true);
        int32_t np = kw_get_array_len(&s, true, 4);
        if (!kslice_ok(&s) || !name.ptr || np < 0)
            return false;
        struct tx_part *v = realloc(d->parts, (d->n_parts + (size_t)np + 1) * sizeof(*v));
        if (!v)
            return false;
        d->parts = v;
        for (int32_t j = 0; j < np; j++) {
            char *topic = kstr_dup(name);
            if (!topic)
                return false;
            d->parts[d->n_parts++] = (struct tx_part){topic, kslice_i32(&s)};
        }
        kw_skip_tags(&s, true);
    }
    kw_skip_tags(&s, true);
    kw_skip_tags(&s, true);
    return kslice_ok(&s) && kslice_remaining(&s) == 0;
}

/* DescribeTransactions v0 for id at host:port. KERR_NONE with *d filled (d->err is the id's
 * error), or KERR__IO with *why set. */
static kerr_t tx_describe_at(const char *host, int port, const char *id, struct tx_desc *d,
                             char *why, size_t why_len)
{
    struct kraw k;
    struct kbuf body;
    uint8_t *resp = NULL;
    size_t len = 0;
    const char *reason = NULL;
    kbuf_init(&body);
    kw_put_array_len(&body, true, 1);
    kw_put_str(&body, true, id);
    kw_put_tags(&body, true);
    int rc = tx_open(&k, host, port, API_DESCRIBE_TRANSACTIONS, &reason);
    if (rc == KRAW_OK)
        rc = kraw_call(&k, API_DESCRIBE_TRANSACTIONS, 0, &body, &resp, &len);
    kerr_t err = KERR_NONE;
    if (rc != KRAW_OK) {
        snprintf(why, why_len, "%s:%d: %s", host, port, reason ? reason : k.reason);
        err = KERR__IO;
    } else if (!tx_desc_decode(resp, len, d)) {
        snprintf(why, why_len, "%s:%d: malformed DescribeTransactions response", host, port);
        err = KERR__IO;
    }
    free(resp);
    kbuf_destroy(&body);
    kraw_close(&k);
    return err;
}

static void tx_desc_print(bool json, const char *id, int32_t node, const struct tx_desc *d)
{
    if (json) {
        fputs("{\"transactional_id\": ", stdout);
        gp_json_str(stdout, id);
        printf(", \"coordinator\": %" PRId32 ", \"state\": ", node);
        gp_json_str(stdout, d->state);
        printf(", \"producer_id\": %" PRId64 ", \"producer_epoch\": %" PRId32
               ", \"timeout_ms\": %" PRId32 ", \"start_time_ms\": %" PRId64 ", \"partitions\": [",
               d->pid, d->epoch, d->timeout_ms, d->start_ms);
        for (size_t i = 0; i < d->n_parts; i++) {
            fputs(i ? ", {\"topic\": " : "{\"topic\": ", stdout);
            gp_json_str(stdout, d->parts[i].topic);
            printf(", \"partition\": %" PRId32 "}", d->parts[i].partition);
        }
        fputs("]}\n", stdout);
        return;
    }
    printf("Transactional id:  %s\n", id);
    printf("Coordinator:       %" PRId32 "\n", node);
    printf("State:             %s\n", d->state);
    printf("Producer id:       %" PRId64 "\n", d->pid);
    printf("Producer epoch:    %" PRId32 "\n", d->epoch);
    printf("Timeout ms:        %" PRId32 "\n", d->timeout_ms);
    if (d->start_ms >= 0)
        printf("Start time ms:     %" PRId64 "\n", d->start_ms);
    else
        printf("Start time ms:     - (no transaction open)\n");
    printf("Partitions:        ");
    for (size_t i = 0; i < d->n_parts; i++)
        printf(i ? ", %s-%" PRId32 : "%s-%" PRId32, d->parts[i].topic, d->parts[i].partition);
    printf(d->n_parts ? "\n" : "-\n");
}

static const char tx_describe_help[] =
    "Usage: gregor transactions describe ID [--output json]\n"
    "Describes one transactional id as its coordinator knows it (Kafka's\n"
    "DescribeTransactions): state, producer id and epoch, timeout, the start of the\n"
    "open transaction and its partitions.\n"
    "  -o, --output json   one JSON document instead of the text\n"
    "Exit status 1 if the id is not found or the coordinator could not be asked.\n";

static int tx_describe(struct cli *cli, int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"output", 'o', true, GRP_OPT_OUTPUT},
        {NULL, 0, false, 0},
    };
    bool json = false;
    int done,
        npos = cli_parse_cmd(cli, argc, argv, opts, grp_output_opt, &json, tx_describe_help, &done);
    if (npos < 0)
        return done;
    if (npos != 1)
        return cli_usage_positional(cli, npos == 0 ? "missing ID" : "one ID only");
    const char *id = argv[0];
    if (!id[0] || strlen(id) > INT16_MAX)
        return cli_usage_error("a transactional id has 1 to 32767 bytes");
    rd_kafka_t *rk;
    const struct rd_kafka_metadata *md;
    int rc = cli_cluster_metadata(cli, &rk, &md);
    if (rc != CLI_OK)
        return rc;
    int64_t deadline = tx_now_ms() + TX_TIMEOUT_MS;
    char why[1024] = "", host[256];
    int32_t node = -1;
    int port = 0;
    struct tx_desc d = {0};
    kerr_t err;
    for (;;) {
        tx_desc_free(&d);
        err = tx_find(md, id, &node, host, sizeof(host), &port, why, sizeof(why));
        if (err == KERR_NONE)
            err = tx_describe_at(host, port, id, &d, why, sizeof(why));
        if (err == KERR_NONE)
            err = (kerr_t)d.err;
        if (err >= 0 && tx_retriable((int16_t)err) && tx_now_ms() + TX_RETRY_MS < deadline) {
            tx_sleep();
            continue;
        }
        break;
    }
    if (err == KERR_NONE) {
        tx_desc_print(json, id, node, &d);
        fflush(stdout);
    } else if (err == KERR__IO) {
        rc = cli_fail("transactional id '%s': %s", id, why);
    } else {
        rc = cli_fail("transactional id '%s': %s", id, kerr_name(err));
    }
    tx_desc_free(&d);
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return rc;
}

/* ---- dispatcher ---------------------------------------------------------- */

static const char tx_help[] =
    "Usage: gregor transactions <subcommand> [ARGS]\n"
    "Transactional ids as their coordinators know them. Every subcommand takes\n"
    "--output json.\n"
    "\n"
    "  list [--state S[,S...]] [--producer-id P]   ids of every coordinator\n"
    "  describe ID                                 one id: state, producer, partitions\n"
    "Run 'gregor transactions <subcommand> --help' for details.\n";

static const struct cli_sub tx_subs[] = {
    {"list", "transactions list", tx_list},
    {"describe", "transactions describe", tx_describe},
};

int transactions_main(struct cli *cli, int argc, char **argv)
{
    return cli_run_sub(cli, argc, argv, tx_subs, ARRAY_LEN(tx_subs), tx_help);
}
