#!/usr/bin/env python3
"""
tests/integration/protocol/test_txn_offset_commit.py — TxnOffsetCommit (key 28) on the group
coordinator of three real brokers (docs/protocol.md §6.9), with raw requests (kwire.py). No
transaction coordinator is involved: the producer id comes from InitProducerId (idempotent) and
the test sends WriteTxnMarkers to the leader of the group's `__consumer_offsets` partition
itself, as a coordinator would.

Checked: every version 0-3 is accepted; a transactional offset is invisible until its COMMIT
marker (OffsetFetch v7 require_stable answers UNSTABLE_OFFSET_COMMIT, v6 and v7 without it the
last committed value) and visible after it; an ABORT drops it; an older producer epoch is
INVALID_PRODUCER_EPOCH and leaves nothing pending; bad input gets its code (unknown topic,
metadata too large, unknown member, wrong generation, producer id -1, empty group id, a broker
that is not the coordinator); the coordinator SIGKILLed with a committed and a pending
transactional offset: the new coordinator shows the same, and the pending one commits at its
marker there; confluent_kafka and kafka-python consumers of the group start from the committed
positions.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kwire import Conn, W  # noqa: E402
from cluster import Cluster, run_suite  # noqa: E402
import test_api_matrix as m  # noqa: E402
import test_offset_for_leader_epoch as olep  # noqa: E402
import test_init_producer_id as ipid  # noqa: E402
import test_transactions as txn  # noqa: E402
from txnwire import KEY_GROUP, coord_partition  # noqa: E402
import txnwire  # noqa: E402

CL = None
NONE, UNKNOWN_TOPIC, METADATA_TOO_LARGE, LOADING, NOT_AVAILABLE, NOT_COORDINATOR = 0, 3, 12, 14, 15, 16
ILLEGAL_GENERATION, INVALID_GROUP_ID, UNKNOWN_MEMBER = 22, 24, 25
INVALID_EPOCH, INVALID_PID_MAPPING, UNSTABLE = 47, 49, 88
N_OFFSETS = 5  # offsets.topic.num.partitions
TOPIC, GROUP = "tin", "txn-group"
STATE = {}  # what the tests before the failover left behind


def port_of(node):
    return [b.port for b in CL.brokers if b.id == node][0]


def coordinator(group, skip=(), timeout=60):
    """(node, port) of the group's coordinator, asked of a live broker."""
    return txnwire.coordinator(CL, group, KEY_GROUP, skip, timeout)


def txn_commit(port, v, pid, epoch, parts, group=GROUP, member="", generation=-1, instance=None):
    """TxnOffsetCommit v; parts: [(topic, partition, offset, metadata)] -> {(topic, p): err}."""
    flex = v >= 3
    w = W(flex=flex)
    w.str("tx-%d" % pid).str(group).i64(pid).i16(epoch)
    if v >= 3:
        w.i32(generation).str(member).str(instance)
    topics = {}
    for t, p, off, meta in parts:
        topics.setdefault(t, []).append((p, off, meta))

    def part(w, x):
        w.i32(x[0]).i64(x[1])
        if v >= 2:
            w.i32(-1)
        w.str(x[2])
        if flex:
            w.tags()

    def topic(w, t):
        w.str(t[0]).array(t[1], part)
        if flex:
            w.tags()
    w.array(list(topics.items()), topic)
    if flex:
        w.tags()
    c = Conn("127.0.0.1", port)
    try:
        r = c.call(28, v, w.b)
    finally:
        c.close()
    r.i32()  # throttle
    out = {}

    def rtopic(r):
        name = r.str()

        def rpart(r):
            index = r.i32()
            out[(name, index)] = r.i16()
            if flex:
                r.tags()
        r.array(rpart)
        if flex:
            r.tags()
    r.array(rtopic)
    if flex:
        r.tags()
    r.done()
    assert sorted(out) == sorted({(t, p) for t, p, _, _ in parts}), out
    return out


def offset_fetch(port, v, partitions, stable=False, group=GROUP):
    """OffsetFetch v (6 or 7) of TOPIC's partitions -> ({p: (offset, metadata, err)}, err)."""
    flex = v >= 6
    w = W(flex=flex)
    w.str(group).array([TOPIC], lambda w, t: (w.str(t), w.array(partitions, lambda w, p: w.i32(p)),
                                               w.tags()))
    if v >= 7:
        w.i8(1 if stable else 0)
    w.tags()
    c = Conn("127.0.0.1", port)
    try:
        r = c.call(9, v, w.b)
    finally:
        c.close()
    r.i32()
    out = {}

    def rtopic(r):
        r.str()

        def rpart(r):
            p, off, _, meta, err = r.i32(), r.i64(), r.i32(), r.str(), r.i16()
            r.tags()
            out[p] = (off, meta, err)
        r.array(rpart)
        r.tags()
    r.array(rtopic)
    err = r.i16()
    r.tags()
    r.done()
    return out, err


def wait_loaded(port, timeout=60):
    """Retries OffsetFetch until the coordinator at port has loaded the group's partition."""
    end_at = time.time() + timeout
    while True:
        _, err = offset_fetch(port, 7, [0])
        if err == NONE:
            return
        assert err in (LOADING, NOT_AVAILABLE, NOT_COORDINATOR) and time.time() < end_at, err
        time.sleep(0.2)


def offsets_now(port, stable=False):
    res, err = offset_fetch(port, 7, [0, 1], stable)
    assert err == NONE, err
    return {p: (o if e == NONE else e) for p, (o, _, e) in res.items()}


def plain_commit(port, partition, offset):
    """OffsetCommit v2 of a simple consumer (generation -1)."""
    w = W()
    w.str(GROUP).i32(-1).str("").i64(-1)
    w.array([TOPIC], lambda w, t: (w.str(t), w.array([partition], lambda w, p: (
        w.i32(p).i64(offset).str("")))))
    c = Conn("127.0.0.1", port)
    try:
        r = c.call(8, 2, w.b)
    finally:
        c.close()
    errs = []
    r.array(lambda r: (r.str(), r.array(lambda r: (r.i32(), errs.append(r.i16())))))
    assert errs == [NONE], errs


def end(port, pid, epoch, commit):
    p = coord_partition(GROUP, N_OFFSETS)
    res = txn.markers(port, [(pid, epoch, commit, [("__consumer_offsets", [p])], 0)])
    assert res == {(pid, "__consumer_offsets", p): NONE}, res


def setup_cluster():
    b0 = CL.brokers[0].port
    olep.create(b0, TOPIC, 2, rf=3)
    olep.wait_leaders(b0, TOPIC, 2)
    from confluent_kafka import Producer
    prod = Producer({"bootstrap.servers": ",".join("127.0.0.1:%d" % b.port for b in CL.brokers),
                     "acks": "all"})
    for p in (0, 1):
        for i in range(20):
            prod.produce(TOPIC, b"v%d" % i, partition=p)
    assert prod.flush(30) == 0
    node, port = coordinator(GROUP)
    # the offsets partition is replicated to every broker before anything is committed
    olep.wait_leaders(b0, "__consumer_offsets", N_OFFSETS)
    wait_loaded(port)
    STATE.update(node=node, port=port)


def test_commit_marker_makes_the_offsets_visible():
    setup_cluster()
    port = STATE["port"]
    pid, epoch = txn.new_pid(port)
    STATE.update(pid=pid, epoch=epoch)
    plain_commit(port, 0, 1)
    assert txn_commit(port, 3, pid, epoch, [(TOPIC, 0, 5, "m5"), (TOPIC, 1, 7, None)]) == {
        (TOPIC, 0): NONE, (TOPIC, 1): NONE}
    assert offsets_now(port, stable=True) == {0: UNSTABLE, 1: UNSTABLE}
    assert offsets_now(port) == {0: 1, 1: -1}, "the last committed values"
    res, err = offset_fetch(port, 6, [0, 1])
    assert (err, res[0][0], res[1][0]) == (NONE, 1, -1), res
    end(port, pid, epoch, True)
    assert offsets_now(port, stable=True) == {0: 5, 1: 7}
    res, _ = offset_fetch(port, 6, [0])
    assert res[0] == (5, "m5", NONE), res


def test_abort_marker_drops_them_and_every_version_is_accepted():
    port, pid, epoch = STATE["port"], STATE["pid"], STATE["epoch"]
    for v in (0, 1, 2):
        assert txn_commit(port, v, pid, epoch, [(TOPIC, 0, 100 + v, "")]) == {(TOPIC, 0): NONE}
        assert offsets_now(port, stable=True)[0] == UNSTABLE
        end(port, pid, epoch, False)
        assert offsets_now(port, stable=True) == {0: 5, 1: 7}, "aborted at v%d" % v


def test_older_producer_epoch_is_refused():
    port, pid, epoch = STATE["port"], STATE["pid"], STATE["epoch"]
    assert txn_commit(port, 3, pid, epoch + 1, [(TOPIC, 0, 6, "")]) == {(TOPIC, 0): NONE}
    end(port, pid, epoch + 1, True)
    assert offsets_now(port, stable=True)[0] == 6
    assert txn_commit(port, 3, pid, epoch, [(TOPIC, 0, 66, "")]) == {(TOPIC, 0): INVALID_EPOCH}
    assert offsets_now(port, stable=True) == {0: 6, 1: 7}, "nothing pending, nothing changed"
    STATE["epoch"] = epoch + 1


def test_bad_input_codes():
    port, pid, epoch = STATE["port"], STATE["pid"], STATE["epoch"]
    got = txn_commit(port, 3, pid, epoch, [("no-such-topic", 0, 1, ""), (TOPIC, 9, 1, ""),
                                           (TOPIC, 0, 1, "x" * 4097), (TOPIC, 1, 8, "")])
    assert got == {("no-such-topic", 0): UNKNOWN_TOPIC, (TOPIC, 9): UNKNOWN_TOPIC,
                   (TOPIC, 0): METADATA_TOO_LARGE, (TOPIC, 1): NONE}, got
    end(port, pid, epoch, False)
    assert txn_commit(port, 3, pid, epoch, [(TOPIC, 0, 1, "")], member="nobody",
                      generation=1) == {(TOPIC, 0): UNKNOWN_MEMBER}
    assert txn_commit(port, 3, pid, epoch, [(TOPIC, 0, 1, "")], generation=3) == {
        (TOPIC, 0): ILLEGAL_GENERATION}
    assert txn_commit(port, 3, -1, epoch, [(TOPIC, 0, 1, "")]) == {(TOPIC, 0): INVALID_PID_MAPPING}
    assert txn_commit(port, 3, pid, epoch, [(TOPIC, 0, 1, "")], group="") == {
        (TOPIC, 0): INVALID_GROUP_ID}
    other = [b.port for b in CL.brokers if b.id != STATE["node"]][0]
    assert txn_commit(other, 3, pid, epoch, [(TOPIC, 0, 1, "")]) == {(TOPIC, 0): NOT_COORDINATOR}
    assert offsets_now(port, stable=True) == {0: 6, 1: 7}, "nothing written"


def test_coordinator_failover_keeps_committed_and_pending_offsets():
    port, node = STATE["port"], STATE["node"]
    pid2, e2 = txn.new_pid(port)
    pid3, e3 = txn.new_pid(port)
    assert txn_commit(port, 3, pid2, e2, [(TOPIC, 1, 11, "")]) == {(TOPIC, 1): NONE}
    assert txn_commit(port, 3, pid3, e3, [(TOPIC, 0, 9, "p3")]) == {(TOPIC, 0): NONE}
    end(port, pid3, e3, True)
    before = (offsets_now(port), offsets_now(port, stable=True))
    assert before == ({0: 9, 1: 7}, {0: 9, 1: UNSTABLE}), before
    [b for b in CL.brokers if b.id == node][0].stop(signal.SIGKILL)
    new_node, new_port = coordinator(GROUP, skip=(node,), timeout=90)
    wait_loaded(new_port)
    after = (offsets_now(new_port), offsets_now(new_port, stable=True))
    assert after == before, (before, after)
    res, _ = offset_fetch(new_port, 6, [0])
    assert res[0] == (9, "p3", NONE), res
    end(new_port, pid2, e2, True)
    assert offsets_now(new_port, stable=True) == {0: 9, 1: 11}
    STATE.update(node=new_node, port=new_port, dead=node)


def test_clients_start_from_the_committed_positions():
    from confluent_kafka import Consumer, TopicPartition
    boot = ",".join("127.0.0.1:%d" % b.port for b in CL.brokers
                    if b.id != STATE["dead"])
    c = Consumer({"bootstrap.servers": boot, "group.id": GROUP, "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "isolation.level": "read_committed"})
    try:
        c.subscribe([TOPIC])
        first = {}
        end_at = time.time() + 40
        while len(first) < 2 and time.time() < end_at:
            msg = c.poll(0.5)
            if msg is not None and not msg.error():
                first.setdefault(msg.partition(), msg.offset())
        assert first == {0: 9, 1: 11}, first
        got = c.committed([TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)], timeout=20)
        assert [tp.offset for tp in got] == [9, 11], got
    finally:
        c.close()
    from kafka import KafkaConsumer, TopicPartition as KTP
    k = KafkaConsumer(bootstrap_servers=boot.split(","), group_id=GROUP,
                      enable_auto_commit=False, api_version=(2, 5, 0))
    try:
        assert [k.committed(KTP(TOPIC, p)) for p in (0, 1)] == [9, 11]
    finally:
        k.close()


def main():
    global CL
    CL = Cluster(n_brokers=3, overrides=["offsets.topic.replication.factor=3",
                                          "offsets.topic.num.partitions=%d" % N_OFFSETS,
                                          "group.initial.rebalance.delay.ms=0",
                                          "zookeeper.session.timeout.ms=6000"])
    m.CL = CL
    olep.CL = CL
    ipid.CL = CL
    txn.CL = CL
    return run_suite(CL, globals())


if __name__ == "__main__":
    sys.exit(main())
