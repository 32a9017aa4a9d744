#!/usr/bin/env python3
"""
tests/integration/protocol/test_log_dirs_cluster.py — DescribeLogDirs (key 35,
v0-v4) and DescribeCluster (key 60, v0) against a real 3-broker cluster and
ZooKeeper, with the suite's own codec (kwire.py), and `gregor cluster
log-dirs` on top of them.

Each response is decoded field by field for its version and must be consumed
exactly. Checked: DescribeCluster agrees with Metadata (cluster id,
controller, brokers with host, port and rack) and, without an authorizer, gives every
cluster operation when asked for the authorized operations; DescribeLogDirs lists this broker's replicas only, sizes grow
after producing, a follower that fell behind reports a lag while it catches
up and 0 afterwards, unknown topics and partitions are left out, a topic
named twice is answered once, a removed log directory answers
KAFKA_STORAGE_ERROR (and recovers when it is back), v4's total/usable bytes
are the file system's; a truncated request closes the connection and the
broker keeps serving. kafka-python 2.0.2 and confluent-kafka 1.7.0 (the
Debian clients here) have no call for either API, so kwire and the CLI are
the clients.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwire  # noqa: E402
from kwire import W, Conn, record_batch  # noqa: E402
from cluster import BUILD, Cluster, run_suite  # noqa: E402
import test_api_matrix as m  # noqa: E402

LOG_DIRS, CLUSTER = 35, 60
kwire.FLEX.setdefault(LOG_DIRS, 2)
kwire.FLEX.setdefault(CLUSTER, 0)
NONE, KAFKA_STORAGE_ERROR = 0, 56
INT32_MIN = -2147483648
# CREATE 5, ALTER 7, DESCRIBE 8, CLUSTER_ACTION 9, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11,
# IDEMPOTENT_WRITE 12
CLUSTER_OPS = sum(1 << op for op in (5, 7, 8, 9, 10, 11, 12))
RACKS = {0: "rack-a", 1: "rack-b", 2: None}
CLI = os.path.join(BUILD, "bin", "gregor")

CL = None


def port(i):
    return CL.brokers[i].port


# ---------------------------------------------------------------- codec

def log_dirs_body(v, topics):
    """topics: None (every replica) or list of (name, [partitions])."""
    w = W(flex=v >= 2)

    def topic(w, t):
        w.str(t[0])
        w.array(t[1], lambda w, p: w.i32(p))
        w.tags()
    w.array(topics, topic)
    w.tags()
    return w.b


def decode_log_dirs(r, v):
    """Returns (top error, [{"err", "path", "topics": {name: {p: (size, lag, future)}},
    "total", "usable"}])."""
    r.i32()  # throttle
    top = r.i16() if v >= 3 else 0

    def part(r):
        p = (r.i32(), r.i64(), r.i64(), r.i8())
        r.tags()
        return p

    def topic(r):
        name = r.str()
        parts = r.array(part)
        r.tags()
        return name, parts

    def result(r):
        d = {"err": r.i16(), "path": r.str()}
        topics = r.array(topic)
        names = [t[0] for t in topics]
        assert len(names) == len(set(names)), "a topic listed twice: %r" % names
        d["topics"] = {n: {p[0]: (p[1], p[2], p[3]) for p in ps} for n, ps in topics}
        d["total"] = r.i64() if v >= 4 else None
        d["usable"] = r.i64() if v >= 4 else None
        r.tags()
        return d
    results = r.array(result)
    r.tags()
    r.done()
    return top, results


def log_dirs(i, v=4, topics=None):
    c = Conn("127.0.0.1", port(i))
    try:
        return decode_log_dirs(c.call(LOG_DIRS, v, log_dirs_body(v, topics)), v)
    finally:
        c.close()


def only_dir(i, v=4, topics=None):
    top, res = log_dirs(i, v, topics)
    assert top == NONE and len(res) == 1, (top, res)
    return res[0]


def cluster_body(include_ops):
    return W(flex=True).i8(1 if include_ops else 0).tags().b


def decode_cluster(r):
    out = {"throttle": r.i32(), "err": r.i16(), "msg": r.str(), "cluster_id": r.str(),
           "controller": r.i32()}

    def broker(r):
        b = (r.i32(), r.str(), r.i32(), r.str())
        r.tags()
        return b
    out["brokers"] = r.array(broker)
    out["ops"] = r.i32()
    r.tags()
    r.done()
    return out


def metadata(i, topics=None, v=8):
    c = Conn("127.0.0.1", port(i))
    try:
        return m.decode_metadata(c.call(3, v, m.metadata_body(v, topics, allow=False)), v)
    finally:
        c.close()


def create(name, assignment):
    c = Conn("127.0.0.1", port(0))
    w = W()

    def topic(w, _):
        w.str(name).i32(-1).i16(-1)
        w.array(list(enumerate(assignment)), lambda w, a: (w.i32(a[0]), w.array(a[1], lambda w, b: w.i32(b))))
        w.array([], None)
    w.array([name], topic).i32(15000).i8(0)
    res = m.decode_create_topics(c.call(19, 4, w.b), 4)
    c.close()
    assert res[name]["err"] == 0, res
    wait(lambda: all(name in metadata(i, [name])["topics"] and
                     all(p["leader"] >= 0 for p in metadata(i, [name])["topics"][name]["parts"])
                     for i in range(3)), "topic %s has leaders everywhere" % name)
    # a follower opens its log when the controller's LeaderAndIsr reaches it
    wait(lambda: all(p in only_dir(b, 4, [(name, [p])])["topics"].get(name, {})
                     for p, replicas in enumerate(assignment) for b in replicas),
         "every replica of %s is open" % name)


def produce(i, topic, partition, n, size=100):
    """n single-record batches with acks=1 to broker i, pipelined on one connection."""
    c = Conn("127.0.0.1", port(i))
    corrs = [c.send(0, 7, m.produce_body(7, topic, partition, record_batch([(None, b"x" * size, 0)]), acks=1))
             for _ in range(n)]
    for corr in corrs:
        res = m.decode_produce(c.recv(0, 7, corr), 7)
        assert res[topic][0]["err"] == 0, res
    c.close()


def wait(cond, what, timeout=60.0):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting until " + what)


# ---------------------------------------------------------------- DescribeCluster

def test_describe_cluster_agrees_with_metadata():
    for i in range(3):
        for include in (False, True):
            c = Conn("127.0.0.1", port(i))
            # Metadata first: it waits for the broker's first UpdateMetadata (DescribeCluster
            # answers at once: no controller and no brokers before it)
            md = m.decode_metadata(c.call(3, 1, m.metadata_body(1, [])), 1)
            dc = decode_cluster(c.call(CLUSTER, 0, cluster_body(include)))
            c.close()
            assert dc["err"] == NONE and dc["msg"] is None and dc["throttle"] == 0, dc
            # without an authorizer, every operation Kafka supports on the cluster when asked
            assert dc["ops"] == (CLUSTER_OPS if include else INT32_MIN), (include, dc["ops"])
            assert dc["cluster_id"] == metadata(i, [], v=2)["cluster_id"] and dc["cluster_id"], dc
            assert dc["controller"] == md["controller"] and dc["controller"] in (0, 1, 2), dc
            assert sorted(dc["brokers"]) == sorted(md["brokers"]), (dc, md)
            assert sorted(b[0] for b in dc["brokers"]) == [0, 1, 2], dc
            for bid, host, bport, rack in dc["brokers"]:
                assert (host, bport, rack) == ("127.0.0.1", port(bid), RACKS[bid]), dc


def test_describe_cluster_truncated_request_closes_only_that_connection():
    c = Conn("127.0.0.1", port(0))
    c.send(CLUSTER, 0, b"")
    try:
        c.recv_frame()
        raise AssertionError("expected the connection to close")
    except (ConnectionError, OSError):
        pass
    finally:
        c.close()
    c = Conn("127.0.0.1", port(0))
    assert decode_cluster(c.call(CLUSTER, 0, cluster_body(False)))["err"] == NONE
    c.close()


# ---------------------------------------------------------------- DescribeLogDirs

def test_log_dirs_every_version_lists_this_brokers_replicas():
    create("ld-a", [[0, 1], [1, 2], [2, 0]])
    want = {0: [0, 2], 1: [0, 1], 2: [1, 2]}
    for v in range(0, 5):
        for i in range(3):
            d = only_dir(i, v)
            assert d["err"] == NONE, d
            assert d["path"] == os.path.abspath(CL.brokers[i].logdir), d
            hosted = sorted(d["topics"].get("ld-a", {}))
            assert hosted == want[i], (i, d)
            for p, (size, lag, future) in d["topics"]["ld-a"].items():
                assert size >= 0 and lag == 0 and future == 0, d
            if v >= 4:
                st = os.statvfs(CL.brokers[i].logdir)
                assert d["total"] == st.f_blocks * st.f_frsize, d
                assert 0 < d["usable"] <= d["total"], d
            else:
                assert d["total"] is None


def test_log_dirs_sizes_grow_after_producing():
    create("ld-grow", [[0, 1, 2]])
    before = [only_dir(i, 4, [("ld-grow", [0])])["topics"]["ld-grow"][0][0] for i in range(3)]
    produce(0, "ld-grow", 0, 20)
    seg = os.path.join(CL.brokers[0].logdir, "ld-grow-0", "%020d.log" % 0)
    wait(lambda: all(only_dir(i, 4, [("ld-grow", [0])])["topics"]["ld-grow"][0][0] ==
                     os.path.getsize(seg) for i in range(3)), "every replica has the leader's bytes")
    after = [only_dir(i, 4, [("ld-grow", [0])])["topics"]["ld-grow"][0][0] for i in range(3)]
    for b, a in zip(before, after):
        assert a > b, (before, after)
    assert after[0] == os.path.getsize(seg), "size is the segment file's bytes"


def test_log_dirs_unknown_topics_and_partitions_are_left_out_and_duplicates_answered_once():
    for v in range(0, 5):
        d = only_dir(0, v, [("ld-a", [0, 1, 2, 99, -1]), ("no-such-topic", [0]), ("ld-a", [2])])
        # broker 0 hosts ld-a 0 and 2 only; 1 lives elsewhere, 99 and -1 do not exist
        assert list(d["topics"]) == ["ld-a"], d
        assert sorted(d["topics"]["ld-a"]) == [0, 2], d
        d = only_dir(0, v, [])
        assert d["topics"] == {} and d["err"] == NONE, d
        d = only_dir(0, v, [("no-such-topic", [0])])
        assert d["topics"] == {}, d


def test_log_dirs_follower_lag_while_catching_up():
    create("ld-lag", [[0, 1]])
    follower = CL.brokers[1]
    os.killpg(follower.proc.pid, signal.SIGSTOP)
    try:
        produce(0, "ld-lag", 0, 3000, size=50)
        # the leader drops the stopped follower from the ISR: the HW moves to its LEO
        wait(lambda: metadata(0, ["ld-lag"])["topics"]["ld-lag"]["parts"][0]["isr"] == [0],
             "the follower leaves the ISR", timeout=30)
    finally:
        os.killpg(follower.proc.pid, signal.SIGCONT)
    lags = []
    end = time.time() + 60
    c = Conn("127.0.0.1", port(1))
    while time.time() < end:
        _, res = decode_log_dirs(c.call(LOG_DIRS, 4, log_dirs_body(4, [("ld-lag", [0])])), 4)
        lag = res[0]["topics"]["ld-lag"][0][1]
        lags.append(lag)
        if lag == 0 and max(lags) > 0:
            break
    c.close()
    print("  follower lag peaked at %d; %d polls" % (max(lags), len(lags)), flush=True)
    assert max(lags) > 0, "never saw the follower lag: %r" % lags[:20]
    assert lags[-1] == 0, "the follower never caught up: %r" % lags[-20:]
    # the leader's own lag is always 0, and both logs end up the same size
    lead = only_dir(0, 4, [("ld-lag", [0])])["topics"]["ld-lag"][0]
    assert lead[1] == 0, lead
    wait(lambda: only_dir(1, 4, [("ld-lag", [0])])["topics"]["ld-lag"][0][0] == lead[0],
         "the follower has every byte")


def test_log_dirs_truncated_request_closes_only_that_connection():
    c = Conn("127.0.0.1", port(0))
    c.send(LOG_DIRS, 2, log_dirs_body(2, [("ld-a", [0, 1])])[:-3])
    try:
        c.recv_frame()
        raise AssertionError("expected the connection to close")
    except (ConnectionError, OSError):
        pass
    finally:
        c.close()
    assert only_dir(0)["err"] == NONE


# ---------------------------------------------------------------- the CLI

def cli(*args):
    p = subprocess.run([CLI, "-b", "127.0.0.1:%d" % port(0)] + list(args), capture_output=True,
                       text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def test_cli_log_dirs_text_and_json():
    rc, out, err = cli("cluster", "log-dirs")
    assert rc == 0, (rc, out, err)
    for i in range(3):
        assert "Broker %d (127.0.0.1:%d)" % (i, port(i)) in out, out
        assert os.path.abspath(CL.brokers[i].logdir) in out, out
    assert "TOPIC" in out and "OFFSET_LAG" in out and "ld-grow" in out, out
    rc, out, err = cli("cluster", "log-dirs", "--broker", "2", "--output", "json")
    assert rc == 0, (rc, out, err)
    doc = json.loads(out)
    assert [b["id"] for b in doc["brokers"]] == [2], doc
    b = doc["brokers"][0]
    assert b["error"] is None and len(b["log_dirs"]) == 1, b
    d = b["log_dirs"][0]
    assert d["path"] == os.path.abspath(CL.brokers[2].logdir) and d["error"] is None, d
    assert d["total_bytes"] > 0 and 0 < d["usable_bytes"] <= d["total_bytes"], d
    want = only_dir(2)["topics"]
    got = {(p["topic"], p["partition"]): (p["size"], p["offset_lag"]) for p in d["partitions"]}
    assert set(got) == {(t, p) for t in want for p in want[t]}, (got, want)
    assert got[("ld-grow", 0)][0] > 0, got
    rc, out, err = cli("cluster", "log-dirs", "--broker", "7")
    assert rc != 0 and "broker 7" in err, (rc, out, err)
    rc, out, err = cli("cluster", "log-dirs", "--output", "yaml")
    assert rc != 0 and "--output" in err, (rc, out, err)


def test_cli_cluster_info_shows_cluster_id_and_racks():
    rc, out, err = cli("cluster", "info", "--json")
    assert rc == 0, (rc, out, err)
    doc = json.loads(out)
    assert doc["cluster_id"] == metadata(0, [], v=2)["cluster_id"], doc
    assert {b["id"]: b["rack"] for b in doc["brokers"]} == RACKS, doc


def test_removed_log_dir_is_a_storage_error_until_it_is_back():
    """Last: the broker's directory goes away under it (Kafka: an offline log dir)."""
    b = CL.brokers[2]
    moved = b.logdir + ".moved"
    os.rename(b.logdir, moved)
    try:
        for v in range(0, 5):
            d = only_dir(2, v)
            assert d["err"] == KAFKA_STORAGE_ERROR and d["topics"] == {}, d
            assert d["path"] == os.path.abspath(b.logdir), d
            if v >= 4:
                assert d["total"] == -1 and d["usable"] == -1, d
        rc, out, err = cli("cluster", "log-dirs", "--broker", "2")
        assert rc != 0 and "KAFKA_STORAGE_ERROR" in out, (rc, out, err)
        # the other brokers are not affected
        assert only_dir(0)["err"] == NONE
    finally:
        if os.path.isdir(b.logdir):  # something recreated it meanwhile
            shutil.rmtree(b.logdir)
        os.rename(moved, b.logdir)
    d = only_dir(2)
    assert d["err"] == NONE and "ld-a" in d["topics"], d


def main():
    global CL
    CL = Cluster(n_brokers=3, overrides=["replica.lag.time.max.ms=3000", "replica.fetch.max.bytes=1",
                                         "zookeeper.session.timeout.ms=30000"],
                 per_broker=lambda i: ["broker.rack=%s" % RACKS[i]] if RACKS[i] else [])
    m.CL = CL
    # every broker knows all three before the tests compare answers of different requests
    wait(lambda: all(len(metadata(i, [])["brokers"]) == 3 for i in range(3)), "the cluster is whole")
    return run_suite(CL, globals())


if __name__ == "__main__":
    sys.exit(main())
