#!/usr/bin/python3
"""
tests/bench/txn_compare.py — what exactly-once costs (docs/PERFORMANCE.md "Transactions"):
starts ZooKeeper and BROKERS brokers (tests/integration/protocol/cluster.py), then

- produce: produce_bench (librdkafka, acks=all, 1 partition) in four modes, alternated ROUNDS
  times so a drifting load hits all alike: plain, idempotent, transactional with a commit every
  100 ms, transactional with a commit every 1 s. Prints every run's line, then per mode the median
  MB/s and the brokers' CPU seconds per MB (utime + stime from /proc around each run: what the
  broker spends, whatever the client costs), each as a ratio to plain, and the transactional
  modes' commit_transaction() latency p50/p99
  (at the peak rate: mostly the wait for the producer's queue to drain); in the same rounds,
  raw_plain and raw_idempotent: raw_produce_bench (a client that costs almost nothing, 1 MiB
  requests, 5 in flight, acks=all, recrc=1 in both so they differ only in the broker's work)
  without and with pid=P, on a topic of its own per run created beforehand and sent to its
  leader, so that plain against idempotent is also seen without librdkafka's own cost;
- commit latency: transactional at a commit every 100 ms offered half the plain peak rate, and
  1,000 records/s, ROUNDS runs each: commit_transaction() p50/p99;
- consume: one topic written by a transactional producer (commits every 100 ms, about
  FETCH_MB MB) read by consume_bench with isolation.level=read_committed and read_uncommitted,
  alternated ROUNDS times: median MB/s of each and the ratio.

  txn_compare.py BENCH_BIN_DIR [brokers=1] [size=1024] [seconds=8] [rounds=3] [fetch_mb=300]
                 [produce_only=0]

produce_only=1 stops after the produce modes (no commit latency or consume phases).

Uses GREGOR_SOURCE_DIR / GREGOR_BUILD_DIR like the protocol tests.
"""
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration",
                                "protocol"))
from cluster import Cluster  # noqa: E402
import test_offset_for_leader_epoch as olep  # noqa: E402

MODES = [("plain", ["enable.idempotence=false"]), ("idempotent", ["enable.idempotence=true"]),
         ("txn_100ms", ["txn_ms=100"]), ("txn_1s", ["txn_ms=1000"]),
         ("raw_plain", None), ("raw_idempotent", None)]


def cpu_s(pid):
    """utime + stime of process pid in seconds (/proc/PID/stat)."""
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def run(args):
    out = subprocess.run(args, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit("%s failed: %s %s" % (os.path.basename(args[0]), out.stdout, out.stderr))
    kv = {}
    for line in out.stdout.split("\n"):
        kv.update(x.split("=", 1) for x in line.split())
    return out.stdout.strip().replace("\n", " "), kv


def main():
    bins = sys.argv[1]
    o = dict(brokers="1", size="1024", seconds="8", rounds="3", fetch_mb="300",
             produce_only="0")
    for a in sys.argv[2:]:
        k, v = a.split("=", 1)
        o[k] = v
    n = int(o["brokers"])
    rf = min(n, 3)
    cl = Cluster(n, overrides=["transaction.state.log.replication.factor=%d" % rf,
                               "transaction.state.log.min.isr=%d" % min(rf, 2),
                               "offsets.topic.replication.factor=%d" % rf,
                               "transaction.state.log.num.partitions=4",
                               "default.replication.factor=%d" % rf,
                               "min.insync.replicas=%d" % min(rf, 2)])
    boot = ",".join("127.0.0.1:%d" % b.port for b in cl.brokers)
    prod = os.path.join(bins, "produce_bench")
    raw = os.path.join(bins, "raw_produce_bench")
    cons = os.path.join(bins, "consume_bench")
    med = statistics.median
    try:
        mb = {m: [] for m, _ in MODES}
        bcpu = {m: [] for m, _ in MODES}  # the brokers' CPU seconds per MB
        rps = []
        c50 = {m: [] for m, _ in MODES}
        c99 = {m: [] for m, _ in MODES}
        for r in range(int(o["rounds"])):
            for mode, extra in MODES:
                topic = "txnbench-%s-%d" % (mode, r)
                if extra is None:  # raw_*: the topic exists, the request goes to its leader
                    port = cl.brokers[0].port
                    olep.create(port, topic, 1, rf=rf)
                    lid = olep.wait_leaders(port, topic, 1)[0]["leader"]
                    lport = [b.port for b in cl.brokers if b.id == lid][0]
                    if n > 1:  # every replica knows it before the first request
                        for b in cl.brokers:
                            olep.wait_leaders(b.port, topic, 1)
                    args = [raw, "127.0.0.1:%d" % lport, topic, o["size"], "1",
                            "seconds=" + o["seconds"], "acks=-1", "recrc=1"]
                    if mode == "raw_idempotent":
                        args.append("pid=%d" % (900000 + r))
                else:
                    args = [prod, boot, topic, o["size"], "100000000", "all", "1",
                            "seconds=" + o["seconds"]] + extra
                c0 = sum(cpu_s(b.proc.pid) for b in cl.brokers)
                line, kv = run(args)
                bcpu[mode].append((sum(cpu_s(b.proc.pid) for b in cl.brokers) - c0) /
                                  (int(kv["bytes"]) / 1e6))
                print(mode, line, "broker_cpu_s_per_mb=%.5f" % bcpu[mode][-1], flush=True)
                mb[mode].append(float(kv["mb_per_s"]))
                if mode == "plain":
                    rps.append(kv["records_per_s"])
                if "commit_p50_ms" in kv:
                    c50[mode].append(float(kv["commit_p50_ms"]))
                    c99[mode].append(float(kv["commit_p99_ms"]))
        for mode, _ in MODES:
            base = med(mb["raw_plain" if mode.startswith("raw_") else "plain"])
            bc = med(bcpu["raw_plain" if mode.startswith("raw_") else "plain"])
            extra = ""
            if c50[mode]:
                extra = "; commit_transaction p50 %.1f ms p99 %.1f ms" % (med(c50[mode]),
                                                                        med(c99[mode]))
            print("produce %-14s median %.1f MB/s = %.3f of plain, broker CPU %.5f s/MB = %.3f of "
                  "plain%s" % (mode, med(mb[mode]), med(mb[mode]) / base, med(bcpu[mode]),
                               med(bcpu[mode]) / bc, extra), flush=True)
        print("raw_idempotent / raw_plain per-round MB/s ratios: %s (median %.3f)" % (
            " ".join("%.3f" % (i / p) for p, i in zip(mb["raw_plain"], mb["raw_idempotent"])),
            med([i / p for p, i in zip(mb["raw_plain"], mb["raw_idempotent"])])), flush=True)
        if o["produce_only"] == "1":
            return
        # commit latency below saturation: at the peak rate commit_transaction() mostly waits
        # for the producer's queue to drain, so it is measured at half the plain peak and at a
        # trickle, where it is the protocol's own cost (EndTxn, markers, their replication)
        half = int(med([float(x) for x in rps]) / 2)
        for label, rate in (("half of plain peak", half), ("1,000 records/s", 1000)):
            p50, p99, got = [], [], []
            for r in range(int(o["rounds"])):
                line, kv = run([prod, boot, "txnbench-lat-%d-%d" % (rate, r), o["size"],
                                "100000000", "all", "1", "seconds=" + o["seconds"],
                                "rate=%d" % rate, "txn_ms=100"])
                print("txn_100ms rate=%d" % rate, line, flush=True)
                p50.append(float(kv["commit_p50_ms"]))
                p99.append(float(kv["commit_p99_ms"]))
                got.append(float(kv["mb_per_s"]))
            print("commit latency at %s (%d records/s, %.1f MB/s, a commit every 100 ms): "
                  "commit_transaction p50 %.1f ms p99 %.1f ms" % (label, rate, med(got), med(p50),
                                                                   med(p99)), flush=True)
        count = int(float(o["fetch_mb"]) * 1e6 / int(o["size"]))
        line, _ = run([prod, boot, "txnbench-fetch", o["size"], str(count), "all", "1",
                       "txn_ms=100"])
        print("fetch topic:", line, flush=True)
        fmb = {"read_committed": [], "read_uncommitted": []}
        for r in range(int(o["rounds"])):
            for iso in fmb:
                line, kv = run([cons, boot, "txnbench-fetch", "isolation.level=" + iso])
                print(iso, line, flush=True)
                fmb[iso].append(float(kv["mb_per_s"]))
        print("consume read_committed median %.1f MB/s, read_uncommitted %.1f MB/s, ratio %.3f"
              % (med(fmb["read_committed"]), med(fmb["read_uncommitted"]),
                 med(fmb["read_committed"]) / med(fmb["read_uncommitted"])), flush=True)
    finally:
        cl.stop()


if __name__ == "__main__":
    main()
