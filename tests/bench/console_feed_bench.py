#!/usr/bin/env python3
"""
tests/bench/console_feed_bench.py — the web console's cost on the broker (docs/PERFORMANCE.md,
"The web console"): three brokers with 1,000 partitions (RF 3); broker 2 serves an open console
(one /api/events client, /api/cluster + /api/topics + /api/groups every 2 s, as the page does,
plus broker 1's /api/topics?local=1); broker 0, the leader of a third of the partitions, is
killed. Prints broker 1's and 2's CPU seconds (utime + stime from /proc) over a 30 s window
containing the failover, the events received and the bytes and slowest time of each answer; with --no-console the
same run without gregor.http.port, for the difference. Run by /usr/bin/python3 from a build dir:
  GREGOR_SOURCE_DIR=.. GREGOR_BUILD_DIR=. /usr/bin/python3 ../tests/bench/console_feed_bench.py
"""
import http.client
import os
import signal
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration", "protocol"))
from cluster import Cluster, free_port  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

CONSOLE = "--no-console" not in sys.argv
PARTS = 1000
HTTP = [free_port() for _ in range(3)]
cl = Cluster(n_brokers=3, overrides=["gregor.http.host=127.0.0.1", "zookeeper.session.timeout.ms=6000"],
             per_broker=lambda i: ["gregor.http.port=%d" % HTTP[i]] if CONSOLE else [])
TICK = os.sysconf("SC_CLK_TCK")


def cpu(b):
    with open("/proc/%d/stat" % b.proc.pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / TICK


a = AdminClient({"bootstrap.servers": ",".join("127.0.0.1:%d" % b.port for b in cl.brokers)})
assign = [[(p + k) % 3 for k in range(3)] for p in range(PARTS)]
for f in a.create_topics([NewTopic("load", PARTS, replica_assignment=assign)]).values():
    f.result(60)
time.sleep(8)  # every replica in its ISR, the metadata settled

events, stop, sizes = [], threading.Event(), {}


def feed():
    c = http.client.HTTPConnection("127.0.0.1", HTTP[2], timeout=60)
    c.request("GET", "/api/events")
    r = c.getresponse()
    while not stop.is_set():
        line = r.readline()
        if not line:
            break
        if line.startswith(b"data: "):
            events.append(time.time())


def page():
    while not stop.is_set():
        for i, path in ((2, "/api/cluster"), (2, "/api/topics"), (2, "/api/groups"), (1, "/api/topics?local=1")):
            try:
                t = time.perf_counter()
                with urllib.request.urlopen("http://127.0.0.1:%d%s" % (HTTP[i], path), timeout=5) as r:
                    n = len(r.read())
                ms = (time.perf_counter() - t) * 1000
                sizes[path] = (n, max(ms, sizes.get(path, (0, 0))[1]))
            except OSError:
                pass
        stop.wait(2)


threads = [threading.Thread(target=feed, daemon=True), threading.Thread(target=page, daemon=True)] if CONSOLE else []
for t in threads:
    t.start()
time.sleep(1)
c0 = [cpu(cl.brokers[i]) for i in (1, 2)]
t0 = time.time()
time.sleep(5)
cl.brokers[0].stop(signal.SIGKILL)
kill = time.time()
time.sleep(25)
c1 = [cpu(cl.brokers[i]) for i in (1, 2)]
stop.set()
print("console %s: CPU over %.0f s with the failover: broker 1 %.2f s, broker 2 %.2f s" % (
    "on" if CONSOLE else "off", time.time() - t0, c1[0] - c0[0], c1[1] - c0[1]))
if CONSOLE:
    after = [e - kill for e in events if e >= kill]
    print("events after the kill: %d, first %.1f s, last %.1f s after it" % (
        len(after), after[0] if after else -1, after[-1] if after else -1))
    print("answers (bytes, slowest ms): %s" % sizes)
for bid, st, tail in cl.stop():
    print("broker %d exited with status %s" % (bid, st))
