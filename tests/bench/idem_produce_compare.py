#!/usr/bin/env python3
"""
tests/bench/idem_produce_compare.py — plain against idempotent produce
throughput on one broker (docs/PERFORMANCE.md "Idempotent produce"): starts
ZooKeeper and a broker (tests/integration/protocol/cluster.py), creates one
topic per mode, and runs raw_produce_bench alternately without and with
pid=P, ROUNDS times each (both with recrc=1: the client recomputes every
request's CRC in both modes, so they differ only in the broker's work), printing every run's key=value line and the
median MB/s of each mode and their ratio.

  idem_produce_compare.py BENCH_BIN_DIR [size=1024] [partitions=1]
                          [seconds=10] [rounds=3] [batch_bytes=1048576]

Uses GREGOR_SOURCE_DIR / GREGOR_BUILD_DIR like the protocol tests (the
broker binary: $GREGOR_BUILD_DIR/bin/gregor-broker).
"""
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration",
                                "protocol"))
from cluster import Cluster  # noqa: E402
import test_offset_for_leader_epoch as olep  # noqa: E402


def main():
    bench = os.path.join(sys.argv[1], "raw_produce_bench")
    opts = dict(size="1024", partitions="1", seconds="10", rounds="3", batch_bytes="1048576")
    for a in sys.argv[2:]:
        k, v = a.split("=", 1)
        opts[k] = v
    cl = Cluster()
    try:
        port = cl.brokers[0].port
        for mode in ("plain", "idem"):
            olep.create(port, "bench-" + mode, int(opts["partitions"]))
            olep.wait_leaders(port, "bench-" + mode, int(opts["partitions"]), want=0)
        mb = {"plain": [], "idem": []}
        for r in range(int(opts["rounds"])):
            for mode in ("plain", "idem"):
                args = [bench, "127.0.0.1:%d" % port, "bench-" + mode, opts["size"],
                        opts["partitions"], "seconds=" + opts["seconds"],
                        "batch_bytes=" + opts["batch_bytes"], "recrc=1"]
                if mode == "idem":
                    args.append("pid=%d" % (1000 + r))
                out = subprocess.run(args, capture_output=True, text=True)
                line = out.stdout.strip()
                print(mode, line, out.stderr.strip(), flush=True)
                if out.returncode != 0:
                    raise SystemExit("raw_produce_bench failed")
                kv = dict(x.split("=") for x in line.split())
                mb[mode].append(float(kv["mb_per_s"]))
        p, i = statistics.median(mb["plain"]), statistics.median(mb["idem"])
        print("median_mb_per_s plain=%.1f idem=%.1f ratio=%.3f" % (p, i, i / p))
    finally:
        cl.stop()


if __name__ == "__main__":
    main()
