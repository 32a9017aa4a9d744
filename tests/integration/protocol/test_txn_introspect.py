#!/usr/bin/env python3
"""
tests/integration/protocol/test_txn_introspect.py — DescribeTransactions v0 and ListTransactions v0
(this suite's codec, kwire.py), `gregor transactions list|describe` and the transaction series
of /metrics, on three real brokers and a real ZooKeeper.

The transaction coordinator's tables are filled the way a coordinator's successor finds them:
from `__transaction_state` records (Kafka's TransactionLog key v0 / value v0, encoded here).
Clients cannot produce to an internal topic, so the test stops two brokers (SIGTERM), appends a
record batch to the logs of the `__transaction_state` partitions they lead (replication factor
1 here, so each partition has that one log) and starts them again: their recovery keeps the
batch and the txn worker loads it when the broker leads the partition again.

Checked: before `__transaction_state` exists Describe answers COORDINATOR_NOT_AVAILABLE and List
an empty list; Describe of loaded ids (state names, timeout, start time, producer id and epoch,
partitions by topic; the last record per id wins, a tombstone removes), of an unknown id
(TRANSACTIONAL_ID_NOT_FOUND), of an id another broker coordinates (NOT_COORDINATOR) and of an
empty id (INVALID_REQUEST), in the order asked; List without filters, by state, by producer id,
both, and with a state Kafka does not know (echoed in unknown_state_filters, matching nothing);
the CLI's text and JSON for both commands (list asks every broker; describe finds the
coordinator); gregor_txn_open_transactions on each broker's /metrics; and while a broker loads
a 50 MB partition, ListTransactions answers nothing or COORDINATOR_LOAD_IN_PROGRESS until the
whole table is there, and Describe never shows a half-loaded entry.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kwire import W, Conn, record_batch, parse_batches  # noqa: E402
from cluster import Cluster, free_port, run_suite  # noqa: E402
from txnwire import coord_partition, find_coordinator, wait  # noqa: E402

NONE, LOAD_IN_PROGRESS, COORD_NOT_AVAILABLE, NOT_COORDINATOR = 0, 14, 15, 16
INVALID_REQUEST, TXN_ID_NOT_FOUND = 42, 105
EMPTY, ONGOING, PREPARE_COMMIT, PREPARE_ABORT, COMPLETE_COMMIT, COMPLETE_ABORT = range(6)
PARTS = 6
TIMEOUT_MS = 900000  # the maximum: nothing times these transactions out during the test
HTTP = [free_port() for _ in range(3)]
CL = None
NOW = int(time.time() * 1000)
IDS = {}      # role -> transactional id
LEADERS = {}  # __transaction_state partition -> leader


def conn(i):
    return Conn("127.0.0.1", CL.brokers[i].port)


# ---------------------------------------------------------------- codec

def describe(i, ids):
    """DescribeTransactions v0 on broker i: [(err, id, state, timeout, start, pid, epoch,
    {topic: [partitions]})] in the order answered."""
    c = conn(i)
    r = c.call(65, 0, W(flex=True).array(ids, lambda w, t: w.str(t)).tags().b)
    c.close()
    r.i32()

    def topic(r):
        name, parts = r.str(), r.array(lambda r: r.i32())
        r.tags()
        return name, parts

    def state(r):
        e = (r.i16(), r.str(), r.str(), r.i32(), r.i64(), r.i64(), r.i32(), dict(r.array(topic)))
        r.tags()
        return e
    out = r.array(state)
    r.tags()
    r.done()
    return out


def list_txns(i, states=(), pids=()):
    """ListTransactions v0 on broker i: (err, unknown_state_filters, {id: (pid, state)})."""
    c = conn(i)
    w = W(flex=True).array(list(states), lambda w, s: w.str(s))
    w.array(list(pids), lambda w, p: w.i64(p)).tags()
    r = c.call(66, 0, w.b)
    c.close()
    r.i32()
    err = r.i16()
    unknown = r.array(lambda r: r.str())

    def state(r):
        e = (r.str(), r.i64(), r.str())
        r.tags()
        return e
    rows = r.array(state)
    r.tags()
    r.done()
    got = {tid: (pid, st) for tid, pid, st in rows}
    assert len(got) == len(rows), "an id listed twice: %r" % rows
    return err, unknown, got


def metadata_v7(i, topic):
    """{partition: (leader, leader_epoch)} of one topic (Metadata v7)."""
    c = conn(i)
    r = c.call(3, 7, W().array([topic], lambda w, t: w.str(t)).i8(0).b)
    c.close()
    r.i32()
    r.array(lambda r: (r.i32(), r.str(), r.i32(), r.str()))
    r.str()
    r.i32()

    def part(r):
        _err, idx, leader, epoch = r.i16(), r.i32(), r.i32(), r.i32()
        for _ in range(3):
            r.array(lambda r: r.i32())
        return idx, (leader, epoch)

    def top(r):
        err, name, _internal = r.i16(), r.str(), r.i8()
        return name, (err, dict(r.array(part)))
    topics = dict(r.array(top))
    r.done()
    return topics[topic]


def txn_key(tid):
    return W().i16(0).str(tid).b


def txn_value(pid, epoch, status, parts=None, start=-1, timeout=TIMEOUT_MS):
    """TransactionLogValue v0; parts {topic: [partitions]}."""
    w = W().i16(0).i64(pid).i16(epoch).i32(timeout).i8(status)
    w.array(sorted((parts or {}).items()),
            lambda w, tp: (w.str(tp[0]), w.array(tp[1], lambda w, p: w.i32(p))))
    return w.i64(NOW).i64(start).b


def append_batches(logdir, partition, epoch, batches):
    """Appends encoded record batches to the end of a stopped broker's log of
    __transaction_state-<partition>, at its next offsets, written at leader epoch `epoch`."""
    d = os.path.join(logdir, "__transaction_state-%d" % partition)
    segs = sorted(f for f in os.listdir(d) if f.endswith(".log"))
    path = os.path.join(d, segs[-1])
    data = open(path, "rb").read()
    have = parse_batches(data)
    assert sum(len(b[3]) for b in have) == len(data), "the segment ends in a whole batch"
    nxt = have[-1][1] + 1 if have else int(segs[-1][:-4])
    with open(path, "ab") as f:
        for batch in batches:
            b = bytearray(batch)
            b[0:8] = nxt.to_bytes(8, "big")
            b[12:16] = epoch.to_bytes(4, "big", signed=True)
            f.write(bytes(b))
            nxt += int.from_bytes(b[23:27], "big") + 1  # last offset delta + 1


def batch_of(records):
    """One uncompressed batch of (key, value) records."""
    return record_batch([(k, v, 0) for k, v in records], base_ts=NOW)


# ---------------------------------------------------------------- tests

def test_before_the_topic_exists_nothing_answers():
    (err, tid, state, *_), = describe(0, ["nobody"])
    assert (err, tid, state) == (COORD_NOT_AVAILABLE, "nobody", ""), (err, tid, state)
    assert list_txns(1) == (NONE, [], {})


def pick(role, broker):
    """A transactional id starting with role whose partition `broker` leads."""
    for n in range(1000):
        tid = "%s-%d" % (role, n)
        if LEADERS[coord_partition(tid, PARTS)] == broker:
            IDS[role] = tid
            return tid
    raise AssertionError("no id for broker %d" % broker)


def test_records_written_to_the_log_are_loaded():
    c = conn(0)
    (_, err, _, _), = find_coordinator(c, 1, ["creates-the-topic"])
    c.close()
    assert err in (NONE, COORD_NOT_AVAILABLE), err
    wait(lambda: metadata_v7(0, "__transaction_state")[0] == NONE and
         all(l >= 0 for l, _ in metadata_v7(0, "__transaction_state")[1].values()),
         60, "__transaction_state with leaders")
    _, parts = metadata_v7(0, "__transaction_state")
    LEADERS.update({p: l for p, (l, _) in parts.items()})
    assert {0, 1, 2} <= set(LEADERS.values()), "every broker leads a partition: %r" % LEADERS
    t = NOW - 5000
    a = {  # role: records in order, on broker 0
        "open-a": [txn_value(1000, 2, EMPTY),  # superseded by the next record
                   txn_value(1000, 3, ONGOING, {"t1": [0, 2], "t2": [1]}, start=t)],
        "done-a": [txn_value(1001, 0, COMPLETE_COMMIT)],
        "empty-a": [txn_value(1002, 5, EMPTY)],
        "aborted-a": [txn_value(1003, 1, COMPLETE_ABORT)],
        "gone-a": [txn_value(1004, 0, EMPTY), None],  # a tombstone removes it
    }
    b = {"open-b": [txn_value(2000, 0, ONGOING, {"t3": [5]}, start=t)],
         "done-b": [txn_value(2001, 0, COMPLETE_COMMIT)]}
    pick("missing-a", 0)
    pick("other-c", 2)
    writes = {}  # (broker, partition) -> records
    for broker, roles in ((0, a), (1, b)):
        for role, values in roles.items():
            tid = pick(role, broker)
            writes.setdefault((broker, coord_partition(tid, PARTS)), []).extend(
                (txn_key(tid), v) for v in values)
    for i in (0, 1):
        assert CL.brokers[i].stop(signal.SIGTERM) == 0
    for (broker, p), recs in writes.items():
        append_batches(CL.brokers[broker].logdir, p, parts[p][1], [batch_of(recs)])
    for i in (0, 1):
        CL.brokers[i].start()

    def loaded():
        got = describe(0, [IDS["done-a"]]) + describe(1, [IDS["done-b"]])
        return all(e[0] == NONE for e in got)
    wait(loaded, 60, "the restarted brokers to load their partitions")


def test_describe_answers_each_id_in_order():
    ids = [IDS["open-a"], IDS["missing-a"], IDS["other-c"], "", IDS["done-a"], IDS["gone-a"],
           IDS["empty-a"], IDS["aborted-a"]]
    got = describe(0, ids)
    assert [e[1] for e in got] == ids, got
    assert got[0] == (NONE, IDS["open-a"], "Ongoing", TIMEOUT_MS, NOW - 5000, 1000, 3,
                      {"t1": [0, 2], "t2": [1]}), got[0]
    zeros = ("", 0, 0, 0, 0, {})
    assert got[1] == (TXN_ID_NOT_FOUND, IDS["missing-a"]) + zeros, got[1]
    assert got[2] == (NOT_COORDINATOR, IDS["other-c"]) + zeros, got[2]
    assert got[3] == (INVALID_REQUEST, "") + zeros, got[3]
    assert got[4] == (NONE, IDS["done-a"], "CompleteCommit", TIMEOUT_MS, -1, 1001, 0, {}), got[4]
    assert got[5][0] == TXN_ID_NOT_FOUND, got[5]
    assert got[6][:3] + got[6][5:7] == (NONE, IDS["empty-a"], "Empty", 1002, 5), got[6]
    assert got[7][:3] == (NONE, IDS["aborted-a"], "CompleteAbort"), got[7]
    assert describe(2, [IDS["other-c"]])[0][0] == TXN_ID_NOT_FOUND
    assert describe(1, [IDS["open-b"]])[0][:3] == (NONE, IDS["open-b"], "Ongoing")
    assert describe(0, []) == []


def test_list_with_and_without_filters():
    err, unknown, got = list_txns(0)
    assert (err, unknown) == (NONE, []), (err, unknown)
    assert got == {IDS["open-a"]: (1000, "Ongoing"), IDS["done-a"]: (1001, "CompleteCommit"),
                   IDS["empty-a"]: (1002, "Empty"), IDS["aborted-a"]: (1003, "CompleteAbort")}, got
    assert list_txns(1)[2] == {IDS["open-b"]: (2000, "Ongoing"),
                               IDS["done-b"]: (2001, "CompleteCommit")}
    assert list_txns(2) == (NONE, [], {})
    assert list_txns(0, states=["Ongoing"])[2] == {IDS["open-a"]: (1000, "Ongoing")}
    assert set(list_txns(0, states=["Empty", "CompleteAbort"])[2]) == {IDS["empty-a"],
                                                                       IDS["aborted-a"]}
    assert list_txns(0, pids=[1001, 2000])[2] == {IDS["done-a"]: (1001, "CompleteCommit")}
    assert list_txns(0, states=["Ongoing"], pids=[1001])[2] == {}
    assert list_txns(0, states=["Ongoing"], pids=[1000, 1001])[2] == {IDS["open-a"]: (1000, "Ongoing")}
    err, unknown, got = list_txns(0, states=["Bogus", "Ongoing", "ongoing"])
    assert (err, unknown) == (NONE, ["Bogus", "ongoing"]), (err, unknown)
    assert got == {IDS["open-a"]: (1000, "Ongoing")}, got
    assert list_txns(0, states=["Bogus"]) == (NONE, ["Bogus"], {}), "an unknown state matches nothing"


def test_malformed_requests_close_the_connection_only():
    bad = [(65, W(flex=True).uvarint(0).tags().b),          # null id array
           (65, W(flex=True).uvarint(2).uvarint(0).tags().b),  # a null id
           (65, W(flex=True).uvarint(3).str("x").b),         # truncated
           (66, W(flex=True).uvarint(0).uvarint(1).tags().b),  # null state filters
           (66, W(flex=True).uvarint(1).uvarint(3).i64(1).b)]  # two producer ids announced, one sent
    for key, body in bad:
        c = conn(0)
        c.send(key, 0, body)
        try:
            c.recv_frame()
            raise AssertionError("answered a malformed request: key %d %r" % (key, body))
        except (ConnectionError, OSError):
            pass
        c.close()
    assert describe(0, [IDS["done-a"]])[0][0] == NONE, "the broker still answers"


def test_metrics_count_open_transactions():
    def series(i):
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % HTTP[i], timeout=5).read().decode()
        return {m.group(1): int(m.group(2))
                for m in re.finditer(r"^(gregor_txn_\w+) (-?\d+)$", text, re.M)}
    for i, open_now in ((0, 1), (1, 1), (2, 0)):
        assert series(i) == {"gregor_txn_open_transactions": open_now,
                             "gregor_txn_committed_total": 0, "gregor_txn_aborted_total": 0,
                             "gregor_txn_producers_fenced_total": 0}, (i, series(i))


def gregor(*args):
    boot = ",".join("127.0.0.1:%d" % b.port for b in CL.brokers)
    return subprocess.run([os.path.join(os.environ["GREGOR_BUILD_DIR"], "bin", "gregor"), "-b", boot]
                          + list(args), capture_output=True, text=True, timeout=60)


def test_cli_list():
    r = gregor("transactions", "list")
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["TRANSACTIONAL_ID", "COORDINATOR", "PRODUCER_ID", "STATE"], lines
    rows = [l.split() for l in lines[1:]]
    want = sorted([[IDS["open-a"], "0", "1000", "Ongoing"], [IDS["done-a"], "0", "1001", "CompleteCommit"],
                   [IDS["empty-a"], "0", "1002", "Empty"], [IDS["aborted-a"], "0", "1003", "CompleteAbort"],
                   [IDS["open-b"], "1", "2000", "Ongoing"], [IDS["done-b"], "1", "2001", "CompleteCommit"]])
    assert rows == want, rows
    r = gregor("transactions", "list", "--state", "ongoing", "--output", "json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout) == {"transactions": [
        {"transactional_id": IDS["open-a"], "coordinator": 0, "producer_id": 1000, "state": "Ongoing"},
        {"transactional_id": IDS["open-b"], "coordinator": 1, "producer_id": 2000, "state": "Ongoing"}]}, r.stdout
    r = gregor("transactions", "list", "--producer-id", "2001", "--producer-id", "1003")
    assert [l.split()[0] for l in r.stdout.splitlines()[1:]] == sorted([IDS["aborted-a"], IDS["done-b"]]), r.stdout
    r = gregor("transactions", "list", "--state", "Bogus")
    assert r.returncode == 2 and "Bogus" in r.stderr, (r.returncode, r.stderr)


def test_cli_describe():
    r = gregor("transactions", "describe", IDS["open-a"])
    assert r.returncode == 0, r.stdout + r.stderr
    fields = dict(re.split(r":\s+", l, maxsplit=1) for l in r.stdout.splitlines())
    assert fields["Transactional id"] == IDS["open-a"], fields
    assert fields["Coordinator"] == "0" and fields["State"] == "Ongoing", fields
    assert fields["Producer id"] == "1000" and fields["Producer epoch"] == "3", fields
    assert fields["Timeout ms"] == str(TIMEOUT_MS), fields
    assert fields["Start time ms"] == str(NOW - 5000), fields
    assert fields["Partitions"] == "t1-0, t1-2, t2-1", fields
    r = gregor("transactions", "describe", IDS["open-b"], "--output", "json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout) == {
        "transactional_id": IDS["open-b"], "coordinator": 1, "state": "Ongoing",
        "producer_id": 2000, "producer_epoch": 0, "timeout_ms": TIMEOUT_MS,
        "start_time_ms": NOW - 5000, "partitions": [{"topic": "t3", "partition": 5}]}, r.stdout
    r = gregor("transactions", "describe", IDS["missing-a"])
    assert r.returncode == 1 and "TRANSACTIONAL_ID_NOT_FOUND" in r.stderr, (r.returncode, r.stderr)
    r = gregor("transactions", "describe")
    assert r.returncode == 2, r.returncode



def test_a_loading_partition_is_never_answered_in_part():
    """Broker 2 restarts with 50 MB of records of one id in a partition it leads (epoch 1 over and
    over, then epoch 2), so its load takes many 1 MiB steps with the txn worker free between
    them. Polled meanwhile, ListTransactions answers nothing (not leader yet), or
    COORDINATOR_LOAD_IN_PROGRESS with no entries, or the whole table; Describe never shows the
    half-loaded epoch 1."""
    tid = pick("bulk-c", 2)
    p = coord_partition(tid, PARTS)
    _, parts = metadata_v7(0, "__transaction_state")
    assert CL.brokers[2].stop(signal.SIGTERM) == 0
    one = batch_of([(txn_key(tid), txn_value(3000, 1, EMPTY))] * 5000)  # ~0.5 MB
    last = batch_of([(txn_key(tid), txn_value(3000, 2, EMPTY))])
    append_batches(CL.brokers[2].logdir, p, parts[p][1], [one] * 100 + [last])
    CL.brokers[2].start()
    answers = {"none": 0, "loading": 0, "complete": 0}
    end = time.time() + 60
    while time.time() < end:
        try:
            err, unknown, got = list_txns(2)
            (derr, _, _, _, _, _, epoch, _), = describe(2, [tid])
        except (ConnectionError, OSError):
            continue  # still starting
        assert unknown == [], unknown
        assert derr != NONE or epoch == 2, "a half-loaded entry described: epoch %d" % epoch
        if err == LOAD_IN_PROGRESS:
            assert got == {}, "entries listed while loading: %r" % got
            answers["loading"] += 1
        elif got:
            assert (err, got) == (NONE, {tid: (3000, "Empty")}), (err, got)
            answers["complete"] += 1
            break
        else:
            assert err == NONE, err
            answers["none"] += 1
    assert answers["complete"] == 1, answers
    print("  answers while broker 2 restarted: %r" % answers)


if __name__ == "__main__":
    CL = Cluster(3, overrides=["transaction.state.log.replication.factor=1",
                               "transaction.state.log.min.isr=1",
                               "transaction.state.log.num.partitions=%d" % PARTS,
                               "controlled.shutdown.enable=false",
                               "gregor.http.host=127.0.0.1"],
                 per_broker=lambda i: ["gregor.http.port=%d" % HTTP[i]])
    sys.exit(run_suite(CL, globals()))
