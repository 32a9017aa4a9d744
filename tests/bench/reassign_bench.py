#!/usr/bin/python3
"""tests/bench/reassign_bench.py — what a partition reassignment costs
(docs/PERFORMANCE.md "Reassignment").

Starts ZooKeeper and three gregor-broker processes on free loopback ports
(tests/integration/protocol/cluster.py), fills topic `big` (one partition,
replicas [0, 1, 2]) with --mb MB, then starts a fourth broker, empty. Each
run moves one replica of big-0 with `gregor cluster reassign --execute`
(0 -> 3, then back 3 -> 0, alternately; the new replica copies the whole
log), twice per mode: once under each load below and polls `--status --file` every 0.2 s until it exits 0 (complete):
the move's seconds and MB/s (log bytes / seconds). Throttled runs add
`--throttle` (--rate MB/s), and their last --status removes it. The two
loads (tests/bench/repl_load.py), each alone during a move and, for
--before-s, before the moves ("before"): acks=all produces of 1 KiB, one every
5 ms, to topic `lat` (2 partitions, replicas [0,1,2] / [1,2,0],
min.insync.replicas=2): p50 / p99 / max ms; and acks=1 produces of 1 KiB as
fast as one client goes to topic `tput` (2 partitions, replicas [0,1,2] /
[2,0,1]): MB/s acknowledged.

  reassign_bench.py [--mb 300] [--rate 20] [--reps 1] [--before-s 10]

Output: a markdown table on stdout with the load average before and after,
then "RESULTS" and key=value lines (reassign.*).
Environment: GREGOR_SOURCE_DIR, GREGOR_BUILD_DIR (default <repo>, <repo>/build).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
os.environ.setdefault("GREGOR_SOURCE_DIR", REPO)
os.environ.setdefault("GREGOR_BUILD_DIR", os.path.join(REPO, "build"))
sys.path.insert(0, os.path.join(REPO, "tests", "integration", "protocol"))
import cluster  # noqa: E402
import repl_load  # noqa: E402

from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--mb", type=int, default=300)
ap.add_argument("--rate", type=float, default=20.0, help="throttled rate, MB/s")
ap.add_argument("--reps", type=int, default=1)
ap.add_argument("--before-s", type=float, default=10.0)
args = ap.parse_args()
RATE = int(args.rate * 1e6)
GREGOR = os.path.join(os.environ["GREGOR_BUILD_DIR"], "bin", "gregor")
OVERRIDES = ["log.segment.bytes=67108864", "replica.lag.time.max.ms=10000"]

CL = cluster.Cluster(3, overrides=OVERRIDES)


def bootstrap():
    return ",".join("127.0.0.1:%d" % b.port for b in CL.brokers if b.proc.poll() is None)


def log_bytes(broker_id, topic, p):
    d = os.path.join(CL.brokers[broker_id].logdir, "%s-%d" % (topic, p))
    try:
        return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d) if f.endswith(".log"))
    except FileNotFoundError:
        return 0


def reassign(*a):
    r = subprocess.run([GREGOR, "-b", bootstrap(), "cluster", "reassign"] + list(a),
                       capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout, r.stderr


def wait_brokers(n, timeout=60):
    """Until the metadata lists n live brokers."""
    end = time.time() + timeout
    while True:
        md = AdminClient({"bootstrap.servers": bootstrap()}).list_topics(timeout=10)
        if len(md.brokers) >= n or time.time() > end:
            assert len(md.brokers) >= n, md.brokers
            return
        time.sleep(0.2)


def measure(load_cls, secs):
    """The load alone for secs: its result."""
    load = load_cls(bootstrap)
    time.sleep(secs)
    return load.finish()


def move(src, dst, throttled, load_cls):
    """Moves big-0's replica on src to dst under load_cls (repl_load.Probe or Blast);
    returns (seconds, MB/s, the load's result)."""
    f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, dir=CL.tmp)
    json.dump({"version": 1, "partitions": [{"topic": "big", "partition": 0,
                                             "replicas": [dst, 1, 2]}]}, f)
    f.close()
    size = max(log_bytes(b, "big", 0) for b in (1, 2))
    load = load_cls(bootstrap)
    time.sleep(1)
    start = time.time()
    rc, out, err = reassign("--execute", "--file", f.name,
                            *(["--throttle", str(RATE)] if throttled else []))
    assert rc == 0, (rc, out, err)
    while True:
        rc, out, err = reassign("--status", "--file", f.name)
        if rc == 0 or time.time() - start > 900:
            break
        time.sleep(0.2)
    secs = time.time() - start
    res = load.finish()
    assert rc == 0, (rc, out, err)
    assert ("Throttle removed" in out) == throttled, out
    time.sleep(2)  # the removed replica's directory goes, the ISR settles
    return secs, size / 1e6 / secs, res


def main():
    load0 = os.getloadavg()
    wait_brokers(3)
    a = AdminClient({"bootstrap.servers": bootstrap()})
    fs = a.create_topics([NewTopic("big", 1, replica_assignment=[[0, 1, 2]]),
                          NewTopic("lat", 2, replica_assignment=[[0, 1, 2], [1, 2, 0]],
                                   config={"min.insync.replicas": "2"}),
                          NewTopic("tput", 2, replica_assignment=[[0, 1, 2], [2, 0, 1]])])
    for f in fs.values():
        f.result(30)
    time.sleep(2)
    repl_load.fill(bootstrap, "big", args.mb)
    CL.brokers.append(cluster.Broker(CL.tmp, CL.zk, 3, OVERRIDES))
    wait_brokers(4)
    time.sleep(2)
    mb = max(log_bytes(b, "big", 0) for b in (1, 2)) / 1e6
    # (name, move s under the probe, its MB/s, probe result, move s under the blast, blast MB/s)
    rows = [("before", None, None, measure(repl_load.Probe, args.before_s), None,
             measure(repl_load.Blast, args.before_s)[0])]
    src, dst = 0, 3
    for rep in range(args.reps):
        for throttled in (False, True):
            secs, mbs, lat = move(src, dst, throttled, repl_load.Probe)
            src, dst = dst, src
            secs2, _, tput = move(src, dst, throttled, repl_load.Blast)
            src, dst = dst, src
            rows.append(("throttled %.0f MB/s" % args.rate if throttled else "unthrottled",
                         secs, mbs, lat, secs2, tput[0]))
            print("  %-20s %6.1f s %7.1f MB/s  p50 %.1f p99 %.1f max %.1f ms err %d; "
                  "under acks=1 load %.1f s, acks=1 %.1f MB/s"
                  % ((rows[-1][0], secs, mbs) + lat + (secs2, tput[0])), flush=True)
    load1 = os.getloadavg()
    print("\n%.0f MB partition, one replica moved to an empty broker and back, %d rep(s); load "
          "average before %.1f %.1f %.1f, after %.1f %.1f %.1f; %d cores"
          % ((mb, args.reps) + load0 + load1 + (os.cpu_count(),)))
    print("| run | move s | moved MB/s | acks=all p50 ms | p99 ms | max ms | errors "
          "| move s under acks=1 load | acks=1 MB/s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, secs, mbs, (p50, p99, mx, err), secs2, tp in rows:
        print("| %s | %s | %s | %.1f | %.1f | %.1f | %d | %s | %.1f |" % (
            name, "-" if secs is None else "%.1f" % secs, "-" if mbs is None else "%.1f" % mbs,
            p50, p99, mx, err, "-" if secs2 is None else "%.1f" % secs2, tp))
    print("RESULTS")
    for i, (name, secs, mbs, (p50, p99, mx, err), secs2, tp) in enumerate(rows):
        key = name.split()[0] + ("" if i < 3 else "_%d" % ((i - 1) // 2))
        if secs is not None:
            print("reassign.%s.move_s=%.2f" % (key, secs))
            print("reassign.%s.mb_per_s=%.1f" % (key, mbs))
            print("reassign.%s.move_under_acks1_s=%.2f" % (key, secs2))
        print("reassign.%s.acks_all_p50_ms=%.2f" % (key, p50))
        print("reassign.%s.acks_all_p99_ms=%.2f" % (key, p99))
        print("reassign.%s.acks1_mb_per_s=%.1f" % (key, tp))
        print("reassign.%s.errors=%d" % (key, err))
    bad = CL.stop()
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
