#!/usr/bin/env python3
"""
tests/bench/idem_produce_compare.py — plain against idempotent produce
throughput on one broker (docs/PERFORMANCE.md "Idempotent produce"): starts
ZooKeeper and a broker (tests/integration/protocol/cluster.py), creates one
topic per mode, and runs raw_produce_bench alternately without and with
pid=P, ROUNDS times each (both with recrc=1: the client recomputes every
request's CRC in both modes, so they differ only in the broker's work), printing every run's key=value line and the
broker's CPU seconds per MB (utime + stime from /proc/PID/stat around each
run: the load-independent measure of the broker's extra work), then per
mode the median MB/s and median broker CPU s/MB, and the medians of the
per-round ratios (idempotent / plain, rounds alternate so a drifting load
hits both alike).

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


def cpu_s(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


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
        cpu = {"plain": [], "idem": []}
        bpid = cl.brokers[0].proc.pid
        for r in range(int(opts["rounds"])):
            for mode in ("plain", "idem"):
                args = [bench, "127.0.0.1:%d" % port, "bench-" + mode, opts["size"],
                        opts["partitions"], "seconds=" + opts["seconds"],
                        "batch_bytes=" + opts["batch_bytes"], "recrc=1"]
                if mode == "idem":
                    args.append("pid=%d" % (1000 + r))
                c0 = cpu_s(bpid)
                out = subprocess.run(args, capture_output=True, text=True)
                c1 = cpu_s(bpid)
                line = out.stdout.strip()
                if out.returncode != 0:
                    raise SystemExit("raw_produce_bench failed: %s %s" % (line, out.stderr))
                kv = dict(x.split("=") for x in line.split())
                mb[mode].append(float(kv["mb_per_s"]))
                cpu[mode].append((c1 - c0) / (int(kv["bytes"]) / 1e6))
                print(mode, line, "broker_cpu_s_per_mb=%.5f" % cpu[mode][-1], flush=True)
        med = statistics.median
        print("median mb_per_s plain=%.1f idem=%.1f; broker_cpu_s_per_mb plain=%.5f idem=%.5f; "
              "per-round ratio medians: mb_per_s %.3f broker_cpu_s_per_mb %.3f" % (
                  med(mb["plain"]), med(mb["idem"]), med(cpu["plain"]), med(cpu["idem"]),
                  med([i / p for p, i in zip(mb["plain"], mb["idem"])]),
                  med([i / p for p, i in zip(cpu["plain"], cpu["idem"])])))
    finally:
        cl.stop()


if __name__ == "__main__":
    main()
