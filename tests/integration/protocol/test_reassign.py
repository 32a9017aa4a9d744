#!/usr/bin/env python3
"""
tests/integration/protocol/test_reassign.py — partition reassignment (KIP-455):
AlterPartitionReassignments (key 45) and ListPartitionReassignments (key 46), v0,
decoded with the suite's own codec (kwire.py), against four real brokers and
ZooKeeper; records produced and consumed with librdkafka (confluent_kafka).

Checked: per-partition errors (unknown topic or partition, empty list, duplicate
broker, an unknown broker and a dead one named in the message, cancel of
nothing) and NOT_CONTROLLER on a broker that is not the controller; a move that
adds broker 3 and removes broker 0 shows adding/removing in the list while
broker 3 is held (SIGSTOP) and completes once it catches up: every broker's
Metadata shows the target replicas, broker 0's directory is gone, the list is
empty, and every record acknowledged before and during the move is read back
from the new leader (broker 3, first of the target); a cancel puts the original
replicas back and removes the replica that was being added; a reassignment
written to /admin/reassign_partitions (zkCli.sh, as an operator's tool would)
is started and the znode deleted; a reassignment in progress when the
controller is killed is finished by the next controller.
"""
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwire  # noqa: E402
from kwire import W, Conn  # noqa: E402
from cluster import Cluster, run_suite  # noqa: E402
import test_api_matrix as m  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402

NONE, UNKNOWN_TOPIC, NOT_CONTROLLER = 0, 3, 41
INVALID_REPLICA_ASSIGNMENT, NO_REASSIGNMENT_IN_PROGRESS = 39, 85
ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh"

CL = None


# ---------------------------------------------------------------- codec

def alter_body(items):
    """items: {topic: {partition: [ids] or None}}."""
    w = W(flex=True)
    w.i32(30000)

    def part(w, pr):
        w.i32(pr[0])
        w.array(pr[1], lambda w, b: w.i32(b))
        w.tags()

    def topic(w, t):
        w.str(t[0])
        w.array(sorted(t[1].items()), part)
        w.tags()
    w.array(sorted(items.items()), topic)
    w.tags()
    return w.b


def decode_alter(r):
    """Returns (top_err, top_msg, {(topic, partition): (err, msg)})."""
    assert r.i32() == 0
    top, top_msg = r.i16(), r.str()
    out = {}

    def part(r, name):
        p, err, msg = r.i32(), r.i16(), r.str()
        r.tags()
        out[(name, p)] = (err, msg)

    def topic(r):
        name = r.str()
        r.array(lambda r: part(r, name))
        r.tags()
    r.array(topic)
    r.tags()
    r.done()
    return top, top_msg, out


def list_body(topics=None):
    w = W(flex=True)
    w.i32(30000)

    def topic(w, t):
        w.str(t[0])
        w.array(t[1], lambda w, p: w.i32(p))
        w.tags()
    w.array(None if topics is None else sorted(topics.items()), topic)
    w.tags()
    return w.b


def decode_list(r):
    """Returns (top_err, {(topic, partition): (replicas, adding, removing)})."""
    assert r.i32() == 0
    top, _msg = r.i16(), r.str()
    out = {}

    def ids(r):
        return r.array(lambda r: r.i32())

    def part(r, name):
        p = r.i32()
        out[(name, p)] = (ids(r), ids(r), ids(r))
        r.tags()

    def topic(r):
        name = r.str()
        r.array(lambda r: part(r, name))
        r.tags()
    r.array(topic)
    r.tags()
    r.done()
    return top, out


# ---------------------------------------------------------------- helpers

def live():
    return [b for b in CL.brokers if b.proc and b.proc.poll() is None]


def metadata(port, topic=None):
    c = Conn("127.0.0.1", port)
    try:
        return m.decode_metadata(c.call(3, 7, m.metadata_body(7, [topic] if topic else [], allow=False)), 7)
    finally:
        c.close()


def controller():
    """The broker the cluster names controller (waits for one)."""
    end = time.time() + 30
    while time.time() < end:
        for b in live():
            try:
                cid = metadata(b.port)["controller"]
            except OSError:
                continue
            for x in live():
                if x.id == cid:
                    return x
        time.sleep(0.2)
    raise AssertionError("no controller")


def restart(b):
    """Restarts broker b (SIGTERM) and waits until the others list it again."""
    b.stop(signal.SIGTERM)
    b.start()
    wait_registered(b)


def wait_registered(b, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        others = [x for x in live() if x.id != b.id]
        if others and all(b.id in [e[0] for e in metadata(x.port)["brokers"]] for x in others):
            return
        time.sleep(0.2)
    raise AssertionError("broker %d did not come back" % b.id)


def controller_not(bid):
    """The controller, moved off broker bid first if it is there (a broker held with
    SIGSTOP must not be the controller)."""
    ctl = controller()
    while ctl.id == bid:
        restart(ctl)
        ctl = controller()
    return ctl


def alter(items, broker=None):
    b = broker or controller()
    c = Conn("127.0.0.1", b.port, timeout=30)
    try:
        return decode_alter(c.call(45, 0, alter_body(items)))
    finally:
        c.close()


def list_reassignments(topics=None, broker=None):
    b = broker or controller()
    c = Conn("127.0.0.1", b.port)
    try:
        return decode_list(c.call(46, 0, list_body(topics)))
    finally:
        c.close()


def replicas_everywhere(topic, p, want, timeout=60):
    """Waits until every live broker's Metadata shows want as p's replicas, with a leader."""
    end = time.time() + timeout
    views = None
    while time.time() < end:
        views = []
        for b in live():
            t = metadata(b.port, topic)["topics"].get(topic)
            e = {x["index"]: x for x in t["parts"]}.get(p) if t else None
            views.append(e and (list(e["replicas"]), e["leader"]))
        if all(v and v[0] == want and v[1] >= 0 for v in views):
            return views[0][1]
        time.sleep(0.2)
    raise AssertionError("replicas of %s-%d never became %r everywhere: %r" % (topic, p, want, views))


def wait_no_reassignment(key, timeout=60):
    end = time.time() + timeout
    got = None
    while time.time() < end:
        try:
            _top, got = list_reassignments()
            if key not in got:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("reassignment of %r still listed: %r" % (key, got))


def create_topic(name, assignment):
    c = Conn("127.0.0.1", controller().port)
    t = (name, -1, -1, {"min.insync.replicas": "2"}, list(enumerate(assignment)))
    res = m.decode_create_topics(c.call(19, 4, m.create_topics_body(4, [t])), 4)
    c.close()
    assert res[name]["err"] == 0, res
    for p, reps in enumerate(assignment):
        replicas_everywhere(name, p, reps)


def bootstrap():
    return ",".join("127.0.0.1:%d" % b.port for b in live())


def produce(topic, p, values):
    """Produces values with acks=all; returns those acknowledged."""
    acked = []
    pr = Producer({"bootstrap.servers": bootstrap(), "acks": "all", "linger.ms": 5,
                   "message.timeout.ms": 30000})

    def cb(err, msg):
        if err is None:
            acked.append(msg.value().decode())
    for v in values:
        while True:
            try:
                pr.produce(topic, v.encode(), partition=p, on_delivery=cb)
                break
            except BufferError:
                pr.poll(0.1)
        pr.poll(0)
    pr.flush(60)
    return acked


def consume_all(topic, p, n, timeout=60):
    """Reads partition p from offset 0 until n records arrived."""
    c = Consumer({"bootstrap.servers": bootstrap(), "group.id": "reassign-check-%d" % time.time_ns(),
                  "enable.auto.commit": False})
    c.assign([TopicPartition(topic, p, 0)])
    out = []
    end = time.time() + timeout
    while len(out) < n and time.time() < end:
        msg = c.poll(0.5)
        if msg is not None and not msg.error():
            out.append(msg.value().decode())
    c.close()
    return out


def part_dir(broker, topic, p):
    return os.path.join(broker.logdir, "%s-%d" % (topic, p))


def wait_gone(path, timeout=30):
    end = time.time() + timeout
    while time.time() < end and os.path.exists(path):
        time.sleep(0.2)
    assert not os.path.exists(path), "%s still exists" % path


def zkcli(*args):
    r = subprocess.run([ZKCLI, "-server", CL.zk.connect] + list(args), capture_output=True,
                       text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


# ---------------------------------------------------------------- tests

def test_setup():
    create_topic("mv", [[0, 1, 2], [1, 2, 0], [2, 0, 1]])
    create_topic("other", [[0, 1, 2]])


def test_errors():
    top, _msg, res = alter({"nope": {0: [0, 1]}, "mv": {99: [0, 1], 0: []},
                            "other": {0: [1, 1, 2]}})
    assert top == NONE, top
    assert res[("nope", 0)][0] == UNKNOWN_TOPIC, res
    assert res[("mv", 99)][0] == UNKNOWN_TOPIC, res
    assert res[("mv", 0)][0] == INVALID_REPLICA_ASSIGNMENT and "empty" in res[("mv", 0)][1], res
    assert res[("other", 0)][0] == INVALID_REPLICA_ASSIGNMENT and "1" in res[("other", 0)][1], res
    top, _msg, res = alter({"other": {0: [0, 1, 42]}})
    err, msg = res[("other", 0)]
    assert err == INVALID_REPLICA_ASSIGNMENT and "42" in msg, res
    top, _msg, res = alter({"other": {0: None}})
    assert res[("other", 0)][0] == NO_REASSIGNMENT_IN_PROGRESS, res
    # nothing changed
    replicas_everywhere("other", 0, [0, 1, 2])
    assert list_reassignments()[1] == {}


def test_not_controller():
    ctl = controller()
    other = [b for b in live() if b.id != ctl.id][0]
    top, msg, res = alter({"mv": {0: [0, 1, 3]}}, broker=other)
    assert top == NOT_CONTROLLER and res[("mv", 0)][0] == NOT_CONTROLLER, (top, res)
    assert list_reassignments(broker=other)[0] == NOT_CONTROLLER


def test_move_while_producing():
    """mv-0 [0,1,2] -> [3,1,2] with broker 3 held back at first; records flow throughout."""
    before = produce("mv", 0, ["before-%d" % i for i in range(2000)])
    assert len(before) == 2000
    b3 = CL.brokers[3]
    controller_not(3)
    os.kill(b3.proc.pid, signal.SIGSTOP)
    try:
        top, _msg, res = alter({"mv": {0: [3, 1, 2]}})
        assert top == NONE and res[("mv", 0)] == (NONE, None), res
        _top, lst = list_reassignments()
        reps, adding, removing = lst[("mv", 0)]
        assert reps == [3, 1, 2, 0] and adding == [3] and removing == [0], lst
        # filtered list: only what was asked
        assert list(list_reassignments({"mv": [0, 1]})[1].keys()) == [("mv", 0)]
        assert list_reassignments({"other": [0]})[1] == {}
        during = []
        th = threading.Thread(target=lambda: during.extend(
            produce("mv", 0, ["during-%d" % i for i in range(2000)])))
        th.start()
        time.sleep(1.0)
        assert ("mv", 0) in list_reassignments()[1], "finished while broker 3 was stopped"
    finally:
        os.kill(b3.proc.pid, signal.SIGCONT)
    th.join(120)
    leader = replicas_everywhere("mv", 0, [3, 1, 2])
    wait_no_reassignment(("mv", 0))
    assert leader == 3, "the first of the target did not lead: %d" % leader
    wait_gone(part_dir(CL.brokers[0], "mv", 0))
    assert os.path.isdir(part_dir(b3, "mv", 0))
    acked = before + during
    got = consume_all("mv", 0, len(acked))
    missing = set(acked) - set(got)
    assert not missing, "%d acknowledged records lost, e.g. %r" % (len(missing), sorted(missing)[:5])


def test_cancel():
    """mv-1 [1,2,0] -> [1,2,3], cancelled while broker 3 is held: back to [1,2,0]."""
    b3 = CL.brokers[3]
    controller_not(3)
    os.kill(b3.proc.pid, signal.SIGSTOP)
    try:
        top, _msg, res = alter({"mv": {1: [1, 2, 3]}})
        assert res[("mv", 1)][0] == NONE, res
        assert list_reassignments()[1][("mv", 1)] == ([1, 2, 3, 0], [3], [0])
        top, _msg, res = alter({"mv": {1: None}})
        assert res[("mv", 1)][0] == NONE, res
        assert ("mv", 1) not in list_reassignments()[1]
    finally:
        os.kill(b3.proc.pid, signal.SIGCONT)
    replicas_everywhere("mv", 1, [1, 2, 0])
    wait_gone(part_dir(b3, "mv", 1))
    top, _msg, res = alter({"mv": {1: None}})
    assert res[("mv", 1)][0] == NO_REASSIGNMENT_IN_PROGRESS, res


def test_znode():
    """/admin/reassign_partitions written directly: started, deleted, completed."""
    plan = '{"version":1,"partitions":[{"topic":"other","partition":0,"replicas":[1,2,3],' \
           '"log_dirs":["any","any","any"]}]}'
    rc, out = zkcli("create", "/admin/reassign_partitions", plan)
    assert rc == 0, out
    replicas_everywhere("other", 0, [1, 2, 3])
    end = time.time() + 30
    while time.time() < end:
        rc, out = zkcli("stat", "/admin/reassign_partitions")
        if "does not exist" in out or "NoNode" in out:
            break
        time.sleep(0.5)
    else:
        raise AssertionError("/admin/reassign_partitions was not deleted: %s" % out)
    wait_gone(part_dir(CL.brokers[0], "other", 0))


def test_controller_failover():
    """mv-2 [2,0,1] -> [2,0,3] started, controller killed while broker 3 is held: the next
    controller finishes it. Then a dead broker is refused."""
    b3 = CL.brokers[3]
    ctl = controller_not(3)
    os.kill(b3.proc.pid, signal.SIGSTOP)
    try:
        top, _msg, res = alter({"mv": {2: [2, 0, 3]}}, broker=ctl)
        assert res[("mv", 2)][0] == NONE, res
        ctl.stop(signal.SIGKILL)
        time.sleep(0.5)
        os.kill(b3.proc.pid, signal.SIGCONT)
        b3_cont = True
        new = controller()
        assert new.id != ctl.id
    finally:
        if not locals().get("b3_cont"):
            os.kill(b3.proc.pid, signal.SIGCONT)
    ctl.start()
    wait_registered(ctl)
    replicas_everywhere("mv", 2, [2, 0, 3], timeout=90)
    wait_no_reassignment(("mv", 2), timeout=90)
    # a dead broker (stopped cleanly: its registration is gone) is refused, named
    dead = [b for b in CL.brokers if b.id not in (controller().id,)][0]
    dead.stop(signal.SIGTERM)
    time.sleep(1.0)
    top, _msg, res = alter({"other": {0: [dead.id, 2, 3]}})
    err, msg = res[("other", 0)]
    assert err == INVALID_REPLICA_ASSIGNMENT and str(dead.id) in msg, res
    dead.start()
    wait_registered(dead)


if __name__ == "__main__":
    CL = Cluster(4, overrides=["replica.lag.time.max.ms=10000"])
    sys.exit(run_suite(CL, globals()))
