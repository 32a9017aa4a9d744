#!/usr/bin/env python3
"""
tests/layers/check_layers.py — fails when a source file includes a header of a module it must
not use, so the dependency direction of docs/architecture.md §2 holds as code is added. Run on
every build (target check_layers_build) and by ctest (check_layers).

A module is a folder that builds one library: common, common/loop, proto, controller/zk,
controller, cli, broker/<sub> for each broker folder, and broker (the root: server.c, main.c).
DEPS below mirrors the DEPS of each gregor_library() in the CMakeLists.txt files: a module may
include its own headers and those of every module it reaches through DEPS (transitively).
Headers of controller/ and controller/zk/ are private to them except the PUBLIC ones, which a
module whose DEPS reach the controller (or the ZooKeeper store) may include.

Usage: check_layers.py [repository root]   (exit 0: clean; 1: violations, listed)
"""
import os
import re
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                       os.path.join(os.path.dirname(__file__), "..", ".."))

# module -> the modules it links against directly (its gregor_library DEPS)
DEPS = {
    "common": [],
    "common/loop": ["common"],
    "proto": [],
    "controller/zk": ["common", "proto"],
    "controller": ["controller/zk", "common/loop", "common", "proto"],
    "cli": ["common", "broker/storage"],
    "broker/config": ["common"],
    "broker/security": ["broker/config", "common"],
    "broker/storage": ["common"],
    "broker/group": ["common"],
    "broker/txn": ["common"],
    "broker/replication": ["broker/storage", "broker/config", "common/loop", "common"],
    "broker/core": ["broker/security", "broker/group", "broker/txn", "broker/replication", "broker/storage", "broker/config", "controller",
                    "controller/zk", "common/loop", "common"],
    "broker/kafka": ["broker/security", "broker/core", "broker/replication", "broker/storage", "broker/config",
                     "broker/group", "broker/txn", "controller", "common/loop", "common"],
    "broker/net": ["broker/kafka", "broker/security", "broker/config", "common/loop", "common"],
    "broker/http": ["broker/net", "broker/core", "broker/replication", "broker/config",
                    "controller", "common"],
    "broker": ["broker/http", "broker/net", "broker/kafka", "broker/security", "broker/core", "broker/replication",
               "broker/storage", "broker/config", "controller", "controller/zk", "common/loop",
               "common"],
}
# the interface of controller/ (and of its ZooKeeper store) to the modules that use it; every
# other header in those folders is private to the folder
PUBLIC = {
    "controller": {"controller/controller.h", "controller/rpc.h", "controller/channel.h",
                   "controller/assign.h"},
    "controller/zk": {"controller/zk/zk_store.h"},
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def module_of(path):
    folder = os.path.dirname(path)
    while folder and folder not in DEPS:
        folder = os.path.dirname(folder)
    return folder or None


def reach(mod):
    seen, todo = set(), list(DEPS.get(mod, []))
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(DEPS.get(m, []))
    return seen


def allowed(src_mod, header):
    hmod = module_of(header)
    if hmod is None or hmod == src_mod:
        return True
    if hmod not in reach(src_mod):
        return False
    return hmod not in PUBLIC or header in PUBLIC[hmod]


def sources():
    for top in ("common", "controller", "broker", "cli"):
        for d, _, files in os.walk(os.path.join(ROOT, top)):
            for f in files:
                if f.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(d, f), ROOT)


def main():
    bad = []
    for src in sorted(sources()):
        mod = module_of(src)
        if mod is None:
            bad.append("%s: in no module (add its folder to DEPS)" % src)
            continue
        with open(os.path.join(ROOT, src), encoding="utf-8", errors="replace") as f:
            for line in f:
                m = INCLUDE.match(line)
                if m and "/" in m.group(1) and not allowed(mod, m.group(1)):
                    bad.append("%s -> %s" % (src, m.group(1)))
    for v in bad:
        print("include against the layering (docs/architecture.md §2): %s" % v)
    print("%d includes against the layering" % len(bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
