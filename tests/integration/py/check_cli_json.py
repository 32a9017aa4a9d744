#!/usr/bin/env python3
"""tests/integration/py/check_cli_json.py — `--output json` of the gregor commands that print
state (docs/cli.md, "JSON output"), against one running broker: every document must parse with
Python's json module and carry the documented fields with the values the cluster holds.

Environment: GREGOR_CLI (the gregor binary), GREGOR_BOOTSTRAP (host:port). Prints one
"ok - NAME" line per command; exits 1 at the first failure."""
import json
import os
import subprocess
import sys

CLI = os.environ["GREGOR_CLI"]
BOOT = os.environ["GREGOR_BOOTSTRAP"]


def run(*args, stdin=None, rc=0):
    p = subprocess.run([CLI, "-b", BOOT, *args], input=stdin, capture_output=True, text=True,
                       timeout=60)
    if p.returncode != rc:
        sys.exit(f"not ok - {' '.join(args)}: exit {p.returncode}: {p.stderr.strip()}")
    return p.stdout


def doc(*args, rc=0):
    out = run(*args, rc=rc)
    try:
        return json.loads(out)
    except ValueError as e:
        sys.exit(f"not ok - {' '.join(args)}: not JSON ({e}):\n{out}")


def check(name, cond, what):
    if not cond:
        sys.exit(f"not ok - {name}: {what}")
    print(f"ok - {name}")


run("topic", "create", "jt", "-p", "2", "-r", "1", "-c", "retention.ms=86400000")
run("produce", "jt", "-p", "1", "-X", "enable.idempotence=true", stdin="a\nb\n")
run("quota", "set", "--user", "alice", "--producer-byte-rate", "1048576")
run("acl", "add", "--allow", "User:bob", "--operation", "Read", "--topic", "bobs")

d = doc("topic", "list", "--output", "json")
t = [x for x in d["topics"] if x["name"] == "jt"]
check("topic list", t and t[0]["partitions"] == 2 and t[0]["replication_factor"] == 1
      and t[0]["internal"] is False, d)

d = doc("topic", "describe", "jt", "--output", "json")
t = d["topics"][0]
check("topic describe", t["name"] == "jt" and t["partition_count"] == 2
      and t["configs"] == {"retention.ms": "86400000"} and t["configs_error"] is None
      and [p["partition"] for p in t["partitions"]] == [0, 1]
      and all(p["leader"] == p["replicas"][0] and p["isr"] == p["replicas"] and p["flags"] == []
              for p in t["partitions"]), d)

d = doc("topic", "producers", "jt", "--output", "json")
ps = {p["partition"]: p for p in d["partitions"]}
check("topic producers", d["topic"] == "jt" and ps[0]["producers"] == []
      and ps[1]["error"] is None and len(ps[1]["producers"]) == 1
      and ps[1]["producers"][0]["last_sequence"] == 1
      and ps[1]["producers"][0]["coordinator_epoch"] == -1
      and ps[1]["producers"][0]["txn_start_offset"] == -1, d)

d = doc("cluster", "info", "--output", "json")
check("cluster info", len(d["brokers"]) == 1 and d["controller_id"] == d["brokers"][0]["id"]
      and d["offline_partitions"] == 0 and isinstance(d["partitions"], int), d)

d = doc("cluster", "config", "describe", "--broker", "0", "--output", "json")
c = {x["name"]: x for x in d["configs"]}
check("cluster config describe", d["broker"] == 0 and c["broker.id"]["value"] == "0"
      and c["broker.id"]["read_only"] is True and isinstance(c["broker.id"]["source"], str), d)

d = doc("quota", "list", "--output", "json")
check("quota list", {"entity": {"user": "alice"}, "quotas": {"producer_byte_rate": 1048576}}
      in d["quotas"], d)

d = doc("acl", "list", "--output", "json")
check("acl list", d == {"acls": [{"resource_type": "TOPIC", "pattern_type": "LITERAL",
                                  "name": "bobs", "principal": "User:bob", "host": "*",
                                  "operation": "READ", "permission": "ALLOW"}]}, d)

d = doc("user", "scram", "list", "--output", "json")
check("user scram list", d == {"credentials": []}, d)

d = doc("group", "list", "--output", "json")
check("group list", isinstance(d, (list, dict)), d)

d = doc("doctor", "--output", "json")
check("doctor", d["status"] == "ok" and d["brokers"] == 1 and all(
    f["severity"] == "info" for f in d["findings"]), d)

run("topic", "list", "--output", "xml", rc=2)
print("check_cli_json: all passed")
