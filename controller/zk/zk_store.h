/*
 * controller/zk/zk_store.h — Gregor's coordination state in ZooKeeper
 * (docs/architecture.md §3): cluster id, broker registrations, topics and their
 * partition states, the controller election and its epoch.
 *
 * zk_store.c (and zk_store_batch.c, for many partition states at once,
 * zk_store_config.c, zk_store_sync.c, zk_store_reassign.c, zk_store_pid.c,
 * zk_store_acl.c, zk_store_users.c, zk_store_quotas.c, zk_store_controller.c)
 * are the only files that include <zookeeper/zookeeper.h>;
 * every znode path and payload (proto/zk.proto) is known there and nowhere
 * else.
 *
 * The API is synchronous: each call sends its request(s) and waits for the
 * answer (the *_many calls pipeline many requests and wait for all). Call it
 * at start-up or from a dedicated thread (the controller's), never from a
 * network event loop. Calls on one store are serialised by an
 * internal mutex, so several threads may share a store, but a call blocks for
 * as long as ZooKeeper takes (bounded by the session timeout).
 *
 * Threads: the ZooKeeper library runs its own I/O and completion threads.
 * The session and watch callbacks registered here run on the completion
 * thread: they must only post the event to the owner's loop and return.
 * They must not call any zk_store_* function (that would deadlock).
 *
 * Errors: KERR_NONE on success; KERR__NOENT for a missing node; KERR__EXISTS
 * for "already exists" and for a version conflict on a conditional write (the
 * caller re-reads and retries); Kafka codes where a handler can put them on
 * the wire as is (KERR_TOPIC_ALREADY_EXISTS, KERR_UNKNOWN_TOPIC_OR_PARTITION,
 * KERR_INVALID_TOPIC_EXCEPTION, KERR_NOT_CONTROLLER); KERR__CORRUPT for a
 * payload that does not decode or does not fit our limits; KERR__INVALID for
 * bad arguments; KERR__ZK for anything else from ZooKeeper (connection loss,
 * expired session; logged with ZooKeeper's own error text).
 *
 * Versions: every read of a persistent znode returns its ZooKeeper version,
 * and every write of one is conditional on the version that was read
 * (ZK_VERSION_NEW means "create; it must not exist yet"). There are no
 * unconditional overwrites.
 */
#ifndef GREGOR_CONTROLLER_ZK_ZK_STORE_H
#define GREGOR_CONTROLLER_ZK_ZK_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/names.h"

struct zk_store;

/* Paths the watch functions accept (relative to the connect string's chroot). */
#define ZK_PATH_BROKER_IDS "/brokers/ids"
#define ZK_PATH_TOPICS "/brokers/topics"
#define ZK_PATH_DELETE_TOPICS "/admin/delete_topics"
#define ZK_PATH_REASSIGN "/admin/reassign_partitions"
#define ZK_PATH_CONTROLLER "/controller"
#define ZK_PATH_CONTROLLER_EPOCH "/controller_epoch"

#define ZK_VERSION_NEW (-1) /* a version meaning "the znode does not exist yet" */
#define ZK_MAX_ENDPOINTS 8
#define ZK_MAX_ISR 16
#define ZK_NO_REPLICA (-1) /* pads a short row of zk_topic.replicas */

/* ---- session ------------------------------------------------------------ */

enum zk_session_event {
    ZK_SESSION_CONNECTED = 1, /* connected (again); the session is alive */
    ZK_SESSION_DISCONNECTED,  /* connection lost; the library reconnects by itself and
                                 the session (and its ephemerals) may still be alive */
    ZK_SESSION_EXPIRED,       /* the session is gone with its ephemerals and watches:
                                 call zk_store_reconnect() and register again */
    ZK_SESSION_AUTH_FAILED,   /* unrecoverable too: reconnect or give up */
};

/* Called on the ZooKeeper completion thread: it must only post and return. */
typedef void (*zk_session_cb)(void *arg, enum zk_session_event event);

/* Connects to `connect` ("host:port[,host:port...][/chroot]"; a missing
 * chroot path is created) and waits until the session is established, at
 * most session_timeout_ms. Routes ZooKeeper's log lines to say_*("zk") at
 * warn level. Returns new (free with zk_store_close()), or NULL with the
 * reason in err. Any thread except ZooKeeper's. */
struct zk_store *zk_store_open(const char *connect, int session_timeout_ms, char *err,
                               size_t errlen);

/* Who the store is to ZooKeeper (controller/zk/zk_store_auth.c). */
struct zk_store_auth {
    const char *digest; /* "user:password" (scheme digest) presented on every session, or NULL */
    bool set_acl;       /* zookeeper.set.acl: znodes this store creates are changeable only
                           by sessions with the same credentials (needs digest) */
};

/* zk_store_open() presenting auth's credentials and creating znodes with its
 * ACLs. auth NULL is zk_store_open(). */
struct zk_store *zk_store_open_auth(const char *connect, int session_timeout_ms,
                                    const struct zk_store_auth *auth, char *err, size_t errlen);

/* Closes the session at once (its ephemeral znodes vanish now, not after the
 * timeout) and frees zs. NULL is a no-op. Never from a zk callback. */
void zk_store_close(struct zk_store *zs);

/* Sets (or clears with NULL) the session event callback. */
void zk_store_set_session_cb(struct zk_store *zs, zk_session_cb cb, void *arg);

/* Drops the current session (if any) and opens a new one on the same
 * connect string, waiting like zk_store_open(). Use after ZK_SESSION_EXPIRED.
 * Ephemerals and watches of the old session are gone: register and re-arm
 * them. The controller fence is kept (a controller that lost its session
 * stays fenced until it wins an election again or resigns). Returns
 * KERR_NONE or KERR__ZK. */
kerr_t zk_store_reconnect(struct zk_store *zs);

/* How long the session has not been connected, in ms: 0 while connected,
 * >= 1 while disconnected, expired or being replaced (zk_store_reconnect()).
 * Any thread. */
int64_t zk_store_down_ms(struct zk_store *zs);

/* Milliseconds since the ZooKeeper server last answered (a connect, or the
 * store's heartbeat: an exists("/") every third of the session timeout on
 * a thread of its own). It grows even when the client library has not yet
 * noticed that the connection is gone. Any thread. */
int64_t zk_store_silent_ms(struct zk_store *zs);

/* Current session id (0 if none), for logs. */
int64_t zk_store_session_id(struct zk_store *zs);

/* TEST ONLY: makes the server expire this store's session (by opening and
 * closing a second handle on the same session id), as happens when a broker
 * is cut off longer than the session timeout. The session callback then gets
 * ZK_SESSION_EXPIRED once the library notices. */
kerr_t zk_store_expire_session_for_test(struct zk_store *zs);

/* ---- cluster ------------------------------------------------------------ */

/* Creates the persistent parents if missing: /brokers/ids, /brokers/topics,
 * /config/topics, /admin/delete_topics, /cluster, and the ACL roots and
 * their change lists (zk_store_acl.c). Idempotent. */
kerr_t zk_store_ensure_paths(struct zk_store *zs);

/* Reads /cluster/id, or creates it once (a random 22-char base64url UUID);
 * when several brokers race, all read back the winner's id. `n` >= 23. */
kerr_t zk_store_cluster_id(struct zk_store *zs, char *id, size_t n);

/* ---- brokers ------------------------------------------------------------ */

struct zk_endpoint {
    char listener[32]; /* listener name, "PLAINTEXT" */
    char host[256];
    int32_t port;
    char protocol[32]; /* security protocol, "PLAINTEXT" */
};

/* A broker registration: the payload of /brokers/ids/<id>. Plain value. */
struct zk_broker_reg {
    int32_t id;
    char rack[64];         /* "" if none */
    char directory_id[64]; /* identity of the broker's log dir (under its flock) */
    char hostname[256];    /* for operators' messages */
    int32_t pid;
    int64_t start_time_ms;
    char version[32]; /* Gregor version */
    int n_endpoints;
    struct zk_endpoint ep[ZK_MAX_ENDPOINTS];
    int64_t epoch; /* out only: czxid of the znode (the broker epoch) */
};

/* Registers the ephemeral /brokers/ids/<reg->id>. If that node exists:
 *  - with our directory_id (non-empty): it is our own stale registration
 *    (we hold the directory's flock, so its writer is dead, e.g. SIGKILLed
 *    before its session expired): it is deleted, conditional on its version,
 *    and ours created;
 *  - otherwise KERR__EXISTS with a message in err naming the other
 *    registration (host, port, pid, hostname): a second live broker with
 *    the same id.
 * *broker_epoch = czxid of the created znode. err may be NULL. */
kerr_t zk_store_register_broker(struct zk_store *zs, const struct zk_broker_reg *reg,
                                int64_t *broker_epoch, char *err, size_t errlen);

/* Lists the live brokers, sorted by id, with `epoch` filled. Returns new
 * *regs (free() it; NULL when *n == 0). */
kerr_t zk_store_list_brokers(struct zk_store *zs, struct zk_broker_reg **regs, int *n);

/* ---- topics ------------------------------------------------------------- */

/* A topic: assignment (/brokers/topics/<name>) plus its config overrides
 * (/config/topics/<name>). When filled by zk_store_topic_get() the arrays are
 * owned by the struct: release them with zk_topic_destroy(). When passed to
 * create/set they are borrowed. */
struct zk_topic {
    char name[TOPIC_NAME_MAX_LEN + 1];
    int n_partitions;
    int replication_factor;
    int32_t *replicas; /* n_partitions * replication_factor, row-major;
                                       row p = replicas of partition p, preferred first;
                                       replication_factor is the longest row, shorter
                                       rows end in ZK_NO_REPLICA (-1) */
    /* A reassignment in progress (KIP-455), rows laid out as replicas and
     * padded the same way; NULL when no partition of the topic has one.
     * Row p of adding = target - original, of removing = original - target. */
    int32_t *adding;
    int32_t *removing;
    int n_configs;
    char (*config_keys)[128];
    char (*config_values)[256];
    int32_t assignment_version; /* ZooKeeper version of the assignment as read */
    int32_t config_version;     /* same for the config; ZK_VERSION_NEW if none */
};

/* Creates the topic's assignment and config znodes in one transaction.
 * KERR_TOPIC_ALREADY_EXISTS if the topic exists (also while it is being
 * deleted), KERR_INVALID_TOPIC_EXCEPTION for an illegal name, KERR__INVALID
 * for inconsistent sizes. Borrows t. Partition states are written later by
 * the controller (zk_store_partition_state_set()). */
kerr_t zk_store_topic_create(struct zk_store *zs, const struct zk_topic *t);

/* Fills *t (zeroed first) with the topic's assignment, configs and their
 * versions. KERR_UNKNOWN_TOPIC_OR_PARTITION if there is no such topic. On
 * error *t owns nothing. Release with zk_topic_destroy(). */
kerr_t zk_store_topic_get(struct zk_store *zs, const char *name, struct zk_topic *t);

/* Replaces the assignment (e.g. more partitions), conditional on
 * t->assignment_version; KERR__EXISTS on a conflict. Fenced (see
 * zk_store_controller_elect()). */
kerr_t zk_store_topic_assignment_set(struct zk_store *zs, const struct zk_topic *t);

/* Replaces the config overrides, conditional on t->config_version
 * (ZK_VERSION_NEW: create); KERR__EXISTS on a conflict. */
kerr_t zk_store_topic_config_set(struct zk_store *zs, const struct zk_topic *t);

/* Lists topic names, sorted. Returns new *names: free with zk_names_free(). */
kerr_t zk_store_topic_list(struct zk_store *zs, char ***names, int *n);

/* Deletes every znode of the topic: /brokers/topics/<name> and all below it,
 * /config/topics/<name>, /admin/delete_topics/<name>. Idempotent for the
 * parts already gone; KERR_UNKNOWN_TOPIC_OR_PARTITION if none existed. */
kerr_t zk_store_topic_delete(struct zk_store *zs, const char *name);

/* Requests deletion: creates /admin/delete_topics/<name> (ok if present);
 * the controller watches ZK_PATH_DELETE_TOPICS and calls
 * zk_store_topic_delete(). KERR_UNKNOWN_TOPIC_OR_PARTITION if no topic. */
kerr_t zk_store_topic_mark_deleted(struct zk_store *zs, const char *name);

/* Lists pending deletion requests, like zk_store_topic_list(). */
kerr_t zk_store_delete_requests_list(struct zk_store *zs, char ***names, int *n);

/* Frees what zk_store_topic_get() filled; the struct itself is the caller's.
 * Safe on a zeroed struct and twice in a row. */
void zk_topic_destroy(struct zk_topic *t);

/* Frees a names array from the list functions. NULL ok. */
void zk_names_free(char **names, int n);

/* ---- partition state ---------------------------------------------------- */

/* The payload of /brokers/topics/<t>/partitions/<p>/state. Plain value. */
struct zk_partition_state {
    int32_t leader; /* -1: offline */
    int32_t leader_epoch;
    int32_t controller_epoch;
    int n_isr;
    int32_t isr[ZK_MAX_ISR];
    int32_t version; /* ZooKeeper version as read; ZK_VERSION_NEW to create */
    int64_t mzxid;   /* zxid of its last write, as read (0: not read) */
};

/* Reads a partition's state. KERR__NOENT if it has none yet (or no topic). */
kerr_t zk_store_partition_state_get(struct zk_store *zs, const char *topic, int p,
                                    struct zk_partition_state *st);

/* Writes a partition's state: creates it when st->version == ZK_VERSION_NEW
 * (with its parent znodes), otherwise sets it conditional on st->version.
 * On success st->version is the new version. KERR__EXISTS: the state changed
 * (or was created) since it was read — re-read and decide again;
 * KERR_UNKNOWN_TOPIC_OR_PARTITION: the topic is gone; KERR_NOT_CONTROLLER:
 * fenced (another controller was elected since ours). */
kerr_t zk_store_partition_state_set(struct zk_store *zs, const char *topic, int p,
                                    struct zk_partition_state *st);

/* ---- partition state, many at once ------------------------------------- */

/* The same as zk_store_partition_state_set() for each i < n (topics[i],
 * parts[i], states[i]; all borrowed), but pipelined: hundreds of requests
 * are in flight at once, so a batch costs about one ZooKeeper round trip
 * (and log fsync) per few hundred partitions instead of one per partition.
 * Each write is independent (its own multi of the controller-epoch check and
 * the conditional create/set): a conflict on one leaves the others written.
 * results[i] is what the single call would return for i, and states[i].version
 * is updated where results[i] == KERR_NONE; every state refused by the fence
 * gets KERR_NOT_CONTROLLER. Returns KERR_NONE when the batch was sent (look
 * at results), KERR__INVALID for bad arrays, KERR__NOMEM, or KERR__ZK when
 * there is no session (then every results[i] of a valid state says so). */
kerr_t zk_store_partition_states_set_many(struct zk_store *zs, int n, const char *const *topics,
                                          const int *parts, struct zk_partition_state *states,
                                          kerr_t *results);

/* The same as zk_store_partition_state_get() for each i < n, pipelined:
 * results[i] is KERR_NONE (states[i] filled with its version), KERR__NOENT
 * (no state yet, or no topic), KERR__CORRUPT, KERR__INVALID (bad name or
 * partition) or KERR__ZK. Returns like zk_store_partition_states_set_many(). */
kerr_t zk_store_partition_states_get_many(struct zk_store *zs, int n, const char *const *topics,
                                          const int *parts, struct zk_partition_state *states,
                                          kerr_t *results);

/* ---- controller --------------------------------------------------------- */

/* Tries to become the active controller: in one transaction, creates the
 * ephemeral /controller = {broker_id} and increments /controller_epoch
 * conditionally on the version read. On success (KERR_NONE) *epoch is the
 * new controller epoch and the store is *fenced*: from now on its partition
 * state and assignment writes also check that /controller_epoch is still at
 * the version we wrote, and fail with KERR_NOT_CONTROLLER once another
 * controller has been elected (a zombie controller cannot write).
 * KERR__EXISTS if another broker is controller: *controller_id = its id.
 * A /controller left by a dead incarnation of this broker (the session
 * whose registration zk_store_register_broker() replaced) is deleted and
 * the election retried. */
kerr_t zk_store_controller_elect(struct zk_store *zs, int32_t broker_id, int32_t *controller_id,
                                 int32_t *epoch);

/* Reads /controller. KERR__NOENT when there is no active controller. */
kerr_t zk_store_controller_get(struct zk_store *zs, int32_t *controller_id);

/* Reads /controller_epoch (0 if never written). */
kerr_t zk_store_controller_epoch_get(struct zk_store *zs, int32_t *epoch);

/* ZooKeeper's sync: the server this session talks to catches up with the
 * ensemble's leader for path, so that the reads that follow see every
 * write committed before the call (a plain read may lag behind another
 * client's write). Use before a read that must not miss such a write. */
kerr_t zk_store_sync(struct zk_store *zs, const char *path);

/* Deletes /controller if this session owns it, and clears the fence. */
kerr_t zk_store_controller_resign(struct zk_store *zs);

/* ---- config change notifications (Kafka's /config/changes) -------------- */

#define ZK_PATH_CONFIG_CHANGES "/config/changes"
/* Notifications kept; the writer deletes older ones. A reader whose last
 * seen sequence number is older than the oldest kept re-reads everything. */
#define ZK_CONFIG_CHANGES_KEEP 100

#define ZK_CONFIG_ENTITY_MAX 736 /* a 240-byte user name, every byte %XX, and more */
struct zk_config_change {
    int64_t seq;          /* from the znode name */
    char entity_type[16]; /* "topics", "brokers", "users" or "clients" */
    /* users and clients: the rest of Kafka's entity path with each name as
     * it is in the znode path (zk_entity_name_encode()): "alice",
     * "alice%40corp/clients/app", "<default>" */
    char entity_name[ZK_CONFIG_ENTITY_MAX];
};

/* A user name or client id as it appears in a /config/users or
 * /config/clients path, as Kafka's Sanitizer writes it: letters, digits,
 * '.', '_' and '-' stay, every other byte is %XX; "<default>" stays as it
 * is. false if out (size n) is short or the name empty, "." or "..". */
bool zk_entity_name_encode(const char *name, char *out, size_t n);
/* The reverse; false on a malformed %XX or a short out. */
bool zk_entity_name_decode(const char *enc, char *out, size_t n);

/* Tells every broker that /config/<entity_type>/<entity_name> changed:
 * creates the next sequential /config/changes/config_change_<seq>, then
 * deletes notifications beyond the newest ZK_CONFIG_CHANGES_KEEP. */
kerr_t zk_store_config_change_notify(struct zk_store *zs, const char *entity_type,
                                     const char *entity_name);

/* Reads the notifications with seq > after, in order: *out (new, free();
 * unreadable ones skipped) and *n; *oldest / *newest: the smallest /
 * largest seq present (-1 when there are none). */
kerr_t zk_store_config_changes_since(struct zk_store *zs, int64_t after,
                                     struct zk_config_change **out, int *n, int64_t *oldest,
                                     int64_t *newest);

/* ---- users (Kafka's /config/users: SCRAM credentials) ------------------ */

/* /config/users/<user>: Kafka's JSON {"version":1,"config":{"<key>":"<value>",...}}
 * (not protobuf, so the znode stays Kafka's), e.g. key "SCRAM-SHA-256" with
 * value "salt=...,stored_key=...,server_key=...,iterations=4096"
 * (broker/security/scram.h). <user> is the name percent-encoded as Kafka's
 * Sanitizer does (letters, digits, '.', '_', '-' stay; other bytes %XX).
 * Change notifications name entity type "users" and the user. */
#define ZK_PATH_CONFIG_USERS "/config/users"
#define ZK_USER_NAME_MAX 240
#define ZK_USER_CONFIG_MAX 16

struct zk_user_config {
    char name[ZK_USER_NAME_MAX]; /* the user, decoded */
    int n;
    char key[ZK_USER_CONFIG_MAX][64];
    char value[ZK_USER_CONFIG_MAX][512];
    int32_t version; /* ZooKeeper version as read; ZK_VERSION_NEW: no znode */
};

/* Fills *c (n = 0, version ZK_VERSION_NEW when the user has no znode).
 * KERR__INVALID for an empty or long name, KERR__CORRUPT for bad JSON. */
kerr_t zk_store_user_config_get(struct zk_store *zs, const char *user, struct zk_user_config *c);
/* Writes c->name's config conditional on c->version (ZK_VERSION_NEW:
 * create); n == 0 deletes the znode. KERR__EXISTS on a conflict. */
kerr_t zk_store_user_config_set(struct zk_store *zs, const struct zk_user_config *c);
/* Lists the users with a znode, decoded, sorted (free: zk_names_free()). */
kerr_t zk_store_users_list(struct zk_store *zs, char ***names, int *n);
/* The JSON codec of a user's znode (tests): encode returns the length or
 * -1 if cap is short; decode fills key/value/n of c. */
int zk_user_config_encode(const struct zk_user_config *c, char *buf, size_t cap);
bool zk_user_config_decode(const char *json, size_t len, struct zk_user_config *c);

/* ---- dynamic broker configs (Kafka's /config/brokers) ------------------ */

/* /config/brokers/<entity>: entity = a broker id in decimal, or
 * ZK_BROKER_CONFIG_DEFAULT for the cluster-wide default. The payload is a
 * TopicConfig (the same key/value map as /config/topics); change
 * notifications name entity type "brokers". */
#define ZK_PATH_CONFIG_BROKERS "/config/brokers"
#define ZK_BROKER_CONFIG_DEFAULT "<default>"

/* Fills *t (zeroed first; t->name = entity) with the entity's overrides and
 * config_version; no znode: no overrides, config_version ZK_VERSION_NEW.
 * Release with zk_topic_destroy(). KERR__INVALID for a bad entity name. */
kerr_t zk_store_broker_config_get(struct zk_store *zs, const char *entity, struct zk_topic *t);
/* Replaces the entity t->name's overrides, conditional on t->config_version
 * (ZK_VERSION_NEW: create); KERR__EXISTS on a conflict. Borrows t. */
kerr_t zk_store_broker_config_set(struct zk_store *zs, const struct zk_topic *t);
/* ---- reassignment requests (zk_store_reassign.c) ------------------------ */

/* Reads /admin/reassign_partitions (Kafka's JSON, not checked here):
 * *json new (free(); NUL-terminated), *len, *version. KERR__NOENT when
 * there is none. */
kerr_t zk_store_reassign_request_get(struct zk_store *zs, char **json, size_t *len,
                                     int32_t *version);
/* Deletes it, conditional on version: KERR__EXISTS when it was rewritten
 * since (re-read it), KERR__NOENT when it is gone already. */
kerr_t zk_store_reassign_request_delete(struct zk_store *zs, int32_t version);
/* TEST ONLY: creates it with json, as an operator's tool would. */
kerr_t zk_store_reassign_request_create_for_test(struct zk_store *zs, const char *json);

/* ---- producer id blocks (zk_store_pid.c) -------------------------------- */

/* Kafka's ZooKeeper-mode producer id block: the latest block handed to any
 * broker, JSON {"version":1,"broker":<id>,"block_start":"<n>",
 * "block_end":"<n>"} (the numbers as strings, as Kafka writes them). */
#define ZK_PATH_PRODUCER_ID_BLOCK "/latest_producer_id_block"
#define ZK_PRODUCER_ID_BLOCK_SIZE 1000

struct zk_pid_block {
    int32_t broker;
    int64_t start; /* first id of the block */
    int64_t end;   /* last id of the block (inclusive) */
};

/* Writes b's JSON into buf (NUL-terminated); returns its length, or -1 if
 * it does not fit. */
int zk_pid_block_encode(const struct zk_pid_block *b, char *buf, size_t cap);
/* Parses Kafka's block JSON (len bytes, need not be NUL-terminated).
 * KERR__CORRUPT for anything else: a wrong version, missing or non-numeric
 * fields, negative ids, end < start. */
kerr_t zk_pid_block_decode(const char *json, size_t len, struct zk_pid_block *b);
/* Claims the next block of `size` ids for broker_id: reads the latest
 * block (none or an empty znode: the first block starts at 0), writes the
 * next one conditional on the version read and re-reads on a conflict, so
 * no two claims ever get overlapping blocks. KERR__CORRUPT when the znode
 * holds something else (logged; nothing is written), KERR__INVALID when the
 * 64-bit id space is exhausted, KERR__ZK / KERR__TIMEOUT when ZooKeeper
 * cannot be reached, KERR__EXISTS after too many conflicts. Blocks on
 * ZooKeeper: never on a network loop. */
kerr_t zk_store_claim_pid_block(struct zk_store *zs, int32_t broker_id, int64_t size,
                                struct zk_pid_block *out);

/* ---- ACLs (zk_store_acl.c) ---------------------------------------------- */

/* Kafka's ZooKeeper layout for ACLs: a LITERAL pattern's ACLs in
 * /kafka-acl/<Type>/<name>, a PREFIXED pattern's in
 * /kafka-acl-extended/prefixed/<Type>/<name> (Type as Kafka names it:
 * Topic, Group, Cluster, TransactionalId), the payload Kafka's JSON
 * (broker/security/acl_json.c; not checked here). A change is announced by a
 * persistent sequential /kafka-acl-changes/acl_changes_<seq> (literal; the
 * payload "<Type>:<name>") or /kafka-acl-extended-changes/acl_changes_<seq>
 * (prefixed; {"version":1,"resourceType":..,"name":..,"patternType":..}),
 * one per resource pattern written, as Kafka writes them. */
#define ZK_PATH_ACL "/kafka-acl"
#define ZK_PATH_ACL_EXTENDED "/kafka-acl-extended"
#define ZK_PATH_ACL_CHANGES "/kafka-acl-changes"
#define ZK_PATH_ACL_EXTENDED_CHANGES "/kafka-acl-extended-changes"
#define ZK_ACL_CHANGES_KEEP 100 /* notifications kept; writers delete older ones */
#define ZK_ACL_TRIM_EVERY 25    /* a list is trimmed once per this many notifications */

/* One resource pattern's znode. */
struct zk_acl_node {
    bool prefixed;
    char type[32]; /* "Topic", ... */
    char *name;    /* owned */
    char *json;    /* owned, NUL-terminated */
    size_t len;
};

/* One resource pattern's znode in zk_store_acl_get_many() and
 * zk_store_acl_set_many(). */
struct zk_acl_rec {
    bool prefixed;
    const char *type; /* borrowed: "Topic", ... */
    const char *name; /* borrowed */
    char *json;       /* get_many: new (free()), NUL-terminated, NULL when there is no
                         znode; set_many: borrowed, NULL deletes the znode */
    size_t len;       /* json's length */
    int32_t version;  /* get_many: the znode's version, ZK_VERSION_NEW when there is none;
                         set_many: the version the write is conditional on */
    kerr_t err;       /* the record's outcome */
};

/* Reads the znodes of n resource patterns, pipelined (one round trip per
 * ZooKeeper window, not per record). Per record: json, len, version and err
 * (KERR_NONE, also when there is no znode; KERR__INVALID for a type or name
 * that cannot be a path component; KERR__ZK / KERR__NOMEM). Returns
 * KERR_NONE, or the error that kept every record from being read (no
 * session: KERR__ZK). Blocks on ZooKeeper. */
kerr_t zk_store_acl_get_many(struct zk_store *zs, struct zk_acl_rec *v, int n);
/* Writes the znodes of n resource patterns, pipelined; each record is one
 * multi, independent of the others, of its write conditional on its
 * version (ZK_VERSION_NEW: create, its type's parent created first; json
 * NULL: delete; json NULL on ZK_VERSION_NEW: nothing to do) and of its
 * change notification, so a change is never announced without being made
 * nor made without being announced. Per record err: KERR_NONE;
 * KERR__EXISTS when the znode changed since it was read (another writer:
 * re-read that record and retry); KERR__INVALID; KERR__ZK. A writer whose
 * notification's sequence number is a multiple of ZK_ACL_TRIM_EVERY then
 * trims that change list to its newest ZK_ACL_CHANGES_KEEP. Returns as
 * zk_store_acl_get_many(). Blocks on ZooKeeper. */
kerr_t zk_store_acl_set_many(struct zk_store *zs, struct zk_acl_rec *v, int n);
/* The state of both change lists: their child versions (cversion: every
 * child created or deleted advances it) in one non-negative number, which
 * any later notification or trim changes. KERR__ZK when ZooKeeper cannot be
 * read. */
kerr_t zk_store_acl_changes_version(struct zk_store *zs, int64_t *version);
/* Reads every ACL znode of both layouts (the znodes pipelined): *out new
 * (zk_acl_nodes_free()). */
kerr_t zk_store_acl_list(struct zk_store *zs, struct zk_acl_node **out, int *n);
void zk_acl_nodes_free(struct zk_acl_node *v, int n);

/* ---- watches ------------------------------------------------------------ */

enum zk_watch_event {
    ZK_WATCH_CREATED = 1, /* the watched node was created */
    ZK_WATCH_DELETED,     /* ... was deleted */
    ZK_WATCH_CHANGED,     /* ... its data changed */
    ZK_WATCH_CHILDREN,    /* its set of children changed */
};

/* Called on the ZooKeeper completion thread with the watched path (valid
 * for the call only): copy it, post, return. */
typedef void (*zk_watch_cb)(void *arg, enum zk_watch_event event, const char *path);

/* Every subscriber gets every watch event of this store (the controller
 * and the broker's config watcher share one session); each ignores the
 * paths it did not arm. A watch armed twice on one path fires once. */
#define ZK_WATCHERS_MAX 8
/* false when ZK_WATCHERS_MAX subscribers are registered already. */
bool zk_store_watch_subscribe(struct zk_store *zs, zk_watch_cb cb, void *arg);
/* After it returns no new call starts (one in progress may still run). */
void zk_store_watch_unsubscribe(struct zk_store *zs, zk_watch_cb cb, void *arg);

/* Arms a one-shot watch on the children of `path` (which must exist).
 * Watches fire once: re-arm, then re-read (arming first loses nothing). */
kerr_t zk_store_watch_children(struct zk_store *zs, const char *path);

/* Arms a one-shot watch on the existence/data of `path`; *exists (may be
 * NULL) tells whether it exists now. */
kerr_t zk_store_watch_node(struct zk_store *zs, const char *path, bool *exists);

/* ---- users' and client ids' configs (Kafka's /config/users, /config/clients) */

/* The keys of one entity's znode (zk_store_quotas.c): client quotas and
 * SCRAM credentials share them. */
struct zk_entity_config {
    int n;
    char **keys, **values; /* owned */
};
void zk_entity_config_destroy(struct zk_entity_config *c);
/* "users/<u>", "users/<u>/clients/<c>" or "clients/<c>" with names that
 * are one path component ("<default>" included) of under 120 bytes. */
bool zk_entity_path_ok(const char *entity_path);
/* Reads /config/<entity_path> (no znode: n = 0). */
kerr_t zk_store_entity_config_get(struct zk_store *zs, const char *entity_path,
                                  struct zk_entity_config *c);
/* Sets keys[i] = values[i] (NULL: removes the key) in /config/<entity_path>,
 * keeping every other key, then posts a config change notification
 * ("users" / "clients", the rest of the path). */
kerr_t zk_store_entity_config_update(struct zk_store *zs, const char *entity_path,
                                     const char *const *keys, const char *const *values, int n);
/* Every entity path with a znode (new: zk_names_free()). */
kerr_t zk_store_entity_list(struct zk_store *zs, char ***out, int *n);

#endif
