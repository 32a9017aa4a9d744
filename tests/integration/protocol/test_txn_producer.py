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
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Cluster, run_suite  # noqa: E402
import test_api_matrix as m  # noqa: E402
import test_idempotence as idem  # noqa: E402
import test_offset_for_leader_epoch as olep  # noqa: E402

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer  # noqa: E402

CL = None
TOPIC = "txp"


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


def main():
    global CL
    CL = Cluster(3, overrides=["transaction.state.log.replication.factor=3",
                               "transaction.state.log.min.isr=2",
                               "transaction.state.log.num.partitions=5",
                               "offsets.topic.replication.factor=3",
                               "offsets.topic.num.partitions=3"])
    m.CL = CL
    olep.CL = CL
    return run_suite(CL, globals())


if __name__ == "__main__":
    sys.exit(main())
