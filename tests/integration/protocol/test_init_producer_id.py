#!/usr/bin/env python3
"""
tests/integration/protocol/test_init_producer_id.py — InitProducerId (key 22, v0-4) on three
real brokers and a real ZooKeeper, with this suite's own codec (kwire.py).

Checked: every version decodes exactly (v2+ flexible); producer ids are unique across many
concurrent calls on every broker, across a broker restart (SIGKILL) and a controller change
(the controller SIGKILLed); the block znode /latest_producer_id_block holds Kafka's JSON and
covers every id handed out; KIP-360 re-inits (v3+) bump the epoch of the same id, a retry of a
bump gets the same answer, a mismatching epoch is fenced (PRODUCER_FENCED v4, INVALID_PRODUCER_EPOCH
v3), half a (producer_id, epoch) pair is INVALID_REQUEST; transactional ids answer
COORDINATOR_NOT_AVAILABLE while `__transaction_state` does not exist (nothing here looks a
transaction coordinator up; test_txn_requests.py covers the coordinator), or
INVALID_TRANSACTION_TIMEOUT / INVALID_REQUEST for bad input;
with ZooKeeper stopped every call is answered at once (the ids left, then
COORDINATOR_LOAD_IN_PROGRESS), and ids flow again, still unique, once it is back. And librdkafka
(Debian's python3-confluent-kafka, hence /usr/bin/python3): an idempotent producer whose
messages time out while the leader is SIGSTOPped bumps its epoch through InitProducerId and goes
on, without a fatal error, a duplicate or a loss of what was acknowledged.
"""
import glob
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kwire import W, Conn  # noqa: E402
from cluster import BUILD, Cluster, run_suite  # noqa: E402

ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh"
NONE, LOAD_IN_PROGRESS, COORD_NOT_AVAILABLE = 0, 14, 15
INVALID_REQUEST, INVALID_PRODUCER_EPOCH, INVALID_TXN_TIMEOUT, PRODUCER_FENCED = 42, 47, 50, 90

CL = None
SEEN = set()  # every producer id handed out during the run: must never repeat
SEEN_LOCK = threading.Lock()


def body(v, txn_id=None, timeout_ms=60000, pid=-1, epoch=-1):
    w = W(flex=v >= 2)
    w.str(txn_id).i32(timeout_ms)
    if v >= 3:
        w.i64(pid).i16(epoch)
    if v >= 2:
        w.tags()
    return w.b


def decode(r):
    throttle, err, pid, epoch = r.i32(), r.i16(), r.i64(), r.i16()
    r.tags()
    r.done()
    assert throttle == 0
    return err, pid, epoch


def init(c, v=4, **kw):
    return decode(c.call(22, v, body(v, **kw)))


def conn(i, timeout=10):
    return Conn("127.0.0.1", CL.brokers[i].port, timeout=timeout)


def record(pid):
    with SEEN_LOCK:
        assert pid not in SEEN, "producer id %d handed out twice" % pid
        SEEN.add(pid)


def new_id(c, v=4, deadline=30.0):
    """A new idempotent producer id, retrying COORDINATOR_LOAD_IN_PROGRESS (a block claim in
    progress) as clients do."""
    end = time.time() + deadline
    while True:
        err, pid, epoch = init(c, v)
        if err == NONE:
            assert pid >= 0 and epoch == 0, (pid, epoch)
            record(pid)
            return pid
        assert err == LOAD_IN_PROGRESS, "error %d" % err
        assert (pid, epoch) == (-1, -1)
        assert time.time() < end, "no producer id within %.0f s" % deadline
        time.sleep(0.1)


def zk_block():
    r = subprocess.run([ZKCLI, "-server", CL.zk.connect, "get", "/latest_producer_id_block"],
                       capture_output=True, text=True, timeout=60)
    for line in r.stdout.splitlines():
        if line.startswith("{"):
            return json.loads(line)
    raise AssertionError("no block znode:\n%s%s" % (r.stdout, r.stderr))


def hammer(brokers, threads_per_broker, calls):
    """calls new ids from threads_per_broker threads on each broker at once."""
    errors = []

    def run(i):
        try:
            c = conn(i)
            for _ in range(calls):
                new_id(c, v=[0, 1, 2, 3, 4][_ % 5])
            c.close()
        except Exception as e:  # reported below
            errors.append("broker %d: %r" % (i, e))
    ts = [threading.Thread(target=run, args=(i,)) for i in brokers for _ in range(threads_per_broker)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert not errors, errors


def controller_id():
    for b in CL.brokers:
        if b.proc and b.proc.poll() is None:
            c = Conn("127.0.0.1", b.port)
            w = W().i32(0).i8(1)  # Metadata v4: no topics, allow auto-creation
            r = c.call(3, 4, w.b)
            c.close()
            r.i32()
            r.array(lambda r: (r.i32(), r.str(), r.i32(), r.str()))
            r.str()
            cid = r.i32()
            if cid >= 0:
                return cid
    raise AssertionError("no controller")


# ---------------------------------------------------------------- tests

def test_every_version_new_id_epoch_zero():
    c = conn(0)
    for v in range(5):
        pid = new_id(c, v)
        assert pid >= 0
    c.close()


def test_advertised_in_api_versions():
    c = conn(1)
    r = c.call(18, 3, W(flex=True).str("t").str("1").tags().b)
    assert r.i16() == 0

    def entry(r):
        e = (r.i16(), r.i16(), r.i16())
        r.tags()
        return e
    keys = r.array(entry)
    assert (22, 0, 4) in keys, keys
    c.close()


def test_ids_unique_concurrently_on_every_broker():
    before = len(SEEN)
    hammer([0, 1, 2], threads_per_broker=3, calls=400)  # 3600 ids: several blocks per broker
    assert len(SEEN) - before == 3600
    blk = zk_block()
    assert set(blk) == {"version", "broker", "block_start", "block_end"}, blk
    assert blk["version"] == 1 and isinstance(blk["block_start"], str), blk
    end = int(blk["block_end"])
    assert int(blk["block_start"]) == end - 999 and end % 1000 == 999, blk
    assert max(SEEN) <= end, "id %d beyond the latest claimed block %s" % (max(SEEN), blk)


def test_epoch_bump_v3_v4():
    c = conn(2)
    pid = new_id(c, 4)
    assert init(c, 4, pid=pid, epoch=0) == (NONE, pid, 1), "bump, same id"
    assert init(c, 3, pid=pid, epoch=1) == (NONE, pid, 2)
    assert init(c, 4, pid=pid, epoch=1) == (NONE, pid, 2), "a retried bump gets the same answer"
    assert init(c, 4, pid=pid, epoch=0) == (PRODUCER_FENCED, -1, -1)
    assert init(c, 3, pid=pid, epoch=0) == (INVALID_PRODUCER_EPOCH, -1, -1)
    assert init(c, 4, pid=pid, epoch=7) == (PRODUCER_FENCED, -1, -1), "an epoch never handed out"
    assert init(c, 4, pid=pid, epoch=2) == (NONE, pid, 3), "the producer itself still bumps"
    # half a pair, or junk
    assert init(c, 4, pid=pid, epoch=-1)[0] == INVALID_REQUEST
    assert init(c, 4, pid=-1, epoch=3)[0] == INVALID_REQUEST
    assert init(c, 3, pid=-7, epoch=-7)[0] == INVALID_REQUEST
    c.close()
    # another broker never handed it out: a new id at epoch 0, as Kafka answers
    c = conn(0)
    err, pid2, epoch2 = init(c, 4, pid=pid, epoch=3)
    assert err == NONE and pid2 != pid and epoch2 == 0, (err, pid2, epoch2)
    record(pid2)
    c.close()


def test_transactional_ids_and_bad_input():
    c = conn(1)
    for v in range(5):
        assert init(c, v, txn_id="txn-a", timeout_ms=60000) == (COORD_NOT_AVAILABLE, -1, -1), v
    assert init(c, 4, txn_id="txn-a", timeout_ms=-1) == (INVALID_TXN_TIMEOUT, -1, -1)
    assert init(c, 4, txn_id="txn-a", timeout_ms=0) == (INVALID_TXN_TIMEOUT, -1, -1)
    assert init(c, 4, txn_id="txn-a", timeout_ms=900001) == (INVALID_TXN_TIMEOUT, -1, -1)
    assert init(c, 4, txn_id="txn-a", timeout_ms=900000) == (COORD_NOT_AVAILABLE, -1, -1)
    assert init(c, 4, txn_id="") == (INVALID_REQUEST, -1, -1)
    # an idempotent producer's timeout is not looked at (Kafka)
    err, pid, epoch = init(c, 4, timeout_ms=-5)
    assert err == NONE and epoch == 0
    record(pid)
    # a truncated request closes the connection, the broker lives on
    c.s.sendall(b"\x00\x00\x00\x0c" + W().i16(22).i16(1).i32(99).str("x").b + b"\x00")
    try:
        data = c.s.recv(100)
        assert data == b"", data
    except ConnectionError:
        pass
    c.close()
    assert CL.brokers[1].proc.poll() is None
    c = conn(1)
    new_id(c)
    c.close()


def test_unique_across_broker_restart():
    b = CL.brokers[1]
    c = conn(1)
    for _ in range(10):
        new_id(c)
    c.close()
    b.stop(signal.SIGKILL)
    b.start()
    c = conn(1)
    for _ in range(50):
        new_id(c)  # the restarted broker claims a fresh block
    c.close()
    hammer([0, 1, 2], threads_per_broker=1, calls=100)


def test_unique_across_controller_change():
    cid = controller_id()
    CL.brokers[cid].stop(signal.SIGKILL)
    others = [i for i in range(3) if i != cid]
    hammer(others, threads_per_broker=2, calls=700)  # forces block claims without that broker
    CL.brokers[cid].start()
    hammer([0, 1, 2], threads_per_broker=1, calls=100)


def test_librdkafka_idempotent_producer_bumps_its_epoch():
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
    boot = ",".join("127.0.0.1:%d" % b.port for b in CL.brokers)
    a = AdminClient({"bootstrap.servers": boot})
    a.create_topics([NewTopic("bump", 1, 3)])["bump"].result(30)
    end = time.time() + 30
    while True:
        p0 = a.list_topics("bump", timeout=10).topics["bump"].partitions.get(0)
        if p0 is not None and p0.leader >= 0 and len(p0.isrs) == 3:
            break
        assert time.time() < end, "bump-0 has no full ISR"
        time.sleep(0.2)
    leader = CL.brokers[p0.leader]
    acked, failed, errors = [], [], []

    def report(err, msg):
        (failed if err else acked).append(msg.value().decode())
    p = Producer({"bootstrap.servers": boot, "enable.idempotence": True, "acks": "all",
                  "max.in.flight.requests.per.connection": 5, "message.timeout.ms": 3000,
                  "request.timeout.ms": 2000, "linger.ms": 5,
                  "error_cb": lambda e: errors.append((str(e), e.fatal()))})

    def send(prefix, wait):
        for i in range(20):
            p.produce("bump", ("%s%d" % (prefix, i)).encode(), partition=0, on_delivery=report)
        p.flush(wait)
    send("a", 20)
    assert len(acked) == 20, (acked, failed)
    os.killpg(leader.proc.pid, signal.SIGSTOP)
    try:
        send("b", 8)                 # these time out: librdkafka must bump the epoch
    finally:
        os.killpg(leader.proc.pid, signal.SIGCONT)
    assert any(v.startswith("b") for v in failed), "nothing timed out"
    send("c", 30)
    assert [v for v in acked if v[0] == "c"] == ["c%d" % i for i in range(20)], acked
    assert not [e for e in errors if e[1]], "fatal producer error: %s" % errors
    p.flush(5)
    seg = glob.glob(os.path.join(leader.logdir, "bump-0", "*.log"))[0]
    out = subprocess.run([os.path.join(BUILD, "bin", "gregor"), "dump-log", seg],
                         capture_output=True, text=True, timeout=30).stdout
    pairs = sorted({(int(i), int(e)) for i, e in
                    re.findall(r"producerId: (-?\d+) producerEpoch: (-?\d+)", out)})
    assert len(pairs) >= 2, "no epoch bump or new id in the log: %s" % pairs
    first = pairs[0]
    assert (first[0], first[1] + 1) in pairs or any(i != first[0] and e == 0 for i, e in pairs), \
        "the producer went on neither at a bumped epoch nor with a new id: %s" % pairs
    # every acknowledged value is in the log exactly once
    c = Consumer({"bootstrap.servers": boot, "group.id": "bump-check", "enable.auto.commit": False})
    c.assign([TopicPartition("bump", 0, 0)])
    seen = []
    end = time.time() + 20
    while time.time() < end and not set(acked) <= set(seen):
        m = c.poll(0.5)
        if m is not None and not m.error():
            seen.append(m.value().decode())
    c.close()
    assert set(acked) <= set(seen), set(acked) - set(seen)
    dups = {v for v in seen if seen.count(v) > 1}
    assert not dups, "duplicates: %s" % sorted(dups)


def test_zookeeper_down_answers_at_once_then_recovers():
    c = conn(2, timeout=5)
    CL.zk.stop()
    try:
        got_load = False
        for n in range(2500):  # at most two blocks are held: they run out
            t0 = time.time()
            err, pid, epoch = init(c, 4)
            assert time.time() - t0 < 2.0, "InitProducerId waited on ZooKeeper"
            if err == NONE:
                record(pid)
            else:
                assert err == LOAD_IN_PROGRESS, err
                got_load = True
                break
        assert got_load, "ids never ran out with ZooKeeper down"
        for _ in range(5):  # stays answered while it is down
            assert init(c, 4)[0] == LOAD_IN_PROGRESS
            time.sleep(0.3)
    finally:
        CL.zk.start()
    new_id(c, deadline=60.0)
    for _ in range(1200):
        new_id(c)
    c.close()
    assert zk_block()["version"] == 1


def main():
    global CL
    CL = Cluster(3)
    return run_suite(CL, globals())


if __name__ == "__main__":
    sys.exit(main())
