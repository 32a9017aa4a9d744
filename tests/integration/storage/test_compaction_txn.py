#!/usr/bin/env python3
"""
tests/integration/storage/test_compaction_txn.py — the log cleaner and
transactions in a running broker (docs/storage.md "Compaction"), with raw
requests: the test plays the transaction coordinator (InitProducerId,
transactional batches, WriteTxnMarkers) as test_transactions.py does.

A compacted topic (small segments, min.cleanable.dirty.ratio 0.01,
delete.retention.ms a day) gets plain values of keys k0..k5, then producer
A aborts new values of k0/k1, producer B commits k2 twice (the second
commit supersedes the first), A aborts k4, A commits k5. Checked:
  - after cleaning, read_uncommitted and read_committed fetches both see
    exactly the latest committed value of every key (the aborted values are
    gone, and never shadowed the older committed k0, k1, k4);
  - the markers all stay while delete.retention.ms has not passed; an open
    transaction stops the cleaner (its checkpoint stays at or below the
    LSO) and the records from it on are untouched;
  - after delete.retention.ms is set to 0, the markers whose transactions
    have no data left go (both ABORTs, B's first COMMIT), the aborted list
    answered to read_committed fetches with them; the markers of each
    producer's last batch stay;
  - a SIGKILL and restart answer the same HW, LSO, aborted list, markers and
    latest values, and the producers' state survives (an exact retry of A's
    last batch is answered with its original offset, a sequence gap is
    refused);
  - `gregor dump-log` shows A's two aborts in the .txnindex files while
    their markers remain and none after; of the cleaned segments, the three
    COMMIT markers left (A's, B's and C's last), no ABORT marker and no
    aborted value.
"""
import os
import signal
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from storage_util import (cluster, connect, create_topic, wait_leaders, W,  # noqa: E402
                          parse_batches, batch_records, record_batch)
import test_api_matrix as m  # noqa: E402  (tests/integration/protocol, via storage_util)
import test_init_producer_id as ipid  # noqa: E402

TOPIC = "ctxn"
TXN, CONTROL = 0x10, 0x20
OUT_OF_ORDER_SEQUENCE = 45
PAD = b"." * 60


class Producer:
    """An idempotent producer id used transactionally, with its sequence."""

    def __init__(self, broker):
        c = connect(broker)
        try:
            while True:
                err, self.pid, self.epoch = ipid.init(c, 4)
                if err == 0:
                    break
                time.sleep(0.1)
        finally:
            c.close()
        self.seq = 0
        self.last = None  # (batch bytes, offset) of the last batch

    def send(self, broker, kvs):
        b = record_batch([(k, v + PAD, 0) for k, v in kvs], producer_id=self.pid,
                         producer_epoch=self.epoch, base_seq=self.seq, attributes_extra=TXN)
        err, base = produce(broker, b)
        assert err == 0, "transactional produce: error %d" % err
        self.seq += len(kvs)
        self.last = (b, base)
        return base

    def end(self, broker, commit):
        w = W(flex=True)

        def marker(w, _):
            w.i64(self.pid).i16(self.epoch).i8(1 if commit else 0)
            w.array([TOPIC], lambda w, t: (w.str(t), w.array([0], lambda w, p: w.i32(p)), w.tags()))
            w.i32(0)
            w.tags()
        w.array([None], marker)
        w.tags()
        c = connect(broker, timeout=40)
        try:
            r = c.call(27, 1, w.b)
        finally:
            c.close()
        errs = []

        def rpart(r):
            r.i32()
            errs.append(r.i16())
            r.tags()
        r.array(lambda r: (r.i64(), r.array(lambda r: (r.str(), r.array(rpart), r.tags())),
                           r.tags()))
        r.tags()
        r.done()
        assert errs == [0], "WriteTxnMarkers: %r" % errs


def produce(broker, batch):
    c = connect(broker)
    try:
        res = m.decode_produce(c.call(0, 7, m.produce_body(7, TOPIC, 0, batch, acks=-1)), 7)
    finally:
        c.close()
    p = res[TOPIC][0]
    return p["err"], p["base"]


def put(broker, key, value):
    err, base = produce(broker, record_batch([(key, value + PAD, 0)]))
    assert err == 0, "produce error %d" % err
    return base


def filler(broker, n, tag):
    """n plain writes of three filler keys: rolls segments, makes the log dirty."""
    for i in range(n):
        put(broker, b"f%d" % (i % 3), b"%s-%d" % (tag, i))


def fetch_all(broker, isolation):
    """Every batch from offset 0 up to the HW (read_uncommitted) or LSO
    (read_committed): (hw, lso, aborted list, [(base, attrs, pid, records)])."""
    c = connect(broker)
    out, offset, aborted = [], 0, []
    try:
        while True:
            body = m.fetch_body(11, [(TOPIC, 0, offset, 1 << 20)], max_wait=10, min_bytes=0,
                                isolation=isolation)
            p = m.decode_fetch(c.call(1, 11, body), 11)[TOPIC][0]
            assert p["err"] == 0, p
            hw, lso = p["hw"], p["lso"]
            aborted += p["aborted"] or []
            batches = parse_batches(p["records"] or b"")
            for base, last, _count, b in batches:
                attrs = struct.unpack(">h", b[21:23])[0]
                pid = struct.unpack(">q", b[43:51])[0]
                out.append((base, attrs, pid, batch_records(b)))
                offset = last + 1
            if not batches or offset >= (lso if isolation else hw):
                break
    finally:
        c.close()
    return hw, lso, sorted(set(aborted)), out


def visible(batches, aborted):
    """{key: (offset, value)} as a client sees it: control batches skipped,
    and, given the aborted list (read_committed), batches of an aborted
    transaction skipped up to its ABORT marker."""
    pending = sorted((first, pid) for pid, first in aborted)
    active, latest = set(), {}
    for base, attrs, pid, recs in batches:
        last = max([base] + [r[0] for r in recs])
        while pending and pending[0][0] <= last:
            active.add(pending.pop(0)[1])
        if attrs & CONTROL:
            if recs and recs[0][1] == b"\x00\x00\x00\x00":
                active.discard(pid)
            continue
        if attrs & TXN and pid in active:
            continue
        for off, k, v in recs:
            latest[k] = (off, v)
    return latest


def markers(batches):
    """[(offset, pid, 'ABORT'|'COMMIT')] of the control batches."""
    return [(base, pid, "COMMIT" if recs[0][1] == b"\x00\x00\x00\x01" else "ABORT")
            for base, attrs, pid, recs in batches if attrs & CONTROL and recs]


def checkpoint(broker):
    """The topic's cleaner-offset-checkpoint entry, or -1."""
    try:
        lines = open(os.path.join(broker.logdir, "cleaner-offset-checkpoint")).read().split("\n")
    except OSError:
        return -1
    for line in lines[2:]:
        f = line.split()
        if len(f) == 3 and f[0] == TOPIC and f[1] == "0":
            return int(f[2])
    return -1


def wait_pass(broker, after, timeout=30):
    """Waits for a pass that moves the checkpoint past `after`; returns it."""
    deadline = time.time() + timeout
    while True:
        ck = checkpoint(broker)
        if ck > after:
            return ck
        assert time.time() < deadline, "no cleaner pass past %d in %ds" % (after, timeout)
        time.sleep(0.2)


def alter_retention(broker, ms):
    w = W().array([(2, TOPIC)], lambda w, r: (w.i8(r[0]), w.str(r[1]), w.array(
        [("delete.retention.ms", 0, str(ms))], lambda w, c: (w.str(c[0]), w.i8(c[1]),
                                                             w.str(c[2])))))
    w.i8(0)
    c = connect(broker)
    try:
        r = c.call(44, 0, w.b)
    finally:
        c.close()
    r.i32()
    res = r.array(lambda r: (r.i16(), r.str(), r.i8(), r.str()))
    r.done()
    assert [e[0] for e in res] == [0], res


def dump_log(broker, ext):
    """`gregor dump-log --print-data-log` of every file of the partition ending in ext."""
    cli = os.path.join(os.environ.get("GREGOR_BUILD_DIR", "build"), "bin", "gregor")
    d = os.path.join(broker.logdir, TOPIC + "-0")
    files = sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(ext))
    if not files:
        return ""
    p = subprocess.run([cli, "dump-log", "--print-data-log"] + files, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p
    return p.stdout


def strip(latest):
    return {k: (off, v[:-len(PAD)]) for k, (off, v) in latest.items() if not k.startswith(b"f")}


def test_cleaner_drops_aborted_records_and_markers():
    cl = cluster.Cluster(1, overrides=["log.cleaner.backoff.ms=100", "log.cleaner.threads=1"])
    try:
        b = cl.brokers[0]
        create_topic(b, TOPIC, 1, {"cleanup.policy": "compact", "segment.bytes": "1024",
                                   "min.cleanable.dirty.ratio": "0.01",
                                   "delete.retention.ms": "86400000"})
        want = {}
        for i in range(6):
            k = b"k%d" % i
            want[k] = (put(b, k, b"plain-%d" % i), b"plain-%d" % i)
        pa, pb = Producer(b), Producer(b)
        pa.send(b, [(b"k0", b"aborted-a1"), (b"k1", b"aborted-a1")])
        pa.end(b, False)
        pb.send(b, [(b"k2", b"b1")])
        pb.end(b, True)
        base = pb.send(b, [(b"k2", b"b2"), (b"k3", b"b2")])
        want[b"k2"], want[b"k3"] = (base, b"b2"), (base + 1, b"b2")
        pb.end(b, True)
        pa.send(b, [(b"k4", b"aborted-a2")])
        pa.end(b, False)
        want[b"k5"] = (pa.send(b, [(b"k5", b"a3")]), b"a3")
        pa.end(b, True)
        _, _, aborted_before, _ = fetch_all(b, 1)
        assert [pid for pid, _ in aborted_before] == [pa.pid, pa.pid], aborted_before
        filler(b, 20, b"one")

        # pass 1: aborted records go, every marker stays (within delete.retention.ms)
        deadline = time.time() + 30
        while True:
            hw, lso, _, ru = fetch_all(b, 0)
            values = [r[2] for bt in ru for r in bt[3] if r[1] and not r[1].startswith(b"f")
                      and not bt[1] & CONTROL]
            if not any(v.startswith(b"aborted") for v in values) and len(values) == 6:
                break
            assert time.time() < deadline, "not cleaned after 30 s: %r" % values
            time.sleep(0.3)
        assert strip(visible(ru, [])) == want, strip(visible(ru, []))
        _, _, aborted, rc = fetch_all(b, 1)
        assert strip(visible(rc, aborted)) == want, (strip(visible(rc, aborted)), aborted)
        assert len(markers(ru)) == 5, markers(ru)
        assert aborted == aborted_before, aborted
        print("  pass 1: aborted records gone, 5 markers kept", flush=True)

        # an open transaction stops the cleaner at its first offset
        pc = Producer(b)
        open_at = pc.send(b, [(b"k6", b"open")])
        ck = checkpoint(b)
        filler(b, 20, b"two")
        after_open = put(b, b"k6", b"after-open")
        filler(b, 20, b"three")
        time.sleep(2)  # several backoffs: a pass would have run if it could
        assert checkpoint(b) <= open_at, (checkpoint(b), open_at)
        _, lso, _, ru = fetch_all(b, 0)
        assert lso == open_at, (lso, open_at)
        f_count = sum(1 for bt in ru for r in bt[3] if r[1] and r[1].startswith(b"f"))
        assert f_count >= 40, "records after the LSO were cleaned: %d filler left" % f_count
        assert len(markers(ru)) == 5, markers(ru)
        pc.end(b, True)
        want[b"k6"] = (after_open, b"after-open")
        ck = wait_pass(b, max(ck, open_at))
        _, _, _, ru = fetch_all(b, 0)
        assert len(markers(ru)) == 6, "delete.retention.ms not passed: markers stay"
        out = dump_log(b, ".txnindex")
        assert out.count("producerId: %d " % pa.pid) == 2, "A's two aborts indexed:\n" + out
        print("  open transaction at %d held the cleaner; committed, cleaned to %d" % (open_at, ck),
              flush=True)

        # past the horizon: the markers without data go
        alter_retention(b, 0)
        time.sleep(1.5)  # the cleaner takes topic config changes every second
        filler(b, 20, b"four")
        deadline = time.time() + 30
        while True:
            hw, lso, _, ru = fetch_all(b, 0)
            left = markers(ru)
            if len(left) == 3:
                break
            assert time.time() < deadline, "markers not removed: %r" % left
            time.sleep(0.3)
            filler(b, 3, b"more")  # dirty again: another pass
        assert sorted((pid, kind) for _, pid, kind in left) == sorted(
            [(pa.pid, "COMMIT"), (pb.pid, "COMMIT"), (pc.pid, "COMMIT")]), left
        _, _, aborted, rc = fetch_all(b, 1)
        assert aborted == [], "the ABORT markers left, and their index entries: %r" % aborted
        assert strip(visible(ru, [])) == want, strip(visible(ru, []))
        assert strip(visible(rc, aborted)) == want
        # what a restart must keep (passes may still remove superseded filler records)
        before = (hw, lso, aborted, markers(ru), strip(visible(ru, [])),
                  strip(visible(rc, aborted)))
        print("  past delete.retention.ms: %d markers left of 6" % len(left), flush=True)

        # a SIGKILL: the same answers, the producers' state rebuilt
        b.stop(signal.SIGKILL)
        b.start()
        wait_leaders(b, TOPIC, 1)
        hw2, lso2, _, ru2 = fetch_all(b, 0)
        _, _, aborted2, rc2 = fetch_all(b, 1)
        after = (hw2, lso2, aborted2, markers(ru2), strip(visible(ru2, [])),
                 strip(visible(rc2, aborted2)))
        assert after == before, "changed by a restart: %r != %r" % (after, before)
        batch, offset = pa.last
        err, base = produce(b, batch)
        assert (err, base) == (0, offset), "retry of A's last batch: %r, want offset %d" % (
            (err, base), offset)
        assert fetch_all(b, 0)[0] == hw2, "the retry was written again"
        pa.seq += 5
        err, _ = produce(b, record_batch([(b"k5", b"gap", 0)], producer_id=pa.pid,
                                         producer_epoch=pa.epoch, base_seq=pa.seq,
                                         attributes_extra=TXN))
        assert err == OUT_OF_ORDER_SEQUENCE, "a sequence gap: error %d" % err

        # gregor dump-log of the cleaned segments: the three COMMITs, nothing aborted
        out = dump_log(b, ".log")
        assert out.count("endTxnMarker: COMMIT") == 3, out
        assert "endTxnMarker: ABORT" not in out and "aborted-a" not in out, out
        assert "producerId: %d " % pa.pid not in dump_log(b, ".txnindex"), "stale index entries"
        text = open(b.logfile, errors="replace").read()
        assert "cleaner pass failed" not in text
    except BaseException:
        cl.stop()
        raise
    unclean = cl.stop()
    assert not unclean, "broker did not stop cleanly: %r" % (unclean,)


if __name__ == "__main__":
    sys.exit(cluster.run_tests([test_cleaner_drops_aborted_records_and_markers]))
