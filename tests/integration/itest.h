/*
 * tests/integration/itest.h — librdkafka and raw-protocol helpers shared by
 * the integration tests (compiled into each test binary).
 *
 * Every helper returns a status rather than asserting, so tests say what
 * they check with cr_assert at the call site. Diagnostics go to stderr.
 */
#ifndef GREGOR_TESTS_INTEGRATION_ITEST_H
#define GREGOR_TESTS_INTEGRATION_ITEST_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Creates topic with n partitions (replication factor 1) through
 * librdkafka's admin CreateTopics, then waits (timeout_s) until Metadata
 * shows every partition with a leader. Returns 0 or -1. */
int itest_create_topic(const char *bootstrap, const char *topic, int partitions, int timeout_s);

/* Returns new: a producer with bootstrap.servers and the "key", "value"
 * pairs of kv (NULL-terminated list, may be NULL), or NULL. */
rd_kafka_t *itest_producer(const char *bootstrap, const char *const *kv);
/* Returns new: a consumer without a group (for itest_consume_check(), which
 * uses the legacy per-partition API), auto-commit off. */
rd_kafka_t *itest_consumer(const char *bootstrap, const char *const *kv);

/* Writes the value itest_produce() uses for record i into buf (size n,
 * 160 is enough; compressible, about 100 bytes) and returns buf. */
const char *itest_value(int i, char *buf, size_t n);

struct itest_produce_result {
    int delivered; /* delivery reports without error */
    int failed;    /* delivery reports with an error */
    rd_kafka_resp_err_t first_err;
};
/* Produces n records key "key-<i>", value itest_value(i) to (topic,
 * partition) and waits up to timeout_s for every delivery report. */
int itest_produce(rd_kafka_t *rk, const char *topic, int32_t partition, int n, int timeout_s,
                  struct itest_produce_result *res);

/* Consumes (topic, partition) from offset 0 until n records or timeout_s.
 * Checks that record j has offset j, key "key-<j>" and value
 * itest_value(j). Returns the number of records that matched in order, or
 * -1 at the first mismatch (described on stderr). */
int itest_consume_check(rd_kafka_t *rk, const char *topic, int32_t partition, int n, int timeout_s);

/* Raw protocol: ListOffsets v1 latest (-1) or earliest (-2) of (topic,
 * partition) on the broker at port. Returns the offset, or -1 with error
 * code in *err (may be NULL) / a transport failure (*err = -1). */
int64_t itest_list_offset(int port, const char *topic, int32_t partition, int64_t ts, int16_t *err);
/* Raw protocol: an ApiVersions v0 round trip on a new connection works and
 * answers error 0 with at least one API. */
bool itest_api_versions_ok(int port);

/* Criterion .fini for suites on the tcluster fixture: tears it down and
 * fails the test if a broker had died or did not exit 0 after SIGTERM
 * (crash, sanitizer report, hang). */
void itest_fixture_down(void);

/* A topic name unique to this test process: "<prefix>-<pid>". */
const char *itest_topic(const char *prefix, char *buf, size_t n);

#endif
