#!/usr/bin/env python3
"""
tests/integration/storage/test_log_surgery.py — damage a stopped broker's
log dir by hand, restart it, and check what recovery makes of it
(docs/architecture.md §5: without the clean-shutdown marker the log is scanned, the
log is truncated at the first torn or corrupt batch, indexes are rebuilt).

The broker is SIGKILLed first (no clean-shutdown marker), then, in the
topic "surgery" (3 partitions, 16 KiB segments, so each has sealed
segments and an active one):
  partition 0: the active .log is cut in the middle of a batch;
  partition 1: one byte inside a batch of the active .log is flipped (its
               CRC no longer matches);
  partition 2: the .index and .timeindex of its first (sealed) segment
               and of its active segment are deleted.
After the restart: the broker is up and has logged what it dropped; in
partitions 0 and 1 every record before the damaged batch is intact and the
next write gets exactly the damaged batch's base offset; in partition 2
nothing is lost, the index files exist again and lookups by offset (Fetch
from offsets inside each segment) and by time (ListOffsets) work.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from storage_util import (cluster, connect, create_topic, produce, read_partition,  # noqa: E402
                          check_acked, wait_leaders, parse_batches, partition_dir,
                          segment_files, broker_log, list_offset)

TOPIC = "surgery"
PARTS = 3
BATCHES = 60
RECS = 5  # records per batch; record i of batch j has timestamp T0 + 10 * j + i


def fill(broker, t0):
    """Produces BATCHES batches to each partition; returns acked per partition."""
    acked = {p: {} for p in range(PARTS)}
    c = connect(broker)
    for j in range(BATCHES):
        for p in range(PARTS):
            vals = [b"s%d-b%03d-r%d-" % (p, j, i) + b"v" * 100 for i in range(RECS)]
            err, base = produce(c, TOPIC, p, vals, ts=t0 + 10 * j)
            assert err == 0 and base == j * RECS, (p, j, err, base)
            for i, v in enumerate(vals):
                acked[p][base + i] = v
    c.close()
    return acked


def active_batches(pdir):
    """(active .log path, [(file position, base, last, size)] of its batches)."""
    name = segment_files(pdir, "log")[-1]
    path = os.path.join(pdir, name)
    with open(path, "rb") as f:
        data = f.read()
    out, pos = [], 0
    for base, last, _count, b in parse_batches(data):
        out.append((pos, base, last, len(b)))
        pos += len(b)
    assert pos == len(data) and len(out) >= 3, "%s: %d batches" % (path, len(out))
    return path, out


def cut_mid_batch(pdir):
    path, batches = active_batches(pdir)
    pos, base, _last, size = batches[len(batches) // 2]
    os.truncate(path, pos + size // 2)
    return path, base


def flip_byte(pdir):
    path, batches = active_batches(pdir)
    pos, base, _last, size = batches[len(batches) // 2]
    with open(path, "r+b") as f:
        f.seek(pos + size - 20)  # inside the last record: covered by the CRC
        b = f.read(1)
        f.seek(pos + size - 20)
        f.write(bytes([b[0] ^ 0x5A]))
    return path, base


def delete_indexes(pdir):
    logs = segment_files(pdir, "log")
    assert len(logs) >= 3, "partition 2 has %d segments" % len(logs)
    gone = []
    for name in (logs[0], logs[-1]):
        for ext in ("index", "timeindex"):
            p = os.path.join(pdir, name[:-4] + "." + ext)
            os.unlink(p)
            gone.append(p)
    return logs, gone


def check_truncated(broker, p, acked, cut_base, log_text, path):
    what = "%s-%d" % (TOPIC, p)
    assert "truncated torn or corrupt tail path=%s" % path in log_text, \
        "%s: no log line about the dropped tail of %s" % (what, path)
    hw, log = read_partition(broker, TOPIC, p)
    assert hw == cut_base, "%s: log end %d, want %d (base of the damaged batch)" % (what, hw, cut_base)
    check_acked({o: v for o, v in acked.items() if o < cut_base}, log, what)
    assert len(log) == cut_base, "%s: %d records below %d" % (what, len(log), cut_base)
    c = connect(broker)
    err, base = produce(c, TOPIC, p, [b"after-surgery"])
    c.close()
    assert err == 0 and base == cut_base, "%s: next write err %d at %d, want %d" % (
        what, err, base, cut_base)
    hw, log = read_partition(broker, TOPIC, p, start=cut_base)
    assert log == [(cut_base, b"after-surgery")], log
    print("  %s: cut at offset %d, %d records kept, writes continue at %d" % (
        what, cut_base, cut_base, base), flush=True)


def check_reindexed(broker, acked, pdir, logs, gone, t0):
    what = "%s-2" % TOPIC
    for path in gone:
        assert os.path.exists(path), "%s: %s was not rebuilt" % (what, path)
    first_index = os.path.join(pdir, logs[0][:-4] + ".index")
    assert os.path.getsize(first_index) > 0, "%s: rebuilt %s is empty" % (what, first_index)
    hw, log = read_partition(broker, TOPIC, 2)
    check_acked(acked, log, what)
    assert hw == BATCHES * RECS and len(log) == hw, (hw, len(log))
    # Lookups by offset: from the middle of every segment (and one inside a batch).
    bases = [int(n[:20]) for n in logs] + [hw]
    for lo, hi in zip(bases, bases[1:]):
        for off in (lo, (lo + hi) // 2, (lo + hi) // 2 + 2, hi - 1):
            _hw, got = read_partition(broker, TOPIC, 2, start=off)
            assert got and got[0] == (off, acked[off]), "%s: fetch at %d returned %r" % (
                what, off, got[:1])
    # Lookups by time: the time index of the first and the last segment.
    for j in (1, BATCHES // 10, BATCHES - 2):
        err, off = list_offset(broker, TOPIC, 2, t0 + 10 * j)
        assert err == 0 and off == j * RECS, "%s: ListOffsets(ts of batch %d) = %d, err %d" % (
            what, j, off, err)
    print("  %s: indexes rebuilt, %d records intact, lookups by offset and time work" % (
        what, len(log)), flush=True)


def test_offline_surgery_is_repaired_at_restart():
    cl = cluster.Cluster(1, overrides=["log.segment.bytes=16384", "log.index.interval.bytes=1024"])
    try:
        broker = cl.brokers[0]
        create_topic(broker, TOPIC, PARTS)
        t0 = int(time.time() * 1000) - 3600 * 1000
        acked = fill(broker, t0)
        broker.stop(signal.SIGKILL)
        marker = os.path.join(broker.logdir, ".gregor_clean_shutdown")
        assert not os.path.exists(marker), "a SIGKILLed broker left %s" % marker
        dirs = [partition_dir(broker, TOPIC, p) for p in range(PARTS)]
        path0, cut0 = cut_mid_batch(dirs[0])
        path1, cut1 = flip_byte(dirs[1])
        logs2, gone2 = delete_indexes(dirs[2])
        print("  damage: cut %s (batch %d), flipped a byte in %s (batch %d), deleted %d index files"
              % (os.path.basename(path0), cut0, os.path.basename(path1), cut1, len(gone2)),
              flush=True)
        broker.start()
        wait_leaders(broker, TOPIC, PARTS)
        text = broker_log(broker)
        check_truncated(broker, 0, acked[0], cut0, text, path0)
        check_truncated(broker, 1, acked[1], cut1, text, path1)
        check_reindexed(broker, acked[2], dirs[2], logs2, gone2, t0)
    finally:
        cl.stop()


if __name__ == "__main__":
    sys.exit(cluster.run_tests([test_offline_surgery_is_repaired_at_restart]))
