/*
 * tests/unit/broker/test_config.c — broker/config/config.c (defaults, the four
 * sources and their order, validation, listeners) and the properties
 * parser it is built on, common/props.c (suite "props"), and the topic key
 * cleanup.policy of broker/config/topic_config.c, which shares its value rule
 * with log.cleanup.policy.
 *
 * Files are written to a fresh temporary directory per test. The shipped
 * deploy/config/server.properties is found through GREGOR_SOURCE_DIR, which
 * ctest sets.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/config/config.h"
#include "broker/config/topic_config.h"
#include "common/props.h"

#define ZK "zookeeper.connect=localhost:2181\n"

static char tmpdir[64];
static char path[128];
static char err[1024];
static struct broker_config cfg;

static void tmpdir_up(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/gregor-test-config-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    snprintf(path, sizeof(path), "%s/server.properties", tmpdir);
    memset(&cfg, 0, sizeof(cfg));
    err[0] = '\0';
}

static void tmpdir_down(void)
{
    config_free(&cfg);
    unlink(path);
    rmdir(tmpdir);
}

static void write_file(const char *text)
{
    FILE *f = fopen(path, "w");

    cr_assert_not_null(f);
    cr_assert_eq(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
}

/* Loads text as the file (NULL = no file) plus envp and overrides. */
static int load(const char *text, char **envp, int n, char *const *ov)
{
    if (text != NULL)
        write_file(text);
    return config_load(&cfg, text ? path : NULL, envp, ov, n, err, sizeof(err));
}

/* Loads the file text and expects failure with every needle in err. */
static void expect_file_error(const char *text, const char *needle1, const char *needle2)
{
    cr_assert_eq(load(text, NULL, 0, NULL), -1, "expected failure for: %s", text);
    cr_assert(strstr(err, needle1) != NULL, "error '%s' lacks '%s'", err, needle1);
    if (needle2 != NULL)
        cr_assert(strstr(err, needle2) != NULL, "error '%s' lacks '%s'", err, needle2);
}

static char *read_whole(const char *p)
{
    FILE *f = fopen(p, "rb");
    char *buf;
    long len;

    cr_assert_not_null(f, "cannot open %s", p);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = calloc(1, (size_t)len + 1);
    cr_assert_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    return buf;
}

/* ------------------------------------------------------------------ */
/* props                                                              */
/* ------------------------------------------------------------------ */

static struct props props;

static void props_up(void)
{
    props_init(&props);
    err[0] = '\0';
}

static void props_down(void) { props_destroy(&props); }

TestSuite(props, .init = props_up, .fini = props_down, .timeout = 10);

static kerr_t parse(const char *text)
{
    return props_parse(&props, text, strlen(text), err, sizeof(err));
}

Test(props, accepts_equals_colon_and_blank_separators_and_skips_comments)
{
    cr_assert_eq(parse("a=1\nb: 2\nc 3\n# x=9\n  ! y=9\n\n   d = four  \ne=\n"), KERR_NONE, "%s",
                 err);
    cr_assert_eq(props.n, 5);
    cr_assert_str_eq(props_get(&props, "a"), "1");
    cr_assert_str_eq(props_get(&props, "b"), "2");
    cr_assert_str_eq(props_get(&props, "c"), "3");
    cr_assert_str_eq(props_get(&props, "d"), "four");
    cr_assert_str_eq(props_get(&props, "e"), "");
    cr_assert_null(props_get(&props, "x"));
    cr_assert_eq(props.entry[3].line, 7);
}

Test(props, continuation_joins_lines_and_drops_indent)
{
    cr_assert_eq(parse("list = a,\\\n     b,\\\n\tc\nnext=1\n"), KERR_NONE, "%s", err);
    cr_assert_str_eq(props_get(&props, "list"), "a,b,c");
    cr_assert_eq(props.entry[0].line, 1);
    cr_assert_eq(props.entry[1].line, 4);
}

Test(props, even_backslashes_do_not_continue)
{
    cr_assert_eq(parse("a=x\\\\\nb=y\n"), KERR_NONE, "%s", err);
    cr_assert_str_eq(props_get(&props, "a"), "x\\");
    cr_assert_str_eq(props_get(&props, "b"), "y");
}

Test(props, comment_line_ending_in_backslash_does_not_continue)
{
    cr_assert_eq(parse("# note \\\na=1\n"), KERR_NONE, "%s", err);
    cr_assert_str_eq(props_get(&props, "a"), "1");
}

Test(props, resolves_escapes_in_keys_and_values)
{
    cr_assert_eq(parse("k\\=x\\ y = v\\tw\\u00e9\\\\\\ \n"), KERR_NONE, "%s", err);
    cr_assert_str_eq(props.entry[0].key, "k=x y");
    cr_assert_str_eq(props.entry[0].value, "v\tw\xc3\xa9\\ ");
}

Test(props, crlf_and_cr_line_endings_count_lines)
{
    cr_assert_eq(parse("a=1\r\nb=2\rc=3\r\n"), KERR_NONE, "%s", err);
    cr_assert_str_eq(props_get(&props, "b"), "2");
    cr_assert_str_eq(props_get(&props, "c"), "3");
    cr_assert_eq(props.entry[2].line, 3);
}

Test(props, last_duplicate_wins)
{
    cr_assert_eq(parse("a=1\na=2\n"), KERR_NONE, "%s", err);
    cr_assert_eq(props.n, 2);
    cr_assert_str_eq(props_get(&props, "a"), "2");
}

Test(props, key_without_separator_is_a_syntax_error_with_line)
{
    cr_assert_eq(parse("a=1\n\nfoo\n"), KERR__INVALID);
    cr_assert(strstr(err, "line 3") != NULL, "%s", err);
    cr_assert(strstr(err, "'foo'") != NULL, "%s", err);
}

Test(props, empty_key_and_bad_unicode_escape_are_errors)
{
    cr_assert_eq(parse("ok=1\n=value\n"), KERR__INVALID);
    cr_assert(strstr(err, "line 2: empty key") != NULL, "%s", err);
    props_destroy(&props);
    cr_assert_eq(parse("a=\\u12G4\n"), KERR__INVALID);
    cr_assert(strstr(err, "line 1") != NULL, "%s", err);
    props_destroy(&props);
    cr_assert_eq(parse("a=\\u0000\n"), KERR__INVALID);
}

Test(props, nul_byte_is_an_error)
{
    cr_assert_eq(props_parse(&props, "a=1\nb=x\0y\n", 10, err, sizeof(err)), KERR__INVALID);
    cr_assert(strstr(err, "line 2") != NULL, "%s", err);
}

Test(props, missing_file_is_io_error_naming_path)
{
    cr_assert_eq(props_load_file(&props, "/nonexistent/x.properties", err, sizeof(err)), KERR__IO);
    cr_assert(strstr(err, "/nonexistent/x.properties") != NULL, "%s", err);
}

/* ------------------------------------------------------------------ */
/* config: defaults and sources                                       */
/* ------------------------------------------------------------------ */

TestSuite(config, .init = tmpdir_up, .fini = tmpdir_down, .timeout = 10);

Test(config, defaults_are_kafkas)
{
    char *ov[] = {"zookeeper.connect=localhost:2181"};

    cr_assert_eq(load(NULL, NULL, 1, ov), 0, "%s", err);
    cr_assert_eq(cfg.broker_id, -1);
    cr_assert_null(cfg.broker_rack);
    cr_assert_eq(cfg.zookeeper_session_timeout_ms, 18000);
    cr_assert_eq(cfg.zookeeper_connection_timeout_ms, -1);
    cr_assert_eq(cfg.num_network_threads, 3);
    cr_assert_eq(cfg.num_io_threads, 8);
    cr_assert_eq(cfg.socket_request_max_bytes, 104857600);
    cr_assert_eq(cfg.num_partitions, 1);
    cr_assert_eq(cfg.default_replication_factor, 1);
    cr_assert_eq(cfg.message_max_bytes, 1048588);
    cr_assert_eq(cfg.log_segment_bytes, 1073741824);
    cr_assert(cfg.auto_create_topics_enable);
    cr_assert(cfg.delete_topic_enable);
    cr_assert_not(cfg.unclean_leader_election_enable);
    cr_assert_eq(cfg.log_flush_interval_messages, INT64_MAX);
    cr_assert_eq(config_flush_interval_ms(&cfg), INT64_MAX);
    cr_assert_eq(config_retention_ms(&cfg), 168LL * 3600 * 1000);
    cr_assert_eq(config_roll_ms(&cfg), 168LL * 3600 * 1000);
    cr_assert_eq(cfg.offsets_topic_replication_factor, 3);
    cr_assert_eq(cfg.transaction_state_log_min_isr, 2);
    cr_assert_eq(cfg.group_max_size, INT32_MAX);
    cr_assert_str_eq(cfg.log_cleanup_policy, "delete");
    cr_assert_str_eq(cfg.log_message_timestamp_type, "CreateTime");
    cr_assert_str_eq(cfg.compression_type, "producer");
    cr_assert_str_eq(cfg.gregor_log_level, "info");
    cr_assert_str_eq(config_data_dir(&cfg), "/tmp/kafka-logs");
    cr_assert_eq(cfg.n_listeners, 1);
    cr_assert_str_eq(cfg.listener[0].name, "PLAINTEXT");
    cr_assert_str_eq(cfg.listener[0].host, "");
    cr_assert_eq(cfg.listener[0].port, 9092);
    cr_assert_str_eq(cfg.listener[0].protocol, "PLAINTEXT");
    cr_assert_eq(cfg.n_advertised, 1);
    cr_assert_str_eq(cfg.advertised[0].host, "localhost");
    cr_assert_eq(cfg.advertised[0].port, 9092);
    cr_assert_eq(cfg.inter_broker_listener, 0);
}

Test(config, every_key_reports_its_source)
{
    char *ov[] = {"zookeeper.connect=localhost:2181"};
    char *envp[] = {"GREGOR_NUM_PARTITIONS=4", NULL};
    char buf[64];
    int idx;

    cr_assert_eq(load("broker.id=7\n", envp, 1, ov), 0, "%s", err);
    cr_assert_eq(config_key_source(&cfg, config_key_find("broker.id")), CONFIG_SOURCE_FILE);
    cr_assert_eq(config_key_source(&cfg, config_key_find("num.partitions")), CONFIG_SOURCE_ENV);
    cr_assert_eq(config_key_source(&cfg, config_key_find("zookeeper.connect")),
                 CONFIG_SOURCE_OVERRIDE);
    cr_assert_eq(config_key_source(&cfg, config_key_find("log.dir")), CONFIG_SOURCE_DEFAULT);
    idx = config_key_find("num.partitions");
    cr_assert(config_key_value(&cfg, idx, buf, sizeof(buf)));
    cr_assert_str_eq(buf, "4");
    cr_assert(config_key_value(&cfg, config_key_find("delete.topic.enable"), buf, sizeof(buf)));
    cr_assert_str_eq(buf, "true");
    cr_assert_not(config_key_value(&cfg, config_key_find("broker.rack"), buf, sizeof(buf)));
    cr_assert_eq(config_key_find("no.such.key"), -1);
    cr_assert_null(config_key_name(config_key_count()));
}

/* Keys whose default is "unset" (config_key_value() gives false and ""). */
static bool default_is_null(const char *name)
{
    static const char *const nullable[] = {
        "broker.rack",
        "gregor.zookeeper.auth.digest",
        "advertised.listeners",
        "inter.broker.listener.name",
        "log.dirs",
        "gregor.log.file",
        "gregor.console.mirrors",
        "max.connections.per.ip.overrides",
        "ssl.keystore.location",
        "ssl.key.password",
        "ssl.truststore.location",
        "ssl.cipher.suites",
        "authorizer.class.name",
        "super.users",
        "sasl.jaas.config",
    };
    for (size_t i = 0; i < sizeof(nullable) / sizeof(nullable[0]); i++)
        if (strcmp(name, nullable[i]) == 0)
            return true;
    return false;
}

/* Every key's default formats to text that, given back as an override,
 * loads and formats to the same text (so DescribeConfigs reports a value
 * the broker accepts); only the unset optional strings format to nothing. */
Test(config, every_key_has_a_default_that_formats)
{
    char *ov[] = {"zookeeper.connect=localhost:2181"};
    char buf[256], again[256], kv[600];
    int zk = config_key_find("zookeeper.connect");

    cr_assert_eq(load(NULL, NULL, 1, ov), 0, "%s", err);
    cr_assert_gt(config_key_count(), 60);
    cr_assert_null(config_key_name(config_key_count()));
    cr_assert_not(config_key_value(&cfg, config_key_count(), buf, sizeof(buf)));
    for (int i = 0; i < config_key_count(); i++) {
        const char *name = config_key_name(i);

        cr_assert_not_null(name);
        cr_assert_eq(config_key_find(name), i, "duplicate key %s", name);
        if (i == zk)
            continue;
        cr_assert_eq(config_key_source(&cfg, i), CONFIG_SOURCE_DEFAULT, "%s", name);
        strcpy(buf, "garbage");
        bool set = config_key_value(&cfg, i, buf, sizeof(buf));
        if (default_is_null(name)) {
            cr_assert_not(set, "%s should be unset, formats as '%s'", name, buf);
            cr_assert_str_empty(buf, "%s", name);
            continue;
        }
        cr_assert(set, "%s has no formatted default", name);
        cr_assert_str_not_empty(buf, "%s formats as empty", name);
        cr_assert_lt(strlen(buf), sizeof(buf) - 1, "%s: default truncated", name);

        /* the formatted default, given back, is accepted and unchanged */
        struct broker_config back;
        char *ov2[] = {ov[0], kv};
        snprintf(kv, sizeof(kv), "%s=%s", name, buf);
        memset(&back, 0, sizeof(back));
        cr_assert_eq(config_load(&back, NULL, NULL, ov2, 2, err, sizeof(err)), 0,
                     "%s: formatted default rejected: %s", kv, err);
        cr_assert_eq(config_key_source(&back, i), CONFIG_SOURCE_OVERRIDE, "%s", name);
        cr_assert(config_key_value(&back, i, again, sizeof(again)), "%s", name);
        cr_assert_str_eq(again, buf, "%s: '%s' loads back as '%s'", name, buf, again);
        config_free(&back);
    }
}

/* A sample of the formatted defaults, one per value type, against Kafka's. */
Test(config, formatted_defaults_are_kafkas)
{
    static const char *const want[][2] = {
        {"broker.id", "-1"},
        {"listeners", "PLAINTEXT://:9092"},
        {"num.partitions", "1"},
        {"default.replication.factor", "1"},
        {"auto.create.topics.enable", "true"},
        {"unclean.leader.election.enable", "false"},
        {"log.dir", "/tmp/kafka-logs"},
        {"log.segment.bytes", "1073741824"},
        {"log.retention.hours", "168"},
        {"log.retention.ms", "-1"},
        {"log.flush.interval.messages", "9223372036854775807"},
        {"log.cleanup.policy", "delete"},
        {"log.message.timestamp.type", "CreateTime"},
        {"replica.lag.time.max.ms", "30000"},
        {"offsets.topic.replication.factor", "3"},
        {"message.max.bytes", "1048588"},
    };
    char *ov[] = {"zookeeper.connect=localhost:2181"};
    char buf[256];

    cr_assert_eq(load(NULL, NULL, 1, ov), 0, "%s", err);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        int idx = config_key_find(want[i][0]);

        cr_assert_geq(idx, 0, "%s is not a key", want[i][0]);
        cr_assert(config_key_value(&cfg, idx, buf, sizeof(buf)), "%s", want[i][0]);
        cr_assert_str_eq(buf, want[i][1], "%s", want[i][0]);
    }
}

Test(config, file_values_with_comments_and_continuations)
{
    const char *text = "# a comment\n"
                       "! another\n"
                       "broker.id = 3\n"
                       "broker.rack: rack-a\n" ZK "log.dirs=/data/a,\\\n"
                       "         /data/b\n"
                       "num.partitions   12\n"
                       "auto.create.topics.enable=FALSE\n"
                       "log.cleanup.policy = compact , delete\n"
                       "gregor.log.level=DEBUG\n";

    cr_assert_eq(load(text, NULL, 0, NULL), 0, "%s", err);
    cr_assert_eq(cfg.broker_id, 3);
    cr_assert_str_eq(cfg.broker_rack, "rack-a");
    cr_assert_str_eq(cfg.log_dirs, "/data/a,/data/b");
    cr_assert_str_eq(config_data_dir(&cfg), "/data/a");
    cr_assert_eq(cfg.num_partitions, 12);
    cr_assert_not(cfg.auto_create_topics_enable);
    cr_assert_str_eq(cfg.log_cleanup_policy, "delete,compact");
    cr_assert_str_eq(cfg.gregor_log_level, "debug");
}

Test(config, environment_overrides_file_and_ignores_non_keys)
{
    char *envp[] = {"PATH=/usr/bin",
                    "GREGOR_NUM_PARTITIONS=5",
                    "GREGOR_LOG_DIRS= /env/logs ",
                    "GREGOR_SOURCE_DIR=/src",
                    "GREGOR_NOT_A_KEY=1",
                    "GREGOR_num_partitions=9",
                    "GREGOR_GREGOR_LOG_LEVEL=warn",
                    NULL};

    cr_assert_eq(load(ZK "num.partitions=3\nlog.dirs=/file/logs\n", envp, 0, NULL), 0, "%s", err);
    cr_assert_eq(cfg.num_partitions, 5);
    cr_assert_str_eq(cfg.log_dirs, "/env/logs");
    cr_assert_str_eq(config_data_dir(&cfg), "/env/logs");
    cr_assert_str_eq(cfg.gregor_log_level, "warn");
}

Test(config, overrides_beat_environment_and_later_override_wins)
{
    char *envp[] = {"GREGOR_NUM_PARTITIONS=5", NULL};
    char *ov[] = {"num.partitions=6", " message.max.bytes = 2000 ", "num.partitions=7"};

    cr_assert_eq(load(ZK "num.partitions=3\n", envp, 3, ov), 0, "%s", err);
    cr_assert_eq(cfg.num_partitions, 7);
    cr_assert_eq(cfg.message_max_bytes, 2000);
}

Test(config, empty_optional_value_means_unset)
{
    char *ov[] = {"broker.rack="};

    cr_assert_eq(load(ZK "broker.rack=r1\nadvertised.listeners=\n", NULL, 1, ov), 0, "%s", err);
    cr_assert_null(cfg.broker_rack);
    cr_assert_null(cfg.advertised_listeners);
}

Test(config, retention_precedence_ms_then_minutes_then_hours)
{
    char *minutes[] = {"log.retention.minutes=30"};
    char *ms[] = {"log.retention.minutes=30", "log.retention.ms=1234"};
    char *forever[] = {"log.retention.ms=-1"};
    char *roll[] = {"log.roll.ms=5000", "log.flush.interval.ms=250"};

    cr_assert_eq(load(ZK "log.retention.hours=2\n", NULL, 0, NULL), 0, "%s", err);
    cr_assert_eq(config_retention_ms(&cfg), 2LL * 3600 * 1000);
    config_free(&cfg);
    cr_assert_eq(load(ZK "log.retention.hours=2\n", NULL, 1, minutes), 0, "%s", err);
    cr_assert_eq(config_retention_ms(&cfg), 30LL * 60 * 1000);
    config_free(&cfg);
    cr_assert_eq(load(ZK "log.retention.hours=2\n", NULL, 2, ms), 0, "%s", err);
    cr_assert_eq(config_retention_ms(&cfg), 1234);
    config_free(&cfg);
    cr_assert_eq(load(ZK, NULL, 1, forever), 0, "%s", err);
    cr_assert_eq(config_retention_ms(&cfg), -1);
    config_free(&cfg);
    cr_assert_eq(load(ZK, NULL, 2, roll), 0, "%s", err);
    cr_assert_eq(config_roll_ms(&cfg), 5000);
    cr_assert_eq(config_flush_interval_ms(&cfg), 250);
}

/* ------------------------------------------------------------------ */
/* config: errors                                                      */
/* ------------------------------------------------------------------ */

Test(config, unknown_key_in_file_names_key_and_line)
{
    expect_file_error(ZK "num.partitions=1\nfoo.bar=1\n", "unknown configuration key 'foo.bar'",
                      "(line 3)");
    cr_assert(strstr(err, path) != NULL, "%s", err);
}

Test(config, failed_load_leaves_nothing_to_free)
{
    struct broker_config zero;

    expect_file_error(ZK "foo.bar=1\n", "foo.bar", NULL);
    memset(&zero, 0, sizeof(zero));
    cr_assert_eq(memcmp(&cfg, &zero, sizeof(cfg)), 0);
}

Test(config, unknown_key_in_override_names_key)
{
    char *ov[] = {"foo.bar=1"};
    char *bad[] = {"num.partitions"};

    cr_assert_eq(load(ZK, NULL, 1, ov), -1);
    cr_assert(strstr(err, "unknown configuration key 'foo.bar'") != NULL, "%s", err);
    cr_assert(strstr(err, "override") != NULL, "%s", err);
    cr_assert_eq(load(ZK, NULL, 1, bad), -1);
    cr_assert(strstr(err, "not key=value") != NULL, "%s", err);
}

Test(config, syntax_error_in_file_names_line)
{
    expect_file_error(ZK "\nnum.partitions\n", "line 3", "num.partitions");
}

Test(config, bad_integer_names_key_and_value)
{
    expect_file_error(ZK "num.partitions=abc\n",
                      "invalid value 'abc' for num.partitions: not an integer", "(line 2)");
    expect_file_error(ZK "num.partitions=12x\n", "not an integer", NULL);
    expect_file_error(ZK "num.partitions=3000000000\n", "num.partitions: must be at least 1", NULL);
    expect_file_error(ZK "num.network.threads=0\n",
                      "invalid value '0' for num.network.threads: must be at least 1", NULL);
    expect_file_error(ZK "message.max.bytes=-1\n", "message.max.bytes", NULL);
    expect_file_error(ZK "default.replication.factor=40000\n", "default.replication.factor", NULL);
    expect_file_error(ZK "log.roll.ms=0\n", "must be -1 or at least 1", NULL);
    expect_file_error(ZK "leader.imbalance.per.broker.percentage=101\n",
                      "must be between 0 and 100", NULL);
}

Test(config, bad_boolean_names_key)
{
    expect_file_error(ZK "delete.topic.enable=yes\n",
                      "invalid value 'yes' for delete.topic.enable: not a boolean", NULL);
}

Test(config, bad_enums_name_key)
{
    expect_file_error(ZK "log.cleanup.policy=remove\n", "for log.cleanup.policy", NULL);
    expect_file_error(ZK "log.cleanup.policy=delete,delete\n", "for log.cleanup.policy", NULL);
    expect_file_error(ZK "log.message.timestamp.type=createtime\n",
                      "for log.message.timestamp.type", "CreateTime, LogAppendTime");
    expect_file_error(ZK "gregor.log.level=trace\n", "for gregor.log.level", NULL);
    expect_file_error(ZK "compression.type=brotli\n", "for compression.type", NULL);
}

Test(config, console_mirrors_are_http_urls)
{
    cr_assert_eq(
        load(ZK "gregor.console.mirrors=http://127.0.0.1:9410, https://m2:9410/\n", NULL, 0, NULL),
        0, "%s", err);
    cr_assert_str_eq(cfg.gregor_console_mirrors, "http://127.0.0.1:9410, https://m2:9410/");
    config_free(&cfg);
    expect_file_error(ZK "gregor.console.mirrors=127.0.0.1:9410\n", "for gregor.console.mirrors",
                      "http:// or https://");
    expect_file_error(ZK "gregor.console.mirrors=http://a:1,,http://b:1\n",
                      "for gregor.console.mirrors", NULL);
    expect_file_error(ZK "gregor.console.mirrors=http://a:1/\"x\n", "for gregor.console.mirrors",
                      NULL);
}

Test(config, bad_environment_value_names_variable)
{
    char *envp[] = {"GREGOR_NUM_PARTITIONS=many", NULL};

    cr_assert_eq(load(ZK, envp, 0, NULL), -1);
    cr_assert(strstr(err, "invalid value 'many' for num.partitions") != NULL, "%s", err);
    cr_assert(strstr(err, "GREGOR_NUM_PARTITIONS") != NULL, "%s", err);
}

Test(config, missing_zookeeper_connect_is_an_error)
{
    expect_file_error("broker.id=1\n", "zookeeper.connect", NULL);
    expect_file_error("zookeeper.connect=\n", "zookeeper.connect: must not be empty", NULL);
}

Test(config, zookeeper_connect_forms)
{
    cr_assert_eq(load("zookeeper.connect=zk1:2181,zk2,10.0.0.3:2182/gregor/a\n", NULL, 0, NULL), 0,
                 "%s", err);
    cr_assert_str_eq(cfg.zookeeper_connect, "zk1:2181,zk2,10.0.0.3:2182/gregor/a");
    config_free(&cfg);
    expect_file_error("zookeeper.connect=zk1:abc\n", "zookeeper.connect", NULL);
    expect_file_error("zookeeper.connect=zk1:2181,,zk2:2181\n", "zookeeper.connect", NULL);
    expect_file_error("zookeeper.connect=zk1:2181/chroot/\n", "zookeeper.connect", NULL);
}

Test(config, cross_key_rules)
{
    expect_file_error(ZK "broker.id=1001\n", "broker.id", "reserved.broker.max.id");
    expect_file_error(ZK "broker.id.generation.enable=false\n", "broker.id", NULL);
    expect_file_error(ZK "group.min.session.timeout.ms=10\ngroup.max.session.timeout.ms=5\n",
                      "group.min.session.timeout.ms", NULL);
    expect_file_error(ZK "replica.fetch.wait.max.ms=40000\n", "replica.fetch.wait.max.ms", NULL);
}

/* ------------------------------------------------------------------ */
/* config: listeners                                                   */
/* ------------------------------------------------------------------ */

Test(config, listeners_with_ipv4_ipv6_and_hostname)
{
    const char *text =
        ZK "listeners=internal://[::1]:9093, EXTERNAL://example.com:9092,PLAINTEXT://127.0.0.1:0\n"
           "listener.security.protocol.map=INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT,"
           "PLAINTEXT:PLAINTEXT\n"
           "advertised.listeners=EXTERNAL://kafka.example.com:19092,"
           "INTERNAL://[fe80::1%eth0]:9093,PLAINTEXT://:0\n"
           "inter.broker.listener.name=internal\n";

    cr_assert_eq(load(text, NULL, 0, NULL), 0, "%s", err);
    cr_assert_eq(cfg.n_listeners, 3);
    cr_assert_str_eq(cfg.listener[0].name, "INTERNAL");
    cr_assert_str_eq(cfg.listener[0].host, "::1");
    cr_assert_eq(cfg.listener[0].port, 9093);
    cr_assert_str_eq(cfg.listener[0].protocol, "PLAINTEXT");
    cr_assert_str_eq(cfg.listener[1].name, "EXTERNAL");
    cr_assert_str_eq(cfg.listener[1].host, "example.com");
    cr_assert_str_eq(cfg.listener[1].protocol, "PLAINTEXT");
    cr_assert_str_eq(cfg.listener[2].host, "127.0.0.1");
    cr_assert_eq(cfg.listener[2].port, 0);
    /* advertised[] follows listener[] order, not the order written */
    cr_assert_eq(cfg.n_advertised, 3);
    cr_assert_str_eq(cfg.advertised[0].name, "INTERNAL");
    cr_assert_str_eq(cfg.advertised[0].host, "fe80::1%eth0");
    cr_assert_str_eq(cfg.advertised[1].name, "EXTERNAL");
    cr_assert_str_eq(cfg.advertised[1].host, "kafka.example.com");
    cr_assert_eq(cfg.advertised[1].port, 19092);
    cr_assert_str_eq(cfg.advertised[1].protocol, "PLAINTEXT");
    cr_assert_str_eq(cfg.advertised[2].host, "localhost");
    cr_assert_eq(cfg.inter_broker_listener, 0);
    cr_assert_str_eq(cfg.inter_broker_listener_name, "INTERNAL");
}

Test(config, listener_syntax_errors)
{
    expect_file_error(ZK "listeners=PLAINTEXT://::1:9092\n", "listeners", "brackets");
    expect_file_error(ZK "listeners=PLAINTEXT://:70000\n", "listeners", "0..65535");
    expect_file_error(ZK "listeners=PLAINTEXT:9092\n", "listeners", NULL);
    expect_file_error(ZK "listeners=PLAINTEXT://host\n", "listeners", "port");
    expect_file_error(ZK "listeners=PLAINTEXT://[::zz]:9092\n", "IPv6", NULL);
    expect_file_error(ZK "listeners=PLAINTEXT://300.1.1.1:9092\n", "listeners", NULL);
    expect_file_error(ZK "listeners=PLAINTEXT://:9092,,SSL://:9093\n", "empty listener", NULL);
    expect_file_error(ZK "listeners=\n", "listeners: must not be empty", NULL);
}

Test(config, listener_names_and_ports_must_be_unique)
{
    expect_file_error(ZK "listeners=PLAINTEXT://:9092,plaintext://:9093\n", "listeners",
                      "used twice");
    expect_file_error(ZK "listeners=PLAINTEXT://:9092,SSL://:9092\n", "port 9092", NULL);
}

Test(config, two_listeners_on_port_zero_are_allowed)
{
    cr_assert_eq(load(ZK "listeners=PLAINTEXT://127.0.0.1:0,INTERNAL://127.0.0.1:0\n"
                         "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT\n",
                      NULL, 0, NULL),
                 0, "%s", err);
    cr_assert_eq(cfg.n_listeners, 2);
    cr_assert_str_eq(cfg.listener[1].protocol, "PLAINTEXT");
}

/* All four of Kafka's security protocols are served; anything else in the
 * protocol map is refused. */
Test(config, listeners_of_every_security_protocol)
{
    cr_assert_eq(load(ZK "listeners=PLAINTEXT://:9092,SSL://:9093,SASL_PLAINTEXT://:9094,"
                         "SASL_SSL://:9095\n",
                      NULL, 0, NULL),
                 0, "%s", err);
    cr_assert_str_eq(cfg.listener[3].protocol, "SASL_SSL");
    cr_assert(config_protocol_is_tls(cfg.listener[3].protocol));
    cr_assert_not(config_protocol_is_tls(cfg.listener[2].protocol));
    expect_file_error(ZK "listener.security.protocol.map=PLAINTEXT:KERBEROS\n", "KERBEROS", NULL);
}

/* The ssl.* keys, and listener.name.<name>.ssl.* overriding them for one
 * listener (the name compared case-insensitively, as Kafka's). */
Test(config, ssl_keys_and_per_listener_overrides)
{
    cr_assert_eq(load(ZK "listeners=PLAINTEXT://:9092,SSL://:9093,MTLS://:9094\n"
                         "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SSL:SSL,MTLS:SSL\n"
                         "ssl.keystore.location=/k.pem\n"
                         "ssl.client.auth=Requested\n"
                         "listener.name.MTLS.ssl.client.auth=required\n"
                         "listener.name.mtls.ssl.keystore.location=/m.pem\n",
                      NULL, 0, NULL),
                 0, "%s", err);
    cr_assert_str_eq(cfg.listener[1].protocol, "SSL");
    cr_assert_str_eq(cfg.listener[2].protocol, "SSL");
    cr_assert(config_protocol_is_tls(cfg.listener[2].protocol));
    cr_assert_str_eq(config_listener_value(&cfg, "SSL", "ssl.client.auth"), "requested");
    cr_assert_str_eq(config_listener_value(&cfg, "MTLS", "ssl.client.auth"), "required");
    cr_assert_str_eq(config_listener_value(&cfg, "SSL", "ssl.keystore.location"), "/k.pem");
    cr_assert_str_eq(config_listener_value(&cfg, "MTLS", "ssl.keystore.location"), "/m.pem");
    cr_assert_str_eq(config_listener_value(&cfg, "SSL", "ssl.enabled.protocols"),
                     "TLSv1.2,TLSv1.3");
    cr_assert_null(config_listener_value(&cfg, "SSL", "ssl.truststore.location"));
    /* a dynamic copy keeps its own per-listener strings */
    struct broker_config copy;
    cr_assert(config_copy_with(&cfg, NULL, 0, &copy));
    config_free(&cfg);
    cr_assert_str_eq(config_listener_value(&copy, "MTLS", "ssl.client.auth"), "required");
    config_free(&copy);

    expect_file_error(ZK "ssl.client.auth=maybe\n", "ssl.client.auth", "none, requested");
    expect_file_error(ZK "ssl.enabled.protocols=TLSv1.1\n", "TLSv1.1", "unsupported");
    expect_file_error(ZK "ssl.keystore.type=JKS\n", "ssl.keystore.type", "only PEM");
    expect_file_error(ZK "listener.name.ssl.ssl.client.auth=sometimes\n",
                      "listener.name.ssl.ssl.client.auth", "none, requested");
    expect_file_error(ZK "listener.name.ssl.no.such.key=1\n", "listener.name.ssl.no.such.key",
                      "per-listener key");
}

/* SASL_PLAINTEXT is built (broker/security/); its keys, and the
 * listener.name.<l>.* form, are accepted and validated. */
Test(config, sasl_plaintext_listener_and_listener_keys)
{
    cr_assert_eq(load(ZK "listeners=PLAINTEXT://:9092,SASL_PLAINTEXT://:9093\n"
                         "listener.name.sasl_plaintext.sasl.enabled.mechanisms=SCRAM-SHA-512\n"
                         "listener.name.sasl_plaintext.plain.sasl.jaas.config=x required a=\"b\";\n"
                         "connections.max.reauth.ms=5000\n",
                      NULL, 0, NULL),
                 0, "%s", err);
    cr_assert_str_eq(cfg.listener[1].protocol, "SASL_PLAINTEXT");
    cr_assert_str_eq(config_listener_value(&cfg, "SASL_PLAINTEXT", "sasl.enabled.mechanisms"),
                     "SCRAM-SHA-512");
    cr_assert_not_null(config_listener_value(&cfg, "SASL_PLAINTEXT", "plain.sasl.jaas.config"));
    cr_assert_str_eq(config_listener_value(&cfg, "PLAINTEXT", "sasl.enabled.mechanisms"),
                     "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"); /* the broker-wide value */
    cr_assert_eq(cfg.connections_max_reauth_ms, 5000);
    cr_assert_eq(cfg.sasl_server_max_receive_size, 524288);
    expect_file_error(ZK "sasl.enabled.mechanisms=GSSAPI\n", "GSSAPI", "not supported");
    expect_file_error(ZK "listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN,FOO\n", "FOO",
                      NULL);
    expect_file_error(ZK "listener.name.sasl_plaintext.no.such.key=1\n", "unknown", NULL);
    /* the JAAS text is a secret: never shown */
    cr_assert_eq(load(ZK "sasl.jaas.config=x required user_a=\"pw\";\n", NULL, 0, NULL), 0, "%s",
                 err);
    char buf[256];
    cr_assert_not(config_key_value(&cfg, config_key_find("sasl.jaas.config"), buf, sizeof(buf)));
}

Test(config, per_ip_connection_overrides)
{
    cr_assert_eq(load(ZK "max.connections.per.ip.overrides= 127.0.0.1:5, ::1:0,"
                         "[fe80::1]:7,broker-2.example.com:100\n",
                      NULL, 0, NULL),
                 0, "%s", err);
    cr_assert_eq(cfg.n_ip_overrides, 4);
    cr_assert_str_eq(cfg.ip_override[0].host, "127.0.0.1");
    cr_assert_eq(cfg.ip_override[0].count, 5);
    cr_assert_str_eq(cfg.ip_override[1].host, "::1");
    cr_assert_eq(cfg.ip_override[1].count, 0);
    cr_assert_str_eq(cfg.ip_override[2].host, "fe80::1");
    cr_assert_eq(cfg.ip_override[2].count, 7);
    cr_assert_str_eq(cfg.ip_override[3].host, "broker-2.example.com");
    cr_assert_eq(cfg.ip_override[3].count, 100);
    config_free(&cfg);
    cr_assert_eq(load(ZK, NULL, 0, NULL), 0, "%s", err);
    cr_assert_eq(cfg.n_ip_overrides, 0);
    cr_assert_eq(cfg.queued_max_request_bytes, 268435456);
    cr_assert_eq(cfg.gregor_request_read_timeout_ms, 60000);
    config_free(&cfg);
    expect_file_error(ZK "max.connections.per.ip.overrides=127.0.0.1\n",
                      "max.connections.per.ip.overrides", "host:count");
    expect_file_error(ZK "max.connections.per.ip.overrides=127.0.0.1:-1\n",
                      "max.connections.per.ip.overrides", "0..");
    expect_file_error(ZK "max.connections.per.ip.overrides=127.0.0.1:5,,h:1\n",
                      "max.connections.per.ip.overrides", "empty");
    expect_file_error(ZK "max.connections.per.ip.overrides=bad host!:3\n",
                      "max.connections.per.ip.overrides", "not a host");
    expect_file_error(ZK "queued.max.request.bytes=0\n", "queued.max.request.bytes", NULL);
}

Test(config, listener_without_security_protocol_is_an_error)
{
    expect_file_error(ZK "listeners=INTERNAL://:9092\n", "'INTERNAL'",
                      "listener.security.protocol.map");
    expect_file_error(ZK "listener.security.protocol.map=PLAINTEXT:TLS\n",
                      "listener.security.protocol.map", "TLS");
}

Test(config, advertised_must_cover_every_listener_by_name)
{
    expect_file_error(ZK "listeners=PLAINTEXT://:9092,INTERNAL://:9093\n"
                         "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT\n"
                         "advertised.listeners=PLAINTEXT://h:9092\n",
                      "no entry for listener 'INTERNAL'", NULL);
    expect_file_error(ZK "advertised.listeners=PLAINTEXT://h:9092,OTHER://h:9093\n", "'OTHER'",
                      "not in listeners");
    expect_file_error(ZK "advertised.listeners=PLAINTEXT://0.0.0.0:9092\n", "advertised.listeners",
                      "wildcard");
    expect_file_error(ZK "listeners=PLAINTEXT://0.0.0.0:9092\n", "wildcard",
                      "advertised.listeners");
}

Test(config, inter_broker_listener_must_exist)
{
    expect_file_error(ZK "inter.broker.listener.name=INTERNAL\n",
                      "invalid value 'INTERNAL' for inter.broker.listener.name", NULL);
}

Test(config, too_many_listeners)
{
    char text[1024];
    size_t used = (size_t)snprintf(text, sizeof(text), ZK "listeners=");

    for (int i = 0; i <= CONFIG_MAX_LISTENERS; i++)
        used += (size_t)snprintf(text + used, sizeof(text) - used, "%sL%d://:%d", i ? "," : "", i,
                                 9000 + i);
    snprintf(text + used, sizeof(text) - used, "\n");
    expect_file_error(text, "more than", NULL);
}

/* ------------------------------------------------------------------ */
/* the shipped files                                                  */
/* ------------------------------------------------------------------ */

static void shipped_path(char *out, size_t len, const char *rel)
{
    const char *src = getenv("GREGOR_SOURCE_DIR");

    cr_assert_not_null(src, "GREGOR_SOURCE_DIR is not set (run through ctest)");
    snprintf(out, len, "%s/%s", src, rel);
}

Test(config, shipped_server_properties_parses_cleanly)
{
    char p[4096];

    shipped_path(p, sizeof(p), "deploy/config/server.properties");
    cr_assert_eq(config_load(&cfg, p, NULL, NULL, 0, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(cfg.broker_id, 0);
    cr_assert_str_eq(cfg.zookeeper_connect, "localhost:2181");
    cr_assert_str_eq(config_data_dir(&cfg), "/tmp/gregor-logs");
    cr_assert_eq(cfg.listener[0].port, 9092);
    cr_assert_str_eq(cfg.advertised[0].host, "localhost");
    cr_assert_eq(cfg.advertised[0].port, 9092);
    /* control requests travel on a listener of their own, not the clients' */
    cr_assert_eq(cfg.n_listeners, 2);
    cr_assert_str_eq(cfg.listener[1].name, "INTERNAL");
    cr_assert_eq(cfg.listener[1].port, 19092);
    cr_assert_eq(cfg.inter_broker_listener, 1);
}

Test(config, shipped_docs_mention_every_key)
{
    char p1[4096], p2[4096];
    char *props_text, *doc_text;

    shipped_path(p1, sizeof(p1), "deploy/config/server.properties");
    shipped_path(p2, sizeof(p2), "docs/configuration.md");
    props_text = read_whole(p1);
    doc_text = read_whole(p2);
    for (int i = 0; i < config_key_count(); i++) {
        char needle[128];

        snprintf(needle, sizeof(needle), "%s=", config_key_name(i));
        cr_expect(strstr(props_text, needle) != NULL, "server.properties lacks %s", needle);
        snprintf(needle, sizeof(needle), "`%s`", config_key_name(i));
        cr_expect(strstr(doc_text, needle) != NULL, "configuration.md lacks %s", needle);
    }
    free(props_text);
    free(doc_text);
}

/* log.cleanup.policy and the topic key cleanup.policy follow one rule
 * (common/cleanup_policy.h): the same values pass and fail for both. */
Test(config, cleanup_policy_broker_and_topic_keys_share_one_rule)
{
    static const struct {
        const char *value;
        const char *canon; /* NULL: refused */
    } cases[] = {
        {"delete", "delete"},
        {"compact", "compact"},
        {"compact,delete", "delete,compact"},
        {" compact , delete", "delete,compact"},
        {"delete,", NULL},
        {",compact", NULL},
        {"delete,,compact", NULL},
        {"compacted", NULL},
        {"nocompact", NULL},
        {"delete,delete", NULL},
    };
    char text[256], why[256];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(text, sizeof(text), ZK "log.cleanup.policy=%s\n", cases[i].value);
        bool topic_ok = topic_config_validate("cleanup.policy", cases[i].value, why, sizeof(why));
        if (cases[i].canon == NULL) {
            expect_file_error(text, "for log.cleanup.policy", "expected delete, compact");
            cr_assert_not(topic_ok, "topic cleanup.policy '%s' accepted", cases[i].value);
            cr_assert(strstr(why, "cleanup.policy") != NULL, "%s", why);
            continue;
        }
        cr_assert_eq(load(text, NULL, 0, NULL), 0, "'%s': %s", cases[i].value, err);
        cr_assert_str_eq(cfg.log_cleanup_policy, cases[i].canon);
        cr_assert(topic_ok, "topic cleanup.policy '%s' refused: %s", cases[i].value, why);
        config_free(&cfg);
    }
}

Test(config, cleanup_policy_sets_compaction_by_word_not_substring)
{
    struct topic_config tc;

    cr_assert_eq(load(ZK "log.cleanup.policy=compact , delete\n", NULL, 0, NULL), 0, "%s", err);
    topic_config_defaults(&tc, &cfg);
    cr_assert(tc.compact);
    topic_config_apply(&tc, "cleanup.policy", "delete");
    cr_assert_not(tc.compact);
    topic_config_apply(&tc, "cleanup.policy", " delete , compact ");
    cr_assert(tc.compact);
    config_free(&cfg);

    cr_assert_eq(load(ZK "log.cleanup.policy=delete\n", NULL, 0, NULL), 0, "%s", err);
    topic_config_defaults(&tc, &cfg);
    cr_assert_not(tc.compact);
    config_free(&cfg);
}

/* authorizer.class.name: empty is none; Gregor's and Kafka's AclAuthorizer names turn it on;
 * anything else stops the start with the reason. */
Test(config, authorizer_class_name)
{
    cr_assert_eq(load(ZK, NULL, 0, NULL), 0, "%s", err);
    cr_expect_null(cfg.authorizer_class_name);
    cr_expect_not(cfg.allow_everyone_if_no_acl_found);
    config_free(&cfg);
    cr_assert_eq(load(ZK "authorizer.class.name=gregor.security.authorizer.AclAuthorizer\n"
                         "super.users=User:admin;User:ops\n"
                         "allow.everyone.if.no.acl.found=true\n",
                      NULL, 0, NULL),
                 0, "%s", err);
    cr_expect_str_eq(cfg.authorizer_class_name, CONFIG_AUTHORIZER_ACL);
    cr_expect_str_eq(cfg.super_users, "User:admin;User:ops");
    cr_expect(cfg.allow_everyone_if_no_acl_found);
    config_free(&cfg);
    cr_assert_eq(
        load(ZK "authorizer.class.name=kafka.security.authorizer.AclAuthorizer\n", NULL, 0, NULL),
        0, "%s", err);
    cr_expect_str_eq(cfg.authorizer_class_name, "kafka.security.authorizer.AclAuthorizer");
    config_free(&cfg);
    expect_file_error(ZK "authorizer.class.name=com.example.MyAuthorizer\n",
                      "authorizer.class.name", "unknown authorizer");
}
