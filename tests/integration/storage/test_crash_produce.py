#!/usr/bin/env python3
"""
tests/integration/storage/test_crash_produce.py — SIGKILL a broker while
four producers (one connection per partition, acks=1) are writing, restart
it, and check the log (docs/architecture.md §5 recovery):

  - every acknowledged record is there at its acknowledged offset with its
    value, and each partition reads back gap-free and in offset order
    (records written but not acknowledged before the kill may be there too);
  - the high watermark equals the log end;
  - new writes continue the offsets right after the recovered end.

Two rounds (kill, restart, check, kill again), with small segments
(log.segment.bytes=65536) so recovery crosses segment boundaries.
"""
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from storage_util import (cluster, connect, create_topic, produce, read_partition,  # noqa: E402
                          check_acked, wait_leaders)

TOPIC = "crash"
PARTS = 4
ROUNDS = 2


class Producer(threading.Thread):
    """Sends batches to one partition until the connection breaks or stop is
    set; acked[offset] = value for every acknowledged record."""

    def __init__(self, broker, partition, acked, stop, rnd):
        super().__init__(daemon=True)
        self.broker, self.p, self.acked, self.stop, self.rnd = broker, partition, acked, stop, rnd
        self.seq = 0
        self.errors = []

    def run(self):
        try:
            c = connect(self.broker)
        except OSError:
            return
        while not self.stop.is_set():
            n = self.rnd.randint(1, 8)
            vals = [b"p%d-%07d-" % (self.p, self.seq + i) + b"x" * self.rnd.randint(0, 300)
                    for i in range(n)]
            self.seq += n
            try:
                err, base = produce(c, TOPIC, self.p, vals)
            except (OSError, ConnectionError, AssertionError):
                return  # the broker died
            if err != 0:
                self.errors.append(err)
                continue
            for i, v in enumerate(vals):
                self.acked[base + i] = v


def kill_during_produce(broker, acked, rnd):
    stop = threading.Event()
    threads = [Producer(broker, p, acked[p], stop, random.Random(rnd.random())) for p in range(PARTS)]
    for t in threads:
        t.start()
    time.sleep(rnd.uniform(1.0, 2.5))
    before = sum(len(a) for a in acked.values())
    os.killpg(broker.proc.pid, signal.SIGKILL)  # mid-produce: the producers are still sending
    broker.proc.wait()
    stop.set()
    for t in threads:
        t.join(10)
    for t in threads:
        assert not t.errors, "partition %d: produce errors %s" % (t.p, t.errors[:5])
    total = sum(len(a) for a in acked.values())
    print("  killed with %d records acknowledged (%d when the kill was decided)" % (total, before),
          flush=True)
    assert total > 100, "too few records were produced before the kill"


def check_after_restart(broker, acked):
    wait_leaders(broker, TOPIC, PARTS)
    for p in range(PARTS):
        hw, log = read_partition(broker, TOPIC, p)
        what = "%s-%d" % (TOPIC, p)
        check_acked(acked[p], log, what)
        assert log and log[0][0] == 0, "%s: log does not start at 0" % what
        assert hw == log[-1][0] + 1, "%s: hw %d, log ends at %d" % (what, hw, log[-1][0])
        # Unacknowledged records that made it to disk are part of the log
        # now: adopt them so later rounds check them too.
        for off, v in log:
            acked[p].setdefault(off, v)
        c = connect(broker)
        err, base = produce(c, TOPIC, p, [b"after-restart-%d" % hw])
        c.close()
        assert err == 0 and base == hw, "%s: write after restart: err %d base %d, want %d" % (
            what, err, base, hw)
        acked[p][base] = b"after-restart-%d" % hw
        print("  %s: %d records intact, next offset %d" % (what, len(log), base), flush=True)


def test_sigkill_during_produce_keeps_acknowledged_records():
    rnd = random.Random(int(os.environ.get("GREGOR_TEST_SEED", "4242")))
    cl = cluster.Cluster(1, overrides=["log.segment.bytes=65536"])
    try:
        broker = cl.brokers[0]
        create_topic(broker, TOPIC, PARTS)
        acked = {p: {} for p in range(PARTS)}
        for rnd_no in range(ROUNDS):
            print(" round %d" % (rnd_no + 1), flush=True)
            kill_during_produce(broker, acked, rnd)
            broker.start()
            check_after_restart(broker, acked)
        segs = [f for f in os.listdir(os.path.join(broker.logdir, "%s-0" % TOPIC)) if f.endswith(".log")]
        assert len(segs) > 1, "expected several segments, got %s" % segs
    finally:
        cl.stop()


if __name__ == "__main__":
    sys.exit(cluster.run_tests([test_sigkill_during_produce_keeps_acknowledged_records]))
