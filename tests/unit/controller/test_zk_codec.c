/*
 * tests/unit/controller/test_zk_codec.c — controller/zk/zk_codec.c: every
 * znode payload decodes back to what was encoded, and bytes that are not a
 * valid payload (or do not fit our limits) are KERR__CORRUPT, never a crash.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/zk/zk_codec.h"
#include "proto/zk.pb-c.h"

TestSuite(zk_codec, .timeout = 10);

Test(zk_codec, cluster_id_round_trip)
{
    uint8_t *d;
    size_t n;
    char id[32];
    cr_assert_eq(zk_codec_cluster_id_encode("AbCdEfGhIjKlMnOpQrStUv", &d, &n), KERR_NONE);
    cr_assert_eq(zk_codec_cluster_id_decode(d, n, id, sizeof(id)), KERR_NONE);
    cr_assert_str_eq(id, "AbCdEfGhIjKlMnOpQrStUv");
    cr_assert_eq(zk_codec_cluster_id_decode(d, n, id, 10), KERR__CORRUPT, "does not fit");
    free(d);
    cr_assert_eq(zk_codec_cluster_id_encode("", &d, &n), KERR_NONE);
    cr_assert_eq(zk_codec_cluster_id_decode(d, n, id, sizeof(id)), KERR__CORRUPT, "empty id");
    free(d);
}

Test(zk_codec, broker_round_trip)
{
    struct zk_broker_reg r, back;
    memset(&r, 0, sizeof(r));
    r.id = 42;
    snprintf(r.rack, sizeof(r.rack), "%s", "r1");
    snprintf(r.directory_id, sizeof(r.directory_id), "%s", "dir-uuid");
    snprintf(r.hostname, sizeof(r.hostname), "%s", "node7");
    snprintf(r.version, sizeof(r.version), "%s", "1.2.3");
    r.pid = 4242;
    r.start_time_ms = 1234567890123;
    r.n_endpoints = ZK_MAX_ENDPOINTS;
    for (int i = 0; i < ZK_MAX_ENDPOINTS; i++) {
        snprintf(r.ep[i].listener, sizeof(r.ep[i].listener), "L%d", i);
        snprintf(r.ep[i].host, sizeof(r.ep[i].host), "10.0.0.%d", i);
        r.ep[i].port = 9000 + i;
        snprintf(r.ep[i].protocol, sizeof(r.ep[i].protocol), "%s", "SSL");
    }
    uint8_t *d;
    size_t n;
    cr_assert_eq(zk_codec_broker_encode(&r, &d, &n), KERR_NONE);
    memset(&back, 0x5a, sizeof(back));
    back.epoch = 77;
    cr_assert_eq(zk_codec_broker_decode(d, n, &back), KERR_NONE);
    free(d);
    cr_assert_eq(back.epoch, 77, "epoch is not in the payload");
    back.epoch = 0;
    cr_assert_eq(back.id, 42);
    cr_assert_str_eq(back.rack, "r1");
    cr_assert_str_eq(back.directory_id, "dir-uuid");
    cr_assert_str_eq(back.hostname, "node7");
    cr_assert_str_eq(back.version, "1.2.3");
    cr_assert_eq(back.pid, 4242);
    cr_assert_eq(back.start_time_ms, 1234567890123);
    cr_assert_eq(back.n_endpoints, ZK_MAX_ENDPOINTS);
    cr_assert_str_eq(back.ep[7].listener, "L7");
    cr_assert_str_eq(back.ep[7].host, "10.0.0.7");
    cr_assert_eq(back.ep[7].port, 9007);
    cr_assert_str_eq(back.ep[7].protocol, "SSL");

    r.n_endpoints = ZK_MAX_ENDPOINTS + 1;
    cr_assert_eq(zk_codec_broker_encode(&r, &d, &n), KERR__INVALID);
}

Test(zk_codec, broker_with_too_many_endpoints_or_long_host_is_corrupt)
{
    Gregor__Zk__BrokerRegistration m = GREGOR__ZK__BROKER_REGISTRATION__INIT;
    Gregor__Zk__Endpoint e[ZK_MAX_ENDPOINTS + 1], *p[ZK_MAX_ENDPOINTS + 1];
    char longhost[300];
    memset(longhost, 'h', sizeof(longhost) - 1);
    longhost[sizeof(longhost) - 1] = '\0';
    for (int i = 0; i <= ZK_MAX_ENDPOINTS; i++) {
        gregor__zk__endpoint__init(&e[i]);
        e[i].host = "h";
        p[i] = &e[i];
    }
    m.endpoints = p;
    m.n_endpoints = ZK_MAX_ENDPOINTS + 1;
    uint8_t buf[4096];
    size_t n = gregor__zk__broker_registration__pack(&m, buf);
    struct zk_broker_reg r;
    cr_assert_eq(zk_codec_broker_decode(buf, n, &r), KERR__CORRUPT);

    m.n_endpoints = 1;
    e[0].host = longhost;
    n = gregor__zk__broker_registration__pack(&m, buf);
    cr_assert_eq(zk_codec_broker_decode(buf, n, &r), KERR__CORRUPT);
}

Test(zk_codec, garbage_is_corrupt)
{
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01};
    struct zk_broker_reg r;
    struct zk_partition_state st;
    struct zk_topic t;
    memset(&t, 0, sizeof(t));
    int32_t x;
    char id[32];
    cr_assert_eq(zk_codec_broker_decode(junk, sizeof(junk), &r), KERR__CORRUPT);
    cr_assert_eq(zk_codec_state_decode(junk, sizeof(junk), &st), KERR__CORRUPT);
    cr_assert_eq(zk_codec_assignment_decode(junk, sizeof(junk), &t), KERR__CORRUPT);
    cr_assert_eq(zk_codec_config_decode(junk, sizeof(junk), &t), KERR__CORRUPT);
    cr_assert_eq(zk_codec_epoch_decode(junk, sizeof(junk), &x), KERR__CORRUPT);
    cr_assert_eq(zk_codec_controller_decode(junk, sizeof(junk), &x), KERR__CORRUPT);
    cr_assert_eq(zk_codec_cluster_id_decode(junk, sizeof(junk), id, sizeof(id)), KERR__CORRUPT);
    cr_assert_null(t.replicas);
    cr_assert_null(t.config_keys);
}

Test(zk_codec, assignment_round_trip)
{
    int32_t reps[] = {1, 2, 3, 2, 3, 1, 3, 1, 2, 1, 3, 2};
    struct zk_topic t, back;
    memset(&t, 0, sizeof(t));
    memset(&back, 0, sizeof(back));
    t.n_partitions = 4;
    t.replication_factor = 3;
    t.replicas = reps;
    uint8_t *d;
    size_t n;
    cr_assert_eq(zk_codec_assignment_encode(&t, &d, &n), KERR_NONE);
    cr_assert_eq(zk_codec_assignment_decode(d, n, &back), KERR_NONE);
    free(d);
    cr_assert_eq(back.n_partitions, 4);
    cr_assert_eq(back.replication_factor, 3);
    cr_assert_arr_eq(back.replicas, reps, sizeof(reps));
    zk_topic_destroy(&back);
}

/* Packs partitions with the given (partition, n_replicas) pairs. */
static size_t pack_assignment(uint8_t *buf, const int *parts, const size_t *nrep, int n)
{
    static int32_t reps[] = {1, 2, 3};
    Gregor__Zk__TopicAssignment m = GREGOR__ZK__TOPIC_ASSIGNMENT__INIT;
    Gregor__Zk__PartitionReplicas pr[4], *pp[4];
    for (int i = 0; i < n; i++) {
        gregor__zk__partition_replicas__init(&pr[i]);
        pr[i].partition = parts[i];
        pr[i].n_replicas = nrep[i];
        pr[i].replicas = reps;
        pp[i] = &pr[i];
    }
    m.partitions = pp;
    m.n_partitions = (size_t)n;
    return gregor__zk__topic_assignment__pack(&m, buf);
}

Test(zk_codec, assignment_must_be_partitions_0_to_n)
{
    uint8_t buf[512];
    struct zk_topic t;
    memset(&t, 0, sizeof(t));
    int gap[] = {0, 2};
    size_t r2[] = {2, 2}, ragged[] = {2, 3}, zero[] = {0, 0};
    int dup[] = {1, 1}, ok[] = {1, 0}, neg[] = {-1, 0};
    size_t n = pack_assignment(buf, gap, r2, 2);
    cr_assert_eq(zk_codec_assignment_decode(buf, n, &t), KERR__CORRUPT, "gap");
    n = pack_assignment(buf, dup, r2, 2);
    cr_assert_eq(zk_codec_assignment_decode(buf, n, &t), KERR__CORRUPT, "duplicate");
    n = pack_assignment(buf, neg, r2, 2);
    cr_assert_eq(zk_codec_assignment_decode(buf, n, &t), KERR__CORRUPT, "negative");
    n = pack_assignment(buf, ok, zero, 2);
    cr_assert_eq(zk_codec_assignment_decode(buf, n, &t), KERR__CORRUPT, "no replicas");
    n = pack_assignment(buf, ok, r2, 0);
    cr_assert_eq(zk_codec_assignment_decode(buf, n, &t), KERR__CORRUPT, "no partitions");
    cr_assert_null(t.replicas);
    n = pack_assignment(buf, ok, r2, 2); /* out of order is fine */
    cr_assert_eq(zk_codec_assignment_decode(buf, n, &t), KERR_NONE);
    cr_assert_eq(t.n_partitions, 2);
    cr_assert_eq(t.replicas[0], 1);
    cr_assert_eq(t.replicas[2], 1);
    zk_topic_destroy(&t);
    /* rows of different lengths (a reassignment in progress): padded */
    n = pack_assignment(buf, ok, ragged, 2);
    cr_assert_eq(zk_codec_assignment_decode(buf, n, &t), KERR_NONE, "ragged");
    cr_assert_eq(t.replication_factor, 3);
    /* packed: partition 1 with 2 replicas, partition 0 with 3 */
    int32_t want[] = {1, 2, 3, 1, 2, ZK_NO_REPLICA};
    cr_assert_arr_eq(t.replicas, want, sizeof(want));
    cr_assert_null(t.adding);
    zk_topic_destroy(&t);
}

Test(zk_codec, assignment_round_trip_with_reassignment)
{
    /* partition 0 moving [1,2,3] -> [4,2,3]: RS = [4,2,3,1]; partition 1 settled [2,3] */
    int32_t reps[] = {4, 2, 3, 1, 2, 3, ZK_NO_REPLICA, ZK_NO_REPLICA};
    int32_t add[] = {4,
                     ZK_NO_REPLICA,
                     ZK_NO_REPLICA,
                     ZK_NO_REPLICA,
                     ZK_NO_REPLICA,
                     ZK_NO_REPLICA,
                     ZK_NO_REPLICA,
                     ZK_NO_REPLICA};
    int32_t rem[] = {1,
                     ZK_NO_REPLICA,
                     ZK_NO_REPLICA,
                     ZK_NO_REPLICA,
                     ZK_NO_REPLICA,
                     ZK_NO_REPLICA,
                     ZK_NO_REPLICA,
                     ZK_NO_REPLICA};
    struct zk_topic t, back;
    memset(&t, 0, sizeof(t));
    memset(&back, 0, sizeof(back));
    t.n_partitions = 2;
    t.replication_factor = 4;
    t.replicas = reps;
    t.adding = add;
    t.removing = rem;
    uint8_t *d;
    size_t n;
    cr_assert_eq(zk_codec_assignment_encode(&t, &d, &n), KERR_NONE);
    cr_assert_eq(zk_codec_assignment_decode(d, n, &back), KERR_NONE);
    free(d);
    cr_assert_eq(back.replication_factor, 4);
    cr_assert_arr_eq(back.replicas, reps, sizeof(reps));
    cr_assert_not_null(back.adding);
    cr_assert_arr_eq(back.adding, add, sizeof(add));
    cr_assert_arr_eq(back.removing, rem, sizeof(rem));
    zk_topic_destroy(&back);
    /* a padded first replica is no partition at all */
    reps[4] = ZK_NO_REPLICA;
    cr_assert_eq(zk_codec_assignment_encode(&t, &d, &n), KERR__INVALID);
}

Test(zk_codec, config_round_trip_sorted)
{
    char keys[3][128] = {"segment.bytes", "cleanup.policy", "retention.ms"};
    char vals[3][256] = {"1048576", "compact", "-1"};
    struct zk_topic t, back;
    memset(&t, 0, sizeof(t));
    memset(&back, 0, sizeof(back));
    t.n_configs = 3;
    t.config_keys = keys;
    t.config_values = vals;
    uint8_t *d;
    size_t n;
    cr_assert_eq(zk_codec_config_encode(&t, &d, &n), KERR_NONE);
    cr_assert_eq(zk_codec_config_decode(d, n, &back), KERR_NONE);
    free(d);
    cr_assert_eq(back.n_configs, 3);
    cr_assert_str_eq(back.config_keys[0], "cleanup.policy");
    cr_assert_str_eq(back.config_values[0], "compact");
    cr_assert_str_eq(back.config_keys[1], "retention.ms");
    cr_assert_str_eq(back.config_values[1], "-1");
    cr_assert_str_eq(back.config_keys[2], "segment.bytes");
    zk_topic_destroy(&back);

    t.n_configs = 0;
    cr_assert_eq(zk_codec_config_encode(&t, &d, &n), KERR_NONE);
    cr_assert_eq(n, 0);
    cr_assert_eq(zk_codec_config_decode(d, n, &back), KERR_NONE);
    cr_assert_eq(back.n_configs, 0);
    free(d);
    zk_topic_destroy(&back);
}

Test(zk_codec, state_round_trip_and_isr_limit)
{
    struct zk_partition_state st = {.leader = 3,
                                    .leader_epoch = 17,
                                    .controller_epoch = 5,
                                    .n_isr = 3,
                                    .isr = {3, 1, 2},
                                    .version = 9};
    struct zk_partition_state back = {.version = 4};
    uint8_t *d;
    size_t n;
    cr_assert_eq(zk_codec_state_encode(&st, &d, &n), KERR_NONE);
    cr_assert_eq(zk_codec_state_decode(d, n, &back), KERR_NONE);
    free(d);
    cr_assert_eq(back.leader, 3);
    cr_assert_eq(back.leader_epoch, 17);
    cr_assert_eq(back.controller_epoch, 5);
    cr_assert_eq(back.n_isr, 3);
    cr_assert_eq(back.isr[0], 3);
    cr_assert_eq(back.isr[2], 2);
    cr_assert_eq(back.version, 4, "version is not in the payload");

    Gregor__Zk__PartitionState m = GREGOR__ZK__PARTITION_STATE__INIT;
    int32_t big[ZK_MAX_ISR + 1] = {0};
    m.isr = big;
    m.n_isr = ZK_MAX_ISR + 1;
    uint8_t buf[256];
    n = gregor__zk__partition_state__pack(&m, buf);
    cr_assert_eq(zk_codec_state_decode(buf, n, &back), KERR__CORRUPT);

    st.n_isr = ZK_MAX_ISR + 1;
    cr_assert_eq(zk_codec_state_encode(&st, &d, &n), KERR__INVALID);
}

Test(zk_codec, controller_and_epoch_round_trip)
{
    uint8_t *d;
    size_t n;
    int32_t v = 0;
    cr_assert_eq(zk_codec_controller_encode(7, 1700000000000, &d, &n), KERR_NONE);
    cr_assert_eq(zk_codec_controller_decode(d, n, &v), KERR_NONE);
    cr_assert_eq(v, 7);
    free(d);
    cr_assert_eq(zk_codec_epoch_encode(123456, &d, &n), KERR_NONE);
    cr_assert_eq(zk_codec_epoch_decode(d, n, &v), KERR_NONE);
    cr_assert_eq(v, 123456);
    free(d);
}

Test(zk_codec, config_change_round_trip_and_limits)
{
    struct zk_config_change c = {.seq = 7}, back;
    snprintf(c.entity_type, sizeof(c.entity_type), "topics");
    snprintf(c.entity_name, sizeof(c.entity_name), "orders");
    uint8_t *d;
    size_t n;
    cr_assert_eq(zk_codec_config_change_encode(&c, &d, &n), KERR_NONE);
    memset(&back, 0, sizeof(back));
    cr_assert_eq(zk_codec_config_change_decode(d, n, &back), KERR_NONE);
    free(d);
    cr_assert_str_eq(back.entity_type, "topics");
    cr_assert_str_eq(back.entity_name, "orders");
    cr_assert_eq(back.seq, 0, "the sequence number comes from the znode name, not the payload");

    /* no entity name, or a type too long for the struct: corrupt */
    struct zk_config_change bad = {0};
    snprintf(bad.entity_type, sizeof(bad.entity_type), "topics");
    cr_assert_eq(zk_codec_config_change_encode(&bad, &d, &n), KERR_NONE);
    cr_assert_eq(zk_codec_config_change_decode(d, n, &back), KERR__CORRUPT);
    free(d);
    static const uint8_t garbage[] = {0xff, 0xff, 0xff};
    cr_assert_eq(zk_codec_config_change_decode(garbage, sizeof(garbage), &back), KERR__CORRUPT);
}
