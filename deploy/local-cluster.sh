#!/usr/bin/env bash
# deploy/local-cluster.sh — run a Gregor cluster on this machine: one
# ZooKeeper (Debian's package, via deploy/zk-run.sh) and N brokers, all in the
# background, state in one directory.
#
#   local-cluster.sh [--brokers N] [--dir D] [--secure] COMMAND [ID]
#
#   --brokers N  number of brokers (default: the running cluster's, else 3)
#   --secure     (with up, on a new state directory) a secure cluster: TLS,
#                SASL and ACLs, described below; later commands follow the
#                mode the state directory was made in, and `up` refuses to
#                start a state directory in the other mode
#
#   up           start ZooKeeper and brokers 0..N-1 (those not running yet);
#                if everything already runs, say so and exit 0
#   down         stop every broker (SIGTERM, wait, SIGKILL after 30 s), then
#                ZooKeeper; data stays in the state directory
#   status       ZooKeeper and each broker: pid, port, alive/dead; the
#                controller is marked "(controller)" when the gregor CLI is
#                built (asks the live brokers with `gregor cluster info`)
#   kill ID      SIGKILL broker ID (or "zk")
#   stop ID      SIGTERM broker ID (or "zk") and wait until it has exited
#   restart ID   stop ID if it runs, then start it again and wait for its port
#   clean        down, then delete the state directory
#
# Broker I (0-based) is started as
#   build/bin/gregor-broker deploy/config/server.properties
#     --override broker.id=I
#     --override listeners=PLAINTEXT://:PORT,INTERNAL://:IPORT
#     --override advertised.listeners=PLAINTEXT://localhost:PORT,INTERNAL://localhost:IPORT
#     --override listener.security.protocol.map=PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT
#     --override inter.broker.listener.name=INTERNAL
#     --override log.dirs=DIR/broker-I --override zookeeper.connect=127.0.0.1:ZKPORT
#     --override offsets.topic.replication.factor=min(3, N)  (committed offsets
#       survive the loss of a coordinator)
#     --override gregor.http.port=HPORT  (/metrics, /readyz and the web console)
# with HPORT = 8080 + I (the console at http://localhost:HPORT/), PORT = 9092 + I for clients and IPORT = 19092 + I for brokers and the
# controller (control requests are accepted there only), stdout/stderr in
# DIR/broker-I.log, pid in DIR/broker-I.pid. ZooKeeper keeps its data in DIR/zookeeper/, logs to
# DIR/zookeeper.log, pid in DIR/zookeeper.pid.
#
# With --secure (docs/security.md, "Try it"), broker I instead gets
#     listeners=CLIENT://:PORT,INTERNAL://:IPORT
#     listener.security.protocol.map=CLIENT:SASL_SSL,INTERNAL:SSL
# (no plaintext port at all): clients log in with SCRAM-SHA-512 (or PLAIN,
# for the admin account only) over TLS; brokers talk to each other over
# mutual TLS with DIR/certs/broker.pem (principal User:CN=broker,O=Gregor);
# the ACL authorizer is on with allow.everyone.if.no.acl.found=false and
# super.users=User:admin;User:CN=broker,O=Gregor. These keys are written
# into DIR/server-secure.properties (the properties file plus them, mode
# 600), which the brokers read instead of the properties file. `up` makes
# the certificates (deploy/make-certs.sh DIR/certs) and a random admin
# password (DIR/secure.env) the first time, then, once the brokers listen,
# creates admin's SCRAM-SHA-512 credential by logging in as admin with
# PLAIN (the JAAS user_admin account of the client listener) and writes
# DIR/client.properties (librdkafka keys, for gregor --command-config and
# kcat -F).
#
# State directory layout (default: <repo>/.local-cluster/):
#   cluster.env        BROKERS=N, ZK_PORT=, BASE_PORT=, INTERNAL_BASE_PORT=,
#                      SECURE=0|1 of the running cluster
#   certs/, secure.env, server-secure.properties, client.properties
#                      (--secure only) certificates, admin password, broker
#                      config, admin's client config
#   zookeeper/         zoo.cfg and data/
#   zookeeper.{log,pid}
#   broker-I/          broker I's log.dirs
#   broker-I.{log,pid}
#
# Environment: GREGOR_BROKER (broker binary), GREGOR_CLI (gregor binary, for
# status; default build/bin/gregor), GREGOR_CONFIG (properties file),
# GREGOR_ZK_PORT (2181), GREGOR_BASE_PORT (9092), GREGOR_INTERNAL_BASE_PORT
# (GREGOR_BASE_PORT + 10000: 19092), GREGOR_ADVERTISED_BASE_PORT (the PLAINTEXT
# port brokers advertise, + id; default GREGOR_BASE_PORT: a test puts a proxy
# there), GREGOR_HTTP_BASE_PORT (GREGOR_BASE_PORT - 1012: 8080), GREGOR_CLUSTER_DIR,
# GREGOR_START_TIMEOUT (30 s), GREGOR_STOP_TIMEOUT (30 s).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

DIR=${GREGOR_CLUSTER_DIR:-$repo/.local-cluster}
BIN=${GREGOR_BROKER:-$repo/build/bin/gregor-broker}
CLI=${GREGOR_CLI:-$repo/build/bin/gregor}
CONF=${GREGOR_CONFIG:-$repo/deploy/config/server.properties}
ZK_PORT=${GREGOR_ZK_PORT:-2181}
BASE_PORT=${GREGOR_BASE_PORT:-9092}
INTERNAL_BASE_PORT=${GREGOR_INTERNAL_BASE_PORT:-}
ADVERTISED_BASE_PORT=${GREGOR_ADVERTISED_BASE_PORT:-}
HTTP_BASE_PORT=${GREGOR_HTTP_BASE_PORT:-}
START_TIMEOUT=${GREGOR_START_TIMEOUT:-30}
STOP_TIMEOUT=${GREGOR_STOP_TIMEOUT:-30}
BROKERS=""
SECURE=""

say() { printf 'local-cluster: %s\n' "$*"; }
die() { printf 'local-cluster: %s\n' "$*" >&2; exit 1; }

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
    exit "${1:-2}"
}

# ---- processes ----------------------------------------------------------

# pid_read NAME: prints the pid recorded for NAME ("zookeeper", "broker-0"), or nothing.
pid_read() {
    local f="$DIR/$1.pid"
    [ -r "$f" ] && tr -dc '0-9' <"$f" || true
}

# proc_alive PID PATTERN: true if PID runs and its command line contains
# PATTERN (guards against a recycled pid).
proc_alive() {
    local pid=$1 pattern=$2
    [ -n "$pid" ] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    [ -r "/proc/$pid/cmdline" ] || return 0
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$pattern"
}

pattern_of() {
    case $1 in
        zookeeper) echo ZooKeeperServerMain ;;
        *) echo gregor-broker ;;
    esac
}

name_alive() { proc_alive "$(pid_read "$1")" "$(pattern_of "$1")"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_gone PID SECONDS: true once PID has exited.
wait_gone() {
    local pid=$1 deadline=$((SECONDS + $2))
    while kill -0 "$pid" 2>/dev/null; do
        # A zombie child of ours would never disappear; we never wait on them
        # (they are reparented by nohup/&), so kill -0 is enough.
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

log_tail() {
    local log=$1
    if [ -r "$log" ]; then
        echo "----- last lines of $log -----" >&2
        tail -n 30 "$log" >&2
        echo "-----" >&2
    fi
}

# ---- state --------------------------------------------------------------

state_load() {
    local saved=3
    if [ -r "$DIR/cluster.env" ]; then
        # shellcheck disable=SC1091
        saved=$(. "$DIR/cluster.env" && echo "${BROKERS:-3}")
        if [ -z "${GREGOR_ZK_PORT:-}" ]; then
            ZK_PORT=$(. "$DIR/cluster.env" && echo "${ZK_PORT:-2181}")
        fi
        if [ -z "${GREGOR_BASE_PORT:-}" ]; then
            BASE_PORT=$(. "$DIR/cluster.env" && echo "${BASE_PORT:-9092}")
        fi
        if [ -z "${GREGOR_INTERNAL_BASE_PORT:-}" ]; then
            INTERNAL_BASE_PORT=$(. "$DIR/cluster.env" && echo "${INTERNAL_BASE_PORT:-}")
        fi
    fi
    [ -n "$BROKERS" ] || BROKERS=$saved
    SAVED_SECURE=""
    if [ -r "$DIR/cluster.env" ]; then
        SAVED_SECURE=$(. "$DIR/cluster.env" && echo "${SECURE:-0}")
    fi
    [ -n "$INTERNAL_BASE_PORT" ] || INTERNAL_BASE_PORT=$((BASE_PORT + 10000))
    [ -n "$HTTP_BASE_PORT" ] || HTTP_BASE_PORT=$((BASE_PORT - 1012))
}

state_save() {
    mkdir -p "$DIR"
    printf 'BROKERS=%s\nZK_PORT=%s\nBASE_PORT=%s\nINTERNAL_BASE_PORT=%s\nSECURE=%s\n' \
        "$BROKERS" "$ZK_PORT" "$BASE_PORT" "$INTERNAL_BASE_PORT" "$SECURE" >"$DIR/cluster.env"
}

broker_port() { echo $((BASE_PORT + $1)); }
internal_port() { echo $((INTERNAL_BASE_PORT + $1)); }
http_port() { echo $((HTTP_BASE_PORT + $1)); }

# ---- ZooKeeper ----------------------------------------------------------

zk_ruok() {
    local ans
    ans=$(
        exec 2>/dev/null
        exec 3<>"/dev/tcp/127.0.0.1/$ZK_PORT" || exit 1
        printf ruok >&3
        IFS= read -r -t 2 a <&3
        printf %s "${a:-}"
    ) || true
    [ "$ans" = imok ]
}

zk_start() {
    if name_alive zookeeper; then
        say "zookeeper already running (pid $(pid_read zookeeper), port $ZK_PORT)"
        return 0
    fi
    if port_open "$ZK_PORT"; then
        die "port $ZK_PORT is already in use by a process that is not this cluster's" \
            "ZooKeeper (see: ss -ltnp 'sport = :$ZK_PORT'). Stop it (a system" \
            "zookeeperd: systemctl stop zookeeper) or set GREGOR_ZK_PORT."
    fi
    mkdir -p "$DIR/zookeeper"
    nohup "$here/zk-run.sh" "$DIR/zookeeper" "$ZK_PORT" \
        >"$DIR/zookeeper.log" 2>&1 </dev/null &
    echo $! >"$DIR/zookeeper.pid"
    local pid=$!
    await_start "$pid" "$DIR/zookeeper.log" zookeeper "answer on port $ZK_PORT" 0.2 zk_ruok
    say "zookeeper started (pid $pid, port $ZK_PORT)"
}

# Waits until the command "$@" (after five arguments) succeeds while
# process $1 lives; when it exits, or START_TIMEOUT passes first, dies with
# the tail of its log $2: "$3 exited during startup", or "$3 did not $4
# within ...s". $5: seconds between tries.
await_start() {
    local pid=$1 logf=$2 what=$3 waiting=$4 every=$5 deadline=$((SECONDS + START_TIMEOUT))
    shift 5
    until "$@"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            log_tail "$logf"
            die "$what exited during startup"
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            log_tail "$logf"
            die "$what did not $waiting within ${START_TIMEOUT}s"
        fi
        sleep "$every"
    done
}

# ---- brokers ------------------------------------------------------------

broker_start() {
    local id=$1 port iport aport hport name pid
    port=$(broker_port "$id")
    hport=$(http_port "$id")
    aport=$((${ADVERTISED_BASE_PORT:-$BASE_PORT} + id))
    iport=$(internal_port "$id")
    name=broker-$id
    if name_alive "$name"; then
        say "broker $id already running (pid $(pid_read "$name"), port $port)"
        return 0
    fi
    [ -x "$BIN" ] || die "broker binary $BIN not found; build it first (make build)"
    if port_open "$port"; then
        die "port $port (broker $id) is already in use by another process"
    fi
    if port_open "$iport"; then
        die "port $iport (broker $id, inter-broker listener) is already in use by another" \
            "process; set GREGOR_INTERNAL_BASE_PORT"
    fi
    if port_open "$hport"; then
        die "port $hport (broker $id, HTTP: metrics and web console) is already in use by another" \
            "process; set GREGOR_HTTP_BASE_PORT"
    fi
    local args=() client=PLAINTEXT cproto=PLAINTEXT iproto=PLAINTEXT
    if [ "$SECURE" = 1 ]; then
        args+=("$DIR/server-secure.properties")
        client=CLIENT cproto=SASL_SSL iproto=SSL
    elif [ -r "$CONF" ]; then
        args+=("$CONF")
    else
        say "warning: $CONF not found, starting broker $id with built-in defaults"
    fi
    args+=(--override "broker.id=$id"
           --override "listeners=$client://:$port,INTERNAL://:$iport"
           --override "advertised.listeners=$client://localhost:$aport,INTERNAL://localhost:$iport"
           --override "listener.security.protocol.map=$client:$cproto,INTERNAL:$iproto"
           --override "inter.broker.listener.name=INTERNAL"
           --override "log.dirs=$DIR/$name"
           --override "zookeeper.connect=127.0.0.1:$ZK_PORT"
           --override "offsets.topic.replication.factor=$((BROKERS < 3 ? BROKERS : 3))"
           --override "gregor.http.port=$hport")
    mkdir -p "$DIR/$name"
    {
        echo "=== $(date '+%F %T') starting: $BIN ${args[*]}"
    } >>"$DIR/$name.log"
    nohup "$BIN" "${args[@]}" >>"$DIR/$name.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$DIR/$name.pid"
    await_start "$pid" "$DIR/$name.log" "broker $id" "accept connections on port $port" 0.1 \
        port_open "$port"
    say "broker $id started (pid $pid, port $port, inter-broker port $iport, console" \
        "http://localhost:$hport/, log $DIR/$name.log)"
}

# proc_stop NAME SIGNAL FORCE: signal NAME and wait for it to exit; with
# FORCE=1, SIGKILL it if it is still alive after STOP_TIMEOUT.
proc_stop() {
    local name=$1 sig=$2 force=$3 pid
    pid=$(pid_read "$name")
    if ! proc_alive "$pid" "$(pattern_of "$name")"; then
        say "$name is not running"
        rm -f "$DIR/$name.pid"
        return 0
    fi
    kill "-$sig" "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" "$STOP_TIMEOUT"; then
        if [ "$force" = 1 ] || [ "$sig" = KILL ]; then
            say "$name (pid $pid) still alive after ${STOP_TIMEOUT}s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            wait_gone "$pid" 10 || die "$name (pid $pid) survives SIGKILL"
        else
            die "$name (pid $pid) did not exit within ${STOP_TIMEOUT}s after SIG$sig"
        fi
    fi
    rm -f "$DIR/$name.pid"
    say "$name stopped (SIG$sig, pid $pid)"
}

# ---- secure mode ----------------------------------------------------------

BROKER_PRINCIPAL="User:CN=broker,O=Gregor"

# secure_setup: certificates, admin password and the brokers' properties
# file (kept when they exist, so a restart keeps the same password).
secure_setup() {
    if [ ! -f "$DIR/certs/broker.pem" ]; then
        "$here/make-certs.sh" "$DIR/certs" >/dev/null || die "deploy/make-certs.sh failed"
        say "certificates made in $DIR/certs"
    fi
    if [ ! -r "$DIR/secure.env" ]; then
        (umask 077 && printf 'ADMIN_PASSWORD=%s\n' "$(openssl rand -hex 16)" >"$DIR/secure.env")
    fi
    ADMIN_PASSWORD=$(. "$DIR/secure.env" && echo "$ADMIN_PASSWORD")
    local f="$DIR/server-secure.properties"
    (
        umask 077
        {
            [ -r "$CONF" ] && cat "$CONF" && echo
            echo "# --- local-cluster.sh --secure: TLS, SASL, ACLs"
            echo "ssl.keystore.type=PEM"
            echo "ssl.keystore.location=$DIR/certs/broker.pem"
            echo "ssl.truststore.type=PEM"
            echo "ssl.truststore.location=$DIR/certs/ca.pem"
            echo "listener.name.internal.ssl.client.auth=required"
            echo "listener.name.client.sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN"
            echo "listener.name.client.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_admin=\"$ADMIN_PASSWORD\";"
            echo "authorizer.class.name=gregor.security.authorizer.AclAuthorizer"
            echo "allow.everyone.if.no.acl.found=false"
            echo "super.users=User:admin;$BROKER_PRINCIPAL"
        } >"$f.tmp"
        mv "$f.tmp" "$f"
    )
}

# secure_admin: admin's SCRAM-SHA-512 credential (set through broker 0 while
# logged in with PLAIN), then DIR/client.properties.
secure_admin() {
    local plain="$DIR/admin-plain.properties" out i
    [ -x "$CLI" ] || die "gregor CLI $CLI not found; build it first (make build)"
    (
        umask 077
        printf '%s\n' "security.protocol=SASL_SSL" "sasl.mechanism=PLAIN" \
            "sasl.username=admin" "sasl.password=$ADMIN_PASSWORD" \
            "ssl.ca.location=$DIR/certs/ca.pem" >"$plain"
    )
    for ((i = 0; ; i++)); do
        if out=$("$CLI" -b "localhost:$(broker_port 0)" --command-config "$plain" \
                 user scram set admin --password "$ADMIN_PASSWORD" \
                 --mechanism SCRAM-SHA-512 2>&1); then
            break
        fi
        [ "$i" -lt 20 ] || die "cannot create admin's SCRAM credential: $out"
        sleep 0.5
    done
    (
        umask 077
        printf '%s\n' "security.protocol=SASL_SSL" "sasl.mechanism=SCRAM-SHA-512" \
            "sasl.username=admin" "sasl.password=$ADMIN_PASSWORD" \
            "ssl.ca.location=$DIR/certs/ca.pem" >"$DIR/client.properties.tmp"
        mv "$DIR/client.properties.tmp" "$DIR/client.properties"
    )
    say "admin's SCRAM-SHA-512 credential set; client config: $DIR/client.properties"
}

# ---- commands -----------------------------------------------------------

all_alive() {
    local i
    name_alive zookeeper || return 1
    for ((i = 0; i < BROKERS; i++)); do
        name_alive "broker-$i" || return 1
    done
}

cmd_up() {
    local i
    if all_alive; then
        say "cluster already up ($BROKERS broker(s), zookeeper 127.0.0.1:$ZK_PORT," \
            "state in $DIR); nothing to do"
        cmd_status
        return 0
    fi
    mkdir -p "$DIR"
    state_save
    [ "$SECURE" = 1 ] && secure_setup
    zk_start
    for ((i = 0; i < BROKERS; i++)); do
        broker_start "$i"
    done
    [ "$SECURE" = 1 ] && secure_admin
    say "cluster up: bootstrap $(bootstrap)"
}

bootstrap() {
    local i out=""
    for ((i = 0; i < BROKERS; i++)); do
        out="${out:+$out,}localhost:$(broker_port "$i")"
    done
    echo "$out"
}

cmd_down() {
    local f name
    if [ ! -d "$DIR" ]; then
        say "no cluster state in $DIR: nothing to stop"
        return 0
    fi
    if [ -d "$DIR" ]; then
        for f in "$DIR"/broker-*.pid; do
            [ -e "$f" ] || continue
            name=$(basename "$f" .pid)
            proc_stop "$name" TERM 1
        done
    fi
    proc_stop zookeeper TERM 1
    say "cluster down (data kept in $DIR)"
}

status_line() {
    local what=$1 name=$2 port=$3 mark=${4:-} pid state
    pid=$(pid_read "$name")
    if proc_alive "$pid" "$(pattern_of "$name")"; then state=alive; else state=dead; fi
    printf '%-12s pid %-8s port %-6s %s%s\n' "$what" "${pid:--}" "$port" "$state" "$mark"
}

# controller_id N: prints the controller's broker id as the live brokers
# among 0..N-1 report it (gregor cluster info --json), or nothing when the
# CLI is not built, no broker is alive, or none answers within 5 s.
controller_id() {
    local n=$1 i bs="" out
    [ -x "$CLI" ] || return 0
    for ((i = 0; i < n; i++)); do
        name_alive "broker-$i" && bs="${bs:+$bs,}localhost:$(broker_port "$i")"
    done
    [ -n "$bs" ] || return 0
    local sec=()
    if [ "$SECURE" = 1 ]; then
        [ -r "$DIR/client.properties" ] || return 0
        sec=(--command-config "$DIR/client.properties")
    fi
    out=$(timeout 8 "$CLI" -b "$bs" "${sec[@]}" -X socket.timeout.ms=5000 cluster info --json \
          2>/dev/null) || return 0
    printf '%s\n' "$out" | sed -n 's/.*"controller_id": \(-\{0,1\}[0-9]*\).*/\1/p'
}

cmd_status() {
    local i n=$BROKERS f id ctl mark
    # Also show brokers beyond BROKERS that have pid files (started by hand).
    for f in "$DIR"/broker-*.pid; do
        [ -e "$f" ] || continue
        id=${f##*/broker-}; id=${id%.pid}
        [ "$id" -lt "$n" ] || n=$((id + 1))
    done
    ctl=$(controller_id "$n")
    status_line zookeeper zookeeper "$ZK_PORT"
    for ((i = 0; i < n; i++)); do
        mark=""
        [ "$ctl" = "$i" ] && mark=" (controller)"
        status_line "broker $i" "broker-$i" "$(broker_port "$i")" "$mark"
    done
}

target_name() {
    case $1 in
        zk|zookeeper) echo zookeeper ;;
        ''|*[!0-9]*) die "bad id '$1': a broker number or 'zk'" ;;
        *) echo "broker-$1" ;;
    esac
}

cmd_restart() {
    local name
    name=$(target_name "$1") || exit 1
    proc_stop "$name" TERM 1
    if [ "$name" = zookeeper ]; then
        zk_start
    else
        broker_start "$1"
    fi
}

# ---- main ---------------------------------------------------------------

cmd=""
id=""
while [ $# -gt 0 ]; do
    case $1 in
        --brokers) [ $# -ge 2 ] || usage; BROKERS=$2; shift 2 ;;
        --brokers=*) BROKERS=${1#*=}; shift ;;
        --dir) [ $# -ge 2 ] || usage; DIR=$2; shift 2 ;;
        --dir=*) DIR=${1#*=}; shift ;;
        --secure) SECURE=1; shift ;;
        -h|--help|help) usage 0 ;;
        -*) echo "unknown option $1" >&2; usage ;;
        *)
            if [ -z "$cmd" ]; then cmd=$1
            elif [ -z "$id" ]; then id=$1
            else usage
            fi
            shift ;;
    esac
done
[ -n "$cmd" ] || usage
case $BROKERS in
    '') ;;
    *[!0-9]*|0) die "--brokers needs a positive number" ;;
esac
# Only `up` creates the state directory; the other commands work on what exists.
if [ "$cmd" = up ]; then
    mkdir -p "$DIR"
fi
if [ -d "$DIR" ]; then
    DIR=$(cd "$DIR" && pwd)
fi
state_load
# The mode: --secure, else the state directory's; `up` on a state directory
# that holds brokers of the other mode refuses (their data, users and ACLs
# belong to that mode).
if [ "$cmd" = up ] && [ -n "$SAVED_SECURE" ] && [ "${SECURE:-0}" != "$SAVED_SECURE" ] &&
    compgen -G "$DIR/broker-*/" >/dev/null; then
    if [ "$SAVED_SECURE" = 1 ]; then
        die "$DIR holds a cluster made with --secure: add --secure (make run SECURE=1)," \
            "or use another --dir, or delete it first (local-cluster.sh clean)"
    fi
    die "$DIR holds a plaintext cluster: run it without --secure, or use another --dir," \
        "or delete it first (local-cluster.sh clean)"
fi
[ -n "$SECURE" ] || SECURE=${SAVED_SECURE:-0}
[ "$SECURE" = 1 ] && [ -r "$DIR/secure.env" ] && ADMIN_PASSWORD=$(. "$DIR/secure.env" && echo "$ADMIN_PASSWORD")

case $cmd in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    kill) [ -n "$id" ] || usage; name=$(target_name "$id"); proc_stop "$name" KILL 1 ;;
    stop) [ -n "$id" ] || usage; name=$(target_name "$id"); proc_stop "$name" TERM 0 ;;
    restart) [ -n "$id" ] || usage; cmd_restart "$id" ;;
    clean)
        if [ -d "$DIR" ]; then
            cmd_down
            rm -rf "$DIR"
            say "removed $DIR"
        else
            say "nothing to clean ($DIR does not exist)"
        fi ;;
    *) echo "unknown command $cmd" >&2; usage ;;
esac
