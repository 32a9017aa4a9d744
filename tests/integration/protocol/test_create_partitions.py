#!/usr/bin/env python3
"""
tests/integration/protocol/test_create_partitions.py — CreatePartitions (key 37)
v0-v3 against a real 3-broker cluster and ZooKeeper, with the test suite's own
codec (kwire.py).

Each response is decoded field by field for its version and must be consumed
exactly. Checked: every version adds partitions, and the broker that answered
already shows them with leaders; every broker's Metadata then shows the same
partitions; validate_only changes nothing; errors per topic (unknown topic,
count not larger, assignment count, replication factor, unknown or duplicate
brokers, a topic named twice) leave the other topics of the request working;
explicit assignments are used as given; automatic placement continues the
round robin; Produce (acks=all, so every replica fetches the new partition)
and Fetch work on a new partition; a broker restarted afterwards loads the
grown topic; confluent-kafka's create_partitions works.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwire  # noqa: E402
from kwire import W, Conn  # noqa: E402
from cluster import Cluster, run_suite  # noqa: E402
import test_api_matrix as m  # noqa: E402

KEY = 37
VERSIONS = range(0, 4)
FLEX_FROM = 2
kwire.FLEX.setdefault(KEY, FLEX_FROM)

NONE, UNKNOWN_TOPIC, REQUEST_TIMED_OUT = 0, 3, 7
INVALID_PARTITIONS, INVALID_REPLICA_ASSIGNMENT, INVALID_REQUEST = 37, 39, 42

CL = None


# ---------------------------------------------------------------- codec

def cp_body(v, topics, timeout=15000, validate_only=False):
    """topics: list of (name, count[, assignments: list of [broker ids] or None])."""
    w = W(flex=v >= FLEX_FROM)

    def row(w, ids):
        w.array(ids, lambda w, b: w.i32(b))
        w.tags()

    def topic(w, t):
        w.str(t[0]).i32(t[1])
        w.array(t[2] if len(t) > 2 else None, row)
        w.tags()
    w.array(topics, topic)
    w.i32(timeout).i8(1 if validate_only else 0)
    w.tags()
    return w.b


def decode_cp(r, v):
    """Returns {name: (error_code, error_message)}."""
    assert r.i32() == 0, "throttle_time_ms"

    def result(r):
        x = (r.str(), r.i16(), r.str())
        r.tags()
        return x
    out = {name: (err, msg) for name, err, msg in r.array(result)}
    r.tags()
    r.done()
    return out


def create_partitions(port, v, topics, **kw):
    c = Conn("127.0.0.1", port)
    try:
        return decode_cp(c.call(KEY, v, cp_body(v, topics, **kw)), v)
    finally:
        c.close()


# ---------------------------------------------------------------- helpers

def ports():
    return [b.port for b in CL.brokers]


def metadata(port, topic):
    """{partition: entry} of topic as port's broker knows it ({} if unknown)."""
    c = Conn("127.0.0.1", port)
    try:
        md = m.decode_metadata(c.call(3, 7, m.metadata_body(7, [topic], allow=False)), 7)
    finally:
        c.close()
    t = md["topics"].get(topic)
    return {p["index"]: p for p in t["parts"]} if t and t["err"] == 0 else {}


def wait_everywhere(topic, n, timeout=30):
    """Waits until every broker shows n partitions of topic, all with leaders,
    and the same leaders and replicas; returns broker 0's view."""
    end = time.time() + timeout
    views = []
    while time.time() < end:
        views = [metadata(p, topic) for p in ports()]
        if all(len(vw) == n and all(e["leader"] >= 0 for e in vw.values()) for vw in views):
            key = [sorted((i, e["leader"], tuple(e["replicas"])) for i, e in vw.items()) for vw in views]
            if key.count(key[0]) == len(key):
                return views[0]
        time.sleep(0.1)
    raise AssertionError("brokers disagree on %s or lack leaders: %r" % (topic, views))


def create_topic(name, partitions, rf=1, assignment=None):
    c = Conn("127.0.0.1", ports()[0])
    t = (name, partitions, rf, {}) if assignment is None else (name, -1, -1, {}, assignment)
    res = m.decode_create_topics(c.call(19, 4, m.create_topics_body(4, [t])), 4)
    c.close()
    assert res[name]["err"] == 0, res
    return wait_everywhere(name, partitions if assignment is None else len(assignment))


def produce(port, topic, partition, values, acks=-1):
    c = Conn("127.0.0.1", port)
    batch = kwire.record_batch([(None, v, i) for i, v in enumerate(values)])
    res = m.decode_produce(c.call(0, 7, m.produce_body(7, topic, partition, batch, acks, 10000)), 7)
    c.close()
    return res[topic][0]


def fetch(port, topic, partition, offset=0):
    c = Conn("127.0.0.1", port)
    res = m.decode_fetch(c.call(1, 11, m.fetch_body(11, [(topic, partition, offset, 1 << 20)])), 11)
    c.close()
    return res[topic][partition]


def port_of(broker_id):
    return CL.brokers[broker_id].port


# ---------------------------------------------------------------- tests

def test_every_version_adds_partitions_visible_on_every_broker():
    for v in VERSIONS:
        name = "cp-v%d" % v
        create_topic(name, 1)
        port = ports()[v % 3]
        res = create_partitions(port, v, [(name, 3)])
        assert res == {name: (NONE, None)}, "v%d: %r" % (v, res)
        # the answering broker waited until its own metadata showed them
        mine = metadata(port, name)
        assert len(mine) == 3 and all(e["leader"] >= 0 for e in mine.values()), mine
        view = wait_everywhere(name, 3)
        assert all(len(e["replicas"]) == 1 for e in view.values()), view


def test_validate_only_checks_but_changes_nothing():
    create_topic("cp-validate", 2)
    for v in VERSIONS:
        res = create_partitions(ports()[0], v, [("cp-validate", 5)], validate_only=True)
        assert res == {"cp-validate": (NONE, None)}, res
        res = create_partitions(ports()[0], v, [("cp-validate", 2)], validate_only=True)
        assert res["cp-validate"][0] == INVALID_PARTITIONS, res
    time.sleep(1.0)
    assert all(len(metadata(p, "cp-validate")) == 2 for p in ports())


def test_errors_per_topic_and_the_rest_still_applies():
    create_topic("cp-err", 2, rf=2)
    create_topic("cp-ok", 1)
    for v in VERSIONS:
        res = create_partitions(ports()[1], v, [("cp-missing", 4), ("cp-err", 2), ("cp-err2", 1)])
        assert res["cp-missing"][0] == UNKNOWN_TOPIC and res["cp-missing"][1], res
        assert res["cp-err"][0] == INVALID_PARTITIONS and "already has 2" in res["cp-err"][1], res
        assert res["cp-err2"][0] == UNKNOWN_TOPIC, res
        res = create_partitions(ports()[1], v, [("cp-err", 1)])
        assert res["cp-err"][0] == INVALID_PARTITIONS, res
    bad = [
        [[0, 1]],                   # 1 assignment for 2 new partitions
        [[0, 1], [1, 2], [2, 0]],   # 3 assignments for 2
        [[0], [1]],                 # replication factor 1, topic has 2
        [[0, 1], [1, 2, 0]],        # rows of different lengths
        [[0, 7], [1, 2]],           # broker 7 does not exist
        [[1, 1], [1, 2]],           # duplicate broker in a row
        [],                         # empty (not null) list
    ]
    for v in VERSIONS:
        for a in bad:
            res = create_partitions(ports()[2], v, [("cp-err", 4, a)])
            assert res["cp-err"][0] == INVALID_REPLICA_ASSIGNMENT and res["cp-err"][1], (a, res)
    # a topic named twice is refused; another topic in the same request is applied
    res = create_partitions(ports()[0], 3, [("cp-err", 3), ("cp-err", 4), ("cp-ok", 2)])
    assert res == {"cp-err": (INVALID_REQUEST, res["cp-err"][1]), "cp-ok": (NONE, None)}, res
    assert res["cp-err"][1], res
    wait_everywhere("cp-ok", 2)
    assert len(wait_everywhere("cp-err", 2)) == 2


def test_explicit_assignment_is_used_as_given():
    create_topic("cp-assign", 1, rf=2)
    res = create_partitions(ports()[0], 1, [("cp-assign", 3, [[2, 0], [1, 2]])])
    assert res == {"cp-assign": (NONE, None)}, res
    view = wait_everywhere("cp-assign", 3)
    assert view[1]["replicas"] == [2, 0] and view[1]["leader"] == 2, view
    assert view[2]["replicas"] == [1, 2] and view[2]["leader"] == 1, view
    assert sorted(view[1]["isr"]) == [0, 2] and sorted(view[2]["isr"]) == [1, 2], view


def test_automatic_placement_continues_the_round_robin():
    before = create_topic("cp-rr", 3)
    res = create_partitions(ports()[0], 2, [("cp-rr", 9)])
    assert res == {"cp-rr": (NONE, None)}, res
    view = wait_everywhere("cp-rr", 9)
    for p in range(9):
        assert view[p]["replicas"][0] == view[p % 3]["replicas"][0], view
        assert view[p]["leader"] == view[p]["replicas"][0], view
    assert sorted(before[p]["leader"] for p in range(3)) == [0, 1, 2], before
    # rf 3: each new partition has every broker once
    create_topic("cp-rr3", 1, rf=3)
    res = create_partitions(ports()[0], 3, [("cp-rr3", 4)])
    assert res == {"cp-rr3": (NONE, None)}, res
    view = wait_everywhere("cp-rr3", 4)
    assert all(sorted(e["replicas"]) == [0, 1, 2] for e in view.values()), view
    assert sorted(view[p]["leader"] for p in range(3)) == [0, 1, 2], view


def test_produce_and_fetch_on_a_new_partition_of_a_replicated_topic():
    create_topic("cp-data", 1, rf=3)
    assert produce(port_of(metadata(ports()[0], "cp-data")[0]["leader"]), "cp-data", 0,
                   [b"old"])["err"] == NONE
    res = create_partitions(ports()[2], 3, [("cp-data", 3)])
    assert res == {"cp-data": (NONE, None)}, res
    view = wait_everywhere("cp-data", 3)
    for p in (1, 2):
        leader = view[p]["leader"]
        # acks=all: answered only once every ISR member (all 3) fetched it
        assert sorted(view[p]["isr"]) == [0, 1, 2], view
        r = produce(port_of(leader), "cp-data", p, [b"a%d" % p, b"b%d" % p])
        assert r["err"] == NONE and r["base"] == 0, r
        f = fetch(port_of(leader), "cp-data", p)
        assert f["err"] == NONE and f["hw"] == 2, f
        assert b"a%d" % p in f["records"] and b"b%d" % p in f["records"], f
        # a broker that does not lead it says so
        other = [b for b in range(3) if b != leader][0]
        assert produce(port_of(other), "cp-data", p, [b"x"])["err"] == 6
    # the old partition is untouched
    f = fetch(port_of(view[0]["leader"]), "cp-data", 0)
    assert f["hw"] == 1 and b"old" in f["records"], f


def test_timeout_zero_answers_at_once_and_the_partitions_follow():
    create_topic("cp-t0", 1)
    for v in VERSIONS:
        res = create_partitions(ports()[1], v, [("cp-t0", 2 + v)], timeout=0)
        assert res == {"cp-t0": (NONE, None)}, res
        wait_everywhere("cp-t0", 2 + v)


def test_restarted_broker_loads_the_grown_topic():
    create_topic("cp-restart", 1, rf=3)
    res = create_partitions(ports()[0], 3, [("cp-restart", 4)])
    assert res == {"cp-restart": (NONE, None)}, res
    view = wait_everywhere("cp-restart", 4)
    b = CL.brokers[2]
    import signal
    b.stop(signal.SIGKILL)
    b.start()
    view = wait_everywhere("cp-restart", 4, timeout=60)
    # broker 2 loaded all 4 partitions (its replicas' logs) at start: before,
    # it had loaded 1 and grown the topic to 4
    log = open(b.logfile).read()
    assert "topic loaded topic=cp-restart partitions=1" in log, log[-3000:]
    assert "topic grown topic=cp-restart partitions=4 from=1" in log, log[-3000:]
    assert "topic loaded topic=cp-restart partitions=4" in log, log[-3000:]
    for p in range(4):
        assert os.path.isdir(os.path.join(b.logdir, "cp-restart-%d" % p)), p
    for p, e in view.items():
        if e["leader"] == 2:
            assert produce(b.port, "cp-restart", p, [b"z"])["err"] == NONE


CK_SCRIPT = r"""
import sys
from confluent_kafka.admin import AdminClient, NewPartitions
admin = AdminClient({"bootstrap.servers": sys.argv[1]})
topic, count = sys.argv[2], int(sys.argv[3])
try:
    admin.create_partitions([NewPartitions(topic, count)], request_timeout=15)[topic].result(30)
    print("OK")
except Exception as e:
    print("ERR", e.args[0].name() if hasattr(e.args[0], "name") else e)
"""


def ck_create_partitions(topic, count):
    """Runs confluent-kafka (Debian's python3-confluent-kafka, librdkafka
    2.0.2) create_partitions; returns "OK" or "ERR <error name>"."""
    import subprocess
    out = subprocess.run(["/usr/bin/python3", "-c", CK_SCRIPT, "127.0.0.1:%d" % ports()[0],
                          topic, str(count)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_confluent_kafka_create_partitions():
    create_topic("cp-ck", 1)
    assert ck_create_partitions("cp-ck", 4) == "OK"
    wait_everywhere("cp-ck", 4)
    assert ck_create_partitions("cp-ck", 2) == "ERR INVALID_PARTITIONS"
    assert ck_create_partitions("cp-ck-missing", 2) == "ERR UNKNOWN_TOPIC_OR_PART"


def test_truncated_request_closes_the_connection():
    c = Conn("127.0.0.1", ports()[0])
    body = cp_body(2, [("cp-trunc", 3, [[0]])])
    c.send(KEY, 2, body[:-4])
    try:
        c.recv_frame()
        raise AssertionError("expected the connection to close")
    except (ConnectionError, OSError):
        pass
    finally:
        c.close()
    assert metadata(ports()[0], "cp-trunc") == {}, "the broker still answers"


def main():
    global CL
    CL = Cluster(n_brokers=3)
    return run_suite(CL, globals())


if __name__ == "__main__":
    sys.exit(main())
