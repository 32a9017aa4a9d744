#!/usr/bin/env python3
"""
tests/integration/protocol/test_offset_for_leader_epoch.py — OffsetForLeaderEpoch
(key 23) v0-v4 against real brokers and ZooKeeper, with the test suite's own
codec (kwire.py).

Each response is decoded field by field for its version and must be consumed
exactly. Checked: the answer for the current epoch is the log end offset after
producing, in every version; an epoch newer than any known is (-1, -1); unknown
topics and partitions get UNKNOWN_TOPIC_OR_PARTITION; current_leader_epoch
newer than the leader's is UNKNOWN_LEADER_EPOCH; a consumer asking a follower
gets NOT_LEADER_OR_FOLLOWER while a broker (v3+ replica_id >= 0) is answered
from the follower's log. After a failover (two brokers, the leader killed)
the new leader answers the old epoch with where it ended, the new epoch with
its LEO, and fences the old current_leader_epoch (FENCED_LEADER_EPOCH).
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwire  # noqa: E402
from kwire import W, Conn  # noqa: E402
from cluster import Cluster, run_suite  # noqa: E402
import test_api_matrix as m  # noqa: E402

KEY = 23
VERSIONS = range(0, 5)
FLEX_FROM = 4
kwire.FLEX.setdefault(KEY, FLEX_FROM)

NONE, UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER = 0, 3, 6
FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH = 74, 75

CL = None


# ---------------------------------------------------------------- codec

def olep_body(v, topics, replica_id=-1):
    """topics: list of (name, [(partition, current_leader_epoch, leader_epoch)])."""
    flex = v >= FLEX_FROM
    w = W(flex=flex)
    if v >= 3:
        w.i32(replica_id)

    def part(w, p):
        w.i32(p[0])
        if v >= 2:
            w.i32(p[1])
        w.i32(p[2])
        w.tags()

    def topic(w, t):
        w.str(t[0])
        w.array(t[1], part)
        w.tags()
    w.array(topics, topic)
    w.tags()
    return w.b


def decode_olep(r, v):
    """Returns {topic: [(err, partition, leader_epoch or None, end_offset)]}."""
    if v >= 2:
        assert r.i32() == 0, "throttle_time_ms"

    def part(r):
        p = (r.i16(), r.i32(), r.i32() if v >= 1 else None, r.i64())
        r.tags()
        return p

    def topic(r):
        t = (r.str(), r.array(part))
        r.tags()
        return t
    out = dict(r.array(topic))
    r.tags()
    r.done()
    return out


def olep(port, v, topics, replica_id=-1):
    c = Conn("127.0.0.1", port)
    try:
        return decode_olep(c.call(KEY, v, olep_body(v, topics, replica_id)), v)
    finally:
        c.close()


def one(port, v, topic, partition, epoch, current=-1, replica_id=-1):
    res = olep(port, v, [(topic, [(partition, current, epoch)])], replica_id)
    assert list(res) == [topic], res
    assert len(res[topic]) == 1 and res[topic][0][1] == partition, res
    return res[topic][0]


# ---------------------------------------------------------------- helpers

def metadata_parts(port, topic):
    c = Conn("127.0.0.1", port)
    try:
        md = m.decode_metadata(c.call(3, 7, m.metadata_body(7, [topic])), 7)
    finally:
        c.close()
    t = md["topics"].get(topic)
    return {p["index"]: p for p in t["parts"]} if t and t["err"] == 0 else {}


def wait_leaders(port, topic, n_parts, want=None, min_epoch=0, timeout=60):
    """Retries Metadata until every partition has a leader (== want if given)
    with an epoch >= min_epoch; returns {partition: metadata entry}."""
    end = time.time() + timeout
    parts = {}
    while time.time() < end:
        parts = metadata_parts(port, topic)
        if len(parts) == n_parts and all(
                p["leader"] >= 0 and (want is None or p["leader"] == want) and p["epoch"] >= min_epoch
                for p in parts.values()):
            return parts
        time.sleep(0.2)
    raise AssertionError("no leaders for %s: %r" % (topic, parts))


def create(port, name, partitions, rf=1, assignment=None):
    c = Conn("127.0.0.1", port)
    t = (name, partitions, rf, {}) if assignment is None else (name, -1, -1, {}, assignment)
    res = m.decode_create_topics(c.call(19, 4, m.create_topics_body(4, [t])), 4)
    c.close()
    assert res[name]["err"] == 0, res


def produce(port, topic, partition, n, acks=-1):
    c = Conn("127.0.0.1", port)
    batch = kwire.record_batch([(b"k%d" % i, b"v%d" % i, i) for i in range(n)])
    res = m.decode_produce(c.call(0, 7, m.produce_body(7, topic, partition, batch, acks)), 7)
    c.close()
    p = res[topic][0]
    assert p["err"] == 0, p
    return p["base"] + n


# ---------------------------------------------------------------- single broker

def port0():
    return CL.brokers[0].port


def test_current_epoch_ends_at_the_leo_in_every_version():
    create(port0(), "olep", 2)
    parts = wait_leaders(port0(), "olep", 2, want=0)
    epoch = parts[0]["epoch"]
    leo = produce(port0(), "olep", 0, 3)
    for v in VERSIONS:
        leo = produce(port0(), "olep", 0, 2)
        err, p, e, off = one(port0(), v, "olep", 0, epoch, current=epoch)
        assert (err, off) == (NONE, leo), "v%d: %r, LEO %d" % (v, (err, e, off), leo)
        assert e == (epoch if v >= 1 else None), "v%d epoch %r" % (v, e)
    # Asked without a current epoch check (-1), and as a broker (v3+).
    for v in (2, 3, 4):
        assert one(port0(), v, "olep", 0, epoch) == (NONE, 0, epoch, leo)
    assert one(port0(), 3, "olep", 0, epoch, replica_id=0) == (NONE, 0, epoch, leo)


def test_epoch_newer_than_any_known_is_undefined():
    create(port0(), "olep-new", 1)
    epoch = wait_leaders(port0(), "olep-new", 1, want=0)[0]["epoch"]
    produce(port0(), "olep-new", 0, 1)
    for v in VERSIONS:
        err, _, e, off = one(port0(), v, "olep-new", 0, epoch + 3)
        assert (err, off) == (NONE, -1) and e in (None, -1), "v%d: %r" % (v, (err, e, off))


def test_empty_partition_answers_the_current_epoch_at_zero():
    # A new leader starts its epoch at the LEO before anything is written.
    create(port0(), "olep-empty", 1)
    epoch = wait_leaders(port0(), "olep-empty", 1, want=0)[0]["epoch"]
    assert one(port0(), 4, "olep-empty", 0, epoch, current=epoch) == (NONE, 0, epoch, 0)


def test_unknown_topic_and_partition():
    create(port0(), "olep-known", 1)
    wait_leaders(port0(), "olep-known", 1, want=0)
    for v in VERSIONS:
        res = olep(port0(), v, [("olep-no-such-topic", [(0, -1, 0), (3, -1, 1)]),
                                ("olep-known", [(1, -1, 0), (-1, -1, 0)])])
        undefined = -1 if v >= 1 else None
        assert res["olep-no-such-topic"] == [(UNKNOWN_TOPIC_OR_PARTITION, 0, undefined, -1),
                                             (UNKNOWN_TOPIC_OR_PARTITION, 3, undefined, -1)], (v, res)
        assert res["olep-known"] == [(UNKNOWN_TOPIC_OR_PARTITION, 1, undefined, -1),
                                     (UNKNOWN_TOPIC_OR_PARTITION, -1, undefined, -1)], (v, res)


def test_unknown_current_leader_epoch():
    create(port0(), "olep-cur", 1)
    epoch = wait_leaders(port0(), "olep-cur", 1, want=0)[0]["epoch"]
    produce(port0(), "olep-cur", 0, 2)
    for v in (2, 3, 4):
        assert one(port0(), v, "olep-cur", 0, epoch, current=epoch + 1) == \
            (UNKNOWN_LEADER_EPOCH, 0, -1, -1), "v%d" % v
    # v0/v1 carry no current epoch: never fenced.
    assert one(port0(), 1, "olep-cur", 0, epoch) == (NONE, 0, epoch, 2)


def test_empty_request_and_truncated_request():
    for v in VERSIONS:
        assert olep(port0(), v, []) == {}
    c = Conn("127.0.0.1", port0())
    body = olep_body(4, [("olep", [(0, -1, 0)])])
    c.send(KEY, 4, body[:-6])
    try:
        c.recv_frame()
        raise AssertionError("a truncated request must close the connection")
    except ConnectionError:
        pass
    c.close()


# ---------------------------------------------------------------- failover (two brokers)

def test_failover_fences_the_old_epoch_and_keeps_its_end():
    cl = Cluster(n_brokers=2, overrides=["zookeeper.session.timeout.ms=6000",
                                         "replica.lag.time.max.ms=10000"])
    try:
        b0, b1 = cl.brokers
        create(b0.port, "olep-fo", -1, assignment=[(0, [0, 1])])
        p = wait_leaders(b0.port, "olep-fo", 1, want=0)[0]
        wait_leaders(b1.port, "olep-fo", 1, want=0)
        e0 = p["epoch"]
        end0 = produce(b0.port, "olep-fo", 0, 4, acks=-1)
        end0 = produce(b0.port, "olep-fo", 0, 3, acks=-1)
        # The follower: a consumer must ask the leader, a broker may ask it.
        assert one(b1.port, 4, "olep-fo", 0, e0) == (NOT_LEADER, 0, -1, -1)
        assert one(b1.port, 2, "olep-fo", 0, e0) == (NOT_LEADER, 0, -1, -1), "v2: a consumer"
        assert one(b1.port, 3, "olep-fo", 0, e0, replica_id=1) == (NONE, 0, e0, end0)

        b0.stop(signal.SIGKILL)
        e1 = wait_leaders(b1.port, "olep-fo", 1, want=1, min_epoch=e0 + 1, timeout=90)[0]["epoch"]
        end1 = produce(b1.port, "olep-fo", 0, 5, acks=1)
        assert end1 == end0 + 5
        for v in VERSIONS:
            err, _, e, off = one(b1.port, v, "olep-fo", 0, e0, current=e1)
            assert (err, off) == (NONE, end0), "v%d old epoch: %r" % (v, (err, e, off))
            assert e == (e0 if v >= 1 else None)
            assert one(b1.port, v, "olep-fo", 0, e1, current=e1)[::3] == (NONE, end1)
        for v in (2, 3, 4):
            assert one(b1.port, v, "olep-fo", 0, e1, current=e0) == \
                (FENCED_LEADER_EPOCH, 0, -1, -1), "v%d" % v
            assert one(b1.port, v, "olep-fo", 0, e1, current=e1 + 1) == \
                (UNKNOWN_LEADER_EPOCH, 0, -1, -1), "v%d" % v
    finally:
        cl.stop()


def main():
    global CL
    CL = Cluster()
    m.CL = CL
    return run_suite(CL, dict(sorted(globals().items())))


if __name__ == "__main__":
    sys.exit(main())
