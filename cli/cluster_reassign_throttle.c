/*
 * cli/cluster_reassign_throttle.c — sets, changes and clears the
 * replication throttle of a reassignment (cli/reassign_throttle.h; keys:
 * docs/configuration.md "Replication throttles").
 *
 * Wire (Kafka's schemas, non-flexible):
 *   DescribeConfigs v1 request: resources[type INT8 (2 topic), name STRING,
 *     keys NULLABLE ARRAY of STRING], include_synonyms BOOL; response:
 *     throttle INT32, results[error INT16, message NULLABLE_STRING, type
 *     INT8, name STRING, configs[name STRING, value NULLABLE_STRING,
 *     read_only BOOL, source INT8, sensitive BOOL, synonyms[name STRING,
 *     value NULLABLE_STRING, source INT8]]].
 *   IncrementalAlterConfigs v0 request: resources[type INT8 (2 topic,
 *     4 broker), name STRING, configs[name STRING, op INT8 (0 SET,
 *     1 DELETE), value NULLABLE_STRING]], validate_only BOOL; response:
 *     throttle INT32, responses[error INT16, message NULLABLE_STRING, type
 *     INT8, name STRING].
 * A throttled-replicas list is kept as ",P:B,P:B," while it is built (so a
 * pair is found with strstr) and sent without the outer commas.
 */
#include "cli/cli.h"
#include "cli/reassign_throttle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/kwire.h"
#include "common/vec.h"

#define RES_TOPIC 2
#define RES_BROKER 4
#define SRC_DYNAMIC_TOPIC 1

static const char *const rt_list_keys[2] = {"leader.replication.throttled.replicas",
                                            "follower.replication.throttled.replicas"};
static const char *const rt_rate_keys[2] = {"leader.replication.throttled.rate",
                                            "follower.replication.throttled.rate"};

/* A growable string. */
struct rt_str {
    char *p;
    size_t len, cap;
};

/* One topic: its lists (leader, follower) as ",P:B,...," and whether the
 * topic had either list set before. */
struct rt_topic {
    const char *name; /* borrowed */
    struct rt_str list[2];
    bool was_set;
    bool star[2]; /* the current list is "*" */
};

struct rt_ids {
    int32_t *v;
    int n;
    size_t cap;
};

static bool rt_str_add(struct rt_str *s, const char *z, size_t n)
{
    if (!VEC_RESERVE_AT(s->p, s->cap, s->len + n + 1))
        return false;
    memcpy(s->p + s->len, z, n);
    s->len += n;
    s->p[s->len] = '\0';
    return true;
}

/* Adds the pair `tok` (no commas) to the list unless it is there. */
static bool rt_list_add(struct rt_str *s, const char *tok, size_t n)
{
    if (n == 0)
        return true;
    if (s->len == 0 && !rt_str_add(s, ",", 1))
        return false;
    char probe[64];
    if (n + 3 <= sizeof(probe)) {
        snprintf(probe, sizeof(probe), ",%.*s,", (int)n, tok);
        if (strstr(s->p, probe))
            return true;
    }
    return rt_str_add(s, tok, n) && rt_str_add(s, ",", 1);
}

/* Adds every comma-separated pair of value (blanks trimmed). */
static bool rt_list_add_all(struct rt_str *s, const char *value, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && value[j] != ',')
            j++;
        size_t a = i, b = j;
        while (a < b && (value[a] == ' ' || value[a] == '\t'))
            a++;
        while (b > a && (value[b - 1] == ' ' || value[b - 1] == '\t'))
            b--;
        if (!rt_list_add(s, value + a, b - a))
            return false;
        i = j + 1;
    }
    return true;
}

/* The list as sent: without the outer commas ("" when empty). */
static void rt_list_put(struct kbuf *b, const struct rt_str *s, bool star)
{
    if (star)
        kw_put_str(b, false, "*");
    else if (s->len < 2)
        kw_put_str(b, false, "");
    else
        kw_put_strn(b, false, s->p + 1, s->len - 2);
}

static bool rt_ids_add(struct rt_ids *ids, int32_t id)
{
    for (int i = 0; i < ids->n; i++)
        if (ids->v[i] == id)
            return true;
    if (!VEC_RESERVE_AT(ids->v, ids->cap, (size_t)ids->n + 1))
        return false;
    ids->v[ids->n++] = id;
    return true;
}

static int rt_id_cmp(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static void rt_print_ids(const int32_t *v, int n)
{
    for (int i = 0; i < n; i++)
        printf("%s%d", i ? "," : "", v[i]);
}

static void rt_topics_free(struct rt_topic *t, int n)
{
    for (int i = 0; i < n; i++)
        for (int l = 0; l < 2; l++)
            free(t[i].list[l].p);
    free(t);
}

/* Sends one request; CLI_OK with *resp (new) and *len. */
static int rt_call(struct kraw *k, int16_t key, const struct kbuf *body, uint8_t **resp,
                   size_t *len)
{
    int krc = kraw_call(k, key, key == API_DESCRIBE_CONFIGS ? 1 : 0, body, resp, len);
    if (krc != KRAW_OK)
        return cli_fail("%s (replication throttle) failed: %s", api_key_name(key), k->reason);
    return CLI_OK;
}

/* DescribeConfigs of both lists of every topic: fills list[], star[] and
 * was_set from the current overrides. */
static int rt_describe(struct kraw *k, struct rt_topic *t, int nt)
{
    struct kbuf body;
    kbuf_init(&body);
    kw_put_array_len(&body, false, nt);
    for (int i = 0; i < nt; i++) {
        kbuf_put_u8(&body, RES_TOPIC);
        kw_put_str(&body, false, t[i].name);
        kw_put_array_len(&body, false, 2);
        kw_put_str(&body, false, rt_list_keys[0]);
        kw_put_str(&body, false, rt_list_keys[1]);
    }
    kbuf_put_u8(&body, 0); /* include_synonyms */
    uint8_t *resp = NULL;
    size_t len = 0;
    int rc = rt_call(k, API_DESCRIBE_CONFIGS, &body, &resp, &len);
    kbuf_destroy(&body);
    if (rc != CLI_OK)
        return rc;
    struct kslice s;
    kslice_init(&s, resp, len);
    (void)kslice_i32(&s);
    int32_t nr = kw_get_array_len(&s, false, 10);
    for (int32_t r = 0; r < nr && kslice_ok(&s) && rc == CLI_OK; r++) {
        int16_t err = kslice_i16(&s);
        struct kstr msg = kw_get_str(&s, false);
        (void)kslice_u8(&s);
        struct kstr name = kw_get_str(&s, false);
        struct rt_topic *tp = NULL;
        for (int i = 0; i < nt && !tp && name.ptr; i++)
            if (strlen(t[i].name) == (size_t)name.len &&
                memcmp(t[i].name, name.ptr, (size_t)name.len) == 0)
                tp = &t[i];
        if (kslice_ok(&s) && err != 0)
            rc = cli_fail("DescribeConfigs of topic '%.*s' failed: %s%s%.*s",
                          name.ptr ? (int)name.len : 0, name.ptr ? name.ptr : "",
                          rd_kafka_err2name((rd_kafka_resp_err_t)err), msg.ptr ? ": " : "",
                          msg.ptr ? (int)msg.len : 0, msg.ptr ? msg.ptr : "");
        int32_t nc = kw_get_array_len(&s, false, 8);
        for (int32_t c = 0; c < nc && kslice_ok(&s); c++) {
            struct kstr key = kw_get_str(&s, false);
            struct kstr value = kw_get_str(&s, false);
            (void)kslice_u8(&s);
            int8_t source = (int8_t)kslice_u8(&s);
            (void)kslice_u8(&s);
            int32_t ns = kw_get_array_len(&s, false, 5);
            for (int32_t y = 0; y < ns && kslice_ok(&s); y++) {
                (void)kw_get_str(&s, false);
                (void)kw_get_str(&s, false);
                (void)kslice_u8(&s);
            }
            if (!kslice_ok(&s) || !tp || !key.ptr || !value.ptr || source != SRC_DYNAMIC_TOPIC ||
                value.len == 0)
                continue;
            for (int l = 0; l < 2; l++) {
                if (strlen(rt_list_keys[l]) != (size_t)key.len ||
                    memcmp(rt_list_keys[l], key.ptr, (size_t)key.len) != 0)
                    continue;
                tp->was_set = true;
                if (value.len == 1 && value.ptr[0] == '*')
                    tp->star[l] = true;
                else if (!rt_list_add_all(&tp->list[l], value.ptr, (size_t)value.len))
                    rc = cli_fail("out of memory");
            }
        }
    }
    if (rc == CLI_OK && !kslice_ok(&s))
        rc = cli_fail("malformed DescribeConfigs response");
    free(resp);
    return rc;
}

/* Sends the IncrementalAlterConfigs in body; fails on the first error. */
static int rt_alter(struct kraw *k, const struct kbuf *body)
{
    uint8_t *resp = NULL;
    size_t len = 0;
    int rc = rt_call(k, API_INCREMENTAL_ALTER_CONFIGS, body, &resp, &len);
    if (rc != CLI_OK)
        return rc;
    struct kslice s;
    kslice_init(&s, resp, len);
    (void)kslice_i32(&s);
    int32_t nr = kw_get_array_len(&s, false, 8);
    for (int32_t r = 0; r < nr && kslice_ok(&s) && rc == CLI_OK; r++) {
        int16_t err = kslice_i16(&s);
        struct kstr msg = kw_get_str(&s, false);
        int8_t type = (int8_t)kslice_u8(&s);
        struct kstr name = kw_get_str(&s, false);
        if (kslice_ok(&s) && err != 0)
            rc = cli_fail("setting the replication throttle of %s '%.*s' failed: %s%s%.*s",
                          type == RES_BROKER ? "broker" : "topic", name.ptr ? (int)name.len : 0,
                          name.ptr ? name.ptr : "", rd_kafka_err2name((rd_kafka_resp_err_t)err),
                          msg.ptr ? ": " : "", msg.ptr ? (int)msg.len : 0, msg.ptr ? msg.ptr : "");
    }
    if (rc == CLI_OK && !kslice_ok(&s))
        rc = cli_fail("malformed IncrementalAlterConfigs response");
    free(resp);
    return rc;
}

/* Appends broker resources: both rates SET to rate (rate < 0: DELETE). */
static void rt_put_brokers(struct kbuf *b, const int32_t *ids, int n, int64_t rate)
{
    char name[16], val[24];
    snprintf(val, sizeof(val), "%lld", (long long)rate);
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "%d", ids[i]);
        kbuf_put_u8(b, RES_BROKER);
        kw_put_str(b, false, name);
        kw_put_array_len(b, false, 2);
        for (int l = 0; l < 2; l++) {
            kw_put_str(b, false, rt_rate_keys[l]);
            kbuf_put_u8(b, rate < 0 ? 1 : 0);
            kw_put_nstr(b, false, rate < 0 ? NULL : val);
        }
    }
}

/* The distinct topics of v (v sorted or not); *out new. */
static int rt_topics_of(const struct reassign_entry *v, int n, struct rt_topic **out, int *nt)
{
    *out = calloc((size_t)(n ? n : 1), sizeof(**out));
    *nt = 0;
    if (!*out)
        return cli_fail("out of memory");
    for (int i = 0; i < n; i++) {
        if (v[i].n_replicas < 0)
            continue;
        bool seen = false;
        for (int j = 0; j < *nt && !seen; j++)
            seen = strcmp((*out)[j].name, v[i].topic) == 0;
        if (!seen)
            (*out)[(*nt)++].name = v[i].topic;
    }
    return CLI_OK;
}

int ra_throttle_set(struct kraw *k, const struct rd_kafka_metadata *md,
                    const struct reassign_entry *v, int n, int64_t rate, const int32_t *extra,
                    int n_extra)
{
    struct rt_topic *t;
    int nt;
    int rc = rt_topics_of(v, n, &t, &nt);
    if (rc != CLI_OK)
        return rc;
    rc = nt > 0 ? rt_describe(k, t, nt) : CLI_OK;
    struct rt_ids ids = {0};
    bool ok = true;
    for (int i = 0; i < n_extra; i++)
        ok = ok && rt_ids_add(&ids, extra[i]);
    for (int i = 0; i < n && rc == CLI_OK && ok; i++) {
        if (v[i].n_replicas < 0)
            continue;
        struct rt_topic *tp = NULL;
        for (int j = 0; j < nt && !tp; j++)
            if (strcmp(t[j].name, v[i].topic) == 0)
                tp = &t[j];
        const struct rd_kafka_metadata_topic *mt = cli_md_topic(md, v[i].topic);
        const struct rd_kafka_metadata_partition *mp = NULL;
        for (int p = 0; mt && p < mt->partition_cnt && !mp; p++)
            if (mt->partitions[p].id == v[i].partition)
                mp = &mt->partitions[p];
        if (!mp || !tp)
            continue; /* checked by the caller (ra_check_plan) */
        char pair[32];
        for (int r = 0; r < mp->replica_cnt && ok; r++) {
            int m = snprintf(pair, sizeof(pair), "%d:%d", v[i].partition, mp->replicas[r]);
            ok = rt_list_add(&tp->list[0], pair, (size_t)m) && rt_ids_add(&ids, mp->replicas[r]);
        }
        for (int r = 0; r < v[i].n_replicas && ok; r++) {
            bool cur = false;
            for (int c = 0; c < mp->replica_cnt && !cur; c++)
                cur = mp->replicas[c] == v[i].replicas[r];
            ok = rt_ids_add(&ids, v[i].replicas[r]);
            if (cur || !ok)
                continue;
            int m = snprintf(pair, sizeof(pair), "%d:%d", v[i].partition, v[i].replicas[r]);
            ok = rt_list_add(&tp->list[1], pair, (size_t)m);
        }
    }
    if (rc == CLI_OK && !ok)
        rc = cli_fail("out of memory");
    if (rc == CLI_OK) {
        /* only live brokers: the controller refuses a move to any other */
        int live = 0;
        for (int i = 0; i < ids.n; i++)
            if (cli_md_broker(md, ids.v[i]))
                ids.v[live++] = ids.v[i];
        ids.n = live;
        qsort(ids.v, (size_t)ids.n, sizeof(*ids.v), rt_id_cmp);
        struct kbuf body;
        kbuf_init(&body);
        kw_put_array_len(&body, false, ids.n + nt);
        rt_put_brokers(&body, ids.v, ids.n, rate);
        for (int i = 0; i < nt; i++) {
            kbuf_put_u8(&body, RES_TOPIC);
            kw_put_str(&body, false, t[i].name);
            kw_put_array_len(&body, false, 2);
            for (int l = 0; l < 2; l++) {
                kw_put_str(&body, false, rt_list_keys[l]);
                kbuf_put_u8(&body, 0);
                rt_list_put(&body, &t[i].list[l], t[i].star[l]);
            }
        }
        kbuf_put_u8(&body, 0); /* validate_only */
        rc = rt_alter(k, &body);
        kbuf_destroy(&body);
    }
    if (rc == CLI_OK) {
        printf("Throttle: %lld B/s on brokers ", (long long)rate);
        rt_print_ids(ids.v, ids.n);
        printf("; throttled replicas set on topic(s) ");
        for (int i = 0; i < nt; i++)
            printf("%s%s", i ? "," : "", t[i].name);
        printf("\n");
    }
    free(ids.v);
    rt_topics_free(t, nt);
    return rc;
}

int ra_throttle_rate(struct kraw *k, const int32_t *b, int nb, int64_t rate)
{
    int32_t *ids = malloc(sizeof(*ids) * (size_t)(nb ? nb : 1));
    if (!ids)
        return cli_fail("out of memory");
    memcpy(ids, b, sizeof(*ids) * (size_t)nb);
    qsort(ids, (size_t)nb, sizeof(*ids), rt_id_cmp);
    struct kbuf body;
    kbuf_init(&body);
    kw_put_array_len(&body, false, nb);
    rt_put_brokers(&body, ids, nb, rate);
    kbuf_put_u8(&body, 0);
    int rc = rt_alter(k, &body);
    kbuf_destroy(&body);
    if (rc == CLI_OK) {
        printf("Throttle: %lld B/s on brokers ", (long long)rate);
        rt_print_ids(ids, nb);
        printf(" (reassignments already in progress)\n");
    }
    free(ids);
    return rc;
}

int ra_throttle_clear(struct kraw *k, const struct rd_kafka_metadata *md, const char *const *names,
                      int n)
{
    struct rt_topic *t = calloc((size_t)(n ? n : 1), sizeof(*t));
    if (!t)
        return cli_fail("out of memory");
    int nt = 0;
    for (int i = 0; i < n; i++) {
        bool seen = false;
        for (int j = 0; j < nt && !seen; j++)
            seen = strcmp(t[j].name, names[i]) == 0;
        if (!seen)
            t[nt++].name = names[i];
    }
    int rc = nt > 0 ? rt_describe(k, t, nt) : CLI_OK;
    int n_set = 0;
    for (int i = 0; i < nt; i++)
        n_set += t[i].was_set;
    if (rc != CLI_OK || n_set == 0) {
        rt_topics_free(t, nt);
        return rc;
    }
    int32_t *ids = malloc(sizeof(*ids) * (size_t)(md->broker_cnt ? md->broker_cnt : 1));
    if (!ids) {
        rt_topics_free(t, nt);
        return cli_fail("out of memory");
    }
    for (int i = 0; i < md->broker_cnt; i++)
        ids[i] = md->brokers[i].id;
    qsort(ids, (size_t)md->broker_cnt, sizeof(*ids), rt_id_cmp);
    struct kbuf body;
    kbuf_init(&body);
    kw_put_array_len(&body, false, md->broker_cnt + n_set);
    rt_put_brokers(&body, ids, md->broker_cnt, -1);
    for (int i = 0; i < nt; i++) {
        if (!t[i].was_set)
            continue;
        kbuf_put_u8(&body, RES_TOPIC);
        kw_put_str(&body, false, t[i].name);
        kw_put_array_len(&body, false, 2);
        for (int l = 0; l < 2; l++) {
            kw_put_str(&body, false, rt_list_keys[l]);
            kbuf_put_u8(&body, 1); /* DELETE */
            kw_put_nstr(&body, false, NULL);
        }
    }
    kbuf_put_u8(&body, 0);
    rc = rt_alter(k, &body);
    kbuf_destroy(&body);
    if (rc == CLI_OK) {
        printf("Throttle removed from brokers ");
        rt_print_ids(ids, md->broker_cnt);
        printf(" and topic(s) ");
        for (int i = 0, c = 0; i < nt; i++)
            if (t[i].was_set)
                printf("%s%s", c++ ? "," : "", t[i].name);
        printf("\n");
    }
    free(ids);
    rt_topics_free(t, nt);
    return rc;
}
