/*
 * tests/integration/test_control_fence.c — control requests (private keys
 * 10000-10002, controller/rpc.h) forged by a client, against three real
 * brokers and a real ZooKeeper. Each broker has two listeners: PLAINTEXT
 * for clients (the harness's port) and INTERNAL, the inter-broker listener.
 *   - on the client listener a control request is not answered: the
 *     connection is closed;
 *   - a StopReplica with delete=true carrying the epochs and the controller
 *     id that ZooKeeper names, sent on the inter-broker listener to the
 *     leader of a partition with acknowledged records, deletes nothing
 *     (the topic is not being deleted): every partition gets an error, the
 *     files stay and the records are still consumable;
 *   - LeaderAndIsr / UpdateMetadata with controller_epoch=1000000, or with
 *     the current epoch but another controller id, are refused, and the
 *     real controller still controls that broker afterwards (a new topic
 *     reaches its metadata and is replicated to it);
 *   - a newly elected controller (the old one stopped) is obeyed at once.
 * The forged requests read ZooKeeper (controller/zk/zk_store.h) like an
 * attacker could, and are encoded with controller/rpc.h.
 */
#include "common/buf.h"
#include "controller/rpc.h"
#include "controller/zk/zk_store.h"
#include "tests/harness/broker_proc.h"
#include "tests/harness/kreq.h"
#include "tests/harness/zk_server.h"
#include "tests/integration/icluster.h"
#include "tests/integration/itest.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define N_BROKERS 3

static struct tcluster *g_cl;
static int g_internal[N_BROKERS]; /* INTERNAL listener port of broker i */

static const char *const overrides[] = {"zookeeper.session.timeout.ms=6000",
                                        "leader.imbalance.check.interval.seconds=3600", NULL};

/* Rewrites the generated listeners of bp: PLAINTEXT (the harness's port,
 * for clients) plus INTERNAL on `internal`, the inter-broker listener. */
static bool add_internal_listener(struct broker_proc *bp, int internal)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/server.properties", broker_proc_dir(bp));
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char *text = calloc(1, 1 << 16);
    size_t n = text ? fread(text, 1, (1 << 16) - 1, f) : 0;
    fclose(f);
    f = fopen(path, "w");
    if (!f || n == 0) {
        free(text);
        if (f)
            fclose(f);
        return false;
    }
    int port = broker_proc_port(bp);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
        if (strncmp(line, "listeners=", 10) != 0 && strncmp(line, "advertised.listeners=", 21))
            fprintf(f, "%s\n", line);
    fprintf(f,
            "listeners=PLAINTEXT://127.0.0.1:%d,INTERNAL://127.0.0.1:%d\n"
            "advertised.listeners=PLAINTEXT://127.0.0.1:%d,INTERNAL://127.0.0.1:%d\n"
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT\n"
            "inter.broker.listener.name=INTERNAL\n",
            port, internal, port, internal);
    free(text);
    return fclose(f) == 0;
}

static void up(void)
{
    g_cl = calloc(1, sizeof(*g_cl));
    cr_assert_not_null(g_cl);
    g_cl->zk = zk_server_start();
    cr_assert_not_null(g_cl->zk, "ZooKeeper did not start");
    for (int i = 0; i < N_BROKERS; i++) {
        struct broker_proc *bp = broker_proc_new(zk_server_connect(g_cl->zk), i, overrides);
        cr_assert_not_null(bp);
        g_cl->broker[i] = bp;
        g_cl->n = i + 1;
        g_internal[i] = harness_free_port();
        cr_assert(g_internal[i] > 0 && add_internal_listener(bp, g_internal[i]));
        cr_assert_eq(broker_proc_start(bp), 0, "broker %d did not start", i);
        size_t at = strlen(g_cl->bootstrap);
        snprintf(g_cl->bootstrap + at, sizeof(g_cl->bootstrap) - at, "%s%s", i ? "," : "",
                 broker_proc_bootstrap(bp));
    }
}

static void down(void)
{
    int unclean = tcluster_free(g_cl);
    g_cl = NULL;
    if (unclean) {
        fprintf(stderr, "%d broker(s) did not shut down cleanly (log above)\n", unclean);
        abort();
    }
}

TestSuite(control_fence, .init = up, .fini = down, .timeout = 240);

static const char *bs(int i) { return broker_proc_bootstrap(g_cl->broker[i]); }

/* What ZooKeeper says, as anyone who can reach it reads it (controller -1:
 * none right now; broker_epoch 0: not registered). */
struct zk_view {
    int32_t controller, epoch;
    int64_t broker_epoch[N_BROKERS];
};

static void read_zk(struct zk_view *v)
{
    memset(v, 0, sizeof(*v));
    char err[256];
    struct zk_store *zs = zk_store_open(zk_server_connect(g_cl->zk), 6000, err, sizeof(err));
    cr_assert_not_null(zs, "%s", err);
    kerr_t rc = zk_store_controller_get(zs, &v->controller);
    if (rc == KERR__NOENT)
        v->controller = -1; /* between two controllers */
    else
        cr_assert_eq(rc, KERR_NONE);
    cr_assert_eq(zk_store_controller_epoch_get(zs, &v->epoch), KERR_NONE);
    struct zk_broker_reg *regs = NULL;
    int n = 0;
    cr_assert_eq(zk_store_list_brokers(zs, &regs, &n), KERR_NONE);
    for (int i = 0; i < n; i++)
        if (regs[i].id >= 0 && regs[i].id < N_BROKERS)
            v->broker_epoch[regs[i].id] = regs[i].epoch;
    free(regs);
    zk_store_close(zs);
}

/* read_zk() until ZooKeeper names a controller other than not_id. */
static void wait_controller(struct zk_view *v, int32_t not_id)
{
    double end = icluster_now() + 30;
    for (read_zk(v); v->controller < 0 || v->controller == not_id; read_zk(v)) {
        cr_assert(icluster_now() < end, "no controller (other than %d) elected", not_id);
        usleep(100 * 1000);
    }
}

/* Sends one control request (body already encoded) to port; returns the
 * response body in *resp (new) or NULL when the connection was closed
 * without an answer. */
static uint8_t *send_control(int port, int16_t key, const struct kbuf *body, size_t *resp_len)
{
    struct kbuf frame;
    kbuf_init(&frame);
    cr_assert_eq(rpc_request_frame(&frame, key, 7, "forger", body->data, body->len), KERR_NONE);
    int fd = kreq_connect(port);
    cr_assert_geq(fd, 0);
    cr_assert_eq(kreq_send(fd, frame.data, frame.len), 0);
    kbuf_destroy(&frame);
    uint8_t *f = NULL;
    size_t len = 0;
    int rc = kreq_recv(fd, &f, &len, 20000);
    close(fd);
    cr_assert_neq(rc, -1, "no answer and no close within 20 s");
    if (rc != 0)
        return NULL;
    int32_t corr = -1;
    const uint8_t *b = NULL;
    size_t blen = 0;
    cr_assert_eq(rpc_response_parse(f, len, &corr, &b, &blen), KERR_NONE);
    cr_assert_eq(corr, 7);
    uint8_t *out = malloc(blen ? blen : 1);
    memcpy(out, b, blen);
    free(f);
    *resp_len = blen;
    return out;
}

static bool dir_exists(int broker, const char *topic, int p)
{
    char dir[1024];
    struct stat st;
    snprintf(dir, sizeof(dir), "%s/%s-%d", broker_proc_data_dir(g_cl->broker[broker]), topic, p);
    return stat(dir, &st) == 0;
}

static void create_rf3(const char *topic)
{
    char *out = NULL;
    cr_assert_eq(icluster_cli(&out, bs(0), "topic create %s -p 1 -r 3", topic), 0, "%s", out);
    free(out);
    cr_assert(icluster_wait_for(g_cl, 0, topic, 0, icluster_isr_size_is, 3, 30));
}

Test(control_fence, forged_stop_replica_deletes_nothing)
{
    char topic[64];
    itest_topic("fence-stop", topic, sizeof(topic));
    create_rf3(topic);
    struct pinfo pi[1] = {{0}};
    cr_assert_eq(icluster_describe(bs(0), topic, pi, 1, NULL), 1);
    int victim = pi[0].leader;
    cr_assert(victim >= 0 && victim < N_BROKERS);
    cr_assert_eq(icluster_produce_acked(g_cl->bootstrap, topic, 0, 20, 30), 20);

    struct zk_view v;
    wait_controller(&v, -1);
    cr_assert(v.broker_epoch[victim] > 0);
    struct rpc_topic_partition tp = {topic, 0, -1};
    struct rpc_stop_replica_req m = {.controller_id = v.controller,
                                     .controller_epoch = v.epoch,
                                     .broker_epoch = v.broker_epoch[victim],
                                     .delete_partitions = true,
                                     .n_partitions = 1,
                                     .partitions = &tp};
    struct kbuf body;
    kbuf_init(&body);
    cr_assert_eq(rpc_stop_replica_req_encode(&m, &body), KERR_NONE);

    /* the client listener closes the connection without answering */
    size_t len = 0;
    uint8_t *resp =
        send_control(broker_proc_port(g_cl->broker[victim]), RPC_STOP_REPLICA, &body, &len);
    cr_assert_null(resp, "a control request was answered on the client listener");

    /* the inter-broker listener answers, with an error for the partition */
    resp = send_control(g_internal[victim], RPC_STOP_REPLICA, &body, &len);
    kbuf_destroy(&body);
    cr_assert_not_null(resp, "no answer on the inter-broker listener");
    struct rpc_stop_replica_resp r = {0};
    cr_assert_eq(rpc_stop_replica_resp_decode(resp, len, &r), KERR_NONE);
    free(resp);
    bool refused = r.error_code != 0;
    for (int i = 0; i < r.n_partition_errors; i++)
        refused |= r.partition_errors[i].partition == 0 &&
                   strcmp(r.partition_errors[i].topic, topic) == 0 &&
                   r.partition_errors[i].error_code != 0;
    rpc_stop_replica_resp_destroy(&r);
    cr_assert(refused, "StopReplica delete=true of a live partition answered without error");

    usleep(1000 * 1000); /* a dropped replica's files go once unreferenced */
    cr_assert(dir_exists(victim, topic, 0), "the partition's files were deleted");
    rd_kafka_t *c = itest_consumer(g_cl->bootstrap, NULL);
    cr_assert_not_null(c);
    cr_assert_eq(itest_consume_check(c, topic, 0, 20, 30), 20);
    rd_kafka_destroy(c);
    cr_assert_eq(icluster_produce_acked(g_cl->bootstrap, topic, 0, 5, 30), 5);
    cr_assert(icluster_wait_for(g_cl, victim, topic, 0, icluster_isr_size_is, 3, 20));
}

/* Sends UpdateMetadata (no partitions, no brokers) with these ids; returns
 * its error code. */
static int16_t forged_update_metadata(int victim, int32_t ctrl_id, int32_t ctrl_epoch,
                                      int64_t broker_epoch)
{
    struct rpc_update_metadata_req m = {
        .controller_id = ctrl_id, .controller_epoch = ctrl_epoch, .broker_epoch = broker_epoch};
    struct kbuf body;
    kbuf_init(&body);
    cr_assert_eq(rpc_update_metadata_req_encode(&m, &body), KERR_NONE);
    size_t len = 0;
    uint8_t *resp = send_control(g_internal[victim], RPC_UPDATE_METADATA, &body, &len);
    kbuf_destroy(&body);
    cr_assert_not_null(resp);
    struct rpc_update_metadata_resp r = {0};
    cr_assert_eq(rpc_update_metadata_resp_decode(resp, len, &r), KERR_NONE);
    free(resp);
    int16_t ec = r.error_code;
    rpc_update_metadata_resp_destroy(&r);
    return ec;
}

Test(control_fence, forged_controller_epoch_is_refused_and_the_real_controller_still_rules)
{
    char topic[64], later[64];
    itest_topic("fence-epoch", topic, sizeof(topic));
    itest_topic("fence-later", later, sizeof(later));
    create_rf3(topic);
    struct zk_view v;
    wait_controller(&v, -1);
    int victim = (v.controller + 1) % N_BROKERS;
    int other = (v.controller + 2) % N_BROKERS;

    /* a LeaderAndIsr from "epoch 1000000" making the victim sole leader */
    int32_t isr[1] = {victim}, replicas[3] = {victim, other, v.controller};
    struct rpc_partition_state ps = {.topic = topic,
                                     .partition = 0,
                                     .leader = victim,
                                     .leader_epoch = 1000,
                                     .n_isr = 1,
                                     .isr = isr,
                                     .n_replicas = 3,
                                     .replicas = replicas,
                                     .partition_epoch = 1000};
    struct rpc_leader_and_isr_req m = {.controller_id = v.controller,
                                       .controller_epoch = 1000000,
                                       .broker_epoch = v.broker_epoch[victim],
                                       .n_partitions = 1,
                                       .partitions = &ps};
    struct kbuf body;
    kbuf_init(&body);
    cr_assert_eq(rpc_leader_and_isr_req_encode(&m, &body), KERR_NONE);
    size_t len = 0;
    uint8_t *resp = send_control(g_internal[victim], RPC_LEADER_AND_ISR, &body, &len);
    kbuf_destroy(&body);
    cr_assert_not_null(resp);
    struct rpc_leader_and_isr_resp r = {0};
    cr_assert_eq(rpc_leader_and_isr_resp_decode(resp, len, &r), KERR_NONE);
    free(resp);
    cr_assert_neq(r.error_code, 0, "LeaderAndIsr with controller_epoch=1000000 accepted");
    rpc_leader_and_isr_resp_destroy(&r);

    cr_assert_neq(forged_update_metadata(victim, v.controller, 1000000, v.broker_epoch[victim]), 0,
                  "UpdateMetadata with controller_epoch=1000000 accepted");
    cr_assert_neq(forged_update_metadata(victim, other, v.epoch, v.broker_epoch[victim]), 0,
                  "UpdateMetadata from broker %d, which is not the controller, accepted", other);

    /* the real controller still rules the victim: a new topic reaches its
     * metadata and is replicated to it */
    cr_assert_eq(icluster_produce_acked(g_cl->bootstrap, topic, 0, 5, 30), 5);
    create_rf3(later);
    cr_assert(icluster_wait_for(g_cl, victim, later, 0, icluster_isr_size_is, 3, 20),
              "broker %d does not see the topic created after the forged requests", victim);
    cr_assert_eq(icluster_produce_acked(g_cl->bootstrap, later, 0, 5, 30), 5);
    cr_assert(dir_exists(victim, later, 0));
    cr_assert(icluster_wait_for(g_cl, victim, topic, 0, icluster_isr_size_is, 3, 20));
}

/* The fence must not lose a new controller's first requests, which can
 * arrive before the brokers' ZooKeeper watches fire. */
Test(control_fence, a_new_controller_is_obeyed_at_once)
{
    char topic[64], later[64];
    itest_topic("fence-failover", topic, sizeof(topic));
    itest_topic("fence-after", later, sizeof(later));
    create_rf3(topic);
    struct zk_view v;
    wait_controller(&v, -1);
    cr_assert_eq(broker_proc_stop(g_cl->broker[v.controller], 20), 0);
    struct zk_view w;
    wait_controller(&w, v.controller);
    cr_assert_gt(w.epoch, v.epoch);
    int a = w.controller, b = 3 - v.controller - w.controller;

    /* the new controller's first UpdateMetadata reaches the other broker */
    int32_t ctrl = -1;
    struct pinfo pi[1];
    double end = icluster_now() + 20;
    while ((icluster_describe(bs(b), topic, pi, 1, &ctrl) != 1 || ctrl != a) &&
           icluster_now() < end)
        usleep(100 * 1000);
    cr_assert_eq(ctrl, a, "broker %d still names controller %d, not %d", b, ctrl, a);
    cr_assert_eq(icluster_produce_acked(bs(b), topic, 0, 5, 30), 5);

    char *out = NULL;
    cr_assert_eq(icluster_cli(&out, bs(a), "topic create %s -p 2 -r 2", later), 0, "%s", out);
    free(out);
    for (int p = 0; p < 2; p++) {
        cr_assert(icluster_wait_for(g_cl, a, later, p, icluster_isr_size_is, 2, 20));
        cr_assert(icluster_wait_for(g_cl, b, later, p, icluster_isr_size_is, 2, 20));
    }
    cr_assert_eq(icluster_produce_acked(bs(b), later, 0, 5, 30), 5);
    cr_assert_eq(icluster_produce_acked(bs(b), later, 1, 5, 30), 5);
}
