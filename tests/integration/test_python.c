/*
 * tests/integration/test_python.c — Python clients against one broker:
 * confluent-kafka-python (librdkafka) and kafka-python (its own protocol
 * engine, ApiVersions v0 probing, Produce v7 / Fetch v4 / Metadata v1) each
 * produce keyed records with headers and read them back. The scripts live in
 * tests/integration/py/ and run with the system /usr/bin/python3 (Debian's
 * python3-confluent-kafka and python3-kafka).
 */
#include "tests/harness/broker_proc.h"
#include "tests/integration/itest.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_RECORDS 2000

static void up(void) { cr_assert(tcluster_fixture_up(1, NULL), "cluster did not start"); }

TestSuite(python, .init = up, .fini = itest_fixture_down, .timeout = 240);

static void run_script(const char *script, const char *prefix)
{
    struct tcluster *c = tcluster_fixture();
    char topic[64];
    itest_topic(prefix, topic, sizeof(topic));
    cr_assert_eq(itest_create_topic(c->bootstrap, topic, 1, 30), 0);
    const char *src = getenv("GREGOR_SOURCE_DIR");
    cr_assert(src, "GREGOR_SOURCE_DIR not set (run through ctest)");
    char *out = NULL;
    int rc = harness_shf(&out, 180,
                         "BOOTSTRAP=%s TOPIC=%s N=%d /usr/bin/python3 %s/tests/integration/py/%s",
                         c->bootstrap, topic, N_RECORDS, src, script);
    cr_assert_eq(rc, 0, "%s exited %d:\n%s", script, rc, out);
    cr_assert(strstr(out, "records round-tripped"), "%s said:\n%s", script, out);
    free(out);
    int16_t err = 0;
    int64_t leo = itest_list_offset(broker_proc_port(c->broker[0]), topic, 0, -1, &err);
    cr_assert_eq(leo, N_RECORDS, "log end offset %lld (error %d)", (long long)leo, err);
}

Test(python, confluent_kafka_produce_consume)
{
    run_script("confluent_roundtrip.py", "py-confluent");
}

Test(python, kafka_python_produce_consume) { run_script("kafka_python_roundtrip.py", "py-kafka"); }
