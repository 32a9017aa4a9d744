/*
 * tests/unit/broker/test_dynamic.c — dynamic broker configs
 * (broker/config/dynamic.c, config_key_check() and config_copy_with() of
 * config.c): which keys may change, their validation, and the precedence
 * per-broker override > cluster default override > static config.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker/config/config.h"
#include "broker/config/dynamic.h"
#include "broker/config/topic_config.h"

static struct broker_config cfg;

static void load(const char *const *ov, int n)
{
    char err[512];
    char *o[16];
    o[0] = "zookeeper.connect=127.0.0.1:2181";
    for (int i = 0; i < n; i++)
        o[i + 1] = (char *)ov[i];
    cr_assert_eq(config_load(&cfg, NULL, NULL, o, n + 1, err, sizeof(err)), 0, "%s", err);
}

/* Returns new malloc'd pairs from "k=v" strings. */
static char **pairs(const char *const *kv, int n)
{
    char **out = calloc((size_t)(2 * n + 1), sizeof(*out));
    for (int i = 0; i < n; i++) {
        const char *eq = strchr(kv[i], '=');
        out[2 * i] = strndup(kv[i], (size_t)(eq - kv[i]));
        out[2 * i + 1] = strdup(eq + 1);
    }
    return out;
}

Test(dynamic, validate_refuses_static_unknown_and_bad_values)
{
    char err[256];
    cr_assert(dynamic_validate("message.max.bytes", "2000", err, sizeof(err)));
    cr_assert(dynamic_validate("log.cleanup.policy", "compact,delete", err, sizeof(err)));
    cr_assert(dynamic_validate("leader.replication.throttled.rate", "0", err, sizeof(err)));
    cr_assert_not(dynamic_validate("num.partitions", "3", err, sizeof(err)));
    cr_assert(strstr(err, "cannot be updated dynamically"), "%s", err);
    cr_assert_not(dynamic_validate("no.such.key", "3", err, sizeof(err)));
    cr_assert(strstr(err, "unknown"), "%s", err);
    cr_assert_not(dynamic_validate("message.max.bytes", "abc", err, sizeof(err)));
    cr_assert(strstr(err, "not an integer"), "%s", err);
    cr_assert_not(dynamic_validate("follower.replication.throttled.rate", "-1", err, sizeof(err)));
    cr_assert_not(dynamic_validate("log.segment.bytes", "13", err, sizeof(err)));
    cr_assert_not(dynamic_validate("log.cleanup.policy", "shred", err, sizeof(err)));
    cr_assert_not(dynamic_validate("log.cleaner.min.cleanable.ratio", "1.5", err, sizeof(err)));
    cr_assert(dynamic_validate("log.cleaner.io.max.bytes.per.second", "1e6", err, sizeof(err)));
    cr_assert_not(dynamic_validate("log.cleaner.io.max.bytes.per.second", "-1", err, sizeof(err)));
    cr_assert_not(dynamic_validate("num.network.threads", "4", err, sizeof(err)));
    cr_assert_not(dynamic_validate("num.replica.fetchers", "4", err, sizeof(err)));
    cr_assert_not(dynamic_validate("num.io.threads", "4", err, sizeof(err)));
    cr_assert(
        dynamic_validate("max.connections.per.ip.overrides", "127.0.0.2:1,::1:0", err, sizeof(err)),
        "%s", err);
    cr_assert_not(
        dynamic_validate("max.connections.per.ip.overrides", "127.0.0.2", err, sizeof(err)));
    cr_assert(strstr(err, "host:count"), "%s", err);
}

Test(dynamic, every_dynamic_key_is_a_broker_key)
{
    for (int i = 0; i < dynamic_key_count(); i++)
        cr_assert(config_key_find(dynamic_key_name(i)) >= 0, "%s", dynamic_key_name(i));
    cr_assert_null(dynamic_key_name(dynamic_key_count()));
}

Test(dynamic, precedence_broker_over_default_over_static)
{
    static const char *const ov[] = {"max.connections=100", "log.segment.bytes=2000000",
                                     "message.max.bytes=5000"};
    load(ov, 3);
    struct broker_dynamic d;
    broker_dynamic_init(&d, &cfg);
    cr_assert_eq(atomic_load(&d.max_connections), 100);
    cr_assert_eq(atomic_load(&d.leader_replication_throttled_rate), INT64_MAX);
    cr_assert(atomic_load(&d.log_cleaner_io_max_bytes_per_second) < 0, "Kafka's default: none");

    static const char *const def[] = {"max.connections=50", "message.max.bytes=4000",
                                      "log.retention.ms=1000"};
    static const char *const mine[] = {"max.connections=7",
                                       "follower.replication.throttled.rate=1234",
                                       "log.cleaner.io.max.bytes.per.second=5000.5"};
    struct topic_config tc;
    cr_assert(dynamic_apply(&d, &cfg, pairs(mine, 3), 3, pairs(def, 3), 3, &tc));
    cr_assert(atomic_load(&d.log_cleaner_io_max_bytes_per_second) == 5000.5);
    cr_assert_eq(atomic_load(&d.max_connections), 7, "this broker's override wins");
    cr_assert_eq(atomic_load(&d.follower_replication_throttled_rate), 1234);
    cr_assert_eq(atomic_load(&d.max_connections_per_ip), INT32_MAX);
    cr_assert_eq(tc.max_message_bytes, 4000, "the default wins over the file");
    cr_assert_eq(tc.segment_bytes, 2000000, "the static value where nothing overrides");
    cr_assert_eq(tc.retention_ms, 1000, "log.retention.ms over log.retention.hours");
    char buf[64];
    cr_assert(dynamic_override(&d, true, "max.connections", buf, sizeof(buf)));
    cr_assert_str_eq(buf, "7");
    cr_assert(dynamic_override(&d, false, "max.connections", buf, sizeof(buf)));
    cr_assert_str_eq(buf, "50");
    cr_assert_not(dynamic_override(&d, true, "message.max.bytes", buf, sizeof(buf)));

    /* removing every override goes back to the static config */
    cr_assert(dynamic_apply(&d, &cfg, NULL, 0, NULL, 0, &tc));
    cr_assert_eq(atomic_load(&d.max_connections), 100);
    cr_assert_eq(atomic_load(&d.follower_replication_throttled_rate), INT64_MAX);
    cr_assert_eq(tc.max_message_bytes, 5000);
    cr_assert_eq(tc.retention_ms, 168LL * 3600 * 1000);
    int n = -1;
    char **kv = dynamic_overrides(&d, false, &n);
    cr_assert_eq(n, 0);
    dynamic_kv_free(kv, n);
    dynamic_destroy(&d);
    config_free(&cfg);
}

Test(dynamic, copy_with_leaves_the_base_untouched)
{
    static const char *const ov[] = {"log.cleanup.policy=delete"};
    load(ov, 1);
    static const char *const kv[] = {"log.cleanup.policy=compact", "no.such=1",
                                     "message.max.bytes=abc"};
    char **p = pairs(kv, 3);
    struct broker_config eff;
    cr_assert(config_copy_with(&cfg, p, 3, &eff));
    cr_assert_str_eq(eff.log_cleanup_policy, "compact");
    cr_assert_str_eq(cfg.log_cleanup_policy, "delete");
    cr_assert_eq(eff.message_max_bytes, cfg.message_max_bytes, "a bad value is skipped");
    cr_assert_eq(config_key_source(&eff, config_key_find("log.cleanup.policy")),
                 CONFIG_SOURCE_DYNAMIC);
    config_free(&eff);
    dynamic_kv_free(p, 3);
    char why[128];
    cr_assert(config_key_check(config_key_find("broker.rack"), "", why, sizeof(why)));
    cr_assert_not(config_key_check(config_key_find("listeners"), "nonsense", why, sizeof(why)));
    config_free(&cfg);
}
