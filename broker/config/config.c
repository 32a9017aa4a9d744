/*
 * broker/config/config.c — builds struct broker_config (broker/config.h) from
 * Kafka's defaults, a server.properties file, GREGOR_* environment
 * variables and --override key=value strings, in that order.
 *
 * The key table config_keys[] is the single description of every key:
 * name, type, field offset, default (as text, parsed by the same code as
 * user values so defaults are validated too), range and, for strings, a
 * check function that may also normalise the value in place. Documentation
 * of the keys lives in deploy/config/server.properties and
 * docs/configuration.md; a unit test checks both mention every key.
 *
 * Order of work in config_load():
 *   1. defaults, 2. file, 3. environment, 4. overrides (each value checked
 *   as it is set, so errors carry the line/variable/override that caused
 *   them), 5. cross-key checks (required keys, min <= max pairs, broker.id
 *   range), 6. derivation of data_dir, listener[], advertised[] and
 *   inter_broker_listener.
 *
 * The listener keys' syntax and checks live in config_listeners.c.
 *
 * Threads: called once from main() before other threads exist; the result
 * is immutable afterwards. No globals besides the constant key table.
 */
#include "broker/config/config.h"
#include "broker/config/config_parse.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/base.h"
#include "common/cleanup_policy.h"
#include "common/props.h"
#include "common/say.h"

/* ---- the key table ---- */

enum config_type { CT_I16, CT_I32, CT_I64, CT_BOOL, CT_STR };

#define CF_NULLABLE 0x1u  /* string: an empty value means unset (NULL) */
#define CF_NONEMPTY 0x2u  /* string: an empty value is refused */
#define CF_NEG1 0x4u      /* integer: -1 ("unset") is allowed besides [min, max] */
#define CF_SENSITIVE 0x8u /* a secret: never shown (config_key_value() says null) */

/* Checks a string value; may rewrite it in place without growing it
 * (upper-casing, canonical order). On failure writes the reason to why. */
typedef bool config_check_fn(char *value, char *why, size_t whylen);

struct config_key {
    const char *name;       /* Kafka's key name */
    enum config_type type;  /* how the field is stored */
    size_t off;             /* offsetof(struct broker_config, field) */
    size_t size;            /* sizeof(field), checked against type */
    const char *def;        /* default as text; NULL = NULL string */
    int64_t min, max;       /* integers: inclusive range */
    unsigned flags;         /* CF_* */
    config_check_fn *check; /* strings: extra validation, or NULL */
};

#define FIELD(f) offsetof(struct broker_config, f), sizeof(((struct broker_config *)0)->f)
/* one key per line reads as a table */
/* clang-format off */
#define K_I16(n, f, d, lo, fl) { n, CT_I16, FIELD(f), d, lo, INT16_MAX, fl, NULL }
#define K_I32(n, f, d, lo, fl) { n, CT_I32, FIELD(f), d, lo, INT32_MAX, fl, NULL }
#define K_I64(n, f, d, lo, fl) { n, CT_I64, FIELD(f), d, lo, INT64_MAX, fl, NULL }
#define K_BOOL(n, f, d) { n, CT_BOOL, FIELD(f), d, 0, 0, 0, NULL }
#define K_STR(n, f, d, fl, chk) { n, CT_STR, FIELD(f), d, 0, 0, fl, chk }
/* clang-format on */
#define I64MAX_TEXT "9223372036854775807"
#define I32MAX_TEXT "2147483647"

static config_check_fn check_sasl_mechanisms, check_zk_connect, check_dir_list,
    check_cleanup_policy, check_timestamp_type, check_log_level, check_compression,
    check_positive_double, check_ratio;
static config_check_fn check_authorizer, check_zk_digest, check_url_list;

static const struct config_key config_keys[] = {
    /* identity and coordination */
    K_I32("broker.id", broker_id, "-1", -1, 0),
    K_STR("broker.rack", broker_rack, NULL, CF_NULLABLE, NULL),
    K_STR("zookeeper.connect", zookeeper_connect, NULL, CF_NONEMPTY, check_zk_connect),
    K_I32("zookeeper.session.timeout.ms", zookeeper_session_timeout_ms, "18000", 1, 0),
    K_I32("zookeeper.connection.timeout.ms", zookeeper_connection_timeout_ms, "-1", 1, CF_NEG1),
    K_BOOL("zookeeper.set.acl", zookeeper_set_acl, "false"),
    K_STR("gregor.zookeeper.auth.digest", gregor_zookeeper_auth_digest, NULL,
          CF_NULLABLE | CF_SENSITIVE, check_zk_digest),
    /* network */
    K_STR("listeners", listeners, "PLAINTEXT://:9092", CF_NONEMPTY, check_listeners),
    K_STR("advertised.listeners", advertised_listeners, NULL, CF_NULLABLE, check_advertised),
    K_STR("listener.security.protocol.map", listener_security_protocol_map,
          "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
          CF_NONEMPTY, check_protocol_map),
    K_STR("inter.broker.listener.name", inter_broker_listener_name, NULL, CF_NULLABLE,
          check_listener_name),
    K_I32("num.network.threads", num_network_threads, "3", 1, 0),
    K_I32("num.io.threads", num_io_threads, "8", 1, 0),
    K_I32("socket.request.max.bytes", socket_request_max_bytes, "104857600", 1, 0),
    K_I32("socket.send.buffer.bytes", socket_send_buffer_bytes, "102400", -1, 0),
    K_I32("socket.receive.buffer.bytes", socket_receive_buffer_bytes, "102400", -1, 0),
    K_I64("connections.max.idle.ms", connections_max_idle_ms, "600000", 1, CF_NEG1),
    K_I32("queued.max.requests", queued_max_requests, "500", 1, 0),
    /* topics */
    K_I32("num.partitions", num_partitions, "1", 1, 0),
    K_I16("default.replication.factor", default_replication_factor, "1", 1, 0),
    K_I32("min.insync.replicas", min_insync_replicas, "1", 1, 0),
    K_BOOL("auto.create.topics.enable", auto_create_topics_enable, "true"),
    K_BOOL("delete.topic.enable", delete_topic_enable, "true"),
    K_I32("message.max.bytes", message_max_bytes, "1048588", 0, 0),
    /* logs */
    K_STR("log.dir", log_dir, "/tmp/kafka-logs", CF_NONEMPTY, NULL),
    K_STR("log.dirs", log_dirs, NULL, CF_NULLABLE, check_dir_list),
    K_I32("log.segment.bytes", log_segment_bytes, "1073741824", 14, 0),
    K_I32("log.roll.hours", log_roll_hours, "168", 1, 0),
    K_I64("log.roll.ms", log_roll_ms, "-1", 1, CF_NEG1),
    K_I32("log.retention.hours", log_retention_hours, "168", -1, 0),
    K_I32("log.retention.minutes", log_retention_minutes, "-1", -1, 0),
    K_I64("log.retention.ms", log_retention_ms, "-1", -1, 0),
    K_I64("log.retention.bytes", log_retention_bytes, "-1", -1, 0),
    K_I64("log.retention.check.interval.ms", log_retention_check_interval_ms, "300000", 1, 0),
    K_I32("log.index.interval.bytes", log_index_interval_bytes, "4096", 0, 0),
    K_I32("log.index.size.max.bytes", log_index_size_max_bytes, "10485760", 4, 0),
    K_I64("log.flush.interval.messages", log_flush_interval_messages, I64MAX_TEXT, 1, 0),
    K_I64("log.flush.interval.ms", log_flush_interval_ms, "-1", 0, CF_NEG1),
    K_I64("log.flush.scheduler.interval.ms", log_flush_scheduler_interval_ms, I64MAX_TEXT, 1, 0),
    K_I64("log.flush.offset.checkpoint.interval.ms", log_flush_offset_checkpoint_interval_ms,
          "60000", 1, 0),
    K_I64("log.flush.start.offset.checkpoint.interval.ms",
          log_flush_start_offset_checkpoint_interval_ms, "60000", 1, 0),
    K_STR("log.cleanup.policy", log_cleanup_policy, "delete", CF_NONEMPTY, check_cleanup_policy),
    K_STR("log.message.timestamp.type", log_message_timestamp_type, "CreateTime", CF_NONEMPTY,
          check_timestamp_type),
    K_I32("num.recovery.threads.per.data.dir", num_recovery_threads_per_data_dir, "1", 1, 0),
    /* replication */
    K_BOOL("unclean.leader.election.enable", unclean_leader_election_enable, "false"),
    K_I64("replica.lag.time.max.ms", replica_lag_time_max_ms, "30000", 1, 0),
    K_I32("num.replica.fetchers", num_replica_fetchers, "1", 1, 0),
    K_BOOL("auto.leader.rebalance.enable", auto_leader_rebalance_enable, "true"),
    K_I64("leader.imbalance.check.interval.seconds", leader_imbalance_check_interval_seconds, "300",
          1, 0),
    K_BOOL("controlled.shutdown.enable", controlled_shutdown_enable, "true"),
    /* groups */
    K_I16("offsets.topic.replication.factor", offsets_topic_replication_factor, "3", 1, 0),
    K_I32("offsets.topic.num.partitions", offsets_topic_num_partitions, "50", 1, 0),
    K_I32("group.initial.rebalance.delay.ms", group_initial_rebalance_delay_ms, "3000", 0, 0),
    K_I32("group.min.session.timeout.ms", group_min_session_timeout_ms, "6000", 1, 0),
    K_I32("group.max.session.timeout.ms", group_max_session_timeout_ms, "1800000", 1, 0),
    /* Gregor's own */
    K_STR("gregor.log.level", gregor_log_level, "info", CF_NONEMPTY, check_log_level),
    K_STR("gregor.log.file", gregor_log_file, NULL, CF_NULLABLE, NULL),
    K_BOOL("gregor.fetch.sendfile", gregor_fetch_sendfile, "true"),
    K_I32("gregor.produce.offload.bytes", gregor_produce_offload_bytes, "262144", -1, 0),
    K_I32("gregor.http.port", gregor_http_port, "-1", -1, 0),
    K_I32("gregor.max.partitions", gregor_max_partitions, "10000", 1, 0),
    K_STR("gregor.http.host", gregor_http_host, "127.0.0.1", CF_NONEMPTY, NULL),
    K_BOOL("gregor.console.actions.enable", gregor_console_actions_enable, "false"),
    K_STR("gregor.console.mirrors", gregor_console_mirrors, NULL, CF_NULLABLE, check_url_list),
    /* TLS (config_ssl.c; per listener: listener.name.<name>.ssl.*) */
    K_STR("ssl.keystore.type", ssl_keystore_type, "PEM", CF_NONEMPTY, check_pem_type),
    K_STR("ssl.keystore.location", ssl_keystore_location, NULL, CF_NULLABLE, NULL),
    K_STR("ssl.key.password", ssl_key_password, NULL, CF_NULLABLE, NULL),
    K_STR("ssl.truststore.type", ssl_truststore_type, "PEM", CF_NONEMPTY, check_pem_type),
    K_STR("ssl.truststore.location", ssl_truststore_location, NULL, CF_NULLABLE, NULL),
    K_STR("ssl.client.auth", ssl_client_auth, "none", CF_NONEMPTY, check_client_auth),
    K_STR("ssl.enabled.protocols", ssl_enabled_protocols, "TLSv1.2,TLSv1.3", CF_NONEMPTY,
          check_tls_protocols),
    K_STR("ssl.cipher.suites", ssl_cipher_suites, NULL, CF_NULLABLE, NULL),
    K_STR("ssl.principal.mapping.rules", ssl_principal_mapping_rules, "DEFAULT", CF_NONEMPTY, NULL),
    K_STR("ssl.endpoint.identification.algorithm", ssl_endpoint_identification_algorithm, "https",
          CF_NULLABLE, check_endpoint_identification),
    K_I32("gregor.ssl.reload.interval.ms", gregor_ssl_reload_interval_ms, "5000", 0, 0),
    /* authorization (broker/security/, docs/security.md "ACLs") */
    K_STR("authorizer.class.name", authorizer_class_name, NULL, CF_NULLABLE, check_authorizer),
    K_STR("super.users", super_users, NULL, CF_NULLABLE, NULL),
    K_BOOL("allow.everyone.if.no.acl.found", allow_everyone_if_no_acl_found, "false"),
    /* transactions */
    K_I16("transaction.state.log.replication.factor", transaction_state_log_replication_factor, "3",
          1, 0),
    K_I32("transaction.state.log.min.isr", transaction_state_log_min_isr, "2", 1, 0),
    K_I32("transaction.state.log.num.partitions", transaction_state_log_num_partitions, "50", 1, 0),
    K_I32("transaction.state.log.segment.bytes", transaction_state_log_segment_bytes, "104857600",
          1, 0),
    K_I32("transaction.max.timeout.ms", transaction_max_timeout_ms, "900000", 1, 0),
    K_I32("transactional.id.expiration.ms", transactional_id_expiration_ms, "604800000", 1, 0),
    K_I32("transaction.abort.timed.out.transaction.cleanup.interval.ms", txn_abort_interval_ms,
          "10000", 1, 0),
    K_I32("transaction.remove.expired.transaction.cleanup.interval.ms", txn_remove_interval_ms,
          "3600000", 1, 0),
    K_I64("producer.id.expiration.ms", producer_id_expiration_ms, "86400000", 1, 0),
    /* offsets and groups */
    K_I32("offsets.topic.segment.bytes", offsets_topic_segment_bytes, "104857600", 1, 0),
    K_I32("offsets.retention.minutes", offsets_retention_minutes, "10080", 1, 0),
    K_I64("offsets.retention.check.interval.ms", offsets_retention_check_interval_ms, "600000", 1,
          0),
    K_I32("offsets.commit.timeout.ms", offsets_commit_timeout_ms, "5000", 1, 0),
    K_I32("offsets.load.buffer.size", offsets_load_buffer_size, "5242880", 1, 0),
    K_I32("offset.metadata.max.bytes", offset_metadata_max_bytes, "4096", 0, 0),
    K_I32("group.max.size", group_max_size, I32MAX_TEXT, 1, 0),
    /* replication */
    K_I32("replica.fetch.max.bytes", replica_fetch_max_bytes, "1048576", 0, 0),
    K_I32("replica.fetch.min.bytes", replica_fetch_min_bytes, "1", 0, 0),
    K_I32("replica.fetch.wait.max.ms", replica_fetch_wait_max_ms, "500", 0, 0),
    K_I32("replica.fetch.response.max.bytes", replica_fetch_response_max_bytes, "10485760", 0, 0),
    K_I32("replica.socket.timeout.ms", replica_socket_timeout_ms, "30000", 1, 0),
    K_I64("leader.replication.throttled.rate", leader_replication_throttled_rate, I64MAX_TEXT, 0,
          0),
    K_I64("follower.replication.throttled.rate", follower_replication_throttled_rate, I64MAX_TEXT,
          0, 0),
    K_I32("replication.quota.window.num", replication_quota_window_num, "11", 1, 0),
    K_I32("replication.quota.window.size.seconds", replication_quota_window_size_seconds, "1", 1,
          0),
    /* client quotas (broker/core/quotas.h) */
    {"quota.window.num", CT_I32, FIELD(quota_window_num), "11", 1, 64, 0, NULL},
    K_I32("quota.window.size.seconds", quota_window_size_seconds, "1", 1, 0),
    K_I64("replica.high.watermark.checkpoint.interval.ms",
          replica_high_watermark_checkpoint_interval_ms, "5000", 1, 0),
    {"leader.imbalance.per.broker.percentage", CT_I32,
     FIELD(leader_imbalance_per_broker_percentage), "10", 0, 100, 0, NULL},
    K_I32("controlled.shutdown.max.retries", controlled_shutdown_max_retries, "3", 0, 0),
    K_I64("controlled.shutdown.retry.backoff.ms", controlled_shutdown_retry_backoff_ms, "5000", 0,
          0),
    /* identity and coordination */
    K_BOOL("broker.id.generation.enable", broker_id_generation_enable, "true"),
    K_I32("reserved.broker.max.id", reserved_broker_max_id, "1000", 0, 0),
    K_I32("zookeeper.max.in.flight.requests", zookeeper_max_in_flight_requests, "10", 1, 0),
    /* network */
    K_I32("max.connections", max_connections, I32MAX_TEXT, 0, 0),
    K_I32("max.connections.per.ip", max_connections_per_ip, I32MAX_TEXT, 0, 0),
    K_STR("max.connections.per.ip.overrides", max_connections_per_ip_overrides, NULL, CF_NULLABLE,
          check_ip_overrides),
    K_I64("queued.max.request.bytes", queued_max_request_bytes, "268435456", 1, CF_NEG1),
    K_I64("gregor.request.read.timeout.ms", gregor_request_read_timeout_ms, "60000", 1, CF_NEG1),
    K_I32("fetch.max.bytes", fetch_max_bytes, "57671680", 1024, 0),
    /* logs */
    K_I64("log.segment.delete.delay.ms", log_segment_delete_delay_ms, "60000", 0, 0),
    K_BOOL("log.cleaner.enable", log_cleaner_enable, "true"),
    K_I32("log.cleaner.threads", log_cleaner_threads, "1", 0, 0),
    K_I64("log.cleaner.delete.retention.ms", log_cleaner_delete_retention_ms, "86400000", 0, 0),
    K_I64("log.cleaner.dedupe.buffer.size", log_cleaner_dedupe_buffer_size, "134217728", 0, 0),
    K_STR("log.cleaner.io.max.bytes.per.second", log_cleaner_io_max_bytes_per_second,
          "1.7976931348623157E308", CF_NONEMPTY, check_positive_double),
    K_I64("log.cleaner.backoff.ms", log_cleaner_backoff_ms, "15000", 0, 0),
    K_STR("log.cleaner.min.cleanable.ratio", log_cleaner_min_cleanable_ratio, "0.5", CF_NONEMPTY,
          check_ratio),
    K_I64("log.cleaner.min.compaction.lag.ms", log_cleaner_min_compaction_lag_ms, "0", 0, 0),
    K_I64("log.cleaner.max.compaction.lag.ms", log_cleaner_max_compaction_lag_ms, I64MAX_TEXT, 1,
          0),
    K_BOOL("log.preallocate", log_preallocate, "false"),
    K_I64("log.message.timestamp.difference.max.ms", log_message_timestamp_difference_max_ms,
          I64MAX_TEXT, 0, 0),
    K_STR("compression.type", compression_type, "producer", CF_NONEMPTY, check_compression),
    /* SASL (docs/security.md) */
    K_STR("sasl.enabled.mechanisms", sasl_enabled_mechanisms, "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
          CF_NONEMPTY, check_sasl_mechanisms),
    K_STR("sasl.jaas.config", sasl_jaas_config, NULL, CF_NULLABLE | CF_SENSITIVE, NULL),
    K_STR("sasl.mechanism.inter.broker.protocol", sasl_mechanism_inter_broker_protocol, "PLAIN",
          CF_NONEMPTY, check_sasl_mechanisms),
    K_I64("connections.max.reauth.ms", connections_max_reauth_ms, "0", 0, 0),
    K_I32("sasl.server.max.receive.size", sasl_server_max_receive_size, "524288", 1, 0),
    K_I64("gregor.sasl.authentication.timeout.ms", gregor_sasl_authentication_timeout_ms, "10000",
          1, 0),
};

_Static_assert(ARRAY_LEN(config_keys) <= CONFIG_MAX_KEYS, "raise CONFIG_MAX_KEYS");

/* ---- where a value came from, for error messages ---- */

struct config_src {
    enum config_source kind;
    const char *path;   /* FILE: the file */
    int line;           /* FILE: 1-based line */
    const char *origin; /* ENV: variable name; OVERRIDE: the override text */
};

/* Writes "<prefix><message><suffix>" naming src into err. */
static void config_fail(char *err, size_t errlen, const struct config_src *src, const char *fmt,
                        ...) __attribute__((format(printf, 4, 5)));

static void config_fail(char *err, size_t errlen, const struct config_src *src, const char *fmt,
                        ...)
{
    char msg[768];
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    switch (src ? src->kind : CONFIG_SOURCE_DEFAULT) {
    case CONFIG_SOURCE_FILE:
        snprintf(err, errlen, "%s: %s (line %d)", src->path, msg, src->line);
        break;
    case CONFIG_SOURCE_ENV:
        snprintf(err, errlen, "%s (environment variable %s)", msg, src->origin);
        break;
    case CONFIG_SOURCE_OVERRIDE:
        snprintf(err, errlen, "%s (override '%s')", msg, src->origin);
        break;
    default:
        snprintf(err, errlen, "%s", msg);
        break;
    }
}

/* ---- other string checks ---- */

/* "host[:port],host[:port]...[/chroot]" */
/* gregor.zookeeper.auth.digest: "user:password", the user not empty. */
static bool check_zk_digest(char *value, char *why, size_t whylen)
{
    const char *colon = strchr(value, ':');
    if (colon == NULL || colon == value) {
        why_set(why, whylen, "expected user:password");
        return false;
    }
    return true;
}

static bool check_zk_connect(char *value, char *why, size_t whylen)
{
    char hosts[1024], *save = NULL, *tok;
    const char *slash = strchr(value, '/');
    size_t n = slash ? (size_t)(slash - value) : strlen(value);

    if (strpbrk(value, " \t") != NULL || n == 0 || n >= sizeof(hosts)) {
        why_set(why, whylen, "expected host:port[,host:port...][/chroot]");
        return false;
    }
    if (slash != NULL && slash[1] != '\0' && slash[strlen(slash) - 1] == '/') {
        why_set(why, whylen, "chroot path must not end with '/'");
        return false;
    }
    memcpy(hosts, value, n);
    hosts[n] = '\0';
    if (hosts[0] == ',' || hosts[n - 1] == ',' || strstr(hosts, ",,") != NULL) {
        why_set(why, whylen, "empty server in list");
        return false;
    }
    for (tok = strtok_r(hosts, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        struct config_listener l;
        char hp[600];

        const char *rb = strrchr(tok, ']');
        bool has_port = tok[0] == '[' ? rb != NULL && rb[1] == ':' : strchr(tok, ':') != NULL;

        if (has_port)
            snprintf(hp, sizeof(hp), "%s", tok);
        else
            snprintf(hp, sizeof(hp), "%s:2181", tok);
        if (!listener_parse_hostport(hp, &l, why, whylen) || l.host[0] == '\0' || l.port == 0) {
            why_set(why, whylen, "bad server '%s' (expected host[:port], port 1..65535)", tok);
            return false;
        }
    }
    return true;
}

/* Whether every item of a comma list, trimmed, fits cap bytes (at most 4096)
 * and passes ok(). */
static bool each_list_item(const char *value, size_t cap, bool (*ok)(const char *item))
{
    const char *s = value;
    char item[4096];

    if (cap > sizeof(item))
        cap = sizeof(item);
    for (;;) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);

        if (!copy_trimmed(s, len, item, cap) || !ok(item))
            return false;
        if (comma == NULL)
            return true;
        s = comma + 1;
    }
}

static bool dir_item_ok(const char *dir) { return dir[0] != '\0'; }

/* A comma list of non-empty directory names. */
static bool check_dir_list(char *value, char *why, size_t whylen)
{
    if (each_list_item(value, 4096, dir_item_ok))
        return true;
    why_set(why, whylen, "empty or overlong directory in list");
    return false;
}

/* A cleanup.policy list (common/cleanup_policy.h); rewritten in its
 * canonical form "delete", "compact" or "delete,compact". */
static bool check_cleanup_policy(char *value, char *why, size_t whylen)
{
    unsigned flags = cleanup_policy_parse(value);
    const char *canon = cleanup_policy_name(flags);

    if (flags == 0) {
        why_set(why, whylen, "expected delete, compact or delete,compact");
        return false;
    }
    /* the canonical form is never longer than the accepted input */
    memcpy(value, canon, strlen(canon) + 1);
    return true;
}

/* Accepts exactly one of names[0..n). */
static bool check_enum(const char *value, const char *const *names, size_t n, char *why,
                       size_t whylen)
{
    char list[256];
    size_t used = 0;

    for (size_t i = 0; i < n; i++) {
        if (strcmp(value, names[i]) == 0)
            return true;
        used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", names[i]);
        if (used >= sizeof(list))
            used = sizeof(list) - 1;
    }
    why_set(why, whylen, "expected one of %s", list);
    return false;
}

static bool check_timestamp_type(char *value, char *why, size_t whylen)
{
    static const char *const names[] = {"CreateTime", "LogAppendTime"};

    return check_enum(value, names, ARRAY_LEN(names), why, whylen);
}

/* A finite or huge double > 0 (log.cleaner.io.max.bytes.per.second). */
static bool check_positive_double(char *value, char *why, size_t whylen)
{
    char *end;
    double d = strtod(value, &end);

    if (end == value || *end != '\0' || !(d > 0)) {
        why_set(why, whylen, "expected a number > 0");
        return false;
    }
    return true;
}

/* A double in [0, 1] (log.cleaner.min.cleanable.ratio). */
static bool check_ratio(char *value, char *why, size_t whylen)
{
    char *end;
    double d = strtod(value, &end);

    if (end == value || *end != '\0' || !(d >= 0 && d <= 1)) {
        why_set(why, whylen, "expected a number between 0 and 1");
        return false;
    }
    return true;
}

static bool check_compression(char *value, char *why, size_t whylen)
{
    static const char *const names[] = {"producer", "uncompressed", "gzip",
                                        "snappy",   "lz4",          "zstd"};

    return check_enum(value, names, ARRAY_LEN(names), why, whylen);
}

/* A comma list of the SASL mechanisms Gregor implements. */
static bool check_sasl_mechanisms(char *value, char *why, size_t whylen)
{
    static const char *const known[] = {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"};
    const char *p = value;
    while (*p) {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        const char *start = p;
        while (*p && *p != ',' && !isspace((unsigned char)*p))
            p++;
        size_t len = (size_t)(p - start);
        bool ok = len == 0;
        for (size_t i = 0; !ok && i < ARRAY_LEN(known); i++)
            ok = strlen(known[i]) == len && memcmp(known[i], start, len) == 0;
        if (!ok) {
            why_set(why, whylen,
                    "SASL mechanism '%.*s' is not supported (Gregor offers PLAIN, "
                    "SCRAM-SHA-256, SCRAM-SHA-512; not GSSAPI or OAUTHBEARER)",
                    (int)len, start);
            return false;
        }
    }
    return true;
}

static bool url_item_ok(const char *url)
{
    return (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0) &&
           strpbrk(url, " \"<>\\") == NULL;
}

/* gregor.console.mirrors: comma-separated http:// or https:// base URLs */
static bool check_url_list(char *value, char *why, size_t whylen)
{
    if (each_list_item(value, 1024, url_item_ok))
        return true;
    why_set(why, whylen, "expected comma-separated http:// or https:// base URLs");
    return false;
}

static bool check_log_level(char *value, char *why, size_t whylen)
{
    enum say_level level;

    if (!say_level_parse(value, &level)) {
        why_set(why, whylen, "expected one of error, warn, info, debug");
        return false;
    }
    for (char *p = value; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return true;
}

/* The authorizers Gregor has: its own name, and Kafka's ZooKeeper-mode
 * authorizer's (the same ACLs in the same znodes): any of them turns the
 * ACL authorizer on. */
static bool check_authorizer(char *value, char *why, size_t whylen)
{
    if (strcmp(value, CONFIG_AUTHORIZER_ACL) == 0 ||
        strcmp(value, "kafka.security.authorizer.AclAuthorizer") == 0 ||
        strcmp(value, "kafka.security.auth.SimpleAclAuthorizer") == 0)
        return true;
    why_set(why, whylen,
            "unknown authorizer; expected " CONFIG_AUTHORIZER_ACL
            " (or kafka.security.authorizer.AclAuthorizer), or empty for none");
    return false;
}

/* ---- setting one value ---- */

static void *config_field(struct broker_config *cfg, const struct config_key *key)
{
    return (char *)cfg + key->off;
}

static const void *config_field_const(const struct broker_config *cfg, const struct config_key *key)
{
    return (const char *)cfg + key->off;
}

/* Parses a whole decimal integer with optional sign. Returns 0, 1 if it is
 * not an integer, 2 if it overflows 64 bits. */
static int parse_i64(const char *s, int64_t *out)
{
    char *end;
    long long v;

    if (*s == '\0' || isspace((unsigned char)*s))
        return 1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (end == s || *end != '\0')
        return 1;
    if (errno == ERANGE)
        return 2;
    *out = (int64_t)v;
    return 0;
}

static int64_t config_type_max(enum config_type type)
{
    return type == CT_I16 ? INT16_MAX : type == CT_I32 ? INT32_MAX : INT64_MAX;
}

static kerr_t config_set_int(struct broker_config *cfg, const struct config_key *key,
                             const char *value, char *why, size_t whylen)
{
    const char *neg1 = (key->flags & CF_NEG1) ? "-1 or " : "";
    void *p = config_field(cfg, key);
    int64_t v = 0;
    int rc = parse_i64(value, &v);

    if (rc == 1) {
        why_set(why, whylen, "not an integer");
        return KERR__INVALID;
    }
    if (rc == 2 || !((v >= key->min && v <= key->max) || ((key->flags & CF_NEG1) && v == -1))) {
        if (key->max == config_type_max(key->type))
            why_set(why, whylen, "must be %sat least %" PRId64, neg1, key->min);
        else
            why_set(why, whylen, "must be %sbetween %" PRId64 " and %" PRId64, neg1, key->min,
                    key->max);
        return KERR__INVALID;
    }
    switch (key->type) {
    case CT_I16:
        KASSERT(key->size == sizeof(int16_t));
        *(int16_t *)p = (int16_t)v;
        break;
    case CT_I32:
        KASSERT(key->size == sizeof(int32_t));
        *(int32_t *)p = (int32_t)v;
        break;
    default:
        KASSERT(key->size == sizeof(int64_t));
        *(int64_t *)p = v;
        break;
    }
    return KERR_NONE;
}

static kerr_t config_set_str(struct broker_config *cfg, const struct config_key *key,
                             const char *value, char *why, size_t whylen)
{
    char **slot = config_field(cfg, key);
    char *copy;

    KASSERT(key->size == sizeof(char *));
    KASSERT(key->flags & (CF_NULLABLE | CF_NONEMPTY));
    if (value[0] == '\0') {
        if (key->flags & CF_NONEMPTY) {
            why_set(why, whylen, "must not be empty");
            return KERR__INVALID;
        }
        free(*slot);
        *slot = NULL;
        return KERR_NONE;
    }
    copy = strdup(value);
    if (copy == NULL)
        return KERR__NOMEM;
    if (key->check != NULL && !key->check(copy, why, whylen)) {
        free(copy);
        return KERR__INVALID;
    }
    free(*slot);
    *slot = copy;
    return KERR_NONE;
}

/* Parses value (borrowed) into key's field. KERR__INVALID with the reason
 * in why, or KERR__NOMEM. */
static kerr_t config_set_value(struct broker_config *cfg, const struct config_key *key,
                               const char *value, char *why, size_t whylen)
{
    switch (key->type) {
    case CT_BOOL:
        KASSERT(key->size == sizeof(bool));
        if (strcasecmp(value, "true") == 0)
            *(bool *)config_field(cfg, key) = true;
        else if (strcasecmp(value, "false") == 0)
            *(bool *)config_field(cfg, key) = false;
        else {
            why_set(why, whylen, "not a boolean (true or false)");
            return KERR__INVALID;
        }
        return KERR_NONE;
    case CT_STR:
        return config_set_str(cfg, key, value, why, whylen);
    default:
        return config_set_int(cfg, key, value, why, whylen);
    }
}

/* Sets key idx from src; on failure writes the full message to err. */
static kerr_t config_set(struct broker_config *cfg, int idx, const char *value,
                         const struct config_src *src, char *err, size_t errlen)
{
    const struct config_key *key = &config_keys[idx];
    char why[512] = "";
    kerr_t rc = config_set_value(cfg, key, value, why, sizeof(why));

    if (rc == KERR__INVALID)
        config_fail(err, errlen, src, "invalid value '%s' for %s: %s", value, key->name, why);
    else if (rc != KERR_NONE)
        config_fail(err, errlen, src, "out of memory setting %s", key->name);
    else
        cfg->key_source[idx] = (unsigned char)src->kind;
    return rc;
}

/* Returns a new copy of s[0..n) without surrounding blanks, or NULL. */
static char *dup_trimmed(const char *s, size_t n)
{
    char *out;

    while (n > 0 && isspace((unsigned char)s[0])) {
        s++;
        n--;
    }
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    out = malloc(n + 1);
    if (out != NULL) {
        memcpy(out, s, n);
        out[n] = '\0';
    }
    return out;
}

/* ---- the four sources ---- */

static kerr_t config_apply_defaults(struct broker_config *cfg, char *err, size_t errlen)
{
    const struct config_src src = {.kind = CONFIG_SOURCE_DEFAULT};

    for (size_t i = 0; i < ARRAY_LEN(config_keys); i++) {
        kerr_t rc;

        if (config_keys[i].def == NULL) {
            KASSERT(config_keys[i].type == CT_STR); /* the field stays NULL */
            continue;
        }
        rc = config_set(cfg, (int)i, config_keys[i].def, &src, err, errlen);
        KASSERT(rc != KERR__INVALID); /* a default that fails its own check */
        if (rc != KERR_NONE)
            return rc;
    }
    return KERR_NONE;
}

static kerr_t config_apply_file(struct broker_config *cfg, const char *path, char *err,
                                size_t errlen)
{
    struct props props;
    kerr_t rc;

    props_init(&props);
    rc = props_load_file(&props, path, err, errlen);
    for (size_t i = 0; rc == KERR_NONE && i < props.n; i++) {
        const struct props_entry *e = &props.entry[i];
        const struct config_src src = {.kind = CONFIG_SOURCE_FILE, .path = path, .line = e->line};
        int idx = config_key_find(e->key);
        char why[256];
        int lkv = idx < 0 ? config_listener_kv_set(cfg, e->key, e->value, why, sizeof(why)) : 0;

        if (lkv < 0) {
            config_fail(err, errlen, &src, "invalid setting %s: %s", e->key, why);
            rc = KERR__INVALID;
        } else if (lkv > 0) {
            continue;
        } else if (idx < 0) {
            config_fail(err, errlen, &src, "unknown configuration key '%s'", e->key);
            rc = KERR__INVALID;
        } else {
            rc = config_set(cfg, idx, e->value, &src, err, errlen);
        }
    }
    props_destroy(&props);
    return rc;
}

/* Maps "GREGOR_LOG_DIRS" to the index of "log.dirs", or -1. Only upper
 * case letters, digits and '_' after the prefix. */
static int config_env_find(const char *name, size_t n)
{
    char key[128];
    size_t k = 0;

    if (n <= 7 || n - 7 >= sizeof(key) || strncmp(name, "GREGOR_", 7) != 0)
        return -1;
    for (size_t i = 7; i < n; i++) {
        char c = name[i];

        if (c == '_')
            key[k++] = '.';
        else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            key[k++] = (char)tolower((unsigned char)c);
        else
            return -1;
    }
    key[k] = '\0';
    return config_key_find(key);
}

static kerr_t config_apply_env(struct broker_config *cfg, char **envp, char *err, size_t errlen)
{
    for (char **e = envp; *e != NULL; e++) {
        const char *eq = strchr(*e, '=');
        char name[160];
        char *value;
        int idx;
        kerr_t rc;

        if (eq == NULL || (idx = config_env_find(*e, (size_t)(eq - *e))) < 0)
            continue; /* not one of ours: GREGOR_SOURCE_DIR etc. are ignored */
        snprintf(name, sizeof(name), "%.*s", (int)(eq - *e), *e);
        value = dup_trimmed(eq + 1, strlen(eq + 1));
        if (value == NULL)
            return KERR__NOMEM;
        rc = config_set(cfg, idx, value,
                        &(struct config_src){.kind = CONFIG_SOURCE_ENV, .origin = name}, err,
                        errlen);
        free(value);
        if (rc != KERR_NONE)
            return rc;
    }
    return KERR_NONE;
}

static kerr_t config_apply_override(struct broker_config *cfg, const char *text, char *err,
                                    size_t errlen)
{
    const struct config_src src = {.kind = CONFIG_SOURCE_OVERRIDE, .origin = text};
    const char *eq = strchr(text, '=');
    char *key = NULL, *value = NULL;
    kerr_t rc = KERR__NOMEM;
    int idx;

    if (eq == NULL) {
        config_fail(err, errlen, &src, "override is not key=value");
        return KERR__INVALID;
    }
    key = dup_trimmed(text, (size_t)(eq - text));
    value = dup_trimmed(eq + 1, strlen(eq + 1));
    if (key == NULL || value == NULL)
        goto out_free;
    idx = config_key_find(key);
    if (idx < 0) {
        char why[256];
        int lkv = config_listener_kv_set(cfg, key, value, why, sizeof(why));
        rc = lkv > 0 ? KERR_NONE : KERR__INVALID;
        if (lkv < 0)
            config_fail(err, errlen, &src, "invalid setting %s: %s", key, why);
        if (lkv != 0)
            goto out_free;
        config_fail(err, errlen, &src, "unknown configuration key '%s'", key);
        rc = KERR__INVALID;
        goto out_free;
    }
    rc = config_set(cfg, idx, value, &src, err, errlen);
out_free:
    free(key);
    free(value);
    return rc;
}

/* ---- checks across keys and derived fields ---- */

static kerr_t config_check_cross(const struct broker_config *cfg, char *err, size_t errlen)
{
    if (cfg->zookeeper_connect == NULL) {
        config_fail(err, errlen, NULL, "missing required configuration key zookeeper.connect");
        return KERR__INVALID;
    }
    if (cfg->zookeeper_set_acl && cfg->gregor_zookeeper_auth_digest == NULL) {
        config_fail(err, errlen, NULL,
                    "zookeeper.set.acl=true needs gregor.zookeeper.auth.digest (user:password): "
                    "the znodes are created for the session's credentials");
        return KERR__INVALID;
    }
    if (cfg->broker_id_generation_enable && cfg->broker_id > cfg->reserved_broker_max_id) {
        config_fail(err, errlen, NULL,
                    "invalid value '%d' for broker.id: must be at most reserved.broker.max.id (%d)",
                    cfg->broker_id, cfg->reserved_broker_max_id);
        return KERR__INVALID;
    }
    if (!cfg->broker_id_generation_enable && cfg->broker_id < 0) {
        config_fail(err, errlen, NULL,
                    "invalid value '%d' for broker.id: must be set (>= 0) when "
                    "broker.id.generation.enable=false",
                    cfg->broker_id);
        return KERR__INVALID;
    }
    if (cfg->group_min_session_timeout_ms > cfg->group_max_session_timeout_ms) {
        config_fail(err, errlen, NULL,
                    "group.min.session.timeout.ms (%d) exceeds group.max.session.timeout.ms (%d)",
                    cfg->group_min_session_timeout_ms, cfg->group_max_session_timeout_ms);
        return KERR__INVALID;
    }
    if (cfg->replica_fetch_wait_max_ms > cfg->replica_lag_time_max_ms) {
        config_fail(err, errlen, NULL,
                    "replica.fetch.wait.max.ms (%d) exceeds replica.lag.time.max.ms (%" PRId64 ")",
                    cfg->replica_fetch_wait_max_ms, cfg->replica_lag_time_max_ms);
        return KERR__INVALID;
    }
    if (cfg->replica_socket_timeout_ms < cfg->replica_fetch_wait_max_ms) {
        config_fail(err, errlen, NULL,
                    "replica.socket.timeout.ms (%d) is less than replica.fetch.wait.max.ms (%d)",
                    cfg->replica_socket_timeout_ms, cfg->replica_fetch_wait_max_ms);
        return KERR__INVALID;
    }
    return KERR_NONE;
}

static kerr_t config_derive_data_dir(struct broker_config *cfg)
{
    if (cfg->log_dirs != NULL) {
        const char *comma = strchr(cfg->log_dirs, ',');

        cfg->data_dir = dup_trimmed(cfg->log_dirs, comma ? (size_t)(comma - cfg->log_dirs)
                                                         : strlen(cfg->log_dirs));
    } else {
        cfg->data_dir = strdup(cfg->log_dir);
    }
    return cfg->data_dir ? KERR_NONE : KERR__NOMEM;
}

static int config_listener_index(const struct broker_config *cfg, const char *name)
{
    for (int i = 0; i < cfg->n_listeners; i++) {
        if (strcmp(cfg->listener[i].name, name) == 0)
            return i;
    }
    return -1;
}

/* Fills listener[] (with protocols). The strings were checked when set. */
static kerr_t config_derive_listeners(struct broker_config *cfg, char *err, size_t errlen)
{
    struct protocol_map map;
    char why[256];

    if (!protocol_map_parse(cfg->listener_security_protocol_map, &map, why, sizeof(why)) ||
        !listeners_parse(cfg->listeners, cfg->listener, &cfg->n_listeners, true, why,
                         sizeof(why))) {
        config_fail(err, errlen, NULL, "listeners: %s", why);
        return KERR__INVALID;
    }
    for (int i = 0; i < cfg->n_listeners; i++) {
        struct config_listener *l = &cfg->listener[i];
        const char *proto = protocol_map_find(&map, l->name);

        if (proto == NULL) {
            config_fail(err, errlen, NULL,
                        "listener '%s' in listeners has no entry in "
                        "listener.security.protocol.map",
                        l->name);
            return KERR__INVALID;
        }
        snprintf(l->protocol, sizeof(l->protocol), "%s", proto);
        /* every security protocol of the map is built: PLAINTEXT, SSL
         * (net/tls.c), SASL_PLAINTEXT and SASL_SSL (security/sasl_server.c
         * over either) */
        if (strcmp(proto, "PLAINTEXT") != 0 && strcmp(proto, "SSL") != 0 &&
            strcmp(proto, "SASL_PLAINTEXT") != 0 && strcmp(proto, "SASL_SSL") != 0) {
            config_fail(err, errlen, NULL,
                        "listener '%s' uses security protocol %s, which Gregor does not "
                        "implement",
                        l->name, proto);
            return KERR__INVALID;
        }
    }
    if (cfg->max_connections_per_ip_overrides != NULL &&
        !ip_overrides_parse(cfg->max_connections_per_ip_overrides, cfg->ip_override,
                            &cfg->n_ip_overrides, why, sizeof(why))) {
        config_fail(err, errlen, NULL, "max.connections.per.ip.overrides: %s", why);
        return KERR__INVALID;
    }
    return KERR_NONE;
}

/* Fills advertised[] in listener[] order from advertised.listeners (or
 * listeners), and finds the inter-broker listener. */
static kerr_t config_derive_advertised(struct broker_config *cfg, char *err, size_t errlen)
{
    const char *src = cfg->advertised_listeners ? cfg->advertised_listeners : cfg->listeners;
    const char *what = cfg->advertised_listeners ? "advertised.listeners" : "listeners";
    struct config_listener adv[CONFIG_MAX_LISTENERS];
    char why[256];
    int n = 0;

    if (!listeners_parse(src, adv, &n, false, why, sizeof(why))) {
        config_fail(err, errlen, NULL, "%s: %s", what, why);
        return KERR__INVALID;
    }
    for (int j = 0; j < n; j++) {
        int i = config_listener_index(cfg, adv[j].name);

        if (i < 0) {
            config_fail(err, errlen, NULL,
                        "advertised.listeners names listener '%s', which is not in listeners",
                        adv[j].name);
            return KERR__INVALID;
        }
        if (strcmp(adv[j].host, "0.0.0.0") == 0 || strcmp(adv[j].host, "::") == 0) {
            config_fail(err, errlen, NULL,
                        "listener '%s' binds the wildcard address '%s', which cannot be "
                        "advertised: set advertised.listeners",
                        adv[j].name, adv[j].host);
            return KERR__INVALID;
        }
        cfg->advertised[i] = adv[j];
        if (adv[j].host[0] == '\0')
            snprintf(cfg->advertised[i].host, sizeof(cfg->advertised[i].host), "localhost");
        memcpy(cfg->advertised[i].protocol, cfg->listener[i].protocol,
               sizeof(cfg->advertised[i].protocol));
    }
    for (int i = 0; i < cfg->n_listeners; i++) {
        if (cfg->advertised[i].name[0] == '\0') {
            config_fail(err, errlen, NULL, "advertised.listeners has no entry for listener '%s'",
                        cfg->listener[i].name);
            return KERR__INVALID;
        }
    }
    cfg->n_advertised = cfg->n_listeners;
    return KERR_NONE;
}

static kerr_t config_derive_inter_broker(struct broker_config *cfg, char *err, size_t errlen)
{
    if (cfg->inter_broker_listener_name == NULL) {
        cfg->inter_broker_listener = 0;
    } else {
        cfg->inter_broker_listener = config_listener_index(cfg, cfg->inter_broker_listener_name);
        if (cfg->inter_broker_listener < 0) {
            config_fail(err, errlen, NULL,
                        "invalid value '%s' for inter.broker.listener.name: no such listener in "
                        "listeners",
                        cfg->inter_broker_listener_name);
            return KERR__INVALID;
        }
    }
    return KERR_NONE;
}

/* ---- public functions ---- */

int config_load(struct broker_config *cfg, const char *path, char **envp, char *const *overrides,
                int n_overrides, char *err, size_t errlen)
{
    kerr_t rc;

    memset(cfg, 0, sizeof(*cfg));
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    rc = config_apply_defaults(cfg, err, errlen);
    if (rc == KERR_NONE && path != NULL)
        rc = config_apply_file(cfg, path, err, errlen);
    if (rc == KERR_NONE && envp != NULL)
        rc = config_apply_env(cfg, envp, err, errlen);
    for (int i = 0; rc == KERR_NONE && i < n_overrides; i++)
        rc = config_apply_override(cfg, overrides[i], err, errlen);
    if (rc == KERR_NONE)
        rc = config_check_cross(cfg, err, errlen);
    if (rc == KERR_NONE)
        rc = config_derive_data_dir(cfg);
    if (rc == KERR_NONE)
        rc = config_derive_listeners(cfg, err, errlen);
    if (rc == KERR_NONE)
        rc = config_derive_advertised(cfg, err, errlen);
    if (rc == KERR_NONE)
        rc = config_derive_inter_broker(cfg, err, errlen);
    if (rc == KERR__NOMEM && err != NULL && errlen > 0 && err[0] == '\0')
        snprintf(err, errlen, "out of memory");
    if (rc != KERR_NONE) {
        config_free(cfg);
        return -1;
    }
    return 0;
}

void config_free(struct broker_config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < ARRAY_LEN(config_keys); i++) {
        if (config_keys[i].type == CT_STR)
            free(*(char **)config_field(cfg, &config_keys[i]));
    }
    free(cfg->data_dir);
    config_listener_kv_free(cfg);
    memset(cfg, 0, sizeof(*cfg));
}

/* True if the key was given by some source or differs from its "unset" -1. */
static bool config_is_set(const struct broker_config *cfg, const char *name, int64_t value)
{
    int idx = config_key_find(name);

    KASSERT(idx >= 0);
    return value != -1 || cfg->key_source[idx] != CONFIG_SOURCE_DEFAULT;
}

int64_t config_retention_ms(const struct broker_config *cfg)
{
    int64_t ms;

    if (config_is_set(cfg, "log.retention.ms", cfg->log_retention_ms))
        ms = cfg->log_retention_ms;
    else if (config_is_set(cfg, "log.retention.minutes", cfg->log_retention_minutes))
        ms = (int64_t)cfg->log_retention_minutes * 60 * 1000;
    else
        ms = (int64_t)cfg->log_retention_hours * 3600 * 1000;
    return ms < 0 ? -1 : ms;
}

int64_t config_roll_ms(const struct broker_config *cfg)
{
    if (cfg->log_roll_ms > 0)
        return cfg->log_roll_ms;
    return (int64_t)cfg->log_roll_hours * 3600 * 1000;
}

const char *config_data_dir(const struct broker_config *cfg)
{
    return cfg->data_dir != NULL ? cfg->data_dir : cfg->log_dir;
}

int64_t config_flush_interval_ms(const struct broker_config *cfg)
{
    if (cfg->log_flush_interval_ms >= 0)
        return cfg->log_flush_interval_ms;
    return cfg->log_flush_scheduler_interval_ms;
}

int config_key_count(void) { return (int)ARRAY_LEN(config_keys); }

const char *config_str_value(const struct broker_config *cfg, const char *key)
{
    int idx = config_key_find(key);
    if (idx < 0 || config_keys[idx].type != CT_STR)
        return NULL;
    return *(char *const *)config_field_const(cfg, &config_keys[idx]);
}

const char *config_key_name(int idx)
{
    if (idx < 0 || idx >= config_key_count())
        return NULL;
    return config_keys[idx].name;
}

int config_key_find(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(config_keys); i++) {
        if (strcmp(config_keys[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}

enum config_source config_key_source(const struct broker_config *cfg, int idx)
{
    if (idx < 0 || idx >= config_key_count())
        return CONFIG_SOURCE_DEFAULT;
    return (enum config_source)cfg->key_source[idx];
}

bool config_key_value(const struct broker_config *cfg, int idx, char *buf, size_t len)
{
    const struct config_key *key;
    const void *p;

    if (len > 0)
        buf[0] = '\0';
    if (idx < 0 || idx >= config_key_count())
        return false;
    key = &config_keys[idx];
    if (key->flags & CF_SENSITIVE)
        return false;
    p = config_field_const(cfg, key);
    switch (key->type) {
    case CT_I16:
        snprintf(buf, len, "%d", (int)*(const int16_t *)p);
        return true;
    case CT_I32:
        snprintf(buf, len, "%" PRId32, *(const int32_t *)p);
        return true;
    case CT_I64:
        snprintf(buf, len, "%" PRId64, *(const int64_t *)p);
        return true;
    case CT_BOOL:
        snprintf(buf, len, "%s", *(const bool *)p ? "true" : "false");
        return true;
    default:
        break;
    }
    if (*(char *const *)p == NULL)
        return false;
    snprintf(buf, len, "%s", *(char *const *)p);
    return true;
}

bool config_key_check(int idx, const char *value, char *why, size_t whylen)
{
    struct broker_config scratch;
    if (idx < 0 || idx >= config_key_count()) {
        why_set(why, whylen, "unknown key");
        return false;
    }
    memset(&scratch, 0, sizeof(scratch));
    const struct config_key *key = &config_keys[idx];
    kerr_t rc = config_set_value(&scratch, key, value, why, whylen);
    if (key->type == CT_STR)
        free(*(char **)config_field(&scratch, key));
    if (rc == KERR__NOMEM)
        why_set(why, whylen, "out of memory");
    return rc == KERR_NONE;
}

bool config_copy_with(const struct broker_config *base, char *const *kv, int n,
                      struct broker_config *out)
{
    *out = *base;
    bool ok = true;
    for (size_t i = 0; i < ARRAY_LEN(config_keys); i++) {
        if (config_keys[i].type != CT_STR)
            continue;
        char **slot = config_field(out, &config_keys[i]);
        if (*slot && !(*slot = strdup(*slot)))
            ok = false;
    }
    if (out->data_dir && !(out->data_dir = strdup(out->data_dir)))
        ok = false;
    if (!config_listener_kv_copy(out))
        ok = false;
    for (int i = 0; ok && i < n; i++) {
        int idx = config_key_find(kv[2 * i]);
        char why[256];
        if (idx < 0)
            continue;
        kerr_t rc = config_set_value(out, &config_keys[idx], kv[2 * i + 1], why, sizeof(why));
        if (rc == KERR__NOMEM)
            ok = false;
        else if (rc == KERR_NONE)
            out->key_source[idx] = CONFIG_SOURCE_DYNAMIC;
    }
    if (!ok)
        config_free(out);
    return ok;
}
