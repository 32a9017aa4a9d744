#!/usr/bin/env python3
"""
tests/integration/protocol/test_transactions.py — the partition-leader side
of transactions on real brokers (docs/storage.md "Transactions",
docs/protocol.md §6.8), with raw requests (kwire.py). No transaction
coordinator is involved: the producer id comes from InitProducerId
(idempotent), the test sets the transactional bit on its batches and sends
WriteTxnMarkers (v0 and v1) itself, as a coordinator would.

Checked: a read_committed Fetch stops at the last stable offset while a
transaction is open and says so in last_stable_offset; ListOffsets latest is
the LSO for read_committed and the HW for read_uncommitted; after COMMIT the
records are visible; after ABORT the Fetch lists the transaction in
aborted_transactions (producer id, first offset) for fetches that overlap
it; read_uncommitted sees everything with a null aborted list; older
producer epochs and coordinator epochs are refused (47, 52) without writing;
a SIGKILL restart rebuilds the open transaction and the aborted list;
confluent_kafka consumers with isolation.level read_committed /
read_uncommitted see exactly the committed / all records; a follower that
becomes leader answers the same LSO and aborted list. DescribeProducers (and
`gregor topic producers --output json`) shows an open transaction's first
offset, and after its marker -1 and the marker's coordinator epoch.
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
import test_init_producer_id as ipid  # noqa: E402

CL = None
NONE, UNKNOWN_TOPIC, INVALID_EPOCH, COORD_FENCED = 0, 3, 47, 52
TXN = 0x10  # batch attribute: transactional


def port0():
    return CL.brokers[0].port


def topic1(name, port=None):
    olep.create(port or port0(), name, 1)
    olep.wait_leaders(port or port0(), name, 1, want=0)


def new_pid(port):
    c = Conn("127.0.0.1", port)
    try:
        while True:
            err, pid, epoch = ipid.init(c, 4)
            if err == 0:
                return pid, epoch
            time.sleep(0.1)
    finally:
        c.close()


def produce(port, topic, records, pid=-1, epoch=-1, seq=-1, txn=False, acks=-1):
    b = kwire.record_batch(records, producer_id=pid, producer_epoch=epoch, base_seq=seq,
                           attributes_extra=TXN if txn else 0)
    c = Conn("127.0.0.1", port)
    try:
        res = m.decode_produce(c.call(0, 7, m.produce_body(7, topic, 0, b, acks)), 7)
    finally:
        c.close()
    p = res[topic][0]
    assert p["err"] == NONE, p
    return p["base"]


def recs(tag, n):
    return [(b"k", b"%s-%d" % (tag, i), i) for i in range(n)]


def markers(port, ms, v=1):
    """ms: [(pid, epoch, commit, [(topic, [partitions])], coordinator_epoch)] ->
    {(pid, topic, partition): error}."""
    flex = v >= 1
    w = W(flex=flex)

    def marker(w, mk):
        pid, epoch, commit, topics, ce = mk
        w.i64(pid).i16(epoch).i8(1 if commit else 0)
        w.array(topics, lambda w, t: (w.str(t[0]), w.array(t[1], lambda w, p: w.i32(p)),
                                      w.tags()))
        w.i32(ce)
        w.tags()
    w.array(ms, marker)
    w.tags()
    c = Conn("127.0.0.1", port, timeout=40)
    try:
        r = c.call(27, v, w.b)
    finally:
        c.close()
    out = {}

    def rmarker(r):
        pid = r.i64()

        def rtopic(r):
            name = r.str()

            def rpart(r):
                index = r.i32()
                out[(pid, name, index)] = r.i16()
                r.tags()
            r.array(rpart)
            r.tags()
        r.array(rtopic)
        r.tags()
    r.array(rmarker)
    r.tags()
    r.done()
    return out


def end_txn(port, topic, pid, epoch, commit, ce=0, v=1):
    res = markers(port, [(pid, epoch, commit, [(topic, [0])], ce)], v)
    assert list(res) == [(pid, topic, 0)], res
    return res[(pid, topic, 0)]


def fetch(port, topic, offset, isolation, v=11):
    c = Conn("127.0.0.1", port)
    try:
        body = m.fetch_body(v, [(topic, 0, offset, 1 << 20)], max_wait=10, min_bytes=0,
                            isolation=isolation)
        p = m.decode_fetch(c.call(1, v, body), v)[topic][0]
    finally:
        c.close()
    assert p["err"] == NONE, p
    batches = kwire.parse_batches(p["records"] or b"")
    p["offsets"] = [(base, last) for base, last, _, _ in batches]
    p["control"] = [base for base, _, _, b in batches
                    if int.from_bytes(b[21:23], "big") & 0x20]
    return p


def latest(port, topic, isolation):
    w = W().i32(-1).i8(isolation)
    w.array([topic], lambda w, t: (w.str(t), w.array([0], lambda w, p: (w.i32(p), w.i32(-1),
                                                                           w.i64(-1)))))
    c = Conn("127.0.0.1", port)
    try:
        p = m.decode_list_offsets(c.call(2, 4, w.b), 4)
    finally:
        c.close()
    assert p["err"] == NONE, p
    return p["offset"]


def test_open_commit_abort_and_isolation():
    t = "txn-basic"
    topic1(t)
    pid, epoch = new_pid(port0())
    assert produce(port0(), t, recs(b"a", 3), pid, epoch, 0, txn=True) == 0
    assert produce(port0(), t, recs(b"plain", 1)) == 3
    # open: read_committed sees nothing, the LSO is the transaction's start
    rc = fetch(port0(), t, 0, 1)
    assert (rc["hw"], rc["lso"], rc["offsets"], rc["aborted"]) == (4, 0, [], []), rc
    ru = fetch(port0(), t, 0, 0)
    assert (ru["hw"], ru["lso"], ru["offsets"], ru["aborted"]) == (4, 0, [(0, 2), (3, 3)],
                                                                   None), ru
    assert (latest(port0(), t, 1), latest(port0(), t, 0)) == (0, 4)
    for v in (4, 7):  # older Fetch versions carry the LSO too
        assert fetch(port0(), t, 0, 1, v=v)["lso"] == 0

    # commit (WriteTxnMarkers v0): the control batch at 4, everything stable
    assert end_txn(port0(), t, pid, epoch, True, v=0) == NONE
    rc = fetch(port0(), t, 0, 1)
    assert (rc["hw"], rc["lso"], rc["aborted"]) == (5, 5, []), rc
    assert rc["offsets"] == [(0, 2), (3, 3), (4, 4)] and rc["control"] == [4], rc
    assert latest(port0(), t, 1) == 5

    # a second transaction, aborted (v1)
    assert produce(port0(), t, recs(b"b", 2), pid, epoch, 3, txn=True) == 5
    assert produce(port0(), t, recs(b"plain", 1)) == 7
    assert fetch(port0(), t, 5, 1)["lso"] == 5
    assert end_txn(port0(), t, pid, epoch, False, v=1) == NONE
    rc = fetch(port0(), t, 0, 1)
    assert (rc["hw"], rc["lso"]) == (9, 9), rc
    assert rc["aborted"] == [(pid, 5)], rc
    assert rc["control"] == [4, 8], rc
    assert fetch(port0(), t, 6, 1)["aborted"] == [(pid, 5)]
    assert fetch(port0(), t, 9, 1)["aborted"] == []
    assert fetch(port0(), t, 0, 0)["aborted"] is None

    # fencing: nothing written
    assert end_txn(port0(), t, pid, epoch + 1, True, ce=3) == NONE  # a bumped epoch, epoch 3
    assert latest(port0(), t, 0) == 10
    assert end_txn(port0(), t, pid, epoch, True, ce=3) == INVALID_EPOCH
    assert end_txn(port0(), t, pid, epoch + 1, True, ce=2) == COORD_FENCED
    assert latest(port0(), t, 0) == 10
    res = markers(port0(), [(pid, epoch + 1, True, [(t, [0, 5]), ("txn-none", [0])], 3)])
    assert res == {(pid, t, 0): NONE, (pid, t, 5): UNKNOWN_TOPIC,
                   (pid, "txn-none", 0): UNKNOWN_TOPIC}, res


def producer_row(topic, pid):
    """pid's DescribeProducers row on partition 0 of topic: (epoch, last_seq, coordinator_epoch,
    txn_start_offset)."""
    import test_idempotence as idem
    err, msg, prods = idem.describe_producers(port0(), [(topic, [0])])[(topic, 0)]
    assert (err, msg) == (NONE, None), (err, msg)
    mine = [(e, s, ce, start) for p, e, s, _, ce, start in prods if p == pid]
    assert len(mine) == 1, prods
    return mine[0]


def cli_producer(topic, pid):
    """pid's entry in `gregor topic producers TOPIC --output json`."""
    import json
    cli = os.path.join(os.environ.get("GREGOR_BUILD_DIR", "build"), "bin", "gregor")
    p = subprocess.run([cli, "-b", "127.0.0.1:%d" % port0(), "topic", "producers", topic,
                        "--output", "json"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p
    d = json.loads(p.stdout)["partitions"]
    assert [x["partition"] for x in d] == [0] and d[0]["error"] is None, d
    mine = [x for x in d[0]["producers"] if x["producer_id"] == pid]
    assert len(mine) == 1, d
    return mine[0]


def test_describe_producers_shows_the_open_transaction():
    t = "txn-desc"
    topic1(t)
    pid, epoch = new_pid(port0())
    assert produce(port0(), t, recs(b"p", 1)) == 0
    # open at 1: its start offset, no marker seen yet (coordinator epoch -1)
    assert produce(port0(), t, recs(b"a", 3), pid, epoch, 0, txn=True) == 1
    assert produce(port0(), t, recs(b"a", 2), pid, epoch, 3, txn=True) == 4
    assert producer_row(t, pid) == (epoch, 4, -1, 1)
    j = cli_producer(t, pid)
    assert (j["epoch"], j["last_sequence"], j["coordinator_epoch"], j["txn_start_offset"]) == \
        (epoch, 4, -1, 1), j
    # the commit marker (coordinator epoch 6) at 6 closes it
    assert end_txn(port0(), t, pid, epoch, True, ce=6) == NONE
    assert producer_row(t, pid) == (epoch, 4, 6, -1)
    j = cli_producer(t, pid)
    assert (j["coordinator_epoch"], j["txn_start_offset"]) == (6, -1), j
    # the next transaction starts at 7; its abort marker comes from coordinator epoch 7
    assert produce(port0(), t, recs(b"b", 1), pid, epoch, 5, txn=True) == 7
    assert producer_row(t, pid) == (epoch, 5, 6, 7)
    assert end_txn(port0(), t, pid, epoch, False, ce=7) == NONE
    assert producer_row(t, pid) == (epoch, 5, 7, -1)
    j = cli_producer(t, pid)
    assert (j["coordinator_epoch"], j["txn_start_offset"]) == (7, -1), j


def test_malformed_markers_close_the_connection_only():
    t = "txn-bad"
    topic1(t)
    good = W(flex=True)
    good.array([(5, 0)], lambda w, mk: (w.i64(mk[0]).i16(mk[1]).i8(1),
                                        w.array([t], lambda w, n: (w.str(n), w.array(
                                            [0], lambda w, p: w.i32(p)), w.tags())),
                                        w.i32(0), w.tags()))
    good.tags()
    for body in (good.b[:-3], good.b[:5], b"\x05", W(flex=True).array(
            [(-7, 0)], lambda w, mk: (w.i64(-7).i16(0).i8(1), w.array([], None), w.i32(0),
                                      w.tags())).tags().b):
        c = Conn("127.0.0.1", port0())
        try:
            try:
                c.call(27, 1, bytes(body))
                assert False, "answered a malformed WriteTxnMarkers: %r" % bytes(body)
            except ConnectionError:
                pass
        finally:
            c.close()
    assert latest(port0(), t, 0) == 0, "nothing written"
    assert end_txn(port0(), t, 5, 0, True) == NONE  # the broker still serves


def test_sigkill_rebuilds_open_transactions_and_aborted_list():
    t = "txn-kill"
    topic1(t)
    p1, e1 = new_pid(port0())
    p2, e2 = new_pid(port0())
    assert produce(port0(), t, recs(b"x", 2), p1, e1, 0, txn=True) == 0
    assert end_txn(port0(), t, p1, e1, False) == NONE  # aborted 0-1, marker 2
    assert produce(port0(), t, recs(b"y", 2), p2, e2, 0, txn=True) == 3  # open
    before = fetch(port0(), t, 0, 1)
    assert (before["lso"], before["aborted"]) == (3, [(p1, 0)]), before
    b = CL.brokers[0]
    b.stop(signal.SIGKILL)
    b.start()
    olep.wait_leaders(port0(), t, 1, want=0)
    after = fetch(port0(), t, 0, 1)
    assert (after["hw"], after["lso"], after["aborted"]) == (5, 3, [(p1, 0)]), after
    idx = os.path.join(b.logdir, t + "-0", "%020d.txnindex" % 0)
    assert os.path.getsize(idx) == 34
    # gregor dump-log: the index entry and the abort marker
    cli = os.path.join(os.environ.get("GREGOR_BUILD_DIR", "build"), "bin", "gregor")
    p = subprocess.run([cli, "dump-log", idx], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p
    assert ("version: 0 producerId: %d firstOffset: 0 lastOffset: 2 lastStableOffset: 3" % p1
            in p.stdout), p.stdout
    p = subprocess.run([cli, "dump-log", "--print-data-log", idx[:-len(".txnindex")] + ".log"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p
    assert "endTxnMarker: ABORT coordinatorEpoch: 0" in p.stdout, p.stdout
    with open(idx, "ab") as f:
        f.write(b"x")
    p = subprocess.run([cli, "dump-log", idx], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "corrupt transaction index" in p.stdout, p
    os.truncate(idx, 34)
    assert end_txn(port0(), t, p2, e2, True) == NONE
    assert fetch(port0(), t, 0, 1)["lso"] == 6


def consume(port, topic, isolation, n_expected, timeout=30):
    from confluent_kafka import Consumer
    c = Consumer({"bootstrap.servers": "127.0.0.1:%d" % port, "group.id": "g-" + isolation,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "isolation.level": isolation})
    got = []
    try:
        c.subscribe([topic])
        deadline = time.time() + timeout
        while time.time() < deadline:
            msg = c.poll(0.5)
            if msg is None:
                if len(got) >= n_expected:
                    break
                continue
            assert not msg.error(), msg.error()
            got.append(msg.value())
    finally:
        c.close()
    return got


def test_confluent_kafka_read_committed_sees_only_committed():
    t = "txn-ck"
    topic1(t)
    pid, epoch = new_pid(port0())
    seq = 0
    want_committed, want_all = [], []
    for i, commit in enumerate([True, False, True, False, True]):
        vals = recs(b"t%d" % i, 3)
        produce(port0(), t, vals, pid, epoch, seq, txn=True)
        seq += 3
        plain = [(b"k", b"p%d" % i, 0)]
        produce(port0(), t, plain)
        assert end_txn(port0(), t, pid, epoch, commit) == NONE
        want_all += [v for _, v, _ in vals] + [b"p%d" % i]
        if commit:
            want_committed += [v for _, v, _ in vals]
        want_committed.append(b"p%d" % i)
    # plus an open transaction at the end: invisible to read_committed
    produce(port0(), t, recs(b"open", 2), pid, epoch, seq, txn=True)
    produce(port0(), t, [(b"k", b"after", 0)])
    want_all += [b"open-0", b"open-1", b"after"]
    rc = consume(port0(), t, "read_committed", len(want_committed), timeout=15)
    assert rc == want_committed, rc
    ru = consume(port0(), t, "read_uncommitted", len(want_all))
    assert ru == want_all, ru


def test_new_leader_has_the_same_lso_and_aborted_list():
    cl = Cluster(n_brokers=3, overrides=["zookeeper.session.timeout.ms=6000"])
    try:
        b0 = cl.brokers[0]
        import test_idempotence as idem
        idem.create_when_registered(b0.port, "txn-fo", [(0, [0, 1, 2])])
        e0 = olep.wait_leaders(b0.port, "txn-fo", 1, want=0)[0]["epoch"]
        for b in cl.brokers[1:]:
            olep.wait_leaders(b.port, "txn-fo", 1, want=0)
        pid, epoch = new_pid(b0.port)
        produce(b0.port, "txn-fo", recs(b"a", 2), pid, epoch, 0, txn=True)
        assert end_txn(b0.port, "txn-fo", pid, epoch, False) == NONE  # abort 0-1 at 2
        produce(b0.port, "txn-fo", recs(b"b", 2), pid, epoch, 2, txn=True)  # open at 3
        produce(b0.port, "txn-fo", recs(b"c", 1))  # 5
        want = fetch(b0.port, "txn-fo", 0, 1)
        assert (want["hw"], want["lso"], want["aborted"]) == (6, 3, [(pid, 0)]), want
        b0.stop(signal.SIGKILL)
        parts = olep.wait_leaders(cl.brokers[1].port, "txn-fo", 1, min_epoch=e0 + 1, timeout=90)
        port = cl.brokers[parts[0]["leader"]].port
        got = fetch(port, "txn-fo", 0, 1)
        assert (got["hw"], got["lso"], got["aborted"]) == (6, 3, [(pid, 0)]), got
        assert end_txn(port, "txn-fo", pid, epoch, True) == NONE
        assert fetch(port, "txn-fo", 0, 1)["lso"] == 7
    finally:
        unclean = cl.stop()
    assert not unclean, unclean


def test_markers_refused_on_a_client_listener():
    from cluster import free_port
    client = free_port()
    cl = Cluster(overrides=[
        "listeners=PLAINTEXT://127.0.0.1:{port},CLIENT://127.0.0.1:%d" % client,
        "advertised.listeners=PLAINTEXT://127.0.0.1:{port},CLIENT://127.0.0.1:%d" % client,
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CLIENT:PLAINTEXT"])
    try:
        port = cl.brokers[0].port
        olep.create(port, "txn-lst", 1)
        olep.wait_leaders(port, "txn-lst", 1, want=0)
        pid, epoch = new_pid(port)
        produce(port, "txn-lst", recs(b"a", 1), pid, epoch, 0, txn=True)
        assert end_txn(client, "txn-lst", pid, epoch, True) == 31  # CLUSTER_AUTHORIZATION_FAILED
        assert fetch(port, "txn-lst", 0, 1)["lso"] == 0, "nothing written"
        assert latest(port, "txn-lst", 0) == 1
        assert end_txn(port, "txn-lst", pid, epoch, True) == NONE  # the inter-broker listener
        assert fetch(client, "txn-lst", 0, 1)["lso"] == 2
    finally:
        unclean = cl.stop()
    assert not unclean, unclean


def main():
    global CL
    CL = Cluster()
    m.CL = CL
    olep.CL = CL
    ipid.CL = CL
    return run_suite(CL, globals())


if __name__ == "__main__":
    sys.exit(main())
