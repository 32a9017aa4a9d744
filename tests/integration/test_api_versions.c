/*
 * tests/integration/test_api_versions.c — ApiVersions against a real
 * broker over raw sockets: every advertised version 0..3 round-trips with a
 * well-formed body, the advertised table follows docs/protocol.md §2.3, §3.1
 * (Fetch min 4, everything else min 0 — Produce too: librdkafka 2.0.2 stops
 * compressing with gzip/snappy/lz4 unless Produce's range starts at 0, see
 * broker/kafka/produce.c — sorted, identical in every version), unsupported
 * versions get the v0 error answer (§2.2) on a connection that stays usable,
 * and pipelined requests are answered in order.
 */
#include "tests/harness/broker_proc.h"
#include "tests/integration/itest.h"
#include "tests/harness/kreq.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void up(void) { cr_assert(tcluster_fixture_up(1, NULL), "cluster did not start"); }

TestSuite(api_versions, .init = up, .fini = itest_fixture_down, .timeout = 90);

static int port(void) { return broker_proc_port(tcluster_fixture()->broker[0]); }

/* Sends ApiVersions `version` on fd and decodes the answer (decoded as v0
 * when decode_as differs, e.g. for the unsupported-version answer). */
static void api_versions_call(int fd, int16_t version, int16_t decode_as, int32_t corr,
                              struct kapi_versions *av)
{
    struct kbytes req;
    kbytes_init(&req);
    kreq_api_versions(&req, version, corr);
    uint8_t *frame = NULL;
    size_t len = 0;
    int rc = kreq_roundtrip(fd, &req, corr, &frame, &len, 5000);
    cr_assert_eq(rc, 0, "ApiVersions v%d: no response with correlation id %d (rc %d)", version,
                 corr, rc);
    cr_assert_eq(kresp_api_versions(frame, len, decode_as, av), 0,
                 "ApiVersions v%d: response (%zu bytes) is not a well-formed v%d body", version,
                 len, decode_as);
    free(frame);
    kbytes_free(&req);
}

/* Index of key in av, or -1. */
static int find(const struct kapi_versions *av, int16_t key)
{
    for (int i = 0; i < av->n; i++)
        if (av->api[i].key == key)
            return i;
    return -1;
}

static void check_table(const struct kapi_versions *av, int16_t version)
{
    cr_assert_eq(av->error, 0, "v%d: error %d", version, av->error);
    cr_assert_gt(av->n, 0);
    for (int i = 0; i < av->n; i++) {
        cr_assert_leq(av->api[i].min, av->api[i].max, "key %d: min > max", av->api[i].key);
        if (i > 0)
            cr_assert_gt(av->api[i].key, av->api[i - 1].key, "v%d: keys not sorted/unique",
                         version);
        int16_t want_min = av->api[i].key == KREQ_FETCH ? 4 : 0;
        cr_assert_eq(av->api[i].min, want_min, "key %d advertises min %d, expected %d",
                     av->api[i].key, av->api[i].min, want_min);
    }
    int e = find(av, KREQ_API_VERSIONS);
    cr_assert_geq(e, 0, "ApiVersions (18) not advertised");
    cr_assert_eq(av->api[e].max, 3, "ApiVersions max %d, expected 3", av->api[e].max);
    cr_assert_geq(find(av, KREQ_METADATA), 0, "Metadata not advertised");
    cr_assert_geq(find(av, KREQ_PRODUCE), 0, "Produce not advertised");
    if (version >= 1)
        cr_assert_eq(av->throttle_ms, 0);
}

static void round_trip(int16_t version)
{
    int fd = kreq_connect(port());
    cr_assert_geq(fd, 0);
    struct kapi_versions *av = malloc(sizeof(*av)), *av0 = malloc(sizeof(*av0));
    api_versions_call(fd, version, version, 100 + version, av);
    check_table(av, version);
    /* Same table as v0 on a second request on the same connection. */
    api_versions_call(fd, 0, 0, 200, av0);
    cr_assert_eq(av->n, av0->n, "v%d lists %d APIs, v0 lists %d", version, av->n, av0->n);
    for (int i = 0; i < av->n; i++)
        cr_assert(av->api[i].key == av0->api[i].key && av->api[i].min == av0->api[i].min &&
                      av->api[i].max == av0->api[i].max,
                  "v%d entry %d differs from v0", version, i);
    free(av);
    free(av0);
    close(fd);
}

Test(api_versions, v0_round_trip) { round_trip(0); }
Test(api_versions, v1_round_trip) { round_trip(1); }
Test(api_versions, v2_round_trip) { round_trip(2); }
Test(api_versions, v3_flexible_round_trip) { round_trip(3); }

/* §2.2: an unknown version gets error 35 in the v0 layout, listing (at
 * most) the ApiVersions entry; the client then downgrades on the same
 * connection. */
static void unsupported(int16_t version)
{
    int fd = kreq_connect(port());
    cr_assert_geq(fd, 0);
    struct kapi_versions *av = malloc(sizeof(*av));
    api_versions_call(fd, version, 0, 7, av);
    cr_assert_eq(av->error, 35, "ApiVersions v%d: error %d, expected UNSUPPORTED_VERSION (35)",
                 version, av->error);
    cr_assert_leq(av->n, 1, "unsupported answer lists %d APIs", av->n);
    if (av->n == 1) {
        cr_assert_eq(av->api[0].key, KREQ_API_VERSIONS);
        cr_assert_eq(av->api[0].min, 0);
        cr_assert_eq(av->api[0].max, 3);
    }
    api_versions_call(fd, 3, 3, 8, av); /* librdkafka's retry */
    check_table(av, 3);
    free(av);
    close(fd);
}

Test(api_versions, v4_unsupported_falls_back_to_v0_error) { unsupported(4); }
Test(api_versions, v99_unsupported_falls_back_to_v0_error) { unsupported(99); }

Test(api_versions, v99_answer_is_exact_bytes)
{
    int fd = kreq_connect(port());
    cr_assert_geq(fd, 0);
    struct kbytes req;
    kbytes_init(&req);
    kreq_api_versions(&req, 99, 1);
    uint8_t *frame = NULL;
    size_t len = 0;
    cr_assert_eq(kreq_roundtrip(fd, &req, 1, &frame, &len, 5000), 0);
    /* docs/protocol.md §2.2, without the size prefix; or the empty-array form. */
    const uint8_t full[] = {0, 0, 0, 1, 0, 0x23, 0, 0, 0, 1, 0, 0x12, 0, 0, 0, 3};
    const uint8_t empty[] = {0, 0, 0, 1, 0, 0x23, 0, 0, 0, 0};
    bool ok = (len == sizeof(full) && memcmp(frame, full, len) == 0) ||
              (len == sizeof(empty) && memcmp(frame, empty, len) == 0);
    cr_assert(ok, "unexpected %zu-byte answer to ApiVersions v99", len);
    free(frame);
    kbytes_free(&req);
    close(fd);
}

/* kafka-python sends ApiVersions v0 and Metadata at once; answers must come
 * back in request order with their own correlation ids. */
Test(api_versions, pipelined_requests_answered_in_order)
{
    int fd = kreq_connect(port());
    cr_assert_geq(fd, 0);
    struct kbytes req;
    kbytes_init(&req);
    kreq_api_versions(&req, 0, 11);
    kreq_metadata_v1(&req, 12, NULL, 0);
    kreq_api_versions(&req, 3, 13);
    cr_assert_eq(kreq_send(fd, req.p, req.len), 0);
    int32_t want[] = {11, 12, 13};
    for (int i = 0; i < 3; i++) {
        uint8_t *frame = NULL;
        size_t len = 0;
        cr_assert_eq(kreq_recv(fd, &frame, &len, 5000), 0, "response %d missing", i);
        struct kresp r;
        kresp_init(&r, frame, len);
        cr_assert_eq(kresp_i32(&r), want[i], "response %d out of order", i);
        if (i == 1) {
            struct kmetadata *md = malloc(sizeof(*md));
            cr_assert_eq(kresp_metadata_v1(frame, len, md), 0, "Metadata v1 body malformed");
            cr_assert_eq(md->n_brokers, 1);
            cr_assert_eq(md->broker[0].node_id, 0);
            cr_assert_eq(md->broker[0].port, port());
            cr_assert_eq(md->n_topics, 0, "empty topic list must return no topics");
            free(md);
        }
        free(frame);
    }
    kbytes_free(&req);
    close(fd);
}
