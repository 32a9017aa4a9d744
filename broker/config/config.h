/*
 * broker/config/config.h — the broker's configuration: Kafka's key names and
 * defaults (docs/architecture.md §9), read from a server.properties file, then
 * GREGOR_* environment variables (GREGOR_LOG_DIRS -> log.dirs), then
 * --override key=value arguments (later sources win).
 *
 * Every key in deploy/config/server.properties is a field here; the field
 * name is the key with '.' replaced by '_'. Unknown keys and bad values are
 * refused with a message naming the key.
 *
 * Threads: built once in main() before any thread starts, immutable after.
 */
#ifndef GREGOR_BROKER_CONFIG_CONFIG_H
#define GREGOR_BROKER_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_LISTENERS 8
#define CONFIG_MAX_IP_OVERRIDES 64 /* entries of max.connections.per.ip.overrides */
#define CONFIG_MAX_KEYS 192        /* capacity of the key table (config.c) */
#define CONFIG_MAX_LISTENER_KV 64  /* listener.name.<name>.ssl.* settings */

/* One parsed listener: "NAME://host:port". host "" means all interfaces. */
struct config_listener {
    char name[32];  /* listener name, e.g. PLAINTEXT, INTERNAL */
    char host[256]; /* "" = wildcard (0.0.0.0 and ::) */
    int port;
    char protocol[32]; /* security protocol from listener.security.protocol.map */
};

/* authorizer.class.name's Gregor value (Kafka's AclAuthorizer names are
 * accepted too: config.c check_authorizer()). */
#define CONFIG_AUTHORIZER_ACL "gregor.security.authorizer.AclAuthorizer"

struct broker_config {
    /* identity and coordination */
    int32_t broker_id;                       /* broker.id, -1 = generate via ZooKeeper */
    char *broker_rack;                       /* broker.rack, NULL = none */
    char *zookeeper_connect;                 /* zookeeper.connect, required */
    int32_t zookeeper_session_timeout_ms;    /* 18000 */
    int32_t zookeeper_connection_timeout_ms; /* -1 = session timeout */
    bool zookeeper_set_acl;                  /* zookeeper.set.acl: false; true needs the digest */
    char *gregor_zookeeper_auth_digest;      /* "user:password" presented to ZooKeeper, NULL */

    /* network */
    char *listeners;            /* "PLAINTEXT://:9092" */
    char *advertised_listeners; /* NULL = listeners */
    char *listener_security_protocol_map;
    char *inter_broker_listener_name;    /* NULL = first listener */
    int32_t num_network_threads;         /* 3 */
    int32_t num_io_threads;              /* 8: the io workers that append large produce requests */
    int32_t socket_request_max_bytes;    /* 104857600 */
    int32_t socket_send_buffer_bytes;    /* 102400, -1 = OS default */
    int32_t socket_receive_buffer_bytes; /* 102400, -1 = OS default */
    int64_t connections_max_idle_ms;     /* 600000 */
    int32_t queued_max_requests;         /* 500 */

    /* topics */
    int32_t num_partitions;             /* 1 */
    int16_t default_replication_factor; /* 1 */
    int32_t min_insync_replicas;        /* 1 */
    bool auto_create_topics_enable;     /* true */
    bool delete_topic_enable;           /* true */
    int32_t message_max_bytes;          /* 1048588 */

    /* logs */
    char *log_dir;                           /* "/tmp/kafka-logs" */
    char *log_dirs;                          /* NULL = log.dir; comma list (first used) */
    int32_t log_segment_bytes;               /* 1073741824 */
    int32_t log_roll_hours;                  /* 168 */
    int64_t log_roll_ms;                     /* -1 = log.roll.hours */
    int32_t log_retention_hours;             /* 168 */
    int32_t log_retention_minutes;           /* -1 = hours */
    int64_t log_retention_ms;                /* -1 unset; effective value: config_retention_ms() */
    int64_t log_retention_bytes;             /* -1 = unlimited */
    int64_t log_retention_check_interval_ms; /* 300000 */
    int32_t log_index_interval_bytes;        /* 4096 */
    int32_t log_index_size_max_bytes;        /* 10485760 */
    int64_t log_flush_interval_messages;     /* INT64_MAX = never */
    int64_t log_flush_interval_ms;           /* -1 = never */
    int64_t log_flush_scheduler_interval_ms; /* INT64_MAX */
    char *log_cleanup_policy;                /* "delete" */
    char *log_message_timestamp_type;        /* "CreateTime" | "LogAppendTime" */
    int32_t num_recovery_threads_per_data_dir; /* 1 */

    /* replication (used from the cluster issue on; parsed and validated now) */
    bool unclean_leader_election_enable;             /* false */
    int64_t replica_lag_time_max_ms;                 /* 30000 */
    int32_t num_replica_fetchers;                    /* 1 */
    bool auto_leader_rebalance_enable;               /* true */
    int64_t leader_imbalance_check_interval_seconds; /* 300 */
    bool controlled_shutdown_enable;                 /* true */

    /* consumer groups (broker/core/group_runtime.c, broker/group/) */
    int16_t offsets_topic_replication_factor; /* 3 */
    int32_t offsets_topic_num_partitions;     /* 50 */
    int32_t group_initial_rebalance_delay_ms; /* 3000 */
    int32_t group_min_session_timeout_ms;     /* 6000 */
    int32_t group_max_session_timeout_ms;     /* 1800000 */

    /* Gregor's own */
    char *gregor_log_level; /* "info" */
    char *gregor_log_file;  /* NULL = stderr */

    int64_t log_flush_offset_checkpoint_interval_ms;       /* 60000 */
    int64_t log_flush_start_offset_checkpoint_interval_ms; /* 60000 */

    bool gregor_fetch_sendfile; /* true: Fetch record bytes leave by sendfile */
    /* Produce requests with at least this many record bytes are appended on
     * the io workers (num.io.threads); -1 = never */
    int32_t gregor_produce_offload_bytes; /* 262144 */
    int32_t gregor_http_port;             /* -1 = no HTTP endpoint; 0 = any free port */
    int32_t gregor_max_partitions;        /* 10000: partitions of one topic, at most */
    char *gregor_http_host;               /* "127.0.0.1" */
    bool gregor_console_actions_enable;   /* false: the web console is read-only */
    char *gregor_console_mirrors; /* NULL = none; comma-separated `gregor mirror` base URLs */

    /* TLS (listeners whose protocol is SSL or SASL_SSL; docs/security.md).
     * Each may be overridden per listener by listener.name.<name>.<key>:
     * config_listener_value(). */
    char *ssl_keystore_type;                     /* "PEM" (the only type) */
    char *ssl_keystore_location;                 /* PEM: certificate chain and private key */
    char *ssl_key_password;                      /* decrypts an encrypted PEM key; NULL = none */
    char *ssl_truststore_type;                   /* "PEM" */
    char *ssl_truststore_location;               /* PEM CA bundle; NULL = no client certs checked */
    char *ssl_client_auth;                       /* "none" | "requested" | "required" */
    char *ssl_enabled_protocols;                 /* "TLSv1.2,TLSv1.3" */
    char *ssl_cipher_suites;                     /* NULL = OpenSSL's defaults */
    char *ssl_principal_mapping_rules;           /* "DEFAULT" */
    char *ssl_endpoint_identification_algorithm; /* "https"; NULL (empty) = no host check */
    int32_t gregor_ssl_reload_interval_ms;       /* 5000; 0 = never re-read the files */

    /* derived by config_load(): never set directly */
    struct config_listener listener[CONFIG_MAX_LISTENERS];
    int n_listeners;
    struct config_listener advertised[CONFIG_MAX_LISTENERS]; /* same order/names as listener[] */
    int n_advertised;
    int inter_broker_listener; /* index into listener[] */
    /* max.connections.per.ip.overrides, parsed: host as written (an
     * address or a name resolved at start) and its limit */
    struct config_ip_override {
        char host[256];
        int32_t count;
    } ip_override[CONFIG_MAX_IP_OVERRIDES];
    int n_ip_overrides;
    /* listener.name.<name>.<key> settings, in the order set; a later
     * setting of the same key replaced the earlier one */
    struct config_listener_kv {
        char *key; /* the whole key, listener name lower-cased */
        char *value;
    } listener_kv[CONFIG_MAX_LISTENER_KV];
    int n_listener_kv;

    /* transactions: transaction_max_timeout_ms bounds InitProducerId
     * (broker/kafka/init_producer_id.c); the transaction.state.log.* settings shape
     * `__transaction_state` (broker/core/admin.c, admin_create_txn_topic_async());
     * the coordinator (broker/core/txn_coord.c) aborts timed-out transactions every
     * txn_abort_interval_ms (transaction.abort.timed.out.transaction.cleanup.interval.ms) and
     * removes ids idle longer than transactional_id_expiration_ms every txn_remove_interval_ms
     * (transaction.remove.expired.transaction.cleanup.interval.ms) */
    int16_t transaction_state_log_replication_factor; /* 3 */
    int32_t transaction_state_log_min_isr;            /* 2 */
    int32_t transaction_state_log_num_partitions;     /* 50 */
    int32_t transaction_state_log_segment_bytes;      /* 104857600 */
    int32_t transaction_max_timeout_ms;               /* 900000 */
    int32_t transactional_id_expiration_ms;           /* 604800000 */
    int32_t txn_abort_interval_ms;                    /* 10000 */
    int32_t txn_remove_interval_ms;                   /* 3600000 */
    int64_t producer_id_expiration_ms;                /* 86400000: idle producers' state dropped */

    /* authorization (broker/security/acl.h) */
    char *authorizer_class_name;         /* NULL = no authorization */
    char *super_users;                   /* NULL; "User:a;User:b" allowed everything */
    bool allow_everyone_if_no_acl_found; /* false */

    /* committed offsets in __consumer_offsets (broker/core/group_runtime.c) */
    int32_t offsets_topic_segment_bytes;         /* 104857600 */
    int32_t offsets_retention_minutes;           /* 10080 */
    int64_t offsets_retention_check_interval_ms; /* 600000 */
    int32_t offsets_commit_timeout_ms;           /* 5000 */
    int32_t offsets_load_buffer_size;            /* 5242880: bytes read per loading step */
    int32_t offset_metadata_max_bytes;           /* 4096 */
    int32_t group_max_size;                      /* INT32_MAX */

    /* replication: follower fetchers and the high-watermark checkpoint */
    int32_t replica_fetch_max_bytes;                       /* 1048576 */
    int32_t replica_fetch_min_bytes;                       /* 1 */
    int32_t replica_fetch_wait_max_ms;                     /* 500, <= replica.lag.time.max.ms */
    int32_t replica_fetch_response_max_bytes;              /* 10485760 */
    int32_t replica_socket_timeout_ms;                     /* 30000 */
    int64_t leader_replication_throttled_rate;             /* bytes/s; INT64_MAX = unlimited */
    int64_t follower_replication_throttled_rate;           /* bytes/s; INT64_MAX = unlimited */
    int32_t replication_quota_window_num;                  /* 11 samples */
    int32_t replication_quota_window_size_seconds;         /* 1 */
    int32_t quota_window_num;                              /* 11 samples (client quotas) */
    int32_t quota_window_size_seconds;                     /* 1 */
    int64_t replica_high_watermark_checkpoint_interval_ms; /* 5000 */
    int32_t leader_imbalance_per_broker_percentage;        /* 10 */
    int32_t controlled_shutdown_max_retries;               /* 3 */
    int64_t controlled_shutdown_retry_backoff_ms;          /* 5000 */

    /* identity and coordination */
    bool broker_id_generation_enable;         /* true; false forbids broker.id=-1 */
    int32_t reserved_broker_max_id;           /* 1000; broker.id <= this */
    int32_t zookeeper_max_in_flight_requests; /* 10 */

    /* network */
    int32_t max_connections;                /* INT32_MAX */
    int32_t max_connections_per_ip;         /* INT32_MAX */
    char *max_connections_per_ip_overrides; /* NULL; "host:count,..." */
    int64_t queued_max_request_bytes;       /* 268435456; -1 = no limit */
    int64_t gregor_request_read_timeout_ms; /* 60000; -1 = none */
    int32_t fetch_max_bytes;                /* 57671680 (broker cap on a Fetch response) */

    /* logs */
    int64_t log_segment_delete_delay_ms;             /* 60000 */
    bool log_cleaner_enable;                         /* true */
    int32_t log_cleaner_threads;                     /* 1 */
    int64_t log_cleaner_delete_retention_ms;         /* 86400000 */
    int64_t log_cleaner_dedupe_buffer_size;          /* 134217728, split among the threads */
    char *log_cleaner_io_max_bytes_per_second;       /* a double; "1.7976931348623157E308" */
    int64_t log_cleaner_backoff_ms;                  /* 15000 */
    char *log_cleaner_min_cleanable_ratio;           /* a double in [0, 1]; "0.5" */
    int64_t log_cleaner_min_compaction_lag_ms;       /* 0 */
    int64_t log_cleaner_max_compaction_lag_ms;       /* INT64_MAX */
    bool log_preallocate;                            /* false */
    int64_t log_message_timestamp_difference_max_ms; /* INT64_MAX */
    char *compression_type; /* "producer" | uncompressed|gzip|snappy|lz4|zstd */

    /* SASL (broker/security/sasl_server.c; docs/security.md) */
    char *sasl_enabled_mechanisms;              /* "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512" */
    char *sasl_jaas_config;                     /* NULL; PLAIN accounts, the broker's own login */
    char *sasl_mechanism_inter_broker_protocol; /* "PLAIN" */
    int64_t connections_max_reauth_ms;          /* 0 = no re-authentication */
    int32_t sasl_server_max_receive_size;       /* 524288: frames before authentication */
    int64_t gregor_sasl_authentication_timeout_ms; /* 10000: time to authenticate */

    /* derived by config_load(): never set directly */
    char *data_dir;                            /* first entry of log.dirs, else log.dir */
    unsigned char key_source[CONFIG_MAX_KEYS]; /* enum config_source per key index */
};

/* Where a key's value came from (DescribeConfigs reports it). */
enum config_source {
    CONFIG_SOURCE_DEFAULT = 0,  /* Kafka's default */
    CONFIG_SOURCE_FILE = 1,     /* server.properties */
    CONFIG_SOURCE_ENV = 2,      /* GREGOR_* environment variable */
    CONFIG_SOURCE_OVERRIDE = 3, /* --override key=value */
    CONFIG_SOURCE_DYNAMIC = 4,  /* a dynamic override from ZooKeeper (config_copy_with()) */
};

/*
 * Fills cfg with defaults, then applies the file at path (NULL = none),
 * GREGOR_* variables from envp (NULL = none) and the "key=value" strings of
 * overrides[0..n_overrides). Validates every value and derives listener[]
 * and advertised[]. Returns 0, or -1 with a one-line reason naming the key
 * in err (size errlen). cfg's strings are owned by cfg: config_free().
 * On failure cfg is left zeroed with nothing to free (config_free() on it
 * is harmless). The error names the source: "PATH: ... (line N)",
 * "... (environment variable GREGOR_X)" or "... (override 'k=v')".
 * GREGOR_* variables that name no key are ignored.
 */
int config_load(struct broker_config *cfg, const char *path, char **envp, char *const *overrides,
                int n_overrides, char *err, size_t errlen);
void config_free(struct broker_config *cfg);

/* Effective retention in ms (log.retention.ms > minutes > hours); -1 = forever. */
int64_t config_retention_ms(const struct broker_config *cfg);
/* Effective roll time in ms (log.roll.ms > log.roll.hours). */
int64_t config_roll_ms(const struct broker_config *cfg);
/* The data directory (first of log.dirs, else log.dir). */
const char *config_data_dir(const struct broker_config *cfg);
/* The value of key for listener `name`: listener.name.<name lower-cased>.<key>
 * if set, else the broker-wide key when it is a string key of the table.
 * key is a key of the table or a mechanism's JAAS text
 * ("plain.sasl.jaas.config", which has no broker-wide form). NULL when
 * neither is set. Borrowed from cfg. */
const char *config_listener_value(const struct broker_config *cfg, const char *name,
                                  const char *key);
/* Whether key holds a secret (ssl.key.password): DescribeConfigs reports it
 * as sensitive, without its value, as Kafka does. */
bool config_key_is_sensitive(const char *key);
/* Whether the security protocol of a listener runs over TLS (SSL, SASL_SSL). */
bool config_protocol_is_tls(const char *protocol);

/* Effective flush interval in ms (log.flush.interval.ms if set, else
 * log.flush.scheduler.interval.ms); INT64_MAX = never. */
int64_t config_flush_interval_ms(const struct broker_config *cfg);

/*
 * The key table, for DescribeConfigs and diagnostics. Keys are numbered
 * 0..config_key_count()-1 in a fixed order. Thread-safe (read-only).
 */
int config_key_count(void);
/* Returns borrowed (static) the key's name, or NULL if idx is out of range. */
const char *config_key_name(int idx);
/* Returns the index of the key called name, or -1 if it is not a key. */
int config_key_find(const char *name);
/* Where the key's current value came from. */
enum config_source config_key_source(const struct broker_config *cfg, int idx);
/* Writes the key's current value as text into buf (size len, truncated if
 * needed). Returns false (buf = "") if the value is null (an unset optional
 * string such as broker.rack) or idx is out of range. */
bool config_key_value(const struct broker_config *cfg, int idx, char *buf, size_t len);

/* Checks value for key idx as config_load() would (type, range, string
 * check), without keeping it. false with the reason in why. Thread-safe. */
bool config_key_check(int idx, const char *value, char *why, size_t whylen);
/*
 * Fills out with a deep copy of base, then sets the "key=value" pairs
 * kv[0..2n) over it in order (later pairs win), marking their source
 * CONFIG_SOURCE_DYNAMIC. A pair that names no key or does not parse is
 * skipped (callers validate first). Returns false on out of memory (out
 * zeroed). Free out with config_free(). Thread-safe (base is read only).
 */
bool config_copy_with(const struct broker_config *base, char *const *kv, int n,
                      struct broker_config *out);

#endif
