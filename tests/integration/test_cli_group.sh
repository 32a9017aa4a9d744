#!/usr/bin/env bash
#
# tests/integration/test_cli_group.sh — end-to-end test of `gregor group`
# and `gregor consume --group` against an already running broker (one
# broker with offsets.topic.replication.factor=1 and
# group.initial.rebalance.delay.ms=0, as tests/integration/
# test_cli_group_runner.c starts it).
#
#   GREGOR_BOOTSTRAP=127.0.0.1:9092 tests/integration/test_cli_group.sh [GREGOR]
#
# GREGOR (the binary) is $1, else $GREGOR_CLI, else build/bin/gregor.
# Scenario, on a fresh 4-partition topic:
#  1. two `consume --group G1` processes split the topic's 400 records
#     (every record once, no partition read by both); a second group G2
#     reads all 400 again;
#  2. `group list` (text, --state, JSON);
#  3. 40 more records, 2 s later: `group describe G1` shows lag 40 in
#     records and >= 2 s on the lagging partitions, "-" when caught up;
#  4. `reset-offsets`: every mode's plan, --execute with an undo file,
#     --from-file applying it back, refusal while G1 has a member;
#  5. `delete-offsets` and `delete`;
#  6. a group created by reset-offsets, described after its topic is deleted.
# Prints one "ok -" / "not ok -" line per check and "N passed, M failed".
# Exit status: 0 all passed, 1 any failed, 77 skipped (GREGOR_BOOTSTRAP unset).
# The checks are eval'd strings, expanded when run:
# shellcheck disable=SC2016,SC2317,SC2034
set -u

pass=0
fail=0
tmp=$(mktemp -d)
bg_pids=()
cleanup() {
    for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT

ok() { pass=$((pass + 1)); echo "ok - $1"; }
not_ok() {
    fail=$((fail + 1))
    echo "not ok - $1"
    if [ -n "${2:-}" ]; then printf '%s\n' "$2" | sed 's/^/#   /' | head -30; fi
}
check() { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d" "$(detail)"; fi; }
detail() { printf 'rc=%s\nstdout: %s\nstderr: %s' "${RC:-}" "$(head -c 1500 "$tmp/out" 2>/dev/null)" \
    "$(head -c 600 "$tmp/err" 2>/dev/null)"; }
run() { timeout 60 "$@" >"$tmp/out" 2>"$tmp/err" </dev/null; RC=$?; }
run_in() { local f=$1; shift; timeout 60 "$@" >"$tmp/out" 2>"$tmp/err" <"$f"; RC=$?; }
one_gregor_line() { [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q '^gregor: ' "$tmp/err"; }
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit $?; }
# py SCRIPT ARGS...: runs a Python check on $tmp/out (sys.argv[1]); exit 0 = pass.
# show: copies the last command's stdout into the log as "#| " lines.
show() { sed 's/^/#| /' "$tmp/out"; }
py() { local s=$1; shift; /usr/bin/python3 -c "$s" "$tmp/out" "$@"; }

if [ -z "${GREGOR_BOOTSTRAP:-}" ]; then
    echo "# GREGOR_BOOTSTRAP is not set: no broker to test against, skipping"
    echo "0 passed, 0 failed"
    exit 77
fi
here=$(cd "$(dirname "$0")" && pwd)
G=""
for g in "${1:-}" "${GREGOR_CLI:-}" "$here/../../build/bin/gregor"; do
    if [ -n "$g" ] && [ -x "$g" ]; then G=$g; break; fi
done
[ -n "$G" ] || { echo "# gregor binary not found"; echo "0 passed, 1 failed"; exit 1; }
echo "# gregor: $G, broker: $GREGOR_BOOTSTRAP"
sfx="$$-$(date +%s%N)"
T="grp-topic-$sfx"
G1="grp-one-$sfx"
G2="grp-two-$sfx"

# ---- help and usage errors --------------------------------------------------------
for cmd in "group" "group list" "group describe" "group reset-offsets" "group delete" \
           "group delete-offsets"; do
    # shellcheck disable=SC2086
    run "$G" $cmd --help
    check "'gregor $cmd --help' exits 0 with usage" \
        eval '[ "$RC" -eq 0 ] && grep -q "^Usage: gregor" "$tmp/out" && [ ! -s "$tmp/err" ]'
    # shellcheck disable=SC2086
    run "$G" $cmd --no-such-option
    check "'gregor $cmd --no-such-option' exits 2 with one line" eval '[ "$RC" -eq 2 ] && one_gregor_line'
done
usage() { local d=$1; shift; run "$G" "$@"; check "$d exits 2 with one line" eval '[ "$RC" -eq 2 ] && one_gregor_line'; }
usage "group without subcommand" group
usage "group describe without a group" group describe
usage "group list --state Bogus" group list --state Bogus
usage "group list --output xml" group list --output xml
usage "reset-offsets without a mode" group reset-offsets g --topic t
usage "reset-offsets with two modes" group reset-offsets g --topic t --to-earliest --to-latest
usage "reset-offsets without --topic" group reset-offsets g --to-earliest
usage "reset-offsets with a bad datetime" group reset-offsets g --topic t --to-datetime 2026-13-01
usage "reset-offsets with a bad duration" group reset-offsets g --topic t --by-duration 1h
usage "reset-offsets with a negative --to-offset" group reset-offsets g --topic t --to-offset -1
usage "reset-offsets --from-file with --topic" group reset-offsets g --topic t --from-file x
usage "reset-offsets with a bad partition list" group reset-offsets g --topic t:0,x --to-earliest
usage "delete-offsets without --topic" group delete-offsets g
run "$G" -b 127.0.0.1:1 group list
check "group list with an unreachable broker exits 1 with one line" eval '[ "$RC" -eq 1 ] && one_gregor_line'

# ---- set-up: a 4-partition topic ------------------------------------------------------
run "$G" topic create "$T" -p 4 -r 1
check "topic create exits 0" eval '[ "$RC" -eq 0 ]'
for _ in $(seq 1 40); do
    run "$G" topic describe "$T"
    [ "$RC" -eq 0 ] && ! grep -q 'Leader: none' "$tmp/out" && break
    sleep 0.5
done

# ---- 1. two consumers of one group split the topic ------------------------------------
# group_state GROUP: prints "STATE MEMBERS ASSIGNED" from describe's JSON.
group_state() {
    timeout 30 "$G" group describe "$1" --output json 2>/dev/null | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["state"], len(d["members"]), sum(len(m["assignment"]) for m in d["members"]))' 2>/dev/null
}
for i in 1 2; do
    timeout 120 "$G" consume "$T" --group "$G1" --from-beginning --print-offset \
        -X client.id="member-$i" >"$tmp/c$i" 2>"$tmp/c$i.err" &
    bg_pids+=($!)
done
for _ in $(seq 1 60); do
    [ "$(group_state "$G1")" = "Stable 2 4" ] && break
    sleep 0.5
done
echo "# $G1 before producing: $(group_state "$G1")"
run "$G" group describe "$G1"
show
check "describe shows both members with client id and assignment" \
    eval '[ "$RC" -eq 0 ] && grep -q "^Group: $G1  State: Stable" "$tmp/out" && grep -q "^Member: .*ClientId: member-1 .*Assignment: $T:" "$tmp/out" && grep -q "^Member: .*ClientId: member-2 .*Assignment: $T:" "$tmp/out"'
seq 1 400 | awk '{print "k" $1 ":v" $1}' >"$tmp/in"
run_in "$tmp/in" "$G" produce "$T" -K :
check "produce 400 keyed records" eval '[ "$RC" -eq 0 ]'
for _ in $(seq 1 120); do
    [ "$(cat "$tmp/c1" "$tmp/c2" | wc -l)" -ge 400 ] && break
    sleep 0.25
done
sleep 1 # let a duplicate, if any, arrive too
kill -TERM "${bg_pids[0]}" "${bg_pids[1]}" 2>/dev/null
wait "${bg_pids[0]}"; rc1=$?
wait "${bg_pids[1]}"; rc2=$?
bg_pids=()
check "both group consumers exit 0 on SIGTERM" eval '[ "$rc1" -eq 0 ] && [ "$rc2" -eq 0 ]'
check "the two members together read all 400 records exactly once" \
    eval '[ "$(cat "$tmp/c1" "$tmp/c2" | wc -l)" -eq 400 ] && [ "$(cat "$tmp/c1" "$tmp/c2" | cut -f2 | sort -u | wc -l)" -eq 400 ]'
check "each member read some records" eval '[ -s "$tmp/c1" ] && [ -s "$tmp/c2" ]'
check "no partition was read by both members" \
    eval '[ -z "$(comm -12 <(cut -d: -f1 "$tmp/c1" | sort -u) <(cut -d: -f1 "$tmp/c2" | sort -u))" ]'
run "$G" consume "$T" --group "$G2" --from-beginning -e --timeout-ms 30000
check "a second group reads all 400 records again" \
    eval '[ "$RC" -eq 0 ] && [ "$(sort -u "$tmp/out" | wc -l)" -eq 400 ] && [ "$(wc -l <"$tmp/out")" -eq 400 ]'

# ---- 2. group list --------------------------------------------------------------------
for _ in $(seq 1 40); do
    [ "$(group_state "$G1" | cut -d" " -f1)" = Empty ] && break
    sleep 0.5
done
run "$G" group list
show
check "group list shows both groups Empty with protocol type consumer" \
    eval '[ "$RC" -eq 0 ] && head -1 "$tmp/out" | grep -q "^GROUP  *STATE  *PROTOCOL-TYPE\$" && grep -qE "^$G1 +Empty +consumer\$" "$tmp/out" && grep -qE "^$G2 +Empty +consumer\$" "$tmp/out"'
run "$G" group list --state Stable
check "group list --state Stable omits the empty groups" eval '[ "$RC" -eq 0 ] && ! grep -q "$G1" "$tmp/out"'
run "$G" group list --state stable,EMPTY --output json
check "group list --output json (states case-insensitive)" eval '[ "$RC" -eq 0 ] && py "
import json, sys
g = {x[\"group\"]: x for x in json.load(open(sys.argv[1]))[\"groups\"]}
assert g[sys.argv[2]] == {\"group\": sys.argv[2], \"state\": \"Empty\", \"protocol_type\": \"consumer\"}, g
assert g[sys.argv[3]][\"state\"] == \"Empty\", g
" "$G1" "$G2"'

# ---- 3. describe: lag in records and seconds ----------------------------------------------
run "$G" group describe "$G1" --output json
check "G1 committed every partition's end after consuming (lag 0, lag_seconds 0)" eval '[ "$RC" -eq 0 ] && py "
import json, sys
d = json.load(open(sys.argv[1]))
p = d[\"partitions\"]
assert len(p) == 4 and sum(x[\"committed_offset\"] for x in p) == 400, p
assert all(x[\"lag\"] == 0 and x[\"lag_seconds\"] == 0 for x in p), p
"'
seq 401 440 | awk '{print "k" $1 ":v" $1}' >"$tmp/in2"
run_in "$tmp/in2" "$G" produce "$T" -K :
sleep 2.2
run "$G" group describe "$G1" --output json
cp "$tmp/out" "$tmp/before.json"
check "describe --output json: lag 40 records, >= 2 s where lagging, 0 where not" eval '[ "$RC" -eq 0 ] && py "
import json, sys
d = json.load(open(sys.argv[1]))
assert d[\"group\"] == sys.argv[2] and d[\"state\"] == \"Empty\" and d[\"members\"] == [], d
assert d[\"protocol_type\"] == \"consumer\", d
p = d[\"partitions\"]
assert [x[\"partition\"] for x in p] == [0, 1, 2, 3], p
assert sum(x[\"lag\"] for x in p) == 40, p
for x in p:
    assert x[\"lag\"] == x[\"log_end_offset\"] - x[\"committed_offset\"], x
    if x[\"lag\"] > 0:
        assert 2.0 <= x[\"lag_seconds\"] < 60, x
    else:
        assert x[\"lag_seconds\"] == 0, x
" "$G1"'
run "$G" group describe "$G1"
show
check "describe text: header and a lag-seconds column" \
    eval '[ "$RC" -eq 0 ] && grep -q "^Group: $G1  State: Empty  ProtocolType: consumer" "$tmp/out" && grep -qE "^TOPIC +PARTITION +CURRENT-OFFSET +LOG-END-OFFSET +LAG +LAG-SECONDS +MEMBER-ID\$" "$tmp/out" && [ "$(grep -cE "^$T +[0-3] +[0-9]+ +[0-9]+ +[0-9]+ +([0-9]+\.[0-9]|-) +-\$" "$tmp/out")" -eq 4 ]'
check "describe text: a lagging partition shows seconds >= 2" \
    eval 'awk -v t="$T" '\''$1 == t && $5 > 0 && $6 >= 2 {n++} END {exit n ? 0 : 1}'\'' "$tmp/out"'
run "$G" group describe "no-such-group-$sfx"
check "describe of a missing group exits 1" eval '[ "$RC" -eq 1 ] && one_gregor_line && grep -q "does not exist" "$tmp/err"'

# ---- 4. reset-offsets ----------------------------------------------------------------------
# committed_sum: the sum of G1's committed offsets.
committed_sum() {
    timeout 30 "$G" group describe "$G1" --output json | /usr/bin/python3 -c '
import json, sys
print(sum(x["committed_offset"] or 0 for x in json.load(sys.stdin)["partitions"]))'
}
run "$G" group reset-offsets "$G1" --topic "$T" --to-earliest
show
check "reset --to-earliest prints a plan of 4 partitions to 0 and changes nothing" \
    eval '[ "$RC" -eq 0 ] && [ "$(grep -cE "^$T +[0-3] +[0-9]+ +0\$" "$tmp/out")" -eq 4 ] && grep -q "^Plan only" "$tmp/out" && [ "$(committed_sum)" -eq 400 ]'
run "$G" group reset-offsets "$G1" --topic "$T" --to-latest --output json
check "reset --to-latest plan (JSON): new = log end, not executed" eval '[ "$RC" -eq 0 ] && py "
import json, sys
d = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
end = {x[\"partition\"]: x[\"log_end_offset\"] for x in b[\"partitions\"]}
assert d[\"executed\"] is False and d[\"undo_file\"] is None, d
assert {x[\"partition\"]: x[\"new_offset\"] for x in d[\"partitions\"]} == end, d
" "$tmp/before.json"'
run "$G" group reset-offsets "$G1" --topic "$T:1,3" --shift-by -3 --output json
check "reset --shift-by -3 on T:1,3 plans only those partitions" eval '[ "$RC" -eq 0 ] && py "
import json, sys
d = json.load(open(sys.argv[1]))
p = d[\"partitions\"]
assert [x[\"partition\"] for x in p] == [1, 3], p
assert all(x[\"new_offset\"] == max(x[\"current_offset\"] - 3, 0) for x in p), p
"'
run "$G" group reset-offsets "$G1" --topic "$T" --to-offset 1000000 --output json
check "reset --to-offset beyond the end is clamped to the end" eval '[ "$RC" -eq 0 ] && py "
import json, sys
d = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
end = {x[\"partition\"]: x[\"log_end_offset\"] for x in b[\"partitions\"]}
assert {x[\"partition\"]: x[\"new_offset\"] for x in d[\"partitions\"]} == end, d
" "$tmp/before.json"'
run "$G" group reset-offsets "$G1" --topic "$T" --by-duration PT1H --output json
check "reset --by-duration PT1H goes back to the first record (all are newer)" \
    eval '[ "$RC" -eq 0 ] && py "
import json, sys
assert all(x[\"new_offset\"] == 0 for x in json.load(open(sys.argv[1]))[\"partitions\"])
"'
run "$G" group reset-offsets "$G1" --topic "$T" --to-datetime 2099-01-01T00:00:00Z --output json
check "reset --to-datetime in the future goes to the log end" eval '[ "$RC" -eq 0 ] && py "
import json, sys
d = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
end = {x[\"partition\"]: x[\"log_end_offset\"] for x in b[\"partitions\"]}
assert {x[\"partition\"]: x[\"new_offset\"] for x in d[\"partitions\"]} == end, d
" "$tmp/before.json"'
mid=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
sleep 1.1
seq 441 460 | awk '{print "k" $1 ":v" $1}' >"$tmp/in3"
run_in "$tmp/in3" "$G" produce "$T" -K :
run "$G" group reset-offsets "$G1" --topic "$T" --to-datetime "$mid" --output json
check "reset --to-datetime between two batches: 440 records before it" eval '[ "$RC" -eq 0 ] && py "
import json, sys
assert sum(x[\"new_offset\"] for x in json.load(open(sys.argv[1]))[\"partitions\"]) == 440
"'
run "$G" group reset-offsets "$G1" --topic "$T" --to-earliest --execute --undo-file "$tmp/undo.json"
show
check "reset --to-earliest --execute commits 0 everywhere" \
    eval '[ "$RC" -eq 0 ] && grep -q "^Reset the offsets of group $G1" "$tmp/out" && [ "$(committed_sum)" -eq 0 ]'
check "the undo file holds the offsets before the reset" eval 'py "
import json, sys
u = json.load(open(sys.argv[2])); b = json.load(open(sys.argv[3]))
assert u[\"group\"] == sys.argv[4], u
was = {x[\"partition\"]: x[\"committed_offset\"] for x in b[\"partitions\"]}
assert {x[\"partition\"]: x[\"offset\"] for x in u[\"offsets\"] if x[\"topic\"] == sys.argv[5]} == was, u
" "$tmp/undo.json" "$tmp/before.json" "$G1" "$T"'
run "$G" group reset-offsets "$G1" --topic "$T" --to-earliest --execute --undo-file "$tmp/undo.json"
check "an existing undo file is never overwritten (exit 1, nothing changed)" \
    eval '[ "$RC" -eq 1 ] && one_gregor_line && grep -q "undo file" "$tmp/err"'
run "$G" group reset-offsets "$G2" --from-file "$tmp/undo.json"
check "--from-file refuses another group's undo file" eval '[ "$RC" -eq 1 ] && one_gregor_line'
(cd "$tmp" && timeout 60 "$G" group reset-offsets "$G1" --from-file "$tmp/undo.json" --execute >"$tmp/out" 2>"$tmp/err")
RC=$?
check "--from-file --execute applies the undo file back (400 committed)" \
    eval '[ "$RC" -eq 0 ] && [ "$(committed_sum)" -eq 400 ]'
check "--execute without --undo-file writes GROUP-reset-<time>.json in the working directory" \
    eval 'ls "$tmp"/"$G1"-reset-*Z.json >/dev/null 2>&1'
timeout 120 "$G" consume "$T" --group "$G1" >/dev/null 2>&1 &
bg_pids+=($!)
for _ in $(seq 1 60); do
    [ "$(group_state "$G1" | cut -d" " -f1)" = Stable ] && break
    sleep 0.5
done
run "$G" group reset-offsets "$G1" --topic "$T" --to-earliest --execute --undo-file "$tmp/undo3.json"
sed 's/^/#| /' "$tmp/err"
check "reset --execute is refused while the group has a member" \
    eval '[ "$RC" -eq 1 ] && one_gregor_line && grep -q "member" "$tmp/err" && [ ! -e "$tmp/undo3.json" ]'
run "$G" group delete "$G1"
sed 's/^/#| /' "$tmp/err"
check "delete of a group with a member exits 1" eval '[ "$RC" -eq 1 ] && one_gregor_line'
kill -TERM "${bg_pids[0]}" 2>/dev/null
wait "${bg_pids[0]}"
bg_pids=()

# ---- 5. delete-offsets, delete -----------------------------------------------------------
run "$G" group delete-offsets "$G2" --topic "$T:0,1,2" --output json
check "delete-offsets --output json: 3 partitions without error" eval '[ "$RC" -eq 0 ] && py "
import json, sys
d = json.load(open(sys.argv[1]))
assert d[\"group\"] == sys.argv[2] and [x[\"partition\"] for x in d[\"partitions\"]] == [0, 1, 2], d
assert all(x[\"error\"] is None for x in d[\"partitions\"]), d
" "$G2"'
run "$G" group describe "$G2" --output json
check "G2 keeps only partition 3's committed offset" eval '[ "$RC" -eq 0 ] && py "
import json, sys
p = json.load(open(sys.argv[1]))[\"partitions\"]
assert [(x[\"partition\"], x[\"committed_offset\"] is not None) for x in p] == [(3, True)], p
"'
run "$G" group delete-offsets "$G1" --topic "$T:0"
show
check "delete-offsets text output" eval '[ "$RC" -eq 0 ] && grep -qP "^$T:0\tdeleted\$" "$tmp/out"'
run "$G" group delete "$G1" --output json
check "delete --output json" eval '[ "$RC" -eq 0 ] && py "
import json, sys
assert json.load(open(sys.argv[1])) == {\"group\": sys.argv[2], \"deleted\": True}
" "$G1"'
run "$G" group list
check "a deleted group is no longer listed" eval '[ "$RC" -eq 0 ] && ! grep -q "^$G1 " "$tmp/out"'
run "$G" group describe "$G1"
check "describe of the deleted group exits 1" eval '[ "$RC" -eq 1 ] && grep -q "does not exist" "$tmp/err"'
run "$G" group delete "$G1"
check "deleting it again exits 1 with one line" eval '[ "$RC" -eq 1 ] && one_gregor_line'
run "$G" group delete "$G2"
check "delete G2 exits 0" eval '[ "$RC" -eq 0 ] && grep -qx "Deleted group $G2." "$tmp/out"'

# ---- 6. offsets of a deleted topic ----------------------------------------------------------
# reset-offsets --execute creates a group that never had members; once its
# topic is deleted, describe still works and shows the log end as unknown.
G3="grp-three-$sfx"
T2="grp-gone-$sfx"
run "$G" topic create "$T2" -p 1 -r 1
for _ in $(seq 1 40); do
    run "$G" topic describe "$T2"
    [ "$RC" -eq 0 ] && ! grep -q 'Leader: none' "$tmp/out" && break
    sleep 0.5
done
printf 'a\nb\nc\n' >"$tmp/in4"
run_in "$tmp/in4" "$G" produce "$T2"
run "$G" group reset-offsets "$G3" --topic "$T2" --to-offset 1 --execute --undo-file "$tmp/undo4.json"
check "reset --execute on a group that does not exist yet creates its offsets" \
    eval '[ "$RC" -eq 0 ] && grep -qE "^$T2 +0 +- +1\$" "$tmp/out"'
run "$G" group describe "$G3" --output json
check "the new group has committed offset 1, lag 2" eval '[ "$RC" -eq 0 ] && py "
import json, sys
p = json.load(open(sys.argv[1]))[\"partitions\"]
assert [(x[\"committed_offset\"], x[\"lag\"]) for x in p] == [(1, 2)], p
"'
run "$G" topic delete "$T2"
sleep 1
start=$(date +%s)
run "$G" group describe "$G3"
show
# Kafka drops the offsets of a deleted topic (the group then no longer
# exists); a broker that keeps them must still let describe work.
if [ "$RC" -eq 1 ] && grep -q "does not exist" "$tmp/err"; then
    echo "# deleted topic: the broker dropped its offsets, so $G3 is gone"
    check "describe after the topic was deleted: the group is gone (one line)" one_gregor_line
else
    echo "# deleted topic: the broker kept its offsets"
    check "describe after the topic was deleted: exit 0, log end unknown, one warning" \
        eval '[ "$RC" -eq 0 ] && grep -qE "^$T2 +0 +1 +- +- +- +-\$" "$tmp/out" && one_gregor_line && grep -q "warning: log end offset of $T2:0 unknown" "$tmp/err"'
fi
echo "# describe with a deleted topic took $(($(date +%s) - start)) s"

run "$G" topic delete "$T"
finish
