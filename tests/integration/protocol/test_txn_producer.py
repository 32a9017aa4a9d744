#!/usr/bin/env python3
"""
tests/integration/protocol/test_txn_producer.py — transactions through a client nobody here
wrote: Debian's python3-confluent-kafka (librdkafka 2.0.2, hence /usr/bin/python3) against
three real brokers and a real ZooKeeper.

Checked: a transactional producer's init_transactions / begin / produce / commit and begin /
produce / abort, over a topic of three partitions led by three brokers; a read_committed
consumer sees exactly the committed records (in order per partition), a read_uncommitted one
sees every record; a second producer with the same transactional.id fences the first, whose
next transactional operation fails with a fatal fencing error, while the second commits.

Observability of real transactions (a topic of its own): while a transaction is open the
coordinator's /metrics open gauge is 1, `gregor transactions list` and `describe` (text and
--output json) show the id Ongoing with its partitions, its producer id and epoch those that
`gregor topic producers` shows on the partitions' leaders (with a transaction start offset
while Ongoing, none once complete); after commit and abort the states are
CompleteCommit / CompleteAbort and the gauge 0; a commit, an abort and a fencing re-init (which
aborts the open transaction) move the coordinator's committed, aborted and fenced counters by
exactly those amounts, and nothing on the other brokers; `gregor consume -X
isolation.level=read_committed -e` prints exactly the committed records.
"""
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Cluster, free_port, run_suite  # noqa: E402
import test_api_matrix as m  # noqa: E402
import test_idempotence as idem  # noqa: E402
import test_offset_for_leader_epoch as olep  # noqa: E402

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer  # noqa: E402

CL = None
TOPIC = "txp"
OBS_TOPIC = "txp-obs"
HTTP = [free_port() for _ in range(3)]


def boot():
    return ",".join("127.0.0.1:%d" % b.port for b in CL.brokers)


def producer(tid):
    conf = {"bootstrap.servers": boot(), "transactional.id": tid,
            "transaction.timeout.ms": 30000, "linger.ms": 5}
    if os.environ.get("TXP_DEBUG"):  # e.g. "eos,protocol"
        conf["debug"] = os.environ["TXP_DEBUG"]
    return Producer(conf)


def consume(isolation, n_expected, timeout=30):
    c = Consumer({"bootstrap.servers": boot(), "group.id": "txp-" + isolation,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "isolation.level": isolation})
    got = []
    try:
        c.subscribe([TOPIC])
        deadline = time.time() + timeout
        idle_since = None
        while time.time() < deadline:
            msg = c.poll(0.5)
            if msg is None:
                if len(got) >= n_expected:
                    if idle_since is None:
                        idle_since = time.time()
                    elif time.time() - idle_since > 2:  # nothing more is coming
                        break
                continue
            idle_since = None
            if msg.error():
                assert msg.error().code() == KafkaError._PARTITION_EOF, msg.error()
                continue
            got.append(msg.value())
    finally:
        c.close()
    return got


def send(p, tag, n):
    vals = [b"%s-%d" % (tag, i) for i in range(n)]
    for i, v in enumerate(vals):
        p.produce(TOPIC, v, key=b"k%d" % i, partition=i % 3)
    return vals


def test_commit_and_abort_seen_by_read_committed_and_read_uncommitted():
    idem.create_when_registered(CL.brokers[0].port, TOPIC, [(0, [0, 1, 2]), (1, [1, 2, 0]),
                                                             (2, [2, 0, 1])])
    olep.wait_leaders(CL.brokers[0].port, TOPIC, 3)
    p = producer("txp-1")
    p.init_transactions(60)
    committed, everything = [], []
    for i, commit in enumerate([True, False, True, False]):
        p.begin_transaction()
        vals = send(p, b"t%d" % i, 9)
        everything += vals
        # Delivered first: an abort racing the partitions' registration can get
        # INVALID_TXN_STATE from Kafka too (librdkafka issue #4849).
        assert p.flush(30) == 0
        if commit:
            p.commit_transaction(30)
            committed += vals
        else:
            p.abort_transaction(30)
    p.flush(10)
    rc = consume("read_committed", len(committed))
    assert sorted(rc) == sorted(committed), (len(rc), len(committed), rc)
    for part in range(3):  # per partition order
        mine = [v for v in rc if v in committed[part::3]]
        assert mine == [v for v in committed if v in committed[part::3]], mine
    ru = consume("read_uncommitted", len(everything))
    assert sorted(ru) == sorted(everything), (len(ru), len(everything))


def test_a_second_producer_fences_the_first():
    old = producer("txp-zombie")
    old.init_transactions(60)
    old.begin_transaction()
    send(old, b"zombie", 3)
    old.flush(10)
    new = producer("txp-zombie")
    new.init_transactions(60)  # aborts the zombie's open transaction and bumps the epoch
    try:
        old.commit_transaction(30)
        raise AssertionError("a fenced producer committed")
    except KafkaException as e:
        err = e.args[0]
        assert err.fatal(), err
        assert err.code() in (KafkaError._FENCED, KafkaError.PRODUCER_FENCED,
                              KafkaError.INVALID_PRODUCER_EPOCH), err
    new.begin_transaction()
    vals = send(new, b"new", 3)
    new.commit_transaction(30)
    rc = consume("read_committed", 0, timeout=15)
    assert all(v in rc for v in vals), rc
    assert not any(v.startswith(b"zombie") for v in rc), rc


TXN_SERIES = ("gregor_txn_open_transactions", "gregor_txn_committed_total",
              "gregor_txn_aborted_total", "gregor_txn_producers_fenced_total")


def txn_metrics(i):
    """The transaction series of broker i's /metrics, as {name: int}."""
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % HTTP[i], timeout=5).read().decode()
    got = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(gregor_txn_\w+) (-?\d+)$", text, re.M)}
    assert set(got) == set(TXN_SERIES), got
    return got


def all_txn_metrics():
    return [txn_metrics(i) for i in range(len(CL.brokers))]


def gregor(*args):
    r = subprocess.run([os.path.join(os.environ["GREGOR_BUILD_DIR"], "bin", "gregor"), "-b", boot()]
                       + list(args), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, (args, r.returncode, r.stdout, r.stderr)
    return r.stdout


def describe(tid):
    """`gregor transactions describe` in JSON, checked against its text form."""
    d = json.loads(gregor("transactions", "describe", tid, "--output", "json"))
    text = dict(ln.split(":", 1) for ln in gregor("transactions", "describe", tid).splitlines())
    text = {k.strip(): v.strip() for k, v in text.items()}
    assert text["Transactional id"] == tid, text
    assert text["Coordinator"] == str(d["coordinator"]), (text, d)
    assert text["State"] == d["state"], (text, d)
    assert text["Producer id"] == str(d["producer_id"]), (text, d)
    assert text["Producer epoch"] == str(d["producer_epoch"]), (text, d)
    return d, text


def listed(tid):
    """tid's row of `gregor transactions list`, text and JSON (which must agree)."""
    rows = [ln.split() for ln in gregor("transactions", "list").splitlines()]
    assert rows[0] == ["TRANSACTIONAL_ID", "COORDINATOR", "PRODUCER_ID", "STATE"], rows
    mine = [r for r in rows[1:] if r[0] == tid]
    js = [t for t in json.loads(gregor("transactions", "list", "--output", "json"))["transactions"]
          if t["transactional_id"] == tid]
    assert len(mine) == 1 and len(js) == 1, (rows, js)
    j = js[0]
    assert mine[0] == [tid, str(j["coordinator"]), str(j["producer_id"]), j["state"]], (mine, j)
    return j


def producers_on_leaders(topic):
    """{partition: [(producer_id, epoch, open)]} from `gregor topic producers` (each partition's
    leader); open: the producer has a transaction open there (TXN_START_OFFSET not -1), checked
    against --output json, which must agree."""
    out = {}
    lines = gregor("topic", "producers", topic).splitlines()
    assert lines[0].split() == ["PARTITION", "PRODUCER_ID", "EPOCH", "LAST_SEQUENCE",
                                "LAST_TIMESTAMP", "COORDINATOR_EPOCH", "TXN_START_OFFSET"], lines
    for ln in lines[1:]:
        f = ln.split()
        assert "error" not in ln and len(f) == 7, lines
        out.setdefault(int(f[0]), []).append((int(f[1]), int(f[2]), int(f[6]) != -1))
    js = {}
    for p in json.loads(gregor("topic", "producers", topic, "--output", "json"))["partitions"]:
        assert p["error"] is None, p
        for q in p["producers"]:
            js.setdefault(p["partition"], []).append(
                (q["producer_id"], q["epoch"], q["txn_start_offset"] != -1))
    assert js == out, (js, out)
    return out


def check_state(tid, state, pid, epoch, parts):
    """describe and list agree with each other and with the expected state (awaited: commit
    and abort return once PrepareCommit / PrepareAbort is written, the markers follow); the
    partitions' leaders know the producer at that epoch."""
    end = time.time() + 10
    while json.loads(gregor("transactions", "describe", tid, "--output", "json"))["state"] != state \
            and time.time() < end:
        time.sleep(0.1)
    d, text = describe(tid)
    assert (d["state"], d["producer_id"], d["producer_epoch"]) == (state, pid, epoch), d
    assert sorted((t["topic"], t["partition"]) for t in d["partitions"]) == parts, d
    assert text["Partitions"] == (", ".join("%s-%d" % tp for tp in parts) or "-"), text
    j = listed(tid)
    assert (j["coordinator"], j["producer_id"], j["state"]) == (d["coordinator"], pid, state), (j, d)
    prod = producers_on_leaders(OBS_TOPIC)
    for part in range(3):
        assert (pid, epoch, state == "Ongoing") in prod.get(part, []), (part, pid, epoch, prod)
    return d["coordinator"]


def deltas(before, after):
    return [{k: a[k] - b[k] for k in TXN_SERIES} for b, a in zip(before, after)]


def wait_open(coord, n, timeout=10):
    end = time.time() + timeout
    while txn_metrics(coord)["gregor_txn_open_transactions"] != n and time.time() < end:
        time.sleep(0.1)
    assert txn_metrics(coord)["gregor_txn_open_transactions"] == n, txn_metrics(coord)


def test_metrics_and_cli_follow_real_transactions():
    idem.create_when_registered(CL.brokers[0].port, OBS_TOPIC, [(0, [0, 1, 2]), (1, [1, 2, 0]),
                                                                 (2, [2, 0, 1])])
    olep.wait_leaders(CL.brokers[0].port, OBS_TOPIC, 3)
    tid = "txp-obs"
    before = all_txn_metrics()
    parts = [(OBS_TOPIC, i) for i in range(3)]
    committed = []

    def run(p, tag, commit):
        p.begin_transaction()
        vals = [b"%s-%d" % (tag, i) for i in range(6)]
        for i, v in enumerate(vals):
            p.produce(OBS_TOPIC, v, partition=i % 3)
        assert p.flush(30) == 0
        return vals

    p = producer(tid)
    p.init_transactions(60)
    d, _ = describe(tid)
    pid, epoch, coord = d["producer_id"], d["producer_epoch"], d["coordinator"]
    assert d["state"] == "Empty" and d["partitions"] == [], d
    idx = [b.id for b in CL.brokers].index(coord)
    others = [i for i in range(3) if i != idx]

    vals = run(p, b"c", True)  # open: Ongoing with its three partitions, the gauge at 1
    check_state(tid, "Ongoing", pid, epoch, parts)
    wait_open(idx, 1)
    p.commit_transaction(30)
    committed += vals
    check_state(tid, "CompleteCommit", pid, epoch, [])
    wait_open(idx, 0)

    run(p, b"a", False)
    check_state(tid, "Ongoing", pid, epoch, parts)
    assert txn_metrics(idx)["gregor_txn_open_transactions"] == 1
    p.abort_transaction(30)
    check_state(tid, "CompleteAbort", pid, epoch, [])
    wait_open(idx, 0)

    run(p, b"z", False)  # left open, then fenced by a new instance: aborted by the coordinator
    wait_open(idx, 1)
    new = producer(tid)
    new.init_transactions(60)
    try:
        p.commit_transaction(30)
        raise AssertionError("a fenced producer committed")
    except KafkaException as e:
        assert e.args[0].fatal(), e
    wait_open(idx, 0)
    d, _ = describe(tid)  # the fence took epoch + 1 (unowned), the new instance epoch + 2
    assert (d["state"], d["producer_id"], d["producer_epoch"]) == ("Empty", pid, epoch + 2), d
    assert listed(tid)["state"] == "Empty"
    vals = run(new, b"n", True)
    new.commit_transaction(30)
    committed += vals
    check_state(tid, "CompleteCommit", pid, epoch + 2, [])

    after = all_txn_metrics()
    got = deltas(before, after)
    want = {"gregor_txn_open_transactions": 0, "gregor_txn_committed_total": 2,
            "gregor_txn_aborted_total": 2, "gregor_txn_producers_fenced_total": 1}
    assert got[idx] == want, (coord, got, before, after)
    for i in others:
        assert got[i] == dict.fromkeys(TXN_SERIES, 0), (i, got)
        assert after[i]["gregor_txn_open_transactions"] == 0, after

    out = gregor("consume", OBS_TOPIC, "--from-beginning", "-e",
                 "-X", "isolation.level=read_committed").splitlines()
    assert sorted(out) == sorted(v.decode() for v in committed), out
    new.flush(1)


def main():
    global CL
    CL = Cluster(3, overrides=["gregor.http.host=127.0.0.1",
                               "transaction.state.log.replication.factor=3",
                               "transaction.state.log.min.isr=2",
                               "transaction.state.log.num.partitions=5",
                               "offsets.topic.replication.factor=3",
                               "offsets.topic.num.partitions=3"],
                 per_broker=lambda i: ["gregor.http.port=%d" % HTTP[i]])
    m.CL = CL
    olep.CL = CL
    return run_suite(CL, globals())


if __name__ == "__main__":
    sys.exit(main())
