/*
 * tests/integration/itest.c — librdkafka and raw-protocol helpers for the
 * integration tests (see itest.h). Test processes only; single-threaded
 * apart from librdkafka's own threads.
 */
#include "tests/integration/itest.h"
#include "tests/harness/broker_proc.h"
#include "tests/harness/kreq.h"

#include <criterion/criterion.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *itest_topic(const char *prefix, char *buf, size_t n)
{
    snprintf(buf, n, "%s-%ld", prefix, (long)getpid());
    return buf;
}

const char *itest_value(int i, char *buf, size_t n)
{
    snprintf(buf, n,
             "value-%d:gregor-gregor-gregor-gregor-gregor-gregor-gregor-gregor-"
             "gregor-gregor-gregor-%08d",
             i, i);
    return buf;
}

static rd_kafka_conf_t *conf_new(const char *bootstrap, const char *const *kv)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof(err)) !=
        RD_KAFKA_CONF_OK)
        goto fail;
    for (int i = 0; kv && kv[i] && kv[i + 1]; i += 2)
        if (rd_kafka_conf_set(conf, kv[i], kv[i + 1], err, sizeof(err)) != RD_KAFKA_CONF_OK)
            goto fail;
    return conf;
fail:
    fprintf(stderr, "itest: conf: %s\n", err);
    rd_kafka_conf_destroy(conf);
    return NULL;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct itest_produce_result *res = opaque ? opaque : m->_private;
    if (!res)
        return;
    if (m->err) {
        if (res->failed++ == 0) {
            res->first_err = m->err;
            fprintf(stderr, "itest: delivery failed: %s\n", rd_kafka_err2str(m->err));
        }
    } else {
        res->delivered++;
    }
}

rd_kafka_t *itest_producer(const char *bootstrap, const char *const *kv)
{
    char err[512];
    rd_kafka_conf_t *conf = conf_new(bootstrap, kv);
    if (!conf)
        return NULL;
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk)
        fprintf(stderr, "itest: producer: %s\n", err);
    return rk;
}

rd_kafka_t *itest_consumer(const char *bootstrap, const char *const *kv)
{
    char err[512];
    rd_kafka_conf_t *conf = conf_new(bootstrap, kv);
    if (!conf)
        return NULL;
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err));
    rd_kafka_conf_set(conf, "enable.auto.offset.store", "false", err, sizeof(err));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk)
        fprintf(stderr, "itest: consumer: %s\n", err);
    return rk;
}

/* True when metadata shows topic with n partitions, each with a leader. */
static bool topic_ready(rd_kafka_t *rk, const char *topic, int n)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    bool ok = false;
    if (rd_kafka_metadata(rk, 0, rkt, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int i = 0; i < md->topic_cnt; i++) {
            const rd_kafka_metadata_topic_t *t = &md->topics[i];
            if (strcmp(t->topic, topic) != 0 || t->err || t->partition_cnt != n)
                continue;
            ok = true;
            for (int p = 0; p < t->partition_cnt; p++)
                ok &= t->partitions[p].leader >= 0 && t->partitions[p].err == 0;
        }
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(rkt);
    return ok;
}

static int create_topic_admin(rd_kafka_t *rk, const char *topic, int partitions, int timeout_s)
{
    char err[512];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, 1, err, sizeof(err));
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opts, timeout_s * 1000, err, sizeof(err));
    rd_kafka_AdminOptions_set_request_timeout(opts, timeout_s * 1000, err, sizeof(err));
    rd_kafka_CreateTopics(rk, &nt, 1, opts, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_s * 1000 + 2000);
    int rc = -1;
    if (!ev) {
        fprintf(stderr, "itest: CreateTopics %s: no result\n", topic);
    } else if (rd_kafka_event_error(ev)) {
        fprintf(stderr, "itest: CreateTopics %s: %s\n", topic, rd_kafka_event_error_string(ev));
    } else {
        size_t n = 0;
        const rd_kafka_topic_result_t **tr =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        rc = 0;
        for (size_t i = 0; i < n; i++) {
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
            if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                fprintf(stderr, "itest: CreateTopics %s: %s (%s)\n", topic, rd_kafka_err2name(e),
                        rd_kafka_topic_result_error_string(tr[i])
                            ? rd_kafka_topic_result_error_string(tr[i])
                            : "");
                rc = -1;
            }
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    return rc;
}

int itest_create_topic(const char *bootstrap, const char *topic, int partitions, int timeout_s)
{
    rd_kafka_t *rk = itest_producer(bootstrap, NULL);
    if (!rk)
        return -1;
    int rc = create_topic_admin(rk, topic, partitions, timeout_s);
    int64_t deadline = mono_ms() + (int64_t)timeout_s * 1000;
    while (rc == 0 && !topic_ready(rk, topic, partitions)) {
        if (mono_ms() > deadline) {
            fprintf(stderr, "itest: topic %s not ready after %d s\n", topic, timeout_s);
            rc = -1;
            break;
        }
        usleep(100 * 1000);
    }
    rd_kafka_destroy(rk);
    return rc;
}

int itest_produce(rd_kafka_t *rk, const char *topic, int32_t partition, int n, int timeout_s,
                  struct itest_produce_result *res)
{
    char key[32], val[160];
    memset(res, 0, sizeof(*res));
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "key-%d", i);
        itest_value(i, val, sizeof(val));
        for (;;) {
            rd_kafka_resp_err_t e = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE(val, strlen(val)),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(res), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rk, 50);
                continue;
            }
            if (e) {
                fprintf(stderr, "itest: produce: %s\n", rd_kafka_err2str(e));
                return -1;
            }
            break;
        }
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, timeout_s * 1000);
    rd_kafka_poll(rk, 0);
    return res->delivered == n ? 0 : -1;
}

static int check_message(const rd_kafka_message_t *m, int j)
{
    char key[32], val[160];
    snprintf(key, sizeof(key), "key-%d", j);
    itest_value(j, val, sizeof(val));
    if (m->offset != j || m->key_len != strlen(key) || memcmp(m->key, key, m->key_len) != 0 ||
        m->len != strlen(val) || memcmp(m->payload, val, m->len) != 0) {
        fprintf(stderr, "itest: record %d mismatch: offset %" PRId64 " key '%.*s' value '%.*s'\n",
                j, m->offset, (int)m->key_len, (const char *)m->key, (int)m->len,
                (const char *)m->payload);
        return -1;
    }
    return 0;
}

int itest_consume_check(rd_kafka_t *rk, const char *topic, int32_t partition, int n, int timeout_s)
{
    /* The legacy per-partition consumer needs no group (librdkafka 2.0.2's
     * rd_kafka_assign() insists on a group.id): Metadata, ListOffsets and
     * Fetch only. */
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (!rkt || rd_kafka_consume_start(rkt, partition, 0) != 0) {
        fprintf(stderr, "itest: consume_start: %s\n", rd_kafka_err2str(rd_kafka_last_error()));
        if (rkt)
            rd_kafka_topic_destroy(rkt);
        return -1;
    }
    int got = 0;
    int64_t deadline = mono_ms() + (int64_t)timeout_s * 1000;
    while (got < n && mono_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consume(rkt, partition, 200);
        if (!m)
            continue;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                fprintf(stderr, "itest: consume: %s\n", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        int bad = check_message(m, got);
        rd_kafka_message_destroy(m);
        if (bad) {
            got = -1;
            break;
        }
        got++;
    }
    rd_kafka_consume_stop(rkt, partition);
    rd_kafka_topic_destroy(rkt);
    if (got >= 0 && got < n)
        fprintf(stderr, "itest: consumed %d of %d records within %d s\n", got, n, timeout_s);
    return got;
}

int64_t itest_list_offset(int port, const char *topic, int32_t partition, int64_t ts, int16_t *err)
{
    if (err)
        *err = -1;
    int fd = kreq_connect(port);
    if (fd < 0)
        return -1;
    struct kbytes req;
    kbytes_init(&req);
    kreq_list_offsets_v1(&req, 42, topic, partition, ts);
    uint8_t *frame = NULL;
    size_t len = 0;
    int64_t off = -1;
    struct klist_offsets_result res;
    if (kreq_roundtrip(fd, &req, 42, &frame, &len, 5000) == 0 &&
        kresp_list_offsets_v1(frame, len, &res) == 0) {
        if (err)
            *err = res.error;
        if (res.error == 0)
            off = res.offset;
    }
    free(frame);
    kbytes_free(&req);
    close(fd);
    return off;
}

bool itest_api_versions_ok(int port)
{
    int fd = kreq_connect(port);
    if (fd < 0)
        return false;
    struct kbytes req;
    kbytes_init(&req);
    kreq_api_versions(&req, 0, 4242);
    uint8_t *frame = NULL;
    size_t len = 0;
    bool ok = false;
    struct kapi_versions *av = malloc(sizeof(*av));
    if (av && kreq_roundtrip(fd, &req, 4242, &frame, &len, 5000) == 0 &&
        kresp_api_versions(frame, len, 0, av) == 0)
        ok = av->error == 0 && av->n > 0;
    free(av);
    free(frame);
    kbytes_free(&req);
    close(fd);
    return ok;
}

void itest_fixture_down(void)
{
    int unclean = tcluster_fixture_down();
    if (unclean) {
        /* Criterion 2.4 ignores assertion failures in .fini, but not a
         * crash there: abort so the test counts as failed. */
        fprintf(stderr, "itest: %d broker(s) did not shut down cleanly (log above)\n", unclean);
        abort();
    }
}
