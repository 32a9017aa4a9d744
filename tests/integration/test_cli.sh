#!/usr/bin/env bash
#
# tests/integration/test_cli.sh — end-to-end test of the `gregor` CLI
# against an already running broker.
#
#   GREGOR_BOOTSTRAP=127.0.0.1:9092 tests/integration/test_cli.sh [GREGOR]
#
# GREGOR (the binary) is $1, else $GREGOR_CLI, else $GREGOR_BUILD_DIR/bin/gregor,
# else build/bin/gregor next to this source tree, else `gregor` in PATH.
# The script creates a uniquely named topic (3 partitions, 1 replica),
# produces 1000 keyed lines, consumes them back, checks the describe
# format, --help / bad-option exit codes and error messages, then deletes
# the topic. `cluster info` (text and --json) is checked against the
# single broker and `topic list`/`topic describe`; `topic describe`'s
# health flags and filters, and `cluster elect-leaders`, which must either
# report ELECTION_NOT_NEEDED per partition or say clearly that the broker
# does not support ElectLeaders (a "# elect-leaders:" line says which).
# `cluster watch` (text) runs while a topic is created, and against a closed
# port (one "unreachable" event); both must end with status 0 on SIGINT.
# A second topic, created with -c retention.ms=1000, checks
# `topic describe`'s Configs field (also "(unavailable: ...)" when the
# client cannot send DescribeConfigs) and `topic alter-config`; a third one
# grows from 1 to 4 partitions with `topic alter-partitions`. `cluster reassign --plan`: its
# usage errors, an empty plan on one broker, its refusals. Prints one "ok -" / "not ok -" line per check and a final line
# "N passed, M failed". Exit status: 0 all passed, 1 any failed, 77 skipped
# (GREGOR_BOOTSTRAP not set; for ctest's SKIP_RETURN_CODE).
# The checks are eval'd strings, expanded when run:
# shellcheck disable=SC2016,SC2317,SC2034
set -u

pass=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { pass=$((pass + 1)); echo "ok - $1"; }
not_ok() {
    fail=$((fail + 1))
    echo "not ok - $1"
    if [ -n "${2:-}" ]; then printf '%s\n' "$2" | sed 's/^/#   /' | head -20; fi
}
# check DESCRIPTION COMMAND...: passes when COMMAND succeeds.
check() { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d" "$(detail)"; fi; }
detail() { printf 'rc=%s\nstdout: %s\nstderr: %s' "${RC:-}" "$(head -c 600 "$tmp/out" 2>/dev/null)" \
    "$(head -c 600 "$tmp/err" 2>/dev/null)"; }
# run COMMAND...: runs with a 60 s limit; sets RC, stdout in $tmp/out, stderr in $tmp/err.
run() { timeout 60 "$@" >"$tmp/out" 2>"$tmp/err" </dev/null; RC=$?; }
# run_in FILE COMMAND...: like run, with stdin from FILE.
run_in() { local f=$1; shift; timeout 60 "$@" >"$tmp/out" 2>"$tmp/err" <"$f"; RC=$?; }
# one_gregor_line: stderr is exactly one line starting with "gregor: ".
one_gregor_line() { [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q '^gregor: ' "$tmp/err"; }
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit $?; }

find_gregor() {
    local here
    here=$(cd "$(dirname "$0")" && pwd)
    for g in "${1:-}" "${GREGOR_CLI:-}" "${GREGOR_BUILD_DIR:+$GREGOR_BUILD_DIR/bin/gregor}" \
             "$here/../../build/bin/gregor"; do
        if [ -n "$g" ] && [ -x "$g" ]; then echo "$g"; return 0; fi
    done
    command -v gregor
}

if [ -z "${GREGOR_BOOTSTRAP:-}" ]; then
    echo "# GREGOR_BOOTSTRAP is not set: no broker to test against, skipping"
    echo "0 passed, 0 failed"
    exit 77
fi
G=$(find_gregor "${1:-}") || { echo "# gregor binary not found"; echo "0 passed, 1 failed"; exit 1; }
echo "# gregor: $G, broker: $GREGOR_BOOTSTRAP"
T="cli-test-$$-$(date +%s%N)"

# ---- help and usage errors (no broker needed) ----------------------------
for cmd in "" "topic" "topic create" "topic list" "topic describe" "topic delete" \
           "topic alter-config" "topic alter-partitions" "produce" "consume" "cluster" "cluster info" \
           "cluster elect-leaders" "cluster watch"; do
    # shellcheck disable=SC2086
    run "$G" $cmd --help
    check "'gregor $cmd --help' exits 0 with usage" \
        eval '[ "$RC" -eq 0 ] && grep -q "^Usage: gregor" "$tmp/out" && [ ! -s "$tmp/err" ]'
    # shellcheck disable=SC2086
    run "$G" $cmd --no-such-option
    check "'gregor $cmd --no-such-option' exits 2 with one line" \
        eval '[ "$RC" -eq 2 ] && one_gregor_line'
done
run "$G" help produce
check "'gregor help produce' shows produce usage" eval '[ "$RC" -eq 0 ] && grep -q "^Usage: gregor produce" "$tmp/out"'
run "$G"
check "no command exits 2" eval '[ "$RC" -eq 2 ] && one_gregor_line'
run "$G" nosuchcommand
check "unknown command exits 2" eval '[ "$RC" -eq 2 ] && one_gregor_line'
run "$G" topic create
check "topic create without name exits 2" eval '[ "$RC" -eq 2 ] && one_gregor_line'
run "$G" topic create "$T" -p
check "option missing its value exits 2" eval '[ "$RC" -eq 2 ] && one_gregor_line'
run "$G" topic create "$T" -p zero
check "non-numeric --partitions exits 2" eval '[ "$RC" -eq 2 ] && one_gregor_line'
run "$G" consume
check "consume without topic exits 2" eval '[ "$RC" -eq 2 ] && one_gregor_line'
run "$G" consume "$T" --from-beginning --offset 5
check "consume --from-beginning with --offset exits 2" eval '[ "$RC" -eq 2 ] && one_gregor_line'
run "$G" produce "$T" --acks 2
check "produce --acks 2 exits 2" eval '[ "$RC" -eq 2 ] && one_gregor_line'
run "$G" topic alter-config "$T"
check "alter-config without --set/--delete exits 2" eval '[ "$RC" -eq 2 ] && one_gregor_line'
run "$G" topic alter-config --set retention.ms=1
check "alter-config without topic exits 2" eval '[ "$RC" -eq 2 ] && one_gregor_line'
run "$G" topic alter-config "$T" --set retention.ms
check "alter-config --set without = exits 2" eval '[ "$RC" -eq 2 ] && one_gregor_line'
run "$G" topic alter-config "$T" --set retention.ms=1 --delete retention.ms
check "alter-config setting and deleting one key exits 2" eval '[ "$RC" -eq 2 ] && one_gregor_line'
run "$G" topic alter-partitions "$T"
check "alter-partitions without --partitions exits 2" eval '[ "$RC" -eq 2 ] && one_gregor_line'
run "$G" topic alter-partitions -p 3
check "alter-partitions without topic exits 2" eval '[ "$RC" -eq 2 ] && one_gregor_line'
run "$G" topic alter-partitions "$T" -p 3 --assignment 0:x
check "alter-partitions with a bad --assignment exits 2" eval '[ "$RC" -eq 2 ] && one_gregor_line'
run "$G" -X no.such.property=1 topic list
check "unknown -X property exits 2" eval '[ "$RC" -eq 2 ] && one_gregor_line'
run "$G" -b 127.0.0.1:1 topic list
check "unreachable broker exits 1 with one line" eval '[ "$RC" -eq 1 ] && one_gregor_line'
run "$G" -b 127.0.0.1:1 cluster info
check "cluster info with an unreachable broker exits 1 with one line" \
    eval '[ "$RC" -eq 1 ] && one_gregor_line'
run "$G" -b 127.0.0.1:1 cluster elect-leaders --all
check "elect-leaders with an unreachable broker exits 1 with one line" \
    eval '[ "$RC" -eq 1 ] && one_gregor_line'
run "$G" cluster
check "cluster without subcommand exits 2" eval '[ "$RC" -eq 2 ] && one_gregor_line'
run "$G" cluster nosuch
check "cluster with an unknown subcommand exits 2" eval '[ "$RC" -eq 2 ] && one_gregor_line'
run "$G" cluster info extra
check "cluster info with an argument exits 2" eval '[ "$RC" -eq 2 ] && one_gregor_line'
run "$G" cluster elect-leaders
check "elect-leaders without --all/--topic exits 2" eval '[ "$RC" -eq 2 ] && one_gregor_line'
run "$G" cluster elect-leaders --all --topic "$T"
check "elect-leaders with --all and --topic exits 2" eval '[ "$RC" -eq 2 ] && one_gregor_line'
run "$G" cluster elect-leaders --partition 0
check "elect-leaders --partition without --topic exits 2" eval '[ "$RC" -eq 2 ] && one_gregor_line'
run "$G" cluster elect-leaders --topic "$T" --partition -1
check "elect-leaders with a negative --partition exits 2" eval '[ "$RC" -eq 2 ] && one_gregor_line'

# ---- topic create / list / describe ---------------------------------------
run "$G" topic create "$T" -p 3 -r 1
check "topic create exits 0" eval '[ "$RC" -eq 0 ] && grep -qx "Created topic $T." "$tmp/out"'
run "$G" topic create "$T" -p 3 -r 1
check "creating it again exits 1 (already exists)" eval '[ "$RC" -eq 1 ] && one_gregor_line'
run "$G" topic create "$T" -p 3 -r 1 --if-not-exists
check "create --if-not-exists of an existing topic exits 0" eval '[ "$RC" -eq 0 ]'
run "$G" topic list
check "topic list shows the topic" eval '[ "$RC" -eq 0 ] && grep -qx "$T" "$tmp/out"'
check "topic list output is sorted" eval 'sort -c "$tmp/out"'

describe_header_ok() {
    head -1 "$tmp/out" | grep -qP "^Topic: $T\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: .*\$"
}
describe_partitions_ok() {
    [ "$(tail -n +2 "$tmp/out" |
        grep -cP "^\tTopic: $T\tPartition: [0-2]\tLeader: [0-9]+\tReplicas: [0-9]+\tIsr: [0-9]+\$")" -eq 3 ]
}

# Leaders may take a moment after creation: retry until every partition has one.
for _ in $(seq 1 40); do
    run "$G" topic describe "$T"
    [ "$RC" -eq 0 ] && ! grep -q 'Leader: none' "$tmp/out" && [ "$(wc -l <"$tmp/out")" -eq 4 ] && break
    sleep 0.5
done
check "topic describe exits 0" eval '[ "$RC" -eq 0 ]'
check "describe prints a header and 3 partition lines" eval '[ "$(wc -l <"$tmp/out")" -eq 4 ]'
check "describe header format" describe_header_ok
check "describe partition line format" describe_partitions_ok
check "describe lists partitions 0,1,2 in order" \
    eval '[ "$(tail -n +2 "$tmp/out" | cut -f3 | tr "\n" " ")" = "Partition: 0 Partition: 1 Partition: 2 " ]'
run "$G" topic describe "$T-missing"
check "describe of a missing topic exits 1" \
    eval '[ "$RC" -eq 1 ] && grep -qx "gregor: topic '\''$T-missing'\'' does not exist" "$tmp/err"'

# ---- topic describe health flags and filters (one broker: all healthy) -------
run "$G" topic describe "$T"
check "healthy partitions have no Flags field" eval '! grep -q "Flags:" "$tmp/out"'
for f in --under-replicated --offline --under-replicated-partitions --unavailable-partitions; do
    run "$G" topic describe "$T" "$f"
    check "describe $f on a healthy topic prints nothing" eval '[ "$RC" -eq 0 ] && [ ! -s "$tmp/out" ] && [ ! -s "$tmp/err" ]'
done
run "$G" topic describe --all --under-replicated --offline
check "describe --all --under-replicated --offline prints nothing on one broker" \
    eval '[ "$RC" -eq 0 ] && [ ! -s "$tmp/out" ]'

# ---- cluster info -------------------------------------------------------------
run "$G" topic list --all
ntopics=$(wc -l <"$tmp/out")
run "$G" topic describe --all
nparts=$(grep -cP "^\tTopic: " "$tmp/out")
run "$G" cluster info
cp "$tmp/out" "$tmp/info"
# info_field NAME: the value of the "NAME: value" line of cluster info.
info_field() { sed -n "s/^$1: //p" "$tmp/info"; }
bport=${GREGOR_BOOTSTRAP##*:}
check "cluster info exits 0" eval '[ "$RC" -eq 0 ] && [ ! -s "$tmp/err" ]'
check "cluster info lists one broker" \
    eval '[ "$(info_field Brokers)" = 1 ] && [ "$(grep -cP "^  [0-9]+\t" "$tmp/info")" -eq 1 ]'
bid=$(grep -P "^  [0-9]+\t" "$tmp/info" | cut -f1 | tr -d " ")
check "the broker line shows the bootstrap port ($bport)" \
    eval 'grep -qP "^  $bid\t[^\t]+:$bport(\t|\$)" "$tmp/info"'
check "controller id is the broker's id ($bid)" eval '[ -n "$bid" ] && [ "$(info_field Controller)" = "$bid" ]'
check "the broker is marked (controller)" eval 'grep -qP "^  $bid\t.*\t\(controller\)\$" "$tmp/info"'
check "cluster id is known" eval '[ -n "$(info_field "Cluster id")" ] && [ "$(info_field "Cluster id")" != unknown ]'
check "Topics equals topic list --all ($ntopics)" eval '[ "$(info_field Topics)" = "$ntopics" ]'
check "Partitions equals describe --all's partition lines ($nparts)" \
    eval '[ "$nparts" -ge 3 ] && [ "$(info_field Partitions)" = "$nparts" ]'
check "no offline, under-replicated or imbalanced partitions" \
    eval '[ "$(info_field "Offline partitions")" = 0 ] && [ "$(info_field "Under-replicated partitions")" = 0 ] && [ "$(info_field "Preferred-leader imbalance")" = 0 ]'
run "$G" cluster info --json
check "cluster info --json parses and agrees with the text output" \
    eval '[ "$RC" -eq 0 ] && /usr/bin/python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
b = d[\"brokers\"]
assert len(b) == 1 and b[0][\"id\"] == int(sys.argv[2]) == d[\"controller_id\"], d
assert b[0][\"controller\"] is True and b[0][\"port\"] == int(sys.argv[3]), d
assert d[\"cluster_id\"] == sys.argv[4], d
assert (d[\"topics\"], d[\"partitions\"]) == (int(sys.argv[5]), int(sys.argv[6])), d
assert d[\"offline_partitions\"] == d[\"under_replicated_partitions\"] == d[\"preferred_leader_imbalance\"] == 0, d
" "$tmp/out" "$bid" "$bport" "$(info_field "Cluster id")" "$ntopics" "$nparts"'

# ---- cluster watch (text) -------------------------------------------------------
# Runs in the background: a "cluster" line first that agrees with cluster info;
# a topic created after it shows as topic_created; SIGINT ends it with status 0.
# wait_line PATTERN: up to 30 s for a line of $tmp/watch matching PATTERN.
wait_line() { local i; for i in $(seq 300); do grep -qE "$1" "$tmp/watch" && return 0; sleep 0.1; done; return 1; }
W="$T-watch"
"$G" cluster watch --interval 100 --topic "$W" >"$tmp/watch" 2>"$tmp/watch.err" </dev/null &
wpid=$!
wait_line " cluster " || true
"$G" topic create "$W" -p 2 >/dev/null 2>&1
wait_line " topic_created " || true
kill -INT "$wpid"; wait "$wpid"; RC=$?
cp "$tmp/watch" "$tmp/out"; cp "$tmp/watch.err" "$tmp/err"
check "cluster watch exits 0 on SIGINT with nothing on stderr" eval '[ "$RC" -eq 0 ] && [ ! -s "$tmp/err" ]'
check "cluster watch starts with a timestamped cluster line naming the broker as controller" \
    eval 'head -1 "$tmp/watch" | grep -qE "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z cluster cluster_id=$(info_field "Cluster id") controller=$bid brokers=\[$bid\] topics=0 partitions=0 "'
check "cluster watch shows the topic created meanwhile" \
    eval 'grep -qE "Z topic_created topic=$W partitions=2 replication_factor=1\$" "$tmp/watch"'
"$G" topic delete "$W" >/dev/null 2>&1

"$G" -b 127.0.0.1:1 cluster watch --interval 100 >"$tmp/watch" 2>"$tmp/watch.err" </dev/null &
wpid=$!
wait_line " unreachable reason=" || true
sleep 0.5
kill -INT "$wpid"; wait "$wpid"; RC=$?
cp "$tmp/watch" "$tmp/out"; cp "$tmp/watch.err" "$tmp/err"
check "cluster watch without a broker prints one unreachable event and exits 0 on SIGINT" \
    eval '[ "$RC" -eq 0 ] && [ "$(wc -l <"$tmp/watch")" -eq 1 ] && grep -qE "Z unreachable reason=.*127\.0\.0\.1:1" "$tmp/watch"'

# ---- cluster elect-leaders ----------------------------------------------------
# Two outcomes are accepted: the broker supports ElectLeaders and answers
# ELECTION_NOT_NEEDED for every (single-replica) partition, or it does not and
# the CLI says so in one line with exit status 1.
unsupported() { [ "$RC" -eq 1 ] && one_gregor_line && grep -q "the broker does not support ElectLeaders" "$tmp/err"; }
run "$G" cluster elect-leaders --topic "$T"
if unsupported; then
    echo "# elect-leaders: the broker does not support ElectLeaders ($(cat "$tmp/err"))"
    ok "elect-leaders --topic reports clearly that ElectLeaders is unsupported"
    run "$G" cluster elect-leaders --all
    check "elect-leaders --all reports the same" unsupported
else
    echo "# elect-leaders: the broker answered ElectLeaders"
    # Results are TOPIC-P<TAB>RESULT[<TAB>message]: compare the first two fields.
    check "elect-leaders --topic: ELECTION_NOT_NEEDED for partitions 0,1,2" \
        eval '[ "$RC" -eq 0 ] && [ "$(cut -f1,2 "$tmp/out")" = "$(printf "%s\tELECTION_NOT_NEEDED\n" "$T-0" "$T-1" "$T-2")" ]'
    run "$G" cluster elect-leaders --topic "$T" --partition 1
    check "elect-leaders --partition 1: only that partition, ELECTION_NOT_NEEDED" \
        eval '[ "$RC" -eq 0 ] && [ "$(cut -f1,2 "$tmp/out")" = "$(printf "%s\tELECTION_NOT_NEEDED" "$T-1")" ]'
    # With --all, brokers (like Kafka) may leave out partitions that needed no
    # election: then gregor says that no partition needed one.
    run "$G" cluster elect-leaders --all
    check "elect-leaders --all: nothing needed an election" \
        eval '[ "$RC" -eq 0 ] && { grep -qx "No partition needed a leader election." "$tmp/out" || ! cut -f2 "$tmp/out" | grep -qvx ELECTION_NOT_NEEDED; }'
fi
run "$G" cluster elect-leaders --topic "$T-missing"
check "elect-leaders of a missing topic exits 1" \
    eval '[ "$RC" -eq 1 ] && grep -qx "gregor: topic '\''$T-missing'\'' does not exist" "$tmp/err"'
run "$G" cluster elect-leaders --topic "$T" --partition 99
check "elect-leaders of a missing partition exits 1" eval '[ "$RC" -eq 1 ] && one_gregor_line'

# ---- cluster reassign --plan (one broker: nothing can move) --------------------
run "$G" cluster reassign --plan
check "reassign --plan without --add-broker/--remove-broker exits 2" \
    eval '[ "$RC" -eq 2 ] && one_gregor_line'
run "$G" cluster reassign --plan --add-broker 0 --remove-broker 0
check "reassign --plan with --add-broker and --remove-broker exits 2" \
    eval '[ "$RC" -eq 2 ] && one_gregor_line'
run "$G" cluster reassign --plan --add-broker x
check "reassign --plan --add-broker x exits 2" eval '[ "$RC" -eq 2 ] && one_gregor_line'
run "$G" -b 127.0.0.1:1 cluster reassign --plan --add-broker 0
check "reassign --plan with an unreachable broker exits 1 with one line" \
    eval '[ "$RC" -eq 1 ] && one_gregor_line'
run "$G" cluster reassign --plan --add-broker 0 --topics "$T"
check "reassign --plan --add-broker 0 on one broker: empty plan, summary on stderr" \
    eval '[ "$RC" -eq 0 ] && [ "$(cat "$tmp/out")" = "{\"version\":1,\"partitions\":[]}" ] &&
          grep -q "^Partitions changed: 0 of 3; replicas moved: 0" "$tmp/err"'
run "$G" cluster reassign --plan --add-broker 0 --topics "$T" --output "$tmp/plan.json"
check "reassign --plan --output writes the plan to the file" \
    eval '[ "$RC" -eq 0 ] && [ ! -s "$tmp/out" ] && grep -q "\"partitions\":\[\]" "$tmp/plan.json"'
run "$G" cluster reassign --plan --add-broker 42
check "reassign --plan --add-broker of a broker that is not live exits 1" \
    eval '[ "$RC" -eq 1 ] && grep -q "broker 42 is not a live broker" "$tmp/err"'
run "$G" cluster reassign --plan --remove-broker 0 --topics "$T"
check "reassign --plan --remove-broker of the only broker is refused (replication factor)" \
    eval '[ "$RC" -eq 1 ] && one_gregor_line && grep -q "fewer than the replication factor 1" "$tmp/err"'
run "$G" cluster reassign --plan --add-broker 0 --topics "$T-missing"
check "reassign --plan --topics of a missing topic exits 1" \
    eval '[ "$RC" -eq 1 ] && one_gregor_line'

# ---- topic configs: create -c, describe Configs, alter-config ---------------
C="$T-cfg"
# configs_of: the Configs field of the topic's describe header line.
configs_of() { head -1 "$tmp/out" | sed -n 's/^Topic: .*\tConfigs: \(.*\)$/\1/p'; }
run "$G" topic describe "$T"
check "describe of a topic without overrides shows empty Configs" \
    eval '[ "$RC" -eq 0 ] && [ -z "$(configs_of)" ] && head -1 "$tmp/out" | grep -qP "\tConfigs: \$"'
run "$G" topic create "$C" -p 1 -r 1 -c retention.ms=1000
check "create -c retention.ms=1000 exits 0" eval '[ "$RC" -eq 0 ] && grep -qx "Created topic $C." "$tmp/out"'
# A client that takes the broker for Kafka 0.9 (no ApiVersions, so no
# DescribeConfigs) cannot read the configs: describe says so and keeps the rest.
run "$G" -X api.version.request=false -X broker.version.fallback=0.9.0 topic describe "$C"
check "describe without DescribeConfigs says Configs unavailable, not an empty field" \
    eval '[ "$RC" -eq 0 ] && head -1 "$tmp/out" | grep -qP "^Topic: $C\tPartitionCount: 1\tReplicationFactor: 1\tConfigs: \(unavailable: .+\)\$" && grep -qP "^\tTopic: $C\tPartition: 0\tLeader: " "$tmp/out"'
run "$G" topic describe "$C"
check "describe shows only the override retention.ms=1000" \
    eval '[ "$RC" -eq 0 ] && [ "$(configs_of)" = "retention.ms=1000" ]'
run "$G" topic alter-config "$C" --set segment.bytes=100000 --delete retention.ms
check "alter-config --set segment.bytes --delete retention.ms exits 0" \
    eval '[ "$RC" -eq 0 ] && grep -qx "Updated config of topic $C: segment.bytes=100000" "$tmp/out" && [ ! -s "$tmp/err" ]'
run "$G" topic describe "$C"
check "describe then shows only segment.bytes=100000" \
    eval '[ "$RC" -eq 0 ] && [ "$(configs_of)" = "segment.bytes=100000" ]'
run "$G" topic alter-config "$C" --set retention.ms=2000 --set cleanup.policy=delete
check "alter-config keeps other overrides (sorted output)" \
    eval '[ "$RC" -eq 0 ] && grep -qx "Updated config of topic $C: cleanup.policy=delete,retention.ms=2000,segment.bytes=100000" "$tmp/out"'
run "$G" topic describe "$C"
check "describe shows the three overrides" \
    eval '[ "$(configs_of)" = "cleanup.policy=delete,retention.ms=2000,segment.bytes=100000" ]'
run "$G" topic alter-config "$C" --delete cleanup.policy --delete retention.ms
check "alter-config deleting two keys exits 0" \
    eval '[ "$RC" -eq 0 ] && grep -qx "Updated config of topic $C: segment.bytes=100000" "$tmp/out"'
run "$G" topic alter-config "$C" --set no.such.key=1
check "alter-config --set of an unknown key exits 1 with INVALID_CONFIG" \
    eval '[ "$RC" -eq 1 ] && one_gregor_line && grep -q "no.such.key" "$tmp/err" && grep -q INVALID_CONFIG "$tmp/err"'
run "$G" topic alter-config "$C" --delete no.such.key
check "alter-config --delete of an unknown key exits 1" \
    eval '[ "$RC" -eq 1 ] && one_gregor_line && grep -q "no.such.key" "$tmp/err"'
run "$G" topic alter-config "$C" --set segment.bytes=notanumber
check "alter-config with an invalid value exits 1" \
    eval '[ "$RC" -eq 1 ] && one_gregor_line && grep -q INVALID_CONFIG "$tmp/err"'
run "$G" topic alter-config "$C" --set retention.ms=5000 --delete segment.bytes --validate-only
check "alter-config --validate-only exits 0 and says not updated" \
    eval '[ "$RC" -eq 0 ] && grep -qx "Config of topic $C is valid (not updated): retention.ms=5000" "$tmp/out"'
run "$G" topic describe "$C"
check "failed and --validate-only alter-config changed nothing" \
    eval '[ "$RC" -eq 0 ] && [ "$(configs_of)" = "segment.bytes=100000" ]'
run "$G" topic alter-config "$C-missing" --set retention.ms=1000
check "alter-config of a missing topic exits 1" \
    eval '[ "$RC" -eq 1 ] && grep -qx "gregor: topic '\''$C-missing'\'' does not exist" "$tmp/err"'
run "$G" topic alter-config "$C" --delete segment.bytes
check "alter-config deleting the last override exits 0" \
    eval '[ "$RC" -eq 0 ] && grep -qx "Updated config of topic $C: " "$tmp/out"'
run "$G" topic describe "$C"
check "describe then shows no overrides" eval '[ "$RC" -eq 0 ] && [ -z "$(configs_of)" ]'
run "$G" topic create "$C-bad" -c no.such.key=1
check "create -c with an unknown key exits 1" \
    eval '[ "$RC" -eq 1 ] && one_gregor_line && grep -q INVALID_CONFIG "$tmp/err"'
run "$G" topic delete "$C"
check "config test topic deleted" eval '[ "$RC" -eq 0 ]'

# ---- topic alter-partitions ---------------------------------------------------
P="$T-parts"
run "$G" topic create "$P" -p 1 -r 1
check "partitions test topic created" eval '[ "$RC" -eq 0 ]'
run "$G" topic alter-partitions "$P" --partitions 3
check "alter-partitions -p 3 exits 0" \
    eval '[ "$RC" -eq 0 ] && grep -qx "Topic $P now has 3 partitions." "$tmp/out" && [ ! -s "$tmp/err" ]'
run "$G" topic describe "$P"
check "describe then lists partitions 0,1,2 with leaders" \
    eval '[ "$RC" -eq 0 ] && [ "$(wc -l <"$tmp/out")" -eq 4 ] && [ "$(grep -cP "\tLeader: 0\t" "$tmp/out")" -eq 3 ]'
run "$G" topic alter-partitions "$P" -p 3
check "alter-partitions to the same count exits 1 with INVALID_PARTITIONS" \
    eval '[ "$RC" -eq 1 ] && one_gregor_line && grep -q INVALID_PARTITIONS "$tmp/err"'
run "$G" topic alter-partitions "$P" -p 2
check "alter-partitions to fewer exits 1 with INVALID_PARTITIONS" \
    eval '[ "$RC" -eq 1 ] && one_gregor_line && grep -q INVALID_PARTITIONS "$tmp/err"'
run "$G" topic alter-partitions "$P" -p 5 --validate-only
check "alter-partitions --validate-only exits 0 and says not changed" \
    eval '[ "$RC" -eq 0 ] && grep -qx "Topic $P can have 5 partitions (not changed)." "$tmp/out"'
run "$G" topic alter-partitions "$P" -p 5 --assignment 0,7
check "alter-partitions naming an unknown broker exits 1 with INVALID_REPLICA_ASSIGNMENT" \
    eval '[ "$RC" -eq 1 ] && one_gregor_line && grep -q INVALID_REPLICA_ASSIGNMENT "$tmp/err"'
run "$G" topic describe "$P"
check "failed and --validate-only alter-partitions changed nothing" \
    eval '[ "$RC" -eq 0 ] && [ "$(wc -l <"$tmp/out")" -eq 4 ]'
run "$G" topic alter-partitions "$P" -p 4 --assignment 0
check "alter-partitions with --assignment exits 0" \
    eval '[ "$RC" -eq 0 ] && grep -qx "Topic $P now has 4 partitions." "$tmp/out"'
run "$G" topic alter-partitions "$P-missing" -p 2
check "alter-partitions of a missing topic exits 1" \
    eval '[ "$RC" -eq 1 ] && one_gregor_line && grep -q UNKNOWN_TOPIC "$tmp/err"'
printf 'x1\nx2\n' >"$tmp/pin"
run_in "$tmp/pin" "$G" produce "$P" --partition 3
check "produce to a new partition exits 0" eval '[ "$RC" -eq 0 ] && [ ! -s "$tmp/err" ]'
run "$G" consume "$P" --partition 3 --offset beginning -e --print-offset
check "consume of the new partition returns its records" \
    eval '[ "$RC" -eq 0 ] && [ "$(cat "$tmp/out")" = "$(printf "3:0\tx1\n3:1\tx2")" ]'
run "$G" topic delete "$P"
check "partitions test topic deleted" eval '[ "$RC" -eq 0 ]'

# ---- produce / consume ------------------------------------------------------
for i in $(seq 1 1000); do echo "key-$i:value-$i"; done >"$tmp/in"
run_in "$tmp/in" "$G" produce "$T" --key-separator :
check "produce of 1000 keyed lines exits 0" eval '[ "$RC" -eq 0 ] && [ ! -s "$tmp/err" ]'

run "$G" consume "$T" --from-beginning -n 1000 --print-key
cp "$tmp/out" "$tmp/consumed"
check "consume -n 1000 exits 0" eval '[ "$RC" -eq 0 ]'
check "consume returned 1000 lines" eval '[ "$(wc -l <"$tmp/consumed")" -eq 1000 ]'
check "consumed key/value pairs equal the produced ones" \
    eval 'diff <(sort "$tmp/in") <(tr "\t" : <"$tmp/consumed" | sort) >/dev/null'

run "$G" consume "$T" --from-beginning --exit-at-end --print-offset
cp "$tmp/out" "$tmp/offsets"
check "consume --exit-at-end stops with 1000 records" eval '[ "$RC" -eq 0 ] && [ "$(wc -l <"$tmp/offsets")" -eq 1000 ]'
check "--print-offset prefixes partition:offset" eval '! grep -vqP "^[0-2]:[0-9]+\\tvalue-[0-9]+\$" "$tmp/offsets"'
check "offsets are unique per partition" eval '[ "$(cut -f1 "$tmp/offsets" | sort -u | wc -l)" -eq 1000 ]'
p0=$(grep -c '^0:' "$tmp/offsets")
run "$G" consume "$T" --partition 0 --offset beginning -e
check "--partition 0 returns that partition's records" eval '[ "$RC" -eq 0 ] && [ "$(wc -l <"$tmp/out")" -eq "$p0" ]'
run "$G" consume "$T" --partition 0 --offset 1 -e --print-offset
check "--offset 1 starts at offset 1" eval '[ "$RC" -eq 0 ] && { [ "$p0" -le 1 ] || head -1 "$tmp/out" | grep -qP "^0:1\\t"; }'

start=$(date +%s%N)
run "$G" consume "$T" --timeout-ms 1500
el=$((($(date +%s%N) - start) / 1000000))
check "consume from the end with --timeout-ms exits 0 without output" eval '[ "$RC" -eq 0 ] && [ ! -s "$tmp/out" ]'
check "--timeout-ms waited about 1.5 s ($el ms)" eval '[ "$el" -ge 1400 ] && [ "$el" -lt 30000 ]'

printf 'a:1\nno-separator\n' >"$tmp/bad"
run_in "$tmp/bad" "$G" produce "$T" -K :
check "produce of a line without separator exits 1" eval '[ "$RC" -eq 1 ] && one_gregor_line'
run "$G" consume "$T-missing" -n 1
check "consume of a missing topic exits 1" eval '[ "$RC" -eq 1 ] && one_gregor_line'

# ---- delete -------------------------------------------------------------------
run "$G" topic delete "$T"
check "topic delete exits 0" eval '[ "$RC" -eq 0 ] && grep -qx "Deleted topic $T." "$tmp/out"'
for _ in $(seq 1 20); do
    run "$G" topic list
    grep -qx "$T" "$tmp/out" || break
    sleep 0.5
done
check "deleted topic disappears from topic list" eval '[ "$RC" -eq 0 ] && ! grep -qx "$T" "$tmp/out"'
run "$G" topic delete "$T"
check "deleting it again exits 1" eval '[ "$RC" -eq 1 ] && one_gregor_line'
run "$G" topic delete "$T" --if-exists
check "delete --if-exists of a missing topic exits 0" eval '[ "$RC" -eq 0 ]'

finish
