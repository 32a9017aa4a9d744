#!/usr/bin/env python3
"""
tests/integration/storage/test_crash_produce.py — SIGKILL a broker while
four producers (one connection per partition, acks=1) are writing, restart
it, and check the log (docs/architecture.md §5 recovery):

  - right after the kill, before the restart, `gregor dump-log
    --verify-index-only` finds every .index and .timeindex consistent with
    its .log: the active segment's entries, stored through a writable
    mapping of the preallocated file, are in the page cache the killed
    process shared, and each names a batch that is in the log;
  - every acknowledged record is there at its acknowledged offset with its
    value, and each partition reads back gap-free and in offset order
    (records written but not acknowledged before the kill may be there too);
  - ListOffsets by timestamp finds acknowledged records by their timestamps
    (each partition's timestamps increase with its offsets);
  - the high watermark equals the log end;
  - new writes continue the offsets right after the recovered end.

Two rounds (kill, restart, check, kill again), with small segments
(log.segment.bytes=65536) so recovery crosses segment boundaries.
"""
import os
import random
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from storage_util import (cluster, connect, create_topic, produce, read_partition,  # noqa: E402
                          check_acked, wait_leaders, list_offset, partition_dir)

TOPIC = "crash"
PARTS = 4
ROUNDS = 2
TS0 = 1700000000000
GREGOR = os.path.join(os.environ.get("GREGOR_BUILD_DIR", cluster.BUILD), "bin", "gregor")


class Producer(threading.Thread):
    """Sends batches to one partition until the connection breaks or stop is
    set; acked[offset] = value for every acknowledged record, stamps[offset]
    its timestamp. Records get the timestamps next_ts[p], next_ts[p] + 1, ...
    in the order they are sent, so they increase with the offsets."""

    def __init__(self, broker, partition, acked, stop, rnd, stamps, next_ts):
        super().__init__(daemon=True)
        self.broker, self.p, self.acked, self.stop, self.rnd = broker, partition, acked, stop, rnd
        self.stamps, self.next_ts = stamps, next_ts
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
            ts = self.next_ts[self.p]
            self.next_ts[self.p] += n
            try:
                err, base = produce(c, TOPIC, self.p, vals, ts=ts)
            except (OSError, ConnectionError, AssertionError):
                return  # the broker died
            if err != 0:
                self.errors.append(err)
                continue
            for i, v in enumerate(vals):
                self.acked[base + i] = v
                self.stamps[base + i] = ts + i


def check_indexes(broker):
    """gregor dump-log --verify-index-only over every index file (the
    broker is down)."""
    for p in range(PARTS):
        pdir = partition_dir(broker, TOPIC, p)
        files = sorted(os.path.join(pdir, f) for f in os.listdir(pdir)
                       if f.endswith(".index") or f.endswith(".timeindex"))
        assert files, "%s: no index files" % pdir
        r = subprocess.run([GREGOR, "dump-log", "--verify-index-only"] + files,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, "%s: dump-log exit %d:\n%s%s" % (
            pdir, r.returncode, r.stdout[-3000:], r.stderr[-2000:])


def kill_during_produce(broker, acked, rnd, stamps, next_ts):
    stop = threading.Event()
    threads = [Producer(broker, p, acked[p], stop, random.Random(rnd.random()), stamps[p], next_ts)
               for p in range(PARTS)]
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
    check_indexes(broker)


def check_times(broker, p, stamps, rnd):
    """ListOffsets by the timestamp of acknowledged records (the first, the
    last and a sample) must name those records."""
    offs = sorted(stamps)
    sample = [offs[0], offs[-1]] + rnd.sample(offs, min(40, len(offs)))
    for off in sample:
        err, got = list_offset(broker, TOPIC, p, stamps[off])
        assert err == 0 and got == off, "%s-%d: ListOffsets(ts %d): err %d offset %d, want %d" % (
            TOPIC, p, stamps[off], err, got, off)
    err, got = list_offset(broker, TOPIC, p, stamps[offs[-1]] + 10 ** 9)
    assert err == 0 and got == -1, "%s-%d: a timestamp past the log found %d" % (TOPIC, p, got)


def check_after_restart(broker, acked, stamps, next_ts, rnd):
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
        check_times(broker, p, stamps[p], rnd)
        c = connect(broker)
        ts = next_ts[p]
        next_ts[p] += 1
        err, base = produce(c, TOPIC, p, [b"after-restart-%d" % hw], ts=ts)
        c.close()
        assert err == 0 and base == hw, "%s: write after restart: err %d base %d, want %d" % (
            what, err, base, hw)
        acked[p][base] = b"after-restart-%d" % hw
        stamps[p][base] = ts
        print("  %s: %d records intact, next offset %d" % (what, len(log), base), flush=True)


def test_sigkill_during_produce_keeps_acknowledged_records():
    rnd = random.Random(int(os.environ.get("GREGOR_TEST_SEED", "4242")))
    cl = cluster.Cluster(1, overrides=["log.segment.bytes=65536"])
    try:
        broker = cl.brokers[0]
        create_topic(broker, TOPIC, PARTS)
        acked = {p: {} for p in range(PARTS)}
        stamps = {p: {} for p in range(PARTS)}
        next_ts = {p: TS0 for p in range(PARTS)}
        for rnd_no in range(ROUNDS):
            print(" round %d" % (rnd_no + 1), flush=True)
            kill_during_produce(broker, acked, rnd, stamps, next_ts)
            broker.start()
            check_after_restart(broker, acked, stamps, next_ts, rnd)
        segs = [f for f in os.listdir(os.path.join(broker.logdir, "%s-0" % TOPIC)) if f.endswith(".log")]
        assert len(segs) > 1, "expected several segments, got %s" % segs
    finally:
        cl.stop()


if __name__ == "__main__":
    sys.exit(cluster.run_tests([test_sigkill_during_produce_keeps_acknowledged_records]))
