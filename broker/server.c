/*
 * broker/server.c — start-up and shutdown order of the daemon.
 *
 * Start: log dir (lock, meta.properties) -> ZooKeeper session (paths,
 * cluster id) -> meta.properties written -> topics loaded from ZooKeeper
 * (local logs opened; no leadership yet) -> network and admin workers,
 * metadata cache, replica fetchers -> listeners -> advertised hosts
 * resolved (a warning for each that does not) -> broker registered
 * (ephemeral /brokers/ids/<id>) -> controller candidate started (its own
 * loop) -> main loop. Leadership and metadata arrive from the active
 * controller (LeaderAndIsr, UpdateMetadata).
 * Stop (SIGTERM/SIGINT): controlled shutdown (the controller moves our
 * leaderships away) -> controller stopped -> listeners closed -> fetchers
 * stopped -> ZooKeeper session closed (the registration vanishes at once)
 * -> workers joined -> logs flushed and closed -> clean-shutdown marker ->
 * lock released.
 */
#include "broker/server.h"
#include "broker/core/broker.h"
#include "broker/core/admin.h"
#include "broker/core/advertised.h"
#include "broker/core/acl_store.h"
#include "broker/core/config_watch.h"
#include "broker/core/controller_watch.h"
#include "broker/core/dyncfg.h"
#include "broker/core/quota_load.h"
#include "broker/core/quotas.h"
#include "broker/core/group_runtime.h"
#include "broker/core/txn_runtime.h"
#include "broker/core/producer_ids.h"
#include "broker/core/scram_users.h"
#include "broker/http/http.h"
#include "broker/core/log_manager.h"
#include "broker/core/metadata_cache.h"
#include "broker/net/conn.h"
#include "broker/net/limits.h"
#include "broker/net/listener.h"
#include "broker/net/tls.h"
#include "common/loop/peer_tls.h"
#include "common/loop/sasl_bev.h"
#include "common/loop/worker.h"
#include "broker/storage/fileio.h"
#include "broker/storage/logdir.h"
#include "broker/core/replica_manager.h"
#include "broker/replication/topics.h"
#include "broker/security/sasl_server.h"
#include "controller/controller.h"
#include "controller/zk/zk_store.h"
#include "common/say.h"

#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define GREGOR_VERSION "0.1.0"
#define SERVER_CONTROLLED_SHUTDOWN_MS 8000

/* Creates and locks the log dir and reads meta.properties (if any). */
static int server_open_logdir(struct broker *b, struct logdir_meta *meta)
{
    char err[512];
    if (fileio_mkdir_p(b->data_dir) != KERR_NONE) {
        say_error("storage", "cannot create log dir %s", b->data_dir);
        return -1;
    }
    if (logdir_lock(b->data_dir, &b->logdir_lock_fd, err, sizeof(err)) != KERR_NONE) {
        say_error("storage", "cannot lock log dir %s: %s", b->data_dir, err);
        return -1;
    }
    memset(meta, 0, sizeof(*meta));
    meta->broker_id = -1;
    kerr_t rc = logdir_meta_read(b->data_dir, meta);
    if (rc != KERR_NONE && rc != KERR__NOENT) {
        say_error("storage", "cannot read %s/meta.properties: %s", b->data_dir, kerr_name(rc));
        return -1;
    }
    if (rc == KERR__NOENT) {
        memset(meta, 0, sizeof(*meta));
        meta->broker_id = -1;
    }
    return 0;
}

/* server_start()'s answer for a start no retry can mend (exit status 2). */
#define SERVER_REFUSED 2

/* Resolves broker.id and checks/records the identity in meta.properties.
 * Returns 0, SERVER_REFUSED when no restart can help (no broker.id, a log dir
 * of another broker or cluster), or -1 on an I/O error. */
static int server_check_identity(struct broker *b, struct logdir_meta *meta)
{
    char err[512];
    if (b->cfg->broker_id < 0 && meta->broker_id < 0) {
        say_error("config",
                  "broker.id is not set and %s/meta.properties records none; set "
                  "broker.id (automatic id generation is not supported yet)",
                  b->data_dir);
        return SERVER_REFUSED;
    }
    b->id = b->cfg->broker_id >= 0 ? b->cfg->broker_id : meta->broker_id;
    kerr_t rc = logdir_meta_ensure(b->data_dir, b->id, b->cluster_id, meta, err, sizeof(err));
    if (rc != KERR_NONE) {
        /* Kafka's InconsistentClusterIdException: the log dir belongs to
         * another cluster, or zookeeper.connect names the wrong ensemble or
         * chroot. Either way, joining would mix two clusters' data. */
        say_error("storage", "refusing to start: %s (log.dirs=%s zookeeper.connect=%s)", err,
                  b->data_dir, b->cfg->zookeeper_connect);
        return rc == KERR__INVALID ? SERVER_REFUSED : -1;
    }
    return 0;
}

static int server_connect_zk(struct broker *b)
{
    char err[512];
    const struct broker_config *cfg = b->cfg;
    struct zk_store_auth auth = {.digest = cfg->gregor_zookeeper_auth_digest,
                                 .set_acl = cfg->zookeeper_set_acl};
    b->zk = zk_store_open_auth(cfg->zookeeper_connect, cfg->zookeeper_session_timeout_ms, &auth,
                               err, sizeof(err));
    if (!b->zk) {
        say_error("zk", "cannot connect to ZooKeeper connect=%s reason=\"%s\"",
                  cfg->zookeeper_connect, err);
        return -1;
    }
    if (zk_store_ensure_paths(b->zk) != KERR_NONE ||
        zk_store_cluster_id(b->zk, b->cluster_id, sizeof(b->cluster_id)) != KERR_NONE) {
        say_error("zk", "cannot initialise ZooKeeper paths or cluster id");
        return -1;
    }
    return 0;
}

static kerr_t server_register(struct broker *b, const struct logdir_meta *meta)
{
    const struct broker_config *cfg = b->cfg;
    struct zk_broker_reg reg = {.id = b->id, .pid = (int32_t)getpid()};
    snprintf(reg.rack, sizeof(reg.rack), "%s", cfg->broker_rack ? cfg->broker_rack : "");
    snprintf(reg.directory_id, sizeof(reg.directory_id), "%s", meta->directory_id);
    gethostname(reg.hostname, sizeof(reg.hostname) - 1);
    snprintf(reg.version, sizeof(reg.version), "%s", GREGOR_VERSION);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    reg.start_time_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    reg.n_endpoints = MIN(cfg->n_advertised, ZK_MAX_ENDPOINTS);
    for (int i = 0; i < reg.n_endpoints; i++) {
        const struct config_listener *a = &cfg->advertised[i];
        snprintf(reg.ep[i].listener, sizeof(reg.ep[i].listener), "%s", a->name);
        snprintf(reg.ep[i].host, sizeof(reg.ep[i].host), "%s", a->host);
        int port = a->port ? a->port : listeners_port(b->listeners, cfg->listener[i].name);
        reg.ep[i].port = port;
        snprintf(reg.ep[i].protocol, sizeof(reg.ep[i].protocol), "%s", a->protocol);
    }
    char err[512] = "";
    int64_t epoch = 0;
    kerr_t rc = zk_store_register_broker(b->zk, &reg, &epoch, err, sizeof(err));
    if (rc == KERR_NONE) /* the admin worker may be reading it (replica_manager.c fence()) */
        __atomic_store_n(&b->broker_epoch, epoch, __ATOMIC_RELEASE);
    else
        say_error("zk", "cannot register broker.id=%d: %s", b->id, err);
    return rc;
}

static int server_start_workers(struct broker *b)
{
    b->n_net = b->cfg->num_network_threads;
    b->net = calloc((size_t)b->n_net, sizeof(*b->net));
    if (!b->net)
        return -1;
    for (int i = 0; i < b->n_net; i++) {
        char name[32];
        snprintf(name, sizeof(name), "net-%d", i);
        if (!(b->net[i] = worker_new(name)))
            return -1;
    }
    /* created only when produce offload is on: idle threads cost nothing,
     * but a broker that never offloads needs none */
    if (b->cfg->gregor_produce_offload_bytes >= 0) {
        b->io = calloc((size_t)b->cfg->num_io_threads, sizeof(*b->io));
        if (!b->io)
            return -1;
        for (int i = 0; i < b->cfg->num_io_threads; i++) {
            char name[32];
            snprintf(name, sizeof(name), "io-%d", i);
            if (!(b->io[i] = worker_new(name)))
                return -1;
            b->n_io = i + 1;
        }
    }
    b->admin = worker_new("admin");
    b->ctrl_worker = worker_new("ctrl");
    return b->admin && b->ctrl_worker ? 0 : -1;
}

static bool ctrl_post(void *ctx, void (*fn)(void *arg), void *arg)
{
    return worker_post(ctx, fn, arg);
}

static bool ctrl_on_loop(void *ctx) { return worker_is_current(ctx); }

/* Every broker is a controller candidate (docs/architecture.md §1, §4). */
static int server_start_controller(struct broker *b)
{
    const struct broker_config *cfg = b->cfg;
    struct controller_env env = {
        .zk = b->zk,
        .broker_id = b->id,
        .base = worker_base(b->ctrl_worker),
        .post = ctrl_post,
        .post_ctx = b->ctrl_worker,
        .on_loop = ctrl_on_loop,
        .listener = cfg->listener[cfg->inter_broker_listener].name,
        .unclean_leader_election = cfg->unclean_leader_election_enable,
        .auto_leader_rebalance = cfg->auto_leader_rebalance_enable,
        .leader_imbalance_check_ms = cfg->leader_imbalance_check_interval_seconds * 1000,
        .leader_imbalance_pct = cfg->leader_imbalance_per_broker_percentage};
    b->controller = controller_new(&env);
    if (!b->controller)
        return -1;
    controller_start(b->controller);
    return 0;
}

/* The TLS context of listener `name`, from its ssl.* settings; its reload
 * timer runs on base. */
static struct tls_server *server_tls_on(const struct broker_config *cfg, struct event_base *base,
                                        const char *name, char *err, size_t errlen)
{
    struct tls_server_config tc = {
        .listener = name,
        .keystore = config_listener_value(cfg, name, "ssl.keystore.location"),
        .key_password = config_listener_value(cfg, name, "ssl.key.password"),
        .truststore = config_listener_value(cfg, name, "ssl.truststore.location"),
        .client_auth = config_listener_value(cfg, name, "ssl.client.auth"),
        .protocols = config_listener_value(cfg, name, "ssl.enabled.protocols"),
        .ciphers = config_listener_value(cfg, name, "ssl.cipher.suites"),
        .principal_rules = config_listener_value(cfg, name, "ssl.principal.mapping.rules"),
        .reload_ms = cfg->gregor_ssl_reload_interval_ms,
    };
    return tls_server_new(&tc, base, err, errlen);
}

static struct tls_server *server_tls(struct broker *b, const char *name, char *err, size_t errlen)
{
    return server_tls_on(b->cfg, b->main_base, name, err, errlen);
}

/* The listeners' SASL and TLS settings, checked as server_listen() will use
 * them before anything else starts, so that a missing keystore or JAAS text
 * stops the broker at once with its reason rather than after ZooKeeper and
 * the logs are opened. */
static int server_check_listeners(const struct broker_config *cfg)
{
    char err[512], user[256], pw[256];
    const char *mech = NULL;
    if (sasl_configure(cfg, err, sizeof(err)) != 0) {
        say_error("sasl", "%s", err);
        return -1;
    }
    int ib =
        sasl_inter_broker_login(cfg, &mech, user, sizeof(user), pw, sizeof(pw), err, sizeof(err));
    memset(pw, 0, sizeof(pw));
    if (ib < 0) {
        say_error("sasl", "%s", err);
        return -1;
    }
    struct event_base *base = event_base_new();
    if (!base)
        return -1;
    int rc = 0;
    for (int i = 0; i < cfg->n_listeners && rc == 0; i++) {
        const struct config_listener *l = &cfg->listener[i];
        if (!config_protocol_is_tls(l->protocol))
            continue;
        struct tls_server *tls = server_tls_on(cfg, base, l->name, err, sizeof(err));
        if (!tls) {
            say_error("tls", "%s", err);
            rc = -1;
        }
        tls_server_free(tls);
    }
    event_base_free(base);
    return rc;
}

/* When the inter-broker listener runs TLS, the brokers' own connections to
 * each other (fetchers, controller channels, marker senders) do too, with
 * that listener's keystore as client certificate and its truststore. Call
 * before any of them connects. */
static int server_peer_tls(const struct broker_config *cfg)
{
    const struct config_listener *l = &cfg->listener[cfg->inter_broker_listener];
    if (!config_protocol_is_tls(l->protocol))
        return 0;
    struct peer_tls_config pc = {
        .keystore = config_listener_value(cfg, l->name, "ssl.keystore.location"),
        .key_password = config_listener_value(cfg, l->name, "ssl.key.password"),
        .truststore = config_listener_value(cfg, l->name, "ssl.truststore.location"),
        .protocols = config_listener_value(cfg, l->name, "ssl.enabled.protocols"),
        .ciphers = config_listener_value(cfg, l->name, "ssl.cipher.suites"),
        .verify_host =
            config_listener_value(cfg, l->name, "ssl.endpoint.identification.algorithm") != NULL,
    };
    char err[512];
    if (!peer_tls_configure(&pc, err, sizeof(err))) {
        say_error("tls", "inter-broker listener %s: %s", l->name, err);
        return -1;
    }
    say_info("tls", "brokers connect to each other over TLS (listener %s, host name check %s)",
             l->name, pc.verify_host ? "on" : "off");
    return 0;
}

static int server_listen(struct broker *b)
{
    const struct broker_config *cfg = b->cfg;
    char sasl_err[512];
    if (sasl_configure(cfg, sasl_err, sizeof(sasl_err)) != 0) {
        say_error("sasl", "%s", sasl_err);
        return -1;
    }
    /* the broker's own connections log in on a SASL inter-broker listener */
    const char *ib_mech = NULL;
    char ib_user[256], ib_pw[256];
    int ib = sasl_inter_broker_login(cfg, &ib_mech, ib_user, sizeof(ib_user), ib_pw, sizeof(ib_pw),
                                     sasl_err, sizeof(sasl_err));
    if (ib < 0) {
        say_error("sasl", "%s", sasl_err);
        return -1;
    }
    if (ib > 0) {
        sasl_bev_configure(ib_mech, ib_user, ib_pw);
        memset(ib_pw, 0, sizeof(ib_pw));
        say_info("sasl", "inter-broker connections log in as %s with %s", ib_user, ib_mech);
    }
    struct conn_limits lim = {
        .max_request_bytes = cfg->socket_request_max_bytes,
        .idle_ms = cfg->connections_max_idle_ms,
        .sndbuf = cfg->socket_send_buffer_bytes,
        .rcvbuf = cfg->socket_receive_buffer_bytes,
        .sendfile = cfg->gregor_fetch_sendfile,
        .metrics = &b->metrics,
        .read_timeout_ms = cfg->gregor_request_read_timeout_ms,
    };
    snprintf(lim.inter_broker_listener, sizeof(lim.inter_broker_listener), "%s",
             cfg->listener[cfg->inter_broker_listener].name);
    net_limits_configure(&(struct net_limits_config){
        .max_connections = cfg->max_connections,
        .max_per_ip = cfg->max_connections_per_ip,
        .overrides = b->dyn.ip_override, /* the effective ones (dynamic configs) */
        .n_overrides = b->dyn.n_ip_overrides,
        .pool_bytes = cfg->queued_max_request_bytes,
        .live_max_connections = &b->dyn.max_connections,
        .live_max_per_ip = &b->dyn.max_connections_per_ip,
    });
    for (int i = 0; i < cfg->n_listeners; i++) {
        const struct config_listener *l = &cfg->listener[i];
        char err[512];
        struct tls_server *tls = NULL;
        if (config_protocol_is_tls(l->protocol)) {
            tls = server_tls(b, l->name, err, sizeof(err));
            if (!tls) {
                say_error("tls", "%s", err);
                return -1;
            }
        }
        if (listeners_add_tls(&b->listeners, b, b->main_base, b->net, b->n_net, &lim, l->name,
                              l->host, l->port, tls, err, sizeof(err)) != 0) {
            say_error("net", "%s", err);
            return -1;
        }
        say_info("net", "listening listener=%s protocol=%s host=%s port=%d", l->name, l->protocol,
                 l->host[0] ? l->host : "*", listeners_port(b->listeners, l->name));
    }
    return 0;
}

/* --- session expiry: re-register on a new session (admin worker) --- */

static struct logdir_meta server_meta; /* immutable after start-up */

static void session_expired_job(void *arg)
{
    struct broker *b = arg;
    say_warn("zk", "ZooKeeper session expired; opening a new session");
    broker_session_expired(b);
    if (zk_store_reconnect(b->zk) == KERR_NONE)
        server_register(b, &server_meta);
    admin_refresh_brokers(b);
    config_watch_resync(b);
    acl_store_resync(b);
    controller_watch_resync(b);
    if (b->controller)
        controller_session_renewed(b->controller);
}

static void session_cb(void *arg, enum zk_session_event ev)
{
    struct broker *b = arg;
    if (ev == ZK_SESSION_EXPIRED)
        worker_post(b->admin, session_expired_job, b);
}

/* Controlled shutdown runs on its own thread while the main loop keeps
 * accepting connections (the controller may be this broker, reached
 * through its own listener); then it stops the main loop. A second signal
 * cuts it short. */
static pthread_t cs_thread;
static bool cs_started;

static void *controlled_shutdown_thread(void *arg)
{
    struct broker *b = arg;
    (void)rm_controlled_shutdown(b, SERVER_CONTROLLED_SHUTDOWN_MS);
    event_base_loopbreak(b->main_base);
    return NULL;
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct broker *b = arg;
    say_info("broker", "shutting down signal=%d", (int)sig);
    if (!cs_started && b->cfg->controlled_shutdown_enable && b->rm &&
        pthread_create(&cs_thread, NULL, controlled_shutdown_thread, b) == 0) {
        cs_started = true;
        return;
    }
    if (cs_started)
        rm_controlled_shutdown_abort(b);
    event_base_loopbreak(b->main_base); /* disabled, or a second signal: stop now */
}

static void close_conns_job(void *arg) { conn_close_all(arg); }

/* Order matters: no control request reaches the controller or admin loops
 * any more (control_gate); no new connections; the group coordinator answers
 * its parked requests; close the open connections (answering parked fetches)
 * on their loops and wait until that has run, so no request posts to the
 * admin worker afterwards; let the io workers finish the appends they hold
 * and the admin worker its jobs (their completions go to the still-running
 * network loops); then join the network loops, which run every completion
 * posted before they stop. */
static void server_shutdown(struct broker *b)
{
    if (cs_started)
        pthread_join(cs_thread, NULL);
    pthread_rwlock_wrlock(&b->control_gate); /* no control request reaches the loops below */
    b->control_open = false;
    pthread_rwlock_unlock(&b->control_gate);
    if (b->controller)
        controller_stop(b->controller);
    worker_free(b->ctrl_worker); /* runs the stop job, closes the controller's channels */
    controller_free(b->controller);
    http_stop(b);
    advertised_watch_stop(b);
    listeners_free(b->listeners);
    rm_stop(b);
    if (b->zk)
        zk_store_set_session_cb(b->zk, NULL, NULL);
    config_watch_stop(b);
    acl_store_stop(b);
    controller_watch_stop(b);
    group_runtime_stop(b->groups); /* parked group requests answered while the loops run */
    txn_runtime_stop(b->txns);
    for (int i = 0; b->net && i < b->n_net; i++)
        if (b->net[i])
            worker_post(b->net[i], close_conns_job, b->net[i]);
    for (int i = 0; b->net && i < b->n_net; i++)
        if (b->net[i])
            (void)worker_sync(b->net[i]); /* closed: no request posts to the admin worker now */
    for (int i = 0; i < b->n_io; i++)
        worker_free(b->io[i]);
    worker_free(b->admin);
    for (int i = 0; b->net && i < b->n_net; i++)
        worker_free(b->net[i]);
    group_runtime_free(b->groups);
    txn_runtime_free(b->txns);
    pids_free(b->pids); /* the admin worker (its claims) and the network loops are gone */
    acl_store_free(b);  /* no check runs: the network loops are gone */
    zk_store_close(b->zk);
    log_manager_stop(b);
    topics_free(b->topics);
    if (b->logdir_lock_fd >= 0) {
        logdir_clean_shutdown_mark(b->data_dir);
        logdir_unlock(b->logdir_lock_fd);
    }
    free(b->net);
    free(b->io);
    free(b->live);
    rm_free(b);
    mc_free(b->mc);
    if (b->main_base)
        event_base_free(b->main_base);
    pthread_mutex_destroy(&b->brokers_lock);
    pthread_mutex_destroy(&b->advertised_lock);
    pthread_rwlock_destroy(&b->control_gate);
    dynamic_destroy(&b->dyn);
}

static int server_start(struct broker *b)
{
    struct logdir_meta *meta = &server_meta;
    if (server_check_listeners(b->cfg) != 0 || server_peer_tls(b->cfg) != 0 ||
        server_open_logdir(b, meta) != 0 || server_connect_zk(b) != 0)
        return -1;
    int rc = server_check_identity(b, meta);
    if (rc != 0)
        return rc;
    zk_store_set_session_cb(b->zk, session_cb, b);
    topic_config_defaults(&b->topic_defaults, b->cfg);
    b->topics = topics_new();
    b->main_base = event_base_new();
    if (!b->topics || !b->main_base)
        return -1;
    admin_refresh_brokers(b);
    config_watch_init(b);
    if (!acl_store_init(b))
        return -1;
    scram_users_load_all(b);
    dyncfg_load(b); /* after the newest notification is noted, before the topics load */
    quota_load_all(b);
    controller_watch_init(b);
    if (log_manager_load(b) != 0 || admin_load_topics(b) != 0)
        return -1;
    log_manager_loaded(b);
    logdir_clean_shutdown_clear(b->data_dir); /* before anything can be appended */
    if (log_manager_start(b) != 0)
        return -1;
    b->mc = mc_new();
    b->groups = group_runtime_new(b);
    b->txns = txn_runtime_new(b);
    b->pids = pids_new(b);
    if (!b->mc || !b->groups || !b->txns || !b->pids || !group_runtime_start(b->groups) ||
        !txn_runtime_start(b->txns) || server_start_workers(b) != 0 || rm_start(b) != 0 ||
        server_listen(b) != 0)
        return -1;
    pids_start(b->pids);       /* the first producer id block, on the admin worker */
    (void)advertised_check(b); /* logged, not refused: Kafka registers them all the same */
    (void)advertised_watch_start(b);
    if (server_register(b, meta) != KERR_NONE || http_start(b) != 0 || !config_watch_start(b) ||
        !acl_store_start(b) || !controller_watch_start(b))
        return -1;
    admin_refresh_brokers(b);
    if (server_start_controller(b) != 0)
        return -1;
    pthread_rwlock_wrlock(&b->control_gate);
    b->control_open = true;
    pthread_rwlock_unlock(&b->control_gate);
    return 0;
}

/* The inter-broker client certificates: rebuilt when their files change,
 * like the listeners' (main loop timer, gregor.ssl.reload.interval.ms). */
static void peer_tls_reload_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    char err[512];
    int rc = peer_tls_reload(err, sizeof(err));
    if (rc > 0)
        say_info("tls", "inter-broker client certificates reloaded");
    else if (rc < 0)
        say_error("tls",
                  "inter-broker certificate files changed but do not load; keeping the old "
                  "ones: %s",
                  err);
}

int server_run(const struct broker_config *cfg)
{
    struct broker b = {.cfg = cfg, .logdir_lock_fd = -1};
    b.data_dir = config_data_dir(cfg);
    pthread_mutex_init(&b.brokers_lock, NULL);
    pthread_mutex_init(&b.advertised_lock, NULL);
    pthread_rwlock_init(&b.control_gate, NULL);
    broker_dynamic_init(&b.dyn, cfg);
    b.dyn.on_ip_overrides = net_limits_set_overrides;
    throttle_meter_init(&b.leader_throttle, cfg->replication_quota_window_num,
                        (int64_t)cfg->replication_quota_window_size_seconds * 1000);
    b.quotas = quotas_new(cfg->quota_window_num, (int64_t)cfg->quota_window_size_seconds * 1000);
    signal(SIGPIPE, SIG_IGN);
    int rc = b.quotas ? server_start(&b) : 1;
    if (rc == 0) {
        struct event *sigterm = evsignal_new(b.main_base, SIGTERM, signal_cb, &b);
        struct event *sigint = evsignal_new(b.main_base, SIGINT, signal_cb, &b);
        evsignal_add(sigterm, NULL);
        evsignal_add(sigint, NULL);
        struct event *peer_reload = NULL;
        int every = cfg->gregor_ssl_reload_interval_ms;
        if (peer_tls_enabled() && every > 0 &&
            (peer_reload = event_new(b.main_base, -1, EV_PERSIST, peer_tls_reload_cb, NULL))) {
            struct timeval tv = {every / 1000, (every % 1000) * 1000};
            event_add(peer_reload, &tv);
        }
        say_info("broker", "started id=%d cluster=%s log.dirs=%s", b.id, b.cluster_id, b.data_dir);
        event_base_dispatch(b.main_base);
        event_free(sigterm);
        event_free(sigint);
        if (peer_reload)
            event_free(peer_reload);
    } else {
        rc = rc == SERVER_REFUSED ? 2 : 1;
    }
    server_shutdown(&b);
    throttle_meter_destroy(&b.leader_throttle); /* the network loops are gone */
    quotas_free(b.quotas);
    say_info("broker", "stopped status=%d", rc);
    return rc;
}
