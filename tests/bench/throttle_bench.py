#!/usr/bin/python3
"""tests/bench/throttle_bench.py — replication throttles under a re-created
replica (docs/PERFORMANCE.md "Replication throttles").

Starts ZooKeeper and three gregor-broker processes on free loopback ports
(tests/integration/protocol/cluster.py) and fills topic `big` (one partition,
replicas [0, 1]) with --mb MB. Each run then re-creates broker 1's replica of
it the way a reassignment creates a new replica: broker 1 is stopped, its
`big-0` directory deleted, and it is started again, so it fetches the whole
log from the log start. Measured per run: the catch-up time and MB/s
(segment bytes on broker 1 reaching the leader's), and meanwhile the latency
of acks=all produces (confluent_kafka, 1 KiB records, one every 5 ms, to
topic `lat`, 2 partitions led by broker 0, replicas [0, 1, 2],
min.insync.replicas=2) as p50 / p99 / max. Runs:

  idle        no catch-up: the latency baseline
  restart     broker 1 restarted, nothing re-created (the latency the
              restart itself costs: ISR changes, client metadata), 5 s window
  unthrottled no throttled replicas listed
  throttled   big-0 listed (leader "0:0" and follower "0:1") at --rate MB/s
              (leader and follower rates on every broker)

  throttle_bench.py [--mb 300] [--rate 20] [--reps 2]

Output: one table on stdout, with the load average before and after.
Environment: GREGOR_SOURCE_DIR, GREGOR_BUILD_DIR (default <repo>, <repo>/build).
"""
import argparse
import os
import shutil
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
os.environ.setdefault("GREGOR_SOURCE_DIR", REPO)
os.environ.setdefault("GREGOR_BUILD_DIR", os.path.join(REPO, "build"))
sys.path.insert(0, os.path.join(REPO, "tests", "integration", "protocol"))
import cluster  # noqa: E402
import repl_load  # noqa: E402

from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--mb", type=int, default=300)
ap.add_argument("--rate", type=float, default=20.0, help="throttled rate, MB/s")
ap.add_argument("--reps", type=int, default=2)
args = ap.parse_args()
RATE = int(args.rate * 1e6)

CL = cluster.Cluster(3, overrides=[
    "leader.replication.throttled.rate=%d" % RATE,
    "follower.replication.throttled.rate=%d" % RATE,
    "log.segment.bytes=67108864",
])


def bootstrap():
    return ",".join("127.0.0.1:%d" % b.port for b in CL.brokers if b.proc.poll() is None)


def alter(topic, cfg):
    a = AdminClient({"bootstrap.servers": bootstrap()})
    for f in a.alter_configs([ConfigResource(ConfigResource.Type.TOPIC, topic,
                                             set_config=cfg)]).values():
        f.result(30)
    time.sleep(1.0)


def log_bytes(broker_id, topic, p):
    d = os.path.join(CL.brokers[broker_id].logdir, "%s-%d" % (topic, p))
    try:
        return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d) if f.endswith(".log"))
    except FileNotFoundError:
        return 0


def fill(mb):
    repl_load.fill(bootstrap, "big", mb)


def Probe():
    return repl_load.Probe(bootstrap)


def recreate(throttled, delete=True):
    alter("big", {"leader.replication.throttled.replicas": "0:0" if throttled else "",
                  "follower.replication.throttled.replicas": "0:1" if throttled else ""})
    CL.brokers[1].stop(signal.SIGTERM)
    if delete:
        shutil.rmtree(os.path.join(CL.brokers[1].logdir, "big-0"))
    target = log_bytes(0, "big", 0)
    time.sleep(2)
    probe = Probe()
    time.sleep(1)
    start = time.time()
    CL.brokers[1].start()
    while log_bytes(1, "big", 0) < target and time.time() - start < 600:
        time.sleep(0.05)
    secs = time.time() - start
    if not delete:
        time.sleep(max(0.0, 5 - secs))  # the restart alone, over a window like the others
    lat = probe.finish()
    return secs, target / 1e6 / secs, lat


def idle(secs=8):
    probe = Probe()
    time.sleep(secs)
    return probe.finish()


def main():
    load0 = os.getloadavg()
    a = AdminClient({"bootstrap.servers": bootstrap()})
    fs = a.create_topics([NewTopic("big", 1, replica_assignment=[[0, 1]]),
                          NewTopic("lat", 2, replica_assignment=[[0, 1, 2], [0, 2, 1]],
                                   config={"min.insync.replicas": "2"})])
    for f in fs.values():
        f.result(30)
    time.sleep(2)
    fill(args.mb)
    rows = []
    for rep in range(args.reps):
        rows.append(("idle", None, None, idle()))
        secs, mbs, lat = recreate(False, delete=False)
        rows.append(("restart only", None, None, lat))
        for throttled in (False, True):
            secs, mbs, lat = recreate(throttled)
            rows.append(("throttled %.0f MB/s" % args.rate if throttled else "unthrottled",
                         secs, mbs, lat))
            print("  %-22s %6.1f s %7.1f MB/s  p50 %.1f p99 %.1f max %.1f ms errors %d"
                  % (rows[-1][0], secs, mbs, *lat), flush=True)
    load1 = os.getloadavg()
    print("\n%d MB re-created replica, %d rep(s); load average before %.1f %.1f %.1f, after "
          "%.1f %.1f %.1f; %d cores" % ((args.mb, args.reps) + load0 + load1 + (os.cpu_count(),)))
    print("| run | catch-up s | catch-up MB/s | acks=all p50 ms | p99 ms | max ms | errors |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, secs, mbs, (p50, p99, mx, err) in rows:
        print("| %s | %s | %s | %.1f | %.1f | %.1f | %d |" % (
            name, "-" if secs is None else "%.1f" % secs, "-" if mbs is None else "%.1f" % mbs,
            p50, p99, mx, err))
    bad = CL.stop()
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
