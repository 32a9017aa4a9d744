# tests/bench/peers.sh — the peers stage of tests/bench/run: Gregor beside
# Redis Streams and NATS JetStream on the same machine, in alternating runs
# (docs/PERFORMANCE.md §23). Sourced by tests/bench/run, whose helpers
# (record, measured, free_port, wait_port, log, calc, v, pct_loop, target) and
# variables (BOOT, BROKER_PID, TMP, BENCH_BIN, QUICK, HZ, R) it uses.
#
# Each round writes N records of one size into each system, one after the
# other (the first system rotates from round to round), then reads each back:
#   gregor  produce_bench (librdkafka, acks=1, linger.ms=5) into a new
#           1-partition topic; consume_bench reads it back
#   redis   redis-benchmark -c 8 -P 64 -n N XADD <key> * v <value> against a
#           redis-server with appendonly yes, appendfsync everysec, no RDB
#           snapshots and no automatic AOF rewrite; redis_read_bench reads the
#           stream with XREAD COUNT 10000 (hiredis)
#   nats    nats_bench (libnats): js_PublishAsync into a file-storage stream,
#           4096 unacknowledged at most, until all are acknowledged; a pull
#           consumer fetching 8192 records per request, ack policy "none"
# One stream, one topic partition and one subject each: one ordered log per
# system. Every server runs in $TMP/peers on a free loopback port, a new
# Redis for each round and size (so its AOF starts empty), one NATS server
# for all.
#
# Records under peers.<system>.<produce|consume>.<1k|100>.r<round>.<key>
# (every run; broker_cpu_s there is the CPU of that system's server), the
# median run's figures without the round (peer_median), peers.<system>.version,
# and after the cluster stage its RF 3 acks=all ratio (report_rf3). A peer whose programs are missing is skipped
# (peers.<system>.skipped=1); deploy/install-deps.sh --bench installs them.

PEER_REDIS_PID=""; PEER_NATS_PID=""
# 3 rounds (an odd number: the median is one run's), 1 with QUICK=1;
# PEERS_ROUNDS=N sets another number
# (record counts are multiples of redis-benchmark's pipeline of 64)
PEER_ROUNDS=3; PEER_N1K=1000000; PEER_N100=5000000
if [ "$QUICK" = 1 ]; then PEER_ROUNDS=1; PEER_N1K=200000; PEER_N100=1000000; fi
PEER_ROUNDS=${PEERS_ROUNDS:-$PEER_ROUNDS}

# The Redis server binary: redis-server where the package of that name is
# installed, else redis-tools' redis-check-rdb, which is the same program and
# runs as a server when called by another name (a symlink in $TMP/peers).
peer_redis_server() {
    if command -v redis-server >/dev/null; then
        command -v redis-server
    elif [ -x /usr/bin/redis-check-rdb ]; then
        ln -sf /usr/bin/redis-check-rdb "$TMP/peers/redis-server"
        echo "$TMP/peers/redis-server"
    fi
}

peers_available() { # SYSTEM -> 0 when its server and clients are here
    case $1 in
    redis) [ -n "$(peer_redis_server)" ] && command -v redis-benchmark >/dev/null &&
        [ -x "$BENCH_BIN/redis_read_bench" ] ;;
    nats) command -v nats-server >/dev/null && [ -x "$BENCH_BIN/nats_bench" ] ;;
    esac
}

peer_stop() { # PID-VARIABLE
    local pid=${!1}
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    printf -v "$1" '%s' ""
}

peer_redis_start() {
    local dir=$TMP/peers/redis
    rm -rf "$dir"; mkdir -p "$dir"
    REDIS_PORT=$(free_port)
    "$(peer_redis_server)" --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$dir" \
        --appendonly yes --appendfsync everysec --save "" --auto-aof-rewrite-percentage 0 \
        --protected-mode no --daemonize no >"$TMP/peers/redis.log" 2>&1 &
    PEER_REDIS_PID=$!
    wait_port "$REDIS_PORT" "$PEER_REDIS_PID" 30 || {
        echo "bench: redis-server did not start" >&2; tail "$TMP/peers/redis.log" >&2; return 1; }
}

peer_nats_start() {
    local port; port=$(free_port)
    mkdir -p "$TMP/peers/nats"
    cat >"$TMP/peers/nats.conf" <<EOF
listen: 127.0.0.1:$port
jetstream {
    store_dir: "$TMP/peers/nats"
    max_file_store: 64G
}
EOF
    nats-server -c "$TMP/peers/nats.conf" >"$TMP/peers/nats.log" 2>&1 &
    PEER_NATS_PID=$!
    wait_port "$port" "$PEER_NATS_PID" 30 || {
        echo "bench: nats-server did not start" >&2; tail "$TMP/peers/nats.log" >&2; return 1; }
    NATS_URL=nats://127.0.0.1:$port
}

# redis_xadd SIZE COUNT KEY: redis-benchmark's CSV line -> key=value results;
# its CPU is what this (sub)shell's waited-for children used meanwhile. With
# -P 64, redis-benchmark sends whole pipelines: a COUNT that is not a multiple
# of 64 comes out rounded up, so records is the stream's length (XLEN)
redis_xadd() {
    local value t0 t1 c0 c1 line n
    value=$(head -c "$1" /dev/zero | tr '\0' v)
    c0=$(awk '{ print $16, $17 }' "/proc/$BASHPID/stat")
    t0=$(date +%s.%N)
    line=$(redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -c 8 -P 64 -n "$2" --csv \
        XADD "$3" '*' v "$value" | tail -1) || return 1
    t1=$(date +%s.%N)
    c1=$(awk '{ print $16, $17 }' "/proc/$BASHPID/stat")
    n=$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" XLEN "$3")
    # "test","rps","avg_latency_ms",...: the value has no commas, rps is the 7th field from the end
    echo "$line" | awk -F, -v size="$1" -v n="${n:-0}" -v el="$(calc "$t1 - $t0")" -v hz="$HZ" \
        -v c="$c0 $c1" '
        { gsub(/"/, ""); rps = $(NF - 6); if (rps + 0 <= 0 || n + 0 <= 0) exit 1
          split(c, t, " "); u = (t[3] - t[1]) / hz; s = (t[4] - t[2]) / hz; mb = n * size / 1e6
          printf "records=%d bytes=%d elapsed_s=%.3f records_per_s=%.0f mb_per_s=%.1f", n, n * size, n / rps, rps, rps * size / 1e6
          printf " wall_s=%.3f p50_ms=%s p99_ms=%s cpu_user_s=%.3f cpu_sys_s=%.3f cpu_s_per_mb=%.5f\n", el, $(NF - 3), $(NF - 1), u, s, (u + s) / mb }'
}

# peer_run SYSTEM OP SIZE-NAME SIZE COUNT ROUND
peer_run() {
    local sys=$1 op=$2 sn=$3 size=$4 n=$5 r=$6 p="peers.$1.$2.$3.r$6" pid
    case $sys in gregor) pid=$BROKER_PID ;; redis) pid=$PEER_REDIS_PID ;; nats) pid=$PEER_NATS_PID ;; esac
    log "peers round $r: $sys $op, $n records of $size B"
    case $sys.$op in
    gregor.produce) BROKER_PID=$pid measured "$p" "peers-$sys-$op-$sn" "$BENCH_BIN/produce_bench" \
        "$BOOT" "bench-peers-$sn-r$r" "$size" "$n" 1 1 seconds=300 ;;
    gregor.consume) BROKER_PID=$pid measured "$p" "peers-$sys-$op-$sn" "$BENCH_BIN/consume_bench" \
        "$BOOT" "bench-peers-$sn-r$r" ;;
    redis.produce) BROKER_PID=$pid measured "$p" "peers-$sys-$op-$sn" redis_xadd "$size" "$n" "s$sn" ;;
    redis.consume) BROKER_PID=$pid measured "$p" "peers-$sys-$op-$sn" "$BENCH_BIN/redis_read_bench" \
        127.0.0.1 "$REDIS_PORT" "s$sn" ;;
    nats.produce) BROKER_PID=$pid measured "$p" "peers-$sys-$op-$sn" "$BENCH_BIN/nats_bench" \
        "$NATS_URL" produce "s$sn" "$size" "$n" ;;
    nats.consume) BROKER_PID=$pid measured "$p" "peers-$sys-$op-$sn" "$BENCH_BIN/nats_bench" \
        "$NATS_URL" consume "s$sn" ;;
    esac
    # a run that did not move every record has no figure
    if [ "${R[$p.failed]:-0}" = 1 ] || [ "${R[$p.records]:-0}" -lt "$n" ]; then
        echo "bench: $p moved ${R[$p.records]:-0} of $n records" >&2
        record "$p.failed" 1
    fi
}

# peer_median PREFIX: the median run's mb_per_s, records_per_s, server CPU
# (broker_cpu_s) and other_cpu_s as PREFIX.*, every run's MB/s as PREFIX.runs
peer_median() {
    local k runs=() line m
    for k in $(printf '%s\n' "${!R[@]}" | grep -E "^${1//./\\.}\.r[0-9]+\.mb_per_s$" | sort); do
        [ "${R[${k%.mb_per_s}.failed]:-0}" = 1 ] && continue
        runs+=("${R[$k]} ${k%.mb_per_s}")
    done
    [ ${#runs[@]} -gt 0 ] || return 0
    line=$(printf '%s\n' "${runs[@]}" | sort -g | sed -n "$(( (${#runs[@]} + 1) / 2 ))p")
    m=${line#* }
    for k in mb_per_s records_per_s broker_cpu_s other_cpu_s elapsed_s; do
        [ -n "${R[$m.$k]:-}" ] && record "$1.$k" "${R[$m.$k]}"
    done
    record "$1.runs" "\"$(printf '%s\n' "${runs[@]}" | cut -d' ' -f1 | paste -sd, -)\""
}

run_peers() {
    [ "${PEERS:-1}" = 1 ] || return 0
    local systems=(gregor) s sizes r i sn size n order op
    mkdir -p "$TMP/peers"
    for s in redis nats; do
        if peers_available $s; then
            systems+=("$s")
        else
            log "peers: $s not installed (deploy/install-deps.sh --bench) or its bench not built; skipped"
            record "peers.$s.skipped" 1
        fi
    done
    peers_available redis && record peers.redis.version \
        "$("$(peer_redis_server)" --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')"
    if peers_available nats; then
        record peers.nats.version "$(nats-server --version | sed 's/^nats-server: v//')"
        peer_nats_start || { record peers.nats.failed 1; systems=("${systems[@]/nats/}"); }
    fi
    record peers.rounds "$PEER_ROUNDS"
    for ((r = 1; r <= PEER_ROUNDS; r++)); do
        for sizes in "1k 1024 $PEER_N1K" "100 100 $PEER_N100"; do
            read -r sn size n <<<"$sizes"
            [[ " ${systems[*]} " == *" redis "* ]] && peer_redis_start
            # the order rotates: each system is first in some round
            order=()
            for ((i = 0; i < ${#systems[@]}; i++)); do
                s=${systems[$(( (i + r - 1) % ${#systems[@]} ))]}
                [ -n "$s" ] && order+=("$s")
            done
            for op in produce consume; do
                for s in "${order[@]}"; do
                    peer_run "$s" "$op" "$sn" "$size" "$n" "$r"
                done
            done
            peer_stop PEER_REDIS_PID
            record "peers.loadavg.r$r.$sn" "$(cut -d' ' -f1 /proc/loadavg)"
        done
    done
    peer_stop PEER_NATS_PID
    rm -rf "$TMP/peers"
    for s in gregor redis nats; do
        for op in produce consume; do
            for sn in 1k 100; do peer_median "peers.$s.$op.$sn"; done
        done
    done
}

peers_cleanup() {
    peer_stop PEER_REDIS_PID
    peer_stop PEER_NATS_PID
}

# ratio A-KEY B-KEY -> A / B with 2 decimals, or - when either is missing
ratio() {
    [ -n "${R[$1]:-}" ] && [ -n "${R[$2]:-}" ] && calc "${R[$1]} / (${R[$2]} > 0 ? ${R[$2]} : 1)" 2 ||
        echo -
}

# peer_row LABEL KEY OP: KEY.mb_per_s and KEY.records_per_s beside loopback and
# the two peers' figures for the same operation and size (OP.SIZE)
peer_row() {
    local mb=${R[$2.mb_per_s]:-}
    printf "  %-47s %8s %11s %6s %7s %7s %9s %8s\n" "$1" "${mb:--}" "$(v "$2.records_per_s")" \
        "$([ -n "$mb" ] && echo "$(pct_loop "$mb")%" || echo -)" \
        "$(ratio "$2.mb_per_s" "peers.redis.$3.mb_per_s")" "$(ratio "$2.mb_per_s" "peers.nats.$3.mb_per_s")" \
        "$(v "$2.broker_cpu_s")" "$(v "$2.other_cpu_s")"
}

report_peers() {
    [ -n "${R[peers.rounds]:-}" ] || return 0
    echo
    echo "Gregor beside Redis Streams $(v peers.redis.version) and NATS JetStream $(v peers.nats.version)" \
         "(median of $(v peers.rounds) alternating round(s);"
    echo "$PEER_N1K x 1 KiB and $PEER_N100 x 100 B records each; xRedis / xNATS: MB/s over theirs for the same"
    echo "operation and size; server_s: CPU seconds of the server, other_s: of everything else but"
    echo "the client, during the median run; raw rows from the broker ceiling runs above)"
    printf "  %-47s %8s %11s %6s %7s %7s %9s %8s\n" "" MB/s records/s %loop xRedis xNATS server_s other_s
    peer_row "Gregor produce 1 KiB, librdkafka, 1 partition" peers.gregor.produce.1k produce.1k
    peer_row "Gregor produce 1 KiB, raw client (best)" "rawproduce.$(best_cfg rawproduce '1k-p*')" produce.1k
    peer_row "Gregor produce 100 B, librdkafka, 1 partition" peers.gregor.produce.100 produce.100
    peer_row "Gregor produce 100 B, raw client, 8 partitions" rawproduce.100-p8 produce.100
    peer_row "Gregor consume 1 KiB, librdkafka" peers.gregor.consume.1k consume.1k
    peer_row "Gregor consume 100 B, librdkafka" peers.gregor.consume.100 consume.100
    peer_row "Redis XADD 1 KiB (AOF everysec, -P 64)" peers.redis.produce.1k produce.1k
    peer_row "Redis XADD 100 B" peers.redis.produce.100 produce.100
    peer_row "Redis XREAD 1 KiB (COUNT 10000)" peers.redis.consume.1k consume.1k
    peer_row "Redis XREAD 100 B" peers.redis.consume.100 consume.100
    peer_row "NATS JetStream publish 1 KiB (async, acked)" peers.nats.produce.1k produce.1k
    peer_row "NATS JetStream publish 100 B" peers.nats.produce.100 produce.100
    peer_row "NATS JetStream pull consume 1 KiB" peers.nats.consume.1k consume.1k
    peer_row "NATS JetStream pull consume 100 B" peers.nats.consume.100 consume.100
    local k
    echo "  runs (MB/s):$(for k in $(printf '%s\n' "${!R[@]}" | grep -E '^peers\.[a-z]+\.[a-z]+\.[0-9a-z]+\.runs$' | sort); do
        k=${k%.runs}; printf ' %s=%s' "${k#peers.}" "$(v "$k.runs" | tr -d '"')"; done)"
}

# best_cfg PREFIX PATTERN -> the configuration name with the largest mb_per_s
best_cfg() {
    local k b="" m=-1
    for k in "${!R[@]}"; do
        [[ $k == $1.$2.mb_per_s ]] || continue
        if [ "$(calc "${R[$k]} > $m" 0)" = 1 ]; then m=${R[$k]}; b=${k#"$1".}; b=${b%.mb_per_s}; fi
    done
    echo "${b:-none}"
}

# peer_target NAME A-KEY B-KEY FACTOR TARGET-KEY: A >= FACTOR x B
peer_target() {
    local r; r=$(ratio "$2" "$3")
    if [ "$r" = - ]; then
        target "$1" "not measured" 0 "$5"
    else
        target "$1" "${r}x (${R[$2]} vs ${R[$3]} MB/s)" "$(calc "$r >= $4" 0)" "$5"
    fi
}

report_peer_targets() {
    [ -n "${R[peers.rounds]:-}" ] || return 0
    local raw a
    echo
    echo "Targets beside the peers (ratios within this run)"
    peer_target "produce 1 KiB, librdkafka >= 3x Redis XADD" peers.gregor.produce.1k.mb_per_s \
        peers.redis.produce.1k.mb_per_s 3 peers_produce_redis
    peer_target "produce 1 KiB, librdkafka >= 3x NATS publish" peers.gregor.produce.1k.mb_per_s \
        peers.nats.produce.1k.mb_per_s 3 peers_produce_nats
    raw=rawproduce.$(best_cfg rawproduce '1k-p*')
    a=${R[$raw.mb_per_s]:-0}
    target "raw produce 1 KiB >= 35% of loopback TCP" "$(pct_loop "$a")% ($raw)" \
        "$(calc "$(pct_loop "$a") >= 35" 0)" peers_raw_1k
    a=${R[rawproduce.100-p8.records_per_s]:-0}
    target "raw produce 100 B, 8 partitions >= 2 M/s" "$(calc "$a" 0) records/s" \
        "$(calc "$a >= 2000000" 0)" peers_raw_100
    peer_target "consume 1 KiB >= 1.5x Redis XREAD" peers.gregor.consume.1k.mb_per_s \
        peers.redis.consume.1k.mb_per_s 1.5 peers_consume_redis
}

# report_rf3 CLUSTER-JSON: the cluster stage's RF 3 acks=all figure beside the
# single-broker acks=1 one (both from its replicated throughput runs, same
# sitting) as a target; recorded into the results and appended to the table
report_rf3() {
    [ -f "$1" ] || return 0
    local kv
    kv=$(python3 - "$1" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
for k in ("throughput.rf1-acks1.mb_per_s", "throughput.rf3-acksall.mb_per_s",
          "throughput.rf3-acksall.ratio"):
    if isinstance(c.get(k), (int, float)):
        print("cluster.%s=%s" % (k, c[k]))
PY
) || return 0
    [ -n "$kv" ] || return 0
    local p r
    for p in $kv; do record "${p%%=*}" "${p#*=}"; done
    r=${R[cluster.throughput.rf3-acksall.ratio]:-}
    [ -n "$r" ] || return 0
    echo
    target "RF 3 acks=all >= 50% of 1 broker acks=1" \
        "$(calc "100 * $r" 0)% (${R[cluster.throughput.rf3-acksall.mb_per_s]} vs ${R[cluster.throughput.rf1-acks1.mb_per_s]} MB/s)" \
        "$(calc "$r >= 0.5" 0)" peers_rf3
}
