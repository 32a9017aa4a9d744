#!/usr/bin/env python3
"""
tests/integration/protocol/test_txn_requests.py — the transaction coordinator on three real
brokers and a real ZooKeeper, with this suite's own codec (kwire.py): InitProducerId with a
transactional id (v0-4), AddPartitionsToTxn / AddOffsetsToTxn / EndTxn (v0-3), the markers the
coordinator sends to partition leaders, the timeout pass and failover.

Checked: a new id gets a producer id at epoch 0, a re-init bumps the epoch of the same id (v0-4;
v3+ naming the current pid/epoch), a stale epoch is fenced (v3 INVALID_PRODUCER_EPOCH, v4
PRODUCER_FENCED); a transactional produce + EndTxn commit makes the records visible to a
read_committed Fetch on every partition (two leaders) and moves the LSO to the HW; an abort
lists the transaction in aborted_transactions and read_committed skips it; the
`__transaction_state` record of the id ends CompleteCommit / CompleteAbort; a re-init with a
transaction open answers CONCURRENT_TRANSACTIONS, aborts it (markers) and then bumps the epoch;
the old producer is fenced. A transactional id holding NUL bytes commits and completes like any
other. Bad input answers its code and writes no `__transaction_state`
record: an empty or over-long id (INVALID_REQUEST), a bad timeout, an unknown id or producer id
(INVALID_PRODUCER_ID_MAPPING, also AddOffsetsToTxn v0 and v3 for an id never initialised), a
wrong epoch (by version), EndTxn with no transaction
(INVALID_TXN_STATE), unknown topics/partitions (UNKNOWN_TOPIC_OR_PARTITION, the others
OPERATION_NOT_ATTEMPTED), a broker that is not the coordinator (NOT_COORDINATOR). A transaction
left open past its timeout is aborted by the coordinator (cleanup interval 500 ms here); an id
idle longer than transactional.id.expiration.ms (5 s here) is removed (a tombstone) and starts
over with a new producer id.
AddOffsetsToTxn puts the group's `__consumer_offsets` partition in the transaction (its abort
marker lands there). Failover: with the only replica of a data partition down, EndTxn commit is
answered (PrepareCommit written) but its marker cannot be written; the coordinator is then
SIGKILLed and the data broker restarted: the new coordinator completes the commit (the records
visible to read_committed, the state CompleteCommit). A record that cannot be replicated (the
partition below min.insync.replicas) answers COORDINATOR_NOT_AVAILABLE and writes nothing.
Markers a partition refuses with INVALID_PRODUCER_EPOCH (its leader saw a newer epoch of the
producer) stop the sending of that transaction, which stays PrepareCommit, and are not resent by
the abort pass.
"""
import os
import signal
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwire  # noqa: E402
from kwire import Conn, W  # noqa: E402
from cluster import Cluster, run_suite  # noqa: E402
import test_api_matrix as m  # noqa: E402
import test_init_producer_id as ipid  # noqa: E402
import test_idempotence as idem  # noqa: E402
import test_offset_for_leader_epoch as olep  # noqa: E402
from txnwire import coord_partition, wait  # noqa: E402
import txnwire  # noqa: E402

NONE, UNKNOWN_TOPIC, LOAD, NOT_AVAILABLE, NOT_COORD = 0, 3, 14, 15, 16
INVALID_REQUEST, INVALID_EPOCH, INVALID_TXN_STATE, INVALID_MAPPING = 42, 47, 48, 49
INVALID_TIMEOUT, CONCURRENT, NOT_ATTEMPTED, FENCED = 50, 51, 55, 90
RETRIABLE = (LOAD, NOT_AVAILABLE, CONCURRENT)
PARTS = 5
TXN = 0x10
CL = None
EMPTY, ONGOING, PREP_COMMIT, PREP_ABORT, COMPLETE_COMMIT, COMPLETE_ABORT = range(6)


def conn(i, timeout=40):
    return Conn("127.0.0.1", CL.brokers[i].port, timeout=timeout)


def live(skip=()):
    return txnwire.live(CL, skip)


def coordinator(tid, skip=()):
    """The broker FindCoordinator names for tid (waits for one)."""
    return txnwire.coordinator(CL, tid, skip=skip)[0]


# ---------------------------------------------------------------- requests

def init(c, tid, v=4, timeout_ms=60000, pid=-1, epoch=-1):
    return ipid.decode(c.call(22, v, ipid.body(v, txn_id=tid, timeout_ms=timeout_ms, pid=pid,
                                                epoch=epoch)))


def add_partitions(c, tid, pid, epoch, topics, v=3):
    """topics: [(name, [partitions])] -> {(name, partition): error}."""
    w = W(flex=v >= 3)
    w.str(tid).i64(pid).i16(epoch)
    w.array(topics, lambda w, t: (w.str(t[0]), w.array(t[1], lambda w, p: w.i32(p)), w.tags()))
    w.tags()
    r = c.call(24, v, w.b)
    assert r.i32() == 0
    out = {}

    def topic(r):
        name = r.str()

        def part(r):
            p, err = r.i32(), r.i16()
            r.tags()
            out[(name, p)] = err
        r.array(part)
        r.tags()
    r.array(topic)
    r.tags()
    r.done()
    return out


def add_offsets(c, tid, pid, epoch, group, v=3):
    w = W(flex=v >= 3)
    w.str(tid).i64(pid).i16(epoch).str(group).tags()
    r = c.call(25, v, w.b)
    assert r.i32() == 0
    err = r.i16()
    r.tags()
    r.done()
    return err


def end_txn(c, tid, pid, epoch, commit, v=3):
    w = W(flex=v >= 3)
    w.str(tid).i64(pid).i16(epoch).i8(1 if commit else 0).tags()
    r = c.call(26, v, w.b)
    assert r.i32() == 0
    err = r.i16()
    r.tags()
    r.done()
    return err


def retry(fn, what, timeout=40):
    """fn() -> error code or tuple starting with one; retried while retriable."""
    end = time.time() + timeout
    while True:
        res = fn()
        err = res[0] if isinstance(res, tuple) else res
        if err not in RETRIABLE or time.time() > end:
            return res
        time.sleep(0.1)


# ---------------------------------------------------------------- data and state

def produce_txn(port, topic, partition, vals, pid, epoch, seq):
    b = kwire.record_batch([(b"k", v, i) for i, v in enumerate(vals)], producer_id=pid,
                           producer_epoch=epoch, base_seq=seq, attributes_extra=TXN)
    c = Conn("127.0.0.1", port)
    try:
        res = m.decode_produce(c.call(0, 7, m.produce_body(7, topic, partition, b, -1)), 7)
    finally:
        c.close()
    assert res[topic][0]["err"] == NONE, res
    return res[topic][0]["base"]


def leader_port(topic, partition):
    parts = olep.metadata_parts(CL.brokers[live()[0]].port, topic)
    return CL.brokers[parts[partition]["leader"]].port


def fetch(topic, partition, isolation, offset=0, port=None):
    c = Conn("127.0.0.1", port or leader_port(topic, partition))
    try:
        body = m.fetch_body(11, [(topic, partition, offset, 1 << 20)], max_wait=10, min_bytes=0,
                            isolation=isolation)
        p = m.decode_fetch(c.call(1, 11, body), 11)[topic][partition]
    finally:
        c.close()
    assert p["err"] == NONE, p
    p["values"] = []
    for _, _, _, b in kwire.parse_batches(p["records"] or b""):
        if not int.from_bytes(b[21:23], "big") & 0x20:  # not a control batch
            p["values"] += [v for _, _, v in kwire.batch_records(b)]
    return p


def txn_records(tid):
    """Every `__transaction_state` record of tid, in log order: (status, producer_id, epoch,
    partitions) or None for a tombstone."""
    p = fetch("__transaction_state", coord_partition(tid, PARTS), 0)
    out = []
    for _, _, _, b in kwire.parse_batches(p["records"] or b""):
        for _, k, v in kwire.batch_records(b):
            r = kwire.R(k)
            if r.i16() != 0 or r.str() != tid:
                continue
            if v is None:
                out.append(None)
                continue
            r = kwire.R(v, flex=struct.unpack(">h", v[:2])[0] >= 1)
            r.i16()
            pid, epoch, _timeout, status = r.i64(), r.i16(), r.i32(), r.i8()
            parts = r.array(lambda r: (r.str(), r.array(lambda r: r.i32())))
            out.append((status, pid, epoch, parts))
    return out


def state(tid):
    recs = txn_records(tid)
    return recs[-1] if recs else None


def wait_state(tid, status, timeout=30):
    return wait(lambda: (state(tid) or (None,))[0] == status and state(tid), timeout,
                "%s to reach state %d (now %r)" % (tid, status, state(tid)))


def begin(tid, topics, timeout_ms=60000):
    """A producer of tid with a transaction open on topics ([(name, [partitions])])."""
    ci = coordinator(tid)
    c = conn(ci)
    err, pid, epoch = retry(lambda: init(c, tid, timeout_ms=timeout_ms), "init")
    assert err == NONE, err
    res = retry(lambda: (max(add_partitions(c, tid, pid, epoch, topics).values()),), "add")
    assert res == (NONE,), res
    return c, pid, epoch


# ---------------------------------------------------------------- tests

def test_setup_topics():
    idem.create_when_registered(CL.brokers[0].port, "tx-data", [(0, [0, 1, 2]), (1, [1, 2, 0])])
    olep.wait_leaders(CL.brokers[0].port, "tx-data", 2)
    coordinator("tx-a")


def test_init_new_reinit_and_fencing_by_version():
    tid = "tx-init"
    ci = coordinator(tid)
    c = conn(ci)
    err, pid, epoch = retry(lambda: init(c, tid, v=0), "init")
    assert (err, epoch) == (NONE, 0) and pid >= 0, (err, pid, epoch)
    assert state(tid)[:3] == (EMPTY, pid, 0), state(tid)
    for v, want in ((1, 1), (2, 2)):
        assert init(c, tid, v=v) == (NONE, pid, want), v
    assert init(c, tid, v=3, pid=pid, epoch=2) == (NONE, pid, 3)
    assert init(c, tid, v=4, pid=pid, epoch=3) == (NONE, pid, 4)
    n = len(txn_records(tid))
    assert init(c, tid, v=3, pid=pid, epoch=1) == (INVALID_EPOCH, -1, -1)
    assert init(c, tid, v=4, pid=pid, epoch=1) == (FENCED, -1, -1)
    assert init(c, tid, v=4, pid=pid + 1000, epoch=4) == (FENCED, -1, -1)
    assert init(c, tid, v=4, pid=pid, epoch=-1) == (INVALID_REQUEST, -1, -1)
    assert init(c, tid, v=4, timeout_ms=0) == (INVALID_TIMEOUT, -1, -1)
    assert init(c, "", v=4) == (INVALID_REQUEST, -1, -1)
    assert init(c, "x" * 32768, v=4) == (INVALID_REQUEST, -1, -1)  # flexible: no INT16 bound
    assert len(txn_records(tid)) == n, "nothing written"
    other = [i for i in live() if i != ci][0]
    c2 = conn(other)
    assert init(c2, tid, v=4) == (NOT_COORD, -1, -1)
    assert add_partitions(c2, tid, pid, 4, [("tx-data", [0])]) == {("tx-data", 0): NOT_COORD}
    assert add_offsets(c2, tid, pid, 4, "g") == NOT_COORD
    assert end_txn(c2, tid, pid, 4, True) == NOT_COORD
    c2.close()
    c.close()


def test_commit_is_visible_to_read_committed_on_every_partition():
    tid = "tx-commit"
    c, pid, epoch = begin(tid, [("tx-data", [0, 1])])
    assert state(tid)[0] == ONGOING and state(tid)[3] == [("tx-data", [0, 1])], state(tid)
    before = {p: fetch("tx-data", p, 1)["hw"] for p in (0, 1)}
    for p in (0, 1):
        produce_txn(leader_port("tx-data", p), "tx-data", p, [b"c%d-0" % p, b"c%d-1" % p], pid,
                    epoch, 0)
        rc = fetch("tx-data", p, 1)
        assert rc["lso"] <= before[p] and rc["hw"] == before[p] + 2, rc
    assert end_txn(c, tid, pid, epoch, True, v=3) == NONE
    for p in (0, 1):
        rc = wait(lambda: (lambda f: f if f["lso"] == f["hw"] else None)(fetch("tx-data", p, 1)),
                  20, "the commit marker on partition %d" % p)
        assert rc["hw"] == before[p] + 3, rc  # two records and the marker
        assert [b"c%d-0" % p, b"c%d-1" % p] == rc["values"][-2:], rc
        assert rc["aborted"] == [], rc
    wait_state(tid, COMPLETE_COMMIT)
    assert end_txn(c, tid, pid, epoch, True, v=3) == NONE  # a retry of the finished commit
    assert end_txn(c, tid, pid, epoch, False, v=3) == INVALID_TXN_STATE
    c.close()


def test_abort_is_listed_and_skipped():
    tid = "tx-abort"
    c, pid, epoch = begin(tid, [("tx-data", [1])])
    start = fetch("tx-data", 1, 1)["hw"]
    produce_txn(leader_port("tx-data", 1), "tx-data", 1, [b"ab-0", b"ab-1"], pid, epoch, 0)
    assert end_txn(c, tid, pid, epoch, False, v=0) == NONE
    rc = wait(lambda: (lambda f: f if f["lso"] == f["hw"] else None)(fetch("tx-data", 1, 1)), 20,
              "the abort marker")
    assert (pid, start) in rc["aborted"], rc  # a read_committed client drops those records
    assert fetch("tx-data", 1, 0)["aborted"] is None
    wait_state(tid, COMPLETE_ABORT)
    c.close()


def test_an_id_holding_nul_bytes_commits_and_completes():
    # a Kafka string may hold NUL bytes: the coordinator keys, copies and completes the id by its
    # length, never as a C string (its markers' completion would look up "tx-" otherwise)
    tid = "tx-\x00nul\x00"
    c, pid, epoch = begin(tid, [("tx-data", [0])])
    produce_txn(leader_port("tx-data", 0), "tx-data", 0, [b"nul-0"], pid, epoch, 0)
    assert end_txn(c, tid, pid, epoch, True) == NONE
    wait_state(tid, COMPLETE_COMMIT)
    assert retry(lambda: init(c, tid, pid=pid, epoch=epoch), "re-init") == (NONE, pid, epoch + 1)
    c.close()


def test_bad_input_answers_its_code_and_writes_nothing():
    tid = "tx-bad"
    ci = coordinator(tid)
    c = conn(ci)
    err, pid, epoch = retry(lambda: init(c, tid), "init")
    assert err == NONE
    n = len(txn_records(tid))
    got = add_partitions(c, tid, pid, epoch, [("tx-data", [0, 7]), ("tx-nope", [0])])
    assert got == {("tx-data", 0): NOT_ATTEMPTED, ("tx-data", 7): UNKNOWN_TOPIC,
                   ("tx-nope", 0): UNKNOWN_TOPIC}, got
    assert add_partitions(c, tid, pid + 1, epoch, [("tx-data", [0])]) == {("tx-data", 0):
                                                                           INVALID_MAPPING}
    cn = conn(coordinator("tx-never"))
    assert add_partitions(cn, "tx-never", pid, epoch, [("tx-data", [0])]) == {("tx-data", 0):
                                                                               INVALID_MAPPING}
    assert end_txn(cn, "tx-never", pid, epoch, True) == INVALID_MAPPING
    for v in (0, 3):
        assert add_offsets(cn, "tx-never", pid, epoch, "g", v=v) == INVALID_MAPPING, v
    assert state("tx-never") is None  # not created by any of them
    cn.close()
    for v, want in ((1, INVALID_EPOCH), (2, FENCED), (3, FENCED)):
        assert add_partitions(c, tid, pid, epoch + 1, [("tx-data", [0])], v=v) == {
            ("tx-data", 0): want}, v
        assert add_offsets(c, tid, pid, epoch + 1, "g", v=v) == want, v
        assert end_txn(c, tid, pid, epoch + 1, True, v=v) == want, v
    assert add_partitions(c, "", pid, epoch, [("tx-data", [0])]) == {("tx-data", 0):
                                                                      INVALID_REQUEST}
    assert end_txn(c, tid, pid, epoch, True) == INVALID_TXN_STATE  # nothing open
    assert end_txn(c, tid, pid + 1, epoch, True) == INVALID_MAPPING
    assert end_txn(c, "", pid, epoch, True) == INVALID_REQUEST
    assert add_offsets(c, "", pid, epoch, "g") == INVALID_REQUEST
    # truncated bodies close only their connection
    for key, body in ((24, W(flex=True).str(tid).i64(pid).b), (25, W(flex=True).str(tid).b),
                      (26, W(flex=True).str(tid).i64(pid).i16(epoch).b), (24, b"\x05")):
        bad = conn(ci)
        try:
            bad.call(key, 3, body)
            answered = True
        except ConnectionError:
            answered = False
        finally:
            bad.close()
        assert not answered, "answered a truncated request %d %r" % (key, body)
    assert len(txn_records(tid)) == n, txn_records(tid)
    # AddOffsetsToTxn: the group's __consumer_offsets partition joins (and gets the marker)
    assert retry(lambda: add_offsets(c, tid, pid, epoch, "tx-group"), "offsets") == NONE
    st = state(tid)
    assert st[0] == ONGOING and st[3][0][0] == "__consumer_offsets" and len(st[3][0][1]) == 1, st
    assert end_txn(c, tid, pid, epoch, False) == NONE
    wait_state(tid, COMPLETE_ABORT)
    c.close()
    assert all(CL.brokers[i].proc.poll() is None for i in range(3))


def test_reinit_fences_and_aborts_an_open_transaction():
    tid = "tx-fence"
    c, pid, epoch = begin(tid, [("tx-data", [0])])
    start = fetch("tx-data", 0, 1)["hw"]
    produce_txn(leader_port("tx-data", 0), "tx-data", 0, [b"z-0"], pid, epoch, 0)
    assert init(c, tid) == (CONCURRENT, -1, -1)  # the abort is under way
    err, pid2, epoch2 = retry(lambda: init(c, tid), "re-init")
    assert (err, pid2, epoch2) == (NONE, pid, epoch + 2), (err, pid2, epoch2)
    rc = fetch("tx-data", 0, 1)
    assert (pid, start) in rc["aborted"] and rc["lso"] == rc["hw"], rc
    assert end_txn(c, tid, pid, epoch, True) == FENCED  # the zombie
    assert add_partitions(c, tid, pid, epoch, [("tx-data", [0])], v=1) == {("tx-data", 0):
                                                                            INVALID_EPOCH}
    c.close()


def test_timed_out_transaction_is_aborted_by_the_coordinator():
    tid = "tx-timeout"
    c, pid, epoch = begin(tid, [("tx-data", [1])], timeout_ms=1500)
    start = fetch("tx-data", 1, 1)["hw"]
    produce_txn(leader_port("tx-data", 1), "tx-data", 1, [b"t-0"], pid, epoch, 0)
    st = wait_state(tid, COMPLETE_ABORT, timeout=20)
    assert st[2] == epoch + 1, st  # fenced: the epoch was bumped
    rc = fetch("tx-data", 1, 1)
    assert (pid, start) in rc["aborted"] and rc["lso"] == rc["hw"], rc
    assert end_txn(c, tid, pid, epoch, True) == FENCED
    c.close()


def test_idle_id_expires():
    """transactional.id.expiration.ms is 5 s here, checked every 500 ms: the id's last record
    becomes a tombstone and the id starts over with a new producer id."""
    tid = "tx-expire"
    c = conn(coordinator(tid))
    err, pid, epoch = retry(lambda: init(c, tid), "init")
    assert err == NONE
    start = time.time()
    wait(lambda: txn_records(tid)[-1:] == [None], 30, "the tombstone of " + tid)
    assert time.time() - start > 3, "expired before transactional.id.expiration.ms"
    assert end_txn(c, tid, pid, epoch, True) == INVALID_MAPPING  # gone
    err, pid2, epoch2 = retry(lambda: init(c, tid), "init")
    assert err == NONE and pid2 != pid and epoch2 == 0, (err, pid, pid2, epoch2)
    c.close()


def test_new_coordinator_completes_a_prepared_commit():
    """The data partition's only replica is down when EndTxn is answered, so the old
    coordinator cannot have written its marker; the coordinator is SIGKILLed; the broker that
    takes its partition over sends the marker once the data broker is back."""
    tid = "tx-failover"
    ci = coordinator(tid)
    d = [i for i in range(3) if i != ci][0]
    idem.create_when_registered(CL.brokers[0].port, "tx-fo", [(0, [d])])
    olep.wait_leaders(CL.brokers[0].port, "tx-fo", 1, want=d)
    c, pid, epoch = begin(tid, [("tx-fo", [0])])
    produce_txn(CL.brokers[d].port, "tx-fo", 0, [b"fo-0", b"fo-1"], pid, epoch, 0)
    CL.brokers[d].stop(signal.SIGKILL)
    tp = coord_partition(tid, PARTS)

    def d_out_of_isr():
        parts = olep.metadata_parts(CL.brokers[ci].port, "__transaction_state")
        return d not in parts[tp]["isr"]
    wait(d_out_of_isr, 30, "the killed broker to leave the ISR")
    assert retry(lambda: end_txn(c, tid, pid, epoch, True), "end") == NONE
    c.close()
    assert state(tid)[0] == PREP_COMMIT, state(tid)
    CL.brokers[ci].stop(signal.SIGKILL)
    CL.brokers[d].start()
    try:
        new = coordinator(tid, skip=[ci])
        assert new != ci
        rc = wait(lambda: (lambda f: f if f["lso"] == f["hw"] >= 3 else None)(
            fetch("tx-fo", 0, 1, port=CL.brokers[d].port)), 60, "the commit marker from the new "
                  "coordinator")
        assert rc["values"] == [b"fo-0", b"fo-1"] and rc["aborted"] == [], rc
        wait_state(tid, COMPLETE_COMMIT)
        # one marker: the id's partition may still lack its ISR when the markers are done
        # (the restarted broker catching up), and the CompleteCommit write that fails then
        # is retried alone, without sending the markers again
        f = fetch("tx-fo", 0, 1, port=CL.brokers[d].port)
        assert f["hw"] == 3 and f["lso"] == 3, f
    finally:  # the later tests need three brokers whatever happened here
        CL.brokers[ci].start()


def test_a_record_that_cannot_be_replicated_is_coordinator_not_available():
    """With two of the three brokers killed the id's partition is below min.insync.replicas:
    InitProducerId answers COORDINATOR_NOT_AVAILABLE (Kafka's answer to NOT_ENOUGH_REPLICAS)
    and nothing is written; once the brokers are back the same call succeeds."""
    tid = "tx-isr"
    wait(lambda: len(live()) == 3, 60, "three brokers")
    ci = coordinator(tid)
    tp = coord_partition(tid, PARTS)
    wait(lambda: len(olep.metadata_parts(CL.brokers[ci].port, "__transaction_state")[tp]["isr"])
         == 3, 60, "a full ISR")
    others = [i for i in range(3) if i != ci]
    for i in others:
        CL.brokers[i].stop(signal.SIGKILL)
    try:
        wait(lambda: olep.metadata_parts(CL.brokers[ci].port, "__transaction_state")[tp]["isr"]
             == [ci], 30, "the ISR to shrink to the coordinator")
        c = conn(ci)
        assert init(c, tid) == (NOT_AVAILABLE, -1, -1)
        c.close()
        assert txn_records(tid) == [], txn_records(tid)
    finally:
        for i in others:
            CL.brokers[i].start()
    c = conn(coordinator(tid))
    err, pid, epoch = retry(lambda: init(c, tid), "init", timeout=60)
    assert (err, epoch) == (NONE, 0), (err, pid, epoch)
    c.close()


def log_count(i, text):
    with open(CL.brokers[i].logfile, errors="replace") as f:
        return sum(text in ln for ln in f)


def test_markers_refused_for_a_newer_producer_epoch_are_not_sent_again():
    """A partition whose leader knows the producer at a newer epoch than the transaction's
    answers its marker INVALID_PRODUCER_EPOCH: as Kafka's marker completion handler, the
    coordinator stops sending that transaction's markers (it stays PrepareCommit until its
    partition is loaded again) instead of resending them on every abort pass (500 ms here)."""
    tid, topic = "tx-refused", "tx-refused-data"
    idem.create_when_registered(CL.brokers[0].port, topic, [(0, [0, 1, 2])])
    olep.wait_leaders(CL.brokers[0].port, topic, 1)
    ci = coordinator(tid)
    c, pid, epoch = begin(tid, [(topic, [0])])
    # the leader learns epoch + 1 from a batch the coordinator never handed out
    produce_txn(leader_port(topic, 0), topic, 0, [b"r-0"], pid, epoch + 1, 0)
    refused = "markers refused transactional_id=%s " % tid
    assert end_txn(c, tid, pid, epoch, True) == NONE  # PrepareCommit is written
    wait(lambda: log_count(ci, refused) >= 1, 20, "the marker of %s to be refused" % tid)
    time.sleep(2.5)  # five abort passes
    assert log_count(ci, refused) == 1, "markers sent again: %d refusals" % log_count(ci, refused)
    assert log_count(ci, "stopped sending markers transactional_id=%s " % tid) == 1
    assert state(tid)[:3] == (PREP_COMMIT, pid, epoch), state(tid)
    assert init(c, tid) == (CONCURRENT, -1, -1)  # the transaction is not complete
    rc = fetch(topic, 0, 1)
    assert rc["lso"] < rc["hw"] and rc["values"] == [], rc  # nothing committed
    c.close()


def main():
    global CL
    CL = Cluster(3, overrides=["transaction.state.log.replication.factor=3",
                               "transaction.state.log.min.isr=2",
                               "transaction.state.log.num.partitions=%d" % PARTS,
                               "offsets.topic.replication.factor=3",
                               "offsets.topic.num.partitions=3",
                               "transaction.abort.timed.out.transaction.cleanup.interval.ms=500",
                               "transaction.remove.expired.transaction.cleanup.interval.ms=500",
                               "transactional.id.expiration.ms=5000",
                               "zookeeper.session.timeout.ms=6000"])
    m.CL = CL
    ipid.CL = CL
    olep.CL = CL
    return run_suite(CL, globals())


if __name__ == "__main__":
    sys.exit(main())
