#!/usr/bin/env python3
"""
tests/integration/protocol/test_idempotence.py — idempotent produce on real
brokers (docs/storage.md "Producer state"): raw Produce v3-v7 batches with
chosen producer ids, epochs and sequences. A repeat of any of the producer's
last five batches is answered with its original base offset and not written
again (the log end offset, read with ListOffsets, stays put); a sequence gap
or a new epoch not starting at 0 is OUT_OF_ORDER_SEQUENCE_NUMBER (45); an
older epoch INVALID_PRODUCER_EPOCH (47); an unknown producer id is accepted
at any sequence (Kafka >= 2.5), also once an idle producer expired
(producer.id.expiration.ms, on an extra broker). The state survives a clean restart and a
SIGKILL (a clean shutdown's snapshot keeps each producer's last batch, as
Kafka's does; after a SIGKILL the log rebuilds all five), and a leader change: the follower mirrored
the leader's state, so the new leader deduplicates a retry of the last batch
(three brokers, replication factor 3, acks=all); the old leader, restarted,
mirrors the new one as a follower and, elected back, deduplicates too. DescribeProducers v0 lists
a partition's producers (id, epoch, last sequence, last timestamp, coordinator
epoch, open transaction start offset), and
`gregor topic producers` prints them.
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwire  # noqa: E402
from kwire import Conn, W  # noqa: E402
from cluster import Cluster, run_suite  # noqa: E402
import test_api_matrix as m  # noqa: E402
import test_offset_for_leader_epoch as olep  # noqa: E402

CL = None
NONE, OUT_OF_ORDER, INVALID_EPOCH = 0, 45, 47
VERSIONS = (3, 4, 5, 6, 7)


def batch(pid, epoch, seq, n, tag=b"v"):
    return kwire.record_batch([(b"k%d" % i, tag + b"%d" % (seq + i), i) for i in range(n)],
                              producer_id=pid, producer_epoch=epoch, base_seq=seq)


def send(port, topic, b, v=7, acks=1, partition=0):
    c = Conn("127.0.0.1", port)
    try:
        res = m.decode_produce(c.call(0, v, m.produce_body(v, topic, partition, b, acks)), v)
    finally:
        c.close()
    p = res[topic][0]
    return p["err"], p["base"]


def leo(port, topic, partition=0):
    c = Conn("127.0.0.1", port)
    try:
        p = m.decode_list_offsets(c.call(2, 1, m.list_offsets_body(1, topic, 0, -1)), 1)
    finally:
        c.close()
    assert p["err"] == 0, p
    return p["offset"]


def port0():
    return CL.brokers[0].port


def topic1(name):
    olep.create(port0(), name, 1)
    olep.wait_leaders(port0(), name, 1, want=0)


def test_duplicates_of_the_last_five_batches_answer_the_original_offset():
    topic1("idem-dup")
    offsets = []
    for i in range(8):  # batches of 3 records: seq 0-2, 3-5, ...
        err, base = send(port0(), "idem-dup", batch(1000, 0, 3 * i, 3))
        assert err == NONE, (i, err)
        offsets.append(base)
    assert offsets == [3 * i for i in range(8)]
    end = leo(port0(), "idem-dup")
    assert end == 24
    for k, i in enumerate(range(3, 8)):  # each of the last five, through every version
        v = VERSIONS[k % len(VERSIONS)]
        assert send(port0(), "idem-dup", batch(1000, 0, 3 * i, 3), v=v) == (NONE, 3 * i), (i, v)
        assert send(port0(), "idem-dup", batch(1000, 0, 3 * i, 3), acks=-1) == (NONE, 3 * i)
    assert leo(port0(), "idem-dup") == end, "a duplicate was written"
    # older than the window: not known any more, and not next either
    assert send(port0(), "idem-dup", batch(1000, 0, 6, 3))[0] == OUT_OF_ORDER
    assert send(port0(), "idem-dup", batch(1000, 0, 24, 2)) == (NONE, 24)


def test_gap_is_out_of_order_and_writes_nothing():
    topic1("idem-gap")
    assert send(port0(), "idem-gap", batch(2000, 0, 0, 2)) == (NONE, 0)
    for v in VERSIONS:
        assert send(port0(), "idem-gap", batch(2000, 0, 3, 1), v=v)[0] == OUT_OF_ORDER, v
    assert send(port0(), "idem-gap", batch(2000, 0, 1, 1))[0] == OUT_OF_ORDER, "overlap"
    assert leo(port0(), "idem-gap") == 2
    assert send(port0(), "idem-gap", batch(2000, 0, 2, 1)) == (NONE, 2)
    # other producers and plain batches are independent
    assert send(port0(), "idem-gap", batch(2001, 0, 0, 1)) == (NONE, 3)
    assert send(port0(), "idem-gap", kwire.record_batch([(b"a", b"b", 0)])) == (NONE, 4)


def test_unknown_producer_any_sequence_and_epochs():
    topic1("idem-epoch")
    # unknown producer id: accepted at any sequence (Kafka >= 2.5)
    assert send(port0(), "idem-epoch", batch(3000, 4, 17, 2)) == (NONE, 0)
    assert send(port0(), "idem-epoch", batch(3000, 4, 19, 1)) == (NONE, 2)
    for v in VERSIONS:
        assert send(port0(), "idem-epoch", batch(3000, 3, 20, 1), v=v)[0] == INVALID_EPOCH, v
    assert send(port0(), "idem-epoch", batch(3000, 3, 17, 2))[0] == INVALID_EPOCH, "old-epoch retry"
    assert send(port0(), "idem-epoch", batch(3000, 5, 20, 1))[0] == OUT_OF_ORDER, "bump not at 0"
    assert leo(port0(), "idem-epoch") == 3
    assert send(port0(), "idem-epoch", batch(3000, 5, 0, 1)) == (NONE, 3), "epoch bump"
    assert send(port0(), "idem-epoch", batch(3000, 4, 20, 1))[0] == INVALID_EPOCH
    assert send(port0(), "idem-epoch", batch(3000, 5, 1, 1)) == (NONE, 4)
    assert send(port0(), "idem-epoch", batch(3000, 5, 0, 1)) == (NONE, 3), "duplicate"


def test_sequence_wraps_at_int32_max():
    topic1("idem-wrap")
    top = 2 ** 31 - 1
    assert send(port0(), "idem-wrap", batch(4000, 0, top - 1, 2)) == (NONE, 0)
    assert send(port0(), "idem-wrap", batch(4000, 0, 0, 2)) == (NONE, 2)
    assert send(port0(), "idem-wrap", batch(4000, 0, top - 1, 2)) == (NONE, 0), "duplicate"
    assert send(port0(), "idem-wrap", batch(4000, 0, 3, 1))[0] == OUT_OF_ORDER


def describe_producers(port, topics):
    """DescribeProducers v0: topics = [(name, [partitions])] -> {(name, p): (err, msg,
    [(pid, epoch, last_seq, last_ts, coord_epoch, txn_start)])}."""
    w = W(flex=True)
    w.array(topics, lambda w, t: (w.str(t[0]), w.array(t[1], lambda w, p: w.i32(p)), w.tags()))
    w.tags()
    c = Conn("127.0.0.1", port)
    try:
        r = c.call(61, 0, w.b)
    finally:
        c.close()
    out = {}
    assert r.i32() == 0

    def prod(r):
        v = (r.i64(), r.i32(), r.i32(), r.i64(), r.i32(), r.i64())
        r.tags()
        return v

    def part(r):
        p, err, msg = r.i32(), r.i16(), r.str()
        out[(name[0], p)] = (err, msg, r.array(prod))
        r.tags()

    name = [None]

    def topic(r):
        name[0] = r.str()
        r.array(part)
        r.tags()

    r.array(topic)
    r.tags()
    r.done()
    return out


def test_describe_producers_lists_the_partition_state():
    topic1("idem-desc")
    ts = 1700000000000
    b1 = kwire.record_batch([(b"k", b"v", 0), (b"k", b"w", 5)], base_ts=ts, producer_id=7000,
                            producer_epoch=3, base_seq=0)
    b2 = kwire.record_batch([(b"k", b"v", 0)], base_ts=ts + 9, producer_id=7001, producer_epoch=0,
                            base_seq=40)
    assert send(port0(), "idem-desc", b1) == (NONE, 0)
    assert send(port0(), "idem-desc", b2) == (NONE, 2)
    assert send(port0(), "idem-desc", kwire.record_batch([(b"a", b"b", 0)])) == (NONE, 3)
    got = describe_producers(port0(), [("idem-desc", [0, 3]), ("idem-none", [0])])
    err, msg, prods = got[("idem-desc", 0)]
    assert (err, msg) == (NONE, None)
    assert sorted(prods) == [(7000, 3, 1, ts + 5, -1, -1), (7001, 0, 40, ts + 9, -1, -1)], prods
    assert got[("idem-desc", 3)][0] == 3 and got[("idem-desc", 3)][2] == []
    assert got[("idem-none", 0)][0] == 3
    # gregor topic producers: the same through the CLI
    cli = os.path.join(os.environ.get("GREGOR_BUILD_DIR", "build"), "bin", "gregor")
    p = subprocess.run([cli, "-b", "127.0.0.1:%d" % port0(), "topic", "producers", "idem-desc"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p
    rows = [line.split() for line in p.stdout.splitlines()]
    assert rows == [["PARTITION", "PRODUCER_ID", "EPOCH", "LAST_SEQUENCE", "LAST_TIMESTAMP",
                     "COORDINATOR_EPOCH", "TXN_START_OFFSET"],
                    ["0", "7000", "3", "1", str(ts + 5), "-1", "-1"],
                    ["0", "7001", "0", "40", str(ts + 9), "-1", "-1"]], rows
    p = subprocess.run([cli, "-b", "127.0.0.1:%d" % port0(), "topic", "producers", "idem-desc",
                        "-p", "4"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "has 1 partitions" in p.stderr, p


def test_idle_producer_expires_then_any_sequence_is_accepted():
    """producer.id.expiration.ms on a broker of its own (id 1 in the suite's ZooKeeper): the
    idle producer's state is dropped by the retention pass, and the producer id is then unknown,
    so a batch at any sequence is accepted (Kafka >= 2.5) and starts the state anew."""
    from cluster import Broker
    b = Broker(CL.tmp, CL.zk, 1, ["producer.id.expiration.ms=3000",
                                  "log.retention.check.interval.ms=200"])
    try:
        create_when_registered(b.port, "idem-exp", [(0, [1])])
        olep.wait_leaders(b.port, "idem-exp", 1, want=1)
        t0 = time.time()  # before the batch: the expiry cannot come sooner than t0 + 3 s
        assert send(b.port, "idem-exp", batch(8000, 2, 0, 2)) == (NONE, 0)
        assert [p[:3] for p in describe_producers(b.port, [("idem-exp", [0])])[("idem-exp", 0)][2]] \
            == [(8000, 2, 1)]
        assert send(b.port, "idem-exp", batch(8000, 2, 7, 1))[0] == OUT_OF_ORDER  # still known
        while describe_producers(b.port, [("idem-exp", [0])])[("idem-exp", 0)][2]:
            assert time.time() - t0 < 10, "producer 8000 not expired"
            time.sleep(0.1)
        assert time.time() - t0 > 2.9, "expired before producer.id.expiration.ms"
        assert send(b.port, "idem-exp", batch(8000, 2, 7, 1)) == (NONE, 2)
        assert send(b.port, "idem-exp", batch(8000, 2, 7, 1)) == (NONE, 2), "a duplicate again"
        assert send(b.port, "idem-exp", batch(8000, 2, 9, 1))[0] == OUT_OF_ORDER
        prods = describe_producers(b.port, [("idem-exp", [0])])[("idem-exp", 0)][2]
        assert [p[:3] for p in prods] == [(8000, 2, 7)], prods
        assert leo(b.port, "idem-exp") == 3
    finally:
        st = b.stop()
    assert st == 0, (st, open(b.logfile).read()[-3000:])


def restart_keeps_state(sig, topic, pid):
    topic1(topic)
    for i in range(4):
        assert send(port0(), topic, batch(pid, 1, 2 * i, 2), acks=-1) == (NONE, 2 * i)
    b = CL.brokers[0]
    b.stop(sig)
    snaps = [f for f in os.listdir(os.path.join(b.logdir, topic + "-0")) if f.endswith(".snapshot")]
    # a clean shutdown writes <LEO>.snapshot, which holds each producer's last batch (Kafka's
    # format); after SIGKILL there is none and the state is rebuilt from the log: all of them
    assert snaps == (["%020d.snapshot" % 8] if sig == signal.SIGTERM else []), snaps
    b.start()
    olep.wait_leaders(port0(), topic, 1, want=0)
    end = leo(port0(), topic)
    assert end == 8
    known = [3] if sig == signal.SIGTERM else range(4)
    for i in known:
        assert send(port0(), topic, batch(pid, 1, 2 * i, 2)) == (NONE, 2 * i), i
    if sig == signal.SIGTERM:
        assert send(port0(), topic, batch(pid, 1, 4, 2))[0] == OUT_OF_ORDER
    assert leo(port0(), topic) == end
    assert send(port0(), topic, batch(pid, 1, 9, 1))[0] == OUT_OF_ORDER
    assert send(port0(), topic, batch(pid, 0, 8, 1))[0] == INVALID_EPOCH
    assert send(port0(), topic, batch(pid, 1, 8, 1)) == (NONE, 8)


def test_state_survives_a_clean_restart():
    restart_keeps_state(signal.SIGTERM, "idem-restart", 5000)


def test_state_survives_sigkill():
    restart_keeps_state(signal.SIGKILL, "idem-kill", 5001)


def create_when_registered(port, name, assignment, timeout=30):
    """CreateTopics with an explicit assignment, retried while the brokers it
    names have not registered yet (INVALID_REPLICA_ASSIGNMENT)."""
    deadline = time.time() + timeout
    while True:
        c = Conn("127.0.0.1", port)
        try:
            t = (name, -1, -1, {}, assignment)
            res = m.decode_create_topics(c.call(19, 4, m.create_topics_body(4, [t])), 4)
        finally:
            c.close()
        if res[name]["err"] == 0:
            return
        assert res[name]["err"] == 39 and time.time() < deadline, res
        time.sleep(0.2)


def test_new_leader_dedupes_a_retry_sent_to_the_old_one():
    cl = Cluster(n_brokers=3, overrides=["zookeeper.session.timeout.ms=6000",
                                         "replica.lag.time.max.ms=10000"])
    try:
        b0 = cl.brokers[0]
        create_when_registered(b0.port, "idem-fo", [(0, [0, 1, 2])])
        e0 = olep.wait_leaders(b0.port, "idem-fo", 1, want=0)[0]["epoch"]
        for b in cl.brokers[1:]:
            olep.wait_leaders(b.port, "idem-fo", 1, want=0)
        for i in range(6):
            assert send(b0.port, "idem-fo", batch(6000, 2, 4 * i, 4), acks=-1) == (NONE, 4 * i)
        b0.stop(signal.SIGKILL)
        parts = olep.wait_leaders(cl.brokers[1].port, "idem-fo", 1, min_epoch=e0 + 1, timeout=90)
        leader = parts[0]["leader"]
        assert leader in (1, 2), parts
        port = cl.brokers[leader].port
        # ListOffsets latest is the high watermark, which a new leader advances once the other
        # follower has fetched from it: every acknowledged (acks=all) record is there by then
        deadline = time.time() + 10
        while leo(port, "idem-fo") != 24 and time.time() < deadline:
            time.sleep(0.05)
        end = leo(port, "idem-fo")
        assert end == 24, end
        # the producer's retry of the batches it had in flight
        for i in range(1, 6):
            assert send(port, "idem-fo", batch(6000, 2, 4 * i, 4), acks=-1) == (NONE, 4 * i), i
        assert leo(port, "idem-fo") == end, "a retry was written twice"
        assert send(port, "idem-fo", batch(6000, 2, 25, 1))[0] == OUT_OF_ORDER
        assert send(port, "idem-fo", batch(6000, 1, 24, 1))[0] == INVALID_EPOCH
        assert send(port, "idem-fo", batch(6000, 2, 24, 1), acks=-1) == (NONE, 24)
        prods = describe_producers(port, [("idem-fo", [0])])[("idem-fo", 0)]
        assert prods[0] == NONE and [p[:3] for p in prods[2]] == [(6000, 2, 24)], prods
        follower = cl.brokers[3 - leader]
        assert describe_producers(follower.port, [("idem-fo", [0])])[("idem-fo", 0)][0] == 6
        # the old leader comes back as a follower (its state rebuilt, then mirroring the new
        # leader), is elected again (preferred replica) and deduplicates what the other wrote
        b0.start()
        deadline = time.time() + 90
        while 0 not in olep.metadata_parts(port, "idem-fo").get(0, {}).get("isr", []):
            assert time.time() < deadline, "broker 0 did not rejoin the ISR"
            time.sleep(0.3)
        cli = os.path.join(os.environ.get("GREGOR_BUILD_DIR", "build"), "bin", "gregor")
        p = subprocess.run([cli, "-b", "127.0.0.1:%d" % port, "cluster", "elect-leaders",
                            "--topic", "idem-fo", "--partition", "0"],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p
        olep.wait_leaders(b0.port, "idem-fo", 1, want=0, timeout=60)
        assert send(b0.port, "idem-fo", batch(6000, 2, 24, 1), acks=-1) == (NONE, 24)
        assert send(b0.port, "idem-fo", batch(6000, 2, 20, 4), acks=-1) == (NONE, 20)
        assert leo(b0.port, "idem-fo") == 25
        assert send(b0.port, "idem-fo", batch(6000, 2, 25, 1), acks=-1) == (NONE, 25)
    finally:
        unclean = cl.stop()
    assert not unclean, unclean


def main():
    global CL
    CL = Cluster()
    m.CL = CL
    olep.CL = CL
    return run_suite(CL, globals())


if __name__ == "__main__":
    sys.exit(main())
