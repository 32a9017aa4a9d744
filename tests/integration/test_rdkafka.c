/*
 * tests/integration/test_rdkafka.c — librdkafka (the reference C client)
 * producing and consuming through one broker: acks=0, acks=1, acks=all, and
 * every compression codec (none, gzip, snappy, lz4, zstd). Consumed records
 * must equal the produced ones (key, value, offset, order). The broker
 * stores batches as sent (docs/architecture.md §5), so the segment file's batches must
 * carry the producer's codec in their attributes.
 */
#include "tests/harness/broker_proc.h"
#include "tests/harness/kreq.h"
#include "tests/integration/itest.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_RECORDS 10000

static void up(void) { cr_assert(tcluster_fixture_up(1, NULL), "cluster did not start"); }

TestSuite(rdkafka, .init = up, .fini = itest_fixture_down, .timeout = 180);

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void round_trip(const char *name, const char *const *producer_kv, int n)
{
    struct tcluster *c = tcluster_fixture();
    char topic[64];
    itest_topic(name, topic, sizeof(topic));
    cr_assert_eq(itest_create_topic(c->bootstrap, topic, 1, 30), 0, "topic %s not created", topic);

    rd_kafka_t *p = itest_producer(c->bootstrap, producer_kv);
    cr_assert(p);
    struct itest_produce_result res;
    int rc = itest_produce(p, topic, 0, n, 60, &res);
    cr_assert_eq(rc, 0, "%s: %d of %d delivered, %d failed (first error %s)", name, res.delivered,
                 n, res.failed, rd_kafka_err2name(res.first_err));
    rd_kafka_destroy(p);

    rd_kafka_t *cons = itest_consumer(c->bootstrap, NULL);
    cr_assert(cons);
    int got = itest_consume_check(cons, topic, 0, n, 60);
    cr_assert_eq(got, n, "%s: consumed %d of %d records intact and in order", name, got, n);
    rd_kafka_destroy(cons);

    int16_t err = 0;
    int64_t leo = itest_list_offset(broker_proc_port(c->broker[0]), topic, 0, -1, &err);
    cr_assert_eq(leo, n, "%s: log end offset %lld (error %d), expected %d", name, (long long)leo,
                 err, n);
}

Test(rdkafka, acks_0) { round_trip("acks0", (const char *const[]){"acks", "0", NULL}, N_RECORDS); }
Test(rdkafka, acks_1) { round_trip("acks1", (const char *const[]){"acks", "1", NULL}, N_RECORDS); }
Test(rdkafka, acks_all)
{
    round_trip("acksall", (const char *const[]){"acks", "all", NULL}, N_RECORDS);
}

/* Reads every batch header of the partition's first segment: each batch
 * must carry magic 2, a valid CRC, and either the producer's codec or none
 * (librdkafka sends a batch uncompressed when compression does not make it
 * smaller, e.g. a lone first record); most records must sit in batches
 * compressed with the codec (docs/protocol.md §4.1-4.2, §4.7). */
static void check_stored_codec(const char *topic, int codec, int n_records)
{
    struct tcluster *c = tcluster_fixture();
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s-0/00000000000000000000.log",
             broker_proc_data_dir(c->broker[0]), topic);
    FILE *f = fopen(path, "rb");
    cr_assert(f, "segment %s not found", path);
    uint8_t hdr[61];
    int batches = 0, in_codec = 0, total = 0;
    long pos = 0;
    while (fseek(f, pos, SEEK_SET) == 0 && fread(hdr, 1, sizeof(hdr), f) == sizeof(hdr)) {
        int32_t len = (int32_t)be32(hdr + 8);
        int attrs = (hdr[21] << 8) | hdr[22];
        int32_t count = (int32_t)be32(hdr + 57);
        cr_assert_eq(hdr[16], 2, "batch %d: magic %d", batches, hdr[16]);
        cr_assert((attrs & 7) == codec || (attrs & 7) == 0,
                  "batch %d stored with codec %d, produced with %d", batches, attrs & 7, codec);
        uint8_t *body = malloc((size_t)len);
        cr_assert(fseek(f, pos + 21, SEEK_SET) == 0 &&
                  fread(body, 1, (size_t)len - 9, f) == (size_t)len - 9);
        cr_assert_eq(kreq_crc32c(body, (size_t)len - 9), be32(hdr + 17),
                     "batch %d: stored CRC mismatch", batches);
        free(body);
        if ((attrs & 7) == codec)
            in_codec += count;
        total += count;
        batches++;
        pos += 12 + len;
    }
    fclose(f);
    cr_assert_eq(total, n_records, "segment holds %d records in %d batches", total, batches);
    cr_assert_geq(in_codec * 2, n_records, "only %d of %d records stored with codec %d", in_codec,
                  n_records, codec);
}

static void codec_round_trip(const char *codec, int id)
{
    char name[32];
    snprintf(name, sizeof(name), "codec-%s", codec);
    const char *kv[] = {"compression.codec", codec, "linger.ms", "20", NULL};
    round_trip(name, kv, N_RECORDS);
    char topic[64];
    itest_topic(name, topic, sizeof(topic));
    check_stored_codec(topic, id, N_RECORDS);
}

Test(rdkafka, codec_none) { codec_round_trip("none", 0); }
Test(rdkafka, codec_gzip) { codec_round_trip("gzip", 1); }
Test(rdkafka, codec_snappy) { codec_round_trip("snappy", 2); }
Test(rdkafka, codec_lz4) { codec_round_trip("lz4", 3); }
Test(rdkafka, codec_zstd) { codec_round_trip("zstd", 4); }

/* acks=0 produce gets no response: the next answer on the connection is
 * the following request's (docs/protocol.md §1.1). */
Test(rdkafka, acks_0_raw_produce_gets_no_response)
{
    struct tcluster *c = tcluster_fixture();
    char topic[64];
    itest_topic("acks0raw", topic, sizeof(topic));
    cr_assert_eq(itest_create_topic(c->bootstrap, topic, 1, 30), 0);
    struct kbytes batch, req;
    kbytes_init(&batch);
    kbytes_init(&req);
    struct krecord r = {.key = "a", .key_len = -1, .value = "b", .value_len = -1};
    kbatch_append(&batch, 1700000000000LL, &r, 1);
    kreq_produce_v3(&req, 500, 0, 5000, topic, 0, batch.p, (int32_t)batch.len);
    kreq_api_versions(&req, 0, 501);
    int fd = kreq_connect(broker_proc_port(c->broker[0]));
    cr_assert_geq(fd, 0);
    cr_assert_eq(kreq_send(fd, req.p, req.len), 0);
    uint8_t *frame = NULL;
    size_t len = 0;
    cr_assert_eq(kreq_recv(fd, &frame, &len, 5000), 0, "no answer at all");
    struct kresp rr;
    kresp_init(&rr, frame, len);
    cr_assert_eq(kresp_i32(&rr), 501, "first answer is not the ApiVersions one");
    free(frame);
    close(fd);
    int16_t err = 0;
    cr_assert_eq(itest_list_offset(broker_proc_port(c->broker[0]), topic, 0, -1, &err), 1,
                 "acks=0 record not appended (error %d)", err);
    kbytes_free(&batch);
    kbytes_free(&req);
}
