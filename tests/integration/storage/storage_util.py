"""
tests/integration/storage/storage_util.py — helpers for the storage crash
tests: Kafka requests through the test suite's own codec
(tests/integration/protocol/kwire.py) and real processes through
tests/integration/protocol/cluster.py (ZooKeeper + gregor-broker).

Every produce here uses acks=1 and records what the broker acknowledged,
so a test can check after a crash that each acknowledged record is still
at its offset with its value.
"""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "protocol"))
from kwire import W, Conn, record_batch, parse_batches, batch_records  # noqa: E402,F401
import cluster  # noqa: E402,F401

KAFKA_STORAGE_ERROR = 56
NOT_LEADER = 6
UNKNOWN_TOPIC_OR_PARTITION = 3


def connect(broker, timeout=10):
    return Conn("127.0.0.1", broker.port, timeout=timeout)


def create_topic(broker, name, partitions, configs=None):
    """CreateTopics v0; then waits until Metadata shows every partition led."""
    def tfn(w, t):
        w.str(t).i32(partitions).i16(1)
        w.array([], lambda w, a: None)
        w.array(list((configs or {}).items()), lambda w, kv: (w.str(kv[0]), w.str(kv[1])))
    c = connect(broker)
    r = c.call(19, 0, W().array([name], tfn).i32(10000).b)
    res = dict(r.array(lambda r: (r.str(), r.i16())))
    r.done()
    c.close()
    assert res[name] in (0, 36), "CreateTopics %s: error %d" % (name, res[name])
    wait_leaders(broker, name, partitions)


def metadata(broker, topic):
    """Metadata v1 for one topic: {partition: leader}, or None if unknown."""
    c = connect(broker)
    r = c.call(3, 1, W().array([topic], lambda w, t: w.str(t)).b)
    r.array(lambda r: (r.i32(), r.str(), r.i32(), r.str()))
    r.i32()

    def part(r):
        err, idx, leader = r.i16(), r.i32(), r.i32()
        r.array(lambda r: r.i32())
        r.array(lambda r: r.i32())
        return idx, (err, leader)

    def tp(r):
        err, name = r.i16(), r.str()
        r.i8()  # is_internal
        return name, (err, dict(r.array(part)))
    topics = dict(r.array(tp))
    r.done()
    c.close()
    err, parts = topics[topic]
    return None if err else {p: leader for p, (e, leader) in parts.items() if e == 0}


def wait_leaders(broker, topic, partitions, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        try:
            m = metadata(broker, topic)
            if m and len(m) == partitions and all(v >= 0 for v in m.values()):
                return
        except (OSError, ConnectionError, AssertionError):
            pass
        time.sleep(0.2)
    raise AssertionError("topic %s: partitions have no leader after %ds" % (topic, timeout))


def produce_request(topic, partition, batch, acks=1):
    w = W().str(None).i16(acks).i32(10000)
    w.array([topic], lambda w, t: (w.str(t), w.array([partition], lambda w, p: (w.i32(p), w.bytes(batch)))))
    return w.b


def decode_produce(r):
    """Produce v7 response with one partition: (error, base_offset)."""
    def parts(r):
        out = []
        for _ in range(r.i32()):
            idx, err, base = r.i32(), r.i16(), r.i64()
            r.i64()  # log_append_time
            r.i64()  # log_start_offset
            out.append((idx, err, base))
        return out
    topics = r.array(lambda r: (r.str(), parts(r)))
    r.i32()
    r.done()
    _idx, err, base = topics[0][1][0]
    return err, base


def produce(conn, topic, partition, values, ts=None):
    """Sends one batch of values (bytes) with acks=1. Returns (error, base)."""
    batch = record_batch([(None, v, i) for i, v in enumerate(values)], base_ts=ts)
    return decode_produce(conn.call(0, 7, produce_request(topic, partition, batch)))


def fetch(conn, topic, partition, offset, max_bytes=1 << 20):
    """Fetch v11 of one partition. Returns (error, hw, log_start, records)."""
    w = W().i32(-1).i32(0).i32(0).i32(max_bytes).i8(0).i32(0).i32(-1)
    w.array([topic], lambda w, t: (w.str(t), w.array([partition], lambda w, p: (
        w.i32(p).i32(-1).i64(offset).i64(-1).i32(max_bytes)))))
    w.array([], lambda w, x: None)
    w.str("")
    r = conn.call(1, 11, w.b)
    r.i32()
    assert r.i16() == 0
    r.i32()

    def part(r):
        p = {"index": r.i32(), "err": r.i16(), "hw": r.i64(), "lso": r.i64(), "log_start": r.i64()}
        r.array(lambda r: (r.i64(), r.i64()))
        r.i32()
        p["records"] = r.bytes() or b""
        return p
    topics = r.array(lambda r: (r.str(), r.array(part)))
    r.done()
    p = topics[0][1][0]
    return p["err"], p["hw"], p["log_start"], p["records"]


def read_partition(broker, topic, partition, start=0):
    """Fetches every record from start to the high watermark. Returns
    (hw, [(offset, value)]) and checks that the batches are in order."""
    c = connect(broker)
    out = []
    offset = start
    hw = None
    while True:
        err, hw, _ls, data = fetch(c, topic, partition, offset)
        assert err == 0, "fetch %s-%d@%d: error %d" % (topic, partition, offset, err)
        batches = parse_batches(data)
        if not batches:
            break
        for base, last, _count, b in batches:
            assert last >= offset, "fetch at %d returned batch %d-%d" % (offset, base, last)
            for off, _k, v in batch_records(b):
                if off >= offset:
                    out.append((off, v))
            offset = last + 1
        if offset >= hw:
            break
    c.close()
    for i in range(1, len(out)):
        assert out[i][0] > out[i - 1][0], "offsets out of order at %d" % out[i][0]
    return hw, out


def list_offset(broker, topic, partition, ts):
    """ListOffsets v1: (error, offset) for ts (-1 latest, -2 earliest)."""
    c = connect(broker)
    w = W().i32(-1).array([topic], lambda w, t: (w.str(t), w.array([partition], lambda w, p: (
        w.i32(p).i64(ts)))))
    r = c.call(2, 1, w.b)

    def part(r):
        return r.i32(), r.i16(), r.i64(), r.i64()
    topics = r.array(lambda r: (r.str(), r.array(part)))
    r.done()
    c.close()
    _idx, err, _ts, off = topics[0][1][0]
    return err, off


def partition_dir(broker, topic, partition, logdir=None):
    return os.path.join(logdir or broker.logdir, "%s-%d" % (topic, partition))


def segment_files(pdir, ext):
    return sorted(f for f in os.listdir(pdir) if f.endswith("." + ext) and len(f) == 21 + len(ext))


def broker_log(broker):
    with open(broker.logfile, errors="replace") as f:
        return f.read()


def check_acked(acked, log, what):
    """acked: {offset: value} acknowledged by the broker; log: [(offset,
    value)] read back. Every acknowledged record must be there, at its
    offset, with its value; the log must be gap-free from its first offset."""
    have = dict(log)
    for off in sorted(acked):
        assert off in have, "%s: acknowledged offset %d is missing (log has %d records)" % (
            what, off, len(log))
        assert have[off] == acked[off], "%s: offset %d holds %r, acknowledged %r" % (
            what, off, have[off], acked[off])
    offs = [o for o, _ in log]
    if offs:
        assert offs == list(range(offs[0], offs[0] + len(offs))), "%s: gap in offsets" % what
