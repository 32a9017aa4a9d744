#!/usr/bin/python3
"""
tests/integration/mirror/test_mirror.py — `gregor mirror` between two real 2-broker clusters
(each with its own ZooKeeper) through faults: a keyed, headered, timestamped load is produced to
the source while a broker of each cluster and the mirror itself are killed with SIGKILL and
restarted, and a new matching topic appears. Afterwards the target must hold every source record
exactly once, in order, in the same partition, with the same key, value, headers and timestamp
(compared record by record, and as a history through tests/harness/checker.py: no acknowledged
record lost, no duplicate); the target topics must have the source's partition count and topic
configs; /metrics must report the positions, and /api/mirror (the console's view) the same; and `gregor group reset-offsets --to-mirror` must
put a group on the target at the records matching its committed offsets on the source.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
os.environ.setdefault("GREGOR_SOURCE_DIR", os.path.normpath(os.path.join(HERE, "..", "..", "..")))
sys.path.insert(0, os.path.join(HERE, "..", "protocol"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "harness"))
from cluster import Cluster, BUILD, free_port, run_tests  # noqa: E402
import checker  # noqa: E402

from confluent_kafka import Producer, Consumer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic, ConfigResource  # noqa: E402

GREGOR = os.path.join(BUILD, "bin", "gregor")
TOPIC, NEW_TOPIC, PARTS = "orders", "orders.new", 4
PREFIX, ALIAS = "src.", "east"
OVERRIDES = ["offsets.topic.replication.factor=2", "offsets.topic.num.partitions=4",
             "transaction.state.log.replication.factor=2", "transaction.state.log.min.isr=1",
             "transaction.state.log.num.partitions=4", "default.replication.factor=2",
             "min.insync.replicas=1", "group.initial.rebalance.delay.ms=0",
             "zookeeper.session.timeout.ms=6000"]


def bootstrap(cl):
    return ",".join("127.0.0.1:%d" % b.port for b in cl.brokers)


def wait(pred, timeout, what, step=0.2):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))


class Mirror:
    def __init__(self, src, dst, log):
        self.port = free_port()
        self.args = [GREGOR, "mirror", "--source", bootstrap(src), "--target", bootstrap(dst),
                     "--topics", "orders.*", "--prefix", PREFIX, "--alias", ALIAS,
                     "--metrics-port", "127.0.0.1:%d" % self.port, "--refresh-interval", "1000",
                     "--checkpoint-interval", "1000", "--commit-interval", "100"]
        self.log = log
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(self.args, stdout=open(self.log, "a"), stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def kill(self, sig=signal.SIGKILL):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
        return self.proc.wait(30)

    def metrics(self):
        """{(series, topic, partition): value} of /metrics, or {} while it does not answer."""
        try:
            text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.port, timeout=2).read()
        except OSError:
            return {}
        out = {}
        for line in text.decode().splitlines():
            if line.startswith("#") or "{" not in line:
                continue
            name, rest = line.split("{", 1)
            labels, value = rest.rsplit("} ", 1)
            lab = dict(kv.split("=", 1) for kv in labels.split(","))
            if "topic" in lab:
                out[(name, lab["topic"].strip('"'), int(lab["partition"].strip('"')))] = int(value)
        return out


class Feeder(threading.Thread):
    """Produces keyed records with headers and explicit timestamps to TOPIC, round robin over the
    partitions, idempotent with acks=all; keeps what was acknowledged."""

    def __init__(self, src):
        super().__init__(daemon=True)
        self.p = Producer({"bootstrap.servers": bootstrap(src), "enable.idempotence": True,
                           "acks": "all", "linger.ms": 5, "message.timeout.ms": 60000})
        self.acked = {}  # value -> (partition, offset)
        self.stop = False
        self.n = 0

    def run(self):
        base = 1700000000000
        while not self.stop:
            for _ in range(20):
                i = self.n
                v = "v%06d" % i
                self.p.produce(TOPIC, key=None if i % 7 == 0 else "k%d" % (i % 13), value=v,
                               partition=i % PARTS, timestamp=base + i,
                               headers=[("seq", str(i).encode()), ("empty", b""), ("seq", b"dup")],
                               on_delivery=self.on_ack)
                self.n += 1
            self.p.poll(0)
            time.sleep(0.02)
        self.p.flush(60)

    def on_ack(self, err, msg):
        if err is None:
            self.acked[msg.value().decode()] = (msg.partition(), msg.offset())


def read_all(cl, topic, nparts, timeout=60):
    """Every committed record of topic, per partition: [(offset, key, value, headers, ts)]."""
    c = Consumer({"bootstrap.servers": bootstrap(cl), "group.id": "reader", "enable.auto.commit": False,
                  "isolation.level": "read_committed", "enable.partition.eof": True})
    c.assign([TopicPartition(topic, p, 0) for p in range(nparts)])
    out = {p: [] for p in range(nparts)}
    eof = set()
    end = time.time() + timeout
    while len(eof) < nparts and time.time() < end:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() == -191:  # _PARTITION_EOF
                eof.add(m.partition())
            continue
        out[m.partition()].append((m.offset(), m.key(), m.value(), m.headers(), m.timestamp()[1]))
    c.close()
    assert len(eof) == nparts, "reading %s did not reach the end of every partition" % topic
    return out


def committed(cl, group, topic, nparts):
    c = Consumer({"bootstrap.servers": bootstrap(cl), "group.id": group, "enable.auto.commit": False})
    offs = c.committed([TopicPartition(topic, p) for p in range(nparts)], timeout=20)
    c.close()
    return {tp.partition: tp.offset for tp in offs}


def test_mirror_through_faults():
    t0 = time.time()
    src, dst = Cluster(2, OVERRIDES), Cluster(2, OVERRIDES)
    try:
        run_scenario(src, dst)
    finally:
        for cl in (src, dst):
            for bid, st, tail in cl.stop():
                print("broker %d exited with status %s:\n%s" % (bid, st, tail))
        print("scenario took %.1f s" % (time.time() - t0))


def run_scenario(src, dst):
    sa = AdminClient({"bootstrap.servers": bootstrap(src)})
    da = AdminClient({"bootstrap.servers": bootstrap(dst)})
    for f in sa.create_topics([NewTopic(TOPIC, PARTS, 2, config={"retention.ms": "86400001",
                                                                 "max.message.bytes": "500000"})]).values():
        f.result(30)
    feeder = Feeder(src)
    feeder.start()
    mlog = os.path.join(dst.tmp, "mirror.log")
    mirror = Mirror(src, dst, mlog)
    try:
        wait(lambda: len(feeder.acked) > 400, 30, "400 acknowledged records")

        def copied(at_least):
            m = mirror.metrics()
            return all(m.get(("gregor_mirror_position", TOPIC, p), -1) >= at_least
                       for p in range(PARTS))
        wait(lambda: copied(60), 60, "the mirror copying 60 records per partition (see %s)" % mlog)
        # a source group commits; its checkpoints must reach the target
        group_offsets = {p: 11 + 7 * p for p in range(PARTS)}
        gc = Consumer({"bootstrap.servers": bootstrap(src), "group.id": "g1", "enable.auto.commit": False})
        gc.commit(offsets=[TopicPartition(TOPIC, p, o) for p, o in group_offsets.items()],
                  asynchronous=False)
        gc.close()
        time.sleep(2.5)  # two checkpoint rounds
        # faults: a source broker, a target broker, then the mirror itself
        src.brokers[1].stop(signal.SIGKILL)
        time.sleep(2)
        src.brokers[1].start()
        dst.brokers[1].stop(signal.SIGKILL)
        time.sleep(2)
        dst.brokers[1].start()
        n_before = len(feeder.acked)
        wait(lambda: copied(n_before // PARTS - 50), 60, "the mirror copying through broker kills")
        mirror.kill()
        time.sleep(1)
        mirror.start()
        for f in sa.create_topics([NewTopic(NEW_TOPIC, 2, 2)]).values():
            f.result(30)
        np = Producer({"bootstrap.servers": bootstrap(src), "enable.idempotence": True})
        for i in range(50):
            np.produce(NEW_TOPIC, key="n%d" % i, value="new%d" % i, partition=i % 2,
                       headers=[("h", b"%d" % i)])
        assert np.flush(30) == 0
        time.sleep(3)
        feeder.stop = True
        feeder.join(90)
        assert not feeder.is_alive(), "the feeder did not finish"
        source = read_all(src, TOPIC, PARTS)
        ends = {p: (recs[-1][0] + 1 if recs else 0) for p, recs in source.items()}
        wait(lambda: copied(0) and all(mirror.metrics().get(("gregor_mirror_position", TOPIC, p), -1)
                                       >= ends[p] for p in range(PARTS)),
             60, "the mirror catching up with %s (see %s)" % (ends, mlog))
        m = mirror.metrics()
        assert all(m[("gregor_mirror_lag_records", TOPIC, p)] == 0 for p in range(PARTS)), m
        check_api(mirror, m)
        target = read_all(dst, PREFIX + TOPIC, PARTS)
        check_same(source, target, TOPIC)
        check_history(dst, feeder, target)
        new_src, new_dst = read_all(src, NEW_TOPIC, 2), None
        wait(lambda: sum(len(v) for v in read_all(dst, PREFIX + NEW_TOPIC, 2).values()) >= 50, 30,
             "the new topic copied")
        new_dst = read_all(dst, PREFIX + NEW_TOPIC, 2)
        check_same(new_src, new_dst, NEW_TOPIC)
        check_topic(da, PREFIX + TOPIC)
        check_reset(src, dst, source, target, group_offsets)
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/other" % mirror.port, timeout=2)
            raise AssertionError("/other answered")
        except urllib.error.HTTPError as e:
            assert e.code == 404, e
        assert mirror.kill(signal.SIGTERM) == 0, "the mirror did not exit cleanly on SIGTERM"
        print("records: %d copied, feeder acked %d" % (sum(len(v) for v in target.values()),
                                                       len(feeder.acked)))
    finally:
        feeder.stop = True
        mirror.kill(signal.SIGTERM)


def test_bad_options():
    """Bad options are usage errors (exit 2) before anything is contacted."""
    for args, why in ((["--target", "x:1"], "--source and --target are required"),
                      (["--source", "x:1", "--target", "y:1", "--topics", "a("], "bad regular expression"),
                      (["--source", "x:1", "--target", "y:1", "--alias", "a b"], "--alias"),
                      (["--source", "x:1", "--target", "y:1", "--metrics-port", "70000"], "--metrics-port")):
        r = subprocess.run([GREGOR, "mirror"] + args, capture_output=True, text=True, timeout=10)
        assert r.returncode == 2 and why in r.stderr, (args, r.returncode, r.stderr)


def check_api(mirror, m):
    """/api/mirror answers the same positions, lags and counters of TOPIC as /metrics (TOPIC is no
    longer written, so they no longer move), cross-origin readable for the brokers' console."""
    r = urllib.request.urlopen("http://127.0.0.1:%d/api/mirror" % mirror.port, timeout=2)
    assert r.headers["Access-Control-Allow-Origin"] == "*", r.headers
    assert r.headers["Content-Type"] == "application/json", r.headers
    j = json.loads(r.read())
    assert j["alias"] == ALIAS and j["up"] is True and j["sessions"] >= 1, j
    parts = {p["partition"]: p for p in j["partitions"] if p["topic"] == TOPIC}
    assert sorted(parts) == list(range(PARTS)), j
    for p, x in parts.items():
        assert x["target_topic"] == PREFIX + TOPIC, x
        assert x["lag_records"] == 0, x
        assert x["position"] == m[("gregor_mirror_position", TOPIC, p)], (x, m)
        assert x["records_total"] == m[("gregor_mirror_records_total", TOPIC, p)], (x, m)
        assert x["bytes_total"] == m[("gregor_mirror_bytes_total", TOPIC, p)], (x, m)
    assert sessions_metric(mirror) == j["sessions"], j


def sessions_metric(mirror):
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mirror.port, timeout=2).read().decode()
    return next(int(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                if line.startswith("gregor_mirror_sessions_total{"))


def check_same(source, target, topic):
    """Same records in the same partitions in the same order: key, value, headers, timestamp."""
    for p, recs in source.items():
        a = [r[1:] for r in recs]
        b = [r[1:] for r in target[p]]
        assert len(a) == len(b), "%s[%d]: source has %d records, target %d" % (topic, p, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            assert x == y, "%s[%d] record %d differs: source %r target %r" % (topic, p, i, x, y)


def check_history(dst, feeder, target):
    """The feeder's acknowledged records against the target's final log, through the checker: no
    acknowledged record missing, none twice (the history says the producer was idempotent)."""
    recs = [{"type": "meta", "topic": PREFIX + TOPIC, "partitions": PARTS, "producers": 1,
             "consumers": 0, "idempotent": True}]
    recs += [{"type": "send", "producer": "feeder", "value": v, "partition": p, "status": "ok",
              "offset": None, "error": None, "t_send": None, "t_ack": None}
             for v, (p, o) in feeder.acked.items()]
    for p, rs in target.items():
        # the transaction markers leave gaps in the target's offsets: the records are numbered
        # by their place in the partition instead
        recs += [{"type": "final", "partition": p, "offset": i, "value": r[2].decode()}
                 for i, r in enumerate(rs)]
        recs.append({"type": "final_hw", "partition": p, "low": 0, "high": len(rs),
                     "complete": True})
    path = os.path.join(dst.tmp, "history-mirror.jsonl")
    with open(path, "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in recs)
    rep = checker.check(recs)
    assert rep.verdict == "pass", "checker on %s:\n%s" % (path, rep.text())


def check_topic(da, name):
    md = da.list_topics(name, timeout=10).topics[name]
    assert len(md.partitions) == PARTS, "%s has %d partitions" % (name, len(md.partitions))
    cfg = da.describe_configs([ConfigResource("topic", name)])
    entries = list(cfg.values())[0].result(20)
    assert entries["retention.ms"].value == "86400001", entries["retention.ms"]
    assert entries["max.message.bytes"].value == "500000", entries["max.message.bytes"]


def check_reset(src, dst, source, target, group_offsets):
    """reset-offsets --to-mirror puts g1 on the target at the records it committed on the source."""
    out = subprocess.run([GREGOR, "-b", bootstrap(dst), "group", "reset-offsets", "g1",
                          "--to-mirror", ALIAS, "--execute", "--undo-file",
                          os.path.join(dst.tmp, "undo.json")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    got = committed(dst, "g1", PREFIX + TOPIC, PARTS)
    for p, s_off in group_offsets.items():
        src_val = [r for r in source[p] if r[0] >= s_off][0][2]
        t_off = got[p]
        tgt_val = [r for r in target[p] if r[0] >= t_off][0][2]
        assert src_val == tgt_val, "g1[%d]: source offset %d holds %r, target offset %d holds %r" % (
            p, s_off, src_val, t_off, tgt_val)


if __name__ == "__main__":
    sys.exit(run_tests([test_bad_options, test_mirror_through_faults]))
