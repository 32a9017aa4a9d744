#!/usr/bin/env python3
"""
tests/layers/check_layers.py — fails when a source file includes a header of a module it must
not use, so the dependency direction of docs/architecture.md §2 holds as code is added.

A module is a folder: common, proto, controller, cli, and inside broker/ the root (server,
topics, admin, watches, config), net, kafka, replication, storage, http and group. Each module may
include the headers of the modules listed for it in ALLOWED (its own always). Besides those,
a module outside controller/ may include only the controller's public headers (PUBLIC).
Includes that break these rules today are listed one per line in known_deviations.txt next to
this script (`file -> header`), each a known deviation of architecture.md §2.1; the check fails
on any other, and also on a listed line that no longer occurs (so the list only shrinks).

Usage: check_layers.py [repository root]   (exit 0: clean; 1: violations, listed)
"""
import os
import re
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                       os.path.join(os.path.dirname(__file__), "..", ".."))
HERE = os.path.dirname(os.path.abspath(__file__))

BROKER_SUBS = ("net", "kafka", "replication", "storage", "http", "group")

# module -> modules whose headers it may include (besides its own)
ALLOWED = {
    "common": set(),
    "proto": set(),
    "controller": {"common", "proto"},
    "cli": {"common"},
    "broker/storage": {"common"},
    "broker/group": {"common"},
    "broker/replication": {"common", "broker/storage"},
    "broker/kafka": {"common", "broker/storage", "broker/replication"},
    "broker/net": {"common", "broker/kafka"},
    "broker/http": {"common", "broker", "broker/net", "broker/kafka", "broker/replication",
                    "broker/storage"},
    "broker": {"common", "proto", "broker/net", "broker/kafka", "broker/replication",
               "broker/storage", "broker/http"},
}
# headers of controller/ that brokers and the CLI may use: the controller's interface and the
# ZooKeeper store (a library of its own by design, DESIGN §2)
PUBLIC = {"controller/controller.h", "controller/zk_store.h"}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def module_of(path):
    parts = path.split("/")
    if parts[0] == "broker":
        return "broker/" + parts[1] if len(parts) > 2 and parts[1] in BROKER_SUBS else "broker"
    return parts[0]


def allowed(src_mod, header):
    hmod = module_of(header)
    if hmod == src_mod or hmod in ALLOWED.get(src_mod, set()):
        return True
    return header in PUBLIC and src_mod != "common"


def sources():
    for top in ("common", "controller", "broker", "cli"):
        for d, _, files in os.walk(os.path.join(ROOT, top)):
            for f in files:
                if f.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(d, f), ROOT)


def main():
    found = set()
    for src in sorted(sources()):
        mod = module_of(src)
        with open(os.path.join(ROOT, src), encoding="utf-8", errors="replace") as f:
            for line in f:
                m = INCLUDE.match(line)
                if m and "/" in m.group(1) and not allowed(mod, m.group(1)):
                    found.add("%s -> %s" % (src, m.group(1)))
    known = set()
    with open(os.path.join(HERE, "known_deviations.txt")) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                known.add(line)
    new, gone = sorted(found - known), sorted(known - found)
    for v in new:
        print("include against the layering (docs/architecture.md §2): %s" % v)
    for v in gone:
        print("known deviation no longer occurs, delete it from known_deviations.txt: %s" % v)
    print("%d includes against the layering, %d known, %d new, %d stale"
          % (len(found), len(known & found), len(new), len(gone)))
    return 1 if new or gone else 0


if __name__ == "__main__":
    sys.exit(main())
