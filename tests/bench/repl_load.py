"""tests/bench/repl_load.py — client load shared by the replication benches
(throttle_bench.py, reassign_bench.py): filling a partition, an acks=all
latency probe and an acks=1 throughput load, all through confluent_kafka
against a cluster from tests/integration/protocol/cluster.py.

  fill(bootstrap, topic, mb)       mb MB of 10 kB random records into partition 0, acks=1
  Probe(bootstrap, topic, parts)   acks=all, 1 KiB records, one every 5 ms over `parts`
                                   partitions; finish() -> (p50, p99, max ms, errors)
  Blast(bootstrap, topic, parts)   acks=1, 1 KiB records as fast as one client goes;
                                   finish() -> (MB/s acknowledged, errors)
`bootstrap` is a function returning the current bootstrap list.
"""
import os
import threading
import time

from confluent_kafka import Producer


def fill(bootstrap, topic, mb):
    p = Producer({"bootstrap.servers": bootstrap(), "acks": "1", "linger.ms": 5,
                  "batch.size": 1000000, "queue.buffering.max.kbytes": 65536})
    value = os.urandom(10000)
    for _ in range(mb * 100):
        while True:
            try:
                p.produce(topic, value, partition=0)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    assert p.flush(120) == 0


class _Load:
    def __init__(self):
        self.errors = 0
        self.stop = False
        self.th = threading.Thread(target=self.run)
        self.th.start()

    def end(self):
        self.stop = True
        self.th.join()


class Probe(_Load):
    """acks=all produces, one every 5 ms, latencies in ms."""

    def __init__(self, bootstrap, topic="lat", parts=2):
        self.bootstrap, self.topic, self.parts, self.lat = bootstrap, topic, parts, []
        super().__init__()

    def run(self):
        p = Producer({"bootstrap.servers": self.bootstrap(), "acks": "all", "linger.ms": 0,
                      "retries": 100, "retry.backoff.ms": 20})
        value = b"x" * 1024
        i = 0

        def cb(err, msg, sent):
            if err:
                self.errors += 1
            else:
                self.lat.append((time.monotonic() - sent) * 1000)
        while not self.stop:
            sent = time.monotonic()
            p.produce(self.topic, value, partition=i % self.parts,
                      on_delivery=lambda err, msg, sent=sent: cb(err, msg, sent))
            i += 1
            p.poll(0.005)
        p.flush(30)

    def finish(self):
        self.end()
        s = sorted(self.lat)
        if not s:
            return (0, 0, 0, self.errors)
        return (s[len(s) // 2], s[min(len(s) - 1, int(len(s) * 0.99))], s[-1], self.errors)


class Blast(_Load):
    """acks=1 produces of 1 KiB records as fast as one client goes."""

    def __init__(self, bootstrap, topic="tput", parts=2):
        self.bootstrap, self.topic, self.parts, self.acked = bootstrap, topic, parts, 0
        self.t0 = time.monotonic()
        super().__init__()

    def run(self):
        p = Producer({"bootstrap.servers": self.bootstrap(), "acks": "1", "linger.ms": 5,
                      "batch.size": 1000000, "queue.buffering.max.kbytes": 32768})
        value = os.urandom(1024)

        def cb(err, msg):
            if err:
                self.errors += 1
            else:
                self.acked += 1
        i = 0
        while not self.stop:
            try:
                p.produce(self.topic, value, partition=i % self.parts, on_delivery=cb)
                i += 1
            except BufferError:
                p.poll(0.01)
            if i % 1000 == 0:
                p.poll(0)
        self.t1 = time.monotonic()
        p.flush(60)

    def finish(self):
        self.end()
        return (self.acked * 1024 / 1e6 / max(1e-6, self.t1 - self.t0), self.errors)
